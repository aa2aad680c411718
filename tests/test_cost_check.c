/* test_cost_check.c - suspicious cost-table entries (cost_check.c) against hand-computed
 * rooflines. Cast float32[n] -> float16[n] moves 6n bytes: at the default 20 GB/s and 0.002 ms
 * overhead its roofline is 6n / 2e7 + 0.002 ms. A class of five such casts at exactly their
 * roofline, one of them at 10x (over 8x the class median: suspicious), one small entry at 10x
 * (under 0.5 ms: not judged), and a lone Relu at 200x its roofline (a class of one: over 100x
 * the roofline) and another at 50x (not). --fix removes exactly the suspicious lines, and
 * `grappo cost --check` prints the count. */
#include "testutil.h"

#include <unistd.h>

#include "measure/cost.h"
#include "measure/measure.h"

static double cast_roof(double n) { return 6 * n / 2e7 + 0.002; }
static double relu_roof(double n) { return 8 * n / 2e7 + 0.002; }

static void write_table(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# grappo costs v1 cpu=test threads=1\n");
    double sizes[5] = {1e6, 2e6, 3e6, 4e6, 5e6};
    for (int i = 0; i < 5; i++) {
        double ms = cast_roof(sizes[i]) * (i == 2 ? 10 : 1);
        fprintf(f, "Cast|in=float32[%.0f]|out=float16[%.0f]|DstT=float16;SrcT=float32;Truncate=f\t%.17g\n", sizes[i], sizes[i], ms);
    }
    /* small: 10x its roofline, but 0.03 ms */
    fprintf(f, "Cast|in=float32[1000]|out=float16[1000]|DstT=float16;SrcT=float32;Truncate=f\t%.17g\n", 10 * cast_roof(1000));
    fprintf(f, "Relu|in=float32[1,256,256,16]|out=float32[1,256,256,16]|T=float32\t%.17g\n", 200 * relu_roof(1048576));
    fprintf(f, "Relu|in=float32[1,128,256,16]|out=float32[1,128,256,16]|T=float32\t%.17g\n", 50 * relu_roof(524288));
    fprintf(f, "garbage line without a tab\n");
    fclose(f);
}

static void test_check_and_fix(void **state) {
    (void)state;
    char dir[] = "/tmp/grappo_costcheck_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/costs.tsv", dir);
    write_table(path);
    CostCheck c;
    Err e = {0};
    CHECK_OK(cost_check_file(path, &c, &e), &e);
    assert_int_equal(c.entries, 8);
    assert_int_equal(c.n_suspects, 2);
    assert_non_null(strstr(c.suspects[0].key, "float32[3000000]"));
    assert_true(fabs(c.suspects[0].roofline_ms - cast_roof(3e6)) < 1e-9);
    assert_true(fabs(c.suspects[0].class_ms - cast_roof(3e6)) < 1e-9); /* the class median ratio is 1 */
    assert_non_null(strstr(c.suspects[1].key, "Relu|in=float32[1,256,256,16]"));
    assert_true(isnan(c.suspects[1].class_ms));
    /* the CLI says the same */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s cost --check %s", getenv("GRAPPO") ? getenv("GRAPPO") : "build/grappo", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024] = "";
    assert_non_null(fgets(line, sizeof line, p));
    pclose(p);
    assert_non_null(strstr(line, "8 entries in 2 classes, 2 suspicious"));
    int removed = 0;
    CHECK_OK(cost_check_remove(path, &c, &removed, &e), &e);
    assert_int_equal(removed, 2);
    cost_check_free(&c);
    CHECK_OK(cost_check_file(path, &c, &e), &e);
    assert_int_equal(c.entries, 6);
    assert_int_equal(c.n_suspects, 0);
    cost_check_free(&c);
    unlink(path);
    rmdir(dir);
}

/* ---- the write guard (cost.c): a fake clock for the one-node graphs the cost model times ---- */
typedef struct Phases { int calls, per_attempt; double ms[3]; } Phases;

static double phase_ms(const Graph *g, void *user) {
    (void)g;
    Phases *p = user;
    int a = p->calls++ / p->per_attempt;
    return p->ms[a < 3 ? a : 2];
}

/* x[64,512] -> Relu: roofline 2*64*512*4 bytes / 20 GB/s + 0.002 ms = 0.0151 ms */
static Graph *relu_graph(void) {
    Err e = {0};
    Graph *g = graph_new();
    int x = graph_add_node(g, "x", "Placeholder", &e);
    CHECK_OK(node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[x], "shape", &(Shape){.rank = 2, .dim = {64, 512}}, &e), &e);
    int r = graph_add_node(g, "relu", "Relu", &e);
    CHECK_OK(node_add_input(g, r, (ValueRef){x, 0}, &e), &e);
    CHECK_OK(node_set_attr_type(g->nodes[r], "T", DT_FLOAT, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){r, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    return g;
}

/* times the Relu through a fresh cost model whose clock gives ms[attempt] (write_noisy as
   training sets it); returns the estimate, the stats, and how many entries a reopened model
   finds on disk and the time it reads back */
static double guarded(const double ms[3], bool write_noisy, CostStats *st, int *on_disk, double *read_back) {
    Err e = {0};
    char dir[] = "/tmp/grappo_guard_XXXXXX";
    assert_non_null(mkdtemp(dir));
    /* 3 repeats + 2 warm-ups, two runs each: 10 clock readings per attempt */
    Phases p = {.per_attempt = 10, .ms = {ms[0], ms[1], ms[2]}};
    latency_set_fake_timer(phase_ms, &p);
    Graph *g = relu_graph();
    CostOpts co = {.backend = COST_MEASURED, .threads = 1, .cache_dir = dir, .repeats = 3, .write_noisy = write_noisy};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostEstimate est;
    CHECK_OK(cost_estimate(cm, g, &est, NULL, &e), &e);
    cost_stats(cm, st);
    cost_close(cm);
    latency_set_fake_timer(NULL, NULL);
    cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostStats again;
    cost_stats(cm, &again);
    *on_disk = again.entries;
    *read_back = -1;
    if (again.entries) { /* served from the disk cache: the fake clock is off, nothing is timed */
        CostEstimate back;
        CHECK_OK(cost_estimate(cm, g, &back, NULL, &e), &e);
        cost_stats(cm, &again);
        assert_int_equal(again.timed, 0);
        *read_back = back.latency_ms;
    }
    char path[512];
    snprintf(path, sizeof path, "%s", cost_cache_path(cm));
    cost_close(cm);
    unlink(path);
    rmdir(dir);
    graph_free(g);
    return est.latency_ms;
}

static void test_write_guard(void **state) {
    (void)state;
    CostStats st;
    int on_disk;
    double back;
    /* 30 ms (2000x the roofline: a preempted timing), then 1 ms twice: the two retimes agree,
       the minimum is kept and written */
    double est = guarded((double[]){30, 1, 1}, false, &st, &on_disk, &back);
    assert_true(est == 1.0);
    assert_int_equal(st.retimed, 2);
    assert_int_equal(st.noisy, 0);
    assert_int_equal(on_disk, 1);
    assert_true(back == 1.0);
    /* 30, 1, 10: no two attempts agree within 1.5x: the minimum serves the run, nothing is written */
    est = guarded((double[]){30, 1, 10}, false, &st, &on_disk, &back);
    assert_true(est == 1.0);
    assert_int_equal(st.noisy, 1);
    assert_int_equal(on_disk, 0);
    /* the same with write_noisy (training): the time the run used is written, and read back
       exactly, so a rerun from the table sees what this run saw */
    est = guarded((double[]){30, 1, 10}, true, &st, &on_disk, &back);
    assert_true(est == 1.0);
    assert_int_equal(st.noisy, 1);
    assert_int_equal(on_disk, 1);
    assert_true(back == est);
    /* an ordinary time (0.01 ms, under the roofline's 20x) is written at once, never retimed */
    est = guarded((double[]){0.01, 99, 99}, false, &st, &on_disk, &back);
    assert_true(est == 0.01);
    assert_int_equal(st.retimed, 0);
    assert_int_equal(on_disk, 1);
    assert_true(back == 0.01);
}

static void test_missing_table(void **state) {
    (void)state;
    CostCheck c;
    Err e = {0};
    assert_int_equal(cost_check_file("/nonexistent/costs.tsv", &c, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_and_fix),
        cmocka_unit_test(test_missing_table),
        cmocka_unit_test(test_write_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
