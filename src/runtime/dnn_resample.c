/* dnn_resample.c - oneDNN kernels for the resample family (STUB: declines every node, so the plan uses the reference kernel). */
#include "fast.h"

int fast_compile_resample(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    (void)ctx; (void)g; (void)n; (void)k; (void)err;
    return 0;
}
