/* dnn_softmax.c - oneDNN softmax for TensorFlow's Softmax, which always normalizes over the last
 * axis: the tensor is viewed as [rows, cols] and oneDNN's (max-subtracting, "accurate")
 * softmax runs over axis 1. float32 only. The output may overwrite the input (k->inplace = 0):
 * oneDNN reads each row's maximum before writing it. */
#include <stdio.h>

#include "dnn_misc_util.h"

int fast_compile_softmax(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->op != OP_SOFTMAX || n->n_inputs != 1 || n->n_outputs != 1) return 0;
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (!misc_value_ok(x) || x->shape.rank < 1 || !shape_equal(&x->shape, &y->shape)) return 0;
    if (x->dtype != DT_FLOAT || y->dtype != DT_FLOAT) return 0;
    int64_t cols = x->shape.dim[x->shape.rank - 1];
    int64_t dims[2] = {shape_numel(&x->shape) / cols, cols};

    dnnl_memory_desc_t md;
    if (dnn_md_plain_dims(&md, 2, dims, DT_FLOAT, err)) return -1;
    char key[128];
    snprintf(key, sizeof key, "softmax:f32:%lldx%lld", (long long)dims[0], (long long)dims[1]);
    dnnl_softmax_desc_t desc;
    if (dnnl_softmax_forward_desc_init(&desc, dnnl_forward_inference, &md, 1) != dnnl_success) return 0;
    MiscKernel *mk;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_simple(ctx, g, n, key, &desc, &md, &md, &mk, &prim, &cpd, err);
    if (rc <= 0) return rc;
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    k->inplace = x->known.buf ? -1 : 0;
    return 1;
}
