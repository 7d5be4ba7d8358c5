/* sampling_model.h — what `sara sample` and `sara eval` both need before they can sample: the
 * model folder loaded, adapters applied, its sara.json (schedule, classes, null label) read and
 * the sampler options checked against it. */
#ifndef SARA_CLI_SAMPLING_MODEL_H
#define SARA_CLI_SAMPLING_MODEL_H

#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "model/unet.h"
#include "train/model_info.h"

typedef struct {
    const char *model, *sampler;      /* model folder; "ddim" or "ddpm" */
    const char *const *adapters;      /* "A" or "A:ALPHA", applied in order */
    int n_adapters, force, steps;
    double eta, guidance;
} sampling_model_args;

typedef struct {
    unet *m;
    model_info *mi;        /* heap: its class-name table is large */
    noise_schedule sched;
    sampler_options so;
} sampling_model;

/* On failure everything loaded so far is freed and *sm is zeroed. */
sara_status sampling_model_load(sampling_model *sm, const sampling_model_args *a);
void sampling_model_free(sampling_model *sm);

#endif
