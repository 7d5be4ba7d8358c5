/* params.h — the parameter arena: one float allocation for all of a model's parameters and a
 * table of (name, shape, offset) that uses the checkpoint's own names. Load, save, merge,
 * optimizer and adapter loops are flat loops over this table. The same table type also holds
 * gradients or optimizer moments (same layout, another arena). */
#ifndef SARA_CORE_PARAMS_H
#define SARA_CORE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/safetensors.h"
#include "sara/sara.h"

#define PARAM_NAME_MAX 160
#define PARAM_MAX_DIMS 4

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    int64_t numel;
    size_t offset;          /* in floats from the start of the arena */
} param_entry;

typedef struct {
    param_entry *entries;   /* (count), in registration order */
    int count, cap;
    float *data;            /* (numel), 64-byte aligned; NULL until params_alloc */
    size_t numel;
} param_table;

void params_init(param_table *t);
void params_free(param_table *t);
/* Registers a tensor before allocation; returns its index in *index. Duplicate names are an error. */
sara_status params_add(param_table *t, const char *name, int ndim, const int64_t *shape, int *index);
/* Allocates the arena (zeroed); every tensor starts at a 16-float boundary. */
sara_status params_alloc(param_table *t);
/* Another table with the same entries and its own zeroed arena (gradients, moments). */
sara_status params_clone_layout(param_table *dst, const param_table *src);
/* Index of name, or -1. */
int params_find(const param_table *t, const char *name);
static inline float *params_ptr(const param_table *t, int i) { return t->data + t->entries[i].offset; }

/* Fills every tensor from a safetensors file: each must be present with the same shape (any
 * float dtype). A missing tensor, a shape mismatch, or (unless allow_extra) a tensor in the
 * file that the table lacks is an error naming the file and tensor. */
sara_status params_load(param_table *t, const st_file *f, int allow_extra);
/* Adds every tensor as F32 to a writer (data borrowed from the arena). */
sara_status params_add_to_writer(const param_table *t, st_writer *w, const char *prefix);

#endif
