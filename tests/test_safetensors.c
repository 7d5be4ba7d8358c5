/* test_safetensors.c — the safetensors reader and writer: dtype conversions against PyTorch
 * (fixture written by tools/fixtures/make_safetensors_fixtures.py) and against a closed-form
 * decoding of every 16-bit pattern; writer → reader round trip of every dtype; each malformed
 * header rejected with a message naming the file; truncation and byte-flip fuzzing. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "core/status.h"
#include "test.h"

#define ST_FIXTURE TEST_FIXTURES "/safetensors/dtypes.safetensors"

/* Equal bit patterns, or both NaN (NaN payloads are not compared). */
static int same_float(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

/* Reads `name` and `name.expect` from the fixture as float and requires identical values. */
static int fixture_floats_match(const st_file *f, const char *name)
{
    char expect_name[64];
    snprintf(expect_name, sizeof expect_name, "%s.expect", name);
    const st_tensor *t = safetensors_find(f, name), *e = safetensors_find(f, expect_name);
    if (!t || !e || t->numel != e->numel || e->dtype != ST_F32) {
        fprintf(stderr, "    %s: missing or mismatched in fixture\n", name);
        return 0;
    }
    float *got = malloc((size_t)t->numel * sizeof *got), *want = malloc((size_t)t->numel * sizeof *want);
    int ok = got && want && safetensors_read_f32(f, t, got) == SARA_OK && safetensors_read_f32(f, e, want) == SARA_OK;
    for (int64_t i = 0; ok && i < t->numel; i++)
        if (!same_float(got[i], want[i])) {
            fprintf(stderr, "    %s[%lld]: got %.9g want %.9g\n", name, (long long)i, got[i], want[i]);
            ok = 0;
        }
    free(got);
    free(want);
    return ok;
}

static int fixture_ints_match(const st_file *f, const char *name)
{
    char expect_name[64];
    snprintf(expect_name, sizeof expect_name, "%s.expect", name);
    const st_tensor *t = safetensors_find(f, name), *e = safetensors_find(f, expect_name);
    if (!t || !e || t->numel != e->numel || e->dtype != ST_I64)
        return 0;
    int64_t got[64], want[64];
    if (t->numel > 64 || safetensors_read_i64(f, t, got) != SARA_OK || safetensors_read_i64(f, e, want) != SARA_OK)
        return 0;
    for (int64_t i = 0; i < t->numel; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "    %s[%lld]: got %lld want %lld\n", name, (long long)i, (long long)got[i],
                    (long long)want[i]);
            return 0;
        }
    return 1;
}

TEST(safetensors_torch_fixture_dtypes)
{
    st_file *f;
    CHECK_OK(safetensors_open(ST_FIXTURE, &f));
    const char *floats[] = {"f16", "bf16", "f64", "f32"};
    const char *ints[] = {"i64", "i32", "i16", "i8", "u8", "bool"};
    int ok = 1;
    for (size_t i = 0; i < sizeof floats / sizeof *floats; i++)
        ok &= fixture_floats_match(f, floats[i]);
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        ok &= fixture_ints_match(f, ints[i]);
    CHECK_MSG(ok, "conversions disagree with torch");
    CHECK(safetensors_find(f, "f16")->dtype == ST_F16 && safetensors_find(f, "bool")->dtype == ST_BOOL);
    safetensors_close(f);
}

TEST(safetensors_torch_fixture_layout_and_metadata)
{
    st_file *f;
    CHECK_OK(safetensors_open(ST_FIXTURE, &f));
    CHECK(!strcmp(f->tensors[0].name, "bf16")); /* header order: st.py writes names sorted */
    CHECK(!strcmp(safetensors_meta(f, "format"), "pt"));
    CHECK(!strcmp(safetensors_meta(f, "written_by"), "make_safetensors_fixtures.py"));
    CHECK(safetensors_meta(f, "absent") == NULL && safetensors_find(f, "absent") == NULL);
    const st_tensor *t = safetensors_find(f, "layout.arange");
    CHECK(t && t->ndim == 3 && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 4 && t->numel == 24);
    float v[24];
    CHECK_OK(safetensors_read_f32(f, t, v));
    for (int i = 0; i < 24; i++) /* row-major: element [a][b][c] = 12a + 4b + c */
        CHECK(v[i] == (float)i);
    const st_tensor *e = safetensors_find(f, "empty");
    CHECK(e && e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 3 && e->numel == 0);
    CHECK_OK(safetensors_read_f32(f, e, v));
    int64_t iv[8];
    CHECK_ERR(safetensors_read_i64(f, t, iv), SARA_ERR_SHAPE, "layout.arange");
    CHECK_ERR(safetensors_read_f32(f, safetensors_find(f, "i32"), v), SARA_ERR_SHAPE, "i32");
    safetensors_close(f);
}

/* Closed-form decoding (sign · significand · 2^exponent), independent of the bit manipulation. */
static float decode_minifloat(uint16_t bits, int exp_bits, int mant_bits)
{
    int bias = (1 << (exp_bits - 1)) - 1;
    int sign = bits >> 15, e = (bits >> mant_bits) & ((1 << exp_bits) - 1), m = bits & ((1 << mant_bits) - 1);
    double v;
    if (e == (1 << exp_bits) - 1)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp((double)m, 1 - bias - mant_bits);
    else
        v = ldexp(1.0 + ldexp((double)m, -mant_bits), e - bias);
    return (float)(sign ? -v : v);
}

TEST(safetensors_half_and_bf16_every_bit_pattern)
{
    for (uint32_t b = 0; b <= 0xFFFF; b++) {
        float h = st_half_to_float((uint16_t)b), bf = st_bf16_to_float((uint16_t)b);
        CHECK_MSG(same_float(h, decode_minifloat((uint16_t)b, 5, 10)), "f16 0x%04x -> %.9g", b, h);
        CHECK_MSG(same_float(bf, decode_minifloat((uint16_t)b, 8, 7)), "bf16 0x%04x -> %.9g", b, bf);
#ifdef __FLT16_MAX__ /* the compiler's own conversion, a third opinion where the target has it */
        _Float16 x;
        uint16_t bb = (uint16_t)b;
        memcpy(&x, &bb, 2);
        CHECK_MSG(same_float(h, (float)x), "f16 0x%04x vs _Float16", b);
#endif
    }
    /* NaN payloads survive, and so does the sign of zero. */
    uint32_t bits;
    float nan_h = st_half_to_float(0x7E01);
    memcpy(&bits, &nan_h, 4);
    CHECK(bits == (0x7F800000u | (0x201u << 13)));
    CHECK(signbit(st_half_to_float(0x8000)) && st_half_to_float(0x8000) == 0.0f);
}

/* ------------------------------------------------------------------ writer round trip */

TEST(safetensors_writer_round_trip_every_dtype)
{
    char path[600];
    snprintf(path, sizeof path, "%s/rt.safetensors", test_tmpdir());
    float f32[6] = {1.5f, -2.0f, 0.0f, INFINITY, 1e-40f, 3.25f};
    uint16_t f16[3] = {0x3C00, 0x0001, 0xFC00}, bf16[3] = {0x3F80, 0x8001, 0x7FC0};
    double f64[2] = {1.0 / 3.0, -1e300};
    int64_t i64[2] = {INT64_MIN, INT64_MAX};
    int32_t i32[3] = {-7, 0, INT32_MAX};
    int16_t i16[1] = {-300};
    int8_t i8[4] = {-128, 127, 0, 1};
    uint8_t u8[2] = {255, 0}, bools[3] = {1, 0, 1};
    struct {
        const char *name;
        st_dtype dt;
        int ndim;
        int64_t shape[4];
        const void *data;
        size_t bytes;
    } cases[] = {
        {"z.f32", ST_F32, 2, {2, 3}, f32, sizeof f32},  {"f16", ST_F16, 1, {3}, f16, sizeof f16},
        {"bf16", ST_BF16, 3, {1, 3, 1}, bf16, sizeof bf16}, {"f64", ST_F64, 1, {2}, f64, sizeof f64},
        {"i64", ST_I64, 1, {2}, i64, sizeof i64},      {"i32", ST_I32, 1, {3}, i32, sizeof i32},
        {"scalar.i16", ST_I16, 0, {0}, i16, sizeof i16}, {"i8", ST_I8, 4, {1, 1, 2, 2}, i8, sizeof i8},
        {"u8", ST_U8, 1, {2}, u8, sizeof u8},          {"bool", ST_BOOL, 1, {3}, bools, sizeof bools},
        {"a.empty", ST_F32, 2, {0, 5}, NULL, 0},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    st_writer *w;
    CHECK_OK(st_writer_create(&w));
    for (int i = 0; i < n; i++)
        CHECK_OK(st_writer_add(w, cases[i].name, cases[i].dt, cases[i].ndim, cases[i].shape, cases[i].data));
    CHECK_OK(st_writer_meta(w, "format", "pt"));
    CHECK_OK(st_writer_meta(w, "note", "multi\nline \"quoted\" ünïcode"));
    CHECK_OK(st_writer_write(w, path));
    st_writer_free(w);

    st_file *f;
    CHECK_OK(safetensors_open(path, &f));
    CHECK(f->count == n && f->meta_count == 2);
    CHECK((f->size - f->data_size) % 8 == 0); /* header padded: data area 8-byte aligned in the file */
    for (int i = 1; i < f->count; i++)        /* written in sorted order */
        CHECK(strcmp(f->tensors[i - 1].name, f->tensors[i].name) < 0);
    for (int i = 0; i < n; i++) {
        const st_tensor *t = safetensors_find(f, cases[i].name);
        CHECK_MSG(t, "%s missing", cases[i].name);
        CHECK(t->dtype == cases[i].dt && t->ndim == cases[i].ndim);
        for (int d = 0; d < t->ndim; d++)
            CHECK(t->shape[d] == cases[i].shape[d]);
        CHECK(t->end - t->begin == cases[i].bytes);
        CHECK_MSG(!cases[i].bytes || !memcmp(f->data + t->begin, cases[i].data, cases[i].bytes), "%s bytes differ",
                  cases[i].name);
    }
    CHECK(!strcmp(safetensors_meta(f, "note"), "multi\nline \"quoted\" ünïcode"));
    float got[6];
    CHECK_OK(safetensors_read_f32(f, safetensors_find(f, "z.f32"), got));
    CHECK(!memcmp(got, f32, sizeof f32));
    int64_t iv[4];
    CHECK_OK(safetensors_read_i64(f, safetensors_find(f, "i8"), iv));
    CHECK(iv[0] == -128 && iv[1] == 127 && iv[2] == 0 && iv[3] == 1);
    CHECK_OK(safetensors_read_i64(f, safetensors_find(f, "scalar.i16"), iv));
    CHECK(iv[0] == -300 && safetensors_find(f, "scalar.i16")->numel == 1);
    safetensors_close(f);

    /* The write went through a temporary that is gone afterwards. */
    DIR *dir = opendir(test_tmpdir());
    CHECK(dir);
    int entries = 0;
    for (struct dirent *de; (de = readdir(dir));)
        entries += de->d_name[0] != '.';
    closedir(dir);
    CHECK(entries == 1);
}

TEST(safetensors_writer_rejects_bad_input)
{
    st_writer *w;
    int64_t shape[1] = {1};
    float x = 1;
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors", test_tmpdir());
    CHECK_OK(st_writer_create(&w));
    CHECK_OK(st_writer_add(w, "a", ST_F32, 1, shape, &x));
    CHECK_ERR(st_writer_add(w, "a", ST_F32, 1, shape, &x), SARA_ERR_INVALID, "duplicate tensor name a");
    CHECK_ERR(st_writer_add(w, "", ST_F32, 1, shape, &x), SARA_ERR_INVALID, "invalid tensor name");
    CHECK_ERR(st_writer_add(w, "__metadata__", ST_F32, 1, shape, &x), SARA_ERR_INVALID, "invalid tensor name");
    CHECK_ERR(st_writer_add(w, "b", ST_F32, 1, shape, NULL), SARA_ERR_INVALID, "no data");
    int64_t neg[1] = {-1};
    CHECK_ERR(st_writer_add(w, "c", ST_F32, 1, neg, &x), SARA_ERR_INVALID, "invalid shape");
    CHECK_ERR(st_writer_add(w, "d", ST_F32, ST_MAX_DIMS + 1, shape, &x), SARA_ERR_INVALID, "dimensions");
    CHECK_OK(st_writer_meta(w, "k", "v"));
    CHECK_ERR(st_writer_meta(w, "k", "v2"), SARA_ERR_INVALID, "duplicate metadata key k");
    CHECK_ERR(st_writer_meta(w, "", "v"), SARA_ERR_INVALID, "metadata key");
    CHECK_ERR(st_writer_write(w, path), SARA_ERR_IO, "no/such/dir/x.safetensors");
    st_writer_free(w);
}

/* ------------------------------------------------------------------ malformed files */

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n)) {
        perror(path);
        exit(2);
    }
    fclose(fp);
}

/* A file with the given header (length from strlen) followed by data_len zero bytes. */
static void write_st(const char *path, const char *header, size_t data_len)
{
    size_t hl = strlen(header), n = 8 + hl + data_len;
    uint8_t *buf = calloc(1, n);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    write_bytes(path, buf, n);
    free(buf);
}

/* Opening must fail with `status` and a message that starts with the path and contains `needle`. */
static int rejects(const char *path, sara_status status, const char *needle)
{
    st_file *f = (st_file *)0x1;
    sara_status s = safetensors_open(path, &f);
    const char *msg = sara_last_error();
    if (s != status || f != NULL || strncmp(msg, path, strlen(path)) != 0 || !strstr(msg, needle)) {
        fprintf(stderr, "    got %s '%s', want %s with '%s'\n", sara_status_name(s), msg, sara_status_name(status),
                needle);
        if (s == SARA_OK)
            safetensors_close(f);
        return 0;
    }
    return 1;
}

#define CHECK_HEADER_REJECTED(header, data_len, status, needle)                     \
    do {                                                                            \
        write_st(path, header, data_len);                                           \
        CHECK_MSG(rejects(path, status, needle), "header %s not rejected", header); \
    } while (0)

TEST(safetensors_rejects_short_and_missing_files)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.safetensors", test_tmpdir());
    CHECK_MSG(rejects(path, SARA_ERR_IO, "cannot open"), "missing file");
    write_bytes(path, "", 0);
    CHECK_MSG(rejects(path, SARA_ERR_FORMAT, "too short"), "empty file");
    write_bytes(path, "\x02\0\0\0\0", 5);
    CHECK_MSG(rejects(path, SARA_ERR_FORMAT, "too short"), "5-byte file");
    uint8_t big[10] = {0x10, 0, 0, 0, 0, 0, 0, 0, '{', '}'}; /* claims 16 header bytes, has 2 */
    write_bytes(path, big, sizeof big);
    CHECK_MSG(rejects(path, SARA_ERR_FORMAT, "header length 16 exceeds the file size"), "length > size");
    uint8_t huge[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}'}; /* 2^63 */
    write_bytes(path, huge, sizeof huge);
    CHECK_MSG(rejects(path, SARA_ERR_FORMAT, "header length 9223372036854775808 exceeds"), "length 2^63");
    CHECK_MSG(rejects(test_tmpdir(), SARA_ERR_IO, "not a regular file"), "directory");
}

TEST(safetensors_rejects_malformed_headers)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.safetensors", test_tmpdir());
    CHECK_HEADER_REJECTED("{\"a\":", 0, SARA_ERR_FORMAT, "not valid JSON");
    CHECK_HEADER_REJECTED("[1, 2]", 0, SARA_ERR_FORMAT, "not a JSON object");
    CHECK_HEADER_REJECTED("{} x", 0, SARA_ERR_FORMAT, "unexpected bytes after the header");
    CHECK_HEADER_REJECTED("{\"a\":3}", 0, SARA_ERR_FORMAT, "tensor a: entry is not a JSON object");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, SARA_ERR_FORMAT,
                          "tensor w: unknown dtype Q4");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                          SARA_ERR_UNSUPPORTED, "tensor w: dtype F8_E4M3 is not supported");
    CHECK_HEADER_REJECTED("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SARA_ERR_FORMAT,
                          "tensor w: dtype missing");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,12]}}", 12, SARA_ERR_FORMAT,
                          "tensor w: shape missing or not a list");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,2],\"data_offsets\":[0,0]}}", 0, SARA_ERR_FORMAT,
                          "tensor w: shape entry 0 is not a non-negative integer");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, SARA_ERR_FORMAT,
                          "shape entry 0");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, SARA_ERR_FORMAT,
                          "shape entry 0");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"U8\",\"shape\":[4611686018427387904,4611686018427387904],"
                          "\"data_offsets\":[0,0]}}", 0, SARA_ERR_FORMAT, "tensor w: shape overflows");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0,
                          SARA_ERR_FORMAT, "tensor w: shape overflows");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
                          SARA_ERR_FORMAT, "tensor w: 9 dimensions");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, SARA_ERR_FORMAT,
                          "tensor w: data_offsets [0, 16] outside the data area (8 bytes)");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, SARA_ERR_FORMAT,
                          "tensor w: data_offsets [8, 4] outside");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8, SARA_ERR_FORMAT,
                          "tensor w: data_offsets must be [begin, end]");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 8, SARA_ERR_FORMAT,
                          "tensor w: data_offsets must be");
    CHECK_HEADER_REJECTED("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16, SARA_ERR_FORMAT,
                          "tensor w: data_offsets hold 8 bytes but shape × F32 needs 12");
    CHECK_HEADER_REJECTED("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, SARA_ERR_FORMAT,
                          "tensors a and b overlap");
    CHECK_HEADER_REJECTED("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                          "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[15,16]}}", 16, SARA_ERR_FORMAT,
                          "tensors a and b overlap");
    CHECK_HEADER_REJECTED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                          "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, SARA_ERR_FORMAT,
                          "duplicate tensor name a");
    CHECK_HEADER_REJECTED("{\"__metadata__\":{\"k\":1}}", 0, SARA_ERR_FORMAT, "value of key k is not a string");
    CHECK_HEADER_REJECTED("{\"__metadata__\":[\"k\"]}", 0, SARA_ERR_FORMAT, "__metadata__ is not a JSON object");
    CHECK_HEADER_REJECTED("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, SARA_ERR_FORMAT, "duplicate key k");
    CHECK_HEADER_REJECTED("{\"__metadata__\":{},\"__metadata__\":{}}", 0, SARA_ERR_FORMAT,
                          "duplicate __metadata__");
    CHECK_HEADER_REJECTED("{\"a\x01\":{}}", 0, SARA_ERR_FORMAT, "control byte 0x01");
}

TEST(safetensors_accepts_edge_cases)
{
    char path[600];
    snprintf(path, sizeof path, "%s/ok.safetensors", test_tmpdir());
    st_file *f;
    /* Empty header object, trailing spaces, empty tensors at any offset, unused trailing bytes. */
    write_st(path, "{}      ", 0);
    CHECK_OK(safetensors_open(path, &f));
    CHECK(f->count == 0 && f->meta_count == 0);
    safetensors_close(f);
    write_st(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                   "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}} \n", 16);
    CHECK_OK(safetensors_open(path, &f));
    CHECK(f->count == 3 && !strcmp(f->tensors[2].name, "s") && f->tensors[2].numel == 1 && f->tensors[2].ndim == 0);
    safetensors_close(f);
    /* A data area that starts at an odd file offset: reads must not assume alignment. */
    write_st(path, "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
    CHECK_OK(safetensors_open(path, &f));
    CHECK(((uintptr_t)f->data & 7) != 0);
    float v;
    CHECK_OK(safetensors_read_f32(f, &f->tensors[0], &v));
    CHECK(v == 0.0f);
    safetensors_close(f);
}

/* ------------------------------------------------------------------ fuzzing */

/* Opens `path`; on success reads every tensor (ASan catches any out-of-bounds read). */
static int open_and_touch(const char *path)
{
    st_file *f;
    if (safetensors_open(path, &f) != SARA_OK)
        return strncmp(sara_last_error(), path, strlen(path)) == 0; /* failures still name the file */
    int ok = 1;
    for (int i = 0; i < f->count && ok; i++) {
        const st_tensor *t = &f->tensors[i];
        ok = t->end <= f->data_size && t->end - t->begin == (uint64_t)t->numel * st_dtype_size(t->dtype);
        void *buf = malloc((size_t)t->numel * 8 + 8);
        if (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64)
            ok = ok && safetensors_read_f32(f, t, buf) == SARA_OK;
        else
            ok = ok && safetensors_read_i64(f, t, buf) == SARA_OK;
        free(buf);
    }
    safetensors_close(f);
    return ok;
}

TEST(safetensors_fuzz_truncation_and_byte_flips)
{
    char good[600], path[600];
    snprintf(good, sizeof good, "%s/good.safetensors", test_tmpdir());
    snprintf(path, sizeof path, "%s/fuzz.safetensors", test_tmpdir());
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t h[2] = {0x3C00, 0x4000};
    int64_t sa[2] = {2, 3}, sh[1] = {2};
    uint8_t b[2] = {1, 0};
    st_writer *w;
    CHECK_OK(st_writer_create(&w));
    CHECK_OK(st_writer_add(w, "a", ST_F32, 2, sa, a));
    CHECK_OK(st_writer_add(w, "h", ST_F16, 1, sh, h));
    CHECK_OK(st_writer_add(w, "b", ST_BOOL, 1, sh, b));
    CHECK_OK(st_writer_meta(w, "k", "v"));
    CHECK_OK(st_writer_write(w, good));
    st_writer_free(w);
    FILE *fp = fopen(good, "rb");
    CHECK(fp);
    uint8_t buf[1024];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    CHECK(n > 8 && n < sizeof buf);
    size_t header_end = 8 + (size_t)buf[0];

    for (size_t len = 0; len < n; len++) { /* every truncation: the last tensor is always cut */
        write_bytes(path, buf, len);
        st_file *f;
        CHECK_MSG(safetensors_open(path, &f) != SARA_OK, "truncated to %zu bytes but accepted", len);
    }
    static const uint8_t masks[] = {0x01, 0x02, 0x08, 0x20, 0x40, 0x80, 0xFF};
    int accepted = 0;
    for (size_t pos = 0; pos < header_end; pos++)
        for (size_t m = 0; m < sizeof masks; m++) {
            uint8_t mutated[1024];
            memcpy(mutated, buf, n);
            mutated[pos] ^= masks[m];
            write_bytes(path, mutated, n);
            CHECK_MSG(open_and_touch(path), "byte %zu ^ 0x%02x: inconsistent result", pos, masks[m]);
            st_file *f;
            if (safetensors_open(path, &f) == SARA_OK) {
                accepted++;
                safetensors_close(f);
            }
        }
    CHECK(accepted < (int)(header_end * sizeof masks) / 2); /* most flips must be caught */
}

/* ------------------------------------------------------------------ describe */

TEST(safetensors_describe_lists_tensors_and_metadata)
{
    char path[600];
    snprintf(path, sizeof path, "%s/d.safetensors", test_tmpdir());
    float x[12] = {0};
    int64_t s1[2] = {3, 4}, s2[1] = {2};
    st_writer *w;
    CHECK_OK(st_writer_create(&w));
    CHECK_OK(st_writer_add(w, "down_blocks.0.resnets.0.conv1.weight_with_a_long_name", ST_F32, 2, s1, x));
    CHECK_OK(st_writer_add(w, "bias", ST_F16, 1, s2, x));
    CHECK_OK(st_writer_meta(w, "format", "pt"));
    CHECK_OK(st_writer_write(w, path));
    st_writer_free(w);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK(out);
    sara_status s = safetensors_describe(path, out);
    fclose(out);
    CHECK_OK(s);
    const char *lines[] = {
        "name                                                   dtype  shape   numel\n",
        "bias                                                   F16    (2)     2\n",
        "down_blocks.0.resnets.0.conv1.weight_with_a_long_name  F32    (3, 4)  12\n",
        "2 tensors, 14 parameters\n",
        "metadata:\n  format  pt\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        CHECK_MSG(strstr(text, lines[i]), "describe output lacks '%s':\n%s", lines[i], text);
    CHECK(strstr(text, "bias") < strstr(text, "down_blocks")); /* sorted by name */
    free(text);
    out = open_memstream(&text, &len);
    snprintf(path, sizeof path, "%s/none.safetensors", test_tmpdir());
    CHECK_ERR(safetensors_describe(path, out), SARA_ERR_IO, "none.safetensors");
    fclose(out);
    free(text);
}
