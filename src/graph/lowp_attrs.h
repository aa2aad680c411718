/* lowp_attrs.h - the attributes of grappo's int8 ops (GrappoQuantize, GrappoDequantize,
 * GrappoQConv2D, GrappoQMatMul; semantics in docs/ops.md), read once into plain structs and
 * validated. Shape inference (infer_lowp.c, which implements these), the reference kernels
 * (ref_quant.c) and the oneDNN kernels (dnn_quant.c) all read attributes through here, so they
 * cannot disagree about defaults, ranges or the fused-op list. Errors are ERR_INPUT naming the
 * attribute. */
#ifndef GRAPPO_LOWP_ATTRS_H
#define GRAPPO_LOWP_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"
#include "nn_attrs.h"

/* GrappoQuantize: x float32 -> T (uint8 or int8) */
typedef struct QuantizeAttrs {
    int type;           /* attr T: DT_UINT8 or DT_INT8 */
    float scale;        /* attr scale: finite, > 0 */
    int32_t zero_point; /* attr zero_point (default 0): within T's range */
} QuantizeAttrs;
int lowp_quantize_attrs(const Node *n, QuantizeAttrs *a, Err *err);

/* GrappoDequantize: q (uint8, int8 or int32) -> float32 */
typedef struct DequantizeAttrs {
    int64_t axis;        /* attr axis (default -1 = per tensor); >= 0: per channel along axis */
    float scale;         /* per tensor: attr scale */
    const float *scales; /* per channel: attr scales (borrowed from the node), n_scales values */
    int n_scales;
    int32_t zero_point;  /* attr zero_point (default 0), shared by every channel */
} DequantizeAttrs;
/* in_dtype / in_shape: the input's, to check the zero point's range and the scales' count
   (in_shape may be NULL to skip the count check) */
int lowp_dequantize_attrs(const Node *n, int in_dtype, const Shape *in_shape, DequantizeAttrs *a, Err *err);

/* GrappoQConv2D and GrappoQMatMul */
typedef struct QOpAttrs {
    float x_scale;          /* attr x_scale: finite, > 0 */
    int32_t x_zero_point;   /* attr x_zero_point (default 0), in [0, 255] */
    const float *w_scales;  /* attr filter_scales (conv) / w_scales (matmul), borrowed, n_w_scales values */
    int n_w_scales;
    int out_type;           /* attr out_type (default DT_FLOAT): DT_FLOAT or DT_UINT8 */
    float out_scale;        /* out_type uint8: attr out_scale (finite, > 0); else 1 */
    int32_t out_zero_point; /* out_type uint8: attr out_zero_point (default 0) in [0, 255]; else 0 */
    FusedSpec spec;         /* fused_ops: BiasAdd first (arg 2), then Add (conv only), then act */
    float add_scale;        /* attr add_scale: > 0 for an 8-bit addend (real value (a - add_zero_point) * add_scale);
                               0 when absent (a float32 addend) */
    int32_t add_zero_point; /* attr add_zero_point (default 0), in [-128, 255]; the addend's dtype (checked by
                               lowp_check_addend) narrows it to [0, 255] (uint8) or [-128, 127] (int8) */
    bool depthwise;         /* conv: attr depthwise (default false) */
    bool transpose_b;       /* matmul: attr transpose_b (default false) */
} QOpAttrs;
/* Reads and checks every attribute except the window ones (strides, padding, dilations:
   nn_conv_geom), and that data_format is NHWC. n_out_c: the output channels the scales must
   cover, or -1 to skip that check. */
int lowp_qconv_attrs(const Node *n, int64_t n_out_c, QOpAttrs *a, Err *err);
int lowp_qmatmul_attrs(const Node *n, int64_t n_out_c, QOpAttrs *a, Err *err);

/* The addend's dtype against the attributes: float32 without add_scale, or uint8 / int8 with
   add_scale and add_zero_point within the dtype's range. Call only when a->spec.add. */
int lowp_check_addend(const QOpAttrs *a, int addend_dtype, Err *err);

/* GrappoQMatMul's dimensions: x [..., K] (rank >= 2) times w [K, N] ([N, K] with transpose_b);
   m = product of x's leading dims. */
int lowp_qmatmul_dims(const Shape *x, const Shape *w, bool transpose_b, int64_t *m, int64_t *k, int64_t *nn, Err *err);

#endif
