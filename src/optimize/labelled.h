/* labelled.h - the user's labelled data in an optimization: evaluation inputs from a directory
 * (io/dataset_dir.h), a labels file (io/labels.h), and the score they give a graph: top-1 and
 * top-5 of its classifier output against the labels. With labels, the accuracy budget is
 * judged on top-1: result top-1 >= input top-1 - max_accuracy_drop (optimize_run). */
#ifndef GRAPPO_LABELLED_H
#define GRAPPO_LABELLED_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/graph.h"
#include "../io/image.h"
#include "../measure/measure.h"

typedef struct LabelledScore {
    double top1, top5;            /* fractions; top5 -1 when the output has fewer than 5 classes */
    int rows;                     /* labelled rows scored */
    int classes;                  /* the classifier output's width */
} LabelledScore;

/* Evaluation data of a session: owned inputs (or borrowed ones) and labels. */
typedef struct LabelledData {
    InputSet own;                 /* loaded from eval_dir (inputs_free) */
    int n_rows;                   /* images read; -1 for .npy batches or given inputs */
    int32_t *labels;              /* NULL without a labels file */
    int n_labels;
} LabelledData;

/* The labelled-data options agree (labels need evaluation data; not with a metric function;
   image preprocessing values possible). ERR_INPUT. Called by optimize_opts_check. */
struct OptimizeOpts;
int labelled_opts_check(const struct OptimizeOpts *o, Err *err);

/* Loads o->eval_dir (when set) into d->own and o->labels_path (when set). */
int labelled_open(const Graph *g, const struct OptimizeOpts *o, LabelledData *d, Err *err);
void labelled_close(LabelledData *d);

/* Runs g over `in` and scores its classifier output (the first output that is a [rows, classes]
   float tensor) against labels: the first n_rows rows (n_rows < 0: all), which must be as many
   as the labels, every label < classes. ERR_INPUT naming `labels_what` otherwise. */
int labelled_score(const Graph *g, const InputSet *in, int n_rows, const int32_t *labels, int n_labels, const char *labels_what,
                   int threads, LabelledScore *out, Err *err);
/* The same scoring of outputs g already produced (outs[b * n_outputs + k] over n_batches, as
   accuracy_reference / accuracy_against_keep return them): no run. */
int labelled_score_outputs(const Graph *g, const Tensor *outs, int n_batches, int n_rows, const int32_t *labels, int n_labels,
                           const char *labels_what, LabelledScore *out, Err *err);

/* `grappo eval`: g (inferred) scored on o->eval_dir (o->image_prep) against o->labels_path;
   *images: the rows were images */
int labelled_evaluate(const Graph *g, const struct OptimizeOpts *o, LabelledScore *out, bool *images, Err *err);

/* "top-1 91.20% -> 90.90% (-0.30 pp) on 1000 labelled images" (rows: "labelled rows") */
void labelled_summary(const LabelledScore *before, const LabelledScore *after, bool images, char *buf, size_t cap);

/* "; calibrated on generated noise, not your data (--calibration DIR)" when generated, else "" */
const char *labelled_calib_note(bool calib_generated);

#endif
