/* dnn_layernorm.c - oneDNN kernels for grappo's fused float ops (docs/ops.md):
 *
 *   fast_compile_layernorm  GrappoLayerNorm as oneDNN layer normalization (forward inference,
 *       statistics computed per row, flags use_scale | use_shift: gamma and beta are separate
 *       [D] float32 memories, the 2.6 API). x is viewed as [rows, D] in plain row-major layout,
 *       so every LayerNorm with the same (rows, D, epsilon) shares one primitive. Constant
 *       gamma/beta (the usual case: weights) are held by the kernel from compile time (no copy
 *       or reorder is needed: [D] float32 is already oneDNN's layout); gamma/beta computed at
 *       run time are read from in[] like any input. The output may overwrite x (in place).
 *   fast_compile_gelu  GrappoGelu as oneDNN eltwise gelu_erf (approximate false) or
 *       gelu_tanh (approximate true) on the tensor viewed as one flat vector, in place.
 *
 * Both decline (the plan runs the reference kernel) for anything but float32 with fully known
 * non-empty shapes, and when oneDNN has no implementation. Accuracy against the reference
 * (double) kernels: within 1e-4 relative (tests/test_fused_ops.c). */
#include <stdio.h>

#include "dnn_misc_util.h"

int fast_compile_layernorm(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->op != OP_GRAPPO_LAYER_NORM || n->n_inputs != 3 || n->n_outputs != 1) return 0;
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (!misc_value_ok(x) || x->dtype != DT_FLOAT || x->shape.rank < 1 || !shape_equal(&x->shape, &y->shape) ||
        y->dtype != DT_FLOAT)
        return 0;
    int64_t d = x->shape.dim[x->shape.rank - 1], rows = shape_numel(&x->shape) / d;
    for (int i = 1; i < 3; i++) {
        const Value *v = node_input_value(g, n, i);
        if (v->dtype != DT_FLOAT || v->shape.rank != 1 || v->shape.dim[0] != d) return 0;
    }
    float eps = node_attr_f(n, "epsilon", 0);

    dnnl_memory_desc_t md, vec_md;
    if (dnn_md_plain_dims(&md, 2, (int64_t[]){rows, d}, DT_FLOAT, err) || dnn_md_plain_dims(&vec_md, 1, &d, DT_FLOAT, err))
        return -1;
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    char key[256];
    snprintf(key, sizeof key, "lnorm:%u:%.9g:%lldx%lld", flags, eps, (long long)rows, (long long)d);

    dnnl_layer_normalization_desc_t desc;
    if (dnnl_layer_normalization_forward_desc_init(&desc, dnnl_forward_inference, &md, NULL, eps, flags) != dnnl_success)
        return 0;
    MiscKernel *mk;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_simple(ctx, g, n, key, &desc, &md, &md, &mk, &prim, &cpd, err);
    if (rc <= 0) return rc;
    if (misc_arg(mk, DNNL_ARG_SCALE, MISC_IN, 1, &vec_md, err) ||
        misc_arg(mk, DNNL_ARG_SHIFT, MISC_IN, 2, &vec_md, err)) {
        misc_free(mk);
        return -1;
    }
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    k->inplace = x->known.buf ? -1 : 0; /* a constant input is never overwritten */
    return 1;
}

int fast_compile_gelu(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->op != OP_GRAPPO_GELU || n->n_inputs != 1 || n->n_outputs != 1) return 0;
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (!misc_value_ok(x) || x->dtype != DT_FLOAT || y->dtype != DT_FLOAT || !shape_equal(&x->shape, &y->shape)) return 0;
    dnnl_alg_kind_t alg = node_attr_b(n, "approximate", false) ? dnnl_eltwise_gelu_tanh : dnnl_eltwise_gelu_erf;

    int64_t count = shape_numel(&x->shape);
    dnnl_memory_desc_t md;
    if (dnn_md_plain_dims(&md, 1, &count, DT_FLOAT, err)) return -1;
    char key[256];
    snprintf(key, sizeof key, "gelu:%d:%lld", (int)alg, (long long)count);

    dnnl_eltwise_desc_t desc;
    if (dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, alg, &md, 0, 0) != dnnl_success) return 0;
    MiscKernel *mk;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_simple(ctx, g, n, key, &desc, &md, &md, &mk, &prim, &cpd, err);
    if (rc <= 0) return rc;
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    k->inplace = x->known.buf ? -1 : 0;
    return 1;
}
