/* fuzz_image.c - libFuzzer target for image decoding (PNG via libpng, JPEG via libjpeg-turbo)
 * and preprocessing: any input is refused with ERR_INPUT (never an exit, a print or a crash),
 * or decodes to 1..4 channels within the size limit, and then preprocesses (bilinear resize to
 * a size taken from the input, gray promoted to RGB, mean/std) to finite values within the range
 * the formula allows. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Err err;
    Image im;
    if (image_decode(data, size, "fuzz", &im, &err)) {
        if (err.code != ERR_INPUT && !strstr(err.msg, "out of memory")) abort();
        if (im.px) abort();
        return 0;
    }
    if (im.h < 1 || im.w < 1 || im.h > IMAGE_MAX_SIDE || im.w > IMAGE_MAX_SIDE || im.c < 1 || im.c > 4 || !im.px) abort();
    int c = im.c == 1 ? 3 : im.c;
    int oh = 1 + (int)(size % 7), ow = 1 + (int)((size / 7) % 9);
    ImagePrep p = {.resize_h = oh, .resize_w = ow, .n_mean = 1, .mean = {0.5}, .n_std = 1, .std = {0.25},
                   .layout = size % 2 ? IMAGE_NCHW : IMAGE_NHWC};
    float *out = malloc(sizeof *out * (size_t)(oh * ow * c));
    if (!out) abort();
    if (image_preprocess(&im, &p, oh, ow, c, out, "fuzz", &err)) abort();
    for (int i = 0; i < oh * ow * c; i++)
        if (!isfinite(out[i]) || out[i] < -2.0f - 1e-4f || out[i] > 2.0f + 1e-4f) abort(); /* (0 - .5) / .25 .. (1 - .5) / .25 */
    free(out);
    image_free(&im);
    return 0;
}
