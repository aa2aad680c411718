/* sensitivity.c - per-node int8 sensitivity and the `sensitivity` search (see sensitivity.h). */
#include "sensitivity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../graph/op.h"
#include "../measure/cost.h"
#include "../runtime/dnn_common.h"

/* the int8 rules grappler+int8 applies on this CPU (pipeline.c: int8_rules / int7_rules); an
   embedding table (quantize_gather_int8: its site's anchor is the table Const) is a node like
   a conv or matmul */
enum { N_QUANT_RULES = 3 };
static void quant_rules(const RuleDef *r[N_QUANT_RULES], const char **variant) {
    bool vnni = dnn_cpu_has_vnni();
    r[0] = rule_by_name(vnni ? "quantize_conv_int8" : "quantize_conv_int7");
    r[1] = rule_by_name(vnni ? "quantize_matmul_int8" : "quantize_matmul_int7");
    r[2] = rule_by_name("quantize_gather_int8");
    *variant = vnni ? "int8" : "int7";
}

void sensitivity_free(Sensitivity *x) {
    if (!x) return;
    for (int i = 0; i < x->n; i++) free(x->nodes[i].name);
    free(x->nodes);
    free(x);
}

/* the fp32 start graph: the calibrated input after the grappler pipeline */
static Graph *start_graph(const Graph *calibrated, RewriteLog *log, Err *err) {
    Graph *g = graph_clone(calibrated, err);
    if (g && pipeline_run("grappler", g, 0, log, err)) {
        graph_free(g);
        return NULL;
    }
    return g;
}

/* every quantizable node of g (the quantization rules' sites), unranked */
static Sensitivity *collect_nodes(const Graph *g, Err *err) {
    Sensitivity *x = calloc(1, sizeof *x);
    if (!x) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    const RuleDef *rules[N_QUANT_RULES];
    quant_rules(rules, &x->variant);
    SiteList sl = {0};
    for (int r = 0; r < N_QUANT_RULES; r++) {
        if (rule_sites(rules[r], g, &sl, err)) goto fail;
        SensitivityNode *v = realloc(x->nodes, sizeof *v * (size_t)(x->n + sl.n + 1));
        if (!v) { err_set(err, ERR_RUNTIME, "out of memory"); goto fail; }
        x->nodes = v;
        for (int k = 0; k < sl.n; k++) {
            const Node *n = g->nodes[sl.v[k].nodes[0]];
            SensitivityNode *sn = &x->nodes[x->n];
            memset(sn, 0, sizeof *sn);
            sn->name = strdup(n->name);
            if (!sn->name) { err_set(err, ERR_RUNTIME, "out of memory"); goto fail; }
            sn->op = op_def(n->op)->tf_name; /* static: the start graph is freed before the ranking */
            sn->rule = rules[r]->name;
            x->n++;
        }
    }
    sitelist_free(&sl);
    return x;
fail:
    sitelist_free(&sl);
    sensitivity_free(x);
    return NULL;
}

/* A clone of start with exactly the nodes i with quant[i] quantized, each by its rule (every
   other site left alone), to a fixed point as pipeline_fixed_point does, then grappler+int8's
   exact clean-ups (requantize chains, residual adds), so "all int8" is the graph grappler+int8
   makes; log counts them. */
static Graph *quantize_set(const Graph *start, const Sensitivity *x, const bool *quant, RewriteLog *log, Err *err) {
    Graph *g = graph_clone(start, err);
    if (!g) return NULL;
    const RuleDef *rules[N_QUANT_RULES];
    const char *variant;
    quant_rules(rules, &variant);
    SiteList sl = {0};
    for (int pass = 0, changed = 1; changed && pass < 4; pass++) {
        changed = 0;
        for (int r = 0; r < N_QUANT_RULES; r++)
            for (int guard = 0; guard < 2 * g->n_nodes + 16; guard++) {
                if (rule_sites(rules[r], g, &sl, err)) goto fail;
                int pick = -1;
                for (int k = 0; k < sl.n && pick < 0; k++) {
                    const char *name = g->nodes[sl.v[k].nodes[0]]->name;
                    for (int i = 0; i < x->n; i++)
                        if (quant[i] && x->nodes[i].rule == rules[r]->name && !strcmp(x->nodes[i].name, name)) { pick = k; break; }
                }
                if (pick < 0) break;
                if (rule_apply(rules[r], g, &sl.v[pick], err)) goto fail;
                rewrite_log_add(log, rules[r]->name);
                changed++;
            }
    }
    sitelist_free(&sl);
    if (pipeline_int8_cleanup(g, log, err)) {
        graph_free(g);
        return NULL;
    }
    return g;
fail:
    sitelist_free(&sl);
    graph_free(g);
    return NULL;
}

/* most sensitive first: unjudged nodes, then larger drop, lower cosine, smaller gain, name */
static int cmp_sensitive(const void *pa, const void *pb) {
    const SensitivityNode *a = pa, *b = pb;
    if (a->judged != b->judged) return a->judged ? 1 : -1;
    if (a->judged) {
        if (a->judge.drop != b->judge.drop) return a->judge.drop > b->judge.drop ? -1 : 1;
        if (a->judge.acc.min_cosine != b->judge.acc.min_cosine) return a->judge.acc.min_cosine < b->judge.acc.min_cosine ? -1 : 1;
        if (a->gain_ms != b->gain_ms) return a->gain_ms < b->gain_ms ? -1 : 1;
    }
    return strcmp(a->name, b->name);
}

static CostModel *open_cost(const OptimizeOpts *o, const char **kind, Err *err) {
    *kind = o->cost_roofline ? "roofline" : "measured";
    CostOpts co = {.backend = o->cost_roofline ? COST_ROOFLINE : COST_MEASURED, .threads = o->threads, .cache_dir = o->cost_cache};
    return cost_open(&co, err);
}

/* judges each node of x quantized alone in start (while the budget lasts), estimates its
   gain, and sorts x */
static int rank_nodes(OptimizeSession *s, EvalContext *ctx, int budget, const Graph *start, Sensitivity *x, Err *err) {
    const OptimizeOpts *o = optimize_session_opts(s);
    const char *kind;
    CostModel *own = NULL, *cm = o->cost_model;
    if (!cm && !(cm = own = open_cost(o, &kind, err))) return -1;
    x->cost = o->cost_model ? "given" : kind;
    bool *quant = calloc((size_t)x->n + 1, sizeof *quant);
    int rc = -1;
    CostEstimate est;
    if (!quant) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    if (cost_estimate(cm, start, &est, NULL, err)) goto done;
    x->fp32_ms = est.latency_ms;
    for (int i = 0; i < x->n && objective_budget_left(ctx, budget); i++) {
        SensitivityNode *sn = &x->nodes[i];
        quant[i] = true;
        Graph *g = quantize_set(start, x, quant, NULL, err);
        quant[i] = false;
        if (!g) { err_prefix(err, "quantizing '%s'", sn->name); goto done; }
        int r = cost_estimate(cm, g, &est, NULL, err);
        if (!r) r = optimize_session_judge(s, g, &sn->judge, err);
        graph_free(g);
        if (r) { err_prefix(err, "judging '%s' quantized", sn->name); goto done; }
        sn->quant_ms = est.latency_ms;
        sn->gain_ms = x->fp32_ms - est.latency_ms;
        sn->judged = true;
        x->judged++;
        objective_count(ctx);
    }
    qsort(x->nodes, (size_t)x->n, sizeof *x->nodes, cmp_sensitive);
    rc = 0;
done:
    free(quant);
    cost_close(own);
    return rc;
}

/* the OptimizeOpts progress callback as an EvalContext's ("sensitivity", judged, planned) */
static int rank_progress(void *user, int done, int total) {
    const OptimizeOpts *o = user;
    return o->progress("sensitivity", done, total, o->progress_user);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int sensitivity_rank(OptimizeSession *s, Sensitivity **out, Err *err) {
    *out = NULL;
    const OptimizeOpts *o = optimize_session_opts(s);
    double t0 = now_ms();
    if (optimize_session_calibrate(s, err)) return -1;
    Graph *start = start_graph(optimize_session_calibrated(s), NULL, err);
    if (!start) return -1;
    Sensitivity *x = collect_nodes(start, err);
    int rc = -1;
    if (!x) goto done;
    EvalContext ctx = {.deadline_ms = o->time_budget_s > 0 ? t0 + 1e3 * o->time_budget_s : 0, .progress_budget = x->n};
    if (o->progress) {
        ctx.progress = rank_progress;
        ctx.progress_user = (void *)o;
    }
    if (rank_nodes(s, &ctx, x->n, start, x, err)) goto done;
    *out = x;
    x = NULL;
    rc = 0;
done:
    sensitivity_free(x);
    graph_free(start);
    return rc;
}

static int ceil_log2(int n) {
    int k = 0;
    while ((1 << k) < n) k++;
    return k;
}

/* the graph with every node quantized except the k most sensitive; judged (one evaluation) */
static Graph *quantize_all_but(const Graph *start, const Sensitivity *x, int k, bool *quant, OptimizeSession *s, EvalContext *ctx,
                               OptimizeJudgement *j, RewriteLog *log, Err *err) {
    for (int i = 0; i < x->n; i++) quant[i] = i >= k;
    *log = (RewriteLog){0};
    Graph *g = quantize_set(start, x, quant, log, err);
    if (g && optimize_session_judge(s, g, j, err)) {
        graph_free(g);
        g = NULL;
    }
    if (g) objective_count(ctx);
    return g;
}

int search_sensitivity(OptimizeSession *s, EvalContext *ctx, const Graph *calibrated, OptimizeProduct *out, Err *err) {
    const OptimizeOpts *o = optimize_session_opts(s);
    RewriteLog glog = {0};
    Graph *start = start_graph(calibrated, &glog, err), *best = NULL;
    if (!start) return -1;
    Sensitivity *x = collect_nodes(start, err);
    bool *quant = x ? calloc((size_t)x->n + 1, sizeof *quant) : NULL;
    int rc = -1, budget = o->budget;
    RewriteLog best_log = {0}, log; /* the quantizations and clean-ups of the kept graph */
    if (!x) goto done;
    if (!quant) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    x->searched = true;
    out->sensitivity = x;
    out->pipeline = !strcmp(x->variant, "int8") ? "grappler+sensitivity int8" : "grappler+sensitivity int7";
    if (strcmp(x->variant, "int8")) snprintf(out->note, sizeof out->note, "7-bit weights: this CPU has no VNNI");
    if (x->n == 0) {
        /* nothing to quantize: the fp32 start graph is the answer */
        out->planned = 0;
        best = start;
        start = NULL;
        rc = 0;
        goto done;
    }
    /* all int8 first: the graph grappler+int8 makes */
    out->planned = 1 + x->n + ceil_log2(x->n);
    if (out->planned > budget) out->planned = budget;
    ctx->progress_budget = out->planned;
    Graph *all = quantize_all_but(start, x, 0, quant, s, ctx, &x->all_int8, &log, err);
    if (!all) goto done;
    x->all_int8_ok = x->all_int8.ok;
    if (x->all_int8_ok && out->planned > 1 + x->n) out->planned = ctx->progress_budget = 1 + x->n; /* no bisection */
    int hi = x->n; /* the fewest nodes kept fp32 known to meet the budget (n: the start graph) */
    if (x->all_int8_ok) {
        best = all;
        best_log = log;
        hi = 0;
    } else {
        graph_free(all);
    }
    /* the ranking: each node alone (the report's table even when all int8 passed) */
    if (rank_nodes(s, ctx, budget, start, x, err)) goto done;
    /* bisection over k, the number of most sensitive nodes kept fp32: f(lo) fails, f(hi) passes */
    for (int lo = 0; hi - lo > 1 && x->judged == x->n && objective_budget_left(ctx, budget);) {
        int mid = lo + (hi - lo) / 2;
        OptimizeJudgement j;
        Graph *g = quantize_all_but(start, x, mid, quant, s, ctx, &j, &log, err);
        if (!g) goto done;
        if (j.ok) {
            graph_free(best);
            best = g;
            best_log = log;
            hi = mid;
        } else {
            graph_free(g);
            lo = mid;
        }
    }
    if (!best) { /* none passed: the fp32 start graph */
        best = start;
        start = NULL;
    }
    x->reverted = hi;
    for (int i = 0; i < x->n; i++) x->nodes[i].kept_fp32 = i < hi;
    rc = 0;
done:
    if (!rc) {
        /* the log: grappler's rules, then the quantizations and clean-ups the kept graph carries */
        out->log = glog;
        rewrite_log_merge(&out->log, &best_log);
        out->graph = best;
        best = NULL;
    }
    graph_free(best);
    graph_free(start);
    free(quant);
    if (rc && x && out->sensitivity != x) sensitivity_free(x);
    return rc;
}

int sensitivity_scores(const Sensitivity *x, const Graph *g, double *score) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) score[i] = -1;
    for (int k = 0; x && k < x->n; k++) {
        if (!x->nodes[k].judged) continue;
        int i = graph_find(g, x->nodes[k].name);
        if (i < 0) continue;
        score[i] = x->nodes[k].judge.drop > 0 ? x->nodes[k].judge.drop : 0;
        n++;
    }
    return n;
}
