/* native_binary.c - plain C kernels for the float32 broadcasting binary ops (Add, AddV2, Sub,
 * Mul, RealDiv, Maximum, Minimum, SquaredDifference) in the cases oneDNN 2.6's binary
 * declines: both operands broadcast (LayerNorm's Mul(rstd [R,1], gamma [H]), [2,1,4] +
 * [2,3,1]) and a broadcast FIRST operand of a non-commutative op (Sub(beta [H], x [R,H]),
 * Sub(1.0, mask)). The plan asks this family after fast_compile_binary, so oneDNN keeps every
 * case it can do; called directly, this family computes any float32 case.
 *
 * The output is walked with the reference kernels' broadcast mapping (ref_bcast.h): size-1
 * dims dropped, neighbouring dims merged while both operands stay linear across them, a
 * per-dim element stride per operand that is 0 along broadcast dims. The innermost merged dim
 * is contiguous in the output; along it each operand either advances by 1 or stays put, so a
 * row is one of three plain loops: vector op vector, scalar op vector, vector op scalar
 * (a scalar operand, a broadcast row [H] against [R,H], a broadcast column [R,1] against
 * [R,H] all land here). Rows are visited with an odometer, not a division per row.
 *
 * Exactness: the reference computes in double and rounds once. For + - * / of two floats that
 * equals the float operation (double has more than 2*24+2 bits, so rounding twice is the same
 * as rounding once), so those loops run in float and are bit-identical to the reference.
 * SquaredDifference is not: (a-b)^2 rounded once from double differs from squaring the
 * rounded float difference, so it computes (double)a - b and its square in double per
 * element, exactly as the reference does. Maximum / Minimum return NaN when either operand is
 * NaN, and otherwise the same operand the reference picks (so signed zeros match too).
 *
 * Vectorization: as in native_eltwise.c, blocks of NATIVE_BLOCK elements with an ivdep
 * pragma (an in-place output is exactly the full-shape operand, never a shifted
 * overlap) so gcc -O2 vectorizes them, and an AVX2 clone on x86-64 chosen at load time.
 * Single-threaded. The output may overwrite a non-constant operand of the output's shape
 * (k->inplace). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fast.h"
#include "ref_bcast.h"

#include "native_simd.h"

static inline float op_add(float a, float b) { return a + b; }
static inline float op_sub(float a, float b) { return a - b; }
static inline float op_mul(float a, float b) { return a * b; }
static inline float op_div(float a, float b) { return a / b; }
static inline float op_max(float a, float b) { return a != a || b != b ? NAN : a > b ? a : b; }
static inline float op_min(float a, float b) { return a != a || b != b ? NAN : a < b ? a : b; }
static inline float op_sqd(float a, float b) {
    double d = (double)a - (double)b;
    return (float)(d * d);
}

/* One row of n outputs: y[j] = OP(a[j * sa], b[j * sb]) with sa, sb in {0, 1} (not both 0
   unless n == 1). Each case is a loop the vectorizer takes: blocks, then a scalar tail. */
#define DEFINE_ROW(NAME, OP)                                                                         \
    NATIVE_CLONES static void NAME(const float *a, int64_t sa, const float *b, int64_t sb, float *y,  \
                                   int64_t n) {                                                      \
        int64_t i = 0;                                                                               \
        if (sa && sb) {                                                                              \
            for (; i + NATIVE_BLOCK <= n; i += NATIVE_BLOCK) {                                       \
                NATIVE_IVDEP                                                                         \
                for (int j = 0; j < NATIVE_BLOCK; j++) y[i + j] = OP(a[i + j], b[i + j]);            \
            }                                                                                        \
            for (; i < n; i++) y[i] = OP(a[i], b[i]);                                                \
        } else if (sb) {                                                                             \
            const float a0 = a[0];                                                                   \
            for (; i + NATIVE_BLOCK <= n; i += NATIVE_BLOCK) {                                       \
                NATIVE_IVDEP                                                                         \
                for (int j = 0; j < NATIVE_BLOCK; j++) y[i + j] = OP(a0, b[i + j]);                  \
            }                                                                                        \
            for (; i < n; i++) y[i] = OP(a0, b[i]);                                                  \
        } else if (sa) {                                                                             \
            const float b0 = b[0];                                                                   \
            for (; i + NATIVE_BLOCK <= n; i += NATIVE_BLOCK) {                                       \
                NATIVE_IVDEP                                                                         \
                for (int j = 0; j < NATIVE_BLOCK; j++) y[i + j] = OP(a[i + j], b0);                  \
            }                                                                                        \
            for (; i < n; i++) y[i] = OP(a[i], b0);                                                  \
        } else {                                                                                     \
            const float v = OP(a[0], b[0]);                                                          \
            for (; i < n; i++) y[i] = v;                                                             \
        }                                                                                            \
    }

DEFINE_ROW(row_add, op_add)
DEFINE_ROW(row_sub, op_sub)
DEFINE_ROW(row_mul, op_mul)
DEFINE_ROW(row_div, op_div)
DEFINE_ROW(row_max, op_max)
DEFINE_ROW(row_min, op_min)
DEFINE_ROW(row_sqd, op_sqd)

typedef void (*RowFn)(const float *a, int64_t sa, const float *b, int64_t sb, float *y, int64_t n);

typedef struct NativeBinary {
    RowFn row;
    Bcast bc;        /* the collapsed walk of the output */
    Tensor held[2];  /* known operands (buf NULL when computed at run time) */
} NativeBinary;

static void binary_destroy(void *state) {
    NativeBinary *b = state;
    if (!b) return;
    tensor_release(&b->held[0]);
    tensor_release(&b->held[1]);
    free(b);
}

static int binary_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    (void)scratch;
    const NativeBinary *nb = state;
    const Bcast *bc = &nb->bc;
    const float *a = nb->held[0].buf ? tensor_data(&nb->held[0]) : tensor_data(&in[0]);
    const float *b = nb->held[1].buf ? tensor_data(&nb->held[1]) : tensor_data(&in[1]);
    /* out[0].buf->data, not tensor_mut: an in-place output shares an input's buffer */
    float *y = out[0].buf ? out[0].buf->data : NULL;
    if (!a || !b || !y) return err_set(err, ERR_RUNTIME, "native binary: missing input or output data");
    int outer = bc->rank - 1; /* dims walked by the odometer; the last one is the row */
    int64_t len = bcast_row_len(bc), rows = bcast_rows(bc);
    int64_t sa = bcast_step(bc, 0), sb = bcast_step(bc, 1);
    int64_t idx[MAX_RANK] = {0}, oa = 0, ob = 0;
    for (int64_t r = 0; r < rows; r++) {
        nb->row(a + oa, sa, b + ob, sb, y + r * len, len);
        /* next row: advance the outer index like an odometer, keeping the offsets in step */
        for (int d = outer - 1; d >= 0; d--) {
            oa += bc->stride[0][d];
            ob += bc->stride[1][d];
            if (++idx[d] < bc->dim[d]) break;
            oa -= bc->stride[0][d] * idx[d];
            ob -= bc->stride[1][d] * idx[d];
            idx[d] = 0;
        }
    }
    return 0;
}

static RowFn row_for(OpId op, const char **impl) {
    switch (op) {
    case OP_ADD: *impl = "native:add"; return row_add;
    case OP_ADD_V2: *impl = "native:add"; return row_add;
    case OP_SUB: *impl = "native:sub"; return row_sub;
    case OP_MUL: *impl = "native:mul"; return row_mul;
    case OP_REAL_DIV: *impl = "native:div"; return row_div;
    case OP_MAXIMUM: *impl = "native:max"; return row_max;
    case OP_MINIMUM: *impl = "native:min"; return row_min;
    case OP_SQUARED_DIFFERENCE: *impl = "native:squared-difference"; return row_sqd;
    default: return NULL; /* Pow, BiasAdd and every non-binary op */
    }
}

/* true when operand shape s (which broadcasts to out) has out's dims: an operand as large as
   the output cannot be broadcast along any dim, so its elements sit where the output's do and
   the output may overwrite it in place */
static bool same_layout(const Shape *s, const Shape *out) {
    return shape_numel(s) == shape_numel(out);
}

int fast_compile_native_binary(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    (void)ctx;
    const char *impl = NULL;
    RowFn row = row_for(n->op, &impl);
    if (!row || n->n_inputs != 2 || n->n_outputs != 1) return 0;
    const Value *v[2] = {node_input_value(g, n, 0), node_input_value(g, n, 1)};
    const Value *y = &n->outputs[0];
    if (y->dtype != DT_FLOAT || v[0]->dtype != DT_FLOAT || v[1]->dtype != DT_FLOAT) return 0;
    if (!shape_is_known(&y->shape) || !shape_is_known(&v[0]->shape) || !shape_is_known(&v[1]->shape)) return 0;
    if (shape_numel(&y->shape) <= 0) return 0;
    NativeBinary *nb = calloc(1, sizeof *nb);
    if (!nb) return err_set(err, ERR_RUNTIME, "out of memory");
    const Shape *shapes[2] = {&v[0]->shape, &v[1]->shape};
    if (bcast_init(&nb->bc, &y->shape, shapes, 2)) { /* inference would have caught this */
        free(nb);
        return 0;
    }
    nb->row = row;
    int inplace = -1;
    for (int i = 0; i < 2; i++) {
        if (v[i]->known.buf) nb->held[i] = tensor_share(&v[i]->known);
        else if (inplace < 0 && same_layout(&v[i]->shape, &y->shape)) inplace = i;
    }
    k->impl = impl;
    k->state = nb;
    k->run = binary_run;
    k->destroy = binary_destroy;
    k->scratch_bytes = 0;
    k->weight_bytes = 0; /* constants are shared with the graph, not copied */
    k->inplace = inplace;
    return 1;
}
