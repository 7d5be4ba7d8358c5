/* test_robust_cli.c — `sara` ($SARA_BIN) as a user meets faults and bad input, in child
 * processes: kill -9 then --resume ends bit-identical to an uninterrupted run; SIGINT writes a
 * checkpoint and exits 130, and resuming from it is bit-identical too; a full disk (a file-size
 * limit, and a real 800 kB tmpfs where mounting is allowed) gives one clear line and leaves the
 * previous checkpoint intact; a NaN in the base model is skipped, named, and stops the run; and a
 * table of malformed inputs — every loader — each exits 1 or 2 (never a signal) with exactly one
 * error line that names the file and the problem.
 *
 * Each case also gives a row of docs/ROBUSTNESS.md (robust_doc.h): what was tried, the exit
 * status, and the error line the user sees. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "data/image.h"
#include "model/unet.h"
#include "robust_doc.h"
#include "test.h"

#define TINY TEST_FIXTURES "/unet/tiny"
#define MAX_ARGS 64
#define POLL_NS 1000000L          /* 1 ms between looks at a running child's files */
#define WAIT_LIMIT_S 120          /* a child that runs longer than this is a hang: killed, test fails */
/* Steps of the interrupted runs: long enough (about a second) that a kill lands mid-run. */
#define LONG_STEPS "300"

/* ---- children ------------------------------------------------------------------------------ */

typedef struct {
    int code;   /* exit status, or -1 */
    int sig;    /* the signal that ended it, or 0 */
} outcome;

static const char *sara_bin(void)
{
    const char *b = getenv("SARA_BIN");
    return b ? b : "build/sara";
}

/* Starts `sara ARGS` (ARGS split on spaces) with stdout and stderr to log. fsize_limit > 0 caps
 * the size of any file it writes, as a nearly full disk would (EFBIG instead of SIGXFSZ). */
static pid_t spawn(const char *args, const char *log, long fsize_limit)
{
    static char buf[4096];
    char *argv[MAX_ARGS];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", args);
    argv[n++] = (char *)sara_bin();
    for (char *tok = strtok(buf, " "); tok && n < MAX_ARGS - 1; tok = strtok(NULL, " "))
        argv[n++] = tok;
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    FILE *out = freopen(log, "w", stdout);
    if (!out || dup2(fileno(stdout), 2) < 0)
        _exit(126);
    setenv("OMP_WAIT_POLICY", "passive", 1); /* no re-exec, no spinning threads */
    if (fsize_limit > 0) {
        struct rlimit rl = {(rlim_t)fsize_limit, (rlim_t)fsize_limit};
        signal(SIGXFSZ, SIG_IGN); /* ignored dispositions survive exec: writes fail with EFBIG */
        setrlimit(RLIMIT_FSIZE, &rl);
    }
    execv(argv[0], argv);
    _exit(127);
}

static outcome wait_child(pid_t pid)
{
    int st = 0;
    for (int waited = 0; waitpid(pid, &st, WNOHANG) == 0; waited++) {
        if (waited > WAIT_LIMIT_S * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return (outcome){-1, -1};
        }
        nanosleep(&(struct timespec){0, POLL_NS}, NULL);
    }
    return WIFEXITED(st) ? (outcome){WEXITSTATUS(st), 0} : (outcome){-1, WTERMSIG(st)};
}

static outcome run_sara(const char *args, const char *log) { return wait_child(spawn(args, log, 0)); }

/* ---- files ---------------------------------------------------------------------------------- */

/* A path in the scratch folder, for immediate use: the buffer is reused TMP_RING calls later.
 * Paths kept across calls are copied into locals with TMP_PATH. */
#define TMP_RING 16
#define PATH_CAP 1024
static const char *tmp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *tmp(const char *fmt, ...)
{
    static char bufs[TMP_RING][PATH_CAP];
    static int k;
    char rel[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    k = (k + 1) % TMP_RING;
    snprintf(bufs[k], sizeof bufs[k], "%s/%s", test_tmpdir(), rel);
    return bufs[k];
}
#define TMP_PATH(var, rel) \
    char var[PATH_CAP];    \
    snprintf(var, sizeof var, "%s/%s", test_tmpdir(), rel)

static int write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    fputs(text, fp);
    return fclose(fp) == 0;
}


static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int ok = in && out, c;
    while (ok && (c = fgetc(in)) != EOF)
        ok = fputc(c, out) != EOF;
    if (in)
        fclose(in);
    if (out)
        ok = fclose(out) == 0 && ok;
    return ok;
}

static int count_lines(const char *path)
{
    FILE *fp = fopen(path, "rb");
    int n = 0, c;
    while (fp && (c = fgetc(fp)) != EOF)
        n += c == '\n';
    if (fp)
        fclose(fp);
    return fp ? n : -1;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static int count_temporaries(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' 2>/dev/null | grep -q '\\.tmp\\.'", dir);
    return system(cmd) == 0;
}

/* The error line of a log: the one line starting "sara:" or "sara <command>:" (sets *count). */
static const char *error_line(const char *log, int *count)
{
    static char found[2048];
    char line[8192];
    FILE *fp = fopen(log, "rb");
    *count = 0;
    found[0] = '\0';
    while (fp && fgets(line, sizeof line, fp)) {
        int is_err = !strncmp(line, "sara:", 5) || (!strncmp(line, "sara ", 5) && strchr(line, ':') &&
                                                    strchr(line, ':') < strchr(line, ' ') + 12);
        if (is_err && (*count)++ == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(found, sizeof found, "%s", line);
        }
    }
    if (fp)
        fclose(fp);
    return found;
}

static int log_contains(const char *log, const char *needle)
{
    FILE *fp = fopen(log, "rb");
    static char buf[1 << 20];
    size_t n = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    if (fp)
        fclose(fp);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static const char *status_text(outcome o)
{
    static char buf[64];
    if (o.sig)
        snprintf(buf, sizeof buf, "killed by signal %d", o.sig);
    else
        snprintf(buf, sizeof buf, "%d", o.code);
    return buf;
}

/* ---- fixtures made here ---------------------------------------------------------------------- */

/* dir/{a,b,c}/{0..3}.png: 8×8 grey images, three classes (the tiny model's). */
static int make_image_folder(const char *dir)
{
    mkdir(dir, 0777);
    for (int c = 0; c < 3; c++) {
        char sub[800], path[900];
        snprintf(sub, sizeof sub, "%s/%c", dir, 'a' + c);
        mkdir(sub, 0777);
        for (int i = 0; i < 4; i++) {
            uint8_t px[64];
            for (int k = 0; k < 64; k++)
                px[k] = (uint8_t)(c * 70 + i * 13 + k * (c + 1));
            snprintf(path, sizeof path, "%s/%d.png", sub, i);
            if (image_write_png(path, px, 8, 8, 1) != SARA_OK)
                return 0;
        }
    }
    return 1;
}

/* The tiny fixture's model folder, rewritten with one weight entry set to NaN. */
static int make_nan_model(const char *dir, const char *param)
{
    unet *m = NULL;
    if (unet_load(&m, TINY) != SARA_OK)
        return 0;
    param_table *t = unet_params(m);
    int i = params_find(t, param);
    if (i >= 0)
        params_ptr(t, i)[3] = NAN;
    int ok = i >= 0 && unet_save(m, dir, NULL, 0) == SARA_OK;
    unet_free(m);
    return ok;
}

#define TRAIN_TINY "train --threads 1 --model-config " TINY "/config.json --batch 4 --samples-per-class 0 --log-every 1000"

/* ---- faults ---------------------------------------------------------------------------------- */

/* Waits until path exists (or the child ends); 1 if it exists. */
static int wait_for_file(pid_t pid, const char *path)
{
    for (int i = 0; i < WAIT_LIMIT_S * 1000; i++) {
        if (exists(path))
            return 1;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return 0;
        nanosleep(&(struct timespec){0, POLL_NS}, NULL);
    }
    return 0;
}

TEST(robust_cli_kill9_and_sigint_then_resume_are_bit_identical)
{
    TMP_PATH(data, "data");
    TMP_PATH(log, "log");
    TMP_PATH(want, "straight/model/diffusion_pytorch_model.safetensors");
    CHECK(make_image_folder(data));
    char args[2048];
    /* The uninterrupted reference. */
    snprintf(args, sizeof args, TRAIN_TINY " --data %s --steps " LONG_STEPS " --save-every 2 --out %s", data,
             tmp("straight"));
    CHECK_MSG(run_sara(args, log).code == 0, "reference run failed (see %s)", log);

    /* kill -9 once the step-4 checkpoint exists. */
    snprintf(args, sizeof args, TRAIN_TINY " --data %s --steps " LONG_STEPS " --save-every 2 --out %s", data,
             tmp("killed"));
    pid_t pid = spawn(args, log, 0);
    int seen = wait_for_file(pid, tmp("killed/checkpoints/checkpoint-00000004.safetensors"));
    kill(pid, SIGKILL);
    outcome o = wait_child(pid);
    CHECK_MSG(seen && o.sig == SIGKILL, "the run was not killed mid-way (exit %d, signal %d)", o.code, o.sig);
    CHECK(!exists(tmp("killed/model")));
    snprintf(args + strlen(args), sizeof args - strlen(args), " --resume");
    o = run_sara(args, log);
    CHECK_MSG(o.code == 0, "resume after kill -9 failed (see %s)", log);
    CHECK_MSG(test_same_file(tmp("killed/model/diffusion_pytorch_model.safetensors"), want),
              "the resumed model differs from the uninterrupted one");
    CHECK(count_lines(tmp("killed/metrics.jsonl")) == atoi(LONG_STEPS));
    robust_doc_row("fault", "`kill -9` during `sara train` (after the first checkpoints), then the same command with "
            "`--resume`", "137, then 0", "the resumed run finishes; its model file is byte-identical to an "
            "uninterrupted run's; metrics.jsonl has one line per step");

    /* SIGINT (no periodic checkpoints): a checkpoint of the step just done, exit 130. */
    snprintf(args, sizeof args, TRAIN_TINY " --data %s --steps " LONG_STEPS " --save-every 1000 --out %s", data,
             tmp("interrupted"));
    pid = spawn(args, log, 0);
    while (count_lines(tmp("interrupted/metrics.jsonl")) < 3 && waitpid(pid, NULL, WNOHANG) == 0)
        nanosleep(&(struct timespec){0, POLL_NS}, NULL);
    kill(pid, SIGINT);
    o = wait_child(pid);
    int n_err;
    const char *err = error_line(log, &n_err);
    CHECK_MSG(o.code == 130 && n_err == 1, "SIGINT: %s, %d error lines (see %s)", status_text(o), n_err, log);
    CHECK_MSG(test_contains(err, "stopped by request after step ") && test_contains(err, "continue with --resume"),
              "%s", err);
    int steps_done = count_lines(tmp("interrupted/metrics.jsonl"));
    CHECK_MSG(steps_done >= 3 && steps_done < atoi(LONG_STEPS), "%d steps logged", steps_done);
    CHECK(exists(tmp("interrupted/checkpoints/checkpoint-%08d.safetensors", steps_done)));
    CHECK(!exists(tmp("interrupted/model")));
    robust_doc_row("fault", "SIGINT (Ctrl-C) during `sara train`", "130",
            "`sara: stopped by request after step N; state saved in $TMP/.../checkpoint-0000000N.safetensors; "
            "continue with --resume` (a second Ctrl-C kills at once)");
    snprintf(args + strlen(args), sizeof args - strlen(args), " --resume");
    CHECK_MSG(run_sara(args, log).code == 0, "resume after SIGINT failed (see %s)", log);
    CHECK_MSG(test_same_file(tmp("interrupted/model/diffusion_pytorch_model.safetensors"), want),
              "the model resumed after SIGINT differs from the uninterrupted one");
    robust_doc_row("fault", "`--resume` after SIGINT", "0", "the finished model is byte-identical to an uninterrupted run's");
}

/* The first run writes checkpoint 2; the second resumes and must fail writing checkpoint 4. */
static void check_disk_full(const char *out, long fsize_limit, const char *what, const char *want_errno)
{
    TMP_PATH(data, "data");
    TMP_PATH(log, "log");
    if (!exists(data))
        CHECK(make_image_folder(data));
    char args[2048], ck2[1100], saved[1100], line[1300];
    snprintf(args, sizeof args, TRAIN_TINY " --data %s --steps 2 --save-every 2 --keep-last 1 --out %s", data, out);
    CHECK_MSG(run_sara(args, log).code == 0, "first run failed (see %s)", log);
    snprintf(ck2, sizeof ck2, "%s/checkpoints/checkpoint-00000002.safetensors", out);
    snprintf(saved, sizeof saved, "%s.saved", tmp("ck2"));
    CHECK(copy_file(ck2, saved));
    snprintf(args, sizeof args, TRAIN_TINY " --data %s --steps 4 --save-every 2 --keep-last 1 --resume --out %s", data,
             out);
    outcome o = wait_child(spawn(args, log, fsize_limit));
    int n_err;
    const char *err = error_line(log, &n_err);
    CHECK_MSG(o.code == 1 && n_err == 1, "%s: %s, %d error lines (see %s)", what, status_text(o), n_err, log);
    CHECK_MSG(test_contains(err, "checkpoint-00000004.safetensors") && test_contains(err, want_errno), "%s", err);
    CHECK_MSG(test_same_file(ck2, saved), "%s: the previous checkpoint changed", what);
    snprintf(line, sizeof line, "%s/checkpoints", out);
    CHECK_MSG(!count_temporaries(line), "%s: a temporary file was left in %s", what, line);
    robust_doc_row("fault", what, "1", err);
}

TEST(robust_cli_disk_full_keeps_the_previous_checkpoint)
{
    /* Anywhere: a file-size limit (RLIMIT_FSIZE) below a checkpoint's 540 kB. */
    check_disk_full(tmp("fsize"), 100 * 1000, "a checkpoint cannot be written: the file-size limit (`ulimit -f`) "
                    "is below a checkpoint's size", "File too large");
    /* Where mounting is allowed (root, not in every container): a real full disk. */
    TMP_PATH(mnt, "tmpfs");
    mkdir(mnt, 0777);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=800k") != 0) {
        printf("    (tmpfs part skipped: cannot mount a tmpfs here: %s)\n", strerror(errno));
        return;
    }
    char out[1100];
    snprintf(out, sizeof out, "%s/run", mnt);
    check_disk_full(out, 0, "the disk fills up while a checkpoint is written (an 800 kB tmpfs: one checkpoint "
                    "fits, the next does not)", "No space left on device");
    if (umount(mnt) != 0)
        printf("    warning: could not unmount %s: %s\n", mnt, strerror(errno));
}

TEST(robust_cli_nan_in_the_base_model_is_named_and_stops)
{
    TMP_PATH(data, "data");
    TMP_PATH(log, "log");
    TMP_PATH(model, "nan-model");
    const char *param = "mid_block.resnets.0.conv1.weight";
    CHECK(make_image_folder(data));
    CHECK(make_nan_model(model, param));
    /* the folder's classes are a, b, c: the fine-tuned model's must be named so */
    CHECK(write_text(tmp("nan-model/sara.json"), "{\"class_names\": [\"a\", \"b\", \"c\"]}"));
    char args[2048], want[256];
    snprintf(args, sizeof args, "train --threads 1 --init %s --data %s --batch 4 --steps 20 --save-every 1 "
             "--max-bad-steps 3 --samples-per-class 0 --log-every 1 --out %s", model, data, tmp("run"));
    outcome o = run_sara(args, log);
    int n_err;
    const char *err = error_line(log, &n_err);
    snprintf(want, sizeof want, "first non-finite: parameter %s", param);
    CHECK_MSG(o.code == 1 && n_err == 1, "%s, %d error lines (see %s)", status_text(o), n_err, log);
    CHECK_MSG(test_contains(err, "3 consecutive steps") && test_contains(err, want), "%s", err);
    snprintf(want, sizeof want, "SKIPPED, non-finite: parameter %s", param);
    CHECK_MSG(log_contains(log, want), "progress lines lack '%s'", want);
    CHECK(!exists(tmp("run/checkpoints/checkpoint-00000001.safetensors"))); /* never a poisoned checkpoint */
    CHECK(count_lines(tmp("run/metrics.jsonl")) == 3);
    robust_doc_row("fault", "a NaN in a weight of the base model (`--init`), `--max-bad-steps 3`", "1", err);
    robust_doc_row("fault", "(the same run) each skipped step's progress line", "",
            "`step 1/20 | ... | SKIPPED, non-finite: parameter mid_block.resnets.0.conv1.weight`, and in "
            "metrics.jsonl `\"loss\":null,...,\"skipped\":1,\"nonfinite\":\"parameter ...\"`; no checkpoint "
            "is written from non-finite weights");
}

/* ---- bad input: one table ---------------------------------------------------------------------- */

typedef struct {
    const char *area, *tried;
    int (*setup)(void);   /* writes the bad input into the scratch folder; NULL: none */
    const char *args;     /* %1$s is the scratch folder */
    int exit_code;
    const char *want[2];  /* substrings of the error line (beyond the file, which args names) */
} bad_case;

/* The cases that read the installed Fashion-MNIST are the `train` ones with --limit and no --data
 * (skipped where the Debian package is missing). */
static int reads_fashion_mnist(const bad_case *c)
{
    return !strncmp(c->args, "train", 5) && strstr(c->args, "--limit") && !strstr(c->args, "--data");
}

#define FASHION_MNIST_IMAGES "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static int setup_folder(void) { return make_image_folder(tmp("data")); }

/* A model folder: the tiny fixture's weights with a config.json edited by `edit` (key, value). */
static int model_with_config(const char *name, const char *key, const char *value)
{
    char dir[1100], cmd[3000];
    snprintf(dir, sizeof dir, "%s", tmp("%s", name));
    mkdir(dir, 0777);
    if (!copy_file(TINY "/diffusion_pytorch_model.safetensors", tmp("%s/diffusion_pytorch_model.safetensors", name)))
        return 0;
    /* config.json with one top-level key replaced (the fixture writes one key per line). */
    snprintf(cmd, sizeof cmd, "sed 's/^  \"%s\": .*/  \"%s\": %s,/' " TINY "/config.json > %s/config.json", key, key,
             value, dir);
    return system(cmd) == 0;
}

static int setup_missing_tensor(void)
{
    unet *m = NULL;
    if (unet_load(&m, TINY) != SARA_OK)
        return 0;
    /* Write every tensor but one under the diffusers file name. */
    param_table *t = unet_params(m);
    st_writer *w = NULL;
    int ok = st_writer_create(&w) == SARA_OK;
    for (int i = 0; ok && i < t->count; i++)
        if (strcmp(t->entries[i].name, "conv_out.bias"))
            ok = st_writer_add(w, t->entries[i].name, ST_F32, t->entries[i].ndim, t->entries[i].shape,
                               params_ptr(t, i)) == SARA_OK;
    mkdir(tmp("missing"), 0777);
    ok = ok && st_writer_write(w, tmp("missing/diffusion_pytorch_model.safetensors")) == SARA_OK &&
         copy_file(TINY "/config.json", tmp("missing/config.json"));
    st_writer_free(w);
    unet_free(m);
    return ok;
}

static int setup_class_shape(void) { return model_with_config("classes4", "num_class_embeds", "4"); }
static int setup_no_mid_attention(void) { return model_with_config("noattn", "add_attention", "false"); }

static int setup_bad_sara_json(void)
{
    return model_with_config("badinfo", "num_class_embeds", "3") &&
           write_text(tmp("badinfo/sara.json"), "{\"null_label\": 1e300}");
}

static int setup_bad_config(void) { return write_text(tmp("bad-config.json"), "{\"in_channels\": 1,\n"); }
static int setup_act_config(void) { return write_text(tmp("gelu.json"), "{\"act_fn\": \"gelu\"}"); }
static int setup_options_file(void) { return write_text(tmp("opts.json"), "{\"steps\": \"many\"}"); }
static int setup_options_unknown(void) { return write_text(tmp("opts2.json"), "{\"stepz\": 3}"); }

/* An image folder with one bad file among good ones. */
static int folder_with(const char *name, const void *bytes, size_t n)
{
    if (!make_image_folder(tmp("%s", name)))
        return 0;
    FILE *fp = fopen(tmp("%s/b/bad.png", name), "wb");
    int ok = fp && fwrite(bytes, 1, n, fp) == n;
    return fp && fclose(fp) == 0 && ok;
}

static int setup_not_png(void) { return folder_with("notpng", "GIF89a...", 9); }

/* As root, permissions do not stop reads: an unreadable image is a link to nowhere. */
static int setup_unreadable(void)
{
    return make_image_folder(tmp("unreadable")) && symlink("/nonexistent/x.png", tmp("unreadable/c/link.png")) == 0;
}

static int setup_truncated_png(void)
{
    uint8_t px[64] = {0};
    if (image_write_png(tmp("whole.png"), px, 8, 8, 1) != SARA_OK)
        return 0;
    FILE *fp = fopen(tmp("whole.png"), "rb");
    uint8_t buf[4096];
    size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
    if (fp)
        fclose(fp);
    return n > 30 && folder_with("cutpng", buf, n - 20);
}

static int setup_jsonl_label(void)
{
    return make_image_folder(tmp("jsonl")) &&
           write_text(tmp("jsonl/metadata.jsonl"), "{\"file_name\": \"a/0.png\", \"label\": 0}\n"
                                                   "{\"file_name\": \"b/1.png\", \"label\": 5}\n");
}

static int setup_jsonl_huge_label(void)
{
    return make_image_folder(tmp("jsonl2")) &&
           write_text(tmp("jsonl2/metadata.jsonl"), "{\"file_name\": \"a/0.png\", \"label\": 2147483647}\n");
}

static int setup_empty_folder(void) { return mkdir(tmp("empty"), 0777) == 0; }

static int setup_empty_jsonl(void)
{
    return mkdir(tmp("emptyjsonl"), 0777) == 0 && write_text(tmp("emptyjsonl/metadata.jsonl"), "\n\n");
}

/* Fashion-MNIST-style idx files (plain, not gzip) with `count` 28×28 images and these labels. */
static int write_idx(const char *dir, uint32_t count, const uint8_t *labels)
{
    mkdir(dir, 0777);
    uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    head[7] = (uint8_t)count;
    char path[1200];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    fwrite(head, 1, 16, fp);
    for (uint32_t i = 0; i < count * 784; i++)
        fputc((int)(i % 251), fp);
    fclose(fp);
    uint8_t lhead[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)count};
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    fp = fopen(path, "wb");
    if (!fp)
        return 0;
    fwrite(lhead, 1, 8, fp);
    if (count)
        fwrite(labels, 1, count, fp);
    return fclose(fp) == 0;
}

static int setup_idx_label(void) { return write_idx(tmp("idx"), 3, (const uint8_t[]){1, 12, 3}); }
static int setup_idx_empty(void) { return write_idx(tmp("idx0"), 0, NULL); }

static int setup_idx_truncated(void)
{
    if (!write_idx(tmp("idxcut"), 3, (const uint8_t[]){1, 2, 3}))
        return 0;
    return truncate(tmp("idxcut/train-images-idx3-ubyte"), 16 + 784 + 100) == 0;
}

/* A config whose model takes 3-channel 32×32 images (Fashion-MNIST is 1-channel). */
static int setup_rgb_config(void)
{
    return write_text(tmp("rgb.json"), "{\"in_channels\": 3, \"out_channels\": 3, \"block_out_channels\": [8, 16], "
                                        "\"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], \"up_block_types\": "
                                        "[\"UpBlock2D\", \"UpBlock2D\"], \"norm_num_groups\": 4, "
                                        "\"attention_head_dim\": 4, \"num_class_embeds\": 11}");
}

/* A LoRA adapter trained for one step on the tiny fixture, and another base (one weight
 * changed) that it must be refused for, by hash. */
static int setup_adapters(void)
{
    TMP_PATH(log, "lora-log");
    char args[2048];
    if (!make_image_folder(tmp("lora-data")) ||
        !write_text(tmp("lora-data/metadata.jsonl"), "{\"file_name\": \"a/0.png\", \"label\": 0}\n"
                                                     "{\"file_name\": \"b/0.png\", \"label\": 2}\n"))
        return 0;
    snprintf(args, sizeof args, "train --threads 1 --init " TINY " --method lora --lora-rank 2 --data %s --batch 2 "
             "--steps 1 --samples-per-class 0 --out %s", tmp("lora-data"), tmp("lora-run"));
    if (run_sara(args, log).code != 0)
        return 0;
    unet *m = NULL;
    if (unet_load(&m, TINY) != SARA_OK)
        return 0;
    params_ptr(unet_params(m), 0)[0] += 1.0f;
    int ok = unet_save(m, tmp("otherbase"), NULL, 0) == SARA_OK;
    unet_free(m);
    return ok;
}

#define CORPUS "fuzz/corpus"

static const bad_case bad_cases[] = {
    /* safetensors (sara inspect; every loader reads through the same reader) */
    {"safetensors", "header cut short", NULL, "inspect " CORPUS "/safetensors/bad-truncated-header", 1,
     {"bad-truncated-header", "exceeds the file size"}},
    {"safetensors", "header length field of 2^63", NULL, "inspect " CORPUS "/safetensors/bad-header-length-huge", 1,
     {"bad-header-length-huge", "exceeds the file size"}},
    {"safetensors", "file shorter than the 8-byte length field", NULL, "inspect " CORPUS "/safetensors/bad-too-short",
     1, {"bad-too-short", "too short"}},
    {"safetensors", "header not JSON", NULL, "inspect " CORPUS "/safetensors/bad-not-json", 1,
     {"bad-not-json", "not valid JSON"}},
    {"safetensors", "unknown dtype", NULL, "inspect " CORPUS "/safetensors/bad-unknown-dtype", 1,
     {"bad-unknown-dtype", "unknown dtype F12"}},
    {"safetensors", "valid but unsupported dtype (F8_E4M3)", NULL, "inspect " CORPUS "/safetensors/bad-unsupported-dtype",
     1, {"bad-unsupported-dtype", "not supported"}},
    {"safetensors", "shape × dtype size ≠ byte range", NULL, "inspect " CORPUS "/safetensors/bad-size-mismatch", 1,
     {"bad-size-mismatch", "hold 12 bytes but shape"}},
    {"safetensors", "shape product overflows int64", NULL, "inspect " CORPUS "/safetensors/bad-shape-overflow", 1,
     {"bad-shape-overflow", "shape overflows"}},
    {"safetensors", "negative shape entry", NULL, "inspect " CORPUS "/safetensors/bad-negative-shape", 1,
     {"bad-negative-shape", "not a non-negative integer"}},
    {"safetensors", "data offsets past the end", NULL, "inspect " CORPUS "/safetensors/bad-offsets-outside", 1,
     {"bad-offsets-outside", "outside the data area"}},
    {"safetensors", "two tensors sharing bytes", NULL, "inspect " CORPUS "/safetensors/bad-overlap", 1,
     {"bad-overlap", "overlap"}},
    {"safetensors", "duplicate tensor name", NULL, "inspect " CORPUS "/safetensors/bad-duplicate-name", 1,
     {"bad-duplicate-name", "duplicate tensor name"}},
    {"safetensors", "data cut short", NULL, "inspect " CORPUS "/safetensors/bad-truncated-data", 1,
     {"bad-truncated-data", "outside the data area"}},
    /* model folders (sara sample --model, sara train --init, sara merge --base) */
    {"model", "a tensor missing from the weights", setup_missing_tensor, "sample --model %1$s/missing --per-class 1", 1,
     {"diffusion_pytorch_model.safetensors", "conv_out.bias"}},
    {"model", "a tensor of the wrong shape for config.json (num_class_embeds 4, weights for 3)", setup_class_shape,
     "sample --model %1$s/classes4 --per-class 1", 1, {"class_embedding.weight", "shape"}},
    {"model", "config.json contradicts the weights (no mid-block attention; the weights have one)",
     setup_no_mid_attention, "sample --model %1$s/noattn --per-class 1", 1, {"mid_block.attentions.0", ""}},
    {"model", "sara.json with an impossible null_label", setup_bad_sara_json, "sample --model %1$s/badinfo", 1,
     {"sara.json", "null_label"}},
    {"config", "config.json that is not JSON", setup_bad_config, "train --model-config %1$s/bad-config.json", 1,
     {"bad-config.json", "not valid JSON"}},
    {"config", "unsupported activation", setup_act_config, "train --model-config %1$s/gelu.json", 1,
     {"gelu.json", "act_fn \"gelu\" is not supported"}},
    {"config", "block_out_channels of 2^31 - 1", NULL, "train --model-config " CORPUS "/config/bad-huge-channels", 1,
     {"bad-huge-channels", "exceeds 16384"}},
    {"options", "--config file with a wrong type", setup_options_file, "train --config %1$s/opts.json", 2,
     {"opts.json", "--steps: invalid value 'many'"}},
    {"options", "--config file with an unknown key", setup_options_unknown, "train --config %1$s/opts2.json", 2,
     {"opts2.json", "unknown key 'stepz'"}},
    /* images */
    {"images", "a .png that is not an image", setup_not_png, "train --model-config " TINY "/config.json --data %1$s/notpng",
     1, {"notpng/b/bad.png", "not a PNG or JPEG file"}},
    {"images", "an image that cannot be opened (a dangling symbolic link)", setup_unreadable,
     "train --model-config " TINY "/config.json --data %1$s/unreadable", 1,
     {"unreadable/c/link.png", "No such file or directory"}},
    {"images", "a truncated PNG", setup_truncated_png, "train --model-config " TINY "/config.json --data %1$s/cutpng", 1,
     {"cutpng/b/bad.png", "corrupt PNG"}},
    {"images", "a nonexistent data folder", NULL, "train --data %1$s/nowhere", 1, {"nowhere", "cannot open folder"}},
    {"images", "images of the wrong size for the model (Fashion-MNIST 28×28, the tiny model takes 8×8)", NULL,
     "train --model-config " TINY "/config.json --limit 4", 1, {"train-images-idx3-ubyte", "cannot pad 28x28 images to 8"}},
    {"images", "images with the wrong channel count for the model (1-channel data, a 3-channel model)",
     setup_rgb_config, "train --model-config %1$s/rgb.json --limit 4", 1,
     {"train-images-idx3-ubyte", "images are 1×32×32 but the model takes 3×32×32"}},
    /* labels and empty data sets */
    {"labels", "metadata.jsonl label beyond the model's classes (fine-tuning a 3-class model)", setup_jsonl_label,
     "train --init " TINY " --data %1$s/jsonl", 1, {"metadata.jsonl:2", "label 5 is out of range [0, 3)"}},
    {"labels", "metadata.jsonl label of 2^31 - 1", setup_jsonl_huge_label, "train --data %1$s/jsonl2", 1,
     {"metadata.jsonl:1", "at most 65535"}},
    {"labels", "idx label 12 (Fashion-MNIST has 10 classes)", setup_idx_label, "train --data-dir %1$s/idx", 1,
     {"train-labels-idx1-ubyte", "label 12 of image 1 is out of range"}},
    {"data", "idx images file cut short", setup_idx_truncated, "train --data-dir %1$s/idxcut", 1,
     {"train-images-idx3-ubyte", "truncated"}},
    {"data", "empty image folder", setup_empty_folder, "train --data %1$s/empty", 1, {"empty", "no images found"}},
    {"data", "metadata.jsonl with no entries", setup_empty_jsonl, "train --data %1$s/emptyjsonl", 1,
     {"metadata.jsonl", "lists no images"}},
    {"data", "idx files with 0 images", setup_idx_empty, "train --data-dir %1$s/idx0", 1,
     {"train-images-idx3-ubyte", "dataset is empty"}},
    /* adapters (sara merge) */
    {"adapters", "SaRA adapter with unsorted indices", NULL,
     "merge --base " TINY " --adapter " CORPUS "/adapter/bad-index-unsorted -o %1$s/m1", 1,
     {"bad-index-unsorted", "not sorted and unique"}},
    {"adapters", "SaRA adapter for tensors the model lacks", NULL,
     "merge --base " TINY " --adapter " CORPUS "/adapter/ok-sara -o %1$s/m2", 1, {"ok-sara", "not a parameter"}},
    {"adapters", "LoRA adapter for a module the model lacks", NULL,
     "merge --base " TINY " --adapter " CORPUS "/adapter/bad-lora-unknown-module -o %1$s/m3 --force", 1,
     {"bad-lora-unknown-module", "which the model does not have"}},
    {"adapters", "LoRA adapter trained on another base", setup_adapters,
     "merge --base %1$s/otherbase --adapter %1$s/lora-run/adapter.safetensors -o %1$s/m4", 1,
     {"adapter.safetensors", "trained on a different base model"}},
    {"adapters", "a file that is not an adapter", NULL,
     "merge --base " TINY " --adapter " TINY "/io.safetensors -o %1$s/m5", 1, {"io.safetensors", "not a SaRA adapter"}},
};

TEST(robust_cli_bad_input_table)
{
    CHECK(setup_folder());
    TMP_PATH(log, "log");
    int failed = 0;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        if (reads_fashion_mnist(c) && !exists(FASHION_MNIST_IMAGES)) {
            printf("    (case %zu skipped: dataset-fashion-mnist not installed)\n", i);
            continue;
        }
        if (c->setup && !c->setup()) {
            test_fail(__FILE__, __LINE__, "case %zu (%s): setup failed", i, c->tried);
            failed = 1;
            continue;
        }
        char args[2048];
        snprintf(args, sizeof args, c->args, test_tmpdir());
        /* a short run: the failure must come before any training */
        snprintf(args + strlen(args), sizeof args - strlen(args), "%s",
                 !strncmp(c->args, "train", 5) ? " --steps 1 --samples-per-class 0 --threads 1" : "");
        if (!strncmp(c->args, "train", 5) && !strstr(c->args, "--out"))
            snprintf(args + strlen(args), sizeof args - strlen(args), " --out %s/out%zu", test_tmpdir(), i);
        outcome o = run_sara(args, log);
        int n_err;
        const char *err = error_line(log, &n_err);
        int ok = o.sig == 0 && o.code == c->exit_code && n_err == 1 && test_contains(err, c->want[0]) &&
                 test_contains(err, c->want[1]) && !log_contains(log, "Sanitizer") && !log_contains(log, "runtime error");
        if (!ok) {
            test_fail(__FILE__, __LINE__, "case %zu (%s): `sara %s` gave %s with %d error lines: '%s' (want exit %d, "
                      "'%s', '%s')", i, c->tried, args, status_text(o), n_err, err, c->exit_code, c->want[0],
                      c->want[1]);
            failed = 1;
        }
        char tried[600], code[16];
        snprintf(tried, sizeof tried, "%s: `sara %s`", c->tried, c->args);
        /* the command as written in the table, with the scratch folder as $TMP */
        char *p = strstr(tried, "%1$s");
        for (; p; p = strstr(p, "%1$s"))
            memcpy(p, "$TMP", 4); /* same length */
        snprintf(code, sizeof code, "%s", status_text(o));
        robust_doc_row(c->area, tried, code, err);
    }
    CHECK(!failed);
}
