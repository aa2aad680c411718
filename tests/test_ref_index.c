/* test_ref_index.c - the indexing and data-movement ops added for real models, on both
 * runtimes, against values computed by hand and checked with TensorFlow 2.20: GatherNd (slices,
 * batched indices, out-of-range), Range (float steps rounded as TensorFlow does, negative
 * delta, empty, errors), BroadcastTo, SparseToDense (validate_indices), Size,
 * DepthToSpace/SpaceToDepth and SpaceToBatchND/BatchToSpaceND with paddings and crops. */
#include "test_ops_util.h"

static void test_gather_nd(void **state) {
    (void)state;
    ToGraph t;
    /* element indices into [2,3]: [[1,2],[0,0]] -> [5, 0] */
    to_begin(&t, "GatherNd");
    to_feed(&t, tr_iota(DT_FLOAT, 2, (int64_t[]){2, 3}));
    to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){2, 2}, (double[]){1, 2, 0, 0}));
    Tensor w1 = to_f32(1, (int64_t[]){2}, (float[]){5, 0});
    to_check(&t, &w1, 1);
    to_end(&t);
    /* slice indices with batch dims: params [2,3,2] iota, indices [2,1,2] = [[[1,2]],[[0,0]]]
       -> [2,1,2] = [[[10,11]],[[0,1]]] (TensorFlow) */
    to_begin(&t, "GatherNd");
    to_feed(&t, tr_iota(DT_INT64, 3, (int64_t[]){2, 3, 2}));
    to_feed(&t, to_t(DT_INT64, 3, (int64_t[]){2, 1, 2}, (double[]){1, 2, 0, 0}));
    Tensor w2 = to_t(DT_INT64, 3, (int64_t[]){2, 1, 2}, (double[]){10, 11, 0, 1});
    to_check(&t, &w2, 1);
    to_end(&t);
    /* row indices: [[1]] -> [[3, 4, 5]] */
    to_begin(&t, "GatherNd");
    to_feed(&t, tr_iota(DT_INT32, 2, (int64_t[]){2, 3}));
    to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){1, 1}, (double[]){1}));
    Tensor w3 = to_t(DT_INT32, 2, (int64_t[]){1, 3}, (double[]){3, 4, 5});
    to_check(&t, &w3, 1);
    to_end(&t);
    /* out of range: TensorFlow's CPU kernel refuses it */
    to_begin(&t, "GatherNd");
    to_feed(&t, tr_iota(DT_FLOAT, 2, (int64_t[]){2, 3}));
    to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){1, 2}, (double[]){2, 0}));
    to_check_error(&t, 1, "does not index into params");
    to_end(&t);
}

static void range_case(int dt, double s, double l, double d, Tensor want) {
    ToGraph t;
    to_begin(&t, "Range");
    to_feed(&t, to_t(dt, 0, NULL, &s));
    to_feed(&t, to_t(dt, 0, NULL, &l));
    to_feed(&t, to_t(dt, 0, NULL, &d));
    to_check(&t, &want, 1);
    to_end(&t);
}

static void test_range(void **state) {
    (void)state;
    /* fed bounds: the size is known only at run time (a dynamic step on the fast runtime) */
    range_case(DT_INT32, 10, 1, -3, to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){10, 7, 4}));
    range_case(DT_INT64, 3, 20, 5, to_t(DT_INT64, 1, (int64_t[]){4}, (double[]){3, 8, 13, 18}));
    range_case(DT_INT32, 5, 5, 1, to_t(DT_INT32, 1, (int64_t[]){0}, NULL));
    /* float: start + i * delta in float32; TensorFlow gives 0.6000000238418579, 0.699999988079071,
       0.9000000357627869 for range(0, 1, 0.1) and 10 elements */
    Tensor w = to_f32(1, (int64_t[]){10}, (float[]){0, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9000000357627869f});
    range_case(DT_FLOAT, 0, 1, 0.1f, w);
    /* TensorFlow: range(-1.5, 1.0, 0.7) = [-1.5, -0.8, -0.10000002, 0.5999999] */
    range_case(DT_FLOAT, -1.5, 1.0, 0.7f, to_f32(1, (int64_t[]){4}, (float[]){-1.5f, -0.800000011920929f, -0.10000002384185791f, 0.5999999046325684f}));
    const char *msgs[] = {"requires start <= limit when delta > 0", "requires start >= limit when delta < 0", "requires delta != 0"};
    const double args[3][3] = {{5, 1, 1}, {1, 5, -1}, {1, 5, 0}};
    for (int c = 0; c < 3; c++) {
        ToGraph t;
        to_begin(&t, "Range");
        for (int i = 0; i < 3; i++) to_feed(&t, to_t(DT_INT32, 0, NULL, &args[c][i]));
        to_check_error(&t, 1, msgs[c]);
        to_end(&t);
    }
}

static void test_broadcast_to(void **state) {
    (void)state;
    ToGraph t;
    to_begin(&t, "BroadcastTo");
    to_feed(&t, to_f32(2, (int64_t[]){2, 1}, (float[]){1, 2}));
    to_const(&t, to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){2, 2, 3}));
    Tensor w = to_f32(3, (int64_t[]){2, 2, 3}, (float[]){1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2});
    to_check(&t, &w, 1);
    to_end(&t);
    /* a shape fed at run time: resolved when the node runs */
    to_begin(&t, "BroadcastTo");
    to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){7, 8, 9}));
    to_feed(&t, to_t(DT_INT64, 1, (int64_t[]){2}, (double[]){2, 3}));
    Tensor w2 = to_t(DT_INT32, 2, (int64_t[]){2, 3}, (double[]){7, 8, 9, 7, 8, 9});
    to_check(&t, &w2, 1);
    to_end(&t);
    to_begin(&t, "BroadcastTo");
    to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){7, 8, 9}));
    to_const(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){2, 2}));
    to_check_error(&t, 1, "Unable to broadcast tensor of shape [3] to tensor of shape [2,2]");
    to_end(&t);
}

static void test_sparse_to_dense(void **state) {
    (void)state;
    ToGraph t;
    to_begin(&t, "SparseToDense");
    to_feed(&t, to_t(DT_INT64, 2, (int64_t[]){2, 2}, (double[]){0, 1, 2, 3}));
    to_const(&t, to_t(DT_INT64, 1, (int64_t[]){2}, (double[]){3, 5}));
    to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){7, 8}));
    to_feed(&t, to_t(DT_INT32, 0, NULL, (double[]){-1}));
    Tensor w = to_t(DT_INT32, 2, (int64_t[]){3, 5}, (double[]){-1, 7, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 8, -1});
    to_check(&t, &w, 1);
    to_end(&t);
    /* 1-D indices, one scalar value for all */
    to_begin(&t, "SparseToDense");
    to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){0, 3}));
    to_const(&t, to_t(DT_INT32, 1, (int64_t[]){1}, (double[]){4}));
    to_feed(&t, to_f32(0, NULL, (float[]){2.5f}));
    to_feed(&t, to_f32(0, NULL, (float[]){0}));
    Tensor w2 = to_f32(1, (int64_t[]){4}, (float[]){2.5f, 0, 0, 2.5f});
    to_check(&t, &w2, 1);
    to_end(&t);
    /* repeated index: refused by default; with validate_indices = false the later value wins
       (TensorFlow: [0, 6, 0]) */
    for (int v = 0; v < 2; v++) {
        Err e;
        to_begin(&t, "SparseToDense");
        if (v) CHECK_OK(node_set_attr_b(t.g->nodes[t.op], "validate_indices", false, &e), &e);
        to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){2, 1}, (double[]){1, 1}));
        to_const(&t, to_t(DT_INT32, 1, (int64_t[]){1}, (double[]){3}));
        to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){5, 6}));
        to_feed(&t, to_t(DT_INT32, 0, NULL, (double[]){0}));
        if (v) {
            Tensor w3 = to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){0, 6, 0});
            to_check(&t, &w3, 1);
        } else {
            to_check_error(&t, 1, "repeated");
        }
        to_end(&t);
    }
}

static void test_size(void **state) {
    (void)state;
    ToGraph t;
    to_begin(&t, "Size");
    to_feed(&t, tr_iota(DT_FLOAT, 3, (int64_t[]){2, 3, 4}));
    Tensor w = to_t(DT_INT32, 0, NULL, (double[]){24});
    to_check(&t, &w, 1);
    to_end(&t);
    Err e;
    to_begin(&t, "Size");
    CHECK_OK(node_set_attr_type(t.g->nodes[t.op], "out_type", DT_INT64, &e), &e);
    to_feed(&t, to_t(DT_BOOL, 2, (int64_t[]){0, 3}, NULL));
    Tensor w2 = to_t(DT_INT64, 0, NULL, (double[]){0});
    to_check(&t, &w2, 1);
    to_end(&t);
}

static void test_depth_space(void **state) {
    (void)state;
    ToGraph t;
    /* TensorFlow: depth_to_space(arange(16).reshape(1,2,2,4), 2) */
    to_begin(&t, "DepthToSpace");
    tr_attr_i(t.g, t.op, "block_size", 2);
    to_feed(&t, tr_iota(DT_FLOAT, 4, (int64_t[]){1, 2, 2, 4}));
    const double d2s[] = {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
    Tensor w = to_t(DT_FLOAT, 4, (int64_t[]){1, 4, 4, 1}, d2s);
    to_check(&t, &w, 1);
    to_end(&t);
    /* SpaceToDepth is its inverse: space_to_depth(arange(16).reshape(1,4,4,1), 2) has the same values */
    to_begin(&t, "SpaceToDepth");
    tr_attr_i(t.g, t.op, "block_size", 2);
    to_feed(&t, tr_iota(DT_INT32, 4, (int64_t[]){1, 4, 4, 1}));
    Tensor w2 = to_t(DT_INT32, 4, (int64_t[]){1, 2, 2, 4}, d2s);
    to_check(&t, &w2, 1);
    to_end(&t);
    to_begin(&t, "DepthToSpace");
    tr_attr_i(t.g, t.op, "block_size", 2);
    to_feed(&t, tr_iota(DT_FLOAT, 4, (int64_t[]){1, 1, 1, 6}));
    to_check_error(&t, 1, "not divisible by block_size");
    to_end(&t);
}

static void test_space_batch(void **state) {
    (void)state;
    ToGraph t;
    /* TensorFlow: space_to_batch_nd(arange(1,7).reshape(1,2,3,1), [2,2], [[0,0],[1,0]]) ->
       [4,1,2,1] = [0,2, 1,3, 0,5, 4,6] */
    to_begin(&t, "SpaceToBatchND");
    to_feed(&t, to_f32(4, (int64_t[]){1, 2, 3, 1}, (float[]){1, 2, 3, 4, 5, 6}));
    to_const(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){2, 2}));
    to_const(&t, to_t(DT_INT32, 2, (int64_t[]){2, 2}, (double[]){0, 0, 1, 0}));
    Tensor w = to_f32(4, (int64_t[]){4, 1, 2, 1}, (float[]){0, 2, 1, 3, 0, 5, 4, 6});
    to_check(&t, &w, 1);
    to_end(&t);
    /* TensorFlow: batch_to_space_nd(arange(1,9).reshape(4,1,2,1), [2,2], [[0,1],[1,0]]) -> [1,1,3,1] = [3,2,4] */
    to_begin(&t, "BatchToSpaceND");
    to_feed(&t, to_f32(4, (int64_t[]){4, 1, 2, 1}, (float[]){1, 2, 3, 4, 5, 6, 7, 8}));
    to_const(&t, to_t(DT_INT64, 1, (int64_t[]){2}, (double[]){2, 2}));
    to_const(&t, to_t(DT_INT64, 2, (int64_t[]){2, 2}, (double[]){0, 1, 1, 0}));
    Tensor w2 = to_f32(4, (int64_t[]){1, 1, 3, 1}, (float[]){3, 2, 4});
    to_check(&t, &w2, 1);
    to_end(&t);
    /* TensorFlow: batch_to_space_nd(arange(8).reshape(4,2,1,1), [2,2], 0) -> [0,2,4,6,1,3,5,7] */
    to_begin(&t, "BatchToSpaceND");
    to_feed(&t, tr_iota(DT_INT32, 4, (int64_t[]){4, 2, 1, 1}));
    to_const(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){2, 2}));
    to_const(&t, to_t(DT_INT32, 2, (int64_t[]){2, 2}, (double[]){0, 0, 0, 0}));
    Tensor w3 = to_t(DT_INT32, 4, (int64_t[]){1, 4, 2, 1}, (double[]){0, 2, 4, 6, 1, 3, 5, 7});
    to_check(&t, &w3, 1);
    to_end(&t);
    to_begin(&t, "SpaceToBatchND");
    to_feed(&t, to_f32(4, (int64_t[]){1, 2, 3, 1}, (float[]){1, 2, 3, 4, 5, 6}));
    to_const(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){2, 2}));
    to_const(&t, to_t(DT_INT32, 2, (int64_t[]){2, 2}, (double[]){0, 0, 0, 0}));
    to_check_error(&t, 1, "not divisible by block_shape");
    to_end(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_nd),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_broadcast_to),
        cmocka_unit_test(test_sparse_to_dense),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_depth_space),
        cmocka_unit_test(test_space_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
