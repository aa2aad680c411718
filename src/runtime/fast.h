/* fast.h - the contract between the plan (plan_compile / plan_run) and the oneDNN kernel
 * families (dnn_conv.c, dnn_matmul.c, dnn_pool.c, dnn_eltwise.c, dnn_binary.c, ...).
 *
 * At compile time the plan asks each family, in the order of fast_compilers[], whether it
 * handles a node: fast_compile_<family>() returns 1 and fills *k (handled), 0 (not this
 * family, or a case oneDNN cannot do: the plan falls back to the reference kernel) or -1 on a
 * real error. Weights and other constant inputs are the inputs whose Value has a known value
 * (node_input_value(g, n, i)->known): a family prepacks them at compile time (reorder into the
 * layout the primitive chose with format `any`) and ignores in[i] for them at run time.
 *
 * Layout contract: every tensor a kernel receives or produces is in TensorFlow's plain
 * row-major layout (NHWC for NHWC graphs), so no reorders are ever needed between nodes;
 * only weights are blocked, once, at compile time.
 *
 * At run time the plan calls k->run(k->state, in, out, scratch, err): in[0..n_inputs) and
 * out[0..n_outputs) are plain tensors whose data lives in the plan's arena (or in the graph's
 * constants); out[] buffers are preallocated with the inferred shapes. scratch points to at
 * least k->scratch_bytes bytes (a oneDNN user-managed scratchpad, shared by all kernels). */
#ifndef GRAPPO_FAST_H
#define GRAPPO_FAST_H

#include "../graph/graph.h"
#include "dnn_common.h"

typedef struct FastKernel {
    const char *impl;          /* implementation for --profile, e.g. oneDNN's "brg:avx512_core" */
    void *state;               /* owned by the family; freed by destroy */
    int (*run)(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err);
    void (*destroy)(void *state);
    size_t scratch_bytes;      /* user-managed scratchpad needed per run */
    size_t weight_bytes;       /* prepacked constant bytes held in state (plan_peak_bytes adds them) */
    /* Index of an input whose buffer the output may reuse when that input dies at this node
       (elementwise ops, and the residual addend of a conv/matmul with a sum post-op, which
       oneDNN accumulates into dst in place), or -1. When the plan grants it, out[0].buf ==
       in[inplace].buf at run time; when not, out[0] is a separate buffer and a sum-post-op
       kernel must copy the addend into it first. */
    int inplace;
} FastKernel;

typedef int (*FastCompileFn)(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);

/* the families (each in dnn_<family>.c) */
int fast_compile_conv(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_matmul(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_pool(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_eltwise(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_binary(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_softmax(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_batchnorm(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_concat(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_resample(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_reduce(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_quant(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
/* GrappoQuantize's AVX2 path (dnn_quant.c): whether this CPU has it; tests turn it off to check
   the plain loops (process global, not thread safe; default on) */
bool dnn_quant_simd_available(void);
void dnn_quant_use_simd(bool on);
/* transposes as oneDNN reorders (dnn_transpose.c) */
int fast_compile_transpose(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
/* plain C kernels where oneDNN has none: Erf, Selu (native_eltwise.c) and the broadcasting
   float32 binary ops oneDNN's binary declines (native_binary.c; ask it after
   fast_compile_binary) */
int fast_compile_native_eltwise(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_native_binary(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);

/* grappo's fused float ops (dnn_layernorm.c): GrappoLayerNorm, GrappoGelu */
int fast_compile_layernorm(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);
int fast_compile_gelu(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);

/* GrappoAttention (native_attention.c): oneDNN matmul (scale + mask as attributes) ->
   softmax -> matmul, plain C fallback; about as fast as the unfused chain (0.96 vs 0.81 ms per
   BERT-base layer on 1 thread, 0.62 vs 0.54 on 2, measured) */
int fast_compile_attention(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);

/* GrappoFusedElementwise in plain C (native_fused_ew.c) */
int fast_compile_fused_elementwise(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err);

#endif
