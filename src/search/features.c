/* features.c - what the policy sees of a graph: one feature row per node the runtime executes
 * or reads (every node but Consts and NoOps: weights show up as features of the node that
 * reads them), the data edges between those nodes, and a few graph-level numbers.
 *
 * A row is [one-hot op (OP_COUNT columns, or the policy's own op list: columns are matched by op
 * name, see env_policy_check) | FEAT_NUMERIC numbers]. Sizes enter as logarithms scaled
 * to roughly [0, 1] so a 224x224 ResNet-50 and an 8x8 random DAG speak the same language; the
 * cost model's share of the latency tells the policy where the time goes. Changing anything
 * here changes what a trained policy means: bump FEATURES_VERSION (policies record it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_internal.h"

#define FEAT_NUMERIC 20

int features_dim(void) { return OP_COUNT + FEAT_NUMERIC; }

int features_numeric_dim(void) { return FEAT_NUMERIC; }

int features_op_dim(void) { return OP_COUNT; }

static float lg(double x, double scale) { return (float)(log1p(x > 0 ? x : 0) / scale); }

static bool is_feature_node(const Node *n) { return n->op != OP_CONST && n->op != OP_NO_OP; }

static bool low_precision(int dt) { return dt == DT_BFLOAT16 || dt == DT_HALF || dt == DT_INT8 || dt == DT_UINT8; }

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

void features_free(FeatureBuf *f) {
    free(f->op_col);
    free(f->x);
    free(f->src);
    free(f->dst);
    free(f->node_to_feat);
    memset(f, 0, sizeof *f);
}

int features_build(const Graph *g, const double *node_ms, double total_ms, FeatureBuf *f, Err *err) {
    int dim = f->dim ? f->dim : features_dim(), num_at = f->dim ? f->n_cols : OP_COUNT;
    if (grow((void **)&f->node_to_feat, &f->cap_map, g->n_nodes + 1, sizeof(int))) return err_set(err, ERR_RUNTIME, "out of memory");
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) f->node_to_feat[i] = is_feature_node(g->nodes[i]) ? n++ : -1;
    if (n == 0) return err_set(err, ERR_INPUT, "graph has no nodes to observe");
    if (grow((void **)&f->x, &f->cap_x, n * dim, sizeof(float))) return err_set(err, ERR_RUNTIME, "out of memory");
    memset(f->x, 0, (size_t)n * (size_t)dim * sizeof(float));
    f->n_nodes = n;
    f->n_edges = 0;

    /* consumers per node and graph-output marks */
    GraphUses u;
    if (graph_uses(g, &u, err)) return -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *nd = g->nodes[i];
        int r = f->node_to_feat[i];
        if (r < 0) continue;
        float *x = f->x + (size_t)r * (size_t)dim;
        int col = f->op_col ? f->op_col[nd->op] : (int)nd->op;
        if (col >= 0) x[col] = 1;
        float *v = x + num_at;
        const Value *o = nd->n_outputs > 0 ? &nd->outputs[0] : NULL;
        double numel = o && o->shape.rank >= 0 ? (double)shape_numel(&o->shape) : 0;
        double weight_bytes = 0;
        int const_inputs = 0, lowp_in = 0;
        for (int k = 0; k < nd->n_inputs; k++) {
            const Node *p = g->nodes[nd->inputs[k].node];
            const Value *iv = node_input_value(g, nd, k);
            if (p->op == OP_CONST) {
                const_inputs++;
                if (iv->shape.rank >= 0) weight_bytes += (double)shape_numel(&iv->shape) * dtype_size(iv->dtype);
            }
            lowp_in += low_precision(iv->dtype);
        }
        v[0] = lg(numel, 16);
        v[1] = lg((double)node_flops(g, nd), 24);
        v[2] = lg((double)node_bytes(g, nd), 24);
        v[3] = o && o->dtype == DT_FLOAT;
        v[4] = o && (o->dtype == DT_BFLOAT16 || o->dtype == DT_HALF);
        v[5] = o && (o->dtype == DT_INT8 || o->dtype == DT_UINT8);
        v[6] = const_inputs > 0;
        v[7] = lg(weight_bytes, 20);
        v[8] = (op_def(nd->op)->flags & OPF_FUSED) != 0;
        const AttrList *fo = node_attr_list(nd, "fused_ops");
        v[9] = fo ? (float)fo->n / 4.0f : 0;
        v[10] = o && o->shape.rank >= 0 ? (float)o->shape.rank / 4.0f : 0;
        int consumers = u.use_start[i + 1] - u.use_start[i];
        v[11] = lg(consumers, 3);
        double ms = node_ms ? node_ms[i] : 0;
        v[12] = total_ms > 0 ? (float)(ms / total_ms) : 0;
        v[13] = lg(ms * 1000.0, 10); /* microseconds */
        v[14] = (op_def(nd->op)->flags & OPF_VIEW) != 0;
        const char *df = node_attr_s(nd, "data_format", "");
        v[15] = !strcmp(df, "NCHW");
        v[16] = nd->op == OP_GRAPPO_QCONV2D || nd->op == OP_GRAPPO_QMATMUL || nd->op == OP_GRAPPO_QUANTIZE ||
                nd->op == OP_GRAPPO_DEQUANTIZE;
        v[17] = (float)lowp_in / 2.0f;
        v[18] = (float)nd->n_inputs / 4.0f;
        v[19] = node_attr_find(nd, "_grappo_calib_min") != NULL; /* calibrated: quantizable */
        for (int k = 0; k < nd->n_inputs; k++) {
            int s = f->node_to_feat[nd->inputs[k].node];
            if (s < 0) continue;
            if (grow((void **)&f->src, &f->cap_e, f->n_edges + 1, sizeof(int)) ||
                grow((void **)&f->dst, &f->cap_e2, f->n_edges + 1, sizeof(int))) {
                graph_uses_free(&u);
                return err_set(err, ERR_RUNTIME, "out of memory");
            }
            f->src[f->n_edges] = s;
            f->dst[f->n_edges] = r;
            f->n_edges++;
        }
    }
    graph_uses_free(&u);
    /* a graph output counts as half a consumer more: its value must stay (and keep its name) */
    for (int k = 0; k < g->n_outputs; k++) {
        int r = f->node_to_feat[g->outputs[k].node];
        if (r >= 0) f->x[(size_t)r * (size_t)dim + num_at + 11] += 0.5f;
    }
    return 0;
}
