/* threads.h — one place that sets how many threads OpenMP and OpenBLAS use (never both at full
 * width at once: kernels call BLAS only outside OpenMP regions), and says which BLAS kernels run. */
#ifndef SARA_CORE_THREADS_H
#define SARA_CORE_THREADS_H

/* n ≤ 0: the number of online processors. Returns the count set. */
int sara_set_threads(int n);
int sara_get_threads(void);
/* "OpenBLAS 0.3.21, kernels SkylakeX, 2 threads" — for logs and benchmark tables. */
const char *sara_blas_description(void);

#endif
