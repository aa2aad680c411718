/* test_images.c - the user's data: PNG decoding pixel-exact against images the test encodes
 * itself with libpng (gray, RGB, RGBA, palette, 16-bit), JPEG within the codec's loss against
 * libjpeg-encoded ones, truncated and foreign files refused; bilinear resize against values
 * computed by hand for TensorFlow's half-pixel convention; preprocessing (mean/std, NCHW,
 * gray -> RGB, mismatches refused); the labels parser; image directories batched for a
 * zoo ResNet-8 and top-1/top-5 against labels derived from the reference runtime's own
 * outputs on the same pixels (so 100%, 0% and the 5th-ranked class are known exactly); every
 * bad directory and labels file of issue 14 refused with ERR_INPUT.
 *
 * With GRAPPO_WRITE_SEEDS=1 the small images made here are written to fuzz/seeds/fuzz_image/. */
#include "testutil.h"

#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/input_gen.h"
#include "io/atomic_file.h"
#include "io/dataset_dir.h"
#include "io/image.h"
#include "io/labels.h"
#include "optimize/labelled.h"
#include "optimize/optimize.h"
#include "rewrite/calibrate.h"
#include "runtime/ref.h"
#include "zoo/zoo.h"

/* ---- encoders (libpng, libjpeg) into memory ---- */

typedef struct Buf { uint8_t *data; size_t len, cap; } Buf;

static void buf_put(Buf *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void png_write_buf(png_structp png, png_bytep p, png_size_t n) { buf_put(png_get_io_ptr(png), p, n); }
static void png_flush_buf(png_structp png) { (void)png; }

/* type: PNG_COLOR_TYPE_*; depth 8 or 16; palette: 4 entries when type is PALETTE */
static Buf encode_png(int w, int h, int type, int depth, const uint8_t *rows_data, size_t row_bytes) {
    Buf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_int_equal(setjmp(png_jmpbuf(png)), 0);
    png_set_write_fn(png, &b, png_write_buf, png_flush_buf);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
        png_set_PLTE(png, info, pal, 4);
    }
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rows_data + (size_t)y * row_bytes));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return b;
}

static Buf encode_jpeg(int w, int h, int c, const uint8_t *px, int quality) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    jpeg_mem_dest(&ci, &out, &out_len);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)ci.next_scanline * (size_t)w * (size_t)c);
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    Buf b = {0};
    buf_put(&b, out, out_len);
    free(out);
    return b;
}

static void write_seed(const char *name, const Buf *b) {
    if (!getenv("GRAPPO_WRITE_SEEDS") || b->len >= 65536) return;
    char path[256];
    snprintf(path, sizeof path, "fuzz/seeds/fuzz_image/%s", name);
    Err err;
    CHECK_OK(atomic_write_file(path, b->data, b->len, &err), &err);
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static uint8_t pattern(int y, int x, int k) { return (uint8_t)(y * 37 + x * 11 + k * 85 + ((y * x) % 7)); }

static Image decode_ok(const Buf *b) {
    Image im;
    Err err;
    CHECK_OK(image_decode(b->data, b->len, "test", &im, &err), &err);
    return im;
}

static void expect_bad(const uint8_t *data, size_t len, const char *needle) {
    Image im;
    Err err = {0};
    assert_int_equal(image_decode(data, len, "test", &im, &err), -1);
    assert_int_equal(err.code, ERR_INPUT);
    if (!strstr(err.msg, needle)) {
        print_error("message '%s' lacks '%s'\n", err.msg, needle);
        fail();
    }
    assert_null(im.px);
}

/* ---- decoding ---- */

static void test_png_exact(void **state) {
    (void)state;
    const int w = 7, h = 5;
    static const struct { int type, c; const char *seed; } kinds[] = {
        {PNG_COLOR_TYPE_GRAY, 1, "gray.png"}, {PNG_COLOR_TYPE_GRAY_ALPHA, 2, "gray_alpha.png"},
        {PNG_COLOR_TYPE_RGB, 3, "rgb.png"},   {PNG_COLOR_TYPE_RGB_ALPHA, 4, "rgba.png"}};
    for (size_t t = 0; t < sizeof kinds / sizeof *kinds; t++) {
        int c = kinds[t].c;
        uint8_t px[7 * 5 * 4];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++) px[(y * w + x) * c + k] = pattern(y, x, k);
        Buf b = encode_png(w, h, kinds[t].type, 8, px, (size_t)w * (size_t)c);
        write_seed(kinds[t].seed, &b);
        Image im = decode_ok(&b);
        assert_int_equal(im.h, h);
        assert_int_equal(im.w, w);
        assert_int_equal(im.c, c);
        assert_memory_equal(im.px, px, (size_t)w * (size_t)h * (size_t)c);
        image_free(&im);
        free(b.data);
    }
    /* 16-bit RGB: the high byte of each sample */
    uint8_t px16[7 * 5 * 6];
    uint8_t want[7 * 5 * 3];
    for (int i = 0; i < w * h * 3; i++) {
        px16[2 * i] = (uint8_t)(i * 3);
        px16[2 * i + 1] = (uint8_t)(255 - i);
        want[i] = (uint8_t)(i * 3);
    }
    Buf b = encode_png(w, h, PNG_COLOR_TYPE_RGB, 16, px16, (size_t)w * 6);
    write_seed("rgb16.png", &b);
    Image im = decode_ok(&b);
    assert_int_equal(im.c, 3);
    assert_memory_equal(im.px, want, sizeof want);
    image_free(&im);
    free(b.data);
    /* palette: indices become the palette's RGB */
    uint8_t idx[7 * 5];
    for (int i = 0; i < w * h; i++) idx[i] = (uint8_t)(i % 4);
    b = encode_png(w, h, PNG_COLOR_TYPE_PALETTE, 8, idx, (size_t)w);
    write_seed("palette.png", &b);
    im = decode_ok(&b);
    assert_int_equal(im.c, 3);
    static const uint8_t pal[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    for (int i = 0; i < w * h; i++) assert_memory_equal(im.px + 3 * i, pal[i % 4], 3);
    image_free(&im);
    /* truncated anywhere after the signature: refused, never a crash */
    for (size_t cut = 8; cut < b.len; cut += 3) expect_bad(b.data, cut, "bad PNG");
    /* a corrupted CRC */
    b.data[b.len - 20] ^= 0x55;
    expect_bad(b.data, b.len, "bad PNG");
    free(b.data);
}

static void test_jpeg(void **state) {
    (void)state;
    const int w = 16, h = 8;
    uint8_t rgb[16 * 8 * 3], gray[16 * 8];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            for (int k = 0; k < 3; k++) rgb[(y * w + x) * 3 + k] = (uint8_t)(40 + 8 * x + 5 * y + 30 * k); /* smooth */
            gray[y * w + x] = (uint8_t)(20 + 10 * x + 3 * y);
        }
    Buf b = encode_jpeg(w, h, 3, rgb, 100);
    write_seed("rgb.jpg", &b);
    Image im = decode_ok(&b);
    assert_int_equal(im.h, h);
    assert_int_equal(im.w, w);
    assert_int_equal(im.c, 3);
    int worst = 0;
    for (int i = 0; i < w * h * 3; i++) worst = abs((int)im.px[i] - (int)rgb[i]) > worst ? abs((int)im.px[i] - (int)rgb[i]) : worst;
    assert_true(worst <= 4); /* quality 100 on a smooth image; chroma subsampling costs a little */
    image_free(&im);
    /* truncated JPEGs: the header cut (an error) and the data cut (a warning in libjpeg, which
       would otherwise fill the rest with gray): both refused */
    for (size_t cut = 3; cut < b.len - 2; cut += 7) expect_bad(b.data, cut, "bad JPEG");
    free(b.data);
    b = encode_jpeg(w, h, 1, gray, 95);
    write_seed("gray.jpg", &b);
    im = decode_ok(&b);
    assert_int_equal(im.c, 1);
    for (int i = 0; i < w * h; i++) assert_true(abs((int)im.px[i] - (int)gray[i]) <= 3);
    image_free(&im);
    free(b.data);
    static const uint8_t junk[] = "GIF89a not an image we read";
    expect_bad(junk, sizeof junk, "not a PNG or JPEG");
    expect_bad(junk, 0, "not a PNG or JPEG");
}

/* ---- resize and preprocessing ---- */

static void test_resize_by_hand(void **state) {
    (void)state;
    /* 2x2 -> 4x4: in = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> (lo, hi, t) = (0,0,-), (0,1,.25),
       (0,1,.75), (1,1,-) on both axes */
    const uint8_t src[4] = {0, 100, 200, 40};
    float out[16];
    image_resize_bilinear(src, 2, 2, 1, out, 4, 4);
    const float r0[4] = {0, 25, 75, 100}, r3[4] = {200, 160, 80, 40};
    float want[16];
    for (int x = 0; x < 4; x++) {
        want[x] = r0[x];
        want[4 + x] = r0[x] + (r3[x] - r0[x]) * 0.25f;
        want[8 + x] = r0[x] + (r3[x] - r0[x]) * 0.75f;
        want[12 + x] = r3[x];
    }
    /* spelled out: row 1 = 50, 58.75, 76.25, 85 */
    assert_float_equal(want[5], 58.75, 1e-6);
    for (int i = 0; i < 16; i++) assert_float_equal(out[i], want[i], 1e-4);
    /* 4 -> 2 (one row): in = 0.5, 2.5: the mean of each pair */
    const uint8_t row[4] = {10, 20, 100, 0};
    float half[2];
    image_resize_bilinear(row, 1, 4, 1, half, 1, 2);
    assert_float_equal(half[0], 15, 1e-5);
    assert_float_equal(half[1], 50, 1e-5);
    /* same size: identity */
    float same[4];
    image_resize_bilinear(src, 2, 2, 1, same, 2, 2);
    for (int i = 0; i < 4; i++) assert_float_equal(same[i], src[i], 0);
}

static void test_preprocess(void **state) {
    (void)state;
    uint8_t px[2 * 3 * 3];
    for (int i = 0; i < 18; i++) px[i] = (uint8_t)(i * 14);
    Image im = {.h = 2, .w = 3, .c = 3, .px = px};
    ImagePrep p = {.n_mean = 3, .mean = {0.5, 0.25, 0}, .n_std = 1, .std = {0.5}};
    float out[18];
    Err err;
    CHECK_OK(image_preprocess(&im, &p, 2, 3, 3, out, "t", &err), &err);
    for (int i = 0; i < 18; i++) assert_float_equal(out[i], (px[i] / 255.0 - p.mean[i % 3]) / 0.5, 1e-6);
    p.layout = IMAGE_NCHW;
    CHECK_OK(image_preprocess(&im, &p, 2, 3, 3, out, "t", &err), &err);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 6; i++) assert_float_equal(out[k * 6 + i], (px[i * 3 + k] / 255.0 - p.mean[k]) / 0.5, 1e-6);
    /* gray -> RGB for a 3-channel input: the value in every channel */
    Image g = {.h = 2, .w = 3, .c = 1, .px = px};
    ImagePrep plain = {0};
    CHECK_OK(image_preprocess(&g, &plain, 2, 3, 3, out, "t", &err), &err);
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 3; k++) assert_float_equal(out[i * 3 + k], px[i] / 255.0, 1e-7);
    /* mismatches: RGBA for 3 channels, RGB for 1, the wrong size, --resize to the wrong size,
       3 means for 1 channel */
    Image rgba = {.h = 2, .w = 3, .c = 4, .px = px};
    assert_int_equal(image_preprocess(&rgba, &plain, 2, 3, 3, out, "t", &err), -1);
    assert_non_null(strstr(err.msg, "4 channels (RGBA)"));
    assert_int_equal(image_preprocess(&im, &plain, 2, 3, 1, out, "t", &err), -1);
    assert_int_equal(image_preprocess(&im, &plain, 3, 3, 3, out, "t", &err), -1);
    assert_non_null(strstr(err.msg, "--resize 3,3"));
    ImagePrep rs = {.resize_h = 4, .resize_w = 4};
    assert_int_equal(image_preprocess(&im, &rs, 3, 3, 3, out, "t", &err), -1);
    assert_int_equal(err.code, ERR_INPUT);
    assert_int_equal(image_preprocess(&g, &p, 2, 3, 1, out, "t", &err), -1);
    ImagePrep zero = {.n_std = 1, .std = {0}};
    assert_int_equal(image_prep_check(&zero, &err), -1);
}

/* ---- labels ---- */

static int parse(const char *text, int32_t **v, int *n, Err *err) { return labels_parse((const uint8_t *)text, strlen(text), "L", v, n, err); }

static void test_labels(void **state) {
    (void)state;
    int32_t *v;
    int n;
    Err err;
    CHECK_OK(parse("3\n 0\r\n12\t\n7", &v, &n, &err), &err);
    assert_int_equal(n, 4);
    assert_int_equal(v[0], 3);
    assert_int_equal(v[1], 0);
    assert_int_equal(v[2], 12);
    assert_int_equal(v[3], 7);
    free(v);
    static const struct { const char *text, *needle; } bad[] = {
        {"1\n\n2\n", "line 2 is empty"}, {"1\n2.5\n", "line 2: '2.5' is not a class"}, {"-1\n", "'-1' is not a class"},
        {"cat\n", "'cat'"},             {"", "no labels"},                          {"99999999999\n", "too large"},
        {"1 2\n", "'1 2'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = (Err){0};
        assert_int_equal(parse(bad[i].text, &v, &n, &err), -1);
        assert_int_equal(err.code, ERR_INPUT);
        if (!strstr(err.msg, bad[i].needle)) {
            print_error("'%s': message '%s' lacks '%s'\n", bad[i].text, err.msg, bad[i].needle);
            fail();
        }
    }
}

/* ---- directories, batching, top-1/top-5 ---- */

static char tmp[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/grappo_images_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return tu_rmtree(tmp);
}

static Graph *resnet8(int batch) {
    ZooOpts o = zoo_opts_default();
    o.batch = batch;
    Err e;
    Graph *g = zoo_build("resnet8", &o, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    return g;
}

#define N_IMG 10

/* N_IMG 32x32 RGB PNGs (in a scrambled write order) into dir; the pixels into px */
static void write_images(const char *dir, uint8_t px[N_IMG][32 * 32 * 3]) {
    mkdir(dir, 0777);
    for (int n = N_IMG - 1; n >= 0; n--) {
        for (int i = 0; i < 32 * 32 * 3; i++) px[n][i] = (uint8_t)((i * (n + 3) + n * 17 + (i / 96) * (n % 3)) & 0xff);
        Buf b = encode_png(32, 32, PNG_COLOR_TYPE_RGB, 8, px[n], 32 * 3);
        char path[512];
        snprintf(path, sizeof path, "%s/img_%02d.png", dir, n);
        write_file(path, b.data, b.len);
        free(b.data);
    }
}

/* the reference runtime's classes for each image ranked by score, from pixels / 255 (the
   documented default preprocessing), independent of io/image and io/dataset_dir; g has batch 4
   (each image fills the batch, row 0 is read) */
static void reference_ranks(const Graph *g, uint8_t px[N_IMG][32 * 32 * 3], int rank[N_IMG][10]) {
    const char *input = NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_PLACEHOLDER) input = g->nodes[i]->name;
    for (int n = 0; n < N_IMG; n++) {
        static float x[4 * 32 * 32 * 3];
        for (int i = 0; i < 4 * 32 * 32 * 3; i++) x[i] = px[n][i % (32 * 32 * 3)] / 255.0f;
        RefFeed f = {.name = input};
        Err e;
        CHECK_OK(tensor_from_data(&f.value, DT_FLOAT, &(Shape){.rank = 4, .dim = {4, 32, 32, 3}}, x, sizeof x, &e), &e);
        Tensor out;
        CHECK_OK(ref_run(g, &f, 1, g->outputs, 1, &out, NULL, &e), &e);
        assert_int_equal(tensor_numel(&out), 40);
        for (int k = 0; k < 10; k++) rank[n][k] = k;
        for (int a = 0; a < 10; a++) /* selection sort, descending */
            for (int b = a + 1; b < 10; b++)
                if (tensor_get(&out, rank[n][b]) > tensor_get(&out, rank[n][a])) {
                    int t = rank[n][a];
                    rank[n][a] = rank[n][b];
                    rank[n][b] = t;
                }
        tensor_release(&out);
        tensor_release(&f.value);
    }
}

static void score(const Graph *g, const InputSet *in, int rows, const int32_t *labels, LabelledScore *s) {
    Err e;
    CHECK_OK(labelled_score(g, in, rows, labels, N_IMG, "labels", 1, s, &e), &e);
}

static void test_image_dir_top_k(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/img", tmp);
    static uint8_t px[N_IMG][32 * 32 * 3];
    write_images(dir, px);
    /* batch 4: 10 images -> 3 batches, the last filled up with copies that are not scored */
    Graph *g = resnet8(4);
    int rank[N_IMG][10];
    reference_ranks(g, px, rank);
    ImagePrep prep = {0};
    InputSet in;
    int rows;
    Err e;
    CHECK_OK(dataset_load_inputs(g, dir, &prep, "evaluation", &in, &rows, &e), &e);
    assert_int_equal(rows, N_IMG);
    assert_int_equal(in.n_batches, 3);
    assert_int_equal(in.n_feeds, 1);
    /* image 9 (file img_09.png, sorted last) is row 1 of batch 2 and repeated in rows 2, 3 */
    const float *last = tensor_data(&in.feeds[2][0].value);
    for (int i = 0; i < 32 * 32 * 3; i++) {
        assert_float_equal(last[32 * 32 * 3 + i], px[9][i] / 255.0f, 1e-7);
        assert_float_equal(last[3 * 32 * 32 * 3 + i], px[9][i] / 255.0f, 1e-7);
    }
    int32_t labels[N_IMG];
    LabelledScore s;
    for (int n = 0; n < N_IMG; n++) labels[n] = rank[n][0];
    score(g, &in, rows, labels, &s);
    assert_float_equal(s.top1, 1.0, 0);
    assert_float_equal(s.top5, 1.0, 0);
    assert_int_equal(s.rows, N_IMG);
    assert_int_equal(s.classes, 10);
    for (int n = 0; n < N_IMG; n++) labels[n] = rank[n][n < 3 ? 0 : 4]; /* 3 right, 7 fifth */
    score(g, &in, rows, labels, &s);
    assert_float_equal(s.top1, 0.3, 1e-12);
    assert_float_equal(s.top5, 1.0, 0);
    for (int n = 0; n < N_IMG; n++) labels[n] = rank[n][n < 6 ? 5 : 1]; /* 6 sixth, 4 second */
    score(g, &in, rows, labels, &s);
    assert_float_equal(s.top1, 0.0, 0);
    assert_float_equal(s.top5, 0.4, 1e-12);
    /* a label outside the 10 classes; too few labels */
    labels[3] = 10;
    assert_int_equal(labelled_score(g, &in, rows, labels, N_IMG, "L", 1, &s, &e), -1);
    assert_non_null(strstr(e.msg, "L: line 4: class 10 is outside the model's 10 outputs"));
    labels[3] = 0;
    assert_int_equal(labelled_score(g, &in, rows, labels, N_IMG - 1, "L", 1, &s, &e), -1);
    assert_non_null(strstr(e.msg, "9 labels but the evaluation data gives 10 rows"));
    inputs_free(&in);
    /* the same directory as calibration batches (names owned) */
    RefFeed **cb;
    int nb, nf;
    CHECK_OK(dataset_load_batches(g, dir, &prep, "calibration", &cb, &nb, &nf, &rows, &e), &e);
    assert_int_equal(nb, 3);
    calib_batches_free(cb, nb, nf);
    graph_free(g);
}

static void expect_dir_error(const Graph *g, const char *dir, const ImagePrep *prep, const char *needle) {
    InputSet in;
    int rows;
    Err e = {0};
    assert_int_equal(dataset_load_inputs(g, dir, prep, "evaluation", &in, &rows, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    if (!strstr(e.msg, needle)) {
        print_error("%s: message '%s' lacks '%s'\n", dir, e.msg, needle);
        fail();
    }
}

static void test_bad_dirs(void **state) {
    (void)state;
    Graph *g = resnet8(1);
    ImagePrep prep = {0};
    char dir[512], path[600];
    /* empty */
    snprintf(dir, sizeof dir, "%s/empty", tmp);
    mkdir(dir, 0777);
    expect_dir_error(g, dir, &prep, "has no images");
    /* missing */
    snprintf(dir, sizeof dir, "%s/missing", tmp);
    expect_dir_error(g, dir, &prep, "missing");
    /* mixed images and npy */
    snprintf(dir, sizeof dir, "%s/mixed", tmp);
    mkdir(dir, 0777);
    uint8_t px[32 * 32 * 3] = {0};
    Buf b = encode_png(32, 32, PNG_COLOR_TYPE_RGB, 8, px, 96);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_file(path, b.data, b.len);
    snprintf(path, sizeof path, "%s/x_0.npy", dir);
    write_file(path, "junk", 4);
    expect_dir_error(g, dir, &prep, "holds both images (1) and .npy files (1)");
    /* different sizes without --resize; with it they load */
    snprintf(dir, sizeof dir, "%s/sizes", tmp);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_file(path, b.data, b.len);
    free(b.data);
    b = encode_png(30, 32, PNG_COLOR_TYPE_RGB, 8, px, 90);
    snprintf(path, sizeof path, "%s/b.png", dir);
    write_file(path, b.data, b.len);
    expect_dir_error(g, dir, &prep, "b.png: the image is 32x30 (H x W), the model's input is 32x32: pass --resize 32,32");
    ImagePrep rs = {.resize_h = 32, .resize_w = 32};
    InputSet in;
    int rows;
    Err e;
    CHECK_OK(dataset_load_inputs(g, dir, &rs, "evaluation", &in, &rows, &e), &e);
    assert_int_equal(rows, 2);
    inputs_free(&in);
    free(b.data);
    /* RGBA PNG for the RGB input; a truncated JPEG */
    snprintf(dir, sizeof dir, "%s/rgba", tmp);
    mkdir(dir, 0777);
    uint8_t px4[32 * 32 * 4] = {0};
    b = encode_png(32, 32, PNG_COLOR_TYPE_RGB_ALPHA, 8, px4, 128);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_file(path, b.data, b.len);
    free(b.data);
    expect_dir_error(g, dir, &prep, "4 channels (RGBA), the model's input wants 3");
    snprintf(dir, sizeof dir, "%s/trunc", tmp);
    mkdir(dir, 0777);
    b = encode_jpeg(32, 32, 3, px, 90);
    snprintf(path, sizeof path, "%s/a.JPG", dir);
    write_file(path, b.data, b.len / 2);
    free(b.data);
    expect_dir_error(g, dir, &prep, "a.JPG: bad JPEG");
    graph_free(g);
}

/* default options reading N_IMG images written (from px) into tmp/<sub> as --eval and a labels
   file tmp/<lab_name> holding `labels` as --labels; dir and lab (512 each) receive the paths */
static OptimizeOpts labelled_opts(const char *sub, uint8_t px[N_IMG][32 * 32 * 3], const char *lab_name, const char *labels,
                                  char *dir, char *lab) {
    snprintf(dir, 512, "%s/%s", tmp, sub);
    write_images(dir, px);
    snprintf(lab, 512, "%s/%s", tmp, lab_name);
    write_file(lab, labels, strlen(labels));
    OptimizeOpts o = optimize_opts_default();
    o.eval_dir = dir;
    o.labels_path = lab;
    return o;
}

/* labelled_open: labels counted against images before any run; --labels without --eval */
static void test_labelled_open(void **state) {
    (void)state;
    char dir[512], lab[512];
    static uint8_t px[N_IMG][32 * 32 * 3];
    OptimizeOpts o = labelled_opts("img2", px, "labels.txt", "1\n2\n3\n", dir, lab);
    Graph *g = resnet8(1);
    LabelledData d;
    Err e;
    assert_int_equal(labelled_open(g, &o, &d, &e), -1);
    assert_non_null(strstr(e.msg, "has 3 labels but"));
    assert_non_null(strstr(e.msg, "holds 10 images"));
    write_file(lab, "1\n2\n3\n4\n5\n6\n7\n8\n9\n0\n1\n", 22);
    assert_int_equal(labelled_open(g, &o, &d, &e), -1);
    assert_non_null(strstr(e.msg, "has 11 labels"));
    write_file(lab, "1\n2\n3\n4\n5\n6\n7\n8\n9\n0\n", 20);
    CHECK_OK(labelled_open(g, &o, &d, &e), &e);
    assert_int_equal(d.n_rows, 10);
    assert_int_equal(d.n_labels, 10);
    labelled_close(&d);
    o.eval_dir = NULL;
    assert_int_equal(optimize_opts_check(&o, &e), -1);
    assert_non_null(strstr(e.msg, "--labels needs"));
    graph_free(g);
}

/* optimize_measured_kept (how the searches' carried pipelines are judged): with labels the
   labelled top-1 decides, as optimize_run's final judgement does - an int8 graph with a poor
   cosine that keeps top-1 is kept, one with a perfect cosine that loses top-1 is not; without
   labels, fidelity decides */
static void test_measured_kept_on_labels(void **state) {
    (void)state;
    char dir[512], lab[512];
    static uint8_t px[N_IMG][32 * 32 * 3];
    OptimizeOpts o = labelled_opts("img3", px, "labels3.txt", "1\n2\n3\n4\n5\n6\n7\n8\n9\n0\n", dir, lab);
    Graph *g = resnet8(1);
    o.max_accuracy_drop = 0.01;
    Err e = {0};
    LabelledScore before;
    bool images;
    CHECK_OK(labelled_evaluate(g, &o, &before, &images, &e), &e);
    OptimizeSession *s;
    CHECK_OK(optimize_session_open(g, &o, &s, &e), &e);
    OptimizeMeasured m = {.ok = true, .has_labels = true};
    m.acc = (AccuracyResult){.top1_agreement = 0.5, .min_cosine = 0.5};
    m.labels.top1 = before.top1;
    bool kept;
    CHECK_OK(optimize_measured_kept(s, &m, &kept, &e), &e);
    assert_true(kept);
    m.acc = (AccuracyResult){.top1_agreement = 1, .min_cosine = 1};
    m.labels.top1 = before.top1 - 0.1; /* one image of ten */
    CHECK_OK(optimize_measured_kept(s, &m, &kept, &e), &e);
    assert_false(kept);
    optimize_session_close(s);
    /* no labels: fidelity */
    o.labels_path = NULL;
    CHECK_OK(optimize_session_open(g, &o, &s, &e), &e);
    m.has_labels = false;
    CHECK_OK(optimize_measured_kept(s, &m, &kept, &e), &e);
    assert_true(kept);
    m.acc = (AccuracyResult){.top1_agreement = 0.5, .min_cosine = 0.5};
    CHECK_OK(optimize_measured_kept(s, &m, &kept, &e), &e);
    assert_false(kept);
    optimize_session_close(s);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measured_kept_on_labels),
        cmocka_unit_test(test_png_exact),
        cmocka_unit_test(test_jpeg),
        cmocka_unit_test(test_resize_by_hand),
        cmocka_unit_test(test_preprocess),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_image_dir_top_k),
        cmocka_unit_test(test_bad_dirs),
        cmocka_unit_test(test_labelled_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
