/* ref_concat.c - reference kernels joining tensors along an axis (ConcatV2, Pack) and
 * splitting one (Split, SplitV, Unpack). Viewed as [outer, axis*inner] matrices, a join
 * copies, for each outer row, every piece's row after the other; a split does the reverse. */
#include "ref_array.h"

#include <stdlib.h>
#include <string.h>

/* dst row o = src_0 row o ++ src_1 row o ++ ...; piece k's rows are chunk[k] bytes */
static void join_rows(char *dst, const char *const *src, const size_t *chunk, int pieces, int64_t outer) {
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < pieces; k++) {
            if (chunk[k]) memcpy(dst, src[k] + o * (int64_t)chunk[k], chunk[k]);
            dst += chunk[k];
        }
}

static void split_rows(char *const *dst, const char *src, const size_t *chunk, int pieces, int64_t outer) {
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < pieces; k++) {
            if (chunk[k]) memcpy(dst[k] + o * (int64_t)chunk[k], src, chunk[k]);
            src += chunk[k];
        }
}

/* Joins in[0..pieces) along `axis` of the output; with `stacked` (Pack) each input
   contributes one slice of the new axis. */
static int join(const Node *n, const Tensor *in, int pieces, int axis, bool stacked, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, &out[0], &esz, err)) return -1;
    const Shape *os = &out[0].shape;
    int64_t outer = ref_dims_product(os, 0, axis), inner = ref_dims_product(os, axis + 1, os->rank);
    const char **src = malloc((size_t)pieces * sizeof *src);
    size_t *chunk = malloc((size_t)pieces * sizeof *chunk);
    if (!src || !chunk) { free(src); free(chunk); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int64_t along = 0;
    int rc = 0;
    for (int k = 0; k < pieces && rc == 0; k++) {
        size_t e;
        if (in[k].dtype != out[0].dtype || ref_elem_size(n, &in[k], &e, err)) {
            rc = err_set(err, ERR_RUNTIME, "%s input %d has dtype %s, output %s", n->op_name, k,
                         dtype_name(in[k].dtype), dtype_name(out[0].dtype));
            break;
        }
        if (in[k].shape.rank != os->rank - (stacked ? 1 : 0)) {
            rc = err_set(err, ERR_RUNTIME, "%s input %d has rank %d, output %d", n->op_name, k, in[k].shape.rank, os->rank);
            break;
        }
        int64_t width = stacked ? 1 : in[k].shape.dim[axis];
        src[k] = tensor_data(&in[k]);
        chunk[k] = (size_t)(width * inner) * esz;
        along += width;
        if (tensor_numel(&in[k]) != outer * width * inner)
            rc = err_set(err, ERR_RUNTIME, "%s input %d does not match the output shape", n->op_name, k);
    }
    if (rc == 0 && along != os->dim[axis]) rc = err_set(err, ERR_RUNTIME, "%s inputs do not fill the output", n->op_name);
    if (rc == 0) join_rows(out[0].buf->data, src, chunk, pieces, outer);
    free(src);
    free(chunk);
    return rc;
}

/* Splits `value` along `axis` into out[0..n_outputs); with `unstacked` (Unpack) each output
   takes one slice and lacks the axis. */
static int split(const Node *n, const Tensor *value, int axis, bool unstacked, Tensor *out, Err *err) {
    size_t esz;
    if (ref_elem_size(n, value, &esz, err)) return -1;
    const Shape *vs = &value->shape;
    if (axis < 0 || axis >= vs->rank) return err_set(err, ERR_RUNTIME, "%s axis %d out of range", n->op_name, axis);
    int pieces = n->n_outputs;
    int64_t outer = ref_dims_product(vs, 0, axis), inner = ref_dims_product(vs, axis + 1, vs->rank);
    char **dst = malloc((size_t)pieces * sizeof *dst);
    size_t *chunk = malloc((size_t)pieces * sizeof *chunk);
    if (!dst || !chunk) { free(dst); free(chunk); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int64_t along = 0;
    int rc = 0;
    for (int k = 0; k < pieces && rc == 0; k++) {
        if (out[k].shape.rank != vs->rank - (unstacked ? 1 : 0)) {
            rc = err_set(err, ERR_RUNTIME, "%s output %d has rank %d, input %d", n->op_name, k, out[k].shape.rank, vs->rank);
            break;
        }
        int64_t width = unstacked ? 1 : out[k].shape.dim[axis];
        dst[k] = out[k].buf ? out[k].buf->data : NULL;
        chunk[k] = (size_t)(width * inner) * esz;
        along += width;
        if (out[k].dtype != value->dtype || tensor_numel(&out[k]) != outer * width * inner)
            rc = err_set(err, ERR_RUNTIME, "%s output %d does not match the input", n->op_name, k);
    }
    if (rc == 0 && along != vs->dim[axis]) rc = err_set(err, ERR_RUNTIME, "%s outputs do not cover the input", n->op_name);
    if (rc == 0) split_rows(dst, tensor_data(value), chunk, pieces, outer);
    free(dst);
    free(chunk);
    return rc;
}

/* normalizes an axis in [-rank, rank) */
static int norm_axis(const Node *n, int64_t axis, int rank, int *out, Err *err) {
    if (axis < -rank || axis >= rank)
        return err_set(err, ERR_RUNTIME, "%s axis %lld is not in [%d, %d)", n->op_name, (long long)axis, -rank, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

int ref_concat(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int pieces = n->n_inputs - 1;
    int64_t a;
    if (ref_read_ints(n, &in[pieces], "axis", &a, 1, err) < 0) return -1;
    int axis = 0;
    if (norm_axis(n, a, out[0].shape.rank, &axis, err)) return -1;
    return join(n, in, pieces, axis, false, out, err);
}

int ref_pack(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int axis = 0;
    if (norm_axis(n, node_attr_i(n, "axis", 0), out[0].shape.rank, &axis, err)) return -1;
    return join(n, in, n->n_inputs, axis, true, out, err);
}

int ref_split(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int64_t a;
    if (ref_read_ints(n, &in[0], "axis", &a, 1, err) < 0) return -1;
    int axis = 0;
    if (norm_axis(n, a, in[1].shape.rank, &axis, err)) return -1;
    return split(n, &in[1], axis, false, out, err);
}

int ref_split_v(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int64_t a;
    if (ref_read_ints(n, &in[2], "axis", &a, 1, err) < 0) return -1;
    int axis = 0;
    if (norm_axis(n, a, in[0].shape.rank, &axis, err)) return -1;
    return split(n, &in[0], axis, false, out, err);
}

int ref_unpack(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int axis = 0;
    if (norm_axis(n, node_attr_i(n, "axis", 0), in[0].shape.rank, &axis, err)) return -1;
    return split(n, &in[0], axis, true, out, err);
}
