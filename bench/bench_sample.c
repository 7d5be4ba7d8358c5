/* bench_sample.c — sampling throughput: DDIM, `steps` steps, `images` class-conditional images on
 * the reference configuration (random weights: the cost does not depend on them), timed `repeats`
 * times; prints one RESULT line with the median images per second and peak RSS, like
 * bench/torch_sample.py does for PyTorch.
 *   build/bench_sample [--threads N] [--images 64] [--batch 64] [--steps 50] [--repeats 5] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_common.h"
#include "core/status.h"
#include "core/threads.h"
#include "diffusion/sampler.h"
#include "model/unet.h"
#include "train/sample.h"

int main(int argc, char **argv)
{
    sara_process_prepare(argv);
    int threads = 1, images = 64, batch = 64, steps = 50, repeats = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--images")) images = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeats")) repeats = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_sample: unknown option %s\n", argv[i]); return 2; }
    }
    if (images <= 0 || batch <= 0 || steps <= 0 || repeats <= 0 || repeats > 100)
        return 2;
    sara_set_threads(threads);
    unet_config c;
    reference_config(&c);
    unet *m = NULL;
    noise_schedule sched;
    float *out = malloc((size_t)images * 32 * 32 * sizeof(float));      /* (images, 1, 32, 32) */
    int64_t *labels = malloc((size_t)images * sizeof(int64_t));          /* (images) */
    double times[100];
    sampler_options so;
    sampler_options_default(&so);
    so.steps = steps;
    sara_status s = out && labels ? SARA_OK : SARA_ERR_NOMEM;
    if (s == SARA_OK)
        s = unet_create(&m, &c);
    if (s == SARA_OK)
        s = unet_init_random(m, 1);
    if (s == SARA_OK)
        s = schedule_init(&sched, SCHEDULE_LINEAR, 1000, 1e-4, 0.02, PREDICT_EPSILON);
    for (int i = 0; labels && i < images; i++)
        labels[i] = i % BENCH_CLASSES;
    for (int r = 0; s == SARA_OK && r < repeats; r++) {
        double t0 = bench_clock_s(CLOCK_MONOTONIC);
        s = sample_images(m, &sched, &so, labels, images, batch, (uint64_t)r, out);
        times[r] = bench_clock_s(CLOCK_MONOTONIC) - t0;
    }
    if (s != SARA_OK) {
        fprintf(stderr, "bench_sample: %s\n", sara_last_error());
        return 1;
    }
    qsort(times, (size_t)repeats, sizeof times[0], bench_cmp_double);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT impl=sara threads=%d images=%d batch=%d steps=%d repeats=%d median_s=%.3f min_s=%.3f max_s=%.3f "
           "images_per_s=%.3f peak_rss_mb=%.1f\n",
           threads, images, batch, steps, repeats, times[repeats / 2], times[0], times[repeats - 1],
           images / times[repeats / 2], (double)ru.ru_maxrss / 1024.0);
    schedule_free(&sched);
    unet_free(m);
    free(out);
    free(labels);
    return 0;
}
