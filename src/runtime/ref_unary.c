/* ref_unary.c - reference kernel for the unary elementwise ops (Neg ... LeakyRelu, Floor, Ceil,
 * Cos, Sin, Reciprocal, Erfc).
 *
 * Float dtypes (float32, float16, bfloat16) are computed in double with libm and rounded back
 * once. Neg, Abs, Square, Relu, Relu6 also take int8/int32/int64; integer results wrap
 * (Neg/Abs of the most negative value give itself, Square wraps modulo 2^bits).
 * NaN: every op returns NaN for a NaN input (Relu/Relu6 included). The activations' math is
 * graph/act_math.h, shared with the fused kernels. */
#include <math.h>

#include "../graph/act_math.h"
#include "ref.h"
#include "ref_elem.h"


static double unary_f(OpId op, double x, double alpha) {
    switch (op) {
    case OP_NEG: return -x;
    case OP_ABS: return fabs(x);
    case OP_SQUARE: return x * x;
    case OP_SQRT: return sqrt(x);
    case OP_RSQRT: return 1.0 / sqrt(x);
    case OP_EXP: return exp(x);
    case OP_LOG: return log(x);
    case OP_ERF: return erf(x);
    case OP_ERFC: return act_erfc(x);
    case OP_TANH: return tanh(x);
    case OP_SIGMOID: return act_sigmoid(x);
    case OP_RELU: return act_relu(x);
    case OP_RELU6: return act_relu6(x);
    case OP_ELU: return act_elu(x);
    case OP_SELU: return act_selu(x);
    case OP_LEAKY_RELU: return act_leaky_relu(x, alpha);
    case OP_FLOOR: return floor(x);
    case OP_CEIL: return ceil(x);
    case OP_COS: return cos(x);
    case OP_SIN: return sin(x);
    case OP_RECIPROCAL: return 1.0 / x; /* 1/0 = inf, 1/-0 = -inf */
    default: return NAN;
    }
}

/* integer variants; arithmetic in uint64 so overflow wraps instead of being undefined */
static uint64_t unary_i(OpId op, int64_t x) {
    uint64_t u = (uint64_t)x;
    switch (op) {
    case OP_NEG: return 0u - u;
    case OP_ABS: return x < 0 ? 0u - u : u;
    case OP_SQUARE: return u * u;
    case OP_RELU: return x < 0 ? 0u : u;
    case OP_RELU6: return x < 0 ? 0u : x > 6 ? 6u : u;
    default: return 0u;
    }
}

static int int_supported(OpId op) {
    return op == OP_NEG || op == OP_ABS || op == OP_SQUARE || op == OP_RELU || op == OP_RELU6;
}

int ref_unary(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int dt = in[0].dtype;
    int64_t count = tensor_numel(&in[0]);
    const void *x = tensor_data(&in[0]);
    void *y = tensor_mut(&out[0]);
    if (count > 0 && (!x || !y)) return err_set(err, ERR_RUNTIME, "missing input or output data");
    if (out[0].dtype != dt) return err_set(err, ERR_RUNTIME, "output dtype %s differs from input %s",
                                           dtype_name(out[0].dtype), dtype_name(dt));
    if (dtype_is_float(dt)) {
        double alpha = node_attr_f(n, "alpha", 0.2f);
        if (dt == DT_FLOAT) { /* the common case without per-element dtype dispatch */
            const float *xf = x;
            float *yf = y;
            for (int64_t i = 0; i < count; i++) yf[i] = (float)unary_f(n->op, xf[i], alpha);
        } else {
            for (int64_t i = 0; i < count; i++) elem_set_f(y, dt, i, unary_f(n->op, elem_get_f(x, dt, i), alpha));
        }
        return 0;
    }
    if ((dt == DT_INT8 || dt == DT_INT32 || dt == DT_INT64) && int_supported(n->op)) {
        for (int64_t i = 0; i < count; i++) elem_set_i(y, dt, i, unary_i(n->op, elem_get_i(x, dt, i)));
        return 0;
    }
    return err_set(err, ERR_RUNTIME, "dtype %s is not supported", dtype_name(dt));
}
