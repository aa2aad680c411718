/* ref_batchnorm.c - reference kernel for FusedBatchNorm / V2 / V3 (TF's CPU semantics).
 *
 * Inference (is_training false): y = (x - mean) / sqrt(variance + epsilon) * scale + offset;
 * batch_mean / batch_variance and reserve_space_1 / _2 echo mean and variance.
 * Training (is_training true, TF's default): mean and biased variance of x over every axis
 * but the channel one normalize x; batch_mean = the running mean (blended with the input mean
 * by exponential_avg_factor when it is not 1), batch_variance = the running variance with
 * Bessel's correction (n/(n-1)), reserve_space_1 / _2 = the batch mean and biased variance.
 * reserve_space_3 (V3) is TF's scalar placeholder, 0. Statistics are accumulated in double. */
#include <stdlib.h>
#include <string.h>

#include "ref_nn.h"

int ref_fused_batchnorm(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    static const char *names[5] = {"x", "scale", "offset", "mean", "variance"};
    bool training = node_attr_b(n, "is_training", true);
    double eps = node_attr_f(n, "epsilon", 1e-4f);
    double factor = node_attr_f(n, "exponential_avg_factor", 1.0f);
    const char *fmt = node_attr_s(n, "data_format", "NHWC");
    const Shape *xs = &in[0].shape;
    for (int i = 0; i < 5; i++)
        if (ref_require_f32(n, &in[i], names[i], err)) return -1;
    if (xs->rank < 2) return err_set(err, ERR_RUNTIME, "%s: x must have rank 4 or 5", n->op_name);
    int c_axis = (fmt[0] == 'N' && fmt[1] == 'C') ? 1 : xs->rank - 1;
    int64_t c_n = xs->dim[c_axis], outer = 1, inner = 1;
    for (int d = 0; d < c_axis; d++) outer *= xs->dim[d];
    for (int d = c_axis + 1; d < xs->rank; d++) inner *= xs->dim[d];
    bool stats_used = !training || factor != 1.0;
    for (int i = 1; i < 5; i++)
        if (tensor_numel(&in[i]) != c_n && (i < 3 || stats_used))
            return err_set(err, ERR_RUNTIME, "%s: %s has %lld elements, expected %lld (channels)", n->op_name, names[i],
                           (long long)tensor_numel(&in[i]), (long long)c_n);
    Shape vec = shape_make(1, &c_n);
    if (n->n_outputs < 5) return err_set(err, ERR_RUNTIME, "%s: needs 5 outputs, has %d", n->op_name, n->n_outputs);
    if (ref_require_shape(&out[0], xs, err)) return -1;
    for (int k = 0; k < 5; k++)
        if (ref_require_f32(n, &out[k], "output", err) || (k > 0 && ref_require_shape(&out[k], &vec, err))) return -1;

    const float *x = tensor_data(&in[0]), *scale = tensor_data(&in[1]), *offset = tensor_data(&in[2]);
    const float *mean_in = tensor_data(&in[3]), *var_in = tensor_data(&in[4]);
    float *y = tensor_mut(&out[0]);
    float *o_mean = tensor_mut(&out[1]), *o_var = tensor_mut(&out[2]);
    float *o_save_mean = tensor_mut(&out[3]), *o_save_var = tensor_mut(&out[4]);
    double *mean = calloc((size_t)c_n + 1, sizeof *mean), *var = calloc((size_t)c_n + 1, sizeof *var);
    int rc = -1;
    if ((!y && tensor_numel(&out[0])) || !mean || !var || (c_n && (!o_mean || !o_var || !o_save_mean || !o_save_var))) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    int64_t count = outer * inner; /* elements per channel */
    if (training) {
        for (int64_t o = 0; o < outer; o++)
            for (int64_t c = 0; c < c_n; c++)
                for (int64_t i = 0; i < inner; i++) mean[c] += x[(o * c_n + c) * inner + i];
        for (int64_t c = 0; c < c_n; c++) mean[c] = count ? mean[c] / (double)count : NAN;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t c = 0; c < c_n; c++)
                for (int64_t i = 0; i < inner; i++) {
                    double d = x[(o * c_n + c) * inner + i] - mean[c];
                    var[c] += d * d;
                }
        for (int64_t c = 0; c < c_n; c++) var[c] = count ? var[c] / (double)count : NAN;
    } else {
        for (int64_t c = 0; c < c_n; c++) {
            mean[c] = mean_in[c];
            var[c] = var_in[c];
        }
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < c_n; c++) {
            double mul = scale[c] / sqrt(var[c] + eps);
            for (int64_t i = 0; i < inner; i++) {
                int64_t at = (o * c_n + c) * inner + i;
                y[at] = (float)((x[at] - mean[c]) * mul + offset[c]);
            }
        }
    for (int64_t c = 0; c < c_n; c++) {
        if (training) {
            double bessel = count > 1 ? (double)count / (double)(count - 1) : 1.0;
            o_mean[c] = (float)(factor == 1.0 ? mean[c] : (1 - factor) * mean_in[c] + factor * mean[c]);
            o_var[c] = (float)(factor == 1.0 ? var[c] * bessel : (1 - factor) * var_in[c] + factor * bessel * var[c]);
        } else {
            o_mean[c] = (float)mean[c];
            o_var[c] = (float)var[c];
        }
        o_save_mean[c] = (float)mean[c];
        o_save_var[c] = (float)var[c];
    }
    rc = 0; /* reserve_space_3 (V3) stays the zero it was allocated as */
done:
    free(mean);
    free(var);
    return rc;
}
