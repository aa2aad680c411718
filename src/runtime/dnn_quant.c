/* dnn_quant.c - fast kernels for grappo's int8 ops (docs/ops.md): GrappoQuantize and
 * GrappoDequantize as plain C loops (bit-identical to the reference; GrappoQuantize with an
 * AVX2 path where the CPU has it), GrappoQConv2D and
 * GrappoQMatMul on oneDNN 2.6 u8 x s8 convolution / matmul; and Cast float32 <-> bfloat16 (the
 * borders of bf16 regions) as plain loops, bit-identical to the reference.
 *
 * How the int8 primitives reproduce the reference (ref_quant.c):
 *   oneDNN accumulates sum(x * w) exactly in int32 (minus x_zp * sum(w) when a source zero
 *   point is set), then in float32: (acc + bias') * oscale[o], then the post-ops in order.
 *   oscale[o] = x_scale * w_scale[o]; oneDNN 2.x adds the bias BEFORE the output scale, so
 *   the bias is passed pre-divided, bias'[o] = bias[o] / oscale[o] (checked by the tests).
 *   Post-ops: the residual addend as sum (float32 output: the addend is the dst buffer, in
 *   place) or binary add (uint8 output: the addend stays a float32 tensor); then Relu / clip
 *   [0, 6] / gelu_erf; then for uint8 output linear(1 / out_scale, out_zero_point), after which
 *   oneDNN rounds to nearest even and saturates to [0, 255] on conversion.
 *   An 8-bit addend (add_scale, add_zero_point; int8_residual_chain) with uint8 output: sum with
 *   scale add_scale, zero point add_zero_point and the addend's data type, the addend placed in
 *   the uint8 dst (in place when the plan grants it, else copied), so a residual block reads and
 *   writes 8 bits. With float32 output (sum cannot reinterpret a u8 dst as f32) the sum is
 *   v + (a - zp) * s = s * (v / s - zp + a): the output scales give v / s - zp (oscale[o] / s,
 *   bias'[o] = (bias[o] - zp * s) / oscale[o]), then binary add of the u8/s8 addend, the
 *   activation on that scaled value (relu as is, clip [0, 6 / s]; gelu declined), linear(s, 0).
 *   (A first linear(1 / s, -zp) post-op instead of the folded scales came out as if both
 *   linear post-ops had the first one's alpha, on AMX, AVX-512 VNNI and AVX2 kernels alike.)
 *
 * Declined (return 0, the plan runs the reference kernel): non-constant weights or bias; a
 * case oneDNN has no implementation for (e.g. a source zero point it cannot apply); grouped
 * convolutions other than depthwise; and on CPUs without VNNI, weights that could saturate
 * oneDNN's int16 pair sums (see pairs_safe). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "../graph/lowp_attrs.h"
#include "fast.h"
#include "native_simd.h"

/* GrappoQuantize of at least this many elements is split over the OpenMP team (a [128, 384]
   BERT activation is 49,152) */
#define QUANT_PARALLEL_MIN 16384

/* ---- GrappoQuantize / GrappoDequantize: plain loops ---- */

typedef struct QuantState {
    int op, dtype; /* dtype: Quantize's T; Dequantize's input dtype */
    float scale;
    int32_t zero_point;
    int64_t axis;   /* Dequantize per channel: >= 0 */
    float *scales;  /* Dequantize: n_scales values (copied from the node) */
    int n_scales;
} QuantState;

/* Same result as lowp_quantize_one: clamping t to [Tmin - zp, Tmax - zp] (integers) before
   rounding equals clamping after, and (t + 1.5 * 2^23) - 1.5 * 2^23 rounds a float of
   magnitude < 2^22 to an integer, ties to even, in the default rounding mode - so the loop
   has no branches and no library calls. Blocks of 16 with a fixed inner trip count let
   gcc's -O2 (very cheap cost model) vectorize it. */
static inline float quantize_t(float x, float scale, float lo, float hi) {
    const float magic = 12582912.0f;
    float t = x / scale;
    t = t == t ? t : 0.0f; /* NaN -> zero point */
    t = t < lo ? lo : t > hi ? hi : t;
    return (t + magic) - magic;
}

/* not inlined: the AVX2 clone is reached through the ifunc only by a real call */
NATIVE_CLONES __attribute__((noinline)) static void quantize_s8(const float *restrict x, int8_t *restrict q, int64_t n, float scale,
                                                               int32_t zp) {
    const float lo = (float)(-128 - zp), hi = (float)(127 - zp);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) q[i + j] = (int8_t)((int32_t)quantize_t(x[i + j], scale, lo, hi) + zp);
    for (; i < n; i++) q[i] = (int8_t)((int32_t)quantize_t(x[i], scale, lo, hi) + zp);
}

NATIVE_CLONES __attribute__((noinline)) static void quantize_u8(const float *restrict x, uint8_t *restrict q, int64_t n, float scale,
                                                               int32_t zp) {
    const float lo = (float)(0 - zp), hi = (float)(255 - zp);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) q[i + j] = (uint8_t)((int32_t)quantize_t(x[i + j], scale, lo, hi) + zp);
    for (; i < n; i++) q[i] = (uint8_t)((int32_t)quantize_t(x[i], scale, lo, hi) + zp);
}

/* AVX2 (x86-64, chosen at run time when the CPU has it): 32 elements a step, the same
   operations as quantize_t on 8 lanes - the IEEE quotient, NaN to 0 (then the zero point),
   clamp to [Tmin - zp, Tmax - zp], round to nearest even - then the int32 values packed to 8
   bits (in range, so the saturating packs change nothing) and the lanes put back in order.
   The gcc-vectorized loops above ran 4 lanes wide; this is about twice as fast (blazeface-front's
   int8 graph spent a quarter of its time in quantizes). The tail goes to the plain loop. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define QUANT_HAVE_AVX2_PATH 1
__attribute__((target("avx2"))) static int64_t quantize_avx2(const float *restrict x, void *restrict q, int64_t n, float scale,
                                                             int32_t zp, bool is_signed) {
    const __m256 vs = _mm256_set1_ps(scale);
    const __m256 lo = _mm256_set1_ps((float)((is_signed ? -128 : 0) - zp)), hi = _mm256_set1_ps((float)((is_signed ? 127 : 255) - zp));
    const __m256i vzp = _mm256_set1_epi32(zp), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i v[4];
        for (int k = 0; k < 4; k++) {
            __m256 t = _mm256_div_ps(_mm256_loadu_ps(x + i + 8 * k), vs);
            t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q)); /* NaN -> +0 */
            t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
            t = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            v[k] = _mm256_add_epi32(_mm256_cvtps_epi32(t), vzp);
        }
        __m256i w01 = _mm256_packs_epi32(v[0], v[1]), w23 = _mm256_packs_epi32(v[2], v[3]);
        __m256i b = is_signed ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
        _mm256_storeu_si256((__m256i *)((char *)q + i), _mm256_permutevar8x32_epi32(b, order));
    }
    return i;
}
#endif

static bool quant_simd_off; /* tests: the plain loops alone (dnn_quant_use_simd) */

void dnn_quant_use_simd(bool on) { quant_simd_off = !on; }

bool dnn_quant_simd_available(void) {
#ifdef QUANT_HAVE_AVX2_PATH
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

static void quantize_any(const float *x, void *q, int64_t n, float scale, int32_t zp, bool is_signed) {
    int64_t done = 0;
#ifdef QUANT_HAVE_AVX2_PATH
    if (!quant_simd_off && dnn_quant_simd_available()) done = quantize_avx2(x, q, n, scale, zp, is_signed);
#endif
    if (is_signed) quantize_s8(x + done, (int8_t *)q + done, n - done, scale, zp);
    else quantize_u8(x + done, (uint8_t *)q + done, n - done, scale, zp);
}

/* y[i] = (q[i] - zp) * scale for n consecutive elements; for 8-bit inputs the float product
   of the exact integer (q - zp) and the scale is the correctly rounded value, as the
   reference's double computation; int32 inputs go through double like the reference.
   Blocks of 16 as in quantize_u8. */
#define DEQUANT_LOOP(T)                                                                                  \
    do {                                                                                                 \
        const T *restrict p = q;                                                                         \
        int64_t i = 0;                                                                                   \
        for (; i + 16 <= n; i += 16)                                                                     \
            for (int j = 0; j < 16; j++) y[i + j] = (float)((int32_t)p[i + j] - zp) * scale;            \
        for (; i < n; i++) y[i] = (float)((int32_t)p[i] - zp) * scale;                                  \
    } while (0)

static void dequantize_run(const void *restrict q, int dtype, float *restrict y, int64_t n, float scale, int32_t zp) {
    if (dtype == DT_UINT8) {
        DEQUANT_LOOP(uint8_t);
    } else if (dtype == DT_INT8) {
        DEQUANT_LOOP(int8_t);
    } else {
        const int32_t *restrict p = q;
        for (int64_t i = 0; i < n; i++) y[i] = (float)((double)((int64_t)p[i] - zp) * (double)scale);
    }
}

static int quant_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    (void)scratch;
    const QuantState *s = state;
    int64_t count = tensor_numel(&in[0]);
    if (count == 0) return 0;
    const void *x = tensor_data(&in[0]);
    void *y = out[0].buf ? out[0].buf->data : NULL;
    if (!x || !y) return err_set(err, ERR_RUNTIME, "quantize kernel: missing input or output data");
    if (s->op == OP_GRAPPO_QUANTIZE) {
        /* contiguous chunks (multiples of 64 elements) over the plan's OpenMP team when the
           tensor is large: every element is computed alone, so the result is the same */
        int64_t chunks = 1;
#ifdef _OPENMP
        if (count >= QUANT_PARALLEL_MIN && omp_get_max_threads() > 1) chunks = omp_get_max_threads();
#endif
#ifdef _OPENMP
#pragma omp parallel for num_threads((int)chunks) if (chunks > 1)
#endif
        for (int64_t c = 0; c < chunks; c++) {
            int64_t lo = (count * c / chunks) & ~(int64_t)63, hi = c + 1 == chunks ? count : (count * (c + 1) / chunks) & ~(int64_t)63;
            quantize_any((const float *)x + lo, (char *)y + lo, hi - lo, s->scale, s->zero_point, s->dtype == DT_INT8);
        }
        return 0;
    }
    if (s->axis < 0) {
        dequantize_run(x, s->dtype, y, count, s->scale, s->zero_point);
        return 0;
    }
    /* per channel: the tensor is [outer, channels, inner] around axis */
    int64_t inner = 1;
    for (int d = (int)s->axis + 1; d < in[0].shape.rank; d++) inner *= in[0].shape.dim[d];
    int64_t rows = count / inner;
    size_t esize = dtype_size(s->dtype);
    for (int64_t r = 0; r < rows; r++)
        dequantize_run((const char *)x + (size_t)(r * inner) * esize, s->dtype, (float *)y + r * inner, inner,
                       s->scales[r % s->n_scales], s->zero_point);
    return 0;
}

static void quant_destroy(void *state) {
    QuantState *s = state;
    if (s) free(s->scales);
    free(s);
}

static int compile_quant_elementwise(const Graph *g, const Node *n, FastKernel *k, Err *err) {
    const Value *x = node_input_value(g, n, 0);
    QuantState *s = calloc(1, sizeof *s);
    if (!s) return err_set(err, ERR_RUNTIME, "out of memory");
    s->op = n->op;
    if (n->op == OP_GRAPPO_QUANTIZE) {
        QuantizeAttrs a;
        if (x->dtype != DT_FLOAT || lowp_quantize_attrs(n, &a, NULL)) { free(s); return 0; }
        s->dtype = a.type;
        s->scale = a.scale;
        s->zero_point = a.zero_point;
        s->axis = -1;
    } else {
        DequantizeAttrs a;
        if (lowp_dequantize_attrs(n, x->dtype, &x->shape, &a, NULL)) { free(s); return 0; }
        s->dtype = x->dtype;
        s->scale = a.scale;
        s->zero_point = a.zero_point;
        s->axis = a.axis;
        if (a.axis >= 0) {
            s->scales = malloc((size_t)a.n_scales * sizeof *s->scales);
            if (!s->scales) { free(s); return err_set(err, ERR_RUNTIME, "out of memory"); }
            memcpy(s->scales, a.scales, (size_t)a.n_scales * sizeof *s->scales);
            s->n_scales = a.n_scales;
        }
    }
    k->impl = "grappo:c_loop";
    k->state = s;
    k->run = quant_run;
    k->destroy = quant_destroy;
    k->inplace = -1;
    return 1;
}

/* ---- Cast float32 <-> bfloat16: the borders of bf16 regions (rules_quant_bf16.c) ---- */

/* float_to_bfloat16 (round to nearest even, NaN stays a quiet NaN) without a branch, so gcc
   vectorizes the loop */
static void cast_f32_bf16(const float *restrict x, uint16_t *restrict y, int64_t n) {
    const uint32_t *restrict u = (const uint32_t *)x;
    for (int64_t i = 0; i < n; i++) {
        uint32_t v = u[i];
        uint32_t rne = (v + 0x7fffu + ((v >> 16) & 1u)) >> 16, nan = (v >> 16) | 0x40u;
        y[i] = (uint16_t)((v & 0x7fffffffu) > 0x7f800000u ? nan : rne);
    }
}

static void cast_bf16_f32(const uint16_t *restrict x, float *restrict y, int64_t n) {
    uint32_t *restrict u = (uint32_t *)y;
    for (int64_t i = 0; i < n; i++) u[i] = (uint32_t)x[i] << 16; /* exact */
}

static int cast_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    (void)scratch;
    const int *to_bf16 = state;
    int64_t count = tensor_numel(&in[0]);
    const void *x = tensor_data(&in[0]);
    void *y = out[0].buf ? out[0].buf->data : NULL;
    if (count == 0) return 0;
    if (!x || !y) return err_set(err, ERR_RUNTIME, "cast kernel: missing input or output data");
    if (*to_bf16) cast_f32_bf16(x, y, count);
    else cast_bf16_f32(x, y, count);
    return 0;
}

/* Cast float32 -> bfloat16 (Truncate false) or bfloat16 -> float32, bit-identical to the
   reference (ref_cast.c) */
static int compile_cast_bf16(const Graph *g, const Node *n, FastKernel *k, Err *err) {
    const Value *x = node_input_value(g, n, 0), *y = &n->outputs[0];
    if (n->n_inputs != 1 || n->n_outputs != 1 || !shape_equal(&x->shape, &y->shape)) return 0;
    bool down = x->dtype == DT_FLOAT && y->dtype == DT_BFLOAT16 && !node_attr_b(n, "Truncate", false);
    bool up = x->dtype == DT_BFLOAT16 && y->dtype == DT_FLOAT;
    if (!down && !up) return 0;
    int *s = malloc(sizeof *s);
    if (!s) return err_set(err, ERR_RUNTIME, "out of memory");
    *s = down;
    k->impl = "grappo:c_loop";
    k->state = s;
    k->run = cast_run;
    k->destroy = free;
    k->inplace = -1;
    return 1;
}

/* ---- GrappoQConv2D / GrappoQMatMul on oneDNN ---- */

typedef struct QPrim {
    DnnCtx *ctx;
    dnnl_primitive_t prim; /* borrowed from the cache */
    dnnl_memory_t src, wei, bias, dst, addend, scratch;
    void *wei_buf;         /* prepacked weights */
    float *bias_buf;       /* bias / oscale */
    int arg_add;           /* input index of the addend, or -1 */
    bool add_is_sum;       /* addend via the sum post-op (dst holds it) rather than binary add */
    int add_dtype;         /* the addend's dtype: DT_FLOAT, DT_UINT8 or DT_INT8 */
    int add_post_op;       /* binary add: its index among the post-ops */
    size_t add_bytes;
    /* oneDNN 2.6's AMX int8 convolutions (jit_1x1:avx512_core_amx_int8 seen) write whole blocks
       of 16 output pixels: with a pixel count that is not a multiple of 16 they write up to 15
       pixels past the end of dst (found as heap corruption timing a 6x6x384 1x1 convolution
       alone). Such kernels write into dst_pad, sized for the rounded-up pixel count, and the
       plan's output is copied out of it; NULL otherwise. */
    void *dst_pad;
    size_t dst_bytes;
} QPrim;

static void qprim_destroy(void *state) {
    QPrim *s = state;
    if (!s) return;
    dnnl_memory_t *mems[] = {&s->src, &s->wei, &s->bias, &s->dst, &s->addend, &s->scratch};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (*mems[i]) dnnl_memory_destroy(*mems[i]);
    free(s->wei_buf);
    free(s->bias_buf);
    free(s->dst_pad);
    free(s);
}

static int qprim_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    QPrim *s = state;
    void *out_buf = out[0].buf ? out[0].buf->data : NULL;
    if (!out_buf || !tensor_data(&in[0])) return err_set(err, ERR_RUNTIME, "int8 kernel: missing input or output data");
    void *dst = s->dst_pad ? s->dst_pad : out_buf;
    if (s->arg_add >= 0 && s->add_is_sum) {
        /* the sum post-op accumulates into dst: it must hold the addend (in place or copied) */
        const void *a = tensor_data(&in[s->arg_add]);
        if (!a) return err_set(err, ERR_RUNTIME, "int8 kernel: missing addend data");
        if (a != dst) memcpy(dst, a, s->add_bytes);
    }
    if (dnn_check(dnnl_memory_set_data_handle(s->src, (void *)tensor_data(&in[0])), "source handle", err) ||
        dnn_check(dnnl_memory_set_data_handle(s->dst, dst), "destination handle", err))
        return -1;
    dnnl_exec_arg_t args[7];
    int na = 0;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->wei};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->dst};
    if (s->arg_add >= 0 && !s->add_is_sum) {
        if (dnn_check(dnnl_memory_set_data_handle(s->addend, (void *)tensor_data(&in[s->arg_add])), "addend handle", err))
            return -1;
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(s->add_post_op) | DNNL_ARG_SRC_1, s->addend};
    }
    if (s->scratch) {
        if (dnn_check(dnnl_memory_set_data_handle(s->scratch, scratch), "scratchpad handle", err)) return -1;
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    if (dnn_exec(s->ctx, s->prim, na, args, err)) return -1;
    if (s->dst_pad) memcpy(out_buf, s->dst_pad, s->dst_bytes);
    return 0;
}

/* true when oneDNN's int8 kernels accumulate 4 u8*s8 products straight into int32 (VNNI, AMX).
   Without VNNI they use vpmaddubsw, which adds the two products of a pair of adjacent input
   channels into an int16 with saturation. */
static bool cpu_has_vnni(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_vnni) == (unsigned)dnnl_cpu_isa_avx512_core_vnni ||
           (isa & (unsigned)dnnl_cpu_isa_avx2_vnni) == (unsigned)dnnl_cpu_isa_avx2_vnni;
}

/* AVX-512 without VNNI (Skylake-X, or oneDNN capped to AVX512_CORE) */
static bool cpu_is_avx512_without_vnni(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core) == (unsigned)dnnl_cpu_isa_avx512_core && !cpu_has_vnni();
}

/* The int16 pair sum x_a*w_a + x_b*w_b over x in [0, 255] cannot saturate when the positive
   parts of (w_a, w_b) and the negative parts each sum to at most 128 (255 * 128 = 32640).
   w(p, o): weight of reduction index p (input channel, or K) and output o; pairs are
   (2j, 2j+1) within one tap, as oneDNN's AVX2 / AVX-512 kernels lay them out (probed with
   adversarial weights in tests/test_dnn_quant.c). */
static bool pairs_safe(const int8_t *w, int64_t taps, int64_t red, int64_t outs, int64_t red_step, int64_t out_step,
                       int64_t tap_step) {
    for (int64_t t = 0; t < taps; t++)
        for (int64_t p = 0; p < red; p += 2)
            for (int64_t o = 0; o < outs; o++) {
                int a = w[t * tap_step + p * red_step + o * out_step];
                int b = p + 1 < red ? w[t * tap_step + (p + 1) * red_step + o * out_step] : 0;
                int pos = (a > 0 ? a : 0) + (b > 0 ? b : 0), neg = (a < 0 ? -a : 0) + (b < 0 ? -b : 0);
                if (pos > 128 || neg > 128) return false;
            }
    return true;
}

/* FNV-1a over bytes, to key primitives by their (baked-in) scale values */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

/* What differs between the convolution and the matmul: their descriptors and geometry. */
typedef struct QSpec {
    bool is_conv;
    dnnl_memory_desc_t src_md, wei_any_md, wei_plain_md, bias_md, dst_md, add_md;
    dnnl_dims_t strides, dilates, pad_l, pad_r; /* conv only */
    int64_t out_c;     /* output channels (conv) / columns (matmul): the scales' count */
    int64_t dst_numel;
    int add_dtype;     /* the addend's dtype (DT_FLOAT when there is none); add_md has it */
    const int8_t *wei; /* the constant weights, laid out as wei_plain_md */
    const float *bias; /* the constant bias [out_c] */
    char key[400];     /* the op and geometry part of the primitive cache key */
} QSpec;

/* the addend is 8-bit and the output uint8: the sum post-op reads it from the u8 dst */
static bool add_8bit(const QOpAttrs *a, const QSpec *q) { return a->spec.add && q->add_dtype != DT_FLOAT; }

static bool add_is_sum(const QOpAttrs *a, const QSpec *q) {
    return a->spec.add && (q->add_dtype == DT_FLOAT ? a->out_type == DT_FLOAT : a->out_type == DT_UINT8);
}

/* Returns 0, 1 when oneDNN cannot express the epilogue (declined), or -1. */
static int append_post_ops(const QOpAttrs *a, const QSpec *q, dnnl_primitive_attr_t attr, Err *err) {
    dnnl_post_ops_t po;
    if (dnn_check(dnnl_post_ops_create(&po), "post-ops", err)) return -1;
    dnnl_status_t st = dnnl_success;
    /* float32 output with an 8-bit addend: the epilogue runs on v / add_scale (see the top) */
    bool scaled = add_8bit(a, q) && !add_is_sum(a, q);
    float act_hi = 6.0f;
    if (scaled) {
        if (a->spec.act == NN_ACT_GELU_EXACT) { dnnl_post_ops_destroy(po); return 1; }
        act_hi = 6.0f / a->add_scale;
        st = dnnl_post_ops_append_binary(po, dnnl_binary_add, &q->add_md);
    } else if (add_8bit(a, q)) {
        st = dnnl_post_ops_append_sum_v3(po, a->add_scale, a->add_zero_point, q->add_dtype == DT_UINT8 ? dnnl_u8 : dnnl_s8);
    } else if (a->spec.add) { /* float32 output: dst holds the addend; uint8 output: a float32 operand */
        st = a->out_type == DT_FLOAT ? dnnl_post_ops_append_sum(po, 1.0f) : dnnl_post_ops_append_binary(po, dnnl_binary_add, &q->add_md);
    }
    if (!st && a->spec.act == NN_ACT_RELU) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    if (!st && a->spec.act == NN_ACT_RELU6) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, 0.0f, act_hi);
    if (!st && a->spec.act == NN_ACT_GELU_EXACT) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f);
    if (!st && scaled) st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, a->add_scale, 0.0f);
    if (!st && a->out_type == DT_UINT8)
        st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, 1.0f / a->out_scale, (float)a->out_zero_point);
    if (!st) st = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    return dnn_check(st, "post-ops", err);
}

/* Builds the primitive (or finds it in the cache), prepacks the weights and fills k.
   Returns 1, 0 (oneDNN has no implementation: declined) or -1. */
static int build_qprim(DnnCtx *ctx, const Node *n, const QOpAttrs *a, QSpec *q, FastKernel *k, Err *err) {
    int64_t oc = q->out_c;
    float *oscale = malloc((size_t)oc * sizeof *oscale);
    QPrim *s = calloc(1, sizeof *s);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = -1;
    if (!oscale || !s) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    s->ctx = ctx;
    s->arg_add = a->spec.add ? a->spec.arg_add : -1;
    s->add_is_sum = add_is_sum(a, q);
    s->add_dtype = q->add_dtype;
    s->add_post_op = 0; /* the addend is always the first post-op (append_post_ops) */
    bool scaled = add_8bit(a, q) && !s->add_is_sum; /* the epilogue runs on v / add_scale - add_zero_point */
    s->add_bytes = (size_t)q->dst_numel * dtype_size(q->add_dtype);
    s->bias_buf = malloc((size_t)oc * sizeof *s->bias_buf);
    if (!s->bias_buf) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int64_t o = 0; o < oc; o++) {
        oscale[o] = a->x_scale * a->w_scales[o];
        if (!isnormal(oscale[o])) { rc = 0; goto done; } /* x_scale * w_scale underflows float32 */
        s->bias_buf[o] = q->bias[o] / oscale[o];    /* oneDNN 2.x: dst = (acc + bias) * oscale */
        if (scaled) {
            s->bias_buf[o] = (float)(((double)q->bias[o] - (double)a->add_zero_point * a->add_scale) / oscale[o]);
            oscale[o] /= a->add_scale;
            if (!isnormal(oscale[o])) { rc = 0; goto done; }
        }
    }

    if (dnn_check(dnnl_primitive_attr_create(&attr), "primitive attributes", err)) goto done;
    if (dnn_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode", err) ||
        dnn_check(dnnl_primitive_attr_set_output_scales(attr, oc, 1 << 1, oscale), "output scales", err))
        goto done;
    if (a->x_zero_point &&
        dnn_check(dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &a->x_zero_point), "source zero point", err))
        goto done;
    int po_rc = append_post_ops(a, q, attr, err);
    if (po_rc) { rc = po_rc > 0 ? 0 : -1; goto done; }

    dnnl_status_t st;
    if (q->is_conv) {
        dnnl_convolution_desc_t cd;
        st = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &q->src_md,
                                                        &q->wei_any_md, &q->bias_md, &q->dst_md, q->strides, q->dilates,
                                                        q->pad_l, q->pad_r);
        if (!st) st = dnnl_primitive_desc_create(&pd, &cd, attr, ctx->engine, NULL);
    } else {
        dnnl_matmul_desc_t md;
        st = dnnl_matmul_desc_init(&md, &q->src_md, &q->wei_any_md, &q->bias_md, &q->dst_md);
        if (!st) st = dnnl_primitive_desc_create(&pd, &md, attr, ctx->engine, NULL);
    }
    if (st == dnnl_unimplemented) { rc = 0; goto done; }
    if (dnn_check(st, q->is_conv ? "int8 convolution" : "int8 matmul", err)) goto done;

    /* the scales and post-op constants are baked into the primitive: they are part of its key */
    char key[600];
    uint64_t h = fnv(1469598103934665603ull, oscale, (size_t)oc * sizeof *oscale);
    snprintf(key, sizeof key, "%s|zp%d|out%d:%a:%d|add%d:%d:%a:%d|act%d|scales%d:%016llx", q->key, (int)a->x_zero_point,
             a->out_type, (double)a->out_scale, (int)a->out_zero_point, (int)a->spec.add, q->add_dtype, (double)a->add_scale,
             (int)a->add_zero_point, (int)a->spec.act, (int)oc, (unsigned long long)h);
    const_dnnl_primitive_desc_t cpd;
    dnnl_primitive_desc_t owned = pd;
    pd = NULL; /* dnn_primitive owns it now */
    if (dnn_primitive(ctx, key, owned, &s->prim, &cpd, err)) goto done;

    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(cpd, dnnl_query_weights_md, 0);
    size_t wei_bytes = 0;
    if (dnn_reorder_new(ctx, &q->wei_plain_md, q->wei, wei_md, &s->wei_buf, &wei_bytes, err)) goto done;
    if (dnnl_memory_create(&s->wei, wei_md, ctx->engine, s->wei_buf) ||
        dnnl_memory_create(&s->bias, &q->bias_md, ctx->engine, s->bias_buf) || dnn_mem(ctx, &q->src_md, &s->src, err) ||
        dnn_mem(ctx, &q->dst_md, &s->dst, err) || (s->arg_add >= 0 && !s->add_is_sum && dnn_mem(ctx, &q->add_md, &s->addend, err))) {
        err_set(err, ERR_RUNTIME, "%s: creating oneDNN memories failed", n->name);
        goto done;
    }
    size_t scratch = dnn_scratch_bytes(cpd);
    if (scratch) {
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(cpd, dnnl_query_scratchpad_md, 0);
        if (dnn_mem(ctx, smd, &s->scratch, err)) goto done;
    }
    k->impl = dnn_impl_name(cpd);
    int64_t pixels = q->dst_numel / (oc ? oc : 1);
    if (q->is_conv && strstr(k->impl, "amx") && pixels % 16) {
        size_t elem = a->out_type == DT_UINT8 ? 1 : sizeof(float);
        size_t pad_bytes = (size_t)((pixels + 15) / 16 * 16 * oc) * elem;
        s->dst_bytes = (size_t)q->dst_numel * elem;
        s->dst_pad = aligned_alloc(64, (pad_bytes + 63) & ~(size_t)63);
        if (!s->dst_pad) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
        wei_bytes += pad_bytes; /* held by the kernel for the plan's life, like its weights */
    }
    k->state = s;
    k->run = qprim_run;
    k->destroy = qprim_destroy;
    k->scratch_bytes = scratch;
    k->weight_bytes = wei_bytes + (size_t)oc * sizeof(float);
    k->inplace = s->add_is_sum ? s->arg_add : -1;
    s = NULL;
    rc = 1;
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    free(oscale);
    qprim_destroy(s);
    return rc;
}

/* the constant value of input i, or NULL */
static const Tensor *known_input(const Graph *g, const Node *n, int i) {
    const Value *v = node_input_value(g, n, i);
    return tensor_has_data(&v->known) ? &v->known : NULL;
}

/* the addend's dtype (DT_FLOAT when there is none) and oneDNN's name for it; -1 when the
   attributes do not fit it (the reference reports that) */
static int addend_dtype(const Graph *g, const Node *n, const QOpAttrs *a, int *dtype, dnnl_data_type_t *dt) {
    *dtype = a->spec.add ? node_input_value(g, n, a->spec.arg_add)->dtype : DT_FLOAT;
    *dt = *dtype == DT_UINT8 ? dnnl_u8 : *dtype == DT_INT8 ? dnnl_s8 : dnnl_f32;
    return a->spec.add && lowp_check_addend(a, *dtype, NULL) ? -1 : 0;
}

static int compile_qconv(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    QOpAttrs a;
    ConvGeom geo;
    const Value *x = node_input_value(g, n, 0), *f = node_input_value(g, n, 1);
    if (x->dtype != DT_UINT8 || f->dtype != DT_INT8) return 0;
    if (lowp_qconv_attrs(n, -1, &a, NULL) || nn_conv_geom(n, a.depthwise, &x->shape, &f->shape, &geo, NULL)) return 0;
    if (lowp_qconv_attrs(n, geo.out_c, &a, NULL) || geo.nchw || (!a.depthwise && geo.groups != 1)) return 0;
    const Tensor *wt = known_input(g, n, 1), *bt = known_input(g, n, 2);
    if (!wt || !bt || bt->dtype != DT_FLOAT || tensor_numel(bt) != geo.out_c) return 0;
    const int8_t *w = tensor_data(wt);
    int64_t mult = geo.out_c / geo.groups; /* depthwise multiplier */
    /* depthwise kernels widen to 32 bits before multiplying: only dense convolutions pair */
    if (!a.depthwise && !cpu_has_vnni() &&
        !pairs_safe(w, geo.k_h * geo.k_w, geo.in_c, geo.out_c, geo.out_c, 1, geo.in_c * geo.out_c))
        return 0;
    /* except a depthwise multiplier above 1 on AVX-512 without VNNI (ONEDNN_MAX_CPU_ISA=
       AVX512_CORE; AVX2's kernel is exact): oneDNN's kernel there saturates on 8-bit weights
       (tests/test_rules_quant.c, test_conv_int8_bound, found by `make test-isa`); weights
       within [-64, 64] cannot saturate a pair sum */
    if (a.depthwise && mult > 1 && cpu_is_avx512_without_vnni()) {
        int64_t n_w = tensor_numel(wt);
        for (int64_t i = 0; i < n_w; i++)
            if (w[i] > 64 || w[i] < -64) return 0;
    }

    QSpec q;
    memset(&q, 0, sizeof q);
    q.is_conv = true;
    q.out_c = geo.out_c;
    q.wei = w;
    q.bias = tensor_data(bt);
    q.dst_numel = geo.batch * geo.out_h * geo.out_w * geo.out_c;
    dnnl_data_type_t dst_dt = a.out_type == DT_UINT8 ? dnnl_u8 : dnnl_f32, add_dt;
    if (addend_dtype(g, n, &a, &q.add_dtype, &add_dt)) return 0;
    dnnl_dims_t sd = {geo.batch, geo.in_c, geo.in_h, geo.in_w}, dd = {geo.batch, geo.out_c, geo.out_h, geo.out_w};
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&q.src_md, 4, sd, dnnl_u8, dnnl_nhwc);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.dst_md, 4, dd, dst_dt, dnnl_nhwc);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.add_md, 4, dd, add_dt, dnnl_nhwc);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.bias_md, 1, (dnnl_dims_t){geo.out_c}, dnnl_f32, dnnl_a);
    if (!a.depthwise) {
        /* HWIO memory, dims (O, I, H, W) */
        dnnl_dims_t wd = {geo.out_c, geo.in_c, geo.k_h, geo.k_w};
        if (!st) st = dnnl_memory_desc_init_by_tag(&q.wei_any_md, 4, wd, dnnl_s8, dnnl_format_tag_any);
        if (!st) st = dnnl_memory_desc_init_by_tag(&q.wei_plain_md, 4, wd, dnnl_s8, dnnl_hwio);
    } else {
        /* [KH, KW, C, M] memory as grouped dims (G = C, O = M, I = 1, H, W) */
        dnnl_dims_t wd = {geo.in_c, mult, 1, geo.k_h, geo.k_w};
        dnnl_dims_t ws = {mult, 1, 1, geo.k_w * geo.in_c * mult, geo.in_c * mult};
        if (!st) st = dnnl_memory_desc_init_by_tag(&q.wei_any_md, 5, wd, dnnl_s8, dnnl_format_tag_any);
        if (!st) st = dnnl_memory_desc_init_by_strides(&q.wei_plain_md, 5, wd, dnnl_s8, ws);
    }
    if (dnn_check(st, "int8 convolution descriptors", err)) return -1;
    /* TF padding -> oneDNN's: the amount after is what the output size needs beyond the
       input (never negative: rows a VALID window never reaches are just not read) */
    int64_t eff_h = (geo.k_h - 1) * geo.dil_h + 1, eff_w = (geo.k_w - 1) * geo.dil_w + 1;
    int64_t pb = (geo.out_h - 1) * geo.stride_h + eff_h - geo.in_h - geo.pad_top;
    int64_t pr = (geo.out_w - 1) * geo.stride_w + eff_w - geo.in_w - geo.pad_left;
    q.strides[0] = geo.stride_h;
    q.strides[1] = geo.stride_w;
    q.dilates[0] = geo.dil_h - 1;
    q.dilates[1] = geo.dil_w - 1;
    q.pad_l[0] = geo.pad_top;
    q.pad_l[1] = geo.pad_left;
    q.pad_r[0] = pb > 0 ? pb : 0;
    q.pad_r[1] = pr > 0 ? pr : 0;
    snprintf(q.key, sizeof q.key, "qconv|%lldx%lldx%lldx%lld|k%lldx%lld|o%lld|dw%d|s%lldx%lld|d%lldx%lld|p%lld,%lld,%lld,%lld",
             (long long)geo.batch, (long long)geo.in_h, (long long)geo.in_w, (long long)geo.in_c, (long long)geo.k_h,
             (long long)geo.k_w, (long long)geo.out_c, (int)a.depthwise, (long long)geo.stride_h, (long long)geo.stride_w,
             (long long)geo.dil_h, (long long)geo.dil_w, (long long)q.pad_l[0], (long long)q.pad_l[1], (long long)q.pad_r[0],
             (long long)q.pad_r[1]);
    return build_qprim(ctx, n, &a, &q, k, err);
}

static int compile_qmatmul(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    QOpAttrs a;
    int64_t m, kk, nn;
    const Value *x = node_input_value(g, n, 0), *w = node_input_value(g, n, 1);
    if (x->dtype != DT_UINT8 || w->dtype != DT_INT8) return 0;
    bool tb = node_attr_b(n, "transpose_b", false);
    if (lowp_qmatmul_dims(&x->shape, &w->shape, tb, &m, &kk, &nn, NULL) || lowp_qmatmul_attrs(n, nn, &a, NULL)) return 0;
    const Tensor *wt = known_input(g, n, 1), *bt = known_input(g, n, 2);
    if (!wt || !bt || bt->dtype != DT_FLOAT || tensor_numel(bt) != nn || m == 0) return 0;
    const int8_t *wd = tensor_data(wt);
    /* w(p, j) at p * (tb ? 1 : nn) + j * (tb ? kk : 1) */
    if (!cpu_has_vnni() && !pairs_safe(wd, 1, kk, nn, tb ? 1 : nn, tb ? kk : 1, 0)) return 0;

    QSpec q;
    memset(&q, 0, sizeof q);
    q.is_conv = false;
    q.out_c = nn;
    q.wei = wd;
    q.bias = tensor_data(bt);
    q.dst_numel = m * nn;
    dnnl_data_type_t dst_dt = a.out_type == DT_UINT8 ? dnnl_u8 : dnnl_f32, add_dt;
    if (addend_dtype(g, n, &a, &q.add_dtype, &add_dt)) return 0;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&q.src_md, 2, (dnnl_dims_t){m, kk}, dnnl_u8, dnnl_ab);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.dst_md, 2, (dnnl_dims_t){m, nn}, dst_dt, dnnl_ab);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.add_md, 2, (dnnl_dims_t){m, nn}, add_dt, dnnl_ab);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.bias_md, 2, (dnnl_dims_t){1, nn}, dnnl_f32, dnnl_ab);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.wei_any_md, 2, (dnnl_dims_t){kk, nn}, dnnl_s8, dnnl_format_tag_any);
    if (!st) st = dnnl_memory_desc_init_by_tag(&q.wei_plain_md, 2, (dnnl_dims_t){kk, nn}, dnnl_s8, tb ? dnnl_ba : dnnl_ab);
    if (dnn_check(st, "int8 matmul descriptors", err)) return -1;
    snprintf(q.key, sizeof q.key, "qmatmul|%lldx%lldx%lld|tb%d", (long long)m, (long long)kk, (long long)nn, (int)tb);
    return build_qprim(ctx, n, &a, &q, k, err);
}

int fast_compile_quant(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    switch (n->op) {
    case OP_GRAPPO_QUANTIZE:
    case OP_GRAPPO_DEQUANTIZE: return compile_quant_elementwise(g, n, k, err);
    case OP_GRAPPO_QCONV2D: return compile_qconv(ctx, g, n, k, err);
    case OP_GRAPPO_QMATMUL: return compile_qmatmul(ctx, g, n, k, err);
    case OP_CAST: return compile_cast_bf16(g, n, k, err);
    default: return 0;
    }
}
