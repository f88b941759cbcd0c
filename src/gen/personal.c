/* Personalised search with a bundle (generate.h): a query with the user's
 * history in one prompt (examples.h), decoded in the search ID space. */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/querygen.h"
#include "gen/generate.h"

static semid_status check_personal(const semid_gen_bundle *b) {
    if (b->personal) return SEMID_OK;
    return semid_fail(SEMID_EINVAL,
                      "this model was trained without personalised search (a query with a history): retrain it with "
                      "--personal-share (e.g. 0.25), or search without the history");
}

semid_status semid_gen_search_personal(const semid_gen_bundle *b, const char *const *queries,
                                       const int32_t *const *histories, const int64_t *lengths, int64_t n,
                                       const semid_gen_decode_options *o, semid_beam_hits *out, int32_t *n_unknown) {
    memset(out, 0, sizeof *out);
    SEMID_TRY(check_personal(b));
    int excl = 0;
    SEMID_TRY(semid_gen_check_histories(b, histories, lengths, n, o, &excl));
    int32_t T = b->ex.max_seq_len;
    int32_t *tok = malloc((size_t)(n > 0 ? n : 1) * (size_t)T * sizeof *tok);
    semid_beam_query *q = calloc((size_t)(n > 0 ? n : 1), sizeof *q);
    semid_status st = tok && q ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory for %lld queries", (long long)n);
    for (int64_t i = 0; i < n && st == SEMID_OK; i++) {
        q[i].prompt = tok + i * T;
        st = semid_gen_prompt_personal(&b->vocab, &b->table, &b->ex, histories[i], lengths[i],
                                       queries[i] ? queries[i] : "", tok + i * T, &q[i].prompt_len,
                                       n_unknown ? &n_unknown[i] : NULL);
        if (excl) {
            q[i].exclude = histories[i];
            q[i].n_exclude = (int32_t)(lengths[i] < INT32_MAX ? lengths[i] : INT32_MAX);
        }
    }
    if (st == SEMID_OK) st = semid_gen_bundle_decode(b, SEMID_TASK_SEARCH, q, n, o, out);
    free(tok);
    free(q);
    return st;
}

/* Decodes a pool of evaluation prompts into e (initialised here). */
static semid_status evaluate_pool(const semid_gen_bundle *b, const semid_gen_seqs *seqs, const uint8_t *head,
                                  const semid_gen_decode_options *o, semid_ranking_eval *e) {
    int excl = o->exclude_history < 0 ? !b->items_repeat : o->exclude_history;
    semid_beam_space sp = semid_gen_bundle_space(b);
    semid_beam_hits hits = {0};
    SEMID_TRY(semid_gen_decode_seqs(b->model, &b->table, b->trie, &sp, seqs, NULL, seqs->n, o, excl, &hits));
    semid_status st = semid_ranking_eval_init(e, seqs->n, o->beam.k);
    for (int64_t j = 0; j < seqs->n && st == SEMID_OK; j++) {
        const semid_gen_seq *s = &seqs->seq[j];
        semid_ranking_eval_set(e, j, hits.items + j * hits.k, hits.n_hits[j], s->target,
                               head[s->target] ? SEMID_GROUP_HEAD : SEMID_GROUP_TORSO);
    }
    semid_beam_hits_free(&hits);
    return st;
}

semid_status semid_gen_evaluate_personal(const semid_gen_bundle *b, const semid_dataset *ds, int split, int level,
                                         const semid_gen_decode_options *o, semid_ranking_eval *personal,
                                         semid_ranking_eval *plain) {
    memset(personal, 0, sizeof *personal);
    memset(plain, 0, sizeof *plain);
    SEMID_TRY(check_personal(b));
    SEMID_TRY(semid_gen_check_dataset(b, ds));
    uint8_t *role = malloc((size_t)(ds->n_queries > 0 ? ds->n_queries : 1));
    uint8_t *head = malloc((size_t)(ds->n_items > 0 ? ds->n_items : 1));
    semid_querygen_profiles *profiles = NULL;
    semid_gen_seqs with = {0}, without = {0};
    semid_status st = role && head ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK && semid_dataset_head_items(ds, 0.01, head) < 0) st = SEMID_ENOMEM;
    if (st == SEMID_OK) {
        semid_gen_query_roles(ds, &b->ex, role);
        st = semid_querygen_profiles_build(ds, role, &profiles);
    }
    if (st == SEMID_OK)
        st = semid_gen_examples_personal_eval(ds, &b->table, &b->vocab, profiles, &b->ex, split, level, 1, &with);
    if (st == SEMID_OK)
        st = semid_gen_examples_personal_eval(ds, &b->table, &b->vocab, profiles, &b->ex, split, level, 0, &without);
    if (st == SEMID_OK) st = evaluate_pool(b, &with, head, o, personal);
    if (st == SEMID_OK) st = evaluate_pool(b, &without, head, o, plain);
    if (st != SEMID_OK) {
        semid_ranking_eval_free(personal);
        semid_ranking_eval_free(plain);
    }
    semid_gen_seqs_free(&with);
    semid_gen_seqs_free(&without);
    semid_querygen_profiles_free(profiles);
    free(role);
    free(head);
    return st;
}
