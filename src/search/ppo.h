/* ppo.h - proximal policy optimization of the policy on the optimization MDP (env.h).
 *
 * One iteration: collect `episodes` rollouts (each on a graph drawn from the corpus, with
 * reward weights w drawn from the training distribution below), compute advantages with
 * GAE(gamma, lambda) and returns, then `epochs` passes of shuffled minibatches minimizing
 *     L = -mean(min(ratio·A, clip(ratio, 1-eps, 1+eps)·A)) + vf_coef·mean((V - R)^2)
 *         - ent_coef·mean(entropy)
 * with advantages normalized per iteration, gradients averaged over the minibatch, clipped to
 * max_grad_norm (global L2), and applied with Adam. Everything is deterministic given the seed
 * (the cost model must be too: roofline, or a measured cache that is already warm).
 *
 * Weights for training episodes: with probability 1/2 w = (1, 0.1, 10) normalized (the
 * default objective), otherwise w ~ Dirichlet(1, 1, 1) on the simplex, so the policy learns
 * to read w.
 *
 * Rollout streams (distributed training, dist.h). The trainer runs K = processes x
 * virtual_ranks independent rollout streams ("ranks"). Stream g has its own RNG (stream 0 is
 * seeded with `seed` itself, so K = 1 is the plain trainer; stream g > 0 with a mix of seed and
 * g), plays `episodes` episodes per iteration (so an iteration plays K x episodes), computes
 * its own GAE and normalizes its own advantages, and shuffles its own samples each epoch.
 * The schedule of an epoch is common to all streams: with n_g samples in stream g and
 * n_max = max_g n_g, there are M = ceil(n_max / minibatch) updates; stream g cuts its shuffled
 * samples into chunks of ceil(minibatch * n_g / n_max) (the longest stream uses exactly
 * `minibatch`), and update b applies the mean, over the streams whose chunk b is not empty, of
 * each stream's minibatch-mean gradient, summed in stream order. All cross-stream sums (the
 * gradient, the statistics) are taken in stream order from an all-gather, so one process
 * simulating K streams (virtual_ranks = K) and K MPI processes (comm) compute bit-identical
 * parameters. grad_reduce (legacy hook, if set) is called on the averaged gradient before
 * clipping. */
#ifndef GRAPPO_PPO_H
#define GRAPPO_PPO_H

#include <stdio.h>

#include "env.h"
#include "policy.h"

/* The collective operation of distributed training (dist.c makes one over MPI). Every process
   calls allgather with `bytes` bytes of its own; recv receives size x bytes in rank order, on
   every process. A process runs streams rank·V .. rank·V + V - 1 (V = virtual_ranks, the same
   on every process). */
typedef struct PpoComm {
    int rank, size;
    int (*allgather)(void *ctx, const void *send, void *recv, size_t bytes, Err *err);
    void *ctx;
} PpoComm;

typedef struct PpoConfig {
    int episodes;          /* rollouts per iteration (default 16) */
    double gamma;          /* discount (default 1.0: rewards telescope to the objective gain) */
    double lambda;         /* GAE (default 0.95) */
    double clip;           /* epsilon (default 0.2) */
    double vf_coef;        /* default 0.5 */
    double ent_coef;       /* default 0.01 */
    double lr;             /* Adam step (default 3e-4) */
    double adam_beta1, adam_beta2, adam_eps; /* 0.9, 0.999, 1e-8 */
    double max_grad_norm;  /* default 0.5 */
    int epochs;            /* default 4 */
    int minibatch;         /* samples per minibatch (default 64) */
    uint64_t seed;         /* default 1 */
    /* optional hooks for distributed training (dist.c); ctx is passed through */
    int (*grad_reduce)(float *grad, size_t n, void *ctx, Err *err);
    void *reduce_ctx;
    int virtual_ranks;     /* rollout streams run by this process (default 1; < 1 means 1) */
    const PpoComm *comm;   /* NULL: one process; else collective with the other processes */
} PpoConfig;

PpoConfig ppo_config_default(void);

/* training graphs: inferred, calibrated when the env allows precision */
typedef struct PpoCorpus {
    int n;
    Graph **graphs;
    char **names;
} PpoCorpus;

typedef struct PpoIterStats {
    int iteration;          /* 1-based, counting resumed iterations */
    int episodes, env_steps;
    double mean_return;     /* mean objective gained per episode (J(start) - J(end)) */
    double best_gain;       /* best per-graph relative objective gain seen so far */
    double policy_loss, value_loss, entropy, approx_kl, clip_frac, grad_norm;
    double rollout_s, update_s; /* wall time of each phase */
} PpoIterStats;

typedef struct PpoTrainer PpoTrainer;

/* The trainer borrows policy, env and corpus. */
PpoTrainer *ppo_new(Policy *policy, Env *env, const PpoCorpus *corpus, const PpoConfig *cfg, Err *err);
void ppo_free(PpoTrainer *t);
int ppo_iteration(PpoTrainer *t, PpoIterStats *out, Err *err);
int ppo_iterations_done(const PpoTrainer *t);

/* rollout streams over all processes (K = processes x virtual_ranks) */
int ppo_streams(const PpoTrainer *t);

/* Checkpoint = policy file whose extra bytes hold the trainer state (iteration, Adam moments,
   every stream's RNG, best-so-far); written atomically, so a kill at any moment leaves the
   previous one. Under comm every process holds every stream's RNG state after each iteration,
   so any one process (rank 0) can save; every process loads the same file. A checkpoint only
   resumes with the same number of streams K. */
int ppo_checkpoint_save(const PpoTrainer *t, const char *path, Err *err);
/* Restores the trainer state into t (whose policy must have the checkpoint's shape; the
   policy's parameters are replaced). */
int ppo_checkpoint_load(PpoTrainer *t, const char *path, Err *err);

/* Runs one episode with the policy on start (greedy = argmax, else sampled from rng seed) and
   returns the final graph (caller frees) and the env's final estimate. For inference. */
int ppo_rollout_best(Policy *policy, Env *env, const Graph *start, ObjectiveWeights w, bool greedy, uint64_t seed,
                     Graph **out, EnvEval *out_eval, Err *err);

#endif
