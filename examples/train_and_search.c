/* Train a joint search + recommendation model and query it, with the
 * installed library only:
 *
 *   cc train_and_search.c $(pkg-config --cflags --libs semid) -o train_and_search
 *   ./train_and_search [WORK_DIR] [QUERY ...]
 *
 * It makes a small synthetic catalog (or imports the dataset directory in
 * $SEMID_DATASET), computes content embeddings, turns them into Semantic
 * IDs, trains a tiny generative model into WORK_DIR/model, then searches,
 * recommends and evaluates. */
#include <stdio.h>
#include <stdlib.h>

#include <semid/semid.h>

#define CHECK(call)                                                                      \
    do {                                                                                 \
        semid_status st_ = (call);                                                       \
        if (st_ != SEMID_OK) {                                                           \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, semid_last_error(), semid_status_name(st_)); \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

int main(int argc, char **argv) {
    const char *work = argc > 1 ? argv[1] : "semid-example";
    char model_dir[4096];
    snprintf(model_dir, sizeof model_dir, "%s/model", work);
    semid_set_log_level(SEMID_LOG_WARN);
    printf("semid %s\n", semid_version());

    /* 1. A dataset: your own (SEMID_DATASET=dir) or the built-in synthetic one. */
    semid_data *data = NULL;
    if (getenv("SEMID_DATASET")) {
        CHECK(semid_data_import(getenv("SEMID_DATASET"), NULL, &data));
    } else {
        semid_synth_opts so = semid_synth_opts_default();
        so.n_items = 120;
        so.n_users = 200;
        so.mean_history = 10;
        CHECK(semid_data_synth(&so, &data));
    }
    printf("%d items, %d users, %lld interactions, %d queries\n", semid_data_n_items(data), semid_data_n_users(data),
           (long long)semid_data_n_interactions(data), semid_data_n_queries(data));

    /* 2. Item embeddings and their Semantic IDs (2 levels of 16 codes + a disambiguation level). */
    semid_embeddings *emb = NULL;
    CHECK(semid_embed(data, "content", NULL, &emb));
    semid_ids_opts io = semid_ids_opts_default();
    io.strategy = "content";
    io.codebook = 16;
    io.disambiguate = 1;
    semid_ids *ids = NULL;
    CHECK(semid_ids_build(emb, NULL, data, &io, &ids));
    semid_embeddings_free(emb);

    /* 3. Train (tiny: seconds), in two runs to show resuming. */
    semid_train_opts to = semid_train_opts_default();
    to.layers = 1;
    to.dim = 32;
    to.heads = 2;
    to.epochs = 2;
    to.batch = 32;
    to.valid_sample = 20;
    to.threads = 2;
    semid_trainer *trainer = NULL;
    semid_train_report rep;
    CHECK(semid_trainer_create(data, ids, model_dir, &to, &trainer));
    CHECK(semid_trainer_run(trainer, 5, &rep));
    printf("trained %lld of %lld steps\n", (long long)rep.steps, (long long)rep.total_steps);
    CHECK(semid_trainer_run(trainer, 0, &rep));
    printf("trained %lld steps, loss %.3f, %lld parameters\n", (long long)rep.steps, rep.last_epoch_loss,
           (long long)rep.n_params);
    semid_trainer_free(trainer);

    /* 4. Search a batch of queries. */
    semid_model *model = NULL;
    CHECK(semid_model_load(model_dir, &model));
    const char *defaults[] = {"a space adventure with aliens", "funny family movie"};
    const char *const *queries = argc > 2 ? (const char *const *)argv + 2 : defaults;
    int64_t n = argc > 2 ? argc - 2 : 2;
    semid_decode_opts dec = semid_decode_opts_default();
    dec.k = 5;
    int32_t *items = malloc(sizeof(int32_t) * (size_t)(n * dec.k));
    float *scores = malloc(sizeof(float) * (size_t)(n * dec.k));
    if (!items || !scores) return 1;
    CHECK(semid_search(model, queries, n, &dec, items, scores, NULL));
    for (int64_t q = 0; q < n; q++) {
        printf("search \"%s\":\n", queries[q]);
        for (int j = 0; j < dec.k && items[q * dec.k + j] >= 0; j++)
            printf("  %d. %s  %s  (%.3f)\n", j + 1, semid_model_item_id(model, items[q * dec.k + j]),
                   semid_model_item_title(model, items[q * dec.k + j]), scores[q * dec.k + j]);
    }

    /* 5. Recommend for the first user, from their history. */
    int64_t len = 0;
    const int32_t *history = semid_data_user_items(data, 0, &len);
    int64_t offsets[2] = {0, len};
    CHECK(semid_recommend(model, history, offsets, 1, &dec, items, scores, NULL));
    printf("recommended for user %s:", semid_data_user_id(data, 0));
    for (int j = 0; j < dec.k && items[j] >= 0; j++) printf(" %s", semid_model_item_id(model, items[j]));
    printf("\n");

    /* 6. Recall@30 on the test split. */
    dec.k = 30;
    semid_eval_result ev;
    CHECK(semid_evaluate(model, data, "test", &dec, &ev));
    printf("Recall@%d: search %.3f (%lld queries), recommendation %.3f (%lld users)\n", ev.k, ev.search.recall,
           (long long)ev.search.n, ev.rec.recall, (long long)ev.rec.n);

    free(items);
    free(scores);
    semid_model_free(model);
    semid_ids_free(ids);
    semid_data_free(data);
    return 0;
}
