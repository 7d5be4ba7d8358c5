/* unet_init.c — PyTorch's default initialisation for a model trained from scratch: conv and
 * linear weights and biases U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5, as nn.Conv2d
 * and nn.Linear do), norm scales 1 and shifts 0, the class embedding N(0, 1) like nn.Embedding.
 * Which is which follows from the parameter's name and rank, diffusers' naming being fixed. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "core/status.h"
#include "model/unet.h"

/* The module a ".weight"/".bias" belongs to, as its name prefix length. */
static size_t module_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

/* fan_in of the weight of the module `name` belongs to: elements of one output row. */
static int64_t sibling_fan_in(const param_table *t, const char *name)
{
    char w[PARAM_NAME_MAX];
    snprintf(w, sizeof w, "%.*s.weight", (int)module_len(name), name);
    int i = params_find(t, w);
    if (i < 0 || t->entries[i].ndim < 2)
        return 0; /* a norm: no fan-in */
    return t->entries[i].numel / t->entries[i].shape[0];
}

sara_status unet_init_random(unet *m, uint64_t seed)
{
    param_table *t = unet_params(m);
    sara_rng r;
    rng_seed_stream(&r, seed, 0);
    for (int i = 0; i < t->count; i++) {
        const param_entry *e = &t->entries[i];
        float *p = params_ptr(t, i);
        const char *suffix = e->name + module_len(e->name);
        int is_bias = !strcmp(suffix, ".bias");
        int64_t fan_in = sibling_fan_in(t, e->name);
        if (!strcmp(e->name, "class_embedding.weight")) {
            rng_fill_normal(&r, p, e->numel);
        } else if (fan_in > 0) {
            double bound = 1.0 / sqrt((double)fan_in);
            for (int64_t k = 0; k < e->numel; k++)
                p[k] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
        } else {
            float v = is_bias ? 0.0f : 1.0f; /* GroupNorm: scale 1, shift 0 */
            for (int64_t k = 0; k < e->numel; k++)
                p[k] = v;
        }
    }
    return SARA_OK;
}
