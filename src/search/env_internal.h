/* env_internal.h - what env.c and features.c share: the feature buffer of one observation. */
#ifndef GRAPPO_ENV_INTERNAL_H
#define GRAPPO_ENV_INTERNAL_H

#include "env.h"

typedef struct FeatureBuf {
    int n_nodes, n_edges;
    float *x;          /* n_nodes x features_dim() */
    int *src, *dst;    /* n_edges */
    int *node_to_feat; /* graph node -> feature row, -1 for Consts and NoOps */
    int cap_x, cap_e, cap_e2, cap_map;
    /* the policy's layout (env_new sets it): row width dim = n_cols one-hot columns + the
       numbers, op_col[op id] = the one-hot column of that op (-1: the policy has none). dim 0:
       this build's own layout (features_dim(), column = op id). */
    int dim, n_cols;
    int *op_col;
} FeatureBuf;

/* FEAT_NUMERIC: the numbers after the one-hot columns */
int features_numeric_dim(void);

/* Fills f from g (inferred). node_ms[i] (may be NULL) is the cost model's time of node i and
   total_ms their sum. Buffers are reused across calls. */
int features_build(const Graph *g, const double *node_ms, double total_ms, FeatureBuf *f, Err *err);
void features_free(FeatureBuf *f);

#endif
