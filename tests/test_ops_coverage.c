/* test_ops_coverage.c - what grappo says about graphs it cannot (fully) execute: the error
 * names every unsupported op with its count (at run on both runtimes, and at inspect), a TF1
 * while loop runs (its NextIteration back edge is no cycle; any other cycle is named), plan_probe
 * classifies every node, and `grappo ops FILE` lists the ops by runtime with exit 0 (the binary
 * comes from $GRAPPO, default build/grappo). */
#include "test_ops_util.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/graphdef.h"
#include "rewrite/rule.h"

static int ph(Graph *g, const char *name, int dt, int rank, const int64_t *dims) {
    Err e;
    int i = tr_node(g, name, "Placeholder");
    Shape s = shape_make(rank, dims);
    CHECK_OK(node_set_attr_type(g->nodes[i], "dtype", dt, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[i], "shape", &s, &e), &e);
    return i;
}

/* ops outside the op table get their outputs from their consumers at load (io/); here: 2 */
static int op1(Graph *g, const char *name, const char *op, int in) {
    Err e;
    int i = tr_node(g, name, op);
    tr_input(g, i, in, 0);
    if (g->nodes[i]->op == OP_UNKNOWN) CHECK_OK(node_set_num_outputs(g->nodes[i], 2, &e), &e);
    return i;
}

/* x -> Relu -> Foo -> Bar -> Foo -> Identity, and x -> Greater(0) -> Where */
static Graph *mixed_graph(int *ids) {
    Err e;
    Graph *g = graph_new();
    int x = ph(g, "x", DT_FLOAT, 1, (int64_t[]){4});
    int relu = op1(g, "relu", "Relu", x);
    int foo = op1(g, "foo", "FooOp", relu);
    int bar = op1(g, "bar", "BarOp", foo);
    int foo2 = op1(g, "foo2", "FooOp", bar);
    int id = op1(g, "after", "Identity", foo2);
    int zero = tr_const(g, "zero", to_f32(0, NULL, (float[]){0}));
    int gt = op1(g, "gt", "Greater", x);
    tr_input(g, gt, zero, 0);
    int wh = op1(g, "where", "Where", gt);
    CHECK_OK(graph_add_output(g, (ValueRef){id, 0}, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){wh, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    int v[] = {x, relu, foo, bar, foo2, id, zero, gt, wh};
    memcpy(ids, v, sizeof v);
    return g;
}

static void test_every_unsupported_op_is_named(void **state) {
    (void)state;
    int id[9];
    Graph *g = mixed_graph(id);
    char list[200];
    int types = 0;
    assert_int_equal(graph_unsupported_ops(g, NULL, list, sizeof list, &types), 3);
    assert_int_equal(types, 2);
    assert_string_equal(list, "FooOp x2, BarOp x1"); /* most frequent first */
    Err e;
    RefFeed f = {"x", to_f32(1, (int64_t[]){4}, (float[]){1, -1, 2, 0})};
    Tensor out[2] = {{0}};
    assert_int_equal(ref_run(g, &f, 1, NULL, 0, out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "3 nodes of 2 op types grappo cannot execute: FooOp x2, BarOp x1"));
    assert_int_equal(e.code, ERR_INPUT); /* an unknown op is bad input: exit 2 */
    assert_null(plan_compile(g, NULL, 0, NULL, &e));
    assert_non_null(strstr(e.msg, "3 nodes of 2 op types grappo cannot execute: FooOp x2, BarOp x1"));
    /* fetching only what does not need them runs, on both runtimes */
    ValueRef fetch = {id[8], 0};
    CHECK_OK(ref_run(g, &f, 1, &fetch, 1, out, NULL, &e), &e);
    assert_int_equal(out[0].shape.dim[0], 2); /* x > 0 at 0 and 2 */
    tensor_release(&out[0]);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, &fetch, 1, &po, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(plan_run(p, &f, 1, out, NULL, &e), &e);
    assert_int_equal(tensor_get(&out[0], 1), 2);
    tensor_release(&out[0]);
    plan_free(p);
    tensor_release(&f.value);
    graph_free(g);
}

static void test_plan_probe_classifies_every_node(void **state) {
    (void)state;
    int id[9];
    Graph *g = mixed_graph(id);
    PlanNodeSupport s[16];
    Err e;
    PlanOpts ref_only = {.reference = true};
    CHECK_OK(plan_probe(g, &ref_only, s, &e), &e);
    assert_int_equal(s[id[0]].kind, PLAN_NODE_INPUT);
    assert_int_equal(s[id[1]].kind, PLAN_NODE_REF);
    assert_int_equal(s[id[2]].kind, PLAN_NODE_UNSUPPORTED);
    assert_false(s[id[2]].reference);
    assert_int_equal(s[id[3]].kind, PLAN_NODE_UNSUPPORTED);
    assert_int_equal(s[id[5]].kind, PLAN_NODE_BLOCKED);
    assert_true(s[id[5]].reference);
    assert_int_equal(s[id[6]].kind, PLAN_NODE_CONST);
    assert_int_equal(s[id[8]].kind, PLAN_NODE_DYNAMIC);
    CHECK_OK(plan_probe(g, NULL, s, &e), &e);
    /* with the fast families asked, float32 Relu gets a oneDNN kernel; Where stays dynamic */
    assert_int_equal(s[id[1]].kind, PLAN_NODE_FAST);
    assert_true(strlen(s[id[1]].impl) > 0);
    assert_int_equal(s[id[8]].kind, PLAN_NODE_DYNAMIC);
    graph_free(g);
}

/* x -> Enter -> Merge <- NextIteration <- Add <- Identity <- Switch(Merge, LoopCond(Less)) ; Exit */
static Graph *tf1_loop(void) {
    Err e;
    Graph *g = graph_new();
    int x = ph(g, "x", DT_FLOAT, 0, NULL);
    int enter = op1(g, "while/Enter", "Enter", x);
    CHECK_OK(node_set_attr_s(g->nodes[enter], "frame_name", "while/while_context", &e), &e);
    int merge = op1(g, "while/Merge", "Merge", enter);
    int lim = tr_const(g, "lim", to_f32(0, NULL, (float[]){10}));
    int less = op1(g, "while/Less", "Less", merge);
    tr_input(g, less, lim, 0);
    int cond = op1(g, "while/LoopCond", "LoopCond", less);
    int sw = op1(g, "while/Switch", "Switch", merge);
    tr_input(g, sw, cond, 0);
    int body = tr_node(g, "while/Identity", "Identity");
    tr_input(g, body, sw, 1);
    int next = op1(g, "while/NextIteration", "NextIteration", body);
    tr_input(g, merge, next, 0); /* the back edge */
    int ex = op1(g, "while/Exit", "Exit", sw);
    CHECK_OK(graph_add_output(g, (ValueRef){ex, 0}, &e), &e);
    return g;
}

static void test_tf1_loop_is_named_not_a_cycle(void **state) {
    (void)state;
    Graph *g = tf1_loop();
    Err e;
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_true(op_is_tf1_control_flow("Switch") && op_is_tf1_control_flow("NextIteration"));
    assert_false(op_is_tf1_control_flow("Identity"));
    /* x >= 10: the loop ends at once and Exit gives x; x < 10: its body never changes x, so it
       runs until the iteration bound stops it, on both runtimes */
    for (int fast = 0; fast < 2; fast++) {
        Tensor x = to_f32(0, NULL, (float[]){20}), got = {0};
        RefFeed feed = {"x", x};
        PlanOpts o = {.threads = 1};
        Plan *p = fast ? plan_compile(g, NULL, 0, &o, &e) : NULL;
        if (fast) assert_non_null(p);
        CHECK_OK(fast ? plan_run(p, &feed, 1, &got, NULL, &e) : ref_run(g, &feed, 1, NULL, 0, &got, NULL, &e), &e);
        assert_true(tensor_get(&got, 0) == 20);
        tensor_release(&got);
        tensor_release(&x);
        x = to_f32(0, NULL, (float[]){1});
        feed.value = x;
        ref_set_max_loop_iterations(50);
        assert_int_not_equal(fast ? plan_run(p, &feed, 1, &got, NULL, &e) : ref_run(g, &feed, 1, NULL, 0, &got, NULL, &e), 0);
        ref_set_max_loop_iterations(0);
        assert_int_equal(e.code, ERR_INPUT);
        assert_non_null(strstr(e.msg, "frame 'while/while_context' did not end after 50 iterations"));
        tensor_release(&x);
        plan_free(p);
    }
    graph_free(g);
    /* a plain cycle without TF1 control flow is still a cycle, its nodes named */
    g = graph_new();
    int a = tr_node(g, "a", "Identity"), b = op1(g, "b", "Identity", a);
    tr_input(g, a, b, 0);
    assert_int_equal(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "graph has a cycle: 'b' -> 'a' -> 'b'"));
    graph_free(g);
}

static void test_tf1_cond_is_named(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int x = ph(g, "x", DT_FLOAT, 1, (int64_t[]){2});
    int p = ph(g, "p", DT_BOOL, 0, NULL);
    int sw = op1(g, "cond/Switch", "Switch", x);
    tr_input(g, sw, p, 0);
    int m = op1(g, "cond/Merge", "Merge", sw);
    tr_input(g, m, sw, 1);
    CHECK_OK(graph_add_output(g, (ValueRef){m, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    /* tf.cond's Switch/Merge run on the reference runtime; the fast runtime hands the graph to it */
    CHECK_OK(graph_check_executable(g, NULL, &e), &e);
    PlanOpts o = {.threads = 1};
    Plan *plan = plan_compile(g, NULL, 0, &o, &e);
    assert_non_null(plan);
    Tensor xv = to_f32(1, (int64_t[]){2}, (float[]){3, 4}), pv = {0}, got = {0};
    Shape s0 = shape_scalar();
    uint8_t t = 1;
    CHECK_OK(tensor_from_data(&pv, DT_BOOL, &s0, &t, 1, &e), &e);
    RefFeed feeds[2] = {{"x", xv}, {"p", pv}};
    CHECK_OK(plan_run(plan, feeds, 2, &got, NULL, &e), &e); /* either branch: the Merge gives x */
    assert_tensor_near(&got, &xv, 0);
    tensor_release(&got); tensor_release(&xv); tensor_release(&pv);
    plan_free(plan);
    graph_free(g);
}

/* PlaceholderWithDefault runs as its default (grappo never feeds it) and stays in the graph:
   fold_constants does not turn it into a Const, as Grappler does not */
static void test_placeholder_with_default(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int c = tr_const(g, "default", to_f32(1, (int64_t[]){2}, (float[]){1.5f, -2}));
    int p = op1(g, "training", "PlaceholderWithDefault", c);
    int x = ph(g, "x", DT_FLOAT, 1, (int64_t[]){2});
    int add = op1(g, "sum", "AddV2", x);
    tr_input(g, add, p, 0);
    CHECK_OK(graph_add_output(g, (ValueRef){add, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    RefFeed f = {"x", to_f32(1, (int64_t[]){2}, (float[]){1, 1})};
    Tensor out = {0};
    CHECK_OK(ref_run(g, &f, 1, NULL, 0, &out, NULL, &e), &e);
    assert_true(tensor_get(&out, 0) == 2.5 && tensor_get(&out, 1) == -1);
    tensor_release(&out);
    SiteList sites = {0};
    CHECK_OK(rule_sites(rule_by_name("fold_constants"), g, &sites, &e), &e);
    assert_int_equal(sites.n, 0);
    sitelist_free(&sites);
    tensor_release(&f.value);
    graph_free(g);
}

static const char *grappo_bin(void) {
    const char *b = getenv("GRAPPO");
    return b && *b ? b : "build/grappo";
}

static int run_cli(const char *args, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", grappo_bin(), args);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_grappo_ops_command(void **state) {
    (void)state;
    int id[9];
    Graph *g = mixed_graph(id);
    char dir[] = "/tmp/grappo_ops_XXXXXX", path[256], args[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/mixed.pb", dir);
    Err e;
    CHECK_OK(graphdef_save(g, path, &e), &e);
    graph_free(g);
    static char out[1 << 16];
    snprintf(args, sizeof args, "ops %s", path);
    assert_int_equal(run_cli(args, out, sizeof out), 0); /* exit 0 although two ops cannot run */
    assert_non_null(strstr(out, "2 op types (3 nodes) grappo cannot execute"));
    assert_non_null(strstr(out, "FooOp x2, BarOp x1"));
    assert_non_null(strstr(out, "ref dynamic"));            /* Where */
    assert_non_null(strstr(out, "after an unsupported op")); /* the Identity after FooOp */
    /* one row per op type: FooOp has 2 nodes, no reference kernel, no fast kernel */
    char *row = strstr(out, "\nFooOp");
    assert_non_null(row);
    int count = 0;
    char refcol[16], fastcol[16];
    assert_int_equal(sscanf(row, "\nFooOp %d %15s %15s", &count, refcol, fastcol), 3);
    assert_int_equal(count, 2);
    assert_string_equal(refcol, "no");
    assert_string_equal(fastcol, "no");
    snprintf(args, sizeof args, "ops %s --json", path);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"runs\":\tfalse"));
    assert_non_null(strstr(out, "\"unsupported_nodes\":\t3"));
    /* run still fails, naming both */
    snprintf(args, sizeof args, "run %s", path);
    assert_int_equal(run_cli(args, out, sizeof out), 2); /* bad input */
    assert_non_null(strstr(out, "FooOp x2, BarOp x1"));
    /* the dynamic part in run's memory report and profile: fetch only Where */
    snprintf(args, sizeof args, "run %s --output where --profile", path);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "+ dynamic "));
    assert_non_null(strstr(out, "(measured: 1 nodes with run-time shapes, outside the arena)"));
    assert_non_null(strstr(out, "ref (dynamic shape)"));
    assert_non_null(strstr(out, "1 dynamic)"));
    snprintf(args, sizeof args, "run %s --output where --json", path);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    char *db = strstr(out, "\"dynamic_bytes\":");
    assert_non_null(db);
    assert_true(atof(db + strlen("\"dynamic_bytes\":")) > 0);
    assert_int_equal(run_cli("ops --list", out, sizeof out), 0);
    assert_non_null(strstr(out, "| NonMaxSuppressionV5 | yes | depends on values (dynamic) |"));
    /* docs/ops.md ends with exactly this table: adding an op without regenerating it fails here */
    char *doc = tu_read_text("docs/ops.md");
    assert_non_null(doc);
    char *table = strstr(doc, "| op | reference kernel | output size |");
    assert_non_null(table);
    assert_string_equal(table, out);
    free(doc);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_unsupported_op_is_named),
        cmocka_unit_test(test_plan_probe_classifies_every_node),
        cmocka_unit_test(test_tf1_loop_is_named_not_a_cycle),
        cmocka_unit_test(test_tf1_cond_is_named),
        cmocka_unit_test(test_placeholder_with_default),
        cmocka_unit_test(test_grappo_ops_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
