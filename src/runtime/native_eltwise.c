/* native_eltwise.c - plain C kernels for the float32 unary ops oneDNN 2.6 has no eltwise
 * algorithm for: Erf (GELU's core in BERT), Erfc (the same in TensorFlow's tf.nn.gelu, which
 * writes 0.5 x erfc(-x / sqrt 2)) and Selu. Used by the plan after the oneDNN families
 * decline (fast_compile_eltwise declines all three).
 *
 * Erf uses Abramowitz & Stegun, Handbook of Mathematical Functions (1964), formula 7.1.26:
 *   erf(x) = 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-x^2),  t = 1 / (1 + p x),
 *   x >= 0, |error| <= 1.5e-7, p = 0.3275911, a1..a5 below; erf(-x) = -erf(x).
 * Near 0 that formula is only good in absolute terms (it subtracts two numbers close to 1),
 * so |x| < 0.5 uses the Maclaurin series erf(x) = 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1))
 * to x^13 (truncation error < 1e-9 relative): the result is then accurate relative to erf(x)
 * itself, not only to 1. exp is computed inline: exp(w) = 2^k exp(r), k = round(w / ln 2),
 * r = w - k ln 2 (ln 2 split in a high part exact in k * ln2_hi and a low part, Cody & Waite),
 * exp(r) by its Taylor series to r^7 (|r| <= 0.35: truncation < 6e-9 relative), 2^k built in
 * the exponent bits. Measured worst error over [-6, 6] is in tests/test_fast_native.c.
 *
 * Erfc uses the Chebyshev fit of Numerical Recipes in C (2nd ed., 6.2, erfcc), whose error is
 * relative, not absolute, so the tail keeps its digits:
 *   erfc(z) = t exp(-z^2 + P(t)),  t = 1 / (1 + z / 2),  z = |x|,  P of degree 9 below,
 *   fractional error < 1.2e-7 in exact arithmetic;  erfc(-z) = 2 - erfc(z).
 * z^2 is split exactly (z = zh + zl with zh's low 12 mantissa bits cleared: zh^2 is exact, and
 * z^2 - zh^2 = zl (z + zh) is small), and exp's range reduction subtracts k ln2_hi from the
 * exact zh^2, so an argument of -100 loses no digits to rounding. 2^k is applied as
 * 2^(k + 64) * 2^-64: results below FLT_MIN (z > 9.2) come out gradually underflowed (0 for
 * z > 10.05, and z is clamped to 10.5). Bound, checked by tests/test_fast_native.c on a sweep
 * of bit patterns against libm's erfc in double: relative error <= 1e-6 where erfc(x) >=
 * FLT_MIN (measured worst over every 7th float: 5.2e-7), absolute error <= 1e-44 below;
 * NaN -> NaN, erfc(-inf) = 2,
 * erfc(inf) = 0.
 *
 * Selu(x) = scale * x for x > 0, scale * alpha * (exp(x) - 1) otherwise, computed as
 * scale * max(x, 0) + scale * alpha * expm1(min(x, 0)) (the dead term is exactly 0), with
 * expm1 = (2^k - 1) + 2^k (exp(r) - 1) so small |x| keeps full relative precision.
 *
 * Vectorization: gcc -O2's "very cheap" vectorizer only takes loops whose trip count is a
 * known multiple of the vector length and that need no alias check, so the loops run in
 * blocks of NATIVE_BLOCK elements under an ivdep pragma (the output is either a separate
 * buffer or exactly the input, never a shifted overlap) and a scalar tail. Branches become
 * selects: the clamps and the series/formula choice use integer compares on the float bits
 * (float compares with a computed operand defeat -O2's if-conversion). On x86-64, gcc builds
 * an AVX2 clone next to the SSE2 default and picks one at load time (target_clones).
 * No libm calls inside the loops. NaN in gives NaN out, +-inf gives +-1 (Erf).
 * float32 only; the output may overwrite the input (k->inplace = 0). Single-threaded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/act_math.h"
#include "fast.h"

#include "native_simd.h"

static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* all ones when cond, else 0 (an integer select the vectorizer handles everywhere) */
static inline uint32_t mask_if(int cond) { return 0u - (uint32_t)(cond != 0); }

/* a where mask is all ones, b where it is 0 */
static inline float select_f(uint32_t mask, float a, float b) { return u2f((f2u(a) & mask) | (f2u(b) & ~mask)); }

static inline uint32_t is_nan_mask(float x) { return mask_if((f2u(x) & 0x7fffffffu) > 0x7f800000u); }

#define MAGIC_ROUND 12582912.0f /* 1.5 * 2^23: adding it rounds a float of |v| < 2^22 to an integer */
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f /* 355/512: k * LN2_HI is exact for |k| < 2^15 */
#define LN2_LO (-2.12194440e-4f) /* ln 2 - LN2_HI */

/* exp(w) = 2^k * (1 + q) for w in [-87, 0]: writes 2^k to *scale and returns q = exp(r) - 1 */
static inline float exp_split(float w, float *scale) {
    float m = w * LOG2E + MAGIC_ROUND;
    float k = m - MAGIC_ROUND;           /* round(w / ln 2), an integer in [-126, 0] */
    float r = (w - k * LN2_HI) - k * LN2_LO; /* |r| <= ln2/2 (+ rounding) */
    /* exp(r) - 1 by Taylor to r^7 */
    float q = r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    /* the integer k sits in m's low mantissa bits: k + 127 is the exponent of 2^k (unsigned
       arithmetic: defined for every input, NaN included, whose result is masked later) */
    uint32_t kb = f2u(m) - f2u(MAGIC_ROUND) + 127u;
    *scale = u2f(kb << 23);
    return q;
}

/* A&S 7.1.26 coefficients */
#define AS_P 0.3275911f
#define AS_A1 0.254829592f
#define AS_A2 (-0.284496736f)
#define AS_A3 1.421413741f
#define AS_A4 (-1.453152027f)
#define AS_A5 1.061405429f

static inline float erf1(float x) {
    float ax = u2f(f2u(x) & 0x7fffffffu);
    /* |x| > 9 (erf = 1 in float) is clamped so exp never leaves the normal range */
    ax = u2f(f2u(ax) > f2u(9.0f) ? f2u(9.0f) : f2u(ax));
    float t = 1.0f / (1.0f + AS_P * ax);
    float poly = t * (AS_A1 + t * (AS_A2 + t * (AS_A3 + t * (AS_A4 + t * AS_A5))));
    float z = ax * ax, scale;
    float q = exp_split(-z, &scale);
    float big = 1.0f - poly * (scale + scale * q);
    /* Maclaurin series in x^2 for |x| < 0.5; coefficients 2/sqrt(pi) (-1)^n / (n! (2n+1)) */
    float small = ax * (1.12837916709551257f +
                        z * (-0.376126389031837542f +
                             z * (0.112837916709551257f +
                                  z * (-0.0268661706451312520f +
                                       z * (0.00522397762544218800f +
                                            z * (-0.000854832702345085200f + z * 0.000120553329817896640f))))));
    float y = select_f(mask_if(f2u(ax) < f2u(0.5f)), small, big);
    y = u2f(f2u(y) | (f2u(x) & 0x80000000u)); /* erf is odd */
    return select_f(is_nan_mask(x), x, y);
}

/* Numerical Recipes' erfcc coefficients: P(t) = c0 + t (c1 + t (c2 + ... t c9)) */
#define NR_C0 (-1.26551223f)
#define NR_C1 1.00002368f
#define NR_C2 0.37409196f
#define NR_C3 0.09678418f
#define NR_C4 (-0.18628806f)
#define NR_C5 0.27886807f
#define NR_C6 (-1.13520398f)
#define NR_C7 1.48851587f
#define NR_C8 (-0.82215223f)
#define NR_C9 0.17087277f
#define ERFC_ZMAX 10.5f /* erfc(10.5) < 1e-49: 0 in float; keeps exp's 2^(k + 64) normal */
#define ERFC_EXP_BIAS 64 /* 2^k is built as 2^(k + 64) then scaled by 2^-64 */

static inline float erfc1(float x) {
    float z = u2f(f2u(x) & 0x7fffffffu);
    z = u2f(f2u(z) > f2u(ERFC_ZMAX) ? f2u(ERFC_ZMAX) : f2u(z)); /* inf too; NaN is masked at the end */
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = NR_C0 + t * (NR_C1 + t * (NR_C2 + t * (NR_C3 + t * (NR_C4 + t * (NR_C5 + t * (NR_C6 + t * (NR_C7 + t * (NR_C8 + t * NR_C9))))))));
    float zh = u2f(f2u(z) & 0xfffff000u); /* 12 significant bits: zh * zh is exact */
    float zl = z - zh;                     /* exact */
    float hi = zh * zh, lo = zl * (z + zh); /* z^2 = hi + lo */
    float w = (p - lo) - hi;                /* the exponent, for k only */
    float m = w * LOG2E + MAGIC_ROUND;
    float k = m - MAGIC_ROUND; /* round(w / ln 2), in [-163, 0] */
    /* hi and k ln2_hi are close (|w + hi| < 1.5): their difference is exact for hi >= 3 and
       tiny in absolute terms below */
    float r = ((-hi - k * LN2_HI) + (p - lo)) - k * LN2_LO;
    float q = r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    uint32_t kb = f2u(m) - f2u(MAGIC_ROUND) + 127u + ERFC_EXP_BIAS;
    float scale = u2f(kb << 23); /* 2^(k + 64) */
    float y = (t * (scale + scale * q)) * 0x1p-64f;
    y = select_f(mask_if(f2u(x) >> 31), 2.0f - y, y); /* erfc(-z) = 2 - erfc(z), -0 included */
    return select_f(is_nan_mask(x), x, y);
}

#define SELU_SCALE 1.05070098735548049f
#define SELU_ALPHA 1.67326324235437728f

static inline float selu1(float x) {
    uint32_t neg = mask_if(f2u(x) >> 31); /* sign bit: x < 0 or -0 */
    float pos = u2f(f2u(x) & ~neg);       /* max(x, 0) */
    float w = u2f(f2u(x) & neg);          /* min(x, 0) */
    w = u2f(f2u(w) > f2u(-87.0f) ? f2u(-87.0f) : f2u(w)); /* clamp to -87 (bits grow as w falls) */
    float scale;
    float q = exp_split(w, &scale);
    float em1 = (scale - 1.0f) + scale * q;
    float y = SELU_SCALE * pos + (SELU_SCALE * SELU_ALPHA) * em1;
    y = u2f(f2u(y) | (f2u(x) & 0x80000000u)); /* Selu(-0) = -0; y < 0 already for x < 0 */
    return select_f(is_nan_mask(x), x, y);
}

NATIVE_CLONES static void erf_f32(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + NATIVE_BLOCK <= n; i += NATIVE_BLOCK) {
        NATIVE_IVDEP
        for (int j = 0; j < NATIVE_BLOCK; j++) y[i + j] = erf1(x[i + j]);
    }
    for (; i < n; i++) y[i] = erf1(x[i]);
}

NATIVE_CLONES static void erfc_f32(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + NATIVE_BLOCK <= n; i += NATIVE_BLOCK) {
        NATIVE_IVDEP
        for (int j = 0; j < NATIVE_BLOCK; j++) y[i + j] = erfc1(x[i + j]);
    }
    for (; i < n; i++) y[i] = erfc1(x[i]);
}

NATIVE_CLONES static void selu_f32(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + NATIVE_BLOCK <= n; i += NATIVE_BLOCK) {
        NATIVE_IVDEP
        for (int j = 0; j < NATIVE_BLOCK; j++) y[i + j] = selu1(x[i + j]);
    }
    for (; i < n; i++) y[i] = selu1(x[i]);
}

/* Relu, Relu6 (graph/act_math.h: Relu(-0) = +0), Rsqrt, Exp: exactly the reference's formulas (NaN propagates as in
   TensorFlow; rsqrt(0) = inf), where oneDNN's relu/clip give 0 for NaN, pow(0, -0.5) gives
   NaN and exp turns NaN into inf (found by fuzz_graph_struct, issue 11) */
NATIVE_CLONES static void relu_f32(const float *x, float *y, int64_t n) {
    NATIVE_IVDEP
    for (int64_t i = 0; i < n; i++) y[i] = (float)act_relu(x[i]);
}

NATIVE_CLONES static void relu6_f32(const float *x, float *y, int64_t n) {
    NATIVE_IVDEP
    for (int64_t i = 0; i < n; i++) y[i] = (float)act_relu6(x[i]);
}

static void rsqrt_f32(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)(1.0 / sqrt((double)x[i]));
}

static void exp_f32(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = (float)exp((double)x[i]);
}

typedef void (*UnaryFn)(const float *x, float *y, int64_t n);

typedef struct NativeUnary {
    UnaryFn fn;
    int64_t count;
    Tensor held; /* the input's known value (buf NULL when computed at run time) */
} NativeUnary;

static void unary_destroy(void *state) {
    NativeUnary *u = state;
    if (!u) return;
    tensor_release(&u->held);
    free(u);
}

static int unary_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    (void)scratch;
    const NativeUnary *u = state;
    const float *x = u->held.buf ? tensor_data(&u->held) : tensor_data(&in[0]);
    /* out[0].buf->data, not tensor_mut: an in-place output shares the input's buffer */
    float *y = out[0].buf ? out[0].buf->data : NULL;
    if (!x || !y) return err_set(err, ERR_RUNTIME, "native eltwise: missing input or output data");
    u->fn(x, y, u->count);
    return 0;
}

int fast_compile_native_eltwise(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    (void)ctx;
    UnaryFn fn;
    const char *impl;
    switch (n->op) {
    case OP_ERF: fn = erf_f32; impl = "native:erf"; break;
    case OP_ERFC: fn = erfc_f32; impl = "native:erfc"; break;
    case OP_SELU: fn = selu_f32; impl = "native:selu"; break;
    case OP_RELU: fn = relu_f32; impl = "native:relu"; break;
    case OP_RELU6: fn = relu6_f32; impl = "native:relu6"; break;
    case OP_RSQRT: fn = rsqrt_f32; impl = "native:rsqrt"; break;
    case OP_EXP: fn = exp_f32; impl = "native:exp"; break;
    default: return 0;
    }
    if (n->n_inputs != 1 || n->n_outputs != 1) return 0;
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (x->dtype != DT_FLOAT || y->dtype != DT_FLOAT || !shape_is_known(&x->shape) ||
        !shape_equal(&x->shape, &y->shape))
        return 0;
    int64_t count = shape_numel(&x->shape);
    if (count <= 0) return 0;
    NativeUnary *u = calloc(1, sizeof *u);
    if (!u) return err_set(err, ERR_RUNTIME, "out of memory");
    u->fn = fn;
    u->count = count;
    if (x->known.buf) u->held = tensor_share(&x->known);
    k->impl = impl;
    k->state = u;
    k->run = unary_run;
    k->destroy = unary_destroy;
    k->scratch_bytes = 0;
    k->weight_bytes = 0; /* a constant input is shared with the graph, not copied */
    k->inplace = x->known.buf ? -1 : 0; /* constants are never overwritten */
    return 1;
}
