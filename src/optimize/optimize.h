/* optimize.h - the product's verb as a library call: options -> method dispatch (pipelines,
 * greedy, random, ppo, ppo+bo, a rule list), calibration and evaluation data, measurement of
 * input and result side by side, the keep/refuse verdict and the result (graph, measured table
 * with per-run samples, rewrite log, BO trial table, reason). `grappo optimize`, `grappo bench`,
 * the C API (src/api) and the Python package all call this; none re-implements it. Every default
 * lives in optimize_opts_default(). The library never prints. */
#ifndef GRAPPO_OPTIMIZE_H
#define GRAPPO_OPTIMIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/graph.h"
#include "../io/image.h"
#include "../measure/measure.h"
#include "../rewrite/calibrate.h"
#include "../rewrite/pipeline.h"
#include "../search/agent.h"
#include "../search/bo.h"
#include "../search/dist.h"
#include "labelled.h"

typedef enum OptimizeMethod {
    OPTIMIZE_NONE = 0,      /* the input graph (bench's baseline) */
    OPTIMIZE_GRAPPLER,      /* TensorFlow's default Grappler passes (exact) */
    OPTIMIZE_GRAPPLER_INT8, /* the same, then int8 after calibration (7-bit weights without VNNI) */
    OPTIMIZE_GREEDY,
    OPTIMIZE_RANDOM,
    OPTIMIZE_PPO,
    OPTIMIZE_PPO_BO,
    OPTIMIZE_RULES,         /* opts.rules in order, each to exhaustion, to a fixed point */
    OPTIMIZE_GRAPPLER_BF16, /* grappler (batch norms folded first), then bf16 compute (CPUs with bf16 kernels) */
    OPTIMIZE_SENSITIVITY,   /* grappler, then every int8 site quantized except the fewest most
                               sensitive ones the accuracy budget needs (sensitivity.h) */
    OPTIMIZE_N_METHODS
} OptimizeMethod;

/* "grappler", "ppo+bo", ... ("rules" for OPTIMIZE_RULES) */
const char *optimize_method_name(OptimizeMethod m);
/* the name as --search spells it ("rules:R1,..." is not parsed here); -1 when unknown */
int optimize_method_parse(const char *name, OptimizeMethod *m);
/* the search methods (greedy, random, ppo, ppo+bo, sensitivity): they spend a budget of graph
   evaluations and honour the time budget and a cancel request (best graph so far kept) */
bool optimize_method_is_search(OptimizeMethod m);
/* the methods that draw random numbers (random, ppo, ppo+bo): one result per seed */
bool optimize_method_is_seeded(OptimizeMethod m);
/* the list --search accepts, for messages: "grappler, grappler+int8, ..., rules:R1,R2,..." */
const char *optimize_method_names(void);

/* The user's own accuracy metric (Python's eval_fn): higher is better. Called once on the input
   graph and once on each result to judge; returns 0 with *score set, or -1 with err set. */
typedef int (*OptimizeMetricFn)(const Graph *g, void *user, double *score, Err *err);

/* Progress of a long step: `what` names it, done of total (total 0: unknown). Called from the
   optimizing thread; a callback that returns non-zero cancels the run (ERR_RUNTIME "cancelled"),
   except during a search ("search", "sensitivity"): there it stops the search, whose best graph
   so far is measured and judged as usual (OptimizeProduct.stopped says so) and the callback's
   answer is not asked again for the rest of the run. */
typedef int (*OptimizeProgressFn)(const char *what, int done, int total, void *user);

typedef struct OptimizeOpts {
    OptimizeMethod method;
    const char *const *rules;     /* OPTIMIZE_RULES: rule names (borrowed) */
    int n_rules;
    bool target_tf;               /* only rewrites whose ops stock TensorFlow runs */
    bool exact_only;              /* searches: no precision rules */
    double max_accuracy_drop;     /* top-1 agreement >= 1 - this; with a metric: metric drop <= this */
    double min_cosine;            /* fidelity floor on every output */
    int budget;                   /* graph evaluations a search spends */
    uint64_t seed;                /* search seed */
    int threads;                  /* fast runtime threads (0 = all cores) */
    int repeats;                  /* final alternating timing rounds */
    int search_repeats;           /* timing rounds of each graph evaluation inside a search */
    int eval_batches;             /* generated evaluation batches */
    double time_budget_s;         /* searches stop spending graph evaluations after this many
                                     seconds from the start (0: none; ppo+bo still runs every
                                     trial, each with what is left, at least 2 evaluations) */
    uint64_t eval_seed;           /* their first seed (calibration uses 1..calib_batches: disjoint) */
    const InputSet *eval_inputs;  /* the user's evaluation batches instead (borrowed), or NULL */
    /* calibration (precision methods): the user's batches, else the files of calibration_dir
       (DIR/<input>_<k>.npy), else calib_batches generated ones */
    const RefFeed *const *calib_feeds; /* borrowed: calib_n batches of calib_n_feeds feeds */
    int calib_n, calib_n_feeds;
    const char *calibration_dir;
    int calib_batches;
    CalibMethod calib_method;
    /* ppo, ppo+bo */
    const char *policy_path;      /* NULL: optimize_default_policy_path() */
    Policy *policy;               /* borrowed, with cost_model: used instead of loading policy_path */
    CostModel *cost_model;
    bool cost_roofline;           /* the roofline cost model instead of measured kernel timings */
    const char *cost_cache;       /* NULL: the default cache directory */
    int episodes, tune_episodes;
    /* ppo+bo */
    int trials, bo_batch;
    bool minimize_memory;         /* objective memory instead of latency */
    double memory_budget_bytes, latency_budget_ms; /* 0: none */
    Dist *dist;                   /* under mpirun (ppo+bo only), else NULL */
    /* the user's metric, judged instead of fidelity when set */
    OptimizeMetricFn metric;
    void *metric_user;
    OptimizeProgressFn progress;
    void *progress_user;
    /* the user's labelled data (src/optimize/labelled.c; docs/formats.md) */
    const char *eval_dir;         /* images or <input>_<k>.npy batches: the evaluation inputs instead
                                     of generated ones (eval_inputs wins when both are set) */
    const char *labels_path;      /* one class per evaluation row: the accuracy budget is judged on
                                     top-1 against them (result >= input - max_accuracy_drop) */
    ImagePrep image_prep;         /* image directories (calibration_dir, eval_dir): resize, mean, std, layout */
    bool allow_unmeasured;        /* a graph holding ops grappo cannot execute: still apply the exact
                                     grappler rewrites (none of which changes those nodes) and return
                                     the result unmeasured (OptimizeResult.unmeasured), instead of the
                                     error naming them; grappler only */
} OptimizeOpts;

/* every default, once: grappler; accuracy drop 0.01, cosine 0.99; budget 100; seed 1; all
   threads; 20 final repeats, 5 per search evaluation; 16 evaluation batches from seed 1000; 8
   generated calibration batches, percentile ranges; 16 episodes; 12 BO trials; latency.
   `grappo optimize`, `grappo bench`, the C API and Python all start from these (make bench
   passes its quicker budget explicitly) */
OptimizeOpts optimize_opts_default(void);

/* Checks what can be checked without the graph (method and target agree, rule names exist,
   numbers in range, mpirun only for ppo+bo). ERR_INPUT with a one-line message. */
int optimize_opts_check(const OptimizeOpts *o, Err *err);

/* $GRAPPO_POLICY; else, for the directory D of the running binary and then of the library
   (libgrappo.so when embedded), the first of D/../policies/default.bin (a build directory),
   D/../share/grappo/default.bin (installed), D/policies/default.bin (the Python package)
   that exists; else policies/default.bin (src/optimize/policy_path.c) */
const char *optimize_default_policy_path(char *buf, size_t cap);

/* The policy (policy_path or the default) and the cost model (roofline or measured, threads,
   cost_cache) the ppo methods use; *path_used receives the policy's path. Both freed by the
   caller (policy_free, cost_close). */
int optimize_agent_open(const OptimizeOpts *o, Policy **policy, CostModel **cm, char *path_used, size_t cap, Err *err);

/* A fixed pipeline carried as a candidate of a search (candidates.h). */
#define OPTIMIZE_MAX_CARRIED 4
typedef struct OptimizeCarried {
    const char *method, *pipeline; /* "grappler+int8", "grappler+int7" */
    bool measured, accuracy_ok, kept;
    double median_ms;
} OptimizeCarried;

/* What a method made of the input. */
typedef struct OptimizeProduct {
    Graph *graph;                 /* owned */
    RewriteLog log;
    const char *pipeline;         /* the pipeline that ran ("grappler+int7" without VNNI), or the method's name */
    char note[128];               /* e.g. "7-bit weights: this CPU has no VNNI"; "" when none */
    int evaluations;              /* graph evaluations a search spent */
    AgentStats agent;             /* ppo */
    BoAgentTrial *trials;         /* ppo+bo: n_trials rows (owned) */
    int n_trials, best_trial;     /* best_trial < 0: none met every budget, -1 - best is the closest */
    int n_constraints;
    const char *constraint_names[BO_MAX_CONSTRAINTS];
    bool root;                    /* false on the ranks other than 0 under mpirun: nothing to report */
    /* searches: the fixed pipelines measured side by side with the search's result */
    int n_carried;
    OptimizeCarried carried[OPTIMIZE_MAX_CARRIED];
    double search_median_ms;      /* the search's own result in that measurement (NaN: none) */
    const char *carried_from;     /* the carried method whose graph was kept, or NULL (the search's) */
    int busy_comparisons;         /* sequential comparisons timed on a busy machine */
    SearchTimes times;            /* searches: where the time went (objective.h) */
    double carry_s;               /* measuring the carried pipelines side by side */
    int stopped;                  /* searches: why they ended before their budget (ObjectiveStop:
                                     0 none, the time budget, a cancel request) */
    int planned;                  /* searches: the evaluations they would have spent (the budget;
                                     sensitivity: its own count) */
    struct Sensitivity *sensitivity; /* OPTIMIZE_SENSITIVITY: the per-node ranking (owned) */
} OptimizeProduct;

/* "stopped by the time budget after 37 of 100 evaluations; best so far kept" (or by a cancel
   request); "" when the search ran to its end */
void optimize_stop_text(const OptimizeProduct *p, char *buf, size_t cap);

void optimize_product_free(OptimizeProduct *p);

/* A prepared input: the inferred graph (borrowed), its evaluation inputs, and - made on first
   need, failures remembered - its calibrated copy and the policy and cost model. Methods of one
   session share them (bench runs every method on one session). */
typedef struct OptimizeSession OptimizeSession;

int optimize_session_open(const Graph *orig, const OptimizeOpts *o, OptimizeSession **out, Err *err);
void optimize_session_close(OptimizeSession *s);
const InputSet *optimize_session_eval(const OptimizeSession *s);
/* The method's graph (o->method, o->seed; other settings as opened). Does not measure. */
int optimize_session_produce(OptimizeSession *s, const OptimizeOpts *o, OptimizeProduct *out, Err *err);
/* the policy file ppo methods use ("" before one was needed) */
const char *optimize_session_policy_path(const OptimizeSession *s);
/* the calibrated start graph of the precision methods, made on first call (its failure is
   remembered and returned again) */
int optimize_session_calibrate(OptimizeSession *s, Err *err);
/* that calibrated graph (NULL before optimize_session_calibrate succeeded) and the input graph */
const Graph *optimize_session_calibrated(const OptimizeSession *s);
const Graph *optimize_session_input(const OptimizeSession *s);
/* the options the session was opened with */
const OptimizeOpts *optimize_session_opts(const OptimizeSession *s);

/* THE accuracy judge: what optimize keeps or refuses on, and what every search that judges
   accuracy by itself (sensitivity) asks. */
typedef struct OptimizeJudgement {
    AccuracyResult acc;           /* fidelity to the input graph on the evaluation inputs */
    bool has_metric;              /* the user's metric was scored */
    double metric_before, metric_after;
    bool has_labels;              /* labelled top-1 (--eval DIR --labels FILE) decides, as in optimize_run */
    double labels_before, labels_after; /* top-1 against the labels */
    double drop;                  /* labels: top-1 before - after; with a metric: before - after;
                                     else objective_accuracy_drop */
    bool ok;                      /* within the accuracy budget (optimize_accuracy_kept) */
} OptimizeJudgement;
/* Judges g against the session's input on its evaluation inputs (the input's outputs and
   metric are computed once per session). */
int optimize_session_judge(OptimizeSession *s, const Graph *g, OptimizeJudgement *out, Err *err);
/* the keep rule on accuracy, once: with a metric, after >= before - max_accuracy_drop; else
   top-1 agreement >= 1 - max_accuracy_drop (when defined) and cosine >= min_cosine */
bool optimize_accuracy_kept(const OptimizeOpts *o, const AccuracyResult *acc, bool has_metric, double before, double after);

/* One graph of a side-by-side measurement (optimize_measure_all). */
typedef struct OptimizeMeasured {
    bool ok;                      /* in: measure it; out: measured (else err says why) */
    Err err;
    LatencyResult lat;
    double *samples;              /* the session's repeats per-run latencies in run order (owned) */
    AccuracyResult acc;           /* fidelity to the session's input graph */
    bool has_labels;              /* the session has labels: `labels` is the graph's top-1/top-5 */
    LabelledScore labels;
} OptimizeMeasured;

/* Measures graphs g[0..n) (those with out[i].ok) side by side, as the final measurement of
   optimize_run does for two: one alternating timing loop over all of them (opts' repeats and
   threads, the session's evaluation inputs), then fidelity of each to the session's input,
   whose outputs are computed once. A graph that fails is marked, not fatal; -1 only when the
   measurement itself cannot run (out of memory, the input graph fails). Free the samples
   with optimize_measured_free. */
int optimize_measure_all(OptimizeSession *s, const Graph *const *g, int n, OptimizeMeasured *out, Err *err);
/* A measured graph keeps the accuracy budget as optimize_run's final judgement decides it:
   with labels, its labelled top-1 at most max_accuracy_drop below the input's; else fidelity
   (top-1 agreement >= 1 - max_accuracy_drop, worst cosine >= min_cosine). -1 only when the
   input's labelled score cannot be computed. */
int optimize_measured_kept(OptimizeSession *s, const OptimizeMeasured *m, bool *kept, Err *err);
void optimize_measured_free(OptimizeMeasured *m, int n);

typedef struct OptimizeMeasure {
    LatencyResult lat;
    double *samples;              /* repeats per-run latencies in run order (owned) */
    int n_samples;
    int64_t weight_bytes;         /* parameters' bytes */
    int nodes, ops;               /* all nodes; nodes that are not Const */
} OptimizeMeasure;

typedef struct OptimizeResult {
    OptimizeOpts opts;            /* as run (borrowed pointers stay the caller's) */
    OptimizeProduct product;      /* the method's graph (product.graph: the candidate) */
    OptimizeMeasure before, after;
    AccuracyResult acc;           /* fidelity of the candidate to the input */
    bool has_metric;              /* the user's metric was judged */
    double metric_before, metric_after;
    bool keep;                    /* the candidate is returned; else the input is */
    const char *verdict;          /* "optimized graph written", "... the input graph was written unchanged" */
    Graph *graph;                 /* what to write: the candidate or a copy of the input, private
                                     attributes stripped (owned) */
    const InputSet *eval;         /* the evaluation batches (owned by the result) */
    double wall_s;
    const char *policy_path;      /* ppo methods: the policy file used */
    int grappo_nodes;             /* nodes of `graph` whose ops only grappo runs (GrappoQConv2D, ...):
                                     0 = the result runs in stock TensorFlow */
    char grappo_ops[256];         /* those ops with counts: "GrappoQConv2D×9, GrappoQuantize×2" */
    double speed_p;               /* two-sided sign test over the alternating rounds (candidate
                                     faster than the input in a round): "faster" only when < 0.05;
                                     NaN with fewer than 2 rounds; when the repeats could not decide,
                                     the p of the sequential test's last look (speed_rounds) */
    const char *new_cost_cache;   /* ppo methods: the kernel cost cache file this run created (its
                                     first on this CPU and thread count), else NULL */
    bool has_labels;              /* top-1/top-5 against the labels were judged (instead of fidelity) */
    LabelledScore labels_before, labels_after;
    bool labelled_images;         /* the evaluation rows are images (else .npy rows) */
    bool calib_generated;         /* calibration ran on generated (noise) inputs, not the user's data */
    bool unstable;                /* the timings spread (a run over twice the median, or a 95% CI of
                                     the mean wider than half the median): the ratio is not to be trusted */
    bool busy;                    /* other processes held cores (or steal) before the final timing */
    int timing_threads;           /* threads the final timing used (fewer than opts.threads when busy) */
    int speed_rounds;             /* alternating rounds the speed verdict rests on (sequential test) */
    bool speed_trusted;           /* kept though the test could not decide: exact, faster on the roofline */
    bool unmeasured;              /* allow_unmeasured and the input holds ops grappo cannot execute:
                                     neither graph was run (before, after, acc, eval are empty) */
    char unmeasured_why[512];     /* then: those ops with counts ("FooBar x2, Bazz x1") */
} OptimizeResult;

/* The nodes of g whose ops stock TensorFlow cannot run (grappo's own ops), with counts as text
   into buf ("" when none); returns their number. */
int optimize_grappo_ops(const Graph *g, char *buf, size_t cap);

/* The one line that ends `grappo optimize`: "RESULT: 2.38x faster, 2.06x smaller (peak memory),
   accuracy kept (top-1 100.00%, cosine 0.9991), runs in stock TensorFlow: no (GrappoQConv2D×12)"
   or "RESULT: unchanged - <reason>". Ratios are input / result. */
void optimize_result_line(const OptimizeResult *r, char *buf, size_t cap);

/* The whole optimization of an inferred graph (cli_prepare'd): produce, measure both graphs
   alternately, judge. On ranks other than 0 under mpirun *out has product.root false and no
   measurement. Free with optimize_result_free. */
int optimize_run(const Graph *orig, const OptimizeOpts *o, OptimizeResult **out, Err *err);
void optimize_result_free(OptimizeResult *r);

/* The bytes a result is written as (a GraphDef), checked first: parsed back, with the result's
   interface, they must compute the same outputs bit for bit (NaN where NaN) on one evaluation
   batch. *bytes is malloc'd. */
int optimize_result_serialize(const OptimizeResult *r, uint8_t **bytes, size_t *len, Err *err);

/* g read back from a GraphDef: the outputs of `like` by name (a GraphDef does not record
   which tensors are outputs) and the input shapes of `like`'s placeholders */
int optimize_adopt_interface(Graph *g, const Graph *like, const char *what, Err *err);

#endif
