/* The cold-item rows (cold.*): hybrid.strategy's model, trained on the warm
 * dataset, given the held-out items as `semid catalog add` gives them, and
 * evaluated on the full dataset four ways, warm and cold targets apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "embed/content.h"
#include "embed/text_encoder.h"
#include "exp/stages.h"
#include "gen/catalog.h"
#include "gen/dense.h"
#include "gen/generate.h"
#include "io/npy.h"
#include "quant/tokenizer.h"

const char *const exp_cold_methods[EXP_COLD_N] = {"generative", "expand", "dense", "hybrid"};

/* The trained files of a bundle (gen/train.h), copied so that the model's
 * own directory keeps its catalog as trained. */
static const char *const BUNDLE_FILES[] = {"model.safetensors", "idtable.sid", "items.jsonl", "items.jsonl.sum", NULL};

static semid_status copy_bundle(const char *from, const char *to) {
    SEMID_TRY(semid_mkdirs(to));
    semid_status st = SEMID_OK;
    for (int i = 0; BUNDLE_FILES[i] && st == SEMID_OK; i++) {
        char *src = semid_path_join(from, BUNDLE_FILES[i]), *dst = semid_path_join(to, BUNDLE_FILES[i]);
        char *data = NULL;
        size_t len = 0;
        st = src && dst ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
        if (st == SEMID_OK && semid_path_exists(src)) {
            st = semid_read_file(src, &data, &len);
            if (st == SEMID_OK) st = semid_write_file_atomic(dst, data, len);
        }
        free(data), free(src), free(dst);
    }
    char *cat = semid_path_join(to, SEMID_CATALOG_FILE); /* an earlier attempt's additions */
    if (cat && semid_path_exists(cat) && unlink(cat) != 0) st = semid_fail(SEMID_EIO, "cannot remove %s", cat);
    free(cat);
    return st;
}

/* The cold items' vectors from the frozen text tower, and every item's
 * vectors (the trained ones from the embedding stage) for the dense index. */
static semid_status cold_vectors(const char *enc_path, const char *npy_path, const semid_dataset *full, int32_t n_warm,
                                 semid_matrix *cold, semid_matrix *all) {
    semid_text_encoder *enc = NULL;
    semid_matrix warm = {0};
    int32_t n_cold = full->n_items - n_warm;
    char **texts = calloc((size_t)n_cold, sizeof *texts);
    semid_status st = texts ? semid_text_encoder_load(enc_path, &enc) : semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t i = 0; st == SEMID_OK && i < n_cold; i++)
        if (!(texts[i] = semid_item_text(&full->items[n_warm + i]))) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_text_encoder_encode(enc, (const char *const *)texts, n_cold, cold);
    if (st == SEMID_OK) st = semid_npy_read(npy_path, &warm);
    if (st == SEMID_OK && (warm.rows != n_warm || warm.cols != cold->cols))
        st = semid_fail(SEMID_EINVAL, "%s: %lld x %lld, but %d warm items of width %lld", npy_path, (long long)warm.rows,
                        (long long)warm.cols, n_warm, (long long)cold->cols);
    if (st == SEMID_OK) st = semid_matrix_alloc(all, full->n_items, warm.cols);
    if (st == SEMID_OK) {
        memcpy(all->data, warm.data, (size_t)warm.rows * (size_t)warm.cols * sizeof *all->data);
        memcpy(all->data + warm.rows * warm.cols, cold->data, (size_t)cold->rows * (size_t)cold->cols * sizeof *all->data);
    }
    if (texts) semid_item_texts_free(texts, n_cold);
    semid_text_encoder_free(enc);
    semid_matrix_free(&warm);
    return st;
}

/* The four evaluations of the extended bundle in dir. */
static semid_status evaluate(const exp_config *cfg, const char *dir, const char *encoder, const char *items_npy,
                             const semid_dataset *full, exp_eval out[EXP_COLD_N]) {
    semid_gen_bundle *b = NULL;
    semid_dense dn;
    memset(&dn, 0, sizeof dn);
    semid_dense_source src = {.encoder = encoder, .item_embeddings = items_npy};
    SEMID_TRY(semid_gen_bundle_load(dir, &b));
    semid_status st = semid_dense_open(&src, b, &dn);
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.beam_size = cfg->beam;
    o.beam.k = cfg->k;
    semid_hybrid_options dense = semid_hybrid_defaults(), hs, hr;
    dense.weight = 0; /* the top k by cosine: the dense index's own top k */
    dense.n_dense = cfg->k;
    dense.k = cfg->k;
    exp_hybrid_options(cfg, &hs, &hr);
    hr.dot = 0; /* ENMF has no vector for an item it never saw: rec reads the bi-encoder here */
    semid_dense_task dense_side = {&dn, &dense}, search_side = {&dn, &hs}, rec_side = {&dn, &hr};
    for (int m = 0; m < EXP_COLD_N && st == SEMID_OK; m++) {
        double t0 = semid_now();
        exp_eval *e = &out[m];
        semid_gen_decode_options om = o;
        if (m == EXP_COLD_EXPAND) om.expand_prefix = cfg->cold_expand_prefix;
        if (m <= EXP_COLD_EXPAND) st = semid_gen_evaluate(b, full, SEMID_SPLIT_TEST, &om, &e->search, &e->rec, NULL);
        else
            st = m == EXP_COLD_DENSE
                     ? semid_dense_evaluate(&dense_side, &dense_side, b, full, SEMID_SPLIT_TEST, &o, &e->search, &e->rec)
                     : semid_dense_evaluate(&search_side, &rec_side, b, full, SEMID_SPLIT_TEST, &o, &e->search, &e->rec);
        e->seconds = semid_now() - t0;
    }
    semid_dense_close(&dn);
    semid_gen_bundle_free(b);
    return st;
}

semid_status exp_stage_cold(const exp_config *cfg, const char *run_dir, const semid_dataset *warm,
                            const exp_key *data_key, const exp_key *sid_key, const char *name, int64_t seed,
                            exp_eval out[EXP_COLD_N]) {
    memset(out, 0, sizeof(exp_eval) * EXP_COLD_N);
    const char *method = exp_hybrid_embedding(cfg);
    exp_key key;
    SEMID_TRY(exp_record_key(cfg, run_dir, warm, data_key, sid_key, NULL, name, seed, EXP_RECORD_COLD, &key, NULL));
    exp_record_place model, p;
    exp_record_place_of(name, seed, EXP_RECORD_MODEL, &model);
    exp_record_place_of(name, seed, EXP_RECORD_COLD, &p);
    const char *model_rel = model.stage, *stage = p.stage;
    char tok_rel[160], enc_rel[96], npy_rel[96];
    snprintf(tok_rel, sizeof tok_rel, "sid/%s.tok", name);
    snprintf(enc_rel, sizeof enc_rel, "emb/%s.encoder", method);
    snprintf(npy_rel, sizeof npy_rel, "emb/%s.npy", method);
    char *paths[EXP_COLD_N] = {0};
    int cached = exp_stage_fresh(run_dir, stage, &key);
    semid_status st = SEMID_OK;
    for (int m = 0; m < EXP_COLD_N && st == SEMID_OK; m++) {
        paths[m] = semid_path_join(run_dir, p.rel[m]);
        if (!paths[m]) st = semid_fail(SEMID_ENOMEM, "out of memory");
        else if (cached && exp_eval_load(paths[m], &out[m]) != SEMID_OK) cached = 0, semid_clear_error();
    }
    if (st == SEMID_OK && cached) SEMID_INFO("cold items %s seed %lld: reusing %s", name, (long long)seed, stage);
    if (st == SEMID_OK && !cached) {
        for (int m = 0; m < EXP_COLD_N; m++) exp_eval_free(&out[m]);
        char *model_dir = semid_path_join(run_dir, model_rel), *dir = semid_path_join(run_dir, stage);
        char *tok_path = semid_path_join(run_dir, tok_rel), *enc = semid_path_join(run_dir, enc_rel);
        char *npy = semid_path_join(run_dir, npy_rel);
        char *items_npy = dir ? semid_path_join(dir, "items.npy") : NULL;
        semid_dataset full;
        memset(&full, 0, sizeof full);
        semid_matrix cold = {0}, all = {0};
        semid_tokenizer *tok = NULL;
        st = model_dir && dir && tok_path && enc && npy && items_npy ? exp_stage_dataset_full(cfg, run_dir, &full)
                                                                     : semid_fail(SEMID_ENOMEM, "out of memory");
        int32_t n_warm = warm->n_items;
        double t0 = semid_now();
        if (st == SEMID_OK) st = copy_bundle(model_dir, dir);
        if (st == SEMID_OK) st = semid_tokenizer_load(tok_path, &tok);
        if (st == SEMID_OK) st = cold_vectors(enc, npy, &full, n_warm, &cold, &all);
        semid_catalog_report rep;
        if (st == SEMID_OK)
            st = semid_catalog_add(dir, full.items + n_warm, full.n_items - n_warm, &cold, tok, 0, &rep, NULL);
        if (st == SEMID_OK)
            SEMID_INFO("cold items %s seed %lld: %d items added in %.2f s", name, (long long)seed, full.n_items - n_warm,
                       semid_now() - t0);
        if (st == SEMID_OK) st = semid_npy_write(items_npy, &all);
        if (st == SEMID_OK) st = evaluate(cfg, dir, enc, items_npy, &full, out);
        for (int m = 0; m < EXP_COLD_N && st == SEMID_OK; m++) st = exp_eval_save(&out[m], paths[m]);
        if (st == SEMID_OK) st = exp_stage_mark(run_dir, stage, &key);
        semid_tokenizer_free(tok);
        semid_matrix_free(&cold), semid_matrix_free(&all);
        semid_dataset_free(&full);
        free(model_dir), free(dir), free(tok_path), free(enc), free(npy), free(items_npy);
    }
    for (int m = 0; m < EXP_COLD_N; m++) free(paths[m]);
    if (st != SEMID_OK) {
        semid_fail_context(st, "cold items %s seed %lld", name, (long long)seed);
        for (int m = 0; m < EXP_COLD_N; m++) exp_eval_free(&out[m]);
    }
    return st;
}

/* Copies the rows of `e` whose target is (cold = 1) or is not cold. */
static semid_status subset(const semid_ranking_eval *e, const int32_t *target, int32_t n_warm, int cold,
                           semid_ranking_eval *out) {
    int64_t n = 0;
    for (int64_t i = 0; i < e->n; i++) n += (target[i] >= n_warm) == cold;
    SEMID_TRY(semid_ranking_eval_init(out, n, e->k));
    int64_t j = 0;
    for (int64_t i = 0; i < e->n; i++) {
        if ((target[i] >= n_warm) != cold) continue;
        out->rank[j] = e->rank[i], out->recall[j] = e->recall[i], out->ndcg[j] = e->ndcg[i], out->group[j] = e->group[i];
        j++;
    }
    return SEMID_OK;
}

semid_status exp_cold_split(const semid_dataset *full, int32_t n_warm, const exp_eval *e, exp_eval *warm,
                            exp_eval *cold) {
    memset(warm, 0, sizeof *warm);
    memset(cold, 0, sizeof *cold);
    /* The targets in evaluation order (gen/examples.h): the test queries,
     * then the users with a test item, each in index order. */
    int32_t *qt = malloc((size_t)(full->n_queries > 0 ? full->n_queries : 1) * sizeof *qt);
    int32_t *ut = malloc((size_t)(full->n_users > 0 ? full->n_users : 1) * sizeof *ut);
    int64_t nq = 0, nu = 0;
    semid_status st = qt && ut ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t q = 0; st == SEMID_OK && q < full->n_queries; q++)
        if (semid_dataset_query_tested(full, q)) qt[nq++] = full->queries[q].item;
    for (int32_t u = 0; st == SEMID_OK && u < full->n_users; u++) {
        int32_t t = semid_dataset_user_split(full, u).test_item;
        if (t >= 0) ut[nu++] = t;
    }
    if (st == SEMID_OK && (nq != e->search.n || nu != e->rec.n))
        st = semid_fail(SEMID_EINTERNAL, "cold split: %lld test queries and %lld users, the evaluation has %lld and %lld",
                        (long long)nq, (long long)nu, (long long)e->search.n, (long long)e->rec.n);
    if (st == SEMID_OK) st = subset(&e->search, qt, n_warm, 0, &warm->search);
    if (st == SEMID_OK) st = subset(&e->search, qt, n_warm, 1, &cold->search);
    if (st == SEMID_OK) st = subset(&e->rec, ut, n_warm, 0, &warm->rec);
    if (st == SEMID_OK) st = subset(&e->rec, ut, n_warm, 1, &cold->rec);
    warm->seconds = e->seconds;
    free(qt), free(ut);
    if (st != SEMID_OK) exp_eval_free(warm), exp_eval_free(cold);
    return st;
}
