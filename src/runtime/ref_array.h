/* ref_array.h - helpers shared by the data-movement reference kernels (reshape, transpose,
 * concat/split, slice, gather, pad, tile, fill, one-hot). They move bytes: every supported
 * dtype works through its element size, never through per-dtype code. */
#ifndef GRAPPO_REF_ARRAY_H
#define GRAPPO_REF_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "ref.h"

/* Bytes per element of t, which must be a supported dtype holding data (ERR_RUNTIME naming
   the op and dtype otherwise). */
int ref_elem_size(const Node *n, const Tensor *t, size_t *esz, Err *err);

/* Row-major element strides of s (innermost stride 1). */
void ref_strides(const Shape *s, int64_t *strides);

/* Product of s->dim[from..to). */
int64_t ref_dims_product(const Shape *s, int from, int to);

/* Element i of an integer tensor (int8, uint8, int32 or int64), as int64. */
int64_t ref_index_at(const Tensor *t, int64_t i);

/* Reads a known 1-D or scalar int32/int64 input into v[cap]; returns the count or -1 with
   err naming `what`. */
int ref_read_ints(const Node *n, const Tensor *t, const char *what, int64_t *v, int cap, Err *err);

/* Makes *out a view of in's buffer with the shape *out already had (Reshape, Squeeze,
   ExpandDims). ERR_RUNTIME if the element counts differ. */
int ref_alias_input(const Node *n, const Tensor *in, Tensor *out, Err *err);

/* Copies a box of `box` shape from src to dst. Box element idx is read from src at
   src_begin + idx * src_step (per dim, in src_shape coordinates; steps may be negative) and
   written to dst at dst_begin + idx (in dst_shape coordinates). All three shapes have the
   same rank; every addressed element must lie inside its tensor. */
void ref_copy_box(void *dst, const Shape *dst_shape, const int64_t *dst_begin,
                  const void *src, const Shape *src_shape, const int64_t *src_begin, const int64_t *src_step,
                  const Shape *box, size_t esz);

#endif
