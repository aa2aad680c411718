/* objective.c - evaluating one candidate graph (see objective.h). */
#include "objective.h"

#include <math.h>
#include <time.h>

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
    double d = acc->top1_agreement >= 0 ? 1.0 - acc->top1_agreement : 1.0 - acc->min_cosine;
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

int objective_evaluate(EvalContext *ctx, const Graph *g, Evaluation *out, Err *err) {
    LatencyResult lat;
    if (latency_measure(&g, 1, ctx->inputs, ctx->repeats, ctx->threads, &lat, err)) return -1;
    if (accuracy_measure(ctx->original, g, ctx->inputs, ctx->threads, &out->acc, err)) return -1;
    ctx->evaluations++;
    finish(ctx, &lat, out);
    return tell(ctx, err);
}

int objective_evaluate_pair(EvalContext *ctx, const Graph *ref, const AccuracyResult *ref_acc, const Graph *cand,
                            Evaluation *ref_out, Evaluation *cand_out, Err *err) {
    const Graph *both[2] = {ref, cand};
    LatencyResult lat[2];
    if (latency_measure(both, 2, ctx->inputs, ctx->repeats, ctx->threads, lat, err)) return -1;
    ref_out->acc = *ref_acc;
    if (accuracy_measure(ctx->original, cand, ctx->inputs, ctx->threads, &cand_out->acc, err)) return -1;
    ctx->evaluations++;
    finish(ctx, &lat[0], ref_out);
    finish(ctx, &lat[1], cand_out);
    return tell(ctx, err);
}
