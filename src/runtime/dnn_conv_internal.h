/* dnn_conv_internal.h - private to the oneDNN convolution family: what dnn_conv.c (node ->
 * primitive, kernel state, run), dnn_conv_postops.c (fused ops -> oneDNN post-ops) and
 * dnn_conv_weights.c (filter and bias preparation, batch-norm folding, prepacking) and
 * native_gemv.c (tiny output maps as matrix-vector products) share. */
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

/* ---- tiny output maps: matrix-vector products (native_gemv.c) ---- */

/* Output maps of at most this many pixels (batch included) run as matrix-vector products over
   weights packed for streaming: ResNet-50's last stages at 32x32 input (1x1 and 2x2 maps). */
enum { GEMV_MAX_PIXELS = 4 };

/* a float32 NHWC forward convolution, groups 1; strides and dilations as TF's (dilation 1 =
   dense); padding before each dim (after is implied by the output size) */
typedef struct GemvGeom {
    int64_t batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w;
    int64_t stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
} GemvGeom;

/* whether gemv_conv_build takes the problem: a tiny output map and an epilogue it computes
   (bias, residual Add, Relu / LeakyRelu / Relu6) */
bool gemv_conv_fits(const GemvGeom *g, const ConvEpi *e);
/* Builds the kernel from the float32 HWIO filter w (batch norm already folded) and bias
   (float32 [out_c] or NULL; taken over, freed in every case). src_arg: the activation's
   input index; add_arg: the residual addend's when e->sum. Returns 1 or -1 (out of memory). */
int gemv_conv_build(const GemvGeom *g, const ConvEpi *e, const float *w, float *bias, int src_arg, int add_arg,
                    FastKernel *k, Err *err);
/* when the convolution family takes this path (process global, read at compile time): tests
   and A/B timing set it; the default is GEMV_FEWER_TAPS */
typedef enum {
    GEMV_OFF,        /* never: oneDNN */
    GEMV_FEWER_TAPS, /* when some tap reads only padding for every pixel: fewer weight bytes */
    GEMV_ALWAYS      /* whenever gemv_conv_fits */
} GemvMode;
void conv_gemv_set_mode(GemvMode mode);
/* taps of the window some output pixel reads inside the input */
int64_t gemv_kept_taps(const GemvGeom *g);

#endif
