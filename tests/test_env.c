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
            for (int k = 0; k < features_op_dim(); k++) hot += o->x[(size_t)r * (size_t)features_dim() + (size_t)k];
            assert_true(hot == 1);
        }
        for (int k = 0; k < o->n_edges; k++) assert_true(o->edge_src[k] != o->edge_dst[k]);
        /* log priors: each rule's sites share probability 1 between them (exp sums to 1) */
        for (int i = 0; i < n; i++) {
            double mass = 0;
            for (int k = 0; k < n; k++) if (o->actions[k].rule == o->actions[i].rule) mass += exp(o->actions[k].log_prior);
            assert_true(fabs(mass - 1) < 1e-5);
        }
        env_free(env);
    }
    cost_close(cm);
    graph_free(g);
}

/* Rewards are improvements of the best objective so far: each is max(0, best - J'), never
   negative, and they sum to J(start) - min J over the episode. */
static void test_rewards_best_so_far(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = tr_zoo("resnet8", 32, 0, 0, true);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.allow_precision = false;
    cfg.max_steps = 12;
    Env *env = env_new(&cfg, cm, NULL, &e);
    CHECK_OK(env_reset(env, g, (ObjectiveWeights){2, 0, 0}, &e), &e);
    double j0 = env_start_eval(env)->objective, sum = 0, best = j0;
    assert_true(fabs(j0 - log(env_start_eval(env)->latency_ms)) < 1e-12);
    assert_true(env_best_objective(env) == j0);
    bool done = false;
    int steps = 0, positive = 0;
    while (!done) {
        double r;
        /* alternate the first and the last rewrite offered: some help, some do not */
        int n = env_n_actions(env);
        CHECK_OK(env_step(env, steps % 2 ? n - 2 : 0, &r, &done, &e), &e);
        double j = env_eval(env)->objective;
        assert_true(fabs(r - (best > j ? best - j : 0)) < 1e-12);
        if (j < best) best = j;
        assert_true(env_best_objective(env) == best);
        positive += r > 0;
        sum += r;
        steps++;
    }
    assert_int_equal(steps, 12); /* the step limit ends the episode */
    assert_int_equal(env_steps(env), 12);
    assert_true(positive > 0);
    assert_true(fabs(sum - (j0 - best)) < 1e-12);
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

/* A precision rewrite that could improve the best objective is charged by a real accuracy
   measurement, cached per set of choices: the same choice in a later episode on the same start
   graph is not measured again. */
static void test_accuracy_in_the_loop(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = calibrated("resnet8", 32, 0);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.threads = 1;
    Env *env = env_new(&cfg, cm, NULL, &e);
    ObjectiveWeights w = objective_default_weights();
    CHECK_OK(env_reset(env, g, w, &e), &e);
    int n = env_n_actions(env), a = -1, measured, cached;
    double r;
    bool done;
    for (int i = 0; i < n - 1 && a < 0; i++) {
        CHECK_OK(env_reset(env, g, w, &e), &e);
        if (!(rule_by_name(env_action_name(env, i))->flags & RULE_PRECISION)) continue;
        CHECK_OK(env_step(env, i, &r, &done, &e), &e);
        if (!env_eval(env)->accuracy_pending) a = i;
    }
    assert_true(a >= 0);
    EnvEval first = *env_eval(env);
    const EnvEval *ev = &first;
    /* a measured result: one layer in low precision changes the outputs a little, not a lot */
    assert_true(ev->acc.min_cosine < 1.0 && ev->acc.min_cosine > 0.9);
    assert_true(ev->acc.max_abs_err > 0);
    int m1;
    env_acc_stats(env, &m1, &cached);
    assert_true(m1 >= 1);
    CHECK_OK(env_reset(env, g, w, &e), &e);
    CHECK_OK(env_step(env, a, &r, &done, &e), &e);
    env_acc_stats(env, &measured, &cached);
    assert_int_equal(measured, m1); /* the same choice again: from the cache */
    assert_int_equal(cached, 1);
    assert_true(env_eval(env)->acc.min_cosine == ev->acc.min_cosine);
    env_free(env);
    cost_close(cm);
    graph_free(g);
}

/* Every precision rewrite from the start: a state left unmeasured is one that could not have
   earned a reward (its J without accuracy charge does not beat the start); a measured one is
   charged its real accuracy. Either way the reward is max(0, J(start) - J). */
static void test_accuracy_only_when_it_matters(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = calibrated("resnet8", 32, 0);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    cfg.threads = 1;
    Env *env = env_new(&cfg, cm, NULL, &e);
    CHECK_OK(env_reset(env, g, objective_default_weights(), &e), &e);
    int n = env_n_actions(env), pending = 0, charged = 0;
    for (int i = 0; i < n - 1; i++) {
        CHECK_OK(env_reset(env, g, objective_default_weights(), &e), &e);
        const RuleDef *r = rule_by_name(env_action_name(env, i));
        if (!(r->flags & RULE_PRECISION)) continue;
        double j0 = env_start_eval(env)->objective, rew;
        bool done;
        CHECK_OK(env_step(env, i, &rew, &done, &e), &e);
        const EnvEval *ev = env_eval(env);
        assert_true(fabs(rew - (j0 > ev->objective ? j0 - ev->objective : 0)) < 1e-12);
        if (ev->accuracy_pending) {
            pending++;
            assert_true(rew == 0 && ev->objective >= j0);
        } else {
            charged++;
            assert_true(ev->acc.max_abs_err > 0);
        }
    }
    printf("[ env      ] resnet8 precision actions: %d measured, %d left unmeasured\n", charged, pending);
    assert_true(pending + charged > 0);
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
        cmocka_unit_test(test_actions_and_masks), cmocka_unit_test(test_rewards_best_so_far),
        cmocka_unit_test(test_fusion_rewarded), cmocka_unit_test(test_accuracy_in_the_loop),
        cmocka_unit_test(test_accuracy_only_when_it_matters), cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests_name("env", tests, NULL, NULL);
}
