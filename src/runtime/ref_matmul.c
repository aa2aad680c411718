/* ref_matmul.c - reference kernels for MatMul, _FusedMatMul and BatchMatMul (V1, V2, V3).
 * float32 goes through ref_gemm_f32 (ref_gemm.c): i-k-j loop order with a double accumulator row,
 * so the innermost loop walks a row of B and the accumulator contiguously. A transposed B is copied
 * to row-major [K, N] first; a transposed A is read with strides (one element per k).
 * int32 (MatMul and BatchMatMul; TensorFlow's CPU kernels take it, and tfjs models use it, e.g.
 * tf.repeat written as a product with a ones matrix) is computed as TensorFlow's Eigen kernel does
 * in int32, with two's-complement wrap-around on overflow (done in uint32, where it is defined). */
#include <stdlib.h>
#include <string.h>

#include "ref_nn.h"

/* count matrices [rows, cols] -> [cols, rows] of 4-byte elements (float32 or int32, as bits) */
static void transpose_batch(const void *src_v, void *dst_v, int64_t count, int64_t rows, int64_t cols) {
    const uint32_t *src = src_v;
    uint32_t *dst = dst_v;
    for (int64_t b = 0; b < count; b++) {
        const uint32_t *s = src + b * rows * cols;
        uint32_t *d = dst + b * rows * cols;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
    }
}

/* c[m, n] = a · b in int32 with wrap-around; a(i, p) = a[i * a_row + p * a_col], b row-major [k, n] */
static void gemm_i32(int64_t m, int64_t n, int64_t k, const int32_t *a, int64_t a_row, int64_t a_col, const int32_t *b,
                     int32_t *c, uint32_t *acc) {
    for (int64_t i = 0; i < m; i++) {
        memset(acc, 0, (size_t)n * sizeof *acc);
        for (int64_t p = 0; p < k; p++) {
            const uint32_t x = (uint32_t)a[i * a_row + p * a_col];
            const int32_t *br = b + p * n;
            for (int64_t j = 0; j < n; j++) acc[j] += x * (uint32_t)br[j];
        }
        for (int64_t j = 0; j < n; j++) c[i * n + j] = (int32_t)acc[j]; /* two's complement (C11 impl.-defined, gcc: modulo) */
    }
}

/* float32, or (not fused) int32 throughout: the dtypes the kernels below compute */
static int require_operands(const Node *n, const Tensor *in, const Tensor *out, const char *na, const char *nb, bool fused,
                            Err *err) {
    if (!fused && in[0].dtype == DT_INT32 && in[1].dtype == DT_INT32 && out[0].dtype == DT_INT32) {
        if (!tensor_has_data(&in[0]) || !tensor_has_data(&in[1]))
            return err_set(err, ERR_RUNTIME, "%s: an operand has no data", n->op_name);
        return 0;
    }
    if (ref_require_f32(n, &in[0], na, err) || ref_require_f32(n, &in[1], nb, err) ||
        ref_require_f32(n, &out[0], "output", err))
        return -1;
    return 0;
}

static int matmul_run(const Node *n, const Tensor *in, Tensor *out, bool fused, Err *err) {
    if (require_operands(n, in, out, "a", "b", fused, err)) return -1;
    const bool i32 = in[0].dtype == DT_INT32;
    const Shape *as = &in[0].shape, *bs = &in[1].shape;
    char sa[96], sb[96];
    bool ta = node_attr_b(n, "transpose_a", false), tb = node_attr_b(n, "transpose_b", false);
    if (as->rank != 2 || bs->rank != 2 || as->dim[ta ? 0 : 1] != bs->dim[tb ? 1 : 0])
        return err_set(err, ERR_RUNTIME, "%s: operands %s%s and %s%s do not multiply", n->op_name, shape_str(as, sa, sizeof sa),
                       ta ? "^T" : "", shape_str(bs, sb, sizeof sb), tb ? "^T" : "");
    int64_t m = as->dim[ta ? 1 : 0], k = as->dim[ta ? 0 : 1], nn = bs->dim[tb ? 0 : 1];
    Shape out_shape = shape_make(2, (int64_t[]){m, nn});
    if (ref_require_shape(&out[0], &out_shape, err)) return -1;
    if (m == 0 || nn == 0) return 0;
    Epilogue ep = {0};
    if (fused && ref_epilogue_init(&ep, n, FUSED_HOST_MATMUL, in, &out_shape, 1, err)) return -1;

    void *c = tensor_mut(&out[0]);
    const void *b = tensor_data(&in[1]);
    float *b_t = tb ? malloc((size_t)(k * nn + 1) * sizeof *b_t) : NULL;
    double *acc = malloc((size_t)(nn + 1) * sizeof *acc); /* also holds the int32 path's uint32 row */
    int rc = -1;
    if (!c || !acc || (tb && !b_t)) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    if (tb) {
        transpose_batch(b, b_t, 1, nn, k);
        b = b_t;
    }
    /* a(i, p): row-major [m, k], or [k, m] when transposed */
    if (i32)
        gemm_i32(m, nn, k, tensor_data(&in[0]), ta ? 1 : k, ta ? m : 1, b, c, (uint32_t *)acc);
    else
        ref_gemm_f32(m, nn, k, tensor_data(&in[0]), ta ? 1 : k, ta ? m : 1, b, c, acc);
    if (fused) ref_epilogue_apply(&ep, c, m, 1);
    rc = 0;
done:
    free(b_t);
    free(acc);
    ref_epilogue_free(&ep);
    return rc;
}

int ref_matmul(const Node *n, const Tensor *in, Tensor *out, Err *err) { return matmul_run(n, in, out, false, err); }
int ref_fused_matmul(const Node *n, const Tensor *in, Tensor *out, Err *err) { return matmul_run(n, in, out, true, err); }

/* linear index into an operand's batch dims (right-aligned, size-1 dims broadcast) of the
   output batch element whose multi-index is idx[0..rank) */
static int64_t batch_offset(const Shape *op, const int64_t *idx, int out_batch_rank) {
    int r = op->rank - 2;
    int64_t off = 0;
    for (int d = 0; d < r; d++) {
        int64_t i = idx[out_batch_rank - r + d];
        off = off * op->dim[d] + (op->dim[d] == 1 ? 0 : i);
    }
    return off;
}

int ref_batch_matmul(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    if (require_operands(n, in, out, "x", "y", false, err)) return -1;
    const bool i32 = in[0].dtype == DT_INT32;
    const Shape *xs = &in[0].shape, *ys = &in[1].shape, *os = &out[0].shape;
    char sa[96], sb[96], sc[96];
    bool adj_x = node_attr_b(n, "adj_x", false), adj_y = node_attr_b(n, "adj_y", false);
    if (xs->rank < 2 || ys->rank < 2 || os->rank != (xs->rank > ys->rank ? xs->rank : ys->rank))
        return err_set(err, ERR_RUNTIME, "%s: shapes %s x %s -> %s do not fit", n->op_name, shape_str(xs, sa, sizeof sa),
                       shape_str(ys, sb, sizeof sb), shape_str(os, sc, sizeof sc));
    int br = os->rank - 2;
    int64_t m = xs->dim[xs->rank - (adj_x ? 1 : 2)], k = xs->dim[xs->rank - (adj_x ? 2 : 1)];
    int64_t nn = ys->dim[ys->rank - (adj_y ? 2 : 1)];
    /* the expected output: broadcast batch dims, then [m, n] */
    Shape expect = {.rank = os->rank};
    int64_t batches = 1;
    for (int d = 0; d < br; d++) {
        int dx = d - (br - (xs->rank - 2)), dy = d - (br - (ys->rank - 2));
        int64_t ex = dx >= 0 ? xs->dim[dx] : 1, ey = dy >= 0 ? ys->dim[dy] : 1;
        if (ex != ey && ex != 1 && ey != 1)
            return err_set(err, ERR_RUNTIME, "%s: batch dims of %s and %s do not broadcast", n->op_name,
                           shape_str(xs, sa, sizeof sa), shape_str(ys, sb, sizeof sb));
        expect.dim[d] = ex == 1 ? ey : ex;
        batches *= expect.dim[d];
    }
    expect.dim[br] = m;
    expect.dim[br + 1] = nn;
    if (ys->dim[ys->rank - (adj_y ? 1 : 2)] != k)
        return err_set(err, ERR_RUNTIME, "%s: inner dimensions of %s and %s differ", n->op_name, shape_str(xs, sa, sizeof sa),
                       shape_str(ys, sb, sizeof sb));
    if (ref_require_shape(&out[0], &expect, err)) return -1;
    if (shape_numel(&expect) == 0) return 0;

    float *c = tensor_mut(&out[0]);
    const float *x = tensor_data(&in[0]), *y = tensor_data(&in[1]); /* int32 as bits: same element size */
    int64_t y_count = tensor_numel(&in[1]) / (k * nn > 0 ? k * nn : 1);
    float *y_t = adj_y ? malloc((size_t)(tensor_numel(&in[1]) + 1) * sizeof *y_t) : NULL;
    double *acc = malloc((size_t)(nn + 1) * sizeof *acc);
    int rc = -1;
    if (!c || !acc || (adj_y && !y_t)) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    if (adj_y) { /* each [n, k] matrix to [k, n] */
        transpose_batch(y, y_t, y_count, nn, k);
        y = y_t;
    }
    int64_t idx[MAX_RANK] = {0};
    for (int64_t ob = 0; ob < batches; ob++) {
        /* multi-index of output batch ob (row-major) */
        int64_t t = ob;
        for (int d = br - 1; d >= 0; d--) {
            idx[d] = t % expect.dim[d];
            t /= expect.dim[d];
        }
        const float *xm = x + batch_offset(xs, idx, br) * m * k;
        const float *ym = y + batch_offset(ys, idx, br) * k * nn;
        if (i32)
            gemm_i32(m, nn, k, (const int32_t *)xm, adj_x ? 1 : k, adj_x ? m : 1, (const int32_t *)ym,
                     (int32_t *)(c + ob * m * nn), (uint32_t *)acc);
        else
            ref_gemm_f32(m, nn, k, xm, adj_x ? 1 : k, adj_x ? m : 1, ym, c + ob * m * nn, acc);
    }
    rc = 0;
done:
    free(y_t);
    free(acc);
    return rc;
}
