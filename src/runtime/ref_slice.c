/* ref_slice.c - reference Slice and StridedSlice. Both copy a box of the input (StridedSlice
 * with steps, possibly negative) into the dense output; StridedSlice's index logic is the
 * same function shape inference uses (graph/strided_slice.c). */
#include "../graph/strided_slice.h"
#include "ref_array.h"

int ref_slice(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[0], &esz, err)) return -1;
    const Shape *is = &in[0].shape, *os = &out[0].shape;
    int64_t begin[MAX_RANK], step[MAX_RANK], zero[MAX_RANK] = {0};
    int r = ref_read_ints(n, &in[1], "begin", begin, MAX_RANK, err);
    if (r < 0) return -1;
    if (r != is->rank || os->rank != r) return err_set(err, ERR_RUNTIME, "Slice begin has %d entries, input rank is %d", r, is->rank);
    for (int i = 0; i < r; i++) {
        /* the output shape already resolved size (-1 = to the end) */
        if (begin[i] < 0 || begin[i] + os->dim[i] > is->dim[i])
            return err_set(err, ERR_RUNTIME, "Slice begin[%d] = %lld with size %lld exceeds dimension %lld", i,
                           (long long)begin[i], (long long)os->dim[i], (long long)is->dim[i]);
        step[i] = 1;
    }
    ref_copy_box(out[0].buf->data, os, zero, tensor_data(&in[0]), is, begin, step, os, esz);
    return 0;
}

int ref_strided_slice(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[0], &esz, err)) return -1;
    int64_t begin[STRIDED_SLICE_MAX_SPEC + 1], end[STRIDED_SLICE_MAX_SPEC + 1], strides[STRIDED_SLICE_MAX_SPEC + 1];
    int nb = ref_read_ints(n, &in[1], "begin", begin, STRIDED_SLICE_MAX_SPEC + 1, err);
    if (nb < 0) return -1;
    int ne = ref_read_ints(n, &in[2], "end", end, STRIDED_SLICE_MAX_SPEC + 1, err);
    if (ne < 0) return -1;
    int ns = ref_read_ints(n, &in[3], "strides", strides, STRIDED_SLICE_MAX_SPEC + 1, err);
    if (ns < 0) return -1;
    if (nb != ne || nb != ns)
        return err_set(err, ERR_RUNTIME, "StridedSlice begin, end and strides have lengths %d, %d, %d", nb, ne, ns);
    StridedSliceMasks m = {
        .begin = node_attr_i(n, "begin_mask", 0),
        .end = node_attr_i(n, "end_mask", 0),
        .ellipsis = node_attr_i(n, "ellipsis_mask", 0),
        .new_axis = node_attr_i(n, "new_axis_mask", 0),
        .shrink_axis = node_attr_i(n, "shrink_axis_mask", 0),
    };
    StridedSliceDense d;
    if (strided_slice_canonicalize(&in[0].shape, begin, end, strides, nb, &m, &d, err)) return -1;
    char sa[128], sb[128];
    if (!shape_equal(&d.final_shape, &out[0].shape))
        return err_set(err, ERR_RUNTIME, "StridedSlice computes shape %s but the output is %s",
                       shape_str(&d.final_shape, sa, sizeof sa), shape_str(&out[0].shape, sb, sizeof sb));
    /* the output holds the processing box densely: shrunk and new axes are size-1 dims */
    int64_t zero[MAX_RANK] = {0};
    ref_copy_box(out[0].buf->data, &d.processing, zero, tensor_data(&in[0]), &in[0].shape, d.begin, d.stride,
                 &d.processing, esz);
    return 0;
}
