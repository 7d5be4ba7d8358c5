/* bench_plot.c — draws the methods benchmark (bench/run_methods_bench.sh) as an SVG grouped bar
 * chart: one row per batch size, seconds per step (bar = median, whisker = min–max) on the left and
 * peak RSS on the right, one group per method with a bar for sara and one for PyTorch. No plotting
 * library: the SVG is written by hand.
 *   build/bench_plot DATA.tsv OUT.svg
 * DATA.tsv: one line per run, tab-separated: batch, method label, impl (sara|pytorch), median_s,
 * min_s, max_s, peak_rss_mb. Methods keep the order of their first appearance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define MAX_ROWS 512
#define MAX_METHODS 16
#define MAX_BATCHES 8
#define LABEL_MAX 64

#define PANEL_W 560     /* one chart, px */
#define PANEL_H 250
#define MARGIN_L 64     /* room for the y tick labels */
#define MARGIN_T 34     /* room for the panel title */
#define MARGIN_B 64     /* room for the rotated method labels */
#define LEGEND_H 36
#define Y_TICKS 5
#define BAR_FRACTION 0.36 /* of a group's width, per bar */

static const char *const IMPLS[2] = {"sara", "pytorch"};
static const char *const COLORS[2] = {"#1f77b4", "#ff7f0e"};
static const char *const IMPL_NAMES[2] = {"sara (this engine)", "PyTorch"};

typedef struct {
    int batch, impl;
    char method[LABEL_MAX];
    double median, min, max, rss;
} row;

typedef struct {
    row rows[MAX_ROWS];
    int n;
    char methods[MAX_METHODS][LABEL_MAX];
    int n_methods;
    int batches[MAX_BATCHES];
    int n_batches;
} table;

static int index_of_method(table *t, const char *m)
{
    for (int i = 0; i < t->n_methods; i++)
        if (!strcmp(t->methods[i], m))
            return i;
    if (t->n_methods == MAX_METHODS)
        return -1;
    memcpy(t->methods[t->n_methods], m, LABEL_MAX); /* m is a row's label: LABEL_MAX bytes, terminated */
    return t->n_methods++;
}

static int add_batch(table *t, int b)
{
    for (int i = 0; i < t->n_batches; i++)
        if (t->batches[i] == b)
            return 0;
    if (t->n_batches == MAX_BATCHES)
        return -1;
    t->batches[t->n_batches++] = b;
    return 0;
}

static int read_table(const char *path, table *t)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_plot: %s: cannot open\n", path);
        return 1;
    }
    char line[512], impl[16];
    int lineno = 0, bad = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '#')
            continue;
        row *r = t->n < MAX_ROWS ? &t->rows[t->n] : NULL;
        bad = !r || sscanf(line, "%d\t%63[^\t]\t%15[^\t]\t%lf\t%lf\t%lf\t%lf", &r->batch, r->method, impl,
                           &r->median, &r->min, &r->max, &r->rss) != 7;
        if (!bad) {
            r->impl = !strcmp(impl, IMPLS[0]) ? 0 : !strcmp(impl, IMPLS[1]) ? 1 : -1;
            bad = r->impl < 0 || !(r->median >= 0 && r->min >= 0 && r->max >= 0 && r->rss >= 0) ||
                  index_of_method(t, r->method) < 0 || add_batch(t, r->batch);
        }
        if (bad)
            fprintf(stderr, "bench_plot: %s:%d: expected batch, method, sara|pytorch and 4 non-negative numbers, "
                    "tab-separated (or too many rows, methods or batch sizes)\n", path, lineno);
        else
            t->n++;
    }
    fclose(f);
    if (!bad && t->n == 0)
        fprintf(stderr, "bench_plot: %s: no data\n", path);
    return bad || t->n == 0;
}

/* One panel at (x0, y0): metric 0 = seconds per step, 1 = peak RSS. */
static void draw_panel(FILE *o, const table *t, int batch, int metric, int x0, int y0)
{
    double top = 0;
    for (int i = 0; i < t->n; i++)
        if (t->rows[i].batch == batch) {
            double v = metric ? t->rows[i].rss : t->rows[i].max;
            top = v > top ? v : top;
        }
    top = svg_nice_ceil(top > 0 ? top : 1);
    int pw = PANEL_W - MARGIN_L - 12, ph = PANEL_H - MARGIN_T - MARGIN_B;
    int ax = x0 + MARGIN_L, ay = y0 + MARGIN_T + ph; /* origin of the axes */
    fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">batch %d — %s</text>\n", ax, y0 + 20,
            batch, metric ? "peak RSS (MB)" : "seconds per step (median, min–max)");
    for (int k = 0; k <= Y_TICKS; k++) {
        double v = top * k / Y_TICKS;
        int y = ay - (int)lround(ph * (double)k / Y_TICKS);
        fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", ax, y, ax + pw, y);
        fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%g</text>\n", ax - 4, y + 3, v);
    }
    fprintf(o, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n", ax, ay, ax + pw, ay);
    double gw = (double)pw / t->n_methods, bw = gw * BAR_FRACTION;
    for (int m = 0; m < t->n_methods; m++) {
        double gx = ax + gw * m + gw * (1 - 2 * BAR_FRACTION) / 2;
        for (int i = 0; i < t->n; i++) {
            const row *r = &t->rows[i];
            if (r->batch != batch || strcmp(r->method, t->methods[m]))
                continue;
            double v = metric ? r->rss : r->median, h = ph * v / top, bx = gx + bw * r->impl, label_y = ay - h;
            fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", bx, ay - h, bw, h,
                    COLORS[r->impl]);
            if (!metric) { /* min–max whisker */
                double cx = bx + bw / 2, y1 = ay - ph * r->min / top, y2 = ay - ph * r->max / top;
                fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", cx, y1, cx, y2);
                label_y = y2 < label_y ? y2 : label_y;
            }
            fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"8\" text-anchor=\"middle\">%.*f</text>\n", bx + bw / 2,
                    label_y - 3, metric ? 0 : 2, v);
        }
        double lx = ax + gw * (m + 0.5);
        fprintf(o, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"end\" transform=\"rotate(-30 %.1f %d)\">",
                lx, ay + 14, lx, ay + 14);
        svg_text(o, t->methods[m]);
        fputs("</text>\n", o);
    }
}

static int write_svg(const char *path, const table *t)
{
    FILE *o = fopen(path, "w");
    if (!o) {
        fprintf(stderr, "bench_plot: %s: cannot write\n", path);
        return 1;
    }
    int w = 2 * PANEL_W, h = LEGEND_H + t->n_batches * PANEL_H;
    fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\">\n", w,
            h);
    fprintf(o, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    for (int i = 0; i < 2; i++) {
        int lx = MARGIN_L + 200 * i;
        fprintf(o, "<rect x=\"%d\" y=\"12\" width=\"14\" height=\"14\" fill=\"%s\"/>\n", lx, COLORS[i]);
        fprintf(o, "<text x=\"%d\" y=\"24\" font-size=\"12\">%s</text>\n", lx + 20, IMPL_NAMES[i]);
    }
    for (int b = 0; b < t->n_batches; b++)
        for (int metric = 0; metric < 2; metric++)
            draw_panel(o, t, t->batches[b], metric, metric * PANEL_W, LEGEND_H + b * PANEL_H);
    fputs("</svg>\n", o);
    return fclose(o) != 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_plot DATA.tsv OUT.svg\n");
        return 2;
    }
    table *t = calloc(1, sizeof *t);
    int r = !t || read_table(argv[1], t) || write_svg(argv[2], t);
    free(t);
    return r;
}
