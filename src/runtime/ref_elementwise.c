/* ref_elementwise.c - reference kernels for the elementwise ops (STUB: to be written). */
#include "ref.h"

int ref_unary(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_binary(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_add_n(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_bias_add(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_prelu(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_cast(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_reduce(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_argmax(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
