/* test_pbtxt.c - GraphDefs in protobuf text format (io/pbtxt.h).
 *
 * Oracle 1: TensorFlow. tests/fixtures/pbtxt/ holds graphs TensorFlow froze and wrote both as
 * text and as binary (tools/make_pbtxt_fixtures.py): the text translates to exactly the bytes
 * TensorFlow serialized, loads (through model_file_load, by extension) into the same graph
 * node by node, and computes on the reference runtime what TensorFlow computed.
 * Oracle 2: hand-computed values for hand-written text (escapes, comments, lists, negative,
 * hex and octal numbers, nan / inf / 1e-3f). Hostile text gives ERR_INPUT, one line with
 * FILE:LINE:COLUMN. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/graph_func.h"
#include "io/graphdef.h"
#include "io/model_load.h"
#include "io/npy.h"
#include "io/pbtxt.h"
#include "runtime/ref.h"

#define DIR "tests/fixtures/pbtxt/"

static void check_tf_fixture(const char *name) {
    char txt[128], pb[128], in_path[128], out_path[128];
    snprintf(txt, sizeof txt, DIR "%s.pbtxt", name);
    snprintf(pb, sizeof pb, DIR "%s.pb", name);
    snprintf(in_path, sizeof in_path, DIR "%s.in.npy", name);
    snprintf(out_path, sizeof out_path, DIR "%s.out.npy", name);
    Err err;

    /* the translation is as long as TensorFlow's own serialization (the same fields, packed and
       map entries written alike; map entries may come in another order) */
    uint8_t *text, *bin, *wire;
    size_t tlen, blen, wlen;
    CHECK_OK(read_file_bytes(txt, &text, &tlen, &err), &err);
    CHECK_OK(read_file_bytes(pb, &bin, &blen, &err), &err);
    CHECK_OK(pbtxt_to_graphdef((const char *)text, tlen, txt, &wire, &wlen, &err), &err);
    assert_int_equal(wlen, blen);
    free(text);
    free(bin);
    free(wire);

    Graph *g = model_file_load(txt, NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    Graph *h = graphdef_load(pb, &err);
    if (!h) fail_msg("%s", err.msg);
    assert_int_equal(g->n_nodes, h->n_nodes);
    assert_int_equal(g->n_outputs, h->n_outputs);
    assert_true(g->n_nodes > 5);
    for (int i = 0; i < h->n_nodes; i++) {
        const Node *a = graph_node(h, i), *b = graph_node(g, i);
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->op_name, b->op_name);
        assert_int_equal(a->n_inputs, b->n_inputs);
        for (int k = 0; k < a->n_inputs; k++) {
            assert_int_equal(a->inputs[k].node, b->inputs[k].node);
            assert_int_equal(a->inputs[k].port, b->inputs[k].port);
        }
        assert_int_equal(a->n_attrs, b->n_attrs);
        for (int k = 0; k < a->n_attrs; k++) {
            const Attr *x = &a->attrs[k], *y = node_attr_find(b, x->name);
            assert_non_null(y);
            assert_int_equal(x->raw_len, y->raw_len);
            assert_memory_equal(x->raw, y->raw, x->raw_len);
        }
    }
    assert_int_equal(g->funcs ? g->funcs->n : 0, h->funcs ? h->funcs->n : 0);

    /* both compute what TensorFlow computed */
    Tensor in, want, got[2];
    CHECK_OK(npy_load(in_path, &in, &err), &err);
    CHECK_OK(npy_load(out_path, &want, &err), &err);
    Graph *gs[2] = {g, h};
    for (int m = 0; m < 2; m++) {
        CHECK_OK(graph_infer(gs[m], NULL, 0, ref_eval_node, NULL, &err), &err);
        RefFeed feed = {.name = "x", .value = in};
        ValueRef fetch;
        CHECK_OK(graph_parse_ref(gs[m], "Identity", &fetch, &err), &err);
        CHECK_OK(ref_run(gs[m], &feed, 1, &fetch, 1, &got[m], NULL, &err), &err);
    }
    assert_int_equal(tensor_numel(&got[0]), tensor_numel(&want));
    double maxerr = 0, maxref = 0;
    for (int64_t i = 0; i < tensor_numel(&want); i++) {
        assert_true(tensor_get(&got[0], i) == tensor_get(&got[1], i)); /* same graph, same numbers */
        maxerr = fmax(maxerr, fabs(tensor_get(&got[0], i) - tensor_get(&want, i)));
        maxref = fmax(maxref, fabs(tensor_get(&want, i)));
    }
    printf("[ pbtxt    ] %s: %d nodes, max|err| vs TensorFlow %.3g\n", name, g->n_nodes, maxerr);
    assert_true(maxerr <= 1e-4 * maxref + 1e-7);
    tensor_release(&in);
    tensor_release(&want);
    tensor_release(&got[0]);
    tensor_release(&got[1]);
    graph_free(g);
    graph_free(h);
}

static void test_tf_cnn(void **state) {
    (void)state;
    check_tf_fixture("cnn");
}

static void test_tf_while(void **state) {
    (void)state;
    check_tf_fixture("while"); /* function library (While cond and body) in text form */
}

static const char EDGE[] =
    "# a comment at the top\n"
    "node <\n"
    "  name: 'c' op: \"Const\"   # single quotes, <> delimiters\n"
    "  attr { key: \"dtype\" value { type: DT_FLOAT } }\n"
    "  attr { key: \"value\" value: { tensor {\n"
    "    dtype: DT_FLOAT tensor_shape { dim { size: 6 } }\n"
    "    float_val: [nan, -inf, 1e-3f, -2, 0x10] float_val: Infinity\n"
    "  } } }\n"
    "  attr { key: \"s\" value { s: \"a\\n\\\"b\\\\\\'\\x41\\101\\0\" 'tail' } }\n"
    "  attr { key: \"l\" value { list { i: [-9223372036854775808, 017, 3] shape { dim { size: -1 } }\n"
    "                                 shape { unknown_rank: true } } } },\n"
    "  attr { key: \"i\"; value { i: -5 } };\n"
    "  attr { key: \"b\" value { b: t } }\n"
    "  attr { key: \"e\" value { list { } } }\n"
    ">\n"
    "node { name: \"y\" op: \"Identity\" input: [\"c\"] attr { key: \"T\" value { type: 1 } } }\n"
    "versions { producer: 1700 }\n";

static void test_edge_cases(void **state) {
    (void)state;
    Err err;
    Graph *g = pbtxt_parse_limited(EDGE, strlen(EDGE), "edge.pbtxt", NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    assert_int_equal(g->n_nodes, 2);
    assert_int_equal(g->producer, 1700);
    const Node *c = graph_node(g, graph_find(g, "c"));
    const Attr *v = node_attr_find(c, "value");
    assert_non_null(v);
    assert_int_equal(v->kind, ATTR_TENSOR);
    assert_int_equal(tensor_numel(&v->tensor), 6);
    assert_true(isnan(tensor_get(&v->tensor, 0)));
    assert_true(isinf(tensor_get(&v->tensor, 1)) && tensor_get(&v->tensor, 1) < 0);
    assert_true(tensor_get(&v->tensor, 2) == (double)1e-3f);
    assert_true(tensor_get(&v->tensor, 3) == -2.0);
    assert_true(tensor_get(&v->tensor, 4) == 16.0);
    assert_true(isinf(tensor_get(&v->tensor, 5)) && tensor_get(&v->tensor, 5) > 0);
    const Attr *s = node_attr_find(c, "s");
    static const char want_s[] = "a\n\"b\\'AA\0tail";
    assert_int_equal(s->kind, ATTR_STRING);
    assert_int_equal(s->s.len, sizeof want_s - 1);
    assert_memory_equal(s->s.data, want_s, sizeof want_s - 1);
    const Attr *l = node_attr_find(c, "l");
    assert_int_equal(l->kind, ATTR_LIST);
    assert_int_equal(l->list.kind, ATTR_INT); /* the first element kind seen */
    assert_int_equal(l->list.n, 3);
    assert_true(l->list.i[0] == INT64_MIN);
    assert_int_equal(l->list.i[1], 15);
    assert_int_equal(l->list.i[2], 3);
    assert_int_equal(node_attr_find(c, "i")->i, -5);
    assert_true(node_attr_find(c, "b")->b);
    const Node *y = graph_node(g, graph_find(g, "y"));
    assert_int_equal(y->n_inputs, 1);
    assert_int_equal(node_attr_find(y, "T")->type, DT_FLOAT);
    graph_free(g);
}

/* one line, ERR_INPUT, naming the file, its line and column, and saying what */
static void expect_bad(const char *text, const char *where, const char *needle) {
    Err err;
    Graph *g = pbtxt_parse_limited(text, strlen(text), "bad.pbtxt", NULL, &err);
    if (g) {
        graph_free(g);
        fail_msg("loaded bad text, wanted '%s'", needle);
    }
    assert_int_equal(err.code, ERR_INPUT);
    char loc[64];
    snprintf(loc, sizeof loc, "bad.pbtxt:%s: ", where);
    if (!strstr(err.msg, needle) || (where[0] && !strstr(err.msg, loc)))
        fail_msg("unexpected: %s (wanted %s%s)", err.msg, loc, needle);
    assert_null(strchr(err.msg, '\n'));
}

static void test_hostile(void **state) {
    (void)state;
    expect_bad("node { name: \"abc", "1:14", "unterminated string");
    expect_bad("node { name: \"a\nb\" }", "1:14", "unterminated string");
    expect_bad("node { name: \"a\\qb\" op: \"X\" }", "1:14", "invalid escape '\\q'");
    expect_bad("node { name: \"a\\x\" }", "1:14", "without hex digits");
    expect_bad("node { name: \"\\777\" }", "1:14", "above \\377");
    expect_bad("node {\n  nme: \"a\" }", "2:3", "NodeDef has no field 'nme'");
    expect_bad("node { name: \"a\" name: \"b\" }", "1:18", "given more than once");
    expect_bad("node { attr { key: \"k\" value { i: 1 s: \"x\" } } }", "1:37", "same oneof");
    expect_bad("node { [foo.bar] { } }", "1:8", "not supported");
    expect_bad("node { name: \"a\"", "1:17", "to close NodeDef");
    expect_bad("node { name \"a\" }", "1:13", "expected ':'");
    expect_bad("node { name: [\"a\"] }", "1:14", "non-repeated");
    expect_bad("node } ", "1:6", "expected '{'");
    expect_bad("versions { producer: 99999999999 }", "1:22", "out of range");
    expect_bad("versions { producer: -2147483649 }", "1:23", "out of range");
    expect_bad("node { attr { key: \"k\" value { i: 99999999999999999999999 } } }", "1:35", "expected an integer");
    expect_bad("node { attr { key: \"k\" value { i: 1.5 } } }", "1:35", "expected an integer");
    expect_bad("node { attr { key: \"k\" value { f: 0x1p3 } } }", "1:35", "expected a number");
    expect_bad("node { attr { key: \"k\" value { b: maybe } } }", "1:35", "true or false");
    expect_bad("node { attr { key: \"k\" value { type: DT_NOPE } } }", "1:38", "unknown enum value 'DT_NOPE'");
    expect_bad("node { attr { key: \"k\" value { list { func { attr { key: \"x\" value { tensor { "
               "resource_handle_val { hash_code: -1 } } } } } } } } }",
               "1:113", "negative value for an unsigned field");
    expect_bad("node { name: \"a\" op: \"X\" } @", "1:28", "unexpected character '@'");
    /* nesting past PBTXT_MAX_DEPTH: FullTypeDef.args nests without bound */
    size_t deep = 300, cap = deep * 10 + 64, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "node { experimental_type {");
    for (size_t i = 0; i < deep; i++) n += (size_t)snprintf(text + n, cap - n, " args {");
    for (size_t i = 0; i < deep + 2; i++) n += (size_t)snprintf(text + n, cap - n, "}");
    expect_bad(text, "", "nested deeper than 100");
    free(text);
    /* a huge splatted constant is refused by the binary reader's budget, not materialised */
    expect_bad("node { name: \"c\" op: \"Const\" attr { key: \"value\" value { tensor { dtype: DT_FLOAT "
               "tensor_shape { dim { size: 1000000000000 } } float_val: 1 } } } }",
               "", "c");
    /* semantic errors of the binary reader keep the file name */
    expect_bad("node { name: \"a\" op: \"Identity\" input: \"nowhere\" }", "", "names no node");
}

/* every command takes FILE.pbtxt: model_file_load dispatches by extension, and a missing file
 * is the usual one-line error */
static void test_dispatch(void **state) {
    (void)state;
    Err err;
    assert_null(model_file_load("tests/fixtures/pbtxt/missing.pbtxt", NULL, &err));
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "missing.pbtxt"));
    /* a binary .pb renamed .pbtxt is text-parsed and refused, not misread */
    char dir[] = "/tmp/grappo_pbtxt_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cnn.pbtxt", dir);
    uint8_t *bin;
    size_t blen;
    CHECK_OK(read_file_bytes(DIR "cnn.pb", &bin, &blen, &err), &err);
    CHECK_OK(atomic_write_file(path, bin, blen, &err), &err);
    free(bin);
    assert_null(model_file_load(path, NULL, &err));
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, ":1:"));
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tf_cnn),     cmocka_unit_test(test_tf_while), cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_hostile),    cmocka_unit_test(test_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
