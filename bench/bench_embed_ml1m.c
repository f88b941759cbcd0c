/* Dense-retrieval baselines on MovieLens-1M: Recall@30 for search and
 * recommendation of every embedding method, popularity, training time and
 * peak memory.
 *
 *   bench_embed_ml1m [DATA_DIR (../shared/data/ml-1m)] [key=value ...]
 *   keys: epochs, dim, lr, neg, dropout, batch, wd, threads, only_rec=1, eval_every=N
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
#include "embed/enmf.h"
#include "embed/fusion.h"
#include "semid/semid.h"

typedef struct bench_opts {
    semid_enmf_config enmf;
    int threads, only_rec, eval_every;
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
    printf("\nENMF: dim %d, epochs %d, lr %g, c- %g, dropout %g, batch %d: %.1fs, peak RSS %.0f MiB\n", b.enmf.dim,
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
