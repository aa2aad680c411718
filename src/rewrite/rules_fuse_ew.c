/* rules_fuse_ew.c - fuse_elementwise_chain: a maximal chain of >= 2 float32 elementwise ops
 * (Relu, Relu6, Sigmoid, Tanh, Neg, Abs, Square, Sqrt, Rsqrt, Exp, Log, Erf and the binary
 * Add/AddV2, Sub, Mul, RealDiv, Maximum, Minimum) => one GrappoFusedElementwise (docs/ops.md).
 *
 * Chain: o1 -> o2 -> ... -> ok, each o(j) reading o(j-1)'s output as its "chain input", every
 * op producing float32 of the same shape S as the chain input x0 of o1. A binary op's other
 * input is an operand (any tensor broadcasting to S without changing it; may be x0 itself);
 * a binary op whose chain input is its second input becomes RSub / RDiv (Add, Mul, Max, Min
 * commute). Every intermediate o1..o(k-1) is read only by the next op (edit_single_use: no
 * other reader, not a graph output, no control readers); no op of the chain has control
 * inputs. The last op may have any readers: it is turned in place into the fused node, so it
 * keeps its name, device and control dependents (what TF users fetch keeps working).
 *
 * Maximal: a site starts at a head, an op no eligible predecessor continues into; the chain
 * then follows single readers forward, up to SITE_MAX_NODES ops (a longer tail is fused by a
 * later application, once the fused node has become the tail's predecessor). An op with two
 * eligible predecessors (Add(Relu(a), Relu(b))) is reached from both: two alternative sites.
 * Site: nodes[0] = the last op (the anchor), nodes[1..] = o1..o(k-1) in chain order.
 * Exact: the fused op rounds to float32 after every step, as the unfused reference kernels do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../graph/fused_ew.h"
#include "edit.h"
#include "rule.h"

/* the step of an eligible op; chain_input_second: the chain value is input 1 */
static int op_kind(OpId op, bool chain_input_second) {
    switch (op) {
    case OP_RELU: return FEW_RELU;
    case OP_RELU6: return FEW_RELU6;
    case OP_SIGMOID: return FEW_SIGMOID;
    case OP_TANH: return FEW_TANH;
    case OP_NEG: return FEW_NEG;
    case OP_ABS: return FEW_ABS;
    case OP_SQUARE: return FEW_SQUARE;
    case OP_SQRT: return FEW_SQRT;
    case OP_RSQRT: return FEW_RSQRT;
    case OP_EXP: return FEW_EXP;
    case OP_LOG: return FEW_LOG;
    case OP_ERF: return FEW_ERF;
    case OP_ADD: case OP_ADD_V2: return FEW_ADD;
    case OP_SUB: return chain_input_second ? FEW_RSUB : FEW_SUB;
    case OP_MUL: return FEW_MUL;
    case OP_REAL_DIV: return chain_input_second ? FEW_RDIV : FEW_DIV;
    case OP_MAXIMUM: return FEW_MAX;
    case OP_MINIMUM: return FEW_MIN;
    default: return -1;
    }
}

static bool is_binary_op(OpId op) { return op_kind(op, false) >= FEW_FIRST_BINARY; }

/* an op that can be a chain member: eligible op, one float32 output, all inputs float32, no
   control inputs */
static bool eligible(const Graph *g, int node) {
    const Node *n = g->nodes[node];
    if (op_kind(n->op, false) < 0 || n->n_ctrl != 0 || n->n_outputs != 1) return false;
    if (n->outputs[0].dtype != DT_FLOAT || n->outputs[0].shape.rank < 0) return false;
    int want = is_binary_op(n->op) ? 2 : 1;
    if (n->n_inputs != want) return false;
    for (int i = 0; i < n->n_inputs; i++)
        if (node_input_value(g, n, i)->dtype != DT_FLOAT) return false;
    return true;
}

/* input `i` of eligible node can be its chain input: same shape as the output (so the other
   input, if any, broadcasts to it without changing it) */
static bool chain_input_ok(const Graph *g, int node, int i) {
    const Node *n = g->nodes[node];
    return shape_equal(&node_input_value(g, n, i)->shape, &n->outputs[0].shape);
}

/* eligible with a valid chain input: can sit anywhere in a chain */
static bool member(const Graph *g, int node) {
    if (!eligible(g, node)) return false;
    for (int i = 0; i < g->nodes[node]->n_inputs; i++)
        if (chain_input_ok(g, node, i)) return true;
    return false;
}

/* the reader r that `node` continues into (node a member, its output read only by r, as r's
   chain input), or -1; *at receives the input index of r reading it. A node without a valid
   chain input (Add([4,1], [1,3])) continues into nothing: it starts no chain, so the op after
   it must be free to start one. */
static int continues_into(const Graph *g, const GraphUses *u, int node, int *at) {
    if (!member(g, node)) return -1;
    int i = -1;
    int r = edit_only_reader(g, u, (ValueRef){node, 0}, &i);
    if (r < 0 || !eligible(g, r) || !chain_input_ok(g, r, i)) return -1;
    if (at) *at = i;
    return r;
}

/* node can start a chain: it has a valid chain input and no eligible predecessor continues
   into it (else the chain would be a sub-chain of a longer one) */
static bool is_head(const Graph *g, const GraphUses *u, int node) {
    if (!member(g, node)) return false;
    const Node *n = g->nodes[node];
    for (int i = 0; i < n->n_inputs; i++) {
        int at;
        if (continues_into(g, u, n->inputs[i].node, &at) == node && at == i) return false;
    }
    return true;
}

/* the chain starting at head, into nodes[] (chain order); returns its length */
static int walk(const Graph *g, const GraphUses *u, int head, int *nodes) {
    int k = 0;
    nodes[k++] = head;
    int at;
    for (int r = continues_into(g, u, head, &at); r >= 0 && k < SITE_MAX_NODES; r = continues_into(g, u, r, &at))
        nodes[k++] = r;
    return k;
}

static int find_chain(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    for (int i = 0; i < g->n_nodes; i++) {
        if (!is_head(g, u, i)) continue;
        int chain[SITE_MAX_NODES];
        int k = walk(g, u, i, chain);
        if (k < 2) continue;
        Site s = {.n = k};
        s.nodes[0] = chain[k - 1];
        for (int j = 0; j < k - 1; j++) s.nodes[j + 1] = chain[j];
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static bool same_ref(ValueRef a, ValueRef b) { return a.node == b.node && a.port == b.port; }

/* index of v among in[0..*n_in) (operands only: from 1), appending it if new */
static int operand_index(ValueRef *in, int *n_in, ValueRef v) {
    for (int k = 1; k < *n_in; k++)
        if (same_ref(in[k], v)) return k;
    in[(*n_in)++] = v;
    return *n_in - 1;
}

static int apply_chain(Graph *g, const Site *s, Err *err) {
    int k = s->n, chain[SITE_MAX_NODES];
    for (int j = 0; j < k - 1; j++) chain[j] = s->nodes[j + 1];
    chain[k - 1] = s->nodes[0];
    ValueRef in[SITE_MAX_NODES + 1];
    int n_in = 1;
    char step_buf[SITE_MAX_NODES][24];
    const char *steps[SITE_MAX_NODES];
    for (int j = 0; j < k; j++) {
        const Node *n = g->nodes[chain[j]];
        int ci = 0; /* the chain input of op j */
        if (j == 0) {
            ci = chain_input_ok(g, chain[0], 0) ? 0 : 1;
            in[0] = n->inputs[ci];
        } else {
            while (ci < n->n_inputs && n->inputs[ci].node != chain[j - 1]) ci++;
            if (ci == n->n_inputs) return err_set(err, ERR_RUNTIME, "fuse_elementwise_chain: the chain is broken at '%s'", n->name);
        }
        int kind = op_kind(n->op, ci == 1);
        if (kind < FEW_FIRST_BINARY) {
            snprintf(step_buf[j], sizeof step_buf[j], "%s", few_kind_name((FewKind)kind));
        } else {
            int idx = operand_index(in, &n_in, n->inputs[1 - ci]);
            snprintf(step_buf[j], sizeof step_buf[j], "%s:%d", few_kind_name((FewKind)kind), idx);
        }
        steps[j] = step_buf[j];
    }
    /* turn the last op into the fused node in place: name, device and control dependents stay */
    Node *last = g->nodes[chain[k - 1]];
    char *op = strdup("GrappoFusedElementwise");
    if (!op) return err_set(err, ERR_RUNTIME, "out of memory");
    free(last->op_name);
    last->op_name = op;
    last->op = OP_GRAPPO_FUSED_ELEMENTWISE;
    last->n_inputs = 0;
    for (int j = 0; j < n_in; j++)
        if (node_add_input(g, chain[k - 1], in[j], err)) return -1;
    while (last->n_attrs > 0) node_attr_remove(last, last->attrs[0].name);
    if (node_set_attr_type(last, "T", DT_FLOAT, err) || node_set_attr_list_s(last, "program", steps, k, err)) return -1;
    return 0;
}

const RuleDef fuse_elementwise_chain = {
    .name = "fuse_elementwise_chain",
    .family = "fuse",
    .flags = RULE_EXACT,
    .doc = "a chain of >= 2 float32 elementwise ops (unary, or binary with a broadcast operand) -> GrappoFusedElementwise",
    .find = find_chain,
    .apply = apply_chain,
};
