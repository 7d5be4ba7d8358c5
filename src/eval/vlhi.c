/* vlhi.c — VLHI over a group of runs and the per-data-set / Mean table (see vlhi.h). */
#include "eval/vlhi.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* A range this small relative to the values is a tie: dividing by round-off would turn noise
 * into a full unit of VLHI. */
#define VLHI_TIE_RELATIVE (64 * DBL_EPSILON)

static void min_max(const double *x, int n, double *lo, double *hi)
{
    *lo = *hi = x[0];
    for (int i = 1; i < n; i++) {
        *lo = fmin(*lo, x[i]);
        *hi = fmax(*hi, x[i]);
    }
}

static int is_tie(double lo, double hi) { return hi - lo <= VLHI_TIE_RELATIVE * fmax(fabs(lo), fabs(hi)); }

sara_status vlhi_compute(const double *fid, const double *adherence, int n, double *vlhi)
{
    if (n < 1)
        return sara_fail(SARA_ERR_INVALID, "VLHI: an empty group");
    for (int i = 0; i < n; i++)
        if (!isfinite(fid[i]) || !isfinite(adherence[i]))
            return sara_fail(SARA_ERR_NUMERIC, "VLHI: run %d has a non-finite FID or adherence", i);
    double f_lo, f_hi, a_lo, a_hi;
    min_max(fid, n, &f_lo, &f_hi);
    min_max(adherence, n, &a_lo, &a_hi);
    int f_tie = is_tie(f_lo, f_hi), a_tie = is_tie(a_lo, a_hi);
    for (int i = 0; i < n; i++)
        vlhi[i] = (f_tie ? VLHI_TIE_TERM : (f_hi - fid[i]) / (f_hi - f_lo)) +
                  (a_tie ? VLHI_TIE_TERM : (adherence[i] - a_lo) / (a_hi - a_lo));
    return SARA_OK;
}

void vlhi_table_free(vlhi_table *t)
{
    for (int i = 0; t->labels && i < t->n_labels; i++)
        free(t->labels[i]);
    for (int j = 0; t->data && j < t->n_data; j++)
        free(t->data[j]);
    free(t->labels);
    free(t->data);
    free(t->fid);
    free(t->adherence);
    free(t->vlhi);
    free(t->mean_fid);
    free(t->mean_adherence);
    free(t->mean_vlhi);
    memset(t, 0, sizeof *t);
}

/* Index of s in names (count *n), appended if absent; -1 if out of memory. */
static int intern(char **names, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s))
            return i;
    if (!(names[*n] = strdup(s)))
        return -1;
    return (*n)++;
}

/* VLHI of the finite entries of fid/adh (count n, stride) into out; NaN elsewhere. */
static sara_status vlhi_column(const double *fid, const double *adh, int n, int stride, double *out)
{
    double *buf = malloc(3 * (size_t)n * sizeof *buf);
    int *idx = malloc((size_t)n * sizeof *idx);
    if (!buf || !idx) {
        free(buf);
        free(idx);
        return sara_fail(SARA_ERR_NOMEM, "VLHI: out of memory");
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        out[(size_t)i * stride] = NAN;
        if (!isnan(fid[(size_t)i * stride])) {
            buf[m] = fid[(size_t)i * stride];
            buf[n + m] = adh[(size_t)i * stride];
            idx[m++] = i;
        }
    }
    sara_status s = m ? vlhi_compute(buf, buf + n, m, buf + 2 * (size_t)n) : SARA_OK;
    for (int k = 0; s == SARA_OK && k < m; k++)
        out[(size_t)idx[k] * stride] = buf[2 * (size_t)n + k];
    free(buf);
    free(idx);
    return s;
}

static sara_status table_alloc(vlhi_table *t, int n)
{
    size_t cells = (size_t)n * (size_t)n;
    t->labels = calloc((size_t)n, sizeof *t->labels);
    t->data = calloc((size_t)n, sizeof *t->data);
    t->fid = malloc(cells * sizeof(double));
    t->adherence = malloc(cells * sizeof(double));
    t->vlhi = malloc(cells * sizeof(double));
    t->mean_fid = malloc((size_t)n * sizeof(double));
    t->mean_adherence = malloc((size_t)n * sizeof(double));
    t->mean_vlhi = malloc((size_t)n * sizeof(double));
    if (!t->labels || !t->data || !t->fid || !t->adherence || !t->vlhi || !t->mean_fid || !t->mean_adherence ||
        !t->mean_vlhi)
        return sara_fail(SARA_ERR_NOMEM, "VLHI: out of memory for %d runs", n);
    for (size_t i = 0; i < cells; i++)
        t->fid[i] = t->adherence[i] = t->vlhi[i] = NAN;
    return SARA_OK;
}

/* Fills the cells (label × data set) from the runs; a repeated pair is an error. */
static sara_status table_fill(vlhi_table *t, const vlhi_run *runs, int n)
{
    int *owner = malloc((size_t)n * (size_t)n * sizeof *owner); /* (n, n): run index of each cell, or -1 */
    if (!owner)
        return sara_fail(SARA_ERR_NOMEM, "VLHI: out of memory for %d runs", n);
    for (size_t i = 0; i < (size_t)n * (size_t)n; i++)
        owner[i] = -1;
    sara_status s = SARA_OK;
    for (int r = 0; r < n && s == SARA_OK; r++) {
        const vlhi_run *x = &runs[r];
        int i = intern(t->labels, &t->n_labels, x->label), j = intern(t->data, &t->n_data, x->data);
        if (i < 0 || j < 0) {
            s = sara_fail(SARA_ERR_NOMEM, "VLHI: out of memory");
            break;
        }
        size_t c = (size_t)i * (size_t)n + (size_t)j; /* stride n while the column count is unknown */
        if (owner[c] >= 0) {
            s = sara_fail(SARA_ERR_INVALID, "%s: label '%s' on data '%s' is also in %s", x->source ? x->source : "run",
                          x->label, x->data, runs[owner[c]].source ? runs[owner[c]].source : "an earlier run");
            break;
        }
        if (!isfinite(x->fid) || !isfinite(x->adherence)) {
            s = sara_fail(SARA_ERR_NUMERIC, "%s: FID or adherence is not finite", x->source ? x->source : "run");
            break;
        }
        owner[c] = r;
        t->fid[c] = x->fid;
        t->adherence[c] = x->adherence;
    }
    free(owner);
    return s;
}

/* Repacks the (n_labels, n) cells with stride n into (n_labels, n_data). */
static void table_compact(vlhi_table *t, int stride)
{
    for (int i = 0; i < t->n_labels; i++)
        for (int j = 0; j < t->n_data; j++) {
            size_t from = (size_t)i * stride + j, to = (size_t)i * t->n_data + j;
            t->fid[to] = t->fid[from];
            t->adherence[to] = t->adherence[from];
        }
}

sara_status vlhi_table_build(vlhi_table *t, const vlhi_run *runs, int n)
{
    memset(t, 0, sizeof *t);
    if (n < 1)
        return sara_fail(SARA_ERR_INVALID, "VLHI: an empty group");
    sara_status s = table_alloc(t, n);
    if (s == SARA_OK)
        s = table_fill(t, runs, n);
    if (s != SARA_OK) {
        vlhi_table_free(t);
        return s;
    }
    table_compact(t, n);
    int L = t->n_labels, D = t->n_data;
    for (int j = 0; j < D && s == SARA_OK; j++)
        s = vlhi_column(t->fid + j, t->adherence + j, L, D, t->vlhi + j);
    for (int i = 0; i < L; i++) { /* the means of complete rows */
        double f = 0, a = 0;
        for (int j = 0; j < D; j++) {
            f += t->fid[(size_t)i * D + j];
            a += t->adherence[(size_t)i * D + j];
        }
        t->mean_fid[i] = f / D; /* NaN when a cell is absent */
        t->mean_adherence[i] = a / D;
    }
    if (s == SARA_OK)
        s = vlhi_column(t->mean_fid, t->mean_adherence, L, 1, t->mean_vlhi);
    if (s != SARA_OK)
        vlhi_table_free(t);
    return s;
}
