/* bench_report.c - what `grappo bench` derives from its measurements (speedups, Welch p-values,
 * the family regression, Pareto fronts) and the files it writes: report.md, report.json and
 * <model>-pareto.svg. See bench_report.h. */
#include "bench_report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../util/strbuf.h"
#include "svg.h"

const char *const bench_families[BENCH_N_FAMILIES] = {"fuse", "fold", "quantize", "layout", "simplify"};

int bench_family_index(const char *family) {
    for (int f = 0; f < BENCH_N_FAMILIES; f++)
        if (family && !strcmp(family, bench_families[f])) return f;
    return -1;
}

void bench_run_free(BenchRun *r) {
    for (int i = 0; i < r->n_models; i++) {
        for (int k = 0; k < r->models[i].n_results; k++) free(r->models[i].results[k].samples);
        free(r->models[i].results);
    }
    free(r->models);
    r->models = NULL;
    r->n_models = 0;
}

void bench_model_label(const char *spec, char *out, int cap) {
    char buf[512];
    if (!strncmp(spec, "zoo:", 4)) snprintf(buf, sizeof buf, "%s", spec + 4);
    else {
        snprintf(buf, sizeof buf, "%s", spec);
        size_t len = strlen(buf);
        if (len > 3 && !strcmp(buf + len - 3, ".pb")) buf[len -= 3] = 0;
        char *slash = strrchr(buf, '/');
        /* the real fixtures are <name>/model.pb: the directory names the model */
        if (slash && !strcmp(slash + 1, "model") && slash != buf) {
            *slash = 0;
            char *up = strrchr(buf, '/');
            memmove(buf, up ? up + 1 : buf, strlen(up ? up + 1 : buf) + 1);
        } else if (slash) {
            memmove(buf, slash + 1, strlen(slash + 1) + 1);
        }
    }
    int n = 0;
    for (const char *c = buf; *c && n < cap - 1; c++) {
        bool safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        out[n++] = safe ? *c : '-';
    }
    if (n == 0 && cap > 5) n = snprintf(out, (size_t)cap, "model");
    out[n] = 0;
}

const BenchResult *bench_baseline(const BenchModel *m) {
    for (int k = 0; k < m->n_results; k++)
        if (m->results[k].ok && !strcmp(m->results[k].method, "none")) return &m->results[k];
    return NULL;
}

static const BenchResult *first_with_prefix(const BenchModel *m, const char *name) {
    size_t len = strlen(name);
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        /* "ppo" must not match "ppo+bo": the name ends or a seed suffix follows */
        if (r->ok && !strncmp(r->method, name, len) && (r->method[len] == 0 || r->method[len] == '@')) return r;
    }
    return NULL;
}

const BenchResult *bench_reference(const BenchModel *m) {
    const BenchResult *r = first_with_prefix(m, "ppo+bo");
    return r ? r : first_with_prefix(m, "ppo");
}

double bench_speedup(const BenchModel *m, const BenchResult *r) {
    const BenchResult *b = bench_baseline(m);
    if (!b || !r->ok || !(r->ms.median > 0)) return NAN;
    return b->ms.median / r->ms.median;
}

double bench_memory_reduction(const BenchModel *m, const BenchResult *r) {
    const BenchResult *b = bench_baseline(m);
    if (!b || !r->ok || !(b->peak_bytes > 0)) return NAN;
    return 1 - r->peak_bytes / b->peak_bytes;
}

double bench_welch_p(const BenchModel *m, const BenchResult *r) {
    const BenchResult *ref = bench_reference(m);
    if (!ref || ref == r || !r->ok) return NAN;
    return stats_welch(ref->samples, ref->n_samples, r->samples, r->n_samples).p;
}

int bench_pareto_front(const double *x, const double *y, int n, int *idx) {
    int c = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        bool dominated = false;
        for (int j = 0; j < n && !dominated; j++) {
            if (j == i || !isfinite(x[j]) || !isfinite(y[j])) continue;
            dominated = x[j] <= x[i] && y[j] <= y[i] && (x[j] < x[i] || y[j] < y[i]);
        }
        if (!dominated) idx[c++] = i;
    }
    /* insertion sort by (x, y): the front is short */
    for (int a = 1; a < c; a++) {
        int v = idx[a], b = a;
        while (b > 0 && (x[idx[b - 1]] > x[v] || (x[idx[b - 1]] == x[v] && y[idx[b - 1]] > y[v]))) { idx[b] = idx[b - 1]; b--; }
        idx[b] = v;
    }
    return c;
}

BenchRegression bench_regression(const BenchRun *run) {
    BenchRegression g = {.intercept = NAN, .intercept_se = NAN, .r2 = NAN};
    for (int f = 0; f < BENCH_N_FAMILIES; f++) g.coef[f] = g.se[f] = NAN;
    int total = 0;
    for (int i = 0; i < run->n_models; i++) total += run->models[i].n_results;
    double *X = malloc(sizeof *X * (size_t)(total ? total : 1) * (1 + BENCH_N_FAMILIES));
    double *y = malloc(sizeof *y * (size_t)(total ? total : 1));
    if (!X || !y) goto done;
    for (int i = 0; i < run->n_models; i++)
        for (int k = 0; k < run->models[i].n_results; k++) {
            const BenchResult *r = &run->models[i].results[k];
            double s = bench_speedup(&run->models[i], r);
            if (!(s > 0) || !isfinite(s)) continue;
            for (int f = 0; f < BENCH_N_FAMILIES; f++) g.used[f] |= r->family[f] > 0;
            y[g.n++] = log(s);
        }
    /* columns: the intercept, then the families some result used (an all-zero column has no
       coefficient to estimate) */
    int cols[BENCH_N_FAMILIES], p = 1;
    for (int f = 0; f < BENCH_N_FAMILIES; f++)
        if (g.used[f]) cols[p++ - 1] = f;
    int row = 0;
    for (int i = 0; i < run->n_models; i++)
        for (int k = 0; k < run->models[i].n_results; k++) {
            const BenchResult *r = &run->models[i].results[k];
            double s = bench_speedup(&run->models[i], r);
            if (!(s > 0) || !isfinite(s)) continue;
            double *xr = X + (size_t)row++ * (size_t)p;
            xr[0] = 1;
            for (int j = 1; j < p; j++) xr[j] = r->family[cols[j - 1]];
        }
    double b[1 + BENCH_N_FAMILIES], se[1 + BENCH_N_FAMILIES];
    if (g.n < p || stats_regress(X, y, g.n, p, b, se, &g.r2)) goto done;
    g.ok = true;
    g.intercept = b[0];
    g.intercept_se = se[0];
    for (int j = 1; j < p; j++) { g.coef[cols[j - 1]] = b[j]; g.se[cols[j - 1]] = se[j]; }
done:
    free(X);
    free(y);
    return g;
}

/* "-" for NaN so tables never show "nan" */
static const char *num(char *buf, size_t cap, const char *fmt, double v) {
    if (!isfinite(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, fmt, v);
    return buf;
}

static const char *mib(char *buf, size_t cap, double bytes) { return num(buf, cap, "%.2f MiB", bytes / 1048576.0); }

static const char *pval(char *buf, size_t cap, double p) {
    if (!isfinite(p)) snprintf(buf, cap, "-");
    else if (p < 1e-4) snprintf(buf, cap, "%.1e", p);
    else snprintf(buf, cap, "%.4f", p);
    return buf;
}

/* fidelity to the unrewritten graph: top-1 agreement (when defined) and worst cosine >= 0.99 */
/* the labelled top-1 change from the input graph's row ("none"), in percentage points */
static const char *ref_label_change(const BenchModel *m, const BenchResult *r, char *buf, size_t cap) {
    for (int k = 0; k < m->n_results; k++)
        if (!strcmp(m->results[k].method, "none") && m->results[k].ok && m->results[k].label_top1 >= 0) {
            snprintf(buf, cap, "%+.2f pp", 100 * (r->label_top1 - m->results[k].label_top1));
            return buf;
        }
    return "-";
}

static bool faithful(const BenchResult *r) { return r->min_cosine >= 0.99 && (r->top1 < 0 || r->top1 >= 0.99); }

static void md_model(StrBuf *b, const BenchModel *m) {
    strbuf_printf(b, "\n## %s\n\n", m->label);
    strbuf_printf(b, "`%s`", m->name);
    if (m->error[0]) { strbuf_printf(b, ": **failed**: %s\n", m->error); return; }
    const BenchResult *ref = bench_reference(m);
    strbuf_printf(b, " - latency vs memory: [%s-pareto.svg](%s-pareto.svg)\n\n", m->label, m->label);
    strbuf_printf(b, "| method | latency ms (median) | 95%% CI of median | min | max | speedup | peak memory | memory reduction |"
                  " top-1 agreement | min cosine | rel L2 | optimize s | rewrites | fuse | fold | quantize | layout | simplify |"
                  " %s%s%s |\n",
               ref ? "p (Welch vs " : "p (Welch: no ppo row", ref ? ref->method : "", ref ? ")" : ")");
    strbuf_printf(b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (!r->ok) continue;
        char c[10][48];
        strbuf_printf(b, "| %s%s | %.3f | [%s, %s] | %.3f | %.3f | %s | %s | %s | %s | %.6f | %s | %s | %d |", r->method,
                   r->note[0] ? " *" : "", r->ms.median, num(c[0], 48, "%.3f", r->ms.med_lo),
                   num(c[1], 48, "%.3f", r->ms.med_hi), r->ms.min, r->ms.max, num(c[2], 48, "%.2fx", bench_speedup(m, r)),
                   mib(c[3], 48, r->peak_bytes), num(c[4], 48, "%.1f%%", 100 * bench_memory_reduction(m, r)),
                   r->top1 >= 0 ? num(c[5], 48, "%.2f%%", 100 * r->top1) : "-", r->min_cosine, num(c[6], 48, "%.3g", r->max_rel_l2),
                   num(c[8], 48, "%.3g", r->optimize_s), r->rewrites);
        for (int f = 0; f < BENCH_N_FAMILIES; f++) strbuf_printf(b, " %d |", r->family[f]);
        strbuf_printf(b, " %s |\n", pval(c[7], 48, bench_welch_p(m, r)));
    }
    /* top-1/top-5 against the user's labels (--eval DIR --labels FILE), when given */
    bool labelled = false;
    for (int k = 0; k < m->n_results; k++) labelled |= m->results[k].ok && m->results[k].label_top1 >= 0;
    if (labelled) {
        strbuf_printf(b, "\n| method | top-1 (labels) | top-5 (labels) | top-1 change |\n|---|---|---|---|\n");
        for (int k = 0; k < m->n_results; k++) {
            const BenchResult *r = &m->results[k];
            if (!r->ok || r->label_top1 < 0) continue;
            char c[2][48];
            strbuf_printf(b, "| %s | %.2f%% | %s | %s |\n", r->method, 100 * r->label_top1,
                          r->label_top5 >= 0 ? num(c[0], 48, "%.2f%%", 100 * r->label_top5) : "-",
                          ref_label_change(m, r, c[1], 48));
        }
    }
    /* notes (marked * in the table) and skipped methods, one line each */
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (r->ok && r->note[0]) strbuf_printf(b, "\n- *%s: %s", r->method, r->note);
        if (!r->ok) strbuf_printf(b, "\n- **%s skipped**: %s", r->method, r->error);
    }
    /* the non-dominated methods in (latency, memory), as drawn in the plot */
    double *x = malloc(sizeof *x * (size_t)(m->n_results ? m->n_results : 1) * 2);
    int *front = malloc(sizeof *front * (size_t)(m->n_results ? m->n_results : 1));
    if (x && front) {
        double *y = x + m->n_results;
        for (int k = 0; k < m->n_results; k++) {
            bool in = m->results[k].ok && faithful(&m->results[k]);
            x[k] = in ? m->results[k].ms.median : NAN;
            y[k] = in ? m->results[k].peak_bytes : NAN;
        }
        int nf = bench_pareto_front(x, y, m->n_results, front);
        strbuf_printf(b, "\n\nPareto front of the results that keep fidelity (latency, peak memory; fastest first):");
        for (int j = 0; j < nf; j++) strbuf_printf(b, "%s %s", j ? "," : "", m->results[front[j]].method);
    } else {
        b->oom = true;
    }
    free(x);
    free(front);
    strbuf_printf(b, "\n\nRewrites applied:\n\n");
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (r->ok) strbuf_printf(b, "- %s (%d): %s\n", r->method, r->rewrites, r->rules[0] ? r->rules : "none");
    }
}

/* The first table a reader wants: every model's speedup per method, the fastest result that
   keeps fidelity (top-1 agreement and cosine >= 0.99) in bold, results outside it marked. Methods
   in the order of the first model that has them; seeded rows (METHOD@seed=S) are left to the
   model sections. */
static void md_summary(StrBuf *b, const BenchRun *run) {
    const char *cols[32];
    int nc = 0;
    for (int i = 0; i < run->n_models; i++)
        for (int k = 0; k < run->models[i].n_results && nc < 32; k++) {
            const char *mname = run->models[i].results[k].method;
            bool seen = strchr(mname, '@') != NULL;
            for (int c = 0; c < nc && !seen; c++) seen = !strcmp(cols[c], mname);
            if (!seen) cols[nc++] = mname;
        }
    if (!nc) return;
    strbuf_printf(b, "\n## Summary\n\nSpeedup over the unrewritten graph (ratio of medians from the same loop) and, in "
                  "parentheses, the peak-memory reduction. **Bold**: the fastest result per model that keeps fidelity "
                  "(top-1 agreement and worst cosine >= 0.99); a dagger marks results that do not; *input*: the method "
                  "applied no rewrite (it returned the unrewritten graph, whose ratio to `none` is noise). Details per "
                  "model below.\n\n| model |");
    for (int c = 0; c < nc; c++) strbuf_printf(b, " %s |", cols[c]);
    strbuf_printf(b, "\n|---|");
    for (int c = 0; c < nc; c++) strbuf_printf(b, "---|");
    strbuf_printf(b, "\n");
    for (int i = 0; i < run->n_models; i++) {
        const BenchModel *m = &run->models[i];
        strbuf_printf(b, "| %s |", m->label);
        if (m->error[0]) {
            for (int c = 0; c < nc; c++) strbuf_printf(b, " %s |", c ? "" : "failed");
            strbuf_printf(b, "\n");
            continue;
        }
        const BenchResult *best = NULL;
        for (int k = 0; k < m->n_results; k++) {
            const BenchResult *r = &m->results[k];
            bool input = r->rewrites == 0 && strcmp(r->method, "none");
            if (r->ok && faithful(r) && !input && !strchr(r->method, '@') && (!best || r->ms.median < best->ms.median)) best = r;
        }
        for (int c = 0; c < nc; c++) {
            const BenchResult *r = NULL;
            for (int k = 0; k < m->n_results && !r; k++)
                if (!strcmp(m->results[k].method, cols[c])) r = &m->results[k];
            if (!r || !r->ok) { strbuf_printf(b, " %s |", r ? "skipped" : "-"); continue; }
            if (r->rewrites == 0 && strcmp(r->method, "none")) { strbuf_printf(b, " *input* |"); continue; }
            strbuf_printf(b, " %s%.2fx (%.0f%%)%s%s |", r == best ? "**" : "", bench_speedup(m, r), 100 * bench_memory_reduction(m, r),
                       r == best ? "**" : "", faithful(r) ? "" : " †");
        }
        strbuf_printf(b, "\n");
    }
}

char *bench_markdown(const BenchRun *run) {
    StrBuf b = {0};
    strbuf_printf(&b, "# grappo bench\n\n");
    strbuf_printf(&b, "Machine: %s, %d cores; %s%d threads; %s.\n\n", run->cpu, run->cores, run->threads ? "" : "all ",
               run->threads ? run->threads : run->cores, run->date);
    strbuf_printf(&b, "Methods: %s. Latency: %d runs of every method's graph of a model, alternating in one loop after one "
                   "warm-up each (median, its distribution-free 95%% CI from order statistics, min, max, in ms); speedup and memory reduction against "
                   "`none` (the unrewritten graph) from the same loop. Peak memory: the plan's planned peak. Accuracy: "
                   "fidelity to the unrewritten graph on %d generated batches. Searches: --budget %d graph evaluations, "
                   "%d seed(s); ppo: %d rollouts of the shipped policy; ppo+bo: %d trials of it. p: Welch's two-sided "
                   "t-test on the per-run latencies against the agent's row.\n",
               run->methods, run->repeats, run->eval_batches, run->budget, run->seeds, run->episodes, run->trials);
    md_summary(&b, run);
    for (int i = 0; i < run->n_models; i++) md_model(&b, &run->models[i]);

    BenchRegression g = bench_regression(run);
    strbuf_printf(&b, "\n## Which rewrites go with speed\n\n");
    strbuf_printf(&b, "Least squares over every measured (model, method): ln(speedup) = b0 + sum over families of "
                   "b_f x (rewrites of family f). Descriptive, not causal: methods that apply many rewrites of one "
                   "family also apply others, and models differ in how much there is to gain.\n\n");
    if (!g.ok) strbuf_printf(&b, "Not enough results for a fit (%d).\n", g.n);
    else {
        char c1[48], c2[48];
        strbuf_printf(&b, "| term | coefficient | standard error |\n|---|---|---|\n");
        strbuf_printf(&b, "| intercept | %s | %s |\n", num(c1, 48, "%.4f", g.intercept), num(c2, 48, "%.4f", g.intercept_se));
        for (int f = 0; f < BENCH_N_FAMILIES; f++) {
            if (g.used[f]) strbuf_printf(&b, "| %s | %s | %s |\n", bench_families[f], num(c1, 48, "%.4f", g.coef[f]), num(c2, 48, "%.4f", g.se[f]));
            else strbuf_printf(&b, "| %s | (never applied) | - |\n", bench_families[f]);
        }
        strbuf_printf(&b, "\nR^2 = %s over n = %d results.\n", num(c1, 48, "%.4f", g.r2), g.n);
    }
    strbuf_printf(&b, "\n## Training\n\n");
    if (run->curve_svg[0]) strbuf_printf(&b, "Learning curve of the shipped policy: [%s](%s)\n", run->curve_svg, run->curve_svg);
    else strbuf_printf(&b, "No learning curve found (make policy writes one).\n");
    strbuf_printf(&b, "\n");
    return strbuf_finish(&b);
}

static void json_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

char *bench_json(const BenchRun *run) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *mach = cJSON_AddObjectToObject(o, "machine");
    cJSON_AddStringToObject(mach, "cpu", run->cpu);
    cJSON_AddNumberToObject(mach, "cores", run->cores);
    cJSON_AddNumberToObject(mach, "threads", run->threads);
    cJSON_AddStringToObject(mach, "date", run->date);
    cJSON *set = cJSON_AddObjectToObject(o, "settings");
    cJSON_AddStringToObject(set, "methods", run->methods);
    cJSON_AddNumberToObject(set, "repeats", run->repeats);
    cJSON_AddNumberToObject(set, "budget", run->budget);
    cJSON_AddNumberToObject(set, "seeds", run->seeds);
    cJSON_AddNumberToObject(set, "trials", run->trials);
    cJSON_AddNumberToObject(set, "episodes", run->episodes);
    cJSON_AddNumberToObject(set, "eval_batches", run->eval_batches);
    cJSON *models = cJSON_AddArrayToObject(o, "models");
    for (int i = 0; i < run->n_models; i++) {
        const BenchModel *m = &run->models[i];
        cJSON *mj = cJSON_CreateObject();
        cJSON_AddItemToArray(models, mj);
        cJSON_AddStringToObject(mj, "model", m->name);
        cJSON_AddStringToObject(mj, "label", m->label);
        if (m->error[0]) cJSON_AddStringToObject(mj, "error", m->error);
        const BenchResult *ref = bench_reference(m);
        if (ref) cJSON_AddStringToObject(mj, "welch_reference", ref->method);
        else cJSON_AddNullToObject(mj, "welch_reference");
        char svg[128];
        snprintf(svg, sizeof svg, "%s-pareto.svg", m->label);
        cJSON_AddStringToObject(mj, "pareto_svg", svg);
        cJSON *arr = cJSON_AddArrayToObject(mj, "methods");
        for (int k = 0; k < m->n_results; k++) {
            const BenchResult *r = &m->results[k];
            cJSON *rj = cJSON_CreateObject();
            cJSON_AddItemToArray(arr, rj);
            cJSON_AddStringToObject(rj, "method", r->method);
            cJSON_AddBoolToObject(rj, "ok", r->ok);
            if (!r->ok) { cJSON_AddStringToObject(rj, "error", r->error); continue; }
            if (r->note[0]) cJSON_AddStringToObject(rj, "note", r->note);
            json_num(rj, "latency_ms_median", r->ms.median);
            json_num(rj, "latency_ms_mean", r->ms.mean);
            json_num(rj, "latency_ms_ci95", r->ms.ci95);
            json_num(rj, "latency_ms_median_ci95_lo", r->ms.med_lo);
            json_num(rj, "latency_ms_median_ci95_hi", r->ms.med_hi);
            json_num(rj, "latency_ms_min", r->ms.min);
            json_num(rj, "latency_ms_max", r->ms.max);
            cJSON *s = cJSON_AddArrayToObject(rj, "latency_ms_samples");
            for (int j = 0; j < r->n_samples; j++) cJSON_AddItemToArray(s, cJSON_CreateNumber(r->samples[j]));
            json_num(rj, "speedup", bench_speedup(m, r));
            json_num(rj, "peak_bytes", r->peak_bytes);
            json_num(rj, "memory_reduction", bench_memory_reduction(m, r));
            json_num(rj, "top1_agreement", r->top1 >= 0 ? r->top1 : NAN);
            if (r->label_top1 >= 0) json_num(rj, "label_top1", r->label_top1);
            if (r->label_top5 >= 0) json_num(rj, "label_top5", r->label_top5);
            json_num(rj, "min_cosine", r->min_cosine);
            json_num(rj, "max_rel_l2", r->max_rel_l2);
            json_num(rj, "optimize_seconds", r->optimize_s);
            cJSON_AddNumberToObject(rj, "evaluations", r->evaluations);
            cJSON_AddNumberToObject(rj, "rewrites", r->rewrites);
            cJSON *fam = cJSON_AddObjectToObject(rj, "rewrites_by_family");
            for (int f = 0; f < BENCH_N_FAMILIES; f++) cJSON_AddNumberToObject(fam, bench_families[f], r->family[f]);
            cJSON_AddStringToObject(rj, "rules", r->rules);
            json_num(rj, "welch_p", bench_welch_p(m, r));
        }
    }
    BenchRegression g = bench_regression(run);
    cJSON *rg = cJSON_AddObjectToObject(o, "regression");
    cJSON_AddStringToObject(rg, "model", "ln(speedup) ~ 1 + rewrites per family (descriptive, not causal)");
    cJSON_AddNumberToObject(rg, "n", g.n);
    cJSON_AddBoolToObject(rg, "ok", g.ok);
    json_num(rg, "r2", g.r2);
    cJSON *terms = cJSON_AddObjectToObject(rg, "terms");
    cJSON *t0 = cJSON_AddObjectToObject(terms, "intercept");
    json_num(t0, "coef", g.intercept);
    json_num(t0, "se", g.intercept_se);
    for (int f = 0; f < BENCH_N_FAMILIES; f++) {
        cJSON *t = cJSON_AddObjectToObject(terms, bench_families[f]);
        json_num(t, "coef", g.coef[f]);
        json_num(t, "se", g.se[f]);
    }
    if (run->curve_svg[0]) cJSON_AddStringToObject(o, "learning_curve_svg", run->curve_svg);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* one color per method row: svg.c's palette repeats after six */
static const char *const method_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                            "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939"};
#define N_METHOD_COLORS ((int)(sizeof method_colors / sizeof method_colors[0]))

/* latency (x) against peak memory in MiB (y), one scatter series per method, and the Pareto
   front as a line through the non-dominated points */
static int write_pareto_svg(const BenchModel *m, const char *path, Err *err) {
    int n = m->n_results;
    double *x = calloc((size_t)(2 * n + 2), sizeof *x), *y = x ? x + n + 1 : NULL;
    SvgSeries *ser = calloc((size_t)n + 2, sizeof *ser);
    int *front = calloc((size_t)n + 1, sizeof *front);
    double *fx = calloc((size_t)(2 * n + 2), sizeof *fx), *fy = fx ? fx + n + 1 : NULL;
    double *px = calloc((size_t)(2 * n + 2), sizeof *px), *py = px ? px + n + 1 : NULL;
    char (*names)[64] = calloc((size_t)n + 1, sizeof *names);
    int rc = -1;
    if (!x || !ser || !front || !fx || !px || !names) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    int ns = 0;
    for (int k = 0; k < n; k++) {
        const BenchResult *r = &m->results[k];
        x[k] = r->ok ? r->ms.median : NAN;
        y[k] = r->ok ? r->peak_bytes / 1048576.0 : NAN;
        /* the front is over the results that keep fidelity; the others carry a dagger in the legend */
        px[k] = r->ok && faithful(r) ? x[k] : NAN;
        py[k] = r->ok && faithful(r) ? y[k] : NAN;
        if (r->ok) {
            snprintf(names[k], sizeof names[k], "%s%s", r->method, faithful(r) ? "" : " †");
            ser[ns] = (SvgSeries){.name = names[k], .kind = SVG_SCATTER, .x = &x[k], .y = &y[k], .n = 1,
                                  .color = method_colors[ns % N_METHOD_COLORS]};
            ns++;
        }
    }
    /* svg.c draws the legend over the top right of the frame: an invisible point (fill none)
       widens the x range by 45% so the data stays left of it, and pins the memory axis at 0 */
    double xmin = INFINITY, xmax = -INFINITY;
    for (int k = 0; k < n; k++)
        if (isfinite(x[k])) { xmin = fmin(xmin, x[k]); xmax = fmax(xmax, x[k]); }
    double pad[2] = {xmax + (xmax > xmin ? 0.45 * (xmax - xmin) : 0.3 * fabs(xmax)), 0};
    if (ns > 0) ser[ns++] = (SvgSeries){.kind = SVG_SCATTER, .x = &pad[0], .y = &pad[1], .n = 1, .color = "none"};
    int nf = bench_pareto_front(px, py, n, front);
    for (int j = 0; j < nf; j++) { fx[j] = x[front[j]]; fy[j] = y[front[j]]; }
    /* svg.c's legend box is narrow: the members of the front are listed in report.md */
    if (nf > 0) ser[ns++] = (SvgSeries){.name = "Pareto front", .kind = SVG_LINE, .x = fx, .y = fy, .n = nf, .color = "#444444"};
    char title[160];
    snprintf(title, sizeof title, "%s: latency vs peak memory (lower left is better)", m->label);
    SvgPlot p = {.title = title, .xlabel = "latency ms (median)", .ylabel = "peak memory MiB", .width = 760, .height = 440, .series = ser, .n_series = ns};
    rc = svg_write(&p, path, err);
done:
    free(x);
    free(ser);
    free(front);
    free(fx);
    free(px);
    free(names);
    return rc;
}

static int write_string(const char *dir, const char *name, char *s, Err *err) {
    if (!s) return err_set(err, ERR_RUNTIME, "out of memory");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = atomic_write_file(path, s, strlen(s), err);
    free(s);
    return rc;
}

int bench_write(const BenchRun *run, const char *dir, Err *err) {
    for (int i = 0; i < run->n_models; i++) {
        const BenchModel *m = &run->models[i];
        if (m->error[0]) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s-pareto.svg", dir, m->label);
        if (write_pareto_svg(m, path, err)) return -1;
    }
    if (write_string(dir, "report.json", bench_json(run), err)) return -1;
    return write_string(dir, "report.md", bench_markdown(run), err);
}
