/* ref_binary.h - the broadcasting binary kernel as a function of (op, tensors), shared by
 * ref_binary (Add, Mul, ...) and ref_bias_add (an Add with the bias viewed as [C,1,..,1]). */
#ifndef GRAPPO_REF_BINARY_H
#define GRAPPO_REF_BINARY_H

#include "../graph/graph.h"

/* y = a <op> b with numpy broadcasting; y is allocated with the broadcast shape and a's dtype.
   op is one of the binary stem's ops (OP_ADD ... OP_POW).
   a and b may be shallow views (a Tensor struct copy with another shape of equal size). */
int ref_binary_op(OpId op, const Tensor *a, const Tensor *b, Tensor *y, Err *err);

#endif
