/* test_unet_memory.c — the UNet's activation memory: the inference forward (unet_infer) gives the
 * training forward's output bit for bit (both fixture models, with and without LoRA, after and
 * before a training pass), backward needs a training forward of its own, the planned arenas are
 * far below keep-everything sizes, gradient checkpointing gives the same bits with less memory,
 * and the pool allocator (unet_pool.c) reuses gaps and hands out the same offsets when planning
 * and when running. Correctness of outputs and gradients against
 * PyTorch is test_unet.c's; here the reference is the training forward itself. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/unet_internal.h"
#include "test.h"

#define MEM_FIXTURES TEST_FIXTURES "/unet"
#define MEM_B 3

typedef struct {
    float *x, *t, *out_train, *out_infer, *dout; /* (B, C, S, S) or (B) */
    int64_t *labels;
    int64_t n_in, n_out;
} mem_io;

static void io_free(mem_io *io)
{
    free(io->x);
    free(io->t);
    free(io->out_train);
    free(io->out_infer);
    free(io->dout);
    free(io->labels);
}

/* Random inputs for model m at batch MEM_B (labels when class-conditional). */
static int io_make(mem_io *io, const unet *m, uint64_t seed)
{
    const unet_config *c = unet_get_config(m);
    int64_t s2 = (int64_t)c->sample_size * c->sample_size;
    memset(io, 0, sizeof *io);
    io->n_in = MEM_B * c->in_channels * s2;
    io->n_out = MEM_B * c->out_channels * s2;
    io->x = malloc((size_t)io->n_in * sizeof(float));
    io->t = malloc(MEM_B * sizeof(float));
    io->out_train = malloc((size_t)io->n_out * sizeof(float));
    io->out_infer = malloc((size_t)io->n_out * sizeof(float));
    io->dout = malloc((size_t)io->n_out * sizeof(float));
    io->labels = c->num_class_embeds > 0 ? malloc(MEM_B * sizeof(int64_t)) : NULL;
    if (!io->x || !io->t || !io->out_train || !io->out_infer || !io->dout)
        return 0;
    sara_rng r;
    rng_seed(&r, seed);
    rng_fill_normal(&r, io->x, io->n_in);
    rng_fill_normal(&r, io->dout, io->n_out);
    for (int i = 0; i < MEM_B; i++) {
        io->t[i] = (float)(int)(rng_uniform(&r) * 999.0);
        if (io->labels)
            io->labels[i] = i % c->num_class_embeds;
    }
    return 1;
}

/* unet_infer == unet_forward bit for bit, in both orders, and a backward still works after it. */
static int infer_matches_training(unet *m, const char *what)
{
    mem_io io;
    int ok = io_make(&io, m, 21);
    ok = ok && unet_infer(m, io.x, io.t, io.labels, MEM_B, io.out_infer) == SARA_OK;
    ok = ok && unet_forward(m, io.x, io.t, io.labels, MEM_B, io.out_train) == SARA_OK;
    if (ok && memcmp(io.out_infer, io.out_train, (size_t)io.n_out * sizeof(float))) {
        fprintf(stderr, "    %s: inference output differs from the training forward's\n", what);
        ok = 0;
    }
    /* and after a training forward + backward, with the arena already planned for training */
    float *dx = calloc((size_t)io.n_in, sizeof(float));
    ok = ok && dx && unet_backward(m, io.dout, dx, NULL) == SARA_OK;
    memset(io.out_infer, 0, (size_t)io.n_out * sizeof(float));
    ok = ok && unet_infer(m, io.x, io.t, io.labels, MEM_B, io.out_infer) == SARA_OK;
    if (ok && memcmp(io.out_infer, io.out_train, (size_t)io.n_out * sizeof(float))) {
        fprintf(stderr, "    %s: inference output after a training step differs\n", what);
        ok = 0;
    }
    free(dx);
    io_free(&io);
    return ok;
}

TEST(unet_infer_equals_training_forward_bitwise)
{
    const char *models[] = {"tiny", "tiny_pad0"}; /* the second: center_input_sample, mid scale 1.5 */
    for (int i = 0; i < 2; i++) {
        unet *m = NULL;
        char dir[256];
        snprintf(dir, sizeof dir, MEM_FIXTURES "/%s", models[i]);
        CHECK_OK(unet_load(&m, dir));
        int ok = infer_matches_training(m, models[i]);
        unet_free(m);
        CHECK_MSG(ok, "%s: %s", models[i], sara_last_error());
    }
}

TEST(unet_infer_equals_training_forward_with_lora)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, MEM_FIXTURES "/tiny"));
    CHECK_OK(unet_lora_attach(m, 2, 4.0, NULL, 5));
    param_table *l = unet_lora_params(m);
    sara_rng r;
    rng_seed(&r, 6);
    for (int i = 0; i < l->count; i++) /* B is zero at attach: make every branch count */
        for (int64_t k = 0; k < l->entries[i].numel; k++)
            params_ptr(l, i)[k] = 0.1f * (float)rng_normal(&r);
    int ok = infer_matches_training(m, "tiny + LoRA");
    unet_free(m);
    CHECK_MSG(ok, "LoRA: %s", sara_last_error());
}

TEST(unet_backward_needs_a_training_forward_of_its_own)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, MEM_FIXTURES "/tiny"));
    mem_io io;
    int made = io_make(&io, m, 22);
    if (!made) {
        io_free(&io);
        unet_free(m);
        CHECK(made);
    }
    sara_status first = unet_backward(m, io.dout, NULL, NULL);                 /* no forward yet */
    sara_status infer = unet_infer(m, io.x, io.t, io.labels, MEM_B, io.out_infer);
    sara_status after_infer = unet_backward(m, io.dout, NULL, NULL);           /* kept nothing */
    sara_status fwd = unet_forward(m, io.x, io.t, io.labels, MEM_B, io.out_train);
    sara_status bwd = unet_backward(m, io.dout, NULL, NULL);
    sara_status twice = unet_backward(m, io.dout, NULL, NULL);                 /* consumed */
    sara_status fwd2 = unet_forward(m, io.x, io.t, io.labels, MEM_B, io.out_train);
    sara_status replan = unet_reserve(m, MEM_B + 1);
    sara_status after_replan = unet_backward(m, io.dout, NULL, NULL);          /* planning reused the pointers */
    io_free(&io);
    unet_free(m);
    CHECK(first == SARA_ERR_INVALID && after_infer == SARA_ERR_INVALID && twice == SARA_ERR_INVALID);
    CHECK(after_replan == SARA_ERR_INVALID);
    CHECK(infer == SARA_OK && fwd == SARA_OK && bwd == SARA_OK && fwd2 == SARA_OK && replan == SARA_OK);
}

/* What one forward + backward gives: the output, dx and every parameter's gradient (the model's,
 * then the LoRA table's), through dense sinks. */
typedef struct {
    float *out, *dx;
    param_table grads, lora_grads;
} pass_result;

static void pass_free(pass_result *r)
{
    free(r->out);
    free(r->dx);
    params_free(&r->grads);
    params_free(&r->lora_grads);
}

static int run_pass(unet *m, const mem_io *io, pass_result *r)
{
    memset(r, 0, sizeof *r);
    params_init(&r->grads);
    params_init(&r->lora_grads);
    r->out = calloc((size_t)io->n_out, sizeof(float));
    r->dx = calloc((size_t)io->n_in, sizeof(float));
    int nm = unet_params(m)->count, nl = unet_lora_params(m)->count;
    ops_sink *sinks = calloc((size_t)(nm + nl), sizeof *sinks);
    int ok = r->out && r->dx && sinks && params_clone_layout(&r->grads, unet_params(m)) == SARA_OK;
    ok = ok && (!nl || params_clone_layout(&r->lora_grads, unet_lora_params(m)) == SARA_OK);
    for (int i = 0; ok && i < nm + nl; i++)
        sinks[i] = (ops_sink){.kind = OPS_SINK_DENSE,
                              .dense = i < nm ? params_ptr(&r->grads, i) : params_ptr(&r->lora_grads, i - nm)};
    ok = ok && unet_forward(m, io->x, io->t, io->labels, MEM_B, r->out) == SARA_OK;
    ok = ok && unet_backward(m, io->dout, r->dx, sinks) == SARA_OK;
    free(sinks);
    return ok;
}

static int same_floats(const char *what, const char *name, const float *a, const float *b, size_t n)
{
    if (!memcmp(a, b, n * sizeof(float)))
        return 1;
    fprintf(stderr, "    %s: %s differs under gradient checkpointing\n", what, name);
    return 0;
}

/* Gradient checkpointing re-runs the ResNet / attention heads in backward: the output, dx and every
 * gradient (LoRA's too, whose xa the backward then re-forms) are the same bits as without it. */
static int checkpointing_matches(unet *m, const char *what)
{
    mem_io io;
    pass_result plain = {0}, ck = {0}; /* freeable even if a step below is skipped */
    int ok = io_make(&io, m, 23);
    unet_set_gradient_checkpointing(m, 0);
    ok = ok && run_pass(m, &io, &plain);
    unet_set_gradient_checkpointing(m, 1);
    ok = ok && run_pass(m, &io, &ck);
    unet_set_gradient_checkpointing(m, 0);
    ok = ok && same_floats(what, "output", plain.out, ck.out, (size_t)io.n_out);
    ok = ok && same_floats(what, "dx", plain.dx, ck.dx, (size_t)io.n_in);
    for (int i = 0; ok && i < plain.grads.count; i++)
        ok = same_floats(what, plain.grads.entries[i].name, params_ptr(&plain.grads, i), params_ptr(&ck.grads, i),
                         (size_t)plain.grads.entries[i].numel);
    for (int i = 0; ok && i < plain.lora_grads.count; i++)
        ok = same_floats(what, plain.lora_grads.entries[i].name, params_ptr(&plain.lora_grads, i),
                         params_ptr(&ck.lora_grads, i), (size_t)plain.lora_grads.entries[i].numel);
    pass_free(&plain);
    pass_free(&ck);
    io_free(&io);
    return ok;
}

TEST(unet_gradient_checkpointing_gives_the_same_bits)
{
    const char *models[] = {"tiny", "tiny_pad0"}; /* the second: output scale factors ≠ 1 */
    for (int i = 0; i < 3; i++) {
        unet *m = NULL;
        char dir[256];
        snprintf(dir, sizeof dir, MEM_FIXTURES "/%s", models[i % 2]);
        CHECK_OK(unet_load(&m, dir));
        if (i == 2) { /* LoRA on every conv and linear, B non-zero so every branch counts */
            CHECK_OK(unet_lora_attach(m, 2, 4.0, NULL, 5));
            param_table *l = unet_lora_params(m);
            sara_rng r;
            rng_seed(&r, 7);
            for (int k = 0; k < l->count; k++)
                for (int64_t j = 0; j < l->entries[k].numel; j++)
                    params_ptr(l, k)[j] = 0.1f * (float)rng_normal(&r);
        }
        int ok = checkpointing_matches(m, i == 2 ? "tiny_pad0 + LoRA" : models[i]);
        unet_free(m);
        CHECK_MSG(ok, "%s: %s", models[i % 2], sara_last_error());
    }
}

/* Switching checkpointing between a forward and its backward would pair a forward that kept
 * nothing of a block with a backward that expects it: the backward is refused. */
TEST(unet_gradient_checkpointing_switch_drops_the_kept_forward)
{
    unet *m = NULL;
    CHECK_OK(unet_load(&m, MEM_FIXTURES "/tiny"));
    mem_io io;
    int made = io_make(&io, m, 24);
    sara_status fwd = made ? unet_forward(m, io.x, io.t, io.labels, MEM_B, io.out_train) : SARA_ERR_NOMEM;
    unet_set_gradient_checkpointing(m, 1);
    sara_status bwd = unet_backward(m, io.dout, NULL, NULL);
    io_free(&io);
    unet_free(m);
    CHECK(fwd == SARA_OK && bwd == SARA_ERR_INVALID);
}

/* Bytes of every buffer of the layer list at batch B: what a forward that kept each layer output
 * (and no internal tensor at all) would hold. */
static size_t all_outputs_bytes(const unet *m, int B)
{
    size_t n = 0;
    for (int i = 0; i < m->n_bufs; i++)
        n += (size_t)B * m->bufs[i].C * m->bufs[i].H * m->bufs[i].W * sizeof(float);
    return n;
}

TEST(unet_memory_plans_stay_below_keep_everything)
{
    unet_config c;
    unet_config_default(&c);
    c.sample_size = 32;
    c.in_channels = c.out_channels = 1;
    c.num_blocks = 3;
    int ch[3] = {16, 32, 32};
    for (int i = 0; i < 3; i++) {
        c.block_out_channels[i] = ch[i];
        c.down_attn[i] = i == 2;
        c.up_attn[i] = i == 0;
    }
    c.layers_per_block = 2;
    c.norm_num_groups = 8;
    c.attention_head_dim = 8;
    unet *m = NULL;
    CHECK_OK(unet_create(&m, &c));
    const int B = 32; /* large enough that activations, not the fixed-size Winograd scratch, dominate */
    sara_status s = unet_reserve(m, B);
    unet_memory_plan p = unet_memory(m);
    size_t outputs = all_outputs_bytes(m, B), train = p.activations + p.act_grads + p.scratch;
    unet_set_gradient_checkpointing(m, 1);
    sara_status s_ck = unet_reserve(m, B);
    unet_memory_plan ck = unet_memory(m);
    int blocks = 0, rerun = 0; /* the last up-path blocks free their tensors before the peak: kept */
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].kind == L_RESNET || m->layers[i].kind == L_ATTN)
            blocks++, rerun += m->layers[i].recompute;
    unet_free(m);
    CHECK_MSG(rerun > 0 && rerun < blocks, "%d of %d blocks re-run", rerun, blocks);
    CHECK_OK(s);
    CHECK_OK(s_ck);
    /* Checkpointing drops each ResNet block's h and attention's tokens, q, k, v and probabilities
     * from what the forward keeps: 0.59 of the activations here, 0.72 of the whole arena. */
    size_t train_ck = ck.activations + ck.act_grads + ck.scratch;
    CHECK_MSG(ck.activations < p.activations * 2 / 3 && train_ck < train * 4 / 5,
              "checkpointing: activations %zu of %zu, arena %zu of %zu", ck.activations, p.activations, train_ck, train);
    /* Inference holds the skip connections and one block's buffers: far below all outputs (0.44
     * of them here). Training keeps the outputs (but the copies: concatenations, upsampling),
     * one (B, Co, H, W) tensor and the statistics per ResNet block, and gradients only while
     * they are live: 1.65 times the outputs here, where keeping the norms' outputs and a
     * gradient per buffer took 5.0 times. */
    CHECK_MSG(p.inference < outputs / 2, "inference plan %zu bytes, all outputs %zu", p.inference, outputs);
    CHECK_MSG(train < 2 * outputs, "training plan %zu bytes, all outputs %zu", train, outputs);
    CHECK(p.inference < train);
}

/* ------------------------------------------------------------------------------------------ */
/* the pool */

/* A fixed sequence of takes and gives; offsets (floats from the start) into off[]. */
static void pool_script(unet_pool *p, size_t off[5])
{
    uintptr_t origin = 0;
    float *a = unet_take(p, 100);   /* [0, 112) */
    float *b = unet_take(p, 40);    /* [112, 160) */
    float *c = unet_take(p, 16);    /* [160, 176) */
    origin = (uintptr_t)a;
    unet_give(p, a);
    float *d = unet_take(p, 50);    /* first fit: the gap at 0 */
    unet_give(p, c);
    float *e = unet_take(p, 200);   /* no gap holds it: after b */
    float *q[5] = {a, b, d, e, c};
    for (int i = 0; i < 5; i++)
        off[i] = ((uintptr_t)q[i] - origin) / sizeof(float);
    unet_give(p, b);
    unet_give(p, d);
    unet_give(p, e);
}

TEST(unet_pool_reuses_gaps_and_plans_exactly)
{
    static unet_pool p; /* large: not on the stack */
    size_t plan[5], real[5];
    memset(&p, 0, sizeof p);
    unet_pool_begin(&p, 1);
    pool_script(&p, plan);
    size_t peak = p.peak;
    CHECK(!p.failed && p.n_live == 0);
    CHECK_MSG(plan[2] == 0 && plan[3] == 160 && peak == 160 + 208, "d at %zu, e at %zu, peak %zu", plan[2], plan[3],
              peak);
    p.base = aligned_alloc(64, peak * sizeof(float));
    CHECK(p.base);
    p.cap = peak;
    unet_pool_begin(&p, 0);
    pool_script(&p, real);
    int same = !memcmp(plan, real, sizeof plan) && !p.failed;
    /* a block that is not live is a bookkeeping error, reported, never a crash */
    unet_give(&p, p.base + 1);
    int flagged = p.failed;
    free(p.base);
    CHECK_MSG(same, "real offsets differ from the planned ones");
    CHECK(flagged);
}
