/* bench_common.h — what the benchmark programs share: the engine issue's reference configuration
 * (bench/torch_train.py and bench/torch_sample.py build the same model in PyTorch). */
#ifndef SARA_BENCH_COMMON_H
#define SARA_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/unet_config.h"

#define BENCH_CLASSES 10

/* The reference configuration of the engine issue: 32×32×1, (64, 128, 128), two layers per
 * block, attention at the 8×8 level, 10 classes; with every block's channels times `width` (1:
 * the reference itself; groups and head size stay, so attention gets more heads). Width w holds
 * about w² times the parameters but only w times the activations: the regime of large models,
 * where weight-sized state outweighs activations. bench/torch_train.py builds the same. */
static inline void reference_config_wide(unet_config *c, int width)
{
    unet_config_default(c);
    c->sample_size = 32;
    c->in_channels = c->out_channels = 1;
    c->num_blocks = 3;
    int ch[3] = {64, 128, 128};
    for (int i = 0; i < 3; i++) {
        c->block_out_channels[i] = ch[i] * width;
        c->down_attn[i] = i == 2;
        c->up_attn[i] = i == 0;
    }
    c->layers_per_block = 2;
    c->norm_num_groups = 32;
    c->attention_head_dim = 32;
    c->num_class_embeds = BENCH_CLASSES;
}

static inline void reference_config(unet_config *c) { reference_config_wide(c, 1); }

/* Seconds on clock id (CLOCK_MONOTONIC: wall; CLOCK_PROCESS_CPUTIME_ID: CPU of all threads). */
static inline double bench_clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* qsort order of doubles, ascending (medians of repeated timings). */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The options of the per-layer benchmarks, `--threads N --batch B --reps N` in any order, into
 * the defaults given; 0, or 2 after a one-line usage error on stderr. */
static inline int bench_layer_args(int argc, char **argv, const char *prog, int max_reps, int *threads, int *B,
                                   int *reps)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            *threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            *B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            *reps = atoi(argv[i + 1]);
        else
            argc = 0; /* unknown option: usage below */
    }
    if (argc % 2 == 0 || *B < 1 || *reps < 1 || *reps > max_reps) {
        fprintf(stderr, "usage: %s [--threads N] [--batch B >= 1] [--reps 1..%d]\n", prog, max_reps);
        return 2;
    }
    return 0;
}

#endif
