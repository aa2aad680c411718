/* infer.c - the shape/dtype inference driver (graph_infer) and the helpers infer_<stem>
 * functions use. Nodes are visited in topological order; each op's own function (op table)
 * sets its outputs; small values whose inputs are known are folded through the runtime's
 * evaluator so shape arithmetic in real graphs (Shape -> StridedSlice -> Pack -> Reshape)
 * resolves to static shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"

int infer_set_out(Node *n, int port, int dtype, const Shape *shape, Err *err) {
    if (port >= n->n_outputs && node_set_num_outputs(n, port + 1, err)) return -1;
    Value *v = &n->outputs[port];
    tensor_release(&v->known);
    v->dtype = dtype;
    v->shape = *shape;
    return 0;
}

int infer_broadcast(const Shape *a, const Shape *b, Shape *out, Err *err) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    Shape s = {.rank = r};
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da == db || db == 1) s.dim[i] = da;
        else if (da == 1) s.dim[i] = db;
        else {
            char sa[96], sb[96];
            return err_set(err, ERR_INPUT, "shapes %s and %s cannot be broadcast", shape_str(a, sa, sizeof sa),
                           shape_str(b, sb, sizeof sb));
        }
    }
    *out = s;
    return 0;
}

int infer_axis(int64_t axis, int rank, int *out, Err *err) {
    if (axis < -rank || axis >= rank)
        return err_set(err, ERR_INPUT, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

int infer_known_i64(const Graph *g, const Node *n, int i, int64_t *out, int cap, Err *err) {
    const Value *v = node_input_value(g, n, i);
    if (!tensor_has_data(&v->known)) {
        char buf[300];
        return err_set(err, ERR_INPUT, "input %d ('%s') must be known before running (a constant), but it is computed at run time",
                       i, graph_ref_name(g, n->inputs[i], buf, sizeof buf));
    }
    int count = tensor_to_i64(&v->known, out, cap, err);
    if (count < 0) return err_prefix(err, "input %d", i);
    return count;
}

int infer_window(int64_t in, int64_t k, int64_t stride, int64_t dilation, const char *padding,
                 int64_t explicit_before, int64_t explicit_after, int64_t *out, int64_t *pad_before, Err *err) {
    if (k <= 0 || stride <= 0 || dilation <= 0)
        return err_set(err, ERR_INPUT, "window %lld, stride %lld, dilation %lld must all be positive", (long long)k,
                       (long long)stride, (long long)dilation);
    if (k - 1 > (INT64_MAX / 4) / dilation)
        return err_set(err, ERR_INPUT, "window %lld with dilation %lld is too large", (long long)k, (long long)dilation);
    int64_t eff = (k - 1) * dilation + 1;
    if (!strcmp(padding, "VALID")) {
        if (in < eff) return err_set(err, ERR_INPUT, "window of %lld is larger than the input (%lld) with VALID padding", (long long)eff, (long long)in);
        *out = (in - eff) / stride + 1;
        *pad_before = 0;
    } else if (!strcmp(padding, "SAME")) {
        *out = (in + stride - 1) / stride;
        int64_t total = (*out - 1) * stride + eff - in;
        if (total < 0) total = 0;
        *pad_before = total / 2;
    } else if (!strcmp(padding, "EXPLICIT")) {
        if (explicit_before < 0 || explicit_after < 0) return err_set(err, ERR_INPUT, "negative explicit padding");
        int64_t padded = in + explicit_before + explicit_after;
        if (padded < eff) return err_set(err, ERR_INPUT, "window of %lld is larger than the padded input (%lld)", (long long)eff, (long long)padded);
        *out = (padded - eff) / stride + 1;
        *pad_before = explicit_before;
    } else {
        return err_set(err, ERR_INPUT, "unknown padding '%s' (SAME, VALID or EXPLICIT)", padding);
    }
    return 0;
}

/* outputs of a node that cannot be inferred (unknown op or unknown inputs): dtype from the
   conventional "T" / "dtype" attribute, unknown shape */
static void mark_unknown(Node *n) {
    /* a known op has at least one output (NoOp aside) even when nothing reads it yet */
    if (n->n_outputs == 0 && n->op != OP_UNKNOWN && n->op != OP_NO_OP) node_set_num_outputs(n, 1, NULL);
    int dt = node_attr_type(n, "T", node_attr_type(n, "dtype", DT_INVALID));
    for (int k = 0; k < n->n_outputs; k++) {
        tensor_release(&n->outputs[k].known);
        n->outputs[k].dtype = dt;
        n->outputs[k].shape = shape_unknown();
    }
}

static int apply_spec(Node *n, const InputSpec *spec, Err *err) {
    Value *v = &n->outputs[0];
    char a[96], b[96];
    Shape decl = shape_unknown();
    const Attr *sa = node_attr_find(n, "shape");
    if (sa && sa->kind == ATTR_SHAPE) decl = sa->shape;
    if (decl.rank >= 0) {
        if (decl.rank != spec->shape.rank)
            return err_set(err, ERR_INPUT, "input '%s': shape %s does not match the placeholder's %s", n->name,
                           shape_str(&spec->shape, a, sizeof a), shape_str(&decl, b, sizeof b));
        for (int i = 0; i < decl.rank; i++)
            if (decl.dim[i] >= 0 && decl.dim[i] != spec->shape.dim[i])
                return err_set(err, ERR_INPUT, "input '%s': shape %s does not match the placeholder's %s", n->name,
                               shape_str(&spec->shape, a, sizeof a), shape_str(&decl, b, sizeof b));
    }
    if (!shape_is_known(&spec->shape))
        return err_set(err, ERR_INPUT, "input '%s': shape %s has unknown dimensions", n->name, shape_str(&spec->shape, a, sizeof a));
    if (spec->dtype != DT_INVALID && spec->dtype != v->dtype)
        return err_set(err, ERR_INPUT, "input '%s' has dtype %s, got %s", n->name, dtype_name(v->dtype), dtype_name(spec->dtype));
    v->shape = spec->shape;
    return 0;
}

static void try_fold(Graph *g, int idx, NodeEvalFn eval, void *ctx) {
    Node *n = g->nodes[idx];
    if (!eval || n->op == OP_PLACEHOLDER || n->op == OP_CONST || n->op == OP_NO_OP || n->n_outputs == 0) return;
    if (op_def(n->op)->flags & (OPF_CONTROL | OPF_DEADNESS)) return; /* a loop may be long or never end: run time only */
    for (int k = 0; k < n->n_inputs; k++)
        if (!tensor_has_data(&node_input_value(g, n, k)->known)) return;
    for (int k = 0; k < n->n_outputs; k++) {
        if (tensor_has_data(&n->outputs[k].known)) return; /* the op's infer already knows it */
        int64_t e = shape_numel(&n->outputs[k].shape);
        if (e < 0 || e > GRAPH_FOLD_MAX_ELEMS || !dtype_is_supported(n->outputs[k].dtype)) return;
    }
    Tensor in[64], out[64];
    if (n->n_inputs > 64 || n->n_outputs > 64) return;
    for (int k = 0; k < n->n_inputs; k++) in[k] = node_input_value(g, n, k)->known;
    Err e;
    /* a kernel failing here (say an out-of-range gather) fails again, with its message, at run
       time; inference just leaves the value unknown */
    if (eval(ctx, g, idx, in, out, &e)) return;
    for (int k = 0; k < n->n_outputs; k++) n->outputs[k].known = out[k];
}

/* p's own inference ran (its inputs were all known), rather than p being marked unknown */
static bool producer_inferred(const Graph *g, const Node *p) {
    for (int k = 0; k < p->n_inputs; k++) {
        const Value *v = node_input_value(g, p, k);
        if (!shape_is_known(&v->shape) || !dtype_is_supported(v->dtype)) return false;
    }
    return true;
}

static int infer_one(Graph *g, int idx, const InputSpec *spec, NodeEvalFn eval, void *ctx, Err *err) {
    Node *n = g->nodes[idx];
    for (int k = 0; k < n->n_inputs; k++) {
        ValueRef v = n->inputs[k];
        const Node *p = g->nodes[v.node];
        if (graph_is_back_edge(g, v.node, n)) continue; /* inferred after n (a TF1 loop's NextIteration) */
        if (v.port >= p->n_outputs)
            return err_set(err, ERR_INPUT, "node '%s': input %d reads output %d of '%s' (%s), which has %d output(s)", n->name, k,
                           v.port, p->name, p->op_name, p->n_outputs);
        /* the loader gives a node as many outputs as its readers name ('x:99'); a known op whose
           inference ran and left that port unset does not produce it */
        const Value *pv = &p->outputs[v.port];
        if (v.port > 0 && p->op != OP_UNKNOWN && pv->dtype == DT_INVALID && pv->shape.rank < 0 && producer_inferred(g, p))
            return err_set(err, ERR_INPUT, "node '%s': input %d reads output %d of '%s' (%s), which does not produce it", n->name,
                           k, v.port, p->name, p->op_name);
    }
    if (n->op == OP_UNKNOWN) { mark_unknown(n); return 0; }
    const OpDef *d = op_def(n->op);
    if (n->n_inputs < d->min_inputs || (d->max_inputs >= 0 && n->n_inputs > d->max_inputs))
        return err_set(err, ERR_INPUT, "node '%s' (%s) has %d inputs, expected %d%s", n->name, n->op_name, n->n_inputs,
                       d->min_inputs, d->max_inputs == d->min_inputs ? "" : " or more");
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = node_input_value(g, n, k);
        if (graph_is_back_edge(g, n->inputs[k].node, n)) continue; /* a TF1 loop's next iteration: infer_ctrl.c */
        /* a While/If/Case takes its outputs' dtypes and shapes from its attributes, whatever is
           known of its inputs (a TensorListStack's unknown shape feeding a TF2 cond) */
        if ((d->flags & OPF_CONTROL) && (k > 0 || (n->op != OP_CASE && n->op != OP_STATELESS_CASE))) continue;
        if (!shape_is_known(&v->shape) || !dtype_is_supported(v->dtype)) {
            mark_unknown(n);
            /* an Identity of a value whose size is known only at run time (Where's [?, 2]) is
               that value: keep what is known of it */
            if ((n->op == OP_IDENTITY || n->op == OP_STOP_GRADIENT || n->op == OP_PLACEHOLDER_WITH_DEFAULT) && n->n_outputs == 1 && k == 0) {
                n->outputs[0].dtype = v->dtype;
                n->outputs[0].shape = v->shape;
            }
            return 0;
        }
    }
    if (d->infer(g, n, err)) return err_prefix(err, "node '%s' (%s)", n->name, n->op_name);
    if (spec && apply_spec(n, spec, err)) return -1;
    for (int k = 0; k < n->n_outputs; k++) {
        const Value *v = &n->outputs[k];
        int64_t e = shape_numel(&v->shape);
        if (e == -2 || (e > 0 && dtype_size(v->dtype) && (uint64_t)e > TENSOR_MAX_BYTES / dtype_size(v->dtype))) {
            char sb[96];
            return err_set(err, ERR_INPUT, "node '%s' (%s): output %d of shape %s is absurdly large", n->name, n->op_name, k,
                           shape_str(&v->shape, sb, sizeof sb));
        }
    }
    try_fold(g, idx, eval, ctx);
    return 0;
}

int graph_infer_node(Graph *g, int node, NodeEvalFn eval, void *eval_ctx, Err *err) {
    return infer_one(g, node, NULL, eval, eval_ctx, err);
}

int graph_infer(Graph *g, const InputSpec *specs, int n_specs, NodeEvalFn eval, void *eval_ctx, Err *err) {
    int n = g->n_nodes;
    const InputSpec **spec_of = calloc((size_t)n + 1, sizeof *spec_of);
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    int rc = -1;
    if (!spec_of || !order) { err_set(err, ERR_RUNTIME, "out of memory"); goto done; }
    for (int s = 0; s < n_specs; s++) {
        char name[1024];
        snprintf(name, sizeof name, "%s", specs[s].name);
        size_t len = strlen(name);
        if (len > 2 && !strcmp(name + len - 2, ":0")) name[len - 2] = 0;
        int i = graph_find(g, name);
        if (i < 0 || g->nodes[i]->op != OP_PLACEHOLDER) {
            err_set(err, ERR_INPUT, "input '%s' names no placeholder in the graph", specs[s].name);
            goto done;
        }
        spec_of[i] = &specs[s];
    }
    if (graph_topo_order(g, order, err)) goto done;
    for (int k = 0; k < n; k++)
        if (infer_one(g, order[k], spec_of[order[k]], eval, eval_ctx, err)) goto done;
    for (int k = 0; k < g->n_outputs; k++) {
        ValueRef v = g->outputs[k];
        if (v.port >= g->nodes[v.node]->n_outputs) {
            err_set(err, ERR_INPUT, "graph output '%s:%d' does not exist", g->nodes[v.node]->name, v.port);
            goto done;
        }
    }
    rc = 0;
done:
    free(spec_of);
    free(order);
    return rc;
}

int graph_reinfer(Graph *g, NodeEvalFn eval, void *eval_ctx, Err *err) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->op == OP_PLACEHOLDER;
    InputSpec *specs = calloc((size_t)n + 1, sizeof *specs);
    if (!specs) return err_set(err, ERR_RUNTIME, "out of memory");
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *nd = g->nodes[i];
        if (nd->op != OP_PLACEHOLDER || nd->n_outputs < 1 || !shape_is_known(&nd->outputs[0].shape)) continue;
        specs[k++] = (InputSpec){nd->name, nd->outputs[0].shape, DT_INVALID};
    }
    int rc = graph_infer(g, specs, k, eval, eval_ctx, err);
    free(specs);
    return rc;
}
