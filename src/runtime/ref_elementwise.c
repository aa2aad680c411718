/* ref_elementwise.c - reference kernels for AddN, BiasAdd and Prelu (the other elementwise ops
 * live in ref_unary.c, ref_binary.c and ref_cast.c).
 *
 * AddN sums N same-shape inputs (floats in double, rounded once; integers wrap).
 * BiasAdd is an Add whose bias is viewed as [C] (NHWC: channels last) or [C,1,..,1] (NCHW:
 * channels at dim 1) and broadcast. Prelu: y = x >= 0 ? x : alpha * x, alpha broadcast
 * against x; NaN x gives NaN. */
#include <string.h>

#include "ref.h"
#include "ref_bcast.h"
#include "ref_binary.h"
#include "ref_elem.h"

int ref_add_n(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int dt = out[0].dtype, count = n->n_inputs;
    int64_t numel = tensor_numel(&out[0]);
    for (int k = 0; k < count; k++) {
        if (in[k].dtype != dt || !shape_equal(&in[k].shape, &out[0].shape))
            return err_set(err, ERR_RUNTIME, "input %d does not match the output's dtype and shape", k);
        if (numel > 0 && !tensor_data(&in[k])) return err_set(err, ERR_RUNTIME, "input %d has no data", k);
    }
    if (numel == 0) return 0;
    void *y = tensor_mut(&out[0]);
    if (!y) return err_set(err, ERR_RUNTIME, "out of memory");
    if (dtype_is_float(dt)) {
        for (int64_t i = 0; i < numel; i++) {
            double sum = 0;
            for (int k = 0; k < count; k++) sum += elem_get_f(tensor_data(&in[k]), dt, i);
            elem_set_f(y, dt, i, sum);
        }
    } else if (elem_is_int(dt)) {
        for (int64_t i = 0; i < numel; i++) {
            uint64_t sum = 0;
            for (int k = 0; k < count; k++) sum += (uint64_t)elem_get_i(tensor_data(&in[k]), dt, i);
            elem_set_i(y, dt, i, sum);
        }
    } else {
        return err_set(err, ERR_RUNTIME, "dtype %s is not supported", dtype_name(dt));
    }
    return 0;
}

/* channel dimension of a BiasAdd/data_format string: "NC..." = 1, otherwise the last */
static int bias_channels_first(const Node *n) { return !strncmp(node_attr_s(n, "data_format", "NHWC"), "NC", 2); }

int ref_bias_add(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    const Shape *xs = &in[0].shape;
    if (in[1].shape.rank != 1 || xs->rank < 1)
        return err_set(err, ERR_RUNTIME, "bias must be a vector and value at least 1-D");
    Tensor bias_view = in[1]; /* shallow: same buffer, viewed as [C,1,...,1]; not released */
    if (bias_channels_first(n) && xs->rank >= 2) {
        bias_view.shape.rank = xs->rank - 1;
        for (int d = 1; d < bias_view.shape.rank; d++) bias_view.shape.dim[d] = 1;
    }
    return ref_binary_op(OP_ADD, &in[0], &bias_view, &out[0], err);
}

int ref_prelu(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int dt = in[0].dtype;
    if (!dtype_is_float(dt) || in[1].dtype != dt || out[0].dtype != dt)
        return err_set(err, ERR_RUNTIME, "unsupported dtypes %s, %s", dtype_name(dt),
                       dtype_name(in[1].dtype));
    Bcast bc;
    const Shape *shapes[2] = {&in[0].shape, &in[1].shape};
    if (bcast_init(&bc, &out[0].shape, shapes, 2))
        return err_set(err, ERR_RUNTIME, "alpha does not broadcast against x");
    if (tensor_numel(&out[0]) == 0) return 0;
    const void *x = tensor_data(&in[0]), *alpha = tensor_data(&in[1]);
    void *y = tensor_mut(&out[0]);
    if (!x || !alpha || !y) return err_set(err, ERR_RUNTIME, "missing input or output data");
    int64_t rows = bcast_rows(&bc), len = bcast_row_len(&bc);
    int64_t sx = bcast_step(&bc, 0), sa = bcast_step(&bc, 1);
    int64_t off[2];
    for (int64_t r = 0; r < rows; r++) {
        bcast_row_offsets(&bc, r, off);
        for (int64_t j = 0; j < len; j++) {
            double v = elem_get_f(x, dt, off[0] + j * sx);
            double a = elem_get_f(alpha, dt, off[1] + j * sa);
            elem_set_f(y, dt, r * len + j, v >= 0 ? v : a * v); /* NaN: a * NaN = NaN */
        }
    }
    return 0;
}
