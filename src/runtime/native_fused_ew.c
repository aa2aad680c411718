/* native_fused_ew.c - the fast kernel for GrappoFusedElementwise (docs/ops.md), plain C:
 * family fast_compile_fused_elementwise.
 *
 * One pass over the data: the output is produced in blocks of FEW_BLOCK elements (small
 * enough to stay in L1); each block is loaded from x0 once, every step of the program is
 * applied to the whole block in turn (one tight loop per step, which gcc vectorizes: see
 * native_simd.h), and the block is written once. The unfused chain instead streams the whole
 * tensor through memory once per op.
 *
 * Broadcasting: x0's shape is walked as rows after dropping size-1 dims and merging
 * neighbouring dims across which every input is linear (the same idea as ref_bcast.h, for any
 * number of inputs); within a row each operand advances by 0 (broadcast) or 1 element, and the
 * two cases get separate loops (a scalar operand becomes a loop-invariant value). Short rows
 * (NHWC with a [C] operand: rows of C) are grouped into chunks of several rows; an operand that
 * is neither constant nor contiguous over the chunk is tiled into the scratchpad (a [C] vector
 * is tiled once per run and reused), so the per-step loops stay long.
 *
 * Numerics: + - * / Max Min Neg Abs Square Relu Relu6 and Sqrt in float32 give exactly what
 * the reference computes (double then one rounding: for these single operations the float
 * result is the correctly rounded one). Rsqrt, Exp, Log, Tanh, Erf and Sigmoid are computed in
 * double with libm and rounded once, as the reference does (so the kernel equals the
 * reference; those steps are libm calls, not vectorized: a chain of float-libm steps would
 * amplify their ulp errors, e.g. Log near 1). Each step rounds to float32. NaN in gives NaN
 * out (Max/Min included); Relu(-0) = -0.
 *
 * In place: the output may overwrite x0 (k->inplace = 0) unless an operand has as many
 * elements as x0 (it might share x0's buffer, and later steps would then read overwritten
 * values) or x0 is a constant. Constant inputs are held (shared) by the kernel state and read
 * from there. Single-threaded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/fused_ew.h"
#include "fast.h"
#include "native_simd.h"

#define FEW_BLOCK 512

typedef struct FewKernel {
    int n_in, n_steps, rank;
    FewStep *steps;
    int64_t dim[MAX_RANK];       /* merged dims of x0's shape */
    int64_t (*stride)[MAX_RANK]; /* [n_in][rank]: element stride of input k along merged dim d */
    Tensor *held;                /* [n_in]: constant inputs (buf NULL otherwise) */
} FewKernel;

static void few_destroy(void *state) {
    FewKernel *f = state;
    if (!f) return;
    if (f->held)
        for (int k = 0; k < f->n_in; k++) tensor_release(&f->held[k]);
    free(f->held);
    free(f->steps);
    free(f->stride);
    free(f);
}

/* max/min returning NaN when either operand is NaN (the compares are false for NaN) */
static inline float fmax_nan(float a, float b) {
    float r = a > b ? a : b;
    r = b != b ? b : r;
    return a != a ? a : r;
}
static inline float fmin_nan(float a, float b) {
    float r = a < b ? a : b;
    r = b != b ? b : r;
    return a != a ? a : r;
}


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

/* Relu on the bits: negative non-NaN values and -0 become +0 (an integer select the
   vectorizer if-converts; NaN passes through unchanged: act_relu's semantics) */
static inline float relu_bits(float a) {
    uint32_t u = f2u(a);
    uint32_t neg = 0u - (uint32_t)((u >= 0x80000000u) & (u <= 0xff800000u));
    return u2f(u & ~neg);
}

/* y[0..len) = step(y, b) where b advances by bstep (0 or 1) per element. Each loop runs in
   blocks of NATIVE_BLOCK (a trip count gcc -O2 vectorizes, native_simd.h) and a scalar tail. */
NATIVE_CLONES static void apply_step(FewKind kind, float *restrict y, const float *restrict b, int64_t bstep, int64_t len) {
#define BLOCKED(body)                                               \
    do {                                                            \
        int64_t j0 = 0;                                             \
        for (; j0 + NATIVE_BLOCK <= len; j0 += NATIVE_BLOCK) {      \
            NATIVE_IVDEP for (int t = 0; t < NATIVE_BLOCK; t++) {   \
                int64_t j = j0 + t;                                 \
                body;                                               \
            }                                                       \
        }                                                           \
        for (int64_t j = j0; j < len; j++) {                        \
            body;                                                   \
        }                                                           \
    } while (0)
#define LOOP(expr) BLOCKED(float a = y[j]; y[j] = (expr))
/* binary: a scalar operand (bstep 0) becomes a loop-invariant value */
#define BLOOP(expr)                                                 \
    do {                                                            \
        if (bstep == 0) {                                           \
            const float v = b[0];                                   \
            BLOCKED(float a = y[j]; y[j] = (expr));                 \
        } else {                                                    \
            BLOCKED(float a = y[j]; float v = b[j]; y[j] = (expr)); \
        }                                                           \
    } while (0)
    switch (kind) {
    case FEW_RELU: LOOP(relu_bits(a)); break;
    case FEW_RELU6: LOOP(a > 6 ? 6.0f : relu_bits(a)); break;
    case FEW_NEG: LOOP(-a); break;
    case FEW_ABS: LOOP(fabsf(a)); break;
    case FEW_SQUARE: LOOP(a * a); break;
    case FEW_SQRT: LOOP(sqrtf(a)); break;
    case FEW_RSQRT: LOOP((float)(1.0 / sqrt((double)a))); break;
    /* transcendentals in double with libm, rounded once: the reference's own computation, so
       a long chain of them does not amplify float-libm ulp errors */
    case FEW_SIGMOID: LOOP((float)few_sigmoid(a)); break;
    case FEW_TANH: LOOP((float)tanh(a)); break;
    case FEW_EXP: LOOP((float)exp(a)); break;
    case FEW_LOG: LOOP((float)log(a)); break;
    case FEW_ERF: LOOP((float)erf(a)); break;
    case FEW_ADD: BLOOP(a + v); break;
    case FEW_SUB: BLOOP(a - v); break;
    case FEW_RSUB: BLOOP(v - a); break;
    case FEW_MUL: BLOOP(a * v); break;
    case FEW_DIV: BLOOP(a / v); break;
    case FEW_RDIV: BLOOP(v / a); break;
    case FEW_MAX: BLOOP(fmax_nan(a, v)); break;
    case FEW_MIN: BLOOP(fmin_nan(a, v)); break;
    default: break;
    }
#undef LOOP
#undef BLOOP
#undef BLOCKED
}

/* Per-chunk operand access: bp[k] (start) and bs[k] (0 or 1 per element) for a chunk of nq
   rows of len elements starting at row offsets off[]. An operand neither constant over the
   chunk nor contiguous across it (a [C] vector against rows of C) is tiled into its slot of
   `tile` (FEW_BLOCK floats per input); a row-invariant tile is kept while its offset stays. */
typedef struct Chunk {
    const float **bp;
    int64_t *bs, *tile_off, *tile_rows;
    float *tile;
} Chunk;

static void chunk_operands(const FewKernel *f, const float *const *p, const int64_t *off, int64_t nq, int64_t len,
                           Chunk *c) {
    int r1 = f->rank - 1, r2 = f->rank - 2;
    for (int k = 1; k < f->n_in; k++) {
        int64_t s1 = f->stride[k][r1], s2 = nq > 1 ? f->stride[k][r2] : 0;
        if (s1 == 0 && s2 == 0) {
            c->bp[k] = p[k] + off[k];
            c->bs[k] = 0;
        } else if (s1 == 1 && (nq == 1 || s2 == len)) {
            c->bp[k] = p[k] + off[k];
            c->bs[k] = 1;
        } else {
            float *t = c->tile + (size_t)k * FEW_BLOCK;
            if (!(s2 == 0 && c->tile_off[k] == off[k] && c->tile_rows[k] >= nq)) {
                for (int64_t q = 0; q < nq; q++)
                    for (int64_t j = 0; j < len; j++) t[q * len + j] = p[k][off[k] + q * s2 + j * s1];
                c->tile_off[k] = s2 == 0 ? off[k] : -1;
                c->tile_rows[k] = nq;
            }
            c->bp[k] = t;
            c->bs[k] = 1;
        }
    }
}

static void run_steps(const FewKernel *f, float *y, const float *x, const Chunk *c, int64_t n) {
    if (x != y) memcpy(y, x, (size_t)n * sizeof(float));
    for (int s = 0; s < f->n_steps; s++) {
        int k = f->steps[s].operand;
        apply_step(f->steps[s].kind, y, k ? c->bp[k] : NULL, k ? c->bs[k] : 0, n);
    }
}

static int few_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    FewKernel *f = state;
    size_t n_in = (size_t)f->n_in;
    /* one allocation for the per-input arrays; the tiles live in the scratchpad */
    void *mem = malloc(n_in * (2 * sizeof(const float *) + 4 * sizeof(int64_t)));
    if (!mem) return err_set(err, ERR_RUNTIME, "GrappoFusedElementwise: out of memory");
    const float **p = mem;
    Chunk c = {.bp = p + n_in};
    int64_t *off = (int64_t *)(c.bp + n_in);
    c.bs = off + n_in;
    c.tile_off = c.bs + n_in;
    c.tile_rows = c.tile_off + n_in;
    c.tile = scratch;
    for (size_t k = 0; k < n_in; k++) {
        p[k] = tensor_data(f->held[k].buf ? &f->held[k] : &in[k]);
        c.tile_off[k] = -1;
        c.tile_rows[k] = 0;
    }
    float *y = tensor_mut(&out[0]);
    int64_t len = f->dim[f->rank - 1], rows = 1;
    for (int d = 0; d < f->rank - 1; d++) rows *= f->dim[d];
    /* short rows: chunks of several rows of the same second-to-last dim, up to FEW_BLOCK */
    int64_t inner = f->rank >= 2 ? f->dim[f->rank - 2] : 1, per = 1;
    if (len < FEW_BLOCK && inner > 1) per = FEW_BLOCK / len < inner ? FEW_BLOCK / len : inner;
    for (int64_t r = 0; r < rows;) {
        int64_t q = r % inner, nq = per > 1 ? (inner - q < per ? inner - q : per) : 1;
        for (size_t k = 0; k < n_in; k++) off[k] = 0;
        int64_t rem = r;
        for (int d = f->rank - 2; d >= 0; d--) {
            int64_t idx = rem % f->dim[d];
            rem /= f->dim[d];
            for (size_t k = 0; k < n_in; k++) off[k] += idx * f->stride[k][d];
        }
        if (nq > 1) {
            chunk_operands(f, p, off, nq, len, &c);
            run_steps(f, y + r * len, p[0] + off[0], &c, nq * len);
        } else {
            for (int64_t j0 = 0; j0 < len; j0 += FEW_BLOCK) { /* one (long) row in blocks */
                int64_t n = len - j0 < FEW_BLOCK ? len - j0 : FEW_BLOCK;
                for (size_t k = 1; k < n_in; k++) {
                    int64_t st = f->stride[k][f->rank - 1];
                    c.bp[k] = p[k] + off[k] + j0 * st;
                    c.bs[k] = st;
                }
                run_steps(f, y + r * len + j0, p[0] + off[0] + j0, &c, n);
            }
        }
        r += nq;
    }
    free(mem);
    return 0;
}

/* merged walk of out (= x0's shape) for every input (see the top comment); full[k][d] is
   input k's row-major element stride along x0's dim d (0 where it broadcasts) */
static void few_merge(FewKernel *f, const Shape *xs, int64_t (*full)[MAX_RANK]) {
    f->rank = 0;
    for (int d = 0; d < xs->rank; d++) {
        if (xs->dim[d] == 1) continue; /* contributes nothing to any offset */
        int r = f->rank;
        bool mergeable = r > 0; /* dims (r-1, d) merge when every input is linear across them */
        for (int k = 0; k < f->n_in && mergeable; k++)
            if (f->stride[k][r - 1] != full[k][d] * xs->dim[d]) mergeable = false;
        if (mergeable) {
            f->dim[r - 1] *= xs->dim[d];
            for (int k = 0; k < f->n_in; k++) f->stride[k][r - 1] = full[k][d];
        } else {
            f->dim[r] = xs->dim[d];
            for (int k = 0; k < f->n_in; k++) f->stride[k][r] = full[k][d];
            f->rank++;
        }
    }
    if (f->rank == 0) { /* all-ones shape: one element */
        f->rank = 1;
        f->dim[0] = 1;
        for (int k = 0; k < f->n_in; k++) f->stride[k][0] = 0;
    }
}

static void few_full_strides(const Graph *g, const Node *n, const Shape *xs, int64_t (*full)[MAX_RANK]) {
    int rank = xs->rank;
    for (int k = 0; k < n->n_inputs; k++) {
        const Shape *s = &node_input_value(g, n, k)->shape;
        int64_t contiguous = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int j = d - (rank - s->rank);
            int64_t dim = j >= 0 ? s->dim[j] : 1;
            full[k][d] = dim == 1 ? 0 : contiguous;
            contiguous *= dim;
        }
    }
}

int fast_compile_fused_elementwise(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    (void)ctx;
    if (n->op != OP_GRAPPO_FUSED_ELEMENTWISE || n->n_inputs < 1 || n->n_outputs != 1) return 0;
    const Shape *xs = &node_input_value(g, n, 0)->shape;
    if (n->outputs[0].dtype != DT_FLOAT || !shape_is_known(xs) || !shape_equal(xs, &n->outputs[0].shape) ||
        shape_numel(xs) <= 0)
        return 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const Value *v = node_input_value(g, n, i);
        if (v->dtype != DT_FLOAT || !shape_is_known(&v->shape) || v->shape.rank > xs->rank) return 0;
    }
    FewKernel *f = calloc(1, sizeof *f);
    if (!f) return err_set(err, ERR_RUNTIME, "out of memory");
    f->n_in = n->n_inputs;
    f->steps = malloc(sizeof *f->steps * FEW_MAX_STEPS);
    f->stride = calloc((size_t)f->n_in, sizeof *f->stride);
    f->held = calloc((size_t)f->n_in, sizeof *f->held);
    int64_t(*full)[MAX_RANK] = calloc((size_t)f->n_in, sizeof *full);
    if (!f->steps || !f->stride || !f->held || !full) {
        free(full);
        few_destroy(f);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    if (few_parse_program(n, f->steps, FEW_MAX_STEPS, &f->n_steps, err)) {
        free(full);
        few_destroy(f);
        return -1;
    }
    few_full_strides(g, n, xs, full);
    few_merge(f, xs, full);
    free(full);
    int64_t total = shape_numel(xs);
    bool inplace = true;
    for (int i = 0; i < n->n_inputs; i++) {
        const Value *v = node_input_value(g, n, i);
        if (v->known.buf) f->held[i] = tensor_share(&v->known);
        if (i > 0 && shape_numel(&v->shape) == total) inplace = false;
    }
    if (f->held[0].buf) inplace = false; /* constants are never overwritten */
    k->impl = "native:fused_elementwise";
    k->state = f;
    k->run = few_run;
    k->destroy = few_destroy;
    k->scratch_bytes = (size_t)f->n_in * FEW_BLOCK * sizeof(float); /* operand tiles */
    k->weight_bytes = 0; /* constant inputs are shared with the graph, not copied */
    k->inplace = inplace ? 0 : -1;
    return 1;
}
