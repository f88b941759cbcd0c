#include "eval/stats.h"

#include <float.h>
#include <math.h>

#include "base/status.h"

double semid_mean(const double *x, int64_t n) {
    if (n <= 0) return 0.0;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

double semid_stddev(const double *x, int64_t n) {
    if (n < 2) return 0.0;
    double m = semid_mean(x, n), s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)(n - 1));
}

/* Continued fraction for I_x(a, b) by the modified Lentz method; converges
 * quickly for x < (a + 1) / (a + b + 2). */
static double beta_continued_fraction(double a, double b, double x) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        int m2 = 2 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + num * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + num * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + num / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double delta = d * c;
        h *= delta;
        if (fabs(delta - 1.0) < 1e-15) break;
    }
    return h;
}

double semid_incomplete_beta(double a, double b, double x) {
    if (x <= 0.0) return 0.0;
    if (x >= 1.0) return 1.0;
    double log_front = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double front = exp(log_front);
    if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_continued_fraction(a, b, x) / a;
    return 1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b;
}

double semid_t_pvalue(double t, double df) {
    if (!isfinite(t)) return 0.0;
    return semid_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
}

semid_status semid_paired_ttest(const double *a, const double *b, int64_t n, semid_ttest *out) {
    if (n < 2) return semid_fail(SEMID_EINVAL, "a paired t-test needs at least 2 pairs, got %lld", (long long)n);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += a[i] - b[i];
    double mean = sum / (double)n, ss = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = a[i] - b[i] - mean;
        ss += d * d;
    }
    double sd = sqrt(ss / (double)(n - 1));
    out->mean_diff = mean;
    out->df = (double)(n - 1);
    if (sd <= DBL_EPSILON * fabs(mean) || sd == 0.0) {
        /* No spread: identical rows are not different; a constant non-zero
         * shift is as significant as it gets. */
        out->t = mean == 0.0 ? 0.0 : copysign(INFINITY, mean);
        out->p = mean == 0.0 ? 1.0 : 0.0;
        return SEMID_OK;
    }
    out->t = mean / (sd / sqrt((double)n));
    out->p = semid_t_pvalue(out->t, out->df);
    return SEMID_OK;
}

double semid_bonferroni(double p, int64_t m) {
    double q = p * (double)(m > 0 ? m : 1);
    return q > 1.0 ? 1.0 : q;
}
