/* test_agent.c - optimizing one graph with a policy (search_ppo): the evaluation budget counts
 * whole-graph measurements exactly as greedy's does, the result is feasible and (exact rules)
 * computes the input's function, fine-tuning changes the policy, and the shipped policy file
 * matches this build's features and rules. */
#include "testrules.h"

#include "measure/cost.h"
#include "rewrite/calibrate.h"
#include "search/agent.h"
#include "zoo/zoo.h"

static Policy *fresh_policy(uint64_t seed) {
    Err e = {0};
    Policy *p = env_policy_new(NULL, seed, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    return p;
}

static void run_agent(bool exact_only, int tune) {
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    if (!exact_only) {
        RefFeed **b;
        int nf;
        CHECK_OK(calib_batches_generate(g, 2, &b, &nf, &e), &e);
        assert_true(calibrate_graph(g, (const RefFeed *const *)b, 2, nf, CALIB_PERCENTILE, &e) > 0);
        calib_batches_free(b, 2, nf);
    }
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    Policy *p = fresh_policy(3);
    uint64_t before = policy_fingerprint(p);
    /* memory-weighted: measured memory is deterministic, so which candidate is kept is too (with
       latency in the objective, a busy machine could keep none, and the test below would then
       compare the input with itself) */
    EvalContext ctx = {.original = g, .inputs = &in, .budget = {0.99, 0.99}, .w = (ObjectiveWeights){0, 1, 10}, .repeats = 3,
                       .threads = 1};
    SearchOpts o = {.budget = 4, .allow_precision = !exact_only, .seed = 5};
    AgentOpts ao = agent_opts_default();
    ao.episodes = 6;
    ao.tune_episodes = tune;
    ao.ppo.episodes = 8;
    Graph *best = NULL;
    Evaluation ev;
    RewriteLog log = {0};
    AgentStats st;
    CHECK_OK(search_ppo(&ctx, g, &o, p, cm, &ao, &best, &ev, &log, &st, &e), &e);
    printf("[ agent    ] %s%s: %d episodes, %d env steps, %d candidates, %d measured, %d rewrites kept, %d -> %d nodes\n",
           exact_only ? "exact" : "all rules", tune ? ", tuned" : "", st.episodes, st.env_steps, st.candidates, st.evaluated, log.total,
           g->n_nodes, best->n_nodes);
    assert_int_equal(st.episodes, 6);
    assert_true(st.env_steps > 0);
    assert_true(ctx.evaluations <= o.budget); /* the start graph's measurement included */
    assert_int_equal(st.evaluated, ctx.evaluations - 1);
    /* one per episode, the climb from Grappler's fixed point, and (precision rules on) the climb
       from the int8 pipeline's graph, the exact fallback and a whole-rule candidate per
       precision rule: agent.h */
    int n_rules, n_precision = 0;
    const RuleDef *const *all = rules_all(&n_rules);
    for (int i = 0; i < n_rules; i++) n_precision += !(all[i]->flags & RULE_EXACT);
    assert_true(st.candidates <= 6 + 1 + (exact_only ? 0 : 2 + n_precision));
    assert_true(ev.feasible);
    int kept = 0;
    for (int k = 0; k < log.n; k++) kept += log.v[k].count;
    assert_int_equal(kept, log.total);
    assert_true(log.total > 0); /* folding and fusing reduce memory: something must be kept */
    if (exact_only) {
        assert_true(best->n_nodes < g->n_nodes); /* folded and fused */
    } else {
        /* quantization adds Quantize nodes: what must shrink is the objective, memory */
        PlanOpts po = {.threads = 1};
        Plan *start = plan_compile(g, NULL, 0, &po, &e);
        CHECK_OK(start == NULL, &e);
        assert_true(ev.peak_bytes < (double)plan_peak_bytes(start));
        plan_free(start);
    }
    if (exact_only) assert_true(tr_compare(g, best, false, 2) <= 1e-4);
    else assert_true(tr_compare(g, best, false, 2) <= 0.1); /* measured feasible: cosine >= 0.99 */
    if (tune) assert_true(policy_fingerprint(p) != before);
    else assert_true(policy_fingerprint(p) == before);
    graph_free(best);
    policy_free(p);
    cost_close(cm);
    inputs_free(&in);
    graph_free(g);
}

static void test_agent_exact(void **s) { (void)s; run_agent(true, 0); }
static void test_agent_precision(void **s) { (void)s; run_agent(false, 0); }
static void test_agent_tuned(void **s) { (void)s; run_agent(true, 16); }

/* The shipped policy loads, has no trainer state, and was trained on this build's features (by
   version, numeric width and op names) and rule table (a rule renamed or features changed without retraining fails here). */
static void test_shipped_policy(void **s) {
    (void)s;
    Err e = {0};
    void *extra = NULL;
    size_t extra_len = 1;
    Policy *p = policy_load("policies/default.bin", &extra, &extra_len, &e);
    if (!p) { print_error("policies/default.bin: %s\n", e.msg); fail(); }
    assert_int_equal(extra_len, 0);
    const PolicyConfig *c = policy_config(p);
    assert_int_equal(c->features_version, FEATURES_VERSION);
    /* its one-hot columns are matched to this build's ops by name (ops appended to ops.def since
       it was trained get no column); every op it names must still exist */
    CHECK_OK(env_policy_check(p, &e), &e);
    int n_ops = 0;
    const char *const *ops = policy_op_layout(p, &n_ops);
    assert_non_null(ops);
    for (int k = 0; k < n_ops; k++)
        if (strcmp(ops[k], op_def(OP_UNKNOWN)->tf_name) && op_lookup(ops[k]) == OP_UNKNOWN) { print_error("op %s of the shipped policy is not in ops.def\n", ops[k]); fail(); }
    int n;
    const RuleDef *const *rules = rules_all(&n);
    /* every rule of the registry has an embedding: a rule added after the policy was trained
       is never offered to it (`make policy` retrains) */
    for (int i = 0; i < n; i++)
        if (policy_rule_index(p, rules[i]->name) < 0) {
            print_error("rule %s unknown to the shipped policy: retrain it (make policy)\n", rules[i]->name);
            fail();
        }
    /* and every rule the policy knows still exists (a renamed rule fails here) */
    for (int i = 0; i < c->n_rules; i++) {
        const char *name = policy_rule_name(p, i);
        if (!rule_by_name(name)) { print_error("the shipped policy's rule %s is not in the registry\n", name); fail(); }
    }
    free(extra);
    policy_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_exact),
        cmocka_unit_test(test_agent_precision),
        cmocka_unit_test(test_agent_tuned),
        cmocka_unit_test(test_shipped_policy),
    };
    return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
