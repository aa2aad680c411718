/* test_ref_ew.h - helpers shared by test_ref_elementwise.c and test_ref_reduce.c: tensors of
 * any dtype from literal values, tiny graphs of Const inputs feeding one op, running them
 * through inference and the reference executor, and element-by-element comparison that treats
 * inf and NaN exactly. */
#ifndef GRAPPO_TEST_REF_EW_H
#define GRAPPO_TEST_REF_EW_H

#include <float.h>
#include <stdlib.h>

#include "testutil.h"
#include "graph/infer.h"
#include "runtime/ref.h"

/* tensor of any supported dtype from double values (values must fit the dtype) */
static inline Tensor ew_make(int dtype, int rank, const int64_t *dims, const double *vals) {
    Tensor t; Err e; Shape s = shape_make(rank, dims);
    if (tensor_alloc(&t, dtype, &s, &e)) { print_error("%s\n", e.msg); fail(); }
    for (int64_t i = 0; i < shape_numel(&s); i++) tensor_set(&t, i, vals[i]);
    return t;
}

static inline Tensor ew_i64(int rank, const int64_t *dims, const int64_t *vals) {
    Tensor t; Err e; Shape s = shape_make(rank, dims);
    if (tensor_from_data(&t, DT_INT64, &s, vals, (size_t)shape_numel(&s) * 8, &e)) { print_error("%s\n", e.msg); fail(); }
    return t;
}

static inline Tensor ew_scalar_i32(int32_t v) { return tt_i32(0, NULL, &v); }

/* adds a Const holding t (the graph takes its own reference; t is released) */
static inline int ew_const(Graph *g, const char *name, Tensor t) {
    Err e;
    int i = graph_add_node(g, name, "Const", &e);
    if (i < 0) { print_error("%s\n", e.msg); fail(); }
    Node *n = graph_node(g, i);
    CHECK_OK(node_set_attr_tensor(n, "value", &t, &e), &e);
    CHECK_OK(node_set_attr_type(n, "dtype", t.dtype, &e), &e);
    tensor_release(&t);
    return i;
}

static inline int ew_placeholder(Graph *g, const char *name, int dtype, int rank, const int64_t *dims) {
    Err e;
    int i = graph_add_node(g, name, "Placeholder", &e);
    if (i < 0) { print_error("%s\n", e.msg); fail(); }
    Shape s = shape_make(rank, dims);
    CHECK_OK(node_set_attr_type(graph_node(g, i), "dtype", dtype, &e), &e);
    CHECK_OK(node_set_attr_shape(graph_node(g, i), "shape", &s, &e), &e);
    return i;
}

/* adds op `op_name` reading port 0 of each node in inputs[0..n_in) */
static inline int ew_op(Graph *g, const char *name, const char *op_name, const int *inputs, int n_in) {
    Err e;
    int i = graph_add_node(g, name, op_name, &e);
    if (i < 0) { print_error("%s\n", e.msg); fail(); }
    for (int k = 0; k < n_in; k++) CHECK_OK(node_add_input(g, i, (ValueRef){inputs[k], 0}, &e), &e);
    return i;
}

/* shape/dtype inference without folding (so ref_run really executes the kernels) */
static inline int ew_infer(Graph *g, Err *err) { return graph_infer(g, NULL, 0, NULL, NULL, err); }

/* infers g (must succeed) and runs it, returning output 0 of node */
static inline Tensor ew_run(Graph *g, int node) {
    Err e;
    CHECK_OK(ew_infer(g, &e), &e);
    Tensor out = {0};
    ValueRef v = {node, 0};
    CHECK_OK(ref_run(g, NULL, 0, &v, 1, &out, NULL, &e), &e);
    return out;
}

/* graph of Consts in0.. feeding one node "op" of type op_name; setup (may be NULL) sets
   attributes on it before inference. Returns the op's index. */
typedef void (*EwSetup)(Node *n);
static inline int ew_build(Graph *g, const char *op_name, const Tensor *inputs, int n_in, EwSetup setup) {
    int ids[8];
    for (int k = 0; k < n_in; k++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", k);
        ids[k] = ew_const(g, name, tensor_share(&inputs[k]));
    }
    int op = ew_op(g, "op", op_name, ids, n_in);
    if (setup) setup(graph_node(g, op));
    return op;
}

/* runs op_name(inputs...) and returns its output 0 */
static inline Tensor ew_eval(const char *op_name, const Tensor *inputs, int n_in, EwSetup setup) {
    Graph *g = graph_new();
    int op = ew_build(g, op_name, inputs, n_in, setup);
    Tensor out = ew_run(g, op);
    graph_free(g);
    return out;
}

/* expects inference of op_name(inputs...) to fail with code and a message containing needle */
static inline void ew_expect_infer_error(const char *op_name, const Tensor *inputs, int n_in, EwSetup setup,
                                         ErrCode code, const char *needle) {
    Graph *g = graph_new();
    ew_build(g, op_name, inputs, n_in, setup);
    Err e;
    err_clear(&e);
    int rc = ew_infer(g, &e);
    graph_free(g);
    if (rc == 0) { print_error("%s: inference unexpectedly succeeded\n", op_name); fail(); }
    if (e.code != code) { print_error("%s: error code %d, expected %d (%s)\n", op_name, e.code, code, e.msg); fail(); }
    if (needle && !strstr(e.msg, needle)) { print_error("%s: message '%s' lacks '%s'\n", op_name, e.msg, needle); fail(); }
}

/* same doubles, with inf == inf and NaN == NaN; tolerance relative to max(1, |expected|) */
static inline bool ew_close(double got, double want, double rtol) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    return fabs(got - want) <= rtol * scale;
}

static inline void ew_expect(const Tensor *t, int dtype, int rank, const int64_t *dims, const double *want, double rtol) {
    char sa[64], sb[64];
    Shape s = shape_make(rank, dims);
    if (t->dtype != dtype) { print_error("dtype %s, expected %s\n", dtype_name(t->dtype), dtype_name(dtype)); fail(); }
    if (!shape_equal(&t->shape, &s)) {
        print_error("shape %s, expected %s\n", shape_str(&t->shape, sa, 64), shape_str(&s, sb, 64));
        fail();
    }
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        double got = tensor_get(t, i);
        if (!ew_close(got, want[i], rtol)) {
            print_error("element %lld: got %.17g, expected %.17g\n", (long long)i, got, want[i]);
            fail();
        }
    }
}

/* exact comparison of an integer tensor */
static inline void ew_expect_i64(const Tensor *t, int dtype, int rank, const int64_t *dims, const int64_t *want) {
    char sa[64], sb[64];
    Shape s = shape_make(rank, dims);
    if (t->dtype != dtype) { print_error("dtype %s, expected %s\n", dtype_name(t->dtype), dtype_name(dtype)); fail(); }
    if (!shape_equal(&t->shape, &s)) {
        print_error("shape %s, expected %s\n", shape_str(&t->shape, sa, 64), shape_str(&s, sb, 64));
        fail();
    }
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        int64_t got = dtype == DT_INT64 ? ((const int64_t *)tensor_data(t))[i]
                    : dtype == DT_INT32 ? ((const int32_t *)tensor_data(t))[i]
                    : dtype == DT_INT8 ? ((const int8_t *)tensor_data(t))[i]
                    : ((const uint8_t *)tensor_data(t))[i];
        if (got != want[i]) {
            print_error("element %lld: got %lld, expected %lld\n", (long long)i, (long long)got, (long long)want[i]);
            fail();
        }
    }
}

/* deterministic pseudo-random values in [-4, 4) with a quarter step (exact in float) */
static inline double ew_val(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return (double)((int)(*state >> 24) % 32 - 16) / 4.0;
}

#endif
