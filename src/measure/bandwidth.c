/* bandwidth.c - the memory side of a roofline, measured now: how fast `threads` threads stream
 * a buffer of a given size (the size of a plan's weights, so it sits in the same level of the
 * cache hierarchy as the weights do), and the latency floor that rate sets for a run that
 * must read those bytes. Compiled with -fopenmp (mk/openmp.mk) so the team is the one
 * oneDNN's kernels run on; without it the read is single-threaded and still correct. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../report/stats.h"
#include "../runtime/native_simd.h"
#include "measure.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* the read loop is not instrumented in the sanitizer build (it reads only its own buffer):
   checked loads (and UBSan's pointer-overflow checks, which also stop vectorization) would
   measure the checker, not the memory, while oneDNN's JIT kernels it is compared with run
   uninstrumented */
#if defined(__SANITIZE_ADDRESS__) && defined(__GNUC__)
#define BANDWIDTH_NO_ASAN __attribute__((no_sanitize("address", "undefined")))
#else
#define BANDWIDTH_NO_ASAN
#endif

/* sum of n 64-bit words: integer adds reassociate freely, so the loop vectorizes (AVX2 clone)
   without changing its result, and the sum keeps the compiler from dropping the loads; four
   independent sums keep the loads overlapped where the compiler does not vectorize (-O1) */
NATIVE_CLONES BANDWIDTH_NO_ASAN static uint64_t sum_words(const uint64_t *p, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; i++) s0 += p[i];
    return s0 + s1 + s2 + s3;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* one pass: each thread reads its contiguous share of the words */
static uint64_t read_pass(const uint64_t *buf, size_t words, int threads) {
    uint64_t total = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        size_t lo = words * t / nt, hi = words * (t + 1) / nt;
        total += sum_words(buf + lo, hi - lo);
    }
#else
    (void)threads;
    total = sum_words(buf, words);
#endif
    return total;
}

int bandwidth_threads(int threads) {
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
}

int bandwidth_read_measure(size_t bytes, int threads, int passes, ReadBandwidth *out, Err *err) {
    if (bytes < sizeof(uint64_t) || passes < 1) return err_set(err, ERR_INPUT, "bandwidth: need at least 8 bytes and 1 pass");
    size_t words = bytes / sizeof(uint64_t);
    uint64_t *buf = malloc(words * sizeof *buf);
    double *sec = malloc((size_t)passes * sizeof *sec);
    if (!buf || !sec) {
        free(buf);
        free(sec);
        return err_set(err, ERR_RUNTIME, "out of memory (bandwidth buffer of %zu bytes)", bytes);
    }
    memset(buf, 1, words * sizeof *buf); /* faults the pages in: the passes time reads only */
    int nt = bandwidth_threads(threads);
    volatile uint64_t sink = read_pass(buf, words, nt); /* warm-up: brings the buffer into cache as far as it fits */
    for (int k = 0; k < passes; k++) {
        double t0 = now_s();
        sink += read_pass(buf, words, nt);
        sec[k] = now_s() - t0;
    }
    (void)sink;
    Summary s = stats_summarize(sec, passes);
    free(buf);
    free(sec);
    out->bytes = (double)(words * sizeof(uint64_t));
    out->threads = nt;
    out->passes = passes;
    out->gb_per_s = s.median > 0 ? out->bytes / s.median * 1e-9 : 0;
    return out->gb_per_s > 0 ? 0 : err_set(err, ERR_RUNTIME, "bandwidth: the clock did not advance over a pass");
}

double bandwidth_floor_ms(double bytes, double gb_per_s) { return gb_per_s > 0 ? bytes / (gb_per_s * 1e6) : 0; }
