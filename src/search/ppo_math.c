/* ppo_math.c - GAE, the per-sample PPO loss and its gradient, Adam, gradient clipping and the
 * samplers (see ppo_math.h). Everything here is plain arithmetic on arrays. */
#include "ppo_math.h"

#include <math.h>

void ppo_gae(const float *reward, const float *value, const uint8_t *done, int n, double gamma, double lambda,
             float *adv, float *ret) {
    double running = 0; /* the advantage of step t+1 within the same episode */
    for (int t = n - 1; t >= 0; t--) {
        bool last = t == n - 1 || done[t];
        double next_value = last ? 0.0 : value[t + 1];
        if (last) running = 0; /* nothing of the next episode leaks back */
        double delta = reward[t] + gamma * next_value - value[t];
        running = delta + gamma * lambda * running;
        adv[t] = (float)running;
        ret[t] = (float)(running + value[t]);
    }
}

void ppo_normalize(float *a, int n) {
    if (n < 2) return;
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += a[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (a[i] - mean) * (a[i] - mean);
    double sd = sqrt(var / n);
    for (int i = 0; i < n; i++) a[i] = (float)((a[i] - mean) / (sd + 1e-8));
}

/* log-sum-exp, shifted by the maximum so no exp overflows */
static double log_sum_exp(const float *z, int n) {
    double mx = z[0];
    for (int i = 1; i < n; i++) if (z[i] > mx) mx = z[i];
    double s = 0;
    for (int i = 0; i < n; i++) s += exp(z[i] - mx);
    return mx + log(s);
}

double ppo_softmax(const float *logits, int n, double *probs) {
    double lse = log_sum_exp(logits, n);
    for (int i = 0; i < n; i++) probs[i] = exp(logits[i] - lse);
    return lse;
}

double ppo_entropy(const float *logits, int n, float *dH) {
    double lse = log_sum_exp(logits, n);
    double h = 0; /* H = -sum p ln p = lse - sum p z */
    for (int i = 0; i < n; i++) {
        double p = exp(logits[i] - lse);
        h -= p * (logits[i] - lse);
    }
    if (dH)
        for (int i = 0; i < n; i++) {
            double lp = logits[i] - lse;
            dH[i] = (float)(-exp(lp) * (lp + h));
        }
    return h;
}

int ppo_sample_loss(const float *logits, int n, int action, double old_logp, double adv, double value, double ret,
                    const PpoLossCoefs *c, PpoSampleLoss *out, float *dlogits, float *dvalue) {
    if (n <= 0 || action < 0 || action >= n) return -1;
    double lse = log_sum_exp(logits, n);
    double logp = logits[action] - lse;
    double ratio = exp(logp - old_logp);
    double lo = 1 - c->clip, hi = 1 + c->clip;
    double rc = ratio < lo ? lo : ratio > hi ? hi : ratio;
    double surr = fmin(ratio * adv, rc * adv);
    /* the clipped term is the (strict) minimum exactly when ratio left the trust region in the
       direction the advantage rewards; there its derivative w.r.t. ratio is 0 */
    bool clipped = (adv >= 0 && ratio > hi) || (adv < 0 && ratio < lo);
    double dlogp = clipped ? 0.0 : -adv * ratio; /* d(-ratio·A)/dlogp */

    double h = 0;
    for (int i = 0; i < n; i++) {
        double lp = logits[i] - lse;
        h -= exp(lp) * lp;
    }
    for (int i = 0; i < n; i++) {
        double lp = logits[i] - lse, p = exp(lp);
        double dsurr = dlogp * ((i == action) - p);     /* dlogp/dz_i = [i = a] - p_i */
        double dent = -p * (lp + h);                      /* dH/dz_i */
        dlogits[i] = (float)(dsurr - c->ent_coef * dent);
    }
    *dvalue = (float)(2.0 * c->vf_coef * (value - ret));
    out->policy_loss = -surr;
    out->value_loss = (value - ret) * (value - ret);
    out->entropy = h;
    out->logp = logp;
    out->ratio = ratio;
    out->clipped = clipped;
    return 0;
}

void ppo_adam_step(float *params, const float *grad, float *m, float *v, size_t n, int64_t t, const AdamParams *a) {
    double c1 = 1 - pow(a->beta1, (double)t), c2 = 1 - pow(a->beta2, (double)t);
    for (size_t i = 0; i < n; i++) {
        double g = grad[i];
        double mi = a->beta1 * m[i] + (1 - a->beta1) * g;
        double vi = a->beta2 * v[i] + (1 - a->beta2) * g * g;
        m[i] = (float)mi;
        v[i] = (float)vi;
        params[i] -= (float)(a->lr * (mi / c1) / (sqrt(vi / c2) + a->eps));
    }
}

double ppo_clip_grad_norm(float *g, size_t n, double max_norm) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        double s = max_norm / norm;
        for (size_t i = 0; i < n; i++) g[i] = (float)(g[i] * s);
    }
    return norm;
}

int ppo_sample_categorical(Rng *r, const float *logits, int n) {
    double lse = log_sum_exp(logits, n);
    double u = rng_uniform(r), acc = 0;
    for (int i = 0; i < n; i++) {
        acc += exp(logits[i] - lse);
        if (u < acc) return i;
    }
    /* rounding left the cumulative sum a hair below 1: the last action with mass */
    for (int i = n - 1; i > 0; i--)
        if (exp(logits[i] - lse) > 0) return i;
    return 0;
}

int ppo_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

void ppo_dirichlet_ones(Rng *r, int k, double *out) {
    double s = 0;
    for (int i = 0; i < k; i++) {
        out[i] = -log(1.0 - rng_uniform(r)); /* 1 - U in (0, 1]: finite */
        s += out[i];
    }
    /* all draws 0 would need U = 0 k times; guard anyway */
    for (int i = 0; i < k; i++) out[i] = s > 0 ? out[i] / s : 1.0 / k;
}
