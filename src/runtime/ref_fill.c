/* ref_fill.c - reference Fill: every output element is the scalar `value`. */
#include "ref_array.h"

#include <string.h>

int ref_fill(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[1], &esz, err)) return -1;
    if (tensor_numel(&in[1]) != 1 || in[1].dtype != out[0].dtype)
        return err_set(err, ERR_RUNTIME, "Fill value must be a %s scalar", dtype_name(out[0].dtype));
    int64_t total = tensor_numel(&out[0]);
    char *dst = out[0].buf->data;
    for (int64_t e = 0; e < total; e++) memcpy(dst + e * (int64_t)esz, tensor_data(&in[1]), esz);
    return 0;
}
