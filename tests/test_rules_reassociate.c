/* test_rules_reassociate.c - reassociate_bias_add (rules_reassociate.c): (contraction + s) + bias
 * becomes BiasAdd(contraction, bias) + s, to float rounding.
 *
 * Closed cases: Conv2D, DepthwiseConv2dNative and MatMul under AddN / Add / AddV2 with the
 * contraction as either operand and the bias as BiasAdd or Add of a constant: one site each,
 * the rewrite matches the original on both runtimes (1e-5 relative), keeps the output's name,
 * and then fuse_conv_bias_act + fuse_residual_add leave a single fused node where there were
 * four. No site where the rewrite would not be the same function or would duplicate work: the
 * contraction read elsewhere, a sum read elsewhere, a broadcasting sum, a bias that is not a
 * constant, a sum of two non-contractions. On handlandmark-lite (TF's AddOpsRewrite form, 9
 * blocks), every AddN goes once the grappler pipeline follows the rule, and the graph still
 * matches TensorFlow.js's outputs on both runtimes. */
#include "testreal.h"

#include "rewrite/pipeline.h"

#define TOL 1e-5

static const RuleDef *rule(void) {
    const RuleDef *r = rule_by_name("reassociate_bias_add");
    if (!r) { print_error("no rule named reassociate_bias_add\n"); fail(); }
    return r;
}

typedef enum Host { HOST_CONV, HOST_DEPTHWISE, HOST_MATMUL } Host;
typedef enum Sum { SUM_ADDN, SUM_ADD, SUM_ADDV2 } Sum;

typedef struct Case {
    Host host;
    Sum sum;
    bool host_second; /* the contraction is the sum's second operand */
    bool bias_add;    /* BiasAdd (else AddV2 of a constant vector) */
    /* the negative cases */
    bool host_read_twice;
    bool sum_read_twice;
    bool broadcast;  /* the shortcut broadcasts over the batch dim */
    bool bias_input; /* the "bias" is a placeholder, not a constant */
    bool no_host;    /* the sum's operands are Relu and the shortcut */
} Case;

static ValueRef sum_of(Builder *b, Sum sum, ValueRef p, ValueRef q) {
    if (sum == SUM_ADDN) {
        int n = bld_begin(b, "sum", "AddN", (ValueRef[]){p, q}, 2);
        bld_attr_type(b, n, "T", DT_FLOAT);
        bld_attr_i(b, n, "N", 2);
        return bld_end(b, n);
    }
    return bld_binary(b, "sum", sum == SUM_ADD ? "Add" : "AddV2", p, q);
}

/* x -> contraction -> sum with a shortcut -> + bias -> Relu (output "out") */
static Graph *build(const Case *c) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    bool mm = c->host == HOST_MATMUL;
    Shape xs = mm ? shape_make(2, (int64_t[]){3, 8}) : shape_make(4, (int64_t[]){1, 6, 6, 8});
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, xs, NULL);
    Shape ss = mm ? shape_make(2, (int64_t[]){c->broadcast ? 1 : 3, 8})
                  : shape_make(4, (int64_t[]){1, 6, 6, 8});
    ValueRef s = bld_placeholder(&b, "s", DT_FLOAT, ss, NULL);
    ValueRef h;
    if (c->no_host) h = bld_unary(&b, "h", "Relu", x);
    else if (c->host == HOST_CONV) h = bld_conv2d(&b, "h", x, 3, 8, 1, "SAME", 0.3);
    else if (c->host == HOST_DEPTHWISE) h = bld_depthwise(&b, "h", x, 3, 1, "SAME", 0.3);
    else {
        Tensor w = bld_normal(&b, shape_make(2, (int64_t[]){8, 8}), 0, 0.3);
        h = bld_matmul(&b, "h", x, bld_const(&b, "w", &w), false, false);
    }
    ValueRef y = c->host_second ? sum_of(&b, c->sum, s, h) : sum_of(&b, c->sum, h, s);
    Tensor bt = bld_normal(&b, shape_make(1, (int64_t[]){8}), 0, 0.5);
    ValueRef bias = c->bias_input ? bld_placeholder(&b, "bias", DT_FLOAT, shape_make(1, (int64_t[]){8}), NULL)
                                  : bld_const(&b, "bias", &bt);
    if (c->bias_input) tensor_release(&bt);
    ValueRef z = c->bias_add ? bld_bias_add(&b, "biased", y, bias) : bld_binary(&b, "biased", "AddV2", y, bias);
    bld_add_output(&b, bld_unary(&b, "out", "Relu", z));
    if (c->host_read_twice) bld_add_output(&b, bld_unary(&b, "h_too", "Relu", h));
    if (c->sum_read_twice) bld_add_output(&b, bld_unary(&b, "sum_too", "Relu", y));
    return tr_finish(&b);
}

static void test_positive_cases(void **state) {
    (void)state;
    Err e = {0};
    const RuleDef *r = rule();
    int checked = 0;
    for (int host = HOST_CONV; host <= HOST_MATMUL; host++)
        for (int sum = SUM_ADDN; sum <= SUM_ADDV2; sum++)
            for (int second = 0; second < 2; second++)
                for (int bias_add = 0; bias_add < 2; bias_add++) {
                    Case c = {.host = (Host)host, .sum = (Sum)sum, .host_second = second, .bias_add = bias_add};
                    Graph *g = build(&c);
                    assert_int_equal(tr_check_each_site(r, g, TOL), 1);
                    Graph *w = graph_clone(g, &e);
                    assert_non_null(w);
                    assert_int_equal(tr_apply_all(r, w, 4), 1);
                    /* the output keeps its name and reads the new sum */
                    assert_true(graph_find(w, "out") >= 0);
                    assert_int_equal(tr_count_op(w, "AddN"), 0);
                    assert_int_equal(tr_count_op(w, "BiasAdd"), 1);
                    /* the bias and then the residual sum fuse into the contraction */
                    int fused_ops = 0;
                    const char *fusions[] = {"fuse_conv_bias_act", "fuse_matmul_bias_act", "fuse_residual_add"};
                    for (int k = 0; k < 3; k++) fused_ops += tr_apply_all(rule_by_name(fusions[k]), w, 4);
                    if (host == HOST_CONV) {
                        /* conv + bias + residual Add + Relu: one _FusedConv2D */
                        assert_int_equal(fused_ops, 2);
                        assert_int_equal(tr_count_op(w, "_FusedConv2D"), 1);
                        assert_int_equal(tr_count_op(w, "AddV2") + tr_count_op(w, "Add"), 0);
                    } else {
                        /* TF's depthwise and matmul kernels take the bias (and the matmul an
                           Add) - at least the bias fuses */
                        assert_true(fused_ops >= 1);
                        assert_int_equal(tr_count_op(w, "BiasAdd"), 0);
                    }
                    for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(g, w, fast, 3) <= TOL);
                    graph_free(w);
                    graph_free(g);
                    checked++;
                }
    assert_int_equal(checked, 36);
}

static void test_negative_cases(void **state) {
    (void)state;
    const RuleDef *r = rule();
    const Case cases[] = {
        {.host = HOST_CONV, .sum = SUM_ADDN, .host_read_twice = true},
        {.host = HOST_CONV, .sum = SUM_ADDN, .sum_read_twice = true},
        {.host = HOST_MATMUL, .sum = SUM_ADDV2, .broadcast = true},
        {.host = HOST_CONV, .sum = SUM_ADDN, .bias_input = true},
        {.host = HOST_CONV, .sum = SUM_ADDV2, .no_host = true},
    };
    const char *why[] = {"contraction read twice", "sum read twice", "broadcasting sum", "bias not a constant", "no contraction"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Graph *g = build(&cases[k]);
        if (tr_site_count(r, g) != 0) { print_error("a site where there should be none: %s\n", why[k]); fail(); }
        graph_free(g);
    }
}

/* handlandmark-lite: TF's AddOpsRewrite left AddN(conv, shortcut) + bias in 9 blocks */
static void test_handlandmark(void **state) {
    (void)state;
    Err e = {0};
    Fixture f;
    fixture_load("handlandmark-lite", &f);
    Graph *g = graph_clone(f.g, &e);
    assert_non_null(g);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    int n_addn = tr_count_op(g, "AddN");
    assert_int_equal(n_addn, 9);
    int sites = tr_site_count(rule(), g);
    assert_int_equal(sites, 9);
    assert_int_equal(tr_apply_all(rule(), g, 64), 9);
    assert_int_equal(tr_count_op(g, "AddN"), 0);
    int before = g->n_nodes;
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    printf("[ reassociate ] handlandmark-lite: 9 AddN gone, %d -> %d nodes after the fusions\n", before, g->n_nodes);
    /* each of the 9 blocks: BiasAdd and AddV2 fused into the conv */
    assert_int_equal(before - g->n_nodes, 18);
    fixture_check_tfjs(&f, g, false, "reassociated");
    fixture_check_tfjs(&f, g, true, "reassociated");
    Graph *rt = tr_roundtrip(g);
    fixture_check_tfjs(&f, rt, true, "reassociated, GraphDef round trip");
    graph_free(rt);
    graph_free(g);
    fixture_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive_cases),
        cmocka_unit_test(test_negative_cases),
        cmocka_unit_test(test_handlandmark),
    };
    return cmocka_run_group_tests_name("rules_reassociate", tests, NULL, NULL);
}
