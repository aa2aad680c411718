/* test_policy_layout.c - a policy file records the feature layout it was trained with (op names
 * of its one-hot columns, feature width, features version): the names survive save/load, the
 * env matches columns by op name (so a build with more or reordered ops still feeds the policy
 * what it learned), and a policy made by another build (other features version, other numeric
 * width, a format 1 file of another width) is a one-line error, from the library and from
 * `grappo optimize --search ppo`. */
#include "testutil.h"

#include <sys/wait.h>
#include <unistd.h>

#include "graph/op.h"
#include "measure/cost.h"
#include "search/env.h"
#include "search/policy.h"
#include "zoo/zoo.h"

static char tmp[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/grappo_layout_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return tu_rmtree(tmp);
}

static CostModel *roofline(void) {
    Err e = {0};
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    return cm;
}

static void test_layout_recorded_and_reloaded(void **state) {
    (void)state;
    Err e = {0};
    Policy *p = env_policy_new(NULL, 7, &e);
    assert_non_null(p);
    int n = 0;
    const char *const *ops = policy_op_layout(p, &n);
    assert_non_null(ops);
    assert_int_equal(n, OP_COUNT);
    assert_string_equal(ops[OP_CONV2D], "Conv2D");
    assert_int_equal(policy_config(p)->feat_dim, features_dim());
    char path[512];
    snprintf(path, sizeof path, "%s/p.bin", tmp);
    CHECK_OK(policy_save(p, path, NULL, 0, &e), &e);
    Policy *q = policy_load(path, NULL, NULL, &e);
    assert_non_null(q);
    int m = 0;
    const char *const *back = policy_op_layout(q, &m);
    assert_int_equal(m, n);
    for (int i = 0; i < n; i++) assert_string_equal(back[i], ops[i]);
    assert_true(policy_fingerprint(p) == policy_fingerprint(q));
    CHECK_OK(env_policy_check(q, &e), &e);
    policy_free(p);
    policy_free(q);
    /* the shipped policy names its columns too */
    Policy *shipped = policy_load("policies/default.bin", NULL, NULL, &e);
    assert_non_null(shipped);
    assert_non_null(policy_op_layout(shipped, &n));
    CHECK_OK(env_policy_check(shipped, &e), &e);
    policy_free(shipped);
}

/* columns are matched by op name, not enum position: with the op list reversed, a Conv2D node's
   one-hot lands in the column the policy calls "Conv2D" */
static void test_columns_matched_by_name(void **state) {
    (void)state;
    Err e = {0};
    Policy *p = env_policy_new(NULL, 7, &e);
    assert_non_null(p);
    const char *rev[OP_COUNT];
    for (int i = 0; i < OP_COUNT; i++) rev[i] = op_def(OP_COUNT - 1 - i)->tf_name;
    CHECK_OK(policy_set_op_layout(p, rev, OP_COUNT, &e), &e);
    int conv_col = OP_COUNT - 1 - OP_CONV2D;
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    Env *env = env_new(&cfg, cm, p, &e);
    assert_non_null(env);
    ZooOpts zo = zoo_opts_default();
    Graph *g = zoo_build("resnet8", &zo, &e);
    assert_non_null(g);
    CHECK_OK(env_reset(env, g, objective_default_weights(), &e), &e);
    const PolicyObs *o = env_observe(env);
    int dim = policy_config(p)->feat_dim, convs = 0;
    for (int r = 0; r < o->n_nodes; r++) {
        const float *x = o->x + (size_t)r * (size_t)dim;
        int hot = -1, n_hot = 0;
        for (int c = 0; c < OP_COUNT; c++)
            if (x[c] == 1) { hot = c; n_hot++; }
        assert_int_equal(n_hot, 1);
        convs += hot == conv_col;
    }
    assert_true(convs >= 7); /* resnet8's convolutions */
    env_free(env);
    graph_free(g);
    cost_close(cm);
    policy_free(p);
}

/* a policy of three columns (Conv2D, an op this build lacks, Relu): this build's other ops have
   no column, and the rows have the policy's width */
static Policy *small_policy(int features_version, int numeric) {
    Err e = {0};
    PolicyConfig c = policy_config_default(3 + numeric, features_version, 1);
    const char *rules[1] = {"fuse_conv_bn_act"};
    Policy *p = policy_new(&c, rules, 3, &e);
    assert_non_null(p);
    const char *ops[3] = {"Conv2D", "SomeFutureOp", "Relu"};
    CHECK_OK(policy_set_op_layout(p, ops, 3, &e), &e);
    return p;
}

static void test_fewer_and_unknown_ops(void **state) {
    (void)state;
    Err e = {0};
    int numeric = features_dim() - OP_COUNT;
    Policy *p = small_policy(FEATURES_VERSION, numeric);
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    Env *env = env_new(&cfg, cm, p, &e);
    assert_non_null(env);
    ZooOpts zo = zoo_opts_default();
    Graph *g = zoo_build("resnet8", &zo, &e);
    assert_non_null(g);
    CHECK_OK(env_reset(env, g, objective_default_weights(), &e), &e);
    const PolicyObs *o = env_observe(env);
    int hot[3] = {0, 0, 0}, cold = 0;
    for (int r = 0; r < o->n_nodes; r++) {
        const float *x = o->x + (size_t)r * (size_t)(3 + numeric);
        int any = 0;
        for (int c = 0; c < 3; c++)
            if (x[c] == 1) { hot[c]++; any = 1; }
        cold += !any;
    }
    assert_true(hot[0] >= 7 && hot[1] == 0 && hot[2] >= 1 && cold > 0);
    /* the policy scores the observation */
    float *logits = malloc(sizeof *logits * (size_t)o->n_actions);
    float value;
    PolicyCache *pc = policy_cache_new();
    CHECK_OK(policy_forward(p, o, pc, logits, &value, &e), &e);
    policy_cache_free(pc);
    free(logits);
    env_free(env);
    graph_free(g);
    cost_close(cm);
    policy_free(p);
}

static void expect_refused(Policy *p, const char *needle) {
    Err e = {0};
    CostModel *cm = roofline();
    EnvConfig cfg = env_config_default();
    assert_null(env_new(&cfg, cm, p, &e));
    assert_int_equal(e.code, ERR_INPUT);
    if (!strstr(e.msg, "another build") || !strstr(e.msg, needle)) fail_msg("message '%s' lacks '%s'", e.msg, needle);
    assert_null(strchr(e.msg, '\n'));
    assert_int_equal(env_policy_check(p, &e), -1);
    cost_close(cm);
}

/* another build's policy: a one-line error, not misaligned features */
static void test_other_build_refused(void **state) {
    (void)state;
    int numeric = features_dim() - OP_COUNT;
    Policy *p = small_policy(FEATURES_VERSION + 1, numeric);
    expect_refused(p, "features version");
    policy_free(p);
    p = small_policy(FEATURES_VERSION, numeric + 2);
    expect_refused(p, "numeric features");
    policy_free(p);

    /* through the command: exit 2, one line naming the file, no output written */
    Err e = {0};
    p = small_policy(FEATURES_VERSION + 1, numeric);
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/other.bin", tmp);
    CHECK_OK(policy_save(p, path, NULL, 0, &e), &e);
    policy_free(p);
    const char *grappo = getenv("GRAPPO") ? getenv("GRAPPO") : "build/grappo";
    snprintf(cmd, sizeof cmd, "%s optimize zoo:resnet8 -o %s/out.pb --search ppo --policy %s >%s/stdout 2>%s/stderr", grappo, tmp, path,
             tmp, tmp);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    snprintf(cmd, sizeof cmd, "%s/stderr", tmp);
    char *err = tu_read_text(cmd);
    assert_non_null(err);
    assert_non_null(strstr(err, "another build"));
    assert_non_null(strstr(err, "other.bin"));
    int lines = 0;
    for (char *c = err; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 1);
    free(err);
    snprintf(cmd, sizeof cmd, "%s/out.pb", tmp);
    assert_int_equal(access(cmd, F_OK), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_recorded_and_reloaded),
        cmocka_unit_test(test_columns_matched_by_name),
        cmocka_unit_test(test_fewer_and_unknown_ops),
        cmocka_unit_test(test_other_build_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
