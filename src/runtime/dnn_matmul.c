/* dnn_matmul.c - oneDNN kernels for the matmul family: MatMul, _FusedMatMul (bias, residual
 * Add as a sum post-op, activation as an eltwise post-op) and BatchMatMul / V2 / V3 (numpy
 * broadcasting of batch dims), in float32 and bfloat16.
 *
 * Transposes (transpose_a/b, adj_x/y) are strides in the memory descriptors, never copies.
 * A constant B (a dense layer's weights) is given to oneDNN with format `any` and prepacked
 * once into the layout the primitive chose; a runtime B (attention's Q.K^T, P.V) is described
 * as it lies in memory. Operand geometry: dnn_matmul_geom.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn_matmul.h"
#include "fast.h"

typedef struct MmState {
    DnnCtx *ctx;
    dnnl_primitive_t prim; /* borrowed from the context's cache */
    dnnl_memory_t src, wei, bias, dst, scratch;
    bool const_b;
    void *packed;  /* prepacked weights (aligned_alloc), or NULL */
    float *bias_f32; /* a constant bf16 bias widened at compile time, or NULL */
    Tensor b_keep; /* the constant B itself when the primitive takes it as it lies */
    int arg_bias, arg_add; /* input indices, -1 when absent */
    size_t src_bytes, wei_bytes, dst_bytes;
} MmState;

static void mm_destroy(void *state) {
    MmState *s = state;
    if (!s) return;
    dnnl_memory_t mems[5] = {s->src, s->wei, s->bias, s->dst, s->scratch};
    for (int i = 0; i < 5; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    free(s->packed);
    free(s->bias_f32);
    tensor_release(&s->b_keep);
    free(s);
}

static int set_handle(dnnl_memory_t m, const void *p, Err *err) {
    /* oneDNN takes void * for every argument; it only reads the inputs */
    return dnn_check(dnnl_memory_set_data_handle(m, (void *)p), "setting a matmul buffer", err);
}

static int mm_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    MmState *s = state;
    if (tensor_nbytes(&in[0]) != s->src_bytes || tensor_nbytes(&out[0]) != s->dst_bytes ||
        (!s->const_b && tensor_nbytes(&in[1]) != s->wei_bytes))
        return err_set(err, ERR_RUNTIME, "matmul kernel: tensors differ from the compiled shapes");
    void *dst = out[0].buf ? out[0].buf->data : NULL;
    if (s->arg_add >= 0) {
        /* the sum post-op accumulates into dst: the addend must be there first, unless the
           plan let the output take over the addend's buffer */
        const void *add = tensor_data(&in[s->arg_add]);
        if (tensor_nbytes(&in[s->arg_add]) != s->dst_bytes)
            return err_set(err, ERR_RUNTIME, "matmul kernel: the Add operand differs from the output's size");
        if (add != dst) memcpy(dst, add, s->dst_bytes);
    }
    dnnl_exec_arg_t args[5];
    int na = 0;
    if (set_handle(s->src, tensor_data(&in[0]), err)) return -1;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
    if (!s->const_b && set_handle(s->wei, tensor_data(&in[1]), err)) return -1;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->wei};
    if (s->bias) {
        if (!s->bias_f32 && set_handle(s->bias, tensor_data(&in[s->arg_bias]), err)) return -1;
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    }
    if (set_handle(s->dst, dst, err)) return -1;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->dst};
    if (s->scratch) {
        if (set_handle(s->scratch, scratch, err)) return -1;
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    return dnn_exec(s->ctx, s->prim, na, args, err);
}

/* oneDNN status of creating a descriptor: "cannot do this" declines, anything else is an error */
static int declines(dnnl_status_t st) { return st == dnnl_unimplemented || st == dnnl_invalid_arguments; }

/* The descriptors, attributes and primitive descriptor for geometry m and post-ops p.
   Returns 1 (pd created), 0 (oneDNN cannot do it) or -1. */
static int mm_pd(DnnCtx *ctx, const MmGeom *m, const MmPost *p, bool const_b, dnnl_memory_desc_t *src_md,
                 dnnl_memory_desc_t *wei_md, dnnl_primitive_desc_t *pd, Err *err) {
    dnnl_data_type_t dt = dnn_dtype(m->dtype);
    dnnl_memory_desc_t bias_md, dst_md;
    dnnl_status_t st = dnnl_memory_desc_init_by_strides(src_md, m->rank, m->a_dims, dt, m->a_str);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_strides(wei_md, m->rank, m->b_dims, dt, m->b_str);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_strides(&dst_md, m->rank, m->c_dims, dt, m->c_str);
    if (st == dnnl_success && p->bias) {
        /* only _FusedMatMul has a bias, and it is 2-D (mm_post checks): [1, N] */
        dnnl_dims_t bd = {1, m->c_dims[1]};
        st = dnnl_memory_desc_init_by_tag(&bias_md, 2, bd, dnn_dtype(p->bias_dtype), dnnl_ab);
    }
    dnnl_memory_desc_t wei_any;
    if (st == dnnl_success && const_b) /* the primitive picks the weights layout */
        st = dnnl_memory_desc_init_by_tag(&wei_any, m->rank, m->b_dims, dt, dnnl_format_tag_any);
    if (st != dnnl_success) return declines(st) ? 0 : dnn_check(st, "matmul memory descriptors", err);

    dnnl_matmul_desc_t desc;
    st = dnnl_matmul_desc_init(&desc, src_md, const_b ? &wei_any : wei_md, p->bias ? &bias_md : NULL, &dst_md);
    if (st != dnnl_success) return declines(st) ? 0 : dnn_check(st, "matmul descriptor", err);

    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    int rc = -1;
    if (dnn_check(dnnl_primitive_attr_create(&attr), "primitive attributes", err)) goto done;
    if (dnn_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode", err))
        goto done;
    if (p->sum || p->act) {
        if (dnn_check(dnnl_post_ops_create(&po), "post-ops", err)) goto done;
        if (p->sum && dnn_check(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op", err)) goto done;
        if (p->act &&
            dnn_check(dnnl_post_ops_append_eltwise(po, 1.0f, p->alg, p->alpha, p->beta), "eltwise post-op", err))
            goto done;
        if (dnn_check(dnnl_primitive_attr_set_post_ops(attr, po), "setting post-ops", err)) goto done;
    }
    st = dnnl_primitive_desc_create(pd, &desc, attr, ctx->engine, NULL);
    if (st == dnnl_success) rc = 1;
    else if (declines(st)) rc = 0;
    else dnn_check(st, "matmul primitive descriptor", err);
done:
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* Weights: prepacked into the layout the primitive chose, or (when that is the layout B
   already has) the constant itself, shared. */
static int mm_weights(DnnCtx *ctx, const Tensor *b, const dnnl_memory_desc_t *b_md, const_dnnl_primitive_desc_t pd,
                      MmState *s, FastKernel *k, Err *err) {
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (!want) return err_set(err, ERR_RUNTIME, "matmul: no weights descriptor");
    void *data;
    if (dnnl_memory_desc_equal(want, b_md)) {
        s->b_keep = tensor_share(b);
        data = (void *)tensor_data(b);
    } else {
        size_t bytes;
        if (dnn_reorder_new(ctx, b_md, tensor_data(b), want, &s->packed, &bytes, err)) return -1;
        k->weight_bytes += bytes;
        data = s->packed;
    }
    if (dnn_mem(ctx, want, &s->wei, err)) return -1;
    return set_handle(s->wei, data, err);
}

/* the constant bf16 bias as float32, bound once */
static int widen_bias(const Tensor *b, MmState *s, FastKernel *k, Err *err) {
    int64_t c = tensor_numel(b);
    s->bias_f32 = malloc((size_t)(c > 0 ? c : 1) * sizeof *s->bias_f32);
    if (!s->bias_f32) return err_set(err, ERR_RUNTIME, "out of memory");
    const uint16_t *h = tensor_data(b);
    for (int64_t i = 0; i < c; i++) s->bias_f32[i] = bfloat16_to_float(h[i]);
    k->weight_bytes += (size_t)c * sizeof *s->bias_f32;
    return set_handle(s->bias, s->bias_f32, err);
}

static int mm_state(DnnCtx *ctx, const Graph *g, const Node *n, const MmPost *p, bool const_b,
                    const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *b_md, dnnl_primitive_t prim,
                    const_dnnl_primitive_desc_t pd, FastKernel *k, Err *err) {
    MmState *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_RUNTIME, "out of memory");
    s->ctx = ctx;
    s->prim = prim;
    k->weight_bytes = 0;
    s->const_b = const_b;
    s->arg_bias = p->bias ? p->arg_bias : -1;
    s->arg_add = p->sum ? p->arg_add : -1;
    s->src_bytes = dnnl_memory_desc_get_size(src_md);
    s->wei_bytes = dnnl_memory_desc_get_size(b_md);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *bias_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    const dnnl_memory_desc_t *scr_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    s->dst_bytes = dst_md ? dnnl_memory_desc_get_size(dst_md) : 0;
    k->scratch_bytes = dnn_scratch_bytes(pd);
    int rc = -1;
    if (!dst_md || (p->bias && !bias_md)) {
        err_set(err, ERR_RUNTIME, "matmul: missing descriptors");
        goto done;
    }
    if (dnn_mem(ctx, src_md, &s->src, err) || dnn_mem(ctx, dst_md, &s->dst, err)) goto done;
    if (p->bias && dnn_mem(ctx, bias_md, &s->bias, err)) goto done;
    if (p->bias_widen && widen_bias(&node_input_value(g, n, p->arg_bias)->known, s, k, err)) goto done;
    if (k->scratch_bytes && scr_md && dnn_mem(ctx, scr_md, &s->scratch, err)) goto done;
    if (const_b) {
        if (mm_weights(ctx, &node_input_value(g, n, 1)->known, b_md, pd, s, k, err)) goto done;
    } else if (dnn_mem(ctx, b_md, &s->wei, err)) {
        goto done;
    }
    rc = 0;
done:
    if (rc) {
        mm_destroy(s);
        k->weight_bytes = 0;
        return -1;
    }
    k->state = s;
    k->run = mm_run;
    k->destroy = mm_destroy;
    k->impl = dnn_impl_name(pd);
    /* the output may take the addend's buffer (oneDNN sums into dst in place), unless the
       addend is also an operand: overwriting it would corrupt the product while it runs */
    k->inplace = -1;
    if (p->sum) {
        ValueRef a = n->inputs[p->arg_add];
        bool operand = false;
        for (int i = 0; i < n->n_inputs; i++)
            if (i != p->arg_add && n->inputs[i].node == a.node && n->inputs[i].port == a.port) operand = true;
        if (!operand) k->inplace = p->arg_add;
    }
    return 0;
}

int fast_compile_matmul(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->op != OP_MATMUL && n->op != OP_FUSED_MATMUL && n->op != OP_BATCH_MATMUL && n->op != OP_BATCH_MATMUL_V2 &&
        n->op != OP_BATCH_MATMUL_V3)
        return 0;
    MmGeom m;
    MmPost p;
    if (!mm_geom(g, n, &m) || !mm_post(g, n, &m, &p)) return 0;
    const Value *bv = node_input_value(g, n, 1);
    bool const_b = bv->known.buf != NULL && bv->known.dtype == m.dtype;

    dnnl_memory_desc_t src_md, b_md;
    dnnl_primitive_desc_t pd = NULL;
    int rc = mm_pd(ctx, &m, &p, const_b, &src_md, &b_md, &pd, err);
    if (rc <= 0) return rc;
    char key[1024];
    mm_key(&m, &p, const_b, key, sizeof key);
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    if (dnn_primitive(ctx, key, pd, &prim, &cpd, err)) return -1;
    if (mm_state(ctx, g, n, &p, const_b, &src_md, &b_md, prim, cpd, k, err)) return -1;
    return 1;
}
