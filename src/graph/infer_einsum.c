/* infer_einsum.c - shape/dtype inference and FLOPs for Einsum (the equation: einsum.h). */
#include "einsum.h"
#include "infer.h"

static bool einsum_dtype_ok(int dt) { return dtype_is_float(dt) || dt == DT_INT32 || dt == DT_INT64; }

int infer_einsum(Graph *g, Node *n, Err *err) {
    int dt = in_dtype(g, n, 0);
    if (n->n_inputs == 2 && in_dtype(g, n, 1) != dt)
        return err_set(err, ERR_INPUT, "inputs have different dtypes (%s, %s)", dtype_name(dt), dtype_name(in_dtype(g, n, 1)));
    if (!einsum_dtype_ok(dt)) return err_set(err, ERR_INPUT, "dtype %s is not supported", dtype_name(dt));
    const Shape *in[2] = {in_shape(g, n, 0), n->n_inputs == 2 ? in_shape(g, n, 1) : NULL};
    for (int i = 0; i < n->n_inputs; i++)
        if (in[i]->rank < 0) {
            Shape unk = shape_unknown();
            return infer_set_out(n, 0, dt, &unk, err);
        }
    EinsumSpec s;
    if (einsum_parse(node_attr_s(n, "equation", ""), n->n_inputs, in, &s, err)) return -1;
    Shape out = einsum_out_shape(&s);
    return infer_set_out(n, 0, dt, &out, err);
}

/* a MAC = 2 for every combination of label values (each output element sums the product over
   the summed labels); a single input counts its additions, 1 per element read */
int64_t flops_einsum(const Graph *g, const Node *n) {
    const Shape *in[2] = {in_shape(g, n, 0), n->n_inputs == 2 ? in_shape(g, n, 1) : NULL};
    EinsumSpec s;
    if (in[0]->rank < 0 || (in[1] && in[1]->rank < 0) ||
        einsum_parse(node_attr_s(n, "equation", ""), n->n_inputs, in, &s, NULL))
        return 0;
    int64_t m = einsum_macs(&s);
    if (m < 0) return 0;
    return n->n_inputs == 2 ? 2 * m : m;
}
