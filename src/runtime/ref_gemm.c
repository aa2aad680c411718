/* ref_gemm.c - the inner loops the reference convolutions and matmuls share:
 *   ref_axpy_rows: acc[0..n) += sum over r of x[r] * w[r][0..n)  (double accumulators)
 *   ref_gemm_f32:  row-by-row matrix product built on it (i-k-j order)
 *   ref_mac_vec:   acc[0..n) += a[0..n) * b[0..n)  (depthwise convolution, one tap)
 * Four rows are taken per pass so the accumulator row is loaded and stored a quarter as often;
 * products of two floats are exact in double, so only the additions round. */
#include <string.h>

#include "ref_nn.h"

#if defined(__GNUC__) && !defined(__clang__)
/* At -O2, GCC's "very cheap" vectorizer cost model skips loops whose trip count is unknown;
   these few hot loops are worth vector code at any length. */
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

void ref_axpy_rows(double *restrict acc, int64_t n, const float *restrict x, int64_t x_step, const float *restrict w,
                   int64_t w_step, int64_t rows) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const double x0 = x[r * x_step], x1 = x[(r + 1) * x_step], x2 = x[(r + 2) * x_step], x3 = x[(r + 3) * x_step];
        const float *restrict w0 = w + r * w_step, *restrict w1 = w0 + w_step, *restrict w2 = w1 + w_step,
                              *restrict w3 = w2 + w_step;
        for (int64_t j = 0; j < n; j++) acc[j] += (x0 * w0[j] + x1 * w1[j]) + (x2 * w2[j] + x3 * w3[j]);
    }
    for (; r < rows; r++) {
        const double xr = x[r * x_step];
        const float *restrict wr = w + r * w_step;
        for (int64_t j = 0; j < n; j++) acc[j] += xr * wr[j];
    }
}

void ref_gemm_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_row, int64_t a_col, const float *b, float *c,
                  double *acc) {
    for (int64_t i = 0; i < m; i++) {
        memset(acc, 0, (size_t)n * sizeof *acc);
        ref_axpy_rows(acc, n, a + i * a_row, a_col, b, n, k);
        float *cr = c + i * n;
        for (int64_t j = 0; j < n; j++) cr[j] = (float)acc[j];
    }
}

void ref_mac_vec(double *restrict acc, const float *restrict a, const float *restrict b, int64_t n) {
    for (int64_t j = 0; j < n; j++) acc[j] += (double)a[j] * b[j];
}
