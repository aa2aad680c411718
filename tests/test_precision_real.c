/* test_precision_real.c - the precision rules on the five real trained graphs, held to the
 * product's default budget (top-1 agreement >= 99% on classifier outputs, cosine >= 0.99 on
 * every output), with calibration and evaluation on separate inputs:
 *   calibration: 8 image-like inputs in [0, 1] (seeds 1..8, testreal.h's generator mapped to
 *                the range the fixtures were fed), evaluation: 16 others (seeds 1001..1016).
 * For each fixture and method - grappler+int8, grappler+int7 (what optimize picks on CPUs
 * without VNNI), bf16_compute, weights_fp16, weights_int8 - fidelity to the float32 graph is computed
 * here on the reference runtime (cosine per output and input, argmax agreement of softmax
 * outputs) and must
 *   - meet the budget where the table below says it does (a precision rule that loses accuracy
 *     fails here), and
 *   - agree with the product's own measurement (accuracy_measure on the fast runtime): the
 *     verdict accuracy_ok gives is the one computed here, so optimize keeps what meets the
 *     budget and refuses (saying why: test_cli.c) what does not. */
#include "testreal.h"

#include "measure/measure.h"
#include "rewrite/calibrate.h"
#include "rewrite/pipeline.h"

#define N_CALIB 8
#define N_EVAL 16

/* image-like input in [0, 1] */
static void image_feeds(const Graph *g, uint64_t seed, RefFeed *feeds, int *nf) {
    *nf = tr_signed_feeds(g, seed, feeds);
    for (int k = 0; k < *nf; k++) {
        if (feeds[k].value.dtype != DT_FLOAT) continue;
        float *v = tensor_mut(&feeds[k].value);
        for (int64_t i = 0; i < tensor_numel(&feeds[k].value); i++) v[i] = 0.5f * (v[i] + 1.0f);
    }
}

typedef struct Batches {
    int n, nf;
    RefFeed *rows[N_EVAL];
    RefFeed store[N_EVAL][TR_MAX];
} Batches;

static void batches_make(const Graph *g, uint64_t seed0, int n, Batches *b) {
    b->n = n;
    for (int i = 0; i < n; i++) {
        image_feeds(g, seed0 + (uint64_t)i, b->store[i], &b->nf);
        b->rows[i] = b->store[i];
    }
}

static void batches_free(Batches *b) {
    for (int i = 0; i < b->n; i++) tr_feeds_free(b->store[i], b->nf);
}

/* is output k a softmax (the fixtures' classifier heads), looking through Identity */
static bool softmax_output(const Graph *g, int k) {
    int n = g->outputs[k].node;
    while (g->nodes[n]->op == OP_IDENTITY && g->nodes[n]->n_inputs > 0) n = g->nodes[n]->inputs[0].node;
    return !strcmp(g->nodes[n]->op_name, "Softmax");
}

typedef struct Fidelity { double top1, min_cos, max_rel_l2; int classifiers; } Fidelity;

/* cand against orig on every evaluation batch, reference runtime */
static Fidelity fidelity(const Graph *orig, const Graph *cand, const Batches *ev) {
    Fidelity f = {1, 1, 0, 0};
    int agree = 0, rows = 0;
    for (int b = 0; b < ev->n; b++) {
        Tensor want[TR_MAX], got[TR_MAX];
        tr_outputs(orig, false, ev->rows[b], ev->nf, want);
        tr_outputs(cand, false, ev->rows[b], ev->nf, got);
        for (int k = 0; k < orig->n_outputs; k++) {
            double dot = 0, na = 0, nb = 0;
            int64_t n = tensor_numel(&want[k]);
            for (int64_t i = 0; i < n; i++) {
                double x = tensor_get(&want[k], i), y = tensor_get(&got[k], i);
                dot += x * y, na += x * x, nb += y * y;
            }
            double c = na == 0 && nb == 0 ? 1 : dot / sqrt(na * nb);
            double l2 = na > 0 ? sqrt(fmax(0, nb - 2 * dot + na) / na) : sqrt(nb);
            if (!(l2 <= f.max_rel_l2)) f.max_rel_l2 = l2;
            if (!(c >= f.min_cos)) f.min_cos = c;
            if (softmax_output(orig, k)) {
                int64_t ia = 0, ib = 0;
                for (int64_t i = 1; i < n; i++) {
                    if (tensor_get(&want[k], i) > tensor_get(&want[k], ia)) ia = i;
                    if (tensor_get(&got[k], i) > tensor_get(&got[k], ib)) ib = i;
                }
                agree += ia == ib;
                rows++;
            }
            tensor_release(&want[k]);
            tensor_release(&got[k]);
        }
    }
    f.classifiers = rows > 0;
    f.top1 = rows ? (double)agree / rows : -1;
    return f;
}

enum { M_INT8, M_INT7, M_BF16, M_FP16W, M_INT8W, N_METHODS };
static const char *const METHOD[N_METHODS] = {"grappler+int8", "grappler+int7", "bf16_compute", "weights_fp16", "weights_int8"};

/* Which (fixture, method) pairs meet the default budget on these inputs (measured on this
   suite's inputs and recorded here: a rule change that loses accuracy shows up as a failure;
   one that gains it too, so the table stays true). Rows: TR_FIXTURES order. What it says:
   full-range int8 and int7 post-training quantization keep the budget on none of these
   graphs but gender's int7 (emotion int8 reaches cosine 0.983; handlandmark and selfie lose
   far more, selfie's near-zero mask most of all); bf16 compute keeps it except on selfie;
   fp16 weights everywhere; int8 weights except on handlandmark and selfie. optimize refuses
   every "false" here with the accuracy reason. */
static const bool MEETS[TR_N_FIXTURES][N_METHODS] = {
    /*                         int8   int7   bf16   fp16 w int8 w */
    /* blazeface-front   */ {false, false, true, true, true},
    /* emotion           */ {false, false, true, true, true},
    /* gender            */ {false, true, true, true, true}, /* int8: top-1 93.75% cosine 0.99804 (100% / 0.99911
                                                                with int8_residual_chain, not in grappler+int8) */
    /* handlandmark-lite */ {false, false, true, true, false},
    /* selfie            */ {false, false, false, true, false},
};

static Graph *apply_method(const Graph *calibrated, int m, RewriteLog *log) {
    Err e = {0};
    Graph *c = graph_clone(calibrated, &e);
    assert_non_null(c);
    if (m == M_INT8 || m == M_INT7) {
        CHECK_OK(pipeline_run(METHOD[m], c, 0, log, &e), &e);
    } else {
        const char *rule = METHOD[m];
        CHECK_OK(pipeline_fixed_point(&rule, 1, c, 0, 4, log, &e), &e);
    }
    return c;
}

static void precision_on(int fx) {
    Err e = {0};
    Fixture f;
    fixture_load(TR_FIXTURES[fx], &f);
    Batches cal, ev;
    batches_make(f.g, 1, N_CALIB, &cal);
    batches_make(f.g, 1001, N_EVAL, &ev);
    Graph *calibrated = graph_clone(f.g, &e);
    assert_non_null(calibrated);
    assert_true(calibrate_graph(calibrated, (const RefFeed *const *)cal.rows, cal.n, cal.nf, CALIB_PERCENTILE, &e) > 0);
    InputSet in = {.n_batches = ev.n, .n_feeds = ev.nf, .feeds = ev.rows};
    AccuracyBudget budget = {0.99, 0.99, 0.01};
    int wrong = 0;
    for (int m = 0; m < N_METHODS; m++) {
        RewriteLog log = {0};
        Graph *c = apply_method(calibrated, m, &log);
        int prec = 0;
        for (int k = 0; k < log.n; k++) {
            prec += (rule_by_name(log.v[k].rule)->flags & RULE_PRECISION) ? log.v[k].count : 0;
            /* the pipeline named int8 quantizes to 8 bits, the one named int7 to 7 */
            if (m == M_INT8) assert_null(strstr(log.v[k].rule, "_int7"));
            if (m == M_INT7) assert_null(strstr(log.v[k].rule, "_int8"));
        }
        Fidelity fid = fidelity(f.g, c, &ev);
        AccuracyResult acc;
        CHECK_OK(accuracy_measure(f.g, c, &in, 1, &acc, &e), &e);
        bool meets = fid.min_cos >= budget.min_cosine && (fid.top1 < 0 || fid.top1 >= budget.min_top1);
        printf("[ precision] %-18s %-14s %3d precision rewrites: top-1 %6.2f%% cosine %.5f (reference runtime) | product: top-1 %6.2f%% "
               "cosine %.5f -> %s; rel L2 %.3g\n",
               f.name, METHOD[m], prec, 100 * fid.top1, fid.min_cos, 100 * acc.top1_agreement, acc.min_cosine,
               accuracy_ok(&acc, &budget) ? "kept" : "refused", fid.max_rel_l2);
        assert_true(prec > 0); /* the method changed something: a no-op would meet any budget */
        if (meets != MEETS[fx][m]) {
            print_error("%s %s: %s the default budget, the table says it %s\n", f.name, METHOD[m], meets ? "meets" : "misses",
                        MEETS[fx][m] ? "meets it" : "misses it");
            wrong++;
        }
        /* the product's verdict is the one computed here (both runtimes, same inputs), wherever
           the two runtimes' rounding cannot decide it: cosine not within 0.005 of the budget,
           top-1 not one or two of 16 rows from it (oneDNN's int8 kernels on VNNI CPUs round
           differently from the reference kernels) */
        bool clear = fabs(fid.min_cos - budget.min_cosine) > 0.005 && (fid.top1 < 0 || fid.top1 == 1 || fid.top1 < 0.85);
        if (clear) assert_int_equal(accuracy_ok(&acc, &budget), meets);
        /* cosine and top-1 do not see a scale: what meets the budget must also be close in
           magnitude (cosine 0.99 allows a relative L2 error of 0.14 at most by itself) */
        if (meets && !(fid.max_rel_l2 <= 0.2)) {
            print_error("%s %s: meets the budget but relative L2 error %.3g > 0.2\n", f.name, METHOD[m], fid.max_rel_l2);
            wrong++;
        }
        /* near the budget the two runtimes' numbers agree closely (far from it, the reference
           int8 kernels and oneDNN's round differently enough to differ by more) */
        if (fmax(acc.min_cosine, fid.min_cos) >= 0.98) assert_true(fabs(acc.min_cosine - fid.min_cos) <= 0.005);
        graph_free(c);
    }
    assert_int_equal(wrong, 0);
    graph_free(calibrated);
    batches_free(&cal);
    batches_free(&ev);
    fixture_free(&f);
}

static void test_blazeface(void **s) { (void)s; precision_on(0); }
static void test_emotion(void **s) { (void)s; precision_on(1); }
static void test_gender(void **s) { (void)s; precision_on(2); }
static void test_handlandmark(void **s) { (void)s; precision_on(3); }
static void test_selfie(void **s) { (void)s; precision_on(4); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blazeface), cmocka_unit_test(test_emotion),  cmocka_unit_test(test_gender),
        cmocka_unit_test(test_handlandmark), cmocka_unit_test(test_selfie),
    };
    return cmocka_run_group_tests_name("precision_real", tests, NULL, NULL);
}
