/* test_ref_array.c - shape inference and reference kernels of the data-movement ops other
 * than slicing: Reshape, Squeeze, ExpandDims, Transpose, ConcatV2, Split, SplitV, Pack,
 * Unpack, GatherV2, Shape, Fill, Tile, Pad, PadV2, MirrorPad, OneHot. Expected shapes and
 * values are written by hand (source element indices for pure data movement). */
#include "test_ref_util.h"

static const int all_dtypes[] = {DT_FLOAT, DT_HALF, DT_BFLOAT16, DT_INT8, DT_UINT8, DT_INT32, DT_INT64, DT_BOOL};
#define N_DTYPES (int)(sizeof all_dtypes / sizeof all_dtypes[0])

/* runs a one-output graph, failing the test on error */
static Tensor run1(Graph *g, int node) {
    Err e;
    Tensor out = {0};
    CHECK_OK(tr_run(g, node, &out, 1, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 0); /* data movement: no FLOPs */
    return out;
}

/* the buffer of Const input k of node (to check aliasing) */
static const TensorBuf *const_buf(Graph *g, int node, int k) {
    return node_attr_tensor(g->nodes[g->nodes[node]->inputs[k].node], "value")->buf;
}

/* ---------------------------------------------------------------- Reshape */

static void test_reshape(void **state) {
    (void)state;
    Graph *g = graph_new();
    Tensor ins[2] = {tr_iota(DT_FLOAT, 3, (int64_t[]){2, 3, 4}), tr_vec_i32(2, (int32_t[]){4, -1})};
    int node = tr_op(g, "Reshape", ins, 2);
    Tensor out = run1(g, node);
    tr_expect(&out, DT_FLOAT, 2, (int64_t[]){4, 6},
              (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
    assert_ptr_equal(out.buf, const_buf(g, node, 0)); /* a view: no copy */
    tensor_release(&out);
    graph_free(g);

    /* int64 shape, bool data, to a scalar and back */
    g = graph_new();
    Tensor ins2[2] = {tr_make(DT_BOOL, 2, (int64_t[]){1, 1}, (double[]){1}), tr_i64(1, (int64_t[]){0}, NULL)};
    node = tr_op(g, "Reshape", ins2, 2);
    out = run1(g, node);
    tr_expect(&out, DT_BOOL, 0, NULL, (double[]){1});
    assert_ptr_equal(out.buf, const_buf(g, node, 0));
    tensor_release(&out);
    graph_free(g);

    /* -1 resolving to 0 with an empty input: [0, 3] -> [-1, 3] */
    g = graph_new();
    Tensor ins3[2] = {tr_iota(DT_INT64, 2, (int64_t[]){0, 3}), tr_vec_i32(2, (int32_t[]){-1, 3})};
    node = tr_op(g, "Reshape", ins3, 2);
    out = run1(g, node);
    tr_expect(&out, DT_INT64, 2, (int64_t[]){0, 3}, NULL);
    tensor_release(&out);
    graph_free(g);

    struct { int n; int32_t shape[3]; const char *needle; } bad[] = {
        {2, {-1, -1}, "more than one -1"},
        {2, {5, 5}, "[2,3,4] (24 elements) to [5,5] (25 elements)"},
        {2, {5, -1}, "not a multiple of 5"},
        {3, {0, -1, 2}, "multiply to 0"},
        {2, {-2, 12}, "negative"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        g = graph_new();
        Tensor in4[2] = {tr_iota(DT_FLOAT, 3, (int64_t[]){2, 3, 4}), tr_vec_i32(bad[k].n, bad[k].shape)};
        node = tr_op(g, "Reshape", in4, 2);
        tr_expect_error(g, node, 1, ERR_INPUT, bad[k].needle);
        graph_free(g);
    }
}

/* ---------------------------------------------------------------- Squeeze, ExpandDims */

static void squeeze_case(const char *attr, int n_dims, const int64_t *dims, int rank, const int64_t *want) {
    Graph *g = graph_new();
    Err e;
    Tensor x = tr_iota(DT_INT64, 4, (int64_t[]){1, 3, 1, 2});
    int node = tr_op(g, "Squeeze", &x, 1);
    if (attr) CHECK_OK(node_set_attr_list_i(g->nodes[node], attr, dims, n_dims, &e), &e);
    Tensor out = run1(g, node);
    tr_expect(&out, DT_INT64, rank, want, (double[]){0, 1, 2, 3, 4, 5});
    assert_ptr_equal(out.buf, const_buf(g, node, 0));
    tensor_release(&out);
    graph_free(g);
}

static void test_squeeze(void **state) {
    (void)state;
    squeeze_case(NULL, 0, NULL, 2, (int64_t[]){3, 2});
    squeeze_case("squeeze_dims", 0, NULL, 2, (int64_t[]){3, 2}); /* empty list: all size-1 dims */
    squeeze_case("squeeze_dims", 1, (int64_t[]){-2}, 3, (int64_t[]){1, 3, 2});
    squeeze_case("squeeze_dims", 2, (int64_t[]){0, 2}, 2, (int64_t[]){3, 2});
    squeeze_case("axis", 1, (int64_t[]){0}, 3, (int64_t[]){3, 1, 2}); /* TF.js spelling */

    struct { int64_t dim; const char *needle; } bad[] = {{1, "its size is 3, not 1"}, {4, "out of range"}, {-5, "out of range"}};
    for (int k = 0; k < 3; k++) {
        Graph *g = graph_new();
        Err e;
        Tensor x = tr_iota(DT_FLOAT, 4, (int64_t[]){1, 3, 1, 2});
        int node = tr_op(g, "Squeeze", &x, 1);
        CHECK_OK(node_set_attr_list_i(g->nodes[node], "squeeze_dims", &bad[k].dim, 1, &e), &e);
        tr_expect_error(g, node, 1, ERR_INPUT, bad[k].needle);
        graph_free(g);
    }
}

static void test_expand_dims(void **state) {
    (void)state;
    struct { int32_t axis; int64_t want[3]; } cases[] = {
        {0, {1, 2, 3}}, {1, {2, 1, 3}}, {2, {2, 3, 1}}, {-1, {2, 3, 1}}, {-3, {1, 2, 3}}, {-2, {2, 1, 3}},
    };
    for (int k = 0; k < 6; k++) {
        Graph *g = graph_new();
        Tensor ins[2] = {tr_iota(DT_UINT8, 2, (int64_t[]){2, 3}), tr_scalar_i32(cases[k].axis)};
        int node = tr_op(g, "ExpandDims", ins, 2);
        Tensor out = run1(g, node);
        tr_expect(&out, DT_UINT8, 3, cases[k].want, (double[]){0, 1, 2, 3, 4, 5});
        assert_ptr_equal(out.buf, const_buf(g, node, 0));
        tensor_release(&out);
        graph_free(g);
    }
    int32_t bad[] = {3, -4};
    for (int k = 0; k < 2; k++) {
        Graph *g = graph_new();
        Tensor ins[2] = {tr_iota(DT_FLOAT, 2, (int64_t[]){2, 3}), tr_scalar_i32(bad[k])};
        int node = tr_op(g, "ExpandDims", ins, 2);
        tr_expect_error(g, node, 1, ERR_INPUT, "not in [-3, 2]");
        graph_free(g);
    }
}

/* ---------------------------------------------------------------- Transpose */

static void test_transpose(void **state) {
    (void)state;
    /* [2,3] perm [1,0] -> [3,2]; [2,3,4] perm [2,0,1] -> out[k,i,j] = in[i,j,k] */
    static const int64_t t2[] = {0, 3, 1, 4, 2, 5};
    static const int64_t t3[] = {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23};
    /* [2,3,4] perm [1,2,0] -> [3,4,2]: out[j,k,i] = in[i,j,k] */
    static const int64_t t3b[] = {0, 12, 1, 13, 2, 14, 3, 15, 4, 16, 5, 17, 6, 18, 7, 19, 8, 20, 9, 21, 10, 22, 11, 23};
    for (int d = 0; d < N_DTYPES; d++) {
        int dt = all_dtypes[d];
        Graph *g = graph_new();
        Tensor x = tr_iota(dt, 2, (int64_t[]){2, 3}), xr = tensor_share(&x);
        Tensor ins[2] = {x, tr_vec_i32(2, (int32_t[]){1, 0})};
        int node = tr_op(g, "Transpose", ins, 2);
        Tensor out = run1(g, node);
        tr_expect_moved(&out, dt, 2, (int64_t[]){3, 2}, &xr, t2);
        tensor_release(&out);
        tensor_release(&xr);
        graph_free(g);
    }
    Graph *g = graph_new();
    Tensor x = tr_iota(DT_FLOAT, 3, (int64_t[]){2, 3, 4}), xr = tensor_share(&x);
    Tensor ins[2] = {x, tr_i64(1, (int64_t[]){3}, (int64_t[]){2, 0, 1})};
    int node = tr_op(g, "Transpose", ins, 2);
    Tensor out = run1(g, node);
    tr_expect_moved(&out, DT_FLOAT, 3, (int64_t[]){4, 2, 3}, &xr, t3);
    tensor_release(&out);
    graph_free(g);
    g = graph_new();
    Tensor ins2[2] = {tensor_share(&xr), tr_vec_i32(3, (int32_t[]){1, 2, 0})};
    node = tr_op(g, "Transpose", ins2, 2);
    out = run1(g, node);
    tr_expect_moved(&out, DT_FLOAT, 3, (int64_t[]){3, 4, 2}, &xr, t3b);
    tensor_release(&out);
    tensor_release(&xr);
    graph_free(g);

    struct { int n; int32_t perm[3]; const char *needle; } bad[] = {
        {3, {0, 0, 1}, "appears twice"}, {3, {0, 1, 3}, "out of range"}, {3, {-1, 0, 1}, "out of range"}, {2, {1, 0}, "2 entries"},
    };
    for (int k = 0; k < 4; k++) {
        g = graph_new();
        Tensor in3[2] = {tr_iota(DT_FLOAT, 3, (int64_t[]){2, 3, 4}), tr_vec_i32(bad[k].n, bad[k].perm)};
        node = tr_op(g, "Transpose", in3, 2);
        tr_expect_error(g, node, 1, ERR_INPUT, bad[k].needle);
        graph_free(g);
    }
}

/* ---------------------------------------------------------------- ConcatV2 */

static void test_concat(void **state) {
    (void)state;
    /* a [2,2] = 0..3, b [2,1] = 10, 11 along axis 1 (and -1) -> [[0,1,10],[2,3,11]] */
    int32_t axes[] = {1, -1};
    for (int k = 0; k < 2; k++) {
        Graph *g = graph_new();
        Tensor ins[3] = {tr_iota(DT_FLOAT, 2, (int64_t[]){2, 2}), tr_make(DT_FLOAT, 2, (int64_t[]){2, 1}, (double[]){10, 11}),
                         tr_scalar_i32(axes[k])};
        int node = tr_op(g, "ConcatV2", ins, 3);
        tr_attr_i(g, node, "N", 2);
        Tensor out = run1(g, node);
        tr_expect(&out, DT_FLOAT, 2, (int64_t[]){2, 3}, (double[]){0, 1, 10, 2, 3, 11});
        tensor_release(&out);
        graph_free(g);
    }
    /* three int32 inputs along axis 0: [1,2] + [2,2] + [0,2] */
    Graph *g = graph_new();
    Tensor ins[4] = {tr_make(DT_INT32, 2, (int64_t[]){1, 2}, (double[]){7, 8}), tr_iota(DT_INT32, 2, (int64_t[]){2, 2}),
                     tr_iota(DT_INT32, 2, (int64_t[]){0, 2}), tr_scalar_i32(0)};
    int node = tr_op(g, "ConcatV2", ins, 4);
    Tensor out = run1(g, node);
    tr_expect(&out, DT_INT32, 2, (int64_t[]){3, 2}, (double[]){7, 8, 0, 1, 2, 3});
    tensor_release(&out);
    graph_free(g);
    /* every dtype: [2,1] ++ [2,2] on axis 1 of iotas */
    for (int d = 0; d < N_DTYPES; d++) {
        int dt = all_dtypes[d];
        g = graph_new();
        Tensor a = tr_iota(dt, 2, (int64_t[]){2, 3}), ar = tensor_share(&a);
        /* split a by slicing it apart would need other ops; instead concat a with itself */
        Tensor in2[3] = {a, tensor_share(&ar), tr_i64(0, NULL, (int64_t[]){1})};
        node = tr_op(g, "ConcatV2", in2, 3);
        out = run1(g, node);
        tr_expect_moved(&out, dt, 2, (int64_t[]){2, 6}, &ar, (int64_t[]){0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5});
        tensor_release(&out);
        tensor_release(&ar);
        graph_free(g);
    }
    /* errors */
    g = graph_new();
    Tensor b1[3] = {tr_iota(DT_FLOAT, 2, (int64_t[]){2, 2}), tr_iota(DT_FLOAT, 2, (int64_t[]){3, 1}), tr_scalar_i32(1)};
    node = tr_op(g, "ConcatV2", b1, 3);
    tr_expect_error(g, node, 1, ERR_INPUT, "input 1 has shape [3,1], incompatible with [2,2] on axis 1");
    graph_free(g);
    g = graph_new();
    Tensor b2[3] = {tr_iota(DT_FLOAT, 2, (int64_t[]){2, 2}), tr_iota(DT_FLOAT, 2, (int64_t[]){2, 2}), tr_scalar_i32(2)};
    node = tr_op(g, "ConcatV2", b2, 3);
    tr_expect_error(g, node, 1, ERR_INPUT, "out of range");
    graph_free(g);
    g = graph_new();
    Tensor b3[3] = {tr_iota(DT_FLOAT, 2, (int64_t[]){2, 2}), tr_iota(DT_INT32, 2, (int64_t[]){2, 2}), tr_scalar_i32(0)};
    node = tr_op(g, "ConcatV2", b3, 3);
    tr_expect_error(g, node, 1, ERR_INPUT, "input 1 is int32");
    graph_free(g);
    g = graph_new();
    Tensor b4[3] = {tr_iota(DT_FLOAT, 0, NULL), tr_iota(DT_FLOAT, 0, NULL), tr_scalar_i32(0)};
    node = tr_op(g, "ConcatV2", b4, 3);
    tr_expect_error(g, node, 1, ERR_INPUT, "scalars");
    graph_free(g);
}

/* ---------------------------------------------------------------- Split, SplitV */

static void test_split(void **state) {
    (void)state;
    /* [2,4] = 0..7 split in 2 along axis 1 (and -1): [[0,1],[4,5]] and [[2,3],[6,7]] */
    int32_t axes[] = {1, -1};
    for (int k = 0; k < 2; k++) {
        Graph *g = graph_new();
        Tensor ins[2] = {tr_scalar_i32(axes[k]), tr_iota(DT_INT64, 2, (int64_t[]){2, 4})};
        int node = tr_op(g, "Split", ins, 2);
        tr_attr_i(g, node, "num_split", 2);
        Err e;
        Tensor out[2] = {{0}};
        CHECK_OK(tr_run(g, node, out, 2, &e), &e);
        tr_expect(&out[0], DT_INT64, 2, (int64_t[]){2, 2}, (double[]){0, 1, 4, 5});
        tr_expect(&out[1], DT_INT64, 2, (int64_t[]){2, 2}, (double[]){2, 3, 6, 7});
        tensor_release(&out[0]);
        tensor_release(&out[1]);
        graph_free(g);
    }
    /* three ways along axis 0 of [3,2] bool */
    Graph *g = graph_new();
    Tensor ins[2] = {tr_scalar_i32(0), tr_make(DT_BOOL, 2, (int64_t[]){3, 2}, (double[]){1, 0, 0, 0, 1, 1})};
    int node = tr_op(g, "Split", ins, 2);
    tr_attr_i(g, node, "num_split", 3);
    Err e;
    Tensor out[3] = {{0}};
    CHECK_OK(tr_run(g, node, out, 3, &e), &e);
    tr_expect(&out[0], DT_BOOL, 2, (int64_t[]){1, 2}, (double[]){1, 0});
    tr_expect(&out[1], DT_BOOL, 2, (int64_t[]){1, 2}, (double[]){0, 0});
    tr_expect(&out[2], DT_BOOL, 2, (int64_t[]){1, 2}, (double[]){1, 1});
    for (int k = 0; k < 3; k++) tensor_release(&out[k]);
    graph_free(g);
    /* not divisible */
    g = graph_new();
    Tensor b1[2] = {tr_scalar_i32(1), tr_iota(DT_FLOAT, 2, (int64_t[]){2, 5})};
    node = tr_op(g, "Split", b1, 2);
    tr_attr_i(g, node, "num_split", 2);
    tr_expect_error(g, node, 2, ERR_INPUT, "not divisible by num_split 2");
    graph_free(g);

    /* SplitV [5] = 0..4 sizes [2,-1,1] -> [0,1], [2,3], [4] */
    g = graph_new();
    Tensor v1[3] = {tr_iota(DT_FLOAT, 1, (int64_t[]){5}), tr_vec_i32(3, (int32_t[]){2, -1, 1}), tr_scalar_i32(0)};
    node = tr_op(g, "SplitV", v1, 3);
    tr_attr_i(g, node, "num_split", 3);
    CHECK_OK(tr_run(g, node, out, 3, &e), &e);
    tr_expect(&out[0], DT_FLOAT, 1, (int64_t[]){2}, (double[]){0, 1});
    tr_expect(&out[1], DT_FLOAT, 1, (int64_t[]){2}, (double[]){2, 3});
    tr_expect(&out[2], DT_FLOAT, 1, (int64_t[]){1}, (double[]){4});
    for (int k = 0; k < 3; k++) tensor_release(&out[k]);
    graph_free(g);
    /* SplitV [2,3] int64 sizes [1,0,2] along axis -1 (an empty piece) */
    g = graph_new();
    Tensor v2[3] = {tr_iota(DT_UINT8, 2, (int64_t[]){2, 3}), tr_i64(1, (int64_t[]){3}, (int64_t[]){1, 0, 2}), tr_scalar_i32(-1)};
    node = tr_op(g, "SplitV", v2, 3);
    tr_attr_i(g, node, "num_split", 3);
    CHECK_OK(tr_run(g, node, out, 3, &e), &e);
    tr_expect(&out[0], DT_UINT8, 2, (int64_t[]){2, 1}, (double[]){0, 3});
    tr_expect(&out[1], DT_UINT8, 2, (int64_t[]){2, 0}, NULL);
    tr_expect(&out[2], DT_UINT8, 2, (int64_t[]){2, 2}, (double[]){1, 2, 4, 5});
    for (int k = 0; k < 3; k++) tensor_release(&out[k]);
    graph_free(g);
    struct { int32_t sizes[2]; const char *needle; } bad[] = {
        {{-1, -1}, "more than one -1"}, {{2, 2}, "must sum to 5"}, {{-3, 8}, "negative"}, {{6, -1}, "must sum to 5"},
    };
    for (int k = 0; k < 4; k++) {
        g = graph_new();
        Tensor b[3] = {tr_iota(DT_FLOAT, 1, (int64_t[]){5}), tr_vec_i32(2, bad[k].sizes), tr_scalar_i32(0)};
        node = tr_op(g, "SplitV", b, 3);
        tr_attr_i(g, node, "num_split", 2);
        tr_expect_error(g, node, 2, ERR_INPUT, bad[k].needle);
        graph_free(g);
    }
}

/* ---------------------------------------------------------------- Pack, Unpack */

static void test_pack_unpack(void **state) {
    (void)state;
    /* three [2] vectors a=(0,1) b=(10,11) c=(20,21) */
    struct { int64_t axis; int64_t dims[2]; double want[6]; } cases[] = {
        {0, {3, 2}, {0, 1, 10, 11, 20, 21}},
        {1, {2, 3}, {0, 10, 20, 1, 11, 21}},
        {-1, {2, 3}, {0, 10, 20, 1, 11, 21}},
        {-2, {3, 2}, {0, 1, 10, 11, 20, 21}},
    };
    for (int k = 0; k < 4; k++) {
        Graph *g = graph_new();
        Tensor ins[3] = {tr_make(DT_INT32, 1, (int64_t[]){2}, (double[]){0, 1}), tr_make(DT_INT32, 1, (int64_t[]){2}, (double[]){10, 11}),
                         tr_make(DT_INT32, 1, (int64_t[]){2}, (double[]){20, 21})};
        int node = tr_op(g, "Pack", ins, 3);
        tr_attr_i(g, node, "axis", cases[k].axis);
        tr_attr_i(g, node, "N", 3);
        Tensor out = run1(g, node);
        tr_expect(&out, DT_INT32, 2, cases[k].dims, cases[k].want);
        tensor_release(&out);
        graph_free(g);
    }
    /* scalars pack into a vector; half precision */
    Graph *g = graph_new();
    Tensor sc[2] = {tr_make(DT_HALF, 0, NULL, (double[]){1.5}), tr_make(DT_HALF, 0, NULL, (double[]){-2})};
    int node = tr_op(g, "Pack", sc, 2);
    Tensor out = run1(g, node);
    tr_expect(&out, DT_HALF, 1, (int64_t[]){2}, (double[]){1.5, -2});
    tensor_release(&out);
    graph_free(g);
    /* errors: axis out of [-2, 1], shapes differ */
    g = graph_new();
    Tensor b1[2] = {tr_iota(DT_FLOAT, 1, (int64_t[]){2}), tr_iota(DT_FLOAT, 1, (int64_t[]){2})};
    node = tr_op(g, "Pack", b1, 2);
    tr_attr_i(g, node, "axis", 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "not in [-2, 1]");
    graph_free(g);
    g = graph_new();
    Tensor b2[2] = {tr_iota(DT_FLOAT, 1, (int64_t[]){2}), tr_iota(DT_FLOAT, 1, (int64_t[]){3})};
    node = tr_op(g, "Pack", b2, 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "input 1 has shape [3]");
    graph_free(g);

    /* Unpack [2,3] = 0..5 along axis 1 -> (0,3), (1,4), (2,5); along -2 -> (0,1,2), (3,4,5) */
    g = graph_new();
    Tensor x = tr_iota(DT_INT64, 2, (int64_t[]){2, 3});
    node = tr_op(g, "Unpack", &x, 1);
    tr_attr_i(g, node, "axis", 1);
    tr_attr_i(g, node, "num", 3);
    Err e;
    Tensor outs[3] = {{0}};
    CHECK_OK(tr_run(g, node, outs, 3, &e), &e);
    for (int k = 0; k < 3; k++) {
        tr_expect(&outs[k], DT_INT64, 1, (int64_t[]){2}, (double[]){k, k + 3});
        tensor_release(&outs[k]);
    }
    graph_free(g);
    g = graph_new();
    x = tr_iota(DT_INT8, 2, (int64_t[]){2, 3});
    node = tr_op(g, "Unpack", &x, 1);
    tr_attr_i(g, node, "axis", -2);
    tr_attr_i(g, node, "num", 2);
    CHECK_OK(tr_run(g, node, outs, 2, &e), &e);
    tr_expect(&outs[0], DT_INT8, 1, (int64_t[]){3}, (double[]){0, 1, 2});
    tr_expect(&outs[1], DT_INT8, 1, (int64_t[]){3}, (double[]){3, 4, 5});
    tensor_release(&outs[0]);
    tensor_release(&outs[1]);
    graph_free(g);
    g = graph_new();
    x = tr_iota(DT_FLOAT, 2, (int64_t[]){2, 3});
    node = tr_op(g, "Unpack", &x, 1);
    tr_attr_i(g, node, "num", 3);
    tr_expect_error(g, node, 3, ERR_INPUT, "num = 3 but dimension 0");
    graph_free(g);
}

/* ---------------------------------------------------------------- GatherV2 */

static Tensor gather_run(Tensor params, Tensor indices, int32_t axis, int64_t batch_dims, Graph **keep, int *node_out) {
    Graph *g = graph_new();
    Tensor ins[3] = {params, indices, tr_scalar_i32(axis)};
    int node = tr_op(g, "GatherV2", ins, 3);
    if (batch_dims) tr_attr_i(g, node, "batch_dims", batch_dims);
    Tensor out = {0};
    if (keep) { *keep = g; *node_out = node; return out; }
    out = run1(g, node);
    graph_free(g);
    return out;
}

static void test_gather(void **state) {
    (void)state;
    int64_t p32[] = {3, 2};
    /* params [3,2] = 0..5 */
    Tensor o = gather_run(tr_iota(DT_FLOAT, 2, p32), tr_vec_i32(2, (int32_t[]){2, 0}), 0, 0, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){4, 5, 0, 1});
    tensor_release(&o);
    o = gather_run(tr_iota(DT_FLOAT, 2, p32), tr_vec_i32(1, (int32_t[]){1}), 1, 0, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){3, 1}, (double[]){1, 3, 5});
    tensor_release(&o);
    o = gather_run(tr_iota(DT_FLOAT, 2, p32), tr_vec_i32(3, (int32_t[]){1, 1, 0}), -1, 0, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){3, 3}, (double[]){1, 1, 0, 3, 3, 2, 5, 5, 4});
    tensor_release(&o);
    /* scalar index drops the axis */
    o = gather_run(tr_iota(DT_INT32, 2, p32), tr_scalar_i32(1), 0, 0, NULL, NULL);
    tr_expect(&o, DT_INT32, 1, (int64_t[]){2}, (double[]){2, 3});
    tensor_release(&o);
    /* int64 indices of shape [2,2] -> [2,2,2] */
    o = gather_run(tr_iota(DT_INT64, 2, p32), tr_i64(2, (int64_t[]){2, 2}, (int64_t[]){0, 2, 1, 1}), 0, 0, NULL, NULL);
    tr_expect(&o, DT_INT64, 3, (int64_t[]){2, 2, 2}, (double[]){0, 1, 4, 5, 2, 3, 2, 3});
    tensor_release(&o);
    /* embedding lookup in every dtype: rows 2,0 of [3,2] */
    for (int d = 0; d < N_DTYPES; d++) {
        Tensor p = tr_iota(all_dtypes[d], 2, p32), pr = tensor_share(&p);
        o = gather_run(p, tr_vec_i32(2, (int32_t[]){2, 0}), 0, 0, NULL, NULL);
        tr_expect_moved(&o, all_dtypes[d], 2, (int64_t[]){2, 2}, &pr, (int64_t[]){4, 5, 0, 1});
        tensor_release(&o);
        tensor_release(&pr);
    }
    /* batch_dims 1: params [2,3], indices [[2,0],[1,1]] on axis 1 -> [[2,0],[4,4]] */
    o = gather_run(tr_iota(DT_FLOAT, 2, (int64_t[]){2, 3}), tt_i32(2, (int64_t[]){2, 2}, (int32_t[]){2, 0, 1, 1}), 1, 1, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){2, 0, 4, 4});
    tensor_release(&o);
    /* batch_dims -1 on rank-2 indices means 1; params [2,2,2] axis 2 with an outer dim between */
    o = gather_run(tr_iota(DT_FLOAT, 3, (int64_t[]){2, 2, 2}), tt_i32(2, (int64_t[]){2, 1}, (int32_t[]){1, 0}), 2, -1, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 3, (int64_t[]){2, 2, 1}, (double[]){1, 3, 4, 6});
    tensor_release(&o);

    /* out-of-range indices fail at run time, naming the index */
    Graph *g;
    int node;
    gather_run(tr_iota(DT_FLOAT, 2, p32), tr_vec_i32(2, (int32_t[]){0, 3}), 0, 0, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "indices[1] = 3 is not in [0, 3)");
    graph_free(g);
    gather_run(tr_iota(DT_FLOAT, 2, p32), tr_vec_i32(2, (int32_t[]){-1, 0}), 0, 0, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "indices[0] = -1");
    graph_free(g);
    /* bad axis, batch_dims > axis, batch dims that differ */
    gather_run(tr_iota(DT_FLOAT, 2, p32), tr_vec_i32(1, (int32_t[]){0}), 2, 0, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "out of range");
    graph_free(g);
    gather_run(tr_iota(DT_FLOAT, 2, p32), tt_i32(2, (int64_t[]){3, 1}, (int32_t[]){0, 0, 0}), 0, 1, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "must be at most axis 0");
    graph_free(g);
    gather_run(tr_iota(DT_FLOAT, 2, p32), tt_i32(2, (int64_t[]){2, 1}, (int32_t[]){0, 0}), 1, 1, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "batch dimension 0");
    graph_free(g);
}

/* ---------------------------------------------------------------- Shape, Fill */

static void test_shape(void **state) {
    (void)state;
    Graph *g = graph_new();
    Err e;
    int x = tr_node(g, "x", "Placeholder");
    Shape xs = shape_make(3, (int64_t[]){2, 3, 4});
    CHECK_OK(node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[x], "shape", &xs, &e), &e);
    int s32 = tr_node(g, "s32", "Shape");
    tr_input(g, s32, x, 0);
    int s64 = tr_node(g, "s64", "Shape");
    tr_input(g, s64, x, 0);
    CHECK_OK(node_set_attr_type(g->nodes[s64], "out_type", DT_INT64, &e), &e);
    int sc = tr_node(g, "sc", "Shape");
    tr_input(g, sc, tr_const(g, "scalar", tr_scalar_i32(5)), 0);
    /* no evaluator: Shape knows its value by itself */
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    tr_expect(&g->nodes[s32]->outputs[0].known, DT_INT32, 1, (int64_t[]){3}, (double[]){2, 3, 4});
    tr_expect(&g->nodes[s64]->outputs[0].known, DT_INT64, 1, (int64_t[]){3}, (double[]){2, 3, 4});
    tr_expect(&g->nodes[sc]->outputs[0].known, DT_INT32, 1, (int64_t[]){0}, NULL);
    assert_int_equal(node_flops(g, g->nodes[s32]), 0);
    /* the kernel agrees */
    Tensor xv = tr_iota(DT_FLOAT, 3, xs.dim), out[2] = {{0}};
    RefFeed feed = {"x", xv};
    ValueRef fetch[2] = {{s32, 0}, {s64, 0}};
    CHECK_OK(ref_run(g, &feed, 1, fetch, 2, out, NULL, &e), &e);
    tr_expect(&out[0], DT_INT32, 1, (int64_t[]){3}, (double[]){2, 3, 4});
    tr_expect(&out[1], DT_INT64, 1, (int64_t[]){3}, (double[]){2, 3, 4});
    tensor_release(&out[0]);
    tensor_release(&out[1]);
    tensor_release(&xv);
    graph_free(g);
    /* a bad out_type */
    g = graph_new();
    Tensor in = tr_iota(DT_FLOAT, 1, (int64_t[]){2});
    int node = tr_op(g, "Shape", &in, 1);
    CHECK_OK(node_set_attr_type(g->nodes[node], "out_type", DT_FLOAT, &e), &e);
    tr_expect_error(g, node, 1, ERR_INPUT, "out_type");
    graph_free(g);
}

static void test_fill(void **state) {
    (void)state;
    Graph *g = graph_new();
    Tensor ins[2] = {tr_vec_i32(2, (int32_t[]){2, 3}), tr_make(DT_FLOAT, 0, NULL, (double[]){7.5})};
    int node = tr_op(g, "Fill", ins, 2);
    Tensor out = run1(g, node);
    tr_expect(&out, DT_FLOAT, 2, (int64_t[]){2, 3}, (double[]){7.5, 7.5, 7.5, 7.5, 7.5, 7.5});
    tensor_release(&out);
    graph_free(g);
    g = graph_new();
    Tensor ins2[2] = {tr_i64(1, (int64_t[]){1}, (int64_t[]){3}), tr_make(DT_INT64, 0, NULL, (double[]){-4})};
    node = tr_op(g, "Fill", ins2, 2);
    out = run1(g, node);
    tr_expect(&out, DT_INT64, 1, (int64_t[]){3}, (double[]){-4, -4, -4});
    tensor_release(&out);
    graph_free(g);
    g = graph_new();
    Tensor ins3[2] = {tr_vec_i32(2, (int32_t[]){2, 0}), tr_make(DT_BOOL, 0, NULL, (double[]){1})};
    node = tr_op(g, "Fill", ins3, 2);
    out = run1(g, node);
    tr_expect(&out, DT_BOOL, 2, (int64_t[]){2, 0}, NULL);
    tensor_release(&out);
    graph_free(g);
    g = graph_new();
    Tensor ins4[2] = {tr_vec_i32(0, NULL), tr_make(DT_UINT8, 0, NULL, (double[]){200})};
    node = tr_op(g, "Fill", ins4, 2);
    out = run1(g, node);
    tr_expect(&out, DT_UINT8, 0, NULL, (double[]){200});
    tensor_release(&out);
    graph_free(g);
    g = graph_new();
    Tensor b[2] = {tr_vec_i32(2, (int32_t[]){2, -1}), tr_make(DT_FLOAT, 0, NULL, (double[]){0})};
    node = tr_op(g, "Fill", b, 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "dims[1] = -1");
    graph_free(g);
    g = graph_new();
    Tensor b2[2] = {tr_vec_i32(1, (int32_t[]){2}), tr_iota(DT_FLOAT, 1, (int64_t[]){2})};
    node = tr_op(g, "Fill", b2, 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "scalar");
    graph_free(g);
}

/* ---------------------------------------------------------------- Tile */

static void test_tile(void **state) {
    (void)state;
    /* x [2,2] = 0..3 */
    struct { int32_t m[2]; int64_t dims[2]; int64_t src[24]; } cases[] = {
        {{1, 2}, {2, 4}, {0, 1, 0, 1, 2, 3, 2, 3}},
        {{2, 1}, {4, 2}, {0, 1, 2, 3, 0, 1, 2, 3}},
        {{2, 3}, {4, 6}, {0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3}},
        {{0, 3}, {0, 6}, {0}},
    };
    for (int k = 0; k < 4; k++)
        for (int d = 0; d < N_DTYPES; d += 3) {
            Graph *g = graph_new();
            Tensor x = tr_iota(all_dtypes[d], 2, (int64_t[]){2, 2}), xr = tensor_share(&x);
            Tensor ins[2] = {x, tr_vec_i32(2, cases[k].m)};
            int node = tr_op(g, "Tile", ins, 2);
            Tensor out = run1(g, node);
            tr_expect_moved(&out, all_dtypes[d], 2, cases[k].dims, &xr, cases[k].src);
            tensor_release(&out);
            tensor_release(&xr);
            graph_free(g);
        }
    /* rank 3 with int64 multiples: [1,2,1] tiled [2,1,2] -> [2,2,2] */
    Graph *g = graph_new();
    Tensor ins[2] = {tr_make(DT_INT32, 3, (int64_t[]){1, 2, 1}, (double[]){5, 6}), tr_i64(1, (int64_t[]){3}, (int64_t[]){2, 1, 2})};
    int node = tr_op(g, "Tile", ins, 2);
    Tensor out = run1(g, node);
    tr_expect(&out, DT_INT32, 3, (int64_t[]){2, 2, 2}, (double[]){5, 5, 6, 6, 5, 5, 6, 6});
    tensor_release(&out);
    graph_free(g);
    g = graph_new();
    Tensor b[2] = {tr_iota(DT_FLOAT, 2, (int64_t[]){2, 2}), tr_vec_i32(2, (int32_t[]){1, -1})};
    node = tr_op(g, "Tile", b, 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "multiples[1] = -1");
    graph_free(g);
    g = graph_new();
    Tensor b2[2] = {tr_iota(DT_FLOAT, 2, (int64_t[]){2, 2}), tr_vec_i32(1, (int32_t[]){2})};
    node = tr_op(g, "Tile", b2, 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "1 entries");
    graph_free(g);
}

/* ---------------------------------------------------------------- Pad, PadV2, MirrorPad */

static void test_pad(void **state) {
    (void)state;
    /* [[1,2],[3,4]] padded [[1,0],[0,2]] */
    Graph *g = graph_new();
    Tensor ins[2] = {tr_make(DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4}), tt_i32(2, (int64_t[]){2, 2}, (int32_t[]){1, 0, 0, 2})};
    int node = tr_op(g, "Pad", ins, 2);
    Tensor out = run1(g, node);
    tr_expect(&out, DT_FLOAT, 2, (int64_t[]){3, 4}, (double[]){0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0});
    tensor_release(&out);
    graph_free(g);
    /* PadV2 int32 with 9, [3] padded (2, 1); int64 paddings */
    g = graph_new();
    Tensor ins2[3] = {tr_make(DT_INT32, 1, (int64_t[]){3}, (double[]){1, 2, 3}), tr_i64(2, (int64_t[]){1, 2}, (int64_t[]){2, 1}),
                      tr_make(DT_INT32, 0, NULL, (double[]){9})};
    node = tr_op(g, "PadV2", ins2, 3);
    out = run1(g, node);
    tr_expect(&out, DT_INT32, 1, (int64_t[]){6}, (double[]){9, 9, 1, 2, 3, 9});
    tensor_release(&out);
    graph_free(g);
    /* bool and uint8 with a middle dim padded: [1,2,1] pad [[0,0],[1,1],[0,1]] -> [1,4,2] */
    int dts[] = {DT_BOOL, DT_UINT8, DT_HALF};
    for (int k = 0; k < 3; k++) {
        g = graph_new();
        Tensor ins3[2] = {tr_make(dts[k], 3, (int64_t[]){1, 2, 1}, (double[]){1, 1}),
                          tt_i32(2, (int64_t[]){3, 2}, (int32_t[]){0, 0, 1, 1, 0, 1})};
        node = tr_op(g, "Pad", ins3, 2);
        out = run1(g, node);
        tr_expect(&out, dts[k], 3, (int64_t[]){1, 4, 2}, (double[]){0, 0, 1, 0, 1, 0, 0, 0});
        tensor_release(&out);
        graph_free(g);
    }
    /* a scalar pads to itself */
    g = graph_new();
    Tensor ins4[2] = {tr_make(DT_FLOAT, 0, NULL, (double[]){3}), tt_i32(2, (int64_t[]){0, 2}, NULL)};
    node = tr_op(g, "Pad", ins4, 2);
    out = run1(g, node);
    tr_expect(&out, DT_FLOAT, 0, NULL, (double[]){3});
    tensor_release(&out);
    graph_free(g);
    /* errors */
    g = graph_new();
    Tensor b1[2] = {tr_iota(DT_FLOAT, 1, (int64_t[]){3}), tt_i32(2, (int64_t[]){1, 2}, (int32_t[]){-1, 0})};
    node = tr_op(g, "Pad", b1, 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "non-negative");
    graph_free(g);
    g = graph_new();
    Tensor b2[2] = {tr_iota(DT_FLOAT, 1, (int64_t[]){3}), tr_vec_i32(2, (int32_t[]){1, 1})};
    node = tr_op(g, "Pad", b2, 2);
    tr_expect_error(g, node, 1, ERR_INPUT, "shape [1,2]");
    graph_free(g);
    /* paddings computed at run time */
    g = graph_new();
    Err e;
    int p = tr_node(g, "pads", "Placeholder");
    Shape ps = shape_make(2, (int64_t[]){1, 2});
    CHECK_OK(node_set_attr_type(g->nodes[p], "dtype", DT_INT32, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[p], "shape", &ps, &e), &e);
    node = tr_node(g, "op", "Pad");
    tr_input(g, node, tr_const(g, "x", tr_iota(DT_FLOAT, 1, (int64_t[]){3})), 0);
    tr_input(g, node, p, 0);
    tr_expect_error(g, node, 1, ERR_INPUT, "paddings: input 1 ('pads') must be known");
    graph_free(g);
    g = graph_new();
    Tensor b3[3] = {tr_iota(DT_FLOAT, 1, (int64_t[]){3}), tt_i32(2, (int64_t[]){1, 2}, (int32_t[]){1, 1}), tr_scalar_i32(0)};
    node = tr_op(g, "PadV2", b3, 3);
    tr_expect_error(g, node, 1, ERR_INPUT, "constant_values is int32");
    graph_free(g);
}

static Tensor mirror(Tensor x, Tensor paddings, const char *mode, Graph **keep, int *node_out) {
    Graph *g = graph_new();
    Err e;
    Tensor ins[2] = {x, paddings};
    int node = tr_op(g, "MirrorPad", ins, 2);
    CHECK_OK(node_set_attr_s(g->nodes[node], "mode", mode, &e), &e);
    Tensor out = {0};
    if (keep) { *keep = g; *node_out = node; return out; }
    out = run1(g, node);
    graph_free(g);
    return out;
}

static void test_mirror_pad(void **state) {
    (void)state;
    int64_t three[] = {3}, p12[] = {1, 2};
    Tensor o = mirror(tr_make(DT_FLOAT, 1, three, (double[]){1, 2, 3}), tt_i32(2, p12, (int32_t[]){2, 2}), "REFLECT", NULL, NULL);
    tr_expect(&o, DT_FLOAT, 1, (int64_t[]){7}, (double[]){3, 2, 1, 2, 3, 2, 1});
    tensor_release(&o);
    o = mirror(tr_make(DT_INT32, 1, three, (double[]){1, 2, 3}), tt_i32(2, p12, (int32_t[]){2, 2}), "SYMMETRIC", NULL, NULL);
    tr_expect(&o, DT_INT32, 1, (int64_t[]){7}, (double[]){2, 1, 1, 2, 3, 3, 2});
    tensor_release(&o);
    /* SYMMETRIC may pad by the full dim; REFLECT only by dim - 1 */
    o = mirror(tr_make(DT_INT64, 1, three, (double[]){1, 2, 3}), tr_i64(2, p12, (int64_t[]){3, 3}), "SYMMETRIC", NULL, NULL);
    tr_expect(&o, DT_INT64, 1, (int64_t[]){9}, (double[]){3, 2, 1, 1, 2, 3, 3, 2, 1});
    tensor_release(&o);
    /* 2-D [[1,2,3],[4,5,6]] */
    int64_t d23[] = {2, 3}, p22[] = {2, 2};
    o = mirror(tr_make(DT_FLOAT, 2, d23, (double[]){1, 2, 3, 4, 5, 6}), tt_i32(2, p22, (int32_t[]){1, 1, 2, 2}), "REFLECT", NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){4, 7},
              (double[]){6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1});
    tensor_release(&o);
    o = mirror(tr_make(DT_UINT8, 2, d23, (double[]){1, 2, 3, 4, 5, 6}), tt_i32(2, p22, (int32_t[]){1, 1, 1, 1}), "SYMMETRIC", NULL, NULL);
    tr_expect(&o, DT_UINT8, 2, (int64_t[]){4, 5}, (double[]){1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 4, 4, 5, 6, 6});
    tensor_release(&o);
    /* limits and mode */
    Graph *g;
    int node;
    mirror(tr_iota(DT_FLOAT, 1, three), tt_i32(2, p12, (int32_t[]){3, 0}), "REFLECT", &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "REFLECT paddings (3, 0) for dimension 0 of size 3 must be less than");
    graph_free(g);
    mirror(tr_iota(DT_FLOAT, 1, three), tt_i32(2, p12, (int32_t[]){0, 4}), "SYMMETRIC", &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "SYMMETRIC");
    graph_free(g);
    mirror(tr_iota(DT_FLOAT, 1, three), tt_i32(2, p12, (int32_t[]){1, 1}), "WRAP", &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "REFLECT or SYMMETRIC");
    graph_free(g);
}

/* ---------------------------------------------------------------- OneHot */

static Tensor one_hot(Tensor indices, int32_t depth, Tensor on, Tensor off, int64_t axis, Graph **keep, int *node_out) {
    Graph *g = graph_new();
    Tensor ins[4] = {indices, tr_scalar_i32(depth), on, off};
    int node = tr_op(g, "OneHot", ins, 4);
    if (axis != -1) tr_attr_i(g, node, "axis", axis);
    Tensor out = {0};
    if (keep) { *keep = g; *node_out = node; return out; }
    out = run1(g, node);
    graph_free(g);
    return out;
}

static void test_one_hot(void **state) {
    (void)state;
    int64_t four[] = {4};
    /* indices 0, 2, -1, 3 with depth 3: out-of-range rows are all off */
    Tensor o = one_hot(tr_vec_i32(4, (int32_t[]){0, 2, -1, 3}), 3, tr_make(DT_FLOAT, 0, NULL, (double[]){5}),
                       tr_make(DT_FLOAT, 0, NULL, (double[]){0.5}), -1, NULL, NULL);
    tr_expect(&o, DT_FLOAT, 2, (int64_t[]){4, 3}, (double[]){5, .5, .5, .5, .5, 5, .5, .5, .5, .5, .5, .5});
    tensor_release(&o);
    o = one_hot(tr_i64(1, four, (int64_t[]){0, 2, -1, 3}), 3, tr_make(DT_INT32, 0, NULL, (double[]){1}),
                tr_make(DT_INT32, 0, NULL, (double[]){0}), 0, NULL, NULL);
    tr_expect(&o, DT_INT32, 2, (int64_t[]){3, 4}, (double[]){1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0});
    tensor_release(&o);
    /* [[0,1],[1,0]] depth 2 axis 1 -> out[o, d, i] */
    o = one_hot(tt_i32(2, (int64_t[]){2, 2}, (int32_t[]){0, 1, 1, 0}), 2, tr_make(DT_BOOL, 0, NULL, (double[]){1}),
                tr_make(DT_BOOL, 0, NULL, (double[]){0}), 1, NULL, NULL);
    tr_expect(&o, DT_BOOL, 3, (int64_t[]){2, 2, 2}, (double[]){1, 0, 0, 1, 0, 1, 1, 0});
    tensor_release(&o);
    /* uint8 indices, scalar index -> vector */
    o = one_hot(tr_make(DT_UINT8, 0, NULL, (double[]){1}), 3, tr_make(DT_INT64, 0, NULL, (double[]){-1}),
                tr_make(DT_INT64, 0, NULL, (double[]){7}), -1, NULL, NULL);
    tr_expect(&o, DT_INT64, 1, (int64_t[]){3}, (double[]){7, -1, 7});
    tensor_release(&o);
    Graph *g;
    int node;
    one_hot(tr_vec_i32(1, (int32_t[]){0}), 2, tr_make(DT_FLOAT, 0, NULL, (double[]){1}), tr_make(DT_INT32, 0, NULL, (double[]){0}), -1, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "on_value is float32 but off_value is int32");
    graph_free(g);
    one_hot(tr_vec_i32(1, (int32_t[]){0}), 2, tr_make(DT_FLOAT, 0, NULL, (double[]){1}), tr_make(DT_FLOAT, 0, NULL, (double[]){0}), 2, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "axis 2 is not in [-1, 1]");
    graph_free(g);
    one_hot(tr_vec_i32(1, (int32_t[]){0}), -2, tr_make(DT_FLOAT, 0, NULL, (double[]){1}), tr_make(DT_FLOAT, 0, NULL, (double[]){0}), -1, &g, &node);
    tr_expect_error(g, node, 1, ERR_INPUT, "depth must be non-negative");
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_squeeze),
        cmocka_unit_test(test_expand_dims),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_pack_unpack),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_tile),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_mirror_pad),
        cmocka_unit_test(test_one_hot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
