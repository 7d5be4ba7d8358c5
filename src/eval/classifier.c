/* classifier.c — owns the Fashion-MNIST classifier: its parameter table, loading and saving it,
 * the batched inference forward (features for FID, logits for class adherence), and one
 * training step's forward + backward. Every layer is a src/ops kernel; this file only chains
 * them and owns the activation buffers. See classifier.h for the architecture. */
#include "eval/classifier.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "data/dataset.h"
#include "ops/ops.h"

#define KSIZE 3                  /* every conv is 3×3, padding 1 */
#define GN_EPS 1e-5f             /* torch.nn.GroupNorm's default */
#define INFER_BATCH 32           /* images per inference pass: bounds memory for any n */
#define MAX_WIDTH 4096           /* a sanity bound on channels read from a file */
#define MAX_IMAGE_SIZE 1024

/* Activations of one pass over up to `cap` images; backward buffers only when trained. */
typedef struct {
    int cap, has_backward;
    float *z[CLASSIFIER_MAX_CONVS];    /* conv outputs (cap, C_l, H_l, W_l) */
    float *g[CLASSIFIER_MAX_CONVS];    /* GroupNorm outputs, same shape */
    float *a[CLASSIFIER_MAX_CONVS];    /* SiLU outputs, same shape: the next conv's input */
    float *mean[CLASSIFIER_MAX_CONVS]; /* (cap, groups) */
    float *rstd[CLASSIFIER_MAX_CONVS]; /* (cap, groups) */
    float *feat;                       /* (cap, C_L) */
    float *logits, *probs;             /* (cap, K) */
    float *da[CLASSIFIER_MAX_CONVS];   /* gradients of a_l (cap, C_l, H_l, W_l) */
    float *dg, *dz;                    /* gradients of g_l and z_l, (cap · the largest C_l·H_l·W_l) */
    float *dfeat;                      /* (cap, C_L) */
    float *dlogits;                    /* (cap, K) */
    float *scratch;                    /* conv scratch, the largest layer's at cap */
} workspace;

struct classifier {
    classifier_arch arch;
    int num_classes;
    param_table params;
    int conv_w[CLASSIFIER_MAX_CONVS], conv_b[CLASSIFIER_MAX_CONVS]; /* parameter indices */
    int norm_w[CLASSIFIER_MAX_CONVS], norm_b[CLASSIFIER_MAX_CONVS];
    int fc_w, fc_b;
    workspace ws;
};

/* ---------------------------------------------------------------- shapes */

/* Spatial side of layer l's output: the first conv keeps S, each later one halves it (stride 2). */
static int layer_side(const classifier *c, int l)
{
    int s = c->arch.image_size;
    for (int i = 1; i <= l; i++)
        s = (s + 2 - KSIZE) / 2 + 1;
    return s;
}

static ops_conv_shape layer_conv_shape(const classifier *c, int l, int B)
{
    int side_in = l == 0 ? c->arch.image_size : layer_side(c, l - 1);
    ops_conv_shape s = {.B = B, .C = l == 0 ? 1 : c->arch.widths[l - 1], .H = side_in, .W = side_in,
                        .O = c->arch.widths[l], .KH = KSIZE, .KW = KSIZE, .stride = l == 0 ? 1 : 2,
                        .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
    return s;
}

/* Elements of one image's activation at layer l: C_l · H_l · W_l. */
static size_t layer_numel(const classifier *c, int l)
{
    size_t side = (size_t)layer_side(c, l);
    return (size_t)c->arch.widths[l] * side * side;
}

/* ---------------------------------------------------------------- workspace */

static void ws_free(workspace *w)
{
    for (int l = 0; l < CLASSIFIER_MAX_CONVS; l++) {
        free(w->z[l]);
        free(w->g[l]);
        free(w->a[l]);
        free(w->mean[l]);
        free(w->rstd[l]);
        free(w->da[l]);
    }
    free(w->feat);
    free(w->logits);
    free(w->probs);
    free(w->dg);
    free(w->dz);
    free(w->dfeat);
    free(w->dlogits);
    free(w->scratch);
    memset(w, 0, sizeof *w);
}

/* Buffers for `cap` images (with gradients if `backward`); keeps larger ones already there. */
static sara_status ws_reserve(classifier *c, int cap, int backward)
{
    workspace *w = &c->ws;
    if (w->cap >= cap && (w->has_backward || !backward))
        return SARA_OK;
    ws_free(w);
    const classifier_arch *a = &c->arch;
    int L = a->n_convs, K = c->num_classes, C_last = a->widths[L - 1];
    size_t largest = 0, scratch = 0;
    int ok = 1;
    for (int l = 0; l < L; l++) {
        size_t n = (size_t)cap * layer_numel(c, l), ng = (size_t)cap * (size_t)a->groups;
        largest = n > largest ? n : largest;
        ops_conv_shape s = layer_conv_shape(c, l, cap);
        size_t sc = conv2d_scratch_numel(&s);
        scratch = sc > scratch ? sc : scratch;
        ok &= (w->z[l] = malloc(n * sizeof(float))) != NULL;
        ok &= (w->g[l] = malloc(n * sizeof(float))) != NULL;
        ok &= (w->a[l] = malloc(n * sizeof(float))) != NULL;
        ok &= (w->mean[l] = malloc(ng * sizeof(float))) != NULL;
        ok &= (w->rstd[l] = malloc(ng * sizeof(float))) != NULL;
        if (backward)
            ok &= (w->da[l] = malloc(n * sizeof(float))) != NULL;
    }
    ok &= (w->feat = malloc((size_t)cap * C_last * sizeof(float))) != NULL;
    ok &= (w->logits = malloc((size_t)cap * K * sizeof(float))) != NULL;
    ok &= (w->probs = malloc((size_t)cap * K * sizeof(float))) != NULL;
    ok &= (w->scratch = malloc((scratch ? scratch : 1) * sizeof(float))) != NULL;
    if (backward) {
        ok &= (w->dg = malloc(largest * sizeof(float))) != NULL;
        ok &= (w->dz = malloc(largest * sizeof(float))) != NULL;
        ok &= (w->dfeat = malloc((size_t)cap * C_last * sizeof(float))) != NULL;
        ok &= (w->dlogits = malloc((size_t)cap * K * sizeof(float))) != NULL;
    }
    if (!ok) {
        ws_free(w);
        return sara_fail(SARA_ERR_NOMEM, "classifier: out of memory for a batch of %d images", cap);
    }
    w->cap = cap;
    w->has_backward = backward;
    return SARA_OK;
}

/* ---------------------------------------------------------------- creation */

void classifier_arch_default(classifier_arch *a)
{
    static const int widths[] = {32, 64, 128, 128};
    memset(a, 0, sizeof *a);
    a->n_convs = (int)(sizeof widths / sizeof widths[0]);
    memcpy(a->widths, widths, sizeof widths);
    a->groups = 8;
    a->image_size = 32;
}

static sara_status arch_check(const classifier_arch *a)
{
    if (a->n_convs < 1 || a->n_convs > CLASSIFIER_MAX_CONVS)
        return sara_fail(SARA_ERR_INVALID, "classifier: %d conv layers (1 to %d)", a->n_convs, CLASSIFIER_MAX_CONVS);
    if (a->groups < 1)
        return sara_fail(SARA_ERR_INVALID, "classifier: groupnorm_groups %d must be positive", a->groups);
    if (a->image_size < 1 || a->image_size > MAX_IMAGE_SIZE)
        return sara_fail(SARA_ERR_INVALID, "classifier: image_size %d (1 to %d)", a->image_size, MAX_IMAGE_SIZE);
    for (int l = 0; l < a->n_convs; l++)
        if (a->widths[l] < 1 || a->widths[l] > MAX_WIDTH || a->widths[l] % a->groups)
            return sara_fail(SARA_ERR_INVALID, "classifier: conv%d width %d must be in [1, %d] and divisible by %d groups",
                             l + 1, a->widths[l], MAX_WIDTH, a->groups);
    return SARA_OK;
}

static sara_status add_param(classifier *c, const char *name, int ndim, int64_t d0, int64_t d1, int *index)
{
    int64_t shape[4] = {d0, d1, KSIZE, KSIZE};
    return params_add(&c->params, name, ndim, shape, index);
}

static sara_status register_params(classifier *c)
{
    char name[PARAM_NAME_MAX];
    for (int l = 0; l < c->arch.n_convs; l++) {
        int cin = l == 0 ? 1 : c->arch.widths[l - 1], cout = c->arch.widths[l];
        snprintf(name, sizeof name, "conv%d.weight", l + 1);
        SARA_TRY(add_param(c, name, 4, cout, cin, &c->conv_w[l]));
        snprintf(name, sizeof name, "conv%d.bias", l + 1);
        SARA_TRY(add_param(c, name, 1, cout, 0, &c->conv_b[l]));
        snprintf(name, sizeof name, "norm%d.weight", l + 1);
        SARA_TRY(add_param(c, name, 1, cout, 0, &c->norm_w[l]));
        snprintf(name, sizeof name, "norm%d.bias", l + 1);
        SARA_TRY(add_param(c, name, 1, cout, 0, &c->norm_b[l]));
    }
    SARA_TRY(add_param(c, "fc.weight", 2, c->num_classes, c->arch.widths[c->arch.n_convs - 1], &c->fc_w));
    SARA_TRY(add_param(c, "fc.bias", 1, c->num_classes, 0, &c->fc_b));
    return params_alloc(&c->params);
}

sara_status classifier_create(classifier **out, const classifier_arch *a)
{
    *out = NULL;
    SARA_TRY(arch_check(a));
    classifier *c = calloc(1, sizeof *c);
    if (!c)
        return sara_fail(SARA_ERR_NOMEM, "classifier: out of memory");
    c->arch = *a;
    c->num_classes = FASHION_MNIST_CLASSES;
    params_init(&c->params);
    sara_status s = register_params(c);
    if (s != SARA_OK) {
        classifier_free(c);
        return s;
    }
    *out = c;
    return SARA_OK;
}

void classifier_free(classifier *c)
{
    if (!c)
        return;
    ws_free(&c->ws);
    params_free(&c->params);
    free(c);
}

void classifier_init_random(classifier *c, uint64_t seed)
{
    sara_rng r;
    rng_seed_stream(&r, seed, 0);
    param_table *t = &c->params;
    for (int l = 0; l <= c->arch.n_convs; l++) {
        int is_fc = l == c->arch.n_convs;
        int w = is_fc ? c->fc_w : c->conv_w[l], b = is_fc ? c->fc_b : c->conv_b[l];
        int64_t fan_in = t->entries[w].numel / t->entries[w].shape[0];
        double bound = 1.0 / sqrt((double)fan_in);
        for (int k = 0; k < 2; k++) {
            int i = k ? b : w;
            float *p = params_ptr(t, i);
            for (int64_t e = 0; e < t->entries[i].numel; e++)
                p[e] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
        }
        if (!is_fc) {
            float *gw = params_ptr(t, c->norm_w[l]), *gb = params_ptr(t, c->norm_b[l]);
            for (int e = 0; e < c->arch.widths[l]; e++) {
                gw[e] = 1.0f;
                gb[e] = 0.0f;
            }
        }
    }
}

param_table *classifier_params(classifier *c) { return &c->params; }
const classifier_arch *classifier_get_arch(const classifier *c) { return &c->arch; }
int classifier_feature_dim(const classifier *c) { return c->arch.widths[c->arch.n_convs - 1]; }
int classifier_num_classes(const classifier *c) { return c->num_classes; }
int classifier_image_size(const classifier *c) { return c->arch.image_size; }

const char *classifier_class_name(const classifier *c, int k)
{
    return k >= 0 && k < c->num_classes ? fashion_mnist_class_names[k] : NULL;
}

/* ---------------------------------------------------------------- load / save */

static sara_status meta_int(const st_file *f, const char *key, int lo, int hi, int *out)
{
    const char *v = safetensors_meta(f, key);
    if (!v)
        return sara_fail(SARA_ERR_MISSING, "%s: classifier metadata lacks '%s'", f->path, key);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return sara_fail(SARA_ERR_FORMAT, "%s: classifier metadata '%s' is not an integer in [%d, %d]: '%s'", f->path,
                         key, lo, hi, v);
    *out = (int)x;
    return SARA_OK;
}

/* The architecture a file holds: conv1.weight, conv2.weight, ... give the widths. */
static sara_status arch_from_file(const st_file *f, classifier_arch *a)
{
    memset(a, 0, sizeof *a);
    const char *fmt = safetensors_meta(f, "format");
    if (!fmt || strcmp(fmt, CLASSIFIER_FORMAT))
        return sara_fail(SARA_ERR_FORMAT, "%s: not a classifier (metadata format is not '%s')", f->path,
                         CLASSIFIER_FORMAT);
    SARA_TRY(meta_int(f, "groupnorm_groups", 1, MAX_WIDTH, &a->groups));
    SARA_TRY(meta_int(f, "image_size", 1, MAX_IMAGE_SIZE, &a->image_size));
    char name[32];
    for (int l = 0; l < CLASSIFIER_MAX_CONVS; l++) {
        snprintf(name, sizeof name, "conv%d.weight", l + 1);
        const st_tensor *t = safetensors_find(f, name);
        if (!t)
            break;
        if (t->ndim != 4 || t->shape[0] < 1 || t->shape[0] > MAX_WIDTH)
            return sara_fail(SARA_ERR_SHAPE, "%s: tensor %s must be (out, in, 3, 3) with out in [1, %d]", f->path,
                             name, MAX_WIDTH);
        a->widths[l] = (int)t->shape[0];
        a->n_convs = l + 1;
    }
    if (a->n_convs == 0)
        return sara_fail(SARA_ERR_MISSING, "%s: classifier lacks tensor conv1.weight", f->path);
    return SARA_OK;
}

sara_status classifier_load(classifier **out, const char *path)
{
    *out = NULL;
    st_file *f = NULL;
    SARA_TRY(safetensors_open(path, &f));
    classifier_arch a;
    classifier *c = NULL;
    sara_status s = arch_from_file(f, &a);
    if (s == SARA_OK) {
        s = classifier_create(&c, &a);
        if (s != SARA_OK)
            sara_error_prefix("%s", path);
    }
    if (s == SARA_OK)
        s = params_load(&c->params, f, 0);
    safetensors_close(f);
    if (s != SARA_OK) {
        classifier_free(c);
        return s;
    }
    *out = c;
    return SARA_OK;
}

sara_status classifier_save(const classifier *c, const char *path, const char *const *meta, int n_meta)
{
    char groups[16], size[16], names[256] = "";
    snprintf(groups, sizeof groups, "%d", c->arch.groups);
    snprintf(size, sizeof size, "%d", c->arch.image_size);
    for (int k = 0; k < c->num_classes; k++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? "," : "",
                 fashion_mnist_class_names[k]);
    st_writer *w = NULL;
    SARA_TRY(st_writer_create(&w));
    sara_status s = params_add_to_writer(&c->params, w, NULL);
    if (s == SARA_OK)
        s = st_writer_meta(w, "format", CLASSIFIER_FORMAT);
    if (s == SARA_OK)
        s = st_writer_meta(w, "groupnorm_groups", groups);
    if (s == SARA_OK)
        s = st_writer_meta(w, "image_size", size);
    if (s == SARA_OK)
        s = st_writer_meta(w, "class_names", names);
    for (int i = 0; i < n_meta && s == SARA_OK; i++)
        s = st_writer_meta(w, meta[2 * i], meta[2 * i + 1]);
    if (s == SARA_OK)
        s = st_writer_write(w, path);
    st_writer_free(w);
    return s;
}

/* ---------------------------------------------------------------- forward / backward */

/* Fills the workspace's activations, features and logits for images (n, 1, S, S), n ≤ cap. */
static void forward_batch(classifier *c, const float *images, int n)
{
    workspace *w = &c->ws;
    const param_table *t = &c->params;
    int L = c->arch.n_convs, G = c->arch.groups;
    for (int l = 0; l < L; l++) {
        ops_conv_shape s = layer_conv_shape(c, l, n);
        int C = c->arch.widths[l], HW = layer_side(c, l) * layer_side(c, l);
        conv2d_forward(w->z[l], l == 0 ? images : w->a[l - 1], params_ptr(t, c->conv_w[l]),
                       params_ptr(t, c->conv_b[l]), &s, w->scratch);
        groupnorm_forward(w->g[l], w->mean[l], w->rstd[l], w->z[l], params_ptr(t, c->norm_w[l]),
                          params_ptr(t, c->norm_b[l]), n, C, HW, G, GN_EPS);
        silu_forward(w->a[l], w->g[l], (int64_t)n * C * HW);
    }
    int side = layer_side(c, L - 1), F = c->arch.widths[L - 1];
    global_avgpool_forward(w->feat, w->a[L - 1], n, F, side * side);
    linear_forward(w->logits, w->feat, params_ptr(t, c->fc_w), params_ptr(t, c->fc_b), n, F, c->num_classes);
}

static int argmax(const float *v, int K)
{
    int best = 0;
    for (int k = 1; k < K; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

static sara_status check_input(const float *images, int n)
{
    if (n < 0 || (n > 0 && !images))
        return sara_fail(SARA_ERR_INVALID, "classifier: %d images (need n >= 0 and an image buffer)", n);
    return SARA_OK;
}

sara_status classifier_forward(classifier *c, const float *images, int n, float *features, float *logits)
{
    SARA_TRY(check_input(images, n));
    if (n == 0)
        return SARA_OK;
    SARA_TRY(ws_reserve(c, n < INFER_BATCH ? n : INFER_BATCH, 0));
    size_t img = (size_t)c->arch.image_size * c->arch.image_size;
    int F = classifier_feature_dim(c), K = c->num_classes;
    for (int i = 0; i < n; i += INFER_BATCH) {
        int b = n - i < INFER_BATCH ? n - i : INFER_BATCH;
        forward_batch(c, images + (size_t)i * img, b);
        if (features)
            memcpy(features + (size_t)i * F, c->ws.feat, (size_t)b * F * sizeof(float));
        if (logits)
            memcpy(logits + (size_t)i * K, c->ws.logits, (size_t)b * K * sizeof(float));
    }
    return SARA_OK;
}

sara_status classifier_count_correct(classifier *c, const float *images, const int64_t *labels, int n,
                                     int64_t *correct, int64_t *total)
{
    int K = c->num_classes;
    memset(correct, 0, (size_t)K * sizeof *correct);
    memset(total, 0, (size_t)K * sizeof *total);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= K)
            return sara_fail(SARA_ERR_INVALID, "classifier: label %lld of image %d outside [0, %d)",
                             (long long)labels[i], i, K);
    float *logits = malloc((size_t)(n > 0 ? n : 1) * K * sizeof *logits); /* (n, K) */
    if (!logits)
        return sara_fail(SARA_ERR_NOMEM, "classifier: out of memory for %d logits", n);
    sara_status s = classifier_forward(c, images, n, NULL, logits);
    for (int i = 0; i < n && s == SARA_OK; i++) {
        total[labels[i]]++;
        correct[labels[i]] += argmax(logits + (size_t)i * K, K) == labels[i];
    }
    free(logits);
    return s;
}

static ops_sink dense(param_table *grads, int index)
{
    return (ops_sink){.kind = OPS_SINK_DENSE, .dense = params_ptr(grads, index)};
}

/* Backward of forward_batch from dlogits (n, K) into grads. */
static void backward_batch(classifier *c, const float *images, int n, param_table *grads)
{
    workspace *w = &c->ws;
    const param_table *t = &c->params;
    int L = c->arch.n_convs, G = c->arch.groups, F = classifier_feature_dim(c), K = c->num_classes;
    ops_sink dw = dense(grads, c->fc_w), db = dense(grads, c->fc_b);
    memset(w->dfeat, 0, (size_t)n * F * sizeof(float));
    linear_backward(w->dfeat, &dw, &db, w->dlogits, w->feat, params_ptr(t, c->fc_w), n, F, K);
    int side = layer_side(c, L - 1);
    memset(w->da[L - 1], 0, (size_t)n * layer_numel(c, L - 1) * sizeof(float));
    global_avgpool_backward(w->da[L - 1], w->dfeat, n, F, side * side);
    for (int l = L - 1; l >= 0; l--) {
        int C = c->arch.widths[l], HW = layer_side(c, l) * layer_side(c, l);
        size_t numel = (size_t)n * C * HW;
        memset(w->dg, 0, numel * sizeof(float));
        silu_backward(w->dg, w->da[l], w->g[l], (int64_t)numel);
        ops_sink dgamma = dense(grads, c->norm_w[l]), dbeta = dense(grads, c->norm_b[l]);
        memset(w->dz, 0, numel * sizeof(float));
        groupnorm_backward(w->dz, &dgamma, &dbeta, w->dg, w->z[l], w->mean[l], w->rstd[l],
                           params_ptr(t, c->norm_w[l]), n, C, HW, G);
        ops_sink cw = dense(grads, c->conv_w[l]), cb = dense(grads, c->conv_b[l]);
        ops_conv_shape s = layer_conv_shape(c, l, n);
        float *dx = NULL;
        if (l > 0) {
            dx = w->da[l - 1];
            memset(dx, 0, (size_t)n * layer_numel(c, l - 1) * sizeof(float));
        }
        conv2d_backward(dx, &cw, &cb, w->dz, l == 0 ? images : w->a[l - 1], params_ptr(t, c->conv_w[l]), &s,
                        w->scratch);
    }
}

sara_status classifier_loss_backward(classifier *c, const float *images, const int64_t *labels, int n,
                                     param_table *grads, float *loss, int *correct)
{
    SARA_TRY(check_input(images, n));
    if (n == 0)
        return sara_fail(SARA_ERR_INVALID, "classifier: a training batch needs at least one image");
    if (grads->numel != c->params.numel || grads->count != c->params.count)
        return sara_fail(SARA_ERR_INVALID, "classifier: gradient table does not have the parameters' layout");
    int K = c->num_classes;
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= K)
            return sara_fail(SARA_ERR_INVALID, "classifier: label %lld of image %d outside [0, %d)",
                             (long long)labels[i], i, K);
    SARA_TRY(ws_reserve(c, n, 1));
    workspace *w = &c->ws;
    forward_batch(c, images, n);
    *loss = softmax_xent_forward(w->probs, w->logits, labels, n, K);
    if (correct) {
        *correct = 0;
        for (int i = 0; i < n; i++)
            *correct += argmax(w->logits + (size_t)i * K, K) == labels[i];
    }
    memset(w->dlogits, 0, (size_t)n * K * sizeof(float));
    softmax_xent_backward(w->dlogits, w->probs, labels, n, K, 1.0f);
    backward_batch(c, images, n, grads);
    return SARA_OK;
}
