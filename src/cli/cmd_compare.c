/* cmd_compare.c - `grappo compare DIR`: the reports of many `grappo optimize --report` runs
 * (models x methods x seeds) as one Markdown table, with Welch t-tests of the agent against
 * every other method on the objective change each run achieved (measured side by side with the
 * input, so runs on a noisy machine stay comparable). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../report/stats.h"
#include "cli.h"

#define MAX_RUNS 4096

typedef struct Run {
    char model[256], method[64];
    double objective_delta, speedup, mem_ratio, wall_s;
    int evaluations, returned;
} Run;

static void help(void) {
    printf("usage: grappo compare DIR [--reference METHOD]\n"
           "Reads every DIR/*.json written by `grappo optimize --report` and prints, per model and\n"
           "method, the objective change (ln latency ratio + 0.1 ln memory ratio + 10 accuracy drop,\n"
           "from the final side-by-side measurement; lower is better) as mean ± 95%% CI over runs,\n"
           "the speedup (x faster) and memory ratio (x smaller), both input / result, evaluations, and\n"
           "Welch's t-test p-value of the reference\n"
           "method (default: ppo) against each other method.\n");
}

static double num(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static int load_run(const char *path, Run *r, Err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_INPUT, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n > 0 && n < (64 << 20) ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return err_set(err, ERR_INPUT, "%s: cannot read", path); }
    fclose(f);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    free(buf);
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "input"), *se = cJSON_GetObjectItemCaseSensitive(o, "search");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "before"), *a = cJSON_GetObjectItemCaseSensitive(o, "after");
    if (!o || !cJSON_IsString(in) || !cJSON_IsString(se) || !b || !a || !cJSON_GetObjectItemCaseSensitive(o, "objective_delta")) {
        cJSON_Delete(o);
        return err_set(err, ERR_INPUT, "%s: not a grappo optimize report", path);
    }
    memset(r, 0, sizeof *r);
    snprintf(r->model, sizeof r->model, "%s", in->valuestring);
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(o, "policy");
    if (pol && num(pol, "tune_episodes", 0) > 0) snprintf(r->method, sizeof r->method, "%s+tune", se->valuestring);
    else snprintf(r->method, sizeof r->method, "%s", se->valuestring);
    r->returned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "optimized_graph_returned"));
    /* a run that returned its input changed nothing: objective change 0, speedup 1 */
    r->objective_delta = r->returned ? num(o, "objective_delta", 0) : 0;
    double l0 = num(b, "latency_ms_median", NAN), l1 = num(a, "latency_ms_median", NAN);
    r->speedup = r->returned ? l0 / l1 : 1;
    r->mem_ratio = r->returned ? num(b, "peak_bytes", NAN) / num(a, "peak_bytes", NAN) : 1; /* input / result: x smaller */
    r->evaluations = (int)num(o, "evaluations", 0);
    r->wall_s = num(o, "wall_seconds", 0);
    cJSON_Delete(o);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cmd_compare(int argc, char **argv) {
    Args a = {argc, argv, 1, "compare"};
    const char *dir = NULL, *reference = "ppo";
    bool bad = false;
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_opt(&a, "--reference", &reference, &bad)) {}
        else if (argv[a.i][0] == '-') return cli_usage_error("compare", "unknown option '%s'", argv[a.i]);
        else if (!dir) dir = argv[a.i];
        else return cli_usage_error("compare", "unexpected argument '%s'", argv[a.i]);
        if (bad) return EXIT_USAGE;
    }
    if (!dir) return cli_usage_error("compare", "which directory of reports?");
    DIR *d = opendir(dir);
    Err err = {0};
    if (!d) { err_set(&err, ERR_INPUT, "%s: cannot open directory", dir); return cli_fail(&err); }
    char *names[MAX_RUNS];
    int n_names = 0;
    for (struct dirent *de; (de = readdir(d)) && n_names < MAX_RUNS;) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) names[n_names++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n_names, sizeof *names, cmp_str);
    Run *runs = calloc((size_t)n_names + 1, sizeof *runs);
    int n = 0, rc = EXIT_OK;
    for (int i = 0; i < n_names; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (load_run(path, &runs[n], &err)) { rc = cli_fail(&err); goto done; }
        n++;
    }
    if (n == 0) { err_set(&err, ERR_INPUT, "%s: no .json reports", dir); rc = cli_fail(&err); goto done; }
    printf("| model | method | runs | objective change, mean ± 95%% CI | x faster, median [min, max] | x smaller (peak memory) | returned | evaluations | wall s | p (%s vs method) |\n", reference);
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    double *x = malloc(sizeof(double) * (size_t)n), *y = malloc(sizeof(double) * (size_t)n), *z = malloc(sizeof(double) * (size_t)n);
    bool *shown = calloc((size_t)n, sizeof *shown);
    for (int i = 0; i < n; i++) {
        if (shown[i]) continue;
        /* every method of this model, in order of first appearance */
        for (int j = i; j < n; j++) {
            if (shown[j] || strcmp(runs[j].model, runs[i].model)) continue;
            int k = 0, ret = 0, ev = 0;
            double wall = 0, mem = 0;
            for (int m = j; m < n; m++)
                if (!strcmp(runs[m].model, runs[j].model) && !strcmp(runs[m].method, runs[j].method)) {
                    shown[m] = true;
                    x[k] = runs[m].objective_delta;
                    y[k] = runs[m].speedup;
                    ret += runs[m].returned;
                    ev += runs[m].evaluations;
                    wall += runs[m].wall_s;
                    mem += runs[m].mem_ratio;
                    k++;
                }
            int kr = 0;
            for (int m = 0; m < n; m++)
                if (!strcmp(runs[m].model, runs[j].model) && !strcmp(runs[m].method, reference)) z[kr++] = runs[m].objective_delta;
            double xs[MAX_RUNS];
            memcpy(xs, x, sizeof(double) * (size_t)k);
            Summary so = stats_summarize(xs, k), ss = stats_summarize(y, k);
            char p[32] = "-";
            if (strcmp(runs[j].method, reference) && kr >= 2 && k >= 2) snprintf(p, sizeof p, "%.3g", stats_welch(z, kr, x, k).p);
            printf("| %s | %s | %d | %+.4f ± %.4f | %.3fx [%.3f, %.3f] | %.3fx | %d/%d | %.1f | %.0f | %s |\n", runs[j].model, runs[j].method, k,
                   so.mean, k > 1 ? so.ci95 : 0.0, ss.median, ss.min, ss.max, mem / k, ret, k, (double)ev / k, wall / k, p);
        }
    }
    free(x);
    free(y);
    free(z);
    free(shown);
done:
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(runs);
    return rc;
}
