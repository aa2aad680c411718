/* graph_topo.c - consumers (CSR), topological order and structural validation. The one rule
 * for cycles: a TF1 while loop's NextIteration -> Merge edges are back edges (TensorFlow's
 * executor carries them to the next iteration), every other cycle is bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

int graph_uses(const Graph *g, GraphUses *u, Err *err) {
    int n = g->n_nodes;
    u->use_start = calloc((size_t)n + 1, sizeof(int));
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)(g->nodes[i]->n_inputs + g->nodes[i]->n_ctrl);
    u->use_node = malloc((total ? total : 1) * sizeof(int));
    if (!u->use_start || !u->use_node) { graph_uses_free(u); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int i = 0; i < n; i++) {
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) u->use_start[nd->inputs[k].node + 1]++;
        for (int k = 0; k < nd->n_ctrl; k++) u->use_start[nd->ctrl[k] + 1]++;
    }
    for (int i = 0; i < n; i++) u->use_start[i + 1] += u->use_start[i];
    int *fill = malloc(((size_t)n + 1) * sizeof(int));
    if (!fill) { graph_uses_free(u); return err_set(err, ERR_RUNTIME, "out of memory"); }
    memcpy(fill, u->use_start, ((size_t)n + 1) * sizeof(int));
    for (int i = 0; i < n; i++) {
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) u->use_node[fill[nd->inputs[k].node]++] = i;
        for (int k = 0; k < nd->n_ctrl; k++) u->use_node[fill[nd->ctrl[k]]++] = i;
    }
    free(fill);
    return 0;
}

void graph_uses_free(GraphUses *u) {
    free(u->use_start);
    free(u->use_node);
    u->use_start = u->use_node = NULL;
}

bool graph_is_back_edge(const Graph *g, int src, const Node *dst) {
    return dst->op == OP_MERGE && g->nodes[src]->op == OP_NEXT_ITERATION;
}

bool graph_has_tf1_control_flow(const Graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        if (op_def(g->nodes[i]->op)->flags & OPF_DEADNESS) return true;
    return false;
}

void graph_loop_depths(const Graph *g, const int *order, int *depth) {
    for (int oi = 0; oi < g->n_nodes; oi++) {
        int i = order[oi];
        const Node *nd = g->nodes[i];
        int d = 0;
        for (int k = 0; k < nd->n_inputs + nd->n_ctrl; k++) { /* a body's Const hangs on its pivot by a control edge */
            int s = k < nd->n_inputs ? nd->inputs[k].node : nd->ctrl[k - nd->n_inputs];
            if (!graph_is_back_edge(g, s, nd)) { d = depth[s]; break; }
        }
        if (nd->op == OP_ENTER) d++;
        if (nd->op == OP_EXIT && d > 0) d--;
        depth[i] = d;
    }
}

/* "a -> b -> c -> a": the cycle through v (every node on it has a pending input) */
static int cycle_error(const Graph *g, const int *pending, int v, Err *err) {
    int n = g->n_nodes, len = 0;
    int *path = malloc(((size_t)n + 1) * sizeof *path), *pos = malloc(((size_t)n + 1) * sizeof *pos);
    if (!path || !pos) { free(path); free(pos); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int i = 0; i < n; i++) pos[i] = -1;
    /* walk back along pending inputs until a node repeats: the nodes since its first visit */
    while (pos[v] < 0) {
        pos[v] = len;
        path[len++] = v;
        const Node *nd = g->nodes[v];
        int next = -1;
        for (int k = 0; k < nd->n_inputs && next < 0; k++)
            if (pending[nd->inputs[k].node] > 0 && !graph_is_back_edge(g, nd->inputs[k].node, nd)) next = nd->inputs[k].node;
        for (int k = 0; k < nd->n_ctrl && next < 0; k++)
            if (pending[nd->ctrl[k]] > 0 && !graph_is_back_edge(g, nd->ctrl[k], nd)) next = nd->ctrl[k];
        if (next < 0) break;
        v = next;
    }
    char buf[600];
    size_t used = 0;
    int from = pos[v] >= 0 ? pos[v] : 0, shown = 0;
    /* path runs against the edges (consumer first): print it producer first */
    for (int k = len - 1; k >= from && used < sizeof buf - 80; k--, shown++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s'%.100s'", shown ? " -> " : "", g->nodes[path[k]]->name);
    if (used < sizeof buf - 80) snprintf(buf + used, sizeof buf - used, " -> '%.100s'", g->nodes[path[len - 1]]->name);
    else snprintf(buf + used, sizeof buf - used, " -> ...");
    free(path);
    free(pos);
    return err_set(err, ERR_INPUT, "graph has a cycle: %s (the only cycles a graph may hold are TF1 while loops, "
                                   "through NextIteration into Merge)", buf);
}

int graph_topo_order(const Graph *g, int *order, Err *err) {
    int n = g->n_nodes;
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    int *pending = malloc(((size_t)n + 1) * sizeof(int));
    if (!pending) { graph_uses_free(&u); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int i = 0; i < n; i++) {
        const Node *nd = g->nodes[i];
        pending[i] = 0;
        for (int k = 0; k < nd->n_inputs; k++) pending[i] += !graph_is_back_edge(g, nd->inputs[k].node, nd);
        for (int k = 0; k < nd->n_ctrl; k++) pending[i] += !graph_is_back_edge(g, nd->ctrl[k], nd);
    }
    /* order[] doubles as the FIFO queue; nodes enter in index order among the ready ones,
       which makes the result deterministic and keeps a loaded graph's own order when valid */
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (pending[i] == 0) order[tail++] = i;
    while (head < tail) {
        int v = order[head++];
        for (int k = u.use_start[v]; k < u.use_start[v + 1]; k++)
            if (!graph_is_back_edge(g, v, g->nodes[u.use_node[k]]) && --pending[u.use_node[k]] == 0) order[tail++] = u.use_node[k];
    }
    int rc = 0;
    if (tail < n) {
        int v = -1;
        for (int i = 0; i < n && v < 0; i++)
            if (pending[i] > 0) v = i;
        rc = cycle_error(g, pending, v, err);
    }
    free(pending);
    graph_uses_free(&u);
    return rc;
}

int graph_validate(const Graph *g, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            ValueRef v = n->inputs[k];
            if (v.node < 0 || v.node >= g->n_nodes)
                return err_set(err, ERR_INPUT, "node '%s': input %d refers to no node", n->name, k);
            const Node *p = g->nodes[v.node];
            if (v.port < 0 || v.port >= p->n_outputs)
                return err_set(err, ERR_INPUT, "node '%s': input %d reads output %d of '%s', which has %d output(s)",
                               n->name, k, v.port, p->name, p->n_outputs);
        }
        for (int k = 0; k < n->n_ctrl; k++)
            if (n->ctrl[k] < 0 || n->ctrl[k] >= g->n_nodes)
                return err_set(err, ERR_INPUT, "node '%s': control input %d refers to no node", n->name, k);
        if (n->op != OP_UNKNOWN) {
            const OpDef *d = op_def(n->op);
            if (n->n_inputs < d->min_inputs || (d->max_inputs >= 0 && n->n_inputs > d->max_inputs)) {
                if (d->max_inputs < 0)
                    return err_set(err, ERR_INPUT, "node '%s' (%s) has %d inputs, needs at least %d", n->name, n->op_name,
                                   n->n_inputs, d->min_inputs);
                return err_set(err, ERR_INPUT, "node '%s' (%s) has %d inputs, needs %d%s%d", n->name, n->op_name, n->n_inputs,
                               d->min_inputs, d->min_inputs == d->max_inputs ? "" : "..",
                               d->min_inputs == d->max_inputs ? d->min_inputs : d->max_inputs);
            }
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        ValueRef v = g->outputs[k];
        if (v.node < 0 || v.node >= g->n_nodes || v.port < 0 || v.port >= g->nodes[v.node]->n_outputs)
            return err_set(err, ERR_INPUT, "graph output %d is not a valid tensor", k);
    }
    int *order = malloc(((size_t)g->n_nodes + 1) * sizeof(int));
    if (!order) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = graph_topo_order(g, order, err);
    free(order);
    return rc;
}
