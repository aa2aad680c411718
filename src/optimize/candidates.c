/* candidates.c - what keeps a search honest (see candidates.h): the fixed pipelines' results
 * carried as candidates of every search and measured side by side with its result, and the
 * final "is it faster?" of optimize_run decided by a sequential test that noise cannot flip,
 * on a machine whose load is looked at. */
#include "candidates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../measure/cost.h"
#include "sensitivity.h"

/* The fixed pipelines every search carries, in order of preference on ties. Precision ones are
   carried only when the search may change precision (not --exact-only, not --target tf, no user
   metric judging later). The sensitivity baseline (`--search sensitivity`'s result with the same
   options, sensitivity.h) starts from grappler+int8's graph and differs from it only when that
   graph misses the accuracy budget: it is produced only then (one judgement decides), and not
   carried when it kept every node fp32 (then it is grappler's graph). */
static const OptimizeMethod carried_methods[] = {OPTIMIZE_GRAPPLER, OPTIMIZE_GRAPPLER_INT8, OPTIMIZE_SENSITIVITY};
#define N_CARRIED ((int)(sizeof carried_methods / sizeof carried_methods[0]))

static bool method_changes_precision(OptimizeMethod m) { return m == OPTIMIZE_GRAPPLER_INT8 || m == OPTIMIZE_SENSITIVITY; }

/* the sensitivity baseline would only repeat the graphs already carried: grappler+int8's meets
   the accuracy budget (its first candidate), or it was not produced here */
static int sensitivity_redundant(OptimizeSession *s, const OptimizeProduct *int8, bool *redundant, Err *err) {
    *redundant = true;
    if (!int8->graph) return 0;
    OptimizeJudgement j;
    if (optimize_session_judge(s, int8->graph, &j, err)) return -1;
    *redundant = j.ok;
    return 0;
}

/* a sensitivity product that reverted every node is grappler's graph again */
static bool sensitivity_all_fp32(const OptimizeProduct *p) {
    return p->sensitivity && p->sensitivity->reverted >= p->sensitivity->n;
}

/* the median or the peak, whichever the objective minimizes */
static double score_of(const OptimizeOpts *o, const OptimizeMeasured *m) {
    return o->minimize_memory && o->method == OPTIMIZE_PPO_BO ? (double)m->lat.peak_bytes : m->lat.ms.median;
}

int optimize_carry_baselines(OptimizeSession *s, const OptimizeOpts *o, OptimizeProduct *out, Err *err) {
    if (!optimize_method_is_search(o->method) || !out->root || !out->graph) return 0;
    OptimizeProduct prod[N_CARRIED];
    memset(prod, 0, sizeof prod);
    const Graph *g[N_CARRIED + 1];
    OptimizeMeasured m[N_CARRIED + 1];
    memset(m, 0, sizeof m);
    int from[N_CARRIED + 1], n = 0, rc = -1;
    bool precision_ok = !o->exact_only && !o->target_tf && !o->metric;
    g[n] = out->graph;
    from[n++] = -1;
    for (int k = 0; k < N_CARRIED; k++) {
        if (method_changes_precision(carried_methods[k]) && !precision_ok) continue;
        OptimizeOpts bo = *o;
        bo.method = carried_methods[k];
        Err e = {0};
        if (carried_methods[k] == OPTIMIZE_SENSITIVITY) {
            bool redundant;
            int k8 = 0;
            while (carried_methods[k8] != OPTIMIZE_GRAPPLER_INT8) k8++;
            if (sensitivity_redundant(s, &prod[k8], &redundant, err)) goto done;
            if (redundant) continue;
        }
        /* a pipeline that cannot run here (no calibration data, ...) is simply not carried */
        if (optimize_session_produce(s, &bo, &prod[k], &e)) { optimize_product_free(&prod[k]); continue; }
        if (prod[k].log.total == 0 || sensitivity_all_fp32(&prod[k])) continue;
        g[n] = prod[k].graph;
        from[n++] = k;
    }
    if (n == 1) { rc = 0; goto done; }
    for (int i = 0; i < n; i++) m[i].ok = true;
    if (optimize_measure_all(s, g, n, m, err)) goto done;
    /* kept[i]: within the accuracy budget as the final judgement decides (the labels when the
       user gave them: a fidelity check would refuse an int8 graph that keeps top-1) */
    bool kept[N_CARRIED + 1];
    for (int i = 0; i < n; i++)
        if (optimize_measured_kept(s, &m[i], &kept[i], err)) goto done;
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!kept[i]) continue;
        /* the search's own result is index 0 and wins ties */
        if (best < 0 || score_of(o, &m[i]) < score_of(o, &m[best])) best = i;
    }
    out->n_carried = 0;
    for (int i = 1; i < n && out->n_carried < OPTIMIZE_MAX_CARRIED; i++) {
        OptimizeCarried *c = &out->carried[out->n_carried++];
        c->method = optimize_method_name(carried_methods[from[i]]);
        c->pipeline = prod[from[i]].pipeline;
        c->measured = m[i].ok;
        c->accuracy_ok = kept[i];
        c->median_ms = m[i].ok ? m[i].lat.ms.median : NAN;
        c->kept = i == best;
    }
    out->search_median_ms = m[0].ok ? m[0].lat.ms.median : NAN;
    if (best > 0) {
        int k = from[best];
        graph_free(out->graph);
        out->graph = prod[k].graph;
        prod[k].graph = NULL;
        out->log = prod[k].log;
        out->carried_from = optimize_method_name(carried_methods[k]);
        if (prod[k].sensitivity && !out->sensitivity) { /* the report's per-node table */
            out->sensitivity = prod[k].sensitivity;
            prod[k].sensitivity = NULL;
        }
        snprintf(out->note, sizeof out->note, "the %s pipeline's result measured faster than the search's: kept", prod[k].pipeline);
    }
    rc = 0;
done:
    optimize_measured_free(m, n);
    for (int k = 0; k < N_CARRIED; k++) optimize_product_free(&prod[k]);
    return rc;
}

/* every rule of the log is exact */
static bool log_is_exact(const RewriteLog *l) {
    for (int k = 0; k < l->n; k++) {
        const RuleDef *r = rule_by_name(l->v[k].rule);
        if (!r || !(r->flags & RULE_EXACT) || (r->flags & RULE_PRECISION)) return false;
    }
    return l->total > 0;
}

/* the roofline rates cand faster than orig */
static int roofline_faster(const Graph *orig, const Graph *cand, bool *faster, Err *err) {
    CostOpts co = {.backend = COST_ROOFLINE, .threads = 1};
    CostModel *roof = cost_open(&co, err);
    if (!roof) return -1;
    CostEstimate a, b;
    int rc = cost_estimate(roof, orig, &a, NULL, err) || cost_estimate(roof, cand, &b, NULL, err) ? -1 : 0;
    *faster = !rc && b.latency_ms < a.latency_ms;
    cost_close(roof);
    return rc;
}

int optimize_decide_faster(const OptimizeSession *s, const OptimizeOpts *o, const Graph *orig, const Graph *cand,
                           const RewriteLog *rlog, const double *before, const double *after, int n, int threads,
                           OptimizeSpeedVerdict *v, Err *err) {
    memset(v, 0, sizeof *v);
    /* the fixed-repeat rounds are the first look at alpha / 2; a fresh sequential test spends
       the other alpha / 2 (Bonferroni: at most alpha in all, see stats.h) */
    SeqSignOpts first = stats_seq_sign_default();
    first.alpha /= 2;
    first.first = first.max = n;
    double *d = malloc(sizeof *d * (size_t)(n > 0 ? n : 1));
    if (!d) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++) d[i] = log(after[i] / before[i]);
    v->decision = stats_seq_sign_decide(&first, d, n, &v->p);
    free(d);
    v->rounds = n;
    if (v->decision == SEQ_UNDECIDED) {
        SeqSignOpts more = stats_seq_sign_default();
        more.alpha /= 2;
        more.first = n > 8 ? n : 8;
        more.max = 4 * more.first;
        SeqCompare cmp;
        if (latency_compare_seq(orig, cand, optimize_session_eval(s), threads, &more, NULL, NULL, &cmp, err)) return -1;
        v->decision = cmp.decision;
        v->p = cmp.p;
        v->rounds += cmp.rounds;
        v->busy = cmp.busy;
    }
    v->faster = v->decision == SEQ_NEGATIVE;
    if (v->decision == SEQ_UNDECIDED && log_is_exact(rlog)) {
        /* exact rewrites the roofline rates faster (Grappler's fixed point) are not given up
           because the measurement could not tell the two apart */
        bool roof = false;
        if (roofline_faster(orig, cand, &roof, err)) return -1;
        v->trusted = roof;
        v->faster = roof;
    }
    (void)o;
    return 0;
}

int optimize_timing_threads(const OptimizeOpts *o, bool *busy) {
    MachineLoad l = machine_load_sample(OPTIMIZE_LOAD_PROBE_MS);
    *busy = machine_load_busy(&l);
    return machine_timing_threads(&l, o->threads);
}
