/* Training the joint model: training examples, exact resume, and an end-to-end
 * run on synthetic data that must beat popularity (rec) and chance (search). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/rng.h"
#include "data/synth.h"
#include "gen/examples.h"
#include "gen/generate.h"
#include "gen/train.h"
#include "io/safetensors.h"
#include "linalg/matrix.h"
#include "linalg/vec.h"
#include "quant/strategy.h"
#include "support/gen/fixtures.h"
#include "support/testutil.h"
#include "text/tokenize.h"

/* Under the sanitizers (3-10x slower) the end-to-end run is cut short and
 * checks the plumbing only; the quality margins are checked in Release. */
#if defined(__SANITIZE_ADDRESS__)
enum { SANITIZED = 1 };
#else
enum { SANITIZED = 0 };
#endif

static char *tmpdir;
static semid_dataset ds;
static semid_idtable table;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_WARN);
    tmpdir = test_make_tmpdir();
    test_small_synth(&ds);
    test_content_table(&ds, 12, &table);
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_idtable_free(&table);
    semid_dataset_free(&ds);
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

static void test_examples(void **state) {
    (void)state;
    semid_gen_example_options o = semid_gen_example_defaults();
    o.max_seq_len = 3 * table.n_levels; /* windows of 3 items: 2 of history */
    uint8_t *role = malloc((size_t)ds.n_queries);
    semid_gen_query_roles(&ds, &o, role);
    int64_t held = 0, train_q = 0;
    for (int32_t q = 0; q < ds.n_queries; q++) {
        held += ds.queries[q].split == SEMID_SPLIT_TRAIN && role[q] == SEMID_SPLIT_VALID;
        train_q += role[q] == SEMID_SPLIT_TRAIN;
    }
    assert_true(held > 0 && held < ds.n_queries / 10); /* ~5% of the train queries */
    semid_gen_vocab v;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &table, NULL, &v), SEMID_OK);
    semid_gen_seqs s;
    assert_int_equal(semid_gen_examples_train(&ds, &table, &v, role, &o, &s), SEMID_OK);
    assert_int_equal(s.n_task[0], train_q);
    /* Every training item after a user's first is a target exactly once. */
    int64_t want_targets = 0;
    for (int32_t u = 0; u < ds.n_users; u++) {
        semid_user_split sp = semid_dataset_user_split(&ds, u);
        int64_t n = sp.train_end - sp.train_begin;
        if (n > 1) want_targets += (n - 1) * table.n_levels;
    }
    int64_t got_targets = 0;
    for (int64_t j = 0; j < s.n; j++) {
        const semid_gen_seq *q = &s.seq[j];
        assert_true(q->len <= o.max_seq_len + 1);
        if (q->task == SEMID_TASK_REC) {
            assert_int_equal(s.tokens[q->offset], SEMID_TOK_RECOMMEND);
            for (int32_t t = 0; t < q->len; t++) got_targets += s.is_target[q->offset + t];
        } else {
            assert_int_equal(s.tokens[q->offset], SEMID_TOK_SEARCH);
            /* Loss on the last L tokens only: the item's ID. */
            for (int32_t t = 0; t < q->len; t++)
                assert_int_equal(s.is_target[q->offset + t], t >= q->len - table.n_levels);
            int32_t id[8];
            semid_idtable_tokens(&table, SEMID_TASK_SEARCH, ds.queries[q->source].item, id);
            for (int32_t l = 0; l < table.n_levels; l++)
                assert_int_equal(s.tokens[q->offset + q->len - table.n_levels + l], v.sid_base + id[l]);
        }
    }
    assert_int_equal(got_targets, want_targets);
    semid_gen_seqs_free(&s);
    /* Test prompts: the history is train + validation item, the target the test item. */
    assert_int_equal(semid_gen_examples_eval(&ds, &table, &v, role, &o, SEMID_SPLIT_TEST, &s), SEMID_OK);
    for (int64_t j = 0; j < s.n; j++) {
        const semid_gen_seq *q = &s.seq[j];
        if (q->task != SEMID_TASK_REC) continue;
        semid_user_split sp = semid_dataset_user_split(&ds, q->source);
        assert_int_equal(q->target, sp.test_item);
        assert_int_equal(q->n_excl, sp.train_end - sp.train_begin + 1);
        assert_int_equal(s.excl[q->excl_offset + q->n_excl - 1], sp.valid_item);
        int32_t id[8];
        semid_idtable_tokens(&table, SEMID_TASK_REC, sp.valid_item, id);
        assert_int_equal(s.tokens[q->offset + q->len - 1], v.sid_base + id[table.n_levels - 1]);
    }
    semid_gen_seqs_free(&s);
    semid_gen_vocab_free(&v);
    free(role);
}

/* Packed batches: each sequence once, whole, in one row, positions counted
 * from its start; the targets those of the padded batch; fewer rows. */
static void test_batch_pack(void **state) {
    (void)state;
    semid_gen_example_options o = semid_gen_example_defaults();
    o.max_seq_len = 8 * table.n_levels;
    uint8_t *role = malloc((size_t)ds.n_queries);
    semid_gen_query_roles(&ds, &o, role);
    semid_gen_vocab v;
    assert_int_equal(semid_gen_vocab_build(&ds, NULL, &table, NULL, &v), SEMID_OK);
    semid_gen_seqs s;
    assert_int_equal(semid_gen_examples_train(&ds, &table, &v, role, &o, &s), SEMID_OK);
    enum { B = 24 };
    int64_t idx[B];
    semid_rng r;
    semid_rng_seed(&r, 9);
    size_t cells = (size_t)B * (size_t)s.max_len;
    int32_t *in = malloc(cells * sizeof *in), *tg = malloc(cells * sizeof *tg), *pos = malloc(cells * sizeof *pos);
    int32_t *fin = malloc(cells * sizeof *fin), *ftg = malloc(cells * sizeof *ftg);
    double slots_packed = 0, slots_padded = 0;
    for (int trial = 0; trial < 20; trial++) {
        for (int b = 0; b < B; b++) idx[b] = (int64_t)semid_rng_below(&r, (uint64_t)s.n);
        int32_t rows = 0, T = 0, FT = 0;
        int64_t nt = -1;
        assert_int_equal(semid_gen_batch_pack(&s, idx, B, in, tg, pos, &rows, &T, &nt), SEMID_OK);
        int64_t fnt = semid_gen_batch_fill(&s, idx, B, fin, ftg, &FT);
        assert_int_equal(T, FT);
        assert_int_equal(nt, fnt);
        assert_true(rows >= 1 && rows <= B);
        slots_packed += (double)rows * T;
        slots_padded += (double)B * T;
        /* find each sequence as a run starting at pos 0 with its tokens and targets */
        uint8_t *used = calloc((size_t)rows * (size_t)T, 1);
        for (int b = 0; b < B; b++) {
            const semid_gen_seq *q = &s.seq[idx[b]];
            int32_t need = q->len - 1;
            int found = 0;
            for (int64_t j = 0; j + need <= (int64_t)rows * T && !found; j++) {
                if ((j % T) + need > T || pos[j] != 0 || used[j]) continue;
                int ok = 1;
                for (int32_t t = 0; t < need && ok; t++)
                    ok = in[j + t] == s.tokens[q->offset + t] && pos[j + t] == t && !used[j + t] &&
                         tg[j + t] == ftg[(int64_t)b * T + t];
                if (ok && (j + need) % T != 0) ok = pos[j + need] == 0; /* the next sequence starts after it */
                if (!ok) continue;
                found = 1;
                memset(used + j, 1, (size_t)need);
            }
            assert_true(found);
        }
        for (int64_t j = 0; j < (int64_t)rows * T; j++)
            if (!used[j]) {
                assert_int_equal(in[j], SEMID_TOK_PAD);
                assert_int_equal(tg[j], -1);
            }
        free(used);
        /* the same batch packs the same way */
        int32_t rows2, T2;
        int32_t *in2 = malloc(cells * sizeof *in2), *tg2 = malloc(cells * sizeof *tg2), *pos2 = malloc(cells * sizeof *pos2);
        assert_int_equal(semid_gen_batch_pack(&s, idx, B, in2, tg2, pos2, &rows2, &T2, NULL), SEMID_OK);
        assert_int_equal(rows2, rows);
        assert_memory_equal(in2, in, (size_t)rows * T * sizeof *in);
        assert_memory_equal(pos2, pos, (size_t)rows * T * sizeof *pos);
        free(in2), free(tg2), free(pos2);
    }
    print_message("packed batches: %.0f%% of the padded batches' slots\n", 100 * slots_packed / slots_padded);
    assert_true(slots_packed < 0.9 * slots_padded);
    free(in), free(tg), free(pos), free(fin), free(ftg);
    semid_gen_seqs_free(&s);
    semid_gen_vocab_free(&v);
    free(role);
}

static semid_gen_train_config tiny_config(void) {
    semid_gen_train_config c = semid_gen_train_defaults();
    c.n_layer = 1;
    c.n_head = 2;
    c.d_model = 16;
    c.history_window = 6;
    c.epochs = 2;
    c.batch_size = 32;
    c.valid_sample = 16;
    c.threads = 1; /* tiny model: threads would only wait on each other */
    c.verbose = 0;
    return c;
}

static void read_params(const char *dir, float **p, int64_t *n) {
    char *path = semid_path_join(dir, "resume.safetensors");
    semid_safetensors f;
    assert_int_equal(semid_safetensors_read(path, &f), SEMID_OK);
    const semid_st_tensor *t = semid_safetensors_find(&f, "params");
    assert_non_null(t);
    *n = t->numel;
    *p = malloc((size_t)t->numel * sizeof **p);
    semid_safetensors_copy(t, *p);
    semid_safetensors_free(&f);
    free(path);
}

/* N steps straight == N/2, stop, resume, N/2 more: the same parameters,
 * with packed batches (the default) and without. */
static void resume_is_exact(int pack) {
    char name[2][32];
    snprintf(name[0], sizeof name[0], "straight-%d", pack);
    snprintf(name[1], sizeof name[1], "resumed-%d", pack);
    char *a = semid_path_join(tmpdir, name[0]), *b = semid_path_join(tmpdir, name[1]);
    semid_gen_train_config c = tiny_config();
    c.pack = pack;
    semid_gen_train_report ra, rb;
    assert_int_equal(semid_gen_train(&ds, &table, &c, a, &ra), SEMID_OK);
    assert_true(ra.total_steps >= 4);
    assert_int_equal(ra.steps, ra.total_steps);
    c.stop_after = ra.total_steps / 2 + 1; /* mid-epoch */
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_OK);
    assert_int_equal(rb.steps, c.stop_after);
    c.stop_after = 0;
    c.resume = 1;
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_OK);
    assert_int_equal(rb.steps, ra.total_steps);
    float *pa, *pb;
    int64_t na, nb;
    read_params(a, &pa, &na);
    read_params(b, &pb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, (size_t)na * sizeof *pa);
    /* The best model of the resumed run was kept across the interruption. */
    assert_int_equal(rb.best_epoch, ra.best_epoch);
    assert_true(fabs(rb.best_valid - ra.best_valid) < 1e-12);
    /* A different set-up refuses to resume from it: another batch size,
     * packing or not, bf16 products. */
    c.batch_size = 16;
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "another set-up"));
    c.batch_size = tiny_config().batch_size;
    c.pack = !pack;
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "another set-up"));
    c.pack = pack;
    c.bf16 = 1; /* the products' precision is part of the set-up too */
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "another set-up"));
    free(pa);
    free(pb);
    free(a);
    free(b);
}

static void test_resume_is_exact(void **state) {
    (void)state;
    assert_int_equal(semid_gen_train_defaults().pack, 1);
    resume_is_exact(1);
    resume_is_exact(0);
}

/* A step budget below the epochs' cuts the run, ends it like an epoch
 * (validation, best model) and spans the schedule over it. */
static void test_max_steps(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "budget");
    semid_gen_train_config c = tiny_config();
    semid_gen_train_report full, cut;
    char *ref = semid_path_join(tmpdir, "budget-ref");
    assert_int_equal(semid_gen_train(&ds, &table, &c, ref, &full), SEMID_OK);
    c.max_steps = full.total_steps / 2 + 1;
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &cut), SEMID_OK);
    assert_int_equal(cut.total_steps, c.max_steps);
    assert_int_equal(cut.steps, c.max_steps);
    assert_true(cut.best_epoch >= 1);
    char *model = semid_path_join(dir, "model.safetensors");
    assert_true(semid_path_exists(model));
    /* a budget above the epochs' changes nothing */
    c.max_steps = full.total_steps * 10;
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &cut), SEMID_OK);
    assert_int_equal(cut.total_steps, full.total_steps);
    c.max_steps = -1;
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &cut), SEMID_EINVAL);
    free(model);
    free(ref);
    free(dir);
}

/* The stopping rule alone: patience epochs in a row without a better score,
 * never before min_epochs, never when patience is 0. */
static void test_should_stop_rule(void **state) {
    (void)state;
    assert_false(semid_gen_should_stop(5, 1, 0, 0));  /* off */
    assert_false(semid_gen_should_stop(1, 1, 1, 0));  /* improved this epoch */
    assert_true(semid_gen_should_stop(2, 1, 1, 0));
    assert_false(semid_gen_should_stop(3, 2, 2, 0));
    assert_true(semid_gen_should_stop(4, 2, 2, 0));
    assert_true(semid_gen_should_stop(7, 2, 2, 0));   /* already past it */
    assert_false(semid_gen_should_stop(3, 1, 2, 4));  /* the minimum holds it */
    assert_true(semid_gen_should_stop(4, 1, 2, 4));
    assert_true(semid_gen_should_stop(3, 1, 2, 3));   /* 3 epochs, 2 without improvement */
    assert_false(semid_gen_should_stop(10, 10, 2, 3)); /* still improving at the end */
}

static cJSON *read_train_json(const char *dir) {
    char *path = semid_path_join(dir, "train.json"), *text;
    size_t len;
    assert_int_equal(semid_read_file(path, &text, &len), SEMID_OK);
    cJSON *o = cJSON_Parse(text);
    assert_non_null(o);
    free(text);
    free(path);
    return o;
}

static double json_number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

/* A validation score that cannot improve (a learning rate too small to move
 * the weights): the best epoch is the first, and the run stops `patience`
 * epochs later, or at min_epochs if that is later; train.json says so. */
static void test_early_stopping_on_a_plateau(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "plateau");
    semid_gen_train_config c = tiny_config();
    c.epochs = 8;
    c.lr = 1e-9f;
    c.patience = 2;
    semid_gen_train_report r;
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &r), SEMID_OK);
    assert_int_equal(r.best_epoch, 1);
    assert_int_equal(r.epochs_run, 3);
    assert_int_equal(r.epochs_done, 3);
    assert_true(r.stopped_early);
    assert_int_equal(r.steps * 8, r.total_steps * 3);
    cJSON *tj = read_train_json(dir);
    assert_int_equal((int)json_number(tj, "epochs_run"), 3);
    assert_int_equal((int)json_number(tj, "epochs"), 8);
    assert_int_equal((int)json_number(tj, "patience"), 2);
    assert_int_equal((int)json_number(tj, "best_epoch"), 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tj, "stopped_early")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(tj, "history")), 3);
    cJSON_Delete(tj);
    /* The bundle was moved in: it loads. */
    semid_gen_bundle *b = NULL;
    assert_int_equal(semid_gen_bundle_load(dir, &b), SEMID_OK);
    semid_gen_bundle_free(b);
    /* At least min_epochs. */
    c.min_epochs = 5;
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &r), SEMID_OK);
    assert_int_equal(r.epochs_run, 5);
    assert_true(r.stopped_early);
    /* Off: every epoch runs. */
    c.patience = 0;
    c.min_epochs = 0;
    c.epochs = 4;
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &r), SEMID_OK);
    assert_int_equal(r.epochs_run, 4);
    assert_false(r.stopped_early);
    /* Bounds. */
    c.patience = -1;
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &r), SEMID_EINVAL);
    c.patience = 1;
    c.min_epochs = 5; /* more than the 4 epochs */
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &r), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "min_epochs"));
    free(dir);
}

/* With early stopping, an interrupted and resumed run stops at the same
 * epoch with the same parameters and best epoch as an uninterrupted one;
 * resuming a run that has stopped does nothing. */
static void test_early_stopping_resume_is_exact(void **state) {
    (void)state;
    char *a = semid_path_join(tmpdir, "es-straight"), *b = semid_path_join(tmpdir, "es-resumed");
    semid_gen_train_config c = tiny_config();
    c.epochs = 12;
    c.patience = 2;
    c.min_epochs = 2;
    semid_gen_train_report ra, rb;
    assert_int_equal(semid_gen_train(&ds, &table, &c, a, &ra), SEMID_OK);
    print_message("early stopping: %d of %d epochs, best %d\n", ra.epochs_run, c.epochs, ra.best_epoch);
    assert_true(ra.stopped_early);
    assert_true(ra.epochs_run < c.epochs && ra.best_epoch >= 2);
    assert_int_equal(ra.epochs_run, ra.best_epoch + c.patience);
    /* killed in the middle of the first epoch after the best, then resumed */
    int64_t per_epoch = ra.total_steps / c.epochs;
    c.stop_after = (int64_t)ra.best_epoch * per_epoch + per_epoch / 2;
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_OK);
    assert_false(rb.stopped_early);
    c.stop_after = 0;
    c.resume = 1;
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_OK);
    assert_int_equal(rb.steps, ra.steps);
    assert_int_equal(rb.epochs_run, ra.epochs_run);
    assert_int_equal(rb.best_epoch, ra.best_epoch);
    assert_true(rb.stopped_early);
    assert_true(fabs(rb.best_valid - ra.best_valid) < 1e-12);
    float *pa, *pb;
    int64_t na, nb;
    read_params(a, &pa, &na);
    read_params(b, &pb, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, (size_t)na * sizeof *pa);
    /* resuming the finished run trains nothing and keeps its bundle */
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_OK);
    assert_int_equal(rb.steps, ra.steps);
    assert_true(rb.stopped_early);
    assert_int_equal(rb.best_epoch, ra.best_epoch);
    cJSON *tj = read_train_json(b);
    assert_int_equal((int)json_number(tj, "epochs_run"), ra.epochs_run);
    cJSON_Delete(tj);
    semid_gen_bundle *bundle = NULL;
    assert_int_equal(semid_gen_bundle_load(b, &bundle), SEMID_OK);
    semid_gen_bundle_free(bundle);
    /* other early-stopping settings refuse to resume it */
    c.patience = 3;
    assert_int_equal(semid_gen_train(&ds, &table, &c, b, &rb), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "another set-up"));
    free(pa);
    free(pb);
    free(a);
    free(b);
}

/* Popularity baseline: the k most popular training items outside the history. */
static double popularity_recall(int32_t k) {
    int64_t *pop = calloc((size_t)ds.n_items, sizeof *pop);
    semid_dataset_train_counts(&ds, pop);
    int32_t *order = malloc((size_t)ds.n_items * sizeof *order);
    for (int32_t i = 0; i < ds.n_items; i++) order[i] = i;
    for (int32_t i = 1; i < ds.n_items; i++) /* insertion sort by popularity */
        for (int32_t j = i; j > 0 && pop[order[j]] > pop[order[j - 1]]; j--) {
            int32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    uint8_t *seen = calloc((size_t)ds.n_items, 1);
    double hits = 0;
    int64_t n = 0;
    for (int32_t u = 0; u < ds.n_users; u++) {
        semid_user_split sp = semid_dataset_user_split(&ds, u);
        if (sp.test_item < 0) continue;
        for (int64_t j = sp.train_begin; j < sp.train_end; j++) seen[ds.seq_items[j]] = 1;
        seen[sp.valid_item] = 1;
        int32_t got = 0;
        for (int32_t r = 0; r < ds.n_items && got < k; r++) {
            if (seen[order[r]]) continue;
            hits += order[r] == sp.test_item;
            got++;
        }
        for (int64_t j = sp.train_begin; j < sp.train_end; j++) seen[ds.seq_items[j]] = 0;
        seen[sp.valid_item] = 0;
        n++;
    }
    free(pop);
    free(order);
    free(seen);
    return hits / (double)n;
}

static void test_end_to_end(void **state) {
    (void)state;
    char *dir = semid_path_join(tmpdir, "e2e");
    semid_gen_train_config c = tiny_config();
    c.n_layer = SANITIZED ? 1 : 2;
    c.n_head = SANITIZED ? 2 : 4;
    c.d_model = SANITIZED ? 16 : 64;
    c.history_window = 5;
    c.epochs = SANITIZED ? 1 : 10;
    c.lr = 3e-3f;
    c.search_share = 0.6;
    c.valid_sample = 30;
    c.vocab.min_count = 1;
    semid_gen_train_report r;
    double t0 = semid_now();
    assert_int_equal(semid_gen_train(&ds, &table, &c, dir, &r), SEMID_OK);
    double train_s = semid_now() - t0;
    semid_gen_bundle *b;
    assert_int_equal(semid_gen_bundle_load(dir, &b), SEMID_OK);
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.beam.beam_size = 10;
    o.beam.k = 10;
    semid_ranking_eval es, er;
    assert_int_equal(semid_gen_evaluate(b, &ds, SEMID_SPLIT_TEST, &o, &es, &er, NULL), SEMID_OK);
    double search = semid_ranking_eval_mean(&es, SEMID_GROUP_ALL).recall;
    double rec = semid_ranking_eval_mean(&er, SEMID_GROUP_ALL).recall;
    double pop = popularity_recall(10), chance = 10.0 / ds.n_items;
    print_message("e2e: %.1f s training, loss %.3f, best epoch %d; test Recall@10 search %.3f (chance %.3f), rec %.3f "
                  "(popularity %.3f)\n", train_s, r.last_epoch_loss, r.best_epoch, search, chance, rec, pop);
    if (!SANITIZED) {
        assert_true(search > 3 * chance);
        assert_true(rec > pop + 0.05);
    }
    /* Search through the text API gives the same results as the evaluation path. */
    const semid_query *q0 = NULL;
    for (int32_t q = 0; q < ds.n_queries && !q0; q++)
        if (ds.queries[q].split == SEMID_SPLIT_TEST) q0 = &ds.queries[q];
    semid_beam_hits h;
    const char *text = q0->text;
    assert_int_equal(semid_gen_search(b, &text, 1, &o, &h, NULL), SEMID_OK);
    assert_int_equal(h.n_hits[0], 10);
    assert_int_equal(h.items[0] == q0->item, es.rank[0] == 0);
    semid_beam_hits_free(&h);
    semid_ranking_eval_free(&es);
    semid_ranking_eval_free(&er);
    semid_gen_bundle_free(b);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_batch_pack),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_max_steps),
        cmocka_unit_test(test_should_stop_rule),
        cmocka_unit_test(test_early_stopping_on_a_plateau),
        cmocka_unit_test(test_early_stopping_resume_is_exact),
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
