/* ref_lowp.h - reference execution of low-precision nodes: float ops whose tensors are
 * bfloat16 or float16 are computed by the float32 kernel on widened inputs, then rounded
 * (round to nearest even) to the node's output dtype. This is what a bf16 kernel computes
 * when it accumulates in float32, so it is the oracle for fast bf16 kernels.
 * Also the one quantization rounding rule shared by the int8 reference kernels (ref_quant.c). */
#ifndef GRAPPO_REF_LOWP_H
#define GRAPPO_REF_LOWP_H

#include "ref.h"

/* true when n is a float-compute op whose reference kernel needs float32 (convolutions,
   matmuls, pools, batch norm, resize, softmax) with a bfloat16/float16 input or output.
   Elementwise math and reductions take bfloat16/float16 natively (double, one rounding);
   Cast and data movement handle every dtype. */
bool ref_lowp_applies(const Node *n, const Tensor *in);
/* runs n through the float32 kernel as described above; out[] arrive allocated as usual */
int ref_lowp_emulate(const Node *n, const Tensor *in, Tensor *out, Err *err);

/* GrappoQuantize of one value (docs/ops.md): t = x / scale as an IEEE float32 division;
   NaN -> zero_point; otherwise clamp(round_half_to_even(t) + zero_point) to dtype's range
   (DT_UINT8 [0, 255] or DT_INT8 [-128, 127]). */
int64_t lowp_quantize_one(float x, float scale, int32_t zero_point, int dtype);

#endif
