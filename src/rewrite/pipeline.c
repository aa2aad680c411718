/* pipeline.c - the fixed rule orders (see pipeline.h). */
#include "pipeline.h"

#include <string.h>

/* Grappler's meta-optimizer order on an inference graph: pruning, constant folding,
   arithmetic simplification, (layout: a no-op on CPU NHWC graphs), remapper. Einsum is lowered
   first (TensorFlow's Einsum kernel runs the same transposes and batched matmul inside). A
   batch norm frozen as Mul + Add by per-channel constants folds into the convolution
   before it (fold_conv_affine), so the bias, residual Add and Relu fuse into one node. Not
   Grappler's: a zero Pad folds into the conv or max pool reading it (fold_pad_into_conv), and
   filter taps that only ever read padding are cropped away (crop_conv_taps). */
static const char *const grappler_rules[] = {
    "einsum_to_matmul",  "remove_identity",   "fold_constants",   "cse",                 "cancel_transposes", "cancel_reshapes",
    "fold_pad_into_conv", /* Keras' ZeroPadding2D before a conv / max pool: one pass less over the map */
    "crop_conv_taps",     /* filter taps that read only padding (a 3x3 SAME conv on a 1x1 map) dropped */
    "fold_scalar_mul",   "fold_conv_affine", "fuse_conv_bn_act", "fuse_conv_bias_act",  "fuse_matmul_bias_act",
    "fuse_residual_add", "fuse_activation",
    /* BERT-family graphs (Keras, TF1 modeling.py): LayerNorm and GELU written out, Dense layers as
       BatchMatMulV2 + AddV2, attention as BatchMatMulV2 / Softmax; grappo ops (skipped with
       --target tf, except fuse_batch_matmul_bias_act, whose ops are stock) */
    "fuse_layernorm",    "fuse_gelu",         "fuse_batch_matmul_bias_act",                "fuse_attention",
};

/* the grappler order with batch norms folded into the convolutions first (a bias, so the
   residual Add and its Relu fuse too) and the residual sums TF's arithmetic optimizer wrote as
   (conv + shortcut) + bias re-associated (reassociate_bias_add, so that bias and sum fuse into
   the conv as well; Grappler's own order leaves them): pipeline_grappler_bn_folded; grappler+bf16 then runs
   every float conv/matmul in bf16 (a whole ResNet block computes in bf16) and removes the Cast
   round trips between them */
static const char *const grappler_bn_folded_rules[] = {
    "einsum_to_matmul",  "remove_identity",   "fold_constants",   "cse",                 "cancel_transposes", "cancel_reshapes",
    "fold_pad_into_conv", "crop_conv_taps",
    "fold_scalar_mul",   "fold_conv_affine",  "fold_batchnorm",    "reassociate_bias_add", "fuse_conv_bn_act", "fuse_conv_bias_act",
    "fuse_matmul_bias_act", "fuse_residual_add", "fuse_activation",
};
static const char *const bf16_rules[] = {"bf16_compute", "cast_pair"};

/* quantize_gather_int8 (embedding tables: int8 rows widened after the gather, no oneDNN kernel)
   is the same in both. int8_residual_chain (a ResNet block's shortcut as a uint8 addend of its
   last int8 conv) is not in this order: on the trained ResNet-50 it took the worst cosine from
   0.9942 to 0.9889, below the default fidelity budget (0.99), so grappler+int8 would be refused
   where it is kept today; 1-thread median 1.53 -> 1.42 ms, labelled top-1 92.0 -> 92.2% on 500
   images (docs/rewrite.md). The searches (greedy, random, ppo) and rules: reach it. */
static const char *const int8_rules[] = {"quantize_conv_int8", "quantize_matmul_int8", "quantize_gather_int8", "int8_fuse_add",
                                         "dequantize_pair"};
/* 7-bit weights: for CPUs without VNNI, where oneDNN's u8 x s8 kernels would saturate on full
   8-bit weights (see runtime/dnn_quant.c) */
static const char *const int7_rules[] = {"quantize_conv_int7", "quantize_matmul_int7", "quantize_gather_int8", "int8_fuse_add",
                                         "dequantize_pair"};
enum { N_INT8_RULES = sizeof int8_rules / sizeof int8_rules[0] };
/* the int8 lists start with their quantization rules (conv, matmul, embedding table); the rest
   are the exact clean-ups (pipeline_int8_cleanup checks that they are) */
enum { N_INT8_QUANTIZE_RULES = 3 };
_Static_assert(sizeof int7_rules == sizeof int8_rules, "the int8 and int7 pipelines differ only in their weight width");

/* every registered rule fits in a RewriteLog */
enum {
    N_REGISTERED_RULES = 0
#define RULE(sym) +1
#include "rules.def"
#undef RULE
};
_Static_assert(N_REGISTERED_RULES <= REWRITE_LOG_MAX, "RewriteLog holds fewer entries than there are rules: raise REWRITE_LOG_MAX");

void rewrite_log_add(RewriteLog *log, const char *rule) {
    if (!log) return;
    log->total++;
    for (int i = 0; i < log->n; i++)
        if (!strcmp(log->v[i].rule, rule)) { log->v[i].count++; return; }
    /* a new distinct rule: n < N_REGISTERED_RULES <= REWRITE_LOG_MAX for registry names (see
       above); the guard only protects memory from a caller inventing names */
    if (log->n == REWRITE_LOG_MAX) return;
    log->v[log->n].rule = rule;
    log->v[log->n++].count = 1;
}

void rewrite_log_merge(RewriteLog *log, const RewriteLog *more) {
    for (int i = 0; log && i < more->n; i++)
        for (int c = 0; c < more->v[i].count; c++) rewrite_log_add(log, more->v[i].rule);
}

const char *pipeline_names(void) { return "grappler, grappler+int8, grappler+int7, grappler+bf16"; }

int pipeline_fixed_point(const char *const *rules, int n_rules, Graph *g, unsigned required_flags, int max_passes,
                         RewriteLog *log, Err *err) {
    SiteList sites = {0};
    int rc = -1;
    for (int pass = 0; pass < max_passes; pass++) {
        int changed = 0;
        for (int k = 0; k < n_rules; k++) {
            const RuleDef *r = rule_by_name(rules[k]);
            if (!r) { err_set(err, ERR_RUNTIME, "pipeline: no rule named '%s'", rules[k]); goto done; }
            if ((r->flags & required_flags) != required_flags) continue;
            /* bounded: a rule cannot apply more often than the graph has nodes, twice over */
            for (int guard = 0; guard < 2 * g->n_nodes + 16; guard++) {
                if (rule_sites(r, g, &sites, err)) goto done;
                if (sites.n == 0) break;
                if (rule_apply(r, g, &sites.v[0], err)) goto done;
                rewrite_log_add(log, r->name);
                changed++;
            }
        }
        if (!changed) break;
    }
    rc = 0;
done:
    sitelist_free(&sites);
    return rc;
}

int pipeline_int8_cleanup(Graph *g, RewriteLog *log, Err *err) {
    for (int k = N_INT8_QUANTIZE_RULES; k < N_INT8_RULES; k++) {
        const RuleDef *r = rule_by_name(int8_rules[k]);
        if (!r || !(r->flags & RULE_EXACT))
            return err_set(err, ERR_RUNTIME, "pipeline: int8 clean-up rule '%s' is not an exact rule", int8_rules[k]);
    }
    return pipeline_fixed_point(int8_rules + N_INT8_QUANTIZE_RULES, N_INT8_RULES - N_INT8_QUANTIZE_RULES, g, 0, 2, log, err);
}

int pipeline_grappler_bn_folded(Graph *g, unsigned required_flags, RewriteLog *log, Err *err) {
    int n = (int)(sizeof grappler_bn_folded_rules / sizeof grappler_bn_folded_rules[0]);
    return pipeline_fixed_point(grappler_bn_folded_rules, n, g, required_flags, 8, log, err);
}

const char *pipeline_int8_name(bool has_vnni) { return has_vnni ? "grappler+int8" : "grappler+int7"; }

int pipeline_run(const char *name, Graph *g, unsigned required_flags, RewriteLog *log, Err *err) {
    int ng = (int)(sizeof grappler_rules / sizeof grappler_rules[0]);
    if (!strcmp(name, "grappler")) return pipeline_fixed_point(grappler_rules, ng, g, required_flags, 8, log, err);
    if (!strcmp(name, pipeline_int8_name(true)) || !strcmp(name, pipeline_int8_name(false))) {
        if (pipeline_fixed_point(grappler_rules, ng, g, required_flags, 8, log, err)) return -1;
        return pipeline_fixed_point(!strcmp(name, "grappler+int8") ? int8_rules : int7_rules, N_INT8_RULES, g, required_flags, 2, log, err);
    }
    if (!strcmp(name, "grappler+bf16")) {
        if (pipeline_grappler_bn_folded(g, required_flags, log, err)) return -1;
        return pipeline_fixed_point(bf16_rules, 2, g, required_flags, 2, log, err);
    }
    return err_set(err, ERR_INPUT, "unknown pipeline '%s' (%s)", name, pipeline_names());
}
