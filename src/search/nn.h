/* nn.h - the neural-network layers the policy is built from, each layer's forward and backward
 * side by side, in plain float loops over row-major matrices (one row per node or action).
 *
 * Conventions:
 *   - a weight matrix W of a layer with `in` inputs and `out` outputs is out x in, row-major,
 *     so y[i][o] = b[o] + sum_k W[o][k] x[i][k]  (y = x W^T + b, one row per item);
 *   - every backward ACCUMULATES (+=) into its gradient outputs (dx, dW, db), so a value that
 *     feeds several layers (residuals, shared weights) simply receives each contribution;
 *     gradient pointers may be NULL when that gradient is not needed;
 *   - forwards overwrite their outputs.
 * Nothing here allocates. */
#ifndef GRAPPO_NN_H
#define GRAPPO_NN_H

#include <stddef.h>

/* y[n x out] = x[n x in] W^T + b   (b may be NULL: no bias) */
void nn_linear_forward(float *y, const float *x, const float *W, const float *b, int n, int in, int out);
/* y[n x out] += x[n x in] W^T      (a second input of the same pre-activation) */
void nn_linear_accumulate(float *y, const float *x, const float *W, int n, int in, int out);
/* dx += dy W, dW += dy^T x, db += column sums of dy */
void nn_linear_backward(float *dx, float *dW, float *db, const float *x, const float *W, const float *dy, int n,
                        int in, int out);

/* y = max(x, 0) elementwise (y may alias x) */
void nn_relu_forward(float *y, const float *x, size_t len);
/* dx += dy where the forward output y > 0 (uses the OUTPUT y, so x need not be kept) */
void nn_relu_backward(float *dx, const float *y, const float *dy, size_t len);

/* inv[v] = 1 / (number of edges whose endpoint `to[e]` is v), 0 for nodes with none.
   With to = edge_dst this is the in-degree normalisation, with to = edge_src the out-degree. */
void nn_inv_degree(float *inv, int n_nodes, const int *to, int n_edges);
/* Mean over edges, one direction: out[v] = inv[v] * sum_{e: to[e] = v} h[from[e]].
   Messages along data edges producer->consumer: from = src, to = dst, inv over dst;
   the reverse direction: from = dst, to = src, inv over src. Nodes without edges get zeros. */
void nn_edge_mean_forward(float *out, const float *h, const int *from, const int *to, int n_edges,
                          const float *inv, int n_nodes, int dim);
/* dh[from[e]] += inv[to[e]] * dout[to[e]] */
void nn_edge_mean_backward(float *dh, const float *dout, const int *from, const int *to, int n_edges,
                           const float *inv, int dim);

/* g[d] = mean over the n rows of h[.][d] */
void nn_mean_pool_forward(float *g, const float *h, int n, int dim);
/* dh[v][d] += dg[d] / n */
void nn_mean_pool_backward(float *dh, const float *dg, int n, int dim);
/* g[d] = max over rows of h[.][d]; argmax[d] = the first row reaching it */
void nn_max_pool_forward(float *g, int *argmax, const float *h, int n, int dim);
/* the gradient goes to the argmax row only: dh[argmax[d]][d] += dg[d] */
void nn_max_pool_backward(float *dh, const float *dg, const int *argmax, int dim);

/* out[d] = mean over rows[0..n) of h[rows[i]][d]; zeros when n == 0 */
void nn_gather_mean_forward(float *out, const float *h, const int *rows, int n, int dim);
/* dh[rows[i]][d] += dout[d] / n */
void nn_gather_mean_backward(float *dh, const float *dout, const int *rows, int n, int dim);

#endif
