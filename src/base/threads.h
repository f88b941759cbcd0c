/* The calling thread's thread count for library work (semid_set_threads in
 * semid/semid.h), and a scoped override for calls that take a `threads`
 * option. Nothing here touches process-wide OpenMP or BLAS settings: every
 * parallel loop in the library names its team size with
 * num_threads(semid_get_threads()), and BLAS runs single-threaded inside
 * semid's own teams (linalg/gemm.c). */
#ifndef SEMID_BASE_THREADS_H
#define SEMID_BASE_THREADS_H

#include "semid/semid.h"

/* Sets this thread's count to n when n > 0 and returns the previous raw
 * setting, for semid_threads_pop; n <= 0 leaves it as it is. */
int semid_threads_push(int n);
void semid_threads_pop(int prev);

#endif
