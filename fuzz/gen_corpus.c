/* gen_corpus.c — writes the committed seed corpus fuzz/corpus/<target>/ (`make fuzz-corpus`):
 * for every target a few valid inputs ("ok-*", which must load) and a few malformed ones
 * ("bad-*", which must be refused with a one-line message naming the input). Valid files come
 * from the library's own writers (safetensors, adapters, PNG) and from libpng / libjpeg / zlib
 * directly for the variants the library never writes; malformed ones are valid ones cut, flipped
 * or hand-written. Deterministic: rerunning rewrites the same bytes. Regression inputs found by
 * fuzzing ("regress-*") are added by hand and are not rewritten here. */
#include <stdio.h> /* before jpeglib.h, which uses FILE and size_t */
#include <stdlib.h>
#include <jpeglib.h>
#include <png.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/params.h"
#include "core/safetensors.h"
#include "data/image.h"
#include "fuzz.h"
#include "peft/adapter.h"

#define CORPUS "fuzz/corpus"
#define MAX_FILE (1 << 16)

static int failures;

static void fail(const char *what)
{
    fprintf(stderr, "gen_corpus: %s\n", what);
    failures++;
}

static const char *path_of(const char *target, const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, CORPUS "/%s/%s", target, name);
    return path;
}

static void put(const char *target, const char *name, const void *data, size_t n)
{
    FILE *fp = fopen(path_of(target, name), "wb");
    if (!fp || fwrite(data, 1, n, fp) != n || fclose(fp) != 0)
        fail(path_of(target, name));
}

static void put_text(const char *target, const char *name, const char *text) { put(target, name, text, strlen(text)); }

/* Reads a corpus file back (for cutting and flipping); returns its size, 0 if unreadable. */
static size_t get(const char *target, const char *name, uint8_t *buf)
{
    FILE *fp = fopen(path_of(target, name), "rb");
    size_t n = fp ? fread(buf, 1, MAX_FILE, fp) : 0;
    if (fp)
        fclose(fp);
    if (!n)
        fail(path_of(target, name));
    return n;
}

/* A safetensors file from a hand-written header and data bytes. */
static void put_raw_st(const char *target, const char *name, const char *header, const void *data, size_t n)
{
    static uint8_t buf[MAX_FILE];
    uint64_t len = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(len >> (8 * i));
    memcpy(buf + 8, header, len);
    if (n)
        memcpy(buf + 8 + len, data, n);
    put(target, name, buf, 8 + len + n);
}

/* ---- safetensors ------------------------------------------------------------------------------ */

static void gen_safetensors(void)
{
    const char *t = "safetensors";
    static uint8_t bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)(i * 37 + 11);
    st_writer *w = NULL;
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s22[2] = {2, 2}, s3[1] = {3}, s2[1] = {2}, s5[1] = {5}, s05[2] = {0, 5};
    float f32[6] = {0.5f, -1.25f, 3.0f, 0.0f, -0.0f, 1e-3f};
    sara_status s = st_writer_create(&w);
    if (s == SARA_OK)
        s = st_writer_add(w, "a.f32", ST_F32, 2, s23, f32);
    if (s == SARA_OK)
        s = st_writer_add(w, "b.f16", ST_F16, 1, s4, bytes);
    if (s == SARA_OK)
        s = st_writer_add(w, "c.bf16", ST_BF16, 2, s22, bytes + 8);
    if (s == SARA_OK)
        s = st_writer_add(w, "d.f64", ST_F64, 1, s3, bytes + 16);
    if (s == SARA_OK)
        s = st_writer_add(w, "e.i64", ST_I64, 1, s2, bytes + 40);
    if (s == SARA_OK)
        s = st_writer_add(w, "f.i32", ST_I32, 1, s3, bytes + 56);
    if (s == SARA_OK)
        s = st_writer_add(w, "g.i16", ST_I16, 1, s2, bytes + 68);
    if (s == SARA_OK)
        s = st_writer_add(w, "h.i8", ST_I8, 1, s4, bytes + 72);
    if (s == SARA_OK)
        s = st_writer_add(w, "i.u8", ST_U8, 1, s5, bytes + 76);
    if (s == SARA_OK)
        s = st_writer_add(w, "j.bool", ST_BOOL, 1, s3, bytes + 81);
    if (s == SARA_OK)
        s = st_writer_add(w, "k.scalar", ST_F32, 0, NULL, f32);
    if (s == SARA_OK)
        s = st_writer_add(w, "l.empty", ST_F32, 2, s05, NULL);
    if (s == SARA_OK)
        s = st_writer_meta(w, "format", "pt");
    if (s == SARA_OK)
        s = st_writer_meta(w, "note", "line one\nline two");
    if (s == SARA_OK)
        s = st_writer_write(w, path_of(t, "ok-all-dtypes"));
    st_writer_free(w);
    if (s != SARA_OK)
        fail(sara_last_error());
    put_raw_st(t, "ok-empty-header", "{}", NULL, 0);
    put_raw_st(t, "ok-metadata-only", "{\"__metadata__\":{\"format\":\"pt\"}}", NULL, 0);

    static uint8_t buf[MAX_FILE];
    size_t n = get(t, "ok-all-dtypes", buf);
    put(t, "bad-truncated-data", buf, n - 7);
    put(t, "bad-truncated-header", buf, 40);
    put(t, "bad-too-short", buf, 5);
    uint8_t huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    put(t, "bad-header-length-huge", huge, 10);
    put_raw_st(t, "bad-unknown-dtype", "{\"x\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", bytes, 4);
    put_raw_st(t, "bad-unsupported-dtype", "{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}",
               bytes, 4);
    put_raw_st(t, "bad-size-mismatch", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", bytes,
               12);
    put_raw_st(t, "bad-shape-overflow",
               "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,0]}}", NULL, 0);
    put_raw_st(t, "bad-negative-shape", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", NULL, 0);
    put_raw_st(t, "bad-offsets-outside", "{\"x\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", bytes, 8);
    put_raw_st(t, "bad-overlap",
               "{\"x\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
               "\"y\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
               bytes, 6);
    put_raw_st(t, "bad-duplicate-name",
               "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
               bytes, 2);
    put_raw_st(t, "bad-metadata-not-string", "{\"__metadata__\":{\"k\":1}}", NULL, 0);
    put_raw_st(t, "bad-not-json", "{\"x\":", NULL, 0);
    put_raw_st(t, "bad-control-byte", "{\"x\x01\":{}}", NULL, 0);
}

/* ---- adapters ---------------------------------------------------------------------------------- */

static void gen_adapter(void)
{
    const char *t = "adapter";
    param_table base, trained;
    char hash[SHA256_HEX_CHARS];
    if (fuzz_adapter_base(&base) != SARA_OK || fuzz_adapter_base(&trained) != SARA_OK ||
        adapter_base_hash(&base, hash) != SARA_OK) {
        fail(sara_last_error());
        return;
    }
    /* SaRA: entries 1, 5, 17 of conv.weight and 0, 23 of proj.weight were trained. */
    int64_t idx_conv[3] = {1, 5, 17}, idx_proj[2] = {0, 23}, nnz[4] = {3, 0, 2, 0};
    float p0_conv[3], p0_proj[2];
    for (int k = 0; k < 3; k++) {
        p0_conv[k] = params_ptr(&base, 0)[idx_conv[k]];
        params_ptr(&trained, 0)[idx_conv[k]] += 0.125f * (float)(k + 1);
    }
    for (int k = 0; k < 2; k++) {
        p0_proj[k] = params_ptr(&base, 2)[idx_proj[k]];
        params_ptr(&trained, 2)[idx_proj[k]] -= 0.0625f;
    }
    const int64_t *index[4] = {idx_conv, NULL, idx_proj, NULL};
    const float *p0[4] = {p0_conv, NULL, p0_proj, NULL};
    adapter_source src = {.method = "sara", .threshold = 2e-3, .steps = 10, .base_sha256 = hash,
                          .base_params = (int64_t)base.numel, .config_json = "{\"method\":\"sara\"}",
                          .nnz = nnz, .index = index, .p0 = p0};
    if (adapter_write(path_of(t, "ok-sara"), &trained, &src) != SARA_OK)
        fail(sara_last_error());

    /* LoRA, rank 2, on both weights. */
    float a_conv[2 * 18], b_conv[4 * 2], a_proj[2 * 4], b_proj[6 * 2];
    for (int i = 0; i < 36; i++)
        a_conv[i] = (float)(i % 5) / 8.0f - 0.25f;
    for (int i = 0; i < 8; i++)
        b_conv[i] = a_proj[i] = (float)(i % 3) / 4.0f;
    for (int i = 0; i < 12; i++)
        b_proj[i] = (float)i / 16.0f;
    int64_t sa[4] = {2, 2, 3, 3}, sb[4] = {4, 2, 1, 1}, pa[2] = {2, 4}, pb[2] = {6, 2};
    st_writer *w = NULL;
    sara_status s = st_writer_create(&w);
    if (s == SARA_OK)
        s = st_writer_add(w, "conv.lora_A.weight", ST_F32, 4, sa, a_conv);
    if (s == SARA_OK)
        s = st_writer_add(w, "conv.lora_B.weight", ST_F32, 4, sb, b_conv);
    if (s == SARA_OK)
        s = st_writer_add(w, "proj.lora_A.weight", ST_F32, 2, pa, a_proj);
    if (s == SARA_OK)
        s = st_writer_add(w, "proj.lora_B.weight", ST_F32, 2, pb, b_proj);
    const char *meta[][2] = {{"format", ADAPTER_FORMAT}, {"version", "1"}, {"method", "lora"}, {"rank", "2"},
                             {"alpha", "4"}, {"steps", "10"}, {"base_sha256", hash}};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        if (s == SARA_OK)
            s = st_writer_meta(w, meta[i][0], meta[i][1]);
    if (s == SARA_OK)
        s = st_writer_write(w, path_of(t, "ok-lora"));
    st_writer_free(w);
    if (s != SARA_OK)
        fail(sara_last_error());

    /* Hand-written SaRA adapters around one tensor of proj.weight. */
    char header[2048];
    const char *sara_meta = "\"__metadata__\":{\"format\":\"sara-adapter\",\"version\":\"1\",\"method\":\"sara\","
                            "\"base_sha256\":\"00\",\"shapes\":\"{\\\"proj.weight\\\":[%s]}\"}";
    int32_t idx[3] = {3, 1, 30};
    float delta[3] = {0.5f, -0.5f, 0.25f};
    uint8_t data[24];
    struct {
        const char *name, *shape, *idx_dtype;
        int first, count; /* which indices */
        int nan;
    } cases[] = {
        {"bad-index-unsorted", "6,4", "I32", 0, 2, 0},
        {"bad-index-out-of-range", "6,4", "I32", 1, 2, 0},  /* 1, 30 with 24 entries */
        {"bad-shape-vs-model", "6,5", "I32", 1, 1, 0},      /* the model's proj.weight is (6, 4) */
        {"bad-delta-nan", "6,4", "I32", 1, 1, 1},
        {"bad-index-dtype", "6,4", "F32", 1, 1, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int k = cases[c].count;
        memcpy(data, idx + cases[c].first, 4 * (size_t)k);
        float d[3];
        memcpy(d, delta, sizeof d);
        if (cases[c].nan)
            d[0] = 0.0f / 0.0f;
        memcpy(data + 4 * k, d, 4 * (size_t)k);
        char m[512];
        snprintf(m, sizeof m, sara_meta, cases[c].shape);
        snprintf(header, sizeof header,
                 "{%s,\"proj.weight.sara_index\":{\"dtype\":\"%s\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
                 "\"proj.weight.sara_delta\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%d,%d]}}",
                 m, cases[c].idx_dtype, k, 4 * k, k, 4 * k, 8 * k);
        put_raw_st(t, cases[c].name, header, data, 8 * (size_t)k);
    }
    char m[512];
    snprintf(m, sizeof m, sara_meta, "6,4");
    snprintf(header, sizeof header,
             "{%s,\"proj.weight.sara_index\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", m);
    put_raw_st(t, "bad-missing-delta", header, idx, 4);
    put_raw_st(t, "bad-not-an-adapter", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", delta, 4);
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"format\":\"sara-adapter\",\"method\":\"lora\",\"rank\":\"2\",\"alpha\":\"2\"},"
             "\"proj.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[2,5],\"data_offsets\":[0,40]},"
             "\"proj.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[6,2],\"data_offsets\":[40,88]}}");
    static float zeros[22];
    put_raw_st(t, "bad-lora-shape", header, zeros, 88);
    snprintf(header, sizeof header,
             "{\"__metadata__\":{\"format\":\"sara-adapter\",\"method\":\"lora\",\"rank\":\"2\",\"alpha\":\"2\"},"
             "\"nope.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
             "\"nope.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[6,2],\"data_offsets\":[32,80]}}");
    put_raw_st(t, "bad-lora-unknown-module", header, zeros, 80);
    params_free(&base);
    params_free(&trained);
}

/* ---- config.json ----------------------------------------------------------------------------- */

static void gen_config(void)
{
    const char *t = "config";
    static uint8_t buf[MAX_FILE];
    FILE *fp = fopen("tests/fixtures/unet/tiny/config.json", "rb");
    size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp)
        fclose(fp);
    if (!n)
        fail("tests/fixtures/unet/tiny/config.json (run from the repository root)");
    put(t, "ok-tiny", buf, n);
    put_text(t, "ok-defaults", "{}");
    put_text(t, "ok-ddpm-cifar10",
             "{\"_class_name\":\"UNet2DModel\",\"sample_size\":32,\"block_out_channels\":[128,256,256,256],"
             "\"down_block_types\":[\"DownBlock2D\",\"AttnDownBlock2D\",\"DownBlock2D\",\"DownBlock2D\"],"
             "\"up_block_types\":[\"UpBlock2D\",\"UpBlock2D\",\"AttnUpBlock2D\",\"UpBlock2D\"],"
             "\"layers_per_block\":2,\"attention_head_dim\":null,\"num_class_embeds\":null,\"act_fn\":\"silu\"}");
    put_text(t, "ok-sample-size-pair", "{\"sample_size\":[64,64],\"time_embedding_dim\":null}");
    put_text(t, "bad-not-json", "{\"in_channels\": 3,");
    put_text(t, "bad-not-object", "[1, 2, 3]");
    put_text(t, "bad-wrong-type", "{\"in_channels\": \"3\"}");
    put_text(t, "bad-fraction", "{\"layers_per_block\": 1.5}");
    put_text(t, "bad-unsupported-act", "{\"act_fn\": \"gelu\"}");
    put_text(t, "bad-list-lengths", "{\"block_out_channels\": [32, 64]}");
    put_text(t, "bad-not-divisible", "{\"norm_num_groups\": 5}");
    put_text(t, "bad-duplicate-key", "{\"in_channels\": 1, \"in_channels\": 3}");
    put_text(t, "bad-sample-size-odd", "{\"sample_size\": 33}");
    put_text(t, "bad-huge-channels",
             "{\"block_out_channels\":[2147483647],\"down_block_types\":[\"DownBlock2D\"],"
             "\"up_block_types\":[\"UpBlock2D\"],\"norm_num_groups\":1,\"attention_head_dim\":1}");
}

/* ---- images ---------------------------------------------------------------------------------- */

/* A PNG of any libpng colour type and depth; rows are given packed as libpng wants them. */
static void put_png(const char *t, const char *name, int w, int h, int depth, int color, int interlace,
                    const uint8_t *rows, size_t rowbytes)
{
    FILE *fp = fopen(path_of(t, name), "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!fp || !info || setjmp(png_jmpbuf(png))) {
        fail(name);
        if (fp)
            fclose(fp);
        return;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color palette[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
        png_byte alpha[2] = {0, 128};
        png_set_PLTE(png, info, palette, 4);
        png_set_tRNS(png, info, alpha, 2, NULL);
    }
    png_write_info(png, info);
    png_bytep row_ptrs[64];
    for (int y = 0; y < h; y++)
        row_ptrs[y] = (png_bytep)rows + (size_t)y * rowbytes;
    png_write_image(png, row_ptrs);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
}

static void put_jpeg(const char *t, const char *name, const uint8_t *pixels, int w, int h, int c, int progressive)
{
    FILE *fp = fopen(path_of(t, name), "wb");
    if (!fp) {
        fail(name);
        return;
    }
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
    jpeg_set_quality(&cinfo, 90, TRUE);
    if (progressive)
        jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * w * c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    fclose(fp);
}

static void gen_png(void)
{
    const char *t = "png";
    static uint8_t px[16 * 16 * 4];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 29 + (i >> 4) * 7);
    if (image_write_png(path_of(t, "ok-grey8"), px, 5, 3, 1) != SARA_OK ||
        image_write_png(path_of(t, "ok-rgb8"), px, 4, 4, 3) != SARA_OK)
        fail(sara_last_error());
    put_png(t, "ok-rgba8", 3, 2, 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, px, 12);
    put_png(t, "ok-grey-alpha8", 3, 2, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, px, 6);
    put_png(t, "ok-palette2-trns", 8, 2, 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, px, 2);
    put_png(t, "ok-grey16", 3, 3, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, px, 6);
    put_png(t, "ok-grey1", 9, 2, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, px, 2);
    put_png(t, "ok-rgb8-interlaced", 9, 9, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, px, 27);
    put_jpeg(t, "ok-jpeg-rgb", px, 16, 8, 3, 0);
    put_jpeg(t, "ok-jpeg-grey", px, 8, 8, 1, 0);
    put_jpeg(t, "ok-jpeg-progressive", px, 9, 7, 3, 1);
    put_jpeg(t, "bad-jpeg-cmyk", px, 8, 8, 4, 0);

    static uint8_t buf[MAX_FILE];
    size_t n = get(t, "ok-rgb8", buf);
    put(t, "bad-png-truncated", buf, n - 20);
    put(t, "bad-png-signature-only", buf, 8);
    buf[n - 20] ^= 0x55; /* inside IDAT: a CRC (and likely zlib) error */
    put(t, "bad-png-crc", buf, n);
    n = get(t, "ok-grey8", buf);
    memset(buf + 16, 0, 4); /* IHDR width 0 */
    put(t, "bad-png-zero-width", buf, n);
    n = get(t, "ok-jpeg-rgb", buf);
    put(t, "bad-jpeg-truncated", buf, n / 2);
    put_text(t, "bad-not-an-image", "GIF89a not supported here");
    put(t, "bad-empty", "", 0);
}

/* ---- idx ------------------------------------------------------------------------------------- */

static size_t idx_bytes(uint8_t *out, uint32_t magic, int ndim, const uint32_t *dims, const uint8_t *data, size_t n)
{
    uint32_t words[4] = {magic, dims[0], ndim > 1 ? dims[1] : 0, ndim > 2 ? dims[2] : 0};
    for (int i = 0; i <= ndim; i++)
        for (int b = 0; b < 4; b++)
            out[4 * i + b] = (uint8_t)(words[i] >> (24 - 8 * b));
    memcpy(out + 4 * (1 + ndim), data, n);
    return 4 * (size_t)(1 + ndim) + n;
}

static size_t gzip_bytes(uint8_t *out, size_t cap, const uint8_t *in, size_t n)
{
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    return r == Z_STREAM_END ? cap - z.avail_out : 0;
}

/* The idx target's input: options, the images file's length, images, labels. */
static void put_idx(const char *name, uint8_t opts, const uint8_t *images, size_t ni, const uint8_t *labels,
                    size_t nl)
{
    static uint8_t buf[MAX_FILE];
    buf[0] = opts;
    buf[1] = (uint8_t)ni;
    buf[2] = (uint8_t)(ni >> 8);
    memcpy(buf + 3, images, ni);
    memcpy(buf + 3 + ni, labels, nl);
    put("idx", name, buf, 3 + ni + nl);
}

static void gen_idx(void)
{
    static uint8_t pix[5 * 28 * 28], img[8192], lab[64], gz_img[8192], gz_lab[256];
    for (size_t i = 0; i < sizeof pix; i++)
        pix[i] = (uint8_t)(i * 13);
    const uint8_t labels[5] = {0, 9, 5, 3, 1};
    uint32_t d3[3] = {3, 4, 4}, d1[1] = {3};
    size_t ni = idx_bytes(img, 0x803, 3, d3, pix, 3 * 16), nl = idx_bytes(lab, 0x801, 1, d1, labels, 3);
    put_idx("ok-train-plain", 0, img, ni, lab, nl);
    size_t gi = gzip_bytes(gz_img, sizeof gz_img, img, ni), gl = gzip_bytes(gz_lab, sizeof gz_lab, lab, nl);
    put_idx("ok-test-gzip-limit1-pad32", 1 | 1 << 1 | 2 << 3, gz_img, gi, gz_lab, gl);
    uint32_t f3[3] = {2, 28, 28}, f1[1] = {2};
    ni = idx_bytes(img, 0x803, 3, f3, pix, 2 * 784), nl = idx_bytes(lab, 0x801, 1, f1, labels, 2);
    put_idx("ok-28x28-pad28-limit3", 2 << 1 | 1 << 3, img, ni, lab, nl);
    put_idx("bad-pad-smaller-than-image", 3 << 3, img, ni, lab, nl); /* pad_to 4 < 28 */

    ni = idx_bytes(img, 0x803, 3, d3, pix, 3 * 16), nl = idx_bytes(lab, 0x801, 1, d1, labels, 3);
    put_idx("bad-truncated-pixels", 0, img, ni - 5, lab, nl);
    put_idx("bad-truncated-header", 0, img, 9, lab, nl);
    img[3] = 0x02; /* magic 0x802: wrong element count */
    put_idx("bad-magic", 0, img, ni, lab, nl);
    img[3] = 0x03;
    uint32_t two[1] = {2};
    put_idx("bad-count-mismatch", 0, img, ni, lab, idx_bytes(lab, 0x801, 1, two, labels, 2));
    const uint8_t bad_labels[3] = {0, 10, 2};
    put_idx("bad-label-out-of-range", 0, img, ni, lab, idx_bytes(lab, 0x801, 1, d1, bad_labels, 3));
    uint32_t e3[3] = {0, 4, 4}, e1[1] = {0};
    put_idx("bad-empty", 0, img, idx_bytes(img, 0x803, 3, e3, pix, 0), lab, idx_bytes(lab, 0x801, 1, e1, labels, 0));
    uint32_t h3[3] = {1, 5000, 5000}, h1[1] = {1};
    put_idx("bad-huge-side", 0, img, idx_bytes(img, 0x803, 3, h3, pix, 16), lab, idx_bytes(lab, 0x801, 1, h1, labels, 1));
    gz_img[gi / 2] ^= 0xff;
    put_idx("bad-corrupt-gzip", 1, gz_img, gi, gz_lab, gl);
    put_idx("bad-truncated-gzip", 1, gz_img, gi / 2, gz_lab, gl);
}

/* ---- metadata.jsonl -------------------------------------------------------------------------- */

static void gen_metadata_jsonl(void)
{
    const char *t = "metadata_jsonl";
    put_text(t, "ok-text", "{\"file_name\": \"a.png\", \"text\": \"cat\"}\n{\"file_name\": \"b.png\", \"text\": "
                           "\"dog\"}\n{\"file_name\": \"sub/c.jpg\", \"text\": \"T-shirt top\"}\n");
    put_text(t, "ok-labels", "{\"file_name\": \"a.png\", \"label\": 0}\n{\"file_name\": \"b.png\", \"label\": 2}\n");
    put_text(t, "ok-bom-blank-lines-crlf",
             "\xef\xbb\xbf{\"file_name\": \"a.png\", \"text\": \" Cat \"}\r\n\r\n\n{\"file_name\": \"b.png\", "
             "\"text\": \"DOG\", \"extra\": [1, 2]}");
    put_text(t, "bad-not-json", "{\"file_name\": \"a.png\", \"text\": \"cat\"}\n{\"file_name\": \"b.png\",\n");
    put_text(t, "bad-not-object", "[\"a.png\", \"cat\"]\n");
    put_text(t, "bad-missing-file", "{\"file_name\": \"gone.png\", \"text\": \"cat\"}\n");
    put_text(t, "bad-mixed-kinds", "{\"file_name\": \"a.png\", \"label\": 1}\n{\"file_name\": \"b.png\", \"text\": "
                                   "\"dog\"}\n");
    put_text(t, "bad-negative-label", "{\"file_name\": \"a.png\", \"label\": -1}\n");
    put_text(t, "bad-huge-label", "{\"file_name\": \"a.png\", \"label\": 2147483647}\n");
    put_text(t, "bad-label-beyond-model", "{\"file_name\": \"a.png\", \"label\": 3}\n"); /* fixed: 3 classes */
    put_text(t, "bad-empty-text", "{\"file_name\": \"a.png\", \"text\": \"   \"}\n");
    put_text(t, "bad-unknown-class", "{\"file_name\": \"a.png\", \"text\": \"zebra\"}\n");
    put_text(t, "bad-no-file-name", "{\"text\": \"cat\"}\n");
    put_text(t, "bad-only-blank-lines", "\n\n   \n");
}

int main(void)
{
    const char *targets[] = {"safetensors", "adapter", "config", "png", "idx", "metadata_jsonl"};
    mkdir(CORPUS, 0777);
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, CORPUS "/%s", targets[i]);
        mkdir(dir, 0777);
    }
    gen_safetensors();
    gen_adapter();
    gen_config();
    gen_png();
    gen_idx();
    gen_metadata_jsonl();
    if (failures)
        fprintf(stderr, "gen_corpus: %d failures\n", failures);
    return failures ? 1 : 0;
}
