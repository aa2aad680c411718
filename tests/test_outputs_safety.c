/* test_outputs_safety.c - `grappo optimize` treats files with care (issue 11, items 2-4 and the
 * optimize parts of 10): outputs holding NaN/Inf can be optimized (NaN compared by position);
 * every output path is checked before any work and nothing is left behind on failure; -o equal
 * to the input is not clobbered by a failing run; special files: /dev/null and FIFOs are written
 * through (a private device node stands for /dev/null), symlinks are followed (the link stays), dangling links, read-only files and
 * directories are refused; NaN calibration data is refused with a word. The binary comes from
 * $GRAPPO (set by `make test`), default build/grappo. */
#define _DEFAULT_SOURCE /* mknod, makedev */
#include "testutil.h"
#include "testcli.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/graphdef.h"
#include "io/npy.h"
#include "rewrite/edit.h"
#include "runtime/ref.h"
#include "zoo/zoo.h"

static char *path_in(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
    return p[k];
}

static bool exists(const char *name) {
    struct stat st;
    return lstat(path_in(name), &st) == 0;
}

static char *read_all(const char *name, size_t *len) {
    uint8_t *d = NULL;
    Err e = {0};
    if (read_file_bytes(path_in(name), &d, len, &e)) return NULL;
    return (char *)d;
}

static bool same_bytes(const char *a, const char *b) {
    size_t la, lb;
    char *x = read_all(a, &la), *y = read_all(b, &lb);
    bool same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

static void expect_stderr(const char *needle) {
    size_t len;
    char *s = read_all("stderr", &len);
    assert_non_null(s);
    if (!strstr(s, needle)) {
        print_error("stderr '%s' lacks '%s'\n", s, needle);
        free(s);
        fail();
    }
    free(s);
}

static int setup(void **state) {
    (void)state;
    if (cli_init("grappo_safety_")) return -1;
    return run_in_tmp("zoo resnet8 -o in.pb") == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", tmp, tmp);
    return system(cmd) == 0 ? 0 : -1;
}

#define QUICK "--repeats 2 --eval-batches 2 --threads 1"

/* resnet8 whose outputs are Log(probs - 0.1): NaN where a probability is below 0.1, finite
   elsewhere, and -Inf logits where exp underflows is not needed: the NaN positions decide */
static void write_nan_model(const char *name) {
    Err e = {0};
    ZooOpts zo = zoo_opts_default();
    Graph *g = zoo_build("resnet8", &zo, &e);
    assert_non_null(g);
    int probs = graph_find(g, "probs");
    assert_true(probs >= 0);
    Tensor k = tt_f32(0, NULL, (float[]){0.1f});
    ValueRef in[2] = {{probs, 0}, {edit_add_const(g, "nan_k", &k, &e), 0}};
    tensor_release(&k);
    int sub = edit_add_node(g, "nan_sub", "Sub", in, 2, &e);
    assert_true(sub >= 0);
    node_set_attr_type(g->nodes[sub], "T", DT_FLOAT, &e);
    ValueRef s0 = {sub, 0};
    int lg = edit_add_node(g, "nan_out", "Log", &s0, 1, &e);
    assert_true(lg >= 0);
    node_set_attr_type(g->nodes[lg], "T", DT_FLOAT, &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    CHECK_OK(graphdef_save(g, path_in(name), &e), &e);
    graph_free(g);
}

/* item 2: NaN in the outputs is compared by position; the written file passes the check */
static void test_nan_outputs_can_be_optimized(void **state) {
    (void)state;
    write_nan_model("nan.pb");
    int rc = run_in_tmp("optimize nan.pb -o nan.opt.pb " QUICK);
    if (rc != 0) {
        size_t len;
        char *s = read_all("stderr", &len);
        print_error("exit %d: %s\n", rc, s ? s : "");
        free(s);
        fail();
    }
    assert_true(exists("nan.opt.pb"));
    /* the graph really has NaN outputs: the run prints no error and the file reloads */
    Err e = {0};
    Graph *g = graphdef_load(path_in("nan.opt.pb"), &e);
    assert_non_null(g);
    assert_true(graph_find(g, "nan_out") >= 0);
    graph_free(g);
}

/* item 3: an unwritable --report is found before any work; no OUT.pb is left */
static void test_bad_report_path_leaves_no_output(void **state) {
    (void)state;
    unlink(path_in("out.pb"));
    assert_int_equal(run_in_tmp("optimize in.pb -o out.pb --report nodir/r.json " QUICK), 2);
    assert_false(exists("out.pb"));
    expect_stderr("nodir/r.json");
    /* a report path that is a directory, likewise */
    mkdir(path_in("rdir"), 0755);
    assert_int_equal(run_in_tmp("optimize in.pb -o out.pb --report rdir " QUICK), 2);
    assert_false(exists("out.pb"));
    expect_stderr("is a directory");
    /* -o and --report naming one file */
    assert_int_equal(run_in_tmp("optimize in.pb -o out.pb --report out.pb " QUICK), 2);
    assert_false(exists("out.pb"));
}

/* item 3: -o equal to the input, and the run fails: the input is untouched */
static void test_output_equal_input_not_clobbered_on_failure(void **state) {
    (void)state;
    assert_int_equal(run_in_tmp("zoo resnet8 -o same.pb"), 0);
    assert_int_equal(run_in_tmp("zoo resnet8 -o same.orig"), 0);
    /* a policy that does not exist: ppo fails after the model was read */
    assert_true(run_in_tmp("optimize same.pb -o same.pb --search ppo --policy nothere.bin " QUICK) != 0);
    assert_true(same_bytes("same.pb", "same.orig"));
    /* an evaluation failure after calibration: NaN calibration data (refused, see below) */
    mkdir(path_in("calnan"), 0755);
    Tensor t;
    Err e = {0};
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &(Shape){4, {1, 32, 32, 3}}, &e), &e);
    ((float *)t.buf->data)[5] = NAN;
    CHECK_OK(npy_save(path_in("calnan/input_1_0.npy"), &t, &e), &e);
    tensor_release(&t);
    assert_int_equal(run_in_tmp("optimize same.pb -o same.pb --search grappler+int8 --calibration calnan " QUICK), 2);
    assert_true(same_bytes("same.pb", "same.orig"));
}

/* item 10 (optimize part): NaN calibration data does not silently skip every int8 rule */
static void test_nan_calibration_is_refused(void **state) {
    (void)state;
    mkdir(path_in("calnan2"), 0755);
    Tensor t;
    Err e = {0};
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &(Shape){4, {1, 32, 32, 3}}, &e), &e);
    ((float *)t.buf->data)[7] = INFINITY;
    CHECK_OK(npy_save(path_in("calnan2/input_1_0.npy"), &t, &e), &e);
    tensor_release(&t);
    unlink(path_in("int8.pb"));
    assert_int_equal(run_in_tmp("optimize in.pb -o int8.pb --search grappler+int8 --calibration calnan2 " QUICK), 2);
    expect_stderr("Inf");
    expect_stderr("input_1");
    assert_false(exists("int8.pb"));
}

/* item 4: a character device (a private twin of /dev/null, so that a grappo that replaces
   devices damages nothing outside the test) is written through, never replaced */
static void test_char_device_written_through(void **state) {
    (void)state;
    const char *dev = path_in("null");
    if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) != 0) skip(); /* not root */
    struct stat before, after;
    assert_int_equal(stat(dev, &before), 0);
    assert_int_equal(run_in_tmp("optimize in.pb -o null " QUICK), 0);
    assert_int_equal(lstat(dev, &after), 0);
    assert_true(S_ISCHR(after.st_mode));
    assert_true(before.st_ino == after.st_ino && before.st_rdev == after.st_rdev);
}

/* item 4: a FIFO is written through: a reader gets the whole model, the FIFO stays */
static void test_fifo_written_through(void **state) {
    (void)state;
    assert_int_equal(mkfifo(path_in("pipe"), 0644), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "timeout 30 cat %s > %s 2>&1 </dev/null &", path_in("pipe"), path_in("from_pipe.pb"));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run_in_tmp("optimize in.pb -o pipe " QUICK), 0);
    struct stat st;
    assert_int_equal(lstat(path_in("pipe"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    for (int i = 0; i < 50; i++) { /* the reader may still be copying */
        Err e = {0};
        Graph *g = graphdef_load(path_in("from_pipe.pb"), &e);
        if (g) { graph_free(g); return; }
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    fail_msg("the FIFO's reader did not receive a GraphDef");
}

/* item 4: a symlink is followed (its target replaced, the link kept); a dangling one, a
   read-only file and a directory are refused before any work */
static void test_symlinks_readonly_directories(void **state) {
    (void)state;
    /* another model at the link's target: whatever optimize writes there (the optimized graph,
       or in.pb unchanged when the timing says "not faster") differs from it */
    assert_int_equal(run_in_tmp("zoo resnet8 --seed 7 -o target.pb"), 0);
    assert_int_equal(run_in_tmp("zoo resnet8 --seed 7 -o target.orig"), 0);
    assert_int_equal(symlink("target.pb", path_in("link.pb")), 0);
    assert_int_equal(run_in_tmp("optimize in.pb -o link.pb " QUICK), 0);
    struct stat st;
    assert_int_equal(lstat(path_in("link.pb"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_false(same_bytes("target.pb", "target.orig")); /* the result went there */

    assert_int_equal(symlink("nowhere/x.pb", path_in("dangling.pb")), 0);
    assert_int_equal(run_in_tmp("optimize in.pb -o dangling.pb " QUICK), 2);
    expect_stderr("symlink");
    assert_int_equal(lstat(path_in("dangling.pb"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    assert_int_equal(run_in_tmp("zoo resnet8 -o ro.pb"), 0);
    assert_int_equal(run_in_tmp("zoo resnet8 -o ro.orig"), 0);
    assert_int_equal(chmod(path_in("ro.pb"), 0444), 0);
    assert_int_equal(run_in_tmp("optimize in.pb -o ro.pb " QUICK), 2);
    expect_stderr("read-only");
    assert_true(same_bytes("ro.pb", "ro.orig"));

    mkdir(path_in("adir"), 0755);
    assert_int_equal(run_in_tmp("optimize in.pb -o adir " QUICK), 2);
    expect_stderr("directory");
}

/* the staged writes: two outputs committed together; abort leaves nothing */
static void test_stage_commit_abort(void **state) {
    (void)state;
    Err e = {0};
    OutputStage s[2];
    CHECK_OK(output_stage(&s[0], path_in("a.txt"), "alpha", 5, &e), &e);
    CHECK_OK(output_stage(&s[1], path_in("b.txt"), "beta", 4, &e), &e);
    assert_false(exists("a.txt"));
    assert_false(exists("b.txt"));
    CHECK_OK(outputs_commit(s, 2, &e), &e);
    size_t len;
    char *a = read_all("a.txt", &len);
    assert_true(a && len == 5 && !memcmp(a, "alpha", 5));
    free(a);
    CHECK_OK(output_stage(&s[0], path_in("c.txt"), "gamma", 5, &e), &e);
    outputs_abort(s, 1);
    assert_false(exists("c.txt"));
    /* no temporary file is left in the directory */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp\\.'", tmp);
    assert_true(system(cmd) != 0);
    assert_int_equal(output_check(path_in("missing/dir/x"), &e), -1);
    assert_int_equal(e.code, ERR_INPUT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nan_outputs_can_be_optimized),
        cmocka_unit_test(test_bad_report_path_leaves_no_output),
        cmocka_unit_test(test_output_equal_input_not_clobbered_on_failure),
        cmocka_unit_test(test_nan_calibration_is_refused),
        cmocka_unit_test(test_char_device_written_through),
        cmocka_unit_test(test_fifo_written_through),
        cmocka_unit_test(test_symlinks_readonly_directories),
        cmocka_unit_test(test_stage_commit_abort),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
