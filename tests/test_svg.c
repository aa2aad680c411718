/* test_svg.c - the SVG plot writer: well-formed documents (balanced tags), round ticks for
 * hand-picked ranges, non-finite points skipped, text escaped, atomic file output. */
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

#include "report/svg.h"

/* Checks that every element is closed in order: a stack of tag names. Returns true if the
   document starts with <svg, ends with </svg> and every tag is balanced. */
static bool well_formed(const char *s) {
    if (strncmp(s, "<svg", 4) != 0) return false;
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
    if (len < 6 || strncmp(s + len - 6, "</svg>", 6) != 0) return false;
    char stack[64][16];
    int depth = 0;
    for (const char *c = s; *c; c++) {
        if (*c != '<') continue;
        const char *end = strchr(c, '>');
        if (!end) return false;
        bool closing = c[1] == '/', self = end[-1] == '/';
        const char *name = c + 1 + closing;
        size_t n = strcspn(name, " >/\n");
        if (n == 0 || n >= 16) return false;
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], name, n) != 0 || stack[depth - 1][n] != 0) return false;
            depth--;
        } else if (!self) {
            if (depth == 64) return false;
            memcpy(stack[depth], name, n);
            stack[depth++][n] = 0;
        }
        c = end;
    }
    return depth == 0;
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void test_ticks_hand(void **st) {
    (void)st;
    double t[32], step;
    /* [0, 97] in at most 5 intervals: raw 19.4 -> 20; 0, 20, ..., 100 */
    int n = svg_nice_ticks(0, 97, 5, t, 32, &step);
    assert_int_equal(n, 6);
    assert_true(step == 20);
    for (int i = 0; i < n; i++) assert_true(fabs(t[i] - 20 * i) < 1e-12);
    /* [0.3, 9.2] in 5: raw 1.78 -> 2; 0, 2, ..., 10 */
    n = svg_nice_ticks(0.3, 9.2, 5, t, 32, &step);
    assert_int_equal(n, 6);
    assert_true(t[0] == 0 && fabs(t[5] - 10) < 1e-12 && step == 2);
    /* [-0.013, 0.042] in 6: raw 0.009167 -> 0.01; -0.02 .. 0.05 */
    n = svg_nice_ticks(-0.013, 0.042, 6, t, 32, &step);
    assert_int_equal(n, 8);
    assert_true(fabs(step - 0.01) < 1e-15 && fabs(t[0] + 0.02) < 1e-12 && fabs(t[7] - 0.05) < 1e-12);
    /* exact multiples are not widened: [10, 50] in 4 -> 10, 20, ..., 50 */
    n = svg_nice_ticks(10, 50, 4, t, 32, &step);
    assert_int_equal(n, 5);
    assert_true(t[0] == 10 && t[4] == 50);
    /* a single value gets a range around it */
    n = svg_nice_ticks(5, 5, 4, t, 32, &step);
    assert_true(n >= 2 && t[0] <= 4.5 && t[n - 1] >= 5.5);
}

static void test_render_curve(void **st) {
    (void)st;
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {0.1, 0.4, NAN, 0.9, 1.2};
    double px[4] = {1, 2, INFINITY, 4}, py[4] = {0.2, 0.3, 0.5, NAN};
    SvgSeries series[2] = {
        {.name = "mean return", .kind = SVG_LINE, .x = x, .y = y, .n = 5},
        {.name = "a < b & c", .kind = SVG_SCATTER, .x = px, .y = py, .n = 4},
    };
    SvgPlot p = {.title = "learning curve", .xlabel = "iteration", .ylabel = "return", .series = series, .n_series = 2};
    Err e = {0};
    char *s = svg_render(&p, &e);
    assert_non_null(s);
    assert_true(well_formed(s));
    /* no non-finite number leaked into the document */
    assert_null(strstr(s, "nan"));
    assert_null(strstr(s, "inf"));
    /* the NaN breaks the line into two segments: M L, then M L */
    const char *d = strstr(s, " d=\"");
    assert_non_null(d);
    int moves = 0, lines = 0;
    for (d += 4; *d != '"'; d++) { moves += *d == 'M'; lines += *d == 'L'; }
    assert_int_equal(moves, 2);
    assert_int_equal(lines, 2);
    /* scatter: only the two finite points (+1 legend marker) */
    assert_int_equal(count(s, "<circle"), 3);
    /* y ticks for [0.1, 1.2] in 6 intervals: raw 0.183 -> 0.2; 0.0, 0.2, ..., 1.2 */
    assert_non_null(strstr(s, ">0.0</text>"));
    assert_non_null(strstr(s, ">1.2</text>"));
    assert_int_equal(count(s, "class=\"ytick\""), 7);
    /* x ticks 1..5 in 8 intervals: raw 0.5 -> 0.5; 1.0, 1.5, ... 5.0 */
    assert_int_equal(count(s, "class=\"xtick\""), 9);
    assert_non_null(strstr(s, "a &lt; b &amp; c"));
    assert_non_null(strstr(s, "learning curve"));
    free(s);
}

static void test_write_empty_and_file(void **st) {
    (void)st;
    /* no finite points at all: still a valid, framed document */
    double y[2] = {NAN, NAN};
    SvgSeries se = {.name = "empty", .kind = SVG_LINE, .y = y, .n = 2};
    SvgPlot p = {.title = "t", .xlabel = "x", .ylabel = "y", .series = &se, .n_series = 1};
    char path[] = "/tmp/grappo_svg_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    Err e = {0};
    CHECK_OK(svg_write(&p, path, &e), &e);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    unlink(path);
    assert_true(well_formed(buf));
    assert_null(strstr(buf, "nan"));
    /* an unwritable destination is an error naming it */
    assert_int_equal(svg_write(&p, "/nonexistent-dir/x.svg", &e), -1);
    assert_non_null(strstr(e.msg, "/nonexistent-dir"));
    /* the checker itself rejects broken documents */
    assert_false(well_formed("<svg><g></svg>"));
    assert_false(well_formed("<svg><g></g>"));
    assert_true(well_formed("<svg><g><line/></g></svg>"));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ticks_hand), cmocka_unit_test(test_render_curve),
                                       cmocka_unit_test(test_write_empty_and_file)};
    return cmocka_run_group_tests_name("svg", tests, NULL, NULL);
}
