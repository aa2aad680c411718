/* strided_slice.c - StridedSlice canonicalization with TensorFlow's exact semantics
 * (sparse spec -> dense per-dimension begin/stride/size, then the final shape). */
#include "strided_slice.h"

#include <string.h>

/* one entry of the final shape: an input dim, a new axis (size 1) or nothing (shrunk) */
enum { GATHER_SHRINK = -1, GATHER_NEW_AXIS = -2 };

static bool bit(int64_t mask, int i) { return (mask >> i) & 1; }

/* Clamps index x into the valid range of a dim of size `dim` for the given stride direction:
   [0, dim] going forward, [-1, dim-1] going backward (-1 = "before the first element").
   A masked begin/end takes the full extent in the stride's direction. */
static int64_t canonical_index(int64_t x, bool masked, bool is_end, int64_t stride, int64_t dim) {
    int64_t lo = stride > 0 ? 0 : -1;
    int64_t hi = stride > 0 ? dim : dim - 1;
    if (masked) {
        /* forward: begin = 0, end = dim; backward: begin = dim-1, end = -1 */
        if (stride > 0) return is_end ? hi : lo;
        return is_end ? lo : hi;
    }
    int64_t fwd = x < 0 ? dim + x : x;
    if (fwd < lo) return lo;
    if (fwd > hi) return hi;
    return fwd;
}

int strided_slice_canonicalize(const Shape *in, const int64_t *begin, const int64_t *end,
                               const int64_t *strides, int n_spec, const StridedSliceMasks *masks,
                               StridedSliceDense *out, Err *err) {
    memset(out, 0, sizeof *out);
    int rank = in->rank;
    if (rank < 0 || rank > MAX_RANK) return err_set(err, ERR_INPUT, "StridedSlice input rank %d is not supported", rank);
    if (n_spec < 0 || n_spec > STRIDED_SLICE_MAX_SPEC)
        return err_set(err, ERR_INPUT, "StridedSlice spec has %d entries (at most %d)", n_spec, STRIDED_SLICE_MAX_SPEC);
    int64_t ellipsis = masks->ellipsis & 0xffffffffLL;
    if (ellipsis & (ellipsis - 1)) return err_set(err, ERR_INPUT, "multiple ellipses in slice spec not allowed");

    /* Step 1: new axes that follow the ellipsis take room the ellipsis must leave; with no
       ellipsis, one is implied after the last entry. */
    int sparse_dims = n_spec, new_axes_after_ellipsis = 0;
    bool ellipsis_seen = false;
    for (int i = 0; i < n_spec; i++) {
        if (ellipsis_seen && bit(masks->new_axis, i)) new_axes_after_ellipsis++;
        if (bit(ellipsis, i)) ellipsis_seen = true;
    }
    if (!ellipsis_seen) {
        ellipsis |= (int64_t)1 << n_spec;
        sparse_dims++;
    }

    /* Step 2: dense spec, one entry per input dim */
    int64_t d_begin[MAX_RANK] = {0}, d_end[MAX_RANK] = {0}, d_stride[MAX_RANK];
    bool d_begin_mask[MAX_RANK] = {0}, d_end_mask[MAX_RANK] = {0}, d_shrink[MAX_RANK] = {0};
    int gather[STRIDED_SLICE_MAX_SPEC + MAX_RANK + 1], n_gather = 0;
    int full = 0;
    for (int i = 0; i < MAX_RANK; i++) d_stride[i] = 1;
    for (int i = 0; i < sparse_dims; i++) {
        if (bit(ellipsis, i)) {
            /* the ellipsis covers every input dim the remaining entries do not name */
            int next = rank - (sparse_dims - i) + 1 + new_axes_after_ellipsis;
            if (next > rank) next = rank;
            for (; full < next; full++) {
                d_begin_mask[full] = d_end_mask[full] = true;
                d_stride[full] = 1;
                gather[n_gather++] = full;
            }
        } else if (bit(masks->new_axis, i)) {
            gather[n_gather++] = GATHER_NEW_AXIS;
        } else {
            if (full == rank)
                return err_set(err, ERR_INPUT, "StridedSlice index out of range using input dim %d; input has only %d dims", full, rank);
            d_begin[full] = begin[i];
            d_end[full] = end[i];
            d_stride[full] = strides[i];
            d_begin_mask[full] = bit(masks->begin, i);
            d_end_mask[full] = bit(masks->end, i);
            if (bit(masks->shrink_axis, i)) {
                d_shrink[full] = true;
                gather[n_gather++] = GATHER_SHRINK;
            } else {
                gather[n_gather++] = full;
            }
            full++;
        }
    }

    /* Step 3: resolve masks, negative indices and clamping; size of each processed dim */
    out->rank = rank;
    out->processing.rank = rank;
    for (int i = 0; i < rank; i++) {
        int64_t dim = in->dim[i], s = d_stride[i];
        if (s == 0) return err_set(err, ERR_INPUT, "StridedSlice strides[%d] must be non-zero", i);
        int64_t b, e;
        if (d_shrink[i]) {
            /* x[k]: masks are ignored and end is begin+1 (x[-1] has begin -1, end 0) */
            if (s <= 0) return err_set(err, ERR_INPUT, "StridedSlice: only stride 1 allowed on non-range indexing (dim %d)", i);
            b = d_begin[i] < 0 ? dim + d_begin[i] : d_begin[i];
            if (b < 0 || b >= dim)
                return err_set(err, ERR_INPUT, "StridedSlice index %lld of dimension %d out of bounds (size %lld)",
                               (long long)d_begin[i], i, (long long)dim);
            e = b + 1;
        } else {
            b = canonical_index(d_begin[i], d_begin_mask[i], false, s, dim);
            e = canonical_index(d_end[i], d_end_mask[i], true, s, dim);
        }
        int64_t len = e - b, size;
        /* empty when the interval is degenerate or points against the stride */
        if (len == 0 || ((len < 0) != (s < 0))) size = 0;
        else size = len / s + (len % s != 0 ? 1 : 0);
        out->begin[i] = b;
        out->stride[i] = s;
        out->processing.dim[i] = size;
    }

    /* Step 4: final shape */
    out->final_shape.rank = 0;
    for (int k = 0; k < n_gather; k++) {
        if (gather[k] == GATHER_SHRINK) continue;
        if (out->final_shape.rank == MAX_RANK)
            return err_set(err, ERR_INPUT, "StridedSlice output rank exceeds %d", MAX_RANK);
        out->final_shape.dim[out->final_shape.rank++] = gather[k] == GATHER_NEW_AXIS ? 1 : out->processing.dim[gather[k]];
    }
    return 0;
}
