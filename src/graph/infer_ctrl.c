/* infer_ctrl.c - shape and dtype inference for TF2 functional control flow (While, If, Case).
 *
 * Output dtypes come from the node's `T` (While) or `Tout` (If, Case) attribute. Shapes come
 * from `output_shapes` where TensorFlow wrote it (for a While, the loop-invariant shapes); dims
 * it leaves unknown stay -1, so the node and its readers are run-time shaped (as Where's
 * outputs). The bodies themselves are inferred per call by the runtime, for the actual input
 * shapes. */
#include "infer.h"

int infer_ctrl(Graph *g, Node *n, Err *err) {
    bool is_while = n->op == OP_WHILE || n->op == OP_STATELESS_WHILE;
    const AttrList *types = node_attr_list(n, is_while ? "T" : "Tout");
    if (!types || (types->n > 0 && types->kind != ATTR_TYPE))
        return err_set(err, ERR_INPUT, "no list attribute '%s' with the output dtypes", is_while ? "T" : "Tout");
    if (is_while && types->n != n->n_inputs)
        return err_set(err, ERR_INPUT, "has %d inputs but T lists %d loop variables", n->n_inputs, types->n);
    if (!is_while) {
        int dt = in_dtype(g, n, 0);
        if ((n->op == OP_CASE || n->op == OP_STATELESS_CASE) && dt != DT_INT32)
            return err_set(err, ERR_INPUT, "branch_index must be int32, got %s", dtype_name(dt));
    }
    const AttrList *shapes = node_attr_list(n, "output_shapes");
    bool use_shapes = shapes && shapes->kind == ATTR_SHAPE && shapes->n == types->n;
    for (int k = 0; k < types->n; k++) {
        Shape s = use_shapes ? shapes->shape[k] : shape_unknown();
        /* a While's outputs are its loop variables: without a declared shape, the input's
           shape is not safe (the body may change it), so it stays unknown */
        if (infer_set_out(n, k, types->type[k], &s, err)) return -1;
        (void)g;
    }
    return 0;
}

int64_t flops_ctrl(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
