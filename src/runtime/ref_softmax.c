/* ref_softmax.c - reference kernel for Softmax over the last axis, numerically stable:
 * y = exp(x - max) / sum(exp(x - max)) per row, the sum in double. */
#include <math.h>

#include "ref_nn.h"

int ref_softmax(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    if (ref_require_f32(n, &in[0], "logits", err) || ref_require_f32(n, &out[0], "output", err)) return -1;
    const Shape *xs = &in[0].shape;
    if (xs->rank < 1) return err_set(err, ERR_RUNTIME, "%s: logits must have rank >= 1", n->op_name);
    if (ref_require_shape(&out[0], xs, err)) return -1;
    int64_t cols = xs->dim[xs->rank - 1], total = tensor_numel(&in[0]);
    if (total == 0) return 0;
    const float *x = tensor_data(&in[0]);
    float *y = tensor_mut(&out[0]);
    if (!y) return err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
    for (int64_t r = 0; r < total / cols; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float mx = xr[0];
        for (int64_t j = 1; j < cols; j++)
            if (xr[j] > mx) mx = xr[j];
        double sum = 0;
        for (int64_t j = 0; j < cols; j++) sum += exp((double)xr[j] - mx);
        for (int64_t j = 0; j < cols; j++) yr[j] = (float)(exp((double)xr[j] - mx) / sum);
    }
    return 0;
}
