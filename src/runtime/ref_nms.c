/* ref_nms.c - reference NonMaxSuppressionV3/V4/V5 (TensorFlow's greedy algorithm, also its
 * soft-NMS in V5).
 *
 * Boxes are [y1, x1, y2, x2] in any corner order; IoU is computed in float32 as TensorFlow
 * does, and is 0 when either box has no area. Candidates are boxes whose score is strictly
 * greater than score_threshold, taken highest score first (ties: lower index first). A
 * candidate is compared with the boxes selected since it was last looked at, most recent
 * first: hard NMS (soft_nms_sigma = 0) drops it at the first IoU > iou_threshold; soft NMS
 * multiplies its score by exp(-0.5 * iou^2 / sigma) (0 when iou > iou_threshold) and, if the
 * score changed but stays above score_threshold, puts it back among the candidates. A
 * candidate whose score is unchanged is selected, until max_output_size are. With
 * pad_to_max_output_size the outputs are padded with zeros to max_output_size rows;
 * valid_outputs counts the real ones. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

typedef struct Cand {
    float score;
    int index;
    int begin; /* selected boxes before this one were already compared with it */
} Cand;

/* the candidate queue: a binary max-heap on (score, then lower index first) */
static bool before(const Cand *a, const Cand *b) { return a->score > b->score || (a->score == b->score && a->index < b->index); }

static void heap_push(Cand *h, int *n, Cand c) {
    int i = (*n)++;
    while (i > 0 && before(&c, &h[(i - 1) / 2])) { h[i] = h[(i - 1) / 2]; i = (i - 1) / 2; }
    h[i] = c;
}

static Cand heap_pop(Cand *h, int *n) {
    Cand top = h[0], last = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && before(&h[c + 1], &h[c])) c++;
        if (!before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static float iou(const float *b, int i, int j) {
    const float *p = b + 4 * i, *q = b + 4 * j;
    float ymin_i = fminf(p[0], p[2]), xmin_i = fminf(p[1], p[3]), ymax_i = fmaxf(p[0], p[2]), xmax_i = fmaxf(p[1], p[3]);
    float ymin_j = fminf(q[0], q[2]), xmin_j = fminf(q[1], q[3]), ymax_j = fmaxf(q[0], q[2]), xmax_j = fmaxf(q[1], q[3]);
    float area_i = (ymax_i - ymin_i) * (xmax_i - xmin_i), area_j = (ymax_j - ymin_j) * (xmax_j - xmin_j);
    if (area_i <= 0 || area_j <= 0) return 0.0f;
    float ih = fmaxf(fminf(ymax_i, ymax_j) - fmaxf(ymin_i, ymin_j), 0.0f);
    float iw = fmaxf(fminf(xmax_i, xmax_j) - fmaxf(xmin_i, xmin_j), 0.0f);
    float inter = ih * iw;
    return inter / (area_i + area_j - inter);
}

int ref_nms(const Node *n, const Tensor *in, Tensor *out, Err *err) {
    int nb = (int)in[0].shape.dim[0];
    const float *boxes = tensor_data(&in[0]), *scores = tensor_data(&in[1]);
    int64_t max_out = (int64_t)tensor_get(&in[2], 0);
    float iou_thr = (float)tensor_get(&in[3], 0), score_thr = (float)tensor_get(&in[4], 0);
    float sigma = n->op == OP_NMS_V5 ? (float)tensor_get(&in[5], 0) : 0.0f;
    if (max_out < 0) return err_set(err, ERR_RUNTIME, "max_output_size must be non-negative, got %lld", (long long)max_out);
    if (!(iou_thr >= 0 && iou_thr <= 1)) return err_set(err, ERR_RUNTIME, "iou_threshold must be in [0, 1], got %g", iou_thr);
    if (!(sigma >= 0)) return err_set(err, ERR_RUNTIME, "soft_nms_sigma must be non-negative, got %g", sigma);
    bool soft = sigma > 0, pad = n->op != OP_NMS_V3 && node_attr_b(n, "pad_to_max_output_size", false);
    float scale = soft ? -0.5f / sigma : 0.0f;
    Cand *c = malloc(sizeof *c * (size_t)(nb ? nb : 1));
    int *sel = malloc(sizeof *sel * (size_t)(nb ? nb : 1));
    float *sel_score = malloc(sizeof *sel_score * (size_t)(nb ? nb : 1));
    if (!c || !sel || !sel_score) { free(c); free(sel); free(sel_score); return err_set(err, ERR_RUNTIME, "out of memory"); }
    int n_live = 0, n_sel = 0;
    for (int i = 0; i < nb; i++)
        if (scores[i] > score_thr) heap_push(c, &n_live, (Cand){scores[i], i, 0});
    while (n_sel < max_out && n_live > 0) {
        Cand t = heap_pop(c, &n_live); /* the highest score, then the lowest index */
        float original = t.score;
        bool hard = false;
        for (int j = n_sel - 1; j >= t.begin; j--) {
            float sim = iou(boxes, t.index, sel[j]);
            float w = sim <= iou_thr ? expf(scale * sim * sim) : 0.0f;
            t.score *= w;
            if (!soft && sim > iou_thr) { hard = true; break; }
            if (t.score <= score_thr) break;
        }
        t.begin = n_sel;
        if (hard) continue;
        if (t.score == original) {
            sel[n_sel] = t.index;
            sel_score[n_sel++] = t.score;
        } else if (t.score > score_thr) {
            heap_push(c, &n_live, t); /* soft-suppressed: back among the candidates with its lower score */
        }
    }
    int64_t rows = pad ? max_out : n_sel;
    Shape s = {.rank = 1, .dim = {rows}}, scalar = shape_scalar();
    int rc = ref_dyn_output(n, &out[0], DT_INT32, &s, err);
    if (!rc && n->op == OP_NMS_V5) rc = ref_dyn_output(n, &out[1], DT_FLOAT, &s, err);
    int vi = n->op == OP_NMS_V4 ? 1 : n->op == OP_NMS_V5 ? 2 : -1;
    if (!rc && vi >= 0) rc = ref_dyn_output(n, &out[vi], DT_INT32, &scalar, err);
    if (!rc) {
        int32_t *yi = tensor_mut(&out[0]);
        for (int64_t i = 0; i < rows; i++) yi[i] = i < n_sel ? sel[i] : 0;
        if (n->op == OP_NMS_V5) {
            float *ys = tensor_mut(&out[1]);
            for (int64_t i = 0; i < rows; i++) ys[i] = i < n_sel ? sel_score[i] : 0.0f;
        }
        if (vi >= 0) *(int32_t *)tensor_mut(&out[vi]) = n_sel;
    }
    free(c);
    free(sel);
    free(sel_score);
    return rc;
}
