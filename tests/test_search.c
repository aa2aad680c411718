/* test_search.c - greedy and random search: budgets respected, results feasible and (exact
 * rules only) computing the original function, fewer nodes than the start; forbidden rule
 * flags respected. */
#include "testrules.h"

#include "search/baselines.h"
#include "zoo/zoo.h"

static void run_search(bool greedy) {
    Err e = {0};
    Graph *g = zoo_build("resnet8", NULL, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    /* greedy minimizes memory here: plan memory is deterministic, so each step's decision is
       too (latency steps on an 0.5 ms model are within the machine's noise) */
    EvalContext ctx = {.original = g, .inputs = &in, .budget = {0.99, 0.99},
                       .w = greedy ? (ObjectiveWeights){0, 1, 10} : objective_default_weights(), .repeats = 3, .threads = 1};
    SearchOpts o = {.budget = greedy ? 30 : 8, .seed = 3};
    Graph *best = NULL;
    Evaluation ev;
    RewriteLog log = {0};
    CHECK_OK(greedy ? search_greedy(&ctx, g, &o, &best, &ev, &log, &e) : search_random(&ctx, g, &o, &best, &ev, &log, &e), &e);
    printf("[ search   ] %s: %d evaluations, %d rewrites kept, %d -> %d nodes, %.3f ms\n", greedy ? "greedy" : "random",
           ctx.evaluations, log.total, g->n_nodes, best->n_nodes, ev.latency_ms);
    assert_true(ctx.evaluations <= o.budget + 1); /* +1: the start graph */
    assert_true(ev.feasible);
    assert_true(tr_compare(g, best, false, 4) <= 1e-4);
    assert_true(tr_compare(g, best, true, 4) <= 1e-4);
    int nodes = 0;
    for (int k = 0; k < log.n; k++) nodes += log.v[k].count;
    assert_int_equal(nodes, log.total);
    if (greedy) {
        /* folding batch norms and fusing remove parameters and activations: memory must drop */
        Evaluation start;
        CHECK_OK(objective_evaluate(&ctx, g, &start, &e), &e);
        assert_true(log.total > 0);
        assert_true(ev.peak_bytes < start.peak_bytes);
    }
    if (log.total > 0) assert_true(best->n_nodes < g->n_nodes);
    graph_free(best);
    inputs_free(&in);
    graph_free(g);
}

static void test_greedy(void **s) { (void)s; run_search(true); }
static void test_random(void **s) { (void)s; run_search(false); }

/* forbidden_flags keeps rules out even where they are allowed: with precision allowed on a
   calibrated graph but RULE_PRECISION forbidden (as RULE_BF16 is on CPUs without bf16), random
   search applies only exact rules, so the result computes the original function */
static void test_forbidden_flags(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    EvalContext ctx = {.original = g, .inputs = &in, .budget = {0.5, 0.5}, .w = objective_default_weights(), .repeats = 3, .threads = 1};
    SearchOpts o = {.budget = 6, .seed = 11, .allow_precision = true, .forbidden_flags = RULE_PRECISION};
    Graph *best = NULL;
    Evaluation ev;
    RewriteLog log = {0};
    CHECK_OK(search_random(&ctx, g, &o, &best, &ev, &log, &e), &e);
    for (int k = 0; k < log.n; k++) assert_false(rule_by_name(log.v[k].rule)->flags & RULE_PRECISION);
    assert_true(tr_compare(g, best, false, 2) <= 1e-4);
    assert_true(rule_by_name("bf16_compute")->flags & RULE_BF16);
    graph_free(best);
    inputs_free(&in);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_greedy), cmocka_unit_test(test_random),
                                        cmocka_unit_test(test_forbidden_flags)};
    return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
