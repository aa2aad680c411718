/* baselines.h - non-learned searches over rewrite sequences, the yardsticks for the agent:
 *   greedy  repeatedly apply the one (rule, site) that most improves the objective (measured),
 *           until none improves it by more than min_gain or the budget is spent;
 *   random  random legal sequences of rewrites, each evaluated, keep the best feasible;
 * both spend at most `budget` graph evaluations (the budget later shared with the agent). */
#ifndef GRAPPO_BASELINES_H
#define GRAPPO_BASELINES_H

#include "../rewrite/pipeline.h"
#include "objective.h"

typedef struct SearchOpts {
    int budget;              /* graph evaluations */
    unsigned required_flags; /* RULE_TF for --target tf */
    bool allow_precision;    /* precision rules may be used (graph must carry calibration) */
    unsigned forbidden_flags; /* greedy, random: rules with any of these flags are not tried (RULE_BF16
                                 on CPUs without bf16: each evaluation of such a graph takes minutes
                                 on BERT-base and can only be slower) */
    double min_gain;         /* greedy: relative objective improvement to accept (default 0.005) */
    int max_length;          /* random: longest sequence (default 2 x number of sites at start) */
    uint64_t seed;
} SearchOpts;

/* On success *best is a new graph (caller frees): the best feasible graph seen (possibly an
   unchanged copy of start), with its evaluation and the rules applied. */
int search_greedy(EvalContext *ctx, const Graph *start, const SearchOpts *o, Graph **best, Evaluation *best_eval,
                  RewriteLog *log, Err *err);
int search_random(EvalContext *ctx, const Graph *start, const SearchOpts *o, Graph **best, Evaluation *best_eval,
                  RewriteLog *log, Err *err);

#endif
