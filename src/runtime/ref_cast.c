/* ref_cast.c - reference kernel for Cast between float32, float16, bfloat16, int8, uint8, int32,
 * int64 and bool.
 *
 * Conversions (TensorFlow leaves several of them implementation-defined; grappo defines them so
 * that no C undefined behaviour is involved and results are the same on every machine):
 *   float -> float  round to nearest even (a single rounding of the exact value);
 *                   with Truncate=true, narrowing to float16/bfloat16 rounds toward zero.
 *   float -> int    NaN -> 0; otherwise truncate toward zero, then clamp to the destination's
 *                   range (300.0 -> uint8 255, -1.5 -> uint8 0, 1e10 -> int32 2147483647).
 *   int   -> int    two's complement wrap to the destination width (300 -> uint8 44,
 *                   -1 -> uint8 255), as C/TensorFlow static_cast.
 *   int   -> float  round to nearest even (int64 beyond 2^53 to float16/bfloat16 may round twice).
 *   any   -> bool   x != 0 (NaN -> true);  bool -> any: 0 or 1. */
#include <math.h>

#include "ref.h"
#include "ref_elem.h"

/* float16/bfloat16 bits for v rounded toward zero */
static void store_truncated(void *p, int dtype, int64_t i, double v) {
    elem_set_f(p, dtype, i, v); /* nearest even */
    double r = elem_get_f(p, dtype, i);
    if (!isnan(v) && fabs(r) > fabs(v)) /* rounded away from zero: step the magnitude down */
        ((uint16_t *)p)[i] = (uint16_t)(((uint16_t *)p)[i] - 1u);
}

static int64_t float_to_int_clamped(double v, int dtype) {
    if (isnan(v)) return 0;
    double t = trunc(v);
    int64_t lo = elem_int_min(dtype), hi = elem_int_max(dtype);
    if (t >= (double)hi) return hi; /* (double)INT64_MAX is 2^63: every t below it converts */
    if (t <= (double)lo) return lo;
    return (int64_t)t;
}

int ref_cast(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int src = in[0].dtype, dst = out[0].dtype;
    if (!dtype_is_supported(src) || !dtype_is_supported(dst))
        return err_set(err, ERR_RUNTIME, "cast from %s to %s is not supported", dtype_name(src),
                       dtype_name(dst));
    int64_t count = tensor_numel(&in[0]);
    if (count == 0) return 0;
    const void *x = tensor_data(&in[0]);
    void *y = tensor_mut(&out[0]);
    if (!x || !y) return err_set(err, ERR_RUNTIME, "missing input or output data");
    int truncate = node_attr_b(n, "Truncate", false) && (dst == DT_HALF || dst == DT_BFLOAT16);

    if (dtype_is_float(src)) {
        for (int64_t i = 0; i < count; i++) {
            double v = elem_get_f(x, src, i);
            if (dst == DT_BOOL) elem_set_i(y, dst, i, v != 0);
            else if (dtype_is_float(dst) && truncate) store_truncated(y, dst, i, v);
            else if (dtype_is_float(dst)) elem_set_f(y, dst, i, v);
            else elem_set_i(y, dst, i, (uint64_t)float_to_int_clamped(v, dst));
        }
    } else { /* integers and bool */
        for (int64_t i = 0; i < count; i++) {
            int64_t v = elem_get_i(x, src, i);
            if (dst == DT_FLOAT) ((float *)y)[i] = (float)v; /* one correctly rounded conversion */
            else if (dtype_is_float(dst) && truncate) store_truncated(y, dst, i, (double)v);
            else if (dtype_is_float(dst)) elem_set_f(y, dst, i, (double)v);
            else elem_set_i(y, dst, i, (uint64_t)v);
        }
    }
    return 0;
}
