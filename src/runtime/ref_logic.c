/* ref_logic.c - reference kernels for the comparisons (Equal, NotEqual, Less, LessEqual,
 * Greater, GreaterEqual), LogicalAnd/Or/Not, Select/SelectV2 and ZerosLike.
 *
 * Comparisons follow IEEE: any comparison with NaN is false except NotEqual, which is true.
 * Floats are compared as doubles (exact), integers as int64. Equal/NotEqual on shapes that do
 * not broadcast (incompatible_shape_error = false) give a scalar false/true. Select (v1) with a
 * vector condition picks whole rows of x or y; SelectV2 broadcasts all three inputs. */
#include <string.h>

#include "ref.h"
#include "ref_bcast.h"
#include "ref_elem.h"

static bool cmp_f(OpId op, double a, double b) {
    switch (op) {
    case OP_EQUAL: return a == b;
    case OP_NOT_EQUAL: return a != b; /* true for NaN */
    case OP_LESS: return a < b;
    case OP_LESS_EQUAL: return a <= b;
    case OP_GREATER: return a > b;
    case OP_GREATER_EQUAL: return a >= b;
    default: return false;
    }
}

static bool cmp_i(OpId op, int64_t a, int64_t b) {
    switch (op) {
    case OP_EQUAL: return a == b;
    case OP_NOT_EQUAL: return a != b;
    case OP_LESS: return a < b;
    case OP_LESS_EQUAL: return a <= b;
    case OP_GREATER: return a > b;
    case OP_GREATER_EQUAL: return a >= b;
    default: return false;
    }
}

int ref_compare(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int dt = in[0].dtype;
    if (in[1].dtype != dt || out[0].dtype != DT_BOOL) return err_set(err, ERR_RUNTIME, "dtypes do not match");
    uint8_t *y = tensor_mut(&out[0]);
    if (!y && tensor_numel(&out[0]) > 0) return err_set(err, ERR_RUNTIME, "missing output data");
    Bcast bc;
    const Shape *shapes[2] = {&in[0].shape, &in[1].shape};
    if (bcast_init(&bc, &out[0].shape, shapes, 2)) {
        /* incompatible shapes with incompatible_shape_error = false: the answer is a scalar */
        if (out[0].shape.rank == 0 && (n->op == OP_EQUAL || n->op == OP_NOT_EQUAL)) {
            y[0] = n->op == OP_NOT_EQUAL;
            return 0;
        }
        return err_set(err, ERR_RUNTIME, "inputs do not broadcast to the output shape");
    }
    if (tensor_numel(&out[0]) == 0) return 0;
    const void *a = tensor_data(&in[0]), *b = tensor_data(&in[1]);
    if (!a || !b) return err_set(err, ERR_RUNTIME, "missing input data");
    bool fl = dtype_is_float(dt);
    if (!fl && !elem_is_int(dt) && dt != DT_BOOL) return err_set(err, ERR_RUNTIME, "dtype %s is not supported", dtype_name(dt));
    int64_t rows = bcast_rows(&bc), len = bcast_row_len(&bc), sa = bcast_step(&bc, 0), sb = bcast_step(&bc, 1), off[2];
    for (int64_t r = 0; r < rows; r++) {
        bcast_row_offsets(&bc, r, off);
        uint8_t *yr = y + r * len;
        for (int64_t j = 0; j < len; j++) {
            int64_t ia = off[0] + j * sa, ib = off[1] + j * sb;
            yr[j] = fl ? cmp_f(n->op, elem_get_f(a, dt, ia), elem_get_f(b, dt, ib))
                       : cmp_i(n->op, elem_get_i(a, dt, ia), elem_get_i(b, dt, ib));
        }
    }
    return 0;
}

int ref_logical(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    uint8_t *y = tensor_mut(&out[0]);
    int64_t total = tensor_numel(&out[0]);
    if (total == 0) return 0;
    const uint8_t *a = tensor_data(&in[0]);
    if (!y || !a) return err_set(err, ERR_RUNTIME, "missing input or output data");
    if (n->op == OP_LOGICAL_NOT) {
        for (int64_t i = 0; i < total; i++) y[i] = !a[i];
        return 0;
    }
    const uint8_t *b = tensor_data(&in[1]);
    Bcast bc;
    const Shape *shapes[2] = {&in[0].shape, &in[1].shape};
    if (!b || bcast_init(&bc, &out[0].shape, shapes, 2)) return err_set(err, ERR_RUNTIME, "inputs do not broadcast to the output shape");
    int64_t rows = bcast_rows(&bc), len = bcast_row_len(&bc), sa = bcast_step(&bc, 0), sb = bcast_step(&bc, 1), off[2];
    for (int64_t r = 0; r < rows; r++) {
        bcast_row_offsets(&bc, r, off);
        for (int64_t j = 0; j < len; j++) {
            bool x0 = a[off[0] + j * sa] != 0, x1 = b[off[1] + j * sb] != 0;
            y[r * len + j] = n->op == OP_LOGICAL_AND ? (x0 && x1) : (x0 || x1);
        }
    }
    return 0;
}

int ref_select(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t es = dtype_size(out[0].dtype);
    int64_t total = tensor_numel(&out[0]);
    if (total == 0) return 0;
    const uint8_t *c = tensor_data(&in[0]);
    const char *x = tensor_data(&in[1]), *yv = tensor_data(&in[2]);
    char *o = tensor_mut(&out[0]);
    if (!c || !x || !yv || !o || !es) return err_set(err, ERR_RUNTIME, "missing input or output data");
    if (n->op == OP_SELECT) {
        int64_t nc = tensor_numel(&in[0]);
        /* a scalar picks everything, a vector picks rows, else element by element */
        int64_t block = shape_equal(&in[0].shape, &out[0].shape) ? 1 : in[0].shape.rank == 0 ? total : total / (nc ? nc : 1);
        for (int64_t i = 0; i < total; i += block) {
            const char *src = c[i / block] ? x : yv;
            memcpy(o + i * es, src + i * es, (size_t)block * es);
        }
        return 0;
    }
    Bcast bc;
    const Shape *shapes[3] = {&in[0].shape, &in[1].shape, &in[2].shape};
    if (bcast_init(&bc, &out[0].shape, shapes, 3)) return err_set(err, ERR_RUNTIME, "inputs do not broadcast to the output shape");
    int64_t rows = bcast_rows(&bc), len = bcast_row_len(&bc), off[3];
    int64_t sc = bcast_step(&bc, 0), sx = bcast_step(&bc, 1), sy = bcast_step(&bc, 2);
    for (int64_t r = 0; r < rows; r++) {
        bcast_row_offsets(&bc, r, off);
        for (int64_t j = 0; j < len; j++) {
            const char *src = c[off[0] + j * sc] ? x + (off[1] + j * sx) * (int64_t)es : yv + (off[2] + j * sy) * (int64_t)es;
            memcpy(o + (r * len + j) * (int64_t)es, src, es);
        }
    }
    return 0;
}

int ref_zeros_like(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)n; (void)in;
    void *y = tensor_mut(&out[0]);
    if (tensor_nbytes(&out[0]) && !y) return err_set(err, ERR_RUNTIME, "missing output data");
    if (y) memset(y, 0, tensor_nbytes(&out[0])); /* the plan's arena is not zeroed by itself */
    return 0;
}
