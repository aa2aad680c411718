/* nn_attrs.c - reads conv/pool window attributes into ConvGeom and fused_ops lists into
 * FusedSpec (see nn_attrs.h). Every message names the attribute or dimension that is wrong. */
#include "nn_attrs.h"

#include <string.h>

#include "infer.h"

int nn_data_format(const Node *n, bool *nchw, Err *err) {
    const char *f = node_attr_s(n, "data_format", "NHWC");
    if (!strcmp(f, "NHWC")) *nchw = false;
    else if (!strcmp(f, "NCHW")) *nchw = true;
    else return err_set(err, ERR_INPUT, "data_format '%s' is not supported (NHWC or NCHW)", f);
    return 0;
}

/* dims of a 4-D layout */
static int dim_h(bool nchw) { return nchw ? 2 : 1; }
static int dim_w(bool nchw) { return nchw ? 3 : 2; }
static int dim_c(bool nchw) { return nchw ? 1 : 3; }

/* Reads a 4-int attribute in data_format order into its H and W entries; the batch and
   channel entries must be 1. An absent attribute gives def (or an error when def < 1). */
static int read_hw4(const Node *n, const char *name, bool nchw, int64_t def, int64_t *h, int64_t *w, Err *err) {
    const AttrList *l = node_attr_list(n, name);
    if (!l || l->n == 0) {
        if (def < 1) return err_set(err, ERR_INPUT, "attribute %s is missing", name);
        *h = *w = def;
        return 0;
    }
    if (l->kind != ATTR_INT || l->n != 4)
        return err_set(err, ERR_INPUT, "attribute %s must be a list of 4 ints, got %d values", name, l->n);
    if (l->i[0] != 1 || l->i[dim_c(nchw)] != 1)
        return err_set(err, ERR_INPUT, "attribute %s must be 1 on the batch and channel dimensions, got [%lld,%lld,%lld,%lld]",
                       name, (long long)l->i[0], (long long)l->i[1], (long long)l->i[2], (long long)l->i[3]);
    *h = l->i[dim_h(nchw)];
    *w = l->i[dim_w(nchw)];
    if (*h > NN_MAX_WINDOW_ATTR || *w > NN_MAX_WINDOW_ATTR)
        return err_set(err, ERR_INPUT, "attribute %s [%lld,%lld,%lld,%lld] is out of range (at most %d, as TensorFlow reads it as int32)",
                       name, (long long)l->i[0], (long long)l->i[1], (long long)l->i[2], (long long)l->i[3], NN_MAX_WINDOW_ATTR);
    if (*h < 1 || *w < 1)
        return err_set(err, ERR_INPUT, "attribute %s must be positive, got [%lld,%lld,%lld,%lld]", name,
                       (long long)l->i[0], (long long)l->i[1], (long long)l->i[2], (long long)l->i[3]);
    return 0;
}

/* Fills stride/dilation/padding/output size of g from the node's attributes, given the input
   size and window (g->in_*, g->k_*) already set. Convolutions have dilations, pools do not. */
static int window_attrs(const Node *n, bool has_dilations, bool allow_explicit, ConvGeom *g, Err *err) {
    if (read_hw4(n, "strides", g->nchw, 0, &g->stride_h, &g->stride_w, err)) return -1;
    g->dil_h = g->dil_w = 1;
    if (has_dilations && read_hw4(n, "dilations", g->nchw, 1, &g->dil_h, &g->dil_w, err)) return -1;
    const char *padding = node_attr_s(n, "padding", NULL);
    if (!padding) return err_set(err, ERR_INPUT, "attribute padding is missing");
    int64_t pad[4] = {0, 0, 0, 0}; /* top, bottom, left, right */
    if (!strcmp(padding, "EXPLICIT")) {
        if (!allow_explicit) return err_set(err, ERR_INPUT, "padding EXPLICIT is not supported by %s", n->op_name);
        const AttrList *l = node_attr_list(n, "explicit_paddings");
        if (!l || l->kind != ATTR_INT || l->n != 8)
            return err_set(err, ERR_INPUT, "padding EXPLICIT needs explicit_paddings with 8 ints, got %d",
                           l ? l->n : 0);
        int h = dim_h(g->nchw), w = dim_w(g->nchw), c = dim_c(g->nchw);
        if (l->i[0] || l->i[1] || l->i[2 * c] || l->i[2 * c + 1])
            return err_set(err, ERR_INPUT, "explicit_paddings must be 0 on the batch and channel dimensions");
        pad[0] = l->i[2 * h];
        pad[1] = l->i[2 * h + 1];
        pad[2] = l->i[2 * w];
        pad[3] = l->i[2 * w + 1];
        /* TF's pools: a window must always overlap the input */
        if (!has_dilations)
            for (int k = 0; k < 4; k++)
                if (pad[k] >= (k < 2 ? g->k_h : g->k_w))
                    return err_set(err, ERR_INPUT, "explicit padding %lld must be smaller than the window size %lld",
                                   (long long)pad[k], (long long)(k < 2 ? g->k_h : g->k_w));
    } else if (strcmp(padding, "SAME") && strcmp(padding, "VALID")) {
        return err_set(err, ERR_INPUT, "padding '%s' is not supported (SAME, VALID%s)", padding,
                       allow_explicit ? " or EXPLICIT" : "");
    }
    if (infer_window(g->in_h, g->k_h, g->stride_h, g->dil_h, padding, pad[0], pad[1], &g->out_h, &g->pad_top, err))
        return err_prefix(err, "height");
    if (infer_window(g->in_w, g->k_w, g->stride_w, g->dil_w, padding, pad[2], pad[3], &g->out_w, &g->pad_left, err))
        return err_prefix(err, "width");
    if (g->out_h < 1 || g->out_w < 1)
        return err_set(err, ERR_INPUT, "the window does not fit the input (output %lldx%lld)", (long long)g->out_h,
                       (long long)g->out_w);
    return 0;
}

/* batch and spatial dims of a 4-D activation in data_format order */
static int read_activation(const Shape *x, const char *what, ConvGeom *g, Err *err) {
    char sb[96];
    if (x->rank != 4) return err_set(err, ERR_INPUT, "%s must be 4-D, got %s", what, shape_str(x, sb, sizeof sb));
    g->batch = x->dim[0];
    g->in_h = x->dim[dim_h(g->nchw)];
    g->in_w = x->dim[dim_w(g->nchw)];
    g->in_c = x->dim[dim_c(g->nchw)];
    if (g->in_h < 1 || g->in_w < 1 || g->in_c < 1)
        return err_set(err, ERR_INPUT, "%s %s has an empty spatial or channel dimension", what, shape_str(x, sb, sizeof sb));
    return 0;
}

int nn_conv_geom(const Node *n, bool depthwise, const Shape *x, const Shape *filter, ConvGeom *g, Err *err) {
    char sa[96], sb[96];
    memset(g, 0, sizeof *g);
    if (nn_data_format(n, &g->nchw, err) || read_activation(x, "input", g, err)) return -1;
    if (filter->rank != 4) return err_set(err, ERR_INPUT, "filter must be 4-D (HWIO), got %s", shape_str(filter, sa, sizeof sa));
    g->k_h = filter->dim[0];
    g->k_w = filter->dim[1];
    if (g->k_h < 1 || g->k_w < 1 || filter->dim[2] < 1 || filter->dim[3] < 1)
        return err_set(err, ERR_INPUT, "filter %s has an empty dimension", shape_str(filter, sa, sizeof sa));
    if (depthwise) {
        if (filter->dim[2] != g->in_c)
            return err_set(err, ERR_INPUT, "input has %lld channels but the depthwise filter %s expects %lld",
                           (long long)g->in_c, shape_str(filter, sa, sizeof sa), (long long)filter->dim[2]);
        g->groups = g->in_c;
        g->group_in_c = 1;
        g->out_c = g->in_c * filter->dim[3];
    } else {
        g->group_in_c = filter->dim[2];
        g->out_c = filter->dim[3];
        if (g->in_c % g->group_in_c)
            return err_set(err, ERR_INPUT, "input %s has %lld channels, not a multiple of the filter's %lld input channels (%s)",
                           shape_str(x, sb, sizeof sb), (long long)g->in_c, (long long)g->group_in_c,
                           shape_str(filter, sa, sizeof sa));
        g->groups = g->in_c / g->group_in_c;
        if (g->out_c % g->groups)
            return err_set(err, ERR_INPUT, "filter %s: %lld output channels do not split into %lld groups",
                           shape_str(filter, sa, sizeof sa), (long long)g->out_c, (long long)g->groups);
    }
    return window_attrs(n, true, true, g, err);
}

int nn_pool_geom(const Node *n, const Shape *x, ConvGeom *g, Err *err) {
    memset(g, 0, sizeof *g);
    if (nn_data_format(n, &g->nchw, err) || read_activation(x, "input", g, err)) return -1;
    if (read_hw4(n, "ksize", g->nchw, 0, &g->k_h, &g->k_w, err)) return -1;
    g->groups = g->in_c;
    g->group_in_c = 1;
    g->out_c = g->in_c;
    return window_attrs(n, false, n->op == OP_MAX_POOL, g, err);
}

int nn_backprop_input_geom(const Node *n, const int64_t *sizes, int n_sizes, const Shape *filter, const Shape *dy,
                           ConvGeom *g, Err *err) {
    char sa[96], sb[96];
    memset(g, 0, sizeof *g);
    if (nn_data_format(n, &g->nchw, err)) return -1;
    if (filter->rank != 4) return err_set(err, ERR_INPUT, "filter must be 4-D (HWIO), got %s", shape_str(filter, sa, sizeof sa));
    if (dy->rank != 4) return err_set(err, ERR_INPUT, "out_backprop must be 4-D, got %s", shape_str(dy, sa, sizeof sa));
    int64_t in_c = filter->dim[2], out_c = filter->dim[3];
    int h = dim_h(g->nchw), w = dim_w(g->nchw), c = dim_c(g->nchw);
    Shape in = {.rank = 4};
    if (n_sizes == 4) {
        for (int i = 0; i < 4; i++) in.dim[i] = sizes[i];
    } else if (n_sizes == 2) { /* spatial sizes only: batch from out_backprop, channels from the filter */
        in.dim[0] = dy->dim[0];
        in.dim[h] = sizes[0];
        in.dim[w] = sizes[1];
        in.dim[c] = in_c;
    } else {
        return err_set(err, ERR_INPUT, "input_sizes must have 4 (or 2) elements, got %d", n_sizes);
    }
    if (read_activation(&in, "input_sizes", g, err)) return -1;
    if (g->batch < 0) return err_set(err, ERR_INPUT, "input_sizes %s has a negative batch", shape_str(&in, sa, sizeof sa));
    if (g->in_c != in_c)
        return err_set(err, ERR_INPUT, "input_sizes %s has %lld channels but the filter %s has %lld input channels",
                       shape_str(&in, sa, sizeof sa), (long long)g->in_c, shape_str(filter, sb, sizeof sb), (long long)in_c);
    if (dy->dim[dim_c(g->nchw)] != out_c)
        return err_set(err, ERR_INPUT, "out_backprop %s has %lld channels but the filter %s has %lld output channels",
                       shape_str(dy, sa, sizeof sa), (long long)dy->dim[c], shape_str(filter, sb, sizeof sb), (long long)out_c);
    if (dy->dim[0] != g->batch)
        return err_set(err, ERR_INPUT, "out_backprop %s and input_sizes %s differ in batch", shape_str(dy, sa, sizeof sa),
                       shape_str(&in, sb, sizeof sb));
    g->k_h = filter->dim[0];
    g->k_w = filter->dim[1];
    if (g->k_h < 1 || g->k_w < 1 || out_c < 1)
        return err_set(err, ERR_INPUT, "filter %s has an empty dimension", shape_str(filter, sa, sizeof sa));
    g->groups = 1;
    g->group_in_c = in_c;
    g->out_c = out_c;
    if (window_attrs(n, true, true, g, err)) return -1;
    if (dy->dim[h] != g->out_h || dy->dim[w] != g->out_w)
        return err_set(err, ERR_INPUT, "out_backprop %s: a convolution of input_sizes %s gives %lldx%lld spatially",
                       shape_str(dy, sa, sizeof sa), shape_str(&in, sb, sizeof sb), (long long)g->out_h, (long long)g->out_w);
    return 0;
}

bool nn_geom_exceeds_input(const ConvGeom *g) {
    int64_t eff_h = (g->k_h - 1) * g->dil_h + 1, eff_w = (g->k_w - 1) * g->dil_w + 1; /* bounded by infer_window */
    return eff_h > g->in_h || eff_w > g->in_w || g->stride_h > g->in_h || g->stride_w > g->in_w;
}

static Shape layout_shape(bool nchw, int64_t n, int64_t h, int64_t w, int64_t c) {
    return nchw ? shape_make(4, (int64_t[]){n, c, h, w}) : shape_make(4, (int64_t[]){n, h, w, c});
}
Shape nn_geom_out_shape(const ConvGeom *g) { return layout_shape(g->nchw, g->batch, g->out_h, g->out_w, g->out_c); }
Shape nn_geom_in_shape(const ConvGeom *g) { return layout_shape(g->nchw, g->batch, g->in_h, g->in_w, g->in_c); }

int nn_same_dtype(const Graph *g, const Node *n, int a, int b, Err *err) {
    if (in_dtype(g, n, a) != in_dtype(g, n, b))
        return err_set(err, ERR_INPUT, "input %d is %s but input %d is %s", a, dtype_name(in_dtype(g, n, a)), b,
                       dtype_name(in_dtype(g, n, b)));
    return 0;
}

/* ---- fused ops ---- */

static const struct {
    const char *name;
    NnAct act;
    bool matmul_only;
} act_table[] = {
    {"Relu", NN_ACT_RELU, false},       {"Relu6", NN_ACT_RELU6, false},     {"Elu", NN_ACT_ELU, false},
    {"LeakyRelu", NN_ACT_LEAKY_RELU, false}, {"Sigmoid", NN_ACT_SIGMOID, false}, {"Tanh", NN_ACT_TANH, false},
    {"Prelu", NN_ACT_PRELU, false},     {"GeluExact", NN_ACT_GELU_EXACT, true},
    {"GeluApproximate", NN_ACT_GELU_APPROX, true},
};

const char *nn_act_name(NnAct act) {
    if (act == NN_ACT_NONE) return "none";
    if (act == NN_ACT_HARD_SWISH) return "_FusedHardSwish";
    for (size_t i = 0; i < sizeof act_table / sizeof act_table[0]; i++)
        if (act_table[i].act == act) return act_table[i].name;
    return "?";
}

static int parse_act(const char *name, FusedHost host, NnAct *act) {
    for (size_t i = 0; i < sizeof act_table / sizeof act_table[0]; i++)
        if (!strcmp(act_table[i].name, name) && (host == FUSED_HOST_MATMUL || !act_table[i].matmul_only)) {
            *act = act_table[i].act;
            return 0;
        }
    return -1;
}

int nn_fused_spec(const Node *n, FusedHost host, FusedSpec *s, Err *err) {
    memset(s, 0, sizeof *s);
    s->arg_bias = s->arg_bn = s->arg_add = s->arg_alpha = -1;
    s->epsilon = node_attr_f(n, "epsilon", 1e-4f);
    s->leakyrelu_alpha = node_attr_f(n, "leakyrelu_alpha", 0.2f);
    const AttrList *l = node_attr_list(n, "fused_ops");
    if (!l || l->n == 0) return err_set(err, ERR_INPUT, "fused_ops is empty or missing: nothing to fuse is not supported");
    if (l->kind != ATTR_STRING) return err_set(err, ERR_INPUT, "fused_ops must be a list of strings");
    int i = 0, next_arg = 2;
    const char *op = l->s[0].data;
    if (!strcmp(op, "BiasAdd")) {
        s->bias = true;
        s->arg_bias = next_arg++;
        i = 1;
        if (i < l->n && !strcmp(l->s[i].data, "Add")) {
            s->add = true;
            s->arg_add = next_arg++;
            i++;
        }
        if (i < l->n && !s->add && !strcmp(l->s[i].data, "_FusedHardSwish")) {
            s->act = NN_ACT_HARD_SWISH;
            i++;
        }
    } else if (!strcmp(op, "FusedBatchNorm") && host == FUSED_HOST_CONV) {
        s->batchnorm = true;
        s->arg_bn = next_arg;
        next_arg += 4;
        i = 1;
    } else {
        return err_set(err, ERR_INPUT, "fused op '%s' (first of %d) is not supported", op, l->n);
    }
    if (i < l->n && s->act == NN_ACT_NONE) {
        if (parse_act(l->s[i].data, host, &s->act))
            return err_set(err, ERR_INPUT, "fused op '%s' after %s is not supported", l->s[i].data, op);
        if (s->act == NN_ACT_PRELU) s->arg_alpha = next_arg++;
        i++;
    }
    if (i < l->n) return err_set(err, ERR_INPUT, "fused op '%s' at position %d is not supported", l->s[i].data, i);
    s->n_args = next_arg - 2;
    int64_t num_args = node_attr_i(n, "num_args", s->n_args);
    if (num_args != s->n_args)
        return err_set(err, ERR_INPUT, "num_args is %lld but the fused ops take %d extra inputs", (long long)num_args, s->n_args);
    if (n->n_inputs != next_arg)
        return err_set(err, ERR_INPUT, "the fused ops take %d extra inputs but the node has %d inputs in all (expected %d)",
                       s->n_args, n->n_inputs, next_arg);
    return 0;
}

/* Checks the extra inputs of a fused node against the output shape (channels on axis c_axis). */
int nn_check_fused_args(const Graph *g, const Node *n, const FusedSpec *s, const Shape *out, int c_axis, Err *err) {
    char sa[96], sb[96];
    int64_t c = out->dim[c_axis];
    for (int i = 2; i < n->n_inputs; i++)
        if (nn_same_dtype(g, n, 0, i, err)) return -1;
    if (s->bias) {
        const Shape *b = in_shape(g, n, s->arg_bias);
        if (b->rank != 1 || b->dim[0] != c)
            return err_set(err, ERR_INPUT, "bias %s must be [%lld] to match the output %s", shape_str(b, sa, sizeof sa),
                           (long long)c, shape_str(out, sb, sizeof sb));
    }
    if (s->batchnorm) {
        static const char *names[4] = {"scale", "offset", "mean", "variance"};
        for (int k = 0; k < 4; k++) {
            const Shape *v = in_shape(g, n, s->arg_bn + k);
            if (v->rank != 1 || v->dim[0] != c)
                return err_set(err, ERR_INPUT, "batch norm %s %s must be [%lld] to match the output %s", names[k],
                               shape_str(v, sa, sizeof sa), (long long)c, shape_str(out, sb, sizeof sb));
        }
    }
    if (s->add && !shape_equal(in_shape(g, n, s->arg_add), out))
        return err_set(err, ERR_INPUT, "the fused Add operand %s must have the output's shape %s",
                       shape_str(in_shape(g, n, s->arg_add), sa, sizeof sa), shape_str(out, sb, sizeof sb));
    if (s->act == NN_ACT_PRELU) {
        int64_t e = shape_numel(in_shape(g, n, s->arg_alpha));
        if (e != c && e != 1)
            return err_set(err, ERR_INPUT, "Prelu alpha %s must hold %lld values (one per channel) or 1",
                           shape_str(in_shape(g, n, s->arg_alpha), sa, sizeof sa), (long long)c);
    }
    return 0;
}

/* elementwise operations of the epilogue per output element */
int64_t nn_epilogue_flops(const FusedSpec *s) {
    return (s->bias ? 1 : 0) + (s->batchnorm ? 2 : 0) + (s->add ? 1 : 0) + (s->act != NN_ACT_NONE ? 1 : 0);
}
