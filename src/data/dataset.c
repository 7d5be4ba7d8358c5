/* dataset.c — the sara_dataset container and the Fashion-MNIST loader (idx format, read through
 * zlib so gzip and plain files both work). The idx header is trusted for nothing: magic, dims,
 * the image/label count agreement, the byte count and every label are checked. */
#include "data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/status.h"
#include "data/dataset_priv.h"

const char *const fashion_mnist_class_names[FASHION_MNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/* idx magic: two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions. */
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
/* Largest image side accepted from an idx header (Fashion-MNIST is 28). */
#define IDX_MAX_SIDE 4096
/* First buffer size when reading idx data; it doubles as data arrives. */
#define IDX_READ_CHUNK ((size_t)1 << 20)
/* Pixel scaling to [-1, 1]: p / 127.5 - 1. */
#define PIXEL_HALF_RANGE 127.5f

void dataset_free(sara_dataset *d)
{
    free(d->images);
    free(d->labels);
    for (int i = 0; d->class_names && i < d->num_classes; i++)
        free(d->class_names[i]);
    free(d->class_names);
    free(d->source);
    memset(d, 0, sizeof *d);
}

sara_status dataset_alloc(sara_dataset *d, const char *source, int count, int C, int H, int W)
{
    memset(d, 0, sizeof *d);
    d->count = count, d->channels = C, d->height = H, d->width = W;
    d->images = malloc((size_t)count * C * H * W * sizeof *d->images);
    d->labels = malloc((size_t)count * sizeof *d->labels);
    d->source = strdup(source);
    if (!d->images || !d->labels || !d->source) {
        dataset_free(d);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory for %d images of %dx%dx%d", source, count, C, H, W);
    }
    return SARA_OK;
}

sara_status dataset_set_classes(sara_dataset *d, const char *const *names, int n)
{
    for (int i = 0; d->class_names && i < d->num_classes; i++)
        free(d->class_names[i]);
    free(d->class_names);
    d->num_classes = 0;
    d->class_names = calloc(n > 0 ? (size_t)n : 1, sizeof *d->class_names);
    if (!d->class_names)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory for class names", d->source);
    d->num_classes = n;
    for (int i = 0; i < n; i++)
        if (!(d->class_names[i] = strdup(names[i])))
            return sara_fail(SARA_ERR_NOMEM, "%s: out of memory for class names", d->source);
    return SARA_OK;
}

/* ---- idx files ------------------------------------------------------------------------------- */

/* Reads exactly n bytes; a short read names the file as truncated. The n bytes are the part of
 * `what` (total bytes) after its first `before` bytes, for the message. */
static sara_status gz_read_part(gzFile f, const char *path, void *buf, size_t n, const char *what, size_t before,
                                size_t total)
{
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        int got = gzread(f, (char *)buf + done, (unsigned)chunk);
        if (got < 0) {
            int errnum;
            const char *msg = gzerror(f, &errnum);
            if (errnum == Z_BUF_ERROR) /* zlib's code for a stream that stops early */
                return sara_fail(SARA_ERR_FORMAT, "%s: truncated gzip stream while reading %s", path, what);
            return sara_fail(SARA_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg);
        }
        if (got == 0)
            return sara_fail(SARA_ERR_FORMAT, "%s: truncated: %s needs %zu bytes, file has %zu", path, what, total,
                             before + done);
        done += (size_t)got;
    }
    return SARA_OK;
}

static sara_status gz_read_exact(gzFile f, const char *path, void *buf, size_t n, const char *what)
{
    return gz_read_part(f, path, buf, n, what, 0, n);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens an idx file, preferring NAME.gz and falling back to the uncompressed NAME. Reads the
 * magic and `ndim` dimensions into dims. */
static sara_status idx_open(const char *dir, const char *name, uint32_t magic, int ndim, uint32_t *dims,
                            gzFile *out, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/%s.gz", dir, name);
    if (access(path, F_OK) != 0) {
        char plain[4096];
        snprintf(plain, sizeof plain, "%s/%s", dir, name);
        if (access(plain, F_OK) == 0)
            snprintf(path, path_size, "%s", plain);
    }
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return sara_fail(SARA_ERR_IO, "%s: cannot open: %s (install the Debian package dataset-fashion-mnist "
                         "or set SARA_FASHION_MNIST)", path, strerror(errno ? errno : ENOMEM));
    uint8_t head[4 * 4]; /* magic + up to 3 dims */
    sara_status s = gz_read_exact(f, path, head, 4 * (size_t)(1 + ndim), "the idx header");
    if (s == SARA_OK && be32(head) != magic)
        s = sara_fail(SARA_ERR_FORMAT, "%s: bad idx magic 0x%08x (want 0x%08x: unsigned bytes, %d dimensions)",
                      path, be32(head), magic, ndim);
    if (s != SARA_OK) {
        gzclose(f);
        return s;
    }
    for (int i = 0; i < ndim; i++)
        dims[i] = be32(head + 4 * (1 + i));
    *out = f;
    return SARA_OK;
}

/* ---- Fashion-MNIST --------------------------------------------------------------------------- */

typedef struct {
    char images_path[4096], labels_path[4096];
    gzFile images, labels;
    uint32_t count, rows, cols;
    uint8_t *pixels;          /* (count, rows, cols) */
    uint8_t *label_bytes;     /* (count) */
} fmnist_files;

static void fmnist_close(fmnist_files *f)
{
    if (f->images)
        gzclose(f->images);
    if (f->labels)
        gzclose(f->labels);
    free(f->pixels);
    free(f->label_bytes);
}

/* Opens both idx files of a split and checks that their headers agree. */
static sara_status fmnist_open(fmnist_files *f, const char *dir, const char *prefix)
{
    char name[64];
    uint32_t idims[3], ldims[1];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    SARA_TRY(idx_open(dir, name, IDX_MAGIC_IMAGES, 3, idims, &f->images, f->images_path, sizeof f->images_path));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    SARA_TRY(idx_open(dir, name, IDX_MAGIC_LABELS, 1, ldims, &f->labels, f->labels_path, sizeof f->labels_path));
    if (idims[0] != ldims[0])
        return sara_fail(SARA_ERR_FORMAT, "%s: %u images but %s has %u labels", f->images_path, idims[0],
                         f->labels_path, ldims[0]);
    if (idims[0] == 0)
        return sara_fail(SARA_ERR_FORMAT, "%s: dataset is empty (0 images)", f->images_path);
    if (idims[1] == 0 || idims[2] == 0 || idims[1] > IDX_MAX_SIDE || idims[2] > IDX_MAX_SIDE)
        return sara_fail(SARA_ERR_FORMAT, "%s: unsupported image size %ux%u", f->images_path, idims[1], idims[2]);
    f->count = idims[0], f->rows = idims[1], f->cols = idims[2];
    return SARA_OK;
}

/* Reads `total` bytes into a buffer that grows as the data arrives: the header's counts are
 * claims, and a 50-byte file claiming 60000 images of 4096×4096 must fail as truncated, not
 * reserve a terabyte first (found by fuzzing the idx loader). */
static sara_status gz_read_growing(gzFile f, const char *path, uint8_t **out, size_t total, const char *what)
{
    size_t cap = 0, done = 0;
    uint8_t *buf = NULL;
    while (done < total) {
        if (done == cap) {
            size_t ncap = cap ? 2 * cap : IDX_READ_CHUNK;
            ncap = ncap < total ? ncap : total;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return sara_fail(SARA_ERR_NOMEM, "%s: out of memory reading %s", path, what);
            }
            buf = nb, cap = ncap;
        }
        sara_status s = gz_read_part(f, path, buf + done, cap - done, what, done, total);
        if (s != SARA_OK) {
            free(buf);
            return s;
        }
        done = cap;
    }
    *out = buf ? buf : malloc(1);
    return *out ? SARA_OK : sara_fail(SARA_ERR_NOMEM, "%s: out of memory", path);
}

/* Reads the first n images and labels, checking every label. */
static sara_status fmnist_read(fmnist_files *f, uint32_t n)
{
    size_t npix = (size_t)n * f->rows * f->cols;
    SARA_TRY(gz_read_growing(f->images, f->images_path, &f->pixels, npix, "pixel data"));
    SARA_TRY(gz_read_growing(f->labels, f->labels_path, &f->label_bytes, n, "label data"));
    for (uint32_t i = 0; i < n; i++)
        if (f->label_bytes[i] >= FASHION_MNIST_CLASSES)
            return sara_fail(SARA_ERR_FORMAT, "%s: label %u of image %u is out of range [0, %d)", f->labels_path,
                             f->label_bytes[i], i, FASHION_MNIST_CLASSES);
    return SARA_OK;
}

/* Scales and centres image rows×cols bytes onto side×side floats, -1 outside. */
static void fmnist_place(const uint8_t *src, int rows, int cols, float *dst, int side_h, int side_w)
{
    int top = (side_h - rows) / 2, left = (side_w - cols) / 2;
    for (size_t i = 0; i < (size_t)side_h * side_w; i++)
        dst[i] = -1.0f;
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++)
            dst[(size_t)(top + y) * side_w + left + x] = (float)src[y * cols + x] / PIXEL_HALF_RANGE - 1.0f;
}

sara_status dataset_load_fashion_mnist(sara_dataset *d, const char *dir, const char *split, int limit, int pad_to)
{
    memset(d, 0, sizeof *d);
    if (!dir) {
        const char *env = getenv("SARA_FASHION_MNIST");
        dir = env && *env ? env : FASHION_MNIST_DEFAULT_DIR;
    }
    const char *prefix = !split ? NULL : !strcmp(split, "train") ? "train" : !strcmp(split, "test") ? "t10k" : NULL;
    if (!prefix)
        return sara_fail(SARA_ERR_INVALID, "%s: unknown Fashion-MNIST split '%s' (train or test)", dir,
                         split ? split : "(null)");
    fmnist_files f = {0};
    sara_status s = fmnist_open(&f, dir, prefix);
    int rows = (int)f.rows, cols = (int)f.cols;
    if (s == SARA_OK && (pad_to < 0 || (pad_to > 0 && (pad_to < rows || pad_to < cols))))
        s = sara_fail(SARA_ERR_INVALID, "%s: cannot pad %dx%d images to %d", f.images_path, rows, cols, pad_to);
    uint32_t n = limit > 0 && (uint32_t)limit < f.count ? (uint32_t)limit : f.count;
    if (s == SARA_OK)
        s = fmnist_read(&f, n);
    int H = pad_to > 0 ? pad_to : rows, W = pad_to > 0 ? pad_to : cols;
    if (s == SARA_OK)
        s = dataset_alloc(d, f.images_path, (int)n, 1, H, W);
    if (s == SARA_OK)
        s = dataset_set_classes(d, fashion_mnist_class_names, FASHION_MNIST_CLASSES);
    if (s == SARA_OK) {
        for (uint32_t i = 0; i < n; i++) {
            fmnist_place(f.pixels + (size_t)i * rows * cols, rows, cols, d->images + (size_t)i * H * W, H, W);
            d->labels[i] = f.label_bytes[i];
        }
    }
    fmnist_close(&f);
    if (s != SARA_OK)
        dataset_free(d);
    return s;
}
