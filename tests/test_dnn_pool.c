/* test_dnn_pool.c - the oneDNN pooling and resampling families (dnn_pool.c, dnn_resample.c)
 * against the reference kernels: MaxPool / AvgPool in NHWC and NCHW with SAME edges, VALID
 * leftovers, EXPLICIT padding, all-negative inputs; ResizeBilinear with half-pixel centres,
 * ResizeNearestNeighbor over many size pairs (every case the family takes must match TF's
 * index rule exactly), and declines (align_corners, bilinear without half-pixel centres,
 * bfloat16 pools). */
#include "test_dnn_util.h"

static Graph *pool_graph(const char *op, const Tensor *x, const int64_t *k, const int64_t *s, const char *padding,
                         bool nchw, const int64_t *explicit_pads, int *node) {
    Err e;
    Graph *g = td_graph(op, x, 1, 0, node);
    Node *n = g->nodes[*node];
    int64_t k4[4] = {1, nchw ? 1 : k[0], nchw ? k[0] : k[1], nchw ? k[1] : 1};
    int64_t s4[4] = {1, nchw ? 1 : s[0], nchw ? s[0] : s[1], nchw ? s[1] : 1};
    CHECK_OK(node_set_attr_list_i(n, "ksize", k4, 4, &e), &e);
    CHECK_OK(node_set_attr_list_i(n, "strides", s4, 4, &e), &e);
    CHECK_OK(node_set_attr_s(n, "padding", padding, &e), &e);
    if (nchw) CHECK_OK(node_set_attr_s(n, "data_format", "NCHW", &e), &e);
    if (explicit_pads) CHECK_OK(node_set_attr_list_i(n, "explicit_paddings", explicit_pads, 8, &e), &e);
    td_infer(g);
    return g;
}

static void pool_case(const char *op, const int64_t *xd, int64_t kh, int64_t kw, int64_t sh, int64_t sw, const char *pad,
                      bool nchw, double lo, double hi) {
    Tensor x = td_rand((uint64_t)(xd[1] * 131 + kh * 7 + sw), 4, xd, lo, hi);
    int node;
    Graph *g = pool_graph(op, &x, (int64_t[]){kh, kw}, (int64_t[]){sh, sw}, pad, nchw, NULL, &node);
    td_check(fast_compile_pool, g, node, &x, 1e-5, NULL, 0);
    graph_free(g);
    tensor_release(&x);
}

static void pool_max_avg_nhwc_nchw(void **state) {
    (void)state;
    const char *ops[2] = {"MaxPool", "AvgPool"};
    for (int o = 0; o < 2; o++)
        for (int f = 0; f < 2; f++) {
            bool nchw = f == 1;
            /* dims in data_format order */
            const int64_t a[4] = {2, nchw ? 5 : 9, nchw ? 9 : 11, nchw ? 11 : 5};
            const int64_t b[4] = {1, nchw ? 7 : 5, nchw ? 5 : 8, nchw ? 8 : 7};
            pool_case(ops[o], a, 3, 3, 2, 2, "SAME", nchw, -2, 2);
            pool_case(ops[o], a, 2, 2, 2, 2, "VALID", nchw, -2, 2); /* trailing row/column unread */
            pool_case(ops[o], a, 3, 3, 1, 1, "SAME", nchw, -2, 2);
            pool_case(ops[o], b, 2, 3, 2, 1, "SAME", nchw, -2, 2);
            pool_case(ops[o], b, 2, 3, 3, 2, "VALID", nchw, -2, 2);
            pool_case(ops[o], b, 5, 8, 1, 1, "VALID", nchw, -2, 2); /* window = whole image */
        }
}

static void pool_same_edges_exclude_padding(void **state) {
    (void)state;
    /* 3x3 image 1..9, 3x3 window stride 1 SAME: the corner averages 4 values, the edge 6 */
    Tensor x = td_vals(9, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    x.shape = shape_make(4, (int64_t[]){1, 3, 3, 1});
    int node;
    Graph *g = pool_graph("AvgPool", &x, (int64_t[]){3, 3}, (int64_t[]){1, 1}, "SAME", false, NULL, &node);
    Err e;
    Tensor got[1] = {{0}};
    assert_int_equal(tf_fast_node(fast_compile_pool, g, node, &x, got, NULL, 0, &e), 1);
    const double want[9] = {3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7};
    for (int i = 0; i < 9; i++) assert_true(fabs(tensor_get(&got[0], i) - want[i]) < 1e-6);
    tensor_release(&got[0]);
    graph_free(g);
    /* all-negative: MaxPool's padding must never win */
    Tensor neg = td_rand(4, 4, (int64_t[]){1, 6, 5, 3}, -9, -1);
    g = pool_graph("MaxPool", &neg, (int64_t[]){3, 3}, (int64_t[]){2, 2}, "SAME", false, NULL, &node);
    td_check(fast_compile_pool, g, node, &neg, 0, NULL, 0); /* max is exact */
    graph_free(g);
    tensor_release(&neg);
    tensor_release(&x);
}

static void pool_max_explicit_padding(void **state) {
    (void)state;
    Tensor x = td_rand(5, 4, (int64_t[]){2, 7, 6, 3}, -3, 1);
    int node;
    /* NHWC pads: (0,0) (1,2) (2,0) (0,0) */
    Graph *g = pool_graph("MaxPool", &x, (int64_t[]){3, 3}, (int64_t[]){2, 1}, "EXPLICIT", false,
                          (int64_t[]){0, 0, 1, 2, 2, 0, 0, 0}, &node);
    td_check(fast_compile_pool, g, node, &x, 0, NULL, 0);
    graph_free(g);
    tensor_release(&x);
}

static void pool_declines(void **state) {
    (void)state;
    Tensor xf = td_rand(6, 4, (int64_t[]){1, 4, 4, 2}, -1, 1);
    Tensor x = td_to_bf16(&xf); /* the reference pools are float32-only */
    int node;
    Graph *g = pool_graph("MaxPool", &x, (int64_t[]){2, 2}, (int64_t[]){2, 2}, "VALID", false, NULL, &node);
    td_declines(fast_compile_pool, g, node, &x);
    graph_free(g);
    g = td_graph("Relu", &xf, 1, 0, &node); /* not a pool */
    td_infer(g);
    td_declines(fast_compile_pool, g, node, &xf);
    graph_free(g);
    tensor_release(&x);
    tensor_release(&xf);
}

/* ---- resampling ---- */

static Graph *resize_graph(const char *op, const Tensor *x, int64_t oh, int64_t ow, bool align, bool half, Tensor *ins,
                           int *node) {
    ins[0] = *x;
    ins[1] = td_i32(1, (int64_t[]){2}, (int32_t[]){(int32_t)oh, (int32_t)ow});
    Graph *g = td_graph(op, ins, 2, 2u, node);
    Err e;
    CHECK_OK(node_set_attr_b(g->nodes[*node], "align_corners", align, &e), &e);
    CHECK_OK(node_set_attr_b(g->nodes[*node], "half_pixel_centers", half, &e), &e);
    td_infer(g);
    return g;
}

static void resize_bilinear_half_pixel(void **state) {
    (void)state;
    const int64_t cases[][6] = {{1, 5, 7, 3, 10, 14}, {2, 8, 8, 4, 3, 5}, {1, 4, 4, 2, 7, 9}, {1, 1, 6, 5, 4, 6},
                                {1, 13, 9, 1, 13, 9}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        Tensor x = td_rand(30 + c, 4, cases[c], -5, 5), ins[2];
        int node;
        Graph *g = resize_graph("ResizeBilinear", &x, cases[c][4], cases[c][5], false, true, ins, &node);
        td_check(fast_compile_resample, g, node, ins, 1e-4, NULL, 0);
        graph_free(g);
        tensor_release(&ins[1]);
        tensor_release(&x);
    }
}

static void resize_declines(void **state) {
    (void)state;
    Tensor x = td_rand(40, 4, (int64_t[]){1, 4, 5, 2}, -1, 1), ins[2];
    const struct { const char *op; bool align, half; } cases[] = {
        {"ResizeBilinear", true, false},          /* align_corners */
        {"ResizeBilinear", false, false},         /* TF's legacy coordinates */
        {"ResizeNearestNeighbor", true, false},   /* align_corners */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int node;
        Graph *g = resize_graph(cases[c].op, &x, 8, 10, cases[c].align, cases[c].half, ins, &node);
        td_declines(fast_compile_resample, g, node, ins);
        graph_free(g);
        tensor_release(&ins[1]);
    }
    tensor_release(&x);
}

/* Every size pair the nearest family accepts must reproduce TF's indices exactly; integer
   upsampling (the common FPN / U-Net case) must be accepted. */
static void resize_nearest_probe(void **state) {
    (void)state;
    const int64_t in_sizes[] = {1, 3, 4, 5, 7, 8};
    const int64_t out_sizes[] = {1, 2, 4, 6, 7, 9, 10, 14, 16};
    int ran = 0, declined = 0;
    for (int half = 0; half < 2; half++)
        for (size_t i = 0; i < sizeof in_sizes / sizeof *in_sizes; i++)
            for (size_t o = 0; o < sizeof out_sizes / sizeof *out_sizes; o++) {
                int64_t in = in_sizes[i], out = out_sizes[o];
                Tensor x = td_rand(50 + i, 4, (int64_t[]){1, in, in + 1, 2}, -5, 5), ins[2];
                int node;
                Graph *g = resize_graph("ResizeNearestNeighbor", &x, out, out + 2, false, half, ins, &node);
                Err e;
                Tensor got[1] = {{0}}, want[1] = {{0}};
                int rc = tf_fast_node(fast_compile_resample, g, node, ins, got, NULL, 0, &e);
                if (rc < 0) { print_error("%s\n", e.msg); fail(); }
                bool upsample = out % in == 0 && (out + 2) % (in + 1) == 0;
                if (rc == 1) {
                    ran++;
                    CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
                    if (tf_rel_err(&got[0], &want[0]) != 0) {
                        print_error("nearest %lldx%lld -> %lldx%lld (half %d) differs from TF\n", (long long)in,
                                    (long long)in + 1, (long long)out, (long long)out + 2, half);
                        fail();
                    }
                } else {
                    declined++;
                    if (upsample) {
                        print_error("integer upsampling %lld -> %lld declined\n", (long long)in, (long long)out);
                        fail();
                    }
                }
                tensor_release(&got[0]);
                tensor_release(&want[0]);
                graph_free(g);
                tensor_release(&ins[1]);
                tensor_release(&x);
            }
    print_message("ResizeNearestNeighbor: %d size pairs run on oneDNN (all exact), %d declined\n", ran, declined);
    assert_true(ran > 0 && declined > 0); /* the probe must both accept and reject */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_max_avg_nhwc_nchw),
        cmocka_unit_test(pool_same_edges_exclude_padding),
        cmocka_unit_test(pool_max_explicit_padding),
        cmocka_unit_test(pool_declines),
        cmocka_unit_test(resize_bilinear_half_pixel),
        cmocka_unit_test(resize_declines),
        cmocka_unit_test(resize_nearest_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
