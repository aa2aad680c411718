/* test_ops_fixtures.c - small frozen GraphDefs made by TensorFlow 2.20 with the ops added for
 * real models (tests/fixtures/ops, written by tools/make_op_fixtures.py): each loads, runs on
 * the reference runtime and on the fast runtime, and matches the outputs TensorFlow computed
 * (integers and bools exactly, floats within 1e-6 relative: libm and Eigen may differ by an
 * ulp in Atan2, Cos, Sin and soft-NMS's exp); after the grappler pipeline the graph still
 * computes exactly what it computed before. Covers the elementwise ops, GatherNd, Range,
 * SparseToDense, TopKV2, Where and NonMaxSuppressionV3/V5 with data-dependent shapes; TF1
 * while loop and cond graphs made by TensorFlow are named as such. */
#include "testutil.h"

#include <stdlib.h>

#include "io/graphdef.h"
#include "io/npy.h"
#include "rewrite/pipeline.h"
#include "runtime/plan.h"

#define DIR "tests/fixtures/ops/"
#define MAX_IO 32

typedef struct Fixture {
    int n_in, n_out;
    char in_name[MAX_IO][128], out_name[MAX_IO][128];
    RefFeed feeds[MAX_IO];
    InputSpec specs[MAX_IO];
    Tensor want[MAX_IO];
} Fixture;

static void load_fixture(const char *model, Fixture *f) {
    char path[512], kind[16], name[128], file[128];
    Err e;
    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, DIR "%s/manifest.txt", model);
    FILE *m = fopen(path, "r");
    assert_non_null(m);
    while (fscanf(m, "%15s %127s %127s", kind, name, file) == 3) {
        snprintf(path, sizeof path, DIR "%s/%s", model, file);
        if (!strcmp(kind, "input")) {
            assert_true(f->n_in < MAX_IO);
            snprintf(f->in_name[f->n_in], sizeof f->in_name[0], "%s", name);
            CHECK_OK(npy_load(path, &f->feeds[f->n_in].value, &e), &e);
            f->feeds[f->n_in].name = f->in_name[f->n_in];
            f->specs[f->n_in] = (InputSpec){f->in_name[f->n_in], f->feeds[f->n_in].value.shape, f->feeds[f->n_in].value.dtype};
            f->n_in++;
        } else {
            assert_true(f->n_out < MAX_IO);
            snprintf(f->out_name[f->n_out], sizeof f->out_name[0], "%s", name);
            CHECK_OK(npy_load(path, &f->want[f->n_out], &e), &e);
            f->n_out++;
        }
    }
    fclose(m);
    assert_true(f->n_in > 0 && f->n_out > 0);
}

static void free_fixture(Fixture *f) {
    for (int k = 0; k < f->n_in; k++) tensor_release(&f->feeds[k].value);
    for (int k = 0; k < f->n_out; k++) tensor_release(&f->want[k]);
}

static void expect_close(const char *what, int k, const Tensor *got, const Tensor *want) {
    char a[96], b[96];
    if (got->dtype != want->dtype || !shape_equal(&got->shape, &want->shape)) {
        print_error("%s output %d: %s %s, TensorFlow %s %s\n", what, k, dtype_name(got->dtype), shape_str(&got->shape, a, sizeof a),
                    dtype_name(want->dtype), shape_str(&want->shape, b, sizeof b));
        fail();
    }
    bool fl = dtype_is_float(want->dtype);
    for (int64_t i = 0; i < tensor_numel(want); i++) {
        double x = tensor_get(got, i), y = tensor_get(want, i);
        bool ok = fl ? (isnan(x) && isnan(y)) || x == y || fabs(x - y) <= 1e-6 * fmax(1.0, fabs(y)) : x == y;
        if (!ok) {
            print_error("%s output %d element %lld: %.9g, TensorFlow %.9g\n", what, k, (long long)i, x, y);
            fail();
        }
    }
}

/* runs g on both runtimes; outputs into got_ref / got_fast (caller releases) */
static void run_both(Graph *g, Fixture *f, Tensor *got_ref, Tensor *got_fast) {
    Err e;
    ValueRef fetch[MAX_IO];
    for (int k = 0; k < f->n_out; k++) CHECK_OK(graph_parse_ref(g, f->out_name[k], &fetch[k], &e), &e);
    CHECK_OK(ref_run(g, f->feeds, f->n_in, fetch, f->n_out, got_ref, NULL, &e), &e);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, fetch, f->n_out, &po, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(plan_run(p, f->feeds, f->n_in, got_fast, NULL, &e), &e);
    plan_free(p);
}

static void check_model(const char *model) {
    Fixture f;
    load_fixture(model, &f);
    char path[512];
    Err e;
    snprintf(path, sizeof path, DIR "%s/model.pb", model);
    Graph *g = graphdef_load(path, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(graph_validate(g, &e), &e);
    CHECK_OK(graph_infer(g, f.specs, f.n_in, ref_eval_node, NULL, &e), &e);
    CHECK_OK(graph_check_executable(g, NULL, &e), &e);
    Tensor ref[MAX_IO], fast[MAX_IO], ref2[MAX_IO], fast2[MAX_IO];
    run_both(g, &f, ref, fast);
    for (int k = 0; k < f.n_out; k++) {
        expect_close("ref", k, &ref[k], &f.want[k]);
        expect_close("fast", k, &fast[k], &f.want[k]);
    }
    /* Grappler's exact rewrites keep every output exactly (same kernels, same order of
       arithmetic: compared bit for bit with the reference runtime's own result) */
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    run_both(g, &f, ref2, fast2);
    for (int k = 0; k < f.n_out; k++) {
        assert_true(shape_equal(&ref2[k].shape, &ref[k].shape));
        assert_memory_equal(tensor_data(&ref2[k]), tensor_data(&ref[k]), tensor_nbytes(&ref[k]));
        expect_close("fast after grappler", k, &fast2[k], &f.want[k]);
    }
    for (int k = 0; k < f.n_out; k++) {
        tensor_release(&ref[k]); tensor_release(&fast[k]); tensor_release(&ref2[k]); tensor_release(&fast2[k]);
    }
    graph_free(g);
    free_fixture(&f);
}

/* TF1 control flow made by TensorFlow itself: a while loop (x * 2 three times) and tf.cond run */
static void test_tf1_control_flow_named(void **state) {
    (void)state;
    Err e;
    Graph *g = graphdef_load(DIR "tf1_while/model.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    {
        Shape s4w = shape_make(1, (int64_t[]){4});
        float xw[4] = {1, 2, 3, 4};
        RefFeed fw = {"x", {0}};
        CHECK_OK(tensor_from_data(&fw.value, DT_FLOAT, &s4w, xw, sizeof xw, &e), &e);
        ValueRef fo;
        CHECK_OK(graph_parse_ref(g, "out", &fo, &e), &e);
        Tensor got = {0}, want = tt_f32(1, (int64_t[]){4}, (float[]){8, 16, 24, 32});
        CHECK_OK(ref_run(g, &fw, 1, &fo, 1, &got, NULL, &e), &e);
        assert_tensor_near(&got, &want, 0);
        tensor_release(&got); tensor_release(&want); tensor_release(&fw.value);
    }
    graph_free(g);
    g = graphdef_load(DIR "tf1_cond/model.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    RefFeed feeds[2] = {{"x", {0}}, {"p", {0}}};
    float xv[4] = {1, 2, 3, 4};
    Shape s4 = shape_make(1, (int64_t[]){4}), s0 = shape_scalar();
    uint8_t pv = 1;
    CHECK_OK(tensor_from_data(&feeds[0].value, DT_FLOAT, &s4, xv, sizeof xv, &e), &e);
    CHECK_OK(tensor_from_data(&feeds[1].value, DT_BOOL, &s0, &pv, 1, &e), &e);
    /* tf.cond's Switch/Merge run on the reference runtime: TensorFlow 2.20 (Session) gives
       out = x * 2 = [2,4,6,8] and cond/Merge:1 = 1 for p true, x + 1 = [2,3,4,5] and 0 for p false */
    ValueRef fetch[2];
    CHECK_OK(graph_parse_ref(g, "out", &fetch[0], &e), &e);
    CHECK_OK(graph_parse_ref(g, "cond/Merge:1", &fetch[1], &e), &e);
    for (int pi = 0; pi < 2; pi++) {
        pv = (uint8_t)(1 - pi);
        tensor_release(&feeds[1].value);
        CHECK_OK(tensor_from_data(&feeds[1].value, DT_BOOL, &s0, &pv, 1, &e), &e);
        Tensor got[2] = {{0}};
        CHECK_OK(ref_run(g, feeds, 2, fetch, 2, got, NULL, &e), &e);
        Tensor want = tt_f32(1, (int64_t[]){4}, pv ? (float[]){2, 4, 6, 8} : (float[]){2, 3, 4, 5});
        assert_tensor_near(&got[0], &want, 0);
        assert_int_equal((int)tensor_get(&got[1], 0), pv ? 1 : 0);
        tensor_release(&want); tensor_release(&got[0]); tensor_release(&got[1]);
    }
    /* a fetch on the branch not taken is dead: an error, not garbage */
    ValueRef dead;
    CHECK_OK(graph_parse_ref(g, "cond/mul", &dead, &e), &e);
    Tensor out = {0};
    assert_int_equal(ref_run(g, feeds, 2, &dead, 1, &out, NULL, &e), -1); /* p is false now */
    assert_non_null(strstr(e.msg, "is dead"));
    tensor_release(&feeds[0].value);
    tensor_release(&feeds[1].value);
    graph_free(g);
}

static void test_elementwise(void **state) { (void)state; check_model("ew"); }
static void test_integer_index_ops(void **state) { (void)state; check_model("int"); }
static void test_dynamic_shapes(void **state) { (void)state; check_model("dyn"); }
static void test_nms(void **state) { (void)state; check_model("nms"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_integer_index_ops),
        cmocka_unit_test(test_dynamic_shapes),
        cmocka_unit_test(test_nms),
        cmocka_unit_test(test_tf1_control_flow_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
