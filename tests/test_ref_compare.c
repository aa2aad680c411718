/* test_ref_compare.c - the elementwise ops added for real models, on both runtimes, against
 * values computed by hand and checked with TensorFlow 2.20: FloorDiv/FloorMod (integer signs,
 * division by zero, the most negative value, float infinities and NaN), Atan2, Floor, Ceil,
 * Cos, Sin, Reciprocal (signed zeros), the comparisons (NaN, broadcasting, bool,
 * incompatible_shape_error), LogicalAnd/Or/Not, Select/SelectV2 and ZerosLike. */
#include "test_ops_util.h"

#include <math.h>

static const float NaN = NAN, Inf = INFINITY;

static void binary_case(const char *op, Tensor a, Tensor b, Tensor want) {
    ToGraph t;
    to_begin(&t, op);
    to_feed(&t, a);
    to_feed(&t, b);
    to_check(&t, &want, 1);
    to_end(&t);
}

static void unary_case(const char *op, Tensor a, Tensor want) {
    ToGraph t;
    to_begin(&t, op);
    to_feed(&t, a);
    to_check(&t, &want, 1);
    to_end(&t);
}

static void test_floor_div_mod_int(void **state) {
    (void)state;
    int64_t d6[] = {6};
    /* quotient rounds towards -inf, remainder takes the divisor's sign */
    const double a[] = {7, -7, 7, -7, 0, -1}, b[] = {2, 2, -2, -2, 3, 3};
    binary_case("FloorDiv", to_t(DT_INT32, 1, d6, a), to_t(DT_INT32, 1, d6, b), to_t(DT_INT32, 1, d6, (double[]){3, -4, -4, 3, 0, -1}));
    binary_case("FloorMod", to_t(DT_INT32, 1, d6, a), to_t(DT_INT32, 1, d6, b), to_t(DT_INT32, 1, d6, (double[]){1, 1, -1, -1, 0, 2}));
    binary_case("FloorDiv", to_t(DT_INT64, 1, d6, a), to_t(DT_INT64, 1, d6, b), to_t(DT_INT64, 1, d6, (double[]){3, -4, -4, 3, 0, -1}));
    binary_case("FloorMod", to_t(DT_INT8, 1, d6, a), to_t(DT_INT8, 1, d6, b), to_t(DT_INT8, 1, d6, (double[]){1, 1, -1, -1, 0, 2}));
    /* the most negative int32 divided by -1 wraps to itself (TensorFlow gives -2147483648) */
    int64_t d1[] = {1};
    binary_case("FloorDiv", to_t(DT_INT32, 1, d1, (double[]){-2147483648.0}), to_t(DT_INT32, 1, d1, (double[]){-1}),
                to_t(DT_INT32, 1, d1, (double[]){-2147483648.0}));
    binary_case("FloorMod", to_t(DT_INT32, 1, d1, (double[]){-2147483648.0}), to_t(DT_INT32, 1, d1, (double[]){-1}),
                to_t(DT_INT32, 1, d1, (double[]){0}));
    /* broadcasting [2,1] against [3] */
    binary_case("FloorDiv", to_t(DT_INT32, 2, (int64_t[]){2, 1}, (double[]){-5, 9}), to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){2, -4, 5}),
                to_t(DT_INT32, 2, (int64_t[]){2, 3}, (double[]){-3, 1, -1, 4, -3, 1}));
}

static void test_int_division_by_zero(void **state) {
    (void)state;
    for (int m = 0; m < 2; m++) {
        ToGraph t;
        to_begin(&t, m ? "FloorMod" : "FloorDiv");
        to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){1, 2}));
        to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){1, 0}));
        to_check_error(&t, 1, "Integer division by zero");
        to_end(&t);
    }
}

static void test_floor_div_mod_float(void **state) {
    (void)state;
    int64_t d[] = {8};
    float a[] = {7, -7, 7.5f, -0.5f, 1, NaN, 1, -1}, b[] = {2, 2, -2, 2, 0, 1, -Inf, Inf};
    /* 1 // 0 = inf; 1 // -inf = -0; -1 // inf = floor(-0) = -0 */
    binary_case("FloorDiv", to_f32(1, d, a), to_f32(1, d, b), to_f32(1, d, (float[]){3, -4, -4, -1, Inf, NaN, -0.0f, -0.0f}));
    /* 1 mod 0 = NaN; -1 mod inf = inf (fmod gives -1, signs differ, so inf is added) */
    float bm[] = {2, 2, -2, 2, 0, 1, Inf, Inf};
    binary_case("FloorMod", to_f32(1, d, a), to_f32(1, d, bm), to_f32(1, d, (float[]){1, 1, -0.5f, 1.5f, NaN, NaN, 1, Inf}));
    /* the quotient is rounded to float before the floor: 1 / (1 - 2^-24) rounds up to 1 */
    float den = 1.0f - 0x1p-24f;
    binary_case("FloorDiv", to_f32(1, (int64_t[]){1}, (float[]){1}), to_f32(1, (int64_t[]){1}, &den), to_f32(1, (int64_t[]){1}, (float[]){1}));
}

static void test_atan2_and_unary(void **state) {
    (void)state;
    int64_t d[] = {6};
    binary_case("Atan2", to_f32(1, d, (float[]){0, -0.0f, 1, 0, 1, -2}), to_f32(1, d, (float[]){-1, -1, 0, 0, 3, -0.5f}),
                to_f32(1, d, (float[]){3.141592653589793f, -3.141592653589793f, 1.5707963267948966f, 0, 0.3217505543966422f, -1.8157749899217608f}));
    float x[] = {-0.5f, 2.5f, -0.0f, NaN, 0.5f, -3.0f};
    unary_case("Floor", to_f32(1, d, x), to_f32(1, d, (float[]){-1, 2, -0.0f, NaN, 0, -3}));
    unary_case("Ceil", to_f32(1, d, x), to_f32(1, d, (float[]){-0.0f, 3, -0.0f, NaN, 1, -3}));
    /* correctly rounded to float32, as TensorFlow gives (cos(0.5) = 0.87758255, sin(-3) = -0.14112) */
    unary_case("Cos", to_f32(1, d, x), to_f32(1, d, (float[]){0.8775825618903728f, -0.8011436155469337f, 1, NaN, 0.8775825618903728f, -0.9899924966004454f}));
    unary_case("Sin", to_f32(1, d, x), to_f32(1, d, (float[]){-0.479425538604203f, 0.5984721441039564f, -0.0f, NaN, 0.479425538604203f, -0.1411200080598672f}));
    unary_case("Reciprocal", to_f32(1, d, (float[]){0, -0.0f, 2, -4, NaN, Inf}), to_f32(1, d, (float[]){Inf, -Inf, 0.5f, -0.25f, NaN, 0}));
}

static void test_compare(void **state) {
    (void)state;
    int64_t d[] = {5};
    float a[] = {1, NaN, 2, -0.0f, -Inf}, b[] = {1, 1, NaN, 0, -Inf};
    const char *ops[] = {"Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"};
    const double want[6][5] = {{1, 0, 0, 1, 1}, {0, 1, 1, 0, 0}, {0, 0, 0, 0, 0}, {1, 0, 0, 1, 1}, {0, 0, 0, 0, 0}, {1, 0, 0, 1, 1}};
    for (int o = 0; o < 6; o++) binary_case(ops[o], to_f32(1, d, a), to_f32(1, d, b), to_t(DT_BOOL, 1, d, want[o]));
    /* integers with broadcasting: [[1],[3]] < [1, 2, 3] */
    binary_case("Less", to_t(DT_INT32, 2, (int64_t[]){2, 1}, (double[]){1, 3}), to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){1, 2, 3}),
                to_t(DT_BOOL, 2, (int64_t[]){2, 3}, (double[]){0, 1, 1, 0, 0, 0}));
    binary_case("GreaterEqual", to_t(DT_INT64, 1, (int64_t[]){3}, (double[]){-5, 0, 7}), to_t(DT_INT64, 0, NULL, (double[]){0}),
                to_t(DT_BOOL, 1, (int64_t[]){3}, (double[]){0, 1, 1}));
    /* bool equality */
    binary_case("Equal", to_t(DT_BOOL, 1, (int64_t[]){4}, (double[]){0, 0, 1, 1}), to_t(DT_BOOL, 1, (int64_t[]){4}, (double[]){0, 1, 0, 1}),
                to_t(DT_BOOL, 1, (int64_t[]){4}, (double[]){1, 0, 0, 1}));
}

static void test_compare_errors_and_incompatible_shapes(void **state) {
    (void)state;
    ToGraph t;
    to_begin(&t, "Greater"); /* TensorFlow has no bool Greater */
    to_feed(&t, to_t(DT_BOOL, 1, (int64_t[]){2}, (double[]){0, 1}));
    to_feed(&t, to_t(DT_BOOL, 1, (int64_t[]){2}, (double[]){1, 1}));
    to_check_error(&t, 1, "bool is not supported");
    to_end(&t);
    to_begin(&t, "Equal"); /* shapes that do not broadcast: an error by default */
    to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){1, 2}));
    to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){1, 2, 3}));
    to_check_error(&t, 1, "cannot be broadcast");
    to_end(&t);
    /* with incompatible_shape_error = false: scalar false (Equal) / true (NotEqual), as TensorFlow */
    for (int ne = 0; ne < 2; ne++) {
        Err e;
        to_begin(&t, ne ? "NotEqual" : "Equal");
        CHECK_OK(node_set_attr_b(t.g->nodes[t.op], "incompatible_shape_error", false, &e), &e);
        to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){1, 2}));
        to_feed(&t, to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){1, 2, 3}));
        Tensor want = to_t(DT_BOOL, 0, NULL, (double[]){ne});
        to_check(&t, &want, 1);
        to_end(&t);
    }
}

static void test_logical(void **state) {
    (void)state;
    Tensor a = to_t(DT_BOOL, 2, (int64_t[]){2, 1}, (double[]){0, 1}), b = to_t(DT_BOOL, 1, (int64_t[]){2}, (double[]){0, 1});
    Tensor a2 = tensor_share(&a), b2 = tensor_share(&b);
    binary_case("LogicalAnd", a, b, to_t(DT_BOOL, 2, (int64_t[]){2, 2}, (double[]){0, 0, 0, 1}));
    binary_case("LogicalOr", a2, b2, to_t(DT_BOOL, 2, (int64_t[]){2, 2}, (double[]){0, 1, 1, 1}));
    unary_case("LogicalNot", to_t(DT_BOOL, 1, (int64_t[]){3}, (double[]){1, 0, 1}), to_t(DT_BOOL, 1, (int64_t[]){3}, (double[]){0, 1, 0}));
    ToGraph t;
    to_begin(&t, "LogicalAnd");
    to_feed(&t, to_f32(1, (int64_t[]){1}, (float[]){1}));
    to_feed(&t, to_f32(1, (int64_t[]){1}, (float[]){1}));
    to_check_error(&t, 1, "must be bool");
    to_end(&t);
}

static void select_case(const char *op, Tensor c, Tensor x, Tensor y, Tensor want) {
    ToGraph t;
    to_begin(&t, op);
    to_feed(&t, c);
    to_feed(&t, x);
    to_feed(&t, y);
    to_check(&t, &want, 1);
    to_end(&t);
}

static void test_select(void **state) {
    (void)state;
    int64_t d22[] = {2, 2};
    const double x[] = {1, 2, 3, 4}, y[] = {5, 6, 7, 8};
    /* v1, vector condition: whole rows (TensorFlow: [[1, 2], [7, 8]]) */
    select_case("Select", to_t(DT_BOOL, 1, (int64_t[]){2}, (double[]){1, 0}), to_t(DT_INT32, 2, d22, x), to_t(DT_INT32, 2, d22, y),
                to_t(DT_INT32, 2, d22, (double[]){1, 2, 7, 8}));
    /* v1, same shape: element by element */
    select_case("Select", to_t(DT_BOOL, 2, d22, (double[]){0, 1, 1, 0}), to_f32(2, d22, (float[]){1, 2, 3, 4}), to_f32(2, d22, (float[]){5, 6, 7, 8}),
                to_f32(2, d22, (float[]){5, 2, 3, 8}));
    /* v1, scalar condition: all of y */
    select_case("Select", to_t(DT_BOOL, 0, NULL, (double[]){0}), to_t(DT_INT64, 2, d22, x), to_t(DT_INT64, 2, d22, y), to_t(DT_INT64, 2, d22, y));
    /* v2 broadcasts all three: condition [2,1], x [3], y scalar */
    select_case("SelectV2", to_t(DT_BOOL, 2, (int64_t[]){2, 1}, (double[]){1, 0}), to_f32(1, (int64_t[]){3}, (float[]){1, NaN, 3}),
                to_f32(0, NULL, (float[]){-1}), to_f32(2, (int64_t[]){2, 3}, (float[]){1, NaN, 3, -1, -1, -1}));
    ToGraph t;
    to_begin(&t, "Select"); /* a v1 condition that is neither scalar, row vector nor x's shape */
    to_feed(&t, to_t(DT_BOOL, 1, (int64_t[]){3}, (double[]){1, 0, 1}));
    to_feed(&t, to_t(DT_INT32, 2, d22, x));
    to_feed(&t, to_t(DT_INT32, 2, d22, y));
    to_check_error(&t, 1, "condition");
    to_end(&t);
}

static void test_zeros_like(void **state) {
    (void)state;
    /* fed after a non-zero value in the same arena: the kernel must write its zeros */
    ToGraph t;
    to_begin(&t, "ZerosLike");
    to_feed(&t, to_t(DT_INT32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
    Tensor want = to_t(DT_INT32, 2, (int64_t[]){2, 3}, (double[]){0, 0, 0, 0, 0, 0});
    to_check(&t, &want, 1);
    to_end(&t);
    unary_case("ZerosLike", to_f32(1, (int64_t[]){2}, (float[]){NaN, -1}), to_f32(1, (int64_t[]){2}, (float[]){0, 0}));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor_div_mod_int),
        cmocka_unit_test(test_int_division_by_zero),
        cmocka_unit_test(test_floor_div_mod_float),
        cmocka_unit_test(test_atan2_and_unary),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_compare_errors_and_incompatible_shapes),
        cmocka_unit_test(test_logical),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_zeros_like),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
