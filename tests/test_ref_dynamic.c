/* test_ref_dynamic.c - the ops whose output sizes depend on values, and how both runtimes run
 * them: Where (row-major order, NaN and -0), TopKV2 (tie order, k fed at run time),
 * NonMaxSuppressionV3/V4/V5 (score threshold, IoU threshold, corner order, zero-area boxes,
 * ties, soft-NMS, padding) against TensorFlow 2.20's results, and a Where -> GatherNd -> Sum
 * chain on the fast runtime: dynamic steps outside the arena, re-run with another count, and
 * the measured dynamic bytes, and the cost model estimating the static part. */
#include "test_ops_util.h"

#include <math.h>

#include "measure/cost.h"

static void where_case(Tensor x, Tensor want) {
    ToGraph t;
    to_begin(&t, "Where");
    to_feed(&t, x);
    to_check(&t, &want, 1);
    to_end(&t);
}

static void test_where(void **state) {
    (void)state;
    /* TensorFlow: where([[T,F],[F,T],[T,T]]) = [[0,0],[1,1],[2,0],[2,1]] */
    where_case(to_t(DT_BOOL, 2, (int64_t[]){3, 2}, (double[]){1, 0, 0, 1, 1, 1}),
               to_t(DT_INT64, 2, (int64_t[]){4, 2}, (double[]){0, 0, 1, 1, 2, 0, 2, 1}));
    /* floats: NaN is non-zero, -0 is zero (TensorFlow: where([0, nan, -0, 2]) = [[1],[3]]) */
    where_case(to_f32(1, (int64_t[]){4}, (float[]){0, NAN, -0.0f, 2}), to_t(DT_INT64, 2, (int64_t[]){2, 1}, (double[]){1, 3}));
    /* rank 3 integers */
    where_case(to_t(DT_INT32, 3, (int64_t[]){2, 1, 2}, (double[]){0, -3, 0, 0}), to_t(DT_INT64, 2, (int64_t[]){1, 3}, (double[]){0, 0, 1}));
    /* nothing true: [0, 2] */
    where_case(to_t(DT_BOOL, 2, (int64_t[]){2, 2}, (double[]){0, 0, 0, 0}), to_t(DT_INT64, 2, (int64_t[]){0, 2}, NULL));
}

static void topk_case(Tensor x, int32_t k, bool k_fed, Tensor want_v, Tensor want_i) {
    ToGraph t;
    to_begin(&t, "TopKV2");
    to_feed(&t, x);
    if (k_fed) to_feed(&t, tr_scalar_i32(k));
    else to_const(&t, tr_scalar_i32(k));
    Tensor want[2] = {want_v, want_i};
    to_check(&t, want, 2);
    to_end(&t);
}

static void test_topk(void **state) {
    (void)state;
    /* ties: lower index first (TensorFlow: top_k([3,1,3,2,3], 4) -> [3,3,3,2] at [0,2,4,3]) */
    for (int fed = 0; fed < 2; fed++)
        topk_case(to_f32(1, (int64_t[]){5}, (float[]){3, 1, 3, 2, 3}), 4, fed, to_f32(1, (int64_t[]){4}, (float[]){3, 3, 3, 2}),
                  to_t(DT_INT32, 1, (int64_t[]){4}, (double[]){0, 2, 4, 3}));
    /* integer rows (TensorFlow: [[9,4,4],[3,0,-1]] at [[3,0,1],[3,0,1]]) */
    topk_case(to_t(DT_INT32, 2, (int64_t[]){2, 4}, (double[]){4, 4, 1, 9, 0, -1, -1, 3}), 3, true,
              to_t(DT_INT32, 2, (int64_t[]){2, 3}, (double[]){9, 4, 4, 3, 0, -1}), to_t(DT_INT32, 2, (int64_t[]){2, 3}, (double[]){3, 0, 1, 3, 0, 1}));
    /* k = 0 */
    topk_case(to_f32(1, (int64_t[]){2}, (float[]){1, 2}), 0, false, to_f32(1, (int64_t[]){0}, NULL), to_t(DT_INT32, 1, (int64_t[]){0}, NULL));
    /* NaN (placed by position in TensorFlow) ranks last here */
    topk_case(to_f32(1, (int64_t[]){3}, (float[]){NAN, 1, 2}), 3, false, to_f32(1, (int64_t[]){3}, (float[]){2, 1, NAN}),
              to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){2, 1, 0}));
    for (int fed = 0; fed < 2; fed++) {
        ToGraph t;
        to_begin(&t, "TopKV2");
        to_feed(&t, to_f32(1, (int64_t[]){2}, (float[]){1, 2}));
        if (fed) to_feed(&t, tr_scalar_i32(3));
        else to_const(&t, tr_scalar_i32(3));
        to_check_error(&t, 2, "k = 3");
        to_end(&t);
    }
}

/* six boxes: 0, 1, 2 overlap (IoU(0,1) = IoU(0,2) = 0.818, IoU(1,2) = 0.667), 3 and 4 overlap
   (0.818), 5 alone */
static const float BOXES[] = {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, -0.1f, 1, 0.9f, 0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100, 1, 101};
static const float SCORES[] = {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f};

static void nms_begin(ToGraph *t, const char *op, const float *boxes, const float *scores, int n, int32_t max_out, float iou, float score) {
    to_begin(t, op);
    to_feed(t, to_f32(2, (int64_t[]){n, 4}, boxes));
    to_feed(t, to_f32(1, (int64_t[]){n}, scores));
    to_feed(t, tr_scalar_i32(max_out));
    to_feed(t, to_f32(0, NULL, &iou));
    to_feed(t, to_f32(0, NULL, &score));
}

static void test_nms_v3(void **state) {
    (void)state;
    ToGraph t;
    /* TensorFlow: non_max_suppression(b, s, 3, 0.5) = [3, 0, 5] */
    nms_begin(&t, "NonMaxSuppressionV3", BOXES, SCORES, 6, 3, 0.5f, -INFINITY);
    Tensor w = to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){3, 0, 5});
    to_check(&t, &w, 1);
    to_end(&t);
    /* score threshold 0.4 (strictly greater passes): [3, 0] */
    nms_begin(&t, "NonMaxSuppressionV3", BOXES, SCORES, 6, 10, 0.5f, 0.4f);
    Tensor w2 = to_t(DT_INT32, 1, (int64_t[]){2}, (double[]){3, 0});
    to_check(&t, &w2, 1);
    to_end(&t);
    /* a score equal to the threshold is dropped (box 5: 0.3 is not > 0.3); TensorFlow: [3, 0, 1, 2, 4] */
    nms_begin(&t, "NonMaxSuppressionV3", BOXES, SCORES, 6, 10, 0.9f, 0.3f);
    Tensor w3 = to_t(DT_INT32, 1, (int64_t[]){5}, (double[]){3, 0, 1, 2, 4});
    to_check(&t, &w3, 1);
    to_end(&t);
    /* corner order does not matter (box 1 is box 0 flipped: suppressed), a zero-area box has
       IoU 0 with everything (kept), equal scores go in index order; TensorFlow: [0, 2, 3] */
    const float b2[] = {0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 5, 5, 6, 6};
    const float s2[] = {0.5f, 0.5f, 0.5f, 0.5f};
    nms_begin(&t, "NonMaxSuppressionV3", b2, s2, 4, 10, 0.5f, 0.0f);
    Tensor w4 = to_t(DT_INT32, 1, (int64_t[]){3}, (double[]){0, 2, 3});
    to_check(&t, &w4, 1);
    to_end(&t);
    nms_begin(&t, "NonMaxSuppressionV3", BOXES, SCORES, 6, 3, 1.5f, 0.0f);
    to_check_error(&t, 1, "iou_threshold must be in [0, 1]");
    to_end(&t);
}

static void test_nms_v4_v5(void **state) {
    (void)state;
    ToGraph t;
    Err e;
    /* V4 padded: TensorFlow gives [3, 0, 5, 0, 0] and 3 valid */
    nms_begin(&t, "NonMaxSuppressionV4", BOXES, SCORES, 6, 5, 0.5f, 0.0f);
    CHECK_OK(node_set_attr_b(t.g->nodes[t.op], "pad_to_max_output_size", true, &e), &e);
    Tensor w4[2] = {to_t(DT_INT32, 1, (int64_t[]){5}, (double[]){3, 0, 5, 0, 0}), to_t(DT_INT32, 0, NULL, (double[]){3})};
    to_check(&t, w4, 2);
    to_end(&t);
    /* V5 hard, padded: TensorFlow [3,0,5,0,0], scores [0.95,0.9,0.3,0,0], 3 */
    float sigma = 0;
    nms_begin(&t, "NonMaxSuppressionV5", BOXES, SCORES, 6, 5, 0.5f, 0.0f);
    to_feed(&t, to_f32(0, NULL, &sigma));
    CHECK_OK(node_set_attr_b(t.g->nodes[t.op], "pad_to_max_output_size", true, &e), &e);
    Tensor w5[3] = {to_t(DT_INT32, 1, (int64_t[]){5}, (double[]){3, 0, 5, 0, 0}), to_f32(1, (int64_t[]){5}, (float[]){0.95f, 0.9f, 0.3f, 0, 0}),
                    to_t(DT_INT32, 0, NULL, (double[]){3})};
    to_check(&t, w5, 3);
    to_end(&t);
    /* V5 soft-NMS, sigma 0.5, iou_threshold 1: every box survives with decayed scores, re-ranked:
       TensorFlow [3,0,1,5,4,2], [0.95, 0.9, 0.38400355, 0.3, 0.2560026, 0.19697244], 6.
       Box 1: 0.75 * exp(-0.818^2) ; box 2 is decayed by box 0, re-queued, then by box 1. */
    sigma = 0.5f;
    nms_begin(&t, "NonMaxSuppressionV5", BOXES, SCORES, 6, 6, 1.0f, 0.0f);
    to_feed(&t, to_f32(0, NULL, &sigma));
    Tensor ws[3] = {to_t(DT_INT32, 1, (int64_t[]){6}, (double[]){3, 0, 1, 5, 4, 2}),
                    to_f32(1, (int64_t[]){6}, (float[]){0.95f, 0.9f, 0.38400355f, 0.3f, 0.2560026f, 0.19697244f}),
                    to_t(DT_INT32, 0, NULL, (double[]){6})};
    to_check_tol(&t, ws, 3, 1e-6);
    to_end(&t);
}

/* 1000 disjoint boxes (nothing suppresses anything) whose scores repeat 7 values: the order is
   by score, then by index - checked against a plain counting order, not the kernel's queue */
static void test_nms_order_many_ties(void **state) {
    (void)state;
    enum { N = 1000 };
    static float boxes[N * 4], scores[N];
    for (int i = 0; i < N; i++) {
        float y = (float)(i / 40) * 2, x = (float)(i % 40) * 2;
        boxes[4 * i] = y; boxes[4 * i + 1] = x; boxes[4 * i + 2] = y + 1; boxes[4 * i + 3] = x + 1;
        scores[i] = (float)(i % 7) / 7.0f;
    }
    static double want[N];
    int k = 0;
    for (int level = 6; level >= 1; level--) /* score 0 is not > the threshold 0 */
        for (int i = 0; i < N; i++)
            if (i % 7 == level) want[k++] = i;
    ToGraph t;
    nms_begin(&t, "NonMaxSuppressionV3", boxes, scores, N, N, 0.5f, 0.0f);
    Tensor w = to_t(DT_INT32, 1, (int64_t[]){k}, want);
    to_check(&t, &w, 1);
    to_end(&t);
}

/* x -> Greater(x, 0.5) -> Where -> GatherNd(x, .) -> Sum over axis 0: a dynamic chain */
static void test_dynamic_chain_on_the_fast_runtime(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int x = tr_node(g, "x", "Placeholder");
    Shape s6 = shape_make(1, (int64_t[]){6});
    CHECK_OK(node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[x], "shape", &s6, &e), &e);
    int half = tr_const(g, "half", to_f32(0, NULL, (float[]){0.5f}));
    int gt = tr_node(g, "gt", "Greater");
    tr_input(g, gt, x, 0);
    tr_input(g, gt, half, 0);
    int wh = tr_node(g, "where", "Where");
    tr_input(g, wh, gt, 0);
    int gn = tr_node(g, "picked", "GatherNd");
    tr_input(g, gn, x, 0);
    tr_input(g, gn, wh, 0);
    int axis = tr_const(g, "axis", tr_scalar_i32(0));
    int sum = tr_node(g, "sum", "Sum");
    tr_input(g, sum, gn, 0);
    tr_input(g, sum, axis, 0);
    int wid = tr_node(g, "where_id", "Identity"); /* not fetched: only its inference is checked */
    tr_input(g, wid, wh, 0);
    CHECK_OK(graph_add_output(g, (ValueRef){sum, 0}, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){gn, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    /* before running: Where's count is unknown, and so is everything after it */
    assert_int_equal(g->nodes[wh]->outputs[0].shape.dim[0], -1);
    assert_int_equal(g->nodes[wh]->outputs[0].shape.dim[1], 1);
    assert_true(ref_node_is_dynamic(g->nodes[wh]) && ref_node_is_dynamic(g->nodes[gn]) && ref_node_is_dynamic(g->nodes[sum]));
    assert_false(ref_node_is_dynamic(g->nodes[gt]));
    /* an Identity of it keeps what is known: int64 [?, 1] */
    assert_int_equal(g->nodes[wid]->outputs[0].dtype, DT_INT64);
    assert_int_equal(g->nodes[wid]->outputs[0].shape.rank, 2);
    assert_int_equal(g->nodes[wid]->outputs[0].shape.dim[0], -1);
    assert_int_equal(g->nodes[wid]->outputs[0].shape.dim[1], 1);
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    PlanInfo info;
    plan_info(p, &info);
    assert_int_equal(info.dynamic_steps, 3);
    assert_int_equal(plan_dynamic_bytes(p), 0); /* nothing measured before a run */
    assert_string_equal(plan_node_impl(p, wh), "ref (dynamic shape)");
    size_t static_peak = plan_peak_bytes(p);
    const float runs[2][6] = {{0.9f, 0.1f, 0.7f, 0.5f, 0.6f, 0.2f}, {0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 0.75f}};
    const int count[2] = {3, 6};
    for (int r = 0; r < 2; r++) {
        RefFeed f = {"x", to_f32(1, (int64_t[]){6}, runs[r])};
        Tensor out[2] = {{0}}, ref[2] = {{0}};
        CHECK_OK(plan_run(p, &f, 1, out, NULL, &e), &e);
        CHECK_OK(ref_run(g, &f, 1, NULL, 0, ref, NULL, &e), &e);
        double want = 0;
        int k = 0;
        for (int i = 0; i < 6; i++)
            if (runs[r][i] > 0.5f) {
                want += runs[r][i];
                assert_true(tensor_get(&out[1], k) == runs[r][i]);
                k++;
            }
        assert_int_equal(tensor_numel(&out[1]), count[r]);
        assert_true(fabs(tensor_get(&out[0], 0) - want) < 1e-6);
        assert_tensor_near(&out[0], &ref[0], 0);
        assert_tensor_near(&out[1], &ref[1], 0);
        /* peak of the dynamic part: Where's int64 [count, 1] and GatherNd's float [count] live
           together while GatherNd runs */
        assert_int_equal(plan_dynamic_bytes(p), (size_t)count[r] * 12);
        assert_int_equal(plan_peak_bytes(p), static_peak + (size_t)count[r] * 12);
        for (int i = 0; i < 2; i++) { tensor_release(&out[i]); tensor_release(&ref[i]); }
        tensor_release(&f.value);
    }
    plan_free(p);
    /* the cost model leaves the dynamic nodes out (no shapes to key them by) instead of
       refusing the graph: only Greater is a kernel it estimates */
    CostOpts co = {.backend = COST_ROOFLINE, .cache_dir = ""};
    CostModel *cm = cost_open(&co, &e);
    if (!cm) { print_error("%s\n", e.msg); fail(); }
    CostEstimate est;
    CHECK_OK(cost_estimate(cm, g, &est, NULL, &e), &e);
    assert_int_equal(est.kernels, 1);
    cost_close(cm);
    graph_free(g);
}

/* ResizeBilinear with a size computed at run time (rvm's, inside a TF1 cond branch): inference
   gives [N, ?, ?, C], the fast runtime runs it as a dynamic step (outside the arena, counted in
   the dynamic bytes), and the values are TensorFlow's (align_corners and half_pixel_centers
   false: source = dst * in / out, clamped at the last row/column), worked by hand for
   [[0, 1], [2, 3]] */
static void test_resize_size_at_run_time(void **state) {
    (void)state;
    Err e;
    Graph *g = graph_new();
    int x = tr_node(g, "x", "Placeholder");
    Shape s4 = shape_make(4, (int64_t[]){1, 2, 2, 1});
    CHECK_OK(node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[x], "shape", &s4, &e), &e);
    int sz = tr_node(g, "size", "Placeholder");
    Shape s2 = shape_make(1, (int64_t[]){2});
    CHECK_OK(node_set_attr_type(g->nodes[sz], "dtype", DT_INT32, &e), &e);
    CHECK_OK(node_set_attr_shape(g->nodes[sz], "shape", &s2, &e), &e);
    int rs = tr_node(g, "resize", "ResizeBilinear");
    tr_input(g, rs, x, 0);
    tr_input(g, rs, sz, 0);
    CHECK_OK(graph_add_output(g, (ValueRef){rs, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    const Shape *o = &g->nodes[rs]->outputs[0].shape;
    assert_int_equal(o->rank, 4);
    assert_true(o->dim[0] == 1 && o->dim[1] == -1 && o->dim[2] == -1 && o->dim[3] == 1);
    assert_true(ref_node_is_dynamic(g->nodes[rs]));
    PlanOpts po = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &po, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    PlanInfo info;
    plan_info(p, &info);
    assert_int_equal(info.dynamic_steps, 1);
    assert_string_equal(plan_node_impl(p, rs), "ref (dynamic shape)");
    const int32_t sizes[2][2] = {{4, 4}, {1, 3}};
    const double want4[16] = {0, 0.5, 1, 1, 1, 1.5, 2, 2, 2, 2.5, 3, 3, 2, 2.5, 3, 3};
    const double want13[3] = {0, 2.0 / 3.0, 1};
    for (int r = 0; r < 2; r++) {
        RefFeed f[2] = {{"x", to_f32(4, (int64_t[]){1, 2, 2, 1}, (float[]){0, 1, 2, 3})},
                        {"size", tt_i32(1, (int64_t[]){2}, sizes[r])}};
        Tensor out = {0}, ref = {0};
        CHECK_OK(plan_run(p, f, 2, &out, NULL, &e), &e);
        CHECK_OK(ref_run(g, f, 2, NULL, 0, &ref, NULL, &e), &e);
        assert_int_equal(out.shape.dim[1], sizes[r][0]);
        assert_int_equal(out.shape.dim[2], sizes[r][1]);
        int64_t n = (int64_t)sizes[r][0] * sizes[r][1];
        for (int64_t i = 0; i < n; i++) assert_true(fabs(tensor_get(&out, i) - (r ? want13 : want4)[i]) < 1e-6);
        assert_tensor_near(&out, &ref, 0);
        assert_int_equal(plan_dynamic_bytes(p), (size_t)n * 4);
        tensor_release(&out);
        tensor_release(&ref);
        tensor_release(&f[0].value);
        tensor_release(&f[1].value);
    }
    plan_free(p);
    graph_free(g);
    /* a size that is not int32 [2] is refused by inference, run time or not */
    Graph *b = graph_new();
    x = tr_node(b, "x", "Placeholder");
    CHECK_OK(node_set_attr_type(b->nodes[x], "dtype", DT_FLOAT, &e), &e);
    CHECK_OK(node_set_attr_shape(b->nodes[x], "shape", &s4, &e), &e);
    sz = tr_node(b, "size", "Placeholder");
    Shape s3 = shape_make(1, (int64_t[]){3});
    CHECK_OK(node_set_attr_type(b->nodes[sz], "dtype", DT_INT32, &e), &e);
    CHECK_OK(node_set_attr_shape(b->nodes[sz], "shape", &s3, &e), &e);
    rs = tr_node(b, "resize", "ResizeBilinear");
    tr_input(b, rs, x, 0);
    tr_input(b, rs, sz, 0);
    assert_int_equal(graph_infer(b, NULL, 0, ref_eval_node, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "size must have shape [2]"));
    graph_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_resize_size_at_run_time),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_nms_v3),
        cmocka_unit_test(test_nms_v4_v5),
        cmocka_unit_test(test_nms_order_many_ties),
        cmocka_unit_test(test_dynamic_chain_on_the_fast_runtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
