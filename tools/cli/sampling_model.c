/* sampling_model.c — loading a model folder for sampling (see sampling_model.h). */
#include "sampling_model.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "peft/adapter.h"

void sampling_model_free(sampling_model *sm)
{
    schedule_free(&sm->sched);
    unet_free(sm->m);
    free(sm->mi);
    memset(sm, 0, sizeof *sm);
}

sara_status sampling_model_load(sampling_model *sm, const sampling_model_args *a)
{
    memset(sm, 0, sizeof *sm);
    sampler_options_default(&sm->so);
    sm->so.steps = a->steps;
    sm->so.eta = a->eta;
    sm->so.guidance_scale = a->guidance;
    SARA_TRY(sampler_kind_parse(a->sampler, &sm->so.kind));
    if (!(sm->mi = calloc(1, sizeof *sm->mi)))
        return sara_fail(SARA_ERR_NOMEM, "out of memory");
    sara_status s = unet_load(&sm->m, a->model);
    if (s == SARA_OK)
        s = adapter_apply_specs(unet_params(sm->m), a->adapters, a->n_adapters, a->force);
    if (s == SARA_OK)
        s = model_info_load(sm->mi, a->model, unet_get_config(sm->m));
    sm->so.null_label = sm->mi->null_label;
    if (s == SARA_OK && a->guidance != 1.0 && sm->mi->null_label < 0)
        s = sara_fail(SARA_ERR_INVALID, "%s: guidance needs a model trained with a null class (sara.json null_label)",
                      a->model);
    if (s == SARA_OK)
        s = model_info_schedule(sm->mi, &sm->sched);
    if (s != SARA_OK)
        sampling_model_free(sm);
    return s;
}
