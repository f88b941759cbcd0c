/* semid search --rerank dense end to end through the CLI binary on the tiny
 * model (gen/hybrid.h, cli/cli_dense.h): an item added by `semid catalog
 * add` (never trained) comes back for a query made of its own words; W = 1
 * keeps the model's own order; a removed item never comes back; bad usage
 * is refused. recommend --rerank dense likewise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/generate.h"
#include "support/testutil.h"

static char *tmpdir;
static char model[600];

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    if (!tmpdir || test_cli_tiny_model(tmpdir, 60, 80) != 0) return -1;
    snprintf(model, sizeof model, "%s/model", tmpdir);
    char *items = test_write_file(tmpdir, "new.tsv",
                                  "item_id\ttitle\tyear\tgenres\tdescription\n"
                                  "cold1\tSubmarine Volcano Penguin\t2024\tDocumentary\t"
                                  "penguins explore an underwater volcano in a submarine\n");
    char *out = NULL;
    int rc = test_run_clif(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd",
                           model, items, tmpdir, tmpdir);
    if (rc != 0) fprintf(stderr, "catalog add: %d: %s\n", rc, out ? out : "");
    free(out);
    free(items);
    return rc == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    if (tmpdir) test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* The item ids of a single search's TSV rows ("rank id score title" after
 * a header), at most max; returns how many. */
static int ids_of(const char *out, char ids[][64], int max) {
    int n = 0;
    const char *p = strstr(out, "rank\titem_id");
    if (!p) return 0;
    p = strchr(p, '\n');
    while (p && n < max) {
        p++;
        int rank;
        char id[64];
        if (sscanf(p, "%d\t%63[^\t]\t", &rank, id) != 2) break;
        snprintf(ids[n++], 64, "%s", id);
        p = strchr(p, '\n');
    }
    return n;
}

static char *search(const char *opts, const char *query) {
    char *out = NULL;
    int rc = test_run_clif(&out, "search --model %s --threads 1 %s \"%s\" 2>/dev/null", model, opts, query);
    if (rc != 0) fail_msg("search %s: exit %d: %s", opts, rc, out ? out : "");
    return out;
}

static void test_cold_item_comes_back(void **state) {
    (void)state;
    char dense[1200], ids[10][64];
    snprintf(dense, sizeof dense, "--k 10 --rerank dense --content --dataset %s/ds.sdd --rerank-weight 0", tmpdir);
    char *out = search(dense, "submarine volcano penguin");
    assert_true(ids_of(out, ids, 10) >= 1);
    assert_string_equal(ids[0], "cold1"); /* W = 0: the dense side alone, and its own words are nearest */
    free(out);
    snprintf(dense, sizeof dense, "--k 10 --rerank dense --content --dataset %s/ds.sdd", tmpdir);
    out = search(dense, "submarine volcano penguin");
    int n = ids_of(out, ids, 10), found = 0;
    for (int i = 0; i < n; i++) found |= strcmp(ids[i], "cold1") == 0;
    if (!found) fail_msg("W = 0.5: cold1 not in the top 10:\n%s", out);
    free(out);
}

static void test_weight_one_is_the_model_order(void **state) {
    (void)state;
    const char *queries[] = {"space adventure", "the brave mountain", "submarine volcano penguin"};
    for (int q = 0; q < 3; q++) {
        char *plain = search("--k 8", queries[q]);
        char dense[1200], a[10][64], b[10][64];
        snprintf(dense, sizeof dense, "--k 8 --rerank dense --content --dataset %s/ds.sdd --rerank-weight 1", tmpdir);
        char *re = search(dense, queries[q]);
        int na = ids_of(plain, a, 10), nb = ids_of(re, b, 10);
        assert_int_equal(na, 8);
        assert_int_equal(nb, 8);
        for (int i = 0; i < na; i++)
            if (strcmp(a[i], b[i]) != 0) fail_msg("'%s' rank %d: %s without rerank, %s with W = 1", queries[q], i, a[i], b[i]);
        free(plain);
        free(re);
    }
}

static void test_bad_usage(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(test_run_clif(&out, "search --model %s --rerank sparse \"a b\"", model), 2);
    assert_non_null(strstr(out, "--rerank"));
    free(out);
    assert_int_equal(test_run_clif(&out, "search --model %s --rerank dense \"a b\"", model), 2);
    assert_non_null(strstr(out, "--encoder"));
    free(out);
    assert_int_equal(test_run_clif(&out, "search --model %s --rerank dense --content \"a b\"", model), 2);
    assert_non_null(strstr(out, "--dataset"));
    free(out);
    assert_int_equal(
        test_run_clif(&out, "search --model %s --rerank dense --content --dataset %s/ds.sdd --rerank-weight 1.5 \"a\"",
                      model, tmpdir),
        2);
    assert_non_null(strstr(out, "--rerank-weight"));
    free(out);
    assert_int_equal(test_run_clif(&out, "search --model %s --encoder x.safetensors \"a b\"", model), 2);
    free(out);
    assert_int_equal(test_run_clif(&out, "search --model %s --rerank dense --content --dataset %s/ds.sdd "
                                         "--item-embeddings %s/emb/missing.npy \"a b\"",
                                   model, tmpdir, tmpdir),
                     1);
    free(out);
}

static char *recommend(const char *opts) {
    char *out = NULL;
    int rc = test_run_clif(&out, "recommend --model %s --threads 1 %s 2>/dev/null", model, opts);
    if (rc != 0) fail_msg("recommend %s: exit %d: %s", opts, rc, out ? out : "");
    return out;
}

/* recommend --rerank dense: the user vector is the mean of the history's
 * item vectors, so with W = 0 and the history kept, a one-item history
 * comes first; left out by default (items do not repeat in the synthetic
 * data) it never comes back; W = 1 is the model's order. */
static void test_recommend(void **state) {
    (void)state;
    char opts[1600], a[10][64], b[10][64];
    snprintf(opts, sizeof opts,
             "--k 5 --history 7 --keep-history --rerank dense --rerank-weight 0 --content --dataset %s/ds.sdd", tmpdir);
    char *out = recommend(opts);
    assert_true(ids_of(out, a, 10) >= 1);
    assert_string_equal(a[0], "7");
    free(out);
    snprintf(opts, sizeof opts, "--k 10 --history 7 --rerank dense --rerank-weight 0 --content --dataset %s/ds.sdd",
             tmpdir);
    out = recommend(opts);
    int n = ids_of(out, a, 10);
    assert_int_equal(n, 10);
    for (int i = 0; i < n; i++) assert_string_not_equal(a[i], "7");
    free(out);
    char *plain = recommend("--k 6 --history 1,2,3");
    snprintf(opts, sizeof opts, "--k 6 --history 1,2,3 --rerank dense --rerank-weight 1 --content --dataset %s/ds.sdd",
             tmpdir);
    out = recommend(opts);
    int na = ids_of(plain, a, 10), nb = ids_of(out, b, 10);
    assert_int_equal(na, 6);
    assert_int_equal(nb, 6);
    for (int i = 0; i < na; i++) assert_string_equal(a[i], b[i]);
    free(plain);
    free(out);
    /* --item-embeddings alone cannot cover the added item */
    int rc = test_run_clif(&out, "recommend --model %s --history 1 --rerank dense --item-embeddings %s/emb/content.npy",
                           model, tmpdir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "added"));
    free(out);
    rc = test_run_clif(&out, "recommend --model %s --history 1 --rerank dense", model);
    assert_int_equal(rc, 2);
    free(out);
}

/* Teacher forcing (semid_gen_score_items) gives each beam hit the score the
 * beam gave it, for both tasks, on the bundle with its added item. */
static void test_teacher_forcing_matches_the_beam(void **state) {
    (void)state;
    semid_gen_bundle *b = NULL;
    assert_int_equal(semid_gen_bundle_load(model, &b), SEMID_OK);
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.k = 12;
    o.beam.beam_size = 12;
    int32_t T = b->ex.max_seq_len, len = 0;
    int32_t *tok = malloc((size_t)T * sizeof *tok);
    float got[12];
    const char *q[] = {"submarine volcano penguin"};
    semid_beam_hits h;
    assert_int_equal(semid_gen_search(b, q, 1, &o, &h, NULL), SEMID_OK);
    assert_int_equal(semid_gen_prompt_search(&b->vocab, &b->table, &b->ex, q[0], tok, &len, NULL), SEMID_OK);
    assert_true(h.n_hits[0] > 0);
    assert_int_equal(semid_gen_score_items(b, SEMID_TASK_SEARCH, tok, len, h.items, h.n_hits[0], got), SEMID_OK);
    for (int j = 0; j < h.n_hits[0]; j++)
        if (fabsf(got[j] - h.scores[j]) > 1e-3f) fail_msg("search hit %d: forced %g, beam %g", j, got[j], h.scores[j]);
    semid_beam_hits_free(&h);
    const int32_t hist[] = {1, 2, 3};
    const int32_t *hs[] = {hist};
    int64_t hl = 3;
    assert_int_equal(semid_gen_recommend(b, hs, &hl, 1, &o, &h), SEMID_OK);
    semid_gen_prompt_rec(&b->vocab, &b->table, &b->ex, hist, 3, tok, &len);
    assert_int_equal(semid_gen_score_items(b, SEMID_TASK_REC, tok, len, h.items, h.n_hits[0], got), SEMID_OK);
    for (int j = 0; j < h.n_hits[0]; j++)
        if (fabsf(got[j] - h.scores[j]) > 1e-3f) fail_msg("rec hit %d: forced %g, beam %g", j, got[j], h.scores[j]);
    semid_beam_hits_free(&h);
    const int32_t bad[] = {b->n_items};
    assert_int_equal(semid_gen_score_items(b, SEMID_TASK_REC, tok, len, bad, 1, got), SEMID_EINVAL);
    free(tok);
    semid_gen_bundle_free(b);
}

/* --queries / --histories: each record re-ranked as the single command does
 * (same rows, after the record id). */
static void test_batch_matches_single(void **state) {
    (void)state;
    char *qf = test_write_file(tmpdir, "q.tsv", "a\tsubmarine volcano penguin\nb\tthe brave mountain\n");
    char *hf = test_write_file(tmpdir, "h.tsv", "u1\t1,2,3\nu2\t7\n");
    char dense[1200];
    snprintf(dense, sizeof dense, "--k 5 --rerank dense --content --dataset %s/ds.sdd", tmpdir);
    const char *recs[2][2] = {{"submarine volcano penguin", "the brave mountain"}, {"1,2,3", "7"}};
    for (int task = 0; task < 2; task++) {
        char *batch = NULL;
        int rc = task == 0 ? test_run_clif(&batch, "search --model %s --threads 1 %s --queries %s 2>/dev/null", model, dense, qf)
                           : test_run_clif(&batch, "recommend --model %s --threads 1 %s --histories %s 2>/dev/null", model,
                                           dense, hf);
        if (rc != 0) fail_msg("batch %d: exit %d: %s", task, rc, batch);
        for (int r = 0; r < 2; r++) {
            char opts[1600], *one;
            if (task == 0) one = search(dense, recs[0][r]);
            else {
                snprintf(opts, sizeof opts, "%s --history %s", dense, recs[1][r]);
                one = recommend(opts);
            }
            char ids[10][64];
            int n = ids_of(one, ids, 10);
            assert_int_equal(n, 5);
            for (int i = 0; i < n; i++) {
                /* the batch row: "<record>\t<rank>\t<id>\t" */
                char row[800];
                snprintf(row, sizeof row, "%s\t%d\t%s\t", task == 0 ? (r ? "b" : "a") : (r ? "u2" : "u1"), i + 1, ids[i]);
                if (!strstr(batch, row)) fail_msg("batch %d lacks row '%s':\n%s\nsingle:\n%s", task, row, batch, one);
            }
            free(one);
        }
        free(batch);
    }
    free(qf);
    free(hf);
}

/* The bi-encoder's text tower as the query encoder, its item vectors from
 * `semid embed` (trained items only: the added one encoded from its text). */
static void test_bi_encoder(void **state) {
    (void)state;
    char *out = NULL;
    int rc = test_run_clif(&out, "embed --method search --dataset %s/ds.sdd --out %s/text --dim 16 --epochs 1 --batch 256 "
                                 "--threads 1",
                           tmpdir, tmpdir);
    if (rc != 0) fail_msg("embed: %d: %s", rc, out);
    free(out);
    char dense[1600], ids[10][64];
    snprintf(dense, sizeof dense,
             "--k 10 --rerank dense --encoder %s/text/search_encoder.safetensors --item-embeddings %s/text/search.npy "
             "--rerank-weight 0",
             tmpdir, tmpdir);
    out = search(dense, "submarine volcano penguin");
    assert_int_equal(ids_of(out, ids, 10), 10);
    assert_string_equal(ids[0], "cold1");
    free(out);
    /* A model whose query words start from this bi-encoder's words. */
    rc = test_run_clif(&out,
                       "train --dataset %s/ds.sdd --sids %s/sid.json --out %s/model_words --layers 1 --dim 16 --heads 2 "
                       "--epochs 1 --batch 16 --threads 1 --valid-sample 0 --word-vectors %s/text/search_encoder.safetensors",
                       tmpdir, tmpdir, tmpdir, tmpdir);
    if (rc != 0) fail_msg("train --word-vectors ENCODER: %s", out);
    assert_non_null(strstr(out, "query words start from word vectors"));
    assert_null(strstr(out, " 0 of ")); /* some words found */
    free(out);
    /* vectors of another width are refused */
    rc = test_run_clif(&out, "search --model %s --rerank dense --encoder %s/text/search_encoder.safetensors "
                             "--item-embeddings %s/emb/content.npy \"a b\"",
                       model, tmpdir, tmpdir);
    assert_int_equal(rc, 1);
    free(out);
}

/* Runs last: it removes the cold item. */
static void test_removed_never_comes_back(void **state) {
    (void)state;
    char *out = NULL;
    int rc = test_run_clif(&out, "catalog remove --model %s cold1", model);
    if (rc != 0) fail_msg("catalog remove: %d: %s", rc, out);
    free(out);
    char dense[1200], ids[10][64];
    snprintf(dense, sizeof dense, "--k 10 --rerank dense --content --dataset %s/ds.sdd --rerank-weight 0", tmpdir);
    out = search(dense, "submarine volcano penguin");
    int n = ids_of(out, ids, 10);
    assert_int_equal(n, 10);
    for (int i = 0; i < n; i++) assert_string_not_equal(ids[i], "cold1");
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_item_comes_back),
        cmocka_unit_test(test_weight_one_is_the_model_order),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_recommend),
        cmocka_unit_test(test_teacher_forcing_matches_the_beam),
        cmocka_unit_test(test_batch_matches_single),
        cmocka_unit_test(test_bi_encoder),
        cmocka_unit_test(test_removed_never_comes_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
