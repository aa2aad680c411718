/* test_calibrate.c - calibration (src/rewrite/calibrate.h): which values get ranges, min/max
 * and percentile ranges checked against hand-computed values, range attributes per output
 * port, batches generated and loaded from .npy files, and bad input. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/input_gen.h"
#include "io/npy.h"
#include "rewrite/calibrate.h"
#include "runtime/ref.h"
#include "testutil.h"
#include "zoo/builder.h"

static Tensor filled(int rank, const int64_t *dims, float v) {
    Tensor t;
    Err e = {0};
    Shape s = shape_make(rank, dims);
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    for (int64_t i = 0, n_el = tensor_numel(&t); i < n_el; i++) tensor_set(&t, i, v);
    return t;
}

/* x [batch,4] -> Relu "r" -> MatMul "m" (W [4,3]);  x -> MatMul "m2";
   x -> Split(axis 1, 2) "s";  s:1 [batch,2] -> MatMul "m3";  Const "k" [2,4] -> MatMul "m4"
   (a constant operand is no activation). batch -1: dynamic, inferred as 1. */
static Graph *tiny_graph(int batch) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(2, (int64_t[]){batch, 4}), NULL);
    ValueRef r = bld_unary(&b, "r", "Relu", x);
    Tensor w1 = filled(2, (int64_t[]){4, 3}, 0.5f), w2 = filled(2, (int64_t[]){4, 3}, -1), w3 = filled(2, (int64_t[]){2, 3}, 2);
    Tensor kt = filled(2, (int64_t[]){2, 4}, 1);
    ValueRef m = bld_matmul(&b, "m", r, bld_const(&b, "W", &w1), false, false);
    ValueRef m2 = bld_matmul(&b, "m2", x, bld_const(&b, "W2", &w2), false, false);
    ValueRef axis = bld_scalar_i32(&b, "s/axis", 1);
    int s = bld_begin(&b, "s", "Split", (ValueRef[]){axis, x}, 2);
    bld_attr_type(&b, s, "T", DT_FLOAT);
    bld_attr_i(&b, s, "num_split", 2);
    ValueRef sv = bld_end(&b, s);
    ValueRef m3 = bld_matmul(&b, "m3", bld_port(sv, 1), bld_const(&b, "W3", &w3), false, false);
    Tensor w4 = filled(2, (int64_t[]){4, 3}, 1);
    ValueRef m4 = bld_matmul(&b, "m4", bld_const(&b, "k", &kt), bld_const(&b, "W4", &w4), false, false);
    bld_add_output(&b, m);
    bld_add_output(&b, m2);
    bld_add_output(&b, m3);
    bld_add_output(&b, m4);
    Graph *g = bld_finish(&b);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    return g;
}

static void expect_range(const Graph *g, const char *node, int port, float lo, float hi) {
    ValueRef v = {graph_find(g, node), port};
    assert_true(v.node >= 0);
    float a, b;
    if (!calib_range(g, v, &a, &b)) { print_error("%s:%d has no range\n", node, port); fail(); }
    if (a != lo || b != hi) { print_error("%s:%d range [%.9g, %.9g], want [%.9g, %.9g]\n", node, port, a, b, lo, hi); fail(); }
}

static void test_targets(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = tiny_graph(2);
    ValueRef *t;
    int n = calib_targets(g, &t, &e);
    /* r (read by m), x (read by m2), s:1 (read by m3); not the Const k */
    assert_int_equal(n, 3);
    assert_int_equal(t[0].node, graph_find(g, "r"));
    assert_int_equal(t[1].node, graph_find(g, "x"));
    assert_int_equal(t[2].node, graph_find(g, "s"));
    assert_int_equal(t[2].port, 1);
    free(t);
    graph_free(g);
}

/* the operands of a residual sum (AddV2 of two float rank-4 values of one shape) are targets;
   a sum of rank-2 values or of a rank-4 value and a per-channel constant is not */
static void test_residual_add_targets(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 3, 3, 5}), NULL);
    ValueRef sc = bld_placeholder(&b, "sc", DT_FLOAT, shape_make(4, (int64_t[]){1, 3, 3, 5}), NULL);
    ValueRef v = bld_placeholder(&b, "v", DT_FLOAT, shape_make(2, (int64_t[]){2, 5}), NULL);
    ValueRef r = bld_unary(&b, "r", "Relu", x);
    Tensor c = filled(1, (int64_t[]){5}, 1);
    bld_add_output(&b, bld_binary(&b, "res", "AddV2", r, sc));
    bld_add_output(&b, bld_binary(&b, "bias", "AddV2", r, bld_const(&b, "c", &c)));
    bld_add_output(&b, bld_binary(&b, "flat", "AddV2", v, v));
    Graph *g = bld_finish(&b);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    ValueRef *t;
    int n = calib_targets(g, &t, &e);
    assert_int_equal(n, 2);
    assert_int_equal(t[0].node, graph_find(g, "r"));
    assert_int_equal(t[1].node, graph_find(g, "sc"));
    free(t);
    graph_free(g);
}

/* two batches of x [2,4], ranges computed by hand */
static void test_minmax(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = tiny_graph(2);
    float b0[8] = {-1, 2, 3, -4, 0.5f, 0.25f, 7, 1};
    float b1[8] = {6, -2, -9, 0, 1, 2, 3, 4};
    RefFeed f0 = {"x", tt_f32(2, (int64_t[]){2, 4}, b0)}, f1 = {"x", tt_f32(2, (int64_t[]){2, 4}, b1)};
    const RefFeed *batches[2] = {&f0, &f1};
    int n = calibrate_graph(g, batches, 2, 1, CALIB_MINMAX, &e);
    CHECK_OK(n < 0, &e);
    assert_int_equal(n, 3);
    expect_range(g, "x", 0, -9, 7);
    expect_range(g, "r", 0, 0, 7);
    /* s:1 = columns 2, 3: {3, -4, 7, 1} and {-9, 0, 3, 4} */
    expect_range(g, "s", 1, -9, 7);
    /* port 0 of the Split was not calibrated: NaN in the list, no range */
    const Node *sn = g->nodes[graph_find(g, "s")];
    const AttrList *l = node_attr_list(sn, CALIB_ATTR_MIN);
    assert_non_null(l);
    assert_int_equal(l->n, 2);
    assert_true(isnan(l->f[0]));
    float lo, hi;
    assert_false(calib_range(g, (ValueRef){graph_find(g, "s"), 0}, &lo, &hi));
    /* nothing on nodes whose outputs no quantizable node reads */
    assert_null(node_attr_find(g->nodes[graph_find(g, "m")], CALIB_ATTR_MIN));
    assert_null(node_attr_find(g->nodes[graph_find(g, "k")], CALIB_ATTR_MIN));
    /* only batch 0: different, smaller range */
    CHECK_OK(calibrate_graph(g, batches, 1, 1, CALIB_MINMAX, &e) < 0, &e);
    expect_range(g, "x", 0, -4, 7);
    expect_range(g, "s", 1, -4, 7);
    tensor_release(&f0.value);
    tensor_release(&f1.value);
    graph_free(g);
}

/* x [1,100,200,1] -> Conv2D 1x1 (the only quantizable reader) */
static Graph *conv_graph(void) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 100, 200, 1}), NULL);
    ValueRef c = bld_conv2d(&b, "c", x, 1, 1, 1, "VALID", 1.0);
    bld_add_output(&b, c);
    Graph *g = bld_finish(&b);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    return g;
}

/* A known distribution: 19998 values evenly spaced on [0, 1] (alternating signs) and two
   outliers, +10 and -10. The 99.99th percentile of |x| over 20000 elements is the 19998th
   smallest |x| = 1. The histogram's upper bin edge over it is the range t. */
static void test_percentile(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = conv_graph();
    Tensor x = filled(4, (int64_t[]){1, 100, 200, 1}, 0);
    for (int64_t i = 0; i < 19998; i++) tensor_set(&x, i, (i % 2 ? -1.0 : 1.0) * (double)i / 19997.0);
    tensor_set(&x, 19998, 10);
    tensor_set(&x, 19999, -10);
    RefFeed f = {"x", x};
    const RefFeed *batches[1] = {&f};
    CHECK_OK(calibrate_graph(g, batches, 1, 1, CALIB_PERCENTILE, &e) < 0, &e);
    /* one batch: the histogram covers [0, 10) in 2048 bins; |x| = 1 falls in bin
       floor(1 / 10 * 2048) = 204, whose upper edge is 205 * 10 / 2048 */
    float t = (float)(205.0 * 10.0 / 2048.0);
    expect_range(g, "x", 0, -t, t);
    /* min/max keeps the outliers */
    CHECK_OK(calibrate_graph(g, batches, 1, 1, CALIB_MINMAX, &e) < 0, &e);
    expect_range(g, "x", 0, -10, 10);
    /* percentile 100: everything, up to the bin edge of the largest |x| = the range 10 */
    CalibOpts o = {CALIB_PERCENTILE, 100};
    CHECK_OK(calibrate_graph_opts(g, batches, 1, 1, &o, &e) < 0, &e);
    expect_range(g, "x", 0, -10, 10);

    /* two batches: the first without the outliers (the histogram starts at [0, 1]), the
       second with them (the range doubles to 16: bins merge). The exact percentile is still
       1; the result must be within one final bin width (16 / 2048) above it. */
    Tensor x0 = filled(4, (int64_t[]){1, 100, 200, 1}, 0), x1 = filled(4, (int64_t[]){1, 100, 200, 1}, 0);
    for (int64_t i = 0; i < 20000; i++) tensor_set(&x0, i, (double)i / 19999.0);
    for (int64_t i = 0; i < 19996; i++) tensor_set(&x1, i, -(double)i / 19995.0);
    tensor_set(&x1, 19996, 10);
    tensor_set(&x1, 19997, -10);
    tensor_set(&x1, 19998, 9);
    tensor_set(&x1, 19999, -9.5);
    /* 40000 elements, 4 outliers: the 99.99th percentile is the 39996th smallest |x| = 1 */
    RefFeed g0 = {"x", x0}, g1 = {"x", x1};
    const RefFeed *two[2] = {&g0, &g1};
    CHECK_OK(calibrate_graph(g, two, 2, 1, CALIB_PERCENTILE, &e) < 0, &e);
    float lo, hi;
    assert_true(calib_range(g, (ValueRef){graph_find(g, "x"), 0}, &lo, &hi));
    printf("[ calib    ] two-batch percentile range [%.7g, %.7g] (exact percentile 1, bin width %.7g)\n", lo, hi, 16.0 / 2048);
    assert_true(hi >= 1.0f && hi <= 1.0f + 16.0f / 2048);
    assert_true(lo == -hi);
    tensor_release(&x);
    tensor_release(&x0);
    tensor_release(&x1);
    graph_free(g);
}

/* A batch whose shape differs from the inferred one runs on a re-inferred clone. */
static void test_other_batch_size(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = tiny_graph(-1);
    assert_int_equal(g->nodes[graph_find(g, "x")]->outputs[0].shape.dim[0], 1);
    float v[12] = {1, 2, 3, 4, -5, 6, 7, 8, 9, 10, 11, 12.5f};
    RefFeed f = {"x", tt_f32(2, (int64_t[]){3, 4}, v)};
    const RefFeed *batches[1] = {&f};
    CHECK_OK(calibrate_graph(g, batches, 1, 1, CALIB_MINMAX, &e) < 0, &e);
    expect_range(g, "x", 0, -5, 12.5f);
    expect_range(g, "r", 0, 0, 12.5f);
    assert_int_equal(g->nodes[graph_find(g, "x")]->outputs[0].shape.dim[0], 1); /* g itself unchanged */
    tensor_release(&f.value);
    graph_free(g);
}

static void test_generate(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = tiny_graph(2);
    RefFeed **b;
    int nf;
    CHECK_OK(calib_batches_generate(g, 3, &b, &nf, &e), &e);
    assert_int_equal(nf, 1);
    for (int k = 0; k < 3; k++) {
        Tensor want;
        CHECK_OK(input_generate(g, graph_find(g, "x"), (uint64_t)k + 1, &want, &e), &e);
        assert_string_equal(b[k][0].name, "x");
        assert_tensor_near(&b[k][0].value, &want, 0);
        tensor_release(&want);
    }
    int n = calibrate_graph(g, (const RefFeed *const *)b, 3, nf, CALIB_MINMAX, &e);
    assert_int_equal(n, 3);
    float lo, hi;
    assert_true(calib_range(g, (ValueRef){graph_find(g, "x"), 0}, &lo, &hi));
    assert_true(lo >= 0 && hi < 1 && lo < hi); /* generated floats are uniform in [0, 1) */
    calib_batches_free(b, 3, nf);
    assert_int_equal(calib_batches_generate(g, 0, &b, &nf, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    graph_free(g);
}

/* a graph with inputs "in/x" (float [-1, 4]) and "ids" (int32 [-1]) */
static Graph *two_input_graph(void) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "in/x", DT_FLOAT, shape_make(2, (int64_t[]){-1, 4}), NULL);
    ValueRef ids = bld_placeholder(&b, "ids", DT_INT32, shape_make(1, (int64_t[]){-1}), NULL);
    Tensor w = filled(2, (int64_t[]){4, 2}, 1);
    ValueRef m = bld_matmul(&b, "m", x, bld_const(&b, "W", &w), false, false);
    bld_add_output(&b, m);
    bld_add_output(&b, bld_identity(&b, "ids_out", ids));
    Graph *g = bld_finish(&b);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    return g;
}

static void save(const char *dir, const char *file, const Tensor *t) {
    char p[512];
    Err e = {0};
    snprintf(p, sizeof p, "%s/%s", dir, file);
    CHECK_OK(npy_save(p, t, &e), &e);
}

static void test_load(void **state) {
    (void)state;
    Err e = {0};
    char dir[] = "/tmp/grappo_calib_XXXXXX";
    assert_non_null(mkdtemp(dir));
    Graph *g = two_input_graph();
    RefFeed **b;
    int nb, nf;
    /* empty directory */
    assert_int_equal(calib_batches_load(g, dir, &b, &nb, &nf, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "in_x_0.npy"));
    /* batch 0 at batch size 3, batch 1 at batch size 2; ids stored as int64, as numpy does */
    float x0[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12};
    float x1[8] = {-1, 0, 0, 0, 0, 0, 0, 30};
    Tensor t0 = tt_f32(2, (int64_t[]){3, 4}, x0), t1 = tt_f32(2, (int64_t[]){2, 4}, x1), id0, id1;
    Shape s3 = shape_make(1, (int64_t[]){3}), s2 = shape_make(1, (int64_t[]){2});
    CHECK_OK(tensor_alloc(&id0, DT_INT64, &s3, &e), &e);
    CHECK_OK(tensor_alloc(&id1, DT_INT64, &s2, &e), &e);
    tensor_set(&id0, 1, 7);
    save(dir, "in_x_0.npy", &t0);
    save(dir, "in_x_1.npy", &t1);
    save(dir, "ids_0.npy", &id0);
    /* ids_1 missing */
    assert_int_equal(calib_batches_load(g, dir, &b, &nb, &nf, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "ids_1.npy"));
    save(dir, "ids_1.npy", &id1);
    CHECK_OK(calib_batches_load(g, dir, &b, &nb, &nf, &e), &e);
    /* the builder prepares the graph for batch 1: 3 + 2 rows become 5 batches of one row */
    assert_int_equal(nb, 5);
    assert_int_equal(nf, 2);
    assert_string_equal(b[0][0].name, "in/x");
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 4; c++)
            assert_float_equal(tensor_get(&b[r][0].value, c), r < 3 ? x0[r * 4 + c] : x1[(r - 3) * 4 + c], 0);
    assert_int_equal(b[1][1].value.dtype, DT_INT32);
    assert_int_equal((int)tensor_get(&b[1][1].value, 0), 7);
    CHECK_OK(calibrate_graph(g, (const RefFeed *const *)b, nb, nf, CALIB_MINMAX, &e) < 0, &e);
    expect_range(g, "in/x", 0, -12, 30);
    calib_batches_free(b, nb, nf);
    /* a file whose fixed dimension does not fit */
    Tensor bad = filled(2, (int64_t[]){2, 5}, 0);
    save(dir, "in_x_1.npy", &bad);
    assert_int_equal(calib_batches_load(g, dir, &b, &nb, &nf, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "in_x_1.npy"));
    const char *files[] = {"in_x_0.npy", "in_x_1.npy", "ids_0.npy", "ids_1.npy"};
    for (int k = 0; k < 4; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, files[k]);
        unlink(p);
    }
    rmdir(dir);
    tensor_release(&t0);
    tensor_release(&t1);
    tensor_release(&id0);
    tensor_release(&id1);
    tensor_release(&bad);
    graph_free(g);
}

/* files of several rows feed a graph prepared for a smaller fixed batch (--input-shape) as
   batches of that size, every input split alike; rows that do not divide are refused */
static void test_load_splits_to_prepared_batch(void **state) {
    (void)state;
    Err e = {0};
    char dir[] = "/tmp/grappo_calib_XXXXXX";
    assert_non_null(mkdtemp(dir));
    Graph *g = two_input_graph();
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_PLACEHOLDER) g->nodes[i]->outputs[0].shape.dim[0] = 2; /* prepared for batch 2 */
    float x0[16];
    for (int i = 0; i < 16; i++) x0[i] = (float)i;
    Tensor t0 = tt_f32(2, (int64_t[]){4, 4}, x0), id0;
    Shape s4 = shape_make(1, (int64_t[]){4});
    CHECK_OK(tensor_alloc(&id0, DT_INT32, &s4, &e), &e);
    for (int i = 0; i < 4; i++) tensor_set(&id0, i, 10 + i);
    save(dir, "in_x_0.npy", &t0);
    save(dir, "ids_0.npy", &id0);
    RefFeed **b;
    int nb, nf;
    CHECK_OK(calib_batches_load(g, dir, &b, &nb, &nf, &e), &e);
    assert_int_equal(nb, 2);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(b[k][0].value.shape.dim[0], 2);
        assert_string_equal(b[k][1].name, "ids");
        for (int r = 0; r < 2; r++) {
            assert_int_equal((int)tensor_get(&b[k][1].value, r), 10 + 2 * k + r);
            for (int c = 0; c < 4; c++) assert_float_equal(tensor_get(&b[k][0].value, r * 4 + c), x0[(2 * k + r) * 4 + c], 0);
        }
    }
    calib_batches_free(b, nb, nf);
    /* 3 rows do not split into batches of 2 */
    Tensor t3 = filled(2, (int64_t[]){3, 4}, 1), id3;
    Shape s3 = shape_make(1, (int64_t[]){3});
    CHECK_OK(tensor_alloc(&id3, DT_INT32, &s3, &e), &e);
    save(dir, "in_x_0.npy", &t3);
    save(dir, "ids_0.npy", &id3);
    assert_int_equal(calib_batches_load(g, dir, &b, &nb, &nf, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "does not split into batches of 2 rows"));
    const char *files[] = {"in_x_0.npy", "ids_0.npy"};
    for (int k = 0; k < 2; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, files[k]);
        unlink(p);
    }
    rmdir(dir);
    tensor_release(&t0);
    tensor_release(&id0);
    tensor_release(&t3);
    tensor_release(&id3);
    graph_free(g);
}

/* a range moves to the node that takes over a value, unless that node has its own */
static void test_carry(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = tiny_graph(2);
    ValueRef x = {graph_find(g, "x"), 0}, r = {graph_find(g, "r"), 0}, s1 = {graph_find(g, "s"), 1};
    CHECK_OK(calib_set_range(g, x, -3, 4, &e), &e);
    CHECK_OK(calib_carry(g, x, r, &e), &e);
    expect_range(g, "r", 0, -3, 4);
    CHECK_OK(calib_set_range(g, s1, 1, 2, &e), &e);
    CHECK_OK(calib_carry(g, x, s1, &e), &e); /* s:1 keeps its own */
    expect_range(g, "s", 1, 1, 2);
    CHECK_OK(calib_carry(g, (ValueRef){graph_find(g, "m"), 0}, x, &e), &e); /* nothing to carry */
    expect_range(g, "x", 0, -3, 4);
    graph_free(g);
}

static void test_bad_input(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = tiny_graph(2);
    float v[8] = {0};
    RefFeed f = {"x", tt_f32(2, (int64_t[]){2, 4}, v)};
    const RefFeed *batches[1] = {&f};
    assert_int_equal(calibrate_graph(g, batches, 0, 1, CALIB_MINMAX, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    CalibOpts o = {CALIB_PERCENTILE, 150};
    assert_int_equal(calibrate_graph_opts(g, batches, 1, 1, &o, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    /* a feed naming no node */
    RefFeed wrong = {"nope", f.value};
    const RefFeed *wb[1] = {&wrong};
    assert_int_equal(calibrate_graph(g, wb, 1, 1, CALIB_MINMAX, &e), -1);
    /* all-zero input: a range [0, 0] is recorded (rules pick a usable scale for it) */
    CHECK_OK(calibrate_graph(g, batches, 1, 1, CALIB_PERCENTILE, &e) < 0, &e);
    expect_range(g, "x", 0, 0, 0);
    tensor_release(&f.value);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets), cmocka_unit_test(test_residual_add_targets),         cmocka_unit_test(test_minmax),   cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_other_batch_size), cmocka_unit_test(test_generate), cmocka_unit_test(test_load), cmocka_unit_test(test_load_splits_to_prepared_batch),
        cmocka_unit_test(test_carry),            cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
