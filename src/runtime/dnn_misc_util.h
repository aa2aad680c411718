/* dnn_misc_util.h - what the single-primitive oneDNN families (pool, eltwise, binary, softmax,
 * batchnorm, concat, resample, reduce) share: a kernel made of ONE cached primitive whose
 * arguments are bound to node inputs, node outputs or the user-managed scratchpad, with the
 * memory objects created once at compile time and only their data handles set per run.
 *
 * Constant inputs (Value.known) are held by the kernel (a shared reference, no copy) and used
 * instead of in[i] at run time, as fast.h asks. A family builds a kernel like this:
 *
 *   MiscKernel *mk = misc_new(ctx, g, n, err);
 *   misc_arg(mk, DNNL_ARG_SRC, MISC_IN, 0, &src_md, err);  ... one per primitive argument
 *   misc_attr(&attr, ...); dnnl_primitive_desc_create(&pd, &desc, attr, ctx->engine, NULL);
 *   rc = misc_primitive(ctx, key, status, pd, &prim, &cpd, err);   1 / 0 = decline / -1
 *   return misc_finish(mk, prim, cpd, k, err);
 *
 * Shape helpers collapse a tensor walk to the fewest dims (drop size-1 dims, merge neighbours
 * of the same kind), so equivalent layers share primitives and ranks above 6 still fit. */
#ifndef GRAPPO_DNN_MISC_UTIL_H
#define GRAPPO_DNN_MISC_UTIL_H

#include <stdbool.h>

#include "fast.h"

typedef enum MiscSrc { MISC_IN, MISC_OUT, MISC_SCRATCH } MiscSrc;

typedef struct MiscArg {
    int arg;      /* DNNL_ARG_* */
    MiscSrc src;
    int index;    /* input or output index of the node */
    dnnl_memory_t mem;
} MiscArg;

typedef struct MiscKernel MiscKernel;
/* runs after the primitive (e.g. batch norm filling its statistics outputs) */
typedef int (*MiscHook)(const MiscKernel *mk, const Tensor *in, Tensor *out, Err *err);

struct MiscKernel {
    DnnCtx *ctx;
    dnnl_primitive_t prim; /* borrowed from the context's cache */
    int n_args, cap_args;
    MiscArg *args;
    dnnl_exec_arg_t *exec; /* built by misc_finish, handles updated per run */
    int n_in;
    Tensor *held;          /* held[i]: input i's known value (buf NULL when not known) */
    MiscHook after;
};

/* A kernel for node n with no arguments yet; known inputs are shared into held[]. NULL + err
   on OOM. */
MiscKernel *misc_new(DnnCtx *ctx, const Graph *g, const Node *n, Err *err);
void misc_free(MiscKernel *mk);
/* Binds primitive argument `arg` to input/output `index` through a memory object of md. */
int misc_arg(MiscKernel *mk, int arg, MiscSrc src, int index, const dnnl_memory_desc_t *md, Err *err);
/* Attributes with the user-managed scratchpad, plus one eltwise post-op when post_alg != 0. */
int misc_attr(dnnl_primitive_attr_t *attr, dnnl_alg_kind_t post_alg, float alpha, float beta, Err *err);
/* Takes the result of a primitive descriptor creation (status st, pd when st is success) and
   returns the cached primitive: 1 (prim and *pd_out set), 0 when oneDNN has no implementation
   or rejects the arguments (the family declines), -1 on a real error. */
int misc_primitive(DnnCtx *ctx, const char *key, dnnl_status_t st, dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                   const_dnnl_primitive_desc_t *pd_out, Err *err);
/* Adds the scratchpad argument if pd needs one and fills k (impl, state, run, destroy,
   scratch_bytes; inplace = -1, the family sets it). Returns 1, or -1 (mk freed either way on
   failure). */
int misc_finish(MiscKernel *mk, dnnl_primitive_t prim, const_dnnl_primitive_desc_t pd, FastKernel *k, Err *err);
/* The common case in one call: the primitive for op descriptor `desc` with plain attributes
   (misc_attr without post-op), through the cache under `key`, and a new kernel reading input
   0 as src_md and writing output 0 as dst_md. Returns 1 with *mk (not yet finished: the
   caller may adjust it, then calls misc_finish), *prim and *pd set; 0 when oneDNN declines;
   -1 on error. */
int misc_simple(DnnCtx *ctx, const Graph *g, const Node *n, const char *key, const_dnnl_op_desc_t desc,
                const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md, MiscKernel **mk, dnnl_primitive_t *prim,
                const_dnnl_primitive_desc_t *pd, Err *err);
/* The run function misc_finish installs (exposed for compile-time probes). */
int misc_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err);
/* Data of input i at run time: the held constant, or in[i]. */
const void *misc_input_data(const MiscKernel *mk, const Tensor *in, int i);

/* ---- node checks ---- */
/* true when every dim of value v is known and it has at least one element */
bool misc_value_ok(const Value *v);
/* float32, or bfloat16 when allow_bf16 */
bool misc_dtype_ok(int dtype, bool allow_bf16);

/* ---- shapes ---- */
/* Drops dims of size 1 and merges neighbouring dims with equal kind[] (the kinds are the
   per-dim classes a primitive must keep apart: broadcast or not, reduced or not). Writes the
   merged dims and kinds; returns the new rank (0 when every dim is 1). */
int misc_collapse(int rank, const int64_t *dims, const int *kind, int64_t *out_dims, int *out_kind);
/* appends ",d0x d1x..." style text of dims to key (bounded) */
void misc_key_dims(char *key, size_t cap, int rank, const int64_t *dims);

#endif
