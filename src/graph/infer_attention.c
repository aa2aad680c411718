/* infer_attention.c - shape/dtype inference and FLOPs for GrappoAttention (docs/ops.md), which
 * rules_fuse_attention.c writes in place of BERT's written-out scaled dot-product attention.
 *
 *   inputs  q [B,H,Sq,D], k [B,H,Sk,D], v [B,H,Sk,Dv] (float32; B and H equal across the
 *           three, no broadcasting), optional mask (float32, rank <= 4, numpy-broadcastable
 *           to [B,H,Sq,Sk] without growing it)
 *   attrs   scale (float, required, finite), has_mask (bool, must equal "4 inputs")
 *   output  [B,H,Sq,Dv] float32
 *
 * FLOPs equal those of the subgraph it replaces: two BatchMatMulV2 (2 Sq Sk D and 2 Sq Sk Dv
 * per head), the scaling Mul (1 per score), the mask AddV2 (1 per score) and Softmax (5 per
 * score, as flops_softmax counts). */
#include <math.h>

#include "infer.h"

static const char *const att_names[4] = {"q", "k", "v", "mask"};

static int check_mask(const Shape *m, const int64_t full[4], Err *err) {
    char sb[96];
    if (m->rank > 4)
        return err_set(err, ERR_INPUT, "mask has shape %s: rank above 4 cannot broadcast to the scores [B,H,Sq,Sk]",
                       shape_str(m, sb, sizeof sb));
    for (int i = 0; i < m->rank; i++) {
        int64_t d = m->dim[i], f = full[4 - m->rank + i];
        if (d >= 0 && f >= 0 && d != 1 && d != f)
            return err_set(err, ERR_INPUT, "mask has shape %s, not broadcastable to the scores [%lld,%lld,%lld,%lld]",
                           shape_str(m, sb, sizeof sb), (long long)full[0], (long long)full[1], (long long)full[2],
                           (long long)full[3]);
    }
    return 0;
}

int infer_grappo_attention(Graph *g, Node *n, Err *err) {
    for (int i = 0; i < n->n_inputs; i++)
        if (in_dtype(g, n, i) != DT_FLOAT)
            return err_set(err, ERR_INPUT, "input %d (%s) must be float32, got %s", i, att_names[i],
                           dtype_name(in_dtype(g, n, i)));
    const Attr *sc = node_attr_find(n, "scale");
    if (!sc || sc->kind != ATTR_FLOAT) return err_set(err, ERR_INPUT, "attribute scale (a float) is missing");
    if (!isfinite(sc->f)) return err_set(err, ERR_INPUT, "attribute scale must be finite, got %g", sc->f);
    const Attr *hm = node_attr_find(n, "has_mask");
    if (hm && hm->kind != ATTR_BOOL) return err_set(err, ERR_INPUT, "attribute has_mask must be a bool");
    bool has_mask = hm ? hm->b : false;
    if (has_mask != (n->n_inputs == 4))
        return err_set(err, ERR_INPUT, "has_mask is %s but the node has %d inputs (mask is input 3)",
                       has_mask ? "true" : "false", n->n_inputs);
    const Shape *q = in_shape(g, n, 0), *k = in_shape(g, n, 1), *v = in_shape(g, n, 2);
    char s1[96], s2[96], s3[96];
    if (q->rank != 4 || k->rank != 4 || v->rank != 4)
        return err_set(err, ERR_INPUT, "q, k, v must have rank 4 [B,H,S,D], got %s, %s, %s", shape_str(q, s1, sizeof s1),
                       shape_str(k, s2, sizeof s2), shape_str(v, s3, sizeof s3));
    for (int i = 0; i < 2; i++)
        if (q->dim[i] != k->dim[i] || q->dim[i] != v->dim[i])
            return err_set(err, ERR_INPUT, "q %s, k %s, v %s must agree on B and H", shape_str(q, s1, sizeof s1),
                           shape_str(k, s2, sizeof s2), shape_str(v, s3, sizeof s3));
    if (q->dim[3] != k->dim[3])
        return err_set(err, ERR_INPUT, "q %s and k %s must agree on D (the last dim)", shape_str(q, s1, sizeof s1),
                       shape_str(k, s2, sizeof s2));
    if (k->dim[2] != v->dim[2])
        return err_set(err, ERR_INPUT, "k %s and v %s must agree on the key length (dim 2)", shape_str(k, s2, sizeof s2),
                       shape_str(v, s3, sizeof s3));
    if (has_mask) {
        const int64_t full[4] = {q->dim[0], q->dim[1], q->dim[2], k->dim[2]};
        if (check_mask(in_shape(g, n, 3), full, err)) return -1;
    }
    Shape out = shape_make(4, (int64_t[]){q->dim[0], q->dim[1], q->dim[2], v->dim[3]});
    return infer_set_out(n, 0, DT_FLOAT, &out, err);
}

int64_t flops_grappo_attention(const Graph *g, const Node *n) {
    const Shape *q = in_shape(g, n, 0), *k = in_shape(g, n, 1), *v = in_shape(g, n, 2);
    if (q->rank != 4 || k->rank != 4 || v->rank != 4 || !shape_is_known(q) || !shape_is_known(k) || !shape_is_known(v))
        return 0;
    int64_t scores = q->dim[0] * q->dim[1] * q->dim[2] * k->dim[2];
    return scores * (2 * q->dim[3] + 2 * v->dim[3] + 6 + (n->n_inputs == 4 ? 1 : 0));
}
