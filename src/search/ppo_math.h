/* ppo_math.h - the numerical pieces of PPO, free of graphs and networks so each can be tested
 * against a closed form or finite differences: GAE, the per-sample clipped surrogate / value /
 * entropy loss with its gradient w.r.t. the action logits and the value, Adam, global-norm
 * gradient clipping, and the samplers (categorical, argmax, Dirichlet(1,...,1)).
 *
 * Logits are the scores of an observation's legal actions only: the env offers exactly the
 * legal actions, so the "masked softmax" is the softmax over those n entries. */
#ifndef GRAPPO_PPO_MATH_H
#define GRAPPO_PPO_MATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/rng.h"

/* GAE(gamma, lambda) over a buffer of n consecutive steps made of whole episodes in order.
 * done[t] marks the last step of an episode: the value after it is 0 (bootstrap 0: episodes
 * end at STOP or the step limit and nothing follows). The buffer's last step is treated as an
 * episode end whatever done says. adv[t] = sum_k (gamma·lambda)^k delta_{t+k} within the
 * episode, delta_t = r_t + gamma·V_{t+1} - V_t; ret[t] = adv[t] + V_t (the value target). */
void ppo_gae(const float *reward, const float *value, const uint8_t *done, int n, double gamma, double lambda,
             float *adv, float *ret);

/* a[i] <- (a[i] - mean) / (std + 1e-8) (population std); no-op for n < 2 */
void ppo_normalize(float *a, int n);

/* probs[i] = softmax(logits)[i] (computed in double, max-shifted); returns log-sum-exp */
double ppo_softmax(const float *logits, int n, double *probs);

/* One sample's loss and its gradient:
 *   L = -min(ratio·A, clip(ratio, 1-eps, 1+eps)·A) + vf_coef·(V - R)^2 - ent_coef·H(p)
 * ratio = exp(logp(action) - old_logp). dlogits[0..n) and *dvalue receive dL/dlogits and dL/dV.
 * When the clipped term is the minimum and ratio is outside [1-eps, 1+eps] the surrogate's
 * gradient is zero (PPO stops pushing a probability that has already moved far enough). */
typedef struct PpoSampleLoss {
    double policy_loss;  /* -min(...) */
    double value_loss;   /* (V - R)^2 */
    double entropy;      /* H(p) in nats */
    double logp;         /* new log-probability of the action */
    double ratio;
    bool clipped;        /* the surrogate's gradient was cut off by the clip */
} PpoSampleLoss;

typedef struct PpoLossCoefs { double clip, vf_coef, ent_coef; } PpoLossCoefs;

/* n <= 0 or action out of range: returns -1 without touching the outputs; else 0 */
int ppo_sample_loss(const float *logits, int n, int action, double old_logp, double adv, double value, double ret,
                    const PpoLossCoefs *coefs, PpoSampleLoss *out, float *dlogits, float *dvalue);

/* H(softmax(logits)) and (if dH != NULL) dH/dlogits_j = -p_j·(ln p_j + H) */
double ppo_entropy(const float *logits, int n, float *dH);

/* Adam with bias correction; t is the 1-based step count after this update.
 *   m = b1·m + (1-b1)·g;  v = b2·v + (1-b2)·g²;  p -= lr·(m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps) */
typedef struct AdamParams { double lr, beta1, beta2, eps; } AdamParams;
void ppo_adam_step(float *params, const float *grad, float *m, float *v, size_t n, int64_t t, const AdamParams *a);

/* Global L2 norm of g; if it exceeds max_norm (> 0), g is scaled so its norm is max_norm.
   Returns the norm before clipping. */
double ppo_clip_grad_norm(float *g, size_t n, double max_norm);

/* index drawn from softmax(logits) (one uniform from r); argmax = first maximum */
int ppo_sample_categorical(Rng *r, const float *logits, int n);
int ppo_argmax(const float *x, int n);

/* a point on the k-simplex from Dirichlet(1, ..., 1): normalized Gamma(1) = -ln U draws */
void ppo_dirichlet_ones(Rng *r, int k, double *out);

#endif
