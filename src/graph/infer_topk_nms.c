/* infer_topk_nms.c - shape/dtype inference and FLOPs for the selection ops: TopKV2, Where and
 * NonMaxSuppressionV3/V4/V5.
 *
 * Their output sizes can depend on values: TopK's k (a tensor), the number of true elements of
 * Where's input, the number of boxes NMS keeps. When those values are known at inference the
 * shape is exact; otherwise the dims stay -1 and the runtime learns them when the node runs
 * (Where and NMS are OPF_DYNAMIC: their kernels allocate such outputs). */
#include "infer.h"

int infer_topk(Graph *g, Node *n, Err *err) {
    const Shape *x = in_shape(g, n, 0), *ks = in_shape(g, n, 1);
    int dt = in_dtype(g, n, 0), kdt = in_dtype(g, n, 1);
    if (!dtype_is_float(dt) && dt != DT_INT8 && dt != DT_UINT8 && dt != DT_INT32 && dt != DT_INT64)
        return err_set(err, ERR_INPUT, "TopKV2 dtype %s is not supported", dtype_name(dt));
    if (kdt != DT_INT32 && kdt != DT_INT64) return err_set(err, ERR_INPUT, "TopKV2 k must be int32 or int64, got %s", dtype_name(kdt));
    if (ks->rank != 0) return err_set(err, ERR_INPUT, "TopKV2 k must be a scalar");
    if (x->rank < 1) return err_set(err, ERR_INPUT, "TopKV2 input must be at least 1-D");
    int idx_t = node_attr_type(n, "index_type", DT_INT32);
    if (idx_t != DT_INT32 && idx_t != DT_INT64) return err_set(err, ERR_INPUT, "TopKV2 index_type must be int32 or int64");
    Shape s = *x;
    s.dim[s.rank - 1] = -1;
    if (tensor_has_data(&in_val(g, n, 1)->known)) {
        int64_t k = (int64_t)tensor_get(&in_val(g, n, 1)->known, 0);
        if (k < 0) return err_set(err, ERR_INPUT, "TopKV2 k must be non-negative, got %lld", (long long)k);
        if (k > x->dim[x->rank - 1])
            return err_set(err, ERR_INPUT, "TopKV2 input must have at least k = %lld columns, has %lld", (long long)k, (long long)x->dim[x->rank - 1]);
        s.dim[s.rank - 1] = k;
    }
    if (infer_set_out(n, 0, dt, &s, err)) return -1;
    return infer_set_out(n, 1, idx_t, &s, err);
}

/* a full sort's comparisons per row as the cost: n log2 n */
int64_t flops_topk(const Graph *g, const Node *n) {
    const Shape *x = in_shape(g, n, 0);
    int64_t total = shape_numel(x);
    if (total <= 0 || x->rank < 1) return 0;
    int64_t len = x->dim[x->rank - 1], lg = 1;
    while (((int64_t)1 << lg) < len) lg++;
    return total * lg;
}

int infer_where(Graph *g, Node *n, Err *err) {
    const Value *x = in_val(g, n, 0);
    if (x->shape.rank < 1) return err_set(err, ERR_INPUT, "Where input must be at least 1-D");
    Shape s = {.rank = 2, .dim = {-1, x->shape.rank}};
    if (tensor_has_data(&x->known)) {
        int64_t count = 0, total = tensor_numel(&x->known);
        for (int64_t i = 0; i < total; i++) count += tensor_get(&x->known, i) != 0;
        s.dim[0] = count;
    }
    return infer_set_out(n, 0, DT_INT64, &s, err);
}

int64_t flops_where(const Graph *g, const Node *n) { int64_t e = shape_numel(in_shape(g, n, 0)); return e > 0 ? e : 0; }

/* V3(boxes, scores, max_output_size, iou_threshold, score_threshold) -> selected_indices;
   V4 adds valid_outputs; V5(..., soft_nms_sigma) -> selected_indices, selected_scores,
   valid_outputs. With pad_to_max_output_size (V4/V5) the outputs have max_output_size rows. */
int infer_nms(Graph *g, Node *n, Err *err) {
    const Shape *b = in_shape(g, n, 0), *sc = in_shape(g, n, 1);
    if (in_dtype(g, n, 0) != DT_FLOAT || in_dtype(g, n, 1) != DT_FLOAT)
        return err_set(err, ERR_INPUT, "boxes and scores must be float32 (got %s, %s)", dtype_name(in_dtype(g, n, 0)), dtype_name(in_dtype(g, n, 1)));
    if (b->rank != 2 || b->dim[1] != 4) return err_set(err, ERR_INPUT, "boxes must be [num_boxes, 4]");
    if (sc->rank != 1 || sc->dim[0] != b->dim[0]) return err_set(err, ERR_INPUT, "scores must be [num_boxes] = [%lld]", (long long)b->dim[0]);
    int dt2 = in_dtype(g, n, 2);
    if ((dt2 != DT_INT32 && dt2 != DT_INT64) || in_shape(g, n, 2)->rank != 0) return err_set(err, ERR_INPUT, "max_output_size must be an int32 scalar");
    for (int i = 3; i < n->n_inputs; i++)
        if (in_dtype(g, n, i) != DT_FLOAT || in_shape(g, n, i)->rank != 0) return err_set(err, ERR_INPUT, "input %d must be a float32 scalar", i);
    bool pad = n->op != OP_NMS_V3 && node_attr_b(n, "pad_to_max_output_size", false);
    Shape s = {.rank = 1, .dim = {-1}};
    if (pad && tensor_has_data(&in_val(g, n, 2)->known)) {
        s.dim[0] = (int64_t)tensor_get(&in_val(g, n, 2)->known, 0);
        if (s.dim[0] < 0) return err_set(err, ERR_INPUT, "max_output_size must be non-negative");
    }
    if (infer_set_out(n, 0, DT_INT32, &s, err)) return -1;
    Shape scalar = shape_scalar();
    if (n->op == OP_NMS_V4) return infer_set_out(n, 1, DT_INT32, &scalar, err);
    if (n->op == OP_NMS_V5) return infer_set_out(n, 1, DT_FLOAT, &s, err) || infer_set_out(n, 2, DT_INT32, &scalar, err) ? -1 : 0;
    return 0;
}

/* IoU of every pair, at most: 4 box numbers per pair and a few products */
int64_t flops_nms(const Graph *g, const Node *n) {
    int64_t b = in_shape(g, n, 0)->dim[0];
    return b > 0 ? 10 * b * b : 0;
}
