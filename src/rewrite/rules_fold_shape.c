/* rules_fold_shape.c - data-movement folds:
 *
 *   fold_pad_into_conv  Pad / PadV2 (constant 0, known paddings on H and W only, NHWC,
 *                       single use) -> Conv2D / DepthwiseConv2dNative (NHWC, VALID or EXPLICIT)
 *                       => the conv with padding EXPLICIT and the pads added to its own.
 *                       Also into MaxPool (VALID or EXPLICIT; TF's MaxPool takes EXPLICIT) when
 *                       the padded value is non-negative (produced by Relu / Relu6 or a fused
 *                       op ending in one), so a zero pad never wins a max, and every pad stays
 *                       smaller than the window (TF's requirement; then every window still
 *                       overlaps the input).
 *   cancel_transposes   Transpose(Transpose(x, p1), p2) => Transpose(x, p1∘p2), or x itself
 *                       when the composition is the identity (also a lone identity Transpose);
 *                       a graph output keeps its name through an Identity.
 *   cancel_reshapes     Reshape(Reshape | Squeeze | ExpandDims (x)) => Reshape(x); a Reshape /
 *                       Squeeze / ExpandDims whose output shape equals its input's (also x
 *                       through such a pair) => readers read x. Shapes are compared at two sizes
 *                       of any dynamic placeholder dim, so a reshape that is a no-op only at the
 *                       inferred batch size stays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/nn_attrs.h"
#include "edit.h"
#include "fold_util.h"
#include "rule.h"

/* ---- fold_pad_into_conv ---- */

/* pad (before, after) for H and W into hw[4] = top, bottom, left, right: N and C unpadded */
static bool read_hw_pads(const Graph *g, const Node *pad, int64_t hw[4]) {
    const Tensor *t = edit_known(g, pad->inputs[1]);
    if (!t || t->shape.rank != 2 || t->shape.dim[0] != 4 || t->shape.dim[1] != 2) return false;
    Tensor flat = *t;
    flat.shape = (Shape){.rank = 1, .dim = {8}};
    int64_t p[8];
    Err e;
    if (tensor_to_i64(&flat, p, 8, &e) != 8) return false;
    if (p[0] || p[1] || p[6] || p[7]) return false;
    for (int k = 0; k < 4; k++) {
        if (p[2 + k] < 0) return false;
        hw[k] = p[2 + k];
    }
    return true;
}

/* the padding a conv / pool already has (VALID: none; EXPLICIT: its list), top bottom left right */
static bool own_pads(const Node *n, int64_t hw[4]) {
    const char *padding = node_attr_s(n, "padding", "");
    memset(hw, 0, 4 * sizeof *hw);
    if (!strcmp(padding, "VALID")) return true;
    if (strcmp(padding, "EXPLICIT")) return false;
    const AttrList *l = node_attr_list(n, "explicit_paddings");
    if (!l || l->kind != ATTR_INT || l->n != 8 || l->i[0] || l->i[1] || l->i[6] || l->i[7]) return false;
    for (int k = 0; k < 4; k++) hw[k] = l->i[2 + k];
    return true;
}

/* the value is >= 0 (or NaN) by construction */
static bool non_negative(const Graph *g, ValueRef v) {
    const Node *p = g->nodes[v.node];
    if (p->op == OP_RELU || p->op == OP_RELU6) return true;
    if (p->op == OP_FUSED_CONV2D || p->op == OP_FUSED_DEPTHWISE || p->op == OP_FUSED_DEPTHWISE_INTERNAL ||
        p->op == OP_FUSED_MATMUL) {
        FusedSpec fs;
        Err e;
        FusedHost host = p->op == OP_FUSED_MATMUL ? FUSED_HOST_MATMUL : FUSED_HOST_CONV;
        if (nn_fused_spec(p, host, &fs, &e)) return false;
        return fs.act == NN_ACT_RELU || fs.act == NN_ACT_RELU6;
    }
    return false;
}

static bool pad_is_zero(const Graph *g, const Node *pad) {
    if (pad->op == OP_PAD) return true;
    const Tensor *c = edit_known(g, pad->inputs[2]);
    return c && c->dtype == DT_FLOAT && tensor_numel(c) == 1 && ((const float *)tensor_data(c))[0] == 0.0f;
}

static bool pad_site(const Graph *g, const GraphUses *u, int pi, int *reader) {
    const Node *pad = g->nodes[pi];
    if ((pad->op != OP_PAD && pad->op != OP_PAD_V2) || pad->n_ctrl) return false;
    if (!fold_is_f32(g, pad->inputs[0]) || graph_value(g, pad->inputs[0])->shape.rank != 4) return false;
    int64_t hw[4], own[4];
    if (!pad_is_zero(g, pad) || !read_hw_pads(g, pad, hw)) return false;
    int idx;
    int r = edit_only_reader(g, u, (ValueRef){pi, 0}, &idx);
    if (r < 0 || idx != 0) return false;
    const Node *n = g->nodes[r];
    if (strcmp(node_attr_s(n, "data_format", "NHWC"), "NHWC") || !own_pads(n, own)) return false;
    if (n->op == OP_CONV2D || n->op == OP_DEPTHWISE_CONV2D) {
        *reader = r;
        return true;
    }
    if (n->op != OP_MAX_POOL || !non_negative(g, pad->inputs[0])) return false;
    const AttrList *k = node_attr_list(n, "ksize");
    if (!k || k->kind != ATTR_INT || k->n != 4) return false;
    for (int j = 0; j < 4; j++)
        if (hw[j] + own[j] >= k->i[j < 2 ? 1 : 2]) return false;
    *reader = r;
    return true;
}

static int find_pad(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        int r;
        if (!pad_site(g, u, i, &r)) continue;
        Site s = {.n = 2, .nodes = {r, i}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    /* anchors (the convs) in index order */
    for (int a = 1; a < out->n; a++)
        for (int b = a; b > 0 && out->v[b - 1].nodes[0] > out->v[b].nodes[0]; b--) {
            Site t = out->v[b];
            out->v[b] = out->v[b - 1];
            out->v[b - 1] = t;
        }
    return 0;
}

static int apply_pad(Graph *g, const Site *s, Err *err) {
    Node *n = g->nodes[s->nodes[0]];
    const Node *pad = g->nodes[s->nodes[1]];
    int64_t hw[4], own[4];
    if (!read_hw_pads(g, pad, hw) || !own_pads(n, own)) return err_set(err, ERR_RUNTIME, "paddings changed");
    int64_t ep[8] = {0, 0, hw[0] + own[0], hw[1] + own[1], hw[2] + own[2], hw[3] + own[3], 0, 0};
    n->inputs[0] = pad->inputs[0];
    if (node_set_attr_s(n, "padding", "EXPLICIT", err) || node_set_attr_list_i(n, "explicit_paddings", ep, 8, err)) return -1;
    return 0;
}

const RuleDef fold_pad_into_conv = {
    .name = "fold_pad_into_conv",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "zero Pad on H/W -> Conv2D/DepthwiseConv2dNative (VALID/EXPLICIT), or -> MaxPool of a non-negative value "
           "=> padding EXPLICIT",
    .find = find_pad,
    .apply = apply_pad,
};

/* ---- cancel_transposes ---- */

static int read_perm(const Graph *g, const Node *t, int64_t *perm) {
    const Tensor *p = edit_known(g, t->inputs[1]);
    Err e;
    if (!p || p->shape.rank != 1) return -1;
    return tensor_to_i64(p, perm, MAX_RANK, &e);
}

static bool is_identity_perm(const int64_t *p, int r) {
    for (int j = 0; j < r; j++)
        if (p[j] != j) return false;
    return true;
}

/* composition of t2 (anchor) over the value it reads: t1 when t1 is a Transpose, else the
   identity; q receives the permutation of x that t2 produces */
static bool transpose_pair(const Graph *g, int t2i, int *t1i, int64_t *q, int *rank) {
    const Node *t2 = g->nodes[t2i];
    if (t2->op != OP_TRANSPOSE || t2->n_inputs != 2 || t2->n_ctrl) return false;
    int64_t p2[MAX_RANK], p1[MAX_RANK];
    int r = read_perm(g, t2, p2);
    if (r < 0 || r != graph_value(g, (ValueRef){t2i, 0})->shape.rank) return false;
    const Node *t1 = g->nodes[t2->inputs[0].node];
    int r1 = t1->op == OP_TRANSPOSE && t1->n_inputs == 2 && !t1->n_ctrl ? read_perm(g, t1, p1) : -1;
    if (r1 == r) {
        for (int j = 0; j < r; j++) {
            if (p2[j] < 0 || p2[j] >= r) return false;
            q[j] = p1[p2[j]];
        }
        *t1i = t2->inputs[0].node;
    } else {
        for (int j = 0; j < r; j++) q[j] = p2[j];
        *t1i = -1;
    }
    *rank = r;
    return true;
}

static int find_transposes(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        int t1, r;
        int64_t q[MAX_RANK];
        if (!transpose_pair(g, i, &t1, q, &r)) continue;
        Site s = {.n = 1, .nodes = {i}};
        if (is_identity_perm(q, r)) {
            /* t2 goes (or becomes an Identity keeping its graph-output name) */
            if (fold_has_ctrl_readers(g, u, i)) continue;
        } else {
            /* a non-trivial composition pays only when t1 then dies */
            if (t1 < 0 || !edit_single_use(g, u, (ValueRef){t1, 0})) continue;
        }
        if (t1 >= 0) s.nodes[s.n++] = t1;
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_transposes(Graph *g, const Site *s, Err *err) {
    int t2 = s->nodes[0], t1, r;
    int64_t q[MAX_RANK];
    if (!transpose_pair(g, t2, &t1, q, &r)) return err_set(err, ERR_RUNTIME, "not a transpose pair");
    ValueRef x = t1 >= 0 ? g->nodes[t1]->inputs[0] : g->nodes[t2]->inputs[0];
    if (is_identity_perm(q, r)) {
        if (!fold_is_graph_output(g, t2)) return edit_replace_uses(g, (ValueRef){t2, 0}, x, err);
        char name[1024];
        if (fold_free_name(g, t2, name, sizeof name, err)) return -1;
        int id = edit_add_node(g, name, "Identity", &x, 1, err);
        if (id < 0 || edit_copy_attr(g->nodes[id], g->nodes[t2], "T", err)) return -1;
        return edit_replace_uses(g, (ValueRef){t2, 0}, (ValueRef){id, 0}, err);
    }
    const Tensor *p2 = edit_known(g, g->nodes[t2]->inputs[1]);
    Tensor pt;
    Shape ps = shape_make(1, (int64_t[]){r});
    if (tensor_alloc(&pt, p2->dtype, &ps, err)) return -1;
    for (int j = 0; j < r; j++) {
        if (p2->dtype == DT_INT64) ((int64_t *)tensor_mut(&pt))[j] = q[j];
        else ((int32_t *)tensor_mut(&pt))[j] = (int32_t)q[j];
    }
    char base[1100];
    snprintf(base, sizeof base, "%s/perm", g->nodes[t2]->name);
    int c = edit_add_const(g, base, &pt, err);
    tensor_release(&pt);
    if (c < 0) return -1;
    g->nodes[t2]->inputs[0] = x;
    g->nodes[t2]->inputs[1] = (ValueRef){c, 0};
    return 0;
}

const RuleDef cancel_transposes = {
    .name = "cancel_transposes",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Transpose -> Transpose => one Transpose with the composed permutation, or nothing when it is the identity",
    .find = find_transposes,
    .apply = apply_transposes,
};

/* ---- cancel_reshapes ---- */

static bool is_view_reshape(const Node *n) {
    return (n->op == OP_RESHAPE || n->op == OP_SQUEEZE || n->op == OP_EXPAND_DIMS) && n->n_inputs >= 1 && !n->n_ctrl;
}

enum { RS_REWIRE = 0, RS_REMOVE = 1, RS_ROUND_TRIP = 2 };

static int find_reshapes(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    FoldStatic fs;
    if (fold_static_init(&fs, g, err)) return -1;
    int rc = 0;
    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        const Node *n = g->nodes[i];
        if (!is_view_reshape(n)) continue;
        ValueRef y = {i, 0};
        bool can_die = !fold_is_graph_output(g, i) && !fold_has_ctrl_readers(g, u, i);
        Site s = {.n = 1, .nodes = {i}};
        int p = n->inputs[0].node;
        if (n->op == OP_RESHAPE && is_view_reshape(g->nodes[p])) {
            s.nodes[s.n++] = p;
            ValueRef x = g->nodes[p]->inputs[0];
            s.param = can_die && fold_static_same_shape(&fs, x, y) ? RS_ROUND_TRIP : RS_REWIRE;
        } else if (can_die && fold_static_same_shape(&fs, n->inputs[0], y)) {
            s.param = RS_REMOVE;
        } else {
            continue;
        }
        rc = sitelist_push(out, &s, err);
    }
    fold_static_free(&fs);
    return rc;
}

static int apply_reshapes(Graph *g, const Site *s, Err *err) {
    int i = s->nodes[0];
    if (s->param == RS_REMOVE) return edit_replace_uses(g, (ValueRef){i, 0}, g->nodes[i]->inputs[0], err);
    ValueRef x = g->nodes[s->nodes[1]]->inputs[0];
    if (s->param == RS_ROUND_TRIP) return edit_replace_uses(g, (ValueRef){i, 0}, x, err);
    g->nodes[i]->inputs[0] = x;
    return 0;
}

const RuleDef cancel_reshapes = {
    .name = "cancel_reshapes",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Reshape of a Reshape/Squeeze/ExpandDims => one Reshape; a reshape that keeps its input's shape => removed",
    .find = find_reshapes,
    .apply = apply_reshapes,
};
