/* rules_fuse_common.h - what the fusion rules (rules_fuse_conv.c, rules_fuse_matmul.c) share:
 * which fused_ops lists stock TensorFlow executes, recognising activations (single ops and
 * the GELU subgraphs), and writing a fused node the way Grappler's remapper does (attributes,
 * name taken over from the last absorbed node, control edges carried over).
 *
 * A fused node computes  contraction -> BiasAdd | FusedBatchNorm -> [Add] -> [activation]
 * (see graph/nn_attrs.h). The "base" names the part before the activation.
 *
 * rules_fuse_common.c also defines the two rules that grow an existing fused node whatever
 * its host: fuse_residual_add and fuse_activation (registered in rules.def). */
#ifndef GRAPPO_RULES_FUSE_COMMON_H
#define GRAPPO_RULES_FUSE_COMMON_H

#include "../graph/nn_attrs.h"
#include "rule.h"

typedef enum FuseHost { FUSE_CONV2D, FUSE_DEPTHWISE, FUSE_MATMUL } FuseHost;
typedef enum FuseBase { FUSE_BASE_BIAS, FUSE_BASE_BIAS_ADD, FUSE_BASE_BN } FuseBase;

/* The TF op written for a host: _FusedConv2D, _FusedDepthwiseConv2dNative, _FusedMatMul */
const char *fuse_host_op(FuseHost h);
/* The host of an existing fused node (false for any other op, also TF.js's
   FusedDepthwiseConv2dNative, which stock TensorFlow does not have). */
bool fuse_host_of(const Node *n, FuseHost *h);

/* True when stock TensorFlow's CPU kernels execute fused_ops = base (+ act). Conv2D (oneDNN
   kernel): [BiasAdd|FusedBatchNorm|BiasAdd,Add] + {-, Relu, Relu6, Elu, LeakyRelu};
   depthwise: [BiasAdd] + {-, Relu, Relu6, Elu}; MatMul: [BiasAdd] + {-, Relu, Relu6, Elu,
   LeakyRelu} and, unless transpose_a (those go to the Eigen kernel), Sigmoid, Tanh, GeluExact,
   GeluApproximate, or [BiasAdd, Add] alone. */
bool fuse_tf_allows(FuseHost h, FuseBase b, NnAct act, bool transpose_a);

/* The bias step after x (last dim C): the only reader of x is a BiasAdd (NHWC) with a [C]
   float32 bias, or an Add/AddV2 of a known float32 constant of C elements shaped [C] or
   [1,..,1,C] whose result has x's shape (a bias written as a broadcast add). */
bool fuse_match_bias(const Graph *g, const GraphUses *u, ValueRef x, int *bias_node);
/* The [C] value the fused node reads as its bias: the matched node's operand, or a new Const
   "<bias node>/bias" holding the [1,..,1,C] constant reshaped to [C]. */
int fuse_bias_input(Graph *g, int bias_node, ValueRef x, ValueRef *out, Err *err);

/* v is a float32 value */
bool fuse_is_f32(const Graph *g, ValueRef v);
/* node has no node depending on it by a control edge */
bool fuse_no_ctrl_readers(const Graph *g, const GraphUses *u, int node);

/* An activation reading x: one op (Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh) or, for
   MatMul, the GELU subgraphs (erf and tanh forms, see rules_fuse_common.c). nodes[] lists
   the activation's nodes, the one producing its result last. */
#define FUSE_ACT_MAX_NODES 10
typedef struct FuseActMatch {
    NnAct act;
    int n;
    int nodes[FUSE_ACT_MAX_NODES];
} FuseActMatch;

/* Matches the activation applied to x, when that activation is the only reader of x, x is not
   a graph output, and (h, b, act) is allowed by fuse_tf_allows. Every node of the match but
   the last has no other reader. */
bool fuse_match_act(const Graph *g, const GraphUses *u, ValueRef x, FuseHost h, FuseBase b, bool transpose_a,
                    FuseActMatch *m);

/* Appends nodes[] of m to s (false when the site would overflow). */
bool fuse_site_add_act(Site *s, const FuseActMatch *m);

/* Adds the fused node for host h (op, inputs, the contraction's device), named after `last`
   for now (fuse_finish gives it last's name). Returns its index or -1. */
int fuse_add_node(Graph *g, FuseHost h, const Node *contraction, const ValueRef *in, int n_in, int last, Err *err);
/* The attributes Grappler's remapper copies from the contraction (CopyConv2DAttributes,
   CopyDepthwiseConv2dNativeAttributes, CopyMatMulAttributes), with TF's defaults for absent
   ones; _FusedConv2D also gets num_host_args 0. */
int fuse_contraction_attrs(Node *f, FuseHost h, const Node *contraction, Err *err);

/* Sets fused_ops = base (+ act), num_args, epsilon and, for LeakyRelu, leakyrelu_alpha (read
   from act_node's alpha, default 0.2) on a fused node. TArgs (one T per extra input, as TF's
   _FusedConv2D declares) is written when with_targs. */
int fuse_set_epilogue(Node *n, FuseBase b, NnAct act, const Node *act_node, int num_args, float epsilon,
                      bool with_targs, Err *err);

/* Finishes a fusion: the new node `fused` takes over every reader (data, graph outputs,
   control) of `last`, inherits the control inputs of the site's nodes, and swaps names with
   `last`, so the fused node has the name users fetch. The absorbed nodes are left dead. */
int fuse_finish(Graph *g, int fused, int last, const Site *s, Err *err);

/* Copies every attribute of src to dst (used when an existing fused node grows). */
int fuse_copy_all_attrs(Node *dst, const Node *src, Err *err);

#endif
