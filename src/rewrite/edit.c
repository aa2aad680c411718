/* edit.c - graph surgery helpers for rules (see edit.h). */
#include "edit.h"

#include "calibrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int edit_use_count(const Graph *g, const GraphUses *u, ValueRef v) {
    /* graph_uses lists a reader once per input edge: visit each reader once, then count its
       inputs that read v */
    int count = 0;
    for (int k = u->use_start[v.node]; k < u->use_start[v.node + 1]; k++) {
        bool seen = false;
        for (int j = u->use_start[v.node]; j < k && !seen; j++) seen = u->use_node[j] == u->use_node[k];
        if (seen) continue;
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_inputs; i++)
            if (r->inputs[i].node == v.node && r->inputs[i].port == v.port) count++;
    }
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k].node == v.node && g->outputs[k].port == v.port) count++;
    return count;
}

static bool has_ctrl_readers(const Graph *g, const GraphUses *u, int node) {
    for (int k = u->use_start[node]; k < u->use_start[node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_ctrl; i++)
            if (r->ctrl[i] == node) return true;
    }
    return false;
}

int edit_only_reader(const Graph *g, const GraphUses *u, ValueRef v, int *input_index) {
    if (edit_use_count(g, u, v) != 1 || has_ctrl_readers(g, u, v.node)) return -1;
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k].node == v.node && g->outputs[k].port == v.port) return -1;
    for (int k = u->use_start[v.node]; k < u->use_start[v.node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_inputs; i++)
            if (r->inputs[i].node == v.node && r->inputs[i].port == v.port) {
                if (input_index) *input_index = i;
                return u->use_node[k];
            }
    }
    return -1;
}

bool edit_single_use(const Graph *g, const GraphUses *u, ValueRef v) { return edit_only_reader(g, u, v, NULL) >= 0; }

int edit_replace_uses(Graph *g, ValueRef from, ValueRef to, Err *err) {
    if (to.node < 0 || to.node >= g->n_nodes || to.port < 0) return err_set(err, ERR_RUNTIME, "replace_uses: invalid target");
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (i == to.node) continue; /* the replacement may itself read `from` */
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k].node == from.node && n->inputs[k].port == from.port) n->inputs[k] = to;
    }
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k].node == from.node && g->outputs[k].port == from.port) g->outputs[k] = to;
    /* the value keeps its calibrated range under its new producer, so exact rewrites done after
       calibration do not hide quantization sites */
    return calib_carry(g, from, to, err);
}

const char *edit_unique_name(const Graph *g, const char *base, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", base);
    for (int k = 1; graph_find(g, buf) >= 0; k++) snprintf(buf, cap, "%s_%d", base, k);
    return buf;
}

int edit_add_node(Graph *g, const char *base, const char *op, const ValueRef *in, int n_in, Err *err) {
    char name[1024];
    int idx = graph_add_node(g, edit_unique_name(g, base, name, sizeof name), op, err);
    if (idx < 0) return -1;
    for (int k = 0; k < n_in; k++)
        if (node_add_input(g, idx, in[k], err)) return -1;
    return idx;
}

int edit_add_const(Graph *g, const char *base, const Tensor *t, Err *err) {
    int idx = edit_add_node(g, base, "Const", NULL, 0, err);
    if (idx < 0) return -1;
    Node *n = g->nodes[idx];
    if (node_set_attr_type(n, "dtype", t->dtype, err) || node_set_attr_tensor(n, "value", t, err)) return -1;
    return idx;
}

int edit_copy_attr(Node *dst, const Node *src, const char *name, Err *err) {
    const Attr *a = node_attr_find(src, name);
    if (!a) return 0;
    Attr copy;
    if (attr_copy(&copy, a, err)) return -1;
    Attr *slot = node_attr_put(dst, name);
    if (!slot) { attr_free(&copy); return err_set(err, ERR_RUNTIME, "out of memory"); }
    free(slot->name);
    *slot = copy;
    return 0;
}

const Tensor *edit_known(const Graph *g, ValueRef v) {
    const Value *val = graph_value(g, v);
    return tensor_has_data(&val->known) ? &val->known : NULL;
}

bool edit_is_const(const Graph *g, ValueRef v) { return g->nodes[v.node]->op == OP_CONST; }
