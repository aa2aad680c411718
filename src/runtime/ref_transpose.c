/* ref_transpose.c - reference Transpose: out[i0..ir] = in[j] where j[perm[k]] = i_k. */
#include "ref_array.h"

#include <string.h>

int ref_transpose(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[0], &esz, err)) return -1;
    int64_t perm[MAX_RANK];
    int r = ref_read_ints(n, &in[1], "perm", perm, MAX_RANK, err);
    if (r < 0) return -1;
    const Shape *is = &in[0].shape, *os = &out[0].shape;
    if (r != is->rank || os->rank != r) return err_set(err, ERR_RUNTIME, "Transpose perm has %d entries, input rank is %d", r, is->rank);
    for (int k = 0; k < r; k++)
        if (perm[k] < 0 || perm[k] >= r || os->dim[k] != is->dim[perm[k]])
            return err_set(err, ERR_RUNTIME, "Transpose perm[%d] = %lld does not match the output shape", k, (long long)perm[k]);
    int64_t in_str[MAX_RANK], step[MAX_RANK], idx[MAX_RANK] = {0};
    ref_strides(is, in_str);
    /* moving one step along output dim k moves in_str[perm[k]] elements in the input */
    for (int k = 0; k < r; k++) step[k] = in_str[perm[k]];
    int64_t total = shape_numel(os);
    const char *src = tensor_data(&in[0]);
    char *dst = out[0].buf->data;
    int64_t off = 0;
    for (int64_t e = 0; e < total; e++) {
        memcpy(dst + e * (int64_t)esz, src + off * (int64_t)esz, esz);
        /* advance the output index like an odometer, keeping the input offset in step */
        for (int k = r - 1; k >= 0; k--) {
            off += step[k];
            if (++idx[k] < os->dim[k]) break;
            off -= step[k] * idx[k];
            idx[k] = 0;
        }
    }
    return 0;
}
