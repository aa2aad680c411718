/* graph_stats.c - whole-graph totals: FLOPs, bytes moved, parameters. */
#include <stdlib.h>

#include "graph.h"

int64_t node_flops(const Graph *g, const Node *n) {
    if (n->op == OP_UNKNOWN) return 0;
    for (int k = 0; k < n->n_inputs; k++)
        if (!shape_is_known(&node_input_value(g, n, k)->shape)) return 0;
    for (int k = 0; k < n->n_outputs; k++)
        if (!shape_is_known(&n->outputs[k].shape)) return 0;
    return op_def(n->op)->flops(g, n);
}

int64_t graph_flops(const Graph *g) {
    int64_t total = 0;
    for (int i = 0; i < g->n_nodes; i++) total += node_flops(g, g->nodes[i]);
    return total;
}

static int64_t value_bytes(const Value *v) {
    int64_t n = shape_numel(&v->shape);
    return n > 0 ? n * (int64_t)dtype_size(v->dtype) : 0;
}

int64_t node_bytes(const Graph *g, const Node *n) {
    if (n->op == OP_CONST || n->op == OP_PLACEHOLDER || n->op == OP_NO_OP) return 0;
    if (n->op != OP_UNKNOWN && (op_def(n->op)->flags & OPF_VIEW)) return 0;
    int64_t b = 0;
    if (n->op == OP_UNKNOWN || !(op_def(n->op)->flags & OPF_SHAPE_ONLY))
        for (int k = 0; k < n->n_inputs; k++) b += value_bytes(node_input_value(g, n, k));
    for (int k = 0; k < n->n_outputs; k++) b += value_bytes(&n->outputs[k]);
    return b;
}

int64_t graph_param_count(const Graph *g, int64_t *bytes) {
    int64_t count = 0, nbytes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_CONST) continue;
        const Tensor *t = node_attr_tensor(n, "value");
        /* float and 8-bit Consts are weights (8-bit: quantized weights); int32/int64 Consts
           are shapes and axes */
        if (!t || !(dtype_is_float(t->dtype) || t->dtype == DT_INT8 || t->dtype == DT_UINT8)) continue;
        int64_t e = shape_numel(&t->shape);
        if (e <= 0) continue;
        count += e;
        nbytes += e * (int64_t)dtype_size(t->dtype);
    }
    if (bytes) *bytes = nbytes;
    return count;
}

int64_t graph_activation_peak(const Graph *g, Err *err) {
    int n = g->n_nodes;
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    int *last = malloc(((size_t)n + 1) * sizeof *last);
    int *pos = malloc(((size_t)n + 1) * sizeof *pos);
    if (!order || !last || !pos) { free(order); free(last); free(pos); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int64_t peak = -1;
    if (graph_topo_order(g, order, err)) goto done;
    for (int k = 0; k < n; k++) pos[order[k]] = k;
    /* last[i] = schedule position of node i's last consumer (graph outputs live to the end) */
    for (int i = 0; i < n; i++) last[i] = pos[i];
    for (int i = 0; i < n; i++) {
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++)
            if (last[nd->inputs[k].node] < pos[i]) last[nd->inputs[k].node] = pos[i];
    }
    for (int k = 0; k < g->n_outputs; k++) last[g->outputs[k].node] = n;
    /* views (Identity, Reshape, ...) own no memory but keep their source alive */
    for (int k = n - 1; k >= 0; k--) {
        const Node *nd = g->nodes[order[k]];
        if (nd->op != OP_UNKNOWN && (op_def(nd->op)->flags & OPF_VIEW) && nd->n_inputs > 0) {
            int src = nd->inputs[0].node;
            if (last[src] < last[order[k]]) last[src] = last[order[k]];
        }
    }
    int64_t live = 0;
    peak = 0;
    int64_t *freed_at = calloc((size_t)n + 2, sizeof *freed_at);
    if (!freed_at) { peak = err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int k = 0; k < n; k++) {
        const Node *nd = g->nodes[order[k]];
        bool owns = nd->op != OP_CONST && !(nd->op != OP_UNKNOWN && (op_def(nd->op)->flags & OPF_VIEW));
        if (owns) {
            int64_t b = 0;
            for (int p = 0; p < nd->n_outputs; p++) b += value_bytes(&nd->outputs[p]);
            live += b;
            freed_at[last[order[k]] + 1] += b;
        }
        if (live > peak) peak = live;
        live -= freed_at[k + 1];
    }
    free(freed_at);
done:
    free(order);
    free(last);
    free(pos);
    return peak;
}
