/* safetensors.h — strict reader (mmap) and atomic writer of the safetensors format.
 * Reader validation: header length against the file size, valid JSON object, known dtype,
 * shape entries non-negative with no overflow in numel·itemsize, data_offsets inside the data
 * area, byte count = numel × dtype size, no two tensors overlapping, `__metadata__` a
 * string→string map (kept). Every failure names the file (and tensor) in sara_last_error(). */
#ifndef SARA_CORE_SAFETENSORS_H
#define SARA_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sara/sara.h"

#define ST_MAX_DIMS 8

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end;   /* byte offsets within the data area */
} st_tensor;

typedef struct {
    char *path;
    void *map;             /* the whole file, mmapped read-only (or a malloc'd copy when `copied`) */
    size_t size;
    int copied;            /* 1: opened with safetensors_open_memory */
    const uint8_t *data;   /* start of the data area */
    size_t data_size;
    st_tensor *tensors;    /* (count), in header order */
    int count;
    char **meta_keys, **meta_values; /* (meta_count) */
    int meta_count;
} st_file;

const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

sara_status safetensors_open(const char *path, st_file **out);
/* The same reader over bytes in memory (copied; data may be freed after the call); `name` stands
 * for the path in messages. For fuzzing and for callers that already hold a file's bytes. */
sara_status safetensors_open_memory(const void *data, size_t size, const char *name, st_file **out);
void safetensors_close(st_file *f);
/* NULL if absent. */
const st_tensor *safetensors_find(const st_file *f, const char *name);
/* The value of a metadata key, or NULL. */
const char *safetensors_meta(const st_file *f, const char *key);
/* Converts F32/F16/BF16/F64 to float into dst (t->numel); integer dtypes are an error naming the tensor. */
sara_status safetensors_read_f32(const st_file *f, const st_tensor *t, float *dst);
/* Converts any integer dtype (and BOOL) to int64 into dst (t->numel); float dtypes are an error. */
sara_status safetensors_read_i64(const st_file *f, const st_tensor *t, int64_t *dst);

/* Prints a shape as "(a, b)" ("()" for a scalar), truncated to n bytes. */
void st_shape_string(char *buf, size_t n, int ndim, const int64_t *shape);
/* Exact conversions of one IEEE binary16 / bfloat16 value (subnormals, inf and NaN included). */
float st_half_to_float(uint16_t h);
float st_bf16_to_float(uint16_t b);

/* What `sara inspect FILE` shows: every tensor (name, dtype, shape, numel) sorted by name, the
 * total element count, and the metadata, as an aligned table on `out`. */
sara_status safetensors_describe(const char *path, FILE *out);

/* Writer: collect tensors (data pointers are borrowed until write) and metadata, then
 * write atomically (temp file, fsync, rename). Names are written in sorted order. */
typedef struct st_writer st_writer;
sara_status st_writer_create(st_writer **out);
sara_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
                          const void *data);
sara_status st_writer_meta(st_writer *w, const char *key, const char *value);
sara_status st_writer_write(st_writer *w, const char *path);
void st_writer_free(st_writer *w);

#endif
