/* dnn_misc_util.c - the one-primitive kernel shared by the pool, eltwise, binary, softmax,
 * batchnorm, concat, resample and reduce families (see dnn_misc_util.h). */
#include "dnn_misc_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

MiscKernel *misc_new(DnnCtx *ctx, const Graph *g, const Node *n, Err *err) {
    MiscKernel *mk = calloc(1, sizeof *mk);
    if (!mk) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    mk->ctx = ctx;
    mk->n_in = n->n_inputs;
    mk->held = calloc((size_t)(n->n_inputs ? n->n_inputs : 1), sizeof *mk->held);
    if (!mk->held) { free(mk); err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    for (int i = 0; i < n->n_inputs; i++) {
        const Value *v = node_input_value(g, n, i);
        if (v->known.buf) mk->held[i] = tensor_share(&v->known);
    }
    return mk;
}

void misc_free(MiscKernel *mk) {
    if (!mk) return;
    for (int i = 0; i < mk->n_args; i++) dnnl_memory_destroy(mk->args[i].mem);
    for (int i = 0; i < mk->n_in; i++) tensor_release(&mk->held[i]);
    free(mk->args);
    free(mk->exec);
    free(mk->held);
    free(mk); /* prim belongs to the context's cache */
}

static void misc_destroy(void *state) { misc_free(state); }

int misc_arg(MiscKernel *mk, int arg, MiscSrc src, int index, const dnnl_memory_desc_t *md, Err *err) {
    if (mk->n_args == mk->cap_args) {
        int cap = mk->cap_args ? 2 * mk->cap_args : 8;
        MiscArg *a = realloc(mk->args, (size_t)cap * sizeof *a);
        if (!a) return err_set(err, ERR_RUNTIME, "out of memory");
        mk->args = a;
        mk->cap_args = cap;
    }
    MiscArg *a = &mk->args[mk->n_args];
    a->arg = arg;
    a->src = src;
    a->index = index;
    if (dnn_mem(mk->ctx, md, &a->mem, err)) return -1;
    mk->n_args++;
    return 0;
}

int misc_attr(dnnl_primitive_attr_t *attr, dnnl_alg_kind_t post_alg, float alpha, float beta, Err *err) {
    if (dnn_check(dnnl_primitive_attr_create(attr), "primitive attributes", err)) return -1;
    if (dnn_check(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user), "scratchpad mode", err))
        goto fail;
    if (post_alg) {
        dnnl_post_ops_t po;
        if (dnn_check(dnnl_post_ops_create(&po), "post-ops", err)) goto fail;
        int bad = dnn_check(dnnl_post_ops_append_eltwise(po, 1.0f, post_alg, alpha, beta), "eltwise post-op", err) ||
                  dnn_check(dnnl_primitive_attr_set_post_ops(*attr, po), "setting post-ops", err);
        dnnl_post_ops_destroy(po);
        if (bad) goto fail;
    }
    return 0;
fail:
    dnnl_primitive_attr_destroy(*attr);
    *attr = NULL;
    return -1;
}

int misc_primitive(DnnCtx *ctx, const char *key, dnnl_status_t st, dnnl_primitive_desc_t pd, dnnl_primitive_t *prim,
                   const_dnnl_primitive_desc_t *pd_out, Err *err) {
    /* oneDNN answers "unimplemented" for combinations it has no kernel for and "invalid
       arguments" for shapes it does not accept: both mean the reference kernel must run */
    if (st == dnnl_unimplemented || st == dnnl_invalid_arguments) return 0;
    if (dnn_check(st, key, err)) return -1;
    if (dnn_primitive(ctx, key, pd, prim, pd_out, err)) return -1;
    return 1;
}

int misc_finish(MiscKernel *mk, dnnl_primitive_t prim, const_dnnl_primitive_desc_t pd, FastKernel *k, Err *err) {
    mk->prim = prim;
    size_t scratch = dnn_scratch_bytes(pd);
    if (scratch) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (misc_arg(mk, DNNL_ARG_SCRATCHPAD, MISC_SCRATCH, 0, md, err)) goto fail;
    }
    mk->exec = malloc((size_t)(mk->n_args ? mk->n_args : 1) * sizeof *mk->exec);
    if (!mk->exec) { err_set(err, ERR_RUNTIME, "out of memory"); goto fail; }
    for (int i = 0; i < mk->n_args; i++) {
        mk->exec[i].arg = mk->args[i].arg;
        mk->exec[i].memory = mk->args[i].mem;
    }
    k->impl = dnn_impl_name(pd);
    k->state = mk;
    k->run = misc_run;
    k->destroy = misc_destroy;
    k->scratch_bytes = scratch;
    k->weight_bytes = 0; /* constants are shared with the graph, not copied */
    k->inplace = -1;
    return 1;
fail:
    misc_free(mk);
    return -1;
}

const void *misc_input_data(const MiscKernel *mk, const Tensor *in, int i) {
    return mk->held[i].buf ? tensor_data(&mk->held[i]) : tensor_data(&in[i]);
}

int misc_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    MiscKernel *mk = state;
    for (int i = 0; i < mk->n_args; i++) {
        const MiscArg *a = &mk->args[i];
        void *p;
        switch (a->src) {
        case MISC_IN: p = (void *)misc_input_data(mk, in, a->index); break;
        /* out[].buf->data, not tensor_mut: the plan's buffer must be written where it is (an
           in-place output shares its input's buffer, which copy-on-write would split) */
        case MISC_OUT: p = out[a->index].buf ? out[a->index].buf->data : NULL; break;
        default: p = scratch; break;
        }
        if (!p) return err_set(err, ERR_RUNTIME, "oneDNN kernel: argument %d has no data", a->arg);
        if (dnn_check(dnnl_memory_set_data_handle(a->mem, p), "setting a data handle", err)) return -1;
    }
    if (dnn_exec(mk->ctx, mk->prim, mk->n_args, mk->exec, err)) return -1;
    return mk->after ? mk->after(mk, in, out, err) : 0;
}

bool misc_value_ok(const Value *v) {
    return shape_is_known(&v->shape) && shape_numel(&v->shape) > 0;
}

bool misc_dtype_ok(int dtype, bool allow_bf16) {
    return dtype == DT_FLOAT || (allow_bf16 && dtype == DT_BFLOAT16);
}

int misc_collapse(int rank, const int64_t *dims, const int *kind, int64_t *out_dims, int *out_kind) {
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] == 1) continue;
        if (r > 0 && out_kind[r - 1] == kind[d]) {
            out_dims[r - 1] *= dims[d];
        } else {
            out_dims[r] = dims[d];
            out_kind[r] = kind[d];
            r++;
        }
    }
    return r;
}

void misc_key_dims(char *key, size_t cap, int rank, const int64_t *dims) {
    size_t len = strlen(key);
    for (int d = 0; d < rank && len + 1 < cap; d++) {
        int w = snprintf(key + len, cap - len, "%s%lld", d ? "x" : ",", (long long)dims[d]);
        if (w < 0) break;
        len += (size_t)w;
        if (len >= cap) len = cap - 1;
    }
}

int misc_simple(DnnCtx *ctx, const Graph *g, const Node *n, const char *key, const_dnnl_op_desc_t desc,
                const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md, MiscKernel **mk, dnnl_primitive_t *prim,
                const_dnnl_primitive_desc_t *pd, Err *err) {
    dnnl_primitive_attr_t attr;
    if (misc_attr(&attr, 0, 0, 0, err)) return -1;
    dnnl_primitive_desc_t fresh = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&fresh, desc, attr, ctx->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    int rc = misc_primitive(ctx, key, st, fresh, prim, pd, err);
    if (rc <= 0) return rc;
    *mk = misc_new(ctx, g, n, err);
    if (!*mk) return -1;
    if (misc_arg(*mk, DNNL_ARG_SRC, MISC_IN, 0, src_md, err) || misc_arg(*mk, DNNL_ARG_DST, MISC_OUT, 0, dst_md, err)) {
        misc_free(*mk);
        return -1;
    }
    return 1;
}
