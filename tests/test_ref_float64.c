/* test_ref_float64.c - float64 (DT_DOUBLE) in the reference kernels: Const (tensor_content and
 * the double_val splat), Cast to and from float64, Mul / RealDiv / Ceil / Pack in float64, the
 * ops faceboxes' image_padding computes with (TensorFlow's dtype rules: float64 stays float64
 * until a Cast). Expected values are worked by hand: each case is one float32 could not give
 * (2^24 + 1, 0.1 * 3 = 0.30000000000000004, ...), so a float32 path would fail it. The same
 * graph runs on the fast runtime (plan_compile; no fast kernel takes float64, the reference
 * kernel runs in the arena) and must give the same bits. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../src/io/npy.h"
#include "../src/io/pbtxt.h"
#include "../src/runtime/plan.h"
#include "../src/runtime/ref.h"
#include "testutil.h"

/* x int32 [4] -> Cast f64 -> * 0.03125 (double_val splat) -> Ceil -> Cast int32   (ceil)
   x -> Cast f64 -> RealDiv by Cast(d) -> Cast float32                              (ratio)
   Mul(0.1, 3.0) in float64 (Consts), Pack with the ratio's first element          (pack)
   x -> Cast f64 -> Cast int64                                                     (back) */
static const char GRAPH[] =
    "node { name: 'x' op: 'Placeholder' attr { key: 'dtype' value { type: DT_INT32 } }\n"
    "  attr { key: 'shape' value { shape { dim { size: 4 } } } } }\n"
    "node { name: 'd' op: 'Placeholder' attr { key: 'dtype' value { type: DT_INT32 } }\n"
    "  attr { key: 'shape' value { shape { dim { size: 4 } } } } }\n"
    "node { name: 'xd' op: 'Cast' input: 'x' attr { key: 'SrcT' value { type: DT_INT32 } }\n"
    "  attr { key: 'DstT' value { type: DT_DOUBLE } } }\n"
    "node { name: 'dd' op: 'Cast' input: 'd' attr { key: 'SrcT' value { type: DT_INT32 } }\n"
    "  attr { key: 'DstT' value { type: DT_DOUBLE } } }\n"
    "node { name: 'recip' op: 'Const' attr { key: 'dtype' value { type: DT_DOUBLE } }\n"
    "  attr { key: 'value' value { tensor { dtype: DT_DOUBLE tensor_shape { } double_val: 0.03125 } } } }\n"
    "node { name: 'scaled' op: 'Mul' input: ['xd', 'recip'] attr { key: 'T' value { type: DT_DOUBLE } } }\n"
    "node { name: 'up' op: 'Ceil' input: 'scaled' attr { key: 'T' value { type: DT_DOUBLE } } }\n"
    "node { name: 'ceil' op: 'Cast' input: 'up' attr { key: 'SrcT' value { type: DT_DOUBLE } }\n"
    "  attr { key: 'DstT' value { type: DT_INT32 } } }\n"
    "node { name: 'q' op: 'RealDiv' input: ['xd', 'dd'] attr { key: 'T' value { type: DT_DOUBLE } } }\n"
    "node { name: 'ratio' op: 'Cast' input: 'q' attr { key: 'SrcT' value { type: DT_DOUBLE } }\n"
    "  attr { key: 'DstT' value { type: DT_FLOAT } } }\n"
    "node { name: 'tenth' op: 'Const' attr { key: 'dtype' value { type: DT_DOUBLE } }\n"
    "  attr { key: 'value' value { tensor { dtype: DT_DOUBLE tensor_shape { dim { size: 2 } } double_val: 0.1 } } } }\n"
    "node { name: 'three' op: 'Const' attr { key: 'dtype' value { type: DT_DOUBLE } }\n"
    "  attr { key: 'value' value { tensor { dtype: DT_DOUBLE tensor_shape { } double_val: 3 } } } }\n"
    "node { name: 'prod' op: 'Mul' input: ['tenth', 'three'] attr { key: 'T' value { type: DT_DOUBLE } } }\n"
    "node { name: 'qs' op: 'Reshape' input: ['q', 'shp'] attr { key: 'T' value { type: DT_DOUBLE } } }\n"
    "node { name: 'shp' op: 'Const' attr { key: 'dtype' value { type: DT_INT32 } }\n"
    "  attr { key: 'value' value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } } int_val: [2, 2] } } } }\n"
    "node { name: 'pack' op: 'Pack' input: ['prod', 'tenth'] attr { key: 'T' value { type: DT_DOUBLE } }\n"
    "  attr { key: 'N' value { i: 2 } } attr { key: 'axis' value { i: 0 } } }\n"
    "node { name: 'back' op: 'Cast' input: 'xd' attr { key: 'SrcT' value { type: DT_DOUBLE } }\n"
    "  attr { key: 'DstT' value { type: DT_INT64 } } }\n";

enum { OUT_CEIL, OUT_RATIO, OUT_PACK, OUT_BACK, OUT_Q, N_OUT };
static const char *const FETCH[N_OUT] = {"ceil", "ratio", "pack", "back", "qs"};

static Graph *load(void) {
    Err e;
    Graph *g = pbtxt_parse_limited(GRAPH, strlen(GRAPH), "f64.pbtxt", NULL, &e);
    if (!g) fail_msg("%s", e.msg);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    return g;
}

/* x = [100, 16777217, -7, 2147483647], d = [32, 1, 3, 1]: both runtimes; out[N_OUT] filled */
static void run(const Graph *g, bool fast, Tensor *out) {
    Err e;
    RefFeed f[2] = {{"x", tt_i32(1, (int64_t[]){4}, (int32_t[]){100, 16777217, -7, 2147483647})},
                    {"d", tt_i32(1, (int64_t[]){4}, (int32_t[]){32, 1, 3, 1})}};
    ValueRef fetch[N_OUT];
    for (int k = 0; k < N_OUT; k++) fetch[k] = (ValueRef){graph_find(g, FETCH[k]), 0};
    if (fast) {
        PlanOpts o = {.threads = 1};
        Plan *p = plan_compile(g, fetch, N_OUT, &o, &e);
        if (!p) fail_msg("%s", e.msg);
        CHECK_OK(plan_run(p, f, 2, out, NULL, &e), &e);
        plan_free(p);
    } else {
        CHECK_OK(ref_run(g, f, 2, fetch, N_OUT, out, NULL, &e), &e);
    }
    tensor_release(&f[0].value);
    tensor_release(&f[1].value);
}

static void check(const Tensor *out) {
    /* ceil(x / 32): 100/32 = 3.125 -> 4; 16777217/32 = 524288.03125 (exact in float64; float32
       holds 16777217 as 16777216, giving 524288) -> 524289; -7/32 -> -0.0 -> 0; 2^31-1 -> 2^26 */
    assert_int_equal(out[OUT_CEIL].dtype, DT_INT32);
    const int32_t *c = tensor_data(&out[OUT_CEIL]);
    assert_int_equal(c[0], 4);
    assert_int_equal(c[1], 524289);
    assert_int_equal(c[2], 0);
    assert_int_equal(c[3], 67108864);
    /* x / d in float64, then one rounding to float32: -7/3 = -2.3333333333333335 -> float
       -2.33333325f (nearest); 16777217 -> 16777216f (tie to even) */
    assert_int_equal(out[OUT_RATIO].dtype, DT_FLOAT);
    const float *r = tensor_data(&out[OUT_RATIO]);
    assert_true(r[0] == 3.125f);
    assert_true(r[1] == 16777216.0f);
    assert_true(r[2] == (float)(-7.0 / 3.0));
    assert_true(r[3] == 2147483648.0f);
    /* the float64 quotient itself (Reshape of a float64 value: a view on the fast runtime) */
    assert_int_equal(out[OUT_Q].dtype, DT_DOUBLE);
    assert_int_equal(out[OUT_Q].shape.rank, 2);
    const double *q = tensor_data(&out[OUT_Q]);
    assert_true(q[0] == 3.125 && q[1] == 16777217.0 && q[2] == -7.0 / 3.0 && q[3] == 2147483647.0);
    assert_true(q[2] == -2.3333333333333335);
    /* 0.1 * 3 in float64 = 0.30000000000000004 (float32 would give 0.3f = 0.30000001192...);
       the double_val splat fills both elements of 'tenth' */
    assert_int_equal(out[OUT_PACK].dtype, DT_DOUBLE);
    assert_int_equal(out[OUT_PACK].shape.rank, 2);
    assert_int_equal(out[OUT_PACK].shape.dim[0], 2);
    assert_int_equal(out[OUT_PACK].shape.dim[1], 2);
    const double *p = tensor_data(&out[OUT_PACK]);
    assert_true(p[0] == 0.30000000000000004 && p[1] == 0.30000000000000004);
    assert_true(p[2] == 0.1 && p[3] == 0.1);
    /* int32 -> float64 -> int64 is exact for every int32 */
    const int64_t *b = tensor_data(&out[OUT_BACK]);
    assert_true(b[0] == 100 && b[1] == 16777217 && b[2] == -7 && b[3] == 2147483647);
}

static void test_float64_reference(void **state) {
    (void)state;
    Graph *g = load();
    Tensor out[N_OUT];
    run(g, false, out);
    check(out);
    for (int k = 0; k < N_OUT; k++) tensor_release(&out[k]);
    graph_free(g);
}

static void test_float64_fast_same_bits(void **state) {
    (void)state;
    Graph *g = load();
    Tensor ref[N_OUT], fast[N_OUT];
    run(g, false, ref);
    run(g, true, fast);
    check(fast);
    for (int k = 0; k < N_OUT; k++) {
        assert_int_equal(ref[k].dtype, fast[k].dtype);
        assert_int_equal(tensor_nbytes(&ref[k]), tensor_nbytes(&fast[k]));
        assert_memory_equal(tensor_data(&ref[k]), tensor_data(&fast[k]), tensor_nbytes(&ref[k]));
        tensor_release(&ref[k]);
        tensor_release(&fast[k]);
    }
    graph_free(g);
}

/* float64 -> narrower types: one rounding of the exact double (nearest even), float -> int
   truncates toward zero and clamps, NaN -> 0 */
static void test_float64_cast_edges(void **state) {
    (void)state;
    static const char G[] =
        "node { name: 'v' op: 'Const' attr { key: 'dtype' value { type: DT_DOUBLE } }\n"
        "  attr { key: 'value' value { tensor { dtype: DT_DOUBLE tensor_shape { dim { size: 6 } }\n"
        "    double_val: [1.0000000009313226, 3.4028235677973366e38, 1e-50, -2.9, 3e9, nan] } } } }\n"
        "node { name: 'f' op: 'Cast' input: 'v' attr { key: 'SrcT' value { type: DT_DOUBLE } }\n"
        "  attr { key: 'DstT' value { type: DT_FLOAT } } }\n"
        "node { name: 'i' op: 'Cast' input: 'v' attr { key: 'SrcT' value { type: DT_DOUBLE } }\n"
        "  attr { key: 'DstT' value { type: DT_INT32 } } }\n"
        "node { name: 'big' op: 'Const' attr { key: 'dtype' value { type: DT_INT64 } }\n"
        "  attr { key: 'value' value { tensor { dtype: DT_INT64 tensor_shape { dim { size: 2 } }\n"
        "    int64_val: [9007199254740993, -9007199254740995] } } } }\n"
        "node { name: 'bd' op: 'Cast' input: 'big' attr { key: 'SrcT' value { type: DT_INT64 } }\n"
        "  attr { key: 'DstT' value { type: DT_DOUBLE } } }\n";
    Err e;
    Graph *g = pbtxt_parse_limited(G, strlen(G), "edges.pbtxt", NULL, &e);
    if (!g) fail_msg("%s", e.msg);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    ValueRef fetch[3] = {{graph_find(g, "f"), 0}, {graph_find(g, "i"), 0}, {graph_find(g, "bd"), 0}};
    Tensor out[3];
    CHECK_OK(ref_run(g, NULL, 0, fetch, 3, out, NULL, &e), &e);
    const float *f = tensor_data(&out[0]);
    /* 1 + 2^-30 -> 1.0f; just above FLT_MAX + half an ulp -> inf; 1e-50 -> +0; NaN stays NaN */
    assert_true(f[0] == 1.0f);
    assert_true(isinf(f[1]) && f[1] > 0);
    assert_true(f[2] == 0.0f && !signbit(f[2]));
    assert_true(f[3] == -2.9f);
    assert_true(f[4] == 3e9f);
    assert_true(isnan(f[5]));
    const int32_t *i = tensor_data(&out[1]);
    assert_int_equal(i[0], 1);
    assert_int_equal(i[1], INT32_MAX);
    assert_int_equal(i[2], 0);
    assert_int_equal(i[3], -2);
    assert_int_equal(i[4], INT32_MAX);
    assert_int_equal(i[5], 0);
    /* 2^53 + 1 -> 2^53 (tie to even), -(2^53 + 3) -> -(2^53 + 4) (tie to even) */
    const double *d = tensor_data(&out[2]);
    assert_true(d[0] == 9007199254740992.0);
    assert_true(d[1] == -9007199254740996.0);
    for (int k = 0; k < 3; k++) tensor_release(&out[k]);
    graph_free(g);
}

/* hostile: a float64 tensor_content whose length does not match the shape is refused */
static void test_float64_bad_content(void **state) {
    (void)state;
    static const char G[] =
        "node { name: 'v' op: 'Const' attr { key: 'dtype' value { type: DT_DOUBLE } }\n"
        "  attr { key: 'value' value { tensor { dtype: DT_DOUBLE tensor_shape { dim { size: 2 } }\n"
        "    tensor_content: '0123456789abcde' } } } }\n";
    Err e;
    Graph *g = pbtxt_parse_limited(G, strlen(G), "bad.pbtxt", NULL, &e);
    assert_null(g);
    assert_non_null(strstr(e.msg, "tensor_content has 15 bytes"));
}

/* a float64 output saved as .npy ('<f8') and read back bit for bit; a big-endian '>f8' file
   is byte-swapped (1.0 = 3ff0000000000000) */
static void test_float64_npy(void **state) {
    (void)state;
    Err e;
    Tensor t;
    Shape s = shape_make(1, (int64_t[]){3});
    CHECK_OK(tensor_alloc(&t, DT_DOUBLE, &s, &e), &e);
    double *v = tensor_mut(&t);
    v[0] = 0.30000000000000004;
    v[1] = -2.3333333333333335;
    v[2] = 9007199254740992.0;
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(npy_serialize(&t, &data, &len, &e), &e);
    assert_non_null(memmem(data, len, "'<f8'", 5));
    Tensor back;
    CHECK_OK(npy_parse(data, len, "t.npy", &back, &e), &e);
    assert_int_equal(back.dtype, DT_DOUBLE);
    assert_memory_equal(tensor_data(&back), v, 24);
    tensor_release(&back);
    /* the same header with '>f8' and big-endian bytes */
    uint8_t *d = memmem(data, len, "'<f8'", 5);
    d[1] = '>';
    size_t body = len - 24;
    for (int k = 0; k < 3; k++)
        for (int b = 0; b < 8; b++) data[body + 8 * k + b] = ((const uint8_t *)&v[k])[7 - b];
    CHECK_OK(npy_parse(data, len, "t.npy", &back, &e), &e);
    assert_memory_equal(tensor_data(&back), v, 24);
    tensor_release(&back);
    free(data);
    tensor_release(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float64_reference),
        cmocka_unit_test(test_float64_fast_same_bits),
        cmocka_unit_test(test_float64_cast_edges),
        cmocka_unit_test(test_float64_bad_content),
        cmocka_unit_test(test_float64_npy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
