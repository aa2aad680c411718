/* env.c - the optimization MDP (see env.h): legal actions, steps, rewards from the cost model
 * and measured accuracy, observations for the policy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/hash.h"
#include "env_internal.h"

#define ENV_MAX_ACTIONS 4096 /* a bound on one state's action list (ResNet-50 has ~600) */
#define ACC_SEED 7000        /* accuracy batches: disjoint from calibration (1..) and evaluation (1000..) */

typedef struct AccEntry { const Graph *src; uint64_t version, sig; AccuracyResult acc; } AccEntry;

/* a start graph's accuracy inputs and reference outputs: a training corpus cycles through a
   few graphs, so they are kept per graph rather than recomputed at every episode */
#define ENV_MAX_STARTS 64
typedef struct StartRef {
    const Graph *src;
    uint64_t version;
    int n_outputs;
    InputSet in;
    Tensor *out;
} StartRef;

struct Env {
    EnvConfig cfg;
    LoadThreads acc_threads; /* accuracy runs' threads on a busy machine (measure.h) */
    CostModel *cm;
    const RuleDef *const *rules;
    int n_rules;
    int *rule_to_policy; /* registry index -> policy rule index, -1 = not offered */
    int stop_index;      /* the policy's STOP index */
    ObjectiveWeights w;  /* normalized */

    Graph *start, *cur;
    const Graph *start_src; /* the caller's start graph and its version: accuracy cache identity */
    uint64_t start_version;
    EnvEval start_eval, eval;
    double best_j; /* the lowest J of the episode so far */
    int steps;
    uint64_t start_sig;
    uint64_t state_hash; /* structural hash of cur (peek memo key), set by observe */

    /* accuracy: per start graph its inputs and outputs (computed on first need), results cache */
    StartRef refs[ENV_MAX_STARTS];
    int n_refs;
    AccEntry *acc_cache;
    int n_acc, cap_acc, acc_measured, acc_cached;
    double acc_s; /* seconds spent measuring accuracy (reference outputs included) */

    /* the current observation */
    double *node_ms;
    int cap_ms;
    FeatureBuf fb;
    PolicyAction *actions;
    const RuleDef **act_rule;
    Site *act_site;
    int n_act, cap_act;
    PolicyObs obs;
    SiteList sl;
};

EnvConfig env_config_default(void) {
    return (EnvConfig){.max_steps = 48, .required_flags = 0, .allow_precision = true, .budget = {0.99, 0.99},
                       .infeasible_penalty = 1.0, .acc_batches = 2, .threads = 0};
}

Policy *env_policy_new(const PolicyConfig *cfg, uint64_t seed, Err *err) {
    int n_rules;
    const RuleDef *const *rules = rules_all(&n_rules);
    if (n_rules > POLICY_MAX_RULES) { err_set(err, ERR_RUNTIME, "more rules than a policy holds"); return NULL; }
    const char *names[POLICY_MAX_RULES];
    for (int i = 0; i < n_rules; i++) names[i] = rules[i]->name;
    PolicyConfig c = policy_config_default(features_dim(), FEATURES_VERSION, n_rules);
    if (cfg) {
        c = *cfg;
        c.feat_dim = features_dim();
        c.features_version = FEATURES_VERSION;
        c.n_rules = n_rules;
    }
    Policy *p = policy_new(&c, names, seed, err);
    const char *ops[OP_COUNT];
    for (int i = 0; i < OP_COUNT; i++) ops[i] = op_def(i)->tf_name;
    if (p && policy_set_op_layout(p, ops, OP_COUNT, err)) {
        policy_free(p);
        return NULL;
    }
    return p;
}

/* op_col[op id] = the policy's one-hot column for that op (-1: none); NULL on error */
static int *policy_op_columns(const Policy *p, int *n_cols, Err *err) {
    const PolicyConfig *c = policy_config(p);
    int n = 0;
    const char *const *names = policy_op_layout(p, &n);
    if (c->features_version != FEATURES_VERSION) {
        err_set(err, ERR_INPUT, "the policy was made by another build: features version %d, this build's is %d (retrain it)",
                c->features_version, FEATURES_VERSION);
        return NULL;
    }
    if (!names && c->feat_dim != features_dim()) {
        err_set(err, ERR_INPUT,
                "the policy was made by another build: %d features per node, this build has %d, and its file (format 1) "
                "does not name its op columns (retrain it)",
                c->feat_dim, features_dim());
        return NULL;
    }
    if (!names) n = OP_COUNT;
    if (c->feat_dim - n != features_numeric_dim()) {
        err_set(err, ERR_INPUT, "the policy was made by another build: %d numeric features per node, this build has %d (retrain it)",
                c->feat_dim - n, features_numeric_dim());
        return NULL;
    }
    int *col = malloc(sizeof *col * (OP_COUNT + 1));
    if (!col) {
        err_set(err, ERR_RUNTIME, "out of memory");
        return NULL;
    }
    for (int i = 0; i < OP_COUNT; i++) {
        col[i] = names ? -1 : i;
        for (int k = 0; names && k < n; k++)
            if (!strcmp(names[k], op_def(i)->tf_name)) { col[i] = k; break; }
    }
    *n_cols = n;
    return col;
}

int env_policy_check(const Policy *p, Err *err) {
    int n;
    int *col = policy_op_columns(p, &n, err);
    free(col);
    return col ? 0 : -1;
}

Env *env_new(const EnvConfig *cfg, CostModel *cm, const Policy *policy, Err *err) {
    Env *e = calloc(1, sizeof *e);
    if (!e) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    e->cfg = *cfg;
    if (e->cfg.max_steps <= 0) e->cfg.max_steps = 48;
    if (e->cfg.acc_batches <= 0) e->cfg.acc_batches = 2;
    e->cm = cm;
    e->rules = rules_all(&e->n_rules);
    e->rule_to_policy = malloc(sizeof(int) * (size_t)(e->n_rules + 1));
    if (!e->rule_to_policy) { free(e); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    for (int i = 0; i < e->n_rules; i++) {
        const RuleDef *r = e->rules[i];
        bool ok = (r->flags & cfg->required_flags) == cfg->required_flags && (cfg->allow_precision || !(r->flags & RULE_PRECISION));
        e->rule_to_policy[i] = !ok ? -1 : policy ? policy_rule_index(policy, r->name) : i;
    }
    e->stop_index = policy ? policy_config(policy)->n_rules : e->n_rules;
    if (policy) {
        /* the policy's feature layout: its width, its one-hot columns matched by op name */
        if (!(e->fb.op_col = policy_op_columns(policy, &e->fb.n_cols, err))) {
            free(e->rule_to_policy);
            free(e);
            return NULL;
        }
        e->fb.dim = policy_config(policy)->feat_dim;
    }
    return e;
}

static void start_ref_free(StartRef *r) {
    accuracy_reference_free(r->out, r->in.n_batches, r->n_outputs);
    inputs_free(&r->in);
    memset(r, 0, sizeof *r);
}

/* the entry of the current start graph, computing it (and evicting the oldest) if needed */
static StartRef *start_ref(Env *e, Err *err) {
    for (int i = 0; i < e->n_refs; i++)
        if (e->refs[i].src == e->start_src && e->refs[i].version == e->start_version) return &e->refs[i];
    if (e->n_refs == ENV_MAX_STARTS) {
        start_ref_free(&e->refs[0]);
        memmove(&e->refs[0], &e->refs[1], sizeof e->refs[0] * (ENV_MAX_STARTS - 1));
        memset(&e->refs[ENV_MAX_STARTS - 1], 0, sizeof e->refs[0]);
        e->n_refs--;
    }
    StartRef *r = &e->refs[e->n_refs];
    r->src = e->start_src;
    r->version = e->start_version;
    r->n_outputs = e->start_src->n_outputs;
    if (inputs_generate(e->start_src, e->cfg.acc_batches, ACC_SEED, &r->in, err)) { memset(r, 0, sizeof *r); return NULL; }
    if (accuracy_reference(e->start, &r->in, load_threads_now(&e->acc_threads, e->cfg.threads), &r->out, err)) { start_ref_free(r); return NULL; }
    e->n_refs++;
    return r;
}

void env_free(Env *e) {
    if (!e) return;
    for (int i = 0; i < e->n_refs; i++) start_ref_free(&e->refs[i]);
    graph_free(e->start);
    graph_free(e->cur);
    free(e->acc_cache);
    free(e->node_ms);
    features_free(&e->fb);
    free(e->actions);
    free(e->act_rule);
    free(e->act_site);
    sitelist_free(&e->sl);
    free(e->rule_to_policy);
    free(e);
}


static uint64_t precision_signature(const Graph *g) { return objective_precision_signature(g); }

static bool acc_cached(const Env *e, const Graph *g, uint64_t sig) {
    if (e->cfg.accuracy_ctx) return objective_accuracy_known(e->cfg.accuracy_ctx, g);
    for (int i = 0; i < e->n_acc; i++)
        if (e->acc_cache[i].sig == sig && e->acc_cache[i].src == e->start_src && e->acc_cache[i].version == e->start_version) return true;
    return false;
}

/* the env's own cache (no accuracy_ctx) by signature */
static bool acc_lookup(Env *e, uint64_t sig, AccuracyResult *acc) {
    for (int i = 0; i < e->n_acc; i++)
        if (e->acc_cache[i].sig == sig && e->acc_cache[i].src == e->start_src && e->acc_cache[i].version == e->start_version) {
            *acc = e->acc_cache[i].acc;
            e->acc_cached++;
            return true;
        }
    return false;
}

static int measure_accuracy(Env *e, const Graph *g, uint64_t sig, AccuracyResult *acc, Err *err) {
    for (int i = 0; i < e->n_acc; i++)
        if (e->acc_cache[i].sig == sig && e->acc_cache[i].src == e->start_src && e->acc_cache[i].version == e->start_version) { *acc = e->acc_cache[i].acc; e->acc_cached++; return 0; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (e->cfg.accuracy_ctx) {
        EvalContext *ctx = e->cfg.accuracy_ctx;
        int hits = ctx->times.accuracy_hits;
        if (objective_accuracy(ctx, g, acc, err)) return -1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        e->acc_s += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (ctx->times.accuracy_hits > hits) e->acc_cached++;
        else e->acc_measured++;
        return 0;
    }
    StartRef *ref = start_ref(e, err);
    if (!ref) return -1;
    if (accuracy_against(e->start, ref->out, g, &ref->in, load_threads_now(&e->acc_threads, e->cfg.threads), acc, err)) return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    e->acc_s += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    e->acc_measured++;
    if (e->n_acc == e->cap_acc) {
        int nc = e->cap_acc ? 2 * e->cap_acc : 16;
        AccEntry *v = realloc(e->acc_cache, (size_t)nc * sizeof *v);
        if (!v) return err_set(err, ERR_RUNTIME, "out of memory");
        e->acc_cache = v;
        e->cap_acc = nc;
    }
    e->acc_cache[e->n_acc++] = (AccEntry){e->start_src, e->start_version, sig, *acc};
    return 0;
}

static void objective_of(const Env *e, EnvEval *ev) {
    ev->objective = e->w.w_lat * log(ev->latency_ms) + e->w.w_mem * log(ev->peak_bytes / (1024.0 * 1024.0)) +
                    e->w.w_acc * ev->accuracy_drop + (ev->feasible ? 0 : e->cfg.infeasible_penalty);
}

/* Accuracy of ev's graph g: exact when only exact rewrites were applied since the start, from
   the cache, or measured - but only when the state could become the episode's best: its J with
   no accuracy charge (a lower bound) must beat the best J so far. A state that cannot earn a
   reward whatever its accuracy is left pending (drop 0), which saves most accuracy runs. */
static int charge_accuracy_sig(Env *e, const Graph *g, uint64_t sig, double best_j, EnvEval *ev, Err *err);

static int charge_accuracy(Env *e, const Graph *g, double best_j, EnvEval *ev, Err *err) {
    return charge_accuracy_sig(e, g, precision_signature(g), best_j, ev, err);
}

/* g may be NULL when best_j is -INFINITY (lazy lookahead): then nothing is measured, a cached
   answer is used or the state is left pending */
static int charge_accuracy_sig(Env *e, const Graph *g, uint64_t sig, double best_j, EnvEval *ev, Err *err) {
    ev->accuracy_pending = false;
    ev->acc = (AccuracyResult){.outputs = e->start->n_outputs, .top1_agreement = -1, .min_cosine = 1};
    ev->accuracy_drop = 0;
    ev->feasible = true;
    objective_of(e, ev);
    if (sig == e->start_sig) return 0; /* the same function up to fp32 rounding */
    if (!g) { /* lookahead from the memo: the cache's answer or pending */
        if (!(e->cfg.accuracy_ctx ? objective_accuracy_lookup(e->cfg.accuracy_ctx, sig, &ev->acc) : acc_lookup(e, sig, &ev->acc))) {
            ev->accuracy_pending = true;
            return 0;
        }
    } else if (ev->objective >= best_j && !acc_cached(e, g, sig)) {
        ev->accuracy_pending = true;
        return 0;
    } else if (measure_accuracy(e, g, sig, &ev->acc, err)) {
        return -1;
    }
    ev->accuracy_drop = objective_accuracy_drop(&ev->acc);
    ev->feasible = accuracy_ok(&ev->acc, &e->cfg.budget);
    objective_of(e, ev);
    return 0;
}

/* cost-model latency and memory, accuracy (charge_accuracy), J; node_ms receives the per-node
   costs */
static int evaluate(Env *e, const Graph *g, double best_j, EnvEval *out, Err *err) {
    if (g->n_nodes > e->cap_ms) {
        double *v = realloc(e->node_ms, sizeof(double) * (size_t)(g->n_nodes + 16));
        if (!v) return err_set(err, ERR_RUNTIME, "out of memory");
        e->node_ms = v;
        e->cap_ms = g->n_nodes + 16;
    }
    CostEstimate est;
    if (cost_estimate(e->cm, g, &est, e->node_ms, err)) return -1;
    memset(out, 0, sizeof *out);
    out->latency_ms = est.latency_ms > 1e-6 ? est.latency_ms : 1e-6;
    out->peak_bytes = est.peak_bytes > 1 ? est.peak_bytes : 1;
    return charge_accuracy(e, g, best_j, out, err);
}

static int push_action(Env *e, int policy_rule, const RuleDef *r, const Site *s, Err *err) {
    if (e->n_act == e->cap_act) {
        int nc = e->cap_act ? 2 * e->cap_act : 128;
        PolicyAction *a = realloc(e->actions, (size_t)nc * sizeof *a);
        if (a) e->actions = a;
        const RuleDef **ar = realloc(e->act_rule, (size_t)nc * sizeof *ar);
        if (ar) e->act_rule = ar;
        Site *as = realloc(e->act_site, (size_t)nc * sizeof *as);
        if (as) e->act_site = as;
        if (!a || !ar || !as) return err_set(err, ERR_RUNTIME, "out of memory");
        e->cap_act = nc;
    }
    PolicyAction *pa = &e->actions[e->n_act];
    pa->rule = policy_rule;
    pa->n = 0;
    pa->log_prior = 0;
    if (s)
        for (int k = 0; k < s->n; k++) {
            int f = e->fb.node_to_feat[s->nodes[k]];
            if (f >= 0) pa->nodes[pa->n++] = f;
        }
    e->act_rule[e->n_act] = r;
    if (s) e->act_site[e->n_act] = *s;
    e->n_act++;
    return 0;
}

/* features, legal actions and the observation of the current state */
static int observe(Env *e, Err *err) {
    const Graph *g = e->cur;
    /* two states alike in graph_structure_hash are one state to the memo: a rewrite that
       changed only a value would be missed, and the rollouts' candidates are measured for real */
    if (e->cfg.peek_memo) e->state_hash = graph_structure_hash(g);
    if (features_build(g, e->node_ms, e->eval.latency_ms, &e->fb, err)) return -1;
    e->n_act = 0;
    for (int i = 0; i < e->n_rules; i++) {
        if (e->rule_to_policy[i] < 0) continue;
        if (rule_sites(e->rules[i], g, &e->sl, err)) return -1;
        int first = e->n_act;
        for (int k = 0; k < e->sl.n && e->n_act < ENV_MAX_ACTIONS - 1; k++)
            if (push_action(e, e->rule_to_policy[i], e->rules[i], &e->sl.v[k], err)) return -1;
        for (int k = first; k < e->n_act; k++) e->actions[k].log_prior = -logf((float)(e->n_act - first));
    }
    if (push_action(e, e->stop_index, NULL, NULL, err)) return -1; /* STOP, always last */
    PolicyObs *o = &e->obs;
    o->n_nodes = e->fb.n_nodes;
    o->x = e->fb.x;
    o->n_edges = e->fb.n_edges;
    o->edge_src = e->fb.src;
    o->edge_dst = e->fb.dst;
    o->w[0] = (float)e->w.w_lat;
    o->w[1] = (float)e->w.w_mem;
    o->w[2] = (float)e->w.w_acc;
    o->global[0] = (float)e->steps / (float)e->cfg.max_steps;
    o->global[1] = (float)(log1p(e->fb.n_nodes) / 8.0);
    o->global[2] = (float)(log(e->eval.latency_ms / e->start_eval.latency_ms)); /* progress so far */
    o->global[3] = (float)(e->eval.feasible ? e->eval.accuracy_drop * 10.0 : 1.0);
    o->n_actions = e->n_act;
    o->actions = e->actions;
    return 0;
}

int env_reset(Env *e, const Graph *start, ObjectiveWeights w, Err *err) {
    double s = w.w_lat + w.w_mem + w.w_acc;
    if (!(s > 0) || w.w_lat < 0 || w.w_mem < 0 || w.w_acc < 0) return err_set(err, ERR_INPUT, "reward weights must be >= 0 and not all 0");
    graph_free(e->start);
    graph_free(e->cur);
    e->start = e->cur = NULL;
    e->start_src = start;
    e->start_version = start->version;
    e->steps = 0;
    e->w = (ObjectiveWeights){w.w_lat / s, w.w_mem / s, w.w_acc / s};
    e->start = graph_clone(start, err);
    if (!e->start) return -1;
    e->cur = graph_clone(start, err);
    if (!e->cur) return -1;
    /* the assignment whose accuracy is known without a run: the start's when accuracy is fidelity
       to the episode's start (training), the input's when a search judges against it
       (accuracy_ctx): a climb may start from an already quantized graph, which is then charged */
    e->start_sig = precision_signature(e->cfg.accuracy_ctx ? e->cfg.accuracy_ctx->original : e->start);
    if (evaluate(e, e->cur, INFINITY, &e->eval, err)) return -1;
    e->start_eval = e->eval;
    e->best_j = e->eval.objective;
    return observe(e, err);
}

const PolicyObs *env_observe(Env *e) { return &e->obs; }
int env_n_actions(const Env *e) { return e->n_act; }
bool env_action_is_stop(const Env *e, int action) { return action == e->n_act - 1; }
const char *env_action_name(const Env *e, int action) {
    if (action < 0 || action >= e->n_act) return "?";
    return e->act_rule[action] ? e->act_rule[action]->name : "STOP";
}

int env_step(Env *e, int action, double *reward, bool *done, Err *err) {
    if (!e->cur) return err_set(err, ERR_INPUT, "env_step before env_reset");
    if (action < 0 || action >= e->n_act) return err_set(err, ERR_INPUT, "action %d out of range (%d legal)", action, e->n_act);
    *reward = 0;
    if (env_action_is_stop(e, action)) { *done = true; return 0; }
    /* in place: a rewrite failing half-way is an error that ends the episode (the graph is not
       used again before the next reset), and cloning ResNet-50 at every step costs more than
       the rewrite itself */
    if (rule_apply(e->act_rule[action], e->cur, &e->act_site[action], err)) {
        err_prefix(err, "%s", e->act_rule[action]->name);
        graph_free(e->cur);
        e->cur = NULL;
        return -1;
    }
    EnvEval ev;
    if (evaluate(e, e->cur, e->cfg.lazy_accuracy ? -INFINITY : e->best_j, &ev, err)) return -1;
    e->eval = ev;
    e->steps++;
    if (ev.objective < e->best_j) {
        *reward = e->best_j - ev.objective;
        e->best_j = ev.objective;
    }
    if (observe(e, err)) return -1;
    *done = e->steps >= e->cfg.max_steps || e->n_act == 1;
    return 0;
}

/* ---- the lookahead memo: (state, rule, site) -> latency, memory, precision signature ---- */

typedef struct PeekEntry { uint64_t key; double latency_ms, peak_bytes; uint64_t sig; } PeekEntry;

struct EnvPeekMemo {
    PeekEntry *v; /* open addressing, key 0 = empty */
    size_t cap, n;
    long hits, lookups;
};

EnvPeekMemo *env_peek_memo_new(void) { return calloc(1, sizeof(EnvPeekMemo)); }

void env_peek_memo_free(EnvPeekMemo *m) {
    if (!m) return;
    free(m->v);
    free(m);
}

void env_peek_memo_stats(const EnvPeekMemo *m, long *hits, long *lookups) {
    *hits = m ? m->hits : 0;
    *lookups = m ? m->lookups : 0;
}

static uint64_t peek_key(const Env *e, int action) {
    const Site *st = &e->act_site[action];
    uint64_t h = hash_mix64(e->state_hash, fnv1a64_str(FNV1A_OFFSET, e->act_rule[action]->name));
    h = hash_mix64(h, (uint64_t)st->n);
    for (int k = 0; k < st->n; k++) h = hash_mix64(h, (uint64_t)st->nodes[k]);
    h = hash_mix64(h, (uint64_t)st->param);
    return h ? h : 1;
}

static PeekEntry *memo_slot(EnvPeekMemo *m, uint64_t key) {
    size_t i = (size_t)(key % m->cap);
    while (m->v[i].key && m->v[i].key != key) i = (i + 1) % m->cap;
    return &m->v[i];
}

static int memo_put(EnvPeekMemo *m, uint64_t key, const EnvEval *ev, uint64_t sig, Err *err) {
    if (2 * (m->n + 1) > m->cap) { /* grow at half full */
        size_t nc = m->cap ? 2 * m->cap : 1024;
        PeekEntry *old = m->v, *v = calloc(nc, sizeof *v);
        if (!v) return err_set(err, ERR_RUNTIME, "out of memory");
        size_t oc = m->cap;
        m->v = v;
        m->cap = nc;
        for (size_t i = 0; i < oc; i++)
            if (old[i].key) *memo_slot(m, old[i].key) = old[i];
        free(old);
    }
    PeekEntry *p = memo_slot(m, key);
    if (!p->key) m->n++;
    *p = (PeekEntry){key, ev->latency_ms, ev->peak_bytes, sig};
    return 0;
}

int env_peek(Env *e, int action, EnvEval *out, Err *err) {
    if (!e->cur) return err_set(err, ERR_INPUT, "env_peek before env_reset");
    if (action < 0 || action >= e->n_act) return err_set(err, ERR_INPUT, "action %d out of range (%d legal)", action, e->n_act);
    if (env_action_is_stop(e, action)) { *out = e->eval; return 0; }
    EnvPeekMemo *m = e->cfg.lazy_accuracy ? e->cfg.peek_memo : NULL;
    uint64_t key = 0;
    if (m) {
        key = peek_key(e, action);
        m->lookups++;
        if (m->cap) {
            const PeekEntry *p = memo_slot(m, key);
            if (p->key == key) {
                m->hits++;
                memset(out, 0, sizeof *out);
                out->latency_ms = p->latency_ms;
                out->peak_bytes = p->peak_bytes;
                return charge_accuracy_sig(e, NULL, p->sig, -INFINITY, out, err);
            }
        }
    }
    Graph *c = graph_clone(e->cur, err);
    if (!c) return -1;
    int rc = rule_apply(e->act_rule[action], c, &e->act_site[action], err);
    if (rc) err_prefix(err, "%s", e->act_rule[action]->name);
    else rc = evaluate(e, c, e->cfg.lazy_accuracy ? -INFINITY : e->best_j, out, err);
    if (!rc && m) rc = memo_put(m, key, out, precision_signature(c), err);
    graph_free(c);
    return rc;
}

int env_charge(Env *e, const Graph *g, EnvEval *ev, Err *err) {
    if (!ev->accuracy_pending) return 0;
    return charge_accuracy(e, g, INFINITY, ev, err);
}

const Graph *env_graph(const Env *e) { return e->cur; }
int env_steps(const Env *e) { return e->steps; }
const EnvEval *env_eval(const Env *e) { return &e->eval; }
const EnvEval *env_start_eval(const Env *e) { return &e->start_eval; }
double env_best_objective(const Env *e) { return e->best_j; }
double env_acc_seconds(const Env *e) { return e ? e->acc_s : 0; }
void env_acc_stats(const Env *e, int *measured, int *cached) {
    *measured = e->acc_measured;
    *cached = e->acc_cached;
}
