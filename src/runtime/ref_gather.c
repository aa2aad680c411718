/* ref_gather.c - reference GatherV2 (with batch_dims) and OneHot. */
#include "ref_array.h"

#include <string.h>

/* params viewed as [batch, outer, axis_dim, inner], indices as [batch, n_idx]:
   out[b, o, j, :] = params[b, o, indices[b, j], :] */
int ref_gather(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[0], &esz, err)) return -1;
    const Tensor *params = &in[0], *indices = &in[1];
    if (indices->dtype != DT_INT32 && indices->dtype != DT_INT64)
        return err_set(err, ERR_RUNTIME, "GatherV2 indices dtype %s is not supported", dtype_name(indices->dtype));
    int64_t a;
    if (ref_read_ints(n, &in[2], "axis", &a, 1, err) < 0) return -1;
    const Shape *ps = &params->shape, *is = &indices->shape;
    if (a < -ps->rank || a >= ps->rank) return err_set(err, ERR_RUNTIME, "GatherV2 axis %lld is out of range", (long long)a);
    int axis = (int)(a < 0 ? a + ps->rank : a);
    int64_t bd = node_attr_i(n, "batch_dims", 0);
    if (bd < 0) bd += is->rank;
    if (bd < 0 || bd > axis || bd > is->rank) return err_set(err, ERR_RUNTIME, "GatherV2 batch_dims %lld is out of range", (long long)bd);
    int batch_dims = (int)bd;
    int64_t batch = ref_dims_product(ps, 0, batch_dims);
    int64_t outer = ref_dims_product(ps, batch_dims, axis);
    int64_t limit = ps->dim[axis];
    int64_t inner = ref_dims_product(ps, axis + 1, ps->rank);
    int64_t n_idx = ref_dims_product(is, batch_dims, is->rank);
    if (tensor_numel(&out[0]) != batch * outer * n_idx * inner)
        return err_set(err, ERR_RUNTIME, "GatherV2 output does not match params and indices");
    if (tensor_numel(&out[0]) == 0) return 0;
    const char *src = tensor_data(params);
    char *dst = out[0].buf->data;
    size_t row = (size_t)inner * esz;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < n_idx; j++) {
                int64_t flat = b * n_idx + j;
                int64_t idx = ref_index_at(indices, flat);
                if (idx < 0 || idx >= limit)
                    return err_set(err, ERR_INPUT, "GatherV2 indices[%lld] = %lld is not in [0, %lld)",
                                   (long long)flat, (long long)idx, (long long)limit);
                memcpy(dst, src + (((b * outer + o) * limit + idx) * inner) * (int64_t)esz, row);
                dst += row;
            }
    return 0;
}

/* indices viewed as [outer, inner] with the depth axis between:
   out[o, d, i] = indices[o, i] == d ? on_value : off_value (out-of-range: all off) */
int ref_one_hot(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &out[0], &esz, err)) return -1;
    const Tensor *indices = &in[0];
    int dt = indices->dtype;
    if (dt != DT_INT32 && dt != DT_INT64 && dt != DT_UINT8 && dt != DT_INT8)
        return err_set(err, ERR_RUNTIME, "OneHot indices dtype %s is not supported", dtype_name(dt));
    if (in[2].dtype != out[0].dtype || in[3].dtype != out[0].dtype || !in[2].buf || !in[3].buf)
        return err_set(err, ERR_RUNTIME, "OneHot on_value/off_value must be %s scalars", dtype_name(out[0].dtype));
    const Shape *os = &out[0].shape;
    int64_t axis = node_attr_i(n, "axis", -1);
    if (axis == -1) axis = os->rank - 1;
    if (axis < 0 || axis >= os->rank || os->rank != indices->shape.rank + 1)
        return err_set(err, ERR_RUNTIME, "OneHot axis %lld does not match the output", (long long)axis);
    int64_t depth = os->dim[axis];
    int64_t outer = ref_dims_product(os, 0, (int)axis), inner = ref_dims_product(os, (int)axis + 1, os->rank);
    if (tensor_numel(indices) != outer * inner) return err_set(err, ERR_RUNTIME, "OneHot output does not match indices");
    const char *on = tensor_data(&in[2]), *off = tensor_data(&in[3]);
    char *dst = out[0].buf->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < depth; d++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t idx = ref_index_at(indices, o * inner + i);
                memcpy(dst, idx == d ? on : off, esz);
                dst += esz;
            }
    return 0;
}
