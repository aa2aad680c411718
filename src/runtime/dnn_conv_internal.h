/* dnn_conv_internal.h - private to the oneDNN convolution family: what dnn_conv.c (node ->
 * primitive, kernel state, run), dnn_conv_postops.c (fused ops -> oneDNN post-ops) and
 * dnn_conv_weights.c (filter and bias preparation, batch-norm folding, prepacking) share. */
#ifndef GRAPPO_DNN_CONV_INTERNAL_H
#define GRAPPO_DNN_CONV_INTERNAL_H

#include <stdbool.h>

#include "../graph/nn_attrs.h"
#include "fast.h"

/* ---- the epilogue as oneDNN sees it (dnn_conv_postops.c) ---- */

typedef struct ConvEpi {
    bool bias;               /* a bias argument (BiasAdd, or folded batch norm) */
    bool sum;                /* residual Add: a sum post-op accumulating into dst */
    dnnl_alg_kind_t act;     /* eltwise post-op after the sum, dnnl_alg_kind_undef when none */
    float alpha, beta;       /* its parameters */
} ConvEpi;

/* Maps a parsed fused-op list (or an all-false spec for plain convolutions) to oneDNN terms.
   Returns false when some part has no exact oneDNN equivalent (Prelu): decline the node. */
bool conv_epi_from_spec(const FusedSpec *s, ConvEpi *e);
/* Appends the post-ops (sum before eltwise, as TF's order bias -> Add -> activation) to attr. */
int conv_epi_attr(const ConvEpi *e, dnnl_primitive_attr_t attr, Err *err);
/* Part of the primitive cache key naming every post-op and its parameters exactly. */
void conv_epi_key(const ConvEpi *e, char *buf, size_t cap);

/* ---- weights and bias (dnn_conv_weights.c) ---- */

/* A float32 copy of the HWIO filter w (float32 or bfloat16; numel = rows * out_c with the
   output channel innermost, also for depthwise [KH,KW,C,M] filters), each output channel
   multiplied by scale[c] when scale is not NULL. malloc'ed; NULL on OOM. */
float *conv_filter_f32(const Tensor *w, const double *scale, int64_t out_c);

/* Per-channel float32 vector from a [out_c] float32 or bfloat16 tensor, into dst. */
void conv_vec_f32(const Tensor *t, float *dst, int64_t out_c);

/* Folds the batch norm (scale, offset, mean, variance: known tensors of out_c elements) into
   a weight multiplier mul[c] = scale / sqrt(variance + epsilon) and a bias
   bias[c] = offset - mean * mul, computed in double. */
void conv_fold_bn(const Tensor *bn4, double epsilon, int64_t out_c, double *mul, float *bias);

/* Reorders the float32 filter (logical dims wdims of rank 4 [O,I,H,W] or 5 [G,O/G,I/G,H,W],
   memory laid out with strides wstrides) into the layout the primitive chose, dst_md. */
int conv_prepack(DnnCtx *ctx, const float *w, int rank, const int64_t *wdims, const int64_t *wstrides,
                 const dnnl_memory_desc_t *dst_md, void **packed, size_t *bytes, Err *err);

#endif
