/* svg.c - renders an SvgPlot (svg.h) into an SVG document: frame, grid and round ticks, axis
 * labels, line and scatter series, legend. Text is XML-escaped; numbers are printed with a
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

static double series_x(const SvgSeries *s, int i) { return s->x ? s->x[i] : i + 1; }

char *svg_render(const SvgPlot *p, Err *err) {
    int W = p->width > 0 ? p->width : 640, H = p->height > 0 ? p->height : 400;
    const double ml = 72, mr = 20, mt = 40, mb = 52; /* margins: room for labels */
    double pw = W - ml - mr, ph = H - mt - mb;

    /* data range over finite points */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < p->n_series; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            double x = series_x(&p->series[s], i), y = p->series[s].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xlo = fmin(xlo, x); xhi = fmax(xhi, x);
            ylo = fmin(ylo, y); yhi = fmax(yhi, y);
        }
    if (!(xlo <= xhi)) { xlo = 0; xhi = 1; ylo = 0; yhi = 1; }
    double xt[64], yt[64], xstep, ystep;
    int nxt = svg_nice_ticks(xlo, xhi, 8, xt, 64, &xstep);
    int nyt = svg_nice_ticks(ylo, yhi, 6, yt, 64, &ystep);
    double x0 = xt[0], x1 = xt[nxt - 1], y0 = yt[0], y1 = yt[nyt - 1];
#define PX(v) (ml + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (mt + ph - ((v) - y0) / (y1 - y0) * ph)

    StrBuf b = {0};
    strbuf_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    strbuf_printf(&b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    strbuf_printf(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", W / 2.0);
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

    /* series: a line is one path whose segments restart ("M") after a skipped point */
    for (int s = 0; s < p->n_series; s++) {
        const SvgSeries *se = &p->series[s];
        const char *col = se->color ? se->color : PALETTE[s % 6];
        if (se->kind == SVG_LINE) {
            strbuf_printf(&b, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" d=\"", col);
            bool pen_down = false;
            for (int i = 0; i < se->n; i++) {
                double x = series_x(se, i), y = se->y[i];
                if (!isfinite(x) || !isfinite(y)) { pen_down = false; continue; }
                strbuf_printf(&b, "%s%.2f %.2f ", pen_down ? "L" : "M", PX(x), PY(y));
                pen_down = true;
            }
            strbuf_printf(&b, "\"/>\n");
        } else {
            strbuf_printf(&b, "<g class=\"series\" fill=\"%s\">\n", col);
            for (int i = 0; i < se->n; i++) {
                double x = series_x(se, i), y = se->y[i];
                if (!isfinite(x) || !isfinite(y)) continue;
                strbuf_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\"/>\n", PX(x), PY(y));
            }
            strbuf_printf(&b, "</g>\n");
        }
    }

    /* legend, top right inside the frame, on a translucent box so the data stays visible */
    int entries = 0, entry = 0;
    for (int s = 0; s < p->n_series; s++) entries += p->series[s].name && p->series[s].name[0];
    if (entries)
        strbuf_printf(&b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"156\" height=\"%d\" fill=\"white\" fill-opacity=\"0.8\" "
                       "stroke=\"#c0c0c0\"/>\n", ml + pw - 156, mt + 4, 16 * entries + 6);
    for (int s = 0; s < p->n_series; s++) {
        const SvgSeries *se = &p->series[s];
        if (!se->name || !se->name[0]) continue;
        const char *col = se->color ? se->color : PALETTE[s % 6];
        double lx = ml + pw - 150, ly = mt + 14 + 16 * entry++;
        if (se->kind == SVG_LINE)
            strbuf_printf(&b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\"/>\n", lx,
                       ly - 4, lx + 20, ly - 4, col);
        else
            strbuf_printf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", lx + 10, ly - 4, col);
        strbuf_printf(&b, "<text class=\"legend\" x=\"%.2f\" y=\"%.2f\">", lx + 26, ly);
        buf_text(&b, se->name);
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
