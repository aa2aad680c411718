/* ref_matmul.c - reference kernels for MatMul, _FusedMatMul and BatchMatMul (V1, V2, V3).
 * All go through ref_gemm_f32 (ref_gemm.c): i-k-j loop order with a double accumulator row,
 * so the innermost loop walks a row of B and the accumulator contiguously. A transposed B is copied
 * to row-major [K, N] first; a transposed A is read with strides (one element per k). */
#include <stdlib.h>
#include <string.h>

#include "ref_nn.h"

/* count matrices [rows, cols] -> [cols, rows] */
static void transpose_batch(const float *src, float *dst, int64_t count, int64_t rows, int64_t cols) {
    for (int64_t b = 0; b < count; b++) {
        const float *s = src + b * rows * cols;
        float *d = dst + b * rows * cols;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
    }
}

static int matmul_run(const Node *n, const Tensor *in, Tensor *out, bool fused, Err *err) {
    if (ref_require_f32(n, &in[0], "a", err) || ref_require_f32(n, &in[1], "b", err) ||
        ref_require_f32(n, &out[0], "output", err))
        return -1;
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

    float *c = tensor_mut(&out[0]);
    const float *b = tensor_data(&in[1]);
    float *b_t = tb ? malloc((size_t)(k * nn + 1) * sizeof *b_t) : NULL;
    double *acc = malloc((size_t)nn * sizeof *acc);
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
    if (ref_require_f32(n, &in[0], "x", err) || ref_require_f32(n, &in[1], "y", err) ||
        ref_require_f32(n, &out[0], "output", err))
        return -1;
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
    const float *x = tensor_data(&in[0]), *y = tensor_data(&in[1]);
    int64_t y_count = tensor_numel(&in[1]) / (k * nn > 0 ? k * nn : 1);
    float *y_t = adj_y ? malloc((size_t)(tensor_numel(&in[1]) + 1) * sizeof *y_t) : NULL;
    double *acc = malloc((size_t)nn * sizeof *acc);
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
        ref_gemm_f32(m, nn, k, xm, adj_x ? 1 : k, adj_x ? m : 1, ym, c + ob * m * nn, acc);
    }
    rc = 0;
done:
    free(y_t);
    free(acc);
    return rc;
}
