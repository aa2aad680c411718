/* test_graphdef.c - GraphDef reading and writing: a hand-built graph with every attribute kind,
 * hand-crafted wire bytes (unmodelled and unknown fields, forward inputs, splat constants,
 * half/bfloat16), and the five real frozen graphs in tests/fixtures/real checked against their
 * manifests and for byte-exact round trips.
 *
 * With GRAPPO_WRITE_SEEDS=1 in the environment the small graphs built here are also written to
 * fuzz/seeds/fuzz_graphdef/ (that is how the fuzzing seeds were made). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/graphdef.h"
#include "io/pb_wire.h"

static const char *FIXTURES[] = {"blazeface-front", "emotion", "gender", "handlandmark-lite", "selfie"};

/* ---------------------------------------------------------------------------------------------
 * helpers */

static char tmpdir[64];

static int make_tmpdir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/grappo_gd_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_seed(const char *name, const uint8_t *data, size_t len) {
    if (!getenv("GRAPPO_WRITE_SEEDS") || len >= 65536) return;
    char path[256];
    snprintf(path, sizeof path, "fuzz/seeds/fuzz_graphdef/%s", name);
    Err err;
    CHECK_OK(atomic_write_file(path, data, len, &err), &err);
}

static void assert_tensor_same(const Tensor *a, const Tensor *b) {
    assert_int_equal(a->dtype, b->dtype);
    assert_true(shape_equal(&a->shape, &b->shape));
    assert_int_equal(a->buf != NULL, b->buf != NULL);
    if (a->buf) {
        assert_int_equal(a->buf->nbytes, b->buf->nbytes);
        if (a->buf->nbytes) assert_memory_equal(a->buf->data, b->buf->data, a->buf->nbytes);
    }
}

static void assert_attr_same(const Attr *a, const Attr *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->kind, b->kind);
    switch (a->kind) {
    case ATTR_STRING:
        assert_int_equal(a->s.len, b->s.len);
        if (a->s.len) assert_memory_equal(a->s.data, b->s.data, a->s.len);
        break;
    case ATTR_INT: assert_int_equal(a->i, b->i); break;
    case ATTR_FLOAT: assert_memory_equal(&a->f, &b->f, sizeof a->f); break;
    case ATTR_BOOL: assert_int_equal(a->b, b->b); break;
    case ATTR_TYPE: assert_int_equal(a->type, b->type); break;
    case ATTR_SHAPE: assert_true(shape_equal(&a->shape, &b->shape)); break;
    case ATTR_TENSOR: assert_tensor_same(&a->tensor, &b->tensor); break;
    case ATTR_LIST: {
        const AttrList *x = &a->list, *y = &b->list;
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->n, y->n);
        for (int k = 0; k < x->n; k++) {
            switch (x->kind) {
            case ATTR_STRING:
                assert_int_equal(x->s[k].len, y->s[k].len);
                if (x->s[k].len) assert_memory_equal(x->s[k].data, y->s[k].data, x->s[k].len);
                break;
            case ATTR_INT: assert_int_equal(x->i[k], y->i[k]); break;
            case ATTR_FLOAT: assert_memory_equal(&x->f[k], &y->f[k], sizeof x->f[k]); break;
            case ATTR_BOOL: assert_int_equal(x->b[k], y->b[k]); break;
            case ATTR_TYPE: assert_int_equal(x->type[k], y->type[k]); break;
            case ATTR_SHAPE: assert_true(shape_equal(&x->shape[k], &y->shape[k])); break;
            case ATTR_TENSOR: assert_tensor_same(&x->tensor[k], &y->tensor[k]); break;
            default: break;
            }
        }
        break;
    }
    default: break;
    }
    /* opaque kinds only exist as raw bytes; everything else may or may not have them */
    if (a->kind == ATTR_FUNC || a->kind == ATTR_PLACEHOLDER || (a->raw && b->raw)) {
        assert_int_equal(a->raw_len, b->raw_len);
        if (a->raw_len) assert_memory_equal(a->raw, b->raw, a->raw_len);
    }
}

/* everything io/ reads or writes must be equal */
static void assert_graph_same(const Graph *a, const Graph *b) {
    assert_int_equal(a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; i++) {
        const Node *x = graph_node(a, i), *y = graph_node(b, i);
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->op_name, y->op_name);
        assert_int_equal(x->op, y->op);
        assert_string_equal(x->device ? x->device : "", y->device ? y->device : "");
        assert_int_equal(x->n_inputs, y->n_inputs);
        for (int k = 0; k < x->n_inputs; k++) {
            assert_int_equal(x->inputs[k].node, y->inputs[k].node);
            assert_int_equal(x->inputs[k].port, y->inputs[k].port);
        }
        assert_int_equal(x->n_ctrl, y->n_ctrl);
        for (int k = 0; k < x->n_ctrl; k++) assert_int_equal(x->ctrl[k], y->ctrl[k]);
        assert_int_equal(x->n_attrs, y->n_attrs);
        for (int k = 0; k < x->n_attrs; k++) {
            const Attr *ya = node_attr_find(y, x->attrs[k].name);
            assert_non_null(ya);
            assert_attr_same(&x->attrs[k], ya);
        }
        assert_int_equal(x->extra_len, y->extra_len);
        if (x->extra_len) assert_memory_equal(x->extra, y->extra, x->extra_len);
    }
    assert_int_equal(a->producer, b->producer);
    assert_int_equal(a->extra_len, b->extra_len);
    if (a->extra_len) assert_memory_equal(a->extra, b->extra, a->extra_len);
}

/* memmem is a GNU extension */
static const void *find_bytes(const void *hay, size_t hlen, const void *needle, size_t nlen) {
    const uint8_t *h = hay;
    for (size_t k = 0; k + nlen <= hlen; k++)
        if (!memcmp(h + k, needle, nlen)) return h + k;
    return NULL;
}

static Graph *parse_ok(const uint8_t *data, size_t len) {
    Err err;
    Graph *g = graphdef_parse(data, len, "test.pb", &err);
    if (!g) {
        print_error("parse failed: %s\n", err.msg);
        fail();
    }
    return g;
}

static void serialize_ok(const Graph *g, uint8_t **data, size_t *len) {
    Err err;
    CHECK_OK(graphdef_serialize(g, data, len, &err), &err);
}

/* ---------------------------------------------------------------------------------------------
 * a hand-built graph with every attribute kind */

static void add_list(Node *n, const char *name, AttrKind kind, int count) {
    Attr *a = node_attr_put(n, name);
    assert_non_null(a);
    a->kind = ATTR_LIST;
    a->list.kind = kind;
    a->list.n = count;
    switch (kind) {
    case ATTR_BOOL:
        a->list.b = calloc((size_t)count, sizeof(bool));
        for (int k = 0; k < count; k++) a->list.b[k] = k % 2 == 0;
        break;
    case ATTR_SHAPE:
        a->list.shape = calloc((size_t)count, sizeof(Shape));
        a->list.shape[0] = shape_make(2, (int64_t[]){3, -1});
        a->list.shape[1] = shape_unknown();
        a->list.shape[2] = shape_scalar();
        break;
    case ATTR_TENSOR:
        a->list.tensor = calloc((size_t)count, sizeof(Tensor));
        a->list.tensor[0] = tt_f32(1, (int64_t[]){2}, (float[]){1.5f, -2.0f});
        a->list.tensor[1] = tt_i32(2, (int64_t[]){1, 3}, (int32_t[]){7, 8, 9});
        break;
    default: break;
    }
}

static Graph *build_every_kind(void) {
    Err err;
    Graph *g = graph_new();
    assert_non_null(g);
    int x = graph_add_node(g, "x", "Placeholder", &err);
    int w = graph_add_node(g, "w", "Const", &err);
    int c = graph_add_node(g, "c", "NoOp", &err);
    int n = graph_add_node(g, "custom", "MyCustomOp", &err);
    int m = graph_add_node(g, "m", "Identity", &err);
    assert_true(x == 0 && w == 1 && c == 2 && n == 3 && m == 4);

    Node *nx = graph_node(g, x), *nw = graph_node(g, w), *nc = graph_node(g, c), *nn = graph_node(g, n);
    CHECK_OK(node_set_attr_type(nx, "dtype", DT_FLOAT, &err), &err);
    Shape ps = shape_make(2, (int64_t[]){-1, 4});
    CHECK_OK(node_set_attr_shape(nx, "shape", &ps, &err), &err);

    Tensor wt = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, -0.0f});
    CHECK_OK(node_set_attr_tensor(nw, "value", &wt, &err), &err);
    tensor_release(&wt);
    CHECK_OK(node_set_attr_type(nw, "dtype", DT_FLOAT, &err), &err);

    CHECK_OK(node_set_device(nc, "/device:CPU:0", &err), &err);

    /* the unknown op carries one attribute of every kind, set in unsorted order */
    CHECK_OK(node_set_attr_s(nn, "zs", "hello", &err), &err);
    Attr *bin = node_attr_put(nn, "s_nul");
    bin->kind = ATTR_STRING;
    bin->s.data = malloc(4);
    memcpy(bin->s.data, "a\0b", 4);
    bin->s.len = 3;
    CHECK_OK(node_set_attr_i(nn, "i", -1234567890123LL, &err), &err);
    CHECK_OK(node_set_attr_f(nn, "f", 0.25f, &err), &err);
    CHECK_OK(node_set_attr_b(nn, "b", true, &err), &err);
    CHECK_OK(node_set_attr_b(nn, "b_false", false, &err), &err);
    CHECK_OK(node_set_attr_type(nn, "type", DT_HALF, &err), &err);
    Shape unk = shape_unknown();
    CHECK_OK(node_set_attr_shape(nn, "shape_unknown", &unk, &err), &err);
    Shape sc = shape_scalar();
    CHECK_OK(node_set_attr_shape(nn, "shape_scalar", &sc, &err), &err);
    Tensor it = tt_i32(1, (int64_t[]){3}, (int32_t[]){-1, 0, 2147483647});
    CHECK_OK(node_set_attr_tensor(nn, "tensor", &it, &err), &err);
    tensor_release(&it);
    CHECK_OK(node_set_attr_list_i(nn, "list_i", (int64_t[]){1, -2, 1LL << 40}, 3, &err), &err);
    CHECK_OK(node_set_attr_list_f(nn, "list_f", (float[]){0.5f, -1e30f}, 2, &err), &err);
    CHECK_OK(node_set_attr_list_s(nn, "list_s", (const char *const[]){"SAME", "", "x"}, 3, &err), &err);
    CHECK_OK(node_set_attr_list_type(nn, "list_type", (int[]){DT_FLOAT, DT_INT32, DT_BFLOAT16}, 3, &err), &err);
    add_list(nn, "list_b", ATTR_BOOL, 3);
    add_list(nn, "list_shape", ATTR_SHAPE, 3);
    add_list(nn, "list_tensor", ATTR_TENSOR, 2);
    Attr *empty = node_attr_put(nn, "list_empty");
    empty->kind = ATTR_LIST;
    Attr *none = node_attr_put(nn, "none");
    none->kind = ATTR_NONE;

    CHECK_OK(node_add_input(g, n, (ValueRef){x, 0}, &err), &err);
    CHECK_OK(node_add_input(g, n, (ValueRef){w, 0}, &err), &err);
    CHECK_OK(node_add_ctrl(g, n, c, &err), &err);
    CHECK_OK(node_add_input(g, m, (ValueRef){n, 1}, &err), &err);
    CHECK_OK(node_set_num_outputs(nn, 2, &err), &err);
    return g;
}

static void test_every_attr_kind_round_trip(void **state) {
    (void)state;
    Err err;
    Graph *g = build_every_kind();
    char path[128];
    snprintf(path, sizeof path, "%s/every.pb", tmpdir);
    CHECK_OK(graphdef_save(g, path, &err), &err);
    Graph *h = graphdef_load(path, &err);
    if (!h) { print_error("%s\n", err.msg); fail(); }
    assert_graph_same(g, h);

    /* what the loader derives */
    const Node *custom = graph_node(h, 3);
    assert_int_equal(custom->op, OP_UNKNOWN);
    assert_string_equal(custom->op_name, "MyCustomOp");
    assert_int_equal(custom->n_outputs, 2);          /* m reads custom:1 */
    assert_int_equal(graph_node(h, 0)->n_outputs, 1); /* provisional minimum */
    assert_int_equal(h->n_outputs, 1);                /* only m is unconsumed (c is a control input) */
    assert_int_equal(h->outputs[0].node, 4);
    assert_int_equal(h->outputs[0].port, 0);
    assert_string_equal(graph_node(h, 2)->device, "/device:CPU:0");
    assert_int_equal(node_attr_find(custom, "s_nul")->s.len, 3);
    assert_int_equal(node_attr_i(custom, "i", 0), -1234567890123LL);
    assert_int_equal(node_attr_find(custom, "shape_unknown")->shape.rank, -1);
    assert_int_equal(node_attr_find(custom, "list_empty")->list.n, 0);
    const Tensor *wt = node_attr_tensor(graph_node(h, 1), "value");
    assert_non_null(wt);
    assert_float_equal(((const float *)tensor_data(wt))[4], 5.0f, 0);

    /* deterministic: the typed encoding of g and the raw re-emission from h agree, and a second
       round trip changes nothing */
    uint8_t *b1, *b2, *b3;
    size_t l1, l2, l3;
    serialize_ok(g, &b1, &l1);
    serialize_ok(h, &b2, &l2);
    Graph *k = parse_ok(b2, l2);
    serialize_ok(k, &b3, &l3);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    assert_int_equal(l2, l3);
    assert_memory_equal(b2, b3, l2);
    write_seed("every_kind.pb", b1, l1);
    free(b1); free(b2); free(b3);
    graph_free(k);
    graph_free(h);
    graph_free(g);
}

/* attributes are written sorted by key whatever order they were set in */
static void test_attrs_sorted(void **state) {
    (void)state;
    Err err;
    Graph *g1 = graph_new(), *g2 = graph_new();
    graph_add_node(g1, "n", "Foo", &err);
    graph_add_node(g2, "n", "Foo", &err);
    const char *order1[] = {"zeta", "alpha", "mid"}, *order2[] = {"alpha", "mid", "zeta"};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(node_set_attr_i(graph_node(g1, 0), order1[k], k * 10 + 1, &err), &err);
    }
    CHECK_OK(node_set_attr_i(graph_node(g2, 0), "alpha", 11, &err), &err);
    CHECK_OK(node_set_attr_i(graph_node(g2, 0), "mid", 21, &err), &err);
    CHECK_OK(node_set_attr_i(graph_node(g2, 0), "zeta", 1, &err), &err);
    (void)order2;
    uint8_t *a, *b;
    size_t la, lb;
    serialize_ok(g1, &a, &la);
    serialize_ok(g2, &b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    /* and "alpha" comes before "mid" before "zeta" in the bytes */
    const char *s = (const char *)a;
    const char *pa = find_bytes(s, la, "alpha", 5), *pm = find_bytes(s, la, "mid", 3), *pz = find_bytes(s, la, "zeta", 4);
    assert_true(pa && pm && pz && pa < pm && pm < pz);
    free(a); free(b);
    graph_free(g1);
    graph_free(g2);
}

/* ---------------------------------------------------------------------------------------------
 * hand-crafted wire bytes */

static void field_varint(ByteBuf *b, uint32_t num, uint64_t v) {
    bb_tag(b, num, PB_VARINT);
    bb_varint(b, v);
}

static void field_msg(ByteBuf *b, uint32_t num, const ByteBuf *m) { bb_len_field(b, num, m->data, m->len); }

static void field_str(ByteBuf *b, uint32_t num, const char *s) { bb_len_field(b, num, s, strlen(s)); }

/* NodeDef attr entry {key, value} */
static void attr_entry(ByteBuf *node, const char *key, const ByteBuf *value) {
    ByteBuf e = {0};
    field_str(&e, 1, key);
    field_msg(&e, 2, value);
    field_msg(node, 5, &e);
    bb_free(&e);
}

static void attr_entry_type(ByteBuf *node, const char *key, int dtype) {
    ByteBuf v = {0};
    field_varint(&v, 6, (uint64_t)dtype);
    attr_entry(node, key, &v);
    bb_free(&v);
}

/* TensorProto header: dtype and shape; the caller appends the values */
static ByteBuf tensor_head(int dtype, int rank, const int64_t *dims) {
    ByteBuf t = {0}, shape = {0};
    field_varint(&t, 1, (uint64_t)dtype);
    for (int k = 0; k < rank; k++) {
        ByteBuf d = {0};
        field_varint(&d, 1, (uint64_t)dims[k]);
        field_msg(&shape, 2, &d);
        bb_free(&d);
    }
    bb_tag(&t, 2, PB_LEN);
    bb_varint(&t, shape.len);
    bb_put(&t, shape.data, shape.len);
    bb_free(&shape);
    return t;
}

/* packed repeated varints (int_val, int64_val, bool_val, half_val) */
static void packed_varints(ByteBuf *t, uint32_t num, const int64_t *v, int n) {
    ByteBuf p = {0};
    for (int k = 0; k < n; k++) bb_varint(&p, (uint64_t)v[k]);
    field_msg(t, num, &p);
    bb_free(&p);
}

static void packed_floats(ByteBuf *t, uint32_t num, const float *v, int n) { bb_len_field(t, num, v, (size_t)n * 4); }

/* a Const NodeDef whose value is the TensorProto t */
static void const_node(ByteBuf *graph, const char *name, int dtype, const ByteBuf *t) {
    ByteBuf node = {0}, v = {0};
    field_str(&node, 1, name);
    field_str(&node, 2, "Const");
    field_msg(&v, 8, t);
    attr_entry_type(&node, "dtype", dtype); /* sorted by key, as TensorFlow writes them */
    attr_entry(&node, "value", &v);
    field_msg(graph, 1, &node);
    bb_free(&node);
    bb_free(&v);
}

static void test_unmodelled_fields_survive(void **state) {
    (void)state;
    ByteBuf gd = {0}, node = {0}, sub = {0};
    /* node "b" comes first and reads "a", which is defined later */
    field_str(&node, 1, "b");
    field_str(&node, 2, "Identity");
    field_str(&node, 3, "a");
    attr_entry_type(&node, "T", DT_FLOAT);
    field_msg(&gd, 1, &node);
    bb_free(&node);

    field_str(&node, 1, "a");
    field_str(&node, 2, "Placeholder");
    attr_entry_type(&node, "dtype", DT_FLOAT);
    size_t extra_start = node.len;
    field_str(&sub, 1, "original_node_name"); /* NodeDef.experimental_debug_info (6) */
    field_msg(&node, 6, &sub);
    bb_free(&sub);
    field_varint(&sub, 1, 1001); /* NodeDef.experimental_type (7): FullTypeDef.type_id */
    field_msg(&node, 7, &sub);
    bb_free(&sub);
    field_varint(&node, 99, 5);                 /* a field no version of TF has */
    bb_tag(&node, 98, PB_I32);
    bb_put(&node, "\x01\x02\x03\x04", 4);
    size_t extra_len = node.len - extra_start;
    uint8_t node_extra[64];
    memcpy(node_extra, node.data + extra_start, extra_len);
    field_msg(&gd, 1, &node);
    bb_free(&node);

    size_t gextra_start = gd.len;
    field_str(&sub, 1, "some_function"); /* GraphDef.library (2): FunctionDefLibrary, opaque */
    field_msg(&gd, 2, &sub);
    bb_free(&sub);
    field_varint(&sub, 1, 1234); /* GraphDef.versions (4) { producer: 1234, min_consumer: 12 } */
    field_varint(&sub, 2, 12);
    field_msg(&gd, 4, &sub);
    bb_free(&sub);
    field_varint(&gd, 100, 77);
    size_t gextra_len = gd.len - gextra_start;

    Graph *g = parse_ok(gd.data, gd.len);
    assert_int_equal(g->n_nodes, 2);
    assert_int_equal(g->producer, 1234);
    assert_int_equal(g->extra_len, gextra_len);
    assert_memory_equal(g->extra, gd.data + gextra_start, gextra_len);
    const Node *a = graph_node(g, 1), *b = graph_node(g, 0);
    assert_int_equal(a->extra_len, extra_len);
    assert_memory_equal(a->extra, node_extra, extra_len);
    assert_int_equal(b->extra_len, 0);
    assert_int_equal(b->n_inputs, 1);
    assert_int_equal(b->inputs[0].node, 1);
    assert_int_equal(g->n_outputs, 1);
    assert_int_equal(g->outputs[0].node, 0);

    uint8_t *s1, *s2;
    size_t l1, l2;
    serialize_ok(g, &s1, &l1);
    /* our writer uses TensorFlow's field order, so these bytes come back exactly */
    assert_int_equal(l1, gd.len);
    assert_memory_equal(s1, gd.data, gd.len);
    Graph *h = parse_ok(s1, l1);
    assert_graph_same(g, h);
    serialize_ok(h, &s2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(s1, s2, l1);
    write_seed("unmodelled_fields.pb", s1, l1);
    free(s1); free(s2);

    /* a changed producer is written back into the VersionDef, keeping min_consumer (2: 12) */
    h->producer = 99;
    serialize_ok(h, &s1, &l1);
    assert_non_null(find_bytes(s1, l1, "\x22\x04\x08\x63\x10\x0c", 6));
    Graph *k = parse_ok(s1, l1);
    assert_int_equal(k->producer, 99);
    free(s1);
    graph_free(k);
    /* and a graph built in memory with a producer gets a VersionDef */
    k = graph_new();
    k->producer = 1205;
    serialize_ok(k, &s1, &l1);
    assert_int_equal(l1, 5);
    assert_memory_equal(s1, "\x22\x03\x08\xb5\x09", 5);
    graph_free(k);
    k = parse_ok(s1, l1);
    assert_int_equal(k->producer, 1205);
    free(s1);
    graph_free(k);
    graph_free(h);
    graph_free(g);
    bb_free(&gd);
}

static const Tensor *value_of(const Graph *g, const char *name) {
    int i = graph_find(g, name);
    assert_true(i >= 0);
    const Tensor *t = node_attr_tensor(graph_node(g, i), "value");
    assert_non_null(t);
    return t;
}

static void test_splat_and_typed_values(void **state) {
    (void)state;
    ByteBuf gd = {0}, t;

    t = tensor_head(DT_FLOAT, 2, (int64_t[]){2, 3}); /* one float for six elements */
    packed_floats(&t, 5, (float[]){7.5f}, 1);
    const_node(&gd, "f_splat", DT_FLOAT, &t);
    bb_free(&t);

    t = tensor_head(DT_INT32, 1, (int64_t[]){4}); /* the last of two values repeats */
    packed_varints(&t, 7, (int64_t[]){1, -2}, 2);
    const_node(&gd, "i_splat", DT_INT32, &t);
    bb_free(&t);

    t = tensor_head(DT_FLOAT, 1, (int64_t[]){3}); /* no values: zeros */
    const_node(&gd, "zeros", DT_FLOAT, &t);
    bb_free(&t);

    t = tensor_head(DT_FLOAT, 1, (int64_t[]){2}); /* more values than elements: extra ignored */
    packed_floats(&t, 5, (float[]){1, 2, 3}, 3);
    const_node(&gd, "f_extra", DT_FLOAT, &t);
    bb_free(&t);

    t = tensor_head(DT_INT64, 1, (int64_t[]){3});
    packed_varints(&t, 10, (int64_t[]){-5000000000LL}, 1);
    const_node(&gd, "i64", DT_INT64, &t);
    bb_free(&t);

    t = tensor_head(DT_BOOL, 1, (int64_t[]){3});
    packed_varints(&t, 11, (int64_t[]){0, 1}, 2);
    const_node(&gd, "bools", DT_BOOL, &t);
    bb_free(&t);

    t = tensor_head(DT_INT8, 1, (int64_t[]){2});
    packed_varints(&t, 7, (int64_t[]){-3, 100}, 2);
    const_node(&gd, "i8", DT_INT8, &t);
    bb_free(&t);

    t = tensor_head(DT_UINT8, 1, (int64_t[]){2});
    packed_varints(&t, 7, (int64_t[]){200, 7}, 2);
    const_node(&gd, "u8", DT_UINT8, &t);
    bb_free(&t);

    t = tensor_head(DT_HALF, 1, (int64_t[]){3}); /* fp16 1.5 = 0x3e00, -2 = 0xc000 */
    packed_varints(&t, 13, (int64_t[]){0x3e00, 0xc000}, 2);
    const_node(&gd, "half", DT_HALF, &t);
    bb_free(&t);

    t = tensor_head(DT_BFLOAT16, 0, NULL); /* scalar bf16 1.5 = 0x3fc0 */
    packed_varints(&t, 13, (int64_t[]){0x3fc0}, 1);
    const_node(&gd, "bf16", DT_BFLOAT16, &t);
    bb_free(&t);

    t = tensor_head(DT_FLOAT, 1, (int64_t[]){2}); /* tensor_content wins over *_val */
    bb_len_field(&t, 4, (float[]){-1.0f, 0.5f}, 8);
    const_node(&gd, "content", DT_FLOAT, &t);
    bb_free(&t);

    t = tensor_head(DT_STRING, 1, (int64_t[]){2}); /* opaque: shape only, bytes kept raw */
    field_str(&t, 8, "abc");
    field_str(&t, 8, "de");
    const_node(&gd, "strings", DT_STRING, &t);
    bb_free(&t);

    t = tensor_head(77, 1, (int64_t[]){5}); /* an unknown DataType code is opaque, not an error */
    const_node(&gd, "weird", 77, &t);
    bb_free(&t);

    Graph *g = parse_ok(gd.data, gd.len);
    assert_int_equal(g->n_nodes, 13);
    assert_int_equal(g->n_outputs, 0); /* Consts are never graph outputs */

    const Tensor *v = value_of(g, "f_splat");
    assert_int_equal(v->shape.rank, 2);
    for (int k = 0; k < 6; k++) assert_float_equal(((const float *)tensor_data(v))[k], 7.5f, 0);
    v = value_of(g, "i_splat");
    const int32_t want_i[] = {1, -2, -2, -2};
    assert_memory_equal(tensor_data(v), want_i, sizeof want_i);
    v = value_of(g, "zeros");
    for (int k = 0; k < 3; k++) assert_float_equal(((const float *)tensor_data(v))[k], 0.0f, 0);
    v = value_of(g, "f_extra");
    assert_int_equal(tensor_nbytes(v), 8);
    assert_float_equal(((const float *)tensor_data(v))[1], 2.0f, 0);
    v = value_of(g, "i64");
    for (int k = 0; k < 3; k++) assert_int_equal(((const int64_t *)tensor_data(v))[k], -5000000000LL);
    v = value_of(g, "bools");
    assert_memory_equal(tensor_data(v), "\x00\x01\x01", 3);
    v = value_of(g, "i8");
    assert_int_equal(((const int8_t *)tensor_data(v))[0], -3);
    assert_int_equal(((const int8_t *)tensor_data(v))[1], 100);
    v = value_of(g, "u8");
    assert_int_equal(((const uint8_t *)tensor_data(v))[0], 200);
    v = value_of(g, "half");
    assert_int_equal(v->dtype, DT_HALF);
    const uint16_t want_h[] = {0x3e00, 0xc000, 0xc000};
    assert_memory_equal(tensor_data(v), want_h, sizeof want_h);
    assert_float_equal(tensor_get(v, 2), -2.0, 0);
    v = value_of(g, "bf16");
    assert_int_equal(v->shape.rank, 0);
    assert_float_equal(tensor_get(v, 0), 1.5, 0);
    v = value_of(g, "content");
    assert_float_equal(((const float *)tensor_data(v))[0], -1.0f, 0);
    v = value_of(g, "strings");
    assert_int_equal(v->dtype, DT_STRING);
    assert_null(v->buf);
    assert_int_equal(v->shape.dim[0], 2);
    v = value_of(g, "weird");
    assert_int_equal(v->dtype, 77);
    assert_null(v->buf);

    /* untouched attributes are re-emitted as they were: the splats stay splats */
    uint8_t *s;
    size_t l;
    serialize_ok(g, &s, &l);
    assert_int_equal(l, gd.len);
    assert_memory_equal(s, gd.data, gd.len);
    write_seed("splat_consts.pb", s, l);
    free(s);

    /* a changed attribute is re-encoded as tensor_content and reads back equal */
    Err err;
    Node *fs = graph_node(g, graph_find(g, "f_splat"));
    Tensor copy;
    CHECK_OK(tensor_copy(&copy, node_attr_tensor(fs, "value"), &err), &err);
    CHECK_OK(node_set_attr_tensor(fs, "value", &copy, &err), &err);
    tensor_release(&copy);
    serialize_ok(g, &s, &l);
    assert_int_equal(l, gd.len + 20); /* tensor_content of six floats (26 bytes) replaced float_val (6) */
    Graph *h = parse_ok(s, l);
    assert_graph_same(g, h);
    free(s);
    graph_free(h);
    graph_free(g);
    bb_free(&gd);
}

static void test_empty_graph(void **state) {
    (void)state;
    Graph *g = parse_ok((const uint8_t *)"", 0);
    assert_int_equal(g->n_nodes, 0);
    assert_int_equal(g->n_outputs, 0);
    uint8_t *s;
    size_t l;
    serialize_ok(g, &s, &l);
    assert_int_equal(l, 0);
    free(s);
    graph_free(g);
}

/* outputs: unconsumed nodes except Const/Placeholder/NoOp; provisional output counts */
static void test_outputs_and_ports(void **state) {
    (void)state;
    ByteBuf gd = {0}, node = {0};
    const char *spec[][5] = {
        /* name, op, inputs... */
        {"p", "Placeholder", NULL},
        {"split", "Split", "p", NULL},
        {"u", "Relu", "split:2", NULL},
        {"dead", "Relu", "split:1", NULL},
        {"k", "Const", NULL},
        {"nop", "NoOp", "^u", NULL},
        {"v", "AddV2", "u", "k:0", NULL},
    };
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        field_str(&node, 1, spec[i][0]);
        field_str(&node, 2, spec[i][1]);
        for (int k = 2; k < 5 && spec[i][k]; k++) field_str(&node, 3, spec[i][k]);
        field_msg(&gd, 1, &node);
        node.len = 0;
    }
    bb_free(&node);
    Graph *g = parse_ok(gd.data, gd.len);
    assert_int_equal(graph_node(g, 1)->n_outputs, 3);
    assert_int_equal(graph_node(g, 2)->n_outputs, 1);
    /* u is consumed by v (and by nop's control edge); dead and v are not consumed */
    assert_int_equal(g->n_outputs, 2);
    assert_int_equal(g->outputs[0].node, 3);
    assert_int_equal(g->outputs[1].node, 6);
    const Node *nop = graph_node(g, 5);
    assert_int_equal(nop->n_ctrl, 1);
    assert_int_equal(nop->ctrl[0], 2);
    const Node *v = graph_node(g, 6);
    assert_int_equal(v->inputs[1].node, 4);
    assert_int_equal(v->inputs[1].port, 0);
    /* ":0" is written back as the bare name */
    uint8_t *s;
    size_t l;
    serialize_ok(g, &s, &l);
    assert_null(find_bytes(s, l, "k:0", 3));
    assert_non_null(find_bytes(s, l, "split:2", 7));
    free(s);
    graph_free(g);
    bb_free(&gd);
}

/* ---------------------------------------------------------------------------------------------
 * the real fixtures */

static cJSON *read_manifest(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/real/%s/manifest.json", dir);
    uint8_t *data;
    size_t len;
    Err err;
    CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
    cJSON *m = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    assert_non_null(m);
    return m;
}

/* a copy of the gender graph with every large Const turned into a one-value splat of the same
   shape: real op/attr structure in a few KB, a good fuzzing seed */
static void write_small_seed(const Graph *g, const char *name) {
    if (!getenv("GRAPPO_WRITE_SEEDS")) return;
    Err err;
    Graph *c = graph_clone(g, &err);
    assert_non_null(c);
    for (int i = 0; i < c->n_nodes; i++) {
        Node *n = graph_node(c, i);
        Attr *a = node_attr_find(n, "value");
        if (n->op != OP_CONST || !a || a->kind != ATTR_TENSOR || a->tensor.dtype != DT_FLOAT) continue;
        if (tensor_numel(&a->tensor) <= 16) continue;
        ByteBuf t = tensor_head(DT_FLOAT, a->tensor.shape.rank, a->tensor.shape.dim), v = {0};
        packed_floats(&t, 5, (float[]){0.03125f}, 1);
        field_msg(&v, 8, &t);
        Shape shape = a->tensor.shape;
        a = node_attr_put(n, "value");
        a->kind = ATTR_TENSOR;
        CHECK_OK(tensor_alloc(&a->tensor, DT_FLOAT, &shape, &err), &err);
        a->raw = v.data; /* ownership moves to the attribute */
        a->raw_len = v.len;
        bb_free(&t);
    }
    uint8_t *s;
    size_t l;
    serialize_ok(c, &s, &l);
    write_seed(name, s, l);
    free(s);
    graph_free(c);
}

static void test_fixture(void **state) {
    const char *dir = *state;
    char path[256], out[256];
    snprintf(path, sizeof path, "tests/fixtures/real/%s/model.pb", dir);
    snprintf(out, sizeof out, "%s/%s.pb", tmpdir, dir);
    Err err;
    cJSON *m = read_manifest(dir);
    const cJSON *mg = cJSON_GetObjectItem(m, "graph");

    Graph *g = graphdef_load(path, &err);
    if (!g) { print_error("%s\n", err.msg); fail(); }
    assert_int_equal(g->n_nodes, cJSON_GetObjectItem(mg, "nodes")->valueint);
    assert_int_equal(g->producer, cJSON_GetObjectItem(mg, "producer")->valueint);

    /* op histogram, both directions */
    const cJSON *ops = cJSON_GetObjectItem(mg, "ops"), *op;
    int total = 0;
    cJSON_ArrayForEach(op, ops) {
        int count = 0;
        for (int i = 0; i < g->n_nodes; i++) count += !strcmp(graph_node(g, i)->op_name, op->string);
        if (count != op->valueint) { print_error("%s: op %s: %d != %d\n", dir, op->string, count, op->valueint); fail(); }
        total += count;
    }
    assert_int_equal(total, g->n_nodes);

    /* weights: number of Consts, their dtypes and total data bytes */
    int n_consts = 0, n_float = 0, n_int32 = 0;
    int64_t weight_bytes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = graph_node(g, i);
        if (n->op != OP_CONST) continue;
        const Tensor *t = node_attr_tensor(n, "value");
        assert_non_null(t);
        assert_non_null(t->buf);
        assert_int_equal(t->dtype, node_attr_type(n, "dtype", -1));
        n_consts++;
        n_float += t->dtype == DT_FLOAT;
        n_int32 += t->dtype == DT_INT32;
        weight_bytes += (int64_t)tensor_nbytes(t);
    }
    const cJSON *wd = cJSON_GetObjectItem(mg, "weight_dtypes");
    assert_int_equal(n_consts, cJSON_GetObjectItem(mg, "weights")->valueint);
    assert_int_equal(n_float, cJSON_GetObjectItem(wd, "DT_FLOAT")->valueint);
    assert_int_equal(n_int32, cJSON_GetObjectItem(wd, "DT_INT32")->valueint);
    assert_int_equal(weight_bytes, (int64_t)cJSON_GetObjectItem(mg, "weight_bytes")->valuedouble);

    /* inputs are Placeholders; every "model output" is a graph output */
    const cJSON *io;
    cJSON_ArrayForEach(io, cJSON_GetObjectItem(m, "inputs")) {
        ValueRef v;
        CHECK_OK(graph_parse_ref(g, cJSON_GetObjectItem(io, "name")->valuestring, &v, &err), &err);
        assert_int_equal(graph_node(g, v.node)->op, OP_PLACEHOLDER);
    }
    cJSON_ArrayForEach(io, cJSON_GetObjectItem(m, "outputs")) {
        if (strcmp(cJSON_GetObjectItem(io, "kind")->valuestring, "model output")) continue;
        ValueRef v;
        CHECK_OK(graph_parse_ref(g, cJSON_GetObjectItem(io, "name")->valuestring, &v, &err), &err);
        bool found = false;
        for (int k = 0; k < g->n_outputs; k++) found |= g->outputs[k].node == v.node && g->outputs[k].port == v.port;
        assert_true(found);
    }

    /* save, reload, compare everything; the file was written by protoc's deterministic
       serializer, and so is ours: all three byte strings are equal */
    CHECK_OK(graphdef_save(g, out, &err), &err);
    Graph *h = graphdef_load(out, &err);
    if (!h) { print_error("%s\n", err.msg); fail(); }
    assert_graph_same(g, h);
    uint8_t *orig, *s1, *s2;
    size_t lo, l1, l2;
    CHECK_OK(read_file_bytes(path, &orig, &lo, &err), &err);
    CHECK_OK(read_file_bytes(out, &s1, &l1, &err), &err);
    serialize_ok(h, &s2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(s1, s2, l1);
    assert_int_equal(lo, l1);
    assert_memory_equal(orig, s1, lo);
    if (!strcmp(dir, "gender")) write_small_seed(g, "gender_small.pb");
    free(orig); free(s1); free(s2);
    graph_free(h);
    graph_free(g);
    cJSON_Delete(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_attr_kind_round_trip),
        cmocka_unit_test(test_attrs_sorted),
        cmocka_unit_test(test_unmodelled_fields_survive),
        cmocka_unit_test(test_splat_and_typed_values),
        cmocka_unit_test(test_empty_graph),
        cmocka_unit_test(test_outputs_and_ports),
        cmocka_unit_test_prestate(test_fixture, (void *)FIXTURES[0]),
        cmocka_unit_test_prestate(test_fixture, (void *)FIXTURES[1]),
        cmocka_unit_test_prestate(test_fixture, (void *)FIXTURES[2]),
        cmocka_unit_test_prestate(test_fixture, (void *)FIXTURES[3]),
        cmocka_unit_test_prestate(test_fixture, (void *)FIXTURES[4]),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
