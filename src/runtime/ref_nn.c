/* ref_nn.c - reference kernels for the nn ops (STUB: to be written). */
#include "ref.h"

int ref_conv2d(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_depthwise(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_fused_conv2d(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_fused_depthwise(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_conv2d_backprop_input(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_matmul(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_fused_matmul(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_batch_matmul(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_pool(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_fused_batchnorm(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_resize(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_softmax(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
