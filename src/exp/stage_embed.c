#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "embed/biencoder_train.h"
#include "embed/content.h"
#include "embed/enmf.h"
#include "embed/fusion.h"
#include "exp/stages.h"
#include "io/npy.h"
#include "text/wordvec.h"

static char *emb_path(const char *run_dir, const char *method, const char *suffix) {
    char name[128];
    snprintf(name, sizeof name, "emb/%s%s", method, suffix);
    return semid_path_join(run_dir, name);
}

static semid_status load_wordvec(const exp_config *cfg, semid_wordvec *wv) {
    if (cfg->glove[0]) return semid_wordvec_load(cfg->glove, 0, wv);
    return semid_wordvec_load_default(wv);
}

static semid_status embed_content(const exp_config *cfg, const semid_dataset *ds, semid_matrix *out) {
    semid_wordvec wv;
    SEMID_TRY(load_wordvec(cfg, &wv));
    semid_content_config cc = semid_content_defaults();
    semid_status st = semid_content_embed(ds, &wv, &cc, out);
    semid_wordvec_free(&wv);
    return st;
}

static semid_status embed_biencoder(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                    const char *method, semid_matrix *out) {
    semid_wordvec wv;
    SEMID_TRY(load_wordvec(cfg, &wv));
    semid_biencoder_config bc = semid_biencoder_defaults();
    bc.task = strcmp(method, "multi") == 0 ? SEMID_BIENCODER_MULTITASK : SEMID_BIENCODER_SEARCH;
    bc.encoder.dim_out = cfg->embed_dim;
    bc.epochs = cfg->embed_epochs;
    bc.batch = cfg->embed_batch;
    bc.lr = (float)cfg->embed_lr;
    bc.seed = (uint64_t)cfg->seeds[0];
    bc.encoder.seed = (uint64_t)cfg->seeds[0];
    semid_text_encoder *enc = NULL;
    semid_biencoder_stats *stats = calloc(1, sizeof *stats);
    if (!stats) {
        semid_wordvec_free(&wv);
        return semid_fail(SEMID_ENOMEM, "out of memory");
    }
    semid_status st = semid_biencoder_train(ds, &wv, &bc, &enc, out, stats);
    semid_wordvec_free(&wv);
    if (st == SEMID_OK)
        SEMID_INFO("embeddings %s: %d epochs, last loss %.4f, %.0f pairs/s", method, stats->epochs,
                   stats->search_loss[stats->epochs > 0 ? stats->epochs - 1 : 0], stats->pairs_per_second);
    free(stats);
    if (st != SEMID_OK) return st;
    char *encoder_path = emb_path(run_dir, method, ".encoder");
    st = encoder_path ? semid_text_encoder_save(enc, encoder_path) : semid_fail(SEMID_ENOMEM, "out of memory");
    free(encoder_path);
    semid_text_encoder_free(enc);
    if (st != SEMID_OK) semid_matrix_free(out);
    return st;
}

static semid_status embed_enmf(const exp_config *cfg, const char *run_dir, const semid_dataset *ds, semid_matrix *out) {
    semid_enmf_config ec = semid_enmf_defaults();
    ec.dim = cfg->enmf_dim;
    ec.epochs = cfg->enmf_epochs;
    ec.seed = (uint64_t)cfg->seeds[0];
    int64_t *offsets = NULL;
    int32_t *items = NULL;
    SEMID_TRY(semid_enmf_train_csr(ds, &offsets, &items));
    semid_enmf_data data = {ds->n_users, ds->n_items, offsets, items};
    semid_enmf model;
    semid_status st = semid_enmf_train(&model, &ec, &data, NULL, NULL);
    free(offsets);
    free(items);
    if (st != SEMID_OK) return st;
    semid_matrix users = {0};
    st = semid_enmf_item_vectors(&model, out);
    if (st == SEMID_OK) st = semid_enmf_user_vectors(&model, &users);
    char *users_path = emb_path(run_dir, "rec_users", ".npy");
    if (st == SEMID_OK) st = users_path ? semid_npy_write(users_path, &users) : semid_fail(SEMID_ENOMEM, "out of memory");
    free(users_path);
    semid_matrix_free(&users);
    semid_enmf_free(&model);
    return st;
}

semid_status exp_stage_embedding(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                 const exp_key *data_key, const char *method, semid_matrix *out, exp_key *key) {
    memset(out, 0, sizeof *out);
    int fused = strcmp(method, "fused_concat") == 0 || strcmp(method, "fused_svd") == 0;
    semid_matrix search = {0}, rec = {0};
    semid_status st;
    if (fused) {
        exp_key ks, kr;
        SEMID_TRY(exp_stage_embedding(cfg, run_dir, ds, data_key, "search", &search, &ks));
        semid_status s = exp_stage_embedding(cfg, run_dir, ds, data_key, "rec", &rec, &kr);
        if (s != SEMID_OK) {
            semid_matrix_free(&search);
            return s;
        }
        exp_key both = exp_key_combine(&ks, &kr);
        st = exp_key_embedding(cfg, &both, method, key);
    } else {
        st = exp_key_embedding(cfg, data_key, method, key);
    }
    if (st != SEMID_OK) {
        semid_matrix_free(&search);
        semid_matrix_free(&rec);
        return st;
    }

    char stage[64];
    snprintf(stage, sizeof stage, "emb/%s", method);
    char *dir = semid_path_join(run_dir, "emb");
    char *path = emb_path(run_dir, method, ".npy");
    st = dir && path ? semid_mkdirs(dir) : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK && exp_stage_fresh(run_dir, stage, key) && semid_npy_read(path, out) == SEMID_OK &&
        out->rows == ds->n_items) {
        SEMID_INFO("embeddings %s: reusing %s", method, path);
    } else if (st == SEMID_OK) {
        semid_matrix_free(out);
        double t0 = semid_now();
        SEMID_INFO("embeddings %s: computing", method);
        if (strcmp(method, "fused_concat") == 0) st = semid_fuse_concat(&search, &rec, out);
        else if (strcmp(method, "fused_svd") == 0) st = semid_fuse_svd(&search, &rec, out);
        else if (strcmp(method, "rec") == 0) st = embed_enmf(cfg, run_dir, ds, out);
        else if (strcmp(method, "content") == 0) st = embed_content(cfg, ds, out);
        else st = embed_biencoder(cfg, run_dir, ds, method, out);
        if (st == SEMID_OK) st = semid_npy_write(path, out);
        if (st == SEMID_OK) st = exp_stage_mark(run_dir, stage, key);
        if (st == SEMID_OK)
            SEMID_INFO("embeddings %s: %lld x %lld in %.1f s", method, (long long)out->rows, (long long)out->cols,
                       semid_now() - t0);
        else semid_fail_context(st, "embeddings %s", method);
    }
    if (st != SEMID_OK) semid_matrix_free(out);
    semid_matrix_free(&search);
    semid_matrix_free(&rec);
    free(dir);
    free(path);
    return st;
}
