/* test_rules_norm.c - the rules fuse_layernorm and fuse_gelu (rules_fuse_norm.c): hand-built
 * patterns in every spelling the rules accept (BERT's tf.nn.batch_normalization form and the
 * direct form of LayerNorm, StopGradient, Add vs AddV2, operands swapped; GELU's erf form via
 * Mul or RealDiv, the tanh form with Pow / x*x*x / Square, the factors grouped every way) and the
 * near misses they must refuse (an intermediate with a second reader or fetched as an output,
 * epsilon in the wrong place, wrong reduction axis, a constant 0.6 for 0.5, control edges);
 * each site checked with tr_check_each_site on both runtimes plus structural asserts; then
 * bert-tiny (seq 16) rewritten to exhaustion, and the CNN zoo models and random DAGs, where
 * neither rule may find anything. */
#include "testrules.h"

#include "io/graphdef.h"
#include "zoo/builder.h"
#include "zoo/zoo.h"

#define TOL 1e-5

static const RuleDef *rule(const char *name) {
    const RuleDef *r = rule_by_name(name);
    assert_non_null(r);
    return r;
}

static int n_sites(const RuleDef *r, const Graph *g) { return tr_site_count(r, g); }

static Graph *finish(Builder *b) { return tr_finish(b); }

/* x = p * 8 + (-4) for a Placeholder p uniform in [0, 1): values in [-4, 4) */
static ValueRef spread_input(Builder *b, int rank, const int64_t *dims) {
    ValueRef p = bld_placeholder(b, "p", DT_FLOAT, shape_make(rank, dims), NULL);
    ValueRef y = bld_binary(b, "spread/mul", "Mul", p, bld_scalar_f32(b, "spread/eight", 8));
    return bld_binary(b, "spread/add", "AddV2", y, bld_scalar_f32(b, "spread/minus_four", -4));
}

/* ---- LayerNorm patterns ---- */

typedef struct LnSpec {
    int variant;          /* 0: x*m + (beta - mean*m), m = rstd*gamma (BERT); 1: (x-mean)*rstd*gamma + beta */
    bool swap;            /* every commutative op with its operands the other way round */
    bool stop_gradient;   /* SquaredDifference(x, StopGradient(mean)) as tf.nn.moments writes it */
    bool add_v1;          /* Add instead of AddV2 */
    int second_reader;    /* 1: Rsqrt also fetched; 2: mean also read by a Neg that is fetched;
                             3: the gamma product (variant 0) read by a third Mul */
    bool eps_after_rsqrt; /* Rsqrt(var) + eps: not a LayerNorm */
    int mean_axis;        /* axis of the first Mean (-1 default; 1 = rank-1 spelled out, 0 = wrong) */
    bool anchor_is_output; /* the LayerNorm result itself is the graph output (no Identity) */
    bool ctrl_on_anchor;   /* a NoOp waits for the anchor through a control edge */
} LnSpec;

static ValueRef bin(Builder *b, const char *name, const char *op, ValueRef x, ValueRef y, bool swap) {
    return swap ? bld_binary(b, name, op, y, x) : bld_binary(b, name, op, x, y);
}

/* x [3, 5, 16] through the pattern; outputs: "out" = Identity(LN), and "resid" = LN + x (x has
   other readers, which is allowed). Returns the graph; *anchor_name is "ln/add_1". */
static Graph *ln_graph(const LnSpec *s) {
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 5, false, &e), &e);
    int64_t dims[3] = {3, 5, 16};
    ValueRef x = spread_input(&b, 3, dims);
    Tensor gamma = bld_normal(&b, shape_make(1, (int64_t[]){16}), 1.0, 0.3);
    Tensor beta = bld_normal(&b, shape_make(1, (int64_t[]){16}), 0.0, 0.3);
    ValueRef vg = bld_const(&b, "ln/gamma", &gamma), vb = bld_const(&b, "ln/beta", &beta);
    const char *add = s->add_v1 ? "Add" : "AddV2";
    int32_t ax = s->mean_axis ? s->mean_axis : -1, last = -1;
    ValueRef mean = bld_mean(&b, "ln/moments/mean", x, &ax, 1, true);
    ValueRef ms = s->stop_gradient ? bld_unary(&b, "ln/moments/StopGradient", "StopGradient", mean) : mean;
    ValueRef sqd = bin(&b, "ln/moments/SquaredDifference", "SquaredDifference", x, ms, s->swap);
    ValueRef var = bld_mean(&b, "ln/moments/variance", sqd, &last, 1, true);
    ValueRef eps = bld_scalar_f32(&b, "ln/add/y", 1e-6f);
    ValueRef rstd;
    if (s->eps_after_rsqrt) {
        rstd = bin(&b, "ln/add", add, bld_unary(&b, "ln/Rsqrt", "Rsqrt", var), eps, s->swap);
    } else {
        rstd = bld_unary(&b, "ln/Rsqrt", "Rsqrt", bin(&b, "ln/add", add, var, eps, s->swap));
    }
    ValueRef y, extra = BLD_NONE;
    if (s->variant == 0) {
        ValueRef m = bin(&b, "ln/mul", "Mul", rstd, vg, s->swap);
        ValueRef xm = bin(&b, "ln/mul_1", "Mul", x, m, s->swap);
        ValueRef mm = bin(&b, "ln/mul_2", "Mul", mean, m, s->swap);
        ValueRef sh = bld_binary(&b, "ln/sub", "Sub", vb, mm);
        y = bin(&b, "ln/add_1", add, xm, sh, s->swap);
        if (s->second_reader == 3) extra = bld_binary(&b, "ln/mul_3", "Mul", m, m);
    } else {
        ValueRef d = bld_binary(&b, "ln/sub", "Sub", x, mean);
        ValueRef n1 = bin(&b, "ln/mul", "Mul", d, rstd, s->swap);
        ValueRef n2 = bin(&b, "ln/mul_1", "Mul", n1, vg, s->swap);
        y = bin(&b, "ln/add_1", add, n2, vb, s->swap);
    }
    if (s->second_reader == 1) extra = rstd;
    if (s->second_reader == 2) extra = bld_unary(&b, "ln/neg_mean", "Neg", mean);
    if (s->ctrl_on_anchor) {
        int noop = bld_begin(&b, "ln/wait", "NoOp", NULL, 0);
        CHECK_OK(node_add_ctrl(b.g, noop, y.node, &e), &e);
        bld_end(&b, noop);
    }
    bld_add_output(&b, s->anchor_is_output ? y : bld_identity(&b, "out", y));
    bld_add_output(&b, bld_binary(&b, "resid", "AddV2", y, x));
    if (extra.node >= 0) bld_add_output(&b, extra);
    return finish(&b);
}

/* the rule finds exactly `want` sites, each of which checks out on both runtimes */
static void expect_sites(const char *rule_name, const Graph *g, int want) {
    int got = tr_check_each_site(rule(rule_name), g, TOL);
    if (got != want) { print_error("%s: %d sites, expected %d\n", rule_name, got, want); fail(); }
}

/* applies the rule everywhere on a clone; checks the op counts and that `anchor` now names the
   fused node */
static void expect_fused(const char *rule_name, const Graph *g, const char *anchor, const char *fused_op,
                         const char *const *gone, int n_gone) {
    Err e;
    Graph *c = graph_clone(g, &e);
    assert_non_null(c);
    assert_int_equal(tr_apply_all(rule(rule_name), c, 10), 1);
    assert_int_equal(tr_count_op(c, fused_op), 1);
    for (int k = 0; k < n_gone; k++)
        if (tr_count_op(c, gone[k])) { print_error("%s left a %s behind\n", rule_name, gone[k]); fail(); }
    int a = graph_find(c, anchor);
    assert_true(a >= 0);
    assert_string_equal(c->nodes[a]->op_name, fused_op);
    assert_true(tr_compare(g, c, false, 3) <= TOL);
    graph_free(c);
}

static void ln_matches(void **state) {
    (void)state;
    static const char *const gone[] = {"Mean", "SquaredDifference", "Rsqrt", "StopGradient", "Sub"};
    LnSpec specs[] = {
        {.variant = 0},
        {.variant = 0, .swap = true, .add_v1 = true},
        {.variant = 0, .stop_gradient = true, .mean_axis = 2},
        {.variant = 0, .anchor_is_output = true},
        {.variant = 1},
        {.variant = 1, .swap = true, .stop_gradient = true},
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        Graph *g = ln_graph(&specs[k]);
        expect_sites("fuse_layernorm", g, 1);
        expect_fused("fuse_layernorm", g, "ln/add_1", "GrappoLayerNorm", gone, 5);
        assert_int_equal(n_sites(rule("fuse_gelu"), g), 0);
        graph_free(g);
    }
}

/* the fused node carries epsilon, T and reads x, gamma, beta */
static void ln_fused_node(void **state) {
    (void)state;
    LnSpec s = {.variant = 0, .swap = true};
    Graph *g = ln_graph(&s);
    assert_int_equal(tr_apply_all(rule("fuse_layernorm"), g, 10), 1);
    const Node *n = g->nodes[graph_find(g, "ln/add_1")];
    assert_int_equal(n->op, OP_GRAPPO_LAYER_NORM);
    assert_int_equal(n->n_inputs, 3);
    assert_string_equal(g->nodes[n->inputs[0].node]->name, "spread/add");
    assert_string_equal(g->nodes[n->inputs[1].node]->name, "ln/gamma");
    assert_string_equal(g->nodes[n->inputs[2].node]->name, "ln/beta");
    assert_float_equal(node_attr_f(n, "epsilon", 0), 1e-6f, 0);
    assert_int_equal(node_attr_type(n, "T", DT_INVALID), DT_FLOAT);
    graph_free(g);
}

static void ln_refusals(void **state) {
    (void)state;
    LnSpec specs[] = {
        {.variant = 0, .second_reader = 1}, /* Rsqrt fetched */
        {.variant = 0, .second_reader = 2}, /* mean read outside */
        {.variant = 0, .second_reader = 3}, /* rstd*gamma read outside */
        {.variant = 1, .second_reader = 1},
        {.variant = 1, .second_reader = 2},
        {.variant = 0, .eps_after_rsqrt = true},
        {.variant = 1, .eps_after_rsqrt = true},
        {.variant = 0, .mean_axis = 1}, /* mean over the wrong axis */
        {.variant = 0, .ctrl_on_anchor = true},
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        Graph *g = ln_graph(&specs[k]);
        int n = n_sites(rule("fuse_layernorm"), g);
        if (n != 0) { print_error("case %zu: %d sites, expected none\n", k, n); fail(); }
        graph_free(g);
    }
}

/* gamma shaped [1, D] (broadcasts the same) is not the op's [D]: refused, not mangled */
static void ln_refuses_gamma_rank2(void **state) {
    (void)state;
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 6, false, &e), &e);
    ValueRef x = spread_input(&b, 2, (int64_t[]){4, 8});
    Tensor gamma = bld_normal(&b, shape_make(2, (int64_t[]){1, 8}), 1.0, 0.3);
    Tensor beta = bld_normal(&b, shape_make(1, (int64_t[]){8}), 0.0, 0.3);
    ValueRef vg = bld_const(&b, "gamma", &gamma), vb = bld_const(&b, "beta", &beta);
    int32_t last = -1;
    ValueRef mean = bld_mean(&b, "mean", x, &last, 1, true);
    ValueRef var = bld_mean(&b, "var", bld_binary(&b, "sqd", "SquaredDifference", x, mean), &last, 1, true);
    ValueRef rstd = bld_unary(&b, "rsqrt", "Rsqrt", bld_binary(&b, "add", "AddV2", var, bld_scalar_f32(&b, "eps", 1e-5f)));
    ValueRef m = bld_binary(&b, "mul", "Mul", rstd, vg);
    ValueRef y = bld_binary(&b, "add_1", "AddV2", bld_binary(&b, "mul_1", "Mul", x, m),
                            bld_binary(&b, "sub", "Sub", vb, bld_binary(&b, "mul_2", "Mul", mean, m)));
    bld_add_output(&b, y);
    Graph *g = finish(&b);
    assert_int_equal(n_sites(rule("fuse_layernorm"), g), 0);
    graph_free(g);
}

/* ---- GELU patterns ---- */

typedef struct GeluSpec {
    int form;     /* 0 Erf(x*c), 1 Erf(x/sqrt2), 2 tanh with Pow(x,3), 3 tanh with x*(x*x), 4 tanh with Square;
                     tf.nn.gelu's s = Erfc(-x/sqrt2) (no 1 +): 5 Erfc(Neg(x)*c), 6 Erfc(x*-c), 7 Erfc(Neg(x*c)),
                     8 Erfc(Neg(x)/sqrt2), 9 Erfc(x/-sqrt2), 10 Erfc(x*c) (the wrong sign: not GELU) */
    int grouping; /* 0 (x*0.5)*s, 1 (0.5*x)*s, 2 x*(0.5*s), 3 (x*s)*0.5, 4 s*(x*0.5) */
    float half, one, scale;      /* 0.5, 1, the argument scale (0 = the right one) */
    int second_reader;           /* 1: Erf/Tanh also read; 2: the sum 1+f fetched; 3: the inner Mul fetched */
    bool swap;                   /* commutative operands of the inner ops swapped */
} GeluSpec;

static Graph *gelu_graph(const GeluSpec *s) {
    Builder b;
    Err e = {0};
    CHECK_OK(bld_init(&b, 7, false, &e), &e);
    ValueRef x = spread_input(&b, 2, (int64_t[]){6, 24});
    float half = s->half ? s->half : 0.5f, one = s->one ? s->one : 1.0f;
    ValueRef f, sum;
    if (s->form >= 5) {
        float c = s->scale ? s->scale : 0.70710677f, r2 = 1.4142135f;
        ValueRef arg;
        switch (s->form) {
        case 5: arg = bin(&b, "g/mul_1", "Mul", bld_unary(&b, "g/Neg", "Neg", x), bld_scalar_f32(&b, "g/c", c), s->swap); break;
        case 6: arg = bin(&b, "g/mul_1", "Mul", x, bld_scalar_f32(&b, "g/c", -c), s->swap); break;
        case 7: arg = bld_unary(&b, "g/Neg", "Neg", bin(&b, "g/mul_1", "Mul", x, bld_scalar_f32(&b, "g/c", c), s->swap)); break;
        case 8: arg = bld_binary(&b, "g/div", "RealDiv", bld_unary(&b, "g/Neg", "Neg", x), bld_scalar_f32(&b, "g/c", r2)); break;
        case 9: arg = bld_binary(&b, "g/div", "RealDiv", x, bld_scalar_f32(&b, "g/c", -r2)); break;
        default: arg = bin(&b, "g/mul_1", "Mul", x, bld_scalar_f32(&b, "g/c", c), s->swap); break;
        }
        f = sum = bld_unary(&b, "g/Erfc", "Erfc", arg);
    } else if (s->form <= 1) {
        ValueRef arg = s->form == 0
                           ? bin(&b, "g/mul", "Mul", x, bld_scalar_f32(&b, "g/mul/y", s->scale ? s->scale : 0.70710677f), s->swap)
                           : bld_binary(&b, "g/truediv", "RealDiv", x, bld_scalar_f32(&b, "g/truediv/y", s->scale ? s->scale : 1.4142135f));
        f = bld_unary(&b, "g/Erf", "Erf", arg);
    } else {
        ValueRef cube;
        if (s->form == 2) cube = bld_binary(&b, "g/Pow", "Pow", x, bld_scalar_f32(&b, "g/Pow/y", 3));
        else if (s->form == 3) cube = bin(&b, "g/cube", "Mul", x, bld_binary(&b, "g/sq", "Mul", x, x), s->swap);
        else cube = bin(&b, "g/cube", "Mul", bld_unary(&b, "g/sq", "Square", x), x, s->swap);
        ValueRef inner = bin(&b, "g/mul", "Mul", bld_scalar_f32(&b, "g/mul/x", 0.044715f), cube, s->swap);
        ValueRef sum = bin(&b, "g/add", "AddV2", x, inner, s->swap);
        ValueRef arg = bin(&b, "g/mul_1", "Mul", bld_scalar_f32(&b, "g/mul_1/x", s->scale ? s->scale : 0.7978846f), sum, s->swap);
        f = bld_unary(&b, "g/Tanh", "Tanh", arg);
    }
    if (s->form < 5) sum = bin(&b, "g/add_1", "AddV2", bld_scalar_f32(&b, "g/add_1/x", one), f, s->swap);
    ValueRef c = bld_scalar_f32(&b, "g/half", half), m, y;
    switch (s->grouping) {
    case 0: m = bld_binary(&b, "g/m", "Mul", x, c); y = bld_binary(&b, "g/out", "Mul", m, sum); break;
    case 1: m = bld_binary(&b, "g/m", "Mul", c, x); y = bld_binary(&b, "g/out", "Mul", m, sum); break;
    case 2: m = bld_binary(&b, "g/m", "Mul", c, sum); y = bld_binary(&b, "g/out", "Mul", x, m); break;
    case 3: m = bld_binary(&b, "g/m", "Mul", x, sum); y = bld_binary(&b, "g/out", "Mul", m, c); break;
    default: m = bld_binary(&b, "g/m", "Mul", x, c); y = bld_binary(&b, "g/out", "Mul", sum, m); break;
    }
    bld_add_output(&b, bld_identity(&b, "out", y));
    bld_add_output(&b, bld_binary(&b, "resid", "AddV2", y, x));
    if (s->second_reader == 1) bld_add_output(&b, bld_unary(&b, "g/f_again", "Neg", f));
    if (s->second_reader == 2) bld_add_output(&b, sum);
    if (s->second_reader == 3) bld_add_output(&b, m);
    return finish(&b);
}

static void gelu_matches(void **state) {
    (void)state;
    static const char *const gone_erf[] = {"Erf", "RealDiv", "Erfc", "Neg"};
    static const char *const gone_tanh[] = {"Tanh", "Pow", "Square"};
    GeluSpec specs[] = {
        {.form = 0, .grouping = 0}, {.form = 0, .grouping = 1, .swap = true}, {.form = 1, .grouping = 2},
        {.form = 1, .grouping = 3}, {.form = 0, .grouping = 4},               {.form = 2, .grouping = 1},
        {.form = 3, .grouping = 2}, {.form = 3, .grouping = 0, .swap = true}, {.form = 4, .grouping = 4, .swap = true},
        {.form = 5, .grouping = 1}, {.form = 5, .grouping = 0, .swap = true}, {.form = 6, .grouping = 2},
        {.form = 6, .grouping = 3, .swap = true}, {.form = 7, .grouping = 4}, {.form = 8, .grouping = 1},
        {.form = 9, .grouping = 2},
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        Graph *g = gelu_graph(&specs[k]);
        expect_sites("fuse_gelu", g, 1);
        bool tanh_form = specs[k].form >= 2 && specs[k].form <= 4;
        expect_fused("fuse_gelu", g, "g/out", "GrappoGelu", tanh_form ? gone_tanh : gone_erf, tanh_form ? 3 : 4);
        Graph *c = graph_clone(g, &(Err){0});
        tr_apply_all(rule("fuse_gelu"), c, 10);
        const Node *n = c->nodes[graph_find(c, "g/out")];
        assert_int_equal(node_attr_b(n, "approximate", !tanh_form), tanh_form);
        assert_string_equal(c->nodes[n->inputs[0].node]->name, "spread/add");
        assert_int_equal(tr_count_op(c, "Mul"), 1); /* only spread/mul is left */
        graph_free(c);
        assert_int_equal(n_sites(rule("fuse_layernorm"), g), 0);
        graph_free(g);
    }
}

static void gelu_refusals(void **state) {
    (void)state;
    GeluSpec specs[] = {
        {.form = 0, .half = 0.6f},                      /* 0.6 is not 0.5 */
        {.form = 2, .grouping = 2, .half = 0.6f},
        {.form = 0, .one = 1.001f},                     /* 1 + erf, not 1.001 + erf */
        {.form = 0, .scale = 0.7072f},                  /* 1/sqrt2 off by 1.3e-4 relative */
        {.form = 1, .scale = 1.41f},
        {.form = 2, .scale = 0.8f},                     /* sqrt(2/pi) wrong */
        {.form = 0, .second_reader = 1},                /* Erf read outside */
        {.form = 3, .second_reader = 1},                /* Tanh read outside */
        {.form = 0, .second_reader = 2, .grouping = 3}, /* 1 + erf fetched */
        {.form = 0, .second_reader = 3},                /* x * 0.5 fetched */
        {.form = 2, .second_reader = 3, .grouping = 2}, /* 0.5 * (1 + tanh) fetched */
        {.form = 10},                                   /* Erfc(+x/sqrt2): 0.5 x erfc(x/sqrt2) is not GELU */
        {.form = 5, .scale = 0.7072f},                  /* Erfc's scale off */
        {.form = 5, .half = 0.6f},
        {.form = 5, .second_reader = 1},                /* Erfc read outside */
        {.form = 7, .second_reader = 2, .grouping = 3}, /* Erfc fetched */
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        Graph *g = gelu_graph(&specs[k]);
        int n = n_sites(rule("fuse_gelu"), g);
        if (n != 0) { print_error("case %zu: %d sites, expected none\n", k, n); fail(); }
        graph_free(g);
    }
}

/* the constant tolerance is 1e-6 relative: float32 spellings of the constants pass, a value
   2e-6 away does not */
static void gelu_constant_tolerance(void **state) {
    (void)state;
    GeluSpec near = {.form = 0, .scale = (float)(0.70710678118654752 * (1 + 5e-7))};
    GeluSpec far = {.form = 0, .scale = (float)(0.70710678118654752 * (1 + 2e-6))};
    Graph *g = gelu_graph(&near);
    assert_int_equal(n_sites(rule("fuse_gelu"), g), 1);
    graph_free(g);
    g = gelu_graph(&far);
    assert_int_equal(n_sites(rule("fuse_gelu"), g), 0);
    graph_free(g);
}

/* ---- zoo models ---- */

static Graph *zoo(const char *name, int image, int seq, uint64_t seed) {
    return tr_zoo(name, image, seq, seed, true);
}

static int count_ops(const Graph *g, const char *const *ops, int n) {
    int c = 0;
    for (int k = 0; k < n; k++) c += tr_count_op(g, ops[k]);
    return c;
}

/* bert-tiny: 5 LayerNorms (embeddings + 2 per layer), 2 GELUs; each site checked on its own,
   then both rules to exhaustion, in both orders */
static void bert_tiny(void **state) {
    (void)state;
    Graph *g = zoo("bert-tiny", 0, 16, 1);
    assert_int_equal(tr_check_each_site(rule("fuse_layernorm"), g, 1e-4), 5);
    assert_int_equal(tr_check_each_site(rule("fuse_gelu"), g, 1e-4), 2);
    static const char *const gone[] = {"Mean", "SquaredDifference", "Rsqrt", "Erf", "Sub"};
    for (int order = 0; order < 2; order++) {
        Err e;
        Graph *c = graph_clone(g, &e);
        assert_non_null(c);
        int before = c->n_nodes;
        const char *first = order ? "fuse_gelu" : "fuse_layernorm", *second = order ? "fuse_layernorm" : "fuse_gelu";
        int a1 = tr_apply_all(rule(first), c, 50), a2 = tr_apply_all(rule(second), c, 50);
        assert_int_equal(a1 + a2, 7);
        assert_int_equal(tr_count_op(c, "GrappoLayerNorm"), 5);
        assert_int_equal(tr_count_op(c, "GrappoGelu"), 2);
        /* "Sub" also spells the mask's 1 - m: exactly one must be left */
        assert_int_equal(count_ops(c, gone, 5), 1);
        assert_int_equal(tr_count_op(c, "Sub"), 1);
        /* per LayerNorm 11 nodes become 1 and the eps and axis Consts go (-12); per GELU 5 nodes
           and 3 Consts become 1 (-7) */
        assert_int_equal(before - c->n_nodes, 5 * 12 + 2 * 7);
        assert_int_equal(n_sites(rule("fuse_layernorm"), c) + n_sites(rule("fuse_gelu"), c), 0);
        for (int fast = 0; fast < 2; fast++) {
            double err = tr_compare(g, c, fast, 11);
            if (!(err <= 1e-4)) { print_error("bert-tiny fused (%s): rel err %g\n", fast ? "fast" : "ref", err); fail(); }
        }
        /* the fused graph survives a GraphDef round trip unchanged in what it computes */
        Graph *back = tr_roundtrip(c);
        assert_int_equal(tr_count_op(back, "GrappoLayerNorm"), 5);
        assert_true(tr_compare(g, back, true, 12) <= 1e-4);
        graph_free(back);
        graph_free(c);
    }
    graph_free(g);
}

static void cnn_and_random_models_have_no_sites(void **state) {
    (void)state;
    Graph *gs[5] = {zoo("resnet8", 32, 0, 1), zoo("mobilenet_v2", 64, 0, 1), zoo("random", 0, 0, 3), zoo("random", 0, 0, 4),
                    zoo("random", 0, 0, 5)};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(n_sites(rule("fuse_layernorm"), gs[k]), 0);
        assert_int_equal(n_sites(rule("fuse_gelu"), gs[k]), 0);
        graph_free(gs[k]);
    }
}

/* registry entries: family fuse, exact, not TF-executable */
static void registry(void **state) {
    (void)state;
    const char *names[2] = {"fuse_layernorm", "fuse_gelu"};
    for (int k = 0; k < 2; k++) {
        const RuleDef *r = rule(names[k]);
        assert_string_equal(r->family, "fuse");
        assert_true(r->flags & RULE_EXACT);
        assert_false(r->flags & RULE_TF);
        assert_false(r->flags & RULE_PRECISION);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry),
        cmocka_unit_test(ln_matches),
        cmocka_unit_test(ln_fused_node),
        cmocka_unit_test(ln_refusals),
        cmocka_unit_test(ln_refuses_gamma_rank2),
        cmocka_unit_test(gelu_matches),
        cmocka_unit_test(gelu_refusals),
        cmocka_unit_test(gelu_constant_tolerance),
        cmocka_unit_test(bert_tiny),
        cmocka_unit_test(cnn_and_random_models_have_no_sites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
