/* act_math.h - the scalar math of every activation, in double, with TensorFlow's semantics:
 * the one definition used by the unary reference kernel (runtime/ref_unary.c), the fused
 * epilogue of _FusedConv2D/_FusedMatMul and GrappoQConv2D (runtime/ref_nn.h ref_act) and the
 * GrappoFusedElementwise program (graph/fused_ew.h). Facts checked against TensorFlow 2.20:
 *   Relu(NaN) = NaN, Relu(-0) = +0, Relu(-inf) = 0; Relu6 the same, clamped at 6;
 *   Sigmoid(-1000) = 0, Sigmoid(1000) = 1, Sigmoid(NaN) = NaN (no overflow);
 *   Elu(-0) = -0, Elu(-inf) = -1; Selu(-0) = -0; LeakyRelu(x) = x > 0 ? x : alpha * x. */
#ifndef GRAPPO_ACT_MATH_H
#define GRAPPO_ACT_MATH_H

#include <math.h>

#define ACT_SELU_SCALE 1.0507009873554805
#define ACT_SELU_ALPHA 1.6732632423543772

static inline double act_relu(double x) { return isnan(x) ? x : x > 0 ? x : 0.0; }
static inline double act_relu6(double x) { return isnan(x) ? x : x > 0 ? (x < 6 ? x : 6.0) : 0.0; }
/* logistic function without overflow: exp is only taken of a non-positive number */
static inline double act_sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline double act_elu(double x) { return x < 0 ? expm1(x) : x; }
static inline double act_selu(double x) { return x < 0 ? ACT_SELU_SCALE * ACT_SELU_ALPHA * expm1(x) : ACT_SELU_SCALE * x; }
static inline double act_leaky_relu(double x, double alpha) { return x > 0 ? x : alpha * x; }
static inline double act_hard_swish(double x) {
    double r = x + 3 < 0 ? 0 : x + 3 > 6 ? 6 : x + 3;
    return x * r / 6;
}
/* GELU: 0.5 x (1 + erf(x / sqrt 2)), written with erfc so that large negative x keeps its tiny
   (representable) result instead of cancelling to 0 */
static inline double act_gelu_exact(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
/* complementary error function 1 - erf(x), accurate where erf(x) is near 1 (Keras 3 writes
   exact GELU as 0.5 x erfc(-x / sqrt 2)): Erfc(-inf) = 2, Erfc(inf) = 0, Erfc(NaN) = NaN */
static inline double act_erfc(double x) { return erfc(x); }
/* tanh approximation 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), with
   1 + tanh(u) = 2 / (1 + exp(-2u)) for the same reason */
static inline double act_gelu_tanh(double x) {
    const double k = 0.79788456080286535588; /* sqrt(2 / pi) */
    double u = k * (x + 0.044715 * x * x * x);
    return 0.5 * x * (2.0 / (1.0 + exp(-2.0 * u)));
}

#endif
