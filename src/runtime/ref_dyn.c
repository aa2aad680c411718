/* ref_dyn.c - running a node whose output shapes were not known before the run: the
 * outputs of data-dependent ops (Where, NonMaxSuppression, TopK with a computed k, Range of
 * computed bounds) and everything downstream of them.
 *
 * Such a node's shapes are inferred again from the actual input tensors: a scratch graph
 * holds one stand-in node per input (its dtype, shape and, for tensors of at most
 * GRAPH_FOLD_MAX_ELEMS elements, its value) and a copy of the node, and the op's own
 * inference runs on it. Outputs that become known are allocated as usual; outputs still unknown
 * (Where's count, the boxes NMS keeps) are left without a buffer and the OPF_DYNAMIC kernel
 * allocates them (ref_dyn_output). The kernel runs on the copy, whose outputs carry the real
 * shapes. The reference executor and the fast runtime's dynamic steps both run nodes this way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"

int ref_dyn_output(const Node *n, Tensor *out, int dtype, const Shape *shape, Err *err) {
    char a[96], b[96];
    if (!out->buf) {
        if (tensor_alloc(out, dtype, shape, err)) return err_prefix(err, "%s output", n->op_name);
        return 0;
    }
    if (out->dtype != dtype || shape_numel(&out->shape) != shape_numel(shape))
        return err_set(err, ERR_RUNTIME, "%s: output is %s but the prepared one is %s", n->op_name, shape_str(shape, a, sizeof a),
                       shape_str(&out->shape, b, sizeof b));
    out->shape = *shape;
    return 0;
}

bool ref_node_is_dynamic(const Node *n) {
    if (n->op == OP_PLACEHOLDER || n->op == OP_CONST || n->op == OP_NO_OP) return false;
    if (op_def(n->op)->flags & OPF_CONTROL) return true; /* runs bodies: ref_ctrl.c */
    for (int k = 0; k < n->n_outputs; k++)
        if (!tensor_has_data(&n->outputs[k].known) && !shape_is_known(&n->outputs[k].shape)) return true;
    return false;
}

/* the scratch graph: inputs as stand-ins, then a copy of n (index n_inputs) */
static Graph *scratch_graph(const Node *n, const Tensor *in, Err *err) {
    Graph *s = graph_new();
    if (!s) { err_set(err, ERR_RUNTIME, "out of memory"); return NULL; }
    for (int k = 0; k < n->n_inputs; k++) {
        char name[32];
        snprintf(name, sizeof name, "\x01input%d", k);
        int i = graph_add_node(s, name, "Placeholder", err);
        if (i < 0 || node_set_num_outputs(s->nodes[i], 1, err)) goto fail;
        Value *v = &s->nodes[i]->outputs[0];
        v->dtype = in[k].dtype;
        v->shape = in[k].shape;
        if (tensor_has_data(&in[k]) && tensor_numel(&in[k]) <= GRAPH_FOLD_MAX_ELEMS) v->known = tensor_share(&in[k]);
    }
    int t = graph_add_node(s, n->name, n->op_name, err);
    if (t < 0) goto fail;
    Node *c = s->nodes[t];
    for (int k = 0; k < n->n_inputs; k++)
        if (node_add_input(s, t, (ValueRef){k, 0}, err)) goto fail;
    if (n->n_attrs) {
        c->attrs = calloc((size_t)n->n_attrs, sizeof *c->attrs);
        if (!c->attrs) { err_set(err, ERR_RUNTIME, "out of memory"); goto fail; }
        for (int a = 0; a < n->n_attrs; a++) {
            if (attr_copy(&c->attrs[a], &n->attrs[a], err)) goto fail;
            c->n_attrs++;
        }
    }
    if (node_set_num_outputs(c, n->n_outputs, err)) goto fail;
    return s;
fail:
    graph_free(s);
    return NULL;
}

int ref_dyn_eval_node(const Graph *g, int node, const Tensor *in, Tensor *out, Err *err) {
    const Node *n = g->nodes[node];
    if (op_def(n->op)->flags & OPF_CONTROL) return ref_ctrl_eval(g, node, in, out, err);
    if (!ref_node_is_dynamic(n)) return ref_eval_node(NULL, g, node, in, out, err);
    return ref_reinfer_eval_node(g, node, in, out, err);
}

int ref_reinfer_eval_node(const Graph *g, int node, const Tensor *in, Tensor *out, Err *err) {
    const Node *n = g->nodes[node];
    if (n->op == OP_UNKNOWN || !ref_kernels[n->op])
        return err_set(err, ERR_RUNTIME, "node '%s': op %s is not supported by the reference runtime", n->name, n->op_name);
    for (int k = 0; k < n->n_inputs; k++)
        if (!shape_is_known(&in[k].shape))
            return err_set(err, ERR_RUNTIME, "node '%s' (%s): input %d has no shape", n->name, n->op_name, k);
    Graph *s = scratch_graph(n, in, err);
    if (!s) return err_prefix(err, "node '%s' (%s)", n->name, n->op_name);
    int t = n->n_inputs, rc = -1;
    Node *c = s->nodes[t];
    if (graph_infer_node(s, t, NULL, NULL, err)) { /* its message names the node already */
        graph_free(s);
        return -1;
    }
    bool dyn_op = (op_def(n->op)->flags & OPF_DYNAMIC) != 0;
    /* inference may give the copy more outputs than the graph's node has (an Unpack whose
       last outputs nobody reads, never inferred before): the kernel writes them all */
    int nout = c->n_outputs > n->n_outputs ? c->n_outputs : n->n_outputs;
    Tensor *all = nout > n->n_outputs ? calloc((size_t)nout, sizeof *all) : out;
    if (!all) { graph_free(s); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int k = 0; k < nout; k++) {
        all[k] = (Tensor){0};
        const Value *v = &c->outputs[k];
        if (shape_is_known(&v->shape)) {
            if (tensor_alloc(&all[k], v->dtype, &v->shape, err)) goto release;
        } else if (dyn_op) {
            all[k].dtype = v->dtype; /* the kernel allocates it */
        } else {
            char sb[96];
            err_set(err, ERR_RUNTIME, "output %d has shape %s even with the inputs known", k, shape_str(&v->shape, sb, sizeof sb));
            goto release;
        }
    }
    if (ref_kernel_call(c, in, all, err)) goto release;
    for (int k = 0; k < nout; k++)
        if (!all[k].buf && shape_numel(&all[k].shape) != 0) {
            err_set(err, ERR_RUNTIME, "internal: the kernel left output %d unallocated", k);
            goto release;
        }
    if (all != out) {
        for (int k = 0; k < n->n_outputs; k++) out[k] = all[k];
        for (int k = n->n_outputs; k < nout; k++) tensor_release(&all[k]);
        free(all);
    }
    rc = 0;
    goto done;
release:
    for (int k = 0; k < nout; k++) tensor_release(&all[k]);
    if (all != out) free(all);
done:
    graph_free(s);
    return rc ? err_prefix(err, "node '%s' (%s)", n->name, n->op_name) : 0;
}
