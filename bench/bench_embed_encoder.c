/* Training throughput of the search bi-encoder (embed/biencoder_train.h),
 * the peer of bench/torch_biencoder.py: the same model (word + hashed
 * n-gram embeddings, mean pooling, linear projection, L2 norm), the same
 * texts as the same weighted bags, the same pairs, batch, epochs and
 * threads; then, with quality=1, the search Recall@30 of the trained
 * encoder against content (SIF GloVe) and the untrained encoder.
 *
 *   bench_embed_encoder [DATA_DIR (../shared/data/ml-1m)] [key=value ...]
 *   keys: epochs=5 batch=512 threads=2 dout=128 buckets=65536 lr=0.01
 *         out=DIR (write the bags, pairs, initial weights and our figures
 *         for torch_biencoder.py) quality=1 synth=1 (built-in data)
 *         multi=1 (multi-task: adds the co-occurrence pairs, window 3)
 *
 * Pairs/s = training pairs (query, item) per second, median over epochs. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "data/dataset.h"
#include "data/import.h"
#include "data/querygen.h"
#include "data/synth.h"
#include "embed/baseline.h"
#include "embed/biencoder_train.h"
#include "embed/content.h"
#include "embed/knn.h"
#include "embed/text_encoder.h"
#include "io/npy.h"
#include "semid/semid.h"
#include "text/wordvec.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
    double x[SEMID_BIENCODER_MAX_EPOCHS];
    memcpy(x, v, (size_t)n * sizeof(double));
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "bench_embed_encoder: %s: %s\n", what, semid_last_error());
    return 1;
}

/* Recall@30 of the test queries, encoded by `qv`, against `items`. */
static double search_recall(const semid_dataset *ds, const semid_matrix *qv, const int32_t *truth, const semid_matrix *items) {
    int32_t *top = malloc((size_t)qv->rows * 30 * sizeof(int32_t));
    if (!top || semid_knn_topk(qv->data, qv->rows, items->data, items->rows, items->cols, 30, NULL, top, NULL) != SEMID_OK) {
        free(top);
        return -1;
    }
    int64_t hit = 0;
    for (int64_t q = 0; q < qv->rows; q++)
        for (int k = 0; k < 30; k++) hit += top[q * 30 + k] == truth[q];
    free(top);
    (void)ds;
    return (double)hit / (double)qv->rows;
}

static semid_status write_i64_as_i32(const char *dir, const char *name, const int64_t *v, int64_t n) {
    int32_t *t = malloc((size_t)n * sizeof(int32_t));
    if (!t) return SEMID_ENOMEM;
    for (int64_t k = 0; k < n; k++) t[k] = (int32_t)v[k];
    char *p = semid_path_join(dir, name);
    semid_status st = semid_npy_write_i32(p, t, n, 0);
    free(p), free(t);
    return st;
}

int main(int argc, char **argv) {
    const char *dir = "../shared/data/ml-1m", *out = NULL;
    int epochs = 5, batch = 512, threads = 2, dout = 128, buckets = 65536, quality = 0, synth = 0, multi = 0;
    float lr = 1e-2f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strchr(a, '='))
            dir = a;
        else if (!strncmp(a, "out=", 4))
            out = a + 4;
        else if (sscanf(a, "epochs=%d", &epochs) == 1 || sscanf(a, "batch=%d", &batch) == 1 ||
                 sscanf(a, "threads=%d", &threads) == 1 || sscanf(a, "dout=%d", &dout) == 1 ||
                 sscanf(a, "buckets=%d", &buckets) == 1 || sscanf(a, "lr=%f", &lr) == 1 ||
                 sscanf(a, "quality=%d", &quality) == 1 || sscanf(a, "synth=%d", &synth) == 1 ||
                 sscanf(a, "multi=%d", &multi) == 1) {
        } else {
            fprintf(stderr, "bench_embed_encoder: unknown argument %s\n", a);
            return 2;
        }
    }
    semid_set_threads(threads);
    semid_dataset ds;
    if (!synth && semid_path_exists(dir)) {
        if (semid_import("auto", dir, NULL, &ds) != SEMID_OK) return fail("import");
    } else {
        semid_synth_config sc;
        semid_synth_config_default(&sc);
        if (semid_synth_generate(&sc, 42, &ds) != SEMID_OK) return fail("synthetic data");
        dir = "synthetic";
    }
    if (ds.n_queries == 0) {
        semid_querygen_config qc;
        semid_querygen_config_default(&qc);
        if (semid_querygen_run(&ds, &qc, 42, NULL) != SEMID_OK) return fail("querygen");
    }
    semid_wordvec wv;
    if (semid_wordvec_load_default(&wv) != SEMID_OK) return fail("word vectors");

    /* Texts: items, then training queries; pairs (query, item). */
    const int32_t I = ds.n_items;
    char **item_texts;
    if (semid_item_texts(&ds, &item_texts) != SEMID_OK) return fail("item texts");
    const char **texts = malloc(((size_t)I + ds.n_queries) * sizeof(char *));
    int64_t *left = malloc((size_t)ds.n_queries * sizeof(int64_t)), *right = malloc((size_t)ds.n_queries * sizeof(int64_t));
    int32_t *ids = malloc((size_t)ds.n_queries * sizeof(int32_t));
    const char **test_q = malloc((size_t)ds.n_queries * sizeof(char *));
    int32_t *test_truth = malloc((size_t)ds.n_queries * sizeof(int32_t));
    if (!texts || !left || !right || !ids || !test_q || !test_truth) return fail("memory");
    for (int32_t i = 0; i < I; i++) texts[i] = item_texts[i];
    int64_t n_pairs = 0, n_test = 0;
    for (int32_t q = 0; q < ds.n_queries; q++) {
        if (ds.queries[q].split == SEMID_SPLIT_TRAIN) {
            texts[I + n_pairs] = ds.queries[q].text;
            left[n_pairs] = I + n_pairs;
            right[n_pairs] = ds.queries[q].item;
            ids[n_pairs] = ds.queries[q].item;
            n_pairs++;
        } else if (ds.queries[q].split == SEMID_SPLIT_TEST) {
            test_q[n_test] = ds.queries[q].text;
            test_truth[n_test++] = ds.queries[q].item;
        }
    }
    semid_biencoder_config cfg = semid_biencoder_defaults();
    cfg.encoder.dim_out = dout;
    cfg.encoder.n_buckets = buckets;
    cfg.batch = batch;
    cfg.epochs = epochs;
    cfg.lr = lr;
    cfg.threads = threads;
    semid_text_encoder *enc;
    semid_text_feats *f;
    if (semid_text_encoder_create(&cfg.encoder, texts, I + n_pairs, &wv, &enc) != SEMID_OK) return fail("encoder");
    if (semid_text_encoder_featurize(enc, texts, I + n_pairs, &f) != SEMID_OK) return fail("featurize");
    int64_t occ = 0;
    for (int64_t t = 0; t < I + n_pairs; t++) occ += semid_text_feats_length(f, t);
    printf("data %s: %d items, %lld training pairs, %lld test queries; vocabulary %d (%d from GloVe), %lld words\n", dir, I,
           (long long)n_pairs, (long long)n_test, semid_text_encoder_vocab_size(enc),
           semid_text_encoder_pretrained_words(enc), (long long)occ);

    semid_matrix untrained_items = {0};
    double r_content = -1, r_untrained = -1, r_trained = -1;
    if (quality) {
        if (semid_text_encoder_encode(enc, (const char *const *)item_texts, I, &untrained_items) != SEMID_OK) return fail("encode");
        semid_matrix qv;
        if (semid_text_encoder_encode(enc, test_q, n_test, &qv) != SEMID_OK) return fail("encode");
        r_untrained = search_recall(&ds, &qv, test_truth, &untrained_items);
        semid_matrix_free(&qv);
        semid_content_config cc = semid_content_defaults();
        semid_content_model *cm;
        semid_matrix ci;
        if (semid_content_fit((const char *const *)item_texts, I, &wv, &cc, &cm) != SEMID_OK ||
            semid_content_encode(cm, (const char *const *)item_texts, I, &ci, NULL) != SEMID_OK ||
            semid_content_encode(cm, test_q, n_test, &qv, NULL) != SEMID_OK)
            return fail("content");
        r_content = search_recall(&ds, &qv, test_truth, &ci);
        semid_matrix_free(&qv), semid_matrix_free(&ci);
        semid_content_model_free(cm);
    }

    if (out) {
        /* What the torch peer needs: bags, pairs, initial weights, sizes. */
        int64_t *off;
        int32_t *rows;
        float *wts;
        if (semid_mkdirs(out) != SEMID_OK) return fail("mkdir");
        if (semid_text_feats_bags(enc, f, &off, &rows, &wts) != SEMID_OK) return fail("bags");
        int64_t n_texts = I + n_pairs, n_entries = off[n_texts];
        char *p;
        semid_matrix wm = {n_entries, 1, wts};
        int64_t np;
        float *params = semid_text_encoder_params(enc, &np);
        int64_t rows_emb = (int64_t)semid_text_encoder_vocab_size(enc) + buckets;
        semid_matrix emb = {rows_emb, 100, params};
        semid_matrix W = {dout, 100, params + rows_emb * 100};
        semid_matrix b = {dout, 1, params + rows_emb * 100 + (int64_t)dout * 100};
        if (write_i64_as_i32(out, "offsets.npy", off, n_texts + 1) != SEMID_OK ||
            semid_npy_write_i32((p = semid_path_join(out, "rows.npy")), rows, n_entries, 0) != SEMID_OK)
            return fail("write bags");
        free(p);
        if (semid_npy_write((p = semid_path_join(out, "weights.npy")), &wm) != SEMID_OK) return fail("write weights");
        free(p);
        if (write_i64_as_i32(out, "left.npy", left, n_pairs) != SEMID_OK ||
            write_i64_as_i32(out, "right.npy", right, n_pairs) != SEMID_OK)
            return fail("write pairs");
        if (semid_npy_write((p = semid_path_join(out, "emb.npy")), &emb) != SEMID_OK) return fail("write emb");
        free(p);
        if (semid_npy_write((p = semid_path_join(out, "proj_w.npy")), &W) != SEMID_OK) return fail("write W");
        free(p);
        if (semid_npy_write((p = semid_path_join(out, "proj_b.npy")), &b) != SEMID_OK) return fail("write b");
        free(p);
        free(off), free(rows), free(wts);
    }

    int64_t *rec_l = NULL, *rec_r = NULL, n_rec = 0;
    int32_t *ra = NULL, *rb = NULL;
    if (multi) {
        if (semid_biencoder_rec_pairs(&ds, cfg.rec_window, 0, 7, &ra, &rb, &n_rec) != SEMID_OK) return fail("rec pairs");
        rec_l = malloc((size_t)n_rec * sizeof(int64_t));
        rec_r = malloc((size_t)n_rec * sizeof(int64_t));
        if (!rec_l || !rec_r) return fail("memory");
        for (int64_t k = 0; k < n_rec; k++) rec_l[k] = ra[k], rec_r[k] = rb[k];
        printf("multi-task: %lld co-occurrence pairs (window %d)\n", (long long)n_rec, cfg.rec_window);
    }
    semid_biencoder_stats st;
    double t0 = semid_now(), c0 = cpu_seconds();
    if (semid_biencoder_train_pairs(enc, f, left, right, ids, n_pairs, rec_l, rec_r, rb, n_rec, &cfg, &st) != SEMID_OK)
        return fail("train");
    if (multi) {
        printf("semid multi-task: rec loss");
        for (int e = 0; e < st.epochs; e++) printf(" %.4f", st.rec_loss[e]);
        printf("\n");
    }
    free(rec_l), free(rec_r), free(ra), free(rb);
    double total = semid_now() - t0, cpu = cpu_seconds() - c0;
    double pps[SEMID_BIENCODER_MAX_EPOCHS];
    for (int e = 0; e < st.epochs; e++) pps[e] = (double)n_pairs / st.epoch_seconds[e];
    double med = median(pps, st.epochs);
    printf("semid: batch %d, %d threads, %d epochs in %.1f s; loss", batch, threads, st.epochs, total);
    for (int e = 0; e < st.epochs; e++) printf(" %.4f", st.search_loss[e]);
    printf("\nsemid: %.0f pairs/s (median over epochs); %.0f pairs per CPU-second (%.1f CPU-s in all)\n", med,
           (double)n_pairs * st.epochs / cpu, cpu);

    if (quality) {
        semid_matrix items, qv;
        if (semid_text_encoder_encode(enc, (const char *const *)item_texts, I, &items) != SEMID_OK ||
            semid_text_encoder_encode(enc, test_q, n_test, &qv) != SEMID_OK)
            return fail("encode");
        r_trained = search_recall(&ds, &qv, test_truth, &items);
        printf("search Recall@30 on %lld test queries: content (SIF GloVe) %.4f, untrained encoder %.4f, trained %.4f\n",
               (long long)n_test, r_content, r_untrained, r_trained);
        /* Recommendation with the item vectors: query = mean of the last 10 history items. */
        semid_rec_eval_options ro = semid_rec_eval_defaults();
        ro.exclude_history = true;
        semid_ranking_eval ev;
        if (ds.n_interactions > 0 && semid_baseline_rec_history(&ds, &ro, &items, &ev) == SEMID_OK) {
            printf("rec Recall@30 (history mean of the last 10 items, history excluded): trained %.4f\n",
                   semid_ranking_eval_mean(&ev, SEMID_GROUP_ALL).recall);
            semid_ranking_eval_free(&ev);
        }
        semid_matrix_free(&items), semid_matrix_free(&qv);
        semid_matrix_free(&untrained_items);
    }
    if (out) {
        char json[1024];
        snprintf(json, sizeof(json),
                 "{\"pairs_per_s\": %.1f, \"pairs_per_cpu_s\": %.1f, \"epochs\": %d, \"batch\": %d, \"threads\": %d, \"dim_word\": 100, "
                 "\"dim_out\": %d, \"lr\": %g, \"temperature\": %g, \"n_pairs\": %lld, \"losses\": [",
                 med, (double)n_pairs * st.epochs / cpu, st.epochs, batch, threads, dout, lr, cfg.loss.temperature, (long long)n_pairs);
        for (int e = 0; e < st.epochs; e++)
            snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s%.4f", e ? ", " : "", st.search_loss[e]);
        snprintf(json + strlen(json), sizeof(json) - strlen(json), "]}\n");
        char *p = semid_path_join(out, "semid.json");
        if (semid_write_file_atomic(p, json, strlen(json)) != SEMID_OK) return fail("write json");
        free(p);
    }
    semid_text_feats_free(f);
    semid_text_encoder_free(enc);
    semid_item_texts_free(item_texts, I);
    free(texts), free(left), free(right), free(ids), free(test_q), free(test_truth);
    semid_wordvec_free(&wv);
    semid_dataset_free(&ds);
    return 0;
}
