/* tfjs.h - TensorFlow.js graph models: model.json (modelTopology = a GraphDef in JSON,
 * weightsManifest = the weight shards) read with cJSON, weights decoded as TensorFlow.js does
 * (float32, int32, bool; float16 and uint8/uint16-quantized weights dequantized to float32). */
#ifndef GRAPPO_TFJS_H
#define GRAPPO_TFJS_H

#include "../graph/graph.h"

Graph *tfjs_load(const char *path, Err *err);
/* model.json text already in memory; weight shards are read from dir; `path` names it in errors */
Graph *tfjs_parse(const char *text, size_t len, const char *dir, const char *path, Err *err);

#endif
