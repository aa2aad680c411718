/* test_saved_model.c - the SavedModel reader: the tf.Module fixture (written by TensorFlow)
 * loads, its Placeholders and outputs carry the signature's names and it computes what
 * TensorFlow computed; savedmodel_save output reads back the same; and bad input - a truncated
 * saved_model.pb, an unknown tag set or signature, a function that calls itself, an unknown op
 * inside a function - gives ERR_INPUT with one line naming the file (and the node). */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/pb_wire.h"
#include "io/saved_model.h"
#include "runtime/ref.h"
#include "saved_model.pb-c.h"

#define FIX "tests/fixtures/saved_model"

static Graph *load_fixture(const SavedModelOpts *o, Err *err) { return savedmodel_load(FIX "/module", o, err); }

static void check_module(Graph *g) {
    Err err;
    CHECK_OK(graph_validate(g, &err), &err);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &err), &err);
    assert_int_equal(g->n_outputs, 2);
    assert_string_equal(graph_node(g, g->outputs[0].node)->name, "total");
    assert_string_equal(graph_node(g, g->outputs[1].node)->name, "y");
    int x = graph_find(g, "x");
    assert_true(x >= 0);
    assert_string_equal(graph_node(g, x)->op_name, "Placeholder");
    Tensor in, out[2], ref[2];
    CHECK_OK(npy_load(FIX "/in_x.npy", &in, &err), &err);
    CHECK_OK(npy_load(FIX "/ref_total.npy", &ref[0], &err), &err);
    CHECK_OK(npy_load(FIX "/ref_y.npy", &ref[1], &err), &err);
    RefFeed feed = {.name = "x", .value = in};
    CHECK_OK(ref_run(g, &feed, 1, NULL, 0, out, NULL, &err), &err);
    for (int i = 0; i < 2; i++) {
        assert_tensor_near(&out[i], &ref[i], 1e-5);
        tensor_release(&out[i]);
        tensor_release(&ref[i]);
    }
    tensor_release(&in);
}

static void test_loads_tf_module(void **state) {
    (void)state;
    Err err;
    Graph *g = load_fixture(NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    check_module(g);
    graph_free(g);
    SavedModelOpts o = {.tags = "serve", .signature = "serving_default"};
    g = load_fixture(&o, &err);
    if (!g) fail_msg("%s", err.msg);
    graph_free(g);
}

static void test_write_read_back(void **state) {
    (void)state;
    Err err;
    Graph *g = load_fixture(NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &err), &err);
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/grappo_sm_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char out[96];
    snprintf(out, sizeof out, "%s/out/", dir);
    CHECK_OK(savedmodel_save(g, out, &err), &err);
    CHECK_OK(savedmodel_save(g, out, &err), &err); /* replaces its own earlier output */
    graph_free(g);
    g = savedmodel_load(out, NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    check_module(g);
    graph_free(g);
    /* a path that is not a SavedModel is never replaced */
    char file[96];
    snprintf(file, sizeof file, "%s/plain", dir);
    CHECK_OK(atomic_write_file(file, "x", 1, &err), &err);
    g = load_fixture(NULL, &err);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &err), &err);
    assert_int_equal(savedmodel_save(g, file, &err), -1);
    assert_non_null(strstr(err.msg, "not a SavedModel directory"));
    graph_free(g);
    /* what optimize checks before any work: the same rule, without writing */
    CHECK_OK(savedmodel_output_check(out, &err), &err); /* an earlier SavedModel */
    assert_int_equal(savedmodel_output_check(dir, &err), -1); /* a directory without saved_model.pb */
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "not a SavedModel directory"));
    char missing[128];
    snprintf(missing, sizeof missing, "%s/no/such/dir", dir);
    assert_int_equal(savedmodel_output_check(missing, &err), -1);
    assert_non_null(strstr(err.msg, "does not exist or is not writable"));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void expect_bad(Graph *g, const Err *err, const char *file, const char *needle) {
    if (g) {
        graph_free(g);
        fail_msg("loaded a bad SavedModel, wanted '%s'", needle);
    }
    assert_int_equal(err->code, ERR_INPUT);
    if (strncmp(err->msg, file, strlen(file)) || !strstr(err->msg, needle)) fail_msg("unexpected: %s (wanted %s)", err->msg, needle);
    assert_null(strchr(err->msg, '\n'));
}

static void test_bad_tags_signature_truncation(void **state) {
    (void)state;
    Err err;
    SavedModelOpts o = {.tags = "serve,gpu"};
    expect_bad(load_fixture(&o, &err), &err, FIX "/module/saved_model.pb", "no MetaGraph with tag set {serve,gpu}");
    o = (SavedModelOpts){.signature = "nope"};
    expect_bad(load_fixture(&o, &err), &err, FIX "/module/saved_model.pb", "no signature 'nope'");
    expect_bad(savedmodel_load("tests/fixtures", NULL, &err), &err, "tests/fixtures", "not a SavedModel directory");
    uint8_t *data;
    size_t len;
    CHECK_OK(read_file_bytes(FIX "/module/saved_model.pb", &data, &len, &err), &err);
    for (size_t cut = 1; cut < len; cut += len / 7 + 1)
        expect_bad(savedmodel_parse(data, cut, "sm.pb", NULL, NULL, &err), &err, "sm.pb", "");
    free(data);
}

/* ---- SavedModels built here: x -> call f -> out ---- */

static void node(ByteBuf *b, uint32_t field, const char *name, const char *op, const char *input, const char *func) {
    ByteBuf n = {0};
    bb_len_field(&n, 1, name, strlen(name));
    bb_len_field(&n, 2, op, strlen(op));
    if (input) bb_len_field(&n, 3, input, strlen(input));
    if (func) { /* attr f = AttrValue{func: NameAttrList{name}} */
        ByteBuf nal = {0}, av = {0}, e = {0};
        bb_len_field(&nal, 1, func, strlen(func));
        bb_len_field(&av, 10, nal.data, nal.len);
        bb_len_field(&e, 1, "f", 1);
        bb_len_field(&e, 2, av.data, av.len);
        bb_len_field(&n, 5, e.data, e.len);
        bb_free(&nal);
        bb_free(&av);
        bb_free(&e);
    }
    bb_len_field(b, field, n.data, n.len);
    bb_free(&n);
}

/* A SavedModel (tag serve, signature serving_default: x -> out) whose graph is Placeholder x and
   one StatefulPartitionedCall of `callee` from `lib`, parsed from memory as file `what`. */
static Graph *parse_calling(const Grappo__Tf__FunctionDefLibrary *lib, const char *callee, const char *what, Err *err) {
    size_t lib_len = grappo__tf__function_def_library__get_packed_size(lib);
    uint8_t *lib_bytes = malloc(lib_len);
    assert_non_null(lib_bytes);
    grappo__tf__function_def_library__pack(lib, lib_bytes);
    ByteBuf gd = {0};
    node(&gd, 1, "x", "Placeholder", NULL, NULL);
    node(&gd, 1, "call", "StatefulPartitionedCall", "x", callee);
    bb_len_field(&gd, 2, lib_bytes, lib_len);
    Grappo__Tf__TensorInfo ti_in = GRAPPO__TF__TENSOR_INFO__INIT, ti_out = GRAPPO__TF__TENSOR_INFO__INIT;
    ti_in.name = (ProtobufCBinaryData){3, (uint8_t *)"x:0"};
    ti_out.name = (ProtobufCBinaryData){6, (uint8_t *)"call:0"};
    Grappo__Tf__SignatureDef__InputsEntry ie = GRAPPO__TF__SIGNATURE_DEF__INPUTS_ENTRY__INIT, *iep = &ie;
    ie.key = "x";
    ie.value = &ti_in;
    Grappo__Tf__SignatureDef__OutputsEntry oe = GRAPPO__TF__SIGNATURE_DEF__OUTPUTS_ENTRY__INIT, *oep = &oe;
    oe.key = "out";
    oe.value = &ti_out;
    Grappo__Tf__SignatureDef sd = GRAPPO__TF__SIGNATURE_DEF__INIT;
    sd.n_inputs = sd.n_outputs = 1;
    sd.inputs = &iep;
    sd.outputs = &oep;
    Grappo__Tf__MetaGraphDef__SignatureDefEntry se = GRAPPO__TF__META_GRAPH_DEF__SIGNATURE_DEF_ENTRY__INIT, *sep = &se;
    se.key = "serving_default";
    se.value = &sd;
    ProtobufCBinaryData tag = {5, (uint8_t *)"serve"};
    Grappo__Tf__MetaGraphDef__MetaInfoDef info = GRAPPO__TF__META_GRAPH_DEF__META_INFO_DEF__INIT;
    info.n_tags = 1;
    info.tags = &tag;
    Grappo__Tf__MetaGraphDef mg = GRAPPO__TF__META_GRAPH_DEF__INIT, *mgp = &mg;
    mg.meta_info_def = &info;
    mg.graph_def = (ProtobufCBinaryData){gd.len, gd.data};
    mg.n_signature_def = 1;
    mg.signature_def = &sep;
    Grappo__Tf__SavedModel sm = GRAPPO__TF__SAVED_MODEL__INIT;
    sm.n_meta_graphs = 1;
    sm.meta_graphs = &mgp;
    size_t len = grappo__tf__saved_model__get_packed_size(&sm);
    uint8_t *bytes = malloc(len);
    assert_non_null(bytes);
    grappo__tf__saved_model__pack(&sm, bytes);
    Graph *g = savedmodel_parse(bytes, len, what, NULL, NULL, err);
    free(bytes);
    free(lib_bytes);
    bb_free(&gd);
    return g;
}

/* the body of f: one node `inner` (op, or a call of f when op is NULL) reading argument a */
static Graph *build_and_load(const char *inner_op, const char *ret, Err *err) {
    ByteBuf body = {0};
    if (inner_op) node(&body, 1, "inner", inner_op, "a", NULL);
    else node(&body, 1, "inner", "StatefulPartitionedCall", "a", "f");
    Grappo__Tf__OpDef__ArgDef a = GRAPPO__TF__OP_DEF__ARG_DEF__INIT, o = GRAPPO__TF__OP_DEF__ARG_DEF__INIT;
    a.name = (ProtobufCBinaryData){1, (uint8_t *)"a"};
    a.type = DT_FLOAT;
    o.name = (ProtobufCBinaryData){3, (uint8_t *)"out"};
    o.type = DT_FLOAT;
    Grappo__Tf__OpDef__ArgDef *ap = &a, *op = &o;
    Grappo__Tf__OpDef sig = GRAPPO__TF__OP_DEF__INIT;
    sig.name = (ProtobufCBinaryData){1, (uint8_t *)"f"};
    sig.n_input_arg = sig.n_output_arg = 1;
    sig.input_arg = &ap;
    sig.output_arg = &op;
    ProtobufCBinaryData nd = {body.len, body.data + 0};
    /* body holds one length-delimited field 1: strip its tag and length for node_def */
    PbReader r = pb_reader(body.data, body.len);
    PbField f;
    assert_int_equal(pb_next_field(&r, &f, NULL), 1);
    nd = (ProtobufCBinaryData){f.len, (uint8_t *)f.data};
    Grappo__Tf__FunctionDef__RetEntry re = GRAPPO__TF__FUNCTION_DEF__RET_ENTRY__INIT, *rep = &re;
    re.key = "out";
    re.value = (char *)ret;
    Grappo__Tf__FunctionDef fd = GRAPPO__TF__FUNCTION_DEF__INIT, *fdp = &fd;
    fd.signature = &sig;
    fd.n_node_def = 1;
    fd.node_def = &nd;
    fd.n_ret = 1;
    fd.ret = &rep;
    Grappo__Tf__FunctionDefLibrary lib = GRAPPO__TF__FUNCTION_DEF_LIBRARY__INIT;
    lib.n_function = 1;
    lib.function = &fdp;
    Graph *g = parse_calling(&lib, "f", "built.pb", err);
    bb_free(&body);
    return g;
}

/* f0 calls f1 twice, f1 calls f2 twice, ... f39: 2^40 nodes if inlined; must be refused fast */
static void test_call_tree_explosion(void **state) {
    (void)state;
    enum { N = 40 };
    char names[N][8];
    ByteBuf bodies[N];
    ProtobufCBinaryData nds[N][2];
    Grappo__Tf__OpDef__ArgDef a = GRAPPO__TF__OP_DEF__ARG_DEF__INIT, o = GRAPPO__TF__OP_DEF__ARG_DEF__INIT;
    a.name = (ProtobufCBinaryData){1, (uint8_t *)"a"};
    o.name = (ProtobufCBinaryData){3, (uint8_t *)"out"};
    Grappo__Tf__OpDef__ArgDef *ap = &a, *op = &o;
    Grappo__Tf__OpDef sigs[N];
    Grappo__Tf__FunctionDef fds[N], *fdp[N];
    Grappo__Tf__FunctionDef__RetEntry rets[N], *retp[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        memset(&bodies[i], 0, sizeof bodies[i]);
        if (i + 1 < N) {
            char callee[8];
            snprintf(callee, sizeof callee, "f%d", i + 1);
            node(&bodies[i], 1, "c0", "StatefulPartitionedCall", "a", callee);
            node(&bodies[i], 1, "c1", "StatefulPartitionedCall", "c0:output:0", callee);
        } else {
            node(&bodies[i], 1, "c1", "Relu", "a", NULL);
        }
        PbReader r = pb_reader(bodies[i].data, bodies[i].len);
        PbField f;
        int k = 0;
        while (pb_next_field(&r, &f, NULL) == 1 && k < 2) nds[i][k++] = (ProtobufCBinaryData){f.len, (uint8_t *)f.data};
        grappo__tf__op_def__init(&sigs[i]);
        sigs[i].name = (ProtobufCBinaryData){strlen(names[i]), (uint8_t *)names[i]};
        sigs[i].n_input_arg = sigs[i].n_output_arg = 1;
        sigs[i].input_arg = &ap;
        sigs[i].output_arg = &op;
        grappo__tf__function_def__ret_entry__init(&rets[i]);
        rets[i].key = "out";
        rets[i].value = i + 1 < N ? "c1:output:0" : "c1:activations:0";
        retp[i] = &rets[i];
        grappo__tf__function_def__init(&fds[i]);
        fds[i].signature = &sigs[i];
        fds[i].n_node_def = (size_t)k;
        fds[i].node_def = nds[i];
        fds[i].n_ret = 1;
        fds[i].ret = &retp[i];
        fdp[i] = &fds[i];
    }
    Grappo__Tf__FunctionDefLibrary lib = GRAPPO__TF__FUNCTION_DEF_LIBRARY__INIT;
    lib.n_function = N;
    lib.function = fdp;
    Err err;
    Graph *g = parse_calling(&lib, "f0", "tree.pb", &err);
    expect_bad(g, &err, "tree.pb", "makes more than");
    for (int i = 0; i < N; i++) bb_free(&bodies[i]);
}

static void test_functions(void **state) {
    (void)state;
    Err err;
    Graph *g = build_and_load("Relu", "inner:activations:0", &err);
    if (!g) fail_msg("%s", err.msg);
    int j = graph_find(g, "call/inner");
    assert_true(j >= 0);
    assert_string_equal(graph_node(g, j)->op_name, "Relu");
    assert_string_equal(graph_node(g, graph_node(g, j)->inputs[0].node)->name, "x");
    graph_free(g);
    g = build_and_load(NULL, "inner:output:0", &err);
    expect_bad(g, &err, "built.pb", "function 'f' calls itself");
    assert_non_null(strstr(err.msg, "node 'inner'"));
    g = build_and_load("FrobnicateXYZ", "inner:y:0", &err);
    expect_bad(g, &err, "built.pb", "unknown op 'FrobnicateXYZ'");
    assert_non_null(strstr(err.msg, "function 'f', node 'inner'"));
    g = build_and_load("Relu", "nowhere:y:0", &err);
    expect_bad(g, &err, "built.pb", "names no node");
}

/* inputs libFuzzer found crashing fuzz_saved_model (tests/fixtures/regress/fuzz_saved_model,
 * absent while there are none), run as the fuzzer runs them */
static void test_fuzz_regressions(void **state) {
    (void)state;
    DIR *d = opendir("tests/fixtures/regress/fuzz_saved_model");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/regress/fuzz_saved_model/%s", e->d_name);
        uint8_t *data;
        size_t len;
        Err err;
        CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
        Graph *g = savedmodel_parse(data, len, "regress.pb", NULL, NULL, &err);
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
        cmocka_unit_test(test_loads_tf_module),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_bad_tags_signature_truncation),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_call_tree_explosion),
        cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
