/* infer_gather.c - shape inference for the indexed ops GatherV2 and OneHot (FLOPs: none). */
#include "infer.h"

static bool is_index_dtype(int dt) { return dt == DT_INT32 || dt == DT_INT64; }

/* GatherV2: output = params[:axis] + indices[batch_dims:] + params[axis+1:] */
int infer_gather(Graph *g, Node *n, Err *err) {
    const Shape *params = in_shape(g, n, 0), *indices = in_shape(g, n, 1);
    char sa[128], sb[128];
    if (!is_index_dtype(in_dtype(g, n, 1)))
        return err_set(err, ERR_INPUT, "GatherV2 indices must be int32 or int64, got %s", dtype_name(in_dtype(g, n, 1)));
    int64_t axis_v[1];
    int k = infer_known_i64(g, n, 2, axis_v, 1, err);
    if (k < 0) return err_prefix(err, "GatherV2 axis");
    if (k != 1) return err_set(err, ERR_INPUT, "GatherV2 axis must be a single value, got %d", k);
    if (params->rank == 0) return err_set(err, ERR_INPUT, "GatherV2 params must be at least a vector");
    int axis = 0;
    if (infer_axis(axis_v[0], params->rank, &axis, err)) return err_prefix(err, "GatherV2 axis");
    int64_t batch_dims = node_attr_i(n, "batch_dims", 0);
    if (batch_dims < 0) batch_dims += indices->rank;
    if (batch_dims < 0 || batch_dims > indices->rank)
        return err_set(err, ERR_INPUT, "GatherV2 batch_dims %lld is not in [%d, %d]",
                       (long long)node_attr_i(n, "batch_dims", 0), -indices->rank, indices->rank);
    if (batch_dims > axis)
        return err_set(err, ERR_INPUT, "GatherV2 batch_dims %lld must be at most axis %d", (long long)batch_dims, axis);
    for (int i = 0; i < batch_dims; i++)
        if (params->dim[i] != indices->dim[i])
            return err_set(err, ERR_INPUT, "GatherV2 params %s and indices %s differ in batch dimension %d",
                           shape_str(params, sa, sizeof sa), shape_str(indices, sb, sizeof sb), i);
    int rank = params->rank - 1 + indices->rank - (int)batch_dims;
    if (rank > MAX_RANK) return err_set(err, ERR_INPUT, "GatherV2 output rank %d exceeds %d", rank, MAX_RANK);
    Shape s = {.rank = 0};
    for (int i = 0; i < axis; i++) s.dim[s.rank++] = params->dim[i];
    for (int i = (int)batch_dims; i < indices->rank; i++) s.dim[s.rank++] = indices->dim[i];
    for (int i = axis + 1; i < params->rank; i++) s.dim[s.rank++] = params->dim[i];
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

/* OneHot: indices shape with `depth` inserted at axis (-1 = last); dtype of on_value */
int infer_one_hot(Graph *g, Node *n, Err *err) {
    const Shape *indices = in_shape(g, n, 0);
    int dt = in_dtype(g, n, 0);
    if (!is_index_dtype(dt) && dt != DT_UINT8 && dt != DT_INT8)
        return err_set(err, ERR_INPUT, "OneHot indices must be uint8, int8, int32 or int64, got %s", dtype_name(dt));
    int64_t depth[1];
    int k = infer_known_i64(g, n, 1, depth, 1, err);
    if (k < 0) return err_prefix(err, "OneHot depth");
    if (k != 1 || in_shape(g, n, 1)->rank != 0) return err_set(err, ERR_INPUT, "OneHot depth must be a scalar");
    if (depth[0] < 0) return err_set(err, ERR_INPUT, "OneHot depth must be non-negative, got %lld", (long long)depth[0]);
    int on = in_dtype(g, n, 2), off = in_dtype(g, n, 3);
    if (on != off) return err_set(err, ERR_INPUT, "OneHot on_value is %s but off_value is %s", dtype_name(on), dtype_name(off));
    if (in_shape(g, n, 2)->rank != 0 || in_shape(g, n, 3)->rank != 0)
        return err_set(err, ERR_INPUT, "OneHot on_value and off_value must be scalars");
    if (indices->rank + 1 > MAX_RANK) return err_set(err, ERR_INPUT, "OneHot output rank would exceed %d", MAX_RANK);
    int64_t axis = node_attr_i(n, "axis", -1);
    if (axis < -1 || axis > indices->rank)
        return err_set(err, ERR_INPUT, "OneHot axis %lld is not in [-1, %d]", (long long)axis, indices->rank);
    if (axis == -1) axis = indices->rank;
    Shape s = {.rank = indices->rank + 1};
    for (int i = 0, j = 0; i < s.rank; i++) s.dim[i] = i == axis ? depth[0] : indices->dim[j++];
    return infer_set_out(n, 0, on, &s, err);
}

int64_t flops_gather(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_one_hot(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
