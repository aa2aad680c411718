/* native_gemv.c - float32 convolutions whose output map is tiny (at most GEMV_MAX_PIXELS
 * pixels, batch included) as matrix-vector products: ResNet-50's last stages at small inputs,
 * where each output pixel reads megabytes of weights once and the time is the time to stream
 * them. The filter is packed at compile time for streaming: output channels in blocks of
 * GEMV_BLOCK, each block's weights contiguous ([block][tap][in_c][GEMV_BLOCK]), and only the
 * taps some output pixel reads inside the input (a 3x3 SAME convolution on a 1x1 map keeps
 * its centre tap: a ninth of the bytes). The blocks are split between the threads of the
 * OpenMP team oneDNN uses (-fopenmp for this file, mk/fp32roof.mk); the inner loops are GCC
 * vector extensions compiled three times (AVX-512, AVX2+FMA, baseline) and picked by oneDNN's
 * effective ISA, so ONEDNN_MAX_CPU_ISA=AVX2 runs the AVX2 code here too.
 *
 * When it is used (dnn_conv.c, GemvMode): by default only when it drops taps. Timed against
 * oneDNN in one process (tools/ab_gemv, per-node medians, machine loaded), it was faster on
 * ResNet-50's 3x3 convolutions over 1x1 maps (0.083 vs 0.100 ms at 1 thread) and slower on
 * the 1x1 ones, where jit_1x1 streams the same bytes faster (0.33 vs 0.28 ms for 2048->512).
 *
 * The epilogue is the same as the oneDNN path's: bias (or folded batch norm), the residual
 * Add, then Relu / LeakyRelu / Relu6; other activations are declined (oneDNN runs them).
 * Sums are in float32 in a different order than the reference's, as oneDNN's are. */
#include <stdlib.h>
#include <string.h>

#include "dnn_conv_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

enum { GEMV_BLOCK = 16 };

typedef float v16f __attribute__((vector_size(GEMV_BLOCK * sizeof(float))));

typedef enum { GEMV_ISA_C, GEMV_ISA_AVX2, GEMV_ISA_AVX512 } GemvIsa;

/* the output pixels one kept tap reads an input pixel for (1..GEMV_MAX_PIXELS) */
typedef struct TapPixels {
    int n;
    int pix[GEMV_MAX_PIXELS];
    int64_t off[GEMV_MAX_PIXELS]; /* element offset of the input pixel */
} TapPixels;

typedef struct GemvState {
    int64_t pixels, in_c, out_c, blocks, taps;
    float *w;        /* packed [blocks][taps][in_c][GEMV_BLOCK], zero past out_c */
    float *bias;     /* [out_c] or NULL */
    TapPixels *tap;  /* [taps] */
    int src_arg, add_arg;
    dnnl_alg_kind_t act;
    float alpha, beta;
    GemvIsa isa;
    size_t src_bytes, dst_bytes;
} GemvState;

/* ---- the kernel: output channel blocks [b0, b1) ---- */

/* acc[p] += sum_i x_p[i] * w[i] over one tap for np pixels (a constant after inlining): each
   weight vector is loaded once for all pixels; with one pixel, four chains so the adds do not
   wait on each other's latency */
static inline __attribute__((always_inline)) void tap_dot(const v16f *w, int64_t ic, const float *const *x, v16f *acc,
                                                          const int np) {
    v16f a[GEMV_MAX_PIXELS][2];
    for (int p = 0; p < np; p++) a[p][0] = a[p][1] = (v16f){0};
    int64_t i = 0;
    if (np == 1) {
        v16f c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
        for (; i + 4 <= ic; i += 4) {
            c0 += x[0][i] * w[i];
            c1 += x[0][i + 1] * w[i + 1];
            c2 += x[0][i + 2] * w[i + 2];
            c3 += x[0][i + 3] * w[i + 3];
        }
        a[0][0] = c0 + c2;
        a[0][1] = c1 + c3;
    }
    for (; i + 2 <= ic; i += 2) {
        v16f w0 = w[i], w1 = w[i + 1];
        for (int p = 0; p < np; p++) {
            a[p][0] += x[p][i] * w0;
            a[p][1] += x[p][i + 1] * w1;
        }
    }
    for (; i < ic; i++)
        for (int p = 0; p < np; p++) a[p][0] += x[p][i] * w[i];
    for (int p = 0; p < np; p++) acc[p] += a[p][0] + a[p][1];
}

static inline __attribute__((always_inline)) void gemv_blocks(const GemvState *s, const float *x, const float *add, float *y,
                                                              int64_t b0, int64_t b1) {
    const int64_t ic = s->in_c, taps = s->taps;
    for (int64_t b = b0; b < b1; b++) {
        v16f acc[GEMV_MAX_PIXELS];
        for (int64_t p = 0; p < s->pixels; p++) acc[p] = (v16f){0};
        const float *wb = s->w + b * taps * ic * GEMV_BLOCK;
        for (int64_t t = 0; t < taps; t++) {
            const v16f *wt = (const v16f *)(wb + t * ic * GEMV_BLOCK);
            const TapPixels *tp = &s->tap[t];
            const float *xs[GEMV_MAX_PIXELS];
            v16f part[GEMV_MAX_PIXELS];
            for (int k = 0; k < tp->n; k++) {
                xs[k] = x + tp->off[k];
                part[k] = (v16f){0};
            }
            switch (tp->n) {
            case 1: tap_dot(wt, ic, xs, part, 1); break;
            case 2: tap_dot(wt, ic, xs, part, 2); break;
            case 3: tap_dot(wt, ic, xs, part, 3); break;
            default: tap_dot(wt, ic, xs, part, 4); break;
            }
            for (int k = 0; k < tp->n; k++) acc[tp->pix[k]] += part[k];
        }
        int64_t o0 = b * GEMV_BLOCK, nj = s->out_c - o0 < GEMV_BLOCK ? s->out_c - o0 : GEMV_BLOCK;
        for (int64_t p = 0; p < s->pixels; p++) {
            float *yp = y + p * s->out_c + o0;
            const float *ap = add ? add + p * s->out_c + o0 : NULL;
            for (int64_t j = 0; j < nj; j++) {
                float v = acc[p][j];
                if (s->bias) v += s->bias[o0 + j];
                if (ap) v += ap[j]; /* may alias yp[j]: read before the write */
                if (s->act == dnnl_eltwise_relu) v = v > 0 ? v : s->alpha * v;
                else if (s->act == dnnl_eltwise_clip) v = v < s->alpha ? s->alpha : v > s->beta ? s->beta : v;
                yp[j] = v;
            }
        }
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx512f,fma"))) static void blocks_avx512(const GemvState *s, const float *x, const float *add, float *y,
                                                                  int64_t b0, int64_t b1) {
    gemv_blocks(s, x, add, y, b0, b1);
}
__attribute__((target("avx2,fma"))) static void blocks_avx2(const GemvState *s, const float *x, const float *add, float *y,
                                                             int64_t b0, int64_t b1) {
    gemv_blocks(s, x, add, y, b0, b1);
}
#endif
static void blocks_c(const GemvState *s, const float *x, const float *add, float *y, int64_t b0, int64_t b1) {
    gemv_blocks(s, x, add, y, b0, b1);
}

static void run_blocks(const GemvState *s, const float *x, const float *add, float *y, int64_t b0, int64_t b1) {
#if defined(__GNUC__) && defined(__x86_64__)
    if (s->isa == GEMV_ISA_AVX512) { blocks_avx512(s, x, add, y, b0, b1); return; }
    if (s->isa == GEMV_ISA_AVX2) { blocks_avx2(s, x, add, y, b0, b1); return; }
#endif
    blocks_c(s, x, add, y, b0, b1);
}

static int gemv_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    (void)scratch;
    const GemvState *s = state;
    if (tensor_nbytes(&in[s->src_arg]) != s->src_bytes || tensor_nbytes(&out[0]) != s->dst_bytes)
        return err_set(err, ERR_RUNTIME, "convolution: tensor sizes differ from the compiled ones");
    const float *x = tensor_data(&in[s->src_arg]), *add = NULL;
    if (s->add_arg >= 0) {
        if (tensor_nbytes(&in[s->add_arg]) != s->dst_bytes)
            return err_set(err, ERR_RUNTIME, "convolution: the Add operand differs in size from the output");
        add = tensor_data(&in[s->add_arg]);
    }
    float *y = out[0].buf->data;
#ifdef _OPENMP
    if (s->blocks > 1 && omp_get_max_threads() > 1) {
#pragma omp parallel
        {
            int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            run_blocks(s, x, add, y, s->blocks * t / nt, s->blocks * (t + 1) / nt);
        }
        return 0;
    }
#endif
    run_blocks(s, x, add, y, 0, s->blocks);
    return 0;
}

static void gemv_destroy(void *state) {
    GemvState *s = state;
    if (!s) return;
    free(s->w);
    free(s->bias);
    free(s->tap);
    free(s);
}

static GemvIsa gemv_isa(const char **impl) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    unsigned avx512 = (unsigned)dnnl_cpu_isa_avx512_core, avx2 = (unsigned)dnnl_cpu_isa_avx2;
#if defined(__GNUC__) && defined(__x86_64__)
    if ((isa & avx512) == avx512) { *impl = "gemv:avx512"; return GEMV_ISA_AVX512; }
    if ((isa & avx2) == avx2) { *impl = "gemv:avx2"; return GEMV_ISA_AVX2; }
#else
    (void)isa, (void)avx512, (void)avx2;
#endif
    *impl = "gemv:c";
    return GEMV_ISA_C;
}

bool gemv_conv_fits(const GemvGeom *g, const ConvEpi *e) {
    if (g->batch * g->out_h * g->out_w > GEMV_MAX_PIXELS || g->batch < 1 || g->out_h < 1 || g->out_w < 1) return false;
    if (g->in_c < 1 || g->out_c < 1) return false;
    if (e->act == dnnl_alg_kind_undef) return true;
    if (e->act == dnnl_eltwise_relu) return true;
    return e->act == dnnl_eltwise_clip;
}

/* src[p * k_h * k_w + tap]: the element offset of the input pixel output pixel p reads
   through the tap, -1 when it lies in the padding */
static void tap_sources(const GemvGeom *g, int64_t *src) {
    const int64_t ktaps = g->k_h * g->k_w, pixels = g->batch * g->out_h * g->out_w;
    for (int64_t p = 0; p < pixels; p++) {
        int64_t n = p / (g->out_h * g->out_w), oy = p / g->out_w % g->out_h, ox = p % g->out_w;
        for (int64_t ky = 0; ky < g->k_h; ky++)
            for (int64_t kx = 0; kx < g->k_w; kx++) {
                int64_t iy = oy * g->stride_h - g->pad_top + ky * g->dil_h, ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                bool in = iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w;
                src[p * ktaps + ky * g->k_w + kx] = in ? ((n * g->in_h + iy) * g->in_w + ix) * g->in_c : -1;
            }
    }
}

int64_t gemv_kept_taps(const GemvGeom *g) {
    const int64_t ktaps = g->k_h * g->k_w, pixels = g->batch * g->out_h * g->out_w;
    int64_t *src = malloc((size_t)(pixels * ktaps) * sizeof *src), kept = 0;
    if (!src) return ktaps;
    tap_sources(g, src);
    for (int64_t t = 0; t < ktaps; t++) {
        bool any = false;
        for (int64_t p = 0; p < pixels; p++) any = any || src[p * ktaps + t] >= 0;
        kept += any;
    }
    free(src);
    return kept;
}

int gemv_conv_build(const GemvGeom *g, const ConvEpi *e, const float *w, float *bias, int src_arg, int add_arg,
                    FastKernel *k, Err *err) {
    GemvState *s = calloc(1, sizeof *s);
    const int64_t ktaps = g->k_h * g->k_w, pixels = g->batch * g->out_h * g->out_w;
    int64_t *tap_src = malloc((size_t)(pixels * ktaps) * sizeof *tap_src);
    int64_t *used = malloc((size_t)ktaps * sizeof *used);
    if (!s || !tap_src || !used) goto oom;
    s->bias = bias;
    bias = NULL;
    tap_sources(g, tap_src);
    /* keep the taps some pixel reads */
    int64_t taps = 0;
    for (int64_t t = 0; t < ktaps; t++) {
        bool any = false;
        for (int64_t p = 0; p < pixels; p++) any = any || tap_src[p * ktaps + t] >= 0;
        if (any) used[taps++] = t;
    }
    s->pixels = pixels;
    s->in_c = g->in_c;
    s->out_c = g->out_c;
    s->blocks = (g->out_c + GEMV_BLOCK - 1) / GEMV_BLOCK;
    s->taps = taps;
    s->tap = calloc((size_t)(taps ? taps : 1), sizeof *s->tap);
    size_t wn = (size_t)(s->blocks * taps * g->in_c * GEMV_BLOCK);
    size_t wbytes = (wn * sizeof(float) + 63) & ~(size_t)63;
    s->w = aligned_alloc(64, wbytes ? wbytes : 64);
    if (!s->tap || !s->w) goto oom;
    for (int64_t t = 0; t < taps; t++)
        for (int64_t p = 0; p < pixels; p++) {
            int64_t off = tap_src[p * ktaps + used[t]];
            if (off < 0) continue;
            TapPixels *tp = &s->tap[t];
            tp->pix[tp->n] = (int)p;
            tp->off[tp->n++] = off;
        }
    /* HWIO: tap t, input channel i, output channel o at (t * in_c + i) * out_c + o */
    memset(s->w, 0, wbytes ? wbytes : 64);
    for (int64_t b = 0; b < s->blocks; b++)
        for (int64_t t = 0; t < taps; t++)
            for (int64_t i = 0; i < g->in_c; i++) {
                float *dst = s->w + ((b * taps + t) * g->in_c + i) * GEMV_BLOCK;
                const float *src = w + (used[t] * g->in_c + i) * g->out_c + b * GEMV_BLOCK;
                int64_t nj = g->out_c - b * GEMV_BLOCK < GEMV_BLOCK ? g->out_c - b * GEMV_BLOCK : GEMV_BLOCK;
                memcpy(dst, src, (size_t)nj * sizeof *dst);
            }
    s->src_arg = src_arg;
    s->add_arg = e->sum ? add_arg : -1;
    s->act = e->act;
    s->alpha = e->alpha;
    s->beta = e->beta;
    s->src_bytes = (size_t)(g->batch * g->in_h * g->in_w * g->in_c) * sizeof(float);
    s->dst_bytes = (size_t)(pixels * g->out_c) * sizeof(float);
    s->isa = gemv_isa(&k->impl);
    free(tap_src);
    free(used);
    k->state = s;
    k->run = gemv_run;
    k->destroy = gemv_destroy;
    k->scratch_bytes = 0;
    k->weight_bytes = wbytes + (s->bias ? (size_t)g->out_c * sizeof(float) : 0);
    k->inplace = s->add_arg;
    return 1;
oom:
    free(bias);
    free(tap_src);
    free(used);
    gemv_destroy(s);
    return err_set(err, ERR_RUNTIME, "out of memory");
}
