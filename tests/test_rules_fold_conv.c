/* test_rules_fold_conv.c - fold_conv_affine (rules_fold_bn.c), the grappler pipelines' fold of
 * a batch norm frozen as Mul + Add by per-channel constants into the convolution before it:
 * it takes conv and depthwise chains and leaves MatMul chains alone (every site checked on
 * both runtimes, 1e-5 relative); a Keras-frozen ResNet block through the whole grappler
 * pipeline becomes fused convolutions only (bias, residual Add and Relu inside), on a tiny
 * map whose 3x3 window reaches past the input, checked against the reference; and random conv
 * chains, the rule and the grappler pipeline (1e-4 relative plus the fast runtime's own error,
 * both runtimes). */
#include "testrules.h"

#include <stdlib.h>

#include "rewrite/pipeline.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"

#define TOL 1e-5

static const RuleDef *rule(void) {
    const RuleDef *r = rule_by_name("fold_conv_affine");
    if (!r) { print_error("no rule named fold_conv_affine\n"); fail(); }
    return r;
}

static ValueRef vec(Builder *b, const char *name, int64_t c, double mean, double std) {
    Tensor t = bld_normal(b, shape_make(1, &c), mean, std);
    return bld_const(b, name, &t);
}

static void assert_close(const Graph *orig, const Graph *rew, double tol) {
    for (int fast = 0; fast < 2; fast++) {
        double base = fast ? tr_compare(orig, orig, true, 11) : 0; /* oneDNN's own float error */
        double err = tr_compare(orig, rew, fast, 11);
        if (!(err <= tol + base)) {
            print_error("%s runtime: rel err %.3g > %.3g + %.3g\n", fast ? "fast" : "ref", err, tol, base);
            fail();
        }
    }
}

/* conv -> Mul(vector) -> AddV2(vector) -> Relu, as a frozen Keras batch norm without its bias */
static ValueRef frozen_bn(Builder *b, const char *name, ValueRef y, int64_t c) {
    char n1[96], n2[96], c1[96], c2[96];
    snprintf(n1, sizeof n1, "%s/bn/mul_1", name);
    snprintf(c1, sizeof c1, "%s/bn/mul", name);
    snprintf(n2, sizeof n2, "%s/bn/add_1", name);
    snprintf(c2, sizeof c2, "%s/bn/sub", name);
    y = bld_binary(b, n1, "Mul", y, vec(b, c1, c, 1.0, 0.3));
    return bld_binary(b, n2, "AddV2", y, vec(b, c2, c, 0.0, 0.3));
}

static void test_convs_only(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 21, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){2, 6, 6, 3}), NULL);
    ValueRef y = bld_conv2d(&b, "c1", x, 3, 4, 1, "SAME", 0.3);
    y = bld_unary(&b, "r1", "Relu", frozen_bn(&b, "c1", y, 4));
    /* with a BiasAdd before the batch norm (Keras' use_bias) */
    y = bld_conv2d(&b, "c2", y, 1, 6, 1, "SAME", 0.3);
    y = bld_bias_add(&b, "c2/BiasAdd", y, vec(&b, "c2/bias", 6, 0.0, 0.3));
    y = bld_unary(&b, "r2", "Relu", frozen_bn(&b, "c2", y, 6));
    y = bld_mean(&b, "pool", y, (int32_t[]){1, 2}, 2, false);
    /* a dense layer's Mul + Add: fold_affine's, not this rule's (the grappler pipeline leaves
       matmul chains to the fusions) */
    Tensor wt = bld_normal(&b, shape_make(2, (int64_t[]){6, 5}), 0.0, 0.4);
    y = bld_matmul(&b, "fc/MatMul", y, bld_const(&b, "fc/kernel", &wt), false, false);
    y = frozen_bn(&b, "fc", y, 5);
    bld_add_output(&b, y);
    Graph *g = tr_finish(&b);
    assert_int_equal(tr_check_each_site(rule(), g, TOL), 2);
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    assert_int_equal(tr_apply_all(rule(), c, 100), 2);
    assert_close(g, c, TOL);
    /* the convs' chains became one BiasAdd each (taking the AddV2's name); the dense one stays */
    assert_int_equal(tr_count_op(c, "Mul"), 1);
    assert_int_equal(tr_count_op(c, "AddV2"), 1);
    assert_int_equal(tr_count_op(c, "BiasAdd"), 2);
    assert_string_equal(c->nodes[graph_find(c, "c1/bn/add_1")]->op_name, "BiasAdd");
    assert_string_equal(c->nodes[graph_find(c, "c2/bn/add_1")]->op_name, "BiasAdd");
    assert_int_equal(tr_site_count(rule_by_name("fold_affine"), c), 1); /* the dense chain */
    graph_free(c);
    graph_free(g);
}

/* the conv's output also read elsewhere, or the Mul by a run-time value: no fold */
static void test_not_folded(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 22, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 5, 5, 3}), NULL);
    ValueRef s = bld_placeholder(&b, "s", DT_FLOAT, shape_make(1, (int64_t[]){4}), NULL);
    ValueRef t = bld_conv2d(&b, "t", x, 3, 4, 1, "SAME", 0.3);
    ValueRef tm = frozen_bn(&b, "t", t, 4);
    ValueRef a = bld_binary(&b, "a/mul", "Mul", bld_conv2d(&b, "a", x, 3, 4, 1, "SAME", 0.3), s);
    ValueRef sum = bld_binary(&b, "s1", "AddV2", tm, t);
    sum = bld_binary(&b, "s2", "AddV2", sum, a);
    bld_add_output(&b, sum);
    Graph *g = tr_finish(&b);
    assert_int_equal(tr_site_count(rule(), g), 0);
    graph_free(g);
}

/* A ResNet bottleneck's tail as Keras freezes it, on a 2x2 map: conv -> BiasAdd -> Mul -> AddV2
   -> Relu, then a 3x3 SAME conv (its window reaches past the map) -> ... -> AddV2(shortcut) ->
   Relu. The grappler pipeline leaves only fused convolutions. */
static void test_grappler_frozen_block(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 23, false, &e), &e);
    const int64_t c = 16;
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 2, 2, c}), NULL);
    ValueRef y = bld_conv2d(&b, "c1", x, 1, 8, 1, "SAME", 0.3);
    y = bld_bias_add(&b, "c1/BiasAdd", y, vec(&b, "c1/bias", 8, 0.0, 0.3));
    y = bld_unary(&b, "r1", "Relu", frozen_bn(&b, "c1", y, 8));
    y = bld_conv2d(&b, "c2", y, 3, 8, 1, "SAME", 0.3);
    y = bld_bias_add(&b, "c2/BiasAdd", y, vec(&b, "c2/bias", 8, 0.0, 0.3));
    y = bld_unary(&b, "r2", "Relu", frozen_bn(&b, "c2", y, 8));
    y = bld_conv2d(&b, "c3", y, 1, c, 1, "SAME", 0.3);
    y = bld_bias_add(&b, "c3/BiasAdd", y, vec(&b, "c3/bias", c, 0.0, 0.3));
    y = frozen_bn(&b, "c3", y, c);
    y = bld_binary(&b, "add", "AddV2", y, x);
    y = bld_unary(&b, "out", "Relu", y);
    bld_add_output(&b, y);
    Graph *g = tr_finish(&b);
    Graph *p = graph_clone(g, &e);
    assert_non_null(p);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", p, 0, &log, &e), &e);
    assert_int_equal(tr_count_op(p, "_FusedConv2D"), 3);
    assert_int_equal(tr_count_op(p, "Mul") + tr_count_op(p, "AddV2") + tr_count_op(p, "Relu") + tr_count_op(p, "BiasAdd"), 0);
    int folds = 0;
    for (int i = 0; i < log.n; i++)
        if (!strcmp(log.v[i].rule, "fold_conv_affine")) folds = log.v[i].count;
    assert_int_equal(folds, 3);
    assert_close(g, p, 1e-4);
    graph_free(p);
    graph_free(g);
}

/* Random chains: a conv or depthwise conv (kernel 1 or 3, stride 1 or 2, maps 1 to 5 wide, so
   windows past the input too) followed by 1 to 4 random steps (BiasAdd, Mul / Add / Sub /
   RealDiv by a vector, a [1,1,1,C] tensor or a scalar, either operand order) and maybe a
   Relu; after the rule (and the grappler pipeline) the same function on both runtimes. */
static void test_random_chains(void **state) {
    (void)state;
    uint64_t r = 0x243F6A8885A308D3ull;
#define RND(n) (r ^= r << 13, r ^= r >> 7, r ^= r << 17, (int)(r % (uint64_t)(n)))
    int folded = 0;
    for (int k = 0; k < 24; k++) {
        Err e = {0};
        Builder b;
        CHECK_OK(bld_init(&b, 100 + (uint64_t)k, false, &e), &e);
        int64_t h = 1 + RND(5), w = 1 + RND(5), cin = 1 + RND(6);
        bool dw = RND(4) == 0;
        int ks = RND(2) ? 3 : 1, stride = 1 + RND(2);
        int64_t c = dw ? cin : 1 + RND(8);
        ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1 + RND(2), h, w, cin}), NULL);
        ValueRef y;
        if (dw) {
            Tensor wt = bld_normal(&b, shape_make(4, (int64_t[]){ks, ks, cin, 1}), 0.0, 0.3);
            int n = bld_begin(&b, "conv", "DepthwiseConv2dNative", (ValueRef[]){x, bld_const(&b, "conv/filter", &wt)}, 2);
            bld_attr_type(&b, n, "T", DT_FLOAT);
            bld_attr_ints(&b, n, "strides", (int64_t[]){1, stride, stride, 1}, 4);
            bld_attr_s(&b, n, "padding", "SAME");
            bld_attr_s(&b, n, "data_format", "NHWC");
            bld_attr_ints(&b, n, "dilations", (int64_t[]){1, 1, 1, 1}, 4);
            bld_attr_ints(&b, n, "explicit_paddings", NULL, 0);
            y = bld_end(&b, n);
        } else {
            y = bld_conv2d(&b, "conv", x, ks, (int)c, stride, "SAME", 0.3);
        }
        int steps = 1 + RND(4);
        static const char *const ops[] = {"Mul", "AddV2", "Add", "Sub", "RealDiv"};
        for (int s = 0; s < steps; s++) {
            char name[32], cname[32];
            snprintf(name, sizeof name, "step%d", s);
            snprintf(cname, sizeof cname, "step%d/c", s);
            int kind = RND(6);
            if (kind == 5) {
                if (s == 0) y = bld_bias_add(&b, name, y, vec(&b, cname, c, 0.0, 0.3));
                continue;
            }
            int form = RND(3); /* vector, [1,1,1,C], scalar */
            Tensor t = form == 0   ? bld_normal(&b, shape_make(1, &c), 1.5, 0.3)
                       : form == 1 ? bld_normal(&b, shape_make(4, (int64_t[]){1, 1, 1, c}), 1.5, 0.3)
                                   : bld_normal(&b, shape_make(0, NULL), 1.5, 0.3);
            ValueRef cv = bld_const(&b, cname, &t);
            bool swap = kind != 4 && RND(2); /* RealDiv only as y / c */
            y = swap ? bld_binary(&b, name, ops[kind], cv, y) : bld_binary(&b, name, ops[kind], y, cv);
        }
        if (RND(2)) y = bld_unary(&b, "relu", "Relu", y);
        bld_add_output(&b, y);
        Graph *g = tr_finish(&b);
        Graph *c1 = graph_clone(g, &e), *c2 = graph_clone(g, &e);
        assert_true(c1 && c2);
        int n = tr_apply_all(rule(), c1, 100);
        folded += n > 0;
        assert_int_equal(tr_site_count(rule(), c1), 0);
        assert_close(g, c1, 1e-4);
        CHECK_OK(pipeline_run("grappler", c2, 0, NULL, &e), &e);
        assert_close(g, c2, 1e-4);
        graph_free(c1);
        graph_free(c2);
        graph_free(g);
    }
#undef RND
    print_message("%d of 24 random chains folded\n", folded);
    assert_true(folded >= 8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convs_only),
        cmocka_unit_test(test_not_folded),
        cmocka_unit_test(test_grappler_frozen_block),
        cmocka_unit_test(test_random_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
