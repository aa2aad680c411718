/* bo_agent.c - Bayesian optimization of the reward weights with the real black box: for each
 * trial, the policy conditioned on the suggested w optimizes the graph (search_ppo), and the
 * result is measured for real; BO sees ln(latency) or ln(memory) and the budgets as
 * constraints (see bo.h). */
#include "bo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int bo_target_constraints(const BoTarget *t, const char *names[BO_MAX_CONSTRAINTS]) {
    int n = 0;
    const char *tmp[BO_MAX_CONSTRAINTS];
    if (!names) names = tmp;
    names[n++] = "accuracy";
    if (t->memory_budget_bytes > 0) names[n++] = "memory";
    if (t->latency_budget_ms > 0) names[n++] = "latency";
    return n;
}

/* constraint values for a measured graph, in bo_target_constraints' order */
static void constraint_values(const BoTarget *t, const AccuracyBudget *b, const Evaluation *ev, double *c) {
    int n = 0;
    double acc = b->min_cosine - ev->acc.min_cosine;
    if (ev->acc.top1_agreement >= 0) acc = fmax(acc, b->min_top1 - ev->acc.top1_agreement);
    c[n++] = acc;
    if (t->memory_budget_bytes > 0) c[n++] = log(fmax(ev->peak_bytes, 1.0) / t->memory_budget_bytes);
    if (t->latency_budget_ms > 0) c[n++] = log(ev->latency_ms / t->latency_budget_ms);
}

int search_ppo_bo(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm, const AgentOpts *ao,
                  const BoTarget *target, int trials, Graph **best, Evaluation *best_eval, RewriteLog *rlog, BoAgentTrial *table,
                  int *best_trial, Err *err) {
    if (trials < 1 || trials > BO_MAX_TRIALS) return err_set(err, ERR_INPUT, "--trials must be in [1, %d]", BO_MAX_TRIALS);
    if (!(target->max_accuracy_drop >= 0 && target->max_accuracy_drop <= 1))
        return err_set(err, ERR_INPUT, "maximum accuracy drop must be in [0, 1]");
    if (target->memory_budget_bytes < 0 || target->latency_budget_ms < 0 || !isfinite(target->memory_budget_bytes) ||
        !isfinite(target->latency_budget_ms))
        return err_set(err, ERR_INPUT, "budgets must be finite and >= 0");
    int nc = bo_target_constraints(target, NULL);
    Bo *bo = bo_new(nc, o->seed ? o->seed : 1, err);
    if (!bo) return -1;
    ObjectiveWeights saved_w = ctx->w;
    AccuracyBudget saved_budget = ctx->budget;
    ctx->budget.min_top1 = 1.0 - target->max_accuracy_drop;
    /* a trial's search measures the start graph and at least one candidate */
    int per_trial = o->budget >= 2 ? o->budget : 2;
    Graph *keep = NULL;
    Evaluation keep_eval = {0};
    RewriteLog keep_log = {0};
    int keep_idx = -1, rc = -1;
    double keep_f = INFINITY, keep_violation = INFINITY;
    for (int t = 0; t < trials; t++) {
        double t0 = now_s(), w[3], ei;
        if (bo_suggest(bo, w, &ei, err)) goto done;
        ctx->w = (ObjectiveWeights){w[0], w[1], w[2]};
        SearchOpts so = *o;
        so.budget = ctx->evaluations + per_trial;
        so.seed = (o->seed ? o->seed : 1) + (uint64_t)t;
        int ev0 = ctx->evaluations;
        Graph *g = NULL;
        Evaluation sev, ev;
        RewriteLog tlog = {0};
        AgentStats st;
        if (search_ppo(ctx, start, &so, policy, cm, ao, &g, &sev, &tlog, &st, err)) goto done;
        /* measured alone, against the original graph: every trial's numbers come from the same
           kind of measurement (the search's own were paired with different incumbents) */
        if (objective_evaluate(ctx, g, &ev, err)) { graph_free(g); goto done; }
        double f = target->objective == BO_OBJECTIVE_MEMORY ? log(fmax(ev.peak_bytes, 1.0)) : log(ev.latency_ms);
        double c[BO_MAX_CONSTRAINTS] = {0};
        constraint_values(target, &ctx->budget, &ev, c);
        if (bo_observe(bo, w, f, c, err)) { graph_free(g); goto done; }
        int n;
        const BoTrial *tr = bo_trials(bo, &n);
        BoAgentTrial *row = &table[t];
        row->bo = tr[n - 1];
        row->eval = ev;
        row->rewrites = tlog.total;
        row->evaluations = ctx->evaluations - ev0;
        row->seconds = now_s() - t0;
        double violation = -INFINITY;
        for (int k = 0; k < nc; k++) violation = fmax(violation, c[k]);
        bool better = row->bo.ok ? f < keep_f : keep_f == INFINITY && violation < keep_violation;
        if (better) {
            graph_free(keep);
            keep = g;
            g = NULL;
            keep_eval = ev;
            keep_log = tlog;
            keep_idx = row->bo.ok ? t : -1 - t;
            if (row->bo.ok) keep_f = f;
            else keep_violation = violation;
        }
        graph_free(g);
    }
    *best = keep;
    keep = NULL;
    *best_eval = keep_eval;
    if (rlog) *rlog = keep_log;
    if (best_trial) *best_trial = keep_idx;
    rc = 0;
done:
    graph_free(keep);
    bo_free(bo);
    ctx->w = saved_w;
    ctx->budget = saved_budget;
    return rc;
}
