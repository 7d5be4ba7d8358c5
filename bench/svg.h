/* svg.h — what the benchmark plotters share: round axis limits and XML-escaped text. The plots
 * are written by hand as SVG, so the project needs no plotting library. */
#ifndef SARA_BENCH_SVG_H
#define SARA_BENCH_SVG_H

#include <math.h>
#include <stdio.h>

/* The smallest "round" number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10^k) at or above x (x > 0). */
static inline double svg_nice_ceil(double x)
{
    double e = pow(10.0, floor(log10(x))), steps[] = {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
    for (int i = 0; i < 10; i++)
        if (steps[i] * e >= x * (1 - 1e-9))
            return steps[i] * e;
    return 10 * e;
}

static inline void svg_text(FILE *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", o);
        else if (*s == '<')
            fputs("&lt;", o);
        else if (*s == '>')
            fputs("&gt;", o);
        else
            fputc(*s, o);
    }
}

#endif
