/* test_plan.c - the fast runtime end to end: the arena planner, and every zoo model and real
 * fixture giving the reference executor's outputs through plan_compile/plan_run
 * (max|fast - ref| <= 1e-4 * max|ref|), memory accounting against what the process
 * allocated. */
#include "testutil.h"

#include <malloc.h>
#include <stdlib.h>

#include "graph/input_gen.h"
#include "io/graphdef.h"
#include "io/npy.h"
#include "runtime/plan.h"
#include "runtime/ref.h"
#include "util/rng.h"
#include "zoo/zoo.h"

/* ---- arena planner ---- */

static void check_no_overlap(const MemReq *r, int n, const size_t *off, size_t arena) {
    for (int i = 0; i < n; i++) {
        assert_true(off[i] % 64 == 0);
        assert_true(off[i] + r[i].size <= arena);
        for (int j = i + 1; j < n; j++) {
            bool live_together = r[i].first <= r[j].last && r[j].first <= r[i].last;
            bool disjoint = off[i] + r[i].size <= off[j] || off[j] + r[j].size <= off[i];
            if (live_together && !disjoint) {
                print_error("tensors %d and %d overlap in time and memory\n", i, j);
                fail();
            }
        }
    }
}

static void test_memplan_hand_cases(void **state) {
    (void)state;
    size_t off[4];
    /* a chain: each tensor dies when the next is made -> two buffers suffice */
    MemReq chain[4] = {{1024, 0, 1}, {1024, 1, 2}, {1024, 2, 3}, {1024, 3, 4}};
    assert_int_equal(memplan_assign(chain, 4, MEMPLAN_GREEDY_BY_SIZE, off), 2048);
    assert_int_equal(memplan_assign(chain, 4, MEMPLAN_FIRST_FIT, off), 2048);
    assert_int_equal(memplan_lower_bound(chain, 4), 2048);
    /* all alive together -> the sum, rounded to 64 */
    MemReq all[3] = {{100, 0, 5}, {10, 0, 5}, {64, 0, 5}};
    assert_int_equal(memplan_assign(all, 3, MEMPLAN_FIRST_FIT, off), 128 + 64 + 64);
    check_no_overlap(all, 3, off, 256);
    /* first fit in order leaves a hole the big late tensor cannot use; greedy by size places
       the big one first: A(64,[0,1]) B(64,[0,3]) C(128,[2,3]) -> first fit: A@0 B@64 C@128 = 256;
       greedy: C@0 B@128 A@... (A overlaps B only) A@0? no: A and C are disjoint in time -> A@0 = 192 */
    MemReq mix[3] = {{64, 0, 1}, {64, 0, 3}, {128, 2, 3}};
    assert_int_equal(memplan_assign(mix, 3, MEMPLAN_FIRST_FIT, off), 256);
    assert_int_equal(memplan_assign(mix, 3, MEMPLAN_GREEDY_BY_SIZE, off), 192);
    MemPlanAlgo chosen;
    assert_int_equal(memplan_best(mix, 3, off, &chosen), 192);
    assert_int_equal(chosen, MEMPLAN_GREEDY_BY_SIZE);
    check_no_overlap(mix, 3, off, 192);
}

static void test_memplan_random_property(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 42);
    MemReq reqs[60];
    size_t off[60];
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + (int)rng_below(&r, 60);
        for (int i = 0; i < n; i++) {
            int a = (int)rng_below(&r, 40), len = (int)rng_below(&r, 10);
            reqs[i] = (MemReq){1 + rng_below(&r, 5000), a, a + len};
        }
        for (int algo = 0; algo < 2; algo++) {
            size_t arena = memplan_assign(reqs, n, (MemPlanAlgo)algo, off);
            check_no_overlap(reqs, n, off, arena);
            assert_true(arena >= memplan_lower_bound(reqs, n));
        }
    }
}

/* ---- plan vs reference ---- */

static double rel_err(const Tensor *a, const Tensor *b) {
    double m = 0, e = 0;
    for (int64_t i = 0; i < tensor_numel(b); i++) {
        double x = tensor_get(a, i), y = tensor_get(b, i);
        if (fabs(y) > m) m = fabs(y);
        if (!(fabs(x - y) <= e)) e = isnan(x - y) ? INFINITY : fabs(x - y);
    }
    return m > 0 ? e / m : e;
}

/* Runs g (inferred) on generated inputs with ref_run and with a plan (fast, then reference
   kernels in the plan's arena); checks fast within 1e-4 relative and plan-reference exact. */
static void compare_plan(const char *what, Graph *g, const RefFeed *given, int n_given) {
    Err e = {0};
    RefFeed feeds[8];
    int nf = 0;
    for (int k = 0; k < n_given; k++) feeds[nf++] = (RefFeed){given[k].name, tensor_share(&given[k].value)};
    if (!n_given)
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == OP_PLACEHOLDER) {
                feeds[nf].name = g->nodes[i]->name;
                CHECK_OK(input_generate(g, i, 5, &feeds[nf].value, &e), &e);
                nf++;
            }
    Tensor want[8], got[8], got_ref[8];
    int no = g->n_outputs;
    assert_true(no <= 8);
    CHECK_OK(ref_run(g, feeds, nf, NULL, 0, want, NULL, &e), &e);
    for (int pass = 0; pass < 2; pass++) {
        PlanOpts o = {.threads = 0, .reference = pass == 1};
        Plan *p = plan_compile(g, NULL, 0, &o, &e);
        if (!p) { print_error("%s: %s\n", what, e.msg); fail(); }
        /* run twice: the second run reuses the arena and must give the same answer */
        for (int rep = 0; rep < 2; rep++) {
            Tensor *dst = pass ? got_ref : got;
            CHECK_OK(plan_run(p, feeds, nf, dst, NULL, &e), &e);
            for (int k = 0; k < no; k++) {
                double err = rel_err(&dst[k], &want[k]);
                PlanInfo info;
                plan_info(p, &info);
                if (rep == 0 && k == 0)
                    printf("[ plan     ] %-22s %-9s rel err %.2e  (%d oneDNN, %d ref steps, arena %zu B, peak %zu B)\n", what,
                           pass ? "ref-plan" : "fast", err, info.fast_steps, info.ref_steps, plan_arena_bytes(p), plan_peak_bytes(p));
                if (pass == 1) assert_true(err == 0); /* same kernels, same order: bit-identical */
                else if (!(err <= 1e-4)) { print_error("%s output %d: rel err %.3g\n", what, k, err); fail(); }
                tensor_release(&dst[k]);
            }
        }
        plan_free(p);
    }
    for (int k = 0; k < no; k++) tensor_release(&want[k]);
    for (int k = 0; k < nf; k++) tensor_release(&feeds[k].value);
}

static void zoo_case(const char *name, int image, int seq) {
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    o.image_size = image;
    o.seq_len = seq;
    Graph *g = zoo_build(name, &o, &e);
    if (!g) { print_error("%s\n", e.msg); fail(); }
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    compare_plan(name, g, NULL, 0);
    graph_free(g);
}

static void test_zoo_resnet8(void **s) { (void)s; zoo_case("resnet8", 0, 0); }
/* 128 px, not 64: at 64 px the last blocks are 2x2, batch-norm statistics calibrated on 4
   pixels give some channels tiny variances, and the network amplifies float rounding about 2x
   per block (fast vs reference 1.1e-4 relative at 64 px, 1.6e-5 at 128, 1.8e-5 at 224; every
   single node agrees to < 1e-6 on identical inputs) */
static void test_zoo_mobilenet(void **s) { (void)s; zoo_case("mobilenet_v2", 128, 0); }
static void test_zoo_bert_tiny(void **s) { (void)s; zoo_case("bert-tiny", 0, 16); }
/* the larger models at reduced sizes keep the suite fast; `make bench-runtime` runs them full size */
static void test_zoo_resnet18_50(void **s) { (void)s; zoo_case("resnet18", 64, 0); zoo_case("resnet50", 64, 0); }
static void test_zoo_bert_mini(void **s) { (void)s; zoo_case("bert-mini", 0, 16); }

static void test_zoo_random(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        Err e = {0};
        ZooOpts o = zoo_opts_default();
        o.seed = seed;
        Graph *g = zoo_build("random", &o, &e);
        if (!g) { print_error("%s\n", e.msg); fail(); }
        CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
        char what[32];
        snprintf(what, sizeof what, "random seed %d", (int)seed);
        compare_plan(what, g, NULL, 0);
        graph_free(g);
    }
}

static void fixture_case(const char *model, const char *input, const char *input_file) {
    Err e = {0};
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/real/%s/model.pb", model);
    Graph *g = graphdef_load(path, &e);
    assert_non_null(g);
    RefFeed f = {input, {0}};
    snprintf(path, sizeof path, "tests/fixtures/real/%s/%s", model, input_file);
    CHECK_OK(npy_load(path, &f.value, &e), &e);
    InputSpec spec = {input, f.value.shape, f.value.dtype};
    CHECK_OK(graph_infer(g, &spec, 1, ref_eval_node, NULL, &e), &e);
    compare_plan(model, g, &f, 1);
    tensor_release(&f.value);
    graph_free(g);
}

static void test_fixtures(void **state) {
    (void)state;
    fixture_case("blazeface-front", "input:0", "input_0.npy");
    fixture_case("emotion", "input_1:0", "input_0.npy");
    fixture_case("gender", "input_1:0", "input_0.npy");
    fixture_case("handlandmark-lite", "input_1:0", "input_0.npy");
    fixture_case("selfie", "input_1:0", "input_0.npy");
}

/* plan_peak_bytes against what the process really allocated while compiling, and a run that
   allocates nothing but its outputs */
static void test_memory_accounting(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    TU_SKIP("AddressSanitizer replaces malloc: mallinfo2 sees nothing");
#endif
    Err e = {0};
    ZooOpts o = zoo_opts_default();
    Graph *g = zoo_build("resnet8", &o, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    RefFeed f = {g->nodes[0]->name, {0}};
    int ph = -1;
    for (int i = 0; i < g->n_nodes; i++) if (g->nodes[i]->op == OP_PLACEHOLDER) ph = i;
    f.name = g->nodes[ph]->name;
    CHECK_OK(input_generate(g, ph, 1, &f.value, &e), &e);
    /* reference-kernel plan: everything it allocates is the arena (+ bookkeeping); constants
       stay in the graph */
    PlanOpts opts = {.reference = true};
    size_t before = mallinfo2().uordblks + mallinfo2().hblkhd;
    Plan *p = plan_compile(g, NULL, 0, &opts, &e);
    assert_non_null(p);
    size_t after = mallinfo2().uordblks + mallinfo2().hblkhd;
    size_t planned = plan_arena_bytes(p) + plan_scratch_bytes(p);
    printf("[ memory   ] compile allocated %zu B; arena + scratch %zu B; peak incl. weights %zu B\n", after - before, planned,
           plan_peak_bytes(p));
    assert_true(after - before >= planned);
    assert_true(after - before <= planned + 64 * 1024); /* bookkeeping: slots, steps, tensor headers */
    Tensor out[4];
    size_t pre_run = mallinfo2().uordblks + mallinfo2().hblkhd;
    CHECK_OK(plan_run(p, &f, 1, out, NULL, &e), &e);
    for (int k = 0; k < g->n_outputs; k++) tensor_release(&out[k]);
    size_t post_run = mallinfo2().uordblks + mallinfo2().hblkhd;
    assert_true(post_run <= pre_run + 4096); /* a run keeps nothing */
    plan_free(p);
    tensor_release(&f.value);
    graph_free(g);
}

/* Hand-built low-precision graph (the representation of docs/ops.md):
   x -> GrappoQuantize(u8) -> GrappoQConv2D(int8 weights, bias, relu, f32 out) -> y, and
   x -> Cast(bf16) -> Conv2D(T=bf16) -> Cast(f32) -> z.
   The int8 conv accumulates exactly in int32 on both runtimes, so fast and reference differ
   only by float rounding of the scaled result; bf16 compares bf16-rounded outputs. */
static void test_low_precision_nodes(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graph_new();
    int x = graph_add_node(g, "x", "Placeholder", &e);
    node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e);
    Shape xs = shape_make(4, (int64_t[]){1, 9, 9, 16});
    node_set_attr_shape(g->nodes[x], "shape", &xs, &e);
    int q = graph_add_node(g, "q", "GrappoQuantize", &e);
    node_add_input(g, q, (ValueRef){x, 0}, &e);
    node_set_attr_type(g->nodes[q], "T", DT_UINT8, &e);
    node_set_attr_f(g->nodes[q], "scale", 1.0f / 128, &e);
    node_set_attr_i(g->nodes[q], "zero_point", 0, &e);
    /* int8 weights within [-60, 60]: safe for CPUs without VNNI (see dnn_quant.c) */
    Rng r;
    rng_seed(&r, 9);
    Tensor w, b;
    Shape ws = shape_make(4, (int64_t[]){3, 3, 16, 8}), bs = shape_make(1, (int64_t[]){8});
    CHECK_OK(tensor_alloc(&w, DT_INT8, &ws, &e), &e);
    CHECK_OK(tensor_alloc(&b, DT_FLOAT, &bs, &e), &e);
    for (int64_t i = 0; i < tensor_numel(&w); i++) tensor_set(&w, i, (double)rng_below(&r, 121) - 60);
    for (int64_t i = 0; i < 8; i++) tensor_set(&b, i, 0.01 * (double)i - 0.03);
    int wc = graph_add_node(g, "w", "Const", &e), bc = graph_add_node(g, "b", "Const", &e);
    node_set_attr_tensor(g->nodes[wc], "value", &w, &e);
    node_set_attr_type(g->nodes[wc], "dtype", DT_INT8, &e);
    node_set_attr_tensor(g->nodes[bc], "value", &b, &e);
    node_set_attr_type(g->nodes[bc], "dtype", DT_FLOAT, &e);
    int c = graph_add_node(g, "qconv", "GrappoQConv2D", &e);
    node_add_input(g, c, (ValueRef){q, 0}, &e);
    node_add_input(g, c, (ValueRef){wc, 0}, &e);
    node_add_input(g, c, (ValueRef){bc, 0}, &e);
    Node *cn = g->nodes[c];
    node_set_attr_list_i(cn, "strides", (int64_t[]){1, 2, 2, 1}, 4, &e);
    node_set_attr_list_i(cn, "dilations", (int64_t[]){1, 1, 1, 1}, 4, &e);
    node_set_attr_s(cn, "padding", "SAME", &e);
    node_set_attr_f(cn, "x_scale", 1.0f / 128, &e);
    float fs[8];
    for (int k = 0; k < 8; k++) fs[k] = 0.002f * (float)(k + 1);
    node_set_attr_list_f(cn, "filter_scales", fs, 8, &e);
    const char *fused[] = {"BiasAdd", "Relu"};
    node_set_attr_list_s(cn, "fused_ops", fused, 2, &e);
    /* bf16 branch */
    int c1 = graph_add_node(g, "to_bf16", "Cast", &e);
    node_add_input(g, c1, (ValueRef){x, 0}, &e);
    node_set_attr_type(g->nodes[c1], "SrcT", DT_FLOAT, &e);
    node_set_attr_type(g->nodes[c1], "DstT", DT_BFLOAT16, &e);
    Tensor wb;
    Shape wfs = shape_make(4, (int64_t[]){1, 1, 16, 4});
    CHECK_OK(tensor_alloc(&wb, DT_BFLOAT16, &wfs, &e), &e);
    for (int64_t i = 0; i < 64; i++) tensor_set(&wb, i, ((double)rng_below(&r, 200) - 100) / 256.0);
    int wbc = graph_add_node(g, "wb", "Const", &e);
    node_set_attr_tensor(g->nodes[wbc], "value", &wb, &e);
    node_set_attr_type(g->nodes[wbc], "dtype", DT_BFLOAT16, &e);
    int cb = graph_add_node(g, "conv_bf16", "Conv2D", &e);
    node_add_input(g, cb, (ValueRef){c1, 0}, &e);
    node_add_input(g, cb, (ValueRef){wbc, 0}, &e);
    node_set_attr_type(g->nodes[cb], "T", DT_BFLOAT16, &e);
    node_set_attr_list_i(g->nodes[cb], "strides", (int64_t[]){1, 1, 1, 1}, 4, &e);
    node_set_attr_s(g->nodes[cb], "padding", "VALID", &e);
    int c2 = graph_add_node(g, "to_f32", "Cast", &e);
    node_add_input(g, c2, (ValueRef){cb, 0}, &e);
    node_set_attr_type(g->nodes[c2], "SrcT", DT_BFLOAT16, &e);
    node_set_attr_type(g->nodes[c2], "DstT", DT_FLOAT, &e);
    CHECK_OK(graph_add_output(g, (ValueRef){c, 0}, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){c2, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e); /* sets output counts */
    CHECK_OK(graph_validate(g, &e), &e);
    assert_int_equal(g->nodes[c]->outputs[0].shape.dim[1], 5);
    compare_plan("int8 + bf16 nodes", g, NULL, 0);
    Plan *p = plan_compile(g, NULL, 0, NULL, &e);
    assert_non_null(p);
    printf("[ plan     ] GrappoQConv2D ran on: %s; bf16 Conv2D ran on: %s\n", plan_node_impl(p, c), plan_node_impl(p, cb));
    assert_string_not_equal(plan_node_impl(p, c), "ref"); /* the int8 conv runs on oneDNN */
    plan_free(p);
    tensor_release(&w);
    tensor_release(&b);
    tensor_release(&wb);
    graph_free(g);
}

/* y = conv(x) + x as one _FusedConv2D whose residual addend is its own input: the plan must
   not write y over x in place (found by the rewrite property test) */
static void test_inplace_addend_is_also_source(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = graph_new();
    int x = graph_add_node(g, "x", "Placeholder", &e);
    node_set_attr_type(g->nodes[x], "dtype", DT_FLOAT, &e);
    Shape xs = shape_make(4, (int64_t[]){1, 6, 6, 4});
    node_set_attr_shape(g->nodes[x], "shape", &xs, &e);
    /* 3x3: each output reads neighbouring inputs, which an in-place write would overwrite */
    float wv[144], bv[4] = {0.1f, -0.2f, 0.3f, 0.0f};
    for (int i = 0; i < 144; i++) wv[i] = (float)((i * 7) % 5) - 2.0f;
    Tensor w = tt_f32(4, (int64_t[]){3, 3, 4, 4}, wv), b = tt_f32(1, (int64_t[]){4}, bv);
    int wc = graph_add_node(g, "w", "Const", &e), bc = graph_add_node(g, "b", "Const", &e);
    node_set_attr_tensor(g->nodes[wc], "value", &w, &e);
    node_set_attr_tensor(g->nodes[bc], "value", &b, &e);
    int c = graph_add_node(g, "y", "_FusedConv2D", &e);
    ValueRef ins[4] = {{x, 0}, {wc, 0}, {bc, 0}, {x, 0}};
    for (int k = 0; k < 4; k++) node_add_input(g, c, ins[k], &e);
    Node *n = g->nodes[c];
    node_set_attr_type(n, "T", DT_FLOAT, &e);
    node_set_attr_list_i(n, "strides", (int64_t[]){1, 1, 1, 1}, 4, &e);
    node_set_attr_s(n, "padding", "SAME", &e);
    const char *fused[] = {"BiasAdd", "Add"};
    node_set_attr_list_s(n, "fused_ops", fused, 2, &e);
    node_set_attr_i(n, "num_args", 2, &e);
    /* x is produced by a Relu so it lives in the arena (a fed placeholder never does) */
    int relu = graph_add_node(g, "xr", "Relu", &e);
    node_add_input(g, relu, (ValueRef){x, 0}, &e);
    n->inputs[0] = (ValueRef){relu, 0};
    n->inputs[3] = (ValueRef){relu, 0};
    CHECK_OK(graph_add_output(g, (ValueRef){c, 0}, &e), &e);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    compare_plan("conv(x) + x", g, NULL, 0);
    tensor_release(&w);
    tensor_release(&b);
    graph_free(g);
}

static void test_errors(void **state) {
    (void)state;
    Err e = {0};
    Graph *g = zoo_build("resnet8", NULL, &e);
    assert_non_null(g);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    Plan *p = plan_compile(g, NULL, 0, NULL, &e);
    assert_non_null(p);
    Tensor out[4];
    assert_int_equal(plan_run(p, NULL, 0, out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "not fed"));
    Tensor wrong = tt_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    int ph = -1;
    for (int i = 0; i < g->n_nodes; i++) if (g->nodes[i]->op == OP_PLACEHOLDER) ph = i;
    RefFeed f = {g->nodes[ph]->name, wrong};
    assert_int_equal(plan_run(p, &f, 1, out, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "shape"));
    tensor_release(&wrong);
    plan_free(p);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memplan_hand_cases), cmocka_unit_test(test_memplan_random_property),
        cmocka_unit_test(test_zoo_resnet8),        cmocka_unit_test(test_zoo_mobilenet),
        cmocka_unit_test(test_zoo_bert_tiny),      cmocka_unit_test(test_zoo_random),
        cmocka_unit_test(test_zoo_resnet18_50),    cmocka_unit_test(test_zoo_bert_mini),
        cmocka_unit_test(test_fixtures),           cmocka_unit_test(test_memory_accounting),
        cmocka_unit_test(test_low_precision_nodes), cmocka_unit_test(test_inplace_addend_is_also_source),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
