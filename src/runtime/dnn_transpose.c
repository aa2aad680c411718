/* dnn_transpose.c - Transpose as a oneDNN reorder: the input is described IN THE OUTPUT'S
 * dim order with the input's strides permuted (a strided view), the destination is the plain
 * output, and a reorder between the two descriptors moves the data.
 *
 * The permutation must be known at compile time (a constant perm input); any dtype of 1, 2, 4
 * or 8 bytes is moved bit for bit. float32 and int32 reorder as f32 / s32 (same type in and
 * out, so oneDNN copies without converting: NaN payloads, denormals and every int32 survive,
 * which the tests check). Other sizes are viewed as bytes: an extra innermost dim of 2 or 8 u8
 * elements, contiguous in both tensors.
 *
 * Shapes are collapsed first so the reorder sees the fewest dims: size-1 dims are dropped and
 * input dims that stay neighbours in the output are merged (BERT's [1,S,H,D] -> [1,H,S,D]
 * becomes [S,H,D] -> [H,S,D]; the byte view's extra dim merges into a contiguous innermost
 * dim). An identity permutation becomes a 1-D copy. Declines (returns 0): a perm computed at
 * run time, unknown shapes, empty tensors, opaque dtypes, a perm that does not match the
 * output shape, and anything oneDNN has no reorder for. The output never reuses the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn_misc_util.h"

/* rank after adding the byte-view dim; oneDNN takes up to DNNL_MAX_NDIMS (12) */
#define TR_MAX (MAX_RANK + 1)

typedef struct TransposeKernel {
    MiscKernel *mk;
    char impl[96]; /* "onednn-reorder:" + oneDNN's implementation name */
} TransposeKernel;

static int transpose_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    TransposeKernel *tk = state;
    return misc_run(tk->mk, in, out, scratch, err);
}

static void transpose_destroy(void *state) {
    TransposeKernel *tk = state;
    if (!tk) return;
    misc_free(tk->mk);
    free(tk);
}

/* The collapsed problem: out dim k (row-major, plain) reads the input with element stride
   src_stride[k]. Returns the rank (>= 1). in_dims/perm have `rank` entries; out dim k is
   in_dims[perm[k]]. */
static int tr_collapse(int rank, const int64_t *in_dims, const int64_t *perm, int64_t *dims, int64_t *src_stride) {
    /* input axes of size > 1 get compact numbers, so axes separated only by size-1 axes count
       as neighbours */
    int compact[TR_MAX], n_big = 0;
    for (int a = 0; a < rank; a++) compact[a] = in_dims[a] == 1 ? -1 : n_big++;
    /* groups in output order: runs of output dims whose input axes are consecutive */
    int g_first[TR_MAX], n_groups = 0; /* compact input axis where each group starts */
    int64_t g_dim[TR_MAX];
    int last = -2;
    for (int k = 0; k < rank; k++) {
        int a = (int)perm[k];
        if (compact[a] < 0) continue;
        if (n_groups > 0 && compact[a] == last + 1) {
            g_dim[n_groups - 1] *= in_dims[a];
        } else {
            g_first[n_groups] = compact[a];
            g_dim[n_groups] = in_dims[a];
            n_groups++;
        }
        last = compact[a];
    }
    if (n_groups == 0) { /* a single element */
        dims[0] = 1;
        src_stride[0] = 1;
        return 1;
    }
    /* a group's input stride: the product of the groups that come after it in the input */
    for (int i = 0; i < n_groups; i++) {
        int64_t s = 1;
        for (int j = 0; j < n_groups; j++)
            if (g_first[j] > g_first[i]) s *= g_dim[j];
        dims[i] = g_dim[i];
        src_stride[i] = s;
    }
    return n_groups;
}

int fast_compile_transpose(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->op != OP_TRANSPOSE || n->n_inputs != 2 || n->n_outputs != 1) return 0;
    const Value *x = node_input_value(g, n, 0), *pv = node_input_value(g, n, 1), *y = &n->outputs[0];
    if (!pv->known.buf || !misc_value_ok(x) || !misc_value_ok(y) || x->dtype != y->dtype) return 0;
    int dt = x->dtype;
    size_t esz = dtype_size(dt);
    if (!dtype_is_supported(dt)) return 0;

    int rank = x->shape.rank;
    int64_t perm[TR_MAX];
    Err perr; /* a malformed perm is the reference kernel's to report */
    if (tensor_to_i64(&pv->known, perm, MAX_RANK, &perr) != rank || y->shape.rank != rank) return 0;
    bool seen[MAX_RANK] = {false};
    for (int d = 0; d < rank; d++) {
        if (perm[d] < 0 || perm[d] >= rank || seen[perm[d]]) return 0;
        seen[perm[d]] = true;
        if (y->shape.dim[d] != x->shape.dim[perm[d]]) return 0;
    }

    /* element unit: the oneDNN type moved, and how many of them make one element */
    dnnl_data_type_t unit;
    int64_t per_elem;
    switch (esz) {
    case 4: unit = dt == DT_FLOAT ? dnnl_f32 : dnnl_s32; per_elem = 1; break;
    case 1: case 2: case 8: unit = dnnl_u8; per_elem = (int64_t)esz; break;
    default: return 0;
    }
    /* the unit view: one more input axis (the bytes of an element), last in the output too */
    int64_t in_dims[TR_MAX];
    for (int d = 0; d < rank; d++) in_dims[d] = x->shape.dim[d];
    in_dims[rank] = per_elem;
    perm[rank] = rank;
    dnnl_dims_t dims, sstr, dstr; /* oneDNN's own array type: its API reads DNNL_MAX_NDIMS entries */
    int cr = tr_collapse(rank + 1, in_dims, perm, dims, sstr);
    int64_t acc = 1;
    for (int d = cr - 1; d >= 0; d--) {
        dstr[d] = acc;
        acc *= dims[d];
    }

    dnnl_memory_desc_t src_md, dst_md;
    if (dnnl_memory_desc_init_by_strides(&src_md, cr, dims, unit, sstr) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&dst_md, cr, dims, unit, dstr) != dnnl_success)
        return 0;
    char key[512];
    snprintf(key, sizeof key, "transpose:%d", (int)unit);
    misc_key_dims(key, sizeof key, cr, dims);
    misc_key_dims(key, sizeof key, cr, sstr);

    dnnl_primitive_attr_t attr;
    if (misc_attr(&attr, 0, 0, 0, err)) return -1;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, &src_md, ctx->engine, &dst_md, ctx->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_primitive(ctx, key, st, pd, &prim, &cpd, err);
    if (rc <= 0) return rc;

    TransposeKernel *tk = calloc(1, sizeof *tk);
    if (!tk) return err_set(err, ERR_RUNTIME, "out of memory");
    tk->mk = misc_new(ctx, g, n, err);
    if (!tk->mk) { free(tk); return -1; }
    if (misc_arg(tk->mk, DNNL_ARG_FROM, MISC_IN, 0, &src_md, err) ||
        misc_arg(tk->mk, DNNL_ARG_TO, MISC_OUT, 0, &dst_md, err)) {
        misc_free(tk->mk);
        free(tk);
        return -1;
    }
    if (misc_finish(tk->mk, prim, cpd, k, err) < 0) { free(tk); return -1; } /* mk freed by misc_finish */
    snprintf(tk->impl, sizeof tk->impl, "onednn-reorder:%s", k->impl ? k->impl : "?");
    k->impl = tk->impl;
    k->state = tk;
    k->run = transpose_run;
    k->destroy = transpose_destroy;
    k->inplace = -1; /* a transpose reads its input out of order: never in place */
    return 1;
}
