/* ref_array.c - reference kernels for the array ops (STUB: to be written). */
#include "ref.h"

int ref_reshape(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_transpose(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_squeeze(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_expand_dims(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_concat(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_split(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_split_v(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_slice(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_strided_slice(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_gather(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_shape(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_fill(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_pack(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_unpack(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_tile(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_pad(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_mirror_pad(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
int ref_one_hot(const Node *n, const Tensor *in, Tensor *out, Err *err) { (void)in; (void)out; return err_set(err, ERR_RUNTIME, "no reference kernel for %s", n->op_name); }
