/* threads.h — one place that sets how many threads OpenMP and OpenBLAS use (never both at full
 * width at once: kernels call BLAS only outside OpenMP regions), and says which BLAS kernels run. */
#ifndef SARA_CORE_THREADS_H
#define SARA_CORE_THREADS_H

/* n ≤ 0: the number of online processors. Returns the count set. */
int sara_set_threads(int n);
int sara_get_threads(void);
/* "OpenBLAS 0.3.21, kernels SkylakeX, 2 threads" — for logs and benchmark tables. */
const char *sara_blas_description(void);

/* For programs (the CLI, benchmarks), called first thing in main: libgomp reads its wait policy
 * only at start-up. Its default (spin ~300k iterations after every parallel region) steals the
 * cores from OpenBLAS's own threads where BLAS threads a product itself (measured 2.3× slower
 * steps on 2 threads), and passive waiting (no spin) pays a futex wake-up per parallel region
 * (3–10 % of a step). Unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, this sets a short spin
 * (GOMP_SPINCOUNT) and re-executes the program (once); it returns only if no re-execution
 * happened. Never called by library code. */
void sara_process_prepare(char **argv);

#endif
