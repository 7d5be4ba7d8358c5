/* test_data.c — image codecs, resampling, grids, the dataset loaders and the data order.
 * Inputs are made here: PNGs in every colour type through libpng directly (independent of
 * image_write_png), JPEGs through libjpeg, idx files through zlib, folders and metadata.jsonl
 * by hand. Expected pixels are hand-computed; the real Fashion-MNIST check compares with a sum
 * computed by python3's gzip module. */
#include <fcntl.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/batch.h"
#include "data/dataset.h"
#include "data/image.h"
#include "test.h"

/* ---- helpers that make inputs ---------------------------------------------------------------- */

static void make_dir(const char *path) { mkdir(path, 0755); }

/* Writes rows (h, rowbytes) as a PNG of any colour type and depth with libpng's own defaults. */
static int png_write_raw(const char *path, int w, int h, int color, int depth, const uint8_t *data,
                         const png_color *palette, int npal, const png_byte *trns, int ntrns)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette)
        png_set_PLTE(png, info, palette, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, data + (size_t)y * rowbytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    return 1;
}

/* Writes pixels (h, w, c), c in {1, 3, 4 (CMYK)}, as a baseline JPEG. */
static int jpeg_write(const char *path, const uint8_t *pixels, int w, int h, int c, int quality)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, fp);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : c == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.comp_info[0].h_samp_factor = cinfo.comp_info[0].v_samp_factor = 1; /* 4:4:4, no chroma blur */
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * w * c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(fp);
    return 1;
}

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Writes an idx file through gzip: magic, dims (ndim), then nbytes of data. */
static int idx_write(const char *path, uint32_t magic, int ndim, const uint32_t *dims, const uint8_t *data,
                     size_t nbytes)
{
    gzFile f = gzopen(path, "wb");
    if (!f)
        return 0;
    uint8_t head[16];
    be32_put(head, magic);
    for (int i = 0; i < ndim; i++)
        be32_put(head + 4 * (1 + i), dims[i]);
    int ok = gzwrite(f, head, (unsigned)(4 * (1 + ndim))) == 4 * (1 + ndim);
    if (nbytes)
        ok = ok && gzwrite(f, data, (unsigned)nbytes) == (int)nbytes;
    return gzclose(f) == Z_OK && ok;
}

/* Copies the first n bytes of src to dst. */
static int file_truncate_copy(const char *src, const char *dst, long n)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int ok = in && out;
    for (long i = 0; ok && i < n; i++) {
        int ch = fgetc(in);
        ok = ch != EOF && fputc(ch, out) != EOF;
    }
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    return ok;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Redirects stderr to a file, so a test can prove a library printed nothing. */
static int stderr_saved = -1;
static void stderr_capture_begin(void)
{
    fflush(stderr);
    stderr_saved = dup(2);
    int fd = open(test_tmp_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}
static long stderr_capture_end(void)
{
    fflush(stderr);
    dup2(stderr_saved, 2);
    close(stderr_saved);
    return file_size(test_tmp_path("stderr.txt"));
}

/* A PNG written by image_write_png: (h, w, c) filled with f(y, x, ch). */
static int png_write_pattern(const char *path, int w, int h, int c, int base)
{
    uint8_t *px = malloc((size_t)w * h * c);
    for (int i = 0; i < w * h * c; i++)
        px[i] = (uint8_t)(base + 7 * i);
    int ok = image_write_png(path, px, w, h, c) == SARA_OK;
    free(px);
    return ok;
}

/* ---- codecs ---------------------------------------------------------------------------------- */

TEST(data_png_roundtrip_grey_and_rgb)
{
    for (int c = 1; c <= 3; c += 2) {
        const int w = 5, h = 3;
        uint8_t src[5 * 3 * 3];
        for (int i = 0; i < w * h * c; i++)
            src[i] = (uint8_t)(i * 17 + 3);
        const char *path = test_tmp_path(c == 1 ? "grey.png" : "rgb.png");
        CHECK_OK(image_write_png(path, src, w, h, c));
        uint8_t *got;
        int gw, gh, gc;
        CHECK_OK(image_read(path, &got, &gw, &gh, &gc));
        CHECK(gw == w && gh == h && gc == c);
        CHECK(!memcmp(got, src, (size_t)w * h * c));
        free(got);
    }
    CHECK_ERR(image_write_png(test_tmp_path("x.png"), (const uint8_t *)"abcd", 1, 1, 4), SARA_ERR_INVALID, "x.png");
}

TEST(data_png_colour_types_convert_to_8bit_grey_or_rgb)
{
    uint8_t *px;
    int w, h, c;
    /* 16-bit grey: png_set_scale_16 rounds v * 255 / 65535: 0x1234 -> 18.13 -> 18, 0xffff -> 255. */
    const uint8_t g16[4] = {0x12, 0x34, 0xff, 0xff};
    CHECK(png_write_raw(test_tmp_path("g16.png"), 2, 1, PNG_COLOR_TYPE_GRAY, 16, g16, NULL, 0, NULL, 0));
    CHECK_OK(image_read(test_tmp_path("g16.png"), &px, &w, &h, &c));
    CHECK(w == 2 && h == 1 && c == 1 && px[0] == 18 && px[1] == 255);
    free(px);
    /* 1-bit grey: bits 1,0,1 -> 255, 0, 255. */
    const uint8_t g1[1] = {0xa0};
    CHECK(png_write_raw(test_tmp_path("g1.png"), 3, 1, PNG_COLOR_TYPE_GRAY, 1, g1, NULL, 0, NULL, 0));
    CHECK_OK(image_read(test_tmp_path("g1.png"), &px, &w, &h, &c));
    CHECK(w == 3 && c == 1 && px[0] == 255 && px[1] == 0 && px[2] == 255);
    free(px);
    /* grey + alpha: alpha dropped. */
    const uint8_t ga[4] = {10, 0, 200, 255};
    CHECK(png_write_raw(test_tmp_path("ga.png"), 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, NULL, 0, NULL, 0));
    CHECK_OK(image_read(test_tmp_path("ga.png"), &px, &w, &h, &c));
    CHECK(c == 1 && px[0] == 10 && px[1] == 200);
    free(px);
    /* RGBA: alpha dropped. */
    const uint8_t rgba[8] = {1, 2, 3, 0, 4, 5, 6, 128};
    CHECK(png_write_raw(test_tmp_path("rgba.png"), 2, 1, PNG_COLOR_TYPE_RGBA, 8, rgba, NULL, 0, NULL, 0));
    CHECK_OK(image_read(test_tmp_path("rgba.png"), &px, &w, &h, &c));
    CHECK(c == 3 && !memcmp(px, (uint8_t[]){1, 2, 3, 4, 5, 6}, 6));
    free(px);
    /* 16-bit RGB: 0x8000 -> 127.5 rounds to 128 (png_set_scale_16 rounds), 0x0101 -> 1. */
    const uint8_t rgb16[6] = {0x80, 0x00, 0x01, 0x01, 0xff, 0xff};
    CHECK(png_write_raw(test_tmp_path("rgb16.png"), 1, 1, PNG_COLOR_TYPE_RGB, 16, rgb16, NULL, 0, NULL, 0));
    CHECK_OK(image_read(test_tmp_path("rgb16.png"), &px, &w, &h, &c));
    CHECK_MSG(c == 3 && px[0] == 128 && px[1] == 1 && px[2] == 255, "got %d %d %d", px[0], px[1], px[2]);
    free(px);
    /* 4-bit palette: indices 1, 0 looked up. */
    const png_color pal[2] = {{9, 8, 7}, {60, 50, 40}};
    const uint8_t idx4[1] = {0x10};
    CHECK(png_write_raw(test_tmp_path("pal.png"), 2, 1, PNG_COLOR_TYPE_PALETTE, 4, idx4, pal, 2, NULL, 0));
    CHECK_OK(image_read(test_tmp_path("pal.png"), &px, &w, &h, &c));
    CHECK(c == 3 && !memcmp(px, (uint8_t[]){60, 50, 40, 9, 8, 7}, 6));
    free(px);
    /* Palette with tRNS transparency (common in icons): transparency dropped, colours kept. */
    const png_byte trns[2] = {0, 255};
    CHECK(png_write_raw(test_tmp_path("palt.png"), 2, 1, PNG_COLOR_TYPE_PALETTE, 4, idx4, pal, 2, trns, 2));
    CHECK_OK(image_read(test_tmp_path("palt.png"), &px, &w, &h, &c));
    CHECK(c == 3 && !memcmp(px, (uint8_t[]){60, 50, 40, 9, 8, 7}, 6));
    free(px);
}

TEST(data_jpeg_decode_rgb_and_grey)
{
    /* Flat 8x8-aligned colour blocks survive quality-100 JPEG within a couple of levels. */
    enum { W = 16, H = 8 };
    uint8_t rgb[H][W][3], grey[H][W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int left = x < 8;
            rgb[y][x][0] = left ? 200 : 30, rgb[y][x][1] = left ? 100 : 60, rgb[y][x][2] = left ? 50 : 220;
            grey[y][x] = left ? 40 : 210;
        }
    CHECK(jpeg_write(test_tmp_path("c.jpg"), &rgb[0][0][0], W, H, 3, 100));
    CHECK(jpeg_write(test_tmp_path("g.jpeg"), &grey[0][0], W, H, 1, 100));
    uint8_t *px;
    int w, h, c;
    CHECK_OK(image_read(test_tmp_path("c.jpg"), &px, &w, &h, &c));
    CHECK(w == W && h == H && c == 3);
    for (int i = 0; i < W * H * 3; i++)
        CHECK_MSG(abs((int)px[i] - (int)(&rgb[0][0][0])[i]) <= 3, "rgb[%d]: %d vs %d", i, px[i], (&rgb[0][0][0])[i]);
    free(px);
    CHECK_OK(image_read(test_tmp_path("g.jpeg"), &px, &w, &h, &c));
    CHECK(w == W && h == H && c == 1);
    for (int i = 0; i < W * H; i++)
        CHECK_MSG(abs((int)px[i] - (int)(&grey[0][0])[i]) <= 1, "grey[%d]: %d", i, px[i]);
    free(px);
    /* CMYK (print-shop JPEGs): libjpeg cannot convert it, so it is refused by name. */
    uint8_t cmyk[8 * 8 * 4];
    memset(cmyk, 90, sizeof cmyk);
    CHECK(jpeg_write(test_tmp_path("k.jpg"), cmyk, 8, 8, 4, 90));
    CHECK_ERR(image_read(test_tmp_path("k.jpg"), &px, &w, &h, &c), SARA_ERR_UNSUPPORTED, "k.jpg: CMYK JPEG");
}

TEST(data_image_read_errors_are_messages_not_prints)
{
    uint8_t *px;
    int w, h, c;
    CHECK_ERR(image_read(test_tmp_path("absent.png"), &px, &w, &h, &c), SARA_ERR_IO, "absent.png");
    test_write_text(test_tmp_path("text.png"), "hello, I am not an image\n");
    CHECK_ERR(image_read(test_tmp_path("text.png"), &px, &w, &h, &c), SARA_ERR_FORMAT, "not a PNG or JPEG");
    test_write_text(test_tmp_path("empty.jpg"), "");
    CHECK_ERR(image_read(test_tmp_path("empty.jpg"), &px, &w, &h, &c), SARA_ERR_FORMAT, "empty.jpg");
    CHECK_ERR(image_read(test_tmpdir(), &px, &w, &h, &c), SARA_ERR_IO, "cannot read");

    CHECK(png_write_pattern(test_tmp_path("ok.png"), 16, 16, 3, 1));
    long n = file_size(test_tmp_path("ok.png"));
    CHECK(file_truncate_copy(test_tmp_path("ok.png"), test_tmp_path("cut.png"), n / 2));
    /* Flip a byte inside the IDAT data: the chunk CRC no longer matches. */
    FILE *fp = fopen(test_tmp_path("ok.png"), "rb");
    uint8_t buf[4096];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    uint8_t *idat = memmem(buf, len, "IDAT", 4);
    CHECK(idat);
    idat[6] ^= 0x55;
    fp = fopen(test_tmp_path("crc.png"), "wb");
    fwrite(buf, 1, len, fp);
    fclose(fp);

    uint8_t flat[8 * 8 * 3];
    for (int i = 0; i < 8 * 8 * 3; i++)
        flat[i] = (uint8_t)(i * 13);
    CHECK(jpeg_write(test_tmp_path("ok.jpg"), flat, 8, 8, 3, 90));
    CHECK(file_truncate_copy(test_tmp_path("ok.jpg"), test_tmp_path("cut.jpg"), file_size(test_tmp_path("ok.jpg")) / 2));
    test_write_text(test_tmp_path("junk.jpg"), "\xff\xd8\xff garbage that is no JPEG stream at all");

    stderr_capture_begin();
    sara_status s1 = image_read(test_tmp_path("cut.png"), &px, &w, &h, &c);
    char m1[1024];
    snprintf(m1, sizeof m1, "%s", sara_last_error());
    sara_status s2 = image_read(test_tmp_path("crc.png"), &px, &w, &h, &c);
    char m2[1024];
    snprintf(m2, sizeof m2, "%s", sara_last_error());
    sara_status s3 = image_read(test_tmp_path("cut.jpg"), &px, &w, &h, &c);
    char m3[1024];
    snprintf(m3, sizeof m3, "%s", sara_last_error());
    sara_status s4 = image_read(test_tmp_path("junk.jpg"), &px, &w, &h, &c);
    char m4[1024];
    snprintf(m4, sizeof m4, "%s", sara_last_error());
    long printed = stderr_capture_end();
    CHECK_MSG(printed == 0, "libpng/libjpeg printed %ld bytes to stderr", printed);
    CHECK_MSG(s1 == SARA_ERR_FORMAT && test_contains(m1, "cut.png: corrupt PNG"), "%s", m1);
    CHECK_MSG(s2 == SARA_ERR_FORMAT && test_contains(m2, "crc.png: corrupt PNG"), "%s", m2);
    CHECK_MSG(s3 == SARA_ERR_FORMAT && test_contains(m3, "cut.jpg: corrupt JPEG"), "%s", m3);
    CHECK_MSG(s4 == SARA_ERR_FORMAT && test_contains(m4, "junk.jpg: corrupt JPEG"), "%s", m4);
    CHECK(!strchr(m1, '\n') && !strchr(m3, '\n'));
}

/* ---- resampling ------------------------------------------------------------------------------ */

TEST(data_resize_area_and_bilinear_by_hand)
{
    /* Area 3 -> 2: output 0 covers [0, 1.5) = p0 + half of p1, output 1 covers [1.5, 3). */
    const float row[3] = {10, 40, 100};
    float out[2];
    CHECK_OK(image_resize(row, 1, 1, 3, out, 1, 2));
    const float want_area[2] = {(10 + 0.5f * 40) / 1.5f, (0.5f * 40 + 100) / 1.5f};
    CHECK_ALLCLOSE_F32("area 3->2", out, want_area, 2, 1e-4, 0);
    /* Bilinear 2 -> 4 (half-pixel centres at -0.25, 0.25, 0.75, 1.25, clamped): a, .75a+.25b, .25a+.75b, b. */
    const float ab[2] = {0, 100};
    float up[4];
    CHECK_OK(image_resize(ab, 1, 1, 2, up, 1, 4));
    const float want_up[4] = {0, 25, 75, 100};
    CHECK_ALLCLOSE_F32("bilinear 2->4", up, want_up, 4, 1e-4, 0);
    /* 2-D, two channels: 4x4 -> 2x2 area is the 2x2 block means; the vertical axis is resampled too. */
    float img[2 * 16], small[2 * 4];
    for (int i = 0; i < 32; i++)
        img[i] = (float)i;
    CHECK_OK(image_resize(img, 2, 4, 4, small, 2, 2));
    const float want_blocks[8] = {2.5f, 4.5f, 10.5f, 12.5f, 18.5f, 20.5f, 26.5f, 28.5f};
    CHECK_ALLCLOSE_F32("area 4x4->2x2", small, want_blocks, 8, 1e-4, 0);
    /* Same size is a copy. */
    float same[32];
    CHECK_OK(image_resize(img, 2, 4, 4, same, 4, 4));
    CHECK(!memcmp(same, img, sizeof img));
}

TEST(data_fit_square_centre_and_random_crop)
{
    /* 2 rows x 6 columns, size 1: shorter side 2 -> 1, width 6 -> 3 (2x2 block means), centre block kept. */
    float img[12];
    for (int i = 0; i < 12; i++)
        img[i] = (float)i; /* row 0: 0..5, row 1: 6..11 */
    float one;
    CHECK_OK(image_fit_square(img, 1, 2, 6, 1, NULL, &one));
    CHECK_ALLCLOSE_F32("centre block", &one, &(float){(2 + 3 + 8 + 9) / 4.0f}, 1, 1e-5, 0);
    /* Tall 6 rows x 2 columns, size 2: no resize, centre rows 2..3. */
    float sq[4];
    CHECK_OK(image_fit_square(img, 1, 6, 2, 2, NULL, sq));
    const float want_rows[4] = {4, 5, 6, 7};
    CHECK_ALLCLOSE_F32("centre rows", sq, want_rows, 4, 0, 0);
    /* Upscaling a 2x2 to 4x4 is bilinear on both axes: corners stay, the middle is blended. */
    const float c4[4] = {0, 100, 100, 200};
    float big[16];
    CHECK_OK(image_fit_square(c4, 1, 2, 2, 4, NULL, big));
    const float want_big[16] = {0, 25, 75, 100, 25, 50, 100, 125, 75, 100, 150, 175, 100, 125, 175, 200};
    CHECK_ALLCLOSE_F32("bilinear 2x2->4x4", big, want_big, 16, 1e-4, 0);
    /* Random crops: a 2x8 image of column indices, size 2: every window offset 0..6 appears, each
     * window is two adjacent columns, and the same rng state gives the same crop. */
    float cols[16];
    for (int i = 0; i < 16; i++)
        cols[i] = (float)(i % 8);
    int seen[7] = {0};
    for (uint64_t seed = 0; seed < 200; seed++) {
        sara_rng r, r2;
        rng_seed(&r, seed);
        r2 = r;
        float a[4], b[4];
        CHECK_OK(image_fit_square(cols, 1, 2, 8, 2, &r, a));
        CHECK_OK(image_fit_square(cols, 1, 2, 8, 2, &r2, b));
        CHECK(!memcmp(a, b, sizeof a));
        int x = (int)a[0];
        CHECK(x >= 0 && x <= 6 && a[1] == x + 1 && a[2] == x && a[3] == x + 1);
        seen[x] = 1;
    }
    for (int x = 0; x < 7; x++)
        CHECK_MSG(seen[x], "offset %d never drawn", x);
}

TEST(data_channel_conversion)
{
    const uint8_t rgb[6] = {100, 150, 200, 0, 255, 0};
    float luma[2];
    image_to_planes(rgb, 2, 1, 3, 1, luma);
    const float want_luma[2] = {0.299f * 100 + 0.587f * 150 + 0.114f * 200, 0.587f * 255};
    CHECK_ALLCLOSE_F32("luma", luma, want_luma, 2, 1e-4, 0);
    const uint8_t grey[2] = {7, 250};
    float three[6];
    image_to_planes(grey, 2, 1, 1, 3, three);
    const float want_three[6] = {7, 250, 7, 250, 7, 250};
    CHECK_ALLCLOSE_F32("grey->rgb planes", three, want_three, 6, 0, 0);
    float planar[6];
    image_to_planes(rgb, 2, 1, 3, 3, planar);
    const float want_planar[6] = {100, 0, 150, 255, 200, 0};
    CHECK_ALLCLOSE_F32("rgb planes", planar, want_planar, 6, 0, 0);
}

/* ---- grids ----------------------------------------------------------------------------------- */

TEST(data_grid_layout)
{
    /* Three 2x2 grey images in 2 columns: 10x10 PNG, image i at (2 + 4 * (i / 2), 2 + 4 * (i % 2)). */
    const float imgs[3 * 4] = {-1, 1, 0, 0.5f,   /* -> 0, 255, 128 (127.5 rounds up), 191 (191.25) */
                               2, -3, NAN, -0.5f, /* clamped 255, 0; NaN -> 0; 63.75 -> 64 */
                               1, 1, 1, 1};
    const uint8_t want[3][4] = {{0, 255, 128, 191}, {255, 0, 0, 64}, {255, 255, 255, 255}};
    const char *path = test_tmp_path("grid.png");
    CHECK_OK(image_write_grid(path, imgs, 3, 1, 2, 2, 2));
    uint8_t *px;
    int w, h, c;
    CHECK_OK(image_read(path, &px, &w, &h, &c));
    CHECK(w == 10 && h == 10 && c == 1);
    int image_pixels = 0;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 10; x++) {
            int expect = IMAGE_GRID_PAD_VALUE; /* padding and the empty 4th cell */
            for (int i = 0; i < 3; i++) {
                int y0 = 2 + 4 * (i / 2), x0 = 2 + 4 * (i % 2);
                if (y >= y0 && y < y0 + 2 && x >= x0 && x < x0 + 2)
                    expect = want[i][(y - y0) * 2 + (x - x0)], image_pixels++;
            }
            CHECK_MSG(px[y * 10 + x] == expect, "(%d,%d): %d want %d", y, x, px[y * 10 + x], expect);
        }
    CHECK(image_pixels == 12);
    free(px);
    /* RGB: one 1x1 image per channel value, 3 columns (more than n is clamped to n = 2). */
    const float rgb[2 * 3] = {1, -1, 0, -1, -1, 1}; /* (2, 3, 1, 1): red-ish, blue */
    CHECK_OK(image_write_grid(path, rgb, 2, 3, 1, 1, 3));
    CHECK_OK(image_read(path, &px, &w, &h, &c));
    CHECK(w == 2 * 3 + 2 && h == 5 && c == 3);
    const uint8_t *p0 = px + (2 * w + 2) * 3, *p1 = px + (2 * w + 5) * 3;
    CHECK(p0[0] == 255 && p0[1] == 0 && p0[2] == 128);
    CHECK(p1[0] == 0 && p1[1] == 0 && p1[2] == 255);
    free(px);
    CHECK_ERR(image_write_grid(path, rgb, 2, 2, 1, 1, 2), SARA_ERR_INVALID, "grid.png");
}

/* ---- folders --------------------------------------------------------------------------------- */

/* A constant grey w×h PNG with value v. */
static int png_const(const char *path, int w, int h, uint8_t v)
{
    uint8_t px[64];
    memset(px, v, sizeof px);
    return w * h <= 64 && image_write_png(path, px, w, h, 1) == SARA_OK;
}

/* Checks that every pixel of image i of d equals want. */
static int image_is_const(const sara_dataset *d, int i, float want)
{
    size_t per = (size_t)d->channels * d->height * d->width;
    for (size_t p = 0; p < per; p++)
        if (fabsf(d->images[i * per + p] - want) > 1e-6f)
            return 0;
    return 1;
}

TEST(data_folder_class_subfolders)
{
    const char *root = test_tmp_path("classes");
    make_dir(root);
    make_dir(test_tmp_path("classes/b_dogs"));
    make_dir(test_tmp_path("classes/a_cats"));
    CHECK(png_const(test_tmp_path("classes/b_dogs/y.png"), 2, 2, 255));
    CHECK(png_const(test_tmp_path("classes/b_dogs/x.png"), 2, 2, 51));
    CHECK(png_const(test_tmp_path("classes/a_cats/z.png"), 2, 2, 0));
    test_write_text(test_tmp_path("classes/b_dogs/notes.txt"), "ignored\n");
    test_write_text(test_tmp_path("classes/README"), "ignored\n");
    sara_dataset d;
    CHECK_OK(dataset_load_folder(&d, root, 2, 1, 0, 0, NULL, 0));
    CHECK(d.count == 3 && d.channels == 1 && d.height == 2 && d.width == 2);
    CHECK(d.num_classes == 2 && !strcmp(d.class_names[0], "a_cats") && !strcmp(d.class_names[1], "b_dogs"));
    CHECK(d.labels[0] == 0 && d.labels[1] == 1 && d.labels[2] == 1);
    /* Order a_cats/z, b_dogs/x, b_dogs/y; 0 -> -1, 51 -> -0.6, 255 -> 1. */
    CHECK(image_is_const(&d, 0, -1.0f) && image_is_const(&d, 1, -0.6f) && image_is_const(&d, 2, 1.0f));
    dataset_free(&d);
    /* 3 channels replicate grey. */
    CHECK_OK(dataset_load_folder(&d, root, 2, 3, 0, 0, NULL, 0));
    CHECK(d.channels == 3 && image_is_const(&d, 1, -0.6f));
    dataset_free(&d);
    dataset_free(&d); /* safe twice */
}

TEST(data_folder_metadata_jsonl_text_and_label)
{
    const char *root = test_tmp_path("meta");
    make_dir(root);
    CHECK(png_const(test_tmp_path("meta/a.png"), 4, 2, 102));
    CHECK(png_const(test_tmp_path("meta/b.png"), 2, 2, 153));
    uint8_t rgb[2 * 2 * 3] = {100, 150, 200, 100, 150, 200, 100, 150, 200, 100, 150, 200};
    CHECK_OK(image_write_png(test_tmp_path("meta/c.png"), rgb, 2, 2, 3));
    test_write_text(test_tmp_path("meta/metadata.jsonl"), "\xef\xbb\xbf{\"file_name\": \"a.png\", \"text\": \"dog\"}\r\n"
                                                "\n"
                                                "{\"file_name\": \"b.png\", \"text\": \" cat \"}\n"
                                                "{\"file_name\": \"c.png\", \"text\": \"dog\", \"extra\": 1}\n");
    sara_dataset d;
    CHECK_OK(dataset_load_folder(&d, root, 2, 1, 0, 0, NULL, 0));
    CHECK(d.count == 3 && d.num_classes == 2);
    CHECK(!strcmp(d.class_names[0], "cat") && !strcmp(d.class_names[1], "dog"));
    CHECK(d.labels[0] == 1 && d.labels[1] == 0 && d.labels[2] == 1);
    /* 102 -> -0.2 (4x2 -> 4 wide then centre-cropped, constant anyway), 153 -> 0.2,
     * luma(100, 150, 200) = 140.75 -> 140.75 / 127.5 - 1. */
    CHECK(image_is_const(&d, 0, -0.2f) && image_is_const(&d, 1, 0.2f));
    CHECK(image_is_const(&d, 2, 140.75f / 127.5f - 1.0f));
    dataset_free(&d);
    /* Integer labels give classes "0".."max". */
    test_write_text(test_tmp_path("meta/metadata.jsonl"), "{\"file_name\": \"a.png\", \"label\": 2}\n"
                                                "{\"file_name\": \"b.png\", \"label\": 0}\n");
    CHECK_OK(dataset_load_folder(&d, root, 2, 1, 0, 0, NULL, 0));
    CHECK(d.count == 2 && d.num_classes == 3 && !strcmp(d.class_names[2], "2"));
    CHECK(d.labels[0] == 2 && d.labels[1] == 0);
    dataset_free(&d);
    /* With fixed names, the label must be one of them. */
    CHECK_ERR(dataset_load_folder(&d, root, 2, 1, 0, 0, fashion_mnist_class_names, 2), SARA_ERR_FORMAT,
              "label 2 is out of range [0, 2)");
    CHECK(d.images == NULL);
}

TEST(data_folder_txt_captions_onto_fixed_names)
{
    const char *root = test_tmp_path("caps");
    make_dir(root);
    CHECK(png_const(test_tmp_path("caps/1.png"), 2, 2, 0));
    uint8_t flat[8 * 8 * 3];
    memset(flat, 128, sizeof flat);
    CHECK(jpeg_write(test_tmp_path("caps/2.jpg"), flat, 8, 8, 3, 95));
    CHECK(png_const(test_tmp_path("caps/3.png"), 2, 2, 255));
    test_write_text(test_tmp_path("caps/1.txt"), "sneaker\n");
    test_write_text(test_tmp_path("caps/2.txt"), "  ANKLE_BOOT ");
    test_write_text(test_tmp_path("caps/3.txt"), "t-shirt_top");
    sara_dataset d;
    CHECK_OK(dataset_load_folder(&d, root, 4, 1, 0, 0, fashion_mnist_class_names, FASHION_MNIST_CLASSES));
    CHECK(d.count == 3 && d.num_classes == 10 && !strcmp(d.class_names[9], "Ankle boot"));
    CHECK(d.labels[0] == 7 && d.labels[1] == 9 && d.labels[2] == 0);
    /* The JPEG is flat 128 (quality 95 keeps a flat field exact to within a level). */
    for (int p = 0; p < 16; p++)
        CHECK(fabsf(d.images[16 + p] - (128.0f / 127.5f - 1.0f)) <= 1.0f / 127.5f + 1e-6f);
    dataset_free(&d);
    /* Discovered classes: the distinct trimmed captions, sorted. */
    CHECK_OK(dataset_load_folder(&d, root, 4, 3, 1, 7, NULL, 0));
    CHECK(d.num_classes == 3 && !strcmp(d.class_names[0], "ANKLE_BOOT") && !strcmp(d.class_names[1], "sneaker"));
    CHECK(d.labels[0] == 1 && d.labels[1] == 0 && d.labels[2] == 2);
    dataset_free(&d);
    test_write_text(test_tmp_path("caps/3.txt"), "hoodie");
    CHECK_ERR(dataset_load_folder(&d, root, 4, 1, 0, 0, fashion_mnist_class_names, FASHION_MNIST_CLASSES),
              SARA_ERR_INVALID, "3.png: unknown class 'hoodie'");
}

TEST(data_folder_errors)
{
    sara_dataset d;
    CHECK_ERR(dataset_load_folder(&d, test_tmp_path("nowhere"), 8, 1, 0, 0, NULL, 0), SARA_ERR_IO, "nowhere: cannot open");
    make_dir(test_tmp_path("empty"));
    CHECK_ERR(dataset_load_folder(&d, test_tmp_path("empty"), 8, 1, 0, 0, NULL, 0), SARA_ERR_MISSING,
              "empty: no images found");
    CHECK_ERR(dataset_load_folder(&d, test_tmp_path("empty"), 8, 2, 0, 0, NULL, 0), SARA_ERR_INVALID, "channels 2");
    CHECK_ERR(dataset_load_folder(&d, test_tmp_path("empty"), 0, 1, 0, 0, NULL, 0), SARA_ERR_INVALID, "image size 0");

    const char *m = test_tmp_path("m");
    make_dir(m);
    CHECK(png_const(test_tmp_path("m/a.png"), 2, 2, 10));
    const char *meta = test_tmp_path("m/metadata.jsonl");
    test_write_text(meta, "{\"file_name\": \"a.png\", \"text\": \"x\"}\n{\"file_name\": \"a.png\", \"text\": \n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "metadata.jsonl:2: not a JSON object");
    test_write_text(meta, "\n[1, 2]\n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "metadata.jsonl:2: not a JSON object");
    test_write_text(meta, "{\"file_name\": \"a.png\", \"text\": \"x\"}\n{\"text\": \"y\"}\n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "metadata.jsonl:2: no \"file_name\"");
    test_write_text(meta, "{\"file_name\": \"a.png\", \"text\": \"x\"}\n\n{\"file_name\": \"gone.png\", \"text\": \"y\"}\n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_MISSING,
              "metadata.jsonl:3: file 'gone.png' does not exist");
    test_write_text(meta, "{\"file_name\": \"a.png\"}\n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "metadata.jsonl:1: no \"text\"");
    test_write_text(meta, "{\"file_name\": \"a.png\", \"label\": -1}\n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "non-negative integer");
    test_write_text(meta, "{\"file_name\": \"a.png\", \"label\": 1}\n{\"file_name\": \"a.png\", \"text\": \"x\"}\n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "metadata.jsonl:2: no \"label\"");
    test_write_text(test_tmp_path("m/bad.png"), "not a png");
    test_write_text(meta, "{\"file_name\": \"bad.png\", \"text\": \"x\"}\n");
    CHECK_ERR(dataset_load_folder(&d, m, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "bad.png: not a PNG or JPEG");
    CHECK(d.images == NULL && d.count == 0);

    const char *c = test_tmp_path("c");
    make_dir(c);
    CHECK(png_const(test_tmp_path("c/a.png"), 2, 2, 10));
    CHECK(png_const(test_tmp_path("c/b.png"), 2, 2, 10));
    test_write_text(test_tmp_path("c/a.txt"), "x");
    CHECK_ERR(dataset_load_folder(&d, c, 2, 1, 0, 0, NULL, 0), SARA_ERR_MISSING, "b.png: no caption file");
    test_write_text(test_tmp_path("c/b.txt"), " \n");
    CHECK_ERR(dataset_load_folder(&d, c, 2, 1, 0, 0, NULL, 0), SARA_ERR_FORMAT, "b.txt: caption is empty");
}

TEST(data_folder_random_crop_is_seeded)
{
    const char *root = test_tmp_path("wide");
    make_dir(root);
    make_dir(test_tmp_path("wide/k"));
    uint8_t ramp[2 * 8]; /* 2 rows x 8 columns, value 30 * column */
    for (int i = 0; i < 16; i++)
        ramp[i] = (uint8_t)(30 * (i % 8));
    CHECK_OK(image_write_png(test_tmp_path("wide/k/r.png"), ramp, 8, 2, 1));
    sara_dataset a, b;
    CHECK_OK(dataset_load_folder(&a, root, 2, 1, 0, 0, NULL, 0));
    /* Centre crop: columns 3 and 4. */
    CHECK(fabsf(a.images[0] - (90 / 127.5f - 1)) < 1e-6f && fabsf(a.images[1] - (120 / 127.5f - 1)) < 1e-6f);
    dataset_free(&a);
    int differs = 0;
    for (uint64_t seed = 1; seed < 20; seed++) {
        CHECK_OK(dataset_load_folder(&a, root, 2, 1, 1, seed, NULL, 0));
        CHECK_OK(dataset_load_folder(&b, root, 2, 1, 1, seed, NULL, 0));
        CHECK(!memcmp(a.images, b.images, 4 * sizeof(float)));
        differs |= fabsf(a.images[0] - (90 / 127.5f - 1)) > 1e-6f;
        dataset_free(&a);
        dataset_free(&b);
    }
    CHECK(differs);
}

/* ---- Fashion-MNIST --------------------------------------------------------------------------- */

/* Writes a split "train" of 3 images of 2 rows x 3 columns into dir. */
static int fmnist_write(const char *dir, uint32_t image_magic, uint32_t nlabels, uint8_t last_label,
                        size_t pixel_bytes)
{
    static const uint8_t pixels[3 * 6] = {0, 51, 102, 153, 204, 255, /* image 0 */
                                          255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 51};
    const uint8_t labels[3] = {9, 0, last_label};
    char p[700];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    if (!idx_write(p, image_magic, 3, (uint32_t[]){3, 2, 3}, pixels, pixel_bytes))
        return 0;
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    return idx_write(p, 0x801, 1, &nlabels, labels, 3);
}

TEST(data_fashion_mnist_synthetic_idx)
{
    const char *dir = test_tmpdir();
    CHECK(fmnist_write(dir, 0x803, 3, 3, 18));
    sara_dataset d;
    CHECK_OK(dataset_load_fashion_mnist(&d, dir, "train", 0, 4));
    CHECK(d.count == 3 && d.channels == 1 && d.height == 4 && d.width == 4 && d.num_classes == 10);
    CHECK(!strcmp(d.class_names[0], "T-shirt/top") && !strcmp(d.class_names[9], "Ankle boot"));
    CHECK(d.labels[0] == 9 && d.labels[1] == 0 && d.labels[2] == 3);
    /* 2x3 centred on 4x4: top = 1, left = 0 (the odd extra column goes right); outside is -1. */
    const float want0[16] = {-1, -1, -1, -1, -1, -0.6f, -0.2f, -1, 0.2f, 0.6f, 1, -1, -1, -1, -1, -1};
    CHECK_ALLCLOSE_F32("padded image 0", d.images, want0, 16, 1e-6, 0);
    dataset_free(&d);
    /* limit and no padding. */
    CHECK_OK(dataset_load_fashion_mnist(&d, dir, "train", 2, 0));
    CHECK(d.count == 2 && d.height == 2 && d.width == 3);
    const float want1[6] = {1, 1, 1, 1, 1, 1};
    CHECK_ALLCLOSE_F32("image 1", d.images + 6, want1, 6, 0, 0);
    dataset_free(&d);
    /* dir NULL reads $SARA_FASHION_MNIST. */
    setenv("SARA_FASHION_MNIST", dir, 1);
    sara_status s = dataset_load_fashion_mnist(&d, NULL, "train", 1, 0);
    unsetenv("SARA_FASHION_MNIST");
    CHECK_OK(s);
    CHECK(d.count == 1 && test_contains(d.source, dir));
    dataset_free(&d);
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "test", 0, 32), SARA_ERR_IO,
              "t10k-images-idx3-ubyte.gz: cannot open");
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "val", 0, 32), SARA_ERR_INVALID, "unknown Fashion-MNIST split 'val'");
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "train", 0, 2), SARA_ERR_INVALID, "cannot pad 2x3 images to 2");
}

TEST(data_fashion_mnist_idx_errors)
{
    const char *dir = test_tmpdir();
    sara_dataset d;
    CHECK(fmnist_write(dir, 0x802, 3, 3, 18));
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "train", 0, 0), SARA_ERR_FORMAT,
              "train-images-idx3-ubyte.gz: bad idx magic 0x00000802");
    CHECK(fmnist_write(dir, 0x803, 3, 3, 12));
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "train", 0, 0), SARA_ERR_FORMAT,
              "train-images-idx3-ubyte.gz: truncated");
    CHECK_OK(dataset_load_fashion_mnist(&d, dir, "train", 2, 0)); /* the first two are whole */
    dataset_free(&d);
    CHECK(fmnist_write(dir, 0x803, 2, 3, 18));
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "train", 0, 0), SARA_ERR_FORMAT, "3 images but");
    CHECK(fmnist_write(dir, 0x803, 3, 10, 18));
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "train", 0, 0), SARA_ERR_FORMAT,
              "train-labels-idx1-ubyte.gz: label 10 of image 2 is out of range");
    /* A gzip stream cut in the middle. */
    CHECK(fmnist_write(dir, 0x803, 3, 3, 18));
    char full[700], cut[700];
    snprintf(full, sizeof full, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(cut, sizeof cut, "%s/cut.gz", dir);
    CHECK(file_truncate_copy(full, cut, file_size(full) - 12));
    CHECK(rename(cut, full) == 0);
    CHECK_ERR(dataset_load_fashion_mnist(&d, dir, "train", 0, 0), SARA_ERR_FORMAT, "train-images-idx3-ubyte.gz");
    CHECK(d.images == NULL);
}

TEST(data_fashion_mnist_real_files)
{
    const char *dir = FASHION_MNIST_DEFAULT_DIR;
    char probe[256];
    snprintf(probe, sizeof probe, "%s/train-labels-idx1-ubyte.gz", dir);
    if (access(probe, R_OK) != 0) {
        printf("    note: %s absent (Debian package dataset-fashion-mnist); real-data check skipped\n", probe);
        return;
    }
    sara_dataset d;
    CHECK_OK(dataset_load_fashion_mnist(&d, dir, "train", 2, 32));
    CHECK(d.count == 2 && d.height == 32 && d.width == 32 && d.labels[0] == 9 && d.labels[1] == 0);
    /* Pixel sum of train image 0, from python3:
     *   img = gzip.open('.../train-images-idx3-ubyte.gz').read(); sum(img[16:16 + 784]) == 76247
     * The 240 padding pixels are -1, i.e. 0 in pixel space. */
    long sum = 0;
    for (int p = 0; p < 32 * 32; p++)
        sum += lroundf((d.images[p] + 1.0f) * 127.5f);
    CHECK_MSG(sum == 76247, "pixel sum %ld", sum);
    for (int y = 0; y < 32; y++) /* the 2-pixel border is padding */
        CHECK(d.images[y * 32] == -1.0f && d.images[y * 32 + 1] == -1.0f && d.images[y * 32 + 31] == -1.0f);
    dataset_free(&d);
    CHECK_OK(dataset_load_fashion_mnist(&d, dir, "test", 0, 32));
    /* python3: list(gzip.open('.../t10k-labels-idx1-ubyte.gz').read()[8:12]) == [9, 2, 1, 1] */
    CHECK(d.count == 10000 && d.labels[0] == 9 && d.labels[1] == 2 && d.labels[2] == 1 && d.labels[3] == 1);
    dataset_free(&d);
}

/* ---- data order ------------------------------------------------------------------------------ */

TEST(data_order_permutations_and_exact_resume)
{
    enum { N = 10, B = 7, STEPS = 12 };
    data_order o;
    CHECK_OK(data_order_init(&o, N, 1234));
    int64_t seq[STEPS * B];
    int64_t saved_epoch = -1, saved_pos = -1;
    for (int s = 0; s < STEPS; s++) {
        if (s == 5)
            saved_epoch = o.epoch, saved_pos = o.pos;
        data_order_next(&o, seq + s * B, B);
    }
    /* Each epoch (N consecutive draws) is a permutation of 0..N-1. */
    for (int e = 0; e < STEPS * B / N; e++) {
        int seen[N] = {0};
        for (int i = 0; i < N; i++) {
            int64_t v = seq[e * N + i];
            CHECK(v >= 0 && v < N && !seen[v]);
            seen[v] = 1;
        }
    }
    CHECK(memcmp(seq, seq + N, N * sizeof *seq) != 0); /* epochs 0 and 1 differ */
    data_order_free(&o);
    /* Resume from (epoch, pos) saved before step 5 reproduces steps 5.. exactly. */
    data_order r;
    CHECK_OK(data_order_init(&r, N, 1234));
    CHECK_OK(data_order_restore(&r, saved_epoch, saved_pos));
    for (int s = 5; s < STEPS; s++) {
        int64_t got[B];
        data_order_next(&r, got, B);
        CHECK_MSG(!memcmp(got, seq + s * B, sizeof got), "step %d differs after resume", s);
    }
    /* An exhausted epoch (pos == n) continues like the next epoch's start. */
    int64_t a[3], b[3];
    CHECK_OK(data_order_restore(&r, 3, N));
    data_order_next(&r, a, 3);
    CHECK_OK(data_order_restore(&r, 4, 0));
    data_order_next(&r, b, 3);
    CHECK(!memcmp(a, b, sizeof a) && r.epoch == 4 && r.pos == 3);
    CHECK_ERR(data_order_restore(&r, 0, N + 1), SARA_ERR_INVALID, "position 11");
    data_order_free(&r);
    /* Another seed gives another order. */
    data_order o2;
    CHECK_OK(data_order_init(&o2, N, 1235));
    int64_t other[N];
    data_order_next(&o2, other, N);
    CHECK(memcmp(other, seq, sizeof other) != 0);
    data_order_free(&o2);
    CHECK_ERR(data_order_init(&o2, 0, 1), SARA_ERR_INVALID, "must be positive");
}

TEST(data_gather_copies_images_and_labels)
{
    float images[3 * 2] = {0, 1, 10, 11, 20, 21};
    int64_t labels[3] = {5, 6, 7};
    sara_dataset d = {.count = 3, .channels = 1, .height = 1, .width = 2, .images = images, .labels = labels};
    const int64_t idx[4] = {2, 0, 2, 1};
    float x[4 * 2];
    int64_t y[4];
    dataset_gather(&d, idx, 4, x, y);
    const float want[8] = {20, 21, 0, 1, 20, 21, 10, 11};
    CHECK_ALLCLOSE_F32("gathered", x, want, 8, 0, 0);
    CHECK(y[0] == 7 && y[1] == 5 && y[2] == 7 && y[3] == 6);
}
