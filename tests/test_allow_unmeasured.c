/* test_allow_unmeasured.c - optimize on a graph holding ops grappo cannot execute (issue 12,
 * item 4): without allow_unmeasured the error names every such op with counts; with it, the
 * exact grappler rewrites are applied (the Identities around the unsupported nodes removed),
 * the unsupported nodes are kept (same op, attributes, input count), nothing is measured, and
 * the result says so (verdict, RESULT line, "measured": false in the JSON); the supported part
 * of the written graph computes what the input's did on the reference runtime; other methods
 * are refused, a graph no rewrite applies to is returned unchanged, and a graph grappo can run
 * is measured as always; the CLI's exit codes (0, 2 with one line and nothing written, 3 with
 * --fail-if-unchanged) and RESULT line. */
#include "testutil.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "io/graphdef.h"
#include "io/pbtxt.h"
#include "optimize/optimize.h"
#include "report/optimize_report.h"
#include "runtime/ref.h"

/* x -> Identity -> MatMul(w) -> Identity -> FooBar -> FooBar -> Bazz, and MatMul -> Identity -> Relu */
static const char GRAPH[] =
    "node { name: 'x' op: 'Placeholder' attr { key: 'dtype' value { type: DT_FLOAT } }\n"
    "  attr { key: 'shape' value { shape { dim { size: 1 } dim { size: 4 } } } } }\n"
    "node { name: 'w' op: 'Const' attr { key: 'dtype' value { type: DT_FLOAT } } attr { key: 'value' value { tensor {\n"
    "  dtype: DT_FLOAT tensor_shape { dim { size: 4 } dim { size: 4 } } float_val: [0.5, -1, 2, 0.25] } } } }\n"
    "node { name: 'i1' op: 'Identity' input: 'x' attr { key: 'T' value { type: DT_FLOAT } } }\n"
    "node { name: 'm' op: 'MatMul' input: ['i1', 'w'] attr { key: 'T' value { type: DT_FLOAT } } }\n"
    "node { name: 'i2' op: 'Identity' input: 'm' attr { key: 'T' value { type: DT_FLOAT } } }\n"
    "node { name: 'u' op: 'FooBar' input: 'i2' attr { key: 'T' value { type: DT_FLOAT } } attr { key: 'k' value { i: 3 } } }\n"
    "node { name: 'u2' op: 'FooBar' input: 'u' attr { key: 'T' value { type: DT_FLOAT } } }\n"
    "node { name: 'q' op: 'Bazz' input: 'u2' }\n"
    "node { name: 'i3' op: 'Identity' input: 'm' attr { key: 'T' value { type: DT_FLOAT } } }\n"
    "node { name: 'r' op: 'Relu' input: 'i3' attr { key: 'T' value { type: DT_FLOAT } } }\n";

/* FooBar straight on the input: nothing for grappler to do */
static const char BARE[] =
    "node { name: 'x' op: 'Placeholder' attr { key: 'dtype' value { type: DT_FLOAT } }\n"
    "  attr { key: 'shape' value { shape { dim { size: 2 } } } } }\n"
    "node { name: 'u' op: 'FooBar' input: 'x' }\n";

static Graph *load(const char *text) {
    Err e;
    Graph *g = pbtxt_parse_limited(text, strlen(text), "t.pbtxt", NULL, &e);
    if (!g) fail_msg("%s", e.msg);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    return g;
}

static OptimizeOpts quick(bool allow) {
    OptimizeOpts o = optimize_opts_default();
    o.threads = 1;
    o.repeats = 2;
    o.eval_batches = 1;
    o.allow_unmeasured = allow;
    return o;
}

static void test_refused_with_every_op_named(void **state) {
    (void)state;
    Graph *g = load(GRAPH);
    OptimizeOpts o = quick(false);
    OptimizeResult *r = NULL;
    Err e;
    assert_int_equal(optimize_run(g, &o, &r, &e), -1);
    assert_null(r);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "3 nodes of 2 op types grappo cannot execute: FooBar x2, Bazz x1"));
    graph_free(g);
}

/* Relu(x @ w) of the graph, on the reference runtime, fetching only the supported part */
static void run_relu(const Graph *g, Tensor *out) {
    Err e;
    RefFeed f = {"x", tt_f32(2, (int64_t[]){1, 4}, (float[]){1, 2, -3, 0.5f})};
    ValueRef fetch = {graph_find(g, "r"), 0};
    assert_true(fetch.node >= 0);
    CHECK_OK(ref_run(g, &f, 1, &fetch, 1, out, NULL, &e), &e);
    tensor_release(&f.value);
}

static void test_exact_rewrites_unmeasured(void **state) {
    (void)state;
    Graph *g = load(GRAPH);
    OptimizeOpts o = quick(true);
    OptimizeResult *r = NULL;
    Err e;
    CHECK_OK(optimize_run(g, &o, &r, &e), &e);
    assert_true(r->unmeasured);
    assert_true(r->keep);
    assert_string_equal(r->unmeasured_why, "FooBar x2, Bazz x1");
    /* the three Identities are gone; FooBar, FooBar, Bazz kept with their attributes */
    assert_int_equal(r->product.log.total, 3);
    for (int i = 0; i < r->graph->n_nodes; i++) assert_int_not_equal(r->graph->nodes[i]->op, OP_IDENTITY);
    const Node *u = r->graph->nodes[graph_find(r->graph, "u")];
    assert_string_equal(u->op_name, "FooBar");
    assert_int_equal(u->n_inputs, 1);
    assert_string_equal(r->graph->nodes[u->inputs[0].node]->name, "m"); /* read the MatMul directly */
    assert_non_null(node_attr_find(u, "k"));
    assert_true(graph_find(r->graph, "u2") >= 0 && graph_find(r->graph, "q") >= 0);
    assert_non_null(strstr(r->verdict, "NOT MEASURED"));
    char line[1024];
    optimize_result_line(r, line, sizeof line);
    assert_string_equal(line, "RESULT: 3 exact rewrites applied, NOT MEASURED (grappo cannot execute FooBar x2, Bazz x1): "
                              "speed and accuracy unknown, runs in stock TensorFlow: yes");
    char *json = optimize_result_to_json(r, NULL);
    assert_non_null(json);
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "measured")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "unsupported_ops")), "FooBar x2, Bazz x1");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned")));
    cJSON_Delete(j);
    free(json);
    /* written and read back (nothing to run: the node count is what is checked) */
    uint8_t *pb = NULL;
    size_t len = 0;
    CHECK_OK(optimize_result_serialize(r, &pb, &len, &e), &e);
    Graph *back = graphdef_parse(pb, len, "written", &e);
    assert_non_null(back);
    CHECK_OK(graph_infer(back, NULL, 0, ref_eval_node, NULL, &e), &e);
    /* the supported part computes the same values */
    Tensor a, b;
    run_relu(g, &a);
    run_relu(back, &b);
    assert_int_equal(tensor_numel(&a), 4);
    assert_memory_equal(tensor_data(&a), tensor_data(&b), 16);
    tensor_release(&a);
    tensor_release(&b);
    graph_free(back);
    free(pb);
    optimize_result_free(r);
    graph_free(g);
}

static void test_other_methods_refused(void **state) {
    (void)state;
    Graph *g = load(GRAPH);
    OptimizeOpts o = quick(true);
    o.method = OPTIMIZE_GRAPPLER_INT8;
    OptimizeResult *r = NULL;
    Err e;
    assert_int_equal(optimize_run(g, &o, &r, &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "--search grappler"));
    assert_non_null(strstr(e.msg, "FooBar x2"));
    graph_free(g);
}

static void test_nothing_to_rewrite(void **state) {
    (void)state;
    Graph *g = load(BARE);
    OptimizeOpts o = quick(true);
    OptimizeResult *r = NULL;
    Err e;
    CHECK_OK(optimize_run(g, &o, &r, &e), &e);
    assert_true(r->unmeasured);
    assert_false(r->keep);
    assert_int_equal(r->graph->n_nodes, 2);
    char line[1024];
    optimize_result_line(r, line, sizeof line);
    assert_string_equal(line, "RESULT: unchanged \u2014 no rewrite was applied (not measured)");
    optimize_result_free(r);
    graph_free(g);
}

/* a graph grappo runs: allow_unmeasured changes nothing, it is measured */
static void test_runnable_graph_measured(void **state) {
    (void)state;
    static const char RUNS[] =
        "node { name: 'x' op: 'Placeholder' attr { key: 'dtype' value { type: DT_FLOAT } }\n"
        "  attr { key: 'shape' value { shape { dim { size: 1 } dim { size: 4 } } } } }\n"
        "node { name: 'i' op: 'Identity' input: 'x' attr { key: 'T' value { type: DT_FLOAT } } }\n"
        "node { name: 'r' op: 'Relu' input: 'i' attr { key: 'T' value { type: DT_FLOAT } } }\n";
    Graph *g = load(RUNS);
    OptimizeOpts o = quick(true);
    OptimizeResult *r = NULL;
    Err e;
    CHECK_OK(optimize_run(g, &o, &r, &e), &e);
    assert_false(r->unmeasured);
    assert_true(r->before.lat.ms.median > 0);
    assert_true(r->acc.min_cosine > 0.99);
    optimize_result_free(r);
    graph_free(g);
}

/* the CLI: exit codes, one stderr line on refusal, the RESULT line, nothing written on error */
static char tmp[64];

static int cli(const char *args) {
    const char *grappo = getenv("GRAPPO") ? getenv("GRAPPO") : "build/grappo";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s >%s/stdout 2>%s/stderr", grappo, args, tmp, tmp);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void slurp(const char *name, char *buf, size_t cap) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

static void write_text(const char *name, const char *text) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool file_exists(const char *name) {
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return stat(path, &st) == 0;
}

static void test_cli_exit_codes(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/grappo_unmeasured_XXXXXX");
    assert_non_null(mkdtemp(tmp));
    write_text("g.pbtxt", GRAPH);
    write_text("bare.pbtxt", BARE);
    char args[512], out[8192], err[8192];
    /* refused without the flag: exit 2, one line naming every op */
    snprintf(args, sizeof args, "optimize %s/g.pbtxt -o %s/a.pb", tmp, tmp);
    assert_int_equal(cli(args), 2);
    slurp("stderr", err, sizeof err);
    assert_non_null(strstr(err, "FooBar x2, Bazz x1"));
    assert_non_null(strchr(err, '\n'));
    assert_null(strchr(strchr(err, '\n') + 1, '\n'));
    assert_false(file_exists("a.pb"));
    /* with it: exit 0, the graph written, the last line says it was not measured */
    snprintf(args, sizeof args, "optimize %s/g.pbtxt -o %s/a.pb --allow-unmeasured", tmp, tmp);
    assert_int_equal(cli(args), 0);
    slurp("stdout", out, sizeof out);
    assert_non_null(strstr(out, "\nRESULT: 3 exact rewrites applied, NOT MEASURED (grappo cannot execute FooBar x2, Bazz x1)"));
    assert_true(file_exists("a.pb"));
    /* another method: exit 2, one line, nothing written */
    snprintf(args, sizeof args, "optimize %s/g.pbtxt -o %s/b.pb --allow-unmeasured --search grappler+int8", tmp, tmp);
    assert_int_equal(cli(args), 2);
    slurp("stderr", err, sizeof err);
    assert_non_null(strstr(err, "--search grappler"));
    assert_null(strchr(strchr(err, '\n') + 1, '\n'));
    assert_false(file_exists("b.pb"));
    /* nothing to rewrite: the input written, exit 3 with --fail-if-unchanged */
    snprintf(args, sizeof args, "optimize %s/bare.pbtxt -o %s/c.pb --allow-unmeasured --fail-if-unchanged", tmp, tmp);
    assert_int_equal(cli(args), 3);
    assert_true(file_exists("c.pb"));
    assert_int_equal(tu_rmtree(tmp), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_with_every_op_named),
        cmocka_unit_test(test_exact_rewrites_unmeasured),
        cmocka_unit_test(test_other_methods_refused),
        cmocka_unit_test(test_nothing_to_rewrite),
        cmocka_unit_test(test_runnable_graph_measured),
        cmocka_unit_test(test_cli_exit_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
