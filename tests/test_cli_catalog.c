/* semid catalog add / remove / show end to end through the CLI binary: new
 * items become reachable without retraining, trained items keep their IDs
 * byte for byte, removed items are never returned, bad input is refused
 * with a message naming it and leaves the bundle as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dirlock.h"
#include "base/fileio.h"
#include "base/status.h"
#include "data/dataset.h"
#include "gen/catalog.h"
#include "gen/generate.h"
#include "support/testutil.h"

enum { N_ITEMS = 60 };

static char *tmpdir;
static char model[600], pristine[600];
static semid_dataset ds;

static char *slurp(const char *dir, const char *name, size_t *len) {
    char *p = semid_path_join(dir, name), *data = NULL;
    size_t n = 0;
    if (semid_read_file(p, &data, &n) != SEMID_OK) data = NULL;
    free(p);
    if (len) *len = n;
    return data;
}

static int setup(void **state) {
    (void)state;
    tmpdir = test_make_tmpdir();
    if (!tmpdir || test_cli_tiny_model(tmpdir, N_ITEMS, 80) != 0) return -1;
    snprintf(pristine, sizeof pristine, "%s/model", tmpdir);
    char path[700];
    snprintf(path, sizeof path, "%s/ds.sdd", tmpdir);
    return semid_dataset_load(path, &ds) == SEMID_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    semid_dataset_free(&ds);
    if (tmpdir) test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* A fresh copy of the trained bundle for one test. */
static void fresh_model(const char *name) {
    snprintf(model, sizeof model, "%s/%s", tmpdir, name);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", model, pristine, model);
    assert_int_equal(system(cmd), 0);
}

static int run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(char **out, const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return test_run_cli(args, out);
}

static void must(const char *what, int rc, char *out) {
    if (rc != 0) fail_msg("%s: exit %d: %s", what, rc, out ? out : "");
    free(out);
}

/* New items: the first two copy trained items' texts (so their content
 * vectors, hence their ID prefixes, are those items'), the third another
 * item's genres and description under a title of its own. */
static char *write_new_items(const char *name) {
    char text[8192];
    int n = snprintf(text, sizeof text, "item_id\ttitle\tyear\tgenres\tdescription\n");
    for (int k = 0; k < 2; k++) {
        const semid_item *it = &ds.items[k * 7];
        n += snprintf(text + n, sizeof text - (size_t)n, "new%d\t%s\t%d\t%s\t%s\n", k, it->title, it->year, it->genres,
                      it->description ? it->description : "");
    }
    const semid_item *it = &ds.items[21];
    snprintf(text + n, sizeof text - (size_t)n, "new2\tA quiet harbour\t2024\t%s\t%s\n", it->genres,
             it->description ? it->description : "");
    return test_write_file(tmpdir, name, text);
}

static void add_items(const char *items_path) {
    char *out = NULL;
    int rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd --threads 1",
                 model, items_path, tmpdir, tmpdir);
    if (rc != 0) fail_msg("catalog add: exit %d: %s", rc, out);
    assert_non_null(strstr(out, "catalog version"));
    free(out);
}

/* Does a search/recommend TSV output list item `id`? Rows are
 * "rank item_id score title", with the query's id first in batch output. */
static int lists(const char *out, const char *id) {
    int found = 0;
    char *copy = strdup(out), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
        char *f[6] = {0};
        int nf = 0;
        for (char *p = line; nf < 6;) {
            f[nf++] = p;
            char *t = strchr(p, '\t');
            if (!t) break;
            *t = '\0';
            p = t + 1;
        }
        int col = nf >= 5 ? 2 : 1; /* batch rows have 5 fields, single ones 4 */
        found = nf >= 4 && strcmp(f[col], id) == 0;
    }
    free(copy);
    return found;
}

/* Added item i of bundle b: its ID is no earlier item's; the first two
 * added (copies of trained items' texts) share their item's first
 * `prefix_levels` codes; the trie leads to it and to it alone. */
static void check_added_item(const semid_gen_bundle *b, int32_t i, int32_t prefix_levels) {
    int32_t L = b->table.n_levels;
    for (int32_t j = 0; j < i; j++)
        assert_false(memcmp(b->table.codes + (int64_t)i * L, b->table.codes + (int64_t)j * L, sizeof(int32_t) * (size_t)L) ==
                     0);
    if (i - b->n_base_items < 2) {
        int32_t src = semid_gen_bundle_find_item(b, ds.items[(i - b->n_base_items) * 7].id);
        assert_memory_equal(b->table.codes + (int64_t)i * L, b->table.codes + (int64_t)src * L,
                            sizeof(int32_t) * (size_t)prefix_levels);
    }
    int32_t tok[16], node = 0;
    assert_true(L <= 16);
    semid_idtable_tokens(&b->table, SEMID_TASK_SEARCH, i, tok);
    for (int32_t l = 0; l < L && node >= 0; l++) node = semid_trie_child(b->trie[0], node, tok[l]);
    assert_true(node >= 0);
    const int32_t *at;
    assert_int_equal(semid_trie_items(b->trie[0], node, &at), 1);
    assert_int_equal(at[0], i);
}

static void test_add_then_search(void **state) {
    (void)state;
    fresh_model("m_add");
    size_t len_t0, len_i0, len_m0;
    char *t0 = slurp(model, "idtable.sid", &len_t0), *i0 = slurp(model, "items.jsonl", &len_i0);
    char *m0 = slurp(model, "model.safetensors", &len_m0);
    semid_gen_bundle *before = NULL;
    assert_int_equal(semid_gen_bundle_load(model, &before), SEMID_OK);
    assert_int_equal(before->catalog_version, 0);

    char *items = write_new_items("new.tsv");
    add_items(items);

    /* The trained files are untouched, byte for byte. */
    size_t len_t1, len_i1, len_m1;
    char *t1 = slurp(model, "idtable.sid", &len_t1), *i1 = slurp(model, "items.jsonl", &len_i1);
    char *m1 = slurp(model, "model.safetensors", &len_m1);
    assert_true(len_t0 == len_t1 && memcmp(t0, t1, len_t0) == 0);
    assert_true(len_i0 == len_i1 && memcmp(i0, i1, len_i0) == 0);
    assert_true(len_m0 == len_m1 && memcmp(m0, m1, len_m0) == 0);

    /* The loaded bundle: existing IDs unchanged, three new items with IDs of
     * the trained vocabulary, unique, in the trie. */
    semid_gen_bundle *b = NULL;
    assert_int_equal(semid_gen_bundle_load(model, &b), SEMID_OK);
    assert_int_equal(b->catalog_version, 1);
    assert_int_equal(b->n_base_items, before->n_items);
    assert_int_equal(b->n_items, before->n_items + 3);
    int32_t L = b->table.n_levels;
    assert_int_equal(L, before->table.n_levels);
    assert_int_equal(b->table.n_tokens, before->table.n_tokens);
    for (int32_t i = 0; i < before->n_items; i++)
        assert_memory_equal(b->table.codes + (int64_t)i * L, before->table.codes + (int64_t)i * L, sizeof(int32_t) * (size_t)L);
    for (int32_t i = b->n_base_items; i < b->n_items; i++) {
        assert_int_equal(b->popularity[i], 0);
        check_added_item(b, i, L - 1);
    }
    semid_gen_bundle_free(b);
    semid_gen_bundle_free(before);

    /* Search reaches the new items: with a beam over every ID the result is
     * exact, so all items come back, the new ones included. */
    char *out = NULL;
    int rc = run(&out, "search --model %s --k %d --beam %d --threads 1 fishermen wait for the storm", model, N_ITEMS + 3,
                 N_ITEMS + 3);
    if (rc != 0) fail_msg("search: %s", out);
    assert_true(lists(out, "new0") && lists(out, "new1") && lists(out, "new2"));
    free(out);
    /* Prefix expansion: with a narrow beam, items under the generated
     * prefixes join, at most floor(share x k) of them, and the plain beam's
     * hits keep the other places. */
    semid_gen_bundle *eb = NULL;
    assert_int_equal(semid_gen_bundle_load(model, &eb), SEMID_OK);
    for (int32_t q = 0; q < 10 && q < ds.n_queries; q++) {
        semid_gen_decode_options o = semid_gen_decode_defaults();
        o.beam.k = 6;
        o.beam.beam_size = 6;
        const char *qs[1] = {ds.queries[q].text};
        semid_beam_hits plain, ex;
        assert_int_equal(semid_gen_search(eb, qs, 1, &o, &plain, NULL), SEMID_OK);
        o.expand_prefix = 0.5;
        assert_int_equal(semid_gen_search(eb, qs, 1, &o, &ex, NULL), SEMID_OK);
        int32_t from_plain = 0;
        for (int32_t j = 0; j < ex.n_hits[0]; j++)
            for (int32_t u = 0; u < plain.n_hits[0]; u++) from_plain += ex.items[j] == plain.items[u];
        assert_int_equal(ex.n_hits[0], 6);
        assert_true(from_plain >= 6 - 3);
        semid_beam_hits_free(&plain);
        semid_beam_hits_free(&ex);
    }
    semid_gen_bundle_free(eb);
    rc = run(&out, "search --model %s --expand-prefix 0.5 --k 6 --beam 3 %s", model, ds.queries[0].text);
    if (rc != 0) fail_msg("search --expand-prefix: %s", out);
    free(out);
    rc = run(&out, "search --model %s --expand-prefix 2 word", model);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--expand-prefix"));
    free(out);
    /* ... and `catalog show` lists them. */
    rc = run(&out, "catalog show --model %s", model);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "catalog version 1"));
    assert_non_null(strstr(out, "added\tnew2\t"));
    free(out);
    free(items);
    free(t0);
    free(t1);
    free(i0);
    free(i1);
    free(m0);
    free(m1);
}

/* A table whose appended levels are capped (`sid build --max-disambiguation
 * 2`, so a group of g items takes ceil(log2 g) levels): an added item gets
 * the next number of its prefix written over those levels, its ID is new,
 * and the trie reaches it. */
static void test_add_with_capped_disambiguation(void **state) {
    (void)state;
    char *out = NULL;
    int rc = run(&out,
                 "sid build --embeddings %s/emb/content.npy --dataset %s/ds.sdd --method rqkmeans --levels 2 --codebook 8 "
                 "--disambiguate --max-disambiguation 2 --out %s/sid_capped.json --tokenizer-out %s/tok_capped.bin "
                 "--threads 1",
                 tmpdir, tmpdir, tmpdir, tmpdir);
    must("sid build capped", rc, out);
    snprintf(model, sizeof model, "%s/m_capped", tmpdir);
    rc = run(&out,
             "train --dataset %s/ds.sdd --sids %s/sid_capped.json --out %s --layers 1 --dim 16 --heads 2 --epochs 1 "
             "--batch 16 --threads 1 --valid-sample 10 --quiet",
             tmpdir, tmpdir, model);
    must("train capped", rc, out);
    semid_gen_bundle *before = NULL;
    assert_int_equal(semid_gen_bundle_load(model, &before), SEMID_OK);
    int32_t L = before->table.n_levels, D = before->table.disambiguated;
    assert_true(D >= 2);
    assert_int_equal(L, 2 + D);
    for (int32_t d = 0; d < D; d++) assert_true(before->table.level_size[2 + d] <= 2);
    char *items = write_new_items("new_capped.tsv");
    rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok_capped.bin --content --dataset %s/ds.sdd --threads 1",
                 model, items, tmpdir, tmpdir);
    /* The largest group (10 items) takes 4 levels of 2 codes, room for 16. */
    if (rc != 0) fail_msg("catalog add: exit %d: %s", rc, out);
    semid_gen_bundle *b = NULL;
    assert_int_equal(semid_gen_bundle_load(model, &b), SEMID_OK);
    assert_int_equal(b->n_items, before->n_items + 3);
    for (int32_t i = b->n_base_items; i < b->n_items; i++) check_added_item(b, i, 2);
    semid_gen_bundle_free(b);
    free(out);
    free(items);
    semid_gen_bundle_free(before);
}

static void test_remove_never_returned(void **state) {
    (void)state;
    fresh_model("m_remove");
    char *items = write_new_items("new_r.tsv");
    add_items(items);
    free(items);
    /* Remove two trained items and one added item. */
    const char *gone[3] = {ds.items[3].id, ds.items[10].id, "new2"};
    char *out = NULL;
    int rc = run(&out, "catalog remove --model %s %s %s %s", model, gone[0], gone[1], gone[2]);
    if (rc != 0) fail_msg("remove: %s", out);
    assert_non_null(strstr(out, "catalog version 2"));
    free(out);

    /* Many queries, exhaustive beams: every other item comes back, the
     * removed ones never. */
    char qtext[65536];
    int n = 0;
    for (int32_t q = 0; q < ds.n_queries && q < 30; q++)
        n += snprintf(qtext + n, sizeof qtext - (size_t)n, "q%d\t%s\n", q, ds.queries[q].text);
    n += snprintf(qtext + n, sizeof qtext - (size_t)n, "own\tfishermen wait for the storm\n");
    char *qpath = test_write_file(tmpdir, "q_remove.tsv", qtext);
    rc = run(&out, "search --model %s --queries %s --k %d --beam %d --threads 1", model, qpath, N_ITEMS + 3, N_ITEMS + 3);
    if (rc != 0) fail_msg("search: %s", out);
    for (int k = 0; k < 3; k++)
        if (lists(out, gone[k])) fail_msg("removed item %s returned by search", gone[k]);
    assert_true(lists(out, "new0"));
    free(out);
    /* Recommendations from users' histories. */
    char htext[65536];
    n = 0;
    for (int32_t u = 0; u < ds.n_users && u < 20; u++) {
        semid_user_split sp = semid_dataset_user_split(&ds, u);
        n += snprintf(htext + n, sizeof htext - (size_t)n, "u%d\t", u);
        for (int64_t j = sp.train_begin; j < sp.train_end; j++)
            n += snprintf(htext + n, sizeof htext - (size_t)n, "%s%s", j > sp.train_begin ? "," : "",
                          ds.items[ds.seq_items[j]].id);
        n += snprintf(htext + n, sizeof htext - (size_t)n, "\n");
    }
    char *hpath = test_write_file(tmpdir, "h_remove.tsv", htext);
    rc = run(&out, "recommend --model %s --histories %s --k %d --beam %d --threads 1 --keep-history", model, hpath,
             N_ITEMS + 3, N_ITEMS + 3);
    if (rc != 0) fail_msg("recommend: %s", out);
    for (int k = 0; k < 3; k++)
        if (lists(out, gone[k])) fail_msg("removed item %s returned by recommend", gone[k]);
    free(out);
    /* The same through the library, with the diverse decoder too. */
    semid_gen_bundle *b = NULL;
    assert_int_equal(semid_gen_bundle_load(model, &b), SEMID_OK);
    for (int diverse = 0; diverse < 2; diverse++) {
        semid_gen_decode_options o = semid_gen_decode_defaults();
        o.diverse = diverse;
        o.beam.k = N_ITEMS;
        o.beam.beam_size = diverse ? 60 : N_ITEMS + 3;
        if (diverse) {
            o.beam.groups = 30;
            o.beam.diversity = 0.25f;
        }
        const char *qs[2] = {"fishermen wait for the storm", ds.queries[0].text};
        semid_beam_hits h;
        assert_int_equal(semid_gen_search(b, qs, 2, &o, &h, NULL), SEMID_OK);
        for (int64_t q = 0; q < 2; q++)
            for (int32_t j = 0; j < h.n_hits[q]; j++) assert_false(b->removed[h.items[q * h.k + j]]);
        semid_beam_hits_free(&h);
    }
    semid_gen_bundle_free(b);
    free(qpath);
    free(hpath);
}

static void test_bad_input(void **state) {
    (void)state;
    fresh_model("m_bad");
    char *items = write_new_items("new_b.tsv");
    add_items(items);
    size_t len0;
    char *cat0 = slurp(model, SEMID_CATALOG_FILE, &len0);
    assert_non_null(cat0);
    char *out = NULL;

    /* An id already in the catalog (trained, or added before). */
    char text[2048];
    snprintf(text, sizeof text, "item_id\ttitle\nfresh\tSomething\n%s\tA copy\n", ds.items[0].id);
    char *dup = test_write_file(tmpdir, "dup.tsv", text);
    int rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd", model, dup,
                 tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "already in the catalog"));
    free(out);
    rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd", model, items,
             tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "'new0' is already in the catalog"));
    free(out);
    /* Twice in the file itself. */
    char *twice = test_write_file(tmpdir, "twice.tsv", "item_id\ttitle\nz1\tA\nz1\tB\n");
    rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd", model, twice,
             tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "twice.tsv:3"));
    free(out);
    /* A malformed line names file:line. */
    char *bad = test_write_file(tmpdir, "bad.tsv", "item_id\ttitle\tyear\nz2\tA\t2001\nz3\tB\n");
    rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd", model, bad,
             tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "bad.tsv:3"));
    free(out);
    /* A tokenizer from another vocabulary. */
    rc = run(&out, "sid build --embeddings %s/emb/content.npy --levels 2 --codebook 4 --seed 9 --out %s/other.json "
                   "--tokenizer-out %s/other.bin --threads 1",
             tmpdir, tmpdir, tmpdir);
    must("sid build", rc, out);
    char *fresh = test_write_file(tmpdir, "fresh.tsv", "item_id\ttitle\nz4\tA harbour\n");
    rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/other.bin --content --dataset %s/ds.sdd", model,
             fresh, tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "another vocabulary"));
    free(out);
    /* Removing an unknown id, or one removed already. */
    rc = run(&out, "catalog remove --model %s no-such-item", model);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "no item 'no-such-item'"));
    free(out);
    /* A concurrent update is refused while another process holds the lock. */
    semid_dirlock lock;
    assert_int_equal(semid_dirlock_acquire(&lock, model, 0), SEMID_OK);
    rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd", model, fresh,
             tmpdir, tmpdir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "pid"));
    free(out);
    rc = run(&out, "catalog remove --model %s new0", model);
    assert_int_not_equal(rc, 0);
    free(out);
    semid_dirlock_release(&lock);

    /* Every failure left catalog.json as it was. */
    size_t len1;
    char *cat1 = slurp(model, SEMID_CATALOG_FILE, &len1);
    assert_true(len0 == len1 && memcmp(cat0, cat1, len0) == 0);
    free(cat1);
    /* Now the add goes through, and a second removal of an item fails. */
    rc = run(&out, "catalog add --model %s --items %s --tokenizer %s/tok.bin --content --dataset %s/ds.sdd", model, fresh,
             tmpdir, tmpdir);
    must("catalog add", rc, out);
    rc = run(&out, "catalog remove --model %s z4", model);
    must("catalog remove", rc, out);
    rc = run(&out, "catalog remove --model %s z4", model);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "already removed"));
    free(out);
    /* A catalog of another training is refused at load, naming the file. */
    char cmd[4000];
    semid_gen_bundle *b = NULL;
    char other[700];
    snprintf(other, sizeof other, "%s/m_other", tmpdir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s' && sed -i 's/\"base_items\":[[:space:]]*[0-9]*/\"base_items\": 7/' '%s/%s'",
             other, model, other, other, SEMID_CATALOG_FILE);
    assert_int_equal(system(cmd), 0);
    /* The edit breaks the checksum in catalog.json.sum first... */
    assert_int_equal(semid_gen_bundle_load(other, &b), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "catalog.json is corrupt"));
    /* ...and unchecked, the count of another training is refused. */
    setenv("SEMID_NO_VERIFY", "1", 1);
    assert_int_equal(semid_gen_bundle_load(other, &b), SEMID_EFORMAT);
    unsetenv("SEMID_NO_VERIFY");
    assert_non_null(strstr(semid_last_error(), "catalog.json"));
    assert_null(strstr(semid_last_error(), "corrupt"));
    free(cat0);
    free(items);
    free(dup);
    free(twice);
    free(bad);
    free(fresh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_then_search),
        cmocka_unit_test(test_add_with_capped_disambiguation),
        cmocka_unit_test(test_remove_never_returned),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
