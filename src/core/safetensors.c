/* safetensors.c — owns the safetensors format: the strict mmap reader (header validation,
 * dtype conversion to float / int64) and the atomic writer. The file is untrusted input: every
 * length, offset and shape is checked before it is used, and nothing is read outside the map.
 * Layout: u64 little-endian header length N, N bytes of JSON (space-padded), then the data area.
 * See safetensors.h for the interface. */
#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/status.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader copies it as-is and needs a little-endian host"
#endif

/* The 8-byte little-endian header length that starts every file. */
#define ST_PREFIX 8
/* Real headers are kilobytes; a larger claim is a corrupt or hostile file, not a model. */
#define ST_HEADER_CAP ((uint64_t)100 * 1000 * 1000)
/* The writer pads the header so the data area starts 8-byte aligned in the file. */
#define ST_HEADER_ALIGN 8
/* Shape entries and offsets arrive as JSON doubles; anything at or above 2^63 cannot be an int64. */
#define ST_INT_LIMIT 9223372036854775808.0
#define ST_META_KEY "__metadata__"

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2},  [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};
#define ST_NUM_DTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

/* Valid safetensors dtypes that this version does not convert: reported as unsupported, not malformed. */
static const char *const st_unsupported_dtypes[] = {"F8_E4M3", "F8_E5M2", "U16", "U32", "U64", "C64", "F8_E8M0",
                                                    "F4", "F6_E2M3", "F6_E3M2"};

const char *st_dtype_name(st_dtype d)
{
    return (d >= 0 && (int)d < ST_NUM_DTYPES) ? st_dtypes[d].name : "?";
}

size_t st_dtype_size(st_dtype d)
{
    return (d >= 0 && (int)d < ST_NUM_DTYPES) ? st_dtypes[d].size : 0;
}

void st_shape_string(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, ")");
}

/* ---------------------------------------------------------------- reader: header parsing */

static sara_status st_parse_dtype(const char *path, const char *name, const cJSON *j, st_dtype *out)
{
    if (!cJSON_IsString(j))
        return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: dtype missing or not a string", path, name);
    for (int d = 0; d < ST_NUM_DTYPES; d++)
        if (!strcmp(j->valuestring, st_dtypes[d].name)) {
            *out = (st_dtype)d;
            return SARA_OK;
        }
    for (size_t i = 0; i < sizeof st_unsupported_dtypes / sizeof st_unsupported_dtypes[0]; i++)
        if (!strcmp(j->valuestring, st_unsupported_dtypes[i]))
            return sara_fail(SARA_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s is not supported by this version",
                             path, name, j->valuestring);
    return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: unknown dtype %s", path, name, j->valuestring);
}

/* A JSON number that is a non-negative integer below 2^63 (shapes and offsets). */
static int st_json_to_u63(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0 && d < ST_INT_LIMIT) || d != floor(d))
        return 0;
    *out = (int64_t)d;
    return 1;
}

static sara_status st_parse_shape(const char *path, st_tensor *t, const cJSON *j)
{
    if (!cJSON_IsArray(j))
        return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: shape missing or not a list", path, t->name);
    int ndim = cJSON_GetArraySize(j);
    if (ndim > ST_MAX_DIMS)
        return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: %d dimensions (at most %d supported)", path, t->name,
                         ndim, ST_MAX_DIMS);
    t->ndim = ndim;
    t->numel = 1;
    int i = 0;
    for (const cJSON *e = j->child; e; e = e->next, i++) {
        if (!st_json_to_u63(e, &t->shape[i]))
            return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: shape entry %d is not a non-negative integer", path,
                             t->name, i);
        if (__builtin_mul_overflow(t->numel, t->shape[i], &t->numel))
            return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: shape overflows (element count too large)", path,
                             t->name);
    }
    return SARA_OK;
}

static sara_status st_parse_offsets(const char *path, st_tensor *t, const cJSON *j, size_t data_size)
{
    int64_t b, e, bytes;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !st_json_to_u63(j->child, &b) ||
        !st_json_to_u63(j->child->next, &e))
        return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: data_offsets must be [begin, end] non-negative integers",
                         path, t->name);
    if (b > e || (uint64_t)e > data_size)
        return sara_fail(SARA_ERR_FORMAT,
                         "%s: tensor %s: data_offsets [%lld, %lld] outside the data area (%zu bytes)", path,
                         t->name, (long long)b, (long long)e, data_size);
    if (__builtin_mul_overflow(t->numel, (int64_t)st_dtype_size(t->dtype), &bytes))
        return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: shape overflows (byte count too large)", path, t->name);
    if (bytes != e - b)
        return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: data_offsets hold %lld bytes but shape × %s needs %lld",
                         path, t->name, (long long)(e - b), st_dtype_name(t->dtype), (long long)bytes);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    return SARA_OK;
}

static sara_status st_parse_tensor(st_file *f, const cJSON *j, st_tensor *t)
{
    t->name = strdup(j->string);
    if (!t->name)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    if (!cJSON_IsObject(j))
        return sara_fail(SARA_ERR_FORMAT, "%s: tensor %s: entry is not a JSON object", f->path, t->name);
    SARA_TRY(st_parse_dtype(f->path, t->name, cJSON_GetObjectItemCaseSensitive(j, "dtype"), &t->dtype));
    SARA_TRY(st_parse_shape(f->path, t, cJSON_GetObjectItemCaseSensitive(j, "shape")));
    return st_parse_offsets(f->path, t, cJSON_GetObjectItemCaseSensitive(j, "data_offsets"), f->data_size);
}

static int st_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps duplicate keys; sorting finds them in n·log n even in a hostile 100 MB header. */
static sara_status st_check_meta_keys(st_file *f)
{
    if (f->meta_count < 2)
        return SARA_OK;
    char **keys = malloc((size_t)f->meta_count * sizeof *keys);
    if (!keys)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    memcpy(keys, f->meta_keys, (size_t)f->meta_count * sizeof *keys);
    qsort(keys, (size_t)f->meta_count, sizeof *keys, st_cmp_str);
    sara_status s = SARA_OK;
    for (int i = 1; i < f->meta_count && s == SARA_OK; i++)
        if (!strcmp(keys[i - 1], keys[i]))
            s = sara_fail(SARA_ERR_FORMAT, "%s: %s: duplicate key %s", f->path, ST_META_KEY, keys[i]);
    free(keys);
    return s;
}

static sara_status st_parse_meta(st_file *f, const cJSON *j)
{
    if (!cJSON_IsObject(j))
        return sara_fail(SARA_ERR_FORMAT, "%s: %s is not a JSON object", f->path, ST_META_KEY);
    int n = cJSON_GetArraySize(j);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    for (const cJSON *e = j->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return sara_fail(SARA_ERR_FORMAT, "%s: %s: value of key %s is not a string", f->path, ST_META_KEY,
                             e->string);
        f->meta_keys[f->meta_count] = strdup(e->string);
        f->meta_values[f->meta_count] = strdup(e->valuestring);
        f->meta_count++;
        if (!f->meta_keys[f->meta_count - 1] || !f->meta_values[f->meta_count - 1])
            return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    }
    return st_check_meta_keys(f);
}

static int st_cmp_name(const void *a, const void *b)
{
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static int st_cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Rejects two tensors with the same name (cJSON keeps duplicate keys) and any two non-empty
 * byte ranges that share a byte (an empty tensor owns no bytes, so it overlaps nothing). */
static sara_status st_check_names_and_overlap(st_file *f)
{
    if (f->count < 2)
        return SARA_OK;
    const st_tensor **order = malloc((size_t)f->count * sizeof *order);
    if (!order)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    sara_status s = SARA_OK;
    for (int i = 0; i < f->count; i++)
        order[i] = &f->tensors[i];
    qsort(order, (size_t)f->count, sizeof *order, st_cmp_name);
    for (int i = 1; i < f->count && s == SARA_OK; i++)
        if (!strcmp(order[i - 1]->name, order[i]->name))
            s = sara_fail(SARA_ERR_FORMAT, "%s: duplicate tensor name %s", f->path, order[i]->name);
    qsort(order, (size_t)f->count, sizeof *order, st_cmp_begin);
    const st_tensor *prev = NULL; /* the non-empty tensor that ends last so far */
    for (int i = 0; i < f->count && s == SARA_OK; i++) {
        if (order[i]->begin == order[i]->end)
            continue;
        if (prev && order[i]->begin < prev->end)
            s = sara_fail(SARA_ERR_FORMAT, "%s: tensors %s and %s overlap in the data area", f->path, prev->name,
                          order[i]->name);
        if (!prev || order[i]->end > prev->end)
            prev = order[i];
    }
    free(order);
    return s;
}

static sara_status st_parse_header(st_file *f, const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return sara_fail(SARA_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    int n = cJSON_GetArraySize(root);
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    if (!f->tensors)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", f->path);
    int have_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, ST_META_KEY)) {
            if (have_meta++)
                return sara_fail(SARA_ERR_FORMAT, "%s: duplicate %s", f->path, ST_META_KEY);
            SARA_TRY(st_parse_meta(f, e));
            continue;
        }
        SARA_TRY(st_parse_tensor(f, e, &f->tensors[f->count++]));
    }
    return st_check_names_and_overlap(f);
}

static int st_is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Raw control bytes are never valid JSON text; NUL would also cut names short in C strings. */
static sara_status st_check_control_bytes(const char *path, const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 && !st_is_json_space(text[i]))
            return sara_fail(SARA_ERR_FORMAT, "%s: header contains control byte 0x%02x at byte %zu", path,
                             (unsigned char)text[i], i);
    return SARA_OK;
}

/* Parses exactly header_len bytes: cJSON needs a terminated buffer, so the header is copied. */
static sara_status st_read_header(st_file *f, uint64_t header_len)
{
    char *text = malloc((size_t)header_len + 1);
    if (!text)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory for a %llu-byte header", f->path,
                         (unsigned long long)header_len);
    memcpy(text, (const uint8_t *)f->map + ST_PREFIX, (size_t)header_len);
    text[header_len] = '\0';
    sara_status s = st_check_control_bytes(f->path, text, (size_t)header_len);
    if (s != SARA_OK) {
        free(text);
        return s;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)header_len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0;
        s = sara_fail(SARA_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu)", f->path, at);
    } else {
        for (const char *p = end; p < text + header_len && s == SARA_OK; p++)
            if (!st_is_json_space(*p))
                s = sara_fail(SARA_ERR_FORMAT, "%s: unexpected bytes after the header JSON (byte %zu)", f->path,
                              (size_t)(p - text));
        if (s == SARA_OK)
            s = st_parse_header(f, root);
    }
    cJSON_Delete(root);
    free(text);
    return s;
}

static sara_status st_map_file(st_file *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sara_fail(SARA_ERR_IO, "%s: cannot open: %s", f->path, strerror(errno));
    struct stat sb;
    sara_status s = SARA_OK;
    if (fstat(fd, &sb) != 0)
        s = sara_fail(SARA_ERR_IO, "%s: cannot stat: %s", f->path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        s = sara_fail(SARA_ERR_IO, "%s: not a regular file", f->path);
    else if (sb.st_size < ST_PREFIX) /* also keeps mmap away from size 0, which it rejects */
        s = sara_fail(SARA_ERR_FORMAT, "%s: file is %lld bytes, too short for a safetensors header", f->path,
                      (long long)sb.st_size);
    if (s == SARA_OK) {
        f->size = (size_t)sb.st_size;
        f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) {
            f->map = NULL;
            s = sara_fail(SARA_ERR_IO, "%s: cannot mmap: %s", f->path, strerror(errno));
        }
    }
    close(fd);
    return s;
}

/* Parses the mapped (or copied) bytes f->map (f->size of them). */
static sara_status st_parse(st_file *f)
{
    uint64_t header_len = 0;
    const uint8_t *p = f->map;
    for (int i = 0; i < ST_PREFIX; i++)
        header_len |= (uint64_t)p[i] << (8 * i);
    if (header_len > f->size - ST_PREFIX)
        return sara_fail(SARA_ERR_FORMAT, "%s: header length %llu exceeds the file size (%zu bytes)", f->path,
                         (unsigned long long)header_len, f->size);
    if (header_len > ST_HEADER_CAP)
        return sara_fail(SARA_ERR_FORMAT, "%s: header length %llu exceeds the %llu-byte limit", f->path,
                         (unsigned long long)header_len, (unsigned long long)ST_HEADER_CAP);
    f->data = p + ST_PREFIX + header_len;
    f->data_size = f->size - ST_PREFIX - (size_t)header_len;
    return st_read_header(f, header_len);
}

static sara_status st_new(const char *path, st_file **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)->path = strdup(path))) {
        free(*out);
        *out = NULL;
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    }
    return SARA_OK;
}

sara_status safetensors_open(const char *path, st_file **out)
{
    *out = NULL;
    st_file *f;
    SARA_TRY(st_new(path, &f));
    sara_status s = st_map_file(f);
    if (s == SARA_OK)
        s = st_parse(f);
    if (s != SARA_OK) {
        safetensors_close(f);
        return s;
    }
    *out = f;
    return SARA_OK;
}

sara_status safetensors_open_memory(const void *data, size_t size, const char *name, st_file **out)
{
    *out = NULL;
    st_file *f;
    SARA_TRY(st_new(name, &f));
    sara_status s = SARA_OK;
    if (size < ST_PREFIX)
        s = sara_fail(SARA_ERR_FORMAT, "%s: file is %zu bytes, too short for a safetensors header", name, size);
    else if (!(f->map = malloc(size)))
        s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory for %zu bytes", name, size);
    if (s == SARA_OK) {
        memcpy(f->map, data, size);
        f->size = size;
        f->copied = 1;
        s = st_parse(f);
    }
    if (s != SARA_OK) {
        safetensors_close(f);
        return s;
    }
    *out = f;
    return SARA_OK;
}

void safetensors_close(st_file *f)
{
    if (!f)
        return;
    if (f->map && f->copied)
        free(f->map);
    else if (f->map)
        munmap(f->map, f->size);
    for (int i = 0; i < f->count; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->path);
    free(f);
}

const st_tensor *safetensors_find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const char *safetensors_meta(const st_file *f, const char *key)
{
    for (int i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta_keys[i], key))
            return f->meta_values[i];
    return NULL;
}

/* ---------------------------------------------------------------- reader: conversion */

static float st_bits_to_float(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* IEEE binary16 → binary32, exact for every input (subnormals become normal floats; NaN payloads kept). */
float st_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    if (exp == 0x1F) /* inf or NaN: all-ones float exponent, mantissa moved to the top */
        return st_bits_to_float(sign | 0x7F800000u | (mant << 13));
    if (exp == 0) {
        if (mant == 0)
            return st_bits_to_float(sign);
        /* Subnormal mant·2^-24: shift the leading 1 up to the implicit bit, lowering the exponent. */
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while (!(mant & 0x400));
        return st_bits_to_float(sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3FF) << 13));
    }
    return st_bits_to_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

/* bfloat16 is the top half of a binary32. */
float st_bf16_to_float(uint16_t b) { return st_bits_to_float((uint32_t)b << 16); }

/* double → float with IEEE round-to-nearest, spelled out for out-of-range values (a C cast of
 * those is undefined): above FLT_MAX + ½ulp the result is ±inf, below it ±FLT_MAX. */
static float st_double_to_float(double d)
{
    const double overflow_at = 0x1.ffffffp127; /* 2^128 − 2^103: halfway between FLT_MAX and 2^128 */
    if (isfinite(d) && fabs(d) > FLT_MAX)
        return fabs(d) >= overflow_at ? copysignf(INFINITY, (float)(d < 0 ? -1 : 1))
                                      : copysignf(FLT_MAX, (float)(d < 0 ? -1 : 1));
    return (float)d;
}

static int st_is_float(st_dtype d) { return d == ST_F32 || d == ST_F16 || d == ST_BF16 || d == ST_F64; }

sara_status safetensors_read_f32(const st_file *f, const st_tensor *t, float *dst)
{
    if (!st_is_float(t->dtype))
        return sara_fail(SARA_ERR_SHAPE, "%s: tensor %s: dtype %s is not a floating-point type", f->path, t->name,
                         st_dtype_name(t->dtype));
    const uint8_t *src = f->data + t->begin; /* may be unaligned: copy element by element */
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case ST_F32:
        if (n)
            memcpy(dst, src, n * sizeof(float));
        break;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, sizeof h);
            dst[i] = t->dtype == ST_F16 ? st_half_to_float(h) : st_bf16_to_float(h);
        }
        break;
    default: /* ST_F64 */
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, sizeof d);
            dst[i] = st_double_to_float(d);
        }
        break;
    }
    return SARA_OK;
}

sara_status safetensors_read_i64(const st_file *f, const st_tensor *t, int64_t *dst)
{
    if (st_is_float(t->dtype))
        return sara_fail(SARA_ERR_SHAPE, "%s: tensor %s: dtype %s is not an integer type", f->path, t->name,
                         st_dtype_name(t->dtype));
    const uint8_t *src = f->data + t->begin;
    size_t n = (size_t)t->numel;
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case ST_I64: memcpy(&dst[i], src + 8 * i, 8); break;
        case ST_I32: { int32_t v; memcpy(&v, src + 4 * i, 4); dst[i] = v; break; }
        case ST_I16: { int16_t v; memcpy(&v, src + 2 * i, 2); dst[i] = v; break; }
        case ST_I8: dst[i] = (int8_t)src[i]; break;
        case ST_U8: dst[i] = src[i]; break;
        default: dst[i] = src[i] != 0; break; /* ST_BOOL */
        }
    }
    return SARA_OK;
}

/* ---------------------------------------------------------------- writer */

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t bytes;
    const void *data; /* borrowed until st_writer_write */
} st_wentry;

typedef struct {
    char *key, *value;
} st_wmeta;

struct st_writer {
    st_wentry *entries;
    int count, cap;
    st_wmeta *meta;
    int meta_count, meta_cap;
};

sara_status st_writer_create(st_writer **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "safetensors writer: out of memory");
}

void st_writer_free(st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->count; i++)
        free(w->entries[i].name);
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->entries);
    free(w->meta);
    free(w);
}

/* Grows an array of `size`-byte items to hold one more. */
static int st_grow(void **arr, int *cap, int count, size_t size)
{
    if (count < *cap)
        return 1;
    int ncap = *cap ? 2 * *cap : 16;
    void *p = realloc(*arr, (size_t)ncap * size);
    if (!p)
        return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

sara_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                          const void *data)
{
    if (!name || !*name || !strcmp(name, ST_META_KEY))
        return sara_fail(SARA_ERR_INVALID, "safetensors writer: invalid tensor name '%s'", name ? name : "");
    if ((int)dtype < 0 || (int)dtype >= ST_NUM_DTYPES)
        return sara_fail(SARA_ERR_INVALID, "safetensors writer: tensor %s: invalid dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return sara_fail(SARA_ERR_INVALID, "safetensors writer: tensor %s: %d dimensions (0 to %d allowed)", name,
                         ndim, ST_MAX_DIMS);
    for (int i = 0; i < w->count; i++)
        if (!strcmp(w->entries[i].name, name))
            return sara_fail(SARA_ERR_INVALID, "safetensors writer: duplicate tensor name %s", name);
    st_wentry e = {.dtype = dtype, .ndim = ndim, .data = data};
    int64_t numel = 1, bytes;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(numel, shape[i], &numel))
            return sara_fail(SARA_ERR_INVALID, "safetensors writer: tensor %s: invalid shape", name);
        e.shape[i] = shape[i];
    }
    if (__builtin_mul_overflow(numel, (int64_t)st_dtype_size(dtype), &bytes))
        return sara_fail(SARA_ERR_INVALID, "safetensors writer: tensor %s: shape too large", name);
    if (bytes && !data)
        return sara_fail(SARA_ERR_INVALID, "safetensors writer: tensor %s: no data", name);
    e.bytes = (size_t)bytes;
    if (!st_grow((void **)&w->entries, &w->cap, w->count, sizeof *w->entries) || !(e.name = strdup(name)))
        return sara_fail(SARA_ERR_NOMEM, "safetensors writer: out of memory");
    w->entries[w->count++] = e;
    return SARA_OK;
}

sara_status st_writer_meta(st_writer *w, const char *key, const char *value)
{
    if (!key || !*key || !value)
        return sara_fail(SARA_ERR_INVALID, "safetensors writer: metadata key must be non-empty with a value");
    for (int i = 0; i < w->meta_count; i++)
        if (!strcmp(w->meta[i].key, key))
            return sara_fail(SARA_ERR_INVALID, "safetensors writer: duplicate metadata key %s", key);
    st_wmeta m = {strdup(key), strdup(value)};
    if (!m.key || !m.value || !st_grow((void **)&w->meta, &w->meta_cap, w->meta_count, sizeof *w->meta)) {
        free(m.key);
        free(m.value);
        return sara_fail(SARA_ERR_NOMEM, "safetensors writer: out of memory");
    }
    w->meta[w->meta_count++] = m;
    return SARA_OK;
}

static int st_cmp_entry_name(const void *a, const void *b)
{
    return strcmp((*(const st_wentry *const *)a)->name, (*(const st_wentry *const *)b)->name);
}

/* An integer as a raw JSON number: cJSON's double printing would turn large values into 1e+16. */
static cJSON *st_json_int(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return cJSON_CreateRaw(buf);
}

/* Builds the header JSON for tensors in `order`; NULL when out of memory. */
static cJSON *st_build_header(const st_writer *w, st_wentry *const *order)
{
    cJSON *root = cJSON_CreateObject(), *meta = NULL;
    int ok = root != NULL;
    if (ok && w->meta_count) {
        ok = (meta = cJSON_AddObjectToObject(root, ST_META_KEY)) != NULL;
        for (int i = 0; ok && i < w->meta_count; i++)
            ok = cJSON_AddStringToObject(meta, w->meta[i].key, w->meta[i].value) != NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < w->count; i++) {
        const st_wentry *e = order[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name), *shape = NULL, *offs = NULL;
        ok = t && cJSON_AddStringToObject(t, "dtype", st_dtype_name(e->dtype)) &&
             (shape = cJSON_AddArrayToObject(t, "shape")) && (offs = cJSON_AddArrayToObject(t, "data_offsets"));
        for (int d = 0; ok && d < e->ndim; d++)
            ok = cJSON_AddItemToArray(shape, st_json_int(e->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, st_json_int((int64_t)offset)) &&
             cJSON_AddItemToArray(offs, st_json_int((int64_t)(offset + e->bytes)));
        offset += e->bytes;
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static sara_status st_write_file(const st_writer *w, st_wentry *const *order, const char *text,
                                 const char *path)
{
    size_t len = strlen(text), padded = (len + ST_HEADER_ALIGN - 1) / ST_HEADER_ALIGN * ST_HEADER_ALIGN;
    uint8_t prefix[ST_PREFIX];
    for (int i = 0; i < ST_PREFIX; i++)
        prefix[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    static const char spaces[ST_HEADER_ALIGN] = "        ";
    atomic_file af;
    SARA_TRY(atomic_file_open(&af, path));
    sara_status s = atomic_file_write(&af, prefix, sizeof prefix);
    if (s == SARA_OK)
        s = atomic_file_write(&af, text, len);
    if (s == SARA_OK)
        s = atomic_file_write(&af, spaces, padded - len);
    for (int i = 0; s == SARA_OK && i < w->count; i++)
        s = atomic_file_write(&af, order[i]->data, order[i]->bytes);
    if (s != SARA_OK) {
        atomic_file_abort(&af);
        return s;
    }
    return atomic_file_commit(&af);
}

sara_status st_writer_write(st_writer *w, const char *path)
{
    st_wentry **order = malloc(((size_t)w->count + 1) * sizeof *order);
    if (!order)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < w->count; i++)
        order[i] = &w->entries[i];
    qsort(order, (size_t)w->count, sizeof *order, st_cmp_entry_name);
    cJSON *root = st_build_header(w, order);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    sara_status s = text ? st_write_file(w, order, text, path) : sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    cJSON_free(text);
    cJSON_Delete(root);
    free(order);
    return s;
}
