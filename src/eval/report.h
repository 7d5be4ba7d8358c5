/* report.h — what `sara eval` writes and `sara eval --group` reads: one run's result as JSON
 * (label, model, adapters, data, classifier, judge, counts, seeds, steps, FID, adherence per class) and as a
 * Markdown table row; and a group's VLHI table as Markdown and JSON. Every read error is one
 * line naming the file and the key. */
#ifndef SARA_EVAL_REPORT_H
#define SARA_EVAL_REPORT_H

#include <stdint.h>

#include "eval/vlhi.h"
#include "sara/sara.h"

/* Says what the FID number is worth; written into every JSON result and the --help text. */
#define EVAL_FID_NOTE                                                                              \
    "FID is biased upward at small sample counts (the bias shrinks like 1/n): compare FIDs only "  \
    "at equal generated and reference counts"

typedef struct {
    const char *label;        /* row name in tables */
    const char *model;        /* model folder, or NULL when images were evaluated */
    const char *images;       /* image folder evaluated in place of a model, or NULL */
    const char *const *adapters;
    int n_adapters;
    const char *data;         /* reference data: "fashion-mnist" or a folder */
    const char *classifier;   /* FID feature network's weights */
    const char *judge;        /* adherence judge's weights (NULL: written as null) */
    int per_class, steps;     /* requested samples per class, DDIM steps (model only) */
    double guidance;
    int64_t seed;             /* sample i's starting noise is a function of (seed, i) */
    int n_generated, n_reference, feature_dim;
    int num_classes;                 /* the classifier's classes */
    const char *const *class_names;  /* (num_classes) */
    const int *count;                /* (num_classes) generated samples per class (0: not evaluated) */
    const int *ref_count;            /* (num_classes) reference samples per class */
    const double *class_adherence;   /* (num_classes) adherence (NaN: not evaluated) */
    double fid, adherence;
} eval_report;

sara_status eval_report_write_json(const eval_report *r, const char *path);
/* Appends "| label | data | FID | adherence | generated | reference |" to path, writing the header
 * first when the file does not exist yet. */
sara_status eval_report_append_md(const eval_report *r, const char *path);

/* Reads label, data, fid and adherence from a result written by eval_report_write_json; the
 * strings are malloc'd (caller frees). */
sara_status eval_record_load(const char *path, char **label, char **data, double *fid, double *adherence);

/* label | per data set: FID / adherence / VLHI | Mean: FID / adherence / VLHI */
sara_status eval_group_write_md(const vlhi_table *t, const char *path);
sara_status eval_group_write_json(const vlhi_table *t, const char *path);

#endif
