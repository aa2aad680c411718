/* test_pbtxt_write.c - writing GraphDefs in protobuf text format (pbtxt_write.c).
 *
 * Oracle 1: the reader (pbtxt.c), which test_pbtxt checks against TensorFlow's own text and
 * binary: text -> binary -> text -> binary gives the first binary again, on TensorFlow's
 * fixtures (a CNN, a While with its function library) and on hand-written text holding every
 * attr kind, tensor contents of every kind, strings that need escaping and NaN / inf floats.
 * Oracle 2: hand-written expectations of the text (escapes, enum names, nan / -inf).
 * Oracle 3: grappo's own graphs: zoo ResNet-8 and BERT-tiny written as .pbtxt (graphdef_save by
 * extension) load back into graphs that serialize to the same bytes. TensorFlow parsing and
 * running grappo's text is tests/tf/test_tf_pbtxt.py. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/graphdef.h"
#include "io/model_load.h"
#include "io/pb_wire.h"
#include "io/pbtxt.h"
#include "zoo/zoo.h"

/* text -> bin1 -> text2 -> bin2, bin1 == bin2; returns text2 (caller frees) */
static char *round_trip(const char *text, size_t len, const char *what) {
    Err err;
    uint8_t *bin1, *bin2;
    size_t n1, n2, tlen;
    char *text2;
    CHECK_OK(pbtxt_to_graphdef(text, len, what, &bin1, &n1, &err), &err);
    CHECK_OK(pbtxt_from_graphdef(bin1, n1, &text2, &tlen, &err), &err);
    assert_int_equal(strlen(text2), tlen);
    CHECK_OK(pbtxt_to_graphdef(text2, tlen, "written", &bin2, &n2, &err), &err);
    if (n1 != n2 || memcmp(bin1, bin2, n1)) fail_msg("%s: %zu bytes, after the round trip %zu (or different)", what, n1, n2);
    free(bin1);
    free(bin2);
    return text2;
}

static void check_tf_fixture(const char *path, const char *must_hold) {
    Err err;
    uint8_t *text;
    size_t len;
    CHECK_OK(read_file_bytes(path, &text, &len, &err), &err);
    char *text2 = round_trip((const char *)text, len, path);
    if (must_hold && !strstr(text2, must_hold)) fail_msg("%s: the written text lacks '%s'", path, must_hold);
    free(text2);
    free(text);
}

static void test_tf_fixtures(void **state) {
    (void)state;
    check_tf_fixture("tests/fixtures/pbtxt/cnn.pbtxt", "tensor_content: \"");
    check_tf_fixture("tests/fixtures/pbtxt/while.pbtxt", "library {\n  function {\n    signature {\n");
}

static const char ALL_KINDS[] =
    "node {\n"
    "  name: \"n\\\"1\" op: \"Kinds\" input: \"x:0\" input: \"^ctl\" device: \"/cpu:0\"\n"
    "  attr { key: \"s\" value { s: \"a\\\"b\\\\c\\n\\t\\r\\000\\377\\303\\251\\x01 'q'\" } }\n"
    "  attr { key: \"i\" value { i: -9223372036854775808 } }\n"
    "  attr { key: \"f_nan\" value { f: nan } }\n"
    "  attr { key: \"f_ninf\" value { f: -inf } }\n"
    "  attr { key: \"f_tenth\" value { f: 0.1 } }\n"
    "  attr { key: \"f_tiny\" value { f: 1.4e-45 } }\n"
    "  attr { key: \"b\" value { b: true } }\n"
    "  attr { key: \"type\" value { type: DT_HALF } }\n"
    "  attr { key: \"ref\" value { type: DT_FLOAT_REF } }\n"
    "  attr { key: \"type_num\" value { type: 77 } }\n"
    "  attr { key: \"shape\" value { shape { dim { size: -1 } dim { size: 3 name: \"c\" } } } }\n"
    "  attr { key: \"unknown_rank\" value { shape { unknown_rank: true } } }\n"
    "  attr { key: \"floats\" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 5 } }\n"
    "         float_val: [1.5, nan, inf, -inf, -0.0] } } }\n"
    "  attr { key: \"content\" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } }\n"
    "         tensor_content: \"\\001\\000\\000\\000\\377\\377\\377\\377\" } } }\n"
    "  attr { key: \"strings\" value { tensor { dtype: DT_STRING tensor_shape { dim { size: 2 } }\n"
    "         string_val: \"x\" string_val: \"\\\"q\\\"\\n\" } } }\n"
    "  attr { key: \"half\" value { tensor { dtype: DT_HALF half_val: 15360 } } }\n"
    "  attr { key: \"i64\" value { tensor { dtype: DT_INT64 int64_val: [-1, 9223372036854775807] } } }\n"
    "  attr { key: \"dbl\" value { tensor { dtype: DT_DOUBLE double_val: [0.1, -0.0, 1e300, -nan] } } }\n"
    "  attr { key: \"bools\" value { tensor { dtype: DT_BOOL bool_val: [true, false] } } }\n"
    "  attr { key: \"u64\" value { tensor { dtype: DT_UINT64 uint64_val: 18446744073709551615 } } }\n"
    "  attr { key: \"i8\" value { tensor { dtype: DT_INT8 int_val: [-128, 127] } } }\n"
    "  attr { key: \"func\" value { func { name: \"add_one\" attr { key: \"T\" value { type: DT_FLOAT } } } } }\n"
    "  attr { key: \"placeholder\" value { placeholder: \"T\" } }\n"
    "  attr { key: \"list\" value { list { s: [\"a\", \"b\\n\"] i: [1, -2] f: [0.5, nan, -inf] b: [true, false]\n"
    "         type: [DT_FLOAT, DT_INT8] shape { dim { size: 1 } } shape { unknown_rank: true }\n"
    "         tensor { dtype: DT_FLOAT float_val: 2 } func { name: \"add_one\" } } } }\n"
    "  attr { key: \"empty_list\" value { list { } } }\n"
    "  experimental_debug_info { original_node_names: \"orig\" }\n"
    "}\n"
    "library {\n"
    "  function {\n"
    "    signature {\n"
    "      name: \"add_one\"\n"
    "      input_arg { name: \"x\" type_attr: \"T\" }\n"
    "      output_arg { name: \"y\" type_attr: \"T\" }\n"
    "      attr { name: \"T\" type: \"type\" allowed_values { list { type: [DT_FLOAT, DT_HALF] } } }\n"
    "      is_stateful: false\n"
    "    }\n"
    "    attr { key: \"_noinline\" value { b: true } }\n"
    "    node_def { name: \"one\" op: \"Const\"\n"
    "      attr { key: \"dtype\" value { type: DT_FLOAT } }\n"
    "      attr { key: \"value\" value { tensor { dtype: DT_FLOAT tensor_shape { } float_val: 1 } } } }\n"
    "    node_def { name: \"add\" op: \"AddV2\" input: \"x\" input: \"one:output:0\"\n"
    "      attr { key: \"T\" value { placeholder: \"T\" } } }\n"
    "    ret { key: \"y\" value: \"add:z:0\" }\n"
    "    control_ret { key: \"c\" value: \"add\" }\n"
    "    arg_attr { key: 0 value { attr { key: \"_user\" value { s: \"u\" } } } }\n"
    "  }\n"
    "  gradient { function_name: \"add_one\" gradient_func: \"add_one_grad\" }\n"
    "}\n"
    "versions { producer: 1234 min_consumer: 12 bad_consumers: [3, 4] }\n";

static void test_all_kinds(void **state) {
    (void)state;
    char *text2 = round_trip(ALL_KINDS, sizeof ALL_KINDS - 1, "all_kinds.pbtxt");
    static const char *const want[] = {
        "  name: \"n\\\"1\"\n",
        "s: \"a\\\"b\\\\c\\n\\t\\r\\000\\377\\303\\251\\001 'q'\"\n",
        "i: -9223372036854775808\n",
        "f: nan\n",
        "f: -inf\n",
        "f: 0.100000001\n",
        "f: 1.40129846e-45\n",
        "type: DT_HALF\n",
        "type: DT_FLOAT_REF\n",
        "type: 77\n",
        "float_val: 1.5\n        float_val: nan\n        float_val: inf\n        float_val: -inf\n        float_val: -0\n",
        "tensor_content: \"\\001\\000\\000\\000\\377\\377\\377\\377\"\n",
        "string_val: \"\\\"q\\\"\\n\"\n",
        "double_val: 0.10000000000000001\n",
        "double_val: -nan\n",
        "uint64_val: 18446744073709551615\n",
        "int_val: -128\n",
        "placeholder: \"T\"\n",
        "ret {\n      key: \"y\"\n      value: \"add:z:0\"\n    }\n",
        "bad_consumers: 3\n  bad_consumers: 4\n",
        "unknown_rank: true\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text2, want[i])) fail_msg("the written text lacks [%s]:\n%s", want[i], text2);
    free(text2);
}

/* a field the schema does not know has no text form: ERR_INPUT naming it, no text */
static void test_unknown_field(void **state) {
    (void)state;
    ByteBuf node = {0}, g = {0};
    bb_len_field(&node, 1, "n", 1);
    bb_len_field(&node, 99, "??", 2);
    bb_len_field(&g, 1, node.data, node.len);
    char *text = (char *)1;
    size_t len = 7;
    Err err;
    assert_int_equal(pbtxt_from_graphdef(g.data, g.len, &text, &len, &err), -1);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "field 99 of NodeDef"));
    /* a float field with a varint wire type */
    ByteBuf bad = {0}, attr = {0}, entry = {0};
    bb_tag(&attr, 4, PB_VARINT);
    bb_varint(&attr, 1);
    bb_len_field(&entry, 1, "f", 1);
    bb_len_field(&entry, 2, attr.data, attr.len);
    node.len = 0;
    bb_len_field(&node, 5, entry.data, entry.len);
    bb_len_field(&bad, 1, node.data, node.len);
    assert_int_equal(pbtxt_from_graphdef(bad.data, bad.len, &text, &len, &err), -1);
    assert_non_null(strstr(err.msg, "AttrValue.f"));
    bb_free(&node), bb_free(&g), bb_free(&bad), bb_free(&attr), bb_free(&entry);
}

static void check_graph_round_trip(const char *zoo_name) {
    Err err;
    Graph *g = zoo_build(zoo_name, NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    char dir[] = "/tmp/grappo_pbtxtw_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/m.pbtxt", dir);
    CHECK_OK(graphdef_save(g, path, &err), &err);
    char *text = tu_read_text(path);
    assert_non_null(text);
    assert_non_null(strstr(text, "node {\n  name: \"")); /* text, not binary */
    free(text);
    Graph *back = model_file_load(path, NULL, &err);
    if (!back) fail_msg("%s", err.msg);
    uint8_t *a, *b;
    size_t na, nb;
    CHECK_OK(graphdef_serialize(g, &a, &na, &err), &err);
    CHECK_OK(graphdef_serialize(back, &b, &nb, &err), &err);
    if (na != nb || memcmp(a, b, na)) fail_msg("%s: %zu bytes before, %zu after reading the text back", zoo_name, na, nb);
    free(a);
    free(b);
    graph_free(back);
    graph_free(g);
    tu_rmtree(dir);
}

static void test_grappo_graphs(void **state) {
    (void)state;
    check_graph_round_trip("resnet8");
    check_graph_round_trip("bert-tiny");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tf_fixtures),
        cmocka_unit_test(test_all_kinds),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_grappo_graphs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
