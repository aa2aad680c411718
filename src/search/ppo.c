/* ppo.c - PPO training of the policy on the env (see ppo.h): rollout streams that copy each
 * observation, GAE, minibatch epochs of the clipped surrogate with Adam (the gradient averaged
 * over streams, locally or through PpoComm), and single-episode inference (ppo_rollout_best).
 * The math lives in ppo_math.c, checkpoints in ppo_ckpt.c, MPI in dist.c. */
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
                       .epochs = 4, .minibatch = 64, .seed = 1, .virtual_ranks = 1};
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

uint64_t ppo_stream_seed(uint64_t seed, int g) {
    if (g == 0) return seed; /* K = 1 is exactly the single-stream trainer */
    /* a bijective mix of (seed, g): distinct streams get unrelated splitmix64 seeds, not seeds
       one splitmix increment apart (which would make their states overlap) */
    uint64_t x = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)g);
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    return x ^ (x >> 33);
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
    const PpoComm *comm = cfg->comm;
    if (comm && (comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size || !comm->allgather)) {
        err_set(err, ERR_INPUT, "ppo: bad communicator (rank %d of %d)", comm->rank, comm->size);
        return NULL;
    }
    int v = cfg->virtual_ranks < 1 ? 1 : cfg->virtual_ranks, procs = comm ? comm->size : 1;
    if (v > 4096 || procs > 65536 || (long)v * procs > 65536) {
        err_set(err, ERR_INPUT, "ppo: %d processes x %d virtual ranks: too many rollout streams", procs, v);
        return NULL;
    }
    PpoTrainer *t = calloc(1, sizeof *t);
    if (!t) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    t->policy = policy;
    t->env = env;
    t->corpus = corpus;
    t->cfg = *cfg;
    t->cfg.virtual_ranks = v;
    t->n_local = v;
    t->n_streams = v * procs;
    t->first_stream = comm ? comm->rank * v : 0;
    t->n_params = policy_n_params(policy);
    size_t stride = t->n_params + 1;
    t->m = calloc(t->n_params ? t->n_params : 1, sizeof(float));
    t->v = calloc(t->n_params ? t->n_params : 1, sizeof(float));
    t->streams = calloc((size_t)t->n_local, sizeof *t->streams);
    t->all_rng = calloc((size_t)t->n_streams, sizeof *t->all_rng);
    t->grad_local = calloc(stride * (size_t)t->n_local, sizeof(float));
    /* one process: the gathered gradients are the local ones */
    t->grad_all = comm ? calloc(stride * (size_t)t->n_streams, sizeof(float)) : t->grad_local;
    t->cache = policy_cache_new();
    t->best_gain = -INFINITY;
    if (!t->m || !t->v || !t->streams || !t->all_rng || !t->grad_local || !t->grad_all || !t->cache) {
        ppo_free(t);
        err_set(err, ERR_RUNTIME, "out of memory");
        return NULL;
    }
    for (int g = 0; g < t->n_streams; g++) rng_seed(&t->all_rng[g], ppo_stream_seed(cfg->seed, g));
    for (int j = 0; j < t->n_local; j++) {
        t->streams[j].id = t->first_stream + j;
        t->streams[j].rng = t->all_rng[t->first_stream + j];
    }
    return t;
}

static void samples_clear(PpoStream *s) {
    for (int i = 0; i < s->n_samples; i++) {
        PpoSample *p = &s->samples[i];
        free(p->x);
        free(p->edge_src);
        free(p->edge_dst);
        free(p->actions);
    }
    s->n_samples = 0;
}

void ppo_free(PpoTrainer *t) {
    if (!t) return;
    for (int j = 0; t->streams && j < t->n_local; j++) {
        PpoStream *s = &t->streams[j];
        samples_clear(s);
        free(s->samples);
        free(s->rew);
        free(s->val);
        free(s->adv);
        free(s->ret);
        free(s->done);
        free(s->order);
    }
    free(t->streams);
    free(t->all_rng);
    if (t->grad_all != t->grad_local) free(t->grad_all);
    free(t->grad_local);
    free(t->m);
    free(t->v);
    free(t->logits);
    free(t->dlogits);
    policy_cache_free(t->cache);
    free(t);
}

int ppo_iterations_done(const PpoTrainer *t) { return t->iteration; }

int ppo_streams(const PpoTrainer *t) { return t->n_streams; }

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

/* appends a deep copy of obs to the stream's buffer */
static PpoSample *push_sample(PpoStream *st, const PolicyObs *obs, int feat_dim, Err *err) {
    if (st->n_samples == st->cap_samples) {
        int cap = st->cap_samples ? 2 * st->cap_samples : 256;
        PpoSample *s = realloc(st->samples, sizeof *s * (size_t)cap);
        if (!s) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
        st->samples = s;
        st->cap_samples = cap;
    }
    PpoSample *s = &st->samples[st->n_samples];
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
    st->n_samples++;
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

/* one episode of stream st into its buffer; *ret_out = its return, *steps_out = env steps taken */
static int run_episode(PpoTrainer *t, PpoStream *st, double *ret_out, int *steps_out, bool *default_w, bool *feasible,
                       Err *err) {
    int gi = (int)rng_below(&st->rng, (uint64_t)t->corpus->n);
    bool is_default;
    ObjectiveWeights w = draw_weights(&st->rng, &is_default);
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
        int a = ppo_sample_categorical(&st->rng, t->logits, obs->n_actions);
        /* log-probability under the behaviour policy */
        double mx = t->logits[0], s = 0;
        for (int i = 1; i < obs->n_actions; i++) if (t->logits[i] > mx) mx = t->logits[i];
        for (int i = 0; i < obs->n_actions; i++) s += exp(t->logits[i] - mx);
        double logp = t->logits[a] - mx - log(s);
        PpoSample *smp = push_sample(st, obs, feat_dim, err);
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

/* Grows the stream's per-sample arrays to n */
static int ensure_arrays(PpoStream *s, int n, Err *err) {
    float **fa[4] = {&s->rew, &s->val, &s->adv, &s->ret};
    size_t cnt = n ? (size_t)n : 1;
    for (int k = 0; k < 4; k++) {
        float *p = realloc(*fa[k], sizeof(float) * cnt);
        if (!p) return err_set(err, ERR_RUNTIME, "out of memory");
        *fa[k] = p;
    }
    uint8_t *d = realloc(s->done, cnt);
    if (!d) return err_set(err, ERR_RUNTIME, "out of memory");
    s->done = d;
    int *o = realloc(s->order, sizeof(int) * cnt);
    if (!o) return err_set(err, ERR_RUNTIME, "out of memory");
    s->order = o;
    return 0;
}

/* Every stream's record of `bytes` (the n_local local ones in `local`) into `all`, in stream
   order: the all-gather of the communicator, or a copy for one process. */
static int gather_streams(PpoTrainer *t, const void *local, void *all, size_t bytes, Err *err) {
    size_t b = bytes * (size_t)t->n_local;
    if (!t->cfg.comm) {
        if (all != local) memcpy(all, local, b);
        return 0;
    }
    if (t->cfg.comm->allgather(t->cfg.comm->ctx, local, all, b, err)) return err_prefix(err, "ppo: all-gather");
    return 0;
}

/* out = mean over the streams whose flag (element n of each stride n + 1) is set, summed in
   stream order starting from the first such stream; the same arithmetic in every mode */
static void average_streams(const float *all, int k, size_t n, float *out) {
    size_t stride = n + 1;
    float count = 0;
    for (int g = 0; g < k; g++) {
        const float *x = all + (size_t)g * stride;
        if (x[n] == 0) continue;
        if (count == 0) memcpy(out, x, sizeof(float) * n);
        else for (size_t i = 0; i < n; i++) out[i] += x[i];
        count += 1;
    }
    if (count == 0) { memset(out, 0, sizeof(float) * n); return; }
    for (size_t i = 0; i < n; i++) out[i] /= count;
}

/* what a stream reports after its rollouts and after the updates (8-byte fields only, so the
   records have no padding and gather as plain bytes between processes of one architecture) */
typedef struct RolloutRec { double n_samples, env_steps, sum_ret, best_ret, seconds; } RolloutRec;
typedef struct UpdateRec {
    double sum_pl, sum_vl, sum_ent, sum_kl, n_clipped, n_loss, seconds;
    uint64_t rng[4];
} UpdateRec;

int ppo_iteration(PpoTrainer *t, PpoIterStats *out, Err *err) {
    PpoIterStats st = {0};
    st.iteration = t->iteration + 1;
    int nl = t->n_local, k = t->n_streams;
    RolloutRec *rr = calloc((size_t)(nl + k), sizeof *rr), *rr_all = rr + nl;
    UpdateRec *ur = calloc((size_t)(nl + k), sizeof *ur), *ur_all = ur + nl;
    int rc = -1;
    if (!rr || !ur) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    double t0 = now_s();

    /* ---- rollouts, stream by stream ---- */
    for (int j = 0; j < nl; j++) {
        PpoStream *s = &t->streams[j];
        samples_clear(s);
        double sum_ret = 0, best = -INFINITY;
        int env_steps = 0;
        for (int ep = 0; ep < t->cfg.episodes; ep++) {
            double ret;
            int steps;
            bool default_w, feasible;
            if (run_episode(t, s, &ret, &steps, &default_w, &feasible, err)) goto done;
            sum_ret += ret;
            env_steps += steps;
            /* best gain: comparable only under one objective, so the default weights' episodes;
               J is in log units, so a gain of 0.1 is about a 10% better weighted objective */
            if (default_w && feasible && ret > best) best = ret;
        }
        rr[j] = (RolloutRec){s->n_samples, env_steps, sum_ret, best, 0};
    }
    double t1 = now_s();
    for (int j = 0; j < nl; j++) rr[j].seconds = t1 - t0; /* this process's rollout time */
    if (gather_streams(t, rr, rr_all, sizeof *rr, err)) goto done;
    double sum_ret = 0, n_max = 0;
    for (int g = 0; g < k; g++) {
        sum_ret = g ? sum_ret + rr_all[g].sum_ret : rr_all[g].sum_ret;
        st.env_steps += (int)rr_all[g].env_steps;
        if (rr_all[g].best_ret > t->best_gain) t->best_gain = rr_all[g].best_ret;
        if (rr_all[g].n_samples > n_max) n_max = rr_all[g].n_samples;
        if (rr_all[g].seconds > st.rollout_s) st.rollout_s = rr_all[g].seconds; /* the slowest process */
    }
    st.episodes = t->cfg.episodes * k;
    st.mean_return = sum_ret / st.episodes;

    /* ---- advantages, per stream ---- */
    for (int j = 0; j < nl; j++) {
        PpoStream *s = &t->streams[j];
        int n = s->n_samples;
        if (ensure_arrays(s, n, err)) goto done;
        for (int i = 0; i < n; i++) {
            s->rew[i] = s->samples[i].reward;
            s->val[i] = s->samples[i].value;
            s->done[i] = s->samples[i].done;
        }
        ppo_gae(s->rew, s->val, s->done, n, t->cfg.gamma, t->cfg.lambda, s->adv, s->ret);
        ppo_normalize(s->adv, n);
        for (int i = 0; i < n; i++) s->order[i] = i;
    }

    /* ---- updates: M common minibatch steps per epoch (ppo.h) ---- */
    PpoLossCoefs coefs = {.clip = t->cfg.clip, .vf_coef = t->cfg.vf_coef, .ent_coef = t->cfg.ent_coef};
    AdamParams adam = {.lr = t->cfg.lr, .beta1 = t->cfg.adam_beta1, .beta2 = t->cfg.adam_beta2, .eps = t->cfg.adam_eps};
    float *grads = policy_grads(t->policy), *params = policy_params(t->policy);
    size_t np = t->n_params, stride = np + 1;
    int64_t mb = t->cfg.minibatch, nmax = (int64_t)n_max;
    int n_updates = nmax > 0 ? (int)((nmax + mb - 1) / mb) : 0;
    double sum_gn = 0;
    long n_mb = 0;
    for (int epoch = 0; epoch < t->cfg.epochs; epoch++) {
        /* Fisher-Yates with each stream's rng: the order is part of the seed's determinism */
        for (int j = 0; j < nl; j++) {
            PpoStream *s = &t->streams[j];
            for (int i = s->n_samples - 1; i > 0; i--) {
                int r = (int)rng_below(&s->rng, (uint64_t)i + 1);
                int tmp = s->order[i]; s->order[i] = s->order[r]; s->order[r] = tmp;
            }
        }
        for (int b = 0; b < n_updates; b++) {
            for (int j = 0; j < nl; j++) {
                PpoStream *s = &t->streams[j];
                UpdateRec *u = &ur[j];
                /* this stream's chunk: proportional to its share of samples; the longest stream
                   uses exactly `minibatch`, so K = 1 is the plain trainer */
                int64_t chunk = (mb * s->n_samples + nmax - 1) / nmax;
                int64_t lo = (int64_t)b * chunk, hi = lo + chunk < s->n_samples ? lo + chunk : s->n_samples;
                int bn = hi > lo ? (int)(hi - lo) : 0;
                policy_zero_grad(t->policy);
                for (int q = 0; q < bn; q++) {
                    int i = s->order[lo + q];
                    PpoSample *smp = &s->samples[i];
                    if (ensure_logits(t, smp->obs.n_actions, err)) goto done;
                    float value, dvalue;
                    if (policy_forward(t->policy, &smp->obs, t->cache, t->logits, &value, err)) goto done;
                    PpoSampleLoss l;
                    if (ppo_sample_loss(t->logits, smp->obs.n_actions, smp->action, smp->logp, s->adv[i], value, s->ret[i],
                                        &coefs, &l, t->dlogits, &dvalue)) {
                        err_set(err, ERR_RUNTIME, "ppo: stored action out of range");
                        goto done;
                    }
                    /* the minibatch mean: each sample's gradient weighs 1/bn */
                    for (int a = 0; a < smp->obs.n_actions; a++) t->dlogits[a] /= (float)bn;
                    policy_backward(t->policy, &smp->obs, t->cache, t->dlogits, dvalue / (float)bn);
                    u->sum_pl += l.policy_loss;
                    u->sum_vl += l.value_loss;
                    u->sum_ent += l.entropy;
                    u->sum_kl += smp->logp - l.logp;
                    u->n_clipped += fabs(l.ratio - 1) > t->cfg.clip;
                    u->n_loss += 1;
                }
                float *mine = t->grad_local + (size_t)j * stride;
                memcpy(mine, grads, sizeof(float) * np);
                mine[np] = bn > 0;
            }
            if (gather_streams(t, t->grad_local, t->grad_all, sizeof(float) * stride, err)) goto done;
            average_streams(t->grad_all, k, np, grads);
            if (t->cfg.grad_reduce && t->cfg.grad_reduce(grads, np, t->cfg.reduce_ctx, err)) goto done;
            sum_gn += ppo_clip_grad_norm(grads, np, t->cfg.max_grad_norm);
            n_mb++;
            t->adam_t++;
            ppo_adam_step(params, grads, t->m, t->v, np, t->adam_t, &adam);
        }
    }
    double t2 = now_s();
    for (int j = 0; j < nl; j++) {
        ur[j].seconds = t2 - t1;
        memcpy(ur[j].rng, t->streams[j].rng.s, sizeof ur[j].rng);
    }
    if (gather_streams(t, ur, ur_all, sizeof *ur, err)) goto done;
    UpdateRec tot = ur_all[0];
    for (int g = 1; g < k; g++) {
        const UpdateRec *u = &ur_all[g];
        tot.sum_pl += u->sum_pl;
        tot.sum_vl += u->sum_vl;
        tot.sum_ent += u->sum_ent;
        tot.sum_kl += u->sum_kl;
        tot.n_clipped += u->n_clipped;
        tot.n_loss += u->n_loss;
        if (u->seconds > tot.seconds) tot.seconds = u->seconds;
    }
    for (int g = 0; g < k; g++) memcpy(t->all_rng[g].s, ur_all[g].rng, sizeof ur_all[g].rng);
    if (tot.n_loss > 0) {
        st.policy_loss = tot.sum_pl / tot.n_loss;
        st.value_loss = tot.sum_vl / tot.n_loss;
        st.entropy = tot.sum_ent / tot.n_loss;
        st.approx_kl = tot.sum_kl / tot.n_loss;
        st.clip_frac = tot.n_clipped / tot.n_loss;
    }
    if (n_mb) st.grad_norm = sum_gn / n_mb;
    st.update_s = tot.seconds;
    st.best_gain = isfinite(t->best_gain) ? t->best_gain : 0;
    t->iteration++;
    if (out) *out = st;
    rc = 0;
done:
    free(rr);
    free(ur);
    return rc;
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
