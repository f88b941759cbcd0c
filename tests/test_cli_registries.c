/* The registries (tokenizers, strategies, embedding methods, importers,
 * reference rows) walked row by row: every consumer accepts every row (the
 * experiment config, the builders and dispatchers, the cache keys, the CLI's
 * help texts), and a name not in a table is an error listing the known ones. A
 * new row is covered here without a new test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/import.h"
#include "data/import_util.h"
#include "embed/embed_methods.h"
#include "exp/cache.h"
#include "exp/config.h"
#include "exp/stages.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"
#include "support/testutil.h"

/* Names are unique and non-empty, and the help of each command (NULL-
 * terminated) lists every one of them. */
static void check_names(semid_name_at_fn name_at, const char *const *commands) {
    assert_non_null(name_at(0));
    for (int i = 0; name_at(i); i++) {
        assert_true(name_at(i)[0] != '\0');
        assert_int_equal(semid_names_index(name_at, name_at(i)), i);
    }
    for (; *commands; commands++) {
        char *help = NULL, args[128];
        snprintf(args, sizeof args, "%s --help", *commands);
        assert_int_equal(test_run_cli(args, &help), 0);
        for (int i = 0; name_at(i); i++)
            if (!strstr(help, name_at(i))) fail_msg("'%s' is not in the help of %s", name_at(i), *commands);
        free(help);
    }
}

/* An unknown name's error (msg) names it and lists every known one. */
static void check_message(const char *msg, semid_name_at_fn name_at, const char *what) {
    char want[64];
    snprintf(want, sizeof want, "unknown %s 'no_such'", what);
    if (!strstr(msg, want)) fail_msg("'%s' does not say %s", msg, want);
    for (int i = 0; name_at(i); i++)
        if (!strstr(msg, name_at(i))) fail_msg("'%s' does not list %s", msg, name_at(i));
}

static void check_unknown(semid_status st, semid_name_at_fn name_at, const char *what) {
    assert_int_equal(st, SEMID_EINVAL);
    check_message(semid_last_error(), name_at, what);
}

/* The same through the CLI: exit status 1. */
static void check_cli_unknown(const char *args, semid_name_at_fn name_at, const char *what) {
    char *out = NULL;
    assert_int_equal(test_run_cli(args, &out), 1);
    check_message(out, name_at, what);
    free(out);
}

static semid_status override(exp_config *c, const char *key, const char *value) {
    char a[128];
    snprintf(a, sizeof a, "%s=%s", key, value);
    return exp_config_apply_override(c, a);
}

/* Whether a config's name list (n names of `width` bytes) holds `name`. */
static int listed(const char *name, const char *list, int n, size_t width) {
    for (int i = 0; i < n; i++)
        if (strcmp(list + (size_t)i * width, name) == 0) return 1;
    return 0;
}

/* Blobs the tokenizers can split: rows around 8 centres. */
static void blobs(semid_matrix *m, int64_t n, int32_t d, uint64_t seed) {
    assert_int_equal(semid_matrix_alloc(m, n, d), SEMID_OK);
    semid_rng r;
    semid_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < d; j++)
            m->data[i * d + j] = (float)((i % 8) == j % 8) + 0.1f * (float)semid_rng_normal(&r);
}

static semid_tokenizer_config small_tokenizer(const char *method) {
    semid_tokenizer_config t = semid_tokenizer_defaults();
    t.method = method;
    t.levels = 2;
    t.codebook_size = 4;
    t.iters = 2;
    return t;
}

static void test_tokenizers(void **state) {
    (void)state;
    check_names(semid_tokenizer_name_at, (const char *const[]){"sid build", "experiment", NULL});
    exp_config c, defaults;
    assert_int_equal(exp_config_preset(&defaults, "quick"), SEMID_OK);
    semid_matrix X;
    blobs(&X, 96, 8, 1);
    for (int i = 0; semid_tokenizer_methods[i]; i++) {
        const semid_tokenizer_method *m = semid_tokenizer_methods[i];
        assert_ptr_equal(semid_tokenizer_find_method(m->name), m);
        assert_non_null(m->label);
        assert_true(m->label[0] != '\0');
        assert_non_null(m->fit);
        assert_non_null(m->encode);
        /* The config takes it, and the default ablation is the flagged rows. */
        assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
        assert_int_equal(override(&c, "sid.ablation", m->name), SEMID_OK);
        assert_string_equal(c.ablation[0], m->name);
        assert_int_equal(listed(m->name, defaults.ablation[0], defaults.n_ablation, sizeof defaults.ablation[0]),
                         m->in_ablation != 0);
        /* The strategies build with it, and the table records its name. */
        semid_strategy_options o = {.strategy = semid_strategy_name_at(0), .tokenizer = small_tokenizer(m->name)};
        const semid_matrix *const emb[2] = {&X, &X};
        semid_strategy_result r;
        if (semid_strategy_build_catalog(emb, &o, NULL, NULL, &r) != SEMID_OK)
            fail_msg("tokenizer %s: %s", m->name, semid_last_error());
        assert_string_equal(r.table.method, m->name);
        semid_strategy_result_free(&r);
    }
    semid_matrix_free(&X);
    const semid_tokenizer_method *none;
    check_unknown(semid_tokenizer_lookup("no_such", &none), semid_tokenizer_name_at, "tokenizer");
    check_unknown(override(&c, "sid.ablation", "no_such"), semid_tokenizer_name_at, "tokenizer");
    check_cli_unknown("sid build --embeddings none.npy --method no_such --out none.json", semid_tokenizer_name_at,
                      "tokenizer");
}

static void test_strategies(void **state) {
    (void)state;
    check_names(semid_strategy_name_at, (const char *const[]){"sid build", "experiment", NULL});
    exp_config c, defaults;
    assert_int_equal(exp_config_preset(&defaults, "quick"), SEMID_OK);
    semid_matrix S, R;
    blobs(&S, 96, 8, 2);
    blobs(&R, 96, 12, 3);
    for (int i = 0; semid_strategy_name_at(i); i++) {
        const semid_strategy_def *def = semid_strategy_find(semid_strategy_name_at(i));
        assert_non_null(def);
        assert_true(def->label && def->label[0]);
        /* Every embedding it reads is a known method; one or two of them. */
        int n = semid_strategy_n_embeddings(def);
        assert_true(n == 1 || n == 2);
        for (int e = 0; e < n; e++)
            if (!semid_embed_method_find(def->embeddings[e]))
                fail_msg("strategy %s reads '%s', not an embedding method", def->name, def->embeddings[e]);
        /* The experiment runs it by default and takes it as a setting. */
        assert_true(listed(def->name, defaults.strategies[0], defaults.n_strategies, sizeof defaults.strategies[0]));
        assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
        assert_int_equal(override(&c, "sid.strategies", def->name), SEMID_OK);
        /* It builds from its embeddings. */
        semid_strategy_options o = {.strategy = def->name, .tokenizer = small_tokenizer(NULL), .disambiguate = 1};
        const semid_matrix *const emb[2] = {&S, &R};
        semid_strategy_result r;
        if (semid_strategy_build_catalog(emb, &o, NULL, NULL, &r) != SEMID_OK)
            fail_msg("strategy %s: %s", def->name, semid_last_error());
        assert_string_equal(r.table.strategy, def->name);
        assert_int_equal(r.table.n_tasks, n);
        semid_strategy_result_free(&r);
    }
    semid_matrix_free(&S);
    semid_matrix_free(&R);
    check_unknown(semid_strategy_lookup("no_such", NULL), semid_strategy_name_at, "strategy");
    check_unknown(override(&c, "sid.strategies", "no_such"), semid_strategy_name_at, "strategy");
    check_cli_unknown("sid build --embeddings none.npy --strategy no_such --out none.json", semid_strategy_name_at,
                      "strategy");
}

static void test_embedding_methods(void **state) {
    (void)state;
    check_names(semid_embed_method_name_at, (const char *const[]){"embed", NULL});
    exp_config c;
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    exp_key data = exp_key_make("data", NULL), key;
    for (int i = 0; semid_embed_method_name_at(i); i++) {
        const semid_embed_method *m = semid_embed_method_find(semid_embed_method_name_at(i));
        assert_non_null(m);
        /* A fused method fuses two methods that are not fused themselves. */
        for (int e = 0; m->kind == SEMID_EMBED_FUSED && e < 2; e++) {
            const semid_embed_method *in = semid_embed_method_find(m->inputs[e]);
            assert_non_null(in);
            assert_int_not_equal(in->kind, SEMID_EMBED_FUSED);
            assert_non_null(m->fuse);
        }
        /* The experiment's cache keys it. */
        assert_int_equal(exp_key_embedding(&c, &data, m->name, &key), SEMID_OK);
    }
    const semid_embed_method *none;
    check_unknown(semid_embed_method_lookup("no_such", "method", &none), semid_embed_method_name_at, "method");
    /* The reference rows score with known methods. */
    for (const exp_reference *ref = exp_references; ref->name; ref++) {
        assert_true(ref->label && ref->label[0]);
        if (ref->embedding) assert_non_null(semid_embed_method_find(ref->embedding));
        else assert_false(ref->when_used);
    }
    check_cli_unknown("embed --method no_such --dataset none.sdd --out none", semid_embed_method_name_at, "--method");
}

static void test_importers(void **state) {
    (void)state;
    check_names(semid_import_format_at, (const char *const[]){"data import", "experiment", NULL});
    char *dir = test_make_tmpdir();
    assert_non_null(dir);
    exp_config c;
    for (int i = 0; semid_importers[i]; i++) {
        const semid_importer *imp = semid_importers[i];
        assert_string_equal(semid_import_format_at(i), imp->name);
        assert_true(imp->files && imp->files[0]);
        assert_non_null(imp->detect);
        assert_non_null(imp->read);
        assert_int_equal(semid_import_check_format(imp->name), SEMID_OK);
        assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
        assert_int_equal(override(&c, "dataset_format", imp->name), SEMID_OK);
        assert_int_equal(exp_config_validate(&c, 0), SEMID_OK);
        /* The dispatcher finds its reader: an empty directory is then an
         * error of missing files, not of the format's name. */
        semid_dataset ds;
        assert_int_not_equal(semid_import(imp->name, dir, NULL, &ds), SEMID_OK);
        if (strstr(semid_last_error(), "unknown format")) fail_msg("format %s: %s", imp->name, semid_last_error());
        /* Nothing in an empty directory is taken for it. */
        assert_false(imp->detect(dir, true));
    }
    /* Detection's error says what each format looks for. */
    const char *format;
    assert_int_equal(semid_import_detect(dir, &format), SEMID_ENOTFOUND);
    for (int i = 0; semid_importers[i]; i++) assert_non_null(strstr(semid_last_error(), semid_importers[i]->files));
    test_rm_rf(dir);
    free(dir);
    check_unknown(semid_import_check_format("no_such"), semid_import_format_at, "format");
    assert_int_equal(exp_config_preset(&c, "quick"), SEMID_OK);
    assert_int_equal(override(&c, "dataset_format", "no_such"), SEMID_OK);
    check_unknown(exp_config_validate(&c, 0), semid_import_format_at, "format");
    check_cli_unknown("data import --format no_such none", semid_import_format_at, "format");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizers),
        cmocka_unit_test(test_strategies),
        cmocka_unit_test(test_embedding_methods),
        cmocka_unit_test(test_importers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
