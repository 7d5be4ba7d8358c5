/* fuzz_adapter.c — adapter files on arbitrary bytes: the safetensors reader, then, by the file's
 * metadata, either the LoRA folding (lora_file_apply_file) or the SaRA adapter loader with its
 * own checks (pairs, dtypes, sorted unique indices inside the recorded shapes, finite deltas)
 * followed by the shape check against a small fixed base model and the merge. */
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/status.h"
#include "core/safetensors.h"
#include "fuzz.h"
#include "peft/adapter.h"
#include "peft/lora_file.h"

sara_status fuzz_adapter_base(void *out)
{
    param_table *p = out;
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } tensors[] = {{"conv.weight", 4, {4, 2, 3, 3}}, {"conv.bias", 1, {4}}, {"proj.weight", 2, {6, 4}},
                   {"proj.bias", 1, {6}}};
    params_init(p);
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
        SARA_TRY(params_add(p, tensors[i].name, tensors[i].ndim, tensors[i].shape, NULL));
    SARA_TRY(params_alloc(p));
    for (size_t i = 0; i < p->numel; i++) /* small distinct values, some exactly zero */
        p->data[i] = (float)((int)(i * 7 % 23) - 11) / 64.0f;
    return SARA_OK;
}

static sara_status apply_sara(param_table *p, const st_file *f)
{
    sara_adapter a;
    SARA_TRY(adapter_load_file(&a, f));
    sara_adapter *list[1] = {&a};
    double alpha[1] = {0.5};
    sara_status s = adapter_check(&a, p, "", 1); /* shapes only */
    /* Against a base of another hash the check must refuse, whatever the file claims. */
    if (s == SARA_OK && adapter_check(&a, p, "another-base", 0) == SARA_OK && strcmp(a.base_sha256, "another-base"))
        abort();
    if (s == SARA_OK)
        s = adapter_apply(p, list, alpha, 1, 1);
    adapter_free(&a);
    return s;
}

sara_status fuzz_adapter(const uint8_t *data, size_t size)
{
    param_table p;
    sara_status s = fuzz_adapter_base(&p);
    st_file *f = NULL;
    if (s == SARA_OK)
        s = safetensors_open_memory(data, size, FUZZ_NAME_ADAPTER, &f);
    if (s == SARA_OK)
        s = lora_file_is(f) ? lora_file_apply_file(&p, f, 1.0, NULL) : apply_sara(&p, f);
    safetensors_close(f);
    params_free(&p);
    return s;
}

FUZZ_ENTRY(fuzz_adapter, FUZZ_NAME_ADAPTER)
