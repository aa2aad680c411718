/* data_opts.c - the user's data options, parsed once for `optimize`, `bench` and `eval`:
 * --calibration DIR, --eval DIR, --labels FILE and the image preprocessing --resize H,W,
 * --mean a[,b,c], --std a[,b,c], --layout nhwc|nchw, into OptimizeOpts (the library checks
 * and uses them: src/optimize/labelled.c, src/io/image.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* "a" or "a,b,c" (1 to IMAGE_MAX_CHANNELS finite numbers) */
static bool parse_doubles(const char *cmd, const char *opt, const char *s, double *out, int *n) {
    int k = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || k >= IMAGE_MAX_CHANNELS) break;
        out[k++] = v;
        if (*end == 0) { *n = k; return true; }
        if (*end != ',') break;
        p = end + 1;
    }
    fprintf(stderr, "grappo %s: %s wants 1 to %d numbers separated by commas, got '%s'\n", cmd, opt, IMAGE_MAX_CHANNELS, s);
    return false;
}

bool cli_data_opt(Args *a, OptimizeOpts *o, bool *bad) {
    const char *v;
    ImagePrep *p = &o->image_prep;
    if (arg_opt(a, "--calibration", &o->calibration_dir, bad)) return true;
    if (arg_opt(a, "--eval", &o->eval_dir, bad)) return true;
    if (arg_opt(a, "--labels", &o->labels_path, bad)) return true;
    if (arg_opt(a, "--resize", &v, bad)) {
        if (*bad) return true;
        Shape s;
        if (!parse_shape(v, &s) || s.rank != 2 || s.dim[0] < 1 || s.dim[1] < 1 || s.dim[0] > IMAGE_MAX_SIDE || s.dim[1] > IMAGE_MAX_SIDE) {
            fprintf(stderr, "grappo %s: --resize wants H,W (1..%d each), got '%s'\n", a->cmd, IMAGE_MAX_SIDE, v);
            *bad = true;
            return true;
        }
        p->resize_h = (int)s.dim[0];
        p->resize_w = (int)s.dim[1];
        return true;
    }
    if (arg_opt(a, "--mean", &v, bad)) {
        if (!*bad && !parse_doubles(a->cmd, "--mean", v, p->mean, &p->n_mean)) *bad = true;
        return true;
    }
    if (arg_opt(a, "--std", &v, bad)) {
        if (!*bad && !parse_doubles(a->cmd, "--std", v, p->std, &p->n_std)) *bad = true;
        for (int k = 0; !*bad && k < p->n_std; k++)
            if (p->std[k] == 0) {
                fprintf(stderr, "grappo %s: --std: 0 would divide by zero\n", a->cmd);
                *bad = true;
            }
        return true;
    }
    if (arg_opt(a, "--layout", &v, bad)) {
        if (*bad) return true;
        if (!strcmp(v, "nhwc")) p->layout = IMAGE_NHWC;
        else if (!strcmp(v, "nchw")) p->layout = IMAGE_NCHW;
        else {
            fprintf(stderr, "grappo %s: --layout wants nhwc or nchw, got '%s'\n", a->cmd, v);
            *bad = true;
        }
        return true;
    }
    return false;
}
