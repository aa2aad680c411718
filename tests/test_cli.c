/* test_cli.c - the grappo command end to end: exit codes, one-line errors naming the file or
 * node, no partial output files, --json parses, saved outputs equal the library's. The binary
 * comes from $GRAPPO (set by `make test`), default build/grappo. */
#include "testutil.h"
#include "testcli.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/graphdef.h"
#include "graph/input_gen.h"
#include "io/npy.h"
#include "runtime/ref.h"

static bool exists(const char *name) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return stat(path, &st) == 0;
}

/* the error contract: exit code, exactly one line on stderr, containing `needle` */
static void expect_error(const char *args, int code, const char *needle) {
    int rc = run("%s", args);
    char *err = slurp("stderr");
    assert_non_null(err);
    if (rc != code || !strstr(err, needle)) {
        print_error("grappo %s: exit %d (want %d), stderr: %s (want '%s')\n", args, rc, code, err, needle);
        fail();
    }
    int lines = 0;
    for (char *c = err; *c; c++) lines += *c == '\n';
    free(err);
    assert_int_equal(lines, 1);
}

/* a graph file loaded and inferred at its placeholders' own shapes; fails the test otherwise */
static Graph *load_inferred(const char *name) {
    Err e;
    char path[600];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    Graph *g = graphdef_load(path, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    return g;
}

static int placeholder_of(const Graph *g) {
    for (int i = 0; i < g->n_nodes; i++) if (g->nodes[i]->op == OP_PLACEHOLDER) return i;
    fail();
    return -1;
}

/* tensor `name` of a and of b on the reference runtime, fed a's placeholder generated from seed */
static void run_both(const Graph *a, const Graph *b, const char *name, uint64_t seed, Tensor *ya, Tensor *yb) {
    Err e;
    int ph = placeholder_of(a);
    RefFeed f = {a->nodes[ph]->name, {0}};
    CHECK_OK(input_generate(a, ph, seed, &f.value, &e), &e);
    ValueRef fa, fb;
    CHECK_OK(graph_parse_ref(a, name, &fa, &e), &e);
    CHECK_OK(graph_parse_ref(b, name, &fb, &e), &e); /* outputs keep their names */
    CHECK_OK(ref_run(a, &f, 1, &fa, 1, ya, NULL, &e), &e);
    CHECK_OK(ref_run(b, &f, 1, &fb, 1, yb, NULL, &e), &e);
    tensor_release(&f.value);
}

/* fidelity of b to a on `n` generated inputs (seeds from `seed`; the CLI's calibration uses
   other ones), computed here on the reference runtime: top-1 agreement of `logits` and the
   worst cosine */
static void fidelity(const Graph *a, const Graph *b, uint64_t seed, int n, double *top1, double *min_cos) {
    int agree = 0;
    *min_cos = 1;
    for (int k = 0; k < n; k++) {
        Tensor ya, yb;
        run_both(a, b, "logits", seed + (uint64_t)k, &ya, &yb);
        int64_t m = tensor_numel(&ya), ia = 0, ib = 0;
        double dot = 0, na = 0, nb = 0;
        for (int64_t i = 0; i < m; i++) {
            double x = tensor_get(&ya, i), y = tensor_get(&yb, i);
            dot += x * y, na += x * x, nb += y * y;
            if (x > tensor_get(&ya, ia)) ia = i;
            if (y > tensor_get(&yb, ib)) ib = i;
        }
        agree += ia == ib;
        double c = dot / sqrt(na * nb);
        if (!(c >= *min_cos)) *min_cos = c;
        tensor_release(&ya);
        tensor_release(&yb);
    }
    *top1 = (double)agree / n;
}

static int count_op_prefix(const Graph *g, const char *prefix) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += !strncmp(g->nodes[i]->op_name, prefix, strlen(prefix));
    return c;
}

/* `grappo optimize ARGS` with --report REPORT (a name in tmp): on a shared machine a faster
   result can be measured "not faster" now and then, so a run refused for that reason alone
   is tried again (3 times at most); any other verdict stands. Returns the parsed report. */
static cJSON *optimize_until_timed_faster(const char *args, const char *report) {
    for (int attempt = 0;; attempt++) {
        assert_int_equal(run("%s", args), 0);
        char *j_text = slurp(report);
        cJSON *j = cJSON_Parse(j_text);
        free(j_text);
        assert_non_null(j);
        const cJSON *v = cJSON_GetObjectItem(j, "verdict");
        assert_true(cJSON_IsString(v));
        if (cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned")) || !strstr(v->valuestring, "faster") || attempt == 2) return j;
        print_message("[ cli      ] attempt %d: %s (timing noise): again\n", attempt + 1, v->valuestring);
        cJSON_Delete(j);
    }
}

static int setup(void **state) {
    (void)state;
    if (cli_init("grappo_cli_")) return -1;
    char args[600];
    snprintf(args, sizeof args, "zoo resnet8 -o %s/r8.pb", tmp);
    return run("%s", args) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return cli_cleanup();
}

static void test_version_help_list(void **state) {
    (void)state;
    assert_int_equal(run("--version"), 0);
    assert_true(file_has("stdout", "grappo 0."));
    assert_int_equal(run("--help"), 0);
    assert_int_equal(run("run --help"), 0);
    assert_true(file_has("stdout", "--save-outputs"));
    assert_int_equal(run("zoo --list"), 0);
    char *out = slurp("stdout");
    assert_non_null(out);
    assert_non_null(strstr(out, "resnet50"));
    assert_non_null(strstr(out, "bert-base"));
    free(out);
    assert_int_equal(run("zoo --list --json"), 0);
    char *j_text = slurp("stdout");
    cJSON *j = cJSON_Parse(j_text);
    free(j_text);
    assert_non_null(j);
    assert_true(cJSON_GetArraySize(j) >= 8);
    cJSON_Delete(j);
    expect_error("frobnicate", 2, "frobnicate");
    expect_error("run", 2, "model");
    expect_error("zoo resnet8", 2, "-o");
}

static void test_inspect(void **state) {
    (void)state;
    char args[600];
    snprintf(args, sizeof args, "inspect %s/r8.pb", tmp);
    assert_int_equal(run("%s", args), 0);
    char *out = slurp("stdout");
    assert_non_null(out);
    assert_non_null(strstr(out, "Conv2D"));
    assert_non_null(strstr(out, "FusedBatchNormV3"));
    free(out);
    snprintf(args, sizeof args, "inspect %s/r8.pb --json", tmp);
    assert_int_equal(run("%s", args), 0);
    char *j_text = slurp("stdout");
    cJSON *j = cJSON_Parse(j_text);
    free(j_text);
    assert_non_null(j);
    /* the CLI's numbers are the library's numbers for the same file */
    Err e;
    char path[512];
    snprintf(path, sizeof path, "%s/r8.pb", tmp);
    Graph *g = graphdef_load(path, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_true(cJSON_GetObjectItem(j, "parameters")->valuedouble == (double)graph_param_count(g, NULL));
    assert_true(cJSON_GetObjectItem(j, "flops")->valuedouble == (double)graph_flops(g));
    assert_true(cJSON_GetObjectItem(j, "flops")->valuedouble > 1e6);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "inputs")), 1);
    graph_free(g);
    cJSON_Delete(j);
}

static void test_run_and_save(void **state) {
    (void)state;
    char args[800];
    snprintf(args, sizeof args, "run %s/r8.pb --runtime ref --seed 3 --repeat 2 --save-outputs %s/out --json", tmp, tmp);
    assert_int_equal(run("%s", args), 0);
    char *j_text = slurp("stdout");
    cJSON *j = cJSON_Parse(j_text);
    free(j_text);
    assert_non_null(j);
    cJSON *outs = cJSON_GetObjectItem(j, "outputs");
    assert_true(cJSON_GetArraySize(outs) >= 1);
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(j, "time_ms"), "repeats")->valuedouble, 2);
    /* every output was saved under its tensor name, and equals an in-process run */
    Err e;
    char path[900];
    snprintf(path, sizeof path, "%s/r8.pb", tmp);
    Graph *g = graphdef_load(path, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    int ph = -1;
    for (int i = 0; i < g->n_nodes; i++) if (g->nodes[i]->op == OP_PLACEHOLDER) ph = i;
    RefFeed f = {g->nodes[ph]->name, {0}};
    CHECK_OK(input_generate(g, ph, 3, &f.value, &e), &e);
    Tensor out[4];
    CHECK_OK(ref_run(g, &f, 1, NULL, 0, out, NULL, &e), &e);
    for (int k = 0; k < g->n_outputs; k++) {
        char fname[600];
        int n = snprintf(fname, sizeof fname, "%s/out/", tmp);
        char tname[300];
        snprintf(tname, sizeof tname, "%s:%d", g->nodes[g->outputs[k].node]->name, g->outputs[k].port);
        for (char *c = tname; *c; c++) fname[n++] = (*c == '/' || *c == ':') ? '_' : *c;
        snprintf(fname + n, sizeof fname - (size_t)n, ".npy");
        Tensor saved;
        CHECK_OK(npy_load(fname, &saved, &e), &e);
        assert_tensor_near(&saved, &out[k], 0);
        tensor_release(&saved);
        tensor_release(&out[k]);
    }
    tensor_release(&f.value);
    graph_free(g);
    cJSON_Delete(j);
}

/* the default (fast) runtime agrees with the reference within 1e-4 relative */
static void test_run_fast_matches_ref(void **state) {
    (void)state;
    char args[800];
    snprintf(args, sizeof args, "run %s/r8.pb --seed 4 --save-outputs %s/fast --threads 1", tmp, tmp);
    assert_int_equal(run("%s", args), 0);
    assert_true(file_has("stdout", "fast runtime"));
    snprintf(args, sizeof args, "run %s/r8.pb --seed 4 --runtime ref --save-outputs %s/ref", tmp, tmp);
    assert_int_equal(run("%s", args), 0);
    Err e;
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/fast/logits_0.npy", tmp);
    snprintf(b, sizeof b, "%s/ref/logits_0.npy", tmp);
    Tensor ta, tb;
    CHECK_OK(npy_load(a, &ta, &e), &e);
    CHECK_OK(npy_load(b, &tb, &e), &e);
    double m = 0, d = 0;
    for (int64_t i = 0; i < tensor_numel(&tb); i++) {
        m = fmax(m, fabs(tensor_get(&tb, i)));
        d = fmax(d, fabs(tensor_get(&ta, i) - tensor_get(&tb, i)));
    }
    assert_true(d <= 1e-4 * m);
    tensor_release(&ta);
    tensor_release(&tb);
    snprintf(args, sizeof args, "run %s/r8.pb --runtime gpu", tmp);
    expect_error(args, 2, "gpu");
}

/* optimize: writes a graph that loads back and computes what the input computes, and a report.
   The grappler result of resnet8 is about 1.8x faster: it must be returned (a refusal would
   leave the input written, and comparing it with the input would check nothing). */
static void test_optimize(void **state) {
    (void)state;
    char args[2000];
    snprintf(args, sizeof args,
             "optimize %s/r8.pb -o %s/r8opt.pb --search grappler --report %s/r8.json --repeats 5 --eval-batches 2 --threads 1", tmp,
             tmp, tmp);
    cJSON *j = optimize_until_timed_faster(args, "r8.json");
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "accuracy"), "min_cosine")->valuedouble > 0.9999);
    cJSON *rules = cJSON_GetObjectItem(j, "rules_applied");
    assert_non_null(rules);
    int applied = 0;
    for (cJSON *r = rules->child; r; r = r->next) applied += (int)r->valuedouble;
    assert_true(applied >= 10); /* 9 conv + batch norm (+ relu) fusions and the dense layer */
    if (!cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned"))) {
        print_error("grappler result of resnet8 not returned: %s\n", cJSON_GetObjectItem(j, "verdict")->valuestring);
        fail();
    }
    cJSON_Delete(j);
    /* the written graph is the rewritten one and computes what the input computes (reference
       runtime on both, three inputs) */
    Graph *a = load_inferred("r8.pb"), *b = load_inferred("r8opt.pb");
    assert_true(b->n_nodes < a->n_nodes); /* fused: fewer nodes */
    assert_int_equal(count_op_prefix(b, "FusedBatchNorm"), 0);
    assert_true(count_op_prefix(b, "_FusedConv2D") >= 9);
    for (uint64_t seed = 9; seed < 12; seed++) {
        Tensor ya, yb;
        run_both(a, b, "logits", seed, &ya, &yb);
        assert_tensor_near(&yb, &ya, 1e-4);
        tensor_release(&ya);
        tensor_release(&yb);
    }
    graph_free(a);
    graph_free(b);
    /* bad usage */
    snprintf(args, sizeof args, "optimize %s/r8.pb -o %s/x.pb --search magic", tmp, tmp);
    expect_error(args, 2, "magic");
    assert_false(exists("x.pb"));
    snprintf(args, sizeof args, "optimize %s/r8.pb", tmp);
    expect_error(args, 2, "-o");
}

/* grappler+int8 with calibration inputs from a directory: quantization rules are applied and
   reported; a malformed calibration directory is a clean error */
static void test_optimize_int8_calibration_dir(void **state) {
    (void)state;
    Err e;
    char path[900], args[2000];
    snprintf(path, sizeof path, "%s/r8.pb", tmp);
    Graph *g = graphdef_load(path, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    int ph = -1;
    for (int i = 0; i < g->n_nodes; i++) if (g->nodes[i]->op == OP_PLACEHOLDER) ph = i;
    snprintf(path, sizeof path, "%s/calib", tmp);
    assert_int_equal(mkdir(path, 0777), 0);
    for (int k = 0; k < 3; k++) {
        Tensor t;
        CHECK_OK(input_generate(g, ph, 50 + (uint64_t)k, &t, &e), &e);
        snprintf(path, sizeof path, "%s/calib/%s_%d.npy", tmp, g->nodes[ph]->name, k);
        CHECK_OK(npy_save(path, &t, &e), &e);
        tensor_release(&t);
    }
    snprintf(args, sizeof args,
             "optimize %s/r8.pb -o %s/r8q.pb --search grappler+int8 --calibration %s/calib --calib-method minmax --report %s/q.json "
             "--repeats 3 --eval-batches 16",
             tmp, tmp, tmp, tmp);
    cJSON *j = optimize_until_timed_faster(args, "q.json");
    cJSON *rules = cJSON_GetObjectItem(j, "rules_applied");
    int quantized = 0;
    for (cJSON *r = rules ? rules->child : NULL; r; r = r->next)
        if (!strncmp(r->string, "quantize_conv", 13)) quantized += (int)r->valuedouble;
    assert_int_equal(quantized, 9); /* every convolution of resnet8 */
    /* the product's claim: what it returns meets the default budget (top-1 agreement >= 99%,
       cosine >= 0.99) on its held-out inputs (the report), and on other inputs computed here */
    cJSON *acc = cJSON_GetObjectItem(j, "accuracy");
    double rep_top1 = cJSON_GetObjectItem(acc, "top1_agreement")->valuedouble, rep_cos = cJSON_GetObjectItem(acc, "min_cosine")->valuedouble;
    printf("[ cli      ] grappler+int8: %s; report top-1 %.3f cosine %.5f\n", cJSON_GetObjectItem(j, "verdict")->valuestring, rep_top1, rep_cos);
    if (!cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned"))) {
        print_error("int8 resnet8 refused: %s\n", cJSON_GetObjectItem(j, "verdict")->valuestring);
        fail();
    }
    assert_true(rep_top1 >= 0.99 && rep_cos >= 0.99);
    Graph *q = load_inferred("r8q.pb");
    assert_int_equal(count_op_prefix(q, "GrappoQConv2D"), 9);
    /* On inputs the CLI never saw, cosine holds the budget. Top-1 does not quite: resnet8 has
       random weights and noise inputs give near-tied logits; on 100 other inputs 97 of 100 agree
       while the report's 16 batches all agreed (16 of 16 only bounds the agreement below by 83%
       at 95% confidence). So top-1 is asserted at 90% here, not at the budget: see
       docs/testing.md on what 16 evaluation batches can and cannot show. */
    double top1, cos;
    fidelity(g, q, 3000, 32, &top1, &cos);
    printf("[ cli      ] grappler+int8 on 32 other inputs: top-1 %.3f, worst cosine %.5f\n", top1, cos);
    assert_true(top1 >= 0.9);
    assert_true(cos >= 0.99);
    graph_free(q);
    cJSON_Delete(j);
    graph_free(g);
    snprintf(args, sizeof args, "optimize %s/r8.pb -o %s/never.pb --search grappler+int8 --calibration %s/nowhere", tmp, tmp, tmp);
    int rc = run("%s", args);
    assert_int_equal(rc, 2);
    assert_false(exists("never.pb"));
    snprintf(args, sizeof args, "optimize %s/r8.pb -o %s/never.pb --search grappler+int8 --calib-method median", tmp, tmp);
    expect_error(args, 2, "median");
}

/* a budget violation forced through the CLI: calibration inputs 1000x smaller than the inputs
   the graph is evaluated on give int8 ranges that clip almost everything, so the quantized
   graph is far outside the budget. optimize must refuse it (exit 0: a refusal is an answer),
   write the input graph (it computes exactly what the input computes and has no grappo
   ops) and give the reason in the report, with the accuracy numbers that justify it. */
static void test_optimize_refuses_budget_violation(void **state) {
    (void)state;
    Err e;
    char path[900], args[2000];
    Graph *g = load_inferred("r8.pb");
    int ph = placeholder_of(g);
    snprintf(path, sizeof path, "%s/tiny", tmp);
    assert_int_equal(mkdir(path, 0777), 0);
    for (int k = 0; k < 2; k++) {
        Tensor t;
        CHECK_OK(input_generate(g, ph, 70 + (uint64_t)k, &t, &e), &e);
        float *v = tensor_mut(&t);
        for (int64_t i = 0; i < tensor_numel(&t); i++) v[i] *= 1e-3f;
        snprintf(path, sizeof path, "%s/tiny/%s_%d.npy", tmp, g->nodes[ph]->name, k);
        CHECK_OK(npy_save(path, &t, &e), &e);
        tensor_release(&t);
    }
    snprintf(args, sizeof args,
             "optimize %s/r8.pb -o %s/refused.pb --search grappler+int8 --calibration %s/tiny --calib-method minmax --report %s/refused.json "
             "--repeats 3 --eval-batches 4",
             tmp, tmp, tmp, tmp);
    assert_int_equal(run("%s", args), 0);
    char *j_text = slurp("refused.json");
    cJSON *j = cJSON_Parse(j_text);
    free(j_text);
    assert_non_null(j);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "optimized_graph_returned")));
    const char *verdict = cJSON_GetObjectItem(j, "verdict")->valuestring;
    printf("[ cli      ] forced violation: %s\n", verdict);
    assert_non_null(strstr(verdict, "accuracy"));
    cJSON *acc = cJSON_GetObjectItem(j, "accuracy");
    double cos = cJSON_GetObjectItem(acc, "min_cosine")->valuedouble;
    const cJSON *t1 = cJSON_GetObjectItem(acc, "top1_agreement");
    assert_true(cos < 0.99 || (t1 && t1->valuedouble < 0.99)); /* the numbers say why */
    cJSON *rules = cJSON_GetObjectItem(j, "rules_applied");
    int quantized = 0;
    for (cJSON *r = rules ? rules->child : NULL; r; r = r->next)
        if (!strncmp(r->string, "quantize_", 9)) quantized += (int)r->valuedouble;
    assert_true(quantized > 0); /* the refused candidate was quantized */
    cJSON_Delete(j);
    Graph *w = load_inferred("refused.pb");
    assert_int_equal(count_op_prefix(w, "Grappo"), 0);
    assert_int_equal(w->n_nodes, g->n_nodes);
    for (uint64_t seed = 1; seed < 3; seed++) {
        Tensor ya, yb;
        run_both(g, w, "logits", seed, &ya, &yb);
        assert_tensor_near(&yb, &ya, 0);
        tensor_release(&ya);
        tensor_release(&yb);
    }
    graph_free(w);
    graph_free(g);
}

static void test_bad_input(void **state) {
    (void)state;
    char args[2000], path[600];
    /* missing file */
    snprintf(args, sizeof args, "run %s/nope.pb", tmp);
    expect_error(args, 2, "nope.pb");
    /* truncated .pb */
    snprintf(path, sizeof path, "%s/r8.pb", tmp);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/trunc.pb", tmp);
    f = fopen(path, "wb");
    fwrite(buf, 1, n / 3, f);
    fclose(f);
    snprintf(args, sizeof args, "inspect %s/trunc.pb", tmp);
    expect_error(args, 2, "trunc.pb");
    /* unknown model: no output file */
    snprintf(args, sizeof args, "zoo resnet9000 -o %s/never.pb", tmp);
    expect_error(args, 2, "resnet9000");
    assert_false(exists("never.pb"));
    /* output into a directory that does not exist: error, nothing written */
    snprintf(args, sizeof args, "zoo resnet8 -o %s/no/such/dir/x.pb", tmp);
    expect_error(args, 2, "x.pb");
    /* an input naming a node that does not exist */
    static float zeros[32 * 32 * 3];
    Tensor t = tt_f32(4, (int64_t[]){1, 32, 32, 3}, zeros);
    Err e;
    snprintf(path, sizeof path, "%s/x.npy", tmp);
    CHECK_OK(npy_save(path, &t, &e), &e);
    tensor_release(&t);
    snprintf(args, sizeof args, "run %s/r8.pb --input ghost=%s/x.npy", tmp, tmp);
    expect_error(args, 2, "ghost");
    /* dtype mismatch: an int32 tensor for a float input */
    Tensor ti;
    Shape s = shape_make(4, (int64_t[]){1, 32, 32, 3});
    CHECK_OK(tensor_alloc(&ti, DT_INT32, &s, &e), &e);
    snprintf(path, sizeof path, "%s/i.npy", tmp);
    CHECK_OK(npy_save(path, &ti, &e), &e);
    tensor_release(&ti);
    Graph *g;
    snprintf(path, sizeof path, "%s/r8.pb", tmp);
    g = graphdef_load(path, &e);
    assert_non_null(g);
    const char *in_name = NULL;
    for (int i = 0; i < g->n_nodes; i++) if (g->nodes[i]->op == OP_PLACEHOLDER) in_name = g->nodes[i]->name;
    snprintf(args, sizeof args, "run %s/r8.pb --input %.200s=%s/i.npy --save-outputs %s/o2", tmp, in_name, tmp, tmp);
    expect_error(args, 2, "int32");
    assert_false(exists("o2"));
    /* malformed .npy */
    snprintf(path, sizeof path, "%s/bad.npy", tmp);
    f = fopen(path, "wb");
    fputs("\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',", f);
    fclose(f);
    snprintf(args, sizeof args, "run %s/r8.pb --input %s=%s/bad.npy", tmp, in_name, tmp);
    expect_error(args, 2, "bad.npy");
    /* bad option values */
    snprintf(args, sizeof args, "run %s/r8.pb --repeat 0", tmp);
    expect_error(args, 2, "--repeat");
    snprintf(args, sizeof args, "run %s/r8.pb --input-shape %s=1,x", tmp, in_name);
    expect_error(args, 2, "shape");
    snprintf(args, sizeof args, "run %s/r8.pb --output nosuch:0", tmp);
    expect_error(args, 2, "nosuch");

    /* a graph with a cycle */
    Graph *c = graph_new();
    int a = graph_add_node(c, "a", "Identity", &e), b = graph_add_node(c, "b", "Identity", &e);
    CHECK_OK(node_add_input(c, a, (ValueRef){b, 0}, &e), &e);
    CHECK_OK(node_add_input(c, b, (ValueRef){a, 0}, &e), &e);
    node_set_num_outputs(c->nodes[a], 1, &e);
    node_set_num_outputs(c->nodes[b], 1, &e);
    snprintf(path, sizeof path, "%s/cycle.pb", tmp);
    CHECK_OK(graphdef_save(c, path, &e), &e);
    graph_free(c);
    snprintf(args, sizeof args, "run %s/cycle.pb", tmp);
    expect_error(args, 2, "cycle");

    /* an op grappo does not know: kept by inspect, a runtime error naming it when run */
    int u = graph_add_node(g, "mystery", "TotallyCustomOp", &e);
    CHECK_OK(node_add_input(g, u, g->outputs[0], &e), &e);
    node_set_attr_type(g->nodes[u], "T", DT_FLOAT, &e);
    node_set_num_outputs(g->nodes[u], 1, &e);
    snprintf(path, sizeof path, "%s/custom.pb", tmp);
    CHECK_OK(graphdef_save(g, path, &e), &e);
    graph_free(g);
    snprintf(args, sizeof args, "inspect %s/custom.pb", tmp);
    assert_int_equal(run("%s", args), 0);
    assert_true(file_has("stdout", "TotallyCustomOp"));
    snprintf(args, sizeof args, "run %s/custom.pb --output mystery", tmp);
    expect_error(args, 2, "TotallyCustomOp"); /* an op no runtime executes is bad input (issue 11) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_help_list),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_run_and_save),
        cmocka_unit_test(test_run_fast_matches_ref),
        cmocka_unit_test(test_optimize),
        cmocka_unit_test(test_optimize_int8_calibration_dir),
        cmocka_unit_test(test_optimize_refuses_budget_violation),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
