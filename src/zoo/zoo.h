/* zoo.h - the model zoo: benchmark models built in TensorFlow's op vocabulary, laid out the
 * way TensorFlow freezes them (Keras/TF1 node names, ReadVariableOp weight Consts, TF's
 * attributes), with deterministic weights.
 *
 * Models: resnet8, resnet18, resnet50, mobilenet_v2, bert-tiny, bert-mini, bert-base, random.
 *
 * Weights come from an Rng seeded with opts.seed: same seed -> same bytes. CNN batch-norm
 * statistics are calibrated: while the graph is built, every new node is executed with the
 * reference runtime on a smooth synthetic image, and each FusedBatchNormV3 gets the real
 * per-channel statistics of its input (slightly perturbed). Without that, random statistics
 * make activations explode and every accuracy number measured later means nothing. */
#ifndef GRAPPO_ZOO_H
#define GRAPPO_ZOO_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/graph.h"
#include "../util/err.h"

typedef struct ZooOpts {
    uint64_t seed;  /* 0 = 1 */
    int batch;      /* 0 = dynamic batch (-1 in the Placeholder shape, inferred as 1);
                       > 0 = that static batch in the Placeholder shape */
    int image_size; /* CNNs: 0 = model default (resnet8: 32, random: 8..16 chosen by the
                       seed, others: 224) */
    int seq_len;    /* BERT: 0 = 128 */
    int width_pct;  /* ResNets: channel widths in percent of the model's (0 = 100; multiples of
                       8, at least 8): narrower and wider variants for training corpora */
    /* CNNs (resnet*, mobilenet_v2, random): calibrate batch-norm statistics by executing the
       graph while it is built. false gives statistics drawn at random around (0, 1): fast,
       fine for counting parameters and FLOPs, not for accuracy. Ignored by BERT (no BN). */
    bool calibrate;
} ZooOpts;

/* {seed 1, batch 0, image_size 0, seq_len 0, calibrate true}. Passing NULL opts to zoo_build
   means the same, except that `random` is then built without calibration (cheap default). */
ZooOpts zoo_opts_default(void);

typedef struct ZooModel {
    const char *name;
    const char *description;
} ZooModel;

/* the registry, in a fixed order; *count receives its length */
const ZooModel *zoo_list(int *count);

/* Builds model `name` (inferred: every Value has dtype and shape for the batch the
   Placeholders imply, dynamic batch inferred as 1). Unknown name -> ERR_INPUT listing the
   valid names; bad option values (negative sizes, image too small) -> ERR_INPUT. */
Graph *zoo_build(const char *name, const ZooOpts *opts, Err *err);

#endif
