/* testutil.h - shared helpers for the cmocka suites: building tiny graphs, comparing tensors,
 * reading a file's text. */
#ifndef GRAPPO_TESTUTIL_H
#define GRAPPO_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "graph/graph.h"
#include "io/atomic_file.h"
#include "util/err.h"

/* a whole file as a NUL-terminated string (malloc'd, caller frees), NULL when it cannot be read */
static inline char *tu_read_text(const char *path) {
    uint8_t *data = NULL;
    size_t len = 0;
    Err e = {0};
    if (read_file_bytes(path, &data, &len, &e)) return NULL;
    char *s = realloc(data, len + 1);
    if (!s) { free(data); return NULL; }
    s[len] = 0;
    return s;
}

/* fails the test with err's message when cond is non-zero */
#define CHECK_OK(expr, err)                                                         \
    do {                                                                            \
        if ((expr) != 0) { print_error("%s failed: %s\n", #expr, (err)->msg); fail(); } \
    } while (0)

/* skips the running test, saying why: tests/run_all.sh prints the reason next to the test's name
   and counts it in "N skipped" (a skip is never a pass) */
#define TU_SKIP(...)                            \
    do {                                        \
        print_message("[ SKIP     ] ");         \
        print_message(__VA_ARGS__);             \
        print_message("\n");                    \
        skip();                                 \
    } while (0)

/* Float tensor from literal values: Tensor t = tt_f32(2, (int64_t[]){2,3}, (float[]){...}) */
/* removes a test's temporary directory (made with mkdtemp) and everything in it; 0 on success,
   for cmocka teardowns */
static inline int tu_rmtree(const char *dir) {
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static inline Tensor tt_f32(int rank, const int64_t *dims, const float *vals) {
    Tensor t; Err e; Shape s = shape_make(rank, dims);
    if (tensor_from_data(&t, DT_FLOAT, &s, vals, (size_t)shape_numel(&s) * 4, &e)) { print_error("%s\n", e.msg); fail(); }
    return t;
}
static inline Tensor tt_i32(int rank, const int64_t *dims, const int32_t *vals) {
    Tensor t; Err e; Shape s = shape_make(rank, dims);
    if (tensor_from_data(&t, DT_INT32, &s, vals, (size_t)shape_numel(&s) * 4, &e)) { print_error("%s\n", e.msg); fail(); }
    return t;
}

/* asserts |a - b| <= tol for every element, and equal shapes */
static inline void assert_tensor_near(const Tensor *a, const Tensor *b, double tol) {
    char sa[64], sb[64];
    if (!shape_equal(&a->shape, &b->shape)) {
        print_error("shape %s != %s\n", shape_str(&a->shape, sa, 64), shape_str(&b->shape, sb, 64));
        fail();
    }
    int64_t n = tensor_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double x = tensor_get(a, i), y = tensor_get(b, i);
        if (!(fabs(x - y) <= tol) && !(isnan(x) && isnan(y))) {
            print_error("element %lld: %.9g != %.9g (tol %g)\n", (long long)i, x, y, tol);
            fail();
        }
    }
}

#endif
