/* test_quant_equalize.c - per-channel calibration ranges (calibrate.c: CALIB_ATTR_CHMIN/CHMAX)
 * and the int8 conv rule's channel equalization (rules_quant_int8.c: plan_equalize): an input
 * whose one channel spans ~100x the others (as blazeface's depthwise outputs do on real
 * photographs) is multiplied per channel before its single-scale uint8 quantization and the
 * filter's input channels compensate. Oracles: the per-channel extremes computed here from the
 * feed; the float32 graph on the reference runtime (the int8 graph's error, on both runtimes);
 * the same rewrite without per-channel ranges (the rule as it was: one scale for all channels),
 * whose error on the ordinary channels' outputs is several times larger. */
#include <stdlib.h>

#include "rewrite/calibrate.h"
#include "rewrite/edit.h"
#include "rewrite/pipeline.h"
#include "testrules.h"
#include "util/rng.h"
#include "zoo/builder.h"

#define CIN 8
#define OUTLIER 5       /* the outlier channel */
#define OUTLIER_SPAN 120.0

static const PlanOpts one_thread = {.threads = 1};

/* "x" [1, 6, 6, CIN] -> op "op" (1x1 Conv2D to 6 channels, or 3x3 depthwise x1); the outlier
   channel's weights are small, as a trained network's are */
static Graph *graph_for(bool depthwise, uint64_t seed) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, seed, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 6, 6, CIN}), NULL);
    Shape ws = depthwise ? shape_make(4, (int64_t[]){3, 3, CIN, 1}) : shape_make(4, (int64_t[]){1, 1, CIN, 6});
    Tensor wt = bld_normal(&b, ws, 0.0, 0.3);
    int64_t inner = ws.dim[3];
    for (int64_t i = 0; i < tensor_numel(&wt); i++)
        if ((i / inner) % CIN == OUTLIER) tensor_set(&wt, i, tensor_get(&wt, i) * 0.01);
    ValueRef w = bld_const(&b, "w", &wt);
    int n = bld_begin(&b, "op", depthwise ? "DepthwiseConv2dNative" : "Conv2D", (ValueRef[]){x, w}, 2);
    bld_attr_type(&b, n, "T", DT_FLOAT);
    bld_attr_ints(&b, n, "strides", (int64_t[]){1, 1, 1, 1}, 4);
    bld_attr_s(&b, n, "padding", "SAME");
    bld_attr_s(&b, n, "data_format", "NHWC");
    bld_attr_ints(&b, n, "dilations", (int64_t[]){1, 1, 1, 1}, 4);
    bld_add_output(&b, bld_end(&b, n));
    Graph *g = bld_finish(&b);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    return g;
}

/* channels uniform in [-1, 1.5), the outlier channel (when span > 0) in [-span, span / 10) */
static Tensor input_for(const Graph *g, double span, uint64_t seed) {
    Err e = {0};
    Tensor t;
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &g->nodes[graph_find(g, "x")]->outputs[0].shape, &e), &e);
    Rng r;
    rng_seed(&r, seed);
    for (int64_t i = 0; i < tensor_numel(&t); i++) {
        double u = rng_uniform(&r);
        bool out = span > 0 && i % CIN == OUTLIER;
        tensor_set(&t, i, out ? -span + 1.1 * span * u : -1.0 + 2.5 * u);
    }
    return t;
}

static Tensor run(const Graph *g, const Tensor *x, bool fast) {
    Err e = {0};
    RefFeed f = {"x", tensor_share(x)};
    Tensor out;
    if (fast) {
        Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
        if (!p) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(plan_run(p, &f, 1, &out, NULL, &e), &e);
        plan_free(p);
    } else {
        CHECK_OK(ref_run(g, &f, 1, NULL, 0, &out, NULL, &e), &e);
    }
    tensor_release(&f.value);
    return out;
}

static Graph *calibrated(const Graph *g, const Tensor *x) {
    Err e = {0};
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    RefFeed f = {"x", tensor_share(x)};
    const RefFeed *b[1] = {&f};
    CHECK_OK(calibrate_graph(c, b, 1, 1, CALIB_MINMAX, &e) < 0, &e);
    tensor_release(&f.value);
    return c;
}

static Graph *quantized(const Graph *cal) {
    Err e = {0};
    Graph *q = graph_clone(cal, &e);
    assert_non_null(q);
    const RuleDef *r = rule_by_name("quantize_conv_int8");
    SiteList s = {0};
    CHECK_OK(rule_sites(r, q, &s, &e), &e);
    assert_int_equal(s.n, 1);
    CHECK_OK(rule_apply(r, q, &s.v[0], &e), &e);
    sitelist_free(&s);
    return q;
}

/* RMS of (a - y) over the outputs that the outlier channel does not feed alone (all of a 1x1
   conv's; a depthwise's other channels), relative to the RMS of y there */
static double rel_err(const Tensor *y, const Tensor *a, bool depthwise) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < tensor_numel(y); i++) {
        if (depthwise && i % CIN == OUTLIER) continue;
        double d = tensor_get(a, i) - tensor_get(y, i);
        num += d * d;
        den += tensor_get(y, i) * tensor_get(y, i);
    }
    return sqrt(num / den);
}

/* calibration records each channel's raw extremes, exactly those of the feed */
static void test_channel_ranges(void **state) {
    (void)state;
    Graph *g = graph_for(false, 3);
    Tensor x = input_for(g, OUTLIER_SPAN, 7);
    Graph *c = calibrated(g, &x);
    ValueRef v = {graph_find(c, "x"), 0};
    const float *lo, *hi;
    assert_true(calib_channel_ranges(c, v, CIN, &lo, &hi));
    assert_false(calib_channel_ranges(c, v, CIN + 1, &lo, &hi)); /* wrong channel count */
    for (int ch = 0; ch < CIN; ch++) {
        double mn = INFINITY, mx = -INFINITY;
        for (int64_t i = ch; i < tensor_numel(&x); i += CIN) {
            mn = fmin(mn, tensor_get(&x, i));
            mx = fmax(mx, tensor_get(&x, i));
        }
        assert_float_equal(lo[ch], mn, 0);
        assert_float_equal(hi[ch], mx, 0);
    }
    /* without the tensor range (a rewrite dropped it: the value changed) they are not used */
    node_attr_remove(c->nodes[v.node], CALIB_ATTR_MIN);
    assert_false(calib_channel_ranges(c, v, CIN, &lo, &hi));
    tensor_release(&x);
    graph_free(c);
    graph_free(g);
}

static void check_equalized(bool depthwise) {
    Err e = {0};
    Graph *g = graph_for(depthwise, 11);
    Tensor x = input_for(g, OUTLIER_SPAN, 5);
    Graph *cal = calibrated(g, &x);
    Graph *q = quantized(cal);
    /* the rule as it was: no per-channel ranges, one scale for every channel */
    Graph *cal1 = graph_clone(cal, &e);
    assert_non_null(cal1);
    node_attr_remove(cal1->nodes[graph_find(cal1, "x")], CALIB_ATTR_CHMIN);
    Graph *q1 = quantized(cal1);
    assert_int_equal(tr_count_op(q, "Mul"), 1);
    assert_true(graph_find(q, "op/equalize") >= 0);
    assert_int_equal(tr_count_op(q1, "Mul"), 0);
    /* the factors shrink only the outlier channel, to a few medians */
    const Tensor *k = edit_known(q, (ValueRef){graph_find(q, "op/equalize_factors"), 0});
    assert_non_null(k);
    for (int ch = 0; ch < CIN; ch++) {
        if (ch == OUTLIER) assert_true(tensor_get(k, ch) < 0.1);
        else assert_float_equal(tensor_get(k, ch), 1.0, 0);
    }
    Tensor y = run(g, &x, false), yr = run(q, &x, false), yf = run(q, &x, true), y1 = run(q1, &x, false);
    double er = rel_err(&y, &yr, depthwise), ef = rel_err(&y, &yf, depthwise), e1 = rel_err(&y, &y1, depthwise);
    printf("[ equalize ] %s: relative error %.4g (ref) %.4g (fast), one scale for all channels %.4g\n",
           depthwise ? "depthwise 3x3" : "conv 1x1", er, ef, e1);
    assert_true(er < 0.02);
    assert_true(ef < 0.02);
    assert_true(e1 > 4 * er); /* failed before: one scale left the ordinary channels ~5 levels */
    Tensor *ts[] = {&x, &y, &yr, &yf, &y1};
    for (int i = 0; i < 5; i++) tensor_release(ts[i]);
    graph_free(q1);
    graph_free(cal1);
    graph_free(q);
    graph_free(cal);
    graph_free(g);
}

static void test_conv_outlier(void **state) { (void)state; check_equalized(false); }
static void test_depthwise_outlier(void **state) { (void)state; check_equalized(true); }

/* balanced channels: no Mul, the graph the rule always wrote */
static void test_no_outlier(void **state) {
    (void)state;
    Graph *g = graph_for(false, 13);
    Tensor x = input_for(g, 0, 9);
    Graph *cal = calibrated(g, &x);
    Graph *q = quantized(cal);
    assert_int_equal(tr_count_op(q, "Mul"), 0);
    assert_int_equal(tr_count_op(q, "GrappoQConv2D"), 1);
    tensor_release(&x);
    graph_free(q);
    graph_free(cal);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_ranges),
        cmocka_unit_test(test_conv_outlier),
        cmocka_unit_test(test_depthwise_outlier),
        cmocka_unit_test(test_no_outlier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
