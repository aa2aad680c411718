/* test_lowp.c - the low-precision reference semantics: bfloat16/float16 emulation of float ops
 * (ref_lowp.c) and the reference kernels, inference and FLOPs of GrappoQuantize,
 * GrappoDequantize, GrappoQConv2D and GrappoQMatMul (ref_quant.c, infer_lowp.c), on
 * hand-computed cases and against the float32 kernels on dequantized values. */
#include "test_ref_nn.h"

#include "graph/lowp_attrs.h"
#include "io/graphdef.h"
#include "runtime/ref_lowp.h"

#define EPS32 (1.0 / 16777216.0) /* 2^-24: unit roundoff of float32 */

/* ---- helpers ---- */

static Tensor tz(int dtype, int rank, const int64_t *dims) {
    Shape s = shape_make(rank, dims);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, dtype, &s, &e), &e);
    return t;
}

/* deterministic integers in [lo, hi] */
static void fill_int(Tensor *t, uint64_t seed, int lo, int hi) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        tensor_set(t, i, lo + (int64_t)(x % (uint64_t)(hi - lo + 1)));
    }
}

static Tensor to_lowp(const Tensor *f, int dtype) {
    Tensor t = tz(dtype, f->shape.rank, f->shape.dim);
    uint16_t *p = tensor_mut(&t);
    for (int64_t i = 0; i < tensor_numel(f); i++)
        p[i] = dtype == DT_BFLOAT16 ? float_to_bfloat16(nn_f(f)[i]) : float_to_half(nn_f(f)[i]);
    return t;
}

static Tensor widen(const Tensor *t) {
    Tensor f = tz(DT_FLOAT, t->shape.rank, t->shape.dim);
    for (int64_t i = 0; i < tensor_numel(t); i++) nn_fm(&f)[i] = (float)tensor_get(t, i);
    return f;
}

static void set_floats(Graph *g, int node, const char *name, int count, const float *v) {
    Err e;
    CHECK_OK(node_set_attr_list_f(g->nodes[node], name, v, count, &e), &e);
}
static void set_type(Graph *g, int node, const char *name, int dt) {
    Err e;
    CHECK_OK(node_set_attr_type(g->nodes[node], name, dt, &e), &e);
}

/* ---- bfloat16 / float16 emulation ---- */

static void test_lowp_applies(void **state) {
    (void)state;
    Value outs[1] = {{.dtype = DT_BFLOAT16}};
    Node nd = {.op = OP_CONV2D, .n_inputs = 2, .n_outputs = 1, .outputs = outs};
    Tensor in[2] = {{.dtype = DT_BFLOAT16}, {.dtype = DT_BFLOAT16}};
    assert_true(ref_lowp_applies(&nd, in));
    nd.op = OP_MAX_POOL;
    assert_true(ref_lowp_applies(&nd, in));
    nd.op = OP_ADD_V2; /* elementwise kernels take bf16 themselves (double, one rounding) */
    assert_false(ref_lowp_applies(&nd, in));
    nd.op = OP_RESHAPE; /* data movement handles every dtype itself */
    assert_false(ref_lowp_applies(&nd, in));
    nd.op = OP_CAST;
    nd.n_inputs = 1;
    assert_false(ref_lowp_applies(&nd, in));
    nd.op = OP_MATMUL; /* float32 everywhere: the plain kernel */
    nd.n_inputs = 2;
    in[0].dtype = in[1].dtype = outs[0].dtype = DT_FLOAT;
    assert_false(ref_lowp_applies(&nd, in));
    outs[0].dtype = DT_HALF; /* a low-precision output alone is enough */
    assert_true(ref_lowp_applies(&nd, in));
}

/* Conv2D / _FusedConv2D with T=bf16 (or f16) == the float32 kernel on widened inputs, rounded */
static void check_conv_emulation(int dtype, bool fused) {
    Tensor xf = nn_rand(11, 4, (int64_t[]){1, 5, 6, 3}), wf = nn_rand(12, 4, (int64_t[]){3, 3, 3, 4});
    Tensor bf = nn_rand(13, 1, (int64_t[]){4});
    Tensor x = to_lowp(&xf, dtype), w = to_lowp(&wf, dtype), b = to_lowp(&bf, dtype);
    Tensor xw = widen(&x), ww = widen(&w), bw = widen(&b);
    tensor_release(&xf); tensor_release(&wf); tensor_release(&bf);
    const char *op = fused ? "_FusedConv2D" : "Conv2D";
    const char *ops[2] = {"BiasAdd", "Relu"};
    int node;
    Tensor lin[3] = {x, w, b}, fin[3] = {xw, ww, bw};
    Graph *gl = nn_graph(op, lin, fused ? 3 : 2, &node);
    nn_window(gl, node, "SAME", 2, 1, false);
    set_type(gl, node, "T", dtype);
    if (fused) nn_strs(gl, node, "fused_ops", 2, ops);
    Graph *gf = nn_graph(op, fin, fused ? 3 : 2, &node);
    nn_window(gf, node, "SAME", 2, 1, false);
    if (fused) nn_strs(gf, node, "fused_ops", 2, ops);
    if (!fused) { tensor_release(&b); tensor_release(&bw); }
    Tensor yl = nn_run1(gl, node), yf = nn_run1(gf, node);
    assert_int_equal(yl.dtype, dtype);
    assert_int_equal(tensor_numel(&yl), tensor_numel(&yf));
    const uint16_t *pl = tensor_data(&yl);
    for (int64_t i = 0; i < tensor_numel(&yf); i++) {
        float v = nn_f(&yf)[i];
        uint16_t want = dtype == DT_BFLOAT16 ? float_to_bfloat16(v) : float_to_half(v);
        if (pl[i] != want) {
            print_error("element %lld: 0x%04x, expected 0x%04x (float32 %.9g)\n", (long long)i, pl[i], want, v);
            fail();
        }
    }
    tensor_release(&yl);
    tensor_release(&yf);
}

static void test_bf16_conv_emulation(void **state) {
    (void)state;
    check_conv_emulation(DT_BFLOAT16, false);
    check_conv_emulation(DT_BFLOAT16, true);
    check_conv_emulation(DT_HALF, true);
}

/* MatMul [1,2] x [2,1] with hand-made sums whose rounding to bf16/f16 is known */
static uint16_t matmul_lowp(int dtype, float x1, float w1) {
    Tensor xf = nn_from(2, (int64_t[]){1, 2}, (double[]){1.0, x1}), wf = nn_from(2, (int64_t[]){2, 1}, (double[]){1.0, w1});
    Tensor in[2] = {to_lowp(&xf, dtype), to_lowp(&wf, dtype)};
    /* the operands must be exact in the narrow type, or the case is not what it claims */
    assert_true(tensor_get(&in[0], 1) == x1 && tensor_get(&in[1], 1) == w1);
    tensor_release(&xf);
    tensor_release(&wf);
    int node;
    Graph *g = nn_graph("MatMul", in, 2, &node);
    set_type(g, node, "T", dtype);
    Tensor y = nn_run1(g, node);
    assert_int_equal(y.dtype, dtype);
    uint16_t bits = ((const uint16_t *)tensor_data(&y))[0];
    tensor_release(&y);
    return bits;
}

static void test_lowp_matmul_rounding_by_hand(void **state) {
    (void)state;
    /* bfloat16 has 8 significant bits: neighbours of 1 are 1 and 1 + 2^-7 */
    assert_int_equal(matmul_lowp(DT_BFLOAT16, 1.0f, 0x1p-8f), 0x3F80);             /* 1 + 2^-8: tie -> even (1.0) */
    assert_int_equal(matmul_lowp(DT_BFLOAT16, 1.0f + 0x1p-7f, 0x1p-8f), 0x3F81);   /* 1 + 2^-8 + 2^-15: above the tie */
    assert_int_equal(matmul_lowp(DT_BFLOAT16, 1.0f, 3 * 0x1p-8f), 0x3F82);         /* 1 + 1.5 * 2^-7: tie -> even */
    assert_int_equal(matmul_lowp(DT_BFLOAT16, 1.0f, 0x1p-9f), 0x3F80);             /* below the tie */
    /* float16 has 11: neighbours of 1 are 1 and 1 + 2^-10 */
    assert_int_equal(matmul_lowp(DT_HALF, 1.0f, 0x1p-11f), 0x3C00);
    assert_int_equal(matmul_lowp(DT_HALF, 1.0f, 3 * 0x1p-11f), 0x3C02);
    assert_int_equal(matmul_lowp(DT_HALF, 1.0f + 0x1p-10f, 0x1p-11f), 0x3C01);     /* 1 + 2^-11 + 2^-21: above */
}

/* batch norm with mixed dtypes (bf16 x, float32 statistics), and max pooling */
static void test_bf16_batchnorm_and_pool(void **state) {
    (void)state;
    int node;
    Tensor af = nn_rand(21, 2, (int64_t[]){3, 5});
    Tensor xb = to_lowp(&af, DT_BFLOAT16);
    Tensor wa = widen(&xb);
    /* FusedBatchNormV3(T=bf16, U=float) in inference mode */
    Tensor x4 = tz(DT_BFLOAT16, 4, (int64_t[]){1, 3, 1, 5});
    memcpy(tensor_mut(&x4), tensor_data(&xb), 15 * 2);
    Tensor bn[5] = {x4, nn_from(1, (int64_t[]){5}, (double[]){1, 2, 0.5, 1, 3}), nn_from(1, (int64_t[]){5}, (double[]){0, 1, -1, 0.25, 0}),
                    nn_from(1, (int64_t[]){5}, (double[]){0.1, 0, 0.2, -0.3, 0}), nn_from(1, (int64_t[]){5}, (double[]){1, 4, 0.25, 1, 2})};
    Graph *gb = nn_graph("FusedBatchNormV3", bn, 5, &node);
    nn_bool(gb, node, "is_training", false);
    nn_float(gb, node, "epsilon", 0.001f);
    Tensor outs[6] = {{0}};
    Err e;
    CHECK_OK(nn_run(gb, node, outs, 6, &e), &e);
    assert_int_equal(outs[0].dtype, DT_BFLOAT16);
    const double scale[5] = {1, 2, 0.5, 1, 3}, off[5] = {0, 1, -1, 0.25, 0}, mean[5] = {0.1, 0, 0.2, -0.3, 0},
                 var[5] = {1, 4, 0.25, 1, 2};
    for (int64_t i = 0; i < 15; i++) {
        int c = (int)(i % 5);
        double want = (nn_f(&wa)[i] - (float)mean[c]) * ((float)scale[c] / sqrt((double)(float)var[c] + 0.001f)) + (float)off[c];
        /* float32 kernel result within a few float32 ulps of want, then one bf16 rounding */
        assert_true(fabs(tensor_get(&outs[0], i) - want) <= fabs(want) * 0x1p-8 + 1e-6);
    }
    for (int k = 0; k < gb->nodes[node]->n_outputs; k++) tensor_release(&outs[k]);
    graph_free(gb);

    /* MaxPool over bf16 picks bf16 values exactly: 3x1 windows down the rows */
    Tensor p4 = tz(DT_BFLOAT16, 4, (int64_t[]){1, 3, 5, 1});
    memcpy(tensor_mut(&p4), tensor_data(&xb), 15 * 2);
    Graph *gp = nn_graph("MaxPool", &p4, 1, &node);
    nn_window(gp, node, "VALID", 1, 1, false);
    nn_ints(gp, node, "ksize", 4, (int64_t[]){1, 3, 1, 1});
    Tensor y = nn_run1(gp, node);
    assert_int_equal(y.dtype, DT_BFLOAT16);
    for (int64_t j = 0; j < 5; j++) {
        float m = fmaxf(fmaxf(nn_f(&wa)[j], nn_f(&wa)[5 + j]), nn_f(&wa)[10 + j]);
        assert_true(tensor_get(&y, j) == m);
    }
    tensor_release(&y);
    tensor_release(&xb);
    tensor_release(&af);
    tensor_release(&wa);
}

/* ---- GrappoQuantize / GrappoDequantize ---- */

static Tensor run_quantize(const double *x, int count, int dtype, float scale, int64_t zp) {
    Tensor in[1] = {nn_from(1, (int64_t[]){count}, x)};
    int node;
    Graph *g = nn_graph("GrappoQuantize", in, 1, &node);
    set_type(g, node, "T", dtype);
    nn_float(g, node, "scale", scale);
    if (zp) nn_int(g, node, "zero_point", zp);
    return nn_run1(g, node);
}

static void expect_ints(const Tensor *t, int dtype, const int64_t *want, int count) {
    assert_int_equal(t->dtype, dtype);
    assert_int_equal(tensor_numel(t), count);
    for (int i = 0; i < count; i++) {
        if ((int64_t)tensor_get(t, i) != want[i]) {
            print_error("element %d: %lld, expected %lld\n", i, (long long)tensor_get(t, i), (long long)want[i]);
            fail();
        }
    }
}

static void test_quantize_by_hand(void **state) {
    (void)state;
    /* ties to even, clamping at 0 and 255, NaN -> zero point, infinities clamp */
    double x1[] = {2.5, 3.5, 0.5, 1.5, -0.7, 300, 254.5, 255.5, NAN, -INFINITY, INFINITY, 0.49999997};
    Tensor q = run_quantize(x1, 12, DT_UINT8, 1.0f, 0);
    expect_ints(&q, DT_UINT8, (int64_t[]){2, 4, 0, 2, 0, 255, 254, 255, 0, 0, 255, 0}, 12);
    tensor_release(&q);
    /* int8, scale 0.5, zero point -3: t = x / 0.5 */
    double x2[] = {-1.25, 1.25, 100, -100, 0.75, NAN, 63.75};
    q = run_quantize(x2, 7, DT_INT8, 0.5f, -3);
    /* -2.5 -> -2 -> -5; 2.5 -> 2 -> -1; 200 -> 127 (clamped); -200 -> -128; 1.5 -> 2 -> -1; NaN -> -3; 127.5 -> 128 -> 125 */
    expect_ints(&q, DT_INT8, (int64_t[]){-5, -1, 127, -128, -1, -3, 125}, 7);
    tensor_release(&q);
    /* uint8 with zero point 128 (a signed range): -0.5 -> -0 -> 128; -1.5 -> -2 -> 126; -200 -> 0 */
    double x3[] = {-0.5, -1.5, -200, 127.4, 126.5};
    q = run_quantize(x3, 5, DT_UINT8, 1.0f, 128);
    expect_ints(&q, DT_UINT8, (int64_t[]){128, 126, 0, 255, 254}, 5);
    tensor_release(&q);
    /* the quotient is the float32 one: 0x1.a66668p+0 / 0.1f is 16.5000007 exactly but 16.5 in
       float32, so it rounds (half to even) to 16, not 17 */
    double x4[] = {0x1.a66668p+0, 0.25};
    q = run_quantize(x4, 2, DT_UINT8, 0.1f, 0);
    expect_ints(&q, DT_UINT8, (int64_t[]){16, 2}, 2);
    tensor_release(&q);
    assert_int_equal(lowp_quantize_one(-0.0f, 1.0f, 5, DT_INT8), 5);
}

static Tensor run_dequantize(Tensor q, int64_t axis, const float *scales, int n_scales, int64_t zp) {
    int node;
    Graph *g = nn_graph("GrappoDequantize", &q, 1, &node);
    if (axis >= 0) {
        nn_int(g, node, "axis", axis);
        set_floats(g, node, "scales", n_scales, scales);
    } else {
        nn_float(g, node, "scale", scales[0]);
    }
    if (zp) nn_int(g, node, "zero_point", zp);
    return nn_run1(g, node);
}

static void test_dequantize_by_hand(void **state) {
    (void)state;
    Tensor q = tz(DT_UINT8, 1, (int64_t[]){3});
    uint8_t *pu = tensor_mut(&q);
    pu[0] = 0; pu[1] = 128; pu[2] = 255;
    Tensor y = run_dequantize(q, -1, (float[]){0.5f}, 1, 128);
    nn_assert_values(&y, 1, (int64_t[]){3}, (double[]){-64, 0, 63.5}, 0);
    tensor_release(&y);

    int8_t v[6] = {1, 2, 3, -4, -5, -6};
    q = tz(DT_INT8, 2, (int64_t[]){2, 3});
    memcpy(tensor_mut(&q), v, 6);
    y = run_dequantize(q, 1, (float[]){1, 0.5f, 0.25f}, 3, 0); /* per column */
    nn_assert_values(&y, 2, (int64_t[]){2, 3}, (double[]){1, 1, 0.75, -4, -2.5, -1.5}, 0);
    tensor_release(&y);
    q = tz(DT_INT8, 2, (int64_t[]){2, 3});
    memcpy(tensor_mut(&q), v, 6);
    y = run_dequantize(q, 0, (float[]){2, 3}, 2, -1); /* per row, zero point -1 */
    nn_assert_values(&y, 2, (int64_t[]){2, 3}, (double[]){4, 6, 8, -9, -12, -15}, 0);
    tensor_release(&y);

    /* int32 (an accumulator): one rounding of the exact product */
    Tensor q32 = tt_i32(1, (int64_t[]){3}, (int32_t[]){100000, -7, 2147483647});
    y = run_dequantize(q32, -1, (float[]){1e-3f}, 1, 0);
    assert_true(nn_f(&y)[0] == (float)(100000.0 * (double)1e-3f));
    assert_true(nn_f(&y)[1] == (float)(-7.0 * (double)1e-3f));
    assert_true(nn_f(&y)[2] == (float)(2147483647.0 * (double)1e-3f));
    tensor_release(&y);
}

static void test_quant_attr_errors(void **state) {
    (void)state;
    int node;
    Tensor in[1] = {nn_from(1, (int64_t[]){2}, (double[]){1, 2})};
    Graph *g = nn_graph("GrappoQuantize", in, 1, &node);
    nn_float(g, node, "scale", 1.0f);
    nn_expect_infer_error(g, ERR_INPUT, "attribute T");
    in[0] = nn_from(1, (int64_t[]){2}, (double[]){1, 2});
    g = nn_graph("GrappoQuantize", in, 1, &node);
    set_type(g, node, "T", DT_INT32);
    nn_float(g, node, "scale", 1.0f);
    nn_expect_infer_error(g, ERR_INPUT, "uint8 or int8");
    in[0] = nn_from(1, (int64_t[]){2}, (double[]){1, 2});
    g = nn_graph("GrappoQuantize", in, 1, &node);
    set_type(g, node, "T", DT_UINT8);
    nn_float(g, node, "scale", 0.0f);
    nn_expect_infer_error(g, ERR_INPUT, "scale must be finite and > 0");
    in[0] = nn_from(1, (int64_t[]){2}, (double[]){1, 2});
    g = nn_graph("GrappoQuantize", in, 1, &node);
    set_type(g, node, "T", DT_UINT8);
    nn_float(g, node, "scale", 1.0f);
    nn_int(g, node, "zero_point", 256);
    nn_expect_infer_error(g, ERR_INPUT, "zero_point = 256");
    /* dequantize: float input, scales count, axis range */
    in[0] = nn_from(1, (int64_t[]){2}, (double[]){1, 2});
    g = nn_graph("GrappoDequantize", in, 1, &node);
    nn_float(g, node, "scale", 1.0f);
    nn_expect_infer_error(g, ERR_INPUT, "uint8, int8 or int32");
    in[0] = tz(DT_INT8, 2, (int64_t[]){2, 3});
    g = nn_graph("GrappoDequantize", in, 1, &node);
    nn_int(g, node, "axis", 1);
    set_floats(g, node, "scales", 2, (float[]){1, 2});
    nn_expect_infer_error(g, ERR_INPUT, "scales has 2 values, expected 3");
    in[0] = tz(DT_INT8, 2, (int64_t[]){2, 3});
    g = nn_graph("GrappoDequantize", in, 1, &node);
    nn_int(g, node, "axis", 2);
    set_floats(g, node, "scales", 2, (float[]){1, 2});
    nn_expect_infer_error(g, ERR_INPUT, "axis 2 is out of range");
}

/* ---- GrappoQConv2D / GrappoQMatMul against float32 on dequantized values ---- */

typedef struct QCase {
    int64_t n, h, w, c, kh, kw, cout; /* depthwise: cout = c * multiplier */
    bool depthwise;
    const char *padding;
    int64_t stride, dilation;
    int x_zp;
    bool add;
    const char *act; /* NULL, "Relu", "Relu6" */
    uint64_t seed;
} QCase;

/* sets every GrappoQConv2D attribute of the case (out_type float32) */
static void qconv_attrs(Graph *g, int node, const QCase *q, float x_scale, const float *ws) {
    nn_window(g, node, q->padding, q->stride, q->stride, false);
    if (!strcmp(q->padding, "EXPLICIT")) nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 1, 2, 2, 0, 0, 0});
    nn_ints(g, node, "dilations", 4, (int64_t[]){1, q->dilation, q->dilation, 1});
    nn_bool(g, node, "depthwise", q->depthwise);
    nn_float(g, node, "x_scale", x_scale);
    nn_int(g, node, "x_zero_point", q->x_zp);
    set_floats(g, node, "filter_scales", (int)q->cout, ws);
    const char *ops[3] = {"BiasAdd"};
    int n_ops = 1;
    if (q->add) ops[n_ops++] = "Add";
    if (q->act) ops[n_ops++] = q->act;
    nn_strs(g, node, "fused_ops", n_ops, ops);
}

/* the operands of a case: x u8, filter s8, bias, addend (float32) and the scales */
typedef struct QOperands {
    Tensor x, f, bias, addend;
    float x_scale, ws[64];
} QOperands;

static QOperands q_operands(const QCase *q) {
    QOperands o;
    memset(&o, 0, sizeof o);
    o.x = tz(DT_UINT8, 4, (int64_t[]){q->n, q->h, q->w, q->c});
    fill_int(&o.x, q->seed, 0, 255);
    int64_t fdims[4] = {q->kh, q->kw, q->c, q->depthwise ? q->cout / q->c : q->cout};
    o.f = tz(DT_INT8, 4, fdims);
    fill_int(&o.f, q->seed + 1, -127, 127);
    o.bias = nn_rand(q->seed + 2, 1, (int64_t[]){q->cout});
    o.x_scale = 0.0173f;
    for (int64_t c = 0; c < q->cout; c++) o.ws[c] = 0.002f + 0.0007f * (float)c;
    return o;
}

/* GrappoQConv2D (reference) of the case with out_type float32 (or uint8 with out_scale/zp) */
static Tensor run_qconv(const QCase *q, const QOperands *o, int out_type, float out_scale, int out_zp, const Tensor *addend) {
    Tensor in[4] = {tensor_share(&o->x), tensor_share(&o->f), tensor_share(&o->bias), {0}};
    if (q->add) in[3] = tensor_share(addend);
    int node;
    Graph *g = nn_graph("GrappoQConv2D", in, q->add ? 4 : 3, &node);
    qconv_attrs(g, node, q, o->x_scale, o->ws);
    if (out_type == DT_UINT8) {
        set_type(g, node, "out_type", DT_UINT8);
        nn_float(g, node, "out_scale", out_scale);
        nn_int(g, node, "out_zero_point", out_zp);
    }
    return nn_run1(g, node);
}

/* the float32 convolution of the dequantized operands (absolute values when abs_mode, no
   epilogue then: the sum of |terms| that bounds the rounding error) */
static Tensor run_float_conv(const QCase *q, const QOperands *o, const Tensor *addend, bool abs_mode) {
    Tensor xf = tz(DT_FLOAT, 4, o->x.shape.dim), wf = tz(DT_FLOAT, 4, o->f.shape.dim);
    for (int64_t i = 0; i < tensor_numel(&xf); i++) {
        float v = (float)((tensor_get(&o->x, i) - q->x_zp) * o->x_scale);
        nn_fm(&xf)[i] = abs_mode ? fabsf(v) : v;
    }
    for (int64_t i = 0; i < tensor_numel(&wf); i++) {
        float v = (float)(tensor_get(&o->f, i) * o->ws[i % q->cout]); /* HWIO / [KH,KW,C,M]: output channel is the fastest index */
        nn_fm(&wf)[i] = abs_mode ? fabsf(v) : v;
    }
    Tensor in[4] = {xf, wf, tensor_share(&o->bias), {0}};
    int n_in = 3;
    if (q->add && !abs_mode) in[n_in++] = tensor_share(addend);
    const char *op = q->depthwise ? "FusedDepthwiseConv2dNative" : "_FusedConv2D";
    if (abs_mode) {
        op = q->depthwise ? "DepthwiseConv2dNative" : "Conv2D";
        tensor_release(&in[2]);
        n_in = 2;
    }
    int node;
    Graph *g = nn_graph(op, in, n_in, &node);
    nn_window(g, node, q->padding, q->stride, q->stride, false);
    if (!strcmp(q->padding, "EXPLICIT")) nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 1, 2, 2, 0, 0, 0});
    nn_ints(g, node, "dilations", 4, (int64_t[]){1, q->dilation, q->dilation, 1});
    if (!abs_mode) {
        const char *ops[3] = {"BiasAdd"};
        int n_ops = 1;
        if (q->add) ops[n_ops++] = "Add";
        if (q->act) ops[n_ops++] = q->act;
        nn_strs(g, node, "fused_ops", n_ops, ops);
    }
    return nn_run1(g, node);
}

static void check_qconv_case(const QCase *q) {
    QOperands o = q_operands(q);
    Tensor addend = {0};
    Tensor probe = run_float_conv(q, &o, NULL, true); /* |x|*|w| sums: also gives the output shape */
    if (q->add) addend = nn_rand(q->seed + 3, 4, probe.shape.dim);
    Tensor y = run_qconv(q, &o, DT_FLOAT, 1, 0, &addend);
    Tensor yf = run_float_conv(q, &o, &addend, false);
    assert_true(shape_equal(&y.shape, &yf.shape));
    /* the float path rounds x_r, w_r (1 ulp each), their product in double is exact, the
       double sum is exact to ~2^-53, then the output is rounded once (and the epilogue
       stays in double): |dy| <= 2 * 2^-24 * sum|x_r w_r| + 2^-24 |y| for both, so 4x that */
    int64_t cout = q->cout;
    for (int64_t i = 0; i < tensor_numel(&y); i++) {
        double s = nn_f(&probe)[i], b = fabs(nn_f(&o.bias)[i % cout]), a = q->add ? fabs(nn_f(&addend)[i]) : 0;
        double tol = 4 * EPS32 * (s + b + a + fabs(nn_f(&yf)[i])) + 1e-30;
        if (!(fabs(nn_f(&y)[i] - nn_f(&yf)[i]) <= tol)) {
            print_error("element %lld: %.9g vs float %.9g (tol %.3g)\n", (long long)i, nn_f(&y)[i], nn_f(&yf)[i], tol);
            fail();
        }
    }
    /* uint8 output == GrappoQuantize of the float32 output, exactly */
    Tensor yq = run_qconv(q, &o, DT_UINT8, 0.037f, 3, &addend);
    assert_int_equal(yq.dtype, DT_UINT8);
    for (int64_t i = 0; i < tensor_numel(&y); i++)
        assert_int_equal((int64_t)tensor_get(&yq, i), lowp_quantize_one(nn_f(&y)[i], 0.037f, 3, DT_UINT8));
    Tensor *all[] = {&o.x, &o.f, &o.bias, &addend, &probe, &y, &yf, &yq};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) tensor_release(all[k]);
}

static void test_qconv_matches_float(void **state) {
    (void)state;
    QCase cases[] = {
        {1, 5, 6, 3, 3, 3, 4, false, "SAME", 1, 1, 0, false, NULL, 101},
        {2, 7, 5, 4, 3, 2, 5, false, "VALID", 2, 1, 7, true, "Relu", 102},
        {1, 6, 6, 8, 1, 1, 3, false, "SAME", 1, 1, 128, true, "Relu6", 103},
        {1, 7, 7, 2, 3, 3, 2, false, "SAME", 1, 2, 5, false, "Relu", 104},  /* dilation 2 */
        {1, 5, 4, 3, 2, 3, 4, false, "EXPLICIT", 2, 1, 0, false, NULL, 105},
        {1, 6, 5, 4, 3, 3, 4, true, "SAME", 1, 1, 9, false, "Relu6", 106},   /* depthwise */
        {1, 5, 5, 3, 3, 3, 6, true, "VALID", 2, 1, 0, true, "Relu", 107},   /* depthwise, multiplier 2 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_qconv_case(&cases[i]);
}

static void check_qmatmul(int64_t m, int64_t k, int64_t n, bool tb, int x_zp, const char *act, uint64_t seed) {
    Tensor x = tz(DT_UINT8, 2, (int64_t[]){m, k}), w = tz(DT_INT8, 2, (int64_t[]){tb ? n : k, tb ? k : n});
    fill_int(&x, seed, 0, 255);
    fill_int(&w, seed + 1, -127, 127);
    Tensor bias = nn_rand(seed + 2, 1, (int64_t[]){n});
    float x_scale = 0.011f, ws[64];
    for (int64_t j = 0; j < n; j++) ws[j] = 0.003f + 0.0005f * (float)j;
    /* quantized */
    Tensor in[3] = {tensor_share(&x), tensor_share(&w), tensor_share(&bias)};
    int node;
    Graph *g = nn_graph("GrappoQMatMul", in, 3, &node);
    nn_float(g, node, "x_scale", x_scale);
    nn_int(g, node, "x_zero_point", x_zp);
    set_floats(g, node, "w_scales", (int)n, ws);
    nn_bool(g, node, "transpose_b", tb);
    const char *ops[2] = {"BiasAdd", act};
    nn_strs(g, node, "fused_ops", act ? 2 : 1, ops);
    Tensor y = nn_run1(g, node);
    /* float on dequantized values, and the |terms| sums */
    Tensor xf = tz(DT_FLOAT, 2, x.shape.dim), wf = tz(DT_FLOAT, 2, w.shape.dim), xa = tz(DT_FLOAT, 2, x.shape.dim),
           wa = tz(DT_FLOAT, 2, w.shape.dim);
    for (int64_t i = 0; i < m * k; i++) nn_fm(&xa)[i] = fabsf(nn_fm(&xf)[i] = (float)((tensor_get(&x, i) - x_zp) * x_scale));
    for (int64_t i = 0; i < k * n; i++) {
        int64_t col = tb ? i / k : i % n;
        nn_fm(&wa)[i] = fabsf(nn_fm(&wf)[i] = (float)(tensor_get(&w, i) * ws[col]));
    }
    Tensor fin[3] = {xf, wf, tensor_share(&bias)};
    g = nn_graph("_FusedMatMul", fin, 3, &node);
    nn_bool(g, node, "transpose_b", tb);
    nn_strs(g, node, "fused_ops", act ? 2 : 1, ops);
    Tensor yf = nn_run1(g, node);
    Tensor ain[2] = {xa, wa};
    g = nn_graph("MatMul", ain, 2, &node);
    nn_bool(g, node, "transpose_b", tb);
    Tensor sabs = nn_run1(g, node);
    for (int64_t i = 0; i < m * n; i++) {
        double tol = 4 * EPS32 * (nn_f(&sabs)[i] + fabs(nn_f(&bias)[i % n]) + fabs(nn_f(&yf)[i]));
        if (!(fabs(nn_f(&y)[i] - nn_f(&yf)[i]) <= tol)) {
            print_error("element %lld: %.9g vs float %.9g (tol %.3g)\n", (long long)i, nn_f(&y)[i], nn_f(&yf)[i], tol);
            fail();
        }
    }
    Tensor *all[] = {&x, &w, &bias, &y, &yf, &sabs};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_release(all[i]);
}

static void test_qmatmul_matches_float(void **state) {
    (void)state;
    check_qmatmul(3, 7, 5, false, 0, NULL, 201);
    check_qmatmul(4, 9, 6, true, 128, "Relu", 202);
    check_qmatmul(2, 16, 3, false, 17, "GeluExact", 203);
    check_qmatmul(5, 3, 4, true, 0, "Relu6", 204);
}

/* a tiny case computed by hand: x = [[10, 20]], zp 10, x_scale 0.5 -> real [0, 5];
   w = [[1, -2], [3, 4]], scales [0.25, 0.5] -> real [[0.25, -1], [0.75, 2]];
   y = [0*0.25 + 5*0.75, 0*(-1) + 5*2] + bias [1, -20] = [4.75, -10]; Relu -> [4.75, 0] */
static void test_qmatmul_by_hand(void **state) {
    (void)state;
    Tensor x = tz(DT_UINT8, 2, (int64_t[]){1, 2}), w = tz(DT_INT8, 2, (int64_t[]){2, 2});
    uint8_t *px = tensor_mut(&x);
    px[0] = 10; px[1] = 20;
    int8_t *pw = tensor_mut(&w);
    pw[0] = 1; pw[1] = -2; pw[2] = 3; pw[3] = 4;
    for (int relu = 0; relu < 2; relu++) {
        Tensor in[3] = {tensor_share(&x), tensor_share(&w), nn_from(1, (int64_t[]){2}, (double[]){1, -20})};
        int node;
        Graph *g = nn_graph("GrappoQMatMul", in, 3, &node);
        nn_float(g, node, "x_scale", 0.5f);
        nn_int(g, node, "x_zero_point", 10);
        set_floats(g, node, "w_scales", 2, (float[]){0.25f, 0.5f});
        const char *ops[2] = {"BiasAdd", "Relu"};
        nn_strs(g, node, "fused_ops", relu ? 2 : 1, ops);
        Tensor y = nn_run1(g, node);
        nn_assert_values(&y, 2, (int64_t[]){1, 2}, (double[]){4.75, relu ? 0 : -10}, 0);
        tensor_release(&y);
    }
    /* uint8 output: 4.75 / 0.5 = 9.5 -> 10 (even) + zp 100 = 110; -10 / 0.5 = -20 + 100 = 80 */
    Tensor in[3] = {tensor_share(&x), tensor_share(&w), nn_from(1, (int64_t[]){2}, (double[]){1, -20})};
    int node;
    Graph *g = nn_graph("GrappoQMatMul", in, 3, &node);
    nn_float(g, node, "x_scale", 0.5f);
    nn_int(g, node, "x_zero_point", 10);
    set_floats(g, node, "w_scales", 2, (float[]){0.25f, 0.5f});
    nn_strs(g, node, "fused_ops", 1, (const char *[]){"BiasAdd"});
    set_type(g, node, "out_type", DT_UINT8);
    nn_float(g, node, "out_scale", 0.5f);
    nn_int(g, node, "out_zero_point", 100);
    Tensor y = nn_run1(g, node);
    expect_ints(&y, DT_UINT8, (int64_t[]){110, 80}, 2);
    tensor_release(&y);
    tensor_release(&x);
    tensor_release(&w);
}

/* a 1x1 depthwise-free conv by hand with padding: x 1x2x2x1 = [[1, 2], [3, 4]] (zp 1, scale
   1 -> [[0, 1], [2, 3]]), filter 2x2x1x1 all 1 (scale 0.5), SAME: each output sums its 2x2
   window (padding contributes 0 real): [[6, 4], [5, 3]] * 0.5 = [[3, 2], [2.5, 1.5]] */
static void test_qconv_by_hand(void **state) {
    (void)state;
    Tensor x = tz(DT_UINT8, 4, (int64_t[]){1, 2, 2, 1}), f = tz(DT_INT8, 4, (int64_t[]){2, 2, 1, 1});
    uint8_t *px = tensor_mut(&x);
    px[0] = 1; px[1] = 2; px[2] = 3; px[3] = 4;
    int8_t *pf = tensor_mut(&f);
    pf[0] = pf[1] = pf[2] = pf[3] = 1;
    Tensor in[3] = {x, f, nn_from(1, (int64_t[]){1}, (double[]){0})};
    int node;
    Graph *g = nn_graph("GrappoQConv2D", in, 3, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_float(g, node, "x_scale", 1.0f);
    nn_int(g, node, "x_zero_point", 1);
    set_floats(g, node, "filter_scales", 1, (float[]){0.5f});
    nn_strs(g, node, "fused_ops", 1, (const char *[]){"BiasAdd"});
    Tensor y = nn_run1(g, node);
    nn_assert_values(&y, 4, (int64_t[]){1, 2, 2, 1}, (double[]){3, 2, 2.5, 1.5}, 0);
    tensor_release(&y);
}

static Graph *qconv_graph(int x_dtype, int64_t cout_scales, const char *const *ops, int n_ops, int n_in, int *node) {
    Tensor in[4];
    in[0] = tz(x_dtype, 4, (int64_t[]){1, 4, 4, 3});
    in[1] = tz(DT_INT8, 4, (int64_t[]){3, 3, 3, 2});
    in[2] = tz(DT_FLOAT, 1, (int64_t[]){2});
    in[3] = tz(DT_FLOAT, 4, (int64_t[]){1, 4, 4, 2});
    for (int k = n_in; k < 4; k++) tensor_release(&in[k]);
    Graph *g = nn_graph("GrappoQConv2D", in, n_in, node);
    nn_window(g, *node, "SAME", 1, 1, false);
    nn_float(g, *node, "x_scale", 0.1f);
    float s[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    set_floats(g, *node, "filter_scales", (int)cout_scales, s);
    nn_strs(g, *node, "fused_ops", n_ops, ops);
    return g;
}

static void test_qops_infer_errors_and_flops(void **state) {
    (void)state;
    int node;
    Err e;
    const char *relu[2] = {"BiasAdd", "Relu"};
    Graph *g = qconv_graph(DT_UINT8, 2, relu, 2, 3, &node);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(g->nodes[node]->outputs[0].dtype, DT_FLOAT);
    /* 32 outputs x (2 * 3*3*3 MACs + bias + relu) */
    assert_int_equal(node_flops(g, g->nodes[node]), 32 * (2 * 27 + 2));
    graph_free(g);
    nn_expect_infer_error(qconv_graph(DT_INT8, 2, relu, 2, 3, &node), ERR_INPUT, "x (input 0) must be uint8");
    nn_expect_infer_error(qconv_graph(DT_UINT8, 3, relu, 2, 3, &node), ERR_INPUT, "filter_scales has 3 values, expected 2");
    const char *sig[2] = {"BiasAdd", "Sigmoid"};
    nn_expect_infer_error(qconv_graph(DT_UINT8, 2, sig, 2, 3, &node), ERR_INPUT, "Sigmoid is not supported");
    const char *noadd[1] = {"Relu"};
    nn_expect_infer_error(qconv_graph(DT_UINT8, 2, noadd, 1, 3, &node), ERR_INPUT, "fused_ops");
    const char *add[2] = {"BiasAdd", "Add"};
    nn_expect_infer_error(qconv_graph(DT_UINT8, 2, add, 2, 3, &node), ERR_INPUT, "fused_ops");
    g = qconv_graph(DT_UINT8, 2, add, 2, 4, &node);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    graph_free(g);
    g = qconv_graph(DT_UINT8, 2, relu, 2, 3, &node);
    nn_str(g, node, "data_format", "NCHW");
    nn_expect_infer_error(g, ERR_INPUT, "data_format must be NHWC");
    g = qconv_graph(DT_UINT8, 2, relu, 2, 3, &node);
    set_type(g, node, "out_type", DT_INT8);
    nn_expect_infer_error(g, ERR_INPUT, "out_type must be float32 or uint8");
    g = qconv_graph(DT_UINT8, 2, relu, 2, 3, &node);
    set_type(g, node, "out_type", DT_UINT8);
    nn_expect_infer_error(g, ERR_INPUT, "out_scale");
    g = qconv_graph(DT_UINT8, 2, relu, 2, 3, &node);
    node_attr_remove(g->nodes[node], "x_scale");
    nn_expect_infer_error(g, ERR_INPUT, "x_scale");
    /* matmul: inner dims, GeluExact accepted, Add rejected */
    Tensor in[3] = {tz(DT_UINT8, 2, (int64_t[]){2, 5}), tz(DT_INT8, 2, (int64_t[]){4, 3}), tz(DT_FLOAT, 1, (int64_t[]){3})};
    g = nn_graph("GrappoQMatMul", in, 3, &node);
    nn_float(g, node, "x_scale", 1.0f);
    set_floats(g, node, "w_scales", 3, (float[]){1, 1, 1});
    nn_strs(g, node, "fused_ops", 1, (const char *[]){"BiasAdd"});
    nn_expect_infer_error(g, ERR_INPUT, "inner dimensions differ");
    Tensor in2[3] = {tz(DT_UINT8, 3, (int64_t[]){2, 3, 4}), tz(DT_INT8, 2, (int64_t[]){4, 3}), tz(DT_FLOAT, 1, (int64_t[]){3})};
    g = nn_graph("GrappoQMatMul", in2, 3, &node);
    nn_float(g, node, "x_scale", 1.0f);
    set_floats(g, node, "w_scales", 3, (float[]){1, 1, 1});
    nn_strs(g, node, "fused_ops", 2, (const char *[]){"BiasAdd", "GeluExact"});
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    const Shape *os = &g->nodes[node]->outputs[0].shape;
    assert_int_equal(os->rank, 3);
    assert_int_equal(os->dim[2], 3);
    assert_int_equal(node_flops(g, g->nodes[node]), 18 * (2 * 4 + 2));
    graph_free(g);
}

/* the int8 ops survive GraphDef serialization: every attribute kind they use (float, int,
   list(float), list(string), type, bool) round-trips and the reloaded node computes the same */
static void test_qops_graphdef_roundtrip(void **state) {
    (void)state;
    QCase q = {1, 5, 5, 4, 3, 3, 6, false, "SAME", 1, 1, 3, true, "Relu6", 301};
    QOperands o = q_operands(&q);
    Tensor addend = nn_rand(302, 4, (int64_t[]){1, 5, 5, 6});
    Tensor in[4] = {tensor_share(&o.x), tensor_share(&o.f), tensor_share(&o.bias), tensor_share(&addend)};
    int node;
    Graph *g = nn_graph("GrappoQConv2D", in, 4, &node);
    qconv_attrs(g, node, &q, o.x_scale, o.ws);
    set_type(g, node, "out_type", DT_UINT8);
    nn_float(g, node, "out_scale", 0.02f);
    nn_int(g, node, "out_zero_point", 9);
    uint8_t *bytes = NULL;
    size_t len = 0;
    Err e;
    CHECK_OK(graphdef_serialize(g, &bytes, &len, &e), &e);
    Graph *g2 = graphdef_parse(bytes, len, "roundtrip", &e);
    free(bytes);
    if (!g2) { print_error("%s\n", e.msg); fail(); }
    int node2 = graph_find(g2, "op");
    assert_true(node2 >= 0);
    assert_int_equal(g2->nodes[node2]->op, OP_GRAPPO_QCONV2D);
    Tensor y1 = nn_run1(g, node), y2 = nn_run1(g2, node2);
    assert_int_equal(y2.dtype, DT_UINT8);
    assert_memory_equal(tensor_data(&y1), tensor_data(&y2), (size_t)tensor_numel(&y1));
    Tensor *all[] = {&o.x, &o.f, &o.bias, &addend, &y1, &y2};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) tensor_release(all[k]);
}

/* a GrappoQConv2D of case q reading addend (NULL: none); add_scale > 0 sets add_scale and
   add_zero_point = zp. Returns the graph (node in *node). */
static Graph *qconv_addend_graph(const QCase *q, const QOperands *o, const Tensor *addend, float add_scale, int zp, int *node) {
    Tensor in[4] = {tensor_share(&o->x), tensor_share(&o->f), tensor_share(&o->bias), {0}};
    if (addend) in[3] = tensor_share(addend);
    Graph *g = nn_graph("GrappoQConv2D", in, addend ? 4 : 3, node);
    qconv_attrs(g, *node, q, o->x_scale, o->ws);
    if (add_scale > 0) {
        nn_float(g, *node, "add_scale", add_scale);
        nn_int(g, *node, "add_zero_point", zp);
    }
    return g;
}

/* An 8-bit addend (add_scale, add_zero_point) is the same operation as the float32 addend
   holding its real values (a - zp) * s: the reference computes (a - zp) * s exactly in double,
   the float32 copy rounds it once, so the two outputs are within one float32 rounding of the
   addend plus the output's. Inference checks the dtype against the attributes. */
static void test_qconv_8bit_addend_semantics(void **state) {
    (void)state;
    const float s = 0.0311f;
    int node;
    for (int dt = 0; dt < 2; dt++) {
        int add_dt = dt ? DT_INT8 : DT_UINT8, zp = dt ? -7 : 131;
        QCase q = {1, 6, 5, 5, 3, 3, 7, false, "SAME", 2, 1, 0, true, dt ? NULL : "Relu", 311 + (uint64_t)dt};
        QOperands o = q_operands(&q);
        Tensor a8 = tz(add_dt, 4, (int64_t[]){1, 3, 3, 7}), af = tz(DT_FLOAT, 4, (int64_t[]){1, 3, 3, 7});
        fill_int(&a8, 312, dt ? -128 : 0, dt ? 127 : 255);
        for (int64_t i = 0; i < tensor_numel(&a8); i++)
            ((float *)tensor_mut(&af))[i] = (float)((tensor_get(&a8, i) - zp) * (double)s);
        Tensor y8 = nn_run1(qconv_addend_graph(&q, &o, &a8, s, zp, &node), node);
        Tensor yf = run_qconv(&q, &o, DT_FLOAT, 1, 0, &af);
        assert_int_equal(y8.dtype, DT_FLOAT);
        for (int64_t i = 0; i < tensor_numel(&yf); i++) {
            double d = fabs(tensor_get(&y8, i) - tensor_get(&yf, i));
            double bound = 2.0 / 16777216.0 * (fabs(tensor_get(&yf, i)) + fabs(tensor_get(&af, i)));
            if (!(d <= bound)) {
                print_error("element %lld: %.9g vs %.9g\n", (long long)i, tensor_get(&y8, i), tensor_get(&yf, i));
                fail();
            }
        }
        /* inference refuses an 8-bit addend without add_scale, a zero point outside its dtype,
           a float32 addend with add_scale */
        nn_expect_infer_error(qconv_addend_graph(&q, &o, &a8, 0, 0, &node), ERR_INPUT, "add_scale");
        nn_expect_infer_error(qconv_addend_graph(&q, &o, &a8, s, dt ? 200 : -1, &node), ERR_INPUT, "add_zero_point");
        nn_expect_infer_error(qconv_addend_graph(&q, &o, &af, s, 0, &node), ERR_INPUT, "float32 addend takes no add_scale");
        Tensor *all[] = {&o.x, &o.f, &o.bias, &a8, &af, &y8, &yf};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) tensor_release(all[k]);
    }
    /* add_scale without Add in fused_ops */
    QCase q = {1, 5, 5, 4, 1, 1, 4, false, "SAME", 1, 1, 0, false, NULL, 321};
    QOperands o = q_operands(&q);
    nn_expect_infer_error(qconv_addend_graph(&q, &o, NULL, s, 0, &node), ERR_INPUT, "add_scale needs Add");
    Tensor *all[] = {&o.x, &o.f, &o.bias};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) tensor_release(all[k]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowp_applies),
        cmocka_unit_test(test_bf16_conv_emulation),
        cmocka_unit_test(test_lowp_matmul_rounding_by_hand),
        cmocka_unit_test(test_bf16_batchnorm_and_pool),
        cmocka_unit_test(test_quantize_by_hand),
        cmocka_unit_test(test_dequantize_by_hand),
        cmocka_unit_test(test_quant_attr_errors),
        cmocka_unit_test(test_qconv_by_hand),
        cmocka_unit_test(test_qmatmul_by_hand),
        cmocka_unit_test(test_qconv_matches_float),
        cmocka_unit_test(test_qmatmul_matches_float),
        cmocka_unit_test(test_qops_infer_errors_and_flops),
        cmocka_unit_test(test_qops_graphdef_roundtrip),
        cmocka_unit_test(test_qconv_8bit_addend_semantics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
