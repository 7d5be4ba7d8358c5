/* adapter.h — SaRA adapter files (SPEC.md §3): writing them from a training run, loading and
 * validating them, applying one or several to a base model, describing them for `sara inspect`,
 * and the base-model hash that ties an adapter to its base.
 *
 * File: safetensors; for each adapted parameter <name>: <name>.sara_index (I32, or I64 when the
 * tensor has ≥ 2³¹ entries; sorted, unique flat row-major indices of M0) and <name>.sara_delta
 * (P_trained − P0 at those indices). __metadata__: format = sara-adapter, version, method,
 * threshold, budget, base_sha256, steps, config (the training configuration JSON), and two
 * additions of ours: shapes (JSON {name: [dims]} of the adapted tensors, so a loader can check
 * them against the model) and base_params (the base model's parameter count, for density).
 *
 * Merge arithmetic, one definition for every caller: P = fl32(P0 + Σᵢ αᵢ·Δᵢ) with the sum formed in
 * double in adapter order, starting from −0.0 (the additive identity: P0 + (−0.0) is P0 even for
 * P0 = −0.0, and a stored Δ = ±0.0 can still pick the sign of a zero result), rounded to fp32
 * once. (An α = 0 application can turn a −0.0 weight into +0.0: equal in value.) Exactness at α = 1: the writer stores for every entry a delta Δ
 * with fl32(P0 + Δ) == P_trained bit for bit. fl32(P_trained − P0) usually is one; when rounding
 * breaks it, a neighbouring fp32 value (within a few ulps) is; when no fp32 value can be (a weight
 * trained to far below |P0|: P0 + Δ cannot land on P's finer grid), the tensor's delta is written
 * as F64 holding the exact difference P − P0 (exact in double whenever P and P0 are within 2²⁹ of
 * each other in magnitude). Entries that even F64 cannot reproduce (|P| below 2⁻²⁹·|P0|, or a +0.0
 * base weight that became −0.0, which no sum with +0.0 can give) are counted in the metadata key
 * inexact_entries (absent when 0). Readers accept F32 and F64 deltas. */
#ifndef SARA_PEFT_ADAPTER_H
#define SARA_PEFT_ADAPTER_H

#include <stdint.h>
#include <stdio.h>

#include "core/params.h"
#include "core/safetensors.h"
#include "core/sha256.h"

#define ADAPTER_FORMAT "sara-adapter"
#define ADAPTER_VERSION "1"
#define ADAPTER_INDEX_SUFFIX ".sara_index"
#define ADAPTER_DELTA_SUFFIX ".sara_delta"

/* SHA-256 over the fp32 bytes (little-endian) of every tensor of p, in name order (strcmp). */
sara_status adapter_base_hash(const param_table *p, char hex[SHA256_HEX_CHARS]);

/* The one merge rule: acc = −0.0, acc = adapter_accumulate(acc, αᵢ, Δᵢ) for each adapter, then
 * P = adapter_merge_value(P0, acc) = fl32(P0 + acc). */
static inline double adapter_accumulate(double acc, double alpha, double delta) { return acc + alpha * delta; }
static inline float adapter_merge_value(float p0, double acc) { return (float)((double)p0 + acc); }

/* What a training run hands to adapter_write. Per parameter i of the trained table: nnz[i]
 * selected entries at index[i] (sorted) with pretrained values p0[i]; nnz[i] = 0: not adapted. */
typedef struct {
    const char *method;         /* "sara", "selective" */
    double threshold;           /* θ used (for a budget: the θ it implied) */
    int64_t budget;             /* 0: threshold mode */
    int64_t steps;              /* optimizer steps trained */
    const char *base_sha256;    /* adapter_base_hash of the pretrained weights */
    int64_t base_params;        /* parameter count of the base */
    const char *config_json;    /* training configuration (NULL: "{}") */
    const int64_t *nnz;         /* (count) */
    const int64_t *const *index;/* (count) each (nnz[i]) */
    const float *const *p0;     /* (count) each (nnz[i]) */
} adapter_source;

/* Writes the adapter of `trained` (the model's parameters after training) atomically to path. */
sara_status adapter_write(const char *path, const param_table *trained, const adapter_source *src);

typedef struct {
    char name[PARAM_NAME_MAX];  /* the model parameter */
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    int64_t numel;
    int64_t nnz;
    int64_t *index;             /* (nnz) sorted, unique */
    double *delta;              /* (nnz) */
    st_dtype index_dtype, delta_dtype;
} adapter_tensor;

typedef struct {
    char *path;
    /* metadata (never NULL after a successful load; "" where the file lacks an optional key) */
    char *method, *version, *threshold, *budget, *base_sha256, *steps, *config;
    int64_t base_params, inexact_entries;
    adapter_tensor *tensors;    /* (count), sorted by name */
    int count;
    int64_t total_nnz;
} sara_adapter;

/* Loads and validates everything checkable without a model: format and version, tensor pairs,
 * dtypes, 1-D shapes, equal lengths, indices sorted, unique, and inside the recorded shape,
 * finite deltas. Every failure names the file and tensor. */
sara_status adapter_load(sara_adapter *a, const char *path);
void adapter_free(sara_adapter *a);

/* Checks that a fits the model `base`: every tensor exists with the recorded shape, and (unless
 * force) base_hash, adapter_base_hash of base, equals the adapter's base_sha256. */
sara_status adapter_check(const sara_adapter *a, const param_table *base, const char *base_hash, int force);

/* p ← fl32(p + Σᵢ alpha[i]·Δᵢ) for the n adapters (all checked first, against p's hash; nothing is
 * written if one fails). */
sara_status adapter_apply(param_table *p, sara_adapter *const *a, const double *alpha, int n, int force);

/* Loads the adapters named by specs ("PATH" or "PATH:SCALE", see adapter_parse_spec) and applies
 * them together to p (adapter_apply). */
sara_status adapter_apply_specs(param_table *p, const char *const *specs, int n, int force);

/* 1 if f's metadata says it is a SaRA adapter. */
int adapter_is_file(const st_file *f);

/* `sara inspect` of an adapter: method, threshold, budget, base hash, steps, nnz per tensor and in
 * total, density, and the training configuration. */
sara_status adapter_describe(const char *path, FILE *out);

/* "A" → (A, 1.0); "A:0.5" → (A, 0.5): the last ':' starts a scale if the rest is a finite number.
 * path receives at most cap bytes. */
sara_status adapter_parse_spec(const char *spec, char *path, size_t cap, double *alpha);

#endif
