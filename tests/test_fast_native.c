/* test_fast_native.c - the kernels for what oneDNN 2.6 leaves to the reference runtime:
 * Transpose as a oneDNN reorder (dnn_transpose.c), Erf / Selu in plain C (native_eltwise.c)
 * and the broadcasting float32 binary ops oneDNN's binary declines (native_binary.c).
 *
 * Every kernel runs against ref_eval_node on the same inputs. Transposes and the binary ops
 * must be BIT-identical to the reference (they move or compute exactly: see the files' notes);
 * Erf and Selu must stay within tf_rel_err <= 1e-4 and, tighter, within the error their
 * formulas promise (Erf: a dense sweep of [-6, 6] against libm's erf). Declines (perm known
 * only at run time, dtypes and ops outside a family) are checked to return 0, and the BERT
 * patterns are checked to be ones oneDNN's binary really declines (so the plan reaches the
 * native family). Three timings (1 thread) print at the end. */
#include <float.h>

#include "test_dnn_util.h"

/* ---- helpers ---- */

/* a tensor of dtype dt and shape dims whose bytes follow a fixed pseudo-random pattern
   (every bit pattern, including NaNs for floats: transposes must move bytes, not values) */
static Tensor bytes_tensor(int dt, int rank, const int64_t *dims, uint64_t seed) {
    Shape s = shape_make(rank, dims);
    Tensor t;
    Err e;
    CHECK_OK(tensor_alloc(&t, dt, &s, &e), &e);
    uint8_t *p = tensor_mut(&t);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 7;
    for (size_t i = 0; i < tensor_nbytes(&t); i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = (uint8_t)(x >> 32);
    }
    if (dt == DT_BOOL)
        for (size_t i = 0; i < tensor_nbytes(&t); i++) p[i] &= 1;
    return t;
}

static Tensor perm_tensor(int rank, const int *perm) {
    int32_t v[MAX_RANK];
    for (int i = 0; i < rank; i++) v[i] = perm[i];
    int64_t n = rank;
    return td_i32(1, &n, v);
}

/* elements equal bit for bit; unless strict, two float NaNs also count as equal (which NaN a
   sum of two NaNs keeps is the hardware's choice, not the kernel's) */
static bool same_bits(const Tensor *a, const Tensor *b, bool strict) {
    if (a->dtype != b->dtype || !shape_equal(&a->shape, &b->shape)) return false;
    if (a->dtype != DT_FLOAT || strict) return memcmp(tensor_data(a), tensor_data(b), tensor_nbytes(a)) == 0;
    const uint32_t *x = tensor_data(a), *y = tensor_data(b);
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        bool nx = (x[i] & 0x7fffffffu) > 0x7f800000u, ny = (y[i] & 0x7fffffffu) > 0x7f800000u;
        if (x[i] != y[i] && !(nx && ny)) {
            float fx, fy;
            memcpy(&fx, &x[i], 4);
            memcpy(&fy, &y[i], 4);
            print_error("element %lld: %.9g (0x%08x) vs reference %.9g (0x%08x)\n", (long long)i, fx, x[i], fy, y[i]);
            return false;
        }
    }
    return true;
}

/* runs node through `compile` and the reference; asserts the family ran it and matched the
   reference bit for bit (see same_bits); impl (may be NULL) receives the implementation name */
static void check_exact(FastCompileFn compile, const Graph *g, int node, const Tensor *ins, bool strict, char *impl,
                        size_t cap) {
    Err e;
    Tensor want[1] = {{0}}, got[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
    int rc = tf_fast_node(compile, g, node, ins, got, impl, cap, &e);
    if (rc != 1) {
        print_error("%s: family returned %d (%s)\n", g->nodes[node]->op_name, rc, rc < 0 ? e.msg : "declined");
        fail();
    }
    if (!same_bits(&got[0], &want[0], strict)) {
        char s[96];
        print_error("%s %s %s: differs from the reference\n", g->nodes[node]->op_name, dtype_name(want[0].dtype),
                    shape_str(&want[0].shape, s, sizeof s));
        fail();
    }
    tensor_release(&got[0]);
    tensor_release(&want[0]);
}

/* ---- Transpose ---- */

static void transpose_case(int dt, int rank, const int64_t *dims, const int *perm, uint64_t seed) {
    Tensor ins[2] = {bytes_tensor(dt, rank, dims, seed), perm_tensor(rank, perm)};
    int node;
    Graph *g = td_graph("Transpose", ins, 2, 2u, &node);
    td_infer(g);
    char impl[128];
    check_exact(fast_compile_transpose, g, node, ins, true, impl, sizeof impl);
    assert_true(strncmp(impl, "onednn-reorder:", 15) == 0);
    graph_free(g);
    td_release(ins, 2);
}

static void transpose_every_rank3_perm(void **state) {
    (void)state;
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const int64_t dims[3] = {3, 4, 5}, odd[3] = {7, 1, 9};
    for (int i = 0; i < 6; i++) {
        transpose_case(DT_FLOAT, 3, dims, perms[i], 1 + (uint64_t)i);
        transpose_case(DT_FLOAT, 3, odd, perms[i], 11 + (uint64_t)i); /* a size-1 dim dropped */
    }
}

static void transpose_attention_and_rank2(void **state) {
    (void)state;
    const int att[4] = {0, 2, 1, 3}, t2[2] = {1, 0};
    transpose_case(DT_FLOAT, 4, (int64_t[]){1, 16, 4, 8}, att, 21);  /* [B,S,H,D] -> [B,H,S,D] */
    transpose_case(DT_FLOAT, 4, (int64_t[]){2, 7, 3, 5}, att, 22);
    transpose_case(DT_FLOAT, 4, (int64_t[]){1, 4, 16, 8}, att, 23);  /* and back */
    transpose_case(DT_FLOAT, 2, (int64_t[]){13, 17}, t2, 24);
    transpose_case(DT_FLOAT, 2, (int64_t[]){64, 48}, t2, 25);
    transpose_case(DT_FLOAT, 2, (int64_t[]){1, 9}, t2, 26);          /* a copy after collapsing */
    const int t5[5] = {4, 0, 3, 1, 2}, t8[8] = {7, 6, 5, 4, 3, 2, 1, 0};
    transpose_case(DT_FLOAT, 5, (int64_t[]){2, 3, 1, 4, 5}, t5, 27);
    transpose_case(DT_FLOAT, 8, (int64_t[]){2, 3, 2, 1, 3, 2, 2, 3}, t8, 28); /* rank 8 reversed */
    const int t0[1] = {0};
    transpose_case(DT_FLOAT, 1, (int64_t[]){1}, t0, 29);               /* a single element */
}

static void transpose_every_dtype(void **state) {
    (void)state;
    static const int dts[] = {DT_FLOAT, DT_INT32, DT_INT64, DT_UINT8, DT_INT8, DT_BOOL, DT_BFLOAT16, DT_HALF};
    const int att[4] = {0, 2, 1, 3}, p3[3] = {2, 0, 1}, t2[2] = {1, 0};
    for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
        transpose_case(dts[i], 4, (int64_t[]){2, 5, 3, 4}, att, 40 + i);
        transpose_case(dts[i], 3, (int64_t[]){3, 5, 7}, p3, 50 + i);
        transpose_case(dts[i], 2, (int64_t[]){9, 11}, t2, 60 + i);
    }
}

/* float32 bit patterns a value-converting reorder would change, and int32s beyond 2^24 */
static void transpose_keeps_bits(void **state) {
    (void)state;
    const int t2[2] = {1, 0};
    const uint32_t pat[8] = {0x7fc00001u, 0xffa00000u /* signalling NaN */, 0x00000001u /* denormal */,
                             0x80000003u, 0x7f800000u, 0x80000000u, 0x7fffffffu, 0x01000001u};
    int dts[2] = {DT_FLOAT, DT_INT32};
    for (int d = 0; d < 2; d++) {
        Tensor ins[2] = {bytes_tensor(dts[d], 2, (int64_t[]){4, 6}, 70), perm_tensor(2, t2)};
        uint32_t *p = tensor_mut(&ins[0]);
        for (int i = 0; i < 24; i++) p[i] = pat[i % 8] + (uint32_t)(i / 8);
        int node;
        Graph *g = td_graph("Transpose", ins, 2, 2u, &node);
        td_infer(g);
        Err e;
        Tensor got[1] = {{0}};
        assert_int_equal(tf_fast_node(fast_compile_transpose, g, node, ins, got, NULL, 0, &e), 1);
        const uint32_t *q = tensor_data(&got[0]);
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 4; c++) assert_int_equal(q[r * 4 + c], p[c * 6 + r]);
        tensor_release(&got[0]);
        graph_free(g);
        td_release(ins, 2);
    }
}

static void transpose_declines(void **state) {
    (void)state;
    const int t2[2] = {1, 0};
    Tensor ins[2] = {td_rand(80, 2, (int64_t[]){3, 4}, -1, 1), perm_tensor(2, t2)};
    int node;
    Graph *g = td_graph("Transpose", ins, 2, 2u, &node);
    td_infer(g);
    /* a perm known only at run time (inference insists on a constant today; a kernel must not
       assume it): forget the value */
    Value *pv = &g->nodes[g->nodes[node]->inputs[1].node]->outputs[0];
    Tensor keep = pv->known;
    pv->known = (Tensor){0};
    td_declines(fast_compile_transpose, g, node, ins);
    pv->known = keep;
    check_exact(fast_compile_transpose, g, node, ins, true, NULL, 0); /* and with it back: runs */
    graph_free(g);
    /* other families' ops */
    g = td_graph("Relu", ins, 1, 0, &node);
    td_infer(g);
    td_declines(fast_compile_transpose, g, node, ins);
    graph_free(g);
    td_release(ins, 2);
    /* an opaque dtype (int16: inference refuses it today; a kernel must not rely on that):
       a float graph relabelled after inference */
    Tensor fins[2] = {td_rand(81, 2, (int64_t[]){3, 4}, -1, 1), perm_tensor(2, t2)};
    g = td_graph("Transpose", fins, 2, 2u, &node);
    td_infer(g);
    g->nodes[g->nodes[node]->inputs[0].node]->outputs[0].dtype = DT_INT16;
    g->nodes[node]->outputs[0].dtype = DT_INT16;
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_transpose(&ctx, g, g->nodes[node], &k, &e), 0);
    dnn_ctx_free(&ctx);
    graph_free(g);
    td_release(fins, 2);
}

/* ---- Erf, Selu ---- */

static void unary_case(const char *op, int rank, const int64_t *dims, double lo, double hi, uint64_t seed, double elem_tol) {
    Tensor x = td_rand(seed, rank, dims, lo, hi);
    int node;
    Graph *g = td_graph(op, &x, 1, 0, &node);
    td_infer(g);
    char impl[64];
    td_check(fast_compile_native_eltwise, g, node, &x, 1e-4, impl, sizeof impl);
    assert_true(strncmp(impl, "native:", 7) == 0);
    /* tighter: every element within elem_tol of the reference, relative to max(|ref|, 1e-3) */
    Err e;
    Tensor want[1] = {{0}}, got[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, &x, want, &e), &e);
    assert_int_equal(tf_fast_node(fast_compile_native_eltwise, g, node, &x, got, NULL, 0, &e), 1);
    double r = td_elem_rel_err(&got[0], &want[0], 1e-3);
    if (!(r <= elem_tol)) {
        print_error("%s [%g, %g): per-element error %g > %g\n", op, lo, hi, r, elem_tol);
        fail();
    }
    td_release(got, 1);
    td_release(want, 1);
    graph_free(g);
    tensor_release(&x);
}

static void erf_shapes(void **state) {
    (void)state;
    unary_case("Erf", 1, (int64_t[]){1}, -3, 3, 1, 1e-6);
    unary_case("Erf", 1, (int64_t[]){15}, -3, 3, 2, 1e-6);  /* shorter than one block */
    unary_case("Erf", 2, (int64_t[]){7, 33}, -4, 4, 3, 1e-6); /* blocks and a tail */
    unary_case("Erf", 3, (int64_t[]){2, 16, 24}, -10, 10, 4, 1e-6);
    unary_case("Erf", 2, (int64_t[]){3, 17}, -1e-3, 1e-3, 5, 1e-6); /* tiny values: the series */
    unary_case("Erf", 1, (int64_t[]){100}, -0.6, 0.6, 6, 1e-6);    /* across the series/formula seam */
}

/* the formula's promise: A&S 7.1.26 is within 1.5e-7 of erf; with float rounding the kernel
   must stay within 1e-6 absolute everywhere and 1e-6 relative to erf(x) itself */
static void erf_accuracy_sweep(void **state) {
    (void)state;
    const int64_t n = 1200001; /* step 1e-5 over [-6, 6] */
    Tensor x = td_rand(1, 1, &n, 0, 1);
    float *p = tensor_mut(&x);
    for (int64_t i = 0; i < n; i++) p[i] = (float)(-6.0 + 12.0 * (double)i / (double)(n - 1));
    int node;
    Graph *g = td_graph("Erf", &x, 1, 0, &node);
    td_infer(g);
    Err e;
    Tensor got[1] = {{0}};
    assert_int_equal(tf_fast_node(fast_compile_native_eltwise, g, node, &x, got, NULL, 0, &e), 1);
    const float *y = tensor_data(&got[0]);
    double max_abs = 0, max_rel = 0, at_abs = 0, at_rel = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = erf((double)p[i]), d = fabs((double)y[i] - want);
        if (d > max_abs) { max_abs = d; at_abs = p[i]; }
        if (want != 0 && d / fabs(want) > max_rel) { max_rel = d / fabs(want); at_rel = p[i]; }
    }
    print_message("Erf over [-6, 6] (1.2M points): max abs error %.3g at %g, max rel error %.3g at %g\n", max_abs,
                  at_abs, max_rel, at_rel);
    assert_true(max_abs <= 1e-6);
    assert_true(max_rel <= 1e-6);
    /* odd, saturating, NaN-propagating */
    const float special[10] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-40f, 9.5f, -100.0f, 3.0e38f};
    const float expect[10] = {0.0f, -0.0f, 1.0f, -1.0f, NAN, 1.12837917e-30f, 0, 1.0f, -1.0f, 1.0f};
    tensor_release(&got[0]);
    graph_free(g);
    tensor_release(&x);
    int64_t ns = 10;
    x = td_rand(2, 1, &ns, 0, 1);
    p = tensor_mut(&x);
    memcpy(p, special, sizeof special);
    g = td_graph("Erf", &x, 1, 0, &node);
    td_infer(g);
    assert_int_equal(tf_fast_node(fast_compile_native_eltwise, g, node, &x, got, NULL, 0, &e), 1);
    y = tensor_data(&got[0]);
    for (int i = 0; i < 10; i++) {
        if (i == 4) { assert_true(isnan(y[i])); continue; }
        if (i == 6) { assert_true(y[i] < 0 && y[i] > -1e-39f); continue; } /* denormal: odd, tiny */
        assert_true(fabsf(y[i] - expect[i]) <= 2e-7f * fabsf(expect[i]));
        assert_int_equal(signbit(y[i]) != 0, signbit(expect[i]) != 0);
    }
    tensor_release(&got[0]);
    graph_free(g);
    tensor_release(&x);
}

/* Erfc (tf.nn.gelu's exact form): shapes through blocks and tails, then the promise of
   native_eltwise.c over the whole float range: a sweep of every 4099th bit pattern (1M values,
   both signs, tails, denormals, huge values) against libm's erfc in double: relative error
   <= 1e-6 where erfc(x) >= FLT_MIN, absolute error <= 1e-44 below; and the special values */
static void erfc_shapes_and_sweep(void **state) {
    (void)state;
    unary_case("Erfc", 1, (int64_t[]){1}, -3, 3, 11, 1e-6);
    unary_case("Erfc", 1, (int64_t[]){15}, -3, 3, 12, 1e-6);
    unary_case("Erfc", 2, (int64_t[]){7, 33}, -6, 6, 13, 1e-6);
    unary_case("Erfc", 3, (int64_t[]){2, 16, 24}, -12, 12, 14, 1e-6);
    unary_case("Erfc", 2, (int64_t[]){3, 17}, -1e-3, 1e-3, 15, 1e-6);
    const uint64_t stride = 4099;
    const int64_t n = (int64_t)((1ull << 32) / stride) + 1;
    Tensor x = td_rand(16, 1, &n, 0, 1);
    uint32_t *bits = tensor_mut(&x);
    for (int64_t i = 0; i < n; i++) bits[i] = (uint32_t)((uint64_t)i * stride);
    int node;
    Graph *g = td_graph("Erfc", &x, 1, 0, &node);
    td_infer(g);
    Err e;
    Tensor got[1] = {{0}};
    assert_int_equal(tf_fast_node(fast_compile_native_eltwise, g, node, &x, got, NULL, 0, &e), 1);
    const float *p = tensor_data(&x), *y = tensor_data(&got[0]);
    double max_rel = 0, max_abs = 0, at_rel = 0, at_abs = 0;
    int64_t nans = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(p[i])) {
            nans++;
            if (!isnan(y[i])) { print_error("Erfc(NaN) = %g\n", y[i]); fail(); }
            continue;
        }
        double want = erfc((double)p[i]), d = fabs((double)y[i] - want);
        if (want >= FLT_MIN) {
            if (d / want > max_rel) { max_rel = d / want; at_rel = p[i]; }
        } else if (d > max_abs) {
            max_abs = d;
            at_abs = p[i];
        }
    }
    print_message("Erfc over %lld bit patterns (%lld NaN): max rel error %.3g at %.9g, max abs error below FLT_MIN "
                  "%.3g at %.9g\n",
                  (long long)n, (long long)nans, max_rel, at_rel, max_abs, at_abs);
    assert_true(nans > 0);
    assert_true(max_rel <= 1e-6);
    assert_true(max_abs <= 1e-44);
    tensor_release(&got[0]);
    graph_free(g);
    tensor_release(&x);
    const double special[8] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 10.5, -30.0, 9.3};
    x = td_vals(8, special);
    g = td_graph("Erfc", &x, 1, 0, &node);
    td_infer(g);
    assert_int_equal(tf_fast_node(fast_compile_native_eltwise, g, node, &x, got, NULL, 0, &e), 1);
    y = tensor_data(&got[0]);
    assert_true(y[0] == 1.0f && y[1] == 1.0f && y[2] == 0.0f && y[3] == 2.0f && isnan(y[4]) && y[5] == 0.0f &&
                y[6] == 2.0f);
    assert_true(y[7] > 0 && y[7] < FLT_MIN); /* erfc(9.3) = 4.4e-40: a denormal, not flushed */
    tensor_release(&got[0]);
    graph_free(g);
    tensor_release(&x);
}

static void selu_shapes(void **state) {
    (void)state;
    /* exact where the math is: signed zeros, saturation, NaN */
    const double sv[6] = {0.0, -0.0, -200.0, 2.0, INFINITY, NAN};
    Tensor x = td_vals(6, sv);
    int node;
    Graph *g = td_graph("Selu", &x, 1, 0, &node);
    td_infer(g);
    Err e;
    Tensor got[1] = {{0}}, want[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, &x, want, &e), &e);
    assert_int_equal(tf_fast_node(fast_compile_native_eltwise, g, node, &x, got, NULL, 0, &e), 1);
    const float *y = tensor_data(&got[0]), *w = tensor_data(&want[0]);
    for (int i = 0; i < 5; i++) {
        bool ok = y[i] == w[i] || fabsf(y[i] - w[i]) <= 1e-7f * fabsf(w[i]); /* == for infinity */
        if (!ok) print_error("Selu(%g) = %.9g, reference %.9g\n", sv[i], y[i], w[i]);
        assert_true(ok);
        assert_int_equal(signbit(y[i]) != 0, signbit(w[i]) != 0);
    }
    assert_true(isnan(y[5]));
    td_release(got, 1);
    td_release(want, 1);
    graph_free(g);
    tensor_release(&x);

    unary_case("Selu", 1, (int64_t[]){31}, -3, 3, 7, 1e-6);
    unary_case("Selu", 2, (int64_t[]){9, 40}, -100, 50, 8, 1e-6); /* saturation at -scale*alpha */
    unary_case("Selu", 1, (int64_t[]){50}, -1e-3, 1e-3, 9, 1e-6);  /* expm1 near 0 */
}

/* a constant input is read from the graph; an in-place run (out = in) gives the same result */
static void erf_constant_and_in_place(void **state) {
    (void)state;
    Tensor x = td_rand(10, 2, (int64_t[]){5, 21}, -3, 3);
    int node;
    Graph *g = td_graph("Erf", &x, 1, 1u, &node);
    td_infer(g);
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_native_eltwise(&ctx, g, g->nodes[node], &k, &e), 1);
    assert_int_equal(k.inplace, -1); /* never overwrite a constant */
    Tensor out, none = {0};
    CHECK_OK(tensor_alloc(&out, DT_FLOAT, &x.shape, &e), &e);
    CHECK_OK(k.run(k.state, &none, &out, NULL, &e), &e); /* in[0] empty: the held value is used */
    Tensor want[1] = {{0}};
    CHECK_OK(ref_eval_node(NULL, g, node, &x, want, &e), &e);
    assert_true(tf_rel_err(&out, &want[0]) <= 1e-6);
    k.destroy(k.state);
    graph_free(g);

    g = td_graph("Erf", &x, 1, 0, &node);
    td_infer(g);
    memset(&k, 0, sizeof k);
    assert_int_equal(fast_compile_native_eltwise(&ctx, g, g->nodes[node], &k, &e), 1);
    assert_int_equal(k.inplace, 0);
    Tensor copy;
    CHECK_OK(tensor_copy(&copy, &x, &e), &e);
    Tensor alias;
    CHECK_OK(tensor_wrap(&alias, DT_FLOAT, &copy.shape, copy.buf->data, &e), &e);
    CHECK_OK(k.run(k.state, &copy, &alias, NULL, &e), &e);
    assert_true(tf_rel_err(&copy, &want[0]) <= 1e-6);
    assert_true(same_bits(&copy, &out, true)); /* in place or not, the same bits */
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    tensor_release(&alias);
    tensor_release(&copy);
    tensor_release(&out);
    tensor_release(&want[0]);
    graph_free(g);
    tensor_release(&x);
}

static void eltwise_declines(void **state) {
    (void)state;
    Tensor x = td_rand(11, 2, (int64_t[]){3, 4}, -1, 1), xb = td_to_bf16(&x);
    const char *ops[3] = {"Sigmoid", "Tanh", "Erf"}; /* (Relu is native now: NaN, issue 11) */
    for (int i = 0; i < 3; i++) {
        int node;
        Graph *g = td_graph(ops[i], i == 2 ? &xb : &x, 1, 0, &node); /* Erf in bfloat16: declined */
        td_infer(g);
        td_declines(fast_compile_native_eltwise, g, node, i == 2 ? &xb : &x);
        graph_free(g);
    }
    tensor_release(&xb);
    tensor_release(&x);
}

/* ---- broadcasting binary ops ---- */

static const char *BIN_OPS[] = {"Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "SquaredDifference"};
#define N_BIN (sizeof BIN_OPS / sizeof *BIN_OPS)

/* values in +-[0.25, 4) with some exact ties between a and b, signed zeros and, when
   `special`, infinities and NaN */
static Tensor bin_operand(uint64_t seed, int rank, const int64_t *dims, bool special) {
    Tensor t = td_rand(seed, rank, dims, 0.25, 4);
    float *p = tensor_mut(&t);
    for (int64_t i = 0; i < tensor_numel(&t); i++) {
        if (i % 3 == 1) p[i] = -p[i];
        if (i % 7 == 3) p[i] = (float)(i % 5); /* small integers: ties and zeros */
        if (i % 11 == 5) p[i] = -0.0f;
        if (special && i % 13 == 6) p[i] = i % 2 ? INFINITY : -INFINITY;
        if (special && i % 29 == 8) p[i] = NAN;
    }
    return t;
}

static void bin_case(const char *op, int ra, const int64_t *da, int rb, const int64_t *db, unsigned const_mask,
                     bool special, uint64_t seed) {
    Tensor ins[2] = {bin_operand(seed, ra, da, special), bin_operand(seed + 100, rb, db, special)};
    int node;
    Graph *g = td_graph(op, ins, 2, const_mask, &node);
    td_infer(g);
    char impl[64];
    check_exact(fast_compile_native_binary, g, node, ins, false, impl, sizeof impl);
    assert_true(strncmp(impl, "native:", 7) == 0);
    graph_free(g);
    td_release(ins, 2);
}

static void bin_all_ops(int ra, const int64_t *da, int rb, const int64_t *db, uint64_t seed) {
    for (size_t i = 0; i < N_BIN; i++) bin_case(BIN_OPS[i], ra, da, rb, db, 0, false, seed + i);
}

static void binary_layernorm_patterns(void **state) {
    (void)state;
    bin_all_ops(2, (int64_t[]){5, 1}, 1, (int64_t[]){7}, 1);        /* Mul(rstd [R,1], gamma [H]) */
    bin_all_ops(2, (int64_t[]){37, 1}, 1, (int64_t[]){45}, 2);      /* odd sizes: blocks + tail */
    bin_all_ops(1, (int64_t[]){7}, 2, (int64_t[]){5, 7}, 3);        /* Sub(beta [H], x [R,H]) */
    bin_all_ops(1, (int64_t[]){40}, 3, (int64_t[]){2, 3, 40}, 4);
    bin_all_ops(0, NULL, 2, (int64_t[]){5, 7}, 5);                  /* Sub(1.0, mask) */
    bin_all_ops(0, NULL, 4, (int64_t[]){1, 1, 3, 33}, 6);
    bin_all_ops(2, (int64_t[]){6, 1}, 2, (int64_t[]){6, 19}, 7);    /* a broadcast column first */
}

static void binary_general_patterns(void **state) {
    (void)state;
    bin_all_ops(3, (int64_t[]){2, 1, 4}, 3, (int64_t[]){2, 3, 1}, 10); /* both broadcast */
    bin_all_ops(5, (int64_t[]){2, 1, 3, 1, 5}, 5, (int64_t[]){1, 4, 3, 6, 1}, 11); /* rank 5 */
    bin_all_ops(5, (int64_t[]){3, 1, 4, 1, 17}, 3, (int64_t[]){4, 6, 17}, 12);
    bin_all_ops(3, (int64_t[]){2, 3, 20}, 3, (int64_t[]){2, 3, 20}, 13); /* same shape */
    bin_all_ops(2, (int64_t[]){5, 18}, 1, (int64_t[]){18}, 14);         /* broadcast second */
    bin_all_ops(2, (int64_t[]){4, 21}, 0, NULL, 15);                    /* vector op scalar */
    bin_all_ops(0, NULL, 0, NULL, 16);                                  /* scalar op scalar */
    bin_all_ops(2, (int64_t[]){3, 1}, 2, (int64_t[]){1, 1}, 17);        /* a row of one */
}

/* NaN, infinities and signed zeros: still the reference's bits (max/min: NaN when either is) */
static void binary_special_values(void **state) {
    (void)state;
    for (size_t i = 0; i < N_BIN; i++) {
        bin_case(BIN_OPS[i], 2, (int64_t[]){9, 1}, 1, (int64_t[]){40}, 0, true, 30 + i);
        bin_case(BIN_OPS[i], 2, (int64_t[]){9, 40}, 2, (int64_t[]){9, 40}, 0, true, 40 + i);
    }
}

static void binary_constant_operands(void **state) {
    (void)state;
    bin_case("Sub", 1, (int64_t[]){19}, 2, (int64_t[]){6, 19}, 1u, false, 50); /* constant beta */
    bin_case("Mul", 2, (int64_t[]){6, 1}, 1, (int64_t[]){19}, 2u, false, 51);  /* constant gamma */
    bin_case("Sub", 0, NULL, 2, (int64_t[]){4, 4}, 1u, false, 52);             /* constant 1.0 */
    bin_case("RealDiv", 2, (int64_t[]){6, 1}, 1, (int64_t[]){19}, 3u, false, 53);
}

/* the BERT patterns really are declined by oneDNN's binary (else the plan never asks here) */
static void binary_onednn_declines_bert_patterns(void **state) {
    (void)state;
    struct { const char *op; int ra; int64_t da[2]; int rb; int64_t db[2]; } c[3] = {
        {"Mul", 2, {128, 1}, 1, {768, 0}},
        {"Sub", 1, {768, 0}, 2, {128, 768}},
        {"Sub", 0, {0, 0}, 2, {4, 128}},
    };
    for (int i = 0; i < 3; i++) {
        Tensor ins[2] = {bin_operand(60, c[i].ra, c[i].da, false), bin_operand(61, c[i].rb, c[i].db, false)};
        int node;
        Graph *g = td_graph(c[i].op, ins, 2, 0, &node);
        td_infer(g);
        td_declines(fast_compile_binary, g, node, ins);
        check_exact(fast_compile_native_binary, g, node, ins, false, NULL, 0);
        graph_free(g);
        td_release(ins, 2);
    }
}

/* the output overwrites the full-shape operand (whichever input it is) */
static void binary_in_place(void **state) {
    (void)state;
    struct { const char *op; int ra; int64_t da[2]; int rb; int64_t db[2]; int which; } c[3] = {
        {"Sub", 1, {33, 0}, 2, {5, 33}, 1},
        {"Mul", 2, {5, 33}, 2, {5, 1}, 0},
        {"SquaredDifference", 2, {5, 33}, 2, {5, 33}, 0},
    };
    for (int i = 0; i < 3; i++) {
        Tensor ins[2] = {bin_operand(70, c[i].ra, c[i].da, false), bin_operand(71, c[i].rb, c[i].db, false)};
        int node;
        Graph *g = td_graph(c[i].op, ins, 2, 0, &node);
        td_infer(g);
        Err e;
        Tensor want[1] = {{0}};
        CHECK_OK(ref_eval_node(NULL, g, node, ins, want, &e), &e);
        DnnCtx ctx;
        CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
        FastKernel k;
        memset(&k, 0, sizeof k);
        assert_int_equal(fast_compile_native_binary(&ctx, g, g->nodes[node], &k, &e), 1);
        assert_int_equal(k.inplace, c[i].which);
        Tensor out;
        CHECK_OK(tensor_wrap(&out, DT_FLOAT, &ins[c[i].which].shape, ins[c[i].which].buf->data, &e), &e);
        CHECK_OK(k.run(k.state, ins, &out, NULL, &e), &e);
        assert_true(same_bits(&out, &want[0], false));
        tensor_release(&out);
        k.destroy(k.state);
        dnn_ctx_free(&ctx);
        tensor_release(&want[0]);
        graph_free(g);
        td_release(ins, 2);
    }
}

static void binary_declines(void **state) {
    (void)state;
    const int64_t dims[2] = {3, 4};
    int32_t iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    Tensor a = td_i32(2, dims, iv), b = td_i32(1, (int64_t[]){4}, iv);
    Tensor ins[2] = {a, b};
    int node;
    Graph *g = td_graph("Sub", ins, 2, 0, &node); /* int32 */
    td_infer(g);
    td_declines(fast_compile_native_binary, g, node, ins);
    graph_free(g);
    td_release(ins, 2);
    Tensor f[2] = {bin_operand(80, 2, dims, false), bin_operand(81, 1, (int64_t[]){4}, false)};
    const char *ops[2] = {"Pow", "BiasAdd"};
    for (int i = 0; i < 2; i++) {
        g = td_graph(ops[i], f, 2, 0, &node);
        td_infer(g);
        td_declines(fast_compile_native_binary, g, node, f);
        graph_free(g);
    }
    Tensor hb[2] = {td_to_bf16(&f[0]), td_to_bf16(&f[1])};
    g = td_graph("Mul", hb, 2, 0, &node); /* bfloat16 */
    td_infer(g);
    td_declines(fast_compile_native_binary, g, node, hb);
    graph_free(g);
    td_release(hb, 2);
    td_release(f, 2);
}

/* ---- timings (1 thread; printed, not asserted: the machine is shared) ---- */

static double time_kernel(FastCompileFn compile, const Graph *g, int node, const Tensor *ins, int reps, double *ref_ms,
                          char *impl, size_t cap) {
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    const Node *n = g->nodes[node];
    assert_int_equal(compile(&ctx, g, n, &k, &e), 1);
    snprintf(impl, cap, "%s", k.impl);
    Tensor out[1] = {{0}}, ref[1] = {{0}};
    CHECK_OK(tensor_alloc(&out[0], n->outputs[0].dtype, &n->outputs[0].shape, &e), &e);
    void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
    CHECK_OK(k.run(k.state, ins, out, scratch, &e), &e);
    double t0 = td_now();
    for (int r = 0; r < reps; r++) CHECK_OK(k.run(k.state, ins, out, scratch, &e), &e);
    double fast = (td_now() - t0) / reps * 1e3;
    t0 = td_now();
    CHECK_OK(ref_eval_node(NULL, g, node, ins, ref, &e), &e);
    *ref_ms = (td_now() - t0) * 1e3;
    assert_true(tf_rel_err(&out[0], &ref[0]) <= 1e-4);
    free(scratch);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    td_release(out, 1);
    td_release(ref, 1);
    return fast;
}

static void native_speed_bert_shapes(void **state) {
    (void)state;
    dnn_set_threads(1);
    char impl[128];
    double ref_ms, ms;
    /* GELU's Erf on [128, 3072] */
    Tensor x = td_rand(90, 2, (int64_t[]){128, 3072}, -4, 4);
    int node;
    Graph *g = td_graph("Erf", &x, 1, 0, &node);
    td_infer(g);
    ms = time_kernel(fast_compile_native_eltwise, g, node, &x, 20, &ref_ms, impl, sizeof impl);
    print_message("Erf [128,3072] (%s): %.3f ms (%.2f ns/element), reference %.3f ms, %.1fx\n", impl, ms,
                  ms * 1e6 / (128.0 * 3072), ref_ms, ref_ms / ms);
    graph_free(g);
    tensor_release(&x);
    /* tf.nn.gelu's Erfc on [128, 1536] (MiniLM's feed-forward) */
    x = td_rand(94, 2, (int64_t[]){128, 1536}, -4, 4);
    g = td_graph("Erfc", &x, 1, 0, &node);
    td_infer(g);
    ms = time_kernel(fast_compile_native_eltwise, g, node, &x, 20, &ref_ms, impl, sizeof impl);
    print_message("Erfc [128,1536] (%s): %.3f ms (%.2f ns/element), reference %.3f ms, %.1fx\n", impl, ms,
                  ms * 1e6 / (128.0 * 1536), ref_ms, ref_ms / ms);
    graph_free(g);
    tensor_release(&x);
    /* LayerNorm's Mul(rstd [128,1], gamma [768]) */
    Tensor ins[2] = {bin_operand(91, 2, (int64_t[]){128, 1}, false), bin_operand(92, 1, (int64_t[]){768}, false)};
    g = td_graph("Mul", ins, 2, 2u, &node);
    td_infer(g);
    ms = time_kernel(fast_compile_native_binary, g, node, ins, 50, &ref_ms, impl, sizeof impl);
    print_message("Mul [128,1]x[768] (%s): %.3f ms (%.1f GB/s written), reference %.3f ms, %.1fx\n", impl, ms,
                  128.0 * 768 * 4 / (ms * 1e-3) * 1e-9, ref_ms, ref_ms / ms);
    graph_free(g);
    td_release(ins, 2);
    /* attention's Transpose [1,128,12,64] perm [0,2,1,3] */
    const int att[4] = {0, 2, 1, 3};
    Tensor tin[2] = {td_rand(93, 4, (int64_t[]){1, 128, 12, 64}, -1, 1), perm_tensor(4, att)};
    g = td_graph("Transpose", tin, 2, 2u, &node);
    td_infer(g);
    ms = time_kernel(fast_compile_transpose, g, node, tin, 50, &ref_ms, impl, sizeof impl);
    print_message("Transpose [1,128,12,64] (0,2,1,3) (%s): %.3f ms (%.1f GB/s moved), reference %.3f ms, %.1fx\n", impl,
                  ms, 2.0 * 128 * 768 * 4 / (ms * 1e-3) * 1e-9, ref_ms, ref_ms / ms);
    graph_free(g);
    td_release(tin, 2);
    dnn_set_threads(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transpose_every_rank3_perm),
        cmocka_unit_test(transpose_attention_and_rank2),
        cmocka_unit_test(transpose_every_dtype),
        cmocka_unit_test(transpose_keeps_bits),
        cmocka_unit_test(transpose_declines),
        cmocka_unit_test(erf_shapes),
        cmocka_unit_test(erf_accuracy_sweep),
        cmocka_unit_test(erfc_shapes_and_sweep),
        cmocka_unit_test(selu_shapes),
        cmocka_unit_test(erf_constant_and_in_place),
        cmocka_unit_test(eltwise_declines),
        cmocka_unit_test(binary_layernorm_patterns),
        cmocka_unit_test(binary_general_patterns),
        cmocka_unit_test(binary_special_values),
        cmocka_unit_test(binary_constant_operands),
        cmocka_unit_test(binary_onednn_declines_bert_patterns),
        cmocka_unit_test(binary_in_place),
        cmocka_unit_test(binary_declines),
        cmocka_unit_test(native_speed_bert_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
