#include "serve/batcher.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/status.h"

struct semid_serve_batcher {
    pthread_mutex_t mu;
    pthread_cond_t queued; /* a job arrived, or stopping */
    pthread_cond_t done;   /* some job finished */
    semid_serve_job *head, *tail;
    int64_t queued_entries;
    int stopping;
    pthread_t thread;
    int threads;
    double max_wait;       /* seconds */
    int64_t max_batch;
    semid_serve_metrics *metrics;
};

static double now_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static struct timespec deadline_realtime(double seconds_from_now) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double whole = floor(seconds_from_now);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((seconds_from_now - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static int same_options(const semid_gen_decode_options *a, const semid_gen_decode_options *b) {
    return a->beam.beam_size == b->beam.beam_size && a->beam.k == b->beam.k && a->beam.groups == b->beam.groups &&
           a->beam.diversity == b->beam.diversity && a->beam.max_cache_mb == b->beam.max_cache_mb &&
           a->diverse == b->diverse && a->exclude_history == b->exclude_history &&
           a->expand_prefix == b->expand_prefix;
}

static int compatible(const semid_serve_job *a, const semid_serve_job *b) {
    return a->model == b->model && a->kind == b->kind && (a->histories == NULL) == (b->histories == NULL) &&
           same_options(&a->options, &b->options);
}

/* Unlinks from the queue the jobs compatible with its head, in order, up
 * to max_batch entries (the head always). Called with the lock held. */
static semid_serve_job *take_batch(semid_serve_batcher *b, int64_t *entries) {
    semid_serve_job *first = b->head, *out = NULL, **out_tail = &out, **link = &b->head, *prev = NULL;
    int64_t total = 0;
    for (semid_serve_job *j = b->head; j;) {
        semid_serve_job *next = j->next;
        if (j == first || (compatible(first, j) && total + j->n <= b->max_batch)) {
            *link = next;
            if (b->tail == j) b->tail = prev;
            j->next = NULL;
            *out_tail = j;
            out_tail = &j->next;
            total += j->n;
        } else {
            prev = j;
            link = &j->next;
        }
        j = next;
    }
    b->queued_entries -= total;
    *entries = total;
    return out;
}

/* One decode of every entry of the jobs, then each job's rows copied out. */
static semid_status decode_batch(semid_serve_job *jobs, int64_t n) {
    semid_serve_job *first = jobs;
    const semid_gen_bundle *bundle = first->model->bundle;
    const char **queries = NULL;
    const int32_t **histories = NULL;
    int64_t *lengths = NULL;
    int32_t *unknown = NULL;
    semid_status st = SEMID_OK;
    if (first->kind == SEMID_SERVE_SEARCH) {
        queries = malloc((size_t)n * sizeof *queries);
        unknown = calloc((size_t)n, sizeof *unknown);
        if (!queries || !unknown) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    if (first->kind == SEMID_SERVE_RECOMMEND || first->histories) {
        histories = malloc((size_t)n * sizeof *histories);
        lengths = malloc((size_t)n * sizeof *lengths);
        if (!histories || !lengths) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    int64_t at = 0;
    for (semid_serve_job *j = jobs; j && st == SEMID_OK; j = j->next)
        for (int64_t i = 0; i < j->n; i++, at++) {
            if (queries) queries[at] = j->queries[i];
            if (histories) {
                histories[at] = j->histories[i];
                lengths[at] = j->history_len[i];
            }
        }
    semid_beam_hits all = {0};
    if (st == SEMID_OK)
        st = queries && histories ? semid_gen_search_personal(bundle, queries, histories, lengths, n, &first->options,
                                                              &all, unknown)
             : queries ? semid_gen_search(bundle, queries, n, &first->options, &all, unknown)
                       : semid_gen_recommend(bundle, histories, lengths, n, &first->options, &all);
    at = 0;
    for (semid_serve_job *j = jobs; j && st == SEMID_OK; j = j->next) {
        st = semid_beam_hits_alloc(&j->hits, j->n, all.k);
        if (st == SEMID_OK && queries) {
            j->n_unknown = malloc((size_t)j->n * sizeof *j->n_unknown);
            if (!j->n_unknown) st = semid_fail(SEMID_ENOMEM, "out of memory");
        }
        if (st != SEMID_OK) break;
        size_t row = (size_t)all.k, cnt = (size_t)j->n;
        memcpy(j->hits.items, all.items + at * all.k, cnt * row * sizeof *all.items);
        memcpy(j->hits.scores, all.scores + at * all.k, cnt * row * sizeof *all.scores);
        memcpy(j->hits.n_hits, all.n_hits + at, cnt * sizeof *all.n_hits);
        memcpy(j->hits.n_invalid, all.n_invalid + at, cnt * sizeof *all.n_invalid);
        if (queries) memcpy(j->n_unknown, unknown + at, cnt * sizeof *unknown);
        at += j->n;
    }
    semid_beam_hits_free(&all);
    free(queries);
    free(histories);
    free(lengths);
    free(unknown);
    return st;
}

static void *decode_thread(void *arg) {
    semid_serve_batcher *b = arg;
    semid_set_threads(b->threads);
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stopping) pthread_cond_wait(&b->queued, &b->mu);
        if (!b->head) break; /* stopping, and nothing left */
        /* Let others join the first job, up to max_wait after it came. */
        while (!b->stopping && b->queued_entries < b->max_batch) {
            double left = b->head->arrival + b->max_wait - now_monotonic();
            if (left <= 0) break;
            struct timespec until = deadline_realtime(left);
            if (pthread_cond_timedwait(&b->queued, &b->mu, &until) == ETIMEDOUT) break;
        }
        int64_t n = 0;
        semid_serve_job *jobs = take_batch(b, &n);
        pthread_mutex_unlock(&b->mu);

        semid_status st = decode_batch(jobs, n);
        if (b->metrics) semid_serve_metrics_batch(b->metrics, n);

        pthread_mutex_lock(&b->mu);
        for (semid_serve_job *j = jobs, *next; j; j = next) {
            next = j->next;
            j->status = st;
            j->batch_size = n;
            if (st != SEMID_OK) {
                snprintf(j->error, sizeof j->error, "%s", semid_last_error());
                semid_beam_hits_free(&j->hits);
                free(j->n_unknown);
                j->n_unknown = NULL;
            }
            j->done = 1;
        }
        pthread_cond_broadcast(&b->done);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

semid_status semid_serve_batcher_start(int threads, double max_wait_ms, int64_t max_batch,
                                       semid_serve_metrics *metrics, semid_serve_batcher **out) {
    *out = NULL;
    if (!(max_wait_ms >= 0 && max_wait_ms <= 1000))
        return semid_fail(SEMID_EINVAL, "batch wait %g ms: must be in 0..1000", max_wait_ms);
    if (max_batch < 1 || max_batch > SEMID_SERVE_MAX_BATCH)
        return semid_fail(SEMID_EINVAL, "max batch %lld: must be in 1..%d", (long long)max_batch, SEMID_SERVE_MAX_BATCH);
    semid_serve_batcher *b = calloc(1, sizeof *b);
    if (!b) return semid_fail(SEMID_ENOMEM, "out of memory");
    b->threads = threads > 0 ? threads : semid_get_threads();
    b->max_wait = max_wait_ms * 1e-3;
    b->max_batch = max_batch;
    b->metrics = metrics;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->queued, NULL);
    pthread_cond_init(&b->done, NULL);
    if (pthread_create(&b->thread, NULL, decode_thread, b) != 0) {
        pthread_cond_destroy(&b->done);
        pthread_cond_destroy(&b->queued);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return semid_fail(SEMID_ENOMEM, "cannot start the decode thread");
    }
    *out = b;
    return SEMID_OK;
}

semid_status semid_serve_batcher_submit(semid_serve_batcher *b, semid_serve_job *job) {
    memset(&job->hits, 0, sizeof job->hits);
    job->n_unknown = NULL;
    job->status = SEMID_OK;
    job->error[0] = '\0';
    job->batch_size = 0;
    job->done = 0;
    job->next = NULL;
    job->arrival = now_monotonic();
    pthread_mutex_lock(&b->mu);
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        return semid_fail(SEMID_EINVAL, "the server is stopping");
    }
    if (b->tail) b->tail->next = job;
    else b->head = job;
    b->tail = job;
    b->queued_entries += job->n;
    pthread_cond_signal(&b->queued);
    pthread_mutex_unlock(&b->mu);
    return SEMID_OK;
}

semid_status semid_serve_batcher_wait(semid_serve_batcher *b, semid_serve_job *job) {
    pthread_mutex_lock(&b->mu);
    while (!job->done) pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);
    if (job->status != SEMID_OK) return semid_fail(job->status, "%s", job->error);
    return SEMID_OK;
}

void semid_serve_batcher_stop(semid_serve_batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_broadcast(&b->queued);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->done);
    pthread_cond_destroy(&b->queued);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
