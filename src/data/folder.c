/* folder.c — the image-folder loader: finds (image path, class text or integer label) pairs in
 * one of three layouts (metadata.jsonl, .txt captions, class sub-folders), turns texts into
 * class indices (discovered and sorted, or matched onto fixed names), then decodes and fits
 * every image. Listing and labelling finish before any decoding, so a layout mistake is
 * reported at once rather than after minutes of JPEG work. */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "core/status.h"
#include "core/text_file.h"
#include "data/dataset.h"
#include "data/dataset_priv.h"
#include "data/image.h"

#define METADATA_NAME "metadata.jsonl"
/* Largest training side accepted: beyond it the float dataset would not fit any sane memory. */
#define FOLDER_MAX_SIZE 4096
/* Largest caption file read: captions are one line of text. */
#define CAPTION_MAX_BYTES (1 << 20)
#define PIXEL_HALF_RANGE 127.5f
#define UTF8_BOM "\xef\xbb\xbf"
/* Integer labels name classes "0".."max": a hostile "label": 2e9 must not create two billion
 * class names. Far more classes than any class-conditional UNet embeds. */
#define FOLDER_MAX_LABEL 65535

typedef struct {
    char *path;      /* image file */
    char *text;      /* class text (caption, jsonl text, folder name); NULL for integer labels */
    int64_t label;   /* integer label, or the class index once assigned */
    int line;        /* its metadata.jsonl line (1-based), or 0 for the other layouts */
} folder_item;

typedef struct {
    const char *dir;
    char *meta;          /* the metadata.jsonl path in that layout (owned), else NULL */
    folder_item *items;  /* (count) */
    int count, cap;
    int int_labels;      /* metadata.jsonl with "label" */
    char **texts;        /* (num_texts) distinct texts, sorted; borrowed from items */
    int num_texts;
} folder_list;

static void folder_list_free(folder_list *l)
{
    for (int i = 0; i < l->count; i++) {
        free(l->items[i].path);
        free(l->items[i].text);
    }
    free(l->items);
    free(l->texts);
    free(l->meta);
}

/* Takes ownership of path and text (freeing them on failure). */
static sara_status folder_add(folder_list *l, char *path, char *text, int64_t label, int line)
{
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        folder_item *items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items) {
            free(path);
            free(text);
            return sara_fail(SARA_ERR_NOMEM, "%s: out of memory listing images", l->dir);
        }
        l->items = items, l->cap = cap;
    }
    l->items[l->count++] = (folder_item){path, text, label, line};
    return SARA_OK;
}

/* ---- small string and file helpers ----------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    char *p = NULL;
    if (name[0] == '/')
        return strdup(name);
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* Strips leading and trailing whitespace in place; returns s. */
static char *str_trim(char *s)
{
    char *b = s;
    while (*b && isspace((unsigned char)*b))
        b++;
    size_t n = strlen(b);
    while (n && isspace((unsigned char)b[n - 1]))
        n--;
    memmove(s, b, n);
    s[n] = '\0';
    return s;
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The visible entries of dir (no "." prefix), sorted bytewise. */
static sara_status dir_list(const char *dir, char ***names, int *n)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return sara_fail(SARA_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **v = NULL;
    int count = 0, cap = 0;
    sara_status s = SARA_OK;
    struct dirent *e;
    while (s == SARA_OK && (e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory listing folder", dir);
                break;
            }
            v = nv;
        }
        if (!(v[count] = strdup(e->d_name)))
            s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory listing folder", dir);
        else
            count++;
    }
    closedir(dp);
    if (s != SARA_OK) {
        for (int i = 0; i < count; i++)
            free(v[i]);
        free(v);
        return s;
    }
    if (count > 1)
        qsort(v, (size_t)count, sizeof *v, cmp_str);
    *names = v;
    *n = count;
    return SARA_OK;
}

static void names_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Reads a caption file whole, NUL-terminated. */
static sara_status text_read(const char *path, char **out)
{
    return text_file_read(path, CAPTION_MAX_BYTES, "caption file", out, NULL);
}

/* ---- layout 1: metadata.jsonl ---------------------------------------------------------------- */

/* One parsed line: file_name and either text or label, checked. */
static sara_status jsonl_line(folder_list *l, const char *meta, int lineno, const char *line, size_t len,
                              int first)
{
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sara_fail(SARA_ERR_FORMAT, "%s:%d: not a JSON object", meta, lineno);
    }
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(j, "file_name");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    sara_status s = SARA_OK;
    if (first)
        l->int_labels = label != NULL;
    if (!cJSON_IsString(fn) || !fn->valuestring[0])
        s = sara_fail(SARA_ERR_FORMAT, "%s:%d: no \"file_name\" string", meta, lineno);
    else if (l->int_labels && !label)
        s = sara_fail(SARA_ERR_FORMAT, "%s:%d: no \"label\" (earlier lines have one)", meta, lineno);
    else if (l->int_labels && (!cJSON_IsNumber(label) || label->valuedouble < 0 ||
                               label->valuedouble > FOLDER_MAX_LABEL ||
                               label->valuedouble != floor(label->valuedouble)))
        s = sara_fail(SARA_ERR_FORMAT, "%s:%d: \"label\" must be a non-negative integer (at most %d)", meta, lineno,
                      FOLDER_MAX_LABEL);
    else if (!l->int_labels && !cJSON_IsString(text))
        s = sara_fail(SARA_ERR_FORMAT, "%s:%d: no \"text\" string or integer \"label\"", meta, lineno);
    char *path = NULL, *t = NULL;
    if (s == SARA_OK) {
        path = path_join(l->dir, fn->valuestring);
        t = l->int_labels ? NULL : strdup(text->valuestring);
        if (!path || (!l->int_labels && !t))
            s = sara_fail(SARA_ERR_NOMEM, "%s:%d: out of memory", meta, lineno);
        else if (access(path, F_OK) != 0)
            s = sara_fail(SARA_ERR_MISSING, "%s:%d: file '%s' does not exist", meta, lineno, fn->valuestring);
        else if (t && !str_trim(t)[0])
            s = sara_fail(SARA_ERR_FORMAT, "%s:%d: \"text\" is empty", meta, lineno);
    }
    int64_t k = s == SARA_OK && l->int_labels ? (int64_t)label->valuedouble : 0;
    cJSON_Delete(j);
    if (s != SARA_OK) {
        free(path);
        free(t);
        return s;
    }
    return folder_add(l, path, t, k, lineno);
}

/* Reads metadata.jsonl lines from fp (named `meta` in messages). */
static sara_status folder_from_jsonl_stream(folder_list *l, const char *meta, FILE *fp)
{
    if (!(l->meta = strdup(meta))) /* kept for messages about its lines after parsing */
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", meta);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, parsed = 0;
    sara_status s = SARA_OK;
    while (s == SARA_OK && (len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        if (lineno == 1 && !strncmp(line, UTF8_BOM, strlen(UTF8_BOM))) /* editors on Windows add one */
            memmove(line, line + strlen(UTF8_BOM), strlen(line) - strlen(UTF8_BOM) + 1);
        if (!str_trim(line)[0])
            continue;
        s = jsonl_line(l, meta, lineno, line, strlen(line), parsed++ == 0);
    }
    if (s == SARA_OK && ferror(fp))
        s = sara_fail(SARA_ERR_IO, "%s: read failed", meta);
    free(line);
    return s;
}

static sara_status folder_from_jsonl(folder_list *l, const char *meta)
{
    FILE *fp = fopen(meta, "rb");
    if (!fp)
        return sara_fail(SARA_ERR_IO, "%s: cannot open: %s", meta, strerror(errno));
    sara_status s = folder_from_jsonl_stream(l, meta, fp);
    fclose(fp);
    return s;
}

/* ---- layouts 2 and 3: captions beside images, class sub-folders ------------------------------ */

/* Adds every image in dir (names sorted) with the text `folder_text`, or, if that is NULL,
 * with the caption from the .txt file beside it. */
static sara_status folder_add_images(folder_list *l, const char *dir, char **names, int n, const char *folder_text)
{
    for (int i = 0; i < n; i++) {
        if (!is_image_name(names[i]))
            continue;
        char *path = path_join(dir, names[i]), *text = NULL;
        if (!path)
            return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", dir);
        if (folder_text) {
            text = strdup(folder_text);
        } else {
            char *cap = path_join(dir, names[i]);
            if (cap)
                strcpy(strrchr(cap, '.'), ".txt"); /* the extension is at least 4 chars: ".png" */
            sara_status s = !cap                    ? sara_fail(SARA_ERR_NOMEM, "%s: out of memory", dir)
                            : access(cap, F_OK) != 0 ? sara_fail(SARA_ERR_MISSING, "%s: no caption file %s beside it",
                                                                 path, cap)
                                                     : text_read(cap, &text);
            if (s == SARA_OK && !str_trim(text)[0])
                s = sara_fail(SARA_ERR_FORMAT, "%s: caption is empty", cap);
            free(cap);
            if (s != SARA_OK) {
                free(path);
                free(text);
                return s;
            }
        }
        if (!text) {
            free(path);
            return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", dir);
        }
        SARA_TRY(folder_add(l, path, text, 0, 0));
    }
    return SARA_OK;
}

static sara_status folder_from_subfolders(folder_list *l, char **names, int n)
{
    for (int i = 0; i < n; i++) {
        char *sub = path_join(l->dir, names[i]);
        if (!sub)
            return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", l->dir);
        char **inner = NULL;
        int m = 0;
        sara_status s = is_dir(sub) ? dir_list(sub, &inner, &m) : SARA_OK;
        if (s == SARA_OK)
            s = folder_add_images(l, sub, inner, m, names[i]);
        names_free(inner, m);
        free(sub);
        SARA_TRY(s);
    }
    return SARA_OK;
}

static sara_status folder_check_nonempty(const folder_list *l)
{
    if (l->count == 0 && l->meta)
        return sara_fail(SARA_ERR_MISSING, "%s: lists no images", l->meta);
    if (l->count == 0)
        return sara_fail(SARA_ERR_MISSING, "%s: no images found (want %s, PNG/JPEG files with .txt captions, or "
                         "class sub-folders of PNG/JPEG files)", l->dir, METADATA_NAME);
    return SARA_OK;
}

/* Where an item came from, for messages: "metadata.jsonl:LINE" or the image's path. */
static const char *item_origin(const folder_list *l, const folder_item *it, char *buf, size_t cap)
{
    if (!it->line)
        return it->path;
    snprintf(buf, cap, "%s:%d", l->meta, it->line);
    return buf;
}

/* Picks the layout and fills l with (path, text or label). */
static sara_status folder_scan(folder_list *l)
{
    char *meta = path_join(l->dir, METADATA_NAME);
    if (!meta)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", l->dir);
    sara_status s;
    if (access(meta, F_OK) == 0) {
        s = folder_from_jsonl(l, meta);
    } else {
        char **names = NULL;
        int n = 0, images = 0;
        s = dir_list(l->dir, &names, &n);
        for (int i = 0; s == SARA_OK && i < n; i++)
            images += is_image_name(names[i]);
        if (s == SARA_OK)
            s = images ? folder_add_images(l, l->dir, names, n, NULL) : folder_from_subfolders(l, names, n);
        names_free(names, n);
    }
    if (s == SARA_OK)
        s = folder_check_nonempty(l);
    free(meta);
    return s;
}

/* ---- labels ---------------------------------------------------------------------------------- */

/* Equal ignoring case, with ' ', '_', '-' and '/' all the same separator. */
static int class_name_char(unsigned char ch)
{
    return ch == '_' || ch == '-' || ch == '/' ? ' ' : tolower(ch);
}

static int class_names_match(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (class_name_char((unsigned char)*a) != class_name_char((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* Sets every item's label and the dataset's class names. */
static sara_status folder_assign_labels(folder_list *l, sara_dataset *d, const char *const *fixed, int num_fixed)
{
    char where[4096 + 16];
    if (fixed) {
        for (int i = 0; i < l->count; i++) {
            folder_item *it = &l->items[i];
            if (l->int_labels) {
                if (it->label >= num_fixed)
                    return sara_fail(SARA_ERR_FORMAT, "%s: label %lld is out of range [0, %d)",
                                     item_origin(l, it, where, sizeof where), (long long)it->label, num_fixed);
                continue;
            }
            int k = 0;
            while (k < num_fixed && !class_names_match(it->text, fixed[k]))
                k++;
            if (k == num_fixed)
                return sara_fail(SARA_ERR_INVALID, "%s: unknown class '%s' (the model's classes are '%s' ... '%s')",
                                 item_origin(l, it, where, sizeof where), it->text, fixed[0], fixed[num_fixed - 1]);
            it->label = k;
        }
        return dataset_set_classes(d, fixed, num_fixed);
    }
    if (l->int_labels) {
        int64_t max = 0;
        for (int i = 0; i < l->count; i++)
            max = l->items[i].label > max ? l->items[i].label : max;
        char **names = calloc((size_t)max + 1, sizeof *names);
        sara_status s = names ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "%s: out of memory", l->dir);
        for (int64_t k = 0; s == SARA_OK && k <= max; k++)
            if (asprintf(&names[k], "%lld", (long long)k) < 0)
                names[k] = NULL, s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory", l->dir);
        if (s == SARA_OK)
            s = dataset_set_classes(d, (const char *const *)names, (int)max + 1);
        for (int64_t k = 0; names && k <= max; k++)
            free(names[k]);
        free(names);
        return s;
    }
    l->texts = malloc((size_t)l->count * sizeof *l->texts);
    if (!l->texts)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", l->dir);
    for (int i = 0; i < l->count; i++)
        l->texts[i] = l->items[i].text;
    qsort(l->texts, (size_t)l->count, sizeof *l->texts, cmp_str);
    int u = 0;
    for (int i = 0; i < l->count; i++)
        if (u == 0 || strcmp(l->texts[u - 1], l->texts[i]))
            l->texts[u++] = l->texts[i];
    l->num_texts = u;
    for (int i = 0; i < l->count; i++) {
        char **hit = bsearch(&l->items[i].text, l->texts, (size_t)u, sizeof *l->texts, cmp_str);
        l->items[i].label = hit - l->texts;
    }
    return dataset_set_classes(d, (const char *const *)l->texts, u);
}

/* ---- decoding -------------------------------------------------------------------------------- */

/* Decodes item i into img (channels, size, size) in [-1, 1]. */
static sara_status folder_decode(const folder_item *it, int index, int size, int channels, int crop_random,
                                 uint64_t seed, float *img)
{
    uint8_t *pixels;
    int w, h, c;
    SARA_TRY(image_read(it->path, &pixels, &w, &h, &c));
    float *planes = malloc((size_t)channels * w * h * sizeof *planes); /* (channels, h, w) */
    if (!planes) {
        free(pixels);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory for %dx%d pixels", it->path, w, h);
    }
    image_to_planes(pixels, w, h, c, channels, planes);
    free(pixels);
    sara_rng rng;
    rng_seed_stream(&rng, seed, (uint64_t)index);
    sara_status s = image_fit_square(planes, channels, h, w, size, crop_random ? &rng : NULL, img);
    free(planes);
    if (s != SARA_OK) {
        sara_error_prefix("%s", it->path);
        return s;
    }
    for (size_t p = 0; p < (size_t)channels * size * size; p++)
        img[p] = img[p] / PIXEL_HALF_RANGE - 1.0f;
    return SARA_OK;
}

sara_status dataset_load_folder(sara_dataset *d, const char *dir, int size, int channels, int crop_random,
                                uint64_t seed, const char *const *class_names_fixed, int num_fixed)
{
    memset(d, 0, sizeof *d);
    if (!dir)
        return sara_fail(SARA_ERR_INVALID, "image folder: no path given");
    if (size <= 0 || size > FOLDER_MAX_SIZE)
        return sara_fail(SARA_ERR_INVALID, "%s: image size %d must be in [1, %d]", dir, size, FOLDER_MAX_SIZE);
    if (channels != 1 && channels != 3)
        return sara_fail(SARA_ERR_INVALID, "%s: channels %d must be 1 or 3", dir, channels);
    if (class_names_fixed && num_fixed <= 0)
        return sara_fail(SARA_ERR_INVALID, "%s: %d fixed class names", dir, num_fixed);
    if (!is_dir(dir))
        return sara_fail(SARA_ERR_IO, "%s: cannot open folder: %s", dir,
                         access(dir, F_OK) ? strerror(errno) : "not a folder");
    folder_list l = {.dir = dir};
    sara_status s = folder_scan(&l);
    if (s == SARA_OK)
        s = dataset_alloc(d, dir, l.count, channels, size, size);
    if (s == SARA_OK)
        s = folder_assign_labels(&l, d, class_names_fixed, num_fixed);
    size_t per = (size_t)channels * size * size;
    for (int i = 0; s == SARA_OK && i < l.count; i++) {
        s = folder_decode(&l.items[i], i, size, channels, crop_random, seed, d->images + (size_t)i * per);
        d->labels[i] = l.items[i].label;
    }
    folder_list_free(&l);
    if (s != SARA_OK)
        dataset_free(d);
    return s;
}

sara_status dataset_folder_labels_jsonl(sara_dataset *d, const char *dir, const char *origin, FILE *fp,
                                        const char *const *class_names_fixed, int num_fixed)
{
    memset(d, 0, sizeof *d);
    folder_list l = {.dir = dir};
    sara_status s = folder_from_jsonl_stream(&l, origin, fp);
    if (s == SARA_OK)
        s = folder_check_nonempty(&l);
    if (s == SARA_OK) {
        d->count = l.count;
        d->labels = malloc((size_t)l.count * sizeof *d->labels);
        d->source = strdup(origin);
        if (!d->labels || !d->source)
            s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory", origin);
    }
    if (s == SARA_OK)
        s = folder_assign_labels(&l, d, class_names_fixed, num_fixed);
    for (int i = 0; s == SARA_OK && i < l.count; i++)
        d->labels[i] = l.items[i].label;
    folder_list_free(&l);
    if (s != SARA_OK)
        dataset_free(d);
    return s;
}
