/* ref_pad.c - reference Pad / PadV2 (constant border) and MirrorPad (REFLECT / SYMMETRIC). */
#include "ref_array.h"

#include <string.h>

/* Reads paddings ([rank, 2]) and checks them against the input and output shapes. */
static int read_paddings(const Node *n, const Tensor *in, const Tensor *out, int64_t *before, Err *err) {
    int64_t p[2 * MAX_RANK];
    Tensor flat = in[1];
    flat.shape = (Shape){.rank = 1, .dim = {tensor_numel(&in[1])}}; /* [rank, 2] read as a vector */
    int k = ref_read_ints(n, &flat, "paddings", p, 2 * MAX_RANK, err);
    if (k < 0) return -1;
    const Shape *is = &in[0].shape, *os = &out[0].shape;
    if (k != 2 * is->rank || os->rank != is->rank)
        return err_set(err, ERR_RUNTIME, "%s paddings has %d values for an input of rank %d", n->op_name, k, is->rank);
    for (int i = 0; i < is->rank; i++) {
        before[i] = p[2 * i];
        if (p[2 * i] < 0 || p[2 * i + 1] < 0 || p[2 * i] + is->dim[i] + p[2 * i + 1] != os->dim[i])
            return err_set(err, ERR_RUNTIME, "%s paddings for dimension %d do not match the output", n->op_name, i);
    }
    return 0;
}

int ref_pad(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[0], &esz, err)) return -1;
    int64_t before[MAX_RANK], zero[MAX_RANK] = {0}, one[MAX_RANK];
    if (read_paddings(n, in, out, before, err)) return -1;
    /* the border value: zero bytes for Pad (0, 0.0 and false in every dtype), the scalar's
       bytes for PadV2 */
    char *dst = out[0].buf->data;
    int64_t total = tensor_numel(&out[0]);
    if (n->op == OP_PAD_V2) {
        if (in[2].dtype != in[0].dtype || tensor_numel(&in[2]) != 1 || !in[2].buf)
            return err_set(err, ERR_RUNTIME, "PadV2 constant_values must be a %s scalar", dtype_name(in[0].dtype));
        for (int64_t e = 0; e < total; e++) memcpy(dst + e * (int64_t)esz, tensor_data(&in[2]), esz);
    } else {
        memset(dst, 0, (size_t)total * esz);
    }
    for (int i = 0; i < MAX_RANK; i++) one[i] = 1;
    ref_copy_box(dst, &out[0].shape, before, tensor_data(&in[0]), &in[0].shape, zero, one, &in[0].shape, esz);
    return 0;
}

int ref_mirror_pad(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &in[0], &esz, err)) return -1;
    const char *mode = node_attr_s(n, "mode", "");
    /* REFLECT mirrors around the edge element (excluded), SYMMETRIC around the edge itself */
    int offset;
    if (!strcmp(mode, "REFLECT")) offset = 1;
    else if (!strcmp(mode, "SYMMETRIC")) offset = 0;
    else return err_set(err, ERR_RUNTIME, "MirrorPad mode \"%s\" is not supported", mode);
    int64_t before[MAX_RANK];
    if (read_paddings(n, in, out, before, err)) return -1;
    const Shape *is = &in[0].shape, *os = &out[0].shape;
    int r = is->rank;
    for (int i = 0; i < r; i++) {
        int64_t after = os->dim[i] - is->dim[i] - before[i];
        if (before[i] > is->dim[i] - offset || after > is->dim[i] - offset)
            return err_set(err, ERR_RUNTIME, "MirrorPad %s paddings too large for dimension %d", mode, i);
    }
    int64_t in_str[MAX_RANK], idx[MAX_RANK] = {0};
    ref_strides(is, in_str);
    int64_t total = tensor_numel(&out[0]);
    const char *src = tensor_data(&in[0]);
    char *dst = out[0].buf->data;
    for (int64_t e = 0; e < total; e++) {
        int64_t off = 0;
        for (int i = 0; i < r; i++) {
            int64_t c = idx[i] - before[i], d = is->dim[i];
            if (c < 0) c = -c - 1 + offset;              /* left border, mirrored */
            else if (c >= d) c = 2 * d - 1 - offset - c; /* right border, mirrored */
            off += c * in_str[i];
        }
        memcpy(dst + e * (int64_t)esz, src + off * (int64_t)esz, esz);
        for (int i = r - 1; i >= 0; i--) {
            if (++idx[i] < os->dim[i]) break;
            idx[i] = 0;
        }
    }
    return 0;
}
