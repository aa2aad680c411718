/* infer.h - helpers for writing shape/dtype inference functions (infer_<stem>) and FLOP
 * counts (flops_<stem>). Declares every infer_/flops_ function named in ops.def. */
#ifndef GRAPPO_INFER_H
#define GRAPPO_INFER_H

#include "graph.h"

/* the input's Value (dtype, shape, known) */
static inline const Value *in_val(const Graph *g, const Node *n, int i) { return node_input_value(g, n, i); }
static inline const Shape *in_shape(const Graph *g, const Node *n, int i) { return &node_input_value(g, n, i)->shape; }
static inline int in_dtype(const Graph *g, const Node *n, int i) { return node_input_value(g, n, i)->dtype; }

/* Sets output `port` (growing n_outputs if needed) to dtype and shape; drops any known value. */
int infer_set_out(Node *n, int port, int dtype, const Shape *shape, Err *err);
/* numpy broadcasting of two shapes */
int infer_broadcast(const Shape *a, const Shape *b, Shape *out, Err *err);
/* normalizes axis in [-rank, rank) to [0, rank) */
int infer_axis(int64_t axis, int rank, int *out, Err *err);
/* Reads input i's known int32/int64 value as a vector (a scalar reads as one element).
   Error if the value is not known at inference time (e.g. computed at run time). */
int infer_known_i64(const Graph *g, const Node *n, int i, int64_t *out, int cap, Err *err);
/* Convolution/pooling output size along one spatial dim.
   padding: "SAME", "VALID" or "EXPLICIT" (then pad_before/pad_after are used as given).
   Writes the output size and the padding actually applied before (for SAME: TF's rule,
   the extra pixel goes after). */
int infer_window(int64_t in, int64_t k, int64_t stride, int64_t dilation, const char *padding,
                 int64_t explicit_before, int64_t explicit_after, int64_t *out, int64_t *pad_before, Err *err);

/* Range's element count as TensorFlow computes it (errors for delta 0 or a sign mismatch);
   shared by infer_range and the kernel, which re-checks values computed at run time */
int range_count(int dt, double start, double limit, double delta, int64_t *count, Err *err);

#define OP(id, name, min_in, max_in, stem, flags)              \
    int infer_##stem(Graph *g, Node *n, Err *err);             \
    int64_t flops_##stem(const Graph *g, const Node *n);
#include "ops.def"
#undef OP

#endif
