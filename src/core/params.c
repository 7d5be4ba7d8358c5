/* params.c — owns the parameter arena: registration of (name, shape) entries, one aligned
 * allocation holding every tensor, lookup by name, and loading from / adding to safetensors.
 * Offsets are fixed at registration, so a table's layout depends only on the order of params_add
 * calls; clones (gradients, moments) share it exactly. See params.h. */
#include "core/params.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* Each tensor starts on a 16-float (64-byte) boundary: a cache line, and a full AVX-512 vector. */
#define PARAM_ALIGN_FLOATS 16
#define PARAM_ALIGN_BYTES (PARAM_ALIGN_FLOATS * sizeof(float))
/* Room for "(" + PARAM_MAX_DIMS 20-digit entries with ", " + ")". */
#define PARAM_SHAPE_STR 128

void params_init(param_table *t) { memset(t, 0, sizeof *t); }

void params_free(param_table *t)
{
    free(t->entries);
    free(t->data);
    params_init(t);
}

int params_find(const param_table *t, const char *name)
{
    for (int i = 0; i < t->count; i++)
        if (!strcmp(t->entries[i].name, name))
            return i;
    return -1;
}

sara_status params_add(param_table *t, const char *name, int ndim, const int64_t *shape, int *index)
{
    if (t->data)
        return sara_fail(SARA_ERR_INVALID, "parameter %s: added after the arena was allocated", name);
    size_t len = strlen(name);
    if (len == 0 || len >= PARAM_NAME_MAX)
        return sara_fail(SARA_ERR_INVALID, "parameter '%s': name must be 1 to %d bytes", name, PARAM_NAME_MAX - 1);
    if (ndim < 0 || ndim > PARAM_MAX_DIMS)
        return sara_fail(SARA_ERR_INVALID, "parameter %s: %d dimensions (0 to %d allowed)", name, ndim,
                         PARAM_MAX_DIMS);
    if (params_find(t, name) >= 0)
        return sara_fail(SARA_ERR_INVALID, "parameter %s: registered twice", name);
    param_entry e = {.ndim = ndim, .numel = 1};
    memcpy(e.name, name, len + 1);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(e.numel, shape[i], &e.numel))
            return sara_fail(SARA_ERR_INVALID, "parameter %s: invalid shape", name);
        e.shape[i] = shape[i];
    }
    e.offset = (t->numel + PARAM_ALIGN_FLOATS - 1) / PARAM_ALIGN_FLOATS * PARAM_ALIGN_FLOATS;
    size_t end;
    if (__builtin_add_overflow(e.offset, (size_t)e.numel, &end) || end > SIZE_MAX / sizeof(float) - PARAM_ALIGN_BYTES)
        return sara_fail(SARA_ERR_NOMEM, "parameter %s: arena size overflows", name);
    if (t->count == t->cap) {
        int ncap = t->cap ? 2 * t->cap : 64;
        param_entry *p = realloc(t->entries, (size_t)ncap * sizeof *p);
        if (!p)
            return sara_fail(SARA_ERR_NOMEM, "parameter %s: out of memory", name);
        t->entries = p;
        t->cap = ncap;
    }
    t->entries[t->count] = e;
    t->numel = end;
    if (index)
        *index = t->count;
    t->count++;
    return SARA_OK;
}

sara_status params_alloc(param_table *t)
{
    if (t->data)
        return sara_fail(SARA_ERR_INVALID, "parameter arena allocated twice");
    /* aligned_alloc needs a size that is a multiple of the alignment (and non-zero). */
    size_t floats = (t->numel + PARAM_ALIGN_FLOATS - 1) / PARAM_ALIGN_FLOATS * PARAM_ALIGN_FLOATS;
    size_t bytes = (floats ? floats : PARAM_ALIGN_FLOATS) * sizeof(float);
    t->data = aligned_alloc(PARAM_ALIGN_BYTES, bytes);
    if (!t->data)
        return sara_fail(SARA_ERR_NOMEM, "parameter arena: cannot allocate %zu bytes", bytes);
    memset(t->data, 0, bytes);
    return SARA_OK;
}

sara_status params_clone_layout(param_table *dst, const param_table *src)
{
    params_init(dst);
    if (src->count) {
        dst->entries = malloc((size_t)src->count * sizeof *dst->entries);
        if (!dst->entries)
            return sara_fail(SARA_ERR_NOMEM, "parameter table: out of memory");
        memcpy(dst->entries, src->entries, (size_t)src->count * sizeof *dst->entries);
    }
    dst->count = dst->cap = src->count;
    dst->numel = src->numel;
    sara_status s = params_alloc(dst);
    if (s != SARA_OK)
        params_free(dst);
    return s;
}

static int params_same_shape(const param_entry *e, const st_tensor *t)
{
    if (e->ndim != t->ndim)
        return 0;
    for (int i = 0; i < e->ndim; i++)
        if (e->shape[i] != t->shape[i])
            return 0;
    return 1;
}

/* Everything that can be wrong is found before the arena is touched, so a failed load leaves
 * the parameters as they were. */
static sara_status params_check_file(const param_table *t, const st_file *f, int allow_extra)
{
    for (int i = 0; i < t->count; i++) {
        const param_entry *e = &t->entries[i];
        const st_tensor *st = safetensors_find(f, e->name);
        if (!st)
            return sara_fail(SARA_ERR_MISSING, "%s: missing tensor %s", f->path, e->name);
        if (!params_same_shape(e, st)) {
            char have[PARAM_SHAPE_STR], want[PARAM_SHAPE_STR];
            st_shape_string(have, sizeof have, st->ndim, st->shape);
            st_shape_string(want, sizeof want, e->ndim, e->shape);
            return sara_fail(SARA_ERR_SHAPE, "%s: tensor %s: shape %s but the model needs %s", f->path, e->name,
                             have, want);
        }
        if (st->dtype != ST_F32 && st->dtype != ST_F16 && st->dtype != ST_BF16 && st->dtype != ST_F64)
            return sara_fail(SARA_ERR_SHAPE, "%s: tensor %s: dtype %s but the model needs a float type", f->path,
                             e->name, st_dtype_name(st->dtype));
    }
    if (!allow_extra)
        for (int i = 0; i < f->count; i++)
            if (params_find(t, f->tensors[i].name) < 0)
                return sara_fail(SARA_ERR_SHAPE, "%s: unexpected tensor %s (not a parameter of this model)",
                                 f->path, f->tensors[i].name);
    return SARA_OK;
}

sara_status params_load(param_table *t, const st_file *f, int allow_extra)
{
    if (!t->data)
        return sara_fail(SARA_ERR_INVALID, "%s: parameter arena not allocated before loading", f->path);
    SARA_TRY(params_check_file(t, f, allow_extra));
    for (int i = 0; i < t->count; i++)
        SARA_TRY(safetensors_read_f32(f, safetensors_find(f, t->entries[i].name), params_ptr(t, i)));
    return SARA_OK;
}

sara_status params_add_to_writer(const param_table *t, st_writer *w, const char *prefix)
{
    if (!t->data)
        return sara_fail(SARA_ERR_INVALID, "parameter arena not allocated before saving");
    size_t plen = prefix ? strlen(prefix) : 0;
    char name[PARAM_NAME_MAX * 2];
    if (plen >= sizeof name - PARAM_NAME_MAX)
        return sara_fail(SARA_ERR_INVALID, "tensor name prefix too long: %s", prefix);
    for (int i = 0; i < t->count; i++) {
        snprintf(name, sizeof name, "%s%s", plen ? prefix : "", t->entries[i].name);
        SARA_TRY(st_writer_add(w, name, ST_F32, t->entries[i].ndim, t->entries[i].shape, params_ptr(t, i)));
    }
    return SARA_OK;
}
