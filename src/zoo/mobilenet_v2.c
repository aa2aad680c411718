/* mobilenet_v2.c - MobileNetV2 (width 1.0) in TF's op vocabulary, named like
 * keras.applications.MobileNetV2 frozen with convert_variables_to_constants_v2
 * ("mobilenetv2_1.00_224/block_1_expand/Conv2D", ".../block_1_depthwise/depthwise", ...).
 *
 * As Keras builds it: Conv1 3x3/2 SAME (32) + BN + Relu6; 17 inverted residual blocks
 * (1x1 expand + BN + Relu6 unless the expansion is 1, 3x3 DepthwiseConv2dNative + BN + Relu6,
 * 1x1 linear projection + BN, AddV2 skip when stride 1 and channels match). Stride-2 depthwise
 * convs are preceded by a ZeroPadding2D (Pad op, Keras' correct_pad: (0,1) for even sizes,
 * (1,1) for odd) and are VALID. Then Conv_1 1x1 (1280) + BN + Relu6, Mean over H,W,
 * MatMul + BiasAdd to 1000 logits, Softmax. BN epsilon 1e-3 as Keras writes it for this model. */
#include <math.h>
#include <stdio.h>

#include "builder.h"

#define BN_EPS 1e-3f

/* the inverted residual settings: expansion t, output channels c, repeats n, first stride s */
static const struct { int t, c, n, s; } BLOCKS[] = {
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};

static double he_std(int k, int64_t fan_in_channels) { return sqrt(2.0 / ((double)k * k * (double)fan_in_channels)); }

/* 1x1 or 3x3 conv "<conv>" + BN "<bn>" (+ Relu6 "<relu>/Relu6" when relu != NULL) */
static ValueRef conv_bn_scaled(Builder *b, const char *conv, const char *bn, const char *relu, ValueRef x, int k, int cout,
                               int stride, double gamma_scale) {
    char rn[256];
    ValueRef y = bld_conv2d(b, conv, x, k, cout, stride, "SAME", he_std(k, bld_dim(b, x, -1)));
    y = bld_batchnorm_scaled(b, bn, y, BN_EPS, gamma_scale);
    if (!relu) return y;
    snprintf(rn, sizeof rn, "%s/Relu6", relu);
    return bld_unary(b, rn, "Relu6", y);
}

static ValueRef conv_bn(Builder *b, const char *conv, const char *bn, const char *relu, ValueRef x, int k, int cout,
                        int stride) {
    return conv_bn_scaled(b, conv, bn, relu, x, k, cout, stride, 1.0);
}

static ValueRef inverted_residual(Builder *b, ValueRef x, int block_id, int expansion, int cout, int stride) {
    char p[32], n[6][96];
    if (block_id == 0) snprintf(p, sizeof p, "expanded_conv_");
    else snprintf(p, sizeof p, "block_%d_", block_id);
    int64_t cin = bld_dim(b, x, -1);
    ValueRef y = x;
    if (block_id) {
        snprintf(n[0], sizeof n[0], "%sexpand", p);
        snprintf(n[1], sizeof n[1], "%sexpand_BN", p);
        snprintf(n[2], sizeof n[2], "%sexpand_relu", p);
        y = conv_bn(b, n[0], n[1], n[2], y, 1, (int)(expansion * cin), 1);
    }
    if (stride == 2) {
        /* Keras' correct_pad: one pixel after for even sizes, one on each side for odd */
        int32_t h = (int32_t)bld_dim(b, y, 1), w = (int32_t)bld_dim(b, y, 2);
        int32_t ph = 1 - h % 2, pw = 1 - w % 2;
        snprintf(n[0], sizeof n[0], "%spad/Pad", p);
        y = bld_pad(b, n[0], y, (int32_t[]){0, 0, 1 - ph, 1, 1 - pw, 1, 0, 0}, 4);
    }
    snprintf(n[0], sizeof n[0], "%sdepthwise", p);
    snprintf(n[1], sizeof n[1], "%sdepthwise_BN", p);
    snprintf(n[2], sizeof n[2], "%sdepthwise_relu/Relu6", p);
    y = bld_depthwise(b, n[0], y, 3, stride, stride == 1 ? "SAME" : "VALID", sqrt(2.0 / 9.0));
    y = bld_batchnorm(b, n[1], y, BN_EPS);
    y = bld_unary(b, n[2], "Relu6", y);
    snprintf(n[3], sizeof n[3], "%sproject", p);
    snprintf(n[4], sizeof n[4], "%sproject_BN", p);
    /* a block with a skip connection adds a small update to it: its projection's batch norm
       gets gamma x 0.2 (see bld_batchnorm_scaled) */
    bool skip = stride == 1 && cin == cout;
    y = conv_bn_scaled(b, n[3], n[4], NULL, y, 1, cout, 1, skip ? 0.2 : 1.0);
    if (skip) {
        snprintf(n[5], sizeof n[5], "%sadd/add", p);
        y = bld_binary(b, n[5], "AddV2", x, y);
    }
    return y;
}

Graph *zoo_build_mobilenet_v2(const ZooOpts *o, Err *err) {
    int size = o->image_size ? o->image_size : 224;
    if (size < 32 || size > 4096)
        return err_set(err, ERR_INPUT, "mobilenet_v2: image size %d out of range [32, 4096]", size), NULL;
    Builder b;
    if (bld_init(&b, o->seed, o->calibrate, err)) return bld_finish(&b);
    char scope[64];
    snprintf(scope, sizeof scope, "mobilenetv2_1.00_%d", size);
    ValueRef x = bld_image_input(&b, "input_1", o, size, 3);
    bld_set_scope(&b, scope);
    x = conv_bn(&b, "Conv1", "bn_Conv1", "Conv1_relu", x, 3, 32, 2);
    int block_id = 0;
    for (size_t i = 0; i < sizeof BLOCKS / sizeof BLOCKS[0]; i++)
        for (int r = 0; r < BLOCKS[i].n; r++) {
            x = inverted_residual(&b, x, block_id++, BLOCKS[i].t, BLOCKS[i].c, r == 0 ? BLOCKS[i].s : 1);
            bld_keep_only(&b, &x, 1);
        }
    x = conv_bn(&b, "Conv_1", "Conv_1_bn", "out_relu", x, 1, 1280, 1);
    /* head gain: logits std ~2 on synthetic images (measured) */
    bld_classifier_head(&b, x, "global_average_pooling2d", "predictions", 1000, 3.0);
    return bld_finish(&b);
}
