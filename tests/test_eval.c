/* test_eval.c — FID, adherence, VLHI and their reports. FID is checked against closed forms
 * (a feature set against itself; a pure mean shift adds exactly |δ|²; a scaling about the origin
 * adds (s−1)²(|μ|² + tr S); diagonal and commuting covariances; the 2×2 identity
 * tr sqrt(S1 S2) = sqrt(tr S1 S2 + 2 sqrt(det S1 det S2)) for non-commuting ones) and a numpy
 * fixture computed through the general eigenvalues of S1 S2 (tools/fixtures/make_eval_fixtures.py).
 * VLHI is checked against the paper's Table 1 (SPEC.md §6), whose 13 Mean rows give the listed
 * VLHIs. The `sara eval` command is exercised in test_eval_cli.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/safetensors.h"
#include "eval/adherence.h"
#include "eval/fid.h"
#include "eval/report.h"
#include "eval/vlhi.h"
#include "test.h"

/* x (n, d): features on a grid of 1/256 so that adding a multiple of 1/8 is exact in float */
static void grid_features(float *x, int n, int d, uint64_t seed)
{
    sara_rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n * d; i++)
        x[i] = (float)(round(rng_normal(&r) * (1 + i % d) * 64.0) / 256.0); /* widths differ per feature */
}

static double trace_of(const fid_gaussian *g)
{
    double t = 0;
    for (int i = 0; i < g->d; i++)
        t += g->cov[(size_t)i * g->d + i];
    return t;
}

TEST(fid_of_a_feature_set_against_itself_is_zero)
{
    /* n > d (full rank) and n < d (singular covariance: clamped round-off eigenvalues) */
    const int shapes[2][2] = {{200, 16}, {12, 32}};
    for (int c = 0; c < 2; c++) {
        int n = shapes[c][0], d = shapes[c][1];
        float *x = malloc((size_t)n * d * sizeof *x);
        grid_features(x, n, d, 1 + c);
        fid_gaussian g;
        double fid = -1;
        CHECK_OK(fid_gaussian_fit(&g, x, n, d));
        CHECK_OK(fid_from_features(x, n, x, n, d, &fid));
        double scale = 2 * trace_of(&g);
        fid_gaussian_free(&g);
        free(x);
        CHECK_MSG(fid >= 0 && fid <= 1e-6 * scale, "n %d d %d: FID %g against itself (tr S1 + tr S2 = %g)", n, d,
                  fid, scale);
    }
}

TEST(fid_grows_with_a_mean_shift_by_exactly_delta_squared)
{
    enum { N = 150, D = 8 };
    float x[N * D], y[N * D];
    grid_features(x, N, D, 7);
    double prev = -1;
    const double t[] = {0, 0.25, 0.5, 1, 2, 4};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        double d2 = 0;
        for (int j = 0; j < D; j++) {
            double delta = t[k] * (j % 3 - 1) * 0.5; /* multiples of 1/8: x + delta is exact */
            d2 += delta * delta;
            for (int i = 0; i < N; i++)
                y[i * D + j] = x[i * D + j] + (float)delta;
        }
        double fid;
        CHECK_OK(fid_from_features(x, N, y, N, D, &fid));
        CHECK_MSG(fabs(fid - d2) <= 1e-9 * (1 + d2), "shift %g: FID %.12g, |δ|² %.12g", t[k], fid, d2);
        CHECK_MSG(k == 0 || fid > prev, "FID %g not above %g for a larger shift", fid, prev);
        prev = fid;
    }
}

TEST(fid_of_a_scaling_matches_its_closed_form)
{
    /* y = s·x: μ2 = sμ1, S2 = s²S1, which commute: d² = (s−1)²|μ1|² + (1 + s² − 2s) tr S1 */
    enum { N = 120, D = 10 };
    float x[N * D], y[N * D];
    grid_features(x, N, D, 11);
    fid_gaussian g;
    CHECK_OK(fid_gaussian_fit(&g, x, N, D));
    double mu2 = 0, tr = trace_of(&g), prev = -1;
    for (int j = 0; j < D; j++)
        mu2 += g.mean[j] * g.mean[j];
    fid_gaussian_free(&g);
    const double s[] = {1, 1.5, 2, 4};
    for (size_t k = 0; k < sizeof s / sizeof s[0]; k++) {
        for (int i = 0; i < N * D; i++)
            y[i] = (float)(s[k] * x[i]); /* exact: powers of two times grid values, 1.5 adds one bit */
        double fid, want = (s[k] - 1) * (s[k] - 1) * (mu2 + tr);
        CHECK_OK(fid_from_features(x, N, y, N, D, &fid));
        CHECK_MSG(fabs(fid - want) <= 1e-9 * (1 + want), "scale %g: FID %.12g, closed form %.12g", s[k], fid, want);
        CHECK(k == 0 || fid > prev);
        prev = fid;
    }
}

/* out (d, d) = Q diag(lambda) Qᵀ with Q = I − 2vvᵀ/|v|² (a Householder reflection: orthogonal) */
static void rotated_diag(int d, const double *v, const double *lambda, double *out)
{
    double vv = 0;
    for (int i = 0; i < d; i++)
        vv += v[i] * v[i];
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double sum = 0;
            for (int k = 0; k < d; k++) {
                double qik = (i == k) - 2 * v[i] * v[k] / vv, qjk = (j == k) - 2 * v[j] * v[k] / vv;
                sum += qik * lambda[k] * qjk;
            }
            out[i * d + j] = sum;
        }
}

TEST(fid_matches_the_closed_form_for_diagonal_and_commuting_covariances)
{
    enum { D = 5 };
    const double mu1[D] = {0.1, -0.2, 0.3, 0, 1}, mu2[D] = {0.4, 0.2, -0.1, 0.5, 1};
    const double a[D] = {1.0, 2.5, 0.3, 0.0, 4.0}; /* one zero eigenvalue: a singular covariance */
    const double b[D] = {0.5, 2.5, 1.7, 0.9, 0.01};
    double want = 0;
    for (int i = 0; i < D; i++)
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + a[i] + b[i] - 2 * sqrt(a[i] * b[i]);
    double s1[D * D] = {0}, s2[D * D] = {0}, got;
    for (int i = 0; i < D; i++) {
        s1[i * D + i] = a[i];
        s2[i * D + i] = b[i];
    }
    CHECK_OK(fid_frechet(D, mu1, s1, mu2, s2, &got));
    CHECK_MSG(fabs(got - want) <= 1e-9 * want, "diagonal: %.12g vs %.12g", got, want);
    const double v[D] = {0.3, -1.2, 0.7, 0.2, 0.5}; /* the same rotation of both: they commute */
    rotated_diag(D, v, a, s1);
    rotated_diag(D, v, b, s2);
    CHECK_OK(fid_frechet(D, mu1, s1, mu2, s2, &got));
    /* a zero eigenvalue computed as ±1e-16 has a square root of 1e-8: the tolerance allows it */
    CHECK_MSG(fabs(got - want) <= 1e-7 * want, "commuting: %.12g vs %.12g", got, want);
}

TEST(fid_matches_the_two_by_two_closed_form_for_non_commuting_covariances)
{
    /* For 2×2 M with positive eigenvalues, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); with M = S1 S2,
     * det M = det S1 det S2. */
    sara_rng r;
    rng_seed(&r, 3);
    for (int trial = 0; trial < 20; trial++) {
        double s[2][4], mu[2][2];
        for (int k = 0; k < 2; k++) { /* S = LLᵀ + εI, L random: symmetric positive definite */
            double l[4] = {rng_normal(&r), 0, rng_normal(&r), rng_normal(&r)};
            s[k][0] = l[0] * l[0] + 1e-3;
            s[k][1] = s[k][2] = l[0] * l[2];
            s[k][3] = l[2] * l[2] + l[3] * l[3] + 1e-3;
            mu[k][0] = rng_normal(&r);
            mu[k][1] = rng_normal(&r);
        }
        double tr12 = s[0][0] * s[1][0] + s[0][1] * s[1][2] + s[0][2] * s[1][1] + s[0][3] * s[1][3];
        double det = (s[0][0] * s[0][3] - s[0][1] * s[0][2]) * (s[1][0] * s[1][3] - s[1][1] * s[1][2]);
        double dm = (mu[0][0] - mu[1][0]) * (mu[0][0] - mu[1][0]) + (mu[0][1] - mu[1][1]) * (mu[0][1] - mu[1][1]);
        double want = dm + s[0][0] + s[0][3] + s[1][0] + s[1][3] - 2 * sqrt(tr12 + 2 * sqrt(det)), got;
        CHECK_OK(fid_frechet(2, mu[0], s[0], mu[1], s[1], &got));
        CHECK_MSG(fabs(got - want) <= 1e-9 * (1 + want), "trial %d: %.12g vs %.12g", trial, got, want);
    }
}

TEST(fid_matches_the_numpy_fixture)
{
    st_file *f = NULL;
    CHECK_OK(safetensors_open(TEST_FIXTURES "/eval/fid.safetensors", &f));
    const st_tensor *a = safetensors_find(f, "a"), *b = safetensors_find(f, "b");
    const char *want_s = safetensors_meta(f, "fid");
    CHECK(a && b && want_s && a->ndim == 2 && b->ndim == 2 && a->shape[1] == b->shape[1]);
    float *xa = malloc((size_t)a->numel * sizeof(float)), *xb = malloc((size_t)b->numel * sizeof(float));
    sara_status s = safetensors_read_f32(f, a, xa);
    if (s == SARA_OK)
        s = safetensors_read_f32(f, b, xb);
    double got = -1, want = strtod(want_s, NULL);
    if (s == SARA_OK)
        s = fid_from_features(xa, (int)a->shape[0], xb, (int)b->shape[0], (int)a->shape[1], &got);
    free(xa);
    free(xb);
    safetensors_close(f);
    CHECK_OK(s);
    CHECK_MSG(fabs(got - want) <= 1e-8 * want, "FID %.12g, numpy %.12g", got, want);
}

TEST(fid_rejects_bad_inputs)
{
    float x[6] = {1, 2, 3, 4, 5, NAN};
    fid_gaussian g, h;
    double out;
    CHECK_ERR(fid_gaussian_fit(&g, x, 1, 2), SARA_ERR_INVALID, "at least 2 samples");
    CHECK_ERR(fid_gaussian_fit(&g, x, 3, 2), SARA_ERR_NUMERIC, "not finite");
    CHECK_OK(fid_gaussian_fit(&g, x, 2, 2));
    CHECK_OK(fid_gaussian_fit(&h, x, 2, 1));
    CHECK_ERR(fid_distance(&g, &h, &out), SARA_ERR_SHAPE, "widths differ");
    fid_gaussian_free(&g);
    fid_gaussian_free(&h);
    fid_gaussian_free(&h); /* twice: safe */
}

/* ---- VLHI ------------------------------------------------------------------------------------ */

TEST(vlhi_reproduces_the_paper_table_1_mean_column)
{
    /* SPEC.md §6: SD1.5 Mean column, FID / CLIP / VLHI, 13 rows normalised together */
    static const double rows[13][3] = {
        {150.74, 27.96, 1.45}, {146.62, 27.06, 1.18}, {150.18, 25.76, 0.49}, {134.96, 27.08, 1.55}, /* 50M */
        {148.77, 27.97, 1.52}, {150.24, 27.39, 1.21}, {155.48, 25.99, 0.42}, {136.92, 27.53, 1.69}, /* 20M */
        {151.58, 28.00, 1.44}, {156.88, 27.67, 1.13}, {165.72, 26.37, 0.27}, {147.80, 27.73, 1.44}, /* 5M */
        {133.69, 26.42, 1.30},                                                                     /* full */
    };
    double fid[13], clip[13], v[13];
    for (int i = 0; i < 13; i++) {
        fid[i] = rows[i][0];
        clip[i] = rows[i][1];
    }
    CHECK_OK(vlhi_compute(fid, clip, 13, v));
    for (int i = 0; i < 13; i++)
        CHECK_MSG(fabs(v[i] - rows[i][2]) <= 0.01, "row %d: VLHI %.4f, paper %.2f", i, v[i], rows[i][2]);
}

TEST(vlhi_of_ties_is_the_midpoint_of_each_tied_term)
{
    double fid[3] = {10, 10, 10}, adh[3] = {0.5, 0.5, 0.5}, v[3];
    CHECK_OK(vlhi_compute(fid, adh, 3, v)); /* all equal: both terms tie */
    for (int i = 0; i < 3; i++)
        CHECK(v[i] == 2 * VLHI_TIE_TERM);
    CHECK_OK(vlhi_compute(fid, adh, 1, v)); /* a group of one */
    CHECK(v[0] == 2 * VLHI_TIE_TERM);
    double adh2[3] = {0.2, 0.6, 1.0}; /* FID ties, adherence ranks */
    CHECK_OK(vlhi_compute(fid, adh2, 3, v));
    CHECK(v[0] == VLHI_TIE_TERM && v[1] == VLHI_TIE_TERM + 0.5 && v[2] == VLHI_TIE_TERM + 1);
    double fid2[3] = {30, 20, 10};
    CHECK_OK(vlhi_compute(fid2, adh2, 3, v)); /* no ties: the range [0, 2] is reached */
    CHECK(v[0] == 0 && v[1] == 1 && v[2] == 2);
    adh2[1] = NAN;
    CHECK_ERR(vlhi_compute(fid2, adh2, 3, v), SARA_ERR_NUMERIC, "run 1");
    CHECK_ERR(vlhi_compute(fid2, adh2, 0, v), SARA_ERR_INVALID, "empty");
}

TEST(vlhi_table_normalises_the_means_not_the_per_dataset_vlhis)
{
    /* two data sets with very different FID scales: run B is best on X by a little and worst on Y
     * by a lot */
    const vlhi_run runs[] = {
        {"A", "X", 10, 0.5, "a-x.json"}, {"B", "X", 9, 0.5, "b-x.json"}, {"C", "X", 11, 0.9, "c-x.json"},
        {"A", "Y", 100, 0.6, "a-y.json"}, {"B", "Y", 300, 0.6, "b-y.json"}, {"C", "Y", 200, 0.7, "c-y.json"},
        {"D", "X", 10, 0.7, "d-x.json"}, /* on one data set only: no Mean */
    };
    vlhi_table t;
    CHECK_OK(vlhi_table_build(&t, runs, 7));
    CHECK(t.n_labels == 4 && t.n_data == 2 && !strcmp(t.labels[3], "D") && !strcmp(t.data[1], "Y"));
    /* per data set X over A, B, C, D: FID 9..11, adherence 0.5..0.9 */
    CHECK(fabs(t.vlhi[0 * 2 + 0] - (0.5 + 0.0)) < 1e-12 && fabs(t.vlhi[1 * 2 + 0] - (1 + 0)) < 1e-12);
    CHECK(fabs(t.vlhi[3 * 2 + 0] - (0.5 + 0.5)) < 1e-12 && isnan(t.vlhi[3 * 2 + 1]));
    /* Y over A, B, C: FID 100..300, adherence 0.6..0.7 */
    CHECK(fabs(t.vlhi[0 * 2 + 1] - 1.0) < 1e-12 && fabs(t.vlhi[2 * 2 + 1] - 1.5) < 1e-12);
    /* Mean: A (55, 0.55), B (154.5, 0.55), C (105.5, 0.8) normalised together */
    CHECK(fabs(t.mean_fid[1] - 154.5) < 1e-12 && fabs(t.mean_adherence[2] - 0.8) < 1e-12);
    double want_a = 1 + 0, want_b = 0 + 0, want_c = (154.5 - 105.5) / (154.5 - 55) + 1;
    CHECK(fabs(t.mean_vlhi[0] - want_a) < 1e-12 && fabs(t.mean_vlhi[1] - want_b) < 1e-12 &&
          fabs(t.mean_vlhi[2] - want_c) < 1e-12);
    /* the mean of C's per-data-set VLHIs differs: the Mean column is not that */
    CHECK(fabs((t.vlhi[2 * 2] + t.vlhi[2 * 2 + 1]) / 2 - t.mean_vlhi[2]) > 0.1);
    CHECK(isnan(t.mean_fid[3]) && isnan(t.mean_vlhi[3]));
    vlhi_table_free(&t);
    vlhi_table_free(&t);
    const vlhi_run dup[] = {{"A", "X", 1, 0.5, "one.json"}, {"A", "X", 2, 0.5, "two.json"}};
    CHECK_ERR(vlhi_table_build(&t, dup, 2), SARA_ERR_INVALID, "two.json: label 'A' on data 'X' is also in one.json");
}

/* ---- adherence ------------------------------------------------------------------------------- */

TEST(adherence_is_the_per_class_accuracy_and_its_mean)
{
    /* 3 classes; class 0 requested 4 times (3 hits), class 2 twice (1 hit), class 1 never */
    const float logits[6 * 3] = {
        5, 1, 0, /* → 0 */ 2, 1, 0, /* → 0 */ 0, 3, 1, /* → 1 */ 1, 1, 0, /* tie → 0 */
        0, 0, 1, /* → 2 */ 4, 0, 1, /* → 0 */
    };
    const int64_t req[6] = {0, 0, 0, 0, 2, 2};
    int count[3];
    double per[3], overall;
    CHECK_OK(adherence_compute(logits, req, 6, 3, count, per, &overall));
    CHECK(count[0] == 4 && count[1] == 0 && count[2] == 2);
    CHECK(per[0] == 0.75 && isnan(per[1]) && per[2] == 0.5);
    CHECK(overall == (0.75 + 0.5) / 2);
    const int64_t bad[1] = {3};
    CHECK_ERR(adherence_compute(logits, bad, 1, 3, count, per, &overall), SARA_ERR_INVALID, "class 3");
}

/* ---- reports --------------------------------------------------------------------------------- */

TEST(eval_report_round_trips_and_bad_records_name_the_file)
{
    const char *names[2] = {"cat", "dog"}, *adapters[1] = {"a.safetensors:0.5"};
    const int count[2] = {0, 8}, ref[2] = {5, 7};
    const double per[2] = {NAN, 0.625};
    eval_report r = {.label = "sara-20M", .model = "runs/x/model", .adapters = adapters, .n_adapters = 1,
                     .data = "styles/ink", .classifier = "c.safetensors", .judge = "j.safetensors", .per_class = 8, .steps = 20,
                     .guidance = 1, .seed = 3, .n_generated = 8, .n_reference = 12, .feature_dim = 64,
                     .num_classes = 2, .class_names = names, .count = count, .ref_count = ref,
                     .class_adherence = per, .fid = 12.5, .adherence = 0.625};
    const char *path = test_tmp_path("r.json");
    CHECK_OK(eval_report_write_json(&r, path));
    {
        char json[4096] = {0};
        FILE *jf = fopen(path, "rb");
        CHECK(jf && fread(json, 1, sizeof json - 1, jf) > 0);
        if (jf)
            fclose(jf);
        CHECK_MSG(strstr(json, "\"classifier\":\t\"c.safetensors\"") && strstr(json, "\"judge\":\t\"j.safetensors\""),
                  "json: %s", json);
    }
    char *label, *data;
    double fid, adh;
    CHECK_OK(eval_record_load(path, &label, &data, &fid, &adh));
    CHECK(!strcmp(label, "sara-20M") && !strcmp(data, "styles/ink") && fid == 12.5 && adh == 0.625);
    free(label);
    free(data);
    const char *md = test_tmp_path("r.md");
    CHECK_OK(eval_report_append_md(&r, md));
    CHECK_OK(eval_report_append_md(&r, md));
    FILE *fp = fopen(md, "rb");
    char text[1024] = {0};
    CHECK(fp && fread(text, 1, sizeof text - 1, fp) > 0);
    fclose(fp);
    const char *row = "| sara-20M | styles/ink | 12.50 | 0.6250 | 8 | 12 |\n";
    CHECK_MSG(strstr(text, "| label |") == text && strstr(text, row) && strstr(strstr(text, row) + 1, row),
              "markdown: %s", text);

    const char *bad = test_tmp_path("bad.json");
    test_write_text(bad, "{\"label\": \"x\", \"data\": \"d\", \"fid\": 3}");
    CHECK_ERR(eval_record_load(bad, &label, &data, &fid, &adh), SARA_ERR_MISSING, "bad.json: missing key 'adherence'");
    test_write_text(bad, "{\"label\": \"x\", \"data\": \"d\", \"fid\": \"3\", \"adherence\": 1}");
    CHECK_ERR(eval_record_load(bad, &label, &data, &fid, &adh), SARA_ERR_FORMAT, "bad.json: key 'fid'");
    test_write_text(bad, "[1, 2");
    CHECK_ERR(eval_record_load(bad, &label, &data, &fid, &adh), SARA_ERR_FORMAT, "bad.json: not a JSON object");
    CHECK_ERR(eval_record_load(test_tmp_path("absent.json"), &label, &data, &fid, &adh), SARA_ERR_IO, "absent.json");
}

TEST(eval_group_markdown_has_a_row_per_label_and_a_mean_column)
{
    const vlhi_run runs[] = {{"A", "X", 10, 0.5, NULL}, {"B|2", "X", 20, 0.7, NULL}, {"A", "Y", 5, 0.9, NULL}};
    vlhi_table t;
    CHECK_OK(vlhi_table_build(&t, runs, 3));
    const char *md = test_tmp_path("g.md"), *js = test_tmp_path("g.json");
    CHECK_OK(eval_group_write_md(&t, md));
    CHECK_OK(eval_group_write_json(&t, js));
    vlhi_table_free(&t);
    FILE *fp = fopen(md, "rb");
    char text[2048] = {0};
    CHECK(fp && fread(text, 1, sizeof text - 1, fp) > 0);
    fclose(fp);
    CHECK_MSG(strstr(text, "| label | X: FID / adherence / VLHI | Y: FID / adherence / VLHI | Mean: FID / "
                           "adherence / VLHI |\n|---|---|---|---|\n") == text, "%s", text);
    /* A on X: best FID, worst adherence → 1.00; A alone on Y → ties → 1.00; B lacks Y → no Mean;
     * a '|' in a label is escaped so that it does not split the cell */
    CHECK_MSG(strstr(text, "| A | 10.00 / 0.5000 / 1.00 | 5.00 / 0.9000 / 1.00 | 7.50 / 0.7000 / 1.00 |\n"), "%s",
              text);
    CHECK_MSG(strstr(text, "| B\\|2 | 20.00 / 0.7000 / 1.00 | — | — |\n"), "%s", text);
}
