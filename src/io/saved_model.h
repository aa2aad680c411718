/* saved_model.h - TensorFlow SavedModel directories, read without TensorFlow and written so
 * that TensorFlow loads them.
 *
 * Reading: DIR/saved_model.pb -> the MetaGraphDef whose tag set is `tags` (default "serve")
 * -> signature `signature` (default "serving_default") -> freeze.c with the variables of
 * DIR/variables/variables.{index,data-*}. The Graph's Placeholders are named by the
 * signature's input keys and its outputs are Identity nodes named by the output keys, in the
 * signature's (sorted) key order.
 *
 * Writing: DIR/saved_model.pb holding one MetaGraphDef (tags "serve") with the frozen graph and
 * a "serving_default" signature whose inputs are the graph's Placeholders and whose outputs are
 * the graph outputs, each keyed by its node name; and an empty DIR/variables/. Written into a
 * temporary directory that is renamed into place, so a failure leaves nothing behind. */
#ifndef GRAPPO_SAVED_MODEL_H
#define GRAPPO_SAVED_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../graph/graph.h"

typedef struct SavedModelOpts {
    const char *tags;      /* comma-separated tag set; NULL = "serve" */
    const char *signature; /* NULL = "serving_default" */
} SavedModelOpts;

Graph *savedmodel_load(const char *dir, const SavedModelOpts *opts, Err *err);
/* saved_model.pb bytes already in memory; variables read from vars_prefix (NULL = none) */
Graph *savedmodel_parse(const uint8_t *data, size_t len, const char *what, const char *vars_prefix,
                        const SavedModelOpts *opts, Err *err);
/* the graph must be frozen (no variables) and inferred (dtypes and shapes of its inputs and
 * outputs go into the signature) */
int savedmodel_save(const Graph *g, const char *dir, Err *err);
/* Checks, without writing, that savedmodel_save(dir) could succeed: dir is absent (its parent an
   existing directory) or an earlier SavedModel directory (holding saved_model.pb), which is
   replaced; anything else is ERR_INPUT naming dir. */
int savedmodel_output_check(const char *dir, Err *err);

#endif
