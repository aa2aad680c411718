/* ref_nn_util.c - small helpers of the nn reference kernels: dtype / output-shape checks and the
 * NCHW <-> NHWC transposes that let every kernel compute in NHWC. */
#include "ref_nn.h"

int ref_require_f32(const Node *n, const Tensor *t, const char *what, Err *err) {
    if (t->dtype != DT_FLOAT)
        return err_set(err, ERR_RUNTIME, "%s: %s of dtype %s is not supported by the reference kernel (float32 only)",
                       n->op_name, what, dtype_name(t->dtype));
    if (!tensor_has_data(t)) return err_set(err, ERR_RUNTIME, "%s: %s has no data", n->op_name, what);
    return 0;
}

int ref_require_shape(const Tensor *out, const Shape *expected, Err *err) {
    char sa[96], sb[96];
    if (!shape_equal(&out->shape, expected))
        return err_set(err, ERR_RUNTIME, "output was allocated as %s but the inputs give %s",
                       shape_str(&out->shape, sa, sizeof sa), shape_str(expected, sb, sizeof sb));
    return 0;
}

void ref_nchw_to_nhwc(const float *src, float *dst, int64_t n, int64_t c, int64_t hw) {
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++) dst[(b * hw + p) * c + ch] = src[(b * c + ch) * hw + p];
}

void ref_nhwc_to_nchw(const float *src, float *dst, int64_t n, int64_t c, int64_t hw) {
    for (int64_t b = 0; b < n; b++)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < c; ch++) dst[(b * c + ch) * hw + p] = src[(b * hw + p) * c + ch];
}
