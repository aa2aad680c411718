/* resnet.c - ResNet-8 (CIFAR-style), ResNet-18 and ResNet-50 v1.5 in TF's op vocabulary,
 * named like keras.applications.ResNet50 frozen with convert_variables_to_constants_v2
 * ("resnet50/conv2_block1_1_conv/Conv2D", "resnet50/conv2_block1_add/add", ...).
 *
 * Choices, stated because they change the graph:
 *  - Conv2D without bias, then FusedBatchNormV3 (epsilon 1.001e-5 as Keras writes it), Relu.
 *  - ImageNet stem as Keras builds it: ZeroPadding2D (a Pad op, 3 pixels) + 7x7/2 VALID conv,
 *    then ZeroPadding2D (1 pixel) + 3x3/2 VALID MaxPool. Zero padding before the max pool is
 *    exact because the pool's input is a Relu output (>= 0).
 *  - v1.5 bottleneck: the stride sits in the 3x3 conv (SAME), 1x1 convs are VALID; projection
 *    shortcuts (1x1 conv, stride s, + BN) when the shape changes, AddV2 then Relu.
 *  - resnet8: 3x3/1 stem of 16 channels, no pool, three stages of one basic block (16, 32, 64
 *    channels; stride 2 in stages 2 and 3), 10 classes, 32x32 input by default.
 *  - Head: Mean over H,W (reduction indices [1,2]), MatMul + BiasAdd, Softmax. */
#include <math.h>
#include <stdio.h>

#include "builder.h"

#define BN_EPS 1.001e-5f

typedef struct ResnetSpec {
    const char *scope;
    bool cifar_stem; /* 3x3/1 stem without pool, instead of the 7x7/2 stem + max pool */
    int stem_width;
    bool bottleneck; /* 1x1-3x3-1x1 blocks with 4x expansion, else two 3x3 convs */
    int stages;
    int blocks[4];
    int widths[4];
    int classes;
    int min_image;
    double head_gain; /* classifier weight scale: logits std ~2 on synthetic images (measured) */
} ResnetSpec;

static const ResnetSpec RESNET8 = {"resnet8", true, 16, false, 3, {1, 1, 1}, {16, 32, 64}, 10, 8, 6.0};
static const ResnetSpec RESNET18 = {"resnet18", false, 64, false, 4, {2, 2, 2, 2}, {64, 128, 256, 512}, 1000, 32, 6.0};
static const ResnetSpec RESNET50 = {"resnet50", false, 64, true, 4, {3, 4, 6, 3}, {64, 128, 256, 512}, 1000, 32, 1.5};

static double he_std(int k, int64_t cin) { return sqrt(2.0 / ((double)k * k * (double)cin)); }

/* conv "<p>_conv" + BN "<p>_bn" (+ Relu "<p>_relu/Relu" when relu) */
static ValueRef conv_bn_scaled(Builder *b, const char *p, ValueRef x, int k, int cout, int stride, const char *padding, bool relu,
                               double gamma_scale) {
    char cn[256], bn[256], rn[256];
    snprintf(cn, sizeof cn, "%s_conv", p);
    snprintf(bn, sizeof bn, "%s_bn", p);
    snprintf(rn, sizeof rn, "%s_relu/Relu", p);
    ValueRef y = bld_conv2d(b, cn, x, k, cout, stride, padding, he_std(k, bld_dim(b, x, -1)));
    y = bld_batchnorm_scaled(b, bn, y, BN_EPS, gamma_scale);
    return relu ? bld_unary(b, rn, "Relu", y) : y;
}

static ValueRef conv_bn(Builder *b, const char *p, ValueRef x, int k, int cout, int stride, const char *padding, bool relu) {
    return conv_bn_scaled(b, p, x, k, cout, stride, padding, relu, 1.0);
}

/* gamma of a residual branch's last batch norm (see bld_batchnorm_scaled) */
#define RESIDUAL_GAMMA 0.2

/* one residual block "conv<stage+2>_block<block+1>"; the stride applies to its first block */
static ValueRef residual_block(Builder *b, const ResnetSpec *s, ValueRef x, int stage, int block) {
    char p[64], n1[80], n2[80], n3[80], n0[80], an[96], on[96];
    snprintf(p, sizeof p, "conv%d_block%d", stage + 2, block + 1);
    snprintf(n0, sizeof n0, "%s_0", p);
    snprintf(n1, sizeof n1, "%s_1", p);
    snprintf(n2, sizeof n2, "%s_2", p);
    snprintf(n3, sizeof n3, "%s_3", p);
    snprintf(an, sizeof an, "%s_add/add", p);
    snprintf(on, sizeof on, "%s_out/Relu", p);
    int stride = (block == 0 && stage > 0) ? 2 : 1;
    int width = s->widths[stage];
    int cout = s->bottleneck ? 4 * width : width;

    ValueRef shortcut = x;
    if (stride != 1 || bld_dim(b, x, -1) != cout) shortcut = conv_bn(b, n0, x, 1, cout, stride, "VALID", false);

    ValueRef y;
    if (s->bottleneck) {
        y = conv_bn(b, n1, x, 1, width, 1, "VALID", true);
        y = conv_bn(b, n2, y, 3, width, stride, "SAME", true);
        y = conv_bn_scaled(b, n3, y, 1, cout, 1, "VALID", false, RESIDUAL_GAMMA);
    } else {
        y = conv_bn(b, n1, x, 3, width, stride, "SAME", true);
        y = conv_bn_scaled(b, n2, y, 3, width, 1, "SAME", false, RESIDUAL_GAMMA);
    }
    y = bld_binary(b, an, "AddV2", shortcut, y);
    return bld_unary(b, on, "Relu", y);
}

/* channels scaled by the width option (percent), rounded to a multiple of 8, at least 8 */
static int scaled(int ch, int width_pct) {
    if (width_pct <= 0 || width_pct == 100) return ch;
    int c = (ch * width_pct + 400) / 800 * 8;
    return c < 8 ? 8 : c;
}

static Graph *build(const ResnetSpec *spec, const ZooOpts *o, Err *err) {
    if (o->width_pct < 0 || o->width_pct > 400) return err_set(err, ERR_INPUT, "%s: width %d%% out of range [1, 400]", spec->scope, o->width_pct), NULL;
    ResnetSpec scaled_spec = *spec;
    const ResnetSpec *s = &scaled_spec;
    scaled_spec.stem_width = scaled(spec->stem_width, o->width_pct);
    for (int k = 0; k < 4; k++) scaled_spec.widths[k] = scaled(spec->widths[k], o->width_pct);
    int size = o->image_size ? o->image_size : (s->cifar_stem ? 32 : 224);
    if (size < s->min_image || size > 4096)
        return err_set(err, ERR_INPUT, "%s: image size %d out of range [%d, 4096]", s->scope, size, s->min_image), NULL;
    Builder b;
    if (bld_init(&b, o->seed, o->calibrate, err)) return bld_finish(&b);
    ValueRef x = bld_image_input(&b, "input_1", o, size, 3);
    bld_set_scope(&b, s->scope);
    if (s->cifar_stem) {
        x = conv_bn(&b, "conv1", x, 3, s->stem_width, 1, "SAME", true);
    } else {
        x = bld_pad(&b, "conv1_pad/Pad", x, (int32_t[]){0, 0, 3, 3, 3, 3, 0, 0}, 4);
        x = conv_bn(&b, "conv1", x, 7, s->stem_width, 2, "VALID", true);
        x = bld_pad(&b, "pool1_pad/Pad", x, (int32_t[]){0, 0, 1, 1, 1, 1, 0, 0}, 4);
        x = bld_pool(&b, "pool1_pool/MaxPool", "MaxPool", x, 3, 2, "VALID");
    }
    bld_keep_only(&b, &x, 1);
    for (int stage = 0; stage < s->stages; stage++)
        for (int block = 0; block < s->blocks[stage]; block++) {
            x = residual_block(&b, s, x, stage, block);
            bld_keep_only(&b, &x, 1); /* activations inside the block are no longer needed */
        }
    bld_classifier_head(&b, x, "avg_pool", "predictions", s->classes, s->head_gain);
    return bld_finish(&b);
}

Graph *zoo_build_resnet(int depth, const ZooOpts *opts, Err *err) {
    switch (depth) {
    case 8: return build(&RESNET8, opts, err);
    case 18: return build(&RESNET18, opts, err);
    case 50: return build(&RESNET50, opts, err);
    default: return err_set(err, ERR_INPUT, "resnet: no depth %d (8, 18 or 50)", depth), NULL;
    }
}
