/* test_dnn_util.h - helpers for the oneDNN family suites (test_dnn_*.c): one-node graphs whose
 * inputs are Placeholders (values given at run time) or Consts (known at compile time, so the
 * kernel must use its held copy), deterministic random tensors, and a checker running the node
 * through the fast family and the reference kernel and comparing every output. */
#ifndef GRAPPO_TEST_DNN_UTIL_H
#define GRAPPO_TEST_DNN_UTIL_H

#include "testfast.h"

#include <stdlib.h>
#include <time.h>

/* A graph with one node `op` (named "op") whose input k is a Const holding ins[k] when bit k
   of const_mask is set, else a Placeholder of ins[k]'s dtype and shape. ins are not taken. */
static inline Graph *td_graph(const char *op, const Tensor *ins, int n_in, unsigned const_mask, int *node) {
    Err e;
    Graph *g = graph_new();
    assert_non_null(g);
    int o = graph_add_node(g, "op", op, &e);
    if (o < 0) { print_error("%s\n", e.msg); fail(); }
    for (int k = 0; k < n_in; k++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", k);
        bool is_const = (const_mask >> k) & 1u;
        int c = graph_add_node(g, name, is_const ? "Const" : "Placeholder", &e);
        if (c < 0) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(node_set_attr_type(g->nodes[c], "dtype", ins[k].dtype, &e), &e);
        if (is_const) {
            Tensor t = tensor_share(&ins[k]);
            CHECK_OK(node_set_attr_tensor(g->nodes[c], "value", &t, &e), &e);
            tensor_release(&t);
        } else {
            CHECK_OK(node_set_attr_shape(g->nodes[c], "shape", &ins[k].shape, &e), &e);
        }
        CHECK_OK(node_add_input(g, o, (ValueRef){c, 0}, &e), &e);
    }
    *node = o;
    return g;
}

static inline void td_infer(Graph *g) {
    Err e;
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
}

/* Compiles and runs node with `compile` and with the reference kernel on ins; asserts the
   family handled it (1) and every output agrees within tf_rel_err <= tol. impl (may be NULL)
   receives the implementation name. */
static inline void td_check(FastCompileFn compile, const Graph *g, int node, const Tensor *ins, double tol, char *impl,
                            size_t impl_cap) {
    Err e;
    const Node *n = g->nodes[node];
    Tensor want[8] = {{0}}, got[8] = {{0}};
    assert_true(n->n_outputs <= 8);
    CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
    int rc = tf_fast_node(compile, g, node, ins, got, impl, impl_cap, &e);
    if (rc != 1) {
        print_error("node %s: fast family returned %d (%s)\n", n->op_name, rc, rc < 0 ? e.msg : "declined");
        fail();
    }
    for (int k = 0; k < n->n_outputs; k++) {
        char sa[96], sb[96];
        if (!shape_equal(&got[k].shape, &want[k].shape) || got[k].dtype != want[k].dtype) {
            print_error("output %d: %s %s vs reference %s %s\n", k, dtype_name(got[k].dtype),
                        shape_str(&got[k].shape, sa, sizeof sa), dtype_name(want[k].dtype),
                        shape_str(&want[k].shape, sb, sizeof sb));
            fail();
        }
        double r = tf_rel_err(&got[k], &want[k]);
        if (!(r <= tol)) {
            print_error("%s output %d %s: rel err %g > %g\n", n->op_name, k, shape_str(&want[k].shape, sa, sizeof sa), r, tol);
            fail();
        }
        tensor_release(&got[k]);
        tensor_release(&want[k]);
    }
}

/* asserts the family declines node (returns 0, no error) */
static inline void td_declines(FastCompileFn compile, const Graph *g, int node, const Tensor *ins) {
    Err e;
    Tensor got[8] = {{0}};
    int rc = tf_fast_node(compile, g, node, ins, got, NULL, 0, &e);
    if (rc != 0) {
        print_error("node %s: expected a decline, got %d (%s)\n", g->nodes[node]->op_name, rc, rc < 0 ? e.msg : "ran");
        for (int k = 0; k < 8; k++) tensor_release(&got[k]);
        fail();
    }
}

/* float tensor with uniform values in [lo, hi) from a fixed seed */
static inline Tensor td_rand(uint64_t seed, int rank, const int64_t *dims, double lo, double hi) {
    Shape s = shape_make(rank, dims);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    float *p = tensor_mut(&t);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < shape_numel(&s); i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17; /* xorshift64 */
        p[i] = (float)(lo + (double)(x >> 11) / (double)(1ull << 53) * (hi - lo));
    }
    return t;
}

/* the same values rounded to bfloat16 */
static inline Tensor td_to_bf16(const Tensor *f) {
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_BFLOAT16, &f->shape, &e), &e);
    uint16_t *p = tensor_mut(&t);
    for (int64_t i = 0; i < tensor_numel(f); i++) p[i] = float_to_bfloat16(((const float *)tensor_data(f))[i]);
    return t;
}

/* 1-D float tensor of count values */
static inline Tensor td_vals(int64_t count, const double *v) {
    Shape s = shape_make(1, &count);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    float *p = tensor_mut(&t);
    for (int64_t i = 0; i < count; i++) p[i] = (float)v[i];
    return t;
}

static inline Tensor td_i32(int rank, const int64_t *dims, const int32_t *v) { return tt_i32(rank, dims, v); }
static inline Tensor td_scalar_i32(int32_t v) {
    Tensor t;
    Err e;
    Shape s = shape_scalar();
    CHECK_OK(tensor_from_data(&t, DT_INT32, &s, &v, 4, &e), &e);
    return t;
}

/* max over elements of |a - b| / (|b| + floor): a per-element relative error */
static inline double td_elem_rel_err(const Tensor *a, const Tensor *b, double floor) {
    double e = 0;
    for (int64_t i = 0; i < tensor_numel(b); i++) {
        double x = tensor_get(a, i), y = tensor_get(b, i);
        double r = fabs(x - y) / (fabs(y) + floor);
        if (!(r <= e)) e = isnan(r) ? INFINITY : r;
    }
    return e;
}

/* true when oneDNN runs native bfloat16 kernels on this CPU (avx512_core_bf16 or better) */
static inline bool td_has_bf16(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), bf16 = (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    return (isa & bf16) == bf16;
}

static inline void td_release(Tensor *t, int n) {
    for (int i = 0; i < n; i++) tensor_release(&t[i]);
}

static inline double td_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
