/* method.c — creating and freeing methods by name; the registry of methods. */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "peft/method.h"
#include "peft/sara.h"

sara_status method_create_full(train_method *self, const method_options *o);
sara_status method_create_lora(train_method *self, const method_options *o);

typedef struct {
    const char *name;
    sara_status (*create)(train_method *self, const method_options *o);
} method_entry;

static const method_entry methods[] = {
    {"full", method_create_full},
    {"lora", method_create_lora},
    {"sara", method_create_sara},
    {"selective", method_create_selective},
};

void method_options_default(method_options *o)
{
    memset(o, 0, sizeof *o);
    adamw_default(&o->adamw);
    o->threshold = 2e-3;
    o->selection = "smallest";
    o->targets = "all";
    o->progressive_iter = -1;
    o->lambda_rank = 5e-4;
    o->lowrank_min_dim = 64;
    o->lora_rank = 8;
    o->lora_alpha = 8;
}

sara_status method_create(train_method **out, const char *name, unet *model, const method_options *o)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(name, methods[i].name))
            continue;
        train_method *m = calloc(1, sizeof *m);
        if (!m)
            return sara_fail(SARA_ERR_NOMEM, "out of memory creating method %s", name);
        m->name = methods[i].name;
        m->model = model;
        m->params = unet_params(model);
        sara_status s = methods[i].create(m, o);
        if (s != SARA_OK) {
            method_free(m);
            return s;
        }
        *out = m;
        return SARA_OK;
    }
    char known[256] = "";
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", methods[i].name);
    return sara_fail(SARA_ERR_INVALID, "unknown method '%s' (this version has: %s)", name, known);
}

void method_free(train_method *m)
{
    if (!m)
        return;
    if (m->destroy)
        m->destroy(m);
    free(m);
}
