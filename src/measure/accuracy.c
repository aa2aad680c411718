/* accuracy.c - fidelity of a candidate graph to the original float32 graph: top-1 agreement
 * on classifier outputs, cosine similarity and relative L2 error on every output. */
#include <math.h>
#include <stdlib.h>

#include "../runtime/plan.h"
#include "measure.h"

bool accuracy_label_kept(double top1_before, double top1_after, double max_drop) {
    return top1_after >= top1_before - max_drop - 1e-9;
}

bool accuracy_ok(const AccuracyResult *a, const AccuracyBudget *b) {
    if (a->labelled) return accuracy_label_kept(a->label_drop, 0.0, b->max_label_drop);
    if (a->top1_agreement >= 0 && a->top1_agreement < b->min_top1) return false;
    return a->min_cosine >= b->min_cosine;
}

/* Output k is a classifier output when it is a [rows, classes] float tensor that is a Softmax
   result or a Softmax input (logits), looking through Identity nodes. Regression outputs
   (landmarks, embeddings, pooled features) have no meaningful top-1. */
static bool classifier_output(const Graph *g, int k, const Tensor *t) {
    if (!dtype_is_float(t->dtype) || t->shape.rank != 2 || t->shape.dim[1] < 2) return false;
    ValueRef v = g->outputs[k];
    while (g->nodes[v.node]->op == OP_IDENTITY && g->nodes[v.node]->n_inputs == 1) v = g->nodes[v.node]->inputs[0];
    if (g->nodes[v.node]->op == OP_SOFTMAX) return true;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (n->op != OP_SOFTMAX) continue;
        ValueRef in = n->inputs[0];
        while (g->nodes[in.node]->op == OP_IDENTITY && g->nodes[in.node]->n_inputs == 1) in = g->nodes[in.node]->inputs[0];
        if (in.node == v.node && in.port == v.port) return true;
    }
    return false;
}

/* the reference outputs: outs[b * n_outputs + k] for batch b, output k */
int accuracy_reference(const Graph *orig, const InputSet *in, int threads, Tensor **outs, Err *err) {
    if (orig->n_outputs > 64) return err_set(err, ERR_RUNTIME, "too many outputs");
    PlanOpts opts = {.threads = threads};
    Plan *po = plan_compile(orig, NULL, 0, &opts, err);
    if (!po) return -1;
    Tensor *t = calloc((size_t)in->n_batches * (size_t)orig->n_outputs + 1, sizeof *t);
    if (!t) { plan_free(po); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int bi = 0; bi < in->n_batches; bi++) {
        if (plan_run(po, in->feeds[bi], in->n_feeds, t + (size_t)bi * (size_t)orig->n_outputs, NULL, err)) {
            accuracy_reference_free(t, bi, orig->n_outputs);
            plan_free(po);
            return -1;
        }
    }
    plan_free(po);
    *outs = t;
    return 0;
}

void accuracy_reference_free(Tensor *outs, int n_batches, int n_outputs) {
    if (!outs) return;
    for (int i = 0; i < n_batches * n_outputs; i++) tensor_release(&outs[i]);
    free(outs);
}

int accuracy_measure(const Graph *orig, const Graph *cand, const InputSet *in, int threads, AccuracyResult *out, Err *err) {
    Tensor *ref;
    if (orig->n_outputs != cand->n_outputs)
        return err_set(err, ERR_INPUT, "candidate has %d outputs, original %d", cand->n_outputs, orig->n_outputs);
    if (accuracy_reference(orig, in, threads, &ref, err)) return -1;
    int rc = accuracy_against(orig, ref, cand, in, threads, out, err);
    accuracy_reference_free(ref, in->n_batches, orig->n_outputs);
    return rc;
}

int accuracy_against(const Graph *orig, const Tensor *ref, const Graph *cand, const InputSet *in, int threads, AccuracyResult *out,
                     Err *err) {
    return accuracy_against_keep(orig, ref, cand, in, threads, out, NULL, err);
}

int accuracy_against_keep(const Graph *orig, const Tensor *ref, const Graph *cand, const InputSet *in, int threads,
                          AccuracyResult *out, Tensor **cand_outs, Err *err) {
    if (cand_outs) *cand_outs = NULL;
    if (orig->n_outputs != cand->n_outputs)
        return err_set(err, ERR_INPUT, "candidate has %d outputs, original %d", cand->n_outputs, orig->n_outputs);
    if (orig->n_outputs > 64) return err_set(err, ERR_RUNTIME, "too many outputs");
    PlanOpts opts = {.threads = threads};
    Plan *pc = plan_compile(cand, NULL, 0, &opts, err);
    if (!pc) return -1;
    int agree = 0, rows = 0, rc = -1, kept_batches = 0;
    double min_cos = 1, max_rel = 0, max_abs = 0;
    Tensor local[64];
    /* kept: the candidate's outputs land in the caller's array (accuracy_reference's layout) */
    Tensor *kept = cand_outs ? calloc((size_t)in->n_batches * (size_t)orig->n_outputs + 1, sizeof *kept) : NULL;
    if (cand_outs && !kept) { plan_free(pc); return err_set(err, ERR_RUNTIME, "out of memory"); }
    for (int bi = 0; bi < in->n_batches; bi++) {
        const Tensor *a = ref + (size_t)bi * (size_t)orig->n_outputs;
        Tensor *b = kept ? kept + (size_t)bi * (size_t)orig->n_outputs : local;
        if (plan_run(pc, in->feeds[bi], in->n_feeds, b, NULL, err)) goto done;
        kept_batches = bi + 1;
        for (int k = 0; k < orig->n_outputs; k++) {
            int64_t n = tensor_numel(&a[k]);
            if (n != tensor_numel(&b[k])) {
                err_set(err, ERR_RUNTIME, "output %d: %lld elements in the candidate, %lld in the original", k,
                        (long long)tensor_numel(&b[k]), (long long)n);
                if (!kept)
                    for (int j = 0; j < orig->n_outputs; j++) tensor_release(&b[j]);
                goto done;
            }
            double dot = 0, na = 0, nb = 0, nd = 0;
            for (int64_t i = 0; i < n; i++) {
                double x = tensor_get(&a[k], i), y = tensor_get(&b[k], i);
                dot += x * y;
                na += x * x;
                nb += y * y;
                nd += (x - y) * (x - y);
                if (fabs(x - y) > max_abs || isnan(y)) max_abs = isnan(y) ? INFINITY : fabs(x - y);
            }
            /* identical all-zero outputs are perfectly similar */
            double cosv = (na == 0 && nb == 0) ? 1 : (na == 0 || nb == 0) ? 0 : dot / sqrt(na * nb);
            double rel = na > 0 ? sqrt(nd / na) : (nd > 0 ? INFINITY : 0);
            if (!(cosv >= min_cos)) min_cos = cosv;
            if (!(rel <= max_rel)) max_rel = rel;
            if (classifier_output(orig, k, &a[k])) {
                int64_t r = a[k].shape.dim[0], c = a[k].shape.dim[1];
                for (int64_t i = 0; i < r; i++) {
                    int64_t ia = 0, ib = 0;
                    for (int64_t j = 1; j < c; j++) {
                        if (tensor_get(&a[k], i * c + j) > tensor_get(&a[k], i * c + ia)) ia = j;
                        if (tensor_get(&b[k], i * c + j) > tensor_get(&b[k], i * c + ib)) ib = j;
                    }
                    agree += ia == ib;
                    rows++;
                }
            }
            if (!kept) tensor_release(&b[k]);
        }
    }
    *out = (AccuracyResult){0}; /* labelled and label_drop: a search's to set */
    out->outputs = orig->n_outputs;
    out->samples = rows;
    out->top1_agreement = rows ? (double)agree / rows : -1;
    out->min_cosine = min_cos;
    out->max_rel_l2 = max_rel;
    out->max_abs_err = max_abs;
    rc = 0;
    if (kept) {
        *cand_outs = kept;
        kept = NULL;
    }
done:
    if (kept) accuracy_reference_free(kept, kept_batches, orig->n_outputs);
    plan_free(pc);
    return rc;
}
