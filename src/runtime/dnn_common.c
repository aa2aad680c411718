/* dnn_common.c - oneDNN engine/stream, descriptors, prepacking reorders, primitive cache. */
#include "dnn_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libgomp's setter, declared here so the rest of the build needs no -fopenmp */
extern void omp_set_num_threads(int n);

struct DnnCache {
    int n, cap;
    char **key;
    dnnl_primitive_desc_t *pd;
    dnnl_primitive_t *prim;
};

int dnn_check(dnnl_status_t st, const char *what, Err *err) {
    if (st == dnnl_success) return 0;
    const char *why = st == dnnl_unimplemented ? "no oneDNN implementation" :
                      st == dnnl_out_of_memory ? "out of memory" :
                      st == dnnl_invalid_arguments ? "invalid arguments" : "oneDNN error";
    return err_set(err, ERR_RUNTIME, "%s: %s (status %d)", what, why, (int)st);
}

int dnn_ctx_init(DnnCtx *ctx, Err *err) {
    memset(ctx, 0, sizeof *ctx);
    if (dnn_check(dnnl_engine_create(&ctx->engine, dnnl_cpu, 0), "creating the oneDNN CPU engine", err)) return -1;
    if (dnn_check(dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags), "creating a oneDNN stream", err)) {
        dnnl_engine_destroy(ctx->engine);
        return -1;
    }
    ctx->cache = calloc(1, sizeof *ctx->cache);
    if (!ctx->cache) { dnn_ctx_free(ctx); return err_set(err, ERR_RUNTIME, "out of memory"); }
    return 0;
}

void dnn_ctx_free(DnnCtx *ctx) {
    if (ctx->cache) {
        for (int i = 0; i < ctx->cache->n; i++) {
            free(ctx->cache->key[i]);
            dnnl_primitive_destroy(ctx->cache->prim[i]);
            dnnl_primitive_desc_destroy(ctx->cache->pd[i]);
        }
        free(ctx->cache->key);
        free(ctx->cache->pd);
        free(ctx->cache->prim);
        free(ctx->cache);
    }
    if (ctx->stream) dnnl_stream_destroy(ctx->stream);
    if (ctx->engine) dnnl_engine_destroy(ctx->engine);
    memset(ctx, 0, sizeof *ctx);
}

void dnn_set_threads(int threads) {
    if (threads > 0) omp_set_num_threads(threads);
}

dnnl_data_type_t dnn_dtype(int dtype) {
    switch (dtype) {
    case DT_FLOAT: return dnnl_f32;
    case DT_BFLOAT16: return dnnl_bf16;
    case DT_HALF: return dnnl_f16;
    case DT_INT8: return dnnl_s8;
    case DT_UINT8: return dnnl_u8;
    case DT_INT32: return dnnl_s32;
    default: return dnnl_data_type_undef;
    }
}

int dnn_md_plain_dims(dnnl_memory_desc_t *md, int rank, const int64_t *dims, int dtype, Err *err) {
    static const dnnl_format_tag_t tags[] = {dnnl_a, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef};
    dnnl_data_type_t dt = dnn_dtype(dtype);
    if (dt == dnnl_data_type_undef) return err_set(err, ERR_RUNTIME, "oneDNN has no %s", dtype_name(dtype));
    if (rank > 6) return err_set(err, ERR_RUNTIME, "oneDNN tensors have at most 6 dims, got %d", rank);
    dnnl_dims_t d;
    int r = rank == 0 ? 1 : rank; /* a scalar is a 1-element vector */
    for (int i = 0; i < r; i++) d[i] = rank == 0 ? 1 : dims[i];
    return dnn_check(dnnl_memory_desc_init_by_tag(md, r, d, dt, tags[r]), "memory descriptor", err);
}


int dnn_mem(DnnCtx *ctx, const dnnl_memory_desc_t *md, dnnl_memory_t *mem, Err *err) {
    return dnn_check(dnnl_memory_create(mem, md, ctx->engine, DNNL_MEMORY_NONE), "memory object", err);
}

int dnn_exec(DnnCtx *ctx, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args, Err *err) {
    if (dnn_check(dnnl_primitive_execute(prim, ctx->stream, nargs, args), "executing a oneDNN primitive", err)) return -1;
    return dnn_check(dnnl_stream_wait(ctx->stream), "waiting for the oneDNN stream", err);
}

int dnn_reorder_new(DnnCtx *ctx, const dnnl_memory_desc_t *src_md, const void *src, const dnnl_memory_desc_t *dst_md,
                    void **dst, size_t *bytes, Err *err) {
    size_t n = dnnl_memory_desc_get_size(dst_md);
    void *buf = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!buf) return err_set(err, ERR_RUNTIME, "out of memory prepacking %zu bytes of weights", n);
    dnnl_memory_t ms = NULL, md = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    int rc = -1;
    if (dnn_check(dnnl_memory_create(&ms, src_md, ctx->engine, (void *)src), "reorder source", err)) goto done;
    if (dnn_check(dnnl_memory_create(&md, dst_md, ctx->engine, buf), "reorder destination", err)) goto done;
    if (dnn_check(dnnl_reorder_primitive_desc_create(&pd, src_md, ctx->engine, dst_md, ctx->engine, NULL), "reorder", err)) goto done;
    if (dnn_check(dnnl_primitive_create(&prim, pd), "reorder primitive", err)) goto done;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
    if (dnn_exec(ctx, prim, 2, args, err)) goto done;
    rc = 0;
done:
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ms) dnnl_memory_destroy(ms);
    if (md) dnnl_memory_destroy(md);
    if (rc) free(buf);
    else { *dst = buf; *bytes = n; }
    return rc;
}

dnnl_primitive_t dnn_cache_get(DnnCtx *ctx, const char *key, const_dnnl_primitive_desc_t *pd) {
    DnnCache *c = ctx->cache;
    for (int i = 0; i < c->n; i++) /* plans hold tens to hundreds of distinct primitives */
        if (!strcmp(c->key[i], key)) {
            if (pd) *pd = c->pd[i];
            ctx->cache_hits++;
            return c->prim[i];
        }
    return NULL;
}

int dnn_cache_put(DnnCtx *ctx, const char *key, dnnl_primitive_desc_t pd, dnnl_primitive_t prim, Err *err) {
    DnnCache *c = ctx->cache;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        char **k = realloc(c->key, (size_t)cap * sizeof *k);
        if (k) c->key = k;
        dnnl_primitive_desc_t *p = realloc(c->pd, (size_t)cap * sizeof *p);
        if (p) c->pd = p;
        dnnl_primitive_t *q = realloc(c->prim, (size_t)cap * sizeof *q);
        if (q) c->prim = q;
        if (!k || !p || !q) goto oom;
        c->cap = cap;
    }
    char *kd = strdup(key);
    if (!kd) goto oom;
    c->key[c->n] = kd;
    c->pd[c->n] = pd;
    c->prim[c->n] = prim;
    c->n++;
    ctx->cache_misses++;
    return 0;
oom:
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    return err_set(err, ERR_RUNTIME, "out of memory");
}

int dnn_primitive(DnnCtx *ctx, const char *key, dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                  const_dnnl_primitive_desc_t *pd_out, Err *err) {
    dnnl_primitive_t p = dnn_cache_get(ctx, key, pd_out);
    if (p) {
        dnnl_primitive_desc_destroy(pd);
        *prim = p;
        return 0;
    }
    if (dnn_check(dnnl_primitive_create(&p, pd), key, err)) { dnnl_primitive_desc_destroy(pd); return -1; }
    if (dnn_cache_put(ctx, key, pd, p, err)) return -1;
    *prim = p;
    if (pd_out) *pd_out = pd;
    return 0;
}

const char *dnn_impl_name(const_dnnl_primitive_desc_t pd) {
    const char *s = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s) return "?";
    return s;
}

size_t dnn_scratch_bytes(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

bool dnn_cpu_has_bf16(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* oneDNN runs bf16 convolutions and matmuls from AVX-512 (emulated conversions) up */
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

bool dnn_cpu_has_vnni(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    /* ISA values are bit masks that include the lower ISAs' bits */
    return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni ||
           (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
}
