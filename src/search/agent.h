/* agent.h - optimizing one graph with a trained policy: `grappo optimize --search ppo`.
 *
 *   1. (optional) fine-tune: PPO iterations on the target graph alone (--tune-episodes);
 *   2. roll the policy out `episodes` times on the cost model: at each step the policy proposes
 *      actions of distinct rules - in episode 0 its most likely site of every applicable rule,
 *      in the others `lookahead` samples (each masking its rule's other sites) - of those the
 *      one the cost model rates best is taken (the policy proposes, the cost model disposes:
 *      a one-step lookahead guided by the learned prior); each episode contributes its best
 *      feasible state (accuracy measured on as many batches as ctx->inputs holds, see rollout
 *      in agent.c) as a candidate; then hill climbing from Grappler's fixed point (the exact
 *      rules to exhaustion: where the cost model's estimates of small kernels are noisy the
 *      climb from the start stops early, a fixed pipeline does not), and, when precision rules
 *      are allowed, from the int8 pipeline's graph with every rule (when that graph is within
 *      the accuracy budget), and from Grappler's fixed point without precision rules, whose
 *      result (or the fixed point itself) is the exact fallback; exact too, from Grappler's
 *      order with batch norms folded first (pipeline_grappler_bn_folded: the residual Add and
 *      Relu fuse as well, which no climb from Grappler's fusion can reach); and with precision
 *      rules and an int8 graph within budget, the whole-rule candidates: that graph with one
 *      more precision rule at every site (agent.c: gains the per-kernel cost model cannot see);
 *   3. candidates (duplicates removed) are measured for real, whole-rule candidates first,
 *      then best estimate first (after one fails the accuracy budget, the exact fallback
 *      next), until the search budget of graph evaluations is spent; a candidate whose
 *      accuracy alone (cached by precision assignment) is outside the budget is refused
 *      without being timed or counted; the best measured feasible graph wins.
 * So the budget counts exactly what greedy and random count: whole-graph measurements. */
#ifndef GRAPPO_AGENT_H
#define GRAPPO_AGENT_H

#include "baselines.h"
#include "env.h"
#include "ppo.h"

typedef struct AgentOpts {
    int episodes;           /* rollouts (default 16) */
    int tune_episodes;      /* PPO fine-tuning episodes on the start graph (0 = zero-shot) */
    int lookahead;          /* sampled episodes: proposals of distinct rules the cost model
                               compares at each step (default 4; 1 = the policy's choice alone).
                               Episode 0 compares the policy's best site of every rule. */
    EnvConfig env;          /* env_config_default() with the search's flags */
    PpoConfig ppo;          /* for fine-tuning */
} AgentOpts;

AgentOpts agent_opts_default(void);

typedef struct AgentStats {
    int episodes, candidates, evaluated, env_steps;
    int refused;               /* candidates refused on their accuracy alone, never timed */
    double best_estimate_gain; /* J(start) - J(best candidate) on the cost model */
    double rollout_s, tune_s;
} AgentStats;

/* The graphs a rollout search builds from its start before the episodes (Grappler's fixed
   point, the int8 pipeline's graph, the whole-rule candidates): searches from one start share
   them through EvalContext.agent_starts (ppo+bo's trials); rebuilt when the start differs. */
typedef struct AgentStarts AgentStarts;
AgentStarts *agent_starts_new(void);
void agent_starts_free(AgentStarts *st);
/* how many times st was built (tests: a second search from the same start reuses it) */
int agent_starts_builds(const AgentStarts *st);

/* What the searches from one start share through EvalContext: the accuracy cache (when ctx can
   judge accuracy), the lookahead memo, the start graphs and the lone measurements.
   agent_shared_open makes those ctx lacks and records them in *own (ppo+bo opens them for all
   its trials, a lone search for itself); agent_shared_close frees exactly those and clears them from ctx, leaving the
   caller's own. On failure open leaves ctx as it found it. */
typedef struct AgentShared { AccuracyCache *acc; EnvPeekMemo *memo; AgentStarts *starts; MeasuredGraphs *measured; } AgentShared;
int agent_shared_open(EvalContext *ctx, AgentShared *own, Err *err);
void agent_shared_close(EvalContext *ctx, AgentShared *own);

/* Like search_greedy (baselines.h): *best is a new graph, the best feasible one measured (or an
   unchanged copy of start). The policy is fine-tuned in place when tune_episodes > 0. */
int search_ppo(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm, const AgentOpts *ao,
               Graph **best, Evaluation *best_eval, RewriteLog *log, AgentStats *stats, Err *err);

#endif
