/* ref_bcast.h - the one index mapping behind every broadcasting reference kernel (binary ops,
 * BiasAdd, Prelu, AddN) and the reductions.
 *
 * An output shape is walked in row-major order; every input k that broadcasts to it numpy-style
 * gets a per-dimension element stride, 0 along the dimensions where it is broadcast. Dims of
 * size 1 are dropped and neighbouring dims are merged while every input stays linear across
 * them, so equal shapes collapse to one contiguous row and a scalar to one row with stride 0:
 * the common cases become a single plain loop (the fast path) without separate code.
 *
 * Walk: for row r in [0, bcast_rows), bcast_row_offsets gives where row r starts in each input,
 * the row has bcast_row_len elements, the output offset is r * bcast_row_len, and input k
 * advances by bcast_step(k) (0 or 1) per element.
 *
 * A reduction uses the same mapping backwards: walk the *input* shape with two "inputs", the
 * input itself and the keep_dims output shape; the second offset is the accumulator slot. */
#ifndef GRAPPO_REF_BCAST_H
#define GRAPPO_REF_BCAST_H

#include <stdint.h>

#include "../graph/tensor.h"

#define BCAST_MAX_IN 4

typedef struct Bcast {
    int rank; /* dims after dropping 1s and merging; always >= 1 */
    int n_in;
    int64_t dim[MAX_RANK];
    int64_t stride[BCAST_MAX_IN][MAX_RANK]; /* element stride of input k along dim d; 0 = broadcast */
} Bcast;

/* Prepares the walk of `out` (all dims known). in[k] are right-aligned against out; each of
   their dims must equal out's or be 1. Returns 0, or -1 when an input does not broadcast
   (callers have normally checked this during shape inference). */
static inline int bcast_init(Bcast *b, const Shape *out, const Shape *const *in, int n_in) {
    int rank = out->rank;
    if (n_in < 1 || n_in > BCAST_MAX_IN || rank < 0 || rank > MAX_RANK) return -1;
    b->n_in = n_in;
    b->rank = 0;
    int64_t stride[BCAST_MAX_IN][MAX_RANK];
    for (int k = 0; k < n_in; k++) {
        const Shape *s = in[k];
        if (s->rank < 0 || s->rank > rank) return -1;
        int64_t contiguous = 1; /* row-major stride of input k's dim j */
        for (int d = rank - 1; d >= 0; d--) {
            int j = d - (rank - s->rank);
            int64_t in_dim = j >= 0 ? s->dim[j] : 1;
            if (in_dim != out->dim[d] && in_dim != 1) return -1;
            stride[k][d] = in_dim == 1 ? 0 : contiguous;
            contiguous *= in_dim;
        }
    }
    for (int d = 0; d < rank; d++) {
        if (out->dim[d] == 1) continue; /* contributes nothing to any offset */
        int r = b->rank;
        int mergeable = r > 0;
        /* dims (r-1, d) merge when every input is linear across them */
        for (int k = 0; k < n_in && mergeable; k++)
            if (b->stride[k][r - 1] != stride[k][d] * out->dim[d]) mergeable = 0;
        if (mergeable) {
            b->dim[r - 1] *= out->dim[d];
            for (int k = 0; k < n_in; k++) b->stride[k][r - 1] = stride[k][d];
        } else {
            b->dim[r] = out->dim[d];
            for (int k = 0; k < n_in; k++) b->stride[k][r] = stride[k][d];
            b->rank++;
        }
    }
    if (b->rank == 0) { /* scalar or all-ones output: one row of one element */
        b->rank = 1;
        b->dim[0] = 1;
        for (int k = 0; k < n_in; k++) b->stride[k][0] = 0;
    }
    return 0;
}

static inline int64_t bcast_row_len(const Bcast *b) { return b->dim[b->rank - 1]; }

static inline int64_t bcast_rows(const Bcast *b) {
    int64_t rows = 1;
    for (int d = 0; d < b->rank - 1; d++) rows *= b->dim[d];
    return rows;
}

static inline int64_t bcast_step(const Bcast *b, int k) { return b->stride[k][b->rank - 1]; }

/* off[k] = offset in input k of the first element of row `row` */
static inline void bcast_row_offsets(const Bcast *b, int64_t row, int64_t *off) {
    for (int k = 0; k < b->n_in; k++) off[k] = 0;
    for (int d = b->rank - 2; d >= 0; d--) {
        int64_t idx = row % b->dim[d];
        row /= b->dim[d];
        for (int k = 0; k < b->n_in; k++) off[k] += idx * b->stride[k][d];
    }
}

#endif
