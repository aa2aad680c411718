/* dnn_conv_weights.c - the constant side of a oneDNN convolution, prepared once at plan
 * compile time: a float32 copy of TensorFlow's HWIO filter (widened from bfloat16 when
 * needed, scaled per output channel when a batch norm is folded in), the float32 bias, and
 * the reorder of the filter into the blocked layout the primitive chose with format `any`. */
#include <math.h>
#include <stdlib.h>

#include "dnn_conv_internal.h"

/* element i of a float32 or bfloat16 tensor */
static double elem(const Tensor *t, int64_t i) {
    if (t->dtype == DT_BFLOAT16) return bfloat16_to_float(((const uint16_t *)tensor_data(t))[i]);
    return ((const float *)tensor_data(t))[i];
}

float *conv_filter_f32(const Tensor *w, const double *scale, int64_t out_c) {
    int64_t n = tensor_numel(w);
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    if (!f) return NULL;
    /* HWIO and depthwise HWCM both keep the output channel innermost: element i feeds
       output channel i % out_c */
    for (int64_t i = 0; i < n; i++) f[i] = scale ? (float)(elem(w, i) * scale[i % out_c]) : (float)elem(w, i);
    return f;
}

void conv_vec_f32(const Tensor *t, float *dst, int64_t out_c) {
    for (int64_t c = 0; c < out_c; c++) dst[c] = (float)elem(t, c);
}

void conv_fold_bn(const Tensor *bn4, double epsilon, int64_t out_c, double *mul, float *bias) {
    const Tensor *scale = &bn4[0], *offset = &bn4[1], *mean = &bn4[2], *var = &bn4[3];
    for (int64_t c = 0; c < out_c; c++) {
        /* the reference computes (y - mean) * mul + offset with the same double mul */
        mul[c] = elem(scale, c) / sqrt(elem(var, c) + epsilon);
        bias[c] = (float)(elem(offset, c) - elem(mean, c) * mul[c]);
    }
}

int conv_prepack(DnnCtx *ctx, const float *w, int rank, const int64_t *wdims, const int64_t *wstrides,
                 const dnnl_memory_desc_t *dst_md, void **packed, size_t *bytes, Err *err) {
    dnnl_memory_desc_t src_md;
    dnnl_dims_t d, s;
    for (int i = 0; i < rank; i++) {
        d[i] = wdims[i];
        s[i] = wstrides[i];
    }
    if (dnn_check(dnnl_memory_desc_init_by_strides(&src_md, rank, d, dnnl_f32, s), "filter descriptor", err)) return -1;
    /* the reorder also converts to the primitive's weight type (bfloat16: round to nearest even) */
    return dnn_reorder_new(ctx, &src_md, w, dst_md, packed, bytes, err);
}
