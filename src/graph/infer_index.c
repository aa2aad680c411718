/* infer_index.c - shape/dtype inference for Size, Range, BroadcastTo, GatherNd and
 * SparseToDense (FLOPs: none, they move or generate data).
 *
 * Range and the shape inputs of BroadcastTo and SparseToDense may be computed at run time:
 * then the output's rank is known but its dims are not (-1), and the runtime infers them again
 * from the values (runtime/ref_dyn.c). */
#include <math.h>

#include "infer.h"

static bool is_index_dtype(int dt) { return dt == DT_INT32 || dt == DT_INT64; }
static bool known(const Graph *g, const Node *n, int i) { return tensor_has_data(&in_val(g, n, i)->known); }

int infer_size(Graph *g, Node *n, Err *err) {
    int out_type = node_attr_type(n, "out_type", DT_INT32);
    if (!is_index_dtype(out_type)) return err_set(err, ERR_INPUT, "Size out_type must be int32 or int64, got %s", dtype_name(out_type));
    Shape s = shape_scalar();
    if (infer_set_out(n, 0, out_type, &s, err)) return -1;
    int64_t count = shape_numel(in_shape(g, n, 0));
    if (out_type == DT_INT32 && count > INT32_MAX) return err_set(err, ERR_INPUT, "Size %lld does not fit out_type int32", (long long)count);
    Tensor *k = &n->outputs[0].known;
    if (tensor_alloc(k, out_type, &s, err)) return -1;
    tensor_set(k, 0, (double)count);
    return 0;
}

/* the number of elements Range(start, limit, delta) makes, as TensorFlow computes it (integer
   ceil of |limit - start| / |delta|; floats ceil(|(limit - start) / delta|) in the dtype) */
int range_count(int dt, double start, double limit, double delta, int64_t *count, Err *err) {
    if (delta == 0) return err_set(err, ERR_INPUT, "Range requires delta != 0");
    if (delta > 0 && start > limit) return err_set(err, ERR_INPUT, "Range requires start <= limit when delta > 0: %g/%g", start, limit);
    if (delta < 0 && start < limit) return err_set(err, ERR_INPUT, "Range requires start >= limit when delta < 0: %g/%g", start, limit);
    double c;
    if (dt == DT_FLOAT) {
        float span = (float)limit - (float)start;
        c = ceil(fabs((double)(span / (float)delta)));
    } else if (dtype_is_float(dt)) {
        c = ceil(fabs((limit - start) / delta));
    } else {
        /* exact in int64 for the int32/int64 ranges real graphs use */
        int64_t s = (int64_t)start, l = (int64_t)limit, d = (int64_t)delta;
        uint64_t span = s < l ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
        uint64_t ad = d < 0 ? 0u - (uint64_t)d : (uint64_t)d;
        c = (double)((span + ad - 1) / ad);
    }
    if (!(c >= 0) || c > (double)(TENSOR_MAX_BYTES / 4)) return err_set(err, ERR_INPUT, "Range of %g elements is absurdly large", c);
    *count = (int64_t)c;
    return 0;
}

int infer_range(Graph *g, Node *n, Err *err) {
    int dt = in_dtype(g, n, 0);
    for (int i = 0; i < 3; i++) {
        if (in_dtype(g, n, i) != dt)
            return err_set(err, ERR_INPUT, "Range inputs must share one dtype: input %d is %s, start %s", i, dtype_name(in_dtype(g, n, i)), dtype_name(dt));
        if (shape_numel(in_shape(g, n, i)) != 1 || in_shape(g, n, i)->rank > 1)
            return err_set(err, ERR_INPUT, "Range input %d must be a scalar", i);
    }
    if (dt != DT_FLOAT && dt != DT_INT32 && dt != DT_INT64)
        return err_set(err, ERR_INPUT, "Range dtype %s is not supported (float32, int32, int64)", dtype_name(dt));
    Shape s = {.rank = 1, .dim = {-1}};
    if (known(g, n, 0) && known(g, n, 1) && known(g, n, 2)) {
        double v[3];
        for (int i = 0; i < 3; i++) v[i] = tensor_get(&in_val(g, n, i)->known, 0);
        if (range_count(dt, v[0], v[1], v[2], &s.dim[0], err)) return -1;
    }
    return infer_set_out(n, 0, dt, &s, err);
}

int infer_broadcast_to(Graph *g, Node *n, Err *err) {
    const Shape *ss = in_shape(g, n, 1), *xs = in_shape(g, n, 0);
    if (!is_index_dtype(in_dtype(g, n, 1)) || ss->rank != 1)
        return err_set(err, ERR_INPUT, "BroadcastTo shape must be an int32/int64 vector");
    if (ss->dim[0] > MAX_RANK) return err_set(err, ERR_INPUT, "BroadcastTo rank %lld exceeds %d", (long long)ss->dim[0], MAX_RANK);
    Shape s = {.rank = (int)ss->dim[0]};
    for (int i = 0; i < s.rank; i++) s.dim[i] = -1;
    if (known(g, n, 1)) {
        int64_t d[MAX_RANK];
        int k = infer_known_i64(g, n, 1, d, MAX_RANK, err);
        if (k < 0) return -1;
        s = shape_make(k, d);
        for (int i = 0; i < k; i++)
            if (d[i] < 0) return err_set(err, ERR_INPUT, "BroadcastTo shape[%d] = %lld is negative", i, (long long)d[i]);
        Shape b;
        char sa[96], sb[96];
        if (xs->rank > s.rank || infer_broadcast(xs, &s, &b, err) || !shape_equal(&b, &s))
            return err_set(err, ERR_INPUT, "Unable to broadcast tensor of shape %s to tensor of shape %s", shape_str(xs, sa, sizeof sa),
                           shape_str(&s, sb, sizeof sb));
    }
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

/* GatherNd: indices [..., K] address params' first K dims; output indices[:-1] + params[K:] */
int infer_gather_nd(Graph *g, Node *n, Err *err) {
    const Shape *ps = in_shape(g, n, 0), *is = in_shape(g, n, 1);
    if (!is_index_dtype(in_dtype(g, n, 1)))
        return err_set(err, ERR_INPUT, "GatherNd indices must be int32 or int64, got %s", dtype_name(in_dtype(g, n, 1)));
    if (is->rank < 1) return err_set(err, ERR_INPUT, "GatherNd indices must be at least a vector");
    int64_t kk = is->dim[is->rank - 1];
    if (kk > ps->rank) return err_set(err, ERR_INPUT, "GatherNd index depth %lld exceeds params rank %d", (long long)kk, ps->rank);
    int rank = is->rank - 1 + ps->rank - (int)kk;
    if (rank > MAX_RANK) return err_set(err, ERR_INPUT, "GatherNd output rank %d exceeds %d", rank, MAX_RANK);
    Shape s = {.rank = 0};
    for (int i = 0; i < is->rank - 1; i++) s.dim[s.rank++] = is->dim[i];
    for (int i = (int)kk; i < ps->rank; i++) s.dim[s.rank++] = ps->dim[i];
    return infer_set_out(n, 0, in_dtype(g, n, 0), &s, err);
}

/* SparseToDense(sparse_indices [N, R] | [N] | scalar, output_shape [R], sparse_values [N] |
   scalar, default_value scalar) -> output_shape, the values' dtype */
int infer_sparse_to_dense(Graph *g, Node *n, Err *err) {
    const Shape *is = in_shape(g, n, 0), *os = in_shape(g, n, 1), *vs = in_shape(g, n, 2), *ds = in_shape(g, n, 3);
    if (!is_index_dtype(in_dtype(g, n, 0)) || in_dtype(g, n, 1) != in_dtype(g, n, 0))
        return err_set(err, ERR_INPUT, "SparseToDense sparse_indices and output_shape must both be int32 or int64");
    if (in_dtype(g, n, 2) != in_dtype(g, n, 3)) return err_set(err, ERR_INPUT, "SparseToDense sparse_values and default_value dtypes differ");
    if (is->rank > 2) return err_set(err, ERR_INPUT, "SparseToDense sparse_indices must be at most 2-D");
    if (os->rank != 1) return err_set(err, ERR_INPUT, "SparseToDense output_shape must be a vector");
    if (ds->rank != 0) return err_set(err, ERR_INPUT, "SparseToDense default_value must be a scalar");
    int64_t n_idx = is->rank == 0 ? 1 : is->dim[0];
    if (vs->rank > 1 || (vs->rank == 1 && vs->dim[0] != n_idx))
        return err_set(err, ERR_INPUT, "SparseToDense sparse_values must be a scalar or have one value per index (%lld)", (long long)n_idx);
    int64_t r = os->dim[0];
    if (r > MAX_RANK) return err_set(err, ERR_INPUT, "SparseToDense rank %lld exceeds %d", (long long)r, MAX_RANK);
    if (is->rank < 2 && r != 1)
        return err_set(err, ERR_INPUT, "SparseToDense with %s sparse_indices needs a 1-D output, output_shape has %lld dims",
                       is->rank ? "1-D" : "scalar", (long long)r);
    if (is->rank == 2 && is->dim[1] != r)
        return err_set(err, ERR_INPUT, "SparseToDense indices have %lld columns for a rank-%lld output", (long long)is->dim[1], (long long)r);
    Shape s = {.rank = (int)r};
    for (int i = 0; i < s.rank; i++) s.dim[i] = -1;
    if (known(g, n, 1)) {
        int64_t d[MAX_RANK];
        int k = infer_known_i64(g, n, 1, d, MAX_RANK, err);
        if (k < 0) return -1;
        for (int i = 0; i < k; i++)
            if (d[i] < 0) return err_set(err, ERR_INPUT, "SparseToDense output_shape[%d] = %lld is negative", i, (long long)d[i]);
        s = shape_make(k, d);
    }
    return infer_set_out(n, 0, in_dtype(g, n, 2), &s, err);
}

int64_t flops_size(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_range(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_broadcast_to(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_gather_nd(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_sparse_to_dense(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
