/* main.c — the `sara` command: dispatches to subcommands. The only place that exits. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/status.h"
#include "core/threads.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"demo", cmd_demo, "the main job: SaRA-fine-tune the embedded base on a style set; grids and FID before/after"},
    {"train", cmd_train, "train or fine-tune a UNet (from scratch or from a model folder)"},
    {"sample", cmd_sample, "write a PNG grid of samples, one row per class"},
    {"inspect", cmd_inspect, "show the tensors, shapes, dtypes and metadata of a safetensors file or model folder"},
    {"forward", cmd_forward, "run the model on tensors from a file (and its backward when grad_output is given)"},
    {"merge", cmd_merge, "fold SaRA or LoRA adapters into a base model folder"},
    {"styles", cmd_styles, "write five styled Fashion-MNIST sets (neon, stripes, halftone, fire, emboss) for fine-tuning"},
    {"classifier", cmd_classifier, "train or test the Fashion-MNIST classifier (FID features, class judge)"},
    {"eval", cmd_eval, "FID and class adherence of samples (or an image folder); VLHI over a group of results"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

int cli_fail(sara_status s)
{
    const char *msg = sara_last_error();
    fprintf(stderr, "sara: %s\n", msg[0] ? msg : sara_status_name(s));
    return 1;
}

const char *cli_bytes(size_t n, char *buf, size_t cap)
{
    if (n >= 1000000000)
        snprintf(buf, cap, "%.2f GB", (double)n / 1e9);
    else if (n >= 1000000)
        snprintf(buf, cap, "%.1f MB", (double)n / 1e6);
    else
        snprintf(buf, cap, "%.1f kB", (double)n / 1e3);
    return buf;
}

static void usage(FILE *fp)
{
    fprintf(fp, "sara %s — fine-tune diffusion models (SaRA, LoRA, full) on the CPU\n\nusage: sara <command> [options]\n\n",
            SARA_VERSION);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'sara <command> --help' lists a command's options.\n");
}

int main(int argc, char **argv)
{
    sara_process_prepare(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("sara %s\n", SARA_VERSION);
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "sara: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
