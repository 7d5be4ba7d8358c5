/* lora_file.c — folding LoRA adapter files into weights; see lora_file.h. */
#include "peft/lora_file.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "ops/ops.h"
#include "peft/adapter.h"

#define LORA_A_SUFFIX ".lora_A.weight"
#define LORA_B_SUFFIX ".lora_B.weight"

int lora_file_is(const st_file *f)
{
    const char *fmt = safetensors_meta(f, "format"), *method = safetensors_meta(f, "method");
    return fmt && method && !strcmp(fmt, ADAPTER_FORMAT) && !strcmp(method, "lora");
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

/* W (O, K) += scale · B (O, r) · A (r, K) for one A/B pair of the file. */
static sara_status apply_pair(param_table *p, const st_file *f, const st_tensor *ta, double scale)
{
    char module[PARAM_NAME_MAX], name[PARAM_NAME_MAX + 32];
    snprintf(module, sizeof module, "%.*s", (int)(strlen(ta->name) - strlen(LORA_A_SUFFIX)), ta->name);
    snprintf(name, sizeof name, "%s" LORA_B_SUFFIX, module);
    const st_tensor *tb = safetensors_find(f, name);
    snprintf(name, sizeof name, "%s.weight", module);
    int w = params_find(p, name);
    if (!tb)
        return sara_fail(SARA_ERR_MISSING, "%s: %s has no matching %s" LORA_B_SUFFIX, f->path, ta->name, module);
    if (w < 0)
        return sara_fail(SARA_ERR_SHAPE, "%s: %s adapts %s, which the model does not have", f->path, ta->name, name);
    const param_entry *e = &p->entries[w];
    int64_t O = e->shape[0], K = e->numel / e->shape[0], r = ta->shape[0];
    if (ta->numel != r * K || tb->numel != O * r || tb->shape[0] != O) {
        char shape[64];
        st_shape_string(shape, sizeof shape, e->ndim, e->shape);
        return sara_fail(SARA_ERR_SHAPE, "%s: %s / %s do not fit %s %s", f->path, ta->name, tb->name, name, shape);
    }
    float *a = malloc((size_t)(r * K) * sizeof(float)), *b = malloc((size_t)(O * r) * sizeof(float));
    sara_status s = a && b ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    if (s == SARA_OK)
        s = safetensors_read_f32(f, ta, a);
    if (s == SARA_OK)
        s = safetensors_read_f32(f, tb, b);
    if (s == SARA_OK)
        ops_gemm(0, 0, (int)O, (int)K, (int)r, (float)scale, b, (int)r, a, (int)K, 1.0f, params_ptr(p, w), (int)K);
    free(a);
    free(b);
    return s;
}

static sara_status meta_double(const st_file *f, const char *key, double *out)
{
    const char *v = safetensors_meta(f, key);
    char *end;
    if (!v || (*out = strtod(v, &end), *end) || !(*out > 0))
        return sara_fail(SARA_ERR_FORMAT, "%s: LoRA metadata '%s' missing or not a positive number", f->path, key);
    return SARA_OK;
}

sara_status lora_file_apply(param_table *p, const char *path, double alpha, const char *base_hash)
{
    st_file *f = NULL;
    SARA_TRY(safetensors_open(path, &f));
    double rank = 0, lora_alpha = 0;
    sara_status s = lora_file_is(f) ? SARA_OK : sara_fail(SARA_ERR_FORMAT, "%s: not a sara LoRA adapter", path);
    if (s == SARA_OK)
        s = meta_double(f, "rank", &rank);
    if (s == SARA_OK)
        s = meta_double(f, "alpha", &lora_alpha);
    const char *want = safetensors_meta(f, "base_sha256");
    if (s == SARA_OK && base_hash && (!want || strcmp(want, base_hash)))
        s = sara_fail(SARA_ERR_INVALID, "%s: trained on a different base model (base_sha256 %.16s…, this model "
                      "%.16s…); use --force to apply it anyway", path, want ? want : "missing", base_hash);
    int pairs = 0;
    for (int i = 0; s == SARA_OK && i < f->count; i++) {
        const st_tensor *t = &f->tensors[i];
        if (has_suffix(t->name, LORA_A_SUFFIX)) {
            s = apply_pair(p, f, t, alpha * lora_alpha / rank);
            pairs++;
        } else if (!has_suffix(t->name, LORA_B_SUFFIX)) {
            s = sara_fail(SARA_ERR_FORMAT, "%s: unexpected tensor %s in a LoRA adapter", path, t->name);
        }
    }
    if (s == SARA_OK && pairs == 0)
        s = sara_fail(SARA_ERR_FORMAT, "%s: no LoRA tensors", path);
    safetensors_close(f);
    return s;
}
