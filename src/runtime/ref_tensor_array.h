/* ref_tensor_array.h - TensorArray (TF1: TensorArrayV3 and its Read/Write/Gather/Scatter/Size/
 * Concat/Split/Close) and TensorList (Reserve/FromTensor/GetItem/SetItem/Stack/Length) on the
 * reference runtime. A handle is an int32 scalar naming an array in the run's table; the table
 * lives as long as one run of the frame interpreter (ref_frame.c). */
#ifndef GRAPPO_REF_TENSOR_ARRAY_H
#define GRAPPO_REF_TENSOR_ARRAY_H

#include "ref.h"

typedef struct TaTable TaTable;

/* n's op is one of them (the ops.def rows of stem tensor_array) */
bool ta_is_op(int op);

TaTable *ta_table_new(void);
void ta_table_free(TaTable *t);
/* runs TensorArray / TensorList node n on in, allocating out[0..n_outputs); ERR_INPUT for what
   TensorFlow reports as a bad argument (an index out of range, an element written twice) */
int ta_eval(TaTable *t, const Node *n, const Tensor *in, Tensor *out, Err *err);

#endif
