/* env.c - the optimization MDP (see env.h): legal actions, steps, rewards from the cost model
 * and measured accuracy, observations for the policy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

#define ENV_MAX_ACTIONS 4096 /* a bound on one state's action list (ResNet-50 has ~600) */
#define ACC_SEED 7000        /* accuracy batches: disjoint from calibration (1..) and evaluation (1000..) */

typedef struct AccEntry { const Graph *src; uint64_t version, sig; AccuracyResult acc; } AccEntry;

struct Env {
    EnvConfig cfg;
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
    int steps;
    uint64_t start_sig;

    /* accuracy: inputs, the start graph's outputs (computed on first need), results cache */
    InputSet acc_in;
    Tensor *acc_ref;
    AccEntry *acc_cache;
    int n_acc, cap_acc, acc_measured, acc_cached;

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
    return e;
}

static void start_inputs_free(Env *e) {
    if (e->acc_ref) accuracy_reference_free(e->acc_ref, e->acc_in.n_batches, e->start ? e->start->n_outputs : 0);
    e->acc_ref = NULL;
    inputs_free(&e->acc_in);
}

void env_free(Env *e) {
    if (!e) return;
    start_inputs_free(e);
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

/* FNV-1a of a string, for signatures */
static uint64_t fnv(const char *s, uint64_t h) {
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* The set of precision choices in g: a sum (order-independent) of a hash per node that runs
   in low precision or converts to or from it. Exact rewrites leave it unchanged. */
static uint64_t precision_signature(const Graph *g) {
    uint64_t sig = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        bool p = n->op == OP_GRAPPO_QCONV2D || n->op == OP_GRAPPO_QMATMUL || n->op == OP_GRAPPO_QUANTIZE ||
                 n->op == OP_GRAPPO_DEQUANTIZE || n->op == OP_CAST;
        for (int k = 0; k < n->n_outputs && !p; k++) {
            int dt = n->outputs[k].dtype;
            p = dt == DT_BFLOAT16 || dt == DT_HALF || dt == DT_INT8 || dt == DT_UINT8;
        }
        if (p) sig += fnv(n->op_name, fnv(n->name, 14695981039346656037ull)) | 1;
    }
    return sig;
}

static int measure_accuracy(Env *e, const Graph *g, uint64_t sig, AccuracyResult *acc, Err *err) {
    for (int i = 0; i < e->n_acc; i++)
        if (e->acc_cache[i].sig == sig && e->acc_cache[i].src == e->start_src && e->acc_cache[i].version == e->start_version) { *acc = e->acc_cache[i].acc; e->acc_cached++; return 0; }
    if (!e->acc_in.feeds && inputs_generate(e->start_src, e->cfg.acc_batches, ACC_SEED, &e->acc_in, err)) return -1;
    if (!e->acc_ref && accuracy_reference(e->start, &e->acc_in, e->cfg.threads, &e->acc_ref, err)) return -1;
    if (accuracy_against(e->start, e->acc_ref, g, &e->acc_in, e->cfg.threads, acc, err)) return -1;
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

/* cost-model latency and memory, measured accuracy, J; node_ms receives the per-node costs */
static int evaluate(Env *e, const Graph *g, EnvEval *out, Err *err) {
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
    uint64_t sig = precision_signature(g);
    if (sig != e->start_sig) {
        if (measure_accuracy(e, g, sig, &out->acc, err)) return -1;
        out->accuracy_drop = out->acc.top1_agreement >= 0 ? 1.0 - out->acc.top1_agreement : 1.0 - out->acc.min_cosine;
        if (out->accuracy_drop < 0) out->accuracy_drop = 0;
        out->feasible = accuracy_ok(&out->acc, &e->cfg.budget);
    } else {
        /* only exact rewrites since the start: the same function up to fp32 rounding */
        out->acc = (AccuracyResult){.outputs = g->n_outputs, .top1_agreement = -1, .min_cosine = 1};
        out->feasible = true;
    }
    out->objective = e->w.w_lat * log(out->latency_ms) + e->w.w_mem * log(out->peak_bytes / (1024.0 * 1024.0)) +
                     e->w.w_acc * out->accuracy_drop + (out->feasible ? 0 : e->cfg.infeasible_penalty);
    return 0;
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
    if (features_build(g, e->node_ms, e->eval.latency_ms, &e->fb, err)) return -1;
    e->n_act = 0;
    for (int i = 0; i < e->n_rules; i++) {
        if (e->rule_to_policy[i] < 0) continue;
        if (rule_sites(e->rules[i], g, &e->sl, err)) return -1;
        for (int k = 0; k < e->sl.n && e->n_act < ENV_MAX_ACTIONS - 1; k++)
            if (push_action(e, e->rule_to_policy[i], e->rules[i], &e->sl.v[k], err)) return -1;
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
    /* the accuracy inputs and reference outputs belong to the start graph */
    if (start != e->start_src || start->version != e->start_version) start_inputs_free(e);
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
    e->start_sig = precision_signature(e->start);
    if (evaluate(e, e->cur, &e->eval, err)) return -1;
    e->start_eval = e->eval;
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
    /* on a clone: a rewrite that fails half-way must not leave the episode's graph broken */
    Graph *next = graph_clone(e->cur, err);
    if (!next) return -1;
    if (rule_apply(e->act_rule[action], next, &e->act_site[action], err)) {
        err_prefix(err, "%s", e->act_rule[action]->name);
        graph_free(next);
        return -1;
    }
    double before = e->eval.objective;
    EnvEval ev;
    if (evaluate(e, next, &ev, err)) { graph_free(next); return -1; }
    graph_free(e->cur);
    e->cur = next;
    e->eval = ev;
    e->steps++;
    *reward = before - ev.objective;
    if (observe(e, err)) return -1;
    *done = e->steps >= e->cfg.max_steps || e->n_act == 1;
    return 0;
}

const Graph *env_graph(const Env *e) { return e->cur; }
int env_steps(const Env *e) { return e->steps; }
const EnvEval *env_eval(const Env *e) { return &e->eval; }
const EnvEval *env_start_eval(const Env *e) { return &e->start_eval; }
void env_acc_stats(const Env *e, int *measured, int *cached) {
    *measured = e->acc_measured;
    *cached = e->acc_cached;
}
