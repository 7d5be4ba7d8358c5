/* fuzz_safetensors.c — the safetensors reader on arbitrary bytes: open (header length, JSON,
 * dtypes, shapes, offsets, overlap, metadata), then every accessor on what it accepted —
 * conversion of every tensor to float or int64, lookup by name, metadata lookup. */
#include <stdlib.h>

#include "core/safetensors.h"
#include "fuzz.h"

/* Reads every tensor through the converter its dtype takes; the reader promised the bytes exist. */
static sara_status read_all(const st_file *f)
{
    for (int i = 0; i < f->count; i++) {
        const st_tensor *t = &f->tensors[i];
        if (safetensors_find(f, t->name) != t)
            abort(); /* names are unique: find must return this very entry */
        int is_float = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64;
        size_t n = (size_t)t->numel + 1;
        void *buf = malloc(n * (is_float ? sizeof(float) : sizeof(int64_t)));
        if (!buf)
            return SARA_ERR_NOMEM;
        sara_status s = is_float ? safetensors_read_f32(f, t, buf) : safetensors_read_i64(f, t, buf);
        free(buf);
        if (s != SARA_OK)
            abort(); /* the matching converter never fails on an accepted tensor */
    }
    for (int i = 0; i < f->meta_count; i++)
        if (!safetensors_meta(f, f->meta_keys[i]))
            abort();
    return SARA_OK;
}

sara_status fuzz_safetensors(const uint8_t *data, size_t size)
{
    st_file *f = NULL;
    sara_status s = safetensors_open_memory(data, size, FUZZ_NAME_SAFETENSORS, &f);
    if (s == SARA_OK)
        s = read_all(f);
    safetensors_close(f);
    return s;
}

FUZZ_ENTRY(fuzz_safetensors, FUZZ_NAME_SAFETENSORS)
