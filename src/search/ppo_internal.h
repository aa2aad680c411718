/* ppo_internal.h - the trainer's state, shared by ppo.c (rollouts and updates) and ppo_ckpt.c
 * (checkpoints). Not part of the public contract (ppo.h). */
#ifndef GRAPPO_PPO_INTERNAL_H
#define GRAPPO_PPO_INTERNAL_H

#include "../util/rng.h"
#include "ppo.h"

/* one step of a rollout: a private copy of the observation (the env overwrites its buffers at
   the next step) and what PPO needs of it */
typedef struct PpoSample {
    PolicyObs obs;        /* points into the arrays below */
    float *x;
    int *edge_src, *edge_dst;
    PolicyAction *actions;
    int action;
    float logp, value, reward;
    uint8_t done;
} PpoSample;

/* one rollout stream ("rank", see ppo.h): its RNG, its samples and their per-sample arrays */
typedef struct PpoStream {
    int id;              /* global stream index, 0..K-1 */
    Rng rng;             /* every random choice of the stream: graph, weights, actions, minibatch order */
    PpoSample *samples;
    int n_samples, cap_samples;
    float *rew, *val, *adv, *ret;
    uint8_t *done;
    int *order;
} PpoStream;

struct PpoTrainer {
    Policy *policy;
    Env *env;
    const PpoCorpus *corpus;
    PpoConfig cfg;
    int iteration;       /* completed iterations */
    int64_t adam_t;      /* Adam steps taken */
    size_t n_params;
    float *m, *v;        /* Adam moments */
    double best_gain;    /* see ppo.c: best objective gain under the default weights */

    int n_local;         /* streams run by this process (virtual_ranks) */
    int n_streams;       /* K, over all processes */
    int first_stream;    /* global index of streams[0] */
    PpoStream *streams;  /* n_local */
    Rng *all_rng;        /* every stream's RNG after the last iteration (K), for checkpoints */
    float *grad_local;   /* n_local x (n_params + 1): each stream's minibatch gradient, then 1 if its chunk was not empty */
    float *grad_all;     /* K x (n_params + 1), gathered */

    PolicyCache *cache;
    float *logits, *dlogits;
    int cap_logits;
};

/* seed of stream g: the run's seed for stream 0, a mix of both for the others */
uint64_t ppo_stream_seed(uint64_t seed, int g);

#endif
