/* rules_quant_bf16.c - bf16_compute: a float32 Conv2D / _FusedConv2D / MatMul / _FusedMatMul /
 * BatchMatMulV2 computes in bfloat16 with stock TensorFlow ops only (docs/ops.md, "bfloat16 /
 * float16 compute"):
 *
 *   x -> Cast(float -> bfloat16) --\
 *   W (Const float) => Const bf16 --+-> Op(T = bfloat16) -> Cast(bfloat16 -> float) -> readers
 *
 * Every float32 input becomes bfloat16: Consts are converted (round to nearest even; a new
 * Const, the old one stays for its other readers), other values get a Cast. The Cast back to
 * float32 takes the node's name (users fetch by name) and its calibration attributes; the node
 * itself is renamed "<name>/bf16". Error: each operand rounded to 8 significant bits, products
 * accumulated in float32, the result rounded to bfloat16 once.
 *
 * cast_pair (simplify, exact): Cast(float -> T)(Cast(T -> float)(x)) with T bfloat16 or float16
 * is x - widening is exact and rounding an exactly representable value gives it back - so
 * two adjacent bf16 nodes pass bfloat16 directly instead of a float round trip. */
#include <stdio.h>
#include <string.h>

#include "calibrate.h"
#include "edit.h"
#include "fold_util.h"
#include "rules_quant.h"

#define BF16_MAX_INPUTS 16

static bool bf16_host(const Node *n, FusedHost *host) {
    switch (n->op) {
    case OP_CONV2D:
    case OP_FUSED_CONV2D: *host = FUSED_HOST_CONV; return true;
    case OP_MATMUL:
    case OP_FUSED_MATMUL:
    case OP_BATCH_MATMUL_V2: *host = FUSED_HOST_MATMUL; return true;
    default: return false;
    }
}

static bool bf16_site(const Graph *g, int i) {
    const Node *n = g->nodes[i];
    FusedHost host;
    if (!bf16_host(n, &host) || n->n_outputs != 1 || n->n_inputs > BF16_MAX_INPUTS || !quant_node_f32(g, n)) return false;
    if (!quant_is_f32(g, (ValueRef){i, 0}, -1)) return false;
    for (int k = 0; k < n->n_inputs; k++)
        if (!quant_is_f32(g, n->inputs[k], -1)) return false;
    FusedSpec spec;
    return !quant_is_fused(n) || nn_fused_spec(n, host, &spec, NULL) == 0;
}

static int find_bf16(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (!bf16_site(g, i)) continue;
        Site s = {.n = 1, .nodes = {i}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int add_cast(Graph *g, const char *base, ValueRef x, int src, int dst, const Node *like, Err *err) {
    int c = edit_add_node(g, base, "Cast", &x, 1, err);
    if (c < 0) return -1;
    Node *n = g->nodes[c];
    if (node_set_attr_type(n, "SrcT", src, err) || node_set_attr_type(n, "DstT", dst, err) ||
        node_set_attr_b(n, "Truncate", false, err) || (like->device && node_set_device(n, like->device, err)))
        return -1;
    return c;
}

/* a bfloat16 copy of float Const t, named after base */
static int add_bf16_const(Graph *g, const char *base, const Tensor *t, Err *err) {
    Tensor b;
    if (tensor_alloc(&b, DT_BFLOAT16, &t->shape, err)) return -1;
    const float *x = tensor_data(t);
    uint16_t *y = tensor_mut(&b);
    for (int64_t i = 0, n_el = tensor_numel(t); i < n_el; i++) y[i] = float_to_bfloat16(x[i]);
    int c = edit_add_const(g, base, &b, err);
    tensor_release(&b);
    return c;
}

static int apply_bf16(Graph *g, const Site *s, Err *err) {
    int a = s->nodes[0];
    char base[1100];
    int n_in = g->nodes[a]->n_inputs;
    ValueRef orig[BF16_MAX_INPUTS];
    memcpy(orig, g->nodes[a]->inputs, (size_t)n_in * sizeof *orig);
    for (int k = 0; k < n_in; k++) {
        ValueRef v = orig[k];
        /* the same value read twice (BatchMatMulV2(x, x)) shares one conversion */
        int same = -1;
        for (int j = 0; j < k && same < 0; j++)
            if (orig[j].node == v.node && orig[j].port == v.port) same = j;
        if (same >= 0) {
            g->nodes[a]->inputs[k] = g->nodes[a]->inputs[same];
            continue;
        }
        const Tensor *t = quant_const_f32(g, v);
        int c;
        if (t) {
            snprintf(base, sizeof base, "%s/bf16", g->nodes[v.node]->name);
            c = add_bf16_const(g, base, t, err);
        } else {
            snprintf(base, sizeof base, "%s/to_bf16", g->nodes[a]->name);
            c = add_cast(g, base, v, DT_FLOAT, DT_BFLOAT16, g->nodes[a], err);
        }
        if (c < 0) return -1;
        g->nodes[a]->inputs[k] = (ValueRef){c, 0};
    }
    Node *n = g->nodes[a];
    if (node_set_attr_type(n, "T", DT_BFLOAT16, err)) return -1;
    const AttrList *targs = node_attr_list(n, "TArgs");
    if (targs && targs->kind == ATTR_TYPE) {
        int types[16], cnt = targs->n < 16 ? targs->n : 16;
        for (int k = 0; k < cnt; k++) types[k] = DT_BFLOAT16;
        if (node_set_attr_list_type(n, "TArgs", types, cnt, err)) return -1;
    }
    /* the Cast back takes the name; the node becomes "<name>/bf16" */
    char old[1024], fresh[1200];
    snprintf(old, sizeof old, "%s", n->name);
    snprintf(base, sizeof base, "%s/bf16", old);
    if (graph_rename_node(g, a, edit_unique_name(g, base, fresh, sizeof fresh), err)) return -1;
    int back = add_cast(g, old, (ValueRef){a, 0}, DT_BFLOAT16, DT_FLOAT, g->nodes[a], err);
    if (back < 0) return -1;
    n = g->nodes[a];
    if (edit_copy_attr(g->nodes[back], n, CALIB_ATTR_MIN, err) || edit_copy_attr(g->nodes[back], n, CALIB_ATTR_MAX, err))
        return -1;
    node_attr_remove(n, CALIB_ATTR_MIN);
    node_attr_remove(n, CALIB_ATTR_MAX);
    return edit_replace_uses(g, (ValueRef){a, 0}, (ValueRef){back, 0}, err);
}

const RuleDef bf16_compute = {
    .name = "bf16_compute",
    .family = "quantize",
    .flags = RULE_PRECISION | RULE_BF16, /* not RULE_TF: TensorFlow 2.20 refuses _FusedConv2D with T=bfloat16 (tests/test_target_tf.c) */
    .doc = "float32 Conv2D/_FusedConv2D/MatMul/_FusedMatMul/BatchMatMulV2 => T=bfloat16 with Cast(f32->bf16) on "
           "activations, bf16 Const weights/args, Cast(bf16->f32) after (stock ops): changes numerics",
    .find = find_bf16,
    .apply = apply_bf16,
};

/* ---- cast_pair ---- */

static bool is_cast(const Node *n, int src, int dst) {
    return n->op == OP_CAST && n->n_inputs == 1 && node_attr_type(n, "SrcT", DT_INVALID) == src &&
           node_attr_type(n, "DstT", DT_INVALID) == dst;
}

static bool cast_pair_site(const Graph *g, const GraphUses *u, int i) {
    const Node *outer = g->nodes[i];
    if (outer->op != OP_CAST) return false;
    int t = node_attr_type(outer, "DstT", DT_INVALID);
    if (t != DT_BFLOAT16 && t != DT_HALF) return false;
    if (!is_cast(outer, DT_FLOAT, t)) return false;
    const Node *inner = g->nodes[outer->inputs[0].node];
    if (!is_cast(inner, t, DT_FLOAT) || node_input_value(g, inner, 0)->dtype != t) return false;
    /* the outer Cast's value disappears: not fetched, no control readers */
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k].node == i) return false;
    return !fold_has_ctrl_readers(g, u, i);
}

static int find_cast_pair(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (!cast_pair_site(g, u, i)) continue;
        Site s = {.n = 2, .nodes = {i, g->nodes[i]->inputs[0].node}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_cast_pair(Graph *g, const Site *s, Err *err) {
    ValueRef x = g->nodes[s->nodes[1]]->inputs[0];
    return edit_replace_uses(g, (ValueRef){s->nodes[0], 0}, x, err);
}

const RuleDef cast_pair = {
    .name = "cast_pair",
    .family = "simplify",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Cast(float->T)(Cast(T->float)(x)), T bfloat16 or float16 => x (exact: the widening is exact)",
    .find = find_cast_pair,
    .apply = apply_cast_pair,
};
