/* cost_roofline.c - the analytic kernel time: a kernel is bound either by arithmetic or by
 * memory traffic, whichever takes longer, plus a fixed launch overhead. Deterministic; used
 * by tests, by machines where timing is not wanted, and as the fallback for kernels that
 * cannot be timed alone. */
#include "cost_internal.h"

double cost_roofline_of(double flops, double bytes, const CostOpts *opts) {
    double gflops = opts->peak_gflops > 0 ? opts->peak_gflops : 100.0;
    double gbps = opts->peak_gbps > 0 ? opts->peak_gbps : 20.0;
    double overhead = opts->overhead_ms > 0 ? opts->overhead_ms : 0.002;
    if (flops < 0) flops = 0;
    if (bytes < 0) bytes = 0;
    double compute_ms = flops / (gflops * 1e9) * 1e3, memory_ms = bytes / (gbps * 1e9) * 1e3;
    return (compute_ms > memory_ms ? compute_ms : memory_ms) + overhead;
}

double cost_roofline_ms(const Graph *g, int node, const CostOpts *opts) {
    const Node *n = g->nodes[node];
    return cost_roofline_of((double)node_flops(g, n), (double)node_bytes(g, n), opts);
}
