/* infer_nn.c - shape/dtype inference and FLOPs for the nn ops (STUB: to be written). */
#include "infer.h"

int infer_conv2d(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_conv2d(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_depthwise(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_depthwise(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_fused_conv2d(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_fused_conv2d(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_fused_depthwise(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_fused_depthwise(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_conv2d_backprop_input(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_conv2d_backprop_input(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_matmul(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_matmul(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_fused_matmul(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_fused_matmul(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_batch_matmul(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_batch_matmul(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_pool(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_pool(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_fused_batchnorm(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_fused_batchnorm(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_resize(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_resize(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_softmax(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_softmax(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
