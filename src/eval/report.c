/* report.c — JSON and Markdown for evaluation results and VLHI groups (see report.h). Files are
 * written atomically, except the Markdown row which is appended so that runs accumulate. */
#include "eval/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/status.h"
#include "core/text_file.h"

#define EVAL_JSON_MAX_BYTES (1 << 20) /* a result is a few kB */

/* NaN is not JSON: absent values are written as null. */
static cJSON *number_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static cJSON *report_classes(const eval_report *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; a && k < r->num_classes; k++) {
        if (!r->count[k])
            continue;
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(a, c))
            break;
        cJSON_AddNumberToObject(c, "index", k);
        cJSON_AddStringToObject(c, "name", r->class_names[k]);
        cJSON_AddNumberToObject(c, "generated", r->count[k]);
        cJSON_AddNumberToObject(c, "reference", r->ref_count[k]);
        cJSON_AddItemToObject(c, "adherence", number_or_null(r->class_adherence[k]));
    }
    return a;
}

sara_status eval_report_write_json(const eval_report *r, const char *path)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "label", r->label);
        cJSON_AddItemToObject(o, "model", r->model ? cJSON_CreateString(r->model) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "images", r->images ? cJSON_CreateString(r->images) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "adapters", cJSON_CreateStringArray(r->adapters, r->n_adapters));
        cJSON_AddStringToObject(o, "data", r->data);
        cJSON_AddStringToObject(o, "classifier", r->classifier);
        cJSON_AddItemToObject(o, "judge", r->judge ? cJSON_CreateString(r->judge) : cJSON_CreateNull());
        cJSON_AddNumberToObject(o, "per_class", r->per_class);
        cJSON_AddNumberToObject(o, "sample_steps", r->steps);
        cJSON_AddStringToObject(o, "sampler", "ddim");
        cJSON_AddNumberToObject(o, "guidance", r->guidance);
        cJSON_AddNumberToObject(o, "seed", (double)r->seed);
        cJSON_AddStringToObject(o, "seeds", "sample i starts from the noise of (seed, i), i = 0..generated-1");
        cJSON_AddNumberToObject(o, "generated", r->n_generated);
        cJSON_AddNumberToObject(o, "reference", r->n_reference);
        cJSON *fs = cJSON_AddObjectToObject(o, "fid_samples");
        if (fs) {
            cJSON_AddNumberToObject(fs, "generated", r->n_generated);
            cJSON_AddNumberToObject(fs, "reference", r->n_reference);
            cJSON_AddNumberToObject(fs, "feature_dim", r->feature_dim);
            cJSON_AddStringToObject(fs, "note", EVAL_FID_NOTE);
        }
        cJSON_AddItemToObject(o, "fid", number_or_null(r->fid));
        cJSON_AddItemToObject(o, "adherence", number_or_null(r->adherence));
        cJSON_AddItemToObject(o, "per_class_adherence", report_classes(r));
    }
    return atomic_file_save_json(path, o);
}

/* A table cell's text: '|' would end the cell, so it is escaped as Markdown allows. */
static void md_text(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', fp);
        fputc(*s, fp);
    }
}

sara_status eval_report_append_md(const eval_report *r, const char *path)
{
    int fresh = access(path, F_OK) != 0;
    FILE *fp = fopen(path, "a");
    if (!fp)
        return sara_fail(SARA_ERR_IO, "%s: cannot open for appending", path);
    if (fresh)
        fprintf(fp, "| label | data | FID | adherence | generated | reference |\n|---|---|---|---|---|---|\n");
    fprintf(fp, "| ");
    md_text(fp, r->label);
    fprintf(fp, " | ");
    md_text(fp, r->data);
    fprintf(fp, " | %.2f | %.4f | %d | %d |\n", r->fid, r->adherence, r->n_generated, r->n_reference);
    if (fclose(fp) != 0)
        return sara_fail(SARA_ERR_IO, "%s: write failed", path);
    return SARA_OK;
}

static sara_status get_number(const cJSON *root, const char *key, const char *path, double *out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!x)
        return sara_fail(SARA_ERR_MISSING, "%s: missing key '%s' (not a `sara eval --json` result?)", path, key);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
        return sara_fail(SARA_ERR_FORMAT, "%s: key '%s' must be a finite number", path, key);
    *out = x->valuedouble;
    return SARA_OK;
}

static sara_status get_string(const cJSON *root, const char *key, const char *path, char **out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!x)
        return sara_fail(SARA_ERR_MISSING, "%s: missing key '%s' (not a `sara eval --json` result?)", path, key);
    if (!cJSON_IsString(x))
        return sara_fail(SARA_ERR_FORMAT, "%s: key '%s' must be a string", path, key);
    if (!(*out = strdup(x->valuestring)))
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    return SARA_OK;
}

sara_status eval_record_load(const char *path, char **label, char **data, double *fid, double *adherence)
{
    *label = *data = NULL;
    char *text = NULL;
    SARA_TRY(text_file_read(path, EVAL_JSON_MAX_BYTES, "JSON evaluation result", &text, NULL));
    cJSON *root = cJSON_Parse(text);
    free(text);
    sara_status s = cJSON_IsObject(root) ? SARA_OK : sara_fail(SARA_ERR_FORMAT, "%s: not a JSON object", path);
    if (s == SARA_OK)
        s = get_string(root, "label", path, label);
    if (s == SARA_OK)
        s = get_string(root, "data", path, data);
    if (s == SARA_OK)
        s = get_number(root, "fid", path, fid);
    if (s == SARA_OK)
        s = get_number(root, "adherence", path, adherence);
    cJSON_Delete(root);
    if (s != SARA_OK) {
        free(*label);
        free(*data);
        *label = *data = NULL;
    }
    return s;
}

/* "12.34 / 0.8765 / 1.23", or dashes for an absent cell */
static void md_cell(FILE *fp, double fid, double adh, double vlhi)
{
    if (isnan(fid))
        fprintf(fp, " — |");
    else
        fprintf(fp, " %.2f / %.4f / %.2f |", fid, adh, vlhi);
}

sara_status eval_group_write_md(const vlhi_table *t, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    fprintf(fp, "| label |");
    for (int j = 0; j < t->n_data; j++) {
        fprintf(fp, " ");
        md_text(fp, t->data[j]);
        fprintf(fp, ": FID / adherence / VLHI |");
    }
    fprintf(fp, " Mean: FID / adherence / VLHI |\n|---|");
    for (int j = 0; j <= t->n_data; j++)
        fprintf(fp, "---|");
    fprintf(fp, "\n");
    for (int i = 0; i < t->n_labels; i++) {
        fprintf(fp, "| ");
        md_text(fp, t->labels[i]);
        fprintf(fp, " |");
        for (int j = 0; j < t->n_data; j++) {
            size_t c = (size_t)i * t->n_data + j;
            md_cell(fp, t->fid[c], t->adherence[c], t->vlhi[c]);
        }
        md_cell(fp, t->mean_fid[i], t->mean_adherence[i], t->mean_vlhi[i]);
        fprintf(fp, "\n");
    }
    fclose(fp);
    atomic_file af;
    sara_status s = buf ? atomic_file_open(&af, path) : sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    if (s == SARA_OK) {
        s = atomic_file_write(&af, buf, len);
        if (s == SARA_OK)
            s = atomic_file_commit(&af);
        else
            atomic_file_abort(&af);
    }
    free(buf);
    return s;
}

static cJSON *group_cell(double fid, double adh, double vlhi)
{
    cJSON *c = cJSON_CreateObject();
    if (c) {
        cJSON_AddItemToObject(c, "fid", number_or_null(fid));
        cJSON_AddItemToObject(c, "adherence", number_or_null(adh));
        cJSON_AddItemToObject(c, "vlhi", number_or_null(vlhi));
    }
    return c;
}

sara_status eval_group_write_json(const vlhi_table *t, const char *path)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *data = o ? cJSON_AddArrayToObject(o, "data") : NULL;
    cJSON *rows = o ? cJSON_AddArrayToObject(o, "runs") : NULL;
    for (int j = 0; data && j < t->n_data; j++)
        cJSON_AddItemToArray(data, cJSON_CreateString(t->data[j]));
    for (int i = 0; rows && i < t->n_labels; i++) {
        cJSON *r = cJSON_CreateObject();
        if (!r || !cJSON_AddItemToArray(rows, r))
            break;
        cJSON_AddStringToObject(r, "label", t->labels[i]);
        cJSON *per = cJSON_AddObjectToObject(r, "per_data");
        for (int j = 0; per && j < t->n_data; j++) {
            size_t c = (size_t)i * t->n_data + j;
            if (!isnan(t->fid[c]))
                cJSON_AddItemToObject(per, t->data[j], group_cell(t->fid[c], t->adherence[c], t->vlhi[c]));
        }
        cJSON_AddItemToObject(r, "mean", group_cell(t->mean_fid[i], t->mean_adherence[i], t->mean_vlhi[i]));
    }
    if (o)
        cJSON_AddStringToObject(o, "note", "VLHI per data set over the runs evaluated on it; Mean normalises each "
                                           "run's mean FID and adherence over all data sets (complete rows only)");
    return atomic_file_save_json(path, o);
}
