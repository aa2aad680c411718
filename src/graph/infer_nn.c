/* infer_nn.c - shape/dtype inference and FLOPs for MaxPool / AvgPool, FusedBatchNorm (V1-V3),
 * ResizeBilinear / ResizeNearestNeighbor and Softmax. (Convolutions: infer_conv.c; matmuls:
 * infer_matmul.c.) */
#include <string.h>

#include "infer.h"
#include "nn_attrs.h"

int infer_pool(Graph *g, Node *n, Err *err) {
    ConvGeom geo;
    if (nn_pool_geom(n, in_shape(g, n, 0), &geo, err)) return -1;
    Shape out = nn_geom_out_shape(&geo);
    return infer_set_out(n, 0, in_dtype(g, n, 0), &out, err);
}

/* one comparison or addition per window element */
int64_t flops_pool(const Graph *g, const Node *n) {
    const AttrList *k = node_attr_list(n, "ksize");
    int64_t out = shape_numel(&n->outputs[0].shape);
    if (!k || k->kind != ATTR_INT || k->n != 4 || out < 0) return 0;
    return out * k->i[0] * k->i[1] * k->i[2] * k->i[3];
}

/* FusedBatchNorm(x, scale, offset, mean, variance) -> y, batch_mean, batch_variance,
   reserve_space_1, reserve_space_2 (+ reserve_space_3 for V3). The four statistics outputs
   are [C] (as in TF); reserve_space_3 is the scalar TF's CPU kernel allocates. */
int infer_fused_batchnorm(Graph *g, Node *n, Err *err) {
    const Shape *x = in_shape(g, n, 0);
    char sa[96], sb[96];
    const char *fmt = node_attr_s(n, "data_format", "NHWC");
    int rank;
    if (!strcmp(fmt, "NHWC") || !strcmp(fmt, "NCHW")) rank = 4;
    else if (!strcmp(fmt, "NDHWC") || !strcmp(fmt, "NCDHW")) rank = 5;
    else return err_set(err, ERR_INPUT, "data_format '%s' is not supported (NHWC, NCHW, NDHWC or NCDHW)", fmt);
    if (x->rank != rank)
        return err_set(err, ERR_INPUT, "x %s must be %d-D for data_format %s", shape_str(x, sa, sizeof sa), rank, fmt);
    int64_t c = x->dim[fmt[1] == 'C' ? 1 : rank - 1];
    bool training = node_attr_b(n, "is_training", true);
    float factor = node_attr_f(n, "exponential_avg_factor", 1.0f);
    static const char *names[5] = {"x", "scale", "offset", "mean", "variance"};
    for (int i = 1; i < 5; i++) {
        const Shape *v = in_shape(g, n, i);
        if (v->rank != 1) return err_set(err, ERR_INPUT, "%s %s must be 1-D", names[i], shape_str(v, sa, sizeof sa));
        /* in training mode with factor 1 TF ignores mean and variance (often passed empty) */
        bool stats_used = !training || factor != 1.0f;
        if (v->dim[0] != c && (i < 3 || stats_used))
            return err_set(err, ERR_INPUT, "%s %s must have %lld elements, one per channel of x %s", names[i],
                           shape_str(v, sa, sizeof sa), (long long)c, shape_str(x, sb, sizeof sb));
        if (i >= 2 && nn_same_dtype(g, n, 1, i, err)) return -1;
    }
    int u = in_dtype(g, n, 1);
    Shape vec = shape_make(1, &c);
    if (infer_set_out(n, 0, in_dtype(g, n, 0), x, err)) return -1;
    for (int k = 1; k <= 4; k++)
        if (infer_set_out(n, k, u, &vec, err)) return -1;
    if (n->op == OP_FUSED_BATCH_NORM_V3) {
        Shape scalar = shape_scalar();
        if (infer_set_out(n, 5, u, &scalar, err)) return -1;
    }
    return 0;
}

/* inference: a multiply and an add per element; training adds the mean and variance passes */
int64_t flops_fused_batchnorm(const Graph *g, const Node *n) {
    int64_t e = shape_numel(in_shape(g, n, 0));
    if (e < 0) return 0;
    return (node_attr_b(n, "is_training", true) ? 5 : 2) * e;
}

/* ResizeBilinear / ResizeNearestNeighbor(images [N,H,W,C], size int32[2]) -> [N, h, w, C].
   Bilinear always produces float32 (as TF); nearest keeps the input dtype. A size computed at
   run time (rvm's, inside a TF1 cond branch) gives [N, -1, -1, C]: the runtime infers the node
   again from the values (runtime/ref_dyn.c), and the fast runtime runs it as a dynamic step. */
int infer_resize(Graph *g, Node *n, Err *err) {
    const Shape *x = in_shape(g, n, 0);
    char sa[96];
    if (x->rank != 4) return err_set(err, ERR_INPUT, "images must be 4-D [N,H,W,C], got %s", shape_str(x, sa, sizeof sa));
    if (x->dim[1] == 0 || x->dim[2] == 0 || x->dim[3] == 0)
        return err_set(err, ERR_INPUT, "images %s must have non-empty height, width and channels", shape_str(x, sa, sizeof sa));
    int dtype = n->op == OP_RESIZE_BILINEAR ? DT_FLOAT : in_dtype(g, n, 0);
    const Value *sv = node_input_value(g, n, 1);
    if (!tensor_has_data(&sv->known)) {
        if (sv->dtype != DT_INT32)
            return err_set(err, ERR_INPUT, "size must be int32, got %s", dtype_name(sv->dtype));
        if (sv->shape.rank >= 0 && !(sv->shape.rank == 1 && (sv->shape.dim[0] == 2 || sv->shape.dim[0] < 0)))
            return err_set(err, ERR_INPUT, "size must have shape [2], got %s", shape_str(&sv->shape, sa, sizeof sa));
        Shape out = shape_make(4, (int64_t[]){x->dim[0], -1, -1, x->dim[3]});
        return infer_set_out(n, 0, dtype, &out, err);
    }
    if (x->dim[1] < 0 || x->dim[2] < 0 || x->dim[3] < 0)
        return err_set(err, ERR_INPUT, "images %s must have known height, width and channels", shape_str(x, sa, sizeof sa));
    int64_t size[2];
    int count = infer_known_i64(g, n, 1, size, 2, err);
    if (count < 0) return -1;
    if (count != 2) return err_set(err, ERR_INPUT, "size must have 2 elements (height, width), got %d", count);
    if (size[0] < 1 || size[1] < 1)
        return err_set(err, ERR_INPUT, "size [%lld,%lld] must be positive", (long long)size[0], (long long)size[1]);
    if (node_attr_b(n, "align_corners", false) && node_attr_b(n, "half_pixel_centers", false))
        return err_set(err, ERR_INPUT, "align_corners and half_pixel_centers cannot both be true");
    Shape out = shape_make(4, (int64_t[]){x->dim[0], size[0], size[1], x->dim[3]});
    return infer_set_out(n, 0, dtype, &out, err);
}

/* bilinear: three lerps (a subtract, a multiply, an add each) per output element; nearest
   only copies */
int64_t flops_resize(const Graph *g, const Node *n) {
    int64_t out = shape_numel(&n->outputs[0].shape);
    if (out < 0 || n->op != OP_RESIZE_BILINEAR) return 0;
    return 9 * out;
}

/* Softmax over the last axis */
int infer_softmax(Graph *g, Node *n, Err *err) {
    const Shape *x = in_shape(g, n, 0);
    char sa[96];
    if (x->rank < 1) return err_set(err, ERR_INPUT, "logits must have rank >= 1, got %s", shape_str(x, sa, sizeof sa));
    /* TensorFlow's Softmax is defined for floating types only (both runtimes agree then) */
    if (!dtype_is_float(in_dtype(g, n, 0)))
        return err_set(err, ERR_INPUT, "logits of dtype %s: Softmax takes float32, float16 or bfloat16", dtype_name(in_dtype(g, n, 0)));
    return infer_set_out(n, 0, in_dtype(g, n, 0), x, err);
}

/* max, subtract, exp, sum, divide per element */
int64_t flops_softmax(const Graph *g, const Node *n) {
    int64_t e = shape_numel(in_shape(g, n, 0));
    return e < 0 ? 0 : 5 * e;
}
