/* test_real_rewrites.c - the rewrites on the five real trained graphs of tests/fixtures/real/:
 *   - the grappler pipeline: the rewritten graph matches TensorFlow.js's outputs on the committed
 *     inputs (each output within its own tolerance, on both runtimes), and the original graph on
 *     three signed image-like inputs (reference runtime as the oracle, itself checked against
 *     TensorFlow.js in test_real_fixtures.c);
 *   - the property walk: random sequences of exact rewrites (3 seeds per fixture), each state
 *     compared with the original on a signed input, the end state with TensorFlow.js on both
 *     runtimes and through a GraphDef round trip;
 *   - coverage: every exact rule of the registry fires somewhere in a corpus (the fixtures, zoo
 *     models, random DAGs, graphs built so that dequantize_pair and cast_pair have sites, and
 *     the Keras 3 BERT-style encoder of tests/fixtures/einsum for einsum_to_matmul),
 *     and each firing computes what the graph computed before.
 * GRAPPO_PROPERTY_DEPTH (testreal.h) lengthens the walks for nightly runs. */
#include "testreal.h"

#include "rewrite/calibrate.h"
#include "rewrite/pipeline.h"

/* ------------------------------------------------------------------------------------------- */
/* grappler */

static void grappler_on(const char *name) {
    Err e = {0};
    Fixture f;
    fixture_load(name, &f);
    fixture_check_tfjs(&f, f.g, false, "original"); /* the oracle itself */
    Graph *g = graph_clone(f.g, &e);
    assert_non_null(g);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    printf("[ grappler ] %-18s %d rewrites (", name, log.total);
    for (int k = 0; k < log.n; k++) printf("%s%s x%d", k ? ", " : "", log.v[k].rule, log.v[k].count);
    printf("), %d -> %d nodes\n", f.g->n_nodes, g->n_nodes);
    assert_true(log.total > 0);
    fixture_check_tfjs(&f, g, false, "grappler");
    fixture_check_tfjs(&f, g, true, "grappler");
    for (uint64_t seed = 1; seed <= 3; seed++) {
        RefFeed feeds[TR_MAX];
        int nf = tr_signed_feeds(f.g, 100 * seed, feeds);
        Tensor want[TR_MAX];
        tr_outputs(f.g, false, feeds, nf, want);
        double ref_err = tr_err_against(want, g, false, feeds, nf), fast_err = tr_err_against(want, g, true, feeds, nf);
        printf("[ grappler ] %-18s signed input %llu: rel err ref %.3g, fast %.3g\n", name, (unsigned long long)seed, ref_err, fast_err);
        assert_true(ref_err <= 1e-4);
        assert_true(fast_err <= 1e-4);
        for (int k = 0; k < f.n_out; k++) tensor_release(&want[k]);
        tr_feeds_free(feeds, nf);
    }
    graph_free(g);
    fixture_free(&f);
}

static void test_grappler_blazeface(void **s) { (void)s; grappler_on("blazeface-front"); }
static void test_grappler_emotion(void **s) { (void)s; grappler_on("emotion"); }
static void test_grappler_gender(void **s) { (void)s; grappler_on("gender"); }
static void test_grappler_handlandmark(void **s) { (void)s; grappler_on("handlandmark-lite"); }
static void test_grappler_selfie(void **s) { (void)s; grappler_on("selfie"); }


/* ------------------------------------------------------------------------------------------- */
/* property walk */

#define WALK_STEPS 30

/* Up to steps random exact rewrites of f's graph from seed; after each one the graph must
   compute what the original computes on a signed input (reference runtime every step, fast
   runtime every 5th and at the end); at the end it must match TensorFlow.js on the committed
   inputs on both runtimes, and survive a GraphDef round trip bit for bit. Returns the count. */
static int walk(const Fixture *f, uint64_t seed, int steps) {
    Err e = {0};
    Graph *g = graph_clone(f->g, &e);
    assert_non_null(g);
    Rng r;
    rng_seed(&r, seed);
    RefFeed feeds[TR_MAX];
    int nf = tr_signed_feeds(f->g, 1000 + seed, feeds);
    Tensor want[TR_MAX];
    tr_outputs(f->g, false, feeds, nf, want);
    /* the fast runtime's own distance from the reference on the unrewritten graph: a rewritten
       graph on the fast runtime may be as far (oneDNN's NCHW and NHWC kernels round
       differently; on selfie with some signed inputs that alone is 1e-4), not farther */
    double fast_tol = fmax(1e-4, 2 * tr_err_against(want, f->g, true, feeds, nf));
    static Choice choices[8192];
    int applied = 0;
    for (int step = 0; step < steps; step++) {
        int n = exact_sites(g, choices, 8192);
        if (n == 0) break;
        Choice c = choices[rng_below(&r, (uint64_t)n)];
        CHECK_OK(rule_apply(c.r, g, &c.s, &e), &e);
        applied++;
        double ref_err = tr_err_against(want, g, false, feeds, nf);
        double fast_err = (step % 5 == 4 || step == steps - 1) ? tr_err_against(want, g, true, feeds, nf) : 0;
        if (!(ref_err <= 1e-4) || !(fast_err <= fast_tol)) {
            print_error("%s seed %llu step %d (%s): rel err ref %.3g, fast %.3g (tolerance %.3g)\n", f->name, (unsigned long long)seed, step,
                        c.r->name, ref_err, fast_err, fast_tol);
            fail();
        }
    }
    fixture_check_tfjs(f, g, false, "walk end");
    fixture_check_tfjs(f, g, true, "walk end");
    Graph *rt = tr_roundtrip(g);
    assert_true(tr_err_against(want, rt, false, feeds, nf) == tr_err_against(want, g, false, feeds, nf));
    graph_free(rt);
    for (int k = 0; k < f->n_out; k++) tensor_release(&want[k]);
    tr_feeds_free(feeds, nf);
    graph_free(g);
    return applied;
}

static void walk_on(const char *name) {
    int sm, tm;
    tr_depth(&sm, &tm);
    Fixture f;
    fixture_load(name, &f);
    int total = 0;
    for (int seed = 1; seed <= 3 * sm; seed++) total += walk(&f, (uint64_t)seed, WALK_STEPS * tm);
    printf("[ walk     ] %-18s %d seeds x <= %d steps: %d exact rewrites, every state equal to the original\n", name, 3 * sm,
           WALK_STEPS * tm, total);
    assert_true(total >= 3); /* every fixture has exact sites: a walk that applies nothing checks nothing */
    fixture_free(&f);
}

static void test_walk_blazeface(void **s) { (void)s; walk_on("blazeface-front"); }
static void test_walk_emotion(void **s) { (void)s; walk_on("emotion"); }
static void test_walk_gender(void **s) { (void)s; walk_on("gender"); }
static void test_walk_handlandmark(void **s) { (void)s; walk_on("handlandmark-lite"); }
static void test_walk_selfie(void **s) { (void)s; walk_on("selfie"); }

/* ------------------------------------------------------------------------------------------- */
/* every exact rule fires somewhere */

typedef struct Coverage {
    int n_rules;
    const RuleDef *const *rules;
    int fired[64];
    const char *where[64];
} Coverage;

/* Explores g: each step applies, at its first site, the exact rule with sites that has fired
   least so far (ties: registry order), checking that the rewrite computes what the graph
   computed just before (signed input, reference runtime). Rules that only have sites after
   others fired (sink_transpose after layout_nchw, cancel_transposes after sink_transpose) get
   theirs this way. */
static void explore(Coverage *cov, const char *what, const Graph *start, int steps) {
    Err e = {0};
    Graph *g = graph_clone(start, &e);
    assert_non_null(g);
    RefFeed feeds[TR_MAX];
    int nf = tr_signed_feeds(g, 4242, feeds);
    SiteList sl = {0};
    for (int step = 0; step < steps; step++) {
        int best = -1;
        for (int i = 0; i < cov->n_rules; i++) {
            if (!(cov->rules[i]->flags & RULE_EXACT)) continue;
            CHECK_OK(rule_sites(cov->rules[i], g, &sl, &e), &e);
            if (sl.n && (best < 0 || cov->fired[i] < cov->fired[best])) best = i;
        }
        if (best < 0) break;
        CHECK_OK(rule_sites(cov->rules[best], g, &sl, &e), &e);
        Tensor want[TR_MAX];
        tr_outputs(g, false, feeds, nf, want);
        CHECK_OK(rule_apply(cov->rules[best], g, &sl.v[0], &e), &e);
        double err = tr_err_against(want, g, false, feeds, nf);
        for (int k = 0; k < g->n_outputs; k++) tensor_release(&want[k]);
        if (!(err <= 1e-4)) {
            print_error("%s: %s changed the outputs (rel err %.3g)\n", what, cov->rules[best]->name, err);
            fail();
        }
        if (!cov->fired[best]) cov->where[best] = what;
        cov->fired[best]++;
    }
    sitelist_free(&sl);
    tr_feeds_free(feeds, nf);
    graph_free(g);
}

/* resnet8 with every convolution quantized (back-to-back GrappoDequantize -> GrappoQuantize
   pairs: dequantize_pair's sites) or computing in bfloat16 (Cast pairs: cast_pair's) */
static Graph *lowp_resnet8(const char *rule) {
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    RefFeed **b;
    int nf;
    CHECK_OK(calib_batches_generate(g, 2, &b, &nf, &e), &e);
    assert_true(calibrate_graph(g, (const RefFeed *const *)b, 2, nf, CALIB_MINMAX, &e) > 0);
    calib_batches_free(b, 2, nf);
    const char *names[] = {"fold_batchnorm", "fuse_conv_bias_act", rule};
    RewriteLog log = {0};
    CHECK_OK(pipeline_fixed_point(names, 3, g, 0, 4, &log, &e), &e);
    assert_true(tr_count_op(g, "GrappoQConv2D") + tr_count_op(g, "Cast") > 0);
    return g;
}

/* a conv and a dense layer each scaled by a scalar constant (fold_scalar_mul: no zoo model or
   fixture multiplies a conv's output by a scalar, and in the random DAGs fold_affine, the
   general case, takes such sites first) */
/* the Keras 3 BERT-style encoder TensorFlow froze (Einsum attention: einsum_to_matmul's sites) */
static Graph *keras_bert(void) {
    Err e = {0};
    Graph *g = graphdef_load("tests/fixtures/einsum/bert_keras3/model.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    g->n_outputs = 0;
    CHECK_OK(graph_add_output(g, (ValueRef){graph_find(g, "Identity"), 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    return g;
}

static Graph *scalar_scaled(void) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 9, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 6, 6, 3}), NULL);
    ValueRef y = bld_conv2d(&b, "c1", x, 3, 4, 1, "SAME", 0.3);
    y = bld_binary(&b, "c1/mul", "Mul", y, bld_scalar_f32(&b, "c1/mul/y", 0.5f));
    y = bld_mean(&b, "pool", y, (int32_t[]){1, 2}, 2, false);
    y = bld_dense(&b, "fc", y, 3, 0.5, 0.3);
    y = bld_binary(&b, "fc/div", "RealDiv", y, bld_scalar_f32(&b, "fc/div/y", -3.0f));
    bld_add_output(&b, y);
    return tr_finish(&b);
}

/* a conv followed by a batch norm as Keras freezes it, Mul + AddV2 by per-channel constants
   (fold_conv_affine's sites; fold_affine, the general case, takes the random DAGs' first) */
static Graph *frozen_bn_conv(void) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 10, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 4, 4, 3}), NULL);
    ValueRef y = bld_conv2d(&b, "c1", x, 3, 4, 1, "SAME", 0.3);
    Tensor m = bld_normal(&b, shape_make(1, (int64_t[]){4}), 1.0, 0.3), a = bld_normal(&b, shape_make(1, (int64_t[]){4}), 0.0, 0.3);
    y = bld_binary(&b, "c1/bn/mul_1", "Mul", y, bld_const(&b, "c1/bn/mul", &m));
    y = bld_binary(&b, "c1/bn/add_1", "AddV2", y, bld_const(&b, "c1/bn/sub", &a));
    y = bld_unary(&b, "c1/relu", "Relu", y);
    bld_add_output(&b, y);
    return tr_finish(&b);
}

/* a 32x32 ResNet's last stage: 3x3 SAME convs on a 1x1 map (crop_conv_taps) */
static Graph *unit_map_convs(void) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 11, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 2, 2, 8}), NULL);
    ValueRef y = bld_conv2d(&b, "c1", x, 1, 8, 2, "SAME", 0.3);
    y = bld_unary(&b, "c1/relu", "Relu", y);
    y = bld_conv2d(&b, "c2", y, 3, 8, 1, "SAME", 0.3);
    bld_add_output(&b, y);
    return tr_finish(&b);
}

static void test_every_exact_rule_fires(void **state) {
    (void)state;
    Err e = {0};
    Coverage cov = {0};
    cov.rules = rules_all(&cov.n_rules);
    assert_true(cov.n_rules <= 64);
    for (int k = 0; k < TR_N_FIXTURES; k++) {
        Fixture f;
        fixture_load(TR_FIXTURES[k], &f);
        explore(&cov, TR_FIXTURES[k], f.g, 60);
        fixture_free(&f);
    }
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    explore(&cov, "zoo resnet8", g, 60);
    graph_free(g);
    g = tr_zoo("bert-tiny", 0, 16, 0, false);
    explore(&cov, "zoo bert-tiny", g, 60);
    graph_free(g);
    for (uint64_t seed = 1; seed <= 8; seed++) {
        ZooOpts o = zoo_opts_default();
        o.seed = seed;
        g = zoo_build("random", &o, &e);
        assert_non_null(g);
        explore(&cov, "zoo random DAGs", g, 30);
        graph_free(g);
    }
    g = lowp_resnet8("quantize_conv_int8");
    explore(&cov, "resnet8, every conv int8", g, 20);
    graph_free(g);
    g = lowp_resnet8("bf16_compute");
    explore(&cov, "resnet8, every conv bf16", g, 20);
    graph_free(g);
    g = scalar_scaled();
    explore(&cov, "conv and dense scaled by scalars", g, 10);
    graph_free(g);
    g = keras_bert();
    explore(&cov, "Keras 3 BERT-style (Einsum)", g, 30);
    graph_free(g);
    g = frozen_bn_conv();
    explore(&cov, "conv with a frozen batch norm", g, 10);
    graph_free(g);
    g = unit_map_convs();
    explore(&cov, "3x3 conv on a 1x1 map", g, 10);
    graph_free(g);
    int missing = 0;
    for (int i = 0; i < cov.n_rules; i++) {
        if (!(cov.rules[i]->flags & RULE_EXACT)) continue;
        printf("[ coverage ] %-24s fired %3d times, first on %s\n", cov.rules[i]->name, cov.fired[i], cov.fired[i] ? cov.where[i] : "-");
        if (!cov.fired[i]) {
            print_error("exact rule %s never fired in the corpus: add a graph where it applies\n", cov.rules[i]->name);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

int main(void) {
    /* GRAPPO_TEST_FILTER=test_walk_selfie (a cmocka pattern, * allowed) runs only those tests */
    if (getenv("GRAPPO_TEST_FILTER")) cmocka_set_test_filter(getenv("GRAPPO_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grappler_blazeface), cmocka_unit_test(test_grappler_emotion), cmocka_unit_test(test_grappler_gender),
        cmocka_unit_test(test_grappler_handlandmark), cmocka_unit_test(test_grappler_selfie),
        cmocka_unit_test(test_walk_blazeface),        cmocka_unit_test(test_walk_emotion),    cmocka_unit_test(test_walk_gender),
        cmocka_unit_test(test_walk_handlandmark),     cmocka_unit_test(test_walk_selfie),
        cmocka_unit_test(test_every_exact_rule_fires),
    };
    return cmocka_run_group_tests_name("real_rewrites", tests, NULL, NULL);
}
