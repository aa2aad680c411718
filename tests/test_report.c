/* test_report.c - what bench's report claims and how it draws it: a result is called the winner
 * (and bolded) only when it is significantly faster than `none` (Welch p < 0.05 and
 * non-overlapping 95% CIs of the medians), a run without `none` prints no "nan", a run over
 * twice the median marks the timings unstable and says what to do, and the Pareto plot's
 * structure (axes from 0, CI error bars, one marker shape per method, the baseline and the winner
 * tagged, the front as a staircase, the legend inside the picture). Cases are hand-made latency
 * samples whose verdicts follow from the definitions. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/bench_report.h"
#include "report/stats.h"
#include "report/svg.h"

static char tmp[256];

/* a measured result whose summary comes from its samples, as bench and bench_load make it */
static BenchResult mk(const char *method, const double *samples, int n, double peak, int rewrites) {
    BenchResult r = {.ok = true, .peak_bytes = peak, .top1 = -1, .min_cosine = 1, .rewrites = rewrites, .n_samples = n};
    snprintf(r.method, sizeof r.method, "%s", method);
    r.samples = malloc(sizeof(double) * (size_t)n);
    double *sorted = malloc(sizeof(double) * (size_t)n);
    assert_non_null(r.samples);
    assert_non_null(sorted);
    memcpy(r.samples, samples, sizeof(double) * (size_t)n);
    memcpy(sorted, samples, sizeof(double) * (size_t)n);
    r.ms = stats_summarize(sorted, n);
    free(sorted);
    r.family[0] = rewrites;
    return r;
}

/* n samples centre + spread * a fixed zig-zag in [-1, 1] (the same pattern for every method, so
   the methods differ in their centre only) */
static void zigzag(double *x, int n, double centre, double spread) {
    for (int i = 0; i < n; i++) x[i] = centre + spread * (((i * 7) % 11) - 5) / 5.0;
}

static void free_model(BenchModel *m) {
    for (int k = 0; k < m->n_results; k++) free(m->results[k].samples);
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* ---- accuracy judged on labels ---- */

/* with --labels the winner keeps labelled top-1 within --max-accuracy-drop of none's, whatever
   its fidelity: an int8 result with cosine 0.95 and the same top-1 wins; a faster one with
   cosine 1 that loses 2 pp of top-1 (budget 0.5 pp) does not. Without labels, fidelity decides
   (the 0.95 one is lost). The choice survives report.json (label_max_drop). */
static void test_winner_judged_on_labels(void **st) {
    (void)st;
    double none[20], a[20], b[20];
    zigzag(none, 20, 10, 0.3);
    zigzag(a, 20, 6, 0.3);
    zigzag(b, 20, 4, 0.3);
    BenchResult r[3] = {mk("none", none, 20, 1000, 0), mk("sensitivity", a, 20, 500, 3), mk("grappler+int8", b, 20, 400, 3)};
    r[0].label_top1 = 0.92;
    r[1].label_top1 = 0.92;
    r[1].min_cosine = 0.95;
    r[2].label_top1 = 0.90;
    BenchModel m = {.label = "trained", .n_results = 3, .results = r, .judged_on_labels = true, .label_max_drop = 0.005};
    assert_true(bench_faithful(&m, &r[1]));
    assert_false(bench_faithful(&m, &r[2]));
    assert_ptr_equal(bench_winner(&m), &r[1]);
    /* a drop of exactly the budget is kept */
    r[2].label_top1 = 0.915;
    assert_true(bench_faithful(&m, &r[2]));
    r[2].label_top1 = 0.90;
    m.judged_on_labels = false;
    assert_false(bench_faithful(&m, &r[1]));
    assert_true(bench_faithful(&m, &r[2]));
    assert_ptr_equal(bench_winner(&m), &r[2]);
    m.judged_on_labels = true;

    BenchRun run = {.n_models = 1, .models = &m};
    char *js = bench_json(&run);
    assert_non_null(js);
    BenchRun back = {0};
    Err e = {0};
    CHECK_OK(bench_run_from_json(js, &back, &e), &e);
    assert_true(back.models[0].judged_on_labels);
    assert_true(fabs(back.models[0].label_max_drop - 0.005) < 1e-12);
    assert_string_equal(bench_winner(&back.models[0])->method, "sensitivity");
    bench_run_free(&back);
    free(js);
    free_model(&m);
}

/* ---- the significance rule ---- */

static void test_winner_needs_significance(void **st) {
    (void)st;
    double none[20], fast[20], near[20];
    zigzag(none, 20, 10, 0.3);
    zigzag(fast, 20, 6, 0.3);
    zigzag(near, 20, 9.95, 0.3); /* a smaller median, well inside the noise */
    BenchResult r1[3] = {mk("none", none, 20, 1000, 0), mk("grappler", fast, 20, 500, 3), mk("greedy", near, 20, 1000, 1)};
    BenchResult r2[2] = {mk("none", none, 20, 1000, 0), mk("greedy", near, 20, 1000, 1)};
    BenchModel models[2] = {{.label = "clear", .n_results = 3, .results = r1}, {.label = "overlap", .n_results = 2, .results = r2}};
    BenchRun run = {.n_models = 2, .models = models};

    /* the oracle: the separated samples differ beyond noise, the shifted ones do not */
    assert_true(bench_welch_p_none(&models[0], &r1[1]) < 1e-6);
    assert_true(bench_welch_p_none(&models[1], &r2[1]) > 0.2);
    assert_true(r2[1].ms.med_hi >= r2[0].ms.med_lo); /* their CIs overlap */
    assert_true(r2[1].ms.median < r2[0].ms.median);  /* though the median is lower */
    assert_true(bench_significantly_faster(&models[0], &r1[1]));
    assert_false(bench_significantly_faster(&models[1], &r2[1]));
    assert_false(bench_significantly_faster(&models[0], &r1[0])); /* never the baseline itself */
    assert_ptr_equal(bench_winner(&models[0]), &r1[1]);
    assert_null(bench_winner(&models[1]));

    char *md = bench_markdown(&run);
    assert_non_null(md);
    /* the summary: the winner with its ratios, "-" where none is significant */
    assert_non_null(strstr(md, "| clear | 10.000 | grappler | 6.000 | 1.67x | 2.00x | <0.001 | stable |\n"));
    assert_non_null(strstr(md, "| overlap | 10.000 | - | - | - | - | - | stable |\n"));
    /* per method: only the winner is bold; the overlapping result is a plain ratio */
    assert_non_null(strstr(md, "| clear | 1.00x | **1.67x** | 1.01x |\n"));
    assert_non_null(strstr(md, "| overlap | 1.00x | - | 1.01x |\n"));
    assert_int_equal(count(md, "x**"), 2); /* grappler's ratio: the per-method table and its model table */
    assert_non_null(strstr(md, "| **grappler** |"));
    assert_null(strstr(md, "| **greedy** |"));
    assert_non_null(strstr(md, "No result is significantly faster than `none`."));
    free(md);

    char *js = bench_json(&run);
    cJSON *o = cJSON_Parse(js);
    assert_non_null(o);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "models");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ms, 0), "winner")->valuestring, "grappler");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ms, 1), "winner")));
    cJSON_Delete(o);
    free(js);
    free_model(&models[0]);
    free_model(&models[1]);
}

/* p < 0.05 is not enough: with many runs a small shift is "significant" by Welch while the 95%
   CIs of the medians still overlap; the rule wants both */
static void test_significant_p_with_overlapping_cis(void **st) {
    (void)st;
    enum { N = 66 };
    double none[N], shifted[N];
    zigzag(none, N, 10, 1.0);
    zigzag(shifted, N, 9.7, 1.0);
    BenchResult r[2] = {mk("none", none, N, 1000, 0), mk("grappler", shifted, N, 1000, 2)};
    BenchModel m = {.label = "m", .n_results = 2, .results = r};
    double p = bench_welch_p_none(&m, &r[1]);
    assert_true(p < 0.05);                     /* Welch alone would call it faster */
    assert_true(r[1].ms.med_hi >= r[0].ms.med_lo); /* the intervals overlap */
    assert_false(bench_significantly_faster(&m, &r[1]));
    assert_null(bench_winner(&m));
    free_model(&m);
}

/* ---- a run without `none` ---- */

static void test_no_baseline_no_nan(void **st) {
    (void)st;
    double a[5] = {1, 1.1, 0.9, 1, 1.05}, b[5] = {0.5, 0.55, 0.45, 0.5, 0.52};
    BenchResult r[2] = {mk("grappler", a, 5, 1000, 2), mk("ppo", b, 5, 400, 3)};
    BenchModel m = {.label = "nobase", .name = "x.pb", .n_results = 2, .results = r};
    BenchRun run = {.n_models = 1, .models = &m, .methods = "grappler,ppo"};
    assert_true(isnan(bench_speedup(&m, &r[1])));
    assert_true(isnan(bench_memory_ratio(&m, &r[1])));
    assert_null(bench_winner(&m));
    char *md = bench_markdown(&run);
    assert_non_null(md);
    assert_null(strstr(md, "nan"));
    assert_null(strstr(md, "x**"));
    assert_non_null(strstr(md, "| nobase | - | - | - | - | - | - | stable |\n"));
    free(md);
    char *js = bench_json(&run);
    assert_non_null(js);
    assert_null(strstr(js, "nan"));
    free(js);
    snprintf(m.label, sizeof m.label, "nobase");
    Err e = {0};
    CHECK_OK(bench_write(&run, tmp, &e), &e);
    char path[512];
    snprintf(path, sizeof path, "%s/nobase-pareto.svg", tmp);
    char *svg = tu_read_text(path);
    assert_non_null(svg);
    assert_null(strstr(svg, "nan"));
    assert_null(strstr(svg, "class=\"tag\"")); /* neither a baseline nor a winner to tag */
    free(svg);
    free_model(&m);
}

/* the CLI: --methods without none still measures none first, and prints no "nan"; stderr is not
   a terminal here, so no progress line either */
static void test_cli_always_measures_none(void **st) {
    (void)st;
    const char *grappo = getenv("GRAPPO") ? getenv("GRAPPO") : "build/grappo";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s bench zoo:resnet8 --methods grappler --repeats 3 --threads 1 --out %s/cli >%s/out 2>%s/err", grappo, tmp,
             tmp, tmp);
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/cli/report.json", tmp);
    char *js = tu_read_text(path);
    assert_non_null(js);
    cJSON *o = cJSON_Parse(js);
    free(js);
    assert_non_null(o);
    const cJSON *methods = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "models"), 0), "methods");
    assert_int_equal(cJSON_GetArraySize(methods), 2);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(methods, 0), "method")->valuestring, "none");
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(methods, 1), "speedup")->valuedouble > 0);
    cJSON_Delete(o);
    snprintf(path, sizeof path, "%s/cli/report.md", tmp);
    char *md = tu_read_text(path);
    assert_non_null(md);
    assert_null(strstr(md, "nan"));
    free(md);
    snprintf(path, sizeof path, "%s/out", tmp);
    char *out = tu_read_text(path);
    assert_non_null(out);
    assert_non_null(strstr(out, "baseline"));
    assert_null(strstr(out, "nan"));
    free(out);
    snprintf(path, sizeof path, "%s/err", tmp);
    char *err = tu_read_text(path);
    assert_non_null(err);
    assert_null(strchr(err, '\r')); /* no progress line when stderr is not a terminal */
    free(err);
}

/* ---- unstable timings ---- */

static void test_unstable_flag(void **st) {
    (void)st;
    double calm[10], spiky[10];
    zigzag(calm, 10, 2, 0.05);
    zigzag(spiky, 10, 1, 0.02);
    spiky[4] = 2.5; /* one preempted run, over twice the median */
    BenchResult r[2] = {mk("none", calm, 10, 1000, 0), mk("grappler", spiky, 10, 1000, 2)};
    assert_true(r[1].ms.max > 2 * r[1].ms.median);
    assert_true(bench_unstable(&r[1]));
    assert_false(bench_unstable(&r[0]));
    assert_true(stats_unstable(&r[1].ms));
    BenchModel m = {.label = "m", .n_results = 2, .results = r};
    BenchRun run = {.n_models = 1, .models = &m};
    char *md = bench_markdown(&run);
    assert_non_null(md);
    /* marked in the summary (grappler is the winner: both compared results count) and in the
       model's latency table */
    const char *row = strstr(md, "| m | 2.005 | grappler | 1.004 | ");
    assert_non_null(row);
    assert_true(!strncmp(strchr(row, '\n') - 12, "| unstable |", 12));
    row = strstr(md, "| **grappler** | 1.004 |");
    assert_non_null(row);
    assert_true(!strncmp(strchr(row, '\n') - 12, "| unstable |", 12));
    row = strstr(md, "| none | 2.005 |");
    assert_non_null(row);
    assert_true(!strncmp(strchr(row, '\n') - 10, "| stable |", 10));
    /* and what to do about it */
    assert_non_null(strstr(md, "rerun `grappo bench` on an idle machine"));
    assert_non_null(strstr(md, "--repeats"));
    free(md);
    char *js = bench_json(&run);
    cJSON *o = cJSON_Parse(js);
    free(js);
    const cJSON *methods = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "models"), 0), "methods");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(methods, 0), "timings_unstable")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(methods, 1), "timings_unstable")));
    cJSON_Delete(o);

    /* calm samples everywhere: no warning at all */
    BenchResult c[2] = {mk("none", calm, 10, 1000, 0), mk("grappler", calm, 10, 1000, 2)};
    BenchModel mc = {.label = "calm", .n_results = 2, .results = c};
    BenchRun rc = {.n_models = 1, .models = &mc};
    md = bench_markdown(&rc);
    assert_null(strstr(md, "unstable"));
    free(md);
    free_model(&m);
    free_model(&mc);
}

/* ---- the Pareto plot ---- */

/* the numbers of the attribute `name="..."` after p */
static double attr(const char *p, const char *name) {
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(p, key);
    assert_non_null(a);
    return strtod(a + strlen(key), NULL);
}

static void test_pareto_svg_structure(void **st) {
    (void)st;
    double none[12], a[12], b[12], c[12];
    zigzag(none, 12, 8, 0.2);
    zigzag(a, 12, 4, 0.2);
    zigzag(b, 12, 6, 0.2);
    zigzag(c, 12, 7.5, 0.2);
    /* a: fastest, mid memory; b: slower, least memory; c: dominated by b */
    BenchResult r[4] = {mk("none", none, 12, 8 << 20, 0), mk("grappler", a, 12, 6 << 20, 3), mk("ppo", b, 12, 3 << 20, 4),
                        mk("greedy", c, 12, 7 << 20, 1)};
    BenchModel m = {.label = "plot", .name = "plot.pb", .n_results = 4, .results = r};
    BenchRun run = {.n_models = 1, .models = &m};
    Err e = {0};
    CHECK_OK(bench_write(&run, tmp, &e), &e);
    char path[512];
    snprintf(path, sizeof path, "%s/plot-pareto.svg", tmp);
    char *svg = tu_read_text(path);
    assert_non_null(svg);
    assert_null(strstr(svg, "nan"));
    /* both axes start at 0: the first tick of each is 0 */
    const char *xt = strstr(svg, "class=\"xtick\""), *yt = strstr(svg, "class=\"ytick\"");
    assert_non_null(xt);
    assert_non_null(yt);
    assert_true(!strncmp(strchr(xt, '>'), ">0<", 3));
    assert_true(!strncmp(strchr(yt, '>'), ">0<", 3));
    /* one 95% CI error bar per result */
    assert_int_equal(count(svg, "class=\"errbar\""), 4);
    /* every method its own marker shape (twice: the point and its legend entry) */
    const char *shapes[4] = {"marker-circle\"", "marker-square\"", "marker-triangle\"", "marker-diamond\""};
    for (int k = 0; k < 4; k++) assert_int_equal(count(svg, shapes[k]), 2);
    /* the baseline and the winner tagged */
    assert_ptr_equal(bench_winner(&m), &r[1]);
    assert_non_null(strstr(svg, ">baseline (none)</text>"));
    assert_non_null(strstr(svg, ">winner: grappler, 2.01x faster</text>"));
    /* no invisible helper point */
    assert_null(strstr(svg, "fill=\"none\"/>\n</g>"));
    assert_null(strstr(svg, "fill=\"none\" r="));
    /* the front (grappler, then ppo; greedy is dominated) as a staircase: every segment is
       horizontal or vertical */
    const char *front = strstr(svg, "class=\"series step\"");
    assert_non_null(front);
    const char *d = strstr(front, " d=\"") + 4;
    double px = NAN, py = NAN;
    int segments = 0;
    while (*d == 'M' || *d == 'L') {
        char cmd = *d++;
        char *end;
        double x = strtod(d, &end), y = strtod(end, &end);
        if (cmd == 'L') {
            assert_true(fabs(x - px) < 1e-9 || fabs(y - py) < 1e-9);
            segments++;
        }
        px = x;
        py = y;
        d = end;
        while (*d == ' ') d++;
    }
    assert_int_equal(segments, 2); /* across to ppo's latency, down to its memory */
    /* the legend lies inside the picture */
    double width = attr(svg, "width");
    const char *box = strstr(svg, "class=\"legend-box\"");
    assert_non_null(box);
    assert_true(attr(box, "x") + attr(box, "width") <= width);
    free(svg);
    free_model(&m);
}

/* a learning curve over two iterations: ticks at whole iterations, no 1.2 or 1.5 */
static void test_integer_ticks(void **st) {
    (void)st;
    double x[2] = {1, 2}, y[2] = {0.1, 0.3};
    SvgSeries s = {.name = "mean return", .kind = SVG_LINE, .x = x, .y = y, .n = 2};
    SvgPlot p = {.title = "t", .xlabel = "iteration", .ylabel = "r", .x_integer = true, .series = &s, .n_series = 1};
    Err e = {0};
    char *svg = svg_render(&p, &e);
    assert_non_null(svg);
    int ticks = 0;
    for (const char *t = strstr(svg, "class=\"xtick\""); t; t = strstr(t + 1, "class=\"xtick\"")) {
        const char *v = strchr(t, '>') + 1;
        assert_null(memchr(v, '.', (size_t)(strchr(v, '<') - v)));
        ticks++;
    }
    assert_true(ticks >= 2);
    free(svg);
    p.x_integer = false; /* the oracle: without it the same data gets fractional ticks */
    svg = svg_render(&p, &e);
    assert_non_null(strstr(svg, ">1.2<") ? svg : strstr(svg, ">1.5<"));
    free(svg);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/grappo_report_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return tu_rmtree(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_winner_needs_significance),
        cmocka_unit_test(test_winner_judged_on_labels),
        cmocka_unit_test(test_significant_p_with_overlapping_cis),
        cmocka_unit_test(test_no_baseline_no_nan),
        cmocka_unit_test(test_cli_always_measures_none),
        cmocka_unit_test(test_unstable_flag),
        cmocka_unit_test(test_pareto_svg_structure),
        cmocka_unit_test(test_integer_ticks),
    };
    return cmocka_run_group_tests_name("report", tests, setup, teardown);
}
