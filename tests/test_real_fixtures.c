/* test_real_fixtures.c - the five real trained TensorFlow graphs in tests/fixtures/real/:
 * load, run on the reference runtime, match the outputs TensorFlow.js computed. Each output has
 * its own tolerance: max(1e-4 * max|reference|, 2 * that output's own difference between
 * TensorFlow.js's wasm and cpu backends). (A tolerance shared by all outputs - the manifest's
 * tolerance_hint, the largest difference of any output - let selfie's mask, max|ref| 7.6e-10,
 * pass with a tolerance of 1.4e-3: that check could not fail.) */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "io/graphdef.h"
#include "io/npy.h"
#include "runtime/ref.h"

#define DIR "tests/fixtures/real/"

static void check_model(const char *model) {
    char path[512];
    Err e = {0};
    snprintf(path, sizeof path, DIR "%s/manifest.json", model);
    char *text = tu_read_text(path);
    assert_non_null(text);
    cJSON *m = cJSON_Parse(text);
    free(text);
    assert_non_null(m);
    snprintf(path, sizeof path, DIR "%s/model.pb", model);
    Graph *g = graphdef_load(path, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }

    cJSON *inputs = cJSON_GetObjectItem(m, "inputs"), *outputs = cJSON_GetObjectItem(m, "outputs");
    int n_in = cJSON_GetArraySize(inputs), n_out = cJSON_GetArraySize(outputs);
    RefFeed feeds[8];
    InputSpec specs[8];
    for (int k = 0; k < n_in; k++) {
        cJSON *it = cJSON_GetArrayItem(inputs, k);
        snprintf(path, sizeof path, DIR "%s/%s", model, cJSON_GetObjectItem(it, "file")->valuestring);
        feeds[k].name = cJSON_GetObjectItem(it, "name")->valuestring;
        CHECK_OK(npy_load(path, &feeds[k].value, &e), &e);
        specs[k] = (InputSpec){feeds[k].name, feeds[k].value.shape, feeds[k].value.dtype};
    }
    CHECK_OK(graph_validate(g, &e), &e);
    CHECK_OK(graph_infer(g, specs, n_in, ref_eval_node, NULL, &e), &e);
    ValueRef fetch[8];
    Tensor got[8], want[8];
    for (int k = 0; k < n_out; k++) {
        cJSON *it = cJSON_GetArrayItem(outputs, k);
        CHECK_OK(graph_parse_ref(g, cJSON_GetObjectItem(it, "name")->valuestring, &fetch[k], &e), &e);
        snprintf(path, sizeof path, DIR "%s/%s", model, cJSON_GetObjectItem(it, "file")->valuestring);
        CHECK_OK(npy_load(path, &want[k], &e), &e);
    }
    CHECK_OK(ref_run(g, feeds, n_in, fetch, n_out, got, NULL, &e), &e);
    double hint = cJSON_GetObjectItem(m, "tolerance_hint")->valuedouble;
    for (int k = 0; k < n_out; k++) {
        double maxref = 0, maxerr = 0;
        int64_t n = tensor_numel(&want[k]);
        char a[64], b[64];
        if (!shape_equal(&got[k].shape, &want[k].shape)) {
            print_error("%s output %d: shape %s, TF.js %s\n", model, k, shape_str(&got[k].shape, a, 64), shape_str(&want[k].shape, b, 64));
            fail();
        }
        for (int64_t i = 0; i < n; i++) {
            double r = tensor_get(&want[k], i), x = tensor_get(&got[k], i);
            if (fabs(r) > maxref) maxref = fabs(r);
            if (!(fabs(x - r) <= maxerr)) maxerr = isnan(x) ? INFINITY : fabs(x - r);
        }
        double backends = cJSON_GetObjectItem(cJSON_GetArrayItem(outputs, k), "max_abs_diff_wasm_vs_cpu")->valuedouble;
        assert_true(backends <= hint);
        double tol = fmax(1e-4 * maxref, 2 * backends);
        printf("[ fixture  ] %-18s %-14s max|err| %.3g  (max|ref| %.3g, tolerance %.3g)\n", model,
               cJSON_GetObjectItem(cJSON_GetArrayItem(outputs, k), "name")->valuestring, maxerr, maxref, tol);
        assert_true(maxerr <= tol);
        tensor_release(&got[k]);
        tensor_release(&want[k]);
    }
    for (int k = 0; k < n_in; k++) tensor_release(&feeds[k].value);
    cJSON_Delete(m);
    graph_free(g);
}

static void test_blazeface(void **s) { (void)s; check_model("blazeface-front"); }
static void test_emotion(void **s) { (void)s; check_model("emotion"); }
static void test_gender(void **s) { (void)s; check_model("gender"); }
static void test_handlandmark(void **s) { (void)s; check_model("handlandmark-lite"); }
static void test_selfie(void **s) { (void)s; check_model("selfie"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blazeface), cmocka_unit_test(test_emotion),  cmocka_unit_test(test_gender),
        cmocka_unit_test(test_handlandmark), cmocka_unit_test(test_selfie),
    };
    return cmocka_run_group_tests_name("real_fixtures", tests, NULL, NULL);
}
