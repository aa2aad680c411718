/* test_bandwidth.c - the memory floor (src/measure/bandwidth.c): the measured read bandwidth is
 * positive and finite, the floor's formula on closed-form cases, bad arguments rejected, and on
 * a graph whose weights dominate (a matrix-vector product over 16 MiB of weights) the floor
 * is not above the graph's measured latency. */
#include "testutil.h"

#include "measure/measure.h"

static void read_bandwidth_is_sane(void **state) {
    (void)state;
    ReadBandwidth bw;
    Err e;
    CHECK_OK(bandwidth_read_measure(1 << 20, 0, 3, &bw, &e), &e);
    assert_true(bw.gb_per_s > 0 && isfinite(bw.gb_per_s));
    assert_true(bw.bytes == (double)(1 << 20) && bw.passes == 3 && bw.threads >= 1);
    assert_int_equal(bw.threads, bandwidth_threads(0));
    /* a size not a multiple of 8 reads the whole words below it */
    CHECK_OK(bandwidth_read_measure(100, 1, 1, &bw, &e), &e);
    assert_true(bw.bytes == 96 && bw.threads == bandwidth_threads(1));
}

static void floor_closed_form(void **state) {
    (void)state;
    /* 1 GB at 1 GB/s is one second; 2 MB at 4 GB/s half a millisecond */
    assert_true(fabs(bandwidth_floor_ms(1e9, 1) - 1000) < 1e-9);
    assert_true(fabs(bandwidth_floor_ms(2e6, 4) - 0.5) < 1e-12);
    assert_true(bandwidth_floor_ms(1e6, 0) == 0);
}

static void bad_arguments(void **state) {
    (void)state;
    ReadBandwidth bw;
    Err e;
    assert_int_not_equal(bandwidth_read_measure(4, 1, 3, &bw, &e), 0);
    assert_int_equal(e.code, ERR_INPUT);
    assert_int_not_equal(bandwidth_read_measure(1024, 1, 0, &bw, &e), 0);
    assert_int_equal(e.code, ERR_INPUT);
}

/* a 1x1 convolution of a [1, 1, 1, K] placeholder with a constant [1, 1, K, N] filter: a
   matrix-vector product over K * N * 4 bytes of weights */
static Graph *gemv_graph(int64_t k, int64_t n) {
    Err e;
    Graph *g = graph_new();
    assert_non_null(g);
    int x = graph_add_node(g, "x", "Placeholder", &e), w = graph_add_node(g, "w", "Const", &e);
    int m = graph_add_node(g, "y", "Conv2D", &e);
    assert_true(x >= 0 && w >= 0 && m >= 0);
    Shape xs = shape_make(4, (int64_t[]){1, 1, 1, k}), ws = shape_make(4, (int64_t[]){1, 1, k, n});
    Tensor wt;
    CHECK_OK(tensor_alloc(&wt, DT_FLOAT, &ws, &e), &e);
    float *p = tensor_mut(&wt);
    for (int64_t i = 0; i < k * n; i++) p[i] = (float)((i % 7) - 3) * 0.01f;
    CHECK_OK(node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[x], "shape", &xs, &e), &e);
    CHECK_OK(node_set_attr_type(g->nodes[w], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_tensor(g->nodes[w], "value", &wt, &e), &e);
    CHECK_OK(node_set_attr_type(g->nodes[m], "T", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_s(g->nodes[m], "padding", "VALID", &e), &e);
    CHECK_OK(node_set_attr_list_i(g->nodes[m], "strides", (int64_t[]){1, 1, 1, 1}, 4, &e), &e);
    CHECK_OK(node_add_input(g, m, (ValueRef){x, 0}, &e), &e);
    CHECK_OK(node_add_input(g, m, (ValueRef){w, 0}, &e), &e);
    tensor_release(&wt);
    CHECK_OK(graph_add_output(g, (ValueRef){m, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    return g;
}

static void floor_below_weight_bound_latency(void **state) {
    (void)state;
    Err e;
    Graph *g = gemv_graph(2048, 2048);
    InputSet in;
    CHECK_OK(inputs_generate(g, 1, 1, &in, &e), &e);
    LatencyResult lat;
    const Graph *one[1] = {g};
    CHECK_OK(latency_measure(one, 1, &in, 9, 0, &lat, &e), &e);
    assert_true(lat.weight_bytes >= (size_t)2048 * 2048 * 4);
    ReadBandwidth bw;
    CHECK_OK(bandwidth_read_measure(lat.weight_bytes, 0, 9, &bw, &e), &e);
    double floor_ms = bandwidth_floor_ms(bw.bytes, bw.gb_per_s);
    printf("    weights %.1f MiB, %.1f GB/s at %d threads: floor %.3f ms, latency median %.3f ms\n",
           bw.bytes / 1048576.0, bw.gb_per_s, bw.threads, floor_ms, lat.ms.median);
    /* the run reads the same bytes and also computes: it cannot beat the floor; the slack of 2
       absorbs a loaded machine slowing the read passes more than the timed runs */
    assert_true(floor_ms > 0 && floor_ms <= 2 * lat.ms.median);
    inputs_free(&in);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_bandwidth_is_sane),
        cmocka_unit_test(floor_closed_form),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(floor_below_weight_bound_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
