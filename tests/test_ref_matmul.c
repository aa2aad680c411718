/* test_ref_matmul.c - MatMul, _FusedMatMul and BatchMatMul (V1/V2/V3): shape inference, FLOPs
 * and reference kernels against hand values and a direct-formula product written here. */
#include "test_ref_nn.h"

/* c[i][j] = sum_p A(i,p) * B(p,j), A stored [m,k] or [k,m] (ta), B stored [k,n] or [n,k] (tb) */
static void naive_mm(const float *a, const float *b, float *c, int64_t m, int64_t k, int64_t n, bool ta, bool tb) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) s += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            c[i * n + j] = (float)s;
        }
}

static Tensor run_matmul(const char *op, const Tensor *a, const Tensor *b, const char *ta_name, bool ta, const char *tb_name,
                         bool tb) {
    Tensor ins[2] = {tensor_share(a), tensor_share(b)};
    int node;
    Graph *g = nn_graph(op, ins, 2, &node);
    nn_bool(g, node, ta_name, ta);
    nn_bool(g, node, tb_name, tb);
    return nn_run1(g, node);
}

static void matmul_by_hand_all_transposes(void **state) {
    (void)state;
    /* [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58,64],[139,154]], given as stored or transposed */
    Tensor a = nn_from(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    Tensor a_t = nn_from(2, (int64_t[]){3, 2}, (double[]){1, 4, 2, 5, 3, 6});
    Tensor b = nn_from(2, (int64_t[]){3, 2}, (double[]){7, 8, 9, 10, 11, 12});
    Tensor b_t = nn_from(2, (int64_t[]){2, 3}, (double[]){7, 9, 11, 8, 10, 12});
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            Tensor c = run_matmul("MatMul", ta ? &a_t : &a, tb ? &b_t : &b, "transpose_a", ta, "transpose_b", tb);
            nn_assert_values(&c, 2, (int64_t[]){2, 2}, (double[]){58, 64, 139, 154}, 0);
            tensor_release(&c);
        }
    tensor_release(&a);
    tensor_release(&a_t);
    tensor_release(&b);
    tensor_release(&b_t);
}

static void matmul_random_all_transposes(void **state) {
    (void)state;
    /* k = 7 exercises the 4-row step and its remainder; n = 130 crosses a column block */
    const int64_t m = 5, k = 7;
    for (int64_t n = 6; n <= 130; n += 124)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                Tensor a = nn_rand(100 + ta, 2, ta ? (int64_t[]){k, m} : (int64_t[]){m, k});
                Tensor b = nn_rand(200 + tb, 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n});
                Tensor want = nn_zeros(2, (int64_t[]){m, n});
                naive_mm(nn_f(&a), nn_f(&b), nn_fm(&want), m, k, n, ta, tb);
                Tensor c = run_matmul("MatMul", &a, &b, "transpose_a", ta, "transpose_b", tb);
                nn_assert_close(&c, &want, 1e-6, 1e-6);
                tensor_release(&a);
                tensor_release(&b);
                tensor_release(&want);
                tensor_release(&c);
            }
}

/* ---- _FusedMatMul ---- */

static double act_ref(const char *act, double v, double alpha) {
    if (!act) return v;
    if (!strcmp(act, "Relu")) return v < 0 ? 0 : v;
    if (!strcmp(act, "Relu6")) return fmin(fmax(v, 0), 6);
    if (!strcmp(act, "Elu")) return v < 0 ? exp(v) - 1 : v;
    if (!strcmp(act, "LeakyRelu")) return v < 0 ? alpha * v : v;
    if (!strcmp(act, "Sigmoid")) return 1 / (1 + exp(-v));
    if (!strcmp(act, "Tanh")) return tanh(v);
    if (!strcmp(act, "GeluExact")) return v * 0.5 * erfc(-v / sqrt(2.0));
    if (!strcmp(act, "GeluApproximate")) return 0.5 * v * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (v + 0.044715 * pow(v, 3))));
    fail_msg("unknown activation %s", act);
    return 0;
}

static Graph *fused_mm_graph(Tensor a, Tensor b, Tensor *extra, int n_extra, const char *const *ops, int n_ops, int *node) {
    Tensor ins[8] = {a, b};
    for (int k = 0; k < n_extra; k++) ins[2 + k] = extra[k];
    Graph *g = nn_graph("_FusedMatMul", ins, 2 + n_extra, node);
    nn_strs(g, *node, "fused_ops", n_ops, ops);
    nn_int(g, *node, "num_args", n_extra);
    return g;
}

static void fused_matmul_every_activation(void **state) {
    (void)state;
    static const char *acts[] = {NULL, "Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Tanh", "GeluExact", "GeluApproximate"};
    const int64_t m = 4, k = 9, n = 5;
    const float leaky = 0.15f;
    for (size_t t = 0; t < sizeof acts / sizeof acts[0]; t++) {
        bool tb = t % 2; /* alternate transpose_b: BERT-style weights */
        Tensor a = nn_rand(300, 2, (int64_t[]){m, k});
        Tensor b = nn_rand(301, 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n});
        Tensor bias = nn_rand(302, 1, (int64_t[]){n});
        for (int64_t i = 0; i < tensor_numel(&a); i++) nn_fm(&a)[i] *= 3; /* reach Relu6's and Elu's ranges */
        Tensor want = nn_zeros(2, (int64_t[]){m, n});
        naive_mm(nn_f(&a), nn_f(&b), nn_fm(&want), m, k, n, false, tb);
        for (int64_t i = 0; i < m * n; i++)
            nn_fm(&want)[i] = (float)act_ref(acts[t], (double)nn_f(&want)[i] + nn_f(&bias)[i % n], leaky);
        const char *ops[2] = {"BiasAdd", acts[t]};
        int node;
        Graph *g = fused_mm_graph(tensor_share(&a), tensor_share(&b), &bias, 1, ops, acts[t] ? 2 : 1, &node);
        nn_bool(g, node, "transpose_b", tb);
        nn_float(g, node, "leakyrelu_alpha", leaky);
        Tensor c = nn_run1(g, node);
        nn_assert_close(&c, &want, 2e-6, 2e-6);
        tensor_release(&a);
        tensor_release(&b);
        tensor_release(&want);
        tensor_release(&c);
    }
}

static void fused_matmul_gelu_known_values(void **state) {
    (void)state;
    /* 1x1 products equal to 1 and -1: GELU(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.8413447460685429,
       tanh form 0.8411919906082768; GELU(-1) = GELU(1) - 1 for both (odd part is x/2) */
    static const char *names[2] = {"GeluExact", "GeluApproximate"};
    static const double at1[2] = {0.8413447460685429, 0.8411919906082768};
    for (int t = 0; t < 2; t++) {
        Tensor bias = nn_from(1, (int64_t[]){2}, (double[]){0, 0});
        int node;
        Graph *g = fused_mm_graph(nn_from(2, (int64_t[]){1, 1}, (double[]){1}), nn_from(2, (int64_t[]){1, 2}, (double[]){1, -1}),
                                  &bias, 1, (const char *[]){"BiasAdd", names[t]}, 2, &node);
        Tensor c = nn_run1(g, node);
        nn_assert_values(&c, 2, (int64_t[]){1, 2}, (double[]){at1[t], at1[t] - 1}, 1e-7);
        tensor_release(&c);
    }
}

static void fused_matmul_unsupported(void **state) {
    (void)state;
    int node;
    Tensor extra[4];
    for (int k = 0; k < 4; k++) extra[k] = nn_rand(400 + k, 1, (int64_t[]){3});
    Graph *g = fused_mm_graph(nn_rand(1, 2, (int64_t[]){2, 4}), nn_rand(2, 2, (int64_t[]){4, 3}), extra, 4,
                              (const char *[]){"FusedBatchNorm"}, 1, &node);
    nn_expect_infer_error(g, ERR_INPUT, "FusedBatchNorm");
    Tensor bias = nn_rand(5, 1, (int64_t[]){3});
    g = fused_mm_graph(nn_rand(1, 2, (int64_t[]){2, 4}), nn_rand(2, 2, (int64_t[]){4, 3}), &bias, 1,
                       (const char *[]){"BiasAdd", "Softplus"}, 2, &node);
    nn_expect_infer_error(g, ERR_INPUT, "Softplus");
    /* bias length must match the columns */
    bias = nn_rand(5, 1, (int64_t[]){4});
    g = fused_mm_graph(nn_rand(1, 2, (int64_t[]){2, 4}), nn_rand(2, 2, (int64_t[]){4, 3}), &bias, 1, (const char *[]){"BiasAdd"},
                       1, &node);
    nn_expect_infer_error(g, ERR_INPUT, "bias");
}

/* ---- BatchMatMul ---- */

/* out[b...] = X[bx] x Y[by] with numpy batch broadcasting; shapes as given (x rank 4, y rank 3) */
static Tensor naive_bmm_2134_x_542(const Tensor *x, const Tensor *y, bool adj_x, bool adj_y) {
    /* x batch [2,1], y batch [5], out batch [2,5]; m = 3, k = 4, n = 2 */
    const int64_t m = 3, k = 4, n = 2;
    Tensor out = nn_zeros(4, (int64_t[]){2, 5, m, n});
    for (int64_t b0 = 0; b0 < 2; b0++)
        for (int64_t b1 = 0; b1 < 5; b1++) {
            const float *xm = nn_f(x) + b0 * m * k; /* x's batch dim 1 has size 1: broadcast */
            const float *ym = nn_f(y) + b1 * k * n; /* y has no leading dim: broadcast over b0 */
            naive_mm(xm, ym, nn_fm(&out) + (b0 * 5 + b1) * m * n, m, k, n, adj_x, adj_y);
        }
    return out;
}

static void batch_matmul_v2_broadcast_and_adjoints(void **state) {
    (void)state;
    for (int ax = 0; ax < 2; ax++)
        for (int ay = 0; ay < 2; ay++) {
            Tensor x = nn_rand(500 + ax, 4, ax ? (int64_t[]){2, 1, 4, 3} : (int64_t[]){2, 1, 3, 4});
            Tensor y = nn_rand(600 + ay, 3, ay ? (int64_t[]){5, 2, 4} : (int64_t[]){5, 4, 2});
            Tensor want = naive_bmm_2134_x_542(&x, &y, ax, ay);
            Tensor c = run_matmul("BatchMatMulV2", &x, &y, "adj_x", ax, "adj_y", ay);
            nn_assert_close(&c, &want, 1e-6, 1e-6);
            tensor_release(&c);
            /* V3 with all-float types is the same op */
            c = run_matmul("BatchMatMulV3", &x, &y, "adj_x", ax, "adj_y", ay);
            nn_assert_close(&c, &want, 1e-6, 1e-6);
            tensor_release(&c);
            tensor_release(&x);
            tensor_release(&y);
            tensor_release(&want);
        }
}

static void batch_matmul_by_hand(void **state) {
    (void)state;
    /* two batches: [[1,2]] x [[3],[4]] = 11 and [[5,6]] x [[7],[8]] = 83 (V1, equal batch dims) */
    Tensor x = nn_from(3, (int64_t[]){2, 1, 2}, (double[]){1, 2, 5, 6});
    Tensor y = nn_from(3, (int64_t[]){2, 2, 1}, (double[]){3, 4, 7, 8});
    Tensor c = run_matmul("BatchMatMul", &x, &y, "adj_x", false, "adj_y", false);
    nn_assert_values(&c, 3, (int64_t[]){2, 1, 1}, (double[]){11, 83}, 0);
    tensor_release(&c);
    /* adj_y: y^T per batch, [[1,2]] x [[3,4]]^T ... y stored [2,1,2] */
    Tensor y_t = nn_from(3, (int64_t[]){2, 1, 2}, (double[]){3, 4, 7, 8});
    c = run_matmul("BatchMatMulV2", &x, &y_t, "adj_x", false, "adj_y", true);
    nn_assert_values(&c, 3, (int64_t[]){2, 1, 1}, (double[]){11, 83}, 0);
    tensor_release(&c);
    /* rank 2 operands are a plain product */
    Tensor a = nn_from(2, (int64_t[]){1, 2}, (double[]){1, 2});
    Tensor b = nn_from(2, (int64_t[]){2, 1}, (double[]){3, 4});
    c = run_matmul("BatchMatMulV2", &a, &b, "adj_x", false, "adj_y", false);
    nn_assert_values(&c, 2, (int64_t[]){1, 1}, (double[]){11}, 0);
    tensor_release(&c);
    tensor_release(&a);
    tensor_release(&b);
    tensor_release(&x);
    tensor_release(&y);
    tensor_release(&y_t);
}

static void matmul_errors_flops_dtypes(void **state) {
    (void)state;
    Err e;
    int node;
    Tensor ins[2] = {nn_rand(1, 2, (int64_t[]){2, 3}), nn_rand(2, 2, (int64_t[]){4, 5})};
    Graph *g = nn_graph("MatMul", ins, 2, &node);
    nn_expect_infer_error(g, ERR_INPUT, "inner dimensions");
    Tensor ins2[2] = {nn_rand(1, 3, (int64_t[]){1, 2, 3}), nn_rand(2, 2, (int64_t[]){3, 5})};
    g = nn_graph("MatMul", ins2, 2, &node);
    nn_expect_infer_error(g, ERR_INPUT, "2-D");
    /* V1 does not broadcast */
    Tensor ins3[2] = {nn_rand(1, 3, (int64_t[]){1, 2, 3}), nn_rand(2, 3, (int64_t[]){4, 3, 5})};
    g = nn_graph("BatchMatMul", ins3, 2, &node);
    nn_expect_infer_error(g, ERR_INPUT, "equal batch");
    Tensor ins4[2] = {nn_rand(1, 3, (int64_t[]){2, 2, 3}), nn_rand(2, 3, (int64_t[]){3, 3, 5})};
    g = nn_graph("BatchMatMulV2", ins4, 2, &node);
    nn_expect_infer_error(g, ERR_INPUT, "broadcast");
    Tensor ins5[2] = {nn_rand(1, 1, (int64_t[]){3}), nn_rand(2, 2, (int64_t[]){3, 5})};
    g = nn_graph("BatchMatMulV2", ins5, 2, &node);
    nn_expect_infer_error(g, ERR_INPUT, "rank >= 2");
    /* FLOPs: 2*M*N*K; batched: times the broadcast batch; fused: + 2 per output for BiasAdd+Relu */
    Tensor ins6[2] = {nn_rand(1, 2, (int64_t[]){7, 3}), nn_rand(2, 2, (int64_t[]){5, 3})};
    g = nn_graph("MatMul", ins6, 2, &node);
    nn_bool(g, node, "transpose_b", true);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 2 * 7 * 5 * 3);
    graph_free(g);
    Tensor ins7[2] = {nn_rand(1, 4, (int64_t[]){2, 1, 4, 3}), nn_rand(2, 3, (int64_t[]){5, 4, 2})};
    g = nn_graph("BatchMatMulV2", ins7, 2, &node);
    nn_bool(g, node, "adj_x", true);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 2 * 10 * 3 * 2 * 4);
    graph_free(g);
    Tensor bias = nn_rand(3, 1, (int64_t[]){5});
    g = fused_mm_graph(nn_rand(1, 2, (int64_t[]){7, 3}), nn_rand(2, 2, (int64_t[]){3, 5}), &bias, 1,
                       (const char *[]){"BiasAdd", "Relu"}, 2, &node);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(node_flops(g, g->nodes[node]), 2 * 7 * 5 * 3 + 2 * 35);
    graph_free(g);
    /* V3's Tout sets the output dtype; int32 products infer (and run: tests/test_matmul_int32.c) */
    Tensor ins8[2] = {tt_i32(2, (int64_t[]){1, 2}, (int32_t[]){1, 2}), tt_i32(2, (int64_t[]){2, 1}, (int32_t[]){3, 4})};
    g = nn_graph("BatchMatMulV3", ins8, 2, &node);
    CHECK_OK(node_set_attr_type(g->nodes[node], "Tout", DT_INT32, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, NULL, NULL, &e), &e);
    assert_int_equal(g->nodes[node]->outputs[0].dtype, DT_INT32);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_by_hand_all_transposes),
        cmocka_unit_test(matmul_random_all_transposes),
        cmocka_unit_test(fused_matmul_every_activation),
        cmocka_unit_test(fused_matmul_gelu_known_values),
        cmocka_unit_test(fused_matmul_unsupported),
        cmocka_unit_test(batch_matmul_v2_broadcast_and_adjoints),
        cmocka_unit_test(batch_matmul_by_hand),
        cmocka_unit_test(matmul_errors_flops_dtypes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
