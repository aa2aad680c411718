/* svg.h - a small SVG plot writer: one x-y chart with a title, axis labels, ticks at round
 * numbers (1, 2 or 5 times a power of ten), and one or more series drawn as lines or as
 * scatter points, with a legend. Used for the training learning curve and the latency-memory
 * Pareto plot. Non-finite points are skipped (a line is broken there). */
#ifndef GRAPPO_SVG_H
#define GRAPPO_SVG_H

#include <stddef.h>

#include "../util/err.h"

typedef enum SvgKind { SVG_LINE = 0, SVG_SCATTER = 1 } SvgKind;

typedef struct SvgSeries {
    const char *name;    /* legend entry (NULL or "" = no entry) */
    SvgKind kind;
    const double *x, *y; /* n points; x may be NULL (then x = 1, 2, ..., n) */
    int n;
    const char *color;   /* "#rrggbb" or NULL for the palette */
} SvgSeries;

typedef struct SvgPlot {
    const char *title, *xlabel, *ylabel;
    int width, height;   /* pixels; 0 = 640 x 400 */
    const SvgSeries *series;
    int n_series;
} SvgPlot;

/* Round ticks covering [lo, hi]: step = the smallest of {1, 2, 5}·10^k that is >= (hi - lo) /
   max_intervals; the axis is extended outward to multiples of step. Writes up to cap ticks
   (ascending) and *step; returns their count. lo == hi is widened to lo ± 1 (or ± 10% of |lo|). */
int svg_nice_ticks(double lo, double hi, int max_intervals, double *ticks, int cap, double *step);

/* The document as a malloc'd NUL-terminated string (caller frees), or NULL on OOM. */
char *svg_render(const SvgPlot *plot, Err *err);

/* svg_render + atomic write (a crash never leaves half a plot) */
int svg_write(const SvgPlot *plot, const char *path, Err *err);

#endif
