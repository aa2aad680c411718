/* profile.c - `grappo run --profile`: where the time goes, per op type and per node, with
 * achieved GFLOP/s, how the plan was built, and the memory floor: the time reading the
 * plan's weights once takes at the read bandwidth measured now (src/measure/bandwidth.c). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../measure/measure.h"
#include "../runtime/plan.h"

typedef struct Row { const char *name; double ms; int64_t flops; int count; int node; } Row;

static int by_ms(const void *a, const void *b) {
    const Row *x = a, *y = b;
    return (x->ms < y->ms) - (x->ms > y->ms);
}

/* passes of the bandwidth read (median taken) */
enum { PROFILE_BANDWIDTH_PASSES = 7 };

/* "weights read per run X; read bandwidth Y at N threads -> memory floor Z ms; this run at W%" */
static void print_memory_floor(const Plan *plan, int threads, double median_ms) {
    size_t wbytes = plan_weight_bytes(plan);
    if (wbytes < 8 || median_ms <= 0) return;
    ReadBandwidth bw;
    Err err;
    char a[32];
    if (bandwidth_read_measure(wbytes, threads, PROFILE_BANDWIDTH_PASSES, &bw, &err)) {
        printf("memory floor: not measured (%s)\n", err.msg);
        return;
    }
    double floor_ms = bandwidth_floor_ms(bw.bytes, bw.gb_per_s);
    printf("memory floor: weights read per run %s; read bandwidth %.1f GB/s at %d thread%s (measured now, buffer of that "
           "size, median of %d passes) -> memory floor %.3f ms; this run (median %.3f ms) at %.0f%% of it\n",
           fmt_bytes((double)wbytes, a, sizeof a), bw.gb_per_s, bw.threads, bw.threads == 1 ? "" : "s", bw.passes, floor_ms,
           median_ms, 100 * floor_ms / median_ms);
}

void cli_print_profile(const Graph *g, const Plan *plan, const double *node_ms_sum, int runs, int threads, double median_ms) {
    int n = g->n_nodes;
    Row *types = calloc((size_t)n + 1, sizeof *types), *nodes = calloc((size_t)n + 1, sizeof *nodes);
    if (!types || !nodes) { free(types); free(nodes); return; }
    int nt = 0;
    double total = 0;
    for (int i = 0; i < n; i++) {
        double ms = node_ms_sum[i] / runs;
        total += ms;
        const Node *nd = g->nodes[i];
        nodes[i] = (Row){nd->name, ms, node_flops(g, nd), 1, i};
        int k = 0;
        while (k < nt && strcmp(types[k].name, nd->op_name)) k++;
        if (k == nt) types[nt++].name = nd->op_name;
        if (ms > 0 || (plan && plan_node_impl(plan, i))) {
            types[k].ms += ms;
            types[k].flops += nodes[i].flops;
            types[k].count++;
        }
    }
    qsort(types, (size_t)nt, sizeof *types, by_ms);
    qsort(nodes, (size_t)n, sizeof *nodes, by_ms);
    printf("\nprofile (mean over %d run%s; node times sum to %.2f ms)\n", runs, runs == 1 ? "" : "s", total);
    printf("%-26s %5s %10s %6s %10s\n", "op type", "count", "ms", "share", "GFLOP/s");
    for (int k = 0; k < nt; k++) {
        if (types[k].count == 0) continue;
        printf("%-26s %5d %10.3f %5.1f%% ", types[k].name, types[k].count, types[k].ms, total > 0 ? 100 * types[k].ms / total : 0);
        if (types[k].flops && types[k].ms > 0) printf("%10.1f\n", (double)types[k].flops / (types[k].ms * 1e6));
        else printf("%10s\n", "-");
    }
    printf("\n%-52s %10s %10s  %s\n", "slowest nodes", "ms", "GFLOP/s", "kernel");
    for (int k = 0; k < n && k < 15 && nodes[k].ms > 0; k++) {
        const char *impl = plan ? plan_node_impl(plan, nodes[k].node) : "ref";
        printf("%-52s %10.3f ", nodes[k].name, nodes[k].ms); /* whole names: a long one shifts its row */
        if (nodes[k].flops) printf("%10.1f", (double)nodes[k].flops / (nodes[k].ms * 1e6));
        else printf("%10s", "-");
        printf("  %s\n", impl ? impl : "-");
    }
    if (plan) {
        PlanInfo info;
        plan_info(plan, &info);
        char a[32], b[32], c[32];
        printf("\nplan: %d steps (%d oneDNN, %d reference, %d views, %d dynamic), %d nodes folded to constants, %d in place\n", info.steps,
               info.fast_steps, info.ref_steps, info.view_steps, info.dynamic_steps, info.folded_nodes, info.inplace_steps);
        printf("arena: %s chosen: greedy-by-size %s, first-fit %s, lower bound %s\n", memplan_algo_name(info.algo),
               info.arena_greedy == (size_t)-1 ? "not run (too many tensors)" : fmt_bytes((double)info.arena_greedy, a, sizeof a), fmt_bytes((double)info.arena_first_fit, b, sizeof b),
               fmt_bytes((double)info.arena_lower_bound, c, sizeof c));
        printf("primitive cache: %d distinct primitives, %d reuses\n", info.cache_misses, info.cache_hits);
        print_memory_floor(plan, threads, median_ms);
        if (info.dynamic_steps)
            printf("dynamic: %d steps had shapes known only at run time (Where, NonMaxSuppression and what reads them): "
                   "reference kernels, values outside the arena, %s at peak in the last run\n",
                   info.dynamic_steps, fmt_bytes((double)info.dynamic_peak_bytes, a, sizeof a));
    }
    free(types);
    free(nodes);
}
