/* test_act_math.c - one definition of each activation's scalar math (graph/act_math.h) with
 * TensorFlow's semantics, and its three users agreeing on the edges where they used to differ:
 * the stand-alone op's reference kernel (Relu, Relu6, Sigmoid, Elu, LeakyRelu), the
 * GrappoFusedElementwise program step and the fused epilogue's ref_act. Expected values are
 * TensorFlow 2.20's for x = [NaN, -0, -inf, inf, -1000, 1000, 7, -2]: Relu(NaN) = NaN,
 * Relu(-0) = +0, Sigmoid(+-1000) = 1 / 0 without overflow. */
#include "test_ops_util.h"

#include <math.h>

#include "graph/act_math.h"
#include "runtime/ref_nn.h"

static const float X[8] = {NAN, -0.0f, -INFINITY, INFINITY, -1000, 1000, 7, -2};

typedef struct Case {
    const char *op;   /* stand-alone TF op */
    const char *step; /* GrappoFusedElementwise step, or NULL */
    NnAct act;
    float want[8];
} Case;

static const Case CASES[] = {
    {"Relu", "Relu", NN_ACT_RELU, {NAN, 0.0f, 0, INFINITY, 0, 1000, 7, 0}},
    {"Relu6", "Relu6", NN_ACT_RELU6, {NAN, 0.0f, 0, 6, 0, 6, 6, 0}},
    /* Sigmoid(-2): the correctly rounded 0.11920292; TensorFlow's Eigen kernel gives 0.11920294,
       one float32 ulp above */
    {"Sigmoid", "Sigmoid", NN_ACT_SIGMOID, {NAN, 0.5f, 0, 1, 0, 1, 0.9990889488055994f, 0.11920292202211755f}},
    {"Elu", NULL, NN_ACT_ELU, {NAN, -0.0f, -1, INFINITY, -1, 1000, 7, -0.8646647334098816f}},
    {"LeakyRelu", NULL, NN_ACT_LEAKY_RELU, {NAN, -0.0f, -INFINITY, INFINITY, -200, 1000, 7, -0.4000000059604645f}},
};

/* runs one node (op, optional program) on X with the reference runtime, or the fast one */
static void run_one_on(const char *op, const char *step, Tensor *out, bool fast) {
    Err e;
    Graph *g = graph_new();
    int x = tr_node(g, "x", "Placeholder");
    Shape s = shape_make(1, (int64_t[]){8});
    CHECK_OK(node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[x], "shape", &s, &e), &e);
    int n = tr_node(g, "y", op);
    tr_input(g, n, x, 0);
    if (step) CHECK_OK(node_set_attr_list_s(g->nodes[n], "program", &step, 1, &e), &e);
    if (!strcmp(op, "LeakyRelu")) CHECK_OK(node_set_attr_f(g->nodes[n], "alpha", 0.2f, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){n, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    RefFeed f = {"x", to_f32(1, (int64_t[]){8}, X)};
    if (fast) {
        PlanOpts po = {.threads = 1};
        Plan *p = plan_compile(g, NULL, 0, &po, &e);
        if (!p) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(plan_run(p, &f, 1, out, NULL, &e), &e);
        plan_free(p);
    } else {
        CHECK_OK(ref_run(g, &f, 1, NULL, 0, out, NULL, &e), &e);
    }
    tensor_release(&f.value);
    graph_free(g);
}

static void run_one(const char *op, const char *step, Tensor *out) { run_one_on(op, step, out, false); }

static void test_three_users_agree_with_tensorflow(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        const Case *k = &CASES[c];
        Tensor want = to_f32(1, (int64_t[]){8}, k->want), got;
        run_one(k->op, NULL, &got);
        to_expect_tensor(k->op, 0, &got, &want);
        tensor_release(&got);
        if (k->step) {
            run_one("GrappoFusedElementwise", k->step, &got);
            to_expect_tensor("GrappoFusedElementwise", 0, &got, &want);
            tensor_release(&got);
            /* the fast runtime's native kernel for the program, bit for bit */
            run_one_on("GrappoFusedElementwise", k->step, &got, true);
            to_expect_tensor("GrappoFusedElementwise (fast)", 0, &got, &want);
            tensor_release(&got);
        }
        Tensor epi;
        Err e;
        Shape s = shape_make(1, (int64_t[]){8});
        CHECK_OK(tensor_alloc(&epi, DT_FLOAT, &s, &e), &e);
        for (int i = 0; i < 8; i++) ((float *)tensor_mut(&epi))[i] = (float)ref_act(k->act, X[i], 0.2);
        to_expect_tensor("ref_act", 0, &epi, &want);
        tensor_release(&epi);
        tensor_release(&want);
    }
}

static void test_act_math_edges(void **state) {
    (void)state;
    assert_true(isnan(act_relu(NAN)) && isnan(act_relu6(NAN)) && isnan(act_sigmoid(NAN)));
    assert_false(signbit(act_relu(-0.0)));
    assert_true(act_sigmoid(-1000) == 0 && act_sigmoid(1000) == 1);
    assert_true(act_sigmoid(-745) > 0); /* exp(-745) is the smallest subnormal: no underflow to 0 on the way */
    assert_true(signbit(act_elu(-0.0)) && signbit(act_selu(-0.0)));
    /* GELU keeps tiny negative results: 0.5 * (-10) * erfc(10 / sqrt 2) ~ -7.6e-23, not 0 */
    assert_true(act_gelu_exact(-10) < 0 && act_gelu_exact(-10) > -1e-21);
    assert_true(fabs(act_gelu_exact(1) - 0.8413447460685429) < 1e-15);
    assert_true(fabs(act_gelu_tanh(1) - 0.8411919906082768) < 1e-15);
    assert_true(act_hard_swish(-4) == 0 && act_hard_swish(4) == 4 && act_hard_swish(1) == 1.0 * 4 / 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_users_agree_with_tensorflow),
        cmocka_unit_test(test_act_math_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
