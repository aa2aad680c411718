/* test_dnn_conv.c - the oneDNN convolution family (dnn_conv*.c) against the reference kernels:
 * geometry (1x1, 3x3, strides, SAME on odd and even sizes, VALID with a remainder, EXPLICIT
 * asymmetric padding, dilation, NCHW, groups, depthwise multipliers), every fused-op list
 * it maps (bias, folded batch norm, residual Add with and without the in-place buffer,
 * activations), bfloat16, Conv2DBackpropInput, the primitive cache, the cases it must
 * decline, windows past the input on tiny maps (never oneDNN's ref), 1x1 convolutions on tiny
 * maps on jit_1x1, a ResNet-50-sized layer
 * (checked, and timed for information), and the suite again under ONEDNN_MAX_CPU_ISA=AVX2. */
#include <time.h>
#include <unistd.h>

#include "testfast.h"
#include "testisa.h"
#include "report/stats.h"
#include "runtime/dnn_conv_internal.h"

#define PH(i) (1u << (i)) /* input i is a Placeholder (not known at compile time) */

/* ---- building one-node graphs ---- */

/* deterministic values in [-1, 1) (xorshift64), float32 */
static Tensor rnd(uint64_t seed, int rank, const int64_t *dims) {
    Shape s = shape_make(rank, dims);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    float *p = tensor_mut(&t);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (float)((double)(x >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
    }
    return t;
}

static Tensor rnd4(uint64_t seed, int64_t a, int64_t b, int64_t c, int64_t d) {
    return rnd(seed, 4, (int64_t[]){a, b, c, d});
}
static Tensor rnd1(uint64_t seed, int64_t a) { return rnd(seed, 1, (int64_t[]){a}); }

/* |values| + lo: batch-norm variances must be positive */
static Tensor positive(Tensor t, double lo) {
    float *p = tensor_mut(&t);
    for (int64_t i = 0; i < tensor_numel(&t); i++) p[i] = (float)(fabs(p[i]) + lo);
    return t;
}

/* the same values converted to dtype (bfloat16 rounds to nearest even) */
static Tensor convert(const Tensor *t, int dtype) {
    Tensor r;
    Err e;
    CHECK_OK(tensor_alloc(&r, dtype, &t->shape, &e), &e);
    tensor_mut(&r);
    for (int64_t i = 0; i < tensor_numel(t); i++) tensor_set(&r, i, tensor_get(t, i));
    return r;
}

/* op(in[0], in[1], ...): input i is a Placeholder when bit i of ph is set, else a Const */
static Graph *build(const char *op, const Tensor *in, int n_in, unsigned ph, int *node) {
    Err e;
    Graph *g = graph_new();
    assert_non_null(g);
    int o = graph_add_node(g, "op", op, &e);
    if (o < 0) { print_error("%s\n", e.msg); fail(); }
    for (int i = 0; i < n_in; i++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", i);
        bool is_ph = ph & PH(i);
        int c = graph_add_node(g, name, is_ph ? "Placeholder" : "Const", &e);
        if (c < 0) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(node_set_attr_type(g->nodes[c], "dtype", in[i].dtype, &e), &e);
        if (is_ph) CHECK_OK(node_set_attr_shape(g->nodes[c], "shape", &in[i].shape, &e), &e);
        else CHECK_OK(node_set_attr_tensor(g->nodes[c], "value", &in[i], &e), &e);
        CHECK_OK(node_add_input(g, o, (ValueRef){c, 0}, &e), &e);
    }
    int t_input = n_in > 2 && !strcmp(op, "Conv2DBackpropInput") ? 2 : 0; /* sizes are int32 */
    CHECK_OK(node_set_attr_type(g->nodes[o], "T", in[t_input].dtype, &e), &e);
    *node = o;
    return g;
}

static void set_s(Graph *g, int node, const char *name, const char *v) {
    Err e;
    CHECK_OK(node_set_attr_s(g->nodes[node], name, v, &e), &e);
}
static void set_f(Graph *g, int node, const char *name, float v) {
    Err e;
    CHECK_OK(node_set_attr_f(g->nodes[node], name, v, &e), &e);
}

/* padding, strides and dilations (H, W) in the layout's order */
static void window(Graph *g, int node, const char *padding, int64_t sh, int64_t sw, int64_t dh, int64_t dw, bool nchw) {
    Err e;
    set_s(g, node, "padding", padding);
    if (nchw) set_s(g, node, "data_format", "NCHW");
    int64_t st[4] = {1, nchw ? 1 : sh, nchw ? sh : sw, nchw ? sw : 1};
    int64_t di[4] = {1, nchw ? 1 : dh, nchw ? dh : dw, nchw ? dw : 1};
    CHECK_OK(node_set_attr_list_i(g->nodes[node], "strides", st, 4, &e), &e);
    CHECK_OK(node_set_attr_list_i(g->nodes[node], "dilations", di, 4, &e), &e);
}

static void fused_ops(Graph *g, int node, int count, const char *const *ops, int num_args) {
    Err e;
    CHECK_OK(node_set_attr_list_s(g->nodes[node], "fused_ops", ops, count, &e), &e);
    CHECK_OK(node_set_attr_i(g->nodes[node], "num_args", num_args, &e), &e);
}

static void infer(Graph *g) {
    Err e;
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
}

static void release_all(Tensor *t, int n) {
    for (int i = 0; i < n; i++) tensor_release(&t[i]);
}

/* Infers g, runs node through the fast kernel and the reference on in[], asserts the fast
   kernel handled it and tf_rel_err <= tol; returns the error. impl receives oneDNN's
   implementation name when not NULL. Frees g. */
static double check_node(Graph *g, int node, const Tensor *in, double tol, char *impl) {
    Err e;
    infer(g);
    Tensor want = {0}, got = {0};
    CHECK_OK(ref_eval_node(NULL, g, node, in, &want, &e), &e);
    char name[128];
    int rc = tf_fast_node(fast_compile_conv, g, node, in, &got, name, sizeof name, &e);
    if (rc != 1) {
        print_error("fast_compile_conv returned %d (%s)\n", rc, rc < 0 ? e.msg : "declined");
        fail();
    }
    double r = tf_rel_err(&got, &want);
    if (!(r <= tol)) {
        print_error("%s [%s]: rel err %g > %g\n", g->nodes[node]->op_name, name, r, tol);
        fail();
    }
    if (impl) strcpy(impl, name);
    tensor_release(&want);
    tensor_release(&got);
    graph_free(g);
    return r;
}

#define TOL 1e-4

/* Conv-like node x * w with the given window, checked. */
static void conv_case(const char *op, Tensor x, Tensor w, const char *padding, int64_t sh, int64_t sw, int64_t dh,
                      int64_t dw, bool nchw) {
    Tensor in[2] = {x, w};
    int node;
    Graph *g = build(op, in, 2, PH(0), &node);
    window(g, node, padding, sh, sw, dh, dw, nchw);
    check_node(g, node, in, TOL, NULL);
    release_all(in, 2);
}

/* ---- geometry ---- */

static void conv_1x1(void **state) {
    (void)state;
    conv_case("Conv2D", rnd4(1, 2, 5, 7, 8), rnd4(2, 1, 1, 8, 16), "VALID", 1, 1, 1, 1, false);
    conv_case("Conv2D", rnd4(3, 1, 9, 9, 24), rnd4(4, 1, 1, 24, 40), "SAME", 2, 2, 1, 1, false);
}

static void conv_3x3_same_stride1(void **state) {
    (void)state;
    conv_case("Conv2D", rnd4(5, 1, 9, 9, 8), rnd4(6, 3, 3, 8, 16), "SAME", 1, 1, 1, 1, false);
    conv_case("Conv2D", rnd4(7, 2, 6, 5, 3), rnd4(8, 3, 3, 3, 5), "SAME", 1, 1, 1, 1, false);
}

static void conv_3x3_same_stride2_odd_and_even(void **state) {
    (void)state;
    /* odd: no extra padding pixel; even: TF puts the extra one after (bottom / right) */
    conv_case("Conv2D", rnd4(9, 1, 9, 11, 5), rnd4(10, 3, 3, 5, 7), "SAME", 2, 2, 1, 1, false);
    conv_case("Conv2D", rnd4(11, 2, 8, 10, 4), rnd4(12, 3, 3, 4, 6), "SAME", 2, 2, 1, 1, false);
    conv_case("Conv2D", rnd4(13, 1, 8, 7, 4), rnd4(14, 2, 4, 4, 6), "SAME", 2, 1, 1, 1, false); /* even kernel */
}

static void conv_valid_with_remainder(void **state) {
    (void)state;
    /* (10 - 3) / 2 leaves a row TF never reads: oneDNN's padding after must not go negative */
    conv_case("Conv2D", rnd4(15, 1, 10, 9, 3), rnd4(16, 3, 2, 3, 5), "VALID", 2, 2, 1, 1, false);
    conv_case("Conv2D", rnd4(17, 1, 7, 7, 4), rnd4(18, 3, 3, 4, 8), "VALID", 1, 1, 1, 1, false);
}

static void conv_explicit_asymmetric(void **state) {
    (void)state;
    for (int64_t s = 1; s <= 2; s++) {
        Tensor in[2] = {rnd4(19, 1, 6, 7, 4), rnd4(20, 3, 3, 4, 8)};
        int node;
        Graph *g = build("Conv2D", in, 2, PH(0), &node);
        window(g, node, "EXPLICIT", s, s, 1, 1, false);
        Err e;
        int64_t pads[8] = {0, 0, 1, 2, 0, 3, 0, 0}; /* top 1, bottom 2, left 0, right 3 */
        CHECK_OK(node_set_attr_list_i(g->nodes[node], "explicit_paddings", pads, 8, &e), &e);
        check_node(g, node, in, TOL, NULL);
        release_all(in, 2);
    }
}

static void conv_dilation2(void **state) {
    (void)state;
    conv_case("Conv2D", rnd4(21, 1, 12, 11, 4), rnd4(22, 3, 3, 4, 8), "SAME", 1, 1, 2, 2, false);
    conv_case("Conv2D", rnd4(23, 1, 12, 11, 4), rnd4(24, 3, 3, 4, 8), "VALID", 1, 1, 2, 2, false);
    conv_case("Conv2D", rnd4(25, 1, 10, 10, 3), rnd4(26, 3, 3, 3, 4), "SAME", 1, 1, 2, 1, false);
}

static void conv_nchw(void **state) {
    (void)state;
    /* [N, C, H, W] input */
    conv_case("Conv2D", rnd4(27, 2, 6, 7, 7), rnd4(28, 3, 3, 6, 10), "SAME", 2, 2, 1, 1, true);
    conv_case("Conv2D", rnd4(29, 1, 4, 9, 8), rnd4(30, 1, 1, 4, 5), "VALID", 1, 1, 1, 1, true);
    conv_case("DepthwiseConv2dNative", rnd4(31, 1, 6, 8, 8), rnd4(32, 3, 3, 6, 2), "SAME", 1, 1, 1, 1, true);
}

static void conv_grouped(void **state) {
    (void)state;
    /* 12 input channels, filter takes 4: 3 groups of 4 -> 4 outputs each */
    conv_case("Conv2D", rnd4(33, 1, 8, 8, 12), rnd4(34, 3, 3, 4, 12), "SAME", 1, 1, 1, 1, false);
    conv_case("Conv2D", rnd4(35, 2, 7, 9, 8), rnd4(36, 3, 3, 2, 8), "VALID", 2, 1, 1, 1, false); /* 4 groups */
}

static void depthwise_multiplier_1_and_2(void **state) {
    (void)state;
    conv_case("DepthwiseConv2dNative", rnd4(37, 1, 10, 10, 16), rnd4(38, 3, 3, 16, 1), "SAME", 1, 1, 1, 1, false);
    conv_case("DepthwiseConv2dNative", rnd4(39, 2, 11, 9, 16), rnd4(40, 3, 3, 16, 1), "SAME", 2, 2, 1, 1, false);
    conv_case("DepthwiseConv2dNative", rnd4(41, 1, 9, 9, 8), rnd4(42, 3, 3, 8, 2), "VALID", 1, 1, 1, 1, false);
    conv_case("DepthwiseConv2dNative", rnd4(43, 1, 9, 10, 5), rnd4(44, 5, 5, 5, 3), "SAME", 2, 2, 1, 1, false);
}

/* ---- fused ops ---- */

/* _FusedConv2D or a fused depthwise with BiasAdd [+ act]; leaky_alpha < 0 keeps the default */
static void fused_bias_case(const char *op, bool depthwise, const char *act, float leaky_alpha, uint64_t seed) {
    int64_t c = 6, m = depthwise ? 2 : 1, oc = depthwise ? c * m : 10;
    Tensor in[3] = {rnd4(seed, 1, 7, 8, c), depthwise ? rnd4(seed + 1, 3, 3, c, m) : rnd4(seed + 1, 3, 3, c, oc),
                    rnd1(seed + 2, oc)};
    int node;
    Graph *g = build(op, in, 3, PH(0), &node);
    window(g, node, "SAME", 1, 1, 1, 1, false);
    const char *ops[2] = {"BiasAdd", act};
    fused_ops(g, node, act ? 2 : 1, ops, 1);
    if (leaky_alpha >= 0) set_f(g, node, "leakyrelu_alpha", leaky_alpha);
    check_node(g, node, in, TOL, NULL);
    release_all(in, 3);
}

static void fused_bias_and_every_activation(void **state) {
    (void)state;
    const char *acts[] = {NULL, "Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh", "_FusedHardSwish"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        fused_bias_case("_FusedConv2D", false, acts[i], -1, 100 + 3 * i);
        fused_bias_case("_FusedDepthwiseConv2dNative", true, acts[i], -1, 200 + 3 * i);
    }
    fused_bias_case("_FusedConv2D", false, "LeakyRelu", 0.05f, 300);
    fused_bias_case("FusedDepthwiseConv2dNative", true, "Relu6", -1, 303);
    fused_bias_case("FusedDepthwiseConv2dNative", true, "LeakyRelu", 0.3f, 306);
}

/* the activations must see large values too: Relu6's upper bound, saturating tanh / sigmoid */
static void fused_activations_large_values(void **state) {
    (void)state;
    const char *acts[] = {"Relu6", "Sigmoid", "Tanh", "Elu", "_FusedHardSwish"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        Tensor in[3] = {rnd4(400 + i, 1, 6, 6, 16), rnd4(410 + i, 3, 3, 16, 8), rnd1(420 + i, 8)};
        float *x = tensor_mut(&in[0]);
        for (int64_t k = 0; k < tensor_numel(&in[0]); k++) x[k] *= 4; /* outputs spread over about +-20 */
        int node;
        Graph *g = build("_FusedConv2D", in, 3, PH(0), &node);
        window(g, node, "SAME", 1, 1, 1, 1, false);
        const char *ops[2] = {"BiasAdd", acts[i]};
        fused_ops(g, node, 2, ops, 1);
        check_node(g, node, in, TOL, NULL);
        release_all(in, 3);
    }
}

static void batchnorm_case_hw(const char *op, bool depthwise, const char *act, bool nchw, int64_t h, int64_t w,
                              uint64_t seed, char *impl_out) {
    int64_t c = 8, oc = depthwise ? c : 12;
    Tensor x = nchw ? rnd4(seed, 1, c, h, w) : rnd4(seed, 1, h, w, c);
    Tensor in[6] = {x, depthwise ? rnd4(seed + 1, 3, 3, c, 1) : rnd4(seed + 1, 3, 3, c, oc), rnd1(seed + 2, oc),
                    rnd1(seed + 3, oc), rnd1(seed + 4, oc), positive(rnd1(seed + 5, oc), 0.05)};
    int node;
    Graph *g = build(op, in, 6, PH(0), &node);
    window(g, node, "SAME", 2, 2, 1, 1, nchw);
    const char *ops[2] = {"FusedBatchNorm", act};
    fused_ops(g, node, act ? 2 : 1, ops, 4);
    set_f(g, node, "epsilon", 1e-3f);
    check_node(g, node, in, TOL, impl_out);
    release_all(in, 6);
}

static void batchnorm_case(const char *op, bool depthwise, const char *act, bool nchw, uint64_t seed) {
    batchnorm_case_hw(op, depthwise, act, nchw, 7, 9, seed, NULL);
}

static void fused_batchnorm_folded(void **state) {
    (void)state;
    batchnorm_case("_FusedConv2D", false, NULL, false, 500);
    batchnorm_case("_FusedConv2D", false, "Relu", false, 510);
    batchnorm_case("_FusedConv2D", false, "Relu6", true, 520);
    batchnorm_case("_FusedDepthwiseConv2dNative", true, "Relu6", false, 530);
    batchnorm_case("FusedDepthwiseConv2dNative", true, NULL, false, 540);
}

/* Residual: BiasAdd, Add [, act]. in_place runs with the output on the addend's buffer, as
   the plan does when it grants k->inplace; otherwise the kernel copies the addend first and
   must leave it unchanged. */
static void residual_case_hw(const char *act, bool in_place, bool nchw, int64_t h, int64_t w, uint64_t seed,
                             char *impl_out) {
    int64_t c = 8, oc = 16;
    Tensor x = nchw ? rnd4(seed, 2, c, h, w) : rnd4(seed, 2, h, w, c);
    Tensor add = nchw ? rnd4(seed + 3, 2, oc, h, w) : rnd4(seed + 3, 2, h, w, oc);
    Tensor in[4] = {x, rnd4(seed + 1, 3, 3, c, oc), rnd1(seed + 2, oc), add};
    int node;
    Graph *g = build("_FusedConv2D", in, 4, PH(0) | PH(3), &node);
    window(g, node, "SAME", 1, 1, 1, 1, nchw);
    const char *ops[3] = {"BiasAdd", "Add", act};
    fused_ops(g, node, act ? 3 : 2, ops, 2);
    infer(g);
    Err e;
    Tensor want = {0};
    CHECK_OK(ref_eval_node(NULL, g, node, in, &want, &e), &e);
    Tensor add_before;
    CHECK_OK(tensor_copy(&add_before, &in[3], &e), &e);
    if (!in_place) {
        check_node(g, node, in, TOL, impl_out);
        assert_tensor_near(&in[3], &add_before, 0); /* the addend is not an output */
    } else {
        DnnCtx ctx;
        CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
        FastKernel k;
        memset(&k, 0, sizeof k);
        k.inplace = -1;
        assert_int_equal(fast_compile_conv(&ctx, g, g->nodes[node], &k, &e), 1);
        assert_int_equal(k.inplace, 3);
        if (impl_out) strcpy(impl_out, k.impl);
        /* the plan's in-place grant: out[0] is the addend's buffer */
        Tensor run_in[4];
        for (int i = 0; i < 4; i++) run_in[i] = in[i];
        Tensor buf;
        CHECK_OK(tensor_copy(&buf, &in[3], &e), &e);
        run_in[3] = buf;
        Tensor out = tensor_share(&buf);
        void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
        CHECK_OK(k.run(k.state, run_in, &out, scratch, &e), &e);
        double r = tf_rel_err(&out, &want);
        if (!(r <= TOL)) { print_error("in-place residual: rel err %g\n", r); fail(); }
        free(scratch);
        k.destroy(k.state);
        dnn_ctx_free(&ctx);
        tensor_release(&out);
        tensor_release(&buf);
        graph_free(g);
    }
    tensor_release(&want);
    tensor_release(&add_before);
    release_all(in, 4);
}

static void residual_case(const char *act, bool in_place, bool nchw, uint64_t seed) {
    residual_case_hw(act, in_place, nchw, 6, 7, seed, NULL);
}

static void fused_residual_add_copy(void **state) {
    (void)state;
    residual_case(NULL, false, false, 600);
    residual_case("Relu", false, false, 610);
    residual_case("Relu", false, true, 620);
    residual_case("Elu", false, false, 630);
}

static void fused_residual_add_in_place(void **state) {
    (void)state;
    residual_case(NULL, true, false, 640);
    residual_case("Relu", true, false, 650);
    residual_case("Relu6", true, true, 660);
}

/* a bias that is only known at run time (float32) is passed to oneDNN as is */
static void fused_bias_at_run_time(void **state) {
    (void)state;
    Tensor in[3] = {rnd4(700, 1, 7, 7, 8), rnd4(701, 3, 3, 8, 8), rnd1(702, 8)};
    int node;
    Graph *g = build("_FusedConv2D", in, 3, PH(0) | PH(2), &node);
    window(g, node, "SAME", 1, 1, 1, 1, false);
    const char *ops[2] = {"BiasAdd", "Relu"};
    fused_ops(g, node, 2, ops, 1);
    check_node(g, node, in, TOL, NULL);
    release_all(in, 3);
}

/* ---- bfloat16 ---- */

/* whether this CPU lets oneDNN 2.6 compute in bfloat16 (avx512_core and up; native
   instructions from avx512_core_bf16, emulated before) */
static bool bf16_isa(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), need = (unsigned)dnnl_cpu_isa_avx512_core;
    return (isa & need) == need;
}

/* Runs the bf16 node (inputs converted) through the fast kernel and compares with the float32
   reference on the same (bf16-representable) values. The kernel multiplies exactly and
   accumulates in float32; its output is rounded to bfloat16 (relative 2^-9), which bounds
   the error by 2^-8 of max|ref| with room for the float32 accumulation. When the reference
   runtime emulates bfloat16 itself (ref_lowp), it is checked against that too. */
static void bf16_case(const char *op, Tensor *in, int n_in, unsigned ph, const char *const *ops, int n_ops, int n_args,
                      const char *padding, int64_t stride) {
    Err e;
    Tensor in_bf[6], in_f[6];
    for (int i = 0; i < n_in; i++) {
        in_bf[i] = convert(&in[i], DT_BFLOAT16);
        in_f[i] = convert(&in_bf[i], DT_FLOAT); /* exactly the bf16 values */
    }
    int node_f, node_b;
    Graph *gf = build(op, in_f, n_in, ph, &node_f), *gb = build(op, in_bf, n_in, ph, &node_b);
    window(gf, node_f, padding, stride, stride, 1, 1, false);
    window(gb, node_b, padding, stride, stride, 1, 1, false);
    if (n_ops) {
        fused_ops(gf, node_f, n_ops, ops, n_args);
        fused_ops(gb, node_b, n_ops, ops, n_args);
    }
    infer(gf);
    infer(gb);
    Tensor want = {0}, got = {0}, want_b = {0};
    CHECK_OK(ref_eval_node(NULL, gf, node_f, in_f, &want, &e), &e);
    char impl[128];
    int rc = tf_fast_node(fast_compile_conv, gb, node_b, in_bf, &got, impl, sizeof impl, &e);
    if (!bf16_isa()) {
        /* oneDNN 2.6 computes bfloat16 only from AVX-512 on: elsewhere it must decline */
        if (rc != 0) { print_error("bf16 %s without AVX-512: rc %d, expected a decline\n", op, rc); fail(); }
        goto done;
    }
    if (rc != 1) { print_error("bf16 %s: rc %d (%s)\n", op, rc, rc < 0 ? e.msg : "declined"); fail(); }
    assert_int_equal(got.dtype, DT_BFLOAT16);
    double r = tf_rel_err(&got, &want);
    if (!(r <= 1.0 / 256)) { print_error("bf16 %s [%s]: rel err %g vs float32\n", op, impl, r); fail(); }
    if (ref_eval_node(NULL, gb, node_b, in_bf, &want_b, &e) == 0) {
        double rb = tf_rel_err(&got, &want_b);
        if (!(rb <= 1.0 / 256)) { print_error("bf16 %s [%s]: rel err %g vs bf16 reference\n", op, impl, rb); fail(); }
        tensor_release(&want_b);
    }
done:
    tensor_release(&want);
    tensor_release(&got);
    release_all(in_bf, n_in);
    release_all(in_f, n_in);
    graph_free(gf);
    graph_free(gb);
}

static void bf16_conv_bias_relu(void **state) {
    (void)state;
    Tensor in[3] = {rnd4(800, 1, 9, 9, 16), rnd4(801, 3, 3, 16, 32), rnd1(802, 32)};
    const char *ops[2] = {"BiasAdd", "Relu"};
    bf16_case("_FusedConv2D", in, 3, PH(0), ops, 2, 1, "SAME", 1);
    release_all(in, 3);
    Tensor in2[2] = {rnd4(803, 2, 10, 8, 8), rnd4(804, 1, 1, 8, 16)};
    bf16_case("Conv2D", in2, 2, PH(0), NULL, 0, 0, "VALID", 2);
    release_all(in2, 2);
}

static void bf16_residual_and_depthwise(void **state) {
    (void)state;
    Tensor in[4] = {rnd4(810, 1, 8, 8, 16), rnd4(811, 3, 3, 16, 16), rnd1(812, 16), rnd4(813, 1, 8, 8, 16)};
    const char *ops[3] = {"BiasAdd", "Add", "Relu"};
    bf16_case("_FusedConv2D", in, 4, PH(0) | PH(3), ops, 3, 2, "SAME", 1);
    release_all(in, 4);
    Tensor in2[3] = {rnd4(814, 1, 9, 9, 16), rnd4(815, 3, 3, 16, 1), rnd1(816, 16)};
    const char *ops2[2] = {"BiasAdd", "Relu6"};
    bf16_case("_FusedDepthwiseConv2dNative", in2, 3, PH(0), ops2, 2, 1, "SAME", 2);
    release_all(in2, 3);
}

/* ---- Conv2DBackpropInput (deconvolution) ---- */

static void backprop_case(const int64_t *sizes, Tensor w, Tensor dy, const char *padding, int64_t s, int64_t dil,
                          bool nchw) {
    Tensor in[3] = {{0}, w, dy};
    int32_t sz[4] = {(int32_t)sizes[0], (int32_t)sizes[1], (int32_t)sizes[2], (int32_t)sizes[3]};
    in[0] = tt_i32(1, (int64_t[]){4}, sz);
    int node;
    Graph *g = build("Conv2DBackpropInput", in, 3, PH(2), &node);
    window(g, node, padding, s, s, dil, dil, nchw);
    check_node(g, node, in, TOL, NULL);
    release_all(in, 3);
}

static void backprop_input_deconvolution(void **state) {
    (void)state;
    /* forward: [1,9,9,6] -> SAME stride 2 -> [1,5,5,10] */
    backprop_case((int64_t[]){1, 9, 9, 6}, rnd4(900, 3, 3, 6, 10), rnd4(901, 1, 5, 5, 10), "SAME", 2, 1, false);
    /* even size, extra pad after */
    backprop_case((int64_t[]){2, 8, 8, 4}, rnd4(902, 3, 3, 4, 6), rnd4(903, 2, 4, 4, 6), "SAME", 2, 1, false);
    /* VALID with a remainder row/column that gets no gradient */
    backprop_case((int64_t[]){1, 10, 10, 3}, rnd4(904, 3, 3, 3, 5), rnd4(905, 1, 4, 4, 5), "VALID", 2, 1, false);
    backprop_case((int64_t[]){1, 7, 7, 4}, rnd4(906, 3, 3, 4, 4), rnd4(907, 1, 7, 7, 4), "SAME", 1, 1, false);
    /* dilation 2: forward [1,11,11,4] SAME -> [1,11,11,6] */
    backprop_case((int64_t[]){1, 11, 11, 4}, rnd4(910, 3, 3, 4, 6), rnd4(911, 1, 11, 11, 6), "SAME", 1, 2, false);
    /* NCHW: sizes and out_backprop in [N, C, H, W] */
    backprop_case((int64_t[]){1, 6, 9, 9}, rnd4(908, 3, 3, 6, 8), rnd4(909, 1, 8, 5, 5), "SAME", 2, 1, true);
}

/* ---- primitive cache ---- */

/* two identical layers with different weights share one primitive but compute with their own
   weights; a different layer misses */
static void cache_hit_on_identical_layer(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    Tensor x = rnd4(1000, 1, 8, 8, 8);
    Tensor w[3] = {rnd4(1001, 3, 3, 8, 8), rnd4(1002, 3, 3, 8, 8), rnd4(1003, 3, 3, 8, 8)};
    int px = graph_add_node(g, "x", "Placeholder", &e);
    CHECK_OK(node_set_attr_type(g->nodes[px], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[px], "shape", &x.shape, &e), &e);
    int conv[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        int c = graph_add_node(g, name, "Const", &e);
        CHECK_OK(node_set_attr_type(g->nodes[c], "dtype", DT_FLOAT, &e), &e);
        CHECK_OK(node_set_attr_tensor(g->nodes[c], "value", &w[i], &e), &e);
        snprintf(name, sizeof name, "conv%d", i);
        conv[i] = graph_add_node(g, name, "Conv2D", &e);
        assert_true(conv[i] >= 0);
        CHECK_OK(node_add_input(g, conv[i], (ValueRef){px, 0}, &e), &e);
        CHECK_OK(node_add_input(g, conv[i], (ValueRef){c, 0}, &e), &e);
        window(g, conv[i], i == 2 ? "VALID" : "SAME", 1, 1, 1, 1, false);
    }
    infer(g);
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k[3];
    for (int i = 0; i < 3; i++) {
        memset(&k[i], 0, sizeof k[i]);
        k[i].inplace = -1;
        assert_int_equal(fast_compile_conv(&ctx, g, g->nodes[conv[i]], &k[i], &e), 1);
        assert_int_equal(k[i].weight_bytes >= 3 * 3 * 8 * 8 * sizeof(float), 1);
    }
    assert_int_equal(ctx.cache_hits, 1);
    assert_int_equal(ctx.cache_misses, 2);
    for (int i = 0; i < 3; i++) {
        Tensor in[2] = {x, w[i]}, want = {0}, got = {0};
        CHECK_OK(ref_eval_node(NULL, g, conv[i], in, &want, &e), &e);
        CHECK_OK(tensor_alloc(&got, DT_FLOAT, &g->nodes[conv[i]]->outputs[0].shape, &e), &e);
        void *scratch = k[i].scratch_bytes ? aligned_alloc(64, (k[i].scratch_bytes + 63) & ~(size_t)63) : NULL;
        CHECK_OK(k[i].run(k[i].state, in, &got, scratch, &e), &e);
        assert_true(tf_rel_err(&got, &want) <= TOL);
        free(scratch);
        tensor_release(&want);
        tensor_release(&got);
        k[i].destroy(k[i].state);
    }
    dnn_ctx_free(&ctx);
    graph_free(g);
    tensor_release(&x);
    release_all(w, 3);
}

/* ---- declines ---- */

static int compile_only(Graph *g, int node) {
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    k.inplace = -1;
    int rc = fast_compile_conv(&ctx, g, g->nodes[node], &k, &e);
    if (rc == 1) k.destroy(k.state);
    dnn_ctx_free(&ctx);
    return rc;
}

static void declines(void **state) {
    (void)state;
    int node;
    /* Prelu: a per-channel alpha has no eltwise post-op (the reference computes it) */
    {
        Tensor in[4] = {rnd4(1100, 1, 5, 5, 4), rnd4(1101, 3, 3, 4, 6), rnd1(1102, 6), rnd1(1103, 6)};
        Graph *g = build("_FusedConv2D", in, 4, PH(0), &node);
        window(g, node, "SAME", 1, 1, 1, 1, false);
        const char *ops[2] = {"BiasAdd", "Prelu"};
        fused_ops(g, node, 2, ops, 2);
        infer(g);
        assert_int_equal(compile_only(g, node), 0);
        /* an unknown fused op (set after inference, which would reject it) */
        const char *bad[2] = {"BiasAdd", "Swish"};
        fused_ops(g, node, 2, bad, 2);
        assert_int_equal(compile_only(g, node), 0);
        graph_free(g);
        release_all(in, 4);
    }
    /* a filter only known at run time */
    {
        Tensor in[2] = {rnd4(1104, 1, 5, 5, 4), rnd4(1105, 3, 3, 4, 6)};
        Graph *g = build("Conv2D", in, 2, PH(0) | PH(1), &node);
        window(g, node, "SAME", 1, 1, 1, 1, false);
        infer(g);
        assert_int_equal(compile_only(g, node), 0);
        graph_free(g);
        release_all(in, 2);
    }
    /* batch-norm statistics only known at run time cannot be folded */
    {
        Tensor in[6] = {rnd4(1106, 1, 5, 5, 4), rnd4(1107, 3, 3, 4, 6), rnd1(1108, 6),
                        rnd1(1109, 6), rnd1(1110, 6), positive(rnd1(1111, 6), 0.1)};
        Graph *g = build("_FusedConv2D", in, 6, PH(0) | PH(5), &node);
        window(g, node, "SAME", 1, 1, 1, 1, false);
        const char *ops[1] = {"FusedBatchNorm"};
        fused_ops(g, node, 1, ops, 4);
        infer(g);
        assert_int_equal(compile_only(g, node), 0);
        graph_free(g);
        release_all(in, 6);
    }
    /* int32 */
    {
        int32_t xv[16], wv[8];
        for (int i = 0; i < 16; i++) xv[i] = i - 5;
        for (int i = 0; i < 8; i++) wv[i] = 2 - i;
        Tensor in[2] = {tt_i32(4, (int64_t[]){1, 2, 2, 4}, xv), tt_i32(4, (int64_t[]){1, 1, 4, 2}, wv)};
        Graph *g = build("Conv2D", in, 2, PH(0), &node);
        window(g, node, "VALID", 1, 1, 1, 1, false);
        infer(g);
        assert_int_equal(compile_only(g, node), 0);
        graph_free(g);
        release_all(in, 2);
    }
    /* not a convolution */
    {
        Tensor in[2] = {rnd(1112, 2, (int64_t[]){3, 4}), rnd(1113, 2, (int64_t[]){4, 5})};
        Graph *g = build("MatMul", in, 2, PH(0), &node);
        infer(g);
        assert_int_equal(compile_only(g, node), 0);
        graph_free(g);
        release_all(in, 2);
    }
}

/* ---- windows past the input: tiny maps ---- */

/* _FusedConv2D (BiasAdd + Relu) of x [1,h,w,c] with a k_h x k_w filter to oc channels; the
   fast kernel must match the reference and be oneDNN's JIT / brgemm, never its "ref" */
static void tiny_map_case_impl(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t dil, uint64_t seed,
                               char *impl_out) {
    int64_t c = 16, oc = 32;
    Tensor in[3] = {rnd4(seed, 1, h, w, c), rnd4(seed + 1, kh, kw, c, oc), rnd1(seed + 2, oc)};
    int node;
    Graph *g = build("_FusedConv2D", in, 3, PH(0), &node);
    window(g, node, "SAME", stride, stride, dil, dil, false);
    const char *ops[2] = {"BiasAdd", "Relu"};
    fused_ops(g, node, 2, ops, 1);
    char impl[128];
    check_node(g, node, in, TOL, impl);
    if (strstr(impl, "ref")) {
        print_error("%lldx%lld map, %lldx%lld window: oneDNN's %s\n", (long long)h, (long long)w, (long long)kh,
                    (long long)kw, impl);
        fail();
    }
    if (impl_out) strcpy(impl_out, impl);
    release_all(in, 3);
}

static void tiny_map_case(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t dil, uint64_t seed) {
    tiny_map_case_impl(h, w, kh, kw, stride, dil, seed, NULL);
}

/* a 1x1 convolution on a map of at most CONV_TINY_MAP_PIXELS pixels (a matrix-vector product)
   runs on oneDNN's jit_1x1 kernel, which streams the weights faster than brgconv_1x1; larger
   maps keep oneDNN's first choice */
static void tiny_map_1x1_prefers_jit_1x1(void **state) {
    (void)state;
    char impl[128];
    conv_gemv_set_mode(GEMV_OFF); /* the matrix-vector path may take maps of <= GEMV_MAX_PIXELS */
    int64_t sizes[3][2] = {{1, 1}, {2, 2}, {4, 4}};
    for (int i = 0; i < 3; i++) {
        tiny_map_case_impl(sizes[i][0], sizes[i][1], 1, 1, 1, 1, 1380 + (uint64_t)i, impl);
        if (strncmp(impl, "jit_1x1:", 8)) {
            print_error("%lldx%lld map, 1x1 window: oneDNN's %s\n", (long long)sizes[i][0], (long long)sizes[i][1], impl);
            fail();
        }
    }
    tiny_map_case_impl(8, 8, 1, 1, 1, 1, 1390, impl); /* 64 pixels: whatever oneDNN lists first, checked */
    conv_gemv_set_mode(GEMV_FEWER_TAPS);
}

/* ---- tiny output maps as matrix-vector products (native_gemv.c) ---- */

static double now_s(void);

/* _FusedConv2D of x [n,h,w,c] with a kh x kw filter to oc channels, fused ops `ops` (BiasAdd
   first; "Add" takes a [n,oh,ow,oc] addend placeholder), against the reference; asserts the
   kernel is (or is not, want_gemv false) the matrix-vector one and returns its name */
static void gemv_case(int64_t n, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, int64_t oc, int64_t stride,
                      int64_t dil, const char *padding, const char *const *ops, int n_ops, bool want_gemv, uint64_t seed) {
    bool add = false;
    for (int i = 0; i < n_ops; i++) add = add || !strcmp(ops[i], "Add");
    int64_t oh = !strcmp(padding, "SAME") ? (h + stride - 1) / stride : (h - (kh - 1) * dil - 1) / stride + 1;
    int64_t ow = !strcmp(padding, "SAME") ? (w + stride - 1) / stride : (w - (kw - 1) * dil - 1) / stride + 1;
    Tensor in[4] = {rnd4(seed, n, h, w, c), rnd4(seed + 1, kh, kw, c, oc), rnd1(seed + 2, oc), {0}};
    if (add) in[3] = rnd4(seed + 3, n, oh, ow, oc);
    int node;
    Graph *g = build("_FusedConv2D", in, add ? 4 : 3, PH(0) | (add ? PH(3) : 0), &node);
    window(g, node, padding, stride, stride, dil, dil, false);
    fused_ops(g, node, n_ops, ops, add ? 2 : 1);
    char impl[128];
    check_node(g, node, in, TOL, impl);
    if (want_gemv != !strncmp(impl, "gemv:", 5)) {
        print_error("%lldx%lldx%lldx%lld, %lldx%lld window to %lld: kernel %s\n", (long long)n, (long long)h, (long long)w,
                    (long long)c, (long long)kh, (long long)kw, (long long)oc, impl);
        fail();
    }
    release_all(in, add ? 4 : 3);
}

static void tiny_map_gemv_geometries(void **state) {
    (void)state;
    conv_gemv_set_mode(GEMV_ALWAYS);
    const char *br[2] = {"BiasAdd", "Relu"};
    /* channel counts off the block (16) and the unroll (4): the tails */
    gemv_case(1, 1, 1, 37, 1, 1, 40, 1, 1, "SAME", br, 2, true, 1400);
    gemv_case(1, 1, 1, 1, 1, 1, 1, 1, 1, "VALID", br, 2, true, 1405);
    gemv_case(1, 1, 1, 64, 3, 3, 48, 1, 1, "SAME", br, 2, true, 1410);  /* centre tap only (conv5) */
    gemv_case(1, 2, 2, 32, 3, 3, 32, 1, 1, "SAME", br, 2, true, 1420);  /* 4 pixels, every tap (conv4) */
    gemv_case(1, 2, 2, 32, 1, 1, 24, 2, 1, "SAME", br, 2, true, 1430);  /* stride 2: 2x2 -> 1x1 */
    gemv_case(1, 3, 3, 16, 3, 3, 16, 2, 1, "SAME", br, 2, true, 1440);  /* 3x3 -> 2x2, padding after */
    gemv_case(2, 1, 1, 24, 3, 3, 20, 1, 1, "SAME", br, 2, true, 1450);  /* batch 2: 2 pixels */
    gemv_case(1, 3, 3, 8, 3, 3, 16, 1, 2, "SAME", br, 2, false, 1460);  /* 9 pixels: oneDNN */
    gemv_case(1, 5, 5, 8, 3, 3, 16, 1, 2, "VALID", br, 2, true, 1465); /* dilated 5 wide: 1x1 out */
    gemv_case(1, 2, 3, 12, 2, 2, 16, 1, 1, "VALID", br, 2, true, 1470); /* 1x2 out */
    conv_gemv_set_mode(GEMV_FEWER_TAPS);
}

/* the runtime's rule (GEMV_FEWER_TAPS): the matrix-vector path when some tap reads only
   padding, so it streams fewer weight bytes than oneDNN; otherwise oneDNN, whose kernels
   stream full weights as fast (tiny_map_gemv_timed) */
static void tiny_map_gemv_rule(void **state) {
    (void)state;
    const char *br[2] = {"BiasAdd", "Relu"};
    GemvGeom g1 = {1, 1, 1, 64, 1, 1, 48, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_int_equal(gemv_kept_taps(&g1), 1); /* 3x3 SAME on 1x1: the centre */
    GemvGeom g2 = {1, 2, 2, 64, 2, 2, 48, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_int_equal(gemv_kept_taps(&g2), 9); /* on 2x2 every tap serves some pixel */
    GemvGeom g3 = {1, 1, 3, 64, 1, 3, 48, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_int_equal(gemv_kept_taps(&g3), 3); /* 1x3: the middle row */
    GemvGeom g4 = {1, 2, 2, 64, 1, 1, 48, 1, 1, 2, 2, 1, 1, 0, 0};
    assert_int_equal(gemv_kept_taps(&g4), 1);
    gemv_case(1, 1, 1, 64, 3, 3, 48, 1, 1, "SAME", br, 2, true, 1480);
    gemv_case(1, 1, 3, 64, 3, 3, 48, 1, 1, "SAME", br, 2, true, 1485);
    gemv_case(1, 2, 2, 64, 3, 3, 48, 1, 1, "SAME", br, 2, false, 1490);
    gemv_case(1, 1, 1, 64, 1, 1, 48, 1, 1, "SAME", br, 2, false, 1495);
}

/* every epilogue the kernel computes, and the ones it leaves to oneDNN */
static void tiny_map_gemv_epilogues(void **state) {
    (void)state;
    conv_gemv_set_mode(GEMV_ALWAYS);
    const char *bias[1] = {"BiasAdd"}, *relu6[2] = {"BiasAdd", "Relu6"}, *leaky[2] = {"BiasAdd", "LeakyRelu"};
    const char *add[2] = {"BiasAdd", "Add"}, *add_relu[3] = {"BiasAdd", "Add", "Relu"}, *elu[2] = {"BiasAdd", "Elu"};
    gemv_case(1, 1, 1, 40, 1, 1, 33, 1, 1, "SAME", bias, 1, true, 1500);
    gemv_case(1, 1, 1, 40, 1, 1, 33, 1, 1, "SAME", relu6, 2, true, 1510);
    gemv_case(1, 1, 1, 40, 1, 1, 33, 1, 1, "SAME", leaky, 2, true, 1520);
    gemv_case(1, 2, 2, 40, 3, 3, 33, 1, 1, "SAME", add, 2, true, 1530);
    gemv_case(1, 2, 2, 40, 1, 1, 33, 1, 1, "SAME", add_relu, 3, true, 1540);
    gemv_case(1, 1, 1, 40, 1, 1, 33, 1, 1, "SAME", elu, 2, false, 1550);
    /* batch norm folded (stride 2: 3x3 -> 2x2), residual Add copied and on the output's own
       buffer (batch 2 of 1x1) */
    char impl[128];
    batchnorm_case_hw("_FusedConv2D", false, "Relu6", false, 3, 3, 1560, impl);
    assert_true(!strncmp(impl, "gemv:", 5));
    for (int i = 0; i < 4; i++) {
        residual_case_hw(i & 1 ? "Relu" : NULL, i >= 2, false, 1, 1, 1570 + (uint64_t)i * 10, impl);
        assert_true(!strncmp(impl, "gemv:", 5));
    }
    /* NCHW stays with oneDNN */
    residual_case_hw("Relu", false, true, 1, 1, 1610, impl);
    assert_true(strncmp(impl, "gemv:", 5));
    conv_gemv_set_mode(GEMV_FEWER_TAPS);
}

/* ResNet-50's conv5 1x1 2048 -> 512 on a 1x1 map (4 MiB of weights), bias + relu: the
   matrix-vector kernel and oneDNN's compiled side by side and timed alternately (printed for
   information: the machine's load decides the numbers) */
static void tiny_map_gemv_timed(void **state) {
    (void)state;
    const int64_t c = 2048, oc = 512;
    Tensor in[3] = {rnd4(1700, 1, 1, 1, c), rnd4(1701, 1, 1, c, oc), rnd1(1702, oc)};
    int node;
    Graph *g = build("_FusedConv2D", in, 3, PH(0), &node);
    window(g, node, "SAME", 1, 1, 1, 1, false);
    const char *ops[2] = {"BiasAdd", "Relu"};
    fused_ops(g, node, 2, ops, 1);
    infer(g);
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k[2];
    Tensor got[2];
    void *scratch[2];
    for (int i = 0; i < 2; i++) {
        memset(&k[i], 0, sizeof k[i]);
        k[i].inplace = -1;
        conv_gemv_set_mode(i == 0 ? GEMV_ALWAYS : GEMV_OFF);
        assert_int_equal(fast_compile_conv(&ctx, g, g->nodes[node], &k[i], &e), 1);
        CHECK_OK(tensor_alloc(&got[i], DT_FLOAT, &g->nodes[node]->outputs[0].shape, &e), &e);
        scratch[i] = k[i].scratch_bytes ? aligned_alloc(64, (k[i].scratch_bytes + 63) & ~(size_t)63) : NULL;
    }
    conv_gemv_set_mode(GEMV_FEWER_TAPS);
    assert_true(!strncmp(k[0].impl, "gemv:", 5) && strncmp(k[1].impl, "gemv:", 5));
    enum { REPS = 41 };
    double t[2][REPS];
    for (int r = 0; r < REPS; r++)
        for (int j = 0; j < 2; j++) {
            int i = (r & 1) ? 1 - j : j;
            double t0 = now_s();
            CHECK_OK(k[i].run(k[i].state, in, &got[i], scratch[i], &e), &e);
            t[i][r] = now_s() - t0;
        }
    assert_true(tf_rel_err(&got[0], &got[1]) <= TOL);
    for (int i = 0; i < 2; i++) {
        Summary sm = stats_summarize(t[i], REPS);
        print_message("conv5 1x1 2048->512 on 1x1 [%s]: median %.4f ms (%.1f GB/s of weights), min %.4f ms\n", k[i].impl,
                      sm.median * 1e3, (double)k[i].weight_bytes / sm.median * 1e-9, sm.min * 1e3);
        free(scratch[i]);
        k[i].destroy(k[i].state);
        tensor_release(&got[i]);
    }
    dnn_ctx_free(&ctx);
    graph_free(g);
    release_all(in, 3);
}

/* a ResNet's last stages run 3x3 SAME convolutions over 2x2 and 1x1 maps: the window reaches
   past the input into the padding, which oneDNN computes (they once went to the reference) */
static void tiny_maps_window_past_input(void **state) {
    (void)state;
    tiny_map_case(2, 2, 3, 3, 1, 1, 1300); /* conv4 of a 32x32 ResNet-50 */
    tiny_map_case(1, 1, 3, 3, 1, 1, 1310); /* conv5 */
    tiny_map_case(1, 1, 3, 3, 2, 1, 1320); /* stride past the input */
    tiny_map_case(2, 2, 3, 3, 2, 1, 1330); /* padding only after */
    tiny_map_case(2, 3, 5, 5, 1, 1, 1340);
    tiny_map_case(3, 3, 3, 3, 1, 2, 1350); /* dilated: 5 wide over 3 */
    tiny_map_case(1, 4, 7, 1, 1, 1, 1360); /* one dim past, one not */
}

/* a window past the input beyond CONV_OVERHANG_MAX (hostile sizes) stays with the reference */
static void huge_window_past_input_declines(void **state) {
    (void)state;
    Tensor in[2] = {rnd4(1370, 1, 2, 2, 4), rnd4(1371, 65, 1, 4, 6)};
    int node;
    Graph *g = build("Conv2D", in, 2, PH(0), &node);
    window(g, node, "SAME", 1, 1, 1, 1, false);
    infer(g);
    assert_int_equal(compile_only(g, node), 0);
    graph_free(g);
    release_all(in, 2);
}

/* this suite again under ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN reads it once, at its first use, so it
   takes a fresh process): the AVX2 JIT kernels must handle the same geometries */
static void under_avx2_cap(void **state) {
    (void)state;
    tu_rerun_under_avx2(20);
}

/* ---- a ResNet-50 layer ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 56x56x64 -> 64, 3x3 SAME, bias + relu: checked against the reference, then timed (printed
   for information: GFLOP/s depends on the machine's load) */
static void resnet_layer_checked_and_timed(void **state) {
    (void)state;
    Tensor in[3] = {rnd4(1200, 1, 56, 56, 64), rnd4(1201, 3, 3, 64, 64), rnd1(1202, 64)};
    int node;
    Graph *g = build("_FusedConv2D", in, 3, PH(0), &node);
    window(g, node, "SAME", 1, 1, 1, 1, false);
    const char *ops[2] = {"BiasAdd", "Relu"};
    fused_ops(g, node, 2, ops, 1);
    infer(g);
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    k.inplace = -1;
    assert_int_equal(fast_compile_conv(&ctx, g, g->nodes[node], &k, &e), 1);
    /* with `any` weights oneDNN must pick a JIT / brgemm kernel, not gemm or ref */
    if (!strstr(k.impl, "brg") && !strstr(k.impl, "jit")) { print_error("implementation %s\n", k.impl); fail(); }
    Tensor want = {0}, got = {0};
    CHECK_OK(ref_eval_node(NULL, g, node, in, &want, &e), &e);
    CHECK_OK(tensor_alloc(&got, DT_FLOAT, &g->nodes[node]->outputs[0].shape, &e), &e);
    void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
    CHECK_OK(k.run(k.state, in, &got, scratch, &e), &e);
    double r = tf_rel_err(&got, &want);
    if (!(r <= TOL)) { print_error("rel err %g\n", r); fail(); }
    const int reps = 10;
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = now_s();
        CHECK_OK(k.run(k.state, in, &got, scratch, &e), &e);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    double flops = 2.0 * 56 * 56 * 64 * 64 * 9;
    print_message("resnet layer 56x56x64->64 3x3 [%s]: best of %d %.3f ms, %.1f GFLOP/s, scratch %zu B, "
                  "weights %zu B\n",
                  k.impl, reps, best * 1e3, flops / best * 1e-9, k.scratch_bytes, k.weight_bytes);
    free(scratch);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&want);
    tensor_release(&got);
    graph_free(g);
    release_all(in, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_1x1),
        cmocka_unit_test(conv_3x3_same_stride1),
        cmocka_unit_test(conv_3x3_same_stride2_odd_and_even),
        cmocka_unit_test(conv_valid_with_remainder),
        cmocka_unit_test(conv_explicit_asymmetric),
        cmocka_unit_test(conv_dilation2),
        cmocka_unit_test(conv_nchw),
        cmocka_unit_test(conv_grouped),
        cmocka_unit_test(depthwise_multiplier_1_and_2),
        cmocka_unit_test(fused_bias_and_every_activation),
        cmocka_unit_test(fused_activations_large_values),
        cmocka_unit_test(fused_batchnorm_folded),
        cmocka_unit_test(fused_residual_add_copy),
        cmocka_unit_test(fused_residual_add_in_place),
        cmocka_unit_test(fused_bias_at_run_time),
        cmocka_unit_test(bf16_conv_bias_relu),
        cmocka_unit_test(bf16_residual_and_depthwise),
        cmocka_unit_test(backprop_input_deconvolution),
        cmocka_unit_test(cache_hit_on_identical_layer),
        cmocka_unit_test(declines),
        cmocka_unit_test(resnet_layer_checked_and_timed),
        cmocka_unit_test(tiny_maps_window_past_input),
        cmocka_unit_test(huge_window_past_input_declines),
        cmocka_unit_test(tiny_map_1x1_prefers_jit_1x1),
        cmocka_unit_test(tiny_map_gemv_geometries),
        cmocka_unit_test(tiny_map_gemv_epilogues),
        cmocka_unit_test(tiny_map_gemv_rule),
        cmocka_unit_test(tiny_map_gemv_timed),
        cmocka_unit_test(under_avx2_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
