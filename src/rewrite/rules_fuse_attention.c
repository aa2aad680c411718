/* rules_fuse_attention.c - the fuse-family rule fuse_attention: scaled dot-product attention
 * as src/zoo/bert.c (and TF1 BERT's modeling.py) writes it, into grappo's GrappoAttention
 * (docs/ops.md):
 *
 *   s = BatchMatMulV2(q, k, adj_y = true)                      q, k [B,H,S,D], v [B,H,S,Dv]
 *   x = one of   s * c + mask      (BERT; Mul operands either way round; Add or AddV2)
 *                s / c + mask      (RealDiv by sqrt(d); scale = 1/c)
 *                (s + mask) * c    (scale after the mask: the fused op reads mask * c, a new
 *                                   Mul (or RealDiv) node that fold_constants can fold)
 *                s * c, s / c, s   (no mask; no scale = scale 1)
 *   y = BatchMatMulV2(Softmax(x), v)
 *   =>  y = GrappoAttention(q, k, v[, mask], scale, has_mask)
 *
 * BatchMatMul (v1) is accepted as well as V2, both without adj_x. c is a known float32 single
 * element (finite; non-zero for RealDiv). q, k, v must be rank 4 with equal B and H (no batch
 * broadcasting), k and q the same D, v the same key length as k; the mask float32, at most
 * rank 4, and the add must not grow the scores' shape. Every intermediate (s, the scaled and
 * masked scores, the softmax) must be read only by the next node of the pattern (no second
 * reader, not a graph output, no control edges either way); the anchor (the second
 * BatchMatMul) must have no control inputs or control readers. q, k, v and the mask may have
 * other readers; the Reshape/Transpose nodes that make them stay as they are.
 *
 * The fused node takes the anchor's name (the anchor is renamed first, then dies).
 * Not RULE_TF: GrappoAttention is a grappo op. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "edit.h"
#include "rule.h"

typedef struct AttMatch {
    ValueRef q, k, v, mask; /* mask.node < 0: none */
    ValueRef c;             /* the scale constant (node < 0: none) */
    bool div;               /* scale by RealDiv(., c) */
    bool mask_first;        /* (s + mask) * c: the mask is scaled too */
    float scale;
} AttMatch;

static const Node *producer(const Graph *g, ValueRef v) { return g->nodes[v.node]; }
static bool is_op(const Graph *g, ValueRef v, OpId op) { return v.port == 0 && producer(g, v)->op == op; }
static bool is_add(const Graph *g, ValueRef v) { return is_op(g, v, OP_ADD) || is_op(g, v, OP_ADD_V2); }
static bool is_bmm(const Graph *g, ValueRef v) { return is_op(g, v, OP_BATCH_MATMUL_V2) || is_op(g, v, OP_BATCH_MATMUL); }
static ValueRef in_of(const Graph *g, ValueRef v, int i) { return producer(g, v)->inputs[i]; }
static bool is_f32(const Graph *g, ValueRef v) { return graph_value(g, v)->dtype == DT_FLOAT; }
static const Shape *shape_of(const Graph *g, ValueRef v) { return &graph_value(g, v)->shape; }

static bool has_ctrl_reader(const Graph *g, const GraphUses *u, int node) {
    for (int k = u->use_start[node]; k < u->use_start[node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_ctrl; i++)
            if (r->ctrl[i] == node) return true;
    }
    return false;
}

/* v may vanish inside the fusion: read once, by `reader` only, not an output, no control
   edges into or out of its producer */
static bool only_into(const Graph *g, const GraphUses *u, ValueRef v, int reader) {
    return producer(g, v)->n_ctrl == 0 && edit_only_reader(g, u, v, NULL) == reader;
}

/* a known float32 single-element constant of rank <= 4 */
static bool known_scalar(const Graph *g, ValueRef v, float *out) {
    const Tensor *t = edit_known(g, v);
    if (!t || t->dtype != DT_FLOAT || tensor_numel(t) != 1 || t->shape.rank > 4 || !tensor_data(t)) return false;
    *out = ((const float *)tensor_data(t))[0];
    return isfinite(*out);
}

/* s = BatchMatMul(q, k, adj_y) over rank-4 float32 q, k with equal B, H, D; read only by reader */
static bool match_scores(const Graph *g, const GraphUses *u, ValueRef s, int reader, AttMatch *m) {
    if (!is_bmm(g, s) || !is_f32(g, s) || !only_into(g, u, s, reader)) return false;
    const Node *n = producer(g, s);
    if (node_attr_b(n, "adj_x", false) || !node_attr_b(n, "adj_y", false)) return false;
    ValueRef q = n->inputs[0], k = n->inputs[1];
    const Shape *qs = shape_of(g, q), *ks = shape_of(g, k);
    if (!is_f32(g, q) || !is_f32(g, k) || qs->rank != 4 || ks->rank != 4 || !shape_is_known(qs) || !shape_is_known(ks))
        return false;
    if (qs->dim[0] != ks->dim[0] || qs->dim[1] != ks->dim[1] || qs->dim[3] != ks->dim[3]) return false;
    m->q = q;
    m->k = k;
    return true;
}

/* x = s * c, c * s or s / c with s matched by match_scores; x's shape must be s's */
static bool match_scaled(const Graph *g, const GraphUses *u, ValueRef x, int reader, AttMatch *m,
                         bool (*inner)(const Graph *, const GraphUses *, ValueRef, int, AttMatch *)) {
    if (!only_into(g, u, x, reader) || !is_f32(g, x)) return false;
    bool mul = is_op(g, x, OP_MUL), div = is_op(g, x, OP_REAL_DIV);
    if (!mul && !div) return false;
    for (int k = 0; k < (mul ? 2 : 1); k++) {
        ValueRef s = in_of(g, x, k), c = in_of(g, x, 1 - k);
        float cv;
        if (!known_scalar(g, c, &cv) || (div && cv == 0)) continue;
        if (!shape_equal(shape_of(g, x), shape_of(g, s))) continue;
        AttMatch t = *m;
        if (!inner(g, u, s, x.node, &t)) continue;
        t.c = c;
        t.div = div;
        t.scale = div ? (float)(1.0 / (double)cv) : cv;
        if (!isfinite(t.scale)) continue;
        *m = t;
        return true;
    }
    return false;
}

/* x = s + mask or mask + s, with s matched by inner; the add must not grow s's shape */
static bool match_masked(const Graph *g, const GraphUses *u, ValueRef x, int reader, AttMatch *m,
                         bool (*inner)(const Graph *, const GraphUses *, ValueRef, int, AttMatch *)) {
    if (!is_add(g, x) || !is_f32(g, x) || !only_into(g, u, x, reader)) return false;
    for (int k = 0; k < 2; k++) {
        ValueRef s = in_of(g, x, k), mask = in_of(g, x, 1 - k);
        if (!is_f32(g, mask) || shape_of(g, mask)->rank > 4 || !shape_is_known(shape_of(g, mask))) continue;
        if (!shape_equal(shape_of(g, x), shape_of(g, s))) continue;
        AttMatch t = *m;
        if (!inner(g, u, s, x.node, &t)) continue;
        t.mask = mask;
        *m = t;
        return true;
    }
    return false;
}

/* inner matchers for the compositions above */
static bool scaled_scores(const Graph *g, const GraphUses *u, ValueRef x, int reader, AttMatch *m) {
    return match_scaled(g, u, x, reader, m, match_scores);
}
static bool masked_scores(const Graph *g, const GraphUses *u, ValueRef x, int reader, AttMatch *m) {
    return match_masked(g, u, x, reader, m, match_scores);
}

/* the softmax input x in any of the accepted forms (see the header) */
static bool match_logits(const Graph *g, const GraphUses *u, ValueRef x, int reader, AttMatch *m) {
    if (match_masked(g, u, x, reader, m, scaled_scores)) return true;
    if (match_scaled(g, u, x, reader, m, masked_scores)) {
        m->mask_first = true;
        return true;
    }
    if (match_scaled(g, u, x, reader, m, match_scores)) return true;
    if (match_masked(g, u, x, reader, m, match_scores)) { /* s + mask: scale 1 */
        m->scale = 1;
        return true;
    }
    if (match_scores(g, u, x, reader, m)) {
        m->scale = 1;
        return true;
    }
    return false;
}

static bool match(const Graph *g, const GraphUses *u, int anchor, AttMatch *m) {
    const Node *n = g->nodes[anchor];
    ValueRef y = {anchor, 0};
    if (!is_bmm(g, y) || n->n_ctrl || has_ctrl_reader(g, u, anchor) || !is_f32(g, y)) return false;
    if (node_attr_b(n, "adj_x", false) || node_attr_b(n, "adj_y", false)) return false;
    ValueRef p = n->inputs[0], v = n->inputs[1];
    if (!is_op(g, p, OP_SOFTMAX) || !is_f32(g, p) || !only_into(g, u, p, anchor)) return false;
    memset(m, 0, sizeof *m);
    m->mask = (ValueRef){-1, 0};
    m->c = (ValueRef){-1, 0};
    m->scale = 1;
    if (!match_logits(g, u, in_of(g, p, 0), p.node, m)) return false;
    const Shape *qs = shape_of(g, m->q), *ks = shape_of(g, m->k), *vs = shape_of(g, v);
    if (!is_f32(g, v) || vs->rank != 4 || !shape_is_known(vs)) return false;
    if (vs->dim[0] != qs->dim[0] || vs->dim[1] != qs->dim[1] || vs->dim[2] != ks->dim[2]) return false;
    m->v = v;
    return true;
}

static int find_attention(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        AttMatch m;
        if (!match(g, u, i, &m)) continue;
        Site s = {.n = 1};
        s.nodes[0] = i;
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_attention(Graph *g, const Site *s, Err *err) {
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    AttMatch m;
    int anchor = s->nodes[0];
    bool ok = match(g, &u, anchor, &m);
    graph_uses_free(&u);
    if (!ok) return err_set(err, ERR_RUNTIME, "the attention pattern is no longer there");
    char old[1024], fresh[1024], base[1100];
    snprintf(old, sizeof old, "%s", g->nodes[anchor]->name);
    ValueRef mask = m.mask;
    if (mask.node >= 0 && m.mask_first) {
        /* (s + mask) * c = s * c + mask * c: the fused op reads the scaled mask */
        snprintf(base, sizeof base, "%s/scaled_mask", old);
        ValueRef in[2] = {mask, m.c};
        int sm = edit_add_node(g, base, m.div ? "RealDiv" : "Mul", in, 2, err);
        if (sm < 0 || node_set_attr_type(g->nodes[sm], "T", DT_FLOAT, err)) return -1;
        mask = (ValueRef){sm, 0};
    }
    if (graph_rename_node(g, anchor, edit_unique_name(g, old, fresh, sizeof fresh), err) < 0) return -1;
    ValueRef in[4] = {m.q, m.k, m.v, mask};
    int has_mask = mask.node >= 0;
    int a = edit_add_node(g, old, "GrappoAttention", in, 3 + has_mask, err);
    if (a < 0) return -1;
    Node *an = g->nodes[a];
    if (node_set_attr_type(an, "T", DT_FLOAT, err) || node_set_attr_f(an, "scale", m.scale, err) ||
        node_set_attr_b(an, "has_mask", has_mask, err))
        return -1;
    if (g->nodes[anchor]->device && node_set_device(an, g->nodes[anchor]->device, err)) return -1;
    return edit_replace_uses(g, (ValueRef){anchor, 0}, (ValueRef){a, 0}, err);
}

const RuleDef fuse_attention = {
    .name = "fuse_attention",
    .family = "fuse",
    .flags = RULE_EXACT,
    .doc = "BatchMatMulV2(q,k,adj_y) * scale (+ mask) -> Softmax -> BatchMatMulV2(., v) => GrappoAttention",
    .find = find_attention,
    .apply = apply_attention,
};
