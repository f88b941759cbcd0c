/* Silent corruption (issue 13, defect 7): every kind of file semid writes
 * and reads back carries a checksum, and one flipped byte in it is an
 * error naming the file as corrupt, where before it loaded and gave other
 * results. For each kind: the file as written loads; a flipped payload
 * byte is "PATH is corrupt ... expected X ... found Y"; SEMID_NO_VERIFY=1
 * loads it anyway; the same file without its checksum (as another program
 * or an older semid writes it) loads unchecked. Then the same through the
 * CLI on a trained bundle (as `semid serve` loads it too).
 *
 * Before the fix, each flipped file below loaded with SEMID_OK (the .sdd
 * excepted: it had a checksum, now named with both values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "embed/text_encoder.h"
#include "exp/stages.h"
#include "gen/generate.h"
#include "gen/model.h"
#include "gen/train.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "quant/idtable.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"
#include "support/testutil.h"
#include "text/wordvec.h"

static char *tmpdir;

static char *tmp_path(const char *name) { return semid_path_join(tmpdir, name); }

static void read_all(const char *path, char **data, size_t *len) {
    assert_int_equal(semid_read_file(path, data, len), SEMID_OK);
}

/* Offset of the first `what` in d[0..n) (binary data too). */
static int64_t find_bytes(const char *d, size_t n, const char *what) {
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(d + i, what, k) == 0) return (int64_t)i;
    fail_msg("'%s' not found", what);
    return -1;
}

/* Rewrites `path` in place (not through semid: the sidecar stays) with the
 * bits `mask` of byte `at` flipped (at < 0: from the end). */
static void flip(const char *path, int64_t at, unsigned char mask) {
    char *d;
    size_t n;
    read_all(path, &d, &n);
    size_t pos = at >= 0 ? (size_t)at : n - (size_t)(-at);
    assert_true(pos < n);
    d[pos] ^= (char)mask;
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(d, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    free(d);
}

/* Cuts `drop` bytes off the end (a trailer) in place. */
static void cut_end(const char *path, size_t drop) {
    char *d;
    size_t n;
    read_all(path, &d, &n);
    assert_true(n >= drop);
    FILE *fp = fopen(path, "wb");
    assert_int_equal(fwrite(d, 1, n - drop, fp), n - drop);
    assert_int_equal(fclose(fp), 0);
    free(d);
}

/* The last error says `path` is corrupt and gives both checksums. */
static void assert_corrupt(const char *path) {
    const char *msg = semid_last_error();
    char want[600];
    snprintf(want, sizeof want, "%s is corrupt", path);
    if (!strstr(msg, want)) fail_msg("expected '%s' in: %s", want, msg);
    if (!strstr(msg, "expected") || !strstr(msg, "found") || !strstr(msg, "SEMID_NO_VERIFY"))
        fail_msg("expected both checksums and the way out in: %s", msg);
}

/* ---- .npy and id lists: sidecars ---- */

static void test_npy(void **state) {
    (void)state;
    char *path = tmp_path("emb.npy"), *sum = tmp_path("emb.npy.sum");
    semid_matrix m, back;
    assert_int_equal(semid_matrix_alloc(&m, 5, 3), SEMID_OK);
    for (int i = 0; i < 15; i++) m.data[i] = 0.25f * (float)i - 1.0f;
    assert_int_equal(semid_npy_write(path, &m), SEMID_OK);
    assert_true(semid_path_exists(sum));
    assert_int_equal(semid_npy_read(path, &back), SEMID_OK);
    assert_memory_equal(back.data, m.data, sizeof(float) * 15);
    semid_matrix_free(&back);

    flip(path, -3, 0x01); /* a mantissa bit of the last value: still finite */
    assert_int_equal(semid_npy_read(path, &back), SEMID_EFORMAT);
    assert_corrupt(path);
    assert_non_null(strstr(semid_last_error(), "emb.npy.sum"));
    test_verify_off();
    assert_int_equal(semid_npy_read(path, &back), SEMID_OK);
    assert_true(back.data[14] != m.data[14]); /* what a load without the check gives */
    semid_matrix_free(&back);
    test_verify_on();
    /* written by numpy (no sidecar): loads unchecked */
    assert_int_equal(unlink(sum), 0);
    assert_int_equal(semid_npy_read(path, &back), SEMID_OK);
    semid_matrix_free(&back);

    /* int32 codes */
    int32_t codes[6] = {1, 2, 3, 4, 5, 6}, *c = NULL;
    int64_t rows, cols;
    assert_int_equal(semid_npy_write_i32(path, codes, 3, 2), SEMID_OK);
    assert_int_equal(semid_npy_read_i32(path, &c, &rows, &cols), SEMID_OK);
    free(c);
    flip(path, -4, 0x02);
    assert_int_equal(semid_npy_read_i32(path, &c, &rows, &cols), SEMID_EFORMAT);
    assert_corrupt(path);
    test_verify_off();
    assert_int_equal(semid_npy_read_i32(path, &c, &rows, &cols), SEMID_OK);
    assert_int_equal(c[5], 6 ^ 2);
    free(c);
    test_verify_on();

    /* the id list beside embeddings */
    char *ids_path = tmp_path("items.txt");
    char *ids[3] = {"a1", "b2", "c3"}, **got = NULL;
    int64_t n = 0;
    assert_int_equal(semid_idlist_write(ids_path, ids, 3), SEMID_OK);
    assert_int_equal(semid_idlist_read(ids_path, &got, &n), SEMID_OK);
    semid_idlist_free(got, n);
    flip(ids_path, 1, 0x02); /* "a1" -> "a3": another item's row */
    assert_int_equal(semid_idlist_read(ids_path, &got, &n), SEMID_EFORMAT);
    assert_corrupt(ids_path);
    test_verify_off();
    assert_int_equal(semid_idlist_read(ids_path, &got, &n), SEMID_OK);
    assert_string_equal(got[0], "a3");
    semid_idlist_free(got, n);
    test_verify_on();
    free(ids_path);

    semid_matrix_free(&m);
    free(path);
    free(sum);
}

/* ---- safetensors: the checksum in __metadata__ ---- */

static void test_safetensors(void **state) {
    (void)state;
    char *path = tmp_path("t.safetensors");
    float w[64];
    for (int i = 0; i < 64; i++) w[i] = (float)i * 0.5f;
    semid_st_tensor_ref t = {.name = "w", .data = w, .ndim = 2, .shape = {8, 8}};
    const char *k[1] = {"note"}, *v[1] = {"hello"};
    assert_int_equal(semid_safetensors_write(path, &t, 1, k, v, 1), SEMID_OK);
    char *d;
    size_t n;
    read_all(path, &d, &n);
    assert_non_null(strstr(d + 8, "\"__metadata__\":{\"semid_checksum\":\"xxh64:"));
    free(d);
    semid_safetensors st;
    assert_int_equal(semid_safetensors_read(path, &st), SEMID_OK);
    assert_int_equal(st.n_meta, 1); /* the checksum is not listed */
    assert_string_equal(semid_safetensors_meta(&st, "note"), "hello");
    assert_null(semid_safetensors_meta(&st, "semid_checksum"));
    semid_safetensors_free(&st);

    /* a data byte, a metadata byte, the length prefix: each corrupt */
    const int64_t spots[3] = {-7, 0, 0};
    for (int s = 0; s < 3; s++) {
        int64_t at = spots[s];
        if (s == 1) {
            read_all(path, &d, &n);
            at = strstr(d + 8, "hello") - d;
            free(d);
        }
        unsigned char mask = s == 2 ? 0x40 : 0x01;
        flip(path, at, mask);
        assert_int_equal(semid_safetensors_read(path, &st), SEMID_EFORMAT);
        assert_corrupt(path);
        flip(path, at, mask);
        assert_int_equal(semid_safetensors_read(path, &st), SEMID_OK);
        semid_safetensors_free(&st);
    }
    flip(path, -7, 0x01);
    test_verify_off();
    assert_int_equal(semid_safetensors_read(path, &st), SEMID_OK);
    semid_safetensors_free(&st);
    test_verify_on();

    /* a file of another program: no checksum, unchecked */
    const char hdr[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    unsigned char file[8 + sizeof hdr - 1 + 8] = {(unsigned char)(sizeof hdr - 1)};
    memcpy(file + 8, hdr, sizeof hdr - 1);
    char *other = tmp_path("other.safetensors");
    assert_int_equal(semid_write_file_atomic(other, file, sizeof file), SEMID_OK);
    assert_int_equal(semid_safetensors_read(other, &st), SEMID_OK);
    semid_safetensors_free(&st);
    /* one that carries a semid_checksum, but not as semid writes it */
    const char hdr2[] = "{\"__metadata__\":{\"semid_checksum\": \"xxh64:0123456789abcdef\"}}";
    unsigned char file2[8 + sizeof hdr2 - 1] = {(unsigned char)(sizeof hdr2 - 1)};
    memcpy(file2 + 8, hdr2, sizeof hdr2 - 1);
    assert_int_equal(semid_write_file_atomic(other, file2, sizeof file2), SEMID_OK);
    assert_int_equal(semid_safetensors_read(other, &st), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "is corrupt"));
    free(other);

    /* a caller's semid_checksum entry is replaced, not doubled */
    const char *k2[2] = {"semid_checksum", "x"}, *v2[2] = {"xxh64:0000000000000001", "y"};
    assert_int_equal(semid_safetensors_write(path, &t, 1, k2, v2, 2), SEMID_OK);
    assert_int_equal(semid_safetensors_read(path, &st), SEMID_OK);
    assert_int_equal(st.n_meta, 1);
    semid_safetensors_free(&st);
    free(path);
}

/* ---- a model checkpoint ---- */

static void test_model_checkpoint(void **state) {
    (void)state;
    semid_gpt_config cfg = {.vocab_size = 23, .max_seq_len = 8, .n_layer = 1, .n_head = 2, .d_model = 8};
    semid_gpt *m, *back = NULL;
    assert_int_equal(semid_gpt_create(&cfg, 7, &m), SEMID_OK);
    char *path = tmp_path("model.safetensors");
    assert_int_equal(semid_gpt_save(m, path, "{\"k\":1}"), SEMID_OK);
    assert_int_equal(semid_gpt_load(path, &back, NULL), SEMID_OK);
    semid_gpt_free(back);
    flip(path, -1000, 0x01); /* the lowest mantissa bit of a weight */
    assert_int_equal(semid_gpt_load(path, &back, NULL), SEMID_EFORMAT);
    assert_null(back);
    assert_corrupt(path);
    test_verify_off();
    assert_int_equal(semid_gpt_load(path, &back, NULL), SEMID_OK);
    semid_gpt_free(back);
    test_verify_on();
    semid_gpt_free(m);
    free(path);
}

/* ---- the ID table: a "checksum" field on its first line ---- */

static void make_table(semid_idtable *t) {
    int32_t sizes[2] = {4, 4};
    assert_int_equal(semid_idtable_create(t, "content", "rqkmeans", 6, 1, 2, sizes, 0), SEMID_OK);
    for (int32_t i = 0; i < 6; i++) {
        t->codes[i * 2] = i % 4;
        t->codes[i * 2 + 1] = (i / 4) % 4;
    }
    char *ids[6] = {"m0", "m1", "m2", "m3", "m4", "m5"};
    assert_int_equal(semid_idtable_set_item_ids(t, ids), SEMID_OK);
    semid_idtable_update_fingerprint(t);
}

static void test_idtable(void **state) {
    (void)state;
    semid_idtable t, back;
    make_table(&t);
    char *path = tmp_path("ids.sid");
    assert_int_equal(semid_idtable_save(&t, path), SEMID_OK);
    char *d;
    size_t n;
    read_all(path, &d, &n);
    assert_true(strncmp(d, "{\"format\": \"semid-idtable\", \"version\": 1, \"checksum\": \"xxh64:", 60) == 0);
    int64_t id_at = strstr(d, "\"m3\"") - d + 2; /* the '3' of an item id: not in the fingerprint */
    free(d);
    assert_int_equal(semid_idtable_load(path, &back), SEMID_OK);
    semid_idtable_free(&back);
    flip(path, id_at, 0x08); /* '3' ^ 8 = ';': item 3 becomes "m;" */
    assert_int_equal(semid_idtable_load(path, &back), SEMID_EFORMAT);
    assert_corrupt(path);
    test_verify_off();
    assert_int_equal(semid_idtable_load(path, &back), SEMID_OK); /* before: loaded, item 3 renamed */
    assert_string_equal(back.item_ids[3], "m;");
    semid_idtable_free(&back);
    test_verify_on();

    /* without the field (an older semid's table): unchecked */
    assert_int_equal(semid_idtable_save(&t, path), SEMID_OK);
    read_all(path, &d, &n);
    char *field = strstr(d, " \"checksum\": \"xxh64:");
    assert_non_null(field);
    size_t flen = strlen(" \"checksum\": \"xxh64:0123456789abcdef\",");
    memmove(field, field + flen, n - (size_t)(field - d) - flen);
    assert_int_equal(semid_write_file_atomic(path, d, n - flen), SEMID_OK);
    free(d);
    assert_int_equal(semid_idtable_load(path, &back), SEMID_OK);
    semid_idtable_free(&back);
    semid_idtable_free(&t);
    free(path);
}

/* ---- semid's own binary formats: the trailer ---- */

static void test_tokenizer_and_wordvec(void **state) {
    (void)state;
    semid_matrix X;
    assert_int_equal(semid_matrix_alloc(&X, 40, 4), SEMID_OK);
    for (int64_t i = 0; i < 160; i++) X.data[i] = (float)((i * 37) % 11) * 0.1f;
    semid_tokenizer_config c = semid_tokenizer_defaults();
    c.codebook_size = 4;
    c.iters = 3;
    c.threads = 1;
    semid_tokenizer *tok, *back = NULL;
    assert_int_equal(semid_tokenizer_fit(&X, &c, &tok), SEMID_OK);
    char *path = tmp_path("t.tok");
    assert_int_equal(semid_tokenizer_save(tok, path), SEMID_OK);
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
    assert_true(semid_tokenizer_fingerprint(back) == semid_tokenizer_fingerprint(tok));
    semid_tokenizer_free(back);
    flip(path, -20, 0x01); /* a centroid value, just before the trailer */
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_EFORMAT);
    assert_corrupt(path);
    test_verify_off();
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
    assert_true(semid_tokenizer_fingerprint(back) != semid_tokenizer_fingerprint(tok)); /* other codes */
    semid_tokenizer_free(back);
    test_verify_on();
    cut_end(path, SEMID_CHECKSUM_TRAILER); /* as an older semid wrote it */
    assert_int_equal(semid_tokenizer_load(path, &back), SEMID_OK);
    semid_tokenizer_free(back);
    semid_tokenizer_free(tok);
    semid_matrix_free(&X);
    free(path);

    const char *words[2] = {"space", "planet"};
    float vec[6] = {0.5f, -1.0f, 0.25f, 1.0f, 0.0f, -0.5f};
    semid_wordvec wv, wb;
    assert_int_equal(semid_wordvec_from_arrays(&wv, words, vec, 2, 3), SEMID_OK);
    path = tmp_path("w.wv");
    assert_int_equal(semid_wordvec_save_compact(&wv, path), SEMID_OK);
    assert_int_equal(semid_wordvec_load(path, 0, &wb), SEMID_OK);
    semid_wordvec_free(&wb);
    flip(path, -17, 0x01); /* the last int8 value */
    assert_int_equal(semid_wordvec_load(path, 0, &wb), SEMID_EFORMAT);
    assert_corrupt(path);
    test_verify_off();
    assert_int_equal(semid_wordvec_load(path, 0, &wb), SEMID_OK);
    semid_wordvec_free(&wb);
    test_verify_on();
    cut_end(path, SEMID_CHECKSUM_TRAILER);
    assert_int_equal(semid_wordvec_load(path, 0, &wb), SEMID_OK);
    semid_wordvec_free(&wb);
    semid_wordvec_free(&wv);
    free(path);
}

/* ---- the text encoder (safetensors) and an experiment's cached evaluation (sidecar) ---- */

static void test_encoder_and_eval(void **state) {
    (void)state;
    const char *texts[3] = {"a space adventure", "love in paris", "robots at war"};
    semid_text_encoder_config c = semid_text_encoder_defaults();
    c.dim_word = 4;
    c.dim_out = 4;
    c.n_buckets = 8;
    semid_text_encoder *enc, *back = NULL;
    assert_int_equal(semid_text_encoder_create(&c, texts, 3, NULL, &enc), SEMID_OK);
    char *path = tmp_path("search.encoder");
    assert_int_equal(semid_text_encoder_save(enc, path), SEMID_OK);
    assert_int_equal(semid_text_encoder_load(path, &back), SEMID_OK);
    semid_matrix a, b;
    assert_int_equal(semid_text_encoder_encode(enc, texts, 3, &a), SEMID_OK);
    assert_int_equal(semid_text_encoder_encode(back, texts, 3, &b), SEMID_OK);
    assert_memory_equal(a.data, b.data, sizeof(float) * 12);
    semid_matrix_free(&a);
    semid_matrix_free(&b);
    semid_text_encoder_free(back);
    flip(path, -2, 0x01);
    assert_int_equal(semid_text_encoder_load(path, &back), SEMID_EFORMAT);
    assert_corrupt(path);
    test_verify_off();
    assert_int_equal(semid_text_encoder_load(path, &back), SEMID_OK);
    semid_text_encoder_free(back);
    test_verify_on();
    semid_text_encoder_free(enc);
    free(path);

    exp_eval e = {0}, eb;
    assert_int_equal(semid_ranking_eval_init(&e.search, 3, 10), SEMID_OK);
    assert_int_equal(semid_ranking_eval_init(&e.rec, 2, 10), SEMID_OK);
    int32_t ranked[2] = {7, 3};
    for (int q = 0; q < 3; q++) semid_ranking_eval_set(&e.search, q, ranked, 2, q == 1 ? 3 : 9, 0);
    for (int q = 0; q < 2; q++) semid_ranking_eval_set(&e.rec, q, ranked, 2, 7, 1);
    path = tmp_path("eval.json");
    assert_int_equal(exp_eval_save(&e, path), SEMID_OK);
    assert_int_equal(exp_eval_load(path, &eb), SEMID_OK);
    exp_eval_free(&eb);
    char *d;
    size_t n;
    read_all(path, &d, &n);
    char *rank = strstr(d, "\"rank\":[-1,1,-1]");
    assert_non_null(rank);
    int64_t at = rank - d + 8; /* query 0 missed (-1); " 1" would be a hit at rank 1 */
    free(d);
    flip(path, at, '-' ^ ' ');
    assert_int_equal(exp_eval_load(path, &eb), SEMID_EFORMAT);
    assert_corrupt(path);
    test_verify_off();
    assert_int_equal(exp_eval_load(path, &eb), SEMID_OK);
    assert_int_equal(eb.search.rank[0], 1);
    exp_eval_free(&eb);
    test_verify_on();
    exp_eval_free(&e);
    free(path);
}

/* ---- datasets (.sdd): FNV-1a, as before, now with both values ---- */

static semid_dataset ds;

static void test_dataset(void **state) {
    (void)state;
    char *path = tmp_path("d.sdd");
    assert_int_equal(semid_dataset_save(&ds, path), SEMID_OK);
    semid_dataset back;
    assert_int_equal(semid_dataset_load(path, &back), SEMID_OK);
    semid_dataset_free(&back);
    char *d;
    size_t n;
    read_all(path, &d, &n);
    assert_true(strlen(ds.items[0].title) > 0);
    int64_t at = find_bytes(d, n, ds.items[0].title); /* the first item's title */
    free(d);
    flip(path, at, 0x01);
    assert_int_equal(semid_dataset_load(path, &back), SEMID_EFORMAT);
    assert_corrupt(path);
    assert_non_null(strstr(semid_last_error(), "FNV-1a"));
    test_verify_off();
    assert_int_equal(semid_dataset_load(path, &back), SEMID_OK);
    assert_string_not_equal(back.items[0].title, ds.items[0].title);
    semid_dataset_free(&back);
    test_verify_on();
    free(path);
}

/* ---- a trained bundle: model.safetensors, idtable.sid, items.jsonl(.sum),
 * through the library and the CLI ---- */

static void test_bundle_and_cli(void **state) {
    (void)state;
    semid_matrix X;
    assert_int_equal(semid_matrix_alloc(&X, ds.n_items, 8), SEMID_OK);
    uint64_t s = 3;
    for (int64_t i = 0; i < X.rows * X.cols; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        X.data[i] = (float)((s >> 40) & 0xffff) / 65536.0f - 0.5f;
    }
    semid_strategy_options o = {.strategy = "content", .tokenizer = semid_tokenizer_defaults(), .disambiguate = 1};
    o.tokenizer.levels = 2;
    o.tokenizer.codebook_size = 6;
    o.tokenizer.iters = 3;
    semid_strategy_inputs in = {.single = &X};
    semid_strategy_result r;
    assert_int_equal(semid_strategy_build(&in, &o, &r), SEMID_OK);
    semid_gen_train_config c = semid_gen_train_defaults();
    c.n_layer = 1;
    c.n_head = 2;
    c.d_model = 16;
    c.history_window = 4;
    c.epochs = 1;
    c.batch_size = 16;
    c.valid_sample = 8;
    c.threads = 1;
    c.verbose = 0;
    char *dir = tmp_path("model");
    assert_int_equal(semid_gen_train(&ds, &r.table, &c, dir, NULL), SEMID_OK);
    semid_strategy_result_free(&r);
    semid_matrix_free(&X);

    char *items = semid_path_join(dir, "items.jsonl"), *model = semid_path_join(dir, "model.safetensors");
    char *table = semid_path_join(dir, "idtable.sid"), *items_sum = semid_path_join(dir, "items.jsonl.sum");
    assert_true(semid_path_exists(items_sum));
    semid_gen_bundle *b = NULL;
    assert_int_equal(semid_gen_bundle_load(dir, &b), SEMID_OK);
    semid_gen_bundle_free(b);

    /* a title in items.jsonl, a weight, a code: each corrupt, then restored */
    char *d;
    size_t n;
    read_all(items, &d, &n);
    int64_t title_at = strstr(d, "\"title\":\"") - d + 9;
    free(d);
    read_all(table, &d, &n);
    int64_t method_at = find_bytes(d, n, "\"rqkmeans\"") + 8; /* "rqkmeans" -> "rqkmeanr"; a code is also
                                                                 caught by the table's fingerprint */
    free(d);
    const char *files[3] = {items, model, table};
    const int64_t spots[3] = {title_at, -64, method_at};
    const unsigned char masks[3] = {0x20, 0x01, 0x01}; /* a letter's case; a mantissa bit; a letter */
    char args[1200];
    snprintf(args, sizeof args, "search --model '%s' --k 3 'an exciting story'", dir);
    for (int f = 0; f < 3; f++) {
        flip(files[f], spots[f], masks[f]);
        b = NULL;
        assert_int_equal(semid_gen_bundle_load(dir, &b), SEMID_EFORMAT);
        assert_null(b);
        assert_corrupt(files[f]);
        char *out = NULL;
        assert_int_equal(test_run_cli(args, &out), 1);
        if (!strstr(out, "is corrupt")) fail_msg("semid search on a corrupt %s said: %s", files[f], out);
        free(out);
        setenv("SEMID_NO_VERIFY", "1", 1); /* the CLI, serve and the API read it from the environment */
        out = NULL;
        int rc = test_run_cli(args, &out);
        if (rc != 0) fail_msg("SEMID_NO_VERIFY=1 semid search, with %s flipped: %d: %s", files[f], rc, out);
        free(out);
        test_verify_on();
        flip(files[f], spots[f], masks[f]);
        assert_int_equal(semid_gen_bundle_load(dir, &b), SEMID_OK);
        semid_gen_bundle_free(b);
    }
    /* items.jsonl of another program (no sidecar): unchecked */
    flip(items, title_at, 0x20);
    assert_int_equal(unlink(items_sum), 0);
    assert_int_equal(semid_gen_bundle_load(dir, &b), SEMID_OK);
    semid_gen_bundle_free(b);
    free(items), free(model), free(table), free(items_sum), free(dir);
}

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    test_verify_on();
    tmpdir = test_make_tmpdir();
    semid_synth_config c;
    semid_synth_config_default(&c);
    c.n_items = 40;
    c.n_users = 50;
    c.mean_history = 6;
    c.min_history = 4;
    c.max_history = 12;
    c.n_topics = 3;
    c.queries_per_item = 2;
    c.queries_train = 1;
    return tmpdir && semid_synth_generate(&c, 11, &ds) == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_dataset_free(&ds);
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy),
        cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_model_checkpoint),
        cmocka_unit_test(test_idtable),
        cmocka_unit_test(test_tokenizer_and_wordvec),
        cmocka_unit_test(test_encoder_and_eval),
        cmocka_unit_test(test_dataset),
        cmocka_unit_test(test_bundle_and_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
