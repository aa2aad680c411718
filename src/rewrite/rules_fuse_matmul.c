/* rules_fuse_matmul.c - fuse_matmul_bias_act, as Grappler's remapper writes it:
 *   MatMul -> BiasAdd (or Add of a constant [N] / [1,N]) [-> activation]  =>  _FusedMatMul
 *   fused_ops [BiasAdd(, act)], num_args 1, transpose_a/transpose_b copied.
 * Activations: Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh and the GELU subgraphs (erf form ->
 * GeluExact, tanh form -> GeluApproximate; rules_fuse_common.c), as far as TF's kernels accept
 * them (fuse_tf_allows). float32 only. The fused node takes the last absorbed node's name. */
#include <stdio.h>

#include "calibrate.h"
#include "edit.h"
#include "fold_util.h"
#include "rules_fuse_common.h"

/* a MatMul grappo can fuse: float32 in and out, 2-D */
static bool matmul_host(const Graph *g, const Node *n) {
    if (n->op != OP_MATMUL || n->n_inputs != 2 || n->n_outputs < 1 || n->outputs[0].shape.rank != 2) return false;
    return fuse_is_f32(g, n->inputs[0]) && fuse_is_f32(g, n->inputs[1]) && n->outputs[0].dtype == DT_FLOAT;
}

static int find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        int b;
        if (!matmul_host(g, g->nodes[i]) || !fuse_match_bias(g, u, (ValueRef){i, 0}, &b)) continue;
        Site s = {.n = 2, .nodes = {i, b}, .param = NN_ACT_NONE};
        FuseActMatch m;
        bool ta = node_attr_b(g->nodes[i], "transpose_a", false);
        if (fuse_match_act(g, u, (ValueRef){b, 0}, FUSE_MATMUL, FUSE_BASE_BIAS, ta, &m)) fuse_site_add_act(&s, &m);
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply(Graph *g, const Site *s, Err *err) {
    if (s->n < 2 || !matmul_host(g, g->nodes[s->nodes[0]]))
        return err_set(err, ERR_RUNTIME, "site is not a MatMul followed by a bias");
    ValueRef bias;
    if (fuse_bias_input(g, s->nodes[1], (ValueRef){s->nodes[0], 0}, &bias, err)) return -1;
    const Node *mm = g->nodes[s->nodes[0]];
    int last = s->nodes[s->n - 1];
    NnAct act = s->n > 2 ? (NnAct)s->param : NN_ACT_NONE;
    ValueRef in[3] = {mm->inputs[0], mm->inputs[1], bias};
    int f = fuse_add_node(g, FUSE_MATMUL, mm, in, 3, last, err);
    if (f < 0) return -1;
    Node *fn = g->nodes[f];
    if (fuse_contraction_attrs(fn, FUSE_MATMUL, mm, err) ||
        fuse_set_epilogue(fn, FUSE_BASE_BIAS, act, act == NN_ACT_LEAKY_RELU ? g->nodes[last] : NULL, 1, 0.0f, false,
                          err))
        return -1;
    return fuse_finish(g, f, last, s, err);
}

const RuleDef fuse_matmul_bias_act = {
    "fuse_matmul_bias_act", "fuse", RULE_EXACT | RULE_TF,
    "MatMul + BiasAdd (or Add of a constant vector) (+ activation, GELU erf/tanh forms) -> _FusedMatMul [BiasAdd(, act)]",
    find, apply,
};

/* ---- fuse_batch_matmul_bias_act ----
 * Keras' Dense on a [B, S, K] input (BERT's projections and feed-forward layers) is written
 *   BatchMatMulV2(x [.., K], W [K, N] const) -> AddV2(bias [N]) [-> activation]
 * which fuse_matmul_bias_act (2-D MatMul only, as TF's _FusedMatMul) does not see. This rule
 * writes it as
 *   Reshape(_FusedMatMul(Reshape(x, [-1, K]), W, bias) [BiasAdd(, act)], [.., N])
 * (the Reshapes are views in grappo's runtime; stock TensorFlow runs all three ops), so the
 * bias and the activation (GELU included, as fuse_match_act finds it: the erf/tanh subgraphs
 * or fuse_gelu's GrappoGelu) become oneDNN post-ops, and the int8 rules, which quantize
 * MatMul/_FusedMatMul with Const weights, reach these layers. adj_y becomes transpose_b;
 * adj_x is declined. Inference gives dynamic dims (a batch of -1) a size, so the output
 * Reshape writes -1 for the leading dims of x that change with a dynamic input dim
 * (fold_util.h's FoldStatic); x with more than one is declined. */

static bool bmm_weight(const Graph *g, const Node *n, int64_t *k, int64_t *cols) {
    const Tensor *w = edit_known(g, n->inputs[1]);
    if (!w || w->dtype != DT_FLOAT || w->shape.rank != 2) return false;
    bool adj_y = node_attr_b(n, "adj_y", false);
    *k = w->shape.dim[adj_y ? 1 : 0];
    *cols = w->shape.dim[adj_y ? 0 : 1];
    return true;
}

/* a BatchMatMul(V2) of a float32 rank >= 3 x (at most one unknown leading dim, known K) by a
   constant float32 2-D weight, without adj_x */
static bool bmm_host(const Graph *g, const Node *n) {
    if ((n->op != OP_BATCH_MATMUL_V2 && n->op != OP_BATCH_MATMUL) || n->n_inputs != 2 || n->n_outputs < 1) return false;
    if (node_attr_b(n, "adj_x", false) || !fuse_is_f32(g, n->inputs[0]) || n->outputs[0].dtype != DT_FLOAT) return false;
    const Shape *xs = &graph_value(g, n->inputs[0])->shape;
    int64_t k, cols;
    if (xs->rank < 3 || n->outputs[0].shape.rank != xs->rank || !bmm_weight(g, n, &k, &cols)) return false;
    if (xs->dim[xs->rank - 1] != k || k <= 0 || n->outputs[0].shape.dim[xs->rank - 1] != cols) return false;
    int unknown = 0;
    for (int a = 0; a < xs->rank - 1; a++) unknown += xs->dim[a] < 0;
    return unknown <= 1;
}

/* the output Reshape's target: x's leading dims (-1 for the one that follows a dynamic input
   dim), then cols; false when more than one leading dim is dynamic or that cannot be told */
static bool bmm_out_dims(const Graph *g, FoldStatic *fs, const Node *n, int64_t cols, int64_t *dims) {
    const Shape *xs = &graph_value(g, n->inputs[0])->shape;
    bool dyn[MAX_RANK] = {false};
    if (!fold_static_dims(fs, n->inputs[0], dyn)) return false;
    int n_dyn = 0;
    for (int a = 0; a < xs->rank - 1; a++) {
        bool d = dyn[a] || xs->dim[a] < 0;
        n_dyn += d;
        dims[a] = d ? -1 : xs->dim[a];
    }
    dims[xs->rank - 1] = cols;
    return n_dyn <= 1;
}

static int find_bmm(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    FoldStatic fs;
    if (fold_static_init(&fs, g, err)) return -1;
    int rc = 0;
    for (int i = 0; i < g->n_nodes && !rc; i++) {
        int b;
        int64_t k, cols, dims[MAX_RANK];
        if (!bmm_host(g, g->nodes[i]) || !fuse_match_bias(g, u, (ValueRef){i, 0}, &b)) continue;
        bmm_weight(g, g->nodes[i], &k, &cols);
        if (!bmm_out_dims(g, &fs, g->nodes[i], cols, dims)) continue;
        Site s = {.n = 2, .nodes = {i, b}, .param = NN_ACT_NONE};
        FuseActMatch m;
        if (fuse_match_act(g, u, (ValueRef){b, 0}, FUSE_MATMUL, FUSE_BASE_BIAS, false, &m)) fuse_site_add_act(&s, &m);
        rc = sitelist_push(out, &s, err);
    }
    fold_static_free(&fs);
    return rc;
}

/* Reshape(*x, dims[0..rank)) named after base; *x becomes its output */
static int add_reshape(Graph *g, const char *base, ValueRef *x, const int64_t *dims, int rank, Err *err) {
    Tensor t;
    Shape sh = shape_make(1, (int64_t[]){rank});
    if (tensor_alloc(&t, DT_INT32, &sh, err)) return -1;
    int32_t *p = tensor_mut(&t);
    for (int i = 0; i < rank; i++) p[i] = (int32_t)dims[i];
    char name[1100];
    snprintf(name, sizeof name, "%s/shape", base);
    int c = edit_add_const(g, name, &t, err);
    tensor_release(&t);
    if (c < 0) return -1;
    ValueRef in[2] = {*x, {c, 0}};
    int r = edit_add_node(g, base, "Reshape", in, 2, err);
    if (r < 0 || node_set_attr_type(g->nodes[r], "T", DT_FLOAT, err) ||
        node_set_attr_type(g->nodes[r], "Tshape", DT_INT32, err))
        return -1;
    *x = (ValueRef){r, 0};
    return 0;
}

static int apply_bmm(Graph *g, const Site *s, Err *err) {
    if (s->n < 2 || !bmm_host(g, g->nodes[s->nodes[0]]))
        return err_set(err, ERR_RUNTIME, "site is not a BatchMatMul by a constant 2-D weight followed by a bias");
    ValueRef bias;
    if (fuse_bias_input(g, s->nodes[1], (ValueRef){s->nodes[0], 0}, &bias, err)) return -1;
    const Node *mm = g->nodes[s->nodes[0]];
    int last = s->nodes[s->n - 1];
    NnAct act = s->n > 2 ? (NnAct)s->param : NN_ACT_NONE;
    int rank = graph_value(g, mm->inputs[0])->shape.rank;
    int64_t k, cols, out_dims[MAX_RANK];
    bmm_weight(g, mm, &k, &cols);
    FoldStatic fs;
    if (fold_static_init(&fs, g, err)) return -1;
    bool dims_ok = bmm_out_dims(g, &fs, mm, cols, out_dims);
    fold_static_free(&fs);
    if (!dims_ok) return err_set(err, ERR_RUNTIME, "fuse_batch_matmul_bias_act: the output shape is no longer static");
    bool adj_y = node_attr_b(mm, "adj_y", false);
    char base[1100];
    snprintf(base, sizeof base, "%s/flat", g->nodes[last]->name);
    ValueRef x = mm->inputs[0], w = mm->inputs[1];
    float lo, hi;
    bool calibrated = calib_range(g, x, &lo, &hi);
    if (add_reshape(g, base, &x, (int64_t[]){-1, k}, 2, err)) return -1;
    /* the flattened input holds x's values: it keeps x's calibrated range for the int8 rules */
    if (calibrated && calib_set_range(g, x, lo, hi, err)) return -1;
    mm = g->nodes[s->nodes[0]];
    ValueRef in[3] = {x, w, bias};
    int f = fuse_add_node(g, FUSE_MATMUL, mm, in, 3, last, err);
    if (f < 0) return -1;
    Node *fn = g->nodes[f];
    if (fuse_contraction_attrs(fn, FUSE_MATMUL, g->nodes[s->nodes[0]], err) ||
        node_set_attr_b(fn, "transpose_b", adj_y, err) ||
        fuse_set_epilogue(fn, FUSE_BASE_BIAS, act, act == NN_ACT_LEAKY_RELU ? g->nodes[last] : NULL, 1, 0.0f, false,
                          err))
        return -1;
    ValueRef y = {f, 0};
    snprintf(base, sizeof base, "%s/unflat", g->nodes[last]->name);
    bool last_calibrated = calib_range(g, (ValueRef){last, 0}, &lo, &hi);
    if (add_reshape(g, base, &y, out_dims, rank, err)) return -1;
    if (last_calibrated && calib_set_range(g, y, lo, hi, err)) return -1; /* the same values as last's */
    return fuse_finish(g, y.node, last, s, err);
}

const RuleDef fuse_batch_matmul_bias_act = {
    "fuse_batch_matmul_bias_act", "fuse", RULE_EXACT | RULE_TF,
    "BatchMatMulV2 of a [.., K] input by a Const [K, N] weight + Add of a constant [N] (+ activation) -> "
    "Reshape -> _FusedMatMul [BiasAdd(, act)] -> Reshape",
    find_bmm, apply_bmm,
};
