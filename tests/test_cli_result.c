/* test_cli_result.c - the first ten minutes (issue 19): `grappo optimize` ends with one RESULT
 * line (ratios "x faster" / "x smaller", input / result, "faster" only when a sign test over
 * the alternating rounds says so; whether the output runs in stock TensorFlow), `--json` / `--report -` print the report, `--fail-if-unchanged` exits 3 when the
 * input was returned, the report names tool version, threads, CPU and ISA; `bench` always
 * measures `none` (no "nan" speedups); flag slips: --max-accuracy-drop 1 refused, 1% accepted,
 * budgets outside ppo+bo refused; zoo:NAME@key=v wherever a model is accepted; inspect shows a
 * dynamic batch as '?'; train --resume with nothing left to do is an error; the kernel cost cache
 * says where it lives when it is created. */
#include "testutil.h"
#include "testcli.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grappo.h"

/* the last non-empty line of stdout (static buffer) */
static const char *last_line(void) {
    static char line[2048];
    char *out = slurp("stdout");
    assert_non_null(out);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n') out[--n] = 0;
    char *nl = strrchr(out, '\n');
    snprintf(line, sizeof line, "%s", nl ? nl + 1 : out);
    free(out);
    return line;
}

static int setup(void **state) {
    (void)state;
    return cli_init("grappo_result_");
}

static int teardown(void **state) {
    (void)state;
    return cli_cleanup();
}

#define QUICK "--repeats 3 --eval-batches 2 --threads 1"

static void test_result_line(void **state) {
    (void)state;
    assert_int_equal(run("optimize zoo:resnet8 -o %s/g.pb --search grappler " QUICK, tmp), 0);
    const char *l = last_line();
    assert_true(!strncmp(l, "RESULT: ", 8));
    char *out = slurp("stdout");
    /* the verdict decides which RESULT: kept (x faster, x smaller) or unchanged with its reason */
    if (strstr(out, "optimized graph written")) {
        assert_non_null(strstr(l, "x faster, "));
        /* 3 alternating rounds cannot make a sign test significant (p >= 0.25); the sequential
           test then times more rounds (up to 32): "faster" when it decided, else "not
           significant" with a p that is indeed >= 0.05 (an exact result kept on the roofline) */
        const char *ns = strstr(l, "x faster, not significant (p = ");
        if (ns) assert_true(strtod(ns + strlen("x faster, not significant (p = "), NULL) >= 0.05);
        else assert_null(strstr(l, "not significant"));
        assert_non_null(strstr(l, "x smaller (peak memory)"));
        assert_non_null(strstr(l, "accuracy kept (top-1 100.00%"));
        assert_non_null(strstr(l, "runs in stock TensorFlow: yes"));
    } else {
        assert_non_null(strstr(l, "RESULT: unchanged"));
    }
    /* the table says what its ratios are */
    assert_non_null(strstr(out, "x faster\n"));
    assert_non_null(strstr(out, "x smaller\n"));
    free(out);

    /* int8 needs grappo's ops: the line names them */
    assert_int_equal(run("optimize zoo:resnet8 -o %s/q.pb --search grappler+int8 " QUICK, tmp), 0);
    l = last_line();
    out = slurp("stdout");
    if (strstr(out, "optimized graph written")) {
        assert_non_null(strstr(l, "runs in stock TensorFlow: no ("));
        assert_non_null(strstr(l, "GrappoQConv2D"));
    }
    free(out);
}

static void test_unchanged_exit_status(void **state) {
    (void)state;
    /* resnet8 has no Identity nodes: nothing to apply */
    assert_int_equal(run("optimize zoo:resnet8 -o %s/u.pb --search rules:remove_identity " QUICK, tmp), 0);
    assert_string_equal(last_line(), "RESULT: unchanged \xe2\x80\x94 no rewrite was applied");
    assert_int_equal(run("optimize zoo:resnet8 -o %s/u.pb --search rules:remove_identity --fail-if-unchanged " QUICK, tmp), 3);
    assert_string_equal(last_line(), "RESULT: unchanged \xe2\x80\x94 no rewrite was applied");
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/u.pb", tmp);
    assert_int_equal(stat(p, &st), 0); /* the input graph, as the verdict says */
}

static void check_report(const char *text, bool unchanged) {
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tool"), "version")->valuestring, GRAPPO_VERSION);
    const cJSON *m = cJSON_GetObjectItem(j, "machine");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(m, "cpu")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(m, "threads")));
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "isa"), "vnni")));
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(j, "runs_in_stock_tensorflow")));
    const char *res = cJSON_GetObjectItem(j, "result")->valuestring;
    assert_true(!strncmp(res, "RESULT: ", 8));
    assert_true(unchanged == (strstr(res, "unchanged") != NULL));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "after"), "nodes_non_const")));
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(j, "timings_unstable")));
    const cJSON *p = cJSON_GetObjectItem(j, "latency_sign_test_p");
    assert_true(cJSON_IsNull(p) || (cJSON_IsNumber(p) && p->valuedouble >= 0.25)); /* 3 rounds */
    cJSON_Delete(j);
}

static void test_json(void **state) {
    (void)state;
    assert_int_equal(run("optimize zoo:resnet8 -o %s/j.pb --search rules:remove_identity --json " QUICK, tmp), 0);
    char *out = slurp("stdout");
    check_report(out, true);
    free(out);
    assert_int_equal(run("optimize zoo:resnet8 -o %s/j.pb --report - " QUICK, tmp), 0);
    out = slurp("stdout");
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j); /* stdout is the JSON alone */
    cJSON_Delete(j);
    free(out);
    char p[512];
    snprintf(p, sizeof p, "%s/-", tmp);
    assert_int_equal(access(p, F_OK), -1); /* no file named '-' */
    assert_int_equal(access("-", F_OK), -1);
}

static void test_bench_always_has_none(void **state) {
    (void)state;
    assert_int_equal(run("bench zoo:resnet8 --methods grappler --repeats 3 --eval-batches 1 --threads 1 --out %s/bench", tmp), 0);
    char *out = slurp("stdout");
    assert_non_null(strstr(out, " none "));
    assert_null(strstr(out, "nan"));
    /* a ratio, significant or not (which one depends on the timings) */
    assert_true(strstr(out, "x faster") != NULL || strstr(out, "x, not significantly faster") != NULL);
    free(out);
    char p[512];
    snprintf(p, sizeof p, "%s/bench/report.md", tmp);
    char *md = tu_read_text(p);
    assert_non_null(md);
    assert_null(strstr(md, "nanx"));
    free(md);
}

static void test_flag_slips(void **state) {
    (void)state;
    assert_int_equal(run("optimize zoo:resnet8 -o %s/f.pb --max-accuracy-drop 1", tmp), 2);
    assert_int_equal(run("optimize zoo:resnet8 -o %s/f.pb --max-accuracy-drop 5", tmp), 2);
    assert_int_equal(run("optimize zoo:resnet8 -o %s/f.pb --max-accuracy-drop 1%% --search rules:remove_identity " QUICK, tmp), 0);
    assert_int_equal(run("optimize zoo:resnet8 -o %s/f.pb --memory-budget 20MiB", tmp), 2);
    char *err = slurp("stderr");
    assert_non_null(strstr(err, "ppo+bo"));
    free(err);
    assert_int_equal(run("optimize --help"), 0);
    char *help = slurp("stdout");
    char *first = strchr(help, '\n');
    assert_non_null(first);
    *first = 0;
    assert_non_null(strstr(help, "rules:R1,...")); /* on the usage line */
    *first = '\n';
    assert_null(strstr(help, "rank 0 writes\n"));
    assert_null(strstr(help, "]                       ["));
    free(help);
    /* zoo:NAME@key=v wherever a model is accepted */
    assert_int_equal(run("inspect zoo:resnet8@image=64"), 0);
    char *out = slurp("stdout");
    assert_non_null(strstr(out, "[?,64,64,3]")); /* the dynamic batch shows as '?' */
    free(out);
    assert_int_equal(run("inspect zoo:resnet8@colour=1"), 2);
}

/* train --resume --iterations N after N iterations: an error saying --iterations is the total,
   not "iterations 3..2 (resumed)" and nothing done */
static void test_train_resume_done(void **state) {
    (void)state;
    assert_int_equal(run("train --corpus zoo:random@seed=1 --iterations 1 -o %s/pol.bin --episodes 1 --max-steps 2", tmp), 0);
    assert_int_equal(run("train --corpus zoo:random@seed=1 --iterations 1 -o %s/pol.bin --episodes 1 --max-steps 2 --resume", tmp), 2);
    char *err = slurp("stderr");
    assert_non_null(strstr(err, "--iterations is the total"));
    assert_null(strstr(err, "(resumed)"));
    free(err);
}

/* the kernel cost cache says where it lives when a run creates it, and only then */
static void test_cost_cache_announced_once(void **state) {
    (void)state;
    const char *args = "optimize zoo:resnet8 -o %s/c.pb --search ppo --budget 3 --episodes 1 --repeats 2 --eval-batches 1 --threads 1 "
                       "--cost-cache %s/cache";
    assert_int_equal(run(args, tmp, tmp), 0);
    char *err = slurp("stderr");
    assert_non_null(strstr(err, "now cached in"));
    assert_non_null(strstr(err, "/cache/costs-"));
    free(err);
    assert_int_equal(run(args, tmp, tmp), 0);
    err = slurp("stderr");
    assert_null(strstr(err, "now cached in"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_line),
        cmocka_unit_test(test_unchanged_exit_status),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_bench_always_has_none),
        cmocka_unit_test(test_flag_slips),
        cmocka_unit_test(test_train_resume_done),
        cmocka_unit_test(test_cost_cache_announced_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
