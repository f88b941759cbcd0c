#include "serve/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/model_ref.h"
#include "serve/page.h"
#include "serve/personalise.h"
#include "serve/request.h"
#include "serve/response.h"

enum { TYPEAHEAD_MAX_QUERY = 200, TYPEAHEAD_MAX_LIMIT = 100 };

struct semid_server {
    char *model_dir;
    semid_dense_source dense; /* its strings owned here */
    int has_dense;
    struct MHD_Daemon *daemon;
    semid_serve_slot slot;
    semid_serve_batcher *batcher;
    semid_serve_metrics *metrics;
    pthread_mutex_t reload_mu;
    uint64_t generation; /* under reload_mu */
    atomic_int in_flight;
    int port;
};

/* One request's state across libmicrohttpd's calls of the handler. */
typedef struct request_ctx {
    char *body;
    size_t len, cap;
    int too_large;
    double t0;
    semid_serve_endpoint endpoint;
    int status;
} request_ctx;

/* An answer: status, a malloc'd body (NULL: out of memory), its type. */
typedef struct answer {
    int status;
    char *body;
    const char *type;
    const char *allow; /* for 405 */
    int page;          /* the page (a static buffer, no body) */
} answer;

static const char JSON_TYPE[] = "application/json; charset=utf-8";

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

semid_serve_config semid_serve_defaults(void) {
    return (semid_serve_config){.host = "127.0.0.1",
                                .port = 8080,
                                .batch_wait_ms = 1.0,
                                .max_batch = 64,
                                .max_connections = 256,
                                .timeout_s = 30};
}

/* ---- answers ---- */

static answer client_error(int status, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static answer client_error(int status, const char *field, const char *fmt, ...) {
    semid_serve_error err;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    semid_serve_error_set(&err, status, field, "%s", msg);
    return (answer){.status = status, .body = semid_serve_error_json(&err), .type = JSON_TYPE};
}

static answer from_parse_error(const semid_serve_error *err) {
    return (answer){.status = err->http_status, .body = semid_serve_error_json(err), .type = JSON_TYPE};
}

/* A fault of the server (a failed decode, no memory): 500 with the message. */
static answer server_error(semid_status st) {
    SEMID_WARN("serve: %s: %s", semid_status_name(st), semid_last_error());
    return client_error(500, "", "%s", semid_last_error());
}

static answer method_not_allowed(const char *allow) {
    answer a = client_error(405, "", "method not allowed here (allowed: %s)", allow);
    a.allow = allow;
    return a;
}

/* ---- decoding requests ---- */

static semid_gen_decode_options decode_options(const semid_serve_request *r, int32_t k, int32_t beam) {
    semid_gen_decode_options o = semid_gen_decode_defaults();
    if (r->diverse) {
        o.beam = semid_beam_paper_diverse(k);
    } else {
        o.beam.k = k;
        o.beam.beam_size = beam > k ? beam : k;
    }
    o.diverse = r->diverse;
    o.expand_prefix = r->expand_prefix;
    if (r->kind == SEMID_SERVE_RECOMMEND) o.exclude_history = r->keep_history ? 0 : -1;
    return o;
}

static semid_serve_job make_job(semid_serve_model *m, const semid_serve_request *r, semid_serve_kind kind,
                                semid_gen_decode_options o) {
    semid_serve_job j = {.model = m, .kind = kind, .n = r->n_entries, .options = o};
    if (kind == SEMID_SERVE_SEARCH) {
        j.queries = (const char *const *)r->queries;
    } else {
        j.histories = (const int32_t *const *)r->histories;
        j.history_len = r->history_len;
    }
    return j;
}

static void free_job(semid_serve_job *j) {
    semid_beam_hits_free(&j->hits);
    free(j->n_unknown);
    j->n_unknown = NULL;
}

static semid_status run_job(semid_server *s, semid_serve_job *j) {
    SEMID_TRY(semid_serve_batcher_submit(s->batcher, j));
    return semid_serve_batcher_wait(s->batcher, j);
}

/* Search with a history on a model trained without the third task: each
 * query's search beam (with room for the history's items, which are left
 * out) re-scored by the history's rec beam (serve/personalise.h); the rows
 * of `out` are replaced. */
static semid_status personalised_search(semid_server *s, semid_serve_model *m, const semid_serve_request *r,
                                        semid_serve_job *search) {
    int64_t k_wide = (int64_t)r->k + r->n_history;
    if (k_wide > SEMID_SERVE_MAX_K + SEMID_SERVE_MAX_HISTORY) k_wide = SEMID_SERVE_MAX_K + SEMID_SERVE_MAX_HISTORY;
    if (k_wide > m->bundle->n_items) k_wide = m->bundle->n_items;
    if (k_wide < r->k) k_wide = r->k;
    semid_serve_request single = *r;
    single.kind = SEMID_SERVE_RECOMMEND;
    single.keep_history = 0;
    single.n_entries = 1;
    const int32_t *hist = r->history;
    int64_t hist_len = r->n_history;
    semid_serve_job rec = {.model = m,
                           .kind = SEMID_SERVE_RECOMMEND,
                           .n = 1,
                           .histories = &hist,
                           .history_len = &hist_len,
                           .options = decode_options(&single, r->beam, r->beam)};
    *search = make_job(m, r, SEMID_SERVE_SEARCH, decode_options(r, (int32_t)k_wide, r->beam));
    /* Both go in before either is waited for, so they can share a batch round. */
    semid_status st = semid_serve_batcher_submit(s->batcher, search);
    if (st != SEMID_OK) return st;
    semid_status st_rec = semid_serve_batcher_submit(s->batcher, &rec);
    st = semid_serve_batcher_wait(s->batcher, search);
    if (st_rec == SEMID_OK) {
        semid_status w = semid_serve_batcher_wait(s->batcher, &rec);
        if (st == SEMID_OK) st = w;
    } else if (st == SEMID_OK) {
        st = st_rec;
    }
    semid_beam_hits out = {0};
    if (st == SEMID_OK) st = semid_beam_hits_alloc(&out, search->n, r->k);
    for (int64_t q = 0; st == SEMID_OK && q < search->n; q++) {
        const semid_beam_hits *h = &search->hits;
        out.n_hits[q] = semid_serve_personalise(h->items + q * h->k, h->scores + q * h->k, h->n_hits[q], rec.hits.items,
                                                rec.hits.scores, rec.hits.n_hits[0], r->history, r->n_history,
                                                r->history_weight, r->k, out.items + q * r->k, out.scores + q * r->k);
        out.n_invalid[q] = h->n_invalid[q];
    }
    free_job(&rec);
    semid_beam_hits_free(&search->hits);
    if (st == SEMID_OK) search->hits = out;
    return st;
}

/* rerank: "dense" on the job's hits (gen/dense.h): hits replaced by the
 * hybrid ranking's top r->k. */
static semid_status rerank_dense(const semid_serve_model *m, const semid_serve_request *r, semid_serve_kind kind,
                                 semid_serve_job *job) {
    semid_hybrid_options ho = semid_hybrid_defaults();
    ho.weight = r->rerank_weight;
    ho.n_dense = r->dense_k;
    ho.k = r->k;
    if (kind == SEMID_SERVE_SEARCH)
        return semid_dense_rerank_search(m->dense, m->bundle, &ho, (const char *const *)r->queries, r->n_entries,
                                         &job->hits);
    return semid_dense_rerank_rec(m->dense, m->bundle, &ho, &job->options, (const int32_t *const *)r->histories,
                                  r->history_len, NULL, r->n_entries, &job->hits);
}

/* Why a rerank: "dense" request cannot be answered here (NULL: it can). */
static const char *rerank_refusal(const semid_serve_model *m, const semid_serve_request *r, semid_serve_kind kind) {
    if (!m->dense)
        return "this server has no dense index: start semid serve with --encoder ENC.safetensors, --content --dataset "
               "DS.sdd or --item-embeddings ITEMS.npy";
    if (kind == SEMID_SERVE_SEARCH && !semid_dense_has_encoder(m->dense))
        return "dense re-ranking of a search needs a query encoder: this server was started with --item-embeddings "
               "only (add --encoder or --content --dataset)";
    if (kind == SEMID_SERVE_SEARCH && r->history) return "rerank \"dense\" does not combine with a personalising history";
    return NULL;
}

/* Search with a history on a model trained for it: the history and each
 * query in one prompt (gen/examples.h), a single decode; *hists and
 * *lens (the request's history for every query) are the caller's to free. */
static semid_status prompt_search(semid_server *s, semid_serve_model *m, const semid_serve_request *r,
                                  semid_serve_job *job, const int32_t ***hists, int64_t **lens) {
    *job = make_job(m, r, SEMID_SERVE_SEARCH, decode_options(r, r->k, r->beam));
    *hists = malloc((size_t)r->n_entries * sizeof **hists);
    *lens = malloc((size_t)r->n_entries * sizeof **lens);
    if (!*hists || !*lens) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int64_t i = 0; i < r->n_entries; i++) {
        (*hists)[i] = r->history;
        (*lens)[i] = r->n_history;
    }
    job->histories = *hists;
    job->history_len = *lens;
    return run_job(s, job);
}

static answer decode_request(semid_server *s, semid_serve_kind kind, const request_ctx *rc) {
    semid_serve_model *m = semid_serve_slot_acquire(&s->slot);
    semid_serve_request r;
    semid_serve_error err;
    semid_status st =
        semid_serve_request_parse(kind, rc->body ? rc->body : "", rc->len, semid_serve_model_lookup, m, &r, &err);
    answer a;
    const char *refusal = st == SEMID_OK && r.rerank_dense ? rerank_refusal(m, &r, kind) : NULL;
    if (st == SEMID_EINVAL) {
        a = from_parse_error(&err);
    } else if (st != SEMID_OK) {
        a = server_error(st);
    } else if (refusal) {
        a = client_error(400, "rerank", "%s", refusal);
        semid_serve_request_free(&r);
    } else {
        semid_serve_job job;
        const int32_t **hists = NULL;
        int64_t *hist_lens = NULL;
        if (kind == SEMID_SERVE_SEARCH && r.history && m->bundle->personal) {
            st = prompt_search(s, m, &r, &job, &hists, &hist_lens);
        } else if (kind == SEMID_SERVE_SEARCH && r.history) {
            st = personalised_search(s, m, &r, &job);
        } else if (r.rerank_dense) {
            semid_gen_decode_options o = decode_options(&r, r.k, r.beam);
            job = make_job(m, &r, kind, semid_dense_decode_options(&o));
            st = run_job(s, &job);
            if (st == SEMID_OK) st = rerank_dense(m, &r, kind, &job);
        } else {
            job = make_job(m, &r, kind, decode_options(&r, r.k, r.beam));
            st = run_job(s, &job);
        }
        if (st == SEMID_OK) {
            semid_serve_hits hits = {.n = job.hits.n,
                                     .k = job.hits.k,
                                     .items = job.hits.items,
                                     .scores = job.hits.scores,
                                     .n_hits = job.hits.n_hits,
                                     .n_invalid = job.hits.n_invalid,
                                     .n_unknown = job.n_unknown};
            double took_ms = (now_seconds() - rc->t0) * 1e3;
            a = (answer){.status = 200,
                         .body = semid_serve_results_json(&m->catalog, kind, &hits, r.batch, m->version, took_ms),
                         .type = JSON_TYPE};
        } else {
            a = server_error(st);
        }
        free_job(&job);
        free(hists);
        free(hist_lens);
        semid_serve_request_free(&r);
    }
    semid_serve_model_release(m);
    return a;
}

/* ---- other endpoints ---- */

static answer item_detail(semid_server *s, const char *id) {
    semid_serve_model *m = semid_serve_slot_acquire(&s->slot);
    int32_t item = semid_serve_model_lookup(id, m);
    answer a = item < 0 ? client_error(404, "id", "unknown item '%.100s'", id)
                        : (answer){.status = 200, .body = semid_serve_item_json(&m->catalog, item), .type = JSON_TYPE};
    semid_serve_model_release(m);
    return a;
}

static answer typeahead(semid_server *s, struct MHD_Connection *c) {
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
    const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    if (!q) q = "";
    if (strlen(q) > TYPEAHEAD_MAX_QUERY) return client_error(400, "q", "q is longer than %d bytes", TYPEAHEAD_MAX_QUERY);
    if (!semid_serve_utf8_valid(q, strlen(q))) return client_error(400, "q", "q is not valid UTF-8");
    int limit = 10;
    if (lim) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (!lim[0] || *end || v < 1 || v > TYPEAHEAD_MAX_LIMIT)
            return client_error(400, "limit", "limit must be an integer in 1..%d", TYPEAHEAD_MAX_LIMIT);
        limit = (int)v;
    }
    semid_serve_model *m = semid_serve_slot_acquire(&s->slot);
    int32_t idx[TYPEAHEAD_MAX_LIMIT];
    int32_t n = semid_serve_typeahead(m->catalog.titles, m->catalog.popularity, m->catalog.n_items, q, limit, idx);
    answer a = {.status = 200, .body = semid_serve_typeahead_json(&m->catalog, idx, n), .type = JSON_TYPE};
    semid_serve_model_release(m);
    return a;
}

static answer health(semid_server *s) {
    semid_serve_model *m = semid_serve_slot_acquire(&s->slot);
    answer a = {.status = 200, .body = semid_serve_health_json(m->version, m->bundle->n_items), .type = JSON_TYPE};
    semid_serve_model_release(m);
    return a;
}

static answer reload(semid_server *s) {
    semid_status st = semid_server_reload(s);
    if (st != SEMID_OK) return client_error(500, "", "reload failed, the previous model keeps serving: %s", semid_last_error());
    char version[64];
    semid_server_model_version(s, version, sizeof version);
    semid_serve_buf b = {0};
    semid_serve_buf_puts(&b, "{\"model_version\":");
    semid_serve_buf_json_string(&b, version);
    semid_serve_buf_puts(&b, "}");
    return (answer){.status = 200, .body = semid_serve_buf_finish(&b), .type = JSON_TYPE};
}

static int is_get(const char *method) { return !strcmp(method, "GET") || !strcmp(method, "HEAD"); }

static answer route(semid_server *s, struct MHD_Connection *c, const char *url, const char *method,
                    const request_ctx *rc) {
    static const char items_prefix[] = "/v1/items/";
    if (rc->too_large)
        return client_error(413, "", "the body is larger than %d bytes", (int)SEMID_SERVE_MAX_BODY);
    if (!strcmp(url, "/v1/search") || !strcmp(url, "/v1/recommend")) {
        if (strcmp(method, "POST") != 0) return method_not_allowed("POST");
        return decode_request(s, url[4] == 's' ? SEMID_SERVE_SEARCH : SEMID_SERVE_RECOMMEND, rc);
    }
    if (!strcmp(url, "/v1/admin/reload")) return strcmp(method, "POST") ? method_not_allowed("POST") : reload(s);
    int known_get = !strcmp(url, "/") || !strcmp(url, "/index.html") || !strcmp(url, "/healthz") ||
                    !strcmp(url, "/metrics") || !strcmp(url, "/v1/items") ||
                    (!strncmp(url, items_prefix, sizeof items_prefix - 1) && url[sizeof items_prefix - 1]);
    if (!known_get) return client_error(404, "", "no such endpoint: %.100s (see docs/serve.md)", url);
    if (!is_get(method)) return method_not_allowed("GET, HEAD");
    if (!strcmp(url, "/healthz")) return health(s);
    if (!strcmp(url, "/metrics"))
        return (answer){.status = 200,
                        .body = semid_serve_metrics_render(s->metrics),
                        .type = "text/plain; version=0.0.4; charset=utf-8"};
    if (!strcmp(url, "/v1/items")) return typeahead(s, c);
    if (url[1] == 'v') return item_detail(s, url + sizeof items_prefix - 1);
    return (answer){.status = 200, .type = "text/html; charset=utf-8", .page = 1};
}

/* ---- libmicrohttpd glue ---- */

static enum MHD_Result send_answer(struct MHD_Connection *c, request_ctx *rc, answer a) {
    struct MHD_Response *resp;
    if (a.page) {
        resp = MHD_create_response_from_buffer(semid_serve_page_html_len, (void *)semid_serve_page_html,
                                               MHD_RESPMEM_PERSISTENT);
    } else if (!a.body) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\"}}";
        a.status = 500;
        a.type = JSON_TYPE;
        resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(strlen(a.body), a.body, MHD_RESPMEM_MUST_FREE);
        if (!resp) free(a.body);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a.type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (a.allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a.allow);
    rc->status = a.status;
    enum MHD_Result r = MHD_queue_response(c, (unsigned int)a.status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    semid_server *s = cls;
    request_ctx *rc = *con_cls;
    if (!rc) { /* the headers are in: the body (if any) comes next */
        rc = calloc(1, sizeof *rc);
        if (!rc) return MHD_NO;
        rc->t0 = now_seconds();
        rc->endpoint = semid_serve_endpoint_of(url);
        rc->status = 500;
        atomic_fetch_add(&s->in_flight, 1);
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body: kept up to the limit, the rest read and dropped */
        size_t n = *upload_size;
        *upload_size = 0;
        if (rc->too_large || rc->len + n > SEMID_SERVE_MAX_BODY) {
            rc->too_large = 1;
            free(rc->body);
            rc->body = NULL;
            rc->len = rc->cap = 0;
            return MHD_YES;
        }
        if (rc->len + n > rc->cap) {
            size_t cap = rc->cap ? rc->cap : 4096;
            while (cap < rc->len + n) cap *= 2;
            char *grown = realloc(rc->body, cap);
            if (!grown) return MHD_NO;
            rc->body = grown;
            rc->cap = cap;
        }
        memcpy(rc->body + rc->len, upload, n);
        rc->len += n;
        return MHD_YES;
    }
    return send_answer(c, rc, route(s, c, url, method, rc));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)c;
    (void)toe;
    semid_server *s = cls;
    request_ctx *rc = *con_cls;
    if (!rc) return;
    semid_serve_metrics_request(s->metrics, rc->endpoint, rc->status, now_seconds() - rc->t0);
    free(rc->body);
    free(rc);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    SEMID_DEBUG("serve: libmicrohttpd: %s", msg);
}

/* ---- the server ---- */

static semid_status resolve_host(const char *host, int port, struct sockaddr_storage *addr, int *ipv6) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) return semid_fail(SEMID_EINVAL, "--host %s: %s", host, gai_strerror(rc));
    memset(addr, 0, sizeof *addr);
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    if (*ipv6) ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return SEMID_OK;
}

static semid_status check_config(const semid_serve_config *cfg) {
    if (!cfg->model_dir || !cfg->model_dir[0]) return semid_fail(SEMID_EINVAL, "serve: no model directory given");
    if (cfg->port < 0 || cfg->port > 65535) return semid_fail(SEMID_EINVAL, "--port %d: must be in 0..65535", cfg->port);
    if (cfg->threads < 0 || cfg->threads > 256) return semid_fail(SEMID_EINVAL, "--threads %d: must be in 0..256", cfg->threads);
    if (cfg->max_connections < 1 || cfg->max_connections > 4096)
        return semid_fail(SEMID_EINVAL, "--max-connections %d: must be in 1..4096", cfg->max_connections);
    if (cfg->timeout_s < 1 || cfg->timeout_s > 3600)
        return semid_fail(SEMID_EINVAL, "--timeout %d: must be in 1..3600 seconds", cfg->timeout_s);
    return SEMID_OK;
}

/* Stops what runs (the daemon first: no request may reach the batcher
 * after it stops) and frees the server. */
static void server_free(semid_server *s) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    if (s->batcher) semid_serve_batcher_stop(s->batcher);
    semid_serve_slot_destroy(&s->slot);
    semid_serve_metrics_free(s->metrics);
    pthread_mutex_destroy(&s->reload_mu);
    free(s->model_dir);
    free((char *)s->dense.encoder), free((char *)s->dense.dataset), free((char *)s->dense.glove);
    free((char *)s->dense.item_embeddings);
    free(s);
}

/* Keeps the server's own copy of the dense index's source (a reload opens it again). */
static semid_status copy_dense_source(const semid_dense_source *src, semid_server *s) {
    const char *in[4] = {src->encoder, src->dataset, src->glove, src->item_embeddings};
    const char **dst[4] = {&s->dense.encoder, &s->dense.dataset, &s->dense.glove, &s->dense.item_embeddings};
    for (int i = 0; i < 4; i++)
        if (in[i] && !(*dst[i] = semid_strdup(in[i]))) return semid_fail(SEMID_ENOMEM, "out of memory");
    s->dense.content = src->content;
    s->has_dense = src->encoder || src->content || src->item_embeddings;
    return SEMID_OK;
}

static const semid_dense_source *dense_source(const semid_server *s) { return s->has_dense ? &s->dense : NULL; }

semid_status semid_server_start(const semid_serve_config *cfg, semid_server **out) {
    *out = NULL;
    SEMID_TRY(check_config(cfg));
    struct sockaddr_storage addr;
    int ipv6 = 0;
    SEMID_TRY(resolve_host(cfg->host ? cfg->host : "127.0.0.1", cfg->port, &addr, &ipv6));
    semid_server *s = calloc(1, sizeof *s);
    if (!s) return semid_fail(SEMID_ENOMEM, "out of memory");
    pthread_mutex_init(&s->reload_mu, NULL);
    atomic_init(&s->in_flight, 0);
    s->model_dir = semid_strdup(cfg->model_dir);
    s->metrics = semid_serve_metrics_new();
    semid_status st = s->model_dir && s->metrics ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = copy_dense_source(&cfg->dense, s);
    semid_serve_model *m = NULL;
    if (st == SEMID_OK) st = semid_serve_model_load(cfg->model_dir, dense_source(s), ++s->generation, &m);
    semid_serve_slot_init(&s->slot, m);
    if (st == SEMID_OK) st = semid_serve_metrics_set_model(s->metrics, m->version, cfg->model_dir);
    if (st == SEMID_OK)
        st = semid_serve_batcher_start(cfg->threads, cfg->batch_wait_ms, cfg->max_batch, s->metrics, &s->batcher);
    if (st == SEMID_OK) {
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                         MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);
        s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                     (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned)cfg->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_THREAD_STACK_SIZE,
                                     (size_t)(1 << 20), MHD_OPTION_END);
        if (!s->daemon)
            st = semid_fail(SEMID_EIO, "cannot listen on %s port %d (in use, or not an address of this machine?)",
                            cfg->host ? cfg->host : "127.0.0.1", cfg->port);
    }
    if (st == SEMID_OK) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : cfg->port;
    }
    if (st != SEMID_OK) {
        server_free(s);
        return st;
    }
    *out = s;
    return SEMID_OK;
}

int semid_server_port(const semid_server *s) { return s->port; }

int semid_server_in_flight(semid_server *s) { return atomic_load(&s->in_flight); }

void semid_server_model_version(semid_server *s, char *buf, unsigned long cap) {
    semid_serve_model *m = semid_serve_slot_acquire(&s->slot);
    snprintf(buf, cap, "%s", m ? m->version : "");
    semid_serve_model_release(m);
}

semid_status semid_server_reload(semid_server *s) {
    pthread_mutex_lock(&s->reload_mu);
    semid_serve_model *m = NULL;
    semid_status st = semid_serve_model_load(s->model_dir, dense_source(s), ++s->generation, &m);
    if (st == SEMID_OK) {
        semid_serve_slot_swap(&s->slot, m);
        if (semid_serve_metrics_set_model(s->metrics, m->version, s->model_dir) != SEMID_OK) semid_clear_error();
        SEMID_INFO("serve: reloaded %s (model %s)", s->model_dir, m->version);
    }
    semid_serve_metrics_reload(s->metrics, st == SEMID_OK);
    pthread_mutex_unlock(&s->reload_mu);
    return st;
}

int semid_server_stop(semid_server *s, double drain_s) {
    if (!s) return 0;
    MHD_quiesce_daemon(s->daemon); /* no new connections; open ones finish their requests */
    double until = now_seconds() + (drain_s > 0 ? drain_s : 0);
    while (atomic_load(&s->in_flight) > 0 && now_seconds() < until) {
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    int left = atomic_load(&s->in_flight);
    server_free(s);
    return left;
}
