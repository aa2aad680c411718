/* native_attention.c - fast kernel family fast_compile_attention: GrappoAttention (docs/ops.md)
 * in plain C, single-threaded, float32 arithmetic.
 *
 * Per (b, h): kᵀ is copied once into scratch ([D, Sk], so scores run along contiguous
 * keys); then rows of q are taken four at a time, and both products are computed in blocks of
 * 4 rows x NATIVE_BLOCK columns whose accumulators stay in registers over the inner dimension
 * (each loaded kᵀ / v row segment serves four rows):
 *   scores   s[r, :] = sum_d q[i+r, d] kᵀ[d, :]
 *   softmax  s = s * scale + mask; m = max s; e = exp(s - m); sum e
 *   output   o[i+r, :] = (sum_j e[r, j] v[j, :]) / sum
 * exp is computed inline for arguments in [-87, 0] (s - m is never positive): 2^k exp(r),
 * k = round(w / ln 2), r = w - k ln 2 with ln 2 split in two parts (Cody & Waite), exp(r) by
 * its Taylor series to r^7 (|r| <= 0.35: truncation below 1e-8 relative); arguments below
 * -87 are clamped, so a weight that should be under 1.7e-38 comes out as about that (the row
 * sum is >= 1, so the error is far below float resolution). A row whose maximum or sum is not
 * finite (scores +-inf or NaN, e.g. a mask of -inf everywhere) is recomputed by the plain
 * scalar path with libm, which gives NaN exactly where the reference does.
 *
 * Vectorization as in native_eltwise.c (native_simd.h): fixed NATIVE_BLOCK blocks under
 * ivdep with scalar tails, and an AVX2 clone of the per-head function. Constant inputs
 * (known at compile time) are held by the kernel and read instead of in[i]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fast.h"

#include "native_simd.h"

#define ROWS 4 /* q rows per step */

typedef struct NativeAttention {
    int64_t B, H, Sq, Sk, D, Dv;
    float scale;
    bool has_mask;
    int64_t mst[4]; /* mask strides over [B,H,Sq,Sk]; 0 along broadcast axes */
    Tensor held[4]; /* known input values (buf NULL when computed at run time) */
} NativeAttention;

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

#define MAGIC_ROUND 12582912.0f /* 1.5 * 2^23: adding it rounds |v| < 2^22 to an integer */
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f       /* exact in k * LN2_HI for |k| < 2^15 */
#define LN2_LO (-2.12194440e-4f)  /* ln 2 - LN2_HI */

/* exp(w) for w <= 0 (w below -87 taken as -87; w must not be NaN) */
static inline float exp_nonpos(float w) {
    /* negative floats order like their bit patterns reversed: w < -87 <=> bits(w) > bits(-87) */
    w = u2f(f2u(w) > f2u(-87.0f) ? f2u(-87.0f) : f2u(w));
    float m = w * LOG2E + MAGIC_ROUND;
    float k = m - MAGIC_ROUND;
    float r = (w - k * LN2_HI) - k * LN2_LO;
    float p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    uint32_t kb = f2u(m) - f2u(MAGIC_ROUND) + 127u; /* k + 127, k in [-126, 0] */
    return p * u2f(kb << 23);
}

/* c[r][0..w) = sum_k a[r][k] b[k * ldb + 0..w) for ROWS rows, w <= NATIVE_BLOCK columns:
   the accumulators (ROWS x NATIVE_BLOCK floats) stay in vector registers across k */
static inline void block_rows(float *c[ROWS], const float *a[ROWS], const float *b, int64_t ldb, int64_t K, int w) {
    float acc[ROWS][NATIVE_BLOCK];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < NATIVE_BLOCK; t++) acc[r][t] = 0.0f;
    if (w == NATIVE_BLOCK) {
        for (int64_t k = 0; k < K; k++) {
            const float *bk = b + k * ldb;
            for (int r = 0; r < ROWS; r++) {
                const float ar = a[r][k];
                NATIVE_IVDEP
                for (int t = 0; t < NATIVE_BLOCK; t++) acc[r][t] += ar * bk[t];
            }
        }
    } else {
        for (int64_t k = 0; k < K; k++)
            for (int r = 0; r < ROWS; r++)
                for (int t = 0; t < w; t++) acc[r][t] += a[r][k] * b[k * ldb + t];
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < w; t++) c[r][t] = acc[r][t];
}

/* C[ROWS][n] = A[ROWS][K] B[K][n] (B row stride ldb), in column blocks */
static inline void gemm_rows(float *c[ROWS], const float *a[ROWS], const float *b, int64_t ldb, int64_t K, int64_t n) {
    for (int64_t j = 0; j < n; j += NATIVE_BLOCK) {
        int w = n - j < NATIVE_BLOCK ? (int)(n - j) : NATIVE_BLOCK;
        float *cj[ROWS];
        for (int r = 0; r < ROWS; r++) cj[r] = c[r] + j;
        block_rows(cj, a, b + j, ldb, K, w);
    }
}

/* s = s * scale + mask (mask row with stride ms: 1 or 0, or NULL); returns max s */
static inline float scale_mask_max(float *s, int64_t n, float scale, const float *mask, int64_t ms) {
    float mx[NATIVE_BLOCK];
    for (int t = 0; t < NATIVE_BLOCK; t++) mx[t] = -INFINITY;
    float m0 = mask && ms == 0 ? mask[0] : 0.0f;
    int64_t j = 0;
    for (; j + NATIVE_BLOCK <= n; j += NATIVE_BLOCK) {
        NATIVE_IVDEP
        for (int t = 0; t < NATIVE_BLOCK; t++) {
            float v = s[j + t] * scale + (mask && ms ? mask[j + t] : m0);
            s[j + t] = v;
            mx[t] = v > mx[t] ? v : mx[t];
        }
    }
    float best = -INFINITY;
    for (; j < n; j++) {
        s[j] = s[j] * scale + (mask && ms ? mask[j] : m0);
        best = s[j] > best ? s[j] : best;
    }
    for (int t = 0; t < NATIVE_BLOCK; t++) best = mx[t] > best ? mx[t] : best;
    return best;
}

/* s = exp(s - m); returns the sum */
static inline float exp_sum(float *s, int64_t n, float m) {
    float acc[NATIVE_BLOCK] = {0};
    int64_t j = 0;
    for (; j + NATIVE_BLOCK <= n; j += NATIVE_BLOCK) {
        NATIVE_IVDEP
        for (int t = 0; t < NATIVE_BLOCK; t++) {
            float e = exp_nonpos(s[j + t] - m);
            s[j + t] = e;
            acc[t] += e;
        }
    }
    float sum = 0;
    for (; j < n; j++) {
        s[j] = exp_nonpos(s[j] - m);
        sum += s[j];
    }
    for (int t = 0; t < NATIVE_BLOCK; t++) sum += acc[t];
    return sum;
}

/* one score row with non-finite max or sum, from the raw (unscaled) dot products in s:
   plain scalar softmax with libm (NaN where the reference gives NaN) */
static void softmax_slow(float *s, int64_t n, float scale, const float *mask, int64_t ms, float *sum_out) {
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        s[j] = s[j] * scale + (mask ? mask[j * ms] : 0.0f);
        if (s[j] > m) m = s[j];
    }
    float sum = 0;
    for (int64_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - m);
        sum += s[j];
    }
    *sum_out = sum;
}

/* One (b, h): q [Sq, D], k [Sk, D], v [Sk, Dv], out [Sq, Dv]; mask at (b, h) with row stride
   mst[2] and column stride mst[3] (NULL: none). scratch holds D*Sk + ROWS*Sk + ROWS*Dv +
   Sk floats. */
NATIVE_CLONES static void attend_head(const NativeAttention *a, const float *q, const float *k, const float *v,
                                      const float *mask, float *out, float *scratch) {
    const int64_t Sq = a->Sq, Sk = a->Sk, D = a->D, Dv = a->Dv;
    float *kt = scratch, *srow = kt + D * Sk, *orow = srow + ROWS * Sk, *raw = orow + ROWS * Dv;
    for (int64_t j = 0; j < Sk; j++)
        for (int64_t d = 0; d < D; d++) kt[d * Sk + j] = k[j * D + d];
    for (int64_t i0 = 0; i0 < Sq; i0 += ROWS) {
        int rows = Sq - i0 < ROWS ? (int)(Sq - i0) : ROWS;
        float *s[ROWS], *o[ROWS];
        const float *qr[ROWS], *pr[ROWS];
        for (int r = 0; r < ROWS; r++) {
            /* rows past the end repeat the last real row (computed, never stored) */
            int rr = r < rows ? r : rows - 1;
            s[r] = srow + r * Sk;
            o[r] = orow + r * Dv;
            qr[r] = q + (i0 + rr) * D;
            pr[r] = srow + rr * Sk;
        }
        gemm_rows(s, qr, kt, Sk, D, Sk);
        float inv[ROWS];
        for (int r = 0; r < rows; r++) {
            const float *mrow = mask ? mask + (i0 + r) * a->mst[2] : NULL;
            memcpy(raw, s[r], (size_t)Sk * sizeof *raw);
            float m = scale_mask_max(s[r], Sk, a->scale, mrow, a->mst[3]);
            float sum = isfinite(m) ? exp_sum(s[r], Sk, m) : NAN;
            if (!isfinite(sum) || !(sum > 0)) {
                memcpy(s[r], raw, (size_t)Sk * sizeof *raw);
                softmax_slow(s[r], Sk, a->scale, mrow, a->mst[3], &sum);
            }
            inv[r] = 1.0f / sum;
        }
        gemm_rows(o, pr, v, Dv, Sk, Dv);
        for (int r = 0; r < rows; r++) {
            float *dst = out + (i0 + r) * Dv;
            const float *src = o[r];
            const float c = inv[r];
            for (int64_t d = 0; d < Dv; d++) dst[d] = src[d] * c;
        }
    }
}

static size_t scratch_floats(const NativeAttention *a) {
    return (size_t)(a->D * a->Sk + ROWS * a->Sk + ROWS * a->Dv + a->Sk);
}

static void attention_destroy(void *state) {
    NativeAttention *a = state;
    if (!a) return;
    for (int i = 0; i < 4; i++) tensor_release(&a->held[i]);
    free(a);
}

static int attention_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    const NativeAttention *a = state;
    const float *p[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 3 + (a->has_mask ? 1 : 0); i++) {
        p[i] = a->held[i].buf ? tensor_data(&a->held[i]) : tensor_data(&in[i]);
        if (!p[i]) return err_set(err, ERR_RUNTIME, "native attention: input %d has no data", i);
    }
    float *o = out[0].buf ? out[0].buf->data : NULL;
    if (!o || !scratch) return err_set(err, ERR_RUNTIME, "native attention: missing output or scratch");
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < a->H; h++) {
            int64_t bh = b * a->H + h;
            const float *mask = a->has_mask ? p[3] + b * a->mst[0] + h * a->mst[1] : NULL;
            attend_head(a, p[0] + bh * a->Sq * a->D, p[1] + bh * a->Sk * a->D, p[2] + bh * a->Sk * a->Dv, mask,
                        o + bh * a->Sq * a->Dv, scratch);
        }
    return 0;
}

int fast_compile_attention(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    (void)ctx;
    if (n->op != OP_GRAPPO_ATTENTION || n->n_inputs < 3 || n->n_inputs > 4 || n->n_outputs != 1) return 0;
    bool has_mask = n->n_inputs == 4;
    for (int i = 0; i < n->n_inputs; i++) {
        const Value *x = node_input_value(g, n, i);
        if (x->dtype != DT_FLOAT || !shape_is_known(&x->shape)) return 0;
    }
    const Shape *qs = &node_input_value(g, n, 0)->shape, *ks = &node_input_value(g, n, 1)->shape,
                *vs = &node_input_value(g, n, 2)->shape;
    if (qs->rank != 4 || ks->rank != 4 || vs->rank != 4 || n->outputs[0].dtype != DT_FLOAT) return 0;
    if (shape_numel(&n->outputs[0].shape) <= 0 || ks->dim[2] <= 0) return 0;
    NativeAttention *a = calloc(1, sizeof *a);
    if (!a) return err_set(err, ERR_RUNTIME, "out of memory");
    a->B = qs->dim[0];
    a->H = qs->dim[1];
    a->Sq = qs->dim[2];
    a->D = qs->dim[3];
    a->Sk = ks->dim[2];
    a->Dv = vs->dim[3];
    a->scale = node_attr_f(n, "scale", 1.0f);
    a->has_mask = has_mask;
    if (has_mask) {
        const Shape *m = &node_input_value(g, n, 3)->shape;
        int64_t s = 1;
        for (int i = 3; i >= 0; i--) {
            int mi = i - (4 - m->rank);
            int64_t d = mi >= 0 ? m->dim[mi] : 1;
            a->mst[i] = d == 1 ? 0 : s;
            s *= d;
        }
    }
    for (int i = 0; i < n->n_inputs; i++) {
        const Value *x = node_input_value(g, n, i);
        if (x->known.buf) a->held[i] = tensor_share(&x->known);
    }
    k->impl = "native:attention";
    k->state = a;
    k->run = attention_run;
    k->destroy = attention_destroy;
    k->scratch_bytes = scratch_floats(a) * sizeof(float);
    k->weight_bytes = 0; /* constant inputs are shared with the graph, not copied */
    k->inplace = -1;     /* the output is written while q and v are still being read */
    return 1;
}
