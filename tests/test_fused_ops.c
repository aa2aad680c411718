/* test_fused_ops.c - grappo's fused float ops GrappoLayerNorm and GrappoGelu: reference
 * kernels against values worked out by hand and libm closed forms, shape/dtype inference and
 * its errors, GraphDef round trip, and the oneDNN kernels (dnn_layernorm.c) against the
 * reference through tf_fast_node, including in-place runs and constant vs run-time gamma/beta. */
#include "test_dnn_util.h"

#include "io/graphdef.h"


/* One-node GrappoLayerNorm graph on x, gamma, beta (const_mask as td_graph), inferred. */
static Graph *ln_graph(const Tensor *ins, unsigned const_mask, float eps, int *node) {
    Graph *g = td_graph("GrappoLayerNorm", ins, 3, const_mask, node);
    Err e;
    CHECK_OK(node_set_attr_type(g->nodes[*node], "T", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_f(g->nodes[*node], "epsilon", eps, &e), &e);
    td_infer(g);
    return g;
}

static Graph *gelu_graph(const Tensor *x, bool approximate, int *node) {
    Graph *g = td_graph("GrappoGelu", x, 1, 0, node);
    Err e;
    CHECK_OK(node_set_attr_type(g->nodes[*node], "T", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_b(g->nodes[*node], "approximate", approximate, &e), &e);
    td_infer(g);
    return g;
}

/* ---- reference kernels ---- */

/* Two rows of 4 whose variance is 1.25; with epsilon 2.75, rsqrt(var + eps) = 0.5 exactly:
   row [1,2,3,4]: mean 2.5, x^ = [-0.75,-0.25,0.25,0.75]; row [7,4,6,5]: mean 5.5,
   x^ = [0.75,-0.75,0.25,-0.25]; y = x^ * [1,2,0.5,-1] + [0,0.5,1,-1]. */
static void ref_layernorm_by_hand(void **state) {
    (void)state;
    Tensor ins[3] = {
        tt_f32(2, (int64_t[]){2, 4}, (float[]){1, 2, 3, 4, 7, 4, 6, 5}),
        tt_f32(1, (int64_t[]){4}, (float[]){1, 2, 0.5f, -1}),
        tt_f32(1, (int64_t[]){4}, (float[]){0, 0.5f, 1, -1}),
    };
    Tensor want = tt_f32(2, (int64_t[]){2, 4}, (float[]){-0.75f, 0, 1.125f, -1.75f, 0.75f, -1, 1.125f, -0.75f});
    int node;
    Graph *g = ln_graph(ins, 0x6, 2.75f, &node);
    Err e;
    Tensor got[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, ins, got, &e), &e);
    assert_tensor_near(&got[0], &want, 1e-6);
    tensor_release(&got[0]);
    /* epsilon counts: eps 0 gives rsqrt(1.25) instead of 0.5 */
    CHECK_OK(node_set_attr_f(g->nodes[node], "epsilon", 0, &e), &e);
    CHECK_OK(ref_eval_node(NULL, g, node, ins, got, &e), &e);
    assert_float_equal(tensor_get(&got[0], 0), -1.5 / sqrt(1.25), 1e-6);
    tensor_release(&got[0]);
    graph_free(g);
    td_release(ins, 3);
    tensor_release(&want);
}

/* a row of identical values normalizes to beta (variance 0, epsilon keeps it finite); a
   row with a huge common offset keeps its precision (two-pass statistics in double) */
static void ref_layernorm_edge_rows(void **state) {
    (void)state;
    Tensor ins[3] = {
        tt_f32(2, (int64_t[]){2, 3}, (float[]){5, 5, 5, 1e6f + 1, 1e6f + 2, 1e6f + 3}),
        tt_f32(1, (int64_t[]){3}, (float[]){2, 2, 2}),
        tt_f32(1, (int64_t[]){3}, (float[]){0.25f, -0.5f, 1}),
    };
    int node;
    Graph *g = ln_graph(ins, 0, 1e-12f, &node);
    Err e;
    Tensor got[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, ins, got, &e), &e);
    double r = sqrt(1.5); /* (x - mean) / sqrt(2/3) * 2 for deviations -1, 0, 1 */
    Tensor want = tt_f32(2, (int64_t[]){2, 3}, (float[]){0.25f, -0.5f, 1, (float)(0.25 - 2 * r), -0.5f, (float)(1 + 2 * r)});
    assert_tensor_near(&got[0], &want, 1e-5);
    tensor_release(&got[0]);
    tensor_release(&want);
    graph_free(g);
    td_release(ins, 3);
}

static double gelu_erf(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double gelu_tanh(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x))); }

static void ref_gelu_closed_form(void **state) {
    (void)state;
    const float xs[9] = {-6, -3, -1, -0.5f, 0, 0.5f, 1, 2, 7.5f};
    Tensor x = tt_f32(1, (int64_t[]){9}, xs);
    for (int approx = 0; approx < 2; approx++) {
        int node;
        Graph *g = gelu_graph(&x, approx, &node);
        Err e;
        Tensor got[1] = {{0}};
        CHECK_OK(ref_eval_node(NULL, g, node, &x, got, &e), &e);
        for (int i = 0; i < 9; i++) {
            double want = approx ? gelu_tanh(xs[i]) : gelu_erf(xs[i]);
            assert_float_equal(tensor_get(&got[0], i), want, 1e-7 * (1 + fabs(want)));
        }
        /* published values at x = 1: Phi(1) = 0.8413447460685429; tanh form 0.8411919906082768 */
        assert_float_equal(tensor_get(&got[0], 6), approx ? 0.8411919906082768 : 0.8413447460685429, 1e-7);
        tensor_release(&got[0]);
        graph_free(g);
    }
    tensor_release(&x);
}

/* far in the negative tail the result is tiny but representable: no cancellation to 0 */
static void ref_gelu_negative_tail(void **state) {
    (void)state;
    Tensor x = tt_f32(1, (int64_t[]){2}, (float[]){-9, -12});
    int node;
    Graph *g = gelu_graph(&x, false, &node);
    Err e;
    Tensor got[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, &x, got, &e), &e);
    for (int i = 0; i < 2; i++) {
        double v = tensor_get(&x, i), want = 0.5 * v * erfc(-v / sqrt(2.0));
        assert_true(tensor_get(&got[0], i) < 0);
        assert_float_equal(tensor_get(&got[0], i), want, fabs(want) * 1e-6);
    }
    tensor_release(&got[0]);
    graph_free(g);
    tensor_release(&x);
}

/* ---- inference ---- */

/* graph_infer must fail with ERR_INPUT and a message containing `needle` */
static void expect_infer_error(Graph *g, const char *needle) {
    Err e = {0};
    assert_int_not_equal(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), 0);
    assert_int_equal(e.code, ERR_INPUT);
    if (!strstr(e.msg, needle)) { print_error("message '%s' lacks '%s'\n", e.msg, needle); fail(); }
}

static void infer_layernorm_shapes_and_errors(void **state) {
    (void)state;
    Err e;
    int node;
    /* good: [2,3,8] with gamma/beta [8] -> [2,3,8] float32 */
    Tensor ok[3] = {td_rand(1, 3, (int64_t[]){2, 3, 8}, -1, 1), td_rand(2, 1, (int64_t[]){8}, 0, 1),
                    td_rand(3, 1, (int64_t[]){8}, 0, 1)};
    Graph *g = ln_graph(ok, 0x6, 1e-5f, &node);
    assert_int_equal(g->nodes[node]->outputs[0].dtype, DT_FLOAT);
    assert_true(shape_equal(&g->nodes[node]->outputs[0].shape, &ok[0].shape));
    assert_int_equal(node_flops(g, g->nodes[node]), 8 * 48);
    graph_free(g);

    /* gamma length mismatch */
    Tensor bad_gamma[3] = {tensor_share(&ok[0]), td_rand(4, 1, (int64_t[]){7}, 0, 1), tensor_share(&ok[2])};
    g = td_graph("GrappoLayerNorm", bad_gamma, 3, 0x6, &node);
    CHECK_OK(node_set_attr_f(g->nodes[node], "epsilon", 1e-5f, &e), &e);
    expect_infer_error(g, "gamma");
    graph_free(g);
    /* beta of rank 2 */
    Tensor bad_beta[3] = {tensor_share(&ok[0]), tensor_share(&ok[1]), td_rand(5, 2, (int64_t[]){1, 8}, 0, 1)};
    g = td_graph("GrappoLayerNorm", bad_beta, 3, 0x6, &node);
    CHECK_OK(node_set_attr_f(g->nodes[node], "epsilon", 1e-5f, &e), &e);
    expect_infer_error(g, "beta");
    graph_free(g);
    /* epsilon missing, negative */
    g = td_graph("GrappoLayerNorm", ok, 3, 0x6, &node);
    expect_infer_error(g, "epsilon");
    CHECK_OK(node_set_attr_f(g->nodes[node], "epsilon", -1, &e), &e);
    expect_infer_error(g, "epsilon");
    graph_free(g);
    /* x not float32 */
    Tensor int_x[3] = {tt_i32(2, (int64_t[]){1, 8}, (int32_t[8]){0}), tensor_share(&ok[1]), tensor_share(&ok[2])};
    g = td_graph("GrappoLayerNorm", int_x, 3, 0x6, &node);
    CHECK_OK(node_set_attr_f(g->nodes[node], "epsilon", 1e-5f, &e), &e);
    expect_infer_error(g, "float32");
    graph_free(g);
    td_release(ok, 3);
    td_release(bad_gamma, 3);
    td_release(bad_beta, 3);
    td_release(int_x, 3);
}

static void infer_gelu_shapes_and_errors(void **state) {
    (void)state;
    Tensor x = td_rand(1, 2, (int64_t[]){3, 5}, -2, 2);
    int node;
    Graph *g = gelu_graph(&x, true, &node);
    assert_true(shape_equal(&g->nodes[node]->outputs[0].shape, &x.shape));
    assert_int_equal(node_flops(g, g->nodes[node]), 8 * 15);
    graph_free(g);
    Tensor xi = tt_i32(1, (int64_t[]){2}, (int32_t[]){1, 2});
    g = td_graph("GrappoGelu", &xi, 1, 0, &node);
    expect_infer_error(g, "float32");
    graph_free(g);
    Err e;
    g = td_graph("GrappoGelu", &x, 1, 0, &node);
    CHECK_OK(node_set_attr_f(g->nodes[node], "approximate", 1, &e), &e);
    expect_infer_error(g, "approximate");
    graph_free(g);
    tensor_release(&x);
    tensor_release(&xi);
}

/* both ops survive save -> load with their attributes */
static void graphdef_round_trip(void **state) {
    (void)state;
    Tensor ins[3] = {td_rand(1, 2, (int64_t[]){2, 8}, -1, 1), td_rand(2, 1, (int64_t[]){8}, 0, 1),
                     td_rand(3, 1, (int64_t[]){8}, 0, 1)};
    int node;
    Graph *g = ln_graph(ins, 0x6, 1e-12f, &node);
    Err e;
    int ge = graph_add_node(g, "gelu", "GrappoGelu", &e);
    assert_true(ge >= 0);
    CHECK_OK(node_add_input(g, ge, (ValueRef){node, 0}, &e), &e);
    CHECK_OK(node_set_attr_b(g->nodes[ge], "approximate", true, &e), &e);
    CHECK_OK(node_set_attr_type(g->nodes[ge], "T", DT_FLOAT, &e), &e);
    uint8_t *data;
    size_t len;
    CHECK_OK(graphdef_serialize(g, &data, &len, &e), &e);
    Graph *h = graphdef_parse(data, len, "round trip", &e);
    free(data);
    assert_non_null(h);
    int ln = graph_find(h, "op"), gl = graph_find(h, "gelu");
    assert_true(ln >= 0 && gl >= 0);
    assert_int_equal(h->nodes[ln]->op, OP_GRAPPO_LAYER_NORM);
    assert_int_equal(h->nodes[gl]->op, OP_GRAPPO_GELU);
    assert_float_equal(node_attr_f(h->nodes[ln], "epsilon", 0), 1e-12f, 0);
    assert_true(node_attr_b(h->nodes[gl], "approximate", false));
    CHECK_OK(graph_infer(h, NULL, 0, ref_eval_node, NULL, &e), &e);
    graph_free(h);
    graph_free(g);
    td_release(ins, 3);
}

/* ---- oneDNN kernels against the reference ---- */

static void ln_fast_case(uint64_t seed, int rank, const int64_t *dims, unsigned const_mask, float eps) {
    int64_t d = dims[rank - 1];
    Tensor ins[3] = {td_rand(seed, rank, dims, -3, 5), td_rand(seed + 1, 1, &d, 0.5, 1.5), td_rand(seed + 2, 1, &d, -1, 1)};
    int node;
    Graph *g = ln_graph(ins, const_mask, eps, &node);
    char impl[64];
    td_check(fast_compile_layernorm, g, node, ins, 1e-4, impl, sizeof impl);
    graph_free(g);
    td_release(ins, 3);
}

static void fast_layernorm_vs_ref(void **state) {
    (void)state;
    ln_fast_case(11, 2, (int64_t[]){128, 768}, 0x6, 1e-12f); /* BERT-base rows, constant gamma/beta */
    ln_fast_case(12, 3, (int64_t[]){2, 3, 8}, 0x6, 1e-5f);
    ln_fast_case(13, 2, (int64_t[]){5, 37}, 0x6, 1e-3f);     /* odd D */
    ln_fast_case(14, 1, (int64_t[]){33}, 0x6, 1e-5f);        /* rank 1: one row */
    ln_fast_case(15, 3, (int64_t[]){4, 7, 129}, 0x0, 1e-5f); /* gamma/beta given at run time */
    ln_fast_case(16, 2, (int64_t[]){3, 1}, 0x6, 1e-2f);      /* D = 1: y = beta */
}

static void gelu_fast_case(uint64_t seed, int rank, const int64_t *dims, bool approximate) {
    Tensor x = td_rand(seed, rank, dims, -6, 6);
    int node;
    Graph *g = gelu_graph(&x, approximate, &node);
    td_check(fast_compile_gelu, g, node, &x, 1e-4, NULL, 0);
    graph_free(g);
    tensor_release(&x);
}

static void fast_gelu_vs_ref(void **state) {
    (void)state;
    for (int a = 0; a < 2; a++) {
        gelu_fast_case(21, 2, (int64_t[]){128, 3072}, a);
        gelu_fast_case(22, 3, (int64_t[]){2, 3, 8}, a);
        gelu_fast_case(23, 1, (int64_t[]){37}, a);
    }
}

/* Runs the family with out[0] sharing x's buffer (what the plan does when it grants in-place)
   and compares with the reference computed beforehand. */
static void in_place_case(FastCompileFn compile, Graph *g, int node, Tensor *ins) {
    Err e;
    Tensor want[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(compile(&ctx, g, g->nodes[node], &k, &e), 1);
    assert_int_equal(k.inplace, 0);
    Tensor out;
    CHECK_OK(tensor_wrap(&out, DT_FLOAT, &ins[0].shape, ins[0].buf->data, &e), &e);
    void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
    CHECK_OK(k.run(k.state, ins, &out, scratch, &e), &e);
    free(scratch);
    assert_true(tf_rel_err(&ins[0], &want[0]) <= 1e-4); /* x itself now holds the result */
    tensor_release(&out);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&want[0]);
}

static void fast_in_place(void **state) {
    (void)state;
    for (int a = 0; a < 2; a++) {
        Tensor x = td_rand(31, 2, (int64_t[]){16, 100}, -5, 5);
        int node;
        Graph *g = gelu_graph(&x, a, &node);
        in_place_case(fast_compile_gelu, g, node, &x);
        graph_free(g);
        tensor_release(&x);
    }
    Tensor ins[3] = {td_rand(32, 2, (int64_t[]){16, 96}, -2, 4), td_rand(33, 1, (int64_t[]){96}, 0.5, 1.5),
                     td_rand(34, 1, (int64_t[]){96}, -1, 1)};
    int node;
    Graph *g = ln_graph(ins, 0x6, 1e-5f, &node);
    in_place_case(fast_compile_layernorm, g, node, ins);
    graph_free(g);
    td_release(ins, 3);
}

/* each family handles only its op; a constant x is never granted in-place */
static void fast_declines(void **state) {
    (void)state;
    Tensor x = td_rand(41, 2, (int64_t[]){4, 8}, -1, 1);
    int node;
    Graph *g = td_graph("Relu", &x, 1, 0, &node);
    td_infer(g);
    td_declines(fast_compile_layernorm, g, node, &x);
    td_declines(fast_compile_gelu, g, node, &x);
    graph_free(g);
    g = gelu_graph(&x, false, &node);
    td_declines(fast_compile_layernorm, g, node, &x);
    graph_free(g);
    g = td_graph("GrappoGelu", &x, 1, 0x1, &node);
    td_infer(g);
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_gelu(&ctx, g, g->nodes[node], &k, &e), 1);
    assert_int_equal(k.inplace, -1);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    graph_free(g);
    tensor_release(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ref_layernorm_by_hand),
        cmocka_unit_test(ref_layernorm_edge_rows),
        cmocka_unit_test(ref_gelu_closed_form),
        cmocka_unit_test(ref_gelu_negative_tail),
        cmocka_unit_test(infer_layernorm_shapes_and_errors),
        cmocka_unit_test(infer_gelu_shapes_and_errors),
        cmocka_unit_test(graphdef_round_trip),
        cmocka_unit_test(fast_layernorm_vs_ref),
        cmocka_unit_test(fast_gelu_vs_ref),
        cmocka_unit_test(fast_in_place),
        cmocka_unit_test(fast_declines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
