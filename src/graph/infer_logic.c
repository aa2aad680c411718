/* infer_logic.c - shape/dtype inference and FLOPs for the comparisons (Equal ... GreaterEqual),
 * the logical ops (LogicalAnd, LogicalOr, LogicalNot), Select/SelectV2 and ZerosLike.
 *
 * Comparisons take two inputs of one supported dtype (bool only for Equal/NotEqual) and give
 * bool with numpy broadcasting; Equal/NotEqual with incompatible_shape_error = false give a
 * scalar (false / true) when the shapes do not broadcast, as TensorFlow does. Logical ops take
 * and give bool. Select (v1): `condition` has the shape of x, or is a scalar, or (x of rank
 * >= 1) is a vector of x.dim[0] choosing whole rows; x and y have one shape. SelectV2 broadcasts
 * all three. FLOPs: one per output element (ZerosLike: none). */
#include "infer.h"

static int64_t out_numel(const Node *n) {
    if (n->n_outputs < 1) return 0;
    int64_t c = shape_numel(&n->outputs[0].shape);
    return c > 0 ? c : 0;
}

int infer_compare(Graph *g, Node *n, Err *err) {
    int a = in_dtype(g, n, 0), b = in_dtype(g, n, 1);
    if (a != b) return err_set(err, ERR_INPUT, "input dtypes differ: %s vs %s", dtype_name(a), dtype_name(b));
    bool eq = n->op == OP_EQUAL || n->op == OP_NOT_EQUAL;
    if (a == DT_BOOL && !eq) return err_set(err, ERR_INPUT, "dtype bool is not supported");
    Shape out;
    Err e2;
    if (infer_broadcast(in_shape(g, n, 0), in_shape(g, n, 1), &out, &e2)) {
        if (!eq || node_attr_b(n, "incompatible_shape_error", true)) { *err = e2; return -1; }
        out = shape_scalar();
    }
    return infer_set_out(n, 0, DT_BOOL, &out, err);
}

int64_t flops_compare(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

int infer_logical(Graph *g, Node *n, Err *err) {
    for (int i = 0; i < n->n_inputs; i++)
        if (in_dtype(g, n, i) != DT_BOOL)
            return err_set(err, ERR_INPUT, "input %d must be bool, got %s", i, dtype_name(in_dtype(g, n, i)));
    if (n->op == OP_LOGICAL_NOT) return infer_set_out(n, 0, DT_BOOL, in_shape(g, n, 0), err);
    Shape out;
    if (infer_broadcast(in_shape(g, n, 0), in_shape(g, n, 1), &out, err)) return -1;
    return infer_set_out(n, 0, DT_BOOL, &out, err);
}

int64_t flops_logical(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

int infer_select(Graph *g, Node *n, Err *err) {
    int c = in_dtype(g, n, 0), x = in_dtype(g, n, 1), y = in_dtype(g, n, 2);
    if (c != DT_BOOL) return err_set(err, ERR_INPUT, "condition must be bool, got %s", dtype_name(c));
    if (x != y) return err_set(err, ERR_INPUT, "x and y dtypes differ: %s vs %s", dtype_name(x), dtype_name(y));
    const Shape *cs = in_shape(g, n, 0), *xs = in_shape(g, n, 1), *ys = in_shape(g, n, 2);
    char a[96], b[96];
    if (n->op == OP_SELECT_V2) {
        Shape xy, out;
        if (infer_broadcast(xs, ys, &xy, err) || infer_broadcast(cs, &xy, &out, err)) return -1;
        return infer_set_out(n, 0, x, &out, err);
    }
    if (!shape_equal(xs, ys))
        return err_set(err, ERR_INPUT, "x %s and y %s must have the same shape", shape_str(xs, a, sizeof a), shape_str(ys, b, sizeof b));
    bool ok = shape_equal(cs, xs) || cs->rank == 0 || (xs->rank >= 1 && cs->rank == 1 && cs->dim[0] == xs->dim[0]);
    if (!ok)
        return err_set(err, ERR_INPUT, "condition %s must be a scalar, have x's shape %s, or be a vector of its first dimension",
                       shape_str(cs, a, sizeof a), shape_str(xs, b, sizeof b));
    return infer_set_out(n, 0, x, xs, err);
}

int64_t flops_select(const Graph *g, const Node *n) { (void)g; return out_numel(n); }

int infer_zeros_like(Graph *g, Node *n, Err *err) {
    return infer_set_out(n, 0, in_dtype(g, n, 0), in_shape(g, n, 0), err);
}

int64_t flops_zeros_like(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
