/* infer_array.c - shape inference for Transpose, Tile, Fill and Shape (FLOPs: none; these
 * ops move or make data). Shape also sets its output's known value: input shapes are static,
 * which lets Shape -> StridedSlice -> Pack -> Reshape chains fold at inference time. */
#include "infer.h"

int infer_transpose(Graph *g, Node *n, Err *err) {
    const Shape *in = in_shape(g, n, 0);
    int64_t perm[MAX_RANK];
    int k = infer_known_i64(g, n, 1, perm, MAX_RANK, err);
    if (k < 0) return err_prefix(err, "Transpose perm");
    if (k != in->rank) return err_set(err, ERR_INPUT, "Transpose perm has %d entries, input rank is %d", k, in->rank);
    bool seen[MAX_RANK] = {0};
    Shape s = {.rank = in->rank};
    for (int i = 0; i < k; i++) {
        if (perm[i] < 0 || perm[i] >= k)
            return err_set(err, ERR_INPUT, "Transpose perm[%d] = %lld is out of range [0, %d)", i, (long long)perm[i], k);
        if (seen[perm[i]]) return err_set(err, ERR_INPUT, "Transpose perm is not a permutation: %lld appears twice", (long long)perm[i]);
        seen[perm[i]] = true;
        s.dim[i] = in->dim[perm[i]];
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int infer_tile(Graph *g, Node *n, Err *err) {
    const Shape *in = in_shape(g, n, 0);
    int64_t mult[MAX_RANK];
    int k = infer_known_i64(g, n, 1, mult, MAX_RANK, err);
    if (k < 0) return err_prefix(err, "Tile multiples");
    if (k != in->rank) return err_set(err, ERR_INPUT, "Tile multiples has %d entries, input rank is %d", k, in->rank);
    Shape s = {.rank = in->rank};
    for (int i = 0; i < k; i++) {
        if (mult[i] < 0) return err_set(err, ERR_INPUT, "Tile multiples[%d] = %lld is negative", i, (long long)mult[i]);
        if (mult[i] != 0 && in->dim[i] > INT64_MAX / 4 / mult[i])
            return err_set(err, ERR_INPUT, "Tile multiples[%d] = %lld makes dimension %d too large", i, (long long)mult[i], i);
        s.dim[i] = in->dim[i] * mult[i];
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

int infer_fill(Graph *g, Node *n, Err *err) {
    if (in_shape(g, n, 1)->rank != 0) return err_set(err, ERR_INPUT, "Fill value must be a scalar");
    if (in_shape(g, n, 0)->rank != 1) return err_set(err, ERR_INPUT, "Fill dims must be a vector");
    int64_t dims[MAX_RANK];
    int k = infer_known_i64(g, n, 0, dims, MAX_RANK, err);
    if (k < 0) return err_prefix(err, "Fill dims");
    Shape s = shape_make(k, dims);
    for (int i = 0; i < k; i++)
        if (dims[i] < 0) return err_set(err, ERR_INPUT, "Fill dims[%d] = %lld is negative", i, (long long)dims[i]);
    return infer_set_out(n, 0, in_dtype(g, n, 1), &s, err);
}

int infer_shape(Graph *g, Node *n, Err *err) {
    const Shape *in = in_shape(g, n, 0);
    int out_type = node_attr_type(n, "out_type", DT_INT32);
    if (out_type != DT_INT32 && out_type != DT_INT64)
        return err_set(err, ERR_INPUT, "Shape out_type must be int32 or int64, got %s", dtype_name(out_type));
    Shape s = {.rank = 1, .dim = {in->rank}};
    if (infer_set_out(n, 0, out_type, &s, err)) return -1;
    if (!shape_is_known(in)) return 0; /* the value waits for run time */
    Tensor *known = &n->outputs[0].known;
    if (tensor_alloc(known, out_type, &s, err)) return -1;
    for (int i = 0; i < in->rank; i++) {
        if (out_type == DT_INT32) {
            if (in->dim[i] > INT32_MAX) {
                tensor_release(known);
                return err_set(err, ERR_INPUT, "Shape: dimension %d (%lld) does not fit out_type int32", i, (long long)in->dim[i]);
            }
            ((int32_t *)known->buf->data)[i] = (int32_t)in->dim[i];
        } else {
            ((int64_t *)known->buf->data)[i] = in->dim[i];
        }
    }
    return 0;
}

int64_t flops_transpose(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_tile(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_fill(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_shape(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

/* TensorArray / TensorList ops (ref_tensor_array.c). A handle is an int32 scalar naming an array
   the run holds; a flow is a float scalar that orders the array's reads after its writes. What
   an array holds is known only at run time: reads, gathers, concats and stacks are run-time
   shaped (their dtype comes from the node's attribute). */
int infer_tensor_array(Graph *g, Node *n, Err *err) {
    Shape scalar = {.rank = 0}, unknown = shape_unknown();
    switch (n->op) {
    case OP_TENSOR_ARRAY_V3: {
        if (in_dtype(g, n, 0) != DT_INT32 || in_shape(g, n, 0)->rank != 0) return err_set(err, ERR_INPUT, "size must be an int32 scalar");
        if (infer_set_out(n, 0, DT_INT32, &scalar, err)) return -1;
        return infer_set_out(n, 1, DT_FLOAT, &scalar, err);
    }
    case OP_TENSOR_LIST_RESERVE:
    case OP_TENSOR_LIST_FROM_TENSOR:
    case OP_TENSOR_LIST_SET_ITEM: return infer_set_out(n, 0, DT_INT32, &scalar, err);
    case OP_TENSOR_ARRAY_WRITE_V3:
    case OP_TENSOR_ARRAY_SCATTER_V3:
    case OP_TENSOR_ARRAY_SPLIT_V3:
    case OP_TENSOR_ARRAY_CLOSE_V3: return infer_set_out(n, 0, DT_FLOAT, &scalar, err);
    case OP_TENSOR_ARRAY_SIZE_V3:
    case OP_TENSOR_LIST_LENGTH: return infer_set_out(n, 0, DT_INT32, &scalar, err);
    case OP_TENSOR_ARRAY_CONCAT_V3: {
        Shape lengths = {.rank = 1, .dim = {-1}};
        if (infer_set_out(n, 0, node_attr_type(n, "dtype", DT_FLOAT), &unknown, err)) return -1;
        return infer_set_out(n, 1, DT_INT64, &lengths, err);
    }
    case OP_TENSOR_ARRAY_READ_V3:
    case OP_TENSOR_ARRAY_GATHER_V3: return infer_set_out(n, 0, node_attr_type(n, "dtype", DT_FLOAT), &unknown, err);
    case OP_TENSOR_LIST_GET_ITEM:
    case OP_TENSOR_LIST_STACK: return infer_set_out(n, 0, node_attr_type(n, "element_dtype", DT_FLOAT), &unknown, err);
    default: return err_set(err, ERR_RUNTIME, "internal: %s is not a TensorArray/TensorList op", n->op_name);
    }
}

int64_t flops_tensor_array(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
