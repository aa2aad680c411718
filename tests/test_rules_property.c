/* test_rules_property.c - random sequences of exact rules on random DAGs and zoo models: after
 * every rewrite the graph must still compute the original function (reference runtime) on a
 * signed image-like input (testreal.h: values in [-1, 1], not only [0, 1)), the fast runtime
 * must agree, and the rewritten graph must survive a GraphDef round trip.
 * GRAPPO_PROPERTY_DEPTH=N (or SxT) runs N (S) times the seeds and N (T) times the steps. The
 * real fixtures get the same walk in test_real_rewrites.c. */
#include "testreal.h"

#include "io/graphdef.h"
#include "rewrite/pipeline.h"
#include "util/rng.h"
#include "zoo/zoo.h"

/* all sites of every exact rule, as (rule, site) pairs */
typedef struct Choice { const RuleDef *r; Site s; } Choice;

static int all_exact_sites(const Graph *g, Choice *out, int cap) {
    Err e = {0};
    int n_rules, n = 0;
    const RuleDef *const *rules = rules_all(&n_rules);
    SiteList sl = {0};
    for (int i = 0; i < n_rules; i++) {
        if (!(rules[i]->flags & RULE_EXACT)) continue;
        CHECK_OK(rule_sites(rules[i], g, &sl, &e), &e);
        for (int k = 0; k < sl.n && n < cap; k++) out[n++] = (Choice){rules[i], sl.v[k]};
    }
    sitelist_free(&sl);
    return n;
}

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
        int n = all_exact_sites(g, choices, 4096);
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

/* --target tf: every rule flagged RULE_TF, applied everywhere it applies (also after
   calibration, so precision rules that claim RULE_TF get their chance), leaves only stock
   TensorFlow ops: the TF names of ops.def other than grappo's own */
static bool stock_tf_op(const char *op) {
    if (!strncmp(op, "Grappo", 6)) return false;
    if (op_lookup(op) != OP_UNKNOWN) return true;
    return false;
}

static void test_target_tf_emits_stock_ops(void **state) {
    (void)state;
    int n_rules;
    const RuleDef *const *rules = rules_all(&n_rules);
    const char *names[64];
    int n = 0;
    for (int i = 0; i < n_rules && n < 64; i++)
        if ((rules[i]->flags & RULE_TF) && !(rules[i]->flags & RULE_PRECISION)) names[n++] = rules[i]->name;
    const char *models[] = {"resnet8", "mobilenet_v2", "bert-tiny", "random"};
    for (int m = 0; m < 4; m++) {
        Err e = {0};
        ZooOpts o = zoo_opts_default();
        o.seq_len = 16;
        o.image_size = m == 1 ? 128 : 0; /* 128 px: see test_plan.c on mobilenet at 64 px */
        Graph *g = zoo_build(models[m], &o, &e);
        assert_non_null(g);
        CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
        Graph *orig = graph_clone(g, &e);
        RewriteLog log = {0};
        CHECK_OK(pipeline_fixed_point(names, n, g, RULE_TF, 8, &log, &e), &e);
        for (int i = 0; i < g->n_nodes; i++)
            if (!stock_tf_op(g->nodes[i]->op_name)) {
                print_error("%s: --target tf left op %s (node %s)\n", models[m], g->nodes[i]->op_name, g->nodes[i]->name);
                fail();
            }
        printf("[ target tf] %s: %d rewrites, %d -> %d nodes, only stock ops\n", models[m], log.total, orig->n_nodes, g->n_nodes);
        assert_true(log.total > 0);
        assert_true(tr_compare(orig, g, false, 2) <= 1e-4);
        graph_free(orig);
        graph_free(g);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_dags),
        cmocka_unit_test(test_zoo_models),
        cmocka_unit_test(test_target_tf_emits_stock_ops),
    };
    return cmocka_run_group_tests_name("rules_property", tests, NULL, NULL);
}
