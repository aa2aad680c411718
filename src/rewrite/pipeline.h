/* pipeline.h - fixed rule orders applied to a fixed point: the baselines the agent must beat.
 *   "grappler"       what TensorFlow's default Grappler meta-optimizer does to an inference
 *                    graph: pruning (identities, dead nodes), constant folding, arithmetic
 *                    simplification (CSE, transposes/reshapes that cancel, scalar multiplies
 *                    folded into convolutions), then the remapper's fusions (conv/matmul with
 *                    bias, batch norm, activation and residual add). Exact rules only.
 *   "grappler+int8"  the above, then every eligible convolution and matmul quantized
 *                    (uniform post-training int8 with calibration) - needs calibration
 *                    attributes (calibrate_graph) on the graph first. Then, exactly, each
 *                    residual Add (+ Relu) moves into the int8 conv producing it
 *                    (int8_fuse_add) and int8 nodes read only by the next layer's quantize
 *                    write uint8 themselves (dequantize_pair): int8 stays int8 between
 *                    layers. Large embedding tables are stored in int8 (quantize_gather_int8).
 *                    Not here: int8_residual_chain (shortcuts as uint8 addends), which costs
 *                    fidelity (docs/rewrite.md); the searches and rules: reach it.
 *   "grappler+int7"  the same with 7-bit weights: what PTQ uses on CPUs without VNNI, whose
 *                    u8 x s8 instructions saturate on full-range 8-bit weights.
 *   "grappler+bf16"  grappler with batch norms folded into the convolutions first (so residual
 *                    Adds fuse too), then every float conv/matmul computes in bfloat16
 *                    (bf16_compute) and the Cast round trips between them go (cast_pair). */
#ifndef GRAPPO_PIPELINE_H
#define GRAPPO_PIPELINE_H

#include "rule.h"

/* Rules applied, in first-use order, with counts. One entry per distinct rule: the registry's
   size bounds it (checked when compiling pipeline.c), so no rule is ever dropped. A plain
   value (copied, sent between MPI ranks). */
#define REWRITE_LOG_MAX 64
typedef struct RewriteLog {
    int n;
    struct { const char *rule; int count; } v[REWRITE_LOG_MAX];
    int total;
} RewriteLog;

void rewrite_log_add(RewriteLog *log, const char *rule);
/* every entry of `more` added to log, counts included */
void rewrite_log_merge(RewriteLog *log, const RewriteLog *more);

/* flags a rule must have to be used (e.g. RULE_TF for --target tf; 0 = any) */
int pipeline_run(const char *name, Graph *g, unsigned required_flags, RewriteLog *log, Err *err);
/* the int8 pipeline for a CPU: "grappler+int8", or "grappler+int7" (7-bit weights) without VNNI */
const char *pipeline_int8_name(bool has_vnni);
/* Grappler's order with batch norms folded into the convolutions' filters first
   (fold_batchnorm before fuse_conv_bn_act): each conv then carries a bias, so a ResNet block's
   residual Add and its Relu fuse into the conv too - fewer kernels than Grappler's
   Conv+FusedBatchNorm fusion, which leaves them apart (zoo ResNet-50: 16 Add and 16 Relu
   kernels, 7 of 42 ms). Also re-associates the (conv + shortcut) + bias sums TF's arithmetic
   optimizer writes (reassociate_bias_add), so bias and shortcut fuse into the conv
   (handlandmark-lite: 9 blocks). Exact, runs in stock TensorFlow; not what Grappler does. grappler+bf16
   starts with it; the agent climbs from it too. */
int pipeline_grappler_bn_folded(Graph *g, unsigned required_flags, RewriteLog *log, Err *err);
/* the pipeline names, for --help and errors */
const char *pipeline_names(void);

/* The exact clean-ups grappler+int8 runs after its quantization rules (the same for 7-bit
   weights), to a fixed point: for callers that quantize a chosen subset of nodes themselves
   (the sensitivity search) and must end with the graph grappler+int8 would make. */
int pipeline_int8_cleanup(Graph *g, RewriteLog *log, Err *err);
/* Applies each named rule in order, each until it has no site left, and repeats the whole
   list until a full pass changes nothing (at most max_passes). Unknown names are an error. */
int pipeline_fixed_point(const char *const *rules, int n_rules, Graph *g, unsigned required_flags, int max_passes,
                         RewriteLog *log, Err *err);

#endif
