/* ref_reduce.c - reference kernels for the reductions Mean, Sum, Max, Min, Prod and for ArgMax.
 *
 * Reductions walk the input once with the broadcast mapping of ref_bcast.h: the keep_dims
 * output shape broadcasts against the input, so each input element's accumulator slot is the
 * "broadcast offset" of the output. Floats accumulate in double and are rounded once; integers
 * accumulate in uint64 and wrap to the dtype's width (Mean divides the wrapped sum, truncating
 * toward zero, as TensorFlow's integer Mean does).
 * Empty reductions: Sum 0, Prod 1, Max -inf / the dtype's minimum, Min +inf / its maximum,
 * Mean NaN (float) / 0 (integer). Max and Min propagate NaN.
 * ArgMax: the first index of the maximum (ties -> smallest index); NaN counts as larger than
 * every number, so the first NaN along the axis wins. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"
#include "ref_bcast.h"
#include "ref_elem.h"

/* reads the axes tensor, normalizes negative axes and marks reduced[d]; rejects duplicates */
static int read_axes(const Node *n, const Tensor *axes_t, int rank, bool *reduced, Err *err) {
    int64_t axes[64];
    int count = tensor_to_i64(axes_t, axes, 64, err);
    if (count < 0) return err_prefix(err, "axes");
    for (int d = 0; d < rank; d++) reduced[d] = false;
    for (int i = 0; i < count; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 0 || a >= rank)
            return err_set(err, ERR_RUNTIME, "axis %lld out of range for rank %d", (long long)axes[i], rank);
        if (reduced[a]) return err_set(err, ERR_RUNTIME, "axis %lld listed twice", (long long)axes[i]);
        reduced[a] = true;
    }
    return 0;
}

/* accumulator slot state: float reductions keep a double, integer ones a wrapping uint64 */
typedef union Acc {
    double f;
    uint64_t u;
} Acc;

static void acc_init(OpId op, int dt, Acc *acc) {
    int is_float = dtype_is_float(dt);
    switch (op) {
    case OP_PROD: if (is_float) acc->f = 1.0; else acc->u = 1; break;
    case OP_MAX: if (is_float) acc->f = -INFINITY; else acc->u = (uint64_t)elem_int_min(dt); break;
    case OP_MIN: if (is_float) acc->f = INFINITY; else acc->u = (uint64_t)elem_int_max(dt); break;
    default: if (is_float) acc->f = 0.0; else acc->u = 0; break; /* Sum, Mean */
    }
}

static void acc_add_f(OpId op, Acc *acc, double x) {
    switch (op) {
    case OP_PROD: acc->f *= x; break;
    case OP_MAX: if (isnan(x) || x > acc->f) acc->f = x; break; /* a NaN acc stays: NaN > x is false */
    case OP_MIN: if (isnan(x) || x < acc->f) acc->f = x; break;
    default: acc->f += x; break;
    }
}

static void acc_add_i(OpId op, Acc *acc, int64_t x) {
    switch (op) {
    case OP_PROD: acc->u *= (uint64_t)x; break;
    case OP_MAX: if (x > (int64_t)acc->u) acc->u = (uint64_t)x; break;
    case OP_MIN: if (x < (int64_t)acc->u) acc->u = (uint64_t)x; break;
    default: acc->u += (uint64_t)x; break;
    }
}

int ref_reduce(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int dt = in[0].dtype;
    if (!dtype_is_float(dt) && !elem_is_int(dt))
        return err_set(err, ERR_RUNTIME, "dtype %s is not supported", dtype_name(dt));
    if (out[0].dtype != dt) return err_set(err, ERR_RUNTIME, "output dtype differs from input");
    const Shape *xs = &in[0].shape;
    bool reduced[MAX_RANK];
    if (read_axes(n, &in[1], xs->rank, reduced, err)) return -1;

    Shape keep = *xs; /* the output with keep_dims: reduced dims become 1 */
    int64_t count = 1; /* input elements per output element */
    for (int d = 0; d < xs->rank; d++)
        if (reduced[d]) { count *= xs->dim[d]; keep.dim[d] = 1; }
    int64_t n_out = shape_numel(&keep), n_in = shape_numel(xs);
    if (n_out != tensor_numel(&out[0]))
        return err_set(err, ERR_RUNTIME, "output has %lld elements, expected %lld",
                       (long long)tensor_numel(&out[0]), (long long)n_out);
    if (n_out == 0) return 0;
    const void *x = tensor_data(&in[0]);
    void *y = tensor_mut(&out[0]);
    if ((n_in > 0 && !x) || !y) return err_set(err, ERR_RUNTIME, "missing input or output data");
    Acc *acc = malloc((size_t)n_out * sizeof *acc);
    if (!acc) return err_set(err, ERR_RUNTIME, "out of memory");
    for (int64_t i = 0; i < n_out; i++) acc_init(n->op, dt, &acc[i]);

    int is_float = dtype_is_float(dt);
    if (n_in > 0) {
        Bcast bc;
        const Shape *shapes[2] = {xs, &keep};
        if (bcast_init(&bc, xs, shapes, 2)) { /* cannot happen: keep broadcasts to xs by construction */
            free(acc);
            return err_set(err, ERR_RUNTIME, "bad input shape");
        }
        int64_t rows = bcast_rows(&bc), len = bcast_row_len(&bc), step = bcast_step(&bc, 1);
        int64_t off[2];
        for (int64_t r = 0; r < rows; r++) {
            bcast_row_offsets(&bc, r, off); /* off[0] == r * len: the input is walked in order */
            for (int64_t j = 0; j < len; j++) {
                Acc *a = &acc[off[1] + j * step];
                if (is_float) acc_add_f(n->op, a, elem_get_f(x, dt, off[0] + j));
                else acc_add_i(n->op, a, elem_get_i(x, dt, off[0] + j));
            }
        }
    }

    for (int64_t i = 0; i < n_out; i++) {
        if (is_float) {
            double v = acc[i].f;
            if (n->op == OP_MEAN) v = count > 0 ? v / (double)count : NAN;
            elem_set_f(y, dt, i, v);
        } else {
            uint64_t v = acc[i].u;
            if (n->op == OP_MEAN) v = count > 0 ? (uint64_t)(elem_wrap_i(dt, v) / count) : 0;
            elem_set_i(y, dt, i, v);
        }
    }
    free(acc);
    return 0;
}

/* true when a beats the current best b (strictly, so ties keep the earlier index) */
static bool argmax_better_f(double a, double b) {
    if (isnan(b)) return false;
    return isnan(a) || a > b;
}

int ref_argmax(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int dt = in[0].dtype, out_dt = out[0].dtype;
    if (!dtype_is_float(dt) && !elem_is_int(dt))
        return err_set(err, ERR_RUNTIME, "dtype %s is not supported", dtype_name(dt));
    if (out_dt != DT_INT32 && out_dt != DT_INT64)
        return err_set(err, ERR_RUNTIME, "output_type %s is not supported", dtype_name(out_dt));
    int64_t axis_v[1];
    int n_axis = tensor_to_i64(&in[1], axis_v, 1, err);
    if (n_axis < 0) return err_prefix(err, "axis");
    if (n_axis != 1) return err_set(err, ERR_RUNTIME, "axis must be one integer, got none");
    const Shape *xs = &in[0].shape;
    int64_t axis = axis_v[0] < 0 ? axis_v[0] + xs->rank : axis_v[0];
    if (axis < 0 || axis >= xs->rank)
        return err_set(err, ERR_RUNTIME, "axis %lld out of range for rank %d", (long long)axis_v[0], xs->rank);

    int64_t outer = 1, inner = 1, len = xs->dim[axis];
    for (int d = 0; d < axis; d++) outer *= xs->dim[d];
    for (int d = (int)axis + 1; d < xs->rank; d++) inner *= xs->dim[d];
    if (outer * inner != tensor_numel(&out[0])) return err_set(err, ERR_RUNTIME, "output shape mismatch");
    if (outer * inner == 0) return 0;
    if (len == 0) return err_set(err, ERR_RUNTIME, "reduction axis %lld is empty", (long long)axis);
    const void *x = tensor_data(&in[0]);
    void *y = tensor_mut(&out[0]);
    if (!x || !y) return err_set(err, ERR_RUNTIME, "missing input or output data");

    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i, best = 0;
            if (dtype_is_float(dt)) {
                double best_v = elem_get_f(x, dt, base);
                for (int64_t k = 1; k < len; k++) {
                    double v = elem_get_f(x, dt, base + k * inner);
                    if (argmax_better_f(v, best_v)) { best_v = v; best = k; }
                }
            } else {
                int64_t best_v = elem_get_i(x, dt, base);
                for (int64_t k = 1; k < len; k++) {
                    int64_t v = elem_get_i(x, dt, base + k * inner);
                    if (v > best_v) { best_v = v; best = k; }
                }
            }
            elem_set_i(y, out_dt, o * inner + i, (uint64_t)best);
        }
    }
    return 0;
}
