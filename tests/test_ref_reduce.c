/* test_ref_reduce.c - shape inference, FLOPs and reference kernels of the reductions (Mean, Sum,
 * Max, Min, Prod) and ArgMax. Expected values come from a naive reduction written here (explicit
 * unravelling of every input index) and from hand-worked cases. */
#include "test_ref_ew.h"

static const char *const reduce_ops[] = {"Sum", "Mean", "Max", "Min", "Prod"};

static bool g_keep_dims;
static void set_keep_dims(Node *n) { Err e; CHECK_OK(node_set_attr_b(n, "keep_dims", g_keep_dims, &e), &e); }

/* naive reduction: every input element is added to the output slot found by dropping the
   reduced coordinates; out has the shape without reduced dims (keep_dims only adds 1s) */
static void naive_reduce(const char *op, const Tensor *x, const bool *reduced, double *out, int64_t *n_out) {
    const Shape *s = &x->shape;
    int64_t count = 1, outn = 1;
    for (int d = 0; d < s->rank; d++) {
        if (reduced[d]) count *= s->dim[d];
        else outn *= s->dim[d];
    }
    double init = !strcmp(op, "Prod") ? 1 : !strcmp(op, "Max") ? -INFINITY : !strcmp(op, "Min") ? INFINITY : 0;
    for (int64_t o = 0; o < outn; o++) out[o] = init;
    for (int64_t i = 0; i < shape_numel(s); i++) {
        int64_t idx[MAX_RANK], rest = i, o = 0;
        for (int d = s->rank - 1; d >= 0; d--) { idx[d] = rest % s->dim[d]; rest /= s->dim[d]; }
        for (int d = 0; d < s->rank; d++)
            if (!reduced[d]) o = o * s->dim[d] + idx[d];
        double v = tensor_get(x, i);
        if (!strcmp(op, "Prod")) out[o] *= v;
        else if (!strcmp(op, "Max")) out[o] = v > out[o] ? v : out[o];
        else if (!strcmp(op, "Min")) out[o] = v < out[o] ? v : out[o];
        else out[o] += v;
    }
    if (!strcmp(op, "Mean"))
        for (int64_t o = 0; o < outn; o++) out[o] = count ? out[o] / (double)count : NAN;
    *n_out = outn;
}

/* runs op(x, axes) with keep_dims and checks value, shape (both keep_dims settings) and dtype */
static void check_reduce(const char *op, const Tensor *x, const int32_t *axes, int n_axes, bool axes_scalar, bool keep) {
    bool reduced[MAX_RANK] = {false};
    for (int i = 0; i < n_axes; i++) reduced[axes[i] < 0 ? axes[i] + x->shape.rank : axes[i]] = true;
    Tensor in[2] = {*x, axes_scalar ? ew_scalar_i32(axes[0]) : tt_i32(1, (int64_t[]){n_axes}, axes)};
    g_keep_dims = keep;
    Tensor y = ew_eval(op, in, 2, set_keep_dims);
    double want[4096];
    int64_t n_out;
    naive_reduce(op, x, reduced, want, &n_out);
    if (x->dtype == DT_FLOAT)
        for (int64_t i = 0; i < n_out; i++) want[i] = (float)want[i];
    Shape ws = {.rank = 0};
    for (int d = 0; d < x->shape.rank; d++) {
        if (!reduced[d]) ws.dim[ws.rank++] = x->shape.dim[d];
        else if (keep) ws.dim[ws.rank++] = 1;
    }
    ew_expect(&y, x->dtype, ws.rank, ws.dim, want, 1e-6);
    tensor_release(&y);
    tensor_release(&in[1]);
}

static void test_reduce_every_axis_set(void **state) {
    (void)state;
    /* every subset of the axes of a [2,3,1,4] tensor, each op, keep_dims both ways */
    int64_t dims[4] = {2, 3, 1, 4};
    uint32_t seed = 11;
    double vals[24];
    for (int i = 0; i < 24; i++) vals[i] = ew_val(&seed);
    Tensor x = ew_make(DT_FLOAT, 4, dims, vals);
    for (int mask = 0; mask < 16; mask++) {
        int32_t axes[4];
        int n = 0;
        for (int d = 0; d < 4; d++)
            if (mask & (1 << d)) axes[n++] = d;
        for (size_t k = 0; k < sizeof reduce_ops / sizeof reduce_ops[0]; k++) {
            print_message("  %s mask %d\n", reduce_ops[k], mask);
            check_reduce(reduce_ops[k], &x, axes, n, false, false);
            check_reduce(reduce_ops[k], &x, axes, n, false, true);
        }
    }
    tensor_release(&x);
}

static void test_reduce_hand_values(void **state) {
    (void)state;
    /* [[1,2,3],[4,5,6]] */
    Tensor x = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    struct { const char *op; int32_t axis; int rank; int64_t dims[2]; double want[3]; } cases[] = {
        {"Sum", 0, 1, {3}, {5, 7, 9}},
        {"Sum", -1, 1, {2}, {6, 15}},
        {"Mean", 1, 1, {2}, {2, 5}},
        {"Mean", -2, 1, {3}, {2.5, 3.5, 4.5}},
        {"Max", 1, 1, {2}, {3, 6}},
        {"Min", 0, 1, {3}, {1, 2, 3}},
        {"Prod", 1, 1, {2}, {6, 120}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Tensor in[2] = {x, ew_scalar_i32(cases[c].axis)};
        Tensor y = ew_eval(cases[c].op, in, 2, NULL);
        ew_expect(&y, DT_FLOAT, cases[c].rank, cases[c].dims, cases[c].want, 0);
        tensor_release(&y);
        tensor_release(&in[1]);
    }
    /* all axes, negative and unordered, keep_dims */
    int32_t all[2] = {-1, 0};
    Tensor in[2] = {x, tt_i32(1, (int64_t[]){2}, all)};
    g_keep_dims = true;
    Tensor y = ew_eval("Sum", in, 2, set_keep_dims);
    ew_expect(&y, DT_FLOAT, 2, (int64_t[]){1, 1}, (double[]){21}, 0);
    tensor_release(&y);
    g_keep_dims = false;
    y = ew_eval("Mean", in, 2, set_keep_dims);
    ew_expect(&y, DT_FLOAT, 0, NULL, (double[]){3.5}, 0);
    tensor_release(&y);
    tensor_release(&in[1]);
    /* int64 axes, scalar axes tensor */
    in[1] = ew_i64(0, NULL, (int64_t[]){1});
    y = ew_eval("Max", in, 2, NULL);
    ew_expect(&y, DT_FLOAT, 1, (int64_t[]){2}, (double[]){3, 6}, 0);
    tensor_release(&y);
    tensor_release(&in[1]);
    /* empty axes list: nothing reduced, a copy */
    in[1] = ew_make(DT_INT32, 1, (int64_t[]){0}, NULL);
    y = ew_eval("Sum", in, 2, NULL);
    ew_expect(&y, DT_FLOAT, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}, 0);
    tensor_release(&y);
    tensor_release(&in[1]);
    tensor_release(&x);

    /* scalar input, empty axes */
    Tensor s = tt_f32(0, NULL, (float[]){-2.5f});
    Tensor sin[2] = {s, ew_make(DT_INT32, 1, (int64_t[]){0}, NULL)};
    y = ew_eval("Prod", sin, 2, NULL);
    ew_expect(&y, DT_FLOAT, 0, NULL, (double[]){-2.5}, 0);
    tensor_release(&y);
    tensor_release(&sin[1]);
    tensor_release(&s);
}

static void test_reduce_nan_and_empty(void **state) {
    (void)state;
    Tensor x = tt_f32(2, (int64_t[]){2, 2}, (float[]){1, NAN, NAN, 3});
    Tensor in[2] = {x, ew_scalar_i32(1)};
    Tensor mx = ew_eval("Max", in, 2, NULL), mn = ew_eval("Min", in, 2, NULL);
    ew_expect(&mx, DT_FLOAT, 1, (int64_t[]){2}, (double[]){NAN, NAN}, 0); /* NaN propagates, wherever it is */
    ew_expect(&mn, DT_FLOAT, 1, (int64_t[]){2}, (double[]){NAN, NAN}, 0);
    tensor_release(&mx); tensor_release(&mn); tensor_release(&in[1]); tensor_release(&x);

    /* reducing a zero-length axis: identities of each reduction */
    Tensor e = ew_make(DT_FLOAT, 2, (int64_t[]){2, 0}, NULL);
    Tensor ein[2] = {e, ew_scalar_i32(1)};
    struct { const char *op; double want; } cases[] = {
        {"Sum", 0}, {"Prod", 1}, {"Max", -INFINITY}, {"Min", INFINITY}, {"Mean", NAN}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Tensor y = ew_eval(cases[c].op, ein, 2, NULL);
        ew_expect(&y, DT_FLOAT, 1, (int64_t[]){2}, (double[]){cases[c].want, cases[c].want}, 0);
        tensor_release(&y);
    }
    /* reducing the non-empty axis of an empty tensor gives an empty result */
    tensor_release(&ein[1]);
    ein[1] = ew_scalar_i32(0);
    Tensor y = ew_eval("Sum", ein, 2, NULL);
    ew_expect(&y, DT_FLOAT, 1, (int64_t[]){0}, NULL, 0);
    tensor_release(&y);
    tensor_release(&ein[1]);
    tensor_release(&e);

    Tensor ei = ew_make(DT_INT32, 1, (int64_t[]){0}, NULL);
    Tensor iin[2] = {ei, ew_scalar_i32(0)};
    Tensor imax = ew_eval("Max", iin, 2, NULL), imin = ew_eval("Min", iin, 2, NULL), imean = ew_eval("Mean", iin, 2, NULL);
    ew_expect_i64(&imax, DT_INT32, 0, NULL, (int64_t[]){INT32_MIN});
    ew_expect_i64(&imin, DT_INT32, 0, NULL, (int64_t[]){INT32_MAX});
    ew_expect_i64(&imean, DT_INT32, 0, NULL, (int64_t[]){0});
    tensor_release(&imax); tensor_release(&imin); tensor_release(&imean);
    tensor_release(&iin[1]); tensor_release(&ei);
}

static void test_reduce_integers(void **state) {
    (void)state;
    /* [[1,2],[-1,-2],[INT32_MAX,1],[7,-8]] reduced over axis 1 */
    Tensor x = tt_i32(2, (int64_t[]){4, 2}, (int32_t[]){1, 2, -1, -2, INT32_MAX, 1, 7, -8});
    Tensor in[2] = {x, ew_scalar_i32(-1)};
    struct { const char *op; int64_t want[4]; } cases[] = {
        {"Sum", {3, -3, INT32_MIN, -1}},  /* INT32_MAX + 1 wraps */
        {"Mean", {1, -1, INT32_MIN / 2, 0}}, /* 1.5 -> 1, -1.5 -> -1 (toward zero), wrapped sum / 2, -0.5 -> 0 */
        {"Max", {2, -1, INT32_MAX, 7}},
        {"Min", {1, -2, 1, -8}},
        {"Prod", {2, 2, INT32_MAX, -56}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Tensor y = ew_eval(cases[c].op, in, 2, NULL);
        print_message("  %s int32\n", cases[c].op);
        ew_expect_i64(&y, DT_INT32, 1, (int64_t[]){4}, cases[c].want);
        tensor_release(&y);
    }
    tensor_release(&in[1]);
    /* over axis 0 with keep_dims */
    in[1] = ew_scalar_i32(0);
    g_keep_dims = true;
    Tensor y = ew_eval("Sum", in, 2, set_keep_dims);
    ew_expect_i64(&y, DT_INT32, 2, (int64_t[]){1, 2}, (int64_t[]){(int64_t)INT32_MAX + 7 - 4294967296LL, -7});
    tensor_release(&y);
    tensor_release(&in[1]);
    tensor_release(&x);

    /* int64 Prod overflow wraps; Mean of int64 */
    Tensor x64 = ew_i64(1, (int64_t[]){3}, (int64_t[]){INT64_MAX, 2, 3});
    Tensor in64[2] = {x64, tt_i32(1, (int64_t[]){1}, (int32_t[]){0})};
    y = ew_eval("Prod", in64, 2, NULL);
    ew_expect_i64(&y, DT_INT64, 0, NULL, (int64_t[]){-6}); /* (2^63-1)*6 = -6 mod 2^64 */
    tensor_release(&y);
    tensor_release(&in64[1]);
    tensor_release(&x64);
}

static void test_reduce_half_mean(void **state) {
    (void)state;
    /* 2048 + 1 + 1 + ... would lose the ones in float16 arithmetic; double accumulation keeps
       them: mean of {2048, 1, 1, 2} = 513 */
    Tensor x = ew_make(DT_HALF, 1, (int64_t[]){4}, (double[]){2048, 1, 1, 2});
    Tensor in[2] = {x, ew_scalar_i32(0)};
    Tensor y = ew_eval("Mean", in, 2, NULL);
    ew_expect(&y, DT_HALF, 0, NULL, (double[]){513}, 0);
    tensor_release(&y);
    y = ew_eval("Sum", in, 2, NULL);
    ew_expect(&y, DT_HALF, 0, NULL, (double[]){2052}, 0);
    tensor_release(&y);
    tensor_release(&in[1]);
    tensor_release(&x);
}

static void test_reduce_errors(void **state) {
    (void)state;
    Tensor x = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    Tensor in[2] = {x, tt_i32(1, (int64_t[]){2}, (int32_t[]){1, -1})};
    ew_expect_infer_error("Sum", in, 2, NULL, ERR_INPUT, "twice");
    tensor_release(&in[1]);
    in[1] = ew_scalar_i32(2);
    ew_expect_infer_error("Mean", in, 2, NULL, ERR_INPUT, "out of range");
    tensor_release(&in[1]);
    in[1] = ew_scalar_i32(-3);
    ew_expect_infer_error("Max", in, 2, NULL, ERR_INPUT, "out of range");
    tensor_release(&in[1]);
    in[1] = tt_f32(0, NULL, (float[]){1});
    ew_expect_infer_error("Sum", in, 2, NULL, ERR_INPUT, "float32");
    tensor_release(&in[1]);
    tensor_release(&x);

    Tensor b = ew_make(DT_BOOL, 1, (int64_t[]){2}, (double[]){1, 0});
    Tensor bin[2] = {b, ew_scalar_i32(0)};
    ew_expect_infer_error("Sum", bin, 2, NULL, ERR_INPUT, "bool");
    tensor_release(&bin[1]);
    tensor_release(&b);

    /* axes computed at run time cannot be inferred */
    Graph *g = graph_new();
    int xi = ew_const(g, "x", tt_f32(1, (int64_t[]){2}, (float[]){1, 2}));
    int ai = ew_placeholder(g, "axes", DT_INT32, 1, (int64_t[]){1});
    ew_op(g, "sum", "Sum", (int[]){xi, ai}, 2);
    Err e;
    assert_int_equal(ew_infer(g, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "sum"));
    assert_non_null(strstr(e.msg, "known"));
    graph_free(g);
}

static void test_reduce_flops_and_fold(void **state) {
    (void)state;
    Graph *g = graph_new();
    int x = ew_placeholder(g, "x", DT_FLOAT, 3, (int64_t[]){2, 3, 4});
    int ax = ew_const(g, "axes", tt_i32(1, (int64_t[]){1}, (int32_t[]){1}));
    int s = ew_op(g, "sum", "Sum", (int[]){x, ax}, 2);
    int am = ew_op(g, "argmax", "ArgMax", (int[]){x, ax}, 2);
    /* a folded shape product: Prod of an int32 shape vector */
    int shp = ew_const(g, "shape", tt_i32(1, (int64_t[]){3}, (int32_t[]){2, 3, 4}));
    int zero = ew_const(g, "zero", ew_scalar_i32(0));
    int prod = ew_op(g, "prod", "Prod", (int[]){shp, zero}, 2);
    Err e;
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_int_equal(node_flops(g, graph_node(g, s)), 24);
    assert_int_equal(node_flops(g, graph_node(g, am)), 24);
    const Tensor *k = &graph_node(g, prod)->outputs[0].known;
    assert_true(tensor_has_data(k));
    ew_expect_i64(k, DT_INT32, 0, NULL, (int64_t[]){24});
    graph_free(g);
}

/* ---------------------------------------------------------------- ArgMax */

static int g_out_type;
static void set_output_type(Node *n) { Err e; CHECK_OK(node_set_attr_type(n, "output_type", g_out_type, &e), &e); }

/* naive ArgMax over axis (ties: first index) */
static void naive_argmax(const Tensor *x, int axis, int64_t *out) {
    const Shape *s = &x->shape;
    int64_t outer = 1, inner = 1, len = s->dim[axis];
    for (int d = 0; d < axis; d++) outer *= s->dim[d];
    for (int d = axis + 1; d < s->rank; d++) inner *= s->dim[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            for (int64_t k = 1; k < len; k++)
                if (tensor_get(x, (o * len + k) * inner + i) > tensor_get(x, (o * len + best) * inner + i)) best = k;
            out[o * inner + i] = best;
        }
}

static void test_argmax(void **state) {
    (void)state;
    /* ties go to the smallest index */
    Tensor x = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 5, 5, 7, 7, 2});
    Tensor in[2] = {x, ew_scalar_i32(1)};
    Tensor y = ew_eval("ArgMax", in, 2, NULL);
    ew_expect_i64(&y, DT_INT64, 1, (int64_t[]){2}, (int64_t[]){1, 0});
    tensor_release(&y);
    tensor_release(&in[1]);
    in[1] = ew_scalar_i32(-2);
    g_out_type = DT_INT32;
    y = ew_eval("ArgMax", in, 2, set_output_type);
    ew_expect_i64(&y, DT_INT32, 1, (int64_t[]){3}, (int64_t[]){1, 1, 0});
    tensor_release(&y);
    tensor_release(&in[1]);
    tensor_release(&x);

    /* NaN counts as the maximum: the first NaN wins */
    Tensor xn = tt_f32(2, (int64_t[]){2, 4}, (float[]){1, NAN, 3, NAN, -INFINITY, -INFINITY, -1, -1});
    Tensor nin[2] = {xn, tt_i32(1, (int64_t[]){1}, (int32_t[]){1})};
    y = ew_eval("ArgMax", nin, 2, NULL);
    ew_expect_i64(&y, DT_INT64, 1, (int64_t[]){2}, (int64_t[]){1, 2});
    tensor_release(&y);
    tensor_release(&nin[1]);
    tensor_release(&xn);

    /* every axis of a 3-D tensor of small integers (many ties), float and int32 */
    int64_t dims[3] = {3, 4, 5};
    uint32_t seed = 5;
    double vals[60];
    for (int i = 0; i < 60; i++) vals[i] = floor(ew_val(&seed));
    int dts[2] = {DT_FLOAT, DT_INT32};
    for (int t = 0; t < 2; t++) {
        Tensor x3 = ew_make(dts[t], 3, dims, vals);
        for (int axis = -3; axis < 3; axis++) {
            int a = axis < 0 ? axis + 3 : axis;
            Tensor ain[2] = {x3, ew_i64(0, NULL, (int64_t[]){axis})};
            Tensor r = ew_eval("ArgMax", ain, 2, NULL);
            int64_t want[60];
            naive_argmax(&x3, a, want);
            int64_t odims[2];
            for (int d = 0, j = 0; d < 3; d++)
                if (d != a) odims[j++] = dims[d];
            print_message("  ArgMax %s axis %d\n", dtype_name(dts[t]), axis);
            ew_expect_i64(&r, DT_INT64, 2, odims, want);
            tensor_release(&r);
            tensor_release(&ain[1]);
        }
        tensor_release(&x3);
    }
}

static void test_argmax_errors(void **state) {
    (void)state;
    Tensor x = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    Tensor in[2] = {x, ew_scalar_i32(2)};
    ew_expect_infer_error("ArgMax", in, 2, NULL, ERR_INPUT, "out of range");
    tensor_release(&in[1]);
    in[1] = ew_scalar_i32(0);
    g_out_type = DT_FLOAT;
    ew_expect_infer_error("ArgMax", in, 2, set_output_type, ERR_INPUT, "output_type");
    tensor_release(&in[1]);
    in[1] = tt_i32(1, (int64_t[]){2}, (int32_t[]){0, 1});
    ew_expect_infer_error("ArgMax", in, 2, NULL, ERR_INPUT, "single");
    tensor_release(&in[1]);
    tensor_release(&x);

    Tensor e = ew_make(DT_FLOAT, 2, (int64_t[]){2, 0}, NULL);
    Tensor ein[2] = {e, ew_scalar_i32(1)};
    ew_expect_infer_error("ArgMax", ein, 2, NULL, ERR_INPUT, "size 0");
    tensor_release(&ein[1]);
    tensor_release(&e);

    Tensor s = tt_f32(0, NULL, (float[]){1});
    Tensor sin[2] = {s, ew_scalar_i32(0)};
    ew_expect_infer_error("ArgMax", sin, 2, NULL, ERR_INPUT, "1-D");
    tensor_release(&sin[1]);
    tensor_release(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_every_axis_set),
        cmocka_unit_test(test_reduce_hand_values),
        cmocka_unit_test(test_reduce_nan_and_empty),
        cmocka_unit_test(test_reduce_integers),
        cmocka_unit_test(test_reduce_half_mean),
        cmocka_unit_test(test_reduce_errors),
        cmocka_unit_test(test_reduce_flops_and_fold),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_argmax_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
