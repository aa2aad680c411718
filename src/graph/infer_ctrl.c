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
        int dt = dtype_as_computed(types->type[k]);
        if (dt != types->type[k]) s = shape_scalar(); /* a TensorList loop variable: its handle */
        /* a While's outputs are its loop variables: without a declared shape, the input's
           shape is not safe (the body may change it), so it stays unknown */
        if (infer_set_out(n, k, dt, &s, err)) return -1;
        (void)g;
    }
    return 0;
}

int64_t flops_ctrl(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

/* Switch(data, pred) -> output_false, output_true; _SwitchN(data, index) -> num_outs outputs;
   each the data's dtype and shape. Merge(inputs...) -> output (the inputs' common shape, dims
   that differ unknown), value_index (int32 scalar). */
int infer_switch_merge(Graph *g, Node *n, Err *err) {
    const Value *x = in_val(g, n, 0);
    if (n->op == OP_SWITCH || n->op == OP_SWITCH_N) {
        const Value *p = in_val(g, n, 1);
        if (n->op == OP_SWITCH && (p->dtype != DT_BOOL || p->shape.rank != 0))
            return err_set(err, ERR_INPUT, "pred must be a bool scalar");
        if (n->op == OP_SWITCH_N && (p->dtype != DT_INT32 || p->shape.rank != 0))
            return err_set(err, ERR_INPUT, "output_index must be an int32 scalar");
        int64_t outs = n->op == OP_SWITCH ? 2 : node_attr_i(n, "num_outs", 0);
        if (outs < 1 || outs > 1024) return err_set(err, ERR_INPUT, "num_outs %lld out of range", (long long)outs);
        for (int k = 0; k < outs; k++)
            if (infer_set_out(n, k, x->dtype, &x->shape, err)) return -1;
        return 0;
    }
    /* a loop's Merge: the value entering the loop gives the shape; the NextIteration input is a
       back edge, not inferred yet (the frame interpreter infers again when an iteration's value
       has another shape) */
    int first = -1;
    for (int i = 0; i < n->n_inputs && first < 0; i++)
        if (!graph_is_back_edge(g, n->inputs[i].node, n)) first = i;
    if (first < 0) return err_set(err, ERR_INPUT, "every input is a NextIteration: the loop is never entered");
    x = in_val(g, n, first);
    Shape s = x->shape;
    for (int i = first + 1; i < n->n_inputs; i++) {
        if (graph_is_back_edge(g, n->inputs[i].node, n)) continue;
        const Value *v = in_val(g, n, i);
        if (v->dtype != x->dtype)
            return err_set(err, ERR_INPUT, "inputs are %s and %s", dtype_name(x->dtype), dtype_name(v->dtype));
        if (v->shape.rank != s.rank) { s = shape_unknown(); break; }
        for (int d = 0; d < s.rank; d++)
            if (v->shape.dim[d] != s.dim[d]) s.dim[d] = -1;
    }
    Shape scalar = {.rank = 0};
    if (infer_set_out(n, 0, x->dtype, &s, err)) return -1;
    return infer_set_out(n, 1, DT_INT32, &scalar, err);
}

int64_t flops_switch_merge(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }

/* TF1 loops: Enter, Exit and NextIteration forward their input (an Enter with is_constant, the
   same value in every iteration, keeps a known value: captured constants still fold inside the
   loop); LoopCond forwards the loop's bool scalar predicate. */
int infer_frame(Graph *g, Node *n, Err *err) {
    const Value *x = in_val(g, n, 0);
    if (n->op == OP_LOOP_COND && (x->dtype != DT_BOOL || x->shape.rank != 0)) return err_set(err, ERR_INPUT, "input must be a bool scalar");
    if (n->op == OP_ENTER) {
        const char *frame = node_attr_s(n, "frame_name", NULL);
        if (!frame || !frame[0]) return err_set(err, ERR_INPUT, "Enter without a frame_name");
    }
    if (infer_set_out(n, 0, x->dtype, &x->shape, err)) return -1;
    if (n->op == OP_ENTER && node_attr_b(n, "is_constant", false) && tensor_has_data(&x->known)) n->outputs[0].known = tensor_share(&x->known);
    return 0;
}

int64_t flops_frame(const Graph *g, const Node *n) { (void)g; (void)n; return 0; }
