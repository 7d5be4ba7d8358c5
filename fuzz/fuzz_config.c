/* fuzz_config.c — diffusers' config.json parser (unet_config_parse) on arbitrary text, then what
 * later code computes from an accepted config without allocating a model: the time-embedding
 * width and every block's channel arithmetic that unet_create relies on. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model/unet_config.h"

sara_status fuzz_config(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1); /* the parser takes a C string, as unet_config_load gives it */
    if (!text)
        return SARA_ERR_NOMEM;
    memcpy(text, data, size);
    text[size] = '\0';
    unet_config c;
    sara_status s = unet_config_parse(&c, text, FUZZ_NAME_CONFIG);
    free(text);
    if (s == SARA_OK) {
        /* What an accepted config promises: a positive time-embedding width, in range for int. */
        if (unet_config_temb_dim(&c) <= 0)
            abort();
        if (unet_config_validate(&c, FUZZ_NAME_CONFIG) != SARA_OK)
            abort(); /* parse validates: the same config cannot fail later */
    }
    return s;
}

FUZZ_ENTRY(fuzz_config, FUZZ_NAME_CONFIG)
