/* test_rules_quant_gather.c - quantize_gather_int8 (rules_quant_gather.c): what it matches and
 * refuses, the graph it writes (stock TensorFlow ops only: Const, GatherV2 on int8 and float,
 * Cast int8 -> float, Mul), and its error against the closed-form per-row bound
 * |y - T[r, j]| <= s_r / 2 (s_r the stored row scale, plus one float32 rounding of q * s_r),
 * on the reference and fast runtimes, for ids of rank 0, 1 and 2 (int32 and int64), a table read
 * by two gathers, a GraphDef round trip, and the grappler+int8 / grappler+int7 pipelines. */
#include <math.h>
#include <stdlib.h>

#include "rewrite/pipeline.h"
#include "testrules.h"

#define V 512 /* table rows */
#define D 160 /* row width: V * D = 81920 elements, above the rule's 65536 */
#define ZERO_ROW 3
#define TINY_ROW 5 /* values far below FLT_MIN * 127: the row's scale would not be a normal float */

static const PlanOpts one_thread = {.threads = 1};

static const RuleDef *rule(void) {
    const RuleDef *r = rule_by_name("quantize_gather_int8");
    if (!r) { print_error("quantize_gather_int8 is not registered\n"); fail(); }
    return r;
}

/* value of table element (r, j): rows of very different magnitudes, one of zeros, one tiny */
static float table_value(int r, int j) {
    if (r == ZERO_ROW) return 0;
    if (r == TINY_ROW) return (j % 3 - 1) * 1e-41f;
    double mag = ldexp(1.0, r % 9 - 4);
    return (float)(mag * sin(0.37 * r + 1.3 * j + 0.1 * r * j));
}

static Tensor table(int rows, int cols) {
    Err e = {0};
    Tensor t;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &(Shape){.rank = 2, .dim = {rows, cols}}, &e), &e);
    float *p = tensor_mut(&t);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) p[r * cols + j] = table_value(r, j);
    return t;
}

/* ids tensor of the given shape and dtype, covering the zero and tiny rows and the last row */
static Tensor ids_tensor(Shape s, int dtype) {
    Err e = {0};
    Tensor t;
    CHECK_OK(tensor_alloc(&t, dtype, &s, &e), &e);
    int64_t n = tensor_numel(&t);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = i == 0 ? ZERO_ROW : i == 1 ? TINY_ROW : i == 2 ? V - 1 : (i * 97 + 11) % V;
        if (dtype == DT_INT32) ((int32_t *)tensor_mut(&t))[i] = (int32_t)v;
        else ((int64_t *)tensor_mut(&t))[i] = v;
    }
    return t;
}

/* x = GatherV2(T, ids_k, 0) for each ids shape given; every gather is a graph output */
static Graph *gather_graph(const Shape *ids, const int *dtypes, int n) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    Tensor t = table(V, D);
    ValueRef tv = bld_const(&b, "emb/table", &t);
    for (int k = 0; k < n; k++) {
        char in[32], gn[32];
        snprintf(in, sizeof in, "ids%d", k);
        snprintf(gn, sizeof gn, "emb/gather%d", k);
        ValueRef x = bld_placeholder(&b, in, dtypes[k], ids[k], NULL);
        bld_add_output(&b, bld_gather(&b, gn, tv, x, 0));
    }
    return tr_finish(&b);
}

static void run_all(const Graph *g, bool fast, const RefFeed *f, int nf, Tensor *out) {
    Err e = {0};
    if (!fast) { CHECK_OK(ref_run(g, f, nf, NULL, 0, out, NULL, &e), &e); return; }
    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(plan_run(p, f, nf, out, NULL, &e), &e);
    plan_free(p);
}

/* the ops the rewritten graph may hold: stock TensorFlow ops only */
static void check_stock_ops(const Graph *g) {
    static const char *const stock[] = {"Placeholder", "Const", "GatherV2", "Cast", "Mul"};
    for (int i = 0; i < g->n_nodes; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof stock / sizeof stock[0]; k++) ok |= !strcmp(g->nodes[i]->op_name, stock[k]);
        if (!ok) { print_error("node '%s' has op %s\n", g->nodes[i]->name, g->nodes[i]->op_name); fail(); }
    }
}

/* every output element y of gather k against T[r, j] within s_r / 2 (+ one float32 rounding),
   on both runtimes; returns the worst |dy| / bound */
static double check_bound(const Graph *orig, const Graph *q, const Shape *ids, const int *dtypes, int n) {
    const Node *sn = q->nodes[graph_find(q, "emb/table/row_scales")];
    const Tensor *S = &sn->outputs[0].known;
    assert_int_equal(S->dtype, DT_FLOAT);
    assert_int_equal(S->shape.rank, 2);
    assert_int_equal(S->shape.dim[0], V);
    assert_int_equal(S->shape.dim[1], 1);
    const float *s = tensor_data(S);
    /* the scales are max|row| / 127 as float32; 1 for the zero and tiny rows */
    for (int r = 0; r < V; r++) {
        double m = 0;
        for (int j = 0; j < D; j++) m = fmax(m, fabs((double)table_value(r, j)));
        float want = r == ZERO_ROW || r == TINY_ROW ? 1.0f : (float)(m / 127);
        if (s[r] != want) { print_error("row %d: scale %.9g, want %.9g\n", r, s[r], want); fail(); }
    }
    RefFeed f[4];
    for (int k = 0; k < n; k++) {
        static char names[4][16];
        snprintf(names[k], sizeof names[k], "ids%d", k);
        f[k] = (RefFeed){names[k], ids_tensor(ids[k], dtypes[k])};
    }
    Tensor want[4], got[2][4];
    run_all(orig, false, f, n, want);
    run_all(q, false, f, n, got[0]);
    run_all(q, true, f, n, got[1]);
    double worst = 0;
    for (int k = 0; k < n; k++) {
        assert_int_equal(tensor_numel(&got[0][k]), tensor_numel(&want[k]));
        for (int64_t i = 0, ne = tensor_numel(&want[k]); i < ne; i++) {
            int r = (int)tensor_get(&f[k].value, i / D);
            double w = tensor_get(&want[k], i);
            assert_true(w == table_value(r, (int)(i % D))); /* the fp32 reference is the table itself */
            double bound = s[r] / 2 * (1 + 1e-6) + ldexp(fabs(w), -23);
            for (int rt = 0; rt < 2; rt++) {
                double y = tensor_get(&got[rt][k], i), err = fabs(y - w);
                if (r == ZERO_ROW) assert_true(y == 0);
                if (!(err <= bound)) {
                    print_error("gather %d, element %lld (row %d, %s runtime): |dy| %.4g > bound %.4g\n", k, (long long)i, r,
                                rt ? "fast" : "ref", err, bound);
                    fail();
                }
                if (r != TINY_ROW && err / bound > worst) worst = err / bound;
            }
        }
        tensor_release(&want[k]);
        tensor_release(&got[0][k]);
        tensor_release(&got[1][k]);
        tensor_release(&f[k].value);
    }
    return worst;
}

/* the rule at its only site, on a clone */
static Graph *rewrite(const Graph *g, int expect_gathers) {
    Err e = {0};
    SiteList s = {0};
    CHECK_OK(rule_sites(rule(), g, &s, &e), &e);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.v[0].n, 1 + expect_gathers);
    assert_string_equal(g->nodes[s.v[0].nodes[0]]->name, "emb/table");
    Graph *q = graph_clone(g, &e);
    assert_non_null(q);
    CHECK_OK(rule_apply(rule(), q, &s.v[0], &e), &e);
    sitelist_free(&s);
    assert_int_equal(tr_site_count(rule(), q), 0); /* an int8 table is not a site again */
    return q;
}

static void check_case(const char *what, const Shape *ids, const int *dtypes, int n) {
    Graph *g = gather_graph(ids, dtypes, n);
    Graph *q = rewrite(g, n);
    check_stock_ops(q);
    assert_int_equal(tr_count_op(q, "GatherV2"), 2 * n);
    assert_int_equal(tr_count_op(q, "Cast"), n);
    assert_int_equal(tr_count_op(q, "Mul"), n);
    assert_int_equal(tr_count_op(q, "Const"), 2 + n); /* the int8 table, its scales, the axes */
    int ti = graph_find(q, "emb/table/int8");
    assert_true(ti >= 0);
    assert_int_equal(q->nodes[ti]->outputs[0].dtype, DT_INT8);
    for (int k = 0; k < n; k++) {
        char gn[32];
        snprintf(gn, sizeof gn, "emb/gather%d", k);
        int m = graph_find(q, gn); /* the Mul took the gather's name */
        assert_true(m >= 0);
        assert_string_equal(q->nodes[m]->op_name, "Mul");
        assert_true(shape_equal(&q->nodes[m]->outputs[0].shape, &g->nodes[graph_find(g, gn)]->outputs[0].shape));
    }
    double worst = check_bound(g, q, ids, dtypes, n);
    /* written as a GraphDef and read back: same graph, same bound */
    Graph *rt = tr_roundtrip(q);
    check_stock_ops(rt);
    assert_true(tr_compare_on(q, false, rt, true, 1, 5) == 0);
    graph_free(rt);
    printf("[ gather   ] %-28s worst |dy| / (s_r / 2) %.3f\n", what, worst);
    assert_true(worst > 0.5 && worst <= 1.0); /* the bound is reached, not loose */
    graph_free(q);
    graph_free(g);
}

static void test_rank1(void **state) {
    (void)state;
    check_case("ids [7] int32", (Shape[]){shape_make(1, (int64_t[]){7})}, (int[]){DT_INT32}, 1);
}

static void test_rank2(void **state) {
    (void)state;
    check_case("ids [3, 40] int64", (Shape[]){shape_make(2, (int64_t[]){3, 40})}, (int[]){DT_INT64}, 1);
}

/* one table, two gathers (ids of rank 2 and rank 0): one site, both rewritten onto one int8 table */
static void test_shared_table(void **state) {
    (void)state;
    check_case("ids [2, 9] + scalar id", (Shape[]){shape_make(2, (int64_t[]){2, 9}), shape_make(0, NULL)}, (int[]){DT_INT32, DT_INT32}, 2);
}

/* ------------------------------------------------------------------------------------------ */
/* not a site */

static int sites_in(void (*build)(Builder *b)) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    build(&b);
    Graph *g = tr_finish(&b);
    int n = tr_site_count(rule(), g);
    graph_free(g);
    return n;
}

static ValueRef ids_ph(Builder *b) { return bld_placeholder(b, "ids", DT_INT32, shape_make(1, (int64_t[]){4}), NULL); }

static void small_table(Builder *b) { /* 100 x 64 = 6400 elements */
    Tensor t = table(100, 64);
    bld_add_output(b, bld_gather(b, "g", bld_const(b, "t", &t), ids_ph(b), 0));
}
static void threshold_table(Builder *b) { /* 512 x 128 = 65536 elements: exactly the threshold, a site */
    Tensor t = table(512, 128);
    bld_add_output(b, bld_gather(b, "g", bld_const(b, "t", &t), ids_ph(b), 0));
}
static void below_threshold(Builder *b) { /* 511 x 128 = 65408 */
    Tensor t = table(511, 128);
    bld_add_output(b, bld_gather(b, "g", bld_const(b, "t", &t), ids_ph(b), 0));
}
static void placeholder_table(Builder *b) {
    ValueRef t = bld_placeholder(b, "t", DT_FLOAT, shape_make(2, (int64_t[]){V, D}), NULL);
    bld_add_output(b, bld_gather(b, "g", t, ids_ph(b), 0));
}
static void axis1(Builder *b) { /* gathers columns: per-row scales would not follow the ids */
    Tensor t = table(D, V);
    bld_add_output(b, bld_gather(b, "g", bld_const(b, "t", &t), ids_ph(b), 1));
}
static void also_matmul(Builder *b) { /* the table is also a matmul's weight */
    Tensor t = table(V, D);
    ValueRef tv = bld_const(b, "t", &t);
    bld_add_output(b, bld_gather(b, "g", tv, ids_ph(b), 0));
    ValueRef x = bld_placeholder(b, "x", DT_FLOAT, shape_make(2, (int64_t[]){2, V}), NULL);
    bld_add_output(b, bld_matmul(b, "m", x, tv, false, false));
}
static void also_identity(Builder *b) { /* the table is also read by an Identity */
    Tensor t = table(V, D);
    ValueRef tv = bld_const(b, "t", &t);
    bld_add_output(b, bld_gather(b, "g", tv, ids_ph(b), 0));
    bld_add_output(b, bld_identity(b, "i", tv));
}
static void table_output(Builder *b) { /* the table itself is fetched */
    Tensor t = table(V, D);
    ValueRef tv = bld_const(b, "t", &t);
    bld_add_output(b, bld_gather(b, "g", tv, ids_ph(b), 0));
    bld_add_output(b, tv);
}

static void test_not_applied(void **state) {
    (void)state;
    assert_int_equal(sites_in(small_table), 0);
    assert_int_equal(sites_in(threshold_table), 1);
    assert_int_equal(sites_in(below_threshold), 0);
    assert_int_equal(sites_in(placeholder_table), 0);
    assert_int_equal(sites_in(axis1), 0);
    assert_int_equal(sites_in(also_matmul), 0);
    assert_int_equal(sites_in(also_identity), 0);
    assert_int_equal(sites_in(table_output), 0);
}

/* the grappler+int8 and grappler+int7 pipelines take the table (no calibration needed) */
static void test_pipelines(void **state) {
    (void)state;
    Err e = {0};
    const char *names[] = {"grappler+int8", "grappler+int7"};
    for (int k = 0; k < 2; k++) {
        Graph *g = gather_graph((Shape[]){shape_make(2, (int64_t[]){2, 6})}, (int[]){DT_INT32}, 1);
        Graph *q = graph_clone(g, &e);
        assert_non_null(q);
        RewriteLog log = {0};
        CHECK_OK(pipeline_run(names[k], q, 0, &log, &e), &e);
        int n = 0;
        for (int i = 0; i < log.n; i++)
            if (!strcmp(log.v[i].rule, "quantize_gather_int8")) n = log.v[i].count;
        assert_int_equal(n, 1);
        assert_int_equal(tr_count_op(q, "Cast"), 1);
        /* --target tf keeps it: its ops are stock */
        Graph *t = graph_clone(g, &e);
        RewriteLog tlog = {0};
        CHECK_OK(pipeline_run(names[k], t, RULE_TF, &tlog, &e), &e);
        assert_int_equal(tr_count_op(t, "Cast"), 1);
        double rel = tr_compare(g, q, true, 9);
        assert_true(rel > 0 && rel < 1.0 / 254 * 1.0001);
        graph_free(t);
        graph_free(q);
        graph_free(g);
    }
    assert_true((rule()->flags & (RULE_PRECISION | RULE_TF)) == (RULE_PRECISION | RULE_TF));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rank1),
        cmocka_unit_test(test_rank2),
        cmocka_unit_test(test_shared_table),
        cmocka_unit_test(test_not_applied),
        cmocka_unit_test(test_pipelines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
