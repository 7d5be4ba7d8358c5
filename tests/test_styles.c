/* test_styles.c — the five style transforms (src/data/styles.h) on real garments (the first
 * Fashion-MNIST test image of each class, tests/fixtures/styles/inputs.safetensors written by
 * tools/fixtures/make_styles_fixtures.py): bit-exact reproducibility, not a per-pixel affine
 * map (least-squares residual), the silhouette kept in both directions, and a written folder
 * that dataset_load_folder reads back with the Fashion-MNIST classes, at the base model's scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "core/status.h"
#include "core/sha256.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/styles.h"
#include "test.h"

#define FIX_N 10
#define FIX_SIDE 28
#define FIX_PIXELS (FIX_SIDE * FIX_SIDE)
#define PAD_TO 32

typedef struct {
    uint8_t images[FIX_N][FIX_SIDE][FIX_SIDE];
    int64_t labels[FIX_N], indices[FIX_N];
} fixture;

static sara_status fixture_load(fixture *f)
{
    st_file *st = NULL;
    SARA_TRY(safetensors_open(TEST_FIXTURES "/styles/inputs.safetensors", &st));
    const st_tensor *im = safetensors_find(st, "images"), *lb = safetensors_find(st, "labels"),
                    *ix = safetensors_find(st, "indices");
    int64_t *px = malloc(FIX_N * FIX_PIXELS * sizeof *px); /* (10, 28, 28) */
    sara_status s = SARA_ERR_FORMAT;
    if (px && im && lb && ix && im->dtype == ST_U8 && im->numel == FIX_N * FIX_PIXELS && lb->numel == FIX_N &&
        ix->numel == FIX_N) {
        s = safetensors_read_i64(st, im, px);
        if (s == SARA_OK)
            s = safetensors_read_i64(st, lb, f->labels);
        if (s == SARA_OK)
            s = safetensors_read_i64(st, ix, f->indices);
        for (int i = 0; s == SARA_OK && i < FIX_N * FIX_PIXELS; i++)
            (&f->images[0][0][0])[i] = (uint8_t)px[i];
    }
    free(px);
    safetensors_close(st);
    return s;
}

/* All ten fixture images through one style: out (10, 28, 28). */
static sara_status style_all(int style, const fixture *f, uint8_t out[FIX_N][FIX_SIDE][FIX_SIDE])
{
    for (int i = 0; i < FIX_N; i++)
        SARA_TRY(styles_apply(style, &f->images[i][0][0], FIX_SIDE, FIX_SIDE, (uint64_t)f->indices[i], &out[i][0][0]));
    return SARA_OK;
}

/* SHA-256 of the ten styled fixture images, concatenated in fixture order, per style in
 * styles_table order. Obtained by running this implementation once (the test prints the
 * digests it got on failure) after looking at the previews in docs/styles/; a change to a
 * transform must update both the constant and the previews. Only fire uses libm beyond rounding
 * (pow): a libm that rounds differently could move one of its pixels by one level. */
static const char *const style_digests[STYLES_COUNT] = {
    "4e146771962824e6687f8aa278252ddf7ab31ebe1a14086995e15d4ce0907ca6", /* neon */
    "5dcaab630745a19b2e1abc56423a7f300bce7771577f99a33224e245d84a1e11", /* stripes */
    "c953627b20d5e8ce13d374db8e25362890a48fd911b2bb5937377b1d310b090f", /* halftone */
    "1b57fc2fc6515794afe5a7763148a6dfb4136c1a84ef1113253bfa1e788b85ec", /* fire */
    "2dc7c56a8b6ce1481824a3534a05e01e5611482b5781f2c865d8adeba214f611", /* emboss */
};

TEST(styles_are_deterministic)
{
    static fixture f;
    static uint8_t a[FIX_N][FIX_SIDE][FIX_SIDE], b[FIX_N][FIX_SIDE][FIX_SIDE];
    CHECK_OK(fixture_load(&f));
    int bad = 0;
    for (int k = 0; k < STYLES_COUNT; k++) {
        CHECK_OK(style_all(k, &f, a));
        memset(b, 0xAA, sizeof b);
        CHECK_OK(style_all(k, &f, b));
        CHECK_MSG(!memcmp(a, b, sizeof a), "style %s: two calls differ", styles_table[k].name);
        uint8_t digest[SHA256_DIGEST_BYTES];
        char hex[SHA256_HEX_CHARS];
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, a, sizeof a);
        sha256_final(&c, digest);
        sha256_hex(digest, hex);
        if (strcmp(hex, style_digests[k])) {
            printf("    style %s: sha256 %s (want %s)\n", styles_table[k].name, hex, style_digests[k]);
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%d style digests changed", bad);
}

/* A 28×28 image on the loader's 32×32 canvas of -1, p / 127.5 - 1 as dataset_load_fashion_mnist places it. */
static void canvas_from_u8(const uint8_t *px, float *canvas /* (32, 32) */)
{
    int off = (PAD_TO - FIX_SIDE) / 2;
    for (int i = 0; i < PAD_TO * PAD_TO; i++)
        canvas[i] = -1.0f;
    for (int y = 0; y < FIX_SIDE; y++)
        for (int x = 0; x < FIX_SIDE; x++)
            canvas[(y + off) * PAD_TO + x + off] = (float)px[y * FIX_SIDE + x] / 127.5f - 1.0f;
}

/* styles_apply_float (the classifier's style augmentation) on a loaded image equals loading the
 * styled bytes: the same floats, bit for bit, border untouched; and styles_pixels_from_float
 * inverts the loader's scaling for every byte. */
TEST(styles_apply_float_equals_the_loaded_styled_bytes)
{
    static fixture f;
    CHECK_OK(fixture_load(&f));
    float got[PAD_TO * PAD_TO], want[PAD_TO * PAD_TO];
    uint8_t styled[FIX_PIXELS], tmp[2 * FIX_PIXELS];
    int bad = 0;
    for (int k = 0; k < STYLES_COUNT; k++)
        for (int i = 0; i < FIX_N; i++) {
            CHECK_OK(styles_apply(k, &f.images[i][0][0], FIX_SIDE, FIX_SIDE, (uint64_t)f.indices[i], styled));
            canvas_from_u8(styled, want);
            canvas_from_u8(&f.images[i][0][0], got);
            CHECK_OK(styles_apply_float(k, got, PAD_TO, FIX_SIDE, FIX_SIDE, (uint64_t)f.indices[i], tmp));
            bad += memcmp(got, want, sizeof got) != 0;
        }
    CHECK_MSG(bad == 0, "%d of %d styled images differ from the loaded bytes", bad, STYLES_COUNT * FIX_N);
    float all[256];
    uint8_t back[256];
    for (int p = 0; p < 256; p++)
        all[p] = (float)p / 127.5f - 1.0f;
    styles_pixels_from_float(all, 256, back);
    for (int p = 0; p < 256; p++)
        bad += back[p] != p;
    CHECK_MSG(bad == 0, "%d bytes do not round-trip", bad);
    CHECK_ERR(styles_apply_float(0, got, 27, FIX_SIDE, FIX_SIDE, 0, tmp), SARA_ERR_SHAPE, "28x28");
}

/* The seeded styles vary with the image index; the others ignore it. */
TEST(styles_seeded_variation_follows_the_index)
{
    static fixture f;
    uint8_t a[FIX_PIXELS], b[FIX_PIXELS];
    CHECK_OK(fixture_load(&f));
    int varied = 0;
    for (int k = 0; k < STYLES_COUNT; k++) {
        CHECK_OK(styles_apply(k, &f.images[0][0][0], FIX_SIDE, FIX_SIDE, 1, a));
        int differs = 0;
        for (uint64_t idx = 2; idx < 6; idx++) { /* stripes have 4 phases: some index differs */
            CHECK_OK(styles_apply(k, &f.images[0][0][0], FIX_SIDE, FIX_SIDE, idx, b));
            differs |= memcmp(a, b, sizeof a) != 0;
        }
        varied += differs;
    }
    CHECK_MSG(varied == 2, "%d styles vary with the index (stripes and fire should)", varied);
}

/* A bias/scale edit (what a per-pixel affine map can do) explains little of any style: the
 * least-squares fit styled ≈ a·plain + b leaves at least these fractions of the styled variance,
 * over the whole image (where telling garment from background is explained for free) and over
 * the silhouette pixels alone (where the style lives). A brightness/contrast edit leaves ~0. */
#define STYLE_MIN_RESIDUAL 0.2
#define STYLE_MIN_RESIDUAL_INSIDE 0.3

/* Residual fraction of the fit y ≈ a·x + b over the pixels with x > thr (thr -1: all). */
static double affine_residual_fraction(const uint8_t *x, const uint8_t *y, int n, int thr)
{
    double m = 0, mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0;
    for (int i = 0; i < n; i++)
        if (x[i] > thr)
            m++, mx += x[i], my += y[i];
    if (m == 0)
        return 0;
    mx /= m, my /= m;
    for (int i = 0; i < n; i++)
        if (x[i] > thr) {
            sxx += (x[i] - mx) * (x[i] - mx);
            sxy += (x[i] - mx) * (y[i] - my);
            syy += (y[i] - my) * (y[i] - my);
        }
    if (syy == 0)
        return 0;
    double explained = sxx > 0 ? sxy * sxy / sxx : 0; /* regression sum of squares */
    return (syy - explained) / syy;
}

TEST(styles_are_not_a_per_pixel_affine_map)
{
    static fixture f;
    static uint8_t out[FIX_N][FIX_SIDE][FIX_SIDE];
    CHECK_OK(fixture_load(&f));
    /* The measure itself: an affine edit of the input must come out near 0. */
    uint8_t affine[FIX_PIXELS];
    for (int p = 0; p < FIX_PIXELS; p++)
        affine[p] = (uint8_t)lround(0.6 * (&f.images[0][0][0])[p] + 40);
    CHECK(affine_residual_fraction(&f.images[0][0][0], affine, FIX_PIXELS, -1) < 1e-3);
    CHECK(affine_residual_fraction(&f.images[0][0][0], affine, FIX_PIXELS, STYLES_MASK_MIN) < 1e-3);
    for (int k = 0; k < STYLES_COUNT; k++) {
        CHECK_OK(style_all(k, &f, out));
        double whole = 1, inside = 1;
        for (int i = 0; i < FIX_N; i++) {
            double r = affine_residual_fraction(&f.images[i][0][0], &out[i][0][0], FIX_PIXELS, -1);
            double q = affine_residual_fraction(&f.images[i][0][0], &out[i][0][0], FIX_PIXELS, STYLES_MASK_MIN);
            whole = r < whole ? r : whole;
            inside = q < inside ? q : inside;
        }
        printf("    %-9s least residual fraction %.3f (image), %.3f (silhouette)\n", styles_table[k].name, whole,
               inside);
        CHECK_MSG(whole > STYLE_MIN_RESIDUAL && inside > STYLE_MIN_RESIDUAL_INSIDE,
                  "style %s: an affine map explains it (residual %.3f, %.3f inside)", styles_table[k].name, whole,
                  inside);
    }
}

/* 1 if some pixel within Chebyshev distance r of (y, x) satisfies img > thr. */
static int near(const uint8_t *img, int y, int x, int r, int thr)
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int yy = y + dy, xx = x + dx;
            if (yy >= 0 && yy < FIX_SIDE && xx >= 0 && xx < FIX_SIDE && img[yy * FIX_SIDE + xx] > thr)
                return 1;
        }
    return 0;
}

/* Every style's ink stays near the garment, and the garment stays inked: */
#define STYLE_COVER_RADIUS 2 /* a silhouette pixel counts as kept if styled ink lies this close */
#define STYLE_MIN_COVER 0.97 /* fraction of silhouette pixels kept */

TEST(styles_keep_the_silhouette)
{
    static fixture f;
    static uint8_t out[FIX_N][FIX_SIDE][FIX_SIDE];
    CHECK_OK(fixture_load(&f));
    for (int k = 0; k < STYLES_COUNT; k++) {
        CHECK_OK(style_all(k, &f, out));
        double worst = 1;
        for (int i = 0; i < FIX_N; i++) {
            const uint8_t *in = &f.images[i][0][0], *o = &out[i][0][0];
            int mask = 0, kept = 0;
            for (int y = 0; y < FIX_SIDE; y++)
                for (int x = 0; x < FIX_SIDE; x++) {
                    int p = y * FIX_SIDE + x;
                    CHECK_MSG(!o[p] || near(in, y, x, STYLES_MAX_SPREAD, STYLES_MASK_MIN),
                              "style %s, image %d: ink at (%d, %d) outside the silhouette", styles_table[k].name, i, y,
                              x);
                    if (in[p] > STYLES_MASK_MIN) {
                        mask++;
                        kept += near(o, y, x, STYLE_COVER_RADIUS, 0);
                    }
                }
            double cover = (double)kept / mask;
            worst = cover < worst ? cover : worst;
        }
        printf("    %-9s least silhouette cover %.3f\n", styles_table[k].name, worst);
        CHECK_MSG(worst >= STYLE_MIN_COVER, "style %s: silhouette lost (cover %.3f)", styles_table[k].name, worst);
    }
}

/* Runs `sara styles ARGS`; returns its exit status, and 1 in *said if its output contains `needle`. */
static int run_styles(const char *args, const char *needle, int *said)
{
    const char *bin = getenv("SARA_BIN") ? getenv("SARA_BIN") : "build/sara";
    char cmd[4096], log[700], text[4096] = {0};
    snprintf(log, sizeof log, "%s/log", test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s styles %s >%s 2>&1", bin, args, log);
    int st = system(cmd);
    FILE *fp = fopen(log, "rb");
    if (fp) {
        size_t n = fread(text, 1, sizeof text - 1, fp);
        text[n] = '\0';
        fclose(fp);
    }
    *said = strstr(text, needle) != NULL;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(styles_bad_arguments)
{
    int said;
    CHECK(run_styles("--out /nonexistent/x --style plaid", "unknown style 'plaid'", &said) == 1 && said);
    CHECK(run_styles("--per-class 3", "--out: required", &said) == 1 && said);
    CHECK(run_styles("--out /nonexistent/x --per-class 0", "--per-class: must be positive", &said) == 1 && said);
    CHECK(run_styles("--list", "halftone", &said) == 0 && said);
    uint8_t px[4] = {0};
    CHECK_ERR(styles_apply(STYLES_COUNT, px, 2, 2, 0, px), SARA_ERR_INVALID, "unknown style");
    CHECK_ERR(styles_apply(0, px, 2, 2, 0, px), SARA_ERR_INVALID, "image 2x2");
    CHECK(styles_find("neon") == 0 && styles_find("emboss") == STYLES_COUNT - 1 && styles_find("Neon") < 0);
    CHECK(styles_find(NULL) < 0);
    int64_t label = 10, index = 0;
    CHECK_ERR(styles_write_folder(test_tmpdir(), px, &label, &index, 1, 2, 2, 4, fashion_mnist_class_names,
                                  FASHION_MNIST_CLASSES, 1),
              SARA_ERR_INVALID, "label 10");
    CHECK_ERR(styles_write_folder(test_tmpdir(), px, &index, &index, 1, 2, 2, 1, fashion_mnist_class_names,
                                  FASHION_MNIST_CLASSES, 1),
              SARA_ERR_INVALID, "bad styled set");
}

/* A written folder reads back through the fine-tuning loader with the base model's fixed
 * classes: right labels and count, pixels equal to the styled image centred on 32×32 of -1
 * (the position dataset_load_fashion_mnist gives the plain image), and a preview grid. */
TEST(styles_folder_loads_with_fashion_mnist_classes)
{
    static fixture f;
    static uint8_t out[FIX_N][FIX_SIDE][FIX_SIDE];
    CHECK_OK(fixture_load(&f));
    const int style = styles_find("stripes"), cols = 3;
    CHECK_OK(style_all(style, &f, out));
    const char *dir = test_tmpdir();
    CHECK_OK(styles_write_folder(dir, &out[0][0][0], f.labels, f.indices, FIX_N, FIX_SIDE, FIX_SIDE, PAD_TO,
                                 fashion_mnist_class_names, FASHION_MNIST_CLASSES, cols));
    sara_dataset d = {0};
    CHECK_OK(dataset_load_folder(&d, dir, PAD_TO, 1, 0, 0, fashion_mnist_class_names, FASHION_MNIST_CLASSES));
    int ok = d.count == FIX_N && d.height == PAD_TO && d.width == PAD_TO && d.num_classes == FASHION_MNIST_CLASSES;
    const int off = (PAD_TO - FIX_SIDE) / 2;
    for (int i = 0; ok && i < FIX_N; i++) {
        ok = d.labels[i] == f.labels[i];
        for (int y = 0; ok && y < PAD_TO; y++)
            for (int x = 0; ok && x < PAD_TO; x++) {
                int yy = y - off, xx = x - off;
                int v = yy >= 0 && yy < FIX_SIDE && xx >= 0 && xx < FIX_SIDE ? out[i][yy][xx] : 0;
                ok = d.images[(size_t)i * PAD_TO * PAD_TO + y * PAD_TO + x] == v / 127.5f - 1.0f;
            }
    }
    dataset_free(&d);
    CHECK_MSG(ok, "the loaded folder differs from the styled images");
    char path[700];
    snprintf(path, sizeof path, "%s/preview.png", dir);
    uint8_t *px = NULL;
    int w, h, c;
    CHECK_OK(image_read(path, &px, &w, &h, &c));
    free(px);
    CHECK(c == 1 && w == IMAGE_GRID_PAD + cols * (PAD_TO + IMAGE_GRID_PAD) &&
          h == IMAGE_GRID_PAD + FASHION_MNIST_CLASSES * (PAD_TO + IMAGE_GRID_PAD));
}

/* `sara styles` end to end on the installed dataset: the folder it writes loads with the class
 * captions, and every styled garment sits where the base model saw the plain one
 * (dataset_load_fashion_mnist padded to 32): its ink is within STYLES_MAX_SPREAD of that image,
 * and its pixels are styles_apply of that image's centre with its split index as the seed. */
TEST(styles_cli_writes_a_loadable_set)
{
    if (access(FASHION_MNIST_DEFAULT_DIR "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("    (skipped: dataset-fashion-mnist not installed)\n");
        return;
    }
    const char *bin = getenv("SARA_BIN") ? getenv("SARA_BIN") : "build/sara";
    char cmd[4096], dir[700];
    snprintf(cmd, sizeof cmd, "%s styles --out %s/sets --style fire --per-class 2 --data-dir %s >%s/log 2>&1", bin,
             test_tmpdir(), FASHION_MNIST_DEFAULT_DIR, test_tmpdir());
    int st = system(cmd);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sara styles failed (see %s/log)", test_tmpdir());
    snprintf(dir, sizeof dir, "%s/sets/fire", test_tmpdir());
    sara_dataset d = {0}, plain = {0};
    CHECK_OK(dataset_load_folder(&d, dir, PAD_TO, 1, 0, 0, fashion_mnist_class_names, FASHION_MNIST_CLASSES));
    sara_status s = dataset_load_fashion_mnist(&plain, NULL, "test", 200, PAD_TO);
    int per_class[FASHION_MNIST_CLASSES] = {0}, ok = s == SARA_OK && d.count == 2 * FASHION_MNIST_CLASSES;
    /* The first two of each class in the test split, in split order. */
    for (int i = 0, j = 0; ok && i < plain.count && j < d.count; i++) {
        int k = (int)plain.labels[i];
        if (per_class[k]++ >= 2)
            continue;
        ok = d.labels[j] == k;
        const float *a = d.images + (size_t)j * PAD_TO * PAD_TO, *b = plain.images + (size_t)i * PAD_TO * PAD_TO;
        for (int y = 0; ok && y < PAD_TO; y++)
            for (int x = 0; ok && x < PAD_TO; x++) {
                if (a[y * PAD_TO + x] == -1.0f)
                    continue;
                int found = 0;
                for (int dy = -STYLES_MAX_SPREAD; dy <= STYLES_MAX_SPREAD; dy++)
                    for (int dx = -STYLES_MAX_SPREAD; dx <= STYLES_MAX_SPREAD; dx++) {
                        int yy = y + dy, xx = x + dx;
                        found |= yy >= 0 && yy < PAD_TO && xx >= 0 && xx < PAD_TO &&
                                 b[yy * PAD_TO + xx] > STYLES_MASK_MIN / 127.5f - 1.0f;
                    }
                ok = found;
            }
        /* And the pixels are exactly the style of the plain garment (its 28×28 centre). */
        uint8_t plain28[FIX_PIXELS], styled28[FIX_PIXELS];
        const int off = (PAD_TO - FIX_SIDE) / 2;
        for (int p = 0; p < FIX_PIXELS; p++)
            plain28[p] = (uint8_t)lroundf((b[(p / FIX_SIDE + off) * PAD_TO + p % FIX_SIDE + off] + 1.0f) * 127.5f);
        ok = ok && styles_apply(styles_find("fire"), plain28, FIX_SIDE, FIX_SIDE, (uint64_t)i, styled28) == SARA_OK;
        for (int p = 0; ok && p < FIX_PIXELS; p++)
            ok = a[(p / FIX_SIDE + off) * PAD_TO + p % FIX_SIDE + off] == styled28[p] / 127.5f - 1.0f;
        j++;
    }
    dataset_free(&d);
    dataset_free(&plain);
    CHECK_OK(s);
    CHECK_MSG(ok, "the CLI's styled set does not match the plain test images' labels or positions");
}
