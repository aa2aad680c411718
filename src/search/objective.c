/* objective.c - evaluating one candidate graph (see objective.h). */
#include "objective.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "../util/hash.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool objective_budget_left(EvalContext *ctx, int budget) {
    if (ctx->stopped || ctx->evaluations >= budget) return false;
    if (ctx->deadline_ms <= 0) return true;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6 < ctx->deadline_ms) return true;
    ctx->stopped = OBJECTIVE_STOP_TIME;
    return false;
}

double objective_accuracy_drop(const AccuracyResult *acc) {
    double d = acc->labelled ? acc->label_drop : acc->top1_agreement >= 0 ? 1.0 - acc->top1_agreement : 1.0 - acc->min_cosine;
    return d > 0 ? d : 0;
}

ObjectiveWeights objective_default_weights(void) { return (ObjectiveWeights){1.0, 0.1, 10.0}; }

static void finish(const EvalContext *ctx, const LatencyResult *lat, Evaluation *out) {
    out->latency_ms = lat->ms.median;
    out->peak_bytes = (double)lat->peak_bytes;
    out->accuracy_drop = objective_accuracy_drop(&out->acc);
    out->feasible = accuracy_ok(&out->acc, &ctx->budget);
    out->objective = ctx->w.w_lat * log(out->latency_ms) + ctx->w.w_mem * log(out->peak_bytes > 1 ? out->peak_bytes : 1) +
                     ctx->w.w_acc * out->accuracy_drop;
}

/* a cancel request stops the search; the evaluation itself succeeded and stays usable */
static int tell(EvalContext *ctx, Err *err) {
    (void)err;
    if (ctx->progress && ctx->progress(ctx->progress_user, ctx->evaluations, ctx->progress_budget)) ctx->stopped = OBJECTIVE_STOP_CANCELLED;
    return 0;
}

void objective_count(EvalContext *ctx) {
    ctx->evaluations++;
    tell(ctx, NULL);
}

uint64_t objective_precision_signature(const Graph *g) {
    uint64_t sig = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        bool p = n->op == OP_GRAPPO_QCONV2D || n->op == OP_GRAPPO_QMATMUL || n->op == OP_GRAPPO_QUANTIZE ||
                 n->op == OP_GRAPPO_DEQUANTIZE || n->op == OP_CAST;
        for (int k = 0; k < n->n_outputs && !p; k++) {
            int dt = n->outputs[k].dtype;
            p = dt == DT_BFLOAT16 || dt == DT_HALF || dt == DT_INT8 || dt == DT_UINT8;
        }
        if (p) sig += fnv1a64_str(fnv1a64_str(FNV1A_OFFSET, n->name), n->op_name) | 1;
    }
    return sig;
}

typedef struct AccuracyEntry { uint64_t sig; AccuracyResult acc; } AccuracyEntry;

struct AccuracyCache {
    Tensor *ref; /* ctx->original's outputs on ctx->inputs (computed on first need) */
    int ref_batches, ref_outputs;
    AccuracyEntry *v;
    int n, cap;
};

AccuracyCache *objective_accuracy_cache_new(void) { return calloc(1, sizeof(AccuracyCache)); }

void objective_accuracy_cache_free(AccuracyCache *c) {
    if (!c) return;
    accuracy_reference_free(c->ref, c->ref_batches, c->ref_outputs);
    free(c->v);
    free(c);
}

static const AccuracyEntry *cache_find(const AccuracyCache *c, uint64_t sig) {
    for (int i = 0; c && i < c->n; i++)
        if (c->v[i].sig == sig) return &c->v[i];
    return NULL;
}

bool objective_accuracy_known(const EvalContext *ctx, const Graph *g) {
    return ctx->acc_cache && cache_find(ctx->acc_cache, objective_precision_signature(g));
}

bool objective_accuracy_lookup(EvalContext *ctx, uint64_t sig, AccuracyResult *acc) {
    const AccuracyEntry *hit = cache_find(ctx->acc_cache, sig);
    if (!hit) return false;
    *acc = hit->acc;
    ctx->times.accuracy_hits++;
    return true;
}

/* g's fidelity to ctx->original against its outputs ref and, with ctx->label_drop, the labelled
   drop scored on the same run's outputs */
static int judge_against(EvalContext *ctx, const Tensor *ref, const Graph *g, AccuracyResult *acc, Err *err) {
    Tensor *outs = NULL;
    int threads = load_threads_now(&ctx->acc_threads, ctx->threads);
    if (accuracy_against_keep(ctx->original, ref, g, ctx->inputs, threads, acc, ctx->label_drop ? &outs : NULL, err)) return -1;
    if (!ctx->label_drop) return 0;
    int rc = ctx->label_drop(ctx->label_user, g, outs, ctx->inputs->n_batches, &acc->label_drop, err);
    accuracy_reference_free(outs, ctx->inputs->n_batches, g->n_outputs);
    acc->labelled = rc == 0;
    return rc;
}

int objective_accuracy(EvalContext *ctx, const Graph *g, AccuracyResult *acc, Err *err) {
    AccuracyCache *c = ctx->acc_cache;
    if (!c && !ctx->label_drop) return accuracy_measure(ctx->original, g, ctx->inputs, load_threads_now(&ctx->acc_threads, ctx->threads), acc, err);
    if (!c) { /* labels without a cache: the reference outputs for this one judgement */
        Tensor *ref = NULL;
        if (accuracy_reference(ctx->original, ctx->inputs, load_threads_now(&ctx->acc_threads, ctx->threads), &ref, err)) return -1;
        int rc = judge_against(ctx, ref, g, acc, err);
        accuracy_reference_free(ref, ctx->inputs->n_batches, ctx->original->n_outputs);
        return rc;
    }
    uint64_t sig = objective_precision_signature(g);
    const AccuracyEntry *hit = cache_find(c, sig);
    if (hit) {
        *acc = hit->acc;
        ctx->times.accuracy_hits++;
        return 0;
    }
    if (g->n_outputs != ctx->original->n_outputs)
        return err_set(err, ERR_INPUT, "candidate has %d outputs, original %d", g->n_outputs, ctx->original->n_outputs);
    if (!c->ref) {
        if (accuracy_reference(ctx->original, ctx->inputs, load_threads_now(&ctx->acc_threads, ctx->threads), &c->ref, err)) { c->ref = NULL; return -1; }
        c->ref_batches = ctx->inputs->n_batches;
        c->ref_outputs = ctx->original->n_outputs;
    }
    if (judge_against(ctx, c->ref, g, acc, err)) return -1;
    ctx->times.accuracy_runs++;
    if (c->n == c->cap) {
        int nc = c->cap ? 2 * c->cap : 16;
        AccuracyEntry *v = realloc(c->v, (size_t)nc * sizeof *v);
        if (!v) return err_set(err, ERR_RUNTIME, "out of memory");
        c->v = v;
        c->cap = nc;
    }
    c->v[c->n++] = (AccuracyEntry){sig, *acc};
    return 0;
}

static int evaluate_alone(EvalContext *ctx, const Graph *g, Evaluation *out, LatencyResult *lat, Err *err) {
    double t0 = now_s();
    if (latency_measure(&g, 1, ctx->inputs, ctx->repeats, ctx->threads, lat, err)) return -1;
    double t1 = now_s();
    ctx->times.timing_s += t1 - t0;
    if (objective_accuracy(ctx, g, &out->acc, err)) return -1;
    ctx->times.accuracy_s += now_s() - t1;
    ctx->evaluations++;
    finish(ctx, lat, out);
    return tell(ctx, err);
}

int objective_evaluate(EvalContext *ctx, const Graph *g, Evaluation *out, Err *err) {
    LatencyResult lat;
    return evaluate_alone(ctx, g, out, &lat, err);
}

typedef struct MeasuredEntry {
    uint64_t hash;
    int n_nodes, repeats, threads;
    const InputSet *inputs;
    LatencyResult lat;
    AccuracyResult acc;
} MeasuredEntry;

struct MeasuredGraphs {
    MeasuredEntry *v;
    int n, cap;
};

MeasuredGraphs *objective_measured_new(void) { return calloc(1, sizeof(MeasuredGraphs)); }

void objective_measured_free(MeasuredGraphs *m) {
    if (!m) return;
    free(m->v);
    free(m);
}

int objective_evaluate_reuse(EvalContext *ctx, const Graph *g, Evaluation *out, Err *err) {
    MeasuredGraphs *m = ctx->measured;
    if (!m) return objective_evaluate(ctx, g, out, err);
    uint64_t h = graph_structure_hash(g);
    for (int i = 0; i < m->n; i++) {
        const MeasuredEntry *e = &m->v[i];
        if (e->hash == h && e->n_nodes == g->n_nodes && e->repeats == ctx->repeats && e->threads == ctx->threads &&
            e->inputs == ctx->inputs) {
            out->acc = e->acc;
            finish(ctx, &e->lat, out);
            ctx->times.evaluations_reused++;
            return 0;
        }
    }
    LatencyResult lat;
    if (evaluate_alone(ctx, g, out, &lat, err)) return -1;
    if (m->n == m->cap) {
        int nc = m->cap ? 2 * m->cap : 8;
        MeasuredEntry *v = realloc(m->v, (size_t)nc * sizeof *v);
        if (!v) return 0; /* not remembered: measured again next time */
        m->v = v;
        m->cap = nc;
    }
    m->v[m->n++] = (MeasuredEntry){h, g->n_nodes, ctx->repeats, ctx->threads, ctx->inputs, lat, out->acc};
    return 0;
}

int objective_evaluate_pair(EvalContext *ctx, const Graph *ref, const AccuracyResult *ref_acc, const Graph *cand,
                            Evaluation *ref_out, Evaluation *cand_out, Err *err) {
    const Graph *both[2] = {ref, cand};
    LatencyResult lat[2];
    if (latency_measure(both, 2, ctx->inputs, ctx->repeats, ctx->threads, lat, err)) return -1;
    ref_out->acc = *ref_acc;
    if (objective_accuracy(ctx, cand, &cand_out->acc, err)) return -1;
    ctx->evaluations++;
    finish(ctx, &lat[0], ref_out);
    finish(ctx, &lat[1], cand_out);
    return tell(ctx, err);
}

typedef struct ShiftCtx { const EvalContext *ctx; Evaluation *ref, *cand; } ShiftCtx;

/* the terms of J_cand - J_ref besides latency, in units of ln(latency ratio) */
static double j_shift(const LatencyResult lat[2], void *user) {
    ShiftCtx *s = user;
    const ObjectiveWeights *w = &s->ctx->w;
    double mr = (double)lat[0].peak_bytes, mc = (double)lat[1].peak_bytes;
    double mem = w->w_mem * (log(mc > 1 ? mc : 1) - log(mr > 1 ? mr : 1));
    double acc = w->w_acc * (s->cand->accuracy_drop - s->ref->accuracy_drop);
    return (mem + acc) / w->w_lat;
}

static double drop_of(const AccuracyResult *a) {
    double d = a->top1_agreement >= 0 ? 1.0 - a->top1_agreement : 1.0 - a->min_cosine;
    return d < 0 ? 0 : d;
}

int objective_compare_seq(EvalContext *ctx, const Graph *ref, const AccuracyResult *ref_acc, const Graph *cand,
                          Evaluation *ref_out, Evaluation *cand_out, SeqDecision *decision, Err *err) {
    *decision = SEQ_POSITIVE;
    ref_out->acc = *ref_acc;
    double t0 = now_s();
    if (objective_accuracy(ctx, cand, &cand_out->acc, err)) return -1;
    double t1 = now_s();
    ctx->times.accuracy_s += t1 - t0;
    ref_out->accuracy_drop = drop_of(ref_acc);
    cand_out->accuracy_drop = drop_of(&cand_out->acc);
    if (!accuracy_ok(&cand_out->acc, &ctx->budget) || !(ctx->w.w_lat > 0)) {
        /* infeasible (not worth timing), or latency does not count: a plain paired evaluation */
        const Graph *both[2] = {ref, cand};
        LatencyResult lat[2];
        AccuracyResult acc = cand_out->acc;
        if (latency_measure(both, 2, ctx->inputs, ctx->repeats, ctx->threads, lat, err)) return -1;
        ctx->times.timing_s += now_s() - t1;
        ctx->evaluations++;
        finish(ctx, &lat[0], ref_out);
        cand_out->acc = acc;
        finish(ctx, &lat[1], cand_out);
        if (cand_out->feasible) *decision = cand_out->objective < ref_out->objective ? SEQ_NEGATIVE : SEQ_POSITIVE;
        return tell(ctx, err);
    }
    SeqSignOpts so = stats_seq_sign_default();
    if (ctx->seq.alpha > 0) so = ctx->seq;
    ShiftCtx sc = {ctx, ref_out, cand_out};
    SeqCompare cmp;
    int threads = ctx->timing_threads > 0 ? ctx->timing_threads : ctx->threads;
    if (latency_compare_seq(ref, cand, ctx->inputs, threads, &so, j_shift, &sc, &cmp, err)) return -1;
    ctx->times.timing_s += now_s() - t1;
    ctx->evaluations++;
    if (cmp.busy) ctx->busy_comparisons++;
    /* both graphs of a pair run with the same threads: fewer on a busy machine stays fair */
    if (cmp.load.others_cores >= 0) ctx->timing_threads = machine_timing_threads(&cmp.load, ctx->threads);
    finish(ctx, &cmp.lat[0], ref_out);
    finish(ctx, &cmp.lat[1], cand_out);
    *decision = cmp.decision;
    return tell(ctx, err);
}
