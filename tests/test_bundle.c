/* test_bundle.c - the LevelDB-format table reader and TensorBundle checkpoints: the real
 * checkpoint of tests/fixtures/saved_model/module, tables built here byte by byte, and every
 * corruption the issue lists (bad footer magic, bad block CRC, truncated block, varint
 * overflow, missing and short shard, bad entry CRC): ERR_INPUT, one line naming the file. */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/bundle_table.h"
#include "io/crc32c.h"
#include "io/pb_wire.h"
#include "io/tensor_bundle.h"

#define FIX "tests/fixtures/saved_model/module/variables/variables"

static void put32(ByteBuf *b, uint32_t v) {
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    bb_put(b, p, 4);
}

/* block contents + trailer (type 0, masked CRC of contents + type) */
static void put_block(ByteBuf *out, const uint8_t *data, size_t n) {
    size_t at = out->len;
    bb_put(out, data, n);
    uint8_t type = 0;
    bb_put(out, &type, 1);
    put32(out, crc32c_mask(crc32c(out->data + at, n + 1)));
}

/* a table whose single data block is `block` (entries + restarts as given) */
static void make_table(const uint8_t *block, size_t n, ByteBuf *out) {
    memset(out, 0, sizeof *out);
    put_block(out, block, n);
    size_t index_at = out->len;
    ByteBuf idx = {0};
    uint8_t e[3] = {0, 1, 0}; /* shared 0, unshared 1, value length (patched) */
    ByteBuf handle = {0};
    bb_varint(&handle, 0);
    bb_varint(&handle, n);
    e[2] = (uint8_t)handle.len;
    bb_put(&idx, e, 3);
    bb_put(&idx, "z", 1);
    bb_put(&idx, handle.data, handle.len);
    put32(&idx, 0);
    put32(&idx, 1);
    put_block(out, idx.data, idx.len);
    ByteBuf footer = {0};
    bb_varint(&footer, 0); /* metaindex: unused by the reader */
    bb_varint(&footer, 0);
    bb_varint(&footer, index_at);
    bb_varint(&footer, idx.len);
    while (footer.len < 40) bb_put(&footer, "\0", 1);
    uint8_t magic[8] = {0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb};
    bb_put(&footer, magic, 8);
    bb_put(out, footer.data, footer.len);
    bb_free(&idx);
    bb_free(&handle);
    bb_free(&footer);
}

static void expect_bad_table(const uint8_t *data, size_t len, const char *needle) {
    Err err;
    err_clear(&err);
    BundleTable t;
    int rc = bundle_table_parse(data, len, "t.index", &t, &err);
    if (rc == 0) {
        bundle_table_free(&t);
        print_error("parsed a bad table, wanted '%s'\n", needle);
        fail();
    }
    assert_int_equal(err.code, ERR_INPUT);
    if (strncmp(err.msg, "t.index: ", 9) || !strstr(err.msg, needle)) {
        print_error("unexpected message: %s (wanted '%s')\n", err.msg, needle);
        fail();
    }
    assert_null(strchr(err.msg, '\n'));
}

static void test_built_table(void **state) {
    (void)state;
    /* two entries, the second sharing 3 bytes of "abc" */
    const uint8_t block[] = {0, 3, 2, 'a', 'b', 'c', 'v', '1', 3, 1, 1, 'd', 'w', 0, 0, 0, 0, 1, 0, 0, 0};
    ByteBuf b;
    make_table(block, sizeof block, &b);
    BundleTable t;
    Err err;
    CHECK_OK(bundle_table_parse(b.data, b.len, "t", &t, &err), &err);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.entries[0].key, "abc");
    assert_string_equal(t.entries[1].key, "abcd");
    assert_int_equal(t.entries[1].value_len, 1);
    assert_int_equal(t.entries[1].value[0], 'w');
    assert_non_null(bundle_table_find(&t, "abcd"));
    assert_null(bundle_table_find(&t, "ab"));
    bundle_table_free(&t);

    /* bad footer magic */
    b.data[b.len - 1] ^= 1;
    expect_bad_table(b.data, b.len, "bad footer magic");
    b.data[b.len - 1] ^= 1;
    /* bad block CRC: one flipped byte in the data block */
    b.data[4] ^= 0x40;
    expect_bad_table(b.data, b.len, "bad CRC");
    b.data[4] ^= 0x40;
    /* shorter than a footer */
    expect_bad_table(b.data, 20, "shorter than a table footer");
    bb_free(&b);
}

static void test_varint_overflow_and_overruns(void **state) {
    (void)state;
    ByteBuf b;
    /* an entry header whose varint never ends within 10 bytes */
    const uint8_t overflow[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 0, 0, 0};
    make_table(overflow, sizeof overflow, &b);
    expect_bad_table(b.data, b.len, "bad varint");
    bb_free(&b);
    /* a value length past the block */
    const uint8_t overrun[] = {0, 1, 100, 'k', 0, 0, 0, 0, 1, 0, 0, 0};
    make_table(overrun, sizeof overrun, &b);
    expect_bad_table(b.data, b.len, "run past the block");
    bb_free(&b);
    /* a shared prefix longer than the previous key */
    const uint8_t shared[] = {5, 1, 0, 'k', 0, 0, 0, 0, 1, 0, 0, 0};
    make_table(shared, sizeof shared, &b);
    expect_bad_table(b.data, b.len, "run past the block");
    bb_free(&b);
    /* restart count larger than the block */
    const uint8_t restarts[] = {0, 1, 0, 'k', 0xff, 0xff, 0, 0};
    make_table(restarts, sizeof restarts, &b);
    expect_bad_table(b.data, b.len, "restart points do not fit");
    bb_free(&b);
}

static void test_truncated_block(void **state) {
    (void)state;
    uint8_t *data;
    size_t len;
    Err err;
    CHECK_OK(read_file_bytes(FIX ".index", &data, &len, &err), &err);
    /* keep the footer but drop bytes before it: the index handle now points past the data */
    size_t cut = 40;
    uint8_t *t = malloc(len - cut);
    memcpy(t, data + cut, len - cut);
    expect_bad_table(t, len - cut, "");
    free(t);
    free(data);
}

static void test_real_checkpoint(void **state) {
    (void)state;
    Err err;
    TensorBundle *b = tensor_bundle_open(FIX, &err);
    if (!b) fail_msg("%s", err.msg);
    assert_true(tensor_bundle_has(b, "_CHECKPOINTABLE_OBJECT_GRAPH"));
    assert_true(tensor_bundle_has(b, "w/.ATTRIBUTES/VARIABLE_VALUE"));
    Tensor w;
    CHECK_OK(tensor_bundle_read(b, "w/.ATTRIBUTES/VARIABLE_VALUE", &w, &err), &err);
    assert_int_equal(w.dtype, DT_FLOAT);
    assert_int_equal(w.shape.rank, 2);
    assert_int_equal(w.shape.dim[0], 6);
    assert_int_equal(w.shape.dim[1], 5);
    tensor_release(&w);
    uint8_t *s;
    size_t n;
    CHECK_OK(tensor_bundle_read_string(b, "_CHECKPOINTABLE_OBJECT_GRAPH", &s, &n, &err), &err);
    assert_true(n > 10);
    free(s);
    assert_int_equal(tensor_bundle_read(b, "nope", &w, &err), -1);
    assert_non_null(strstr(err.msg, "no checkpoint entry 'nope'"));
    tensor_bundle_close(b);
}

/* copies the fixture checkpoint into a temp dir; returns the prefix */
static void copy_ckpt(char *dir, size_t cap, char *prefix, size_t pcap) {
    snprintf(dir, cap, "/tmp/grappo_bundle_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(prefix, pcap, "%s/variables", dir);
    const char *suffix[] = {".index", ".data-00000-of-00001"};
    for (int i = 0; i < 2; i++) {
        uint8_t *data;
        size_t len;
        Err err;
        char src[512], dst[512];
        snprintf(src, sizeof src, "%s%s", FIX, suffix[i]);
        snprintf(dst, sizeof dst, "%s%s", prefix, suffix[i]);
        CHECK_OK(read_file_bytes(src, &data, &len, &err), &err);
        CHECK_OK(atomic_write_file(dst, data, len, &err), &err);
        free(data);
    }
}

static void expect_bad_read(const char *prefix, const char *needle) {
    Err err;
    TensorBundle *b = tensor_bundle_open(prefix, &err);
    if (!b) fail_msg("%s", err.msg);
    Tensor w;
    assert_int_equal(tensor_bundle_read(b, "w/.ATTRIBUTES/VARIABLE_VALUE", &w, &err), -1);
    assert_int_equal(err.code, ERR_INPUT);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "variables.data-00000-of-00001")) fail_msg("unexpected: %s", err.msg);
    assert_null(strchr(err.msg, '\n'));
    tensor_bundle_close(b);
}

static void test_shard_errors(void **state) {
    (void)state;
    char dir[64], prefix[128], shard[256];
    copy_ckpt(dir, sizeof dir, prefix, sizeof prefix);
    snprintf(shard, sizeof shard, "%s.data-00000-of-00001", prefix);
    uint8_t *data;
    size_t len;
    Err err;
    CHECK_OK(read_file_bytes(shard, &data, &len, &err), &err);
    /* a flipped byte anywhere in the data: the entry CRC */
    for (size_t i = 0; i < len; i++) data[i] ^= 0x10;
    CHECK_OK(atomic_write_file(shard, data, len, &err), &err);
    expect_bad_read(prefix, "bad CRC");
    /* short shard */
    CHECK_OK(atomic_write_file(shard, data, 8, &err), &err);
    expect_bad_read(prefix, "short shard");
    /* missing shard */
    unlink(shard);
    expect_bad_read(prefix, "missing shard");
    free(data);
    char path[256];
    snprintf(path, sizeof path, "%s.index", prefix);
    unlink(path);
    rmdir(dir);
}

/* every input libFuzzer found crashing fuzz_bundle_table (tests/fixtures/regress/fuzz_bundle_table,
 * absent while there are none), run as the fuzzer runs it: a clean error or a parse */
static void test_fuzz_regressions(void **state) {
    (void)state;
    DIR *d = opendir("tests/fixtures/regress/fuzz_bundle_table");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/regress/fuzz_bundle_table/%s", e->d_name);
        uint8_t *data;
        size_t len;
        Err err;
        CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
        BundleTable t;
        if (!bundle_table_parse(data, len, "regress.index", &t, &err)) bundle_table_free(&t);
        else assert_int_equal(err.code, ERR_INPUT);
        TensorBundle *b = tensor_bundle_parse(data, len, "/nonexistent/grappo-regress", &err);
        tensor_bundle_close(b);
        free(data);
    }
    closedir(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_built_table),
        cmocka_unit_test(test_varint_overflow_and_overruns),
        cmocka_unit_test(test_truncated_block),
        cmocka_unit_test(test_real_checkpoint),
        cmocka_unit_test(test_shard_errors),
        cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
