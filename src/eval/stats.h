/* Statistics for comparing experiment rows: mean and standard deviation,
 * the paired two-sided t-test, and the Bonferroni correction. */
#ifndef SEMID_EVAL_STATS_H
#define SEMID_EVAL_STATS_H

#include <stdint.h>

#include "semid/semid.h"

double semid_mean(const double *x, int64_t n);
/* Sample standard deviation (n - 1 in the denominator); 0 when n < 2. */
double semid_stddev(const double *x, int64_t n);

/* Regularised incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1. */
double semid_incomplete_beta(double a, double b, double x);

/* Two-sided p-value of Student's t statistic with `df` degrees of freedom. */
double semid_t_pvalue(double t, double df);

typedef struct semid_ttest {
    double mean_diff; /* mean of a - b */
    double t;         /* statistic; 0 when every difference is equal */
    double df;        /* n - 1 */
    double p;         /* two-sided; 1 when the differences have no spread and mean 0 */
} semid_ttest;

/* Paired t-test of a against b (n >= 2 pairs). */
semid_status semid_paired_ttest(const double *a, const double *b, int64_t n, semid_ttest *out);

/* Bonferroni: p * m, at most 1. */
double semid_bonferroni(double p, int64_t m);

#endif
