/* test_rules_fuse.c - the Grappler-remapper fusion rules (fuse_conv_bias_act, fuse_conv_bn_act,
 * fuse_matmul_bias_act, fuse_residual_add, fuse_activation): hand-built matching and
 * non-matching graphs checked site by site on the reference and fast runtimes, the fused
 * node's op, name and attributes, order independence of the rules, and the zoo models and
 * random DAGs rewritten to exhaustion. */
#include "testrules.h"

#include "io/graphdef.h"
#include "rewrite/edit.h"
#include "rewrite/pipeline.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"

#define TOL 1e-5     /* exact rules: fp32 rounding (relative to the output's largest value) */
#define ZOO_TOL 1e-4 /* whole models, fast runtime included */

static const RuleDef *R(const char *name) {
    const RuleDef *r = rule_by_name(name);
    if (!r) { print_error("rule %s is not registered\n", name); fail(); }
    return r;
}

static int n_sites(const RuleDef *r, const Graph *g) { return tr_site_count(r, g); }

/* a clone of g with site k of r applied */
static Graph *applied(const RuleDef *r, const Graph *g, int k) {
    Err e = {0};
    SiteList s = {0};
    CHECK_OK(rule_sites(r, g, &s, &e), &e);
    assert_true(k < s.n);
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    CHECK_OK(rule_apply(r, c, &s.v[k], &e), &e);
    sitelist_free(&s);
    return c;
}

static const Node *named(const Graph *g, const char *name) {
    int i = graph_find(g, name);
    if (i < 0) { print_error("no node '%s'\n", name); fail(); }
    return g->nodes[i];
}

/* fused_ops of n equals the NULL-terminated list ops */
static void assert_fused_ops(const Node *n, const char *const *ops) {
    const AttrList *l = node_attr_list(n, "fused_ops");
    assert_non_null(l);
    int k = 0;
    while (ops[k]) k++;
    if (l->n != k) { print_error("%s: fused_ops has %d entries, want %d\n", n->name, l->n, k); fail(); }
    for (int i = 0; i < k; i++) assert_string_equal(l->s[i].data, ops[i]);
    assert_int_equal(node_attr_i(n, "num_args", -1), n->n_inputs - 2);
}

static void assert_targs(const Node *n, int count) {
    const AttrList *l = node_attr_list(n, "TArgs");
    assert_non_null(l);
    assert_int_equal(l->n, count);
    for (int i = 0; i < count; i++) assert_int_equal(l->type[i], DT_FLOAT);
}

/* ---- graph building ---- */

static Builder start(Err *e) {
    Builder b;
    CHECK_OK(bld_init(&b, 11, false, e), e);
    return b;
}

static Graph *finish(Builder *b, Err *e) {
    (void)e; /* the builder records its first error through the Err it was given */
    return tr_finish(b);
}

static ValueRef fconst(Builder *b, const char *name, int rank, const int64_t *dims, double mean, double std) {
    Tensor t = bld_normal(b, shape_make(rank, dims), mean, std);
    return bld_const(b, name, &t);
}

/* activations by name (the result named `out`): single ops, "LeakyRelu" with alpha 0.3, and the GELU spellings */
static ValueRef add_act_named(Builder *b, const char *act, ValueRef x, const char *out) {
    if (!act) return x;
    if (!strcmp(act, "LeakyRelu")) {
        int n = bld_begin(b, out, "LeakyRelu", &x, 1);
        bld_attr_type(b, n, "T", DT_FLOAT);
        bld_attr_f(b, n, "alpha", 0.3f);
        return bld_end(b, n);
    }
    if (!strcmp(act, "GeluErf")) { /* as src/zoo/bert.c writes it */
        ValueRef e = bld_binary(b, "gelu/mul", "Mul", x, bld_scalar_f32(b, "gelu/mul/y", 0.70710678f));
        e = bld_unary(b, "gelu/Erf", "Erf", e);
        e = bld_binary(b, "gelu/add", "AddV2", bld_scalar_f32(b, "gelu/add/x", 1.0f), e);
        ValueRef h = bld_binary(b, "gelu/mul_1", "Mul", x, bld_scalar_f32(b, "gelu/mul_1/y", 0.5f));
        return bld_binary(b, out, "Mul", h, e);
    }
    if (!strcmp(act, "GeluErfDiv") || !strcmp(act, "GeluBadConst")) {
        float c = !strcmp(act, "GeluErfDiv") ? 1.4142135f : 1.5f;
        ValueRef e = bld_binary(b, "gelu/truediv", "RealDiv", x, bld_scalar_f32(b, "gelu/Cast", c));
        e = bld_unary(b, "gelu/Erf", "Erf", e);
        e = bld_binary(b, "gelu/add", "AddV2", bld_scalar_f32(b, "gelu/add/x", 1.0f), e);
        e = bld_binary(b, "gelu/mul", "Mul", bld_scalar_f32(b, "gelu/mul/x", 0.5f), e);
        return bld_binary(b, out, "Mul", x, e);
    }
    if (!strcmp(act, "GeluTanhPow") || !strcmp(act, "GeluTanhSquare")) {
        ValueRef cube;
        if (!strcmp(act, "GeluTanhPow")) {
            cube = bld_binary(b, "gelu/Pow", "Pow", x, bld_scalar_f32(b, "gelu/Pow/y", 3.0f));
            cube = bld_binary(b, "gelu/mul", "Mul", bld_scalar_f32(b, "gelu/mul/x", 0.044715f), cube);
        } else {
            cube = bld_binary(b, "gelu/cube", "Mul", x, bld_unary(b, "gelu/Square", "Square", x));
            cube = bld_binary(b, "gelu/mul", "Mul", cube, bld_scalar_f32(b, "gelu/mul/y", 0.044715f));
        }
        ValueRef s = bld_binary(b, "gelu/add", "AddV2", x, cube);
        s = bld_binary(b, "gelu/mul_1", "Mul", bld_scalar_f32(b, "gelu/mul_1/x", 0.7978846f), s);
        s = bld_unary(b, "gelu/Tanh", "Tanh", s);
        s = bld_binary(b, "gelu/add_1", "AddV2", bld_scalar_f32(b, "gelu/add_1/x", 1.0f), s);
        ValueRef h = bld_binary(b, "gelu/mul_2", "Mul", bld_scalar_f32(b, "gelu/mul_2/x", 0.5f), x);
        return bld_binary(b, out, "Mul", h, s);
    }
    if (!strcmp(act, "GrappoGelu") || !strcmp(act, "GrappoGeluApprox")) { /* fuse_gelu's op */
        int n = bld_begin(b, out, "GrappoGelu", &x, 1);
        bld_attr_type(b, n, "T", DT_FLOAT);
        bld_attr_b(b, n, "approximate", !strcmp(act, "GrappoGeluApprox"));
        return bld_end(b, n);
    }
    if (!strcmp(act, "GeluErfScaled")) { /* GELU, then its result times 2: the GELU still fuses */
        ValueRef y = add_act_named(b, "GeluErfDiv", x, "gelu/out");
        return bld_binary(b, out, "Mul", y, bld_scalar_f32(b, "scale", 2.0f));
    }
    return bld_unary(b, out, act, x);
}

static ValueRef add_act(Builder *b, const char *act, ValueRef x) { return add_act_named(b, act, x, "act"); }

enum { B_BIASADD, B_ADD_VEC, B_ADDV2_4D, B_ADD_VAR, B_BN, B_BN_TRAINING, B_BN_NO_FLAG, B_NONE };

typedef struct ConvCase {
    const char *op;      /* Conv2D | DepthwiseConv2dNative */
    const char *padding; /* default SAME */
    bool nchw;
    int bias;            /* B_* */
    const char *act;     /* NULL = none */
    bool conv_tap, bias_tap, bn_mean_read, identity_before_act;
    bool residual;       /* AddV2(., x) after the bias (input and output have 6 channels) */
} ConvCase;

/* x [1,8,8,6] (or NCHW) -> conv -> bias step -> [Identity] -> [AddV2 x] -> act; output = last */
static Graph *conv_graph(const ConvCase *c, Err *e) {
    Builder b = start(e);
    bool dw = c->op && !strcmp(c->op, "DepthwiseConv2dNative");
    int64_t cin = 6, cout = dw ? 12 : 6;
    if (c->residual && dw) cout = 6; /* multiplier 1 */
    Shape xs = c->nchw ? shape_make(4, (int64_t[]){1, cin, 8, 8}) : shape_make(4, (int64_t[]){1, 8, 8, cin});
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, xs, NULL);
    ValueRef w = dw ? fconst(&b, "w", 4, (int64_t[]){3, 3, cin, cout / cin}, 0, 0.3)
                    : fconst(&b, "w", 4, (int64_t[]){3, 3, cin, cout}, 0, 0.2);
    int n = bld_begin(&b, "conv", dw ? "DepthwiseConv2dNative" : "Conv2D", (ValueRef[]){x, w}, 2);
    const char *pad = c->padding ? c->padding : "SAME";
    bld_attr_type(&b, n, "T", DT_FLOAT);
    bld_attr_ints(&b, n, "strides", (int64_t[]){1, 1, 1, 1}, 4);
    bld_attr_s(&b, n, "padding", pad);
    bld_attr_s(&b, n, "data_format", c->nchw ? "NCHW" : "NHWC");
    bld_attr_ints(&b, n, "dilations", (int64_t[]){1, 1, 1, 1}, 4);
    if (!strcmp(pad, "EXPLICIT")) /* keeps 8x8 with a 3x3 window: (1,1) rows, (2,0) columns */
        bld_attr_ints(&b, n, "explicit_paddings", (int64_t[]){0, 0, 1, 1, 2, 0, 0, 0}, 8);
    else bld_attr_ints(&b, n, "explicit_paddings", NULL, 0);
    if (!dw) bld_attr_b(&b, n, "use_cudnn_on_gpu", true);
    ValueRef y = bld_end(&b, n);
    if (c->conv_tap) bld_add_output(&b, bld_unary(&b, "conv_tap", "Neg", y));
    if (c->bias == B_BIASADD) {
        ValueRef bv = fconst(&b, "bias/b", 1, (int64_t[]){cout}, 0, 0.5);
        int m = bld_begin(&b, "bias", "BiasAdd", (ValueRef[]){y, bv}, 2);
        bld_attr_type(&b, m, "T", DT_FLOAT);
        bld_attr_s(&b, m, "data_format", c->nchw ? "NCHW" : "NHWC");
        y = bld_end(&b, m);
    } else if (c->bias == B_ADD_VEC) {
        y = bld_binary(&b, "bias", "Add", y, fconst(&b, "bias/b", 1, (int64_t[]){cout}, 0, 0.5));
    } else if (c->bias == B_ADDV2_4D) {
        y = bld_binary(&b, "bias", "AddV2", fconst(&b, "bias/b", 4, (int64_t[]){1, 1, 1, cout}, 0, 0.5), y);
    } else if (c->bias == B_ADD_VAR) { /* a [C] vector that is not a constant */
        ValueRef v = bld_placeholder(&b, "v", DT_FLOAT, shape_make(1, (int64_t[]){cout}), NULL);
        y = bld_binary(&b, "bias", "AddV2", y, v);
    } else if (c->bias >= B_BN && c->bias <= B_BN_NO_FLAG) {
        ValueRef scale = fconst(&b, "bn/gamma", 1, (int64_t[]){cout}, 1, 0.1);
        ValueRef offset = fconst(&b, "bn/beta", 1, (int64_t[]){cout}, 0, 0.1);
        ValueRef mean = fconst(&b, "bn/mean", 1, (int64_t[]){cout}, 0, 0.1);
        Tensor var = bld_normal(&b, shape_make(1, (int64_t[]){cout}), 1, 0.1);
        for (int64_t k = 0; k < cout; k++) tensor_set(&var, k, fabs(tensor_get(&var, k)) + 0.5);
        ValueRef vv = bld_const(&b, "bn/var", &var);
        int m = bld_begin(&b, "bias", "FusedBatchNormV3", (ValueRef[]){y, scale, offset, mean, vv}, 5);
        bld_attr_type(&b, m, "T", DT_FLOAT);
        bld_attr_type(&b, m, "U", DT_FLOAT);
        bld_attr_f(&b, m, "epsilon", 0.001f);
        bld_attr_s(&b, m, "data_format", c->nchw ? "NCHW" : "NHWC");
        if (c->bias != B_BN_NO_FLAG) bld_attr_b(&b, m, "is_training", c->bias == B_BN_TRAINING);
        y = bld_end(&b, m);
        if (c->bn_mean_read) bld_add_output(&b, bld_port(y, 1));
    }
    if (c->bias_tap) bld_add_output(&b, bld_unary(&b, "bias_tap", "Neg", y));
    if (c->residual) y = bld_binary(&b, "res", "AddV2", y, x);
    if (c->identity_before_act) y = bld_identity(&b, "between", y);
    y = add_act(&b, c->act, y);
    bld_add_output(&b, y);
    return finish(&b, e);
}

typedef struct MmCase {
    const char *act;
    bool ta, tb, int32, bias_tap, stray_reader, identity_before_act, residual;
    int bias; /* B_BIASADD, B_ADD_VEC, B_ADDV2_4D (here [1,N]) */
} MmCase;

/* x [4,16] (or [16,4] with transpose_a) -> MatMul w -> bias -> [Identity] -> [AddV2 r] -> act */
static Graph *mm_graph(const MmCase *c, Err *e) {
    Builder b = start(e);
    int dt = c->int32 ? DT_INT32 : DT_FLOAT;
    Shape xs = c->ta ? shape_make(2, (int64_t[]){16, 4}) : shape_make(2, (int64_t[]){4, 16});
    ValueRef x = bld_placeholder(&b, "x", dt, xs, NULL);
    ValueRef w, bias;
    if (c->int32) {
        Tensor wt, bt;
        Shape ws = shape_make(2, (int64_t[]){16, 8}), bs = shape_make(1, (int64_t[]){8});
        CHECK_OK(tensor_alloc(&wt, DT_INT32, &ws, e), e);
        CHECK_OK(tensor_alloc(&bt, DT_INT32, &bs, e), e);
        for (int k = 0; k < 128; k++) tensor_set(&wt, k, k % 5 - 2);
        w = bld_const(&b, "w", &wt);
        bias = bld_const(&b, "bias/b", &bt);
    } else {
        w = c->tb ? fconst(&b, "w", 2, (int64_t[]){8, 16}, 0, 0.3) : fconst(&b, "w", 2, (int64_t[]){16, 8}, 0, 0.3);
        bias = c->bias == B_ADDV2_4D ? fconst(&b, "bias/b", 2, (int64_t[]){1, 8}, 0, 0.5)
                                     : fconst(&b, "bias/b", 1, (int64_t[]){8}, 0, 0.5);
    }
    int n = bld_begin(&b, "mm", "MatMul", (ValueRef[]){x, w}, 2);
    bld_attr_type(&b, n, "T", dt);
    bld_attr_b(&b, n, "transpose_a", c->ta);
    bld_attr_b(&b, n, "transpose_b", c->tb);
    ValueRef y = bld_end(&b, n);
    if (c->bias == B_BIASADD) {
        int m = bld_begin(&b, "bias", "BiasAdd", (ValueRef[]){y, bias}, 2);
        bld_attr_type(&b, m, "T", dt);
        bld_attr_s(&b, m, "data_format", "NHWC");
        y = bld_end(&b, m);
    } else {
        y = bld_binary(&b, "bias", c->bias == B_ADD_VEC ? "Add" : "AddV2", bias, y);
    }
    if (c->bias_tap) bld_add_output(&b, bld_unary(&b, "bias_tap", "Neg", y));
    if (c->residual) {
        ValueRef r = bld_placeholder(&b, "r", DT_FLOAT, shape_make(2, (int64_t[]){4, 8}), NULL);
        y = bld_binary(&b, "res", "AddV2", r, y);
    }
    if (c->identity_before_act) y = bld_identity(&b, "between", y);
    if (c->stray_reader) bld_add_output(&b, bld_unary(&b, "stray", "Neg", y));
    y = add_act(&b, c->act, y);
    bld_add_output(&b, y);
    return finish(&b, e);
}

/* removes Identity `name` by pointing its readers at its input (what remove_identity does) */
static void bypass(Graph *g, const char *name) {
    Err e = {0};
    int i = graph_find(g, name);
    assert_true(i >= 0);
    CHECK_OK(edit_replace_uses(g, (ValueRef){i, 0}, g->nodes[i]->inputs[0], &e), &e);
    assert_true(graph_remove_dead(g, &e) >= 0);
    CHECK_OK(graph_reinfer(g, ref_eval_node, NULL, &e), &e);
    g->version++;
}

/* ---- fuse_conv_bias_act ---- */

static void check_conv_attrs(const Node *f, const char *padding) {
    assert_int_equal(node_attr_type(f, "T", -1), DT_FLOAT);
    assert_string_equal(node_attr_s(f, "padding", ""), padding);
    assert_string_equal(node_attr_s(f, "data_format", ""), "NHWC");
    assert_non_null(node_attr_list(f, "strides"));
    assert_non_null(node_attr_list(f, "dilations"));
    assert_float_equal(node_attr_f(f, "epsilon", -1), 0.0f, 0);
    const AttrList *ep = node_attr_list(f, "explicit_paddings");
    assert_non_null(ep);
    assert_int_equal(ep->n, !strcmp(padding, "EXPLICIT") ? 8 : 0);
}

static void test_conv_bias_each_activation(void **state) {
    (void)state;
    Err e = {0};
    const char *acts[] = {NULL, "Relu", "Relu6", "Elu", "LeakyRelu"};
    for (int a = 0; a < 5; a++) {
        ConvCase c = {.op = "Conv2D", .bias = B_BIASADD, .act = acts[a]};
        Graph *g = conv_graph(&c, &e);
        assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
        Graph *r = applied(R("fuse_conv_bias_act"), g, 0);
        assert_int_equal(tr_count_op(r, "_FusedConv2D"), 1);
        assert_int_equal(tr_count_op(r, "Conv2D") + tr_count_op(r, "BiasAdd"), 0);
        if (acts[a]) assert_int_equal(tr_count_op(r, acts[a]), 0);
        const Node *f = named(r, acts[a] ? "act" : "bias"); /* the last absorbed node's name */
        assert_string_equal(f->op_name, "_FusedConv2D");
        assert_fused_ops(f, (const char *[]){"BiasAdd", acts[a], NULL});
        assert_targs(f, 1);
        check_conv_attrs(f, "SAME");
        assert_int_equal(node_attr_i(f, "num_host_args", -1), 0);
        assert_true(node_attr_b(f, "use_cudnn_on_gpu", false));
        if (acts[a] && !strcmp(acts[a], "LeakyRelu")) assert_float_equal(node_attr_f(f, "leakyrelu_alpha", 0), 0.3f, 1e-7);
        else assert_null(node_attr_find(f, "leakyrelu_alpha"));
        assert_int_equal(graph_find(r, "conv"), -1);
        graph_free(r);
        graph_free(g);
    }
    /* Sigmoid and Tanh: TF's fused convolution kernels have no such post-op -> bias only */
    const char *other[] = {"Sigmoid", "Tanh", "Selu"};
    for (int a = 0; a < 3; a++) {
        ConvCase c = {.op = "Conv2D", .bias = B_BIASADD, .act = other[a]};
        Graph *g = conv_graph(&c, &e);
        assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
        Graph *r = applied(R("fuse_conv_bias_act"), g, 0);
        assert_fused_ops(named(r, "bias"), (const char *[]){"BiasAdd", NULL});
        assert_int_equal(tr_count_op(r, other[a]), 1);
        assert_int_equal(n_sites(R("fuse_activation"), r), 0);
        graph_free(r);
        graph_free(g);
    }
}

static void test_depthwise(void **state) {
    (void)state;
    Err e = {0};
    const char *acts[] = {"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid"};
    for (int a = 0; a < 5; a++) {
        bool absorbed = a < 3; /* TF's fused depthwise kernel: Relu, Relu6, Elu */
        ConvCase c = {.op = "DepthwiseConv2dNative", .bias = B_BIASADD, .act = acts[a]};
        Graph *g = conv_graph(&c, &e);
        assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
        Graph *r = applied(R("fuse_conv_bias_act"), g, 0);
        const Node *f = named(r, absorbed ? "act" : "bias");
        assert_string_equal(f->op_name, "_FusedDepthwiseConv2dNative");
        assert_fused_ops(f, (const char *[]){"BiasAdd", absorbed ? acts[a] : NULL, NULL});
        assert_int_equal(tr_count_op(r, "DepthwiseConv2dNative") + tr_count_op(r, "BiasAdd"), 0);
        assert_int_equal(tr_count_op(r, acts[a]), absorbed ? 0 : 1);
        /* the remapper's depthwise attributes: no TArgs, no use_cudnn_on_gpu */
        assert_null(node_attr_find(f, "TArgs"));
        assert_null(node_attr_find(f, "use_cudnn_on_gpu"));
        check_conv_attrs(f, "SAME");
        graph_free(r);
        graph_free(g);
    }
}

static void test_conv_padding_and_bias_forms(void **state) {
    (void)state;
    Err e = {0};
    const char *ops[] = {"Conv2D", "DepthwiseConv2dNative"};
    const char *pads[] = {"EXPLICIT", "VALID"};
    for (int o = 0; o < 2; o++)
        for (int p = 0; p < 2; p++) {
            ConvCase c = {.op = ops[o], .padding = pads[p], .bias = B_BIASADD, .act = "Relu6"};
            Graph *g = conv_graph(&c, &e);
            assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
            Graph *r = applied(R("fuse_conv_bias_act"), g, 0);
            const Node *f = named(r, "act");
            check_conv_attrs(f, pads[p]);
            const AttrList *ep = node_attr_list(f, "explicit_paddings");
            if (p == 0) assert_int_equal(ep->i[4], 2);
            graph_free(r);
            graph_free(g);
        }
    /* a bias written as Add / AddV2 of a constant vector ([C], or [1,1,1,C] first operand) */
    int forms[] = {B_ADD_VEC, B_ADDV2_4D};
    for (int k = 0; k < 2; k++) {
        ConvCase c = {.op = "Conv2D", .bias = forms[k], .act = "Relu"};
        Graph *g = conv_graph(&c, &e);
        assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
        Graph *r = applied(R("fuse_conv_bias_act"), g, 0);
        const Node *f = named(r, "act");
        assert_fused_ops(f, (const char *[]){"BiasAdd", "Relu", NULL});
        assert_int_equal(tr_count_op(r, "Add") + tr_count_op(r, "AddV2"), 0);
        const Value *bias = node_input_value(r, f, 2);
        assert_int_equal(bias->shape.rank, 1);
        assert_int_equal(bias->shape.dim[0], 6);
        graph_free(r);
        graph_free(g);
    }
}

static void test_conv_bias_nonmatching(void **state) {
    (void)state;
    Err e = {0};
    /* the BiasAdd has a second reader: conv + bias still fuse, the Relu is not absorbed and
       both readers read the fused node */
    ConvCase c1 = {.op = "Conv2D", .bias = B_BIASADD, .act = "Relu", .bias_tap = true};
    Graph *g = conv_graph(&c1, &e);
    assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
    Graph *r = applied(R("fuse_conv_bias_act"), g, 0);
    const Node *f = named(r, "bias");
    assert_fused_ops(f, (const char *[]){"BiasAdd", NULL});
    assert_int_equal(tr_count_op(r, "Relu"), 1);
    int fi = graph_find(r, "bias");
    assert_int_equal(named(r, "bias_tap")->inputs[0].node, fi);
    assert_int_equal(named(r, "act")->inputs[0].node, fi);
    graph_free(r);
    graph_free(g);
    /* the conv output has a second reader; NCHW; a non-constant vector Add; no bias at all */
    ConvCase none[] = {
        {.op = "Conv2D", .bias = B_BIASADD, .act = "Relu", .conv_tap = true},
        {.op = "Conv2D", .bias = B_BIASADD, .act = "Relu", .nchw = true},
        {.op = "Conv2D", .bias = B_ADD_VAR, .act = "Relu"},
        {.op = "Conv2D", .bias = B_NONE, .act = "Relu"},
    };
    for (int k = 0; k < 4; k++) {
        g = conv_graph(&none[k], &e);
        assert_int_equal(n_sites(R("fuse_conv_bias_act"), g), 0);
        graph_free(g);
    }
}

/* ---- fuse_conv_bn_act ---- */

static void test_conv_bn(void **state) {
    (void)state;
    Err e = {0};
    const char *acts[] = {NULL, "Relu", "Relu6", "Elu", "LeakyRelu"};
    for (int a = 0; a < 5; a++) {
        ConvCase c = {.op = "Conv2D", .bias = B_BN, .act = acts[a]};
        Graph *g = conv_graph(&c, &e);
        assert_int_equal(tr_check_each_site(R("fuse_conv_bn_act"), g, TOL), 1);
        assert_int_equal(n_sites(R("fuse_conv_bias_act"), g), 0);
        Graph *r = applied(R("fuse_conv_bn_act"), g, 0);
        const Node *f = named(r, acts[a] ? "act" : "bias");
        assert_string_equal(f->op_name, "_FusedConv2D");
        assert_fused_ops(f, (const char *[]){"FusedBatchNorm", acts[a], NULL});
        assert_int_equal(f->n_inputs, 6);
        assert_targs(f, 4);
        assert_float_equal(node_attr_f(f, "epsilon", 0), 0.001f, 1e-9);
        assert_int_equal(tr_count_op(r, "FusedBatchNormV3") + tr_count_op(r, "Conv2D"), 0);
        assert_string_equal(r->nodes[f->inputs[2].node]->name, "bn/gamma");
        assert_string_equal(r->nodes[f->inputs[5].node]->name, "bn/var");
        graph_free(r);
        graph_free(g);
    }
    /* Sigmoid: BN fused, activation left alone */
    ConvCase cs = {.op = "Conv2D", .bias = B_BN, .act = "Sigmoid"};
    Graph *g = conv_graph(&cs, &e);
    assert_int_equal(tr_check_each_site(R("fuse_conv_bn_act"), g, TOL), 1);
    graph_free(g);
    /* training mode, is_training absent (TF's default is true), the mean output read,
       depthwise (TF fuses batch norm into Conv2D only), NCHW, conv output read twice */
    ConvCase none[] = {
        {.op = "Conv2D", .bias = B_BN_TRAINING, .act = "Relu"},
        {.op = "Conv2D", .bias = B_BN_NO_FLAG, .act = "Relu"},
        {.op = "Conv2D", .bias = B_BN, .act = "Relu", .bn_mean_read = true},
        {.op = "DepthwiseConv2dNative", .bias = B_BN, .act = "Relu"},
        {.op = "Conv2D", .bias = B_BN, .act = "Relu", .nchw = true},
        {.op = "Conv2D", .bias = B_BN, .act = "Relu", .conv_tap = true},
    };
    for (int k = 0; k < 6; k++) {
        g = conv_graph(&none[k], &e);
        assert_int_equal(n_sites(R("fuse_conv_bn_act"), g), 0);
        graph_free(g);
    }
}

/* ---- fuse_matmul_bias_act ---- */

static void test_matmul_each_activation(void **state) {
    (void)state;
    Err e = {0};
    static const struct { const char *act, *fused; } acts[] = {
        {NULL, NULL},          {"Relu", "Relu"},           {"Relu6", "Relu6"},
        {"Elu", "Elu"},        {"LeakyRelu", "LeakyRelu"}, {"Sigmoid", "Sigmoid"},
        {"Tanh", "Tanh"},      {"GeluErf", "GeluExact"},   {"GeluErfDiv", "GeluExact"},
        {"GeluTanhPow", "GeluApproximate"}, {"GeluTanhSquare", "GeluApproximate"},
        {"GrappoGelu", "GeluExact"}, {"GrappoGeluApprox", "GeluApproximate"},
    };
    for (int a = 0; a < 13; a++)
        for (int v = 0; v < 2; v++) {
            MmCase c = {.act = acts[a].act, .tb = v == 1, .bias = v == 1 ? B_ADD_VEC : B_BIASADD};
            Graph *g = mm_graph(&c, &e);
            assert_int_equal(tr_check_each_site(R("fuse_matmul_bias_act"), g, TOL), 1);
            Graph *r = applied(R("fuse_matmul_bias_act"), g, 0);
            const Node *f = named(r, acts[a].act ? "act" : "bias");
            assert_string_equal(f->op_name, "_FusedMatMul");
            assert_fused_ops(f, (const char *[]){"BiasAdd", acts[a].fused, NULL});
            assert_int_equal(node_attr_b(f, "transpose_b", !(v == 1)), v == 1);
            assert_false(node_attr_b(f, "transpose_a", true));
            assert_float_equal(node_attr_f(f, "epsilon", -1), 0.0f, 0);
            assert_null(node_attr_find(f, "TArgs"));
            /* everything but the placeholder, the weights and the bias is gone */
            int live = 0;
            for (int i = 0; i < r->n_nodes; i++) live += r->nodes[i]->op != OP_CONST;
            assert_int_equal(live, 2);
            graph_free(r);
            graph_free(g);
        }
    /* [1,N] bias constant written AddV2(b, y): reshaped to [N] */
    MmCase c2 = {.act = "Relu", .bias = B_ADDV2_4D};
    Graph *g = mm_graph(&c2, &e);
    assert_int_equal(tr_check_each_site(R("fuse_matmul_bias_act"), g, TOL), 1);
    Graph *r = applied(R("fuse_matmul_bias_act"), g, 0);
    assert_int_equal(node_input_value(r, named(r, "act"), 2)->shape.rank, 1);
    graph_free(r);
    graph_free(g);
    /* a GELU whose result is scaled: the GELU fuses, the scaling stays */
    MmCase c3 = {.act = "GeluErfScaled"};
    g = mm_graph(&c3, &e);
    assert_int_equal(tr_check_each_site(R("fuse_matmul_bias_act"), g, TOL), 1);
    r = applied(R("fuse_matmul_bias_act"), g, 0);
    assert_fused_ops(named(r, "gelu/out"), (const char *[]){"BiasAdd", "GeluExact", NULL});
    assert_string_equal(named(r, "act")->op_name, "Mul");
    assert_int_equal(tr_count_op(r, "Mul") + tr_count_op(r, "Erf"), 1);
    graph_free(r);
    graph_free(g);
    /* transpose_a: TF's kernel for it has no Sigmoid / GELU post-op; Relu is fine */
    MmCase ta[] = {{.act = "Sigmoid", .ta = true}, {.act = "GeluErf", .ta = true}, {.act = "Relu", .ta = true}};
    for (int k = 0; k < 3; k++) {
        g = mm_graph(&ta[k], &e);
        assert_int_equal(tr_check_each_site(R("fuse_matmul_bias_act"), g, TOL), 1);
        r = applied(R("fuse_matmul_bias_act"), g, 0);
        const Node *f = named(r, k == 2 ? "act" : "bias");
        assert_true(node_attr_b(f, "transpose_a", false));
        graph_free(r);
        graph_free(g);
    }
}

static void test_matmul_nonmatching(void **state) {
    (void)state;
    Err e = {0};
    MmCase i32 = {.act = "Relu", .int32 = true};
    Graph *g = mm_graph(&i32, &e);
    assert_int_equal(n_sites(R("fuse_matmul_bias_act"), g), 0);
    graph_free(g);
    /* the activation is not absorbed: a second reader of the bias output (single op and
       GELU), a GELU with a wrong constant, an activation TF cannot fuse (Selu) */
    MmCase partial[] = {
        {.act = "Relu", .bias_tap = true},
        {.act = "GeluErf", .stray_reader = true},
        {.act = "GeluTanhPow", .bias_tap = true},
        {.act = "GeluBadConst"},
        {.act = "Selu"},
    };
    for (int k = 0; k < 5; k++) {
        g = mm_graph(&partial[k], &e);
        assert_int_equal(tr_check_each_site(R("fuse_matmul_bias_act"), g, TOL), 1);
        Graph *r = applied(R("fuse_matmul_bias_act"), g, 0);
        assert_fused_ops(named(r, "bias"), (const char *[]){"BiasAdd", NULL});
        assert_int_equal(graph_find(r, "act") >= 0 && strcmp(named(r, "act")->op_name, "_FusedMatMul"), 1);
        assert_int_equal(n_sites(R("fuse_activation"), r), 0);
        graph_free(r);
        graph_free(g);
    }
}

/* ---- fuse_residual_add ---- */

static void test_residual(void **state) {
    (void)state;
    Err e = {0};
    const char *acts[] = {NULL, "Relu"};
    for (int a = 0; a < 2; a++) {
        ConvCase c = {.op = "Conv2D", .bias = B_BIASADD, .residual = true, .act = acts[a]};
        Graph *g = conv_graph(&c, &e);
        /* BiasAdd feeds the Add, not an activation: conv + bias fuse first */
        assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), g, 10), 1);
        assert_int_equal(tr_check_each_site(R("fuse_residual_add"), g, TOL), 1);
        Graph *r = applied(R("fuse_residual_add"), g, 0);
        const Node *f = named(r, acts[a] ? "act" : "res");
        assert_string_equal(f->op_name, "_FusedConv2D");
        assert_fused_ops(f, (const char *[]){"BiasAdd", "Add", acts[a], NULL});
        assert_targs(f, 2);
        assert_string_equal(r->nodes[f->inputs[3].node]->name, "x");
        assert_int_equal(tr_count_op(r, "AddV2") + tr_count_op(r, "Relu"), 0);
        assert_int_equal(r->n_nodes, 4); /* x, w, bias, fused */
        graph_free(r);
        graph_free(g);
    }
    /* MatMul: [BiasAdd, Add]; TF's fused matmul takes no activation after the Add */
    MmCase m = {.act = "Relu", .residual = true};
    Graph *g = mm_graph(&m, &e);
    assert_int_equal(tr_apply_all(R("fuse_matmul_bias_act"), g, 10), 1);
    assert_int_equal(tr_check_each_site(R("fuse_residual_add"), g, TOL), 1);
    Graph *r = applied(R("fuse_residual_add"), g, 0);
    assert_fused_ops(named(r, "res"), (const char *[]){"BiasAdd", "Add", NULL});
    assert_int_equal(tr_count_op(r, "Relu"), 1);
    assert_int_equal(n_sites(R("fuse_activation"), r), 0);
    graph_free(r);
    graph_free(g);
    /* not residuals: a broadcast operand of another shape; [FusedBatchNorm] (no such kernel);
       depthwise; the fused output read twice */
    Builder b = start(&e);
    ValueRef x = bld_placeholder(&b, "x", DT_FLOAT, shape_make(4, (int64_t[]){1, 8, 8, 6}), NULL);
    ValueRef v = bld_placeholder(&b, "v", DT_FLOAT, shape_make(4, (int64_t[]){1, 1, 8, 6}), NULL);
    ValueRef y = bld_conv2d(&b, "c", x, 3, 6, 1, "SAME", 0.2);
    y = bld_bias_add(&b, "c/BiasAdd", y, fconst(&b, "c/b", 1, (int64_t[]){6}, 0, 0.5));
    bld_add_output(&b, bld_binary(&b, "res", "AddV2", y, v));
    g = finish(&b, &e);
    assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), g, 10), 1);
    assert_int_equal(n_sites(R("fuse_residual_add"), g), 0);
    graph_free(g);
    ConvCase none[] = {
        {.op = "Conv2D", .bias = B_BN, .residual = true},
        {.op = "DepthwiseConv2dNative", .bias = B_BIASADD, .residual = true},
        {.op = "Conv2D", .bias = B_BIASADD, .residual = true, .bias_tap = true},
    };
    for (int k = 0; k < 3; k++) {
        g = conv_graph(&none[k], &e);
        assert_int_equal(tr_apply_all(R("fuse_conv_bn_act"), g, 10) + tr_apply_all(R("fuse_conv_bias_act"), g, 10), 1);
        assert_int_equal(n_sites(R("fuse_residual_add"), g), 0);
        graph_free(g);
    }
}

/* ---- fuse_activation and order independence ---- */

/* same multiset of ops, same fused_ops on the node `name`, same outputs */
static void assert_same_result(const Graph *a, const Graph *b, const char *name) {
    assert_int_equal(a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; i++) {
        const char *op = a->nodes[i]->op_name;
        assert_int_equal(tr_count_op(a, op), tr_count_op(b, op));
    }
    const AttrList *la = node_attr_list(named(a, name), "fused_ops"), *lb = node_attr_list(named(b, name), "fused_ops");
    assert_int_equal(la->n, lb->n);
    for (int k = 0; k < la->n; k++) assert_string_equal(la->s[k].data, lb->s[k].data);
    assert_true(tr_compare(a, b, false, 3) <= 1e-6);
    assert_true(tr_compare(a, b, true, 3) <= TOL);
}

static void test_activation_order_independence(void **state) {
    (void)state;
    Err e = {0};
    /* conv + bias + act in one rule, or conv + bias first (an Identity is in the way), the
       Identity removed, then fuse_activation */
    const char *acts[] = {"Relu", "Relu6", "Elu", "LeakyRelu"};
    for (int a = 0; a < 4; a++)
        for (int bn = 0; bn < 2; bn++) {
            const char *first = bn ? "fuse_conv_bn_act" : "fuse_conv_bias_act";
            ConvCase c = {.op = "Conv2D", .bias = bn ? B_BN : B_BIASADD, .act = acts[a]};
            Graph *direct = conv_graph(&c, &e);
            assert_int_equal(tr_apply_all(R(first), direct, 10), 1);
            c.identity_before_act = true;
            Graph *g = conv_graph(&c, &e);
            assert_int_equal(tr_apply_all(R(first), g, 10), 1);
            assert_int_equal(n_sites(R("fuse_activation"), g), 0);
            bypass(g, "between");
            assert_int_equal(tr_check_each_site(R("fuse_activation"), g, TOL), 1);
            assert_int_equal(tr_apply_all(R("fuse_activation"), g, 10), 1);
            assert_same_result(direct, g, "act");
            graph_free(direct);
            graph_free(g);
        }
    /* depthwise */
    ConvCase dc = {.op = "DepthwiseConv2dNative", .bias = B_BIASADD, .act = "Relu6"};
    Graph *direct = conv_graph(&dc, &e);
    assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), direct, 10), 1);
    dc.identity_before_act = true;
    Graph *g = conv_graph(&dc, &e);
    assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), g, 10), 1);
    bypass(g, "between");
    assert_int_equal(tr_check_each_site(R("fuse_activation"), g, TOL), 1);
    assert_int_equal(tr_apply_all(R("fuse_activation"), g, 10), 1);
    assert_same_result(direct, g, "act");
    graph_free(direct);
    graph_free(g);
    /* matmul with each GELU form and a single-op activation */
    const char *mm_acts[] = {"GeluErf", "GeluTanhPow", "Tanh"};
    for (int a = 0; a < 3; a++) {
        MmCase m = {.act = mm_acts[a]};
        direct = mm_graph(&m, &e);
        assert_int_equal(tr_apply_all(R("fuse_matmul_bias_act"), direct, 10), 1);
        m.identity_before_act = true;
        g = mm_graph(&m, &e);
        assert_int_equal(tr_apply_all(R("fuse_matmul_bias_act"), g, 10), 1);
        assert_int_equal(n_sites(R("fuse_activation"), g), 0);
        bypass(g, "between");
        assert_int_equal(tr_check_each_site(R("fuse_activation"), g, TOL), 1);
        assert_int_equal(tr_apply_all(R("fuse_activation"), g, 10), 1);
        assert_same_result(direct, g, "act");
        graph_free(direct);
        graph_free(g);
    }
    /* residual then its Relu: [BiasAdd, Add] + fuse_activation == residual absorbing Relu */
    ConvCase rc = {.op = "Conv2D", .bias = B_BIASADD, .residual = true, .act = "Relu"};
    direct = conv_graph(&rc, &e);
    assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), direct, 10) + tr_apply_all(R("fuse_residual_add"), direct, 10), 2);
    rc.identity_before_act = true;
    g = conv_graph(&rc, &e);
    assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), g, 10) + tr_apply_all(R("fuse_residual_add"), g, 10), 2);
    assert_fused_ops(named(g, "res"), (const char *[]){"BiasAdd", "Add", NULL});
    bypass(g, "between");
    assert_int_equal(tr_check_each_site(R("fuse_activation"), g, TOL), 1);
    assert_int_equal(tr_apply_all(R("fuse_activation"), g, 10), 1);
    assert_same_result(direct, g, "act");
    graph_free(direct);
    graph_free(g);
}

static void test_activation_nonmatching(void **state) {
    (void)state;
    Err e = {0};
    /* already has an activation: Relu then Relu6 */
    ConvCase c = {.op = "Conv2D", .bias = B_BIASADD, .act = "Relu", .identity_before_act = true};
    Graph *g = conv_graph(&c, &e);
    assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), g, 10), 1);
    bypass(g, "between");
    assert_int_equal(tr_apply_all(R("fuse_activation"), g, 10), 1);
    /* a second activation after the fused one */
    int f = graph_find(g, "act");
    int k = edit_add_node(g, "act2", "Relu6", (ValueRef[]){{f, 0}}, 1, &e);
    assert_true(k >= 0);
    CHECK_OK(node_set_attr_type(g->nodes[k], "T", DT_FLOAT, &e), &e);
    g->outputs[0] = (ValueRef){k, 0};
    CHECK_OK(graph_reinfer(g, ref_eval_node, NULL, &e), &e);
    assert_int_equal(n_sites(R("fuse_activation"), g), 0);
    graph_free(g);
    /* the fused output has a second reader */
    c = (ConvCase){.op = "Conv2D", .bias = B_BIASADD, .act = "Relu", .identity_before_act = true, .bias_tap = true};
    g = conv_graph(&c, &e);
    assert_int_equal(tr_apply_all(R("fuse_conv_bias_act"), g, 10), 1);
    bypass(g, "between");
    assert_int_equal(n_sites(R("fuse_activation"), g), 0);
    graph_free(g);
    /* [FusedBatchNorm] followed by Sigmoid, [BiasAdd] depthwise followed by LeakyRelu */
    ConvCase none[] = {
        {.op = "Conv2D", .bias = B_BN, .act = "Sigmoid", .identity_before_act = true},
        {.op = "DepthwiseConv2dNative", .bias = B_BIASADD, .act = "LeakyRelu", .identity_before_act = true},
    };
    for (int i = 0; i < 2; i++) {
        g = conv_graph(&none[i], &e);
        assert_int_equal(tr_apply_all(R("fuse_conv_bn_act"), g, 10) + tr_apply_all(R("fuse_conv_bias_act"), g, 10), 1);
        bypass(g, "between");
        assert_int_equal(n_sites(R("fuse_activation"), g), 0);
        graph_free(g);
    }
}

/* control edges: those into absorbed nodes move to the fused node, and a node waiting for
   the last absorbed node waits for the fused node */
static void test_control_edges(void **state) {
    (void)state;
    Err e = {0};
    ConvCase c = {.op = "Conv2D", .bias = B_BIASADD, .act = "Relu"};
    Graph *g = conv_graph(&c, &e);
    int x = graph_find(g, "x"), bias = graph_find(g, "bias"), act = graph_find(g, "act");
    int k = edit_add_node(g, "after", "Identity", (ValueRef[]){{x, 0}}, 1, &e);
    assert_true(k >= 0);
    CHECK_OK(node_set_attr_type(g->nodes[k], "T", DT_FLOAT, &e), &e);
    CHECK_OK(node_add_ctrl(g, k, act, &e), &e);
    int w = graph_find(g, "bias/b");
    CHECK_OK(node_add_ctrl(g, bias, w, &e), &e);
    CHECK_OK(graph_add_output(g, (ValueRef){k, 0}, &e), &e);
    CHECK_OK(graph_reinfer(g, ref_eval_node, NULL, &e), &e);
    assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
    Graph *r = applied(R("fuse_conv_bias_act"), g, 0);
    const Node *f = named(r, "act"), *after = named(r, "after");
    assert_string_equal(f->op_name, "_FusedConv2D");
    assert_int_equal(f->n_ctrl, 1);
    assert_string_equal(r->nodes[f->ctrl[0]]->name, "bias/b");
    assert_int_equal(after->n_ctrl, 1);
    assert_int_equal(after->ctrl[0], graph_find(r, "act"));
    graph_free(r);
    /* a node waits for the BiasAdd: conv + bias fuse (the wait moves to the fused node), the
       Relu is not absorbed past it */
    bias = graph_find(g, "bias");
    named(g, "after")->ctrl[0] = bias;
    assert_int_equal(tr_check_each_site(R("fuse_conv_bias_act"), g, TOL), 1);
    r = applied(R("fuse_conv_bias_act"), g, 0);
    assert_fused_ops(named(r, "bias"), (const char *[]){"BiasAdd", NULL});
    assert_int_equal(tr_count_op(r, "Relu"), 1);
    assert_int_equal(named(r, "after")->ctrl[0], graph_find(r, "bias"));
    graph_free(r);
    graph_free(g);
}

/* ---- zoo models and random DAGs ---- */

static const char *const all_rules[] = {"fuse_conv_bias_act", "fuse_conv_bn_act", "fuse_matmul_bias_act",
                                        "fuse_residual_add", "fuse_activation"};

/* applies the rules in the given order, pass after pass, until none has a site; returns the
   number of rewrites */
static int exhaust(Graph *g, const int *order, int n) {
    int total = 0;
    for (int pass = 0; pass < 20; pass++) {
        int applied_now = 0;
        for (int k = 0; k < n; k++) applied_now += tr_apply_all(R(all_rules[order[k]]), g, 1000);
        total += applied_now;
        if (!applied_now) return total;
    }
    fail_msg("rules still apply after 20 passes");
    return total;
}

static int count_fused(const Graph *g) {
    return tr_count_op(g, "_FusedConv2D") + tr_count_op(g, "_FusedDepthwiseConv2dNative") + tr_count_op(g, "_FusedMatMul");
}

static void check_model(const Graph *orig, const Graph *g, const char *what) {
    double ref = tr_compare(orig, g, false, 5), fast = tr_compare(orig, g, true, 5);
    if (!(ref <= ZOO_TOL) || !(fast <= ZOO_TOL)) {
        print_error("%s: rel err ref %.3g fast %.3g > %g\n", what, ref, fast, ZOO_TOL);
        fail();
    }
}

/* the rewritten graph written as a GraphDef and read back computes the same (the fused ops'
   attributes survive the wire format) */
static void check_round_trip(const Graph *orig, const Graph *g, const char *what) {
    Err e = {0};
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_OK(graphdef_serialize(g, &data, &len, &e), &e);
    Graph *back = graphdef_parse(data, len, what, &e);
    free(data);
    if (!back) { print_error("%s: %s\n", what, e.msg); fail(); }
    CHECK_OK(graph_infer(back, NULL, 0, ref_eval_node, NULL, &e), &e);
    assert_int_equal(count_fused(back), count_fused(g));
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!node_attr_find(n, "fused_ops")) continue;
        const Node *m = named(back, n->name);
        assert_string_equal(m->op_name, n->op_name);
        assert_int_equal(node_attr_list(m, "fused_ops")->n, node_attr_list(n, "fused_ops")->n);
        assert_int_equal(node_attr_i(m, "num_args", -1), node_attr_i(n, "num_args", -2));
        const AttrList *ta = node_attr_list(n, "TArgs");
        if (ta) assert_int_equal(node_attr_list(m, "TArgs")->n, ta->n);
    }
    check_model(orig, back, what);
    graph_free(back);
}

static Graph *zoo(const char *name, int image, int seq, uint64_t seed) {
    return tr_zoo(name, image, seq, seed, true);
}

static void test_zoo_resnet8(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = zoo("resnet8", 0, 0, 0);
    Graph *g = graph_clone(orig, &e);
    int bn = tr_count_op(orig, "FusedBatchNormV3"), convs = tr_count_op(orig, "Conv2D");
    int n = tr_apply_all(R("fuse_conv_bn_act"), g, 1000);
    assert_int_equal(n, convs);
    assert_int_equal(tr_count_op(g, "FusedBatchNormV3"), bn - convs);
    assert_int_equal(tr_count_op(g, "Conv2D"), 0);
    int relu_absorbed = tr_count_op(orig, "Relu") - tr_count_op(g, "Relu");
    /* the residual Adds stay: TF has no [FusedBatchNorm, Add] fusion (fold the BN first) */
    assert_int_equal(n_sites(R("fuse_residual_add"), g), 0);
    int more = exhaust(g, (int[]){0, 1, 2, 3, 4}, 5);
    check_model(orig, g, "resnet8");
    check_round_trip(orig, g, "resnet8 (fused, via GraphDef)");
    print_message("resnet8: %d -> %d nodes; %d Conv2D+FusedBatchNormV3 fused (%d Relu absorbed), %d more rewrites (the "
                  "dense head)\n",
                  orig->n_nodes, g->n_nodes, n, relu_absorbed, more);
    graph_free(g);
    graph_free(orig);
}

/* pipeline_grappler_bn_folded on ResNet-8: the batch norms folded first, so every residual Add
   (and its Relu) fuses into the conv before it, which Grappler's order leaves apart: fewer
   nodes, the same outputs */
static void test_zoo_resnet8_bn_folded(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = zoo("resnet8", 0, 0, 0);
    Graph *grappler = graph_clone(orig, &e), *folded = graph_clone(orig, &e);
    RewriteLog lg = {0}, lf = {0};
    CHECK_OK(pipeline_run("grappler", grappler, 0, &lg, &e), &e);
    CHECK_OK(pipeline_grappler_bn_folded(folded, 0, &lf, &e), &e);
    int adds = tr_count_op(orig, "AddV2") + tr_count_op(orig, "Add");
    assert_true(adds > 0);
    assert_int_equal(tr_count_op(grappler, "AddV2") + tr_count_op(grappler, "Add"), adds); /* left apart */
    assert_int_equal(tr_count_op(folded, "AddV2") + tr_count_op(folded, "Add"), 0);       /* fused */
    assert_int_equal(tr_count_op(folded, "FusedBatchNormV3"), 0);
    assert_true(folded->n_nodes < grappler->n_nodes);
    check_model(orig, folded, "resnet8 (batch norms folded)");
    print_message("resnet8: grappler %d nodes (%d rewrites), batch norms folded first %d nodes (%d rewrites), %d residual adds "
                  "fused\n",
                  grappler->n_nodes, lg.total, folded->n_nodes, lf.total, adds);
    graph_free(grappler);
    graph_free(folded);
    graph_free(orig);
}

static void test_zoo_mobilenet(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = zoo("mobilenet_v2", 64, 0, 0);
    Graph *g = graph_clone(orig, &e);
    int n = exhaust(g, (int[]){0, 1, 2, 3, 4}, 5);
    check_model(orig, g, "mobilenet_v2");
    /* every Conv2D has its batch norm fused; depthwise batch norms need folding first */
    assert_int_equal(tr_count_op(g, "Conv2D"), 0);
    assert_int_equal(tr_count_op(g, "DepthwiseConv2dNative"), tr_count_op(orig, "DepthwiseConv2dNative"));
    assert_int_equal(tr_count_op(g, "_FusedMatMul"), 1);
    print_message("mobilenet_v2 64px: %d -> %d nodes, %d rewrites: Conv2D %d -> %d, FusedBatchNormV3 %d -> %d, Relu6 %d -> "
                  "%d, fused nodes %d\n",
                  orig->n_nodes, g->n_nodes, n, tr_count_op(orig, "Conv2D"), tr_count_op(g, "Conv2D"),
                  tr_count_op(orig, "FusedBatchNormV3"), tr_count_op(g, "FusedBatchNormV3"), tr_count_op(orig, "Relu6"),
                  tr_count_op(g, "Relu6"), count_fused(g));
    graph_free(g);
    graph_free(orig);
}

static void test_zoo_bert_tiny(void **state) {
    (void)state;
    Err e = {0};
    Graph *orig = zoo("bert-tiny", 0, 16, 0);
    Graph *g = graph_clone(orig, &e);
    int mm = tr_count_op(orig, "MatMul");
    int n = exhaust(g, (int[]){0, 1, 2, 3, 4}, 5);
    check_model(orig, g, "bert-tiny");
    check_round_trip(orig, g, "bert-tiny (fused, via GraphDef)");
    assert_int_equal(tr_count_op(g, "MatMul"), 0);
    assert_int_equal(tr_count_op(g, "_FusedMatMul"), mm);
    assert_int_equal(tr_count_op(g, "Erf"), 0);
    int gelu = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const AttrList *l = node_attr_list(g->nodes[i], "fused_ops");
        if (l && l->n == 2 && !strcmp(l->s[1].data, "GeluExact")) gelu++;
    }
    assert_int_equal(gelu, 2); /* one per layer */
    print_message("bert-tiny seq 16: %d -> %d nodes, %d rewrites: MatMul %d -> 0, %d _FusedMatMul (%d with GeluExact), "
                  "BiasAdd %d -> %d, AddV2 %d -> %d\n",
                  orig->n_nodes, g->n_nodes, n, mm, tr_count_op(g, "_FusedMatMul"), gelu, tr_count_op(orig, "BiasAdd"),
                  tr_count_op(g, "BiasAdd"), tr_count_op(orig, "AddV2"), tr_count_op(g, "AddV2"));
    graph_free(g);
    graph_free(orig);
}

static void test_random_dags_two_orders(void **state) {
    (void)state;
    Err e = {0};
    static const int forward[5] = {0, 1, 2, 3, 4}, backward[5] = {4, 3, 2, 1, 0};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        Graph *orig = zoo("random", 0, 0, seed);
        Graph *a = graph_clone(orig, &e), *b = graph_clone(orig, &e);
        int na = exhaust(a, forward, 5), nb = exhaust(b, backward, 5);
        char what[64];
        snprintf(what, sizeof what, "random seed %llu", (unsigned long long)seed);
        check_model(orig, a, what);
        check_model(orig, b, what);
        /* the rules are confluent here: both orders end in the same graph */
        assert_int_equal(a->n_nodes, b->n_nodes);
        assert_int_equal(count_fused(a), count_fused(b));
        print_message("random seed %llu: %d -> %d nodes, %d fused nodes (%d / %d rewrites in the two orders)\n",
                      (unsigned long long)seed, orig->n_nodes, a->n_nodes, count_fused(a), na, nb);
        graph_free(a);
        graph_free(b);
        graph_free(orig);
    }
}

static void test_registry(void **state) {
    (void)state;
    for (int k = 0; k < 5; k++) {
        const RuleDef *r = R(all_rules[k]);
        assert_string_equal(r->family, "fuse");
        assert_int_equal(r->flags, RULE_EXACT | RULE_TF);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_conv_bias_each_activation),
        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_conv_padding_and_bias_forms),
        cmocka_unit_test(test_conv_bias_nonmatching),
        cmocka_unit_test(test_conv_bn),
        cmocka_unit_test(test_matmul_each_activation),
        cmocka_unit_test(test_matmul_nonmatching),
        cmocka_unit_test(test_residual),
        cmocka_unit_test(test_activation_order_independence),
        cmocka_unit_test(test_activation_nonmatching),
        cmocka_unit_test(test_control_edges),
        cmocka_unit_test(test_zoo_resnet8),
        cmocka_unit_test(test_zoo_resnet8_bn_folded),
        cmocka_unit_test(test_zoo_mobilenet),
        cmocka_unit_test(test_zoo_bert_tiny),
        cmocka_unit_test(test_random_dags_two_orders),
    };
    return cmocka_run_group_tests_name("rules_fuse", tests, NULL, NULL);
}
