/* rules_quant.h - what the precision rules (rules_quant_int8.c, rules_quant_bf16.c,
 * rules_quant_weights.c) share: recognising the nodes they rewrite, symmetric per-channel
 * weight quantization, activation quantization parameters from a calibrated range, and
 * handing a node's name (and its calibration attributes) to its replacement. */
#ifndef GRAPPO_RULES_QUANT_H
#define GRAPPO_RULES_QUANT_H

#include "../graph/nn_attrs.h"
#include "rule.h"

/* Conv2D, _FusedConv2D (depthwise false) or DepthwiseConv2dNative, _FusedDepthwiseConv2dNative,
   FusedDepthwiseConv2dNative (depthwise true) */
bool quant_is_conv(const Node *n, bool *depthwise);
/* MatMul or _FusedMatMul */
bool quant_is_matmul(const Node *n);
bool quant_is_fused(const Node *n);

/* v is float32 with a known shape of the given rank (rank < 0: any known rank) */
bool quant_is_f32(const Graph *g, ValueRef v, int rank);
/* v comes from a Const node whose float32 value is known */
const Tensor *quant_const_f32(const Graph *g, ValueRef v);
/* node's attr T is float32 (absent counts as float32) and its output 0 is float32 */
bool quant_node_f32(const Graph *g, const Node *n);

/* Symmetric per-channel quantization of a float32 tensor w to int8 in [-qmax, qmax]: the
   channel of element i is (i / inner) % channels; scale[c] = max|w_c| / qmax (1 for an
   all-zero channel), q = round_half_even(w / scale[c]) clamped, computed in double with the
   float32 scale. *q is allocated (DT_INT8, w's shape); scales[channels] is filled. */
int quant_weights(const Tensor *w, int64_t channels, int64_t inner, int qmax, Tensor *q, float *scales, Err *err);

/* uint8 parameters for a calibrated range [lo, hi] (docs/ops.md, GrappoQuantize):
   lo >= 0: scale = hi / 255, zero point 0 (1/255 when hi is 0: any scale represents zeros);
   else asymmetric over [min(lo, 0), max(hi, 0)]: scale = (hi - lo) / 255,
   zero_point = round(-lo / scale) in [0, 255]. */
void quant_act_params(float lo, float hi, float *scale, int32_t *zero_point);

/* Moves node `from`'s name to the new node `to` (from gets a fresh name; it is expected to
   die) and copies from's device, control inputs and _grappo_calib_* attributes (they describe
   from's output, which `to` now produces). */
int quant_take_over(Graph *g, int from, int to, Err *err);

/* GrappoQuantize(x) to uint8 with the given parameters: an existing identical one (same input,
   T, scale and zero point), else a new one named after base. Returns its index or -1. */
int quant_add_quantize(Graph *g, const char *base, ValueRef x, float scale, int32_t zero_point, Err *err);

#endif
