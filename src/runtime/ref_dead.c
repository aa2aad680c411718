/* ref_dead.c - TF1 conditionals on the reference executor: Switch, _SwitchN and Merge, the ops
 * whose outputs may be *dead* (tf.cond lowered: the branch not taken).
 *
 * ref_run keeps a dead flag per value and per node: a node with a dead data input or a dead
 * control input does not run and its outputs are dead (so the Consts of a branch, which hang on
 * the branch's pivot by a control edge, die with it). Switch forwards its data to output_true or
 * output_false by its predicate (TensorFlow's ToBool) and the other output is dead; _SwitchN
 * forwards to output[index] (out of range: the last); Merge forwards its first live input and
 * its index, and is dead only when every input is. TF1 loops (Enter/Exit/NextIteration) are not
 * here; the fast runtime refuses these ops (plan.c). */
#include <stdio.h>
#include <string.h>

#include "ref.h"

int ref_switch_merge(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    (void)in; (void)out;
    return err_set(err, ERR_RUNTIME, "node '%s' (%s): TF1 control flow runs only through ref_dead_eval", n->name, n->op_name);
}

int ref_dead_eval(const Graph *g, int node, const Tensor *in, const bool *in_dead, Tensor *out, bool *out_dead, Err *err) {
    const Node *n = g->nodes[node];
    for (int k = 0; k < n->n_outputs; k++) { out[k] = (Tensor){0}; out_dead[k] = true; }
    if (n->op == OP_MERGE) {
        for (int k = 0; k < n->n_inputs; k++) {
            if (in_dead[k]) continue;
            out[0] = tensor_share(&in[k]);
            out_dead[0] = false;
            if (n->n_outputs > 1) {
                Shape s = {.rank = 0};
                int32_t v = k;
                if (tensor_from_data(&out[1], DT_INT32, &s, &v, sizeof v, err)) {
                    tensor_release(&out[0]);
                    return err_prefix(err, "node '%s' (%s)", n->name, n->op_name);
                }
                out_dead[1] = false;
            }
            return 0;
        }
        return 0; /* every input dead: so is the Merge */
    }
    if (in_dead[0] || in_dead[1]) return 0;
    int pick;
    if (n->op == OP_SWITCH) {
        pick = (in[1].shape.rank == 0 ? tensor_get(&in[1], 0) != 0 : tensor_numel(&in[1]) > 0) ? 1 : 0;
    } else {
        double v = tensor_get(&in[1], 0);
        pick = v < 0 || v >= n->n_outputs ? n->n_outputs - 1 : (int)v;
    }
    if (pick < n->n_outputs) {
        out[pick] = tensor_share(&in[0]);
        out_dead[pick] = false;
    }
    return 0;
}
