/* dnn_reduce.c - oneDNN kernels for the reduce family (STUB: declines every node, so the plan uses the reference kernel). */
#include "fast.h"

int fast_compile_reduce(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    (void)ctx; (void)g; (void)n; (void)k; (void)err;
    return 0;
}
