/* image.c - PNG and JPEG decoding to 8-bit HWC pixels, and preprocessing into model input
 * (see image.h). libjpeg and libpng report errors by calling a handler that must not return:
 * ours longjmp back to the decoder here, which frees what it made and returns ERR_INPUT. */
#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "../graph/mem_budget.h"
#include "input_file.h"

/* the largest image file read (a JPEG or PNG of IMAGE_MAX_SIDE squared is far smaller) */
#define IMAGE_MAX_FILE_BYTES ((size_t)256 << 20)

void image_free(Image *im) {
    if (!im) return;
    free(im->px);
    *im = (Image){0};
}

const char *image_kind_of_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    char ext[8];
    size_t n = strlen(dot + 1);
    if (n == 0 || n >= sizeof ext) return NULL;
    for (size_t i = 0; i <= n; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    if (!strcmp(ext, "png")) return "png";
    if (!strcmp(ext, "jpg") || !strcmp(ext, "jpeg")) return "jpeg";
    return NULL;
}

/* h * w * c bytes within the side limit and the memory budget */
static int check_size(const char *what, long h, long w, int c, Err *err) {
    if (h < 1 || w < 1 || h > IMAGE_MAX_SIDE || w > IMAGE_MAX_SIDE)
        return err_set(err, ERR_INPUT, "%s: image size %ldx%ld is outside 1..%d", what, w, h, IMAGE_MAX_SIDE);
    if ((size_t)h * (size_t)w * (size_t)c > mem_budget())
        return err_set(err, ERR_INPUT, "%s: a %ldx%ld image needs more than the memory budget (--max-memory)", what, w, h);
    return 0;
}

/* ---- JPEG ---- */

typedef struct JpegFail {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} JpegFail;

static void jpeg_fail(j_common_ptr cinfo) {
    JpegFail *f = (JpegFail *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->msg);
    longjmp(f->jump, 1);
}

/* level < 0: a warning about corrupt data ("Premature end of JPEG file"): bad input here */
static void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_fail(cinfo);
}

static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }

static int decode_jpeg(const uint8_t *data, size_t len, const char *what, Image *out, Err *err) {
    struct jpeg_decompress_struct cinfo;
    JpegFail fail;
    uint8_t *volatile px = NULL;
    cinfo.err = jpeg_std_error(&fail.pub);
    fail.pub.error_exit = jpeg_fail;
    fail.pub.emit_message = jpeg_message;
    fail.pub.output_message = jpeg_quiet;
    fail.msg[0] = 0;
    if (setjmp(fail.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        return err_set(err, ERR_INPUT, "%s: bad JPEG: %s", what, fail.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    int c;
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) { cinfo.out_color_space = JCS_GRAYSCALE; c = 1; }
    else if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB) { cinfo.out_color_space = JCS_RGB; c = 3; }
    else {
        jpeg_destroy_decompress(&cinfo);
        return err_set(err, ERR_INPUT, "%s: JPEG colour space %d (CMYK or YCCK) is not supported: convert it to RGB", what,
                       (int)cinfo.jpeg_color_space);
    }
    if (check_size(what, (long)cinfo.image_height, (long)cinfo.image_width, c, err)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_start_decompress(&cinfo);
    int h = (int)cinfo.output_height, w = (int)cinfo.output_width;
    if (cinfo.output_components != c) longjmp(fail.jump, (snprintf(fail.msg, sizeof fail.msg, "unexpected component count"), 1));
    size_t row = (size_t)w * (size_t)c;
    px = malloc(row * (size_t)h);
    if (!px) {
        jpeg_destroy_decompress(&cinfo);
        return err_set(err, ERR_RUNTIME, "%s: out of memory", what);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW r = px + row * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *out = (Image){.h = h, .w = w, .c = c, .px = px};
    return 0;
}

/* ---- PNG ---- */

typedef struct PngSrc {
    const uint8_t *data;
    size_t len, at;
    char msg[256];
} PngSrc;

static void png_fail(png_structp png, png_const_charp msg) {
    PngSrc *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_quiet(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_read_mem(png_structp png, png_bytep dst, png_size_t n) {
    PngSrc *s = png_get_io_ptr(png);
    if (n > s->len - s->at) png_error(png, "file ends early (truncated)");
    memcpy(dst, s->data + s->at, n);
    s->at += n;
}

static int decode_png(const uint8_t *data, size_t len, const char *what, Image *out, Err *err) {
    PngSrc src = {.data = data, .len = len};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_quiet);
    if (!png) return err_set(err, ERR_RUNTIME, "%s: out of memory", what);
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); return err_set(err, ERR_RUNTIME, "%s: out of memory", what); }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(px);
        free(rows);
        return err_set(err, ERR_INPUT, "%s: bad PNG: %s", what, src.msg);
    }
    png_set_user_limits(png, IMAGE_MAX_SIDE, IMAGE_MAX_SIDE);
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    long h = (long)png_get_image_height(png, info), w = (long)png_get_image_width(png, info);
    int c = png_get_channels(png, info);
    if (c < 1 || c > IMAGE_MAX_CHANNELS) png_error(png, "unexpected channel count");
    if (check_size(what, h, w, c, err)) { png_destroy_read_struct(&png, &info, NULL); return -1; }
    size_t row = (size_t)w * (size_t)c;
    if (png_get_rowbytes(png, info) != row) png_error(png, "unexpected row size");
    px = malloc(row * (size_t)h);
    rows = malloc(sizeof *rows * (size_t)h);
    if (!px || !rows) png_error(png, "out of memory");
    for (long y = 0; y < h; y++) rows[y] = px + row * (size_t)y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *out = (Image){.h = (int)h, .w = (int)w, .c = c, .px = px};
    return 0;
}

int image_decode(const uint8_t *data, size_t len, const char *what, Image *out, Err *err) {
    *out = (Image){0};
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && !memcmp(data, png_sig, 8)) return decode_png(data, len, what, out, err);
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return decode_jpeg(data, len, what, out, err);
    return err_set(err, ERR_INPUT, "%s: not a PNG or JPEG file (unknown signature)", what);
}

int image_load(const char *path, Image *out, Err *err) {
    uint8_t *data;
    size_t len;
    *out = (Image){0};
    if (read_input_file(path, IMAGE_MAX_FILE_BYTES, &data, &len, err)) return -1;
    int rc = image_decode(data, len, path, out, err);
    free(data);
    return rc;
}

/* ---- preprocessing ---- */

int image_prep_check(const ImagePrep *p, Err *err) {
    if ((p->resize_h != 0 || p->resize_w != 0) &&
        (p->resize_h < 1 || p->resize_w < 1 || p->resize_h > IMAGE_MAX_SIDE || p->resize_w > IMAGE_MAX_SIDE))
        return err_set(err, ERR_INPUT, "--resize %d,%d: sizes must be 1..%d", p->resize_h, p->resize_w, IMAGE_MAX_SIDE);
    if (p->n_mean < 0 || p->n_mean > IMAGE_MAX_CHANNELS || p->n_std < 0 || p->n_std > IMAGE_MAX_CHANNELS)
        return err_set(err, ERR_INPUT, "--mean and --std take 1 to %d numbers", IMAGE_MAX_CHANNELS);
    for (int i = 0; i < p->n_mean; i++)
        if (!isfinite(p->mean[i])) return err_set(err, ERR_INPUT, "--mean: %g is not a finite number", p->mean[i]);
    for (int i = 0; i < p->n_std; i++)
        if (!isfinite(p->std[i]) || p->std[i] == 0) return err_set(err, ERR_INPUT, "--std: %g must be finite and not 0", p->std[i]);
    if (p->layout != IMAGE_NHWC && p->layout != IMAGE_NCHW) return err_set(err, ERR_INPUT, "layout must be nhwc or nchw");
    return 0;
}

/* "a" or "a,b,c": 1 to IMAGE_MAX_CHANNELS finite numbers */
static int parse_numbers(const char *key, const char *s, double *out, int *n, Err *err) {
    int k = 0;
    for (const char *p = s;;) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || !isfinite(v) || k >= IMAGE_MAX_CHANNELS || isspace((unsigned char)*p)) break;
        out[k++] = v;
        if (*end == 0) { *n = k; return 0; }
        if (*end != ',') break;
        p = end + 1;
    }
    return err_set(err, ERR_INPUT, "--%s wants 1 to %d numbers separated by commas, got '%s'", key, IMAGE_MAX_CHANNELS, s);
}

int image_prep_set(ImagePrep *p, const char *key, const char *value, Err *err) {
    if (!strcmp(key, "resize")) {
        char *end;
        errno = 0;
        long h = strtol(value, &end, 10), w = -1;
        if (!errno && end != value && *end == ',' && !isspace((unsigned char)end[1])) {
            const char *q = end + 1;
            w = strtol(q, &end, 10);
            if (errno || end == q || *end) w = -1;
        }
        if (w < 1 || h < 1 || h > IMAGE_MAX_SIDE || w > IMAGE_MAX_SIDE || isspace((unsigned char)*value))
            return err_set(err, ERR_INPUT, "--resize wants H,W (1..%d each), got '%s'", IMAGE_MAX_SIDE, value);
        p->resize_h = (int)h;
        p->resize_w = (int)w;
        return 0;
    }
    if (!strcmp(key, "mean")) return parse_numbers(key, value, p->mean, &p->n_mean, err);
    if (!strcmp(key, "std")) {
        if (parse_numbers(key, value, p->std, &p->n_std, err)) return -1;
        for (int k = 0; k < p->n_std; k++)
            if (p->std[k] == 0) return err_set(err, ERR_INPUT, "--std: 0 would divide by zero");
        return 0;
    }
    if (!strcmp(key, "layout")) {
        if (!strcmp(value, "nhwc")) p->layout = IMAGE_NHWC;
        else if (!strcmp(value, "nchw")) p->layout = IMAGE_NCHW;
        else return err_set(err, ERR_INPUT, "--layout wants nhwc or nchw, got '%s'", value);
        return 0;
    }
    err_clear(err);
    return -1;
}

/* TensorFlow's resize_bilinear with half_pixel_centers (tf.image.resize's default), in float
   in the same order of operations: in = (i + 0.5) * (in_size / out_size) - 0.5, lower =
   max(floor(in), 0), upper = min(ceil(in), in_size - 1), lerp = in - floor(in) */
typedef struct Lerp { int lo, hi; float t; } Lerp;

static void lerp_weights(int in_size, int out_size, Lerp *l) {
    float scale = (float)in_size / (float)out_size;
    for (int i = 0; i < out_size; i++) {
        float in = ((float)i + 0.5f) * scale - 0.5f, f = floorf(in);
        l[i].lo = f > 0 ? (int)f : 0;
        int up = (int)ceilf(in);
        l[i].hi = up < in_size - 1 ? up : in_size - 1;
        if (l[i].hi < 0) l[i].hi = 0;
        l[i].t = in - f;
    }
}

void image_resize_bilinear(const uint8_t *src, int h, int w, int c, float *dst, int oh, int ow) {
    Lerp *ly = malloc(sizeof *ly * (size_t)oh), *lx = malloc(sizeof *lx * (size_t)ow);
    if (!ly || !lx) { free(ly); free(lx); memset(dst, 0, sizeof *dst * (size_t)oh * (size_t)ow * (size_t)c); return; }
    lerp_weights(h, oh, ly);
    lerp_weights(w, ow, lx);
    for (int y = 0; y < oh; y++) {
        const uint8_t *r0 = src + (size_t)ly[y].lo * (size_t)w * (size_t)c, *r1 = src + (size_t)ly[y].hi * (size_t)w * (size_t)c;
        for (int x = 0; x < ow; x++)
            for (int k = 0; k < c; k++) {
                float tl = r0[(size_t)lx[x].lo * (size_t)c + (size_t)k], tr = r0[(size_t)lx[x].hi * (size_t)c + (size_t)k];
                float bl = r1[(size_t)lx[x].lo * (size_t)c + (size_t)k], br = r1[(size_t)lx[x].hi * (size_t)c + (size_t)k];
                float top = tl + (tr - tl) * lx[x].t, bottom = bl + (br - bl) * lx[x].t;
                dst[((size_t)y * (size_t)ow + (size_t)x) * (size_t)c + (size_t)k] = top + (bottom - top) * ly[y].t;
            }
    }
    free(ly);
    free(lx);
}

static const char *channels_name(int c) {
    static const char *const names[] = {"?", "gray", "gray+alpha", "RGB", "RGBA"};
    return c >= 1 && c <= 4 ? names[c] : "?";
}

int image_preprocess(const Image *im, const ImagePrep *p, int h, int w, int c, float *dst, const char *what, Err *err) {
    bool gray_to_rgb = im->c == 1 && c == 3;
    if (im->c != c && !gray_to_rgb)
        return err_set(err, ERR_INPUT, "%s: the image has %d channel%s (%s), the model's input wants %d", what, im->c,
                       im->c == 1 ? "" : "s", channels_name(im->c), c);
    if ((p->n_mean > 1 && p->n_mean != c) || (p->n_std > 1 && p->n_std != c))
        return err_set(err, ERR_INPUT, "%s: --mean/--std give %d values, the model's input has %d channels", what,
                       p->n_mean > 1 && p->n_mean != c ? p->n_mean : p->n_std, c);
    bool resize = p->resize_h > 0;
    int rh = resize ? p->resize_h : im->h, rw = resize ? p->resize_w : im->w;
    if (rh != h || rw != w) {
        if (resize)
            return err_set(err, ERR_INPUT, "%s: --resize %d,%d does not give the model's input size %dx%d (H x W)", what, rh, rw, h, w);
        return err_set(err, ERR_INPUT, "%s: the image is %dx%d (H x W), the model's input is %dx%d: pass --resize %d,%d", what,
                       im->h, im->w, h, w, h, w);
    }
    size_t n_px = (size_t)h * (size_t)w;
    float *hwc = malloc(sizeof *hwc * n_px * (size_t)im->c);
    if (!hwc) return err_set(err, ERR_RUNTIME, "%s: out of memory", what);
    if (resize) image_resize_bilinear(im->px, im->h, im->w, im->c, hwc, h, w);
    else
        for (size_t i = 0; i < n_px * (size_t)im->c; i++) hwc[i] = im->px[i];
    for (int k = 0; k < c; k++) {
        double mean = p->n_mean == 0 ? 0.0 : p->mean[p->n_mean == 1 ? 0 : k];
        double std = p->n_std == 0 ? 1.0 : p->std[p->n_std == 1 ? 0 : k];
        int from = gray_to_rgb ? 0 : k;
        for (size_t i = 0; i < n_px; i++) {
            float x = ((float)(hwc[i * (size_t)im->c + (size_t)from] / 255.0f) - (float)mean) / (float)std;
            dst[p->layout == IMAGE_NCHW ? (size_t)k * n_px + i : i * (size_t)c + (size_t)k] = x;
        }
    }
    free(hwc);
    return 0;
}
