/* model_load.h - one entry point for every model format grappo reads: a directory is a
 * SavedModel, a path ending in .json a TensorFlow.js graph model (model.json + weight shards),
 * one ending in .pbtxt a GraphDef in protobuf text format (pbtxt.h), anything else a frozen GraphDef (.pb). */
#ifndef GRAPPO_IO_MODEL_LOAD_H
#define GRAPPO_IO_MODEL_LOAD_H

#include "../graph/graph.h"
#include "saved_model.h"

typedef struct ModelLoadOpts {
    SavedModelOpts saved_model; /* tags and signature (SavedModels only) */
} ModelLoadOpts;

/* opts may be NULL: tag set "serve", signature "serving_default" */
Graph *model_file_load(const char *path, const ModelLoadOpts *opts, Err *err);

#endif
