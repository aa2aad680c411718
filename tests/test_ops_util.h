/* test_ops_util.h - helpers for the suites of the ops added for real models (test_ref_compare.c,
 * test_ref_index.c, test_ref_dynamic.c): a one-op graph whose inputs are Placeholders (or
 * Consts, where an input must be known), run on both runtimes - the reference executor and the
 * fast runtime's plan - each output checked against hand-computed values. */
#ifndef GRAPPO_TEST_OPS_UTIL_H
#define GRAPPO_TEST_OPS_UTIL_H

#include "test_ref_util.h"

#include "runtime/plan.h"

#define TO_MAX 8

typedef struct ToGraph {
    Graph *g;
    int op;
    int n_feeds;
    RefFeed feeds[TO_MAX];
    InputSpec specs[TO_MAX];
    char names[TO_MAX][16];
} ToGraph;

/* a graph with one node of type `op` */
static inline void to_begin(ToGraph *t, const char *op) {
    memset(t, 0, sizeof *t);
    t->g = graph_new();
    t->op = tr_node(t->g, "op", op);
}

/* next input of the op: a Placeholder fed with v at run time (takes v's reference) */
static inline void to_feed(ToGraph *t, Tensor v) {
    Err e;
    int k = t->n_feeds++;
    snprintf(t->names[k], sizeof t->names[k], "p%d", k);
    int p = tr_node(t->g, t->names[k], "Placeholder");
    CHECK_OK(node_set_attr_type(t->g->nodes[p], "dtype", v.dtype, &e), &e);
    CHECK_OK(node_set_attr_shape(t->g->nodes[p], "shape", &v.shape, &e), &e);
    tr_input(t->g, t->op, p, 0);
    t->feeds[k] = (RefFeed){t->names[k], v};
    t->specs[k] = (InputSpec){t->names[k], v.shape, v.dtype};
}

/* next input of the op: a Const (for inputs that must be known before running) */
static inline void to_const(ToGraph *t, Tensor v) {
    char name[16];
    snprintf(name, sizeof name, "c%d", t->g->nodes[t->op]->n_inputs);
    tr_input(t->g, t->op, tr_const(t->g, name, v), 0);
}

static inline void to_end(ToGraph *t) {
    for (int k = 0; k < t->n_feeds; k++) tensor_release(&t->feeds[k].value);
    graph_free(t->g);
}

/* within tol (0: exact, -0 distinguished from +0), NaN equal to NaN */
static inline void to_expect_tensor_tol(const char *rt, int k, const Tensor *got, const Tensor *want, double tol) {
    char a[96], b[96];
    if (got->dtype != want->dtype || !shape_equal(&got->shape, &want->shape)) {
        print_error("%s output %d: %s %s, expected %s %s\n", rt, k, dtype_name(got->dtype), shape_str(&got->shape, a, sizeof a),
                    dtype_name(want->dtype), shape_str(&want->shape, b, sizeof b));
        fail();
    }
    for (int64_t i = 0; i < tensor_numel(want); i++) {
        double x = tensor_get(got, i), y = tensor_get(want, i);
        bool same = (isnan(x) && isnan(y)) || (tol > 0 ? fabs(x - y) <= tol : x == y && signbit(x) == signbit(y));
        if (!same) {
            print_error("%s output %d element %lld: %.9g, expected %.9g\n", rt, k, (long long)i, x, y);
            fail();
        }
    }
}

static inline void to_expect_tensor(const char *rt, int k, const Tensor *got, const Tensor *want) {
    to_expect_tensor_tol(rt, k, got, want, 0);
}

/* Infers, runs on the reference runtime and on the fast runtime, and checks every output of the
   op against want[0..n_out) (released here) within tol (0 = exactly). */
static inline void to_check_tol(ToGraph *t, Tensor *want, int n_out, double tol) {
    Err e;
    CHECK_OK(graph_infer(t->g, t->specs, t->n_feeds, ref_eval_node, NULL, &e), &e);
    ValueRef fetch[TO_MAX];
    for (int k = 0; k < n_out; k++) fetch[k] = (ValueRef){t->op, k};
    Tensor out[TO_MAX] = {{0}};
    CHECK_OK(ref_run(t->g, t->feeds, t->n_feeds, fetch, n_out, out, NULL, &e), &e);
    for (int k = 0; k < n_out; k++) { to_expect_tensor_tol("ref", k, &out[k], &want[k], tol); tensor_release(&out[k]); }
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(t->g, fetch, n_out, &po, &e);
    if (!p) { print_error("plan_compile: %s\n", e.msg); fail(); }
    CHECK_OK(plan_run(p, t->feeds, t->n_feeds, out, NULL, &e), &e);
    for (int k = 0; k < n_out; k++) { to_expect_tensor_tol("fast", k, &out[k], &want[k], tol); tensor_release(&out[k]); }
    plan_free(p);
    for (int k = 0; k < n_out; k++) tensor_release(&want[k]);
}

static inline void to_check(ToGraph *t, Tensor *want, int n_out) { to_check_tol(t, want, n_out, 0); }

/* Infers and runs on both runtimes, expecting the error (from inference or from either run) to
   contain needle. */
static inline void to_check_error(ToGraph *t, int n_out, const char *needle) {
    Err e;
    err_clear(&e);
    ValueRef fetch[TO_MAX];
    for (int k = 0; k < n_out; k++) fetch[k] = (ValueRef){t->op, k};
    Tensor out[TO_MAX] = {{0}};
    if (graph_infer(t->g, t->specs, t->n_feeds, ref_eval_node, NULL, &e) == 0) {
        if (ref_run(t->g, t->feeds, t->n_feeds, fetch, n_out, out, NULL, &e) == 0) {
            for (int k = 0; k < n_out; k++) tensor_release(&out[k]);
            print_error("expected an error containing '%s' from the reference runtime\n", needle);
            fail();
        }
        if (!strstr(e.msg, needle)) { print_error("ref error '%s', expected '%s'\n", e.msg, needle); fail(); }
        PlanOpts po = {.threads = 1};
        Plan *p = plan_compile(t->g, fetch, n_out, &po, &e);
        if (p) {
            int rc = plan_run(p, t->feeds, t->n_feeds, out, NULL, &e);
            plan_free(p);
            if (rc == 0) {
                for (int k = 0; k < n_out; k++) tensor_release(&out[k]);
                print_error("expected an error containing '%s' from the fast runtime\n", needle);
                fail();
            }
        }
    }
    if (!strstr(e.msg, needle)) { print_error("error '%s', expected '%s'\n", e.msg, needle); fail(); }
}

/* float32 tensor literal */
static inline Tensor to_f32(int rank, const int64_t *dims, const float *v) { return tt_f32(rank, dims, v); }
/* any dtype from doubles */
static inline Tensor to_t(int dt, int rank, const int64_t *dims, const double *v) { return tr_make(dt, rank, dims, v); }

#endif
