/* image.h - images a user gives as data: PNG (libpng) and JPEG (libjpeg-turbo) decoded to 8-bit
 * pixels in HWC order, and the one preprocessing that turns them into a model's input:
 *
 *   gray -> RGB   only when the model wants 3 channels and the image has 1 (the value repeated)
 *   resize        bilinear, TensorFlow's tf.image.resize convention (half-pixel centres, no
 *                 antialiasing, float result, not rounded)
 *   normalize     x = (p / 255 - mean[c]) / std[c]   (defaults mean 0, std 1: x = p / 255)
 *   layout        NHWC (default) or NCHW
 *
 * Decoding never exits or prints: libjpeg's and libpng's error handlers longjmp back and every
 * libjpeg warning (corrupt or truncated data) is an error. Errors are ERR_INPUT naming `what`. */
#ifndef GRAPPO_IMAGE_H
#define GRAPPO_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

/* the largest side decoded (a guard against headers that promise gigapixels) */
#define IMAGE_MAX_SIDE 16384
#define IMAGE_MAX_CHANNELS 4

typedef struct Image {
    int h, w, c;   /* c: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    uint8_t *px;   /* h * w * c bytes, row-major HWC (owned) */
} Image;

typedef enum ImageLayout { IMAGE_NHWC = 0, IMAGE_NCHW } ImageLayout;

/* What turns a decoded image into model input (see the top of this file). */
typedef struct ImagePrep {
    int resize_h, resize_w;           /* 0, 0: no resizing (the image must have the model's size) */
    int n_mean, n_std;                /* 0: the default (0, 1); 1: every channel; else one per channel */
    double mean[IMAGE_MAX_CHANNELS], std[IMAGE_MAX_CHANNELS];
    ImageLayout layout;
} ImagePrep;

/* PNG or JPEG by its signature. Palette PNGs become RGB, 16-bit samples are cut to 8 (high
   byte), gray below 8 bits is expanded. */
int image_decode(const uint8_t *data, size_t len, const char *what, Image *out, Err *err);
int image_load(const char *path, Image *out, Err *err);
void image_free(Image *im);

/* "png" / "jpeg" when `name` ends in .png / .jpg / .jpeg (any case), else NULL */
const char *image_kind_of_name(const char *name);

/* One preprocessing setting from text, as `grappo --resize/--mean/--std/--layout` and the C
   API's grappo_options_set take it: key "resize" "H,W"; "mean" / "std" "a" or "a,b,c" (1 to 4
   finite numbers, std not 0); "layout" "nhwc" or "nchw". ERR_INPUT "--KEY ..." otherwise;
   -1 with err->code ERR_OK when key is none of them. */
int image_prep_set(ImagePrep *p, const char *key, const char *value, Err *err);

/* the settings are possible (positive sizes, std not 0, finite numbers, at most 4 channels) */
int image_prep_check(const ImagePrep *p, Err *err);

/* Bilinear resize of 8-bit HWC pixels to float HWC (TensorFlow's half-pixel convention). */
void image_resize_bilinear(const uint8_t *src, int h, int w, int c, float *dst, int oh, int ow);

/* Preprocesses `im` into dst: h * w * c floats in p->layout order (one image, no batch dim).
   The image must end with h x w (after p's resize) and c channels (gray promoted to 3):
   otherwise ERR_INPUT naming `what`. */
int image_preprocess(const Image *im, const ImagePrep *p, int h, int w, int c, float *dst, const char *what, Err *err);

#endif
