/* rules_fuse_norm.c - the fuse-family rules that turn written-out LayerNorm and GELU subgraphs
 * into grappo's fused ops (docs/ops.md):
 *
 *   fuse_layernorm  mean = Mean(x, [-1], keep_dims); var = Mean(SquaredDifference(x, mean))
 *                   (mean optionally through StopGradient / Identity, as tf.nn.moments writes
 *                   it); rstd = Rsqrt(var + eps); then either
 *                     A (tf.nn.batch_normalization, BERT):  m = rstd * gamma;
 *                        y = x * m + (beta - mean * m)
 *                     B (direct):  y = (x - mean) * rstd * gamma + beta
 *                   => y = GrappoLayerNorm(x, gamma, beta, epsilon = eps)
 *   fuse_gelu       y = x * 0.5 * (1 + Erf(x * 0.70710677))  (or Erf(x / 1.4142135)), and the
 *                   tanh form x * 0.5 * (1 + Tanh(0.7978846 * (x + 0.044715 * x^3))) with x^3
 *                   as Pow(x, 3), x * (x * x) or x * Square(x); the three factors x, 0.5 and
 *                   the sum in any grouping and order  => y = GrappoGelu(x, approximate)
 *                   and tf.nn.gelu's exact form x * 0.5 * Erfc(-x * 0.70710677) (Keras 3
 *                   BERTs), the argument as Neg(x) * c, x * -c, Neg(x * c), Neg(x) / sqrt2 or
 *                   x / -sqrt2: 1 + erf(t) = erfc(-t) exactly, and the reference computes
 *                   GrappoGelu with erfc (graph/act_math.h)
 *
 * Every commutative op (Add, AddV2, Mul, SquaredDifference) is matched in both operand
 * orders. Constants must be known float32 single-element values within 1e-6 relative of the
 * documented ones. Every intermediate value must be read only inside the pattern (graph
 * outputs and control edges count as outside readers); only x, gamma and beta may have other
 * readers. Neither rule is RULE_TF: the ops they write are grappo ops.
 *
 * The fused op replaces the anchor (the pattern's last node) by turning that node itself into
 * the fused op: it keeps its name (TensorFlow users fetch by name), its index and its readers,
 * so no reader needs rewiring; the rest of the pattern is left dead for rule_apply to remove.
 * (edit.h has no rename helper, which the rename-then-reuse-name recipe would need.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "edit.h"
#include "rule.h"

#define CONST_RTOL 1e-6
#define INV_SQRT2 0.70710678118654752440
#define SQRT2 1.41421356237309504880
#define SQRT_2_OVER_PI 0.79788456080286535588

/* ---- small matching helpers ---- */

static const Node *producer(const Graph *g, ValueRef v) { return g->nodes[v.node]; }
static bool is_op(const Graph *g, ValueRef v, OpId op) { return v.port == 0 && producer(g, v)->op == op; }
static bool is_add(const Graph *g, ValueRef v) { return is_op(g, v, OP_ADD) || is_op(g, v, OP_ADD_V2); }
static bool same(ValueRef a, ValueRef b) { return a.node == b.node && a.port == b.port; }
static ValueRef in_of(const Graph *g, ValueRef v, int i) { return producer(g, v)->inputs[i]; }
static ValueRef out0(int node) { return (ValueRef){node, 0}; }

/* the value of v when it is a known float32 with exactly one element */
static bool known_scalar(const Graph *g, ValueRef v, double *out) {
    const Tensor *t = edit_known(g, v);
    if (!t || t->dtype != DT_FLOAT || tensor_numel(t) != 1 || !tensor_data(t)) return false;
    *out = ((const float *)tensor_data(t))[0];
    return true;
}

static bool known_near(const Graph *g, ValueRef v, double want) {
    double c;
    return known_scalar(g, v, &c) && fabs(c - want) <= CONST_RTOL * fabs(want);
}

/* some node has a control dependency on `node` */
static bool has_ctrl_reader(const Graph *g, const GraphUses *u, int node) {
    for (int k = u->use_start[node]; k < u->use_start[node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_ctrl; i++)
            if (r->ctrl[i] == node) return true;
    }
    return false;
}

/* The producer of v may disappear inside a fusion whose only reader of v is `reader`: v is
   read once, by reader, and by nothing else (not a graph output, no control readers), and the
   producer waits for no control input (dropping it would drop that ordering). */
static bool only_into(const Graph *g, const GraphUses *u, ValueRef v, int reader) {
    return producer(g, v)->n_ctrl == 0 && edit_only_reader(g, u, v, NULL) == reader;
}

static int reads_of(const Node *r, ValueRef v) {
    int c = 0;
    for (int i = 0; i < r->n_inputs; i++) c += same(r->inputs[i], v);
    return c;
}

/* as only_into, for a value with exactly two readers, each reading it once */
static bool only_into_two(const Graph *g, const GraphUses *u, ValueRef v, int r1, int r2) {
    return r1 != r2 && producer(g, v)->n_ctrl == 0 && !has_ctrl_reader(g, u, v.node) && edit_use_count(g, u, v) == 2 &&
           reads_of(g->nodes[r1], v) == 1 && reads_of(g->nodes[r2], v) == 1;
}

static bool is_f32(const Graph *g, ValueRef v) { return graph_value(g, v)->dtype == DT_FLOAT; }

/* Mean over the last axis of its input with keep_dims */
static bool mean_last_axis(const Graph *g, ValueRef v) {
    if (!is_op(g, v, OP_MEAN)) return false;
    const Node *n = producer(g, v);
    if (!node_attr_b(n, "keep_dims", false)) return false;
    const Tensor *axes = edit_known(g, n->inputs[1]);
    int rank = graph_value(g, n->inputs[0])->shape.rank;
    int64_t ax[2];
    if (!axes || rank < 1 || (axes->dtype != DT_INT32 && axes->dtype != DT_INT64)) return false;
    Err e = {0};
    if (tensor_to_i64(axes, ax, 2, &e) != 1) return false;
    return ax[0] == -1 || ax[0] == rank - 1;
}

/* ---- fuse_layernorm ---- */

typedef struct LnMatch {
    ValueRef x, gamma, beta;
    float eps;
    int nodes[SITE_MAX_NODES]; /* nodes[0] = the anchor */
    int n;
} LnMatch;

static void ln_add(LnMatch *m, int node) { m->nodes[m->n++] = node; }

/* From rstd upwards: rstd = Rsqrt(var + eps) read only by rstd_reader, var =
   Mean(SquaredDifference(x, ms)) over the last axis, ms = mean or StopGradient/Identity(mean),
   mean = Mean(x) over the last axis. Sets m->x, m->eps and *mean_v, *mean_reader (the node of
   the statistics chain reading mean: the SquaredDifference or the StopGradient/Identity). The
   caller checks mean's readers: it knows mean's other reader. */
static bool ln_stats(const Graph *g, const GraphUses *u, ValueRef rstd, int rstd_reader, LnMatch *m, ValueRef *mean_v,
                     int *mean_reader) {
    if (!is_op(g, rstd, OP_RSQRT) || !only_into(g, u, rstd, rstd_reader)) return false;
    ValueRef ve = in_of(g, rstd, 0);
    if (!is_add(g, ve) || !only_into(g, u, ve, rstd.node)) return false;
    ValueRef var = {-1, 0};
    double eps = 0;
    for (int k = 0; k < 2 && var.node < 0; k++)
        if (mean_last_axis(g, in_of(g, ve, k)) && known_scalar(g, in_of(g, ve, 1 - k), &eps)) var = in_of(g, ve, k);
    if (var.node < 0 || !(eps >= 0) || !isfinite(eps) || !only_into(g, u, var, ve.node)) return false;
    ValueRef sqd = in_of(g, var, 0);
    if (!is_op(g, sqd, OP_SQUARED_DIFFERENCE) || !only_into(g, u, sqd, var.node)) return false;
    for (int k = 0; k < 2; k++) {
        ValueRef x = in_of(g, sqd, k), ms = in_of(g, sqd, 1 - k), mean = ms;
        int reader = sqd.node;
        if (is_op(g, ms, OP_STOP_GRADIENT) || is_op(g, ms, OP_IDENTITY)) {
            if (!only_into(g, u, ms, sqd.node)) continue;
            mean = in_of(g, ms, 0);
            reader = ms.node;
        }
        if (!mean_last_axis(g, mean) || !same(in_of(g, mean, 0), x)) continue;
        m->x = x;
        m->eps = (float)eps;
        *mean_v = mean;
        *mean_reader = reader;
        ln_add(m, rstd.node);
        ln_add(m, ve.node);
        ln_add(m, var.node);
        ln_add(m, sqd.node);
        if (reader != sqd.node) ln_add(m, reader);
        ln_add(m, mean.node);
        return true;
    }
    return false;
}

/* variant A: y = x * m + (beta - mean * m), m = rstd * gamma */
static bool ln_variant_a(const Graph *g, const GraphUses *u, int anchor, LnMatch *m) {
    ValueRef y = out0(anchor);
    for (int s = 0; s < 2; s++) {
        ValueRef xm = in_of(g, y, s), sh = in_of(g, y, 1 - s);
        if (!is_op(g, xm, OP_MUL) || !is_op(g, sh, OP_SUB) || !only_into(g, u, xm, anchor) || !only_into(g, u, sh, anchor))
            continue;
        ValueRef mm = in_of(g, sh, 1);
        if (!is_op(g, mm, OP_MUL) || !only_into(g, u, mm, sh.node)) continue;
        for (int i = 0; i < 4; i++) {
            ValueRef mv = in_of(g, xm, i / 2);
            if (!same(mv, in_of(g, mm, i % 2)) || !is_op(g, mv, OP_MUL) || !only_into_two(g, u, mv, xm.node, mm.node))
                continue;
            ValueRef x = in_of(g, xm, 1 - i / 2), mean_in = in_of(g, mm, 1 - i % 2);
            for (int k = 0; k < 2; k++) {
                LnMatch t = {.n = 0};
                ln_add(&t, anchor);
                ValueRef mean;
                int mean_reader;
                if (!ln_stats(g, u, in_of(g, mv, k), mv.node, &t, &mean, &mean_reader)) continue;
                if (!same(t.x, x) || !same(mean, mean_in) || !only_into_two(g, u, mean, mean_reader, mm.node)) continue;
                ln_add(&t, xm.node);
                ln_add(&t, sh.node);
                ln_add(&t, mm.node);
                ln_add(&t, mv.node);
                t.gamma = in_of(g, mv, 1 - k);
                t.beta = in_of(g, sh, 0);
                *m = t;
                return true;
            }
        }
    }
    return false;
}

/* variant B: y = (x - mean) * rstd * gamma + beta, grouped ((d * rstd) * gamma) + beta */
static bool ln_variant_b(const Graph *g, const GraphUses *u, int anchor, LnMatch *m) {
    ValueRef y = out0(anchor);
    for (int s = 0; s < 2; s++) {
        ValueRef n2 = in_of(g, y, s);
        if (!is_op(g, n2, OP_MUL) || !only_into(g, u, n2, anchor)) continue;
        for (int k = 0; k < 2; k++) {
            ValueRef n1 = in_of(g, n2, k);
            if (!is_op(g, n1, OP_MUL) || !only_into(g, u, n1, n2.node)) continue;
            for (int l = 0; l < 2; l++) {
                ValueRef d = in_of(g, n1, l);
                if (!is_op(g, d, OP_SUB) || !only_into(g, u, d, n1.node)) continue;
                LnMatch t = {.n = 0};
                ln_add(&t, anchor);
                ValueRef mean;
                int mean_reader;
                if (!ln_stats(g, u, in_of(g, n1, 1 - l), n1.node, &t, &mean, &mean_reader)) continue;
                if (!same(in_of(g, d, 0), t.x) || !same(in_of(g, d, 1), mean) ||
                    !only_into_two(g, u, mean, mean_reader, d.node))
                    continue;
                ln_add(&t, n2.node);
                ln_add(&t, n1.node);
                ln_add(&t, d.node);
                t.gamma = in_of(g, n2, 1 - k);
                t.beta = in_of(g, y, 1 - s);
                *m = t;
                return true;
            }
        }
    }
    return false;
}

/* gamma and beta are float32 [D], D = x's last dim; everything float32; y has x's shape */
static bool ln_tensors_ok(const Graph *g, int anchor, const LnMatch *m) {
    const Value *x = graph_value(g, m->x);
    if (x->dtype != DT_FLOAT || x->shape.rank < 1 || !shape_is_known(&x->shape)) return false;
    int64_t d = x->shape.dim[x->shape.rank - 1];
    const Value *vs[2] = {graph_value(g, m->gamma), graph_value(g, m->beta)};
    for (int i = 0; i < 2; i++)
        if (vs[i]->dtype != DT_FLOAT || vs[i]->shape.rank != 1 || vs[i]->shape.dim[0] != d) return false;
    for (int k = 0; k < m->n; k++)
        if (!is_f32(g, out0(m->nodes[k]))) return false;
    return shape_equal(&g->nodes[anchor]->outputs[0].shape, &x->shape);
}

/* the pattern ending at anchor (variant given, or tried A then B when variant < 0) */
static int ln_match(const Graph *g, const GraphUses *u, int anchor, int variant, LnMatch *m) {
    const Node *n = g->nodes[anchor];
    if ((n->op != OP_ADD && n->op != OP_ADD_V2) || n->n_inputs != 2 || n->n_ctrl != 0) return -1;
    if (has_ctrl_reader(g, u, anchor)) return -1;
    if ((variant < 0 || variant == 0) && ln_variant_a(g, u, anchor, m) && ln_tensors_ok(g, anchor, m)) return 0;
    if ((variant < 0 || variant == 1) && ln_variant_b(g, u, anchor, m) && ln_tensors_ok(g, anchor, m)) return 1;
    return -1;
}

/* Turns node `node` into op_name(in[0..n_in)) with no attributes, keeping its name, device and
   readers (see the header comment). */
static int morph(Graph *g, int node, const char *op_name, const ValueRef *in, int n_in, Err *err) {
    Node *n = g->nodes[node];
    char *op = strdup(op_name);
    if (!op) return err_set(err, ERR_RUNTIME, "out of memory");
    free(n->op_name);
    n->op_name = op;
    n->op = op_lookup(op_name);
    ValueRef keep[4];
    for (int k = 0; k < n_in; k++) keep[k] = in[k]; /* in[] may point into n->inputs */
    n->n_inputs = 0;
    for (int k = 0; k < n_in; k++)
        if (node_add_input(g, node, keep[k], err)) return -1;
    /* every attribute goes but the calibrated range of the output (calibrate.h), which the
       fused op's output keeps: it is the same value, and the int8 rules read it */
    for (int k = n->n_attrs - 1; k >= 0; k--)
        if (strcmp(n->attrs[k].name, CALIB_ATTR_MIN) && strcmp(n->attrs[k].name, CALIB_ATTR_MAX))
            node_attr_remove(n, n->attrs[k].name);
    return 0;
}

static int find_layernorm(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        LnMatch m;
        int variant = ln_match(g, u, i, -1, &m);
        if (variant < 0) continue;
        Site s = {.n = m.n, .param = variant};
        memcpy(s.nodes, m.nodes, sizeof m.nodes);
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_layernorm(Graph *g, const Site *s, Err *err) {
    /* match again exactly as find did (same checks, same order), to recover x, gamma, beta */
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    LnMatch m;
    int variant = ln_match(g, &u, s->nodes[0], (int)s->param, &m);
    graph_uses_free(&u);
    if (variant < 0) return err_set(err, ERR_RUNTIME, "the LayerNorm pattern is no longer there");
    ValueRef in[3] = {m.x, m.gamma, m.beta};
    if (morph(g, s->nodes[0], "GrappoLayerNorm", in, 3, err)) return -1;
    Node *n = g->nodes[s->nodes[0]];
    return node_set_attr_type(n, "T", DT_FLOAT, err) || node_set_attr_f(n, "epsilon", m.eps, err) ? -1 : 0;
}

const RuleDef fuse_layernorm = {
    .name = "fuse_layernorm",
    .family = "fuse",
    .flags = RULE_EXACT,
    .doc = "LayerNorm written out (Mean, SquaredDifference, Mean, +eps, Rsqrt, *gamma, ..., +beta) -> GrappoLayerNorm",
    .find = find_layernorm,
    .apply = apply_layernorm,
};

/* ---- fuse_gelu ---- */

typedef struct GeluMatch {
    ValueRef x;
    bool approximate;
    int nodes[SITE_MAX_NODES];
    int n;
} GeluMatch;

static void gelu_add(GeluMatch *m, int node) { m->nodes[m->n++] = node; }

/* v = x^3 as Pow(x, 3), x * (x * x) or x * Square(x) (either order), read only by reader */
static bool gelu_cube(const Graph *g, const GraphUses *u, ValueRef v, int reader, ValueRef x, GeluMatch *m) {
    if (!only_into(g, u, v, reader)) return false;
    if (is_op(g, v, OP_POW)) {
        if (!same(in_of(g, v, 0), x) || !known_near(g, in_of(g, v, 1), 3.0)) return false;
        gelu_add(m, v.node);
        return true;
    }
    if (!is_op(g, v, OP_MUL)) return false;
    for (int k = 0; k < 2; k++) {
        ValueRef sq = in_of(g, v, 1 - k);
        if (!same(in_of(g, v, k), x) || !only_into(g, u, sq, v.node)) continue;
        bool square = (is_op(g, sq, OP_SQUARE) && same(in_of(g, sq, 0), x)) ||
                      (is_op(g, sq, OP_MUL) && same(in_of(g, sq, 0), x) && same(in_of(g, sq, 1), x));
        if (!square) continue;
        gelu_add(m, v.node);
        gelu_add(m, sq.node);
        return true;
    }
    return false;
}

/* the argument of Erf: x * 0.70710677 (either order) or x / 1.4142135, read only by reader */
static bool gelu_erf_arg(const Graph *g, const GraphUses *u, ValueRef a, int reader, ValueRef x, GeluMatch *m) {
    if (!only_into(g, u, a, reader)) return false;
    bool ok = false;
    if (is_op(g, a, OP_MUL))
        for (int k = 0; k < 2 && !ok; k++) ok = same(in_of(g, a, k), x) && known_near(g, in_of(g, a, 1 - k), INV_SQRT2);
    else if (is_op(g, a, OP_REAL_DIV))
        ok = same(in_of(g, a, 0), x) && known_near(g, in_of(g, a, 1), SQRT2);
    if (ok) gelu_add(m, a.node);
    return ok;
}

/* the argument of Tanh: 0.7978846 * (x + 0.044715 * x^3), operands in either order */
static bool gelu_tanh_arg(const Graph *g, const GraphUses *u, ValueRef a, int reader, ValueRef x, GeluMatch *m) {
    if (!is_op(g, a, OP_MUL) || !only_into(g, u, a, reader)) return false;
    for (int i = 0; i < 2; i++) {
        ValueRef sum = in_of(g, a, i);
        if (!known_near(g, in_of(g, a, 1 - i), SQRT_2_OVER_PI) || !is_add(g, sum) || !only_into(g, u, sum, a.node)) continue;
        for (int j = 0; j < 2; j++) {
            ValueRef cm = in_of(g, sum, 1 - j);
            if (!same(in_of(g, sum, j), x) || !is_op(g, cm, OP_MUL) || !only_into(g, u, cm, sum.node)) continue;
            for (int k = 0; k < 2; k++) {
                GeluMatch t = *m;
                if (!known_near(g, in_of(g, cm, 1 - k), 0.044715) || !gelu_cube(g, u, in_of(g, cm, k), cm.node, x, &t))
                    continue;
                gelu_add(&t, a.node);
                gelu_add(&t, sum.node);
                gelu_add(&t, cm.node);
                *m = t;
                return true;
            }
        }
    }
    return false;
}

/* the argument of Erfc: -x / sqrt 2 as Neg(x) * 0.70710677, x * -0.70710677, Neg(x * 0.70710677)
   (products either order), Neg(x) / 1.4142135 or x / -1.4142135; read only by reader */
static bool gelu_erfc_arg(const Graph *g, const GraphUses *u, ValueRef a, int reader, ValueRef x, GeluMatch *m) {
    if (!only_into(g, u, a, reader)) return false;
    GeluMatch t = *m;
    bool ok = false;
    if (is_op(g, a, OP_NEG)) { /* Neg(x * c) or Neg(x / sqrt2) */
        ok = gelu_erf_arg(g, u, in_of(g, a, 0), a.node, x, &t);
    } else if (is_op(g, a, OP_MUL) || is_op(g, a, OP_REAL_DIV)) {
        bool div = is_op(g, a, OP_REAL_DIV);
        double c = div ? SQRT2 : INV_SQRT2;
        for (int k = 0; k < (div ? 1 : 2) && !ok; k++) {
            ValueRef v = in_of(g, a, k), cv = in_of(g, a, 1 - k);
            if (same(v, x)) ok = known_near(g, cv, -c);
            else if (is_op(g, v, OP_NEG) && same(in_of(g, v, 0), x) && only_into(g, u, v, a.node) && known_near(g, cv, c)) {
                ok = true;
                gelu_add(&t, v.node);
            }
        }
    }
    if (!ok) return false;
    gelu_add(&t, a.node);
    *m = t;
    return true;
}

/* s = 1 + Erf(arg) or 1 + Tanh(arg) (either order), or Erfc(-arg), read only by reader */
static bool gelu_sum(const Graph *g, const GraphUses *u, ValueRef s, int reader, ValueRef x, GeluMatch *m) {
    if (is_op(g, s, OP_ERFC) && only_into(g, u, s, reader)) {
        GeluMatch t = *m;
        if (!gelu_erfc_arg(g, u, in_of(g, s, 0), s.node, x, &t)) return false;
        gelu_add(&t, s.node);
        t.approximate = false;
        *m = t;
        return true;
    }
    if (!is_add(g, s) || !only_into(g, u, s, reader)) return false;
    for (int k = 0; k < 2; k++) {
        ValueRef f = in_of(g, s, k);
        if (!known_near(g, in_of(g, s, 1 - k), 1.0) || !only_into(g, u, f, s.node)) continue;
        GeluMatch t = *m;
        bool ok = false;
        if (is_op(g, f, OP_ERF)) {
            ok = gelu_erf_arg(g, u, in_of(g, f, 0), f.node, x, &t);
            t.approximate = false;
        } else if (is_op(g, f, OP_TANH)) {
            ok = gelu_tanh_arg(g, u, in_of(g, f, 0), f.node, x, &t);
            t.approximate = true;
        }
        if (!ok) continue;
        gelu_add(&t, s.node);
        gelu_add(&t, f.node);
        *m = t;
        return true;
    }
    return false;
}

/* The product x * 0.5 * s ending at anchor: two Muls in any grouping and operand order. */
static bool gelu_match(const Graph *g, const GraphUses *u, int anchor, GeluMatch *m) {
    const Node *n = g->nodes[anchor];
    if (n->op != OP_MUL || n->n_inputs != 2 || n->n_ctrl != 0 || !is_f32(g, out0(anchor))) return false;
    if (has_ctrl_reader(g, u, anchor)) return false;
    ValueRef y = out0(anchor);
    for (int k = 0; k < 2; k++) {
        ValueRef inner = in_of(g, y, k);
        if (!is_op(g, inner, OP_MUL) || !only_into(g, u, inner, anchor)) continue;
        /* the three factors and the node reading each */
        ValueRef leaf[3] = {in_of(g, inner, 0), in_of(g, inner, 1), in_of(g, y, 1 - k)};
        int reader[3] = {inner.node, inner.node, anchor};
        for (int h = 0; h < 3; h++) {
            if (!known_near(g, leaf[h], 0.5)) continue;
            for (int j = 0; j < 2; j++) {
                int si = (h + 1 + j) % 3, xi = (h + 2 - j) % 3;
                GeluMatch t = {.n = 0};
                gelu_add(&t, anchor);
                gelu_add(&t, inner.node);
                ValueRef x = leaf[xi];
                if (!gelu_sum(g, u, leaf[si], reader[si], x, &t)) continue;
                const Value *xv = graph_value(g, x);
                if (xv->dtype != DT_FLOAT || !shape_equal(&xv->shape, &n->outputs[0].shape)) continue;
                bool f32 = true;
                for (int i = 0; i < t.n; i++) f32 = f32 && is_f32(g, out0(t.nodes[i]));
                if (!f32) continue;
                t.x = x;
                *m = t;
                return true;
            }
        }
    }
    return false;
}

static int find_gelu(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        GeluMatch m;
        if (!gelu_match(g, u, i, &m)) continue;
        Site s = {.n = m.n, .param = m.approximate};
        memcpy(s.nodes, m.nodes, sizeof m.nodes);
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_gelu(Graph *g, const Site *s, Err *err) {
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    GeluMatch m;
    bool found = gelu_match(g, &u, s->nodes[0], &m);
    graph_uses_free(&u);
    if (!found) return err_set(err, ERR_RUNTIME, "the GELU pattern is no longer there");
    if (morph(g, s->nodes[0], "GrappoGelu", &m.x, 1, err)) return -1;
    Node *n = g->nodes[s->nodes[0]];
    return node_set_attr_type(n, "T", DT_FLOAT, err) || node_set_attr_b(n, "approximate", m.approximate, err) ? -1 : 0;
}

const RuleDef fuse_gelu = {
    .name = "fuse_gelu",
    .family = "fuse",
    .flags = RULE_EXACT,
    .doc = "GELU written out, x*0.5*(1+Erf(x/sqrt2)), x*0.5*Erfc(-x/sqrt2) or the Tanh form -> GrappoGelu(approximate)",
    .find = find_gelu,
    .apply = apply_gelu,
};
