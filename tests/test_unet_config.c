/* test_unet_config.c — diffusers UNet2DModel config.json: a real-style config (modelled on
 * google/ddpm-cifar10-32) with every field checked, diffusers' documented defaults for absent
 * keys, each unsupported value and wrong type rejected with the key named, consistency checks,
 * and save → load round trip. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "model/unet_config.h"
#include "test.h"

/* The shape of google/ddpm-cifar10-32's unet/config.json (DDPM CIFAR-10 model). */
static const char *ddpm_cifar10_config =
    "{\n"
    "  \"_class_name\": \"UNet2DModel\",\n"
    "  \"_diffusers_version\": \"0.1.1\",\n"
    "  \"act_fn\": \"silu\",\n"
    "  \"attention_head_dim\": null,\n"
    "  \"block_out_channels\": [128, 256, 256, 256],\n"
    "  \"center_input_sample\": false,\n"
    "  \"down_block_types\": [\"DownBlock2D\", \"AttnDownBlock2D\", \"DownBlock2D\", \"DownBlock2D\"],\n"
    "  \"downsample_padding\": 0,\n"
    "  \"flip_sin_to_cos\": false,\n"
    "  \"freq_shift\": 1,\n"
    "  \"in_channels\": 3,\n"
    "  \"layers_per_block\": 2,\n"
    "  \"mid_block_scale_factor\": 1,\n"
    "  \"norm_eps\": 1e-06,\n"
    "  \"norm_num_groups\": 32,\n"
    "  \"out_channels\": 3,\n"
    "  \"sample_size\": 32,\n"
    "  \"time_embedding_type\": \"positional\",\n"
    "  \"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\", \"AttnUpBlock2D\", \"UpBlock2D\"]\n"
    "}\n";

TEST(unet_config_parses_ddpm_cifar10)
{
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", test_tmpdir());
    FILE *fp = fopen(path, "w");
    CHECK(fp);
    fputs(ddpm_cifar10_config, fp);
    fclose(fp);
    unet_config c;
    CHECK_OK(unet_config_load(&c, path));
    CHECK(c.sample_size == 32 && c.in_channels == 3 && c.out_channels == 3);
    CHECK(c.num_blocks == 4);
    static const int ch[4] = {128, 256, 256, 256}, down[4] = {0, 1, 0, 0}, up[4] = {0, 0, 1, 0};
    for (int i = 0; i < 4; i++)
        CHECK(c.block_out_channels[i] == ch[i] && c.down_attn[i] == down[i] && c.up_attn[i] == up[i]);
    CHECK(c.layers_per_block == 2 && c.norm_num_groups == 32 && c.attn_norm_num_groups == 0);
    CHECK(c.norm_eps == 1e-6 && c.attention_head_dim == 0 && c.num_class_embeds == 0);
    CHECK(c.flip_sin_to_cos == 0 && c.freq_shift == 1.0 && c.downsample_padding == 0);
    CHECK(c.add_attention == 1 && c.center_input_sample == 0 && c.mid_block_scale_factor == 1.0);
    CHECK(c.time_embedding_dim == 0 && unet_config_temb_dim(&c) == 512);
}

TEST(unet_config_defaults_match_diffusers)
{
    /* diffusers UNet2DModel.__init__ defaults, written out independently of unet_config_default. */
    unet_config c;
    CHECK_OK(unet_config_parse(&c, "{\"_class_name\": \"UNet2DModel\", \"num_train_timesteps\": 1000, "
                                   "\"some_future_key\": [1, {}]}", "defaults.json"));
    static const int ch[4] = {224, 448, 672, 896}, down[4] = {0, 1, 1, 1}, up[4] = {1, 1, 1, 0};
    CHECK(c.sample_size == 32 && c.in_channels == 3 && c.out_channels == 3 && c.num_blocks == 4);
    for (int i = 0; i < 4; i++)
        CHECK(c.block_out_channels[i] == ch[i] && c.down_attn[i] == down[i] && c.up_attn[i] == up[i]);
    CHECK(c.layers_per_block == 2 && c.norm_num_groups == 32 && c.attn_norm_num_groups == 0);
    CHECK(c.norm_eps == 1e-5 && c.attention_head_dim == 8 && c.num_class_embeds == 0);
    CHECK(c.flip_sin_to_cos == 1 && c.freq_shift == 0.0 && c.downsample_padding == 1);
    CHECK(c.add_attention == 1 && c.center_input_sample == 0 && c.mid_block_scale_factor == 1.0);
    CHECK(c.time_embedding_dim == 0 && unet_config_temb_dim(&c) == 4 * 224);
    unet_config d;
    unet_config_default(&d);
    CHECK(!memcmp(&c, &d, sizeof c));
    /* The other accepted spellings: [h, w] sample size, null sample size, swish, explicit fixed values. */
    CHECK_OK(unet_config_parse(&c, "{\"sample_size\": [64, 64], \"act_fn\": \"swish\", \"dropout\": 0.0, "
                                   "\"mid_block_type\": \"UNetMidBlock2D\", \"class_embed_type\": null, "
                                   "\"downsample_type\": \"conv\", \"upsample_type\": \"conv\", "
                                   "\"resnet_time_scale_shift\": \"default\", \"time_embedding_dim\": 100, "
                                   "\"num_class_embeds\": 10, \"attn_norm_num_groups\": 8}", "x.json"));
    CHECK(c.sample_size == 64 && c.time_embedding_dim == 100 && unet_config_temb_dim(&c) == 100);
    CHECK(c.num_class_embeds == 10 && c.attn_norm_num_groups == 8);
    CHECK_OK(unet_config_parse(&c, "{\"sample_size\": null}", "x.json"));
    CHECK(c.sample_size == 32);
}

typedef struct {
    const char *json;
    sara_status status;
    const char *needle;
} bad_case;

TEST(unet_config_rejects_unsupported_and_wrong_types)
{
    static const bad_case cases[] = {
        {"{\"act_fn\": \"gelu\"}", SARA_ERR_UNSUPPORTED, "act_fn \"gelu\" is not supported"},
        {"{\"time_embedding_type\": \"fourier\"}", SARA_ERR_UNSUPPORTED, "time_embedding_type \"fourier\""},
        {"{\"resnet_time_scale_shift\": \"scale_shift\"}", SARA_ERR_UNSUPPORTED, "resnet_time_scale_shift"},
        {"{\"mid_block_type\": null}", SARA_ERR_UNSUPPORTED, "mid_block_type null"},
        {"{\"mid_block_type\": \"UNetMidBlock2DCrossAttn\"}", SARA_ERR_UNSUPPORTED, "mid_block_type"},
        {"{\"downsample_type\": \"resnet\"}", SARA_ERR_UNSUPPORTED, "downsample_type \"resnet\""},
        {"{\"upsample_type\": \"resnet\"}", SARA_ERR_UNSUPPORTED, "upsample_type \"resnet\""},
        {"{\"class_embed_type\": \"timestep\"}", SARA_ERR_UNSUPPORTED, "class_embed_type \"timestep\""},
        {"{\"dropout\": 0.1}", SARA_ERR_UNSUPPORTED, "dropout 0.1"},
        {"{\"_class_name\": \"UNet2DConditionModel\"}", SARA_ERR_UNSUPPORTED, "_class_name"},
        {"{\"sample_size\": [32, 64]}", SARA_ERR_UNSUPPORTED, "sample_size [32, 64] is not square"},
        {"{\"downsample_padding\": 2}", SARA_ERR_UNSUPPORTED, "downsample_padding 2"},
        {"{\"down_block_types\": [\"DownBlock2D\", \"CrossAttnDownBlock2D\", \"DownBlock2D\", \"DownBlock2D\"]}",
         SARA_ERR_UNSUPPORTED, "down_block_types[1] \"CrossAttnDownBlock2D\""},
        {"{\"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\", \"UpBlock2D\", \"SkipUpBlock2D\"]}",
         SARA_ERR_UNSUPPORTED, "up_block_types[3] \"SkipUpBlock2D\""},
        {"{\"block_out_channels\": [32, 32, 32, 32, 32, 32, 32, 32, 32]}", SARA_ERR_UNSUPPORTED,
         "block_out_channels has 9 entries"},
        /* wrong JSON types */
        {"{\"in_channels\": \"3\"}", SARA_ERR_FORMAT, "in_channels must be an integer, not a string"},
        {"{\"in_channels\": 3.5}", SARA_ERR_FORMAT, "in_channels must be an integer, not a fraction"},
        {"{\"out_channels\": null}", SARA_ERR_FORMAT, "out_channels must be an integer, not null"},
        {"{\"layers_per_block\": [2]}", SARA_ERR_FORMAT, "layers_per_block must be an integer"},
        {"{\"norm_eps\": \"1e-5\"}", SARA_ERR_FORMAT, "norm_eps must be a number"},
        {"{\"flip_sin_to_cos\": 1}", SARA_ERR_FORMAT, "flip_sin_to_cos must be true or false"},
        {"{\"add_attention\": \"yes\"}", SARA_ERR_FORMAT, "add_attention must be true or false"},
        {"{\"center_input_sample\": null}", SARA_ERR_FORMAT, "center_input_sample must be true or false"},
        {"{\"block_out_channels\": 64}", SARA_ERR_FORMAT, "block_out_channels must be a list"},
        {"{\"block_out_channels\": [64, \"x\", 64, 64]}", SARA_ERR_FORMAT, "block_out_channels[1] must be an integer"},
        {"{\"down_block_types\": [1, 2, 3, 4]}", SARA_ERR_FORMAT, "down_block_types[0] must be a string"},
        {"{\"attention_head_dim\": \"8\"}", SARA_ERR_FORMAT, "attention_head_dim must be an integer"},
        {"{\"time_embedding_dim\": true}", SARA_ERR_FORMAT, "time_embedding_dim must be an integer"},
        {"{\"act_fn\": 3}", SARA_ERR_FORMAT, "act_fn must be a string"},
        {"{\"sample_size\": [32]}", SARA_ERR_FORMAT, "sample_size must be an integer or [height, width]"},
        {"{\"in_channels\": 3, \"in_channels\": 4}", SARA_ERR_FORMAT, "key in_channels appears twice"},
        {"[1, 2]", SARA_ERR_FORMAT, "not a JSON object"},
        {"{\"a\": ", SARA_ERR_FORMAT, "not valid JSON"},
        /* invalid values */
        {"{\"in_channels\": 0}", SARA_ERR_INVALID, "in_channels = 0 is out of range"},
        {"{\"block_out_channels\": []}", SARA_ERR_INVALID, "block_out_channels is empty"},
        {"{\"block_out_channels\": [32, 64]}", SARA_ERR_INVALID, "must have the same length"},
        {"{\"norm_eps\": 0}", SARA_ERR_INVALID, "norm_eps = 0 must be positive"},
        {"{\"in_channels\": 3e10}", SARA_ERR_INVALID, "in_channels = 3e+10 is out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unet_config c;
        sara_status s = unet_config_parse(&c, cases[i].json, "cfg.json");
        const char *msg = sara_last_error();
        CHECK_MSG(s == cases[i].status && !strncmp(msg, "cfg.json: ", 10) && strstr(msg, cases[i].needle),
                  "%s -> %s '%s' (want %s with '%s')", cases[i].json, sara_status_name(s), msg,
                  sara_status_name(cases[i].status), cases[i].needle);
    }
}

TEST(unet_config_validate_consistency)
{
    static const bad_case cases[] = {
        {"{\"block_out_channels\": [48, 96], \"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], "
         "\"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}",
         SARA_ERR_INVALID, "block_out_channels[0] = 48 is not divisible by norm_num_groups = 32"},
        {"{\"block_out_channels\": [32, 80], \"norm_num_groups\": 32, "
         "\"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}",
         SARA_ERR_INVALID, "block_out_channels[1] = 80 is not divisible by norm_num_groups = 32"},
        /* channels 64/96 with head dim 12: 64 is used by up block 1 (attention) */
        {"{\"block_out_channels\": [64, 96], \"norm_num_groups\": 32, \"attention_head_dim\": 12, "
         "\"add_attention\": false, \"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], "
         "\"up_block_types\": [\"UpBlock2D\", \"AttnUpBlock2D\"]}",
         SARA_ERR_INVALID, "block_out_channels[0] = 64 is not divisible by attention_head_dim = 12"},
        {"{\"block_out_channels\": [32, 64], \"norm_num_groups\": 32, \"attention_head_dim\": 24, "
         "\"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}",
         SARA_ERR_INVALID, "block_out_channels[1] (mid-block attention) = 64 is not divisible by attention_head_dim"},
        {"{\"block_out_channels\": [32, 64], \"norm_num_groups\": 32, \"attn_norm_num_groups\": 48, "
         "\"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}",
         SARA_ERR_INVALID, "not divisible by attn_norm_num_groups = 48"},
        {"{\"sample_size\": 36}", SARA_ERR_INVALID, "sample_size = 36 is not a multiple of 2^(4 blocks - 1) = 8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unet_config c;
        sara_status s = unet_config_parse(&c, cases[i].json, "cfg.json");
        CHECK_MSG(s == cases[i].status && strstr(sara_last_error(), cases[i].needle), "%s -> %s '%s' (want '%s')",
                  cases[i].json, sara_status_name(s), sara_last_error(), cases[i].needle);
    }
    /* Without attention anywhere, the head dim constrains nothing. */
    unet_config c;
    CHECK_OK(unet_config_parse(&c, "{\"block_out_channels\": [32, 64], \"attention_head_dim\": 24, "
                                   "\"add_attention\": false, \"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"], "
                                   "\"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}", "cfg.json"));
    c.layers_per_block = 0;
    CHECK_ERR(unet_config_validate(&c, "mem"), SARA_ERR_INVALID, "mem: ");
}

TEST(unet_config_save_load_round_trip)
{
    unet_config c, d;
    unet_config_default(&c);
    c.sample_size = 16;
    c.in_channels = 1;
    c.out_channels = 2;
    c.num_blocks = 3;
    int ch[3] = {32, 64, 96}, down[3] = {1, 0, 1}, up[3] = {0, 1, 1};
    memset(c.block_out_channels, 0, sizeof c.block_out_channels);
    memset(c.down_attn, 0, sizeof c.down_attn);
    memset(c.up_attn, 0, sizeof c.up_attn);
    for (int i = 0; i < 3; i++) {
        c.block_out_channels[i] = ch[i];
        c.down_attn[i] = down[i];
        c.up_attn[i] = up[i];
    }
    c.layers_per_block = 1;
    c.attn_norm_num_groups = 16;
    c.norm_eps = 1e-6;
    c.attention_head_dim = 16;
    c.num_class_embeds = 10;
    c.flip_sin_to_cos = 0;
    c.freq_shift = 1;
    c.downsample_padding = 0;
    c.add_attention = 0;
    c.center_input_sample = 1;
    c.mid_block_scale_factor = 1.4142135623730951;
    c.time_embedding_dim = 96;
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", test_tmpdir());
    CHECK_OK(unet_config_save(&c, path));
    CHECK_OK(unet_config_load(&d, path));
    CHECK(!memcmp(&c, &d, sizeof c)); /* every field, doubles bit-exact */

    FILE *fp = fopen(path, "r");
    CHECK(fp);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    CHECK(strstr(text, "\"_class_name\":\t\"UNet2DModel\""));
    CHECK(strstr(text, "\"_diffusers_version\":\t\"0.25.0\""));
    CHECK(strstr(text, "\"attention_head_dim\":\t16") && strstr(text, "\"class_embed_type\":\tnull"));

    /* Nulls for the optional integers survive too, and an invalid config is never written. */
    unet_config_default(&c);
    c.attention_head_dim = 0;
    CHECK_OK(unet_config_save(&c, path));
    CHECK_OK(unet_config_load(&d, path));
    CHECK(!memcmp(&c, &d, sizeof c) && d.attention_head_dim == 0 && d.num_class_embeds == 0);
    c.norm_num_groups = 5; /* 224 is not a multiple of 5 */
    CHECK_ERR(unet_config_save(&c, path), SARA_ERR_INVALID, "norm_num_groups = 5");
    CHECK_OK(unet_config_load(&d, path)); /* the earlier file is intact */

    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.json", test_tmpdir());
    CHECK_ERR(unet_config_load(&d, missing), SARA_ERR_IO, "nope.json: cannot open");
}
