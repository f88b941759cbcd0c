#include "embed/embed_methods.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/names.h"
#include "base/status.h"
#include "embed/content.h"
#include "embed/fusion.h"
#include "text/wordvec.h"

/* Table order is the order of help texts. */
static const semid_embed_method METHODS[] = {
    {"content", SEMID_EMBED_CONTENT, 0, {NULL, NULL}, NULL},
    {"search", SEMID_EMBED_BIENCODER, SEMID_BIENCODER_SEARCH, {NULL, NULL}, NULL},
    {"rec", SEMID_EMBED_ENMF, 0, {NULL, NULL}, NULL},
    {"multi", SEMID_EMBED_BIENCODER, SEMID_BIENCODER_MULTITASK, {NULL, NULL}, NULL},
    {"fused_concat", SEMID_EMBED_FUSED, 0, {"search", "rec"}, semid_fuse_concat},
    {"fused_svd", SEMID_EMBED_FUSED, 0, {"search", "rec"}, semid_fuse_svd},
};
enum { N_METHODS = sizeof METHODS / sizeof METHODS[0] };

const char *semid_embed_method_name_at(int i) { return i >= 0 && i < N_METHODS ? METHODS[i].name : NULL; }

const semid_embed_method *semid_embed_method_find(const char *name) {
    int i = semid_names_index(semid_embed_method_name_at, name);
    return i < 0 ? NULL : &METHODS[i];
}

semid_status semid_embed_method_lookup(const char *name, const char *what, const semid_embed_method **out) {
    *out = semid_embed_method_find(name);
    return *out ? SEMID_OK : semid_fail_unknown(what, name, semid_embed_method_name_at);
}

semid_embed_settings semid_embed_settings_default(void) {
    semid_embed_settings s;
    memset(&s, 0, sizeof s);
    s.biencoder = semid_biencoder_defaults();
    s.enmf = semid_enmf_defaults();
    s.seed = 42;
    return s;
}

static semid_status embed_text(const semid_dataset *ds, const semid_embed_method *m, const semid_embed_settings *s,
                               semid_matrix *out, semid_embed_extras *x) {
    semid_wordvec wv;
    memset(&wv, 0, sizeof wv);
    SEMID_TRY(s->word_vectors ? semid_wordvec_load(s->word_vectors, 0, &wv) : semid_wordvec_load_default(&wv));
    semid_status st;
    if (m->kind == SEMID_EMBED_CONTENT) {
        semid_content_config cc = semid_content_defaults();
        st = semid_content_embed(ds, &wv, &cc, out);
    } else {
        semid_biencoder_config bc = s->biencoder;
        bc.task = m->task;
        bc.encoder.dim_word = wv.dim;
        bc.seed = s->seed;
        bc.encoder.seed = s->seed;
        st = semid_biencoder_train(ds, &wv, &bc, x ? x->encoder : NULL, out, x ? x->stats : NULL);
    }
    semid_wordvec_free(&wv);
    return st;
}

static semid_status embed_enmf(const semid_dataset *ds, const semid_embed_settings *s, semid_matrix *out,
                               semid_embed_extras *x) {
    semid_enmf_config cfg = s->enmf;
    cfg.seed = s->seed;
    int64_t *offsets = NULL;
    int32_t *items = NULL;
    SEMID_TRY(semid_enmf_train_csr(ds, &offsets, &items));
    semid_enmf_data data = {ds->n_users, ds->n_items, offsets, items};
    SEMID_INFO("enmf: %d users, %d items, %lld training interactions, dim %d, %d epochs", ds->n_users, ds->n_items,
               (long long)offsets[ds->n_users], cfg.dim, cfg.epochs);
    semid_enmf model;
    memset(&model, 0, sizeof model);
    semid_status st = semid_enmf_train(&model, &cfg, &data, NULL, NULL);
    free(offsets);
    free(items);
    if (st == SEMID_OK) st = semid_enmf_item_vectors(&model, out);
    if (st == SEMID_OK && x && x->users) st = semid_enmf_user_vectors(&model, x->users);
    if (st != SEMID_OK) semid_matrix_free(out);
    semid_enmf_free(&model);
    return st;
}

semid_status semid_embed_compute(const semid_dataset *ds, const semid_embed_method *m, const semid_embed_settings *s,
                                 const semid_matrix *const inputs[2], semid_matrix *out, semid_embed_extras *extras) {
    memset(out, 0, sizeof *out);
    switch (m->kind) {
    case SEMID_EMBED_CONTENT:
    case SEMID_EMBED_BIENCODER: return embed_text(ds, m, s, out, extras);
    case SEMID_EMBED_ENMF: return embed_enmf(ds, s, out, extras);
    case SEMID_EMBED_FUSED:
        if (!inputs || !inputs[0] || !inputs[1])
            return semid_fail(SEMID_EINTERNAL, "embeddings %s: the %s and %s vectors were not given", m->name,
                              m->inputs[0], m->inputs[1]);
        return m->fuse(inputs[0], inputs[1], out);
    }
    return semid_fail(SEMID_EINTERNAL, "embedding method %s has no kind", m->name);
}
