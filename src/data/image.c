/* image.c — PNG and JPEG decoding, PNG writing and sample grids. Both libraries report errors
 * by longjmp here: libpng through its own jmp_buf (png_jmpbuf) with a message-recording error
 * function, libjpeg through a custom error_exit. Everything allocated after a setjmp lives in a
 * context struct owned by the caller's frame, so it is still reachable (and freed) after the
 * jump. Files are read whole into memory first: decoders then never hold a FILE across a jump. */
#include "data/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* jpeglib.h needs FILE and size_t declared first. */
#include <jpeglib.h>
#include <jerror.h>

#include "core/atomic_file.h"
#include "core/status.h"

#define ERR_MSG_MAX 256

/* ---- whole-file read ------------------------------------------------------------------------- */

static sara_status file_read_all(const char *path, uint8_t **data, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sara_fail(SARA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return sara_fail(SARA_ERR_IO, "%s: cannot read: not a regular file", path);
    }
    long n = (long)st.st_size;
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf) {
        fclose(fp);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, n);
    }
    size_t got = fread(buf, 1, (size_t)n, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || got != (size_t)n) {
        free(buf);
        return sara_fail(SARA_ERR_IO, "%s: read failed", path);
    }
    *data = buf;
    *size = (size_t)n;
    return SARA_OK;
}

static sara_status image_check_dims(const char *path, long long w, long long h)
{
    if (w <= 0 || h <= 0 || w * h > IMAGE_MAX_PIXELS)
        return sara_fail(SARA_ERR_FORMAT, "%s: unsupported image size %lldx%lld", path, w, h);
    return SARA_OK;
}

/* ---- PNG decoding ---------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char msg[ERR_MSG_MAX];   /* libpng's error text */
    uint8_t *pixels;         /* (h, w, c), allocated after setjmp */
    png_bytep *rows;         /* (h) */
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* warnings are benign by libpng's definition; stay silent */
}

static void png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
    png_ctx *ctx = png_get_io_ptr(png);
    if (n > ctx->size - ctx->pos)
        png_error(png, "file is truncated");
    memcpy(out, ctx->data + ctx->pos, n);
    ctx->pos += n;
}

/* deflate never expands data by more than this factor (258-byte matches coded in 2 bits). */
#define ZLIB_MAX_RATIO 1032
#define PNG_SIGNATURE_BYTES 8
#define PNG_CHUNK_OVERHEAD 12 /* length, type, CRC */

/* Bytes of compressed image data (the IDAT chunks) in a PNG held in memory; chunk structure
 * errors stop the count (libpng reports them itself). */
static size_t png_idat_bytes(const uint8_t *data, size_t size)
{
    size_t pos = PNG_SIGNATURE_BYTES, total = 0;
    while (pos <= size && size - pos >= PNG_CHUNK_OVERHEAD) {
        size_t len = (size_t)data[pos] << 24 | (size_t)data[pos + 1] << 16 | (size_t)data[pos + 2] << 8 | data[pos + 3];
        if (len > size - pos - PNG_CHUNK_OVERHEAD)
            break;
        if (!memcmp(data + pos + 4, "IDAT", 4))
            total += len;
        pos += len + PNG_CHUNK_OVERHEAD;
    }
    return total;
}

/* Our own refusals inside png_decode_body. */
enum { PNG_BODY_OK, PNG_BODY_TOO_LARGE, PNG_BODY_TOO_LITTLE_DATA };

/* Runs between setjmp and any longjmp; returns a PNG_BODY_* code. */
static int png_decode_body(png_structp png, png_infop info, png_ctx *ctx, int *w, int *h, int *c)
{
    png_read_info(png, info);
    png_uint_32 pw, ph;
    int depth, color, interlace;
    png_get_IHDR(png, info, &pw, &ph, &depth, &color, &interlace, NULL, NULL);
    if ((long long)pw * (long long)ph > IMAGE_MAX_PIXELS)
        return PNG_BODY_TOO_LARGE;
    /* The rows (one filter byte each) must be inflatable from the IDAT bytes present: otherwise
     * the file is truncated, and a few bytes must not reserve the pixels of a huge header
     * (found by fuzzing the image decoder). */
    unsigned long long row_bytes = ((unsigned long long)pw * png_get_channels(png, info) * (unsigned)depth + 7) / 8;
    if ((row_bytes + 1) * ph > (unsigned long long)ZLIB_MAX_RATIO * png_idat_bytes(ctx->data, ctx->size) + 1)
        return PNG_BODY_TOO_LITTLE_DATA;
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_scale_16(png);
    /* Palette expansion also turns tRNS into an alpha channel, so strip that too. */
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    if ((ch != 1 && ch != 3) || png_get_rowbytes(png, info) != (size_t)pw * (size_t)ch)
        png_error(png, "unexpected pixel layout after conversion");
    ctx->pixels = malloc((size_t)pw * ph * ch);
    ctx->rows = malloc(ph * sizeof *ctx->rows);
    if (!ctx->pixels || !ctx->rows)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < ph; y++)
        ctx->rows[y] = ctx->pixels + (size_t)y * pw * ch;
    png_read_image(png, ctx->rows);
    png_read_end(png, NULL);
    *w = (int)pw, *h = (int)ph, *c = ch;
    return PNG_BODY_OK;
}

static sara_status png_decode(const char *path, const uint8_t *data, size_t size, uint8_t **pixels, int *w,
                              int *h, int *c)
{
    png_ctx ctx = {.data = data, .size = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory creating PNG decoder", path);
    }
    png_set_read_fn(png, &ctx, png_read_mem);
    sara_status s = SARA_OK;
    int body = PNG_BODY_OK;
    if (setjmp(png_jmpbuf(png)))
        s = sara_fail(SARA_ERR_FORMAT, "%s: corrupt PNG: %s", path, ctx.msg);
    else if ((body = png_decode_body(png, info, &ctx, w, h, c)) == PNG_BODY_TOO_LARGE)
        s = sara_fail(SARA_ERR_FORMAT, "%s: PNG larger than %lld pixels", path, (long long)IMAGE_MAX_PIXELS);
    else if (body == PNG_BODY_TOO_LITTLE_DATA)
        s = sara_fail(SARA_ERR_FORMAT, "%s: corrupt PNG: %ux%u pixels cannot come from %zu bytes of image data "
                      "(truncated?)", path, png_get_image_width(png, info), png_get_image_height(png, info),
                      png_idat_bytes(data, size));
    png_destroy_read_struct(&png, &info, NULL);
    free(ctx.rows);
    if (s != SARA_OK) {
        free(ctx.pixels);
        return s;
    }
    *pixels = ctx.pixels;
    return SARA_OK;
}

/* ---- JPEG decoding --------------------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;   /* first: libjpeg casts cinfo->err to this struct */
    jmp_buf jump;
    uint8_t *pixels;             /* (h, w, c), allocated after setjmp */
} jpeg_ctx;

static void jpeg_on_error_exit(j_common_ptr cinfo)
{
    jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
    longjmp(ctx->jump, 1);
}

static void jpeg_on_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print; warnings are counted in num_warnings and checked after decoding */
}

/* A printable message for the last error or warning libjpeg recorded. */
static void jpeg_last_message(j_common_ptr cinfo, char *buf)
{
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    snprintf(buf, ERR_MSG_MAX, "%s", msg);
}

/* Our own refusals, reported without a libjpeg message. */
enum { JPEG_BODY_OK, JPEG_BODY_CMYK, JPEG_BODY_TOO_LARGE, JPEG_BODY_NOMEM };

static int jpeg_decode_body(struct jpeg_decompress_struct *cinfo, jpeg_ctx *ctx, const uint8_t *data,
                            size_t size, int *w, int *h, int *c)
{
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
        return JPEG_BODY_CMYK; /* libjpeg has no CMYK -> RGB conversion */
    cinfo->out_color_space = cinfo->jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_calc_output_dimensions(cinfo);
    long long pw = cinfo->output_width, ph = cinfo->output_height;
    if (pw * ph > IMAGE_MAX_PIXELS)
        return JPEG_BODY_TOO_LARGE;
    jpeg_start_decompress(cinfo);
    int ch = cinfo->output_components;
    size_t stride = (size_t)pw * ch;
    ctx->pixels = malloc(stride * (size_t)ph);
    if (!ctx->pixels)
        return JPEG_BODY_NOMEM;
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = ctx->pixels + stride * cinfo->output_scanline;
        jpeg_read_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_decompress(cinfo);
    *w = (int)pw, *h = (int)ph, *c = ch;
    return JPEG_BODY_OK;
}

static sara_status jpeg_decode(const char *path, const uint8_t *data, size_t size, uint8_t **pixels, int *w,
                               int *h, int *c)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    cinfo.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_on_error_exit;
    ctx.pub.output_message = jpeg_on_output_message;
    char msg[ERR_MSG_MAX];
    sara_status s = SARA_OK;
    if (setjmp(ctx.jump)) {
        jpeg_last_message((j_common_ptr)&cinfo, msg);
        s = sara_fail(SARA_ERR_FORMAT, "%s: corrupt JPEG: %s", path, msg);
    } else {
        jpeg_create_decompress(&cinfo);
        int body = jpeg_decode_body(&cinfo, &ctx, data, size, w, h, c);
        if (body == JPEG_BODY_CMYK)
            s = sara_fail(SARA_ERR_UNSUPPORTED, "%s: CMYK JPEG is not supported (convert it to RGB)", path);
        else if (body == JPEG_BODY_TOO_LARGE)
            s = sara_fail(SARA_ERR_FORMAT, "%s: JPEG larger than %lld pixels", path, (long long)IMAGE_MAX_PIXELS);
        else if (body == JPEG_BODY_NOMEM)
            s = sara_fail(SARA_ERR_NOMEM, "%s: out of memory decoding JPEG", path);
        else if (ctx.pub.num_warnings > 0) {
            jpeg_last_message((j_common_ptr)&cinfo, msg);
            s = sara_fail(SARA_ERR_FORMAT, "%s: corrupt JPEG: %s", path, msg);
        }
    }
    jpeg_destroy_decompress(&cinfo);
    if (s != SARA_OK) {
        free(ctx.pixels);
        return s;
    }
    *pixels = ctx.pixels;
    return SARA_OK;
}

/* ---- public read ----------------------------------------------------------------------------- */

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t jpeg_magic[3] = {0xff, 0xd8, 0xff};

sara_status image_read(const char *path, uint8_t **pixels, int *w, int *h, int *c)
{
    uint8_t *data = NULL;
    size_t size = 0;
    *pixels = NULL;
    SARA_TRY(file_read_all(path, &data, &size));
    sara_status s = image_decode(path, data, size, pixels, w, h, c);
    free(data);
    return s;
}

sara_status image_decode(const char *path, const uint8_t *data, size_t size, uint8_t **pixels, int *w, int *h,
                         int *c)
{
    sara_status s;
    *pixels = NULL;
    if (size >= sizeof png_magic && !memcmp(data, png_magic, sizeof png_magic))
        s = png_decode(path, data, size, pixels, w, h, c);
    else if (size >= sizeof jpeg_magic && !memcmp(data, jpeg_magic, sizeof jpeg_magic))
        s = jpeg_decode(path, data, size, pixels, w, h, c);
    else
        s = sara_fail(SARA_ERR_FORMAT, "%s: not a PNG or JPEG file", path);
    if (s == SARA_OK)
        s = image_check_dims(path, *w, *h);
    if (s != SARA_OK) {
        free(*pixels);
        *pixels = NULL;
    }
    return s;
}

/* ---- PNG writing ----------------------------------------------------------------------------- */

typedef struct {
    atomic_file *af;
    char msg[ERR_MSG_MAX];
    int io_failed;
} png_write_ctx;

static void png_write_on_error(png_structp png, png_const_charp msg)
{
    png_write_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_write_data(png_structp png, png_bytep data, png_size_t n)
{
    png_write_ctx *ctx = png_get_io_ptr(png);
    if (atomic_file_write(ctx->af, data, n) != SARA_OK) {
        ctx->io_failed = 1;
        png_error(png, "write failed");
    }
}

static void png_flush_nop(png_structp png) { (void)png; }

static void png_write_body(png_structp png, png_infop info, const uint8_t *pixels, int w, int h, int c)
{
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, pixels + (size_t)y * w * c);
    png_write_end(png, NULL);
}

sara_status image_write_png(const char *path, const uint8_t *pixels, int w, int h, int c)
{
    if (c != 1 && c != 3)
        return sara_fail(SARA_ERR_INVALID, "%s: cannot write %d channels as PNG (1 or 3)", path, c);
    SARA_TRY(image_check_dims(path, w, h));
    atomic_file af;
    SARA_TRY(atomic_file_open(&af, path));
    png_write_ctx ctx = {.af = &af};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_write_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        atomic_file_abort(&af);
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory creating PNG encoder", path);
    }
    png_set_write_fn(png, &ctx, png_write_data, png_flush_nop);
    sara_status s = SARA_OK;
    if (setjmp(png_jmpbuf(png)))
        s = ctx.io_failed ? SARA_ERR_IO : sara_fail(SARA_ERR_FORMAT, "%s: PNG encoding failed: %s", path, ctx.msg);
    else
        png_write_body(png, info, pixels, w, h, c);
    png_destroy_write_struct(&png, &info);
    if (s != SARA_OK) {
        atomic_file_abort(&af);
        return s;
    }
    return atomic_file_commit(&af);
}

/* ---- grids ----------------------------------------------------------------------------------- */

static uint8_t to_u8(float x)
{
    float v = roundf((x + 1.0f) * 127.5f);
    if (!(v >= 0.0f)) /* also NaN */
        return 0;
    return v > 255.0f ? 255 : (uint8_t)v;
}

sara_status image_write_grid(const char *path, const float *images, int n, int C, int H, int W, int cols)
{
    if (n <= 0 || cols <= 0 || H <= 0 || W <= 0 || (C != 1 && C != 3))
        return sara_fail(SARA_ERR_INVALID, "%s: cannot write a grid of %d images (%d, %d, %d) in %d columns", path,
                         n, C, H, W, cols);
    if (cols > n)
        cols = n;
    int rows = (n + cols - 1) / cols;
    long long gw = (long long)cols * (W + IMAGE_GRID_PAD) + IMAGE_GRID_PAD;
    long long gh = (long long)rows * (H + IMAGE_GRID_PAD) + IMAGE_GRID_PAD;
    SARA_TRY(image_check_dims(path, gw, gh));
    uint8_t *grid = malloc((size_t)gw * gh * C); /* (gh, gw, C) */
    if (!grid)
        return sara_fail(SARA_ERR_NOMEM, "%s: out of memory for a %lldx%lld grid", path, gw, gh);
    memset(grid, IMAGE_GRID_PAD_VALUE, (size_t)gw * gh * C);
    for (int i = 0; i < n; i++) {
        const float *img = images + (size_t)i * C * H * W; /* (C, H, W) */
        size_t y0 = IMAGE_GRID_PAD + (size_t)(i / cols) * (H + IMAGE_GRID_PAD);
        size_t x0 = IMAGE_GRID_PAD + (size_t)(i % cols) * (W + IMAGE_GRID_PAD);
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    grid[((y0 + y) * gw + x0 + x) * C + ch] = to_u8(img[((size_t)ch * H + y) * W + x]);
    }
    sara_status s = image_write_png(path, grid, (int)gw, (int)gh, C);
    free(grid);
    return s;
}
