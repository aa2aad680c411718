/* dnn_matmul.h - private to the oneDNN matmul family (dnn_matmul.c, dnn_matmul_geom.c): the
 * geometry of one matmul node as oneDNN sees it (operand dims and strides, batch dims padded
 * to the output's rank) and its post-ops, both read from the node, and the primitive cache key
 * built from them. */
#ifndef GRAPPO_DNN_MATMUL_H
#define GRAPPO_DNN_MATMUL_H

#include <stdbool.h>

#include "dnn_common.h"

typedef struct MmGeom {
    int rank;  /* of the output; operands are padded to it with leading 1s */
    int dtype; /* of both operands and the output */
    /* logical dims [..., M, K], [..., K, N], [..., M, N] and the element strides that place
       them in the stored (possibly transposed) tensors */
    dnnl_dims_t a_dims, a_str, b_dims, b_str, c_dims, c_str;
} MmGeom;

typedef struct MmPost {
    bool bias;      /* DNNL_ARG_BIAS [1, N] from input arg_bias */
    int arg_bias, bias_dtype;
    bool bias_widen; /* a constant bfloat16 bias, given to oneDNN as float32 (exact) */
    bool sum;       /* residual Add: a sum post-op, addend input arg_add */
    int arg_add;
    bool act;       /* then an eltwise post-op */
    dnnl_alg_kind_t alg;
    float alpha, beta;
} MmPost;

/* true when oneDNN can take the node's operands as described (dtypes float32 or bfloat16,
   shapes known and non-empty, batch dims equal or 1); fills *m */
bool mm_geom(const Graph *g, const Node *n, MmGeom *m);
/* true when every fused op of the node maps exactly onto bias / sum / eltwise (always for the
   unfused ops); fills *p */
bool mm_post(const Graph *g, const Node *n, const MmGeom *m, MmPost *p);
/* the primitive cache key: everything the primitive depends on */
void mm_key(const MmGeom *m, const MmPost *p, bool const_b, char *key, size_t cap);

#endif
