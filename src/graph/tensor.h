/* tensor.h - shapes and dense tensors.
 *
 * A Tensor is a small value (dtype, shape, pointer to a reference-counted buffer). Copying a
 * Tensor struct does not copy data: use tensor_share() to take another reference and
 * tensor_release() to drop one. Buffers are shared between graph clones (weights of a
 * 100 MB model are not duplicated by clone); tensor_mut() copies on write when shared.
 * Reference counts are atomic so read-only sharing across threads is safe. */
#ifndef GRAPPO_TENSOR_H
#define GRAPPO_TENSOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"
#include "dtype.h"

#define MAX_RANK 8
/* Largest tensor grappo agrees to allocate or load (bytes). Anything larger is treated as bad
 * input (e.g. a shape of 2^40 elements in a hostile .pb), not as an allocation to attempt. */
#define TENSOR_MAX_BYTES ((size_t)1 << 34)

typedef struct Shape {
    int rank;              /* -1 = unknown rank */
    int64_t dim[MAX_RANK]; /* -1 = unknown dimension */
} Shape;

/* shape literals: shape_make(3, (int64_t[]){1, 2, 3}) */
Shape shape_make(int rank, const int64_t *dims);
Shape shape_scalar(void);
Shape shape_unknown(void);
bool shape_is_known(const Shape *s); /* known rank and every dim >= 0 */
bool shape_equal(const Shape *a, const Shape *b);
/* number of elements; -1 if unknown; -2 on overflow past INT64_MAX */
int64_t shape_numel(const Shape *s);
/* "[1,224,224,3]" (unknown dims as ?, unknown rank as "<unknown>") into buf; returns buf */
char *shape_str(const Shape *s, char *buf, size_t cap);

typedef struct TensorBuf {
    atomic_int refs;
    size_t nbytes;
    void *data;  /* 64-byte aligned when owned */
    bool owned;  /* false: data belongs to someone else (a plan's arena); release frees only the TensorBuf */
} TensorBuf;

typedef struct Tensor {
    int dtype; /* a DType value; opaque dtypes have buf == NULL */
    Shape shape;
    TensorBuf *buf; /* NULL = no data (unknown value, or opaque dtype) */
} Tensor;

/* Allocates a zero-filled tensor. Fails with ERR_INPUT when the shape is unknown or the size
 * exceeds TENSOR_MAX_BYTES, ERR_RUNTIME when out of memory. t is left empty on failure. */
int tensor_alloc(Tensor *t, int dtype, const Shape *shape, Err *err);
/* like tensor_alloc, then copies nbytes (must equal the tensor's size) from data */
int tensor_from_data(Tensor *t, int dtype, const Shape *shape, const void *data, size_t nbytes, Err *err);
/* A tensor over memory owned by someone else (e.g. a slot in a plan's arena): not counted in
   tensor_live_bytes, never freed by tensor_release. NULL data is allowed for a zero-size tensor. */
int tensor_wrap(Tensor *t, int dtype, const Shape *shape, void *data, Err *err);
Tensor tensor_share(const Tensor *t); /* another reference to the same buffer */
void tensor_release(Tensor *t);       /* drop reference; t becomes empty ({0}) */
int tensor_copy(Tensor *dst, const Tensor *src, Err *err); /* deep copy */
static inline bool tensor_has_data(const Tensor *t) { return t->buf != NULL; }
static inline const void *tensor_data(const Tensor *t) { return t->buf ? t->buf->data : NULL; }
/* writable data; copies an owned buffer first if another reference shares it (NULL on OOM).
   Wrapped buffers (tensor_wrap) are written in place. */
void *tensor_mut(Tensor *t);
int64_t tensor_numel(const Tensor *t);
size_t tensor_nbytes(const Tensor *t);

/* element access converting to/from double, for supported dtypes (used by tests, the CLI's
 * statistics and small-value code; kernels use typed pointers) */
double tensor_get(const Tensor *t, int64_t i);
void tensor_set(Tensor *t, int64_t i, double v); /* t must be uniquely owned (see tensor_mut) */

/* Reads a 1-D (or scalar) int32/int64 tensor into out[cap]; returns element count or -1. */
int tensor_to_i64(const Tensor *t, int64_t *out, int cap, Err *err);

/* Process-wide count of bytes currently held by tensor buffers, and its high-water mark.
 * Used to check the runtime's memory accounting. */
size_t tensor_live_bytes(void);
size_t tensor_peak_bytes(void);
void tensor_reset_peak(void);

#endif
