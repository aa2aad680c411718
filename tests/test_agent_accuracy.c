/* test_agent_accuracy.c - accuracy by precision assignment (objective_accuracy, objective.h):
 *   - the precision signature: 0 for an fp32 graph and for the same graph after exact rewrites,
 *     different for different sets of quantized nodes, the same for a copy;
 *   - through a cache, the first graph of an assignment is measured (its result equal to
 *     accuracy_measure's, the independent oracle), a graph with the same assignment reuses it
 *     (counted as a hit, the same result), another assignment is measured again;
 *   - without a cache nothing is counted and every call measures;
 *   - search_ppo with precision rules opens a cache for its run, shares it between rollouts and
 *     whole-graph evaluations (some answers reused), and leaves the caller's context without one;
 *   - the lookahead memo (env_peek with EnvConfig.peek_memo): on ResNet-8 with precision rules,
 *     every action's estimate from the memo (a second peek, a hit) equals the estimate of an env
 *     without a memo (the rewrite applied and the cost model asked), field by field; and a
 *     search_ppo given a memo and start graphs (AgentStarts) filled by an identical run returns
 *     the same graph without building the start graphs again;
 *   - the user's labels in a search (EvalContext.label_drop): the callback gets the candidate's
 *     outputs (equal to a run of the candidate, the oracle), its drop is the accuracy's
 *     label_drop with the fidelity fields unchanged, a cached assignment does not call it again,
 *     the path without a cache agrees; a labelled result is judged on max_label_drop alone
 *     (a drop of exactly the budget passes; cosine floors do not apply) and J charges the drop,
 *     never below 0; greedy with precision rules and a cosine floor no int8 graph meets keeps an
 *     int8 convolution when the labels say top-1 held, and no precision change when they say it
 *     dropped (the memory objective; fake clock: the roofline estimate);
 *   - an env judging against the input (accuracy_ctx) charges a start graph that is already
 *     quantized (ppo's climb from the int8 pipeline's graph) its measured fidelity to the input
 *     (accuracy_measure, the oracle), while an fp32 start (an exact rewrite of the input) is
 *     free; in training (no accuracy_ctx) the episode's start is the reference, free. */
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

/* a copy of g through a pipeline */
static Graph *through(const Graph *g, const char *pipeline) {
    Err e = {0};
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    CHECK_OK(pipeline_run(pipeline, c, 0, NULL, &e), &e);
    return c;
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
    Graph *fused = through(g, "grappler");
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

/* what the search tests share: calibrated ResNet-8, 2 generated batches, the roofline cost
   model, an untrained policy */
typedef struct SearchRig { Graph *g; InputSet in; CostModel *cm; Policy *p; } SearchRig;

static void rig_open(SearchRig *r) {
    Err e = {0};
    r->g = calibrated_resnet8();
    CHECK_OK(inputs_generate(r->g, 2, 500, &r->in, &e), &e);
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    r->cm = cost_open(&co, &e);
    assert_non_null(r->cm);
    r->p = env_policy_new(NULL, 3, &e);
    assert_non_null(r->p);
}

/* search_ppo from the rig's graph (seed 5) with ctx, a budget of evaluations, precision rules
   or not and `episodes` rollouts; the best graph, its evaluation and log in *best, *ev, *log */
static void rig_search(SearchRig *r, EvalContext *ctx, int budget, bool precision, int episodes, Graph **best, Evaluation *ev,
                       RewriteLog *log, AgentStats *st) {
    Err e = {0};
    SearchOpts o = {.budget = budget, .allow_precision = precision, .seed = 5};
    AgentOpts ao = agent_opts_default();
    ao.episodes = episodes;
    *best = NULL;
    *log = (RewriteLog){0};
    CHECK_OK(search_ppo(ctx, r->g, &o, r->p, r->cm, &ao, best, ev, log, st, &e), &e);
}

static void rig_close(SearchRig *r) {
    policy_free(r->p);
    cost_close(r->cm);
    inputs_free(&r->in);
    graph_free(r->g);
}

static void test_search_shares_cache(void **state) {
    (void)state;
    SearchRig r;
    rig_open(&r);
    EvalContext ctx = {.original = r.g, .inputs = &r.in, .budget = {0.99, 0.99}, .w = (ObjectiveWeights){0, 1, 10}, .repeats = 3,
                       .threads = 1};
    Graph *best;
    Evaluation ev;
    RewriteLog log;
    AgentStats st;
    rig_search(&r, &ctx, 4, true, 4, &best, &ev, &log, &st);
    printf("[ acc      ] ppo: %d accuracy runs, %d reused, %d evaluations\n", ctx.times.accuracy_runs, ctx.times.accuracy_hits,
           ctx.evaluations);
    assert_null(ctx.acc_cache); /* the search's own, freed */
    assert_true(ctx.times.accuracy_runs >= 1);
    /* every whole-graph evaluation asks for an accuracy: the start graph's (empty assignment)
       at least is answered again when an exact candidate is evaluated, or the rollouts charged
       a candidate's before it was measured */
    assert_true(ctx.times.accuracy_runs + ctx.times.accuracy_hits >= ctx.evaluations);
    graph_free(best);
    rig_close(&r);
}

static void same_eval(const EnvEval *a, const EnvEval *b) {
    assert_true(a->latency_ms == b->latency_ms);
    assert_true(a->peak_bytes == b->peak_bytes);
    assert_true(a->objective == b->objective);
    assert_true(a->accuracy_drop == b->accuracy_drop);
    assert_int_equal(a->feasible, b->feasible);
    assert_int_equal(a->accuracy_pending, b->accuracy_pending);
}

static void test_peek_memo(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = calibrated_resnet8();
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    EnvConfig plain = env_config_default();
    plain.allow_precision = true;
    plain.lazy_accuracy = true;
    EnvConfig memo = plain;
    memo.peek_memo = env_peek_memo_new();
    assert_non_null(memo.peek_memo);
    Env *a = env_new(&plain, cm, NULL, &e), *b = env_new(&memo, cm, NULL, &e);
    assert_non_null(a);
    assert_non_null(b);
    ObjectiveWeights w = objective_default_weights();
    CHECK_OK(env_reset(a, g, w, &e), &e);
    CHECK_OK(env_reset(b, g, w, &e), &e);
    int steps = 0;
    for (; steps < 3; steps++) {
        int n = env_n_actions(a);
        assert_int_equal(n, env_n_actions(b));
        for (int i = 0; i < n; i++) {
            EnvEval x, y, z;
            CHECK_OK(env_peek(a, i, &x, &e), &e);
            CHECK_OK(env_peek(b, i, &y, &e), &e); /* computed and remembered */
            CHECK_OK(env_peek(b, i, &z, &e), &e); /* from the memo */
            same_eval(&x, &y);
            same_eval(&x, &z);
        }
        if (n < 2) break;
        double r;
        bool done;
        CHECK_OK(env_step(a, 0, &r, &done, &e), &e);
        CHECK_OK(env_step(b, 0, &r, &done, &e), &e);
    }
    long hits, lookups;
    env_peek_memo_stats(memo.peek_memo, &hits, &lookups);
    printf("[ memo     ] %d states: %ld of %ld peeks from the memo\n", steps, hits, lookups);
    assert_true(hits > 0 && 2 * hits <= lookups);
    env_free(a);
    env_free(b);
    env_peek_memo_free(memo.peek_memo);
    cost_close(cm);
    graph_free(g);
}

/* two identical ppo runs, the second on the memo and the start graphs the first built: the
   same graph, and the start graphs built once */
static void test_search_memo_same_result(void **state) {
    (void)state;
    SearchRig r;
    rig_open(&r);
    Graph *g = r.g;
    EnvPeekMemo *memo = env_peek_memo_new();
    AgentStarts *starts = agent_starts_new();
    assert_non_null(starts);
    Graph *best[2] = {NULL, NULL};
    RewriteLog log[2] = {{0}, {0}};
    for (int run = 0; run < 2; run++) {
        EvalContext ctx = {.original = g, .inputs = &r.in, .budget = {0.99, 0.99}, .w = (ObjectiveWeights){0, 1, 10}, .repeats = 3,
                           .threads = 1, .peek_memo = memo, .agent_starts = starts};
        Evaluation ev;
        AgentStats st;
        rig_search(&r, &ctx, 4, true, 3, &best[run], &ev, &log[run], &st);
        assert_true(ctx.peek_memo == memo); /* the caller's, not freed */
        assert_true(ctx.agent_starts == starts);
        assert_int_equal(agent_starts_builds(starts), 1); /* the second run reused the first's */
    }
    long hits, lookups;
    env_peek_memo_stats(memo, &hits, &lookups);
    printf("[ memo     ] two runs: %ld of %ld peeks from the memo; %d and %d rewrites kept\n", hits, lookups, log[0].total,
           log[1].total);
    assert_true(2 * hits >= lookups); /* the second run peeks only at states the first saw */
    assert_int_equal(log[0].total, log[1].total);
    assert_int_equal(best[0]->n_nodes, best[1]->n_nodes);
    for (int i = 0; i < best[0]->n_nodes; i++) {
        assert_string_equal(best[0]->nodes[i]->name, best[1]->nodes[i]->name);
        assert_string_equal(best[0]->nodes[i]->op_name, best[1]->nodes[i]->op_name);
    }
    graph_free(best[0]);
    graph_free(best[1]);
    env_peek_memo_free(memo);
    agent_starts_free(starts);
    rig_close(&r);
}

/* objective_evaluate_reuse: a graph measured alone is not measured again while ctx->measured
   holds it - no evaluation counted, the same timing and accuracy, J recomputed under the
   current weights; a graph of another structure, other repeats or other inputs is measured.
   In a search: the start graph of a second identical search is one of the reused. */
static void test_lone_measurements_reused(void **state) {
    (void)state;
    Err e = {0};
    SearchRig r;
    rig_open(&r);
    Graph *fused = through(r.g, "grappler");
    EvalContext ctx = {.original = r.g, .inputs = &r.in, .budget = {0.99, 0.99}, .w = (ObjectiveWeights){1, 0.1, 10}, .repeats = 3,
                       .threads = 1};
    ctx.measured = objective_measured_new();
    assert_non_null(ctx.measured);
    Evaluation a, b, c;
    CHECK_OK(objective_evaluate_reuse(&ctx, r.g, &a, &e), &e);
    assert_int_equal(ctx.evaluations, 1);
    ctx.w = (ObjectiveWeights){2, 0.1, 10};
    CHECK_OK(objective_evaluate_reuse(&ctx, r.g, &b, &e), &e);
    assert_int_equal(ctx.evaluations, 1);
    assert_int_equal(ctx.times.evaluations_reused, 1);
    assert_true(b.latency_ms == a.latency_ms && b.peak_bytes == a.peak_bytes);
    same_accuracy(&b.acc, &a.acc);
    /* J under the new weights: twice the latency term */
    assert_true(fabs((b.objective - a.objective) - log(a.latency_ms)) < 1e-9);
    /* another structure: measured */
    CHECK_OK(objective_evaluate_reuse(&ctx, fused, &c, &e), &e);
    assert_int_equal(ctx.evaluations, 2);
    /* the same graph with other repeats: measured */
    ctx.repeats = 4;
    CHECK_OK(objective_evaluate_reuse(&ctx, r.g, &c, &e), &e);
    assert_int_equal(ctx.evaluations, 3);
    assert_int_equal(ctx.times.evaluations_reused, 1);
    ctx.repeats = 3;
    /* a clone is the same structure */
    Graph *clone = graph_clone(fused, &e);
    assert_non_null(clone);
    CHECK_OK(objective_evaluate_reuse(&ctx, clone, &c, &e), &e);
    assert_int_equal(ctx.evaluations, 3);
    assert_int_equal(ctx.times.evaluations_reused, 2);
    objective_measured_free(ctx.measured);
    graph_free(clone);

    /* two searches sharing the measurements: the second reuses the start graph's */
    MeasuredGraphs *shared = objective_measured_new();
    assert_non_null(shared);
    int evals[2];
    for (int run = 0; run < 2; run++) {
        EvalContext sc = {.original = r.g, .inputs = &r.in, .budget = {0.99, 0.99}, .w = (ObjectiveWeights){1, 0.1, 10}, .repeats = 3,
                          .threads = 1, .measured = shared};
        Graph *best;
        Evaluation ev;
        RewriteLog log;
        AgentStats st;
        rig_search(&r, &sc, 2, false, 2, &best, &ev, &log, &st);
        assert_true(sc.measured == shared); /* the caller's, not freed */
        evals[run] = sc.evaluations;
        printf("[ measured ] search %d: %d evaluations, %d lone measurements reused, %d candidates compared\n", run + 1, sc.evaluations,
               sc.times.evaluations_reused, st.evaluated);
        if (run == 1) {
            assert_int_equal(sc.times.evaluations_reused, 1);
            /* the evaluation the start graph no longer takes went to a candidate */
            assert_true(st.evaluated >= 2 || st.candidates < 2);
        }
        graph_free(best);
    }
    assert_true(evals[0] <= 2 && evals[1] <= 2);
    objective_measured_free(shared);
    graph_free(fused);
    rig_close(&r);
}

/* EvalContext.label_drop for the tests: checks the outputs it is given against a run of g and
   answers the drop it was told */
typedef struct FakeLabels { double drop; int calls; const InputSet *in; } FakeLabels;

static int fake_label_drop(void *user, const Graph *g, const Tensor *outs, int n_batches, double *drop, Err *err) {
    FakeLabels *f = user;
    f->calls++;
    assert_int_equal(n_batches, f->in->n_batches);
    Tensor *mine = NULL;
    if (accuracy_reference(g, f->in, 1, &mine, err)) return -1;
    for (int i = 0; i < n_batches * g->n_outputs; i++) {
        assert_int_equal(outs[i].buf->nbytes, mine[i].buf->nbytes);
        assert_memory_equal(outs[i].buf->data, mine[i].buf->data, mine[i].buf->nbytes);
    }
    accuracy_reference_free(mine, n_batches, g->n_outputs);
    *drop = f->drop;
    return 0;
}

static void test_labelled_judgement(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = calibrated_resnet8();
    Graph *q = quantized(g, 0);
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    FakeLabels fl = {.drop = 0.004, .in = &in};
    EvalContext ctx = {.original = g, .inputs = &in, .threads = 1, .label_drop = fake_label_drop, .label_user = &fl,
                       .budget = {0.99, 1.1, 0.005}}; /* a cosine floor nothing meets */
    AccuracyResult a, b, oracle;
    CHECK_OK(accuracy_measure(g, q, &in, 1, &oracle, &e), &e);
    CHECK_OK(objective_accuracy(&ctx, q, &a, &e), &e); /* no cache */
    assert_true(a.labelled && a.label_drop == 0.004);
    same_accuracy(&a, &oracle);
    assert_int_equal(fl.calls, 1);
    ctx.acc_cache = objective_accuracy_cache_new();
    CHECK_OK(objective_accuracy(&ctx, q, &b, &e), &e);
    assert_true(b.labelled && b.label_drop == 0.004);
    same_accuracy(&b, &oracle);
    assert_int_equal(fl.calls, 2);
    fl.drop = 0.5; /* a hit does not ask the labels again */
    CHECK_OK(objective_accuracy(&ctx, q, &b, &e), &e);
    assert_true(b.labelled && b.label_drop == 0.004);
    assert_int_equal(fl.calls, 2);
    objective_accuracy_cache_free(ctx.acc_cache);

    /* judged on the labels alone */
    assert_true(accuracy_ok(&a, &ctx.budget));
    a.label_drop = 0.006;
    assert_false(accuracy_ok(&a, &ctx.budget));
    a.labelled = false;
    assert_false(accuracy_ok(&a, &ctx.budget)); /* the cosine floor again */
    assert_true(accuracy_label_kept(0.915, 0.910, 0.005));
    assert_true(accuracy_label_kept(0.8025, 0.7975, 0.005));
    assert_false(accuracy_label_kept(0.915, 0.9099, 0.005));
    AccuracyResult lab = {.labelled = true, .label_drop = -0.01, .top1_agreement = 0.5, .min_cosine = 0.5};
    assert_true(objective_accuracy_drop(&lab) == 0);
    lab.label_drop = 0.003;
    assert_true(objective_accuracy_drop(&lab) == 0.003);
    inputs_free(&in);
    graph_free(q);
    graph_free(g);
}

static double roofline_ms(const Graph *g, void *user) {
    CostEstimate est;
    Err e = {0};
    if (cost_estimate(user, g, &est, NULL, &e)) return NAN;
    return est.latency_ms;
}

/* greedy's result on ResNet-8 with precision rules under the labels' verdict `drop` */
static uint64_t greedy_signature(double drop) {
    Err e = {0};
    Graph *g = calibrated_resnet8();
    CHECK_OK(pipeline_run("grappler", g, 0, NULL, &e), &e); /* the exact rules spent: precision choices are left */
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *roof = cost_open(&co, &e);
    assert_non_null(roof);
    latency_set_fake_timer(roofline_ms, roof);
    FakeLabels fl = {.drop = drop, .in = &in};
    /* the memory objective: a quantized convolution is smaller whatever its speed */
    EvalContext ctx = {.original = g, .inputs = &in, .threads = 1, .repeats = 3, .w = (ObjectiveWeights){0, 1, 10},
                       .label_drop = fake_label_drop, .label_user = &fl, .budget = {0.99, 1.1, 0.005}};
    ctx.acc_cache = objective_accuracy_cache_new();
    SearchOpts o = {.budget = 12, .allow_precision = true, .seed = 3};
    Graph *best = NULL;
    Evaluation ev;
    RewriteLog log = {0};
    CHECK_OK(search_greedy(&ctx, g, &o, &best, &ev, &log, &e), &e);
    latency_set_fake_timer(NULL, NULL);
    assert_true(fl.calls >= 1);
    uint64_t sig = objective_precision_signature(best);
    printf("[ labels   ] drop %.3f: greedy kept %d rewrites, precision signature %s\n", drop, log.total, sig ? "set" : "0");
    objective_accuracy_cache_free(ctx.acc_cache);
    graph_free(best);
    cost_close(roof);
    inputs_free(&in);
    graph_free(g);
    return sig;
}

static void test_search_judged_on_labels(void **state) {
    (void)state;
    assert_true(greedy_signature(0.0) != 0);  /* top-1 held on the labels: int8 kept */
    assert_true(greedy_signature(0.01) == 0); /* dropped a point: exact rewrites only */
}

static void test_quantized_start_charged(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = calibrated_resnet8();
    Graph *fused = through(g, "grappler");
    Graph *q = through(g, pipeline_int8_name(dnn_cpu_has_vnni()));
    assert_true(objective_precision_signature(q) != 0);
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 500, &in, &e), &e);
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    EvalContext ctx = {.original = g, .inputs = &in, .threads = 1, .budget = {0.99, 0.99, 0.005}};
    ctx.acc_cache = objective_accuracy_cache_new();
    EnvConfig c = env_config_default();
    c.allow_precision = true;
    c.accuracy_ctx = &ctx;
    c.acc_batches = in.n_batches;
    Env *env = env_new(&c, cm, NULL, &e);
    assert_non_null(env);
    AccuracyResult oracle;
    CHECK_OK(accuracy_measure(g, q, &in, 1, &oracle, &e), &e);
    assert_true(oracle.min_cosine < 1.0);
    CHECK_OK(env_reset(env, q, objective_default_weights(), &e), &e);
    const EnvEval *ev = env_start_eval(env);
    assert_false(ev->accuracy_pending);
    same_accuracy(&ev->acc, &oracle);
    assert_int_equal(ctx.times.accuracy_runs, 1);
    CHECK_OK(env_reset(env, fused, objective_default_weights(), &e), &e); /* exact: free */
    assert_true(env_start_eval(env)->acc.min_cosine == 1 && env_start_eval(env)->accuracy_drop == 0);
    assert_int_equal(ctx.times.accuracy_runs, 1);
    env_free(env);
    c.accuracy_ctx = NULL; /* training: the episode's start is the reference */
    assert_non_null(env = env_new(&c, cm, NULL, &e));
    CHECK_OK(env_reset(env, q, objective_default_weights(), &e), &e);
    assert_true(env_start_eval(env)->acc.min_cosine == 1 && env_start_eval(env)->accuracy_drop == 0);
    env_free(env);
    objective_accuracy_cache_free(ctx.acc_cache);
    cost_close(cm);
    inputs_free(&in);
    graph_free(q);
    graph_free(fused);
    graph_free(g);
}

/* int8 outside the accuracy budget (a cosine no int8 graph reaches): no whole-rule candidate
   and no int8 climb, and no candidate refused on accuracy is timed, so ppo+bo's smallest
   per-trial budget (the start and one candidate) goes to an exact candidate - before, the
   whole-rule candidates built on the refused int8 graph were measured first and took it, and
   the search returned its start */
static void test_refused_int8_spends_no_evaluation(void **state) {
    (void)state;
    Err e = {0};
    SearchRig r;
    rig_open(&r);
    Graph *g = r.g;
    /* the int8 graph's own fidelity, to set the budget just above it */
    Graph *q = graph_clone(g, &e);
    RewriteLog ql = {0};
    CHECK_OK(pipeline_run(pipeline_int8_name(dnn_cpu_has_vnni()), q, 0, &ql, &e), &e);
    AccuracyResult qa;
    CHECK_OK(accuracy_measure(g, q, &r.in, 1, &qa, &e), &e);
    assert_true(qa.min_cosine < 0.99999);
    EvalContext ctx = {.original = g, .inputs = &r.in, .budget = {0.99, 0.99999}, .w = objective_default_weights(), .repeats = 3,
                       .threads = 1};
    Graph *best;
    RewriteLog log;
    Evaluation ev;
    AgentStats st;
    rig_search(&r, &ctx, 2, true, 1, &best, &ev, &log, &st);
    print_message("int8 cosine %.6f: %d candidates, %d measured, %d refused on accuracy, %d rewrites kept\n", qa.min_cosine,
                  st.candidates, st.evaluated, st.refused, log.total);
    assert_true(st.evaluated >= 1); /* a candidate was timed: the budget was not spent on refused ones */
    assert_true(log.total > 0);     /* and the exact one it measured was kept */
    for (int k = 0; k < log.n; k++) assert_false(rule_by_name(log.v[k].rule)->flags & RULE_PRECISION);
    assert_true(ev.feasible);
    graph_free(best);
    graph_free(q);
    rig_close(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_and_cache),
        cmocka_unit_test(test_search_shares_cache),
        cmocka_unit_test(test_peek_memo),
        cmocka_unit_test(test_search_memo_same_result),
        cmocka_unit_test(test_lone_measurements_reused),
        cmocka_unit_test(test_labelled_judgement),
        cmocka_unit_test(test_search_judged_on_labels),
        cmocka_unit_test(test_quantized_start_charged),
        cmocka_unit_test(test_refused_int8_spends_no_evaluation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
