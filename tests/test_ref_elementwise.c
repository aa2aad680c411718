/* test_ref_elementwise.c - shape inference, FLOPs and reference kernels of the unary, binary,
 * AddN, BiasAdd, Prelu and Cast ops. Expected values come from libm in the test, hand-worked
 * cases, or a naive broadcasting implementation written here independently of the kernels. */
#include "test_ref_ew.h"

/* ---------------------------------------------------------------- unary */

static const double unary_inputs[] = {-1000, -100, -3.5, -1, -0.5, -0.0, 0, 0.25, 1, 2, 6, 7.5, 88, 100};
#define N_UNARY ((int64_t)(sizeof unary_inputs / sizeof unary_inputs[0]))

/* independent formulas (the naive ones where the kernel uses a stabler form) */
static double unary_expected(const char *op, double x, double alpha) {
    if (!strcmp(op, "Neg")) return -x;
    if (!strcmp(op, "Abs")) return x < 0 ? -x : x;
    if (!strcmp(op, "Square")) return x * x;
    if (!strcmp(op, "Sqrt")) return sqrt(x);
    if (!strcmp(op, "Rsqrt")) return 1 / sqrt(x);
    if (!strcmp(op, "Exp")) return exp(x);
    if (!strcmp(op, "Log")) return log(x);
    if (!strcmp(op, "Erf")) return erf(x);
    if (!strcmp(op, "Tanh")) return tanh(x);
    if (!strcmp(op, "Sigmoid")) return 1 / (1 + exp(-x));
    if (!strcmp(op, "Relu")) return x > 0 ? x : 0;
    if (!strcmp(op, "Relu6")) return x > 6 ? 6 : x > 0 ? x : 0;
    if (!strcmp(op, "Elu")) return x < 0 ? exp(x) - 1 : x;
    if (!strcmp(op, "Selu")) return x < 0 ? 1.0507009873554805 * 1.6732632423543772 * (exp(x) - 1) : 1.0507009873554805 * x;
    if (!strcmp(op, "LeakyRelu")) return x < 0 ? alpha * x : x;
    fail_msg("no formula for %s", op);
    return 0;
}

static const char *const unary_ops[] = {"Neg", "Abs", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Erf",
                                        "Tanh", "Sigmoid", "Relu", "Relu6", "Elu", "Selu", "LeakyRelu"};

static void check_unary_float(int dtype, double rtol) {
    int64_t dims[1] = {N_UNARY};
    Tensor x = ew_make(dtype, 1, dims, unary_inputs);
    for (size_t k = 0; k < sizeof unary_ops / sizeof unary_ops[0]; k++) {
        Tensor y = ew_eval(unary_ops[k], &x, 1, NULL);
        double want[N_UNARY];
        for (int64_t i = 0; i < N_UNARY; i++) {
            double v = unary_expected(unary_ops[k], tensor_get(&x, i), 0.2);
            /* the exact value rounded to the dtype */
            want[i] = dtype == DT_FLOAT ? (double)(float)v
                    : dtype == DT_HALF ? half_to_float(float_to_half((float)v))
                    : bfloat16_to_float(float_to_bfloat16((float)v));
        }
        print_message("  %s %s\n", unary_ops[k], dtype_name(dtype));
        ew_expect(&y, dtype, 1, dims, want, rtol);
        tensor_release(&y);
    }
    tensor_release(&x);
}

static void test_unary_float32(void **state) {
    (void)state;
    check_unary_float(DT_FLOAT, 1e-6);
}

static void test_unary_half_bfloat16(void **state) {
    (void)state;
    /* 16-bit results are the correctly rounded values: exact up to a one-ulp tie difference */
    check_unary_float(DT_HALF, 1e-3);
    check_unary_float(DT_BFLOAT16, 8e-3);
}

static void test_unary_edge_values(void **state) {
    (void)state;
    int64_t d3[1] = {3};
    Tensor x = tt_f32(1, d3, (float[]){-100.0f, -1000.0f, 1000.0f});
    Tensor s = ew_eval("Sigmoid", &x, 1, NULL);
    const float *sv = tensor_data(&s);
    assert_false(isnan(sv[0]) || isnan(sv[1]) || isnan(sv[2]));
    assert_true(sv[0] > 0 && fabs(sv[0] - 3.7200759760208e-44) < 2e-45); /* float subnormal, not 0 */
    assert_true(sv[1] == 0.0f);
    assert_true(sv[2] == 1.0f);
    Tensor e = ew_eval("Exp", &x, 1, NULL);
    const float *ev = tensor_data(&e);
    assert_true(ev[1] == 0.0f && isinf(ev[2]) && ev[2] > 0);
    Tensor l = ew_eval("Log", &x, 1, NULL);
    assert_true(isnan(((const float *)tensor_data(&l))[0]));
    tensor_release(&s); tensor_release(&e); tensor_release(&l); tensor_release(&x);

    Tensor z = tt_f32(1, d3, (float[]){0.0f, -0.0f, NAN});
    Tensor r = ew_eval("Rsqrt", &z, 1, NULL);
    const float *rv = tensor_data(&r);
    assert_true(isinf(rv[0]) && rv[0] > 0 && isinf(rv[1]) && rv[1] < 0 && isnan(rv[2]));
    Tensor lg = ew_eval("Log", &z, 1, NULL);
    assert_true(isinf(((const float *)tensor_data(&lg))[0]) && ((const float *)tensor_data(&lg))[0] < 0);
    Tensor relu = ew_eval("Relu", &z, 1, NULL);
    assert_true(isnan(((const float *)tensor_data(&relu))[2])); /* NaN propagates */
    tensor_release(&r); tensor_release(&lg); tensor_release(&relu); tensor_release(&z);
}

static void set_alpha_01(Node *n) { Err e; CHECK_OK(node_set_attr_f(n, "alpha", 0.1f, &e), &e); }

static void test_leaky_relu_alpha(void **state) {
    (void)state;
    int64_t d[1] = {4};
    Tensor x = tt_f32(1, d, (float[]){-2, -0.5f, 0, 3});
    Tensor y = ew_eval("LeakyRelu", &x, 1, set_alpha_01);
    ew_expect(&y, DT_FLOAT, 1, d, (double[]){-2 * (double)0.1f, -0.5 * (double)0.1f, 0, 3}, 1e-7);
    tensor_release(&y);
    y = ew_eval("LeakyRelu", &x, 1, NULL); /* default alpha 0.2 */
    ew_expect(&y, DT_FLOAT, 1, d, (double[]){-2 * (double)0.2f, -0.5 * (double)0.2f, 0, 3}, 1e-7);
    tensor_release(&y);
    tensor_release(&x);
}

static void test_unary_integers(void **state) {
    (void)state;
    int64_t d[1] = {6};
    Tensor x = tt_i32(1, d, (int32_t[]){-7, 0, 3, 8, INT32_MIN, 46341});
    struct { const char *op; int64_t want[6]; } cases[] = {
        {"Neg", {7, 0, -3, -8, INT32_MIN, -46341}},      /* -INT32_MIN wraps to itself */
        {"Abs", {7, 0, 3, 8, INT32_MIN, 46341}},
        {"Square", {49, 0, 9, 64, 0, -2147479015}},      /* 46341^2 = 2^31 + 4633 wraps */
        {"Relu", {0, 0, 3, 8, 0, 46341}},
        {"Relu6", {0, 0, 3, 6, 0, 6}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Tensor y = ew_eval(cases[k].op, &x, 1, NULL);
        print_message("  %s int32\n", cases[k].op);
        ew_expect_i64(&y, DT_INT32, 1, d, cases[k].want);
        tensor_release(&y);
    }
    tensor_release(&x);

    int64_t d3[1] = {3};
    Tensor x64 = ew_i64(1, d3, (int64_t[]){INT64_MIN, -5, 3037000500LL});
    Tensor y = ew_eval("Neg", &x64, 1, NULL);
    ew_expect_i64(&y, DT_INT64, 1, d3, (int64_t[]){INT64_MIN, 5, -3037000500LL});
    tensor_release(&y);
    y = ew_eval("Square", &x64, 1, NULL); /* 3037000500^2 = 9223372037000250000 > INT64_MAX: wraps */
    ew_expect_i64(&y, DT_INT64, 1, d3, (int64_t[]){0, 25, -9223372036709301616LL});
    tensor_release(&y);
    tensor_release(&x64);

    Tensor x8 = ew_make(DT_INT8, 1, d3, (double[]){-128, -1, 100});
    y = ew_eval("Relu", &x8, 1, NULL);
    ew_expect_i64(&y, DT_INT8, 1, d3, (int64_t[]){0, 0, 100});
    tensor_release(&y);
    tensor_release(&x8);
}

static void test_unary_errors(void **state) {
    (void)state;
    int64_t d[1] = {2};
    Tensor xi = tt_i32(1, d, (int32_t[]){1, 2});
    ew_expect_infer_error("Exp", &xi, 1, NULL, ERR_INPUT, "int32");
    ew_expect_infer_error("Sigmoid", &xi, 1, NULL, ERR_INPUT, "int32");
    Tensor xb = ew_make(DT_BOOL, 1, d, (double[]){1, 0});
    ew_expect_infer_error("Neg", &xb, 1, NULL, ERR_INPUT, "bool");
    tensor_release(&xi);
    tensor_release(&xb);
}

/* ---------------------------------------------------------------- binary */

static const char *const binary_ops[] = {"Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum",
                                         "SquaredDifference", "Pow"};

static double binary_expected(const char *op, double a, double b) {
    if (!strcmp(op, "Add") || !strcmp(op, "AddV2")) return a + b;
    if (!strcmp(op, "Sub")) return a - b;
    if (!strcmp(op, "Mul")) return a * b;
    if (!strcmp(op, "RealDiv")) return a / b;
    if (!strcmp(op, "Maximum")) return a > b ? a : b;
    if (!strcmp(op, "Minimum")) return a < b ? a : b;
    if (!strcmp(op, "SquaredDifference")) return (a - b) * (a - b);
    if (!strcmp(op, "Pow")) return pow(a, b);
    fail_msg("no formula for %s", op);
    return 0;
}

/* naive numpy broadcasting: out[idx] = f(a[idx mapped], b[idx mapped]), by unravelling */
static void naive_broadcast(const char *op, const Tensor *a, const Tensor *b, Shape *out_shape, double *out) {
    int r = a->shape.rank > b->shape.rank ? a->shape.rank : b->shape.rank;
    Shape s = {.rank = r};
    for (int d = 0; d < r; d++) {
        int ia = d - (r - a->shape.rank), ib = d - (r - b->shape.rank);
        int64_t da = ia >= 0 ? a->shape.dim[ia] : 1, db = ib >= 0 ? b->shape.dim[ib] : 1;
        s.dim[d] = da == 1 ? db : da;
    }
    *out_shape = s;
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        int64_t idx[MAX_RANK], rest = i;
        for (int d = r - 1; d >= 0; d--) { idx[d] = rest % s.dim[d]; rest /= s.dim[d]; }
        int64_t fa = 0, fb = 0;
        for (int d = 0; d < r; d++) {
            int ia = d - (r - a->shape.rank), ib = d - (r - b->shape.rank);
            if (ia >= 0) fa = fa * a->shape.dim[ia] + (a->shape.dim[ia] == 1 ? 0 : idx[d]);
            if (ib >= 0) fb = fb * b->shape.dim[ib] + (b->shape.dim[ib] == 1 ? 0 : idx[d]);
        }
        out[i] = binary_expected(op, tensor_get(a, fa), tensor_get(b, fb));
    }
}

static Tensor random_f32(int rank, const int64_t *dims, uint32_t *seed, bool positive) {
    Shape s = shape_make(rank, dims);
    double vals[4096];
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        vals[i] = ew_val(seed);
        if (positive) vals[i] = fabs(vals[i]) + 0.5;
    }
    return ew_make(DT_FLOAT, rank, dims, vals);
}

/* runs every binary op on (a, b) and compares with the naive implementation */
static void check_binary_all_ops(const Tensor *a, const Tensor *b) {
    for (size_t k = 0; k < sizeof binary_ops / sizeof binary_ops[0]; k++) {
        Tensor in[2] = {*a, *b};
        Tensor y = ew_eval(binary_ops[k], in, 2, NULL);
        Shape s;
        double want[4096];
        naive_broadcast(binary_ops[k], a, b, &s, want);
        for (int64_t i = 0; i < shape_numel(&s); i++) want[i] = (float)want[i];
        ew_expect(&y, DT_FLOAT, s.rank, s.dim, want, 1e-6);
        tensor_release(&y);
    }
}

static void test_binary_broadcast_2x1x3_with_4x1(void **state) {
    (void)state;
    Tensor a = tt_f32(3, (int64_t[]){2, 1, 3}, (float[]){1, 2, 3, 4, 5, 6});
    Tensor b = tt_f32(2, (int64_t[]){4, 1}, (float[]){10, 20, 30, 40});
    Tensor in[2] = {a, b};
    Tensor y = ew_eval("Add", in, 2, NULL);
    /* hand-computed: out[i][j][k] = a[i][0][k] + b[j][0] */
    double want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) want[(i * 4 + j) * 3 + k] = (i * 3 + k + 1) + 10 * (j + 1);
    ew_expect(&y, DT_FLOAT, 3, (int64_t[]){2, 4, 3}, want, 0);
    assert_true(want[23] == 46 && want[3] == 21);
    tensor_release(&y);
    check_binary_all_ops(&a, &b);
    check_binary_all_ops(&b, &a); /* operand order swapped */
    tensor_release(&a);
    tensor_release(&b);
}

static void test_binary_scalars_and_size1_dims(void **state) {
    (void)state;
    uint32_t seed = 7;
    struct { int ra; int64_t da[MAX_RANK]; int rb; int64_t db[MAX_RANK]; } cases[] = {
        {0, {0}, 2, {2, 3}},             /* scalar with tensor */
        {2, {2, 3}, 0, {0}},             /* tensor with scalar */
        {0, {0}, 0, {0}},                /* rank 0 with rank 0 */
        {1, {1}, 1, {5}},                /* size-1 vector */
        {2, {3, 1}, 2, {1, 4}},          /* outer product */
        {3, {1, 1, 1}, 1, {2}},          /* all-ones shape */
        {2, {2, 3}, 2, {2, 3}},          /* equal shapes */
        {4, {2, 1, 3, 1}, 3, {4, 1, 5}}, /* interleaved broadcast dims */
        {4, {1, 3, 1, 2}, 4, {2, 1, 4, 1}},
        {3, {2, 3, 4}, 1, {4}},          /* bias-like */
        {3, {2, 3, 4}, 3, {1, 3, 1}},    /* NCHW-bias-like */
        {8, {2, 1, 2, 1, 2, 1, 2, 1}, 8, {1, 2, 1, 2, 1, 2, 1, 2}}, /* rank 8 */
        {2, {3, 0}, 2, {1, 0}},          /* empty output */
        {2, {1, 1}, 1, {1}},             /* ones and ones */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        print_message("  case %zu\n", c);
        Tensor a = random_f32(cases[c].ra, cases[c].da, &seed, true);
        Tensor b = random_f32(cases[c].rb, cases[c].db, &seed, false);
        check_binary_all_ops(&a, &b);
        check_binary_all_ops(&b, &a);
        tensor_release(&a);
        tensor_release(&b);
    }
}

static void test_binary_float_details(void **state) {
    (void)state;
    int64_t d[1] = {4};
    Tensor a = tt_f32(1, d, (float[]){NAN, 1, -0.0f, 2});
    Tensor b = tt_f32(1, d, (float[]){1, NAN, 0, 10});
    Tensor in[2] = {a, b};
    Tensor mx = ew_eval("Maximum", in, 2, NULL), mn = ew_eval("Minimum", in, 2, NULL);
    ew_expect(&mx, DT_FLOAT, 1, d, (double[]){NAN, NAN, 0, 10}, 0);
    ew_expect(&mn, DT_FLOAT, 1, d, (double[]){NAN, NAN, 0, 2}, 0);
    Tensor pw = ew_eval("Pow", in, 2, NULL);
    ew_expect(&pw, DT_FLOAT, 1, d, (double[]){NAN, 1, 1, 1024}, 0); /* C pow: 1^NaN = 1 */
    Tensor dv = ew_eval("RealDiv", in, 2, NULL);
    ew_expect(&dv, DT_FLOAT, 1, d, (double[]){NAN, NAN, NAN, 0.2f}, 0);
    tensor_release(&mx); tensor_release(&mn); tensor_release(&pw); tensor_release(&dv);
    tensor_release(&a); tensor_release(&b);

    /* float16 sums round half to even: 1 + 2^-11 -> 1, 1 + 3*2^-11 -> 1 + 2^-9 */
    int64_t d2[1] = {2};
    Tensor h1 = ew_make(DT_HALF, 1, d2, (double[]){1, 1});
    Tensor h2 = ew_make(DT_HALF, 1, d2, (double[]){1.0 / 2048, 3.0 / 2048});
    Tensor hin[2] = {h1, h2};
    Tensor hs = ew_eval("AddV2", hin, 2, NULL);
    ew_expect(&hs, DT_HALF, 1, d2, (double[]){1.0, 1.0 + 1.0 / 512}, 0);
    tensor_release(&hs); tensor_release(&h1); tensor_release(&h2);
}

static void test_binary_integers(void **state) {
    (void)state;
    int64_t d[1] = {5};
    Tensor a = tt_i32(1, d, (int32_t[]){INT32_MAX, 65536, -7, 3, -2});
    Tensor b = tt_i32(1, d, (int32_t[]){1, 65536, 2, 4, 3});
    Tensor in[2] = {a, b};
    struct { const char *op; int64_t want[5]; } cases[] = {
        {"Add", {INT32_MIN, 131072, -5, 7, 1}},
        {"AddV2", {INT32_MIN, 131072, -5, 7, 1}},
        {"Sub", {INT32_MAX - 1, 0, -9, -1, -5}},
        {"Mul", {INT32_MAX, 0, -14, 12, -6}}, /* 2^16 * 2^16 wraps to 0 */
        {"Maximum", {INT32_MAX, 65536, 2, 4, 3}},
        {"Minimum", {1, 65536, -7, 3, -2}},
        {"SquaredDifference", {4, 0, 81, 1, 25}}, /* (2^31-2)^2 = 2^62 - 2^33 + 4 = 4 mod 2^32 */
        {"Pow", {INT32_MAX, 0, 49, 81, -8}}, /* 65536^65536 wraps to 0 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Tensor y = ew_eval(cases[k].op, in, 2, NULL);
        print_message("  %s int32\n", cases[k].op);
        ew_expect_i64(&y, DT_INT32, 1, d, cases[k].want);
        tensor_release(&y);
    }
    tensor_release(&a); tensor_release(&b);

    /* int64 with broadcasting: [2,1] x [3] */
    Tensor a64 = ew_i64(2, (int64_t[]){2, 1}, (int64_t[]){INT64_MAX, -3});
    Tensor b64 = ew_i64(1, (int64_t[]){3}, (int64_t[]){2, 0, 1});
    Tensor in64[2] = {a64, b64};
    Tensor y = ew_eval("Mul", in64, 2, NULL);
    ew_expect_i64(&y, DT_INT64, 2, (int64_t[]){2, 3}, (int64_t[]){-2, 0, INT64_MAX, -6, 0, -3});
    tensor_release(&y);
    y = ew_eval("Pow", in64, 2, NULL);
    ew_expect_i64(&y, DT_INT64, 2, (int64_t[]){2, 3}, (int64_t[]){1, 1, INT64_MAX, 9, 1, -3});
    tensor_release(&y);
    tensor_release(&a64); tensor_release(&b64);

    /* 8-bit: uint8 compares unsigned (200 > 3) and wraps modulo 256; int8 wraps signed */
    Tensor u[2] = {ew_make(DT_UINT8, 1, (int64_t[]){2}, (double[]){200, 3}),
                   ew_make(DT_UINT8, 1, (int64_t[]){2}, (double[]){100, 5})};
    y = ew_eval("Add", u, 2, NULL);
    ew_expect_i64(&y, DT_UINT8, 1, (int64_t[]){2}, (int64_t[]){44, 8});
    tensor_release(&y);
    y = ew_eval("Sub", u, 2, NULL);
    ew_expect_i64(&y, DT_UINT8, 1, (int64_t[]){2}, (int64_t[]){100, 254});
    tensor_release(&y);
    y = ew_eval("Maximum", u, 2, NULL);
    ew_expect_i64(&y, DT_UINT8, 1, (int64_t[]){2}, (int64_t[]){200, 5});
    tensor_release(&y);
    tensor_release(&u[0]); tensor_release(&u[1]);
    Tensor s8[2] = {ew_make(DT_INT8, 1, (int64_t[]){2}, (double[]){100, -128}),
                    ew_make(DT_INT8, 0, NULL, (double[]){2})};
    y = ew_eval("Mul", s8, 2, NULL);
    ew_expect_i64(&y, DT_INT8, 1, (int64_t[]){2}, (int64_t[]){-56, 0});
    tensor_release(&y);
    tensor_release(&s8[0]); tensor_release(&s8[1]);

    /* integer to a negative power fails at run time */
    Graph *g = graph_new();
    int ia = ew_const(g, "a", ew_scalar_i32(2)), ib = ew_const(g, "b", ew_scalar_i32(-1));
    int op = ew_op(g, "pow", "Pow", (int[]){ia, ib}, 2);
    Err e;
    CHECK_OK(ew_infer(g, &e), &e);
    Tensor out = {0};
    ValueRef v = {op, 0};
    assert_int_equal(ref_run(g, NULL, 0, &v, 1, &out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "negative"));
    assert_non_null(strstr(e.msg, "pow")); /* the executor names the node */
    graph_free(g);
}

static void test_binary_errors(void **state) {
    (void)state;
    Tensor a = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    Tensor b = tt_f32(1, (int64_t[]){4}, (float[]){1, 2, 3, 4});
    Tensor in[2] = {a, b};
    ew_expect_infer_error("Add", in, 2, NULL, ERR_INPUT, "[2,3]");
    ew_expect_infer_error("Mul", in, 2, NULL, ERR_INPUT, "broadcast");
    Tensor c = tt_i32(2, (int64_t[]){2, 3}, (int32_t[]){1, 2, 3, 4, 5, 6});
    Tensor mixed[2] = {a, c};
    ew_expect_infer_error("AddV2", mixed, 2, NULL, ERR_INPUT, "float32 vs int32");
    Tensor ints[2] = {c, c};
    ew_expect_infer_error("RealDiv", ints, 2, NULL, ERR_INPUT, "int32");
    tensor_release(&a); tensor_release(&b); tensor_release(&c);
}

/* ---------------------------------------------------------------- AddN, BiasAdd, Prelu */

static void test_add_n(void **state) {
    (void)state;
    int64_t d[2] = {2, 2};
    Tensor x[3] = {tt_f32(2, d, (float[]){1, 2, 3, 4}), tt_f32(2, d, (float[]){10, 20, 30, 40}),
                   tt_f32(2, d, (float[]){-0.5f, 0.25f, 100, -4})};
    Tensor y = ew_eval("AddN", x, 3, NULL);
    ew_expect(&y, DT_FLOAT, 2, d, (double[]){10.5, 22.25, 133, 40}, 0);
    tensor_release(&y);
    y = ew_eval("AddN", x, 1, NULL);
    ew_expect(&y, DT_FLOAT, 2, d, (double[]){1, 2, 3, 4}, 0);
    tensor_release(&y);
    Tensor bad[2] = {x[0], tt_f32(1, (int64_t[]){4}, (float[]){1, 2, 3, 4})};
    ew_expect_infer_error("AddN", bad, 2, NULL, ERR_INPUT, "shape");
    tensor_release(&bad[1]);
    for (int k = 0; k < 3; k++) tensor_release(&x[k]);

    Tensor xi[2] = {tt_i32(1, (int64_t[]){2}, (int32_t[]){INT32_MAX, 5}), tt_i32(1, (int64_t[]){2}, (int32_t[]){1, -9})};
    y = ew_eval("AddN", xi, 2, NULL);
    ew_expect_i64(&y, DT_INT32, 1, (int64_t[]){2}, (int64_t[]){INT32_MIN, -4});
    tensor_release(&y);
    tensor_release(&xi[0]); tensor_release(&xi[1]);

    /* bfloat16: 1 + 2^-8 + 2^-40 is just above the tie between 1 and 1 + 2^-7, so it must
       round up; rounding through float first would land on the tie and give 1 */
    int64_t one[1] = {1};
    Tensor bx[3] = {ew_make(DT_BFLOAT16, 1, one, (double[]){1}), ew_make(DT_BFLOAT16, 1, one, (double[]){1.0 / 256}),
                    ew_make(DT_BFLOAT16, 1, one, (double[]){ldexp(1, -40)})};
    y = ew_eval("AddN", bx, 3, NULL);
    ew_expect(&y, DT_BFLOAT16, 1, one, (double[]){1 + 1.0 / 128}, 0);
    tensor_release(&y);
    for (int k = 0; k < 3; k++) tensor_release(&bx[k]);
}

static void set_nchw(Node *n) { Err e; CHECK_OK(node_set_attr_s(n, "data_format", "NCHW", &e), &e); }
static void set_bad_format(Node *n) { Err e; CHECK_OK(node_set_attr_s(n, "data_format", "HWCN", &e), &e); }

static void test_bias_add(void **state) {
    (void)state;
    uint32_t seed = 3;
    int64_t nhwc[4] = {2, 2, 2, 3}, nchw[4] = {2, 3, 2, 2};
    Tensor x = random_f32(4, nhwc, &seed, false);
    Tensor bias = tt_f32(1, (int64_t[]){3}, (float[]){100, 200, 300});
    Tensor in[2] = {x, bias};
    Tensor y = ew_eval("BiasAdd", in, 2, NULL);
    double want[24];
    for (int i = 0; i < 24; i++) want[i] = tensor_get(&x, i) + 100 * (i % 3 + 1); /* channel = last index */
    ew_expect(&y, DT_FLOAT, 4, nhwc, want, 0);
    tensor_release(&y);
    tensor_release(&x);

    x = random_f32(4, nchw, &seed, false);
    in[0] = x;
    y = ew_eval("BiasAdd", in, 2, set_nchw);
    for (int i = 0; i < 24; i++) want[i] = tensor_get(&x, i) + 100 * ((i / 4) % 3 + 1); /* channel = dim 1 */
    ew_expect(&y, DT_FLOAT, 4, nchw, want, 0);
    tensor_release(&y);
    ew_expect_infer_error("BiasAdd", in, 2, NULL, ERR_INPUT, "bias length 3"); /* NHWC: last dim is 2 */
    ew_expect_infer_error("BiasAdd", in, 2, set_bad_format, ERR_INPUT, "HWCN");
    tensor_release(&x);

    /* rank 2 (MatMul + bias), NCHW on rank 2 is also the last dim */
    Tensor m = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    in[0] = m;
    y = ew_eval("BiasAdd", in, 2, set_nchw);
    ew_expect(&y, DT_FLOAT, 2, (int64_t[]){2, 3}, (double[]){101, 202, 303, 104, 205, 306}, 0);
    tensor_release(&y);
    tensor_release(&m);
    tensor_release(&bias);
}

static void test_prelu(void **state) {
    (void)state;
    int64_t dx[4] = {1, 2, 2, 3};
    Tensor x = tt_f32(4, dx, (float[]){-1, -2, -3, 0, 5, -6, 7, -8, 9, -0.5f, 0.5f, -4});
    Tensor alpha_c = tt_f32(1, (int64_t[]){3}, (float[]){0.5f, 0.25f, 2});
    Tensor alpha_11c = tt_f32(3, (int64_t[]){1, 1, 3}, (float[]){0.5f, 0.25f, 2});
    double want[12];
    for (int i = 0; i < 12; i++) {
        double v = tensor_get(&x, i), a = tensor_get(&alpha_c, i % 3);
        want[i] = v >= 0 ? v : a * v;
    }
    assert_true(want[0] == -0.5 && want[5] == -12 && want[3] == 0 && want[4] == 5);
    Tensor in[2] = {x, alpha_c};
    Tensor y = ew_eval("Prelu", in, 2, NULL);
    ew_expect(&y, DT_FLOAT, 4, dx, want, 0);
    tensor_release(&y);
    in[1] = alpha_11c;
    y = ew_eval("Prelu", in, 2, NULL);
    ew_expect(&y, DT_FLOAT, 4, dx, want, 0);
    tensor_release(&y);
    Tensor alpha_bad = tt_f32(1, (int64_t[]){2}, (float[]){1, 2});
    in[1] = alpha_bad;
    ew_expect_infer_error("Prelu", in, 2, NULL, ERR_INPUT, "alpha");
    tensor_release(&alpha_bad); tensor_release(&x); tensor_release(&alpha_c); tensor_release(&alpha_11c);
}

/* ---------------------------------------------------------------- Cast */

static int cast_dst, cast_src_attr;
static bool cast_truncate;
static void set_cast_attrs(Node *n) {
    Err e;
    CHECK_OK(node_set_attr_type(n, "DstT", cast_dst, &e), &e);
    if (cast_src_attr != DT_INVALID) CHECK_OK(node_set_attr_type(n, "SrcT", cast_src_attr, &e), &e);
    if (cast_truncate) CHECK_OK(node_set_attr_b(n, "Truncate", true, &e), &e);
}

static Tensor cast_to(const Tensor *x, int dst) {
    cast_dst = dst;
    cast_src_attr = x->dtype;
    cast_truncate = false;
    return ew_eval("Cast", x, 1, set_cast_attrs);
}

static void test_cast_float_to_ints(void **state) {
    (void)state;
    int64_t d[1] = {11};
    Tensor x = tt_f32(1, d, (float[]){2.5f, -1.7f, NAN, 300.0f, -1.5f, 0.0f, 1e10f, -1e10f, 0.99f, INFINITY, -INFINITY});
    struct { int dt; int64_t want[11]; } cases[] = {
        {DT_INT32, {2, -1, 0, 300, -1, 0, INT32_MAX, INT32_MIN, 0, INT32_MAX, INT32_MIN}},
        {DT_INT64, {2, -1, 0, 300, -1, 0, 10000000000LL, -10000000000LL, 0, INT64_MAX, INT64_MIN}},
        {DT_UINT8, {2, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0}}, /* clamped, not wrapped */
        {DT_INT8, {2, -1, 0, 127, -1, 0, 127, -128, 0, 127, -128}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Tensor y = cast_to(&x, cases[k].dt);
        print_message("  float32 -> %s\n", dtype_name(cases[k].dt));
        ew_expect_i64(&y, cases[k].dt, 1, d, cases[k].want);
        tensor_release(&y);
    }
    Tensor y = cast_to(&x, DT_BOOL);
    ew_expect(&y, DT_BOOL, 1, d, (double[]){1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1}, 0); /* NaN != 0 */
    tensor_release(&y);
    /* 9.2233720368547758e18 = 2^63 exactly does not fit int64: clamps */
    Tensor big = tt_f32(1, (int64_t[]){2}, (float[]){9.2233720368547758e18f, -9.2233720368547758e18f});
    y = cast_to(&big, DT_INT64);
    ew_expect_i64(&y, DT_INT64, 1, (int64_t[]){2}, (int64_t[]){INT64_MAX, INT64_MIN});
    tensor_release(&y);
    tensor_release(&big);
    tensor_release(&x);
}

static void test_cast_float_rounding(void **state) {
    (void)state;
    int64_t d[1] = {7};
    double vals[7] = {2.5, 1 + 1.0 / 2048, 1 + 3.0 / 2048, 65519, 65520, -1 - 1.0 / 256, 1e-8};
    Tensor x = ew_make(DT_FLOAT, 1, d, vals);
    Tensor h = cast_to(&x, DT_HALF);
    /* ties to even; 65519 rounds to 65504 (max half), 65520 overflows; 1e-8 underflows to 0 */
    ew_expect(&h, DT_HALF, 1, d, (double[]){2.5, 1, 1 + 1.0 / 512, 65504, INFINITY, -1 - 1.0 / 256, 0}, 0);
    Tensor back = cast_to(&h, DT_FLOAT);
    ew_expect(&back, DT_FLOAT, 1, d, (double[]){2.5, 1, 1 + 1.0 / 512, 65504, INFINITY, -1 - 1.0 / 256, 0}, 0);
    Tensor b = cast_to(&x, DT_BFLOAT16);
    /* bfloat16 keeps 8 significant bits: -1 - 2^-8 is a tie -> -1; 65519 -> 65536 */
    ew_expect(&b, DT_BFLOAT16, 1, d, (double[]){2.5, 1, 1, 65536, 65536, -1, 1.0000000000e-8}, 4e-3);
    tensor_release(&h); tensor_release(&back); tensor_release(&b);

    /* Truncate=true rounds toward zero when narrowing */
    cast_dst = DT_BFLOAT16;
    cast_src_attr = DT_FLOAT;
    cast_truncate = true;
    /* 1 + 3*2^-8 lies between bfloat16 1 + 2^-7 and 1 + 2^-6; 1 + 7*2^-12 between float16
       1 + 2^-10 and 1 + 2^-9 (nearest would round both up) */
    Tensor t = tt_f32(1, (int64_t[]){4}, (float[]){1.01171875f, -1.01171875f, 3e38f, 1.001708984375f});
    Tensor tb = ew_eval("Cast", &t, 1, set_cast_attrs);
    ew_expect(&tb, DT_BFLOAT16, 1, (int64_t[]){4}, (double[]){1.0078125, -1.0078125, bfloat16_to_float(0x7f61), 1}, 0);
    assert_true(bfloat16_to_float(0x7f61) <= 3e38f && bfloat16_to_float(0x7f62) > 3e38f);
    cast_dst = DT_HALF;
    Tensor th = ew_eval("Cast", &t, 1, set_cast_attrs);
    ew_expect(&th, DT_HALF, 1, (int64_t[]){4}, (double[]){1.01171875, -1.01171875, 65504, 1.0009765625}, 0);
    tensor_release(&t); tensor_release(&tb); tensor_release(&th);
    tensor_release(&x);
}

static void test_cast_integers_and_bool(void **state) {
    (void)state;
    int64_t d[1] = {5};
    Tensor x = tt_i32(1, d, (int32_t[]){300, -1, 200, 16777217, 0});
    struct { int dt; int64_t want[5]; } cases[] = {
        {DT_UINT8, {44, 255, 200, 1, 0}},    /* wrap modulo 256 */
        {DT_INT8, {44, -1, -56, 1, 0}},
        {DT_INT64, {300, -1, 200, 16777217, 0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        Tensor y = cast_to(&x, cases[k].dt);
        ew_expect_i64(&y, cases[k].dt, 1, d, cases[k].want);
        tensor_release(&y);
    }
    Tensor f = cast_to(&x, DT_FLOAT);
    ew_expect(&f, DT_FLOAT, 1, d, (double[]){300, -1, 200, 16777216, 0}, 0); /* 2^24 + 1 -> nearest even */
    Tensor h = cast_to(&x, DT_HALF);
    ew_expect(&h, DT_HALF, 1, d, (double[]){300, -1, 200, INFINITY, 0}, 0);
    Tensor bl = cast_to(&x, DT_BOOL);
    ew_expect(&bl, DT_BOOL, 1, d, (double[]){1, 1, 1, 1, 0}, 0);
    Tensor bf = cast_to(&bl, DT_FLOAT);
    ew_expect(&bf, DT_FLOAT, 1, d, (double[]){1, 1, 1, 1, 0}, 0);
    Tensor bi = cast_to(&bl, DT_INT32);
    ew_expect_i64(&bi, DT_INT32, 1, d, (int64_t[]){1, 1, 1, 1, 0});
    tensor_release(&f); tensor_release(&h); tensor_release(&bl); tensor_release(&bf); tensor_release(&bi);
    tensor_release(&x);

    Tensor u = ew_make(DT_UINT8, 1, (int64_t[]){2}, (double[]){255, 7});
    Tensor ui = cast_to(&u, DT_INT32); /* zero-extended, not sign-extended */
    ew_expect_i64(&ui, DT_INT32, 1, (int64_t[]){2}, (int64_t[]){255, 7});
    Tensor s8 = cast_to(&u, DT_INT8);
    ew_expect_i64(&s8, DT_INT8, 1, (int64_t[]){2}, (int64_t[]){-1, 7});
    tensor_release(&u); tensor_release(&ui); tensor_release(&s8);

    Tensor big = ew_i64(1, (int64_t[]){2}, (int64_t[]){4294967301LL, -4294967296LL});
    Tensor b32 = cast_to(&big, DT_INT32);
    ew_expect_i64(&b32, DT_INT32, 1, (int64_t[]){2}, (int64_t[]){5, 0});
    tensor_release(&big); tensor_release(&b32);

    Tensor bh = ew_make(DT_BFLOAT16, 1, (int64_t[]){2}, (double[]){-3.75, 129});
    Tensor bhi = cast_to(&bh, DT_INT32);
    ew_expect_i64(&bhi, DT_INT32, 1, (int64_t[]){2}, (int64_t[]){-3, 129}); /* both exact in bfloat16 */
    tensor_release(&bh); tensor_release(&bhi);
}

static void set_dst_only_f32(Node *n) { Err e; CHECK_OK(node_set_attr_type(n, "DstT", DT_FLOAT, &e), &e); }
static void set_src_mismatch(Node *n) {
    Err e;
    CHECK_OK(node_set_attr_type(n, "DstT", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_type(n, "SrcT", DT_INT64, &e), &e);
}
static void set_dst_string(Node *n) { Err e; CHECK_OK(node_set_attr_type(n, "DstT", DT_STRING, &e), &e); }

static void test_cast_errors(void **state) {
    (void)state;
    Tensor x = tt_i32(1, (int64_t[]){2}, (int32_t[]){1, 2});
    ew_expect_infer_error("Cast", &x, 1, NULL, ERR_INPUT, "DstT");
    ew_expect_infer_error("Cast", &x, 1, set_src_mismatch, ERR_INPUT, "int64");
    ew_expect_infer_error("Cast", &x, 1, set_dst_string, ERR_INPUT, "string");
    Tensor y = ew_eval("Cast", &x, 1, set_dst_only_f32); /* SrcT is optional */
    ew_expect(&y, DT_FLOAT, 1, (int64_t[]){2}, (double[]){1, 2}, 0);
    tensor_release(&y);
    tensor_release(&x);
}

/* ---------------------------------------------------------------- folding and FLOPs */

/* The graph layer folds small integer computations through ref_eval_node: Shape-like math
   (int32 Mul, Cast, Sum) must produce known values during inference. */
static void test_fold_integer_shape_math(void **state) {
    (void)state;
    Graph *g = graph_new();
    int dims = ew_const(g, "dims", tt_i32(1, (int64_t[]){2}, (int32_t[]){3, 4}));
    int two = ew_const(g, "two", ew_scalar_i32(2));
    int mul = ew_op(g, "mul", "Mul", (int[]){dims, two}, 2);
    int cast = ew_op(g, "cast", "Cast", (int[]){mul}, 1);
    Err e;
    CHECK_OK(node_set_attr_type(graph_node(g, cast), "DstT", DT_INT64, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    const Tensor *k = &graph_node(g, mul)->outputs[0].known;
    assert_true(tensor_has_data(k));
    ew_expect_i64(k, DT_INT32, 1, (int64_t[]){2}, (int64_t[]){6, 8});
    k = &graph_node(g, cast)->outputs[0].known;
    assert_true(tensor_has_data(k));
    ew_expect_i64(k, DT_INT64, 1, (int64_t[]){2}, (int64_t[]){6, 8});
    graph_free(g);
}

static void test_flops(void **state) {
    (void)state;
    Graph *g = graph_new();
    int a = ew_placeholder(g, "a", DT_FLOAT, 3, (int64_t[]){2, 1, 3});
    int b = ew_placeholder(g, "b", DT_FLOAT, 2, (int64_t[]){4, 1});
    int add = ew_op(g, "add", "Add", (int[]){a, b}, 2);
    int ex = ew_op(g, "exp", "Exp", (int[]){add}, 1);
    int an = ew_op(g, "addn", "AddN", (int[]){ex, ex, add}, 3);
    int bias = ew_placeholder(g, "bias", DT_FLOAT, 1, (int64_t[]){3});
    int ba = ew_op(g, "ba", "BiasAdd", (int[]){an, bias}, 2);
    int cast = ew_op(g, "cast", "Cast", (int[]){ba}, 1);
    Err e;
    CHECK_OK(node_set_attr_type(graph_node(g, cast), "DstT", DT_HALF, &e), &e);
    CHECK_OK(ew_infer(g, &e), &e);
    assert_int_equal(node_flops(g, graph_node(g, add)), 24);
    assert_int_equal(node_flops(g, graph_node(g, ex)), 24);
    assert_int_equal(node_flops(g, graph_node(g, an)), 48);
    assert_int_equal(node_flops(g, graph_node(g, ba)), 24);
    assert_int_equal(node_flops(g, graph_node(g, cast)), 0);
    assert_int_equal(graph_node(g, cast)->outputs[0].dtype, DT_HALF);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_float32),
        cmocka_unit_test(test_unary_half_bfloat16),
        cmocka_unit_test(test_unary_edge_values),
        cmocka_unit_test(test_leaky_relu_alpha),
        cmocka_unit_test(test_unary_integers),
        cmocka_unit_test(test_unary_errors),
        cmocka_unit_test(test_binary_broadcast_2x1x3_with_4x1),
        cmocka_unit_test(test_binary_scalars_and_size1_dims),
        cmocka_unit_test(test_binary_float_details),
        cmocka_unit_test(test_binary_integers),
        cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_add_n),
        cmocka_unit_test(test_bias_add),
        cmocka_unit_test(test_prelu),
        cmocka_unit_test(test_cast_float_to_ints),
        cmocka_unit_test(test_cast_float_rounding),
        cmocka_unit_test(test_cast_integers_and_bool),
        cmocka_unit_test(test_cast_errors),
        cmocka_unit_test(test_fold_integer_shape_math),
        cmocka_unit_test(test_flops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
