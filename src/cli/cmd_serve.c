/* semid serve: a trained bundle as an HTTP service with a page
 * (docs/serve.md, serve/server.h). The process's signals are the CLI's
 * business: SIGHUP reloads the bundle, SIGTERM and SIGINT drain the
 * requests in flight and exit 0. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/status.h"
#include "cli/cli.h"
#include "cli/cli_dense.h"
#include "serve/server.h"

int cmd_serve(int argc, char **argv) {
    semid_serve_config cfg = semid_serve_defaults();
    const char *model = NULL, *host = cfg.host;
    int port = cfg.port, threads = 0, max_batch = cfg.max_batch, max_conn = cfg.max_connections,
        timeout = cfg.timeout_s;
    double wait_ms = cfg.batch_wait_ms, drain = 30;
    cli_dense_args dense = cli_dense_args_default();
    cli_option opts[9 + CLI_DENSE_N_SOURCE_OPTIONS] = {
        {"model", CLI_STRING, &model, "model directory (from semid train)"},
        {"host", CLI_STRING, &host, "address to listen on (0.0.0.0 or :: for every interface)"},
        {"port", CLI_INT, &port, "port (0 = any free port)"},
        {"threads", CLI_INT, &threads, "decode threads (0 = all cores)"},
        {"batch-wait-ms", CLI_DOUBLE, &wait_ms, "how long a request may wait for others to share its decode"},
        {"max-batch", CLI_INT, &max_batch, "queries or histories decoded together at most"},
        {"max-connections", CLI_INT, &max_conn, "open connections at most"},
        {"timeout", CLI_INT, &timeout, "seconds before an idle or stalled connection is closed"},
        {"drain", CLI_DOUBLE, &drain, "on SIGTERM, seconds to let requests in flight finish"},
    };
    cli_dense_source_options(&dense, opts + 9); /* the index of rerank: "dense" requests */
    int n_pos = 0;
    int r = cli_parse(argc, argv, 1, opts, (int)(sizeof opts / sizeof opts[0]),
                      "usage: semid serve --model MODEL_DIR [--port 8080] [--host 127.0.0.1] [--threads N]\n"
                      "       [--encoder ENC.safetensors | --content --dataset DS.sdd] [--item-embeddings ITEMS.npy]",
                      NULL, 0,
                      &n_pos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (!model) {
        fprintf(stderr, "semid: error: serve needs --model (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (!(drain >= 0 && drain <= 3600)) {
        fprintf(stderr, "semid: error: --drain must be in 0..3600 seconds\n");
        return CLI_EXIT_USAGE;
    }
    dense.rerank = "dense";
    if ((dense.encoder || dense.content || dense.item_embeddings || dense.dataset || dense.glove) &&
        cli_dense_check(&dense, 1) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    cfg.dense = cli_dense_source(&dense);
    cfg.model_dir = model;
    cfg.host = host;
    cfg.port = port;
    cfg.threads = threads;
    cfg.batch_wait_ms = wait_ms;
    cfg.max_batch = max_batch;
    cfg.max_connections = max_conn;
    cfg.timeout_s = timeout;

    /* Blocked before any thread starts, so every thread inherits the mask
     * and only sigwait below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A decode's buffers are tens of MB: above glibc's mmap threshold each
     * batch would map and unmap them, and at 64 connections page faults
     * took more time than the decode (492 against 1,401 searches/s). Kept
     * in the heap, they are reused from one batch to the next. */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);

    semid_server *srv;
    semid_status st = semid_server_start(&cfg, &srv);
    if (st != SEMID_OK) return cli_report(st);
    char version[64];
    semid_server_model_version(srv, version, sizeof version);
    int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "semid serve: model %s (%s)\n", model, version);
    fprintf(stderr, "semid serve: listening on http://%s%s%s:%d/\n", v6 ? "[" : "", host, v6 ? "]" : "",
            semid_server_port(srv));
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            if (semid_server_reload(srv) != SEMID_OK) /* a success is logged by the library */
                fprintf(stderr, "semid serve: reload failed, the previous model keeps serving: %s\n",
                        semid_last_error());
            continue;
        }
        fprintf(stderr, "semid serve: %s: draining requests in flight (up to %g s)\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", drain);
        int left = semid_server_stop(srv, drain);
        if (left > 0) {
            fprintf(stderr, "semid serve: %d requests were still running after %g s\n", left, drain);
            return CLI_EXIT_ERROR;
        }
        fprintf(stderr, "semid serve: stopped\n");
        return CLI_EXIT_OK;
    }
}
