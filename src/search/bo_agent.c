/* bo_agent.c - Bayesian optimization of the reward weights with the real black box: for each
 * trial, the policy conditioned on the suggested w optimizes the graph (search_ppo), and the
 * result is measured for real; BO sees ln(latency) or ln(memory) and the budgets as
 * constraints (see bo.h). Trials come in batches that several processes share (BoParallel):
 * each runs its points, the rows are all-gathered, and every process observes them in trial
 * order, so they all keep the same BO state. */
#include "bo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../rewrite/rule.h"

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
    if (ev->acc.labelled) acc = ev->acc.label_drop - b->max_label_drop; /* the labels alone, as accuracy_ok */
    c[n++] = acc;
    if (t->memory_budget_bytes > 0) c[n++] = log(fmax(ev->peak_bytes, 1.0) / t->memory_budget_bytes);
    if (t->latency_budget_ms > 0) c[n++] = log(ev->latency_ms / t->latency_budget_ms);
}

/* A trial's row as the processes exchange it: the table row and the rewrite log, whose rule
   names travel as registry indices (string addresses differ between processes). */
typedef struct WireTrial {
    BoAgentTrial row;
    int valid;
    int log_n, log_total;
    struct { int rule, count; } log[64];
} WireTrial;

static void log_to_wire(const RewriteLog *l, WireTrial *w) {
    int n_rules;
    const RuleDef *const *all = rules_all(&n_rules);
    w->log_total = l->total;
    for (int k = 0; k < l->n && k < 64; k++) {
        int idx = -1;
        for (int i = 0; i < n_rules && idx < 0; i++)
            if (!strcmp(all[i]->name, l->v[k].rule)) idx = i;
        if (idx < 0) continue;
        w->log[w->log_n].rule = idx;
        w->log[w->log_n++].count = l->v[k].count;
    }
}

static void log_from_wire(const WireTrial *w, RewriteLog *l) {
    int n_rules;
    const RuleDef *const *all = rules_all(&n_rules);
    memset(l, 0, sizeof *l);
    for (int k = 0; k < w->log_n; k++)
        if (w->log[k].rule >= 0 && w->log[k].rule < n_rules) {
            l->v[l->n].rule = all[w->log[k].rule]->name;
            l->v[l->n++].count = w->log[k].count;
        }
    l->total = w->log_total;
}

/* one trial: search_ppo conditioned on w, the result measured alone against the original
   graph (every trial's numbers come from the same kind of measurement; the search's own were
   paired with different incumbents); *g receives the result */
static int run_trial(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm, const AgentOpts *ao,
                     const BoTarget *target, int per_trial, int t, const double w[3], Graph **g, WireTrial *out, Err *err) {
    double t0 = now_s();
    ctx->w = (ObjectiveWeights){w[0], w[1], w[2]};
    SearchOpts so = *o;
    so.budget = ctx->evaluations + per_trial;
    so.seed = (o->seed ? o->seed : 1) + (uint64_t)t;
    int ev0 = ctx->evaluations;
    Evaluation sev, ev;
    RewriteLog tlog = {0};
    AgentStats st;
    *g = NULL;
    if (search_ppo(ctx, start, &so, policy, cm, ao, g, &sev, &tlog, &st, err)) return -1;
    /* a graph an earlier trial returned (or measured alone) keeps that measurement */
    if (objective_evaluate_reuse(ctx, *g, &ev, err)) { graph_free(*g); *g = NULL; return -1; }
    BoAgentTrial *row = &out->row;
    memcpy(row->bo.w, w, sizeof row->bo.w);
    row->bo.f = target->objective == BO_OBJECTIVE_MEMORY ? log(fmax(ev.peak_bytes, 1.0)) : log(ev.latency_ms);
    constraint_values(target, &ctx->budget, &ev, row->bo.c);
    row->eval = ev;
    row->rewrites = tlog.total;
    row->evaluations = ctx->evaluations - ev0;
    row->seconds = now_s() - t0;
    out->valid = 1;
    log_to_wire(&tlog, out);
    return 0;
}

int search_ppo_bo(EvalContext *ctx, const Graph *start, const SearchOpts *o, Policy *policy, CostModel *cm, const AgentOpts *ao,
                  const BoTarget *target, int trials, const BoParallel *par, Graph **best, Evaluation *best_eval, RewriteLog *rlog,
                  BoAgentTrial *table, int *best_trial, Err *err) {
    *best = NULL;
    if (trials < 1 || trials > BO_MAX_TRIALS) return err_set(err, ERR_INPUT, "--trials must be in [1, %d]", BO_MAX_TRIALS);
    if (!(target->max_accuracy_drop >= 0 && target->max_accuracy_drop <= 1))
        return err_set(err, ERR_INPUT, "maximum accuracy drop must be in [0, 1]");
    if (target->memory_budget_bytes < 0 || target->latency_budget_ms < 0 || !isfinite(target->memory_budget_bytes) ||
        !isfinite(target->latency_budget_ms))
        return err_set(err, ERR_INPUT, "budgets must be finite and >= 0");
    const PpoComm *comm = par ? par->comm : NULL;
    int size = comm ? comm->size : 1, me = comm ? comm->rank : 0;
    int q = par && par->batch >= 1 ? par->batch : size;
    if (q > 64) return err_set(err, ERR_INPUT, "bayesian optimization: batch of %d trials (at most 64)", q);
    int per_rank = (q + size - 1) / size; /* trials a process runs per round */
    int nc = bo_target_constraints(target, NULL);
    Bo *bo = bo_new(nc, o->seed ? o->seed : 1, err);
    if (!bo) return -1;
    /* one accuracy cache for every trial (they revisit the same precision choices), one
       lookahead memo (they climb from the same graphs with other weights), the graphs every
       trial builds from the start before its episodes, and the lone measurements (every trial
       measures the start graph, and many return the same graph) */
    AgentShared own;
    if (agent_shared_open(ctx, &own, err)) {
        bo_free(bo);
        return -1;
    }
    ObjectiveWeights saved_w = ctx->w;
    AccuracyBudget saved_budget = ctx->budget;
    ctx->budget.min_top1 = 1.0 - target->max_accuracy_drop;
    ctx->budget.max_label_drop = target->max_accuracy_drop;
    /* a trial's search measures the start graph and at least one candidate */
    int per_trial = o->budget >= 2 ? o->budget : 2;
    Graph *keep = NULL;
    Graph **mine = calloc((size_t)per_rank, sizeof *mine);
    WireTrial *send = calloc((size_t)per_rank, sizeof *send);
    WireTrial *recv = calloc((size_t)per_rank * (size_t)size, sizeof *recv);
    Evaluation keep_eval = {0};
    RewriteLog keep_log = {0};
    int keep_idx = -1, rc = -1;
    double keep_f = INFINITY, keep_violation = INFINITY;
    double w[64 * 3], ei[64];
    if (!mine || !send || !recv) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int t = 0; t < trials;) {
        /* the time budget or a cancel request ends the trials: the best one so far is kept
           (the rows after the last trial run stay zero). One process only: under mpirun the
           ranks' clocks would disagree and the next collective would hang */
        if (t > 0 && ctx->stopped && size == 1) break;
        int n = trials - t < q ? trials - t : q;
        double tb = now_s();
        if (bo_suggest_batch(bo, n, w, ei, err)) goto done;
        ctx->times.bo_s += now_s() - tb;
        /* this process's share of the round: point j runs on rank size - 1 - j % size, so a
           short round leaves rank 0 (which goes on to measure and write) idle */
        memset(send, 0, sizeof *send * (size_t)per_rank);
        for (int j = size - 1 - me; j < n; j += size) {
            if (run_trial(ctx, start, o, policy, cm, ao, target, per_trial, t + j, w + 3 * j, &mine[j / size], &send[j / size], err))
                goto done;
            send[j / size].row.rank = me;
        }
        if (comm) {
            if (comm->allgather(comm->ctx, send, recv, sizeof *send * (size_t)per_rank, err)) goto done;
        } else {
            memcpy(recv, send, sizeof *send * (size_t)per_rank);
        }
        /* observed in trial order, identically on every process */
        for (int j = 0; j < n; j++) {
            int runner = size - 1 - j % size;
            const WireTrial *wt = &recv[(size_t)runner * (size_t)per_rank + (size_t)(j / size)];
            if (!wt->valid) { err_set(err, ERR_RUNTIME, "bayesian optimization: trial %d came back empty", t + j); goto done; }
            tb = now_s();
            if (bo_observe(bo, wt->row.bo.w, wt->row.bo.f, wt->row.bo.c, err)) goto done;
            ctx->times.bo_s += now_s() - tb;
            int nt;
            const BoTrial *tr = bo_trials(bo, &nt);
            BoAgentTrial *row = &table[t + j];
            *row = wt->row;
            row->bo = tr[nt - 1];
            double violation = -INFINITY;
            for (int k = 0; k < nc; k++) violation = fmax(violation, row->bo.c[k]);
            bool better = row->bo.ok ? row->bo.f < keep_f : keep_f == INFINITY && violation < keep_violation;
            if (!better) continue;
            graph_free(keep);
            keep = NULL;
            if (runner == me) { /* this process ran it: its graph is the one kept */
                keep = mine[j / size];
                mine[j / size] = NULL;
            }
            keep_eval = row->eval;
            log_from_wire(wt, &keep_log);
            keep_idx = row->bo.ok ? t + j : -1 - (t + j);
            if (row->bo.ok) keep_f = row->bo.f;
            else keep_violation = violation;
        }
        for (int k = 0; k < per_rank; k++) {
            graph_free(mine[k]);
            mine[k] = NULL;
        }
        t += n;
    }
    *best = keep;
    keep = NULL;
    *best_eval = keep_eval;
    if (rlog) *rlog = keep_log;
    if (best_trial) *best_trial = keep_idx;
    rc = 0;
done:
    if (mine)
        for (int k = 0; k < per_rank; k++) graph_free(mine[k]);
    free(mine);
    free(send);
    free(recv);
    graph_free(keep);
    bo_free(bo);
    agent_shared_close(ctx, &own);
    ctx->w = saved_w;
    ctx->budget = saved_budget;
    return rc;
}
