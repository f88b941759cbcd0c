/* The trainable text encoder, the InfoNCE loss and bi-encoder training:
 * finite-difference gradient checks, the dedup forward against the flat
 * bags, save/load, determinism, and retrieval after training on a small
 * synthetic problem made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/rng.h"
#include "data/builder.h"
#include "embed/biencoder_train.h"
#include "embed/contrastive.h"
#include "embed/knn.h"
#include "embed/text_encoder.h"
#include "linalg/vec.h"
#include "semid/semid.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* |a - n| small relative to the larger, with a floor for float rounding. */
static void check_close(double analytic, double numeric, const char *what, int64_t k) {
    double tol = 1e-2 * fmax(fabs(analytic), fabs(numeric)) + 3e-4;
    if (fabs(analytic - numeric) > tol) {
        fprintf(stderr, "%s[%lld]: analytic %.6g numeric %.6g\n", what, (long long)k, analytic, numeric);
        fail();
    }
}

/* ---------------------------------------------------------------- InfoNCE */

/* The loss in double precision, straight from the definition. */
static double infonce_ref(const float *A, const float *P, const int32_t *ids, int B, int D, double tau, int sym) {
    double lr = 0, lc = 0;
    for (int i = 0; i < B; i++) {
        double s_ii = 0, sum_r = 0, sum_c = 0;
        for (int d = 0; d < D; d++) s_ii += (double)A[i * D + d] * P[i * D + d];
        for (int j = 0; j < B; j++) {
            if (j != i && ids && ids[i] == ids[j]) continue;
            double sr = 0, sc = 0;
            for (int d = 0; d < D; d++) sr += (double)A[i * D + d] * P[j * D + d], sc += (double)A[j * D + d] * P[i * D + d];
            sum_r += exp(sr / tau), sum_c += exp(sc / tau);
        }
        lr += log(sum_r) - s_ii / tau;
        lc += log(sum_c) - s_ii / tau;
    }
    return sym ? 0.5 * (lr + lc) / B : lr / B;
}

static void test_infonce_gradients(void **state) {
    (void)state;
    enum { B = 6, D = 5 };
    semid_rng r;
    semid_rng_seed(&r, 7);
    float A[B * D], P[B * D];
    for (int k = 0; k < B * D; k++) A[k] = (float)semid_rng_normal(&r) * 0.5f, P[k] = (float)semid_rng_normal(&r) * 0.5f;
    const int32_t ids[B] = {0, 1, 2, 1, 4, 5}; /* pairs 1 and 3 share their item */
    float p_row[B * B], p_col[B * B], dS[B * B];
    for (int sym = 0; sym <= 1; sym++) {
        for (int use_ids = 0; use_ids <= 1; use_ids++) {
            semid_infonce_config c = {.temperature = 0.2f, .symmetric = sym};
            const int32_t *id = use_ids ? ids : NULL;
            float loss = semid_infonce_forward(p_row, p_col, A, P, id, B, D, &c);
            double ref = infonce_ref(A, P, id, B, D, 0.2, sym);
            assert_true(fabs(loss - ref) < 1e-4 * fmax(1.0, fabs(ref)));
            float dA[B * D] = {0}, dP[B * D] = {0};
            semid_infonce_backward(dA, dP, dS, p_row, p_col, A, P, B, D, &c, 2.0f); /* weight 2 */
            for (int k = 0; k < B * D; k++) {
                const double h = 1e-3;
                float a0 = A[k];
                A[k] = a0 + (float)h;
                double lp = infonce_ref(A, P, id, B, D, 0.2, sym);
                A[k] = a0 - (float)h;
                double lm = infonce_ref(A, P, id, B, D, 0.2, sym);
                A[k] = a0;
                check_close(dA[k], 2.0 * (lp - lm) / (2 * h), "dA", k);
                float p0 = P[k];
                P[k] = p0 + (float)h;
                lp = infonce_ref(A, P, id, B, D, 0.2, sym);
                P[k] = p0 - (float)h;
                lm = infonce_ref(A, P, id, B, D, 0.2, sym);
                P[k] = p0;
                check_close(dP[k], 2.0 * (lp - lm) / (2 * h), "dP", k);
            }
        }
    }
    /* Masked entries get probability zero; rows sum to one. */
    semid_infonce_config c = {.temperature = 0.05f, .symmetric = 0};
    semid_infonce_forward(p_row, NULL, A, P, ids, B, D, &c);
    assert_true(p_row[1 * B + 3] == 0.0f && p_row[3 * B + 1] == 0.0f);
    for (int i = 0; i < B; i++) {
        double s = 0;
        for (int j = 0; j < B; j++) s += p_row[i * B + j];
        assert_true(fabs(s - 1.0) < 1e-5);
    }
}

/* ---------------------------------------------------------------- encoder */

static const char *k_texts[] = {
    "The space station orbits a distant planet",
    "A detective solves the murder in Paris",
    "Romance and music in war time",
    "Robots explore the planet; the detective waits",
    "",
    "music music music",
};
enum { N_TEXTS = 6 };

static semid_text_encoder *small_encoder(void) {
    semid_text_encoder_config c = semid_text_encoder_defaults();
    c.dim_word = 6;
    c.dim_out = 4;
    c.n_buckets = 16;
    c.ngram_min = 3;
    c.ngram_max = 4;
    c.init_std = 0.5f;
    c.seed = 3;
    semid_text_encoder *enc;
    assert_int_equal(semid_text_encoder_create(&c, k_texts, N_TEXTS, NULL, &enc), SEMID_OK);
    /* n-gram rows start at zero; give them values so their gradients matter. */
    int64_t n;
    float *p = semid_text_encoder_params(enc, &n);
    int64_t nE = (int64_t)semid_text_encoder_vocab_size(enc) * c.dim_word;
    semid_rng r;
    semid_rng_seed(&r, 11);
    for (int64_t k = nE; k < n; k++) p[k] = (float)semid_rng_normal(&r) * 0.5f;
    return enc;
}

/* Loss = Σ coef · y over the batch: a linear probe of the outputs. */
static double probe_loss(semid_text_encoder *enc, const semid_text_feats *f, const int64_t *idx, int B,
                         const float *coef) {
    float y[8 * 4];
    assert_int_equal(semid_text_encoder_forward(enc, f, idx, B, y), SEMID_OK);
    double s = 0;
    for (int k = 0; k < B * 4; k++) s += (double)coef[k] * y[k];
    return s;
}

static void test_encoder_gradients(void **state) {
    (void)state;
    semid_text_encoder *enc = small_encoder();
    semid_text_feats *f;
    assert_int_equal(semid_text_encoder_featurize(enc, k_texts, N_TEXTS, &f), SEMID_OK);
    /* Text 3 repeats words of 0 and 1 (shared rows); 4 is empty; index 0 twice. */
    const int64_t idx[] = {0, 1, 2, 3, 4, 5, 0};
    const int B = 7;
    float coef[8 * 4];
    semid_rng r;
    semid_rng_seed(&r, 5);
    for (int k = 0; k < B * 4; k++) coef[k] = (float)semid_rng_normal(&r);
    float y[8 * 4];
    semid_text_encoder_zero_grad(enc);
    assert_int_equal(semid_text_encoder_forward(enc, f, idx, B, y), SEMID_OK);
    for (int d = 0; d < 4; d++) assert_true(y[4 * 4 + d] == 0.0f); /* empty text -> zero row */
    assert_int_equal(semid_text_encoder_backward(enc, coef), SEMID_OK);
    int64_t n;
    float *p = semid_text_encoder_params(enc, &n);
    float *g = semid_text_encoder_grads(enc, &n);
    float *analytic = malloc((size_t)n * sizeof(float));
    memcpy(analytic, g, (size_t)n * sizeof(float));
    int64_t nonzero = 0;
    for (int64_t k = 0; k < n; k++) {
        const float h = 1e-2f;
        float p0 = p[k];
        p[k] = p0 + h;
        double lp = probe_loss(enc, f, idx, B, coef);
        p[k] = p0 - h;
        double lm = probe_loss(enc, f, idx, B, coef);
        p[k] = p0;
        double numeric = (lp - lm) / (2.0 * h);
        check_close(analytic[k], numeric, "param", k);
        nonzero += fabs(numeric) > 1e-3;
    }
    /* Every part of the buffer (E, N, W, b) took part. */
    assert_true(nonzero > n / 3);
    /* zero_grad clears everything that backward wrote. */
    semid_text_encoder_zero_grad(enc);
    for (int64_t k = 0; k < n; k++) assert_true(g[k] == 0.0f);
    free(analytic);
    semid_text_feats_free(f);
    semid_text_encoder_free(enc);
}

/* What data-parallel training exchanges (embed/biencoder_dist.h): the
 * touched rows' bitmap is the rows of the batch's bags; rows marked from
 * another rank's bitmap join the next step (weight decay moves them with a
 * zero gradient) while unmarked ones stay; zero_grad forgets them all. */
static void test_touched_rows(void **state) {
    (void)state;
    semid_text_encoder *enc = small_encoder();
    semid_text_feats *f;
    assert_int_equal(semid_text_encoder_featurize(enc, k_texts, N_TEXTS, &f), SEMID_OK);
    int64_t *off;
    int32_t *rows;
    float *wts;
    assert_int_equal(semid_text_feats_bags(enc, f, &off, &rows, &wts), SEMID_OK);
    const int64_t R = semid_text_encoder_rows(enc), words = (R + 63) / 64;
    assert_int_equal(R, semid_text_encoder_vocab_size(enc) + 16);
    uint64_t *bits = calloc((size_t)words, sizeof *bits), *want = calloc((size_t)words, sizeof *want);
    uint64_t *other = calloc((size_t)words, sizeof *other);
    for (int t = 0; t <= 2; t += 2) /* the batch: texts 0 and 2 */
        for (int64_t k = off[t]; k < off[t + 1]; k++) want[rows[k] / 64] |= UINT64_C(1) << (rows[k] % 64);
    int64_t extra = -1; /* a row of text 1 that the batch does not touch */
    for (int64_t k = off[1]; k < off[2] && extra < 0; k++)
        if (!(want[rows[k] / 64] >> (rows[k] % 64) & 1)) extra = rows[k];
    assert_true(extra >= 0);
    int64_t still = -1; /* and another that neither touches nor marks */
    for (int64_t k = off[1]; k < off[N_TEXTS] && still < 0; k++)
        if (!(want[rows[k] / 64] >> (rows[k] % 64) & 1) && rows[k] != extra) still = rows[k];
    assert_true(still >= 0);
    const int64_t idx[] = {0, 2};
    float y[2 * 4], dy[2 * 4] = {1, -2, 0.5f, 3, -1, 2, 1, -0.5f};
    semid_text_encoder_zero_grad(enc);
    assert_int_equal(semid_text_encoder_forward(enc, f, idx, 2, y), SEMID_OK);
    assert_int_equal(semid_text_encoder_backward(enc, dy), SEMID_OK);
    semid_text_encoder_touched_bits(enc, bits);
    for (int64_t w = 0; w < words; w++) assert_true(bits[w] == want[w]);
    int64_t n;
    float *g = semid_text_encoder_grads(enc, &n), *p = semid_text_encoder_params(enc, &n);
    assert_ptr_equal(semid_text_encoder_row_grad(enc, extra), g + extra * 6);
    /* another rank's row joins the step */
    other[extra / 64] |= UINT64_C(1) << (extra % 64);
    semid_text_encoder_touch_bits(enc, other);
    memset(bits, 0, (size_t)words * sizeof *bits);
    semid_text_encoder_touched_bits(enc, bits);
    assert_true(bits[extra / 64] >> (extra % 64) & 1);
    float before_extra = p[extra * 6], before_still = p[still * 6];
    semid_adamw_config ac = semid_adamw_defaults();
    ac.lr = 0.1f;
    ac.weight_decay = 0.5f;
    semid_text_encoder_opt opt = {0};
    assert_int_equal(semid_text_encoder_opt_init(&opt, enc, &ac), SEMID_OK);
    semid_text_encoder_step(enc, &opt);
    assert_true(p[extra * 6] != before_extra);
    assert_true(p[still * 6] == before_still);
    semid_text_encoder_zero_grad(enc);
    memset(bits, 0, (size_t)words * sizeof *bits);
    semid_text_encoder_touched_bits(enc, bits);
    for (int64_t w = 0; w < words; w++) assert_true(bits[w] == 0);
    /* the texts' checksum: the same texts the same value, others another */
    semid_text_feats *f2, *f3;
    assert_int_equal(semid_text_encoder_featurize(enc, k_texts, N_TEXTS, &f2), SEMID_OK);
    assert_int_equal(semid_text_encoder_featurize(enc, k_texts, N_TEXTS - 1, &f3), SEMID_OK);
    assert_true(semid_text_feats_checksum(f) == semid_text_feats_checksum(f2));
    assert_true(semid_text_feats_checksum(f) != semid_text_feats_checksum(f3));
    semid_text_feats_free(f2), semid_text_feats_free(f3);
    semid_text_encoder_opt_free(&opt);
    free(bits), free(want), free(other), free(off), free(rows), free(wts);
    semid_text_feats_free(f);
    semid_text_encoder_free(enc);
}

/* The word-first forward equals the flat weighted bags a peer would use. */
static void test_forward_matches_bags(void **state) {
    (void)state;
    semid_text_encoder *enc = small_encoder();
    /* "spaceships" and "planets" are out of the vocabulary: n-grams only. */
    const char *texts[] = {"space planets orbit", "spaceships", "detective murder music", ""};
    semid_text_feats *f;
    assert_int_equal(semid_text_encoder_featurize(enc, texts, 4, &f), SEMID_OK);
    int64_t *off;
    int32_t *rows;
    float *wts;
    assert_int_equal(semid_text_feats_bags(enc, f, &off, &rows, &wts), SEMID_OK);
    int64_t n;
    const float *p = semid_text_encoder_params(enc, &n);
    const int V = semid_text_encoder_vocab_size(enc), Din = 6, Dout = 4;
    const float *W = p + (int64_t)(V + 16) * Din, *b = W + Dout * Din;
    semid_matrix y;
    assert_int_equal(semid_text_encoder_encode(enc, texts, 4, &y), SEMID_OK);
    for (int t = 0; t < 4; t++) {
        double h[6] = {0}, z[4], nrm = 0;
        for (int64_t k = off[t]; k < off[t + 1]; k++)
            for (int d = 0; d < Din; d++) h[d] += wts[k] * p[(int64_t)rows[k] * Din + d];
        for (int o = 0; o < Dout; o++) {
            z[o] = off[t + 1] > off[t] ? b[o] : 0.0;
            for (int d = 0; d < Din; d++) z[o] += W[o * Din + d] * h[d];
            nrm += z[o] * z[o];
        }
        nrm = sqrt(nrm);
        for (int o = 0; o < Dout; o++) assert_true(fabs((nrm > 0 ? z[o] / nrm : 0.0) - y.data[t * Dout + o]) < 1e-5);
    }
    assert_true(semid_norm2(y.data + Dout, Dout) > 0.9f); /* OOV word still encodes */
    assert_true(semid_norm2(y.data + 3 * Dout, Dout) == 0.0f);
    semid_matrix_free(&y);
    free(off), free(rows), free(wts);
    semid_text_feats_free(f);
    semid_text_encoder_free(enc);
}

static void test_save_load(void **state) {
    (void)state;
    semid_text_encoder *enc = small_encoder();
    char *path = semid_path_join(tmpdir, "enc.safetensors");
    assert_int_equal(semid_text_encoder_save(enc, path), SEMID_OK);
    semid_text_encoder *back;
    assert_int_equal(semid_text_encoder_load(path, &back), SEMID_OK);
    assert_int_equal(semid_text_encoder_vocab_size(back), semid_text_encoder_vocab_size(enc));
    const char *texts[] = {"a detective on a distant planet", "unseen wordz"};
    semid_matrix a, b;
    assert_int_equal(semid_text_encoder_encode(enc, texts, 2, &a), SEMID_OK);
    assert_int_equal(semid_text_encoder_encode(back, texts, 2, &b), SEMID_OK);
    assert_memory_equal(a.data, b.data, sizeof(float) * 2 * 4);
    semid_matrix_free(&a), semid_matrix_free(&b);
    /* Encoding does not depend on the thread count. */
    int old = semid_get_threads();
    const char *many[300];
    for (int i = 0; i < 300; i++) many[i] = k_texts[i % N_TEXTS];
    semid_set_threads(1);
    assert_int_equal(semid_text_encoder_encode(enc, many, 300, &a), SEMID_OK);
    semid_set_threads(2);
    assert_int_equal(semid_text_encoder_encode(enc, many, 300, &b), SEMID_OK);
    semid_set_threads(old);
    assert_memory_equal(a.data, b.data, sizeof(float) * 300 * 4);
    semid_matrix_free(&a), semid_matrix_free(&b);
    /* The loaded encoder's word vectors: one per vocabulary word, each the
     * word encoded alone (what a generative model's words can start from). */
    semid_wordvec wv;
    assert_int_equal(semid_text_encoder_word_vectors(back, &wv), SEMID_OK);
    assert_int_equal(wv.n_words, semid_text_encoder_vocab_size(enc));
    assert_int_equal(wv.dim, 4);
    const char *one[] = {"detective"};
    assert_int_equal(semid_text_encoder_encode(enc, one, 1, &a), SEMID_OK);
    int32_t at = semid_wordvec_find(&wv, "detective");
    assert_true(at >= 0);
    assert_memory_equal(wv.vectors + (int64_t)at * 4, a.data, sizeof(float) * 4);
    assert_true(semid_wordvec_find(&wv, "planet") >= 0 && semid_wordvec_find(&wv, "unseen") < 0);
    semid_matrix_free(&a);
    semid_wordvec_free(&wv);
    semid_text_encoder_free(back);
    /* A truncated file is refused cleanly. */
    char *raw;
    size_t len;
    assert_int_equal(semid_read_file(path, &raw, &len), SEMID_OK);
    assert_int_equal(semid_write_file_atomic(path, raw, len - 4), SEMID_OK);
    assert_int_equal(semid_text_encoder_load(path, &back), SEMID_EFORMAT);
    assert_int_equal(semid_write_file_atomic(path, "garbage!", 8), SEMID_OK);
    assert_int_not_equal(semid_text_encoder_load(path, &back), SEMID_OK);
    free(raw);
    free(path);
    semid_text_encoder_free(enc);
}

/* ------------------------------------------------------ training, retrieval */

/* Items are (topic, attribute) pairs named by words of one vocabulary;
 * queries use synonyms from another, so only training can link them. */
enum { TOPICS = 8, ATTRS = 6, SYN = 3, TRAIN_Q = 8, TEST_Q = 3 };

static void rand_word(semid_rng *r, char *w) {
    int len = 5 + (int)semid_rng_below(r, 3);
    for (int k = 0; k < len; k++) w[k] = (char)('a' + semid_rng_below(r, 26));
    w[len] = '\0';
}

static void make_dataset(semid_dataset *ds, int with_users) {
    semid_rng r;
    semid_rng_seed(&r, 99);
    char topic[TOPICS][8], attr[ATTRS][8], tsyn[TOPICS][SYN][8], asyn[ATTRS][SYN][8];
    for (int t = 0; t < TOPICS; t++) {
        rand_word(&r, topic[t]);
        for (int s = 0; s < SYN; s++) rand_word(&r, tsyn[t][s]);
    }
    for (int a = 0; a < ATTRS; a++) {
        rand_word(&r, attr[a]);
        for (int s = 0; s < SYN; s++) rand_word(&r, asyn[a][s]);
    }
    semid_dataset_builder *b;
    assert_int_equal(semid_builder_create(&b, "enc-test"), SEMID_OK);
    for (int t = 0; t < TOPICS; t++)
        for (int a = 0; a < ATTRS; a++) {
            char id[16], title[80];
            snprintf(id, sizeof(id), "i%d_%d", t, a);
            snprintf(title, sizeof(title), "%s %s", topic[t], attr[a]);
            semid_item it = {.id = id, .title = title, .year = 0, .genres = "", .description = "", .tags = ""};
            int32_t idx;
            assert_int_equal(semid_builder_add_item(b, &it, &idx), SEMID_OK);
            for (int q = 0; q < TRAIN_Q + TEST_Q; q++) {
                char text[64];
                snprintf(text, sizeof(text), "%s %s", tsyn[t][semid_rng_below(&r, SYN)], asyn[a][semid_rng_below(&r, SYN)]);
                assert_int_equal(semid_builder_add_query(b, idx, text, q < TRAIN_Q ? SEMID_SPLIT_TRAIN : SEMID_SPLIT_TEST),
                                 SEMID_OK);
            }
        }
    if (with_users) {
        /* Users walk within one topic, so same-topic items co-occur. */
        for (int u = 0; u < 40; u++) {
            char uid[16];
            snprintf(uid, sizeof(uid), "u%d", u);
            int t = u % TOPICS;
            for (int k = 0; k < 8; k++) {
                char id[16];
                snprintf(id, sizeof(id), "i%d_%d", t, (int)semid_rng_below(&r, ATTRS));
                assert_int_equal(semid_builder_add_interaction(b, uid, id, k), SEMID_OK);
            }
        }
    }
    assert_int_equal(semid_builder_finish(b, ds), SEMID_OK);
}

static semid_biencoder_config small_config(void) {
    semid_biencoder_config c = semid_biencoder_defaults();
    c.encoder.dim_word = 24;
    c.encoder.dim_out = 16;
    c.encoder.n_buckets = 512;
    c.batch = 32;
    c.epochs = 12;
    c.lr = 0.02f;
    c.loss.temperature = 0.1f;
    c.threads = 2;
    return c;
}

/* Recall@1 of the test queries of ds against item vectors `items`. */
static double recall_at_1(const semid_dataset *ds, const semid_text_encoder *enc, const semid_matrix *items) {
    const char *texts[TOPICS * ATTRS * TEST_Q] = {0};
    int32_t truth[TOPICS * ATTRS * TEST_Q];
    int n = 0;
    for (int32_t q = 0; q < ds->n_queries; q++)
        if (ds->queries[q].split == SEMID_SPLIT_TEST) texts[n] = ds->queries[q].text, truth[n++] = ds->queries[q].item;
    semid_matrix qv;
    assert_int_equal(semid_text_encoder_encode(enc, texts, n, &qv), SEMID_OK);
    int32_t top[TOPICS * ATTRS * TEST_Q];
    assert_int_equal(semid_knn_topk(qv.data, n, items->data, items->rows, items->cols, 1, NULL, top, NULL), SEMID_OK);
    int hit = 0;
    for (int k = 0; k < n; k++) hit += top[k] == truth[k];
    semid_matrix_free(&qv);
    return (double)hit / n;
}

static void test_search_training_retrieves(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds, 0);
    semid_biencoder_config c = small_config();
    /* Untrained: the same encoder before any step. */
    c.epochs = 1;
    c.lr = 1e-12f;
    semid_text_encoder *enc0;
    semid_matrix items0;
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, &enc0, &items0, NULL), SEMID_OK);
    double r0 = recall_at_1(&ds, enc0, &items0);

    c = small_config();
    semid_text_encoder *enc;
    semid_matrix items;
    semid_biencoder_stats st;
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, &enc, &items, &st), SEMID_OK);
    double r1 = recall_at_1(&ds, enc, &items);
    fprintf(stderr, "search recall@1 untrained %.3f trained %.3f; loss %.3f -> %.3f; %.0f pairs/s\n", r0, r1,
            st.search_loss[0], st.search_loss[st.epochs - 1], st.pairs_per_second);
    assert_int_equal(st.epochs, c.epochs);
    assert_int_equal(st.n_search_pairs, TOPICS * ATTRS * TRAIN_Q);
    assert_true(st.search_loss[st.epochs - 1] < 0.5 * st.search_loss[0]);
    assert_true(r1 > 0.6);
    assert_true(r1 > r0 + 0.3);
    for (int64_t i = 0; i < items.rows; i++) assert_true(fabsf(semid_norm2(items.data + i * items.cols, items.cols) - 1.0f) < 1e-4f);

    /* Same seed and threads: the same vectors, bit for bit. */
    semid_text_encoder *enc2;
    semid_matrix items2;
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, &enc2, &items2, NULL), SEMID_OK);
    assert_memory_equal(items.data, items2.data, sizeof(float) * items.rows * items.cols);
    /* ... and another thread count too (every reduction has a fixed order). */
    semid_text_encoder *enc3;
    semid_matrix items3;
    c.threads = 1;
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, &enc3, &items3, NULL), SEMID_OK);
    double maxdiff = 0;
    for (int64_t k = 0; k < items.rows * items.cols; k++) maxdiff = fmax(maxdiff, fabs(items.data[k] - items3.data[k]));
    fprintf(stderr, "1 vs 2 threads: largest difference %.3g\n", maxdiff);
    assert_true(maxdiff < 1e-3);

    semid_matrix_free(&items0), semid_matrix_free(&items), semid_matrix_free(&items2), semid_matrix_free(&items3);
    semid_text_encoder_free(enc0), semid_text_encoder_free(enc), semid_text_encoder_free(enc2), semid_text_encoder_free(enc3);
    semid_dataset_free(&ds);
}

static void test_multitask_training(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds, 1);
    int32_t *a, *b;
    int64_t n;
    assert_int_equal(semid_biencoder_rec_pairs(&ds, 3, 0, 1, &a, &b, &n), SEMID_OK);
    assert_true(n > 0);
    for (int64_t k = 0; k < n; k++) {
        assert_true(a[k] != b[k]);
        assert_int_equal(ds.items[a[k]].id[1], ds.items[b[k]].id[1]); /* same topic digit */
    }
    free(a), free(b);
    assert_int_equal(semid_biencoder_rec_pairs(&ds, 3, 10, 1, &a, &b, &n), SEMID_OK);
    assert_int_equal(n, 10);
    free(a), free(b);

    semid_biencoder_config c = small_config();
    c.task = SEMID_BIENCODER_MULTITASK;
    semid_text_encoder *enc;
    semid_matrix items;
    semid_biencoder_stats st;
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, &enc, &items, &st), SEMID_OK);
    assert_true(st.n_rec_pairs > 0);
    assert_true(st.rec_loss[st.epochs - 1] < st.rec_loss[0]);
    assert_true(st.search_loss[st.epochs - 1] < 0.5 * st.search_loss[0]);
    assert_true(recall_at_1(&ds, enc, &items) > 0.5);
    semid_matrix_free(&items);
    semid_text_encoder_free(enc);
    semid_dataset_free(&ds);
}

static void test_bad_config(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds, 0);
    semid_biencoder_config c = small_config();
    c.batch = 1;
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, NULL, NULL, NULL), SEMID_EINVAL);
    c = small_config();
    c.loss.temperature = 0;
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, NULL, NULL, NULL), SEMID_EINVAL);
    c = small_config();
    c.task = SEMID_BIENCODER_MULTITASK; /* no interactions */
    assert_int_equal(semid_biencoder_train(&ds, NULL, &c, NULL, NULL, NULL), SEMID_EINVAL);
    semid_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_infonce_gradients),
        cmocka_unit_test(test_encoder_gradients),
        cmocka_unit_test(test_forward_matches_bags),
        cmocka_unit_test(test_touched_rows),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_search_training_retrieves),
        cmocka_unit_test(test_multitask_training),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
