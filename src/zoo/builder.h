/* builder.h - the small graph-building API every zoo model uses.
 *
 * A Builder appends nodes to a Graph one at a time, sets their attributes the way
 * TensorFlow writes them, infers each node as soon as it is complete and, in calibration
 * mode, executes it at once with the reference runtime so later layers can look at real
 * activations (batch-norm statistics are taken from them).
 *
 * Errors are sticky: the first failure is recorded in *err and every later call does
 * nothing and returns BLD_NONE, so model code reads as a straight list of layers and checks
 * once, in bld_finish. Names are "<scope>/<name>" (scope set by bld_set_scope). */
#ifndef GRAPPO_ZOO_BUILDER_H
#define GRAPPO_ZOO_BUILDER_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/graph.h"
#include "../util/rng.h"
#include "zoo.h"

#define BLD_NONE ((ValueRef){-1, 0})

typedef struct Builder {
    Graph *g;
    Rng rng;        /* every weight and statistic perturbation is drawn from here, in order */
    double spare;   /* second normal of the last polar-method pair (see bld_randn) */
    bool has_spare;
    bool calibrate; /* execute nodes as they are built */
    bool tf1_names; /* weights named "<layer>/kernel", "<layer>/bias" (TF1 freeze) instead of
                       "<layer>/MatMul/ReadVariableOp" (Keras + convert_variables_to_constants_v2) */
    Tensor **vals;  /* calibration: vals[node][port], NULL when not computed or released */
    int vals_cap;
    Err *err;
    bool failed;
    char scope[128];
} Builder;

/* ---- life cycle ---- */
int bld_init(Builder *b, uint64_t seed, bool calibrate, Err *err);
/* Returns the graph (declared outputs set by the model) or NULL when a step failed, with
   *err describing the first failure. Frees all calibration values either way. */
Graph *bld_finish(Builder *b);
void bld_set_scope(Builder *b, const char *scope);
/* records a failure (sticky); returns BLD_NONE for convenience */
ValueRef bld_fail(Builder *b, ErrCode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline bool bld_ok(const Builder *b) { return !b->failed; }

/* ---- low level: add a node, set attributes, complete it ---- */
/* Adds node "<scope>/<name>" with the given inputs; returns its index or -1. */
int bld_begin(Builder *b, const char *name, const char *op, const ValueRef *in, int n_in);
void bld_attr_type(Builder *b, int node, const char *attr, int dtype);
void bld_attr_i(Builder *b, int node, const char *attr, int64_t v);
void bld_attr_f(Builder *b, int node, const char *attr, float v);
void bld_attr_b(Builder *b, int node, const char *attr, bool v);
void bld_attr_s(Builder *b, int node, const char *attr, const char *v);
void bld_attr_ints(Builder *b, int node, const char *attr, const int64_t *v, int count);
/* Infers the node and, when calibrating, executes it. Returns output 0 of the node. */
ValueRef bld_end(Builder *b, int node);

/* ---- values ---- */
static inline ValueRef bld_port(ValueRef v, int port) { v.port = port; return v; }
const Shape *bld_shape(const Builder *b, ValueRef v); /* inferred shape; NULL after failure */
int64_t bld_dim(const Builder *b, ValueRef v, int axis); /* negative axis counts from the end */
/* The calibration value of v (NULL when not calibrating, failed, or released). */
const Tensor *bld_value(const Builder *b, ValueRef v);
/* Releases the calibration values of every non-Const node except those in keep[]: call at
   block boundaries so a deep network does not hold all its activations. */
void bld_keep_only(Builder *b, const ValueRef *keep, int n_keep);
int bld_add_output(Builder *b, ValueRef v);

/* ---- random tensors (float32) ---- */
/* standard normal from b->rng (polar method; deterministic for a seed) */
double bld_randn(Builder *b);
Tensor bld_normal(Builder *b, Shape s, double mean, double std);
/* truncated normal as Keras/TF1 initializers draw it: redraw beyond 2 std */
Tensor bld_truncated_normal(Builder *b, Shape s, double std);
Tensor bld_filled(Builder *b, Shape s, float v);

/* ---- constants and inputs ---- */
/* Placeholder with TF's shape attr (dims may be -1). calib: the value fed while
   calibrating (its shape must equal the inferred one: -1 dims become 1), may be NULL when
   not calibrating. */
ValueRef bld_placeholder(Builder *b, const char *name, int dtype, Shape shape, const Tensor *calib);
/* Const taking over the caller's reference to *t (t is left empty). */
ValueRef bld_const(Builder *b, const char *name, Tensor *t);
ValueRef bld_const_i32(Builder *b, const char *name, int n, const int32_t *v); /* 1-D */
ValueRef bld_scalar_f32(Builder *b, const char *name, float v);
ValueRef bld_scalar_i32(Builder *b, const char *name, int32_t v);

/* ---- ops with TF's attributes (names are the full node names under the scope) ---- */
ValueRef bld_unary(Builder *b, const char *name, const char *op, ValueRef x); /* {T} */
ValueRef bld_binary(Builder *b, const char *name, const char *op, ValueRef x, ValueRef y); /* {T} */
ValueRef bld_identity(Builder *b, const char *name, ValueRef x);
ValueRef bld_softmax(Builder *b, const char *name, ValueRef x);
/* Mean over the given axes (reduction indices Const "<name>/reduction_indices") */
ValueRef bld_mean(Builder *b, const char *name, ValueRef x, const int32_t *axes, int n_axes, bool keep_dims);
/* Reshape to a Const shape "<name>/shape" */
ValueRef bld_reshape(Builder *b, const char *name, ValueRef x, const int32_t *shape, int rank);
ValueRef bld_transpose(Builder *b, const char *name, ValueRef x, const int32_t *perm, int rank);
/* Pad with Const paddings "<name>/paddings" (rank x 2: before, after) */
ValueRef bld_pad(Builder *b, const char *name, ValueRef x, const int32_t *pads, int rank);
/* MaxPool / AvgPool, NHWC, square window */
ValueRef bld_pool(Builder *b, const char *name, const char *op, ValueRef x, int k, int stride, const char *padding);
ValueRef bld_concat(Builder *b, const char *name, const ValueRef *xs, int n, int axis);
ValueRef bld_cast(Builder *b, const char *name, ValueRef x, int dst_dtype);
ValueRef bld_gather(Builder *b, const char *name, ValueRef params, ValueRef indices, int axis);
ValueRef bld_slice(Builder *b, const char *name, ValueRef x, const int32_t *begin, const int32_t *size, int rank);
ValueRef bld_strided_slice(Builder *b, const char *name, ValueRef x, const int32_t *begin, const int32_t *end,
                           const int32_t *strides, int rank, int begin_mask, int end_mask, int shrink_axis_mask);
ValueRef bld_batch_matmul(Builder *b, const char *name, ValueRef x, ValueRef y, bool adj_x, bool adj_y);
ValueRef bld_matmul(Builder *b, const char *name, ValueRef x, ValueRef w, bool transpose_a, bool transpose_b);
ValueRef bld_bias_add(Builder *b, const char *name, ValueRef x, ValueRef bias);

/* ---- layers (weights drawn from b->rng) ---- */
/* "<layer>/Conv2D" with kernel Const "<layer>/Conv2D/ReadVariableOp" [k,k,cin,cout] drawn
   N(0, std) (He-normal: std = sqrt(2 / (k*k*cin))). */
ValueRef bld_conv2d(Builder *b, const char *layer, ValueRef x, int k, int cout, int stride, const char *padding, double std);
/* "<layer>/depthwise" (DepthwiseConv2dNative, multiplier 1), kernel "<layer>/depthwise/ReadVariableOp" */
ValueRef bld_depthwise(Builder *b, const char *layer, ValueRef x, int k, int stride, const char *padding, double std);
/* "<layer>/FusedBatchNormV3" (inference). gamma ~ 1 + 0.1 N, beta ~ 0.1 N. Calibrating, the
   moving mean/variance are the per-channel statistics of x's calibration value, perturbed
   (mean += 0.1 std N, var *= exp(0.2 N)); otherwise mean ~ 0.1 N, var ~ exp(0.2 N). The
   same number of draws is taken either way, so other weights do not depend on calibration. */
ValueRef bld_batchnorm(Builder *b, const char *layer, ValueRef x, float epsilon);
/* the same with gamma scaled: the last batch norm of a residual branch, so the branch adds a
   small update to its shortcut as in trained residual networks (and as zero-gamma / Fixup
   initialisation does) instead of a full-size one - which makes the random network far less
   sensitive to small perturbations of its activations */
ValueRef bld_batchnorm_scaled(Builder *b, const char *layer, ValueRef x, float epsilon, double gamma_scale);
/* "<layer>/MatMul" + "<layer>/BiasAdd"; kernel [in, units] ~ N(0, std) (truncated when
   b->tf1_names), bias ~ N(0, bias_std) (0 gives zeros) */
ValueRef bld_dense(Builder *b, const char *layer, ValueRef x, int units, double std, double bias_std);

/* ---- calibration input ---- */
/* A smooth synthetic NHWC image batch (sums of sinusoids of random frequency and phase plus
   a little noise, roughly zero mean and unit variance per channel), drawn from its own Rng
   seeded with `seed` so it does not disturb the weight stream. */
int bld_synthetic_image(Tensor *t, int64_t n, int64_t h, int64_t w, int64_t c, uint64_t seed, Err *err);

/* ---- pieces shared by the CNNs ---- */
/* Float NHWC Placeholder `name` of shape [batch or -1, size, size, channels]; when
   calibrating it is fed a synthetic image (bld_synthetic_image, seeded from opts->seed). */
ValueRef bld_image_input(Builder *b, const char *name, const ZooOpts *opts, int size, int channels);
/* Global average pool "<pool_layer>/Mean" over H,W, dense "<dense_layer>" to `classes`
   logits, "<dense_layer>/Softmax"; declares the graph outputs: Identity nodes "logits" and
   "probs" outside the scope (as a frozen signature ends in Identity nodes). The dense
   weights are N(0, gain^2 / features) with every column shifted to sum to zero, so the
   top-1 class depends on the input (see builder.c). */
void bld_classifier_head(Builder *b, ValueRef x, const char *pool_layer, const char *dense_layer, int classes, double gain);

/* ---- the model builders zoo.c dispatches to; opts arrive resolved (seed, sizes set) ---- */
Graph *zoo_build_resnet(int depth, const ZooOpts *opts, Err *err); /* 8, 18 or 50 */
Graph *zoo_build_mobilenet_v2(const ZooOpts *opts, Err *err);
/* layers, hidden, heads, intermediate: the BERT configuration; name: "bert-tiny", ... */
Graph *zoo_build_bert(const char *name, int layers, int hidden, int heads, int intermediate, const ZooOpts *opts, Err *err);
Graph *zoo_build_random(const ZooOpts *opts, Err *err);
Graph *zoo_build_gemm(const ZooOpts *opts, Err *err);

#endif
