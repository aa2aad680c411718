/* calibrate.h - activation ranges for post-training quantization.
 *
 * calibrate_graph runs the reference runtime on calibration batches, fetching every float32
 * value that a quantizable node reads as an activation (inputs 0 and 1, when not constant, of
 * Conv2D, _FusedConv2D, DepthwiseConv2dNative, _FusedDepthwiseConv2dNative /
 * FusedDepthwiseConv2dNative, MatMul, _FusedMatMul) and both operands of every residual sum
 * (Add / AddV2 of two float32 rank-4 values of one shape: int8_residual_chain quantizes the
 * shortcut), and records each value's range on the node that produces it, as two attributes
 * indexed by output port:
 *
 *   _grappo_calib_min  list(float)   one entry per output port of the producer
 *   _grappo_calib_max  list(float)   NaN for ports that were not calibrated
 *
 * TensorFlow ignores "_"-prefixed attributes on any node, so an annotated graph is still a valid
 * GraphDef. The quantization rules (rules_quant*.c) read ranges with calib_range().
 *
 * Methods:
 *   CALIB_MINMAX      [min, max] over every element of every batch.
 *   CALIB_PERCENTILE  t = the p-th percentile of |x| (default p = 99.99) from a 2048-bin
 *                     histogram of |x| per value; range [max(min, -t), min(max, t)]. The
 *                     histogram covers [0, R): R starts at the first batch's max |x| and doubles
 *                     (merging bin pairs, so no count is lost or guessed) whenever a later batch
 *                     exceeds it; t is the upper edge of the bin where the cumulative count
 *                     reaches p% of all elements (so t >= the exact percentile, by less than one
 *                     bin width R/2048).
 *
 * Calibration batches: batches[b][0..n_feeds) feeds every placeholder once (same layout as
 * measure's InputSet.feeds). A batch whose feed shapes differ from the placeholders' inferred
 * shapes (e.g. batch 8 for a graph inferred at batch 1) is run on a clone re-inferred for it. */
#ifndef GRAPPO_CALIBRATE_H
#define GRAPPO_CALIBRATE_H

#include <stdbool.h>

#include "../graph/graph.h"
#include "../runtime/ref.h"

#define CALIB_ATTR_MIN "_grappo_calib_min"
#define CALIB_ATTR_MAX "_grappo_calib_max"
/* per channel (the last dimension) of output port 0 of rank-4 values: raw min / max of each
   channel over every batch (no percentile), one entry per channel; written with the two above,
   read by the int8 conv rule's channel equalization (rules_quant_int8.c) */
#define CALIB_ATTR_CHMIN "_grappo_calib_chmin"
#define CALIB_ATTR_CHMAX "_grappo_calib_chmax"
#define CALIB_MAX_CHANNELS 65536
#define CALIB_BINS 2048
#define CALIB_DEFAULT_PERCENTILE 99.99

typedef enum CalibMethod { CALIB_MINMAX = 0, CALIB_PERCENTILE = 1 } CalibMethod;

typedef struct CalibOpts {
    CalibMethod method;
    double percentile; /* CALIB_PERCENTILE: in (0, 100]; 0 = CALIB_DEFAULT_PERCENTILE */
} CalibOpts;

/* Annotates g (inferred) with the ranges of every quantizable activation over the batches.
   Returns the number of values calibrated, or -1 (ERR_INPUT for bad batches: missing feeds,
   shapes that do not infer; ERR_RUNTIME from the runtime). Values whose every element is NaN
   or infinite get no range. */
int calibrate_graph(Graph *g, const RefFeed *const *batches, int n_batches, int n_feeds, CalibMethod method, Err *err);
int calibrate_graph_opts(Graph *g, const RefFeed *const *batches, int n_batches, int n_feeds, const CalibOpts *opts,
                         Err *err);

/* calibrate_graph_opts reporting its batches: progress(user, 0, n) before the first and
   progress(user, b, n) after each (b batches done of n); a non-zero return cancels it
   (ERR_RUNTIME "cancelled"). progress NULL: calibrate_graph_opts. */
typedef int (*CalibProgressFn)(void *user, int done, int total);
int calibrate_graph_progress(Graph *g, const RefFeed *const *batches, int n_batches, int n_feeds, const CalibOpts *opts,
                             CalibProgressFn progress, void *user, Err *err);

/* The values calibrate_graph would calibrate, in node order (node index, then input index;
   each value once). *out is allocated here (free it); returns the count or -1. */
int calib_targets(const Graph *g, ValueRef **out, Err *err);

/* The recorded range of v, if any: true when both attributes exist, cover v's port, are
   finite and lo <= hi. */
bool calib_range(const Graph *g, ValueRef v, float *lo, float *hi);

/* The recorded per-channel ranges of v (port 0 only): true when both attributes exist with
   `channels` entries each, all finite and lo[c] <= hi[c]. lo and hi point into the attributes. */
bool calib_channel_ranges(const Graph *g, ValueRef v, int64_t channels, const float **lo, const float **hi);

/* Records [lo, hi] for v on its producer (NaN for the other ports when the attributes are
   new). Tests and the CLI use it to annotate by hand. */
int calib_set_range(Graph *g, ValueRef v, float lo, float hi, Err *err);

/* Carries the range of `from` to `to` when `to` has none: for rewrites where `to` now computes
   the value `from` computed (a fused node taking over a Relu's readers), so calibrating before
   exact rewrites is not lost. Returns 0 or -1 (OOM). */
int calib_carry(Graph *g, ValueRef from, ValueRef to, Err *err);

/* Removes every calibration attribute from n (its outputs' ranges no longer describe them). */
void calib_drop(Node *n);

/* ---- calibration batches (batches[b] is an array of *n_feeds RefFeeds, one per Placeholder
   in node order; names are copies; free with calib_batches_free) ---- */

/* n batches from input_generate with seeds 1..n (deterministic, like `run`'s inputs). */
int calib_batches_generate(const Graph *g, int n, RefFeed ***batches, int *n_feeds, Err *err);

/* Loads batches from a directory of .npy files, one file per placeholder and batch:
 *     DIR/<input>_<k>.npy      k = 0, 1, 2, ... (consecutive; the first missing k ends the set)
 * where <input> is the Placeholder's node name with '/' and ':' replaced by '_'. Every
 * placeholder needs a file for every k. A file's dtype is converted to the placeholder's when
 * they differ (e.g. numpy's default int64 for an int32 input); its rank and every dimension the
 * Placeholder's shape attribute fixes must match (unknown dims, like a dynamic batch, are
 * free). Errors are ERR_INPUT naming the file. */
int calib_batches_load(const Graph *g, const char *dir, RefFeed ***batches, int *n_batches, int *n_feeds, Err *err);

void calib_batches_free(RefFeed **batches, int n_batches, int n_feeds);

#endif
