/* infer_reduce.c - shape/dtype inference and FLOPs for the reductions (Mean, Sum, Max, Min,
 * Prod) and ArgMax.
 *
 * The axes (input 1) must be known at inference time (a Const or folded shape math): int32 or
 * int64, scalar or vector, negative values count from the end, a repeated axis is an error, an
 * empty list reduces nothing. keep_dims (default false) keeps reduced dims as 1.
 * ArgMax: axis is one integer; output_type int64 (default) or int32; the axis must not be empty.
 * FLOPs: one per input element. */
#include "infer.h"

static bool reducible_dtype(int dt) {
    return dtype_is_float(dt) || dt == DT_INT8 || dt == DT_UINT8 || dt == DT_INT32 || dt == DT_INT64;
}

/* reads input 1 as axes of a rank-`rank` tensor into reduced[] */
static int known_axes(const Graph *g, const Node *n, int rank, bool *reduced, Err *err) {
    int adt = in_dtype(g, n, 1);
    if (adt != DT_INT32 && adt != DT_INT64) return err_set(err, ERR_INPUT, "axes must be int32 or int64, got %s", dtype_name(adt));
    if (in_shape(g, n, 1)->rank > 1) return err_set(err, ERR_INPUT, "axes must be a scalar or a vector");
    int64_t axes[64];
    int count = infer_known_i64(g, n, 1, axes, 64, err);
    if (count < 0) return err_prefix(err, "axes");
    for (int d = 0; d < rank; d++) reduced[d] = false;
    for (int i = 0; i < count; i++) {
        int a;
        if (infer_axis(axes[i], rank, &a, err)) return err_prefix(err, "axes");
        if (reduced[a]) return err_set(err, ERR_INPUT, "axis %lld is listed twice", (long long)axes[i]);
        reduced[a] = true;
    }
    return 0;
}

int infer_reduce(Graph *g, Node *n, Err *err) {
    int dt = in_dtype(g, n, 0);
    if (!reducible_dtype(dt)) return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(dt));
    const Shape *xs = in_shape(g, n, 0);
    bool reduced[MAX_RANK];
    if (known_axes(g, n, xs->rank, reduced, err)) return -1;
    bool keep_dims = node_attr_b(n, "keep_dims", false);
    Shape out = {.rank = 0};
    for (int d = 0; d < xs->rank; d++) {
        if (!reduced[d]) out.dim[out.rank++] = xs->dim[d];
        else if (keep_dims) out.dim[out.rank++] = 1;
    }
    return infer_set_out(n, 0, dt, &out, err);
}

static int64_t in_numel(const Graph *g, const Node *n) {
    if (n->n_inputs < 1) return 0;
    int64_t count = shape_numel(in_shape(g, n, 0));
    return count > 0 ? count : 0;
}

int64_t flops_reduce(const Graph *g, const Node *n) { return in_numel(g, n); }

int infer_argmax(Graph *g, Node *n, Err *err) {
    int dt = in_dtype(g, n, 0);
    if (!reducible_dtype(dt)) return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(dt));
    int adt = in_dtype(g, n, 1);
    if (adt != DT_INT32 && adt != DT_INT64) return err_set(err, ERR_INPUT, "axis must be int32 or int64, got %s", dtype_name(adt));
    int out_dt = node_attr_type(n, "output_type", DT_INT64);
    if (out_dt != DT_INT32 && out_dt != DT_INT64)
        return err_set(err, ERR_INPUT, "output_type must be int32 or int64, got %s", dtype_name(out_dt));
    const Shape *xs = in_shape(g, n, 0);
    if (xs->rank < 1) return err_set(err, ERR_INPUT, "input must be at least 1-D");
    int64_t axis_v[2];
    int count = infer_known_i64(g, n, 1, axis_v, 2, err);
    if (count < 0) return err_prefix(err, "axis");
    if (count != 1) return err_set(err, ERR_INPUT, "axis must be a single integer, got %d values", count);
    int axis = 0;
    if (infer_axis(axis_v[0], xs->rank, &axis, err)) return err_prefix(err, "axis");
    if (xs->dim[axis] == 0) return err_set(err, ERR_INPUT, "axis %d has size 0: nothing to take the maximum of", axis);
    Shape out = {.rank = 0};
    for (int d = 0; d < xs->rank; d++)
        if (d != axis) out.dim[out.rank++] = xs->dim[d];
    return infer_set_out(n, 0, out_dt, &out, err);
}

int64_t flops_argmax(const Graph *g, const Node *n) { return in_numel(g, n); }
