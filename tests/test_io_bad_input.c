/* test_io_bad_input.c - hostile and broken files: every one must give ERR_INPUT with a message
 * naming the file (and the node where there is one), never a crash, a leak or a huge
 * allocation; failed saves must leave nothing behind. Also replays every input kept in
 * tests/fixtures/regress/ (crashes found by fuzzing) the way the fuzzers run them. */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/graphdef.h"
#include "io/npy.h"
#include "io/pb_wire.h"
#include "runtime/ref.h"
#include "util/rng.h"

#define GENDER "tests/fixtures/real/gender/model.pb"

/* parse must fail with ERR_INPUT, the message naming the file and containing `needle` */
static void expect_bad_pb(const uint8_t *data, size_t len, const char *needle) {
    Err err;
    err_clear(&err);
    Graph *g = graphdef_parse(data, len, "bad.pb", &err);
    if (g) {
        print_error("parsed a bad graph (%d nodes), expected an error containing '%s'\n", g->n_nodes, needle ? needle : "");
        graph_free(g);
        fail();
    }
    assert_int_equal(err.code, ERR_INPUT);
    if (strncmp(err.msg, "bad.pb: ", 8) != 0 || (needle && !strstr(err.msg, needle))) {
        print_error("unexpected message: %s (wanted '%s')\n", err.msg, needle ? needle : "");
        fail();
    }
    assert_null(strchr(err.msg, '\n')); /* one line */
}

static void expect_bad_npy(const uint8_t *data, size_t len, const char *needle) {
    Err err;
    Tensor t;
    err_clear(&err);
    if (npy_parse(data, len, "bad.npy", &t, &err) == 0) {
        tensor_release(&t);
        print_error("parsed a bad .npy, expected an error containing '%s'\n", needle);
        fail();
    }
    assert_null(t.buf);
    assert_int_equal(err.code, ERR_INPUT);
    if (strncmp(err.msg, "bad.npy: ", 9) != 0 || !strstr(err.msg, needle)) {
        print_error("unexpected message: %s (wanted '%s')\n", err.msg, needle);
        fail();
    }
}

/* ---------------------------------------------------------------------------------------------
 * building GraphDef bytes */

static void field_str(ByteBuf *b, uint32_t num, const char *s) { bb_len_field(b, num, s, strlen(s)); }

static void field_msg(ByteBuf *b, uint32_t num, const ByteBuf *m) { bb_len_field(b, num, m->data, m->len); }

/* NodeDef{name, op, inputs...} appended to gd */
static void node(ByteBuf *gd, const char *name, const char *op, const char *in0, const char *in1) {
    ByteBuf n = {0};
    field_str(&n, 1, name);
    field_str(&n, 2, op);
    if (in0) field_str(&n, 3, in0);
    if (in1) field_str(&n, 3, in1);
    field_msg(gd, 1, &n);
    bb_free(&n);
}

/* a Const node whose value is TensorProto{dtype, shape dims, extra fields given as bytes} */
static void const_node(ByteBuf *gd, const char *name, int dtype, int rank, const int64_t *dims, const ByteBuf *vals) {
    ByteBuf t = {0}, shape = {0}, v = {0}, e = {0}, n = {0};
    bb_tag(&t, 1, PB_VARINT);
    bb_varint(&t, (uint64_t)dtype);
    for (int k = 0; k < rank; k++) {
        ByteBuf d = {0};
        bb_tag(&d, 1, PB_VARINT);
        bb_varint(&d, (uint64_t)dims[k]);
        field_msg(&shape, 2, &d);
        bb_free(&d);
    }
    field_msg(&t, 2, &shape);
    if (vals) bb_put(&t, vals->data, vals->len);
    field_msg(&v, 8, &t);
    field_str(&e, 1, "value");
    field_msg(&e, 2, &v);
    field_str(&n, 1, name);
    field_str(&n, 2, "Const");
    field_msg(&n, 5, &e);
    field_msg(gd, 1, &n);
    bb_free(&t); bb_free(&shape); bb_free(&v); bb_free(&e); bb_free(&n);
}

/* ---------------------------------------------------------------------------------------------
 * GraphDef */

static void test_truncated_pb(void **state) {
    (void)state;
    uint8_t *data;
    size_t len;
    Err err;
    CHECK_OK(read_file_bytes(GENDER, &data, &len, &err), &err);
    /* offsets where a top-level field ends: a prefix ending there is a (smaller) valid GraphDef */
    bool *boundary = calloc(len + 1, 1);
    PbReader r = pb_reader(data, len);
    PbField f;
    boundary[0] = true;
    while (pb_next_field(&r, &f, NULL) == 1) boundary[r.p - data] = true;
    int tried = 0;
    for (size_t cut = 1; cut < len; cut += cut < 600 ? 1 : 997) {
        if (boundary[cut]) continue;
        expect_bad_pb(data, cut, "not a valid GraphDef");
        tried++;
    }
    assert_true(tried > 700);
    free(boundary);
    free(data);
}

static void test_random_bytes(void **state) {
    (void)state;
    Rng rng;
    rng_seed(&rng, 20240601);
    uint8_t buf[4096];
    for (int trial = 0; trial < 300; trial++) {
        size_t len = 64 + rng_below(&rng, sizeof buf - 64);
        for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)rng_u64(&rng);
        expect_bad_pb(buf, len, NULL);
    }
}

/* flipped bytes in a real model: whatever happens must be a clean error or a graph that
   serializes again (ASan/UBSan builds check for the rest) */
static void test_mutated_real_model(void **state) {
    (void)state;
    uint8_t *data;
    size_t len;
    Err err;
    CHECK_OK(read_file_bytes(GENDER, &data, &len, &err), &err);
    uint8_t *copy = malloc(len);
    Rng rng;
    rng_seed(&rng, 7);
    int parsed = 0, failed = 0;
    for (int trial = 0; trial < 60; trial++) {
        memcpy(copy, data, len);
        for (int k = 0; k < 4; k++) {
            /* mostly in the first KBs, where node framing and small tensors are */
            size_t at = rng_below(&rng, trial % 2 ? len : 4096);
            copy[at] = (uint8_t)rng_u64(&rng);
        }
        Graph *g = graphdef_parse(copy, len, "mutated.pb", &err);
        if (!g) {
            assert_int_equal(err.code, ERR_INPUT);
            assert_non_null(strstr(err.msg, "mutated.pb"));
            assert_null(strchr(err.msg, '\n'));
            failed++;
            continue;
        }
        /* what loads must save, load back and save to the same bytes (fuzz_graphdef's contract) */
        uint8_t *s, *s2;
        size_t l, l2;
        CHECK_OK(graphdef_serialize(g, &s, &l, &err), &err);
        Graph *h = graphdef_parse(s, l, "mutated-resaved.pb", &err);
        if (!h) { print_error("trial %d: the re-saved graph does not load: %s\n", trial, err.msg); fail(); }
        assert_int_equal(h->n_nodes, g->n_nodes);
        CHECK_OK(graphdef_serialize(h, &s2, &l2, &err), &err);
        assert_int_equal(l2, l);
        assert_memory_equal(s2, s, l);
        free(s);
        free(s2);
        graph_free(h);
        graph_free(g);
        parsed++;
    }
    /* both outcomes happen with this seed: the mutations reach the parser's error paths and
       its success path (a mutation that only ever failed framing would check nothing else) */
    printf("[ mutated  ] %d of 60 mutated models parsed, %d rejected\n", parsed, failed);
    assert_true(parsed >= 5);
    assert_true(failed >= 5);
    free(copy);
    free(data);
}

static void test_tensor_content_size_mismatch(void **state) {
    (void)state;
    ByteBuf gd = {0}, vals = {0};
    bb_len_field(&vals, 4, "\0\0\x80?\0\0\0@\0\0@@", 12); /* 3 floats for a [2,2] tensor */
    const_node(&gd, "weights", DT_FLOAT, 2, (int64_t[]){2, 2}, &vals);
    expect_bad_pb(gd.data, gd.len, "node 'weights': attribute 'value': tensor_content has 12 bytes but shape [2,2]");
    bb_free(&gd);
    bb_free(&vals);
}

static void test_absurd_and_negative_shapes(void **state) {
    (void)state;
    ByteBuf gd = {0}, vals = {0};
    bb_len_field(&vals, 5, "\0\0\x80?", 4); /* a single float_val: a splat */
    /* 2^40 elements from a 30-byte tensor: rejected before anything is allocated */
    const_node(&gd, "huge", DT_FLOAT, 2, (int64_t[]){1 << 20, 1 << 20}, &vals);
    expect_bad_pb(gd.data, gd.len, "node 'huge': attribute 'value': tensor of shape [1048576,1048576]");
    gd.len = 0;
    const_node(&gd, "neg", DT_FLOAT, 2, (int64_t[]){-1, 3}, &vals);
    expect_bad_pb(gd.data, gd.len, "node 'neg': attribute 'value': shape has negative dimension -1");
    gd.len = 0;
    /* element count overflowing int64 */
    const_node(&gd, "overflow", DT_INT8, 3, (int64_t[]){1LL << 40, 1LL << 40, 1LL << 40}, NULL);
    expect_bad_pb(gd.data, gd.len, "too many elements");
    gd.len = 0;
    const_node(&gd, "rank9", DT_FLOAT, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, NULL);
    expect_bad_pb(gd.data, gd.len, "rank 9");
    bb_free(&gd);
    bb_free(&vals);

    /* a per-graph budget (what the fuzzer uses) stops many medium splats adding up */
    ByteBuf many = {0};
    ByteBuf one = {0};
    bb_len_field(&one, 5, "\0\0\x80?", 4);
    for (int k = 0; k < 8; k++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", k);
        const_node(&many, name, DT_FLOAT, 1, (int64_t[]){1 << 20}, &one); /* 4 MB each */
    }
    Err err;
    GraphdefLimits lim = {.max_tensor_bytes = 8 << 20, .max_total_bytes = 16 << 20};
    Graph *g = graphdef_parse_limited(many.data, many.len, "many.pb", &lim, &err);
    assert_null(g);
    assert_non_null(strstr(err.msg, "exceed the limit"));
    lim.max_total_bytes = 0; /* unlimited total */
    g = graphdef_parse_limited(many.data, many.len, "many.pb", &lim, &err);
    assert_non_null(g);
    graph_free(g);
    bb_free(&many);
    bb_free(&one);
}

static void test_bad_names_and_inputs(void **state) {
    (void)state;
    ByteBuf gd = {0};
    node(&gd, "a", "Placeholder", NULL, NULL);
    node(&gd, "a", "Relu", NULL, NULL);
    expect_bad_pb(gd.data, gd.len, "duplicate node name 'a'");

    gd.len = 0;
    node(&gd, "a", "Relu", "b:0", NULL);
    expect_bad_pb(gd.data, gd.len, "node 'a': input 'b:0' names no node");
    gd.len = 0;
    node(&gd, "a", "Relu", "^ghost", NULL);
    expect_bad_pb(gd.data, gd.len, "node 'a': control input '^ghost' names no node");

    const char *bad_ports[] = {"p:x", "p:-1", "p:", "p:99999999999", "p:1x"};
    for (size_t k = 0; k < sizeof bad_ports / sizeof bad_ports[0]; k++) {
        gd.len = 0;
        node(&gd, "p", "Placeholder", NULL, NULL);
        node(&gd, "a", "Relu", bad_ports[k], NULL);
        expect_bad_pb(gd.data, gd.len, "has a bad port");
    }
    gd.len = 0;
    node(&gd, "p", "Placeholder", NULL, NULL);
    node(&gd, "a", "Relu", "", NULL);
    expect_bad_pb(gd.data, gd.len, "node 'a': empty input name");

    gd.len = 0;
    node(&gd, "x:0", "Relu", NULL, NULL);
    expect_bad_pb(gd.data, gd.len, "node name 'x:0' contains ':'");
    gd.len = 0;
    node(&gd, "^x", "Relu", NULL, NULL);
    expect_bad_pb(gd.data, gd.len, "starts with '^'");
    gd.len = 0;
    node(&gd, "", "Relu", NULL, NULL);
    expect_bad_pb(gd.data, gd.len, "node #0 has an empty name");
    gd.len = 0;
    node(&gd, "p", "Placeholder", NULL, NULL);
    node(&gd, "x", "", NULL, NULL);
    expect_bad_pb(gd.data, gd.len, "node 'x' has an empty op");
    gd.len = 0;
    ByteBuf n = {0};
    bb_len_field(&n, 1, "a\0b", 3);
    field_str(&n, 2, "Relu");
    field_msg(&gd, 1, &n);
    expect_bad_pb(gd.data, gd.len, "name contains a NUL byte");
    bb_free(&n);

    /* GraphDef.node with the wrong wire type, a garbage AttrValue, a malformed versions */
    gd.len = 0;
    bb_tag(&gd, 1, PB_VARINT);
    bb_varint(&gd, 5);
    expect_bad_pb(gd.data, gd.len, "expected a NodeDef");
    gd.len = 0;
    ByteBuf e = {0};
    field_str(&e, 1, "T");
    bb_len_field(&e, 2, "\x0a\x05\x01", 3); /* list field claims 5 bytes, has 1 */
    field_str(&n, 1, "a");
    field_str(&n, 2, "Relu");
    field_msg(&n, 5, &e);
    field_msg(&gd, 1, &n);
    expect_bad_pb(gd.data, gd.len, "node 'a': attribute 'T': malformed AttrValue");
    bb_free(&n);
    bb_free(&e);
    gd.len = 0;
    bb_len_field(&gd, 4, "\x08", 1);
    expect_bad_pb(gd.data, gd.len, "malformed versions");
    bb_free(&gd);
}

/* a port far beyond anything real must not make the loader allocate millions of outputs */
static void test_many_outputs_refused(void **state) {
    (void)state;
    ByteBuf gd = {0};
    char in[32];
    node(&gd, "p", "Placeholder", NULL, NULL);
    for (int k = 0; k < 20; k++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", k);
        node(&gd, name, "Unpack", "p", NULL);
        snprintf(in, sizeof in, "s%d:%d", k, GRAPHDEF_MAX_PORT);
        snprintf(name, sizeof name, "r%d", k);
        node(&gd, name, "Relu", in, NULL);
    }
    expect_bad_pb(gd.data, gd.len, "node outputs");
    bb_free(&gd);
}

/* ---------------------------------------------------------------------------------------------
 * .npy */

static size_t build_npy(uint8_t *out, int major, const char *header, size_t nbytes) {
    size_t prefix = major == 1 ? 10 : 12, hl = strlen(header);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    for (size_t b = 0; b < prefix - 8; b++) out[8 + b] = (uint8_t)(hl >> (8 * b));
    memcpy(out + prefix, header, hl);
    memset(out + prefix + hl, 0, nbytes);
    return prefix + hl + nbytes;
}

static void test_malformed_npy(void **state) {
    (void)state;
    static const struct { const char *header; size_t nbytes; const char *needle; } cases[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", 8, "Fortran order"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }\n", 16, "unsupported .npy dtype '<c8'"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }\n", 8, "unsupported .npy dtype '|f4'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", 8, "data has 8 bytes but shape [3]"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", 8, "data has 8 bytes but shape [1]"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }\n", 8, "data has 8 bytes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n", 8, "non-negative integers"},
        {"{'descr': '<f4', 'fortran_order': False, }\n", 8, "missing one of"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}\n", 8, "unexpected key"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", 8, "repeated key"},
        {"['descr', '<f4']\n", 8, "header is not a dict"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }\n", 8, "malformed .npy header"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (2,), }\n", 8, "expected True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x\n", 8, "text after the dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 2), }\n", 8, "expected ',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n", 4, "too many dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)\n", 8, "expected ',' or '}'"},
        {"{'descr': 'abc\\'', 'fortran_order': False, 'shape': (2,), }\n", 8, "escape"},
    };
    uint8_t buf[512];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = build_npy(buf, 1, cases[k].header, cases[k].nbytes);
        expect_bad_npy(buf, n, cases[k].needle);
    }
    /* framing: magic, version, header length past the end, every truncation of a good file */
    size_t n = build_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8);
    expect_bad_npy((const uint8_t *)"\x93NUMPZ\x01\x00\x00\x00", 10, "not a .npy file");
    expect_bad_npy((const uint8_t *)"hello", 5, "not a .npy file");
    buf[6] = 4;
    expect_bad_npy(buf, n, "unsupported .npy format version 4.0");
    buf[6] = 1;
    buf[9] = 0x7f;
    expect_bad_npy(buf, n, "truncated .npy header");
    buf[9] = 0;
    for (size_t cut = 0; cut < n; cut++) expect_bad_npy(buf, cut, "bad.npy");
    expect_bad_npy((const uint8_t *)"\x93NUMPY\x02\x00\x00\x00", 10, "truncated .npy header");
}

/* ---------------------------------------------------------------------------------------------
 * failed saves */

static bool dir_is_empty(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n == 0;
}

static void test_failed_save_leaves_nothing(void **state) {
    (void)state;
    Err err;
    Graph *g = graph_new();
    graph_add_node(g, "p", "Placeholder", &err);
    CHECK_OK(node_set_attr_type(graph_node(g, 0), "dtype", DT_FLOAT, &err), &err);

    /* the directory does not exist */
    assert_int_equal(graphdef_save(g, "/nonexistent-grappo-dir/out.pb", &err), -1);
    assert_int_equal(err.code, ERR_INPUT); /* a wrong path is bad usage */
    assert_non_null(strstr(err.msg, "/nonexistent-grappo-dir/out.pb"));
    assert_int_equal(access("/nonexistent-grappo-dir/out.pb", F_OK), -1);

    /* a graph that cannot be encoded (a func attribute without its bytes) fails before anything
       is written, and an existing file keeps its old contents */
    char dir[] = "/tmp/grappo_bad_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.pb", dir);
    Attr *f = node_attr_put(graph_node(g, 0), "f");
    f->kind = ATTR_FUNC;
    assert_int_equal(graphdef_save(g, path, &err), -1);
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "node 'p'"));
    assert_true(dir_is_empty(dir));
    CHECK_OK(atomic_write_file(path, "old", 3, &err), &err);
    assert_int_equal(graphdef_save(g, path, &err), -1);
    uint8_t *data;
    size_t len;
    CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "old", 3);
    free(data);

    /* a tensor attribute without data cannot be written either */
    node_attr_remove(graph_node(g, 0), "f");
    Attr *t = node_attr_put(graph_node(g, 0), "value");
    t->kind = ATTR_TENSOR;
    t->tensor.dtype = DT_FLOAT;
    t->tensor.shape = shape_make(1, (int64_t[]){4});
    assert_int_equal(graphdef_save(g, path, &err), -1);
    assert_non_null(strstr(err.msg, "has no data to write"));

    /* the write fails midway (a directory where the file should go): temp file removed */
    char sub[80];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    node_attr_remove(graph_node(g, 0), "value");
    assert_int_equal(graphdef_save(g, sub, &err), -1);
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "is a directory")); /* refused before a temporary file is made */
    unlink(path);
    rmdir(sub);
    assert_true(dir_is_empty(dir));
    rmdir(dir);

    assert_null(graphdef_load("/nonexistent-grappo-dir/in.pb", NULL));
    assert_null(graphdef_load("/nonexistent-grappo-dir/in.pb", &err));
    assert_non_null(strstr(err.msg, "/nonexistent-grappo-dir/in.pb"));
    Tensor x;
    assert_int_equal(npy_load("/nonexistent-grappo-dir/in.npy", &x, &err), -1);
    assert_non_null(strstr(err.msg, "in.npy"));
    graph_free(g);
}

/* ---------------------------------------------------------------------------------------------
 * fuzzer finds, replayed as the fuzzers run them */

static void replay_graphdef(const char *path) {
    uint8_t *data;
    size_t len;
    Err err;
    CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
    GraphdefLimits lim = {.max_tensor_bytes = 64 << 20, .max_total_bytes = 256 << 20};
    Graph *g = graphdef_parse_limited(data, len, path, &lim, &err);
    if (!g) {
        assert_int_equal(err.code, ERR_INPUT);
        assert_non_null(strstr(err.msg, path));
    } else {
        uint8_t *s;
        size_t l;
        CHECK_OK(graphdef_serialize(g, &s, &l, &err), &err);
        Graph *h = graphdef_parse_limited(s, l, path, &lim, &err);
        assert_non_null(h);
        if (graph_infer(h, NULL, 0, ref_eval_node, NULL, &err)) assert_int_not_equal(err.code, ERR_OK);
        graph_free(h);
        free(s);
        graph_free(g);
    }
    free(data);
}

static void replay_npy(const char *path) {
    Tensor t;
    Err err;
    if (npy_load(path, &t, &err) == 0) {
        uint8_t *s;
        size_t l;
        CHECK_OK(npy_serialize(&t, &s, &l, &err), &err);
        free(s);
        tensor_release(&t);
    } else {
        assert_int_equal(err.code, ERR_INPUT);
        assert_non_null(strstr(err.msg, path));
    }
}

static void test_regressions(void **state) {
    (void)state;
    const char *dirs[] = {"tests/fixtures/regress/fuzz_graphdef", "tests/fixtures/regress/fuzz_npy"};
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        if (!d) { print_error("%s is missing: a regression folder that does not exist replays nothing\n", dirs[k]); fail(); }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md")) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dirs[k], e->d_name);
            if (k == 0) replay_graphdef(path);
            else replay_npy(path);
        }
        closedir(d);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_pb),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_mutated_real_model),
        cmocka_unit_test(test_tensor_content_size_mismatch),
        cmocka_unit_test(test_absurd_and_negative_shapes),
        cmocka_unit_test(test_bad_names_and_inputs),
        cmocka_unit_test(test_many_outputs_refused),
        cmocka_unit_test(test_malformed_npy),
        cmocka_unit_test(test_failed_save_leaves_nothing),
        cmocka_unit_test(test_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
