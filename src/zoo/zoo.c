/* zoo.c - the model registry: the list of models and zoo_build's dispatch and option
 * defaults. The models themselves live in resnet.c, mobilenet_v2.c, bert.c, random_dag.c. */
#include "zoo.h"

#include <stdio.h>
#include <string.h>

#include "builder.h"

static const ZooModel MODELS[] = {
    {"resnet8", "ResNet-8 (CIFAR-style): 32x32x3 input, 3 stages of one basic block (16/32/64), 10 classes"},
    {"resnet18", "ResNet-18: 224x224x3 NHWC, basic blocks 2-2-2-2, 1000 classes"},
    {"resnet50", "ResNet-50 v1.5 (Keras layout): 224x224x3 NHWC, bottlenecks 3-4-6-3, 1000 classes"},
    {"mobilenet_v2", "MobileNetV2 1.0 (Keras layout): 224x224x3 NHWC, depthwise + Relu6 inverted residuals"},
    {"bert-tiny", "BERT-tiny encoder: 2 layers, hidden 128, 2 heads, intermediate 512, seq 128"},
    {"bert-mini", "BERT-mini encoder: 4 layers, hidden 256, 4 heads, intermediate 1024, seq 128"},
    {"bert-base", "BERT-base encoder: 12 layers, hidden 768, 12 heads, intermediate 3072, seq 128"},
    {"random", "seeded random NHWC DAG of 6-30 ops for rewrite property tests"},
    {"gemm", "probe, not a model: one fp32 MatMul [N,N]x[N,N] (N = --image-size, default 1024) to measure the peak"},
};
#define N_MODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

ZooOpts zoo_opts_default(void) { return (ZooOpts){.seed = 1, .batch = 0, .image_size = 0, .seq_len = 0, .calibrate = true}; }

const ZooModel *zoo_list(int *count) {
    if (count) *count = N_MODELS;
    return MODELS;
}

Graph *zoo_build(const char *name, const ZooOpts *opts, Err *err) {
    ZooOpts o = zoo_opts_default();
    if (opts) o = *opts;
    else if (name && !strcmp(name, "random")) o.calibrate = false; /* cheap by default */
    if (o.seed == 0) o.seed = 1;
    if (o.batch < 0 || o.batch > 4096) return err_set(err, ERR_INPUT, "zoo: batch %d out of range [0, 4096]", o.batch), NULL;
    if (o.image_size < 0) return err_set(err, ERR_INPUT, "zoo: negative image size %d", o.image_size), NULL;
    if (o.seq_len < 0) return err_set(err, ERR_INPUT, "zoo: negative seq_len %d", o.seq_len), NULL;

    if (!name) name = "";
    if (!strcmp(name, "resnet8")) return zoo_build_resnet(8, &o, err);
    if (!strcmp(name, "resnet18")) return zoo_build_resnet(18, &o, err);
    if (!strcmp(name, "resnet50")) return zoo_build_resnet(50, &o, err);
    if (!strcmp(name, "mobilenet_v2")) return zoo_build_mobilenet_v2(&o, err);
    if (!strcmp(name, "bert-tiny")) return zoo_build_bert(name, 2, 128, 2, 512, &o, err);
    if (!strcmp(name, "bert-mini")) return zoo_build_bert(name, 4, 256, 4, 1024, &o, err);
    if (!strcmp(name, "bert-base")) return zoo_build_bert(name, 12, 768, 12, 3072, &o, err);
    if (!strcmp(name, "random")) return zoo_build_random(&o, err);
    if (!strcmp(name, "gemm")) return zoo_build_gemm(&o, err);

    char valid[256] = "";
    for (int i = 0; i < N_MODELS; i++) {
        size_t len = strlen(valid);
        snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", MODELS[i].name);
    }
    err_set(err, ERR_INPUT, "unknown model '%s' (valid: %s)", name, valid);
    return NULL;
}
