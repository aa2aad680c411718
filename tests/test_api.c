/* test_api.c - the public C API (include/grappo.h) as a user sees it: load, interface, run
 * (against the reference runtime), options, optimize with the user's own metric, the JSON
 * report, save and reload, error codes and the per-thread message; libgrappo.so exports only
 * grappo_* symbols; `make install PREFIX=<fresh dir>` gives a header, both libraries and a
 * grappo.pc with which examples/use.c (README's example) builds and runs. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grappo.h"
#include "io/graphdef.h"
#include "runtime/ref.h"
#include "zoo/zoo.h"

static char tmp[256];
static char build_dir[512] = "build";

static int setup(void **state) {
    (void)state;
    const char *g = getenv("GRAPPO");
    if (g) {
        snprintf(build_dir, sizeof build_dir, "%s", g);
        char *slash = strrchr(build_dir, '/');
        if (slash) *slash = 0;
        else snprintf(build_dir, sizeof build_dir, ".");
    }
    snprintf(tmp, sizeof tmp, "/tmp/grappo_api_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return tu_rmtree(tmp);
}

static void check(int rc) {
    if (rc != GRAPPO_OK) fail_msg("grappo call failed (%d): %s", rc, grappo_errmsg());
}

static void test_version_and_errors(void **state) {
    (void)state;
    assert_string_equal(grappo_libversion(), GRAPPO_VERSION);
    assert_int_equal(grappo_libversion_number(), GRAPPO_VERSION_NUMBER);
    grappo_model *m = (grappo_model *)0x1;
    assert_int_equal(grappo_model_load("/nonexistent/model.pb", &m), GRAPPO_INPUT);
    assert_null(m);
    assert_non_null(strstr(grappo_errmsg(), "/nonexistent/model.pb"));
    assert_null(strchr(grappo_errmsg(), '\n'));
    assert_int_equal(grappo_model_load("zoo:no-such-model", &m), GRAPPO_INPUT);
    assert_non_null(strstr(grappo_errmsg(), "unknown model"));
    /* success clears the message */
    check(grappo_model_load("zoo:resnet8", &m));
    assert_string_equal(grappo_errmsg(), "");
    grappo_model_free(m);
    grappo_model_free(NULL);
    grappo_result_free(NULL);
    grappo_options_free(NULL);
    grappo_free(NULL);
}

static void *other_thread(void *arg) {
    (void)arg;
    /* a fresh thread's message is its own: empty, whatever the main thread did */
    return (void *)(intptr_t)(grappo_errmsg()[0] == 0);
}

static void test_errmsg_is_per_thread(void **state) {
    (void)state;
    grappo_model *m = NULL;
    assert_int_equal(grappo_model_load("/nonexistent/x.pb", &m), GRAPPO_INPUT);
    pthread_t t;
    void *ret = NULL;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_true(ret == (void *)1);
    assert_non_null(strstr(grappo_errmsg(), "/nonexistent/x.pb"));
}

/* interface and run: the fast runtime's outputs through the API match the reference runtime */
static void test_interface_and_run(void **state) {
    (void)state;
    grappo_model *m = NULL;
    check(grappo_model_load("zoo:resnet8", &m));
    const grappo_tensor *in, *out;
    int n_in, n_out;
    check(grappo_model_inputs(m, &in, &n_in));
    check(grappo_model_outputs(m, &out, &n_out));
    assert_int_equal(n_in, 1);
    assert_int_equal(n_out, 2);
    assert_string_equal(in[0].name, "input_1");
    assert_int_equal(in[0].dtype, GRAPPO_FLOAT32);
    assert_int_equal(in[0].rank, 4);
    assert_true(in[0].shape[0] == -1 && in[0].shape[3] == 3); /* dynamic batch */
    assert_string_equal(out[1].name, "probs");

    float *x = malloc(sizeof *x * 32 * 32 * 3);
    for (int i = 0; i < 32 * 32 * 3; i++) x[i] = (float)((i * 37) % 101) / 101.0f;
    grappo_tensor feed = {.name = "input_1", .dtype = GRAPPO_FLOAT32, .rank = 4, .shape = {1, 32, 32, 3}, .data = x,
                          .nbytes = sizeof *x * 32 * 32 * 3};
    grappo_tensor res[2];
    check(grappo_model_run(m, &feed, 1, res, 2));
    assert_int_equal(res[1].rank, 2);
    assert_true(res[1].shape[0] == 1 && res[1].shape[1] == 10);
    assert_int_equal(res[1].nbytes, 10 * sizeof(float));

    /* the same graph on the reference runtime */
    Err e = {0};
    ZooOpts zo = zoo_opts_default();
    Graph *g = zoo_build("resnet8", &zo, &e);
    assert_non_null(g);
    RefFeed rf = {"input_1", {0}};
    CHECK_OK(tensor_from_data(&rf.value, DT_FLOAT, &(Shape){4, {1, 32, 32, 3}}, x, feed.nbytes, &e), &e);
    Tensor ref[2];
    CHECK_OK(ref_run(g, &rf, 1, NULL, 0, ref, NULL, &e), &e);
    const float *p = res[1].data, *q = tensor_data(&ref[1]);
    double sum = 0;
    for (int k = 0; k < 10; k++) {
        assert_true(fabs(p[k] - q[k]) < 1e-4);
        sum += p[k];
    }
    assert_true(fabs(sum - 1) < 1e-4); /* softmax */
    for (int k = 0; k < 2; k++) tensor_release(&ref[k]);
    tensor_release(&rf.value);
    graph_free(g);

    /* wrong sizes are refused with a message, outputs left empty */
    grappo_tensors_free(res, 2);
    feed.nbytes -= 4;
    assert_int_equal(grappo_model_run(m, &feed, 1, res, 2), GRAPPO_INPUT);
    assert_non_null(strstr(grappo_errmsg(), "input_1"));
    assert_null(res[0].data);
    assert_int_equal(grappo_model_run(m, &feed, 1, res, 1), GRAPPO_INPUT);
    grappo_tensors_free(res, 2);
    free(x);
    grappo_model_free(m);
}

static void test_options(void **state) {
    (void)state;
    grappo_options *o = NULL;
    check(grappo_options_new(&o));
    check(grappo_options_set(o, "search", "rules:fuse_conv_bn_act,remove_identity"));
    check(grappo_options_set(o, "max_accuracy_drop", "0.02"));
    assert_int_equal(grappo_options_set(o, "search", "fastest"), GRAPPO_INPUT);
    assert_non_null(strstr(grappo_errmsg(), "fastest"));
    assert_int_equal(grappo_options_set(o, "max_accuracy_drop", "5"), GRAPPO_INPUT);
    assert_int_equal(grappo_options_set(o, "budget", "ten"), GRAPPO_INPUT);
    assert_int_equal(grappo_options_set(o, "no_such_key", "1"), GRAPPO_INPUT);
    assert_non_null(strstr(grappo_errmsg(), "no_such_key"));
    assert_int_equal(grappo_options_set(o, "search", "rules:no_such_rule"), GRAPPO_INPUT);
    grappo_options_free(o);
}

typedef struct Metric { int calls; grappo_model *input; } Metric;

/* the user's metric: agreement of the argmax with the input model's on one fixed batch */
static int argmax_metric(grappo_model *cand, void *user, double *score) {
    Metric *mt = user;
    mt->calls++;
    static float x[32 * 32 * 3];
    for (int i = 0; i < 32 * 32 * 3; i++) x[i] = (float)((i * 13) % 29) / 29.0f;
    grappo_tensor feed = {.name = "input_1", .dtype = GRAPPO_FLOAT32, .rank = 4, .shape = {1, 32, 32, 3}, .data = x, .nbytes = sizeof x};
    grappo_tensor a[2], b[2];
    if (grappo_model_run(cand, &feed, 1, a, 2)) return 1;
    if (grappo_model_run(mt->input, &feed, 1, b, 2)) { grappo_tensors_free(a, 2); return 1; }
    int ia = 0, ib = 0;
    const float *pa = a[1].data, *pb = b[1].data;
    for (int k = 1; k < 10; k++) {
        if (pa[k] > pa[ia]) ia = k;
        if (pb[k] > pb[ib]) ib = k;
    }
    *score = ia == ib;
    grappo_tensors_free(a, 2);
    grappo_tensors_free(b, 2);
    return 0;
}

static int count_progress(const char *what, int done, int total, void *user) {
    (void)what, (void)done, (void)total;
    ++*(int *)user;
    return 0;
}

static void test_optimize_with_eval_fn(void **state) {
    (void)state;
    grappo_model *m = NULL;
    check(grappo_model_load("zoo:resnet8", &m));
    grappo_options *o = NULL;
    check(grappo_options_new(&o));
    check(grappo_options_set(o, "repeats", "3"));
    check(grappo_options_set(o, "eval_batches", "2"));
    check(grappo_options_set(o, "threads", "1"));
    check(grappo_options_set(o, "max_accuracy_drop", "0"));
    Metric mt = {0, m};
    int steps = 0;
    check(grappo_options_set_eval_fn(o, argmax_metric, &mt));
    check(grappo_options_set_progress(o, count_progress, &steps));
    grappo_result *r = NULL;
    check(grappo_optimize(m, o, &r));
    assert_int_equal(mt.calls, 2); /* the input and the candidate */
    assert_true(steps >= 2);
    char *json = NULL;
    check(grappo_result_json(r, &json));
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    const cJSON *acc = cJSON_GetObjectItem(j, "accuracy");
    assert_true(cJSON_GetObjectItem(acc, "metric_before")->valuedouble == 1);
    assert_true(cJSON_GetObjectItem(acc, "metric_after")->valuedouble == 1);
    assert_string_equal(cJSON_GetObjectItem(j, "search")->valuestring, "grappler");
    const cJSON *samples = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "before"), "latency_ms_samples");
    assert_int_equal(cJSON_GetArraySize(samples), 3);
    bool kept = cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned"));
    assert_int_equal(grappo_result_kept(r), kept);
    cJSON_Delete(j);
    grappo_free(json);

    /* save: the file reloads and runs; the result model has the same interface */
    char path[512];
    snprintf(path, sizeof path, "%s/opt.pb", tmp);
    check(grappo_result_save(r, path));
    grappo_model *back = NULL, *rm = NULL;
    check(grappo_model_load(path, &back));
    check(grappo_result_model(r, &rm));
    const grappo_tensor *info;
    int n;
    check(grappo_model_outputs(back, &info, &n));
    assert_int_equal(n, 2);
    snprintf(path, sizeof path, "%s/model_save.pb", tmp);
    check(grappo_model_save(rm, path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* a save into a missing directory: GRAPPO_INPUT, nothing written */
    snprintf(path, sizeof path, "%s/missing/opt.pb", tmp);
    assert_int_equal(grappo_result_save(r, path), GRAPPO_INPUT);
    assert_non_null(strstr(grappo_errmsg(), "missing"));
    grappo_model_free(back);
    grappo_model_free(rm);
    /* the result outlives the model it was made from: freeing it must not read that model
       (it did: the session's reference outputs were freed by the input's output count) */
    grappo_model_free(m);
    m = NULL;
    grappo_result_free(r);

    /* a failing metric fails the optimization with a message */
    check(grappo_options_set_eval_fn(o, (grappo_eval_fn)NULL, NULL));
    grappo_options_free(o);
    grappo_model_free(m);
}

static int fail_metric(grappo_model *cand, void *user, double *score) {
    (void)cand, (void)user, (void)score;
    return 1;
}

static int stop_at_once(const char *what, int done, int total, void *user) {
    (void)what, (void)done, (void)total, (void)user;
    return 1;
}

static void test_optimize_failures(void **state) {
    (void)state;
    grappo_model *m = NULL;
    check(grappo_model_load("zoo:resnet8", &m));
    grappo_options *o = NULL;
    check(grappo_options_new(&o));
    check(grappo_options_set(o, "repeats", "2"));
    check(grappo_options_set(o, "eval_batches", "1"));
    check(grappo_options_set_eval_fn(o, fail_metric, NULL));
    grappo_result *r = NULL;
    assert_int_equal(grappo_optimize(m, o, &r), GRAPPO_ERROR);
    assert_null(r);
    assert_non_null(strstr(grappo_errmsg(), "evaluation function"));
    check(grappo_options_set_eval_fn(o, NULL, NULL));
    check(grappo_options_set_progress(o, stop_at_once, NULL));
    assert_int_equal(grappo_optimize(m, o, &r), GRAPPO_CANCELLED);
    assert_null(r);
    grappo_options_free(o);
    grappo_model_free(m);
}

/* libgrappo.so exports the API and nothing else */
static void test_shared_library_exports_only_api(void **state) {
    (void)state;
    char cmd[1200], line[512];
    snprintf(cmd, sizeof cmd, "nm -D --defined-only %s/libgrappo.so", build_dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int n = 0, foreign = 0;
    while (fgets(line, sizeof line, p)) {
        char addr[64], type[8], name[400];
        if (sscanf(line, "%63s %7s %399s", addr, type, name) != 3) continue;
        n++;
        if (strncmp(name, "grappo_", 7)) { print_error("exported: %s\n", name); foreign++; }
    }
    assert_int_equal(pclose(p), 0);
    assert_true(n >= 20);
    assert_int_equal(foreign, 0);
    snprintf(cmd, sizeof cmd, "readelf -d %s/libgrappo.so | grep -q 'SONAME.*libgrappo.so.0'", build_dir);
    assert_int_equal(system(cmd), 0);
}

/* make install into a fresh PREFIX; README's example builds with pkg-config and runs */
static void test_install_and_example(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    TU_SKIP("the sanitizer build's library needs the sanitizer runtime in the example too");
#endif
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "make --no-print-directory -s install BUILD=%s PREFIX=%s/prefix >%s/install.log 2>&1", build_dir, tmp, tmp);
    assert_int_equal(system(cmd), 0);
    const char *files[] = {"include/grappo.h", "lib/libgrappo.a", "lib/libgrappo.so", "lib/libgrappo.so.0", "lib/pkgconfig/grappo.pc"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof p, "%s/prefix/%s", tmp, files[i]);
        if (stat(p, &st)) fail_msg("not installed: %s", p);
    }
    /* the installed header stands alone: no path into grappo's sources */
    snprintf(cmd, sizeof cmd, "grep -q '\\.\\./src' %s/prefix/include/grappo.h", tmp);
    assert_true(system(cmd) != 0);
    snprintf(cmd, sizeof cmd,
             "cd %s && PKG_CONFIG_PATH=%s/prefix/lib/pkgconfig cc -Wall -Werror %s/examples/use.c $(PKG_CONFIG_PATH=%s/prefix/lib/pkgconfig pkg-config --cflags --libs grappo) -o use >cc.log 2>&1",
             tmp, tmp, getcwd((char[1024]){0}, 1024), tmp);
    if (system(cmd)) {
        char *log = NULL;
        char p[600];
        snprintf(p, sizeof p, "%s/cc.log", tmp);
        log = tu_read_text(p);
        fail_msg("the example did not build: %s", log ? log : "");
    }
    snprintf(cmd, sizeof cmd, "cd %s && LD_LIBRARY_PATH=%s/prefix/lib ./use zoo:resnet8 >use.out 2>&1", tmp, tmp);
    assert_int_equal(system(cmd), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/use.out", tmp);
    char *out = tu_read_text(p);
    assert_non_null(out);
    assert_string_equal(out, "loaded zoo:resnet8\n");
    free(out);
    /* examples/optimize.c too: optimizes through the installed library, writes the model */
    snprintf(cmd, sizeof cmd,
             "cd %s && cc -Wall -Werror %s/examples/optimize.c $(PKG_CONFIG_PATH=%s/prefix/lib/pkgconfig pkg-config --cflags --libs grappo) "
             "-o opt >cc2.log 2>&1 && LD_LIBRARY_PATH=%s/prefix/lib ./opt zoo:resnet8 r8opt.pb grappler >opt.out 2>&1",
             tmp, getcwd((char[1024]){0}, 1024), tmp, tmp);
    assert_int_equal(system(cmd), 0);
    char q[600];
    snprintf(q, sizeof q, "%s/opt.out", tmp);
    char *opt = tu_read_text(q);
    assert_non_null(opt);
    assert_non_null(strstr(opt, "\"verdict\""));
    assert_non_null(strstr(opt, "r8opt.pb: "));
    free(opt);
    snprintf(q, sizeof q, "%s/r8opt.pb", tmp);
    struct stat sq;
    assert_int_equal(stat(q, &sq), 0);
    /* and its error path: exit 1 with grappo's message */
    snprintf(cmd, sizeof cmd, "cd %s && LD_LIBRARY_PATH=%s/prefix/lib ./use /nonexistent.pb >use.out 2>&1", tmp, tmp);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    out = tu_read_text(p);
    assert_non_null(strstr(out, "load: cannot open '/nonexistent.pb'"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_errors),
        cmocka_unit_test(test_errmsg_is_per_thread),
        cmocka_unit_test(test_interface_and_run),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_optimize_with_eval_fn),
        cmocka_unit_test(test_optimize_failures),
        cmocka_unit_test(test_shared_library_exports_only_api),
        cmocka_unit_test(test_install_and_example),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
