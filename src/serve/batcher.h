/* Coalescing concurrent requests into one decode. HTTP threads submit jobs
 * (a search or a recommendation of one or more entries on one model) and
 * wait; a decode thread takes the first job in the queue, waits up to
 * `max_wait_ms` after its arrival for others to join (or until `max_batch`
 * entries are queued), and decodes every queued job that is compatible
 * with it (same model, task and decoding options, and for search with
 * histories or without) in one batched call,
 * then hands each job its rows. Nothing here knows about HTTP. */
#ifndef SEMID_SERVE_BATCHER_H
#define SEMID_SERVE_BATCHER_H

#include <stdint.h>

#include "gen/generate.h"
#include "serve/metrics.h"
#include "serve/model_ref.h"
#include "serve/request.h"

typedef struct semid_serve_job {
    /* in: set by the submitter, untouched until the job is done */
    semid_serve_model *model; /* the submitter holds a reference */
    semid_serve_kind kind;
    int64_t n;
    const char *const *queries;       /* (n) search */
    const int32_t *const *histories;  /* (n) recommend; search: NULL, or each query's history
                                         (personalised search, the model's third task) */
    const int64_t *history_len;       /* (n) with histories */
    semid_gen_decode_options options;
    /* out: valid once semid_serve_batcher_wait returns */
    semid_beam_hits hits;   /* (n) rows; the submitter frees (semid_beam_hits_free) */
    int32_t *n_unknown;     /* (n) search: unknown words per query (the submitter frees) */
    semid_status status;
    char error[256];
    int64_t batch_size;     /* entries decoded together with this job's */
    /* the batcher's */
    double arrival;
    int done;
    struct semid_serve_job *next;
} semid_serve_job;

typedef struct semid_serve_batcher semid_serve_batcher;

/* Starts the decode thread. threads: for each decode (0 = the calling
 * thread's semid_get_threads()); max_wait_ms >= 0 (0: decode what is
 * queued at once); max_batch >= 1 entries (a bigger single job still runs,
 * alone). metrics may be NULL. */
semid_status semid_serve_batcher_start(int threads, double max_wait_ms, int64_t max_batch,
                                       semid_serve_metrics *metrics, semid_serve_batcher **out);
/* Queues a job (its out fields are reset here). SEMID_EINVAL once stopping. */
semid_status semid_serve_batcher_submit(semid_serve_batcher *b, semid_serve_job *job);
/* Waits until the job is decoded; returns its status. */
semid_status semid_serve_batcher_wait(semid_serve_batcher *b, semid_serve_job *job);
/* Decodes what is queued, then stops the thread and frees the batcher. */
void semid_serve_batcher_stop(semid_serve_batcher *b);

#endif
