/* ref_reshape.c - reference kernels that only reinterpret the input (Reshape, Squeeze,
 * ExpandDims: the output shares the input buffer) and Shape (writes the input's dims). */
#include "ref_array.h"

int ref_reshape(const Node *n, const Tensor *in, Tensor *out, Err *err) { return ref_alias_input(n, &in[0], &out[0], err); }
int ref_squeeze(const Node *n, const Tensor *in, Tensor *out, Err *err) { return ref_alias_input(n, &in[0], &out[0], err); }
int ref_expand_dims(const Node *n, const Tensor *in, Tensor *out, Err *err) { return ref_alias_input(n, &in[0], &out[0], err); }

/* Reads only in[0]'s shape: the input may carry no data at all. */
int ref_shape(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    const Shape *s = &in[0].shape;
    if (out[0].shape.rank != 1 || out[0].shape.dim[0] != s->rank || !out[0].buf)
        return err_set(err, ERR_RUNTIME, "Shape: output is not a vector of %d values", s->rank);
    for (int i = 0; i < s->rank; i++) {
        if (out[0].dtype == DT_INT32) {
            if (s->dim[i] > INT32_MAX) return err_set(err, ERR_RUNTIME, "Shape: dimension %d does not fit int32", i);
            ((int32_t *)out[0].buf->data)[i] = (int32_t)s->dim[i];
        } else if (out[0].dtype == DT_INT64) {
            ((int64_t *)out[0].buf->data)[i] = s->dim[i];
        } else {
            return err_set(err, ERR_RUNTIME, "Shape: out_type %s is not supported", dtype_name(out[0].dtype));
        }
    }
    return 0;
}
