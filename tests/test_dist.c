/* test_dist.c - distributed training: rollout streams and their averaging (ppo.h, dist.h).
 *
 * In one process: a 2-stream trainer's first gradient is exactly the mean of the gradients of
 * two 1-stream trainers seeded like its streams, and its update count follows the stated
 * schedule; two threads joined by an all-gather (the PpoComm contract, as MPI ranks use it)
 * train the same parameters as one process with two virtual ranks; checkpoints carry every
 * stream's RNG (version 2) and still read version 1. Then, when mpirun is installed,
 * `mpirun -np 2 grappo train` against `grappo train --virtual-ranks 2`, and --resume under
 * mpirun, and `mpirun -np 2 grappo optimize --search ppo+bo` spreading BO trials over ranks. */
#include "testranks.h"
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/graphdef.h"
#include "search/dist.h"
#include "search/ppo.h"
#include "search/ppo_internal.h"
#include "zoo/zoo.h"

/* ---- a small rig: random DAGs, exact rules, the roofline cost, a fresh policy ---- */

typedef struct Rig {
    PpoCorpus corpus;
    Graph *graphs[2];
    CostModel *cm;
    Env *env;
    Policy *policy;
    PpoTrainer *t;
} Rig;

static PpoConfig small_config(void) {
    PpoConfig c = ppo_config_default();
    c.episodes = 3;
    c.lr = 3e-3;
    c.epochs = 2;
    c.minibatch = 3; /* uneven chunks: some updates average over one stream only */
    c.seed = 21;
    return c;
}

static void rig_open(Rig *r, const PpoConfig *cfg) {
    memset(r, 0, sizeof *r);
    Err e = {0};
    for (int i = 0; i < 2; i++) {
        ZooOpts o = zoo_opts_default();
        o.seed = (uint64_t)(31 + i);
        r->graphs[i] = zoo_build("random", &o, &e);
        if (!r->graphs[i]) { print_error("%s\n", e.msg); fail(); }
    }
    r->corpus = (PpoCorpus){.n = 2, .graphs = r->graphs, .names = NULL};
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    r->cm = cost_open(&co, &e);
    assert_non_null(r->cm);
    r->policy = env_policy_new(NULL, 3, &e);
    if (!r->policy) { print_error("%s\n", e.msg); fail(); }
    EnvConfig ec = env_config_default();
    ec.allow_precision = false;
    ec.max_steps = 8;
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
    for (int i = 0; i < 2; i++) graph_free(r->graphs[i]);
}

static void iterate(Rig *r, PpoIterStats *st) {
    Err e = {0};
    CHECK_OK(ppo_iteration(r->t, st, &e), &e);
}

/* ---- stream seeds ---- */

static void test_stream_seeds(void **s) {
    (void)s;
    /* stream 0 is the run's seed itself (K = 1 is the plain trainer); the others differ from
       it, from each other, and from the seeds of neighbouring runs' streams */
    assert_true(ppo_stream_seed(21, 0) == 21);
    uint64_t seen[16];
    int n = 0;
    for (uint64_t seed = 20; seed < 22; seed++)
        for (int g = 0; g < 8; g++) {
            uint64_t x = ppo_stream_seed(seed, g);
            assert_true(x == ppo_stream_seed(seed, g));
            for (int i = 0; i < n; i++) assert_true(seen[i] != x);
            seen[n++] = x;
        }
}

/* ---- the averaging, against two single-stream trainers ---- */

/* grad_reduce hook that records each averaged gradient it sees (the first one kept) */
typedef struct GradLog { float *first; size_t n; int calls; } GradLog;

static int log_grad(float *grad, size_t n, void *ctx, Err *err) {
    (void)err;
    GradLog *g = ctx;
    if (g->calls++ == 0) {
        g->first = malloc(sizeof(float) * n);
        memcpy(g->first, grad, sizeof(float) * n);
        g->n = n;
    }
    return 0;
}

static void test_mean_of_streams(void **s) {
    (void)s;
    /* one minibatch per epoch (minibatch > any stream's samples): stream g of a 2-stream run
       then plays, in iteration 1, exactly what a 1-stream run seeded ppo_stream_seed(seed, g)
       plays, and the first update must apply (gA + gB) / 2 */
    PpoConfig c = small_config();
    c.minibatch = 1000;
    GradLog la = {0}, lb = {0}, lk = {0};
    Rig a, b, k;
    PpoIterStats sa, sb, sk;
    c.grad_reduce = log_grad;
    c.reduce_ctx = &la;
    rig_open(&a, &c);
    iterate(&a, &sa);
    c.seed = ppo_stream_seed(small_config().seed, 1);
    c.reduce_ctx = &lb;
    rig_open(&b, &c);
    iterate(&b, &sb);
    c.seed = small_config().seed;
    c.virtual_ranks = 2;
    c.reduce_ctx = &lk;
    rig_open(&k, &c);
    assert_int_equal(ppo_streams(k.t), 2);
    iterate(&k, &sk);

    assert_int_equal(sk.episodes, 2 * c.episodes);
    assert_int_equal(sk.env_steps, sa.env_steps + sb.env_steps);
    assert_true(fabs(sk.mean_return - (sa.mean_return + sb.mean_return) / 2) < 1e-12);
    assert_true(sk.best_gain == (sa.best_gain > sb.best_gain ? sa.best_gain : sb.best_gain));
    /* one update per epoch in all three */
    assert_int_equal(la.calls, c.epochs);
    assert_int_equal(lb.calls, c.epochs);
    assert_int_equal(lk.calls, c.epochs);
    assert_true(la.n == lk.n && lb.n == lk.n && lk.n > 1000);
    int differ = 0;
    for (size_t i = 0; i < lk.n; i++) {
        float want = (la.first[i] + lb.first[i]) / 2.0f; /* the stream-order sum, then / K */
        if (lk.first[i] != want) {
            print_error("parameter %zu: %.9g, want %.9g\n", i, lk.first[i], want);
            fail();
        }
        differ += la.first[i] != lb.first[i];
    }
    assert_true(differ > 100); /* the two streams really saw different episodes */
    free(la.first);
    free(lb.first);
    free(lk.first);
    rig_close(&a);
    rig_close(&b);
    rig_close(&k);
}

static void test_update_schedule(void **s) {
    (void)s;
    /* minibatch 3: per epoch M = ceil(max(nA, nB) / 3) updates, nA and nB being the sample
       counts of the two streams (= the env steps of the matching 1-stream runs). The base seed
       is the first from 21 on whose two streams need different update counts, or max/min/sum
       would not be told apart. */
    for (uint64_t seed = 21; seed < 61; seed++) {
        PpoConfig c = small_config();
        c.seed = seed;
        GradLog la = {0}, lb = {0}, lk = {0};
        Rig a, b, k;
        PpoIterStats sa, sb, sk;
        c.grad_reduce = log_grad;
        c.reduce_ctx = &la;
        rig_open(&a, &c);
        iterate(&a, &sa);
        c.seed = ppo_stream_seed(seed, 1);
        c.reduce_ctx = &lb;
        rig_open(&b, &c);
        iterate(&b, &sb);
        int na = sa.env_steps, nb = sb.env_steps, nmax = na > nb ? na : nb;
        bool differ = (na + 2) / 3 != (nb + 2) / 3;
        if (differ) {
            c.seed = seed;
            c.virtual_ranks = 2;
            c.reduce_ctx = &lk;
            rig_open(&k, &c);
            iterate(&k, &sk);
            print_message("[ dist     ] seed %d: stream samples %d and %d, minibatch %d\n", (int)seed, na, nb, c.minibatch);
            assert_int_equal(la.calls, c.epochs * ((na + 2) / 3));
            assert_int_equal(lb.calls, c.epochs * ((nb + 2) / 3));
            assert_int_equal(lk.calls, c.epochs * ((nmax + 2) / 3));
            free(lk.first);
            rig_close(&k);
        }
        free(la.first);
        free(lb.first);
        rig_close(&a);
        rig_close(&b);
        if (differ) return;
    }
    fail_msg("no seed in [21, 61) gives streams with different update counts");
}

/* ---- threads as ranks: the PpoComm contract ---- */

typedef struct Rank {
    ThreadRank tr;
    PpoComm comm;
    PpoConfig cfg;
    int iterations;
    uint64_t fingerprint;
    PpoIterStats last;
    int rc;
} Rank;

static void *rank_main(void *arg) {
    Rank *r = arg;
    Rig rig;
    rig_open(&rig, &r->cfg);
    Err e = {0};
    r->rc = 0;
    for (int i = 0; i < r->iterations && !r->rc; i++) r->rc = ppo_iteration(rig.t, &r->last, &e);
    r->fingerprint = policy_fingerprint(rig.policy);
    rig_close(&rig);
    return NULL;
}

static void test_threads_as_ranks(void **s) {
    (void)s;
    enum { ITERS = 2 };
    ThreadGroup group;
    assert_int_equal(thread_group_init(&group, 2), 0);
    Rank ranks[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        ranks[i] = (Rank){.iterations = ITERS, .cfg = small_config()};
        ranks[i].comm = thread_comm(&group, i, &ranks[i].tr);
        ranks[i].cfg.comm = &ranks[i].comm;
    }
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, rank_main, &ranks[i]), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    thread_group_destroy(&group);
    assert_int_equal(ranks[0].rc, 0);
    assert_int_equal(ranks[1].rc, 0);

    PpoConfig c = small_config();
    c.virtual_ranks = 2;
    Rig v;
    rig_open(&v, &c);
    PpoIterStats sv;
    for (int i = 0; i < ITERS; i++) iterate(&v, &sv);
    uint64_t want = policy_fingerprint(v.policy);
    /* both ranks hold the virtual run's parameters, and report its statistics */
    assert_true(ranks[0].fingerprint == want && ranks[1].fingerprint == want);
    for (int i = 0; i < 2; i++) {
        const PpoIterStats *x = &ranks[i].last;
        assert_int_equal(x->episodes, sv.episodes);
        assert_int_equal(x->env_steps, sv.env_steps);
        assert_true(x->mean_return == sv.mean_return && x->best_gain == sv.best_gain);
        assert_true(x->policy_loss == sv.policy_loss && x->value_loss == sv.value_loss && x->entropy == sv.entropy);
        assert_true(x->approx_kl == sv.approx_kl && x->clip_frac == sv.clip_frac && x->grad_norm == sv.grad_norm);
    }
    /* and it is not the single-stream run */
    Rig one;
    PpoConfig c1 = small_config();
    rig_open(&one, &c1);
    for (int i = 0; i < ITERS; i++) iterate(&one, &sv);
    assert_true(policy_fingerprint(one.policy) != want);
    rig_close(&one);
    rig_close(&v);
}

/* ---- checkpoints ---- */

static void test_checkpoint_streams(void **s) {
    (void)s;
    char dir[] = "/tmp/grappo_dist_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ckpt[256], v1[256];
    snprintf(ckpt, sizeof ckpt, "%s/k2.ckpt", dir);
    snprintf(v1, sizeof v1, "%s/v1.ckpt", dir);
    Err e = {0};
    PpoIterStats st;
    PpoConfig c = small_config();
    c.virtual_ranks = 2;

    /* K = 2: one iteration, checkpoint, one more == a fresh trainer loading it, one more; the
       second stream's RNG has to come back too, or its episodes differ */
    Rig a, b;
    rig_open(&a, &c);
    iterate(&a, &st);
    CHECK_OK(ppo_checkpoint_save(a.t, ckpt, &e), &e);
    iterate(&a, &st);
    rig_open(&b, &c);
    CHECK_OK(ppo_checkpoint_load(b.t, ckpt, &e), &e);
    assert_int_equal(ppo_iterations_done(b.t), 1);
    iterate(&b, &st);
    assert_true(policy_fingerprint(a.policy) == policy_fingerprint(b.policy));
    rig_close(&b);
    /* the same checkpoint without the second stream's RNG (stream 1 reseeded) diverges */
    rig_open(&b, &c);
    CHECK_OK(ppo_checkpoint_load(b.t, ckpt, &e), &e);
    b.t->streams[1].rng = b.t->all_rng[0];
    iterate(&b, &st);
    assert_true(policy_fingerprint(a.policy) != policy_fingerprint(b.policy));
    rig_close(&b);
    rig_close(&a);

    /* another stream count: refused with a message naming both */
    PpoConfig c1 = small_config();
    rig_open(&b, &c1);
    assert_int_not_equal(ppo_checkpoint_load(b.t, ckpt, &e), 0);
    assert_non_null(strstr(e.msg, "2 rollout streams"));
    assert_non_null(strstr(e.msg, "this run has 1"));

    /* version 1 (one RNG state, written before streams existed) still resumes K = 1: write
       its layout by hand from a trainer after one iteration */
    rig_open(&a, &c1);
    iterate(&a, &st);
    PpoTrainer *t = a.t;
    size_t n = t->n_params, len = 8 + 4 + 8 + 4 + 8 + 32 + 8 + 8 * n;
    uint8_t *buf = malloc(len), *p = buf;
    assert_non_null(buf);
    memcpy(p, "GRPPOCKP", 8);
    p += 8;
    uint32_t u32 = 1;
    memcpy(p, &u32, 4), p += 4; /* little-endian host, as the format */
    uint64_t u64 = n;
    memcpy(p, &u64, 8), p += 8;
    u32 = (uint32_t)t->iteration;
    memcpy(p, &u32, 4), p += 4;
    memcpy(p, &t->adam_t, 8), p += 8;
    memcpy(p, t->streams[0].rng.s, 32), p += 32;
    memcpy(p, &t->best_gain, 8), p += 8;
    memcpy(p, t->m, 4 * n), p += 4 * n;
    memcpy(p, t->v, 4 * n);
    CHECK_OK(policy_save(t->policy, v1, buf, len, &e), &e);
    free(buf);
    iterate(&a, &st);
    CHECK_OK(ppo_checkpoint_load(b.t, v1, &e), &e);
    iterate(&b, &st);
    assert_true(policy_fingerprint(a.policy) == policy_fingerprint(b.policy));
    /* ...but not K = 2 */
    Rig k;
    rig_open(&k, &c);
    assert_int_not_equal(ppo_checkpoint_load(k.t, v1, &e), 0);
    assert_non_null(strstr(e.msg, "1 rollout streams"));
    rig_close(&k);
    rig_close(&a);
    rig_close(&b);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- mpirun ---- */

/* $GRAPPO_BIN, $GRAPPO, else the grappo next to this test's build directory */
static void grappo_path(char *buf, size_t cap) {
    const char *env = getenv("GRAPPO_BIN");
    if (!env || !*env) env = getenv("GRAPPO");
    if (env && *env) { snprintf(buf, cap, "%s", env); return; }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    snprintf(buf, cap, "build/grappo");
    if (n <= 0) return;
    exe[n] = 0;
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0; /* .../build-x/tests, then .../build-x */
    }
    snprintf(buf, cap, "%s/grappo", exe);
}

/* runs cmd (a shell line), returns its exit status and the fingerprint it printed (0 if none) */
static int run_train(const char *cmd, uint64_t *fingerprint) {
    *fingerprint = 0;
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        const char *k = strstr(line, "policy fingerprint ");
        if (k) *fingerprint = strtoull(k + 19, NULL, 16);
    }
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* the CSV's deterministic columns (iteration .. grad_norm, not the timings) */
static void csv_head_columns(const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    size_t len = 0;
    out[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char *c = line;
        for (int k = 0; k < 11 && c; k++) c = strchr(c + 1, ',');
        if (c) *c = 0;
        len += (size_t)snprintf(out + len, cap - len, "%s\n", line);
        assert_true(len < cap);
    }
    fclose(f);
}

static void test_mpirun_equals_virtual(void **s) {
    (void)s;
    if (system("command -v mpirun >/dev/null 2>&1") != 0) {
        print_message("[ dist     ] mpirun not installed: skipped\n");
        skip();
    }
    if (!dist_compiled()) {
        print_message("[ dist     ] built without MPI (MPI=0): skipped\n");
        skip();
    }
    char bin[4096];
    grappo_path(bin, sizeof bin);
    if (access(bin, X_OK) != 0) {
        print_error("grappo binary not found at %s (set GRAPPO_BIN)\n", bin);
        fail();
    }
    char dir[] = "/tmp/grappo_dist_cli_XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* under ASan, Open MPI's own allocations would fail the leak check at exit */
    const char *mpirun = "ASAN_OPTIONS=detect_leaks=0 mpirun --allow-run-as-root --oversubscribe -np 2";
    const char *args = "train --corpus zoo:random@seed=1 --episodes 4 --max-steps 6 --minibatch 4 --cost roofline "
                       "--exact-only --seed 9";
    char cmd[8192];
    uint64_t f_mpi, f_virt, f_one, f_res;

    snprintf(cmd, sizeof cmd, "%s %s %s --iterations 2 -o %s/mpi.bin --log %s/mpi.csv 2>%s/mpi.err", mpirun, bin, args,
             dir, dir, dir);
    assert_int_equal(run_train(cmd, &f_mpi), 0);
    snprintf(cmd, sizeof cmd, "%s %s --iterations 2 --virtual-ranks 2 -o %s/virt.bin --log %s/virt.csv 2>%s/virt.err",
             bin, args, dir, dir, dir);
    assert_int_equal(run_train(cmd, &f_virt), 0);
    snprintf(cmd, sizeof cmd, "%s %s --iterations 2 -o %s/one.bin 2>/dev/null", bin, args, dir);
    assert_int_equal(run_train(cmd, &f_one), 0);
    print_message("[ dist     ] fingerprints: mpirun -np 2 %016llx, --virtual-ranks 2 %016llx, 1 rank %016llx\n",
                  (unsigned long long)f_mpi, (unsigned long long)f_virt, (unsigned long long)f_one);
    /* rank 0 alone printed the fingerprint: one line, the virtual run's */
    assert_true(f_mpi != 0 && f_mpi == f_virt && f_one != f_virt);
    Err e = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/mpi.bin", dir);
    Policy *p = policy_load(path, NULL, NULL, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    assert_true(policy_fingerprint(p) == f_virt);
    policy_free(p);
    /* the CSV (written by rank 0 only: no doubled rows) holds the same statistics */
    static char a[8192], b[8192];
    snprintf(path, sizeof path, "%s/mpi.csv", dir);
    csv_head_columns(path, a, sizeof a);
    snprintf(path, sizeof path, "%s/virt.csv", dir);
    csv_head_columns(path, b, sizeof b);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "\n2,8,")); /* iteration 2 played 2 ranks x 4 episodes */
    assert_null(strstr(a, "\n3,"));
    /* --resume under mpirun: one iteration, then resume to two == the straight run */
    snprintf(cmd, sizeof cmd, "%s %s %s --iterations 1 -o %s/res.bin 2>/dev/null", mpirun, bin, args, dir);
    assert_int_equal(run_train(cmd, &f_res), 0);
    snprintf(cmd, sizeof cmd, "%s %s %s --iterations 2 --resume -o %s/res.bin 2>%s/res.err", mpirun, bin, args, dir, dir);
    assert_int_equal(run_train(cmd, &f_res), 0);
    assert_true(f_res == f_virt);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* the whole output of a shell line (stdout), NUL-terminated, in buf; returns the exit status */
static int run_capture(const char *cmd, char *buf, size_t cap) {
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `mpirun -np 2 grappo optimize --search ppo+bo`: 3 trials in batches of 2 run on ranks 1, 0,
   1 (the report says which); rank 0 alone prints (one trial table) and writes the kept graph,
   which loads. With one trial, it runs on rank 1, and its graph travels to rank 0 to be
   measured and written: the written file holds the trial's rewrites. Other searches refuse to
   run under mpirun. */
static void test_mpirun_bo_trials(void **s) {
    (void)s;
    if (system("command -v mpirun >/dev/null 2>&1") != 0 || !dist_compiled()) {
        print_message("[ dist     ] mpirun not installed or built without MPI: skipped\n");
        skip();
    }
    char bin[4096];
    grappo_path(bin, sizeof bin);
    char dir[] = "/tmp/grappo_dist_bo_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *mpirun = "ASAN_OPTIONS=detect_leaks=0 mpirun --allow-run-as-root --oversubscribe -np 2";
    char cmd[8192];
    static char out[65536];
    snprintf(cmd, sizeof cmd,
             "%s %s optimize zoo:resnet8 -o %s/out.pb --search ppo+bo --trials 3 --episodes 1 --budget 9 --cost roofline "
             "--threads 1 --repeats 3 --eval-batches 2 --report %s/r.json 2>%s/err",
             mpirun, bin, dir, dir, dir);
    int rc = run_capture(cmd, out, sizeof out);
    if (rc) {
        snprintf(cmd, sizeof cmd, "cat %s/err >&2", dir);
        if (system(cmd)) {}
    }
    assert_int_equal(rc, 0);
    /* one table: rank 0 printed, rank 1 did not */
    const char *t = strstr(out, "Bayesian optimization of the reward weights");
    assert_non_null(t);
    assert_null(strstr(t + 1, "Bayesian optimization of the reward weights"));
    char path[600];
    Err e = {0};
    snprintf(path, sizeof path, "%s/r.json", dir);
    char *js = tu_read_text(path);
    assert_non_null(js);
    cJSON *o = cJSON_Parse(js);
    free(js);
    assert_non_null(o);
    cJSON *trials = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "bayesian_optimization"), "trials");
    assert_int_equal(cJSON_GetArraySize(trials), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetArrayItem(trials, i), "rank")->valuedouble, 1 - i % 2);
    int kept = (int)cJSON_GetObjectItem(cJSON_GetObjectItem(o, "bayesian_optimization"), "best_trial")->valuedouble;
    print_message("[ dist     ] ppo+bo under mpirun -np 2: kept trial %d (rank %d)\n", kept, 1 - kept % 2);
    cJSON_Delete(o);
    /* one trial: on rank 1, written by rank 0 */
    snprintf(cmd, sizeof cmd,
             "%s %s optimize zoo:resnet8 -o %s/one.pb --search ppo+bo --trials 1 --episodes 1 --budget 3 --cost roofline "
             "--threads 1 --repeats 3 --eval-batches 2 --report %s/one.json 2>%s/err",
             mpirun, bin, dir, dir, dir);
    assert_int_equal(run_capture(cmd, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/one.json", dir);
    js = tu_read_text(path);
    assert_non_null(js);
    o = cJSON_Parse(js);
    free(js);
    assert_non_null(o);
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "bayesian_optimization"), "trials"), 0);
    assert_int_equal((int)cJSON_GetObjectItem(t0, "rank")->valuedouble, 1);
    int rewrites = (int)cJSON_GetObjectItem(t0, "rewrites")->valuedouble, applied = 0;
    cJSON *rules = cJSON_GetObjectItem(o, "rules_applied"), *it;
    cJSON_ArrayForEach(it, rules) applied += (int)it->valuedouble;
    print_message("[ dist     ] one trial on rank 1: %d rewrites, %d reported by rank 0, %s\n", rewrites, applied,
                  cJSON_GetObjectItem(o, "verdict")->valuestring);
    assert_int_equal(applied, rewrites); /* the log travelled with the graph (0 when the trial's
                                            measurement kept the input: timing decides) */
    int returned = cJSON_IsTrue(cJSON_GetObjectItem(o, "optimized_graph_returned"));
    cJSON_Delete(o);
    snprintf(path, sizeof path, "%s/one.pb", dir);
    Graph *g1 = graphdef_load(path, &e);
    if (!g1) { print_error("%s\n", e.msg); fail(); }
    int ops1 = 0;
    for (int i = 0; i < g1->n_nodes; i++) ops1 += g1->nodes[i]->op != OP_CONST;
    graph_free(g1);
    Graph *z = zoo_build("resnet8", NULL, &e);
    if (!z) { print_error("%s\n", e.msg); fail(); }
    int ops0 = 0;
    for (int i = 0; i < z->n_nodes; i++) ops0 += z->nodes[i]->op != OP_CONST;
    graph_free(z);
    /* the rewritten graph (fewer ops: folds and fusions) unless the final check refused it */
    if (returned) assert_true(ops1 < ops0);
    else assert_int_equal(ops1, ops0);
    snprintf(path, sizeof path, "%s/out.pb", dir);
    Graph *g = graphdef_load(path, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    graph_free(g);
    /* a search with nothing to spread refuses, on every rank, and writes nothing */
    snprintf(cmd, sizeof cmd, "%s %s optimize zoo:resnet8 -o %s/greedy.pb --search greedy 2>%s/err2", mpirun, bin, dir, dir);
    assert_int_not_equal(run_capture(cmd, out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/greedy.pb", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(cmd, sizeof cmd, "grep -q 'only --search ppo+bo' %s/err2", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_seeds),       cmocka_unit_test(test_mean_of_streams),
        cmocka_unit_test(test_update_schedule),    cmocka_unit_test(test_threads_as_ranks),
        cmocka_unit_test(test_checkpoint_streams), cmocka_unit_test(test_mpirun_equals_virtual),
        cmocka_unit_test(test_mpirun_bo_trials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
