/* model_info.c — reading and writing sara.json; see model_info.h. */
#include "train/model_info.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/status.h"
#include "core/text_file.h"

void model_info_default(model_info *mi, const unet_config *c)
{
    memset(mi, 0, sizeof *mi);
    mi->beta_schedule = SCHEDULE_LINEAR;
    mi->beta_start = SCHEDULE_DEFAULT_BETA_START;
    mi->beta_end = SCHEDULE_DEFAULT_BETA_END;
    mi->num_train_timesteps = SCHEDULE_DEFAULT_TIMESTEPS;
    mi->prediction = PREDICT_EPSILON;
    mi->num_classes = c->num_class_embeds;
    mi->null_label = -1;
    for (int i = 0; i < mi->num_classes && i < MODEL_INFO_MAX_CLASSES; i++)
        snprintf(mi->class_names[i], MODEL_INFO_NAME_MAX, "class %d", i);
}


static sara_status parse(model_info *mi, const cJSON *root, const char *path)
{
    const cJSON *it;
    if (!cJSON_IsObject(root))
        return sara_fail(SARA_ERR_FORMAT, "%s: not a JSON object", path);
    if ((it = cJSON_GetObjectItem(root, "beta_schedule")))
        SARA_TRY(cJSON_IsString(it) ? schedule_kind_parse(it->valuestring, &mi->beta_schedule)
                                    : sara_fail(SARA_ERR_FORMAT, "%s: beta_schedule must be a string", path));
    if ((it = cJSON_GetObjectItem(root, "prediction_type")))
        SARA_TRY(cJSON_IsString(it) ? prediction_kind_parse(it->valuestring, &mi->prediction)
                                    : sara_fail(SARA_ERR_FORMAT, "%s: prediction_type must be a string", path));
    struct { const char *key; double *dst; } reals[] = {{"beta_start", &mi->beta_start}, {"beta_end", &mi->beta_end}};
    for (int i = 0; i < 2; i++)
        if ((it = cJSON_GetObjectItem(root, reals[i].key))) {
            if (!cJSON_IsNumber(it))
                return sara_fail(SARA_ERR_FORMAT, "%s: %s must be a number", path, reals[i].key);
            *reals[i].dst = it->valuedouble;
        }
    if ((it = cJSON_GetObjectItem(root, "num_train_timesteps"))) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1e6)
            return sara_fail(SARA_ERR_FORMAT, "%s: num_train_timesteps must be a positive integer", path);
        mi->num_train_timesteps = it->valueint;
    }
    if ((it = cJSON_GetObjectItem(root, "null_label"))) {
        /* the range check also keeps the double → int64 conversion defined */
        if (!cJSON_IsNull(it) && (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
                                  it->valuedouble < -1 || it->valuedouble > INT32_MAX))
            return sara_fail(SARA_ERR_FORMAT, "%s: null_label must be a non-negative integer or null", path);
        mi->null_label = cJSON_IsNull(it) ? -1 : (int64_t)it->valuedouble;
    }
    if ((it = cJSON_GetObjectItem(root, "class_names"))) {
        int n = cJSON_GetArraySize(it);
        if (!cJSON_IsArray(it) || n > MODEL_INFO_MAX_CLASSES)
            return sara_fail(SARA_ERR_FORMAT, "%s: class_names must be a list of at most %d strings", path,
                             MODEL_INFO_MAX_CLASSES);
        mi->num_classes = n;
        for (int i = 0; i < n; i++) {
            const cJSON *name = cJSON_GetArrayItem(it, i);
            if (!cJSON_IsString(name))
                return sara_fail(SARA_ERR_FORMAT, "%s: class_names[%d] is not a string", path, i);
            snprintf(mi->class_names[i], MODEL_INFO_NAME_MAX, "%s", name->valuestring);
        }
    }
    return SARA_OK;
}

sara_status model_info_load(model_info *mi, const char *dir, const unet_config *c)
{
    char path[4096];
    sara_status s;
    model_info_default(mi, c);
    snprintf(path, sizeof path, "%s/" MODEL_INFO_FILE, dir);
    char *text = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return SARA_OK; /* a plain diffusers folder: the defaults */
    SARA_TRY(text_file_read(path, MODEL_INFO_MAX_BYTES, MODEL_INFO_FILE, &text, NULL));
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root)
        return sara_fail(SARA_ERR_FORMAT, "%s: invalid JSON", path);
    s = parse(mi, root, path);
    cJSON_Delete(root);
    if (s == SARA_OK && (mi->num_classes > (c->num_class_embeds > 0 ? c->num_class_embeds : 0) ||
                         mi->null_label >= c->num_class_embeds))
        s = sara_fail(SARA_ERR_SHAPE, "%s: %d classes (null label %lld) but the model has %d class embeddings", path,
                      mi->num_classes, (long long)mi->null_label, c->num_class_embeds);
    return s;
}

sara_status model_info_save(const model_info *mi, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/" MODEL_INFO_FILE, dir);
    if (mi->num_classes > MODEL_INFO_MAX_CLASSES) /* class_names holds no more */
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %d classes (at most %d can be named)", path, mi->num_classes,
                         MODEL_INFO_MAX_CLASSES);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "beta_schedule", schedule_kind_name(mi->beta_schedule));
    cJSON_AddNumberToObject(o, "beta_start", mi->beta_start);
    cJSON_AddNumberToObject(o, "beta_end", mi->beta_end);
    cJSON_AddNumberToObject(o, "num_train_timesteps", mi->num_train_timesteps);
    cJSON_AddStringToObject(o, "prediction_type", prediction_kind_name(mi->prediction));
    if (mi->null_label >= 0)
        cJSON_AddNumberToObject(o, "null_label", (double)mi->null_label);
    else
        cJSON_AddNullToObject(o, "null_label");
    cJSON *names = cJSON_AddArrayToObject(o, "class_names");
    for (int i = 0; i < mi->num_classes; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(mi->class_names[i]));
    return atomic_file_save_json(path, o);
}

sara_status model_info_schedule(const model_info *mi, noise_schedule *s)
{
    return schedule_init(s, mi->beta_schedule, mi->num_train_timesteps, mi->beta_start, mi->beta_end, mi->prediction);
}
