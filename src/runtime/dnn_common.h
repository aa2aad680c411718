/* dnn_common.h - what every oneDNN kernel family shares: the engine and stream, dtype and
 * memory-descriptor helpers, status-to-Err conversion, weight prepacking by reorder, and a
 * primitive cache keyed by a string the family builds from (op, shapes, dtypes, attributes,
 * post-ops), so identical layers share one primitive.
 *
 * Written against oneDNN 2.6's C API (dnnl_*_desc_init, output scales). Every primitive family
 * lives in its own dnn_<family>.c, so a port to the 3.x API stays contained. */
#ifndef GRAPPO_DNN_COMMON_H
#define GRAPPO_DNN_COMMON_H

#include <oneapi/dnnl/dnnl.h>

#include "../graph/graph.h"

typedef struct DnnCache DnnCache;

typedef struct DnnCtx {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    DnnCache *cache;
    int cache_hits, cache_misses; /* statistics for tests and --profile */
} DnnCtx;

int dnn_ctx_init(DnnCtx *ctx, Err *err);
void dnn_ctx_free(DnnCtx *ctx);

/* Sets the number of OpenMP threads oneDNN uses (0 = all cores). */
void dnn_set_threads(int threads);

/* Converts a oneDNN status into an Err (ERR_RUNTIME) naming `what`; returns 0 on success. */
int dnn_check(dnnl_status_t st, const char *what, Err *err);

/* grappo dtype -> oneDNN data type; dnnl_data_type_undef when oneDNN has none */
dnnl_data_type_t dnn_dtype(int dtype);

/* Plain row-major descriptor (TensorFlow's layout: tag a, ab, abc, ...) with explicit dims
   (rank <= 6). */
int dnn_md_plain_dims(dnnl_memory_desc_t *md, int rank, const int64_t *dims, int dtype, Err *err);

/* Reorders `src` (described by src_md) into a new 64-byte aligned buffer laid out as dst_md
   (typically the weights layout a primitive chose with format `any`). *dst is malloc'ed
   (free()) and *bytes its size. Used once per weight at plan compile time. */
int dnn_reorder_new(DnnCtx *ctx, const dnnl_memory_desc_t *src_md, const void *src, const dnnl_memory_desc_t *dst_md,
                    void **dst, size_t *bytes, Err *err);

/* The cache owns primitive descriptors and primitives; kernels borrow them for the plan's
   lifetime. get returns NULL on a miss. put takes ownership (also on failure). */
dnnl_primitive_t dnn_cache_get(DnnCtx *ctx, const char *key, const_dnnl_primitive_desc_t *pd);
int dnn_cache_put(DnnCtx *ctx, const char *key, dnnl_primitive_desc_t pd, dnnl_primitive_t prim, Err *err);

/* Creates (or finds in the cache) the primitive for pd; on a hit pd is destroyed and the cached
   one returned in *pd_out. Convenience for families: build desc+attr, create pd, call this. */
int dnn_primitive(DnnCtx *ctx, const char *key, dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                  const_dnnl_primitive_desc_t *pd_out, Err *err);

/* Memory object with no data handle yet (set per run with dnnl_memory_set_data_handle). */
int dnn_mem(DnnCtx *ctx, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, Err *err);
/* Executes on the context's stream and waits. */
int dnn_exec(DnnCtx *ctx, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args, Err *err);
/* oneDNN's implementation name for pd (e.g. "brg:avx512_core"), for profiles */
const char *dnn_impl_name(const_dnnl_primitive_desc_t pd);
/* true when oneDNN runs u8 x s8 products with VNNI (no 16-bit saturation of pair sums) */
bool dnn_cpu_has_vnni(void);
/* true when oneDNN runs bf16 convolutions and matmuls on this CPU (AVX-512 and up); without,
   bf16 nodes run on reference kernels */
bool dnn_cpu_has_bf16(void);
/* bytes of the user-managed scratchpad pd needs */
size_t dnn_scratch_bytes(const_dnnl_primitive_desc_t pd);

#endif
