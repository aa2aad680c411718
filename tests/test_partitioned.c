/* test_partitioned.c - partitioned variables (saved in slices): a TF1-style SavedModel
 * TensorFlow wrote (tools/make_partitioned_fixture.py) with `w` [4, 6] in two slices along axis
 * 1 and `v` [130, 2] in three along axis 0. grappo assembles both from their slices and matches
 * TensorFlow's own values (ref_w.npy, ref_v.npy), the frozen model computes what TensorFlow
 * computed (ref_y.npy), and the slice keys grappo encodes are the bytes TensorFlow wrote.
 * Hostile checkpoints are the real index with `w`'s entry (or a slice's) altered: overlapping,
 * missing, out-of-range slices, a slice of another dtype or shape, a slice without its entry,
 * a slice spec that does not fit. Each is ERR_INPUT with one line naming `w`, and exit 2 from
 * the grappo command. */
#include "testutil.h"
#include "testcli.h"

#include <string.h>

#include "io/bundle_table.h"
#include "io/crc32c.h"
#include "io/model_load.h"
#include "io/npy.h"
#include "io/ordered_code.h"
#include "io/tensor_bundle.h"
#include "runtime/ref.h"
#include "saved_model.pb-c.h"

#define SM "tests/fixtures/saved_model/partitioned"
#define INDEX SM "/variables/variables.index"

static void expect_equal(const Tensor *got, const char *ref_path) {
    Err err;
    Tensor ref;
    CHECK_OK(npy_load(ref_path, &ref, &err), &err);
    assert_tensor_near(got, &ref, 0.0);
    tensor_release(&ref);
}

static void test_bundle_assembles_slices(void **state) {
    (void)state;
    Err err;
    TensorBundle *b = tensor_bundle_open(SM "/variables/variables", &err);
    if (!b) fail_msg("%s", err.msg);
    Tensor t;
    CHECK_OK(tensor_bundle_read(b, "w", &t, &err), &err);
    expect_equal(&t, SM "/ref_w.npy");
    tensor_release(&t);
    CHECK_OK(tensor_bundle_read(b, "v", &t, &err), &err);
    expect_equal(&t, SM "/ref_v.npy");
    tensor_release(&t);
    /* one partition, as RestoreV2 asks for it: rows 44..86 of v */
    CHECK_OK(tensor_bundle_read_slice(b, "v", "130 2 44,43:-", &t, &err), &err);
    assert_int_equal(t.shape.rank, 2);
    assert_int_equal(t.shape.dim[0], 43);
    Tensor v;
    CHECK_OK(npy_load(SM "/ref_v.npy", &v, &err), &err);
    assert_memory_equal(tensor_data(&t), (const float *)tensor_data(&v) + 44 * 2, 43 * 2 * sizeof(float));
    tensor_release(&v);
    tensor_release(&t);
    assert_int_equal(tensor_bundle_read_slice(b, "v", "130 3 0,1:-", &t, &err), -1); /* not its shape */
    assert_int_equal(err.code, ERR_INPUT);
    assert_int_equal(tensor_bundle_read_slice(b, "v", "130 2 100,40:-", &t, &err), -1); /* runs past */
    assert_non_null(strstr(err.msg, "'v'"));
    tensor_bundle_close(b);
}

static void test_model_matches_tensorflow(void **state) {
    (void)state;
    Err err;
    Graph *g = model_file_load(SM, NULL, &err);
    if (!g) fail_msg("%s", err.msg);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &err), &err);
    assert_int_equal(g->n_outputs, 2);
    float ones[4] = {1, 1, 1, 1};
    int64_t dims[2] = {1, 4};
    RefFeed feed = {.name = "x", .value = tt_f32(2, dims, ones)};
    Tensor out[2];
    CHECK_OK(ref_run(g, &feed, 1, NULL, 0, out, NULL, &err), &err);
    for (int i = 0; i < 2; i++) {
        const char *name = graph_node(g, g->outputs[i].node)->name;
        if (!strcmp(name, "y")) {
            Tensor ref;
            CHECK_OK(npy_load(SM "/ref_y.npy", &ref, &err), &err);
            assert_tensor_near(&out[i], &ref, 1e-5);
            tensor_release(&ref);
        } else {
            assert_string_equal(name, "z");
            expect_equal(&out[i], SM "/ref_v.npy");
        }
        tensor_release(&out[i]);
    }
    tensor_release(&feed.value);
    graph_free(g);
}

/* The slice keys: TensorFlow wrote v's third slice ([87:130, 0:2], 87 needs two bytes) and w's
 * second ([0:4, 3:6]); the encodings of the numbers at the length boundaries follow from the
 * format (n bytes hold 7n - 1 bits and the sign). */
static void test_slice_keys_match_tensorflow(void **state) {
    (void)state;
    Err err;
    uint8_t *data;
    size_t len;
    CHECK_OK(read_file_bytes(INDEX, &data, &len, &err), &err);
    BundleTable t;
    CHECK_OK(bundle_table_parse(data, len, "index", &t, &err), &err);
    ByteBuf k = {0};
    int64_t vs[2] = {87, 0}, vl[2] = {43, 2};
    oc_slice_key(&k, "v", 2, vs, vl);
    const uint8_t want_v[] = {0x00, 'v', 0x00, 0x01, 0x01, 0x02, 0xc0, 0x57, 0xab, 0x80, 0x82};
    assert_int_equal(k.len, sizeof want_v);
    assert_memory_equal(k.data, want_v, sizeof want_v);
    assert_non_null(bundle_table_find_bytes(&t, k.data, k.len));
    k.len = 0;
    int64_t ws[2] = {0, 3}, wl[2] = {4, 3};
    oc_slice_key(&k, "w", 2, ws, wl);
    assert_non_null(bundle_table_find_bytes(&t, k.data, k.len));
    int n_slice_keys = 0;
    for (int i = 0; i < t.n; i++) n_slice_keys += t.entries[i].key_len && t.entries[i].key[0] == 0;
    assert_int_equal(n_slice_keys, 5);
    struct {
        int64_t v;
        const char *bytes;
        size_t n;
    } cases[] = {
        {0, "\x80", 1},          {-1, "\x7f", 1},         {63, "\xbf", 1},          {-64, "\x40", 1},
        {64, "\xc0\x40", 2},     {-65, "\x3f\xbf", 2},    {8191, "\xdf\xff", 2},    {8192, "\xe0\x20\x00", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        k.len = 0;
        oc_put_signed(&k, cases[i].v);
        if (k.len != cases[i].n || memcmp(k.data, cases[i].bytes, k.len))
            fail_msg("signed %lld encodes wrongly", (long long)cases[i].v);
    }
    k.len = 0;
    oc_put_string(&k, "a\x00\xff", 3);
    assert_int_equal(k.len, 7);
    assert_memory_equal(k.data, "a\x00\xff\xff\x00\x00\x01", 7);
    k.len = 0;
    oc_put_unsigned(&k, 0x1234);
    assert_memory_equal(k.data, "\x02\x12\x34", 3);
    bb_free(&k);
    bundle_table_free(&t);
    free(data);
}

/* ---- hostile checkpoints: the real index rewritten with one entry altered ---- */

static void put32(ByteBuf *b, uint32_t v) {
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    bb_put(b, p, 4);
}

static void put_block(ByteBuf *out, const ByteBuf *block) {
    size_t at = out->len;
    bb_put(out, block->data, block->len);
    bb_put(out, "\0", 1); /* uncompressed */
    put32(out, crc32c_mask(crc32c(out->data + at, block->len + 1)));
}

/* A table of the given entries in one data block (one restart point). */
static void write_table(const char *path, const BundleTable *t, const ProtobufCBinaryData *values) {
    ByteBuf block = {0}, out = {0}, idx = {0}, handle = {0}, footer = {0};
    for (int i = 0; i < t->n; i++) {
        bb_varint(&block, 0);
        bb_varint(&block, t->entries[i].key_len);
        bb_varint(&block, values[i].len);
        bb_put(&block, t->entries[i].key, t->entries[i].key_len);
        bb_put(&block, values[i].data, values[i].len);
    }
    put32(&block, 0);
    put32(&block, 1);
    put_block(&out, &block);
    size_t index_at = out.len;
    bb_varint(&handle, 0);
    bb_varint(&handle, block.len);
    bb_varint(&idx, 0);
    bb_varint(&idx, 1);
    bb_varint(&idx, handle.len);
    bb_put(&idx, "\xff", 1);
    bb_put(&idx, handle.data, handle.len);
    put32(&idx, 0);
    put32(&idx, 1);
    put_block(&out, &idx);
    bb_varint(&footer, 0);
    bb_varint(&footer, 0);
    bb_varint(&footer, index_at);
    bb_varint(&footer, idx.len);
    while (footer.len < 40) bb_put(&footer, "\0", 1);
    bb_put(&footer, "\x57\xfb\x80\x8b\x24\x75\x47\xdb", 8);
    bb_put(&out, footer.data, footer.len);
    assert_false(out.oom);
    Err err;
    CHECK_OK(atomic_write_file(path, out.data, out.len, &err), &err);
    bb_free(&block), bb_free(&out), bb_free(&idx), bb_free(&handle), bb_free(&footer);
}

typedef enum {
    OVERLAP,
    MISSING,
    OUTSIDE,
    SLICE_DTYPE,
    SLICE_SHAPE,
    NO_SLICE_ENTRY,
    RANK,
} Hostility;

/* copies the fixture to tmp/sm and rewrites its index with hostility h; returns the model dir */
static const char *make_hostile(Hostility h) {
    static char dir[300];
    snprintf(dir, sizeof dir, "%s/sm", tmp);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s", dir, SM, dir);
    assert_int_equal(system(cmd), 0);
    Err err;
    uint8_t *data;
    size_t len;
    CHECK_OK(read_file_bytes(INDEX, &data, &len, &err), &err);
    BundleTable t;
    CHECK_OK(bundle_table_parse(data, len, "index", &t, &err), &err);
    ProtobufCBinaryData *values = calloc((size_t)t.n, sizeof *values);
    uint8_t **owned = calloc((size_t)t.n, sizeof *owned);
    ByteBuf second = {0}; /* the key of w's second slice, [0:4, 3:6] */
    int64_t ws[2] = {0, 3}, wl[2] = {4, 3};
    oc_slice_key(&second, "w", 2, ws, wl);
    int dropped = -1;
    for (int i = 0; i < t.n; i++) {
        const TableEntry *e = &t.entries[i];
        values[i] = (ProtobufCBinaryData){e->value_len, (uint8_t *)e->value};
        bool is_w = e->key_len == 1 && e->key[0] == 'w';
        bool is_second = e->key_len == second.len && !memcmp(e->key, second.data, second.len);
        if (!is_w && !is_second) continue;
        Grappo__Tf__BundleEntryProto *p = grappo__tf__bundle_entry_proto__unpack(NULL, e->value_len, e->value);
        assert_non_null(p);
        if (is_w) {
            assert_int_equal(p->n_slices, 2);
            Grappo__Tf__TensorSliceProto *s1 = p->slices[1];
            if (h == OVERLAP) s1->extent[1]->start = 2; /* [0:4, 2:5] overlaps [0:4, 0:3] */
            if (h == MISSING) p->n_slices = 1;
            if (h == OUTSIDE) s1->extent[1]->length = 4; /* [0:4, 3:7] */
            if (h == RANK) s1->n_extent = 1;
        } else {
            if (h == SLICE_DTYPE) p->dtype = 3; /* int32 */
            if (h == SLICE_SHAPE) p->shape->dim[0]->size = 2, p->size = 2 * 3 * 4; /* consistent, not its box */
            if (h == NO_SLICE_ENTRY) dropped = i;
        }
        size_t n = grappo__tf__bundle_entry_proto__get_packed_size(p);
        owned[i] = malloc(n);
        grappo__tf__bundle_entry_proto__pack(p, owned[i]);
        values[i] = (ProtobufCBinaryData){n, owned[i]};
        if (h == MISSING && is_w) p->n_slices = 2; /* so free_unpacked frees both */
        if (h == RANK && is_w) p->slices[1]->n_extent = 2;
        grappo__tf__bundle_entry_proto__free_unpacked(p, NULL);
    }
    if (dropped >= 0) { /* leave the slice's entry out */
        free(t.entries[dropped].key);
        memmove(&t.entries[dropped], &t.entries[dropped + 1], (size_t)(t.n - dropped - 1) * sizeof *t.entries);
        memmove(&values[dropped], &values[dropped + 1], (size_t)(t.n - dropped - 1) * sizeof *values);
        free(owned[dropped]);
        owned[dropped] = NULL;
        t.n--;
    }
    char path[400];
    snprintf(path, sizeof path, "%s/variables/variables.index", dir);
    write_table(path, &t, values);
    for (int i = 0; i < t.n + (dropped >= 0); i++) free(owned[i]);
    free(owned);
    free(values);
    bb_free(&second);
    bundle_table_free(&t);
    free(data);
    return dir;
}

static void test_hostile_slices(void **state) {
    (void)state;
    struct {
        Hostility h;
        const char *needle;
    } cases[] = {
        {OVERLAP, "'w' slice [0:4, 2:5] overlaps slice [0:4, 0:3]"},
        {MISSING, "'w': its 1 slices cover 12 of its 24 elements (a slice is missing)"},
        {OUTSIDE, "'w' slice [0:4, 3:7] lies outside the variable's shape"},
        {SLICE_DTYPE, "'w' slice [0:4, 3:6] has dtype 3, the variable 1"},
        {SLICE_SHAPE, "'w' slice [0:4, 3:6] is stored with shape"},
        {NO_SLICE_ENTRY, "'w' slice [0:4, 3:6]: no checkpoint entry for it"},
        {RANK, "'w': slice 1 has 1 dimensions, the variable 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *dir = make_hostile(cases[i].h);
        Err err;
        Graph *g = model_file_load(dir, NULL, &err);
        if (g) {
            graph_free(g);
            fail_msg("case %zu loaded", i);
        }
        if (err.code != ERR_INPUT || !strstr(err.msg, cases[i].needle) || strchr(err.msg, '\n'))
            fail_msg("case %zu: %s (want '%s')", i, err.msg, cases[i].needle);
        int rc = run("inspect %s", dir);
        if (rc != 2 || stderr_line_count() != 1 || !file_has("stderr", cases[i].needle))
            fail_msg("case %zu: grappo inspect: exit %d, not one line with the error", i, rc);
    }
}

static int setup(void **state) {
    (void)state;
    return cli_init("grappo_part_");
}

static int teardown(void **state) {
    (void)state;
    return cli_cleanup();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_assembles_slices),
        cmocka_unit_test(test_model_matches_tensorflow),
        cmocka_unit_test(test_slice_keys_match_tensorflow),
        cmocka_unit_test(test_hostile_slices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
