/* The serve API's Prometheus metrics (src/serve/metrics.c): counts and
 * cumulative histogram buckets after concurrent updates from 4 threads
 * (with a 5th rendering meanwhile), label escaping, model info, reloads,
 * the endpoint names of URL paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/metrics.h"

/* The value of the sample whose name and labels are exactly `series`
 * ("name{labels}" or "name"), or -1 if there is no such line. */
static double sample(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ') return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        if (line) line++;
    }
    return -1;
}

static int count_lines_starting(const char *text, const char *prefix) {
    int c = 0;
    size_t n = strlen(prefix);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, prefix, n) == 0) c++;
        line = strchr(line, '\n');
        if (line) line++;
    }
    return c;
}

static const char *const lat_le[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                     "0.1",   "0.25",   "0.5",   "1",    "2.5",   "+Inf"};
static const double lat_bound[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, INFINITY};
enum { N_LAT = 12 };
static const char *const batch_le[] = {"1", "2", "4", "8", "16", "32", "64", "128", "256", "+Inf"};
static const double batch_bound[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, INFINITY};
enum { N_BATCH = 10 };

/* What each worker does, by iteration i. */
enum { N_THREADS = 4, N_ITER = 20000 };
static const double durations[] = {0.0005, 0.001, 0.002, 0.03, 0.7, 3.0, 0.0100001};
enum { N_DUR = sizeof durations / sizeof durations[0] };
static const int64_t sizes[] = {1, 3, 64, 65, 300, 0};
enum { N_SIZES = sizeof sizes / sizeof sizes[0] };
static semid_serve_endpoint ep_of(int i) { return (semid_serve_endpoint)(i % 3); }
static int code_of(int i) { return i % 10 == 0 ? 500 : (i % 10 == 1 ? 400 : 200); }

static void *worker(void *arg) {
    semid_serve_metrics *m = arg;
    for (int i = 0; i < N_ITER; i++) {
        semid_serve_metrics_request(m, ep_of(i), code_of(i), durations[i % N_DUR]);
        semid_serve_metrics_batch(m, sizes[i % N_SIZES]);
        if (i % 1000 == 0) semid_serve_metrics_reload(m, i % 2000 == 0);
    }
    return NULL;
}

static atomic_int stop_render;

/* Renders while the workers run: buckets never decrease, _count is +Inf. */
static void *renderer(void *arg) {
    semid_serve_metrics *m = arg;
    int renders = 0;
    while (!atomic_load(&stop_render) || renders < 3) {
        char *t = semid_serve_metrics_render(m);
        if (!t) abort();
        double prev = 0;
        char series[128];
        for (int k = 0; k < N_LAT; k++) {
            snprintf(series, sizeof series, "semid_request_duration_seconds_bucket{endpoint=\"search\",le=\"%s\"}",
                     lat_le[k]);
            double v = sample(t, series);
            if (v < prev) abort();
            prev = v;
        }
        if (sample(t, "semid_request_duration_seconds_count{endpoint=\"search\"}") != prev) abort();
        prev = 0;
        for (int k = 0; k < N_BATCH; k++) {
            snprintf(series, sizeof series, "semid_batch_size_bucket{le=\"%s\"}", batch_le[k]);
            double v = sample(t, series);
            if (v < prev) abort();
            prev = v;
        }
        if (sample(t, "semid_batch_size_count") != prev) abort();
        free(t);
        renders++;
    }
    return NULL;
}

static void test_concurrent_counts(void **state) {
    (void)state;
    semid_serve_metrics *m = semid_serve_metrics_new();
    assert_non_null(m);
    pthread_t th[N_THREADS + 1];
    atomic_store(&stop_render, 0);
    assert_int_equal(pthread_create(&th[N_THREADS], NULL, renderer, m), 0);
    for (int t = 0; t < N_THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, worker, m), 0);
    for (int t = 0; t < N_THREADS; t++) pthread_join(th[t], NULL);
    atomic_store(&stop_render, 1);
    pthread_join(th[N_THREADS], NULL);

    /* the expected values, from one thread's sequence times N_THREADS */
    double req[3][600] = {{0}}, lat[3][N_LAT] = {{0}}, lat_sum[3] = {0}, bat[N_BATCH] = {0}, bat_sum = 0;
    double errors = 0, reload_ok = 0, reload_err = 0;
    for (int i = 0; i < N_ITER; i++) {
        int e = (int)ep_of(i), c = code_of(i);
        req[e][c] += N_THREADS;
        if (c >= 500) errors += N_THREADS;
        double d = durations[i % N_DUR];
        for (int k = 0; k < N_LAT; k++)
            if (d <= lat_bound[k]) lat[e][k] += N_THREADS; /* cumulative */
        lat_sum[e] += d * N_THREADS;
        int64_t s = sizes[i % N_SIZES] < 1 ? 1 : sizes[i % N_SIZES];
        for (int k = 0; k < N_BATCH; k++)
            if ((double)s <= batch_bound[k]) bat[k] += N_THREADS;
        bat_sum += (double)s * N_THREADS;
        if (i % 1000 == 0) {
            if (i % 2000 == 0) reload_ok += N_THREADS;
            else reload_err += N_THREADS;
        }
    }

    char *t = semid_serve_metrics_render(m);
    assert_non_null(t);
    char series[160];
    static const char *const eps[] = {"search", "recommend", "items"};
    for (int e = 0; e < 3; e++) {
        for (int c = 200; c <= 500; c += 100) {
            snprintf(series, sizeof series, "semid_requests_total{endpoint=\"%s\",code=\"%d\"}", eps[e], c);
            double want = req[e][c] ? req[e][c] : -1; /* zero series are left out */
            assert_true(sample(t, series) == want);
        }
        for (int k = 0; k < N_LAT; k++) {
            snprintf(series, sizeof series, "semid_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%s\"}", eps[e],
                     lat_le[k]);
            if (sample(t, series) != lat[e][k]) fprintf(stderr, "%s: %g, want %g\n", series, sample(t, series), lat[e][k]);
            assert_true(sample(t, series) == lat[e][k]);
        }
        snprintf(series, sizeof series, "semid_request_duration_seconds_count{endpoint=\"%s\"}", eps[e]);
        assert_true(sample(t, series) == lat[e][N_LAT - 1]);
        snprintf(series, sizeof series, "semid_request_duration_seconds_sum{endpoint=\"%s\"}", eps[e]);
        assert_true(fabs(sample(t, series) - lat_sum[e]) < 1e-6 * lat_sum[e]);
    }
    /* the endpoints nobody called still have their (zero) histograms */
    assert_true(sample(t, "semid_request_duration_seconds_bucket{endpoint=\"healthz\",le=\"+Inf\"}") == 0);
    assert_true(sample(t, "semid_request_duration_seconds_count{endpoint=\"other\"}") == 0);
    assert_int_equal(count_lines_starting(t, "semid_requests_total{endpoint=\"healthz\""), 0);
    assert_true(sample(t, "semid_errors_total") == errors);
    for (int k = 0; k < N_BATCH; k++) {
        snprintf(series, sizeof series, "semid_batch_size_bucket{le=\"%s\"}", batch_le[k]);
        assert_true(sample(t, series) == bat[k]);
    }
    assert_true(sample(t, "semid_batch_size_count") == bat[N_BATCH - 1]);
    assert_true(sample(t, "semid_batch_size_sum") == bat_sum);
    assert_true(sample(t, "semid_model_reloads_total{result=\"ok\"}") == reload_ok);
    assert_true(sample(t, "semid_model_reloads_total{result=\"error\"}") == reload_err);
    /* no model set yet: no info line */
    assert_int_equal(count_lines_starting(t, "semid_model_info{"), 0);
    /* one TYPE line per family */
    assert_non_null(strstr(t, "# TYPE semid_requests_total counter\n"));
    assert_non_null(strstr(t, "# TYPE semid_errors_total counter\n"));
    assert_non_null(strstr(t, "# TYPE semid_request_duration_seconds histogram\n"));
    assert_non_null(strstr(t, "# TYPE semid_batch_size histogram\n"));
    assert_non_null(strstr(t, "# TYPE semid_model_reloads_total counter\n"));
    assert_int_equal(count_lines_starting(t, "# TYPE semid_request_duration_seconds "), 1);
    assert_true(t[strlen(t) - 1] == '\n');
    free(t);
    semid_serve_metrics_free(m);
}

static void test_model_info_and_escaping(void **state) {
    (void)state;
    semid_serve_metrics *m = semid_serve_metrics_new();
    assert_non_null(m);
    assert_int_equal(semid_serve_metrics_set_model(m, "old", "/x"), SEMID_OK);
    assert_int_equal(semid_serve_metrics_set_model(m, "3f2a\"9c\\1\nb", "/srv/models/a\"b\\c\nd \xC3\xA9 \xFF"),
                     SEMID_OK);
    char *t = semid_serve_metrics_render(m);
    assert_non_null(t);
    assert_non_null(strstr(t, "# TYPE semid_model_info gauge\n"));
    assert_true(sample(t, "semid_model_info{version=\"3f2a\\\"9c\\\\1\\nb\","
                          "dir=\"/srv/models/a\\\"b\\\\c\\nd \xC3\xA9 \xEF\xBF\xBD\"}") == 1);
    assert_int_equal(count_lines_starting(t, "semid_model_info{"), 1);
    assert_null(strstr(t, "old"));
    free(t);
    assert_int_equal(semid_serve_metrics_set_model(m, NULL, NULL), SEMID_OK);
    t = semid_serve_metrics_render(m);
    assert_true(sample(t, "semid_model_info{version=\"\",dir=\"\"}") == 1);
    free(t);

    char *e = semid_serve_metrics_escape_label("a\\b\"c\nd\te\xE2\x82\xAC\xE2\x82");
    assert_string_equal(e, "a\\\\b\\\"c\\nd\te\xE2\x82\xAC\xEF\xBF\xBD\xEF\xBF\xBD");
    free(e);
    e = semid_serve_metrics_escape_label(NULL);
    assert_string_equal(e, "");
    free(e);
    semid_serve_metrics_free(m);
    semid_serve_metrics_free(NULL);
}

static void test_odd_values(void **state) {
    (void)state;
    semid_serve_metrics *m = semid_serve_metrics_new();
    semid_serve_metrics_request(m, SEMID_SERVE_EP_HEALTHZ, 42, -1.0);      /* code -> 500, time -> 0 */
    semid_serve_metrics_request(m, SEMID_SERVE_EP_HEALTHZ, 200, NAN);      /* time -> 0 */
    semid_serve_metrics_request(m, (semid_serve_endpoint)77, 404, 0.001);  /* endpoint -> other; le is inclusive */
    semid_serve_metrics_request(m, SEMID_SERVE_EP_PAGE, 599, INFINITY);    /* +Inf bucket only */
    semid_serve_metrics_request(NULL, SEMID_SERVE_EP_PAGE, 200, 1);        /* no metrics: nothing */
    semid_serve_metrics_batch(m, 256);
    semid_serve_metrics_batch(m, 257);
    semid_serve_metrics_batch(m, -5);
    char *t = semid_serve_metrics_render(m);
    assert_true(sample(t, "semid_requests_total{endpoint=\"healthz\",code=\"500\"}") == 1);
    assert_true(sample(t, "semid_requests_total{endpoint=\"healthz\",code=\"200\"}") == 1);
    assert_true(sample(t, "semid_requests_total{endpoint=\"other\",code=\"404\"}") == 1);
    assert_true(sample(t, "semid_requests_total{endpoint=\"page\",code=\"599\"}") == 1);
    assert_true(sample(t, "semid_errors_total") == 2);
    assert_true(sample(t, "semid_request_duration_seconds_bucket{endpoint=\"healthz\",le=\"0.001\"}") == 2);
    assert_true(sample(t, "semid_request_duration_seconds_sum{endpoint=\"healthz\"}") == 0);
    assert_true(sample(t, "semid_request_duration_seconds_bucket{endpoint=\"other\",le=\"0.001\"}") == 1);
    assert_true(sample(t, "semid_request_duration_seconds_bucket{endpoint=\"page\",le=\"2.5\"}") == 0);
    assert_true(sample(t, "semid_request_duration_seconds_bucket{endpoint=\"page\",le=\"+Inf\"}") == 1);
    assert_true(sample(t, "semid_batch_size_bucket{le=\"1\"}") == 1);
    assert_true(sample(t, "semid_batch_size_bucket{le=\"128\"}") == 1);
    assert_true(sample(t, "semid_batch_size_bucket{le=\"256\"}") == 2);
    assert_true(sample(t, "semid_batch_size_bucket{le=\"+Inf\"}") == 3);
    assert_true(sample(t, "semid_batch_size_sum") == 256 + 257 + 1);
    assert_true(sample(t, "semid_model_reloads_total{result=\"ok\"}") == 0);
    free(t);
    semid_serve_metrics_free(m);
    assert_null(semid_serve_metrics_render(NULL));
}

static void test_endpoints(void **state) {
    (void)state;
    assert_int_equal(semid_serve_endpoint_of("/v1/search"), SEMID_SERVE_EP_SEARCH);
    assert_int_equal(semid_serve_endpoint_of("/v1/recommend"), SEMID_SERVE_EP_RECOMMEND);
    assert_int_equal(semid_serve_endpoint_of("/v1/items"), SEMID_SERVE_EP_ITEMS);
    assert_int_equal(semid_serve_endpoint_of("/v1/items/1193"), SEMID_SERVE_EP_ITEMS);
    assert_int_equal(semid_serve_endpoint_of("/healthz"), SEMID_SERVE_EP_HEALTHZ);
    assert_int_equal(semid_serve_endpoint_of("/metrics"), SEMID_SERVE_EP_METRICS);
    assert_int_equal(semid_serve_endpoint_of("/v1/admin/reload"), SEMID_SERVE_EP_ADMIN);
    assert_int_equal(semid_serve_endpoint_of("/"), SEMID_SERVE_EP_PAGE);
    assert_int_equal(semid_serve_endpoint_of("/v1/itemsx"), SEMID_SERVE_EP_OTHER);
    assert_int_equal(semid_serve_endpoint_of("/v1/search/"), SEMID_SERVE_EP_OTHER);
    assert_int_equal(semid_serve_endpoint_of(""), SEMID_SERVE_EP_OTHER);
    assert_int_equal(semid_serve_endpoint_of(NULL), SEMID_SERVE_EP_OTHER);
    static const char *const names[] = {"search", "recommend", "items", "healthz", "metrics", "admin", "page", "other"};
    for (int e = 0; e < SEMID_SERVE_EP_COUNT; e++)
        assert_string_equal(semid_serve_endpoint_name((semid_serve_endpoint)e), names[e]);
    assert_string_equal(semid_serve_endpoint_name((semid_serve_endpoint)99), "other");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_counts),
        cmocka_unit_test(test_model_info_and_escaping),
        cmocka_unit_test(test_odd_values),
        cmocka_unit_test(test_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
