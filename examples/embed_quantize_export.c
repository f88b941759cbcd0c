/* From vectors to Semantic IDs and files other tools read, with the
 * installed library only:
 *
 *   cc embed_quantize_export.c $(pkg-config --cflags --libs semid) -o embed_quantize_export
 *   ./embed_quantize_export [OUT_DIR]
 *
 * It makes a small synthetic catalog, computes content embeddings and saves
 * them as .npy + an id list, fits an RQ-KMeans quantizer on them and reports
 * its error, builds an ID table and exports it (JSON and TSV), then gives a
 * new item an ID (cold start) with the saved quantizer. */
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

static const char *in_dir(const char *dir, const char *name) {
    static char buf[4][4096];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : ".";
    semid_set_log_level(SEMID_LOG_WARN);

    semid_synth_opts so = semid_synth_opts_default();
    so.n_items = 200;
    so.n_users = 100;
    so.queries_per_item = 0;
    semid_data *data = NULL;
    CHECK(semid_data_synth(&so, &data));

    /* Embeddings, saved for numpy: np.load("content.npy"), one id a line in items.txt. */
    semid_embeddings *emb = NULL;
    CHECK(semid_embed(data, "content", NULL, &emb));
    CHECK(semid_embeddings_save(emb, in_dir(out, "content.npy"), in_dir(out, "items.txt")));
    int64_t rows = semid_embeddings_rows(emb), cols = semid_embeddings_cols(emb);
    const float *x = semid_embeddings_data(emb);
    printf("embeddings: %lld x %lld -> %s\n", (long long)rows, (long long)cols, in_dir(out, "content.npy"));

    /* A quantizer: 3 levels of 16 codes. */
    semid_quantizer_opts qo = semid_quantizer_opts_default();
    qo.levels = 3;
    qo.codebook = 16;
    qo.threads = 2;
    semid_quantizer *q = NULL;
    CHECK(semid_quantizer_fit(x, rows, cols, &qo, &q));
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)rows * 3);
    float *approx = malloc(sizeof(float) * (size_t)(rows * cols));
    if (!codes || !approx) return 1;
    CHECK(semid_quantizer_encode(q, x, rows, cols, codes));
    for (int32_t levels = 1; levels <= 3; levels++) {
        CHECK(semid_quantizer_reconstruct(q, codes, rows, levels, approx));
        double err = 0;
        for (int64_t i = 0; i < rows * cols; i++) err += (approx[i] - x[i]) * (approx[i] - x[i]);
        printf("reconstruction error with %d level%s: %.4f per item\n", levels, levels > 1 ? "s" : "", err / (double)rows);
    }
    printf("item %s has codes %d %d %d\n", semid_embeddings_item_id(emb, 0), codes[0], codes[1], codes[2]);
    CHECK(semid_quantizer_save(q, in_dir(out, "content.tok")));

    /* An ID table (what the generative model trains on), as JSON and TSV. */
    semid_ids_opts io = semid_ids_opts_default();
    io.strategy = "content";
    io.levels = 2;
    io.codebook = 16;
    io.disambiguate = 1;
    semid_ids *ids = NULL;
    CHECK(semid_ids_build(emb, NULL, data, &io, &ids));
    semid_collisions before;
    CHECK(semid_ids_collisions(ids, SEMID_SEARCH, &before));
    printf("ID table: %d items, %d levels, %d tokens, %d distinct IDs\n", semid_ids_n_items(ids), semid_ids_n_levels(ids),
           semid_ids_n_tokens(ids), before.distinct_ids);
    CHECK(semid_ids_save(ids, in_dir(out, "content.sid")));
    CHECK(semid_ids_export_tsv(ids, in_dir(out, "content.tsv")));

    /* Cold start: a new item near item 0 gets tokens from the table's quantizer. */
    float *fresh = malloc(sizeof(float) * (size_t)cols);
    int32_t tokens[3];
    if (!fresh) return 1;
    for (int64_t j = 0; j < cols; j++) fresh[j] = x[j] + 0.01f * (float)(j % 3);
    CHECK(semid_ids_encode_new(ids, NULL, SEMID_SEARCH, fresh, 1, cols, tokens));
    printf("a new item near %s gets tokens %d %d %d\n", semid_ids_item_id(ids, 0), tokens[0], tokens[1], tokens[2]);

    free(fresh);
    free(codes);
    free(approx);
    semid_ids_free(ids);
    semid_quantizer_free(q);
    semid_embeddings_free(emb);
    semid_data_free(data);
    return 0;
}
