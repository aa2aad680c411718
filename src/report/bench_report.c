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
#include "../measure/measure.h"
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
        while (len > 1 && buf[len - 1] == '/') buf[--len] = 0; /* a SavedModel directory given as DIR/ */
        if (len > 3 && !strcmp(buf + len - 3, ".pb")) buf[len -= 3] = 0;
        char *slash = strrchr(buf, '/');
        /* the real fixtures are <name>/model.pb and SavedModels <name>/saved_model: the
           directory names the model */
        if (slash && (!strcmp(slash + 1, "model") || !strcmp(slash + 1, "saved_model")) && slash != buf) {
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

double bench_memory_ratio(const BenchModel *m, const BenchResult *r) {
    const BenchResult *b = bench_baseline(m);
    if (!b || !r->ok || !(r->peak_bytes > 0) || !(b->peak_bytes > 0)) return NAN;
    return b->peak_bytes / r->peak_bytes;
}

double bench_welch_p_none(const BenchModel *m, const BenchResult *r) {
    const BenchResult *b = bench_baseline(m);
    if (!b || b == r || !r->ok) return NAN;
    return stats_welch(b->samples, b->n_samples, r->samples, r->n_samples).p;
}

bool bench_significantly_faster(const BenchModel *m, const BenchResult *r) {
    const BenchResult *b = bench_baseline(m);
    if (!b || b == r || !r->ok) return false;
    double p = bench_welch_p_none(m, r);
    return p < BENCH_ALPHA && r->ms.median < b->ms.median && r->ms.med_hi < b->ms.med_lo;
}

bool bench_faithful(const BenchModel *m, const BenchResult *r) {
    const BenchResult *none = bench_baseline(m);
    if (m->judged_on_labels && none && none->label_top1 >= 0 && r->label_top1 >= 0)
        return accuracy_label_kept(none->label_top1, r->label_top1, m->label_max_drop);
    return r->min_cosine >= 0.99 && (r->top1 < 0 || r->top1 >= 0.99);
}

const BenchResult *bench_winner(const BenchModel *m) {
    const BenchResult *best = NULL;
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (!r->ok || r->rewrites == 0 || strchr(r->method, '@') || !bench_faithful(m, r) || !bench_significantly_faster(m, r)) continue;
        if (!best || r->ms.median < best->ms.median) best = r;
    }
    return best;
}

bool bench_is_fixed_method(const char *method) {
    return !strcmp(method, "grappler") || !strncmp(method, "grappler+", 9) || !strcmp(method, "sensitivity");
}

const BenchResult *bench_best_fixed(const BenchModel *m) {
    const BenchResult *best = NULL;
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (r->ok && bench_is_fixed_method(r->method) && bench_faithful(m, r) && (!best || r->ms.median < best->ms.median)) best = r;
    }
    return best;
}

/* the same rewrites (a carried candidate): the same graph, whatever the timing says - two copies
   of one graph have differed at p < 0.01 in one alternating loop of 20 rounds */
static bool same_rewrites(const BenchResult *a, const BenchResult *b) {
    return a->rewrites == b->rewrites && !strcmp(a->rules, b->rules);
}

int bench_agent_verdict(const BenchModel *m, double *p) {
    const BenchResult *agent = bench_reference(m), *fixed = bench_best_fixed(m);
    *p = NAN;
    if (!agent || !fixed || !agent->ok || agent->n_samples < 2 || fixed->n_samples < 2) return 0;
    *p = stats_welch(fixed->samples, fixed->n_samples, agent->samples, agent->n_samples).p;
    if (same_rewrites(agent, fixed)) return 0;
    if (!(*p < BENCH_ALPHA)) return 0;
    /* an agent result that lost accuracy is never "faster" */
    if (agent->ms.median < fixed->ms.median) return bench_faithful(m, agent) ? -1 : 0;
    return 1;
}

bool bench_unstable(const BenchResult *r) { return r->ok && stats_unstable(&r->ms); }

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

/* Number formats, one per kind of column, "-" for NaN so tables never show "nan" */
static const char *num(char *buf, size_t cap, const char *fmt, double v) {
    if (!isfinite(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, fmt, v);
    return buf;
}
static const char *ms3(char *buf, size_t cap, double v) { return num(buf, cap, "%.3f", v); }
static const char *ratio(char *buf, size_t cap, double v) { return num(buf, cap, "%.2fx", v); }
static const char *pval(char *buf, size_t cap, double p) {
    if (isfinite(p) && p < 0.001) snprintf(buf, cap, "<0.001");
    else num(buf, cap, "%.3f", p);
    return buf;
}

/* the labelled top-1 change from the input graph's row ("none"), in percentage points */
static const char *ref_label_change(const BenchModel *m, const BenchResult *r, char *buf, size_t cap) {
    for (int k = 0; k < m->n_results; k++)
        if (!strcmp(m->results[k].method, "none") && m->results[k].ok && m->results[k].label_top1 >= 0) {
            snprintf(buf, cap, "%+.2f pp", 100 * (r->label_top1 - m->results[k].label_top1));
            return buf;
        }
    return "-";
}

/* the timings column: what to do is said once, under the table */
static const char *timing_word(const BenchResult *r) { return bench_unstable(r) ? "unstable" : "stable"; }

static const char *const UNSTABLE_ADVICE =
    "*unstable*: a run took over twice the median, or the 95% CI of the mean is wider than half the median "
    "(the machine was busy). Do not trust these ratios: rerun `grappo bench` on an idle machine, with more "
    "--repeats and --threads 1.";

static void md_model(StrBuf *b, const BenchModel *m) {
    strbuf_printf(b, "\n## %s\n\n", m->label);
    strbuf_printf(b, "`%s`", m->name);
    if (m->error[0]) { strbuf_printf(b, ": **failed**: %s\n", m->error); return; }
    const BenchResult *ref = bench_reference(m), *win = bench_winner(m);
    bool any_unstable = false;
    char c[8][48];
    strbuf_printf(b, " - latency vs memory: [%s-pareto.svg](%s-pareto.svg)\n\n", m->label, m->label);

    /* latency */
    strbuf_printf(b, "| method | median ms | 95%% CI of median ms | max ms | x faster | p vs none | p vs %s | timings |\n",
                  ref ? ref->method : "agent");
    strbuf_printf(b, "|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (!r->ok) continue;
        any_unstable |= bench_unstable(r);
        const char *bold = r == win ? "**" : "";
        strbuf_printf(b, "| %s%s%s%s | %s | [%s, %s] | %s | %s%s%s | %s | %s | %s |\n", bold, r->method, bold, r->note[0] ? " *" : "",
                      ms3(c[0], 48, r->ms.median), ms3(c[1], 48, r->ms.med_lo), ms3(c[2], 48, r->ms.med_hi), ms3(c[3], 48, r->ms.max),
                      bold, ratio(c[4], 48, bench_speedup(m, r)), bold, pval(c[5], 48, bench_welch_p_none(m, r)),
                      pval(c[6], 48, bench_welch_p(m, r)), timing_word(r));
    }
    strbuf_printf(b, "\n%s%s\n", win ? "**Bold**: the winner (see the summary)." : "No result is significantly faster than `none`.",
                  any_unstable ? " *unstable*: these timings spread; see the summary for what to do." : "");

    /* memory and fidelity */
    strbuf_printf(b, "\n| method | peak MiB | x smaller | top-1 agreement | worst cosine | max rel L2 | fidelity |\n");
    strbuf_printf(b, "|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (!r->ok) continue;
        strbuf_printf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", r->method, num(c[0], 48, "%.2f", r->peak_bytes / 1048576.0),
                      ratio(c[1], 48, bench_memory_ratio(m, r)), r->top1 >= 0 ? num(c[2], 48, "%.1f%%", 100 * r->top1) : "-",
                      num(c[3], 48, "%.4f", r->min_cosine), num(c[4], 48, "%.1e", r->max_rel_l2), bench_faithful(m, r) ? "kept" : "lost †");
    }

    /* what each method did and what it cost */
    strbuf_printf(b, "\n| method | optimize s | graph evaluations | rewrites | by family | rules |\n");
    strbuf_printf(b, "|---|---|---|---|---|---|\n");
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (!r->ok) continue;
        char fam[160] = "";
        size_t len = 0;
        for (int f = 0; f < BENCH_N_FAMILIES; f++)
            if (r->family[f] && len < sizeof fam)
                len += (size_t)snprintf(fam + len, sizeof fam - len, "%s%s %d", len ? ", " : "", bench_families[f], r->family[f]);
        strbuf_printf(b, "| %s | %s | %d | %d | %s | %s |\n", r->method, num(c[0], 48, "%.2f", r->optimize_s), r->evaluations, r->rewrites,
                      fam[0] ? fam : "-", r->rules[0] ? r->rules : "-");
    }

    /* where the agent's optimize time went */
    for (int k = 0; k < m->n_results; k++) {
        const BenchResult *r = &m->results[k];
        if (!r->ok || !r->has_times) continue;
        strbuf_printf(b,
                      "\n%s's %.1f s: rollouts %.1f s (accuracy %.1f s, kernel timing %.1f s), whole-graph timing %.1f s, "
                      "accuracy %.1f s (%d runs, %d reused), carried pipelines %.1f s, the rest (loading, calibration, rewriting) %.1f s; "
                      "%d lone measurements reused.\n",
                      r->method, r->optimize_s, r->rollout_s, r->rollout_accuracy_s, r->rollout_kernel_timing_s, r->timing_s, r->accuracy_s,
                      r->accuracy_runs, r->accuracy_reused, r->carry_s,
                      fmax(0, r->optimize_s - r->rollout_s - r->timing_s - r->accuracy_s - r->carry_s), r->evaluations_reused);
    }

    /* top-1/top-5 against the user's labels (--eval DIR --labels FILE), when given */
    bool labelled = false;
    for (int k = 0; k < m->n_results; k++) labelled |= m->results[k].ok && m->results[k].label_top1 >= 0;
    if (labelled) {
        strbuf_printf(b, "\n| method | top-1 (labels) | top-5 (labels) | top-1 change |\n|---|---|---|---|\n");
        for (int k = 0; k < m->n_results; k++) {
            const BenchResult *r = &m->results[k];
            if (!r->ok || r->label_top1 < 0) continue;
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
            bool in = m->results[k].ok && bench_faithful(m, &m->results[k]);
            x[k] = in ? m->results[k].ms.median : NAN;
            y[k] = in ? m->results[k].peak_bytes : NAN;
        }
        int nf = bench_pareto_front(x, y, m->n_results, front);
        strbuf_printf(b, "\n\nPareto front of the results that keep fidelity (latency, peak memory; fastest first):");
        for (int j = 0; j < nf; j++) strbuf_printf(b, "%s %s", j ? "," : "", m->results[front[j]].method);
        strbuf_printf(b, "\n");
    } else {
        b->oom = true;
    }
    free(x);
    free(front);
}

/* The first thing a reader wants: per model the input's latency and the winner (bench_winner)
   with its ratios; then every method's "x faster" side by side. Methods in the order of the
   first model that has them; seeded rows (METHOD@seed=S) are left to the model sections. */
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
    char c[8][48];
    bool any_unstable = false;
    strbuf_printf(b, "\n## Summary\n\nRatios are the input graph (`none`) divided by the result: medians of the same alternating "
                  "loop (\"x faster\"), planned peak memory (\"x smaller\"). The **winner** is the fastest result that keeps "
                  "accuracy (with --labels: labelled top-1 at most --max-accuracy-drop below `none`'s; else fidelity: "
                  "top-1 agreement and worst cosine >= 0.99), applied a rewrite, and is significantly faster than "
                  "`none`: Welch p < %.2f and non-overlapping 95%% CIs of the medians. \"-\": no result is.\n\n",
                  BENCH_ALPHA);
    strbuf_printf(b, "| model | none ms | winner | winner ms | x faster | x smaller | p vs none | timings of both |\n");
    strbuf_printf(b, "|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < run->n_models; i++) {
        const BenchModel *m = &run->models[i];
        if (m->error[0]) { strbuf_printf(b, "| %s | failed | - | - | - | - | - | - |\n", m->label); continue; }
        const BenchResult *none = bench_baseline(m), *w = bench_winner(m);
        /* the two results the row compares */
        bool unstable = (none && bench_unstable(none)) || (w && bench_unstable(w));
        any_unstable |= unstable;
        strbuf_printf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", m->label, ms3(c[0], 48, none ? none->ms.median : NAN),
                      w ? w->method : "-", ms3(c[1], 48, w ? w->ms.median : NAN), ratio(c[2], 48, w ? bench_speedup(m, w) : NAN),
                      ratio(c[3], 48, w ? bench_memory_ratio(m, w) : NAN), pval(c[4], 48, w ? bench_welch_p_none(m, w) : NAN),
                      unstable ? "unstable" : "stable");
    }
    if (any_unstable) strbuf_printf(b, "\n%s\n", UNSTABLE_ADVICE);

    strbuf_printf(b, "\nx faster per method (**bold**: the winner; †: accuracy lost; *input*: no rewrite applied, the "
                     "input graph itself, whose ratio to `none` is noise):\n\n| model |");
    for (int k = 0; k < nc; k++) strbuf_printf(b, " %s |", cols[k]);
    strbuf_printf(b, "\n|---|");
    for (int k = 0; k < nc; k++) strbuf_printf(b, "---|");
    strbuf_printf(b, "\n");
    for (int i = 0; i < run->n_models; i++) {
        const BenchModel *m = &run->models[i];
        if (m->error[0]) continue;
        const BenchResult *w = bench_winner(m);
        strbuf_printf(b, "| %s |", m->label);
        for (int k = 0; k < nc; k++) {
            const BenchResult *r = NULL;
            for (int j = 0; j < m->n_results && !r; j++)
                if (!strcmp(m->results[j].method, cols[k])) r = &m->results[j];
            if (!r || !r->ok) { strbuf_printf(b, " %s |", r ? "skipped" : "-"); continue; }
            if (r->rewrites == 0 && strcmp(r->method, "none")) { strbuf_printf(b, " *input* |"); continue; }
            const char *bold = r == w ? "**" : "";
            strbuf_printf(b, " %s%s%s%s |", bold, ratio(c[0], 48, bench_speedup(m, r)), bold, bench_faithful(m, r) ? "" : " †");
        }
        strbuf_printf(b, "\n");
    }
}

/* the rules of a's list ("rule xN, ...") that b's lacks or applies another number of times, as
   "rule xN" items; "" when none */
static void rules_beyond(const char *a, const char *b, char *out, size_t cap) {
    size_t len = 0;
    out[0] = 0;
    for (const char *s = a; *s;) {
        const char *e = strstr(s, ", ");
        size_t n = e ? (size_t)(e - s) : strlen(s);
        bool found = false;
        for (const char *t = b; *t && !found;) {
            const char *f = strstr(t, ", ");
            size_t m = f ? (size_t)(f - t) : strlen(t);
            found = m == n && !strncmp(s, t, n);
            t += m + (f ? 2 : 0);
        }
        if (!found && len + n + 3 < cap) len += (size_t)snprintf(out + len, cap - len, "%s%.*s", len ? ", " : "", (int)n, s);
        s += n + (e ? 2 : 0);
    }
}

/* issue 16's evidence: per model, the agent (ppo+bo) against the fastest fixed method keeping
   accuracy, and the tally */
static void md_agent(StrBuf *b, const BenchRun *run) {
    int n = 0, faster = 0, slower = 0;
    char c[6][48];
    for (int i = 0; i < run->n_models; i++) {
        const BenchModel *m = &run->models[i];
        const BenchResult *agent = bench_reference(m), *fixed = bench_best_fixed(m);
        if (m->error[0] || !agent || !agent->ok) continue;
        if (!n++)
            strbuf_printf(b, "\n## The agent against the fixed methods\n\nPer model, the agent (`%s`) against the fastest fixed method "
                             "(grappler, grappler+int8/bf16, sensitivity) that keeps accuracy, from the same alternating loop; "
                             "Welch's p on the per-run latencies; *its own rewrites*: the agent's rules beyond that method's.\n\n"
                             "| model | fastest fixed method | its ms | agent ms | agent / fixed | p | verdict | its own rewrites |\n"
                             "|---|---|---|---|---|---|---|---|\n",
                          agent->method);
        double p;
        int v = bench_agent_verdict(m, &p);
        faster += v < 0;
        slower += v > 0;
        char own[512] = "";
        if (fixed) rules_beyond(agent->rules, fixed->rules, own, sizeof own);
        bool same = fixed && same_rewrites(agent, fixed);
        const char *verdict = !fixed ? "no fixed method keeps accuracy"
                              : same  ? "the same rewrites (no gain of its own)"
                              : v < 0 ? "**faster**"
                              : v > 0 ? "slower"
                                      : "not told apart";
        strbuf_printf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", m->label, fixed ? fixed->method : "-",
                      ms3(c[0], 48, fixed ? fixed->ms.median : NAN), ms3(c[1], 48, agent->ms.median),
                      num(c[2], 48, "%.3f", fixed ? agent->ms.median / fixed->ms.median : NAN), pval(c[3], 48, p), verdict,
                      own[0] ? own : "-");
    }
    if (n)
        strbuf_printf(b, "\nThe agent is significantly faster than the fastest fixed method keeping accuracy on %d of %d models, "
                         "significantly slower on %d.\n",
                      faster, n, slower);
}

char *bench_markdown(const BenchRun *run) {
    StrBuf b = {0};
    strbuf_printf(&b, "# grappo bench\n\n");
    strbuf_printf(&b, "Machine: %s, %d cores; %s%d threads; %s.\n\n", run->cpu, run->cores, run->threads ? "" : "all ",
               run->threads ? run->threads : run->cores, run->date);
    strbuf_printf(&b, "Methods: %s. Latency: %d runs of every method's graph of a model, alternating in one loop after one "
                   "warm-up each, every timed run right after an untimed run of the same graph (median, its distribution-free 95%% CI from order statistics, max, in ms); ratios against "
                   "`none` (the unrewritten graph) from the same loop. Peak memory: the plan's planned peak. Fidelity to the "
                   "unrewritten graph on %d evaluation batches (generated, or --eval's). Searches: --budget %d graph evaluations, %d seed(s); ppo: %d "
                   "rollouts of the shipped policy; ppo+bo: %d trials of it. p: Welch's two-sided t-test on the per-run "
                   "latencies.\n",
               run->methods, run->repeats, run->eval_batches, run->budget, run->seeds, run->episodes, run->trials);
    md_summary(&b, run);
    md_agent(&b, run);
    for (int i = 0; i < run->n_models; i++) md_model(&b, &run->models[i]);

    BenchRegression g = bench_regression(run);
    if (g.ok) {
        char c1[48], c2[48];
        strbuf_printf(&b, "\n## Which rewrites go with speed\n\n");
        strbuf_printf(&b, "Least squares over every measured (model, method): ln(x faster) = b0 + sum over families of "
                       "b_f x (rewrites of family f). Descriptive, not causal: methods that apply many rewrites of one "
                       "family also apply others, and models differ in how much there is to gain.\n\n");
        strbuf_printf(&b, "| term | coefficient | standard error |\n|---|---|---|\n");
        strbuf_printf(&b, "| intercept | %s | %s |\n", num(c1, 48, "%.4f", g.intercept), num(c2, 48, "%.4f", g.intercept_se));
        for (int f = 0; f < BENCH_N_FAMILIES; f++)
            if (g.used[f]) strbuf_printf(&b, "| %s | %s | %s |\n", bench_families[f], num(c1, 48, "%.4f", g.coef[f]), num(c2, 48, "%.4f", g.se[f]));
        strbuf_printf(&b, "\nR^2 = %s over n = %d results.", num(c1, 48, "%.4f", g.r2), g.n);
        bool unused = false;
        for (int f = 0; f < BENCH_N_FAMILIES; f++) unused |= !g.used[f];
        if (unused) {
            strbuf_printf(&b, " Never applied (no coefficient):");
            for (int f = 0, first = 1; f < BENCH_N_FAMILIES; f++)
                if (!g.used[f]) { strbuf_printf(&b, "%s %s", first ? "" : ",", bench_families[f]); first = 0; }
            strbuf_printf(&b, ".");
        }
        strbuf_printf(&b, "\n");
    }
    if (run->curve_svg[0])
        strbuf_printf(&b, "\n## Training\n\nLearning curve of the shipped policy: [%s](%s)\n", run->curve_svg, run->curve_svg);
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
        if (m->judged_on_labels) cJSON_AddNumberToObject(mj, "label_max_drop", m->label_max_drop);
        const BenchResult *ref = bench_reference(m);
        if (ref) cJSON_AddStringToObject(mj, "welch_reference", ref->method);
        else cJSON_AddNullToObject(mj, "welch_reference");
        const BenchResult *fixed = bench_best_fixed(m);
        if (ref && fixed) { /* md_agent's row: -1 the agent significantly faster, 1 slower, 0 not told apart */
            double p;
            cJSON *av = cJSON_AddObjectToObject(mj, "agent_vs_fixed");
            int v = bench_agent_verdict(m, &p);
            cJSON_AddStringToObject(av, "fixed", fixed->method);
            json_num(av, "p", p);
            cJSON_AddNumberToObject(av, "verdict", v);
        }
        const BenchResult *win = bench_winner(m);
        if (win) cJSON_AddStringToObject(mj, "winner", win->method);
        else cJSON_AddNullToObject(mj, "winner");
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
            if (r->has_times) { /* the keys of grappo optimize's report.json search_seconds */
                cJSON *js = cJSON_AddObjectToObject(rj, "search_seconds");
                json_num(js, "rollouts", r->rollout_s);
                json_num(js, "rollout_accuracy", r->rollout_accuracy_s);
                json_num(js, "rollout_kernel_timing", r->rollout_kernel_timing_s);
                json_num(js, "timing", r->timing_s);
                json_num(js, "accuracy", r->accuracy_s);
                json_num(js, "carried_pipelines", r->carry_s);
                cJSON_AddNumberToObject(js, "accuracy_runs", r->accuracy_runs);
                cJSON_AddNumberToObject(js, "accuracy_reused", r->accuracy_reused);
                cJSON_AddNumberToObject(js, "evaluations_reused", r->evaluations_reused);
            }
            cJSON_AddNumberToObject(rj, "evaluations", r->evaluations);
            cJSON_AddNumberToObject(rj, "rewrites", r->rewrites);
            cJSON *fam = cJSON_AddObjectToObject(rj, "rewrites_by_family");
            for (int f = 0; f < BENCH_N_FAMILIES; f++) cJSON_AddNumberToObject(fam, bench_families[f], r->family[f]);
            cJSON_AddStringToObject(rj, "rules", r->rules);
            json_num(rj, "welch_p", bench_welch_p(m, r));
            json_num(rj, "memory_x_smaller", bench_memory_ratio(m, r));
            json_num(rj, "welch_p_vs_none", bench_welch_p_none(m, r));
            cJSON_AddBoolToObject(rj, "significantly_faster", bench_significantly_faster(m, r));
            cJSON_AddBoolToObject(rj, "keeps_accuracy", bench_faithful(m, r));
            cJSON_AddBoolToObject(rj, "timings_unstable", bench_unstable(r));
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

/* latency (x, from 0, with the 95% CI of the median as an error bar) against peak memory in
   MiB (y, from 0): one marker shape and colour per method, the baseline and the winner tagged,
   and the Pareto front of the faithful results as a staircase (no trade-off exists between two
   discrete results) */
static int write_pareto_svg(const BenchModel *m, const char *path, Err *err) {
    int n = m->n_results;
    size_t cap = (size_t)n + 1;
    double *x = calloc(cap * 6, sizeof *x), *y = x ? x + cap : NULL, *lo = x ? x + 2 * cap : NULL, *hi = x ? x + 3 * cap : NULL;
    double *fx = x ? x + 4 * cap : NULL, *fy = x ? x + 5 * cap : NULL;
    double *px = calloc(cap * 2, sizeof *px), *py = px ? px + cap : NULL;
    SvgSeries *ser = calloc(cap + 1, sizeof *ser);
    int *front = calloc(cap, sizeof *front);
    char (*names)[96] = calloc(cap, sizeof *names), (*tags)[80] = calloc(cap, sizeof *tags);
    int rc = -1;
    if (!x || !px || !ser || !front || !names || !tags) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    const BenchResult *win = bench_winner(m);
    int ns = 0;
    for (int k = 0; k < n; k++) {
        const BenchResult *r = &m->results[k];
        x[k] = r->ok ? r->ms.median : NAN;
        y[k] = r->ok ? r->peak_bytes / 1048576.0 : NAN;
        lo[k] = r->ok ? r->ms.med_lo : NAN;
        hi[k] = r->ok ? r->ms.med_hi : NAN;
        /* the front is over the results that keep fidelity; the others carry a dagger in the legend */
        px[k] = r->ok && bench_faithful(m, r) ? x[k] : NAN;
        py[k] = r->ok && bench_faithful(m, r) ? y[k] : NAN;
        if (!r->ok) continue;
        snprintf(names[k], sizeof names[k], "%s%s", r->method, bench_faithful(m, r) ? "" : " † (accuracy lost)");
        if (!strcmp(r->method, "none")) snprintf(tags[k], sizeof tags[k], "baseline (none)");
        else if (r == win) snprintf(tags[k], sizeof tags[k], "winner: %s, %.2fx faster", r->method, bench_speedup(m, r));
        ser[ns] = (SvgSeries){.name = names[k], .kind = SVG_SCATTER, .x = &x[k], .y = &y[k], .n = 1, .xlo = &lo[k], .xhi = &hi[k],
                              .color = method_colors[ns % N_METHOD_COLORS], .marker = (SvgMarker)(ns % SVG_N_MARKERS),
                              .tag = tags[k][0] ? tags[k] : NULL};
        ns++;
    }
    int nf = bench_pareto_front(px, py, n, front);
    for (int j = 0; j < nf; j++) { fx[j] = x[front[j]]; fy[j] = y[front[j]]; }
    /* the members of the front are also listed in report.md; a front of one point (it
       dominates every other) has no line to draw */
    if (nf > 1) ser[ns++] = (SvgSeries){.name = "Pareto front (fidelity kept)", .kind = SVG_STEP, .x = fx, .y = fy, .n = nf, .color = "#888888"};
    char title[160];
    snprintf(title, sizeof title, "%s: latency vs peak memory (lower left is better)", m->label);
    SvgPlot p = {.title = title, .xlabel = "latency ms (median, bar: its 95% CI)", .ylabel = "peak memory MiB", .width = 640, .height = 420,
                 .x_zero = true, .y_zero = true, .series = ser, .n_series = ns};
    rc = svg_write(&p, path, err);
done:
    free(x);
    free(px);
    free(ser);
    free(front);
    free(names);
    free(tags);
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
