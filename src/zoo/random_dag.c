/* random_dag.c - seeded random DAGs in TF's op vocabulary, for property tests of rewrites.
 *
 * An NHWC float input [batch, S, S, C] (S in {8, 12, 16} unless opts.image_size is set, C in
 * 4..16) goes through a random sequence of steps, each a small pattern that some rewrite
 * targets: Conv2D (+BiasAdd | +FusedBatchNormV3) (+Relu | +Relu6), DepthwiseConv2dNative,
 * residual AddV2 (a conv branch, or a long skip to an earlier value of the same shape),
 * Mul/Add/AddV2 by constant vectors, ConcatV2 of branches, MaxPool/AvgPool, Pad + VALID conv,
 * Transpose pairs that cancel (sometimes with an elementwise op between them), Reshape round
 * trips, Identity chains, Sigmoid/Tanh. Then a tail: Mean over H,W, MatMul + BiasAdd
 * (+ Softmax). About 6-30 non-Const nodes in all; the seed picks the target.
 *
 * Graph outputs: the logits (BiasAdd), the Softmax when present, and sometimes an
 * intermediate feature map (so rewrites meet values that are both consumed and fetched).
 * Weights: LeCun/He-normal scaled so activations stay O(1) without calibration (the default
 * for `random` when zoo_build gets NULL opts); residual branches are scaled down. */
#include <math.h>
#include <stdio.h>

#include "builder.h"

typedef struct Dag {
    Builder *b;
    int step;         /* names are "s<step>_<what>" so every step's nodes are unique */
    ValueRef seen[64]; /* values produced by earlier steps (for long skips) */
    int n_seen;
} Dag;

static int pick(Dag *d, int n) { return (int)rng_below(&d->b->rng, (uint64_t)n); }

static const char *nm(Dag *d, char *buf, size_t cap, const char *what) {
    snprintf(buf, cap, "s%d_%s", d->step, what);
    return buf;
}

static ValueRef const_vector(Dag *d, const char *name, int64_t c, double mean, double std) {
    Tensor t = bld_normal(d->b, shape_make(1, (int64_t[]){c}), mean, std);
    return bld_const(d->b, name, &t);
}

/* optional BiasAdd or batch norm after a conv, then an optional Relu/Relu6 (act chosen by caller) */
static ValueRef post_conv(Dag *d, ValueRef y, const char *layer, int norm, int act) {
    char n[128], bn[128];
    Builder *b = d->b;
    if (norm == 1) {
        snprintf(bn, sizeof bn, "%s/BiasAdd/ReadVariableOp", layer);
        ValueRef bias = const_vector(d, bn, bld_dim(b, y, -1), 0.0, 0.1);
        snprintf(n, sizeof n, "%s/BiasAdd", layer);
        y = bld_bias_add(b, n, y, bias);
    } else if (norm == 2) {
        snprintf(n, sizeof n, "%s_bn", layer);
        y = bld_batchnorm(b, n, y, 1e-3f);
    }
    if (act == 1) {
        snprintf(n, sizeof n, "%s_relu/Relu", layer);
        y = bld_unary(b, n, "Relu", y);
    } else if (act == 2) {
        snprintf(n, sizeof n, "%s_relu/Relu6", layer);
        y = bld_unary(b, n, "Relu6", y);
    }
    return y;
}

/* conv (k x k, stride, padding) with He scaling when followed by an activation */
static ValueRef conv(Dag *d, const char *layer, ValueRef x, int k, int cout, int stride, const char *padding, int act,
                     double gain) {
    double fan_in = (double)k * k * (double)bld_dim(d->b, x, -1);
    return bld_conv2d(d->b, layer, x, k, cout, stride, padding, sqrt(gain * (act ? 2.0 : 1.0) / fan_in));
}

static ValueRef step_conv(Dag *d, ValueRef x) {
    char l[64];
    int64_t h = bld_dim(d->b, x, 1);
    int k = pick(d, 2) ? 3 : 1, stride = (h >= 4 && pick(d, 4) == 0) ? 2 : 1;
    int cout = 4 + pick(d, 13), norm = pick(d, 3), act = pick(d, 3);
    ValueRef y = conv(d, nm(d, l, sizeof l, "conv"), x, k, cout, stride, "SAME", act, 1.0);
    return post_conv(d, y, l, norm, act);
}

static ValueRef step_depthwise(Dag *d, ValueRef x) {
    char l[64];
    int norm = pick(d, 3), act = pick(d, 3) ? 2 : 0;
    ValueRef y = bld_depthwise(d->b, nm(d, l, sizeof l, "dw"), x, 3, 1, "SAME", sqrt((act ? 2.0 : 1.0) / 9.0));
    return post_conv(d, y, l, norm, act);
}

static ValueRef step_residual(Dag *d, ValueRef x) {
    char l[64], a[64];
    Builder *b = d->b;
    /* a long skip to an earlier value of the same shape, when there is one */
    const Shape *s = bld_shape(b, x);
    if (s && pick(d, 2))
        for (int i = d->n_seen - 2; i >= 0; i--)
            if (d->seen[i].node != x.node && shape_equal(bld_shape(b, d->seen[i]), s))
                return bld_binary(b, nm(d, a, sizeof a, "add/add"), "AddV2", d->seen[i], x);
    int act = pick(d, 2);
    ValueRef y = conv(d, nm(d, l, sizeof l, "res_conv"), x, 3, (int)bld_dim(b, x, -1), 1, "SAME", act, 0.25);
    y = post_conv(d, y, l, 1 + pick(d, 2), act);
    return bld_binary(b, nm(d, a, sizeof a, "add/add"), "AddV2", x, y);
}

static ValueRef step_affine(Dag *d, ValueRef x) {
    char n[64], c[64];
    Builder *b = d->b;
    int64_t ch = bld_dim(b, x, -1);
    int which = pick(d, 3); /* 0: Mul, 1: Add, 2: both */
    if (which != 1) {
        ValueRef s = const_vector(d, nm(d, c, sizeof c, "scale/y"), ch, 1.0, 0.2);
        x = bld_binary(b, nm(d, n, sizeof n, "scale"), "Mul", x, s);
    }
    if (which != 0) {
        ValueRef t = const_vector(d, nm(d, c, sizeof c, "shift/y"), ch, 0.0, 0.1);
        x = bld_binary(b, nm(d, n, sizeof n, "shift"), pick(d, 2) ? "AddV2" : "Add", x, t);
    }
    return x;
}

static ValueRef step_concat(Dag *d, ValueRef x) {
    char l1[64], l2[64], n[64];
    Builder *b = d->b;
    int64_t ch = bld_dim(b, x, -1);
    ValueRef br[3];
    int nb = 0;
    int act = pick(d, 2);
    br[nb++] = post_conv(d, conv(d, nm(d, l1, sizeof l1, "branch_a"), x, 1, 2 + pick(d, 7), 1, "SAME", act, 1.0), l1, 0, act);
    if (ch <= 16 && pick(d, 2)) br[nb++] = x; /* the input itself, as in a DenseNet block */
    br[nb++] = post_conv(d, conv(d, nm(d, l2, sizeof l2, "branch_b"), x, 3, 2 + pick(d, 7), 1, "SAME", 0, 1.0), l2, 1, 0);
    return bld_concat(b, nm(d, n, sizeof n, "concat"), br, nb, pick(d, 2) ? -1 : 3);
}

static ValueRef step_pool(Dag *d, ValueRef x) {
    char n[64];
    int64_t h = bld_dim(d->b, x, 1);
    const char *op = pick(d, 2) ? "MaxPool" : "AvgPool";
    snprintf(n, sizeof n, "s%d_pool/%s", d->step, op);
    if (h >= 4 && pick(d, 3)) return pick(d, 2) ? bld_pool(d->b, n, op, x, 2, 2, "VALID") : bld_pool(d->b, n, op, x, 3, 2, "SAME");
    return bld_pool(d->b, n, op, x, 3, 1, "SAME");
}

static ValueRef step_pad_conv(Dag *d, ValueRef x) {
    char p[64], l[64];
    int64_t h = bld_dim(d->b, x, 1);
    int act = pick(d, 3);
    if (h >= 4 && pick(d, 3) == 0) {
        /* the stride-2 form Keras writes: pad (0,1) then VALID 3x3/2 */
        x = bld_pad(d->b, nm(d, p, sizeof p, "pad/Pad"), x, (int32_t[]){0, 0, 0, 1, 0, 1, 0, 0}, 4);
        x = conv(d, nm(d, l, sizeof l, "conv"), x, 3, 4 + pick(d, 13), 2, "VALID", act, 1.0);
    } else {
        x = bld_pad(d->b, nm(d, p, sizeof p, "pad/Pad"), x, (int32_t[]){0, 0, 1, 1, 1, 1, 0, 0}, 4);
        x = conv(d, nm(d, l, sizeof l, "conv"), x, 3, 4 + pick(d, 13), 1, "VALID", act, 1.0);
    }
    return post_conv(d, x, l, pick(d, 3), act);
}

static ValueRef step_transpose(Dag *d, ValueRef x) {
    char n[64];
    x = bld_transpose(d->b, nm(d, n, sizeof n, "to_nchw"), x, (int32_t[]){0, 3, 1, 2}, 4);
    if (pick(d, 3) == 0) x = bld_unary(d->b, nm(d, n, sizeof n, "nchw_act"), pick(d, 2) ? "Relu" : "Tanh", x);
    return bld_transpose(d->b, nm(d, n, sizeof n, "to_nhwc"), x, (int32_t[]){0, 2, 3, 1}, 4);
}

static ValueRef step_reshape(Dag *d, ValueRef x) {
    char n[64];
    Builder *b = d->b;
    int32_t h = (int32_t)bld_dim(b, x, 1), w = (int32_t)bld_dim(b, x, 2), c = (int32_t)bld_dim(b, x, 3);
    if (pick(d, 2)) x = bld_reshape(b, nm(d, n, sizeof n, "flatten"), x, (int32_t[]){-1, h * w, c}, 3);
    else x = bld_reshape(b, nm(d, n, sizeof n, "flatten"), x, (int32_t[]){-1, c}, 2);
    return bld_reshape(b, nm(d, n, sizeof n, "unflatten"), x, (int32_t[]){-1, h, w, c}, 4);
}

static ValueRef step_identity(Dag *d, ValueRef x) {
    char n[64], what[32];
    int count = 1 + pick(d, 3);
    for (int i = 0; i < count; i++) {
        snprintf(what, sizeof what, "identity_%d", i);
        x = bld_identity(d->b, nm(d, n, sizeof n, what), x);
    }
    return x;
}

static ValueRef step_activation(Dag *d, ValueRef x) {
    char n[64];
    static const char *const ops[] = {"Sigmoid", "Tanh", "Relu", "Relu6"};
    const char *op = ops[pick(d, 4)];
    return bld_unary(d->b, nm(d, n, sizeof n, op), op, x);
}

typedef ValueRef (*StepFn)(Dag *d, ValueRef x);

static int count_compute_nodes(const Graph *g) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->op != OP_CONST && g->nodes[i]->op != OP_PLACEHOLDER;
    return n;
}

Graph *zoo_build_random(const ZooOpts *o, Err *err) {
    static const StepFn steps[] = {step_conv,     step_conv,      step_depthwise, step_residual,
                                   step_affine,   step_concat,    step_pool,      step_pad_conv,
                                   step_transpose, step_reshape,  step_identity,  step_activation};
    if (o->image_size && (o->image_size < 2 || o->image_size > 512))
        return err_set(err, ERR_INPUT, "random: image size %d out of range [2, 512]", o->image_size), NULL;
    Builder b;
    if (bld_init(&b, o->seed, o->calibrate, err)) return bld_finish(&b);
    Dag d = {.b = &b};
    int size = o->image_size ? o->image_size : 8 + 4 * pick(&d, 3);
    int channels = 4 + pick(&d, 13);
    int target = 6 + pick(&d, 25); /* non-Const nodes, tail included */
    bool softmax = pick(&d, 4) != 0;
    int tail = softmax ? 4 : 3;
    ValueRef x = bld_image_input(&b, "input", o, size, channels);
    bld_set_scope(&b, "random");
    d.seen[d.n_seen++] = x;
    ValueRef extra_output = BLD_NONE;
    for (d.step = 0; bld_ok(&b) && count_compute_nodes(b.g) + tail < target; d.step++) {
        x = steps[pick(&d, (int)(sizeof steps / sizeof steps[0]))](&d, x);
        if (d.n_seen < 64) d.seen[d.n_seen++] = x;
        if (extra_output.node < 0 && pick(&d, 8) == 0) extra_output = x;
    }
    int classes = 2 + pick(&d, 9);
    int32_t axes[2] = {1, 2};
    ValueRef pooled = bld_mean(&b, "head/Mean", x, axes, 2, false);
    ValueRef logits = bld_dense(&b, "head/dense", pooled, classes, sqrt(1.0 / (double)bld_dim(&b, x, -1)), 0.1);
    bld_add_output(&b, logits);
    if (softmax) bld_add_output(&b, bld_softmax(&b, "head/dense/Softmax", logits));
    if (extra_output.node >= 0 && extra_output.node != x.node) bld_add_output(&b, extra_output);
    return bld_finish(&b);
}
