/* dnn_conv.c - oneDNN kernels for the convolution family: Conv2D, DepthwiseConv2dNative,
 * _FusedConv2D, FusedDepthwiseConv2dNative, _FusedDepthwiseConv2dNative (forward
 * convolution; depthwise = grouped with groups = C) and Conv2DBackpropInput (deconvolution).
 *
 * At compile time: geometry from nn_attrs.h (the reference kernels use the same, so padding
 * and output sizes agree), a primitive with plain activations (nhwc or nchw) and weights of
 * format `any`, found in or added to the context's primitive cache; the filter is prepacked
 * once into the chosen layout, the fused ops become bias + post-ops (dnn_conv_postops.c,
 * batch norm folded by dnn_conv_weights.c). Memory objects are made once; run only sets
 * their data handles and executes.
 *
 * Declined (the plan uses the reference kernel): filters not known at compile time, dtypes
 * other than float32 / bfloat16, fused ops without an exact oneDNN equivalent (Prelu), batch
 * norm arguments not known, a bfloat16 bias not known, an empty batch, and whatever oneDNN
 * reports unimplemented. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnn_conv_internal.h"

/* One convolution or deconvolution problem in oneDNN's terms. */
typedef struct ConvProblem {
    bool deconv, nchw;
    int dtype;
    int64_t n, ic, ih, iw; /* source (for the deconvolution: out_backprop) */
    int64_t oc, oh, ow;    /* destination */
    int64_t groups;
    int64_t stride[2], dil[2], pad_l[2], pad_r[2]; /* dil: oneDNN's (TF's - 1) */
    int wrank;
    int64_t wdims[5], wstrides[5]; /* logical filter dims and the strides of TF's layout */
} ConvProblem;

typedef struct ConvState {
    DnnCtx *ctx;
    dnnl_primitive_t prim; /* borrowed from the cache */
    dnnl_memory_t src, wei, bias, dst, scratch;
    void *wei_buf;   /* prepacked filter */
    float *bias_buf; /* float32 bias (BiasAdd widened, or folded batch norm); NULL for a run-time bias */
    int src_arg;     /* input index of the activation */
    int bias_arg;    /* input index of a float32 bias read at run time, or -1 */
    int add_arg;     /* input index of the residual addend, or -1 */
    size_t src_bytes, dst_bytes;
} ConvState;

static void conv_destroy(void *state) {
    ConvState *s = state;
    if (!s) return;
    dnnl_memory_t mems[5] = {s->src, s->wei, s->bias, s->dst, s->scratch};
    for (int i = 0; i < 5; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    free(s->wei_buf);
    free(s->bias_buf);
    free(s);
}

static int conv_run(void *state, const Tensor *in, Tensor *out, void *scratch, Err *err) {
    ConvState *s = state;
    if (tensor_nbytes(&in[s->src_arg]) != s->src_bytes || tensor_nbytes(&out[0]) != s->dst_bytes)
        return err_set(err, ERR_RUNTIME, "convolution: tensor sizes differ from the compiled ones");
    void *dst = out[0].buf->data;
    if (s->add_arg >= 0) {
        /* the sum post-op accumulates into dst: dst must hold the addend before running,
           unless the plan placed the output on the addend's buffer */
        const void *a = tensor_data(&in[s->add_arg]);
        if (tensor_nbytes(&in[s->add_arg]) != s->dst_bytes)
            return err_set(err, ERR_RUNTIME, "convolution: the Add operand differs in size from the output");
        if (a != dst) memcpy(dst, a, s->dst_bytes);
    }
    dnnl_exec_arg_t args[5];
    int na = 0;
    if (dnn_check(dnnl_memory_set_data_handle(s->src, (void *)tensor_data(&in[s->src_arg])), "source handle", err) ||
        dnn_check(dnnl_memory_set_data_handle(s->dst, dst), "destination handle", err))
        return -1;
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, s->src};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, s->wei};
    args[na++] = (dnnl_exec_arg_t){DNNL_ARG_DST, s->dst};
    if (s->bias) {
        if (s->bias_arg >= 0 &&
            dnn_check(dnnl_memory_set_data_handle(s->bias, (void *)tensor_data(&in[s->bias_arg])), "bias handle", err))
            return -1;
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, s->bias};
    }
    if (s->scratch) {
        if (!scratch) return err_set(err, ERR_RUNTIME, "convolution: no scratchpad given");
        if (dnn_check(dnnl_memory_set_data_handle(s->scratch, scratch), "scratchpad handle", err)) return -1;
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, s->scratch};
    }
    return dnn_exec(s->ctx, s->prim, na, args, err);
}

/* activation descriptor [N, C, H, W] in the graph's layout */
static int act_md(dnnl_memory_desc_t *md, const ConvProblem *p, int64_t c, int64_t h, int64_t w, Err *err) {
    dnnl_dims_t d = {p->n, c, h, w};
    return dnn_check(dnnl_memory_desc_init_by_tag(md, 4, d, dnn_dtype(p->dtype), p->nchw ? dnnl_nchw : dnnl_nhwc),
                     "activation descriptor", err);
}

static void problem_key(const ConvProblem *p, const ConvEpi *e, char *key, size_t cap) {
    char epi[128];
    conv_epi_key(e, epi, sizeof epi);
    int w = snprintf(key, cap, "%s|%s|%s|src%lldx%lldx%lldx%lld|dst%lldx%lldx%lld|g%lld|s%lldx%lld|d%lldx%lld|"
                               "pl%lldx%lld|pr%lldx%lld|w",
                     p->deconv ? "deconv" : "conv", dtype_name(p->dtype), p->nchw ? "nchw" : "nhwc", (long long)p->n,
                     (long long)p->ic, (long long)p->ih, (long long)p->iw, (long long)p->oc, (long long)p->oh,
                     (long long)p->ow, (long long)p->groups, (long long)p->stride[0], (long long)p->stride[1],
                     (long long)p->dil[0], (long long)p->dil[1], (long long)p->pad_l[0], (long long)p->pad_l[1],
                     (long long)p->pad_r[0], (long long)p->pad_r[1]);
    for (int i = 0; i < p->wrank && w > 0 && (size_t)w < cap; i++)
        w += snprintf(key + w, cap - (size_t)w, "%s%lld", i ? "x" : "", (long long)p->wdims[i]);
    if (w > 0 && (size_t)w < cap) snprintf(key + w, cap - (size_t)w, "|%s", epi);
}

/* Output maps of at most this many pixels (batch included) make a 1x1 convolution a
   matrix-vector product bound by reading its weights, where oneDNN's jit_1x1 kernel streams
   them faster than brgconv_1x1, its first choice (ResNet-50's last stage at 32x32 input). */
enum { CONV_TINY_MAP_PIXELS = 16 };

static bool prefer_jit_1x1(const ConvProblem *p) {
    return !p->deconv && p->dtype == DT_FLOAT && p->wrank == 4 && p->wdims[2] == 1 && p->wdims[3] == 1 &&
           p->n * p->oh * p->ow <= CONV_TINY_MAP_PIXELS;
}

/* The primitive descriptor oneDNN lists first for desc, or for prefer_1x1 the first named
   jit_1x1 among its next few, when there is one. Returns a dnnl status. */
static dnnl_status_t pick_pd(dnnl_primitive_desc_t *pd, const void *desc, const_dnnl_primitive_attr_t attr,
                             dnnl_engine_t engine, bool prefer_1x1) {
    if (!prefer_1x1) return dnnl_primitive_desc_create(pd, desc, attr, engine, NULL);
    dnnl_primitive_desc_iterator_t it;
    dnnl_status_t st = dnnl_primitive_desc_iterator_create(&it, desc, attr, engine, NULL);
    if (st != dnnl_success) return st;
    *pd = NULL;
    for (int k = 0; k < 4; k++) {
        dnnl_primitive_desc_t cand = dnnl_primitive_desc_iterator_fetch(it);
        if (!cand) break;
        const char *name = NULL;
        if (dnnl_primitive_desc_query(cand, dnnl_query_impl_info_str, 0, &name) != dnnl_success) name = NULL;
        bool want = name && !strncmp(name, "jit_1x1:", 8);
        if (!*pd || want) {
            if (*pd) dnnl_primitive_desc_destroy(*pd);
            *pd = cand;
        } else {
            dnnl_primitive_desc_destroy(cand);
        }
        if (want || dnnl_primitive_desc_iterator_next(it) != dnnl_success) break;
    }
    dnnl_primitive_desc_iterator_destroy(it);
    return *pd ? dnnl_success : dnnl_unimplemented;
}

/* Creates the primitive descriptor for p; returns 1, 0 when oneDNN has no implementation
   (decline), -1 on error. */
static int make_pd(DnnCtx *ctx, const ConvProblem *p, const ConvEpi *e, dnnl_primitive_desc_t *pd, Err *err) {
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t wd, strides = {p->stride[0], p->stride[1]}, dil = {p->dil[0], p->dil[1]};
    dnnl_dims_t pl = {p->pad_l[0], p->pad_l[1]}, pr = {p->pad_r[0], p->pad_r[1]};
    dnnl_dims_t bd = {p->oc};
    for (int i = 0; i < p->wrank; i++) wd[i] = p->wdims[i];
    if (act_md(&src, p, p->ic, p->ih, p->iw, err) || act_md(&dst, p, p->oc, p->oh, p->ow, err)) return -1;
    /* `any` lets oneDNN pick its blocked weight layout: the fast kernels need it */
    if (dnn_check(dnnl_memory_desc_init_by_tag(&wei, p->wrank, wd, dnn_dtype(p->dtype), dnnl_format_tag_any),
                  "weights descriptor", err) ||
        dnn_check(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a), "bias descriptor", err))
        return -1;
    const dnnl_memory_desc_t *bias_p = e->bias ? &bias : NULL;
    dnnl_status_t st;
    dnnl_convolution_desc_t cd;
    dnnl_deconvolution_desc_t dd;
    const void *desc;
    if (p->deconv) {
        st = dnnl_dilated_deconvolution_forward_desc_init(&dd, dnnl_forward_inference, dnnl_deconvolution_direct, &src,
                                                          &wei, bias_p, &dst, strides, dil, pl, pr);
        desc = &dd;
    } else {
        /* direct, not auto: Winograd would change the numerics */
        st = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src,
                                                        &wei, bias_p, &dst, strides, dil, pl, pr);
        desc = &cd;
    }
    if (st == dnnl_unimplemented) return 0;
    if (dnn_check(st, "convolution descriptor", err)) return -1;
    dnnl_primitive_attr_t attr;
    if (dnn_check(dnnl_primitive_attr_create(&attr), "primitive attributes", err)) return -1;
    int rc = -1;
    if (dnn_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode", err) ||
        conv_epi_attr(e, attr, err))
        goto done;
    st = pick_pd(pd, desc, attr, ctx->engine, prefer_jit_1x1(p));
    if (st == dnnl_unimplemented) rc = 0;
    else rc = dnn_check(st, "convolution primitive descriptor", err) ? -1 : 1;
done:
    dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* Builds the kernel for p: primitive (cached), prepacked filter w (float32, TF's layout as
   p->wstrides), bias (bias_f32 taken over, or read from input bias_arg at run time), memory
   objects. Returns 1, 0 (declined), -1. bias_f32 is freed in every case. */
static int build_kernel(DnnCtx *ctx, const ConvProblem *p, const ConvEpi *e, const float *w, float *bias_f32,
                        int src_arg, int bias_arg, int add_arg, FastKernel *k, Err *err) {
    char key[512];
    problem_key(p, e, key, sizeof key);
    const_dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = dnn_cache_get(ctx, key, &pd);
    if (!prim) {
        dnnl_primitive_desc_t npd = NULL;
        int rc = make_pd(ctx, p, e, &npd, err);
        if (rc <= 0 || dnn_primitive(ctx, key, npd, &prim, &pd, err)) {
            free(bias_f32);
            return rc <= 0 ? rc : -1;
        }
    }
    ConvState *s = calloc(1, sizeof *s);
    if (!s) {
        free(bias_f32);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    s->ctx = ctx;
    s->prim = prim;
    s->bias_buf = bias_f32;
    s->src_arg = src_arg;
    s->bias_arg = bias_arg;
    s->add_arg = add_arg;
    size_t esz = dtype_size(p->dtype);
    s->src_bytes = (size_t)(p->n * p->ic * p->ih * p->iw) * esz;
    s->dst_bytes = (size_t)(p->n * p->oc * p->oh * p->ow) * esz;
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *bias_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *scr_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t wbytes = 0;
    if (!src_md || !wei_md || !dst_md || (e->bias && !bias_md)) {
        err_set(err, ERR_RUNTIME, "convolution: oneDNN did not report its memory descriptors");
        goto fail;
    }
    if (conv_prepack(ctx, w, p->wrank, p->wdims, p->wstrides, wei_md, &s->wei_buf, &wbytes, err) ||
        dnn_mem(ctx, src_md, &s->src, err) || dnn_mem(ctx, dst_md, &s->dst, err) ||
        dnn_mem(ctx, wei_md, &s->wei, err) ||
        dnn_check(dnnl_memory_set_data_handle(s->wei, s->wei_buf), "weights handle", err))
        goto fail;
    if (e->bias) {
        if (dnn_mem(ctx, bias_md, &s->bias, err)) goto fail;
        if (s->bias_buf && dnn_check(dnnl_memory_set_data_handle(s->bias, s->bias_buf), "bias handle", err)) goto fail;
    }
    k->scratch_bytes = dnn_scratch_bytes(pd);
    if (k->scratch_bytes && dnn_mem(ctx, scr_md, &s->scratch, err)) goto fail;
    k->impl = dnn_impl_name(pd);
    k->state = s;
    k->run = conv_run;
    k->destroy = conv_destroy;
    k->weight_bytes = wbytes + (s->bias_buf ? (size_t)p->oc * sizeof(float) : 0);
    k->inplace = add_arg;
    return 1;
fail:
    conv_destroy(s);
    return -1;
}

/* padding after = whatever makes (in + before + after - window) / stride + 1 == out; TF's
   VALID can leave a remainder (negative), which oneDNN needs as 0 */
static int64_t pad_after(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dil, int64_t before) {
    int64_t r = (out - 1) * stride + (k - 1) * dil + 1 - in - before;
    return r > 0 ? r : 0;
}

static bool lowp_or_f32(int dt) { return dt == DT_FLOAT || dt == DT_BFLOAT16; }

/* The largest window extent or stride oneDNN is given when it reaches past the input. */
enum { CONV_OVERHANG_MAX = 64 };

/* One spatial dim of a forward convolution oneDNN should run. A window or stride larger than
   the input is common on tiny maps (a 3x3 SAME convolution over 2x2 or 1x1 in a ResNet's last
   stages): fine when the padding covers the overhang and each side's padding is less than the
   window, as TF's SAME gives. Huge windows or strides (hostile graphs) stay with the reference
   kernel, which visits only the in-bounds part (oneDNN would hang or fail on them). */
static bool dim_fits(int64_t in, int64_t k, int64_t dil, int64_t stride, int64_t pad_l, int64_t pad_r) {
    int64_t eff = (k - 1) * dil + 1;
    if (eff <= in && stride <= in) return true;
    return eff <= CONV_OVERHANG_MAX && stride <= CONV_OVERHANG_MAX && eff <= in + pad_l + pad_r && pad_l < eff &&
           pad_r < eff;
}

static GemvMode gemv_mode = GEMV_FEWER_TAPS;
void conv_gemv_set_mode(GemvMode mode) { gemv_mode = mode; }

static bool use_gemv(const GemvGeom *g, const ConvEpi *e) {
    if (gemv_mode == GEMV_OFF || !gemv_conv_fits(g, e)) return false;
    return gemv_mode == GEMV_ALWAYS || gemv_kept_taps(g) < g->k_h * g->k_w;
}

/* Conv2D, depthwise and the fused forms */
static int compile_forward(DnnCtx *ctx, const Graph *g, const Node *n, bool depthwise, bool fused, FastKernel *k,
                           Err *err) {
    if (n->n_inputs < 2 || n->n_outputs < 1) return 0;
    const Value *x = node_input_value(g, n, 0), *f = node_input_value(g, n, 1), *y = &n->outputs[0];
    int dt = x->dtype;
    const Tensor *w = &f->known;
    if (!lowp_or_f32(dt) || y->dtype != dt || f->dtype != dt || !w->buf || w->dtype != dt) return 0;
    if (!shape_is_known(&x->shape) || !shape_is_known(&y->shape)) return 0;
    Err quiet; /* malformed nodes are declined: the reference kernel reports them */
    ConvGeom geo;
    if (nn_conv_geom(n, depthwise, &x->shape, &w->shape, &geo, &quiet)) return 0;
    Shape os = nn_geom_out_shape(&geo);
    if (!shape_equal(&os, &y->shape) || geo.batch < 1) return 0;
    FusedSpec spec;
    memset(&spec, 0, sizeof spec);
    spec.arg_bias = spec.arg_bn = spec.arg_add = spec.arg_alpha = -1;
    if (fused && (nn_fused_spec(n, FUSED_HOST_CONV, &spec, &quiet) ||
                  nn_check_fused_args(g, n, &spec, &os, geo.nchw ? 1 : 3, &quiet)))
        return 0;
    ConvEpi epi;
    if (!conv_epi_from_spec(&spec, &epi)) return 0;
    const int64_t oc = geo.out_c;
    int bias_arg = -1;
    const Tensor *bias_t = NULL, *bn = NULL;
    Tensor bn4[4];
    if (spec.bias) {
        const Value *b = node_input_value(g, n, spec.arg_bias);
        if (b->known.buf) bias_t = &b->known;
        else if (dt == DT_FLOAT) bias_arg = spec.arg_bias; /* passed as is at run time */
        else return 0;
    }
    if (spec.batchnorm) {
        for (int i = 0; i < 4; i++) {
            const Value *v = node_input_value(g, n, spec.arg_bn + i);
            if (!v->known.buf || tensor_numel(&v->known) != oc) return 0;
            bn4[i] = v->known;
        }
        bn = bn4;
    }

    ConvProblem p;
    memset(&p, 0, sizeof p);
    p.nchw = geo.nchw;
    p.dtype = dt;
    p.n = geo.batch;
    p.ic = geo.in_c;
    p.ih = geo.in_h;
    p.iw = geo.in_w;
    p.oc = oc;
    p.oh = geo.out_h;
    p.ow = geo.out_w;
    p.groups = geo.groups;
    p.stride[0] = geo.stride_h;
    p.stride[1] = geo.stride_w;
    p.dil[0] = geo.dil_h - 1;
    p.dil[1] = geo.dil_w - 1;
    p.pad_l[0] = geo.pad_top;
    p.pad_l[1] = geo.pad_left;
    p.pad_r[0] = pad_after(geo.in_h, geo.out_h, geo.k_h, geo.stride_h, geo.dil_h, geo.pad_top);
    p.pad_r[1] = pad_after(geo.in_w, geo.out_w, geo.k_w, geo.stride_w, geo.dil_w, geo.pad_left);
    if (!dim_fits(geo.in_h, geo.k_h, geo.dil_h, geo.stride_h, p.pad_l[0], p.pad_r[0]) ||
        !dim_fits(geo.in_w, geo.k_w, geo.dil_w, geo.stride_w, p.pad_l[1], p.pad_r[1]))
        return 0;
    const int64_t kh = geo.k_h, kw = geo.k_w, gic = geo.group_in_c, cog = oc / geo.groups;
    /* TF's filter memory is [KH][KW][I/G][O] with output channel grp*cog + o (depthwise
       [KH][KW][C][M] is the same with I/G = 1, channel c*M + m): describe it by strides */
    if (geo.groups == 1) {
        p.wrank = 4;
        int64_t d[4] = {oc, gic, kh, kw}, s[4] = {1, oc, kw * gic * oc, gic * oc};
        memcpy(p.wdims, d, sizeof d);
        memcpy(p.wstrides, s, sizeof s);
    } else {
        p.wrank = 5;
        int64_t d[5] = {geo.groups, cog, gic, kh, kw}, s[5] = {cog, 1, oc, kw * gic * oc, gic * oc};
        memcpy(p.wdims, d, sizeof d);
        memcpy(p.wstrides, s, sizeof s);
    }

    float *bias = NULL;
    double *mul = NULL;
    if (bias_t || bn) {
        bias = malloc((size_t)oc * sizeof *bias);
        if (!bias) return err_set(err, ERR_RUNTIME, "out of memory");
    }
    if (bn) {
        mul = malloc((size_t)oc * sizeof *mul);
        if (!mul) {
            free(bias);
            return err_set(err, ERR_RUNTIME, "out of memory");
        }
        conv_fold_bn(bn, spec.epsilon, oc, mul, bias);
    } else if (bias_t) {
        conv_vec_f32(bias_t, bias, oc);
    }
    float *wf = conv_filter_f32(w, mul, oc);
    free(mul);
    if (!wf) {
        free(bias);
        return err_set(err, ERR_RUNTIME, "out of memory");
    }
    GemvGeom gg = {geo.batch, geo.in_h, geo.in_w, geo.in_c, geo.out_h, geo.out_w, oc, kh, kw,
                   geo.stride_h, geo.stride_w, geo.dil_h, geo.dil_w, geo.pad_top, geo.pad_left};
    if (dt == DT_FLOAT && !geo.nchw && geo.groups == 1 && bias_arg < 0 && use_gemv(&gg, &epi)) {
        int rc = gemv_conv_build(&gg, &epi, wf, bias, 0, spec.add ? spec.arg_add : -1, k, err);
        free(wf);
        return rc;
    }
    int rc = build_kernel(ctx, &p, &epi, wf, bias, 0, bias_arg, spec.add ? spec.arg_add : -1, k, err);
    free(wf);
    return rc;
}

/* Conv2DBackpropInput(input_sizes, filter, out_backprop) as a oneDNN deconvolution */
static int compile_backprop_input(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    if (n->n_inputs != 3 || n->n_outputs < 1) return 0;
    const Value *sz = node_input_value(g, n, 0), *f = node_input_value(g, n, 1), *dy = node_input_value(g, n, 2);
    const Value *y = &n->outputs[0];
    int dt = dy->dtype;
    const Tensor *w = &f->known;
    if (!lowp_or_f32(dt) || y->dtype != dt || f->dtype != dt || !w->buf || w->dtype != dt || !sz->known.buf) return 0;
    if (!shape_is_known(&dy->shape) || !shape_is_known(&y->shape)) return 0;
    Err quiet;
    int64_t sizes[4];
    int count = tensor_to_i64(&sz->known, sizes, 4, &quiet);
    if (count < 0) return 0;
    ConvGeom geo;
    if (nn_backprop_input_geom(n, sizes, count, &w->shape, &dy->shape, &geo, &quiet)) return 0;
    Shape xs = nn_geom_in_shape(&geo);
    if (!shape_equal(&xs, &y->shape) || geo.batch < 1 || nn_geom_exceeds_input(&geo)) return 0;

    /* the deconvolution's source is out_backprop (forward out_c channels), its destination
       the forward input (in_c channels); its weights [O=in_c, I=out_c, KH, KW] are TF's
       [KH][KW][in_c][out_c] filter read with the roles of the channel dims swapped */
    ConvProblem p;
    memset(&p, 0, sizeof p);
    p.deconv = true;
    p.nchw = geo.nchw;
    p.dtype = dt;
    p.n = geo.batch;
    p.ic = geo.out_c;
    p.ih = geo.out_h;
    p.iw = geo.out_w;
    p.oc = geo.in_c;
    p.oh = geo.in_h;
    p.ow = geo.in_w;
    p.groups = 1;
    p.stride[0] = geo.stride_h;
    p.stride[1] = geo.stride_w;
    p.dil[0] = geo.dil_h - 1;
    p.dil[1] = geo.dil_w - 1;
    p.pad_l[0] = geo.pad_top;
    p.pad_l[1] = geo.pad_left;
    p.pad_r[0] = pad_after(geo.in_h, geo.out_h, geo.k_h, geo.stride_h, geo.dil_h, geo.pad_top);
    p.pad_r[1] = pad_after(geo.in_w, geo.out_w, geo.k_w, geo.stride_w, geo.dil_w, geo.pad_left);
    p.wrank = 4;
    const int64_t ci = geo.in_c, co = geo.out_c;
    int64_t d[4] = {ci, co, geo.k_h, geo.k_w}, s[4] = {co, 1, geo.k_w * ci * co, ci * co};
    memcpy(p.wdims, d, sizeof d);
    memcpy(p.wstrides, s, sizeof s);
    ConvEpi epi = {.act = dnnl_alg_kind_undef};
    float *wf = conv_filter_f32(w, NULL, co);
    if (!wf) return err_set(err, ERR_RUNTIME, "out of memory");
    int rc = build_kernel(ctx, &p, &epi, wf, NULL, 2, -1, -1, k, err);
    free(wf);
    return rc;
}

int fast_compile_conv(DnnCtx *ctx, const Graph *g, const Node *n, FastKernel *k, Err *err) {
    switch (n->op) {
    case OP_CONV2D: return compile_forward(ctx, g, n, false, false, k, err);
    case OP_DEPTHWISE_CONV2D: return compile_forward(ctx, g, n, true, false, k, err);
    case OP_FUSED_CONV2D: return compile_forward(ctx, g, n, false, true, k, err);
    case OP_FUSED_DEPTHWISE:
    case OP_FUSED_DEPTHWISE_INTERNAL: return compile_forward(ctx, g, n, true, true, k, err);
    case OP_CONV2D_BACKPROP_INPUT: return compile_backprop_input(ctx, g, n, k, err);
    default: return 0;
    }
}
