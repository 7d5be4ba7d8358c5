/* safetensors_describe.c — the human-readable listing behind `sara inspect FILE`: one aligned
 * row per tensor (sorted by name), the total element count, then the metadata. Kept apart from
 * the reader so the format code stays free of presentation. */
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "core/status.h"

/* Room for "(" + ST_MAX_DIMS 20-digit entries with ", " + ")". */
#define DESCRIBE_SHAPE_MAX (ST_MAX_DIMS * 22 + 4)

static int describe_cmp(const void *a, const void *b)
{
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

/* Metadata values are often JSON blobs with newlines; keep one line per key. */
static void describe_print_oneline(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            fputs("\\n", out);
        else if (*s == '\r')
            fputs("\\r", out);
        else if (*s == '\t')
            fputs("\\t", out);
        else
            fputc(*s, out);
    }
}

static void describe_tensors(FILE *out, const st_tensor *const *order, int count)
{
    int name_w = (int)strlen("name"), shape_w = (int)strlen("shape");
    char shape[DESCRIBE_SHAPE_MAX];
    for (int i = 0; i < count; i++) {
        int n = (int)strlen(order[i]->name);
        name_w = n > name_w ? n : name_w;
        st_shape_string(shape, sizeof shape, order[i]->ndim, order[i]->shape);
        n = (int)strlen(shape);
        shape_w = n > shape_w ? n : shape_w;
    }
    fprintf(out, "%-*s  %-5s  %-*s  %s\n", name_w, "name", "dtype", shape_w, "shape", "numel");
    int64_t total = 0;
    for (int i = 0; i < count; i++) {
        const st_tensor *t = order[i];
        st_shape_string(shape, sizeof shape, t->ndim, t->shape);
        fprintf(out, "%-*s  %-5s  %-*s  %lld\n", name_w, t->name, st_dtype_name(t->dtype), shape_w, shape,
                (long long)t->numel);
        total += t->numel; /* cannot overflow: each numel·itemsize fits in the file */
    }
    fprintf(out, "%d tensors, %lld parameters\n", count, (long long)total);
}

sara_status safetensors_describe(const char *path, FILE *out)
{
    st_file *f;
    SARA_TRY(safetensors_open(path, &f));
    const st_tensor **order = malloc(((size_t)f->count + 1) * sizeof *order);
    if (!order) {
        safetensors_close(f);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < f->count; i++)
        order[i] = &f->tensors[i];
    qsort(order, (size_t)f->count, sizeof *order, describe_cmp);
    fprintf(out, "%s\n", path);
    describe_tensors(out, order, f->count);
    if (f->meta_count) {
        int key_w = 0;
        for (int i = 0; i < f->meta_count; i++) {
            int n = (int)strlen(f->meta_keys[i]);
            key_w = n > key_w ? n : key_w;
        }
        fprintf(out, "metadata:\n");
        for (int i = 0; i < f->meta_count; i++) {
            fprintf(out, "  %-*s  ", key_w, f->meta_keys[i]);
            describe_print_oneline(out, f->meta_values[i]);
            fputc('\n', out);
        }
    } else {
        fprintf(out, "metadata: none\n");
    }
    free(order);
    safetensors_close(f);
    return SARA_OK;
}
