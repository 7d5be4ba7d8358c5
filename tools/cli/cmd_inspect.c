/* cmd_inspect.c — `sara inspect FILE|FOLDER`: what a safetensors file holds (tensors, shapes,
 * dtypes, parameter count, metadata); for a model folder, its weights file and config. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "model/unet.h"
#include "options.h"
#include "peft/adapter.h"

typedef struct {
    int unused;
} inspect_args;

static const opt_table inspect_table = {"inspect", "sara inspect — show what a safetensors file, model folder or SaRA adapter holds",
                                        "sara inspect FILE.safetensors | MODEL_FOLDER", NULL, 0, 1};

int cmd_inspect(int argc, char **argv)
{
    inspect_args a;
    const char *pos[1];
    int npos;
    int r = opts_parse(&inspect_table, &a, argc, argv, pos, &npos);
    if (r)
        return r > 0 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "usage: %s\n", inspect_table.usage);
        return 2;
    }
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s", pos[0]);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        unet_config c;
        char cfg[4096];
        snprintf(cfg, sizeof cfg, "%s/" UNET_CONFIG_FILE, pos[0]);
        snprintf(path, sizeof path, "%s/" UNET_WEIGHTS_FILE, pos[0]);
        sara_status s = unet_config_load(&c, cfg);
        if (s != SARA_OK)
            return cli_fail(s);
        printf("model folder %s: UNet2DModel, sample_size %d, %d→%d channels, blocks (", pos[0], c.sample_size,
               c.in_channels, c.out_channels);
        for (int i = 0; i < c.num_blocks; i++)
            printf("%s%d%s", i ? ", " : "", c.block_out_channels[i], c.down_attn[i] ? "+attn" : "");
        printf("), %d layers per block, %d class embeddings\n\n", c.layers_per_block, c.num_class_embeds);
    }
    st_file *f = NULL; /* a SaRA adapter gets its own explanation */
    int is_adapter = safetensors_open(path, &f) == SARA_OK && adapter_is_file(f);
    safetensors_close(f);
    sara_status s = is_adapter ? adapter_describe(path, stdout) : safetensors_describe(path, stdout);
    return s == SARA_OK ? 0 : cli_fail(s);
}
