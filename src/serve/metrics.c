/* Prometheus counters of the serve API: atomics for every count, a mutex
 * for the model's labels. */
#include "serve/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "serve/request.h"
#include "serve/response.h"

enum { CODE_MIN = 100, CODE_MAX = 599, N_CODES = CODE_MAX - CODE_MIN + 1 };

static const double latency_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
static const char *const latency_le_text[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                              "0.1",   "0.25",   "0.5",   "1",    "2.5"};
enum { N_LAT = sizeof latency_le / sizeof latency_le[0] }; /* +Inf is bucket N_LAT */
static const int64_t batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
enum { N_BATCH = sizeof batch_le / sizeof batch_le[0] };

static const char *const endpoint_names[SEMID_SERVE_EP_COUNT] = {"search",  "recommend", "items", "healthz",
                                                                  "metrics", "admin",     "page",  "other"};

struct semid_serve_metrics {
    atomic_uint_fast64_t requests[SEMID_SERVE_EP_COUNT][N_CODES];
    atomic_uint_fast64_t errors;
    atomic_uint_fast64_t latency[SEMID_SERVE_EP_COUNT][N_LAT + 1]; /* per bucket, not cumulative */
    atomic_uint_fast64_t latency_ns[SEMID_SERVE_EP_COUNT];         /* sum, nanoseconds */
    atomic_uint_fast64_t batch[N_BATCH + 1];
    atomic_uint_fast64_t batch_sum;
    atomic_uint_fast64_t reloads_ok, reloads_failed;
    pthread_mutex_t model_lock;
    char *version, *dir; /* NULL until set */
};

const char *semid_serve_endpoint_name(semid_serve_endpoint ep) {
    return (int)ep >= 0 && ep < SEMID_SERVE_EP_COUNT ? endpoint_names[ep] : "other";
}

semid_serve_endpoint semid_serve_endpoint_of(const char *path) {
    if (!path) return SEMID_SERVE_EP_OTHER;
    if (strcmp(path, "/v1/search") == 0) return SEMID_SERVE_EP_SEARCH;
    if (strcmp(path, "/v1/recommend") == 0) return SEMID_SERVE_EP_RECOMMEND;
    if (strcmp(path, "/v1/items") == 0 || strncmp(path, "/v1/items/", 10) == 0) return SEMID_SERVE_EP_ITEMS;
    if (strcmp(path, "/healthz") == 0) return SEMID_SERVE_EP_HEALTHZ;
    if (strcmp(path, "/metrics") == 0) return SEMID_SERVE_EP_METRICS;
    if (strcmp(path, "/v1/admin") == 0 || strncmp(path, "/v1/admin/", 10) == 0) return SEMID_SERVE_EP_ADMIN;
    if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) return SEMID_SERVE_EP_PAGE;
    return SEMID_SERVE_EP_OTHER;
}

semid_serve_metrics *semid_serve_metrics_new(void) {
    semid_serve_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    for (int e = 0; e < SEMID_SERVE_EP_COUNT; e++) {
        for (int c = 0; c < N_CODES; c++) atomic_init(&m->requests[e][c], 0);
        for (int b = 0; b <= N_LAT; b++) atomic_init(&m->latency[e][b], 0);
        atomic_init(&m->latency_ns[e], 0);
    }
    for (int b = 0; b <= N_BATCH; b++) atomic_init(&m->batch[b], 0);
    atomic_init(&m->errors, 0);
    atomic_init(&m->batch_sum, 0);
    atomic_init(&m->reloads_ok, 0);
    atomic_init(&m->reloads_failed, 0);
    if (pthread_mutex_init(&m->model_lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void semid_serve_metrics_free(semid_serve_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->model_lock);
    free(m->version);
    free(m->dir);
    free(m);
}

static void add(atomic_uint_fast64_t *a, uint64_t v) { atomic_fetch_add_explicit(a, v, memory_order_relaxed); }
static uint64_t load(atomic_uint_fast64_t *a) { return atomic_load_explicit(a, memory_order_relaxed); }

void semid_serve_metrics_request(semid_serve_metrics *m, semid_serve_endpoint ep, int http_code, double seconds) {
    if (!m) return;
    if ((int)ep < 0 || ep >= SEMID_SERVE_EP_COUNT) ep = SEMID_SERVE_EP_OTHER;
    if (http_code < CODE_MIN || http_code > CODE_MAX) http_code = 500;
    if (!(seconds > 0)) seconds = 0; /* also NaN */
    if (seconds > 1e9) seconds = 1e9; /* keeps the nanosecond sum in range */
    add(&m->requests[ep][http_code - CODE_MIN], 1);
    if (http_code >= 500) add(&m->errors, 1);
    int b = 0;
    while (b < N_LAT && seconds > latency_le[b]) b++;
    add(&m->latency[ep][b], 1);
    add(&m->latency_ns[ep], (uint64_t)llround(seconds * 1e9));
}

void semid_serve_metrics_batch(semid_serve_metrics *m, int64_t size) {
    if (!m) return;
    if (size < 1) size = 1;
    int b = 0;
    while (b < N_BATCH && size > batch_le[b]) b++;
    add(&m->batch[b], 1);
    add(&m->batch_sum, (uint64_t)size);
}

void semid_serve_metrics_reload(semid_serve_metrics *m, int ok) {
    if (!m) return;
    add(ok ? &m->reloads_ok : &m->reloads_failed, 1);
}

semid_status semid_serve_metrics_set_model(semid_serve_metrics *m, const char *version, const char *dir) {
    if (!m) return semid_fail(SEMID_EINVAL, "semid_serve_metrics_set_model: no metrics");
    char *v = strdup(version ? version : ""), *d = strdup(dir ? dir : "");
    if (!v || !d) {
        free(v);
        free(d);
        return semid_fail(SEMID_ENOMEM, "serve metrics: out of memory");
    }
    pthread_mutex_lock(&m->model_lock);
    char *ov = m->version, *od = m->dir;
    m->version = v;
    m->dir = d;
    pthread_mutex_unlock(&m->model_lock);
    free(ov);
    free(od);
    return SEMID_OK;
}

static void put_label(semid_serve_buf *b, const char *value) {
    const char *s = value ? value : "";
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') semid_serve_buf_puts(b, "\\\\");
        else if (c == '"') semid_serve_buf_puts(b, "\\\"");
        else if (c == '\n') semid_serve_buf_puts(b, "\\n");
        else if (c < 0x80) semid_serve_buf_putn(b, s + i, 1);
        else {
            /* the shortest valid prefix is the whole sequence */
            size_t len = 0;
            for (size_t t = 2; t <= 4 && t <= n - i && !len; t++)
                if (semid_serve_utf8_valid(s + i, t)) len = t;
            if (len) {
                semid_serve_buf_putn(b, s + i, len);
                i += len;
                continue;
            }
            semid_serve_buf_puts(b, "\xEF\xBF\xBD");
        }
        i++;
    }
}

char *semid_serve_metrics_escape_label(const char *value) {
    semid_serve_buf b = {0};
    put_label(&b, value);
    return semid_serve_buf_finish(&b);
}

char *semid_serve_metrics_render(semid_serve_metrics *m) {
    if (!m) return NULL;
    semid_serve_buf b = {0};

    semid_serve_buf_puts(&b, "# HELP semid_requests_total Requests answered, by endpoint and HTTP status.\n"
                             "# TYPE semid_requests_total counter\n");
    for (int e = 0; e < SEMID_SERVE_EP_COUNT; e++)
        for (int c = 0; c < N_CODES; c++) {
            uint64_t v = load(&m->requests[e][c]);
            if (v)
                semid_serve_buf_printf(&b, "semid_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                                       endpoint_names[e], c + CODE_MIN, (unsigned long long)v);
        }

    semid_serve_buf_printf(&b,
                           "# HELP semid_errors_total Requests answered with a server error (5xx).\n"
                           "# TYPE semid_errors_total counter\n"
                           "semid_errors_total %llu\n",
                           (unsigned long long)load(&m->errors));

    semid_serve_buf_puts(&b, "# HELP semid_request_duration_seconds Time to answer a request, by endpoint.\n"
                             "# TYPE semid_request_duration_seconds histogram\n");
    for (int e = 0; e < SEMID_SERVE_EP_COUNT; e++) {
        uint64_t cum = 0;
        for (int k = 0; k <= N_LAT; k++) {
            cum += load(&m->latency[e][k]);
            semid_serve_buf_printf(&b, "semid_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%s\"} %llu\n",
                                   endpoint_names[e], k < N_LAT ? latency_le_text[k] : "+Inf",
                                   (unsigned long long)cum);
        }
        uint64_t ns = load(&m->latency_ns[e]);
        semid_serve_buf_printf(&b, "semid_request_duration_seconds_sum{endpoint=\"%s\"} %llu.%09llu\n",
                               endpoint_names[e], (unsigned long long)(ns / 1000000000u),
                               (unsigned long long)(ns % 1000000000u));
        semid_serve_buf_printf(&b, "semid_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", endpoint_names[e],
                               (unsigned long long)cum);
    }

    semid_serve_buf_puts(&b, "# HELP semid_batch_size Queries or histories per decode.\n"
                             "# TYPE semid_batch_size histogram\n");
    uint64_t cum = 0;
    for (int k = 0; k <= N_BATCH; k++) {
        cum += load(&m->batch[k]);
        if (k < N_BATCH)
            semid_serve_buf_printf(&b, "semid_batch_size_bucket{le=\"%lld\"} %llu\n", (long long)batch_le[k],
                                   (unsigned long long)cum);
        else
            semid_serve_buf_printf(&b, "semid_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    semid_serve_buf_printf(&b, "semid_batch_size_sum %llu\nsemid_batch_size_count %llu\n",
                           (unsigned long long)load(&m->batch_sum), (unsigned long long)cum);

    pthread_mutex_lock(&m->model_lock);
    if (m->version) {
        semid_serve_buf_puts(&b, "# HELP semid_model_info The bundle being served.\n"
                                 "# TYPE semid_model_info gauge\n"
                                 "semid_model_info{version=\"");
        put_label(&b, m->version);
        semid_serve_buf_puts(&b, "\",dir=\"");
        put_label(&b, m->dir);
        semid_serve_buf_puts(&b, "\"} 1\n");
    }
    pthread_mutex_unlock(&m->model_lock);

    semid_serve_buf_printf(&b,
                           "# HELP semid_model_reloads_total Bundle reloads, by result.\n"
                           "# TYPE semid_model_reloads_total counter\n"
                           "semid_model_reloads_total{result=\"ok\"} %llu\n"
                           "semid_model_reloads_total{result=\"error\"} %llu\n",
                           (unsigned long long)load(&m->reloads_ok), (unsigned long long)load(&m->reloads_failed));
    return semid_serve_buf_finish(&b);
}
