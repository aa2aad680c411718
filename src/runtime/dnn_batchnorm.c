/* dnn_batchnorm.c - oneDNN batch normalization for FusedBatchNorm / V2 / V3 in inference mode
 * (is_training false): y = (x - mean) / sqrt(variance + epsilon) * scale + offset with
 * use_global_stats | use_scale | use_shift, scale and offset passed as separate [C] vectors.
 *
 * The statistics outputs are filled exactly as the reference does, so any consumer sees the
 * same values: batch_mean and reserve_space_1 = mean, batch_variance and reserve_space_2 =
 * variance, reserve_space_3 (V3) = 0. x is viewed as [outer, C] (channels last) or
 * [N, C, inner] (NC.. formats). Training mode (TF's default) declines: it computes batch
 * statistics with TF's exponential-average rules. All tensors float32 (mixed-precision V3
 * with a half/bfloat16 x declines). The output may overwrite x (k->inplace = 0). */
#include <stdio.h>
#include <string.h>

#include "dnn_misc_util.h"

/* copies mean into outputs 1 and 3, variance into 2 and 4 (what the reference writes) */
static int bn_fill_statistics(const MiscKernel *mk, const Tensor *in, Tensor *out, Err *err) {
    (void)err;
    const void *mean = misc_input_data(mk, in, 3), *var = misc_input_data(mk, in, 4);
    for (int o = 1; o <= 4; o++) {
        if (!out[o].buf) continue;
        size_t bytes = tensor_nbytes(&out[o]);
        memcpy(out[o].buf->data, o % 2 ? mean : var, bytes); /* [C] floats, checked at compile time */
    }
    return 0;
}

/* the V3 variant also zeroes its scalar reserve_space_3 */
static int bn_fill_statistics_v3(const MiscKernel *mk, const Tensor *in, Tensor *out, Err *err) {
    if (bn_fill_statistics(mk, in, out, err)) return -1;
    if (out[5].buf) memset(out[5].buf->data, 0, tensor_nbytes(&out[5]));
    return 0;
}

int fast_compile_batchnorm(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->op != OP_FUSED_BATCH_NORM && n->op != OP_FUSED_BATCH_NORM_V2 && n->op != OP_FUSED_BATCH_NORM_V3) return 0;
    if (n->n_inputs != 5 || n->n_outputs < 5 || node_attr_b(n, "is_training", true)) return 0;
    const Value *x = node_input_value(g, n, 0);
    if (!misc_value_ok(x) || x->dtype != DT_FLOAT || x->shape.rank < 2) return 0;
    const char *fmt = node_attr_s(n, "data_format", "NHWC");
    bool channels_first = fmt[0] == 'N' && fmt[1] == 'C';
    const Shape *xs = &x->shape;
    int c_axis = channels_first ? 1 : xs->rank - 1;
    int64_t c = xs->dim[c_axis];
    for (int i = 1; i < 5; i++) {
        const Value *v = node_input_value(g, n, i);
        if (v->dtype != DT_FLOAT || v->shape.rank != 1 || v->shape.dim[0] != c) return 0;
    }
    for (int o = 0; o < n->n_outputs; o++) {
        const Value *v = &n->outputs[o];
        if (v->dtype != DT_FLOAT || !shape_is_known(&v->shape)) return 0;
        if (o >= 1 && o <= 4 && (v->shape.rank != 1 || v->shape.dim[0] != c)) return 0;
    }
    if (!shape_equal(&n->outputs[0].shape, xs)) return 0;

    int64_t outer = 1, inner = 1;
    for (int d = 0; d < c_axis; d++) outer *= xs->dim[d];
    for (int d = c_axis + 1; d < xs->rank; d++) inner *= xs->dim[d];
    /* oneDNN's logical dims are (N, C, spatial). Channels last is described as N=1, C,
       H=outer, W=1 in the nhwc ("acdb") layout, which is exactly [outer, C] in memory and gets the
       jit nspc kernel; a 2-D [outer, C] "ab" descriptor would run oneDNN's slow ncsp kernel
       (measured ~30 ms vs ~1 ms on ResNet-50's 56x56x256). Channels first = [N, C, inner]. */
    int64_t dims[4];
    dnnl_format_tag_t tag;
    if (channels_first) { dims[0] = outer; dims[1] = c; dims[2] = inner; dims[3] = 1; tag = dnnl_abcd; }
    else { dims[0] = 1; dims[1] = c; dims[2] = outer; dims[3] = 1; tag = dnnl_acdb; }
    int rank = 4;
    dnnl_memory_desc_t md, vec_md;
    dnnl_dims_t dd = {dims[0], dims[1], dims[2], dims[3]};
    if (dnn_check(dnnl_memory_desc_init_by_tag(&md, 4, dd, dnnl_f32, tag), "batchnorm descriptor", err) ||
        dnn_md_plain_dims(&vec_md, 1, &c, DT_FLOAT, err)) return -1;
    float eps = node_attr_f(n, "epsilon", 1e-4f);
    unsigned flags = dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift;
    char key[256];
    snprintf(key, sizeof key, "bnorm:%u:%.9g:%lldx%lldx%lld:%d", flags, eps, (long long)outer, (long long)c,
             (long long)inner, rank);

    dnnl_batch_normalization_desc_t desc;
    if (dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_inference, &md, eps, flags) != dnnl_success)
        return 0;
    MiscKernel *mk;
    dnnl_primitive_t prim;
    const_dnnl_primitive_desc_t cpd;
    int rc = misc_simple(ctx, g, n, key, &desc, &md, &md, &mk, &prim, &cpd, err);
    if (rc <= 0) return rc;
    if (misc_arg(mk, DNNL_ARG_SCALE, MISC_IN, 1, &vec_md, err) ||
        misc_arg(mk, DNNL_ARG_SHIFT, MISC_IN, 2, &vec_md, err) ||
        misc_arg(mk, DNNL_ARG_MEAN, MISC_IN, 3, &vec_md, err) ||
        misc_arg(mk, DNNL_ARG_VARIANCE, MISC_IN, 4, &vec_md, err)) {
        misc_free(mk);
        return -1;
    }
    mk->after = n->n_outputs >= 6 ? bn_fill_statistics_v3 : bn_fill_statistics;
    if (misc_finish(mk, prim, cpd, k, err) < 0) return -1;
    k->inplace = x->known.buf ? -1 : 0;
    return 1;
}
