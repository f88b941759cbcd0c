/* The query generator (see querygen.h).
 *
 * Three passes: (1) every item's description and tags are scanned into
 * normalised tokens with the flags the extraction needs (quoted, capitalised,
 * punctuation between tokens); (2) document frequencies over the catalog;
 * (3) per item, in parallel with a forked RNG stream each: names, tf-idf
 * keywords and phrases, then queries rendered from templates. The files of
 * each part are listed in querygen_impl.h. */
#include "data/querygen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/querygen_impl.h"
#include "text/tokenize.h"

void semid_querygen_config_default(semid_querygen_config *cfg) {
    cfg->n_per_item = 20;
    cfg->n_train = 10;
    cfg->n_valid = 0;
    cfg->max_keywords = 8;
    cfg->append = false;
}

semid_status qg_item_wordsets(const semid_dataset *ds, const uint8_t *keep, int64_t **start, uint64_t **hashes) {
    *start = calloc((size_t)ds->n_items + 2, sizeof **start);
    *hashes = malloc((size_t)ds->n_queries * sizeof **hashes + 1);
    int64_t *fill = calloc((size_t)ds->n_items + 1, sizeof *fill);
    semid_status st = SEMID_OK;
    if (!*start || !*hashes || !fill) st = semid_fail(SEMID_ENOMEM, "out of memory reading existing queries");
    for (int32_t q = 0; q < ds->n_queries && st == SEMID_OK; q++) {
        int32_t it = ds->queries[q].item;
        if (it >= 0 && it < ds->n_items && (!keep || keep[q])) (*start)[it + 1]++;
    }
    for (int32_t i = 0; i < ds->n_items && st == SEMID_OK; i++) (*start)[i + 1] += (*start)[i];
    for (int32_t q = 0; q < ds->n_queries && st == SEMID_OK; q++) {
        int32_t it = ds->queries[q].item;
        if (it < 0 || it >= ds->n_items || (keep && !keep[q])) continue;
        semid_words w;
        st = semid_tokenize(ds->queries[q].text, &w);
        if (st != SEMID_OK) break;
        (*hashes)[(*start)[it] + fill[it]++] = qg_wordset_hash(w.words, w.n);
        semid_words_free(&w);
    }
    free(fill);
    if (st != SEMID_OK) {
        free(*start);
        free(*hashes);
        *start = NULL;
        *hashes = NULL;
    }
    return st;
}

semid_status semid_querygen_run(semid_dataset *ds, const semid_querygen_config *cfg, uint64_t seed,
                                semid_querygen_stats *stats) {
    if (cfg->n_per_item < 1 || cfg->n_per_item > 1000)
        return semid_fail(SEMID_EINVAL, "querygen: n_per_item must be in 1..1000, got %d", cfg->n_per_item);
    if (cfg->n_train < 0 || cfg->n_valid < 0 || cfg->n_train + cfg->n_valid > cfg->n_per_item)
        return semid_fail(SEMID_EINVAL, "querygen: n_train (%d) + n_valid (%d) must be within n_per_item (%d)",
                          cfg->n_train, cfg->n_valid, cfg->n_per_item);
    if (cfg->max_keywords < 1 || cfg->max_keywords > 64)
        return semid_fail(SEMID_EINVAL, "querygen: max_keywords must be in 1..64, got %d", cfg->max_keywords);
    int64_t total = (int64_t)ds->n_items * cfg->n_per_item + (cfg->append ? ds->n_queries : 0);
    if (total > INT32_MAX) return semid_fail(SEMID_EINVAL, "querygen: %lld queries exceed the limit", (long long)total);
    double t0 = semid_now();
#ifndef NDEBUG
    qg_check_word_lists();
#endif

    qg_vocab vocab;
    semid_status st = qg_count_documents(ds, &vocab);
    if (st != SEMID_OK) {
        qg_vocab_free(&vocab);
        return st;
    }
    int32_t n = cfg->n_per_item;
    char **texts = calloc((size_t)ds->n_items * (size_t)n + 1, sizeof *texts);
    uint8_t *splits = calloc((size_t)ds->n_items * (size_t)n + 1, 1);
    int32_t *fixes = calloc((size_t)ds->n_items + 1, sizeof *fixes);
    if (!texts || !splits || !fixes) {
        free(texts);
        free(splits);
        free(fixes);
        qg_vocab_free(&vocab);
        return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    }
    /* Appending: the word sets of the queries already there, by item, so
     * that new queries do not repeat them. */
    int64_t *prior_start = NULL;
    uint64_t *prior = NULL;
    if (cfg->append && ds->n_queries > 0 && st == SEMID_OK) st = qg_item_wordsets(ds, NULL, &prior_start, &prior);
    if (st != SEMID_OK) {
        free(texts);
        free(splits);
        free(fixes);
        qg_vocab_free(&vocab);
        return st;
    }
    semid_rng root;
    semid_rng_seed(&root, seed);
    int failed = 0;
    semid_status first_error = SEMID_OK;
    char first_message[256] = "";
#pragma omp parallel for schedule(dynamic, 16) num_threads(semid_get_threads())
    for (int32_t i = 0; i < ds->n_items; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        semid_rng rng = semid_rng_fork(&root, (uint64_t)i);
        qg_profile p;
        semid_status s = qg_build_profile(&ds->items[i], &vocab, ds->n_items, cfg->max_keywords, &p);
        if (s == SEMID_OK) {
            qg_item_out out = {texts + (size_t)i * n, splits + (size_t)i * n, 0, NULL, 0};
            if (prior_start) {
                out.prior = prior + prior_start[i];
                out.n_prior = (int32_t)(prior_start[i + 1] - prior_start[i]);
            }
            s = qg_item_queries(&p, cfg, &rng, &out);
            fixes[i] = out.title_fixes;
            qg_profile_free(&p);
        }
        if (s != SEMID_OK) {
#pragma omp critical(semid_querygen_error)
            {
                if (!failed) {
                    failed = 1;
                    first_error = s;
                    snprintf(first_message, sizeof first_message, "%s", semid_last_error());
                }
            }
        }
    }
    qg_vocab_free(&vocab);
    free(prior_start);
    free(prior);
    if (failed) {
        for (size_t k = 0; k < (size_t)ds->n_items * n; k++) free(texts[k]);
        free(texts);
        free(splits);
        free(fixes);
        return semid_fail(first_error, "%s", first_message);
    }

    /* Store: replace or append. */
    int32_t keep = cfg->append ? ds->n_queries : 0;
    if (!cfg->append) {
        for (int32_t q = 0; q < ds->n_queries; q++) free(ds->queries[q].text);
        free(ds->queries);
        ds->queries = NULL;
        ds->n_queries = 0;
    }
    semid_query *nq = realloc(ds->queries, (size_t)total * sizeof *nq + 1);
    if (!nq) {
        for (size_t k = 0; k < (size_t)ds->n_items * n; k++) free(texts[k]);
        free(texts);
        free(splits);
        free(fixes);
        return semid_fail(SEMID_ENOMEM, "out of memory storing queries");
    }
    ds->queries = nq;
    int64_t counts[3] = {0, 0, 0}, n_fixes = 0;
    for (int32_t i = 0; i < ds->n_items; i++) {
        n_fixes += fixes[i];
        for (int32_t j = 0; j < n; j++) {
            size_t k = (size_t)i * n + j;
            semid_query *q = &ds->queries[keep + (int64_t)k];
            q->text = texts[k];
            q->item = i;
            q->split = splits[k];
            counts[splits[k]]++;
        }
    }
    ds->n_queries = (int32_t)total;
    free(texts);
    free(splits);
    free(fixes);
    if (stats) {
        stats->n_queries = (int64_t)ds->n_items * n;
        stats->n_train = counts[SEMID_SPLIT_TRAIN];
        stats->n_valid = counts[SEMID_SPLIT_VALID];
        stats->n_test = counts[SEMID_SPLIT_TEST];
        stats->n_title_fixes = n_fixes;
        stats->copy_share = semid_queries_copy_share(ds);
        stats->seconds = semid_now() - t0;
    }
    SEMID_INFO("querygen: %lld queries for %d items in %.2f s", (long long)((int64_t)ds->n_items * n), ds->n_items,
               semid_now() - t0);
    return SEMID_OK;
}

/* ---------------------------------------------------------------------------
 * Copies and export */

double semid_queries_copy_share(const semid_dataset *ds) {
    /* Queries grouped by item (counting sort), then each test query's word
     * set is compared with the training queries of its item. */
    int32_t ni = ds->n_items;
    int64_t *start = calloc((size_t)ni + 2, sizeof *start);
    int32_t *order = malloc((size_t)ds->n_queries * sizeof *order + 1);
    uint64_t *hash = malloc((size_t)ds->n_queries * sizeof *hash + 1);
    if (!start || !order || !hash) {
        free(start);
        free(order);
        free(hash);
        return NAN;
    }
    bool failed = false;
    for (int32_t q = 0; q < ds->n_queries && !failed; q++) {
        int32_t it = ds->queries[q].item;
        if (it < 0 || it >= ni) continue;
        start[it + 1]++;
        semid_words w;
        if (semid_tokenize(ds->queries[q].text, &w) != SEMID_OK) failed = true;
        else hash[q] = qg_wordset_hash(w.words, w.n);
        semid_words_free(&w);
    }
    for (int32_t i = 0; i < ni; i++) start[i + 1] += start[i];
    int64_t *fill = calloc((size_t)ni + 1, sizeof *fill);
    if (!fill) failed = true;
    for (int32_t q = 0; q < ds->n_queries && !failed; q++) {
        int32_t it = ds->queries[q].item;
        if (it >= 0 && it < ni) order[start[it] + fill[it]++] = q;
    }
    int64_t n_test = 0, copies = 0;
    for (int32_t i = 0; i < ni && !failed; i++) {
        for (int64_t a = start[i]; a < start[i + 1]; a++) {
            const semid_query *qa = &ds->queries[order[a]];
            if (qa->split != SEMID_SPLIT_TEST) continue;
            n_test++;
            for (int64_t b = start[i]; b < start[i + 1]; b++) {
                const semid_query *qb = &ds->queries[order[b]];
                if (qb->split == SEMID_SPLIT_TRAIN && hash[order[b]] == hash[order[a]]) {
                    copies++;
                    break;
                }
            }
        }
    }
    free(fill);
    free(start);
    free(order);
    free(hash);
    if (failed) return NAN;
    return n_test ? (double)copies / (double)n_test : 0.0;
}

semid_status semid_queries_write_tsv(const semid_dataset *ds, const char *path) {
    static const char *const split_names[] = {"train", "valid", "test"};
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    fputs("item_id\tsplit\tquery\n", f.fp);
    for (int32_t q = 0; q < ds->n_queries; q++) {
        const semid_query *qq = &ds->queries[q];
        if (qq->item < 0 || qq->item >= ds->n_items || qq->split > SEMID_SPLIT_TEST) {
            semid_atomic_abort(&f);
            return semid_fail(SEMID_EINVAL, "query %d: item %d or split %d out of range", q, qq->item, qq->split);
        }
        /* Tabs and line breaks inside a query would break the row. */
        fprintf(f.fp, "%s\t%s\t", ds->items[qq->item].id, split_names[qq->split]);
        for (const char *c = qq->text; *c; c++) fputc(*c == '\t' || *c == '\n' || *c == '\r' ? ' ' : *c, f.fp);
        fputc('\n', f.fp);
    }
    return semid_atomic_commit(&f);
}
