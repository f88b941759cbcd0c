/* Evaluating personalised search with a bundle (generate.h): each test
 * user's query with the history in one prompt (examples.h), and without. */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/querygen.h"
#include "gen/generate.h"

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
    SEMID_TRY(semid_gen_check_personal(b));
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
