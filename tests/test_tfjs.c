/* test_tfjs.c - the TensorFlow.js graph-model reader: the real selfie model.json (float16
 * weights) loads into the same graph as its frozen .pb in tests/fixtures/real/selfie and
 * computes what TensorFlow.js computed; broken models (malformed JSON, missing or short
 * shard, a Const without a weight) give ERR_INPUT, one line naming the file. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/graphdef.h"
#include "io/model_load.h"
#include "io/npy.h"
#include "io/tfjs.h"
#include "runtime/ref.h"

#define TFJS "tests/fixtures/tfjs/selfie/model.json"
#define REAL "tests/fixtures/real/selfie"

static void test_selfie_matches_tfjs(void **state) {
    (void)state;
    Err err;
    Graph *g = model_file_load(TFJS, NULL, &err); /* by extension */
    if (!g) fail_msg("%s", err.msg);
    Graph *pb = graphdef_load(REAL "/model.pb", &err);
    if (!pb) fail_msg("%s", err.msg);
    assert_int_equal(g->n_nodes, pb->n_nodes);
    for (int i = 0; i < pb->n_nodes; i++) {
        const Node *a = graph_node(pb, i);
        int j = graph_find(g, a->name);
        assert_true(j >= 0);
        assert_string_equal(graph_node(g, j)->op_name, a->op_name);
        assert_int_equal(graph_node(g, j)->n_inputs, a->n_inputs);
    }
    graph_free(pb);
    CHECK_OK(graph_validate(g, &err), &err);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &err), &err);
    Tensor in, out[2];
    CHECK_OK(npy_load(REAL "/input_0.npy", &in, &err), &err);
    RefFeed feed = {.name = "input_1", .value = in};
    ValueRef fetch[2];
    CHECK_OK(graph_parse_ref(g, "activation_10", &fetch[0], &err), &err);
    CHECK_OK(graph_parse_ref(g, "segment_add", &fetch[1], &err), &err);
    CHECK_OK(ref_run(g, &feed, 1, fetch, 2, out, NULL, &err), &err);
    char *manifest = tu_read_text(REAL "/manifest.json");
    cJSON *m = cJSON_Parse(manifest);
    const cJSON *hint = cJSON_GetObjectItem(m, "tolerance_hint");
    for (int k = 0; k < 2; k++) {
        char path[128];
        snprintf(path, sizeof path, REAL "/output_%d.npy", k);
        Tensor ref;
        CHECK_OK(npy_load(path, &ref, &err), &err);
        assert_int_equal(tensor_numel(&ref), tensor_numel(&out[k]));
        double maxerr = 0, maxref = 0;
        for (int64_t i = 0; i < tensor_numel(&ref); i++) {
            maxerr = fmax(maxerr, fabs(tensor_get(&out[k], i) - tensor_get(&ref, i)));
            maxref = fmax(maxref, fabs(tensor_get(&ref, i)));
        }
        double tol = fmax(1e-4 * maxref, cJSON_IsNumber(hint) ? hint->valuedouble : 0);
        printf("[ tfjs     ] selfie output %d: max|err| %.3g (tolerance %.3g)\n", k, maxerr, tol);
        assert_true(maxerr <= tol);
        tensor_release(&ref);
        tensor_release(&out[k]);
    }
    cJSON_Delete(m);
    free(manifest);
    tensor_release(&in);
    graph_free(g);
}

static void expect_bad(const char *path, const char *needle) {
    Err err;
    Graph *g = tfjs_load(path, &err);
    if (g) {
        graph_free(g);
        fail_msg("loaded a bad model, wanted '%s'", needle);
    }
    assert_int_equal(err.code, ERR_INPUT);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "model.json") ) fail_msg("unexpected: %s (wanted %s)", err.msg, needle);
    assert_null(strchr(err.msg, '\n'));
}

static void test_bad_models(void **state) {
    (void)state;
    char dir[64], json[128], bin[128];
    snprintf(dir, sizeof dir, "/tmp/grappo_tfjs_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(json, sizeof json, "%s/model.json", dir);
    snprintf(bin, sizeof bin, "%s/selfie.bin", dir);
    uint8_t *text, *weights;
    size_t tlen, wlen;
    Err err;
    CHECK_OK(read_file_bytes(TFJS, &text, &tlen, &err), &err);
    CHECK_OK(read_file_bytes("tests/fixtures/tfjs/selfie/selfie.bin", &weights, &wlen, &err), &err);
    CHECK_OK(atomic_write_file(json, text, tlen, &err), &err);
    /* missing shard */
    expect_bad(json, "selfie.bin");
    /* short shard */
    CHECK_OK(atomic_write_file(bin, weights, wlen / 2, &err), &err);
    expect_bad(json, "runs past the end of its shards");
    /* malformed JSON */
    CHECK_OK(atomic_write_file(bin, weights, wlen, &err), &err);
    CHECK_OK(atomic_write_file(json, text, tlen / 2, &err), &err);
    expect_bad(json, "not a TensorFlow.js graph model");
    /* a Const without its weight: drop the manifest */
    cJSON *m = cJSON_ParseWithLength((const char *)text, tlen);
    cJSON_DeleteItemFromObject(m, "weightsManifest");
    char *s = cJSON_PrintUnformatted(m);
    CHECK_OK(atomic_write_file(json, s, strlen(s), &err), &err);
    expect_bad(json, "Const without a weight");
    free(s);
    cJSON_Delete(m);
    free(text);
    free(weights);
    unlink(json);
    unlink(bin);
    rmdir(dir);
}

/* inputs libFuzzer found crashing fuzz_tfjs, run as the fuzzer runs them */
static void test_fuzz_regressions(void **state) {
    (void)state;
    DIR *d = opendir("tests/fixtures/regress/fuzz_tfjs");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/regress/fuzz_tfjs/%s", e->d_name);
        uint8_t *data;
        size_t len;
        Err err;
        CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
        Graph *g = tfjs_parse((const char *)data, len, "fuzz/seeds/fuzz_tfjs", "regress/model.json", &err);
        if (g) {
            if (!graph_validate(g, &err)) graph_infer(g, NULL, 0, ref_eval_node, NULL, &err);
            graph_free(g);
        } else {
            assert_int_equal(err.code, ERR_INPUT);
            assert_null(strchr(err.msg, '\n'));
        }
        free(data);
    }
    closedir(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selfie_matches_tfjs),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
