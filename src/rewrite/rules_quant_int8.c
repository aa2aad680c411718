/* rules_quant_int8.c - int8 compute: convolutions and matmuls with constant float weights whose
 * input has a calibrated range become GrappoQuantize -> GrappoQConv2D / GrappoQMatMul
 * (docs/ops.md). Weights are symmetric per output channel; the activation is uint8 with the
 * scale and zero point of its calibrated range (rules_quant.h: quant_act_params).
 *
 * Two variants per op, chosen explicitly (never by probing the CPU, so a rewrite is the same on
 * every machine):
 *   *_int8  8-bit weights in [-127, 127]: best accuracy; oneDNN's fast kernel needs VNNI for
 *           dense convolutions / matmuls with such weights (elsewhere it falls back).
 *   *_int7  7-bit weights in [-63, 63] for dense convolutions and matmuls: every pair of
 *           adjacent products fits oneDNN's int16 pair sums on CPUs without VNNI (dnn_quant.c
 *           pairs_safe), so the fast kernel runs on any x86 CPU. Depthwise convolutions keep
 *           8-bit weights in both variants: their kernels widen to 32 bits before multiplying.
 *
 * The quantized node takes the float node's name (users fetch by name) and its calibration
 * attributes; a fused Relu/Relu6 (GeluExact for matmuls) and a conv's residual Add stay fused;
 * bias stays float; a fused inference batch norm (constant statistics) is folded into the
 * weights and bias first. What the int8 ops cannot fuse - a matmul's residual Add, activations
 * such as Tanh, Sigmoid, Elu, LeakyRelu - follows as stock ops (AddV2, Tanh, ...), the last of
 * which then carries the name.
 *
 * A conv whose input has calibrated per-channel ranges with outlier channels (one channel
 * spanning many times the others) gets a per-channel Mul before its GrappoQuantize and the
 * compensating scale on the filter's input channels (plan_equalize below). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

/* ---- shared checks ---- */

/* Activations the int8 ops apply themselves (docs/ops.md) */
static bool native_act(FusedHost host, NnAct act) {
    return act == NN_ACT_NONE || act == NN_ACT_RELU || act == NN_ACT_RELU6 || (host == FUSED_HOST_MATMUL && act == NN_ACT_GELU_EXACT);
}

/* The stock TF op that applies `act` after the int8 node when the node cannot, or NULL */
static const char *tail_act_op(NnAct act) {
    switch (act) {
    case NN_ACT_RELU: return "Relu";
    case NN_ACT_RELU6: return "Relu6";
    case NN_ACT_ELU: return "Elu";
    case NN_ACT_LEAKY_RELU: return "LeakyRelu";
    case NN_ACT_SIGMOID: return "Sigmoid";
    case NN_ACT_TANH: return "Tanh";
    default: return NULL;
    }
}

/* The fused epilogue of n when the rewrite can express it: [BiasAdd] (+ Add when allow_add) or,
   for convolutions, [FusedBatchNorm] with constant statistics (folded at rewrite time); then an
   activation the int8 op applies itself or one of tail_act_op's. A plain Conv2D / MatMul has no
   epilogue (*has_spec false). */
static bool epilogue_ok(const Graph *g, const Node *n, FusedHost host, bool allow_add, FusedSpec *spec, bool *has_spec) {
    *has_spec = quant_is_fused(n);
    if (!*has_spec) return true;
    if (nn_fused_spec(n, host, spec, NULL)) return false;
    if (spec->add && !allow_add) return false;
    if (!native_act(host, spec->act) && !tail_act_op(spec->act)) return false;
    const Value *out = &n->outputs[0];
    int64_t c = out->shape.dim[out->shape.rank - 1];
    if (spec->batchnorm) {
        /* folded into the weights and a bias at rewrite time: the statistics must be constants */
        if (spec->add) return false;
        for (int k = 0; k < 4; k++) {
            const Tensor *t = edit_known(g, n->inputs[spec->arg_bn + k]);
            if (!t || t->dtype != DT_FLOAT || tensor_numel(t) != c) return false;
        }
        const float *var = tensor_data(edit_known(g, n->inputs[spec->arg_bn + 3]));
        for (int64_t k = 0; k < c; k++)
            if (!((double)var[k] + spec->epsilon > 0)) return false;
        return true;
    }
    if (!spec->bias) return false;
    if (!quant_is_f32(g, n->inputs[spec->arg_bias], 1) || node_input_value(g, n, spec->arg_bias)->shape.dim[0] != c)
        return false;
    if (spec->add && (!quant_is_f32(g, n->inputs[spec->arg_add], -1) ||
                      !shape_equal(&node_input_value(g, n, spec->arg_add)->shape, &out->shape)))
        return false;
    return true;
}

/* How the float epilogue maps onto the int8 node: what it fuses, and what follows it as stock
   ops. A matmul's residual Add follows as AddV2 (and then any activation too, which applies
   after the Add; int8_fuse_add, rules_quant_fuse.c, then moves the Add and a Relu/Relu6 into
   the GrappoQMatMul); an activation the node lacks follows as its TF op. */
typedef struct Tail {
    bool fuse_add, fuse_act; /* in the int8 node's fused_ops */
    bool add_op;             /* AddV2(y, addend) after it */
    const char *act_op;      /* then this activation op, or NULL */
} Tail;

static Tail plan_tail(FusedHost host, const FusedSpec *spec, bool has_spec) {
    Tail t = {0};
    if (!has_spec) return t;
    t.fuse_add = spec->add && host == FUSED_HOST_CONV;
    t.add_op = spec->add && host == FUSED_HOST_MATMUL;
    t.fuse_act = spec->act != NN_ACT_NONE && native_act(host, spec->act) && !t.add_op;
    if (spec->act != NN_ACT_NONE && !t.fuse_act) t.act_op = tail_act_op(spec->act);
    return t;
}

/* fused_ops of the quantized node: BiasAdd (always: a plain op gets a zero bias), then Add,
   then the activation */
static int set_fused_ops(Node *q, const FusedSpec *spec, const Tail *t, Err *err) {
    const char *ops[3];
    int n = 0;
    ops[n++] = "BiasAdd";
    if (t->fuse_add) ops[n++] = "Add";
    if (t->fuse_act) ops[n++] = nn_act_name(spec->act);
    return node_set_attr_list_s(q, "fused_ops", ops, n, err);
}

/* Appends the stock ops of t after the int8 node q (names "<base>/add", "<base>/act"); returns
   the node producing the final value, or -1. */
static int emit_tail(Graph *g, const char *base, int q, ValueRef addend, const FusedSpec *spec, const Tail *t, Err *err) {
    char name[1100];
    int last = q;
    if (t->add_op) {
        snprintf(name, sizeof name, "%s/add", base);
        last = edit_add_node(g, name, "AddV2", (ValueRef[]){{last, 0}, addend}, 2, err);
        if (last < 0 || node_set_attr_type(g->nodes[last], "T", DT_FLOAT, err)) return -1;
    }
    if (t->act_op) {
        snprintf(name, sizeof name, "%s/act", base);
        last = edit_add_node(g, name, t->act_op, (ValueRef[]){{last, 0}}, 1, err);
        if (last < 0 || node_set_attr_type(g->nodes[last], "T", DT_FLOAT, err)) return -1;
        if (spec->act == NN_ACT_LEAKY_RELU && node_set_attr_f(g->nodes[last], "alpha", spec->leakyrelu_alpha, err)) return -1;
    }
    return last;
}

/* a Const of zeros [channels] named after base */
static int add_zero_bias(Graph *g, const char *base, int64_t channels, Err *err) {
    Tensor t;
    Shape s = shape_make(1, &channels);
    if (tensor_alloc(&t, DT_FLOAT, &s, err)) return -1;
    int c = edit_add_const(g, base, &t, err);
    tensor_release(&t);
    return c;
}

/* ---- quantize_conv_int8 / quantize_conv_int7 ---- */

/* A fused batch norm (inference) is per-channel affine: y = conv(x, w) * a + b with
   a = scale / sqrt(variance + epsilon), b = offset - mean * a. Folds a into the float weights
   (output channel of element i: i % cout) and returns b as the bias, computed in double and
   rounded once; the quantized node then has a plain BiasAdd epilogue. */
static int fold_batchnorm(const Graph *g, const Node *n, const FusedSpec *spec, const Tensor *w, int64_t cout, Tensor *wf,
                          Tensor *bias, Err *err) {
    const float *sc = tensor_data(edit_known(g, n->inputs[spec->arg_bn]));
    const float *off = tensor_data(edit_known(g, n->inputs[spec->arg_bn + 1]));
    const float *mean = tensor_data(edit_known(g, n->inputs[spec->arg_bn + 2]));
    const float *var = tensor_data(edit_known(g, n->inputs[spec->arg_bn + 3]));
    Shape bs = shape_make(1, &cout);
    if (tensor_alloc(wf, DT_FLOAT, &w->shape, err)) return -1;
    if (tensor_alloc(bias, DT_FLOAT, &bs, err)) { tensor_release(wf); return -1; }
    const float *x = tensor_data(w);
    float *y = tensor_mut(wf), *b = tensor_mut(bias);
    for (int64_t i = 0, n_el = tensor_numel(w); i < n_el; i++) {
        int64_t o = i % cout;
        y[i] = (float)((double)x[i] * ((double)sc[o] / sqrt((double)var[o] + spec->epsilon)));
    }
    for (int64_t o = 0; o < cout; o++) {
        double a = (double)sc[o] / sqrt((double)var[o] + spec->epsilon);
        b[o] = (float)((double)off[o] - (double)mean[o] * a);
    }
    return 0;
}

/* ---- channel equalization of a conv's input (outlier channels) ----

   One activation scale for the whole input wastes the 8 bits when a few channels span far
   more than the rest (a depthwise output of -500 in one channel beside +-10 in the others
   leaves the others about 5 levels). When the calibrated per-channel ranges (calibrate.h,
   CALIB_ATTR_CHMIN/CHMAX) show such outliers, the input is multiplied per channel by
   k_c = 1 / s_c <= 1 (a stock Mul before the GrappoQuantize) and the filter's input channel c
   by s_c: the same convolution in exact arithmetic, with the outliers shrunk. */

/* an outlier channel spans more than EQ_OUTLIER_RATIO medians; it is shrunk to EQ_TARGET_MEDIANS */
#define EQ_OUTLIER_RATIO 8.0
#define EQ_TARGET_MEDIANS 4.0

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The factors k (input channels of the filter w: dim 2, HWIO / depthwise [KH, KW, C, M]) and the
   equalized input range [*lo, *hi] (within the tensor's calibrated one) when the input's channels
   have outliers; false (nothing to do) otherwise. a_c = max(|lo_c|, |hi_c|), T = EQ_TARGET_MEDIANS *
   median(a); s_c = a_c / T for a_c > T, else 1. Depthwise: the per-channel weight scale absorbs s_c
   exactly. Dense: s_c is capped at max|w| / max|w[.., c, ..]| so a scaled input channel's weights
   stay within the filter's largest weight (an outlier channel's weights are usually small). Only
   when the equalized range is at most half the original. */
static bool plan_equalize(const Graph *g, ValueRef x, const Tensor *w, bool depthwise, float *k, float *lo, float *hi) {
    int64_t c_in = w->shape.dim[2], inner = w->shape.dim[3];
    const float *clo, *chi;
    if (c_in < 4 || !calib_channel_ranges(g, x, c_in, &clo, &chi)) return false;
    double *a = malloc((size_t)c_in * 2 * sizeof *a);
    if (!a) return false; /* no equalization: still a correct rewrite */
    double *sorted = a + c_in;
    for (int64_t c = 0; c < c_in; c++) sorted[c] = a[c] = fmax(fabs((double)clo[c]), fabs((double)chi[c]));
    qsort(sorted, (size_t)c_in, sizeof *sorted, cmp_double);
    double median = sorted[c_in / 2], widest = sorted[c_in - 1];
    bool plan = median > 0 && widest > EQ_OUTLIER_RATIO * median;
    double t = EQ_TARGET_MEDIANS * median, wmax = 0;
    /* max |w| of each input channel into sorted[] (reused), and of the whole filter */
    const float *wd = tensor_data(w);
    for (int64_t c = 0; plan && c < c_in; c++) sorted[c] = 0;
    for (int64_t i = 0, n_el = plan ? tensor_numel(w) : 0; i < n_el; i++) {
        int64_t c = (i / inner) % c_in;
        double v = fabs((double)wd[i]);
        if (v > sorted[c]) sorted[c] = v;
        if (v > wmax) wmax = v;
    }
    double new_lo = 0, new_hi = 0;
    for (int64_t c = 0; plan && c < c_in; c++) {
        double sc = a[c] > t ? a[c] / t : 1;
        if (!depthwise && sorted[c] > 0 && sc > wmax / sorted[c]) sc = fmax(1, wmax / sorted[c]);
        k[c] = (float)(1.0 / sc);
        new_lo = fmin(new_lo, (double)clo[c] * k[c]);
        new_hi = fmax(new_hi, (double)chi[c] * k[c]);
    }
    free(a);
    if (!plan) return false;
    new_lo = fmax(new_lo, *lo);
    new_hi = fmin(new_hi, *hi);
    if (!(new_hi - new_lo <= 0.5 * ((double)*hi - *lo))) return false;
    *lo = (float)new_lo;
    *hi = (float)new_hi;
    return true;
}

/* w with input channel c multiplied by 1 / k[c] (dim 2), computed in double, rounded once */
static int scale_input_channels(const Tensor *w, const float *k, Tensor *out, Err *err) {
    if (tensor_alloc(out, DT_FLOAT, &w->shape, err)) return -1;
    int64_t c_in = w->shape.dim[2], inner = w->shape.dim[3];
    const float *x = tensor_data(w);
    float *y = tensor_mut(out);
    for (int64_t i = 0, n_el = tensor_numel(w); i < n_el; i++) y[i] = (float)((double)x[i] / (double)k[(i / inner) % c_in]);
    return 0;
}

/* Mul(x, k) before the quantization, k a Const [C] named after base; returns the Mul or -1 */
static int add_equalize(Graph *g, const char *base, ValueRef x, const float *k, int64_t channels, Err *err) {
    Tensor t;
    Shape s = shape_make(1, &channels);
    if (tensor_alloc(&t, DT_FLOAT, &s, err)) return -1;
    memcpy(tensor_mut(&t), k, (size_t)channels * sizeof *k);
    char name[1100];
    snprintf(name, sizeof name, "%s/equalize_factors", base);
    int kc = edit_add_const(g, name, &t, err);
    tensor_release(&t);
    if (kc < 0) return -1;
    snprintf(name, sizeof name, "%s/equalize", base);
    int m = edit_add_node(g, name, "Mul", (ValueRef[]){x, {kc, 0}}, 2, err);
    if (m < 0 || node_set_attr_type(g->nodes[m], "T", DT_FLOAT, err)) return -1;
    return m;
}

static bool conv_site(const Graph *g, const GraphUses *u, int i) {
    const Node *n = g->nodes[i];
    bool depthwise, nchw;
    if (!quant_is_conv(n, &depthwise) || n->n_inputs < 2 || n->n_outputs != 1 || !quant_node_f32(g, n)) return false;
    if (!quant_is_f32(g, (ValueRef){i, 0}, 4)) return false;
    if (nn_data_format(n, &nchw, NULL) || nchw) return false;
    if (fold_has_ctrl_readers(g, u, i)) return false; /* the float node dies */
    const Tensor *w = quant_const_f32(g, n->inputs[1]);
    if (!quant_is_f32(g, n->inputs[0], 4) || !w || w->shape.rank != 4) return false;
    ConvGeom geo;
    if (nn_conv_geom(n, depthwise, &node_input_value(g, n, 0)->shape, &w->shape, &geo, NULL)) return false;
    if (!depthwise && geo.groups != 1) return false; /* GrappoQConv2D has no grouped form */
    FusedSpec spec;
    bool has_spec;
    if (!epilogue_ok(g, n, FUSED_HOST_CONV, !depthwise, &spec, &has_spec)) return false;
    float lo, hi;
    return calib_range(g, n->inputs[0], &lo, &hi);
}

static int find_conv(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (!conv_site(g, u, i)) continue;
        Site s = {.n = 1, .nodes = {i}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_conv(Graph *g, const Site *s, int qmax_dense, Err *err) {
    int c = s->nodes[0];
    const Node *n = g->nodes[c];
    bool depthwise;
    quant_is_conv(n, &depthwise);
    FusedSpec spec = {0};
    bool has_spec = quant_is_fused(n);
    if (has_spec && nn_fused_spec(n, FUSED_HOST_CONV, &spec, err)) return -1;
    float lo, hi, x_scale;
    int32_t x_zp;
    if (!calib_range(g, n->inputs[0], &lo, &hi)) return err_set(err, ERR_RUNTIME, "input has no calibration range");

    /* weights: HWIO (depthwise [KH, KW, C, M], output channel c*M+m): the output channel of
       element i is i % Cout either way */
    const Tensor *w = edit_known(g, n->inputs[1]);
    int64_t cout = depthwise ? w->shape.dim[2] * w->shape.dim[3] : w->shape.dim[3], c_in = w->shape.dim[2];
    float *scales = malloc((size_t)(cout + c_in) * sizeof *scales);
    if (!scales) return err_set(err, ERR_RUNTIME, "out of memory");
    float *eq = scales + cout;
    bool equalize = plan_equalize(g, n->inputs[0], w, depthwise, eq, &lo, &hi);
    quant_act_params(lo, hi, &x_scale, &x_zp);
    Tensor wq = {0}, folded = {0}, bn_bias = {0}, equalized = {0};
    int rc = -1;
    if (has_spec && spec.batchnorm && fold_batchnorm(g, n, &spec, w, cout, &folded, &bn_bias, err)) goto done;
    if (equalize && scale_input_channels(folded.buf ? &folded : w, eq, &equalized, err)) goto done;
    if (quant_weights(equalized.buf ? &equalized : folded.buf ? &folded : w, cout, 1, depthwise ? 127 : qmax_dense, &wq,
                      scales, err))
        goto done;

    char base[1100];
    snprintf(base, sizeof base, "%s/filter_int8", n->name);
    int wc = edit_add_const(g, base, &wq, err);
    ValueRef x = g->nodes[c]->inputs[0];
    if (wc >= 0 && equalize) x = (ValueRef){add_equalize(g, g->nodes[c]->name, x, eq, c_in, err), 0};
    snprintf(base, sizeof base, "%s/quantize", g->nodes[c]->name);
    int q = wc < 0 || x.node < 0 ? -1 : quant_add_quantize(g, base, x, x_scale, x_zp, err);
    snprintf(base, sizeof base, "%s/bias", g->nodes[c]->name);
    ValueRef bias = {-1, 0};
    if (q >= 0) {
        if (bn_bias.buf) bias.node = edit_add_const(g, base, &bn_bias, err);
        else if (has_spec) bias = g->nodes[c]->inputs[spec.arg_bias];
        else bias.node = add_zero_bias(g, base, cout, err);
    }
    if (q < 0 || bias.node < 0) goto done;
    Tail t = plan_tail(FUSED_HOST_CONV, &spec, has_spec);
    ValueRef in[4] = {{q, 0}, {wc, 0}, bias, {0, 0}};
    int n_in = 3;
    if (t.fuse_add) in[n_in++] = g->nodes[c]->inputs[spec.arg_add];
    snprintf(base, sizeof base, "%s/int8", g->nodes[c]->name);
    int qc = edit_add_node(g, base, "GrappoQConv2D", in, n_in, err);
    if (qc < 0) goto done;
    n = g->nodes[c];
    Node *qn = g->nodes[qc];
    static const char *const window[] = {"strides", "padding", "explicit_paddings", "dilations"};
    for (int k = 0; k < 4; k++)
        if (edit_copy_attr(qn, n, window[k], err)) goto done;
    if (node_set_attr_s(qn, "data_format", "NHWC", err) || node_set_attr_b(qn, "depthwise", depthwise, err) ||
        node_set_attr_f(qn, "x_scale", x_scale, err) || node_set_attr_i(qn, "x_zero_point", x_zp, err) ||
        node_set_attr_list_f(qn, "filter_scales", scales, (int)cout, err) || set_fused_ops(qn, &spec, &t, err) ||
        node_set_attr_type(qn, "out_type", DT_FLOAT, err))
        goto done;
    int last = emit_tail(g, g->nodes[c]->name, qc, (ValueRef){0, 0}, &spec, &t, err);
    if (last < 0 || quant_take_over(g, c, last, err) || edit_replace_uses(g, (ValueRef){c, 0}, (ValueRef){last, 0}, err))
        goto done;
    rc = 0;
done:
    free(scales);
    tensor_release(&wq);
    tensor_release(&folded);
    tensor_release(&bn_bias);
    tensor_release(&equalized);
    return rc;
}

static int apply_conv_int8(Graph *g, const Site *s, Err *err) { return apply_conv(g, s, 127, err); }
static int apply_conv_int7(Graph *g, const Site *s, Err *err) { return apply_conv(g, s, 63, err); }

const RuleDef quantize_conv_int8 = {
    .name = "quantize_conv_int8",
    .family = "quantize",
    .flags = RULE_PRECISION,
    .doc = "Conv2D/_FusedConv2D([BiasAdd[,Add]|FusedBatchNorm][,act])/depthwise, NHWC, Const filter, calibrated "
           "input => "
           "GrappoQuantize(u8) -> GrappoQConv2D (8-bit per-channel weights, batch norm folded, float bias and output; "
           "acts other than Relu/Relu6 as stock ops after it; an input with outlier channels equalized by a Mul "
           "before the quantize, the filter compensating): changes numerics",
    .find = find_conv,
    .apply = apply_conv_int8,
};

const RuleDef quantize_conv_int7 = {
    .name = "quantize_conv_int7",
    .family = "quantize",
    .flags = RULE_PRECISION,
    .doc = "as quantize_conv_int8 with 7-bit weights [-63, 63] for dense convs (depthwise stays 8-bit), so oneDNN's "
           "int8 kernel runs on CPUs without VNNI: changes numerics",
    .find = find_conv,
    .apply = apply_conv_int7,
};

/* ---- quantize_matmul_int8 / quantize_matmul_int7 ---- */

static bool matmul_site(const Graph *g, const GraphUses *u, int i) {
    const Node *n = g->nodes[i];
    if (!quant_is_matmul(n) || n->n_inputs < 2 || n->n_outputs != 1 || !quant_node_f32(g, n)) return false;
    if (!quant_is_f32(g, (ValueRef){i, 0}, 2)) return false;
    if (node_attr_b(n, "transpose_a", false) || fold_has_ctrl_readers(g, u, i)) return false;
    const Tensor *w = quant_const_f32(g, n->inputs[1]);
    if (!quant_is_f32(g, n->inputs[0], 2) || !w || w->shape.rank != 2) return false;
    bool tb = node_attr_b(n, "transpose_b", false);
    if (node_input_value(g, n, 0)->shape.dim[1] != w->shape.dim[tb ? 1 : 0]) return false;
    FusedSpec spec;
    bool has_spec;
    if (!epilogue_ok(g, n, FUSED_HOST_MATMUL, true, &spec, &has_spec)) return false;
    float lo, hi;
    return calib_range(g, n->inputs[0], &lo, &hi);
}

static int find_matmul(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (!matmul_site(g, u, i)) continue;
        Site s = {.n = 1, .nodes = {i}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_matmul(Graph *g, const Site *s, int qmax, Err *err) {
    int m = s->nodes[0];
    const Node *n = g->nodes[m];
    FusedSpec spec = {0};
    bool has_spec = quant_is_fused(n);
    if (has_spec && nn_fused_spec(n, FUSED_HOST_MATMUL, &spec, err)) return -1;
    float lo, hi, x_scale;
    int32_t x_zp;
    if (!calib_range(g, n->inputs[0], &lo, &hi)) return err_set(err, ERR_RUNTIME, "input has no calibration range");
    quant_act_params(lo, hi, &x_scale, &x_zp);
    bool tb = node_attr_b(n, "transpose_b", false);
    const Tensor *w = edit_known(g, n->inputs[1]);
    /* [K, N]: column n is channel i % N; transpose_b [N, K]: row n is channel i / K */
    int64_t cols = tb ? w->shape.dim[0] : w->shape.dim[1], inner = tb ? w->shape.dim[1] : 1;
    float *scales = malloc((size_t)(cols > 0 ? cols : 1) * sizeof *scales);
    if (!scales) return err_set(err, ERR_RUNTIME, "out of memory");
    Tensor wq;
    if (quant_weights(w, cols, inner > 0 ? inner : 1, qmax, &wq, scales, err)) { free(scales); return -1; }

    char base[1100];
    int rc = -1;
    snprintf(base, sizeof base, "%s/weights_int8", n->name);
    int wc = edit_add_const(g, base, &wq, err);
    snprintf(base, sizeof base, "%s/quantize", n->name);
    int q = wc < 0 ? -1 : quant_add_quantize(g, base, g->nodes[m]->inputs[0], x_scale, x_zp, err);
    snprintf(base, sizeof base, "%s/bias", g->nodes[m]->name);
    ValueRef bias = has_spec ? g->nodes[m]->inputs[spec.arg_bias] : (ValueRef){q < 0 ? -1 : add_zero_bias(g, base, cols, err), 0};
    if (q < 0 || bias.node < 0) goto done;
    snprintf(base, sizeof base, "%s/int8", g->nodes[m]->name);
    int qm = edit_add_node(g, base, "GrappoQMatMul", (ValueRef[]){{q, 0}, {wc, 0}, bias}, 3, err);
    if (qm < 0) goto done;
    Node *qn = g->nodes[qm];
    Tail t = plan_tail(FUSED_HOST_MATMUL, &spec, has_spec);
    if (node_set_attr_f(qn, "x_scale", x_scale, err) || node_set_attr_i(qn, "x_zero_point", x_zp, err) ||
        node_set_attr_list_f(qn, "w_scales", scales, (int)cols, err) || node_set_attr_b(qn, "transpose_b", tb, err) ||
        set_fused_ops(qn, &spec, &t, err) || node_set_attr_type(qn, "out_type", DT_FLOAT, err))
        goto done;
    ValueRef addend = t.add_op ? g->nodes[m]->inputs[spec.arg_add] : (ValueRef){0, 0};
    int last = emit_tail(g, g->nodes[m]->name, qm, addend, &spec, &t, err);
    if (last < 0 || quant_take_over(g, m, last, err) || edit_replace_uses(g, (ValueRef){m, 0}, (ValueRef){last, 0}, err))
        goto done;
    rc = 0;
done:
    free(scales);
    tensor_release(&wq);
    return rc;
}

static int apply_matmul_int8(Graph *g, const Site *s, Err *err) { return apply_matmul(g, s, 127, err); }
static int apply_matmul_int7(Graph *g, const Site *s, Err *err) { return apply_matmul(g, s, 63, err); }

const RuleDef quantize_matmul_int8 = {
    .name = "quantize_matmul_int8",
    .family = "quantize",
    .flags = RULE_PRECISION,
    .doc = "MatMul/_FusedMatMul([BiasAdd[,Add]][,act]) with a Const [K,N] weight and calibrated input => "
           "GrappoQuantize(u8) -> GrappoQMatMul (8-bit per-column weights, float bias and output; Add and acts other "
           "than Relu/Relu6/GeluExact as stock ops after it): changes numerics",
    .find = find_matmul,
    .apply = apply_matmul_int8,
};

const RuleDef quantize_matmul_int7 = {
    .name = "quantize_matmul_int7",
    .family = "quantize",
    .flags = RULE_PRECISION,
    .doc = "as quantize_matmul_int8 with 7-bit weights [-63, 63], so oneDNN's int8 kernel runs on CPUs without VNNI: "
           "changes numerics",
    .find = find_matmul,
    .apply = apply_matmul_int7,
};
