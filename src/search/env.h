/* env.h - the optimization MDP the agent plays.
 *
 * State: the current graph (a clone of the episode's start graph, rewritten in place).
 * Actions: every legal (rule, site) pair of the allowed rules, plus STOP (always last). A
 * rule the policy has no embedding for, or one the options forbid (--target tf, exact only),
 * is not offered: the action list is the mask.
 * Step: apply the rewrite (rule_apply), re-estimate.
 * Reward: the improvement of the episode's best objective so far,
 *     r_t = max(0, min_{k<=t} J(s_k) - J(s_{t+1})),
 *     J(s) = w_lat·ln(latency_ms) + w_mem·ln(peak MiB) + w_acc·drop + penalty·[infeasible]
 * where w is normalized to sum 1, latency and memory come from the cost model, drop is the
 * measured accuracy drop on the env's calibration batches (1 - top-1 agreement for classifier
 * outputs, else 1 - min cosine; 0 without precision rewrites, which are exact to fp32 rounding)
 * and a state outside the accuracy budget pays `penalty`. An episode's return is therefore
 * J(start) - min_t J(s_t): the gain of the best state it reached, which is exactly what a
 * rollout contributes when the agent is used (agent.c keeps each episode's best state). Why not
 * r_t = J(s_t) - J(s_{t+1}): on this runtime many rewrites are harmful (bf16 without bf16
 * hardware, weights-only storage, NCHW layout), the value of continuing under an untrained
 * policy is negative, and PPO then learns to STOP at once (measured: the policy collapsed to
 * immediate STOP within 40 iterations); with best-so-far rewards a bad step costs only the steps
 * it wastes, and exploring past it stays worthwhile.
 * Episodes end at STOP, when no action but STOP is left, or after max_steps rewrites.
 *
 * Accuracy in the loop: a precision rewrite's state is charged by a real measurement (fast
 * runtime, the env's calibration batches, fidelity to the episode's start graph), cached per
 * set of precision choices (the names and ops of the graph's low-precision nodes), so
 * revisiting the same choices costs nothing. A state whose J without any accuracy charge
 * (a lower bound) does not beat the episode's best cannot earn a reward whatever its accuracy,
 * so it is not measured (EnvEval.accuracy_pending): most accuracy runs are saved, no reward
 * changes. */
#ifndef GRAPPO_ENV_H
#define GRAPPO_ENV_H

#include "../measure/cost.h"
#include "../measure/measure.h"
#include "objective.h"
#include "policy.h"

/* node features (features.c): the width and schema version the policy is built for */
#define FEATURES_VERSION 1
int features_dim(void);
/* width of this build's one-hot op block at the start of a row (one column per op of ops.def;
   a loaded policy's own columns are matched to ops by name, see env_policy_check) */
int features_op_dim(void);

/* A new policy for this build: input width features_dim(), one rule embedding per rule of the
   registry (in registry order), weights drawn from seed. cfg NULL = policy_config_default's
   sizes; a cfg given has its feat_dim, features_version and n_rules overwritten. */
Policy *env_policy_new(const PolicyConfig *cfg, uint64_t seed, Err *err);

/* Checks that p can observe graphs of this build: the same features version, the same numeric
   features, and one-hot columns named by op (ops this build lacks are never set; ops the policy
   lacks get no column). A policy without a recorded layout (format 1) must have this build's
   width. ERR_INPUT naming the difference otherwise. Called by env_new. */
int env_policy_check(const Policy *p, Err *err);

typedef struct EnvConfig {
    int max_steps;            /* rewrites per episode (default 48) */
    unsigned required_flags;  /* RULE_TF for --target tf */
    bool allow_precision;     /* precision rules offered (the start graph must be calibrated) */
    AccuracyBudget budget;    /* default top-1 >= 0.99, cosine >= 0.99 */
    double infeasible_penalty; /* default 1.0 (as much as an e-fold latency change) */
    int acc_batches;          /* generated input batches for accuracy (default 2) */
    int threads;              /* fast runtime threads for accuracy runs */
    /* Inference: never measure during steps (every state with new, uncached precision choices
       stays pending); the caller measures the states it considers with env_charge. Rewards are
       then optimistic (accuracy unchanged) - not for training. */
    bool lazy_accuracy;
    /* Optional (optimizing): accuracy through objective_accuracy on this context - fidelity to
       ctx->original on ctx->inputs, cached by precision assignment in ctx->acc_cache and shared
       with the search's whole-graph evaluations and other envs - instead of the env's own
       acc_batches generated batches against the episode's start graph. */
    EvalContext *accuracy_ctx;
    /* Optional, with lazy_accuracy: lookahead estimates remembered by (state, rule, site) - the
       cost model's latency and memory and the precision signature of the state an action leads
       to, which do not depend on w - so episodes and trials that revisit a state peek without
       applying the rewrite again (see env_peek). */
    struct EnvPeekMemo *peek_memo;
} EnvConfig;

typedef struct EnvPeekMemo EnvPeekMemo;
EnvPeekMemo *env_peek_memo_new(void);
void env_peek_memo_free(EnvPeekMemo *m);
/* lookups answered and made, for tests and reports */
void env_peek_memo_stats(const EnvPeekMemo *m, long *hits, long *lookups);

EnvConfig env_config_default(void);

typedef struct Env Env;

/* policy gives the rule-index translation (rules it does not know are not offered); it may be
   NULL, then every allowed rule is offered with its registry index. */
Env *env_new(const EnvConfig *cfg, CostModel *cm, const Policy *policy, Err *err);
void env_free(Env *e);

/* Starts an episode on a clone of start (inferred; calibrated if precision is allowed) with
   weights w (any scale; normalized here). Measured accuracies are cached per start graph (by
   its address and version): start graphs must stay alive and unchanged while the env is used
   with them, as a training corpus does. */
int env_reset(Env *e, const Graph *start, ObjectiveWeights w, Err *err);
/* The observation of the current state; its arrays live in the env until the next step or
   reset. obs->actions[i] corresponds to env action i. */
const PolicyObs *env_observe(Env *e);
int env_n_actions(const Env *e);
bool env_action_is_stop(const Env *e, int action);
/* rule name of action i ("STOP" for stop) */
const char *env_action_name(const Env *e, int action);

/* Takes action i: reward and whether the episode ended. */
int env_step(Env *e, int action, double *reward, bool *done, Err *err);

/* the current state */
const Graph *env_graph(const Env *e);
int env_steps(const Env *e);
typedef struct EnvEval {
    double latency_ms, peak_bytes, accuracy_drop, objective;
    bool feasible;
    bool accuracy_pending;  /* not measured (it could not beat the best): drop taken as 0 */
    AccuracyResult acc; /* meaningful when measured (precision rewrites present) */
} EnvEval;
/* the current state's estimate, and the start graph's */
const EnvEval *env_eval(const Env *e);
const EnvEval *env_start_eval(const Env *e);
/* the lowest J reached in this episode (the start's J at reset) */
double env_best_objective(const Env *e);
/* The estimate of the state action i would lead to, without taking it (a lookahead on the cost
   model: the rewrite is applied to a copy). STOP: the current estimate. */
int env_peek(Env *e, int action, EnvEval *out, Err *err);
/* Measures (or takes from the cache) the accuracy of g - a state reached in this episode, so
   with the current start graph - when ev (its estimate) is pending, and updates ev's drop,
   feasibility and J. */
int env_charge(Env *e, const Graph *g, EnvEval *ev, Err *err);
/* counters: accuracy runs measured vs answered from the cache */
void env_acc_stats(const Env *e, int *measured, int *cached);
/* seconds this env spent measuring accuracy (0 for NULL) */
double env_acc_seconds(const Env *e);

#endif
