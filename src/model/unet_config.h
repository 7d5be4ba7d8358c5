/* unet_config.h — the model configuration, read from and written to diffusers' config.json for
 * UNet2DModel (same keys, same defaults). Anything this version cannot build (another act_fn,
 * time-embedding type, block type, class_embed_type, scale-shift norm, dropout > 0) is a clear
 * SARA_ERR_UNSUPPORTED naming the file and key, never a silently different model. */
#ifndef SARA_MODEL_UNET_CONFIG_H
#define SARA_MODEL_UNET_CONFIG_H

#include "sara/sara.h"

#define UNET_MAX_BLOCKS 8
/* Upper bounds on sizes, far above any real UNet2DModel: they keep every size product the model
 * computes (4 × channels for the time embedding, C·H·W, O·C·k·k) inside its integer types, so a
 * hostile config.json is refused here instead of overflowing later. */
#define UNET_MAX_CHANNELS 16384
#define UNET_MAX_SAMPLE_SIZE 4096
#define UNET_MAX_LAYERS_PER_BLOCK 64
#define UNET_MAX_CLASS_EMBEDS (1 << 20)

typedef struct {
    int sample_size;                           /* default 32 when absent (diffusers: None) */
    int in_channels, out_channels;             /* 3, 3 */
    int num_blocks;                            /* len(block_out_channels) */
    int block_out_channels[UNET_MAX_BLOCKS];   /* (224, 448, 672, 896) */
    int down_attn[UNET_MAX_BLOCKS];            /* 1: AttnDownBlock2D, 0: DownBlock2D */
    int up_attn[UNET_MAX_BLOCKS];              /* 1: AttnUpBlock2D, 0: UpBlock2D */
    int layers_per_block;                      /* 2 */
    int norm_num_groups;                       /* 32 */
    int attn_norm_num_groups;                  /* 0 = null: mid-block attention uses norm_num_groups */
    double norm_eps;                           /* 1e-5 */
    int attention_head_dim;                    /* 8; 0 = null: one head as wide as the channels */
    int num_class_embeds;                      /* 0 = null (unconditional) */
    int flip_sin_to_cos;                       /* true */
    double freq_shift;                         /* 0 */
    int downsample_padding;                    /* 1; 0 means pad (0,1,0,1) then conv stride 2 */
    int add_attention;                         /* true: the mid block has an attention layer */
    int center_input_sample;                   /* false */
    double mid_block_scale_factor;             /* 1 */
    int time_embedding_dim;                    /* 0 = null: 4 × block_out_channels[0] */
} unet_config;

/* diffusers' UNet2DModel defaults. */
void unet_config_default(unet_config *c);
/* Parses config.json text; `origin` (a path) names the source in errors. Unknown keys are ignored
 * (diffusers adds bookkeeping keys); known keys with unsupported values are errors. */
sara_status unet_config_parse(unet_config *c, const char *json, const char *origin);
sara_status unet_config_load(unet_config *c, const char *path);
/* Writes diffusers-style config.json (with "_class_name": "UNet2DModel"), atomically. */
sara_status unet_config_save(const unet_config *c, const char *path);
/* Checks internal consistency (channels divisible by groups and head dim, list lengths, …). */
sara_status unet_config_validate(const unet_config *c, const char *origin);
/* Time-embedding width: time_embedding_dim or 4 × block_out_channels[0]. */
int unet_config_temb_dim(const unet_config *c);

#endif
