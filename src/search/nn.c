/* nn.c - the policy's layers: linear, relu, mean aggregation over edges, mean/max pooling,
 * gathered means; forward and backward side by side (see nn.h for the conventions). */
#include "nn.h"

#include <string.h>

/* ---- the two inner loops everything else is made of -------------------------------------- */

/* Both work in blocks of 8 with a constant trip count: at -O2 gcc only vectorizes loops whose
   vector code replaces the scalar loop entirely, which a fixed 8-wide block does and a loop
   of run-time length does not. Eight partial sums also let the dot product use vectors
   without reassociation flags (it changes the rounding order, not the precision). */
static float dot(const float *restrict a, const float *restrict b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[k + j] * b[k + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; k < n; k++) s += a[k] * b[k];
    return s;
}

/* y += s * x */
static void axpy(float *restrict y, float s, const float *restrict x, int n) {
    int k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) y[k + j] += s * x[k + j];
    for (; k < n; k++) y[k] += s * x[k];
}

/* ---- linear ------------------------------------------------------------------------------ */

void nn_linear_forward(float *y, const float *x, const float *W, const float *b, int n, int in, int out) {
    for (int i = 0; i < n; i++) {
        float *yi = y + (size_t)i * out;
        for (int o = 0; o < out; o++) yi[o] = b ? b[o] : 0.0f;
    }
    nn_linear_accumulate(y, x, W, n, in, out);
}

void nn_linear_accumulate(float *y, const float *x, const float *W, int n, int in, int out) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        float *yi = y + (size_t)i * out;
        for (int o = 0; o < out; o++) yi[o] += dot(W + (size_t)o * in, xi, in);
    }
}

void nn_linear_backward(float *dx, float *dW, float *db, const float *x, const float *W, const float *dy, int n,
                        int in, int out) {
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        const float *dyi = dy + (size_t)i * out;
        float *dxi = dx ? dx + (size_t)i * in : NULL;
        for (int o = 0; o < out; o++) {
            float g = dyi[o];
            /* after a relu most upstream gradients are exactly zero: skip them */
            if (g == 0.0f) continue;
            if (db) db[o] += g;
            if (dW) axpy(dW + (size_t)o * in, g, xi, in);
            if (dxi) axpy(dxi, g, W + (size_t)o * in, in);
        }
    }
}

/* ---- relu -------------------------------------------------------------------------------- */

void nn_relu_forward(float *y, const float *x, size_t len) {
    for (size_t i = 0; i < len; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void nn_relu_backward(float *dx, const float *y, const float *dy, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (y[i] > 0.0f) dx[i] += dy[i];
}

/* ---- mean over edges --------------------------------------------------------------------- */

void nn_inv_degree(float *inv, int n_nodes, const int *to, int n_edges) {
    for (int v = 0; v < n_nodes; v++) inv[v] = 0.0f;
    for (int e = 0; e < n_edges; e++) inv[to[e]] += 1.0f;
    for (int v = 0; v < n_nodes; v++) inv[v] = inv[v] > 0.0f ? 1.0f / inv[v] : 0.0f;
}

void nn_edge_mean_forward(float *out, const float *h, const int *from, const int *to, int n_edges,
                          const float *inv, int n_nodes, int dim) {
    memset(out, 0, (size_t)n_nodes * dim * sizeof(float));
    /* scatter each message already scaled by its receiver's 1/degree: one pass over the edges,
       O(edges * dim), no per-node neighbour lists needed */
    for (int e = 0; e < n_edges; e++) {
        axpy(out + (size_t)to[e] * dim, inv[to[e]], h + (size_t)from[e] * dim, dim);
    }
}

void nn_edge_mean_backward(float *dh, const float *dout, const int *from, const int *to, int n_edges,
                           const float *inv, int dim) {
    for (int e = 0; e < n_edges; e++) {
        axpy(dh + (size_t)from[e] * dim, inv[to[e]], dout + (size_t)to[e] * dim, dim);
    }
}

/* ---- pooling ----------------------------------------------------------------------------- */

void nn_mean_pool_forward(float *g, const float *h, int n, int dim) {
    for (int d = 0; d < dim; d++) g[d] = 0.0f;
    for (int v = 0; v < n; v++)
        for (int d = 0; d < dim; d++) g[d] += h[(size_t)v * dim + d];
    float s = n > 0 ? 1.0f / (float)n : 0.0f;
    for (int d = 0; d < dim; d++) g[d] *= s;
}

void nn_mean_pool_backward(float *dh, const float *dg, int n, int dim) {
    if (n <= 0) return;
    float s = 1.0f / (float)n;
    for (int v = 0; v < n; v++)
        for (int d = 0; d < dim; d++) dh[(size_t)v * dim + d] += s * dg[d];
}

void nn_max_pool_forward(float *g, int *argmax, const float *h, int n, int dim) {
    for (int d = 0; d < dim; d++) {
        g[d] = n > 0 ? h[d] : 0.0f;
        argmax[d] = n > 0 ? 0 : -1;
    }
    for (int v = 1; v < n; v++)
        for (int d = 0; d < dim; d++) {
            float x = h[(size_t)v * dim + d];
            if (x > g[d]) { g[d] = x; argmax[d] = v; }
        }
}

void nn_max_pool_backward(float *dh, const float *dg, const int *argmax, int dim) {
    for (int d = 0; d < dim; d++)
        if (argmax[d] >= 0) dh[(size_t)argmax[d] * dim + d] += dg[d];
}

/* ---- mean of gathered rows (a rewrite site's nodes) ---------------------------------------- */

void nn_gather_mean_forward(float *out, const float *h, const int *rows, int n, int dim) {
    for (int d = 0; d < dim; d++) out[d] = 0.0f;
    if (n <= 0) return;
    for (int i = 0; i < n; i++) {
        const float *hr = h + (size_t)rows[i] * dim;
        for (int d = 0; d < dim; d++) out[d] += hr[d];
    }
    float s = 1.0f / (float)n;
    for (int d = 0; d < dim; d++) out[d] *= s;
}

void nn_gather_mean_backward(float *dh, const float *dout, const int *rows, int n, int dim) {
    if (n <= 0) return;
    float s = 1.0f / (float)n;
    for (int i = 0; i < n; i++) {
        float *hr = dh + (size_t)rows[i] * dim;
        for (int d = 0; d < dim; d++) hr[d] += s * dout[d];
    }
}
