/* Dense-retrieval baselines on MovieLens-1M: Recall@30 for search and
 * recommendation of every embedding method, popularity, training time and
 * peak memory.
 *
 *   bench_embed_ml1m [DATA_DIR (../shared/data/ml-1m)] [key=value ...]
 *   keys: epochs, dim, lr, neg, dropout, batch, wd, std, threads, only_rec=1,
 *         eval_every=N (validation recall during ENMF training), text_epochs,
 *         glove=PATH (default: the shipped GloVe subset)
 *
 * Recommendation: leave-last-out, full ranking over all items, reported
 * with nothing excluded (the protocol of the generative model) and with the
 * history excluded. Search: queries from data/querygen.h (10 train / 10 test
 * per item), each test query's own item is the target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "data/dataset.h"
#include "data/import.h"
#include "data/querygen.h"
#include "embed/baseline.h"
#include "embed/biencoder_train.h"
#include "embed/content.h"
#include "embed/enmf.h"
#include "embed/fusion.h"
#include "embed/text_encoder.h"
#include "text/wordvec.h"
#include "semid/semid.h"

typedef struct bench_opts {
    semid_enmf_config enmf;
    int threads, only_rec, eval_every, text_epochs;
    const char *glove;
} bench_opts;

static void row(const char *method, const char *note, const semid_ranking_eval *search, const semid_ranking_eval *rec,
                const semid_ranking_eval *rec_ex, double secs) {
    char s[16] = "-", r[16] = "-", h[16] = "-", t[16] = "-", x[16] = "-";
    if (search) snprintf(s, sizeof s, "%.4f", semid_ranking_eval_mean(search, SEMID_GROUP_ALL).recall);
    if (rec) {
        snprintf(r, sizeof r, "%.4f", semid_ranking_eval_mean(rec, SEMID_GROUP_ALL).recall);
        snprintf(h, sizeof h, "%.4f", semid_ranking_eval_mean(rec, SEMID_GROUP_HEAD).recall);
        snprintf(t, sizeof t, "%.4f", semid_ranking_eval_mean(rec, SEMID_GROUP_TORSO).recall);
    }
    if (rec_ex) snprintf(x, sizeof x, "%.4f", semid_ranking_eval_mean(rec_ex, SEMID_GROUP_ALL).recall);
    printf("| %-13s | %-22s | %9s | %9s | %9s | %9s | %12s | %8.1f |\n", method, note, s, r, h, t, x, secs);
    fflush(stdout);
}

typedef struct val_ctx {
    const semid_dataset *ds;
    int every;
} val_ctx;

/* Validation Recall@30 during training (for tuning). */
static int on_epoch(const semid_enmf *m, int32_t epoch, double loss, double secs, void *user) {
    val_ctx *v = user;
    if (v->every <= 0 || (epoch + 1) % v->every != 0) return 0;
    semid_matrix iv = {0}, uv = {0};
    semid_ranking_eval e = {0};
    semid_rec_eval_options o = semid_rec_eval_defaults();
    o.validation = true;
    o.exclude_history = true;
    if (semid_enmf_item_vectors(m, &iv) == SEMID_OK && semid_enmf_user_vectors(m, &uv) == SEMID_OK &&
        semid_baseline_rec_user_vectors(v->ds, &o, &uv, &iv, &e) == SEMID_OK)
        fprintf(stderr, "epoch %d loss %.4f (%.2fs) valid Recall@30 (history excluded) %.4f\n", epoch + 1, loss, secs,
                semid_ranking_eval_mean(&e, SEMID_GROUP_ALL).recall);
    semid_ranking_eval_free(&e);
    semid_matrix_free(&iv);
    semid_matrix_free(&uv);
    return 0;
}

/* Rec Recall@30 of an item embedding through the history mean, with and
 * without the history excluded, then one table row. */
static int report_method(const semid_dataset *ds, const char *method, const char *note, const semid_matrix *items,
                         const semid_matrix *queries, double secs) {
    semid_rec_eval_options ro = semid_rec_eval_defaults(), rx = ro;
    rx.exclude_history = true;
    semid_ranking_eval s = {0}, r = {0}, x = {0};
    if (queries && semid_baseline_search_dense(ds, queries, items, 30, 0.01, &s) != SEMID_OK) return -1;
    if (semid_baseline_rec_history(ds, &ro, items, &r) != SEMID_OK) return -1;
    if (semid_baseline_rec_history(ds, &rx, items, &x) != SEMID_OK) return -1;
    row(method, note, queries ? &s : NULL, &r, &x, secs);
    semid_ranking_eval_free(&s);
    semid_ranking_eval_free(&r);
    semid_ranking_eval_free(&x);
    return 0;
}

static semid_status encode_queries(const semid_dataset *ds, const semid_text_encoder *enc, semid_matrix *out) {
    int32_t *tq;
    int64_t nq;
    SEMID_TRY(semid_search_test_queries(ds, &tq, &nq));
    const char **texts = malloc((size_t)(nq > 0 ? nq : 1) * sizeof *texts);
    if (!texts) return SEMID_ENOMEM;
    for (int64_t q = 0; q < nq; q++) texts[q] = ds->queries[tq[q]].text;
    semid_status st = semid_text_encoder_encode(enc, texts, nq, out);
    free(texts);
    free(tq);
    return st;
}

static int train_biencoder(const semid_dataset *ds, const semid_wordvec *wv, semid_biencoder_task task, int epochs,
                           semid_matrix *items, semid_matrix *queries, double *secs) {
    semid_biencoder_config bc = semid_biencoder_defaults();
    bc.task = task;
    bc.encoder.dim_word = wv->dim;
    if (epochs > 0) bc.epochs = epochs;
    semid_text_encoder *enc = NULL;
    double t0 = semid_now();
    if (semid_biencoder_train(ds, wv, &bc, &enc, items, NULL) != SEMID_OK) return -1;
    *secs = semid_now() - t0;
    semid_status st = encode_queries(ds, enc, queries);
    semid_text_encoder_free(enc);
    return st == SEMID_OK ? 0 : -1;
}

static int fail(const char *what) {
    fprintf(stderr, "bench_embed_ml1m: %s: %s\n", what, semid_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = "../shared/data/ml-1m";
    bench_opts b = {.enmf = semid_enmf_defaults(), .threads = 2, .only_rec = 0, .eval_every = 0};
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            dir = argv[i];
            continue;
        }
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "epochs")) b.enmf.epochs = atoi(v);
        else if (!strcmp(k, "dim")) b.enmf.dim = atoi(v);
        else if (!strcmp(k, "lr")) b.enmf.lr = (float)atof(v);
        else if (!strcmp(k, "neg")) b.enmf.neg_weight = (float)atof(v);
        else if (!strcmp(k, "dropout")) b.enmf.dropout = (float)atof(v);
        else if (!strcmp(k, "batch")) b.enmf.batch_users = atoi(v);
        else if (!strcmp(k, "wd")) b.enmf.weight_decay = (float)atof(v);
        else if (!strcmp(k, "std")) b.enmf.init_std = (float)atof(v);
        else if (!strcmp(k, "threads")) b.threads = atoi(v);
        else if (!strcmp(k, "only_rec")) b.only_rec = atoi(v);
        else if (!strcmp(k, "eval_every")) b.eval_every = atoi(v);
        else if (!strcmp(k, "text_epochs")) b.text_epochs = atoi(v);
        else if (!strcmp(k, "glove")) b.glove = v;
        else {
            fprintf(stderr, "unknown key %s\n", k);
            return 2;
        }
    }
    semid_set_threads(b.threads);
    semid_dataset ds;
    double t0 = semid_now();
    if (semid_import("generic", dir, NULL, &ds) != SEMID_OK) return fail("import");
    printf("ml-1m: %d users, %d items, %lld interactions (import %.1fs), threads %d\n", ds.n_users, ds.n_items,
           (long long)ds.n_interactions, semid_now() - t0, b.threads);
    if (!b.only_rec) {
        semid_querygen_config qc;
        semid_querygen_config_default(&qc);
        if (semid_querygen_run(&ds, &qc, 42, NULL) != SEMID_OK) return fail("querygen");
        printf("queries: %d\n", ds.n_queries);
    }
    semid_rec_eval_options ro = semid_rec_eval_defaults(), rx = ro;
    rx.exclude_history = true;
    printf("\n| method        | scorer                 | search R@30 | rec R@30 | rec head | rec torso | rec R@30 excl | train s |\n");
    printf("|---|---|---|---|---|---|---|---|\n");

    semid_ranking_eval ps = {0}, pr = {0}, px = {0};
    if (semid_baseline_rec_popularity(&ds, &ro, &pr) != SEMID_OK) return fail("popularity");
    if (semid_baseline_rec_popularity(&ds, &rx, &px) != SEMID_OK) return fail("popularity");
    if (!b.only_rec && semid_baseline_search_popularity(&ds, 30, 0.01, &ps) != SEMID_OK) return fail("popularity");
    row("popularity", "train counts", b.only_rec ? NULL : &ps, &pr, &px, 0.0);

    /* rec: ENMF */
    int64_t *off;
    int32_t *it;
    if (semid_enmf_train_csr(&ds, &off, &it) != SEMID_OK) return fail("csr");
    semid_enmf_data data = {ds.n_users, ds.n_items, off, it};
    semid_enmf m;
    val_ctx vc = {&ds, b.eval_every};
    t0 = semid_now();
    if (semid_enmf_train(&m, &b.enmf, &data, on_epoch, &vc) != SEMID_OK) return fail("enmf");
    double enmf_secs = semid_now() - t0;
    semid_matrix rec_items, rec_users;
    if (semid_enmf_item_vectors(&m, &rec_items) != SEMID_OK || semid_enmf_user_vectors(&m, &rec_users) != SEMID_OK)
        return fail("enmf vectors");
    semid_ranking_eval er = {0}, ex = {0}, hr = {0}, hx = {0};
    if (semid_baseline_rec_user_vectors(&ds, &ro, &rec_users, &rec_items, &er) != SEMID_OK) return fail("enmf eval");
    if (semid_baseline_rec_user_vectors(&ds, &rx, &rec_users, &rec_items, &ex) != SEMID_OK) return fail("enmf eval");
    char note[64];
    snprintf(note, sizeof note, "ENMF user (d%d e%d)", b.enmf.dim, b.enmf.epochs);
    row("rec", note, NULL, &er, &ex, enmf_secs);
    if (semid_baseline_rec_history(&ds, &ro, &rec_items, &hr) != SEMID_OK) return fail("history");
    if (semid_baseline_rec_history(&ds, &rx, &rec_items, &hx) != SEMID_OK) return fail("history");
    row("rec", "history mean (10)", NULL, &hr, &hx, enmf_secs);
    fprintf(stderr, "after rec: peak RSS %.0f MiB\n", (double)semid_peak_rss_bytes() / (1 << 20));

    if (!b.only_rec) {
        semid_wordvec wv;
        if ((b.glove ? semid_wordvec_load(b.glove, 0, &wv) : semid_wordvec_load_default(&wv)) != SEMID_OK)
            return fail("word vectors");
        semid_matrix content = {0}, cq = {0}, search = {0}, sq = {0}, multi = {0}, mq = {0}, fc = {0}, fs = {0};
        semid_content_config cc = semid_content_defaults();
        double secs;
        t0 = semid_now();
        if (semid_content_embed(&ds, &wv, &cc, &content) != SEMID_OK) return fail("content");
        secs = semid_now() - t0;
        if (semid_baseline_encode_test_queries(&ds, NULL, b.glove, &cq) != SEMID_OK) return fail("content queries");
        if (report_method(&ds, "content", "GloVe SIF + history mean", &content, &cq, secs)) return fail("content eval");
        if (train_biencoder(&ds, &wv, SEMID_BIENCODER_SEARCH, b.text_epochs, &search, &sq, &secs)) return fail("search");
        if (report_method(&ds, "search", "bi-encoder + history mean", &search, &sq, secs)) return fail("search eval");
        fprintf(stderr, "after search: peak RSS %.0f MiB\n", (double)semid_peak_rss_bytes() / (1 << 20));
        if (train_biencoder(&ds, &wv, SEMID_BIENCODER_MULTITASK, b.text_epochs, &multi, &mq, &secs)) return fail("multi");
        if (report_method(&ds, "multi", "bi-encoder + history mean", &multi, &mq, secs)) return fail("multi eval");
        t0 = semid_now();
        if (semid_fuse_concat(&search, &rec_items, &fc) != SEMID_OK) return fail("fused_concat");
        secs = semid_now() - t0;
        /* Queries have only the search half: the rec half of their vector is 0. */
        if (report_method(&ds, "fused_concat", "search query + hist mean", &fc, &sq, secs)) return fail("concat eval");
        t0 = semid_now();
        if (semid_fuse_svd(&search, &rec_items, &fs) != SEMID_OK) return fail("fused_svd");
        secs = semid_now() - t0;
        /* With search narrower than rec, the search part is not projected,
         * so the encoded query lives in the fused space as it is. */
        if (report_method(&ds, "fused_svd", "search query + hist mean", &fs, search.cols <= rec_items.cols ? &sq : NULL,
                          secs))
            return fail("svd eval");
        semid_matrix *all[] = {&content, &cq, &search, &sq, &multi, &mq, &fc, &fs};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) semid_matrix_free(all[i]);
        semid_wordvec_free(&wv);
    }
    printf("\nRecall@30; rec = leave-last-out test item, full ranking; \"excl\" = history excluded; train s = that method's training time.\n");
    printf("ENMF: dim %d, epochs %d, lr %g, c- %g, dropout %g, batch %d: %.1fs, peak RSS %.0f MiB\n", b.enmf.dim,
           b.enmf.epochs, b.enmf.lr, b.enmf.neg_weight, b.enmf.dropout, b.enmf.batch_users, enmf_secs,
           (double)semid_peak_rss_bytes() / (1 << 20));
    semid_ranking_eval_free(&ps);
    semid_ranking_eval_free(&pr);
    semid_ranking_eval_free(&px);
    semid_ranking_eval_free(&er);
    semid_ranking_eval_free(&ex);
    semid_ranking_eval_free(&hr);
    semid_ranking_eval_free(&hx);
    semid_matrix_free(&rec_items);
    semid_matrix_free(&rec_users);
    semid_enmf_free(&m);
    free(off);
    free(it);
    semid_dataset_free(&ds);
    return 0;
}
