/* schedule.h — the noise schedule of a diffusers-style DDPM: betas and their cumulative
 * product of alphas, computed exactly as diffusers' DDPMScheduler/DDIMScheduler compute them
 * (in float32, as torch does), plus the names used in scheduler_config.json.
 * Values are stored as double but hold the float32 numbers diffusers produces, so a model
 * trained here sees the same noise levels it would see under diffusers. */
#ifndef SARA_DIFFUSION_SCHEDULE_H
#define SARA_DIFFUSION_SCHEDULE_H

#include "sara/sara.h"

/* diffusers' defaults (DDPMScheduler.__init__) */
#define SCHEDULE_DEFAULT_TIMESTEPS 1000
#define SCHEDULE_DEFAULT_BETA_START 0.0001
#define SCHEDULE_DEFAULT_BETA_END 0.02

typedef enum { SCHEDULE_LINEAR, SCHEDULE_SCALED_LINEAR, SCHEDULE_SQUAREDCOS_CAP_V2 } beta_schedule_kind;

/* What the model predicts: the added noise, or v = sqrt(ac)·noise − sqrt(1−ac)·x0. */
typedef enum { PREDICT_EPSILON, PREDICT_V } prediction_kind;

typedef struct {
    int num_train_timesteps;          /* T */
    beta_schedule_kind kind;
    prediction_kind prediction;
    double beta_start, beta_end;      /* unused by squaredcos_cap_v2, kept for the config */
    double *betas;                    /* (T) */
    double *alphas_cumprod;           /* (T) */
} noise_schedule;

/* Allocates and fills betas and alphas_cumprod. Linear kinds need beta_start, beta_end in (0, 1).
 * On failure *s is left empty (safe to schedule_free). */
sara_status schedule_init(noise_schedule *s, beta_schedule_kind kind, int T, double beta_start, double beta_end,
                          prediction_kind pred);
void schedule_free(noise_schedule *s);

/* "linear", "scaled_linear", "squaredcos_cap_v2" (diffusers' beta_schedule names). */
sara_status schedule_kind_parse(const char *name, beta_schedule_kind *k);
const char *schedule_kind_name(beta_schedule_kind k);
/* "epsilon", "v_prediction" (diffusers' prediction_type names). */
sara_status prediction_kind_parse(const char *name, prediction_kind *p);
const char *prediction_kind_name(prediction_kind p);

#endif
