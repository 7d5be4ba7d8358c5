/* adapter.c — SaRA adapter files: base hash, writer (with the exact-delta choice), strict
 * loader, merge, and the `sara inspect` description; see adapter.h for the format and the merge
 * rule. */
#include "peft/adapter.h"
#include "peft/lora_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* How far (in ulps) around fl(P − P0) the writer looks for a delta that merges back exactly. */
#define DELTA_SEARCH_ULPS 4
/* Tensors with at least this many entries need I64 indices. */
#define INDEX_I64_FROM ((int64_t)1 << 31)

/* ------------------------------------------------------------------------------------------ */
/* base hash */

static int entry_name_cmp(const void *a, const void *b)
{
    return strcmp((*(const param_entry *const *)a)->name, (*(const param_entry *const *)b)->name);
}

sara_status adapter_base_hash(const param_table *p, char hex[SHA256_HEX_CHARS])
{
    const param_entry **order = malloc(((size_t)p->count + 1) * sizeof *order); /* (count) */
    if (!order)
        return sara_fail(SARA_ERR_NOMEM, "out of memory hashing the base model");
    for (int i = 0; i < p->count; i++)
        order[i] = &p->entries[i];
    qsort(order, (size_t)p->count, sizeof *order, entry_name_cmp);
    sha256_ctx c;
    sha256_init(&c);
    for (int i = 0; i < p->count; i++) /* the host is little-endian (safetensors.c insists) */
        sha256_update(&c, p->data + order[i]->offset, (size_t)order[i]->numel * sizeof(float));
    free(order);
    uint8_t digest[SHA256_DIGEST_BYTES];
    sha256_final(&c, digest);
    sha256_hex(digest, hex);
    return SARA_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* writer */

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Does storing d give back p under the merge rule at α = 1? */
static int merges_back(float p0, float p, double d)
{
    return same_bits(adapter_merge_value(p0, adapter_accumulate(-0.0, 1.0, d)), p);
}

/* An fp32 delta that merges back exactly, searched around fl32(P − P0); 0 if none is near. */
static int choose_f32(float p0, float p, float *out)
{
    double exact = (double)p - (double)p0;
    float d = (float)exact, up = d, down = d;
    if (merges_back(p0, p, d) || (d == 0 && merges_back(p0, p, d = -d))) { /* the sign of a zero result */
        *out = d;
        return 1;
    }
    for (int k = 0; k < DELTA_SEARCH_ULPS; k++) {
        up = nextafterf(up, INFINITY);
        down = nextafterf(down, -INFINITY);
        if (merges_back(p0, p, up) || merges_back(p0, p, down)) {
            *out = merges_back(p0, p, up) ? up : down;
            return 1;
        }
    }
    return 0;
}

/* The F64 fallback: the exact difference (or a neighbour); 0 if even that cannot merge back. */
static int choose_f64(float p0, float p, double *out)
{
    double d = (double)p - (double)p0, up = d, down = d;
    float f;
    if (choose_f32(p0, p, &f)) {
        *out = f;
        return 1;
    }
    if (merges_back(p0, p, d) || (d == 0 && merges_back(p0, p, d = -d))) { /* the sign of a zero result */
        *out = d;
        return 1;
    }
    for (int k = 0; k < DELTA_SEARCH_ULPS; k++) {
        up = nextafter(up, INFINITY);
        down = nextafter(down, -INFINITY);
        if (merges_back(p0, p, up) || merges_back(p0, p, down)) {
            *out = merges_back(p0, p, up) ? up : down;
            return 1;
        }
    }
    *out = d;
    return 0;
}

/* Buffers of one adapted tensor, alive until the writer has written. */
typedef struct {
    void *index;   /* int32 (nnz) copy, or NULL when the int64 indices are written directly */
    void *delta;   /* float or double (nnz) */
} write_bufs;

/* Adds <name>.sara_index and <name>.sara_delta of tensor i; counts entries not reproducible. */
static sara_status write_tensor(st_writer *w, const param_table *P, int i, const adapter_source *src, write_bufs *b,
                                int64_t *inexact)
{
    const param_entry *e = &P->entries[i];
    const float *p = params_ptr(P, i), *p0 = src->p0[i];
    const int64_t *idx = src->index[i];
    int64_t n = src->nnz[i];
    for (int64_t k = 0; k < n; k++) {
        if (idx[k] < 0 || idx[k] >= e->numel || (k && idx[k] <= idx[k - 1]))
            return sara_fail(SARA_ERR_INVALID, "adapter %s: mask index %lld is out of order or out of range", e->name,
                             (long long)idx[k]);
        if (!isfinite(p[idx[k]]))
            return sara_fail(SARA_ERR_NUMERIC, "adapter %s: entry %lld is not finite after training", e->name,
                             (long long)idx[k]);
    }
    char name[PARAM_NAME_MAX + 16];
    st_dtype index_dtype = e->numel >= INDEX_I64_FROM ? ST_I64 : ST_I32;
    const void *index_data = idx;
    if (index_dtype == ST_I32) {
        int32_t *i32 = malloc((size_t)n * sizeof *i32);
        if (!(b->index = i32))
            return sara_fail(SARA_ERR_NOMEM, "out of memory writing the adapter");
        for (int64_t k = 0; k < n; k++)
            i32[k] = (int32_t)idx[k];
        index_data = i32;
    }
    float *d32 = malloc((size_t)n * sizeof *d32);
    if (!(b->delta = d32))
        return sara_fail(SARA_ERR_NOMEM, "out of memory writing the adapter");
    st_dtype delta_dtype = ST_F32;
    for (int64_t k = 0; k < n && delta_dtype == ST_F32; k++)
        if (!choose_f32(p0[k], p[idx[k]], &d32[k]))
            delta_dtype = ST_F64;
    if (delta_dtype == ST_F64) {
        double *d64 = malloc((size_t)n * sizeof *d64);
        if (!d64)
            return sara_fail(SARA_ERR_NOMEM, "out of memory writing the adapter");
        free(b->delta);
        b->delta = d64;
        for (int64_t k = 0; k < n; k++)
            *inexact += !choose_f64(p0[k], p[idx[k]], &d64[k]);
    }
    snprintf(name, sizeof name, "%s" ADAPTER_INDEX_SUFFIX, e->name);
    SARA_TRY(st_writer_add(w, name, index_dtype, 1, &n, index_data));
    snprintf(name, sizeof name, "%s" ADAPTER_DELTA_SUFFIX, e->name);
    return st_writer_add(w, name, delta_dtype, 1, &n, b->delta);
}

static sara_status write_meta(st_writer *w, const adapter_source *src, const char *shapes, int64_t inexact)
{
    char buf[64];
    SARA_TRY(st_writer_meta(w, "format", ADAPTER_FORMAT));
    SARA_TRY(st_writer_meta(w, "version", ADAPTER_VERSION));
    SARA_TRY(st_writer_meta(w, "method", src->method));
    snprintf(buf, sizeof buf, "%.9g", src->threshold);
    SARA_TRY(st_writer_meta(w, "threshold", buf));
    snprintf(buf, sizeof buf, "%" PRId64, src->budget);
    SARA_TRY(st_writer_meta(w, "budget", buf));
    SARA_TRY(st_writer_meta(w, "base_sha256", src->base_sha256));
    snprintf(buf, sizeof buf, "%" PRId64, src->base_params);
    SARA_TRY(st_writer_meta(w, "base_params", buf));
    snprintf(buf, sizeof buf, "%" PRId64, src->steps);
    SARA_TRY(st_writer_meta(w, "steps", buf));
    SARA_TRY(st_writer_meta(w, "config", src->config_json ? src->config_json : "{}"));
    SARA_TRY(st_writer_meta(w, "shapes", shapes));
    if (inexact) {
        snprintf(buf, sizeof buf, "%" PRId64, inexact);
        SARA_TRY(st_writer_meta(w, "inexact_entries", buf));
    }
    return SARA_OK;
}

sara_status adapter_write(const char *path, const param_table *P, const adapter_source *src)
{
    st_writer *w = NULL;
    write_bufs *bufs = calloc((size_t)P->count + 1, sizeof *bufs); /* (count) */
    cJSON *shapes = cJSON_CreateObject();
    sara_status s = bufs && shapes ? st_writer_create(&w) : sara_fail(SARA_ERR_NOMEM, "out of memory writing %s", path);
    int64_t inexact = 0;
    for (int i = 0; s == SARA_OK && i < P->count; i++) {
        if (src->nnz[i] == 0)
            continue;
        s = write_tensor(w, P, i, src, &bufs[i], &inexact);
        double dims[PARAM_MAX_DIMS];
        for (int d = 0; d < P->entries[i].ndim; d++)
            dims[d] = (double)P->entries[i].shape[d];
        if (s == SARA_OK && !cJSON_AddItemToObject(shapes, P->entries[i].name,
                                                   cJSON_CreateDoubleArray(dims, P->entries[i].ndim)))
            s = sara_fail(SARA_ERR_NOMEM, "out of memory writing %s", path);
    }
    char *shapes_json = s == SARA_OK ? cJSON_PrintUnformatted(shapes) : NULL;
    if (s == SARA_OK && !shapes_json)
        s = sara_fail(SARA_ERR_NOMEM, "out of memory writing %s", path);
    if (s == SARA_OK)
        s = write_meta(w, src, shapes_json, inexact);
    if (s == SARA_OK)
        s = st_writer_write(w, path);
    if (s != SARA_OK)
        sara_error_prefix("%s", path);
    free(shapes_json);
    cJSON_Delete(shapes);
    st_writer_free(w);
    for (int i = 0; bufs && i < P->count; i++) {
        free(bufs[i].index);
        free(bufs[i].delta);
    }
    free(bufs);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* loader */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcmp(s + n - m, suffix);
}

static char *dup_meta(const st_file *f, const char *key)
{
    const char *v = safetensors_meta(f, key);
    return strdup(v ? v : "");
}

static sara_status meta_count(const st_file *f, const char *key, int64_t *out)
{
    const char *v = safetensors_meta(f, key);
    *out = 0;
    if (!v)
        return SARA_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v || x < 0)
        return sara_fail(SARA_ERR_FORMAT, "%s: metadata %s is not a count: '%s'", f->path, key, v);
    *out = x;
    return SARA_OK;
}

/* The recorded shape of tensor `name` from the shapes metadata. */
static sara_status tensor_shape(const st_file *f, const cJSON *shapes, adapter_tensor *t)
{
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(shapes, t->name);
    int nd = cJSON_IsArray(dims) ? cJSON_GetArraySize(dims) : -1;
    if (nd < 0 || nd > PARAM_MAX_DIMS)
        return sara_fail(SARA_ERR_FORMAT, "%s: metadata 'shapes' lacks a valid shape for %s", f->path, t->name);
    t->ndim = nd;
    t->numel = 1;
    for (int d = 0; d < nd; d++) {
        const cJSON *x = cJSON_GetArrayItem(dims, d);
        if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9e15 ||
            x->valuedouble != floor(x->valuedouble) ||
            __builtin_mul_overflow(t->numel, (int64_t)x->valuedouble, &t->numel))
            return sara_fail(SARA_ERR_FORMAT, "%s: metadata 'shapes' has an invalid dimension for %s", f->path,
                             t->name);
        t->shape[d] = (int64_t)x->valuedouble;
    }
    return SARA_OK;
}

/* Reads one index/delta pair into t (name and shape already set) and validates it. */
static sara_status load_pair(const st_file *f, const st_tensor *ti, const st_tensor *td, adapter_tensor *t)
{
    if (ti->dtype != ST_I32 && ti->dtype != ST_I64)
        return sara_fail(SARA_ERR_FORMAT, "%s: %s has dtype %s (expected I32 or I64)", f->path, ti->name,
                         st_dtype_name(ti->dtype));
    if (td->dtype != ST_F32 && td->dtype != ST_F64)
        return sara_fail(SARA_ERR_FORMAT, "%s: %s has dtype %s (expected F32 or F64)", f->path, td->name,
                         st_dtype_name(td->dtype));
    if (ti->ndim != 1 || td->ndim != 1)
        return sara_fail(SARA_ERR_FORMAT, "%s: %s and %s must be 1-D", f->path, ti->name, td->name);
    if (ti->numel != td->numel)
        return sara_fail(SARA_ERR_FORMAT, "%s: %s has %lld entries but %s has %lld", f->path, ti->name,
                         (long long)ti->numel, td->name, (long long)td->numel);
    t->index_dtype = ti->dtype;
    t->delta_dtype = td->dtype;
    t->nnz = ti->numel;
    t->index = malloc(((size_t)t->nnz + 1) * sizeof *t->index);
    t->delta = malloc(((size_t)t->nnz + 1) * sizeof *t->delta);
    if (!t->index || !t->delta)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory loading %s", f->path, t->name);
    SARA_TRY(safetensors_read_i64(f, ti, t->index));
    for (int64_t k = 0; k < t->nnz; k++) {
        if (t->index[k] < 0 || t->index[k] >= t->numel)
            return sara_fail(SARA_ERR_FORMAT, "%s: %s[%lld] = %lld is outside the tensor's %lld entries", f->path,
                             ti->name, (long long)k, (long long)t->index[k], (long long)t->numel);
        if (k && t->index[k] <= t->index[k - 1])
            return sara_fail(SARA_ERR_FORMAT, "%s: %s is not sorted and unique (entry %lld: %lld after %lld)", f->path,
                             ti->name, (long long)k, (long long)t->index[k], (long long)t->index[k - 1]);
    }
    const uint8_t *raw = f->data + td->begin; /* may be unaligned */
    for (int64_t k = 0; k < t->nnz; k++) {
        if (td->dtype == ST_F32) {
            float x;
            memcpy(&x, raw + 4 * k, sizeof x);
            t->delta[k] = x;
        } else
            memcpy(&t->delta[k], raw + 8 * k, sizeof(double));
        if (!isfinite(t->delta[k]))
            return sara_fail(SARA_ERR_FORMAT, "%s: %s[%lld] is not finite", f->path, td->name, (long long)k);
    }
    return SARA_OK;
}

static int tensor_name_cmp(const void *a, const void *b)
{
    return strcmp(((const adapter_tensor *)a)->name, ((const adapter_tensor *)b)->name);
}

static sara_status load_tensors(sara_adapter *a, const st_file *f, const cJSON *shapes)
{
    a->tensors = calloc((size_t)f->count + 1, sizeof *a->tensors);
    if (!a->tensors)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    char other[PARAM_NAME_MAX + 32];
    for (int i = 0; i < f->count; i++) {
        const st_tensor *x = &f->tensors[i];
        int is_index = ends_with(x->name, ADAPTER_INDEX_SUFFIX), is_delta = ends_with(x->name, ADAPTER_DELTA_SUFFIX);
        if (!is_index && !is_delta)
            return sara_fail(SARA_ERR_FORMAT, "%s: unexpected tensor %s (an adapter holds only <name>%s and <name>%s)",
                             f->path, x->name, ADAPTER_INDEX_SUFFIX, ADAPTER_DELTA_SUFFIX);
        size_t base_len = strlen(x->name) - strlen(is_index ? ADAPTER_INDEX_SUFFIX : ADAPTER_DELTA_SUFFIX);
        if (base_len >= PARAM_NAME_MAX)
            return sara_fail(SARA_ERR_FORMAT, "%s: tensor name %s is too long", f->path, x->name);
        snprintf(other, sizeof other, "%.*s%s", (int)base_len, x->name, is_index ? ADAPTER_DELTA_SUFFIX : ADAPTER_INDEX_SUFFIX);
        const st_tensor *y = safetensors_find(f, other);
        if (!y)
            return sara_fail(SARA_ERR_FORMAT, "%s: %s has no matching %s", f->path, x->name, other);
        if (is_delta)
            continue; /* loaded with its index */
        adapter_tensor *t = &a->tensors[a->count++];
        snprintf(t->name, sizeof t->name, "%.*s", (int)base_len, x->name);
        SARA_TRY(tensor_shape(f, shapes, t));
        SARA_TRY(load_pair(f, x, y, t));
        a->total_nnz += t->nnz;
    }
    qsort(a->tensors, (size_t)a->count, sizeof *a->tensors, tensor_name_cmp);
    return SARA_OK;
}

static sara_status load_from(sara_adapter *a, const st_file *f)
{
    const char *fmt = safetensors_meta(f, "format"), *version = safetensors_meta(f, "version");
    if (!fmt || strcmp(fmt, ADAPTER_FORMAT))
        return sara_fail(SARA_ERR_FORMAT, "%s: not a SaRA adapter (metadata format is '%s', expected '%s')", f->path,
                         fmt ? fmt : "(none)", ADAPTER_FORMAT);
    if (!version || strcmp(version, ADAPTER_VERSION))
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: adapter version '%s' (this build reads version %s)", f->path,
                         version ? version : "(none)", ADAPTER_VERSION);
    if (!safetensors_meta(f, "base_sha256") || !safetensors_meta(f, "shapes"))
        return sara_fail(SARA_ERR_FORMAT, "%s: adapter metadata lacks %s", f->path,
                         safetensors_meta(f, "base_sha256") ? "shapes" : "base_sha256");
    a->path = strdup(f->path);
    a->method = dup_meta(f, "method");
    a->version = dup_meta(f, "version");
    a->threshold = dup_meta(f, "threshold");
    a->budget = dup_meta(f, "budget");
    a->base_sha256 = dup_meta(f, "base_sha256");
    a->steps = dup_meta(f, "steps");
    a->config = dup_meta(f, "config");
    if (!a->path || !a->method || !a->version || !a->threshold || !a->budget || !a->base_sha256 || !a->steps ||
        !a->config)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    SARA_TRY(meta_count(f, "base_params", &a->base_params));
    SARA_TRY(meta_count(f, "inexact_entries", &a->inexact_entries));
    cJSON *shapes = cJSON_Parse(safetensors_meta(f, "shapes"));
    sara_status s = cJSON_IsObject(shapes) ? load_tensors(a, f, shapes)
                                           : sara_fail(SARA_ERR_FORMAT, "%s: metadata 'shapes' is not a JSON object",
                                                       f->path);
    cJSON_Delete(shapes);
    return s;
}

sara_status adapter_load(sara_adapter *a, const char *path)
{
    memset(a, 0, sizeof *a);
    st_file *f = NULL;
    SARA_TRY(safetensors_open(path, &f));
    sara_status s = load_from(a, f);
    safetensors_close(f);
    if (s != SARA_OK)
        adapter_free(a);
    return s;
}

void adapter_free(sara_adapter *a)
{
    for (int i = 0; a->tensors && i < a->count; i++) {
        free(a->tensors[i].index);
        free(a->tensors[i].delta);
    }
    free(a->tensors);
    free(a->path);
    free(a->method);
    free(a->version);
    free(a->threshold);
    free(a->budget);
    free(a->base_sha256);
    free(a->steps);
    free(a->config);
    memset(a, 0, sizeof *a);
}

int adapter_is_file(const st_file *f)
{
    const char *fmt = safetensors_meta(f, "format");
    return fmt && !strcmp(fmt, ADAPTER_FORMAT);
}

/* ------------------------------------------------------------------------------------------ */
/* check and merge */

sara_status adapter_check(const sara_adapter *a, const param_table *base, const char *base_hash, int force)
{
    for (int i = 0; i < a->count; i++) {
        const adapter_tensor *t = &a->tensors[i];
        int j = params_find(base, t->name);
        if (j < 0)
            return sara_fail(SARA_ERR_INVALID, "%s: tensor %s is not a parameter of the model", a->path, t->name);
        const param_entry *e = &base->entries[j];
        int same = e->ndim == t->ndim;
        for (int d = 0; same && d < e->ndim; d++)
            same = e->shape[d] == t->shape[d];
        if (!same) {
            char want[96], got[96];
            st_shape_string(want, sizeof want, e->ndim, e->shape);
            st_shape_string(got, sizeof got, t->ndim, t->shape);
            return sara_fail(SARA_ERR_SHAPE, "%s: tensor %s has shape %s in the adapter but %s in the model", a->path,
                             t->name, got, want);
        }
    }
    if (!force && strcmp(a->base_sha256, base_hash))
        return sara_fail(SARA_ERR_INVALID,
                         "%s: trained on a different base model (base_sha256 %.16s…, this model %.16s…); "
                         "use --force to apply it anyway",
                         a->path, a->base_sha256, base_hash);
    return SARA_OK;
}

/* Applies the adapters' entries of model tensor j: acc (numel) and touched (numel) are scratch. */
static void apply_tensor(param_table *p, int j, sara_adapter *const *a, const double *alpha, int n, double *acc,
                         uint8_t *touched)
{
    const param_entry *e = &p->entries[j];
    float *x = params_ptr(p, j);
    int any = 0;
    for (int q = 0; q < n; q++) {
        for (int i = 0; i < a[q]->count; i++) {
            const adapter_tensor *t = &a[q]->tensors[i];
            if (strcmp(t->name, e->name))
                continue;
            if (!any) {
                for (int64_t k = 0; k < e->numel; k++)
                    acc[k] = -0.0; /* see adapter.h: −0.0 keeps a −0.0 weight */
                memset(touched, 0, (size_t)e->numel);
                any = 1;
            }
            for (int64_t k = 0; k < t->nnz; k++) {
                acc[t->index[k]] = adapter_accumulate(acc[t->index[k]], alpha[q], t->delta[k]);
                touched[t->index[k]] = 1;
            }
        }
    }
    for (int64_t k = 0; any && k < e->numel; k++)
        if (touched[k])
            x[k] = adapter_merge_value(x[k], acc[k]);
}

sara_status adapter_apply(param_table *p, sara_adapter *const *a, const double *alpha, int n, int force)
{
    char hash[SHA256_HEX_CHARS] = "";
    if (!force)
        SARA_TRY(adapter_base_hash(p, hash));
    int64_t max_numel = 1;
    for (int q = 0; q < n; q++) {
        SARA_TRY(adapter_check(a[q], p, hash, force));
        if (!isfinite(alpha[q]))
            return sara_fail(SARA_ERR_INVALID, "%s: scale %g is not finite", a[q]->path, alpha[q]);
    }
    for (int j = 0; j < p->count; j++)
        max_numel = p->entries[j].numel > max_numel ? p->entries[j].numel : max_numel;
    double *acc = malloc((size_t)max_numel * sizeof *acc);  /* (numel of the largest tensor) */
    uint8_t *touched = malloc((size_t)max_numel);           /* (numel of the largest tensor) */
    if (!acc || !touched) {
        free(acc);
        free(touched);
        return sara_fail(SARA_ERR_NOMEM, "out of memory applying adapters");
    }
    for (int j = 0; j < p->count; j++)
        apply_tensor(p, j, a, alpha, n, acc, touched);
    free(acc);
    free(touched);
    return SARA_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* describe and parse */

sara_status adapter_describe(const char *path, FILE *out)
{
    sara_adapter a;
    SARA_TRY(adapter_load(&a, path));
    int64_t adapted_numel = 0;
    int name_w = (int)strlen("tensor");
    for (int i = 0; i < a.count; i++) {
        adapted_numel += a.tensors[i].numel;
        int w = (int)strlen(a.tensors[i].name);
        name_w = w > name_w ? w : name_w;
    }
    fprintf(out, "SaRA adapter %s\n", path);
    fprintf(out, "  method       %s (format %s, version %s)\n", a.method, ADAPTER_FORMAT, a.version);
    fprintf(out, "  selection    threshold %s, budget %s%s\n", a.threshold, a.budget,
            strcmp(a.budget, "0") ? "" : " (threshold mode)");
    fprintf(out, "  steps        %s\n", a.steps);
    fprintf(out, "  base sha256  %s\n", a.base_sha256);
    fprintf(out, "  trainable    %lld entries in %d tensors: %.3f %% of those tensors", (long long)a.total_nnz, a.count,
            adapted_numel ? 100.0 * (double)a.total_nnz / (double)adapted_numel : 0.0);
    if (a.base_params > 0)
        fprintf(out, ", %.3f %% of the %lld base parameters", 100.0 * (double)a.total_nnz / (double)a.base_params,
                (long long)a.base_params);
    fprintf(out, "\n");
    if (a.inexact_entries)
        fprintf(out, "  inexact      %lld entries do not merge back bit-exactly\n", (long long)a.inexact_entries);
    fprintf(out, "\n%-*s  %10s  %10s  %8s  %-5s  %s\n", name_w, "tensor", "numel", "nnz", "density", "index", "delta");
    for (int i = 0; i < a.count; i++) {
        const adapter_tensor *t = &a.tensors[i];
        fprintf(out, "%-*s  %10lld  %10lld  %7.2f%%  %-5s  %s\n", name_w, t->name, (long long)t->numel,
                (long long)t->nnz, t->numel ? 100.0 * (double)t->nnz / (double)t->numel : 0.0,
                st_dtype_name(t->index_dtype), st_dtype_name(t->delta_dtype));
    }
    fprintf(out, "\ntraining config: %s\n", a.config[0] ? a.config : "(none)");
    adapter_free(&a);
    return SARA_OK;
}

sara_status adapter_parse_spec(const char *spec, char *path, size_t cap, double *alpha)
{
    const char *colon = strrchr(spec, ':');
    size_t len = strlen(spec);
    *alpha = 1.0;
    if (colon && colon[1]) {
        char *end;
        errno = 0;
        double x = strtod(colon + 1, &end);
        if (!errno && !*end && isfinite(x)) {
            *alpha = x;
            len = (size_t)(colon - spec);
        }
    }
    if (len == 0 || len >= cap)
        return sara_fail(SARA_ERR_INVALID, "adapter '%s': expected PATH or PATH:SCALE", spec);
    memcpy(path, spec, len);
    path[len] = '\0';
    return SARA_OK;
}

sara_status adapter_apply_specs(param_table *p, const char *const *specs, int n, int force)
{
    if (n <= 0)
        return SARA_OK;
    sara_adapter *list = calloc((size_t)n, sizeof *list);   /* (n) */
    sara_adapter **ptrs = calloc((size_t)n, sizeof *ptrs);  /* (n) */
    double *alpha = calloc((size_t)n, sizeof *alpha);       /* (n) */
    sara_status s = list && ptrs && alpha ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "out of memory loading adapters");
    char path[4096];
    int loaded = 0;
    /* SaRA files are merged in one exact pass first (their hash check sees the untouched base);
     * LoRA files are then folded in one by one, checked against the base's hash taken before. */
    char base_hash[SHA256_HEX_CHARS];
    int *lora = calloc((size_t)n, sizeof *lora);            /* (n) 1: spec q is a LoRA file */
    double *lora_alpha = calloc((size_t)n, sizeof *lora_alpha); /* (n) */
    if (s == SARA_OK && (!lora || !lora_alpha))
        s = sara_fail(SARA_ERR_NOMEM, "out of memory loading adapters");
    if (s == SARA_OK)
        s = adapter_base_hash(p, base_hash);
    for (int q = 0; s == SARA_OK && q < n; q++) {
        double a = 0;
        s = adapter_parse_spec(specs[q], path, sizeof path, &a);
        st_file *f = NULL;
        lora[q] = s == SARA_OK && safetensors_open(path, &f) == SARA_OK && lora_file_is(f);
        safetensors_close(f);
        if (s != SARA_OK || lora[q]) {
            lora_alpha[q] = a;
            continue;
        }
        alpha[loaded] = a;
        s = adapter_load(&list[loaded], path);
        if (s == SARA_OK) {
            ptrs[loaded] = &list[loaded];
            loaded++;
        }
    }
    if (s == SARA_OK && loaded)
        s = adapter_apply(p, ptrs, alpha, loaded, force);
    for (int q = 0; s == SARA_OK && q < n; q++)
        if (lora[q] && (s = adapter_parse_spec(specs[q], path, sizeof path, &lora_alpha[q])) == SARA_OK)
            s = lora_file_apply(p, path, lora_alpha[q], force ? NULL : base_hash);
    free(lora);
    free(lora_alpha);
    for (int q = 0; q < loaded; q++)
        adapter_free(&list[q]);
    free(list);
    free(ptrs);
    free(alpha);
    return s;
}
