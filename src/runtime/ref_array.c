/* ref_array.c - helpers shared by the data-movement reference kernels (see ref_array.h). */
#include "ref_array.h"

#include <string.h>

int ref_elem_size(const Node *n, const Tensor *t, size_t *esz, Err *err) {
    *esz = dtype_size(t->dtype);
    if (*esz == 0 || !dtype_is_supported(t->dtype))
        return err_set(err, ERR_RUNTIME, "%s does not support dtype %s", n->op_name, dtype_name(t->dtype));
    if (!t->buf) return err_set(err, ERR_RUNTIME, "%s input has no data", n->op_name);
    return 0;
}

void ref_strides(const Shape *s, int64_t *strides) {
    int64_t acc = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
        strides[i] = acc;
        acc *= s->dim[i];
    }
}

int64_t ref_dims_product(const Shape *s, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= s->dim[i];
    return p;
}

int64_t ref_index_at(const Tensor *t, int64_t i) {
    const void *d = tensor_data(t);
    switch (t->dtype) {
    case DT_INT32: return ((const int32_t *)d)[i];
    case DT_INT64: return ((const int64_t *)d)[i];
    case DT_UINT8: return ((const uint8_t *)d)[i];
    case DT_INT8: return ((const int8_t *)d)[i];
    default: return 0;
    }
}

int ref_read_ints(const Node *n, const Tensor *t, const char *what, int64_t *v, int cap, Err *err) {
    int k = tensor_to_i64(t, v, cap, err);
    if (k < 0) return err_prefix(err, "%s %s", n->op_name, what);
    return k;
}

int ref_alias_input(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    char sa[128], sb[128];
    Shape shape = out->shape;
    if (shape_numel(&shape) != shape_numel(&in->shape))
        return err_set(err, ERR_RUNTIME, "%s: input %s does not fit output %s", n->op_name,
                       shape_str(&in->shape, sa, sizeof sa), shape_str(&shape, sb, sizeof sb));
    tensor_release(out);
    *out = tensor_share(in);
    out->shape = shape;
    return 0;
}

void ref_copy_box(void *dst, const Shape *dst_shape, const int64_t *dst_begin,
                  const void *src, const Shape *src_shape, const int64_t *src_begin, const int64_t *src_step,
                  const Shape *box, size_t esz) {
    int r = box->rank;
    int64_t n = shape_numel(box);
    if (n <= 0) return;
    if (r == 0) { memcpy(dst, src, esz); return; }
    int64_t sstr[MAX_RANK], dstr[MAX_RANK], idx[MAX_RANK] = {0};
    ref_strides(src_shape, sstr);
    ref_strides(dst_shape, dstr);
    int64_t row_len = box->dim[r - 1], rows = n / row_len, last_step = src_step[r - 1];
    char *d = dst;
    const char *s = src;
    for (int64_t row = 0; row < rows; row++) {
        /* offsets of the row's first element; the innermost stride is 1 in both tensors */
        int64_t so = src_begin[r - 1], dof = dst_begin[r - 1];
        for (int i = 0; i < r - 1; i++) {
            so += (src_begin[i] + idx[i] * src_step[i]) * sstr[i];
            dof += (dst_begin[i] + idx[i]) * dstr[i];
        }
        if (last_step == 1) {
            memcpy(d + dof * (int64_t)esz, s + so * (int64_t)esz, (size_t)row_len * esz);
        } else {
            for (int64_t j = 0; j < row_len; j++)
                memcpy(d + (dof + j) * (int64_t)esz, s + (so + j * last_step) * (int64_t)esz, esz);
        }
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < box->dim[i]) break;
            idx[i] = 0;
        }
    }
}
