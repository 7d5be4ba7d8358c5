/* options.c — the option-table parser behind every subcommand; see options.h. Strings are kept
 * as pointers into argv or into the parsed --config document (which lives until exit). */
#include "options.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/text_file.h"

/* A --config file holds a few dozen options. */
#define OPTIONS_FILE_MAX_BYTES (1 << 20)

static void *field(void *base, const opt_spec *s) { return (char *)base + s->offset; }

static int set_value(const opt_spec *s, void *out, const char *value, const char *origin)
{
    char *end = NULL;
    errno = 0;
    switch (s->type) {
    case OPT_INT: {
        long v = strtol(value, &end, 10);
        if (errno || *end || end == value || v < -2147483647L || v > 2147483647L)
            goto bad;
        *(int *)field(out, s) = (int)v;
        return 0;
    }
    case OPT_I64: {
        long long v = strtoll(value, &end, 10);
        if (errno || *end || end == value)
            goto bad;
        *(int64_t *)field(out, s) = v;
        return 0;
    }
    case OPT_DOUBLE: {
        double v = strtod(value, &end);
        if (errno || *end || end == value || !isfinite(v))
            goto bad;
        *(double *)field(out, s) = v;
        return 0;
    }
    case OPT_STRING:
        *(const char **)field(out, s) = value;
        return 0;
    case OPT_STRING_LIST: {
        opt_string_list *l = field(out, s);
        if (l->n >= OPT_LIST_MAX) {
            fprintf(stderr, "sara: %s: --%s: at most %d values\n", origin, s->name, OPT_LIST_MAX);
            return -1;
        }
        l->v[l->n++] = value;
        return 0;
    }
    case OPT_FLAG:
        if (!strcmp(value, "1") || !strcmp(value, "true")) {
            *(int *)field(out, s) = 1;
            return 0;
        }
        if (!strcmp(value, "0") || !strcmp(value, "false")) {
            *(int *)field(out, s) = 0;
            return 0;
        }
        goto bad;
    }
bad:
    fprintf(stderr, "sara: %s: --%s: invalid value '%s'\n", origin, s->name, value);
    return -1;
}

static const opt_spec *find_spec(const opt_table *t, const char *name, size_t len)
{
    for (int i = 0; i < t->n_specs; i++)
        if (strlen(t->specs[i].name) == len && !strncmp(t->specs[i].name, name, len))
            return &t->specs[i];
    return NULL;
}

/* The parsed --config document: string options point into it, so it lives until exit, and is
 * freed then (so that leak checkers see no leak). */
static cJSON *config_doc;

static void config_doc_free(void) { cJSON_Delete(config_doc); }

static int config_doc_keep(cJSON *root)
{
    if (!config_doc) {
        if (!(config_doc = cJSON_CreateArray()))
            return -1;
        atexit(config_doc_free);
    }
    return cJSON_AddItemToArray(config_doc, root) ? 0 : -1;
}

/* A --config file: a JSON object whose keys are option names (underscores or dashes). */
static int apply_config_file(const opt_table *t, void *out, const char *path)
{
    char *text = NULL;
    if (text_file_read(path, OPTIONS_FILE_MAX_BYTES, "JSON options file", &text, NULL) != SARA_OK) {
        fprintf(stderr, "sara: %s\n", sara_last_error());
        return -1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "sara: %s: not a JSON object\n", path);
        cJSON_Delete(root);
        return -1;
    }
    if (config_doc_keep(root) != 0) {
        cJSON_Delete(root);
        fprintf(stderr, "sara: %s: out of memory\n", path);
        return -1;
    }
    for (cJSON *it = root->child; it; it = it->next) {
        char name[128];
        snprintf(name, sizeof name, "%s", it->string);
        for (char *c = name; *c; c++)
            if (*c == '_')
                *c = '-';
        const opt_spec *s = find_spec(t, name, strlen(name));
        if (!s || !strcmp(name, "config")) {
            fprintf(stderr, "sara: %s: unknown key '%s' for 'sara %s'\n", path, it->string, t->command);
            return -1;
        }
        char buf[64];
        const char *value = NULL;
        if (cJSON_IsString(it))
            value = it->valuestring;
        else if (cJSON_IsBool(it))
            value = cJSON_IsTrue(it) ? "1" : "0";
        else if (cJSON_IsNumber(it)) {
            snprintf(buf, sizeof buf, s->type == OPT_DOUBLE ? "%.17g" : "%.0f", it->valuedouble);
            value = buf;
        } else if (cJSON_IsNull(it))
            continue;
        else if (cJSON_IsArray(it) && s->type == OPT_STRING_LIST) {
            for (cJSON *x = it->child; x; x = x->next)
                if (!cJSON_IsString(x) || set_value(s, out, x->valuestring, path) != 0) {
                    fprintf(stderr, "sara: %s: key '%s' must be an array of strings\n", path, it->string);
                    return -1;
                }
            continue;
        }
        if (!value) {
            fprintf(stderr, "sara: %s: key '%s' must be a string, number or boolean\n", path, it->string);
            return -1;
        }
        if (set_value(s, out, value, path) != 0)
            return -1;
    }
    return 0;
}

int opts_parse(const opt_table *t, void *out, int argc, char **argv, const char **positional, int *n_positional)
{
    *n_positional = 0;
    char cleared[64] = {0}; /* lists already cleared of their --config values by the command line */
    for (int i = 0; i < t->n_specs; i++)
        if (t->specs[i].def && set_value(&t->specs[i], out, t->specs[i].def, "default") != 0)
            return -1;
    /* A --config file applies before the other arguments so that they override it. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        if (!strncmp(a, "--config=", 9))
            value = a + 9;
        else if (!strcmp(a, "--config") && i + 1 < argc)
            value = argv[i + 1];
        if (value && find_spec(t, "config", 6) && apply_config_file(t, out, value) != 0)
            return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            opts_print_help(t);
            return 1;
        }
        /* One-letter options are written with one dash: -o FILE. */
        int short_opt = a[0] == '-' && a[1] && a[1] != '-' && !a[2];
        if (strncmp(a, "--", 2) && !short_opt) {
            if (*n_positional >= t->max_positional) {
                fprintf(stderr, "sara %s: unexpected argument '%s' (see sara %s --help)\n", t->command, a, t->command);
                return -1;
            }
            positional[(*n_positional)++] = a;
            continue;
        }
        const char *name = a + (short_opt ? 1 : 2), *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt_spec *s = find_spec(t, name, len);
        if (!s) {
            fprintf(stderr, "sara %s: unknown option '--%.*s' (see sara %s --help)\n", t->command, (int)len, name,
                    t->command);
            return -1;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (s->type == OPT_FLAG)
            value = "1";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            fprintf(stderr, "sara %s: --%s needs a value\n", t->command, s->name);
            return -1;
        }
        if (!strcmp(s->name, "config"))
            continue; /* applied above */
        if (s->type == OPT_STRING_LIST && (size_t)(s - t->specs) < sizeof cleared && !cleared[s - t->specs]++)
            ((opt_string_list *)field(out, s))->n = 0;
        if (set_value(s, out, value, "command line") != 0)
            return -1;
    }
    return 0;
}

int opts_parse_command(const opt_table *t, void *out, size_t out_size, int argc, char **argv)
{
    const char *pos[1];
    int npos;
    memset(out, 0, out_size);
    int r = opts_parse(t, out, argc, argv, pos, &npos);
    return r == 0 ? -1 : r > 0 ? 0 : 2;
}

void opts_print_help(const opt_table *t)
{
    printf("%s\n\nusage: %s\n\noptions:\n", t->summary, t->usage);
    for (int i = 0; i < t->n_specs; i++) {
        const opt_spec *s = &t->specs[i];
        const char *arg = s->type == OPT_FLAG            ? ""
                          : s->type == OPT_STRING        ? " S"
                          : s->type == OPT_STRING_LIST   ? " S (repeatable)"
                          : s->type == OPT_DOUBLE        ? " X"
                                                         : " N";
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", strlen(s->name) == 1 ? "-" : "--", s->name, arg);
        printf("  %-26s %s", left, s->help);
        if (s->def && s->type != OPT_FLAG)
            printf(" [%s]", s->def);
        printf("\n");
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

char *opts_to_json(const opt_table *t, const void *in)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < t->n_specs && o; i++) {
        const opt_spec *s = &t->specs[i];
        char key[128];
        snprintf(key, sizeof key, "%s", s->name);
        for (char *c = key; *c; c++)
            if (*c == '-')
                *c = '_';
        const void *f = (const char *)in + s->offset;
        switch (s->type) {
        case OPT_INT: cJSON_AddNumberToObject(o, key, *(const int *)f); break;
        case OPT_I64: cJSON_AddNumberToObject(o, key, (double)*(const int64_t *)f); break;
        case OPT_DOUBLE: cJSON_AddNumberToObject(o, key, *(const double *)f); break;
        case OPT_FLAG: cJSON_AddBoolToObject(o, key, *(const int *)f); break;
        case OPT_STRING_LIST: {
            const opt_string_list *l = f;
            cJSON_AddItemToObject(o, key, cJSON_CreateStringArray(l->v, l->n));
            break;
        }
        case OPT_STRING:
            if (*(const char *const *)f)
                cJSON_AddStringToObject(o, key, *(const char *const *)f);
            else
                cJSON_AddNullToObject(o, key);
            break;
        }
    }
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}
