/* test_ref_nn.h - helpers for the nn-op suites (test_ref_conv.c, test_ref_matmul.c,
 * test_ref_nn_misc.c): one-op graphs whose inputs are Consts, attribute setters, running
 * through graph_infer + ref_run, deterministic random tensors, and a checker for errors. */
#ifndef GRAPPO_TEST_REF_NN_H
#define GRAPPO_TEST_REF_NN_H

#include "testutil.h"

#include <stdlib.h>

#include "graph/infer.h"
#include "runtime/ref.h"

/* a graph holding one node `op` (named "op") fed by Consts in0..in{n_in-1} made from ins
   (references taken); *node receives its index */
static inline Graph *nn_graph(const char *op, Tensor *ins, int n_in, int *node) {
    Err e;
    Graph *g = graph_new();
    assert_non_null(g);
    int o = graph_add_node(g, "op", op, &e);
    if (o < 0) { print_error("%s\n", e.msg); fail(); }
    for (int k = 0; k < n_in; k++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", k);
        int c = graph_add_node(g, name, "Const", &e);
        if (c < 0) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(node_set_attr_type(g->nodes[c], "dtype", ins[k].dtype, &e), &e);
        CHECK_OK(node_set_attr_tensor(g->nodes[c], "value", &ins[k], &e), &e);
        tensor_release(&ins[k]);
        CHECK_OK(node_add_input(g, o, (ValueRef){c, 0}, &e), &e);
    }
    *node = o;
    return g;
}

static inline void nn_ints(Graph *g, int node, const char *name, int count, const int64_t *v) {
    Err e;
    CHECK_OK(node_set_attr_list_i(g->nodes[node], name, v, count, &e), &e);
}
static inline void nn_str(Graph *g, int node, const char *name, const char *v) {
    Err e;
    CHECK_OK(node_set_attr_s(g->nodes[node], name, v, &e), &e);
}
static inline void nn_strs(Graph *g, int node, const char *name, int count, const char *const *v) {
    Err e;
    CHECK_OK(node_set_attr_list_s(g->nodes[node], name, v, count, &e), &e);
}
static inline void nn_bool(Graph *g, int node, const char *name, bool v) {
    Err e;
    CHECK_OK(node_set_attr_b(g->nodes[node], name, v, &e), &e);
}
static inline void nn_float(Graph *g, int node, const char *name, float v) {
    Err e;
    CHECK_OK(node_set_attr_f(g->nodes[node], name, v, &e), &e);
}
static inline void nn_int(Graph *g, int node, const char *name, int64_t v) {
    Err e;
    CHECK_OK(node_set_attr_i(g->nodes[node], name, v, &e), &e);
}

/* conv-style attributes: strides / dilations as 4 ints in data_format order */
static inline void nn_window(Graph *g, int node, const char *padding, int64_t s1, int64_t s2, bool nchw) {
    nn_str(g, node, "padding", padding);
    if (nchw) nn_str(g, node, "data_format", "NCHW");
    int64_t st[4] = {1, nchw ? 1 : s1, nchw ? s1 : s2, nchw ? s2 : 1};
    nn_ints(g, node, "strides", 4, st);
}

/* infers g and runs it, fetching node's outputs into out[0..n_out) */
static inline int nn_run(Graph *g, int node, Tensor *out, int n_out, Err *e) {
    if (graph_infer(g, NULL, 0, ref_eval_node, NULL, e)) return -1;
    assert_int_equal(g->nodes[node]->n_outputs, n_out);
    ValueRef fetch[8];
    for (int k = 0; k < n_out; k++) fetch[k] = (ValueRef){node, k};
    return ref_run(g, NULL, 0, fetch, n_out, out, NULL, e);
}

/* runs a one-output graph, frees it, returns the output */
static inline Tensor nn_run1(Graph *g, int node) {
    Err e;
    Tensor out = {0};
    CHECK_OK(nn_run(g, node, &out, 1, &e), &e);
    graph_free(g);
    return out;
}

/* asserts that inferring / running fails with code and a message containing needle; frees g */
static inline void nn_expect_error(Graph *g, int node, ErrCode code, const char *needle) {
    Err e;
    err_clear(&e);
    int rc = graph_infer(g, NULL, 0, ref_eval_node, NULL, &e);
    if (rc == 0) {
        int n_out = g->nodes[node]->n_outputs;
        Tensor out[8] = {{0}};
        ValueRef fetch[8];
        for (int k = 0; k < n_out && k < 8; k++) fetch[k] = (ValueRef){node, k};
        rc = ref_run(g, NULL, 0, fetch, n_out, out, NULL, &e);
        for (int k = 0; k < n_out && k < 8; k++) tensor_release(&out[k]);
    }
    graph_free(g);
    if (rc == 0) { print_error("expected an error containing '%s'\n", needle); fail(); }
    if (e.code != code || !strstr(e.msg, needle)) {
        print_error("error %d '%s', expected code %d containing '%s'\n", e.code, e.msg, code, needle);
        fail();
    }
}

/* asserts that inference alone fails (code, needle); frees g */
static inline void nn_expect_infer_error(Graph *g, ErrCode code, const char *needle) {
    Err e;
    err_clear(&e);
    int rc = graph_infer(g, NULL, 0, NULL, NULL, &e);
    graph_free(g);
    if (rc == 0) { print_error("expected inference to fail with '%s'\n", needle); fail(); }
    if (e.code != code || !strstr(e.msg, needle)) {
        print_error("error %d '%s', expected code %d containing '%s'\n", e.code, e.msg, code, needle);
        fail();
    }
}

/* float tensor of the given dims filled with uniform values in [-1, 1) from a fixed seed */
static inline Tensor nn_rand(uint64_t seed, int rank, const int64_t *dims) {
    Shape s = shape_make(rank, dims);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    float *p = tensor_mut(&t);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
        p[i] = (float)((double)(x >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
    }
    return t;
}

/* a float tensor of the given shape holding vals (a double array) */
static inline Tensor nn_from(int rank, const int64_t *dims, const double *vals) {
    Shape s = shape_make(rank, dims);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    float *p = tensor_mut(&t);
    for (int64_t i = 0; i < shape_numel(&s); i++) p[i] = (float)vals[i];
    return t;
}

/* an empty float tensor of the given shape (zeros), for expected results built in the test */
static inline Tensor nn_zeros(int rank, const int64_t *dims) {
    Shape s = shape_make(rank, dims);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    return t;
}

static inline const float *nn_f(const Tensor *t) { return (const float *)tensor_data(t); }
static inline float *nn_fm(Tensor *t) { return (float *)tensor_mut(t); }

/* [N,H,W,C] <-> [N,C,H,W] copies made in the test (independent of the kernels' helpers) */
static inline Tensor nn_to_nchw(const Tensor *t) {
    const int64_t *d = t->shape.dim;
    Tensor r = nn_zeros(4, (int64_t[]){d[0], d[3], d[1], d[2]});
    for (int64_t b = 0; b < d[0]; b++)
        for (int64_t h = 0; h < d[1]; h++)
            for (int64_t w = 0; w < d[2]; w++)
                for (int64_t c = 0; c < d[3]; c++)
                    nn_fm(&r)[((b * d[3] + c) * d[1] + h) * d[2] + w] = nn_f(t)[((b * d[1] + h) * d[2] + w) * d[3] + c];
    return r;
}
static inline Tensor nn_to_nhwc(const Tensor *t) {
    const int64_t *d = t->shape.dim; /* N, C, H, W */
    Tensor r = nn_zeros(4, (int64_t[]){d[0], d[2], d[3], d[1]});
    for (int64_t b = 0; b < d[0]; b++)
        for (int64_t c = 0; c < d[1]; c++)
            for (int64_t h = 0; h < d[2]; h++)
                for (int64_t w = 0; w < d[3]; w++)
                    nn_fm(&r)[((b * d[2] + h) * d[3] + w) * d[1] + c] = nn_f(t)[((b * d[1] + c) * d[2] + h) * d[3] + w];
    return r;
}

/* |a - b| <= atol + rtol*|b| for every element, and equal shapes */
static inline void nn_assert_close(const Tensor *a, const Tensor *b, double atol, double rtol) {
    char sa[96], sb[96];
    if (!shape_equal(&a->shape, &b->shape)) {
        print_error("shape %s != %s\n", shape_str(&a->shape, sa, sizeof sa), shape_str(&b->shape, sb, sizeof sb));
        fail();
    }
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        double x = tensor_get(a, i), y = tensor_get(b, i);
        if (!(fabs(x - y) <= atol + rtol * fabs(y))) {
            print_error("element %lld: %.9g != %.9g\n", (long long)i, x, y);
            fail();
        }
    }
}

/* asserts t has the given shape and values (tolerance tol) */
static inline void nn_assert_values(const Tensor *t, int rank, const int64_t *dims, const double *vals, double tol) {
    Tensor want = nn_from(rank, dims, vals);
    nn_assert_close(t, &want, tol, 0);
    tensor_release(&want);
}

#endif
