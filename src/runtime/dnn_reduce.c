/* dnn_reduce.c - oneDNN kernels for the reductions Mean, Sum and Prod over known axes (float32).
 *
 * The input is collapsed first: size-1 dims dropped, neighbouring dims merged while they are
 * all reduced or all kept; keep_dims only changes the output's shape, not its memory. Then:
 *  - one reduced block with kept dims after it, [A, R, B] (the global average pool, Mean over
 *    H,W of NHWC, is [N, H*W, C]): oneDNN 2.6's reduction has only a reference implementation
 *    for this (measured ~35 ms on [3136, 256]), so Mean and Max run as a 1-D pooling over R
 *    with window R (avg without padding = mean) and Sum as that average times R (an eltwise
 *    linear post-op; within two float roundings of the sum);
 *  - anything else goes to dnnl_reduction, kept only when oneDNN has a jit kernel for it
 *    (reductions over the trailing dims); its ref:any kernel is slower than grappo's
 *    reference kernel, so that case declines.
 * Empty reductions and reductions where nothing is reduced (all reduced dims have size 1)
 * decline, as do integer tensors. Max and Min decline too: oneDNN's max/min reductions (and its
 * max pooling) are not NaN-propagating, so a row holding NaN gave a number where TensorFlow and
 * the reference give NaN (found by fuzz_graph_struct); they run on the reference kernel. */
#include <stdio.h>
#include <string.h>

#include "dnn_misc_util.h"

static dnnl_alg_kind_t reduction_alg(OpId op) {
    switch (op) {
    case OP_MEAN: return dnnl_reduction_mean;
    case OP_SUM: return dnnl_reduction_sum;
    case OP_MAX: return dnnl_reduction_max;
    case OP_MIN: return dnnl_reduction_min;
    case OP_PROD: return dnnl_reduction_mul;
    default: return dnnl_alg_kind_undef;
    }
}

/* marks reduced[d] from the known axes input; 0 when unreadable, out of range or repeated */
static int read_axes(const Value *axes, int rank, int *reduced) {
    int64_t a[MAX_RANK + 1];
    Err ignored;
    if (!axes->known.buf) return 0;
    int count = tensor_to_i64(&axes->known, a, MAX_RANK + 1, &ignored);
    if (count < 0 || count > MAX_RANK) return 0;
    for (int d = 0; d < rank; d++) reduced[d] = 0;
    for (int i = 0; i < count; i++) {
        int64_t d = a[i] < 0 ? a[i] + rank : a[i];
        if (d < 0 || d >= rank || reduced[d]) return 0;
        reduced[d] = 1;
    }
    return 1;
}

/* pd for [A, R, B] -> [A, 1, B] as a 1-D pooling (logical N=A, C=B, W=R; nwc memory) */
static dnnl_status_t pool_pd(DnnCtx *ctx, OpId op, int64_t a, int64_t r, int64_t b, dnnl_memory_desc_t *src_md,
                             dnnl_memory_desc_t *dst_md, dnnl_primitive_desc_t *pd, Err *err, int *fail) {
    dnnl_dims_t sd = {a, b, r}, dd = {a, b, 1}, stride = {1}, kernel = {r}, pad = {0};
    *fail = 1;
    if (dnn_check(dnnl_memory_desc_init_by_tag(src_md, 3, sd, dnnl_f32, dnnl_acb), "reduce source", err) ||
        dnn_check(dnnl_memory_desc_init_by_tag(dst_md, 3, dd, dnnl_f32, dnnl_acb), "reduce destination", err))
        return dnnl_runtime_error;
    *fail = 0;
    dnnl_alg_kind_t alg = op == OP_MAX ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
    dnnl_pooling_desc_t desc;
    dnnl_status_t st = dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, alg, src_md, dst_md, stride, kernel, pad, pad);
    if (st != dnnl_success) return st;
    dnnl_primitive_attr_t attr;
    if (misc_attr(&attr, op == OP_SUM ? dnnl_eltwise_linear : 0, (float)r, 0, err)) { *fail = 1; return dnnl_runtime_error; }
    st = dnnl_primitive_desc_create(pd, &desc, attr, ctx->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* pd for a dnnl_reduction over the collapsed dims */
static dnnl_status_t reduction_pd(DnnCtx *ctx, OpId op, int rank, const int64_t *dims, const int *kind,
                                  dnnl_memory_desc_t *src_md, dnnl_memory_desc_t *dst_md, dnnl_primitive_desc_t *pd,
                                  Err *err, int *fail) {
    int64_t dd[MAX_RANK];
    for (int d = 0; d < rank; d++) dd[d] = kind[d] ? 1 : dims[d];
    *fail = 1;
    if (dnn_md_plain_dims(src_md, rank, dims, DT_FLOAT, err) || dnn_md_plain_dims(dst_md, rank, dd, DT_FLOAT, err))
        return dnnl_runtime_error;
    *fail = 0;
    dnnl_reduction_desc_t desc;
    dnnl_status_t st = dnnl_reduction_desc_init(&desc, reduction_alg(op), src_md, dst_md, 0.0f, 0.0f);
    if (st != dnnl_success) return st;
    dnnl_primitive_attr_t attr;
    if (misc_attr(&attr, 0, 0, 0, err)) { *fail = 1; return dnnl_runtime_error; }
    st = dnnl_primitive_desc_create(pd, &desc, attr, ctx->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st == dnnl_success && !strncmp(dnn_impl_name(*pd), "ref", 3)) { /* slower than grappo's reference */
        dnnl_primitive_desc_destroy(*pd);
        *pd = NULL;
        return dnnl_unimplemented;
    }
    return st;
}

int fast_compile_reduce(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (reduction_alg(n->op) == dnnl_alg_kind_undef || n->n_inputs != 2 || n->n_outputs != 1) return 0;
    if (n->op == OP_MAX || n->op == OP_MIN) return 0; /* NaN must propagate (see the top) */
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (!misc_value_ok(x) || !misc_value_ok(y) || x->dtype != DT_FLOAT || y->dtype != DT_FLOAT) return 0;
    int rank = x->shape.rank, reduced[MAX_RANK];
    if (!read_axes(node_input_value(g, n, 1), rank, reduced)) return 0;

    int64_t cd[MAX_RANK];
    int ck[MAX_RANK];
    int cr = misc_collapse(rank, x->shape.dim, reduced, cd, ck);
    int blocks = 0, last = -1; /* reduced blocks after collapsing, and the index of the last */
    int64_t kept = 1;
    for (int d = 0; d < cr; d++) {
        if (ck[d]) { blocks++; last = d; }
        else kept *= cd[d];
    }
    if (blocks == 0 || kept != shape_numel(&y->shape)) return 0; /* nothing reduced: a copy */

    bool pool = blocks == 1 && last < cr - 1 && (n->op == OP_MEAN || n->op == OP_MAX || n->op == OP_SUM);
    char key[256];
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st;
    int fail = 0;
    if (pool) {
        int64_t a = last == 1 ? cd[0] : 1, r = cd[last], b = cd[last + 1]; /* collapsed: [A,] R, B */
        snprintf(key, sizeof key, "reduce-pool:%d:%lldx%lldx%lld", (int)n->op, (long long)a, (long long)r, (long long)b);
        st = pool_pd(ctx, n->op, a, r, b, &src_md, &dst_md, &pd, err, &fail);
    } else {
        if (cr > 6) return 0;
        snprintf(key, sizeof key, "reduce:%d", (int)n->op);
        misc_key_dims(key, sizeof key, cr, cd);
        for (int d = 0; d < cr; d++) strncat(key, ck[d] ? "r" : "k", sizeof key - strlen(key) - 1);
        st = reduction_pd(ctx, n->op, cr, cd, ck, &src_md, &dst_md, &pd, err, &fail);
    }
    if (fail) return -1;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_primitive(ctx, key, st, pd, &prim, &cpd, err);
    if (rc <= 0) return rc;

    MiscKernel *mk = misc_new(ctx, g, n, err);
    if (!mk) return -1;
    if (misc_arg(mk, DNNL_ARG_SRC, MISC_IN, 0, &src_md, err) || misc_arg(mk, DNNL_ARG_DST, MISC_OUT, 0, &dst_md, err)) {
        misc_free(mk);
        return -1;
    }
    return misc_finish(mk, prim, cpd, k, err);
}
