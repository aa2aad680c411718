/* strided_slice.h - TensorFlow's StridedSlice index canonicalization (ValidateStridedSliceOp
 * semantics), shared by shape inference (graph/infer_slice.c) and the reference kernel
 * (runtime/ref_slice.c) so the two can never disagree.
 *
 * The "sparse" spec is what the op receives: begin/end/strides vectors of length n_spec plus
 * the five masks. Canonicalization expands the ellipsis (explicit, or implicit at the end),
 * places new axes, resolves negative indices, masks and clamping, and yields a "dense" spec
 * with one (begin, stride, size) per input dimension - the processing shape - and the final
 * output shape (shrunk dims removed, new axes inserted as 1). The elements of the output are
 * exactly the processing region walked in row-major order. */
#ifndef GRAPPO_STRIDED_SLICE_H
#define GRAPPO_STRIDED_SLICE_H

#include <stdint.h>

#include "../util/err.h"
#include "tensor.h"

/* TF keeps the masks in int32 and refuses specs of 32 or more entries */
#define STRIDED_SLICE_MAX_SPEC 31

typedef struct StridedSliceMasks {
    int64_t begin, end, ellipsis, new_axis, shrink_axis;
} StridedSliceMasks;

typedef struct StridedSliceDense {
    int rank;                  /* = input rank */
    int64_t begin[MAX_RANK];   /* first index read along each input dim (valid when size > 0) */
    int64_t stride[MAX_RANK];  /* step along each input dim (non-zero) */
    Shape processing;          /* number of indices read along each input dim */
    Shape final_shape;         /* the op's output shape */
} StridedSliceDense;

/* Canonicalizes a StridedSlice on an input of (fully known) shape `in`. begin, end, strides
   hold n_spec entries each. ERR_INPUT with TF-like messages on: zero stride, several
   ellipses, too many indices for the input rank, a shrunk index out of bounds, a negative
   stride on a shrunk axis, an output rank above MAX_RANK. */
int strided_slice_canonicalize(const Shape *in, const int64_t *begin, const int64_t *end,
                               const int64_t *strides, int n_spec, const StridedSliceMasks *masks,
                               StridedSliceDense *out, Err *err);

#endif
