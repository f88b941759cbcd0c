#include <cblas.h>
#include <omp.h>

#include "semid/semid.h"

/* OpenMP loops and OpenBLAS's own pool both get the same count. Callers run
 * BLAS outside of OpenMP parallel regions, so the two never stack up. */
void semid_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int semid_get_threads(void) { return omp_get_max_threads(); }

int semid_blas_serial_begin(void) {
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return prev;
}

void semid_blas_serial_end(int prev) { openblas_set_num_threads(prev); }
