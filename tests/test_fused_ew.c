/* test_fused_ew.c - GrappoFusedElementwise (infer_fused_ew.c, ref_fused_ew.c, native_fused_ew.c)
 * and the rule fuse_elementwise_chain (rules_fuse_ew.c):
 *   - the reference kernel on hand-computed programs (every step kind, [C] and scalar operands,
 *     RSub/RDiv operand order, broadcasting along a middle axis);
 *   - the fused node bit-identical to the unfused chain on the reference runtime;
 *   - the fast kernel against the reference on [1,56,56,64] and odd shapes;
 *   - inference errors (bad step, bad index, operand not broadcastable or widening the shape);
 *   - the rule on hand-built chains (matches and near misses) with tr_check_each_site on both
 *     runtimes, then bert-tiny (seq 16), resnet8, mobilenet_v2 and 5 random DAGs to exhaustion;
 *   - a timing of one fused chain against the unfused ops (printed, not asserted). */
#include <time.h>

#include "testfast.h"
#include "testrules.h"

#include "graph/fused_ew.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"


#define TOL 1e-5

/* deterministic values in [lo, hi) */
static Tensor rand_f32(Shape s, uint64_t seed, double lo, double hi) {
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    float *p = tensor_mut(&t);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < tensor_numel(&t); i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)(lo + (hi - lo) * (double)(x >> 11) / 9007199254740992.0);
    }
    return t;
}

/* One-node GrappoFusedElementwise graph on placeholders shaped like ins[], program prog[];
   returns the graph (inference result in *rc, error text in *e) and the node in *node. */
static Graph *fused_graph(const Tensor *ins, int n_in, const char *const *prog, int n_prog, int *node, int *rc, Err *e) {
    Graph *g = graph_new();
    assert_non_null(g);
    int o = graph_add_node(g, "few", "GrappoFusedElementwise", e);
    assert_true(o >= 0);
    for (int k = 0; k < n_in; k++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", k);
        int p = graph_add_node(g, name, "Placeholder", e);
        assert_true(p >= 0);
        CHECK_OK(node_set_attr_type(g->nodes[p], "dtype", ins[k].dtype, e), e);
        CHECK_OK(node_set_attr_shape(g->nodes[p], "shape", &ins[k].shape, e), e);
        CHECK_OK(node_add_input(g, o, (ValueRef){p, 0}, e), e);
    }
    if (n_prog > 0) CHECK_OK(node_set_attr_list_s(g->nodes[o], "program", prog, n_prog, e), e);
    CHECK_OK(graph_add_output(g, (ValueRef){o, 0}, e), e);
    *rc = graph_infer(g, NULL, 0, NULL, NULL, e);
    *node = o;
    return g;
}

/* the reference kernel of the program on ins -> out */
static void run_ref(const Tensor *ins, int n_in, const char *const *prog, int n_prog, Tensor *out) {
    Err e = {0};
    int node, rc;
    Graph *g = fused_graph(ins, n_in, prog, n_prog, &node, &rc, &e);
    CHECK_OK(rc, &e);
    CHECK_OK(tensor_alloc(out, DT_FLOAT, &g->nodes[node]->outputs[0].shape, &e), &e);
    CHECK_OK(ref_kernel_call(g->nodes[node], ins, out, &e), &e);
    graph_free(g);
}

static void expect_ref(const Tensor *ins, int n_in, const char *const *prog, int n_prog, const float *want) {
    Tensor out = {0};
    run_ref(ins, n_in, prog, n_prog, &out);
    for (int64_t i = 0; i < tensor_numel(&out); i++) {
        float got = ((const float *)tensor_data(&out))[i];
        if (!(got == want[i]) && !(isnan(got) && isnan(want[i]))) {
            print_error("program[0] %s, element %lld: %.9g != %.9g\n", prog[0], (long long)i, got, want[i]);
            fail();
        }
    }
    tensor_release(&out);
}

/* ---- reference kernel ---- */

static void ref_operand_order(void **state) {
    (void)state;
    /* x [2,3], c [3] (per channel), s scalar */
    Tensor in[3] = {tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 4, -1, -2, 8}), tt_f32(1, (int64_t[]){3}, (float[]){10, 20, 30}),
                    tt_f32(0, NULL, (float[]){2})};
    expect_ref(in, 3, (const char *[]){"RSub:1"}, 1, (float[]){9, 18, 26, 11, 22, 22});
    expect_ref(in, 3, (const char *[]){"Sub:1"}, 1, (float[]){-9, -18, -26, -11, -22, -22});
    expect_ref(in, 3, (const char *[]){"RDiv:1"}, 1, (float[]){10, 10, 7.5f, -10, -10, 3.75f});
    expect_ref(in, 3, (const char *[]){"Div:2"}, 1, (float[]){0.5f, 1, 2, -0.5f, -1, 4});
    expect_ref(in, 3, (const char *[]){"RDiv:2", "Add:1"}, 2, (float[]){12, 21, 30.5f, 8, 19, 30.25f});
    /* ((x + c) * s - 25) via RSub of a scalar, then Max / Min with c */
    expect_ref(in, 3, (const char *[]){"Add:1", "Mul:2", "Max:1", "Min:2", "RSub:1"}, 5, (float[]){8, 18, 28, 8, 18, 28});
    expect_ref(in, 3, (const char *[]){"Mul:2", "Max:2", "Min:1"}, 3, (float[]){2, 4, 8, 2, 2, 16});
    for (int k = 0; k < 3; k++) tensor_release(&in[k]);
}

static void ref_unary_steps(void **state) {
    (void)state;
    const float xv[4] = {-2.5f, -0.25f, 0.5f, 7.0f};
    Tensor x = tt_f32(1, (int64_t[]){4}, xv);
    /* each unary step alone, against the libm formula rounded to float */
    const char *names[12] = {"Relu", "Relu6", "Sigmoid", "Tanh", "Neg", "Abs", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Erf"};
    for (int k = 0; k < 12; k++) {
        float want[4];
        for (int i = 0; i < 4; i++) {
            double a = xv[i];
            double r = k == 0 ? (a < 0 ? 0 : a)
                     : k == 1 ? (a < 0 ? 0 : a > 6 ? 6 : a)
                     : k == 2 ? 1.0 / (1.0 + exp(-a))
                     : k == 3 ? tanh(a)
                     : k == 4 ? -a
                     : k == 5 ? fabs(a)
                     : k == 6 ? a * a
                     : k == 7 ? sqrt(a)
                     : k == 8 ? 1.0 / sqrt(a)
                     : k == 9 ? exp(a)
                     : k == 10 ? log(a)
                               : erf(a);
            want[i] = (float)r;
        }
        Tensor out = {0};
        run_ref(&x, 1, &names[k], 1, &out);
        for (int i = 0; i < 4; i++) {
            float got = ((const float *)tensor_data(&out))[i];
            /* sigmoid's closed form may differ from the overflow-safe one by an ulp */
            double tol = k == 2 ? 1e-7 : 0;
            if (!(fabs(got - want[i]) <= tol) && !(isnan(got) && isnan(want[i]))) {
                print_error("%s(%g): %.9g != %.9g\n", names[k], xv[i], got, want[i]);
                fail();
            }
        }
        tensor_release(&out);
    }
    /* literal values: Relu6 clamps, Square, Abs then Sqrt, Neg then Exp of 0 */
    expect_ref(&x, 1, (const char *[]){"Square", "Relu6"}, 2, (float[]){6, 0.0625f, 0.25f, 6});
    expect_ref(&x, 1, (const char *[]){"Abs", "Square", "Sqrt"}, 3, (float[]){2.5f, 0.25f, 0.5f, 7});
    tensor_release(&x);
}

/* rounding after every step: (x * 3) / 3 is not x for every float; the reference must round the
   product first, as the unfused Mul then RealDiv do. Also broadcast along a middle axis. */
static void ref_rounds_every_step(void **state) {
    (void)state;
    Tensor in[2] = {rand_f32(shape_make(3, (int64_t[]){4, 5, 6}), 1, -3, 3), tt_f32(3, (int64_t[]){1, 5, 1}, (float[]){3, 7, 0.1f, 1e8f, 1.0f / 3})};
    Tensor out = {0};
    run_ref(in, 2, (const char *[]){"Mul:1", "Div:1", "Add:1", "Sub:1"}, 4, &out);
    const float *x = tensor_data(&in[0]), *c = tensor_data(&in[1]), *y = tensor_data(&out);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++)
            for (int k = 0; k < 6; k++) {
                int64_t o = (i * 5 + j) * 6 + k;
                float v = x[o] * c[j];
                v = v / c[j];
                v = v + c[j];
                v = v - c[j];
                assert_true(y[o] == v);
            }
    tensor_release(&out);
    for (int k = 0; k < 2; k++) tensor_release(&in[k]);
}

/* ---- inference ---- */

static void expect_infer_error(const Tensor *ins, int n_in, const char *const *prog, int n_prog, const char *needle) {
    Err e = {0};
    int node, rc;
    Graph *g = fused_graph(ins, n_in, prog, n_prog, &node, &rc, &e);
    if (rc == 0 || !strstr(e.msg, needle)) {
        print_error("expected an error containing '%s', got rc %d '%s'\n", needle, rc, e.msg);
        fail();
    }
    graph_free(g);
}

static void infer_errors(void **state) {
    (void)state;
    Tensor in[2] = {tt_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6}), tt_f32(1, (int64_t[]){3}, (float[]){1, 2, 3})};
    expect_infer_error(in, 2, (const char *[]){"Relu", "Frobnicate"}, 2, "not a known step");
    expect_infer_error(in, 2, (const char *[]){"Add"}, 1, "needs an operand");
    expect_infer_error(in, 2, (const char *[]){"Add:2"}, 1, "operand index");
    expect_infer_error(in, 2, (const char *[]){"Add:0"}, 1, "operand index");
    expect_infer_error(in, 2, (const char *[]){"Add:1x"}, 1, "bad operand index");
    expect_infer_error(in, 2, (const char *[]){"Relu:1"}, 1, "takes no operand");
    expect_infer_error(in, 2, NULL, 0, "program");
    Tensor bad[2] = {tensor_share(&in[0]), tt_f32(1, (int64_t[]){4}, (float[]){1, 2, 3, 4})};
    expect_infer_error(bad, 2, (const char *[]){"Add:1"}, 1, "does not broadcast");
    tensor_release(&bad[1]);
    bad[1] = tt_f32(3, (int64_t[]){2, 1, 3}, (float[]){1, 2, 3, 4, 5, 6}); /* would widen x0's shape */
    expect_infer_error(bad, 2, (const char *[]){"Add:1"}, 1, "does not broadcast");
    tensor_release(&bad[1]);
    bad[1] = tt_i32(1, (int64_t[]){3}, (int32_t[]){1, 2, 3});
    expect_infer_error(bad, 2, (const char *[]){"Add:1"}, 1, "float32");
    tensor_release(&bad[1]);
    tensor_release(&bad[0]);
    /* a valid one infers x0's shape */
    Err e = {0};
    int node, rc;
    Graph *g = fused_graph(in, 2, (const char *[]){"Mul:1", "Relu"}, 2, &node, &rc, &e);
    CHECK_OK(rc, &e);
    assert_true(shape_equal(&g->nodes[node]->outputs[0].shape, &in[0].shape));
    assert_int_equal(node_flops(g, g->nodes[node]), 12);
    graph_free(g);
    for (int k = 0; k < 2; k++) tensor_release(&in[k]);
}

/* ---- fast kernel ---- */

static double fast_vs_ref(const Tensor *ins, int n_in, const char *const *prog, int n_prog) {
    Err e = {0};
    int node, rc;
    Graph *g = fused_graph(ins, n_in, prog, n_prog, &node, &rc, &e);
    CHECK_OK(rc, &e);
    Tensor want = {0}, got[1] = {{0}};
    CHECK_OK(tensor_alloc(&want, DT_FLOAT, &g->nodes[node]->outputs[0].shape, &e), &e);
    CHECK_OK(ref_kernel_call(g->nodes[node], ins, &want, &e), &e);
    char impl[64];
    int r = tf_fast_node(fast_compile_fused_elementwise, g, node, ins, got, impl, sizeof impl, &e);
    if (r != 1) { print_error("fast kernel: rc %d %s\n", r, e.msg); fail(); }
    assert_string_equal(impl, "native:fused_elementwise");
    double err = tf_rel_err(&got[0], &want);
    tensor_release(&got[0]);
    tensor_release(&want);
    graph_free(g);
    return err;
}

static const char *const arith[] = {"Mul:1", "Add:2", "Relu6", "RSub:3", "Max:2", "Square", "RDiv:1", "Min:3", "Neg", "Abs", "Sub:1", "Div:3"};
static const char *const transc[] = {"Mul:1", "Sigmoid", "Add:2", "Tanh", "Exp", "Log", "Erf", "Mul:3", "Abs", "Sqrt", "Rsqrt", "Relu"};

static void fast_matches_ref(void **state) {
    (void)state;
    struct { int rank; int64_t x[4]; int rb; int64_t b[4]; int rc; int64_t c[4]; } cases[] = {
        {4, {1, 56, 56, 64}, 1, {64}, 0, {0}},
        {3, {3, 7, 5}, 2, {7, 1}, 1, {5}},
        {1, {1}, 0, {0}, 1, {1}},
        {4, {2, 1, 9, 13}, 4, {2, 1, 9, 1}, 3, {1, 1, 13}},
        {2, {1000, 3}, 2, {1000, 1}, 2, {1, 3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Shape sx = shape_make(cases[c].rank, cases[c].x);
        Tensor in[4] = {rand_f32(sx, 10 + c, -3, 3), rand_f32(shape_make(cases[c].rb, cases[c].b), 20 + c, 0.5, 2),
                        rand_f32(shape_make(cases[c].rc, cases[c].c), 30 + c, -1, 1), rand_f32(sx, 40 + c, 1, 2)};
        double ea = fast_vs_ref(in, 4, arith, 12), et = fast_vs_ref(in, 4, transc, 12);
        if (!(ea <= 1e-6) || !(et <= 1e-5)) {
            print_error("case %zu: arithmetic %.3g, transcendental %.3g\n", c, ea, et);
            fail();
        }
        for (int k = 0; k < 4; k++) tensor_release(&in[k]);
    }
}

/* ---- the rule ---- */

static const RuleDef *rule(void) {
    const RuleDef *r = rule_by_name("fuse_elementwise_chain");
    assert_non_null(r);
    return r;
}

static int n_sites(const Graph *g) { return tr_site_count(rule(), g); }

static Graph *finish(Builder *b) { return tr_finish(b); }

static ValueRef input(Builder *b, const char *name, int rank, const int64_t *dims) {
    return bld_placeholder(b, name, DT_FLOAT, shape_make(rank, dims), NULL);
}

static ValueRef cvec(Builder *b, const char *name, int n, double mean) {
    Tensor t = bld_normal(b, shape_make(1, (int64_t[]){n}), mean, 0.3);
    return bld_const(b, name, &t);
}

/* applies the rule to exhaustion on a clone, checks it against the original on both runtimes,
   returns the clone */
static Graph *fuse_all(const Graph *g, double tol) {
    Err e = {0};
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    tr_apply_all(rule(), c, 1000);
    assert_int_equal(n_sites(c), 0);
    for (int fast = 0; fast < 2; fast++) {
        double err = tr_compare(g, c, fast, 3);
        if (!(err <= tol)) { print_error("%s runtime: rel err %.3g\n", fast ? "fast" : "ref", err); fail(); }
    }
    return c;
}

/* x [2,4,4,8] -> Mul(c[8]) -> AddV2(scalar) -> Relu -> RealDiv(s, .) -> Sub(c2, .) -> out */
static void rule_fuses_chain(void **state) {
    (void)state;
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    ValueRef x = input(&b, "x", 4, (int64_t[]){2, 4, 4, 8});
    ValueRef v = bld_binary(&b, "mul", "Mul", x, cvec(&b, "scale", 8, 1));
    v = bld_binary(&b, "add", "AddV2", bld_scalar_f32(&b, "half", 0.5f), v);
    v = bld_unary(&b, "relu", "Relu", v);
    v = bld_binary(&b, "rdiv", "RealDiv", bld_scalar_f32(&b, "one", 1), bld_binary(&b, "plus1", "Add", v, bld_scalar_f32(&b, "one_b", 1)));
    v = bld_binary(&b, "last", "Sub", cvec(&b, "shift", 8, 0), v);
    bld_add_output(&b, v);
    Graph *g = finish(&b);
    assert_int_equal(n_sites(g), 1);
    tr_check_each_site(rule(), g, TOL);
    Graph *c = fuse_all(g, 0); /* exact: bit-identical on the reference runtime */
    assert_int_equal(tr_count_op(c, "GrappoFusedElementwise"), 1);
    int f = graph_find(c, "last");
    assert_true(f >= 0);
    assert_string_equal(c->nodes[f]->op_name, "GrappoFusedElementwise");
    const AttrList *p = node_attr_list(c->nodes[f], "program");
    assert_non_null(p);
    const char *want[6] = {"Mul:1", "Add:2", "Relu", "Add:3", "RDiv:4", "RSub:5"};
    assert_int_equal(p->n, 6);
    for (int k = 0; k < 6; k++) assert_string_equal(p->s[k].data, want[k]);
    assert_int_equal(c->nodes[f]->n_inputs, 6);
    assert_int_equal(tr_count_op(c, "Mul") + tr_count_op(c, "AddV2") + tr_count_op(c, "Relu") + tr_count_op(c, "Sub") +
                         tr_count_op(c, "RealDiv") + tr_count_op(c, "Add"),
                     0);
    graph_free(c);
    graph_free(g);
}

/* every unary step kind in one chain, fused: bit-identical to the unfused ops on the reference */
static void rule_unary_chain_bit_identical(void **state) {
    (void)state;
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 4, false, &e), &e);
    ValueRef v = input(&b, "x", 2, (int64_t[]){5, 16});
    const char *ops[] = {"Sigmoid", "Tanh", "Neg", "Exp", "Square", "Sqrt", "Log", "Abs", "Rsqrt", "Erf", "Relu6"};
    for (int k = 0; k < 11; k++) {
        char name[32];
        snprintf(name, sizeof name, "u%d", k);
        v = bld_unary(&b, name, ops[k], v);
    }
    v = bld_binary(&b, "max", "Maximum", v, cvec(&b, "m1", 16, 0));
    bld_add_output(&b, bld_binary(&b, "min", "Minimum", cvec(&b, "m2", 16, 0.5), v));
    Graph *g = finish(&b);
    assert_int_equal(n_sites(g), 1);
    tr_check_each_site(rule(), g, TOL);
    Graph *c = fuse_all(g, 0);
    /* 13 ops, a site holds at most SITE_MAX_NODES = 12: the first 12 fuse; the Minimum after
       the fused node is a chain of one (a fused node is not absorbed) and stays */
    assert_int_equal(tr_count_op(c, "GrappoFusedElementwise"), 1);
    assert_int_equal(tr_count_op(c, "Minimum"), 1);
    assert_int_equal(c->n_nodes, 1 + 2 + 2);
    graph_free(c);
    graph_free(g);
}

/* near misses: nothing (or only the part that is a valid chain) fuses */
static void rule_near_misses(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    /* 1: the Relu has a second reader: Relu -> Mul is not a chain, Mul alone is too short */
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    ValueRef x = input(&b, "x", 2, (int64_t[]){3, 4});
    ValueRef r = bld_unary(&b, "relu", "Relu", x);
    bld_add_output(&b, bld_binary(&b, "mul", "Mul", r, cvec(&b, "c", 4, 1)));
    bld_add_output(&b, bld_unary(&b, "neg", "Neg", r));
    Graph *g = finish(&b);
    assert_int_equal(n_sites(g), 0);
    graph_free(g);
    /* 2: the intermediate is a graph output */
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    x = input(&b, "x", 2, (int64_t[]){3, 4});
    r = bld_unary(&b, "relu", "Relu", x);
    bld_add_output(&b, r);
    bld_add_output(&b, bld_unary(&b, "neg", "Neg", r));
    g = finish(&b);
    assert_int_equal(n_sites(g), 0);
    graph_free(g);
    /* 3: a shape-changing broadcast in the middle: Relu([4,1]) -> Add([1,3]) -> Neg -> Exp:
       only Neg -> Exp fuses; Relu and the widening Add stay */
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    x = input(&b, "x", 2, (int64_t[]){4, 1});
    Tensor row = bld_normal(&b, shape_make(2, (int64_t[]){1, 3}), 0, 1);
    ValueRef v = bld_unary(&b, "relu", "Relu", x);
    v = bld_binary(&b, "widen", "AddV2", v, bld_const(&b, "row", &row));
    v = bld_unary(&b, "neg", "Neg", v);
    bld_add_output(&b, bld_unary(&b, "exp", "Exp", v));
    g = finish(&b);
    assert_int_equal(n_sites(g), 1);
    tr_check_each_site(rule(), g, TOL);
    Graph *c = fuse_all(g, 0);
    assert_int_equal(tr_count_op(c, "GrappoFusedElementwise"), 1);
    assert_int_equal(tr_count_op(c, "Relu"), 1);
    assert_int_equal(tr_count_op(c, "AddV2"), 1);
    graph_free(c);
    graph_free(g);
    /* 4: int32 ops are not fused; the float tail after the Cast is */
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    ValueRef xi = bld_placeholder(&b, "xi", DT_INT32, shape_make(1, (int64_t[]){6}), NULL);
    v = bld_binary(&b, "iadd", "AddV2", xi, bld_scalar_i32(&b, "three", 3));
    v = bld_unary(&b, "ineg", "Neg", v);
    v = bld_unary(&b, "iabs", "Abs", v);
    v = bld_cast(&b, "cast", v, DT_FLOAT);
    bld_add_output(&b, v);
    g = finish(&b);
    assert_int_equal(n_sites(g), 0);
    graph_free(g);
    /* 5: a control edge on an intermediate blocks; one on the last op is kept */
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    x = input(&b, "x", 1, (int64_t[]){8});
    r = bld_unary(&b, "relu", "Relu", x);
    v = bld_unary(&b, "neg", "Neg", r);
    ValueRef last = bld_unary(&b, "sq", "Square", v);
    bld_add_output(&b, last);
    bld_add_output(&b, bld_identity(&b, "wait", x)); /* a live node to carry the control edge */
    g = finish(&b);
    int wait = graph_find(g, "wait");
    assert_true(wait >= 0);
    CHECK_OK(node_add_ctrl(g, wait, r.node, &e), &e);
    assert_int_equal(n_sites(g), 1); /* Neg -> Square only */
    tr_check_each_site(rule(), g, TOL);
    g->nodes[wait]->ctrl[0] = last.node;
    assert_int_equal(n_sites(g), 1); /* Relu -> Neg -> Square */
    c = fuse_all(g, 0);
    int w = graph_find(c, "wait"), sq = graph_find(c, "sq");
    assert_true(w >= 0 && sq >= 0);
    assert_int_equal(c->nodes[w]->n_ctrl, 1);
    assert_int_equal(c->nodes[w]->ctrl[0], sq);
    assert_int_equal(tr_count_op(c, "Relu"), 0);
    graph_free(c);
    graph_free(g);
    /* 6: Add(Relu(a), Relu(b)): two alternative chains through the Add; operand order kept */
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    ValueRef a = input(&b, "a", 2, (int64_t[]){3, 4}), bb = input(&b, "b", 2, (int64_t[]){3, 4});
    v = bld_binary(&b, "sub", "Sub", bld_unary(&b, "ra", "Relu", a), bld_unary(&b, "rb", "Tanh", bb));
    bld_add_output(&b, bld_unary(&b, "out", "Sigmoid", v));
    g = finish(&b);
    assert_int_equal(n_sites(g), 2);
    tr_check_each_site(rule(), g, TOL);
    c = fuse_all(g, 0);
    assert_int_equal(tr_count_op(c, "GrappoFusedElementwise"), 1);
    graph_free(c);
    graph_free(g);
}

/* ---- zoo models ---- */

static Graph *zoo(const char *name, int image, int seq, uint64_t seed) {
    return tr_zoo(name, image, seq, seed, false);
}

static void zoo_models(void **state) {
    (void)state;
    struct { const char *name; int image, seq; uint64_t seed; } m[] = {
        {"bert-tiny", 0, 16, 1}, {"resnet8", 32, 0, 1}, {"mobilenet_v2", 64, 0, 1}, {"random", 0, 0, 1},
        {"random", 0, 0, 2},    {"random", 0, 0, 3},   {"random", 0, 0, 4},        {"random", 0, 0, 5},
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        Graph *g = zoo(m[k].name, m[k].image, m[k].seq, m[k].seed);
        int sites = n_sites(g);
        Graph *c = fuse_all(g, 1e-4);
        print_message("fuse_elementwise_chain on %s (seed %llu): %d sites, nodes %d -> %d, %d GrappoFusedElementwise\n",
                      m[k].name, (unsigned long long)m[k].seed, sites, g->n_nodes, c->n_nodes,
                      tr_count_op(c, "GrappoFusedElementwise"));
        graph_free(c);
        graph_free(g);
    }
}

/* ---- timing: one fused chain vs the unfused ops on the fast runtime ---- */

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void timing_fused_vs_unfused(void **state) {
    (void)state;
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 6, false, &e), &e);
    ValueRef v = input(&b, "x", 4, (int64_t[]){1, 56, 56, 64});
    v = bld_binary(&b, "scale", "Mul", v, cvec(&b, "gamma", 64, 1));
    v = bld_binary(&b, "shift", "AddV2", v, cvec(&b, "beta", 64, 0));
    v = bld_unary(&b, "relu6", "Relu6", v);
    v = bld_binary(&b, "mul2", "Mul", v, bld_scalar_f32(&b, "k", 0.25f));
    bld_add_output(&b, bld_binary(&b, "sub", "Sub", v, bld_scalar_f32(&b, "z", 0.5f)));
    Graph *g = finish(&b);
    Graph *c = fuse_all(g, 1e-6);
    int f = graph_find(c, "sub");
    assert_int_equal(c->nodes[f]->op, OP_GRAPPO_FUSED_ELEMENTWISE);
    /* unfused: the plan on 1 thread */
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    RefFeed feed = {.name = "x", .value = rand_f32(shape_make(4, (int64_t[]){1, 56, 56, 64}), 9, -2, 2)};
    Tensor out = {0};
    const int reps = 50;
    double best_unfused = 1e30, best_fused = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        CHECK_OK(plan_run(p, &feed, 1, &out, NULL, &e), &e);
        double t = now_ms() - t0;
        if (t < best_unfused) best_unfused = t;
        tensor_release(&out);
    }
    plan_free(p);
    /* fused: the native kernel alone (compile once, run reps times) */
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_fused_elementwise(&ctx, c, c->nodes[f], &k, &e), 1);
    Tensor ins[5] = {{0}};
    ins[0] = tensor_share(&feed.value);
    for (int i = 1; i < c->nodes[f]->n_inputs; i++) ins[i] = tensor_share(&node_input_value(c, c->nodes[f], i)->known);
    Tensor y;
    CHECK_OK(tensor_alloc(&y, DT_FLOAT, &c->nodes[f]->outputs[0].shape, &e), &e);
    void *scratch = aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63);
    assert_non_null(scratch);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        CHECK_OK(k.run(k.state, ins, &y, scratch, &e), &e);
        double t = now_ms() - t0;
        if (t < best_fused) best_fused = t;
    }
    print_message("chain Mul-AddV2-Relu6-Mul-Sub on [1,56,56,64], 1 thread, best of %d: unfused plan %.3f ms, "
                  "fused kernel %.3f ms (%.2fx)\n",
                  reps, best_unfused, best_fused, best_unfused / best_fused);
    free(scratch);
    tensor_release(&y);
    for (int i = 0; i < c->nodes[f]->n_inputs; i++) tensor_release(&ins[i]);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&feed.value);
    graph_free(c);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ref_operand_order),
        cmocka_unit_test(ref_unary_steps),
        cmocka_unit_test(ref_rounds_every_step),
        cmocka_unit_test(infer_errors),
        cmocka_unit_test(fast_matches_ref),
        cmocka_unit_test(rule_fuses_chain),
        cmocka_unit_test(rule_unary_chain_bit_identical),
        cmocka_unit_test(rule_near_misses),
        cmocka_unit_test(zoo_models),
        cmocka_unit_test(timing_fused_vs_unfused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
