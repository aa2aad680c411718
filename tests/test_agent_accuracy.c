/* test_agent_accuracy.c - accuracy by precision assignment (objective_accuracy, objective.h):
 *   - the precision signature: 0 for an fp32 graph and for the same graph after exact rewrites,
 *     different for different sets of quantized nodes, the same for a copy;
 *   - through a cache, the first graph of an assignment is measured (its result equal to
 *     accuracy_measure's, the independent oracle), a graph with the same assignment reuses it
 *     (counted as a hit, the same result), another assignment is measured again;
 *   - without a cache nothing is counted and every call measures;
 *   - search_ppo with precision rules opens a cache for its run, shares it between rollouts and
 *     whole-graph evaluations (some answers reused), and leaves the caller's context without one. */
#include "testrules.h"

#include "measure/cost.h"
#include "rewrite/calibrate.h"
#include "rewrite/pipeline.h"
#include "runtime/dnn_common.h"
#include "search/agent.h"
#include "zoo/zoo.h"

static const RuleDef *quant_rule(void) { return rule_by_name(dnn_cpu_has_vnni() ? "quantize_conv_int8" : "quantize_conv_int7"); }

/* g with the k-th site of the conv quantization rule quantized */
static Graph *quantized(const Graph *g, int k) {
    Err e = {0};
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    SiteList sl = {0};
    CHECK_OK(rule_sites(quant_rule(), c, &sl, &e), &e);
    assert_true(sl.n > k);
    CHECK_OK(rule_apply(quant_rule(), c, &sl.v[k], &e), &e);
    sitelist_free(&sl);
    return c;
}

/* ResNet-8 with calibration ranges (the int8 rules need them) */
static Graph *calibrated_resnet8(void) {
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    RefFeed **b;
    int nf;
    CHECK_OK(calib_batches_generate(g, 2, &b, &nf, &e), &e);
    assert_true(calibrate_graph(g, (const RefFeed *const *)b, 2, nf, CALIB_PERCENTILE, &e) > 0);
    calib_batches_free(b, 2, nf);
    return g;
}

static void same_accuracy(const AccuracyResult *a, const AccuracyResult *b) {
    assert_true(a->top1_agreement == b->top1_agreement);
    assert_true(a->min_cosine == b->min_cosine);
    assert_true(a->max_rel_l2 == b->max_rel_l2);
}

static void test_signature_and_cache(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = calibrated_resnet8();
    Graph *fused = graph_clone(g, &e);
    assert_non_null(fused);
    CHECK_OK(pipeline_run("grappler", fused, 0, NULL, &e), &e);
    assert_true(fused->n_nodes < g->n_nodes);
    assert_true(objective_precision_signature(g) == 0);
    assert_true(objective_precision_signature(fused) == 0); /* exact rewrites: no precision choice */
    Graph *q0 = quantized(fused, 0), *q0b = quantized(fused, 0), *q1 = quantized(fused, 1);
    Graph *q01 = quantized(q0, 0); /* site 0 of what is left: a second node */
    uint64_t s0 = objective_precision_signature(q0);
    assert_true(s0 != 0);
    assert_true(objective_precision_signature(q0b) == s0);
    assert_true(objective_precision_signature(q1) != s0);
    assert_true(objective_precision_signature(q01) != s0 && objective_precision_signature(q01) != objective_precision_signature(q1));

    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    EvalContext ctx = {.original = g, .inputs = &in, .threads = 1};
    AccuracyResult a, b, oracle;
    /* no cache: measured, nothing counted */
    CHECK_OK(objective_accuracy(&ctx, q0, &a, &e), &e);
    CHECK_OK(accuracy_measure(g, q0, &in, 1, &oracle, &e), &e);
    same_accuracy(&a, &oracle);
    assert_int_equal(ctx.times.accuracy_runs + ctx.times.accuracy_hits, 0);
    assert_false(objective_accuracy_known(&ctx, q0));

    ctx.acc_cache = objective_accuracy_cache_new();
    assert_non_null(ctx.acc_cache);
    CHECK_OK(objective_accuracy(&ctx, q0, &a, &e), &e);
    same_accuracy(&a, &oracle);
    assert_int_equal(ctx.times.accuracy_runs, 1);
    assert_true(objective_accuracy_known(&ctx, q0b));
    CHECK_OK(objective_accuracy(&ctx, q0b, &b, &e), &e); /* the same assignment: reused */
    same_accuracy(&b, &oracle);
    assert_int_equal(ctx.times.accuracy_runs, 1);
    assert_int_equal(ctx.times.accuracy_hits, 1);
    assert_false(objective_accuracy_known(&ctx, q01));
    CHECK_OK(objective_accuracy(&ctx, q01, &a, &e), &e); /* another assignment: measured */
    CHECK_OK(accuracy_measure(g, q01, &in, 1, &oracle, &e), &e);
    same_accuracy(&a, &oracle);
    assert_int_equal(ctx.times.accuracy_runs, 2);
    /* the fp32 graph and its exact rewrite share the empty assignment */
    CHECK_OK(objective_accuracy(&ctx, g, &a, &e), &e);
    CHECK_OK(objective_accuracy(&ctx, fused, &b, &e), &e);
    assert_int_equal(ctx.times.accuracy_runs, 3);
    assert_int_equal(ctx.times.accuracy_hits, 2);
    assert_true(a.min_cosine > 0.99999);
    objective_accuracy_cache_free(ctx.acc_cache);
    inputs_free(&in);
    graph_free(q0);
    graph_free(q0b);
    graph_free(q1);
    graph_free(q01);
    graph_free(fused);
    graph_free(g);
}

static void test_search_shares_cache(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = calibrated_resnet8();
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    Policy *p = env_policy_new(NULL, 3, &e);
    assert_non_null(p);
    EvalContext ctx = {.original = g, .inputs = &in, .budget = {0.99, 0.99}, .w = (ObjectiveWeights){0, 1, 10}, .repeats = 3,
                       .threads = 1};
    SearchOpts o = {.budget = 4, .allow_precision = true, .seed = 5};
    AgentOpts ao = agent_opts_default();
    ao.episodes = 4;
    Graph *best = NULL;
    Evaluation ev;
    RewriteLog log = {0};
    AgentStats st;
    CHECK_OK(search_ppo(&ctx, g, &o, p, cm, &ao, &best, &ev, &log, &st, &e), &e);
    printf("[ acc      ] ppo: %d accuracy runs, %d reused, %d evaluations\n", ctx.times.accuracy_runs, ctx.times.accuracy_hits,
           ctx.evaluations);
    assert_null(ctx.acc_cache); /* the search's own, freed */
    assert_true(ctx.times.accuracy_runs >= 1);
    /* every whole-graph evaluation asks for an accuracy: the start graph's (empty assignment)
       at least is answered again when an exact candidate is evaluated, or the rollouts charged
       a candidate's before it was measured */
    assert_true(ctx.times.accuracy_runs + ctx.times.accuracy_hits >= ctx.evaluations);
    graph_free(best);
    policy_free(p);
    cost_close(cm);
    inputs_free(&in);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_and_cache),
        cmocka_unit_test(test_search_shares_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
