/* bench_report.h - the results of a `grappo bench` run and everything derived from them:
 * "x faster" and "x smaller" against the unrewritten graph (input / result), Welch t-tests
 * against `none` and of the agent against each other method, the winner (significantly faster
 * than `none`), unstable timings, the regression of log speedup on rewrite-family counts, the
 * latency-memory Pareto front; and the outputs: report.md (a summary of at most 8 columns,
 * then per model latency, memory/fidelity and rewrite tables), report.json and one Pareto SVG
 * per model. Library code: it fills strings and writes files, never prints. */
#ifndef GRAPPO_BENCH_REPORT_H
#define GRAPPO_BENCH_REPORT_H

#include <stdbool.h>

#include "../util/err.h"
#include "stats.h"

#define BENCH_N_FAMILIES 5
/* the rewrite families in report order: fuse, fold, quantize, layout, simplify */
extern const char *const bench_families[BENCH_N_FAMILIES];
/* index of a RuleDef.family name in bench_families, -1 when unknown */
int bench_family_index(const char *family);

/* one method's result on one model */
typedef struct BenchResult {
    char method[48];          /* "grappler", "random@seed=2", ... */
    char note[96];            /* e.g. "7-bit weights (no VNNI)"; "" when none */
    bool ok;
    char error[256];          /* why the method was skipped when !ok */
    Summary ms;               /* latency over the alternating runs */
    double *samples;          /* per-run latency ms in run order (n_samples; malloc'd, owned) */
    int n_samples;
    double peak_bytes;        /* planned peak memory */
    double top1;              /* top-1 agreement with the input graph; -1: no classifier output */
    double min_cosine, max_rel_l2;
    double label_top1, label_top5; /* against the user's labels (--labels); -1: none */
    double optimize_s;        /* wall time of producing the graph */
    int evaluations;          /* graph evaluations a search spent (0 for pipelines) */
    /* the agent's searches (ppo, ppo+bo): where optimize_s went (SearchTimes, objective.h);
       has_times false for the other methods */
    bool has_times;
    double rollout_s, rollout_accuracy_s, rollout_kernel_timing_s, timing_s, accuracy_s, carry_s;
    int accuracy_runs, accuracy_reused;
    int evaluations_reused;   /* lone measurements reused (SearchTimes.evaluations_reused) */
    int rewrites;             /* rewrites applied */
    int family[BENCH_N_FAMILIES]; /* rewrites per family */
    char rules[1024];         /* "rule x count, ..." */
} BenchResult;

typedef struct BenchModel {
    char name[512];           /* as given: FILE.pb or zoo:NAME */
    char label[64];           /* safe for file names: resnet50, blazeface-front, ... */
    char error[256];          /* the whole model failed (load, inference): "" when fine */
    int n_results;
    BenchResult *results;     /* malloc'd, owned */
    /* accuracy judged on the labels (--labels): a result keeps it when its labelled top-1 is at
       least none's minus label_max_drop (--max-accuracy-drop); false: on fidelity */
    bool judged_on_labels;
    double label_max_drop;
} BenchModel;

typedef struct BenchRun {
    char cpu[256], date[64];
    int cores, threads;       /* threads 0 = all cores */
    int repeats, budget, seeds, trials, episodes, eval_batches;
    char methods[512];        /* the --methods list */
    char curve_svg[256];      /* learning curve file name inside the output dir; "" when none */
    int n_models;
    BenchModel *models;       /* malloc'd, owned */
} BenchRun;

/* frees every model's results and samples, then the models */
void bench_run_free(BenchRun *r);

/* "zoo:resnet8" -> "resnet8", "x/blazeface-front/model.pb" -> "blazeface-front",
   "dir/resnet50.pb" -> "resnet50"; characters outside [A-Za-z0-9._-] become '-' */
void bench_model_label(const char *spec, char *out, int cap);

/* the result named "none" when measured, else NULL */
const BenchResult *bench_baseline(const BenchModel *m);
/* the result the t-tests compare against: the first measured "ppo+bo*", else "ppo*", else NULL */
const BenchResult *bench_reference(const BenchModel *m);
/* baseline median / result median; NaN without a baseline */
double bench_speedup(const BenchModel *m, const BenchResult *r);
/* 1 - peak / baseline peak; NaN without a baseline */
double bench_memory_reduction(const BenchModel *m, const BenchResult *r);
/* baseline peak / result peak ("x smaller"); NaN without a baseline */
double bench_memory_ratio(const BenchModel *m, const BenchResult *r);
/* Welch's two-sided p of r's latency samples against `none`'s; NaN without a baseline, for
   the baseline itself, or when a side has < 2 samples */
double bench_welch_p_none(const BenchModel *m, const BenchResult *r);

/* a difference is called significant below this Welch p */
#define BENCH_ALPHA 0.05
/* r is faster than `none` beyond noise: Welch p < BENCH_ALPHA and the 95% CIs of the medians
   do not overlap (r's upper end below none's lower end) */
bool bench_significantly_faster(const BenchModel *m, const BenchResult *r);
/* the result keeps accuracy: with labels (m->judged_on_labels, labelled top-1 measured for
   it and for none) its top-1 is at least none's minus m->label_max_drop; otherwise fidelity:
   worst cosine >= 0.99 and (for classifiers) top-1 agreement >= 0.99 */
bool bench_faithful(const BenchModel *m, const BenchResult *r);
/* the model's winner: the fastest result (median) that keeps fidelity, applied a rewrite, is
   not a seeded repeat (METHOD@seed=S) and is significantly faster than `none`; NULL when no
   result is. The only result a report calls the winner or bolds. */
const BenchResult *bench_winner(const BenchModel *m);
/* r's timings spread too much to trust (stats_unstable of its latency summary) */
bool bench_unstable(const BenchResult *r);

/* Welch's two-sided p of r's latency samples against the reference's; NaN when there is no
   reference, r is the reference, or either side has < 2 samples */
double bench_welch_p(const BenchModel *m, const BenchResult *r);

/* The agent against the fixed methods (the rule pipelines grappler, grappler+*, and the
   sensitivity baseline): the fastest of them (median) that keeps accuracy (bench_faithful), or
   NULL; and the verdict of the reference (ppo+bo) against it: -1 significantly faster (Welch
   p < BENCH_ALPHA, lower median), +1 significantly slower, 0 not told apart (also without
   either side, and when both applied the same rewrites: the same graph). *p receives Welch's
   p (NaN when not computed). */
bool bench_is_fixed_method(const char *method);
const BenchResult *bench_best_fixed(const BenchModel *m);
int bench_agent_verdict(const BenchModel *m, double *p);

/* Indices of the non-dominated points of (x[i], y[i]) (smaller is better on both: no other
   point is <= on both and < on one), ordered by x ascending then y; returns their count.
   Non-finite points are ignored. idx has room for n. */
int bench_pareto_front(const double *x, const double *y, int n, int *idx);

/* ln(speedup) = b0 + sum_f b_f * (rewrites of family f), over every measured (model, method)
   with a finite speedup. Families no result used are left out (used[f] = false, coef NaN). */
typedef struct BenchRegression {
    int n;                               /* results in the fit */
    bool ok;                             /* false when the fit was impossible (too few results) */
    bool used[BENCH_N_FAMILIES];
    double intercept, intercept_se;
    double coef[BENCH_N_FAMILIES], se[BENCH_N_FAMILIES];
    double r2;
} BenchRegression;
BenchRegression bench_regression(const BenchRun *r);

/* the report as malloc'd strings (NULL on OOM) */
char *bench_markdown(const BenchRun *r);
char *bench_json(const BenchRun *r);
/* writes <dir>/report.md, <dir>/report.json and <dir>/<label>-pareto.svg per model (atomically;
   dir must exist) */
int bench_write(const BenchRun *r, const char *dir, Err *err);

/* A run read back from the text of its report.json (bench_load.c): everything the report
   shows, the latency summaries recomputed from the samples (curve_svg is left empty). On error
   *run is empty. bench_run_free releases it. */
int bench_run_from_json(const char *text, BenchRun *run, Err *err);

#endif
