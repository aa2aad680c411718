/* test_dnn_misc.c - the oneDNN softmax, batch-norm, concat and reduce families (dnn_softmax.c,
 * dnn_batchnorm.c, dnn_concat.c, dnn_reduce.c) against the reference kernels: odd shapes,
 * every output of FusedBatchNorm V1-V3 (statistics echoed, reserve_space_3 zero) in NHWC /
 * NCHW / 5-D, concat along every axis with empty and constant pieces, reductions on both
 * oneDNN paths (pooling for [A,R,B], dnnl_reduction for trailing axes) with keep_dims, and
 * declines (training batch norm, integer tensors, reductions oneDNN has only ref kernels for). */
#include "test_dnn_util.h"

/* ---- softmax ---- */

static void softmax_case(int rank, const int64_t *dims, double lo, double hi) {
    Tensor x = td_rand((uint64_t)dims[rank - 1], rank, dims, lo, hi);
    int node;
    Graph *g = td_graph("Softmax", &x, 1, 0, &node);
    td_infer(g);
    td_check(fast_compile_softmax, g, node, &x, 1e-4, NULL, 0);
    graph_free(g);
    tensor_release(&x);
}

static void softmax_last_axis(void **state) {
    (void)state;
    softmax_case(1, (int64_t[]){7}, -3, 3);
    softmax_case(2, (int64_t[]){3, 10}, -3, 3);
    softmax_case(3, (int64_t[]){2, 3, 1001}, -3, 3);
    softmax_case(2, (int64_t[]){4, 1}, -3, 3);          /* one class: all ones */
    softmax_case(4, (int64_t[]){2, 2, 3, 17}, -80, 80); /* large logits: max subtraction matters */
}

static void softmax_in_place(void **state) {
    (void)state;
    Tensor x = td_rand(3, 2, (int64_t[]){5, 33}, -4, 4);
    int node;
    Graph *g = td_graph("Softmax", &x, 1, 0, &node);
    td_infer(g);
    Err e;
    Tensor want[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, &x, want, &e), &e);
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_softmax(&ctx, g, g->nodes[node], &k, &e), 1);
    assert_int_equal(k.inplace, 0);
    Tensor out;
    CHECK_OK(tensor_wrap(&out, DT_FLOAT, &x.shape, x.buf->data, &e), &e);
    void *scratch = k.scratch_bytes ? malloc(k.scratch_bytes) : NULL;
    CHECK_OK(k.run(k.state, &x, &out, scratch, &e), &e);
    free(scratch);
    assert_true(tf_rel_err(&out, &want[0]) <= 1e-4);
    tensor_release(&out);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&want[0]);
    tensor_release(&x);
    graph_free(g);
}

/* ---- batch norm ---- */

static Graph *bn_graph(const char *op, const Tensor *ins, unsigned const_mask, const char *fmt, int training, float eps,
                       int *node) {
    Err e;
    Graph *g = td_graph(op, ins, 5, const_mask, node);
    Node *n = g->nodes[*node];
    if (fmt) CHECK_OK(node_set_attr_s(n, "data_format", fmt, &e), &e);
    if (training >= 0) CHECK_OK(node_set_attr_b(n, "is_training", training, &e), &e);
    if (eps > 0) CHECK_OK(node_set_attr_f(n, "epsilon", eps, &e), &e);
    td_infer(g);
    return g;
}

static void bn_inputs(uint64_t seed, int rank, const int64_t *xd, int64_t c, Tensor *ins) {
    ins[0] = td_rand(seed, rank, xd, -4, 4);
    ins[1] = td_rand(seed + 1, 1, &c, 0.5, 2);   /* scale */
    ins[2] = td_rand(seed + 2, 1, &c, -1, 1);    /* offset */
    ins[3] = td_rand(seed + 3, 1, &c, -0.5, 0.5); /* mean */
    ins[4] = td_rand(seed + 4, 1, &c, 0.1, 3);   /* variance */
}

static void batchnorm_inference(void **state) {
    (void)state;
    const char *ops[3] = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"};
    for (int o = 0; o < 3; o++) {
        Tensor ins[5];
        int node;
        bn_inputs(10 + o, 4, (int64_t[]){2, 5, 7, 3}, 3, ins);
        Graph *g = bn_graph(ops[o], ins, 0x1eu, NULL, 0, 0, &node); /* NHWC, constant parameters */
        td_check(fast_compile_batchnorm, g, node, ins, 1e-5, NULL, 0);
        graph_free(g);
        td_release(ins, 5);

        bn_inputs(20 + o, 4, (int64_t[]){2, 3, 5, 7}, 3, ins);
        g = bn_graph(ops[o], ins, 0, "NCHW", 0, 1e-3f, &node); /* parameters fed at run time */
        td_check(fast_compile_batchnorm, g, node, ins, 1e-5, NULL, 0);
        graph_free(g);
        td_release(ins, 5);
    }
    Tensor ins[5];
    int node;
    bn_inputs(30, 5, (int64_t[]){1, 2, 3, 4, 5}, 5, ins);
    Graph *g = bn_graph("FusedBatchNormV3", ins, 0x1eu, "NDHWC", 0, 0, &node);
    td_check(fast_compile_batchnorm, g, node, ins, 1e-5, NULL, 0);
    graph_free(g);
    td_release(ins, 5);
    bn_inputs(31, 5, (int64_t[]){2, 3, 2, 4, 5}, 3, ins);
    g = bn_graph("FusedBatchNormV3", ins, 0x1eu, "NCDHW", 0, 0, &node);
    td_check(fast_compile_batchnorm, g, node, ins, 1e-5, NULL, 0);
    graph_free(g);
    td_release(ins, 5);
}

/* the plan's arena is not zeroed: statistics outputs must be written, not assumed */
static void batchnorm_fills_statistics(void **state) {
    (void)state;
    Tensor ins[5];
    int node;
    bn_inputs(40, 4, (int64_t[]){1, 3, 3, 4}, 4, ins);
    Graph *g = bn_graph("FusedBatchNormV3", ins, 0x1eu, NULL, 0, 0, &node);
    const Node *n = g->nodes[node];
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_batchnorm(&ctx, g, n, &k, &e), 1);
    Tensor out[6] = {{0}}, want[6] = {{0}};
    for (int o = 0; o < 6; o++) {
        CHECK_OK(tensor_alloc(&out[o], n->outputs[o].dtype, &n->outputs[o].shape, &e), &e);
        float *p = tensor_mut(&out[o]);
        for (int64_t i = 0; i < tensor_numel(&out[o]); i++) p[i] = NAN; /* garbage */
    }
    void *scratch = k.scratch_bytes ? malloc(k.scratch_bytes) : NULL;
    CHECK_OK(k.run(k.state, ins, out, scratch, &e), &e);
    free(scratch);
    CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
    for (int o = 0; o < 6; o++) assert_true(tf_rel_err(&out[o], &want[o]) <= (o ? 0 : 1e-5));
    td_release(out, 6);
    td_release(want, 6);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    graph_free(g);
    td_release(ins, 5);
}

static void batchnorm_training_declines(void **state) {
    (void)state;
    Tensor ins[5];
    int node;
    bn_inputs(50, 4, (int64_t[]){2, 3, 3, 4}, 4, ins);
    Graph *g = bn_graph("FusedBatchNormV3", ins, 0x1eu, NULL, 1, 0, &node);
    td_declines(fast_compile_batchnorm, g, node, ins);
    graph_free(g);
    g = bn_graph("FusedBatchNorm", ins, 0x1eu, NULL, -1, 0, &node); /* TF's default is training */
    td_declines(fast_compile_batchnorm, g, node, ins);
    graph_free(g);
    td_release(ins, 5);
}

/* ---- concat ---- */

static void concat_case(int rank, const int64_t (*dims)[4], int pieces, int axis, unsigned const_mask, bool bf16,
                        bool may_decline) {
    Tensor ins[6];
    for (int i = 0; i < pieces; i++) {
        Tensor f = td_rand(60 + i, rank, dims[i], -5, 5);
        if (bf16) {
            ins[i] = td_to_bf16(&f);
            tensor_release(&f);
        } else {
            ins[i] = f;
        }
    }
    ins[pieces] = td_scalar_i32(axis);
    int node;
    Graph *g = td_graph("ConcatV2", ins, pieces + 1, const_mask | (1u << pieces), &node);
    td_infer(g);
    Err e;
    Tensor got[1] = {{0}};
    int rc = tf_fast_node(fast_compile_concat, g, node, ins, got, NULL, 0, &e);
    tensor_release(&got[0]);
    if (rc == 0 && may_decline) {
        /* allowed (no bf16 kernel on this CPU) */
    } else {
        td_check(fast_compile_concat, g, node, ins, 0, NULL, 0); /* a copy: exact */
    }
    graph_free(g);
    td_release(ins, pieces + 1);
}

static void concat_axes(void **state) {
    (void)state;
    const int64_t a3[3][4] = {{2, 3, 4, 5}, {2, 3, 1, 5}, {2, 3, 7, 5}};
    concat_case(4, a3, 3, 2, 0, false, false);
    concat_case(4, a3, 3, -2, 0, false, false);
    const int64_t a0[2][4] = {{1, 3, 4, 5}, {3, 3, 4, 5}};
    concat_case(4, a0, 2, 0, 0, false, false);
    const int64_t a_last[3][4] = {{2, 3, 4, 5}, {2, 3, 4, 1}, {2, 3, 4, 11}};
    concat_case(4, a_last, 3, 3, 2u, false, false); /* middle piece constant */
    concat_case(4, a_last, 3, -1, 0, false, false);
    const int64_t one[1][4] = {{3, 5, 0, 0}};
    concat_case(2, one, 1, 1, 0, false, false); /* a single piece */
    const int64_t with_empty[3][4] = {{2, 4}, {2, 0}, {2, 3}};
    concat_case(2, with_empty, 3, 1, 0, false, false); /* a piece of width 0 */
    concat_case(4, a3, 3, 2, 0, true, true); /* bf16: exact when oneDNN runs it */
}

static void concat_declines(void **state) {
    (void)state;
    Tensor ins[3] = {td_i32(1, (int64_t[]){2}, (int32_t[]){1, 2}), td_i32(1, (int64_t[]){2}, (int32_t[]){3, 4}),
                     td_scalar_i32(0)};
    int node;
    Graph *g = td_graph("ConcatV2", ins, 3, 4u, &node);
    td_infer(g);
    td_declines(fast_compile_concat, g, node, ins);
    graph_free(g);
    td_release(ins, 3);
}

/* ---- reduce ---- */

static void reduce_case(const char *op, int rank, const int64_t *dims, int n_axes, const int32_t *axes, bool keep,
                        bool expect_decline) {
    Tensor ins[2];
    ins[0] = td_rand((uint64_t)(rank * 10 + n_axes), rank, dims, strcmp(op, "Prod") ? -3 : 0.8, strcmp(op, "Prod") ? 3 : 1.2);
    int64_t na = n_axes;
    ins[1] = td_i32(1, &na, axes);
    int node;
    Graph *g = td_graph(op, ins, 2, 2u, &node);
    Err e;
    CHECK_OK(node_set_attr_b(g->nodes[node], "keep_dims", keep, &e), &e);
    td_infer(g);
    if (expect_decline) td_declines(fast_compile_reduce, g, node, ins);
    else td_check(fast_compile_reduce, g, node, ins, 1e-5, NULL, 0);
    graph_free(g);
    td_release(ins, 2);
}

static void reduce_pool_path(void **state) {
    (void)state;
    /* [A, R, B] patterns: the global average pool and friends */
    const int64_t nhwc[4] = {2, 7, 9, 16};
    reduce_case("Mean", 4, nhwc, 2, (int32_t[]){1, 2}, true, false);
    reduce_case("Mean", 4, nhwc, 2, (int32_t[]){2, 1}, false, false);
    reduce_case("Max", 4, nhwc, 2, (int32_t[]){1, 2}, false, true); /* Max/Min: NaN must propagate, oneDNN drops it */
    reduce_case("Sum", 4, nhwc, 2, (int32_t[]){-3, -2}, true, false);
    reduce_case("Mean", 3, (int64_t[]){13, 5, 3}, 1, (int32_t[]){0}, false, false); /* [R, B] */
    reduce_case("Max", 3, (int64_t[]){4, 11, 3}, 1, (int32_t[]){1}, true, true);
}

static void reduce_trailing_path(void **state) {
    (void)state;
    const int64_t d[3] = {4, 5, 6};
    static const char *ops[5] = {"Mean", "Sum", "Max", "Min", "Prod"};
    for (int i = 0; i < 5; i++) {
        bool declines = !strcmp(ops[i], "Max") || !strcmp(ops[i], "Min"); /* NaN must propagate: reference kernel */
        reduce_case(ops[i], 3, d, 1, (int32_t[]){2}, false, declines);
        reduce_case(ops[i], 3, d, 1, (int32_t[]){-1}, true, declines);
        reduce_case(ops[i], 3, d, 2, (int32_t[]){1, 2}, false, declines);
        reduce_case(ops[i], 3, d, 3, (int32_t[]){0, 1, 2}, false, declines); /* everything */
    }
    reduce_case("Mean", 4, (int64_t[]){3, 1, 1, 7}, 2, (int32_t[]){1, 3}, true, false); /* size-1 axis dropped */
}

static void reduce_declines(void **state) {
    (void)state;
    const int64_t d[3] = {4, 5, 6};
    reduce_case("Min", 3, d, 1, (int32_t[]){1}, false, true);        /* middle axis: only ref:any in oneDNN */
    reduce_case("Prod", 3, d, 1, (int32_t[]){0}, false, true);
    reduce_case("Sum", 3, d, 2, (int32_t[]){0, 2}, false, true);     /* two separate reduced blocks */
    reduce_case("Mean", 3, (int64_t[]){4, 1, 6}, 1, (int32_t[]){1}, false, true); /* nothing reduced */
    reduce_case("Mean", 2, (int64_t[]){4, 6}, 0, NULL, false, true); /* no axes */
    Tensor ins[2] = {td_i32(2, (int64_t[]){2, 3}, (int32_t[]){1, 2, 3, 4, 5, 6}), td_i32(1, (int64_t[]){1}, (int32_t[]){1})};
    int node;
    Graph *g = td_graph("Sum", ins, 2, 2u, &node); /* integer tensors */
    td_infer(g);
    td_declines(fast_compile_reduce, g, node, ins);
    graph_free(g);
    td_release(ins, 2);
}

static void reduce_speed_global_average_pool(void **state) {
    (void)state;
    const int64_t dims[4] = {1, 56, 56, 256};
    Tensor ins[2] = {td_rand(70, 4, dims, -3, 3), td_i32(1, (int64_t[]){2}, (int32_t[]){1, 2})};
    int node;
    Graph *g = td_graph("Mean", ins, 2, 2u, &node);
    td_infer(g);
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_reduce(&ctx, g, g->nodes[node], &k, &e), 1);
    Tensor out[1] = {{0}}, ref[1] = {{0}};
    CHECK_OK(tensor_alloc(&out[0], DT_FLOAT, &g->nodes[node]->outputs[0].shape, &e), &e);
    void *scratch = k.scratch_bytes ? malloc(k.scratch_bytes) : NULL;
    CHECK_OK(k.run(k.state, ins, out, scratch, &e), &e);
    double t0 = td_now();
    for (int r = 0; r < 20; r++) CHECK_OK(k.run(k.state, ins, out, scratch, &e), &e);
    double fast = (td_now() - t0) / 20;
    free(scratch);
    t0 = td_now();
    CHECK_OK(ref_eval_node(NULL, g, node, ins, ref, &e), &e);
    double slow = td_now() - t0;
    assert_true(tf_rel_err(&out[0], &ref[0]) <= 1e-5);
    print_message("Mean [1,56,56,256] over H,W (%s): oneDNN %.3f ms, reference %.3f ms\n", k.impl, fast * 1e3, slow * 1e3);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&out[0]);
    tensor_release(&ref[0]);
    td_release(ins, 2);
    graph_free(g);
}

/* two layers of equal geometry share one cached primitive, and both still compute right (the
   second kernel takes the cached primitive descriptor's implementation and scratchpad) */
static void cache_shared_between_layers(void **state) {
    (void)state;
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    const char *ops[3] = {"Softmax", "Tanh", "Mean"};
    FastCompileFn fns[3] = {fast_compile_softmax, fast_compile_eltwise, fast_compile_reduce};
    for (int o = 0; o < 3; o++) {
        Tensor ins[2] = {td_rand(80 + o, 3, (int64_t[]){3, 4, 5}, -2, 2), td_i32(1, (int64_t[]){1}, (int32_t[]){1})};
        int n_in = o == 2 ? 2 : 1, node;
        Graph *g = td_graph(ops[o], ins, n_in, 2u, &node);
        td_infer(g);
        Tensor want[1] = {{0}};
        CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
        FastKernel k[2];
        int hits = ctx.cache_hits;
        for (int r = 0; r < 2; r++) {
            memset(&k[r], 0, sizeof k[r]);
            assert_int_equal(fns[o](&ctx, g, g->nodes[node], &k[r], &e), 1);
        }
        assert_int_equal(ctx.cache_hits, hits + 1);
        assert_string_equal(k[0].impl, k[1].impl);
        for (int r = 0; r < 2; r++) {
            Tensor out[1] = {{0}};
            CHECK_OK(tensor_alloc(&out[0], DT_FLOAT, &g->nodes[node]->outputs[0].shape, &e), &e);
            void *scratch = k[r].scratch_bytes ? malloc(k[r].scratch_bytes) : NULL;
            CHECK_OK(k[r].run(k[r].state, ins, out, scratch, &e), &e);
            free(scratch);
            assert_true(tf_rel_err(&out[0], &want[0]) <= 1e-5);
            tensor_release(&out[0]);
            k[r].destroy(k[r].state);
        }
        tensor_release(&want[0]);
        graph_free(g);
        td_release(ins, 2);
    }
    dnn_ctx_free(&ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(softmax_last_axis),
        cmocka_unit_test(softmax_in_place),
        cmocka_unit_test(batchnorm_inference),
        cmocka_unit_test(batchnorm_fills_statistics),
        cmocka_unit_test(batchnorm_training_declines),
        cmocka_unit_test(concat_axes),
        cmocka_unit_test(concat_declines),
        cmocka_unit_test(reduce_pool_path),
        cmocka_unit_test(reduce_trailing_path),
        cmocka_unit_test(reduce_declines),
        cmocka_unit_test(cache_shared_between_layers),
        cmocka_unit_test(reduce_speed_global_average_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
