/* data_opts.c - the user's data options, parsed once for `optimize`, `bench` and `eval`:
 * --calibration DIR, --eval DIR, --labels FILE and the image preprocessing --resize H,W,
 * --mean a[,b,c], --std a[,b,c], --layout nhwc|nchw, into OptimizeOpts (the library checks
 * and uses them: src/optimize/labelled.c, src/io/image.h). */
#include <stdio.h>

#include "cli.h"

const char *cli_data_opts_help(void) {
    return "Data: --calibration DIR and --eval DIR take a directory of images (*.png, *.jpg, *.jpeg, in\n"
           "file-name order) or of <input>_<k>.npy batches (k = 0, 1, ...); --labels FILE holds one integer\n"
           "class per line for the --eval rows: top-1/top-5 against them then judge the accuracy budget\n"
           "(result top-1 >= input top-1 - --max-accuracy-drop). Images: --resize H,W (bilinear, as\n"
           "tf.image.resize), x = (pixel / 255 - mean) / std per channel (--mean a,b,c --std a,b,c;\n"
           "default 0 and 1), --layout nhwc (default) or nchw; a gray image feeds a 3-channel input as\n"
           "RGB. See docs/formats.md.\n";
}

bool cli_data_opt(Args *a, OptimizeOpts *o, bool *bad) {
    const char *v;
    if (arg_opt(a, "--calibration", &o->calibration_dir, bad)) return true;
    if (arg_opt(a, "--eval", &o->eval_dir, bad)) return true;
    if (arg_opt(a, "--labels", &o->labels_path, bad)) return true;
    static const char *const prep[] = {"resize", "mean", "std", "layout"};
    for (size_t k = 0; k < sizeof prep / sizeof *prep; k++) {
        char name[16];
        snprintf(name, sizeof name, "--%s", prep[k]);
        if (!arg_opt(a, name, &v, bad)) continue;
        Err err;
        if (!*bad && image_prep_set(&o->image_prep, prep[k], v, &err)) {
            fprintf(stderr, "grappo %s: %s\n", a->cmd, err.msg);
            *bad = true;
        }
        return true;
    }
    return false;
}
