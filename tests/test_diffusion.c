/* test_diffusion.c — noise schedules, forward noising, the loss and the DDPM/DDIM samplers.
 * Oracles: tests/fixtures/diffusion/diffusion.safetensors, written by
 * tools/fixtures/make_diffusion_fixtures.py (diffusers' scheduler formulas in float32 torch);
 * finite differences for the loss gradient; closed forms for the sampling loop (a denoiser that
 * knows the clean sample must lead the chain back to it). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "diffusion/diffusion.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "test.h"

#define FIXTURE TEST_FIXTURES "/diffusion/diffusion.safetensors"
#define NT 1000 /* num_train_timesteps of every fixture schedule */

/* ---- a minimal safetensors fixture reader (test-only; the library's reader lives in core) ---- */

typedef struct {
    unsigned char *buf; /* whole file */
    size_t size;
    cJSON *header;
    size_t data_off;
} fixture;

static int fixture_open(fixture *f, const char *path)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->buf = n > 8 ? malloc((size_t)n) : NULL;
    int ok = f->buf && fread(f->buf, 1, (size_t)n, fp) == (size_t)n;
    fclose(fp);
    if (!ok)
        return 0;
    f->size = (size_t)n;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | f->buf[i];
    if (hlen > f->size - 8)
        return 0;
    f->header = cJSON_ParseWithLength((const char *)f->buf + 8, (size_t)hlen);
    f->data_off = 8 + (size_t)hlen;
    return f->header != NULL;
}

static void fixture_close(fixture *f)
{
    cJSON_Delete(f->header);
    free(f->buf);
}

/* Copies tensor `name` (dtype F32 or I64, numel elements of elem bytes) into dst. */
static int fixture_read(const fixture *f, const char *name, const char *dtype, size_t elem, void *dst, int64_t numel)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->header, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt) || strcmp(dt->valuestring, dtype) || cJSON_GetArraySize(off) != 2) {
        fprintf(stderr, "    fixture: %s missing or not %s\n", name, dtype);
        return 0;
    }
    size_t b = (size_t)cJSON_GetArrayItem(off, 0)->valuedouble, e = (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
    if (e - b != (size_t)numel * elem || f->data_off + e > f->size) {
        fprintf(stderr, "    fixture: %s has %zu bytes, want %lld\n", name, e - b, (long long)numel * (long long)elem);
        return 0;
    }
    memcpy(dst, f->buf + f->data_off + b, e - b);
    return 1;
}

#define READ_F32(f, name, dst, n) CHECK_MSG(fixture_read(f, name, "F32", 4, dst, n), "fixture %s", name)
#define READ_I64(f, name, dst, n) CHECK_MSG(fixture_read(f, name, "I64", 8, dst, n), "fixture %s", name)
#define OPEN_FIXTURE(f) CHECK_MSG(fixture_open(f, FIXTURE), "cannot read %s", FIXTURE)

static void to_f64(double *dst, const float *src, int n)
{
    for (int i = 0; i < n; i++)
        dst[i] = src[i];
}

/* ---- schedules ---- */

TEST(diffusion_schedules_match_diffusers)
{
    static const struct {
        const char *name;
        double b0, b1;
    } kinds[] = {{"linear", 1e-4, 0.02}, {"scaled_linear", 0.00085, 0.012}, {"squaredcos_cap_v2", 1e-4, 0.02}};
    fixture f;
    OPEN_FIXTURE(&f);
    static float want_f[NT];
    static double want[NT];
    char key[64];
    for (int k = 0; k < 3; k++) {
        beta_schedule_kind kind;
        noise_schedule s;
        CHECK_OK(schedule_kind_parse(kinds[k].name, &kind));
        CHECK_OK(schedule_init(&s, kind, NT, kinds[k].b0, kinds[k].b1, PREDICT_EPSILON));
        snprintf(key, sizeof key, "betas_%s", kinds[k].name);
        int ok = fixture_read(&f, key, "F32", 4, want_f, NT);
        to_f64(want, want_f, NT);
        /* betas agree to float rounding: torch's vectorised linspace rounds some points an ulp
         * differently, and scaled_linear squares that ulp */
        ok = ok && test_allclose_f64(key, s.betas, want, NT, 0, 5e-7);
        snprintf(key, sizeof key, "alphas_cumprod_%s", kinds[k].name);
        ok = ok && fixture_read(&f, key, "F32", 4, want_f, NT);
        to_f64(want, want_f, NT);
        ok = ok && test_allclose_f64(key, s.alphas_cumprod, want, NT, 0, 1e-6);
        schedule_free(&s);
        CHECK_MSG(ok, "%s", key);
    }
    fixture_close(&f);
}

TEST(diffusion_schedule_names_and_errors)
{
    beta_schedule_kind k;
    prediction_kind p;
    sampler_kind sk;
    CHECK_OK(schedule_kind_parse("squaredcos_cap_v2", &k));
    CHECK(k == SCHEDULE_SQUAREDCOS_CAP_V2 && !strcmp(schedule_kind_name(k), "squaredcos_cap_v2"));
    CHECK_ERR(schedule_kind_parse("cosine", &k), SARA_ERR_INVALID, "linear, scaled_linear, squaredcos_cap_v2");
    CHECK_OK(prediction_kind_parse("v_prediction", &p));
    CHECK(p == PREDICT_V && !strcmp(prediction_kind_name(p), "v_prediction"));
    CHECK_ERR(prediction_kind_parse("sample", &p), SARA_ERR_INVALID, "epsilon, v_prediction");
    CHECK_OK(sampler_kind_parse("ddpm", &sk));
    CHECK(sk == SAMPLER_DDPM);
    CHECK_ERR(sampler_kind_parse("euler", &sk), SARA_ERR_INVALID, "ddpm, ddim");

    noise_schedule s;
    CHECK_ERR(schedule_init(&s, SCHEDULE_LINEAR, 0, 1e-4, 0.02, PREDICT_EPSILON), SARA_ERR_INVALID, "at least 1");
    CHECK_ERR(schedule_init(&s, SCHEDULE_LINEAR, 10, 0.0, 0.02, PREDICT_EPSILON), SARA_ERR_INVALID, "(0, 1)");
    CHECK_ERR(schedule_init(&s, SCHEDULE_SCALED_LINEAR, 10, 1e-4, NAN, PREDICT_EPSILON), SARA_ERR_INVALID, "beta_end");
    schedule_free(&s); /* safe on a failed init */
    /* T = 1: torch.linspace of one point is the start */
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, 1, 1e-4, 0.02, PREDICT_EPSILON));
    CHECK(s.betas[0] == (double)1e-4f && s.alphas_cumprod[0] == (double)(1.0f - 1e-4f));
    schedule_free(&s);
}

/* ---- training side ---- */

TEST(diffusion_add_noise_and_targets_match_torch)
{
    enum { B = 4, N = 3 * 4 * 4 };
    fixture f;
    OPEN_FIXTURE(&f);
    float x0[B * N], noise[B * N], want_xt[B * N], want_v[B * N], got[B * N];
    int64_t t[B];
    READ_F32(&f, "noise_x0", x0, B * N);
    READ_F32(&f, "noise_noise", noise, B * N);
    READ_F32(&f, "noise_xt", want_xt, B * N);
    READ_F32(&f, "noise_v", want_v, B * N);
    READ_I64(&f, "noise_t", t, B);
    fixture_close(&f);
    noise_schedule s;
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, NT, 1e-4, 0.02, PREDICT_EPSILON));
    diffusion_add_noise(&s, got, x0, noise, t, B, N);
    int ok = test_allclose_f32("x_t", got, want_xt, B * N, 1e-6, 1e-6);
    diffusion_target(&s, got, x0, noise, t, B, N);
    ok = ok && !memcmp(got, noise, sizeof got); /* epsilon target is the noise itself */
    s.prediction = PREDICT_V;
    diffusion_target(&s, got, x0, noise, t, B, N);
    ok = ok && test_allclose_f32("v target", got, want_v, B * N, 1e-6, 1e-6);
    schedule_free(&s);
    CHECK(ok);
}

TEST(diffusion_mse_loss_value_and_gradient)
{
    enum { N = 37 };
    float pred[N], target[N], grad[N];
    sara_rng r;
    rng_seed(&r, 7);
    rng_fill_normal(&r, pred, N);
    rng_fill_normal(&r, target, N);
    /* closed form: a constant offset c gives loss c² and gradient 2c/N */
    float shifted[N];
    for (int i = 0; i < N; i++)
        shifted[i] = target[i] + 0.5f; /* exact in float for |target| < 2^22 */
    double l0 = diffusion_mse_loss(shifted, target, N, grad);
    CHECK_MSG(fabs(l0 - 0.25) < 1e-6, "loss %g, want 0.25", l0);
    for (int i = 0; i < N; i++)
        CHECK_MSG(fabs(grad[i] - 1.0 / N) < 1e-6, "grad[%d] %g", i, grad[i]);
    /* random data: gradient against central differences (the loss is quadratic, so they are exact
     * up to rounding; the actual float step is used as the denominator) */
    double loss = diffusion_mse_loss(pred, target, N, grad);
    double want = 0;
    for (int i = 0; i < N; i++)
        want += ((double)pred[i] - target[i]) * ((double)pred[i] - target[i]) / N;
    CHECK_MSG(fabs(loss - want) < 1e-12, "loss %.15g, want %.15g", loss, want);
    for (int i = 0; i < N; i++) {
        float keep = pred[i];
        float hi = keep + 0x1p-8f, lo = keep - 0x1p-8f;
        pred[i] = hi;
        double lp = diffusion_mse_loss(pred, target, N, NULL);
        pred[i] = lo;
        double lm = diffusion_mse_loss(pred, target, N, NULL);
        pred[i] = keep;
        double fd = (lp - lm) / ((double)hi - lo);
        CHECK_MSG(fabs(fd - grad[i]) < 1e-6 * (1 + fabs(fd)), "grad[%d] %g, finite difference %g", i, grad[i], fd);
    }
    CHECK(diffusion_mse_loss(pred, target, 0, NULL) == 0.0);
}

TEST(diffusion_sample_timesteps_uniform)
{
    enum { B = 4000, T = 8 };
    static int64_t t[B];
    int count[T] = {0};
    sara_rng r;
    rng_seed(&r, 3);
    CHECK_OK(diffusion_sample_timesteps(&r, t, B, T));
    for (int i = 0; i < B; i++) {
        CHECK_MSG(t[i] >= 0 && t[i] < T, "t[%d] = %lld", i, (long long)t[i]);
        count[t[i]]++;
    }
    for (int k = 0; k < T; k++) /* 500 ± 5·sqrt(500·7/8) */
        CHECK_MSG(abs(count[k] - B / T) < 105, "timestep %d drawn %d times", k, count[k]);
    CHECK_ERR(diffusion_sample_timesteps(&r, t, B, 0), SARA_ERR_INVALID, "at least 1");
}

/* ---- single sampler steps ---- */

TEST(diffusion_timesteps_match_diffusers)
{
    noise_schedule s;
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, NT, 1e-4, 0.02, PREDICT_EPSILON));
    fixture f;
    OPEN_FIXTURE(&f);
    static const int steps[] = {50, 10, 7};
    int ok = 1;
    for (int k = 0; k < 3 && ok; k++) {
        int64_t want[50], got[50];
        char key[32];
        snprintf(key, sizeof key, "timesteps_%d", steps[k]);
        ok = fixture_read(&f, key, "I64", 8, want, steps[k]);
        ok = ok && sampler_timesteps(&s, steps[k], got) == SARA_OK;
        ok = ok && !memcmp(got, want, (size_t)steps[k] * sizeof *got);
        if (!ok)
            fprintf(stderr, "    %s differs\n", key);
    }
    fixture_close(&f);
    int64_t ts[1];
    CHECK_ERR(sampler_timesteps(&s, 0, ts), SARA_ERR_INVALID, "steps 0");
    CHECK_ERR(sampler_timesteps(&s, NT + 1, ts), SARA_ERR_INVALID, "steps 1001");
    schedule_free(&s);
    CHECK(ok);
}

/* Mirrors DDIM_CASES / DDPM_CASES in tools/fixtures/make_diffusion_fixtures.py. */
static const struct {
    const char *name;
    sampler_kind kind;
    int64_t t, prev;
    prediction_kind pred;
    double eta;
    int clip;
} step_cases[] = {
    {"ddim_eps_eta0_t500", SAMPLER_DDIM, 500, 480, PREDICT_EPSILON, 0.0, 1},
    {"ddim_eps_eta05_t500", SAMPLER_DDIM, 500, 480, PREDICT_EPSILON, 0.5, 1},
    {"ddim_eps_eta0_t500_noclip", SAMPLER_DDIM, 500, 480, PREDICT_EPSILON, 0.0, 0},
    {"ddim_v_eta05_t500", SAMPLER_DDIM, 500, 480, PREDICT_V, 0.5, 1},
    {"ddim_eps_eta0_t0", SAMPLER_DDIM, 0, -20, PREDICT_EPSILON, 0.0, 1},
    {"ddim_eps_eta1_t980", SAMPLER_DDIM, 980, 960, PREDICT_EPSILON, 1.0, 0},
    {"ddpm_eps_t500", SAMPLER_DDPM, 500, 480, PREDICT_EPSILON, 0.0, 1},
    {"ddpm_eps_t500_noclip", SAMPLER_DDPM, 500, 480, PREDICT_EPSILON, 0.0, 0},
    {"ddpm_v_t500", SAMPLER_DDPM, 500, 480, PREDICT_V, 0.0, 1},
    {"ddpm_eps_t999", SAMPLER_DDPM, 999, 998, PREDICT_EPSILON, 0.0, 1},
    {"ddpm_eps_t0", SAMPLER_DDPM, 0, -20, PREDICT_EPSILON, 0.0, 1},
};

TEST(diffusion_single_steps_match_diffusers)
{
    enum { N = 2 * 3 * 4 * 4 };
    fixture f;
    OPEN_FIXTURE(&f);
    float x[N], model_out[N], noise[N], want[N], got[N];
    READ_F32(&f, "step_sample", x, N);
    READ_F32(&f, "step_model_output", model_out, N);
    READ_F32(&f, "step_noise", noise, N);
    noise_schedule s;
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, NT, 1e-4, 0.02, PREDICT_EPSILON));
    int ok = 1;
    for (size_t c = 0; c < sizeof step_cases / sizeof *step_cases && ok; c++) {
        sampler_options o;
        sampler_options_default(&o);
        o.kind = step_cases[c].kind;
        o.eta = step_cases[c].eta;
        o.clip_sample = step_cases[c].clip;
        s.prediction = step_cases[c].pred;
        ok = fixture_read(&f, step_cases[c].name, "F32", 4, want, N);
        if (o.kind == SAMPLER_DDIM)
            sampler_ddim_step(&s, &o, step_cases[c].t, step_cases[c].prev, model_out, x, noise, got, N);
        else
            sampler_ddpm_step(&s, &o, step_cases[c].t, step_cases[c].prev, model_out, x, noise, got, N);
        /* torch works in float32 (observed differences ~5e-7) */
        ok = ok && test_allclose_f32(step_cases[c].name, got, want, N, 2e-6, 2e-6);
    }
    fixture_close(&f);
    schedule_free(&s);
    CHECK(ok);
}

/* ---- the sampling loop ---- */

enum { RB = 2, RC = 3, RH = 4, RW = 4, RN = RC * RH * RW };

/* A denoiser that knows the clean sample x0: it returns the exact epsilon (or v) that maps x to
 * x0 at timestep t. It also records the timesteps and, for DDIM eta 0, how far epsilon drifts
 * from its first value (along the exact DDIM path epsilon is invariant). */
typedef struct {
    const noise_schedule *s;
    const float *x0;       /* (RB, RN) */
    int calls;
    float t_seen[64];
    float eps_first[RB * RN];
    double eps_drift;
} oracle_ctx;

static sara_status oracle_denoise(void *ctx, int B, const float *x, const float *t, const int64_t *labels, float *out)
{
    (void)labels;
    oracle_ctx *c = ctx;
    if (c->calls < 64)
        c->t_seen[c->calls] = t[0];
    for (int b = 0; b < B; b++) {
        double ac = c->s->alphas_cumprod[(int64_t)t[b]], sa = sqrt(ac), sb = sqrt(1.0 - ac);
        for (int i = b * RN; i < (b + 1) * RN; i++) {
            double eps = (x[i] - sa * c->x0[i]) / sb;
            out[i] = (float)(c->s->prediction == PREDICT_EPSILON ? eps : sa * eps - sb * c->x0[i]);
            if (c->calls == 0)
                c->eps_first[i] = (float)eps;
            else if (fabs(eps - c->eps_first[i]) > c->eps_drift)
                c->eps_drift = fabs(eps - c->eps_first[i]);
        }
    }
    c->calls++;
    return SARA_OK;
}

TEST(diffusion_sampler_recovers_known_x0)
{
    static const struct {
        sampler_kind kind;
        prediction_kind pred;
        double eta;
        int steps;
    } runs[] = {{SAMPLER_DDIM, PREDICT_EPSILON, 0.0, 50}, {SAMPLER_DDIM, PREDICT_V, 0.0, 10},
                {SAMPLER_DDIM, PREDICT_EPSILON, 0.5, 10}, {SAMPLER_DDPM, PREDICT_EPSILON, 0.0, 50},
                {SAMPLER_DDPM, PREDICT_V, 0.0, 7}};
    float x0[RB * RN], x[RB * RN];
    sara_rng r;
    rng_seed(&r, 11);
    for (int i = 0; i < RB * RN; i++)
        x0[i] = (float)(1.8 * rng_uniform(&r) - 0.9); /* inside the clip range */
    noise_schedule s;
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, NT, 1e-4, 0.02, PREDICT_EPSILON));
    for (size_t k = 0; k < sizeof runs / sizeof *runs; k++) {
        s.prediction = runs[k].pred;
        sampler_options o;
        sampler_options_default(&o);
        o.kind = runs[k].kind;
        o.eta = runs[k].eta;
        o.steps = runs[k].steps;
        oracle_ctx c = {.s = &s, .x0 = x0};
        rng_fill_normal(&r, x, RB * RN);
        CHECK_OK(sampler_run(&s, &o, oracle_denoise, &c, x, NULL, RB, RC, RH, RW, &r));
        CHECK_MSG(c.calls == o.steps, "run %zu: %d denoiser calls for %d steps", k, c.calls, o.steps);
        int64_t ts[50];
        CHECK_OK(sampler_timesteps(&s, o.steps, ts));
        for (int i = 0; i < o.steps; i++)
            CHECK_MSG(c.t_seen[i] == (float)ts[i], "run %zu: step %d saw t %g, want %lld", k, i, c.t_seen[i],
                      (long long)ts[i]);
        CHECK_MSG(test_allclose_f32("sample", x, x0, RB * RN, 1e-5, 0), "run %zu", k);
        if (o.kind == SAMPLER_DDIM && o.eta == 0.0) /* the DDIM direction term keeps epsilon fixed */
            CHECK_MSG(c.eps_drift < 1e-4, "run %zu: epsilon drifted by %g", k, c.eps_drift);
    }
    schedule_free(&s);
}

static sara_status scale_denoise(void *ctx, int B, const float *x, const float *t, const int64_t *labels, float *out)
{
    (void)ctx, (void)t, (void)labels;
    for (int i = 0; i < B * RN; i++)
        out[i] = 0.1f * x[i];
    return SARA_OK;
}

TEST(diffusion_sampler_is_deterministic)
{
    noise_schedule s;
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, NT, 1e-4, 0.02, PREDICT_EPSILON));
    sampler_options o;
    sampler_options_default(&o);
    float init[RB * RN], a[RB * RN], b[RB * RN];
    sara_rng r;
    rng_seed(&r, 5);
    rng_fill_normal(&r, init, RB * RN);
    memcpy(a, init, sizeof a);
    memcpy(b, init, sizeof b);
    CHECK_OK(sampler_run(&s, &o, scale_denoise, NULL, a, NULL, RB, RC, RH, RW, NULL)); /* eta 0 needs no rng */
    CHECK_OK(sampler_run(&s, &o, scale_denoise, NULL, b, NULL, RB, RC, RH, RW, NULL));
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, init, sizeof a)); /* it did something */
    /* stochastic samplers: the same seed reproduces, another seed does not */
    static const sampler_kind kinds[] = {SAMPLER_DDIM, SAMPLER_DDPM};
    for (int k = 0; k < 2; k++) {
        o.kind = kinds[k];
        o.eta = 0.5;
        o.steps = 10;
        sara_rng r1, r2;
        rng_seed(&r1, 9);
        rng_seed(&r2, 9);
        memcpy(a, init, sizeof a);
        memcpy(b, init, sizeof b);
        CHECK_OK(sampler_run(&s, &o, scale_denoise, NULL, a, NULL, RB, RC, RH, RW, &r1));
        CHECK_OK(sampler_run(&s, &o, scale_denoise, NULL, b, NULL, RB, RC, RH, RW, &r2));
        CHECK(!memcmp(a, b, sizeof a));
        rng_seed(&r2, 10);
        memcpy(b, init, sizeof b);
        CHECK_OK(sampler_run(&s, &o, scale_denoise, NULL, b, NULL, RB, RC, RH, RW, &r2));
        CHECK(memcmp(a, b, sizeof a));
    }
    schedule_free(&s);
}

/* Class-dependent toy model: 0.1·x + 0.05·label. Counts calls and checks the null label. */
typedef struct {
    int calls, null_calls;
    int64_t null_label;
    float guidance; /* used by guided_reference only */
} label_ctx;

#define LABEL_SLOPE 0.05f

static sara_status label_denoise(void *ctx, int B, const float *x, const float *t, const int64_t *labels, float *out)
{
    (void)t;
    label_ctx *c = ctx;
    c->calls++;
    int all_null = 1;
    for (int b = 0; b < B; b++) {
        all_null &= labels[b] == c->null_label;
        for (int i = b * RN; i < (b + 1) * RN; i++)
            out[i] = 0.1f * x[i] + LABEL_SLOPE * (float)labels[b];
    }
    c->null_calls += all_null;
    return SARA_OK;
}

/* What guidance must produce, u + w·(c − u), evaluated by hand in the same float operations. */
static sara_status guided_reference(void *ctx, int B, const float *x, const float *t, const int64_t *labels,
                                    float *out)
{
    (void)t;
    label_ctx *c = ctx;
    for (int b = 0; b < B; b++)
        for (int i = b * RN; i < (b + 1) * RN; i++) {
            float u = 0.1f * x[i] + LABEL_SLOPE * (float)c->null_label;
            float cond = 0.1f * x[i] + LABEL_SLOPE * (float)labels[b];
            out[i] = u + c->guidance * (cond - u);
        }
    return SARA_OK;
}

TEST(diffusion_sampler_classifier_free_guidance)
{
    noise_schedule s;
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, NT, 1e-4, 0.02, PREDICT_EPSILON));
    sampler_options o;
    sampler_options_default(&o);
    o.steps = 5;
    o.guidance_scale = 3.0;
    o.null_label = 0;
    o.clip_sample = 0;
    const int64_t labels[RB] = {2, 5};
    float init[RB * RN], got[RB * RN], want[RB * RN];
    sara_rng r;
    rng_seed(&r, 21);
    rng_fill_normal(&r, init, RB * RN);

    /* one step by hand: the guided output fed to sampler_ddim_step */
    label_ctx c = {.null_label = 0, .guidance = 3.0f};
    o.steps = 1;
    memcpy(got, init, sizeof got);
    CHECK_OK(sampler_run(&s, &o, label_denoise, &c, got, labels, RB, RC, RH, RW, NULL));
    CHECK(c.calls == 2 && c.null_calls == 1);
    float model_out[RB * RN];
    for (int b = 0; b < RB; b++)
        for (int i = b * RN; i < (b + 1) * RN; i++) /* u + w(c − u) = 0.1x + w·0.05·label when null is 0 */
            model_out[i] = 0.1f * init[i] + 3.0f * LABEL_SLOPE * (float)labels[b];
    sampler_ddim_step(&s, &o, 0, -(int64_t)NT, model_out, init, NULL, want, RB * RN);
    CHECK_ALLCLOSE_F32("guided step", got, want, RB * RN, 1e-5, 1e-5);

    /* several steps: guided run = unguided run of the hand-combined model, bit for bit */
    o.steps = 5;
    c = (label_ctx){.null_label = 0, .guidance = 3.0f};
    memcpy(got, init, sizeof got);
    CHECK_OK(sampler_run(&s, &o, label_denoise, &c, got, labels, RB, RC, RH, RW, NULL));
    CHECK(c.calls == 2 * o.steps && c.null_calls == o.steps);
    o.guidance_scale = 1.0;
    memcpy(want, init, sizeof want);
    CHECK_OK(sampler_run(&s, &o, guided_reference, &c, want, labels, RB, RC, RH, RW, NULL));
    CHECK(!memcmp(got, want, sizeof got));
    schedule_free(&s);
}

static sara_status failing_denoise(void *ctx, int B, const float *x, const float *t, const int64_t *labels,
                                   float *out)
{
    (void)B, (void)x, (void)t, (void)labels, (void)out;
    int *calls = ctx;
    if (++*calls == 2)
        return sara_fail(SARA_ERR_SHAPE, "toy model: bad input");
    for (int i = 0; i < B * RN; i++)
        out[i] = 0.0f;
    return SARA_OK;
}

static sara_status nan_denoise(void *ctx, int B, const float *x, const float *t, const int64_t *labels, float *out)
{
    (void)ctx, (void)x, (void)t, (void)labels;
    for (int i = 0; i < B * RN; i++)
        out[i] = i == 7 ? NAN : 0.0f;
    return SARA_OK;
}

TEST(diffusion_sampler_rejects_bad_input)
{
    noise_schedule s;
    CHECK_OK(schedule_init(&s, SCHEDULE_LINEAR, NT, 1e-4, 0.02, PREDICT_EPSILON));
    sampler_options o;
    sampler_options_default(&o);
    float x[RB * RN] = {0};
    const int64_t labels[RB] = {1, 2};
    sara_rng r;
    rng_seed(&r, 1);
    o.steps = NT + 1;
    CHECK_ERR(sampler_run(&s, &o, scale_denoise, NULL, x, NULL, RB, RC, RH, RW, &r), SARA_ERR_INVALID, "steps 1001");
    sampler_options_default(&o);
    o.eta = 1.5;
    CHECK_ERR(sampler_run(&s, &o, scale_denoise, NULL, x, NULL, RB, RC, RH, RW, &r), SARA_ERR_INVALID, "eta 1.5");
    sampler_options_default(&o);
    o.guidance_scale = 2.0;
    CHECK_ERR(sampler_run(&s, &o, scale_denoise, NULL, x, labels, RB, RC, RH, RW, &r), SARA_ERR_INVALID,
              "null_label");
    o.null_label = 0;
    CHECK_ERR(sampler_run(&s, &o, scale_denoise, NULL, x, NULL, RB, RC, RH, RW, &r), SARA_ERR_INVALID, "labels");
    sampler_options_default(&o);
    o.kind = SAMPLER_DDPM;
    CHECK_ERR(sampler_run(&s, &o, scale_denoise, NULL, x, NULL, RB, RC, RH, RW, NULL), SARA_ERR_INVALID,
              "random generator");
    CHECK_ERR(sampler_run(&s, &o, scale_denoise, NULL, x, NULL, 0, RC, RH, RW, &r), SARA_ERR_INVALID, "positive");
    int calls = 0;
    CHECK_ERR(sampler_run(&s, &o, failing_denoise, &calls, x, NULL, RB, RC, RH, RW, &r), SARA_ERR_SHAPE,
              "sampling step 2/50 (t = 960): toy model: bad input");
    CHECK_ERR(sampler_run(&s, &o, nan_denoise, NULL, x, NULL, RB, RC, RH, RW, &r), SARA_ERR_NUMERIC,
              "not finite at element 7");
    schedule_free(&s);
}
