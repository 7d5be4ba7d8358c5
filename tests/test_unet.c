/* test_unet.c — the whole UNet against the PyTorch re-implementation of diffusers' UNet2DModel
 * (tools/fixtures/unet_reference.py): output and every parameter gradient for two configs, and
 * ten AdamW training steps against torch.optim.AdamW; plus the memory plan and loading errors. */
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/safetensors.h"
#include "diffusion/diffusion.h"
#include "diffusion/schedule.h"
#include "model/unet.h"
#include "peft/method.h"
#include "test.h"
#include "train/adamw.h"

#define UNET_FIXTURES TEST_FIXTURES "/unet"

/* Reads a whole tensor of the fixture as float (malloc'd) or int64; NULL when absent. */
static float *fixture_f32(const st_file *f, const char *name, int64_t *numel)
{
    const st_tensor *t = safetensors_find(f, name);
    if (!t)
        return NULL;
    float *x = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (x && safetensors_read_f32(f, t, x) != SARA_OK) {
        free(x);
        return NULL;
    }
    if (numel)
        *numel = t->numel;
    return x;
}

static int64_t *fixture_i64(const st_file *f, const char *name)
{
    const st_tensor *t = safetensors_find(f, name);
    if (!t)
        return NULL;
    int64_t *x = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(int64_t));
    if (x && safetensors_read_i64(f, t, x) != SARA_OK) {
        free(x);
        return NULL;
    }
    return x;
}

/* Forward and every gradient of sum(output · grad_output) against the float64 PyTorch reference.
 * Tolerances: the reference is exact (float64); ours is float32 through ~20 layers, so outputs
 * agree to ~1e-5 and gradients, sums over many terms, to ~1e-4 relative of their scale. */
static void check_forward_backward(const char *name)
{
    char dir[256], io_path[300];
    snprintf(dir, sizeof dir, UNET_FIXTURES "/%s", name);
    snprintf(io_path, sizeof io_path, "%s/io.safetensors", dir);
    unet *m = NULL;
    st_file *io = NULL;
    if (unet_load(&m, dir) != SARA_OK || safetensors_open(io_path, &io) != SARA_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", name, sara_last_error());
        unet_free(m);
        return;
    }
    int64_t n_in = 0, n_out = 0;
    float *x = fixture_f32(io, "sample", &n_in);
    float *want = fixture_f32(io, "output", &n_out);
    float *gout = fixture_f32(io, "grad_output", NULL);
    float *want_dx = fixture_f32(io, "grad.sample", NULL);
    int64_t *t64 = fixture_i64(io, "timestep");
    int64_t *labels = fixture_i64(io, "class_labels");
    int B = (int)safetensors_find(io, "sample")->shape[0];
    float t[16];
    for (int i = 0; i < B; i++)
        t[i] = (float)t64[i];
    float *out = calloc((size_t)n_out, sizeof(float));
    float *dx = calloc((size_t)n_in, sizeof(float));
    param_table grads;
    params_init(&grads);
    ops_sink *sinks = calloc((size_t)unet_params(m)->count, sizeof *sinks);
    int ok = params_clone_layout(&grads, unet_params(m)) == SARA_OK;
    for (int i = 0; ok && i < grads.count; i++)
        sinks[i] = (ops_sink){.kind = OPS_SINK_DENSE, .dense = params_ptr(&grads, i)};
    ok = ok && unet_forward(m, x, t, labels, B, out) == SARA_OK;
    ok = ok && test_allclose_f32("output", out, want, (size_t)n_out, 2e-5, 1e-4);
    ok = ok && unet_backward(m, gout, dx, sinks) == SARA_OK;
    ok = ok && test_allclose_f32("grad.sample", dx, want_dx, (size_t)n_in, 1e-5, 1e-3);
    for (int i = 0; ok && i < grads.count; i++) {
        char key[PARAM_NAME_MAX + 8];
        snprintf(key, sizeof key, "grad.%s", grads.entries[i].name);
        float *want_g = fixture_f32(io, key, NULL);
        if (!want_g) {
            fprintf(stderr, "    fixture lacks %s\n", key);
            ok = 0;
            break;
        }
        /* Scale-aware tolerance: the largest reference entry sets the absolute floor, never below
         * 1e-6: to_k.bias's gradient is exactly zero in exact arithmetic (softmax ignores a constant
         * added to every score), so ours is float rounding noise of ~1e-7. */
        double scale = 0;
        for (int64_t k = 0; k < grads.entries[i].numel; k++)
            scale = fabs(want_g[k]) > scale ? fabs(want_g[k]) : scale;
        ok = test_allclose_f32(key, params_ptr(&grads, i), want_g, (size_t)grads.entries[i].numel, 1e-4 * scale + 1e-6,
                               1e-3);
        free(want_g);
    }
    if (!ok)
        test_fail(__FILE__, __LINE__, "%s: forward/backward differs from PyTorch", name);
    params_free(&grads);
    free(sinks);
    free(x);
    free(want);
    free(gout);
    free(want_dx);
    free(t64);
    free(labels);
    free(out);
    free(dx);
    safetensors_close(io);
    unet_free(m);
}

TEST(unet_matches_pytorch_tiny)
{
    check_forward_backward("tiny");
}

TEST(unet_matches_pytorch_pad0_unconditional)
{
    check_forward_backward("tiny_pad0");
}

TEST(unet_parameter_names_are_diffusers_keys)
{
    unet *m = NULL;
    st_file *f = NULL;
    CHECK_OK(unet_load(&m, UNET_FIXTURES "/tiny"));
    CHECK_OK(safetensors_open(UNET_FIXTURES "/tiny/diffusion_pytorch_model.safetensors", &f));
    /* params_load (inside unet_load) already demands every name; also the counts are equal. */
    CHECK_MSG(f->count == unet_params(m)->count, "file %d tensors, model %d", f->count, unet_params(m)->count);
    CHECK(params_find(unet_params(m), "down_blocks.1.attentions.0.to_out.0.weight") >= 0);
    CHECK(params_find(unet_params(m), "class_embedding.weight") >= 0);
    safetensors_close(f);
    unet_free(m);
}

/* Ten training steps (diffusion MSE, clipping at 1.0, AdamW) against torch.optim.AdamW in float32.
 * Adam divides by sqrt(v): an entry whose gradient is near eps (1e-8) moves by a rounding-dependent
 * fraction of lr (1e-3), and to_k.bias's true gradient is exactly zero, so its updates are pure
 * Adam-normalised rounding noise (torch's own float32 and float64 runs differ by 2.4e-4 there and
 * by up to 3.6e-5 elsewhere). So weights are compared in two tiers: all but 0.5 % of the entries
 * within `tight`, and every entry within `loose` (a few lr). Losses agree to 1e-4 relative. */
#define ADAMW_OUTLIER_FRACTION 0.005

typedef struct {
    int64_t total, outliers;
    int failed;
} tiered_check;

static void tiered_compare(tiered_check *c, const char *what, const float *got, const float *want, int64_t n,
                           double tight, double loose)
{
    for (int64_t k = 0; k < n; k++) {
        double err = fabs((double)got[k] - want[k]);
        if (!(err <= loose)) {
            fprintf(stderr, "    %s[%lld]: got %.9g want %.9g (beyond %.3g)\n", what, (long long)k, got[k], want[k], loose);
            c->failed = 1;
        }
        c->outliers += err > tight;
    }
    c->total += n;
}

static int tiered_ok(const tiered_check *c, const char *what)
{
    if (c->failed || (double)c->outliers > ADAMW_OUTLIER_FRACTION * (double)c->total) {
        fprintf(stderr, "    %s: %lld of %lld entries beyond the tight tolerance\n", what, (long long)c->outliers,
                (long long)c->total);
        return 0;
    }
    return 1;
}

/* Every parameter against the fixture's `<prefix><name>` tensors, in the two tiers above. */
static int weights_match(const st_file *f, const param_table *p, const char *prefix, double tight, double loose,
                         const char *what)
{
    tiered_check c = {0};
    for (int i = 0; i < p->count; i++) {
        char key[PARAM_NAME_MAX + 8];
        snprintf(key, sizeof key, "%s%s", prefix, p->entries[i].name);
        float *w = fixture_f32(f, key, NULL);
        if (!w) {
            fprintf(stderr, "    fixture lacks %s\n", key);
            return 0;
        }
        tiered_compare(&c, key, params_ptr(p, i), w, p->entries[i].numel, tight, loose);
        free(w);
    }
    return tiered_ok(&c, what);
}

TEST(unet_ten_adamw_steps_match_pytorch)
{
    unet *m = NULL;
    st_file *f = NULL;
    CHECK_OK(unet_load(&m, UNET_FIXTURES "/tiny"));
    CHECK_OK(safetensors_open(UNET_FIXTURES "/tiny/adamw.safetensors", &f));
    noise_schedule sched;
    CHECK_OK(schedule_init(&sched, SCHEDULE_LINEAR, 1000, 1e-4, 0.02, PREDICT_EPSILON));
    float *ac_want = fixture_f32(f, "alphas_cumprod", NULL);
    float ac[1000];
    for (int i = 0; i < 1000; i++)
        ac[i] = (float)sched.alphas_cumprod[i];
    int ok_ac = test_allclose_f32("alphas_cumprod", ac, ac_want, 1000, 0, 1e-6);
    free(ac_want);
    CHECK(ok_ac);

    const int B = 4, steps = 10;
    const int64_t n = 64; /* 1 × 8 × 8 */
    float *x0 = fixture_f32(f, "x0", NULL), *noise = fixture_f32(f, "noise", NULL);
    float *loss_want = fixture_f32(f, "loss", NULL);
    int64_t *ts = fixture_i64(f, "timesteps"), *labels = fixture_i64(f, "labels");
    CHECK(x0 && noise && loss_want && ts && labels);
    method_options mo;
    method_options_default(&mo);
    mo.adamw.weight_decay = 1e-2;
    train_method *meth = NULL;
    CHECK_OK(method_create(&meth, "full", m, &mo));
    float xt[4 * 64], pred[4 * 64], dpred[4 * 64], tf[4];
    double losses[10];
    param_table *p = unet_params(m);
    int ok = 1;
    for (int s = 0; s < steps && ok; s++) {
        const int64_t *t = ts + s * B;
        for (int i = 0; i < B; i++)
            tf[i] = (float)t[i];
        diffusion_add_noise(&sched, xt, x0, noise + s * B * n, t, B, n);
        ok = unet_forward(m, xt, tf, labels, B, pred) == SARA_OK;
        losses[s] = diffusion_mse_loss(pred, noise + s * B * n, B * n, dpred);
        meth->zero_grad(meth);
        ok = ok && unet_backward(m, dpred, NULL, meth->sinks) == SARA_OK;
        double norm = sqrt(meth->grad_sum_squares(meth));
        meth->scale_grad(meth, (float)clip_factor(norm, 1.0));
        meth->step(meth, s + 1, 1e-3);
        if (s == 0)
            ok = ok && weights_match(f, p, "step1.", 1e-6, 2e-3, "after step 1");
    }
    for (int s = 0; s < steps && ok; s++)
        if (fabs(losses[s] - loss_want[s]) > 1e-4 * fabs(loss_want[s])) {
            fprintf(stderr, "    loss[%d] %.9g want %.9g\n", s, losses[s], loss_want[s]);
            ok = 0;
        }
    ok = ok && weights_match(f, p, "final.", 1e-4, 1e-2, "after step 10");
    method_free(meth);
    schedule_free(&sched);
    free(x0);
    free(noise);
    free(loss_want);
    free(ts);
    free(labels);
    safetensors_close(f);
    unet_free(m);
    CHECK_MSG(ok, "training steps differ from torch.optim.AdamW");
}

TEST(unet_memory_plan_is_reported_and_batch_checked)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, UNET_FIXTURES "/tiny"));
    CHECK_OK(unet_reserve(m, 4));
    unet_memory_plan p4 = unet_memory(m);
    CHECK_OK(unet_reserve(m, 8));
    unet_memory_plan p8 = unet_memory(m);
    CHECK(p4.weights == p8.weights && p4.weights >= (size_t)unet_param_count(m) * sizeof(float));
    /* Activations are linear in the batch (up to 64-byte rounding per buffer). */
    CHECK_MSG(p8.activations > p4.activations * 19 / 10 && p8.activations <= 2 * p4.activations,
              "activations %zu -> %zu", p4.activations, p8.activations);
    float x[8 * 64] = {0}, out[8 * 64], t[8] = {0};
    int64_t bad[8] = {0, 1, 2, 3, 0, 1, 2, 3}; /* 3 is outside [0, 3) */
    CHECK_ERR(unet_forward(m, x, t, bad, 8, out), SARA_ERR_INVALID, "class label 3");
    CHECK_ERR(unet_forward(m, x, t, NULL, 8, out), SARA_ERR_INVALID, "class labels are required");
    unet_free(m);
}

TEST(unet_load_rejects_mismatched_weights)
{
    unet *m = NULL;
    char dir[600], cmd[1400];
    /* the tiny config with the pad0 weights: every shape differs, the first is named */
    snprintf(dir, sizeof dir, "%s/mixed", test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp " UNET_FIXTURES "/tiny/config.json %s/ && cp " UNET_FIXTURES
             "/tiny_pad0/diffusion_pytorch_model.safetensors %s/" UNET_WEIGHTS_FILE, dir, dir, dir);
    CHECK(system(cmd) == 0);
    sara_status s = unet_load(&m, dir);
    CHECK_MSG(s != SARA_OK, "mismatched weights were accepted");
    CHECK_MSG(test_contains(sara_last_error(), UNET_WEIGHTS_FILE), "message: %s", sara_last_error());
    CHECK(m == NULL);
}
