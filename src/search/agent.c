/* agent.c - optimizing one graph with a trained policy (see agent.h). */
#include "agent.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ppo_math.h"

AgentOpts agent_opts_default(void) {
    return (AgentOpts){.episodes = 16, .tune_episodes = 0, .env = env_config_default(), .ppo = ppo_config_default()};
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct Candidate {
    Graph *g;
    double estimate; /* cost-model J */
    uint64_t hash;
    RewriteLog log;
} Candidate;

/* a structural fingerprint: op names and node names in order, with inputs; two episodes that
   reach the same graph by different orders of independent rewrites agree on it */
static uint64_t graph_hash(const Graph *g) {
    uint64_t h = 14695981039346656037ull, sum = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        uint64_t x = h;
        for (const char *s = n->name; *s; s++) x = (x ^ (uint8_t)*s) * 1099511628211ull;
        for (const char *s = n->op_name; *s; s++) x = (x ^ (uint8_t)*s) * 1099511628211ull;
        x = (x ^ (uint64_t)n->n_inputs) * 1099511628211ull;
        sum += x;
    }
    return sum ^ (uint64_t)g->n_nodes;
}

/* One episode; the best feasible state on the way (by estimated J) goes to *cand. */
static int rollout(Policy *p, PolicyCache *pc, Env *env, const Graph *start, ObjectiveWeights w, bool greedy, Rng *r,
                   Candidate *cand, int *steps, Err *err) {
    if (env_reset(env, start, w, err)) return -1;
    float *logits = NULL;
    int cap = 0, rc = -1;
    RewriteLog log = {0};
    double best = env_eval(env)->objective;
    cand->g = NULL;
    cand->estimate = best;
    for (bool done = false; !done;) {
        const PolicyObs *o = env_observe(env);
        if (o->n_actions > cap) {
            float *v = realloc(logits, sizeof(float) * (size_t)o->n_actions);
            if (!v) { err_set(err, ERR_RUNTIME, "out of memory"); goto out; }
            logits = v;
            cap = o->n_actions;
        }
        float value;
        if (policy_forward(p, o, pc, logits, &value, err)) goto out;
        int a = greedy ? ppo_argmax(logits, o->n_actions) : ppo_sample_categorical(r, logits, o->n_actions);
        if (env_action_is_stop(env, a)) break;
        const char *name = env_action_name(env, a); /* a registry string: outlives the step */
        double reward;
        if (env_step(env, a, &reward, &done, err)) goto out;
        rewrite_log_add(&log, name);
        (*steps)++;
        const EnvEval *ev = env_eval(env);
        if (ev->feasible && ev->objective < best) {
            Graph *c = graph_clone(env_graph(env), err);
            if (!c) goto out;
            graph_free(cand->g);
            cand->g = c;
            cand->estimate = best = ev->objective;
            cand->log = log;
        }
    }
    rc = 0;
out:
    free(logits);
    return rc;
}

static int cmp_candidate(const void *a, const void *b) {
    const Candidate *x = a, *y = b;
    return x->estimate < y->estimate ? -1 : x->estimate > y->estimate;
}

int search_ppo(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm, const AgentOpts *ao,
               Graph **best, Evaluation *best_eval, RewriteLog *log, AgentStats *stats, Err *err) {
    memset(stats, 0, sizeof *stats);
    EnvConfig ec = ao->env;
    ec.required_flags = o->required_flags;
    ec.allow_precision = o->allow_precision;
    ec.budget = ctx->budget;
    ec.threads = ctx->threads;
    /* a large graph needs more rewrites than the training graphs did (ResNet-50: ~170 for
       folding and fusing alone): the step limit grows with the graph */
    int ops = 0;
    for (int i = 0; i < start->n_nodes; i++) ops += start->nodes[i]->op != OP_CONST;
    if (ec.max_steps < ops) ec.max_steps = ops;
    Env *env = env_new(&ec, cm, policy, err);
    if (!env) return -1;
    PolicyCache *pc = policy_cache_new();
    int n_ep = ao->episodes > 0 ? ao->episodes : 1, n_cand = 0, rc = -1;
    Candidate *cand = calloc((size_t)n_ep, sizeof *cand);
    Graph *cur = NULL;
    if (!pc || !cand) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }

    if (ao->tune_episodes > 0) {
        double t0 = now_s();
        Graph *one[1] = {(Graph *)start};
        char *names[1] = {"target"};
        PpoCorpus corpus = {1, one, names};
        PpoConfig pcfg = ao->ppo;
        pcfg.seed = o->seed ? o->seed : 1;
        PpoTrainer *t = ppo_new(policy, env, &corpus, &pcfg, err);
        if (!t) goto done;
        int iters = (ao->tune_episodes + pcfg.episodes - 1) / pcfg.episodes;
        for (int i = 0; i < iters; i++) {
            PpoIterStats st;
            if (ppo_iteration(t, &st, err)) { ppo_free(t); goto done; }
            stats->env_steps += st.env_steps;
        }
        ppo_free(t);
        stats->tune_s = now_s() - t0;
    }

    double t0 = now_s();
    Rng r;
    rng_seed(&r, o->seed ? o->seed : 1);
    double start_j = 0;
    for (int ep = 0; ep < n_ep; ep++) {
        Candidate c = {0};
        if (rollout(policy, pc, env, start, ctx->w, ep == 0, &r, &c, &stats->env_steps, err)) { graph_free(c.g); goto done; }
        if (ep == 0) start_j = env_start_eval(env)->objective;
        stats->episodes++;
        if (!c.g) continue;
        c.hash = graph_hash(c.g);
        bool dup = false;
        for (int k = 0; k < n_cand && !dup; k++) dup = cand[k].hash == c.hash && cand[k].g->n_nodes == c.g->n_nodes;
        if (dup) { graph_free(c.g); continue; }
        cand[n_cand++] = c;
    }
    stats->rollout_s = now_s() - t0;
    stats->candidates = n_cand;
    qsort(cand, (size_t)n_cand, sizeof *cand, cmp_candidate);
    if (n_cand) stats->best_estimate_gain = start_j - cand[0].estimate;

    /* measure: the start graph first (it is the fallback), then candidates best-first */
    cur = graph_clone(start, err);
    if (!cur) goto done;
    Evaluation cur_eval;
    if (objective_evaluate(ctx, cur, &cur_eval, err)) goto done;
    RewriteLog cur_log = {0};
    for (int k = 0; k < n_cand && ctx->evaluations < o->budget; k++) {
        Evaluation ev, ref_ev;
        /* paired with the incumbent: the decision is a side-by-side comparison */
        if (objective_evaluate_pair(ctx, cur, &cur_eval.acc, cand[k].g, &ref_ev, &ev, err)) goto done;
        stats->evaluated++;
        if (ev.feasible && ev.objective < ref_ev.objective) {
            graph_free(cur);
            cur = cand[k].g;
            cand[k].g = NULL;
            cur_eval = ev;
            cur_log = cand[k].log;
        }
    }
    *best = cur;
    cur = NULL;
    *best_eval = cur_eval;
    if (log) *log = cur_log;
    rc = 0;
done:
    graph_free(cur);
    if (cand)
        for (int k = 0; k < n_cand; k++) graph_free(cand[k].g);
    free(cand);
    policy_cache_free(pc);
    env_free(env);
    return rc;
}
