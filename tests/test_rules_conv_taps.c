/* test_rules_conv_taps.c - crop_conv_taps (rules_conv_taps.c): filter taps that read only
 * padding for every output pixel are dropped, exactly.
 *
 * Closed case: a 3x3 SAME conv on a 1x1 map becomes a 1x1 VALID conv whose filter is the
 * centre tap. Property: over a grid of input sizes, kernels, strides, dilations and SAME /
 * VALID / EXPLICIT paddings, every site's rewrite matches the original on both runtimes
 * (1e-5 relative), leaves no site behind, and the filter only shrinks; configurations where
 * every tap reads an input somewhere have no site (checked against a brute-force count of the
 * taps used). The grappler pipeline crops the fused conv of a conv + bias + Relu on a 1x1 map,
 * and the cropped graph survives a GraphDef round trip. */
#include "testrules.h"

#include "graph/nn_attrs.h"
#include "rewrite/edit.h"
#include "rewrite/pipeline.h"
#include "zoo/builder.h"

#define TOL 1e-5

static const RuleDef *rule(void) {
    const RuleDef *r = rule_by_name("crop_conv_taps");
    if (!r) { print_error("no rule named crop_conv_taps\n"); fail(); }
    return r;
}

typedef struct ConvCase {
    int64_t h, w, kh, kw, stride, dil;
    const char *padding;
    int64_t pads[4]; /* EXPLICIT: top, bottom, left, right */
} ConvCase;

/* x [1, h, w, 3] -> Conv2D(c) -> output; NULL when TensorFlow's shape rules refuse the case */
static Graph *conv_graph(const ConvCase *c, Tensor *filter_copy) {
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 7, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, c->h, c->w, 3}), NULL);
    Tensor w = bld_normal(&b, shape_make(4, (int64_t[]){c->kh, c->kw, 3, 4}), 0, 0.5);
    if (filter_copy) *filter_copy = tensor_share(&w);
    ValueRef wv = bld_const(&b, "w", &w);
    int n = bld_begin(&b, "conv", "Conv2D", (ValueRef[]){x, wv}, 2);
    bld_attr_type(&b, n, "T", DT_FLOAT);
    bld_attr_ints(&b, n, "strides", (int64_t[]){1, c->stride, c->stride, 1}, 4);
    bld_attr_ints(&b, n, "dilations", (int64_t[]){1, c->dil, c->dil, 1}, 4);
    bld_attr_s(&b, n, "padding", c->padding);
    bld_attr_s(&b, n, "data_format", "NHWC");
    if (!strcmp(c->padding, "EXPLICIT"))
        bld_attr_ints(&b, n, "explicit_paddings", (int64_t[]){0, 0, c->pads[0], c->pads[1], c->pads[2], c->pads[3], 0, 0}, 8);
    ValueRef y = bld_end(&b, n);
    bld_add_output(&b, y);
    Graph *g = bld_finish(&b); /* NULL when shape inference refuses the case (frees the builder) */
    if (!g || graph_infer(g, NULL, 0, ref_eval_node, NULL, &e)) {
        graph_free(g);
        return NULL;
    }
    return g;
}

static const Node *find_op(const Graph *g, const char *op) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(op_def(g->nodes[i]->op)->tf_name, op)) return g->nodes[i];
    return NULL;
}

static const Tensor *filter_of(const Graph *g, const char *op) {
    const Node *n = find_op(g, op);
    assert_non_null(n);
    const Tensor *f = edit_known(g, n->inputs[1]);
    assert_non_null(f);
    return f;
}

/* taps of one dim used by some output: the brute-force oracle */
static int64_t taps_used(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pad, int64_t out) {
    int64_t n = 0;
    for (int64_t t = 0; t < k; t++) {
        bool used = false;
        for (int64_t o = 0; o < out; o++) used |= o * s - pad + t * d >= 0 && o * s - pad + t * d < in;
        n += used;
    }
    return n;
}

static void test_unit_map_centre_tap(void **state) {
    (void)state;
    Err e = {0};
    ConvCase c = {1, 1, 3, 3, 1, 1, "SAME", {0}};
    Tensor w = {0};
    Graph *g = conv_graph(&c, &w);
    assert_non_null(g);
    assert_int_equal(tr_check_each_site(rule(), g, TOL), 1);
    Graph *r = graph_clone(g, &e);
    assert_int_equal(tr_apply_all(rule(), r, 4), 1);
    const Tensor *f = filter_of(r, "Conv2D");
    assert_int_equal(f->shape.rank, 4);
    assert_true(f->shape.dim[0] == 1 && f->shape.dim[1] == 1 && f->shape.dim[2] == 3 && f->shape.dim[3] == 4);
    /* the centre tap of the 3x3 filter, bit for bit */
    const float *src = tensor_data(&w), *dst = tensor_data(f);
    for (int k = 0; k < 12; k++) assert_true(dst[k] == src[(1 * 3 + 1) * 12 + k]);
    assert_string_equal(node_attr_s(find_op(r, "Conv2D"), "padding", ""), "VALID");
    assert_int_equal(tr_site_count(rule(), r), 0);
    /* and TensorFlow's GraphDef keeps it */
    Graph *back = tr_roundtrip(r);
    assert_true(tr_compare(g, back, false, 5) <= TOL);
    graph_free(back);
    graph_free(r);
    graph_free(g);
    tensor_release(&w);
}

static void test_property_grid(void **state) {
    (void)state;
    Err e = {0};
    static const char *const paddings[] = {"SAME", "VALID", "EXPLICIT"};
    int cases = 0, sites = 0, none_expected = 0;
    uint64_t rng = 12345;
    for (int64_t h = 1; h <= 5; h++)
        for (int64_t kh = 1; kh <= 5; kh += 2)
            for (int64_t stride = 1; stride <= 3; stride++)
                for (int64_t dil = 1; dil <= 2; dil++)
                    for (int p = 0; p < 3; p++) {
                        ConvCase c = {h, 6 - h, kh, kh == 5 ? 3 : kh + 1, stride, dil, paddings[p], {0}};
                        for (int k = 0; k < 4; k++) {
                            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                            c.pads[k] = (int64_t)((rng >> 33) % 4);
                        }
                        Graph *g = conv_graph(&c, NULL);
                        if (!g) continue;
                        cases++;
                        const Node *n = find_op(g, "Conv2D");
                        const Value *x = graph_value(g, n->inputs[0]);
                        ConvGeom cg;
                        CHECK_OK(nn_conv_geom(n, false, &x->shape, &filter_of(g, "Conv2D")->shape, &cg, &e), &e);
                        int64_t used_h = taps_used(cg.in_h, cg.k_h, cg.stride_h, cg.dil_h, cg.pad_top, cg.out_h);
                        int64_t used_w = taps_used(cg.in_w, cg.k_w, cg.stride_w, cg.dil_w, cg.pad_left, cg.out_w);
                        bool all_used = used_h == cg.k_h && used_w == cg.k_w;
                        int got = tr_check_each_site(rule(), g, TOL);
                        if (all_used) {
                            assert_int_equal(got, 0);
                            none_expected++;
                        }
                        if (got) {
                            sites++;
                            Graph *r = graph_clone(g, &e);
                            assert_int_equal(tr_apply_all(rule(), r, 4), 1);
                            const Tensor *f = filter_of(r, "Conv2D");
                            /* exactly the used taps are kept */
                            assert_int_equal(f->shape.dim[0], used_h);
                            assert_int_equal(f->shape.dim[1], used_w);
                            assert_int_equal(tr_site_count(rule(), r), 0);
                            graph_free(r);
                        }
                        graph_free(g);
                    }
    printf("[ taps     ] %d conv cases: %d cropped, %d with every tap used (no site)\n", cases, sites, none_expected);
    /* not vacuous: both kinds occur often */
    assert_true(sites >= 30);
    assert_true(none_expected >= 30);
}

/* Keras-style conv + bias + Relu on a 1x1 map through the grappler pipeline: the fused conv's
   filter is cropped to 1x1 (both runtimes match the input) */
static void test_grappler_fused_unit_map(void **state) {
    (void)state;
    Err e = {0};
    Builder b;
    CHECK_OK(bld_init(&b, 9, false, &e), &e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){2, 1, 1, 16}), NULL);
    ValueRef y = bld_conv2d(&b, "c1", x, 3, 32, 1, "SAME", 0.3);
    Tensor bias = bld_normal(&b, shape_make(1, (int64_t[]){32}), 0, 0.1);
    y = bld_bias_add(&b, "c1/BiasAdd", y, bld_const(&b, "c1/bias", &bias));
    y = bld_unary(&b, "c1/Relu", "Relu", y);
    y = bld_conv2d(&b, "c2", y, 3, 8, 2, "SAME", 0.3);
    bld_add_output(&b, y);
    Graph *g = tr_finish(&b);
    CHECK_OK(graph_infer(g, NULL, 0, ref_eval_node, NULL, &e), &e);
    Graph *r = graph_clone(g, &e);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", r, 0, &log, &e), &e);
    int crops = 0;
    for (int i = 0; i < log.n; i++)
        if (!strcmp(log.v[i].rule, "crop_conv_taps")) crops = log.v[i].count;
    assert_int_equal(crops, 2);
    const Tensor *f = filter_of(r, "_FusedConv2D");
    assert_true(f->shape.dim[0] == 1 && f->shape.dim[1] == 1);
    for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(g, r, fast, 3) <= TOL);
    graph_free(r);
    graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_map_centre_tap),
        cmocka_unit_test(test_property_grid),
        cmocka_unit_test(test_grappler_fused_unit_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
