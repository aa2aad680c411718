/* test_hostile.c - regression tests for issue 11 (hostile and unusual input): each test is a
 * tiny crafted graph or file that once gave a wrong result, a hang, unbounded memory or an
 * inconsistent exit code, checked through the library paths the CLI uses. */
#include "hostile.h"

#include <time.h>

#include "graph/nn_attrs.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- item 5: pooling windows of 2^62 and 2^30 ---- */

static Pb pool_graph(const char *op, int64_t kh, int64_t kw, int64_t sw) {
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 4, (int64_t[]){1, 4, 4, 2});
    Pb n = pb_node("p", op, (const char *[]){"x"}, 1);
    pb_attr(&n, "T", pb_a_type(DT_FLOAT));
    pb_attr(&n, "ksize", pb_a_ints(4, (int64_t[]){1, kh, kw, 1}));
    pb_attr(&n, "strides", pb_a_ints(4, (int64_t[]){1, 1, sw, 1}));
    pb_attr(&n, "padding", pb_a_s("SAME"));
    pb_add_node(&g, &n);
    return g;
}

static void test_pool_window_2_62_refused(void **state) {
    (void)state;
    const char *ops[2] = {"MaxPool", "AvgPool"};
    for (int o = 0; o < 2; o++) {
        Pb g = pool_graph(ops[o], (int64_t)1 << 62, (int64_t)1 << 62, 1);
        Err err = {0};
        Graph *gr = hx_load(&g, &err);
        assert_null(gr);
        assert_int_equal(err.code, ERR_INPUT);
        assert_non_null(strstr(err.msg, "ksize"));
    }
}

static void test_pool_window_2_31_bounded(void **state) {
    (void)state;
    const char *ops[2] = {"MaxPool", "AvgPool"};
    for (int o = 0; o < 2; o++) {
        Pb g = pool_graph(ops[o], INT32_MAX, INT32_MAX, 2);
        Err err = {0};
        Graph *gr = hx_load(&g, &err);
        CHECK_OK(gr == NULL, &err);
        double t0 = now_s();
        hx_run_both(gr, 1e-6);
        assert_true(now_s() - t0 < 10.0); /* 2^62 window steps per output before the fix */
        /* the window covers the whole input: every output is the same per channel */
        Tensor x, y;
        CHECK_OK(input_generate(gr, 0, 1, &x, &err), &err);
        RefFeed f = {"x", x};
        CHECK_OK(ref_run(gr, &f, 1, NULL, 0, &y, NULL, &err), &err);
        for (int64_t i = 2; i < tensor_numel(&y); i++) assert_true(tensor_get(&y, i) == tensor_get(&y, i % 2));
        tensor_release(&x);
        tensor_release(&y);
        graph_free(gr);
    }
}

/* ---- item 10: strides and dilations of 2^62 refused everywhere; 2^30 agrees on both ---- */

static Pb conv_graph(const char *attr, int64_t v) {
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 4, (int64_t[]){1, 8, 8, 1});
    Pb w = pb_tensor(DT_FLOAT, 4, (int64_t[]){2, 2, 1, 1}, (float[]){1, 2, 3, 4}, 4, NULL, 0);
    pb_const(&g, "w", &w, DT_FLOAT);
    Pb n = pb_node("c", "Conv2D", (const char *[]){"x", "w"}, 2);
    pb_attr(&n, "T", pb_a_type(DT_FLOAT));
    pb_attr(&n, "strides", pb_a_ints(4, (int64_t[]){1, 1, 1, 1}));
    pb_attr(&n, attr, pb_a_ints(4, (int64_t[]){1, v, v, 1}));
    pb_attr(&n, "padding", pb_a_s("SAME"));
    pb_add_node(&g, &n);
    return g;
}

static void test_conv_huge_strides_dilations(void **state) {
    (void)state;
    const char *attrs[2] = {"strides", "dilations"};
    for (int a = 0; a < 2; a++) {
        Pb g = conv_graph(attrs[a], (int64_t)1 << 62);
        Err err = {0};
        assert_null(hx_load(&g, &err));
        assert_int_equal(err.code, ERR_INPUT);
        assert_non_null(strstr(err.msg, attrs[a]));
        g = conv_graph(attrs[a], (int64_t)1 << 30);
        Graph *gr = hx_load(&g, &err);
        CHECK_OK(gr == NULL, &err);
        double t0 = now_s();
        hx_run_both(gr, 1e-6); /* the fast runtime failed (strides) or hung (dilations) */
        assert_true(now_s() - t0 < 10.0);
        graph_free(gr);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_window_2_62_refused),
        cmocka_unit_test(test_pool_window_2_31_bounded),
        cmocka_unit_test(test_conv_huge_strides_dilations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
