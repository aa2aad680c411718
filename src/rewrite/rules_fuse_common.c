/* rules_fuse_common.c - shared by the fusion rules (see rules_fuse_common.h): TensorFlow's
 * supported fused_ops lists, activation matching (single ops and the GELU subgraphs), and
 * writing / finishing a fused node the way Grappler's remapper does. Also the two rules that
 * grow an existing fused node whatever its host (conv, depthwise, matmul): fuse_residual_add
 * and fuse_activation. */
#include "rules_fuse_common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "calibrate.h"
#include "edit.h"

const char *fuse_host_op(FuseHost h) {
    switch (h) {
    case FUSE_CONV2D: return "_FusedConv2D";
    case FUSE_DEPTHWISE: return "_FusedDepthwiseConv2dNative";
    case FUSE_MATMUL: return "_FusedMatMul";
    }
    return "?";
}

bool fuse_host_of(const Node *n, FuseHost *h) {
    switch (n->op) {
    case OP_FUSED_CONV2D: *h = FUSE_CONV2D; return true;
    case OP_FUSED_DEPTHWISE_INTERNAL: *h = FUSE_DEPTHWISE; return true;
    case OP_FUSED_MATMUL: *h = FUSE_MATMUL; return true;
    default: return false;
    }
}

/* The lists below are what TensorFlow's CPU kernels accept (MklFusedConvOp,
   MklFusedDepthwiseConvOp, MklFusedMatMulOp, and the Eigen _FusedMatMul that transpose_a
   matmuls fall back to). Writing anything else would give a GraphDef TF refuses to run. */
bool fuse_tf_allows(FuseHost h, FuseBase b, NnAct act, bool transpose_a) {
    bool basic = act == NN_ACT_NONE || act == NN_ACT_RELU || act == NN_ACT_RELU6 || act == NN_ACT_ELU;
    switch (h) {
    case FUSE_CONV2D: return basic || act == NN_ACT_LEAKY_RELU;
    case FUSE_DEPTHWISE: return b == FUSE_BASE_BIAS && basic;
    case FUSE_MATMUL:
        if (b == FUSE_BASE_BN) return false;
        if (b == FUSE_BASE_BIAS_ADD) return act == NN_ACT_NONE && !transpose_a;
        if (basic || act == NN_ACT_LEAKY_RELU) return true;
        return !transpose_a && (act == NN_ACT_SIGMOID || act == NN_ACT_TANH || act == NN_ACT_GELU_EXACT ||
                                act == NN_ACT_GELU_APPROX);
    }
    return false;
}

bool fuse_is_f32(const Graph *g, ValueRef v) { return graph_value(g, v)->dtype == DT_FLOAT; }

bool fuse_no_ctrl_readers(const Graph *g, const GraphUses *u, int node) {
    for (int k = u->use_start[node]; k < u->use_start[node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_ctrl; i++)
            if (r->ctrl[i] == node) return false;
    }
    return true;
}

static bool same_ref(ValueRef a, ValueRef b) { return a.node == b.node && a.port == b.port; }

/* ---- single-op activations ---- */

static NnAct node_act(const Node *n) {
    switch (n->op) {
    case OP_RELU: return NN_ACT_RELU;
    case OP_RELU6: return NN_ACT_RELU6;
    case OP_ELU: return NN_ACT_ELU;
    case OP_LEAKY_RELU: return NN_ACT_LEAKY_RELU;
    case OP_SIGMOID: return NN_ACT_SIGMOID;
    case OP_TANH: return NN_ACT_TANH;
    /* fuse_gelu's op (docs/ops.md): absorbing it leaves no grappo op behind */
    case OP_GRAPPO_GELU: return node_attr_b(n, "approximate", false) ? NN_ACT_GELU_APPROX : NN_ACT_GELU_EXACT;
    default: return NN_ACT_NONE;
    }
}

/* ---- GELU ----
 * The forms TF and Keras write (in any association and operand order of the products):
 *   erf:  x * 0.5 * (1 + Erf(x * 0.70710677))   or   ... Erf(x / 1.4142135) ...
 *   tanh: x * 0.5 * (1 + Tanh(0.7978846 * (x + 0.044715 * Pow(x, 3))))
 * A product is matched as a tree of Mul nodes whose leaves are x, scalar constants and at most
 * one other factor; x^3 may be Pow(x, 3), x * Square(x) or x * x * x. fuse_gelu's GrappoGelu
 * is accepted as a single-op activation too. */

typedef struct Gelu {
    ValueRef x;
    int n;
    int nodes[FUSE_ACT_MAX_NODES];
    bool ok;
} Gelu;

typedef struct Prod {
    double coef;    /* product of the scalar constants */
    int xpow;       /* power of x */
    int n_other;
    ValueRef other; /* the non-constant factor, when n_other == 1 */
} Prod;

static void gelu_take(Gelu *m, int node) {
    if (m->n == FUSE_ACT_MAX_NODES) { m->ok = false; return; }
    m->nodes[m->n++] = node;
}

/* the value of v when it is a known float32 scalar (one element) */
static bool scalar_of(const Graph *g, ValueRef v, double *out) {
    const Tensor *t = edit_known(g, v);
    if (!t || t->dtype != DT_FLOAT || tensor_numel(t) != 1) return false;
    *out = tensor_get(t, 0);
    return true;
}

#define SQRT_2_OVER_PI 0.79788456080286535588

static bool near(double a, double ref) { return fabs(a - ref) <= 1e-6 * fabs(ref); }

static void prod_walk(const Graph *g, const GraphUses *u, ValueRef v, bool root, Prod *p, Gelu *m, int depth) {
    double c;
    if (!m->ok) return;
    if (same_ref(v, m->x)) { p->xpow++; return; }
    if (scalar_of(g, v, &c)) { p->coef *= c; return; }
    const Node *n = g->nodes[v.node];
    /* the root's own readers are checked by the caller; inner nodes are absorbed, so nothing
       outside the pattern may read them */
    bool inner_ok = root || edit_single_use(g, u, v);
    if (depth < 8 && inner_ok && n->op == OP_MUL && n->n_inputs == 2) {
        gelu_take(m, v.node);
        prod_walk(g, u, n->inputs[0], false, p, m, depth + 1);
        prod_walk(g, u, n->inputs[1], false, p, m, depth + 1);
        return;
    }
    if (inner_ok && !root && n->op == OP_POW && n->n_inputs == 2 && same_ref(n->inputs[0], m->x) &&
        scalar_of(g, n->inputs[1], &c) && c == 3.0) {
        gelu_take(m, v.node);
        p->xpow += 3;
        return;
    }
    if (inner_ok && !root && n->op == OP_SQUARE && n->n_inputs == 1 && same_ref(n->inputs[0], m->x)) {
        gelu_take(m, v.node);
        p->xpow += 2;
        return;
    }
    if (p->n_other++ == 0) p->other = v;
}

/* a product rooted at v (v itself single-use unless `root`) */
static Prod prod_of(const Graph *g, const GraphUses *u, ValueRef v, bool root, Gelu *m) {
    Prod p = {1.0, 0, 0, {-1, 0}};
    if (!root && !edit_single_use(g, u, v)) m->ok = false;
    else prod_walk(g, u, v, root, &p, m, 0);
    return p;
}

/* v = Add|AddV2(a, b) read only inside the pattern: its operands, else false */
static bool add_operands(const Graph *g, const GraphUses *u, ValueRef v, ValueRef *a, ValueRef *b) {
    const Node *n = g->nodes[v.node];
    if ((n->op != OP_ADD && n->op != OP_ADD_V2) || n->n_inputs != 2 || !edit_single_use(g, u, v)) return false;
    *a = n->inputs[0];
    *b = n->inputs[1];
    return true;
}

/* 1 + F(...) where F is Erf or Tanh: returns F's input and sets *f_op, else {-1,0} */
static ValueRef one_plus(const Graph *g, const GraphUses *u, ValueRef v, OpId *f_op, Gelu *m) {
    ValueRef a, b, none = {-1, 0};
    double c;
    if (!add_operands(g, u, v, &a, &b)) return none;
    if (!(scalar_of(g, a, &c) && near(c, 1.0))) {
        ValueRef t = a;
        a = b;
        b = t;
        if (!(scalar_of(g, a, &c) && near(c, 1.0))) return none;
    }
    const Node *f = g->nodes[b.node];
    if ((f->op != OP_ERF && f->op != OP_TANH) || f->n_inputs != 1 || !edit_single_use(g, u, b)) return none;
    gelu_take(m, v.node);
    gelu_take(m, b.node);
    *f_op = f->op;
    return f->inputs[0];
}

/* Erf's argument: x / sqrt(2) as RealDiv(x, 1.4142135) or a product 0.70710677 * x */
static bool erf_arg(const Graph *g, const GraphUses *u, ValueRef e, Gelu *m) {
    const Node *n = g->nodes[e.node];
    double c;
    if (n->op == OP_REAL_DIV && n->n_inputs == 2) {
        if (!edit_single_use(g, u, e) || !same_ref(n->inputs[0], m->x) || !scalar_of(g, n->inputs[1], &c) ||
            !near(c, sqrt(2.0)))
            return false;
        gelu_take(m, e.node);
        return true;
    }
    Prod p = prod_of(g, u, e, false, m);
    return m->ok && p.n_other == 0 && p.xpow == 1 && near(p.coef, sqrt(0.5));
}

/* Tanh's argument: sqrt(2/pi) * (x + 0.044715 * x^3) */
static bool tanh_arg(const Graph *g, const GraphUses *u, ValueRef t, Gelu *m) {
    Prod p = prod_of(g, u, t, false, m);
    if (!m->ok || p.n_other != 1 || p.xpow != 0 || !near(p.coef, SQRT_2_OVER_PI)) return false;
    ValueRef a, b;
    if (!add_operands(g, u, p.other, &a, &b)) return false;
    if (!same_ref(a, m->x)) {
        ValueRef s = a;
        a = b;
        b = s;
    }
    if (!same_ref(a, m->x) || same_ref(b, m->x)) return false;
    gelu_take(m, p.other.node);
    Prod q = prod_of(g, u, b, false, m);
    return m->ok && q.n_other == 0 && q.xpow == 3 && near(q.coef, 0.044715);
}

/* Tries the GELU whose final product is rooted at `top`. */
static bool gelu_at(const Graph *g, const GraphUses *u, ValueRef x, int top, NnAct *act, Gelu *m) {
    memset(m, 0, sizeof *m);
    m->x = x;
    m->ok = true;
    ValueRef tv = {top, 0};
    Prod p = prod_of(g, u, tv, true, m);
    if (!m->ok || p.n_other != 1 || p.xpow != 1 || !near(p.coef, 0.5)) return false;
    OpId f_op = OP_UNKNOWN;
    ValueRef arg = one_plus(g, u, p.other, &f_op, m);
    if (arg.node < 0 || !m->ok) return false;
    bool ok = f_op == OP_ERF ? erf_arg(g, u, arg, m) : tanh_arg(g, u, arg, m);
    if (!ok || !m->ok) return false;
    *act = f_op == OP_ERF ? NN_ACT_GELU_EXACT : NN_ACT_GELU_APPROX;
    /* the top node was taken first; the activation lists it last */
    for (int k = 0; k + 1 < m->n; k++) m->nodes[k] = m->nodes[k + 1];
    m->nodes[m->n - 1] = top;
    return true;
}

static bool in_list(const int *v, int n, int x) {
    for (int k = 0; k < n; k++)
        if (v[k] == x) return true;
    return false;
}

/* every data reader of x is a node of the match, and the result has x's type and shape */
static bool gelu_closed(const Graph *g, const GraphUses *u, ValueRef x, const Gelu *m) {
    for (int k = u->use_start[x.node]; k < u->use_start[x.node + 1]; k++) {
        const Node *r = g->nodes[u->use_node[k]];
        for (int i = 0; i < r->n_inputs; i++)
            if (same_ref(r->inputs[i], x) && !in_list(m->nodes, m->n, u->use_node[k])) return false;
    }
    const Value *out = &g->nodes[m->nodes[m->n - 1]]->outputs[0], *xv = graph_value(g, x);
    return out->dtype == DT_FLOAT && shape_equal(&out->shape, &xv->shape);
}

static bool match_gelu(const Graph *g, const GraphUses *u, ValueRef x, NnAct *act, Gelu *m) {
    for (int k = 0; k < g->n_outputs; k++)
        if (same_ref(g->outputs[k], x)) return false;
    if (!fuse_no_ctrl_readers(g, u, x.node)) return false;
    /* candidate tops: each Mul reading x, and the Muls above it that are the only reader of
       the one below (the product x * 0.5 * (1 + ...) grouped any way); the first that
       matches wins */
    for (int k = u->use_start[x.node]; k < u->use_start[x.node + 1]; k++) {
        int top = u->use_node[k];
        for (int steps = 0; steps < 4 && top >= 0 && g->nodes[top]->op == OP_MUL; steps++) {
            if (gelu_at(g, u, x, top, act, m) && gelu_closed(g, u, x, m)) return true;
            top = edit_only_reader(g, u, (ValueRef){top, 0}, NULL);
        }
    }
    return false;
}

bool fuse_match_act(const Graph *g, const GraphUses *u, ValueRef x, FuseHost h, FuseBase b, bool transpose_a,
                    FuseActMatch *m) {
    memset(m, 0, sizeof *m);
    int idx = -1;
    int r = edit_only_reader(g, u, x, &idx);
    if (r >= 0) {
        const Node *n = g->nodes[r];
        NnAct act = node_act(n);
        if (act != NN_ACT_NONE && n->n_inputs == 1 && idx == 0 && fuse_is_f32(g, (ValueRef){r, 0}) &&
            fuse_tf_allows(h, b, act, transpose_a)) {
            m->act = act;
            m->n = 1;
            m->nodes[0] = r;
            return true;
        }
        return false;
    }
    if (h != FUSE_MATMUL) return false;
    Gelu gm;
    NnAct act;
    if (!match_gelu(g, u, x, &act, &gm) || !fuse_tf_allows(h, b, act, transpose_a)) return false;
    m->act = act;
    m->n = gm.n;
    memcpy(m->nodes, gm.nodes, sizeof gm.nodes);
    return true;
}

bool fuse_site_add_act(Site *s, const FuseActMatch *m) {
    if (s->n + m->n > SITE_MAX_NODES) return false;
    for (int k = 0; k < m->n; k++) s->nodes[s->n++] = m->nodes[k];
    s->param = m->act;
    return true;
}

/* ---- bias ---- */

bool fuse_match_bias(const Graph *g, const GraphUses *u, ValueRef x, int *bias_node) {
    int idx = -1;
    int r = edit_only_reader(g, u, x, &idx);
    if (r < 0) return false;
    const Node *n = g->nodes[r];
    const Shape *xs = &graph_value(g, x)->shape;
    if (xs->rank < 1 || n->n_inputs != 2 || n->n_outputs < 1 || !fuse_is_f32(g, (ValueRef){r, 0})) return false;
    int64_t c = xs->dim[xs->rank - 1];
    *bias_node = r;
    if (n->op == OP_BIAS_ADD) {
        const Value *b = graph_value(g, n->inputs[1]);
        return idx == 0 && !strcmp(node_attr_s(n, "data_format", "NHWC"), "NHWC") && b->dtype == DT_FLOAT &&
               b->shape.rank == 1 && b->shape.dim[0] == c;
    }
    if (n->op != OP_ADD && n->op != OP_ADD_V2) return false;
    const Tensor *t = edit_known(g, n->inputs[1 - idx]);
    if (!t || t->dtype != DT_FLOAT || t->shape.rank < 1 || t->shape.rank > xs->rank ||
        t->shape.dim[t->shape.rank - 1] != c || tensor_numel(t) != c)
        return false;
    return shape_equal(&n->outputs[0].shape, xs);
}

int fuse_bias_input(Graph *g, int bias_node, ValueRef x, ValueRef *out, Err *err) {
    const Node *n = g->nodes[bias_node];
    ValueRef other = same_ref(n->inputs[0], x) ? n->inputs[1] : n->inputs[0];
    if (n->op == OP_BIAS_ADD || graph_value(g, other)->shape.rank == 1) {
        *out = other;
        return 0;
    }
    const Tensor *known = edit_known(g, other);
    if (!known) return err_set(err, ERR_RUNTIME, "the bias operand of '%s' is not a known constant", n->name);
    Tensor t = tensor_share(known);
    int64_t c = tensor_numel(&t);
    t.shape = shape_make(1, &c);
    char base[1024];
    snprintf(base, sizeof base, "%s/bias", n->name);
    int k = edit_add_const(g, base, &t, err);
    tensor_release(&t);
    if (k < 0) return -1;
    *out = (ValueRef){k, 0};
    return 0;
}

/* ---- writing the fused node ---- */

int fuse_add_node(Graph *g, FuseHost h, const Node *contraction, const ValueRef *in, int n_in, int last, Err *err) {
    int k = edit_add_node(g, g->nodes[last]->name, fuse_host_op(h), in, n_in, err);
    if (k < 0) return -1;
    if (contraction->device && node_set_device(g->nodes[k], contraction->device, err)) return -1;
    return k;
}

/* copies attribute `name`, or sets the ints `def` (count n) when the source has none */
static int copy_or_ints(Node *f, const Node *c, const char *name, const int64_t *def, int n, Err *err) {
    if (node_attr_find(c, name)) return edit_copy_attr(f, c, name, err);
    return node_set_attr_list_i(f, name, def, n, err);
}

int fuse_contraction_attrs(Node *f, FuseHost h, const Node *c, Err *err) {
    static const int64_t ones[4] = {1, 1, 1, 1};
    if (node_set_attr_type(f, "T", node_attr_type(c, "T", DT_FLOAT), err)) return -1;
    if (h == FUSE_MATMUL)
        return node_set_attr_b(f, "transpose_a", node_attr_b(c, "transpose_a", false), err) ||
                       node_set_attr_b(f, "transpose_b", node_attr_b(c, "transpose_b", false), err)
                   ? -1
                   : 0;
    if (edit_copy_attr(f, c, "strides", err) || edit_copy_attr(f, c, "padding", err) ||
        copy_or_ints(f, c, "dilations", ones, 4, err) ||
        node_set_attr_s(f, "data_format", node_attr_s(c, "data_format", "NHWC"), err))
        return -1;
    if (h == FUSE_DEPTHWISE) /* TF copies explicit_paddings only when the source has it */
        return edit_copy_attr(f, c, "explicit_paddings", err);
    return copy_or_ints(f, c, "explicit_paddings", NULL, 0, err) ||
                   node_set_attr_b(f, "use_cudnn_on_gpu", node_attr_b(c, "use_cudnn_on_gpu", true), err) ||
                   node_set_attr_i(f, "num_host_args", 0, err)
               ? -1
               : 0;
}

int fuse_set_epilogue(Node *n, FuseBase b, NnAct act, const Node *act_node, int num_args, float epsilon,
                      bool with_targs, Err *err) {
    const char *ops[3];
    int k = 0;
    ops[k++] = b == FUSE_BASE_BN ? "FusedBatchNorm" : "BiasAdd";
    if (b == FUSE_BASE_BIAS_ADD) ops[k++] = "Add";
    if (act != NN_ACT_NONE) ops[k++] = nn_act_name(act);
    if (node_set_attr_list_s(n, "fused_ops", ops, k, err) || node_set_attr_i(n, "num_args", num_args, err) ||
        node_set_attr_f(n, "epsilon", epsilon, err))
        return -1;
    if (act == NN_ACT_LEAKY_RELU && node_set_attr_f(n, "leakyrelu_alpha", node_attr_f(act_node, "alpha", 0.2f), err))
        return -1;
    if (with_targs) {
        int types[8];
        int t = node_attr_type(n, "T", DT_FLOAT);
        for (int i = 0; i < num_args && i < 8; i++) types[i] = t;
        if (node_set_attr_list_type(n, "TArgs", types, num_args < 8 ? num_args : 8, err)) return -1;
    }
    return 0;
}

int fuse_copy_all_attrs(Node *dst, const Node *src, Err *err) {
    for (int i = 0; i < src->n_attrs; i++)
        if (edit_copy_attr(dst, src, src->attrs[i].name, err)) return -1;
    return 0;
}

static bool in_site(const Site *s, int node) { return in_list(s->nodes, s->n, node); }

static bool has_ctrl(const Node *n, int c) { return in_list(n->ctrl, n->n_ctrl, c); }

int fuse_finish(Graph *g, int fused, int last, const Site *s, Err *err) {
    /* control inputs of everything absorbed now wait for the fused node */
    for (int k = 0; k < s->n; k++) {
        const Node *a = g->nodes[s->nodes[k]];
        for (int i = 0; i < a->n_ctrl; i++) {
            int c = a->ctrl[i];
            if (!in_site(s, c) && !has_ctrl(g->nodes[fused], c) && node_add_ctrl(g, fused, c, err)) return -1;
        }
    }
    if (edit_replace_uses(g, (ValueRef){last, 0}, (ValueRef){fused, 0}, err)) return -1;
    /* nodes that waited for the last absorbed node wait for the fused node */
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (i == fused) continue;
        for (int j = 0; j < n->n_ctrl; j++) {
            if (n->ctrl[j] != last) continue;
            if (has_ctrl(n, fused)) n->ctrl[j--] = n->ctrl[--n->n_ctrl];
            else n->ctrl[j] = fused;
        }
    }
    /* the fused node takes the name users fetch; the dying node keeps the fresh one */
    return graph_swap_names(g, last, fused, err);
}

/* ---- rules that grow an existing fused node ---- */

/* The parts of an existing fused node's epilogue; false for lists these rules leave alone
   (an activation already there, _FusedHardSwish, Prelu, NCHW convolutions). */
static bool grow_base(const Node *n, FuseHost *h, FusedSpec *sp, FuseBase *b) {
    if (!fuse_host_of(n, h) || n->n_outputs < 1) return false;
    if (nn_fused_spec(n, *h == FUSE_MATMUL ? FUSED_HOST_MATMUL : FUSED_HOST_CONV, sp, NULL)) return false;
    if (sp->act != NN_ACT_NONE) return false;
    if (*h != FUSE_MATMUL && strcmp(node_attr_s(n, "data_format", "NHWC"), "NHWC")) return false;
    *b = sp->batchnorm ? FUSE_BASE_BN : sp->add ? FUSE_BASE_BIAS_ADD : FUSE_BASE_BIAS;
    return sp->bias || sp->batchnorm;
}

static bool transposed_a(const Node *n) { return node_attr_b(n, "transpose_a", false); }

/* Adds a copy of the fused node `src` reading in[], its epilogue rewritten, and finishes. */
static int grow(Graph *g, const Site *s, FuseHost h, const ValueRef *in, int n_in, FuseBase b, Err *err) {
    const Node *src = g->nodes[s->nodes[0]];
    int last = s->nodes[s->n - 1];
    NnAct act = (NnAct)s->param;
    const Node *act_node = act == NN_ACT_LEAKY_RELU ? g->nodes[last] : NULL;
    int k = fuse_add_node(g, h, src, in, n_in, last, err);
    if (k < 0) return -1;
    Node *f = g->nodes[k];
    if (fuse_copy_all_attrs(f, src, err) ||
        fuse_set_epilogue(f, b, act, act_node, n_in - 2, node_attr_f(src, "epsilon", 0.0f),
                          node_attr_find(src, "TArgs") != NULL, err))
        return -1;
    /* the grown node computes last's value, not src's: src's calibrated range (calibrate.h; a
       residual Add's operand is calibrated) must not stand in for it - fuse_finish carries
       last's range over */
    calib_drop(f);
    return fuse_finish(g, k, last, s, err);
}

/* fuse_residual_add: fused_ops [BiasAdd] -> Add/AddV2 with a same-shaped tensor [-> act] */
static int residual_find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        FuseHost h;
        FusedSpec sp;
        FuseBase b;
        if (!grow_base(n, &h, &sp, &b) || b != FUSE_BASE_BIAS) continue;
        ValueRef y = {i, 0};
        int idx = -1;
        int r = edit_only_reader(g, u, y, &idx);
        if (r < 0 || !fuse_is_f32(g, y)) continue;
        const Node *a = g->nodes[r];
        if ((a->op != OP_ADD && a->op != OP_ADD_V2) || a->n_inputs != 2) continue;
        ValueRef res = a->inputs[1 - idx];
        const Shape *ys = &n->outputs[0].shape;
        if (!fuse_is_f32(g, res) || !shape_equal(&graph_value(g, res)->shape, ys) || !shape_equal(&a->outputs[0].shape, ys))
            continue;
        bool ta = h == FUSE_MATMUL && transposed_a(n);
        if (!fuse_tf_allows(h, FUSE_BASE_BIAS_ADD, NN_ACT_NONE, ta)) continue;
        Site s = {.n = 2, .nodes = {i, r}, .param = NN_ACT_NONE};
        FuseActMatch m;
        if (fuse_match_act(g, u, (ValueRef){r, 0}, h, FUSE_BASE_BIAS_ADD, ta, &m)) fuse_site_add_act(&s, &m);
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int residual_apply(Graph *g, const Site *s, Err *err) {
    const Node *n = g->nodes[s->nodes[0]], *a = g->nodes[s->nodes[1]];
    FuseHost h;
    if (!fuse_host_of(n, &h) || n->n_inputs != 3) return err_set(err, ERR_RUNTIME, "site is not a fused node with a bias");
    ValueRef in[4] = {n->inputs[0], n->inputs[1], n->inputs[2], a->inputs[0]};
    if (a->inputs[0].node == s->nodes[0]) in[3] = a->inputs[1];
    return grow(g, s, h, in, 4, FUSE_BASE_BIAS_ADD, err);
}

const RuleDef fuse_residual_add = {
    "fuse_residual_add", "fuse", RULE_EXACT | RULE_TF,
    "_FusedConv2D/_FusedMatMul [BiasAdd] + Add of a same-shaped tensor (+ activation) -> fused_ops [BiasAdd, Add(, act)]",
    residual_find, residual_apply,
};

/* fuse_activation: a fused node without an activation -> the activation that alone reads it */
static int activation_find(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        FuseHost h;
        FusedSpec sp;
        FuseBase b;
        if (!grow_base(n, &h, &sp, &b) || !fuse_is_f32(g, (ValueRef){i, 0})) continue;
        FuseActMatch m;
        if (!fuse_match_act(g, u, (ValueRef){i, 0}, h, b, h == FUSE_MATMUL && transposed_a(n), &m)) continue;
        Site s = {.n = 1, .nodes = {i}};
        if (fuse_site_add_act(&s, &m) && sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int activation_apply(Graph *g, const Site *s, Err *err) {
    const Node *n = g->nodes[s->nodes[0]];
    FuseHost h;
    FusedSpec sp;
    FuseBase b;
    if (!grow_base(n, &h, &sp, &b)) return err_set(err, ERR_RUNTIME, "site is not a fused node without activation");
    ValueRef in[8];
    if (n->n_inputs > 8) return err_set(err, ERR_RUNTIME, "fused node with %d inputs", n->n_inputs);
    memcpy(in, n->inputs, (size_t)n->n_inputs * sizeof *in);
    return grow(g, s, h, in, n->n_inputs, b, err);
}

const RuleDef fuse_activation = {
    "fuse_activation", "fuse", RULE_EXACT | RULE_TF,
    "_FusedConv2D/_FusedDepthwiseConv2dNative/_FusedMatMul without activation + the activation reading it -> activation appended to fused_ops",
    activation_find, activation_apply,
};
