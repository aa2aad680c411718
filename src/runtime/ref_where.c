/* ref_where.c - reference Where (one input): the coordinates of every non-zero (true)
 * element, in row-major order, as an int64 [count, rank] tensor. NaN counts as non-zero, -0 as
 * zero. The count is known only when the input is, so the kernel allocates its output. */
#include "ref.h"
#include "ref_elem.h"

int ref_where(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    const Tensor *x = &in[0];
    int dt = x->dtype, rank = x->shape.rank;
    int64_t total = tensor_numel(x), count = 0;
    const void *xd = tensor_data(x);
    if (total && !xd) return err_set(err, ERR_RUNTIME, "missing input data");
    bool fl = dtype_is_float(dt);
    for (int64_t i = 0; i < total; i++) count += fl ? elem_get_f(xd, dt, i) != 0 : elem_get_i(xd, dt, i) != 0;
    Shape s = {.rank = 2, .dim = {count, rank}};
    if (ref_dyn_output(n, &out[0], DT_INT64, &s, err)) return -1;
    int64_t *y = tensor_mut(&out[0]), row = 0;
    for (int64_t i = 0; i < total; i++) {
        if (fl ? elem_get_f(xd, dt, i) == 0 : elem_get_i(xd, dt, i) == 0) continue;
        int64_t rem = i;
        for (int d = rank - 1; d >= 0; d--) {
            y[row * rank + d] = rem % x->shape.dim[d];
            rem /= x->shape.dim[d];
        }
        row++;
    }
    return 0;
}
