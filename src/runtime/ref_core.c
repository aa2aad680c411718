/* ref_core.c - reference kernels for the core ops (STUB: to be written). */
#include "ref.h"

int ref_placeholder(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_const(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_identity(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_identity_n(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_noop(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
