/* threads.h — one place that sets how many threads OpenMP and OpenBLAS use (never both at full
 * width at once: kernels call BLAS only outside OpenMP regions), and says which BLAS kernels run. */
#ifndef SARA_CORE_THREADS_H
#define SARA_CORE_THREADS_H

/* n ≤ 0: the number of online processors. Returns the count set. */
int sara_set_threads(int n);
int sara_get_threads(void);
/* "OpenBLAS 0.3.21, kernels SkylakeX, 2 threads" — for logs and benchmark tables. */
const char *sara_blas_description(void);

/* For programs (the CLI, benchmarks), called first thing in main: libgomp reads
 * OMP_WAIT_POLICY only at start-up, and its default (spin after every parallel region) steals
 * the cores OpenBLAS's own threads need — measured 2.3× slower training steps on 2 threads. If the
 * variable is unset this sets it to "passive" and re-executes the program (once); it returns
 * only if no re-execution happened. Never called by library code. */
void sara_process_prepare(char **argv);

#endif
