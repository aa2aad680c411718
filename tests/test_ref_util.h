/* test_ref_util.h - helpers for the array-op suites (test_ref_array.c, test_ref_slice.c):
 * tensors of any dtype from small integer values, one-op graphs fed by Consts, and running
 * them through graph_infer (which also folds small results with the kernels) and ref_run. */
#ifndef GRAPPO_TEST_REF_UTIL_H
#define GRAPPO_TEST_REF_UTIL_H

#include "testutil.h"

#include <stdlib.h>

#include "graph/infer.h"
#include "runtime/ref.h"

/* tensor of dtype dt and shape dims holding vals[] (converted with tensor_set) */
static inline Tensor tr_make(int dt, int rank, const int64_t *dims, const double *vals) {
    Tensor t; Err e; Shape s = shape_make(rank, dims);
    if (tensor_alloc(&t, dt, &s, &e)) { print_error("%s\n", e.msg); fail(); }
    for (int64_t i = 0; i < shape_numel(&s); i++) tensor_set(&t, i, vals[i]);
    return t;
}

/* 0, 1, 2, ... (for bool: i % 2) */
static inline Tensor tr_iota(int dt, int rank, const int64_t *dims) {
    Tensor t; Err e; Shape s = shape_make(rank, dims);
    if (tensor_alloc(&t, dt, &s, &e)) { print_error("%s\n", e.msg); fail(); }
    for (int64_t i = 0; i < shape_numel(&s); i++) tensor_set(&t, i, dt == DT_BOOL ? (double)(i % 2) : (double)i);
    return t;
}

static inline Tensor tr_i64(int rank, const int64_t *dims, const int64_t *vals) {
    Tensor t; Err e; Shape s = shape_make(rank, dims);
    if (tensor_from_data(&t, DT_INT64, &s, vals, (size_t)shape_numel(&s) * 8, &e)) { print_error("%s\n", e.msg); fail(); }
    return t;
}
static inline Tensor tr_vec_i32(int n, const int32_t *vals) { return tt_i32(1, (int64_t[]){n}, vals); }
static inline Tensor tr_scalar_i32(int32_t v) { return tt_i32(0, NULL, &v); }

static inline int tr_node(Graph *g, const char *name, const char *op) {
    Err e;
    int i = graph_add_node(g, name, op, &e);
    if (i < 0) { print_error("%s\n", e.msg); fail(); }
    return i;
}

/* a Const node holding t (takes t's reference) */
static inline int tr_const(Graph *g, const char *name, Tensor t) {
    Err e;
    int i = tr_node(g, name, "Const");
    CHECK_OK(node_set_attr_type(g->nodes[i], "dtype", t.dtype, &e), &e);
    CHECK_OK(node_set_attr_tensor(g->nodes[i], "value", &t, &e), &e);
    tensor_release(&t);
    return i;
}

static inline void tr_input(Graph *g, int node, int src, int port) {
    Err e;
    CHECK_OK(node_add_input(g, node, (ValueRef){src, port}, &e), &e);
}

/* node `name` of type op whose inputs are Consts made from ins[0..n_in) (references taken) */
static inline int tr_op(Graph *g, const char *op, Tensor *ins, int n_in) {
    int node = tr_node(g, "op", op);
    for (int k = 0; k < n_in; k++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", k);
        tr_input(g, node, tr_const(g, name, ins[k]), 0);
    }
    return node;
}

static inline void tr_attr_i(Graph *g, int node, const char *name, int64_t v) {
    Err e;
    CHECK_OK(node_set_attr_i(g->nodes[node], name, v, &e), &e);
}

/* Infers g, then runs it fetching node's outputs into out[0..n_out). Returns 0, or -1 with
   *e set (inference or run failed). */
static inline int tr_run(Graph *g, int node, Tensor *out, int n_out, Err *e) {
    if (graph_infer(g, NULL, 0, ref_eval_node, NULL, e)) return -1;
    if (g->nodes[node]->n_outputs != n_out) {
        print_error("node has %d outputs, expected %d\n", g->nodes[node]->n_outputs, n_out);
        fail();
    }
    ValueRef fetch[64];
    for (int k = 0; k < n_out; k++) fetch[k] = (ValueRef){node, k};
    return ref_run(g, NULL, 0, fetch, n_out, out, NULL, e);
}

/* asserts out has dtype dt, the given shape, and element i equal to src value src_idx[i]
   (data movement: every output element is some input element) */
static inline void tr_expect_moved(const Tensor *out, int dt, int rank, const int64_t *dims, const Tensor *src,
                                   const int64_t *src_idx) {
    Shape s = shape_make(rank, dims);
    char a[96], b[96];
    assert_int_equal(out->dtype, dt);
    if (!shape_equal(&out->shape, &s)) {
        print_error("shape %s, expected %s\n", shape_str(&out->shape, a, sizeof a), shape_str(&s, b, sizeof b));
        fail();
    }
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        double got = tensor_get(out, i), want = tensor_get(src, src_idx[i]);
        if (got != want) {
            print_error("element %lld: %g, expected %g (source element %lld)\n", (long long)i, got, want, (long long)src_idx[i]);
            fail();
        }
    }
}

/* asserts shape and values (as doubles, exact) */
static inline void tr_expect(const Tensor *out, int dt, int rank, const int64_t *dims, const double *vals) {
    Shape s = shape_make(rank, dims);
    char a[96], b[96];
    assert_int_equal(out->dtype, dt);
    if (!shape_equal(&out->shape, &s)) {
        print_error("shape %s, expected %s\n", shape_str(&out->shape, a, sizeof a), shape_str(&s, b, sizeof b));
        fail();
    }
    for (int64_t i = 0; i < shape_numel(&s); i++)
        if (tensor_get(out, i) != vals[i]) {
            print_error("element %lld: %g, expected %g\n", (long long)i, tensor_get(out, i), vals[i]);
            fail();
        }
}

/* asserts inference (or running) fails with code and a message containing `needle` */
static inline void tr_expect_error(Graph *g, int node, int n_out, ErrCode code, const char *needle) {
    Err e;
    err_clear(&e);
    Tensor out[64] = {{0}};
    int rc = tr_run(g, node, out, n_out, &e);
    for (int k = 0; k < n_out; k++) tensor_release(&out[k]);
    if (rc == 0) { print_error("expected an error containing '%s'\n", needle); fail(); }
    if (e.code != code || !strstr(e.msg, needle)) {
        print_error("error %d '%s', expected code %d containing '%s'\n", e.code, e.msg, code, needle);
        fail();
    }
}

#endif
