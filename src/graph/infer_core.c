/* infer_core.c - shape/dtype inference and FLOPs for the core ops (STUB: to be written). */
#include "infer.h"

int infer_placeholder(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_placeholder(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_const(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_const(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_identity(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_identity(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_identity_n(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_identity_n(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
int infer_noop(Graph *g, Node *n, Err *err) { (void)g; return err_set(err, ERR_RUNTIME, "shape inference for %s is not implemented", n->op_name); }
int64_t flops_noop(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
