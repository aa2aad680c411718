/* svg.h - a small SVG plot writer: one x-y chart with a title, axis labels, ticks at round
 * numbers (1, 2 or 5 times a power of ten), and one or more series drawn as lines, as
 * staircases (a Pareto front) or as scatter markers of distinct shapes with optional horizontal
 * error bars and a tag (a ring on the plot, its text in the legend), and a legend to the right of the frame (never over the data, sized
 * to its longest entry). Used for the training learning curve and the latency-memory Pareto
 * plot. Non-finite points are skipped (a line is broken there). */
#ifndef GRAPPO_SVG_H
#define GRAPPO_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/err.h"

typedef enum SvgKind {
    SVG_LINE = 0,
    SVG_SCATTER = 1,
    SVG_STEP = 2, /* points in x order joined by a horizontal then a vertical segment: nothing
                     is implied between them (a Pareto front of discrete results) */
} SvgKind;

/* scatter marker shapes, so points are told apart without colour; the element carries
   class="marker marker-<name>" (svg_marker_name) */
typedef enum SvgMarker {
    SVG_MARKER_CIRCLE = 0, SVG_MARKER_SQUARE, SVG_MARKER_TRIANGLE, SVG_MARKER_DIAMOND,
    SVG_MARKER_TRIANGLE_DOWN, SVG_MARKER_CROSS, SVG_MARKER_PLUS, SVG_MARKER_STAR,
    SVG_N_MARKERS
} SvgMarker;
const char *svg_marker_name(SvgMarker m);

typedef struct SvgSeries {
    const char *name;    /* legend entry (NULL or "" = no entry) */
    SvgKind kind;
    const double *x, *y; /* n points; x may be NULL (then x = 1, 2, ..., n) */
    int n;
    const char *color;   /* "#rrggbb" or NULL for the palette */
    SvgMarker marker;    /* SVG_SCATTER */
    const double *xlo, *xhi; /* SVG_SCATTER: horizontal error bar [xlo[i], xhi[i]] per point
                                (class="errbar"), or NULL */
    const char *tag;     /* SVG_SCATTER: its points ringed on the plot (class="tag-ring") and
                            this text in the legend under the series' entry (class="tag"), or
                            NULL. Not beside the points: where results cluster, text there
                            covered the markers next to it. */
} SvgSeries;

typedef struct SvgPlot {
    const char *title, *xlabel, *ylabel;
    int width, height;   /* pixels of the plot area plus margins; 0 = 640 x 400. The legend
                            widens the picture to the right by what it needs. */
    bool x_zero, y_zero; /* the axis starts at (or includes) 0, so distances read as ratios */
    bool x_integer;      /* x ticks at whole numbers only (iterations) */
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
