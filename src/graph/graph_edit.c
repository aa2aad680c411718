/* graph_edit.c - whole-graph edits: clone, node removal with index remapping, dead-node
 * elimination. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_func.h"
#include "graph_internal.h"

static void *dup_bytes(const void *p, size_t n, bool *ok) {
    if (!p) return NULL;
    void *q = malloc(n ? n : 1);
    if (!q) { *ok = false; return NULL; }
    memcpy(q, p, n);
    return q;
}

static Node *node_clone(const Node *s, Err *err) {
    Node *d = calloc(1, sizeof *d);
    if (!d) { err_set(err, ERR_RUNTIME, "out of memory cloning graph"); return NULL; }
    bool ok = true;
    d->name = strdup(s->name);
    d->op_name = strdup(s->op_name);
    d->op = s->op;
    d->device = s->device ? strdup(s->device) : NULL;
    if (!d->name || !d->op_name || (s->device && !d->device)) ok = false;
    d->n_inputs = s->n_inputs;
    d->inputs = dup_bytes(s->inputs, (size_t)s->n_inputs * sizeof *s->inputs, &ok);
    d->n_ctrl = s->n_ctrl;
    d->ctrl = dup_bytes(s->ctrl, (size_t)s->n_ctrl * sizeof *s->ctrl, &ok);
    d->extra = dup_bytes(s->extra, s->extra_len, &ok);
    d->extra_len = s->extra_len;
    if (s->n_attrs) {
        d->attrs = calloc((size_t)s->n_attrs, sizeof *d->attrs);
        if (!d->attrs) ok = false;
        for (int i = 0; ok && i < s->n_attrs; i++) {
            if (attr_copy(&d->attrs[i], &s->attrs[i], err)) ok = false;
            else d->n_attrs++;
        }
    }
    if (s->n_outputs) {
        d->outputs = calloc((size_t)s->n_outputs, sizeof *d->outputs);
        if (!d->outputs) ok = false;
        else {
            d->n_outputs = s->n_outputs;
            for (int i = 0; i < s->n_outputs; i++) {
                d->outputs[i] = s->outputs[i];
                d->outputs[i].known = tensor_share(&s->outputs[i].known);
            }
        }
    }
    if (!ok) {
        node_free(d);
        err_set(err, ERR_RUNTIME, "out of memory cloning graph");
        return NULL;
    }
    return d;
}

Graph *graph_clone(const Graph *g, Err *err) {
    Graph *c = calloc(1, sizeof *c);
    if (!c) { err_set(err, ERR_RUNTIME, "out of memory cloning graph"); return NULL; }
    bool ok = true;
    c->nodes = malloc((size_t)(g->n_nodes ? g->n_nodes : 1) * sizeof *c->nodes);
    c->cap = g->n_nodes ? g->n_nodes : 1;
    c->outputs = dup_bytes(g->outputs, (size_t)g->n_outputs * sizeof *g->outputs, &ok);
    c->n_outputs = g->n_outputs;
    c->extra = dup_bytes(g->extra, g->extra_len, &ok);
    c->extra_len = g->extra_len;
    c->producer = g->producer;
    c->version = g->version;
    c->funcs = graph_funcs_share(g->funcs);
    if (!c->nodes || !ok) { graph_free(c); err_set(err, ERR_RUNTIME, "out of memory cloning graph"); return NULL; }
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = node_clone(g->nodes[i], err);
        if (!n) { graph_free(c); return NULL; }
        c->nodes[c->n_nodes++] = n;
    }
    if (graph_reindex(c)) { graph_free(c); err_set(err, ERR_RUNTIME, "out of memory cloning graph"); return NULL; }
    return c;
}

int graph_remove_nodes(Graph *g, const bool *remove, Err *err) {
    int n = g->n_nodes;
    for (int i = 0; i < n; i++) {
        if (remove[i]) continue;
        const Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++)
            if (remove[nd->inputs[k].node])
                return err_set(err, ERR_INPUT, "cannot remove '%s': node '%s' reads it", g->nodes[nd->inputs[k].node]->name, nd->name);
    }
    for (int k = 0; k < g->n_outputs; k++)
        if (remove[g->outputs[k].node])
            return err_set(err, ERR_INPUT, "cannot remove '%s': it is a graph output", g->nodes[g->outputs[k].node]->name);
    int *remap = malloc(((size_t)n + 1) * sizeof(int));
    if (!remap) return err_set(err, ERR_RUNTIME, "out of memory");
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (remove[i]) { remap[i] = -1; node_free(g->nodes[i]); }
        else { remap[i] = m; g->nodes[m++] = g->nodes[i]; }
    }
    g->n_nodes = m;
    for (int i = 0; i < m; i++) {
        Node *nd = g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) nd->inputs[k].node = remap[nd->inputs[k].node];
        /* a control dependency on a removed node is simply dropped */
        int c = 0;
        for (int k = 0; k < nd->n_ctrl; k++)
            if (remap[nd->ctrl[k]] >= 0) nd->ctrl[c++] = remap[nd->ctrl[k]];
        nd->n_ctrl = c;
    }
    for (int k = 0; k < g->n_outputs; k++) g->outputs[k].node = remap[g->outputs[k].node];
    free(remap);
    if (graph_reindex(g)) return err_set(err, ERR_RUNTIME, "out of memory");
    return 0;
}

int graph_remove_dead(Graph *g, Err *err) {
    int n = g->n_nodes;
    bool *live = calloc((size_t)n + 1, sizeof *live);
    int *stack = malloc(((size_t)n + 1) * sizeof *stack);
    if (!live || !stack) { free(live); free(stack); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int top = 0;
    for (int k = 0; k < g->n_outputs; k++)
        if (!live[g->outputs[k].node]) { live[g->outputs[k].node] = true; stack[top++] = g->outputs[k].node; }
    for (int i = 0; i < n; i++)
        if (g->nodes[i]->op == OP_PLACEHOLDER && !live[i]) { live[i] = true; stack[top++] = i; }
    while (top > 0) {
        const Node *nd = g->nodes[stack[--top]];
        for (int k = 0; k < nd->n_inputs; k++)
            if (!live[nd->inputs[k].node]) { live[nd->inputs[k].node] = true; stack[top++] = nd->inputs[k].node; }
        for (int k = 0; k < nd->n_ctrl; k++)
            if (!live[nd->ctrl[k]]) { live[nd->ctrl[k]] = true; stack[top++] = nd->ctrl[k]; }
    }
    int removed = 0;
    for (int i = 0; i < n; i++) {
        live[i] = !live[i]; /* now: remove flag */
        removed += live[i];
    }
    int rc = removed ? graph_remove_nodes(g, live, err) : 0;
    free(live);
    free(stack);
    return rc ? -1 : removed;
}
