/* native_attention.c - fast kernel family fast_compile_attention: GrappoAttention (docs/ops.md).
 *
 * Main path: three oneDNN primitives over all heads at once (float32, oneDNN's threads):
 *   1. matmul  scores[B,H,Sq,Sk] = scale * q·kᵀ + mask   (k described with transposed strides,
 *      no copy; scale as an output scale, the mask as a binary-add post-op whose descriptor
 *      has size-1 dims where it broadcasts)
 *   2. softmax over the last axis, in place on scores
 *   3. matmul  out[B,H,Sq,Dv] = scores·v
 * The scores buffer (B*H*Sq*Sk floats) lives at the start of the plan's scratch, which every
 * step shares (steps run one at a time, and scores are dead once the node has run), followed
 * by the one user-managed scratchpad the three primitives share (the largest of their needs):
 * k->scratch_bytes = both. A model with one attention per layer so holds one scores buffer,
 * not one per layer (MiniLM at 128 tokens: 0.75 MiB instead of 4.5 MiB).
 *
 * Fallback (when oneDNN declines any of the three, e.g. a mask broadcast the matmul's binary
 * post-op cannot do): plain C, single-threaded, float32 arithmetic, as follows.
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
#include <stdio.h>
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

/* input i's data: the held constant, else the run-time tensor */
static const float *input_ptr(const Tensor *held, const Tensor *in, int i) {
    return held[i].buf ? tensor_data(&held[i]) : tensor_data(&in[i]);
}

static int attention_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    const NativeAttention *a = state;
    const float *p[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 3 + (a->has_mask ? 1 : 0); i++) {
        p[i] = input_ptr(a->held, in, i);
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

/* ---- the oneDNN path ---- */

typedef struct DnnAttention {
    DnnCtx *ctx;
    bool has_mask;
    Tensor held[4];                 /* known input values (buf NULL when computed at run time) */
    size_t scores_bytes;            /* [B,H,Sq,Sk] floats at the start of the run's scratch, rounded up to 64 */
    dnnl_primitive_t qk, sm, pv;    /* borrowed from the context's cache */
    dnnl_memory_t q, k, v, mask, s, o, scratch; /* handles set per run */
} DnnAttention;

static void dnn_attention_destroy(void *state) {
    DnnAttention *d = state;
    if (!d) return;
    dnnl_memory_t m[] = {d->q, d->k, d->v, d->mask, d->s, d->o, d->scratch};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    for (int i = 0; i < 4; i++) tensor_release(&d->held[i]);
    free(d);
}

static int set_handle(dnnl_memory_t m, const void *p, Err *err) {
    /* oneDNN takes void * for every argument; it only reads the inputs */
    return dnn_check(dnnl_memory_set_data_handle(m, (void *)p), "setting an attention buffer", err);
}

static int dnn_attention_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    DnnAttention *d = state;
    dnnl_memory_t mems[4] = {d->q, d->k, d->v, d->mask};
    for (int i = 0; i < 3 + (d->has_mask ? 1 : 0); i++) {
        const float *p = input_ptr(d->held, in, i);
        if (!p) return err_set(err, ERR_RUNTIME, "attention: input %d has no data", i);
        if (set_handle(mems[i], p, err)) return -1;
    }
    float *o = out[0].buf ? out[0].buf->data : NULL;
    if (!o) return err_set(err, ERR_RUNTIME, "attention: missing output");
    if (set_handle(d->o, o, err)) return -1;
    dnnl_exec_arg_t args[5];
    int na = 0;
    if (!scratch) return err_set(err, ERR_RUNTIME, "attention: missing scratch");
    if (set_handle(d->s, scratch, err)) return -1;
    if (d->scratch && set_handle(d->scratch, (char *)scratch + d->scores_bytes, err)) return -1;
    /* 1. scores = scale * q·kᵀ (+ mask) */
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, d->q};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, d->k};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, d->s};
    if (d->has_mask) args[na++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, d->mask};
    if (d->scratch) args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, d->scratch};
    if (dnn_exec(d->ctx, d->qk, na, args, err)) return -1;
    /* 2. softmax in place */
    na = 0;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, d->s};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, d->s};
    if (d->scratch) args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, d->scratch};
    if (dnn_exec(d->ctx, d->sm, na, args, err)) return -1;
    /* 3. out = p·v */
    na = 0;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, d->s};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, d->v};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, d->o};
    if (d->scratch) args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, d->scratch};
    return dnn_exec(d->ctx, d->pv, na, args, err);
}

/* oneDNN status of creating a descriptor: "cannot do this" declines, anything else is an error */
static int declines(dnnl_status_t st) { return st == dnnl_unimplemented || st == dnnl_invalid_arguments; }

/* attributes: user scratchpad, optional output scale, optional binary-add post-op with mask_md */
static int make_attr(dnnl_primitive_attr_t *attr, const float *scale, const dnnl_memory_desc_t *mask_md, Err *err) {
    dnnl_post_ops_t po = NULL;
    int rc = -1;
    if (dnn_check(dnnl_primitive_attr_create(attr), "primitive attributes", err)) return -1;
    if (dnn_check(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user), "scratchpad mode", err))
        goto done;
    if (scale && dnn_check(dnnl_primitive_attr_set_output_scales(*attr, 1, 0, scale), "output scale", err)) goto done;
    if (mask_md) {
        if (dnn_check(dnnl_post_ops_create(&po), "post-ops", err)) goto done;
        if (dnn_check(dnnl_post_ops_append_binary(po, dnnl_binary_add, mask_md), "binary post-op", err)) goto done;
        if (dnn_check(dnnl_primitive_attr_set_post_ops(*attr, po), "setting post-ops", err)) goto done;
    }
    rc = 0;
done:
    if (po) dnnl_post_ops_destroy(po);
    if (rc) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return rc;
}

/* Creates the primitive for op_desc with attr (destroyed here) through the cache. Returns 1,
   0 (oneDNN declines) or -1; *scratch_max grows to the primitive's scratchpad size. */
static int make_prim(DnnCtx *ctx, const char *key, const void *op_desc, dnnl_primitive_attr_t attr,
                     dnnl_primitive_t *prim, size_t *scratch_max, const char **impl, Err *err) {
    const_dnnl_primitive_desc_t cpd = NULL;
    dnnl_primitive_t p = dnn_cache_get(ctx, key, &cpd);
    if (!p) {
        dnnl_primitive_desc_t pd;
        dnnl_status_t st = dnnl_primitive_desc_create(&pd, op_desc, attr, ctx->engine, NULL);
        if (st != dnnl_success) {
            dnnl_primitive_attr_destroy(attr);
            return declines(st) ? 0 : dnn_check(st, key, err);
        }
        if (dnn_primitive(ctx, key, pd, &p, &cpd, err)) {
            dnnl_primitive_attr_destroy(attr);
            return -1;
        }
    }
    dnnl_primitive_attr_destroy(attr);
    /* oneDNN's reference kernels are slower than the plain C fallback */
    if (strncmp(dnn_impl_name(cpd), "ref", 3) == 0) return 0;
    size_t b = dnn_scratch_bytes(cpd);
    if (b > *scratch_max) *scratch_max = b;
    if (impl) *impl = dnn_impl_name(cpd);
    *prim = p;
    return 1;
}

/* The oneDNN path for geometry a; returns 1 (k filled), 0 (oneDNN declines) or -1. */
static int compile_dnn(DnnCtx *ctx, const Graph *g, const Node *n, const NativeAttention *a, FastKernel *k, Err *err) {
    const int64_t B = a->B, H = a->H, Sq = a->Sq, Sk = a->Sk, D = a->D, Dv = a->Dv;
    dnnl_memory_desc_t q_md, k_md, v_md, s_md, o_md, m_md;
    dnnl_dims_t md = {1, 1, 1, 1};
    if (a->has_mask) {
        const Shape *m = &node_input_value(g, n, 3)->shape;
        for (int i = 0; i < m->rank; i++) md[4 - m->rank + i] = m->dim[i];
    }
    /* B and H fold into one batch axis ([1, B*H, ...]) unless the mask broadcasts over exactly
       one of them: oneDNN 2.6's gemm matmul takes a mask broadcast over the batch axes (a
       causal [Sq,Sk]) only when the outer one is 1, else it falls to its reference kernel */
    bool fold = (md[0] == 1 && md[1] == 1) || (md[0] == B && md[1] == H);
    const int r = 4;
    dnnl_dims_t qd = {B, H, Sq, D}, kd = {B, H, D, Sk}, vd = {B, H, Sk, Dv}, sd = {B, H, Sq, Sk}, od = {B, H, Sq, Dv};
    dnnl_dims_t kst = {H * Sk * D, Sk * D, 1, D}; /* kᵀ: k [B,H,Sk,D] read column-wise */
    if (fold) {
        qd[1] = kd[1] = vd[1] = sd[1] = od[1] = B * H;
        qd[0] = kd[0] = vd[0] = sd[0] = od[0] = 1;
        md[1] = md[0] * md[1];
        md[0] = 1;
        kst[0] = B * H * Sk * D;
    }
    const dnnl_format_tag_t tag = dnnl_abcd;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&q_md, r, qd, dnnl_f32, tag);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_strides(&k_md, r, kd, dnnl_f32, kst);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&v_md, r, vd, dnnl_f32, tag);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&s_md, r, sd, dnnl_f32, tag);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&o_md, r, od, dnnl_f32, tag);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&m_md, r, md, dnnl_f32, tag);
    if (st != dnnl_success) return declines(st) ? 0 : dnn_check(st, "attention memory descriptors", err);

    char shape[160], key[256];
    snprintf(shape, sizeof shape, "%s%lld,%lld,%lld,%lld,%lld,%lld", fold ? "fold:" : "", (long long)B, (long long)H, (long long)Sq,
             (long long)Sk, (long long)D, (long long)Dv);
    size_t scratch = 0;
    const char *impl = NULL;
    dnnl_primitive_t qk, sm, pv;
    dnnl_primitive_attr_t attr;
    int rc;

    dnnl_matmul_desc_t mm;
    if ((st = dnnl_matmul_desc_init(&mm, &q_md, &k_md, NULL, &s_md)) != dnnl_success)
        return declines(st) ? 0 : dnn_check(st, "attention q·kT descriptor", err);
    if (make_attr(&attr, &a->scale, a->has_mask ? &m_md : NULL, err)) return -1;
    if (a->has_mask)
        snprintf(key, sizeof key, "attention:qk:f32:%s:scale=%a:mask=%lld,%lld,%lld,%lld", shape, (double)a->scale,
                 (long long)md[0], (long long)md[1], (long long)md[2], (long long)md[3]);
    else
        snprintf(key, sizeof key, "attention:qk:f32:%s:scale=%a", shape, (double)a->scale);
    if ((rc = make_prim(ctx, key, &mm, attr, &qk, &scratch, &impl, err)) <= 0) return rc;

    dnnl_softmax_desc_t smd;
    if ((st = dnnl_softmax_forward_desc_init(&smd, dnnl_forward_inference, &s_md, 3)) != dnnl_success)
        return declines(st) ? 0 : dnn_check(st, "attention softmax descriptor", err);
    if (make_attr(&attr, NULL, NULL, err)) return -1;
    snprintf(key, sizeof key, "attention:softmax:f32:%s", shape);
    if ((rc = make_prim(ctx, key, &smd, attr, &sm, &scratch, NULL, err)) <= 0) return rc;

    if ((st = dnnl_matmul_desc_init(&mm, &s_md, &v_md, NULL, &o_md)) != dnnl_success)
        return declines(st) ? 0 : dnn_check(st, "attention p·v descriptor", err);
    if (make_attr(&attr, NULL, NULL, err)) return -1;
    snprintf(key, sizeof key, "attention:pv:f32:%s", shape);
    if ((rc = make_prim(ctx, key, &mm, attr, &pv, &scratch, NULL, err)) <= 0) return rc;

    DnnAttention *d = calloc(1, sizeof *d);
    if (!d) return err_set(err, ERR_RUNTIME, "out of memory");
    /* the oneDNN scratchpad after the scores stays 64-byte aligned (the plan's scratch is) */
    d->scores_bytes = ((size_t)(B * H * Sq * Sk) * sizeof(float) + 63) & ~(size_t)63;
    d->ctx = ctx;
    d->has_mask = a->has_mask;
    d->qk = qk;
    d->sm = sm;
    d->pv = pv;
    dnnl_memory_t *mems[] = {&d->q, &d->k, &d->v, &d->mask, &d->s, &d->o};
    const dnnl_memory_desc_t *mds[] = {&q_md, &k_md, &v_md, &m_md, &s_md, &o_md};
    for (int i = 0; i < 6; i++)
        if ((i != 3 || a->has_mask) && dnn_mem(ctx, mds[i], mems[i], err)) goto fail;
    if (scratch) {
        dnnl_memory_desc_t sc_md;
        dnnl_dims_t sc_dims = {(dnnl_dim_t)scratch};
        if (dnn_check(dnnl_memory_desc_init_by_tag(&sc_md, 1, sc_dims, dnnl_u8, dnnl_a), "scratchpad descriptor", err) ||
            dnn_mem(ctx, &sc_md, &d->scratch, err))
            goto fail;
    }
    for (int i = 0; i < n->n_inputs; i++) {
        const Value *x = node_input_value(g, n, i);
        if (x->known.buf) d->held[i] = tensor_share(&x->known);
    }
    k->impl = impl; /* the q·kᵀ matmul's implementation, e.g. "brg:avx2" */
    k->state = d;
    k->run = dnn_attention_run;
    k->destroy = dnn_attention_destroy;
    k->scratch_bytes = d->scores_bytes + scratch;
    k->weight_bytes = 0; /* constant inputs are shared with the graph, not copied */
    k->inplace = -1;          /* kept simple: the output never shares an input's buffer */
    return 1;
fail:
    dnn_attention_destroy(d);
    return -1;
}

int fast_compile_attention(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
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
        if (m->rank > 4) {
            free(a);
            return 0;
        }
        int64_t s = 1;
        for (int i = 3; i >= 0; i--) {
            int mi = i - (4 - m->rank);
            int64_t d = mi >= 0 ? m->dim[mi] : 1;
            a->mst[i] = d == 1 ? 0 : s;
            s *= d;
        }
    }
    if (ctx) {
        int rc = compile_dnn(ctx, g, n, a, k, err);
        if (rc != 0) {
            free(a);
            return rc;
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
