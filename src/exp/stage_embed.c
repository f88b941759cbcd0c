#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "dist/dist.h"
#include "embed/embed_methods.h"
#include "exp/stages.h"
#include "io/npy.h"

static char *emb_path(const char *run_dir, const char *method, const char *suffix) {
    char name[128];
    snprintf(name, sizeof name, "emb/%s%s", method, suffix);
    return semid_path_join(run_dir, name);
}

static semid_embed_settings settings_of(const exp_config *cfg) {
    semid_embed_settings s = semid_embed_settings_default();
    s.word_vectors = cfg->glove[0] ? cfg->glove : NULL;
    s.biencoder.encoder.dim_out = cfg->embed_dim;
    s.biencoder.epochs = cfg->embed_epochs;
    s.biencoder.batch = cfg->embed_batch;
    s.biencoder.lr = (float)cfg->embed_lr;
    s.enmf.dim = cfg->enmf_dim;
    s.enmf.epochs = cfg->enmf_epochs;
    s.seed = (uint64_t)cfg->seeds[0];
    return s;
}

/* Computes the method's vectors and writes what later stages read beside
 * them: a bi-encoder as emb/<method>.encoder, ENMF's user vectors as
 * emb/<method>_users.npy. */
static semid_status compute(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                            const semid_embed_method *m, const semid_matrix *const inputs[2], semid_matrix *out) {
    semid_embed_settings s = settings_of(cfg);
    semid_text_encoder *enc = NULL;
    semid_matrix users = {0};
    semid_biencoder_stats *stats = m->kind == SEMID_EMBED_BIENCODER ? calloc(1, sizeof *stats) : NULL;
    if (m->kind == SEMID_EMBED_BIENCODER && !stats) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_embed_extras x = {.encoder = &enc, .stats = stats, .users = &users};
    /* One rank's (docs/distributed.md): under mpirun every rank computes
     * the embeddings itself, from its own cache, so a bi-encoder must not
     * wait for the other ranks; and one process's bits keep the ranks'
     * Semantic IDs those of a single-process run. */
    int solo = semid_dist_solo_push();
    semid_status st = semid_embed_compute(ds, m, &s, inputs, out, &x);
    semid_dist_solo_pop(solo);
    if (st == SEMID_OK && stats)
        SEMID_INFO("embeddings %s: %d epochs, last loss %.4f, %.0f pairs/s", m->name, stats->epochs,
                   stats->search_loss[stats->epochs > 0 ? stats->epochs - 1 : 0], stats->pairs_per_second);
    char *side = NULL;
    if (st == SEMID_OK && (enc || m->kind == SEMID_EMBED_ENMF)) {
        side = enc ? emb_path(run_dir, m->name, ".encoder") : emb_path(run_dir, m->name, "_users.npy");
        if (!side) st = semid_fail(SEMID_ENOMEM, "out of memory");
        else st = enc ? semid_text_encoder_save(enc, side) : semid_npy_write(side, &users);
    }
    free(side);
    free(stats);
    semid_text_encoder_free(enc);
    semid_matrix_free(&users);
    if (st != SEMID_OK) semid_matrix_free(out);
    return st;
}

semid_status exp_stage_embedding(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                 const exp_key *data_key, const char *method, semid_matrix *out, exp_key *key) {
    memset(out, 0, sizeof *out);
    const semid_embed_method *m;
    SEMID_TRY(semid_embed_method_lookup(method, "embedding method", &m));
    /* A fused method's inputs first: their keys are its upstream. */
    semid_matrix in[2] = {{0}, {0}};
    semid_status st = SEMID_OK;
    if (m->kind == SEMID_EMBED_FUSED) {
        exp_key k[2];
        for (int i = 0; i < 2 && st == SEMID_OK; i++)
            st = exp_stage_embedding(cfg, run_dir, ds, data_key, m->inputs[i], &in[i], &k[i]);
        if (st == SEMID_OK) {
            exp_key both = exp_key_combine(&k[0], &k[1]);
            st = exp_key_embedding(cfg, &both, method, key);
        }
    } else {
        st = exp_key_embedding(cfg, data_key, method, key);
    }

    char stage[64];
    snprintf(stage, sizeof stage, "emb/%s", method);
    char *dir = semid_path_join(run_dir, "emb");
    char *path = emb_path(run_dir, method, ".npy");
    if (st == SEMID_OK) st = dir && path ? semid_mkdirs(dir) : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK && exp_stage_fresh(run_dir, stage, key) && semid_npy_read(path, out) == SEMID_OK &&
        out->rows == ds->n_items) {
        SEMID_INFO("embeddings %s: reusing %s", method, path);
    } else if (st == SEMID_OK) {
        semid_matrix_free(out);
        double t0 = semid_now();
        SEMID_INFO("embeddings %s: computing", method);
        const semid_matrix *const inputs[2] = {&in[0], &in[1]};
        st = compute(cfg, run_dir, ds, m, inputs, out);
        if (st == SEMID_OK) st = semid_npy_write(path, out);
        if (st == SEMID_OK) st = exp_stage_mark(run_dir, stage, key);
        if (st == SEMID_OK)
            SEMID_INFO("embeddings %s: %lld x %lld in %.1f s", method, (long long)out->rows, (long long)out->cols,
                       semid_now() - t0);
        else semid_fail_context(st, "embeddings %s", method);
    }
    if (st != SEMID_OK) semid_matrix_free(out);
    semid_matrix_free(&in[0]);
    semid_matrix_free(&in[1]);
    free(dir);
    free(path);
    return st;
}

char *exp_encoder_path(const char *run_dir, const char *method) { return emb_path(run_dir, method, ".encoder"); }

semid_status exp_stage_word_encoder(const exp_config *cfg, const char *run_dir, const semid_dataset *ds,
                                    const exp_key *data_key) {
    const char *method = exp_word_encoder(cfg);
    if (!method) return SEMID_OK;
    semid_matrix vectors;
    exp_key key;
    SEMID_TRY(exp_stage_embedding(cfg, run_dir, ds, data_key, method, &vectors, &key));
    semid_matrix_free(&vectors);
    return SEMID_OK;
}
