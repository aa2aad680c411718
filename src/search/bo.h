/* bo.h - Bayesian optimization of the reward weights w = (w_lat, w_mem, w_acc).
 *
 * Search space: the simplex w >= 0, w_lat + w_mem + w_acc = 1, parametrized by
 *     x = (w_lat, w_mem) in [0,1]^2 with x1 + x2 <= 1,   w_acc = 1 - x1 - x2,
 * the coordinates every Gaussian process here sees (gp.h).
 *
 * Problem: minimize a black box f(w) subject to optional constraints c_k(w) <= 0; f and each
 * c_k get their own GP (Matérn 5/2, hyperparameters refit by maximum marginal likelihood at
 * every suggestion). The next point maximizes the constrained expected improvement (Gardner et
 * al. 2014)
 *     a(x) = EI(x; f*) · Π_k P(c_k(x) <= 0),
 *     EI = (f* − μ)·Φ(z) + σ·φ(z),  z = (f* − μ)/σ,
 * with f* the best feasible f observed; while no feasible point has been seen, a(x) is the
 * probability of feasibility Π_k P(c_k(x) <= 0) alone. The maximum is taken over a fixed-size
 * candidate set drawn from the Bo's seeded RNG: n_candidates uniform points on the simplex,
 * plus Gaussian perturbations of the best candidates and of the best observations.
 *
 * The first n_init suggestions are a design: the centroid and the three points next to the
 * corners (0.8, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.1, 0.8), then seeded uniform points.
 *
 * Batch mode (parallel workers): bo_suggest_batch uses the kriging believer heuristic, each
 * point in the batch being suggested after pretending the previous ones were observed at their
 * posterior means (objective and constraints), hyperparameters fixed within the batch.
 *
 * Everything is deterministic given the seed and the sequence of observations. */
#ifndef GRAPPO_BO_H
#define GRAPPO_BO_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/err.h"
#include "agent.h" /* for the agent's black box at the end */

#define BO_MAX_CONSTRAINTS 4
#define BO_MAX_TRIALS 512

typedef struct BoTrial {
    double w[3];                  /* the weights evaluated */
    double f;                     /* objective (minimized) */
    double c[BO_MAX_CONSTRAINTS]; /* constraint values: feasible when all <= 0 */
    bool ok;                      /* feasible */
    double ei;                    /* acquisition value when suggested (NAN: initial design or not suggested) */
} BoTrial;

typedef struct BoConfig {
    int n_constraints;  /* 0 .. BO_MAX_CONSTRAINTS */
    int n_init;         /* design points before the GP is used (default 4) */
    int n_candidates;   /* uniform candidates per suggestion (default 2000) */
    int n_local;        /* perturbations around each of the best 10 candidates / 5 observations (default 20) */
    uint64_t seed;
} BoConfig;

BoConfig bo_config_default(void);

typedef struct Bo Bo;

Bo *bo_new(int n_constraints, uint64_t seed, Err *err); /* bo_config_default() otherwise */
Bo *bo_new_config(const BoConfig *cfg, Err *err);
void bo_free(Bo *bo);

/* The next point to evaluate, and its acquisition value (NAN for design points). */
int bo_suggest(Bo *bo, double w[3], double *ei, Err *err);
/* q points at once (w is q × 3, ei q values) for q parallel evaluations. */
int bo_suggest_batch(Bo *bo, int q, double *w, double *ei, Err *err);

/* Records f(w) and the constraint values c (n_constraints of them; NULL when none). A w
   equal to an outstanding suggestion takes that suggestion's acquisition value as its ei.
   Fails on non-finite values or when BO_MAX_TRIALS trials are stored. */
int bo_observe(Bo *bo, const double w[3], double f, const double *c, Err *err);

/* every observation in order */
const BoTrial *bo_trials(const Bo *bo, int *n);
/* index of the feasible trial with the lowest f, -1 when none is feasible */
int bo_best(const Bo *bo);

/* closed forms, exposed for tests: expected improvement below f_best for N(mu, sigma²), and
   the map between the simplex and x */
double bo_expected_improvement(double mu, double sigma, double f_best);
void bo_w_from_x(const double x[2], double w[3]);
void bo_x_from_w(const double w[3], double x[2]);

/* ---- the black box of grappo: the policy conditioned on w, measured for real (bo_agent.c) ---- */

typedef enum BoObjective { BO_OBJECTIVE_LATENCY, BO_OBJECTIVE_MEMORY } BoObjective;

/* The user's target: minimize latency or memory, subject to the accuracy budget and optional
   budgets. */
typedef struct BoTarget {
    BoObjective objective;
    double max_accuracy_drop;   /* top-1 agreement >= 1 - this (the cosine floor stays ctx->budget.min_cosine) */
    double memory_budget_bytes; /* plan peak memory <= this (0: no budget) */
    double latency_budget_ms;   /* median latency <= this (0: no budget) */
} BoTarget;

/* One trial: the BO record (w, f, constraints, feasible, EI) and what was measured. */
typedef struct BoAgentTrial {
    BoTrial bo;
    Evaluation eval;  /* objective_evaluate of the trial's graph against ctx->original */
    int rewrites;     /* rules applied by the trial's search */
    int evaluations;  /* whole-graph evaluations the trial spent (its search and the final measurement) */
    double seconds;   /* wall time of the trial */
    int rank;         /* the process that ran it (0 in one process) */
} BoAgentTrial;

/* How trials are spread. BO suggests `batch` points at a time (bo_suggest_batch: kriging
   believer); point j of a round is run by process size - 1 - j % size (a short round leaves
   rank 0 idle), and the processes all-gather the
   rows and observe them in trial order, so every process holds the same Bo, the same table and
   the same decisions (suggestions depend only on observations, and the GP fit is
   deterministic). comm NULL: this process runs every trial. batch < 1: the number of
   processes. The trial seed is o->seed + trial index, whoever runs it. */
typedef struct BoParallel {
    int batch;
    const PpoComm *comm;
} BoParallel;

/* The constraints search_ppo_bo hands to BO for a target, in order: "accuracy" (always),
   then "memory" and "latency" when budgeted:
       accuracy: max(top-1 floor - top-1 agreement (when defined), cosine floor - min cosine) <= 0
       memory:   ln(peak bytes / memory budget) <= 0
       latency:  ln(latency ms / latency budget) <= 0
   Returns their count; names may be NULL. */
int bo_target_constraints(const BoTarget *t, const char *names[BO_MAX_CONSTRAINTS]);

/* Tunes the reward weights for a target: `trials` trials of
     w <- bo_suggest (par: batches spread over processes, see BoParallel);
     search_ppo(start) with ctx->w = w (o->budget whole-graph evaluations per trial, >= 2: the
     start graph and the best candidate; seed o->seed + trial);
     measure its result with objective_evaluate (one more evaluation);
     f = ln(latency ms) or ln(peak bytes);  constraints as above;  bo_observe.
   table[0..trials) receives every trial (on every process). The kept trial is the one with
   the lowest f among feasible ones (*best_trial its index), or, when no trial is feasible, the
   one with the smallest worst constraint violation (*best_trial = -1 - its index); *best_eval
   and *log describe it on every process. *best is a new graph on the process that ran the kept
   trial (table[kept].rank), NULL on the others (the caller moves it, see dist_bcast_bytes).
   ctx->w and ctx->budget are restored on return; ctx->evaluations counts what this process
   spent. With ao->tune_episodes > 0 the policy is fine-tuned in place at every trial
   (cumulatively, per process). par NULL: batch 1, one process. Collective when par->comm is
   set: every process calls it with the same arguments, and an error on one leaves the others
   waiting (the caller aborts them). */
int search_ppo_bo(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm, const AgentOpts *ao,
                  const BoTarget *target, int trials, const BoParallel *par, Graph **best, Evaluation *best_eval, RewriteLog *log,
                  BoAgentTrial *table, int *best_trial, Err *err);

#endif
