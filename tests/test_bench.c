/* test_bench.c - `grappo bench`: the least-squares fit (exact and noisy cases against closed
 * forms), the Pareto front, the derived report numbers (speedup, reference choice, Welch p,
 * the family regression) on hand-made results, and one end-to-end run of the binary on
 * zoo:resnet8 checking report.md, report.json and the SVG. The binary comes from $GRAPPO
 * (default build/grappo), as in test_cli.c. */
#include "testutil.h"
#include "testcli.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/bench_report.h"
#include "report/stats.h"

/* y = 1 + 2a - 3b exactly: the fit returns the coefficients, R^2 = 1, zero standard errors */
static void test_regress_exact(void **state) {
    (void)state;
    const double a[6] = {0, 1, 2, 3, 1, 4}, b[6] = {1, 0, 2, 1, 3, 0};
    double X[18], y[6], coef[3], se[3], r2;
    for (int i = 0; i < 6; i++) {
        X[3 * i] = 1;
        X[3 * i + 1] = a[i];
        X[3 * i + 2] = b[i];
        y[i] = 1 + 2 * a[i] - 3 * b[i];
    }
    assert_int_equal(stats_regress(X, y, 6, 3, coef, se, &r2), 0);
    assert_true(fabs(coef[0] - 1) < 1e-10);
    assert_true(fabs(coef[1] - 2) < 1e-10);
    assert_true(fabs(coef[2] + 3) < 1e-10);
    assert_true(fabs(r2 - 1) < 1e-12);
    for (int j = 0; j < 3; j++) assert_true(se[j] >= 0 && se[j] < 1e-6);
    /* as many unknowns as rows: exact, but no residual degrees of freedom for an error */
    assert_int_equal(stats_regress(X, y, 3, 3, coef, se, &r2), 0);
    assert_true(isnan(se[0]) && isnan(se[1]) && isnan(se[2]));
    assert_int_equal(stats_regress(X, y, 0, 3, coef, se, &r2), -1);
}

/* simple regression with noise against the textbook closed forms:
   slope = Sxy / Sxx, se(slope) = sqrt(s^2 / Sxx), se(intercept) = sqrt(s^2 (1/n + mean^2 / Sxx)),
   s^2 = SSres / (n - 2), R^2 = 1 - SSres / SStot */
static void test_regress_noise_closed_form(void **state) {
    (void)state;
    enum { N = 8 };
    const double x[N] = {1, 2, 3, 4, 5, 6, 7, 8}, noise[N] = {0.3, -0.2, 0.1, -0.4, 0.25, 0.05, -0.15, 0.2};
    double X[2 * N], y[N], coef[2], se[2], r2;
    double mx = 0, my = 0;
    for (int i = 0; i < N; i++) {
        X[2 * i] = 1;
        X[2 * i + 1] = x[i];
        y[i] = 0.5 + 1.5 * x[i] + noise[i];
        mx += x[i] / N;
        my += y[i] / N;
    }
    double sxx = 0, sxy = 0, stot = 0;
    for (int i = 0; i < N; i++) { sxx += (x[i] - mx) * (x[i] - mx); sxy += (x[i] - mx) * (y[i] - my); stot += (y[i] - my) * (y[i] - my); }
    double slope = sxy / sxx, icpt = my - slope * mx, sres = 0;
    for (int i = 0; i < N; i++) sres += (y[i] - icpt - slope * x[i]) * (y[i] - icpt - slope * x[i]);
    double s2 = sres / (N - 2);
    assert_int_equal(stats_regress(X, y, N, 2, coef, se, &r2), 0);
    assert_true(fabs(coef[1] - slope) < 1e-10);
    assert_true(fabs(coef[0] - icpt) < 1e-10);
    assert_true(se[1] > 0 && se[0] > 0);
    assert_true(fabs(se[1] - sqrt(s2 / sxx)) < 1e-10);
    assert_true(fabs(se[0] - sqrt(s2 * (1.0 / N + mx * mx / sxx))) < 1e-10);
    assert_true(fabs(r2 - (1 - sres / stot)) < 1e-12);
    assert_true(r2 < 1 && r2 > 0.9);
}

static void test_pareto_front(void **state) {
    (void)state;
    /* (latency, memory): 0 and 3 and 5 are non-dominated; 1 is dominated by 0; 2 by 3; 4 equals
       3 on latency but is worse on memory; 6 is NaN (ignored); 7 duplicates 5 (neither
       dominates the other: both stay) */
    const double x[8] = {1.0, 1.5, 3.0, 2.0, 2.0, 4.0, NAN, 4.0};
    const double y[8] = {9.0, 9.5, 6.0, 5.0, 7.0, 1.0, 0.5, 1.0};
    int idx[8];
    int n = bench_pareto_front(x, y, 8, idx);
    assert_int_equal(n, 4);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 3);
    assert_true((idx[2] == 5 && idx[3] == 7) || (idx[2] == 7 && idx[3] == 5));
    assert_int_equal(bench_pareto_front(x, y, 0, idx), 0);
}

static void test_model_label(void **state) {
    (void)state;
    char l[64];
    bench_model_label("zoo:resnet8", l, sizeof l);
    assert_string_equal(l, "resnet8");
    bench_model_label("zoo:resnet18@image=64", l, sizeof l);
    assert_string_equal(l, "resnet18-image-64");
    bench_model_label("tests/fixtures/real/blazeface-front/model.pb", l, sizeof l);
    assert_string_equal(l, "blazeface-front");
    /* a SavedModel directory: its parent names the model, with or without the trailing slash */
    bench_model_label("/root/.cache/grappo/models/resnet50-fmnist/saved_model", l, sizeof l);
    assert_string_equal(l, "resnet50-fmnist");
    bench_model_label("models/minilm/classifier/saved_model/", l, sizeof l);
    assert_string_equal(l, "classifier");
    bench_model_label("build/resnet50.pb", l, sizeof l);
    assert_string_equal(l, "resnet50");
    bench_model_label("bert-base.pb", l, sizeof l);
    assert_string_equal(l, "bert-base");
}

static BenchResult result(const char *method, double median, double peak, int fuse, int quantize) {
    BenchResult r = {.ok = true, .peak_bytes = peak, .top1 = -1, .min_cosine = 1};
    snprintf(r.method, sizeof r.method, "%s", method);
    r.ms.median = median;
    r.family[0] = fuse;
    r.family[2] = quantize;
    r.rewrites = fuse + quantize;
    return r;
}

/* hand-made results whose ln(speedup) is exactly 0.1 fuse + 0.5 quantize: the report's
   regression must recover that; speedups, reductions and the t-test reference follow the rules */
static void test_derived_numbers(void **state) {
    (void)state;
    BenchResult r1[5] = {
        result("none", 10, 1000, 0, 0),
        result("grappler", 10 / exp(0.1 * 4), 900, 4, 0),
        result("ppo", 10 / exp(0.1 * 2 + 0.5 * 1), 700, 2, 1),
        result("ppo+bo", 10 / exp(0.1 * 3 + 0.5 * 3), 400, 3, 3),
        result("random", 0, 0, 0, 0),
    };
    r1[4].ok = false;
    snprintf(r1[4].error, sizeof r1[4].error, "search failed");
    BenchResult r2[3] = {
        result("none", 4, 100, 0, 0),
        result("ppo", 4 / exp(0.1 * 5 + 0.5 * 2), 60, 5, 2),
        result("grappler", 4 / exp(0.1 * 1), 100, 1, 0),
    };
    r2[2].min_cosine = 0.5; /* outside fidelity: marked, never the summary's best */
    BenchModel models[2] = {{.label = "m1", .n_results = 5, .results = r1}, {.label = "m2", .n_results = 3, .results = r2}};
    BenchRun run = {.n_models = 2, .models = models};
    assert_ptr_equal(bench_baseline(&models[0]), &r1[0]);
    assert_ptr_equal(bench_reference(&models[0]), &r1[3]); /* ppo+bo before ppo */
    assert_ptr_equal(bench_reference(&models[1]), &r2[1]); /* no ppo+bo: ppo */
    assert_true(fabs(bench_speedup(&models[0], &r1[3]) - exp(1.8)) < 1e-12);
    assert_true(fabs(bench_memory_reduction(&models[0], &r1[3]) - 0.6) < 1e-12);
    assert_true(isnan(bench_speedup(&models[0], &r1[4])));
    BenchRegression g = bench_regression(&run);
    assert_true(g.ok);
    assert_int_equal(g.n, 7); /* 4 measured + 3 measured; the failed one is out */
    assert_true(g.used[0] && !g.used[1] && g.used[2] && !g.used[3] && !g.used[4]);
    assert_true(fabs(g.intercept) < 1e-10);
    assert_true(fabs(g.coef[0] - 0.1) < 1e-10);
    assert_true(fabs(g.coef[2] - 0.5) < 1e-10);
    assert_true(isnan(g.coef[1]));
    assert_true(fabs(g.r2 - 1) < 1e-10);

    /* Welch p against the reference: identical samples p = 1, clearly separated ones small */
    double a[4] = {1.0, 1.1, 0.9, 1.0}, b[4] = {1.0, 1.1, 0.9, 1.0}, c[4] = {2.0, 2.1, 1.9, 2.05};
    r1[3].samples = a; r1[3].n_samples = 4;
    r1[2].samples = b; r1[2].n_samples = 4;
    r1[1].samples = c; r1[1].n_samples = 4;
    assert_true(fabs(bench_welch_p(&models[0], &r1[2]) - 1) < 1e-12);
    assert_true(bench_welch_p(&models[0], &r1[1]) < 1e-4);
    assert_true(isnan(bench_welch_p(&models[0], &r1[3]))); /* not against itself */
    assert_true(isnan(bench_welch_p(&models[0], &r1[0]))); /* none has no samples here */
    char *md = bench_markdown(&run);
    assert_non_null(md);
    assert_non_null(strstr(md, "| p vs ppo+bo |"));
    assert_non_null(strstr(md, "**random skipped**: search failed"));
    assert_non_null(strstr(md, "| quantize | 0.5000 |"));
    /* the summary: methods in first-seen order; no latency samples here, so no difference is
       significant and nothing is bolded (test_report covers the winner) */
    assert_non_null(strstr(md, "| model | none | grappler | ppo | ppo+bo | random |\n"));
    assert_non_null(strstr(md, "| m1 | 1.00x | 1.49x | 2.01x | 6.05x | skipped |\n"));
    assert_non_null(strstr(md, "| m2 | 1.00x | 1.11x † | 4.48x | - | - |\n"));
    assert_non_null(strstr(md, "| m1 | 10.000 | - | - | - | - | - | stable |\n"));
    assert_null(strstr(md, "x**")); /* no ratio in bold */
    free(md);
}

/* the agent against the fastest fixed method keeping accuracy: a fixed method that lost accuracy
   is passed over, the verdict follows Welch's p and the medians, the agent's rules beyond the
   fixed method's are listed, and the tally counts models */
static void test_agent_vs_fixed(void **state) {
    (void)state;
    double none_s[5] = {10, 10.1, 9.9, 10, 10.05}, g_s[5] = {8, 8.1, 7.9, 8, 8.05}, q_s[5] = {5, 5.1, 4.9, 5, 5.05},
           lost_s[5] = {3, 3.1, 2.9, 3, 3.05}, a_s[5] = {4.5, 4.6, 4.4, 4.5, 4.55}, same_s[5] = {5, 5.1, 4.9, 5.05, 5};
    BenchResult r1[5] = {result("none", 10, 100, 0, 0), result("grappler", 8, 100, 3, 0), result("grappler+int8", 5, 30, 3, 5),
                         result("sensitivity", 3, 30, 3, 6), result("ppo+bo", 4.5, 30, 3, 6)};
    double *s1[5] = {none_s, g_s, q_s, lost_s, a_s};
    for (int k = 0; k < 5; k++) r1[k].samples = s1[k], r1[k].n_samples = 5;
    r1[3].min_cosine = 0.5; /* sensitivity lost accuracy: not the bar */
    snprintf(r1[2].rules, sizeof r1[2].rules, "fuse_conv_bias x3, quantize_conv_int8 x5");
    snprintf(r1[4].rules, sizeof r1[4].rules, "fuse_conv_bias x3, quantize_conv_int8 x5, int8_residual_chain x2");
    BenchResult r2[3] = {result("none", 10, 100, 0, 0), result("grappler+int8", 5, 30, 3, 5), result("ppo+bo", 5, 30, 3, 5)};
    double *s2[3] = {none_s, q_s, same_s};
    for (int k = 0; k < 3; k++) r2[k].samples = s2[k], r2[k].n_samples = 5;
    snprintf(r2[1].rules, sizeof r2[1].rules, "quantize_conv_int8 x5");
    snprintf(r2[2].rules, sizeof r2[2].rules, "quantize_conv_int8 x5");
    BenchModel models[2] = {{.label = "m1", .n_results = 5, .results = r1}, {.label = "m2", .n_results = 3, .results = r2}};
    BenchRun run = {.n_models = 2, .models = models};
    assert_true(bench_is_fixed_method("grappler+bf16") && bench_is_fixed_method("sensitivity") && !bench_is_fixed_method("greedy"));
    assert_ptr_equal(bench_best_fixed(&models[0]), &r1[2]);
    double p;
    assert_int_equal(bench_agent_verdict(&models[0], &p), -1);
    assert_true(p < 0.001);
    assert_int_equal(bench_agent_verdict(&models[1], &p), 0);
    assert_true(p > 0.5);
    char *md = bench_markdown(&run);
    assert_non_null(md);
    assert_non_null(strstr(md, "| m1 | grappler+int8 | 5.000 | 4.500 | 0.900 | <0.001 | **faster** | int8_residual_chain x2 |\n"));
    assert_non_null(strstr(md, "| m2 | grappler+int8 | 5.000 | 5.000 | 1.000 |"));
    assert_non_null(strstr(md, "the same rewrites (no gain of its own) | - |\n"));
    assert_non_null(strstr(md, "significantly faster than the fastest fixed method keeping accuracy on 1 of 2 models, significantly slower on 0."));
    free(md);
    /* an agent slower beyond noise */
    r1[4].ms.median = 6;
    double slow[5] = {6, 6.1, 5.9, 6, 6.05};
    r1[4].samples = slow;
    assert_int_equal(bench_agent_verdict(&models[0], &p), 1);
    /* identical rewrites are the same graph: no verdict whatever the timing */
    snprintf(r1[4].rules, sizeof r1[4].rules, "%s", r1[2].rules);
    r1[4].rewrites = r1[2].rewrites;
    assert_int_equal(bench_agent_verdict(&models[0], &p), 0);
    assert_true(p < 0.001);
}

/* ---- end to end: the binary ---- */

static double num_of(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) { print_error("missing number '%s'\n", key); fail(); }
    return v->valuedouble;
}

static void test_end_to_end_resnet8(void **state) {
    (void)state;
    char args[1024];
    /* ppo with a missing policy: skipped with a line in the report, the run goes on */
    snprintf(args, sizeof args, "bench zoo:resnet8 --methods none,grappler,greedy,ppo --policy %s/missing.bin --budget 2 --repeats 3 --threads 1 --out %s/out",
             tmp, tmp);
    int rc = run("%s", args);
    if (rc) { char *e = slurp("stderr"); print_error("exit %d: %s\n", rc, e ? e : ""); free(e); fail(); }

    char *md = slurp("out/report.md");
    assert_non_null(md);
    assert_non_null(strstr(md, "| method | median ms | 95% CI of median ms | max ms | x faster | p vs none |"));
    assert_non_null(strstr(md, "| method | peak MiB | x smaller | top-1 agreement |"));
    assert_non_null(strstr(md, "| none | "));
    assert_non_null(strstr(md, "| grappler | "));
    assert_non_null(strstr(md, "**ppo skipped**"));
    assert_non_null(strstr(md, "Machine: "));
    assert_non_null(strstr(md, "(resnet8-pareto.svg)"));
    /* the regression section (R^2) is printed exactly when report.json says the fit was possible:
       checked below, where the JSON is read */
    bool md_has_fit = strstr(md, "R^2 = ") != NULL;
    assert_non_null(strstr(md, "Pareto front of the results that keep fidelity (latency, peak memory; fastest first): "));
    /* --render rebuilds the same report from report.json alone */
    char *svg0 = slurp("out/resnet8-pareto.svg");
    assert_non_null(svg0);
    snprintf(args, sizeof args, "rm %s/out/report.md %s/out/resnet8-pareto.svg", tmp, tmp);
    assert_int_equal(system(args), 0);
    snprintf(args, sizeof args, "bench --render %s/out", tmp);
    assert_int_equal(run("%s", args), 0);
    char *md2 = slurp("out/report.md"), *svg2 = slurp("out/resnet8-pareto.svg");
    assert_non_null(md2);
    assert_non_null(svg2);
    assert_string_equal(md, md2);
    assert_string_equal(svg0, svg2);
    free(md2);
    free(svg0);
    free(svg2);
    /* not a report: a one-line error */
    snprintf(args, sizeof args, "bench --render %s/missing-dir", tmp);
    assert_int_equal(run("%s", args), 2); /* bad input (no report.json there): exit 2 */
    free(md);

    char *js = slurp("out/report.json");
    assert_non_null(js);
    cJSON *o = cJSON_Parse(js);
    free(js);
    assert_non_null(o);
    const cJSON *mach = cJSON_GetObjectItemCaseSensitive(o, "machine");
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(mach, "cpu")));
    assert_true(num_of(mach, "cores") >= 1);
    assert_int_equal((int)num_of(cJSON_GetObjectItemCaseSensitive(o, "settings"), "repeats"), 3);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(o, "models");
    assert_int_equal(cJSON_GetArraySize(models), 1);
    const cJSON *m = cJSON_GetArrayItem(models, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "label")->valuestring, "resnet8");
    const cJSON *methods = cJSON_GetObjectItemCaseSensitive(m, "methods");
    assert_int_equal(cJSON_GetArraySize(methods), 4);
    double none_median = 0;
    for (int k = 0; k < 4; k++) {
        const cJSON *r = cJSON_GetArrayItem(methods, k);
        const char *name = cJSON_GetObjectItemCaseSensitive(r, "method")->valuestring;
        bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
        if (!strcmp(name, "ppo")) {
            assert_false(ok);
            assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(r, "error")->valuestring, "missing.bin"));
            continue;
        }
        assert_true(ok);
        double med = num_of(r, "latency_ms_median"), lo = num_of(r, "latency_ms_min"), hi = num_of(r, "latency_ms_max");
        assert_true(lo > 0 && lo <= med && med <= hi);
        /* the samples are the runs the summary came from */
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "latency_ms_samples");
        assert_int_equal(cJSON_GetArraySize(s), 3);
        double smin = INFINITY;
        for (int j = 0; j < 3; j++) smin = fmin(smin, cJSON_GetArrayItem(s, j)->valuedouble);
        assert_true(smin == lo);
        if (!strcmp(name, "none")) {
            none_median = med;
            assert_true(num_of(r, "speedup") == 1);
            assert_true(num_of(r, "rewrites") == 0);
            assert_true(num_of(r, "top1_agreement") == 1); /* resnet8 ends in a softmax */
        } else {
            assert_true(fabs(num_of(r, "speedup") - none_median / med) < 1e-9 * none_median / med);
        }
        if (!strcmp(name, "grappler")) {
            const cJSON *fam = cJSON_GetObjectItemCaseSensitive(r, "rewrites_by_family");
            assert_true(num_of(fam, "fuse") > 0);
            assert_true(num_of(fam, "quantize") == 0);
            double sum = 0;
            for (int f = 0; f < BENCH_N_FAMILIES; f++) sum += num_of(fam, bench_families[f]);
            assert_true(sum == num_of(r, "rewrites"));
            assert_true(num_of(r, "min_cosine") > 0.9999); /* exact rewrites */
        }
        if (!strcmp(name, "greedy")) assert_true(num_of(r, "evaluations") <= 2);
    }
    const cJSON *rg = cJSON_GetObjectItemCaseSensitive(o, "regression");
    assert_non_null(rg);
    assert_int_equal((int)num_of(rg, "n"), 3);
    /* greedy may return exactly grappler's graph (every search carries it): two equal rows make
       the fit singular, and then the section is left out rather than printed empty */
    const cJSON *rg_ok = cJSON_GetObjectItemCaseSensitive(rg, "ok");
    assert_non_null(rg_ok);
    assert_int_equal(md_has_fit, cJSON_IsTrue(rg_ok));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rg, "terms"), "fuse"));
    cJSON_Delete(o);

    char *svg = slurp("out/resnet8-pareto.svg");
    assert_non_null(svg);
    assert_true(!strncmp(svg, "<svg ", 5));
    size_t len = strlen(svg);
    assert_true(len > 7 && strstr(svg + len - 8, "</svg>"));
    /* the front as report.md lists it: drawn as a staircase when it has two points or more (every
       search carries Grappler's graph, so greedy may return exactly it and the front be one point) */
    char *front_md = slurp("out/report.md");
    assert_non_null(front_md);
    const char *fl = strstr(front_md, "Pareto front of the results that keep fidelity (latency, peak memory; fastest first):");
    assert_non_null(fl);
    int front_points = 1;
    for (const char *c = strchr(fl, ':'); *c && *c != '\n'; c++) front_points += *c == ',';
    free(front_md);
    if (front_points > 1) {
        assert_non_null(strstr(svg, ">Pareto front (fidelity kept)<"));
        assert_non_null(strstr(svg, "class=\"series step\"")); /* the front's staircase */
    } else {
        assert_null(strstr(svg, ">Pareto front (fidelity kept)<"));
    }
    assert_non_null(strstr(svg, ">baseline (none)<"));
    assert_non_null(strstr(svg, "class=\"errbar\""));
    assert_non_null(strstr(svg, ">grappler<"));
    /* every element that opens a group closes it */
    int open = 0, close = 0;
    for (const char *p = svg; (p = strstr(p, "<g")); p++) open += p[2] == ' ' || p[2] == '>';
    for (const char *p = svg; (p = strstr(p, "</g>")); p++) close++;
    assert_int_equal(open, close);
    free(svg);

    /* bad usage: an unknown method is exit 2 with one line */
    snprintf(args, sizeof args, "bench zoo:resnet8 --methods none,fastest --out %s/out", tmp);
    assert_int_equal(run("%s", args), 2);
    assert_true(file_has("stderr", "fastest"));
}

static int setup(void **state) {
    (void)state;
    return cli_init("grappo_bench_");
}

static int teardown(void **state) {
    (void)state;
    return cli_cleanup();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regress_exact),
        cmocka_unit_test(test_regress_noise_closed_form),
        cmocka_unit_test(test_pareto_front),
        cmocka_unit_test(test_model_label),
        cmocka_unit_test(test_derived_numbers),
        cmocka_unit_test(test_agent_vs_fixed),
        cmocka_unit_test(test_end_to_end_resnet8),
    };
    return cmocka_run_group_tests_name("bench", tests, setup, teardown);
}
