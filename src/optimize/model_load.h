/* model_load.h - the one place a model the user names becomes a Graph: "zoo:NAME[@key=v...]"
 * builds a zoo model, anything else is read from disk by io/model_load (a SavedModel directory, a
 * TensorFlow.js model.json, or a frozen GraphDef). The CLI, the C API and the Python package all load through
 * model_load. */
#ifndef GRAPPO_MODEL_LOAD_H
#define GRAPPO_MODEL_LOAD_H

#include "../graph/graph.h"
#include "../io/model_load.h"

/* Loads `spec`; not yet validated nor inferred (see model_prepare). zoo options: seed, image,
   seq, batch, width (integers), e.g. zoo:mobilenet_v2@image=96. */
Graph *model_load(const char *spec, Err *err);
/* the same, with the SavedModel's tag set and signature (opts may be NULL: the defaults) */
Graph *model_load_with(const char *spec, const ModelLoadOpts *opts, Err *err);

/* validate, then infer every shape with the reference evaluator folding small constants;
   specs (may be NULL) fix placeholder shapes */
int model_prepare(Graph *g, const InputSpec *specs, int n_specs, Err *err);

#endif
