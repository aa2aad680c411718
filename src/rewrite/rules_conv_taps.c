/* rules_conv_taps.c - crop_conv_taps: a convolution's filter taps that read only padding, for
 * every output pixel, are dropped from the filter.
 *
 * Conv2D / _FusedConv2D (NHWC, float32 Const filter [KH, KW, Cin, Cout], input H and W known).
 * Along one spatial dim (input size I, kernel K, stride s, dilation d, padding before p, output
 * size O), tap t reads input index o*s - p + t*d at output o; it is used when that index lies in
 * [0, I) for some o in [0, O). When the used taps of H and W are the contiguous ranges
 * [lo, hi] and some tap is unused, the filter becomes its [lo_h..hi_h, lo_w..hi_w] window and
 * the padding EXPLICIT with p' = p - lo*d before (>= 0, else no site) and as much after as the
 * same O needs (VALID when all four are 0). Each output sums exactly the same products as
 * before minus the terms whose input was a padding zero, in the same order: the result is the
 * same to float rounding (the padding terms were exact zeros), so the rule is exact.
 *
 * Where it matters: a ResNet-50 fed 32x32 images runs its conv5 stage on 1x1 maps, where a 3x3
 * SAME conv reads one tap in nine: the filter (9.4 MB float32, 2.4 MB int8) becomes 1x1, for
 * fp32, bf16 and int8 alike, in the saved graph as in the plan. */
#include <stdio.h>
#include <string.h>

#include "../graph/nn_attrs.h"
#include "edit.h"
#include "fold_util.h"
#include "rule.h"

/* the used taps [lo, hi] of one spatial dim; false when none is used or they are not contiguous */
static bool used_taps(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad, int64_t out, int64_t *lo, int64_t *hi) {
    *lo = *hi = -1;
    bool gap = false;
    for (int64_t t = 0; t < k; t++) {
        bool used = false;
        for (int64_t o = 0; o < out && !used; o++) {
            int64_t i = o * stride - pad + t * dil;
            used = i >= 0 && i < in;
        }
        if (!used) {
            gap |= *lo >= 0;
            continue;
        }
        if (gap) return false; /* used, unused, used: not one window */
        if (*lo < 0) *lo = t;
        *hi = t;
    }
    return *lo >= 0;
}

/* padding after of a dim once the window starts at `lo` and has k' taps, so that the output keeps
   its size: at least what the last output's last tap needs, never negative */
static int64_t pad_after(int64_t in, int64_t kk, int64_t stride, int64_t dil, int64_t pad_before, int64_t out) {
    int64_t need = (out - 1) * stride + dil * (kk - 1) + 1 - in - pad_before;
    return need > 0 ? need : 0;
}

static int64_t out_size(int64_t in, int64_t kk, int64_t stride, int64_t dil, int64_t pb, int64_t pa) {
    return (in + pb + pa - dil * (kk - 1) - 1) / stride + 1;
}

typedef struct TapCrop {
    int64_t lo_h, hi_h, lo_w, hi_w;
    int64_t pad[4]; /* top, bottom, left, right of the cropped conv */
} TapCrop;

/* node i is a site: its crop, or false */
static bool crop_of(const Graph *g, int i, TapCrop *c) {
    const Node *n = g->nodes[i];
    if ((n->op != OP_CONV2D && n->op != OP_FUSED_CONV2D) || n->n_inputs < 2 || n->n_outputs < 1) return false;
    const Tensor *f = edit_known(g, n->inputs[1]);
    if (!f || f->dtype != DT_FLOAT || f->shape.rank != 4 || n->outputs[0].dtype != DT_FLOAT) return false;
    const Value *x = graph_value(g, n->inputs[0]);
    if (!x || x->shape.rank != 4 || x->shape.dim[1] < 1 || x->shape.dim[2] < 1) return false;
    ConvGeom cg;
    Err e = {0};
    if (nn_conv_geom(n, false, &x->shape, &f->shape, &cg, &e) || cg.nchw || cg.out_h < 1 || cg.out_w < 1) return false;
    if (!used_taps(cg.in_h, cg.k_h, cg.stride_h, cg.dil_h, cg.pad_top, cg.out_h, &c->lo_h, &c->hi_h) ||
        !used_taps(cg.in_w, cg.k_w, cg.stride_w, cg.dil_w, cg.pad_left, cg.out_w, &c->lo_w, &c->hi_w))
        return false;
    if (c->lo_h == 0 && c->hi_h == cg.k_h - 1 && c->lo_w == 0 && c->hi_w == cg.k_w - 1) return false; /* every tap is used */
    int64_t kh = c->hi_h - c->lo_h + 1, kw = c->hi_w - c->lo_w + 1;
    c->pad[0] = cg.pad_top - c->lo_h * cg.dil_h;
    c->pad[2] = cg.pad_left - c->lo_w * cg.dil_w;
    if (c->pad[0] < 0 || c->pad[2] < 0) return false;
    c->pad[1] = pad_after(cg.in_h, kh, cg.stride_h, cg.dil_h, c->pad[0], cg.out_h);
    c->pad[3] = pad_after(cg.in_w, kw, cg.stride_w, cg.dil_w, c->pad[2], cg.out_w);
    return out_size(cg.in_h, kh, cg.stride_h, cg.dil_h, c->pad[0], c->pad[1]) == cg.out_h &&
           out_size(cg.in_w, kw, cg.stride_w, cg.dil_w, c->pad[2], c->pad[3]) == cg.out_w;
}

static int find_taps(const Graph *g, const GraphUses *u, SiteList *out, Err *err) {
    (void)u;
    for (int i = 0; i < g->n_nodes; i++) {
        TapCrop c;
        if (!crop_of(g, i, &c)) continue;
        Site s = {.n = 1, .nodes = {i}};
        if (sitelist_push(out, &s, err)) return -1;
    }
    return 0;
}

static int apply_taps(Graph *g, const Site *s, Err *err) {
    int i = s->nodes[0];
    TapCrop c;
    if (!crop_of(g, i, &c)) return err_set(err, ERR_RUNTIME, "crop_conv_taps: not a site");
    const Tensor *f = edit_known(g, g->nodes[i]->inputs[1]);
    int64_t kw = f->shape.dim[1], ci = f->shape.dim[2], co = f->shape.dim[3];
    Shape cs = shape_make(4, (int64_t[]){c.hi_h - c.lo_h + 1, c.hi_w - c.lo_w + 1, ci, co});
    Tensor t = {0};
    if (tensor_alloc(&t, DT_FLOAT, &cs, err)) return -1;
    const float *src = tensor_data(f);
    float *dst = tensor_mut(&t);
    size_t row = (size_t)(ci * co); /* one tap's [Cin, Cout] block, contiguous in HWIO */
    for (int64_t h = c.lo_h; h <= c.hi_h; h++)
        for (int64_t w = c.lo_w; w <= c.hi_w; w++, dst += row) memcpy(dst, src + (size_t)(h * kw + w) * row, row * sizeof *dst);
    char base[1100];
    snprintf(base, sizeof base, "%s/cropped_filter", g->nodes[i]->name);
    int fc = edit_add_const(g, base, &t, err);
    tensor_release(&t);
    if (fc < 0) return -1;
    Node *n = g->nodes[i];
    if (n->device && node_set_device(g->nodes[fc], n->device, err)) return -1;
    n->inputs[1] = (ValueRef){fc, 0};
    bool valid = !c.pad[0] && !c.pad[1] && !c.pad[2] && !c.pad[3];
    if (node_set_attr_s(n, "padding", valid ? "VALID" : "EXPLICIT", err)) return -1;
    int64_t ep[8] = {0, 0, c.pad[0], c.pad[1], c.pad[2], c.pad[3], 0, 0};
    return node_set_attr_list_i(n, "explicit_paddings", ep, valid ? 0 : 8, err);
}

const RuleDef crop_conv_taps = {
    .name = "crop_conv_taps",
    .family = "fold",
    .flags = RULE_EXACT | RULE_TF,
    .doc = "Conv2D/_FusedConv2D (NHWC, Const filter) whose edge taps read only padding for every output pixel (a 3x3 SAME conv "
           "on a 1x1 map) => the filter cropped to the taps used, padding EXPLICIT/VALID adjusted (same output)",
    .find = find_taps,
    .apply = apply_taps,
};
