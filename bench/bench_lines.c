/* bench_lines.c — draws line charts for docs/RESULTS.md (the reproduction's Fig. 2(b) and
 * Fig. 6): one panel per metric, one polyline per series, points marked, written by hand as SVG.
 *   build/bench_lines DATA.tsv OUT.svg "x-axis label"
 * DATA.tsv: one line per point, tab-separated: panel (the metric's name, e.g. "FID"), series
 * (e.g. "sara"), x, y. Panels and series keep the order of their first appearance; points are
 * joined in file order. Lines starting with '#' are comments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define MAX_POINTS 4096
#define MAX_NAMES 12
#define NAME_MAX_LEN 64

#define PANEL_W 520 /* one chart, px */
#define PANEL_H 300
#define MARGIN_L 64 /* room for the y tick labels */
#define MARGIN_R 16
#define MARGIN_T 34 /* room for the panel title */
#define MARGIN_B 46 /* room for the x tick labels and the axis label */
#define LEGEND_H 36
#define TICKS 5

static const char *const COLORS[MAX_NAMES] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                              "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aaaaaa"};

typedef struct {
    int panel, series;
    double x, y;
} point;

typedef struct {
    point p[MAX_POINTS];
    int n;
    char panels[MAX_NAMES][NAME_MAX_LEN], series[MAX_NAMES][NAME_MAX_LEN];
    int n_panels, n_series;
} chart;

/* Index of name in names (added when new); -1 when the table is full. */
static int name_index(char (*names)[NAME_MAX_LEN], int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], name))
            return i;
    if (*n == MAX_NAMES)
        return -1;
    snprintf(names[*n], NAME_MAX_LEN, "%s", name);
    return (*n)++;
}

static int read_chart(const char *path, chart *c)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_lines: %s: cannot open\n", path);
        return 1;
    }
    char line[512], panel[NAME_MAX_LEN], series[NAME_MAX_LEN];
    int lineno = 0, bad = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '#')
            continue;
        point *q = c->n < MAX_POINTS ? &c->p[c->n] : NULL;
        bad = !q || sscanf(line, "%63[^\t]\t%63[^\t]\t%lf\t%lf", panel, series, &q->x, &q->y) != 4 ||
              !isfinite(q->x) || !isfinite(q->y);
        if (!bad) {
            q->panel = name_index(c->panels, &c->n_panels, panel);
            q->series = name_index(c->series, &c->n_series, series);
            bad = q->panel < 0 || q->series < 0;
        }
        if (bad)
            fprintf(stderr, "bench_lines: %s:%d: expected panel, series and two finite numbers, tab-separated "
                    "(or more than %d points, panels or series)\n", path, lineno, MAX_POINTS);
        else
            c->n++;
    }
    fclose(f);
    if (!bad && c->n == 0)
        fprintf(stderr, "bench_lines: %s: no data\n", path);
    return bad || c->n == 0;
}

/* Axis range [lo, hi] covering the values, widened to round numbers; a flat range gets a margin. */
static void axis_range(double vmin, double vmax, double *lo, double *hi)
{
    if (vmax - vmin < 1e-12 * (fabs(vmax) + 1)) {
        vmin -= fabs(vmin) * 0.1 + 1e-3;
        vmax += fabs(vmax) * 0.1 + 1e-3;
    }
    double step = svg_nice_ceil((vmax - vmin) / TICKS);
    *lo = floor(vmin / step) * step;
    *hi = *lo + step * ceil((vmax - *lo) / step - 1e-9);
}

static void draw_panel(FILE *o, const chart *c, int panel, int x0, int y0, const char *xlabel)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY, xlo, xhi, ylo, yhi;
    for (int i = 0; i < c->n; i++)
        if (c->p[i].panel == panel) {
            xmin = fmin(xmin, c->p[i].x), xmax = fmax(xmax, c->p[i].x);
            ymin = fmin(ymin, c->p[i].y), ymax = fmax(ymax, c->p[i].y);
        }
    axis_range(xmin, xmax, &xlo, &xhi);
    axis_range(ymin, ymax, &ylo, &yhi);
    int pw = PANEL_W - MARGIN_L - MARGIN_R, ph = PANEL_H - MARGIN_T - MARGIN_B;
    int ax = x0 + MARGIN_L, ay = y0 + MARGIN_T + ph;
    fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">", ax, y0 + 20);
    svg_text(o, c->panels[panel]);
    fputs("</text>\n", o);
    for (int k = 0; k <= TICKS; k++) {
        double fy = (double)k / TICKS, fx = fy;
        int y = ay - (int)lround(ph * fy), x = ax + (int)lround(pw * fx);
        fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", ax, y, ax + pw, y);
        fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%g</text>\n", ax - 4, y + 3,
                ylo + (yhi - ylo) * fy);
        fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%g</text>\n", x, ay + 14,
                xlo + (xhi - xlo) * fx);
    }
    fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#000\"/>\n", ax, ay - ph,
            pw, ph);
    fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">", ax + pw / 2, ay + 34);
    svg_text(o, xlabel);
    fputs("</text>\n", o);
    for (int s = 0; s < c->n_series; s++) {
        int started = 0;
        for (int i = 0; i < c->n; i++) {
            const point *q = &c->p[i];
            if (q->panel != panel || q->series != s)
                continue;
            double px = ax + pw * (q->x - xlo) / (xhi - xlo), py = ay - ph * (q->y - ylo) / (yhi - ylo);
            fprintf(o, "%s%.1f,%.1f", started ? " " : "<polyline fill=\"none\" stroke-width=\"2\" points=\"", px, py);
            started = 1;
        }
        if (started)
            fprintf(o, "\" stroke=\"%s\"/>\n", COLORS[s]);
        for (int i = 0; i < c->n; i++) {
            const point *q = &c->p[i];
            if (q->panel == panel && q->series == s)
                fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", ax + pw * (q->x - xlo) / (xhi - xlo),
                        ay - ph * (q->y - ylo) / (yhi - ylo), COLORS[s]);
        }
    }
}

static int write_svg(const char *path, const chart *c, const char *xlabel)
{
    FILE *o = fopen(path, "w");
    if (!o) {
        fprintf(stderr, "bench_lines: %s: cannot write\n", path);
        return 1;
    }
    int w = c->n_panels * PANEL_W, h = LEGEND_H + PANEL_H;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\">\n", w,
            h);
    fprintf(o, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    for (int s = 0; s < c->n_series; s++) {
        int lx = MARGIN_L + 130 * s;
        fprintf(o, "<rect x=\"%d\" y=\"12\" width=\"14\" height=\"14\" fill=\"%s\"/>\n", lx, COLORS[s]);
        fprintf(o, "<text x=\"%d\" y=\"24\" font-size=\"12\">", lx + 20);
        svg_text(o, c->series[s]);
        fputs("</text>\n", o);
    }
    for (int p = 0; p < c->n_panels; p++)
        draw_panel(o, c, p, p * PANEL_W, LEGEND_H, xlabel);
    fputs("</svg>\n", o);
    return fclose(o) != 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_lines DATA.tsv OUT.svg \"x-axis label\"\n");
        return 2;
    }
    chart *c = calloc(1, sizeof *c);
    int r = !c || read_chart(argv[1], c) || write_svg(argv[2], c, argv[3]);
    free(c);
    return r;
}
