/* ref_fused_ew.c - reference kernel for GrappoFusedElementwise (docs/ops.md).
 *
 * Per output element i (row-major over x0's shape): acc = x0[i]; for each step,
 * acc = (float)step(acc, x_k[i broadcast]) computed in double (fused_ew.h few_step_d), i.e.
 * rounded to float32 after EVERY step, exactly as the chain of stock reference kernels
 * (ref_unary.c, ref_binary.c) computes it: the fused op equals the unfused chain bit for bit.
 * Operands are walked with per-dimension element strides (0 where broadcast), advanced as an
 * odometer over x0's shape. */
#include <stdlib.h>

#include "../graph/fused_ew.h"
#include "ref_nn.h"

int ref_fused_ew(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    for (int i = 0; i < n->n_inputs; i++)
        if (ref_require_f32(n, &in[i], "input", err)) return -1;
    if (ref_require_f32(n, &out[0], "output", err) || ref_require_shape(&out[0], &in[0].shape, err)) return -1;
    FewStep *steps = malloc(sizeof *steps * FEW_MAX_STEPS);
    int64_t(*stride)[MAX_RANK] = calloc((size_t)n->n_inputs, sizeof *stride);
    int64_t *off = calloc((size_t)n->n_inputs, sizeof *off);
    const float **src = calloc((size_t)n->n_inputs, sizeof *src);
    int rc = -1, n_steps = 0;
    if (!steps || !stride || !off || !src) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    if (few_parse_program(n, steps, FEW_MAX_STEPS, &n_steps, err)) goto done;
    const Shape *xs = &in[0].shape;
    int rank = xs->rank;
    for (int k = 0; k < n->n_inputs; k++) { /* right-aligned strides, 0 along broadcast dims */
        const Shape *s = &in[k].shape;
        if (s->rank > rank) {
            err_set(err, ERR_RUNTIME, "%s: operand %d has a higher rank than x0", n->op_name, k);
            goto done;
        }
        int64_t contiguous = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int j = d - (rank - s->rank);
            int64_t dim = j >= 0 ? s->dim[j] : 1;
            if (dim != 1 && dim != xs->dim[d]) {
                err_set(err, ERR_RUNTIME, "%s: operand %d does not broadcast to x0's shape", n->op_name, k);
                goto done;
            }
            stride[k][d] = dim == 1 ? 0 : contiguous;
            contiguous *= dim;
        }
        src[k] = tensor_data(&in[k]);
    }
    int64_t total = tensor_numel(&in[0]);
    float *y = total > 0 ? tensor_mut(&out[0]) : NULL;
    if (total > 0 && !y) {
        err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);
        goto done;
    }
    int64_t idx[MAX_RANK] = {0};
    for (int64_t i = 0; i < total; i++) {
        float acc = src[0][off[0]];
        for (int s = 0; s < n_steps; s++) {
            int k = steps[s].operand;
            double b = k ? (double)src[k][off[k]] : 0.0;
            acc = (float)few_step_d(steps[s].kind, acc, b);
        }
        y[i] = acc;
        for (int d = rank - 1; d >= 0; d--) { /* odometer: next index, offsets follow */
            for (int k = 0; k < n->n_inputs; k++) off[k] += stride[k][d];
            if (++idx[d] < xs->dim[d]) break;
            for (int k = 0; k < n->n_inputs; k++) off[k] -= stride[k][d] * xs->dim[d];
            idx[d] = 0;
        }
    }
    rc = 0;
done:
    free(steps);
    free(stride);
    free(off);
    free(src);
    return rc;
}
