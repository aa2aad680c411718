/* svg.c - renders an SvgPlot (svg.h) into an SVG document: frame, grid and round ticks, axis
 * labels, line, step and scatter series (marker shapes, error bars, tags), the legend. Text is XML-escaped; numbers are printed with a
 * fixed precision so the same data gives the same bytes. */
#include "svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "../util/strbuf.h"

static void buf_text(StrBuf *b, const char *t) {
    for (; t && *t; t++) {
        switch (*t) {
        case '<': strbuf_printf(b, "&lt;"); break;
        case '>': strbuf_printf(b, "&gt;"); break;
        case '&': strbuf_printf(b, "&amp;"); break;
        case '"': strbuf_printf(b, "&quot;"); break;
        default: strbuf_printf(b, "%c", *t);
        }
    }
}

/* ---- ticks ---- */

int svg_nice_ticks(double lo, double hi, int max_intervals, double *ticks, int cap, double *step_out) {
    if (!(hi > lo)) {
        double pad = lo != 0 ? 0.1 * fabs(lo) : 1.0;
        lo -= pad;
        hi += pad;
    }
    if (max_intervals < 1) max_intervals = 1;
    double raw = (hi - lo) / max_intervals;
    double mag = pow(10, floor(log10(raw)));
    double step = 10 * mag;
    const double nice[3] = {1, 2, 5};
    for (int i = 2; i >= 0; i--)
        if (nice[i] * mag >= raw * (1 - 1e-12)) step = nice[i] * mag;
    /* integer multiples, so 0.1·3 prints as 0.3 and not 0.30000000000000004 */
    double k0 = floor(lo / step + 1e-9), k1 = ceil(hi / step - 1e-9);
    int n = 0;
    for (double k = k0; k <= k1 && n < cap; k++) ticks[n++] = k * step;
    if (step_out) *step_out = step;
    return n;
}

/* a tick label with as many decimals as the step needs */
static void tick_label(char *out, size_t cap, double v, double step) {
    if (fabs(v) < step * 1e-9) v = 0; /* no "-0" */
    if (step >= 1e6 || step < 1e-4) { snprintf(out, cap, "%g", v); return; }
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(out, cap, "%.*f", decimals, v);
}

/* ---- rendering ---- */

static const char *const PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

static const char *const MARKER_NAMES[SVG_N_MARKERS] = {"circle", "square", "triangle", "diamond", "triangle-down", "cross", "plus", "star"};

const char *svg_marker_name(SvgMarker m) { return m >= 0 && m < SVG_N_MARKERS ? MARKER_NAMES[m] : MARKER_NAMES[0]; }

static double series_x(const SvgSeries *s, int i) { return s->x ? s->x[i] : i + 1; }

/* one marker of size r centred at (cx, cy): filled shapes, or strokes for cross and plus */
static void marker(StrBuf *b, SvgMarker m, double cx, double cy, double r, const char *col) {
    const char *name = svg_marker_name(m);
    switch (m) {
    case SVG_MARKER_SQUARE:
        strbuf_printf(b, "<rect class=\"marker marker-%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", name,
                      cx - 0.85 * r, cy - 0.85 * r, 1.7 * r, 1.7 * r, col);
        break;
    case SVG_MARKER_TRIANGLE:
    case SVG_MARKER_TRIANGLE_DOWN: {
        double s = m == SVG_MARKER_TRIANGLE ? 1 : -1;
        strbuf_printf(b, "<polygon class=\"marker marker-%s\" points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\" fill=\"%s\"/>\n", name, cx,
                      cy - s * 1.15 * r, cx - r, cy + s * 0.75 * r, cx + r, cy + s * 0.75 * r, col);
        break;
    }
    case SVG_MARKER_DIAMOND:
        strbuf_printf(b, "<polygon class=\"marker marker-%s\" points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f\" fill=\"%s\"/>\n", name,
                      cx, cy - 1.2 * r, cx + r, cy, cx, cy + 1.2 * r, cx - r, cy, col);
        break;
    case SVG_MARKER_CROSS:
        strbuf_printf(b, "<path class=\"marker marker-%s\" d=\"M%.2f %.2fL%.2f %.2fM%.2f %.2fL%.2f %.2f\" stroke=\"%s\" stroke-width=\"2.2\"/>\n",
                      name, cx - r, cy - r, cx + r, cy + r, cx - r, cy + r, cx + r, cy - r, col);
        break;
    case SVG_MARKER_PLUS:
        strbuf_printf(b, "<path class=\"marker marker-%s\" d=\"M%.2f %.2fL%.2f %.2fM%.2f %.2fL%.2f %.2f\" stroke=\"%s\" stroke-width=\"2.2\"/>\n",
                      name, cx - 1.2 * r, cy, cx + 1.2 * r, cy, cx, cy - 1.2 * r, cx, cy + 1.2 * r, col);
        break;
    case SVG_MARKER_STAR: {
        strbuf_printf(b, "<polygon class=\"marker marker-%s\" points=\"", name);
        for (int k = 0; k < 10; k++) {
            const double pi = 3.14159265358979323846;
            double a = -pi / 2 + k * pi / 5, rr = k % 2 ? 0.5 * r : 1.3 * r;
            strbuf_printf(b, "%s%.2f,%.2f", k ? " " : "", cx + rr * cos(a), cy + rr * sin(a));
        }
        strbuf_printf(b, "\" fill=\"%s\"/>\n", col);
        break;
    }
    default:
        strbuf_printf(b, "<circle class=\"marker marker-%s\" cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\"/>\n", name, cx, cy, r, col);
    }
}

/* rough width in pixels of text at font size 12 (sans-serif averages ~6.6 px a character;
   UTF-8 continuation bytes are not characters) */
static double text_width(const char *t) {
    double n = 0;
    for (; t && *t; t++) n += ((unsigned char)*t & 0xC0) != 0x80;
    return 6.8 * n;
}

char *svg_render(const SvgPlot *p, Err *err) {
    int W0 = p->width > 0 ? p->width : 640, H = p->height > 0 ? p->height : 400;
    const double ml = 72, mr = 20, mt = 40, mb = 52; /* margins: room for labels */
    double pw = W0 - ml - mr, ph = H - mt - mb;

    /* the legend column right of the frame: as wide as its longest entry */
    int entries = 0;
    double legend_w = 0;
    for (int s = 0; s < p->n_series; s++) {
        const SvgSeries *se = &p->series[s];
        if (se->name && se->name[0]) {
            entries++;
            legend_w = fmax(legend_w, text_width(se->name));
        }
        /* a tag is a legend line of its own, under the series (on the plot, where points
           cluster, its text covered the markers next to it) */
        if (se->kind == SVG_SCATTER && se->tag && se->tag[0]) {
            entries++;
            legend_w = fmax(legend_w, 1.1 * text_width(se->tag)); /* bold */
        }
    }
    if (entries) legend_w += 44; /* sample, gap and padding */
    int W = (int)ceil(W0 + legend_w + (entries ? 8 : 0));

    /* data range over finite points (error bars included) */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        const SvgSeries *se = &p->series[s];
        for (int i = 0; i < se->n; i++) {
            double x = series_x(se, i), y = se->y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x); xhi = fmax(xhi, x);
            ylo = fmin(ylo, y); yhi = fmax(yhi, y);
            if (se->kind == SVG_SCATTER && se->xlo && isfinite(se->xlo[i])) xlo = fmin(xlo, se->xlo[i]);
            if (se->kind == SVG_SCATTER && se->xhi && isfinite(se->xhi[i])) xhi = fmax(xhi, se->xhi[i]);
        }
    }
    if (!(xlo <= xhi)) { xlo = 0; xhi = 1; ylo = 0; yhi = 1; }
    if (p->x_zero) { xlo = fmin(xlo, 0); xhi = fmax(xhi, 0); }
    if (p->y_zero) { ylo = fmin(ylo, 0); yhi = fmax(yhi, 0); }
    double xt[64], yt[64], xstep, ystep;
    int nxt = svg_nice_ticks(xlo, xhi, 8, xt, 64, &xstep);
    if (p->x_integer && xstep < 1) nxt = svg_nice_ticks(floor(xlo), fmax(ceil(xhi), floor(xlo) + 1), (int)fmax(1, ceil(xhi) - floor(xlo)), xt, 64, &xstep);
    int nyt = svg_nice_ticks(ylo, yhi, 6, yt, 64, &ystep);
    double x0 = xt[0], x1 = xt[nxt - 1], y0 = yt[0], y1 = yt[nyt - 1];
#define PX(v) (ml + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (mt + ph - ((v) - y0) / (y1 - y0) * ph)

    StrBuf b = {0};
    strbuf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    strbuf_printf(&b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    strbuf_printf(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", ml + pw / 2);
    buf_text(&b, p->title);
    strbuf_printf(&b, "</text>\n");

    /* grid and ticks */
    strbuf_printf(&b, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n");
    for (int i = 0; i < nxt; i++) strbuf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", PX(xt[i]), mt, PX(xt[i]), mt + ph);
    for (int i = 0; i < nyt; i++) strbuf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", ml, PY(yt[i]), ml + pw, PY(yt[i]));
    strbuf_printf(&b, "</g>\n");
    strbuf_printf(&b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"black\"/>\n", ml, mt, pw, ph);
    char lab[64];
    for (int i = 0; i < nxt; i++) {
        tick_label(lab, sizeof lab, xt[i], xstep);
        strbuf_printf(&b, "<text class=\"xtick\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n", PX(xt[i]), mt + ph + 16, lab);
    }
    for (int i = 0; i < nyt; i++) {
        tick_label(lab, sizeof lab, yt[i], ystep);
        strbuf_printf(&b, "<text class=\"ytick\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", ml - 6, PY(yt[i]) + 4, lab);
    }
    strbuf_printf(&b, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", ml + pw / 2, (double)H - 12);
    buf_text(&b, p->xlabel);
    strbuf_printf(&b, "</text>\n<text x=\"16\" y=\"%.2f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.2f)\">",
               mt + ph / 2, mt + ph / 2);
    buf_text(&b, p->ylabel);
    strbuf_printf(&b, "</text>\n");

    /* series: a line is one path whose segments restart ("M") after a skipped point; lines and
       steps first, so markers, bars and tags stay on top */
    for (int pass = 0; pass < 2; pass++)
        for (int s = 0; s < p->n_series; s++) {
            const SvgSeries *se = &p->series[s];
            const char *col = se->color ? se->color : PALETTE[s % 6];
            if ((se->kind == SVG_SCATTER) != (pass == 1)) continue;
            if (se->kind != SVG_SCATTER) {
                strbuf_printf(&b, "<path class=\"series%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" d=\"",
                              se->kind == SVG_STEP ? " step" : "", col);
                bool pen_down = false;
                double prev_y = 0;
                for (int i = 0; i < se->n; i++) {
                    double x = series_x(se, i), y = se->y[i];
                    if (!isfinite(x) || !isfinite(y)) { pen_down = false; continue; }
                    if (!pen_down) strbuf_printf(&b, "M%.2f %.2f ", PX(x), PY(y));
                    else if (se->kind == SVG_STEP) strbuf_printf(&b, "L%.2f %.2f L%.2f %.2f ", PX(x), PY(prev_y), PX(x), PY(y));
                    else strbuf_printf(&b, "L%.2f %.2f ", PX(x), PY(y));
                    pen_down = true;
                    prev_y = y;
                }
                strbuf_printf(&b, "\"/>\n");
                continue;
            }
            strbuf_printf(&b, "<g class=\"series\">\n");
            for (int i = 0; i < se->n; i++) {
                double x = series_x(se, i), y = se->y[i];
                if (!isfinite(x) || !isfinite(y)) continue;
                if (se->xlo && se->xhi && isfinite(se->xlo[i]) && isfinite(se->xhi[i])) {
                    double a = PX(se->xlo[i]), c = PX(se->xhi[i]), yy = PY(y);
                    strbuf_printf(&b, "<path class=\"errbar\" d=\"M%.2f %.2fL%.2f %.2fM%.2f %.2fL%.2f %.2fM%.2f %.2fL%.2f %.2f\" "
                                      "stroke=\"%s\" stroke-width=\"1.2\" fill=\"none\"/>\n",
                                  a, yy, c, yy, a, yy - 4, a, yy + 4, c, yy - 4, c, yy + 4, col);
                }
                marker(&b, se->marker, PX(x), PY(y), 4.5, col);
            }
            strbuf_printf(&b, "</g>\n");
        }

    /* tagged points ringed, last, so the ring shows over the markers near them */
    for (int s = 0; s < p->n_series; s++) {
        const SvgSeries *se = &p->series[s];
        if (se->kind != SVG_SCATTER || !se->tag || !se->tag[0]) continue;
        const char *col = se->color ? se->color : PALETTE[s % 6];
        for (int i = 0; i < se->n; i++) {
            double x = series_x(se, i), y = se->y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            strbuf_printf(&b, "<circle class=\"tag-ring\" cx=\"%.2f\" cy=\"%.2f\" r=\"8.5\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>\n",
                          PX(x), PY(y), col);
        }
    }

    /* legend, right of the frame */
    int entry = 0;
    double lx0 = ml + pw + 8;
    if (entries)
        strbuf_printf(&b, "<rect class=\"legend-box\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%d\" fill=\"white\" stroke=\"#c0c0c0\"/>\n",
                      lx0, mt, legend_w, 18 * entries + 8);
    for (int s = 0; s < p->n_series; s++) {
        const SvgSeries *se = &p->series[s];
        if (!se->name || !se->name[0]) continue;
        const char *col = se->color ? se->color : PALETTE[s % 6];
        double lx = lx0 + 6, ly = mt + 18 + 18 * entry++;
        if (se->kind != SVG_SCATTER)
            strbuf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\"/>\n", lx,
                       ly - 4, lx + 22, ly - 4, col);
        else
            marker(&b, se->marker, lx + 11, ly - 4, 4.5, col);
        strbuf_printf(&b, "<text class=\"legend\" x=\"%.2f\" y=\"%.2f\">", lx + 30, ly);
        buf_text(&b, se->name);
        strbuf_printf(&b, "</text>\n");
        if (se->kind != SVG_SCATTER || !se->tag || !se->tag[0]) continue;
        /* its tag on the next line: the ring drawn round the point, then the text */
        ly = mt + 18 + 18 * entry++;
        strbuf_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"6\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>\n", lx + 11,
                      ly - 4, col);
        strbuf_printf(&b, "<text class=\"tag\" x=\"%.2f\" y=\"%.2f\" font-weight=\"bold\" fill=\"%s\">", lx + 30, ly, col);
        buf_text(&b, se->tag);
        strbuf_printf(&b, "</text>\n");
    }
    strbuf_printf(&b, "</svg>\n");
#undef PX
#undef PY
    char *out = strbuf_finish(&b);
    if (!out) err_set(err, ERR_RUNTIME, "svg: out of memory");
    return out;
}

int svg_write(const SvgPlot *plot, const char *path, Err *err) {
    char *s = svg_render(plot, err);
    if (!s) return -1;
    int rc = atomic_write_file(path, s, strlen(s), err);
    free(s);
    return rc;
}
