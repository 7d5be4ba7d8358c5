/* test_params.c — the parameter arena: registration, alignment, lookup, cloning, and loading
 * from safetensors files written by the writer (values, dtype conversion, every mismatch error). */
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/status.h"
#include "test.h"

/* A toy model: conv weight (4, 3, 3, 3), bias (4), scalar gain (). */
static sara_status toy_table(param_table *t)
{
    static const int64_t w[4] = {4, 3, 3, 3}, b[1] = {4};
    params_init(t);
    SARA_TRY(params_add(t, "conv.weight", 4, w, NULL));
    SARA_TRY(params_add(t, "conv.bias", 1, b, NULL));
    SARA_TRY(params_add(t, "gain", 0, NULL, NULL));
    return params_alloc(t);
}

TEST(params_add_alloc_find_alignment)
{
    param_table t;
    params_init(&t);
    int64_t s1[2] = {3, 5}, s2[1] = {1}, s3[3] = {2, 2, 2};
    int i1, i2, i3;
    CHECK_OK(params_add(&t, "a", 2, s1, &i1));
    CHECK_OK(params_add(&t, "b", 1, s2, &i2));
    CHECK_OK(params_add(&t, "c", 3, s3, &i3));
    CHECK(i1 == 0 && i2 == 1 && i3 == 2 && t.count == 3);
    CHECK_ERR(params_add(&t, "b", 1, s2, NULL), SARA_ERR_INVALID, "parameter b: registered twice");
    CHECK_ERR(params_add(&t, "", 1, s2, NULL), SARA_ERR_INVALID, "name must be");
    char longname[PARAM_NAME_MAX + 1];
    memset(longname, 'x', PARAM_NAME_MAX);
    longname[PARAM_NAME_MAX] = '\0';
    CHECK_ERR(params_add(&t, longname, 1, s2, NULL), SARA_ERR_INVALID, "name must be");
    int64_t s5[5] = {1, 1, 1, 1, 1};
    CHECK_ERR(params_add(&t, "d", 5, s5, NULL), SARA_ERR_INVALID, "5 dimensions");
    CHECK(t.count == 3); /* failed adds leave the table unchanged */
    /* 15 floats, then 1 at offset 16, then 8 at offset 32: tensors start on 16-float boundaries. */
    CHECK(t.entries[0].offset == 0 && t.entries[1].offset == 16 && t.entries[2].offset == 32);
    CHECK(t.entries[0].numel == 15 && t.entries[2].numel == 8 && t.numel == 40);
    CHECK_OK(params_alloc(&t));
    CHECK(((uintptr_t)t.data % 64) == 0);
    for (int i = 0; i < t.count; i++) {
        CHECK(((uintptr_t)params_ptr(&t, i) % 64) == 0);
        for (int64_t k = 0; k < t.entries[i].numel; k++)
            CHECK(params_ptr(&t, i)[k] == 0.0f);
    }
    CHECK(params_find(&t, "c") == 2 && params_find(&t, "zz") == -1);
    CHECK_ERR(params_add(&t, "late", 1, s2, NULL), SARA_ERR_INVALID, "after the arena was allocated");
    params_ptr(&t, 2)[7] = 5.0f; /* the last element is writable (ASan checks the size) */

    param_table g;
    CHECK_OK(params_clone_layout(&g, &t));
    CHECK(g.count == 3 && g.numel == t.numel && g.data != t.data && ((uintptr_t)g.data % 64) == 0);
    CHECK(g.entries[2].offset == 32 && !strcmp(g.entries[1].name, "b") && params_ptr(&g, 2)[7] == 0.0f);
    params_free(&g);
    params_free(&t);
    CHECK(t.data == NULL && t.count == 0);

    param_table empty;
    params_init(&empty);
    CHECK_OK(params_alloc(&empty)); /* a model with no parameters still gets a valid arena */
    CHECK(empty.data != NULL);
    params_free(&empty);
}

/* Writes the toy model's tensors (values k + 0.5 for element k) plus optional extras, as `dtype`. */
static sara_status write_toy_file(const char *path, st_dtype dtype, const char *rename_bias, int64_t bias_len,
                                  int extra)
{
    static float vals[108];
    static uint16_t halves[108];
    for (int k = 0; k < 108; k++) {
        vals[k] = (float)k + 0.5f;
        uint32_t bits;
        memcpy(&bits, &vals[k], 4);
        halves[k] = (uint16_t)(bits >> 16); /* exact in BF16: k + 0.5 needs at most 8 significant bits */
    }
    const void *data = dtype == ST_BF16 ? (const void *)halves : (const void *)vals;
    int64_t w[4] = {4, 3, 3, 3}, b[1] = {bias_len};
    st_writer *wr;
    SARA_TRY(st_writer_create(&wr));
    sara_status s = st_writer_add(wr, "conv.weight", dtype, 4, w, data);
    if (s == SARA_OK && rename_bias)
        s = st_writer_add(wr, rename_bias, dtype, 1, b, data);
    if (s == SARA_OK)
        s = st_writer_add(wr, "gain", dtype, 0, NULL, data);
    if (s == SARA_OK && extra)
        s = st_writer_add(wr, "ema.decay", dtype, 0, NULL, data);
    if (s == SARA_OK)
        s = st_writer_write(wr, path);
    st_writer_free(wr);
    return s;
}

TEST(params_load_from_writer_file)
{
    char path[600];
    snprintf(path, sizeof path, "%s/toy.safetensors", test_tmpdir());
    param_table t;
    CHECK_OK(toy_table(&t));
    st_dtype dtypes[2] = {ST_F32, ST_BF16};
    for (int d = 0; d < 2; d++) {
        CHECK_OK(write_toy_file(path, dtypes[d], "conv.bias", 4, 0));
        st_file *f;
        CHECK_OK(safetensors_open(path, &f));
        memset(t.data, 0, t.numel * sizeof(float));
        CHECK_OK(params_load(&t, f, 0));
        safetensors_close(f);
        const float *w = params_ptr(&t, 0), *b = params_ptr(&t, 1), *g = params_ptr(&t, 2);
        for (int k = 0; k < 108; k++)
            CHECK_MSG(w[k] == (float)k + 0.5f, "dtype %d weight[%d] = %g", d, k, w[k]);
        for (int k = 0; k < 4; k++)
            CHECK(b[k] == (float)k + 0.5f);
        CHECK(g[0] == 0.5f);
    }

    /* Save through the writer with a prefix, and read it back into a clone. */
    char out[600];
    snprintf(out, sizeof out, "%s/saved.safetensors", test_tmpdir());
    st_writer *wr;
    CHECK_OK(st_writer_create(&wr));
    CHECK_OK(params_add_to_writer(&t, wr, "unet."));
    CHECK_OK(st_writer_write(wr, out));
    st_writer_free(wr);
    st_file *f;
    CHECK_OK(safetensors_open(out, &f));
    CHECK(f->count == 3 && safetensors_find(f, "unet.conv.weight") && safetensors_find(f, "unet.gain"));
    CHECK(safetensors_find(f, "unet.conv.weight")->dtype == ST_F32);
    param_table c;
    CHECK_OK(params_clone_layout(&c, &t));
    CHECK_ERR(params_load(&c, f, 0), SARA_ERR_MISSING, "missing tensor conv.weight");
    safetensors_close(f);
    CHECK_OK(st_writer_create(&wr));
    CHECK_OK(params_add_to_writer(&t, wr, NULL));
    CHECK_OK(st_writer_write(wr, out));
    st_writer_free(wr);
    CHECK_OK(safetensors_open(out, &f));
    CHECK_OK(params_load(&c, f, 0));
    safetensors_close(f);
    CHECK(!memcmp(c.data, t.data, t.numel * sizeof(float)));
    params_free(&c);
    params_free(&t);
}

TEST(params_load_reports_each_mismatch)
{
    char path[600];
    snprintf(path, sizeof path, "%s/toy.safetensors", test_tmpdir());
    param_table t;
    CHECK_OK(toy_table(&t));
    st_file *f;
    char want[800];

    CHECK_OK(write_toy_file(path, ST_F32, NULL, 4, 0)); /* bias absent */
    CHECK_OK(safetensors_open(path, &f));
    snprintf(want, sizeof want, "%s: missing tensor conv.bias", path);
    CHECK_ERR(params_load(&t, f, 0), SARA_ERR_MISSING, want);
    safetensors_close(f);

    CHECK_OK(write_toy_file(path, ST_F32, "conv.bias", 5, 0)); /* bias (5) instead of (4) */
    CHECK_OK(safetensors_open(path, &f));
    snprintf(want, sizeof want, "%s: tensor conv.bias: shape (5) but the model needs (4)", path);
    params_ptr(&t, 0)[0] = 42.0f;
    CHECK_ERR(params_load(&t, f, 0), SARA_ERR_SHAPE, want);
    CHECK(params_ptr(&t, 0)[0] == 42.0f); /* nothing loaded on failure */
    safetensors_close(f);

    CHECK_OK(write_toy_file(path, ST_F32, "conv.bias", 4, 1)); /* one tensor too many */
    CHECK_OK(safetensors_open(path, &f));
    snprintf(want, sizeof want, "%s: unexpected tensor ema.decay (not a parameter of this model)", path);
    CHECK_ERR(params_load(&t, f, 0), SARA_ERR_SHAPE, want);
    CHECK_OK(params_load(&t, f, 1));
    CHECK(params_ptr(&t, 2)[0] == 0.5f);
    safetensors_close(f);

    /* A 2-D weight where the model needs 4-D: the message shows both shapes. */
    int64_t flat[2] = {4, 27};
    float zeros[108] = {0};
    st_writer *wr;
    CHECK_OK(st_writer_create(&wr));
    CHECK_OK(st_writer_add(wr, "conv.weight", ST_F32, 2, flat, zeros));
    CHECK_OK(st_writer_write(wr, path));
    st_writer_free(wr);
    CHECK_OK(safetensors_open(path, &f));
    snprintf(want, sizeof want, "%s: tensor conv.weight: shape (4, 27) but the model needs (4, 3, 3, 3)", path);
    CHECK_ERR(params_load(&t, f, 1), SARA_ERR_SHAPE, want);
    safetensors_close(f);

    /* An integer tensor where a parameter belongs. */
    int32_t ints[108] = {0};
    int64_t w4[4] = {4, 3, 3, 3};
    CHECK_OK(st_writer_create(&wr));
    CHECK_OK(st_writer_add(wr, "conv.weight", ST_I32, 4, w4, ints));
    CHECK_OK(st_writer_write(wr, path));
    st_writer_free(wr);
    CHECK_OK(safetensors_open(path, &f));
    CHECK_ERR(params_load(&t, f, 1), SARA_ERR_SHAPE, "tensor conv.weight: dtype I32");
    safetensors_close(f);
    params_free(&t);
}
