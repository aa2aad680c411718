/* test_dist_uneven.c - distributed runs compute what serial runs compute, through the CLI:
 *   - `mpirun -np 3 grappo train` with episodes whose lengths differ between ranks and a
 *     minibatch that does not divide the samples (uneven minibatches on every rank) gives the
 *     policy `--virtual-ranks 3` gives in one process (fingerprint and the training log);
 *   - `mpirun -np 2 grappo optimize --search ppo+bo` equals the serial run with the same BO
 *     batch: the same trials (weights proposed, rewrites, memory, accuracy, objective) and the
 *     same kept trial. The objective is memory, which is measured without timing noise, so
 *     every BO decision is deterministic and any difference is the distribution's.
 * Skipped (with the reason) where mpirun is missing or grappo was built without MPI. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "search/dist.h"
#include "search/policy.h"

static char bin[4096];
static char dir[64];

static int setup(void **state) {
    (void)state;
    const char *env = getenv("GRAPPO_BIN");
    if (!env || !*env) env = getenv("GRAPPO");
    snprintf(bin, sizeof bin, "%s", env && *env ? env : "build/grappo");
    snprintf(dir, sizeof dir, "/tmp/grappo_uneven_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void need_mpi(void) {
    if (system("command -v mpirun >/dev/null 2>&1") != 0) TU_SKIP("mpirun is not installed");
    if (!dist_compiled()) TU_SKIP("grappo was built without MPI (MPI=0)");
    if (access(bin, X_OK) != 0) { print_error("grappo binary not found at %s (set GRAPPO)\n", bin); fail(); }
}

#define MPIRUN "ASAN_OPTIONS=detect_leaks=0 mpirun --allow-run-as-root --oversubscribe"

/* runs cmd; returns its exit status and the policy fingerprint it printed (0 if none) */
static int run_fp(const char *cmd, uint64_t *fp) {
    *fp = 0;
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        const char *k = strstr(line, "policy fingerprint ");
        if (k) *fp = strtoull(k + 19, NULL, 16);
    }
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* the CSV's first 11 columns (the statistics; the rest are timings) */
static char *csv_stats(const char *path) {
    char *t = tu_read_text(path);
    assert_non_null(t);
    char *out = calloc(strlen(t) + 1, 1), *o = out;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        char *c = line;
        for (int k = 0; k < 11 && c; k++) c = strchr(c + 1, ',');
        if (c) *c = 0;
        o += sprintf(o, "%s\n", line);
    }
    free(t);
    return out;
}

static void test_mpirun_3_uneven_equals_virtual_3(void **state) {
    (void)state;
    need_mpi();
    /* random DAGs give episodes of different lengths on each rank; 3 episodes x <= 7 steps per
       rank split into minibatches of 5 leave a partial minibatch on every rank */
    const char *args = "train --corpus zoo:random@seed=2,zoo:random@seed=3,zoo:random@seed=5 --episodes 3 --max-steps 7 "
                       "--minibatch 5 --cost roofline --exact-only --seed 4 --iterations 2";
    char cmd[8192];
    uint64_t f_mpi, f_virt, f_one;
    snprintf(cmd, sizeof cmd, "%s -np 3 %s %s -o %s/mpi.bin --log %s/mpi.csv 2>%s/mpi.err", MPIRUN, bin, args, dir, dir, dir);
    assert_int_equal(run_fp(cmd, &f_mpi), 0);
    snprintf(cmd, sizeof cmd, "%s %s --virtual-ranks 3 -o %s/virt.bin --log %s/virt.csv 2>%s/virt.err", bin, args, dir, dir, dir);
    assert_int_equal(run_fp(cmd, &f_virt), 0);
    snprintf(cmd, sizeof cmd, "%s %s -o %s/one.bin 2>/dev/null", bin, args, dir);
    assert_int_equal(run_fp(cmd, &f_one), 0);
    printf("[ dist     ] fingerprints: mpirun -np 3 %016llx, --virtual-ranks 3 %016llx, 1 rank %016llx\n", (unsigned long long)f_mpi,
           (unsigned long long)f_virt, (unsigned long long)f_one);
    assert_true(f_mpi != 0);
    assert_true(f_mpi == f_virt);
    assert_true(f_one != f_virt); /* three ranks did train differently from one */
    char path[256];
    snprintf(path, sizeof path, "%s/mpi.csv", dir);
    char *a = csv_stats(path);
    snprintf(path, sizeof path, "%s/virt.csv", dir);
    char *b = csv_stats(path);
    assert_string_equal(a, b);
    printf("%s", a);
    /* the episode lengths differ: the samples per iteration are not a multiple of 3 x 5 */
    free(a);
    free(b);
    Err e = {0};
    snprintf(path, sizeof path, "%s/mpi.bin", dir);
    Policy *p = policy_load(path, NULL, NULL, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    assert_true(policy_fingerprint(p) == f_virt);
    policy_free(p);
}

static cJSON *load_json(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *t = tu_read_text(path);
    assert_non_null(t);
    cJSON *j = cJSON_Parse(t);
    free(t);
    assert_non_null(j);
    return j;
}

static void test_mpirun_bo_equals_serial(void **state) {
    (void)state;
    need_mpi();
    const char *args = "optimize zoo:resnet8 --search ppo+bo --objective memory --trials 6 --bo-batch 2 --episodes 3 --budget 18 "
                       "--cost roofline --threads 1 --repeats 3 --eval-batches 2 --seed 3";
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s -np 2 %s %s -o %s/mpi.pb --report %s/mpi.json >/dev/null 2>%s/mpi.err", MPIRUN, bin, args, dir, dir,
             dir);
    int rc = system(cmd);
    if (rc) { snprintf(cmd, sizeof cmd, "cat %s/mpi.err >&2", dir); if (system(cmd)) {} }
    assert_int_equal(rc, 0);
    snprintf(cmd, sizeof cmd, "%s %s -o %s/serial.pb --report %s/serial.json >/dev/null 2>%s/serial.err", bin, args, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    cJSON *m = load_json("mpi.json"), *s = load_json("serial.json");
    cJSON *bm = cJSON_GetObjectItem(m, "bayesian_optimization"), *bs = cJSON_GetObjectItem(s, "bayesian_optimization");
    cJSON *tm = cJSON_GetObjectItem(bm, "trials"), *ts = cJSON_GetObjectItem(bs, "trials");
    assert_int_equal(cJSON_GetArraySize(tm), 6);
    assert_int_equal(cJSON_GetArraySize(ts), 6);
    const char *same[] = {"w_lat", "w_mem", "w_acc", "rewrites", "peak_bytes", "min_cosine", "f"};
    int ranks_used[2] = {0, 0};
    for (int i = 0; i < 6; i++) {
        cJSON *a = cJSON_GetArrayItem(tm, i), *b = cJSON_GetArrayItem(ts, i);
        for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
            double x = cJSON_GetObjectItem(a, same[k])->valuedouble, y = cJSON_GetObjectItem(b, same[k])->valuedouble;
            if (x != y) {
                print_error("trial %d: %s %.17g under mpirun, %.17g serial\n", i, same[k], x, y);
                fail();
            }
        }
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(a, "feasible")), cJSON_IsTrue(cJSON_GetObjectItem(b, "feasible")));
        int r = (int)cJSON_GetObjectItem(a, "rank")->valuedouble;
        assert_true(r == 0 || r == 1);
        ranks_used[r]++;
        printf("[ dist     ] trial %d (rank %d): w = (%.3f, %.3f, %.3f), %d rewrites, peak %.0f bytes, f %.5f - the same serially\n", i,
               r, cJSON_GetObjectItem(a, "w_lat")->valuedouble, cJSON_GetObjectItem(a, "w_mem")->valuedouble,
               cJSON_GetObjectItem(a, "w_acc")->valuedouble, (int)cJSON_GetObjectItem(a, "rewrites")->valuedouble,
               cJSON_GetObjectItem(a, "peak_bytes")->valuedouble, cJSON_GetObjectItem(a, "f")->valuedouble);
    }
    assert_true(ranks_used[0] > 0 && ranks_used[1] > 0); /* really spread over both ranks */
    assert_int_equal((int)cJSON_GetObjectItem(bm, "best_trial")->valuedouble, (int)cJSON_GetObjectItem(bs, "best_trial")->valuedouble);
    int rewrites = 0;
    for (int i = 0; i < 6; i++) rewrites += (int)cJSON_GetObjectItem(cJSON_GetArrayItem(ts, i), "rewrites")->valuedouble;
    assert_true(rewrites > 0);
    cJSON_Delete(m);
    cJSON_Delete(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpirun_3_uneven_equals_virtual_3),
        cmocka_unit_test(test_mpirun_bo_equals_serial),
    };
    return cmocka_run_group_tests_name("dist_uneven", tests, setup, teardown);
}
