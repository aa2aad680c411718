/* infer_matmul.c - shape/dtype inference and FLOPs for MatMul, _FusedMatMul and
 * BatchMatMul / BatchMatMulV2 / BatchMatMulV3. */
#include "infer.h"
#include "nn_attrs.h"

/* [M, N] from a and b with the transpose flags; K must agree */
static int matmul_shape(const Shape *a, const Shape *b, bool ta, bool tb, Shape *out, Err *err) {
    char sa[96], sb[96];
    if (a->rank != 2 || b->rank != 2)
        return err_set(err, ERR_INPUT, "MatMul operands must be 2-D, got %s and %s", shape_str(a, sa, sizeof sa),
                       shape_str(b, sb, sizeof sb));
    int64_t m = a->dim[ta ? 1 : 0], ka = a->dim[ta ? 0 : 1];
    int64_t kb = b->dim[tb ? 1 : 0], nn = b->dim[tb ? 0 : 1];
    if (ka != kb)
        return err_set(err, ERR_INPUT, "inner dimensions differ: %s%s x %s%s (%lld vs %lld)", shape_str(a, sa, sizeof sa),
                       ta ? "^T" : "", shape_str(b, sb, sizeof sb), tb ? "^T" : "", (long long)ka, (long long)kb);
    *out = shape_make(2, (int64_t[]){m, nn});
    return 0;
}

int infer_matmul(Graph *g, Node *n, Err *err) {
    Shape out;
    if (nn_same_dtype(g, n, 0, 1, err)) return -1;
    if (matmul_shape(in_shape(g, n, 0), in_shape(g, n, 1), node_attr_b(n, "transpose_a", false),
                     node_attr_b(n, "transpose_b", false), &out, err))
        return -1;
    return infer_set_out(n, 0, in_dtype(g, n, 0), &out, err);
}

/* 2 per multiply-add: M*N outputs of K products each */
static int64_t matmul_flops(const Graph *g, const Node *n) {
    const Shape *a = in_shape(g, n, 0);
    int64_t out = shape_numel(&n->outputs[0].shape);
    if (a->rank != 2 || out < 0) return 0;
    return 2 * out * a->dim[node_attr_b(n, "transpose_a", false) ? 0 : 1];
}

int64_t flops_matmul(const Graph *g, const Node *n) { return matmul_flops(g, n); }

int infer_fused_matmul(Graph *g, Node *n, Err *err) {
    FusedSpec spec;
    if (nn_fused_spec(n, FUSED_HOST_MATMUL, &spec, err)) return -1;
    if (infer_matmul(g, n, err)) return -1;
    return nn_check_fused_args(g, n, &spec, &n->outputs[0].shape, 1, err);
}

int64_t flops_fused_matmul(const Graph *g, const Node *n) {
    FusedSpec spec;
    int64_t flops = matmul_flops(g, n);
    if (nn_fused_spec(n, FUSED_HOST_MATMUL, &spec, NULL)) return flops;
    return flops + nn_epilogue_flops(&spec) * shape_numel(&n->outputs[0].shape);
}

/* BatchMatMul*: x [..., M, K] (adj_x: [..., K, M]) times y [..., K, N] (adj_y: [..., N, K]).
   V1 needs identical batch dims; V2 and V3 broadcast them numpy-style. */
int infer_batch_matmul(Graph *g, Node *n, Err *err) {
    const Shape *x = in_shape(g, n, 0), *y = in_shape(g, n, 1);
    char sa[96], sb[96];
    if (x->rank < 2 || y->rank < 2)
        return err_set(err, ERR_INPUT, "operands must have rank >= 2, got %s and %s", shape_str(x, sa, sizeof sa),
                       shape_str(y, sb, sizeof sb));
    bool adj_x = node_attr_b(n, "adj_x", false), adj_y = node_attr_b(n, "adj_y", false);
    int64_t m = x->dim[x->rank - (adj_x ? 1 : 2)], kx = x->dim[x->rank - (adj_x ? 2 : 1)];
    int64_t ky = y->dim[y->rank - (adj_y ? 1 : 2)], nn = y->dim[y->rank - (adj_y ? 2 : 1)];
    if (kx != ky)
        return err_set(err, ERR_INPUT, "inner dimensions differ: %s%s x %s%s (%lld vs %lld)", shape_str(x, sa, sizeof sa),
                       adj_x ? " (adj_x)" : "", shape_str(y, sb, sizeof sb), adj_y ? " (adj_y)" : "", (long long)kx,
                       (long long)ky);
    Shape bx = shape_make(x->rank - 2, x->dim), by = shape_make(y->rank - 2, y->dim), batch;
    if (n->op == OP_BATCH_MATMUL) {
        if (!shape_equal(&bx, &by))
            return err_set(err, ERR_INPUT, "BatchMatMul needs equal batch dimensions, got %s and %s (BatchMatMulV2 broadcasts)",
                           shape_str(x, sa, sizeof sa), shape_str(y, sb, sizeof sb));
        batch = bx;
    } else if (infer_broadcast(&bx, &by, &batch, err)) {
        return err_prefix(err, "batch dimensions of %s and %s", shape_str(x, sa, sizeof sa), shape_str(y, sb, sizeof sb));
    }
    if (batch.rank + 2 > MAX_RANK) return err_set(err, ERR_INPUT, "result rank exceeds %d", MAX_RANK);
    Shape out = batch;
    out.rank = batch.rank + 2;
    out.dim[batch.rank] = m;
    out.dim[batch.rank + 1] = nn;
    int dtype = in_dtype(g, n, 0);
    if (n->op == OP_BATCH_MATMUL_V3) dtype = node_attr_type(n, "Tout", dtype);
    else if (nn_same_dtype(g, n, 0, 1, err)) return -1;
    return infer_set_out(n, 0, dtype, &out, err);
}

int64_t flops_batch_matmul(const Graph *g, const Node *n) {
    const Shape *x = in_shape(g, n, 0);
    int64_t out = shape_numel(&n->outputs[0].shape);
    if (x->rank < 2 || out < 0) return 0;
    return 2 * out * x->dim[x->rank - (node_attr_b(n, "adj_x", false) ? 2 : 1)];
}
