/* baselines.c - greedy and random search over rewrites, every candidate measured (see
 * baselines.h). Deterministic given the seed, apart from the latencies themselves. */
#include "baselines.h"

#include <stdlib.h>
#include <string.h>

#include "../util/rng.h"

typedef struct Choice { const RuleDef *r; Site s; } Choice;

static bool rule_allowed(const RuleDef *r, const SearchOpts *o) {
    if ((r->flags & o->required_flags) != o->required_flags) return false;
    if ((r->flags & RULE_PRECISION) && !o->allow_precision) return false;
    return (r->flags & o->forbidden_flags) == 0;
}

/* every legal (rule, site) of g; *out grows as needed */
static int collect_choices(const Graph *g, const SearchOpts *o, Choice **out, int *n, int *cap, bool first_per_rule, Err *err) {
    int n_rules;
    const RuleDef *const *rules = rules_all(&n_rules);
    SiteList sl = {0};
    *n = 0;
    for (int i = 0; i < n_rules; i++) {
        if (!rule_allowed(rules[i], o)) continue;
        if (rule_sites(rules[i], g, &sl, err)) { sitelist_free(&sl); return -1; }
        int take = first_per_rule && sl.n > 0 ? 1 : sl.n;
        for (int k = 0; k < take; k++) {
            if (*n == *cap) {
                int nc = *cap ? 2 * *cap : 64;
                Choice *v = realloc(*out, (size_t)nc * sizeof *v);
                if (!v) { sitelist_free(&sl); return err_set(err, ERR_RUNTIME, "out of memory"); }
                *out = v;
                *cap = nc;
            }
            (*out)[(*n)++] = (Choice){rules[i], sl.v[k]};
        }
    }
    sitelist_free(&sl);
    return 0;
}

/* clone of g with c applied, or NULL (err set) */
static Graph *apply_to_clone(const Graph *g, const Choice *c, Err *err) {
    Graph *x = graph_clone(g, err);
    if (!x) return NULL;
    if (rule_apply(c->r, x, &c->s, err)) { graph_free(x); return NULL; }
    return x;
}

/* Greedy. Each step measures one candidate per applicable rule - the rule's first site: the
   sites of one rule change the graph the same way, and measuring every site of a large model
   each step (ResNet-50: ~150) would spend the budget in one step. Each candidate is compared
   with the current graph by objective_compare_seq (timed alternately until a sequential sign
   test decides); of those decided better, the one with the largest gain is taken when that
   gain exceeds min_gain; the caller never returns a result slower than the input. */
int search_greedy(EvalContext *ctx, const Graph *start, const SearchOpts *o, Graph **best, Evaluation *best_eval,
                  RewriteLog *log, Err *err) {
    Graph *cur = graph_clone(start, err);
    if (!cur) return -1;
    Evaluation cur_eval;
    if (objective_evaluate(ctx, cur, &cur_eval, err)) { graph_free(cur); return -1; }
    Choice *ch = NULL;
    int n = 0, cap = 0;
    while (objective_budget_left(ctx, o->budget)) {
        if (collect_choices(cur, o, &ch, &n, &cap, true, err)) goto fail;
        if (n == 0) break;
        /* each candidate is timed alternately with the current graph: the decision rests on a
           paired comparison, which machine noise disturbs far less than two separate runs */
        Graph *step_best = NULL;
        Evaluation step_eval = {0};
        double step_gain = 0;
        const RuleDef *step_rule = NULL;
        for (int k = 0; k < n && objective_budget_left(ctx, o->budget); k++) {
            Graph *c = apply_to_clone(cur, &ch[k], err);
            if (!c) { graph_free(step_best); goto fail; }
            Evaluation ev, ref_ev;
            SeqDecision dec;
            if (objective_compare_seq(ctx, cur, &cur_eval.acc, c, &ref_ev, &ev, &dec, err)) { graph_free(c); graph_free(step_best); goto fail; }
            double gain = ref_ev.objective - ev.objective;
            /* taken only when the sequential test decided it is better: noise cannot flip it */
            if (ev.feasible && dec == SEQ_NEGATIVE && gain > o->min_gain && (!step_best || gain > step_gain)) {
                graph_free(step_best);
                step_best = c;
                step_eval = ev;
                step_gain = gain;
                step_rule = ch[k].r;
            } else {
                graph_free(c);
            }
        }
        if (!step_best) break;
        graph_free(cur);
        cur = step_best;
        cur_eval = step_eval;
        rewrite_log_add(log, step_rule->name);
    }
    free(ch);
    *best = cur;
    *best_eval = cur_eval;
    return 0;
fail:
    free(ch);
    graph_free(cur);
    return -1;
}

int search_random(EvalContext *ctx, const Graph *start, const SearchOpts *o, Graph **best, Evaluation *best_eval,
                  RewriteLog *log, Err *err) {
    Rng r;
    rng_seed(&r, o->seed ? o->seed : 1);
    Graph *b = graph_clone(start, err);
    if (!b) return -1;
    Evaluation be;
    if (objective_evaluate(ctx, b, &be, err)) { graph_free(b); return -1; }
    RewriteLog best_log = {0};
    Choice *ch = NULL;
    int n = 0, cap = 0;
    if (collect_choices(start, o, &ch, &n, &cap, false, err)) goto fail;
    int max_len = o->max_length > 0 ? o->max_length : 2 * n + 1;
    while (objective_budget_left(ctx, o->budget) && n > 0) {
        Graph *c = graph_clone(start, err);
        if (!c) goto fail;
        RewriteLog seq = {0};
        int len = 1 + (int)rng_below(&r, (uint64_t)max_len);
        for (int step = 0; step < len; step++) {
            int m;
            if (collect_choices(c, o, &ch, &m, &cap, false, err)) { graph_free(c); goto fail; }
            if (m == 0) break;
            Choice pick = ch[rng_below(&r, (uint64_t)m)];
            if (rule_apply(pick.r, c, &pick.s, err)) { graph_free(c); goto fail; }
            rewrite_log_add(&seq, pick.r->name);
        }
        Evaluation ev;
        if (objective_evaluate(ctx, c, &ev, err)) { graph_free(c); goto fail; }
        if (ev.feasible && ev.objective < be.objective) {
            graph_free(b);
            b = c;
            be = ev;
            best_log = seq;
        } else {
            graph_free(c);
        }
    }
    free(ch);
    if (log) *log = best_log;
    *best = b;
    *best_eval = be;
    return 0;
fail:
    free(ch);
    graph_free(b);
    return -1;
}
