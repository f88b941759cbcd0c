/* A small load generator for `semid serve` (docs/serve.md): N connections,
 * one thread each, HTTP/1.1 keep-alive over plain sockets, each sending its
 * next request as soon as the last one is answered (closed loop). Loopback
 * only: any host that is not 127.0.0.0/8, ::1 or localhost is refused.
 *
 *   bench_serve_load --port P --queries FILE [--host 127.0.0.1] [--connections 1]
 *                    [--requests 1000] [--seconds 30] [--kind search|recommend]
 *                    [--k 30] [--beam 30] [--warmup 0]
 *
 * --queries FILE: one request a line, used in turn: a search query (search),
 * or comma-separated item ids, oldest first (recommend). The run stops at
 * --requests answers or after --seconds, whichever comes first; --warmup
 * requests are sent first (one connection) and not counted.
 *
 * Prints the figures, then one line "RESULT kind=... connections=... ok=...
 * errors=... seconds=... qps=... p50_ms=... p90_ms=... p99_ms=... max_ms=..."
 * for scripts (bench/run_serve_load.sh). An error is an answer other than
 * 200 or a connection that failed; the connection is then opened again. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct opts {
    const char *host, *queries, *kind;
    int port, connections, k, beam, warmup;
    long requests;
    double seconds;
} opts;

typedef struct shared {
    const opts *o;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char **bodies; /* (n_bodies) JSON request bodies */
    size_t *body_len;
    long n_bodies;
    const char *path;
    atomic_long next;   /* requests handed out */
    double t_end;       /* monotonic deadline */
    double *lat_ms;     /* (requests) latency of each answered request, by ticket */
    atomic_long ok, errors;
    atomic_int stop;
} shared;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_serve_load --port P --queries FILE [--host 127.0.0.1] [--connections 1] "
                    "[--requests 1000] [--seconds 30] [--kind search|recommend] [--k 30] [--beam 30] [--warmup 0]\n");
    exit(2);
}

/* ---- loopback only ---- */

static int is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return (a >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(a)) return a->s6_addr[12] == 127;
    }
    return 0;
}

/* Resolves host numerically (or "localhost") and refuses anything that is
 * not a loopback address: this tool must not load someone else's server. */
static int resolve_loopback(const char *host, int port, struct sockaddr_storage *out, socklen_t *out_len) {
    const char *name = host;
    if (strcasecmp(host, "localhost") == 0) name = "127.0.0.1";
    char h[256];
    size_t hl = strlen(name);
    if (hl >= sizeof h) return -1;
    memcpy(h, name, hl + 1);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') { /* [::1] */
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(h, ps, &hints, &res) != 0 || !res) {
        fprintf(stderr, "bench_serve_load: host '%s' is not 127.0.0.0/8, ::1 or localhost: refused (loopback only)\n",
                host);
        return -1;
    }
    int ok = is_loopback(res->ai_addr);
    if (ok) {
        memcpy(out, res->ai_addr, res->ai_addrlen);
        *out_len = res->ai_addrlen;
    } else {
        fprintf(stderr, "bench_serve_load: host '%s' is not a loopback address: refused (loopback only)\n", host);
    }
    freeaddrinfo(res);
    return ok ? 0 : -1;
}

/* ---- request bodies ---- */

static void json_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* One body per non-empty line of the file. */
static int load_bodies(shared *sh, const opts *o, int recommend) {
    FILE *in = fopen(o->queries, "r");
    if (!in) {
        fprintf(stderr, "bench_serve_load: %s: %s\n", o->queries, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long have = 0, room = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        char *body = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&body, &blen);
        if (!f) return -1;
        if (recommend) {
            fputs("{\"history\":[", f);
            int first = 1;
            for (char *save = NULL, *id = strtok_r(line, ", \t", &save); id; id = strtok_r(NULL, ", \t", &save)) {
                if (!first) fputc(',', f);
                json_string(f, id, strlen(id));
                first = 0;
            }
            fputc(']', f);
        } else {
            fputs("{\"query\":", f);
            json_string(f, line, (size_t)n);
        }
        fprintf(f, ",\"k\":%d,\"beam\":%d}", o->k, o->beam);
        fclose(f);
        if (have == room) {
            room = room ? 2 * room : 256;
            sh->bodies = realloc(sh->bodies, (size_t)room * sizeof *sh->bodies);
            sh->body_len = realloc(sh->body_len, (size_t)room * sizeof *sh->body_len);
            if (!sh->bodies || !sh->body_len) return -1;
        }
        sh->bodies[have] = body;
        sh->body_len[have++] = blen;
    }
    free(line);
    fclose(in);
    if (have == 0) {
        fprintf(stderr, "bench_serve_load: %s has no request lines\n", o->queries);
        return -1;
    }
    sh->n_bodies = have;
    return 0;
}

/* ---- one keep-alive connection ---- */

typedef struct conn {
    int fd;
    char *buf; /* received bytes not consumed yet */
    size_t len, cap;
} conn;

static int conn_open(conn *c, const shared *sh) {
    c->fd = socket(sh->addr.ss_family, SOCK_STREAM, 0);
    if (c->fd < 0) return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 30};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (const struct sockaddr *)&sh->addr, sh->addr_len) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->len = 0;
    return 0;
}

static void conn_close(conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Reads more bytes into c->buf; -1 on EOF or error. */
static int conn_fill(conn *c) {
    if (c->cap - c->len < 4096) {
        size_t nc = c->cap ? 2 * c->cap : 65536;
        char *nb = realloc(c->buf, nc);
        if (!nb) return -1;
        c->buf = nb;
        c->cap = nc;
    }
    ssize_t got = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (got <= 0) return -1;
    c->len += (size_t)got;
    c->buf[c->len] = '\0';
    return 0;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The value of header `name` in the header block [h, end) (end at its
 * blank line), or NULL. */
static const char *header(const char *h, const char *end, const char *name) {
    size_t nl = strlen(name);
    for (const char *l = strstr(h, "\r\n"); l && l < end; l = strstr(l, "\r\n")) {
        l += 2; /* the next line; the first one, the status line, is skipped */
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            return v;
        }
    }
    return NULL;
}

/* Sends one request and reads its answer; returns the HTTP status, or -1
 * when the connection failed (it is then closed). */
static int roundtrip(conn *c, const shared *sh, const char *body, size_t blen) {
    /* head and body in one send: one segment for a small request */
    char stack[4096], *req = stack;
    size_t cap = sizeof stack;
    int hn;
    for (;;) {
        hn = snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      sh->path, sh->o->host, sh->o->port, blen);
        if (hn > 0 && (size_t)hn + blen <= cap) break;
        if (req != stack) free(req);
        cap = (size_t)(hn > 0 ? hn : 512) + blen + 1;
        if (!(req = malloc(cap))) goto broken;
    }
    memcpy(req + hn, body, blen);
    int sent = send_all(c->fd, req, (size_t)hn + blen);
    if (req != stack) free(req);
    if (sent != 0) goto broken;
    char *end;
    while (!(c->buf && (end = strstr(c->buf, "\r\n\r\n")) != NULL))
        if (conn_fill(c) != 0) goto broken;
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) goto broken;
    size_t head_len = (size_t)(end + 4 - c->buf);
    const char *cl = header(c->buf, end, "Content-Length"), *te = header(c->buf, end, "Transfer-Encoding");
    const char *cn = header(c->buf, end, "Connection");
    int must_close = cn && strncasecmp(cn, "close", 5) == 0;
    size_t total;
    if (te && strncasecmp(te, "chunked", 7) == 0) {
        /* chunked: read until the last chunk and its empty trailer */
        size_t pos = head_len;
        for (;;) {
            char *nl;
            while (!(nl = strstr(c->buf + pos, "\r\n")))
                if (conn_fill(c) != 0) goto broken;
            size_t sz = strtoul(c->buf + pos, NULL, 16);
            size_t need = (size_t)(nl + 2 - c->buf) + sz + 2;
            while (c->len < need)
                if (conn_fill(c) != 0) goto broken;
            pos = need;
            if (sz == 0) break;
        }
        total = pos;
    } else if (cl) {
        total = head_len + strtoul(cl, NULL, 10);
        while (c->len < total)
            if (conn_fill(c) != 0) goto broken;
    } else {
        goto broken; /* no length: not what semid serve sends */
    }
    memmove(c->buf, c->buf + total, c->len - total);
    c->len -= total;
    c->buf[c->len] = '\0';
    if (must_close) conn_close(c);
    return status;
broken:
    conn_close(c);
    return -1;
}

/* ---- the workers ---- */

typedef struct worker {
    shared *sh;
    int warmup; /* requests to send first, not counted */
} worker;

static void *run_worker(void *arg) {
    worker *w = arg;
    shared *sh = w->sh;
    conn c = {.fd = -1};
    for (int i = 0; i < w->warmup; i++) {
        if (c.fd < 0 && conn_open(&c, sh) != 0) break;
        roundtrip(&c, sh, sh->bodies[i % sh->n_bodies], sh->body_len[i % sh->n_bodies]);
    }
    if (w->warmup) {
        conn_close(&c);
        free(c.buf);
        return NULL;
    }
    while (!atomic_load(&sh->stop)) {
        long t = atomic_fetch_add(&sh->next, 1);
        if (t >= sh->o->requests) break;
        if (now_s() >= sh->t_end) {
            sh->lat_ms[t] = -1; /* handed out, never sent */
            break;
        }
        long q = t % sh->n_bodies;
        double t0 = now_s();
        int status = -1;
        if (c.fd >= 0 || conn_open(&c, sh) == 0) status = roundtrip(&c, sh, sh->bodies[q], sh->body_len[q]);
        double dt = now_s() - t0;
        sh->lat_ms[t] = -1;
        if (status == 200) {
            sh->lat_ms[t] = 1e3 * dt;
            atomic_fetch_add(&sh->ok, 1);
        } else {
            long e = atomic_fetch_add(&sh->errors, 1);
            if (e < 5) fprintf(stderr, "bench_serve_load: request %ld: %s %d\n", t, status < 0 ? "connection failed" : "HTTP", status);
            if (status < 0) usleep(10000); /* a refused connection must not spin */
        }
    }
    conn_close(&c);
    free(c.buf);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv) {
    opts o = {.host = "127.0.0.1", .kind = "search", .port = 0, .connections = 1, .k = 30, .beam = 30,
              .requests = 1000, .seconds = 30};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) usage();
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0) o.host = v;
        else if (strcmp(a, "--port") == 0) o.port = atoi(v);
        else if (strcmp(a, "--connections") == 0) o.connections = atoi(v);
        else if (strcmp(a, "--requests") == 0) o.requests = atol(v);
        else if (strcmp(a, "--seconds") == 0) o.seconds = atof(v);
        else if (strcmp(a, "--kind") == 0) o.kind = v;
        else if (strcmp(a, "--queries") == 0) o.queries = v;
        else if (strcmp(a, "--k") == 0) o.k = atoi(v);
        else if (strcmp(a, "--beam") == 0) o.beam = atoi(v);
        else if (strcmp(a, "--warmup") == 0) o.warmup = atoi(v);
        else {
            fprintf(stderr, "bench_serve_load: unknown option %s\n", a);
            usage();
        }
    }
    int recommend = strcmp(o.kind, "recommend") == 0;
    if (!recommend && strcmp(o.kind, "search") != 0) {
        fprintf(stderr, "bench_serve_load: --kind must be search or recommend\n");
        return 2;
    }
    if (o.port < 1 || o.port > 65535 || !o.queries || o.connections < 1 || o.connections > 1024 || o.requests < 1 ||
        o.requests > 100000000L || !(o.seconds > 0) || o.seconds > 86400 || o.k < 1 || o.beam < 1 || o.warmup < 0) {
        fprintf(stderr, "bench_serve_load: need --port 1..65535, --queries FILE, --connections 1..1024, "
                        "--requests 1..1e8, --seconds in (0, 86400], k, beam >= 1\n");
        return 2;
    }
    shared sh = {.o = &o, .path = recommend ? "/v1/recommend" : "/v1/search"};
    if (resolve_loopback(o.host, o.port, &sh.addr, &sh.addr_len) != 0) return 2;
    if (load_bodies(&sh, &o, recommend) != 0) return 1;
    sh.lat_ms = malloc((size_t)o.requests * sizeof *sh.lat_ms);
    worker *ws = calloc((size_t)o.connections, sizeof *ws);
    pthread_t *th = calloc((size_t)o.connections, sizeof *th);
    if (!sh.lat_ms || !ws || !th) {
        fprintf(stderr, "bench_serve_load: out of memory\n");
        return 1;
    }
    if (o.warmup) {
        worker w = {.sh = &sh, .warmup = o.warmup};
        run_worker(&w);
    }
    double t0 = now_s();
    sh.t_end = t0 + o.seconds;
    for (int i = 0; i < o.connections; i++) {
        ws[i].sh = &sh;
        if (pthread_create(&th[i], NULL, run_worker, &ws[i]) != 0) {
            fprintf(stderr, "bench_serve_load: cannot start thread %d\n", i);
            atomic_store(&sh.stop, 1);
            o.connections = i;
            break;
        }
    }
    for (int i = 0; i < o.connections; i++) pthread_join(th[i], NULL);
    double elapsed = now_s() - t0;

    long issued = atomic_load(&sh.next);
    if (issued > o.requests) issued = o.requests;
    long n_ok = 0;
    for (long t = 0; t < issued; t++)
        if (sh.lat_ms[t] >= 0) sh.lat_ms[n_ok++] = sh.lat_ms[t];
    qsort(sh.lat_ms, (size_t)n_ok, sizeof *sh.lat_ms, cmp_double);
    double sum = 0;
    for (long i = 0; i < n_ok; i++) sum += sh.lat_ms[i];
    long errors = atomic_load(&sh.errors);
    double qps = elapsed > 0 ? (double)n_ok / elapsed : 0;
    printf("%s, %d connection%s, k %d, beam %d: %ld answered, %ld errors in %.2f s\n", o.kind, o.connections,
           o.connections > 1 ? "s" : "", o.k, o.beam, n_ok, errors, elapsed);
    printf("  %.1f requests/s; latency ms: mean %.2f, p50 %.2f, p90 %.2f, p99 %.2f, max %.2f\n", qps,
           n_ok ? sum / (double)n_ok : 0, pct(sh.lat_ms, n_ok, 50), pct(sh.lat_ms, n_ok, 90), pct(sh.lat_ms, n_ok, 99),
           n_ok ? sh.lat_ms[n_ok - 1] : 0);
    printf("RESULT kind=%s connections=%d k=%d beam=%d ok=%ld errors=%ld seconds=%.3f qps=%.2f p50_ms=%.3f "
           "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           o.kind, o.connections, o.k, o.beam, n_ok, errors, elapsed, qps, pct(sh.lat_ms, n_ok, 50),
           pct(sh.lat_ms, n_ok, 90), pct(sh.lat_ms, n_ok, 99), n_ok ? sh.lat_ms[n_ok - 1] : 0);
    for (long i = 0; i < sh.n_bodies; i++) free(sh.bodies[i]);
    free(sh.bodies);
    free(sh.body_len);
    free(sh.lat_ms);
    free(ws);
    free(th);
    return errors ? 3 : 0;
}
