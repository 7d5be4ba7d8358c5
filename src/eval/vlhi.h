/* vlhi.h — the VLHI of a comparison group of runs (paper Eq. 8, SPEC.md §5): each run's FID
 * (lower is better) and adherence (higher is better) min-max normalised over the group and added,
 * VLHI_i = (max FID − FID_i)/(max FID − min FID) + (A_i − min A)/(max A − min A), in [0, 2].
 * With several data sets, each data set gets its own VLHI over the runs evaluated on it, and the
 * "Mean" column normalises each run's mean FID and mean adherence across the data sets (it is not
 * the mean of the per-data-set VLHIs). */
#ifndef SARA_EVAL_VLHI_H
#define SARA_EVAL_VLHI_H

#include "sara/sara.h"

/* A term whose values are all equal over the group (including a group of one run) carries no
 * ranking information: every run gets the midpoint of its range, VLHI_TIE_TERM. */
#define VLHI_TIE_TERM 0.5

/* fid (n), adherence (n) -> vlhi (n); n >= 1 and every value finite. */
sara_status vlhi_compute(const double *fid, const double *adherence, int n, double *vlhi);

/* One evaluated run: a row label (method/budget) on one data set. */
typedef struct {
    const char *label, *data;
    double fid, adherence;
    const char *source; /* file it came from, for messages (may be NULL) */
} vlhi_run;

/* Rows are the distinct labels, columns the distinct data sets, both in order of first
 * appearance. Absent cells and incomplete rows' means are NaN. */
typedef struct {
    int n_labels, n_data;
    char **labels;   /* (n_labels) */
    char **data;     /* (n_data) */
    double *fid, *adherence, *vlhi;                 /* each (n_labels, n_data) */
    double *mean_fid, *mean_adherence, *mean_vlhi;  /* each (n_labels); NaN unless the row has every data set */
} vlhi_table;

/* A (label, data) pair given twice is an error naming both sources. */
sara_status vlhi_table_build(vlhi_table *t, const vlhi_run *runs, int n);
void vlhi_table_free(vlhi_table *t);

#endif
