/* fold_util.c - helpers shared by the fold / simplify rules (see fold_util.h). */
#include "fold_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/ref.h"
#include "edit.h"

int fold_free_name(Graph *g, int node, char *old, size_t cap, Err *err) {
    snprintf(old, cap, "%s", g->nodes[node]->name);
    if (strlen(g->nodes[node]->name) >= cap) return err_set(err, ERR_RUNTIME, "node name too long");
    char base[1100], fresh[1200];
    snprintf(base, sizeof base, "%s/_replaced", old);
    return graph_rename_node(g, node, edit_unique_name(g, base, fresh, sizeof fresh), err);
}

bool fold_has_ctrl_readers(const Graph *g, const GraphUses *u, int node) {
    for (int k = u->use_start[node]; k < u->use_start[node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_ctrl; i++)
            if (r->ctrl[i] == node) return true;
    }
    return false;
}

bool fold_is_graph_output(const Graph *g, int node) {
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k].node == node) return true;
    return false;
}

int fold_node_use_count(const Graph *g, const GraphUses *u, int node) {
    int c = 0;
    for (int p = 0; p < g->nodes[node]->n_outputs; p++) c += edit_use_count(g, u, (ValueRef){node, p});
    return c;
}

bool fold_is_f32(const Graph *g, ValueRef v) {
    const Value *val = graph_value(g, v);
    return val->dtype == DT_FLOAT && shape_is_known(&val->shape);
}

/* ---- linear producers ---- */

static bool is_nhwc(const Node *n) { return !strcmp(node_attr_s(n, "data_format", "NHWC"), "NHWC"); }

bool fold_linear_match(const Graph *g, int node, FoldLinear *out) {
    const Node *n = g->nodes[node];
    FoldLinKind kind;
    if (n->op == OP_CONV2D) kind = FOLD_LIN_CONV;
    else if (n->op == OP_DEPTHWISE_CONV2D) kind = FOLD_LIN_DEPTHWISE;
    else if (n->op == OP_MATMUL) kind = FOLD_LIN_MATMUL;
    else return false;
    if (n->n_inputs != 2 || n->n_outputs != 1) return false;
    if (kind != FOLD_LIN_MATMUL && !is_nhwc(n)) return false;
    if (!fold_is_f32(g, n->inputs[0]) || !fold_is_f32(g, n->inputs[1]) || !fold_is_f32(g, (ValueRef){node, 0}))
        return false;
    const Tensor *w = edit_known(g, n->inputs[1]);
    if (!w || w->dtype != DT_FLOAT) return false;
    const Shape *ys = &n->outputs[0].shape;
    if (ys->rank < 1) return false;
    int64_t c = ys->dim[ys->rank - 1];
    /* the filter's layout must give every element one output channel */
    if (kind == FOLD_LIN_CONV && (w->shape.rank != 4 || w->shape.dim[3] != c)) return false;
    if (kind == FOLD_LIN_DEPTHWISE && (w->shape.rank != 4 || w->shape.dim[2] * w->shape.dim[3] != c)) return false;
    if (kind == FOLD_LIN_MATMUL) {
        bool tb = node_attr_b(n, "transpose_b", false);
        if (w->shape.rank != 2 || w->shape.dim[tb ? 0 : 1] != c) return false;
    }
    out->node = node;
    out->kind = kind;
    out->channels = c;
    return true;
}

bool fold_channel_vector_ok(const Tensor *t, int64_t channels, int out_rank) {
    if (!t || t->dtype != DT_FLOAT || !tensor_has_data(t) || t->shape.rank > out_rank) return false;
    for (int d = 0; d + 1 < t->shape.rank; d++)
        if (t->shape.dim[d] != 1) return false;
    if (t->shape.rank >= 1) {
        int64_t last = t->shape.dim[t->shape.rank - 1];
        if (last != 1 && last != channels) return false;
    }
    for (int64_t i = 0; i < tensor_numel(t); i++)
        if (!isfinite(((const float *)tensor_data(t))[i])) return false;
    return true;
}

double fold_channel_value(const Tensor *t, int64_t c) {
    const float *v = tensor_data(t);
    return tensor_numel(t) == 1 ? v[0] : v[c];
}

/* the output channel of flat filter element i */
static int64_t filter_channel(const FoldLinear *L, const Tensor *w, int64_t i, bool transpose_b) {
    if (L->kind == FOLD_LIN_MATMUL && transpose_b) return i / w->shape.dim[1]; /* W is [N, K] */
    /* HWIO conv: O is the last axis; depthwise [KH, KW, C, M]: channel c*M+m is the flat
       index modulo C*M; MatMul [K, N]: the last axis */
    return i % L->channels;
}

int fold_linear_emit(Graph *g, const FoldLinear *L, const double *a, const double *b, int last, Err *err) {
    Node *p = g->nodes[L->node];
    const Tensor *w = edit_known(g, p->inputs[1]);
    bool tb = L->kind == FOLD_LIN_MATMUL && node_attr_b(p, "transpose_b", false);
    Tensor nw;
    if (tensor_alloc(&nw, DT_FLOAT, &w->shape, err)) return -1;
    const float *src = tensor_data(w);
    float *dst = tensor_mut(&nw);
    for (int64_t i = 0; i < tensor_numel(w); i++) dst[i] = (float)((double)src[i] * a[filter_channel(L, w, i, tb)]);
    char base[1100];
    snprintf(base, sizeof base, "%s/folded_filter", p->name);
    int wc = edit_add_const(g, base, &nw, err);
    tensor_release(&nw);
    if (wc < 0) return -1;
    p = g->nodes[L->node];
    p->inputs[1] = (ValueRef){wc, 0};

    char name[1024];
    if (fold_free_name(g, last, name, sizeof name, err)) return -1;
    ValueRef result = {L->node, 0};
    if (b) {
        Tensor bt;
        Shape bs = shape_make(1, &L->channels);
        if (tensor_alloc(&bt, DT_FLOAT, &bs, err)) return -1;
        float *bv = tensor_mut(&bt);
        for (int64_t c = 0; c < L->channels; c++) bv[c] = (float)b[c];
        snprintf(base, sizeof base, "%s/bias", name);
        int bc = edit_add_const(g, base, &bt, err);
        tensor_release(&bt);
        if (bc < 0) return -1;
        int ba = edit_add_node(g, name, "BiasAdd", (ValueRef[]){{L->node, 0}, {bc, 0}}, 2, err);
        if (ba < 0) return -1;
        Node *bn = g->nodes[ba];
        if (node_set_attr_type(bn, "T", DT_FLOAT, err) || node_set_attr_s(bn, "data_format", "NHWC", err)) return -1;
        if (g->nodes[last]->device && node_set_device(bn, g->nodes[last]->device, err)) return -1;
        result = (ValueRef){ba, 0};
    } else if (graph_rename_node(g, L->node, name, err)) {
        return -1;
    }
    return edit_replace_uses(g, (ValueRef){last, 0}, result, err);
}

/* ---- static values ---- */

/* a placeholder whose declared shape leaves some dimension (or the rank) open */
static bool dynamic_placeholder(const Node *n) {
    if (n->op != OP_PLACEHOLDER) return false;
    const Attr *a = node_attr_find(n, "shape");
    if (!a || a->kind != ATTR_SHAPE || a->shape.rank < 0) return true;
    for (int d = 0; d < a->shape.rank; d++)
        if (a->shape.dim[d] < 0) return true;
    return false;
}

int fold_static_init(FoldStatic *s, const Graph *g, Err *err) {
    memset(s, 0, sizeof *s);
    s->g = g;
    s->dyn = calloc((size_t)g->n_nodes + 1, sizeof *s->dyn);
    int *order = malloc(((size_t)g->n_nodes + 1) * sizeof *order);
    if (!s->dyn || !order) {
        free(order);
        fold_static_free(s);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    if (graph_topo_order(g, order, err)) {
        free(order);
        fold_static_free(s);
        return -1;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        int i = order[k];
        const Node *n = g->nodes[i];
        bool d = dynamic_placeholder(n);
        for (int j = 0; j < n->n_inputs && !d; j++) d = s->dyn[n->inputs[j].node];
        s->dyn[i] = d;
    }
    free(order);
    return 0;
}

void fold_static_free(FoldStatic *s) {
    free(s->dyn);
    graph_free(s->alt);
    memset(s, 0, sizeof *s);
}

/* the clone of g inferred with every dynamic placeholder dim at a size other than g's */
static Graph *alt_graph(FoldStatic *s) {
    if (s->alt_tried) return s->alt;
    s->alt_tried = true;
    const Graph *g = s->g;
    Err e = {0};
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->op == OP_PLACEHOLDER;
    InputSpec *specs = calloc((size_t)n + 1, sizeof *specs);
    Graph *alt = specs ? graph_clone(g, &e) : NULL;
    if (!alt) { free(specs); return NULL; }
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *p = g->nodes[i];
        if (p->op != OP_PLACEHOLDER || p->n_outputs < 1) continue;
        Shape sh = p->outputs[0].shape;
        const Attr *a = node_attr_find(p, "shape");
        if (!shape_is_known(&sh) || !a || a->kind != ATTR_SHAPE || a->shape.rank != sh.rank) {
            /* an input whose rank is open: nothing to vary safely */
            free(specs);
            graph_free(alt);
            return NULL;
        }
        for (int d = 0; d < sh.rank; d++)
            if (a->shape.dim[d] < 0) sh.dim[d] = sh.dim[d] == 3 ? 5 : 3;
        specs[k++] = (InputSpec){p->name, sh, DT_INVALID};
    }
    if (graph_infer(alt, specs, k, ref_eval_node, NULL, &e)) {
        graph_free(alt);
        alt = NULL;
    }
    free(specs);
    s->alt = alt;
    return alt;
}

static bool same_tensor(const Tensor *a, const Tensor *b) {
    if (a->dtype != b->dtype || !shape_equal(&a->shape, &b->shape)) return false;
    if (!tensor_has_data(a) || !tensor_has_data(b)) return false;
    return tensor_nbytes(a) == tensor_nbytes(b) && !memcmp(tensor_data(a), tensor_data(b), tensor_nbytes(a));
}

bool fold_static_value(FoldStatic *s, ValueRef v, bool value) {
    if (!s->dyn[v.node]) return true;
    Graph *alt = alt_graph(s);
    if (!alt) return false;
    const Value *a = graph_value(s->g, v), *b = graph_value(alt, v);
    if (!shape_equal(&a->shape, &b->shape) || !shape_is_known(&a->shape)) return false;
    return !value || same_tensor(&a->known, &b->known);
}

bool fold_static_same_shape(FoldStatic *s, ValueRef v, ValueRef w) {
    if (!shape_equal(&graph_value(s->g, v)->shape, &graph_value(s->g, w)->shape)) return false;
    if (!s->dyn[v.node] && !s->dyn[w.node]) return true;
    Graph *alt = alt_graph(s);
    return alt && shape_equal(&graph_value(alt, v)->shape, &graph_value(alt, w)->shape);
}

bool fold_static_dims(FoldStatic *s, ValueRef v, bool *dyn_dim) {
    const Shape *a = &graph_value(s->g, v)->shape;
    if (!shape_is_known(a)) return false;
    for (int d = 0; d < a->rank; d++) dyn_dim[d] = false;
    if (!s->dyn[v.node]) return true;
    Graph *alt = alt_graph(s);
    if (!alt) return false;
    const Shape *b = &graph_value(alt, v)->shape;
    if (b->rank != a->rank) return false;
    for (int d = 0; d < a->rank; d++) dyn_dim[d] = a->dim[d] != b->dim[d];
    return true;
}
