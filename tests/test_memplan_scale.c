/* test_memplan_scale.c - plan compilation at scale (issue 11, item 6): the arena planner is
 * O(n log n) in tensors, first fit gives exactly what the original quadratic first fit gave,
 * a 100k-node Transpose chain compiles on the fast runtime, and a Split into 65,536 empty
 * pieces runs on both runtimes. Time limits here are generous bounds that only a quadratic
 * planner misses (minutes instead of milliseconds); the measured times are printed. */
#include "testutil.h"

#include <time.h>

#include "craftpb.h"
#include "io/graphdef.h"
#include "runtime/plan.h"
#include "runtime/ref.h"
#include "util/rng.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* the original O(n^2) first fit, as the oracle: tensors by first step (larger first), each at
   the lowest offset free of every placed tensor alive at the same time */
typedef struct Oracle { size_t off, size; } Oracle;
static int cmp_oracle(const void *a, const void *b) {
    const Oracle *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}
static size_t rnd64(size_t x) { return (x + 63) & ~(size_t)63; }
static size_t oracle_first_fit(const MemReq *r, int n, size_t *off) {
    if (n < 1 || n > 4096) return 0;
    int *order = malloc(sizeof(int) * (size_t)n);
    bool *placed = calloc((size_t)n, 1);
    Oracle *c = malloc(sizeof(Oracle) * (size_t)n);
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort by (first, -size, index) */
        for (int j = i; j > 0; j--) {
            const MemReq *a = &r[order[j - 1]], *b = &r[order[j]];
            bool swap = a->first > b->first || (a->first == b->first && rnd64(a->size) < rnd64(b->size));
            if (!swap) break;
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    size_t arena = 0;
    for (int oi = 0; oi < n; oi++) {
        int i = order[oi], nc = 0;
        size_t need = rnd64(r[i].size);
        for (int j = 0; j < n; j++)
            if (placed[j] && r[j].first <= r[i].last && r[i].first <= r[j].last) c[nc++] = (Oracle){off[j], rnd64(r[j].size)};
        qsort(c, (size_t)nc, sizeof *c, cmp_oracle);
        size_t cursor = 0, best = 0;
        for (int k = 0; k <= nc; k++) {
            size_t end = k < nc ? c[k].off : SIZE_MAX;
            if (end >= cursor && end - cursor >= need) { best = cursor; break; }
            if (k < nc && c[k].off + c[k].size > cursor) cursor = c[k].off + c[k].size;
        }
        off[i] = best;
        placed[i] = true;
        if (best + need > arena) arena = best + need;
    }
    free(order);
    free(placed);
    free(c);
    return arena;
}

static void test_first_fit_matches_oracle(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    MemReq reqs[80];
    size_t a[80], b[80];
    for (int trial = 0; trial < 500; trial++) {
        int n = 1 + (int)rng_below(&r, 80);
        for (int i = 0; i < n; i++) {
            int f = (int)rng_below(&r, 30), len = (int)rng_below(&r, 12);
            reqs[i] = (MemReq){rng_below(&r, 4) ? 1 + rng_below(&r, 3000) : 0, f, f + len};
        }
        size_t got = memplan_assign(reqs, n, MEMPLAN_FIRST_FIT, a);
        size_t want = oracle_first_fit(reqs, n, b);
        assert_int_equal(got, want);
        for (int i = 0; i < n; i++)
            if (rnd64(reqs[i].size)) assert_int_equal(a[i], b[i]);
    }
}

/* 200,000 tensors alive at once: the original planner compared every pair (4e10 steps) */
static void test_planner_scales(void **state) {
    (void)state;
    int n = 200000;
    MemReq *reqs = malloc(sizeof *reqs * (size_t)n);
    size_t *off = malloc(sizeof *off * (size_t)n);
    for (int i = 0; i < n; i++) reqs[i] = (MemReq){64 + (size_t)(i % 7) * 64, i / 2, n};
    double t0 = now_s();
    MemPlanInfo info;
    size_t arena = memplan_choose(reqs, n, off, &info);
    double dt = now_s() - t0;
    print_message("planner: %d overlapping tensors in %.3f s (arena %zu bytes)\n", n, dt, arena);
    assert_int_equal(info.chosen, MEMPLAN_FIRST_FIT);
    assert_true(info.greedy == (size_t)-1);
    assert_int_equal(arena, memplan_lower_bound(reqs, n)); /* all alive together: the sum */
    assert_true(dt < 20.0);
    /* a chain of 200,000: two buffers */
    for (int i = 0; i < n; i++) reqs[i] = (MemReq){1024, i, i + 1};
    arena = memplan_choose(reqs, n, off, &info);
    assert_int_equal(arena, 2048);
    free(reqs);
    free(off);
}

static Graph *load(Pb *g, Err *err) {
    Graph *gr = graphdef_parse(g->p, g->n, "crafted.pb", err);
    free(g->p);
    if (!gr) return NULL;
    if (graph_validate(gr, err) || graph_infer(gr, NULL, 0, ref_eval_node, NULL, err)) { graph_free(gr); return NULL; }
    return gr;
}

static void test_transpose_chain_100k(void **state) {
    (void)state;
    enum { N = 100000 };
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){2, 3});
    Pb perm = pb_tensor(DT_INT32, 1, (int64_t[]){2}, NULL, 0, (int64_t[]){1, 0}, 2);
    pb_const(&g, "perm", &perm, DT_INT32);
    char name[32], prev[32] = "x";
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "t%d", i);
        Pb n = pb_node(name, "Transpose", (const char *[]){prev, "perm"}, 2);
        pb_attr(&n, "T", pb_a_type(DT_FLOAT));
        pb_attr(&n, "Tperm", pb_a_type(DT_INT32));
        pb_add_node(&g, &n);
        memcpy(prev, name, sizeof name);
    }
    Err err = {0};
    Graph *gr = load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    double t0 = now_s();
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(gr, NULL, 0, &po, &err);
    double dt = now_s() - t0;
    CHECK_OK(p == NULL, &err);
    print_message("fast runtime: 100k-node Transpose chain compiled in %.3f s\n", dt);
    assert_true(dt < 20.0); /* about 0.1 s unloaded; the quadratic planner took 30 s */
    Tensor x = tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}), out = {0};
    RefFeed f = {"x", x};
    CHECK_OK(plan_run(p, &f, 1, &out, NULL, &err), &err);
    assert_tensor_near(&out, &x, 0); /* an even number of transposes */
    tensor_release(&out);
    tensor_release(&x);
    plan_free(p);
    graph_free(gr);
}

/* Split of a [0] tensor into 65,536 pieces: every piece is empty */
static void test_split_65536_empty(void **state) {
    (void)state;
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 1, (int64_t[]){0});
    Pb ax = pb_tensor(DT_INT32, 0, NULL, NULL, 0, (int64_t[]){0}, 1);
    pb_const(&g, "ax", &ax, DT_INT32);
    Pb n = pb_node("s", "Split", (const char *[]){"ax", "x"}, 2);
    pb_attr(&n, "T", pb_a_type(DT_FLOAT));
    pb_attr(&n, "num_split", pb_a_i(65536));
    pb_add_node(&g, &n);
    Err err = {0};
    Graph *gr = load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    ValueRef fetch[2] = {{graph_find(gr, "s"), 0}, {graph_find(gr, "s"), 65535}};
    assert_int_equal(gr->nodes[fetch[0].node]->n_outputs, 65536);
    Tensor x, out[2] = {{0}};
    Shape s0 = shape_make(1, (int64_t[]){0});
    CHECK_OK(tensor_alloc(&x, DT_FLOAT, &s0, &err), &err);
    RefFeed f = {"x", x};
    double t0 = now_s();
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(gr, fetch, 2, &po, &err);
    CHECK_OK(p == NULL, &err);
    CHECK_OK(plan_run(p, &f, 1, out, NULL, &err), &err);
    print_message("fast runtime: Split into 65,536 empty pieces in %.3f s\n", now_s() - t0);
    for (int k = 0; k < 2; k++) { assert_int_equal(out[k].shape.rank, 1); assert_int_equal(out[k].shape.dim[0], 0); tensor_release(&out[k]); }
    CHECK_OK(ref_run(gr, &f, 1, fetch, 2, out, NULL, &err), &err);
    for (int k = 0; k < 2; k++) { assert_int_equal(out[k].shape.dim[0], 0); tensor_release(&out[k]); }
    plan_free(p);
    tensor_release(&x);
    graph_free(gr);
}

/* 16,384 parallel Relus, every one a fetched output (all alive to the end): 15 s before */
static void test_parallel_relus_16k(void **state) {
    (void)state;
    enum { N = 16384 };
    Pb g = {0};
    pb_placeholder(&g, "x", DT_FLOAT, 2, (int64_t[]){1, 4});
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "r%d", i);
        pb_unary(&g, name, "Relu", "x");
    }
    Err err = {0};
    Graph *gr = load(&g, &err);
    CHECK_OK(gr == NULL, &err);
    assert_int_equal(gr->n_outputs, N);
    double t0 = now_s();
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(gr, NULL, 0, &po, &err);
    double dt = now_s() - t0;
    CHECK_OK(p == NULL, &err);
    print_message("fast runtime: 16,384 parallel Relus (all outputs) compiled in %.3f s\n", dt);
    assert_true(dt < 20.0);
    assert_int_equal(plan_arena_bytes(p), (size_t)N * 64); /* all alive together: 16 bytes each, rounded to 64 */
    Tensor x = tt_f32(2, (int64_t[]){1, 4}, (float[]){-1, 2, -3, 4});
    Tensor *out = calloc(N, sizeof *out);
    RefFeed f = {"x", x};
    CHECK_OK(plan_run(p, &f, 1, out, NULL, &err), &err);
    assert_true(tensor_get(&out[N - 1], 0) == 0 && tensor_get(&out[N - 1], 1) == 2);
    for (int k = 0; k < N; k++) tensor_release(&out[k]);
    free(out);
    tensor_release(&x);
    plan_free(p);
    graph_free(gr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_fit_matches_oracle),
        cmocka_unit_test(test_planner_scales),
        cmocka_unit_test(test_transpose_chain_100k),
        cmocka_unit_test(test_split_65536_empty),
        cmocka_unit_test(test_parallel_relus_16k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
