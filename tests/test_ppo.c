/* test_ppo.c - PPO: the math against hand-computed cases and finite differences (GAE, the
 * clipped surrogate, entropy, Adam, clipping, samplers), then training on a small corpus
 * (determinism, learning, checkpoint round trip) and `grappo train` surviving kill -9. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "search/ppo.h"
#include "search/ppo_math.h"
#include "zoo/zoo.h"

/* ---- GAE ---- */

static void test_gae_hand(void **s) {
    (void)s;
    /* one 3-step episode, then a 1-step episode (the boundary must stop the recursion) */
    float r[4] = {1, 2, 3, 5}, v[4] = {0.5f, 1, 2, 4};
    uint8_t done[4] = {0, 0, 1, 1};
    float adv[4], ret[4];
    ppo_gae(r, v, done, 4, 0.9, 0.8, adv, ret);
    /* t=2: delta = 3 - 2 = 1                 adv = 1
       t=1: delta = 2 + 0.9·2 - 1 = 2.8       adv = 2.8 + 0.72·1 = 3.52
       t=0: delta = 1 + 0.9·1 - 0.5 = 1.4     adv = 1.4 + 0.72·3.52 = 3.9344
       t=3: delta = 5 - 4 = 1                 adv = 1 (not 1 + 0.72·anything) */
    const double want_adv[4] = {3.9344, 3.52, 1, 1};
    for (int t = 0; t < 4; t++) {
        assert_true(fabs(adv[t] - want_adv[t]) < 1e-5);
        assert_true(fabs(ret[t] - (want_adv[t] + v[t])) < 1e-5);
    }
    /* gamma = lambda = 1: advantage = return-to-go - V */
    ppo_gae(r, v, done, 4, 1, 1, adv, ret);
    assert_true(fabs(ret[0] - 6) < 1e-6 && fabs(ret[1] - 5) < 1e-6 && fabs(ret[2] - 3) < 1e-6 && fabs(ret[3] - 5) < 1e-6);
    /* the buffer's last step ends an episode even when done says otherwise */
    uint8_t open[2] = {0, 0};
    ppo_gae(r, v, open, 2, 1, 1, adv, ret);
    assert_true(fabs(ret[1] - 2) < 1e-6 && fabs(ret[0] - 3) < 1e-6);
}

static void test_normalize(void **s) {
    (void)s;
    float a[4] = {1, 2, 3, 6};
    ppo_normalize(a, 4); /* mean 3, population sd sqrt((4+1+0+9)/4) = sqrt(3.5) */
    double sd = sqrt(3.5);
    assert_true(fabs(a[0] - (-2 / sd)) < 1e-6 && fabs(a[3] - 3 / sd) < 1e-6);
}

/* ---- the per-sample loss ---- */

static double loss_at(const float *z, int n, int a, double old_logp, double adv, double value, double ret,
                      const PpoLossCoefs *c) {
    PpoSampleLoss o;
    float d[16], dv;
    assert_int_equal(ppo_sample_loss(z, n, a, old_logp, adv, value, ret, c, &o, d, &dv), 0);
    return o.policy_loss + c->vf_coef * o.value_loss - c->ent_coef * o.entropy;
}

/* dL/dlogits and dL/dV against central differences (in double, eps 1e-3 on float logits) */
static void check_fd(const float *z0, int n, int a, double old_logp, double adv, const PpoLossCoefs *c, bool want_clip) {
    float z[16], d[16], dv;
    memcpy(z, z0, sizeof(float) * n);
    PpoSampleLoss o;
    double value = 0.3, ret = 1.1;
    assert_int_equal(ppo_sample_loss(z, n, a, old_logp, adv, value, ret, c, &o, d, &dv), 0);
    assert_int_equal(o.clipped, want_clip);
    const double h = 1e-3;
    for (int i = 0; i < n; i++) {
        z[i] = z0[i] + (float)h;
        double lp = loss_at(z, n, a, old_logp, adv, value, ret, c);
        z[i] = z0[i] - (float)h;
        double lm = loss_at(z, n, a, old_logp, adv, value, ret, c);
        z[i] = z0[i];
        double fd = (lp - lm) / (2 * h);
        if (fabs(fd - d[i]) > 2e-4 + 1e-3 * fabs(fd)) {
            print_error("dlogit %d: analytic %.7g fd %.7g (clipped %d)\n", i, d[i], fd, o.clipped);
            fail();
        }
    }
    double fdv = (loss_at(z, n, a, old_logp, adv, value + h, ret, c) - loss_at(z, n, a, old_logp, adv, value - h, ret, c)) /
                 (2 * h);
    assert_true(fabs(fdv - dv) < 1e-5);
    assert_true(fabs(dv - 2 * c->vf_coef * (value - ret)) < 1e-6);
}

static void test_surrogate_grad(void **s) {
    (void)s;
    const float z[5] = {0.3f, -1.2f, 0.8f, 0.1f, -0.4f};
    PpoLossCoefs c = {.clip = 0.2, .vf_coef = 0.5, .ent_coef = 0.0};
    double probs[5];
    double lse = ppo_softmax(z, 5, probs);
    double logp2 = z[2] - lse;
    /* unclipped: ratio 1.1 inside [0.8, 1.2], both signs of the advantage */
    check_fd(z, 5, 2, logp2 - log(1.1), 1.7, &c, false);
    check_fd(z, 5, 2, logp2 - log(1.1), -0.9, &c, false);
    /* outside the region but in the direction the clip does not bind: still unclipped */
    check_fd(z, 5, 2, logp2 - log(1.5), -0.9, &c, false); /* ratio 1.5, A < 0: min is ratio·A */
    check_fd(z, 5, 2, logp2 - log(0.5), 1.7, &c, false);  /* ratio 0.5, A > 0: min is ratio·A */
    /* clipped: ratio 1.5 with A > 0, ratio 0.5 with A < 0 -> zero surrogate gradient */
    check_fd(z, 5, 2, logp2 - log(1.5), 1.7, &c, true);
    check_fd(z, 5, 2, logp2 - log(0.5), -0.9, &c, true);
    float d[5], dv;
    PpoSampleLoss o;
    ppo_sample_loss(z, 5, 2, logp2 - log(1.5), 1.7, 0, 0, &c, &o, d, &dv);
    for (int i = 0; i < 5; i++) assert_true(d[i] == 0.0f);
    assert_true(fabs(o.policy_loss - (-1.2 * 1.7)) < 1e-6); /* -clip(1.5)·A */
    assert_true(fabs(o.ratio - 1.5) < 1e-6);
    /* unclipped closed form: dL/dz_i = -A·ratio·([i=a] - p_i) */
    ppo_sample_loss(z, 5, 2, logp2 - log(1.1), 1.7, 0, 0, &c, &o, d, &dv);
    for (int i = 0; i < 5; i++) assert_true(fabs(d[i] - (-1.7 * 1.1 * ((i == 2) - probs[i]))) < 1e-5);
    /* with an entropy bonus the whole loss still matches finite differences */
    c.ent_coef = 0.05;
    check_fd(z, 5, 2, logp2 - log(1.1), 1.7, &c, false);
    check_fd(z, 5, 2, logp2 - log(1.5), 1.7, &c, true);
    /* bad action index */
    assert_int_equal(ppo_sample_loss(z, 5, 5, 0, 1, 0, 0, &c, &o, d, &dv), -1);
}

static void test_entropy_grad(void **s) {
    (void)s;
    float z[6] = {0.5f, -0.3f, 2.0f, 0.0f, -1.5f, 0.7f}, dH[6];
    double H = ppo_entropy(z, 6, dH);
    double p[6];
    ppo_softmax(z, 6, p);
    double want = 0;
    for (int i = 0; i < 6; i++) want -= p[i] * log(p[i]);
    assert_true(fabs(H - want) < 1e-9);
    for (int i = 0; i < 6; i++) {
        float zp[6], zm[6];
        memcpy(zp, z, sizeof z);
        memcpy(zm, z, sizeof z);
        zp[i] += 1e-3f;
        zm[i] -= 1e-3f;
        double fd = (ppo_entropy(zp, 6, NULL) - ppo_entropy(zm, 6, NULL)) / (zp[i] - zm[i]);
        assert_true(fabs(fd - dH[i]) < 1e-5);
    }
    /* uniform logits: maximum entropy ln n, zero gradient */
    float u[4] = {2, 2, 2, 2}, du[4];
    assert_true(fabs(ppo_entropy(u, 4, du) - log(4.0)) < 1e-12);
    for (int i = 0; i < 4; i++) assert_true(fabs(du[i]) < 1e-7);
}

/* ---- optimizer ---- */

static void test_adam_by_hand(void **s) {
    (void)s;
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.1f}, m[2] = {0.1f, 0.0f}, v[2] = {0.01f, 0.04f};
    AdamParams a = {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    ppo_adam_step(p, g, m, v, 2, 3, &a);
    /* element 0: m = 0.09 + 0.05 = 0.14; v = 0.00999 + 0.00025 = 0.01024
       mhat = 0.14 / (1 - 0.729) = 0.516605; vhat = 0.01024 / (1 - 0.997003) = 3.416750
       p = 1 - 0.01·0.516605 / (1.848445 + 1e-8) = 0.997205 */
    assert_true(fabs(m[0] - 0.14) < 1e-7 && fabs(v[0] - 0.01024) < 1e-8);
    double mhat = 0.14 / (1 - 0.729), vhat = 0.01024 / (1 - pow(0.999, 3));
    assert_true(fabs(p[0] - (1 - 0.01 * mhat / (sqrt(vhat) + 1e-8))) < 1e-6);
    assert_true(fabs(p[0] - 0.997205) < 2e-6);
    /* element 1: m = -0.01, v = 0.03996 + 0.00001 = 0.03997 */
    assert_true(fabs(m[1] + 0.01) < 1e-8 && fabs(v[1] - 0.03997) < 1e-8);
    double mh1 = -0.01 / (1 - 0.729), vh1 = 0.03997 / (1 - pow(0.999, 3));
    assert_true(fabs(p[1] - (-2 - 0.01 * mh1 / (sqrt(vh1) + 1e-8))) < 1e-6);
    /* first step from zero moments moves each parameter by lr·sign(g) */
    float q[3] = {0, 0, 0}, gq[3] = {3, -0.002f, 0}, mq[3] = {0}, vq[3] = {0};
    ppo_adam_step(q, gq, mq, vq, 3, 1, &a);
    assert_true(fabs(q[0] + 0.01) < 1e-7 && fabs(q[1] - 0.01) < 1e-6 && q[2] == 0);
}

static void test_clip_norm(void **s) {
    (void)s;
    float g[3] = {3, 4, 12}; /* norm 13 */
    double n = ppo_clip_grad_norm(g, 3, 6.5);
    assert_true(fabs(n - 13) < 1e-9);
    assert_true(fabs(g[0] - 1.5) < 1e-6 && fabs(g[1] - 2) < 1e-6 && fabs(g[2] - 6) < 1e-6);
    assert_true(fabs(ppo_clip_grad_norm(g, 3, 100) - 6.5) < 1e-6); /* below: unchanged */
    assert_true(fabs(g[2] - 6) < 1e-6);
    assert_true(fabs(ppo_clip_grad_norm(g, 3, 0) - 6.5) < 1e-6);    /* 0 = no clipping */
}

/* ---- samplers ---- */

static void test_dirichlet(void **s) {
    (void)s;
    Rng r;
    rng_seed(&r, 7);
    double mean[3] = {0}, sq0 = 0;
    const int N = 20000;
    for (int k = 0; k < N; k++) {
        double w[3];
        ppo_dirichlet_ones(&r, 3, w);
        assert_true(fabs(w[0] + w[1] + w[2] - 1) < 1e-12);
        for (int i = 0; i < 3; i++) { assert_true(w[i] >= 0); mean[i] += w[i] / N; }
        sq0 += w[0] * w[0] / N;
    }
    /* Dirichlet(1,1,1): mean 1/3 each, var = (1·2)/(3²·4) = 1/18 */
    for (int i = 0; i < 3; i++) assert_true(fabs(mean[i] - 1.0 / 3) < 0.01);
    assert_true(fabs(sq0 - mean[0] * mean[0] - 1.0 / 18) < 0.005);
}

static void test_categorical(void **s) {
    (void)s;
    Rng r;
    rng_seed(&r, 11);
    float z[3] = {0, (float)log(2.0), (float)log(5.0)}; /* probabilities 1/8, 2/8, 5/8 */
    int count[3] = {0};
    const int N = 40000;
    for (int k = 0; k < N; k++) count[ppo_sample_categorical(&r, z, 3)]++;
    assert_true(fabs(count[0] / (double)N - 0.125) < 0.01);
    assert_true(fabs(count[1] / (double)N - 0.25) < 0.01);
    assert_true(fabs(count[2] / (double)N - 0.625) < 0.01);
    assert_int_equal(ppo_argmax(z, 3), 2);
    float tie[3] = {1, 4, 4};
    assert_int_equal(ppo_argmax(tie, 3), 1);
    float one[1] = {-3};
    assert_int_equal(ppo_sample_categorical(&r, one, 1), 0);
}

/* ---- training on a small corpus ---- */

/* a corpus of random DAGs, an env with exact rules and the roofline cost, a fresh policy */
typedef struct Rig {
    PpoCorpus corpus;
    Graph *graphs[4];
    char *names[4];
    CostModel *cm;
    Env *env;
    Policy *policy;
    PpoTrainer *t;
} Rig;

static PpoConfig small_config(void) {
    PpoConfig c = ppo_config_default();
    c.episodes = 8;
    c.lr = 3e-3;
    c.epochs = 3;
    c.minibatch = 32;
    c.seed = 5;
    return c;
}

static void rig_open(Rig *r, int n_graphs, const PpoConfig *cfg, int max_steps) {
    memset(r, 0, sizeof *r);
    Err e = {0};
    for (int i = 0; i < n_graphs; i++) {
        ZooOpts o = zoo_opts_default();
        o.seed = (uint64_t)(11 + i);
        r->graphs[i] = zoo_build("random", &o, &e);
        if (!r->graphs[i]) { print_error("%s\n", e.msg); fail(); }
        r->names[i] = NULL;
    }
    r->corpus = (PpoCorpus){.n = n_graphs, .graphs = r->graphs, .names = r->names};
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    r->cm = cost_open(&co, &e);
    assert_non_null(r->cm);
    r->policy = env_policy_new(NULL, 3, &e);
    if (!r->policy) { print_error("%s\n", e.msg); fail(); }
    EnvConfig ec = env_config_default();
    ec.allow_precision = false;
    ec.max_steps = max_steps;
    r->env = env_new(&ec, r->cm, r->policy, &e);
    assert_non_null(r->env);
    r->t = ppo_new(r->policy, r->env, &r->corpus, cfg, &e);
    if (!r->t) { print_error("%s\n", e.msg); fail(); }
}

static void rig_close(Rig *r) {
    ppo_free(r->t);
    env_free(r->env);
    policy_free(r->policy);
    cost_close(r->cm);
    for (int i = 0; i < r->corpus.n; i++) graph_free(r->graphs[i]);
}

static void train(Rig *r, int n, PpoIterStats *st) {
    Err e = {0};
    for (int i = 0; i < n; i++) {
        PpoIterStats s;
        CHECK_OK(ppo_iteration(r->t, &s, &e), &e);
        assert_int_equal(s.iteration, ppo_iterations_done(r->t));
        assert_true(isfinite(s.mean_return) && isfinite(s.policy_loss) && isfinite(s.value_loss) && isfinite(s.grad_norm));
        assert_true(s.env_steps >= s.episodes && s.clip_frac >= 0 && s.clip_frac <= 1 && s.entropy >= 0);
        if (st) st[i] = s;
    }
}

static void test_train_deterministic(void **st) {
    (void)st;
    PpoConfig c = small_config();
    Rig a, b;
    rig_open(&a, 3, &c, 6);
    uint64_t f0 = policy_fingerprint(a.policy);
    PpoIterStats sa[2], sb[2];
    train(&a, 2, sa);
    assert_true(policy_fingerprint(a.policy) != f0); /* it did learn something */
    rig_open(&b, 3, &c, 6);
    train(&b, 2, sb);
    assert_true(policy_fingerprint(a.policy) == policy_fingerprint(b.policy));
    assert_true(sa[1].mean_return == sb[1].mean_return && sa[1].env_steps == sb[1].env_steps);
    rig_close(&b);
    /* another seed: another trajectory */
    c.seed = 6;
    rig_open(&b, 3, &c, 6);
    train(&b, 2, sb);
    assert_true(policy_fingerprint(a.policy) != policy_fingerprint(b.policy));
    rig_close(&b);
    rig_close(&a);
}

static void test_train_learns(void **st) {
    (void)st;
    PpoConfig c = small_config();
    c.episodes = 24; /* fewer episodes make the per-iteration mean too noisy to compare */
    Rig r;
    rig_open(&r, 2, &c, 6);
    enum { N = 10 };
    PpoIterStats s[N];
    train(&r, N, s);
    for (int i = 0; i < N; i++)
        printf("[ ppo      ] iter %d: return %.4f entropy %.3f kl %.4f clip %.2f steps %d (%.2f + %.2f s)\n", i + 1,
               s[i].mean_return, s[i].entropy, s[i].approx_kl, s[i].clip_frac, s[i].env_steps, s[i].rollout_s, s[i].update_s);
    double first = (s[0].mean_return + s[1].mean_return) / 2, last = (s[N - 2].mean_return + s[N - 1].mean_return) / 2;
    /* over 8 seeds: first ~0.00 (-0.01..0.01), last 0.08..0.15; a fixed margin, not just ">" */
    assert_true(last > first + 0.04);
    rig_close(&r);
}

static void test_checkpoint_roundtrip(void **st) {
    (void)st;
    PpoConfig c = small_config();
    char dir[] = "/tmp/grappo_ppo_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ckpt[256], plain[256];
    snprintf(ckpt, sizeof ckpt, "%s/a.ckpt", dir);
    snprintf(plain, sizeof plain, "%s/plain.bin", dir);
    Err e = {0};
    Rig a, b;
    rig_open(&a, 3, &c, 6);
    train(&a, 2, NULL);
    CHECK_OK(ppo_checkpoint_save(a.t, ckpt, &e), &e);
    PpoIterStats sa, sb;
    train(&a, 1, &sa);
    uint64_t want = policy_fingerprint(a.policy);

    /* a fresh trainer (another init seed: its parameters must be replaced) resumes exactly */
    c.seed = 99;
    rig_open(&b, 3, &c, 6);
    assert_true(policy_fingerprint(b.policy) != want);
    CHECK_OK(ppo_checkpoint_load(b.t, ckpt, &e), &e);
    assert_int_equal(ppo_iterations_done(b.t), 2);
    train(&b, 1, &sb);
    assert_int_equal(sb.iteration, 3);
    assert_true(policy_fingerprint(b.policy) == want);
    assert_true(sa.mean_return == sb.mean_return && sa.best_gain == sb.best_gain);

    /* a policy without trainer state is not a checkpoint */
    CHECK_OK(policy_save(a.policy, plain, NULL, 0, &e), &e);
    assert_int_equal(ppo_checkpoint_load(b.t, plain, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "not a training checkpoint"));
    /* a checkpoint of another network shape is refused, naming the file */
    PolicyConfig pc = policy_config_default(0, 0, 0);
    pc.hidden = 8;
    Policy *small = env_policy_new(&pc, 1, &e);
    assert_non_null(small);
    CHECK_OK(policy_save(small, plain, "GRPPOCKP", 8, &e), &e);
    policy_free(small);
    assert_int_equal(ppo_checkpoint_load(b.t, plain, &e), -1);
    assert_non_null(strstr(e.msg, "shape"));
    assert_non_null(strstr(e.msg, plain));
    /* a truncated checkpoint file is refused by the policy loader's own checks */
    FILE *f = fopen(ckpt, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    assert_int_equal(truncate(ckpt, len - 9), 0);
    assert_int_equal(ppo_checkpoint_load(b.t, ckpt, &e), -1);
    assert_int_equal(ppo_iterations_done(b.t), 3); /* a failed load leaves the trainer alone */
    rig_close(&b);
    rig_close(&a);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- grappo train, killed and resumed ---- */

/* the binary: $GRAPPO_BIN, $GRAPPO (set by make test), else grappo next to tests/ in this
   test's own build directory (build-x/tests/test_ppo -> build-x/grappo) */
static void grappo_path(char *buf, size_t cap) {
    const char *env = getenv("GRAPPO_BIN");
    if (!env || !*env) env = getenv("GRAPPO");
    if (env && *env) { snprintf(buf, cap, "%s", env); return; }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    snprintf(buf, cap, "build/grappo");
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0; /* .../build-x/tests */
    slash = strrchr(exe, '/');
    if (slash) *slash = 0; /* .../build-x */
    snprintf(buf, cap, "%s/grappo", exe);
}

/* starts `grappo train` on a small corpus writing into dir; out names the policy file */
static pid_t spawn_train(const char *bin, const char *dir, const char *out, int iterations, bool resume) {
    char o[512], log[512], curve[512], iters[32], errf[512];
    snprintf(o, sizeof o, "%s/%s", dir, out);
    snprintf(log, sizeof log, "%s/%s.csv", dir, out);
    snprintf(curve, sizeof curve, "%s/%s.svg", dir, out);
    snprintf(errf, sizeof errf, "%s/%s.stderr", dir, out);
    snprintf(iters, sizeof iters, "%d", iterations);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, 2);
        if (nul >= 0) dup2(nul, 1);
        char *argv[] = {(char *)bin, "train", "--corpus", "zoo:random@seed=1,zoo:random@seed=2", "--iterations", iters,
                        "--episodes", "6", "--max-steps", "6", "--cost", "roofline", "--exact-only", "--seed", "4",
                        "--checkpoint-every", "3",
                        "-o", o, "--log", log, "--curve", curve, resume ? "--resume" : NULL, NULL};
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid) {
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void test_cli_resume_after_kill(void **st) {
    (void)st;
    char bin[4096];
    grappo_path(bin, sizeof bin);
    if (access(bin, X_OK) != 0) {
        print_error("grappo binary not found at %s (set GRAPPO_BIN)\n", bin);
        fail();
    }
    char dir[] = "/tmp/grappo_ppo_cli_XXXXXX";
    assert_non_null(mkdtemp(dir));
    enum { ITERS = 16 };
    char path[600];

    /* the reference: the same training without interruption */
    assert_int_equal(wait_exit(spawn_train(bin, dir, "ref.bin", ITERS, false)), 0);

    /* kill -9 soon after the first checkpoint (iteration 3) appears: the CSV then usually holds
       rows past the checkpoint, which the resume must drop and redo */
    pid_t pid = spawn_train(bin, dir, "p.bin", ITERS, false);
    snprintf(path, sizeof path, "%s/p.bin.ckpt", dir);
    struct stat sb;
    for (int k = 0; k < 20000 && stat(path, &sb) != 0; k++) nanosleep(&(struct timespec){0, 500000}, NULL);
    assert_int_equal(stat(path, &sb), 0);
    nanosleep(&(struct timespec){0, 30 * 1000000}, NULL); /* land somewhere in a later iteration */
    kill(pid, SIGKILL);
    assert_int_equal(wait_exit(pid), -SIGKILL);
    snprintf(path, sizeof path, "%s/p.bin", dir);
    assert_int_not_equal(access(path, F_OK), 0); /* killed before the end: no final policy */

    /* resume to completion */
    assert_int_equal(wait_exit(spawn_train(bin, dir, "p.bin", ITERS, true)), 0);

    /* the CSV: the header and exactly one row per iteration, in order */
    snprintf(path, sizeof path, "%s/p.bin.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, f));
    assert_true(strncmp(line, "iteration,", 10) == 0);
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        rows++;
        assert_int_equal(atoi(line), rows);
    }
    fclose(f);
    assert_int_equal(rows, ITERS);

    /* the final policy loads, carries no trainer state, and equals the uninterrupted run's:
       a resume continues the same deterministic trajectory */
    Err e = {0};
    void *extra = NULL;
    size_t extra_len = 99;
    snprintf(path, sizeof path, "%s/p.bin", dir);
    Policy *p = policy_load(path, &extra, &extra_len, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    assert_int_equal(extra_len, 0);
    free(extra);
    snprintf(path, sizeof path, "%s/ref.bin", dir);
    Policy *ref = policy_load(path, NULL, NULL, &e);
    assert_non_null(ref);
    assert_true(policy_fingerprint(p) == policy_fingerprint(ref));
    policy_free(ref);
    policy_free(p);
    /* the learning curve was redrawn */
    snprintf(path, sizeof path, "%s/p.bin.svg", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_true(strncmp(line, "<svg", 4) == 0);
    fclose(f);
    snprintf(path, sizeof path, "%s/p.bin.stderr", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    bool resumed = false;
    while (fgets(line, sizeof line, f)) resumed |= strstr(line, "(resumed)") != NULL;
    fclose(f);
    assert_true(resumed);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* bad input: exit 2 and one line naming the problem, no output file */
static void test_cli_errors(void **st) {
    (void)st;
    char bin[4096];
    grappo_path(bin, sizeof bin);
    char dir[] = "/tmp/grappo_ppo_err_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const struct { const char *args, *needle; } cases[] = {
        {"--corpus zoo:random@foo=1 --iterations 1", "unknown option 'foo'"},
        {"--corpus zoo:random@seed=x --iterations 1", "@key=integer"},
        {"--corpus zoo:nosuchmodel --iterations 1", "nosuchmodel"},
        {"--corpus /nonexistent-corpus --iterations 1", "/nonexistent-corpus"},
        {"--corpus zoo:random --iterations 1 --cost fast", "--cost"},
        {"--corpus zoo:random --iterations 1 --curve c.svg", "--log"},
        {"--corpus zoo:random --iterations 0", "--iterations"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[8192], path[600];
        snprintf(cmd, sizeof cmd, "%s train %s -o %s/p.bin --cost roofline >%s/out 2>%s/err", bin, cases[i].args, dir, dir, dir);
        /* the last --cost wins, so the bad one above is given after ours */
        if (strstr(cases[i].args, "--cost"))
            snprintf(cmd, sizeof cmd, "%s train -o %s/p.bin %s >%s/out 2>%s/err", bin, dir, cases[i].args, dir, dir);
        int rc = system(cmd);
        assert_true(WIFEXITED(rc));
        snprintf(path, sizeof path, "%s/err", dir);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char buf[2048] = {0};
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        int lines = 0;
        for (size_t k = 0; k < n; k++) lines += buf[k] == '\n';
        if (WEXITSTATUS(rc) != 2 || !strstr(buf, cases[i].needle) || lines != 1) {
            print_error("train %s: exit %d, stderr '%s' (want 2, one line with '%s')\n", cases[i].args, WEXITSTATUS(rc), buf,
                        cases[i].needle);
            fail();
        }
        snprintf(path, sizeof path, "%s/p.bin", dir);
        assert_int_not_equal(access(path, F_OK), 0);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gae_hand),       cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_surrogate_grad), cmocka_unit_test(test_entropy_grad),
        cmocka_unit_test(test_adam_by_hand),   cmocka_unit_test(test_clip_norm),
        cmocka_unit_test(test_dirichlet),      cmocka_unit_test(test_categorical),
        cmocka_unit_test(test_train_deterministic), cmocka_unit_test(test_train_learns),
        cmocka_unit_test(test_checkpoint_roundtrip), cmocka_unit_test(test_cli_resume_after_kill),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests_name("ppo", tests, NULL, NULL);
}
