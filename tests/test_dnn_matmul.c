/* test_dnn_matmul.c - the oneDNN matmul family (dnn_matmul.c) against the reference kernels:
 * MatMul with every transpose pair, constant (prepacked) and runtime B; _FusedMatMul with every
 * fused_ops list it maps, residual Add with and without the in-place buffer; BatchMatMul V1/V2/V3
 * with broadcasting, adj flags and attention shapes; bfloat16; primitive sharing through the
 * cache; what must decline; and a timed BERT-base dense layer (printed, never asserted). */
#include <time.h>

#include "graph/input_gen.h"
#include "test_ref_nn.h"
#include "testfast.h"
#include "zoo/zoo.h"

extern int omp_get_max_threads(void);

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1 /* oneDNN's JIT and the reference are slow under ASan: small shapes */
#else
#define UNDER_ASAN 0
#endif

/* ---- one-node graphs ---- */

typedef struct Case {
    Graph *g;
    int node;
    int n_in;
    Tensor in[8]; /* the values fed to the node, for both runtimes */
} Case;

/* a node `op` whose input k is a Const when bit k of const_mask is set, else a Placeholder of
   the same dtype and shape; ins[] stay the caller's (the case takes its own references) */
static Case mk_case(const char *op, const Tensor *ins, int n_in, unsigned const_mask) {
    Case c = {0};
    Err e;
    c.g = graph_new();
    assert_non_null(c.g);
    c.node = graph_add_node(c.g, "op", op, &e);
    assert_true(c.node >= 0);
    for (int k = 0; k < n_in; k++) {
        char name[32];
        snprintf(name, sizeof name, "in%d", k);
        bool is_const = const_mask >> k & 1;
        int i = graph_add_node(c.g, name, is_const ? "Const" : "Placeholder", &e);
        if (i < 0) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(node_set_attr_type(c.g->nodes[i], "dtype", ins[k].dtype, &e), &e);
        if (is_const) CHECK_OK(node_set_attr_tensor(c.g->nodes[i], "value", &ins[k], &e), &e);
        else CHECK_OK(node_set_attr_shape(c.g->nodes[i], "shape", &ins[k].shape, &e), &e);
        CHECK_OK(node_add_input(c.g, c.node, (ValueRef){i, 0}, &e), &e);
        c.in[k] = tensor_share(&ins[k]);
    }
    c.n_in = n_in;
    return c;
}

static void case_infer(Case *c) {
    Err e;
    CHECK_OK(graph_infer(c->g, NULL, 0, ref_eval_node, NULL, &e), &e);
}

static void case_free(Case *c) {
    for (int k = 0; k < c->n_in; k++) tensor_release(&c->in[k]);
    graph_free(c->g);
}

static Tensor ref_out(const Case *c) {
    Err e;
    Tensor out = {0};
    CHECK_OK(ref_eval_node(NULL, c->g, c->node, c->in, &out, &e), &e);
    return out;
}

/* max |ref| must be > 0, or the relative error proves nothing */
static void expect_rel(const Tensor *got, const Tensor *want, double tol, const char *what) {
    char sa[96], sb[96];
    if (!shape_equal(&got->shape, &want->shape))
        fail_msg("%s: shape %s != %s", what, shape_str(&got->shape, sa, sizeof sa), shape_str(&want->shape, sb, sizeof sb));
    double big = 0;
    for (int64_t i = 0; i < tensor_numel(want); i++) big = fmax(big, fabs(tensor_get(want, i)));
    assert_true(big > 0);
    double r = tf_rel_err(got, want);
    if (!(r <= tol)) fail_msg("%s: relative error %g > %g", what, r, tol);
}

/* compiles and runs the case with the matmul family, checks it against the reference */
static void check_case(const Case *c, const char *what) {
    Err e;
    Tensor got = {0};
    char impl[128];
    int rc = tf_fast_node(fast_compile_matmul, c->g, c->node, c->in, &got, impl, sizeof impl, &e);
    if (rc < 0) fail_msg("%s: %s", what, e.msg);
    if (rc == 0) fail_msg("%s: declined", what);
    Tensor want = ref_out(c);
    expect_rel(&got, &want, 1e-4, what);
    tensor_release(&got);
    tensor_release(&want);
}

static int declines(const Case *c) {
    Err e;
    Tensor got = {0};
    int rc = tf_fast_node(fast_compile_matmul, c->g, c->node, c->in, &got, NULL, 0, &e);
    if (rc < 0) fail_msg("error instead of a decline: %s", e.msg);
    tensor_release(&got);
    return rc == 0;
}

static void set_bools(Case *c, const char *na, bool a, const char *nb, bool b) {
    nn_bool(c->g, c->node, na, a);
    nn_bool(c->g, c->node, nb, b);
}

/* ---- MatMul ---- */

static void matmul_transposes_const_and_runtime_b(void **state) {
    (void)state;
    static const int64_t sizes[][3] = {{7, 13, 5}, {1, 9, 3}, {33, 65, 17}}; /* M, K, N */
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t m = sizes[s][0], k = sizes[s][1], n = sizes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (unsigned cmask = 0; cmask <= 2; cmask += 2) {
                    Tensor ins[2] = {nn_rand(10 + ta, 2, ta ? (int64_t[]){k, m} : (int64_t[]){m, k}),
                                     nn_rand(20 + tb, 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n})};
                    Case c = mk_case("MatMul", ins, 2, cmask);
                    set_bools(&c, "transpose_a", ta, "transpose_b", tb);
                    case_infer(&c);
                    char what[96];
                    snprintf(what, sizeof what, "%lldx%lldx%lld ta=%d tb=%d const_b=%d", (long long)m, (long long)k,
                             (long long)n, ta, tb, cmask != 0);
                    check_case(&c, what);
                    case_free(&c);
                    tensor_release(&ins[0]);
                    tensor_release(&ins[1]);
                }
    }
}

/* ---- _FusedMatMul ---- */

/* a _FusedMatMul case: a [m,k] runtime, b (transposed when tb) const or not, bias [n], and an
   addend [m,n] when ops name "Add" */
static Case fused_case(const char *const *ops, int n_ops, int64_t m, int64_t k, int64_t n, bool tb, bool const_b,
                       float scale, uint64_t seed) {
    bool add = n_ops > 1 && !strcmp(ops[1], "Add");
    Tensor ins[4] = {nn_rand(seed, 2, (int64_t[]){m, k}), nn_rand(seed + 1, 2, tb ? (int64_t[]){n, k} : (int64_t[]){k, n}),
                     nn_rand(seed + 2, 1, (int64_t[]){n}), add ? nn_rand(seed + 3, 2, (int64_t[]){m, n}) : (Tensor){0}};
    for (int64_t i = 0; i < m * k; i++) nn_fm(&ins[0])[i] *= scale; /* reach Relu6's, Elu's, ... ranges */
    int n_in = add ? 4 : 3;
    Case c = mk_case("_FusedMatMul", ins, n_in, (const_b ? 2u : 0u) | 4u);
    nn_strs(c.g, c.node, "fused_ops", n_ops, ops);
    nn_int(c.g, c.node, "num_args", n_in - 2);
    nn_bool(c.g, c.node, "transpose_b", tb);
    nn_float(c.g, c.node, "leakyrelu_alpha", 0.15f);
    case_infer(&c);
    for (int i = 0; i < n_in; i++) tensor_release(&ins[i]);
    return c;
}

static void fused_matmul_every_activation(void **state) {
    (void)state;
    static const char *acts[] = {NULL,   "Relu",      "Relu6",           "Elu",           "LeakyRelu", "Sigmoid",
                                 "Tanh", "GeluExact", "GeluApproximate", "_FusedHardSwish"};
    for (size_t t = 0; t < sizeof acts / sizeof acts[0]; t++)
        for (int const_b = 0; const_b < 2; const_b++) {
            const char *ops[2] = {"BiasAdd", acts[t]};
            Case c = fused_case(ops, acts[t] ? 2 : 1, 9, 21, 11, t % 2, const_b, 3.0f, 40 + t);
            char what[96];
            snprintf(what, sizeof what, "BiasAdd,%s const_b=%d", acts[t] ? acts[t] : "-", const_b);
            check_case(&c, what);
            case_free(&c);
        }
}

/* Compiles node of c in ctx; runs it with out[0] taking the addend's buffer when `inplace`
   (which the kernel must allow), else into a fresh buffer. Checks against the reference and
   that the caller's addend was not touched in the second case. */
static void run_residual(DnnCtx *ctx, const Case *c, bool inplace) {
    Err e;
    FastKernel k;
    memset(&k, 0, sizeof k);
    k.inplace = -1;
    assert_int_equal(fast_compile_matmul(ctx, c->g, c->g->nodes[c->node], &k, &e), 1);
    assert_int_equal(k.inplace, 3); /* the addend is input 3 */
    Tensor in[4], out = {0}, before = {0};
    for (int i = 0; i < 4; i++) in[i] = tensor_share(&c->in[i]);
    CHECK_OK(tensor_copy(&before, &c->in[3], &e), &e);
    if (inplace) {
        CHECK_OK(tensor_copy(&out, &c->in[3], &e), &e); /* the plan's buffer: the addend dies here */
        tensor_release(&in[3]);
        in[3] = tensor_share(&out);
    } else {
        CHECK_OK(tensor_alloc(&out, DT_FLOAT, &c->g->nodes[c->node]->outputs[0].shape, &e), &e);
    }
    void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
    CHECK_OK(k.run(k.state, in, &out, scratch, &e), &e);
    free(scratch);
    Tensor want = ref_out(c);
    expect_rel(&out, &want, 1e-4, inplace ? "residual in place" : "residual copied");
    assert_memory_equal(tensor_data(&c->in[3]), tensor_data(&before), tensor_nbytes(&before));
    tensor_release(&want);
    tensor_release(&before);
    tensor_release(&out);
    for (int i = 0; i < 4; i++) tensor_release(&in[i]);
    k.destroy(k.state);
}

static void fused_matmul_residual_add(void **state) {
    (void)state;
    static const char *acts[] = {NULL, "Relu", "GeluApproximate"};
    Err e;
    for (size_t t = 0; t < 3; t++)
        for (int inplace = 0; inplace < 2; inplace++) {
            const char *ops[3] = {"BiasAdd", "Add", acts[t]};
            Case c = fused_case(ops, acts[t] ? 3 : 2, 13, 17, 19, inplace, true, 1.0f, 60 + t);
            DnnCtx ctx;
            CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
            run_residual(&ctx, &c, inplace);
            dnn_ctx_free(&ctx);
            check_case(&c, "residual through tf_fast_node");
            case_free(&c);
        }
}

/* the addend is also operand a: the output must not take its buffer */
static void fused_matmul_addend_is_operand_not_inplace(void **state) {
    (void)state;
    Err e;
    Tensor a = nn_rand(70, 2, (int64_t[]){6, 6}), b = nn_rand(71, 2, (int64_t[]){6, 6}), bias = nn_rand(72, 1, (int64_t[]){6});
    Tensor ins[3] = {a, b, bias};
    Case c = mk_case("_FusedMatMul", ins, 3, 6u);
    CHECK_OK(node_add_input(c.g, c.node, c.g->nodes[c.node]->inputs[0], &e), &e); /* x @ W + b + x */
    c.in[3] = tensor_share(&a);
    c.n_in = 4;
    const char *ops[2] = {"BiasAdd", "Add"};
    nn_strs(c.g, c.node, "fused_ops", 2, ops);
    nn_int(c.g, c.node, "num_args", 2);
    case_infer(&c);
    FastKernel k;
    memset(&k, 0, sizeof k);
    k.inplace = 7;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    assert_int_equal(fast_compile_matmul(&ctx, c.g, c.g->nodes[c.node], &k, &e), 1);
    assert_int_equal(k.inplace, -1);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
    check_case(&c, "addend = operand");
    case_free(&c);
    tensor_release(&a);
    tensor_release(&b);
    tensor_release(&bias);
}

/* ---- BatchMatMul ---- */

/* x [xs] (runtime) times y [ys] (const or not); xs/ys are the stored shapes */
static void check_batch(const char *op, int xr, const int64_t *xs, int yr, const int64_t *ys, bool adj_x, bool adj_y,
                        bool const_y, uint64_t seed) {
    Tensor ins[2] = {nn_rand(seed, xr, xs), nn_rand(seed + 1, yr, ys)};
    Case c = mk_case(op, ins, 2, const_y ? 2u : 0u);
    set_bools(&c, "adj_x", adj_x, "adj_y", adj_y);
    case_infer(&c);
    char what[160], sa[64], sb[64];
    snprintf(what, sizeof what, "%s %s x %s adj_x=%d adj_y=%d const_y=%d", op, shape_str(&ins[0].shape, sa, sizeof sa),
             shape_str(&ins[1].shape, sb, sizeof sb), adj_x, adj_y, const_y);
    check_case(&c, what);
    case_free(&c);
    tensor_release(&ins[0]);
    tensor_release(&ins[1]);
}

static void batch_matmul_broadcast_and_adj(void **state) {
    (void)state;
    /* [2,1,3,4] x [5,4,2] -> [2,5,3,2], every adj pair (stored shapes transposed to match) */
    for (int ax = 0; ax < 2; ax++)
        for (int ay = 0; ay < 2; ay++)
            for (int cy = 0; cy < 2; cy++) {
                int64_t xs[4] = {2, 1, ax ? 4 : 3, ax ? 3 : 4}, ys[3] = {5, ay ? 2 : 4, ay ? 4 : 2};
                check_batch("BatchMatMulV2", 4, xs, 3, ys, ax, ay, cy, 80 + 2 * ax + ay);
            }
    /* broadcasting in the other operand, rank 5, and a rank-2 y */
    check_batch("BatchMatMulV2", 3, (int64_t[]){1, 5, 3}, 4, (int64_t[]){2, 3, 3, 7}, false, false, false, 90);
    check_batch("BatchMatMulV2", 5, (int64_t[]){2, 1, 3, 4, 5}, 4, (int64_t[]){3, 1, 5, 2}, false, false, false, 91);
    check_batch("BatchMatMulV2", 3, (int64_t[]){4, 6, 5}, 2, (int64_t[]){5, 3}, false, false, true, 92);
    check_batch("BatchMatMul", 3, (int64_t[]){3, 4, 5}, 3, (int64_t[]){3, 6, 5}, false, true, false, 93);
    check_batch("BatchMatMulV3", 3, (int64_t[]){3, 5, 4}, 3, (int64_t[]){3, 5, 6}, true, false, true, 94);
}

static void batch_matmul_attention_shapes(void **state) {
    (void)state;
    /* BERT: scores = Q K^T [b,h,s,d] x [b,h,s,d] (adj_y), context = P V [b,h,s,s] x [b,h,s,d] */
    int64_t h = UNDER_ASAN ? 2 : 12, s = UNDER_ASAN ? 16 : 128, d = UNDER_ASAN ? 8 : 64;
    check_batch("BatchMatMulV2", 4, (int64_t[]){1, h, s, d}, 4, (int64_t[]){1, h, d, s}, false, false, false, 100);
    check_batch("BatchMatMulV2", 4, (int64_t[]){1, h, s, d}, 4, (int64_t[]){1, h, s, d}, false, true, false, 101);
    check_batch("BatchMatMulV2", 4, (int64_t[]){1, h, s, s}, 4, (int64_t[]){1, h, s, d}, false, false, false, 102);
}

/* ---- primitive cache ---- */

/* dense layers in one context: identical ones (own weights) share one primitive and still
   compute with their own weights; another activation, alpha or a runtime B does not share */
static void identical_layers_share_primitives(void **state) {
    (void)state;
    Err e;
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    const char *relu[2] = {"BiasAdd", "Relu"}, *tanh_ops[2] = {"BiasAdd", "Tanh"}, *leaky[2] = {"BiasAdd", "LeakyRelu"};
    enum { N_LAYERS = 8 };
    Case c[N_LAYERS];
    FastKernel k[N_LAYERS];
    for (int i = 0; i < N_LAYERS; i++) {
        /* 0-2: identical (constant B^T); 3: another activation; 4: constant B not transposed,
           which shares (the transpose goes into the prepacking reorder); 5: runtime B^T;
           6, 7: LeakyRelu alphas 0.15 and 0.3 */
        const char *const *ops = i == 3 ? tanh_ops : i >= 6 ? leaky : relu;
        c[i] = fused_case(ops, 2, 10, 24, 12, i != 4, i != 5, 1.0f, 200 + 10 * i);
        if (i == 7) nn_float(c[i].g, c[i].node, "leakyrelu_alpha", 0.3f);
        memset(&k[i], 0, sizeof k[i]);
        k[i].inplace = -1;
        assert_int_equal(fast_compile_matmul(&ctx, c[i].g, c[i].g->nodes[c[i].node], &k[i], &e), 1);
    }
    assert_int_equal(ctx.cache_misses, 5);
    assert_int_equal(ctx.cache_hits, 3);
    for (int i = 0; i < N_LAYERS; i++) {
        Tensor out = {0};
        CHECK_OK(tensor_alloc(&out, DT_FLOAT, &c[i].g->nodes[c[i].node]->outputs[0].shape, &e), &e);
        void *scratch = k[i].scratch_bytes ? aligned_alloc(64, (k[i].scratch_bytes + 63) & ~(size_t)63) : NULL;
        CHECK_OK(k[i].run(k[i].state, c[i].in, &out, scratch, &e), &e);
        free(scratch);
        Tensor want = ref_out(&c[i]);
        expect_rel(&out, &want, 1e-4, "shared primitive");
        tensor_release(&want);
        tensor_release(&out);
        k[i].destroy(k[i].state);
        case_free(&c[i]);
    }
    dnn_ctx_free(&ctx);
}

/* ---- bfloat16 ---- */

/* the f32 tensor t rounded to bfloat16 */
static Tensor to_bf16(const Tensor *t) {
    Tensor r;
    Err e;
    CHECK_OK(tensor_alloc(&r, DT_BFLOAT16, &t->shape, &e), &e);
    for (int64_t i = 0; i < tensor_numel(t); i++) tensor_set(&r, i, tensor_get(t, i));
    return r;
}

/* bf16 kernels exist in oneDNN 2.6 from avx512_core on (native from avx512_core_bf16) */
static bool bf16_capable(void) {
    return ((unsigned)dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core;
}

/* got (bf16) vs the reference: ref_eval_node on the bf16 graph when low-precision emulation is
   available, else the float32 graph on the same (bf16-representable) values. Tolerance: the
   output's bf16 rounding (2^-8 relative) plus float32 accumulation slack. */
static void compare_bf16(const Tensor *got, const Case *cb, const Case *cf, const char *what) {
    Err e;
    Tensor want = {0};
    assert_int_equal(got->dtype, DT_BFLOAT16);
    if (ref_eval_node(NULL, cb->g, cb->node, cb->in, &want, &e)) want = ref_out(cf);
    double big = 0;
    for (int64_t i = 0; i < tensor_numel(&want); i++) big = fmax(big, fabs(tensor_get(&want, i)));
    assert_true(big > 0);
    for (int64_t i = 0; i < tensor_numel(&want); i++) {
        double x = tensor_get(got, i), y = tensor_get(&want, i);
        if (!(fabs(x - y) <= fabs(y) / 256 + 1e-4 * big)) fail_msg("%s: element %lld %g vs %g", what, (long long)i, x, y);
    }
    tensor_release(&want);
}

/* runs op in bfloat16 (inputs: f32_ins rounded) and checks it: against the reference on an
   AVX-512 CPU, and that it declines elsewhere */
static void check_bf16(const char *op, const Tensor *f32_ins, int n_in, unsigned const_mask, const char *const *ops,
                       int n_ops, bool tb, const char *what) {
    Tensor b16[4], f32[4];
    for (int i = 0; i < n_in; i++) {
        b16[i] = to_bf16(&f32_ins[i]);
        Err e;
        CHECK_OK(tensor_alloc(&f32[i], DT_FLOAT, &f32_ins[i].shape, &e), &e);
        for (int64_t j = 0; j < tensor_numel(&b16[i]); j++) tensor_set(&f32[i], j, tensor_get(&b16[i], j));
    }
    Case cb = mk_case(op, b16, n_in, const_mask), cf = mk_case(op, f32, n_in, const_mask);
    Case *cs[2] = {&cb, &cf};
    for (int i = 0; i < 2; i++) {
        if (ops) {
            nn_strs(cs[i]->g, cs[i]->node, "fused_ops", n_ops, ops);
            nn_int(cs[i]->g, cs[i]->node, "num_args", n_in - 2);
        }
        nn_bool(cs[i]->g, cs[i]->node, strncmp(op, "Batch", 5) ? "transpose_b" : "adj_y", tb);
        case_infer(cs[i]);
    }
    Err e;
    Tensor got = {0};
    char impl[128];
    int rc = tf_fast_node(fast_compile_matmul, cb.g, cb.node, cb.in, &got, impl, sizeof impl, &e);
    if (rc < 0) fail_msg("%s: %s", what, e.msg);
    if (!bf16_capable()) { /* oneDNN 2.6 has no bf16 matmul without AVX-512: must decline */
        if (rc != 0) fail_msg("%s: ran bf16 on a CPU without AVX-512 (%s)", what, impl);
        print_message("bf16 %s: declined (CPU ISA %#x has no AVX-512)\n", what, (unsigned)dnnl_get_effective_cpu_isa());
    } else {
        if (rc == 0) fail_msg("%s: declined on an AVX-512 CPU", what);
        compare_bf16(&got, &cb, &cf, what);
        print_message("bf16 %s: %s\n", what, impl);
    }
    tensor_release(&got);
    for (int i = 0; i < n_in; i++) {
        tensor_release(&b16[i]);
        tensor_release(&f32[i]);
    }
    case_free(&cb);
    case_free(&cf);
}

static void bf16_matmul_fused_and_batch(void **state) {
    (void)state;
    Tensor a = nn_rand(300, 2, (int64_t[]){9, 40}), b = nn_rand(301, 2, (int64_t[]){40, 24});
    Tensor bt = nn_rand(302, 2, (int64_t[]){24, 40}), bias = nn_rand(303, 1, (int64_t[]){24});
    Tensor add = nn_rand(304, 2, (int64_t[]){9, 24});
    check_bf16("MatMul", (Tensor[]){a, b}, 2, 2u, NULL, 0, false, "MatMul const b");
    check_bf16("MatMul", (Tensor[]){a, bt}, 2, 0u, NULL, 0, true, "MatMul runtime b^T");
    const char *gelu[2] = {"BiasAdd", "GeluExact"}, *res[3] = {"BiasAdd", "Add", "Relu"};
    check_bf16("_FusedMatMul", (Tensor[]){a, bt, bias}, 3, 6u, gelu, 2, true, "BiasAdd,GeluExact");
    check_bf16("_FusedMatMul", (Tensor[]){a, b, bias, add}, 4, 6u, res, 3, false, "BiasAdd,Add,Relu");
    Tensor x = nn_rand(305, 4, (int64_t[]){1, 2, 16, 8}), y = nn_rand(306, 4, (int64_t[]){1, 2, 16, 8});
    check_bf16("BatchMatMulV2", (Tensor[]){x, y}, 2, 0u, NULL, 0, true, "BatchMatMulV2 Q.K^T");
    Tensor *all[] = {&a, &b, &bt, &bias, &add, &x, &y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_release(all[i]);
}

/* ---- declines ---- */

static void declines_what_it_cannot_map(void **state) {
    (void)state;
    Err e;
    /* int32 MatMul */
    Tensor ai = tt_i32(2, (int64_t[]){2, 2}, (int32_t[]){1, 2, 3, 4}), bi = tt_i32(2, (int64_t[]){2, 2}, (int32_t[]){5, 6, 7, 8});
    Case c = mk_case("MatMul", (Tensor[]){ai, bi}, 2, 2u);
    case_infer(&c);
    assert_true(declines(&c));
    case_free(&c);
    /* BatchMatMulV3 int8 x int8 -> int32 */
    Tensor a8, b8;
    Shape s8 = shape_make(3, (int64_t[]){2, 3, 3});
    CHECK_OK(tensor_alloc(&a8, DT_INT8, &s8, &e), &e);
    CHECK_OK(tensor_alloc(&b8, DT_INT8, &s8, &e), &e);
    c = mk_case("BatchMatMulV3", (Tensor[]){a8, b8}, 2, 0u);
    CHECK_OK(node_set_attr_type(c.g->nodes[c.node], "Tout", DT_INT32, &e), &e);
    case_infer(&c);
    assert_int_equal(c.g->nodes[c.node]->outputs[0].dtype, DT_INT32);
    assert_true(declines(&c));
    case_free(&c);
    /* float16 */
    Tensor ah, bh;
    Shape sh = shape_make(2, (int64_t[]){3, 3});
    CHECK_OK(tensor_alloc(&ah, DT_HALF, &sh, &e), &e);
    CHECK_OK(tensor_alloc(&bh, DT_HALF, &sh, &e), &e);
    c = mk_case("MatMul", (Tensor[]){ah, bh}, 2, 0u);
    case_infer(&c);
    assert_true(declines(&c));
    case_free(&c);
    /* Prelu (per-channel alpha input) is not mapped */
    const char *prelu[2] = {"BiasAdd", "Prelu"};
    Tensor pa = nn_rand(400, 2, (int64_t[]){4, 5}), pb = nn_rand(401, 2, (int64_t[]){5, 3}),
           pbias = nn_rand(402, 1, (int64_t[]){3}), palpha = nn_rand(403, 1, (int64_t[]){3});
    c = mk_case("_FusedMatMul", (Tensor[]){pa, pb, pbias, palpha}, 4, 14u);
    nn_strs(c.g, c.node, "fused_ops", 2, prelu);
    nn_int(c.g, c.node, "num_args", 2);
    case_infer(&c);
    assert_true(declines(&c));
    /* an unknown fused op (set after inference, which would reject it) */
    const char *softplus[2] = {"BiasAdd", "Softplus"};
    nn_strs(c.g, c.node, "fused_ops", 2, softplus);
    assert_true(declines(&c));
    case_free(&c);
    /* K = 0: an empty sum, left to the reference */
    Tensor za = nn_zeros(2, (int64_t[]){3, 0}), zb = nn_zeros(2, (int64_t[]){0, 4});
    c = mk_case("MatMul", (Tensor[]){za, zb}, 2, 0u);
    case_infer(&c);
    assert_true(declines(&c));
    case_free(&c);
    /* not a matmul */
    c = mk_case("Relu", (Tensor[]){pa}, 1, 0u);
    case_infer(&c);
    assert_true(declines(&c));
    case_free(&c);
    Tensor *all[] = {&ai, &bi, &a8, &b8, &ah, &bh, &pa, &pb, &pbias, &palpha, &za, &zb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_release(all[i]);
}

/* ---- a real model ---- */

static bool is_matmul(const Node *n) {
    return n->op == OP_MATMUL || n->op == OP_FUSED_MATMUL || n->op == OP_BATCH_MATMUL || n->op == OP_BATCH_MATMUL_V2 ||
           n->op == OP_BATCH_MATMUL_V3;
}

/* every matmul of the zoo's BERT-tiny compiles (none declines), identical layers share
   primitives, and each matches the reference on the model's own activations */
static void zoo_bert_tiny_every_matmul(void **state) {
    (void)state;
    Err e;
    ZooOpts o = zoo_opts_default();
    o.seq_len = UNDER_ASAN ? 16 : 64;
    Graph *g = zoo_build("bert-tiny", &o, &e);
    if (!g) fail_msg("%s", e.msg);
    RefFeed feeds[8];
    int n_feeds = 0, n_mm = 0, n_fetch = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!strcmp(n->op_name, "Placeholder")) {
            assert_true(n_feeds < 8);
            feeds[n_feeds].name = n->name;
            CHECK_OK(input_generate(g, i, 7, &feeds[n_feeds].value, &e), &e);
            n_feeds++;
        }
        if (is_matmul(n)) {
            n_mm++;
            n_fetch += n->n_inputs;
        }
    }
    assert_true(n_mm >= 12); /* 2 layers x (q, k, v, scores, context, output, 2 ffn) */
    ValueRef *fetch = calloc((size_t)n_fetch, sizeof *fetch);
    Tensor *vals = calloc((size_t)n_fetch, sizeof *vals);
    assert_non_null(fetch);
    assert_non_null(vals);
    int f = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (is_matmul(g->nodes[i]))
            for (int k = 0; k < g->nodes[i]->n_inputs; k++) fetch[f++] = g->nodes[i]->inputs[k];
    CHECK_OK(ref_run(g, feeds, n_feeds, fetch, n_fetch, vals, NULL, &e), &e);
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    f = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!is_matmul(n)) continue;
        FastKernel k;
        memset(&k, 0, sizeof k);
        k.inplace = -1;
        int rc = fast_compile_matmul(&ctx, g, n, &k, &e);
        if (rc != 1) fail_msg("%s (%s): %s", n->name, n->op_name, rc ? e.msg : "declined");
        Tensor got = {0}, want = {0};
        CHECK_OK(tensor_alloc(&got, n->outputs[0].dtype, &n->outputs[0].shape, &e), &e);
        void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
        CHECK_OK(k.run(k.state, &vals[f], &got, scratch, &e), &e);
        free(scratch);
        CHECK_OK(ref_eval_node(NULL, g, i, &vals[f], &want, &e), &e);
        expect_rel(&got, &want, 1e-4, n->name);
        tensor_release(&got);
        tensor_release(&want);
        k.destroy(k.state);
        f += n->n_inputs;
    }
    assert_true(ctx.cache_hits >= n_mm / 2); /* layer 1 reuses layer 0's primitives */
    dnn_ctx_free(&ctx);
    for (int i = 0; i < n_fetch; i++) tensor_release(&vals[i]);
    for (int i = 0; i < n_feeds; i++) tensor_release(&feeds[i].value);
    free(fetch);
    free(vals);
    graph_free(g);
}

/* ---- BERT-base shapes: implementations and a timed dense layer ---- */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* compiles c in a fresh context with `threads` OpenMP threads, checks it once against want
   (when not NULL), then times `reps` runs after a warm-up and prints the best and median */
static void time_case(const Case *c, int threads, int reps, const Tensor *want, double flops, const char *what) {
    Err e;
    dnn_set_threads(threads);
    DnnCtx ctx;
    CHECK_OK(dnn_ctx_init(&ctx, &e), &e);
    FastKernel k;
    memset(&k, 0, sizeof k);
    k.inplace = -1;
    assert_int_equal(fast_compile_matmul(&ctx, c->g, c->g->nodes[c->node], &k, &e), 1);
    Tensor out = {0};
    CHECK_OK(tensor_alloc(&out, c->g->nodes[c->node]->outputs[0].dtype, &c->g->nodes[c->node]->outputs[0].shape, &e), &e);
    void *scratch = k.scratch_bytes ? aligned_alloc(64, (k.scratch_bytes + 63) & ~(size_t)63) : NULL;
    CHECK_OK(k.run(k.state, c->in, &out, scratch, &e), &e);
    if (want) expect_rel(&out, want, 1e-4, what);
    double t[16];
    for (int r = 0; r < reps && r < 16; r++) {
        double t0 = now_s();
        CHECK_OK(k.run(k.state, c->in, &out, scratch, &e), &e);
        t[r] = now_s() - t0;
    }
    for (int i = 1; i < reps; i++) /* insertion sort: best first */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    print_message("%-44s %d thr: %-18s best %7.3f ms %6.1f GFLOP/s, median %7.3f ms %6.1f GFLOP/s (weights %zu B, scratch %zu B)\n",
                  what, threads, k.impl, t[0] * 1e3, flops / t[0] * 1e-9, t[reps / 2] * 1e3, flops / t[reps / 2] * 1e-9,
                  k.weight_bytes, k.scratch_bytes);
    free(scratch);
    tensor_release(&out);
    k.destroy(k.state);
    dnn_ctx_free(&ctx);
}

static void bert_base_dense_timed(void **state) {
    (void)state;
    int threads0 = omp_get_max_threads();
    int64_t m = UNDER_ASAN ? 16 : 128, k = UNDER_ASAN ? 96 : 768, n = UNDER_ASAN ? 384 : 3072;
    const char *ops[2] = {"BiasAdd", "GeluExact"};
    Case c = fused_case(ops, 2, m, k, n, false, true, 1.0f, 500);
    Tensor want = ref_out(&c);
    double flops = 2.0 * (double)(m * k * n);
    char what[96];
    snprintf(what, sizeof what, "dense [%lld,%lld]x[%lld,%lld]+bias+gelu", (long long)m, (long long)k, (long long)k,
             (long long)n);
    int reps = UNDER_ASAN ? 2 : 10;
    time_case(&c, 2, reps, &want, flops, what);
    time_case(&c, 1, reps, &want, flops, what);
    tensor_release(&want);
    case_free(&c);
    if (!UNDER_ASAN) { /* the other BERT-base matmuls: which implementation each gets */
        const char *bias[1] = {"BiasAdd"};
        Case q = fused_case(bias, 1, 128, 768, 768, false, true, 1.0f, 510);
        Case o = fused_case(bias, 1, 128, 3072, 768, false, true, 1.0f, 520);
        time_case(&q, 2, 5, NULL, 2.0 * 128 * 768 * 768, "dense [128,768]x[768,768]+bias");
        time_case(&o, 2, 5, NULL, 2.0 * 128 * 3072 * 768, "dense [128,3072]x[3072,768]+bias");
        case_free(&q);
        case_free(&o);
        Tensor qk[2] = {nn_rand(530, 4, (int64_t[]){1, 12, 128, 64}), nn_rand(531, 4, (int64_t[]){1, 12, 128, 64})};
        Case a = mk_case("BatchMatMulV2", qk, 2, 0u);
        nn_bool(a.g, a.node, "adj_y", true);
        case_infer(&a);
        time_case(&a, 2, 5, NULL, 2.0 * 12 * 128 * 128 * 64, "attention Q.K^T [1,12,128,64] adj_y");
        case_free(&a);
        tensor_release(&qk[0]);
        tensor_release(&qk[1]);
    }
    dnn_set_threads(threads0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_transposes_const_and_runtime_b),
        cmocka_unit_test(fused_matmul_every_activation),
        cmocka_unit_test(fused_matmul_residual_add),
        cmocka_unit_test(fused_matmul_addend_is_operand_not_inplace),
        cmocka_unit_test(batch_matmul_broadcast_and_adj),
        cmocka_unit_test(batch_matmul_attention_shapes),
        cmocka_unit_test(identical_layers_share_primitives),
        cmocka_unit_test(bf16_matmul_fused_and_batch),
        cmocka_unit_test(declines_what_it_cannot_map),
        cmocka_unit_test(zoo_bert_tiny_every_matmul),
        cmocka_unit_test(bert_base_dense_timed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
