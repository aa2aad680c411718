/* ref_tile.c - reference Tile: out[i] = in[i mod in_shape] along every dim. */
#include "ref_array.h"

#include <string.h>

int ref_tile(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[0], &esz, err)) return -1;
    int64_t mult[MAX_RANK];
    int r = ref_read_ints(n, &in[1], "multiples", mult, MAX_RANK, err);
    if (r < 0) return -1;
    const Shape *is = &in[0].shape, *os = &out[0].shape;
    if (r != is->rank || os->rank != r) return err_set(err, ERR_RUNTIME, "Tile multiples has %d entries, input rank is %d", r, is->rank);
    for (int i = 0; i < r; i++)
        if (mult[i] < 0 || is->dim[i] * mult[i] != os->dim[i])
            return err_set(err, ERR_RUNTIME, "Tile multiples[%d] = %lld does not match the output", i, (long long)mult[i]);
    int64_t total = tensor_numel(&out[0]);
    if (total == 0) return 0;
    const char *src = tensor_data(&in[0]);
    char *dst = out[0].buf->data;
    if (r == 0) { memcpy(dst, src, esz); return 0; }
    /* walk output rows (all dims but the last); each is the matching input row repeated */
    int64_t in_str[MAX_RANK], idx[MAX_RANK] = {0};
    ref_strides(is, in_str);
    int64_t in_row = is->dim[r - 1], rows = total / os->dim[r - 1];
    size_t row_bytes = (size_t)in_row * esz;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int i = 0; i < r - 1; i++) off += (idx[i] % is->dim[i]) * in_str[i];
        for (int64_t m = 0; m < mult[r - 1]; m++) {
            memcpy(dst, src + off * (int64_t)esz, row_bytes);
            dst += row_bytes;
        }
        for (int i = r - 2; i >= 0; i--) {
            if (++idx[i] < os->dim[i]) break;
            idx[i] = 0;
        }
    }
    return 0;
}
