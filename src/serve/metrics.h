/* The serve API's /metrics (docs/serve.md): thread-safe counters and
 * histograms rendered in the Prometheus text exposition format (0.0.4).
 *
 *   semid_requests_total{endpoint,code}            counter, series that are 0 left out
 *   semid_errors_total                             counter: answers with a 5xx status
 *   semid_request_duration_seconds{endpoint}       histogram, every endpoint (le 0.001 .. 2.5, +Inf)
 *   semid_batch_size                               histogram of queries per decode (le 1 .. 256, +Inf)
 *   semid_model_info{version,dir}                  gauge 1 (left out until semid_serve_metrics_set_model)
 *   semid_model_reloads_total{result="ok"|"error"} counter
 *
 * Updates are lock-free (C11 atomics, relaxed); the model info is under a
 * mutex. A render reads each histogram's buckets once, so its buckets are
 * cumulative and its _count equals its +Inf bucket even while updates run. */
#ifndef SEMID_SERVE_METRICS_H
#define SEMID_SERVE_METRICS_H

#include <stdint.h>

#include "semid/semid.h"

typedef enum semid_serve_endpoint {
    SEMID_SERVE_EP_SEARCH = 0, /* POST /v1/search */
    SEMID_SERVE_EP_RECOMMEND,  /* POST /v1/recommend */
    SEMID_SERVE_EP_ITEMS,      /* GET /v1/items, /v1/items/{id} */
    SEMID_SERVE_EP_HEALTHZ,    /* GET /healthz */
    SEMID_SERVE_EP_METRICS,    /* GET /metrics */
    SEMID_SERVE_EP_ADMIN,      /* /v1/admin/... */
    SEMID_SERVE_EP_PAGE,       /* GET / (the page and its assets) */
    SEMID_SERVE_EP_OTHER,      /* anything else (404s) */
    SEMID_SERVE_EP_COUNT
} semid_serve_endpoint;

/* The label value ("search", "recommend", ...; "other" for out-of-range values). */
const char *semid_serve_endpoint_name(semid_serve_endpoint ep);
/* The endpoint of a URL path (no query string): "/v1/search" -> SEARCH,
 * "/v1/items" and "/v1/items/..." -> ITEMS, "/v1/admin/..." -> ADMIN,
 * "/" and "/index.html" -> PAGE, unknown -> OTHER. */
semid_serve_endpoint semid_serve_endpoint_of(const char *path);

typedef struct semid_serve_metrics semid_serve_metrics;

/* NULL on allocation failure. */
semid_serve_metrics *semid_serve_metrics_new(void);
void semid_serve_metrics_free(semid_serve_metrics *m);

/* One answered request: its endpoint, HTTP status (outside 100..599 counts
 * as 500) and duration in seconds (negative or NaN counts as 0). A 5xx
 * status also counts in semid_errors_total. */
void semid_serve_metrics_request(semid_serve_metrics *m, semid_serve_endpoint ep, int http_code, double seconds);
/* One decode of `size` queries or histories (values below 1 count as 1). */
void semid_serve_metrics_batch(semid_serve_metrics *m, int64_t size);
/* One reload (SIGHUP or POST /v1/admin/reload): ok != 0 if it swapped in. */
void semid_serve_metrics_reload(semid_serve_metrics *m, int ok);
/* Sets semid_model_info's labels (copied; NULL = ""). SEMID_ENOMEM leaves
 * the previous ones. */
semid_status semid_serve_metrics_set_model(semid_serve_metrics *m, const char *version, const char *dir);

/* The exposition text, malloc'd (the caller frees), or NULL on allocation
 * failure. */
char *semid_serve_metrics_render(semid_serve_metrics *m);

/* A label value escaped per the exposition format (backslash, double
 * quote, newline; invalid UTF-8 becomes U+FFFD), malloc'd, or NULL on
 * allocation failure. */
char *semid_serve_metrics_escape_label(const char *value);

#endif
