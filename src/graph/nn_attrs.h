/* nn_attrs.h - the attributes of the convolution / pooling / fused-op family, read once into
 * plain structs. Shape inference (graph/) and the reference kernels (runtime/) both call these,
 * so they cannot disagree about padding, output sizes or which fused ops are supported.
 *
 * Conventions (TensorFlow's): data_format "NHWC" (default) or "NCHW"; strides, dilations and
 * ksize are 4 ints in data_format order with 1 on the batch and channel dims; padding "SAME",
 * "VALID" or "EXPLICIT" (explicit_paddings: 8 ints, a (before, after) pair per dim in
 * data_format order, zero on batch and channel). Filters are HWIO. */
#ifndef GRAPPO_NN_ATTRS_H
#define GRAPPO_NN_ATTRS_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

/* Largest ksize / strides / dilations entry accepted: TensorFlow's kernels read these
 * attributes as int32 and refuse larger values, and so do shape inference and both runtimes. */
#define NN_MAX_WINDOW_ATTR 2147483647

/* Geometry of one 2-D window operation. For Conv2DBackpropInput it describes the forward
 * convolution whose input gradient is computed: "in" is the result, "out" is out_backprop. */
typedef struct ConvGeom {
    bool nchw;
    int64_t batch, in_h, in_w, in_c;
    int64_t k_h, k_w;
    int64_t stride_h, stride_w, dil_h, dil_w;
    int64_t pad_top, pad_left; /* padding before; the amount after is implied by out_* */
    int64_t out_h, out_w, out_c;
    /* convolutions: input channels split into `groups` groups of group_in_c channels, each
       producing out_c / groups output channels. Conv2D: group_in_c = filter dim 2;
       depthwise: groups = in_c, group_in_c = 1, out_c = in_c * multiplier (channel c*M+m).
       Pools: groups = in_c, group_in_c = 1, out_c = in_c. */
    int64_t groups, group_in_c;
} ConvGeom;

/* data_format attr: NHWC (default) or NCHW; anything else is ERR_INPUT */
int nn_data_format(const Node *n, bool *nchw, Err *err);

/* Conv2D / _FusedConv2D (depthwise false) or DepthwiseConv2dNative and its fused forms
   (depthwise true). x is 4-D in data_format order, filter is [KH, KW, Cin/groups, Cout]
   (depthwise: [KH, KW, C, M]). */
int nn_conv_geom(const Node *n, bool depthwise, const Shape *x, const Shape *filter, ConvGeom *g, Err *err);

/* MaxPool / AvgPool (ksize, strides, padding; EXPLICIT only for MaxPool, as in TF). */
int nn_pool_geom(const Node *n, const Shape *x, ConvGeom *g, Err *err);

/* Conv2DBackpropInput: sizes = input_sizes (4 values in data_format order, or 2 = H, W only),
   filter [KH, KW, Cin, Cout], dy = out_backprop. Checks that dy has the size the forward
   convolution of `sizes` would produce. */
int nn_backprop_input_geom(const Node *n, const int64_t *sizes, int n_sizes, const Shape *filter, const Shape *dy,
                           ConvGeom *g, Err *err);

/* True when the (dilated) window or the stride is larger than the input in H or W: legal
   (SAME padding), but oneDNN's kernels then walk the whole window, padding included, so the
   fast runtime leaves such nodes to the reference kernels, which visit only the in-bounds
   part of each window. */
bool nn_geom_exceeds_input(const ConvGeom *g);

/* [N, out_h, out_w, out_c] (or NCHW order) and the input shape in the same layout */
Shape nn_geom_out_shape(const ConvGeom *g);
Shape nn_geom_in_shape(const ConvGeom *g);

/* ---- fused ops (_FusedConv2D, _FusedDepthwiseConv2dNative, _FusedMatMul) ---- */

typedef enum NnAct {
    NN_ACT_NONE = 0,
    NN_ACT_RELU,
    NN_ACT_RELU6,
    NN_ACT_ELU,
    NN_ACT_LEAKY_RELU, /* alpha = attr leakyrelu_alpha (default 0.2) */
    NN_ACT_SIGMOID,
    NN_ACT_TANH,
    NN_ACT_PRELU,      /* TF.js "Prelu": per-channel alpha taken from the next arg */
    NN_ACT_HARD_SWISH, /* "_FusedHardSwish": x * relu6(x + 3) / 6 */
    NN_ACT_GELU_EXACT, /* 0.5 x (1 + erf(x / sqrt 2)); matmul only */
    NN_ACT_GELU_APPROX /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); matmul only */
} NnAct;

typedef enum FusedHost { FUSED_HOST_CONV, FUSED_HOST_MATMUL } FusedHost;

/* What a fused node computes after its convolution / matmul, in this order:
   + bias[c] | batch norm with per-channel scale, offset, mean, variance;
   then + addend (same shape as the output); then the activation.
   arg_* are input indices of the node (-1 when absent). */
typedef struct FusedSpec {
    bool bias, batchnorm, add;
    NnAct act;
    int n_args;   /* extra inputs after the two operands */
    int arg_bias; /* [C] */
    int arg_bn;   /* first of scale, offset, mean, variance ([C] each) */
    int arg_add;  /* output-shaped addend */
    int arg_alpha; /* PRELU alpha: C values (or 1) */
    float epsilon;         /* attr epsilon (batch norm), default 1e-4 as in TF's FusedBatchNorm */
    float leakyrelu_alpha; /* attr leakyrelu_alpha, default 0.2 */
} FusedSpec;

/* Parses fused_ops / num_args / epsilon / leakyrelu_alpha and checks the input count.
   Supported lists: [BiasAdd], [BiasAdd, act], [BiasAdd, Add], [BiasAdd, Add, act],
   [FusedBatchNorm], [FusedBatchNorm, act] (conv only), [BiasAdd, _FusedHardSwish];
   act in Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh, Prelu, and for matmul also GeluExact,
   GeluApproximate. Anything else is ERR_INPUT naming the op; a wrong input count is
   ERR_INPUT. */
int nn_fused_spec(const Node *n, FusedHost host, FusedSpec *s, Err *err);
const char *nn_act_name(NnAct act);
/* Checks a fused node's extra inputs (dtype equal to input 0; bias / batch-norm vectors of the
   output's channel count on axis c_axis; Add operand of the output's shape; Prelu alpha). */
int nn_check_fused_args(const Graph *g, const Node *n, const FusedSpec *s, const Shape *out, int c_axis, Err *err);
/* elementwise operations of the epilogue per output element (bias 1, batch norm 2, add 1, act 1) */
int64_t nn_epilogue_flops(const FusedSpec *s);

/* ERR_INPUT unless inputs a and b have the same dtype */
int nn_same_dtype(const Graph *g, const Node *n, int a, int b, Err *err);

#endif
