/* test_cost.c - the cost model (src/measure/cost*.c): kernel keys, which nodes are kernels,
 * the roofline's closed form, measured estimates and their cache (memory, disk, concurrent
 * appends, damaged files), Spearman's rho, and the estimate against whole-plan timing. */
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "measure/cost.h"
#include "measure/cost_internal.h"
#include "measure/measure.h"
#include "report/stats.h"
#include "runtime/plan.h"
#include "runtime/ref.h"
#include "zoo/zoo.h"

/* ---- tiny graphs by hand ---- */

/* |a - b| <= tol, with the numbers in the failure message */
#define assert_near(a, b, tol)                                                                   \
    do {                                                                                         \
        double a_ = (a), b_ = (b);                                                               \
        if (!(fabs(a_ - b_) <= (tol))) { print_error("%s = %.17g, expected %.17g\n", #a, a_, b_); fail(); } \
    } while (0)

static int add_placeholder(Graph *g, const char *name, int dt, Shape s) {
    Err e = {0};
    int i = graph_add_node(g, name, "Placeholder", &e);
    assert_true(i >= 0);
    CHECK_OK(node_set_attr_type(g->nodes[i], "dtype", dt, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[i], "shape", &s, &e), &e);
    return i;
}

/* a float32 (or bfloat16) Const filled with value + 0.01 * index */
static int add_const(Graph *g, const char *name, int dt, Shape s, float value) {
    Err e = {0};
    Tensor t;
    CHECK_OK(tensor_alloc(&t, dt, &s, &e), &e);
    for (int64_t k = 0; k < tensor_numel(&t); k++) tensor_set(&t, k, value + 0.01 * (double)k);
    int i = graph_add_node(g, name, "Const", &e);
    assert_true(i >= 0);
    CHECK_OK(node_set_attr_type(g->nodes[i], "dtype", dt, &e), &e);
    CHECK_OK(node_set_attr_tensor(g->nodes[i], "value", &t, &e), &e);
    tensor_release(&t);
    return i;
}

/* Conv2D (or _FusedConv2D with fused_ops when n_fused > 0, reading bias) of x and w */
static int add_conv(Graph *g, const char *name, int x, int w, int bias, int dt, int stride, const char *const *fused, int n_fused) {
    Err e = {0};
    int i = graph_add_node(g, name, n_fused ? "_FusedConv2D" : "Conv2D", &e);
    assert_true(i >= 0);
    CHECK_OK(node_add_input(g, i, (ValueRef){x, 0}, &e), &e);
    CHECK_OK(node_add_input(g, i, (ValueRef){w, 0}, &e), &e);
    Node *n = g->nodes[i];
    if (n_fused) {
        CHECK_OK(node_add_input(g, i, (ValueRef){bias, 0}, &e), &e);
        CHECK_OK(node_set_attr_list_s(n, "fused_ops", fused, n_fused, &e), &e);
        CHECK_OK(node_set_attr_i(n, "num_args", 1, &e), &e);
    }
    CHECK_OK(node_set_attr_type(n, "T", dt, &e), &e);
    CHECK_OK(node_set_attr_list_i(n, "strides", (int64_t[]){1, stride, stride, 1}, 4, &e), &e);
    CHECK_OK(node_set_attr_s(n, "padding", "SAME", &e), &e);
    CHECK_OK(node_set_attr_s(n, "data_format", "NHWC", &e), &e);
    /* bookkeeping a real GraphDef carries: must not enter the key */
    CHECK_OK(node_set_attr_s(n, "_class", name, &e), &e);
    CHECK_OK(node_set_attr_f(n, "_grappo_calib_max", (float)strlen(name), &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){i, 0}, &e), &e);
    return i;
}

static void infer(Graph *g) {
    Err e = {0};
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
}

static void key_of(const Graph *g, int node, char *buf) { assert_true(cost_kernel_key(g, node, buf, 1024)); }

static void test_keys(void **s) {
    (void)s;
    Graph *g = graph_new();
    Shape xs = shape_make(4, (int64_t[]){1, 8, 8, 4}), ws = shape_make(4, (int64_t[]){3, 3, 4, 8});
    int x = add_placeholder(g, "x", DT_FLOAT, xs);
    int x16 = add_placeholder(g, "x16", DT_FLOAT, shape_make(4, (int64_t[]){1, 16, 16, 4}));
    int xb = add_placeholder(g, "xb", DT_BFLOAT16, xs);
    int wp = add_placeholder(g, "w_fed", DT_FLOAT, ws);
    int w1 = add_const(g, "w1", DT_FLOAT, ws, 0.5f), w2 = add_const(g, "w2", DT_FLOAT, ws, -3.0f);
    int wb = add_const(g, "wb", DT_BFLOAT16, ws, 0.5f);
    int b = add_const(g, "bias", DT_FLOAT, shape_make(1, (int64_t[]){8}), 0.1f);
    const char *bias_only[] = {"BiasAdd"}, *bias_relu[] = {"BiasAdd", "Relu"};
    int c1 = add_conv(g, "block1/conv", x, w1, -1, DT_FLOAT, 1, NULL, 0);
    int c2 = add_conv(g, "other/name/entirely", x, w2, -1, DT_FLOAT, 1, NULL, 0);
    int c_stride = add_conv(g, "strided", x, w1, -1, DT_FLOAT, 2, NULL, 0);
    int c_shape = add_conv(g, "bigger", x16, w1, -1, DT_FLOAT, 1, NULL, 0);
    int c_dtype = add_conv(g, "bf16", xb, wb, -1, DT_BFLOAT16, 1, NULL, 0);
    int c_fed = add_conv(g, "fed_filter", x, wp, -1, DT_FLOAT, 1, NULL, 0);
    int f1 = add_conv(g, "fused_a", x, w1, b, DT_FLOAT, 1, bias_only, 1);
    int f2 = add_conv(g, "fused_b", x, w2, b, DT_FLOAT, 1, bias_only, 1);
    int f3 = add_conv(g, "fused_relu", x, w1, b, DT_FLOAT, 1, bias_relu, 2);
    infer(g);
    char k1[1024], k2[1024], k[1024];
    key_of(g, c1, k1);
    key_of(g, c2, k2);
    assert_string_equal(k1, k2); /* names, weight values, _class and _grappo_ attrs do not matter */
    assert_null(strchr(k1, '\t'));
    assert_null(strchr(k1, '\n'));
    assert_null(strstr(k1, "block1"));
    int differ[] = {c_stride, c_shape, c_dtype, c_fed};
    for (size_t d = 0; d < sizeof differ / sizeof differ[0]; d++) {
        key_of(g, differ[d], k);
        if (!strcmp(k, k1)) { print_error("key of %s equals the plain conv's: %s\n", g->nodes[differ[d]]->name, k); fail(); }
    }
    key_of(g, f1, k1);
    key_of(g, f2, k2);
    assert_string_equal(k1, k2);
    key_of(g, f3, k);
    assert_string_not_equal(k, k1); /* fused_ops differ */
    /* placeholders and consts are not kernels */
    assert_false(cost_kernel_key(g, x, k, sizeof k));
    assert_false(cost_kernel_key(g, w1, k, sizeof k));
    /* truncation: a short buffer keeps a prefix and the full key's hash, so the two fused
       keys (which share a long prefix) stay distinct */
    char t1[48], t3[48];
    assert_true(cost_kernel_key(g, f1, t1, sizeof t1));
    assert_true(cost_kernel_key(g, f3, t3, sizeof t3));
    assert_int_equal(strlen(t1), sizeof t1 - 1);
    assert_non_null(strchr(t1, '#'));
    assert_string_not_equal(t1, t3);
    graph_free(g);
}

/* x -> Reshape (view) -> Relu; Const shape math folded; the views and consts are no kernels */
static void test_views_and_consts(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = graph_new();
    int x = add_placeholder(g, "x", DT_FLOAT, shape_make(2, (int64_t[]){4, 6}));
    int shp = graph_add_node(g, "shape", "Const", &e);
    Tensor st = tt_i32(1, (int64_t[]){2}, (int32_t[]){6, 4});
    CHECK_OK(node_set_attr_type(g->nodes[shp], "dtype", DT_INT32, &e), &e);
    CHECK_OK(node_set_attr_tensor(g->nodes[shp], "value", &st, &e), &e);
    tensor_release(&st);
    int r = graph_add_node(g, "reshape", "Reshape", &e);
    CHECK_OK(node_add_input(g, r, (ValueRef){x, 0}, &e), &e);
    CHECK_OK(node_add_input(g, r, (ValueRef){shp, 0}, &e), &e);
    int relu = graph_add_node(g, "relu", "Relu", &e);
    CHECK_OK(node_add_input(g, relu, (ValueRef){r, 0}, &e), &e);
    /* a Relu of a constant: folded at inference, a compile-time constant */
    int c = add_const(g, "c", DT_FLOAT, shape_make(1, (int64_t[]){3}), -1.0f);
    int folded = graph_add_node(g, "folded", "Relu", &e);
    CHECK_OK(node_add_input(g, folded, (ValueRef){c, 0}, &e), &e);
    int add = graph_add_node(g, "add", "AddV2", &e);
    CHECK_OK(node_add_input(g, add, (ValueRef){relu, 0}, &e), &e);
    CHECK_OK(node_add_input(g, add, (ValueRef){relu, 0}, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){add, 0}, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){folded, 0}, &e), &e);
    infer(g);
    char k[512];
    assert_false(cost_kernel_key(g, r, k, sizeof k));
    assert_false(cost_kernel_key(g, shp, k, sizeof k));
    assert_false(cost_kernel_key(g, folded, k, sizeof k));
    assert_true(cost_kernel_key(g, relu, k, sizeof k));
    assert_true(cost_kernel_key(g, add, k, sizeof k));
    /* the plan agrees */
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &e);
    assert_non_null(p);
    assert_string_equal(plan_node_impl(p, r), "view");
    assert_string_equal(plan_node_impl(p, folded), "const");
    plan_free(p);
    /* the estimate counts exactly the two kernels */
    CostOpts co = {.backend = COST_ROOFLINE};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostEstimate est;
    double node_ms[16];
    CHECK_OK(cost_estimate(cm, g, &est, node_ms, &e), &e);
    assert_int_equal(est.kernels, 2);
    assert_true(node_ms[relu] > 0 && node_ms[add] > 0);
    assert_true(node_ms[r] == 0 && node_ms[folded] == 0 && node_ms[x] == 0);
    assert_null(cost_cache_path(cm));
    cost_close(cm);
    graph_free(g);
}

/* x[64,256] -> MatMul(W[256,512] const) -> Relu: the roofline in closed form */
static Graph *mlp_graph(void) {
    Err e = {0};
    Graph *g = graph_new();
    int x = add_placeholder(g, "x", DT_FLOAT, shape_make(2, (int64_t[]){64, 256}));
    int w = add_const(g, "w", DT_FLOAT, shape_make(2, (int64_t[]){256, 512}), 0.001f);
    int mm = graph_add_node(g, "mm", "MatMul", &e);
    CHECK_OK(node_add_input(g, mm, (ValueRef){x, 0}, &e), &e);
    CHECK_OK(node_add_input(g, mm, (ValueRef){w, 0}, &e), &e);
    CHECK_OK(node_set_attr_type(g->nodes[mm], "T", DT_FLOAT, &e), &e);
    int relu = graph_add_node(g, "relu", "Relu", &e);
    CHECK_OK(node_add_input(g, relu, (ValueRef){mm, 0}, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){relu, 0}, &e), &e);
    infer(g);
    return g;
}

static void test_roofline_closed_form(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = mlp_graph();
    int mm = graph_find(g, "mm"), relu = graph_find(g, "relu");
    /* MatMul: 2*64*256*512 flops; reads 64*256 + 256*512 floats, writes 64*512 */
    double mm_flops = 2.0 * 64 * 256 * 512, mm_bytes = 4.0 * (64 * 256 + 256 * 512 + 64 * 512);
    double relu_bytes = 4.0 * 2 * 64 * 512;
    assert_true((double)node_flops(g, g->nodes[mm]) == mm_flops);
    assert_true((double)node_bytes(g, g->nodes[mm]) == mm_bytes);
    assert_true((double)node_bytes(g, g->nodes[relu]) == relu_bytes);
    CostOpts co = {.backend = COST_ROOFLINE, .peak_gflops = 50, .peak_gbps = 10, .overhead_ms = 0.01};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostEstimate est;
    double node_ms[4];
    CHECK_OK(cost_estimate(cm, g, &est, node_ms, &e), &e);
    double mm_ms = fmax(mm_flops / 50e9, mm_bytes / 10e9) * 1e3 + 0.01;
    double relu_ms = fmax((double)node_flops(g, g->nodes[relu]) / 50e9, relu_bytes / 10e9) * 1e3 + 0.01;
    assert_int_equal(est.kernels, 2);
    assert_near(node_ms[mm], mm_ms, 1e-12);
    assert_near(node_ms[relu], relu_ms, 1e-12);
    assert_near(est.latency_ms, mm_ms + relu_ms, 1e-12);
    assert_near(est.weight_bytes, 256.0 * 512 * 4, 0);
    /* activations: x (64 KiB) dies at mm (128 KiB); then mm and relu (128 KiB) are alive
       together: the peak is mm + relu */
    double act = (double)graph_activation_peak(g, &e);
    assert_near(act, 4.0 * 2 * 64 * 512, 0);
    assert_near(est.peak_bytes, est.weight_bytes + act, 0);
    /* deterministic */
    CostEstimate again;
    CHECK_OK(cost_estimate(cm, g, &again, NULL, &e), &e);
    assert_true(again.latency_ms == est.latency_ms);
    cost_close(cm);
    graph_free(g);
}

static char *temp_dir(void) {
    char tmpl[] = "/tmp/grappo_cost_XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_dir(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_measured_cached(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = mlp_graph();
    CostOpts co = {.backend = COST_MEASURED, .threads = 1, .cache_dir = "", .repeats = 5};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostEstimate est, again;
    double node_ms[4];
    CHECK_OK(cost_estimate(cm, g, &est, node_ms, &e), &e);
    CostStats st;
    cost_stats(cm, &st);
    assert_int_equal(est.kernels, 2);
    assert_int_equal(est.misses, 2);
    assert_int_equal(st.timed, 2);
    assert_int_equal(st.fallbacks, 0);
    assert_true(est.latency_ms > 0);
    assert_near(node_ms[graph_find(g, "mm")] + node_ms[graph_find(g, "relu")], est.latency_ms, 1e-12);
    /* second time: all cached, nothing timed, same numbers */
    CHECK_OK(cost_estimate(cm, g, &again, NULL, &e), &e);
    CostStats st2;
    cost_stats(cm, &st2);
    assert_int_equal(st2.timed, st.timed);
    assert_int_equal(again.misses, 0);
    assert_int_equal(st2.hits, st.hits + 2);
    assert_true(again.latency_ms == est.latency_ms);
    assert_null(cost_cache_path(cm)); /* "" = memory only */
    cost_close(cm);
    graph_free(g);
}

static void test_disk_round_trip(void **s) {
    (void)s;
    Err e = {0};
    char *dir = temp_dir();
    char sub[600];
    snprintf(sub, sizeof sub, "%s/a/b/c", dir); /* created like mkdir -p */
    Graph *g = mlp_graph();
    CostOpts co = {.backend = COST_MEASURED, .threads = 1, .cache_dir = sub, .repeats = 3};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostEstimate est, again;
    CHECK_OK(cost_estimate(cm, g, &est, NULL, &e), &e);
    const char *path = cost_cache_path(cm);
    assert_non_null(path);
    assert_non_null(strstr(path, "/costs-v1-"));
    assert_non_null(strstr(path, "-t1.tsv"));
    cost_close(cm);
    cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostStats st;
    cost_stats(cm, &st);
    assert_int_equal(st.entries, 2);
    CHECK_OK(cost_estimate(cm, g, &again, NULL, &e), &e);
    cost_stats(cm, &st);
    assert_int_equal(st.timed, 0);
    assert_int_equal(st.hits, 2);
    assert_true(again.latency_ms == est.latency_ms); /* exact round trip through the text */
    cost_close(cm);
    /* another thread count is another file: nothing cached there */
    co.threads = 2;
    cm = cost_open(&co, &e);
    assert_non_null(cm);
    cost_stats(cm, &st);
    assert_int_equal(st.entries, 0);
    cost_close(cm);
    /* a cache directory that cannot be created is an error naming it */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/file", dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(bad + strlen(bad), sizeof bad - strlen(bad), "/sub");
    co.cache_dir = bad;
    assert_null(cost_open(&co, &e));
    assert_int_equal(e.code, ERR_RUNTIME);
    assert_non_null(strstr(e.msg, bad));
    graph_free(g);
    remove_dir(dir);
    free(dir);
}

/* two processes append distinct entries to one cache at once; a fresh open sees them all */
static void test_concurrent_append(void **s) {
    (void)s;
    Err e = {0};
    char *dir = temp_dir();
    enum { PER_CHILD = 300 };
    pid_t pids[2];
    for (int c = 0; c < 2; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            Err ce = {0};
            CostCache *cc = cost_cache_open(dir, 3, &ce);
            if (!cc) _exit(1);
            char key[200];
            for (int k = 0; k < PER_CHILD; k++) {
                /* long keys make torn writes likely if appends were not atomic */
                snprintf(key, sizeof key, "child%d|entry%04d|%0120d", c, k, k);
                if (cost_cache_put(cc, key, c * 1000.0 + k, true, &ce)) _exit(2);
            }
            cost_cache_close(cc);
            _exit(0);
        }
    }
    for (int c = 0; c < 2; c++) {
        int status;
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CostCache *cc = cost_cache_open(dir, 3, &e);
    assert_non_null(cc);
    assert_int_equal(cost_cache_entries(cc), 2 * PER_CHILD);
    char key[200];
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < PER_CHILD; k += 37) {
            double ms = -1;
            snprintf(key, sizeof key, "child%d|entry%04d|%0120d", c, k, k);
            assert_true(cost_cache_get(cc, key, &ms));
            assert_near(ms, c * 1000.0 + k, 0);
        }
    cost_cache_close(cc);
    remove_dir(dir);
    free(dir);
}

/* garbage lines and a truncated last line are skipped; the rest loads; the next append starts
   on a fresh line */
static void test_corrupt_lines(void **s) {
    (void)s;
    Err e = {0};
    char *dir = temp_dir();
    CostCache *cc = cost_cache_open(dir, 5, &e);
    assert_non_null(cc);
    CHECK_OK(cost_cache_put(cc, "good1", 1.5, true, &e), &e);
    CHECK_OK(cost_cache_put(cc, "good2", 2.5, true, &e), &e);
    char path[700];
    snprintf(path, sizeof path, "%s", cost_cache_file(cc));
    cost_cache_close(cc);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs("no tab here\n\tempty key 1\nkey\tnot-a-number\nkey\t1.0\textra\nneg\t-3\nnan\tnan\n", f);
    fputs("good3\t3.5\n", f);
    fputs("cut\t4.", f); /* a crash mid-line: no newline */
    fclose(f);
    cc = cost_cache_open(dir, 5, &e);
    assert_non_null(cc);
    assert_int_equal(cost_cache_entries(cc), 3);
    double ms;
    assert_true(cost_cache_get(cc, "good3", &ms));
    assert_near(ms, 3.5, 0);
    assert_false(cost_cache_get(cc, "cut", &ms));
    assert_false(cost_cache_get(cc, "key", &ms));
    CHECK_OK(cost_cache_put(cc, "good4", 4.5, true, &e), &e);
    assert_int_equal(cost_cache_put(cc, "bad\tkey", 1, true, &e), -1);
    cost_cache_close(cc);
    cc = cost_cache_open(dir, 5, &e);
    assert_non_null(cc);
    assert_int_equal(cost_cache_entries(cc), 4); /* good4 did not merge into the cut line */
    assert_true(cost_cache_get(cc, "good4", &ms));
    assert_near(ms, 4.5, 0);
    cost_cache_close(cc);
    remove_dir(dir);
    free(dir);
}

static void test_spearman(void **s) {
    (void)s;
    double x[] = {1, 2, 3, 4, 5}, up[] = {10, 20, 25, 100, 1000}, down[] = {5, 4, 3, 2, 1};
    assert_near(stats_spearman(x, up, 5), 1.0, 1e-12);
    assert_near(stats_spearman(x, down, 5), -1.0, 1e-12);
    /* ties: y = {1, 2, 2, 3} ranks {1, 2.5, 2.5, 4}; x ranks {1, 2, 3, 4}.
       mean 2.5 both; sxy = (-1.5)(-1.5) + (-.5)(0) + (.5)(0) + (1.5)(1.5) = 4.5;
       sxx = 5; syy = 2.25 + 0 + 0 + 2.25 = 4.5; rho = 4.5 / sqrt(22.5) = 0.9486833 */
    double xt[] = {1, 2, 3, 4}, yt[] = {1, 2, 2, 3};
    assert_near(stats_spearman(xt, yt, 4), 4.5 / sqrt(22.5), 1e-12);
    /* order of the pairs does not matter; a permutation example: ranks {2,1,4,3} vs {1,2,3,4}:
       d^2 sum = 4, rho = 1 - 6*4/(4*15) = 0.6 */
    double xp[] = {1, 2, 3, 4}, yp[] = {20, 10, 40, 30};
    assert_near(stats_spearman(xp, yp, 4), 0.6, 1e-12);
    double c[] = {7, 7, 7};
    assert_true(isnan(stats_spearman(x, c, 3)));
    assert_true(isnan(stats_spearman(x, up, 1)));
}

/* on resnet8 the measured estimate is within a factor 2 of whole-plan timing */
static void test_resnet8_vs_latency(void **s) {
    (void)s;
    Err e = {0};
    Graph *g = zoo_build("resnet8", NULL, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    CostOpts co = {.backend = COST_MEASURED, .threads = 1, .cache_dir = "", .repeats = 9};
    CostModel *cm = cost_open(&co, &e);
    assert_non_null(cm);
    CostEstimate est;
    double *node_ms = calloc((size_t)g->n_nodes, sizeof *node_ms);
    CHECK_OK(cost_estimate(cm, g, &est, node_ms, &e), &e);
    double sum = 0;
    for (int i = 0; i < g->n_nodes; i++) sum += node_ms[i];
    assert_near(sum, est.latency_ms, 1e-9);
    CostStats st;
    cost_stats(cm, &st);
    assert_int_equal(st.fallbacks, 0);
    assert_true(est.misses > 0 && est.misses <= est.kernels); /* repeated blocks share keys */
    /* kernels: what the plan executes (fast or reference steps, no views or consts) */
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &e);
    assert_non_null(p);
    PlanInfo info;
    plan_info(p, &info);
    assert_int_equal(est.kernels, info.fast_steps + info.ref_steps);
    plan_free(p);
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 7, &in, &e), &e);
    LatencyResult lat;
    const Graph *gs[] = {g};
    CHECK_OK(latency_measure(gs, 1, &in, 15, 1, &lat, &e), &e);
    printf("[ cost     ] resnet8: estimate %.3f ms (%d kernels, %d timed), measured median %.3f ms\n", est.latency_ms, est.kernels,
           est.misses, lat.ms.median);
    assert_true(est.latency_ms > lat.ms.median / 2 && est.latency_ms < lat.ms.median * 2);
    /* weights: every float Const the kernels read, once */
    int64_t param_bytes = 0;
    graph_param_count(g, &param_bytes);
    printf("[ cost     ] weights read by kernels %.0f bytes, float/8-bit parameters %lld bytes\n", est.weight_bytes, (long long)param_bytes);
    assert_true(est.weight_bytes > 0.9 * (double)param_bytes && est.weight_bytes <= (double)param_bytes + 4096);
    inputs_free(&in);
    free(node_ms);
    cost_close(cm);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_views_and_consts), cmocka_unit_test(test_roofline_closed_form),
        cmocka_unit_test(test_measured_cached), cmocka_unit_test(test_disk_round_trip),  cmocka_unit_test(test_concurrent_append),
        cmocka_unit_test(test_corrupt_lines), cmocka_unit_test(test_spearman),         cmocka_unit_test(test_resnet8_vs_latency),
    };
    return cmocka_run_group_tests_name("cost", tests, NULL, NULL);
}
