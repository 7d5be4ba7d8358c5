/* sysmem.h — how much memory the machine can give a new run now: MemAvailable of /proc/meminfo,
 * the kernel's own estimate of what can be allocated without swapping. The CLI compares a run's
 * memory plan with it before step 1, so a batch that cannot fit is a warning at start-up rather
 * than an out-of-memory kill hours later. */
#ifndef SARA_CORE_SYSMEM_H
#define SARA_CORE_SYSMEM_H

#include <stddef.h>

#include "sara/sara.h"

/* The meminfo file of Linux. */
#define SYSMEM_MEMINFO "/proc/meminfo"

/* *bytes = the MemAvailable line of a meminfo file (path; SYSMEM_MEMINFO on Linux). A file that
 * cannot be read is SARA_ERR_IO; one without a well-formed "MemAvailable: N kB" line is
 * SARA_ERR_FORMAT (kernels before 3.14 lack it). */
sara_status sysmem_available(const char *path, size_t *bytes);

#endif
