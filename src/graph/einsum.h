/* einsum.h - TensorFlow's Einsum equation, parsed once for shape inference (infer_einsum),
 * the reference kernel (ref_einsum) and the rewrite to BatchMatMulV2 (rules_einsum.c).
 *
 * Semantics (TensorFlow's Einsum op, checked against TensorFlow 2.20): "in0,in1->out" or
 * "in->out", exactly one "->"; a label is any byte other than ',', '.', '-', '>' (letters in
 * practice; case matters); each subscript holds at most one ellipsis "...", which stands for
 * the input's remaining leading-or-middle axes. Ellipsis axes are aligned from the right and
 * broadcast numpy-style (size 1 stretches); named labels must agree exactly. A label repeated
 * in one input takes the diagonal; a label absent from the output is summed; a label repeated
 * in the output puts the values on that diagonal (zeros elsewhere). Inputs with ellipsis axes
 * need "..." in the output (TensorFlow: "Output contains N broadcasting dimension(s) but no
 * ellipsis"). An output label absent from every input is refused (TensorFlow's result is
 * undefined there). */
#ifndef GRAPPO_EINSUM_H
#define GRAPPO_EINSUM_H

#include "tensor.h"

/* labels: named ones first (ids 0..n_named), then ellipsis axes (aligned from the right) */
#define EINSUM_MAX_LABELS (3 * MAX_RANK)

typedef struct EinsumSpec {
    int n_in;                        /* 1 or 2 */
    int n_labels;                    /* named + ellipsis labels */
    int n_named;
    char name[EINSUM_MAX_LABELS];    /* the label's byte ('.' for an ellipsis axis) */
    int64_t size[EINSUM_MAX_LABELS]; /* label size (-1 unknown at inference time) */
    int in_rank[2];
    int in_lab[2][MAX_RANK];         /* label of each input axis */
    int out_rank;
    int out_lab[MAX_RANK];
    bool in_out[EINSUM_MAX_LABELS];  /* label appears in the output */
    int count[2][EINSUM_MAX_LABELS]; /* times the label appears in input i */
} EinsumSpec;

/* Parses `eq` against the inputs' shapes (known ranks; dims may be -1) into s. Errors
   (ERR_INPUT, one line): a malformed equation, the wrong number of inputs, a rank that does
   not match the subscript, sizes that disagree. */
int einsum_parse(const char *eq, int n_in, const Shape *const *in, EinsumSpec *s, Err *err);

/* the output shape (out_rank dims, each its label's size) */
Shape einsum_out_shape(const EinsumSpec *s);

/* multiply-adds: product of every label's size (labels summed over included); -1 unknown */
int64_t einsum_macs(const EinsumSpec *s);

#endif
