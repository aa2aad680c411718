/* test_tfjs_signature.c - the tfjs reader makes the signature's outputs graph outputs (found by
 * make test-corpus: centernet's signature output tower_0/wh is an Identity that another node
 * also reads, so it was not a graph output, and the grappler pipeline removed it: the optimized
 * graph could no longer be fetched by the names TensorFlow.js returns). A hand-written model.json
 * x -> Relu a -> Identity mid -> Neg out, signature outputs {mid, out} (in both places converters
 * write the signature): both are graph outputs, and after the grappler pipeline `mid` still exists
 * and computes Relu(x). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/tfjs.h"
#include "rewrite/pipeline.h"
#include "runtime/ref.h"

#define NODES                                                                                                         \
    "\"modelTopology\":{\"node\":["                                                                                   \
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"                             \
    "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"1\"},{\"size\":\"3\"}]}}}},"                                          \
    "{\"name\":\"a\",\"op\":\"Relu\",\"input\":[\"x\"],\"attr\":{\"T\":{\"type\":\"DT_FLOAT\"}}},"                    \
    "{\"name\":\"mid\",\"op\":\"Identity\",\"input\":[\"a\"],\"attr\":{\"T\":{\"type\":\"DT_FLOAT\"}}},"              \
    "{\"name\":\"out\",\"op\":\"Neg\",\"input\":[\"mid\"],\"attr\":{\"T\":{\"type\":\"DT_FLOAT\"}}}]},"               \
    "\"weightsManifest\":[]"
#define OUTS "\"outputs\":{\"mid\":{\"name\":\"mid\"},\"out\":{\"name\":\"out:0\"}}"

static bool has_output(const Graph *g, const char *name) {
    int i = graph_find(g, name);
    for (int k = 0; i >= 0 && k < g->n_outputs; k++)
        if (g->outputs[k].node == i && g->outputs[k].port == 0) return true;
    return false;
}

static void check_model(const char *text, bool with_signature) {
    char dir[64], json[128];
    snprintf(dir, sizeof dir, "/tmp/grappo_tfjs_sig_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(json, sizeof json, "%s/model.json", dir);
    Err err;
    CHECK_OK(atomic_write_file(json, text, strlen(text), &err), &err);
    Graph *g = tfjs_load(json, &err);
    if (!g) { print_error("%s\n", err.msg); fail(); }
    assert_true(has_output(g, "out"));
    assert_int_equal(has_output(g, "mid"), with_signature);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &err), &err);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, RULE_TF, &log, &err), &err);
    /* without the signature, the Identity is removed; with it, it stays and is fetchable */
    assert_int_equal(graph_find(g, "mid") >= 0, with_signature);
    if (with_signature) {
        Tensor x = tt_f32(2, (int64_t[]){1, 3}, (float[]){-1, 0.5f, 2});
        RefFeed feed = {"x", x};
        ValueRef fetch = {graph_find(g, "mid"), 0};
        Tensor out = {0};
        CHECK_OK(ref_run(g, &feed, 1, &fetch, 1, &out, NULL, &err), &err);
        const float *v = tensor_data(&out);
        assert_true(v[0] == 0 && v[1] == 0.5f && v[2] == 2);
        tensor_release(&out);
        tensor_release(&x);
    }
    graph_free(g);
    unlink(json);
    rmdir(dir);
}

static void test_signature_outputs(void **state) {
    (void)state;
    check_model("{\"format\":\"graph-model\",\"signature\":{" OUTS "}," NODES "}", true);
    check_model("{\"format\":\"graph-model\",\"userDefinedMetadata\":{\"signature\":{" OUTS "}}," NODES "}", true);
    check_model("{\"format\":\"graph-model\"," NODES "}", false);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_signature_outputs)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
