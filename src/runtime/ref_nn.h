/* ref_nn.h - helpers shared by the nn reference kernels (ref_conv*.c, ref_matmul.c, ref_pool.c,
 * ref_batchnorm.c, ref_resize.c, ref_softmax.c): dtype and output-shape checks, NCHW <-> NHWC
 * transposes (ref_nn_util.c) and the fused epilogue of _FusedConv2D, the fused depthwise
 * convolutions and _FusedMatMul (ref_epilogue.c). */
#ifndef GRAPPO_REF_NN_H
#define GRAPPO_REF_NN_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "../graph/act_math.h"
#include "../graph/nn_attrs.h"
#include "ref.h"

/* ERR_RUNTIME naming the dtype unless t is float32 (what = "input", "filter", ...) */
int ref_require_f32(const Node *n, const Tensor *t, const char *what, Err *err);
/* ERR_RUNTIME unless out has the shape the kernel computed from its inputs (guards against a
   caller allocating outputs from stale inference) */
int ref_require_shape(const Tensor *out, const Shape *expected, Err *err);

/* [n, c, hw] -> [n, hw, c] and back */
void ref_nchw_to_nhwc(const float *src, float *dst, int64_t n, int64_t c, int64_t hw);
void ref_nhwc_to_nchw(const float *src, float *dst, int64_t n, int64_t c, int64_t hw);

/* activation of a fused op, in double (alpha: LeakyRelu's or Prelu's); the math is
   act_math.h's, as for the stand-alone ops */
static inline double ref_act(NnAct act, double v, double alpha) {
    switch (act) {
    case NN_ACT_NONE: return v;
    case NN_ACT_RELU: return act_relu(v);
    case NN_ACT_RELU6: return act_relu6(v);
    case NN_ACT_ELU: return act_elu(v);
    case NN_ACT_LEAKY_RELU: return act_leaky_relu(v, alpha);
    case NN_ACT_PRELU: return v < 0 ? alpha * v : v; /* TF's Prelu: max(0, x) + alpha * min(0, x) */
    case NN_ACT_SIGMOID: return act_sigmoid(v);
    case NN_ACT_TANH: return tanh(v);
    case NN_ACT_HARD_SWISH: return act_hard_swish(v);
    case NN_ACT_GELU_EXACT: return act_gelu_exact(v);
    case NN_ACT_GELU_APPROX: return act_gelu_tanh(v);
    }
    return v;
}

/* The epilogue of a fused node, bound to its input tensors. */
typedef struct Epilogue {
    FusedSpec spec;
    int64_t channels;
    const float *bias, *addend, *alpha; /* alpha: Prelu, n_alpha = channels or 1 */
    int64_t n_alpha;
    const float *bn_offset, *bn_mean;
    double *bn_mul; /* scale / sqrt(variance + epsilon), per channel */
} Epilogue;

/* Parses n's fused ops and binds the argument tensors in[] (checked: float32, sizes) for an
   output of shape out_shape whose channels are on axis c_axis. */
int ref_epilogue_init(Epilogue *ep, const Node *n, FusedHost host, const Tensor *in, const Shape *out_shape, int c_axis,
                      Err *err);
/* Applies it in place to y laid out as [outer, channels, inner]:
   y = act((y + bias | batchnorm(y)) + addend). */
void ref_epilogue_apply(const Epilogue *ep, float *y, int64_t outer, int64_t inner);
void ref_epilogue_free(Epilogue *ep);

/* acc[0..n) += sum over r < rows of x[r*x_step] * w[r*w_step + 0..n)  (ref_gemm.c) */
void ref_axpy_rows(double *restrict acc, int64_t n, const float *restrict x, int64_t x_step, const float *restrict w,
                   int64_t w_step, int64_t rows);
/* acc[0..n) += a[0..n) * b[0..n)  (ref_gemm.c) */
void ref_mac_vec(double *restrict acc, const float *restrict a, const float *restrict b, int64_t n);
/* Matrix rows: c[i, :] = sum_k a(i, k) * b[k, :] with a(i, k) = a[i*a_row + k*a_col] and b a
   dense row-major [k, n] matrix; acc is scratch for n doubles. (ref_gemm.c) */
void ref_gemm_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_row, int64_t a_col, const float *b, float *c,
                  double *acc);

#endif
