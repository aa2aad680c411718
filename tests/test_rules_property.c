/* test_rules_property.c - random sequences of exact rules on random DAGs and zoo models: after
 * every rewrite the graph must still compute the original function (reference runtime) on a
 * signed image-like input (testreal.h: values in [-1, 1], not only [0, 1)), the fast runtime
 * must agree, and the rewritten graph must survive a GraphDef round trip.
 * GRAPPO_PROPERTY_DEPTH=N (or SxT) runs N (S) times the seeds and N (T) times the steps. The
 * real fixtures get the same walk in test_real_rewrites.c. */
#include "testreal.h"

#include "io/graphdef.h"
#include "util/rng.h"
#include "zoo/zoo.h"

static void roundtrip_same(const Graph *g) {
    Graph *r = tr_roundtrip(g);
    assert_true(tr_compare(g, r, false, 3) == 0);
    graph_free(r);
}

/* Applies up to `steps` random exact rewrites; returns how many were applied. */
static int random_walk(const char *what, Graph *orig, uint64_t seed, int steps) {
    Err e = {0};
    Graph *g = graph_clone(orig, &e);
    assert_non_null(g);
    Rng r;
    rng_seed(&r, seed);
    RefFeed feeds[TR_MAX];
    int nf = tr_signed_feeds(orig, seed, feeds);
    Tensor want[TR_MAX];
    assert_true(orig->n_outputs <= TR_MAX);
    tr_outputs(orig, false, feeds, nf, want);
    static Choice choices[4096];
    int applied = 0;
    for (int step = 0; step < steps; step++) {
        int n = exact_sites(g, choices, 4096);
        if (n == 0) break;
        Choice c = choices[rng_below(&r, (uint64_t)n)];
        CHECK_OK(rule_apply(c.r, g, &c.s, &e), &e);
        applied++;
        double ref_err = tr_err_against(want, g, false, feeds, nf), fast_err = tr_err_against(want, g, true, feeds, nf);
        if (!(ref_err <= 1e-4) || !(fast_err <= 1e-4)) {
            print_error("%s seed %llu step %d (%s): rel err ref %.3g fast %.3g\n", what, (unsigned long long)seed, step, c.r->name,
                        ref_err, fast_err);
            fail();
        }
    }
    roundtrip_same(g);
    for (int k = 0; k < orig->n_outputs; k++) tensor_release(&want[k]);
    tr_feeds_free(feeds, nf);
    graph_free(g);
    return applied;
}

static void test_random_dags(void **state) {
    (void)state;
    int n_rules, sm, tm;
    rules_all(&n_rules);
    tr_depth(&sm, &tm);
    int total = 0, seeds = 16 * sm;
    for (uint64_t seed = 1; seed <= (uint64_t)seeds; seed++) {
        Err e = {0};
        ZooOpts o = zoo_opts_default();
        o.seed = seed;
        Graph *g = zoo_build("random", &o, &e);
        assert_non_null(g);
        CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
        total += random_walk("random", g, seed, 12 * tm);
        graph_free(g);
    }
    printf("[ property ] %d rules registered; %d random rewrites on %d random DAGs (<= %d steps each), all exact\n", n_rules, total, seeds,
           12 * tm);
    assert_true(total > seeds); /* the DAGs are built to contain rewrite sites */
}

static void test_zoo_models(void **state) {
    (void)state;
    const char *models[] = {"resnet8", "bert-tiny"};
    for (int m = 0; m < 2; m++) {
        Err e = {0};
        ZooOpts o = zoo_opts_default();
        o.seq_len = 16;
        Graph *g = zoo_build(models[m], &o, &e);
        assert_non_null(g);
        CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
        int sm, tm;
        tr_depth(&sm, &tm);
        int n = 0;
        for (int k = 0; k < sm; k++) n += random_walk(models[m], g, 11 + (uint64_t)m + 100 * (uint64_t)k, 25 * tm);
        printf("[ property ] %s: %d random exact rewrites\n", models[m], n);
        assert_true(n >= 10);
        graph_free(g);
    }
}

/* --target tf (every RULE_TF rule leaves only what TensorFlow runs) is checked against a
   snapshot of TensorFlow's own registries in test_target_tf.c */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_dags),
        cmocka_unit_test(test_zoo_models),
    };
    return cmocka_run_group_tests_name("rules_property", tests, NULL, NULL);
}
