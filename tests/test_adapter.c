/* test_adapter.c — SaRA adapter files and the base hash: SHA-256 against the FIPS 180-2 example
 * vectors and hashlib; export → load round trip; base + adapter (α = 1) equals the trained
 * weights bit for bit (also where fp32 deltas cannot, through the F64 fallback); α scaling and
 * two-adapter merges against the exact real-number formula; a wrong base and malformed files
 * rejected with clear errors; the `sara merge` / `sara inspect` commands. */
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/sha256.h"
#include "core/status.h"
#include "diffusion/diffusion.h"
#include "model/unet.h"
#include "peft/adapter.h"
#include "peft/method.h"
#include "peft/sara.h"
#include "test.h"
#include "train/adamw.h"

#define TINY TEST_FIXTURES "/unet/tiny"
#define SARA_FIXTURES TEST_FIXTURES "/sara"

static void digest_of(const void *data, size_t n, size_t repeat, char hex[SHA256_HEX_CHARS])
{
    sha256_ctx c;
    uint8_t d[SHA256_DIGEST_BYTES];
    sha256_init(&c);
    for (size_t i = 0; i < repeat; i++)
        sha256_update(&c, data, n);
    sha256_final(&c, d);
    sha256_hex(d, hex);
}

/* FIPS 180-2 appendix B (one block, two blocks, a million 'a') and the empty message. */
TEST(adapter_sha256_fips_vectors)
{
    char hex[SHA256_HEX_CHARS];
    digest_of("abc", 3, 1, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    digest_of(two, strlen(two), 1, hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    digest_of("", 0, 1, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    char a[1000];
    memset(a, 'a', sizeof a);
    digest_of(a, sizeof a, 1000, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    digest_of(a, 7, 1, hex); /* unaligned partial-block updates give the same digest as one call */
    char hex2[SHA256_HEX_CHARS];
    sha256_ctx c;
    uint8_t d[SHA256_DIGEST_BYTES];
    sha256_init(&c);
    for (int i = 0; i < 7; i++)
        sha256_update(&c, a, 1);
    sha256_final(&c, d);
    sha256_hex(d, hex2);
    CHECK(!strcmp(hex, hex2));
}

/* hashlib over the same bytes (tools/fixtures/make_sara_fixtures.py) */
TEST(adapter_base_hash_matches_hashlib)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, TINY));
    char hex[SHA256_HEX_CHARS];
    CHECK_OK(adapter_base_hash(unet_params(m), hex));
    FILE *f = fopen(SARA_FIXTURES "/base_hash.json", "r");
    char buf[256] = "";
    CHECK(f && fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    CHECK_MSG(test_contains(buf, hex), "hash %s not in %s", hex, buf);
    unet_free(m);
}

/* ------------------------------------------------------------------------------------------ */

/* A few SaRA steps on the tiny model from the fixture weights; returns the trained model. */
static sara_status train_tiny(unet **out, train_method **meth, double threshold, uint64_t seed)
{
    SARA_TRY(unet_load(out, TINY));
    SARA_TRY(unet_reserve(*out, 4));
    method_options o;
    method_options_default(&o);
    o.threshold = threshold;
    SARA_TRY(method_create(meth, "sara", *out, &o));
    sara_rng r;
    rng_seed(&r, seed);
    for (int s = 1; s <= 4; s++) {
        float x[256], target[256], pred[256], dpred[256], t[4];
        int64_t labels[4];
        rng_fill_normal(&r, x, 256);
        rng_fill_normal(&r, target, 256);
        for (int i = 0; i < 4; i++) {
            t[i] = (float)rng_below(&r, 1000);
            labels[i] = (int64_t)rng_below(&r, 3);
        }
        SARA_TRY(unet_forward(*out, x, t, labels, 4, pred));
        diffusion_mse_loss(pred, target, 256, dpred);
        (*meth)->zero_grad(*meth);
        SARA_TRY(unet_backward(*out, dpred, NULL, (*meth)->sinks));
        (*meth)->scale_grad(*meth, (float)clip_factor(sqrt((*meth)->grad_sum_squares(*meth)), 1.0));
        (*meth)->step(*meth, s, 1e-2);
    }
    return SARA_OK;
}

TEST(adapter_round_trip_and_exact_merge)
{
    unet *m = NULL, *base = NULL;
    train_method *meth = NULL;
    CHECK_OK(train_tiny(&m, &meth, 0.05, 1));
    char path[600];
    snprintf(path, sizeof path, "%s/a.safetensors", test_tmpdir());
    CHECK_OK(meth->export_adapter(meth, path, "{\"lr\":0.01}"));
    sara_adapter a;
    CHECK_OK(adapter_load(&a, path));
    CHECK(!strcmp(a.method, "sara") && !strcmp(a.threshold, "0.05") && !strcmp(a.budget, "0") &&
          !strcmp(a.steps, "4") && !strcmp(a.config, "{\"lr\":0.01}") && !strcmp(a.base_sha256, sara_method_base_hash(meth)));
    CHECK(a.base_params == unet_param_count(m) && a.inexact_entries == 0);
    param_table *p = unet_params(m);
    CHECK_OK(unet_load(&base, TINY));
    param_table *b = unet_params(base);
    int64_t nnz = 0, f64 = 0;
    for (int i = 0; i < p->count; i++) {
        sara_tensor_view v;
        sara_method_view(meth, i, &v);
        nnz += v.n0;
        if (!v.n0)
            continue;
        int j = 0;
        while (j < a.count && strcmp(a.tensors[j].name, p->entries[i].name))
            j++;
        CHECK_MSG(j < a.count, "%s missing from the adapter", p->entries[i].name);
        const adapter_tensor *t = &a.tensors[j];
        CHECK(t->nnz == v.n0 && !memcmp(t->index, v.idx0, (size_t)v.n0 * 8) && t->index_dtype == ST_I32);
        f64 += t->delta_dtype == ST_F64;
        for (int64_t k = 0; k < t->nnz; k++) { /* the delta is P − P0 (up to a few ulps of the chosen storage) */
            double want = (double)params_ptr(p, i)[t->index[k]] - (double)params_ptr(b, i)[t->index[k]];
            CHECK_MSG(fabs(t->delta[k] - want) <= 1e-6 * fabs(want) + 1e-30, "%s[%lld]: delta %g vs %g",
                      t->name, (long long)t->index[k], t->delta[k], want);
        }
    }
    CHECK(a.total_nnz == nnz && a.count > 0);
    fprintf(stderr, "    %lld entries in %d tensors, %lld with F64 deltas\n", (long long)nnz, a.count, (long long)f64);
    sara_adapter *list[1] = {&a};
    double alpha[1] = {1.0};
    CHECK_OK(adapter_apply(b, list, alpha, 1, 0));
    CHECK_MSG(!memcmp(b->data, p->data, p->numel * sizeof(float)), "base + adapter differs from the trained weights");
    adapter_free(&a);
    method_free(meth);
    unet_free(m);
    unet_free(base);
}

/* A synthetic base and "trained" tensor pair: one tensor where fl32(P − P0) merges back (F32), one
 * where weights end far below |P0| (F64 needed), one entry beyond even F64 (counted), and signed
 * zeros. The merged result must be the trained values bit for bit except the counted entry. */
TEST(adapter_exactness_fallbacks)
{
    param_table base, trained;
    params_init(&base);
    int64_t n = 200;
    params_add(&base, "f32.weight", 1, &n, NULL);
    params_add(&base, "f64.weight", 1, &n, NULL);
    params_add(&base, "zeros.bias", 1, &n, NULL);
    CHECK_OK(params_alloc(&base));
    CHECK_OK(params_clone_layout(&trained, &base));
    sara_rng r;
    rng_seed(&r, 8);
    for (int64_t e = 0; e < n; e++) {
        float p0 = (float)(rng_uniform(&r) * 2e-3 - 1e-3);
        params_ptr(&base, 0)[e] = p0;
        params_ptr(&trained, 0)[e] = p0 + 0.25f + (float)rng_uniform(&r); /* |P| ≫ |P0| */
        params_ptr(&base, 1)[e] = p0;
        params_ptr(&trained, 1)[e] = p0 * (float)ldexp(rng_uniform(&r), -12); /* |P| ≪ |P0| */
        params_ptr(&base, 2)[e] = e % 2 ? -0.0f : 0.0f;
        /* −0.0 trained to +0.0 (an exact cancellation does that); +0.0 never becomes −0.0 in
         * AdamW short of an underflow, and no sum of +0.0 with anything gives −0.0 */
        params_ptr(&trained, 2)[e] = e % 3 == 0 && e % 2 ? 0.0f : params_ptr(&base, 2)[e];
    }
    params_ptr(&base, 1)[7] = 1e-3f;
    params_ptr(&trained, 1)[7] = 3e-30f; /* 2^-98 vs 2^-10: no fixed-precision delta reaches it */
    int64_t nnz[3] = {n, n, n};
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t e = 0; e < n; e++)
        idx[e] = e;
    const int64_t *index[3] = {idx, idx, idx};
    const float *p0[3] = {params_ptr(&base, 0), params_ptr(&base, 1), params_ptr(&base, 2)};
    char hash[SHA256_HEX_CHARS], path[600];
    CHECK_OK(adapter_base_hash(&base, hash));
    adapter_source src = {.method = "sara", .threshold = 2e-3, .steps = 1, .base_sha256 = hash, .base_params = 3 * n,
                          .nnz = nnz, .index = index, .p0 = p0};
    snprintf(path, sizeof path, "%s/x.safetensors", test_tmpdir());
    CHECK_OK(adapter_write(path, &trained, &src));
    sara_adapter a;
    CHECK_OK(adapter_load(&a, path));
    CHECK(a.count == 3 && !strcmp(a.tensors[0].name, "f32.weight") && a.tensors[0].delta_dtype == ST_F32);
    CHECK(!strcmp(a.tensors[1].name, "f64.weight") && a.tensors[1].delta_dtype == ST_F64);
    CHECK(!strcmp(a.tensors[2].name, "zeros.bias") && a.tensors[2].delta_dtype == ST_F32);
    CHECK(a.inexact_entries == 1);
    sara_adapter *list[1] = {&a};
    double alpha[1] = {1.0};
    CHECK_OK(adapter_apply(&base, list, alpha, 1, 0));
    for (int i = 0; i < 3; i++)
        for (int64_t e = 0; e < n; e++) {
            float got = params_ptr(&base, i)[e], want = params_ptr(&trained, i)[e];
            if (i == 1 && e == 7)
                CHECK(fabsf(got - want) < 1e-18f); /* the counted one: close, not exact */
            else
                CHECK_MSG(!memcmp(&got, &want, sizeof got), "tensor %d entry %lld: %a vs %a", i, (long long)e, got,
                          want);
        }
    adapter_free(&a);
    free(idx);
    params_free(&base);
    params_free(&trained);
}

/* Two adapters over overlapping entries with scales (0.5, −2): each merged entry is the fp32
 * rounding of the real number P0 + Σ αΔ over the stored deltas (long double), untouched entries
 * stay bit for bit. */
TEST(adapter_scaled_and_merged_match_formula)
{
    param_table base, t1, t2;
    params_init(&base);
    int64_t shape[2] = {10, 12};
    params_add(&base, "w", 2, shape, NULL);
    CHECK_OK(params_alloc(&base));
    CHECK_OK(params_clone_layout(&t1, &base));
    CHECK_OK(params_clone_layout(&t2, &base));
    sara_rng r;
    rng_seed(&r, 2);
    rng_fill_normal(&r, base.data, 120);
    int64_t i1[120], i2[120], n1 = 0, n2 = 0;
    for (int64_t e = 0; e < 120; e++) {
        t1.data[e] = t2.data[e] = base.data[e];
        if (e % 2 == 0) {
            i1[n1++] = e;
            t1.data[e] += (float)rng_normal(&r) * 0.1f;
        }
        if (e % 3 == 0) {
            i2[n2++] = e;
            t2.data[e] -= (float)rng_normal(&r) * 0.1f;
        }
    }
    float p0a[120], p0b[120];
    for (int64_t k = 0; k < n1; k++)
        p0a[k] = base.data[i1[k]];
    for (int64_t k = 0; k < n2; k++)
        p0b[k] = base.data[i2[k]];
    char hash[SHA256_HEX_CHARS], path1[600], path2[600];
    CHECK_OK(adapter_base_hash(&base, hash));
    const int64_t *ix1[1] = {i1}, *ix2[1] = {i2};
    const float *pp1[1] = {p0a}, *pp2[1] = {p0b};
    adapter_source s1 = {.method = "sara", .base_sha256 = hash, .nnz = &n1, .index = ix1, .p0 = pp1};
    adapter_source s2 = {.method = "sara", .base_sha256 = hash, .nnz = &n2, .index = ix2, .p0 = pp2};
    snprintf(path1, sizeof path1, "%s/1.safetensors", test_tmpdir());
    snprintf(path2, sizeof path2, "%s/2.safetensors", test_tmpdir());
    CHECK_OK(adapter_write(path1, &t1, &s1));
    CHECK_OK(adapter_write(path2, &t2, &s2));
    float orig[120];
    memcpy(orig, base.data, sizeof orig);
    const char *specs[2] = {"", ""};
    char spec1[700], spec2[700];
    snprintf(spec1, sizeof spec1, "%s:0.5", path1);
    snprintf(spec2, sizeof spec2, "%s:-2", path2);
    specs[0] = spec1;
    specs[1] = spec2;
    CHECK_OK(adapter_apply_specs(&base, specs, 2, 0));
    sara_adapter a1, a2;
    CHECK_OK(adapter_load(&a1, path1));
    CHECK_OK(adapter_load(&a2, path2));
    CHECK(a1.tensors[0].nnz == n1 && a2.tensors[0].nnz == n2);
    for (int64_t e = 0, k1 = 0, k2 = 0; e < 120; e++) {
        long double exact = orig[e];
        int touched = 0;
        if (e % 2 == 0) {
            exact += 0.5L * (long double)a1.tensors[0].delta[k1++];
            touched = 1;
        }
        if (e % 3 == 0) {
            exact += -2.0L * (long double)a2.tensors[0].delta[k2++];
            touched = 1;
        }
        float got = base.data[e];
        if (!touched) {
            CHECK(!memcmp(&got, &orig[e], sizeof got));
            continue;
        }
        /* the double sum is exact or nearly (far below fp32's rounding): within half an ulp */
        long double ulp = nextafterf(fabsf(got), INFINITY) - fabsf(got);
        CHECK_MSG(fabsl((long double)got - exact) <= 0.5L * ulp * 1.0001L, "entry %lld: %.9g vs %.12Lg",
                  (long long)e, got, exact);
    }
    adapter_free(&a1);
    adapter_free(&a2);
    params_free(&base);
    params_free(&t1);
    params_free(&t2);
}

TEST(adapter_wrong_base_needs_force)
{
    unet *m = NULL, *other = NULL;
    train_method *meth = NULL;
    CHECK_OK(train_tiny(&m, &meth, 0.05, 1));
    char path[600];
    snprintf(path, sizeof path, "%s/a.safetensors", test_tmpdir());
    CHECK_OK(meth->export_adapter(meth, path, NULL));
    CHECK_OK(unet_load(&other, TINY));
    param_table *b = unet_params(other);
    b->data[b->entries[3].offset] += 1.0f; /* one weight differs */
    float before[64];
    memcpy(before, b->data, sizeof before);
    const char *spec[1] = {path};
    CHECK_ERR(adapter_apply_specs(b, spec, 1, 0), SARA_ERR_INVALID, "different base model");
    CHECK_MSG(!memcmp(before, b->data, sizeof before), "a rejected adapter changed the model");
    CHECK_OK(adapter_apply_specs(b, spec, 1, 1));
    method_free(meth);
    unet_free(m);
    unet_free(other);
}

/* ------------------------------------------------------------------------------------------ */
/* malformed files, written by hand */

typedef struct {
    const char *name;          /* parameter name */
    st_dtype idx_dtype, delta_dtype;
    const void *idx, *delta;
    int64_t n_idx, n_delta;
    const char *format, *version, *shapes;
    int skip_delta;
    const char *extra;         /* an extra tensor name, or NULL */
} bad_file;

static const char *write_bad(const bad_file *b)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/bad.safetensors", test_tmpdir());
    st_writer *w = NULL;
    char key[256];
    if (st_writer_create(&w) != SARA_OK)
        return NULL;
    snprintf(key, sizeof key, "%s" ADAPTER_INDEX_SUFFIX, b->name);
    st_writer_add(w, key, b->idx_dtype, 1, &b->n_idx, b->idx);
    if (!b->skip_delta) {
        snprintf(key, sizeof key, "%s" ADAPTER_DELTA_SUFFIX, b->name);
        st_writer_add(w, key, b->delta_dtype, 1, &b->n_delta, b->delta);
    }
    if (b->extra)
        st_writer_add(w, b->extra, ST_F32, 1, &b->n_delta, b->delta);
    if (b->format)
        st_writer_meta(w, "format", b->format);
    st_writer_meta(w, "version", b->version ? b->version : ADAPTER_VERSION);
    st_writer_meta(w, "base_sha256", "0000");
    st_writer_meta(w, "shapes", b->shapes ? b->shapes : "{\"conv_in.weight\":[8,1,3,3]}");
    sara_status s = st_writer_write(w, path);
    st_writer_free(w);
    return s == SARA_OK ? path : NULL;
}

TEST(adapter_rejects_malformed_files)
{
    int32_t good[3] = {1, 5, 9}, unsorted[3] = {5, 1, 9}, dup[3] = {1, 5, 5}, big[3] = {1, 5, 72}, neg[3] = {-1, 5, 9};
    float delta[3] = {0.1f, 0.2f, 0.3f}, nan_delta[3] = {0.1f, NAN, 0.3f};
    uint16_t half[3] = {0};
    bad_file base = {.name = "conv_in.weight", .idx_dtype = ST_I32, .delta_dtype = ST_F32, .idx = good,
                     .delta = delta, .n_idx = 3, .n_delta = 3, .format = ADAPTER_FORMAT};
    sara_adapter a;
    bad_file b = base;
    CHECK_OK(adapter_load(&a, write_bad(&b)));
    adapter_free(&a);
    b = base, b.idx = unsorted;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "not sorted and unique");
    b = base, b.idx = dup;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "not sorted and unique");
    b = base, b.idx = big;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "outside the tensor's 72 entries");
    b = base, b.idx = neg;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "outside");
    b = base, b.n_delta = 2;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "has 3 entries but");
    b = base, b.delta_dtype = ST_F16, b.delta = half;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "expected F32 or F64");
    b = base, b.idx_dtype = ST_F32, b.idx = delta;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "expected I32 or I64");
    b = base, b.delta = nan_delta;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "not finite");
    b = base, b.skip_delta = 1;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "has no matching");
    b = base, b.extra = "unrelated";
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "unexpected tensor unrelated");
    b = base, b.format = NULL;
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "not a SaRA adapter");
    b = base, b.version = "7";
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_UNSUPPORTED, "version '7'");
    b = base, b.shapes = "{}";
    CHECK_ERR(adapter_load(&a, write_bad(&b)), SARA_ERR_FORMAT, "lacks a valid shape for conv_in.weight");
    /* well-formed files that do not fit the model */
    unet *m = NULL;
    CHECK_OK(unet_load(&m, TINY));
    const char *spec[1];
    b = base, b.name = "no_such.weight", b.shapes = "{\"no_such.weight\":[72]}";
    spec[0] = write_bad(&b);
    CHECK_ERR(adapter_apply_specs(unet_params(m), spec, 1, 1), SARA_ERR_INVALID, "no_such.weight is not a parameter");
    b = base, b.shapes = "{\"conv_in.weight\":[72]}";
    spec[0] = write_bad(&b);
    CHECK_ERR(adapter_apply_specs(unet_params(m), spec, 1, 1), SARA_ERR_SHAPE, "has shape (72) in the adapter");
    b = base;
    spec[0] = write_bad(&b);
    CHECK_ERR(adapter_apply_specs(unet_params(m), spec, 1, 0), SARA_ERR_INVALID, "different base model");
    spec[0] = "/no/such/adapter.safetensors:0.5";
    CHECK(adapter_apply_specs(unet_params(m), spec, 1, 0) == SARA_ERR_IO);
    unet_free(m);
}

TEST(adapter_spec_parsing)
{
    char path[64];
    double alpha = 0;
    CHECK_OK(adapter_parse_spec("a.safetensors", path, sizeof path, &alpha));
    CHECK(!strcmp(path, "a.safetensors") && alpha == 1.0);
    CHECK_OK(adapter_parse_spec("dir/a.safetensors:-0.25", path, sizeof path, &alpha));
    CHECK(!strcmp(path, "dir/a.safetensors") && alpha == -0.25);
    CHECK_OK(adapter_parse_spec("c:/x.safetensors", path, sizeof path, &alpha)); /* not a number: part of the path */
    CHECK(!strcmp(path, "c:/x.safetensors") && alpha == 1.0);
    CHECK_ERR(adapter_parse_spec(":2", path, sizeof path, &alpha), SARA_ERR_INVALID, "PATH or PATH:SCALE");
}

/* ------------------------------------------------------------------------------------------ */
/* the commands (skipped when the test runner is started without SARA_BIN, as `make test` sets it) */

TEST(adapter_cli_merge_and_inspect)
{
    const char *bin = getenv("SARA_BIN");
    if (!bin) {
        fprintf(stderr, "    SARA_BIN not set: skipped\n");
        return;
    }
    unet *m = NULL;
    train_method *meth = NULL;
    CHECK_OK(train_tiny(&m, &meth, 0.05, 3));
    const char *dir = test_tmpdir();
    char path[600], cmd[2400], out[700];
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    CHECK_OK(meth->export_adapter(meth, path, "{}"));
    snprintf(cmd, sizeof cmd, "%s merge --base " TINY " --adapter %s -o %s/merged 2>/dev/null && "
             "%s inspect %s > %s/inspect.txt", bin, path, dir, bin, path, dir);
    CHECK(system(cmd) == 0);
    unet *merged = NULL;
    snprintf(out, sizeof out, "%s/merged", dir);
    CHECK_OK(unet_load(&merged, out));
    CHECK_MSG(!memcmp(unet_params(merged)->data, unet_params(m)->data, unet_params(m)->numel * sizeof(float)),
              "sara merge output differs from the trained weights");
    snprintf(out, sizeof out, "%s/inspect.txt", dir);
    FILE *f = fopen(out, "r");
    char text[8192] = "";
    CHECK(f && fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    CHECK(test_contains(text, "SaRA adapter") && test_contains(text, sara_method_base_hash(meth)) &&
          test_contains(text, "down_blocks.1.attentions.0.to_q.weight") && test_contains(text, "density"));
    /* a different base without --force: exit status 1 and a message */
    snprintf(cmd, sizeof cmd, "%s merge --base " TEST_FIXTURES "/unet/tiny_pad0 --adapter %s -o %s/m2 2>/dev/null",
             bin, path, dir);
    CHECK(system(cmd) != 0);
    unet_free(merged);
    method_free(meth);
    unet_free(m);
}

/* `sara merge --zero-below θ` (the paper's Fig. 2(b) surgery): exactly the entries with |p| < θ
 * become 0, every other entry is bit-identical to the base, and the reported fraction is theirs. */
TEST(adapter_cli_merge_zero_below)
{
    const char *bin = getenv("SARA_BIN");
    if (!bin) {
        fprintf(stderr, "    SARA_BIN not set: skipped\n");
        return;
    }
    const float theta = 0.05f;
    const char *dir = test_tmpdir();
    char cmd[1600], out[700];
    snprintf(cmd, sizeof cmd, "%s merge --base " TINY " --zero-below %g -o %s/zeroed >/dev/null 2>&1", bin,
             (double)theta, dir);
    CHECK(system(cmd) == 0);
    unet *base = NULL, *zeroed = NULL;
    snprintf(out, sizeof out, "%s/zeroed", dir);
    CHECK_OK(unet_load(&base, TINY));
    CHECK_OK(unet_load(&zeroed, out));
    const param_table *b = unet_params(base), *z = unet_params(zeroed);
    CHECK(b->numel == z->numel);
    size_t small = 0, wrong = 0;
    for (size_t k = 0; k < b->numel; k++) {
        int below = fabsf(b->data[k]) < theta;
        small += below;
        wrong += below ? z->data[k] != 0.0f : memcmp(&z->data[k], &b->data[k], sizeof(float)) != 0;
    }
    CHECK_MSG(small > 0 && small < b->numel, "θ should split the tiny model's entries (%zu of %zu below)", small,
              b->numel);
    CHECK_MSG(wrong == 0, "%zu entries differ from their expected value", wrong);
    /* a negative θ is a usage error */
    snprintf(cmd, sizeof cmd, "%s merge --base " TINY " --zero-below -1 -o %s/z2 2>/dev/null", bin, dir);
    CHECK(system(cmd) != 0);
    unet_free(zeroed);
    unet_free(base);
}
