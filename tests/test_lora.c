/* test_lora.c — LoRA branches against the PEFT-style PyTorch oracle (make_lora_fixtures.py):
 * output and every LoRA gradient; B = 0 leaves the model unchanged bit for bit; the merged
 * weights reproduce the branched model; the LoRA method freezes the base and exports PEFT names. */
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/safetensors.h"
#include "model/unet.h"
#include "peft/adapter.h"
#include "peft/method.h"
#include "test.h"

#define LORA_FIXTURE TEST_FIXTURES "/lora/tiny_r2.safetensors"
#define TINY_MODEL TEST_FIXTURES "/unet/tiny"
#define TINY_B 2
#define TINY_NUMEL (TINY_B * 64) /* (2, 1, 8, 8) */

typedef struct {
    float x[TINY_NUMEL], t[TINY_B], gout[TINY_NUMEL];
    int64_t labels[TINY_B];
} tiny_inputs;

static int read_inputs(const st_file *f, tiny_inputs *in)
{
    int64_t t64[TINY_B];
    return safetensors_read_f32(f, safetensors_find(f, "sample"), in->x) == SARA_OK &&
           safetensors_read_f32(f, safetensors_find(f, "grad_output"), in->gout) == SARA_OK &&
           safetensors_read_i64(f, safetensors_find(f, "timestep"), t64) == SARA_OK &&
           safetensors_read_i64(f, safetensors_find(f, "class_labels"), in->labels) == SARA_OK &&
           (in->t[0] = (float)t64[0], in->t[1] = (float)t64[1], 1);
}

/* Dense sinks for the LoRA table after `base` frozen entries. */
static ops_sink *lora_sinks(param_table *grads, int base)
{
    ops_sink *s = calloc((size_t)(base + grads->count), sizeof *s);
    for (int i = 0; s && i < grads->count; i++)
        s[base + i] = (ops_sink){.kind = OPS_SINK_DENSE, .dense = params_ptr(grads, i)};
    return s;
}

TEST(lora_matches_pytorch_peft)
{
    unet *m = NULL;
    st_file *f = NULL;
    tiny_inputs in;
    CHECK_OK(unet_load(&m, TINY_MODEL));
    CHECK_OK(unet_lora_attach(m, 2, 4.0, NULL, 0));
    CHECK_OK(safetensors_open(LORA_FIXTURE, &f));
    CHECK(read_inputs(f, &in));
    param_table *lora = unet_lora_params(m);
    CHECK_MSG(lora->count == 102, "%d LoRA tensors, the oracle has 102 (every conv and linear)", lora->count);
    CHECK_OK(params_load(lora, f, 1)); /* every name must be in the oracle's file with its shape */
    float out[TINY_NUMEL], want[TINY_NUMEL], dx[TINY_NUMEL] = {0}, want_dx[TINY_NUMEL];
    CHECK_OK(unet_forward(m, in.x, in.t, in.labels, TINY_B, out));
    CHECK_OK(safetensors_read_f32(f, safetensors_find(f, "output"), want));
    CHECK_ALLCLOSE_F32("output", out, want, TINY_NUMEL, 2e-5, 1e-4);
    param_table grads;
    CHECK_OK(params_clone_layout(&grads, lora));
    ops_sink *sinks = lora_sinks(&grads, unet_params(m)->count);
    CHECK(sinks);
    CHECK_OK(unet_backward(m, in.gout, dx, sinks));
    CHECK_OK(safetensors_read_f32(f, safetensors_find(f, "grad.sample"), want_dx));
    CHECK_ALLCLOSE_F32("grad.sample", dx, want_dx, TINY_NUMEL, 1e-5, 1e-3);
    int ok = 1;
    for (int i = 0; i < grads.count && ok; i++) {
        char key[PARAM_NAME_MAX + 8];
        snprintf(key, sizeof key, "grad.%s", grads.entries[i].name);
        const st_tensor *t = safetensors_find(f, key);
        float *w = t ? malloc((size_t)t->numel * sizeof(float)) : NULL;
        ok = w && safetensors_read_f32(f, t, w) == SARA_OK;
        double scale = 0;
        for (int64_t k = 0; ok && k < t->numel; k++)
            scale = fabs(w[k]) > scale ? fabs(w[k]) : scale;
        ok = ok && test_allclose_f32(key, params_ptr(&grads, i), w, (size_t)t->numel, 1e-4 * scale + 1e-6, 1e-3);
        free(w);
    }
    free(sinks);
    params_free(&grads);
    safetensors_close(f);
    unet_free(m);
    CHECK_MSG(ok, "LoRA gradients differ from the PEFT oracle");
}

TEST(lora_initial_branch_changes_nothing_and_merge_matches)
{
    unet *plain = NULL, *m = NULL;
    st_file *f = NULL;
    tiny_inputs in;
    CHECK_OK(unet_load(&plain, TINY_MODEL));
    CHECK_OK(unet_load(&m, TINY_MODEL));
    CHECK_OK(safetensors_open(LORA_FIXTURE, &f));
    CHECK(read_inputs(f, &in));
    CHECK_OK(unet_lora_attach(m, 2, 4.0, "attentions", 7));
    /* 4 attention blocks (down 1, mid 1, up 2) × q, k, v, out × A, B */
    CHECK_MSG(unet_lora_params(m)->count == 4 * 4 * 2, "attention targets: %d tensors", unet_lora_params(m)->count);
    float a[TINY_NUMEL], b[TINY_NUMEL];
    CHECK_OK(unet_forward(plain, in.x, in.t, in.labels, TINY_B, a));
    CHECK_OK(unet_forward(m, in.x, in.t, in.labels, TINY_B, b));
    CHECK_MSG(!memcmp(a, b, sizeof a), "B = 0 must leave the output bit-identical");
    /* Random B: the merged plain model must reproduce the branched one. */
    param_table *lora = unet_lora_params(m);
    for (size_t k = 0; k < lora->numel; k++)
        lora->data[k] = 0.05f * (float)((k * 7919) % 23) - 0.5f;
    param_table *pp = unet_params(plain);
    for (int i = 0; i < pp->count; i++)
        unet_lora_merged_weight(m, i, params_ptr(pp, i));
    CHECK_OK(unet_forward(plain, in.x, in.t, in.labels, TINY_B, a));
    CHECK_OK(unet_forward(m, in.x, in.t, in.labels, TINY_B, b));
    CHECK_ALLCLOSE_F32("merged vs branched", a, b, TINY_NUMEL, 1e-5, 1e-4);
    CHECK_ERR(unet_lora_attach(m, 2, 4.0, NULL, 0), SARA_ERR_INVALID, "already attached");
    safetensors_close(f);
    unet_free(plain);
    unet_free(m);
}

TEST(lora_method_freezes_base_and_exports_peft_names)
{
    unet *m = NULL;
    st_file *f = NULL;
    tiny_inputs in;
    CHECK_OK(unet_load(&m, TINY_MODEL));
    CHECK_OK(safetensors_open(LORA_FIXTURE, &f));
    CHECK(read_inputs(f, &in));
    param_table *p = unet_params(m);
    float *before = malloc(p->numel * sizeof(float));
    CHECK(before);
    memcpy(before, p->data, p->numel * sizeof(float));
    method_options o;
    method_options_default(&o);
    o.lora_rank = 4;
    o.lora_alpha = 4;
    o.total_steps = 3;
    train_method *meth = NULL;
    CHECK_OK(method_create(&meth, "lora", m, &o));
    int64_t lora_numel = 0;
    for (int i = 0; i < unet_lora_params(m)->count; i++)
        lora_numel += unet_lora_params(m)->entries[i].numel;
    CHECK(lora_numel > 0 && meth->trainable_count(meth) == lora_numel);
    float out[TINY_NUMEL];
    for (int s = 1; s <= 3; s++) {
        meth->zero_grad(meth);
        CHECK_OK(unet_forward(m, in.x, in.t, in.labels, TINY_B, out));
        CHECK_OK(unet_backward(m, in.gout, NULL, meth->sinks));
        CHECK(meth->grad_sum_squares(meth) > 0);
        meth->step(meth, s, 1e-2);
    }
    CHECK_MSG(!memcmp(before, p->data, p->numel * sizeof(float)), "LoRA training wrote the frozen base");
    char path[600];
    snprintf(path, sizeof path, "%s/adapter.safetensors", test_tmpdir());
    CHECK_OK(meth->export_adapter(meth, path, "{}"));
    st_file *a = NULL;
    CHECK_OK(safetensors_open(path, &a));
    CHECK(safetensors_find(a, "down_blocks.1.attentions.0.to_q.lora_A.weight"));
    CHECK(safetensors_find(a, "conv_in.lora_B.weight"));
    CHECK(!strcmp(safetensors_meta(a, "method"), "lora") && !strcmp(safetensors_meta(a, "rank"), "4"));
    CHECK(a->count == unet_lora_params(m)->count);
    CHECK(safetensors_meta(a, "base_sha256") && strlen(safetensors_meta(a, "base_sha256")) == 64);
    safetensors_close(a);
    /* Folding the file into a fresh base gives the trained model's merged weights. */
    unet *base = NULL;
    CHECK_OK(unet_load(&base, TINY_MODEL));
    param_table *bp = unet_params(base);
    const char *spec[1] = {path};
    CHECK_OK(adapter_apply_specs(bp, spec, 1, 0));
    float *merged = malloc(bp->numel * sizeof(float));
    CHECK(merged);
    int ok = 1;
    for (int i = 0; i < bp->count && ok; i++) {
        unet_lora_merged_weight(m, i, merged);
        ok = test_allclose_f32(bp->entries[i].name, params_ptr(bp, i), merged, (size_t)bp->entries[i].numel, 1e-6, 1e-6);
    }
    free(merged);
    CHECK_MSG(ok, "adapter file merge differs from the training-time merge");
    /* bp now differs from the base it was trained on: applying again must name the mismatch. */
    CHECK_ERR(adapter_apply_specs(bp, spec, 1, 0), SARA_ERR_INVALID, "different base model");
    CHECK_OK(adapter_apply_specs(bp, spec, 1, 1));
    unet_free(base);
    safetensors_close(f);
    method_free(meth);
    free(before);
    unet_free(m);
}
