/* bench_common.h — what the benchmark programs share: the engine issue's reference configuration
 * (bench/torch_train.py and bench/torch_sample.py build the same model in PyTorch). */
#ifndef SARA_BENCH_COMMON_H
#define SARA_BENCH_COMMON_H

#include "model/unet_config.h"

#define BENCH_CLASSES 10

/* The reference configuration of the engine issue: 32×32×1, (64, 128, 128), two layers per
 * block, attention at the 8×8 level, 10 classes. bench/torch_train.py builds the same. */
static inline void reference_config(unet_config *c)
{
    unet_config_default(c);
    c->sample_size = 32;
    c->in_channels = c->out_channels = 1;
    c->num_blocks = 3;
    int ch[3] = {64, 128, 128};
    for (int i = 0; i < 3; i++) {
        c->block_out_channels[i] = ch[i];
        c->down_attn[i] = i == 2;
        c->up_attn[i] = i == 0;
    }
    c->layers_per_block = 2;
    c->norm_num_groups = 32;
    c->attention_head_dim = 32;
    c->num_class_embeds = BENCH_CLASSES;
}

#endif
