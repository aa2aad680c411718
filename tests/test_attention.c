/* test_attention.c - GrappoAttention (infer_attention.c, ref_attention.c, native_attention.c)
 * and the rule fuse_attention (rules_fuse_attention.c):
 *   - the reference kernel on a tiny case worked out by hand (B=H=1, S=D=2), with and without
 *     a mask, and against the stock-op composition (BatchMatMulV2, Mul, AddV2, Softmax,
 *     BatchMatMulV2) on random inputs;
 *   - the fast kernel, both its oneDNN path and its plain C fallback, against the reference
 *     (masks [B,1,1,S], [S,S], [B,H,S,S], none; a row masked with -inf everywhere gives NaN
 *     in both) on [1,2,16,8], [2,3,5,4], [1,1,1,1], [2,2,33,17], [1,12,128,64]; the oneDNN
 *     path must be taken for all of them (never oneDNN's "ref" kernels);
 *   - the fused node against the stock chain inside fast-runtime plans ([1,12,128,64]), with
 *     timings of both at 1 and 2 threads (printed);
 *   - inference errors (shapes that do not agree, bad mask, attributes);
 *   - the rule on hand-built patterns in every spelling it accepts, the near misses it must
 *     refuse, each site checked on both runtimes (tr_check_each_site) with structural asserts;
 *     bert-tiny (seq 16) rewritten to exhaustion (2 sites), and CNN / random models (none). */
#include <time.h>

#include "testfast.h"
#include "testrules.h"

#include "io/graphdef.h"
#include "runtime/plan.h"
#include "util/rng.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"


#define TOL 1e-5

static const RuleDef *rule(void) {
    const RuleDef *r = rule_by_name("fuse_attention");
    assert_non_null(r);
    return r;
}

static int n_sites(const Graph *g) { return tr_site_count(rule(), g); }

static Graph *finish(Builder *b) { return tr_finish(b); }

/* ---- a graph holding one GrappoAttention over placeholders ---- */

typedef struct AttShapes {
    Shape q, k, v, mask; /* mask.rank < 0: no mask */
} AttShapes;

/* Placeholders q, k, v (and mask) and node "att"; returns NULL and fills *err on failure
   (inference errors). has_mask_attr: 0 false, 1 true, -1 absent. */
static Graph *att_graph(const AttShapes *s, float scale, int has_mask_attr, bool set_scale, Err *err) {
    Builder b;
    if (bld_init(&b, 1, false, err)) return NULL;
    ValueRef in[4];
    int n = 3;
    in[0] = bld_placeholder(&b, "q", DT_FLOAT, s->q, NULL);
    in[1] = bld_placeholder(&b, "k", DT_FLOAT, s->k, NULL);
    in[2] = bld_placeholder(&b, "v", DT_FLOAT, s->v, NULL);
    if (s->mask.rank >= 0) in[n++] = bld_placeholder(&b, "mask", DT_FLOAT, s->mask, NULL);
    int node = bld_begin(&b, "att", "GrappoAttention", in, n);
    bld_attr_type(&b, node, "T", DT_FLOAT);
    if (set_scale) bld_attr_f(&b, node, "scale", scale);
    if (has_mask_attr >= 0) bld_attr_b(&b, node, "has_mask", has_mask_attr == 1);
    bld_add_output(&b, bld_end(&b, node));
    return bld_finish(&b);
}

static Graph *att_graph_ok(const AttShapes *s, float scale) {
    Err e = {0};
    Graph *g = att_graph(s, scale, s->mask.rank >= 0, true, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    return g;
}

static Tensor rand_tensor(Rng *r, Shape s, double lo, double hi) {
    Tensor t;
    Err e = {0};
    CHECK_OK(tensor_alloc(&t, DT_FLOAT, &s, &e), &e);
    float *p = tensor_mut(&t);
    for (int64_t i = 0; i < tensor_numel(&t); i++) p[i] = (float)(lo + (hi - lo) * rng_uniform(r));
    return t;
}

/* runs g's reference on feeds q, k, v[, mask] (in[0..n)) -> out (graph output 0) */
static Tensor run_ref(const Graph *g, const Tensor *in, int n) {
    const char *names[4] = {"q", "k", "v", "mask"};
    RefFeed f[4];
    for (int i = 0; i < n; i++) {
        f[i].name = names[i];
        f[i].value = in[i];
    }
    Tensor out;
    Err e = {0};
    CHECK_OK(ref_run(g, f, n, NULL, 0, &out, NULL, &e), &e);
    return out;
}

/* ---- reference: worked out by hand ---- */

/* q = k = I (2x2), v = [[1,2],[3,4]], scale 1: scores = I. Row 0: softmax(1, 0) puts
   p = 1/(1+e) on key 1, so out = [1,2] + 2p [1,1]; row 1 puts 1 - p on key 1: out = [3,4] - 2p.
   With mask [0, ln 3] (broadcast from [1,1,1,2]) and scale 2: row 0 scores (2, ln 3), weight
   on key 1 w0 = 3 / (e^2 + 3); row 1 scores (0, 2 + ln 3), w1 = 3e^2 / (1 + 3e^2);
   out = [1,2] + 2w [1,1]. */
static void ref_by_hand(void **state) {
    (void)state;
    int64_t d4[4] = {1, 1, 2, 2};
    AttShapes s = {shape_make(4, d4), shape_make(4, d4), shape_make(4, d4), {.rank = -1}};
    Tensor in[4] = {tt_f32(4, d4, (float[]){1, 0, 0, 1}), tt_f32(4, d4, (float[]){1, 0, 0, 1}),
                    tt_f32(4, d4, (float[]){1, 2, 3, 4})};
    Graph *g = att_graph_ok(&s, 1.0f);
    Tensor out = run_ref(g, in, 3);
    double p = 1.0 / (1.0 + exp(1.0));
    Tensor want = tt_f32(4, d4, (float[]){(float)(1 + 2 * p), (float)(2 + 2 * p), (float)(3 - 2 * p), (float)(4 - 2 * p)});
    assert_tensor_near(&out, &want, 1e-6);
    tensor_release(&out);
    tensor_release(&want);
    graph_free(g);

    s.mask = shape_make(4, (int64_t[]){1, 1, 1, 2});
    g = att_graph_ok(&s, 2.0f);
    in[3] = tt_f32(4, s.mask.dim, (float[]){0, (float)log(3.0)});
    out = run_ref(g, in, 4);
    double e2 = exp(2.0), w0 = 3 / (e2 + 3), w1 = 3 * e2 / (1 + 3 * e2);
    want = tt_f32(4, d4, (float[]){(float)(1 + 2 * w0), (float)(2 + 2 * w0), (float)(1 + 2 * w1), (float)(2 + 2 * w1)});
    assert_tensor_near(&out, &want, 1e-6);
    /* a mask of -10000 on key 1 leaves only key 0: out rows = v row 0 */
    tensor_release(&in[3]);
    in[3] = tt_f32(4, s.mask.dim, (float[]){0, -10000});
    Tensor out2 = run_ref(g, in, 4);
    Tensor want2 = tt_f32(4, d4, (float[]){1, 2, 1, 2});
    assert_tensor_near(&out2, &want2, 1e-6);
    for (int i = 0; i < 4; i++) tensor_release(&in[i]);
    tensor_release(&out);
    tensor_release(&want);
    tensor_release(&out2);
    tensor_release(&want2);
    graph_free(g);
}

/* no keys (Sk = 0): zeros, as Softmax over an empty axis and a matmul over it give; the fast
   kernel declines */
static void ref_no_keys(void **state) {
    (void)state;
    int64_t dq[4] = {1, 1, 2, 2}, dk[4] = {1, 1, 0, 2};
    AttShapes s = {shape_make(4, dq), shape_make(4, dk), shape_make(4, dk), {.rank = -1}};
    Graph *g = att_graph_ok(&s, 1.0f);
    Tensor in[3] = {tt_f32(4, dq, (float[]){1, 2, 3, 4}), tt_f32(4, dk, (float[]){0}), tt_f32(4, dk, (float[]){0})};
    Tensor out = run_ref(g, in, 3), want = tt_f32(4, dq, (float[]){0, 0, 0, 0});
    assert_tensor_near(&out, &want, 0);
    Tensor got[1];
    Err e = {0};
    assert_int_equal(tf_fast_node(fast_compile_attention, g, graph_find(g, "att"), in, got, NULL, 0, &e), 0);
    for (int i = 0; i < 3; i++) tensor_release(&in[i]);
    tensor_release(&out);
    tensor_release(&want);
    graph_free(g);
}

/* the fused op and the stock-op composition side by side in one graph, same inputs */
static void ref_vs_composition(void **state) {
    (void)state;
    for (int masked = 0; masked < 2; masked++) {
        Builder b;
        Err e = {0};
        CHECK_OK(bld_init(&b, 3, false, &e), &e);
        Shape qs = shape_make(4, (int64_t[]){2, 3, 5, 4}), ms = shape_make(4, (int64_t[]){2, 1, 1, 5});
        ValueRef q = bld_placeholder(&b, "q", DT_FLOAT, qs, NULL), k = bld_placeholder(&b, "k", DT_FLOAT, qs, NULL),
                 v = bld_placeholder(&b, "v", DT_FLOAT, qs, NULL), m = BLD_NONE;
        if (masked) m = bld_placeholder(&b, "mask", DT_FLOAT, ms, NULL);
        ValueRef s = bld_batch_matmul(&b, "s", q, k, false, true);
        s = bld_binary(&b, "scaled", "Mul", s, bld_scalar_f32(&b, "c", 0.5f));
        if (masked) s = bld_binary(&b, "masked", "AddV2", s, m);
        ValueRef comp = bld_batch_matmul(&b, "pv", bld_softmax(&b, "p", s), v, false, false);
        ValueRef in[4] = {q, k, v, m};
        int node = bld_begin(&b, "att", "GrappoAttention", in, 3 + masked);
        bld_attr_type(&b, node, "T", DT_FLOAT);
        bld_attr_f(&b, node, "scale", 0.5f);
        bld_attr_b(&b, node, "has_mask", masked);
        bld_add_output(&b, bld_end(&b, node));
        bld_add_output(&b, comp);
        Graph *g = finish(&b);
        Rng r;
        rng_seed(&r, 9);
        Tensor t[4] = {rand_tensor(&r, qs, -2, 2), rand_tensor(&r, qs, -2, 2), rand_tensor(&r, qs, -1, 1),
                       rand_tensor(&r, ms, -3, 0)};
        RefFeed f[4] = {{"q", t[0]}, {"k", t[1]}, {"v", t[2]}, {"mask", t[3]}};
        Tensor out[2];
        CHECK_OK(ref_run(g, f, 3 + masked, NULL, 0, out, NULL, &e), &e);
        assert_true(tf_rel_err(&out[0], &out[1]) <= 1e-6);
        /* the mask matters: without it the result differs */
        if (masked) {
            Graph *plain = att_graph_ok(&(AttShapes){qs, qs, qs, {.rank = -1}}, 0.5f);
            Tensor o = run_ref(plain, t, 3);
            assert_true(tf_rel_err(&o, &out[0]) > 1e-3);
            tensor_release(&o);
            graph_free(plain);
        }
        for (int i = 0; i < 4; i++) tensor_release(&t[i]);
        tensor_release(&out[0]);
        tensor_release(&out[1]);
        graph_free(g);
    }
}

/* ---- fast kernel vs reference ---- */

/* kind: 0 none, 1 [B,1,1,Sk] padding mask (0 / -10000), 2 [Sq,Sk] causal, 3 [B,H,Sq,Sk] random */
/* the fast family with no oneDNN context: its plain C fallback, which runs whenever oneDNN
   declines one of the three primitives */
static int compile_fallback(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    (void)ctx;
    return fast_compile_attention(NULL, g, n, k, err);
}

/* native: run the plain C fallback (impl "native:attention"), else the oneDNN path (which every
   case here must take: an impl other than "native:attention", and never oneDNN's "ref") */
static double fast_vs_ref(int64_t B, int64_t H, int64_t S, int64_t D, int kind, float scale, bool native, double *ms_fast,
                          double *ms_ref) {
    Shape qs = shape_make(4, (int64_t[]){B, H, S, D});
    AttShapes s = {qs, qs, qs, {.rank = -1}};
    if (kind == 1) s.mask = shape_make(4, (int64_t[]){B, 1, 1, S});
    if (kind == 2) s.mask = shape_make(2, (int64_t[]){S, S});
    if (kind == 3) s.mask = shape_make(4, (int64_t[]){B, H, S, S});
    Graph *g = att_graph_ok(&s, scale);
    Rng r;
    rng_seed(&r, (uint64_t)(B * 1000 + H * 100 + S + kind));
    Tensor in[4] = {rand_tensor(&r, qs, -2, 2), rand_tensor(&r, qs, -2, 2), rand_tensor(&r, qs, -1, 1)};
    int n = 3;
    if (kind) {
        in[3] = rand_tensor(&r, s.mask, -3, 0);
        float *m = tensor_mut(&in[3]);
        if (kind == 1)
            for (int64_t b = 0; b < B; b++)
                for (int64_t j = 0; j < S; j++) m[b * S + j] = j < S - 1 - b ? 0.0f : -10000.0f;
        if (kind == 2)
            for (int64_t i = 0; i < S; i++)
                for (int64_t j = 0; j < S; j++) m[i * S + j] = j <= i ? 0.0f : -10000.0f;
        n = 4;
    }
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    Tensor want = run_ref(g, in, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int node = graph_find(g, "att");
    Tensor got[1];
    Err e = {0};
    char impl[64];
    assert_int_equal(tf_fast_node(native ? compile_fallback : fast_compile_attention, g, node, in, got, impl, sizeof impl, &e),
                     1);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    if (native) assert_string_equal(impl, "native:attention");
    else if (strcmp(impl, "native:attention") == 0 || strncmp(impl, "ref", 3) == 0) {
        print_error("[%lld,%lld,%lld,%lld] mask kind %d: oneDNN path not taken (%s)\n", (long long)B, (long long)H,
                    (long long)S, (long long)D, kind, impl);
        fail();
    }
    double err = tf_rel_err(&got[0], &want);
    if (ms_ref) *ms_ref = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6;
    if (ms_fast) *ms_fast = (t2.tv_sec - t1.tv_sec) * 1e3 + (t2.tv_nsec - t1.tv_nsec) * 1e-6;
    for (int i = 0; i < n; i++) tensor_release(&in[i]);
    tensor_release(&want);
    tensor_release(&got[0]);
    graph_free(g);
    return err;
}

static void fast_matches_ref(void **state) {
    (void)state;
    static const int64_t cases[][4] = {{1, 2, 16, 8}, {2, 3, 5, 4}, {1, 1, 1, 1}, {2, 2, 33, 17}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int kind = 0; kind < 4; kind++)
            for (int native = 0; native < 2; native++) {
                double err = fast_vs_ref(cases[c][0], cases[c][1], cases[c][2], cases[c][3], kind, 0.35f, native, NULL, NULL);
                if (!(err <= 1e-4)) {
                    print_error("[%lld,%lld,%lld,%lld] mask kind %d (%s): rel err %g\n", (long long)cases[c][0],
                                (long long)cases[c][1], (long long)cases[c][2], (long long)cases[c][3], kind,
                                native ? "fallback" : "oneDNN", err);
                    fail();
                }
            }
}

static void fast_bert_base_shape(void **state) {
    (void)state;
    double ms_fast, ms_ref;
    for (int native = 0; native < 2; native++) {
        double err = fast_vs_ref(1, 12, 128, 64, 1, 0.125f, native, &ms_fast, &ms_ref);
        if (!(err <= 1e-4)) { print_error("[1,12,128,64]: rel err %g\n", err); fail(); }
        print_message("[1,12,128,64] masked (%s): rel err %.2g, fast %.2f ms (incl. compile), reference %.1f ms\n",
                      native ? "fallback" : "oneDNN", err, ms_fast, ms_ref);
    }
}

/* a row whose mask is -inf everywhere: NaN in both (as Softmax gives), the other rows finite */
static void fast_all_masked_row_is_nan(void **state) {
    (void)state;
    int64_t d4[4] = {1, 1, 2, 2};
    AttShapes s = {shape_make(4, d4), shape_make(4, d4), shape_make(4, d4), shape_make(2, (int64_t[]){2, 2})};
    Graph *g = att_graph_ok(&s, 1.0f);
    Tensor in[4] = {tt_f32(4, d4, (float[]){1, 0, 0, 1}), tt_f32(4, d4, (float[]){1, 0, 0, 1}),
                    tt_f32(4, d4, (float[]){1, 2, 3, 4}), tt_f32(2, (int64_t[]){2, 2}, (float[]){0, 0, -INFINITY, -INFINITY})};
    Tensor want = run_ref(g, in, 4), got[1];
    Err e = {0};
    for (int native = 0; native < 2; native++) {
        char impl[64];
        assert_int_equal(tf_fast_node(native ? compile_fallback : fast_compile_attention, g, graph_find(g, "att"), in, got,
                                      impl, sizeof impl, &e),
                         1);
        assert_int_equal(strcmp(impl, "native:attention") == 0, native);
        const float *w = tensor_data(&want), *o = tensor_data(&got[0]);
        for (int i = 0; i < 2; i++) {
            assert_true(isfinite(w[i]) && fabsf(w[i] - o[i]) <= 1e-6f);
            assert_true(isnan(w[2 + i]) && isnan(o[2 + i]));
        }
        tensor_release(&got[0]);
    }
    for (int i = 0; i < 4; i++) tensor_release(&in[i]);
    tensor_release(&want);
    graph_free(g);
}

/* best of `reps` plan runs of g fetching `fetch`, in ms */
static double plan_best_ms(const Graph *g, ValueRef fetch, int threads, const RefFeed *f, int nf, int reps) {
    Err e = {0};
    PlanOpts o = {.threads = threads};
    Plan *p = plan_compile(g, &fetch, 1, &o, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        Tensor out;
        PlanTiming t = {0};
        CHECK_OK(plan_run(p, f, nf, &out, &t, &e), &e);
        if (t.total_ms < best) best = t.total_ms;
        tensor_release(&out);
    }
    plan_free(p);
    return best;
}

/* BERT-base attention ([1,12,128,64], mask [1,1,1,128]) on the fast runtime: the fused node
   against the stock chain BatchMatMulV2 -> Mul -> AddV2 -> Softmax -> BatchMatMulV2, 1 and 2
   threads. Informational (timings are noisy on a shared machine); it checks that the fused
   node runs on the oneDNN path inside a plan and agrees with the chain. */
static void fast_vs_stock_chain_timing(void **state) {
    (void)state;
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    Shape qs = shape_make(4, (int64_t[]){1, 12, 128, 64}), ms = shape_make(4, (int64_t[]){1, 1, 1, 128});
    ValueRef q = bld_placeholder(&b, "q", DT_FLOAT, qs, NULL), k = bld_placeholder(&b, "k", DT_FLOAT, qs, NULL),
             v = bld_placeholder(&b, "v", DT_FLOAT, qs, NULL), m = bld_placeholder(&b, "mask", DT_FLOAT, ms, NULL);
    ValueRef s = bld_batch_matmul(&b, "s", q, k, false, true);
    s = bld_binary(&b, "scaled", "Mul", s, bld_scalar_f32(&b, "c", 0.125f));
    s = bld_binary(&b, "masked", "AddV2", s, m);
    ValueRef comp = bld_batch_matmul(&b, "pv", bld_softmax(&b, "p", s), v, false, false);
    ValueRef in[4] = {q, k, v, m};
    int node = bld_begin(&b, "att", "GrappoAttention", in, 4);
    bld_attr_type(&b, node, "T", DT_FLOAT);
    bld_attr_f(&b, node, "scale", 0.125f);
    bld_attr_b(&b, node, "has_mask", true);
    ValueRef att = bld_end(&b, node);
    bld_add_output(&b, att);
    bld_add_output(&b, comp);
    Graph *g = finish(&b);
    Rng r;
    rng_seed(&r, 5);
    Tensor t[4] = {rand_tensor(&r, qs, -2, 2), rand_tensor(&r, qs, -2, 2), rand_tensor(&r, qs, -1, 1),
                   rand_tensor(&r, ms, -3, 0)};
    RefFeed f[4] = {{"q", t[0]}, {"k", t[1]}, {"v", t[2]}, {"mask", t[3]}};
    /* agreement inside plans, and the fused node on oneDNN */
    PlanOpts o = {.threads = 1};
    Plan *p = plan_compile(g, NULL, 0, &o, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    const char *impl = plan_node_impl(p, graph_find(g, "att"));
    assert_non_null(impl);
    assert_true(strcmp(impl, "native:attention") != 0 && strncmp(impl, "ref", 3) != 0);
    print_message("impls: att %s, chain s %s, p %s, pv %s\n", impl, plan_node_impl(p, graph_find(g, "s")),
                  plan_node_impl(p, graph_find(g, "p")), plan_node_impl(p, graph_find(g, "pv")));
    Tensor out[2];
    CHECK_OK(plan_run(p, f, 4, out, NULL, &e), &e);
    assert_true(tf_rel_err(&out[0], &out[1]) <= 1e-4);
    tensor_release(&out[0]);
    tensor_release(&out[1]);
    plan_free(p);
    for (int threads = 1; threads <= 2; threads++) {
        double fused = plan_best_ms(g, att, threads, f, 4, 15), chain = plan_best_ms(g, comp, threads, f, 4, 15);
        print_message("[1,12,128,64] mask [1,1,1,128], %d thread(s): GrappoAttention %.3f ms, stock chain %.3f ms\n", threads,
                      fused, chain);
    }
    dnn_set_threads(0);
    for (int i = 0; i < 4; i++) tensor_release(&t[i]);
    graph_free(g);
}

/* ---- inference errors ---- */

static void expect_infer_error(const AttShapes *s, int has_mask_attr, bool set_scale, float scale, const char *needle) {
    Err e = {0};
    Graph *g = att_graph(s, scale, has_mask_attr, set_scale, &e);
    if (g) { print_error("expected an error containing '%s'\n", needle); fail(); }
    if (!strstr(e.msg, needle)) { print_error("error '%s' does not mention '%s'\n", e.msg, needle); fail(); }
}

static void infer_errors(void **state) {
    (void)state;
    Shape q = shape_make(4, (int64_t[]){2, 3, 5, 4}), none = {.rank = -1};
    AttShapes ok = {q, q, q, none};
    Graph *g = att_graph_ok(&ok, 0.5f);
    const Value *out = &g->nodes[graph_find(g, "att")]->outputs[0];
    assert_int_equal(out->dtype, DT_FLOAT);
    assert_true(shape_equal(&out->shape, &q));
    graph_free(g);
    /* k with another length, v with another width: [2,3,5,4] x [2,3,7,4] x [2,3,7,6] -> [2,3,5,6] */
    AttShapes gen = {q, shape_make(4, (int64_t[]){2, 3, 7, 4}), shape_make(4, (int64_t[]){2, 3, 7, 6}), none};
    g = att_graph_ok(&gen, 0.5f);
    Shape want = shape_make(4, (int64_t[]){2, 3, 5, 6});
    assert_true(shape_equal(&g->nodes[graph_find(g, "att")]->outputs[0].shape, &want));
    graph_free(g);

    AttShapes bad = ok;
    bad.q = shape_make(3, (int64_t[]){3, 5, 4});
    expect_infer_error(&bad, 0, true, 1, "rank 4");
    bad = ok;
    bad.k = shape_make(4, (int64_t[]){2, 3, 5, 8});
    expect_infer_error(&bad, 0, true, 1, "agree on D");
    bad = ok;
    bad.v = shape_make(4, (int64_t[]){2, 3, 6, 4});
    expect_infer_error(&bad, 0, true, 1, "key length");
    bad = ok;
    bad.k = shape_make(4, (int64_t[]){1, 3, 5, 4});
    expect_infer_error(&bad, 0, true, 1, "B and H");
    bad = ok;
    bad.mask = shape_make(4, (int64_t[]){2, 1, 1, 6});
    expect_infer_error(&bad, 1, true, 1, "not broadcastable");
    bad.mask = shape_make(5, (int64_t[]){1, 2, 1, 1, 5});
    expect_infer_error(&bad, 1, true, 1, "rank above 4");
    bad.mask = shape_make(4, (int64_t[]){2, 1, 1, 5});
    expect_infer_error(&bad, 0, true, 1, "has_mask is false");
    expect_infer_error(&ok, 1, true, 1, "has_mask is true");
    expect_infer_error(&ok, 0, false, 1, "scale");
    expect_infer_error(&ok, 0, true, INFINITY, "finite");
}

/* ---- the rule on hand-built patterns ---- */

typedef struct PatSpec {
    int form;          /* 0 s*c+m, 1 s/c+m (RealDiv), 2 (s+m)*c, 3 (s+m)/c, 4 s*c, 5 s/c, 6 s (bare), 7 s+m */
    bool swap;         /* Mul and Add operands the other way round */
    bool add_v1;       /* Add instead of AddV2 */
    bool bmm_v1;       /* BatchMatMul instead of BatchMatMulV2 */
    bool const_mask;   /* mask a Const (else computed from a placeholder) */
    int second_reader; /* 1 scores, 2 scaled, 3 masked, 4 softmax also fetched; 5 a second reader
                          (Neg) of the softmax */
    bool ctrl;         /* a NoOp waits for the Softmax */
    bool ctrl_anchor;  /* a NoOp waits for the anchor */
    bool k_pretransposed; /* adj_y false with k already [B,H,D,S] */
    bool adj_x_anchor; /* the second matmul with adj_x */
    bool scale_placeholder; /* the scale a Placeholder (not known) */
    bool scale_two;    /* the scale a 2-element Const */
    bool mask_grows;   /* mask [3,1,1,S] with B = 1: the add broadcasts the scores up */
    bool batch_bcast;  /* k with B = 1 while q has B = 2 (BatchMatMulV2 broadcasts) */
    bool anchor_output; /* the anchor itself is the graph output (no Identity) */
} PatSpec;

#define PB 2
#define PH 2
#define PS 6
#define PD 4

/* x op y, or y op x when swap (never for RealDiv) */
static ValueRef bin(Builder *b, bool swap, const char *name, const char *op, ValueRef x, ValueRef y) {
    return swap && op[0] != 'R' /* RealDiv does not commute */ ? bld_binary(b, name, op, y, x) : bld_binary(b, name, op, x, y);
}

/* q0, k0, v0 [B,S,H,D] placeholders in [0,1) spread to [-2,2), each Transposed to [B,H,S,D]; the
   pattern; outputs Identity "out" of the anchor "att/MatMul_1" (and extra fetches) */
static Graph *pat_graph(const PatSpec *p) {
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 4, false, &e), &e);
    int64_t bq = p->mask_grows ? 1 : PB;
    ValueRef x[3];
    const char *names[3] = {"q0", "k0", "v0"};
    for (int i = 0; i < 3; i++) {
        int64_t bb = (p->batch_bcast && i == 1) ? 1 : bq;
        char n1[32], n2[32], n3[32], n4[32];
        snprintf(n1, sizeof n1, "%s/spread", names[i]);
        snprintf(n2, sizeof n2, "%s/four", names[i]);
        snprintf(n3, sizeof n3, "%s/minus_two", names[i]);
        snprintf(n4, sizeof n4, "%s/transpose", names[i]);
        ValueRef ph = bld_placeholder(&b, names[i], DT_FLOAT, shape_make(4, (int64_t[]){bb, PS, PH, PD}), NULL);
        ValueRef y = bld_binary(&b, n1, "Mul", ph, bld_scalar_f32(&b, n2, 4));
        char n5[32];
        snprintf(n5, sizeof n5, "%s/shift", names[i]);
        y = bld_binary(&b, n5, "AddV2", y, bld_scalar_f32(&b, n3, -2));
        int32_t perm[4] = {0, 2, 1, 3};
        if (i == 1 && p->k_pretransposed) perm[2] = 3, perm[3] = 1;
        x[i] = bld_transpose(&b, n4, y, perm, 4);
    }
    ValueRef mask;
    int64_t mb = p->mask_grows ? 3 : PB;
    if (p->const_mask) {
        Tensor t = bld_filled(&b, shape_make(4, (int64_t[]){mb, 1, 1, PS}), 0.0f);
        float *m = tensor_mut(&t);
        for (int64_t i = 0; i < mb; i++) m[i * PS + PS - 1 - i] = -10000.0f;
        mask = bld_const(&b, "mask", &t);
    } else {
        /* (1 - m) * -10000 with m in [0,1): a real-valued mask computed at run time */
        ValueRef m = bld_placeholder(&b, "m", DT_FLOAT, shape_make(4, (int64_t[]){mb, 1, 1, PS}), NULL);
        ValueRef one_minus = bld_binary(&b, "mask/sub", "Sub", bld_scalar_f32(&b, "mask/one", 1), m);
        mask = bld_binary(&b, "mask/mul", "Mul", one_minus, bld_scalar_f32(&b, "mask/scale", -3));
    }
    ValueRef s = bld_batch_matmul(&b, "att/MatMul", x[0], x[1], false, !p->k_pretransposed);
    if (p->bmm_v1) b.g->nodes[s.node]->op_name[strlen("BatchMatMul")] = '\0', b.g->nodes[s.node]->op = OP_BATCH_MATMUL;
    ValueRef c;
    if (p->scale_placeholder) {
        c = bld_placeholder(&b, "att/c", DT_FLOAT, shape_make(0, NULL), NULL);
    } else if (p->scale_two) {
        Tensor t = bld_filled(&b, shape_make(4, (int64_t[]){2, 1, 1, 1}), 0.5f);
        c = bld_const(&b, "att/c", &t);
    } else {
        bool div = p->form == 1 || p->form == 3 || p->form == 5;
        c = bld_scalar_f32(&b, "att/c", div ? 2.0f : 0.5f);
    }
    const char *add = p->add_v1 ? "Add" : "AddV2";
    ValueRef scaled = BLD_NONE, masked = BLD_NONE, logits;
    switch (p->form) {
    case 0: case 1:
        scaled = bin(&b, p->swap, "att/Mul", p->form ? "RealDiv" : "Mul", s, c);
        logits = masked = bin(&b, p->swap, "att/add", add, scaled, mask);
        break;
    case 2: case 3:
        masked = bin(&b, p->swap, "att/add", add, s, mask);
        logits = scaled = bin(&b, p->swap, "att/Mul", p->form == 3 ? "RealDiv" : "Mul", masked, c);
        break;
    case 4: case 5:
        logits = scaled = bin(&b, p->swap, "att/Mul", p->form == 5 ? "RealDiv" : "Mul", s, c);
        break;
    case 6: logits = s; break;
    default: logits = masked = bin(&b, p->swap, "att/add", add, s, mask); break;
    }
    ValueRef probs = bld_softmax(&b, "att/Softmax", logits);
    ValueRef y = bld_batch_matmul(&b, "att/MatMul_1", probs, x[2], p->adj_x_anchor, false);
    if (p->bmm_v1) b.g->nodes[y.node]->op_name[strlen("BatchMatMul")] = '\0', b.g->nodes[y.node]->op = OP_BATCH_MATMUL;
    if (p->ctrl || p->ctrl_anchor) {
        int noop = bld_begin(&b, "att/wait", "NoOp", NULL, 0);
        CHECK_OK(node_add_ctrl(b.g, noop, p->ctrl ? probs.node : y.node, &e), &e);
        bld_end(&b, noop);
    }
    bld_add_output(&b, p->anchor_output ? y : bld_identity(&b, "out", y));
    ValueRef extra[5] = {s, scaled, masked, probs, BLD_NONE};
    if (p->second_reader >= 1 && p->second_reader <= 4) bld_add_output(&b, extra[p->second_reader - 1]);
    if (p->second_reader == 5) bld_add_output(&b, bld_unary(&b, "att/neg", "Neg", probs));
    return finish(&b);
}

/* one site, checked on both runtimes; after it: one GrappoAttention named att/MatMul_1, no
   Softmax or BatchMatMul left, the Transposes kept */
static void expect_fused(const PatSpec *p, bool masked) {
    Graph *g = pat_graph(p);
    int n = tr_check_each_site(rule(), g, TOL);
    if (n != 1) { print_error("form %d swap %d: %d sites, expected 1\n", p->form, p->swap, n); fail(); }
    Err e = {0};
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    assert_int_equal(tr_apply_all(rule(), c, 5), 1);
    assert_int_equal(tr_count_op(c, "GrappoAttention"), 1);
    assert_int_equal(tr_count_op(c, "Softmax") + tr_count_op(c, "BatchMatMulV2") + tr_count_op(c, "BatchMatMul"), 0);
    assert_int_equal(tr_count_op(c, "Transpose"), 3);
    int a = graph_find(c, "att/MatMul_1");
    assert_true(a >= 0);
    const Node *an = c->nodes[a];
    assert_string_equal(an->op_name, "GrappoAttention");
    assert_int_equal(an->n_inputs, masked ? 4 : 3);
    assert_int_equal(node_attr_b(an, "has_mask", !masked), masked);
    float want = (p->form == 6 || p->form == 7) ? 1.0f : 0.5f;
    assert_true(fabsf(node_attr_f(an, "scale", 0) - want) <= 1e-7f);
    assert_int_equal(n_sites(c), 0);
    graph_free(c);
    graph_free(g);
}

static void rule_matches(void **state) {
    (void)state;
    for (int form = 0; form < 8; form++)
        for (int swap = 0; swap < 2; swap++)
            for (int cm = 0; cm < 2; cm++) {
                PatSpec p = {.form = form, .swap = swap, .const_mask = cm};
                expect_fused(&p, form <= 3 || form == 7);
            }
    expect_fused(&(PatSpec){.form = 0, .add_v1 = true}, true);
    expect_fused(&(PatSpec){.form = 0, .bmm_v1 = true}, true);
    expect_fused(&(PatSpec){.form = 0, .anchor_output = true}, true);
    expect_fused(&(PatSpec){.form = 2, .add_v1 = true, .swap = true}, true);
}

static void expect_no_site(const PatSpec *p, const char *what) {
    Graph *g = pat_graph(p);
    int n = n_sites(g);
    if (n != 0) { print_error("%s: %d sites, expected none\n", what, n); fail(); }
    graph_free(g);
}

static void rule_refusals(void **state) {
    (void)state;
    for (int r = 1; r <= 5; r++) expect_no_site(&(PatSpec){.form = 0, .second_reader = r}, "second reader");
    /* the scaled-then-masked form: the scaled value is the one read twice */
    expect_no_site(&(PatSpec){.form = 2, .second_reader = 3}, "(s+m)*c with s+m fetched");
    expect_no_site(&(PatSpec){.form = 0, .ctrl = true}, "control edge on the softmax");
    expect_no_site(&(PatSpec){.form = 0, .ctrl_anchor = true}, "control edge on the anchor");
    expect_no_site(&(PatSpec){.form = 0, .k_pretransposed = true}, "adj_y false");
    expect_no_site(&(PatSpec){.form = 0, .adj_x_anchor = true}, "adj_x on the second matmul");
    expect_no_site(&(PatSpec){.form = 0, .scale_placeholder = true}, "scale not known");
    expect_no_site(&(PatSpec){.form = 0, .scale_two = true}, "scale with two elements");
    expect_no_site(&(PatSpec){.form = 0, .mask_grows = true}, "mask broadcasts the scores up");
    expect_no_site(&(PatSpec){.form = 0, .batch_bcast = true}, "batch broadcast between q and k");
    /* a near miss must still compute the same when other rules leave it alone: the graph is valid */
    Graph *g = pat_graph(&(PatSpec){.form = 0, .second_reader = 4});
    assert_int_equal(tr_count_op(g, "Softmax"), 1);
    graph_free(g);
}

/* ---- zoo models ---- */

static Graph *zoo(const char *name, int image, int seq, uint64_t seed) {
    return tr_zoo(name, image, seq, seed, true);
}

/* bert-tiny: one attention per layer, 2 layers */
static void bert_tiny(void **state) {
    (void)state;
    Graph *g = zoo("bert-tiny", 0, 16, 1);
    assert_int_equal(tr_check_each_site(rule(), g, 1e-4), 2);
    Err e = {0};
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    int before = c->n_nodes;
    assert_int_equal(tr_apply_all(rule(), c, 10), 2);
    assert_int_equal(tr_count_op(c, "GrappoAttention"), 2);
    assert_int_equal(tr_count_op(c, "Softmax") + tr_count_op(c, "BatchMatMulV2"), 0);
    /* per layer BatchMatMulV2, Mul, its Const, AddV2, Softmax, BatchMatMulV2 become one node */
    assert_int_equal(before - c->n_nodes, 2 * 5);
    assert_int_equal(graph_find(c, "bert/encoder/layer_1/attention/self/MatMul_1") >= 0, 1);
    for (int fast = 0; fast < 2; fast++) {
        double err = tr_compare(g, c, fast, 11);
        if (!(err <= 1e-4)) { print_error("bert-tiny fused (%s): rel err %g\n", fast ? "fast" : "ref", err); fail(); }
    }
    /* the fused node against the fast kernel, on the inputs it sees inside BERT (mask
       [B,1,1,S] of 0 / -10000 from input_mask) */
    int a = graph_find(c, "bert/encoder/layer_0/attention/self/MatMul_1");
    assert_true(a >= 0);
    RefFeed feeds[3];
    const char *ph[3] = {"input_ids", "input_mask", "segment_ids"};
    for (int i = 0; i < 3; i++) {
        feeds[i].name = ph[i];
        CHECK_OK(input_generate(c, graph_find(c, ph[i]), 5, &feeds[i].value, &e), &e);
    }
    const Node *an = c->nodes[a];
    ValueRef fetch[5];
    for (int i = 0; i < an->n_inputs; i++) fetch[i] = an->inputs[i];
    fetch[an->n_inputs] = (ValueRef){a, 0};
    Tensor vals[5], got[1];
    CHECK_OK(ref_run(c, feeds, 3, fetch, an->n_inputs + 1, vals, NULL, &e), &e);
    assert_int_equal(tf_fast_node(fast_compile_attention, c, a, vals, got, NULL, 0, &e), 1);
    assert_true(tf_rel_err(&got[0], &vals[an->n_inputs]) <= 1e-4);
    tensor_release(&got[0]);
    /* the kernel keeps no buffer of its own: the oneDNN path's scores [B,H,Sq,Sk] live in the
       plan's shared scratch, so two layers' attentions cost one scores buffer, not two
       (tr_compare above ran both through one plan) */
    {
        DnnCtx ctx;
        CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
        FastKernel k;
        memset(&k, 0, sizeof k);
        assert_int_equal(fast_compile_attention(&ctx, c, an, &k, &e), 1);
        const Shape *qs = &c->nodes[an->inputs[0].node]->outputs[an->inputs[0].port].shape;
        const Shape *ks = &c->nodes[an->inputs[1].node]->outputs[an->inputs[1].port].shape;
        size_t scores = (size_t)(qs->dim[0] * qs->dim[1] * qs->dim[2] * ks->dim[2]) * sizeof(float);
        assert_int_equal(k.weight_bytes, 0);
        if (strncmp(k.impl, "native", 6)) assert_true(k.scratch_bytes >= scores);
        PlanOpts po = {.threads = 1};
        Plan *p = plan_compile(c, NULL, 0, &po, &e);
        assert_non_null(p);
        assert_true(plan_scratch_bytes(p) >= scores);
        printf("[ attention] bert-tiny %s: scores %zu bytes in scratch %zu, plan scratch %zu for 2 layers\n", k.impl, scores,
               k.scratch_bytes, plan_scratch_bytes(p));
        plan_free(p);
        k.destroy(k.state);
        dnn_ctx_free(&ctx);
    }
    for (int i = 0; i <= an->n_inputs; i++) tensor_release(&vals[i]);
    for (int i = 0; i < 3; i++) tensor_release(&feeds[i].value);
    /* the fused graph survives a GraphDef round trip */
    Graph *back = tr_roundtrip(c);
    assert_int_equal(tr_count_op(back, "GrappoAttention"), 2);
    assert_true(tr_compare(g, back, false, 12) <= 1e-4);
    graph_free(back);
    graph_free(c);
    graph_free(g);
}

static void cnn_and_random_models_have_no_sites(void **state) {
    (void)state;
    Graph *gs[5] = {zoo("resnet8", 32, 0, 1), zoo("mobilenet_v2", 64, 0, 1), zoo("random", 0, 0, 3), zoo("random", 0, 0, 4),
                    zoo("random", 0, 0, 5)};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(n_sites(gs[k]), 0);
        graph_free(gs[k]);
    }
}

static void registry(void **state) {
    (void)state;
    const RuleDef *r = rule();
    assert_string_equal(r->family, "fuse");
    assert_true(r->flags & RULE_EXACT);
    assert_false(r->flags & RULE_TF);
    assert_false(r->flags & RULE_PRECISION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry),
        cmocka_unit_test(ref_by_hand),
        cmocka_unit_test(ref_no_keys),
        cmocka_unit_test(ref_vs_composition),
        cmocka_unit_test(fast_matches_ref),
        cmocka_unit_test(fast_bert_base_shape),
        cmocka_unit_test(fast_all_masked_row_is_nan),
        cmocka_unit_test(fast_vs_stock_chain_timing),
        cmocka_unit_test(infer_errors),
        cmocka_unit_test(rule_matches),
        cmocka_unit_test(rule_refusals),
        cmocka_unit_test(bert_tiny),
        cmocka_unit_test(cnn_and_random_models_have_no_sites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
