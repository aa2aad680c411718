/* test_ref_nn_misc.c - MaxPool / AvgPool, FusedBatchNorm (V1-V3), ResizeBilinear /
 * ResizeNearestNeighbor and Softmax: shape inference, FLOPs and reference kernels, checked
 * against hand-computed values (TF's formulas worked out by hand) and a direct pool here. */
#include "test_ref_nn.h"

/* ---- pools ---- */

static Graph *pool_graph(const char *op, Tensor x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, const char *padding,
                         bool nchw, int *node) {
    Graph *g = nn_graph(op, &x, 1, node);
    nn_window(g, *node, padding, sh, sw, nchw);
    int64_t k[4] = {1, nchw ? 1 : kh, nchw ? kh : kw, nchw ? kw : 1};
    nn_ints(g, *node, "ksize", 4, k);
    return g;
}

static Tensor run_pool(const char *op, const Tensor *x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, const char *padding,
                       bool nchw) {
    int node;
    Graph *g = pool_graph(op, tensor_share(x), kh, kw, sh, sw, padding, nchw, &node);
    return nn_run1(g, node);
}

/* direct pool over NHWC: max, or mean of the in-bounds window elements */
static Tensor naive_pool(const Tensor *x, bool is_max, int64_t kh_n, int64_t kw_n, int64_t sh, int64_t sw, int64_t pt,
                         int64_t pl, int64_t oh, int64_t ow) {
    const int64_t *d = x->shape.dim;
    Tensor y = nn_zeros(4, (int64_t[]){d[0], oh, ow, d[3]});
    for (int64_t b = 0; b < d[0]; b++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                for (int64_t c = 0; c < d[3]; c++) {
                    double best = -INFINITY, sum = 0;
                    int count = 0;
                    for (int64_t kh = 0; kh < kh_n; kh++)
                        for (int64_t kw = 0; kw < kw_n; kw++) {
                            int64_t ih = i * sh - pt + kh, iw = j * sw - pl + kw;
                            if (ih < 0 || ih >= d[1] || iw < 0 || iw >= d[2]) continue;
                            double v = nn_f(x)[((b * d[1] + ih) * d[2] + iw) * d[3] + c];
                            best = fmax(best, v);
                            sum += v;
                            count++;
                        }
                    nn_fm(&y)[((b * oh + i) * ow + j) * d[3] + c] = (float)(is_max ? best : sum / count);
                }
    return y;
}

static void pool_same_edges_by_hand(void **state) {
    (void)state;
    /* 3x3 image 1..9, 2x2 window, stride 2, SAME: 2x2 output, one padding row/column after.
       Max: 5 6 / 8 9. Avg divides by the in-bounds count: 12/4, 9/2, 15/2, 9/1. */
    Tensor x = nn_from(4, (int64_t[]){1, 3, 3, 1}, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    Tensor y = run_pool("MaxPool", &x, 2, 2, 2, 2, "SAME", false);
    nn_assert_values(&y, 4, (int64_t[]){1, 2, 2, 1}, (double[]){5, 6, 8, 9}, 0);
    tensor_release(&y);
    y = run_pool("AvgPool", &x, 2, 2, 2, 2, "SAME", false);
    nn_assert_values(&y, 4, (int64_t[]){1, 2, 2, 1}, (double[]){3, 4.5, 7.5, 9}, 0);
    tensor_release(&y);
    /* 3x3 window stride 1 SAME: corner (1+2+4+5)/4, edge 21/6, centre 45/9 */
    y = run_pool("AvgPool", &x, 3, 3, 1, 1, "SAME", false);
    nn_assert_values(&y, 4, (int64_t[]){1, 3, 3, 1}, (double[]){3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}, 1e-6);
    tensor_release(&y);
    /* VALID 2x2 stride 1 */
    y = run_pool("MaxPool", &x, 2, 2, 1, 1, "VALID", false);
    nn_assert_values(&y, 4, (int64_t[]){1, 2, 2, 1}, (double[]){5, 6, 8, 9}, 0);
    tensor_release(&y);
    y = run_pool("AvgPool", &x, 2, 2, 1, 1, "VALID", false);
    nn_assert_values(&y, 4, (int64_t[]){1, 2, 2, 1}, (double[]){3, 4, 6, 7}, 0);
    tensor_release(&y);
    tensor_release(&x);
    /* all-negative input: MaxPool's padding is -inf, never 0 */
    x = nn_from(4, (int64_t[]){1, 1, 3, 1}, (double[]){-5, -3, -4});
    y = run_pool("MaxPool", &x, 1, 2, 1, 2, "SAME", false);
    nn_assert_values(&y, 4, (int64_t[]){1, 1, 2, 1}, (double[]){-3, -4}, 0);
    tensor_release(&y);
    tensor_release(&x);
}

static void pool_random_nhwc_nchw_explicit(void **state) {
    (void)state;
    Tensor x = nn_rand(700, 4, (int64_t[]){2, 7, 6, 3});
    Tensor x_nchw = nn_to_nchw(&x);
    for (int is_max = 0; is_max < 2; is_max++) {
        const char *op = is_max ? "MaxPool" : "AvgPool";
        /* 3x3 stride 2 SAME on 7x6: H out 4 (pad 1 before), W out 3 (pad 0 before, 1 after) */
        Tensor y = run_pool(op, &x, 3, 3, 2, 2, "SAME", false);
        Tensor want = naive_pool(&x, is_max, 3, 3, 2, 2, 1, 0, 4, 3);
        nn_assert_close(&y, &want, 1e-6, 1e-6);
        Tensor y_nchw = run_pool(op, &x_nchw, 3, 3, 2, 2, "SAME", true);
        Tensor back = nn_to_nhwc(&y_nchw);
        nn_assert_close(&back, &y, 0, 0);
        tensor_release(&back);
        tensor_release(&y_nchw);
        tensor_release(&want);
        tensor_release(&y);
    }
    /* MaxPool EXPLICIT: H (1, 0), W (0, 2), window 2x3, stride 1: 7x6 */
    int node;
    Graph *g = pool_graph("MaxPool", tensor_share(&x), 2, 3, 1, 1, "EXPLICIT", false, &node);
    nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 1, 0, 0, 2, 0, 0});
    Tensor y = nn_run1(g, node);
    Tensor want = naive_pool(&x, true, 2, 3, 1, 1, 1, 0, 7, 6);
    nn_assert_close(&y, &want, 0, 0);
    tensor_release(&y);
    tensor_release(&want);
    tensor_release(&x);
    tensor_release(&x_nchw);
}

static void pool_errors_and_flops(void **state) {
    (void)state;
    Err e;
    int node;
    Graph *g = pool_graph("AvgPool", nn_rand(1, 4, (int64_t[]){1, 4, 4, 1}), 2, 2, 1, 1, "EXPLICIT", false, &node);
    nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 1, 1, 1, 1, 0, 0});
    nn_expect_infer_error(g, ERR_INPUT, "EXPLICIT");
    /* TF: explicit padding must be smaller than the window (no all-padding windows) */
    g = pool_graph("MaxPool", nn_rand(1, 4, (int64_t[]){1, 4, 4, 1}), 2, 2, 1, 1, "EXPLICIT", false, &node);
    nn_ints(g, node, "explicit_paddings", 8, (int64_t[]){0, 0, 0, 1, 0, 2, 0, 0});
    nn_expect_infer_error(g, ERR_INPUT, "smaller than the window");
    g = pool_graph("MaxPool", nn_rand(1, 4, (int64_t[]){1, 4, 4, 1}), 2, 2, 1, 1, "SAME", false, &node);
    nn_ints(g, node, "ksize", 3, (int64_t[]){1, 2, 2});
    nn_expect_infer_error(g, ERR_INPUT, "ksize");
    g = pool_graph("MaxPool", nn_rand(1, 4, (int64_t[]){1, 4, 4, 2}), 2, 2, 1, 1, "SAME", false, &node);
    nn_ints(g, node, "ksize", 4, (int64_t[]){1, 2, 2, 2}); /* pooling over channels */
    nn_expect_infer_error(g, ERR_INPUT, "channel");
    g = pool_graph("MaxPool", nn_rand(1, 4, (int64_t[]){1, 2, 4, 1}), 3, 2, 1, 1, "VALID", false, &node);
    nn_expect_infer_error(g, ERR_INPUT, "larger");
    g = pool_graph("MaxPool", nn_rand(1, 3, (int64_t[]){4, 4, 1}), 2, 2, 1, 1, "VALID", false, &node);
    nn_expect_infer_error(g, ERR_INPUT, "4-D");
    /* one operation per window element: 2*3*3*5 outputs * 3*3 */
    g = pool_graph("AvgPool", nn_rand(1, 4, (int64_t[]){2, 6, 6, 5}), 3, 3, 2, 2, "SAME", false, &node);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 2 * 3 * 3 * 5 * 9);
    graph_free(g);
}

/* ---- FusedBatchNorm ---- */

static Graph *bn_graph(const char *op, Tensor x, const double *scale, const double *offset, const double *mean,
                       const double *var, int64_t c, int64_t stats_len, int *node) {
    Tensor ins[5] = {x, nn_from(1, &c, scale), nn_from(1, &c, offset), nn_from(1, &stats_len, mean),
                     nn_from(1, &stats_len, var)};
    return nn_graph(op, ins, 5, node);
}

static void batchnorm_inference_closed_form(void **state) {
    (void)state;
    /* channel 0: (x-2)/sqrt(4)*2+1 = x-1; channel 1: (x-15)/sqrt(25)*0.5-1 */
    Tensor x = nn_from(4, (int64_t[]){1, 1, 2, 2}, (double[]){1, 10, 3, 20});
    int node;
    Graph *g = bn_graph("FusedBatchNormV3", x, (double[]){2, 0.5}, (double[]){1, -1}, (double[]){2, 15}, (double[]){4, 25}, 2, 2,
                        &node);
    nn_bool(g, node, "is_training", false);
    nn_float(g, node, "epsilon", 0);
    Err e;
    Tensor out[6] = {{0}};
    CHECK_OK(nn_run(g, node, out, 6, &e), &e);
    nn_assert_values(&out[0], 4, (int64_t[]){1, 1, 2, 2}, (double[]){0, -1.5, 2, -0.5}, 1e-6);
    nn_assert_values(&out[1], 1, (int64_t[]){2}, (double[]){2, 15}, 0);
    nn_assert_values(&out[2], 1, (int64_t[]){2}, (double[]){4, 25}, 0);
    assert_int_equal(out[5].shape.rank, 0); /* reserve_space_3: TF's CPU scalar */
    for (int k = 0; k < 6; k++) tensor_release(&out[k]);
    graph_free(g);
    /* the default epsilon is 1e-4: (1-2)/sqrt(4.0001)*2+1 */
    x = nn_from(4, (int64_t[]){1, 1, 1, 2}, (double[]){1, 10});
    g = bn_graph("FusedBatchNorm", x, (double[]){2, 0.5}, (double[]){1, -1}, (double[]){2, 15}, (double[]){4, 25}, 2, 2, &node);
    nn_bool(g, node, "is_training", false);
    CHECK_OK(nn_run(g, node, out, 5, &e), &e);
    nn_assert_values(&out[0], 4, (int64_t[]){1, 1, 1, 2},
                     (double[]){-1 / sqrt(4.0001) * 2 + 1, -5 / sqrt(25.0001) * 0.5 - 1}, 1e-6);
    for (int k = 0; k < 5; k++) tensor_release(&out[k]);
    graph_free(g);
}

static void batchnorm_training_statistics(void **state) {
    (void)state;
    /* channel 0 over N,H,W: 1 2 3 6 -> mean 3, biased variance 14/4, unbiased 14/3;
       channel 1: 0 0 4 4 -> mean 2, variance 4, unbiased 16/3. epsilon 0. */
    double xv[8] = {1, 0, 2, 0, 3, 4, 6, 4};
    double s35 = sqrt(3.5);
    for (int with_attr = 0; with_attr < 2; with_attr++) {
        int node;
        /* training mode ignores mean/variance: pass them empty */
        Graph *g = bn_graph("FusedBatchNormV2", nn_from(4, (int64_t[]){2, 1, 2, 2}, xv), (double[]){1, 2}, (double[]){0, 1},
                            NULL, NULL, 2, 0, &node);
        if (with_attr) nn_bool(g, node, "is_training", true); /* else TF's default, true */
        nn_float(g, node, "epsilon", 0);
        Err e;
        Tensor out[5] = {{0}};
        CHECK_OK(nn_run(g, node, out, 5, &e), &e);
        nn_assert_values(&out[0], 4, (int64_t[]){2, 1, 2, 2},
                         (double[]){-2 / s35, -1, -1 / s35, -1, 0, 3, 3 / s35, 3}, 1e-6);
        nn_assert_values(&out[1], 1, (int64_t[]){2}, (double[]){3, 2}, 1e-6);
        nn_assert_values(&out[2], 1, (int64_t[]){2}, (double[]){14.0 / 3, 16.0 / 3}, 1e-6);
        nn_assert_values(&out[3], 1, (int64_t[]){2}, (double[]){3, 2}, 1e-6);
        nn_assert_values(&out[4], 1, (int64_t[]){2}, (double[]){3.5, 4}, 1e-6);
        for (int k = 0; k < 5; k++) tensor_release(&out[k]);
        graph_free(g);
    }
    /* exponential_avg_factor 0.5 blends with running mean [1,1] and variance [2,2] */
    int node;
    Graph *g = bn_graph("FusedBatchNormV3", nn_from(4, (int64_t[]){2, 1, 2, 2}, xv), (double[]){1, 2}, (double[]){0, 1},
                        (double[]){1, 1}, (double[]){2, 2}, 2, 2, &node);
    nn_float(g, node, "exponential_avg_factor", 0.5f);
    nn_float(g, node, "epsilon", 0);
    Err e;
    Tensor out[6] = {{0}};
    CHECK_OK(nn_run(g, node, out, 6, &e), &e);
    nn_assert_values(&out[1], 1, (int64_t[]){2}, (double[]){2, 1.5}, 1e-6);
    nn_assert_values(&out[2], 1, (int64_t[]){2}, (double[]){1 + 7.0 / 3, 1 + 8.0 / 3}, 1e-6);
    nn_assert_values(&out[0], 4, (int64_t[]){2, 1, 2, 2}, (double[]){-2 / s35, -1, -1 / s35, -1, 0, 3, 3 / s35, 3}, 1e-6);
    for (int k = 0; k < 6; k++) tensor_release(&out[k]);
    graph_free(g);
}

static void batchnorm_nchw_and_errors(void **state) {
    (void)state;
    Tensor x = nn_rand(800, 4, (int64_t[]){2, 3, 4, 3});
    double sc[3] = {1.5, -0.5, 2}, of[3] = {0.1, 0.2, 0.3}, mu[3] = {0.05, -0.1, 0}, va[3] = {0.5, 1, 2};
    Tensor y[2];
    for (int nchw = 0; nchw < 2; nchw++) {
        int node;
        Graph *g = bn_graph("FusedBatchNormV3", nchw ? nn_to_nchw(&x) : tensor_share(&x), sc, of, mu, va, 3, 3, &node);
        nn_bool(g, node, "is_training", nchw); /* NCHW in training mode, NHWC in inference */
        if (nchw) nn_str(g, node, "data_format", "NCHW");
        Err e;
        Tensor out[6] = {{0}};
        CHECK_OK(nn_run(g, node, out, 6, &e), &e);
        y[nchw] = nchw ? nn_to_nhwc(&out[0]) : tensor_share(&out[0]);
        for (int k = 0; k < 6; k++) tensor_release(&out[k]);
        graph_free(g);
    }
    /* inference, closed form per element; training: each channel of y has mean offset[c] and
       biased variance scale[c]^2 (epsilon 1e-4 shrinks it slightly) */
    for (int64_t i = 0; i < tensor_numel(&x); i++) {
        int c = (int)(i % 3);
        double want = (nn_f(&x)[i] - mu[c]) / sqrt(va[c] + 1e-4) * sc[c] + of[c];
        assert_true(fabs(nn_f(&y[0])[i] - want) < 1e-5);
    }
    const double per_channel = (double)(tensor_numel(&x) / 3); /* N*H*W = 24 */
    for (int c = 0; c < 3; c++) {
        double s = 0, s2 = 0, bm = 0, bv = 0;
        for (int64_t i = c; i < tensor_numel(&x); i += 3) bm += nn_f(&x)[i];
        bm /= per_channel;
        for (int64_t i = c; i < tensor_numel(&x); i += 3) bv += (nn_f(&x)[i] - bm) * (nn_f(&x)[i] - bm);
        bv /= per_channel;
        for (int64_t i = c; i < tensor_numel(&x); i += 3) {
            s += nn_f(&y[1])[i];
            s2 += (nn_f(&y[1])[i] - of[c]) * (nn_f(&y[1])[i] - of[c]);
        }
        assert_true(fabs(s / per_channel - of[c]) < 1e-5);
        assert_true(fabs(s2 / per_channel - sc[c] * sc[c] * bv / (bv + 1e-4)) < 1e-4);
    }
    tensor_release(&y[0]);
    tensor_release(&y[1]);
    tensor_release(&x);
    /* errors */
    int node;
    Graph *g = bn_graph("FusedBatchNorm", nn_rand(1, 4, (int64_t[]){1, 2, 2, 3}), sc, of, mu, va, 2, 2, &node);
    nn_bool(g, node, "is_training", false);
    nn_expect_infer_error(g, ERR_INPUT, "scale");
    g = bn_graph("FusedBatchNorm", nn_rand(1, 3, (int64_t[]){2, 2, 3}), sc, of, mu, va, 3, 3, &node);
    nn_expect_infer_error(g, ERR_INPUT, "4-D");
    g = bn_graph("FusedBatchNorm", nn_rand(1, 4, (int64_t[]){1, 2, 2, 3}), sc, of, mu, va, 3, 3, &node);
    nn_str(g, node, "data_format", "HWCN");
    nn_expect_infer_error(g, ERR_INPUT, "data_format");
    /* inference mode needs real statistics */
    g = bn_graph("FusedBatchNorm", nn_rand(1, 4, (int64_t[]){1, 2, 2, 3}), sc, of, NULL, NULL, 3, 0, &node);
    nn_bool(g, node, "is_training", false);
    nn_expect_infer_error(g, ERR_INPUT, "mean");
    /* FLOPs: 2 per element in inference */
    Err e;
    g = bn_graph("FusedBatchNorm", nn_rand(1, 4, (int64_t[]){1, 2, 2, 3}), sc, of, mu, va, 3, 3, &node);
    nn_bool(g, node, "is_training", false);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 24);
    assert_int_equal(g->nodes[node]->n_outputs, 5);
    graph_free(g);
}

/* ---- resize ---- */

static Graph *resize_graph(const char *op, Tensor x, int32_t h, int32_t w, bool ac, bool hp, int *node) {
    Tensor ins[2] = {x, tt_i32(1, (int64_t[]){2}, (int32_t[]){h, w})};
    Graph *g = nn_graph(op, ins, 2, node);
    nn_bool(g, *node, "align_corners", ac);
    nn_bool(g, *node, "half_pixel_centers", hp);
    return g;
}

static Tensor run_resize(const char *op, const Tensor *x, int32_t h, int32_t w, bool ac, bool hp) {
    int node;
    Graph *g = resize_graph(op, tensor_share(x), h, w, ac, hp, &node);
    return nn_run1(g, node);
}

/* 2x2 image [[1,2],[3,4]]. Worked by hand from TF's formulas (see ref_resize.c's header):
   legacy x*scale, align_corners scale (in-1)/(out-1), half-pixel (x+0.5)*scale-0.5 with
   lower = max(floor, 0), upper = min(ceil, in-1). */
static void resize_bilinear_by_hand(void **state) {
    (void)state;
    Tensor x = nn_from(4, (int64_t[]){1, 2, 2, 1}, (double[]){1, 2, 3, 4});
    const double third = 1.0 / 3;
    struct {
        int out;
        bool ac, hp;
        double v[16];
    } cases[] = {
        /* 3x3 legacy: scale 2/3, sources 0, 2/3, 4/3 (-> clamps to pixel 1) */
        {3, false, false, {1, 1 + 2 * third, 2, 1 + 4 * third, 3, 2 + 4 * third, 3, 3 + 2 * third, 4}},
        /* 3x3 align_corners: scale 1/2, sources 0, 0.5, 1 */
        {3, true, false, {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}},
        /* 3x3 half-pixel: sources -1/6 (-> pixel 0), 0.5, 7/6 (-> pixel 1) */
        {3, false, true, {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}},
        /* 4x4 legacy: scale 1/2, sources 0, .5, 1, 1.5 (-> pixel 1) */
        {4, false, false, {1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4}},
        /* 4x4 align_corners: scale 1/3, sources 0, 1/3, 2/3, 1 */
        {4, true, false, {1, 1 + third, 1 + 2 * third, 2, 1 + 2 * third, 2, 2 + third, 2 + 2 * third,
                          2 + third, 2 + 2 * third, 3, 3 + third, 3, 3 + third, 3 + 2 * third, 4}},
        /* 4x4 half-pixel: sources -0.25 (-> 0), 0.25, 0.75, 1.25 (-> 1) */
        {4, false, true, {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Tensor y = run_resize("ResizeBilinear", &x, cases[k].out, cases[k].out, cases[k].ac, cases[k].hp);
        nn_assert_values(&y, 4, (int64_t[]){1, cases[k].out, cases[k].out, 1}, cases[k].v, 1e-6);
        tensor_release(&y);
    }
    tensor_release(&x);
}

static void resize_nearest_by_hand(void **state) {
    (void)state;
    /* 2x2 -> 3x3: legacy floor(x*2/3) = 0,0,1; align_corners round(x/2) = 0,1,1 (0.5 rounds
       up); half-pixel floor((x+0.5)*2/3) = 0,1,1 */
    Tensor x = nn_from(4, (int64_t[]){1, 2, 2, 1}, (double[]){1, 2, 3, 4});
    Tensor y = run_resize("ResizeNearestNeighbor", &x, 3, 3, false, false);
    nn_assert_values(&y, 4, (int64_t[]){1, 3, 3, 1}, (double[]){1, 1, 2, 1, 1, 2, 3, 3, 4}, 0);
    tensor_release(&y);
    for (int hp = 0; hp < 2; hp++) {
        y = run_resize("ResizeNearestNeighbor", &x, 3, 3, !hp, hp);
        nn_assert_values(&y, 4, (int64_t[]){1, 3, 3, 1}, (double[]){1, 2, 2, 3, 4, 4, 3, 4, 4}, 0);
        tensor_release(&y);
    }
    /* 2x2 -> 4x4: all three modes pick 0,0,1,1 */
    for (int mode = 0; mode < 3; mode++) {
        y = run_resize("ResizeNearestNeighbor", &x, 4, 4, mode == 1, mode == 2);
        nn_assert_values(&y, 4, (int64_t[]){1, 4, 4, 1}, (double[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0);
        tensor_release(&y);
    }
    tensor_release(&x);
    /* a row of 3 -> 5 tells the modes apart: legacy floor(0.6x) = 0,0,1,1,2; align_corners
       round(0.5x) = 0,1,1,2,2; half-pixel floor(0.6(x+0.5)) = 0,0,1,2,2 */
    Tensor row = nn_from(4, (int64_t[]){1, 1, 3, 1}, (double[]){10, 20, 30});
    double want[3][5] = {{10, 10, 20, 20, 30}, {10, 20, 20, 30, 30}, {10, 10, 20, 30, 30}};
    for (int mode = 0; mode < 3; mode++) {
        y = run_resize("ResizeNearestNeighbor", &row, 1, 5, mode == 1, mode == 2);
        nn_assert_values(&y, 4, (int64_t[]){1, 1, 5, 1}, want[mode], 0);
        tensor_release(&y);
    }
    tensor_release(&row);
    /* nearest keeps the dtype (a gather): int32, two channels */
    Tensor xi = tt_i32(4, (int64_t[]){1, 1, 2, 2}, (int32_t[]){1, -1, 2, -2});
    int node;
    Graph *g = resize_graph("ResizeNearestNeighbor", xi, 1, 4, false, false, &node);
    y = nn_run1(g, node);
    assert_int_equal(y.dtype, DT_INT32);
    const int32_t *p = tensor_data(&y);
    int32_t wi[8] = {1, -1, 1, -1, 2, -2, 2, -2};
    for (int k = 0; k < 8; k++) assert_int_equal(p[k], wi[k]);
    tensor_release(&y);
}

static void resize_errors(void **state) {
    (void)state;
    int node;
    Graph *g = resize_graph("ResizeBilinear", nn_rand(1, 4, (int64_t[]){1, 2, 2, 1}), 3, 3, true, true, &node);
    nn_expect_infer_error(g, ERR_INPUT, "half_pixel_centers");
    g = resize_graph("ResizeNearestNeighbor", nn_rand(1, 4, (int64_t[]){1, 2, 2, 1}), 0, 3, false, false, &node);
    nn_expect_infer_error(g, ERR_INPUT, "positive");
    g = resize_graph("ResizeBilinear", nn_rand(1, 3, (int64_t[]){2, 2, 1}), 3, 3, false, false, &node);
    nn_expect_infer_error(g, ERR_INPUT, "4-D");
    /* bilinear of int32 gives float32 (TF) but the reference kernel reads float32 only */
    Err e;
    g = resize_graph("ResizeBilinear", tt_i32(4, (int64_t[]){1, 1, 1, 1}, (int32_t[]){1}), 2, 2, false, false, &node);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(g->nodes[node]->outputs[0].dtype, DT_FLOAT);
    nn_expect_error(g, node, ERR_RUNTIME, "int32");
}

/* ---- softmax ---- */

static void softmax_values(void **state) {
    (void)state;
    int node;
    /* [1,2,3]: e^k / (e + e^2 + e^3); [1000, 1000, -1000] needs the max subtracted */
    Tensor x = nn_from(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 1000, 1000, -1000});
    Graph *g = nn_graph("Softmax", &x, 1, &node);
    Tensor y = nn_run1(g, node);
    double s = exp(1) + exp(2) + exp(3);
    nn_assert_values(&y, 2, (int64_t[]){2, 3}, (double[]){exp(1) / s, exp(2) / s, exp(3) / s, 0.5, 0.5, 0}, 1e-7);
    tensor_release(&y);
    /* rank 3 random: every row along the last axis sums to 1, and is ordered like its logits */
    x = nn_rand(900, 3, (int64_t[]){2, 3, 7});
    Tensor xc = tensor_share(&x);
    g = nn_graph("Softmax", &xc, 1, &node);
    y = nn_run1(g, node);
    for (int r = 0; r < 6; r++) {
        double sum = 0;
        for (int j = 0; j < 7; j++) {
            sum += nn_f(&y)[r * 7 + j];
            if (j) assert_true((nn_f(&x)[r * 7 + j] > nn_f(&x)[r * 7 + j - 1]) == (nn_f(&y)[r * 7 + j] > nn_f(&y)[r * 7 + j - 1]));
        }
        assert_true(fabs(sum - 1) < 1e-6);
    }
    tensor_release(&x);
    tensor_release(&y);
    /* scalar logits are bad input; FLOPs 5 per element */
    Tensor sc = nn_from(0, NULL, (double[]){1});
    g = nn_graph("Softmax", &sc, 1, &node);
    nn_expect_infer_error(g, ERR_INPUT, "rank");
    Err e;
    x = nn_rand(1, 2, (int64_t[]){4, 5});
    g = nn_graph("Softmax", &x, 1, &node);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 100);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_same_edges_by_hand),
        cmocka_unit_test(pool_random_nhwc_nchw_explicit),
        cmocka_unit_test(pool_errors_and_flops),
        cmocka_unit_test(batchnorm_inference_closed_form),
        cmocka_unit_test(batchnorm_training_statistics),
        cmocka_unit_test(batchnorm_nchw_and_errors),
        cmocka_unit_test(resize_bilinear_by_hand),
        cmocka_unit_test(resize_nearest_by_hand),
        cmocka_unit_test(resize_errors),
        cmocka_unit_test(softmax_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
