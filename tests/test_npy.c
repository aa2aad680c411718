/* test_npy.c - .npy reading and writing: every dtype at ranks 0..4, numpy's exact header layout,
 * hand-built version 2.0 / 3.0 headers with unusual spacing and key order, big-endian data,
 * and the input/output files of the real fixtures checked against their manifests (shape,
 * dtype, value statistics) and rewritten byte for byte.
 *
 * With GRAPPO_WRITE_SEEDS=1 the small files made here are also written to
 * fuzz/seeds/fuzz_npy/. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/npy.h"

static const char *FIXTURES[] = {"blazeface-front", "emotion", "gender", "handlandmark-lite", "selfie"};

static void write_seed(const char *name, const uint8_t *data, size_t len) {
    if (!getenv("GRAPPO_WRITE_SEEDS") || len >= 65536) return;
    char path[256];
    snprintf(path, sizeof path, "fuzz/seeds/fuzz_npy/%s", name);
    Err err;
    CHECK_OK(atomic_write_file(path, data, len, &err), &err);
}

static Tensor parse_ok(const uint8_t *data, size_t len) {
    Tensor t;
    Err err;
    if (npy_parse(data, len, "test.npy", &t, &err)) {
        print_error("%s\n", err.msg);
        fail();
    }
    return t;
}

/* values that exercise signs and the full range of each dtype */
static double pattern(int dtype, int64_t i) {
    switch (dtype) {
    case DT_BOOL: return (double)(i % 3 == 1);
    case DT_UINT8: return (double)((i * 37) % 256);
    case DT_INT8: return (double)((i * 37) % 256 - 128);
    case DT_INT64: return (double)((i - 3) * 1000000007LL);
    case DT_INT32: return (double)((i - 3) * 100003);
    default: return (double)(i - 2) * 0.375; /* exact in fp16, bf16 and fp32 */
    }
}

static void test_round_trip_every_dtype_and_rank(void **state) {
    (void)state;
    static const struct { int dt; const char *descr; } dts[] = {
        {DT_FLOAT, "<f4"}, {DT_HALF, "<f2"}, {DT_INT32, "<i4"}, {DT_INT64, "<i8"},
        {DT_UINT8, "|u1"}, {DT_INT8, "|i1"}, {DT_BOOL, "|b1"},
    };
    static const int64_t dims[][4] = {{0}, {5}, {2, 3}, {2, 1, 3}, {1, 2, 2, 3}};
    static const char *shape_repr[] = {"()", "(5,)", "(2, 3)", "(2, 1, 3)", "(1, 2, 2, 3)"};
    Err err;
    for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
        for (int rank = 0; rank <= 4; rank++) {
            Shape s = shape_make(rank, dims[rank]);
            Tensor t;
            CHECK_OK(tensor_alloc(&t, dts[d].dt, &s, &err), &err);
            for (int64_t i = 0; i < tensor_numel(&t); i++) tensor_set(&t, i, pattern(dts[d].dt, i));
            uint8_t *data;
            size_t len;
            CHECK_OK(npy_serialize(&t, &data, &len, &err), &err);

            /* numpy's layout: version 1.0, header padded to 64 bytes, ending in '\n' */
            assert_memory_equal(data, "\x93NUMPY\x01\x00", 8);
            size_t hlen = (size_t)data[8] | (size_t)data[9] << 8;
            assert_int_equal((10 + hlen) % 64, 0);
            assert_int_equal(data[10 + hlen - 1], '\n');
            char want[160];
            int wl = snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dts[d].descr,
                              shape_repr[rank]);
            assert_memory_equal(data + 10, want, (size_t)wl);
            for (size_t k = 10 + (size_t)wl; k < 10 + hlen - 1; k++) assert_int_equal(data[k], ' ');
            assert_int_equal(len, 10 + hlen + tensor_nbytes(&t));

            Tensor u = parse_ok(data, len);
            assert_int_equal(u.dtype, dts[d].dt);
            assert_true(shape_equal(&u.shape, &t.shape));
            assert_int_equal(tensor_nbytes(&u), tensor_nbytes(&t));
            for (int64_t i = 0; i < tensor_numel(&t); i++)
                assert_float_equal(tensor_get(&u, i), pattern(dts[d].dt, i), 0);
            if (rank == 2) {
                char name[32];
                snprintf(name, sizeof name, "%s.npy", dtype_name(dts[d].dt));
                write_seed(name, data, len);
            }
            free(data);
            tensor_release(&u);
            tensor_release(&t);
        }
    }
}

/* builds "\x93NUMPY" + version + length + header text (+ padding) + data */
static size_t build_npy(uint8_t *out, int major, const char *header, const void *data, size_t nbytes) {
    size_t prefix = major == 1 ? 10 : 12, hl = strlen(header);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    for (size_t b = 0; b < prefix - 8; b++) out[8 + b] = (uint8_t)(hl >> (8 * b));
    memcpy(out + prefix, header, hl);
    if (nbytes) memcpy(out + prefix + hl, data, nbytes);
    return prefix + hl + nbytes;
}

static void test_hand_built_headers(void **state) {
    (void)state;
    uint8_t buf[512];
    const int32_t vals[4] = {1, -2, 3, 2147483647};

    /* version 2.0: keys in another order, double quotes, no trailing comma, odd spacing */
    size_t n = build_npy(buf, 2, "{ \"shape\" :(2,2) ,'fortran_order':False,  'descr':'<i4'}   \n", vals, sizeof vals);
    Tensor t = parse_ok(buf, n);
    assert_int_equal(t.dtype, DT_INT32);
    assert_int_equal(t.shape.rank, 2);
    assert_int_equal(t.shape.dim[0], 2);
    assert_memory_equal(tensor_data(&t), vals, sizeof vals);
    write_seed("v2.npy", buf, n);
    tensor_release(&t);

    /* version 3.0 (utf-8 header) reads the same way; 1-d shape written as "(4)" and "(4L,)" */
    n = build_npy(buf, 3, "{'descr': '<i4', 'fortran_order': False, 'shape': (4), }\n", vals, sizeof vals);
    t = parse_ok(buf, n);
    assert_int_equal(t.shape.rank, 1);
    assert_int_equal(t.shape.dim[0], 4);
    tensor_release(&t);
    n = build_npy(buf, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (4L,), }\n", vals, sizeof vals);
    t = parse_ok(buf, n);
    assert_int_equal(t.shape.dim[0], 4);
    tensor_release(&t);

    /* empty arrays: zero bytes of data */
    n = build_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n", NULL, 0);
    t = parse_ok(buf, n);
    assert_int_equal(tensor_numel(&t), 0);
    assert_int_equal(t.shape.dim[1], 3);
    tensor_release(&t);

    /* '<u1' and '|b1' with a non-0/1 byte (read as true) */
    n = build_npy(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n", "\x00\x02\x01", 3);
    t = parse_ok(buf, n);
    assert_memory_equal(tensor_data(&t), "\x00\x01\x01", 3);
    tensor_release(&t);
    n = build_npy(buf, 1, "{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }\n", "\xff\x07", 2);
    t = parse_ok(buf, n);
    assert_int_equal(t.dtype, DT_UINT8);
    assert_float_equal(tensor_get(&t, 0), 255, 0);
    tensor_release(&t);
}

static void test_big_endian(void **state) {
    (void)state;
    uint8_t buf[512];
    /* 1.0f = 3f800000, -2.5f = c0200000, big-endian byte order */
    size_t n = build_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n",
                         "\x3f\x80\x00\x00\xc0\x20\x00\x00", 8);
    Tensor t = parse_ok(buf, n);
    assert_int_equal(t.dtype, DT_FLOAT);
    assert_float_equal(tensor_get(&t, 0), 1.0, 0);
    assert_float_equal(tensor_get(&t, 1), -2.5, 0);
    write_seed("big_endian.npy", buf, n);
    tensor_release(&t);

    /* int64 -2 and 0x0102030405060708 */
    n = build_npy(buf, 1, "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }\n",
                  "\xff\xff\xff\xff\xff\xff\xff\xfe\x01\x02\x03\x04\x05\x06\x07\x08", 16);
    t = parse_ok(buf, n);
    assert_int_equal(((const int64_t *)tensor_data(&t))[0], -2);
    assert_int_equal(((const int64_t *)tensor_data(&t))[1], 0x0102030405060708LL);
    tensor_release(&t);

    /* fp16 1.5 = 0x3e00; int32 -3 */
    n = build_npy(buf, 1, "{'descr': '>f2', 'fortran_order': False, 'shape': (), }\n", "\x3e\x00", 2);
    t = parse_ok(buf, n);
    assert_int_equal(t.dtype, DT_HALF);
    assert_float_equal(tensor_get(&t, 0), 1.5, 0);
    tensor_release(&t);
    n = build_npy(buf, 1, "{'descr': '>i4', 'fortran_order': False, 'shape': (1,), }\n", "\xff\xff\xff\xfd", 4);
    t = parse_ok(buf, n);
    assert_float_equal(tensor_get(&t, 0), -3, 0);
    tensor_release(&t);
}

static void test_save_and_load_file(void **state) {
    (void)state;
    char dir[] = "/tmp/grappo_npy_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.npy", dir);
    Err err;
    Tensor t = tt_f32(2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
    CHECK_OK(npy_save(path, &t, &err), &err);
    Tensor u;
    CHECK_OK(npy_load(path, &u, &err), &err);
    assert_tensor_near(&t, &u, 0);
    tensor_release(&u);

    /* bfloat16 has no numpy dtype: refused, and nothing is written */
    char bad[64];
    snprintf(bad, sizeof bad, "%s/b.npy", dir);
    Tensor b;
    Shape s = shape_make(1, (int64_t[]){2});
    CHECK_OK(tensor_alloc(&b, DT_BFLOAT16, &s, &err), &err);
    assert_int_equal(npy_save(bad, &b, &err), -1);
    assert_int_equal(err.code, ERR_INPUT);
    assert_non_null(strstr(err.msg, "b.npy"));
    assert_int_equal(access(bad, F_OK), -1);
    tensor_release(&b);
    tensor_release(&t);
    unlink(path);
    rmdir(dir);
}

/* the fixtures' .npy files: shapes/dtypes from the manifest, output statistics recomputed,
   and our writer reproduces numpy's bytes exactly */
static void check_npy_entry(const char *dir, const cJSON *e, bool is_output) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/real/%s/%s", dir, cJSON_GetObjectItem(e, "file")->valuestring);
    Err err;
    Tensor t;
    CHECK_OK(npy_load(path, &t, &err), &err);
    assert_int_equal(t.dtype, dtype_from_name(cJSON_GetObjectItem(e, "dtype")->valuestring));
    const cJSON *shape = cJSON_GetObjectItem(e, "shape"), *d;
    assert_int_equal(t.shape.rank, cJSON_GetArraySize(shape));
    int k = 0;
    cJSON_ArrayForEach(d, shape) assert_int_equal(t.shape.dim[k++], d->valueint);

    if (is_output) {
        const cJSON *st = cJSON_GetObjectItem(e, "stats");
        double mn = INFINITY, mx = -INFINITY, sum = 0;
        int64_t n = tensor_numel(&t);
        for (int64_t i = 0; i < n; i++) {
            double v = tensor_get(&t, i);
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
            sum += v;
        }
        /* min/max are exact float32 values; mean is rounded in the manifest */
        assert_float_equal(mn, cJSON_GetObjectItem(st, "min")->valuedouble, 1e-12 + 1e-7 * fabs(mn));
        assert_float_equal(mx, cJSON_GetObjectItem(st, "max")->valuedouble, 1e-12 + 1e-7 * fabs(mx));
        assert_float_equal(sum / (double)n, cJSON_GetObjectItem(st, "mean")->valuedouble, 1e-6 + 1e-6 * fabs(mx));
    }

    uint8_t *orig, *again;
    size_t lo, la;
    CHECK_OK(read_file_bytes(path, &orig, &lo, &err), &err);
    CHECK_OK(npy_serialize(&t, &again, &la, &err), &err);
    assert_int_equal(lo, la);
    assert_memory_equal(orig, again, lo);
    free(orig);
    free(again);
    tensor_release(&t);
}

static void test_fixture_npy(void **state) {
    const char *dir = *state;
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/real/%s/manifest.json", dir);
    uint8_t *data;
    size_t len;
    Err err;
    CHECK_OK(read_file_bytes(path, &data, &len, &err), &err);
    cJSON *m = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    assert_non_null(m);
    const cJSON *e;
    int n = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(m, "inputs")) { check_npy_entry(dir, e, false); n++; }
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(m, "outputs")) { check_npy_entry(dir, e, true); n++; }
    assert_true(n >= 2);
    cJSON_Delete(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_dtype_and_rank),
        cmocka_unit_test(test_hand_built_headers),
        cmocka_unit_test(test_big_endian),
        cmocka_unit_test(test_save_and_load_file),
        cmocka_unit_test_prestate(test_fixture_npy, (void *)FIXTURES[0]),
        cmocka_unit_test_prestate(test_fixture_npy, (void *)FIXTURES[1]),
        cmocka_unit_test_prestate(test_fixture_npy, (void *)FIXTURES[2]),
        cmocka_unit_test_prestate(test_fixture_npy, (void *)FIXTURES[3]),
        cmocka_unit_test_prestate(test_fixture_npy, (void *)FIXTURES[4]),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
