/* ref_resize.c - reference kernels for ResizeBilinear and ResizeNearestNeighbor (NHWC), with
 * TensorFlow's coordinate rules, computed in float as TF does so boundary cases round alike:
 *   scale = (align_corners && out > 1) ? (in - 1) / (out - 1) : in / out
 *   bilinear: src = half_pixel_centers ? (x + 0.5) * scale - 0.5 : x * scale;
 *             lower = max(floor(src), 0), upper = min(ceil(src), in - 1), lerp = src - floor(src)
 *   nearest:  src = half_pixel_centers ? (x + 0.5) * scale : x * scale;
 *             i = align_corners ? round(src) (half away from zero) : floor(src),
 *             clamped to in - 1 (and to >= 0 with half_pixel_centers)
 * align_corners together with half_pixel_centers is rejected, as in TF. Nearest copies
 * elements of any supported dtype; bilinear reads float32 and writes float32. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

static float resize_scale(int64_t in, int64_t out, bool align_corners) {
    return (align_corners && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
}

/* one axis of bilinear interpolation */
typedef struct Lerp {
    int64_t lower, upper;
    float frac;
} Lerp;

static Lerp bilinear_axis(int64_t x, float scale, int64_t in, bool half_pixel) {
    float src = half_pixel ? ((float)x + 0.5f) * scale - 0.5f : (float)x * scale;
    float fl = floorf(src);
    Lerp l;
    l.lower = (int64_t)fl > 0 ? (int64_t)fl : 0;
    l.upper = (int64_t)ceilf(src) < in - 1 ? (int64_t)ceilf(src) : in - 1;
    l.frac = src - fl;
    return l;
}

static int64_t nearest_axis(int64_t x, float scale, int64_t in, bool align_corners, bool half_pixel) {
    float src = half_pixel ? ((float)x + 0.5f) * scale : (float)x * scale;
    int64_t i = align_corners ? (int64_t)roundf(src) : (int64_t)floorf(src);
    if (i > in - 1) i = in - 1;
    if (half_pixel && i < 0) i = 0;
    return i;
}

int ref_resize(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    const Shape *xs = &in[0].shape;
    bool ac = node_attr_b(n, "align_corners", false), hp = node_attr_b(n, "half_pixel_centers", false);
    bool bilinear = n->op == OP_RESIZE_BILINEAR;
    int64_t size[2];
    if (tensor_to_i64(&in[1], size, 2, err) != 2) return err_set(err, ERR_RUNTIME, "%s: size must hold 2 values", n->op_name);
    if (ac && hp) return err_set(err, ERR_RUNTIME, "%s: align_corners and half_pixel_centers cannot both be true", n->op_name);
    if (xs->rank != 4 || xs->dim[1] < 1 || xs->dim[2] < 1 || size[0] < 1 || size[1] < 1)
        return err_set(err, ERR_RUNTIME, "%s: needs a non-empty 4-D NHWC input and a positive size", n->op_name);
    int64_t batch = xs->dim[0], ih = xs->dim[1], iw = xs->dim[2], ch = xs->dim[3], oh = size[0], ow = size[1];
    Shape out_shape = shape_make(4, (int64_t[]){batch, oh, ow, ch});
    if (ref_require_shape(&out[0], &out_shape, err)) return -1;
    if (!tensor_has_data(&in[0])) return err_set(err, ERR_RUNTIME, "%s: input has no data", n->op_name);
    float sh = resize_scale(ih, oh, ac), sw = resize_scale(iw, ow, ac);
    void *yv = tensor_mut(&out[0]);
    if (!yv) return err_set(err, ERR_RUNTIME, "%s: out of memory", n->op_name);

    if (!bilinear) {
        size_t es = dtype_size(in[0].dtype);
        if (!es || out[0].dtype != in[0].dtype)
            return err_set(err, ERR_RUNTIME, "%s: dtype %s is not supported", n->op_name, dtype_name(in[0].dtype));
        const char *x = tensor_data(&in[0]);
        char *y = yv;
        for (int64_t b = 0; b < batch; b++)
            for (int64_t oy = 0; oy < oh; oy++) {
                int64_t sy = nearest_axis(oy, sh, ih, ac, hp);
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t sx = nearest_axis(ox, sw, iw, ac, hp);
                    memcpy(y + (size_t)(((b * oh + oy) * ow + ox) * ch) * es, x + (size_t)(((b * ih + sy) * iw + sx) * ch) * es,
                           (size_t)ch * es);
                }
            }
        return 0;
    }
    if (ref_require_f32(n, &in[0], "images", err) || ref_require_f32(n, &out[0], "output", err)) return -1;
    const float *x = tensor_data(&in[0]);
    float *y = yv;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t oy = 0; oy < oh; oy++) {
            Lerp ly = bilinear_axis(oy, sh, ih, hp);
            for (int64_t ox = 0; ox < ow; ox++) {
                Lerp lx = bilinear_axis(ox, sw, iw, hp);
                const float *tl = x + ((b * ih + ly.lower) * iw + lx.lower) * ch;
                const float *tr = x + ((b * ih + ly.lower) * iw + lx.upper) * ch;
                const float *bl = x + ((b * ih + ly.upper) * iw + lx.lower) * ch;
                const float *br = x + ((b * ih + ly.upper) * iw + lx.upper) * ch;
                float *yp = y + ((b * oh + oy) * ow + ox) * ch;
                for (int64_t c = 0; c < ch; c++) {
                    float top = tl[c] + (tr[c] - tl[c]) * lx.frac;
                    float bottom = bl[c] + (br[c] - bl[c]) * lx.frac;
                    yp[c] = top + (bottom - top) * ly.frac;
                }
            }
        }
    return 0;
}
