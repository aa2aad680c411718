/* objective.c - evaluating one candidate graph (see objective.h). */
#include "objective.h"

#include <math.h>

ObjectiveWeights objective_default_weights(void) { return (ObjectiveWeights){1.0, 0.1, 10.0}; }

int objective_evaluate(EvalContext *ctx, const Graph *g, Evaluation *out, Err *err) {
    LatencyResult lat;
    if (latency_measure(&g, 1, ctx->inputs, ctx->repeats, ctx->threads, &lat, err)) return -1;
    if (accuracy_measure(ctx->original, g, ctx->inputs, ctx->threads, &out->acc, err)) return -1;
    ctx->evaluations++;
    out->latency_ms = lat.ms.median;
    out->peak_bytes = (double)lat.peak_bytes;
    out->accuracy_drop = out->acc.top1_agreement >= 0 ? 1.0 - out->acc.top1_agreement : 1.0 - out->acc.min_cosine;
    if (out->accuracy_drop < 0) out->accuracy_drop = 0;
    out->feasible = accuracy_ok(&out->acc, &ctx->budget);
    out->objective = ctx->w.w_lat * log(out->latency_ms) + ctx->w.w_mem * log(out->peak_bytes > 1 ? out->peak_bytes : 1) +
                     ctx->w.w_acc * out->accuracy_drop;
    return 0;
}
