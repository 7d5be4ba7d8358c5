/* sara.c — the "sara" and "selective" methods: one implementation with a switch for the gradient
 * path (sparse sinks, or dense buffers masked afterwards). It owns the packed per-tensor state, the
 * packed AdamW step, the low-rank term, the progressive re-selection, checkpoint state and the
 * adapter export. Selection lives in mask.c, the SVD in lowrank.c, the file format in adapter.c.
 *
 * Memory per trainable entry (B = bytes): M0 index 8 B + P0 value 4 B (for the adapter delta),
 * packed gradient + two moments 12 B, and — when the progressive step is enabled — a reserved
 * index list for M1 of 8 B (reserved up front so that step(), which cannot fail, never
 * allocates); after the step the packed buffers shrink to |M1|. selective adds 4 B per entry of
 * every target tensor for its dense gradient. */
#include "peft/sara.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/sha256.h"
#include "core/status.h"
#include "ops/ops.h"
#include "peft/adapter.h"
#include "peft/lowrank.h"
#include "peft/mask.h"

#define LOWRANK_RNG_STREAM 0x10f4 /* rng stream of the low-rank tensor choice (mask: MASK_RNG_STREAM) */

/* Checkpoint names: tensors "<prefix><param name>", metadata keys "sara.<key>". */
#define CK_INDEX0 "sara.index0."
#define CK_P0 "sara.p0."
#define CK_INDEX "sara.index."
#define CK_M "sara.exp_avg."
#define CK_V "sara.exp_avg_sq."

typedef struct {
    int64_t n0, n;
    int64_t *idx0;  /* (n0) M0 */
    int64_t *idx1;  /* (n0 until the progressive step, then n) M1; NULL when the step is disabled */
    int64_t *idx;   /* the current mask: idx0, then idx1 */
    float *p0;      /* (n0) */
    float *g, *m, *v; /* (n) */
    float *dense;   /* selective: (numel) dense gradient of a target tensor; else NULL */
} packed_tensor;

typedef struct {
    method_options opt;
    int dense_grads;          /* selective */
    packed_tensor *t;         /* (params->count) */
    float threshold;          /* θ of the progressive step */
    int64_t progressive_iter; /* resolved; ≥ total_steps: never */
    int progressed;           /* the progressive step has happened */
    int64_t m0;               /* |M0| */
    int *eligible;            /* (n_eligible) parameter indices the low-rank term may pick */
    int n_eligible;
    sara_rng rng;             /* low-rank choice */
    double lowrank;           /* last λ·Σ‖P ⊙ M‖_* (NaN if its SVD failed) */
    int64_t lowrank_failures; /* SVDs that failed (the term is skipped that step) */
    int64_t steps_done;       /* last step number passed to step() */
    int gathered;             /* selective: the packed gradients hold the masked dense ones */
    char base_hash[SHA256_HEX_CHARS];
} sara_state;

static sara_state *st(const train_method *self) { return (sara_state *)self->state; }

int sara_method_is(const train_method *m)
{
    return m && m->name && (!strcmp(m->name, "sara") || !strcmp(m->name, "selective"));
}

void sara_method_view(const train_method *m, int i, sara_tensor_view *out)
{
    const packed_tensor *t = &st(m)->t[i];
    *out = (sara_tensor_view){t->n0, t->idx0, t->p0, t->n, t->idx, t->g, t->m, t->v};
}

float sara_method_threshold(const train_method *m) { return st(m)->threshold; }
int sara_method_progressed(const train_method *m) { return st(m)->progressed; }
const char *sara_method_base_hash(const train_method *m) { return st(m)->base_hash; }

/* Points the sinks at the current packed buffers (after creation, the progressive step, a load). */
static void sara_update_sinks(train_method *self)
{
    sara_state *s = st(self);
    for (int i = 0; i < self->params->count; i++) {
        packed_tensor *t = &s->t[i];
        if (t->dense)
            self->sinks[i] = (ops_sink){.kind = OPS_SINK_DENSE, .dense = t->dense};
        else if (t->n > 0)
            self->sinks[i] = (ops_sink){.kind = OPS_SINK_SPARSE, .index = t->idx, .values = t->g, .nnz = t->n};
        else
            self->sinks[i] = (ops_sink){.kind = OPS_SINK_NONE};
    }
}

/* ------------------------------------------------------------------------------------------ */
/* gradients */

static void sara_zero_grad(train_method *self)
{
    sara_state *s = st(self);
    for (int i = 0; i < self->params->count; i++) {
        packed_tensor *t = &s->t[i];
        if (t->n)
            memset(t->g, 0, (size_t)t->n * sizeof(float));
        if (t->dense)
            memset(t->dense, 0, (size_t)self->params->entries[i].numel * sizeof(float));
    }
    s->gathered = 0;
}

/* selective: the mask applied to the dense gradients, once per backward. */
static void sara_gather(train_method *self)
{
    sara_state *s = st(self);
    if (!s->dense_grads || s->gathered)
        return;
    for (int i = 0; i < self->params->count; i++) {
        packed_tensor *t = &s->t[i];
        for (int64_t k = 0; t->dense && k < t->n; k++)
            t->g[k] = t->dense[t->idx[k]];
    }
    s->gathered = 1;
}

static double sara_grad_sum_squares(train_method *self)
{
    sara_gather(self);
    double sum = 0;
    for (int i = 0; i < self->params->count; i++)
        sum += grad_sum_squares(st(self)->t[i].g, st(self)->t[i].n);
    return sum;
}

static void sara_scale_grad(train_method *self, float factor)
{
    sara_gather(self);
    for (int i = 0; i < self->params->count; i++) {
        packed_tensor *t = &st(self)->t[i];
        for (int64_t k = 0; k < t->n; k++)
            t->g[k] *= factor;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* low-rank term, progressive step, update */

/* The tensor viewed as a matrix: (out, in) for linear weights, (out, in·kh·kw) for conv kernels. */
static void matrix_view(const param_entry *e, int64_t *rows, int64_t *cols)
{
    *rows = e->shape[0];
    *cols = e->numel / (e->shape[0] ? e->shape[0] : 1);
}

static int lowrank_eligible(const param_entry *e, const method_options *o)
{
    if (!(e->ndim == 2 || (o->lowrank_conv && e->ndim == 4)))
        return 0;
    int64_t rows, cols;
    matrix_view(e, &rows, &cols);
    return (rows < cols ? rows : cols) > o->lowrank_min_dim;
}

/* Adds λ·(U Vᵀ)[M] of the chosen tensor(s) to the packed gradients; records λ·Σ‖P ⊙ M‖_*. */
static void sara_lowrank(train_method *self)
{
    OPS_PROF_SCOPE(OPS_PROF_LOWRANK);
    sara_state *s = st(self);
    if (!(s->opt.lambda_rank > 0) || s->n_eligible == 0)
        return;
    int first = 0, last = s->n_eligible;
    if (!s->opt.lowrank_all) {
        first = (int)rng_below(&s->rng, (uint64_t)s->n_eligible);
        last = first + 1;
    }
    double total = 0;
    for (int q = first; q < last; q++) {
        int i = s->eligible[q];
        packed_tensor *t = &s->t[i];
        if (t->n == 0)
            continue; /* every entry froze at the progressive step: P ⊙ M = 0 */
        int64_t rows, cols;
        double value = 0;
        matrix_view(&self->params->entries[i], &rows, &cols);
        if (lowrank_masked_term(params_ptr(self->params, i), rows, cols, t->idx, t->n, s->opt.lambda_rank, &value,
                                t->g) != SARA_OK) {
            s->lowrank_failures++;
            total = NAN;
            continue;
        }
        total += s->opt.lambda_rank * value;
    }
    s->lowrank = total;
}

/* M1 = M ∩ {|P| < θ}: survivors keep their moments, the rest keep their values and freeze.
 * Compaction is in place (survivors only move towards the front), into the reserved idx1. */
static void sara_progress(train_method *self)
{
    sara_state *s = st(self);
    for (int i = 0; i < self->params->count; i++) {
        packed_tensor *t = &s->t[i];
        if (t->n0 == 0)
            continue;
        const float *p = params_ptr(self->params, i);
        int64_t n1 = 0;
        for (int64_t k = 0; k < t->n; k++) {
            if (!(fabsf(p[t->idx[k]]) < s->threshold))
                continue;
            t->idx1[n1] = t->idx[k];
            t->m[n1] = t->m[k];
            t->v[n1] = t->v[k];
            n1++;
        }
        t->n = n1;
        t->idx = t->idx1;
        /* Shrink to |M1| (a failed shrink keeps the larger block). */
        void *q;
        size_t bytes = ((size_t)n1 + 1) * sizeof(float);
        if ((q = realloc(t->g, bytes)))
            t->g = q;
        if ((q = realloc(t->m, bytes)))
            t->m = q;
        if ((q = realloc(t->v, bytes)))
            t->v = q;
        if ((q = realloc(t->idx1, ((size_t)n1 + 1) * sizeof(int64_t))))
            t->idx = t->idx1 = q;
    }
    s->progressed = 1;
    sara_update_sinks(self);
}

static void sara_step(train_method *self, int64_t step, double lr)
{
    sara_state *s = st(self);
    sara_gather(self);
    sara_lowrank(self); /* after clipping: the loop has already scaled the gradients */
    for (int i = 0; i < self->params->count; i++) {
        packed_tensor *t = &s->t[i];
        if (t->n)
            adamw_update_indexed(params_ptr(self->params, i), t->idx, t->g, t->m, t->v, t->n, &s->opt.adamw, step, lr);
    }
    s->steps_done = step;
    if (!s->progressed && s->t && step == s->progressive_iter && s->progressive_iter < s->opt.total_steps)
        sara_progress(self);
}

/* ------------------------------------------------------------------------------------------ */
/* reporting */

static int64_t sara_trainable_count(const train_method *self)
{
    int64_t n = 0;
    for (int i = 0; i < self->params->count; i++)
        n += st(self)->t[i].n;
    return n;
}

static size_t sara_state_bytes(const train_method *self)
{
    const sara_state *s = st(self);
    size_t b = 0;
    for (int i = 0; i < self->params->count; i++) {
        const packed_tensor *t = &s->t[i];
        b += (size_t)t->n0 * (sizeof(int64_t) + sizeof(float));     /* idx0, p0 */
        b += (size_t)t->n * 3 * sizeof(float);                       /* g, m, v */
        if (t->idx1)                                                  /* M1 indices (reserved, then |M1|) */
            b += (size_t)(s->progressed ? t->n : t->n0) * sizeof(int64_t);
        if (t->dense)
            b += (size_t)self->params->entries[i].numel * sizeof(float);
    }
    return b;
}

static void sara_step_metrics(train_method *self, char *buf, size_t cap)
{
    sara_state *s = st(self);
    int n = snprintf(buf, cap, "\"m0\":%" PRId64 ",\"m1\":%" PRId64 ",\"lowrank\":", s->m0, sara_trainable_count(self));
    if (n > 0 && (size_t)n < cap) /* JSON has no NaN: a failed SVD logs null */
        snprintf(buf + n, cap - (size_t)n, isfinite(s->lowrank) ? "%.9g" : "null", s->lowrank);
}

static sara_status sara_export_adapter(train_method *self, const char *path, const char *config_json)
{
    sara_state *s = st(self);
    int count = self->params->count;
    int64_t *nnz = malloc((size_t)count * sizeof *nnz), base_params = 0;
    const int64_t **index = malloc((size_t)count * sizeof *index);
    const float **p0 = malloc((size_t)count * sizeof *p0);
    if (!nnz || !index || !p0) {
        free(nnz);
        free(index);
        free(p0);
        return sara_fail(SARA_ERR_NOMEM, "out of memory exporting the adapter");
    }
    for (int i = 0; i < count; i++) {
        nnz[i] = s->t[i].n0;
        index[i] = s->t[i].idx0;
        p0[i] = s->t[i].p0;
        base_params += self->params->entries[i].numel;
    }
    adapter_source src = {
        .method = self->name,
        .threshold = s->opt.budget > 0 ? (double)s->threshold : s->opt.threshold,
        .budget = s->opt.budget,
        .steps = s->steps_done,
        .base_sha256 = s->base_hash,
        .base_params = base_params,
        .config_json = config_json,
        .nnz = nnz,
        .index = index,
        .p0 = p0,
    };
    sara_status r = adapter_write(path, self->params, &src);
    free(nnz);
    free(index);
    free(p0);
    return r;
}

/* ------------------------------------------------------------------------------------------ */
/* checkpoint state */

static sara_status add_tensor(st_writer *w, const char *prefix, const char *name, st_dtype dt, int64_t n,
                              const void *data)
{
    char key[PARAM_NAME_MAX + 32];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    return st_writer_add(w, key, dt, 1, &n, data);
}

static sara_status add_meta(st_writer *w, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static sara_status add_meta(st_writer *w, const char *key, const char *fmt, ...)
{
    char value[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return st_writer_meta(w, key, value);
}

static sara_status sara_save_state(train_method *self, st_writer *w)
{
    sara_state *s = st(self);
    for (int i = 0; i < self->params->count; i++) {
        const packed_tensor *t = &s->t[i];
        const char *name = self->params->entries[i].name;
        if (t->n0 == 0)
            continue;
        SARA_TRY(add_tensor(w, CK_INDEX0, name, ST_I64, t->n0, t->idx0));
        SARA_TRY(add_tensor(w, CK_P0, name, ST_F32, t->n0, t->p0));
        if (s->progressed)
            SARA_TRY(add_tensor(w, CK_INDEX, name, ST_I64, t->n, t->idx));
        SARA_TRY(add_tensor(w, CK_M, name, ST_F32, t->n, t->m));
        SARA_TRY(add_tensor(w, CK_V, name, ST_F32, t->n, t->v));
    }
    uint32_t theta;
    memcpy(&theta, &s->threshold, sizeof theta);
    SARA_TRY(add_meta(w, "sara.base_sha256", "%s", s->base_hash));
    SARA_TRY(add_meta(w, "sara.progressed", "%d", s->progressed));
    SARA_TRY(add_meta(w, "sara.threshold_bits", "%08" PRIx32, theta));
    SARA_TRY(add_meta(w, "sara.lowrank", "%a", s->lowrank)); /* hexadecimal: exact */
    SARA_TRY(add_meta(w, "sara.lowrank_failures", "%" PRId64, s->lowrank_failures));
    SARA_TRY(add_meta(w, "sara.steps_done", "%" PRId64, s->steps_done));
    return add_meta(w, "sara.rng", "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s->rng.s[0], s->rng.s[1],
                    s->rng.s[2], s->rng.s[3]);
}

static sara_status meta_get(const st_file *f, const char *key, const char **out)
{
    if (!(*out = safetensors_meta(f, key)))
        return sara_fail(SARA_ERR_MISSING, "%s: checkpoint metadata lacks '%s' (not a %s checkpoint?)", f->path, key,
                         "sara/selective");
    return SARA_OK;
}

static int same_threshold(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Reads the scalar metadata of the checkpoint into s. */
static sara_status load_meta(sara_state *s, const st_file *f)
{
    const char *v;
    SARA_TRY(meta_get(f, "sara.base_sha256", &v));
    if (strcmp(v, s->base_hash))
        return sara_fail(SARA_ERR_INVALID, "%s: checkpoint was trained from another base model (sha256 %.16s…, this "
                         "base %.16s…)", f->path, v, s->base_hash);
    uint32_t theta;
    int ok = 1;
    const char *keys[] = {"sara.progressed", "sara.threshold_bits", "sara.lowrank", "sara.lowrank_failures",
                          "sara.steps_done", "sara.rng"};
    const char *val[6];
    for (int k = 0; k < 6; k++)
        SARA_TRY(meta_get(f, keys[k], &val[k]));
    char tail;
    ok &= sscanf(val[0], "%d%c", &s->progressed, &tail) == 1 && (s->progressed == 0 || s->progressed == 1);
    ok &= sscanf(val[1], "%" SCNx32 "%c", &theta, &tail) == 1;
    ok &= sscanf(val[2], "%la%c", &s->lowrank, &tail) == 1;
    ok &= sscanf(val[3], "%" SCNd64 "%c", &s->lowrank_failures, &tail) == 1;
    ok &= sscanf(val[4], "%" SCNd64 "%c", &s->steps_done, &tail) == 1;
    ok &= strlen(val[5]) == 64;
    for (int k = 0; ok && k < 4; k++) {
        char word[17];
        memcpy(word, val[5] + 16 * k, 16);
        word[16] = '\0';
        ok &= sscanf(word, "%" SCNx64 "%c", &s->rng.s[k], &tail) == 1;
    }
    if (!ok)
        return sara_fail(SARA_ERR_FORMAT, "%s: malformed sara.* checkpoint metadata", f->path);
    float th;
    memcpy(&th, &theta, sizeof th);
    if (!same_threshold(th, s->threshold))
        return sara_fail(SARA_ERR_INVALID, "%s: checkpoint selected with θ = %.9g, this run with %.9g (changed "
                         "--threshold or --budget?)", f->path, th, s->threshold);
    return SARA_OK;
}

static sara_status find_vec(const st_file *f, const char *prefix, const char *name, const st_tensor **out)
{
    char key[PARAM_NAME_MAX + 32];
    snprintf(key, sizeof key, "%s%s", prefix, name);
    if (!(*out = safetensors_find(f, key)))
        return sara_fail(SARA_ERR_MISSING, "%s: missing SaRA state tensor %s", f->path, key);
    if ((*out)->ndim != 1)
        return sara_fail(SARA_ERR_FORMAT, "%s: SaRA state tensor %s is not 1-D", f->path, key);
    return SARA_OK;
}

static sara_status read_floats(const st_file *f, const char *prefix, const char *name, int64_t n, float *dst)
{
    const st_tensor *x;
    SARA_TRY(find_vec(f, prefix, name, &x));
    if (x->numel != n)
        return sara_fail(SARA_ERR_SHAPE, "%s: %s%s has %lld entries, expected %lld", f->path, prefix, name,
                         (long long)x->numel, (long long)n);
    return safetensors_read_f32(f, x, dst);
}

/* M0 in the checkpoint must be the mask this run selected (same base, same options). */
static sara_status check_mask0(const st_file *f, const packed_tensor *t, const char *name)
{
    char key[PARAM_NAME_MAX + 32];
    snprintf(key, sizeof key, CK_INDEX0 "%s", name);
    const st_tensor *x = safetensors_find(f, key);
    if (!x && t->n0 == 0)
        return SARA_OK;
    int64_t *idx = x && t->n0 && x->numel == t->n0 ? malloc(((size_t)t->n0 + 1) * sizeof *idx) : NULL;
    sara_status r = idx ? safetensors_read_i64(f, x, idx) : SARA_ERR_INVALID;
    if (r == SARA_OK && memcmp(idx, t->idx0, (size_t)t->n0 * sizeof *idx))
        r = SARA_ERR_INVALID;
    free(idx);
    if (r != SARA_OK)
        return sara_fail(SARA_ERR_INVALID, "%s: the checkpoint's trainable entries of %s differ from this run's "
                         "selection (changed --threshold, --budget, --selection, --targets or --seed?)", f->path, name);
    return SARA_OK;
}

/* The current mask after the progressive step: sorted, and a subset of M0. */
static sara_status load_mask1(const st_file *f, packed_tensor *t, const char *name)
{
    const st_tensor *x;
    SARA_TRY(find_vec(f, CK_INDEX, name, &x));
    if (x->numel > t->n0)
        return sara_fail(SARA_ERR_SHAPE, "%s: " CK_INDEX "%s has more entries than M0", f->path, name);
    int64_t *idx1 = realloc(t->idx1, ((size_t)x->numel + 1) * sizeof *idx1);
    if (!idx1)
        return sara_fail(SARA_ERR_NOMEM, "out of memory loading %s", f->path);
    t->idx1 = idx1;
    SARA_TRY(safetensors_read_i64(f, x, idx1));
    for (int64_t k = 0, j = 0; k < x->numel; k++, j++) {
        while (j < t->n0 && t->idx0[j] < idx1[k])
            j++;
        if (j == t->n0 || t->idx0[j] != idx1[k])
            return sara_fail(SARA_ERR_FORMAT, "%s: " CK_INDEX "%s is not a sorted subset of M0", f->path, name);
    }
    t->n = x->numel;
    t->idx = idx1;
    return SARA_OK;
}

static sara_status sara_load_state(train_method *self, const st_file *f)
{
    sara_state *s = st(self);
    SARA_TRY(load_meta(s, f));
    for (int i = 0; i < self->params->count; i++) {
        packed_tensor *t = &s->t[i];
        const char *name = self->params->entries[i].name;
        SARA_TRY(check_mask0(f, t, name));
        if (t->n0 == 0)
            continue;
        SARA_TRY(read_floats(f, CK_P0, name, t->n0, t->p0));
        if (s->progressed)
            SARA_TRY(load_mask1(f, t, name));
        else {
            t->n = t->n0;
            t->idx = t->idx0;
        }
        SARA_TRY(read_floats(f, CK_M, name, t->n, t->m));
        SARA_TRY(read_floats(f, CK_V, name, t->n, t->v));
    }
    sara_update_sinks(self);
    return SARA_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* creation */

static void sara_destroy(train_method *self)
{
    sara_state *s = st(self);
    for (int i = 0; s && s->t && i < self->params->count; i++) {
        packed_tensor *t = &s->t[i];
        free(t->idx0);
        free(t->idx1);
        free(t->p0);
        free(t->g);
        free(t->m);
        free(t->v);
        free(t->dense);
    }
    if (s) {
        free(s->t);
        free(s->eligible);
        free(s);
    }
    free(self->sinks);
}

/* Buffers of parameter i once its mask (n0 entries at idx0) is known. */
static sara_status packed_alloc(train_method *self, int i, int is_target, int reserve_m1)
{
    sara_state *s = st(self);
    packed_tensor *t = &s->t[i];
    const param_entry *e = &self->params->entries[i];
    size_t n = (size_t)t->n0 + 1; /* + 1: never malloc(0) */
    if (t->n0) {
        t->p0 = malloc(n * sizeof(float));
        t->g = calloc(n, sizeof(float));
        t->m = calloc(n, sizeof(float));
        t->v = calloc(n, sizeof(float));
        if (reserve_m1)
            t->idx1 = malloc(n * sizeof(int64_t));
        if (!t->p0 || !t->g || !t->m || !t->v || (reserve_m1 && !t->idx1))
            return sara_fail(SARA_ERR_NOMEM, "out of memory for the SaRA state of %s", e->name);
        const float *p = params_ptr(self->params, i);
        for (int64_t k = 0; k < t->n0; k++)
            t->p0[k] = p[t->idx0[k]];
    }
    if (s->dense_grads && is_target && !(t->dense = calloc((size_t)e->numel + 1, sizeof(float))))
        return sara_fail(SARA_ERR_NOMEM, "out of memory for the dense gradient of %s", e->name);
    return SARA_OK;
}

static sara_status sara_build(train_method *self, const method_options *o, uint8_t *tg)
{
    sara_state *s = st(self);
    int count = self->params->count;
    if (!(o->lambda_rank >= 0) || !isfinite(o->lambda_rank) || o->lowrank_min_dim < 0)
        return sara_fail(SARA_ERR_INVALID, "lambda_rank must be ≥ 0 (got %g) and lowrank_min_dim ≥ 0 (got %d)",
                         o->lambda_rank, o->lowrank_min_dim);
    SARA_TRY(mask_targets(self->params, o->targets, tg));
    sara_mask mk;
    SARA_TRY(mask_select(&mk, self->params, tg, o));
    s->threshold = mk.threshold;
    s->m0 = mk.total;
    s->progressive_iter = o->progressive_iter < 0 ? o->total_steps / 2 : o->progressive_iter;
    int reserve_m1 = s->progressive_iter > 0 && s->progressive_iter < o->total_steps;
    for (int i = 0; i < count; i++) { /* the mask's index lists become idx0 */
        s->t[i].n0 = s->t[i].n = mk.nnz[i];
        s->t[i].idx0 = s->t[i].idx = mk.index[i];
        mk.index[i] = NULL;
    }
    mask_free(&mk);
    for (int i = 0; i < count; i++)
        SARA_TRY(packed_alloc(self, i, tg[i], reserve_m1));
    for (int i = 0; i < count; i++)
        if (s->t[i].n0 && lowrank_eligible(&self->params->entries[i], o))
            s->eligible[s->n_eligible++] = i;
    rng_seed_stream(&s->rng, o->seed, LOWRANK_RNG_STREAM);
    return adapter_base_hash(self->params, s->base_hash);
}

static sara_status sara_create(train_method *self, const method_options *o, int dense_grads)
{
    sara_state *s = calloc(1, sizeof *s);
    self->state = s;
    self->destroy = sara_destroy;
    if (!s)
        return sara_fail(SARA_ERR_NOMEM, "out of memory creating method %s", self->name);
    int count = self->params->count;
    s->opt = *o;
    s->dense_grads = dense_grads;
    s->t = calloc((size_t)count + 1, sizeof *s->t);
    s->eligible = calloc((size_t)count + 1, sizeof *s->eligible);
    self->sinks = calloc((size_t)count + 1, sizeof *self->sinks);
    uint8_t *tg = calloc((size_t)count + 1, 1); /* (count) 1 for target tensors */
    sara_status r = s->t && s->eligible && self->sinks && tg ? sara_build(self, o, tg)
                                                              : sara_fail(SARA_ERR_NOMEM, "out of memory creating "
                                                                          "method %s", self->name);
    free(tg);
    SARA_TRY(r);
    self->zero_grad = sara_zero_grad;
    self->grad_sum_squares = sara_grad_sum_squares;
    self->scale_grad = sara_scale_grad;
    self->step = sara_step;
    self->trainable_count = sara_trainable_count;
    self->state_bytes = sara_state_bytes;
    self->save_state = sara_save_state;
    self->load_state = sara_load_state;
    self->step_metrics = sara_step_metrics;
    self->export_adapter = sara_export_adapter;
    sara_update_sinks(self);
    return SARA_OK;
}

sara_status method_create_sara(train_method *self, const method_options *o) { return sara_create(self, o, 0); }

sara_status method_create_selective(train_method *self, const method_options *o) { return sara_create(self, o, 1); }
