/* ref_fused.c - reference kernels for grappo's fused float ops (docs/ops.md):
 *   GrappoLayerNorm  y = (x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis,
 *                    var the biased (population) variance; mean and variance accumulated in
 *                    double, two passes (no cancellation from E[x^2] - E[x]^2), each output
 *                    computed in double and rounded once to float32.
 *   GrappoGelu       approximate false: 0.5 x (1 + erf(x / sqrt 2));
 *                    approximate true:  0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
 *                    in double with libm, rounded once. 1 + erf(-t) is computed as erfc(t) and
 *                    1 + tanh(u) as 2 / (1 + exp(-2u)), so large negative x keep their tiny
 *                    (but representable) results instead of cancelling to 0. */
#include <math.h>

#include "ref_nn.h"

/* GELU of one value in double (docs/ops.md; the math is act_math.h's) */
static double gelu(double x, bool approximate) { return approximate ? act_gelu_tanh(x) : act_gelu_exact(x); }

int ref_grappo_layernorm(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    if (ref_require_f32(n, &in[0], "x", err) || ref_require_f32(n, &in[1], "gamma", err) ||
        ref_require_f32(n, &in[2], "beta", err) || ref_require_f32(n, &out[0], "output", err))
        return -1;
    const Shape *xs = &in[0].shape;
    if (xs->rank < 1) return err_set(err, ERR_RUNTIME, "%s: x must have rank >= 1", n->op_name);
    if (ref_require_shape(&out[0], xs, err)) return -1;
    int64_t d = xs->dim[xs->rank - 1], total = tensor_numel(&in[0]);
    if (tensor_numel(&in[1]) != d || tensor_numel(&in[2]) != d)
        return err_set(err, ERR_RUNTIME, "%s: gamma and beta must have %lld elements (the last dim of x), got %lld and %lld",
                       n->op_name, (long long)d, (long long)tensor_numel(&in[1]), (long long)tensor_numel(&in[2]));
    if (total == 0) return 0;
    double eps = node_attr_f(n, "epsilon", 0); /* required: inference checked it */
    const float *x = tensor_data(&in[0]), *gamma = tensor_data(&in[1]), *beta = tensor_data(&in[2]);
    float *y = tensor_mut(&out[0]);
    if (!y) return err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
    for (int64_t r = 0; r < total / d; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        double sum = 0;
        for (int64_t j = 0; j < d; j++) sum += xr[j];
        double mean = sum / (double)d, ss = 0;
        for (int64_t j = 0; j < d; j++) ss += ((double)xr[j] - mean) * ((double)xr[j] - mean);
        double rstd = 1.0 / sqrt(ss / (double)d + eps);
        for (int64_t j = 0; j < d; j++) yr[j] = (float)(((double)xr[j] - mean) * rstd * gamma[j] + beta[j]);
    }
    return 0;
}

int ref_grappo_gelu(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    if (ref_require_f32(n, &in[0], "x", err) || ref_require_f32(n, &out[0], "output", err)) return -1;
    if (ref_require_shape(&out[0], &in[0].shape, err)) return -1;
    int64_t total = tensor_numel(&in[0]);
    if (total == 0) return 0;
    bool approximate = node_attr_b(n, "approximate", false);
    const float *x = tensor_data(&in[0]);
    float *y = tensor_mut(&out[0]);
    if (!y) return err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
    for (int64_t i = 0; i < total; i++) y[i] = (float)gelu(x[i], approximate);
    return 0;
}
