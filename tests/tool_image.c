/* tool_image.c - test helper for tests/tf (not a test suite): one image decoded and
 * preprocessed exactly as grappo feeds it to a model (io/image.h), written as a float32 .npy of
 * shape [H, W, C] (nhwc) or [C, H, W] (nchw), so TensorFlow can check decoding, resizing and
 * normalization.
 * usage: tool_image IN OUT.npy H W C RESIZE(0|1) MEAN_CSV STD_CSV nhwc|nchw */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/image.h"
#include "io/npy.h"

static int csv(const char *s, double *v) {
    int n = 0;
    for (char *end; *s && n < IMAGE_MAX_CHANNELS; s = *end ? end + 1 : end) v[n++] = strtod(s, &end);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: %s IN OUT.npy H W C RESIZE MEAN_CSV STD_CSV nhwc|nchw\n", argv[0]);
        return 2;
    }
    int h = atoi(argv[3]), w = atoi(argv[4]), c = atoi(argv[5]);
    ImagePrep p = {.layout = strcmp(argv[9], "nchw") ? IMAGE_NHWC : IMAGE_NCHW};
    if (atoi(argv[6])) { p.resize_h = h; p.resize_w = w; }
    p.n_mean = csv(argv[7], p.mean);
    p.n_std = csv(argv[8], p.std);
    Err err = {0};
    Image im;
    Tensor t = {0};
    Shape s = {.rank = 3, .dim = {h, w, c}};
    if (p.layout == IMAGE_NCHW) s = (Shape){.rank = 3, .dim = {c, h, w}};
    if (image_prep_check(&p, &err) || image_load(argv[1], &im, &err) || tensor_alloc(&t, DT_FLOAT, &s, &err) ||
        image_preprocess(&im, &p, h, w, c, tensor_mut(&t), argv[1], &err) || npy_save(argv[2], &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return err.code == ERR_RUNTIME ? 1 : 2;
    }
    image_free(&im);
    tensor_release(&t);
    return 0;
}
