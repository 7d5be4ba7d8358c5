/* model_info.h — what sampling needs beyond diffusers' config.json: the noise schedule the model
 * was trained with and its classes. Stored as `sara.json` in the model folder, beside config.json
 * and the weights; a diffusers folder without it gets diffusers' DDPMScheduler defaults and
 * num_class_embeds classes with no null label. */
#ifndef SARA_TRAIN_MODEL_INFO_H
#define SARA_TRAIN_MODEL_INFO_H

#include <stdint.h>

#include "diffusion/schedule.h"
#include "model/unet_config.h"

#define MODEL_INFO_FILE "sara.json"
#define MODEL_INFO_MAX_CLASSES 1024
#define MODEL_INFO_NAME_MAX 64
#define MODEL_INFO_MAX_BYTES (1 << 20) /* sara.json: class names and a few numbers */

typedef struct {
    beta_schedule_kind beta_schedule;
    double beta_start, beta_end;
    int num_train_timesteps;
    prediction_kind prediction;
    int num_classes;        /* real classes (0: unconditional) */
    int64_t null_label;     /* the label trained as "no class" (for guidance), or -1 */
    char class_names[MODEL_INFO_MAX_CLASSES][MODEL_INFO_NAME_MAX];
} model_info;

/* Defaults for a model config: linear 1e-4..0.02 over 1000 steps, epsilon, num_class_embeds classes. */
void model_info_default(model_info *mi, const unet_config *c);
/* Reads dir/sara.json if present (else the defaults); malformed content is an error naming the file. */
sara_status model_info_load(model_info *mi, const char *dir, const unet_config *c);
sara_status model_info_save(const model_info *mi, const char *dir);
sara_status model_info_schedule(const model_info *mi, noise_schedule *s);

#endif
