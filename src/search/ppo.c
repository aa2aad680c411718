/* ppo.c - PPO training of the policy on the env (see ppo.h): rollouts that copy each
 * observation, GAE, minibatch epochs of the clipped surrogate with Adam, and single-episode
 * inference (ppo_rollout_best). The math lives in ppo_math.c, checkpoints in ppo_ckpt.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "env.h"
#include "ppo_internal.h"
#include "ppo_math.h"

PpoConfig ppo_config_default(void) {
    return (PpoConfig){.episodes = 16, .gamma = 1.0, .lambda = 0.95, .clip = 0.2, .vf_coef = 0.5, .ent_coef = 0.01,
                       .lr = 3e-4, .adam_beta1 = 0.9, .adam_beta2 = 0.999, .adam_eps = 1e-8, .max_grad_norm = 0.5,
                       .epochs = 4, .minibatch = 64, .seed = 1};
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

PpoTrainer *ppo_new(Policy *policy, Env *env, const PpoCorpus *corpus, const PpoConfig *cfg, Err *err) {
    if (!policy || !env || !corpus || corpus->n <= 0) {
        err_set(err, ERR_INPUT, "ppo: needs a policy, an env and a non-empty corpus");
        return NULL;
    }
    if (cfg->episodes < 1 || cfg->epochs < 1 || cfg->minibatch < 1 || !(cfg->clip > 0) || !(cfg->lr > 0) ||
        !(cfg->gamma >= 0 && cfg->gamma <= 1) || !(cfg->lambda >= 0 && cfg->lambda <= 1)) {
        err_set(err, ERR_INPUT, "ppo: bad hyperparameters (episodes, epochs, minibatch >= 1; clip, lr > 0; "
                                "gamma, lambda in [0, 1])");
        return NULL;
    }
    PpoTrainer *t = calloc(1, sizeof *t);
    if (!t) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    t->policy = policy;
    t->env = env;
    t->corpus = corpus;
    t->cfg = *cfg;
    rng_seed(&t->rng, cfg->seed);
    t->n_params = policy_n_params(policy);
    t->m = calloc(t->n_params ? t->n_params : 1, sizeof(float));
    t->v = calloc(t->n_params ? t->n_params : 1, sizeof(float));
    t->cache = policy_cache_new();
    t->best_gain = -INFINITY;
    if (!t->m || !t->v || !t->cache) {
        ppo_free(t);
        err_set(err, ERR_RUNTIME, "out of memory");
        return NULL;
    }
    return t;
}

static void samples_clear(PpoTrainer *t) {
    for (int i = 0; i < t->n_samples; i++) {
        PpoSample *s = &t->samples[i];
        free(s->x);
        free(s->edge_src);
        free(s->edge_dst);
        free(s->actions);
    }
    t->n_samples = 0;
}

void ppo_free(PpoTrainer *t) {
    if (!t) return;
    samples_clear(t);
    free(t->samples);
    free(t->m);
    free(t->v);
    free(t->logits);
    free(t->dlogits);
    free(t->rew);
    free(t->val);
    free(t->adv);
    free(t->ret);
    free(t->done);
    free(t->order);
    policy_cache_free(t->cache);
    free(t);
}

int ppo_iterations_done(const PpoTrainer *t) { return t->iteration; }

static int ensure_logits(PpoTrainer *t, int n, Err *err) {
    if (n <= t->cap_logits) return 0;
    int cap = t->cap_logits ? t->cap_logits : 64;
    while (cap < n) cap *= 2;
    float *a = realloc(t->logits, sizeof(float) * (size_t)cap), *b = a ? realloc(t->dlogits, sizeof(float) * (size_t)cap) : NULL;
    if (a) t->logits = a;
    if (b) t->dlogits = b;
    if (!a || !b) return err_set(err, ERR_RUNTIME, "out of memory");
    t->cap_logits = cap;
    return 0;
}

/* appends a deep copy of obs to the buffer */
static PpoSample *push_sample(PpoTrainer *t, const PolicyObs *obs, int feat_dim, Err *err) {
    if (t->n_samples == t->cap_samples) {
        int cap = t->cap_samples ? 2 * t->cap_samples : 256;
        PpoSample *s = realloc(t->samples, sizeof *s * (size_t)cap);
        if (!s) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
        t->samples = s;
        t->cap_samples = cap;
    }
    PpoSample *s = &t->samples[t->n_samples];
    memset(s, 0, sizeof *s);
    size_t nx = (size_t)obs->n_nodes * (size_t)feat_dim, ne = (size_t)obs->n_edges, na = (size_t)obs->n_actions;
    s->x = malloc(sizeof(float) * (nx ? nx : 1));
    s->edge_src = malloc(sizeof(int) * (ne ? ne : 1));
    s->edge_dst = malloc(sizeof(int) * (ne ? ne : 1));
    s->actions = malloc(sizeof(PolicyAction) * (na ? na : 1));
    if (!s->x || !s->edge_src || !s->edge_dst || !s->actions) {
        free(s->x); free(s->edge_src); free(s->edge_dst); free(s->actions);
        err_set(err, ERR_RUNTIME, "out of memory");
        return NULL;
    }
    if (nx) memcpy(s->x, obs->x, sizeof(float) * nx);
    if (ne) {
        memcpy(s->edge_src, obs->edge_src, sizeof(int) * ne);
        memcpy(s->edge_dst, obs->edge_dst, sizeof(int) * ne);
    }
    if (na) memcpy(s->actions, obs->actions, sizeof(PolicyAction) * na);
    s->obs = *obs;
    s->obs.x = s->x;
    s->obs.edge_src = s->edge_src;
    s->obs.edge_dst = s->edge_dst;
    s->obs.actions = s->actions;
    t->n_samples++;
    return s;
}

/* training weights: half the episodes the default objective, half a uniform point of the
   simplex, so the policy has to read w */
static ObjectiveWeights draw_weights(Rng *r, bool *is_default) {
    *is_default = rng_uniform(r) < 0.5f;
    if (*is_default) return objective_default_weights();
    double w[3];
    ppo_dirichlet_ones(r, 3, w);
    return (ObjectiveWeights){w[0], w[1], w[2]};
}

/* one episode into the buffer; *ret_out = its return, *steps_out = env steps taken */
static int run_episode(PpoTrainer *t, double *ret_out, int *steps_out, bool *default_w, bool *feasible, Err *err) {
    int gi = (int)rng_below(&t->rng, (uint64_t)t->corpus->n);
    bool is_default;
    ObjectiveWeights w = draw_weights(&t->rng, &is_default);
    if (env_reset(t->env, t->corpus->graphs[gi], w, err)) {
        if (t->corpus->names && t->corpus->names[gi]) err_prefix(err, "%s", t->corpus->names[gi]);
        return -1;
    }
    int feat_dim = policy_config(t->policy)->feat_dim;
    double total = 0;
    int steps = 0;
    for (;;) {
        const PolicyObs *obs = env_observe(t->env);
        if (ensure_logits(t, obs->n_actions, err)) return -1;
        float value;
        if (policy_forward(t->policy, obs, t->cache, t->logits, &value, err)) return -1;
        int a = ppo_sample_categorical(&t->rng, t->logits, obs->n_actions);
        /* log-probability under the behaviour policy */
        double mx = t->logits[0], s = 0;
        for (int i = 1; i < obs->n_actions; i++) if (t->logits[i] > mx) mx = t->logits[i];
        for (int i = 0; i < obs->n_actions; i++) s += exp(t->logits[i] - mx);
        double logp = t->logits[a] - mx - log(s);
        PpoSample *smp = push_sample(t, obs, feat_dim, err);
        if (!smp) return -1;
        smp->action = a;
        smp->logp = (float)logp;
        smp->value = value;
        double r;
        bool done;
        if (env_step(t->env, a, &r, &done, err)) return -1;
        smp->reward = (float)r;
        smp->done = done;
        total += r;
        steps++;
        if (done) break;
    }
    *ret_out = total;
    *steps_out = steps;
    *default_w = is_default;
    *feasible = env_eval(t->env)->feasible;
    return 0;
}

/* Grows the per-sample arrays to n */
static int ensure_arrays(PpoTrainer *t, int n, Err *err) {
    float **fa[4] = {&t->rew, &t->val, &t->adv, &t->ret};
    for (int k = 0; k < 4; k++) {
        float *p = realloc(*fa[k], sizeof(float) * (size_t)n);
        if (!p) return err_set(err, ERR_RUNTIME, "out of memory");
        *fa[k] = p;
    }
    uint8_t *d = realloc(t->done, (size_t)n);
    if (!d) return err_set(err, ERR_RUNTIME, "out of memory");
    t->done = d;
    int *o = realloc(t->order, sizeof(int) * (size_t)n);
    if (!o) return err_set(err, ERR_RUNTIME, "out of memory");
    t->order = o;
    return 0;
}

int ppo_iteration(PpoTrainer *t, PpoIterStats *out, Err *err) {
    PpoIterStats st = {0};
    st.iteration = t->iteration + 1;
    double t0 = now_s();

    /* ---- rollouts ---- */
    samples_clear(t);
    double sum_ret = 0;
    for (int ep = 0; ep < t->cfg.episodes; ep++) {
        double ret;
        int steps;
        bool default_w, feasible;
        if (run_episode(t, &ret, &steps, &default_w, &feasible, err)) return -1;
        sum_ret += ret;
        st.env_steps += steps;
        /* best gain: comparable only under one objective, so the default weights' episodes;
           J is in log units, so a gain of 0.1 is about a 10% better weighted objective */
        if (default_w && feasible && ret > t->best_gain) t->best_gain = ret;
    }
    st.episodes = t->cfg.episodes;
    st.mean_return = sum_ret / t->cfg.episodes;
    double t1 = now_s();
    st.rollout_s = t1 - t0;

    /* ---- advantages ---- */
    int n = t->n_samples;
    if (ensure_arrays(t, n, err)) return -1;
    for (int i = 0; i < n; i++) {
        t->rew[i] = t->samples[i].reward;
        t->val[i] = t->samples[i].value;
        t->done[i] = t->samples[i].done;
    }
    ppo_gae(t->rew, t->val, t->done, n, t->cfg.gamma, t->cfg.lambda, t->adv, t->ret);
    ppo_normalize(t->adv, n);

    /* ---- updates ---- */
    PpoLossCoefs coefs = {.clip = t->cfg.clip, .vf_coef = t->cfg.vf_coef, .ent_coef = t->cfg.ent_coef};
    AdamParams adam = {.lr = t->cfg.lr, .beta1 = t->cfg.adam_beta1, .beta2 = t->cfg.adam_beta2, .eps = t->cfg.adam_eps};
    float *grads = policy_grads(t->policy), *params = policy_params(t->policy);
    double sum_pl = 0, sum_vl = 0, sum_ent = 0, sum_kl = 0, sum_gn = 0;
    long n_loss = 0, n_clipped = 0, n_mb = 0;
    for (int i = 0; i < n; i++) t->order[i] = i;
    for (int epoch = 0; epoch < t->cfg.epochs; epoch++) {
        /* Fisher-Yates with the trainer's rng: the order is part of the seed's determinism */
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rng_below(&t->rng, (uint64_t)i + 1);
            int tmp = t->order[i]; t->order[i] = t->order[j]; t->order[j] = tmp;
        }
        for (int b0 = 0; b0 < n; b0 += t->cfg.minibatch) {
            int bn = n - b0 < t->cfg.minibatch ? n - b0 : t->cfg.minibatch;
            policy_zero_grad(t->policy);
            for (int k = 0; k < bn; k++) {
                int i = t->order[b0 + k];
                PpoSample *s = &t->samples[i];
                if (ensure_logits(t, s->obs.n_actions, err)) return -1;
                float value, dvalue;
                if (policy_forward(t->policy, &s->obs, t->cache, t->logits, &value, err)) return -1;
                PpoSampleLoss l;
                if (ppo_sample_loss(t->logits, s->obs.n_actions, s->action, s->logp, t->adv[i], value, t->ret[i], &coefs,
                                    &l, t->dlogits, &dvalue))
                    return err_set(err, ERR_RUNTIME, "ppo: stored action out of range");
                /* the minibatch mean: each sample's gradient weighs 1/bn */
                for (int a = 0; a < s->obs.n_actions; a++) t->dlogits[a] /= (float)bn;
                policy_backward(t->policy, &s->obs, t->cache, t->dlogits, dvalue / (float)bn);
                sum_pl += l.policy_loss;
                sum_vl += l.value_loss;
                sum_ent += l.entropy;
                sum_kl += s->logp - l.logp;
                n_clipped += fabs(l.ratio - 1) > t->cfg.clip;
                n_loss++;
            }
            if (t->cfg.grad_reduce && t->cfg.grad_reduce(grads, t->n_params, t->cfg.reduce_ctx, err)) return -1;
            sum_gn += ppo_clip_grad_norm(grads, t->n_params, t->cfg.max_grad_norm);
            n_mb++;
            t->adam_t++;
            ppo_adam_step(params, grads, t->m, t->v, t->n_params, t->adam_t, &adam);
        }
    }
    if (n_loss) {
        st.policy_loss = sum_pl / n_loss;
        st.value_loss = sum_vl / n_loss;
        st.entropy = sum_ent / n_loss;
        st.approx_kl = sum_kl / n_loss;
        st.clip_frac = (double)n_clipped / n_loss;
    }
    if (n_mb) st.grad_norm = sum_gn / n_mb;
    st.update_s = now_s() - t1;
    st.best_gain = isfinite(t->best_gain) ? t->best_gain : 0;
    t->iteration++;
    if (out) *out = st;
    return 0;
}

int ppo_rollout_best(Policy *policy, Env *env, const Graph *start, ObjectiveWeights w, bool greedy, uint64_t seed,
                     Graph **out, EnvEval *out_eval, Err *err) {
    *out = NULL;
    PolicyCache *cache = policy_cache_new();
    float *logits = NULL;
    int cap = 0, rc = -1;
    Rng rng;
    rng_seed(&rng, seed);
    if (!cache) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (env_reset(env, start, w, err)) goto done;
    for (;;) {
        const PolicyObs *obs = env_observe(env);
        if (obs->n_actions > cap) {
            cap = obs->n_actions;
            float *l = realloc(logits, sizeof(float) * (size_t)cap);
            if (!l) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
            logits = l;
        }
        float value;
        if (policy_forward(policy, obs, cache, logits, &value, err)) goto done;
        int a = greedy ? ppo_argmax(logits, obs->n_actions) : ppo_sample_categorical(&rng, logits, obs->n_actions);
        double r;
        bool fin;
        if (env_step(env, a, &r, &fin, err)) goto done;
        if (fin) break;
    }
    *out = graph_clone(env_graph(env), err);
    if (!*out) goto done;
    if (out_eval) *out_eval = *env_eval(env);
    rc = 0;
done:
    free(logits);
    policy_cache_free(cache);
    return rc;
}
