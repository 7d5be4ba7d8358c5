/* test_cli.c — the `sara` command as a user runs it ($SARA_BIN, set by `make test`): `forward`
 * reproduces the PyTorch oracle through files, `inspect` describes a model, a short `train` +
 * `sample` round trip writes what it promises, and bad input gives one line and a non-zero exit. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "test.h"

static const char *sara_bin(void)
{
    const char *b = getenv("SARA_BIN");
    return b ? b : "build/sara";
}

/* Runs `sara ARGS`, stdout+stderr to FILE; returns the exit status (-1 if it died by a signal). */
static int run_sara(const char *args, const char *log)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>&1", sara_bin(), args, log);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static int count_lines(const char *path)
{
    FILE *fp = fopen(path, "rb");
    int n = 0, c;
    if (!fp)
        return -1;
    while ((c = fgetc(fp)) != EOF)
        n += c == '\n';
    fclose(fp);
    return n;
}

TEST(cli_forward_reproduces_the_oracle)
{
    char out[600], log[600], args[2048];
    snprintf(out, sizeof out, "%s/out.safetensors", test_tmpdir());
    snprintf(log, sizeof log, "%s/log", test_tmpdir());
    snprintf(args, sizeof args, "forward --threads 1 --model " TEST_FIXTURES "/unet/tiny --inputs " TEST_FIXTURES
             "/unet/tiny/io.safetensors -o %s", out);
    CHECK_MSG(run_sara(args, log) == 0, "sara forward failed (see %s)", log);
    st_file *got = NULL, *want = NULL;
    CHECK_OK(safetensors_open(out, &got));
    CHECK_OK(safetensors_open(TEST_FIXTURES "/unet/tiny/io.safetensors", &want));
    const char *names[] = {"output", "grad.sample", "grad.conv_in.weight", "grad.class_embedding.weight",
                           "grad.down_blocks.1.attentions.0.to_q.weight"};
    int ok = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && ok; i++) {
        const st_tensor *a = safetensors_find(got, names[i]), *b = safetensors_find(want, names[i]);
        ok = a && b && a->numel == b->numel;
        float *x = ok ? malloc((size_t)a->numel * sizeof(float)) : NULL, *y = ok ? malloc((size_t)b->numel * sizeof(float)) : NULL;
        ok = ok && safetensors_read_f32(got, a, x) == SARA_OK && safetensors_read_f32(want, b, y) == SARA_OK;
        /* same tolerances as the in-process whole-model test */
        ok = ok && test_allclose_f32(names[i], x, y, (size_t)a->numel, 1e-4, 1e-3);
        free(x);
        free(y);
    }
    /* output, grad.sample and one gradient per parameter of the tiny model (145) */
    CHECK_MSG(got->count == 2 + 145, "output has %d tensors", got->count);
    safetensors_close(got);
    safetensors_close(want);
    CHECK(ok);
}

TEST(cli_inspect_describes_a_model_folder)
{
    char log[600];
    snprintf(log, sizeof log, "%s/log", test_tmpdir());
    CHECK(run_sara("inspect " TEST_FIXTURES "/unet/tiny", log) == 0);
    CHECK(file_contains(log, "class_embedding.weight"));
    CHECK(file_contains(log, "45065")); /* the oracle's parameter count */
}

TEST(cli_bad_input_is_one_line_and_nonzero)
{
    char log[600], bad[600], args[1400];
    snprintf(log, sizeof log, "%s/log", test_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.safetensors", test_tmpdir());
    FILE *fp = fopen(bad, "wb");
    CHECK(fp);
    fputs("not a safetensors file at all", fp);
    fclose(fp);
    snprintf(args, sizeof args, "inspect %s", bad);
    CHECK(run_sara(args, log) == 1);
    CHECK(count_lines(log) == 1 && file_contains(log, "bad.safetensors"));
    CHECK(run_sara("train --steps 2 --data /no/such/folder", log) == 1);
    CHECK(file_contains(log, "sara: /no/such/folder"));
    CHECK(run_sara("train --steps nine", log) == 2);
    CHECK(file_contains(log, "--steps: invalid value 'nine'"));
    CHECK(run_sara("sample --model " TEST_FIXTURES "/unet/tiny --guidance 3", log) == 1);
    CHECK(file_contains(log, "null"));
    CHECK(run_sara("frobnicate", log) == 2);
}

/* From scratch on a tiny image folder, then sample from the result: every promised file exists
 * and the metrics log has one line per step. */
TEST(cli_train_then_sample_writes_its_outputs)
{
    const char *d = test_tmpdir();
    char cmd[4096], log[600], path[700];
    snprintf(log, sizeof log, "%s/log", d);
    /* Fashion-MNIST's first 64 images (the Debian package is a declared dependency). */
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("    (skipped: dataset-fashion-mnist not installed)\n");
        return;
    }
    snprintf(cmd, sizeof cmd,
             "train --threads 1 --model-config " TEST_FIXTURES "/unet/tiny/config.json --limit 64 --steps 4 --batch 4 "
             "--save-every 2 --samples-per-class 1 --sample-steps 2 --out %s/run",
             d);
    /* The tiny config takes 8×8 images: Fashion-MNIST's 28×28 must be refused, naming the file. */
    CHECK(run_sara(cmd, log) == 1);
    CHECK_MSG(file_contains(log, "train-images-idx3-ubyte.gz: cannot pad 28x28 images to 8"), "unexpected message");
    snprintf(cmd, sizeof cmd,
             "train --threads 1 --limit 64 --steps 4 --batch 4 --save-every 2 --samples-per-class 1 --sample-steps 2 "
             "--out %s/run",
             d);
    CHECK_MSG(run_sara(cmd, log) == 0, "train failed (see %s)", log);
    CHECK(file_contains(log, "memory plan:"));
    snprintf(path, sizeof path, "%s/run/metrics.jsonl", d);
    CHECK(count_lines(path) == 4);
    const char *expect[] = {"run/model/config.json", "run/model/diffusion_pytorch_model.safetensors",
                            "run/model/sara.json", "run/samples.png", "run/checkpoints/checkpoint-00000004.safetensors",
                            "run/checkpoints/checkpoint-00000002.safetensors"};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", d, expect[i]);
        CHECK_MSG(access(path, R_OK) == 0, "missing %s", expect[i]);
    }
    snprintf(cmd, sizeof cmd, "sample --threads 1 --model %s/run/model --per-class 1 --steps 2 --out %s/s.png", d, d);
    CHECK(run_sara(cmd, log) == 0);
    snprintf(path, sizeof path, "%s/s.png", d);
    CHECK(access(path, R_OK) == 0);
}

/* Copies the "activations ..." field of the memory plan line of a log into out. */
static void plan_activations(const char *log, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *fp = fopen(log, "rb");
    char line[1024];
    while (fp && fgets(line, sizeof line, fp)) {
        const char *a = strstr(line, "| activations ");
        if (strstr(line, "memory plan:") && a) {
            snprintf(out, cap, "%.*s", (int)strcspn(a + 2, "|"), a + 2);
            break;
        }
    }
    if (fp)
        fclose(fp);
}

/* --gradient-checkpointing reaches the model: the plan's activations shrink and the trained model
 * is the same file. */
TEST(cli_train_gradient_checkpointing_same_model_smaller_plan)
{
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("    (skipped: dataset-fashion-mnist not installed)\n");
        return;
    }
    const char *d = test_tmpdir();
    char cmd[4096], log[2][600], act[2][64], model[2][700];
    for (int k = 0; k < 2; k++) {
        snprintf(log[k], sizeof log[k], "%s/log%d", d, k);
        snprintf(cmd, sizeof cmd,
                 "train --threads 1 --limit 16 --steps 2 --batch 8 --samples-per-class 0 --method sara --out %s/ck%d%s",
                 d, k, k ? " --gradient-checkpointing" : "");
        CHECK_MSG(run_sara(cmd, log[k]) == 0, "train failed (see %s)", log[k]);
        plan_activations(log[k], act[k], sizeof act[k]);
        snprintf(model[k], sizeof model[k], "%s/ck%d/model/diffusion_pytorch_model.safetensors", d, k);
    }
    CHECK_MSG(act[0][0] && act[1][0] && strcmp(act[0], act[1]), "plans: '%s' and '%s'", act[0], act[1]);
    CHECK_MSG(test_same_file(model[0], model[1]), "the models trained with and without checkpointing differ");
}
