/* ref_binary.c - reference kernel for the broadcasting binary ops (Add, AddV2, Sub, Mul, RealDiv,
 * Maximum, Minimum, SquaredDifference, Pow, FloorDiv, FloorMod, Atan2).
 *
 * Float dtypes are computed in double and rounded once (for + - * / that is exactly the
 * float result). Maximum/Minimum return NaN when either operand is NaN. Integer dtypes
 * (int8, uint8, int32, int64) compute in uint64 and wrap to the dtype's width; integer Pow
 * uses repeated squaring (wrapping) and rejects negative exponents, as TensorFlow does.
 * RealDiv and Atan2 are float-only.
 *
 * FloorDiv and FloorMod follow TensorFlow: integers round the quotient towards -inf
 * (-7 // 2 = -4) and the remainder takes the divisor's sign (-7 mod 2 = 1, 7 mod -2 = -1);
 * an integer divisor of 0 is an error ("Integer division by zero"); the most negative value
 * divided by -1 wraps to itself. Floats: FloorDiv = floor of the quotient rounded to the dtype
 * (so 1 // 0 = inf, x // -inf = -0); FloorMod = fmod(x, y), plus y when that is non-zero and
 * its sign differs from y's (so 1 mod 0 = NaN and -1 mod inf = inf, as in TensorFlow). */
#include <math.h>

#include "ref_binary.h"

#include "ref.h"
#include "ref_bcast.h"
#include "ref_elem.h"

static double binary_f(OpId op, double a, double b) {
    switch (op) {
    case OP_ADD: case OP_ADD_V2: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_REAL_DIV: return a / b;
    case OP_MAXIMUM: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    case OP_MINIMUM: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    case OP_SQUARED_DIFFERENCE: return (a - b) * (a - b);
    case OP_POW: return pow(a, b);
    case OP_FLOOR_DIV: return floor(a / b); /* callers round a / b to the dtype first */
    case OP_FLOOR_MOD: {
        double m = fmod(a, b);
        return m != 0 && ((b < 0) != (m < 0)) ? m + b : m;
    }
    case OP_ATAN2: return atan2(a, b);
    default: return NAN;
    }
}

/* a^b for b >= 0, wrapping modulo 2^64 (the caller wraps further to the dtype's width) */
static uint64_t ipow(int64_t a, int64_t b) {
    uint64_t result = 1, base = (uint64_t)a;
    for (uint64_t e = (uint64_t)b; e; e >>= 1) {
        if (e & 1) result *= base;
        base *= base;
    }
    return result;
}

static uint64_t binary_i(OpId op, int64_t a, int64_t b) {
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (op) {
    case OP_ADD: case OP_ADD_V2: return ua + ub;
    case OP_SUB: return ua - ub;
    case OP_MUL: return ua * ub;
    case OP_MAXIMUM: return a > b ? ua : ub;
    case OP_MINIMUM: return a < b ? ua : ub;
    case OP_SQUARED_DIFFERENCE: return (ua - ub) * (ua - ub);
    case OP_POW: return ipow(a, b);
    case OP_FLOOR_DIV: /* b != 0 (checked by the caller) */
        if (b == -1) return 0u - ua; /* INT64_MIN / -1 wraps instead of trapping */
        return (uint64_t)(a / b - ((a % b != 0) && ((a < 0) != (b < 0))));
    case OP_FLOOR_MOD: {
        if (b == -1) return 0u;
        int64_t m = a % b;
        return (uint64_t)(m != 0 && ((m < 0) != (b < 0)) ? m + b : m);
    }
    default: return 0;
    }
}

static int int_supported(OpId op) { return op != OP_REAL_DIV && op != OP_ATAN2; }

/* a / b correctly rounded to float dtype dt (double division of two floats of at most 24
   bits, rounded once more, is the correctly rounded float quotient), as TensorFlow's FloorDiv
   divides in the dtype before taking the floor */
static double div_in_dtype(int dt, double a, double b) {
    double q = a / b;
    if (dt == DT_FLOAT) return (float)q;
    if (dt == DT_HALF) return half_to_float(float_to_half((float)q));
    return bfloat16_to_float(float_to_bfloat16((float)q));
}

static double binary_dt(OpId op, int dt, double a, double b) {
    return op == OP_FLOOR_DIV ? floor(div_in_dtype(dt, a, b)) : binary_f(op, a, b);
}

int ref_binary_op(OpId op, const Tensor *a_t, const Tensor *b_t, Tensor *y_t, Err *err) {
    int dt = a_t->dtype;
    if (b_t->dtype != dt || y_t->dtype != dt)
        return err_set(err, ERR_RUNTIME, "dtypes differ: %s, %s -> %s", dtype_name(dt),
                       dtype_name(b_t->dtype), dtype_name(y_t->dtype));
    int is_float = dtype_is_float(dt);
    if (!is_float && !(elem_is_int(dt) && int_supported(op)))
        return err_set(err, ERR_RUNTIME, "dtype %s is not supported", dtype_name(dt));
    Bcast bc;
    const Shape *shapes[2] = {&a_t->shape, &b_t->shape};
    if (bcast_init(&bc, &y_t->shape, shapes, 2))
        return err_set(err, ERR_RUNTIME, "inputs do not broadcast to the output shape");
    if (tensor_numel(y_t) == 0) return 0;
    const void *a = tensor_data(a_t), *b = tensor_data(b_t);
    void *y = tensor_mut(y_t);
    if (!a || !b || !y) return err_set(err, ERR_RUNTIME, "missing input or output data");

    int64_t rows = bcast_rows(&bc), len = bcast_row_len(&bc);
    int64_t sa = bcast_step(&bc, 0), sb = bcast_step(&bc, 1);
    int64_t off[2];
    for (int64_t r = 0; r < rows; r++) {
        bcast_row_offsets(&bc, r, off);
        int64_t o = r * len;
        if (dt == DT_FLOAT) { /* the common case without per-element dtype dispatch */
            const float *af = (const float *)a + off[0], *bf = (const float *)b + off[1];
            float *yf = (float *)y + o;
            if (op == OP_FLOOR_DIV)
                for (int64_t j = 0; j < len; j++) yf[j] = floorf(af[j * sa] / bf[j * sb]);
            else
                for (int64_t j = 0; j < len; j++) yf[j] = (float)binary_f(op, af[j * sa], bf[j * sb]);
        } else if (is_float) {
            for (int64_t j = 0; j < len; j++)
                elem_set_f(y, dt, o + j,
                           binary_dt(op, dt, elem_get_f(a, dt, off[0] + j * sa), elem_get_f(b, dt, off[1] + j * sb)));
        } else {
            for (int64_t j = 0; j < len; j++) {
                int64_t x0 = elem_get_i(a, dt, off[0] + j * sa), x1 = elem_get_i(b, dt, off[1] + j * sb);
                if (op == OP_POW && x1 < 0)
                    return err_set(err, ERR_INPUT, "integers to negative integer powers are not allowed");
                if ((op == OP_FLOOR_DIV || op == OP_FLOOR_MOD) && x1 == 0)
                    return err_set(err, ERR_INPUT, "Integer division by zero");
                elem_set_i(y, dt, o + j, binary_i(op, x0, x1));
            }
        }
    }
    return 0;
}

int ref_binary(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    return ref_binary_op(n->op, &in[0], &in[1], &out[0], err);
}
