/* Document frequencies of the catalog's candidate keywords, for their idf
 * (querygen_impl.h). */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/querygen_impl.h"

bool qg_vocab_is_verb(const qg_vocab *v, const char *w) {
    return bsearch(&w, v->verbs, (size_t)v->n_verbs, sizeof(char *), qg_cmp_cstr) != NULL;
}

static void vocab_init_verbs(qg_vocab *v) {
    v->n_verbs = 0;
    for (int32_t t = 0; t < semid_synth_n_topics && t < 32; t++)
        for (int k = 0; k < SEMID_SYNTH_VERBS; k++) v->verbs[v->n_verbs++] = semid_synth_topics[t].verbs[k];
    qsort(v->verbs, (size_t)v->n_verbs, sizeof(char *), qg_cmp_cstr);
}

int32_t qg_vocab_df(const qg_vocab *v, const char *w) {
    int32_t id = semid_id_index_get(v->index, w);
    return id >= 0 ? v->df[id] : 0;
}

/* Adds one document's words (each counted once). */
static semid_status vocab_add_doc(qg_vocab *v, const qg_tokens *ts, int32_t stamp) {
    for (int32_t k = 0; k < ts->n; k++) {
        const char *w = ts->t[k].word;
        if (!qg_is_candidate_word(w)) continue;
        int32_t existing;
        SEMID_TRY(semid_id_index_put(v->index, w, v->n, &existing));
        int32_t id = existing >= 0 ? existing : v->n;
        if (existing < 0) {
            if (v->n == v->cap) {
                int32_t ncap = v->cap ? v->cap * 2 : 4096;
                int32_t *ndf = realloc(v->df, (size_t)ncap * sizeof(int32_t));
                if (ndf) v->df = ndf;
                int32_t *nls = realloc(v->last_doc, (size_t)ncap * sizeof(int32_t));
                if (nls) v->last_doc = nls;
                if (!ndf || !nls) return semid_fail(SEMID_ENOMEM, "out of memory counting words");
                v->cap = ncap;
            }
            v->df[id] = 0;
            v->last_doc[id] = -1;
            v->n++;
        }
        if (v->last_doc[id] != stamp) {
            v->last_doc[id] = stamp;
            v->df[id]++;
        }
    }
    return SEMID_OK;
}

semid_status qg_count_documents(const semid_dataset *ds, qg_vocab *v) {
    memset(v, 0, sizeof *v);
    vocab_init_verbs(v);
    SEMID_TRY(semid_id_index_create(&v->index, 1 << 14));
    semid_status st = SEMID_OK;
    for (int32_t i = 0; i < ds->n_items && st == SEMID_OK; i++) {
        qg_tokens ts;
        for (int pass = 0; pass < 2 && st == SEMID_OK; pass++) {
            st = qg_scan_text(pass == 0 ? ds->items[i].description : ds->items[i].tags, &ts);
            if (st == SEMID_OK) st = vocab_add_doc(v, &ts, i);
            qg_tokens_free(&ts);
        }
    }
    return st;
}

void qg_vocab_free(qg_vocab *v) {
    semid_id_index_free(v->index);
    free(v->df);
    free(v->last_doc);
    memset(v, 0, sizeof *v);
}
