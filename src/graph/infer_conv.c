/* infer_conv.c - shape/dtype inference and FLOPs for the convolutions: Conv2D,
 * DepthwiseConv2dNative, their fused forms (_FusedConv2D, FusedDepthwiseConv2dNative,
 * _FusedDepthwiseConv2dNative) and Conv2DBackpropInput. Geometry comes from nn_attrs.c. */
#include "infer.h"
#include "nn_attrs.h"

static int infer_conv_common(Graph *g, Node *n, bool depthwise, bool fused, Err *err) {
    ConvGeom geo;
    FusedSpec spec;
    if (fused && nn_fused_spec(n, FUSED_HOST_CONV, &spec, err)) return -1;
    if (nn_same_dtype(g, n, 0, 1, err)) return -1;
    if (nn_conv_geom(n, depthwise, in_shape(g, n, 0), in_shape(g, n, 1), &geo, err)) return -1;
    Shape out = nn_geom_out_shape(&geo);
    if (fused && nn_check_fused_args(g, n, &spec, &out, geo.nchw ? 1 : 3, err)) return -1;
    return infer_set_out(n, 0, in_dtype(g, n, 0), &out, err);
}

/* 2 per multiply-add: every output element sums KH*KW*(input channels of its group) products */
static int64_t conv_flops(const Graph *g, const Node *n, bool depthwise) {
    const Shape *f = in_shape(g, n, 1);
    int64_t out = shape_numel(&n->outputs[0].shape);
    if (f->rank != 4 || out < 0) return 0;
    return 2 * out * f->dim[0] * f->dim[1] * (depthwise ? 1 : f->dim[2]);
}

static int64_t fused_flops(const Graph *g, const Node *n, bool depthwise) {
    FusedSpec spec;
    int64_t flops = conv_flops(g, n, depthwise);
    if (nn_fused_spec(n, FUSED_HOST_CONV, &spec, NULL)) return flops;
    return flops + nn_epilogue_flops(&spec) * shape_numel(&n->outputs[0].shape);
}

int infer_conv2d(Graph *g, Node *n, Err *err) { return infer_conv_common(g, n, false, false, err); }
int64_t flops_conv2d(const Graph *g, const Node *n) { return conv_flops(g, n, false); }

int infer_depthwise(Graph *g, Node *n, Err *err) { return infer_conv_common(g, n, true, false, err); }
int64_t flops_depthwise(const Graph *g, const Node *n) { return conv_flops(g, n, true); }

int infer_fused_conv2d(Graph *g, Node *n, Err *err) { return infer_conv_common(g, n, false, true, err); }
int64_t flops_fused_conv2d(const Graph *g, const Node *n) { return fused_flops(g, n, false); }

int infer_fused_depthwise(Graph *g, Node *n, Err *err) { return infer_conv_common(g, n, true, true, err); }
int64_t flops_fused_depthwise(const Graph *g, const Node *n) { return fused_flops(g, n, true); }

/* Conv2DBackpropInput(input_sizes, filter, out_backprop): the result's shape is input_sizes,
   which must be known here. */
int infer_conv2d_backprop_input(Graph *g, Node *n, Err *err) {
    int64_t sizes[4];
    int count = infer_known_i64(g, n, 0, sizes, 4, err);
    if (count < 0) return -1;
    if (nn_same_dtype(g, n, 1, 2, err)) return -1;
    ConvGeom geo;
    if (nn_backprop_input_geom(n, sizes, count, in_shape(g, n, 1), in_shape(g, n, 2), &geo, err)) return -1;
    Shape out = nn_geom_in_shape(&geo);
    return infer_set_out(n, 0, in_dtype(g, n, 2), &out, err);
}

/* the same multiply-adds as the forward convolution: one per (out_backprop element, tap, input channel) */
int64_t flops_conv2d_backprop_input(const Graph *g, const Node *n) {
    const Shape *f = in_shape(g, n, 1);
    int64_t dy = shape_numel(in_shape(g, n, 2));
    if (f->rank != 4 || dy < 0) return 0;
    return 2 * dy * f->dim[0] * f->dim[1] * f->dim[2];
}
