/* rules_fold_bn.c - folding per-channel affine maps into the weights of the Conv2D /
 * DepthwiseConv2dNative / MatMul that produces their input:
 *
 *   fold_batchnorm   conv [-> BiasAdd(const)] -> FusedBatchNorm{,V2,V3}(inference, known
 *                    statistics)                     => conv(W * s) -> BiasAdd
 *   fold_affine      conv -> chain of BiasAdd / Add / AddV2 / Sub / Mul / RealDiv by constant
 *                    per-channel vectors or scalars  => conv(W * a) [-> BiasAdd(b)]
 *   fold_scalar_mul  conv [-> BiasAdd(const)] -> Mul / RealDiv by a scalar constant
 *                                                    => conv(W * k) [-> BiasAdd(bias * k)]
 *   fold_conv_affine fold_affine for convolutions only (not MatMul): a batch norm frozen as
 *                    Mul + Add by per-channel constants after a conv, in the grappler
 *                    pipelines, so the bias, residual Add and Relu then fuse into the conv
 *
 * fold_scalar_mul is the scalar case of fold_affine (same code, narrower pattern); it is kept
 * as its own rule because the issue and the grappler pipeline name it. MatMul cannot feed
 * FusedBatchNorm (which takes 4-D input); a batch norm after a dense layer appears in frozen
 * graphs as the Mul/Add form, which fold_affine handles.
 *
 * The chain's intermediate values must be single-use; the end of the chain may have several
 * readers and be a graph output: the node that replaces it takes its name. The weights are
 * always written to a new Const, so a filter shared by several layers stays correct. All math
 * in double, rounded once to float. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "fold_util.h"
#include "rule.h"

typedef enum StepKind { ST_BIAS, ST_ADD, ST_SUB, ST_RSUB, ST_MUL, ST_DIV } StepKind;

typedef struct Step {
    StepKind kind;
    const Tensor *c; /* the constant operand */
} Step;

static bool is_mul_like(StepKind k) { return k == ST_MUL || k == ST_DIV; }

static bool nhwc(const Node *n) { return !strcmp(node_attr_s(n, "data_format", "NHWC"), "NHWC"); }

/* the constant operand of r at input index i, when it is a usable per-channel vector */
static const Tensor *channel_const(const Graph *g, FoldStatic *fs, const Node *r, int i, const FoldLinear *L, int rank) {
    const Tensor *t = edit_known(g, r->inputs[i]);
    if (!t || !fold_channel_vector_ok(t, L->channels, rank)) return NULL;
    if (fs && !fold_static_value(fs, r->inputs[i], true)) return NULL;
    return t;
}

/* Does node r, reading the chain value cur, apply an affine per-channel map to it? */
static bool affine_step(const Graph *g, FoldStatic *fs, int r, ValueRef cur, const FoldLinear *L, Step *st) {
    const Node *n = g->nodes[r];
    if (n->n_inputs != 2 || n->n_outputs != 1 || n->n_ctrl) return false;
    const Shape *ys = &graph_value(g, cur)->shape;
    if (!fold_is_f32(g, (ValueRef){r, 0}) || !shape_equal(&n->outputs[0].shape, ys)) return false;
    bool first = n->inputs[0].node == cur.node && n->inputs[0].port == cur.port;
    bool second = n->inputs[1].node == cur.node && n->inputs[1].port == cur.port;
    if (first == second) return false; /* x op x, or not reading cur */
    int ci = first ? 1 : 0;
    const Tensor *c = channel_const(g, fs, n, ci, L, ys->rank);
    if (!c) return false;
    switch (n->op) {
    case OP_BIAS_ADD:
        if (!first || !nhwc(n) || c->shape.rank != 1 || c->shape.dim[0] != L->channels) return false;
        st->kind = ST_BIAS;
        break;
    case OP_ADD:
    case OP_ADD_V2: st->kind = ST_ADD; break;
    case OP_SUB: st->kind = first ? ST_SUB : ST_RSUB; break;
    case OP_MUL: st->kind = ST_MUL; break;
    case OP_REAL_DIV:
        if (!first) return false;
        for (int64_t i = 0; i < tensor_numel(c); i++)
            if (((const float *)tensor_data(c))[i] == 0.0f) return false;
        st->kind = ST_DIV;
        break;
    default: return false;
    }
    st->c = c;
    return true;
}

/* y -> a*y + b composed with one more step */
static void compose(const Step *st, int64_t channels, double *a, double *b) {
    for (int64_t c = 0; c < channels; c++) {
        double v = fold_channel_value(st->c, c);
        switch (st->kind) {
        case ST_BIAS:
        case ST_ADD: b[c] += v; break;
        case ST_SUB: b[c] -= v; break;
        case ST_RSUB: a[c] = -a[c]; b[c] = v - b[c]; break;
        case ST_MUL: a[c] *= v; b[c] *= v; break;
        case ST_DIV: a[c] /= v; b[c] /= v; break;
        }
    }
}

/* the node reading cur when cur can be folded away (single use, nothing depends on its
   producer by control edge); -1 otherwise */
static int next_in_chain(const Graph *g, const GraphUses *u, ValueRef cur) {
    return edit_only_reader(g, u, cur, NULL);
}

/* the last node of a chain dies: no control edges may need it */
static bool can_end_chain(const Graph *g, const GraphUses *u, int node) {
    return !fold_has_ctrl_readers(g, u, node) && g->nodes[node]->n_ctrl == 0;
}

typedef enum ChainMode { CHAIN_AFFINE, CHAIN_CONV_AFFINE, CHAIN_SCALAR } ChainMode;

static int find_chains(const Graph *g, const GraphUses *u, SiteList *out, ChainMode mode, Err *err) {
    FoldStatic fs;
    if (fold_static_init(&fs, g, err)) return -1;
    int rc = 0;
    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        FoldLinear L;
        if (!fold_linear_match(g, i, &L) || !fold_static_value(&fs, g->nodes[i]->inputs[1], true)) continue;
        if (mode == CHAIN_CONV_AFFINE && L.kind == FOLD_LIN_MATMUL) continue;
        Site s = {.n = 1, .nodes = {i}};
        ValueRef cur = {i, 0};
        int n_mul = 0, n_add = 0, good = 0; /* good: chain length that may end the site */
        while (s.n < SITE_MAX_NODES) {
            int r = next_in_chain(g, u, cur);
            Step st;
            if (r < 0 || !affine_step(g, &fs, r, cur, &L, &st)) break;
            if (mode == CHAIN_SCALAR) {
                if (st.kind == ST_BIAS && s.n == 1) {
                    s.nodes[s.n++] = r;
                    cur = (ValueRef){r, 0};
                    continue;
                }
                if (is_mul_like(st.kind) && tensor_numel(st.c) == 1 && can_end_chain(g, u, r)) {
                    s.nodes[s.n++] = r;
                    good = s.n;
                }
                break;
            }
            s.nodes[s.n++] = r;
            cur = (ValueRef){r, 0};
            if (is_mul_like(st.kind)) n_mul++;
            else n_add++;
            /* a lone bias-like Add is the fusion rules' business; fold when something is
               gained: a multiply goes into the weights, or two additions become one */
            if ((n_mul > 0 || n_add >= 2) && can_end_chain(g, u, r)) good = s.n;
        }
        if (!good) continue;
        s.n = good;
        rc = sitelist_push(out, &s, err);
    }
    fold_static_free(&fs);
    return rc;
}

static int apply_chain(Graph *g, const Site *s, Err *err) {
    FoldLinear L;
    if (!fold_linear_match(g, s->nodes[0], &L)) return err_set(err, ERR_RUNTIME, "not a foldable conv/matmul");
    double *a = malloc((size_t)L.channels * sizeof *a), *b = calloc((size_t)L.channels, sizeof *b);
    if (!a || !b) { free(a); free(b); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int64_t c = 0; c < L.channels; c++) a[c] = 1.0;
    bool bias = false;
    ValueRef cur = {s->nodes[0], 0};
    for (int k = 1; k < s->n; k++) {
        Step st;
        if (!affine_step(g, NULL, s->nodes[k], cur, &L, &st)) {
            free(a); free(b);
            return err_set(err, ERR_RUNTIME, "node '%s' is not an affine step", g->nodes[s->nodes[k]]->name);
        }
        compose(&st, L.channels, a, b);
        bias |= !is_mul_like(st.kind);
        cur = (ValueRef){s->nodes[k], 0};
    }
    int rc = fold_linear_emit(g, &L, a, bias ? b : NULL, s->nodes[s->n - 1], err);
    free(a);
    free(b);
    return rc;
}

static int find_affine(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    return find_chains(g, u, out, CHAIN_AFFINE, err);
}
static int find_conv_affine(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    return find_chains(g, u, out, CHAIN_CONV_AFFINE, err);
}
static int find_scalar(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    return find_chains(g, u, out, CHAIN_SCALAR, err);
}

/* ---- batch norm ---- */

static bool is_batchnorm(const Node *n) {
    return n->op == OP_FUSED_BATCH_NORM || n->op == OP_FUSED_BATCH_NORM_V2 || n->op == OP_FUSED_BATCH_NORM_V3;
}

/* known float statistics of bn (input i), C values each */
static const Tensor *bn_param(const Graph *g, FoldStatic *fs, const Node *bn, int i, int64_t c) {
    const Tensor *t = edit_known(g, bn->inputs[i]);
    if (!t || t->dtype != DT_FLOAT || t->shape.rank != 1 || t->shape.dim[0] != c) return NULL;
    if (fs && !fold_static_value(fs, bn->inputs[i], true)) return NULL;
    return t;
}

/* bn folds: inference mode, NHWC, float, known statistics, statistics outputs unread */
static bool bn_foldable(const Graph *g, const GraphUses *u, FoldStatic *fs, int r, ValueRef cur, int64_t c) {
    const Node *bn = g->nodes[r];
    if (!is_batchnorm(bn) || bn->n_inputs != 5 || bn->n_ctrl || !nhwc(bn)) return false;
    if (bn->inputs[0].node != cur.node || bn->inputs[0].port != cur.port) return false;
    /* is_training defaults to true in TF: only an explicit false is inference */
    const Attr *tr = node_attr_find(bn, "is_training");
    if (!tr || tr->kind != ATTR_BOOL || tr->b) return false;
    if (!fold_is_f32(g, (ValueRef){r, 0}) || !shape_equal(&bn->outputs[0].shape, &graph_value(g, cur)->shape)) return false;
    for (int p = 1; p < bn->n_outputs; p++)
        if (edit_use_count(g, u, (ValueRef){r, p}) != 0) return false;
    if (!can_end_chain(g, u, r)) return false;
    double eps = node_attr_f(bn, "epsilon", 1e-4f);
    const Tensor *var = bn_param(g, fs, bn, 4, c);
    for (int i = 1; i <= 3; i++)
        if (!bn_param(g, fs, bn, i, c)) return false;
    if (!var) return false;
    for (int64_t k = 0; k < c; k++)
        if (!((double)((const float *)tensor_data(var))[k] + eps > 0.0)) return false;
    return true;
}

static int find_batchnorm(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    FoldStatic fs;
    if (fold_static_init(&fs, g, err)) return -1;
    int rc = 0;
    for (int i = 0; i < g->n_nodes && rc == 0; i++) {
        FoldLinear L;
        if (!fold_linear_match(g, i, &L) || L.kind == FOLD_LIN_MATMUL) continue;
        if (!fold_static_value(&fs, g->nodes[i]->inputs[1], true)) continue;
        Site s = {.n = 1, .nodes = {i}};
        ValueRef cur = {i, 0};
        int r = next_in_chain(g, u, cur);
        Step st;
        if (r >= 0 && g->nodes[r]->op == OP_BIAS_ADD && affine_step(g, &fs, r, cur, &L, &st)) {
            s.nodes[s.n++] = r;
            cur = (ValueRef){r, 0};
            r = next_in_chain(g, u, cur);
        }
        if (r < 0 || !bn_foldable(g, u, &fs, r, cur, L.channels)) continue;
        s.nodes[s.n++] = r;
        rc = sitelist_push(out, &s, err);
    }
    fold_static_free(&fs);
    return rc;
}

static int apply_batchnorm(Graph *g, const Site *s, Err *err) {
    FoldLinear L;
    if (!fold_linear_match(g, s->nodes[0], &L)) return err_set(err, ERR_RUNTIME, "not a foldable conv");
    int64_t c = L.channels;
    double *a = malloc((size_t)c * sizeof *a), *b = calloc((size_t)c, sizeof *b);
    if (!a || !b) { free(a); free(b); return err_set(err, ERR_RUNTIME, "out of memory"); }
    if (s->n == 3) { /* the BiasAdd before the batch norm */
        const Tensor *bias = edit_known(g, g->nodes[s->nodes[1]]->inputs[1]);
        for (int64_t k = 0; k < c; k++) b[k] = ((const float *)tensor_data(bias))[k];
    }
    const Node *bn = g->nodes[s->nodes[s->n - 1]];
    double eps = node_attr_f(bn, "epsilon", 1e-4f);
    const float *scale = tensor_data(edit_known(g, bn->inputs[1])), *offset = tensor_data(edit_known(g, bn->inputs[2]));
    const float *mean = tensor_data(edit_known(g, bn->inputs[3])), *var = tensor_data(edit_known(g, bn->inputs[4]));
    /* y = (x - mean) * s + offset with s = scale / sqrt(var + eps), x = conv + bias */
    for (int64_t k = 0; k < c; k++) {
        double sk = (double)scale[k] / sqrt((double)var[k] + eps);
        a[k] = sk;
        b[k] = (b[k] - mean[k]) * sk + offset[k];
    }
    int rc = fold_linear_emit(g, &L, a, b, s->nodes[s->n - 1], err);
    free(a);
    free(b);
    return rc;
}

const RuleDef fold_batchnorm = {
    .name = "fold_batchnorm",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Conv2D/DepthwiseConv2dNative (const filter) [-> BiasAdd] -> inference FusedBatchNorm* => conv with scaled "
           "filter -> BiasAdd (keeps the batch norm's name)",
    .find = find_batchnorm,
    .apply = apply_batchnorm,
};

const RuleDef fold_affine = {
    .name = "fold_affine",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Conv2D/DepthwiseConv2dNative/MatMul (const filter) -> BiasAdd/Add/Sub/Mul/RealDiv by constant per-channel "
           "vectors or scalars => scaled filter [-> one BiasAdd]",
    .find = find_affine,
    .apply = apply_chain,
};

const RuleDef fold_scalar_mul = {
    .name = "fold_scalar_mul",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Conv2D/DepthwiseConv2dNative/MatMul (const filter) [-> BiasAdd] -> Mul/RealDiv by a scalar constant => "
           "scaled filter (and bias); the scalar case of fold_affine",
    .find = find_scalar,
    .apply = apply_chain,
};

const RuleDef fold_conv_affine = {
    .name = "fold_conv_affine",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Conv2D/DepthwiseConv2dNative (const filter) -> BiasAdd/Add/Sub/Mul/RealDiv by constant per-channel "
           "vectors or scalars (a frozen batch norm's Mul + Add) => scaled filter [-> one BiasAdd]; fold_affine "
           "without MatMul, in the grappler pipelines",
    .find = find_conv_affine,
    .apply = apply_chain,
};
