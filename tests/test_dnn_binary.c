/* test_dnn_binary.c - the oneDNN binary family (dnn_binary.c) against the reference kernels:
 * every op on equal shapes and broadcasting patterns (trailing vector, broadcast input 0 with
 * the operand swap, scalar operands, rank 7 that collapses), BiasAdd NHWC / NCHW, constant
 * operands, in-place runs, declines (both inputs broadcast, non-commutative swap, int32, Pow)
 * and a speed comparison on [1,56,56,256]. */
#include "test_dnn_util.h"

/* Maximum / Minimum are not oneDNN's (NaN handling: native_binary.c runs them) */
static const char *ALL_OPS[] = {"Add", "AddV2", "Sub", "Mul", "RealDiv", "SquaredDifference"};
#define N_OPS (sizeof ALL_OPS / sizeof *ALL_OPS)

static bool commutative(const char *op) { return strcmp(op, "Sub") && strcmp(op, "RealDiv"); }

/* a in [-3,3); b in +-[0.5,3) so RealDiv stays well conditioned */
static Tensor operand(uint64_t seed, int rank, const int64_t *dims, bool divisor) {
    Tensor t = td_rand(seed, rank, dims, divisor ? 0.5 : -3, 3);
    if (divisor) {
        float *p = tensor_mut(&t);
        for (int64_t i = 0; i < tensor_numel(&t); i += 2) p[i] = -p[i];
    }
    return t;
}

/* runs op on (a, b) with the given constant mask; expects success or, when expect_decline,
   a decline */
static void run_binary(const char *op, const Tensor *a, const Tensor *b, unsigned const_mask, bool expect_decline) {
    Tensor ins[2] = {*a, *b};
    int node;
    Graph *g = td_graph(op, ins, 2, const_mask, &node);
    td_infer(g);
    if (expect_decline) td_declines(fast_compile_binary, g, node, ins);
    else td_check(fast_compile_binary, g, node, ins, 1e-4, NULL, 0);
    graph_free(g);
}

/* every op on a (rank ra, dims da) and b (rank rb, dims db); when b_full is false input 0 is
   the broadcast one, so only commutative ops may run */
static void all_ops(int ra, const int64_t *da, int rb, const int64_t *db, bool a_is_full) {
    for (size_t i = 0; i < N_OPS; i++) {
        Tensor a = operand(3 + i, ra, da, false), b = operand(7 + i, rb, db, true);
        run_binary(ALL_OPS[i], &a, &b, 0, !a_is_full && !commutative(ALL_OPS[i]));
        tensor_release(&a);
        tensor_release(&b);
    }
}

static void binary_same_shape(void **state) {
    (void)state;
    all_ops(3, (int64_t[]){2, 3, 4}, 3, (int64_t[]){2, 3, 4}, true);
    all_ops(4, (int64_t[]){1, 13, 17, 3}, 4, (int64_t[]){1, 13, 17, 3}, true);
    all_ops(1, (int64_t[]){1}, 1, (int64_t[]){1}, true);
}

static void binary_broadcast_second(void **state) {
    (void)state;
    all_ops(3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4}, true);              /* [2,3,4] + [4] */
    all_ops(4, (int64_t[]){1, 13, 17, 3}, 4, (int64_t[]){1, 1, 17, 1}, true); /* middle dim only */
    all_ops(3, (int64_t[]){5, 6, 7}, 3, (int64_t[]){5, 1, 7}, true);
    all_ops(2, (int64_t[]){5, 7}, 0, NULL, true);                           /* scalar operand */
    all_ops(0, NULL, 0, NULL, true);                                        /* scalar + scalar */
}

static void binary_broadcast_first_swaps(void **state) {
    (void)state;
    /* input 0 broadcast: commutative ops swap, Sub and RealDiv decline */
    all_ops(1, (int64_t[]){4}, 3, (int64_t[]){2, 3, 4}, false);
    all_ops(0, NULL, 2, (int64_t[]){5, 7}, false);
    all_ops(3, (int64_t[]){3, 1, 5}, 3, (int64_t[]){3, 4, 5}, false);
}

static void binary_both_broadcast_declines(void **state) {
    (void)state;
    /* [2,1,4] + [2,3,1]: the output [2,3,4] is neither input's shape: oneDNN 2.6 cannot */
    for (size_t i = 0; i < N_OPS; i++) {
        Tensor a = operand(1, 3, (int64_t[]){2, 1, 4}, false), b = operand(2, 3, (int64_t[]){2, 3, 1}, true);
        run_binary(ALL_OPS[i], &a, &b, 0, true);
        tensor_release(&a);
        tensor_release(&b);
    }
}

static void binary_high_rank_collapses(void **state) {
    (void)state;
    /* rank 7 with a trailing [7,2] operand collapses to [720, 14] + [1, 14] */
    const int64_t da[7] = {2, 3, 4, 5, 1, 7, 2};
    Tensor a = operand(4, 7, da, false), b = operand(5, 2, (int64_t[]){7, 2}, true);
    run_binary("Mul", &a, &b, 0, false);
    run_binary("Sub", &a, &b, 0, false);
    tensor_release(&b);
    /* alternating broadcast over 7 dims stays rank 7 after collapsing: declined, not wrong */
    const int64_t db[7] = {1, 3, 1, 5, 1, 7, 1};
    b = operand(6, 7, db, true);
    Tensor c = operand(7, 7, (int64_t[]){2, 3, 4, 5, 3, 7, 2}, false);
    run_binary("Add", &c, &b, 0, true);
    tensor_release(&a);
    tensor_release(&b);
    tensor_release(&c);
}

static void binary_constant_operands(void **state) {
    (void)state;
    Tensor a = operand(8, 3, (int64_t[]){2, 3, 4}, false), b = operand(9, 1, (int64_t[]){4}, true);
    run_binary("Mul", &a, &b, 2u, false);     /* constant vector */
    run_binary("Sub", &a, &b, 2u, false);
    run_binary("Add", &b, &a, 1u, false);     /* constant broadcast input 0, swapped */
    run_binary("RealDiv", &a, &b, 3u, false); /* both constant */
    tensor_release(&a);
    tensor_release(&b);
}

static void bias_add(const int64_t *xd, int64_t c, const char *fmt, unsigned const_mask) {
    Tensor x = operand(10, 4, xd, false), b = operand(11, 1, &c, false);
    Tensor ins[2] = {x, b};
    int node;
    Graph *g = td_graph("BiasAdd", ins, 2, const_mask, &node);
    if (fmt) {
        Err e;
        CHECK_OK(node_set_attr_s(g->nodes[node], "data_format", fmt, &e), &e);
    }
    td_infer(g);
    char impl[64];
    td_check(fast_compile_binary, g, node, ins, 1e-4, impl, sizeof impl);
    graph_free(g);
    tensor_release(&x);
    tensor_release(&b);
}

static void binary_bias_add_nhwc_nchw(void **state) {
    (void)state;
    bias_add((int64_t[]){2, 5, 7, 3}, 3, NULL, 2u);
    bias_add((int64_t[]){2, 5, 7, 3}, 3, "NHWC", 0);
    bias_add((int64_t[]){2, 3, 5, 7}, 3, "NCHW", 2u); /* bias along dim 1 */
    bias_add((int64_t[]){1, 16, 1, 1}, 16, "NCHW", 2u);
    bias_add((int64_t[]){3, 1, 1, 16}, 16, NULL, 2u);
}

/* runs a compiled kernel with out[0] sharing input `which`'s buffer */
static void in_place_case(const char *op, const Tensor *a, const Tensor *b, int which) {
    Tensor ins[2] = {*a, *b};
    int node;
    Graph *g = td_graph(op, ins, 2, 0, &node);
    td_infer(g);
    Err e;
    Tensor want[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_binary(&ctx, g, g->nodes[node], &k, &e), 1);
    assert_int_equal(k.inplace, which);
    Tensor out;
    CHECK_OK(tensor_wrap(&out, DT_FLOAT, &ins[which].shape, ins[which].buf->data, &e), &e);
    void *scratch = k.scratch_bytes ? malloc(k.scratch_bytes) : NULL;
    CHECK_OK(k.run(k.state, ins, &out, scratch, &e), &e);
    free(scratch);
    assert_true(tf_rel_err(&out, &want[0]) <= 1e-4);
    tensor_release(&out);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&want[0]);
    graph_free(g);
}

static void binary_in_place(void **state) {
    (void)state;
    const int64_t full[3] = {3, 9, 16}, vec[1] = {16};
    Tensor a = operand(12, 3, full, false), b = operand(13, 1, vec, true);
    in_place_case("Add", &a, &b, 0);
    in_place_case("SquaredDifference", &a, &b, 0);
    Tensor c = operand(14, 3, full, false);
    in_place_case("Mul", &b, &c, 1); /* swapped: input 1 is oneDNN's src0 and may be overwritten */
    Tensor d = operand(15, 3, full, true);
    in_place_case("RealDiv", &c, &d, 0);
    tensor_release(&a);
    tensor_release(&b);
    tensor_release(&c);
    tensor_release(&d);
}

static void binary_declines(void **state) {
    (void)state;
    const int64_t dims[2] = {3, 4};
    int32_t iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    Tensor a = td_i32(2, dims, iv), b = td_i32(2, dims, iv);
    run_binary("Add", &a, &b, 0, true); /* integer tensors */
    run_binary("Mul", &a, &b, 2u, true);
    tensor_release(&a);
    tensor_release(&b);
    Tensor x = operand(16, 2, dims, false), y = operand(17, 2, dims, true);
    run_binary("Pow", &x, &y, 0, true); /* not in the family */
    tensor_release(&x);
    tensor_release(&y);
}

static void binary_bf16_max_exact_or_declined(void **state) {
    (void)state;
    const int64_t dims[2] = {7, 9};
    Tensor af = operand(18, 2, dims, false), bf = operand(19, 2, dims, false);
    Tensor a = td_to_bf16(&af), b = td_to_bf16(&bf);
    Tensor ins[2] = {a, b};
    const char *ops[3] = {"Maximum", "Minimum", "Add"};
    for (int i = 0; i < 3; i++) {
        int node;
        Graph *g = td_graph(ops[i], ins, 2, 0, &node);
        td_infer(g);
        Err e;
        Tensor got[1] = {{0}}, want[1] = {{0}};
        int rc = tf_fast_node(fast_compile_binary, g, node, ins, got, NULL, 0, &e);
        if (i == 2) assert_int_equal(rc, 0); /* bf16 Add rounds differently: declined */
        else if (rc == 1) {                  /* max/min are exact whenever oneDNN runs them */
            CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
            assert_true(tf_rel_err(&got[0], &want[0]) == 0);
        } else {
            assert_int_equal(rc, 0);
        }
        tensor_release(&got[0]);
        tensor_release(&want[0]);
        graph_free(g);
    }
    td_release(ins, 2);
    tensor_release(&af);
    tensor_release(&bf);
}

static void binary_speed_56x56x256(void **state) {
    (void)state;
    const int64_t dims[4] = {1, 56, 56, 256};
    Tensor ins[2] = {operand(20, 4, dims, false), operand(21, 4, dims, true)};
    int node;
    Graph *g = td_graph("AddV2", ins, 2, 0, &node);
    td_infer(g);
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_binary(&ctx, g, g->nodes[node], &k, &e), 1);
    Tensor out[1] = {{0}}, ref[1] = {{0}};
    CHECK_OK(tensor_alloc(&out[0], DT_FLOAT, &ins[0].shape, &e), &e);
    const int reps = 20;
    CHECK_OK(k.run(k.state, ins, out, NULL, &e), &e);
    double t0 = td_now();
    for (int r = 0; r < reps; r++) CHECK_OK(k.run(k.state, ins, out, NULL, &e), &e);
    double fast = (td_now() - t0) / reps;
    CHECK_OK(ref_eval_node(NULL, g, node, ins, ref, &e), &e);
    t0 = td_now();
    for (int r = 0; r < 3; r++) {
        tensor_release(&ref[0]);
        CHECK_OK(ref_eval_node(NULL, g, node, ins, ref, &e), &e);
    }
    double slow = (td_now() - t0) / 3;
    assert_true(tf_rel_err(&out[0], &ref[0]) <= 1e-4);
    double bytes = 3.0 * 4 * (double)tensor_numel(&ins[0]);
    print_message("AddV2 [1,56,56,256] (%s): oneDNN %.3f ms (%.1f GB/s), reference %.3f ms, %.1fx\n", k.impl, fast * 1e3,
                  bytes / fast * 1e-9, slow * 1e3, slow / fast);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&out[0]);
    tensor_release(&ref[0]);
    td_release(ins, 2);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binary_same_shape),
        cmocka_unit_test(binary_broadcast_second),
        cmocka_unit_test(binary_broadcast_first_swaps),
        cmocka_unit_test(binary_both_broadcast_declines),
        cmocka_unit_test(binary_high_rank_collapses),
        cmocka_unit_test(binary_constant_operands),
        cmocka_unit_test(binary_bias_add_nhwc_nchw),
        cmocka_unit_test(binary_in_place),
        cmocka_unit_test(binary_declines),
        cmocka_unit_test(binary_bf16_max_exact_or_declined),
        cmocka_unit_test(binary_speed_56x56x256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
