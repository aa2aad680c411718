/* bert.c - BERT encoders (tiny, mini, base) in TF's op vocabulary, named like the original
 * TF1 BERT (google-research/bert modeling.py) frozen with convert_variables_to_constants:
 * weights are Consts "bert/encoder/layer_0/attention/self/query/kernel", ops
 * "bert/encoder/layer_0/attention/self/query/MatMul", LayerNorm spelled out as
 * "<ln>/moments/mean", "<ln>/batchnorm/Rsqrt", ...
 *
 * Graph (B = batch, -1 in the Placeholders; S = seq_len; H = hidden):
 *   inputs int32 input_ids, input_mask, segment_ids [B,S]
 *   embeddings: GatherV2(word table, ids) + GatherV2(token-type table, segment ids)
 *               + Slice(position table, [0,0], [S,-1]) (broadcast over B), LayerNorm,
 *               Reshape to [B*S, H] (the shape Const uses -1 for B*S, as TF does)
 *   mask adder: (1 - Reshape(Cast(input_mask), [-1,1,1,S])) * -10000, built once
 *   per layer: q/k/v MatMul+BiasAdd, Reshape [-1,S,heads,dh], Transpose [0,2,1,3];
 *              BatchMatMulV2(q, k, adj_y) * 1/sqrt(dh) + mask; Softmax; BatchMatMulV2(p, v);
 *              Transpose back, Reshape [-1,H]; dense + residual + LayerNorm;
 *              dense -> GELU x*0.5*(1+Erf(x/sqrt 2)) -> dense + residual + LayerNorm
 *   outputs: Identity "sequence_output" [B,S,H] and Identity "pooled_output" =
 *            Tanh(dense(StridedSlice(sequence, [:,0,:]))) [B,H]
 * Weights: kernels and embeddings truncated N(0, 0.02) (BERT's initializer), biases
 * N(0, 0.02) so that bias folding has something to fold, LayerNorm gamma 1 + 0.05 N,
 * beta 0.02 N. LayerNorm keeps activations bounded, so BERT needs no calibration. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "builder.h"

#define VOCAB 30522
#define MAX_POSITIONS 512
#define TYPE_VOCAB 2
#define INIT_STD 0.02
#define LN_EPS 1e-12f

typedef struct BertCfg {
    int layers, hidden, heads, intermediate, seq;
} BertCfg;

static const char *fmt_name(char *buf, size_t cap, const char *prefix, const char *suffix) {
    snprintf(buf, cap, "%s/%s", prefix, suffix);
    return buf;
}

/* LayerNorm over the last axis written out as TF emits it (see the header comment) */
static ValueRef layer_norm(Builder *b, const char *p, ValueRef x) {
    char n[12][256];
    int64_t h = bld_dim(b, x, -1);
    if (!bld_ok(b)) return BLD_NONE;
    Shape s = shape_make(1, (int64_t[]){h});
    Tensor gamma = bld_normal(b, s, 1.0, 0.05), beta = bld_normal(b, s, 0.0, 0.02);
    ValueRef vbeta = bld_const(b, fmt_name(n[0], sizeof n[0], p, "beta"), &beta);
    ValueRef vgamma = bld_const(b, fmt_name(n[1], sizeof n[1], p, "gamma"), &gamma);
    int32_t last = -1;
    ValueRef mean = bld_mean(b, fmt_name(n[2], sizeof n[2], p, "moments/mean"), x, &last, 1, true);
    ValueRef sqd = bld_binary(b, fmt_name(n[3], sizeof n[3], p, "moments/SquaredDifference"), "SquaredDifference", x, mean);
    ValueRef var = bld_mean(b, fmt_name(n[4], sizeof n[4], p, "moments/variance"), sqd, &last, 1, true);
    ValueRef eps = bld_scalar_f32(b, fmt_name(n[5], sizeof n[5], p, "batchnorm/add/y"), LN_EPS);
    ValueRef ve = bld_binary(b, fmt_name(n[6], sizeof n[6], p, "batchnorm/add"), "AddV2", var, eps);
    ValueRef rstd = bld_unary(b, fmt_name(n[7], sizeof n[7], p, "batchnorm/Rsqrt"), "Rsqrt", ve);
    ValueRef m = bld_binary(b, fmt_name(n[8], sizeof n[8], p, "batchnorm/mul"), "Mul", rstd, vgamma);
    ValueRef xm = bld_binary(b, fmt_name(n[9], sizeof n[9], p, "batchnorm/mul_1"), "Mul", x, m);
    ValueRef mm = bld_binary(b, fmt_name(n[10], sizeof n[10], p, "batchnorm/mul_2"), "Mul", mean, m);
    ValueRef sh = bld_binary(b, fmt_name(n[11], sizeof n[11], p, "batchnorm/sub"), "Sub", vbeta, mm);
    return bld_binary(b, fmt_name(n[0], sizeof n[0], p, "batchnorm/add_1"), "AddV2", xm, sh);
}

static ValueRef dense(Builder *b, const char *layer, ValueRef x, int units) {
    return bld_dense(b, layer, x, units, INIT_STD, INIT_STD);
}

/* [B*S, H] -> Reshape [B, S, heads, dh] -> Transpose [B, heads, S, dh] */
static ValueRef split_heads(Builder *b, const char *p, const char *reshape, const char *transpose, ValueRef x,
                            const BertCfg *c) {
    char rn[256], tn[256];
    int dh = c->hidden / c->heads;
    ValueRef y = bld_reshape(b, fmt_name(rn, sizeof rn, p, reshape), x, (int32_t[]){-1, c->seq, c->heads, dh}, 4);
    return bld_transpose(b, fmt_name(tn, sizeof tn, p, transpose), y, (int32_t[]){0, 2, 1, 3}, 4);
}

static ValueRef encoder_layer(Builder *b, int l, ValueRef x, ValueRef mask_adder, const BertCfg *c) {
    char p[64], sp[96], n[16][256];
    snprintf(p, sizeof p, "encoder/layer_%d", l);
    snprintf(sp, sizeof sp, "%s/attention/self", p);
    int dh = c->hidden / c->heads;

    ValueRef q = dense(b, fmt_name(n[0], sizeof n[0], sp, "query"), x, c->hidden);
    ValueRef k = dense(b, fmt_name(n[1], sizeof n[1], sp, "key"), x, c->hidden);
    ValueRef v = dense(b, fmt_name(n[2], sizeof n[2], sp, "value"), x, c->hidden);
    q = split_heads(b, sp, "Reshape", "transpose", q, c);
    k = split_heads(b, sp, "Reshape_1", "transpose_1", k, c);
    v = split_heads(b, sp, "Reshape_2", "transpose_2", v, c);

    ValueRef scores = bld_batch_matmul(b, fmt_name(n[3], sizeof n[3], sp, "MatMul"), q, k, false, true);
    ValueRef scale = bld_scalar_f32(b, fmt_name(n[4], sizeof n[4], sp, "Mul/y"), (float)(1.0 / sqrt((double)dh)));
    scores = bld_binary(b, fmt_name(n[5], sizeof n[5], sp, "Mul"), "Mul", scores, scale);
    scores = bld_binary(b, fmt_name(n[6], sizeof n[6], sp, "add"), "AddV2", scores, mask_adder);
    ValueRef probs = bld_softmax(b, fmt_name(n[7], sizeof n[7], sp, "Softmax"), scores);
    ValueRef ctx = bld_batch_matmul(b, fmt_name(n[8], sizeof n[8], sp, "MatMul_1"), probs, v, false, false);
    ctx = bld_transpose(b, fmt_name(n[9], sizeof n[9], sp, "transpose_3"), ctx, (int32_t[]){0, 2, 1, 3}, 4);
    ctx = bld_reshape(b, fmt_name(n[10], sizeof n[10], sp, "Reshape_3"), ctx, (int32_t[]){-1, c->hidden}, 2);

    char op[96];
    snprintf(op, sizeof op, "%s/attention/output", p);
    ValueRef attn = dense(b, fmt_name(n[11], sizeof n[11], op, "dense"), ctx, c->hidden);
    attn = bld_binary(b, fmt_name(n[12], sizeof n[12], op, "add"), "AddV2", attn, x);
    attn = layer_norm(b, fmt_name(n[13], sizeof n[13], op, "LayerNorm"), attn);

    /* feed-forward with exact (Erf) GELU */
    char ip[96], gp[128], g[6][256];
    snprintf(ip, sizeof ip, "%s/intermediate/dense", p);
    snprintf(gp, sizeof gp, "%s/Gelu", ip);
    ValueRef h = dense(b, ip, attn, c->intermediate);
    ValueRef c1 = bld_scalar_f32(b, fmt_name(g[0], sizeof g[0], gp, "mul/y"), 0.7071067811865476f);
    ValueRef e = bld_binary(b, fmt_name(g[1], sizeof g[1], gp, "mul"), "Mul", h, c1);
    e = bld_unary(b, fmt_name(g[2], sizeof g[2], gp, "Erf"), "Erf", e);
    ValueRef one = bld_scalar_f32(b, fmt_name(g[3], sizeof g[3], gp, "add/x"), 1.0f);
    e = bld_binary(b, fmt_name(g[4], sizeof g[4], gp, "add"), "AddV2", one, e);
    ValueRef half = bld_scalar_f32(b, fmt_name(g[5], sizeof g[5], gp, "mul_1/y"), 0.5f);
    ValueRef hh = bld_binary(b, fmt_name(g[0], sizeof g[0], gp, "mul_1"), "Mul", h, half);
    h = bld_binary(b, fmt_name(g[1], sizeof g[1], gp, "mul_2"), "Mul", hh, e);

    char outp[96];
    snprintf(outp, sizeof outp, "%s/output", p);
    ValueRef y = dense(b, fmt_name(n[14], sizeof n[14], outp, "dense"), h, c->hidden);
    y = bld_binary(b, fmt_name(n[15], sizeof n[15], outp, "add"), "AddV2", y, attn);
    return layer_norm(b, fmt_name(n[0], sizeof n[0], outp, "LayerNorm"), y);
}

Graph *zoo_build_bert(const char *name, int layers, int hidden, int heads, int intermediate, const ZooOpts *o, Err *err) {
    BertCfg c = {layers, hidden, heads, intermediate, o->seq_len ? o->seq_len : 128};
    if (c.seq < 1 || c.seq > MAX_POSITIONS)
        return err_set(err, ERR_INPUT, "%s: seq_len %d out of range [1, %d]", name, c.seq, MAX_POSITIONS), NULL;
    if (hidden % heads) return err_set(err, ERR_INPUT, "%s: hidden %d not divisible by %d heads", name, hidden, heads), NULL;
    Builder b;
    /* LayerNorm bounds the activations: no calibration needed, so never execute */
    if (bld_init(&b, o->seed, false, err)) return bld_finish(&b);
    b.tf1_names = true;
    Shape in_shape = shape_make(2, (int64_t[]){o->batch > 0 ? o->batch : -1, c.seq});
    ValueRef ids = bld_placeholder(&b, "input_ids", DT_INT32, in_shape, NULL);
    ValueRef mask = bld_placeholder(&b, "input_mask", DT_INT32, in_shape, NULL);
    ValueRef seg = bld_placeholder(&b, "segment_ids", DT_INT32, in_shape, NULL);
    bld_set_scope(&b, "bert");

    /* embeddings */
    Tensor word = bld_truncated_normal(&b, shape_make(2, (int64_t[]){VOCAB, hidden}), INIT_STD);
    ValueRef vword = bld_const(&b, "embeddings/word_embeddings", &word);
    ValueRef x = bld_gather(&b, "embeddings/GatherV2", vword, ids, 0);
    Tensor type = bld_truncated_normal(&b, shape_make(2, (int64_t[]){TYPE_VOCAB, hidden}), INIT_STD);
    ValueRef vtype = bld_const(&b, "embeddings/token_type_embeddings", &type);
    ValueRef t = bld_gather(&b, "embeddings/GatherV2_1", vtype, seg, 0);
    x = bld_binary(&b, "embeddings/add", "AddV2", x, t);
    Tensor pos = bld_truncated_normal(&b, shape_make(2, (int64_t[]){MAX_POSITIONS, hidden}), INIT_STD);
    ValueRef vpos = bld_const(&b, "embeddings/position_embeddings", &pos);
    ValueRef ps = bld_slice(&b, "embeddings/Slice", vpos, (int32_t[]){0, 0}, (int32_t[]){c.seq, -1}, 2);
    x = bld_binary(&b, "embeddings/add_1", "AddV2", x, ps);
    x = layer_norm(&b, "embeddings/LayerNorm", x);
    x = bld_reshape(&b, "encoder/Reshape", x, (int32_t[]){-1, hidden}, 2);

    /* additive attention mask, shared by every layer */
    ValueRef m = bld_cast(&b, "encoder/Cast", mask, DT_FLOAT);
    m = bld_reshape(&b, "encoder/Reshape_1", m, (int32_t[]){-1, 1, 1, c.seq}, 4);
    ValueRef one = bld_scalar_f32(&b, "encoder/sub/x", 1.0f);
    m = bld_binary(&b, "encoder/sub", "Sub", one, m);
    ValueRef big = bld_scalar_f32(&b, "encoder/mul/y", -10000.0f);
    ValueRef adder = bld_binary(&b, "encoder/mul", "Mul", m, big);

    for (int l = 0; l < layers; l++) x = encoder_layer(&b, l, x, adder, &c);

    ValueRef seq = bld_reshape(&b, "encoder/Reshape_2", x, (int32_t[]){-1, c.seq, hidden}, 3);
    ValueRef first = bld_strided_slice(&b, "pooler/strided_slice", seq, (int32_t[]){0, 0, 0}, (int32_t[]){0, 1, 0},
                                       (int32_t[]){1, 1, 1}, 3, 5, 5, 2);
    ValueRef pooled = dense(&b, "pooler/dense", first, hidden);
    pooled = bld_unary(&b, "pooler/dense/Tanh", "Tanh", pooled);

    bld_set_scope(&b, "");
    bld_add_output(&b, bld_identity(&b, "sequence_output", seq));
    bld_add_output(&b, bld_identity(&b, "pooled_output", pooled));
    return bld_finish(&b);
}
