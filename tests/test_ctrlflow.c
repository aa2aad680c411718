/* test_ctrlflow.c - TF2 functional control flow (While / StatelessWhile, StatelessIf,
 * StatelessCase with their function bodies) on both runtimes against TensorFlow 2.20's own
 * outputs (tests/fixtures/ctrlflow/, written by tools/gen_ctrlflow_fixtures.py: tf.while_loop,
 * tf.cond, tf.switch_case, a tf.function with a Python loop over a tensor holding an If and a
 * frozen variable, a loop whose variable grows (run-time shape), and a SavedModel); the grappler
 * pipeline leaving them exact and the function library surviving a save; bad input: a missing
 * body, a body of the wrong arity, a loop that never ends (bounded, one-line error). TF1
 * tf.cond (Switch/Merge, cond_lowered.pb) on the reference runtime, which the fast one hands it to. */
#include "testutil.h"
#include "testtfout.h"

#include <math.h>

#include "io/graphdef.h"
#include "io/npy.h"
#include "io/saved_model.h"
#include "graph/graph_func.h"
#include "rewrite/pipeline.h"
#include "rewrite/rule.h"
#include "runtime/plan.h"
#include "runtime/ref.h"

#define CF_DIR "tests/fixtures/ctrlflow/"
#define MAX_IO 4

typedef struct Case {
    char pb[64];
    int n_in;
    char in_name[MAX_IO][32];
    RefFeed feed[MAX_IO];
    Tensor want;
    char out_name[64];
} Case;

/* one MANIFEST line: "g.pb a=f.npy b=g.npy -> Identity:0=h.npy" */
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
        snprintf(path, sizeof path, CF_DIR "%s", eq + 1);
        if (outs) {
            snprintf(c->out_name, sizeof c->out_name, "%s", tok);
            CHECK_OK(npy_load(path, &c->want, &e), &e);
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
    tensor_release(&c->want);
}

static void infer_for(Graph *g, const Case *c) {
    Err e = {0};
    InputSpec specs[MAX_IO];
    for (int k = 0; k < c->n_in; k++) specs[k] = (InputSpec){c->in_name[k], c->feed[k].value.shape, c->feed[k].value.dtype};
    CHECK_OK(graph_infer(g, specs, c->n_in, ref_eval_node, NULL, &e), &e);
}

/* g's output 0 on the reference (fast = false) or fast runtime */
/* every case of the manifest whose graph is TF2 control flow, both runtimes; with `pipeline`,
   after that rewrite pipeline (and a save/load round trip of the rewritten graph) */
static void run_manifest(const char *pipeline) {
    char *text = tu_read_text(CF_DIR "MANIFEST");
    assert_non_null(text);
    int n_cases = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", line);
        Case c;
        if (!parse_case(buf, &c)) continue;
        bool tf1 = strstr(c.pb, "lowered") != NULL; /* TF1 Switch/Merge: the fast runtime hands it to the reference one */
        char path[256];
        snprintf(path, sizeof path, CF_DIR "%s", c.pb);
        Err e = {0};
        Graph *g = graphdef_load(path, &e);
        if (!g) { print_error("%s\n", e.msg); fail(); }
        if (!tf1) assert_non_null(g->funcs); /* the bodies were instantiated */
        if (pipeline) {
            infer_for(g, &c);
            RewriteLog log = {0};
            if (!strcmp(pipeline, "every exact rule")) {
                int nr;
                const RuleDef *const *rules = rules_all(&nr);
                const char *names[256];
                int ne = 0;
                for (int r = 0; r < nr && ne < 256; r++)
                    if (rules[r]->flags & RULE_EXACT) names[ne++] = rules[r]->name;
                CHECK_OK(pipeline_fixed_point(names, ne, g, 0, 8, &log, &e), &e);
            } else {
                CHECK_OK(pipeline_run(pipeline, g, 0, &log, &e), &e);
            }
            uint8_t *bytes;
            size_t len;
            CHECK_OK(graphdef_serialize(g, &bytes, &len, &e), &e);
            graph_free(g);
            g = graphdef_parse(bytes, len, "rewritten", &e); /* the library was written back */
            free(bytes);
            if (!g) { print_error("%s\n", e.msg); fail(); }
        }
        infer_for(g, &c);
        ValueRef out;
        CHECK_OK(graph_parse_ref(g, c.out_name, &out, &e), &e);
        g->n_outputs = 0;
        CHECK_OK(graph_add_output(g, out, &e), &e);
        for (int fast = 0; fast < 2; fast++) {
            Tensor got = {0};
            char what[160];
            snprintf(what, sizeof what, "%s (%s runtime%s%s)", c.pb, fast ? "fast" : "ref", pipeline ? ", after " : "", pipeline ? pipeline : "");
            if (run_on(g, fast, c.feed, c.n_in, &got, &e)) { print_error("%s: %s\n", what, e.msg); fail(); }
            check_close(what, &got, &c.want);
            tensor_release(&got);
        }
        graph_free(g);
        case_free(&c);
        n_cases++;
    }
    free(text);
    assert_true(n_cases >= 11);
}

static void test_fixtures_both_runtimes(void **state) { (void)state; run_manifest(NULL); }

/* rewrites leave While/If/Case and their bodies alone: still exact after grappler, and after
   every exact rule applied wherever it matches */
static void test_grappler_keeps_exact(void **state) { (void)state; run_manifest("grappler"); }
static void test_exact_rules_keep_exact(void **state) { (void)state; run_manifest("every exact rule"); }

/* the op table says which nodes are control flow, and their outputs: StatelessWhile's come from
   output_shapes, so the grown loop variable is run-time shaped ([-1]) */
static void test_inference(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graphdef_load(CF_DIR "grow.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    InputSpec specs[2] = {{"x", shape_make(1, (int64_t[]){3}), DT_FLOAT}, {"n", shape_make(0, NULL), DT_INT32}};
    CHECK_OK(graph_infer(g, specs, 2, ref_eval_node, NULL, &e), &e);
    int w = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_STATELESS_WHILE) w = i;
    assert_true(w >= 0);
    const Node *n = g->nodes[w];
    bool found = false;
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k].dtype == DT_FLOAT) {
            assert_int_equal(n->outputs[k].shape.rank, 1);
            assert_int_equal(n->outputs[k].shape.dim[0], -1);
            found = true;
        }
    assert_true(found);
    assert_true(ref_node_is_dynamic(n));
    graph_free(g);
}

static void test_saved_model(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = savedmodel_load(CF_DIR "sm_while", NULL, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    Tensor x, want;
    CHECK_OK(npy_load(CF_DIR "sm_while.in.npy", &x, &e), &e);
    CHECK_OK(npy_load(CF_DIR "sm_while.out.npy", &want, &e), &e);
    InputSpec spec = {"x", x.shape, DT_FLOAT};
    CHECK_OK(graph_infer(g, &spec, 1, ref_eval_node, NULL, &e), &e);
    RefFeed feed = {"x", x};
    for (int fast = 0; fast < 2; fast++) {
        Tensor got = {0};
        if (run_on(g, fast, &feed, 1, &got, &e)) { print_error("%s\n", e.msg); fail(); }
        check_close(fast ? "sm_while (fast)" : "sm_while (ref)", &got, &want);
        tensor_release(&got);
    }
    tensor_release(&x);
    tensor_release(&want);
    graph_free(g);
}

static void expect_load_error(const char *file, const char *needle) {
    Err e = {0};
    Graph *g = graphdef_load(file, &e);
    assert_null(g);
    assert_int_equal(e.code, ERR_INPUT);
    if (!strstr(e.msg, needle) || strchr(e.msg, '\n')) { print_error("message: %s\n", e.msg); fail(); }
}

static void test_bad_bodies(void **state) {
    (void)state;
    expect_load_error(CF_DIR "bad_nobody.pb", "is not in the graph's function library");
    expect_load_error(CF_DIR "bad_arity.pb", "body function");
}

/* a TensorArray written in a TF2 loop (tools/gen_ctrlflow_fixtures.py talist: element i =
   x * i for i < 3): its TensorList travels as a variant loop variable, held as the list's
   handle (dtype_as_computed), the list in the run's table the body shares; both runtimes give
   the stack [x * 0, x * 1, x * 2] exactly */
static void test_tensorlist_loop_variable(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graphdef_load(CF_DIR "talist.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    InputSpec spec = {"x", shape_make(1, (int64_t[]){3}), DT_FLOAT};
    CHECK_OK(graph_infer(g, &spec, 1, ref_eval_node, NULL, &e), &e);
    CHECK_OK(graph_check_executable(g, NULL, &e), &e);
    Tensor x = tt_f32(1, (int64_t[]){3}, (float[]){1, 2, -3}), got[2] = {{0}};
    RefFeed feed = {"x", x};
    CHECK_OK(ref_run(g, &feed, 1, NULL, 0, &got[0], NULL, &e), &e);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(plan_run(p, &feed, 1, &got[1], NULL, &e), &e);
    const float want[9] = {0, 0, -0.0f, 1, 2, -3, 2, 4, -6}; /* -3 * 0 = -0 (IEEE, as TensorFlow) */
    for (int r = 0; r < 2; r++) {
        assert_int_equal(got[r].shape.rank, 2);
        assert_int_equal(got[r].shape.dim[0], 3);
        assert_int_equal(got[r].shape.dim[1], 3);
        assert_memory_equal(tensor_data(&got[r]), want, sizeof want);
        tensor_release(&got[r]);
    }
    plan_free(p);
    tensor_release(&x);
    graph_free(g);
}

/* a loop that never ends stops at the iteration bound with one line, on both runtimes */
static void test_endless_loop(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graphdef_load(CF_DIR "spin.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    InputSpec spec = {"x", shape_make(1, (int64_t[]){3}), DT_FLOAT};
    CHECK_OK(graph_infer(g, &spec, 1, ref_eval_node, NULL, &e), &e);
    Tensor x = tt_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    RefFeed feed = {"x", x};
    ref_set_max_loop_iterations(500);
    for (int fast = 0; fast < 2; fast++) {
        Tensor got = {0};
        e = (Err){0};
        assert_int_not_equal(run_on(g, fast, &feed, 1, &got, &e), 0);
        assert_int_equal(e.code, ERR_INPUT);
        if (!strstr(e.msg, "did not end after 500 iterations") || strchr(e.msg, '\n')) { print_error("message: %s\n", e.msg); fail(); }
    }
    ref_set_max_loop_iterations(0);
    assert_int_equal(ref_max_loop_iterations(), REF_MAX_LOOP_ITERATIONS_DEFAULT);
    tensor_release(&x);
    graph_free(g);
}

/* TF1 tf.cond (Switch/Merge) runs on the reference runtime (run_manifest: cond_lowered.pb);
   here: a dead fetch is an error, and a Switch whose predicate is not a bool scalar is bad input */
static void test_tf1_cond_edges(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graphdef_load(CF_DIR "cond_lowered.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    InputSpec spec = {"x", shape_make(2, (int64_t[]){2, 3}), DT_FLOAT};
    CHECK_OK(graph_infer(g, &spec, 1, ref_eval_node, NULL, &e), &e);
    int sw = -1, mul = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->op == OP_SWITCH && sw < 0) sw = i;
        if (g->nodes[i]->op == OP_MUL) mul = i; /* x * 2: the true branch */
    }
    assert_true(sw >= 0 && mul >= 0);
    Tensor x = tt_f32(2, (int64_t[]){2, 3}, (float[]){-1, -2, -3, -4, -5, -6}), got = {0}; /* sum < 0: false branch */
    RefFeed feed = {"x", x};
    ValueRef f = {mul, 0};
    assert_int_not_equal(ref_run(g, &feed, 1, &f, 1, &got, NULL, &e), 0);
    if (!strstr(e.msg, "is dead") || strchr(e.msg, '\n')) { print_error("message: %s\n", e.msg); fail(); }
    tensor_release(&x);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_both_runtimes), cmocka_unit_test(test_grappler_keeps_exact),
        cmocka_unit_test(test_exact_rules_keep_exact),
        cmocka_unit_test(test_inference),              cmocka_unit_test(test_saved_model),
        cmocka_unit_test(test_bad_bodies),             cmocka_unit_test(test_endless_loop),
        cmocka_unit_test(test_tensorlist_loop_variable),
        cmocka_unit_test(test_tf1_cond_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
