/* dataset_dir.h - a directory of a user's data as input batches for a graph (calibration or
 * evaluation): either images (*.png, *.jpg, *.jpeg, any case, in file-name order by strcmp),
 * preprocessed by io/image.h for the graph's one float input of rank 4 and batched at the
 * input's inferred batch size (the last batch filled up by repeating the last image; those
 * rows are not counted), or the files <input>_<k>.npy (rewrite/calibrate.h's format). Other
 * files are ignored; a directory holding both kinds, or neither, is bad input. */
#ifndef GRAPPO_DATASET_DIR_H
#define GRAPPO_DATASET_DIR_H

#include "../graph/graph.h"
#include "../measure/measure.h"
#include "../runtime/ref.h"
#include "image.h"

/* batches[b][0..n_feeds) in placeholder order, names copies (free with calib_batches_free).
   *n_rows: images read (npy batches: -1, the rows are the batches' own). `role` ("calibration",
   "evaluation") starts messages. */
int dataset_load_batches(const Graph *g, const char *dir, const ImagePrep *prep, const char *role, RefFeed ***batches,
                         int *n_batches, int *n_feeds, int *n_rows, Err *err);

/* the same as an InputSet whose names are borrowed from g (free with inputs_free) */
int dataset_load_inputs(const Graph *g, const char *dir, const ImagePrep *prep, const char *role, InputSet *out, int *n_rows,
                        Err *err);

#endif
