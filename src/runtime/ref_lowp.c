/* ref_lowp.c - bfloat16/float16 emulation for the reference kernels (see ref_lowp.h).
 *
 * A node such as Conv2D with T = bfloat16 runs as: every bfloat16/float16 input widened to
 * float32 (exact), the float32 reference kernel of the same op, every bfloat16/float16 output
 * rounded from that float32 result to nearest even. Inputs and outputs of other dtypes (the
 * float32 statistics of a bf16 FusedBatchNorm, int32 axes, ...) pass through untouched. */
#include <stdlib.h>
#include <string.h>

#include "ref_lowp.h"

static bool is_lowp(int dt) { return dt == DT_BFLOAT16 || dt == DT_HALF; }

/* ops whose reference kernel requires float32 (ref_require_f32): the ones a bf16/fp16 node
   must be emulated for. The elementwise math kernels (unary, binary, AddN, BiasAdd, Prelu)
   and the reductions take bfloat16/float16 directly, computing in double and rounding once
   (the correctly rounded result, which a float32-accumulating kernel reaches except at rare
   double-rounding ties); Cast converts by definition; data movement (Reshape, Transpose,
   ConcatV2, GatherV2, Pad, ...) moves the bits unchanged. */
static bool float_compute_op(OpId op) {
    switch (op) {
    case OP_CONV2D: case OP_DEPTHWISE_CONV2D: case OP_FUSED_CONV2D: case OP_FUSED_DEPTHWISE:
    case OP_FUSED_DEPTHWISE_INTERNAL: case OP_CONV2D_BACKPROP_INPUT:
    case OP_MATMUL: case OP_FUSED_MATMUL: case OP_BATCH_MATMUL: case OP_BATCH_MATMUL_V2: case OP_BATCH_MATMUL_V3:
    case OP_MAX_POOL: case OP_AVG_POOL:
    case OP_FUSED_BATCH_NORM: case OP_FUSED_BATCH_NORM_V2: case OP_FUSED_BATCH_NORM_V3:
    case OP_RESIZE_BILINEAR: case OP_RESIZE_NEAREST: case OP_SOFTMAX:
        return true;
    default:
        return false;
    }
}

bool ref_lowp_applies(const Node *n, const Tensor *in) {
    if (!float_compute_op(n->op)) return false;
    for (int k = 0; k < n->n_inputs; k++)
        if (is_lowp(in[k].dtype)) return true;
    for (int k = 0; k < n->n_outputs; k++)
        if (is_lowp(n->outputs[k].dtype)) return true;
    return false;
}

/* float32 copy of a bfloat16/float16 tensor (exact) */
static int widen(const Tensor *src, Tensor *dst, Err *err) {
    if (tensor_alloc(dst, DT_FLOAT, &src->shape, err)) return -1;
    int64_t count = tensor_numel(src);
    if (count == 0) return 0;
    const uint16_t *s = tensor_data(src);
    float *d = tensor_mut(dst);
    if (!s || !d) return err_set(err, ERR_RUNTIME, "missing data widening a %s tensor", dtype_name(src->dtype));
    for (int64_t i = 0; i < count; i++) d[i] = src->dtype == DT_BFLOAT16 ? bfloat16_to_float(s[i]) : half_to_float(s[i]);
    return 0;
}

/* dst (bfloat16/float16, allocated) = src (float32) rounded to nearest even */
static int narrow(const Tensor *src, Tensor *dst, Err *err) {
    int64_t count = tensor_numel(dst);
    if (src->dtype != DT_FLOAT || tensor_numel(src) != count)
        return err_set(err, ERR_RUNTIME, "the float32 kernel produced %s with %lld elements, expected float32 with %lld",
                       dtype_name(src->dtype), (long long)tensor_numel(src), (long long)count);
    if (count == 0) return 0;
    const float *s = tensor_data(src);
    uint16_t *d = tensor_mut(dst);
    if (!s || !d) return err_set(err, ERR_RUNTIME, "missing data narrowing to %s", dtype_name(dst->dtype));
    for (int64_t i = 0; i < count; i++) d[i] = dst->dtype == DT_BFLOAT16 ? float_to_bfloat16(s[i]) : float_to_half(s[i]);
    return 0;
}

int ref_lowp_emulate(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int n_in = n->n_inputs, n_out = n->n_outputs, rc = -1;
    Tensor *win = calloc((size_t)n_in + 1, sizeof *win);
    Tensor *wout = calloc((size_t)n_out + 1, sizeof *wout);
    bool *moved = calloc((size_t)n_out + 1, sizeof *moved);
    if (!win || !wout || !moved) {
        free(win);
        free(wout);
        free(moved);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    for (int k = 0; k < n_in; k++) {
        if (!is_lowp(in[k].dtype)) win[k] = tensor_share(&in[k]);
        else if (widen(&in[k], &win[k], err)) goto done;
    }
    /* float32 (and other) outputs are handed to the kernel as they are - moved, so the kernel
       may write or replace them as usual; low-precision ones get a float32 stand-in */
    for (int k = 0; k < n_out; k++) {
        if (!is_lowp(out[k].dtype)) {
            wout[k] = out[k];
            memset(&out[k], 0, sizeof out[k]);
            moved[k] = true;
        } else if (tensor_alloc(&wout[k], DT_FLOAT, &out[k].shape, err)) {
            goto done;
        }
    }
    if (ref_kernels[n->op](n, win, wout, err)) goto done;
    for (int k = 0; k < n_out; k++)
        if (!moved[k] && narrow(&wout[k], &out[k], err)) goto done;
    rc = 0;
done:
    for (int k = 0; k < n_in; k++) tensor_release(&win[k]);
    for (int k = 0; k < n_out; k++) {
        if (moved[k]) out[k] = wout[k]; /* give the moved output back */
        else tensor_release(&wout[k]);
    }
    free(win);
    free(wout);
    free(moved);
    return rc;
}
