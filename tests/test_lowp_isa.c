/* test_lowp_isa.c - the low-precision kernel paths on both x86 instruction-set levels this
 * machine can show oneDNN: the suite runs once with the CPU's full ISA and once more, as a
 * child process, with ONEDNN_MAX_CPU_ISA=AVX2 (test_under_avx2_cap), so the AVX-512 / VNNI /
 * BF16 / AMX kernels and the AVX2 ones (or the reference fallback) are each checked against the
 * reference runtime. Every test prints the ISA it ran on.
 *
 *   bf16: a conv + dense model rewritten by bf16_compute runs its bf16 nodes on oneDNN where
 *         the CPU has bf16 kernels and on the reference kernels where not (never a failure),
 *         and agrees with the reference within bf16 rounding.
 *         resnet8 through grappler+bf16: bf16 from conv to conv, residual Adds fused.
 *   cast: Cast float32 <-> bfloat16 (the borders of bf16 regions) bit-identical to the reference.
 *   int8: resnet8 through the grappler+int8 pipeline (grappler+int7 without VNNI, as
 *         `optimize` chooses): every residual Add and Relu fused into an int8 conv
 *         (int8_fuse_add), convs feeding only convs write uint8 (dequantize_pair), no float
 *         op left between the convolutions; the clean-ups change the reference output by
 *         float rounding and uint8 shortcuts only; fast vs reference and int8 vs fp32
 *         bounded. bert-tiny the same way: the residual Adds inside the int8 matmuls.
 *         int8_residual_chain on three residual blocks calibrated before fusion: shortcuts as
 *         uint8 addends (oneDNN sum post-op), GrappoQuantize 3 -> 1, within int8 tolerance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rewrite/calibrate.h"
#include "rewrite/pipeline.h"
#include "runtime/dnn_common.h"
#include "testrules.h"
#include "testisa.h"

static const PlanOpts one_thread = {.threads = 1};

static const char *isa_name(void) {
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    static char buf[160];
    snprintf(buf, sizeof buf, "ONEDNN_MAX_CPU_ISA=%s: vnni %s, bf16 %s", cap ? cap : "(unset, full)", dnn_cpu_has_vnni() ? "yes" : "no",
             dnn_cpu_has_bf16() ? "yes" : "no");
    return buf;
}

/* the first Placeholder's generated input (seed) */
static RefFeed feed_of(const Graph *g, uint64_t seed) {
    Err e = {0};
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_PLACEHOLDER) {
            RefFeed f = {g->nodes[i]->name, {0}};
            CHECK_OK(input_generate(g, i, seed, &f.value, &e), &e);
            return f;
        }
    fail();
    return (RefFeed){0};
}

/* output 0 of g on the reference (fast false) or fast runtime */
static Tensor out0(const Graph *g, bool fast, const RefFeed *f) {
    Tensor out[8];
    assert_true(g->n_outputs <= 8);
    Err e = {0};
    if (fast) {
        Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
        if (!p) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(plan_run(p, f, 1, out, NULL, &e), &e);
        plan_free(p);
    } else {
        CHECK_OK(ref_run(g, f, 1, NULL, 0, out, NULL, &e), &e);
    }
    for (int k = 1; k < g->n_outputs; k++) tensor_release(&out[k]);
    return out[0];
}

static double cosine(const Tensor *a, const Tensor *b) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < tensor_numel(a); i++) {
        double x = tensor_get(a, i), y = tensor_get(b, i);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    return dot / (sqrt(na * nb) + 1e-30);
}

/* ---------------------------------------------------------------- bf16 */

static Graph *conv_dense(void) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 12, 12, 16}), NULL);
    ValueRef y = bld_conv2d(&b, "c1", x, 3, 32, 1, "SAME", 0.1);
    y = bld_unary(&b, "c1/relu", "Relu", y);
    y = bld_conv2d(&b, "c2", y, 1, 32, 1, "SAME", 0.1);
    y = bld_mean(&b, "pool", y, (int32_t[]){1, 2}, 2, false);
    y = bld_dense(&b, "fc", y, 24, 0.2, 0.1);
    bld_add_output(&b, y);
    return tr_finish(&b);
}

static void test_bf16_conv_matmul(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = conv_dense(), *g = graph_clone(orig, &e);
    static const char *const rules[] = {"fuse_conv_bias_act", "fuse_matmul_bias_act", "fuse_activation", "bf16_compute", "cast_pair"};
    RewriteLog log = {0};
    CHECK_OK(pipeline_fixed_point(rules, 5, g, 0, 4, &log, &e), &e);
    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    int bf16_nodes = 0, on_dnn = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        bool host = n->op == OP_CONV2D || n->op == OP_FUSED_CONV2D || n->op == OP_MATMUL || n->op == OP_FUSED_MATMUL;
        if (!host || node_attr_type(n, "T", DT_FLOAT) != DT_BFLOAT16) continue;
        bf16_nodes++;
        const char *impl = plan_node_impl(p, i);
        on_dnn += strcmp(impl, "ref") != 0;
        printf("[ bf16     ] %-22s %s\n", n->name, impl);
    }
    plan_free(p);
    assert_int_equal(bf16_nodes, 3);
    /* oneDNN where it has bf16 kernels, the reference (never an error) where not */
    assert_int_equal(on_dnn, dnn_cpu_has_bf16() ? bf16_nodes : 0);

    double worst_fast = 0, worst_f32 = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        RefFeed f = feed_of(orig, seed);
        Tensor want = out0(orig, false, &f), ref = out0(g, false, &f), fast = out0(g, true, &f);
        double ef = tr_rel_err(&fast, &ref), e32 = tr_rel_err(&ref, &want);
        worst_fast = ef > worst_fast ? ef : worst_fast;
        worst_f32 = e32 > worst_f32 ? e32 : worst_f32;
        tensor_release(&want);
        tensor_release(&ref);
        tensor_release(&fast);
        tensor_release(&f.value);
    }
    printf("[ bf16     ] %s: %d bf16 nodes, %d on oneDNN; max rel err fast vs ref %.2e, bf16 vs fp32 %.2e\n", isa_name(),
           bf16_nodes, on_dnn, worst_fast, worst_f32);
    /* the same bf16 math, summed in another order: within a few bf16 roundings (2^-8 each) of
       the output's scale; bf16 vs fp32: three layers of 8-bit operands */
    assert_true(worst_fast <= 3 * 0x1p-8);
    assert_true(worst_f32 <= 0.05);
    graph_free(g);
    graph_free(orig);
}

/* resnet8 through the grappler+bf16 pipeline: batch norms folded, so every residual Add and
   Relu fuse into a bf16 convolution, and bf16 flows from conv to conv with no Cast between */
static void test_bf16_resnet8_pipeline(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = tr_zoo("resnet8", 32, 0, 0, true), *g = graph_clone(orig, &e);
    int convs = tr_count_op(orig, "Conv2D");
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler+bf16", g, 0, &log, &e), &e);
    int bf16_convs = 0;
    for (int i = 0; i < g->n_nodes; i++)
        bf16_convs += g->nodes[i]->op == OP_FUSED_CONV2D && node_attr_type(g->nodes[i], "T", DT_FLOAT) == DT_BFLOAT16;
    assert_int_equal(bf16_convs, convs);
    assert_int_equal(tr_count_op(g, "AddV2") + tr_count_op(g, "Add") + tr_count_op(g, "Relu"), 0);
    int casts = tr_count_op(g, "Cast");
    /* Casts only at the borders of the bf16 region (the input, the float pooling and head) */
    assert_true(casts <= 4);
    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    const char *impl = "";
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_FUSED_CONV2D) {
            impl = plan_node_impl(p, i);
            assert_true(dnn_cpu_has_bf16() == (strcmp(impl, "ref") != 0));
        }
    plan_free(p);
    double fast = 0, cos_min = 1;
    for (uint64_t seed = 201; seed <= 203; seed++) {
        RefFeed f = feed_of(orig, seed);
        Tensor want = out0(orig, false, &f), b = out0(g, false, &f), c = out0(g, true, &f);
        double y = tr_rel_err(&c, &b), z = cosine(&b, &want);
        fast = y > fast ? y : fast;
        cos_min = z < cos_min ? z : cos_min;
        Tensor *ts[] = {&want, &b, &c, &f.value};
        for (int k = 0; k < 4; k++) tensor_release(ts[k]);
    }
    printf("[ bf16     ] %s: grappler+bf16, %d bf16 convs (residual Adds fused), %d Casts, kernel %s;\n"
           "[ bf16     ]   fast vs reference %.2e, cosine vs fp32 >= %.5f\n",
           isa_name(), bf16_convs, casts, impl, fast, cos_min);
    /* nine layers of bf16 roundings, each summed in another order by oneDNN */
    assert_true(fast <= 0.05);
    assert_true(cos_min >= 0.999);
    graph_free(g);
    graph_free(orig);
}

/* Cast float32 -> bfloat16 -> float32 on the fast runtime (dnn_quant.c's loops) is
   bit-identical to the reference: ties to even, NaN stays NaN, infinities, denormals, the
   largest finite values (which round to infinity) */
static void test_cast_bf16_bits(void **state) {
    (void)state;
    Err e = {0};
    static const uint32_t bits[] = {0x00000000u, 0x80000000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f800000u,
                                    0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffbfffffu, 0x00000001u, 0x807fffffu,
                                    0x7f7fffffu, 0x7f7f7fffu, 0x3f800001u, 0xc0490fdbu};
    enum { N = sizeof bits / sizeof bits[0] };
    Builder b;
    CHECK_OK(bld_init(&b, 1, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(1, (int64_t[]){N}), NULL);
    ValueRef h = bld_cast(&b, "to_bf16", x, DT_BFLOAT16);
    bld_add_output(&b, bld_cast(&b, "to_f32", h, DT_FLOAT));
    bld_add_output(&b, h);
    Graph *g = tr_finish(&b);
    RefFeed f = {"x", {0}};
    Shape s = shape_make(1, (int64_t[]){N});
    CHECK_OK(tensor_from_data(&f.value, DT_FLOAT, &s, bits, sizeof bits, &e), &e);
    Tensor ref[2], fast[2];
    CHECK_OK(ref_run(g, &f, 1, NULL, 0, ref, NULL, &e), &e);
    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    assert_string_equal(plan_node_impl(p, graph_find(g, "to_bf16")), "grappo:c_loop");
    assert_string_equal(plan_node_impl(p, graph_find(g, "to_f32")), "grappo:c_loop");
    CHECK_OK(plan_run(p, &f, 1, fast, NULL, &e), &e);
    plan_free(p);
    assert_memory_equal(tensor_data(&ref[0]), tensor_data(&fast[0]), N * sizeof(float));
    assert_memory_equal(tensor_data(&ref[1]), tensor_data(&fast[1]), N * sizeof(uint16_t));
    const uint16_t *hb = tensor_data(&fast[1]);
    assert_int_equal(hb[2], 0x3f80); /* 1 + 2^-8: a tie, to even (down) */
    assert_int_equal(hb[3], 0x3f82); /* 1 + 3 * 2^-8: a tie, to even (up) */
    assert_int_equal(hb[12], 0x7f80); /* FLT_MAX rounds to infinity */
    assert_true((hb[8] & 0x7f80) == 0x7f80 && (hb[8] & 0x7f)); /* a NaN stays a NaN */
    printf("[ cast     ] %s: %d special values bit-identical to the reference\n", isa_name(), (int)N);
    for (int k = 0; k < 2; k++) {
        tensor_release(&ref[k]);
        tensor_release(&fast[k]);
    }
    tensor_release(&f.value);
    graph_free(g);
}

/* ---------------------------------------------------------------- int8 */

static void calibrate(Graph *g) {
    Err e = {0};
    RefFeed **b;
    int nf;
    CHECK_OK(calib_batches_generate(g, 4, &b, &nf, &e), &e);
    assert_true(calibrate_graph(g, (const RefFeed *const *)b, 4, nf, CALIB_MINMAX, &e) > 0);
    calib_batches_free(b, 4, nf);
}

static void test_int8_resnet8_pipeline(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = tr_zoo("resnet8", 32, 0, 0, true), *g = graph_clone(orig, &e);
    int convs = tr_count_op(orig, "Conv2D"), adds = tr_count_op(orig, "AddV2") + tr_count_op(orig, "Add");
    assert_true(adds > 0);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    calibrate(g);
    const char *pipe = dnn_cpu_has_vnni() ? "grappler+int8" : "grappler+int7";
    /* the same pipeline without its exact clean-ups, to isolate what they change */
    Graph *plain = graph_clone(g, &e);
    const char *quant[] = {dnn_cpu_has_vnni() ? "quantize_conv_int8" : "quantize_conv_int7",
                           dnn_cpu_has_vnni() ? "quantize_matmul_int8" : "quantize_matmul_int7"};
    CHECK_OK(pipeline_fixed_point(quant, 2, plain, 0, 2, NULL, &e), &e);
    memset(&log, 0, sizeof log);
    CHECK_OK(pipeline_run(pipe, g, 0, &log, &e), &e);

    int u8 = 0, fused_add = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_GRAPPO_QCONV2D) continue;
        u8 += node_attr_type(n, "out_type", DT_FLOAT) == DT_UINT8;
        fused_add += n->n_inputs == 4;
    }
    assert_int_equal(tr_count_op(g, "GrappoQConv2D"), convs);
    assert_int_equal(fused_add, adds); /* every residual Add inside an int8 conv */
    assert_int_equal(tr_count_op(g, "AddV2") + tr_count_op(g, "Add") + tr_count_op(g, "Relu"), 0);
    assert_true(u8 > 0);

    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    const char *impl = "";
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_GRAPPO_QCONV2D) {
            impl = plan_node_impl(p, i);
            assert_string_not_equal(impl, "ref"); /* 8-bit weights with VNNI, 7-bit without */
        }
    plan_free(p);

    double clean = 0, fast = 0, cos_min = 1;
    for (uint64_t seed = 101; seed <= 104; seed++) {
        RefFeed f = feed_of(orig, seed);
        Tensor want = out0(orig, false, &f), a = out0(plain, false, &f), b = out0(g, false, &f), c = out0(g, true, &f);
        double x = tr_rel_err(&b, &a), y = tr_rel_err(&c, &b), z = cosine(&b, &want);
        clean = x > clean ? x : clean;
        fast = y > fast ? y : fast;
        cos_min = z < cos_min ? z : cos_min;
        Tensor *ts[] = {&want, &a, &b, &c, &f.value};
        for (int k = 0; k < 5; k++) tensor_release(ts[k]);
    }
    printf("[ int8     ] %s: %s, %d int8 convs (%d with the residual Add, %d write uint8), kernel %s;\n"
           "[ int8     ]   clean-ups change the reference by %.2e, fast vs reference %.2e, cosine vs fp32 >= %.5f\n",
           isa_name(), pipe, convs, fused_add, u8, impl, clean, fast, cos_min);
    /* fusing rounds once instead of twice; writing uint8 directly is GrappoQuantize's math,
       but a float one ulp off can land on the other side of a rounding boundary: one uint8
       step of one activation, far below 1% of the logits; the uint8 shortcuts are rounded
       to the grid their next conv already uses */
    assert_true(clean <= 1e-2);
    /* oneDNN's float32 epilogue vs the reference's double: uint8 outputs may differ by one
       step next to rounding boundaries */
    assert_true(fast <= 2e-2);
    assert_true(cos_min >= 0.99);
    graph_free(plain);
    graph_free(g);
    graph_free(orig);
}

/* int8_fuse_add refuses what it must leave alone: a conv output that is also fetched, and an
   Add whose other operand has another shape (broadcast) */
static void test_int8_fuse_add_refusals(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 3, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 6, 6, 8}), NULL);
    ValueRef c = bld_conv2d(&b, "c", x, 3, 8, 1, "SAME", 0.2);
    ValueRef s = bld_binary(&b, "sum", "AddV2", c, x);
    ValueRef r = bld_unary(&b, "sum/relu", "Relu", s);
    ValueRef c2 = bld_conv2d(&b, "c2", r, 1, 8, 1, "SAME", 0.2);
    ValueRef bc = bld_binary(&b, "bcast", "AddV2", c2, bld_scalar_f32(&b, "one", 1.0f));
    bld_add_output(&b, bc);
    Graph *orig = tr_finish(&b);
    calibrate(orig);
    Graph *g = graph_clone(orig, &e);
    assert_true(tr_apply_all(rule_by_name("quantize_conv_int8"), g, 10) == 2);
    const RuleDef *fuse = rule_by_name("int8_fuse_add");
    assert_int_equal(tr_site_count(fuse, g), 1); /* c + x -> relu; not c2 + scalar */
    Graph *h = graph_clone(g, &e);
    const Node *sum = h->nodes[graph_find(h, "sum")];
    int conv = sum->inputs[0].node;
    assert_int_equal(h->nodes[conv]->op, OP_GRAPPO_QCONV2D);
    CHECK_OK(graph_add_output(h, (ValueRef){conv, 0}, &e), &e);
    assert_int_equal(tr_site_count(fuse, h), 0); /* the conv's own value is fetched */
    graph_free(h);
    assert_int_equal(tr_apply_all(fuse, g, 10), 1);
    int q = graph_find(g, "sum/relu"); /* the conv took the Relu's name */
    assert_true(q >= 0 && g->nodes[q]->op == OP_GRAPPO_QCONV2D && g->nodes[q]->n_inputs == 4);
    RefFeed f = feed_of(orig, 7);
    Graph *before = graph_clone(orig, &e);
    tr_apply_all(rule_by_name("quantize_conv_int8"), before, 10);
    Tensor a = out0(before, false, &f), bb = out0(g, false, &f), fast = out0(g, true, &f);
    printf("[ fuse add ] %s: rel err fused vs unfused (ref) %.2e, fast vs ref %.2e\n", isa_name(), tr_rel_err(&bb, &a),
           tr_rel_err(&fast, &bb));
    assert_true(tr_rel_err(&bb, &a) <= 1e-6);
    assert_true(tr_rel_err(&fast, &bb) <= 1e-4);
    Tensor *ts[] = {&a, &bb, &fast, &f.value};
    for (int k = 0; k < 4; k++) tensor_release(ts[k]);
    graph_free(before);
    graph_free(g);
    graph_free(orig);
}

/* bert-tiny through the int8 pipeline: every dense layer int8 with per-column weight scales, the
   residual Add of each attention and FFN output inside its GrappoQMatMul (int8_fuse_add), the
   FFN's GELU matmul writing uint8 for the next one (dequantize_pair) */
static void test_int8_bert_tiny_pipeline(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = tr_zoo("bert-tiny", 0, 16, 0, false), *g = graph_clone(orig, &e);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    int residual = 0;
    for (int k = 0; k < log.n; k++)
        if (!strcmp(log.v[k].rule, "fuse_residual_add")) residual = log.v[k].count;
    assert_true(residual > 0);
    calibrate(g);
    int adds_before = tr_count_op(g, "AddV2");
    const char *pipe = dnn_cpu_has_vnni() ? "grappler+int8" : "grappler+int7";
    Graph *plain = graph_clone(g, &e); /* quantized without the exact clean-ups */
    const char *quant[] = {dnn_cpu_has_vnni() ? "quantize_matmul_int8" : "quantize_matmul_int7"};
    CHECK_OK(pipeline_fixed_point(quant, 1, plain, 0, 2, NULL, &e), &e);
    CHECK_OK(pipeline_run(pipe, g, 0, NULL, &e), &e);
    int with_add = 0, u8 = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_GRAPPO_QMATMUL) continue;
        with_add += n->n_inputs == 4;
        u8 += node_attr_type(n, "out_type", DT_FLOAT) == DT_UINT8;
    }
    assert_int_equal(with_add, residual);
    assert_int_equal(tr_count_op(g, "AddV2"), adds_before); /* no AddV2 left behind the int8 matmuls */
    assert_true(u8 > 0);
    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    const char *impl = "";
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_GRAPPO_QMATMUL) {
            impl = plan_node_impl(p, i);
            assert_string_not_equal(impl, "ref");
        }
    plan_free(p);
    double fast = tr_compare_on(g, false, g, true, 1, 301), drift = tr_compare_on(orig, false, g, false, 1, 302);
    double clean = tr_compare_on(plain, false, g, false, 1, 303);
    printf("[ int8     ] %s: bert-tiny %s, %d int8 matmuls (%d with the residual Add, %d write uint8), kernel %s;\n"
           "[ int8     ]   exact clean-ups change the reference by %.2e, fast vs reference %.2e, int8 vs fp32 (max rel) %.2e\n",
           isa_name(), pipe, tr_count_op(g, "GrappoQMatMul"), with_add, u8, impl, clean, fast, drift);
    assert_true(clean <= 1e-2); /* float rounding, then at most a uint8 step next to a boundary */
    assert_true(fast <= 2e-2);
    assert_true(drift <= 0.1);
    graph_free(plain);
    graph_free(g);
    graph_free(orig);
}

/* a dense layer with a residual Add whose sum only feeds the next int8 matmul: int8_fuse_add
   then dequantize_pair give a GrappoQMatMul with the Add fused AND uint8 output (oneDNN binary
   add post-op, then the requantizing linear) */
static void test_int8_matmul_add_uint8(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 11, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(2, (int64_t[]){6, 32}), NULL);
    ValueRef y = bld_dense(&b, "d1", x, 32, 0.2, 0.1);
    y = bld_binary(&b, "res", "AddV2", y, x);
    y = bld_dense(&b, "d2", y, 8, 0.2, 0.1);
    bld_add_output(&b, y);
    Graph *orig = tr_finish(&b), *g = graph_clone(orig, &e);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    calibrate(g);
    Graph *plain = graph_clone(g, &e);
    const char *pipe = dnn_cpu_has_vnni() ? "grappler+int8" : "grappler+int7";
    const char *quant[] = {dnn_cpu_has_vnni() ? "quantize_matmul_int8" : "quantize_matmul_int7"};
    CHECK_OK(pipeline_fixed_point(quant, 1, plain, 0, 2, NULL, &e), &e);
    CHECK_OK(pipeline_run(pipe, g, 0, NULL, &e), &e);
    int fused_u8 = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_GRAPPO_QMATMUL && g->nodes[i]->n_inputs == 4 &&
            node_attr_type(g->nodes[i], "out_type", DT_FLOAT) == DT_UINT8)
            fused_u8 = i;
    assert_true(fused_u8 >= 0);
    assert_int_equal(tr_count_op(g, "AddV2"), 0);
    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    const char *impl = plan_node_impl(p, fused_u8);
    assert_string_not_equal(impl, "ref");
    plan_free(p);
    double worst_fast = 0, worst_clean = 0;
    for (uint64_t seed = 401; seed <= 404; seed++) {
        double f = tr_compare_on(g, false, g, true, 1, seed), c = tr_compare_on(plain, false, g, false, 1, seed);
        worst_fast = f > worst_fast ? f : worst_fast;
        worst_clean = c > worst_clean ? c : worst_clean;
    }
    printf("[ int8     ] %s: matmul + Add -> uint8 (kernel %s): fast vs reference %.2e, vs unfused float Add %.2e\n", isa_name(), impl,
           worst_fast, worst_clean);
    /* a uint8 step of the fused layer's output moves the next layer by far less than 2% */
    assert_true(worst_fast <= 2e-2);
    assert_true(worst_clean <= 2e-2);
    graph_free(plain);
    graph_free(g);
    graph_free(orig);
}

/* ---------------------------------------------------------------- int8 residual chain */

/* conv (+ bias) (+ relu) in TensorFlow's stock ops, as Keras writes them */
static ValueRef conv_layer(Builder *b, const char *name, ValueRef x, int k, int cout, int stride, bool relu) {
    char bn[128], bc[128], rn[128];
    int64_t cin = bld_dim(b, x, -1);
    ValueRef y = bld_conv2d(b, name, x, k, cout, stride, "SAME", sqrt(2.0 / (double)(k * k * cin)));
    Tensor bias = bld_normal(b, shape_make(1, (int64_t[]){cout}), 0.0, 0.1);
    snprintf(bn, sizeof bn, "%s/BiasAdd", name);
    snprintf(bc, sizeof bc, "%s/bias", name);
    y = bld_bias_add(b, bn, y, bld_const(b, bc, &bias));
    snprintf(rn, sizeof rn, "%s/relu", name);
    return relu ? bld_unary(b, rn, "Relu", y) : y;
}

/* stem conv, then three bottleneck-style residual blocks (identity, projection with stride 2,
   identity) on odd channel counts: AddV2(branch, shortcut) -> Relu */
static Graph *residual_blocks(void) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 17, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 10, 10, 3}), NULL);
    ValueRef r = conv_layer(&b, "stem", x, 3, 13, 1, true);
    for (int blk = 1; blk <= 3; blk++) {
        char n1[32], n2[32], n0[32], an[32], rn[32];
        snprintf(n1, sizeof n1, "b%d_1", blk);
        snprintf(n2, sizeof n2, "b%d_2", blk);
        snprintf(n0, sizeof n0, "b%d_0", blk);
        snprintf(an, sizeof an, "b%d_add", blk);
        snprintf(rn, sizeof rn, "b%d_out", blk);
        bool proj = blk == 2;
        int cout = proj ? 21 : (int)bld_dim(&b, r, -1);
        ValueRef y = conv_layer(&b, n1, r, 1, 7, proj ? 2 : 1, true);
        y = conv_layer(&b, n2, y, 3, cout, 1, false);
        ValueRef sc = proj ? conv_layer(&b, n0, r, 1, cout, 2, false) : r;
        r = bld_unary(&b, rn, "Relu", bld_binary(&b, an, "AddV2", y, sc));
    }
    bld_add_output(&b, r);
    return tr_finish(&b);
}

/* int8_residual_chain on a small residual network, calibrated before the fusions as optimize
   does (the residual Adds' operands get ranges): every block's shortcut enters its last conv
   as a uint8 addend, the blocks' outputs are uint8 (fewer GrappoQuantize nodes), the sums run
   on oneDNN (sum post-op, or the binary add for the float32 network output), and the result
   stays within int8 tolerance of fp32 */
static void test_int8_residual_chain(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = residual_blocks(), *g = graph_clone(orig, &e);
    calibrate(g);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", g, 0, &log, &e), &e);
    bool vnni = dnn_cpu_has_vnni();
    const char *pipe = vnni ? "grappler+int8" : "grappler+int7";
    /* the int8 pipeline (int8_residual_chain is not in its fixed order: it costs fidelity), then
       the rule and the requantization it enables */
    CHECK_OK(pipeline_run(pipe, g, 0, NULL, &e), &e);
    Graph *before = graph_clone(g, &e);
    const char *chain[] = {"int8_residual_chain", "dequantize_pair"};
    memset(&log, 0, sizeof log);
    CHECK_OK(pipeline_fixed_point(chain, 2, g, 0, 2, &log, &e), &e);
    int applied = 0;
    for (int i = 0; i < log.n; i++)
        if (!strcmp(log.v[i].rule, "int8_residual_chain")) applied = log.v[i].count;
    assert_int_equal(applied, 3);
    assert_int_equal(tr_count_op(g, "AddV2") + tr_count_op(g, "Relu"), 0);
    int q_before = tr_count_op(before, "GrappoQuantize"), q_after = tr_count_op(g, "GrappoQuantize");
    /* before: the input's, the stem's and block 2's outputs (each read by a conv and by a float
       addend; block 1's feeds two convs, so it wrote uint8 already); after: the input's alone */
    assert_int_equal(q_before, 3);
    assert_int_equal(q_after, 1);
    assert_int_equal(tr_count_op(g, "GrappoDequantize"), 0);

    Plan *p = plan_compile(g, NULL, 0, &one_thread, &e);
    if (!p) { print_error("%s\n", e.msg); fail(); }
    int u8_addends = 0, u8_out = 0;
    char impls[256] = "";
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_GRAPPO_QCONV2D) continue;
        const char *impl = plan_node_impl(p, i);
        assert_string_not_equal(impl, "ref");
        u8_out += node_attr_type(n, "out_type", DT_FLOAT) == DT_UINT8;
        if (n->n_inputs == 4) {
            assert_int_equal(node_input_value(g, n, 3)->dtype, DT_UINT8);
            u8_addends++;
            if (strlen(impls) + strlen(impl) + 2 < sizeof impls) { strcat(impls, " "); strcat(impls, impl); }
        }
    }
    plan_free(p);
    assert_int_equal(u8_addends, 3);

    double drift = 0, fast = 0, err_before = 0, err_after = 0, cos_min = 1;
    for (uint64_t seed = 201; seed <= 204; seed++) {
        RefFeed f = feed_of(orig, seed);
        Tensor want = out0(orig, false, &f), a = out0(before, false, &f), r = out0(g, false, &f), c = out0(g, true, &f);
        double d = tr_rel_err(&r, &a), y = tr_rel_err(&c, &r), eb = tr_rel_err(&a, &want), ea = tr_rel_err(&r, &want);
        double z = cosine(&r, &want);
        drift = d > drift ? d : drift;
        fast = y > fast ? y : fast;
        err_before = eb > err_before ? eb : err_before;
        err_after = ea > err_after ? ea : err_after;
        cos_min = z < cos_min ? z : cos_min;
        Tensor *ts[] = {&want, &a, &r, &c, &f.value};
        for (int k = 0; k < 5; k++) tensor_release(ts[k]);
    }
    printf("[ int8     ] %s: %s residual chain: %d uint8 addends (kernels%s), %d convs write uint8, GrappoQuantize %d -> %d;\n"
           "[ int8     ]   vs fp32 rel err %.2e -> %.2e (cosine >= %.5f), the rule moves the reference by %.2e, fast vs reference %.2e\n",
           isa_name(), pipe, u8_addends, impls, u8_out, q_before, q_after, err_before, err_after, cos_min, drift, fast);
    /* the shortcuts rounded to their uint8 grids: an int8 network's error, not more than twice
       what it was with float shortcuts (plus a uint8 step's worth) */
    assert_true(cos_min >= 0.99);
    assert_true(err_after <= 2 * err_before + 1e-2);
    /* oneDNN's float32 epilogue vs the reference's double: uint8 outputs may differ by one step
       next to rounding boundaries */
    assert_true(fast <= 2e-2);
    graph_free(before);
    graph_free(g);
    graph_free(orig);
}

/* ---------------------------------------------------------------- both ISAs */

/* this suite again under ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN reads it once, at its first use, so it
   takes a fresh process); its output is shown indented */
static void test_under_avx2_cap(void **state) {
    (void)state;
    tu_rerun_under_avx2(8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_conv_matmul),
        cmocka_unit_test(test_cast_bf16_bits),
        cmocka_unit_test(test_bf16_resnet8_pipeline),
        cmocka_unit_test(test_int8_resnet8_pipeline),
        cmocka_unit_test(test_int8_fuse_add_refusals),
        cmocka_unit_test(test_int8_bert_tiny_pipeline),
        cmocka_unit_test(test_int8_matmul_add_uint8),
        cmocka_unit_test(test_int8_residual_chain),
        cmocka_unit_test(test_under_avx2_cap),
    };
    return cmocka_run_group_tests_name("lowp_isa", tests, NULL, NULL);
}
