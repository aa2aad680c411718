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

struct PpoTrainer {
    Policy *policy;
    Env *env;
    const PpoCorpus *corpus;
    PpoConfig cfg;
    Rng rng;             /* every random choice: graph, weights, actions, minibatch order */
    int iteration;       /* completed iterations */
    int64_t adam_t;      /* Adam steps taken */
    size_t n_params;
    float *m, *v;        /* Adam moments */
    double best_gain;    /* see ppo.c: best objective gain under the default weights */

    PolicyCache *cache;
    float *logits, *dlogits;
    int cap_logits;
    PpoSample *samples;
    int n_samples, cap_samples;
    float *rew, *val, *adv, *ret;
    uint8_t *done;
    int *order;
};

#endif
