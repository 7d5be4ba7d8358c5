/* test_eval_cli.c — `sara eval` as a user runs it ($SARA_BIN): --group ranks hand-written results
 * (checked against VLHI computed by hand) and names the file of a bad one in one line; --images on
 * a tiny folder of Fashion-MNIST test images against itself gives FID ≈ 0 and a valid JSON result;
 * --model samples from a one-step model. The last two need the committed classifier and judge weights. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/text_file.h"
#include "data/dataset.h"
#include "data/image.h"
#include "test.h"

#define CLASSIFIER_PATH "models/classifier/fashion-mnist-classifier.safetensors"
#define JUDGE_PATH "models/classifier/fashion-mnist-judge.safetensors"
#define TINY_IMAGES 24

static int run_eval(const char *args, const char *log)
{
    const char *bin = getenv("SARA_BIN");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", bin ? bin : "build/sara", args, log);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A path in the test's folder; each call gets its own buffer (TMP_PATHS per test at most). */
#define TMP_PATHS 64
static const char *tmp(const char *name)
{
    static char buf[TMP_PATHS][700];
    static int next;
    char *p = buf[next++ % TMP_PATHS];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return p;
}

/* The whole file (caller frees), or NULL. */
static char *slurp(const char *path)
{
    char *text = NULL;
    return text_file_read(path, 1 << 20, "test output", &text, NULL) == SARA_OK ? text : NULL;
}

/* One line of output that contains needle. */
static int one_line_with(const char *log, const char *needle)
{
    char *t = slurp(log);
    int ok = t && strstr(t, needle) && strchr(t, '\n') == t + strlen(t) - 1;
    if (!ok)
        printf("    log: %s", t ? t : "(none)\n");
    free(t);
    return ok;
}

static void write_result(const char *name, const char *label, const char *data, double fid, double adh)
{
    char text[512];
    snprintf(text, sizeof text, "{\"label\": \"%s\", \"data\": \"%s\", \"fid\": %.17g, \"adherence\": %.17g}", label,
             data, fid, adh);
    test_write_text(tmp(name), text);
}

TEST(eval_cli_group_ranks_results_and_names_bad_files)
{
    write_result("a.json", "lora", "ink", 40, 0.6);
    write_result("b.json", "sara", "ink", 30, 0.8);
    write_result("c.json", "full", "ink", 50, 0.7);
    char args[4096];
    const char *log = tmp("log"), *md = tmp("g.md"), *js = tmp("g.json");
    snprintf(args, sizeof args, "eval --group %s %s %s --md %s --json %s", tmp("a.json"), tmp("b.json"),
             tmp("c.json"), md, js);
    CHECK_MSG(run_eval(args, log) == 0, "eval --group failed (see %s)", log);
    char *text = slurp(md);
    /* by hand: FID 30..50, adherence 0.6..0.8 → lora 0.5 + 0, sara 1 + 1, full 0 + 0.5 */
    int ok = text && strstr(text, "| lora | 40.00 / 0.6000 / 0.50 | 40.00 / 0.6000 / 0.50 |\n") &&
             strstr(text, "| sara | 30.00 / 0.8000 / 2.00 |") && strstr(text, "| full | 50.00 / 0.7000 / 0.50 |");
    CHECK_MSG(ok, "table: %s", text ? text : "(none)");
    free(text);
    text = slurp(js);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *runs = cJSON_GetObjectItem(root, "runs");
    cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 1), "mean"), "vlhi");
    ok = cJSON_GetArraySize(runs) == 3 && cJSON_IsNumber(v) && v->valuedouble == 2.0;
    cJSON_Delete(root);
    CHECK_MSG(ok, "group JSON %s", js);

    test_write_text(tmp("bad.json"), "{\"label\": \"x\", \"data\": \"ink\", \"fid\": 3}");
    snprintf(args, sizeof args, "eval --group %s %s", tmp("a.json"), tmp("bad.json"));
    CHECK(run_eval(args, log) == 1);
    CHECK(one_line_with(log, "bad.json: missing key 'adherence'"));
    snprintf(args, sizeof args, "eval --group %s %s", tmp("a.json"), tmp("absent.json"));
    CHECK(run_eval(args, log) == 1);
    CHECK(one_line_with(log, "absent.json: cannot open"));
    write_result("dup.json", "lora", "ink", 41, 0.6);
    snprintf(args, sizeof args, "eval --group %s %s", tmp("a.json"), tmp("dup.json"));
    CHECK(run_eval(args, log) == 1);
    CHECK(one_line_with(log, "dup.json: label 'lora' on data 'ink' is also in"));
    CHECK(run_eval("eval --group", log) == 1);
    CHECK(one_line_with(log, "--group needs result files"));
    CHECK(run_eval("eval stray.json", log) == 2);
    CHECK(one_line_with(log, "unexpected argument 'stray.json'"));
    CHECK(run_eval("eval --images /no/such/folder --classifier /no/such/classifier.safetensors", log) == 1);
    CHECK(one_line_with(log, "/no/such/classifier.safetensors"));
    if (access(CLASSIFIER_PATH, R_OK) == 0) {
        CHECK(run_eval("eval --images /no/such/folder --judge /no/such/judge.safetensors", log) == 1);
        CHECK(one_line_with(log, "/no/such/judge.safetensors"));
    }
}

/* A folder of the first TINY_IMAGES Fashion-MNIST test images with metadata.jsonl captions. */
static int make_tiny_folder(const char *dir)
{
    sara_dataset d = {0};
    if (mkdir(dir, 0755) != 0 || dataset_load_fashion_mnist(&d, NULL, "test", TINY_IMAGES, 0) != SARA_OK)
        return 0;
    char path[800], line[256];
    snprintf(path, sizeof path, "%s/metadata.jsonl", dir);
    FILE *meta = fopen(path, "wb");
    int ok = meta != NULL;
    uint8_t px[28 * 28];
    for (int i = 0; ok && i < d.count; i++) {
        for (int p = 0; p < 28 * 28; p++) /* back to the file's bytes: x = p / 127.5 − 1 */
            px[p] = (uint8_t)lrintf((d.images[(size_t)i * 28 * 28 + p] + 1) * 127.5f);
        snprintf(line, sizeof line, "%s/%02d.png", dir, i);
        ok = image_write_png(line, px, 28, 28, 1) == SARA_OK;
        fprintf(meta, "{\"file_name\": \"%02d.png\", \"text\": \"%s\"}\n", i, d.class_names[d.labels[i]]);
    }
    if (meta)
        ok = fclose(meta) == 0 && ok;
    dataset_free(&d);
    return ok;
}

static cJSON *load_json(const char *path)
{
    char *text = slurp(path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    return root;
}

static double json_number(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static int have_inputs(void)
{
    if (access(CLASSIFIER_PATH, R_OK) != 0 || access(JUDGE_PATH, R_OK) != 0 ||
        access(FASHION_MNIST_DEFAULT_DIR "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("    (skipped: needs " CLASSIFIER_PATH ", " JUDGE_PATH " and dataset-fashion-mnist)\n");
        return 0;
    }
    return 1;
}

TEST(eval_cli_images_against_themselves_give_zero_fid_and_valid_json)
{
    if (!have_inputs())
        return;
    const char *dir = tmp("tiny"), *log = tmp("log"), *js = tmp("r.json"), *md = tmp("r.md");
    CHECK(make_tiny_folder(dir));
    char args[4096];
    snprintf(args, sizeof args, "eval --threads 1 --images %s --data %s --json %s --md %s --label ceiling", dir, dir,
             js, md);
    CHECK_MSG(run_eval(args, log) == 0, "eval --images failed (see %s)", log);
    cJSON *r = load_json(js);
    CHECK_MSG(r, "%s is not JSON", js);
    double fid = json_number(r, "fid"), adh = json_number(r, "adherence");
    int gen = (int)json_number(r, "generated"), ref = (int)json_number(r, "reference"), sum = 0;
    const cJSON *per = cJSON_GetObjectItem(r, "per_class_adherence"), *it;
    cJSON_ArrayForEach(it, per) sum += (int)json_number(it, "generated");
    int ok = gen == TINY_IMAGES && ref == TINY_IMAGES && sum == TINY_IMAGES && fid >= 0 && fid < 1e-6 &&
             adh >= 0 && adh <= 1 && !strcmp(cJSON_GetObjectItem(r, "label")->valuestring, "ceiling") &&
             cJSON_IsObject(cJSON_GetObjectItem(r, "fid_samples")) &&
             cJSON_IsString(cJSON_GetObjectItem(r, "classifier")) &&
             !strcmp(cJSON_GetObjectItem(r, "classifier")->valuestring, CLASSIFIER_PATH) &&
             cJSON_IsString(cJSON_GetObjectItem(r, "judge")) &&
             !strcmp(cJSON_GetObjectItem(r, "judge")->valuestring, JUDGE_PATH);
    cJSON_Delete(r);
    CHECK_MSG(ok, "result %s: fid %g adherence %g generated %d reference %d per-class sum %d", js, fid, adh, gen, ref,
              sum);
    /* against other images the distance is positive */
    snprintf(args, sizeof args, "eval --threads 1 --images %s --data fashion-mnist --ref-limit 300 --json %s", dir, js);
    CHECK_MSG(run_eval(args, log) == 0, "eval --images failed (see %s)", log);
    r = load_json(js);
    fid = json_number(r, "fid");
    ref = (int)json_number(r, "reference");
    cJSON_Delete(r);
    CHECK_MSG(fid > 1e-3 && ref == 300, "FID %g against %d test images", fid, ref);
}

TEST(eval_cli_model_samples_each_class_in_the_reference)
{
    if (!have_inputs())
        return;
    const char *dir = tmp("tiny"), *log = tmp("log"), *js = tmp("m.json");
    CHECK(make_tiny_folder(dir));
    char args[4096];
    snprintf(args, sizeof args, "train --threads 1 --limit 8 --steps 1 --batch 4 --samples-per-class 0 --out %s",
             tmp("run"));
    CHECK_MSG(run_eval(args, log) == 0, "train failed (see %s)", log);
    snprintf(args, sizeof args,
             "eval --threads 1 --model %s/model --data %s --per-class 2 --sample-steps 2 --seed 5 --json %s",
             tmp("run"), dir, js);
    CHECK_MSG(run_eval(args, log) == 0, "eval --model failed (see %s)", log);
    cJSON *r = load_json(js);
    CHECK_MSG(r, "%s is not JSON", js);
    /* 2 per class for each class the 24 reference images hold */
    int classes = cJSON_GetArraySize(cJSON_GetObjectItem(r, "per_class_adherence"));
    int gen = (int)json_number(r, "generated");
    double fid = json_number(r, "fid"), seed = json_number(r, "seed"), steps = json_number(r, "sample_steps");
    cJSON_Delete(r);
    CHECK_MSG(classes >= 2 && gen == 2 * classes && fid > 0 && seed == 5 && steps == 2,
              "classes %d generated %d fid %g seed %g steps %g", classes, gen, fid, seed, steps);
}
