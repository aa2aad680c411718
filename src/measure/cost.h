/* cost.h - the cost model search uses between real measurements.
 *
 * Search cannot time a whole graph at every step, so a graph's latency is estimated as the sum
 * of its kernels: every node the fast runtime executes is a kernel, identified by a key that
 * holds everything its speed depends on - op, input and output dtypes and shapes, which inputs
 * are constants (prepacked weights), the attributes that change the computation (strides,
 * padding, dilations, data_format, fused_ops, transposes, quantization parameters, T) - but
 * not node names and not grappo's private "_grappo_" attributes (calibration ranges do not
 * change speed). Reorders in this runtime are explicit Transpose nodes (activations stay in
 * TensorFlow's plain layout between kernels; weights are reordered once, at compile time), so
 * they are kernels like any other. Views (Reshape, Identity, ...) and values known at compile
 * time cost nothing, exactly as in the plan.
 *
 * Two backends:
 *   COST_MEASURED  each distinct kernel is timed once on the fast runtime - a one-node graph
 *                  (constant inputs kept as Consts, the others fed as Placeholders), compiled
 *                  with the same PlanOpts, warmed up, median of repeated runs - and the time is
 *                  cached in memory and on disk (see below).
 *   COST_ROOFLINE  deterministic: max(flops / peak_flops, bytes / peak_bandwidth) per kernel,
 *                  plus a fixed per-kernel overhead; for tests and for machines where timing
 *                  is not wanted. Same keys, same sums, no measurement.
 *
 * Disk cache: one text file per (CPU model, thread count), in `dir` (default
 * $XDG_CACHE_HOME/grappo, else ~/.cache/grappo): "costs-v<COST_CACHE_VERSION>-<cpu hash>-t<N>.tsv".
 * Each line is "<key>\t<ms>\n". Writers append whole lines under an exclusive flock(), so two
 * processes training at once never interleave partial lines; readers take a shared lock and
 * ignore malformed lines (a crash mid-write costs at most one entry). A file with another
 * version's name is simply never read (the version is in the file name and on the first line).
 *
 * Memory: peak bytes are estimated without compiling a plan: bytes of the constants that
 * executed kernels read (weights) + graph_activation_peak (activations, views excluded).
 * Reported numbers always come from plan_peak_bytes on a compiled plan; this is for search.
 *
 * Thread safety: a CostModel is used by one thread at a time. Deterministic: the same graph
 * and the same cache contents give the same estimate. */
#ifndef GRAPPO_COST_H
#define GRAPPO_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../graph/graph.h"
#include "../util/err.h"

#define COST_CACHE_VERSION 1

typedef enum CostBackend { COST_MEASURED = 0, COST_ROOFLINE = 1 } CostBackend;

typedef struct CostOpts {
    CostBackend backend;
    int threads;          /* fast runtime threads (0 = all cores); part of the cache identity */
    const char *cache_dir; /* NULL = default location; "" = no disk cache (memory only) */
    int repeats;          /* COST_MEASURED: timed runs per kernel (0 = 15) after 2 warm-ups */
    /* COST_ROOFLINE: 0 = defaults (100 GFLOP/s, 20 GB/s, 0.002 ms per kernel) */
    double peak_gflops, peak_gbps, overhead_ms;
    /* COST_MEASURED: also write to the disk cache the times the guards keep to this run (a
       spread over 1.5x between quartiles, an outlier whose retimes disagree; their median or
       minimum). Training sets it: then the table it leaves holds every time it used, and a
       rerun from that table on the same CPU times nothing and reproduces the policy bit for
       bit (make policy). The searches leave it off, so their noisy times stay out. */
    bool write_noisy;
} CostOpts;

typedef struct CostModel CostModel;

/* Opens the model and loads the disk cache if any. ERR_RUNTIME when the cache directory
   cannot be created (the message names it). */
CostModel *cost_open(const CostOpts *opts, Err *err);
void cost_close(CostModel *cm);

typedef struct CostEstimate {
    double latency_ms;   /* sum over executed kernels */
    double peak_bytes;   /* weights read + activation peak */
    double weight_bytes;
    int kernels;         /* kernels summed (views and compile-time constants excluded) */
    int misses;          /* kernels that had to be timed for this estimate */
} CostEstimate;

/* Estimates g (inferred). node_ms (optional, g->n_nodes entries) receives each node's share
   (0 for views, constants, placeholders). Kernels not in the cache are timed now (COST_MEASURED)
   and added to the cache (memory and disk). */
int cost_estimate(CostModel *cm, const Graph *g, CostEstimate *out, double *node_ms, Err *err);

/* The key of node i of g, into buf (NUL-terminated, truncated keys are hashed so they stay
   unique). Returns false for nodes that are not kernels (views, Consts, Placeholders, values
   known at compile time). Exposed for tests and the cache's users. */
bool cost_kernel_key(const Graph *g, int node, char *buf, size_t cap);

/* counters since cost_open */
/* fallbacks: kernels whose one-node graph could not be built or compiled, charged the
   roofline time instead (kept in memory, never written to the disk cache) */
/* noisy: kernels whose runs spread (the machine was busy): used, never written to the disk cache */
/* retimed: kernels timed again because their first time was far above the roofline (cost.c) */
typedef struct CostStats { int64_t lookups, hits, timed; double timing_ms; int entries; int64_t fallbacks, noisy, retimed; } CostStats;
void cost_stats(const CostModel *cm, CostStats *out);

/* the cache file this model reads and appends to, or NULL (memory only / roofline) */
const char *cost_cache_path(const CostModel *cm);
/* true when this cost model created its cache file (the first run on this CPU and thread count) */
bool cost_cache_is_new(const CostModel *cm);

/* ---- checking a cost table (cost_check.c) ----
   Suspicious entries: at least COST_SUSPECT_MIN_MS, and over COST_SUSPECT_CLASS times their
   class's median ratio to the roofline (class: op and dtypes; a class of fewer than 3 entries:
   over COST_SUSPECT_ROOFLINE times the roofline). The same thresholds guard writes (cost.c):
   a new timing that far above its roofline is retimed before it is written. */
#define COST_SUSPECT_MIN_MS 0.5
#define COST_SUSPECT_CLASS 8.0
#define COST_SUSPECT_ROOFLINE 100.0
typedef struct CostSuspect {
    char *key;
    double ms, roofline_ms;
    double class_ms; /* what the class's median ratio predicts (NaN: class too small) */
} CostSuspect;
typedef struct CostCheck {
    int entries, unparsed, classes;
    int n_suspects;
    CostSuspect *suspects;
} CostCheck;
/* reads a table file (any version or CPU) and lists its suspicious entries */
int cost_check_file(const char *path, CostCheck *out, Err *err);
void cost_check_free(CostCheck *c);
/* rewrites the table without the listed entries (under the writers' lock); the next use of
   those kernels times them again, through the write guard */
int cost_check_remove(const char *path, const CostCheck *c, int *removed, Err *err);
/* max(flops / peak, bytes / bandwidth) + overhead with opts' defaults (cost_roofline.c) */
double cost_roofline_of(double flops, double bytes, const CostOpts *opts);

#endif
