/* test_dnn_eltwise.c - the oneDNN eltwise family (dnn_eltwise.c) against the reference unary
 * kernels: every mapped op on negative, small and large values and odd shapes, per-element
 * relative accuracy, in-place execution, bfloat16 for the exact ops, constant inputs, declines
 * (Erf, integer tensors), and a speed comparison on [1,56,56,256]. */
#include "test_dnn_util.h"

/* runs op on x (a Placeholder input), checks against the reference: tf_rel_err <= 1e-4 and,
   when elem_tol > 0, a per-element relative error <= elem_tol */
static void check_unary(const char *op, const Tensor *x, double elem_tol, float alpha) {
    int node;
    Graph *g = td_graph(op, x, 1, 0, &node);
    if (alpha != 0) {
        Err e;
        CHECK_OK(node_set_attr_f(g->nodes[node], "alpha", alpha, &e), &e);
    }
    td_infer(g);
    td_check(fast_compile_eltwise, g, node, x, 1e-4, NULL, 0);
    if (elem_tol > 0) {
        Err e;
        Tensor want[1] = {{0}}, got[1] = {{0}};
        CHECK_OK(ref_eval_node(NULL, g, node, x, want, &e), &e);
        assert_int_equal(tf_fast_node(fast_compile_eltwise, g, node, x, got, NULL, 0, &e), 1);
        double r = td_elem_rel_err(&got[0], &want[0], 1e-30);
        if (!(r <= elem_tol)) {
            print_error("%s: per-element relative error %g > %g\n", op, r, elem_tol);
            fail();
        }
        tensor_release(&got[0]);
        tensor_release(&want[0]);
    }
    graph_free(g);
}

static void eltwise_all_ops_signed_values(void **state) {
    (void)state;
    static const char *ops[] = {"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh",
                                "Square", "Abs", "Neg", "Exp"};
    const int64_t shapes[3][4] = {{2, 7, 13, 5}, {1, 1, 1, 1}, {3, 1, 33, 17}};
    for (int s = 0; s < 3; s++)
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
            bool is_exp = !strcmp(ops[i], "Exp");
            /* values across zero and past Relu6's 6; Exp on a range it cannot overflow */
            Tensor x = td_rand(11 + i, 4, shapes[s], is_exp ? -20 : -9, is_exp ? 20 : 9);
            check_unary(ops[i], &x, 0, 0);
            tensor_release(&x);
        }
}

static void eltwise_large_magnitudes(void **state) {
    (void)state;
    /* saturation regions and big values: tanh/sigmoid at +-100, elu far negative, square to
       1e36, relu of 1e30, exp near its overflow */
    const double v[] = {-100, -50, -20, -1e-3, 0, 1e-3, 20, 50, 100, -1e18, 1e18, 3.5, -7.25};
    Tensor x = td_vals(13, v);
    static const char *ops[] = {"Tanh", "Sigmoid", "Elu", "Square", "Relu", "Relu6", "LeakyRelu", "Abs", "Neg"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) check_unary(ops[i], &x, 0, 0);
    tensor_release(&x);
    const double e[] = {-87, -40, -1, 0, 1, 10, 40, 80, 88};
    x = td_vals(9, e);
    check_unary("Exp", &x, 1e-5, 0);
    tensor_release(&x);
}

static void eltwise_positive_domain_accuracy(void **state) {
    (void)state;
    /* Log, Sqrt, Rsqrt (oneDNN pow with beta -0.5) per element, over 1e-6 .. 1e6 */
    const int64_t dims[2] = {37, 41};
    Tensor x = td_rand(5, 2, dims, 0, 1);
    float *p = tensor_mut(&x);
    for (int64_t i = 0; i < tensor_numel(&x); i++) p[i] = powf(10.0f, -6.0f + 12.0f * p[i]);
    check_unary("Sqrt", &x, 1e-6, 0);
    check_unary("Rsqrt", &x, 1e-4, 0);
    check_unary("Log", &x, 0, 0);
    tensor_release(&x);
    const int64_t d1[1] = {101};
    x = td_rand(6, 1, d1, 0.001, 50);
    check_unary("Log", &x, 0, 0); /* log crosses 0 at 1: a per-element relative error means nothing there */
    tensor_release(&x);
}

static void eltwise_leaky_relu_alpha(void **state) {
    (void)state;
    const int64_t dims[3] = {3, 5, 7};
    Tensor x = td_rand(3, 3, dims, -4, 4);
    check_unary("LeakyRelu", &x, 0, 0.01f);
    check_unary("LeakyRelu", &x, 0, 1.7f); /* alpha > 1 is legal in TF: x > 0 ? x : alpha x */
    tensor_release(&x);
}

/* the output buffer is the input buffer (the plan's in-place grant): results still right */
static void eltwise_in_place(void **state) {
    (void)state;
    static const char *ops[] = {"Relu", "Tanh", "Sigmoid", "Neg", "Elu"};
    const int64_t dims[4] = {1, 9, 11, 19};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        Tensor x = td_rand(21 + i, 4, dims, -5, 5);
        int node;
        Graph *g = td_graph(ops[i], &x, 1, 0, &node);
        td_infer(g);
        Err e;
        Tensor want[1] = {{0}};
        CHECK_OK(ref_eval_node(NULL, g, node, &x, want, &e), &e);
        DnnCtx ctx;
        CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
        FastKernel k;
        memset(&k, 0, sizeof k);
        assert_int_equal(fast_compile_eltwise(&ctx, g, g->nodes[node], &k, &e), 1);
        assert_int_equal(k.inplace, 0);
        assert_int_equal(k.scratch_bytes, 0);
        Tensor out;
        CHECK_OK(tensor_wrap(&out, DT_FLOAT, &x.shape, x.buf->data, &e), &e);
        CHECK_OK(k.run(k.state, &x, &out, NULL, &e), &e);
        assert_true(tf_rel_err(&out, &want[0]) <= 1e-4);
        assert_true(tf_rel_err(&x, &want[0]) <= 1e-4); /* the input buffer now holds the result */
        tensor_release(&out);
        k.destroy(k.state);
        dnn_ctx_free(&ctx);
        tensor_release(&want[0]);
        tensor_release(&x);
        graph_free(g);
    }
}

static void eltwise_bf16_exact_ops(void **state) {
    (void)state;
    const int64_t dims[2] = {17, 23};
    Tensor xf = td_rand(8, 2, dims, -9, 9);
    Tensor x = td_to_bf16(&xf);
    static const char *ops[] = {"Relu", "Relu6", "Abs", "Neg"};
    for (size_t i = 0; i < 4; i++) {
        int node;
        Graph *g = td_graph(ops[i], &x, 1, 0, &node);
        td_infer(g);
        /* oneDNN has bf16 eltwise kernels only with AVX-512: elsewhere the family must decline */
        if (td_has_bf16()) td_check(fast_compile_eltwise, g, node, &x, 0, NULL, 0); /* exact */
        else td_declines(fast_compile_eltwise, g, node, &x);
        graph_free(g);
    }
    /* inexact in bf16 (rounding of a transcendental): declined */
    int node;
    Graph *g = td_graph("Tanh", &x, 1, 0, &node);
    td_infer(g);
    td_declines(fast_compile_eltwise, g, node, &x);
    graph_free(g);
    tensor_release(&x);
    tensor_release(&xf);
}

static void eltwise_constant_input(void **state) {
    (void)state;
    /* a Const input: the kernel must read its held value (in[] still passed for the reference) */
    const int64_t dims[2] = {4, 6};
    Tensor x = td_rand(9, 2, dims, -3, 3);
    int node;
    Graph *g = td_graph("Sigmoid", &x, 1, 1u, &node);
    td_infer(g);
    td_check(fast_compile_eltwise, g, node, &x, 1e-4, NULL, 0);
    graph_free(g);
    tensor_release(&x);
}

static void eltwise_declines(void **state) {
    (void)state;
    const int64_t dims[2] = {3, 4};
    Tensor x = td_rand(1, 2, dims, -2, 2);
    int node;
    Graph *g = td_graph("Erf", &x, 1, 0, &node); /* no plain erf eltwise in oneDNN 2.6 */
    td_infer(g);
    td_declines(fast_compile_eltwise, g, node, &x);
    graph_free(g);
    g = td_graph("Selu", &x, 1, 0, &node); /* would need a post-op oneDNN 2.6 mishandles */
    td_infer(g);
    td_declines(fast_compile_eltwise, g, node, &x);
    graph_free(g);
    int32_t iv[12] = {-3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    Tensor xi = td_i32(2, dims, iv);
    g = td_graph("Relu", &xi, 1, 0, &node); /* integer tensors stay with the reference */
    td_infer(g);
    td_declines(fast_compile_eltwise, g, node, &xi);
    graph_free(g);
    g = td_graph("Add", (Tensor[]){x, x}, 2, 0, &node); /* not this family */
    td_infer(g);
    td_declines(fast_compile_eltwise, g, node, (Tensor[]){x, x});
    graph_free(g);
    tensor_release(&xi);
    tensor_release(&x);
}

static void eltwise_speed_56x56x256(void **state) {
    (void)state;
    const int64_t dims[4] = {1, 56, 56, 256};
    Tensor x = td_rand(2, 4, dims, -3, 3);
    int node;
    Graph *g = td_graph("Relu", &x, 1, 0, &node);
    td_infer(g);
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_eltwise(&ctx, g, g->nodes[node], &k, &e), 1);
    Tensor out[1] = {{0}}, ref[1] = {{0}};
    CHECK_OK(tensor_alloc(&out[0], DT_FLOAT, &x.shape, &e), &e);
    const int reps = 20;
    CHECK_OK(k.run(k.state, &x, out, NULL, &e), &e); /* warm-up */
    double t0 = td_now();
    for (int r = 0; r < reps; r++) CHECK_OK(k.run(k.state, &x, out, NULL, &e), &e);
    double fast = (td_now() - t0) / reps;
    CHECK_OK(ref_eval_node(NULL, g, node, &x, ref, &e), &e);
    t0 = td_now();
    for (int r = 0; r < 3; r++) {
        tensor_release(&ref[0]);
        CHECK_OK(ref_eval_node(NULL, g, node, &x, ref, &e), &e);
    }
    double slow = (td_now() - t0) / 3;
    assert_true(tf_rel_err(&out[0], &ref[0]) <= 1e-4);
    double bytes = 2.0 * 4 * (double)tensor_numel(&x);
    print_message("Relu [1,56,56,256] (%s): oneDNN %.3f ms (%.1f GB/s), reference %.3f ms, %.1fx\n", k.impl, fast * 1e3,
                  bytes / fast * 1e-9, slow * 1e3, slow / fast);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&out[0]);
    tensor_release(&ref[0]);
    tensor_release(&x);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eltwise_all_ops_signed_values),
        cmocka_unit_test(eltwise_large_magnitudes),
        cmocka_unit_test(eltwise_positive_domain_accuracy),
        cmocka_unit_test(eltwise_leaky_relu_alpha),
        cmocka_unit_test(eltwise_in_place),
        cmocka_unit_test(eltwise_bf16_exact_ops),
        cmocka_unit_test(eltwise_constant_input),
        cmocka_unit_test(eltwise_declines),
        cmocka_unit_test(eltwise_speed_56x56x256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
