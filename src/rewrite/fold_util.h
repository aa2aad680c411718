/* fold_util.h - helpers shared by the fold / simplify rules (rules_fold_*.c, rules_simplify.c):
 * renaming, control-edge and graph-output checks, folding per-channel affine maps into the
 * weights of a Conv2D / DepthwiseConv2dNative / MatMul, and telling values that are truly
 * constant from values that are only known for the batch size the graph was inferred with. */
#ifndef GRAPPO_FOLD_UTIL_H
#define GRAPPO_FOLD_UTIL_H

#include "../graph/graph.h"

/* Gives the dying node `node` a fresh name and copies its old one into old[cap], so that the
   node replacing it can take the old name (TF users fetch by name). */
int fold_free_name(Graph *g, int node, char *old, size_t cap, Err *err);
/* some node has a control dependency on `node` */
bool fold_has_ctrl_readers(const Graph *g, const GraphUses *u, int node);
/* some output port of `node` is a graph output */
bool fold_is_graph_output(const Graph *g, int node);
/* number of readers (data inputs + graph outputs) over every output port of `node` */
int fold_node_use_count(const Graph *g, const GraphUses *u, int node);
/* the value is float32 with a known shape */
bool fold_is_f32(const Graph *g, ValueRef v);

/* ---- linear producers: y[..., c] = sum over inputs x * W[..., c] ---- */
typedef enum FoldLinKind { FOLD_LIN_CONV, FOLD_LIN_DEPTHWISE, FOLD_LIN_MATMUL } FoldLinKind;

typedef struct FoldLinear {
    int node;
    FoldLinKind kind;
    int64_t channels; /* output channels (last axis of the output) */
} FoldLinear;

/* node is Conv2D / DepthwiseConv2dNative (NHWC) or MatMul, float32, with a filter (input 1)
   whose value is known and float32: its output channels can be scaled through the weights */
bool fold_linear_match(const Graph *g, int node, FoldLinear *out);

/* A per-channel factor read from a Const operand: a scalar, or a tensor whose dims are all 1
   except the last, which is 1 or C, of rank <= out_rank (so broadcasting keeps y's shape). */
bool fold_channel_vector_ok(const Tensor *t, int64_t channels, int out_rank);
double fold_channel_value(const Tensor *t, int64_t c); /* element c, or the only one */

/* Rewrites linear node L so that its output becomes a[c] * y[c] + b[c] (b == NULL: no bias),
   replacing the value last:0 (the end of the folded chain, which dies):
   - the filter becomes a new Const W * a[c], computed in double and rounded once (the old
     filter Const is left to its other readers, or dies);
   - with b: a new BiasAdd(L, b) takes last's name; without b, L itself takes last's name.
   Readers of last:0 (and graph outputs) then read the result. */
int fold_linear_emit(Graph *g, const FoldLinear *L, const double *a, const double *b, int last, Err *err);

/* ---- static values ----
   Inference resolves dynamic placeholder dims (-1) to a size (1 by default), so a value it
   "knows" may hold only for that size (Shape of a dynamic-batch tensor). FoldStatic tells the
   two apart: values not downstream of a dynamic placeholder are static; the others are checked
   against a clone of the graph inferred with the dynamic dims at another size. */
typedef struct FoldStatic {
    const Graph *g;
    bool *dyn;   /* per node: a data input chain reaches a placeholder with dynamic dims */
    Graph *alt;  /* lazily made clone inferred at the other size; NULL if not made or failed */
    bool alt_tried;
} FoldStatic;

int fold_static_init(FoldStatic *s, const Graph *g, Err *err);
void fold_static_free(FoldStatic *s);
/* v's shape, and its known value when `value` is set, do not depend on dynamic dims */
bool fold_static_value(FoldStatic *s, ValueRef v, bool value);
/* v and w have equal shapes whatever size the dynamic dims take (checked at two sizes) */
bool fold_static_same_shape(FoldStatic *s, ValueRef v, ValueRef w);
/* dyn_dim[d] (d < rank of v): dim d of v changes with the dynamic dims. False when that cannot
   be told (the graph at the other size did not infer, or the rank changes with them). */
bool fold_static_dims(FoldStatic *s, ValueRef v, bool *dyn_dim);

#endif
