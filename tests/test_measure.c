/* test_measure.c - statistics, accuracy fidelity and alternating latency measurement, on
 * closed-form cases; timing in each graph's own steady state against a fake clock with
 * carry-over. */
#include "testutil.h"

#include "measure/measure.h"
#include "rewrite/edit.h"
#include "report/stats.h"
#include "zoo/zoo.h"

static void test_stats_closed_form(void **state) {
    (void)state;
    double x[5] = {5, 1, 4, 2, 3};
    Summary s = stats_summarize(x, 5);
    assert_true(s.median == 3 && s.min == 1 && s.max == 5 && s.mean == 3);
    /* sd = sqrt(2.5); t(4) = 2.776 */
    assert_true(fabs(s.ci95 - 2.776 * sqrt(2.5) / sqrt(5.0)) < 1e-12);
    double y[4] = {4, 1, 3, 2};
    assert_true(stats_summarize(y, 4).median == 2.5);
    double z[1] = {7};
    Summary one = stats_summarize(z, 1);
    assert_true(one.median == 7 && one.ci95 == 0);
    assert_true(stats_t95(1000) == 1.96);
    /* median CI by order statistics: n = 5 is too few (min, max: 93.75%); n = 6: P(B <= 0) =
       1/64 <= 0.025 and P(B <= 1) = 7/64 > 0.025, so ranks 1 and 6 (96.9%); n = 20: P(B <= 5) =
       0.0207, P(B <= 6) = 0.0577, so ranks 6 and 15; n = 100: ranks 40 and 61 (P(B <= 39) =
       0.0176, P(B <= 40) = 0.0284) */
    assert_true(s.med_lo == 1 && s.med_hi == 5);
    double v[100];
    for (int i = 0; i < 100; i++) v[i] = 100 - i; /* 1..100, reversed */
    Summary s6 = stats_summarize(v + 94, 6);       /* 6..1 */
    assert_true(s6.med_lo == 1 && s6.med_hi == 6);
    for (int i = 0; i < 20; i++) v[i] = 20 - i;
    Summary s20 = stats_summarize(v, 20);
    assert_true(s20.med_lo == 6 && s20.med_hi == 15);
    for (int i = 0; i < 100; i++) v[i] = 100 - i;
    v[0] = 1e6; /* one preempted run moves the mean's interval, not the median's */
    Summary s100 = stats_summarize(v, 100);
    assert_true(s100.med_lo == 40 && s100.med_hi == 61);
    assert_true(s100.mean - s100.ci95 < 0);
}

/* cand = g with graph output 0 replaced by op(output0[, const]) */
static Graph *with_output_op(const Graph *g, const char *op, float scalar) {
    Err e = {0};
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    ValueRef out0 = c->outputs[0];
    ValueRef in[2] = {out0, {0, 0}};
    int n_in = 1;
    if (scalar != 0) {
        Tensor t = tt_f32(0, NULL, (float[]){scalar});
        in[1] = (ValueRef){edit_add_const(c, "k", &t, &e), 0};
        tensor_release(&t);
        n_in = 2;
    }
    int m = edit_add_node(c, "changed", op, in, n_in, &e);
    assert_true(m >= 0);
    node_set_attr_type(c->nodes[m], "T", DT_FLOAT, &e);
    c->outputs[0] = (ValueRef){m, 0};
    CHECK_OK(graph_infer(c, NULL, 0, ref_eval_node, NULL, &e), &e);
    return c;
}

/* the zoo's resnet8, shapes inferred */
static Graph *resnet8(void) {
    Err e = {0};
    Graph *g = zoo_build("resnet8", NULL, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    return g;
}

static void test_accuracy_fidelity(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = resnet8();
    InputSet in;
    CHECK_OK(inputs_generate(g, 6, 100, &in, &e), &e);
    AccuracyResult a;
    CHECK_OK(accuracy_measure(g, g, &in, 1, &a, &e), &e);
    assert_true(a.top1_agreement == 1 && a.min_cosine > 1 - 1e-12 && a.max_rel_l2 == 0 && a.max_abs_err == 0);
    assert_int_equal(a.samples, 12); /* 6 batches x 2 classifier outputs (logits, probs) x 1 row */
    /* logits doubled: same direction (cosine 1), relative L2 exactly 1, same argmax */
    Graph *twice = with_output_op(g, "Mul", 2.0f);
    CHECK_OK(accuracy_measure(g, twice, &in, 1, &a, &e), &e);
    assert_true(fabs(a.min_cosine - 1) < 1e-6 && fabs(a.max_rel_l2 - 1) < 1e-6 && a.top1_agreement == 1);
    AccuracyBudget budget = {0.99, 0.99, 0.01};
    assert_true(accuracy_ok(&a, &budget));
    /* logits negated: cosine -1, the argmax moves on every logits row but not on probs */
    Graph *neg = with_output_op(g, "Neg", 0);
    CHECK_OK(accuracy_measure(g, neg, &in, 1, &a, &e), &e);
    assert_true(fabs(a.min_cosine + 1) < 1e-6);
    assert_true(fabs(a.top1_agreement - 0.5) < 1e-12);
    assert_false(accuracy_ok(&a, &budget));
    /* latency: both graphs alternately; sane summaries */
    LatencyResult lat[2];
    const Graph *both[2] = {g, twice};
    CHECK_OK(latency_measure(both, 2, &in, 5, 1, lat, &e), &e);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(lat[k].ms.n, 5);
        assert_true(lat[k].ms.min > 0 && lat[k].ms.min <= lat[k].ms.median && lat[k].ms.median <= lat[k].ms.max);
        assert_true(lat[k].peak_bytes >= lat[k].arena_bytes && lat[k].arena_bytes > 0);
    }
    graph_free(neg);
    graph_free(twice);
    inputs_free(&in);
    graph_free(g);
}

/* A fake clock with carry-over: a run costs its graph's base time, plus the previous run's
   graph's penalty when that was another graph (the cache it left). Timed in their own steady
   state, each graph's median is its base time exactly; without the settling runs the small
   graph, always after the large one in the loop, would be charged the large one's penalty. */
typedef struct CarryClock { const Graph *big, *last; int runs; } CarryClock;

static double carry_clock(const Graph *g, void *user) {
    CarryClock *c = user;
    double t = g == c->big ? 10.0 : 1.0;
    if (c->last == c->big && g != c->big) t += 8.0;
    c->last = g;
    c->runs++;
    return t;
}

static void test_settled_timing(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = resnet8();
    Graph *other = with_output_op(g, "Neg", 0);
    InputSet in;
    CHECK_OK(inputs_generate(g, 2, 7, &in, &e), &e);
    CarryClock c = {.big = g};
    latency_set_fake_timer(carry_clock, &c);
    LatencyResult lat[2];
    const Graph *both[2] = {g, other};
    CHECK_OK(latency_measure(both, 2, &in, 6, 1, lat, &e), &e);
    assert_true(lat[0].ms.median == 10.0 && lat[0].ms.max == 10.0);
    assert_true(lat[1].ms.median == 1.0 && lat[1].ms.max == 1.0);
    assert_int_equal(c.runs, 2 + 2 * 2 * 6); /* one warm-up each, then a settling and a timed run per round */
    /* one graph alone: its runs follow each other, no settling run */
    c = (CarryClock){.big = g};
    CHECK_OK(latency_measure(both, 1, &in, 6, 1, lat, &e), &e);
    assert_true(lat[0].ms.median == 10.0);
    assert_int_equal(c.runs, 1 + 6);
    /* the sequential comparison: rounds a b then b a, each timed run settled */
    c = (CarryClock){.big = g};
    SeqSignOpts so = stats_seq_sign_default();
    SeqCompare cmp;
    CHECK_OK(latency_compare_seq(g, other, &in, 1, &so, NULL, NULL, &cmp, &e), &e);
    assert_true(cmp.lat[0].ms.max == 10.0 && cmp.lat[1].ms.max == 1.0);
    assert_int_equal(cmp.decision, SEQ_NEGATIVE); /* the small graph is faster */
    latency_set_fake_timer(NULL, NULL);
    inputs_free(&in);
    graph_free(other);
    graph_free(g);
}

/* outputs that are not a Softmax's input or result (BERT's pooled features, landmarks) have no
   top-1: agreement is reported as undefined (-1), not computed on them */
static void test_no_top1_for_regression_outputs(void **state) {
    (void)state;
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.seq_len = 8;
    Graph *g = zoo_build("bert-tiny", &o, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    InputSet in;
    CHECK_OK(inputs_generate(g, 1, 3, &in, &e), &e);
    AccuracyResult a;
    CHECK_OK(accuracy_measure(g, g, &in, 1, &a, &e), &e);
    assert_true(a.top1_agreement == -1);
    assert_int_equal(a.samples, 0);
    assert_true(a.min_cosine > 1 - 1e-12);
    inputs_free(&in);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_closed_form),
        cmocka_unit_test(test_accuracy_fidelity),
        cmocka_unit_test(test_no_top1_for_regression_outputs),
        cmocka_unit_test(test_settled_timing),
    };
    return cmocka_run_group_tests_name("measure", tests, NULL, NULL);
}
