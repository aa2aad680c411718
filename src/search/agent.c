/* agent.c - optimizing one graph with a trained policy (see agent.h). */
#include "agent.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../rewrite/pipeline.h"
#include "../runtime/dnn_common.h"
#include "../util/hash.h"
#include "ppo_math.h"

AgentOpts agent_opts_default(void) {
    return (AgentOpts){.episodes = 16, .tune_episodes = 0, .lookahead = 4, .env = env_config_default(), .ppo = ppo_config_default()};
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
    bool exact;     /* from the exact-only rollout: the fallback when precision fails */
    bool measured;
} Candidate;

/* a structural fingerprint: op names and node names in order, with inputs; two episodes that
   reach the same graph by different orders of independent rewrites agree on it */
static uint64_t graph_hash(const Graph *g) {
    uint64_t sum = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        uint64_t x = fnv1a64_str(fnv1a64_str(FNV1A_OFFSET, n->name), n->op_name);
        x = (x ^ (uint64_t)n->n_inputs) * 0x100000001b3ull;
        sum += x;
    }
    return sum ^ (uint64_t)g->n_nodes;
}

/* States that improved the episode's estimated J, kept to be charged their accuracy at the end:
   the last MAX_IMPROVED of them (each improves on the one before, so these have the lowest
   bounds). A bound, because every kept state pins the tensors its rewrites created: with 256
   states an episode on BERT-base grew past 20 GB. */
#define MAX_IMPROVED 16
typedef struct Improved { Graph *g; EnvEval ev; RewriteLog log; } Improved;

static int cmp_improved(const void *a, const void *b) {
    const Improved *x = a, *y = b;
    return x->ev.objective < y->ev.objective ? -1 : x->ev.objective > y->ev.objective;
}

/* One episode on an env with lazy accuracy: every state that improves the estimate (accuracy of
   new precision choices taken as unchanged: a lower bound of J) is kept; at the end they are
   charged their measured accuracy, lowest bound first, until the next bound cannot beat the
   best charged J - branch and bound, so the result is the episode's best state under the real
   J with few accuracy runs. The best feasible state goes to *cand (cand->g NULL if none beats
   the start). */
/* The action to take: the policy proposes `lookahead` actions of distinct rules (its most
   likely action, then the most likely of another rule, ...; or samples without replacement,
   each masking its rule's other sites), and the cost model picks the one leading to the lowest
   estimated J. Distinct rules, because the sites of one rule are near-duplicates as far as a
   one-step lookahead goes, and comparing kinds of rewrites is where the cost model helps. The
   policy's first proposal being STOP stops. logits are consumed (overwritten). */
static int choose(Env *env, float *logits, int n, bool greedy, int lookahead, Rng *r, int *chosen, Err *err) {
    const PolicyObs *o = env_observe(env);
    int first = -1, best = -1;
    double best_j = INFINITY;
    bool every_rule = lookahead > POLICY_MAX_RULES;
    for (int k = 0; k < lookahead; k++) {
        bool left = false;
        for (int i = 0; i < n && !left; i++) left = logits[i] > -INFINITY;
        if (!left) break;
        int a = greedy ? ppo_argmax(logits, n) : ppo_sample_categorical(r, logits, n);
        if (k == 0) first = a;
        if (env_action_is_stop(env, a)) {
            /* the policy stops; when every rule is compared, the cost model decides instead */
            if (k == 0 && !every_rule) break;
        } else if (lookahead > 1) {
            EnvEval ev;
            if (env_peek(env, a, &ev, err)) return -1;
            if (ev.objective < best_j) { best_j = ev.objective; best = a; }
        }
        for (int i = 0; i < n; i++)
            if (o->actions[i].rule == o->actions[a].rule) logits[i] = -INFINITY;
    }
    /* comparing every rule is hill climbing on the estimate: it stops when nothing improves */
    if (every_rule) *chosen = best >= 0 && best_j < env_eval(env)->objective ? best : n - 1;
    else *chosen = best >= 0 ? best : first;
    return 0;
}

static int rollout(Policy *p, PolicyCache *pc, Env *env, const Graph *start, const RewriteLog *prefix, ObjectiveWeights w, bool greedy,
                   int lookahead, Rng *r, Candidate *cand, int *steps, Err *err) {
    if (env_reset(env, start, w, err)) return -1;
    float *logits = NULL;
    int cap = 0, rc = -1, n_imp = 0;
    Improved *imp = calloc(MAX_IMPROVED, sizeof *imp);
    RewriteLog log = *prefix; /* the rewrites that made `start` */
    double start_j = env_eval(env)->objective, best = start_j;
    cand->g = NULL;
    cand->estimate = start_j;
    if (!imp) { err_set(err, ERR_RUNTIME, "out of memory"); goto out; }
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
        int a;
        if (choose(env, logits, o->n_actions, greedy, lookahead, r, &a, err)) goto out;
        if (env_action_is_stop(env, a)) break;
        const char *name = env_action_name(env, a); /* a registry string: outlives the step */
        double reward;
        if (env_step(env, a, &reward, &done, err)) goto out;
        rewrite_log_add(&log, name);
        (*steps)++;
        const EnvEval *ev = env_eval(env);
        if (reward > 0 && ev->feasible) {
            if (n_imp == MAX_IMPROVED) { /* drop the oldest (highest bound) */
                graph_free(imp[0].g);
                memmove(imp, imp + 1, sizeof *imp * (MAX_IMPROVED - 1));
                n_imp--;
            }
            Graph *c = graph_clone(env_graph(env), err);
            if (!c) goto out;
            imp[n_imp++] = (Improved){c, *ev, log};
        }
    }
    qsort(imp, (size_t)n_imp, sizeof *imp, cmp_improved);
    int best_k = -1;
    for (int k = 0; k < n_imp && imp[k].ev.objective < best; k++) {
        if (env_charge(env, imp[k].g, &imp[k].ev, err)) goto out;
        if (imp[k].ev.feasible && imp[k].ev.objective < best) {
            best = imp[k].ev.objective;
            best_k = k;
        }
    }
    if (best_k >= 0) {
        cand->g = imp[best_k].g;
        imp[best_k].g = NULL;
        cand->estimate = best;
        cand->log = imp[best_k].log;
    }
    rc = 0;
out:
    if (imp)
        for (int k = 0; k < n_imp; k++) graph_free(imp[k].g);
    free(imp);
    free(logits);
    return rc;
}

/* every rule of the log is exact (no precision change) */
static bool log_is_exact(const RewriteLog *l) {
    for (int k = 0; k < l->n; k++) {
        const RuleDef *r = rule_by_name(l->v[k].rule);
        if (!r || !(r->flags & RULE_EXACT) || (r->flags & RULE_PRECISION)) return false;
    }
    return true;
}

/* An exact candidate that the cost model and the roofline both rate faster than the incumbent
   is trusted: a measurement that cannot tell the two apart (a noisy machine) does not give it
   up; only a decision that it is slower does. (Grappler's fixed point is such a candidate.) */
static int trusted(CostModel *cm, CostModel *roof, const Candidate *c, const Graph *cur, bool *out, Err *err) {
    *out = false;
    if (!log_is_exact(&c->log)) return 0;
    CostEstimate a, b;
    if (cost_estimate(cm, c->g, &a, NULL, err) || cost_estimate(cm, cur, &b, NULL, err)) return -1;
    if (!(a.latency_ms < b.latency_ms)) return 0;
    if (cost_estimate(roof, c->g, &a, NULL, err) || cost_estimate(roof, cur, &b, NULL, err)) return -1;
    *out = a.latency_ms < b.latency_ms;
    return 0;
}

/* Serialized copies of constant tensors above this size are dropped from the search's working
   graph: the tensor itself holds the data (shared between clones), and the serialized copy
   (kept to write an untouched Const back byte for byte) was deep-copied by every graph_clone -
   on BERT-base 438 MB per env_peek, most of a rollout's time. The written graph re-encodes
   such a Const from its tensor: the same values. Small ones are kept (cheap, and CSE compares
   tensors without data by them). */
#define LEAN_RAW_BYTES 4096

static Graph *lean_clone(const Graph *g, Err *err) {
    Graph *c = graph_clone(g, err);
    if (!c) return NULL;
    for (int i = 0; i < c->n_nodes; i++) {
        Node *n = c->nodes[i];
        for (int k = 0; k < n->n_attrs; k++) {
            Attr *a = &n->attrs[k];
            if (a->kind == ATTR_TENSOR && tensor_has_data(&a->tensor) && a->raw_len > LEAN_RAW_BYTES) attr_drop_raw(a);
        }
    }
    return c;
}

static int cmp_candidate(const void *a, const void *b) {
    const Candidate *x = a, *y = b;
    return x->estimate < y->estimate ? -1 : x->estimate > y->estimate;
}

static int search_ppo_lean(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm,
                           const AgentOpts *ao, Graph **best, Evaluation *best_eval, RewriteLog *log, AgentStats *stats, Err *err);

int search_ppo(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm, const AgentOpts *ao,
               Graph **best, Evaluation *best_eval, RewriteLog *log, AgentStats *stats, Err *err) {
    memset(stats, 0, sizeof *stats);
    Graph *lean = lean_clone(start, err);
    if (!lean) return -1;
    int rc = search_ppo_lean(ctx, lean, o, policy, cm, ao, best, best_eval, log, stats, err);
    graph_free(lean);
    return rc;
}

/* a hill climb after the episodes: its start, the rewrites that made it, exact rules only?
   (at most MAX_CLIMBS: from Grappler's fixed point, from the int8 pipeline's graph, exact from
   Grappler's fixed point, exact from the batch-norm-folded fixed point) */
typedef struct Climb { const Graph *from; const RewriteLog *log; bool exact; } Climb;
#define MAX_CLIMBS 4

/* What a rollout search builds from its start graph before the episodes, the same for every
   search from that start with the same flags: Grappler's fixed point, the batch-norm-folded
   fixed point (NULL when it is Grappler's), the int8 pipeline's graph (NULL: precision rules
   off, or nothing quantized), the whole-rule candidates from it (when a search first finds
   that graph within its accuracy budget). ppo+bo's trials share one (EvalContext.agent_starts):
   built by the first trial. */
struct AgentStarts {
    bool built;
    int builds;
    uint64_t start_hash;      /* the start graph it was built from */
    unsigned required, forbidden;
    bool precision;
    Graph *fixed, *fixed_int8;
    Graph *folded;            /* pipeline_grappler_bn_folded's graph; NULL: the same as fixed */
    RewriteLog fixed_log, int8_log, folded_log;
    bool whole_built;         /* the whole-rule candidates below: built on first need (never
                                 when the int8 graph misses the accuracy budget) */
    int n_whole;
    Graph **whole;
    RewriteLog *whole_log;
};

/* Whole-rule candidates: the int8 pipeline's graph with one more precision rule applied at
   every site (then the pipeline's exact clean-ups). The per-kernel cost model misses what such
   a rule saves across a chain of kernels: on the trained ResNet-50 the climb from the int8
   graph chained 1 of 16 residual blocks with int8_residual_chain, each further block rated
   slower kernel by kernel, while all 16 measured 2.80x -> 3.47x faster than the input in
   whole-graph runs (labelled top-1 +0.1 pp). So these are not ranked by the estimate: they go
   first to the real measurement (estimate -inf), few as they are (one per precision rule with
   a site left). */
static int whole_rule_graphs(AgentStarts *st, const SearchOpts *o, Err *err) {
    int n_rules;
    const RuleDef *const *rules = rules_all(&n_rules);
    SiteList sl = {0};
    if (!(st->whole = calloc((size_t)n_rules, sizeof *st->whole)) || !(st->whole_log = calloc((size_t)n_rules, sizeof *st->whole_log))) {
        err_set(err, ERR_RUNTIME, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n_rules; i++) {
        const RuleDef *r = rules[i];
        if ((r->flags & RULE_EXACT) || (r->flags & o->required_flags) != o->required_flags || (r->flags & o->forbidden_flags)) continue;
        if (rule_sites(r, st->fixed_int8, &sl, err)) goto fail;
        if (sl.n == 0) continue;
        Graph *g = graph_clone(st->fixed_int8, err);
        if (!g) goto fail;
        RewriteLog log = st->int8_log;
        const char *name[1] = {r->name};
        if (pipeline_fixed_point(name, 1, g, o->required_flags, 2, &log, err) || pipeline_int8_cleanup(g, &log, err)) {
            graph_free(g);
            goto fail;
        }
        st->whole[st->n_whole] = g;
        st->whole_log[st->n_whole++] = log;
    }
    sitelist_free(&sl);
    st->whole_built = true;
    return 0;
fail: /* none kept: a later search builds them again */
    sitelist_free(&sl);
    for (int i = 0; i < st->n_whole; i++) graph_free(st->whole[i]);
    free(st->whole);
    free(st->whole_log);
    st->whole = NULL;
    st->whole_log = NULL;
    st->n_whole = 0;
    return -1;
}

AgentStarts *agent_starts_new(void) { return calloc(1, sizeof(AgentStarts)); }

static void agent_starts_clear(AgentStarts *st) {
    graph_free(st->fixed);
    graph_free(st->fixed_int8);
    graph_free(st->folded);
    for (int i = 0; i < st->n_whole; i++) graph_free(st->whole[i]);
    free(st->whole);
    free(st->whole_log);
    int builds = st->builds;
    memset(st, 0, sizeof *st);
    st->builds = builds;
}

int agent_starts_builds(const AgentStarts *st) { return st->builds; }

void agent_starts_free(AgentStarts *st) {
    if (!st) return;
    agent_starts_clear(st);
    free(st);
}

int agent_shared_open(EvalContext *ctx, AgentShared *own, Err *err) {
    memset(own, 0, sizeof *own);
    if (!ctx->acc_cache && ctx->original && ctx->inputs && !(ctx->acc_cache = own->acc = objective_accuracy_cache_new())) goto oom;
    if (!ctx->peek_memo && !(ctx->peek_memo = own->memo = env_peek_memo_new())) goto oom;
    if (!ctx->agent_starts && !(ctx->agent_starts = own->starts = agent_starts_new())) goto oom;
    if (!ctx->measured && !(ctx->measured = own->measured = objective_measured_new())) goto oom;
    return 0;
oom:
    agent_shared_close(ctx, own);
    return err_set(err, ERR_RUNTIME, "out of memory");
}

void agent_shared_close(EvalContext *ctx, AgentShared *own) {
    if (own->acc) {
        objective_accuracy_cache_free(own->acc);
        ctx->acc_cache = NULL;
    }
    if (own->memo) {
        env_peek_memo_free(own->memo);
        ctx->peek_memo = NULL;
    }
    if (own->starts) {
        agent_starts_free(own->starts);
        ctx->agent_starts = NULL;
    }
    if (own->measured) {
        objective_measured_free(own->measured);
        ctx->measured = NULL;
    }
    memset(own, 0, sizeof *own);
}

/* st built from start with o's flags (reused when it already was) */
static int agent_starts_prepare(AgentStarts *st, const Graph *start, const SearchOpts *o, bool precision, Err *err) {
    uint64_t h = graph_hash(start);
    if (st->built && st->start_hash == h && st->required == o->required_flags && st->forbidden == o->forbidden_flags &&
        st->precision == precision)
        return 0;
    agent_starts_clear(st);
    st->start_hash = h;
    st->required = o->required_flags;
    st->forbidden = o->forbidden_flags;
    st->precision = precision;
    if (!(st->fixed = graph_clone(start, err))) goto fail;
    if (pipeline_run("grappler", st->fixed, o->required_flags, &st->fixed_log, err)) goto fail;
    if (!(st->folded = graph_clone(start, err))) goto fail;
    if (pipeline_grappler_bn_folded(st->folded, o->required_flags, &st->folded_log, err)) goto fail;
    if (graph_hash(st->folded) == graph_hash(st->fixed)) { /* nothing to fold or re-associate: Grappler's graph */
        graph_free(st->folded);
        st->folded = NULL;
    }
    if (precision) {
        if (!(st->fixed_int8 = graph_clone(start, err))) goto fail;
        if (pipeline_run(pipeline_int8_name(dnn_cpu_has_vnni()), st->fixed_int8, o->required_flags, &st->int8_log, err)) goto fail;
        if (objective_precision_signature(st->fixed_int8) == objective_precision_signature(start)) { /* nothing quantized */
            graph_free(st->fixed_int8);
            st->fixed_int8 = NULL;
        }
    }
    st->built = true;
    st->builds++;
    return 0;
fail:
    agent_starts_clear(st);
    return -1;
}

/* *ok: g within ctx's accuracy budget (true when ctx has nothing to judge accuracy on) */
static int within_budget(EvalContext *ctx, const Graph *g, bool *ok, Err *err) {
    *ok = true;
    if (!ctx->original || !ctx->inputs) return 0;
    AccuracyResult acc;
    double t0 = now_s();
    if (objective_accuracy(ctx, g, &acc, err)) return -1;
    ctx->times.accuracy_s += now_s() - t0;
    *ok = accuracy_ok(&acc, &ctx->budget);
    return 0;
}

/* search_ppo on a start graph without serialized copies of its large constants (lean_clone) */
static int search_ppo_lean(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm,
                           const AgentOpts *ao, Graph **best, Evaluation *best_eval, RewriteLog *log, AgentStats *stats, Err *err) {
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
    Env *env = NULL, *tune_env = NULL, *exact_env = NULL;
    PolicyCache *pc = policy_cache_new(), *exact_pc = NULL;
    int n_ep = ao->episodes > 0 ? ao->episodes : 1, n_cand = 0, rc = -1;
    int n_registry;
    rules_all(&n_registry);
    /* the episodes, the climbs, a whole-rule candidate per rule */
    Candidate *cand = calloc((size_t)n_ep + MAX_CLIMBS + (size_t)n_registry, sizeof *cand);
    Graph *cur = NULL;
    CostModel *roof = NULL; /* the roofline, for trusted() */
    RewriteLog no_log = {0};
    AgentShared own = {0}; /* what ppo+bo did not give for all its trials */
    if (!pc || !cand) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (agent_shared_open(ctx, &own, err)) goto done;
    CostStats cs0;
    cost_stats(cm, &cs0);

    if (ao->tune_episodes > 0) {
        /* fine-tuning trains: its env charges accuracy as training does */
        tune_env = env_new(&ec, cm, policy, err);
        if (!tune_env) goto done;
        double t0 = now_s();
        Graph *one[1] = {(Graph *)start};
        char *names[1] = {"target"};
        PpoCorpus corpus = {1, one, names};
        PpoConfig pcfg = ao->ppo;
        pcfg.seed = o->seed ? o->seed : 1;
        PpoTrainer *t = ppo_new(policy, tune_env, &corpus, &pcfg, err);
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

    ec.lazy_accuracy = true; /* rollouts: accuracy charged at the end of each episode (rollout) */
    /* judged on as many samples as the caller's measurement: on 2 (training's default) a
       ResNet-50 with 52 int7 convolutions kept top-1 and lost a quarter of it on 16 */
    if (ctx->inputs && ec.acc_batches < ctx->inputs->n_batches) ec.acc_batches = ctx->inputs->n_batches;
    /* and on the very inputs and reference the whole-graph evaluations use, through the shared
       cache: a state charged here is not measured again when it becomes a candidate */
    if (ctx->acc_cache) ec.accuracy_ctx = ctx;
    ec.peek_memo = ctx->peek_memo;
    env = env_new(&ec, cm, policy, err);
    if (!env) goto done;
    double t0 = now_s();
    Rng r;
    rng_seed(&r, o->seed ? o->seed : 1);
    double start_j = 0;
    /* The episodes from the start graph; then hill climbing from Grappler's fixed point (the
       exact folds and fusions to exhaustion): the climb on the cost model stops early where
       estimates of small kernels are noisy, and a fixed rule pipeline does not; when precision
       rules are on, from the int8 pipeline's graph too: quantizing one convolution at a time
       looks slower on the estimate (each adds a quantize and a dequantize that the pipeline's
       clean-ups remove once its neighbours are int8 too), so a climb from fp32 never gets there,
       while from the pipeline's graph the policy and the cost model add what the pipeline does
       not do (rules left out of it for their accuracy cost, judged here on the caller's
       accuracy: on the labels when given); and last the exact climb, without precision rules:
       an exact candidate to fall back on when the measurement refuses the precision ones. */
    AgentStarts *st = ctx->agent_starts;
    if (agent_starts_prepare(st, start, o, ec.allow_precision, err)) goto done;
    const Graph *fixed = st->fixed, *fixed_int8 = st->fixed_int8;
    const RewriteLog fixed_log = st->fixed_log, int8_log = st->int8_log;
    const Graph *climb_from = fixed_log.total ? fixed : start;
    /* the int8 pipeline's graph outside the accuracy budget (a random-weight ResNet-50 judged on
       fidelity): a climb from it and the whole-rule candidates built on it (more precision
       still) would only spend the rollouts and the measurements on graphs refused at the end */
    bool int8_ok = false;
    if (fixed_int8 && within_budget(ctx, fixed_int8, &int8_ok, err)) goto done;
    if (!int8_ok) fixed_int8 = NULL;
    if (fixed_int8 && !st->whole_built && whole_rule_graphs(st, o, err)) goto done;
    for (int i = 0; fixed_int8 && i < st->n_whole; i++) { /* measured first: estimate -inf */
        Candidate c = {.estimate = -INFINITY, .log = st->whole_log[i]};
        if (!(c.g = graph_clone(st->whole[i], err))) goto done;
        c.hash = graph_hash(c.g);
        cand[n_cand++] = c;
    }
    int n_climb = 0;
    Climb climbs[MAX_CLIMBS];
    if (fixed_log.total) climbs[n_climb++] = (Climb){fixed, &fixed_log, false};
    if (fixed_int8) climbs[n_climb++] = (Climb){fixed_int8, &int8_log, false};
    if (ec.allow_precision) climbs[n_climb++] = (Climb){climb_from, &fixed_log, true};
    /* Grappler fuses a conv with its batch norm and leaves a residual Add and Relu apart; with
       the batch norm folded first they fuse as well. A climb cannot undo a fusion, and one step
       of the climb from the input rates the batch-norm fusion higher: so a climb of its own
       (the same order also re-associates TF's (conv + shortcut) + bias sums so they fuse) */
    const RewriteLog folded_log = st->folded_log;
    if (st->folded) climbs[n_climb++] = (Climb){st->folded, &folded_log, true};
    int n_roll = n_ep + n_climb;
    for (int ep = 0; ep < n_roll; ep++) {
        /* the time budget ends the rollouts too (after the first: the greedy one): a ResNet-50
           rollout with accuracy charged can take minutes, and a 4-minute budget ran 7.5 */
        if (ep > 0 && !objective_budget_left(ctx, INT_MAX)) break;
        Candidate c = {0};
        bool from_fixed = ep >= n_ep;
        bool exact = from_fixed && climbs[ep - n_ep].exact;
        const Graph *from = from_fixed ? climbs[ep - n_ep].from : start;
        const RewriteLog *from_log = from_fixed ? climbs[ep - n_ep].log : &no_log;
        Env *e = env;
        PolicyCache *cache = pc;
        if (exact) {
            EnvConfig xc = ec;
            xc.allow_precision = false;
            if (!exact_env && !(exact_env = env_new(&xc, cm, policy, err))) goto done;
            if (!exact_pc && !(exact_pc = policy_cache_new())) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
            e = exact_env;
            cache = exact_pc;
        }
        bool hill = ep == 0 || from_fixed;
        if (rollout(policy, cache, e, from, from_log, ctx->w, hill,
                    hill ? POLICY_MAX_RULES + 1 : ao->lookahead > 0 ? ao->lookahead : 1, &r, &c, &stats->env_steps, err)) {
            graph_free(c.g);
            goto done;
        }
        if (ep == 0) start_j = env_start_eval(env)->objective;
        if (!from_fixed) stats->episodes++;
        if (!c.g && exact && from_log->total) {
            /* nothing beat the fixed point on the estimate: the fixed point itself is the
               candidate (Grappler's is what the Grappler baseline returns) */
            if (!(c.g = graph_clone(from, err))) goto done;
            c.estimate = env_start_eval(e)->objective;
            c.log = *from_log;
        }
        if (c.g) {
            c.exact = exact;
            c.hash = graph_hash(c.g);
            bool dup = false;
            for (int k = 0; k < n_cand && !dup; k++) {
                dup = cand[k].hash == c.hash && cand[k].g->n_nodes == c.g->n_nodes;
                if (dup && exact) cand[k].exact = true; /* an earlier episode reached the exact one */
            }
            if (dup) graph_free(c.g);
            else cand[n_cand++] = c;
        }
        if (ctx->rollout_progress && ctx->rollout_progress(ctx->progress_user, ep + 1, n_roll)) {
            ctx->stopped = OBJECTIVE_STOP_CANCELLED;
            break;
        }
    }
    stats->rollout_s = now_s() - t0;
    stats->candidates = n_cand;
    ctx->times.rollout_s += stats->rollout_s;
    ctx->times.tune_s += stats->tune_s;
    ctx->times.env_accuracy_s += env_acc_seconds(env) + env_acc_seconds(exact_env) + env_acc_seconds(tune_env);
    CostStats cs1;
    cost_stats(cm, &cs1);
    ctx->times.cost_timing_s += (cs1.timing_ms - cs0.timing_ms) / 1e3;
    qsort(cand, (size_t)n_cand, sizeof *cand, cmp_candidate);
    /* the best estimate of a rollout's or climb's candidate (whole-rule ones carry none) */
    for (int k = 0; k < n_cand; k++)
        if (isfinite(cand[k].estimate)) { stats->best_estimate_gain = start_j - cand[k].estimate; break; }

    /* measure: the start graph first (it is the fallback; ppo+bo's later trials reuse the
       first one's measurement), then candidates best-first */
    cur = graph_clone(start, err);
    if (!cur) goto done;
    Evaluation cur_eval;
    if (objective_evaluate_reuse(ctx, cur, &cur_eval, err)) goto done;
    RewriteLog cur_log = {0};
    /* best estimate first; after a candidate fails the accuracy budget, the exact one next */
    bool exact_next = false;
    while (objective_budget_left(ctx, o->budget)) {
        int k = -1;
        for (int i = 0; i < n_cand && k < 0 && exact_next; i++)
            if (cand[i].exact && !cand[i].measured) k = i;
        for (int i = 0; i < n_cand && k < 0; i++)
            if (!cand[i].measured) k = i;
        if (k < 0) break;
        cand[k].measured = true;
        /* a candidate outside the accuracy budget is never kept: found out by its accuracy alone
           (cached by precision assignment), it is not timed and costs no evaluation */
        bool ok;
        if (!cand[k].exact && within_budget(ctx, cand[k].g, &ok, err)) goto done;
        if (!cand[k].exact && !ok) {
            stats->refused++;
            exact_next = true;
            continue;
        }
        Evaluation ev, ref_ev;
        /* with the incumbent, timed alternately until the sequential sign test decides */
        SeqDecision dec;
        if (objective_compare_seq(ctx, cur, &cur_eval.acc, cand[k].g, &ref_ev, &ev, &dec, err)) goto done;
        stats->evaluated++;
        if (!ev.feasible) exact_next = true;
        bool trust = false;
        if (ev.feasible && dec == SEQ_UNDECIDED) {
            if (!roof) {
                CostOpts ro = {.backend = COST_ROOFLINE, .threads = ctx->threads > 0 ? ctx->threads : 1};
                if (!(roof = cost_open(&ro, err))) goto done;
            }
            if (trusted(cm, roof, &cand[k], cur, &trust, err)) goto done;
        }
        if (ev.feasible && (dec == SEQ_NEGATIVE || trust)) {
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
    cost_close(roof);
    if (cand)
        for (int k = 0; k < n_cand; k++) graph_free(cand[k].g);
    free(cand);
    policy_cache_free(pc);
    policy_cache_free(exact_pc);
    env_free(env);
    env_free(exact_env);
    env_free(tune_env);
    agent_shared_close(ctx, &own);
    return rc;
}
