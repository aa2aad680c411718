/* op.h - the op registry: an enum generated from ops.def and one table of properties
 * (TF name, arity, flags, shape/dtype inference, FLOPs). Kernels are not here: runtime/
 * keeps its own tables indexed by the same enum. */
#ifndef GRAPPO_OP_H
#define GRAPPO_OP_H

#include <stdint.h>

#include "../util/err.h"

/* flags */
#define OPF_ELEMENTWISE 0x1u /* output element i depends on input elements i (after broadcast) */
#define OPF_VIEW 0x2u        /* moves no data: output is a reinterpretation of input 0 */
#define OPF_FUSED 0x4u       /* a fused op carrying a fused_ops list */
#define OPF_SHAPE_ONLY 0x8u  /* reads only the shape of its input, never its data */
/* the size of an output may depend on input values (Where, NonMaxSuppression): shape inference
   leaves those dims unknown (-1) unless the inputs are known, and the reference kernel
   allocates such an output itself (see runtime/ref_dyn.c) */
#define OPF_DYNAMIC 0x10u
/* TF2 functional control flow (While, If, Case): runs function bodies (graph_func.h); never
   folded at inference, always run by the reference path (runtime/ref_ctrl.c) */
#define OPF_CONTROL 0x20u
/* TF1 conditionals (Switch, _SwitchN, Merge): an output may be dead (the branch not taken);
   never folded, run by the reference executor only (runtime/ref_dead.c) */
#define OPF_DEADNESS 0x40u

typedef enum OpId {
    OP_UNKNOWN = 0, /* an op grappo does not understand: kept and written back untouched */
#define OP(id, name, min_in, max_in, stem, flags) OP_##id,
#include "ops.def"
#undef OP
    OP_COUNT
} OpId;

struct Graph;
struct Node;

/* Sets the node's outputs (count, dtype, shape, and known value where cheap). May assume
 * every input has a known shape and dtype (the driver checks). Errors name what is wrong;
 * the driver prefixes the node name. */
typedef int (*InferFn)(struct Graph *g, struct Node *n, Err *err);
/* floating-point operations of one execution (a multiply-add counts 2); shapes are inferred */
typedef int64_t (*FlopsFn)(const struct Graph *g, const struct Node *n);

typedef struct OpDef {
    const char *tf_name;
    int min_inputs, max_inputs; /* max -1 = variadic */
    unsigned flags;
    InferFn infer;
    FlopsFn flops;
} OpDef;

extern const OpDef op_defs[OP_COUNT];

OpId op_lookup(const char *tf_name); /* OP_UNKNOWN if not in the table */
static inline const OpDef *op_def(OpId op) { return &op_defs[op]; }

#endif
