/* Decoding throughput of the generative model: queries per second of
 * trie-constrained beam search (beam 30, top 30) and of the paper's diverse
 * beam search (60 beams, 30 groups), for search prompts (~10 words) and
 * recommendation prompts (a full history window), on a model of the default
 * training size with random weights (decoding cost does not depend on the
 * weights) and an ID table shaped like ML-1M's (3,416 items, 2 x 256 codes
 * plus a disambiguation level).
 *
 *   bench_gen_decode [--threads 2] [--queries 512] [--layers 4] [--dim 128]
 *                    [--heads 4] [--words 5000] [--items 3416] [--beam 30] [--k 30]
 *                    [--cache-mb MB]   (KV-cache memory per call, sets queries per chunk)
 *                    [--cases 1111]    (which of the four cases to run: trie search, trie rec,
 *                                       diverse search, diverse rec)
 *                    [--reps 3]
 *                    [--dump PREFIX]   (writes each case's items and scores to PREFIX.<case>,
 *                                       to compare two builds' results)
 *
 * Prints one line per case with the median of --reps runs (queries per
 * second of wall time, and per CPU second of this process: the per-core cost,
 * which a busy shared machine disturbs less) and the peak memory. Figures,
 * before and after the packed decoding kernels: bench/README.md, "Decoding". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/log.h"
#include "base/rng.h"
#include "gen/beam.h"
#include "gen/examples.h"
#include "gen/model.h"
#include "gen/vocab.h"
#include "quant/idtable.h"
#include "quant/trie.h"

static int arg_int(int argc, char **argv, const char *name, int def) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return atoi(argv[i + 1]);
    return def;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *arg_str(int argc, char **argv, const char *name) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return NULL;
}

/* CPU seconds (user + system) this process has used: a per-core cost that a
 * busy machine disturbs less than wall time. */
static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

static void die(semid_status st) {
    fprintf(stderr, "bench_gen_decode: %s\n", semid_last_error());
    exit(st == SEMID_OK ? 0 : 1);
}

int main(int argc, char **argv) {
    int threads = arg_int(argc, argv, "--threads", 2);
    int nq = arg_int(argc, argv, "--queries", 512);
    int n_layer = arg_int(argc, argv, "--layers", 4), d_model = arg_int(argc, argv, "--dim", 128);
    int n_head = arg_int(argc, argv, "--heads", 4), n_words = arg_int(argc, argv, "--words", 5000);
    int n_items = arg_int(argc, argv, "--items", 3416), beam = arg_int(argc, argv, "--beam", 30);
    int k = arg_int(argc, argv, "--k", 30), window = 20;
    int cache_mb = arg_int(argc, argv, "--cache-mb", semid_beam_defaults().max_cache_mb);
    int cases = arg_int(argc, argv, "--cases", 1111), reps = arg_int(argc, argv, "--reps", 3);
    if (reps < 1) reps = 1;
    if (reps > 99) reps = 99;
    const char *dump = arg_str(argc, argv, "--dump");
    semid_set_threads(threads);
    semid_set_log_level(SEMID_LOG_WARN);

    /* ID table: 2 x 256 random codes (popular codes more likely), disambiguated. */
    semid_idtable t;
    int32_t sizes[2] = {256, 256};
    semid_status st = semid_idtable_create(&t, "bench", "random", n_items, 1, 2, sizes, 0);
    if (st != SEMID_OK) die(st);
    semid_rng r;
    semid_rng_seed(&r, 1);
    for (int64_t i = 0; i < (int64_t)n_items * 2; i++) {
        uint64_t a = semid_rng_below(&r, 256), b = semid_rng_below(&r, 256);
        t.codes[i] = (int32_t)(a < b ? a : b);
    }
    semid_idtable_update_fingerprint(&t);
    if ((st = semid_idtable_disambiguate(&t, NULL)) != SEMID_OK) die(st);
    semid_trie *trie;
    if ((st = semid_trie_build(&t, SEMID_TASK_SEARCH, &trie)) != SEMID_OK) die(st);

    int32_t sid_base = SEMID_TOK_N_SPECIAL + 64 + n_words;
    semid_gpt_config cfg = {.vocab_size = sid_base + t.n_tokens, .max_seq_len = (window + 1) * t.n_levels,
                            .n_layer = n_layer, .n_head = n_head, .d_model = d_model};
    semid_gpt *m;
    if ((st = semid_gpt_create(&cfg, 1, &m)) != SEMID_OK) die(st);

    /* Prompts: search = [SEARCH] 10 words [SEP]; rec = [RECOMMEND] 20 items' IDs. */
    int32_t Tm = cfg.max_seq_len;
    int32_t *tok = malloc((size_t)nq * 2 * (size_t)Tm * sizeof *tok);
    semid_beam_query *qs = calloc((size_t)nq, sizeof *qs), *qr = calloc((size_t)nq, sizeof *qr);
    int32_t *hist = malloc((size_t)nq * (size_t)window * sizeof *hist);
    for (int i = 0; i < nq; i++) {
        int32_t *p = tok + (int64_t)i * 2 * Tm;
        p[0] = SEMID_TOK_SEARCH;
        for (int w = 0; w < 10; w++) p[1 + w] = SEMID_TOK_N_SPECIAL + 64 + (int32_t)semid_rng_below(&r, (uint64_t)n_words);
        p[11] = SEMID_TOK_SEP;
        qs[i] = (semid_beam_query){p, 12, NULL, 0};
        int32_t *q = p + Tm, n = 0;
        q[n++] = SEMID_TOK_RECOMMEND;
        for (int h = 0; h < window; h++) {
            int32_t item = (int32_t)semid_rng_below(&r, (uint64_t)n_items), id[8];
            hist[(int64_t)i * window + h] = item;
            semid_idtable_tokens(&t, SEMID_TASK_REC, item, id);
            for (int l = 0; l < t.n_levels; l++) q[n++] = sid_base + id[l];
        }
        qr[i] = (semid_beam_query){q, n, hist + (int64_t)i * window, window};
    }
    semid_beam_space sp = {.sid_base = sid_base, .n_sid = t.n_tokens, .popularity = NULL};
    printf("model: %d layers, width %d, %d heads, vocab %d, context %d; %d items, ID length %d; %d threads, %d queries\n",
           n_layer, d_model, n_head, cfg.vocab_size, Tm, n_items, t.n_levels, threads, nq);

    for (int c = 0; c < 4; c++) {
        int pow10 = 1;
        for (int u = 0; u < 3 - c; u++) pow10 *= 10;
        if ((cases / pow10) % 10 == 0) continue;
        int diverse = c >= 2, rec = c % 2;
        semid_beam_options o = diverse ? semid_beam_paper_diverse(k) : semid_beam_defaults();
        if (!diverse) {
            o.beam_size = beam;
            o.k = k;
        }
        o.max_cache_mb = cache_mb;
        double times[99], cpu[99];
        double hits = 0, invalid = 0;
        for (int rep = 0; rep < reps; rep++) {
            semid_beam_hits h;
            double t0 = semid_now(), c0 = cpu_seconds();
            st = diverse ? semid_beam_search_diverse(m, &t, rec ? SEMID_TASK_REC : SEMID_TASK_SEARCH, trie, &sp, rec ? qr : qs, nq, &o, &h)
                         : semid_beam_search(m, trie, &sp, rec ? qr : qs, nq, &o, &h);
            times[rep] = semid_now() - t0;
            cpu[rep] = cpu_seconds() - c0;
            if (st != SEMID_OK) die(st);
            hits = invalid = 0;
            for (int i = 0; i < nq; i++) {
                hits += h.n_hits[i];
                invalid += h.n_invalid[i];
            }
            if (dump && rep == 0) {
                char path[4096];
                snprintf(path, sizeof path, "%s.%d", dump, c);
                FILE *f = fopen(path, "wb");
                if (!f || fwrite(h.items, sizeof *h.items, (size_t)nq * (size_t)k, f) != (size_t)nq * (size_t)k ||
                    fwrite(h.scores, sizeof *h.scores, (size_t)nq * (size_t)k, f) != (size_t)nq * (size_t)k) {
                    fprintf(stderr, "bench_gen_decode: cannot write %s\n", path);
                    exit(1);
                }
                fclose(f);
            }
            semid_beam_hits_free(&h);
        }
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        qsort(cpu, (size_t)reps, sizeof *cpu, cmp_double);
        printf("%-9s %-6s beam %2d%s top-%d: %8.0f queries/s (median of %d, %.3f s for %d; %.0f per CPU second), %.1f items/query%s",
               diverse ? "diverse" : "trie", rec ? "rec" : "search", o.beam_size, diverse ? " (30 groups, 0.25)" : "", k,
               nq / times[reps / 2], reps, times[reps / 2], nq, nq / cpu[reps / 2], hits / nq, diverse ? "" : "\n");
        if (diverse) printf(", %.1f invalid beams/query\n", invalid / nq);
    }
    printf("peak memory: %.1f MB\n", (double)semid_peak_rss_bytes() / 1048576.0);
    free(tok);
    free(qs);
    free(qr);
    free(hist);
    semid_gpt_free(m);
    semid_trie_free(trie);
    semid_idtable_free(&t);
    return 0;
}
