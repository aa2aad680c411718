/* test_rules_layout.c - layout_nchw and sink_transpose: each site exact on both runtimes, and
 * on resnet8 the transposes between neighbouring NCHW convolutions cancel once sunk. */
#include "testrules.h"

#include "rewrite/pipeline.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"

static Graph *small_cnn(void) {
    /* x -> conv 3x3/2 SAME (dilated 1) -> bias+relu (fused by hand below) -> maxpool -> avgpool;
       plus a depthwise branch added back */
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 9, 9, 4}), NULL);
    ValueRef c = bld_conv2d(&b, "conv", x, 3, 6, 2, "SAME", 0.3);
    Tensor bias = bld_normal(&b, shape_make(1, (int64_t[]){6}), 0.0, 0.1);
    c = bld_bias_add(&b, "conv/BiasAdd", c, bld_const(&b, "conv/bias", &bias));
    ValueRef r = bld_unary(&b, "relu", "Relu", c);
    ValueRef p = bld_pool(&b, "pool", "MaxPool", r, 2, 1, "VALID");
    ValueRef d = bld_depthwise(&b, "dw", p, 3, 1, "SAME", 0.3);
    ValueRef a = bld_binary(&b, "add", "AddV2", p, d);
    ValueRef q = bld_pool(&b, "avg", "AvgPool", a, 2, 2, "SAME");
    bld_add_output(&b, q);
    Graph *g = bld_finish(&b);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    return g;
}

static void test_layout_nchw_each_op(void **state) {
    (void)state;
    Graph *g = small_cnn();
    const RuleDef *r = rule_by_name("layout_nchw");
    assert_non_null(r);
    /* conv, maxpool, depthwise, avgpool */
    assert_int_equal(tr_check_each_site(r, g, 1e-5), 4);
    /* the fused form, with a residual addend that must be transposed too */
    Err e = {0};
    RewriteLog log = {0};
    const char *fuse[] = {"fuse_conv_bias_act", "fuse_residual_add", "fuse_activation"};
    Graph *f = graph_clone(g, &e);
    CHECK_OK(pipeline_fixed_point(fuse, 3, f, 0, 4, &log, &e), &e);
    assert_true(tr_count_op(f, "_FusedConv2D") + tr_count_op(f, "_FusedDepthwiseConv2dNative") >= 1);
    assert_true(tr_check_each_site(r, f, 1e-5) >= 3);
    graph_free(f);
    graph_free(g);
}

static void test_nchw_region_on_resnet8(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = zoo_build("resnet8", NULL, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    Graph *c = graph_clone(g, &e);
    int convs = tr_count_op(c, "Conv2D");
    RewriteLog log = {0};
    /* batch norms first: a transpose cannot move through one, a BiasAdd it can */
    const char *fold[] = {"fold_batchnorm"};
    CHECK_OK(pipeline_fixed_point(fold, 1, c, 0, 1, &log, &e), &e);
    const char *to_nchw[] = {"layout_nchw"};
    CHECK_OK(pipeline_fixed_point(to_nchw, 1, c, 0, 1, &log, &e), &e);
    int after_layout = tr_count_op(c, "Transpose");
    assert_true(after_layout >= 2 * convs);
    const char *sink[] = {"sink_transpose", "cancel_transposes", "remove_identity"};
    CHECK_OK(pipeline_fixed_point(sink, 3, c, 0, 8, &log, &e), &e);
    int after_sink = tr_count_op(c, "Transpose");
    printf("[ layout   ] resnet8: %d convs; transposes %d after layout_nchw, %d after sinking and cancelling\n", convs,
           after_layout, after_sink);
    assert_true(after_sink < after_layout / 2);
    assert_true(tr_compare(g, c, false, 3) <= 1e-5);
    assert_true(tr_compare(g, c, true, 3) <= 1e-4);
    graph_free(c);
    graph_free(g);
}

static void test_sink_transpose_cases(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 2, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 3, 4, 5}), NULL);
    ValueRef y = bld_placeholder(&b, "y", DT_FLOAT, shape_make(4, (int64_t[]){1, 3, 4, 5}), NULL);
    int32_t perm[4] = {0, 3, 1, 2}, other[4] = {0, 2, 3, 1};
    ValueRef tx = bld_transpose(&b, "tx", x, perm, 4);
    ValueRef ty = bld_transpose(&b, "ty", y, perm, 4);
    ValueRef s = bld_binary(&b, "sum", "AddV2", tx, ty);     /* both transposed alike: match */
    ValueRef r = bld_unary(&b, "relu", "Tanh", s);          /* unary after: a later match */
    ValueRef k = bld_scalar_f32(&b, "two", 2.0f);
    ValueRef m = bld_binary(&b, "scaled", "Mul", r, k);     /* reads r, not a transpose */
    /* two transposes with different permutations that happen to give the same shape */
    ValueRef z = bld_placeholder(&b, "z", DT_FLOAT, shape_make(4, (int64_t[]){1, 4, 5, 3}), NULL);
    ValueRef tz = bld_transpose(&b, "tz", z, other, 4); /* [1,5,3,4] */
    ValueRef tw = bld_transpose(&b, "tw", x, perm, 4);  /* [1,5,3,4] */
    ValueRef bad = bld_binary(&b, "mixed", "AddV2", tz, tw);
    bld_add_output(&b, m);
    bld_add_output(&b, bad);
    ValueRef tv = bld_transpose(&b, "tv", y, perm, 4);
    ValueRef shared = bld_unary(&b, "shared", "Relu", tv);
    bld_add_output(&b, shared);
    bld_add_output(&b, tv); /* tv has a second reader (a graph output): no site through it */
    Graph *g = bld_finish(&b);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    const RuleDef *rule = rule_by_name("sink_transpose");
    assert_int_equal(tr_check_each_site(rule, g, 1e-6), 1); /* only "sum" */
    Graph *c = graph_clone(g, &e);
    int n = tr_apply_all(rule, c, 10);
    assert_int_equal(n, 3); /* sum, then Tanh, then the Mul by a scalar */
    assert_true(tr_compare(g, c, false, 1) <= 1e-6);
    graph_free(c);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_nchw_each_op),
        cmocka_unit_test(test_sink_transpose_cases),
        cmocka_unit_test(test_nchw_region_on_resnet8),
    };
    return cmocka_run_group_tests_name("rules_layout", tests, NULL, NULL);
}
