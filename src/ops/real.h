/* real.h — included first by every .c file in src/ops: picks the working type. Without OPS_DOUBLE,
 * `real` is float and OPS_NAME(f) is f; with -DOPS_DOUBLE (the build's second pass) `real` is
 * double and OPS_NAME(f) is f_f64. ops_sink below is the sink type of the current precision. */
#ifndef SARA_OPS_REAL_H
#define SARA_OPS_REAL_H

#include "ops/ops.h"

#ifdef OPS_DOUBLE
typedef double real;
#define OPS_NAME(n) n##_f64
typedef ops_sink_f64 ops_sink_t;
#else
typedef float real;
#define OPS_NAME(n) n
typedef ops_sink ops_sink_t;
#endif

#endif
