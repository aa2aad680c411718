/* infer_core.c - inference for graph plumbing: Placeholder, Const, Identity(N), NoOp. */
#include "infer.h"

int infer_placeholder(Graph *g, Node *n, Err *err) {
    (void)g;
    int declared = node_attr_type(n, "dtype", DT_INVALID), dt = dtype_as_computed(declared);
    if (!dtype_is_supported(dt)) return err_set(err, ERR_INPUT, "placeholder dtype %s is not supported", dtype_name(dt));
    const Attr *a = node_attr_find(n, "shape");
    Shape s = a && a->kind == ATTR_SHAPE ? a->shape : shape_unknown();
    if (declared != dt) s = shape_scalar(); /* a TensorList handle (a function body's argument) */
    if (s.rank < 0) s = shape_scalar(); /* unknown rank: a scalar unless the user gives a shape */
    for (int i = 0; i < s.rank; i++)
        if (s.dim[i] < 0) s.dim[i] = 1; /* unknown batch/spatial dims default to 1 */
    return infer_set_out(n, 0, dt, &s, err);
}

int infer_const(Graph *g, Node *n, Err *err) {
    (void)g;
    const Tensor *t = node_attr_tensor(n, "value");
    if (!t) return err_set(err, ERR_INPUT, "Const without a tensor 'value'");
    int dt = node_attr_type(n, "dtype", t->dtype);
    if (dt != t->dtype)
        return err_set(err, ERR_INPUT, "dtype attribute %s disagrees with the tensor's %s", dtype_name(dt), dtype_name(t->dtype));
    if (infer_set_out(n, 0, t->dtype, &t->shape, err)) return -1;
    n->outputs[0].known = tensor_share(t);
    return 0;
}

int infer_identity(Graph *g, Node *n, Err *err) {
    const Value *v = in_val(g, n, 0);
    if (infer_set_out(n, 0, v->dtype, &v->shape, err)) return -1;
    n->outputs[0].known = tensor_share(&v->known); /* free: shares the buffer */
    return 0;
}

int infer_identity_n(Graph *g, Node *n, Err *err) {
    if (node_set_num_outputs(n, n->n_inputs, err)) return -1;
    for (int k = 0; k < n->n_inputs; k++) {
        const Value *v = in_val(g, n, k);
        if (infer_set_out(n, k, v->dtype, &v->shape, err)) return -1;
        n->outputs[k].known = tensor_share(&v->known);
    }
    return 0;
}

int infer_noop(Graph *g, Node *n, Err *err) {
    (void)g;
    return node_set_num_outputs(n, 0, err);
}

int64_t flops_placeholder(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_const(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_identity(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_identity_n(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int64_t flops_noop(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
