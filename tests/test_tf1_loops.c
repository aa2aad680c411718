/* test_tf1_loops.c - TF1 while loops (Enter/Merge/Switch/LoopCond/NextIteration/Exit frames)
 * and TensorArrayV3 / TensorList state against TensorFlow 2.20's own outputs: graphs built by
 * tf.compat.v1.while_loop with control_flow_v2 off (tests/fixtures/tf1loops/, written by
 * tools/gen_ctrlflow_fixtures.py --tf1: a loop writing a TensorArray, a nested loop, a tf.cond
 * inside a loop, unstack/read/write/gather/concat, a read outside a loop), run on the reference
 * runtime and on the fast runtime (which hands such graphs whole to the reference runtime's
 * frame interpreter), and after the grappler pipeline (which must leave them exact). TensorList
 * ops on a hand-built graph with hand-computed results. Bad input, each one line and ERR_INPUT:
 * a cycle not through NextIteration (named), an Exit outside any loop, mismatched frames, a loop
 * that never ends (the iteration bound), a TensorArray read out of range, TensorList misuse. */
#include "testutil.h"
#include "testtfout.h"

#include <math.h>

#include "io/graphdef.h"
#include "io/npy.h"
#include "rewrite/pipeline.h"
#include "runtime/plan.h"
#include "runtime/ref.h"

#define DIR "tests/fixtures/tf1loops/"
#define MAX_IO 4

typedef struct Case {
    char pb[64];
    int n_in, n_out;
    char in_name[MAX_IO][32], out_name[MAX_IO][64];
    RefFeed feed[MAX_IO];
    Tensor want[MAX_IO];
} Case;

/* one MANIFEST line: "g.pb a=f.npy b=g.npy -> y:0=h.npy z:0=i.npy" */
static bool parse_case(char *line, Case *c) {
    memset(c, 0, sizeof *c);
    Err e = {0};
    char *save = NULL, *tok = strtok_r(line, " \n", &save);
    if (!tok || tok[0] == '#') return false;
    snprintf(c->pb, sizeof c->pb, "%s", tok);
    bool outs = false;
    while ((tok = strtok_r(NULL, " \n", &save))) {
        if (!strcmp(tok, "->")) { outs = true; continue; }
        char *eq = strrchr(tok, '=');
        assert_non_null(eq);
        *eq = 0;
        char path[256];
        snprintf(path, sizeof path, DIR "%s", eq + 1);
        if (outs) {
            assert_true(c->n_out < MAX_IO);
            snprintf(c->out_name[c->n_out], sizeof c->out_name[0], "%s", tok);
            CHECK_OK(npy_load(path, &c->want[c->n_out], &e), &e);
            c->n_out++;
        } else {
            assert_true(c->n_in < MAX_IO);
            snprintf(c->in_name[c->n_in], sizeof c->in_name[0], "%s", tok);
            c->feed[c->n_in].name = c->in_name[c->n_in];
            CHECK_OK(npy_load(path, &c->feed[c->n_in].value, &e), &e);
            c->n_in++;
        }
    }
    return true;
}

static void case_free(Case *c) {
    for (int k = 0; k < c->n_in; k++) tensor_release(&c->feed[k].value);
    for (int k = 0; k < c->n_out; k++) tensor_release(&c->want[k]);
}

static int infer_for(Graph *g, const Case *c, Err *e) {
    InputSpec specs[MAX_IO];
    for (int k = 0; k < c->n_in; k++) specs[k] = (InputSpec){c->in_name[k], c->feed[k].value.shape, c->feed[k].value.dtype};
    return graph_infer(g, specs, c->n_in, ref_eval_node, NULL, e);
}

static Graph *load_case(const Case *c, const char *pipeline) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s", c->pb);
    Err e = {0};
    Graph *g = graphdef_load(path, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    if (pipeline) {
        CHECK_OK(infer_for(g, c, &e), &e);
        int before = g->n_nodes;
        RewriteLog log = {0};
        CHECK_OK(pipeline_run(pipeline, g, 0, &log, &e), &e);
        assert_int_equal(g->n_nodes, before); /* TF1 control flow: the graph is left as it is */
        uint8_t *bytes;
        size_t len;
        CHECK_OK(graphdef_serialize(g, &bytes, &len, &e), &e);
        graph_free(g);
        g = graphdef_parse(bytes, len, "rewritten", &e);
        free(bytes);
        if (!g) { print_error("%s\n", e.msg); fail(); }
    }
    CHECK_OK(infer_for(g, c, &e), &e);
    g->n_outputs = 0;
    for (int k = 0; k < c->n_out; k++) {
        ValueRef out;
        CHECK_OK(graph_parse_ref(g, c->out_name[k], &out, &e), &e);
        CHECK_OK(graph_add_output(g, out, &e), &e);
    }
    return g;
}

/* every case of the manifest on both runtimes (after `pipeline` when given) */
static void run_manifest(const char *pipeline) {
    char *text = tu_read_text(DIR "MANIFEST");
    assert_non_null(text);
    int n_cases = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", line);
        Case c;
        if (!parse_case(buf, &c)) continue;
        Graph *g = load_case(&c, pipeline);
        for (int fast = 0; fast < 2; fast++) {
            Tensor got[MAX_IO] = {{0}};
            Err e = {0};
            char what[200];
            snprintf(what, sizeof what, "%s (%s runtime%s%s)", c.pb, fast ? "fast" : "ref", pipeline ? ", after " : "", pipeline ? pipeline : "");
            if (run_on(g, fast, c.feed, c.n_in, got, &e)) { print_error("%s: %s\n", what, e.msg); fail(); }
            for (int k = 0; k < c.n_out; k++) {
                char w2[300];
                snprintf(w2, sizeof w2, "%s %s", what, c.out_name[k]);
                check_close(w2, &got[k], &c.want[k]);
                tensor_release(&got[k]);
            }
        }
        graph_free(g);
        case_free(&c);
        n_cases++;
    }
    free(text);
    assert_true(n_cases >= 6);
}

static void test_fixtures_both_runtimes(void **state) { (void)state; run_manifest(NULL); }
static void test_grappler_keeps_exact(void **state) { (void)state; run_manifest("grappler"); }

/* the loop's structure: NextIteration -> Merge are back edges; inference gives the loop
   variable the shape it enters with */
static void test_back_edges_and_inference(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graphdef_load(DIR "nested.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    InputSpec specs[2] = {{"x", shape_make(1, (int64_t[]){2}), DT_FLOAT}, {"n", shape_scalar(), DT_INT32}};
    CHECK_OK(graph_infer(g, specs, 2, ref_eval_node, NULL, &e), &e);
    int merges = 0, backs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_MERGE) continue;
        merges++;
        for (int k = 0; k < n->n_inputs; k++) backs += graph_is_back_edge(g, n->inputs[k].node, n);
        assert_int_equal(n->outputs[0].shape.rank, 0 + (n->outputs[0].dtype == DT_FLOAT));
    }
    assert_int_equal(merges, 4); /* two loops of two variables each */
    assert_int_equal(backs, 4);
    graph_free(g);
}

static void expect_error(const char *pb, const char *needle, long max_iter) {
    Case c;
    char line[] = "nested.pb x=nested.0.x.npy n=nested.0.n.npy -> y:0=nested.0.y.npy";
    assert_true(parse_case(line, &c));
    char path[256];
    snprintf(path, sizeof path, DIR "%s", pb);
    Err e = {0};
    Graph *g = graphdef_load(path, &e);
    int rc = g ? infer_for(g, &c, &e) : -1;
    ref_set_max_loop_iterations(max_iter);
    for (int fast = 0; fast < 2 && !rc; fast++) {
        Tensor got = {0};
        e = (Err){0};
        rc = run_on(g, fast, c.feed, c.n_in, &got, &e) ? 0 : 1;
        assert_int_equal(rc, 0); /* must fail on both */
        if (!strstr(e.msg, needle)) { print_error("%s: %s\n", pb, e.msg); fail(); }
        rc = fast ? -1 : 0;
    }
    ref_set_max_loop_iterations(0);
    assert_int_equal(e.code, ERR_INPUT);
    if (!strstr(e.msg, needle) || strchr(e.msg, '\n')) { print_error("%s: %s\n", pb, e.msg); fail(); }
    graph_free(g);
    case_free(&c);
}

/* TensorFlow's loop with one edge changed: a cycle around a Merge that is not a NextIteration
   (the nodes on it named), an Exit reading a value outside any loop, a body node reading the
   inner loop's value directly */
static void test_hostile_graphs(void **state) {
    (void)state;
    expect_error("bad_cycle.pb", "graph has a cycle: 'while/Switch_1' -> 'while/Identity_1' -> ", 0);
    expect_error("bad_exit.pb", "node 'while/Exit_1' (Exit) is outside any TF1 loop frame (Exit without Enter)", 0);
    expect_error("bad_frames.pb", "mismatched TF1 loop frames", 0);
}

/* a loop whose condition never turns false stops at the iteration bound */
static void test_endless_loop(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graphdef_load(DIR "spin.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    InputSpec spec = {"x", shape_make(1, (int64_t[]){3}), DT_FLOAT};
    CHECK_OK(graph_infer(g, &spec, 1, ref_eval_node, NULL, &e), &e);
    Tensor x = tt_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    RefFeed feed = {"x", x};
    ref_set_max_loop_iterations(300);
    for (int fast = 0; fast < 2; fast++) {
        Tensor got = {0};
        e = (Err){0};
        assert_int_not_equal(run_on(g, fast, &feed, 1, &got, &e), 0);
        assert_int_equal(e.code, ERR_INPUT);
        if (!strstr(e.msg, "frame 'while/while_context' did not end after 300 iterations") || strchr(e.msg, '\n')) {
            print_error("message: %s\n", e.msg);
            fail();
        }
    }
    ref_set_max_loop_iterations(0);
    tensor_release(&x);
    graph_free(g);
}

/* TensorArrayReadV3 at index k of a 3-element array: k = 1 is TensorFlow's value, 3 and -1 are
   out of range */
static void test_tensor_array_read_range(void **state) {
    (void)state;
    Case c;
    char line[] = "ta_oob.pb x=ta_oob.0.x.npy k=ta_oob.0.k.npy -> y:0=ta_oob.0.y.npy";
    assert_true(parse_case(line, &c));
    Graph *g = load_case(&c, NULL);
    int32_t ks[2] = {3, -1};
    for (int j = 0; j < 2; j++) {
        Tensor k = {0};
        Err e = {0};
        Shape s0 = shape_scalar();
        CHECK_OK(tensor_from_data(&k, DT_INT32, &s0, &ks[j], sizeof ks[j], &e), &e);
        RefFeed feed[2] = {c.feed[0], {"k", k}};
        for (int fast = 0; fast < 2; fast++) {
            Tensor got = {0};
            assert_int_not_equal(run_on(g, fast, feed, 2, &got, &e), 0);
            assert_int_equal(e.code, ERR_INPUT);
            char want[96];
            snprintf(want, sizeof want, "tried to read from index %d but the array size is 3", ks[j]);
            if (!strstr(e.msg, want)) { print_error("%s\n", e.msg); fail(); }
        }
        tensor_release(&k);
    }
    graph_free(g);
    case_free(&c);
}

/* TensorList on a hand-built graph: FromTensor of [[1,2],[3,4],[5,6]], SetItem 1 <- [7,8],
   GetItem 1, Stack, Length; a Reserve of 2 whose stack has zeros where nothing was set; a
   GetItem out of range */
static int add(Graph *g, const char *name, const char *op, ValueRef *in, int n_in, Err *e) {
    int i = graph_add_node(g, name, op, e);
    assert_true(i >= 0);
    for (int k = 0; k < n_in; k++) CHECK_OK(node_add_input(g, i, in[k], e), e);
    return i;
}

static int add_const(Graph *g, const char *name, Tensor t, Err *e) {
    int i = add(g, name, "Const", NULL, 0, e);
    Node *n = g->nodes[i];
    CHECK_OK(node_set_attr_type(n, "dtype", t.dtype, e), e);
    CHECK_OK(node_set_attr_tensor(n, "value", &t, e), e);
    tensor_release(&t);
    return i;
}

static void test_tensor_list(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graph_new();
    Shape s0 = shape_scalar();
    int32_t one = 1, two = 2, five = 5, m1 = -1;
    Tensor t = tt_f32(2, (int64_t[]){3, 2}, (float[]){1, 2, 3, 4, 5, 6}), item = tt_f32(1, (int64_t[]){2}, (float[]){7, 8}), es, i1, i2, i5;
    int32_t esv[1] = {2};
    Shape s1 = shape_make(1, (int64_t[]){1});
    CHECK_OK(tensor_from_data(&es, DT_INT32, &s1, esv, sizeof esv, &e), &e);
    CHECK_OK(tensor_from_data(&i1, DT_INT32, &s0, &one, 4, &e), &e);
    CHECK_OK(tensor_from_data(&i2, DT_INT32, &s0, &two, 4, &e), &e);
    CHECK_OK(tensor_from_data(&i5, DT_INT32, &s0, &five, 4, &e), &e);
    (void)m1;
    int ct = add_const(g, "t", t, &e), ces = add_const(g, "es", es, &e), c1 = add_const(g, "one", i1, &e), c2 = add_const(g, "two", i2, &e);
    int citem = add_const(g, "item", item, &e), c5 = add_const(g, "five", i5, &e);
    int fl = add(g, "fl", "TensorListFromTensor", (ValueRef[]){{ct, 0}, {ces, 0}}, 2, &e);
    int set = add(g, "set", "TensorListSetItem", (ValueRef[]){{fl, 0}, {c1, 0}, {citem, 0}}, 3, &e);
    int get = add(g, "get", "TensorListGetItem", (ValueRef[]){{set, 0}, {c1, 0}, {ces, 0}}, 3, &e);
    int st = add(g, "stack", "TensorListStack", (ValueRef[]){{set, 0}, {ces, 0}}, 2, &e);
    int old = add(g, "old", "TensorListStack", (ValueRef[]){{fl, 0}, {ces, 0}}, 2, &e); /* a list is a value */
    int len = add(g, "len", "TensorListLength", (ValueRef[]){{set, 0}}, 1, &e);
    int res = add(g, "res", "TensorListReserve", (ValueRef[]){{ces, 0}, {c2, 0}}, 2, &e);
    int rset = add(g, "rset", "TensorListSetItem", (ValueRef[]){{res, 0}, {c1, 0}, {citem, 0}}, 3, &e);
    int rst = add(g, "rstack", "TensorListStack", (ValueRef[]){{rset, 0}, {ces, 0}}, 2, &e);
    int bad = add(g, "bad", "TensorListGetItem", (ValueRef[]){{set, 0}, {c5, 0}, {ces, 0}}, 3, &e);
    for (int i = 0; i < g->n_nodes; i++) {
        const char *op = g->nodes[i]->op_name;
        if (strstr(op, "TensorList") && strcmp(op, "TensorListLength") && strcmp(op, "TensorListFromTensor"))
            CHECK_OK(node_set_attr_type(g->nodes[i], "element_dtype", DT_FLOAT, &e), &e);
    }
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    ValueRef fetch[5] = {{get, 0}, {st, 0}, {old, 0}, {len, 0}, {rst, 0}};
    Tensor got[5] = {{0}};
    CHECK_OK(ref_run(g, NULL, 0, fetch, 5, got, NULL, &e), &e);
    Tensor w_get = tt_f32(1, (int64_t[]){2}, (float[]){7, 8}), w_st = tt_f32(2, (int64_t[]){3, 2}, (float[]){1, 2, 7, 8, 5, 6});
    Tensor w_old = tt_f32(2, (int64_t[]){3, 2}, (float[]){1, 2, 3, 4, 5, 6}), w_r = tt_f32(2, (int64_t[]){2, 2}, (float[]){0, 0, 7, 8});
    assert_tensor_near(&got[0], &w_get, 0);
    assert_tensor_near(&got[1], &w_st, 0);
    assert_tensor_near(&got[2], &w_old, 0);
    assert_int_equal((int)tensor_get(&got[3], 0), 3);
    assert_tensor_near(&got[4], &w_r, 0);
    for (int k = 0; k < 5; k++) tensor_release(&got[k]);
    ValueRef fb = {bad, 0};
    Tensor gb = {0};
    assert_int_not_equal(ref_run(g, NULL, 0, &fb, 1, &gb, NULL, &e), 0);
    assert_int_equal(e.code, ERR_INPUT);
    assert_non_null(strstr(e.msg, "trying to access element 5 in a list with 3 elements"));
    tensor_release(&w_get); tensor_release(&w_st); tensor_release(&w_old); tensor_release(&w_r);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_both_runtimes), cmocka_unit_test(test_grappler_keeps_exact),
        cmocka_unit_test(test_back_edges_and_inference), cmocka_unit_test(test_hostile_graphs),
        cmocka_unit_test(test_endless_loop), cmocka_unit_test(test_tensor_array_read_range),
        cmocka_unit_test(test_tensor_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
