/* test_rules_siblings.c - the rule fuse_sibling_matmul: sibling matmuls of one input (plain
 * MatMul, MatMul with transpose_b, _FusedMatMul with bias and activation, unequal widths) become
 * one matmul + SplitV that computes what the graph computed (reference runtime on the original
 * against the rewritten graph on both runtimes, and through a GraphDef round trip); the groups it
 * must decline (different inputs, weights that are not Consts, a different transpose_a and so a
 * different shared dimension, different activations, a sibling that is a graph output) have no
 * site; on zoo bert-tiny, raw and after the grappler pipeline, every Q/K/V triple of every layer
 * is one site and the fused model computes the original's outputs on both runtimes. */
#include "testrules.h"

#include "rewrite/pipeline.h"

#define TOL 1e-5

static const RuleDef *rule(void) {
    const RuleDef *r = rule_by_name("fuse_sibling_matmul");
    assert_non_null(r);
    return r;
}

static ValueRef weight(Builder *b, const char *name, int rows, int cols) {
    Tensor w = bld_normal(b, shape_make(2, (int64_t[]){rows, cols}), 0.0, 0.3);
    return bld_const(b, name, &w);
}

static ValueRef bias(Builder *b, const char *name, int n) {
    Tensor t = bld_normal(b, shape_make(1, (int64_t[]){n}), 0.0, 0.3);
    return bld_const(b, name, &t);
}

/* x [4, 8]: three MatMul+BiasAdd of widths 5, 6, 5 (outputs through Relu, Tanh, Identity), two
   matmuls with transpose_b of widths 3 and 7, and an unrelated matmul of another input */
static Graph *siblings_graph(void) {
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 11, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(2, (int64_t[]){4, 8}), NULL);
    ValueRef z = bld_placeholder(&b, "z", DT_FLOAT, shape_make(2, (int64_t[]){4, 8}), NULL);
    const int widths[3] = {5, 6, 5};
    const char *acts[3] = {"Relu", "Tanh", "Identity"};
    for (int k = 0; k < 3; k++) {
        char n[64], w[64], bn[64], a[64];
        snprintf(n, sizeof n, "d%d/MatMul", k);
        snprintf(w, sizeof w, "d%d/kernel", k);
        snprintf(bn, sizeof bn, "d%d/bias", k);
        snprintf(a, sizeof a, "d%d/act", k);
        ValueRef y = bld_matmul(&b, n, x, weight(&b, w, 8, widths[k]), false, false);
        snprintf(n, sizeof n, "d%d/BiasAdd", k);
        y = bld_bias_add(&b, n, y, bias(&b, bn, widths[k]));
        bld_add_output(&b, bld_unary(&b, a, acts[k], y));
    }
    ValueRef t0 = bld_matmul(&b, "t0", x, weight(&b, "t0/w", 3, 8), false, true);
    ValueRef t1 = bld_matmul(&b, "t1", x, weight(&b, "t1/w", 7, 8), false, true);
    bld_add_output(&b, bld_unary(&b, "t0/out", "Sigmoid", t0));
    bld_add_output(&b, bld_unary(&b, "t1/out", "Relu", t1));
    bld_add_output(&b, bld_unary(&b, "u/out", "Relu", bld_matmul(&b, "u", z, weight(&b, "u/w", 8, 4), false, false)));
    return tr_finish(&b);
}

static void check_fully_fused(Graph *g, int want_sites, int want_matmuls_after) {
    Err e = {0};
    Graph *orig = graph_clone(g, &e);
    assert_non_null(orig);
    assert_int_equal(tr_check_each_site(rule(), g, TOL), want_sites);
    assert_int_equal(tr_apply_all(rule(), g, 10), want_sites);
    assert_int_equal(tr_site_count(rule(), g), 0);
    assert_int_equal(tr_count_op(g, "SplitV"), want_sites);
    assert_int_equal(tr_count_op(g, "MatMul") + tr_count_op(g, "_FusedMatMul"), want_matmuls_after);
    for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(orig, g, fast, 5) <= TOL);
    Graph *r = tr_roundtrip(g);
    assert_true(tr_compare(orig, r, false, 6) <= TOL);
    graph_free(r);
    graph_free(orig);
}

/* plain MatMuls: the three dense matmuls are one group, the two transpose_b ones another */
static void test_plain_matmuls(void **s) {
    (void)s;
    Graph *g = siblings_graph();
    check_fully_fused(g, 2, 3);
    graph_free(g);
}

/* x [4, 8] -> six dense layers (MatMul + BiasAdd): three of widths 5, 6, 5 with Relu, one each
   with Tanh, Sigmoid and none; every result read by a Neg. After fuse_matmul_bias_act they are
   _FusedMatMul [BiasAdd, Relu] x3, [BiasAdd, Tanh], [BiasAdd, Sigmoid], [BiasAdd]: only the
   three with equal epilogues are siblings (the biases concatenated with the weights) */
static void test_fused_matmuls(void **s) {
    (void)s;
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 13, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(2, (int64_t[]){4, 8}), NULL);
    const int widths[6] = {5, 6, 5, 3, 3, 3};
    const char *acts[6] = {"Relu", "Relu", "Relu", "Tanh", "Sigmoid", NULL};
    for (int k = 0; k < 6; k++) {
        char n[64], a[64];
        snprintf(n, sizeof n, "d%d", k);
        ValueRef y = bld_dense(&b, n, x, widths[k], 0.3, 0.3);
        snprintf(a, sizeof a, "d%d/act", k);
        if (acts[k]) y = bld_unary(&b, a, acts[k], y);
        snprintf(a, sizeof a, "d%d/neg", k);
        bld_add_output(&b, bld_unary(&b, a, "Neg", y));
    }
    Graph *g = tr_finish(&b);
    const char *names[] = {"fuse_matmul_bias_act"};
    RewriteLog log = {0};
    CHECK_OK(pipeline_fixed_point(names, 1, g, 0, 2, &log, &e), &e);
    assert_int_equal(tr_count_op(g, "_FusedMatMul"), 6);
    assert_int_equal(tr_count_op(g, "MatMul"), 0);
    check_fully_fused(g, 1, 4);
    graph_free(g);
}

/* groups the rule must decline */
static void test_declined(void **s) {
    (void)s;
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 12, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(2, (int64_t[]){4, 8}), NULL);
    ValueRef z = bld_placeholder(&b, "z", DT_FLOAT, shape_make(2, (int64_t[]){4, 8}), NULL);
    ValueRef wp = bld_placeholder(&b, "wp", DT_FLOAT, shape_make(2, (int64_t[]){8, 3}), NULL);
    /* different inputs */
    bld_add_output(&b, bld_unary(&b, "a0", "Relu", bld_matmul(&b, "m0", x, weight(&b, "w0", 8, 3), false, false)));
    bld_add_output(&b, bld_unary(&b, "a1", "Relu", bld_matmul(&b, "m1", z, weight(&b, "w1", 8, 3), false, false)));
    /* x again, but with a weight that is not a Const (a placeholder; an Identity of a Const) */
    bld_add_output(&b, bld_unary(&b, "a2", "Relu", bld_matmul(&b, "m2", x, wp, false, false)));
    ValueRef wi = bld_unary(&b, "w3/read", "Identity", weight(&b, "w3", 8, 3));
    bld_add_output(&b, bld_unary(&b, "a3", "Relu", bld_matmul(&b, "m3", x, wi, false, false)));
    /* z again, transposed: another shared dimension (4, not 8) */
    bld_add_output(&b, bld_unary(&b, "a4", "Relu", bld_matmul(&b, "m4", z, weight(&b, "w4", 4, 3), true, false)));
    /* x again, but this matmul is itself a graph output */
    bld_add_output(&b, bld_matmul(&b, "m5", x, weight(&b, "w5", 8, 2), false, false));
    Graph *g = tr_finish(&b);
    assert_int_equal(tr_site_count(rule(), g), 0);
    graph_free(g);
}

/* zoo bert-tiny: one site per layer (Q, K, V), raw and after the grappler pipeline */
static void test_bert_tiny(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = tr_zoo("bert-tiny", 0, 16, 0, false);
    int layers = 0;
    for (int i = 0; i < g->n_nodes; i++) layers += strstr(g->nodes[i]->name, "attention/self/query/MatMul") != NULL;
    assert_true(layers >= 2);
    int mm = tr_count_op(g, "MatMul");
    check_fully_fused(g, layers, mm - 2 * layers);
    graph_free(g);

    g = tr_zoo("bert-tiny", 0, 16, 0, false);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    mm = tr_count_op(g, "MatMul") + tr_count_op(g, "_FusedMatMul");
    if (tr_count_op(g, "SplitV") == 0) check_fully_fused(g, layers, mm - 2 * layers);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_matmuls),
        cmocka_unit_test(test_fused_matmuls),
        cmocka_unit_test(test_declined),
        cmocka_unit_test(test_bert_tiny),
    };
    return cmocka_run_group_tests_name("rules_siblings", tests, NULL, NULL);
}
