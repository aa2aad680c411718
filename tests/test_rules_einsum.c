/* test_rules_einsum.c - the rule einsum_to_matmul: every equation it lowers computes what the
 * Einsum computes (reference runtime on the original against the rewritten graph on both
 * runtimes, to float32 rounding) and leaves no Einsum; the equations it declines (diagonals, a
 * label summed in one input only, a repeated output label) keep their Einsum; a dynamic batch
 * dim becomes -1 in the Reshapes, so the rewritten graph is right at other batch sizes; the
 * attention einsums of a Keras MultiHeadAttention lower to the pattern fuse_attention fuses;
 * the rule is in the grappler pipeline; the Keras 3 BERT-style encoder frozen by TensorFlow
 * (tests/fixtures/einsum/bert_keras3, tools/make_einsum_fixture.py) computes TensorFlow's output
 * on both runtimes as loaded, after the grappler pipeline and with its attention fused. */
#include "testrules.h"

#include "io/npy.h"
#include "rewrite/pipeline.h"

#define BERT_DIR "tests/fixtures/einsum/bert_keras3/"

/* Placeholders x0 (, x1) of the given shapes (a -1 dim stays dynamic) -> Einsum(eq) -> output */
static Graph *einsum_graph(const char *eq, int n_in, const Shape *shapes) {
    Err e = {0};
    Graph *g = graph_new();
    int op = graph_add_node(g, "ein", "Einsum", &e);
    assert_true(op >= 0);
    for (int k = 0; k < n_in; k++) {
        char name[8];
        snprintf(name, sizeof name, "x%d", k);
        int p = graph_add_node(g, name, "Placeholder", &e);
        assert_true(p >= 0);
        CHECK_OK(node_set_attr_type(g->nodes[p], "dtype", DT_FLOAT, &e), &e);
        CHECK_OK(node_set_attr_shape(g->nodes[p], "shape", &shapes[k], &e), &e);
        CHECK_OK(node_add_input(g, op, (ValueRef){p, 0}, &e), &e);
    }
    CHECK_OK(node_set_attr_s(g->nodes[op], "equation", eq, &e), &e);
    CHECK_OK(node_set_attr_type(g->nodes[op], "T", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_i(g->nodes[op], "N", n_in, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){op, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    return g;
}

static int count_op(const Graph *g, OpId op) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i]->op == op;
    return c;
}

typedef struct Eq {
    const char *eq;
    int n_in;
    Shape s[2];
} Eq;

#define S(r, ...) {.rank = r, .dim = {__VA_ARGS__}}

static const Eq LOWERED[] = {
    {"ij,jk->ik", 2, {S(2, 2, 3), S(2, 3, 4)}},
    {"abc,cd->abd", 2, {S(3, 2, 3, 4), S(2, 4, 5)}},
    {"abcd,aecd->acbe", 2, {S(4, 2, 3, 2, 4), S(4, 2, 5, 2, 4)}},
    {"acbe,aecd->abcd", 2, {S(4, 2, 2, 3, 5), S(4, 2, 5, 2, 4)}},
    {"BTNH,BSNH->BNTS", 2, {S(4, 1, 3, 2, 4), S(4, 1, 5, 2, 4)}},
    {"BNTS,BSNH->BTNH", 2, {S(4, 1, 2, 3, 5), S(4, 1, 5, 2, 4)}},
    {"...ij,...jk->...ik", 2, {S(4, 2, 1, 2, 3), S(3, 3, 3, 4)}},
    {"abcd,cde->abe", 2, {S(4, 2, 3, 2, 4), S(3, 2, 4, 5)}},
    {"i,j->ij", 2, {S(1, 2), S(1, 3)}},
    {"ij,ij->ij", 2, {S(2, 2, 3), S(2, 2, 3)}},
    {"ij,kj->ik", 2, {S(2, 2, 3), S(2, 4, 3)}},
    {"ji,jk->ik", 2, {S(2, 3, 2), S(2, 3, 4)}},
    {"ij,jk->ki", 2, {S(2, 2, 3), S(2, 3, 4)}},
    {"i...j,j...k->i...k", 2, {S(3, 2, 5, 3), S(3, 3, 5, 4)}},
    {"...,...->...", 2, {S(2, 2, 3), S(1, 3)}},
    {"ab,ab->", 2, {S(2, 2, 3), S(2, 2, 3)}},
    {"bij,bjk->bik", 2, {S(3, 2, 2, 3), S(3, 2, 3, 2)}},
    {"bij,jk->bik", 2, {S(3, 2, 2, 3), S(2, 3, 2)}},
    {"ij->ji", 1, {S(2, 2, 3)}},
    {"ij->i", 1, {S(2, 2, 3)}},
    {"ij->", 1, {S(2, 2, 3)}},
    {"abc->ca", 1, {S(3, 2, 3, 4)}},
    {"...ij->...ji", 1, {S(3, 2, 2, 3)}},
    {"ij->ij", 1, {S(2, 2, 3)}},
};

static const Eq DECLINED[] = {
    {"ii->i", 1, {S(2, 3, 3)}},
    {"ii->", 1, {S(2, 3, 3)}},
    {"iij,jk->ik", 2, {S(3, 3, 3, 2), S(2, 2, 4)}},
    {"ij,jk->ikk", 2, {S(2, 2, 3), S(2, 3, 4)}},
    {"ij,jk->k", 2, {S(2, 2, 3), S(2, 3, 4)}}, /* i summed in x alone */
};

static void test_lowered_equal(void **state) {
    (void)state;
    const RuleDef *r = rule_by_name("einsum_to_matmul");
    assert_non_null(r);
    for (size_t i = 0; i < sizeof LOWERED / sizeof *LOWERED; i++) {
        const Eq *q = &LOWERED[i];
        Graph *g = einsum_graph(q->eq, q->n_in, q->s);
        print_message("  %s\n", q->eq);
        assert_int_equal(tr_check_each_site(r, g, 1e-6), 1);
        Graph *c = graph_clone(g, &(Err){0});
        assert_int_equal(tr_apply_all(r, c, 4), 1);
        assert_int_equal(count_op(c, OP_EINSUM), 0);
        /* the output keeps the Einsum's name */
        assert_string_equal(c->nodes[c->outputs[0].node]->name, "ein");
        graph_free(c);
        graph_free(g);
    }
}

static void test_declined(void **state) {
    (void)state;
    const RuleDef *r = rule_by_name("einsum_to_matmul");
    for (size_t i = 0; i < sizeof DECLINED / sizeof *DECLINED; i++) {
        Graph *g = einsum_graph(DECLINED[i].eq, DECLINED[i].n_in, DECLINED[i].s);
        SiteList sites = {0};
        CHECK_OK(rule_sites(r, g, &sites, &(Err){0}), &(Err){0});
        if (sites.n) { print_error("%s: %d sites, expected none\n", DECLINED[i].eq, sites.n); fail(); }
        sitelist_free(&sites);
        graph_free(g);
    }
}

/* Placeholder [?, 3, 4] (dynamic batch, inferred at 1): the rewritten graph, re-inferred and
   run at batch 3, equals the Einsum at batch 3 */
static void test_dynamic_batch(void **state) {
    (void)state;
    const RuleDef *r = rule_by_name("einsum_to_matmul");
    const Eq cases[] = {
        {"abc,cd->abd", 2, {S(3, -1, 3, 4), S(2, 4, 5)}},
        {"BTNH,BSNH->BNTS", 2, {S(4, -1, 3, 2, 4), S(4, -1, 5, 2, 4)}},
        {"BNTS,BSNH->BTNH", 2, {S(4, -1, 2, 3, 5), S(4, -1, 5, 2, 4)}},
        {"abcd,cde->abe", 2, {S(4, -1, 3, 2, 4), S(3, 2, 4, 5)}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Err e = {0};
        Graph *g = einsum_graph(cases[i].eq, 2, cases[i].s);
        Graph *c = graph_clone(g, &e);
        assert_int_equal(tr_apply_all(r, c, 4), 1);
        InputSpec specs[2];
        for (int k = 0; k < 2; k++) {
            Shape sh = cases[i].s[k];
            for (int d = 0; d < sh.rank; d++)
                if (sh.dim[d] < 0) sh.dim[d] = 3;
            specs[k] = (InputSpec){k ? "x1" : "x0", sh, DT_FLOAT};
        }
        CHECK_OK(graph_infer(g, specs, 2, ref_eval_node, NULL, &e), &e);
        CHECK_OK(graph_infer(c, specs, 2, ref_eval_node, NULL, &e), &e);
        assert_int_equal(g->nodes[g->outputs[0].node]->outputs[0].shape.dim[0], 3);
        for (int fast = 0; fast < 2; fast++) {
            double err = tr_compare(g, c, fast, 11);
            if (!(err <= 1e-6)) { print_error("%s at batch 3: rel err %.3g\n", cases[i].eq, err); fail(); }
        }
        graph_free(c);
        graph_free(g);
    }
}

/* Keras MultiHeadAttention: scores = Einsum(BTNH,BSNH->BNTS, q, k), Softmax, context =
   Einsum(BNTS,BSNH->BTNH, probs, v): lowered, fuse_attention finds the pattern */
static void test_attention_fuses_after_lowering(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graph_new();
    Shape qs = S(4, 1, 6, 2, 4);
    int in[3];
    for (int k = 0; k < 3; k++) {
        char name[4] = {"qkv"[k], 0};
        in[k] = graph_add_node(g, name, "Placeholder", &e);
        CHECK_OK(node_set_attr_type(g->nodes[in[k]], "dtype", DT_FLOAT, &e), &e);
        CHECK_OK(node_set_attr_shape(g->nodes[in[k]], "shape", &qs, &e), &e);
    }
    int sc = graph_add_node(g, "scores", "Einsum", &e), sm = graph_add_node(g, "probs", "Softmax", &e),
        cx = graph_add_node(g, "context", "Einsum", &e);
    CHECK_OK(node_set_attr_s(g->nodes[sc], "equation", "BTNH,BSNH->BNTS", &e), &e);
    CHECK_OK(node_set_attr_s(g->nodes[cx], "equation", "BNTS,BSNH->BTNH", &e), &e);
    for (int k = 0; k < 3; k++) {
        int node = k == 0 ? sc : k == 1 ? sm : cx;
        CHECK_OK(node_set_attr_type(g->nodes[node], "T", DT_FLOAT, &e), &e);
    }
    CHECK_OK(node_add_input(g, sc, (ValueRef){in[0], 0}, &e), &e);
    CHECK_OK(node_add_input(g, sc, (ValueRef){in[1], 0}, &e), &e);
    CHECK_OK(node_add_input(g, sm, (ValueRef){sc, 0}, &e), &e);
    CHECK_OK(node_add_input(g, cx, (ValueRef){sm, 0}, &e), &e);
    CHECK_OK(node_add_input(g, cx, (ValueRef){in[2], 0}, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){cx, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    Graph *c = graph_clone(g, &e);
    const RuleDef *fa = rule_by_name("fuse_attention");
    SiteList sites = {0};
    CHECK_OK(rule_sites(fa, c, &sites, &e), &e);
    assert_int_equal(sites.n, 0);
    sitelist_free(&sites);
    assert_int_equal(tr_apply_all(rule_by_name("einsum_to_matmul"), c, 4), 2);
    assert_int_equal(count_op(c, OP_TRANSPOSE), 4); /* q, k, v in; context out */
    assert_int_equal(tr_apply_all(fa, c, 4), 1);
    assert_int_equal(count_op(c, OP_GRAPPO_ATTENTION), 1);
    for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(g, c, fast, 5) <= 1e-5);
    graph_free(c);
    /* the grappler pipeline lowers Einsum first, with --target tf's flags too */
    CHECK_OK(pipeline_run("grappler", g, RULE_TF, NULL, &e), &e);
    assert_int_equal(count_op(g, OP_EINSUM), 0);
    assert_int_equal(count_op(g, OP_BATCH_MATMUL_V2), 2);
    graph_free(g);
}

/* the fixture's graph on one runtime against TensorFlow's output: max error <= 1e-4 max|tf| */
static void bert_check(const Graph *g, bool fast, const RefFeed *feeds, const Tensor *want, const char *what) {
    Tensor got;
    tr_run(g, fast, 1, feeds, 2, &got);
    double err = tr_rel_err(&got, want);
    print_message("  %-28s %s runtime: max error %.2g of max|tf|\n", what, fast ? "fast" : "ref ", err);
    if (!(err <= 1e-4)) fail();
    tensor_release(&got);
}

static void test_keras_bert_fixture(void **state) {
    (void)state;
    Err e = {0};
    RefFeed feeds[2] = {{"input_ids", {0}}, {"segment_ids", {0}}};
    Tensor want;
    CHECK_OK(npy_load(BERT_DIR "input_ids.npy", &feeds[0].value, &e), &e);
    CHECK_OK(npy_load(BERT_DIR "segment_ids.npy", &feeds[1].value, &e), &e);
    CHECK_OK(npy_load(BERT_DIR "output.npy", &want, &e), &e);
    Graph *g = graphdef_load(BERT_DIR "model.pb", &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    int out = graph_find(g, "Identity");
    assert_true(out >= 0);
    g->n_outputs = 0; /* the loader's guess (every sink); the signature's output is Identity:0 */
    CHECK_OK(graph_add_output(g, (ValueRef){out, 0}, &e), &e);
    InputSpec specs[2] = {{"input_ids", feeds[0].value.shape, DT_INT32}, {"segment_ids", feeds[1].value.shape, DT_INT32}};
    CHECK_OK(graph_infer(g, specs, 2, ref_eval_node, NULL, &e), &e);
    assert_int_equal(count_op(g, OP_EINSUM), 4);
    assert_int_equal(count_op(g, OP_ERFC), 2);
    for (int fast = 0; fast < 2; fast++) bert_check(g, fast, feeds, &want, "as loaded");
    /* the --target tf pipeline: no Einsum left */
    Graph *c = graph_clone(g, &e);
    CHECK_OK(pipeline_run("grappler", c, RULE_TF, NULL, &e), &e);
    assert_int_equal(count_op(c, OP_EINSUM), 0);
    for (int fast = 0; fast < 2; fast++) bert_check(c, fast, feeds, &want, "grappler");
    graph_free(c);
    /* lowered, then both layers' attention fused */
    c = graph_clone(g, &e);
    assert_int_equal(tr_apply_all(rule_by_name("einsum_to_matmul"), c, 8), 4);
    assert_int_equal(tr_apply_all(rule_by_name("fuse_attention"), c, 4), 2);
    assert_int_equal(count_op(c, OP_GRAPPO_ATTENTION), 2);
    for (int fast = 0; fast < 2; fast++) bert_check(c, fast, feeds, &want, "einsum_to_matmul, fuse_attention");
    graph_free(c);
    graph_free(g);
    tensor_release(&want);
    for (int k = 0; k < 2; k++) tensor_release(&feeds[k].value);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowered_equal),
        cmocka_unit_test(test_declined),
        cmocka_unit_test(test_dynamic_batch),
        cmocka_unit_test(test_attention_fuses_after_lowering),
        cmocka_unit_test(test_keras_bert_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
