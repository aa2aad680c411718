/* labelled.c - the user's labelled data in an optimization: loading it, scoring a graph's
 * top-1/top-5 against labels, and the words the results are reported in (see labelled.h). */
#include "labelled.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/dataset_dir.h"
#include "../io/labels.h"
#include "optimize.h"

int labelled_opts_check(const OptimizeOpts *o, Err *err) {
    if (o->labels_path && !o->eval_dir && !o->eval_inputs)
        return err_set(err, ERR_INPUT, "--labels needs the evaluation data they label (--eval DIR)");
    if (o->labels_path && o->metric)
        return err_set(err, ERR_INPUT, "labels and an evaluation function both judge accuracy: give one");
    return image_prep_check(&o->image_prep, err);
}

int labelled_open(const Graph *g, const OptimizeOpts *o, LabelledData *d, Err *err) {
    *d = (LabelledData){.n_rows = -1};
    if (o->labels_path && labels_load(o->labels_path, &d->labels, &d->n_labels, err)) return -1;
    if (o->eval_dir && !o->eval_inputs &&
        dataset_load_inputs(g, o->eval_dir, &o->image_prep, "evaluation", &d->own, &d->n_rows, err)) {
        labelled_close(d);
        return -1;
    }
    /* images are counted before any run: a wrong labels file fails before any work */
    if (d->labels && d->n_rows >= 0 && d->n_rows != d->n_labels) {
        err_set(err, ERR_INPUT, "%s has %d label%s but %s holds %d image%s: one label per image", o->labels_path, d->n_labels,
                d->n_labels == 1 ? "" : "s", o->eval_dir, d->n_rows, d->n_rows == 1 ? "" : "s");
        labelled_close(d);
        return -1;
    }
    return 0;
}

void labelled_close(LabelledData *d) {
    inputs_free(&d->own);
    free(d->labels);
    *d = (LabelledData){.n_rows = -1};
}

/* the first output that is a [rows, classes >= 2] float tensor on every batch, or -1 */
static int classifier_output(const Graph *g, const Tensor *outs, int n_batches) {
    for (int k = 0; k < g->n_outputs; k++) {
        bool ok = n_batches > 0;
        for (int b = 0; ok && b < n_batches; b++) {
            const Tensor *t = &outs[(size_t)b * (size_t)g->n_outputs + (size_t)k];
            ok = dtype_is_float(t->dtype) && t->shape.rank == 2 && t->shape.dim[1] >= 2 && t->shape.dim[1] == outs[k].shape.dim[1];
        }
        if (ok) return k;
    }
    return -1;
}

int labelled_score(const Graph *g, const InputSet *in, int n_rows, const int32_t *labels, int n_labels, const char *labels_what,
                   int threads, LabelledScore *out, Err *err) {
    *out = (LabelledScore){0};
    Tensor *outs;
    if (accuracy_reference(g, in, threads, &outs, err)) return -1;
    int rc = labelled_score_outputs(g, outs, in->n_batches, n_rows, labels, n_labels, labels_what, out, err);
    accuracy_reference_free(outs, in->n_batches, g->n_outputs);
    return rc;
}

int labelled_score_outputs(const Graph *g, const Tensor *outs, int n_batches, int n_rows, const int32_t *labels, int n_labels,
                           const char *labels_what, LabelledScore *out, Err *err) {
    *out = (LabelledScore){0};
    int k = classifier_output(g, outs, n_batches);
    if (k < 0) return err_set(err, ERR_INPUT, "labels need a classifier output (a [rows, classes] float tensor): the model has none");
    int64_t total = 0;
    for (int b = 0; b < n_batches; b++) total += outs[(size_t)b * (size_t)g->n_outputs + (size_t)k].shape.dim[0];
    int64_t rows = n_rows >= 0 && n_rows < total ? n_rows : total;
    if (rows != n_labels)
        return err_set(err, ERR_INPUT, "%s has %d label%s but the evaluation data gives %lld row%s: one label per row", labels_what,
                       n_labels, n_labels == 1 ? "" : "s", (long long)rows, rows == 1 ? "" : "s");
    int classes = (int)outs[k].shape.dim[1];
    for (int i = 0; i < n_labels; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return err_set(err, ERR_INPUT, "%s: line %d: class %d is outside the model's %d outputs (0..%d)", labels_what, i + 1,
                           (int)labels[i], classes, classes - 1);
    int64_t i = 0, hit1 = 0, hit5 = 0;
    for (int b = 0; b < n_batches && i < rows; b++) {
        const Tensor *t = &outs[(size_t)b * (size_t)g->n_outputs + (size_t)k];
        for (int64_t r = 0; r < t->shape.dim[0] && i < rows; r++, i++) {
            double want = tensor_get(t, r * classes + labels[i]);
            /* rank of the label's score: classes scoring strictly higher, and equal ones before it
               (the first maximum is the argmax, as tf.argmax) */
            int above = 0;
            for (int c = 0; c < classes; c++) {
                double v = tensor_get(t, r * classes + c);
                above += v > want || (v == want && c < labels[i]) || (v != v && want == want);
            }
            hit1 += above == 0;
            hit5 += above < 5;
        }
    }
    out->rows = (int)rows;
    out->classes = classes;
    out->top1 = rows ? (double)hit1 / (double)rows : 0;
    out->top5 = classes >= 5 ? (rows ? (double)hit5 / (double)rows : 0) : -1;
    return 0;
}

void labelled_summary(const LabelledScore *before, const LabelledScore *after, bool images, char *buf, size_t cap) {
    snprintf(buf, cap, "top-1 %.2f%% -> %.2f%% (%+.2f pp) on %d labelled %s", 100 * before->top1, 100 * after->top1,
             100 * (after->top1 - before->top1), after->rows, images ? "images" : "rows");
}

const char *labelled_calib_note(bool calib_generated) {
    return calib_generated ? "; calibrated on generated noise, not your data (give --calibration DIR)" : "";
}

int labelled_evaluate(const Graph *g, const OptimizeOpts *o, LabelledScore *out, bool *images, Err *err) {
    *out = (LabelledScore){0};
    *images = false;
    if (!o->eval_dir || !o->labels_path) return err_set(err, ERR_INPUT, "evaluation needs --eval DIR and --labels FILE");
    if (labelled_opts_check(o, err)) return -1;
    LabelledData d;
    if (labelled_open(g, o, &d, err)) return -1;
    int rc = labelled_score(g, &d.own, d.n_rows, d.labels, d.n_labels, o->labels_path, o->threads, out, err);
    *images = d.n_rows >= 0;
    labelled_close(&d);
    return rc;
}
