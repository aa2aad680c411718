/* test_hostile.c - regression tests for issue 11 (hostile and unusual input): each test is a
 * tiny crafted graph or file that once gave a wrong result, a hang, unbounded memory or an
 * inconsistent exit code, checked through the library paths the CLI uses. */
#include "hostile.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "graph/mem_budget.h"
#include "graph/nn_attrs.h"
#include "io/npy.h"
#include "rewrite/pipeline.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- item 5: pooling windows of 2^62 and 2^30 ---- */

static Pb pool_graph(const char *op, int64_t kh, int64_t kw, int64_t sw) {
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 4, (int64_t[]){1, 4, 4, 2});
    Pb n = pb_node("p", op, (const char *[]){"x"}, 1);
    pb_attr(&n, "T", pb_a_type(DT_FLOAT));
    pb_attr(&n, "ksize", pb_a_ints(4, (int64_t[]){1, kh, kw, 1}));
    pb_attr(&n, "strides", pb_a_ints(4, (int64_t[]){1, 1, sw, 1}));
    pb_attr(&n, "padding", pb_a_s("SAME"));
    pb_add_node(&g, &n);
    return g;
}

static void test_pool_window_2_62_refused(void **state) {
    (void)state;
    const char *ops[2] = {"MaxPool", "AvgPool"};
    for (int o = 0; o < 2; o++) {
        Pb g = pool_graph(ops[o], (int64_t)1 << 62, (int64_t)1 << 62, 1);
        Err err = {0};
        Graph *gr = hx_load(&g, &err);
        assert_null(gr);
        assert_int_equal(err.code, ERR_INPUT);
        assert_non_null(strstr(err.msg, "ksize"));
    }
}

static void test_pool_window_2_31_bounded(void **state) {
    (void)state;
    const char *ops[2] = {"MaxPool", "AvgPool"};
    for (int o = 0; o < 2; o++) {
        Pb g = pool_graph(ops[o], INT32_MAX, INT32_MAX, 2);
        Err err = {0};
        Graph *gr = hx_load(&g, &err);
        CHECK_OK(gr == NULL, &err);
        double t0 = now_s();
        hx_run_both(gr, 1e-6);
        assert_true(now_s() - t0 < 10.0); /* 2^62 window steps per output before the fix */
        /* the window covers the whole input: every output is the same per channel */
        Tensor x, y;
        CHECK_OK(input_generate(gr, 0, 1, &x, &err), &err);
        RefFeed f = {"x", x};
        CHECK_OK(ref_run(gr, &f, 1, NULL, 0, &y, NULL, &err), &err);
        for (int64_t i = 2; i < tensor_numel(&y); i++) assert_true(tensor_get(&y, i) == tensor_get(&y, i % 2));
        tensor_release(&x);
        tensor_release(&y);
        graph_free(gr);
    }
}

/* ---- item 10: strides and dilations of 2^62 refused everywhere; 2^30 agrees on both ---- */

static Pb conv_graph(const char *attr, int64_t v) {
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 4, (int64_t[]){1, 8, 8, 1});
    Pb w = pb_tensor(DT_FLOAT, 4, (int64_t[]){2, 2, 1, 1}, (float[]){1, 2, 3, 4}, 4, NULL, 0);
    pb_const(&g, "w", &w, DT_FLOAT);
    Pb n = pb_node("c", "Conv2D", (const char *[]){"x", "w"}, 2);
    pb_attr(&n, "T", pb_a_type(DT_FLOAT));
    pb_attr(&n, "strides", pb_a_ints(4, (int64_t[]){1, 1, 1, 1}));
    pb_attr(&n, attr, pb_a_ints(4, (int64_t[]){1, v, v, 1}));
    pb_attr(&n, "padding", pb_a_s("SAME"));
    pb_add_node(&g, &n);
    return g;
}

static void test_conv_huge_strides_dilations(void **state) {
    (void)state;
    const char *attrs[2] = {"strides", "dilations"};
    for (int a = 0; a < 2; a++) {
        Pb g = conv_graph(attrs[a], (int64_t)1 << 62);
        Err err = {0};
        assert_null(hx_load(&g, &err));
        assert_int_equal(err.code, ERR_INPUT);
        assert_non_null(strstr(err.msg, attrs[a]));
        g = conv_graph(attrs[a], (int64_t)1 << 30);
        Graph *gr = hx_load(&g, &err);
        CHECK_OK(gr == NULL, &err);
        double t0 = now_s();
        hx_run_both(gr, 1e-6); /* the fast runtime failed (strides) or hung (dilations) */
        assert_true(now_s() - t0 < 10.0);
        graph_free(gr);
    }
}


/* ---- item 9: names holding newlines and terminal escapes are escaped in messages ---- */

static void test_messages_escape_names(void **state) {
    (void)state;
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 4});
    Pb n = pb_node("bad\n\x1b[31mname", "NoSuchOp\x1b[2J", (const char *[]){"x"}, 1);
    pb_add_node(&g, &n);
    Err err = {0};
    Graph *gr = hx_load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    Tensor out = {0};
    RefFeed f = {"x", tt_f32(2, (int64_t[]){1, 4}, (float[]){1, 2, 3, 4})};
    assert_int_not_equal(ref_run(gr, &f, 1, NULL, 0, &out, NULL, &err), 0);
    for (const char *c = err.msg; *c; c++) assert_false((unsigned char)*c < 0x20 || *c == 0x7f);
    assert_non_null(strstr(err.msg, "bad\\n\\x1b[31mname"));
    PlanOpts po = {.threads = 1};
    assert_null(plan_compile(gr, NULL, 0, &po, &err));
    for (const char *c = err.msg; *c; c++) assert_false((unsigned char)*c < 0x20 || *c == 0x7f);
    tensor_release(&f.value);
    graph_free(gr);
}

/* ---- item 8: /dev/zero, FIFOs and directories are refused, not read until memory runs out ---- */

static void test_non_regular_files_refused(void **state) {
    (void)state;
    Err err = {0};
    assert_null(graphdef_load("/dev/zero", &err));
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "not a regular file"));
    Tensor t;
    assert_int_not_equal(npy_load("/dev/zero", &t, &err), 0);
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "not a regular file"));
    char dir[] = "/tmp/grappo_hostile_XXXXXX", fifo[64];
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(graphdef_load(fifo, &err)); /* no writer: must not block either */
    assert_non_null(strstr(err.msg, "FIFO"));
    assert_null(graphdef_load(dir, &err));
    assert_non_null(strstr(err.msg, "directory"));
    unlink(fifo);
    rmdir(dir);
}

/* runs gr on feed f on the reference runtime (*ref) and the fast runtime, one thread (*fast) */
static void run_both(const Graph *gr, const RefFeed *f, Tensor *ref, Tensor *fast) {
    Err err = {0};
    CHECK_OK(ref_run(gr, f, 1, NULL, 0, ref, NULL, &err), &err);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(gr, NULL, 0, &po, &err);
    CHECK_OK(p == NULL, &err);
    CHECK_OK(plan_run(p, f, 1, fast, NULL, &err), &err);
    plan_free(p);
}

/* ---- fuzz_graph_struct finding: Maximum / Minimum with NaN, fast == ref ---- */

static void test_max_min_nan_fast_equals_ref(void **state) {
    (void)state;
    const char *ops[2] = {"Maximum", "Minimum"};
    for (int o = 0; o < 2; o++) {
        Pb g = {0};
        pb_placeholder(&g, "x", DT_FLOAT, 1, (int64_t[]){4});
        Pb c = pb_tensor(DT_FLOAT, 1, (int64_t[]){4}, (float[]){1, 1, 1, 1}, 4, NULL, 0);
        pb_const(&g, "c", &c, DT_FLOAT);
        Pb n = pb_node("m", ops[o], (const char *[]){"x", "c"}, 2);
        pb_attr(&n, "T", pb_a_type(DT_FLOAT));
        pb_add_node(&g, &n);
        Err err = {0};
        Graph *gr = hx_load(&g, &err);
        CHECK_OK(gr == NULL, &err);
        RefFeed f = {"x", tt_f32(1, (int64_t[]){4}, (float[]){NAN, 2, -3, NAN})};
        Tensor a = {0}, b = {0};
        run_both(gr, &f, &a, &b);
        assert_true(isnan(tensor_get(&a, 0)) && isnan(tensor_get(&a, 3))); /* as TensorFlow */
        assert_tensor_near(&b, &a, 0);
        tensor_release(&a);
        tensor_release(&b);
        tensor_release(&f.value);
        graph_free(gr);
    }
}

/* ---- fuzz_graph_struct finding: the reductions Max / Min over a row holding NaN give NaN on
   the fast runtime too (oneDNN's max/min reductions dropped it) ---- */

static void test_reduce_max_min_nan_fast_equals_ref(void **state) {
    (void)state;
    const char *ops[2] = {"Max", "Min"};
    for (int o = 0; o < 2; o++) {
        Pb g = {0};
        pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){2, 64});
        Pb axes = pb_tensor(DT_INT32, 1, (int64_t[]){1}, NULL, 0, (int64_t[]){1}, 1);
        pb_const(&g, "axes", &axes, DT_INT32);
        Pb n = pb_node("r", ops[o], (const char *[]){"x", "axes"}, 2);
        pb_attr(&n, "T", pb_a_type(DT_FLOAT));
        pb_attr(&n, "Tidx", pb_a_type(DT_INT32));
        pb_add_node(&g, &n);
        Err err = {0};
        Graph *gr = hx_load(&g, &err);
        CHECK_OK(gr == NULL, &err);
        float v[128];
        for (int i = 0; i < 128; i++) v[i] = (float)(i % 7) - 3;
        v[5] = NAN; /* row 0 holds a NaN, row 1 does not */
        RefFeed f = {"x", tt_f32(2, (int64_t[]){2, 64}, v)};
        Tensor a = {0}, b = {0};
        run_both(gr, &f, &a, &b);
        assert_true(isnan(tensor_get(&a, 0)) && !isnan(tensor_get(&a, 1))); /* as TensorFlow */
        assert_true(isnan(tensor_get(&b, 0)));
        assert_true(tensor_get(&b, 1) == tensor_get(&a, 1));
        tensor_release(&a);
        tensor_release(&b);
        tensor_release(&f.value);
        graph_free(gr);
    }
}

/* ---- item 1: outputs survive every rewrite (the graph of the issue) ---- */

static bool has_output(const Graph *g, const char *name) {
    for (int k = 0; k < g->n_outputs; k++)
        if (!strcmp(g->nodes[g->outputs[k].node]->name, name) && g->outputs[k].port == 0) return true;
    return false;
}

static void test_outputs_survive_grappler(void **state) {
    (void)state;
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 8});
    pb_unary(&g, "y", "Relu", "x");
    Pb a = pb_tensor(DT_FLOAT, 2, (int64_t[]){256, 256}, (float[]){0.01f}, 1, NULL, 0);
    Pb b = pb_tensor(DT_FLOAT, 2, (int64_t[]){256, 256}, (float[]){0.02f}, 1, NULL, 0);
    pb_const(&g, "a", &a, DT_FLOAT);
    pb_const(&g, "b", &b, DT_FLOAT);
    Pb mm = pb_node("mm", "MatMul", (const char *[]){"a", "b"}, 2);
    pb_attr(&mm, "T", pb_a_type(DT_FLOAT));
    pb_add_node(&g, &mm);
    pb_unary(&g, "z", "Tanh", "mm");
    Err err = {0};
    Graph *gr = hx_load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    assert_true(has_output(gr, "y") && has_output(gr, "z"));
    Graph *opt = graph_clone(gr, &err);
    CHECK_OK(opt == NULL, &err);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", opt, 0, &log, &err), &err);
    assert_true(log.total > 0); /* MatMul of two constants still folds */
    /* written and read back: both outputs, z still computed (not a Const) */
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_OK(graphdef_serialize(opt, &bytes, &len, &err), &err);
    Graph *back = graphdef_parse(bytes, len, "optimized.pb", &err);
    free(bytes);
    CHECK_OK(back == NULL, &err);
    CHECK_OK(graph_infer(back, NULL, 0, ref_eval_node, NULL, &err), &err);
    assert_int_equal(back->n_outputs, 2);
    assert_true(has_output(back, "y") && has_output(back, "z"));
    assert_string_equal(back->nodes[graph_find(back, "z")]->op_name, "Tanh");
    Tensor want[2] = {{0}}, got[2] = {{0}};
    RefFeed f = {"x", tt_f32(2, (int64_t[]){1, 8}, (float[]){-1, 2, -3, 4, -5, 6, -7, 8})};
    ValueRef fw[2] = {{graph_find(gr, "y"), 0}, {graph_find(gr, "z"), 0}}, fb[2] = {{graph_find(back, "y"), 0}, {graph_find(back, "z"), 0}};
    CHECK_OK(ref_run(gr, &f, 1, fw, 2, want, NULL, &err), &err);
    CHECK_OK(ref_run(back, &f, 1, fb, 2, got, NULL, &err), &err);
    for (int k = 0; k < 2; k++) { assert_tensor_near(&got[k], &want[k], 1e-5); tensor_release(&got[k]); tensor_release(&want[k]); }
    tensor_release(&f.value);
    graph_free(back);
    graph_free(opt);
    graph_free(gr);
}

/* ---- item 7: the memory budget ---- */

static void test_splatted_constants_refused_before_materialised(void **state) {
    (void)state;
    Pb g = {0};
    pb_splat_graph(&g);
    assert_true(g.n < 400); /* the file had 278 bytes */
    mem_budget_set((size_t)1 << 30);
    size_t live = tensor_live_bytes();
    tensor_reset_peak();
    Err err = {0};
    double t0 = now_s();
    assert_null(hx_load(&g, &err));
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "16.00 GiB"));
    assert_non_null(strstr(err.msg, "memory budget of 1.00 GiB"));
    assert_true(tensor_peak_bytes() - live < ((size_t)1 << 20)); /* nothing materialised */
    assert_true(now_s() - t0 < 5.0);
    mem_budget_set(0);
}

static void test_huge_fill_refused_by_both_runtimes(void **state) {
    (void)state;
    Pb g = {0};
    Pb d = pb_tensor(DT_INT32, 1, (int64_t[]){2}, NULL, 0, (int64_t[]){65536, 65536}, 2);
    pb_const(&g, "d", &d, DT_INT32);
    Pb v = pb_tensor(DT_FLOAT, 0, NULL, (float[]){1}, 1, NULL, 0);
    pb_const(&g, "v", &v, DT_FLOAT);
    Pb n = pb_node("f", "Fill", (const char *[]){"d", "v"}, 2);
    pb_attr(&n, "T", pb_a_type(DT_FLOAT));
    pb_attr(&n, "index_type", pb_a_type(DT_INT32));
    pb_add_node(&g, &n);
    mem_budget_set((size_t)1 << 30);
    Err err = {0};
    Graph *gr = hx_load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    /* inspect's estimate, without allocating */
    assert_true(graph_activation_peak(gr, &err) == ((int64_t)16 << 30));
    Tensor out = {0};
    assert_int_not_equal(ref_run(gr, NULL, 0, NULL, 0, &out, NULL, &err), 0);
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "16.00 GiB"));
    PlanOpts po = {.threads = 1};
    assert_null(plan_compile(gr, NULL, 0, &po, &err));
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "16.00 GiB"));
    graph_free(gr);
    mem_budget_set(0);
}

/* item 7/8: a regular file larger than the memory budget leaves is refused before it is read */
static void test_file_over_budget_refused(void **state) {
    (void)state;
    char path[] = "/tmp/grappo_hostile_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0); /* 1 MiB of zeros */
    close(fd);
    mem_budget_set(4096);
    Err err = {0};
    assert_null(graphdef_load(path, &err));
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "1048576 bytes"));
    Tensor t;
    assert_int_not_equal(npy_load(path, &t, &err), 0);
    assert_non_null(strstr(err.msg, "--max-memory"));
    mem_budget_set(0);
    unlink(path);
}

/* ---- fuzz_graph_struct findings: MaxPool of -inf; Shape of a node that fails ---- */

static void test_maxpool_of_minus_inf(void **state) {
    (void)state;
    Pb g = pool_graph("MaxPool", 2, 2, 1);
    Err err = {0};
    Graph *gr = hx_load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    float v[32];
    for (int i = 0; i < 32; i++) v[i] = i < 16 ? -INFINITY : (float)i;
    RefFeed f = {"x", tt_f32(4, (int64_t[]){1, 4, 4, 2}, v)};
    Tensor a = {0}, b = {0};
    run_both(gr, &f, &a, &b);
    assert_true(isinf(tensor_get(&a, 0)) && tensor_get(&a, 0) < 0); /* as TensorFlow: -inf, not -FLT_MAX */
    assert_int_equal(tensor_numel(&a), tensor_numel(&b));
    for (int64_t i = 0; i < tensor_numel(&a); i++) assert_true(tensor_get(&a, i) == tensor_get(&b, i));
    tensor_release(&a);
    tensor_release(&b);
    tensor_release(&f.value);
    graph_free(gr);
}

/* Shape(Pow(int 2, int -1)): the Pow would fail, but only its shape is read: both runtimes run */
static void test_shape_of_failing_node(void **state) {
    (void)state;
    Pb g = {0};
    Pb a = pb_tensor(DT_INT32, 1, (int64_t[]){3}, NULL, 0, (int64_t[]){2, 2, 2}, 3);
    Pb e = pb_tensor(DT_INT32, 1, (int64_t[]){3}, NULL, 0, (int64_t[]){-1, -1, -1}, 3);
    pb_const(&g, "a", &a, DT_INT32);
    pb_const(&g, "e", &e, DT_INT32);
    Pb pw = pb_node("pw", "Pow", (const char *[]){"a", "e"}, 2);
    pb_attr(&pw, "T", pb_a_type(DT_INT32));
    pb_add_node(&g, &pw);
    Pb sh = pb_node("sh", "Shape", (const char *[]){"pw"}, 1);
    pb_attr(&sh, "T", pb_a_type(DT_INT32));
    pb_attr(&sh, "out_type", pb_a_type(DT_INT32));
    pb_add_node(&g, &sh);
    Err err = {0};
    Graph *gr = hx_load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    Tensor r = {0}, f = {0};
    CHECK_OK(ref_run(gr, NULL, 0, NULL, 0, &r, NULL, &err), &err);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(gr, NULL, 0, &po, &err);
    CHECK_OK(p == NULL, &err);
    CHECK_OK(plan_run(p, NULL, 0, &f, NULL, &err), &err);
    assert_int_equal((int)tensor_get(&r, 0), 3);
    assert_int_equal((int)tensor_get(&f, 0), 3);
    tensor_release(&r);
    tensor_release(&f);
    plan_free(p);
    graph_free(gr);
}

/* Relu, Relu6, Rsqrt, Exp on NaN, +-0, +-inf: the fast runtime gives what the reference (and
   TensorFlow) give: relu(NaN) = NaN, rsqrt(0) = inf, exp(NaN) = NaN */
static void test_unary_special_values_fast_equals_ref(void **state) {
    (void)state;
    const char *ops[4] = {"Relu", "Relu6", "Rsqrt", "Exp"};
    for (int o = 0; o < 4; o++) {
        Pb g = {0};
        pb_placeholder(&g, "x", DT_FLOAT, 1, (int64_t[]){8});
        pb_unary(&g, "y", ops[o], "x");
        Err err = {0};
        Graph *gr = hx_load(&g, &err);
        CHECK_OK(gr == NULL, &err);
        RefFeed f = {"x", tt_f32(1, (int64_t[]){8}, (float[]){NAN, 0.0f, -0.0f, INFINITY, -INFINITY, -1, 2, 7})};
        Tensor a = {0}, b = {0};
        run_both(gr, &f, &a, &b);
        assert_true(isnan(tensor_get(&a, 0)));
        for (int64_t i = 0; i < 8; i++) {
            double x = tensor_get(&a, i), y = tensor_get(&b, i);
            if (!(x == y || (isnan(x) && isnan(y)))) {
                print_error("%s element %lld: fast %g, reference %g\n", ops[o], (long long)i, y, x);
                fail();
            }
        }
        tensor_release(&a);
        tensor_release(&b);
        tensor_release(&f.value);
        graph_free(gr);
    }
}

/* Softmax of int32: TensorFlow has no such kernel; bad input at inference, on every path */
static void test_softmax_int_refused(void **state) {
    (void)state;
    Pb g = {0};
    Pb c = pb_tensor(DT_INT32, 1, (int64_t[]){3}, NULL, 0, (int64_t[]){1, 2, 3}, 3);
    pb_const(&g, "c", &c, DT_INT32);
    Pb n = pb_node("s", "Softmax", (const char *[]){"c"}, 1);
    pb_attr(&n, "T", pb_a_type(DT_INT32));
    pb_add_node(&g, &n);
    Err err = {0};
    assert_null(hx_load(&g, &err));
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "Softmax"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs_survive_grappler),
        cmocka_unit_test(test_pool_window_2_62_refused),
        cmocka_unit_test(test_pool_window_2_31_bounded),
        cmocka_unit_test(test_conv_huge_strides_dilations),
        cmocka_unit_test(test_messages_escape_names),
        cmocka_unit_test(test_non_regular_files_refused),
        cmocka_unit_test(test_max_min_nan_fast_equals_ref),
        cmocka_unit_test(test_reduce_max_min_nan_fast_equals_ref),
        cmocka_unit_test(test_splatted_constants_refused_before_materialised),
        cmocka_unit_test(test_huge_fill_refused_by_both_runtimes),
        cmocka_unit_test(test_file_over_budget_refused),
        cmocka_unit_test(test_maxpool_of_minus_inf),
        cmocka_unit_test(test_shape_of_failing_node),
        cmocka_unit_test(test_unary_special_values_fast_equals_ref),
        cmocka_unit_test(test_softmax_int_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
