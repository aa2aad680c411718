/* test_ref_conv.c - Conv2D, DepthwiseConv2dNative, the fused convolutions and
 * Conv2DBackpropInput: shape inference, FLOPs and the reference kernels, checked against hand
 * computed values and against direct-formula implementations written here. */
#include "test_ref_nn.h"

/* ---- second opinions: the direct formulas, one output element at a time ---- */

/* y[b,i,j,co] = sum over kh, kw and the input channels of co's group of
   x[b, i*sh - pt + kh*dh, j*sw - pl + kw*dw, group*gic + ci] * w[kh, kw, ci, co] (NHWC, HWIO) */
static Tensor naive_conv(const Tensor *x, const Tensor *w, int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t pt,
                         int64_t pl, int64_t oh, int64_t ow) {
    const int64_t *xd = x->shape.dim, *wd = w->shape.dim;
    int64_t n = xd[0], h = xd[1], wi = xd[2], c = xd[3], kh_n = wd[0], kw_n = wd[1], gic = wd[2], co_n = wd[3];
    int64_t cog = co_n / (c / gic);
    Tensor y = nn_zeros(4, (int64_t[]){n, oh, ow, co_n});
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                for (int64_t co = 0; co < co_n; co++) {
                    int64_t grp = co / cog;
                    double s = 0;
                    for (int64_t kh = 0; kh < kh_n; kh++)
                        for (int64_t kw = 0; kw < kw_n; kw++)
                            for (int64_t ci = 0; ci < gic; ci++) {
                                int64_t ih = i * sh - pt + kh * dh, iw = j * sw - pl + kw * dw;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= wi) continue;
                                s += (double)nn_f(x)[((b * h + ih) * wi + iw) * c + grp * gic + ci] *
                                     nn_f(w)[((kh * kw_n + kw) * gic + ci) * co_n + co];
                            }
                    nn_fm(&y)[((b * oh + i) * ow + j) * co_n + co] = (float)s;
                }
    return y;
}

/* y[b,i,j,c*M+m] = sum over kh, kw of x[b, ih, iw, c] * w[kh, kw, c, m] */
static Tensor naive_depthwise(const Tensor *x, const Tensor *w, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t oh,
                              int64_t ow) {
    const int64_t *xd = x->shape.dim, *wd = w->shape.dim;
    int64_t n = xd[0], h = xd[1], wi = xd[2], c_n = xd[3], kh_n = wd[0], kw_n = wd[1], m_n = wd[3];
    Tensor y = nn_zeros(4, (int64_t[]){n, oh, ow, c_n * m_n});
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                for (int64_t c = 0; c < c_n; c++)
                    for (int64_t m = 0; m < m_n; m++) {
                        double s = 0;
                        for (int64_t kh = 0; kh < kh_n; kh++)
                            for (int64_t kw = 0; kw < kw_n; kw++) {
                                int64_t ih = i * sh - pt + kh, iw = j * sw - pl + kw;
                                if (ih < 0 || ih >= h || iw < 0 || iw >= wi) continue;
                                s += (double)nn_f(x)[((b * h + ih) * wi + iw) * c_n + c] *
                                     nn_f(w)[((kh * kw_n + kw) * c_n + c) * m_n + m];
                            }
                        nn_fm(&y)[((b * oh + i) * ow + j) * c_n * m_n + c * m_n + m] = (float)s;
                    }
    return y;
}

/* The transposed convolution as a scatter: every out_backprop element spreads
   dy * filter[kh,kw,ci,co] onto the input positions its forward window covered. */
static Tensor naive_backprop(const int64_t *in_dims, const Tensor *w, const Tensor *dy, int64_t sh, int64_t sw,
                             int64_t dil, int64_t pt, int64_t pl) {
    const int64_t *wd = w->shape.dim, *dd = dy->shape.dim;
    int64_t h = in_dims[1], wi = in_dims[2], ci_n = in_dims[3], co_n = wd[3];
    Tensor dx = nn_zeros(4, in_dims);
    double *acc = calloc((size_t)shape_numel(&dx.shape), sizeof *acc);
    for (int64_t b = 0; b < dd[0]; b++)
        for (int64_t i = 0; i < dd[1]; i++)
            for (int64_t j = 0; j < dd[2]; j++)
                for (int64_t co = 0; co < co_n; co++) {
                    double g = nn_f(dy)[((b * dd[1] + i) * dd[2] + j) * co_n + co];
                    for (int64_t kh = 0; kh < wd[0]; kh++)
                        for (int64_t kw = 0; kw < wd[1]; kw++) {
                            int64_t ih = i * sh - pt + kh * dil, iw = j * sw - pl + kw * dil;
                            if (ih < 0 || ih >= h || iw < 0 || iw >= wi) continue;
                            for (int64_t ci = 0; ci < ci_n; ci++)
                                acc[((b * h + ih) * wi + iw) * ci_n + ci] += g * nn_f(w)[((kh * wd[1] + kw) * ci_n + ci) * co_n + co];
                        }
                }
    for (int64_t k = 0; k < shape_numel(&dx.shape); k++) nn_fm(&dx)[k] = (float)acc[k];
    free(acc);
    return dx;
}

/* builds op(x, w, extra...) */
static Graph *conv_graph(const char *op, Tensor x, Tensor w, const Tensor *extra, int n_extra, int *node) {
    Tensor ins[8] = {x, w};
    for (int k = 0; k < n_extra; k++) ins[2 + k] = extra[k];
    return nn_graph(op, ins, 2 + n_extra, node);
}

static Tensor run_conv(const char *op, const Tensor *x, const Tensor *w, const char *padding, int64_t sh, int64_t sw,
                       bool nchw) {
    int node;
    Graph *g = conv_graph(op, tensor_share(x), tensor_share(w), NULL, 0, &node);
    nn_window(g, node, padding, sh, sw, nchw);
    return nn_run1(g, node);
}

/* ---- Conv2D ---- */

static void conv_1x1_by_hand(void **state) {
    (void)state;
    /* pixels [1,2] [3,4] [5,6] [7,8]; w[ci][co] = [[1,0,-1],[2,1,0.5]] -> [x0+2x1, x1, -x0+x1/2] */
    Tensor x = nn_from(4, (int64_t[]){1, 2, 2, 2}, (double[]){1, 2, 3, 4, 5, 6, 7, 8});
    Tensor w = nn_from(4, (int64_t[]){1, 1, 2, 3}, (double[]){1, 0, -1, 2, 1, 0.5});
    Tensor y = run_conv("Conv2D", &x, &w, "VALID", 1, 1, false);
    nn_assert_values(&y, 4, (int64_t[]){1, 2, 2, 3}, (double[]){5, 2, 0, 11, 4, -1, 17, 6, -2, 23, 8, -3}, 0);
    tensor_release(&x);
    tensor_release(&w);
    tensor_release(&y);
}

static void conv_3x3_same_and_valid_by_hand(void **state) {
    (void)state;
    /* 3x3 image 1..9, all-ones 3x3 filter: SAME sums each zero-padded neighbourhood */
    Tensor x = nn_from(4, (int64_t[]){1, 3, 3, 1}, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    Tensor w = nn_from(4, (int64_t[]){3, 3, 1, 1}, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1});
    Tensor y = run_conv("Conv2D", &x, &w, "SAME", 1, 1, false);
    nn_assert_values(&y, 4, (int64_t[]){1, 3, 3, 1}, (double[]){12, 21, 16, 27, 45, 33, 24, 39, 28}, 0);
    tensor_release(&y);
    y = run_conv("Conv2D", &x, &w, "VALID", 1, 1, false);
    nn_assert_values(&y, 4, (int64_t[]){1, 1, 1, 1}, (double[]){45}, 0);
    tensor_release(&x);
    tensor_release(&w);
    tensor_release(&y);
}

static void conv_3x3_random_vs_naive(void **state) {
    (void)state;
    Tensor x = nn_rand(1, 4, (int64_t[]){2, 5, 6, 3});
    Tensor w = nn_rand(2, 4, (int64_t[]){3, 3, 3, 4});
    Tensor y = run_conv("Conv2D", &x, &w, "SAME", 1, 1, false);
    Tensor want = naive_conv(&x, &w, 1, 1, 1, 1, 1, 1, 5, 6);
    nn_assert_close(&y, &want, 1e-5, 1e-5);
    tensor_release(&y);
    tensor_release(&want);
    /* VALID: 3x4 */
    y = run_conv("Conv2D", &x, &w, "VALID", 1, 1, false);
    want = naive_conv(&x, &w, 1, 1, 1, 1, 0, 0, 3, 4);
    nn_assert_close(&y, &want, 1e-5, 1e-5);
    tensor_release(&y);
    tensor_release(&want);
    tensor_release(&x);
    tensor_release(&w);
}

static void conv_explicit_asymmetric_padding(void **state) {
    (void)state;
    /* H 4 padded (1, 2), W 5 padded (0, 1); 3x2 window, stride 1 -> 5x5 */
    Tensor x = nn_rand(3, 4, (int64_t[]){1, 4, 5, 2});
    Tensor w = nn_rand(4, 4, (int64_t[]){3, 2, 2, 3});
    int node;
    Graph *g = conv_graph("Conv2D", tensor_share(&x), tensor_share(&w), NULL, 0, &node);
    nn_window(g, node, "EXPLICIT", 1, 1, false);
    nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 1, 2, 0, 1, 0, 0});
    Tensor y = nn_run1(g, node);
    Tensor want = naive_conv(&x, &w, 1, 1, 1, 1, 1, 0, 5, 5);
    nn_assert_close(&y, &want, 1e-5, 1e-5);
    tensor_release(&y);
    tensor_release(&want);
    tensor_release(&x);
    tensor_release(&w);
}

static void conv_stride2_same_pads_after(void **state) {
    (void)state;
    /* width 5, window [1, 10], stride 2, SAME: 3 outputs, total padding 1, all of it after:
       [1+20, 3+40, 5+10*0]. (Padding before would give [10, 32, 54].) */
    Tensor x = nn_from(4, (int64_t[]){1, 1, 5, 1}, (double[]){1, 2, 3, 4, 5});
    Tensor w = nn_from(4, (int64_t[]){1, 2, 1, 1}, (double[]){1, 10});
    Tensor y = run_conv("Conv2D", &x, &w, "SAME", 1, 2, false);
    nn_assert_values(&y, 4, (int64_t[]){1, 1, 3, 1}, (double[]){21, 43, 5}, 0);
    tensor_release(&x);
    tensor_release(&w);
    tensor_release(&y);
    /* 7x6 input, 3x3 window, stride 2: H out 4 (pad 1 before, 1 after), W out 3 (0 before, 1 after) */
    x = nn_rand(5, 4, (int64_t[]){1, 7, 6, 2});
    w = nn_rand(6, 4, (int64_t[]){3, 3, 2, 2});
    y = run_conv("Conv2D", &x, &w, "SAME", 2, 2, false);
    Tensor want = naive_conv(&x, &w, 2, 2, 1, 1, 1, 0, 4, 3);
    nn_assert_close(&y, &want, 1e-5, 1e-5);
    tensor_release(&x);
    tensor_release(&w);
    tensor_release(&y);
    tensor_release(&want);
}

static void conv_dilation2(void **state) {
    (void)state;
    /* width 5, window [1, 10] with dilation 2 (taps 2 apart), VALID: [1+30, 2+40, 3+50] */
    Tensor x = nn_from(4, (int64_t[]){1, 1, 5, 1}, (double[]){1, 2, 3, 4, 5});
    Tensor w = nn_from(4, (int64_t[]){1, 2, 1, 1}, (double[]){1, 10});
    int node;
    Graph *g = conv_graph("Conv2D", x, w, NULL, 0, &node);
    nn_window(g, node, "VALID", 1, 1, false);
    nn_ints(g, node, "dilations", 4, (int64_t[]){1, 1, 2, 1});
    Tensor y = nn_run1(g, node);
    nn_assert_values(&y, 4, (int64_t[]){1, 1, 3, 1}, (double[]){31, 42, 53}, 0);
    tensor_release(&y);
    /* random, SAME with dilation 2 on both axes: effective window 5, pad 2 before */
    x = nn_rand(7, 4, (int64_t[]){1, 6, 7, 3});
    w = nn_rand(8, 4, (int64_t[]){3, 3, 3, 2});
    g = conv_graph("Conv2D", tensor_share(&x), tensor_share(&w), NULL, 0, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_ints(g, node, "dilations", 4, (int64_t[]){1, 2, 2, 1});
    y = nn_run1(g, node);
    Tensor want = naive_conv(&x, &w, 1, 1, 2, 2, 2, 2, 6, 7);
    nn_assert_close(&y, &want, 1e-5, 1e-5);
    tensor_release(&x);
    tensor_release(&w);
    tensor_release(&y);
    tensor_release(&want);
}

static void conv_nchw_matches_nhwc(void **state) {
    (void)state;
    Tensor x = nn_rand(9, 4, (int64_t[]){2, 7, 6, 3});
    Tensor w = nn_rand(10, 4, (int64_t[]){3, 2, 3, 5});
    Tensor y_nhwc = run_conv("Conv2D", &x, &w, "SAME", 2, 1, false);
    Tensor x_nchw = nn_to_nchw(&x);
    Tensor y_nchw = run_conv("Conv2D", &x_nchw, &w, "SAME", 2, 1, true);
    assert_int_equal(y_nchw.shape.dim[1], 5); /* channels second */
    Tensor back = nn_to_nhwc(&y_nchw);
    nn_assert_close(&back, &y_nhwc, 0, 0); /* same sums in the same order: bitwise equal */
    tensor_release(&back);
    tensor_release(&y_nchw);
    /* EXPLICIT padding in NCHW order: pairs for N, C, H, W */
    int node;
    Graph *g = conv_graph("Conv2D", tensor_share(&x_nchw), tensor_share(&w), NULL, 0, &node);
    nn_window(g, node, "EXPLICIT", 1, 1, true);
    nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 0, 0, 2, 0, 0, 1});
    y_nchw = nn_run1(g, node);
    back = nn_to_nhwc(&y_nchw);
    Tensor want = naive_conv(&x, &w, 1, 1, 1, 1, 2, 0, 7, 6); /* H: 7+2+0-3+1 = 7, W: 6+0+1-2+1 = 6 */
    nn_assert_close(&back, &want, 1e-5, 1e-5);
    tensor_release(&want);
    tensor_release(&back);
    tensor_release(&y_nchw);
    tensor_release(&y_nhwc);
    tensor_release(&x_nchw);
    tensor_release(&x);
    tensor_release(&w);
}

static void conv_grouped(void **state) {
    (void)state;
    /* 6 input channels, filter in-channels 2 -> 3 groups of 2, 6 outputs (2 per group) */
    Tensor x = nn_rand(11, 4, (int64_t[]){1, 5, 4, 6});
    Tensor w = nn_rand(12, 4, (int64_t[]){3, 3, 2, 6});
    Tensor y = run_conv("Conv2D", &x, &w, "SAME", 1, 1, false);
    Tensor want = naive_conv(&x, &w, 1, 1, 1, 1, 1, 1, 5, 4);
    nn_assert_close(&y, &want, 1e-5, 1e-5);
    tensor_release(&x);
    tensor_release(&w);
    tensor_release(&y);
    tensor_release(&want);
}

/* ---- depthwise ---- */

static void depthwise_multiplier2(void **state) {
    (void)state;
    /* 1x1 by hand: channels [3, 5], filter [[1,2],[10,20]] -> [3, 6, 50, 100] */
    Tensor x = nn_from(4, (int64_t[]){1, 1, 1, 2}, (double[]){3, 5});
    Tensor w = nn_from(4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 2, 10, 20});
    Tensor y = run_conv("DepthwiseConv2dNative", &x, &w, "VALID", 1, 1, false);
    nn_assert_values(&y, 4, (int64_t[]){1, 1, 1, 4}, (double[]){3, 6, 50, 100}, 0);
    tensor_release(&x);
    tensor_release(&w);
    tensor_release(&y);
    /* random 3x3 stride 2 SAME, multiplier 2, and multiplier 1 (the per-channel path) */
    x = nn_rand(13, 4, (int64_t[]){2, 6, 5, 3});
    for (int m = 1; m <= 2; m++) {
        w = nn_rand(14 + m, 4, (int64_t[]){3, 3, 3, m});
        y = run_conv("DepthwiseConv2dNative", &x, &w, "SAME", 2, 2, false);
        /* H 6 -> 3, total pad 1 (0 before); W 5 -> 3, total pad 2 (1 before) */
        Tensor want = naive_depthwise(&x, &w, 2, 2, 0, 1, 3, 3);
        nn_assert_close(&y, &want, 1e-5, 1e-5);
        tensor_release(&want);
        /* NCHW gives the same numbers */
        Tensor x_nchw = nn_to_nchw(&x);
        Tensor y_nchw = run_conv("DepthwiseConv2dNative", &x_nchw, &w, "SAME", 2, 2, true);
        Tensor back = nn_to_nhwc(&y_nchw);
        nn_assert_close(&back, &y, 0, 0);
        tensor_release(&back);
        tensor_release(&y_nchw);
        tensor_release(&x_nchw);
        tensor_release(&w);
        tensor_release(&y);
    }
    tensor_release(&x);
}

/* ---- fused ---- */

static double act_ref(const char *act, double v, double alpha) {
    if (!act) return v;
    if (!strcmp(act, "Relu")) return v < 0 ? 0 : v;
    if (!strcmp(act, "Relu6")) return fmin(fmax(v, 0), 6);
    if (!strcmp(act, "Elu")) return v < 0 ? exp(v) - 1 : v;
    if (!strcmp(act, "LeakyRelu") || !strcmp(act, "Prelu")) return v < 0 ? alpha * v : v;
    if (!strcmp(act, "Sigmoid")) return 1 / (1 + exp(-v));
    if (!strcmp(act, "Tanh")) return tanh(v);
    if (!strcmp(act, "_FusedHardSwish")) return v * fmin(fmax(v + 3, 0), 6) / 6;
    fail_msg("unknown activation %s", act);
    return 0;
}

typedef struct FusedCase {
    const char *ops[3];
    int n_ops;
} FusedCase;

/* Runs the fused op on random data and compares with the composition computed here from the
   unfused convolution: (conv + bias | batchnorm(conv)) + addend, then the activation. */
static void check_fused(const char *op, bool depthwise, const FusedCase *fc, bool nchw) {
    int64_t c_in = 3, mult = 2, c_out = depthwise ? c_in * mult : 4;
    Tensor x = nn_rand(21, 4, (int64_t[]){2, 5, 4, c_in});
    Tensor w = nn_rand(22, 4, (int64_t[]){3, 3, c_in, depthwise ? mult : c_out});
    Tensor conv = depthwise ? naive_depthwise(&x, &w, 1, 1, 1, 1, 5, 4) : naive_conv(&x, &w, 1, 1, 1, 1, 1, 1, 5, 4);
    Tensor bias = nn_rand(23, 1, (int64_t[]){c_out});
    Tensor addend = nn_rand(24, 4, (int64_t[]){2, 5, 4, c_out});
    Tensor scale = nn_rand(25, 1, (int64_t[]){c_out}), offset = nn_rand(26, 1, (int64_t[]){c_out});
    Tensor mean = nn_rand(27, 1, (int64_t[]){c_out}), var = nn_rand(28, 1, (int64_t[]){c_out});
    Tensor alpha = nn_rand(29, 1, (int64_t[]){c_out});
    for (int64_t c = 0; c < c_out; c++) nn_fm(&var)[c] = nn_f(&var)[c] + 1.5f; /* positive */
    const float eps = 0.001f, leaky = 0.3f;

    Tensor extra[5];
    int n_extra = 0;
    bool bn = !strcmp(fc->ops[0], "FusedBatchNorm"), add = fc->n_ops > 1 && !strcmp(fc->ops[1], "Add");
    const char *act = fc->n_ops > (add ? 2 : 1) ? fc->ops[fc->n_ops - 1] : NULL;
    if (bn) {
        extra[0] = tensor_share(&scale), extra[1] = tensor_share(&offset), extra[2] = tensor_share(&mean);
        extra[3] = tensor_share(&var);
        n_extra = 4;
    } else {
        extra[n_extra++] = tensor_share(&bias);
    }
    if (add) extra[n_extra++] = nchw ? nn_to_nchw(&addend) : tensor_share(&addend);
    if (act && !strcmp(act, "Prelu")) extra[n_extra++] = tensor_share(&alpha);

    /* expected, NHWC */
    Tensor want = nn_zeros(4, conv.shape.dim);
    for (int64_t i = 0; i < tensor_numel(&conv); i++) {
        int64_t c = i % c_out;
        double v = nn_f(&conv)[i];
        if (bn) v = (v - nn_f(&mean)[c]) / sqrt(nn_f(&var)[c] + (double)eps) * nn_f(&scale)[c] + nn_f(&offset)[c];
        else v += nn_f(&bias)[c];
        if (add) v += nn_f(&addend)[i];
        double a = act && !strcmp(act, "Prelu") ? nn_f(&alpha)[c] : leaky;
        nn_fm(&want)[i] = (float)act_ref(act, v, a);
    }

    int node;
    Tensor xin = nchw ? nn_to_nchw(&x) : tensor_share(&x);
    Graph *g = conv_graph(op, xin, tensor_share(&w), extra, n_extra, &node);
    nn_window(g, node, "SAME", 1, 1, nchw);
    nn_strs(g, node, "fused_ops", fc->n_ops, fc->ops);
    nn_int(g, node, "num_args", n_extra);
    nn_float(g, node, "epsilon", eps);
    nn_float(g, node, "leakyrelu_alpha", leaky);
    Tensor y = nn_run1(g, node);
    if (nchw) {
        Tensor back = nn_to_nhwc(&y);
        tensor_release(&y);
        y = back;
    }
    nn_assert_close(&y, &want, 2e-6, 2e-6);
    Tensor *all[] = {&x, &w, &conv, &bias, &addend, &scale, &offset, &mean, &var, &alpha, &want, &y};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) tensor_release(all[k]);
}

static const FusedCase fused_cases[] = {
    {{"BiasAdd"}, 1},
    {{"BiasAdd", "Relu"}, 2},
    {{"BiasAdd", "Relu6"}, 2},
    {{"BiasAdd", "Elu"}, 2},
    {{"BiasAdd", "LeakyRelu"}, 2},
    {{"BiasAdd", "Sigmoid"}, 2},
    {{"BiasAdd", "Tanh"}, 2},
    {{"BiasAdd", "Prelu"}, 2},
    {{"BiasAdd", "_FusedHardSwish"}, 2},
    {{"BiasAdd", "Add"}, 2},
    {{"BiasAdd", "Add", "Relu"}, 3},
    {{"BiasAdd", "Add", "Relu6"}, 3},
    {{"BiasAdd", "Add", "Elu"}, 3},
    {{"BiasAdd", "Add", "LeakyRelu"}, 3},
    {{"BiasAdd", "Add", "Sigmoid"}, 3},
    {{"BiasAdd", "Add", "Tanh"}, 3},
    {{"FusedBatchNorm"}, 1},
    {{"FusedBatchNorm", "Relu"}, 2},
    {{"FusedBatchNorm", "Relu6"}, 2},
    {{"FusedBatchNorm", "Elu"}, 2},
    {{"FusedBatchNorm", "LeakyRelu"}, 2},
    {{"FusedBatchNorm", "Sigmoid"}, 2},
    {{"FusedBatchNorm", "Tanh"}, 2},
};

static void fused_conv2d_every_combination(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof fused_cases / sizeof fused_cases[0]; k++) check_fused("_FusedConv2D", false, &fused_cases[k], false);
    /* NCHW: channels on axis 1 for bias, batch norm and the addend */
    check_fused("_FusedConv2D", false, &fused_cases[10], true);
    check_fused("_FusedConv2D", false, &fused_cases[17], true);
}

static void fused_depthwise_every_combination(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof fused_cases / sizeof fused_cases[0]; k++) {
        check_fused("FusedDepthwiseConv2dNative", true, &fused_cases[k], false);
        check_fused("_FusedDepthwiseConv2dNative", true, &fused_cases[k], false);
    }
    check_fused("FusedDepthwiseConv2dNative", true, &fused_cases[1], true);
}

static Graph *fused_graph(const char *const *ops, int n_ops, int n_extra, int *node) {
    Tensor extra[6];
    for (int k = 0; k < n_extra; k++) extra[k] = nn_rand(40 + k, 1, (int64_t[]){2});
    Graph *g = conv_graph("_FusedConv2D", nn_rand(30, 4, (int64_t[]){1, 3, 3, 2}), nn_rand(31, 4, (int64_t[]){1, 1, 2, 2}),
                          extra, n_extra, node);
    nn_window(g, *node, "VALID", 1, 1, false);
    nn_strs(g, *node, "fused_ops", n_ops, ops);
    return g;
}

static void fused_unsupported_ops_fail_at_inference(void **state) {
    (void)state;
    int node;
    Graph *g = fused_graph((const char *[]){"BiasAdd", "GeluExact"}, 2, 1, &node); /* Gelu: matmul only */
    nn_expect_infer_error(g, ERR_INPUT, "GeluExact");
    g = fused_graph((const char *[]){"Relu"}, 1, 0, &node);
    nn_expect_infer_error(g, ERR_INPUT, "'Relu'");
    g = fused_graph((const char *[]){"BiasAdd", "Relu", "Relu"}, 3, 1, &node);
    nn_expect_infer_error(g, ERR_INPUT, "'Relu' at position 2");
    g = fused_graph((const char *[]){"BiasAdd", "Swish"}, 2, 1, &node);
    nn_expect_infer_error(g, ERR_INPUT, "Swish");
    /* wrong argument counts are bad input */
    g = fused_graph((const char *[]){"BiasAdd"}, 1, 2, &node);
    nn_expect_infer_error(g, ERR_INPUT, "extra inputs");
    g = fused_graph((const char *[]){"BiasAdd"}, 1, 1, &node);
    nn_int(g, node, "num_args", 2);
    nn_expect_infer_error(g, ERR_INPUT, "num_args");
    g = fused_graph((const char *[]){"FusedBatchNorm"}, 1, 3, &node);
    nn_expect_infer_error(g, ERR_INPUT, "extra inputs");
    /* a bias of the wrong length */
    Tensor bias = nn_rand(50, 1, (int64_t[]){3});
    g = conv_graph("_FusedConv2D", nn_rand(30, 4, (int64_t[]){1, 3, 3, 2}), nn_rand(31, 4, (int64_t[]){1, 1, 2, 2}), &bias, 1,
                   &node);
    nn_window(g, node, "VALID", 1, 1, false);
    nn_strs(g, node, "fused_ops", 1, (const char *[]){"BiasAdd"});
    nn_expect_infer_error(g, ERR_INPUT, "bias");
}

/* ---- Conv2DBackpropInput ---- */

static Tensor run_backprop(const int32_t *sizes, int n_sizes, const Tensor *w, const Tensor *dy, const char *padding,
                           int64_t sh, int64_t sw, bool nchw) {
    Tensor ins[3] = {tt_i32(1, (int64_t[]){n_sizes}, sizes), tensor_share(w), tensor_share(dy)};
    int node;
    Graph *g = nn_graph("Conv2DBackpropInput", ins, 3, &node);
    nn_window(g, node, padding, sh, sw, nchw);
    return nn_run1(g, node);
}

static void backprop_input_by_hand(void **state) {
    (void)state;
    /* width 4, window [1, 10], stride 2 VALID: dy [1, 2] scatters to [1, 10, 2, 20] */
    Tensor w = nn_from(4, (int64_t[]){1, 2, 1, 1}, (double[]){1, 10});
    Tensor dy = nn_from(4, (int64_t[]){1, 1, 2, 1}, (double[]){1, 2});
    Tensor dx = run_backprop((int32_t[]){1, 1, 4, 1}, 4, &w, &dy, "VALID", 1, 2, false);
    nn_assert_values(&dx, 4, (int64_t[]){1, 1, 4, 1}, (double[]){1, 10, 2, 20}, 0);
    tensor_release(&dx);
    tensor_release(&w);
    tensor_release(&dy);
}

static void backprop_input_stride2_same_vs_scatter(void **state) {
    (void)state;
    /* result 5x6x2 (from input_sizes), 3x3 filter 2 -> 3 channels, stride 2 SAME:
       dy is 3x3; H: total pad (2*2+3-5) = 2 -> 1 before; W: (2*2+3-6) = 1 -> 0 before */
    int64_t in_dims[4] = {2, 5, 6, 2};
    Tensor w = nn_rand(60, 4, (int64_t[]){3, 3, 2, 3});
    Tensor dy = nn_rand(61, 4, (int64_t[]){2, 3, 3, 3});
    Tensor dx = run_backprop((int32_t[]){2, 5, 6, 2}, 4, &w, &dy, "SAME", 2, 2, false);
    Tensor want = naive_backprop(in_dims, &w, &dy, 2, 2, 1, 1, 0);
    nn_assert_close(&dx, &want, 1e-5, 1e-5);
    tensor_release(&dx);
    /* input_sizes with only (H, W) */
    dx = run_backprop((int32_t[]){5, 6}, 2, &w, &dy, "SAME", 2, 2, false);
    nn_assert_close(&dx, &want, 1e-5, 1e-5);
    tensor_release(&dx);
    /* NCHW: input_sizes and dy in NCHW order */
    Tensor dy_nchw = nn_to_nchw(&dy);
    dx = run_backprop((int32_t[]){2, 2, 5, 6}, 4, &w, &dy_nchw, "SAME", 2, 2, true);
    Tensor back = nn_to_nhwc(&dx);
    nn_assert_close(&back, &want, 1e-5, 1e-5);
    tensor_release(&back);
    tensor_release(&dx);
    tensor_release(&dy_nchw);
    tensor_release(&want);
    /* EXPLICIT padding (H: 2 before 0 after, W: 0 before 1 after), stride 1: 5+2-3+1 = 5, 6+1-3+1 = 5 */
    Tensor dy2 = nn_rand(62, 4, (int64_t[]){2, 5, 5, 3});
    Tensor ins[3] = {tt_i32(1, (int64_t[]){4}, (int32_t[]){2, 5, 6, 2}), tensor_share(&w), tensor_share(&dy2)};
    int node;
    Graph *g = nn_graph("Conv2DBackpropInput", ins, 3, &node);
    nn_window(g, node, "EXPLICIT", 1, 1, false);
    nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 2, 0, 0, 1, 0, 0});
    dx = nn_run1(g, node);
    want = naive_backprop(in_dims, &w, &dy2, 1, 1, 1, 2, 0);
    nn_assert_close(&dx, &want, 1e-5, 1e-5);
    tensor_release(&dx);
    tensor_release(&want);
    tensor_release(&dy2);
    /* dilation 2, VALID: effective window 5 -> H 5-5+1 = 1, W 6-5+1 = 2 */
    Tensor dy3 = nn_rand(63, 4, (int64_t[]){2, 1, 2, 3});
    Tensor ins3[3] = {tt_i32(1, (int64_t[]){4}, (int32_t[]){2, 5, 6, 2}), tensor_share(&w), tensor_share(&dy3)};
    g = nn_graph("Conv2DBackpropInput", ins3, 3, &node);
    nn_window(g, node, "VALID", 1, 1, false);
    nn_ints(g, node, "dilations", 4, (int64_t[]){1, 2, 2, 1});
    dx = nn_run1(g, node);
    want = naive_backprop(in_dims, &w, &dy3, 1, 1, 2, 0, 0);
    nn_assert_close(&dx, &want, 1e-5, 1e-5);
    tensor_release(&dx);
    tensor_release(&want);
    tensor_release(&dy3);
    tensor_release(&w);
    tensor_release(&dy);
}

static void backprop_input_errors(void **state) {
    (void)state;
    int node;
    /* dy 3x3 does not match a stride-1 SAME convolution of 5x6 */
    Tensor ins[3] = {tt_i32(1, (int64_t[]){4}, (int32_t[]){1, 5, 6, 2}), nn_rand(1, 4, (int64_t[]){3, 3, 2, 3}),
                     nn_rand(2, 4, (int64_t[]){1, 3, 3, 3})};
    Graph *g = nn_graph("Conv2DBackpropInput", ins, 3, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "out_backprop");
    /* channels of the result disagree with the filter */
    Tensor ins2[3] = {tt_i32(1, (int64_t[]){4}, (int32_t[]){1, 5, 6, 4}), nn_rand(1, 4, (int64_t[]){3, 3, 2, 3}),
                      nn_rand(2, 4, (int64_t[]){1, 3, 3, 3})};
    g = nn_graph("Conv2DBackpropInput", ins2, 3, &node);
    nn_window(g, node, "SAME", 2, 2, false);
    nn_expect_infer_error(g, ERR_INPUT, "channels");
    /* input_sizes computed at run time (a Placeholder) cannot give a shape */
    Err e;
    Tensor ins3[2] = {nn_rand(1, 4, (int64_t[]){3, 3, 2, 3}), nn_rand(2, 4, (int64_t[]){1, 3, 3, 3})};
    g = nn_graph("Conv2DBackpropInput", ins3, 0, &node);
    int ph = graph_add_node(g, "sizes", "Placeholder", &e);
    CHECK_OK(node_set_attr_type(g->nodes[ph], "dtype", DT_INT32, &e), &e);
    Shape s4 = shape_make(1, (int64_t[]){4});
    CHECK_OK(node_set_attr_shape(g->nodes[ph], "shape", &s4, &e), &e);
    CHECK_OK(node_add_input(g, node, (ValueRef){ph, 0}, &e), &e);
    for (int k = 0; k < 2; k++) {
        int c = graph_add_node(g, k ? "dy" : "filter", "Const", &e);
        CHECK_OK(node_set_attr_tensor(g->nodes[c], "value", &ins3[k], &e), &e);
        tensor_release(&ins3[k]);
        CHECK_OK(node_add_input(g, node, (ValueRef){c, 0}, &e), &e);
    }
    nn_window(g, node, "SAME", 2, 2, false);
    nn_expect_infer_error(g, ERR_INPUT, "known");
}

/* ---- inference errors, FLOPs, dtypes ---- */

static void conv_inference_errors(void **state) {
    (void)state;
    int node;
    Graph *g = conv_graph("Conv2D", nn_rand(1, 3, (int64_t[]){4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "4-D");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 3, (int64_t[]){3, 3, 3}), NULL, 0, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "filter must be 4-D");
    /* 5 channels, filter expects 2 per group: 5 is not a multiple */
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 5}), nn_rand(2, 4, (int64_t[]){3, 3, 2, 2}), NULL, 0, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "multiple");
    /* depthwise channel mismatch */
    g = conv_graph("DepthwiseConv2dNative", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 2, 1}),
                   NULL, 0, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "channels");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_window(g, node, "FULL", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "FULL");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_str(g, node, "padding", "SAME");
    nn_ints(g, node, "strides", 3, (int64_t[]){1, 1, 1});
    nn_expect_infer_error(g, ERR_INPUT, "strides");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_window(g, node, "SAME", 0, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "strides");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_str(g, node, "padding", "SAME");
    nn_ints(g, node, "strides", 4, (int64_t[]){2, 1, 1, 1}); /* batch stride */
    nn_expect_infer_error(g, ERR_INPUT, "batch");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 2, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_window(g, node, "VALID", 1, 1, false); /* 3-tall window on a 2-tall input */
    nn_expect_infer_error(g, ERR_INPUT, "larger");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_window(g, node, "SAME", 1, 1, false);
    nn_str(g, node, "data_format", "NCDHW");
    nn_expect_infer_error(g, ERR_INPUT, "data_format");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_window(g, node, "EXPLICIT", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "explicit_paddings");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}), NULL, 0, &node);
    nn_str(g, node, "padding", "SAME");
    nn_expect_infer_error(g, ERR_INPUT, "strides is missing");
}

static void conv_flops_and_dtypes(void **state) {
    (void)state;
    Err e;
    int node;
    /* 2 * N*Ho*Wo*Cout * KH*KW*Cin/groups: 2 * (2*3*3*4) * (3*3*2) with 3 groups of 2 */
    Graph *g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){2, 5, 5, 6}), nn_rand(2, 4, (int64_t[]){3, 3, 2, 4}), NULL, 0, &node);
    nn_window(g, node, "SAME", 2, 2, false);
    /* 4 outputs do not split into 3 groups */
    nn_expect_infer_error(g, ERR_INPUT, "groups");
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){2, 5, 5, 6}), nn_rand(2, 4, (int64_t[]){3, 3, 2, 6}), NULL, 0, &node);
    nn_window(g, node, "SAME", 2, 2, false);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 2 * (2 * 3 * 3 * 6) * (3 * 3 * 2));
    graph_free(g);
    /* depthwise: 2 * N*Ho*Wo*C*M * KH*KW; fused adds one per output element per epilogue op */
    Tensor bias = nn_rand(3, 1, (int64_t[]){6});
    g = conv_graph("_FusedDepthwiseConv2dNative", nn_rand(1, 4, (int64_t[]){1, 4, 4, 3}), nn_rand(2, 4, (int64_t[]){3, 3, 3, 2}),
                   &bias, 1, &node);
    nn_window(g, node, "VALID", 1, 1, false);
    nn_strs(g, node, "fused_ops", 2, (const char *[]){"BiasAdd", "Relu"});
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 2 * (2 * 2 * 6) * 9 + 2 * (2 * 2 * 6));
    graph_free(g);
    /* backprop: the forward convolution's count, 2 * |dy| * KH*KW*Cin */
    Tensor ins[3] = {tt_i32(1, (int64_t[]){4}, (int32_t[]){1, 5, 6, 2}), nn_rand(1, 4, (int64_t[]){3, 3, 2, 3}),
                     nn_rand(2, 4, (int64_t[]){1, 3, 3, 3})};
    g = nn_graph("Conv2DBackpropInput", ins, 3, &node);
    nn_window(g, node, "SAME", 2, 2, false);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 2 * 27 * 9 * 2);
    graph_free(g);
    /* int32 convolution: inference gives dtype and shape, the kernel refuses naming the dtype */
    Tensor xi = tt_i32(4, (int64_t[]){1, 2, 2, 1}, (int32_t[]){1, 2, 3, 4});
    Tensor wi = tt_i32(4, (int64_t[]){1, 1, 1, 1}, (int32_t[]){2});
    g = conv_graph("Conv2D", xi, wi, NULL, 0, &node);
    nn_window(g, node, "VALID", 1, 1, false);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(g->nodes[node]->outputs[0].dtype, DT_INT32);
    assert_int_equal(g->nodes[node]->outputs[0].shape.dim[2], 2);
    nn_expect_error(g, node, ERR_RUNTIME, "int32");
    /* mixed dtypes are bad input */
    g = conv_graph("Conv2D", nn_rand(1, 4, (int64_t[]){1, 2, 2, 1}), tt_i32(4, (int64_t[]){1, 1, 1, 1}, (int32_t[]){2}), NULL, 0,
                   &node);
    nn_window(g, node, "VALID", 1, 1, false);
    nn_expect_infer_error(g, ERR_INPUT, "int32");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_1x1_by_hand),
        cmocka_unit_test(conv_3x3_same_and_valid_by_hand),
        cmocka_unit_test(conv_3x3_random_vs_naive),
        cmocka_unit_test(conv_explicit_asymmetric_padding),
        cmocka_unit_test(conv_stride2_same_pads_after),
        cmocka_unit_test(conv_dilation2),
        cmocka_unit_test(conv_nchw_matches_nhwc),
        cmocka_unit_test(conv_grouped),
        cmocka_unit_test(depthwise_multiplier2),
        cmocka_unit_test(fused_conv2d_every_combination),
        cmocka_unit_test(fused_depthwise_every_combination),
        cmocka_unit_test(fused_unsupported_ops_fail_at_inference),
        cmocka_unit_test(backprop_input_by_hand),
        cmocka_unit_test(backprop_input_stride2_same_vs_scatter),
        cmocka_unit_test(backprop_input_errors),
        cmocka_unit_test(conv_inference_errors),
        cmocka_unit_test(conv_flops_and_dtypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
