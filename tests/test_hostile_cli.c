/* test_hostile_cli.c - issue 11 through the grappo command: the same bad input gives exit 2
 * with one line on stderr on every path (inspect, run --runtime ref, run on the fast runtime),
 * names are escaped, special files and outputs that collide are refused without writing, and
 * --max-memory refuses with the amount asked. The binary comes from $GRAPPO (make test sets
 * it), default build/grappo; the crafted graphs are written by tests/craftpb.h. */
#include "testutil.h"
#include "testcli.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "craftpb.h"
#include "io/npy.h"

static void expect(const char *args, int code, const char *needle) {
    int rc = run("%s", args);
    char *err = slurp("stderr");
    assert_non_null(err);
    int lines = 0;
    for (char *c = err; *c; c++) lines += *c == '\n';
    if (rc != code || (needle && !strstr(err, needle)) || (code && lines != 1)) {
        print_error("grappo %s: exit %d (want %d), %d line(s) on stderr: %s(want '%s')\n", args, rc, code, lines, err,
                    needle ? needle : "");
        free(err);
        fail();
    }
    free(err);
}

static void write_pb(const char *name, Pb *g) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(g->p, 1, g->n, f), g->n);
    fclose(f);
    free(g->p);
    memset(g, 0, sizeof *g);
}

/* inspect, run --runtime ref and run (fast) all exit 2 naming `needle` */
static void expect_everywhere(const char *file, const char *extra, const char *needle) {
    const char *modes[3] = {"inspect", "run --runtime ref", "run"};
    for (int m = 0; m < 3; m++) {
        if (m == 0 && extra[0]) continue; /* inputs are run's business */
        char args[1024];
        snprintf(args, sizeof args, "%s %s/%s %s", modes[m], tmp, file, m ? extra : "");
        expect(args, 2, needle);
    }
}

static int setup(void **state) {
    (void)state;
    return cli_init("grappo_hostile_cli_");
}

static int teardown(void **state) {
    (void)state;
    return cli_cleanup();
}

/* item 10: one exit code per bad input, whatever the path */
static void test_same_exit_code_everywhere(void **state) {
    (void)state;
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 4});
    pb_unary(&g, "y", "Relu", "x:99");
    write_pb("port99.pb", &g);
    expect_everywhere("port99.pb", "", "reads output 99 of 'x'");

    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){0, (int64_t)1 << 62});
    Pb ax = pb_tensor(DT_INT32, 0, NULL, NULL, 0, (int64_t[]){1}, 1);
    pb_const(&g, "ax", &ax, DT_INT32);
    Pb c = pb_node("c", "ConcatV2", (const char *[]){"x", "x", "x", "x", "ax"}, 5);
    pb_attr(&c, "T", pb_a_type(DT_FLOAT));
    pb_attr(&c, "N", pb_a_i(4));
    pb_add_node(&g, &c);
    write_pb("concat.pb", &g);
    expect_everywhere("concat.pb", "", "add up past 2^63");

    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 4});
    Pb w = pb_tensor(DT_FLOAT, 2, (int64_t[]){4, 4}, (float[]){1}, 1, NULL, 0);
    Pb b = pb_tensor(DT_FLOAT, 1, (int64_t[]){4}, (float[]){1}, 1, NULL, 0);
    pb_const(&g, "w", &w, DT_FLOAT);
    pb_const(&g, "b", &b, DT_FLOAT);
    Pb f = pb_node("y", "_FusedMatMul", (const char *[]){"x", "w", "b"}, 3);
    pb_attr(&f, "T", pb_a_type(DT_FLOAT));
    pb_attr(&f, "num_args", pb_a_i(1));
    pb_attr(&f, "fused_ops", pb_a_strs(2, (const char *[]){"BiasAdd", "Frobnicate"}));
    pb_add_node(&g, &f);
    write_pb("ufused.pb", &g);
    expect_everywhere("ufused.pb", "", "Frobnicate");

    char name[1100];
    memset(name, 'n', 1024);
    name[1024] = 0;
    pb_placeholder(&g, name, DT_FLOAT, 2, (int64_t[]){1, 4});
    pb_unary(&g, "y", "Relu", name);
    write_pb("longname.pb", &g);
    expect_everywhere("longname.pb", "", "node name of 1024 bytes");

    const char *attrs[3] = {"strides", "dilations", "ksize"};
    for (int a = 0; a < 3; a++) {
        pb_placeholder(&g, "x", DT_FLOAT, 4, (int64_t[]){1, 8, 8, 1});
        Pb k = pb_tensor(DT_FLOAT, 4, (int64_t[]){1, 1, 1, 1}, (float[]){1}, 1, NULL, 0);
        pb_const(&g, "k", &k, DT_FLOAT);
        Pb n = a < 2 ? pb_node("c", "Conv2D", (const char *[]){"x", "k"}, 2) : pb_node("c", "MaxPool", (const char *[]){"x"}, 1);
        pb_attr(&n, "T", pb_a_type(DT_FLOAT));
        if (a != 0) pb_attr(&n, "strides", pb_a_ints(4, (int64_t[]){1, 1, 1, 1}));
        pb_attr(&n, attrs[a], pb_a_ints(4, (int64_t[]){1, (int64_t)1 << 62, (int64_t)1 << 62, 1}));
        pb_attr(&n, "padding", pb_a_s("SAME"));
        pb_add_node(&g, &n);
        write_pb("window.pb", &g);
        expect_everywhere("window.pb", "", attrs[a]);
    }

    /* Gather ids out of range from the user's .npy: bad input, on both runtimes */
    pb_placeholder(&g, "ids", DT_INT32, 1, (int64_t[]){3});
    Pb p = pb_tensor(DT_FLOAT, 2, (int64_t[]){4, 2}, (float[]){1}, 1, NULL, 0);
    pb_const(&g, "p", &p, DT_FLOAT);
    Pb a0 = pb_tensor(DT_INT32, 0, NULL, NULL, 0, (int64_t[]){0}, 1);
    pb_const(&g, "ax", &a0, DT_INT32);
    Pb gn = pb_node("g", "GatherV2", (const char *[]){"p", "ids", "ax"}, 3);
    pb_attr(&gn, "Tparams", pb_a_type(DT_FLOAT));
    pb_attr(&gn, "Tindices", pb_a_type(DT_INT32));
    pb_attr(&gn, "Taxis", pb_a_type(DT_INT32));
    pb_add_node(&g, &gn);
    write_pb("gather.pb", &g);
    char npy[512], extra[600];
    snprintf(npy, sizeof npy, "%s/ids.npy", tmp);
    Tensor ids = tt_i32(1, (int64_t[]){3}, (int32_t[]){0, 1, 99});
    Err e = {0};
    CHECK_OK(npy_save(npy, &ids, &e), &e);
    tensor_release(&ids);
    snprintf(extra, sizeof extra, "--input ids=%s", npy);
    expect_everywhere("gather.pb", extra, "indices[2] = 99 is not in [0, 4)");

    /* ops and dtypes no runtime executes: the same code on both runtimes (inspect lists them) */
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 4});
    pb_unary(&g, "y", "FooBar", "x");
    write_pb("unknown.pb", &g);
    char args[600];
    snprintf(args, sizeof args, "inspect %s/unknown.pb", tmp);
    expect(args, 0, NULL);
    snprintf(args, sizeof args, "run %s/unknown.pb --runtime ref", tmp);
    expect(args, 2, "FooBar");
    snprintf(args, sizeof args, "run %s/unknown.pb", tmp);
    expect(args, 2, "FooBar");
}

/* item 9: a name with a newline and terminal escapes stays on one line, escaped */
static void test_names_escaped(void **state) {
    (void)state;
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 4});
    pb_unary(&g, "bad\n\x1b[31mname", "NoSuchOp\x1b[2J", "x");
    write_pb("esc.pb", &g);
    char args[600];
    snprintf(args, sizeof args, "run %s/esc.pb", tmp);
    expect(args, 2, "bad\\n\\x1b[31mname");
    snprintf(args, sizeof args, "inspect %s/esc.pb", tmp);
    expect(args, 0, NULL);
    assert_false(file_has("stdout", "\x1b"));
    assert_true(file_has("stdout", "esc"));
}

/* item 8 and 10: special files refused; colliding --save-outputs names refused before writing */
static void test_special_files_and_collisions(void **state) {
    (void)state;
    expect("inspect /dev/zero", 2, "not a regular file");
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 4});
    pb_unary(&g, "a/b", "Relu", "x");
    pb_unary(&g, "a_b", "Relu", "x");
    write_pb("collide.pb", &g);
    char args[800], dir[300];
    snprintf(args, sizeof args, "run %s/collide.pb --input x=/dev/zero", tmp);
    expect(args, 2, "not a regular file");
    snprintf(dir, sizeof dir, "%s/saved", tmp);
    snprintf(args, sizeof args, "run %s/collide.pb --save-outputs %s", tmp, dir);
    expect(args, 2, "a_b_0.npy");
    char probe[400];
    snprintf(probe, sizeof probe, "%s/a_b_0.npy", dir);
    assert_int_not_equal(access(probe, F_OK), 0); /* nothing written */
}

/* item 7: --max-memory refuses with the amount asked; inspect reports without allocating */
static void test_max_memory(void **state) {
    (void)state;
    Pb g = {0};
    pb_splat_graph(&g);
    write_pb("splat.pb", &g);
    char args[600];
    snprintf(args, sizeof args, "inspect %s/splat.pb --max-memory 8GiB", tmp);
    expect(args, 2, "16.00 GiB");
    Pb d = pb_tensor(DT_INT32, 1, (int64_t[]){2}, NULL, 0, (int64_t[]){65536, 65536}, 2);
    pb_const(&g, "d", &d, DT_INT32);
    Pb v = pb_tensor(DT_FLOAT, 0, NULL, (float[]){1}, 1, NULL, 0);
    pb_const(&g, "v", &v, DT_FLOAT);
    Pb f = pb_node("f", "Fill", (const char *[]){"d", "v"}, 2);
    pb_attr(&f, "T", pb_a_type(DT_FLOAT));
    pb_attr(&f, "index_type", pb_a_type(DT_INT32));
    pb_add_node(&g, &f);
    write_pb("fill.pb", &g);
    snprintf(args, sizeof args, "inspect %s/fill.pb --max-memory=1GiB", tmp);
    expect(args, 0, NULL);
    assert_true(file_has("stdout", "over it, run would refuse"));
    snprintf(args, sizeof args, "run %s/fill.pb --max-memory 1GiB", tmp);
    expect(args, 2, "16.00 GiB");
    snprintf(args, sizeof args, "run %s/fill.pb --max-memory 1GiB --runtime ref", tmp);
    expect(args, 2, "16.00 GiB");
    expect("run zoo:gemm --max-memory 12X", 2, "--max-memory");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_exit_code_everywhere),
        cmocka_unit_test(test_names_escaped),
        cmocka_unit_test(test_special_files_and_collisions),
        cmocka_unit_test(test_max_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
