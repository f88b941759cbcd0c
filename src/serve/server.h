/* The HTTP service over a trained bundle (docs/serve.md), on GNU
 * libmicrohttpd: one thread per connection (bounded in number, with a
 * timeout for stalled clients) parses and validates a request
 * (serve/request.h), submits it to the batcher (serve/batcher.h), which
 * coalesces concurrent requests into one decode on the shared bundle, and
 * answers JSON (serve/response.h). The bundle sits in a reference-counted
 * slot: a reload swaps a new one in while requests in flight finish on the
 * old one. Library code: no signals, no exit; the CLI (cli/cmd_serve.c)
 * turns SIGHUP and SIGTERM into reload and stop. */
#ifndef SEMID_SERVE_SERVER_H
#define SEMID_SERVE_SERVER_H

#include "gen/dense.h"
#include "semid/semid.h"

typedef struct semid_serve_config {
    const char *model_dir;  /* required */
    const char *host;       /* address to listen on (default "127.0.0.1") */
    int port;               /* default 8080; 0 = any free port (semid_server_port tells) */
    int threads;            /* decode threads (0 = the starting thread's semid_get_threads()) */
    double batch_wait_ms;   /* how long a request may wait for others to join its decode (default 1) */
    int max_batch;          /* entries decoded together at most (default 64) */
    int max_connections;    /* default 256 */
    int timeout_s;          /* idle connections are closed after this (default 30) */
    semid_dense_source dense; /* the dense index of rerank: "dense" requests (gen/dense.h); all
                                 NULL/0 (the default) = none, and such requests are 400s */
} semid_serve_config;

semid_serve_config semid_serve_defaults(void);

typedef struct semid_server semid_server;

/* Loads the bundle and starts listening. */
semid_status semid_server_start(const semid_serve_config *cfg, semid_server **out);
/* The port it listens on. */
int semid_server_port(const semid_server *s);
/* The current model's version string (copied into buf). */
void semid_server_model_version(semid_server *s, char *buf, unsigned long cap);
/* Requests being answered now. */
int semid_server_in_flight(semid_server *s);
/* Loads the bundle again from its directory and swaps it in; on failure the
 * old one keeps serving and the error is returned. */
semid_status semid_server_reload(semid_server *s);
/* Stops accepting connections, waits up to drain_s seconds for requests in
 * flight, then closes everything and frees the server. Returns the number
 * of requests that were still running at the deadline (0: a clean drain). */
int semid_server_stop(semid_server *s, double drain_s);

#endif
