/* dnn_concat.c - oneDNN concat for ConcatV2 of float32 / bfloat16 tensors along a known axis.
 *
 * Every piece is viewed as [outer, width_k, inner] (dims before the axis, the axis, dims after)
 * and joined along dim 1, so any rank fits and layers of equal geometry share a primitive.
 * Pieces of width 0 take no part (oneDNN rejects empty sources). Constant pieces are read
 * from the graph's values. Integer tensors decline (the reference copies them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn_misc_util.h"

int fast_compile_concat(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->op != OP_CONCAT_V2 || n->n_inputs < 2 || n->n_outputs != 1) return 0;
    int pieces = n->n_inputs - 1;
    const Value *y = &n->outputs[0], *axis_v = node_input_value(g, n, pieces);
    if (!misc_value_ok(y) || !misc_dtype_ok(y->dtype, true) || !axis_v->known.buf) return 0;
    int64_t a;
    Err ignored;
    if (tensor_to_i64(&axis_v->known, &a, 1, &ignored) != 1) return 0;
    int rank = y->shape.rank;
    if (a < -rank || a >= rank) return 0;
    int axis = (int)(a < 0 ? a + rank : a);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->shape.dim[d];
    for (int d = axis + 1; d < rank; d++) inner *= y->shape.dim[d];

    dnnl_memory_desc_t *mds = malloc((size_t)pieces * sizeof *mds);
    int *which = malloc((size_t)pieces * sizeof *which); /* input index of each primitive source */
    if (!mds || !which) {
        free(mds);
        free(which);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    char key[1024];
    snprintf(key, sizeof key, "concat:%s:%lldx%lld:", dtype_name(y->dtype), (long long)outer, (long long)inner);
    int used = 0, rc = 0;
    int64_t along = 0;
    for (int i = 0; i < pieces; i++) {
        const Value *v = node_input_value(g, n, i);
        if (v->dtype != y->dtype || v->shape.rank != rank || !shape_is_known(&v->shape)) goto done;
        for (int d = 0; d < rank; d++)
            if (d != axis && v->shape.dim[d] != y->shape.dim[d]) goto done;
        int64_t w = v->shape.dim[axis];
        along += w;
        if (w == 0) continue;
        int64_t dims[3] = {outer, w, inner};
        if (dnn_md_plain_dims(&mds[used], 3, dims, y->dtype, err)) { rc = -1; goto done; }
        which[used++] = i;
        misc_key_dims(key, sizeof key, 1, &w);
    }
    if (along != y->shape.dim[axis] || used == 0) goto done;
    /* an over-long key would merge distinct layers: decline instead (thousands of pieces) */
    if (strlen(key) >= sizeof key - 2) goto done;

    int64_t ydims[3] = {outer, along, inner};
    dnnl_memory_desc_t ymd;
    if (dnn_md_plain_dims(&ymd, 3, ydims, y->dtype, err)) { rc = -1; goto done; }
    dnnl_primitive_attr_t attr;
    if (misc_attr(&attr, 0, 0, 0, err)) { rc = -1; goto done; }
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_concat_primitive_desc_create(&pd, &ymd, used, 1, mds, attr, ctx->engine);
    dnnl_primitive_attr_destroy(attr);
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    rc = misc_primitive(ctx, key, st, pd, &prim, &cpd, err);
    if (rc <= 0) goto done;

    MiscKernel *mk = misc_new(ctx, g, n, err);
    if (!mk) { rc = -1; goto done; }
    for (int j = 0; j < used; j++)
        if (misc_arg(mk, DNNL_ARG_MULTIPLE_SRC + j, MISC_IN, which[j], &mds[j], err)) {
            misc_free(mk);
            rc = -1;
            goto done;
        }
    if (misc_arg(mk, DNNL_ARG_DST, MISC_OUT, 0, &ymd, err)) {
        misc_free(mk);
        rc = -1;
        goto done;
    }
    rc = misc_finish(mk, prim, cpd, k, err);
done:
    free(mds);
    free(which);
    return rc;
}
