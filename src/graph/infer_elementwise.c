/* infer_elementwise.c - shape/dtype inference and FLOPs for the elementwise ops (STUB: to be written). */
#include "infer.h"

int infer_unary(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_unary(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_binary(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_binary(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_add_n(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_add_n(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_bias_add(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_bias_add(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_prelu(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_prelu(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_cast(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_cast(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_reduce(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_reduce(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_argmax(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_argmax(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
