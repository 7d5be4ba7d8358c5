/* unet_config.c — owns diffusers' UNet2DModel config.json: defaults (those of diffusers'
 * UNet2DModel.__init__), strict parsing (wrong JSON types are format errors naming the key; values
 * this version cannot build are "unsupported", never silently replaced), consistency checks, and
 * atomic saving with the same keys. See unet_config.h. */
#include "model/unet_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/status.h"
#include "core/text_file.h"

/* A config.json is a few hundred bytes; anything past this is not one. */
#define UNET_CONFIG_MAX_BYTES (1 << 20)
/* The diffusers release whose UNet2DModel keys and defaults this file follows. */
#define UNET_DIFFUSERS_VERSION "0.25.0"

typedef struct {
    int n;
    int v[UNET_MAX_BLOCKS];
} int_list;

void unet_config_default(unet_config *c)
{
    static const int channels[4] = {224, 448, 672, 896};
    memset(c, 0, sizeof *c);
    c->sample_size = 32;
    c->in_channels = c->out_channels = 3;
    c->num_blocks = 4;
    for (int i = 0; i < 4; i++) {
        c->block_out_channels[i] = channels[i];
        c->down_attn[i] = i != 0; /* DownBlock2D, AttnDownBlock2D × 3 */
        c->up_attn[i] = i != 3;   /* AttnUpBlock2D × 3, UpBlock2D */
    }
    c->layers_per_block = 2;
    c->norm_num_groups = 32;
    c->norm_eps = 1e-5;
    c->attention_head_dim = 8;
    c->flip_sin_to_cos = 1;
    c->downsample_padding = 1;
    c->add_attention = 1;
    c->mid_block_scale_factor = 1.0;
}

int unet_config_temb_dim(const unet_config *c)
{
    return c->time_embedding_dim ? c->time_embedding_dim : 4 * c->block_out_channels[0];
}

/* ---------------------------------------------------------------- typed getters */

static const char *json_type_name(const cJSON *j)
{
    if (cJSON_IsNull(j))
        return "null";
    if (cJSON_IsBool(j))
        return "a boolean";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsArray(j))
        return "a list";
    return "an object";
}

static sara_status json_to_int(const char *origin, const char *key, const cJSON *j, int min, int *out)
{
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble))
        return sara_fail(SARA_ERR_FORMAT, "%s: %s must be an integer, not %s", origin, key,
                         cJSON_IsNumber(j) ? "a fraction" : json_type_name(j));
    if (j->valuedouble < min || j->valuedouble > INT_MAX)
        return sara_fail(SARA_ERR_INVALID, "%s: %s = %g is out of range (at least %d)", origin, key, j->valuedouble,
                         min);
    *out = (int)j->valuedouble;
    return SARA_OK;
}

/* An absent key keeps the default; null is accepted (as 0) only where diffusers allows None. */
static sara_status get_int(const char *origin, const cJSON *root, const char *key, int min, int nullable, int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j)
        return SARA_OK;
    if (nullable && cJSON_IsNull(j)) {
        *out = 0;
        return SARA_OK;
    }
    return json_to_int(origin, key, j, min, out);
}

static sara_status get_bool(const char *origin, const cJSON *root, const char *key, int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j)
        return SARA_OK;
    if (!cJSON_IsBool(j))
        return sara_fail(SARA_ERR_FORMAT, "%s: %s must be true or false, not %s", origin, key, json_type_name(j));
    *out = cJSON_IsTrue(j);
    return SARA_OK;
}

static sara_status get_number(const char *origin, const cJSON *root, const char *key, double *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j)
        return SARA_OK;
    if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
        return sara_fail(SARA_ERR_FORMAT, "%s: %s must be a number, not %s", origin, key, json_type_name(j));
    *out = j->valuedouble;
    return SARA_OK;
}

/* A key that this version supports with one value only (a string, or null when want is NULL);
 * `also` is an accepted synonym (may be NULL). */
static sara_status require_value(const char *origin, const cJSON *root, const char *key, const char *want,
                                 const char *also)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!j)
        return SARA_OK;
    if (!want) {
        if (cJSON_IsNull(j))
            return SARA_OK;
        if (cJSON_IsString(j))
            return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (only null)", origin, key,
                             j->valuestring);
        return sara_fail(SARA_ERR_FORMAT, "%s: %s must be null or a string, not %s", origin, key, json_type_name(j));
    }
    if (cJSON_IsNull(j))
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %s null is not supported (only \"%s\")", origin, key, want);
    if (!cJSON_IsString(j))
        return sara_fail(SARA_ERR_FORMAT, "%s: %s must be a string, not %s", origin, key, json_type_name(j));
    if (strcmp(j->valuestring, want) && (!also || strcmp(j->valuestring, also)))
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (only \"%s\")", origin, key,
                         j->valuestring, want);
    return SARA_OK;
}

/* ---------------------------------------------------------------- lists */

static sara_status get_list(const char *origin, const cJSON *root, const char *key, const cJSON **out, int *n)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = NULL;
    if (!j)
        return SARA_OK;
    if (!cJSON_IsArray(j))
        return sara_fail(SARA_ERR_FORMAT, "%s: %s must be a list, not %s", origin, key, json_type_name(j));
    *n = cJSON_GetArraySize(j);
    if (*n == 0)
        return sara_fail(SARA_ERR_INVALID, "%s: %s is empty", origin, key);
    if (*n > UNET_MAX_BLOCKS)
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %s has %d entries (at most %d supported)", origin, key, *n,
                         UNET_MAX_BLOCKS);
    *out = j;
    return SARA_OK;
}

static sara_status get_int_list(const char *origin, const cJSON *root, const char *key, int_list *out)
{
    const cJSON *j;
    int n = 0;
    SARA_TRY(get_list(origin, root, key, &j, &n));
    if (!j)
        return SARA_OK;
    char what[64];
    int i = 0;
    memset(out->v, 0, sizeof out->v); /* entries past n stay zero, not the defaults' */
    for (const cJSON *e = j->child; e; e = e->next, i++) {
        snprintf(what, sizeof what, "%s[%d]", key, i);
        SARA_TRY(json_to_int(origin, what, e, 1, &out->v[i]));
    }
    out->n = n;
    return SARA_OK;
}

/* Block-type names → attention flags: plain = 0, attn = 1; anything else is unsupported. */
static sara_status get_block_list(const char *origin, const cJSON *root, const char *key, const char *plain,
                                  const char *attn, int_list *out)
{
    const cJSON *j;
    int n = 0;
    SARA_TRY(get_list(origin, root, key, &j, &n));
    if (!j)
        return SARA_OK;
    int i = 0;
    memset(out->v, 0, sizeof out->v);
    for (const cJSON *e = j->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e))
            return sara_fail(SARA_ERR_FORMAT, "%s: %s[%d] must be a string, not %s", origin, key, i,
                             json_type_name(e));
        if (!strcmp(e->valuestring, plain) || !strcmp(e->valuestring, attn))
            out->v[i] = !strcmp(e->valuestring, attn);
        else
            return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %s[%d] \"%s\" is not supported (only %s or %s)", origin, key,
                             i, e->valuestring, plain, attn);
    }
    out->n = n;
    return SARA_OK;
}

/* ---------------------------------------------------------------- parse */

/* int or [h, w] with h == w (diffusers allows a tuple; this version trains square images). */
static sara_status get_sample_size(const char *origin, const cJSON *root, int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "sample_size");
    if (!j || cJSON_IsNull(j))
        return SARA_OK;
    if (!cJSON_IsArray(j))
        return json_to_int(origin, "sample_size", j, 1, out);
    int h = 0, w = 0;
    if (cJSON_GetArraySize(j) != 2)
        return sara_fail(SARA_ERR_FORMAT, "%s: sample_size must be an integer or [height, width]", origin);
    SARA_TRY(json_to_int(origin, "sample_size[0]", j->child, 1, &h));
    SARA_TRY(json_to_int(origin, "sample_size[1]", j->child->next, 1, &w));
    if (h != w)
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: sample_size [%d, %d] is not square (not supported)", origin, h, w);
    *out = h;
    return SARA_OK;
}

static sara_status check_fixed_keys(const char *origin, const cJSON *root)
{
    SARA_TRY(require_value(origin, root, "_class_name", "UNet2DModel", NULL));
    SARA_TRY(require_value(origin, root, "act_fn", "silu", "swish")); /* diffusers maps both to SiLU */
    SARA_TRY(require_value(origin, root, "time_embedding_type", "positional", NULL));
    SARA_TRY(require_value(origin, root, "resnet_time_scale_shift", "default", NULL));
    SARA_TRY(require_value(origin, root, "mid_block_type", "UNetMidBlock2D", NULL)); /* null: no mid block */
    SARA_TRY(require_value(origin, root, "downsample_type", "conv", NULL));
    SARA_TRY(require_value(origin, root, "upsample_type", "conv", NULL));
    SARA_TRY(require_value(origin, root, "class_embed_type", NULL, NULL));
    double dropout = 0.0;
    SARA_TRY(get_number(origin, root, "dropout", &dropout));
    if (dropout != 0.0)
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: dropout %g is not supported (only 0)", origin, dropout);
    return SARA_OK;
}

static int cmp_key(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* cJSON keeps both copies of a repeated key and returns the first; Python keeps the last. Sorted,
 * so that a hostile 1 MB file of keys costs n·log n, not n². */
static sara_status check_duplicate_keys(const char *origin, const cJSON *root)
{
    int n = cJSON_GetArraySize(root), i = 0;
    const char **keys = malloc(((size_t)n + 1) * sizeof *keys); /* (n) */
    if (!keys)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", origin);
    for (const cJSON *a = root->child; a; a = a->next)
        keys[i++] = a->string;
    qsort(keys, (size_t)n, sizeof *keys, cmp_key);
    sara_status s = SARA_OK;
    for (i = 1; i < n && s == SARA_OK; i++)
        if (!strcmp(keys[i - 1], keys[i]))
            s = sara_fail(SARA_ERR_FORMAT, "%s: key %s appears twice", origin, keys[i]);
    free(keys);
    return s;
}

static sara_status parse_scalars(unet_config *c, const cJSON *root, const char *origin)
{
    SARA_TRY(get_sample_size(origin, root, &c->sample_size));
    SARA_TRY(get_int(origin, root, "in_channels", 1, 0, &c->in_channels));
    SARA_TRY(get_int(origin, root, "out_channels", 1, 0, &c->out_channels));
    SARA_TRY(get_int(origin, root, "layers_per_block", 1, 0, &c->layers_per_block));
    SARA_TRY(get_int(origin, root, "norm_num_groups", 1, 0, &c->norm_num_groups));
    SARA_TRY(get_int(origin, root, "attn_norm_num_groups", 1, 1, &c->attn_norm_num_groups));
    SARA_TRY(get_number(origin, root, "norm_eps", &c->norm_eps));
    SARA_TRY(get_int(origin, root, "attention_head_dim", 1, 1, &c->attention_head_dim));
    SARA_TRY(get_int(origin, root, "num_class_embeds", 1, 1, &c->num_class_embeds));
    SARA_TRY(get_bool(origin, root, "flip_sin_to_cos", &c->flip_sin_to_cos));
    SARA_TRY(get_number(origin, root, "freq_shift", &c->freq_shift));
    SARA_TRY(get_int(origin, root, "downsample_padding", 0, 0, &c->downsample_padding));
    SARA_TRY(get_bool(origin, root, "add_attention", &c->add_attention));
    SARA_TRY(get_bool(origin, root, "center_input_sample", &c->center_input_sample));
    SARA_TRY(get_number(origin, root, "mid_block_scale_factor", &c->mid_block_scale_factor));
    return get_int(origin, root, "time_embedding_dim", 1, 1, &c->time_embedding_dim);
}

static sara_status parse_blocks(unet_config *c, const cJSON *root, const char *origin)
{
    int_list ch = {c->num_blocks, {0}}, down = {c->num_blocks, {0}}, up = {c->num_blocks, {0}};
    memcpy(ch.v, c->block_out_channels, sizeof ch.v);
    memcpy(down.v, c->down_attn, sizeof down.v);
    memcpy(up.v, c->up_attn, sizeof up.v);
    SARA_TRY(get_int_list(origin, root, "block_out_channels", &ch));
    SARA_TRY(get_block_list(origin, root, "down_block_types", "DownBlock2D", "AttnDownBlock2D", &down));
    SARA_TRY(get_block_list(origin, root, "up_block_types", "UpBlock2D", "AttnUpBlock2D", &up));
    if (down.n != up.n || ch.n != down.n)
        return sara_fail(SARA_ERR_INVALID,
                         "%s: block_out_channels (%d), down_block_types (%d) and up_block_types (%d) must have the "
                         "same length", origin, ch.n, down.n, up.n);
    c->num_blocks = ch.n;
    memcpy(c->block_out_channels, ch.v, sizeof ch.v);
    memcpy(c->down_attn, down.v, sizeof down.v);
    memcpy(c->up_attn, up.v, sizeof up.v);
    return SARA_OK;
}

sara_status unet_config_parse(unet_config *c, const char *json, const char *origin)
{
    unet_config_default(c);
    cJSON *root = cJSON_Parse(json);
    if (!root)
        return sara_fail(SARA_ERR_FORMAT, "%s: not valid JSON", origin);
    sara_status s = SARA_OK;
    if (!cJSON_IsObject(root))
        s = sara_fail(SARA_ERR_FORMAT, "%s: config is not a JSON object", origin);
    if (s == SARA_OK)
        s = check_duplicate_keys(origin, root);
    if (s == SARA_OK)
        s = check_fixed_keys(origin, root);
    if (s == SARA_OK)
        s = parse_scalars(c, root, origin);
    if (s == SARA_OK)
        s = parse_blocks(c, root, origin);
    cJSON_Delete(root);
    return s == SARA_OK ? unet_config_validate(c, origin) : s;
}

sara_status unet_config_load(unet_config *c, const char *path)
{
    char *text = NULL;
    size_t n = 0;
    SARA_TRY(text_file_read(path, UNET_CONFIG_MAX_BYTES, "config.json", &text, &n));
    sara_status s = memchr(text, '\0', n) ? sara_fail(SARA_ERR_FORMAT, "%s: contains a NUL byte, not a config.json", path)
                                          : unet_config_parse(c, text, path);
    free(text);
    return s;
}

/* ---------------------------------------------------------------- validate */

static sara_status check_divisible(const char *origin, const char *what, int channels, const char *by_name, int by)
{
    if (by > 0 && channels % by != 0)
        return sara_fail(SARA_ERR_INVALID, "%s: %s = %d is not divisible by %s = %d", origin, what, channels, by_name,
                         by);
    return SARA_OK;
}

static sara_status check_limit(const char *origin, const char *what, int v, int limit)
{
    if (v > limit)
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: %s = %d exceeds %d, the largest this version builds", origin, what,
                         v, limit);
    return SARA_OK;
}

static sara_status validate_limits(const unet_config *c, const char *origin)
{
    char what[64];
    for (int i = 0; i < c->num_blocks; i++) {
        snprintf(what, sizeof what, "block_out_channels[%d]", i);
        SARA_TRY(check_limit(origin, what, c->block_out_channels[i], UNET_MAX_CHANNELS));
    }
    SARA_TRY(check_limit(origin, "in_channels", c->in_channels, UNET_MAX_CHANNELS));
    SARA_TRY(check_limit(origin, "out_channels", c->out_channels, UNET_MAX_CHANNELS));
    SARA_TRY(check_limit(origin, "time_embedding_dim", c->time_embedding_dim, 4 * UNET_MAX_CHANNELS));
    SARA_TRY(check_limit(origin, "sample_size", c->sample_size, UNET_MAX_SAMPLE_SIZE));
    SARA_TRY(check_limit(origin, "layers_per_block", c->layers_per_block, UNET_MAX_LAYERS_PER_BLOCK));
    return check_limit(origin, "num_class_embeds", c->num_class_embeds, UNET_MAX_CLASS_EMBEDS);
}

static sara_status validate_ranges(const unet_config *c, const char *origin)
{
    if (c->num_blocks < 1 || c->num_blocks > UNET_MAX_BLOCKS)
        return sara_fail(SARA_ERR_INVALID, "%s: %d blocks (1 to %d supported)", origin, c->num_blocks,
                         UNET_MAX_BLOCKS);
    if (c->sample_size < 1 || c->in_channels < 1 || c->out_channels < 1 || c->layers_per_block < 1 ||
        c->norm_num_groups < 1)
        return sara_fail(SARA_ERR_INVALID,
                         "%s: sample_size, in_channels, out_channels, layers_per_block and norm_num_groups must be "
                         "positive", origin);
    if (c->attn_norm_num_groups < 0 || c->attention_head_dim < 0 || c->num_class_embeds < 0 ||
        c->time_embedding_dim < 0)
        return sara_fail(SARA_ERR_INVALID, "%s: attn_norm_num_groups, attention_head_dim, num_class_embeds and "
                         "time_embedding_dim must be positive or null", origin);
    if (!(c->norm_eps > 0.0) || !isfinite(c->norm_eps))
        return sara_fail(SARA_ERR_INVALID, "%s: norm_eps = %g must be positive", origin, c->norm_eps);
    if (!isfinite(c->freq_shift) || !isfinite(c->mid_block_scale_factor))
        return sara_fail(SARA_ERR_INVALID, "%s: freq_shift and mid_block_scale_factor must be finite", origin);
    if (c->downsample_padding != 0 && c->downsample_padding != 1)
        return sara_fail(SARA_ERR_UNSUPPORTED, "%s: downsample_padding %d is not supported (only 0 or 1)", origin,
                         c->downsample_padding);
    for (int i = 0; i < c->num_blocks; i++)
        if (c->block_out_channels[i] < 1)
            return sara_fail(SARA_ERR_INVALID, "%s: block_out_channels[%d] must be positive", origin, i);
    return validate_limits(c, origin);
}

sara_status unet_config_validate(const unet_config *c, const char *origin)
{
    SARA_TRY(validate_ranges(c, origin));
    int n = c->num_blocks, last = c->block_out_channels[n - 1];
    char what[64];
    for (int i = 0; i < n; i++) {
        int ch = c->block_out_channels[i];
        snprintf(what, sizeof what, "block_out_channels[%d]", i);
        SARA_TRY(check_divisible(origin, what, ch, "norm_num_groups", c->norm_num_groups));
        if (c->down_attn[i] || c->up_attn[n - 1 - i]) /* up block i works at block_out_channels[n-1-i] */
            SARA_TRY(check_divisible(origin, what, ch, "attention_head_dim", c->attention_head_dim));
    }
    if (c->add_attention) {
        snprintf(what, sizeof what, "block_out_channels[%d] (mid-block attention)", n - 1);
        SARA_TRY(check_divisible(origin, what, last, "attention_head_dim", c->attention_head_dim));
        SARA_TRY(check_divisible(origin, what, last, "attn_norm_num_groups", c->attn_norm_num_groups));
    }
    /* Each of the n-1 downsamplers halves the size; skip connections need it to divide evenly. */
    int factor = 1 << (n - 1);
    if (c->sample_size % factor != 0)
        return sara_fail(SARA_ERR_INVALID, "%s: sample_size = %d is not a multiple of 2^(%d blocks - 1) = %d",
                         origin, c->sample_size, n, factor);
    return SARA_OK;
}

/* ---------------------------------------------------------------- save */

/* The shortest decimal that reads back to exactly x: cJSON's own printing rounds to 15 digits
 * whenever that is "close enough", which would change mid_block_scale_factor on a round trip. */
static int add_exact_number(cJSON *root, const char *key, double x)
{
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return cJSON_AddRawToObject(root, key, buf) != NULL;
}

/* 0 means null for the optional integers. */
static int add_optional_int(cJSON *root, const char *key, int v)
{
    return (v ? cJSON_AddNumberToObject(root, key, v) : cJSON_AddNullToObject(root, key)) != NULL;
}

static int add_block_types(cJSON *root, const char *key, const int *attn, int n, const char *plain,
                           const char *with_attn)
{
    cJSON *a = cJSON_AddArrayToObject(root, key);
    int ok = a != NULL;
    for (int i = 0; ok && i < n; i++)
        ok = cJSON_AddItemToArray(a, cJSON_CreateString(attn[i] ? with_attn : plain));
    return ok;
}

/* Keys in sorted order, as diffusers writes them. */
static cJSON *config_to_json(const unet_config *c)
{
    cJSON *r = cJSON_CreateObject(), *ch = NULL;
    int ok = r && cJSON_AddStringToObject(r, "_class_name", "UNet2DModel") &&
             cJSON_AddStringToObject(r, "_diffusers_version", UNET_DIFFUSERS_VERSION) &&
             cJSON_AddStringToObject(r, "act_fn", "silu") &&
             cJSON_AddBoolToObject(r, "add_attention", c->add_attention) &&
             add_optional_int(r, "attention_head_dim", c->attention_head_dim) &&
             add_optional_int(r, "attn_norm_num_groups", c->attn_norm_num_groups) &&
             (ch = cJSON_AddArrayToObject(r, "block_out_channels"));
    for (int i = 0; ok && i < c->num_blocks; i++)
        ok = cJSON_AddItemToArray(ch, cJSON_CreateNumber(c->block_out_channels[i]));
    ok = ok && cJSON_AddBoolToObject(r, "center_input_sample", c->center_input_sample) &&
         cJSON_AddNullToObject(r, "class_embed_type") &&
         add_block_types(r, "down_block_types", c->down_attn, c->num_blocks, "DownBlock2D", "AttnDownBlock2D") &&
         cJSON_AddNumberToObject(r, "downsample_padding", c->downsample_padding) &&
         cJSON_AddStringToObject(r, "downsample_type", "conv") && cJSON_AddNumberToObject(r, "dropout", 0.0) &&
         cJSON_AddBoolToObject(r, "flip_sin_to_cos", c->flip_sin_to_cos) &&
         add_exact_number(r, "freq_shift", c->freq_shift) &&
         cJSON_AddNumberToObject(r, "in_channels", c->in_channels) &&
         cJSON_AddNumberToObject(r, "layers_per_block", c->layers_per_block) &&
         add_exact_number(r, "mid_block_scale_factor", c->mid_block_scale_factor) &&
         cJSON_AddStringToObject(r, "mid_block_type", "UNetMidBlock2D") &&
         add_exact_number(r, "norm_eps", c->norm_eps) &&
         cJSON_AddNumberToObject(r, "norm_num_groups", c->norm_num_groups) &&
         add_optional_int(r, "num_class_embeds", c->num_class_embeds) &&
         cJSON_AddNullToObject(r, "num_train_timesteps") &&
         cJSON_AddNumberToObject(r, "out_channels", c->out_channels) &&
         cJSON_AddStringToObject(r, "resnet_time_scale_shift", "default") &&
         cJSON_AddNumberToObject(r, "sample_size", c->sample_size) &&
         add_optional_int(r, "time_embedding_dim", c->time_embedding_dim) &&
         cJSON_AddStringToObject(r, "time_embedding_type", "positional") &&
         add_block_types(r, "up_block_types", c->up_attn, c->num_blocks, "UpBlock2D", "AttnUpBlock2D") &&
         cJSON_AddStringToObject(r, "upsample_type", "conv");
    if (!ok) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

sara_status unet_config_save(const unet_config *c, const char *path)
{
    SARA_TRY(unet_config_validate(c, path));
    return atomic_file_save_json(path, config_to_json(c));
}
