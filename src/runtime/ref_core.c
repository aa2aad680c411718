/* ref_core.c - reference kernels for graph plumbing: Const, Identity(N), NoOp, Placeholder. */
#include "ref.h"

int ref_placeholder(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)in; (void)out;
    return err_set(err, ERR_INPUT, "input '%s' was not fed", n->name);
}

int ref_const(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)in;
    const Tensor *t = node_attr_tensor(n, "value");
    if (!t || !tensor_has_data(t)) return err_set(err, ERR_RUNTIME, "Const of dtype %s cannot be computed with", t ? dtype_name(t->dtype) : "?");
    tensor_release(&out[0]);
    out[0] = tensor_share(t);
    return 0;
}

int ref_identity(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)n; (void)err;
    tensor_release(&out[0]);
    out[0] = tensor_share(&in[0]);
    return 0;
}

int ref_identity_n(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)err;
    for (int k = 0; k < n->n_inputs; k++) {
        tensor_release(&out[k]);
        out[k] = tensor_share(&in[k]);
    }
    return 0;
}

int ref_noop(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)n; (void)in; (void)out; (void)err;
    return 0;
}
