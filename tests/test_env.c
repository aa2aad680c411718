/* test_env.c - the optimization MDP: legal actions and masks, rewards that telescope to the
 * objective gained, accuracy charged by measurement and cached, features and step limits. */
#include "testrules.h"

#include "measure/cost.h"
#include "rewrite/calibrate.h"
#include "search/env.h"
#include "zoo/zoo.h"

static CostModel *roofline(void) {
    Err e = {0};
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    if (!cm) { print_error("%s\n", e.msg); fail(); }
    return cm;
}

static Graph *calibrated(const char *name, int image, int seq) {
    Err e = {0};
    Graph *g = tr_zoo(name, image, seq, 0, true);
    RefFeed **b;
    int nf;
    CHECK_OK(calib_batches_generate(g, 2, &b, &nf, &e), &e);
    assert_true(calibrate_graph(g, (const RefFeed *const *)b, 2, nf, CALIB_PERCENTILE, &e) > 0);
    calib_batches_free(b, 2, nf);
    return g;
}

static int find_action(Env *env, const char *rule) {
    for (int i = 0; i < env_n_actions(env); i++)
        if (!strcmp(env_action_name(env, i), rule)) return i;
    return -1;
}

/* Every offered action is legal and allowed, STOP is last, and the observation is consistent. */
static void test_actions_and_masks(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = calibrated("resnet8", 32, 0);
    CostModel *cm = roofline();
    for (int mode = 0; mode < 3; mode++) {
        EnvConfig cfg = env_config_default();
        cfg.allow_precision = mode == 0;
        cfg.required_flags = mode == 2 ? RULE_TF : 0;
        Env *env = env_new(&cfg, cm, NULL, &e);
        assert_non_null(env);
        CHECK_OK(env_reset(env, g, objective_default_weights(), &e), &e);
        const PolicyObs *o = env_observe(env);
        int n = env_n_actions(env), precision = 0;
        assert_int_equal(o->n_actions, n);
        assert_true(n > 5);
        assert_true(env_action_is_stop(env, n - 1));
        assert_string_equal(env_action_name(env, n - 1), "STOP");
        for (int i = 0; i < n - 1; i++) {
            const RuleDef *r = rule_by_name(env_action_name(env, i));
            assert_non_null(r);
            if (mode == 2) assert_true(r->flags & RULE_TF);
            precision += (r->flags & RULE_PRECISION) != 0;
            for (int k = 0; k < o->actions[i].n; k++) assert_true(o->actions[i].nodes[k] >= 0 && o->actions[i].nodes[k] < o->n_nodes);
        }
        if (mode == 0) assert_true(precision > 0);
        else assert_int_equal(precision, 0);
        /* features: one row per non-Const node, the op's one-hot set */
        int non_const = 0;
        for (int i = 0; i < g->n_nodes; i++) non_const += g->nodes[i]->op != OP_CONST && g->nodes[i]->op != OP_NO_OP;
        assert_int_equal(o->n_nodes, non_const);
        float sum_w = o->w[0] + o->w[1] + o->w[2];
        assert_true(fabsf(sum_w - 1) < 1e-6f);
        for (int r = 0; r < o->n_nodes; r++) {
            float hot = 0;
            for (int k = 0; k < OP_COUNT; k++) hot += o->x[(size_t)r * (size_t)features_dim() + (size_t)k];
            assert_true(hot == 1);
        }
        for (int k = 0; k < o->n_edges; k++) assert_true(o->edge_src[k] != o->edge_dst[k]);
        env_free(env);
    }
    cost_close(cm);
    graph_free(g);
}

/* Rewards telescope: the sum over an episode is J(start) - J(end), and with latency alone
   weighted each reward is -ln(lat'/lat) of the cost model's estimates. */
static void test_rewards_telescope(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.allow_precision = false;
    cfg.max_steps = 6;
    Env *env = env_new(&cfg, cm, NULL, &e);
    CHECK_OK(env_reset(env, g, (ObjectiveWeights){2, 0, 0}, &e), &e);
    double j0 = env_start_eval(env)->objective, sum = 0;
    assert_true(fabs(j0 - log(env_start_eval(env)->latency_ms)) < 1e-12);
    bool done = false;
    int steps = 0;
    while (!done) {
        double lat = env_eval(env)->latency_ms, r;
        CHECK_OK(env_step(env, 0, &r, &done, &e), &e); /* the first action: never STOP here */
        assert_true(fabs(r - (log(lat) - log(env_eval(env)->latency_ms))) < 1e-9);
        sum += r;
        steps++;
    }
    assert_int_equal(steps, 6); /* the step limit ends the episode */
    assert_int_equal(env_steps(env), 6);
    assert_true(fabs(sum - (j0 - env_eval(env)->objective)) < 1e-9);
    /* the rewritten graph computes the same function */
    assert_true(tr_compare(g, env_graph(env), false, 2) <= 1e-4);
    /* STOP ends an episode with reward 0; a bad index is an error */
    CHECK_OK(env_reset(env, g, (ObjectiveWeights){1, 0, 0}, &e), &e);
    double r = 1;
    assert_int_equal(env_step(env, env_n_actions(env), &r, &done, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    CHECK_OK(env_step(env, env_n_actions(env) - 1, &r, &done, &e), &e);
    assert_true(done && r == 0);
    env_free(env);
    cost_close(cm);
    graph_free(g);
}

/* Fusing conv + bias + relu removes kernels: under the roofline model (fixed overhead per
   kernel, bytes of the intermediate tensors) the latency estimate must fall. */
static void test_fusion_rewarded(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.allow_precision = false;
    Env *env = env_new(&cfg, cm, NULL, &e);
    CHECK_OK(env_reset(env, g, (ObjectiveWeights){1, 0, 0}, &e), &e);
    int a = find_action(env, "fold_batchnorm");
    assert_true(a >= 0);
    double r;
    bool done;
    CHECK_OK(env_step(env, a, &r, &done, &e), &e);
    assert_true(r > 0);
    env_free(env);
    cost_close(cm);
    graph_free(g);
}

/* A precision rewrite is charged by a real accuracy measurement, cached per set of choices:
   the same choice in a later episode on the same start graph is not measured again. */
static void test_accuracy_in_the_loop(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = calibrated("resnet8", 32, 0);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.threads = 1;
    Env *env = env_new(&cfg, cm, NULL, &e);
    int measured, cached;
    for (int episode = 0; episode < 2; episode++) {
        CHECK_OK(env_reset(env, g, objective_default_weights(), &e), &e);
        int a = -1;
        for (int i = 0; i < env_n_actions(env) && a < 0; i++) {
            const RuleDef *r = rule_by_name(env_action_name(env, i));
            if (r && (r->flags & RULE_PRECISION)) a = i;
        }
        assert_true(a >= 0);
        double r;
        bool done;
        CHECK_OK(env_step(env, a, &r, &done, &e), &e);
        const EnvEval *ev = env_eval(env);
        /* a measured result: one quantized layer changes the outputs a little, not a lot */
        assert_true(ev->acc.min_cosine < 1.0 && ev->acc.min_cosine > 0.9);
        assert_true(ev->acc.max_abs_err > 0);
        env_acc_stats(env, &measured, &cached);
        assert_int_equal(measured, 1);
        assert_int_equal(cached, episode);
    }
    env_free(env);
    cost_close(cm);
    graph_free(g);
}

/* Deferred accuracy (training): the precision state is pending on the way, and STOP charges the
   measured accuracy, so the episode's return is still J(start) - J(end) with the real J(end). */
static void test_accuracy_deferred(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = calibrated("resnet8", 32, 0);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.threads = 1;
    cfg.acc_every_step = false;
    Env *env = env_new(&cfg, cm, NULL, &e);
    CHECK_OK(env_reset(env, g, (ObjectiveWeights){0, 0, 1}, &e), &e);
    double j0 = env_start_eval(env)->objective, r1, r2;
    int a = -1;
    for (int i = 0; i < env_n_actions(env) && a < 0; i++) {
        const RuleDef *r = rule_by_name(env_action_name(env, i));
        if (r && (r->flags & RULE_PRECISION)) a = i;
    }
    bool done;
    CHECK_OK(env_step(env, a, &r1, &done, &e), &e);
    assert_false(done);
    assert_true(env_eval(env)->accuracy_pending);
    assert_true(r1 == 0); /* accuracy weight only, nothing charged yet */
    int measured, cached;
    env_acc_stats(env, &measured, &cached);
    assert_int_equal(measured, 0);
    CHECK_OK(env_step(env, env_n_actions(env) - 1, &r2, &done, &e), &e);
    assert_true(done);
    env_acc_stats(env, &measured, &cached);
    assert_int_equal(measured, 1);
    const EnvEval *ev = env_eval(env);
    assert_false(ev->accuracy_pending);
    assert_true(ev->acc.min_cosine < 1 && ev->acc.max_abs_err > 0); /* measured now */
    assert_true(r2 <= 0 && fabs(r2 + ev->accuracy_drop + (ev->feasible ? 0 : cfg.infeasible_penalty)) < 1e-12);
    assert_true(fabs(r1 + r2 - (j0 - ev->objective)) < 1e-12);
    env_free(env);
    cost_close(cm);
    graph_free(g);
}

/* Same start, same weights, same actions: the same rewards (roofline is deterministic). */
static void test_deterministic(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = tr_zoo("random", 0, 0, 5, true);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.allow_precision = false;
    double rewards[2][8];
    for (int run = 0; run < 2; run++) {
        Env *env = env_new(&cfg, cm, NULL, &e);
        CHECK_OK(env_reset(env, g, (ObjectiveWeights){1, 1, 1}, &e), &e);
        bool done = false;
        for (int k = 0; k < 8; k++) {
            rewards[run][k] = 0;
            if (done) continue;
            int n = env_n_actions(env);
            CHECK_OK(env_step(env, (k * 7) % n, &rewards[run][k], &done, &e), &e);
        }
        env_free(env);
    }
    for (int k = 0; k < 8; k++) assert_true(rewards[0][k] == rewards[1][k]);
    cost_close(cm);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actions_and_masks), cmocka_unit_test(test_rewards_telescope),
        cmocka_unit_test(test_fusion_rewarded), cmocka_unit_test(test_accuracy_in_the_loop),
        cmocka_unit_test(test_accuracy_deferred), cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests_name("env", tests, NULL, NULL);
}
