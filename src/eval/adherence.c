/* adherence.c — per-class classifier accuracy on generated samples (see adherence.h). */
#include "eval/adherence.h"

#include <math.h>
#include <stdlib.h>

#include "core/status.h"

static int argmax(const float *x, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

sara_status adherence_compute(const float *logits, const int64_t *requested, int n, int k, int *count,
                              double *per_class, double *overall)
{
    if (n < 1 || k < 1)
        return sara_fail(SARA_ERR_INVALID, "adherence: %d samples of %d classes", n, k);
    int *hits = calloc((size_t)k, sizeof *hits); /* (k) */
    if (!hits)
        return sara_fail(SARA_ERR_NOMEM, "adherence: out of memory");
    for (int j = 0; j < k; j++)
        count[j] = 0;
    for (int i = 0; i < n; i++) {
        int64_t c = requested[i];
        if (c < 0 || c >= k) {
            free(hits);
            return sara_fail(SARA_ERR_INVALID, "adherence: sample %d requests class %lld of %d", i, (long long)c, k);
        }
        for (int j = 0; j < k; j++)
            if (!isfinite(logits[(size_t)i * k + j])) {
                free(hits);
                return sara_fail(SARA_ERR_NUMERIC, "adherence: logit %d of sample %d is not finite", j, i);
            }
        count[c]++;
        hits[c] += argmax(logits + (size_t)i * k, k) == c;
    }
    double sum = 0;
    int classes = 0;
    for (int j = 0; j < k; j++) {
        per_class[j] = count[j] ? (double)hits[j] / count[j] : NAN;
        if (count[j]) {
            sum += per_class[j];
            classes++;
        }
    }
    *overall = sum / classes;
    free(hits);
    return SARA_OK;
}
