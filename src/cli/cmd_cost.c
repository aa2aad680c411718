/* cmd_cost.c - `grappo cost MODEL ...`: how good is the cost model? For each model, the
 * estimate against whole-plan timing (relative error), and whether the estimates order a set
 * of candidate graphs the way their measured latencies do (Spearman's rho). Candidates: the
 * input, the "grappler" pipeline's result, and random sequences of exact rewrites (seeded). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../measure/cost.h"
#include "../measure/measure.h"
#include "../report/stats.h"
#include "../rewrite/pipeline.h"
#include "cli.h"

#define MAX_MODELS 64
#define MAX_CANDIDATES 32

static void help(void) {
    printf("usage: grappo cost MODEL.pb|zoo:NAME ... [--threads N] [--repeats N] [--candidates K]\n"
           "                  [--cost-cache DIR] [--seed S] [--json]\n"
           "       grappo cost --check [--fix] [TABLE.tsv ...] [--cost-cache DIR] [--threads N] [MODEL ...]\n"
           "\n"
           "Checks the per-kernel cost model search uses against whole-plan timing. For each model:\n"
           "K candidate graphs (the input, the grappler pipeline's result, and K-2 random sequences\n"
           "of exact rewrites drawn from --seed) are estimated by the cost model (kernels not yet in\n"
           "the cache are timed now and cached in --cost-cache, default $XDG_CACHE_HOME/grappo or\n"
           "~/.cache/grappo) and measured on the fast runtime (alternating, one warm-up, each timed run\n"
           "after an untimed run of the same graph, median of --repeats runs). Prints each\n"
           "candidate's estimate, measurement and relative error, and Spearman's rank correlation\n"
           "between estimates and measurements; then the median |relative error| of the input\n"
           "graphs over the models and the mean rho.\n"
           "Defaults: --candidates 6, --repeats 20, --threads all cores, --seed 1.\n"
           "\n"
           "--check lists the suspicious entries of cost tables: each TABLE.tsv given, else this\n"
           "CPU's table for --threads in --cost-cache. An entry is suspicious when it takes at least\n"
           "%.1f ms and over %.0fx what its class (op and dtypes) predicts from the roofline (classes of\n"
           "fewer than 3 entries: over %.0fx the roofline): the mark of a kernel timed while another\n"
           "process held a core. --fix removes them from the table, then estimates the MODELs given\n"
           "(timing again, through the write guard, the kernels they need); other removed kernels\n"
           "are timed again when next needed. Exit status 0 either way; --json for the list.\n",
           COST_SUSPECT_MIN_MS, COST_SUSPECT_CLASS, COST_SUSPECT_ROOFLINE);
}

typedef struct Cand {
    Graph *g;
    char label[48];
    CostEstimate est;
    double measured, error;
} Cand;

static bool exact_rule(const RuleDef *r) { return (r->flags & RULE_EXACT) && !(r->flags & RULE_PRECISION); }

/* a clone of g after up to `len` random exact rewrites (fewer when no site is left) */
static Graph *random_candidate(const Graph *g, Rng *rng, int *applied, Err *err) {
    int n_rules;
    const RuleDef *const *rules = rules_all(&n_rules);
    SiteList sl = {0};
    Graph *c = graph_clone(g, err);
    if (!c) return NULL;
    /* sequence length uniform in [1, 2 * initial sites + 1], as random search draws it */
    int n_sites = 0;
    for (int r = 0; r < n_rules; r++) {
        if (!exact_rule(rules[r])) continue;
        if (rule_sites(rules[r], c, &sl, err)) goto fail;
        n_sites += sl.n;
    }
    int len = 1 + (int)rng_below(rng, (uint64_t)(2 * n_sites + 1));
    *applied = 0;
    for (int step = 0; step < len; step++) {
        /* all (rule, site) pairs of the current graph, one drawn uniformly */
        int total = 0;
        for (int r = 0; r < n_rules; r++) {
            if (!exact_rule(rules[r])) continue;
            if (rule_sites(rules[r], c, &sl, err)) goto fail;
            total += sl.n;
        }
        if (total == 0) break;
        int pick = (int)rng_below(rng, (uint64_t)total);
        for (int r = 0; r < n_rules; r++) {
            if (!exact_rule(rules[r])) continue;
            if (rule_sites(rules[r], c, &sl, err)) goto fail;
            if (pick < sl.n) {
                if (rule_apply(rules[r], c, &sl.v[pick], err)) goto fail;
                (*applied)++;
                break;
            }
            pick -= sl.n;
        }
    }
    sitelist_free(&sl);
    return c;
fail:
    sitelist_free(&sl);
    graph_free(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int n) {
    if (n == 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* --check [--fix]: the tables named (or this CPU's), their suspicious entries listed */
static int check_tables(const char *const *tables, int n_tables, const char *const *models, int n_models, const char *cache_dir,
                        int threads, bool fix, bool json) {
    Err err = {0};
    CostModel *cm = NULL;
    const char *paths[MAX_MODELS];
    int n = 0;
    for (int i = 0; i < n_tables; i++) paths[n++] = tables[i];
    if (n == 0 || n_models) {
        CostOpts co = {.backend = COST_MEASURED, .threads = threads, .cache_dir = cache_dir};
        if (!(cm = cost_open(&co, &err))) return cli_fail(&err);
        if (n == 0) {
            if (!cost_cache_path(cm)) { cost_close(cm); return cli_usage_error("cost", "no cost table: give TABLE.tsv or --cost-cache DIR"); }
            paths[n++] = cost_cache_path(cm);
        }
    }
    cJSON *root = json ? cJSON_CreateArray() : NULL;
    int rc = EXIT_OK;
    for (int t = 0; t < n; t++) {
        CostCheck c;
        if (cost_check_file(paths[t], &c, &err)) { rc = cli_fail(&err); goto done; }
        int removed = 0;
        if (fix && c.n_suspects && cost_check_remove(paths[t], &c, &removed, &err)) { cost_check_free(&c); rc = cli_fail(&err); goto done; }
        if (json) {
            cJSON *jt = cJSON_CreateObject();
            cJSON_AddItemToArray(root, jt);
            cJSON_AddStringToObject(jt, "table", paths[t]);
            cJSON_AddNumberToObject(jt, "entries", c.entries);
            cJSON_AddNumberToObject(jt, "classes", c.classes);
            cJSON_AddNumberToObject(jt, "unparsed", c.unparsed);
            cJSON_AddNumberToObject(jt, "removed", removed);
            cJSON *js = cJSON_AddArrayToObject(jt, "suspicious");
            for (int i = 0; i < c.n_suspects; i++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddItemToArray(js, e);
                cJSON_AddStringToObject(e, "key", c.suspects[i].key);
                cJSON_AddNumberToObject(e, "ms", c.suspects[i].ms);
                cJSON_AddNumberToObject(e, "roofline_ms", c.suspects[i].roofline_ms);
                if (isnan(c.suspects[i].class_ms)) cJSON_AddNullToObject(e, "class_ms");
                else cJSON_AddNumberToObject(e, "class_ms", c.suspects[i].class_ms);
            }
        } else {
            printf("%s: %d entries in %d classes, %d suspicious%s\n", paths[t], c.entries, c.classes, c.n_suspects,
                   fix ? "" : (c.n_suspects ? " (--fix removes them)" : ""));
            for (int i = 0; i < c.n_suspects; i++) {
                const CostSuspect *s = &c.suspects[i];
                char pred[32];
                if (isnan(s->class_ms)) snprintf(pred, sizeof pred, "-");
                else snprintf(pred, sizeof pred, "%.3f", s->class_ms);
                printf("   %10.3f ms  (class predicts %s ms, roofline %.4f ms)  %.160s\n", s->ms, pred, s->roofline_ms, s->key);
            }
            if (c.unparsed) printf("   %d entries whose key could not be read were not judged\n", c.unparsed);
            if (fix) printf("   removed %d entries\n", removed);
        }
        cost_check_free(&c);
    }
    if (fix && n_models && cm) {
        /* the removed kernels these models need, timed again now (a fresh cost model reads the fixed table) */
        cost_close(cm);
        CostOpts co = {.backend = COST_MEASURED, .threads = threads, .cache_dir = cache_dir};
        if (!(cm = cost_open(&co, &err))) { rc = cli_fail(&err); goto done; }
        for (int m = 0; m < n_models; m++) {
            Graph *g = cli_load_model(models[m], &err);
            CostEstimate est;
            if (!g || cli_prepare(g, NULL, 0, &err) || cost_estimate(cm, g, &est, NULL, &err)) {
                graph_free(g);
                err_prefix(&err, "%s", models[m]);
                rc = cli_fail(&err);
                goto done;
            }
            if (!json) printf("%s: %d kernels, %d timed again\n", models[m], est.kernels, est.misses);
            graph_free(g);
        }
    }
    if (json) {
        char *s = cJSON_Print(root);
        if (s) printf("%s\n", s);
        cJSON_free(s);
    }
done:
    cJSON_Delete(root);
    cost_close(cm);
    return rc;
}

static bool is_table(const char *path) {
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".tsv");
}

int cmd_cost(int argc, char **argv) {
    Args a = {argc, argv, 1, "cost"};
    const char *models[MAX_MODELS], *cache_dir = NULL, *v;
    int n_models = 0;
    long long threads = 0, repeats = 20, n_cand = 6, seed = 1;
    bool json = false, bad = false, check = false, fix = false;
    for (; a.i < argc; a.i++) {
        if (arg_flag(&a, "--help") || arg_flag(&a, "-h")) { help(); return EXIT_OK; }
        else if (arg_flag(&a, "--json")) json = true;
        else if (arg_flag(&a, "--check")) check = true;
        else if (arg_flag(&a, "--fix")) fix = true;
        else if (arg_opt(&a, "--threads", &v, &bad)) { if (bad || !parse_int("cost", "--threads", v, 0, 1024, &threads)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--repeats", &v, &bad)) { if (bad || !parse_int("cost", "--repeats", v, 1, 100000, &repeats)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--candidates", &v, &bad)) { if (bad || !parse_int("cost", "--candidates", v, 1, MAX_CANDIDATES, &n_cand)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--seed", &v, &bad)) { if (bad || !parse_int("cost", "--seed", v, 0, 1LL << 62, &seed)) return EXIT_USAGE; }
        else if (arg_opt(&a, "--cost-cache", &cache_dir, &bad)) { if (bad) return EXIT_USAGE; }
        else if (argv[a.i][0] == '-') return cli_usage_error("cost", "unknown option '%s'", argv[a.i]);
        else if (n_models == MAX_MODELS) return cli_usage_error("cost", "at most %d models", MAX_MODELS);
        else models[n_models++] = argv[a.i];
    }
    if (fix && !check) return cli_usage_error("cost", "--fix goes with --check");
    if (threads == 0) { long n = sysconf(_SC_NPROCESSORS_ONLN); threads = n > 0 ? n : 1; }
    if (check) {
        const char *tables[MAX_MODELS], *graphs[MAX_MODELS];
        int n_tables = 0, n_graphs = 0;
        for (int m = 0; m < n_models; m++) {
            if (is_table(models[m])) tables[n_tables++] = models[m];
            else graphs[n_graphs++] = models[m];
        }
        if (n_graphs && !fix) return cli_usage_error("cost", "--check without --fix takes tables (.tsv), not models");
        return check_tables(tables, n_tables, graphs, n_graphs, cache_dir, (int)threads, fix, json);
    }
    if (n_models == 0) return cli_usage_error("cost", "which model(s)?");
    bool progress = isatty(2);
    Err err = {0};
    int rc = EXIT_OK;
    CostOpts co = {.backend = COST_MEASURED, .threads = (int)threads, .cache_dir = cache_dir};
    CostModel *cm = cost_open(&co, &err);
    if (!cm) return cli_fail(&err);
    double model_err[MAX_MODELS], model_rho[MAX_MODELS], all_err[MAX_MODELS * MAX_CANDIDATES];
    int n_all = 0, n_rho = 0;
    cJSON *root = json ? cJSON_CreateObject() : NULL, *jmodels = json ? cJSON_AddArrayToObject(root, "models") : NULL;
    Cand cand[MAX_CANDIDATES];
    for (int m = 0; m < n_models; m++) {
        memset(cand, 0, sizeof cand);
        int k_made = 0;
        InputSet in = {0};
        LatencyResult lat[MAX_CANDIDATES];
        Graph *g = cli_load_model(models[m], &err);
        if (!g) goto fail;
        if (cli_prepare(g, NULL, 0, &err)) { err_prefix(&err, "%s", models[m]); graph_free(g); goto fail; }
        if (progress) fprintf(stderr, "[%d/%d] %s: building %lld candidates\n", m + 1, n_models, models[m], n_cand);
        cand[0].g = g;
        snprintf(cand[0].label, sizeof cand[0].label, "input");
        k_made = 1;
        Rng rng;
        rng_seed(&rng, (uint64_t)seed);
        for (int k = 1; k < n_cand; k++) {
            Graph *c;
            if (k == 1) {
                RewriteLog log = {0};
                c = graph_clone(g, &err);
                if (c && pipeline_run("grappler", c, 0, &log, &err)) { graph_free(c); c = NULL; }
                snprintf(cand[k].label, sizeof cand[k].label, "grappler (%d rewrites)", log.total);
            } else {
                int applied = 0;
                c = random_candidate(g, &rng, &applied, &err);
                snprintf(cand[k].label, sizeof cand[k].label, "random (%d rewrites)", applied);
            }
            if (!c) { err_prefix(&err, "%s: candidate %d", models[m], k); goto model_fail; }
            cand[k].g = c;
            k_made++;
        }
        CostStats before, after;
        cost_stats(cm, &before);
        double t0 = cli_now_ms();
        for (int k = 0; k < k_made; k++) {
            if (progress) fprintf(stderr, "[%d/%d] %s: estimating candidate %d/%d\n", m + 1, n_models, models[m], k + 1, k_made);
            if (cost_estimate(cm, cand[k].g, &cand[k].est, NULL, &err)) { err_prefix(&err, "%s", models[m]); goto model_fail; }
        }
        double est_s = (cli_now_ms() - t0) / 1e3;
        cost_stats(cm, &after);
        if (progress) fprintf(stderr, "[%d/%d] %s: measuring %d candidates x %lld runs\n", m + 1, n_models, models[m], k_made, repeats);
        if (inputs_generate(g, 2, 1, &in, &err)) goto model_fail;
        const Graph *gs[MAX_CANDIDATES];
        for (int k = 0; k < k_made; k++) gs[k] = cand[k].g;
        if (latency_measure(gs, k_made, &in, (int)repeats, (int)threads, lat, &err)) { err_prefix(&err, "%s", models[m]); goto model_fail; }
        double est[MAX_CANDIDATES], meas[MAX_CANDIDATES];
        for (int k = 0; k < k_made; k++) {
            cand[k].measured = lat[k].ms.median;
            cand[k].error = (cand[k].est.latency_ms - cand[k].measured) / cand[k].measured;
            est[k] = cand[k].est.latency_ms;
            meas[k] = cand[k].measured;
            all_err[n_all++] = fabs(cand[k].error);
        }
        double rho = stats_spearman(est, meas, k_made);
        model_err[m] = fabs(cand[0].error);
        if (!isnan(rho)) model_rho[n_rho++] = rho;
        if (json) {
            cJSON *jm = cJSON_CreateObject();
            cJSON_AddItemToArray(jmodels, jm);
            cJSON_AddStringToObject(jm, "model", models[m]);
            cJSON_AddNumberToObject(jm, "relative_error", cand[0].error);
            if (isnan(rho)) cJSON_AddNullToObject(jm, "spearman_rho");
            else cJSON_AddNumberToObject(jm, "spearman_rho", rho);
            cJSON_AddNumberToObject(jm, "kernels_timed", (double)(after.timed - before.timed));
            cJSON_AddNumberToObject(jm, "kernel_fallbacks", (double)(after.fallbacks - before.fallbacks));
            cJSON_AddNumberToObject(jm, "estimate_seconds", est_s);
            cJSON *jc = cJSON_AddArrayToObject(jm, "candidates");
            for (int k = 0; k < k_made; k++) {
                cJSON *c = cJSON_CreateObject();
                cJSON_AddItemToArray(jc, c);
                cJSON_AddStringToObject(c, "graph", cand[k].label);
                cJSON_AddNumberToObject(c, "nodes", cand[k].g->n_nodes);
                cJSON_AddNumberToObject(c, "kernels", cand[k].est.kernels);
                cJSON_AddNumberToObject(c, "estimate_ms", cand[k].est.latency_ms);
                cJSON_AddNumberToObject(c, "measured_ms", cand[k].measured);
                cJSON_AddNumberToObject(c, "measured_ci95_ms", lat[k].ms.ci95);
                cJSON_AddNumberToObject(c, "relative_error", cand[k].error);
                cJSON_AddNumberToObject(c, "estimated_peak_bytes", cand[k].est.peak_bytes);
                cJSON_AddNumberToObject(c, "planned_peak_bytes", (double)lat[k].peak_bytes);
            }
        } else {
            printf("%s: %d candidates, %lld kernels timed (%lld cached lookups), estimates took %.1f s\n", models[m], k_made,
                   (long long)(after.timed - before.timed), (long long)(after.hits - before.hits), est_s);
            printf("   %-24s %6s %7s %12s %12s %8s\n", "graph", "nodes", "kernels", "estimate ms", "measured ms", "error");
            for (int k = 0; k < k_made; k++)
                printf("   %-24s %6d %7d %12.3f %12.3f %+7.1f%%\n", cand[k].label, cand[k].g->n_nodes, cand[k].est.kernels,
                       cand[k].est.latency_ms, cand[k].measured, 100 * cand[k].error);
            printf("   Spearman rho (estimate vs measured): %s%.3f\n", isnan(rho) ? "n/a " : "", isnan(rho) ? 0.0 : rho);
            if (after.fallbacks > before.fallbacks)
                printf("   %lld kernels could not be timed alone: roofline used\n", (long long)(after.fallbacks - before.fallbacks));
        }
        inputs_free(&in);
        for (int k = 0; k < k_made; k++) graph_free(cand[k].g);
        continue;
    model_fail:
        inputs_free(&in);
        for (int k = 0; k < k_made; k++) graph_free(cand[k].g);
        goto fail;
    }
    {
        double med_err = median_of(model_err, n_models), med_all = median_of(all_err, n_all), mean_rho = 0;
        for (int k = 0; k < n_rho; k++) mean_rho += model_rho[k];
        mean_rho = n_rho ? mean_rho / n_rho : NAN;
        if (json) {
            cJSON_AddNumberToObject(root, "median_abs_relative_error", med_err);
            cJSON_AddNumberToObject(root, "median_abs_relative_error_all_candidates", med_all);
            if (isnan(mean_rho)) cJSON_AddNullToObject(root, "mean_spearman_rho");
            else cJSON_AddNumberToObject(root, "mean_spearman_rho", mean_rho);
            cJSON_AddNumberToObject(root, "threads", (double)threads);
            cJSON_AddNumberToObject(root, "repeats", (double)repeats);
            const char *path = cost_cache_path(cm);
            if (path) cJSON_AddStringToObject(root, "cost_cache", path);
            char *s = cJSON_Print(root);
            if (s) printf("%s\n", s);
            cJSON_free(s);
        } else {
            printf("summary: %d model(s), median |error| %.1f%% (input graphs), %.1f%% (all candidates), mean rho %.3f\n",
                   n_models, 100 * med_err, 100 * med_all, mean_rho);
        }
    }
    goto done;
fail:
    rc = cli_fail(&err);
done:
    cJSON_Delete(root);
    cost_close(cm);
    return rc;
}
