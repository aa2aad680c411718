/* ab_gemv.c - A/B timing of one model's fast-runtime plan with and without the matrix-vector
 * path for tiny output maps (native_gemv.c), in one process: both plans compiled, then run
 * alternately (A B, B A, ...) so machine noise hits both; prints each one's median, the ratio
 * and the weights each plan reads per run. Usage: ab_gemv MODEL [ROUNDS] [THREADS] [fewer-taps|always]: A is the plan with the path in that
 * mode (default fewer-taps, the runtime's), B without it; with MODEL_B, B runs that model
 * instead (same inputs): before/after a rewrite and the path together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "measure/measure.h"
#include "optimize/model_load.h"
#include "report/stats.h"
#include "runtime/dnn_conv_internal.h"
#include "runtime/plan.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: ab_gemv MODEL [ROUNDS] [THREADS] [fewer-taps|always] [MODEL_B]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 200, threads = argc > 3 ? atoi(argv[3]) : 2;
    if (rounds < 1) rounds = 1;
    Err e;
    Graph *g = model_load(argv[1], &e);
    if (!g || model_prepare(g, NULL, 0, &e)) {
        fprintf(stderr, "ab_gemv: %s\n", e.msg);
        return 2;
    }
    Graph *gb = g;
    if (argc > 5) {
        gb = model_load(argv[5], &e);
        if (!gb || model_prepare(gb, NULL, 0, &e)) {
            fprintf(stderr, "ab_gemv: %s\n", e.msg);
            return 2;
        }
    }
    InputSet in;
    PlanOpts po = {.threads = threads};
    Plan *p[2];
    const char *mode = argc > 4 ? argv[4] : "fewer-taps";
    conv_gemv_set_mode(!strcmp(mode, "always") ? GEMV_ALWAYS : GEMV_FEWER_TAPS);
    p[0] = plan_compile(g, NULL, 0, &po, &e);
    conv_gemv_set_mode(GEMV_OFF);
    p[1] = p[0] ? plan_compile(gb, NULL, 0, &po, &e) : NULL;
    if (!p[1] || inputs_generate(g, 1, 1, &in, &e)) {
        fprintf(stderr, "ab_gemv: %s\n", e.msg);
        return 1;
    }
    double *ms[2] = {malloc(sizeof(double) * (size_t)rounds), malloc(sizeof(double) * (size_t)rounds)};
    Tensor out[16];
    /* per node and round: node_t[k][i * rounds + r] */
    int nn = g->n_nodes > gb->n_nodes ? g->n_nodes : gb->n_nodes;
    double *node_ms = calloc((size_t)nn, sizeof *node_ms), *node_t[2];
    for (int k = 0; k < 2; k++) node_t[k] = calloc((size_t)nn * (size_t)rounds, sizeof(double));
    for (int r = -1; r < rounds; r++)
        for (int k = 0; k < 2; k++) {
            int which = (r & 1) ? 1 - k : k;
            double t0 = now_ms();
            PlanTiming pt = {0, node_ms};
            for (int i = 0; i < nn; i++) node_ms[i] = 0;
            if (plan_run(p[which], in.feeds[0], in.n_feeds, out, &pt, &e)) {
                fprintf(stderr, "ab_gemv: %s\n", e.msg);
                return 1;
            }
            double t = now_ms() - t0;
            for (int o = 0; o < g->n_outputs && o < 16; o++) tensor_release(&out[o]);
            if (r >= 0) ms[which][r] = t;
            if (r >= 0)
                for (int i = 0; i < nn; i++) node_t[which][(size_t)i * (size_t)rounds + (size_t)r] = node_ms[i];
        }
    printf("%-40s %12s %-14s %12s %-22s\n", "node where the kernels differ", "A median ms", "kernel", "B median ms", "kernel");
    double on_sum = 0, off_sum = 0;
    for (int i = 0; gb == g && i < g->n_nodes; i++) {
        const char *a = plan_node_impl(p[0], i), *b = plan_node_impl(p[1], i);
        if (!a || !b || !strcmp(a, b)) continue;
        const char *nm = g->nodes[i]->name;
        size_t len = strlen(nm);
        double med[2];
        for (int k = 0; k < 2; k++) med[k] = stats_summarize(node_t[k] + (size_t)i * (size_t)rounds, rounds).median;
        on_sum += med[0];
        off_sum += med[1];
        printf("%-40s %12.4f %-14s %12.4f %-22s\n", len > 40 ? nm + len - 40 : nm, med[0], a, med[1], b);
    }
    printf("%-40s %12.4f %-14s %12.4f\n", "sum (medians)", on_sum, "", off_sum);
    const char *name[2] = {"A gemv  ", "B oneDNN"};
    Summary s[2];
    for (int k = 0; k < 2; k++) {
        s[k] = stats_summarize(ms[k], rounds);
        printf("%s: median %.3f ms (95%% CI of the median %.3f..%.3f), min %.3f; weights %.2f MiB\n", name[k], s[k].median,
               s[k].med_lo, s[k].med_hi, s[k].min, (double)plan_weight_bytes(p[k]) / 1048576.0);
    }
    printf("A/B median ratio %.3f, min ratio %.3f (%d rounds, %d threads, alternating)\n", s[0].median / s[1].median,
           s[0].min / s[1].min, rounds, threads);
    for (int k = 0; k < 2; k++) {
        plan_free(p[k]);
        free(ms[k]);
        free(node_t[k]);
    }
    free(node_ms);
    if (gb != g) graph_free(gb);
    inputs_free(&in);
    graph_free(g);
    return 0;
}
