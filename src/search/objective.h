/* objective.h - what a search minimizes, and the evaluation of one candidate graph:
 *   J = w_lat·ln(latency) + w_mem·ln(peak memory) + w_acc·(accuracy drop)
 * with accuracy drop = 1 − top-1 agreement (or 1 − cosine when the graph has no classifier
 * output). Candidates outside the accuracy budget are infeasible whatever their J. */
#ifndef GRAPPO_OBJECTIVE_H
#define GRAPPO_OBJECTIVE_H

#include "../measure/measure.h"

typedef struct ObjectiveWeights { double w_lat, w_mem, w_acc; } ObjectiveWeights;

typedef struct Evaluation {
    double latency_ms; /* median of the repeats */
    double peak_bytes;
    double accuracy_drop;
    AccuracyResult acc;
    bool feasible;
    double objective;
} Evaluation;

/* Where a search's time went, in seconds (accumulated over the searches sharing a context:
   every trial of ppo+bo). */
typedef struct SearchTimes {
    double timing_s;        /* whole-graph timing runs (objective_*) */
    double accuracy_s;      /* whole-graph accuracy runs (objective_*) */
    double rollout_s;       /* ppo rollouts on the cost model, of which: */
    double env_accuracy_s;  /*   accuracy charged to rollout states */
    double cost_timing_s;   /*   kernels timed for the cost model (cache misses) */
    double tune_s;          /* ppo fine-tuning */
    double bo_s;            /* Gaussian processes and acquisition (ppo+bo) */
    /* accuracy through the context's cache (EvalContext.acc_cache): runs made, answers reused */
    int accuracy_runs, accuracy_hits;
    /* lone measurements reused from EvalContext.measured (objective_evaluate_reuse) */
    int evaluations_reused;
} SearchTimes;

/* Accuracy by precision assignment (objective_accuracy): the set of low-precision nodes of a
   graph (objective_precision_signature) -> its fidelity to ctx->original on ctx->inputs. Exact
   rewrites leave the set unchanged and the function equal up to fp32 rounding, so one
   measurement serves every graph with the same choices: a ppo search's rollouts, its
   whole-graph evaluations and every trial of ppo+bo share it. The reference outputs of
   ctx->original are computed once. */
typedef struct AccuracyCache AccuracyCache;

typedef struct EvalContext {
    const Graph *original;
    const InputSet *inputs;    /* held-out batches for accuracy and timing */
    AccuracyBudget budget;
    ObjectiveWeights w;
    int repeats, threads;
    int evaluations;           /* counter: graphs evaluated so far */
    double deadline_ms;        /* searches stop spending evaluations after this CLOCK_MONOTONIC
                                  time in ms (0: no time budget) */
    /* optional: told after every evaluation (evaluations so far, the search's budget);
       returning non-zero stops the search: it ends with the best graph found so far
       (ctx->stopped = OBJECTIVE_STOP_CANCELLED) */
    int (*progress)(void *user, int evaluations, int budget);
    void *progress_user;
    int progress_budget;
    /* ppo's rollouts on the cost model, done of total (called with progress_user); non-zero
       stops them (ctx->stopped = OBJECTIVE_STOP_CANCELLED). NULL: not reported */
    int (*rollout_progress)(void *user, int done, int total);
    /* sequential comparisons (objective_compare_seq): zero fields = stats_seq_sign_default() */
    SeqSignOpts seq;
    int busy_comparisons;      /* counter: comparisons timed while the machine was busy */
    SearchTimes times;
    int timing_threads;        /* threads the next comparison times with (0: threads); after a
                                  comparison on a busy machine, the cores the others left free */
    int stopped;               /* out: why the search ended before its budget (ObjectiveStop) */
    LoadThreads acc_threads;   /* accuracy runs' threads on a busy machine (measure.h; zero-init) */
    AccuracyCache *acc_cache;  /* NULL: every accuracy is measured (search_ppo and search_ppo_bo
                                  open one for their run when the caller gave none) */
    struct EnvPeekMemo *peek_memo; /* the rollouts' lookahead estimates (env.h), shared like
                                      acc_cache by the trials of ppo+bo; NULL: the search's own */
    struct AgentStarts *agent_starts; /* the graphs a rollout search builds from its start
                                         (agent.h), shared likewise; NULL: the search's own */
    struct MeasuredGraphs *measured; /* lone measurements to reuse (objective_evaluate_reuse),
                                        shared likewise; NULL: every one is made */
    /* optional: the user's labels (optimize --labels). Given a candidate's outputs on ctx->inputs
       (accuracy_reference's layout), sets *drop to the input's labelled top-1 minus the
       candidate's. With it every accuracy a search measures is labelled (AccuracyResult.
       labelled): feasible when the drop is within budget.max_label_drop, and J charges that
       drop, not the fidelity to the input - the judgement optimize makes of its result, so a
       search can keep a precision choice that moves outputs but not the labelled top-1. */
    int (*label_drop)(void *user, const Graph *g, const Tensor *outs, int n_batches, double *drop, Err *err);
    void *label_user;
} EvalContext;

/* The set of precision choices in g: an order-independent sum of a hash per node that runs in
   low precision or converts to or from it (0 for a graph without any). */
uint64_t objective_precision_signature(const Graph *g);

AccuracyCache *objective_accuracy_cache_new(void);
void objective_accuracy_cache_free(AccuracyCache *c);
/* is g's precision assignment in ctx's cache (false without a cache)? */
bool objective_accuracy_known(const EvalContext *ctx, const Graph *g);
/* the cached answer for a precision signature: true (and *acc, counted as a hit) when known */
bool objective_accuracy_lookup(EvalContext *ctx, uint64_t sig, AccuracyResult *acc);
/* fidelity of g to ctx->original on ctx->inputs: from ctx->acc_cache when its precision
   assignment was measured before (counted in ctx->times.accuracy_hits), else measured against
   the cached reference outputs (accuracy_runs) and remembered. Without a cache: measured. */
int objective_accuracy(EvalContext *ctx, const Graph *g, AccuracyResult *acc, Err *err);

/* why a search ended before spending its budget of evaluations */
typedef enum ObjectiveStop { OBJECTIVE_STOP_NONE = 0, OBJECTIVE_STOP_TIME, OBJECTIVE_STOP_CANCELLED } ObjectiveStop;

/* true while a search may evaluate another graph: fewer than `budget` evaluations spent, not
   cancelled and the deadline (if any) not passed (passing it sets ctx->stopped) */
bool objective_budget_left(EvalContext *ctx, int budget);

/* Counts one evaluation a search made by its own means (e.g. accuracy only) and tells
   ctx->progress, which may stop the search (ctx->stopped). */
void objective_count(EvalContext *ctx);

/* the accuracy drop a search charges: the labelled top-1 drop when labelled, else 1 - top-1
   agreement over classifier outputs, else 1 - the worst cosine; never below 0 */
double objective_accuracy_drop(const AccuracyResult *acc);

ObjectiveWeights objective_default_weights(void); /* (1, 0.1, 10) */
/* Measures g (latency on the fast runtime, plan memory, fidelity to ctx->original) */
int objective_evaluate(EvalContext *ctx, const Graph *g, Evaluation *out, Err *err);
/* Lone measurements by graph: its timing and accuracy, not its J (which depends on ctx->w).
   ppo+bo's trials each measure the same start graph and often return the same graph, which
   the trial then measures alone: measured once, those evaluations go to candidates instead. */
typedef struct MeasuredGraphs MeasuredGraphs;
MeasuredGraphs *objective_measured_new(void);
void objective_measured_free(MeasuredGraphs *m);
/* objective_evaluate, except that a graph ctx->measured holds (same graph_structure_hash and node
   count, measured with the same inputs and threads) is not measured again: its timing and
   accuracy are reused and its J recomputed under ctx->w, counting no evaluation
   (ctx->times.evaluations_reused). Without ctx->measured: objective_evaluate. */
int objective_evaluate_reuse(EvalContext *ctx, const Graph *g, Evaluation *out, Err *err);
/* Measures a candidate against a reference graph in one alternating timing loop, so both
   latencies see the same machine noise. ref_acc is the reference graph's accuracy, measured
   before (it does not change); fills both evaluations (counts one evaluation). */
int objective_evaluate_pair(EvalContext *ctx, const Graph *ref, const AccuracyResult *ref_acc, const Graph *cand,
                            Evaluation *ref_out, Evaluation *cand_out, Err *err);

/* Compares cand with ref on J so that noise cannot flip the answer: cand's accuracy is measured
   first (an infeasible cand is not timed: SEQ_POSITIVE); then both are timed alternately until
   the group-sequential sign test (stats.h, ctx->seq) decides on the pairs'
   w_lat·ln(latency ratio) + the memory and accuracy terms of J, or its round cap is hit.
   *decision SEQ_NEGATIVE: cand is better (J lower), SEQ_POSITIVE: ref is, SEQ_UNDECIDED: not
   told apart at level alpha. The evaluations are filled from the rounds' medians (ref's
   accuracy is ref_acc); counts one evaluation. With w_lat = 0, J is compared directly. */
int objective_compare_seq(EvalContext *ctx, const Graph *ref, const AccuracyResult *ref_acc, const Graph *cand,
                          Evaluation *ref_out, Evaluation *cand_out, SeqDecision *decision, Err *err);

#endif
