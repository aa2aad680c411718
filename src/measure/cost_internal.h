/* cost_internal.h - what the cost model's files share (cost.c, cost_key.c, cost_cache.c,
 * cost_time.c, cost_roofline.c). Not a public contract: users include cost.h. */
#ifndef GRAPPO_COST_INTERNAL_H
#define GRAPPO_COST_INTERNAL_H

#include "cost.h"
#include "../util/hash.h"


/* ---- cost_key.c ---- */
/* true when the plan runs node i as a kernel (not a Placeholder, a value known at compile
   time, a view, or a node without outputs) - whether the fetches need it is the caller's */
bool cost_node_is_kernel(const Graph *g, int node);
/* true when input k of node i is a compile-time constant (its value is known) */
bool cost_input_is_const(const Graph *g, const Node *n, int k);

/* ---- cost_cache.c: key -> ms, in memory and (optionally) in an append-only file ---- */
typedef struct CostCache CostCache;
/* dir NULL = default location, "" = memory only. threads > 0 (already resolved). */
CostCache *cost_cache_open(const char *dir, int threads, Err *err);
void cost_cache_close(CostCache *c);
bool cost_cache_get(const CostCache *c, const char *key, double *ms);
/* adds to memory; persist also appends "<key>\t<ms>\n" to the file under an exclusive lock */
int cost_cache_put(CostCache *c, const char *key, double ms, bool persist, Err *err);
int cost_cache_entries(const CostCache *c);
const char *cost_cache_file(const CostCache *c); /* NULL when memory only */
bool cost_cache_created(const CostCache *c);     /* the file was created by this open */
/* the CPU's "model name" from /proc/cpuinfo ("unknown" when absent), into buf */
const char *cost_cpu_model(char *buf, size_t cap);

/* ---- cost_roofline.c ---- */
/* max(flops / peak, bytes / bandwidth) + overhead, with opts' defaults filled in */
double cost_roofline_ms(const Graph *g, int node, const CostOpts *opts);

/* ---- cost_time.c ---- */
/* Times nodes[0..n) of g, each alone on the fast runtime: a one-node graph (constant inputs as
   Consts sharing the buffers, other inputs as Placeholders), compiled with `threads`, 2
   warm-ups, median of `repeats` runs, in interleaved rounds (every kernel once per round).
   ms[j] is node j's time; ok[j] false when node j cannot be timed alone (the one-node graph
   cannot be built, compiled or run: the caller falls back to the roofline). noisy[j] (may be
   NULL) is set when node j's runs spread (the upper quartile over 1.5x the lower: the machine
   was busy): such a time is used but not worth keeping. -1 only when out of memory. */
int cost_time_nodes(const Graph *g, const int *nodes, int n, int threads, int repeats, double *ms, bool *ok, bool *noisy, Err *err);

#endif
