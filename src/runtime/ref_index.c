/* ref_index.c - reference kernels for Size, Range, BroadcastTo, GatherNd and SparseToDense.
 *
 * Range: element i is start + i * delta computed in the dtype (float32: the product rounded,
 * then the sum rounded - what TensorFlow's kernel computes). GatherNd and SparseToDense reject
 * an index outside the shape, as TensorFlow's CPU kernels do; SparseToDense with
 * validate_indices (default true) also rejects indices that are not sorted in row-major order
 * or repeat, and otherwise lets a later value win. */
#include <string.h>

#include "../graph/infer.h"
#include "ref_array.h"
#include "ref_bcast.h"

int ref_size(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)n; (void)err;
    void *y = tensor_mut(&out[0]);
    if (!y) return err_set(err, ERR_RUNTIME, "missing output data");
    tensor_set(&out[0], 0, (double)tensor_numel(&in[0]));
    return 0;
}

int ref_range(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)n;
    int dt = in[0].dtype;
    double v[3];
    for (int i = 0; i < 3; i++) {
        if (tensor_numel(&in[i]) != 1 || !tensor_data(&in[i])) return err_set(err, ERR_RUNTIME, "Range input %d must be a scalar", i);
        v[i] = tensor_get(&in[i], 0);
    }
    int64_t count;
    if (range_count(dt, v[0], v[1], v[2], &count, err)) return -1;
    if (tensor_numel(&out[0]) != count) return err_set(err, ERR_RUNTIME, "Range makes %lld elements, the output holds %lld", (long long)count, (long long)tensor_numel(&out[0]));
    void *y = tensor_mut(&out[0]);
    if (count && !y) return err_set(err, ERR_RUNTIME, "missing output data");
    if (dt == DT_FLOAT) {
        float s = (float)v[0], d = (float)v[2];
        for (int64_t i = 0; i < count; i++) {
            float step = (float)i * d;
            ((float *)y)[i] = s + step;
        }
    } else if (dt == DT_INT32) {
        int32_t s = (int32_t)v[0], d = (int32_t)v[2];
        for (int64_t i = 0; i < count; i++) ((int32_t *)y)[i] = (int32_t)(uint32_t)((uint32_t)s + (uint32_t)i * (uint32_t)d);
    } else {
        int64_t s = ((const int64_t *)tensor_data(&in[0]))[0], d = ((const int64_t *)tensor_data(&in[2]))[0];
        for (int64_t i = 0; i < count; i++) ((int64_t *)y)[i] = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
    }
    return 0;
}

int ref_broadcast_to(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t es;
    if (ref_elem_size(n, &in[0], &es, err)) return -1;
    int64_t total = tensor_numel(&out[0]);
    if (total == 0) return 0;
    Bcast bc;
    const Shape *shapes[1] = {&in[0].shape};
    if (bcast_init(&bc, &out[0].shape, shapes, 1)) return err_set(err, ERR_RUNTIME, "BroadcastTo: input does not broadcast to the output shape");
    const char *x = tensor_data(&in[0]);
    char *y = tensor_mut(&out[0]);
    int64_t rows = bcast_rows(&bc), len = bcast_row_len(&bc), st = bcast_step(&bc, 0), off[1];
    for (int64_t r = 0; r < rows; r++) {
        bcast_row_offsets(&bc, r, off);
        if (st == 1) memcpy(y + r * len * (int64_t)es, x + off[0] * (int64_t)es, (size_t)len * es);
        else
            for (int64_t j = 0; j < len; j++) memcpy(y + (r * len + j) * (int64_t)es, x + off[0] * (int64_t)es, es);
    }
    return 0;
}

int ref_gather_nd(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t es;
    if (ref_elem_size(n, &in[0], &es, err)) return -1;
    const Shape *ps = &in[0].shape, *is = &in[1].shape;
    int depth = (int)is->dim[is->rank - 1];
    int64_t n_idx = ref_dims_product(is, 0, is->rank - 1);
    int64_t slice = ref_dims_product(ps, depth, ps->rank);
    int64_t strides[MAX_RANK];
    ref_strides(ps, strides);
    if (tensor_numel(&out[0]) != n_idx * slice) return err_set(err, ERR_RUNTIME, "GatherNd output does not match params and indices");
    if (tensor_numel(&out[0]) == 0) return 0;
    const char *src = tensor_data(&in[0]);
    char *dst = tensor_mut(&out[0]);
    for (int64_t j = 0; j < n_idx; j++) {
        int64_t off = 0;
        for (int d = 0; d < depth; d++) {
            int64_t v = ref_index_at(&in[1], j * depth + d);
            if (v < 0 || v >= ps->dim[d])
                return err_set(err, ERR_RUNTIME, "GatherNd index %lld (coordinate %d = %lld) does not index into params of dim %lld",
                               (long long)j, d, (long long)v, (long long)ps->dim[d]);
            off += v * strides[d];
        }
        memcpy(dst + j * slice * (int64_t)es, src + off * (int64_t)es, (size_t)slice * es);
    }
    return 0;
}

int ref_sparse_to_dense(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t es;
    if (ref_elem_size(n, &in[2], &es, err)) return -1;
    const Shape *os = &out[0].shape, *is = &in[0].shape;
    int rank = os->rank;
    int64_t n_idx = is->rank == 0 ? 1 : is->dim[0];
    int cols = is->rank == 2 ? (int)is->dim[1] : 1;
    if (cols != rank && !(is->rank < 2 && rank == 1)) return err_set(err, ERR_RUNTIME, "SparseToDense indices do not match the output rank");
    int64_t total = tensor_numel(&out[0]);
    char *y = tensor_mut(&out[0]);
    const char *vals = tensor_data(&in[2]), *def = tensor_data(&in[3]);
    if ((total && !y) || !def) return err_set(err, ERR_RUNTIME, "missing data");
    for (int64_t i = 0; i < total; i++) memcpy(y + i * (int64_t)es, def, es);
    bool scalar_vals = in[2].shape.rank == 0, validate = node_attr_b(n, "validate_indices", true);
    int64_t strides[MAX_RANK], prev = -1;
    ref_strides(os, strides);
    for (int64_t j = 0; j < n_idx; j++) {
        int64_t off = 0;
        for (int d = 0; d < rank; d++) {
            int64_t v = ref_index_at(&in[0], j * rank + d);
            if (v < 0 || v >= os->dim[d])
                return err_set(err, ERR_RUNTIME, "SparseToDense index %lld is out of bounds (coordinate %d = %lld, dim %lld)", (long long)j, d,
                               (long long)v, (long long)os->dim[d]);
            off += v * strides[d];
        }
        if (validate && off <= prev)
            return err_set(err, ERR_RUNTIME, "SparseToDense index %lld is %s", (long long)j, off == prev ? "repeated" : "out of order");
        prev = off;
        memcpy(y + off * (int64_t)es, vals + (scalar_vals ? 0 : j) * (int64_t)es, es);
    }
    return 0;
}
