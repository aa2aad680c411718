/* test_rules_bert.c - the rewrites for BERT-family graphs as Keras writes them (the MiniLM
 * classifier's forms): fuse_batch_matmul_bias_act (rules_fuse_matmul.c), and the grappler
 * pipeline's BERT tail (fuse_layernorm, fuse_gelu with tf.nn.gelu's Erfc form,
 * fuse_batch_matmul_bias_act, fuse_attention; pipeline.c) on a small hand-built encoder layer:
 *   LayerNorm as Mean / SquaredDifference / Mean / +eps / Rsqrt / (x - mean) * rstd * gamma + beta,
 *   Dense as BatchMatMulV2(x [B,S,K], W [K,N]) + AddV2(b [N]), attention as Reshape / Transpose /
 *   BatchMatMulV2(adj_y) * c + mask / Softmax / BatchMatMulV2, GELU as 0.5 x Erfc(-x * 0.7071).
 * Every site is checked on its own (reference runtime on the original against the rewritten
 * graph on both runtimes); the variants the rule takes (adj_y, rank 4, a [1,1,N] bias, BiasAdd,
 * Relu, GrappoGelu) and the ones it must decline (adj_x, a weight that is not a Const or not
 * 2-D, the matmul fetched, a bias that is not a constant); then the whole pipeline, with and
 * without the --target tf restriction, against the original on both runtimes and through a
 * GraphDef round trip; and zoo bert-tiny through the pipeline. The suite runs once more as a
 * child under ONEDNN_MAX_CPU_ISA=AVX2 (the fused matmul's gelu_erf post-op, LayerNorm and
 * attention on oneDNN's AVX2 kernels), as tests/test_lowp_isa.c does. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>

#include "testrules.h"

#include "io/graphdef.h"
#include "rewrite/calibrate.h"
#include "rewrite/pipeline.h"
#include "runtime/dnn_common.h"
#include "testisa.h"

#define TOL 1e-5
#define PIPE_TOL 1e-4

enum { B = 2, S = 8, H = 2, DH = 8, D = H * DH, FF = 32 };

static const RuleDef *rule(const char *name) {
    const RuleDef *r = rule_by_name(name);
    assert_non_null(r);
    return r;
}

static ValueRef weight(Builder *b, const char *name, int rank, const int64_t *dims) {
    Tensor w = bld_normal(b, shape_make(rank, dims), 0.0, 0.3);
    return bld_const(b, name, &w);
}

/* x = p * 4 - 2 for a Placeholder p uniform in [0, 1) */
static ValueRef spread(Builder *b, const char *name, int rank, const int64_t *dims) {
    ValueRef p = bld_placeholder(b, name, DT_FLOAT, shape_make(rank, dims), NULL);
    char n1[64], n2[64];
    snprintf(n1, sizeof n1, "%s/mul", name);
    snprintf(n2, sizeof n2, "%s/add", name);
    ValueRef y = bld_binary(b, n1, "Mul", p, bld_scalar_f32(b, "four", 4));
    return bld_binary(b, n2, "AddV2", y, bld_scalar_f32(b, "minus_two", -2));
}

/* Keras Dense on x [.., k]: BatchMatMulV2(x, W [k, n]) + AddV2 bias [n] */
static ValueRef dense(Builder *b, const char *name, ValueRef x, int k, int n) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s/kernel", name);
    ValueRef w = weight(b, nm, 2, (int64_t[]){k, n});
    snprintf(nm, sizeof nm, "%s/bias", name);
    ValueRef bias = weight(b, nm, 1, (int64_t[]){n});
    snprintf(nm, sizeof nm, "%s/MatMul", name);
    ValueRef m = bld_batch_matmul(b, nm, x, w, false, false);
    snprintf(nm, sizeof nm, "%s/add", name);
    return bld_binary(b, nm, "AddV2", m, bias);
}

/* Keras LayerNormalization as the classifier's graph has it (rules_fuse_norm.c variant B) */
static ValueRef layernorm(Builder *b, const char *name, ValueRef x) {
    char nm[96];
    int32_t ax = -1;
    snprintf(nm, sizeof nm, "%s/mean", name);
    ValueRef mean = bld_mean(b, nm, x, &ax, 1, true);
    snprintf(nm, sizeof nm, "%s/sqd", name);
    ValueRef sqd = bld_binary(b, nm, "SquaredDifference", x, mean);
    snprintf(nm, sizeof nm, "%s/var", name);
    ValueRef var = bld_mean(b, nm, sqd, &ax, 1, true);
    snprintf(nm, sizeof nm, "%s/sub", name);
    ValueRef d = bld_binary(b, nm, "Sub", x, mean);
    snprintf(nm, sizeof nm, "%s/eps/y", name);
    ValueRef eps = bld_scalar_f32(b, nm, 1e-12f);
    snprintf(nm, sizeof nm, "%s/eps", name);
    ValueRef ve = bld_binary(b, nm, "AddV2", var, eps);
    snprintf(nm, sizeof nm, "%s/rsqrt", name);
    ValueRef rstd = bld_unary(b, nm, "Rsqrt", ve);
    snprintf(nm, sizeof nm, "%s/mul", name);
    ValueRef n1 = bld_binary(b, nm, "Mul", d, rstd);
    snprintf(nm, sizeof nm, "%s/gamma", name);
    Tensor gamma = bld_normal(b, shape_make(1, (int64_t[]){D}), 1.0, 0.2);
    ValueRef vg = bld_const(b, nm, &gamma);
    snprintf(nm, sizeof nm, "%s/mul_1", name);
    ValueRef n2 = bld_binary(b, nm, "Mul", n1, vg);
    snprintf(nm, sizeof nm, "%s/beta", name);
    ValueRef vb = weight(b, nm, 1, (int64_t[]){D});
    snprintf(nm, sizeof nm, "%s/add", name);
    return bld_binary(b, nm, "AddV2", n2, vb);
}

/* tf.nn.gelu(approximate=False): 0.5 * x * Erfc(Neg(x) * 0.70710677) */
static ValueRef gelu_erfc(Builder *b, ValueRef x) {
    ValueRef half = bld_binary(b, "gelu/mul", "Mul", bld_scalar_f32(b, "gelu/half", 0.5f), x);
    ValueRef arg = bld_binary(b, "gelu/mul_1", "Mul", bld_unary(b, "gelu/Neg", "Neg", x),
                              bld_scalar_f32(b, "gelu/c", 0.70710677f));
    return bld_binary(b, "gelu/mul_2", "Mul", half, bld_unary(b, "gelu/Erfc", "Erfc", arg));
}

/* [B,S,D] -> [B,H,S,DH] */
static ValueRef heads(Builder *b, const char *name, ValueRef x) {
    char nm[96];
    snprintf(nm, sizeof nm, "%s/reshape", name);
    ValueRef r = bld_reshape(b, nm, x, (int32_t[]){B, S, H, DH}, 4);
    snprintf(nm, sizeof nm, "%s/transpose", name);
    return bld_transpose(b, nm, r, (int32_t[]){0, 2, 1, 3}, 4);
}

/* one Keras-style encoder layer on x [B,S,D] with a [B,1,1,S] additive mask: outputs the layer
   result and the attention mask's sum (so the mask placeholder is read) */
static Graph *encoder_layer(void) {
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 21, false, &e), &e);
    ValueRef x = layernorm(&b, "emb_ln", spread(&b, "x", 3, (int64_t[]){B, S, D}));
    ValueRef mp = bld_placeholder(&b, "mask", DT_FLOAT, shape_make(4, (int64_t[]){B, 1, 1, S}), NULL);
    ValueRef mask = bld_binary(&b, "mask/mul", "Mul", mp, bld_scalar_f32(&b, "mask/neg", -10000.0f));
    ValueRef q = heads(&b, "q", dense(&b, "q", x, D, D));
    ValueRef k = heads(&b, "k", dense(&b, "k", x, D, D));
    ValueRef v = heads(&b, "v", dense(&b, "v", x, D, D));
    ValueRef s = bld_batch_matmul(&b, "att/scores", q, k, false, true);
    s = bld_binary(&b, "att/scale", "Mul", s, bld_scalar_f32(&b, "att/c", 0.35355339f));
    s = bld_binary(&b, "att/masked", "AddV2", s, mask);
    ValueRef ctx = bld_batch_matmul(&b, "att/ctx", bld_softmax(&b, "att/softmax", s), v, false, false);
    ctx = bld_transpose(&b, "att/back", ctx, (int32_t[]){0, 2, 1, 3}, 4);
    ctx = bld_reshape(&b, "att/merge", ctx, (int32_t[]){B, S, D}, 3);
    ValueRef h = layernorm(&b, "att_ln", bld_binary(&b, "att/resid", "AddV2", dense(&b, "o", ctx, D, D), x));
    ValueRef f = dense(&b, "ffn2", gelu_erfc(&b, dense(&b, "ffn1", h, D, FF)), FF, D);
    ValueRef y = layernorm(&b, "out_ln", bld_binary(&b, "ffn/resid", "AddV2", f, h));
    bld_add_output(&b, bld_identity(&b, "out", y));
    return tr_finish(&b);
}

/* ---- fuse_batch_matmul_bias_act ---- */

static const char *fused_ops_str(const Node *n, char *buf, size_t cap) {
    const Attr *a = node_attr_find(n, "fused_ops");
    buf[0] = 0;
    if (!a) return buf;
    for (int i = 0; i < a->list.n; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%s", i ? "," : "", a->list.s[i].data);
    }
    return buf;
}

/* the six Dense layers are sites, each exact on its own; to exhaustion no BatchMatMulV2 by a
   Const is left, the names users fetch stay, and (after fuse_gelu) the feed-forward matmul
   carries the GELU */
static void bmm_encoder_sites(void **state) {
    (void)state;
    Graph *g = encoder_layer();
    assert_int_equal(tr_check_each_site(rule("fuse_batch_matmul_bias_act"), g, TOL), 6);
    Err e;
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    assert_int_equal(tr_apply_all(rule("fuse_gelu"), c, 10), 1);
    assert_int_equal(tr_apply_all(rule("fuse_batch_matmul_bias_act"), c, 20), 6);
    assert_int_equal(tr_count_op(c, "_FusedMatMul"), 6);
    assert_int_equal(tr_count_op(c, "BatchMatMulV2"), 2); /* the attention's two */
    assert_int_equal(tr_count_op(c, "GrappoGelu"), 0);
    int ffn1 = graph_find(c, "gelu/mul_2");
    assert_true(ffn1 >= 0);
    assert_string_equal(c->nodes[ffn1]->op_name, "Reshape"); /* the fetched name is the output's */
    const Node *fm = c->nodes[c->nodes[ffn1]->inputs[0].node];
    char ops[128];
    assert_string_equal(fm->op_name, "_FusedMatMul");
    assert_string_equal(fused_ops_str(fm, ops, sizeof ops), "BiasAdd,GeluExact");
    assert_int_equal(c->nodes[ffn1]->outputs[0].shape.rank, 3);
    for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(g, c, fast, 3) <= TOL);
    graph_free(c);
    graph_free(g);
}

typedef struct BmmSpec {
    int x_rank;      /* 3 or 4 */
    bool adj_y;      /* weight stored [N, K] */
    int bias_kind;   /* 0 AddV2 [N], 1 Add [1,1,N] (other operand order), 2 BiasAdd */
    int act;         /* 0 none, 1 Relu, 2 GrappoGelu, 3 Tanh */
    bool adj_x;      /* declined */
    bool w_input;    /* the weight a Placeholder: declined */
    bool w_rank3;    /* the weight [1, K, N]: declined */
    bool mm_fetched; /* the BatchMatMulV2 result also an output: declined */
    bool bias_input; /* the bias a Placeholder: declined */
    bool dyn_batch;  /* x's first dim unknown (-1): the output Reshape must say -1 there */
} BmmSpec;

static Graph *bmm_graph(const BmmSpec *s) {
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 23, false, &e), &e);
    const int k = 12, n = 10;
    int64_t xd4[4] = {2, 3, 5, k}, xd3[3] = {3, 5, k};
    if (s->adj_x) xd3[1] = k, xd3[2] = 5;
    if (s->dyn_batch) xd4[0] = xd3[0] = -1;
    ValueRef x = spread(&b, "x", s->x_rank, s->x_rank == 4 ? xd4 : xd3);
    ValueRef w;
    if (s->w_input) w = bld_placeholder(&b, "w", DT_FLOAT, shape_make(2, (int64_t[]){k, n}), NULL);
    else if (s->w_rank3) w = weight(&b, "w", 3, (int64_t[]){1, k, n});
    else w = weight(&b, "w", 2, s->adj_y ? (int64_t[]){n, k} : (int64_t[]){k, n});
    if (s->adj_x) xd3[1] = 5, xd3[2] = k;
    ValueRef m = bld_batch_matmul(&b, "dense/MatMul", x, w, s->adj_x, s->adj_y);
    ValueRef y;
    if (s->bias_input) {
        y = bld_binary(&b, "dense/add", "AddV2", m, bld_placeholder(&b, "bias", DT_FLOAT, shape_make(1, (int64_t[]){n}), NULL));
    } else if (s->bias_kind == 1) {
        y = bld_binary(&b, "dense/add", "Add", weight(&b, "bias", 3, (int64_t[]){1, 1, n}), m);
    } else if (s->bias_kind == 2) {
        y = bld_bias_add(&b, "dense/add", m, weight(&b, "bias", 1, (int64_t[]){n}));
    } else {
        y = bld_binary(&b, "dense/add", "AddV2", m, weight(&b, "bias", 1, (int64_t[]){n}));
    }
    if (s->act == 1) y = bld_unary(&b, "dense/act", "Relu", y);
    if (s->act == 2) y = gelu_erfc(&b, y);
    if (s->act == 3) y = bld_unary(&b, "dense/act", "Tanh", y);
    bld_add_output(&b, y);
    if (s->mm_fetched) bld_add_output(&b, m);
    return tr_finish(&b);
}

static void bmm_variants(void **state) {
    (void)state;
    BmmSpec specs[] = {
        {.x_rank = 3},
        {.x_rank = 4, .adj_y = true},
        {.x_rank = 3, .bias_kind = 1, .act = 1},
        {.x_rank = 4, .bias_kind = 2, .act = 3},
        {.x_rank = 3, .adj_y = true, .act = 2},
        {.x_rank = 4, .dyn_batch = true, .act = 1},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        Graph *g = bmm_graph(&specs[i]);
        Err e;
        Graph *c = graph_clone(g, &e);
        assert_non_null(c);
        if (specs[i].act == 2) assert_int_equal(tr_apply_all(rule("fuse_gelu"), c, 10), 1);
        assert_int_equal(tr_check_each_site(rule("fuse_batch_matmul_bias_act"), c, TOL), 1);
        assert_int_equal(tr_apply_all(rule("fuse_batch_matmul_bias_act"), c, 10), 1);
        assert_int_equal(tr_count_op(c, "BatchMatMulV2") + tr_count_op(c, "Relu") + tr_count_op(c, "Tanh") +
                             tr_count_op(c, "GrappoGelu") + tr_count_op(c, "BiasAdd"),
                         0);
        const Node *fm = NULL;
        for (int j = 0; j < c->n_nodes; j++)
            if (!strcmp(c->nodes[j]->op_name, "_FusedMatMul")) fm = c->nodes[j];
        assert_non_null(fm);
        assert_int_equal(node_attr_b(fm, "transpose_b", !specs[i].adj_y), specs[i].adj_y);
        char ops[128];
        static const char *const want[4] = {"BiasAdd", "BiasAdd,Relu", "BiasAdd,GeluExact", "BiasAdd,Tanh"};
        assert_string_equal(fused_ops_str(fm, ops, sizeof ops), want[specs[i].act]);
        for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(g, c, fast, 5) <= TOL);
        /* stock TensorFlow's ops only: the result survives a GraphDef round trip */
        Graph *back = tr_roundtrip(c);
        assert_true(tr_compare(g, back, true, 6) <= TOL);
        graph_free(back);
        if (specs[i].dyn_batch) {
            /* inferred at batch 1, the rewrite still holds at batch 3 */
            const Node *out = c->nodes[graph_find(c, "dense/act")];
            assert_string_equal(out->op_name, "Reshape");
            const Tensor *shape = &graph_value(c, out->inputs[1])->known;
            assert_non_null(shape->buf);
            assert_int_equal(((const int32_t *)tensor_data(shape))[0], -1);
            InputSpec spec = {.name = "x", .shape = shape_make(4, (int64_t[]){3, 3, 5, 12}), .dtype = DT_INVALID};
            CHECK_OK(graph_infer(g, &spec, 1, ref_eval_node, NULL, &e), &e);
            CHECK_OK(graph_infer(c, &spec, 1, ref_eval_node, NULL, &e), &e);
            assert_int_equal(c->nodes[graph_find(c, "dense/act")]->outputs[0].shape.dim[0], 3);
            for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(g, c, fast, 7) <= TOL);
        }
        graph_free(c);
        graph_free(g);
    }
}

static void bmm_refusals(void **state) {
    (void)state;
    BmmSpec specs[] = {
        {.x_rank = 3, .adj_x = true}, {.x_rank = 3, .w_input = true},    {.x_rank = 3, .w_rank3 = true},
        {.x_rank = 3, .mm_fetched = true}, {.x_rank = 3, .bias_input = true},
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        Graph *g = bmm_graph(&specs[i]);
        int n = tr_site_count(rule("fuse_batch_matmul_bias_act"), g);
        if (n != 0) { print_error("case %zu: %d sites, expected none\n", i, n); fail(); }
        graph_free(g);
    }
}

/* ---- the grappler pipeline on the encoder layer ---- */

static void grappler_pipeline_encoder(void **state) {
    (void)state;
    Graph *g = encoder_layer();
    for (int tf = 0; tf < 2; tf++) {
        Err e;
        Graph *c = graph_clone(g, &e);
        assert_non_null(c);
        RewriteLog log = {0};
        CHECK_OK(pipeline_run("grappler", c, tf ? RULE_TF : 0, &log, &e), &e);
        assert_int_equal(tr_count_op(c, "_FusedMatMul"), 6);
        if (!tf) {
            assert_int_equal(tr_count_op(c, "GrappoLayerNorm"), 3);
            assert_int_equal(tr_count_op(c, "GrappoAttention"), 1);
            static const char *const gone[] = {"Erfc", "Mean", "Rsqrt", "Softmax", "BatchMatMulV2", "GrappoGelu", "Neg"};
            for (size_t k = 0; k < sizeof gone / sizeof gone[0]; k++)
                if (tr_count_op(c, gone[k])) { print_error("grappler left a %s\n", gone[k]); fail(); }
        } else {
            /* --target tf: stock ops only (the Erfc GELU stays written out) */
            assert_int_equal(tr_count_op(c, "GrappoLayerNorm") + tr_count_op(c, "GrappoAttention"), 0);
            assert_int_equal(tr_count_op(c, "Erfc"), 1);
        }
        for (int fast = 0; fast < 2; fast++) {
            double err = tr_compare(g, c, fast, 9);
            if (!(err <= PIPE_TOL)) { print_error("encoder (tf %d, fast %d): rel err %g\n", tf, fast, err); fail(); }
        }
        Graph *back = tr_roundtrip(c);
        assert_true(tr_compare(g, back, true, 10) <= PIPE_TOL);
        graph_free(back);
        graph_free(c);
    }
    graph_free(g);
}

/* int8 as optimize runs it: the original graph calibrated (its BatchMatMulV2 Dense inputs
   watched), then grappler+int8: all six Dense layers become int8 matmuls (the flattened input
   keeps its producer's range), and the result stays near the float graph */
static void int8_pipeline_encoder(void **state) {
    (void)state;
    Graph *orig = encoder_layer();
    Err e = {0};
    Graph *g = graph_clone(orig, &e);
    assert_non_null(g);
    RefFeed **batches;
    int nf;
    CHECK_OK(calib_batches_generate(g, 4, &batches, &nf, &e), &e);
    assert_true(calibrate_graph(g, (const RefFeed *const *)batches, 4, nf, CALIB_MINMAX, &e) > 0);
    calib_batches_free(batches, 4, nf);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run(dnn_cpu_has_vnni() ? "grappler+int8" : "grappler+int7", g, 0, &log, &e), &e);
    if (tr_count_op(g, "GrappoQMatMul") != 6) {
        for (int i = 0; i < log.n; i++) print_error("%s x%d\n", log.v[i].rule, log.v[i].count);
        print_error("QMatMul %d FusedMatMul %d\n", tr_count_op(g, "GrappoQMatMul"), tr_count_op(g, "_FusedMatMul"));
    }
    assert_int_equal(tr_count_op(g, "GrappoQMatMul"), 6);
    assert_int_equal(tr_count_op(g, "_FusedMatMul"), 0);
    for (int fast = 0; fast < 2; fast++) {
        double err = tr_compare(orig, g, fast, 17);
        if (!(err <= 0.05)) { print_error("int8 encoder (fast %d): rel err %g\n", fast, err); fail(); }
    }
    graph_free(g);
    graph_free(orig);
}

/* zoo bert-tiny (TF1 modeling.py's forms) through the pipeline: same outputs, fewer nodes */
static void grappler_pipeline_bert_tiny(void **state) {
    (void)state;
    Graph *g = tr_zoo("bert-tiny", 0, 16, 1, true);
    Err e;
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    RewriteLog log = {0};
    CHECK_OK(pipeline_run("grappler", c, 0, &log, &e), &e);
    assert_true(c->n_nodes < g->n_nodes);
    assert_int_equal(tr_count_op(c, "GrappoLayerNorm"), 5);
    for (int fast = 0; fast < 2; fast++) assert_true(tr_compare(g, c, fast, 13) <= PIPE_TOL);
    graph_free(c);
    graph_free(g);
}

/* this suite again under ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN reads it once, at its first use, so it
   takes a fresh process); its output is shown indented */
static void under_avx2_cap(void **state) {
    (void)state;
    tu_rerun_under_avx2(7);
}

static void registry(void **state) {
    (void)state;
    const RuleDef *r = rule("fuse_batch_matmul_bias_act");
    assert_string_equal(r->family, "fuse");
    assert_true(r->flags & RULE_EXACT);
    assert_true(r->flags & RULE_TF);
    assert_false(r->flags & RULE_PRECISION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry),
        cmocka_unit_test(bmm_encoder_sites),
        cmocka_unit_test(bmm_variants),
        cmocka_unit_test(bmm_refusals),
        cmocka_unit_test(grappler_pipeline_encoder),
        cmocka_unit_test(grappler_pipeline_bert_tiny),
        cmocka_unit_test(int8_pipeline_encoder),
        cmocka_unit_test(under_avx2_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
