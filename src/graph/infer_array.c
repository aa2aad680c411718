/* infer_array.c - shape/dtype inference and FLOPs for the array ops (STUB: to be written). */
#include "infer.h"

int infer_reshape(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_reshape(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_transpose(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_transpose(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_squeeze(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_squeeze(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_expand_dims(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_expand_dims(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_concat(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_concat(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_split(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_split(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_split_v(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_split_v(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_slice(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_slice(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_strided_slice(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_strided_slice(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_gather(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_gather(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_shape(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_shape(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_fill(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_fill(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_pack(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_pack(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_unpack(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_unpack(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_tile(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_tile(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_pad(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_pad(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_mirror_pad(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_mirror_pad(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_one_hot(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_one_hot(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
