/* The query generator on hand-made items in the MovieLens style: counts and
 * splits, titles never in queries, names and keywords used, other films'
 * titles (in quotes) left out, determinism, copies, append, TSV export. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "data/builder.h"
#include "data/dataset.h"
#include "data/querygen.h"
#include "support/testutil.h"
#include "text/tokenize.h"

typedef struct test_item {
    const char *id, *title;
    int32_t year;
    const char *genres, *description;
} test_item;

static const test_item k_items[] = {
    {"1", "Toy Story", 1995, "Animation, Children's, Comedy",
     "\"Toy Story (1995)\" is a pioneering animated film directed by John Lasseter. The film features a stellar cast "
     "including Tom Hanks, Tim Allen and Don Rickles. A cowboy doll feels threatened when a shiny spaceman toy "
     "arrives in the bedroom. Tom Hanks, known for \"Apollo 13\", voices the cowboy."},
    {"50", "Usual Suspects, The", 1995, "Crime, Thriller",
     "A sole survivor tells the twisty story of a heist gone wrong aboard a ship in the harbor. Directed by Bryan "
     "Singer, it stars Kevin Spacey and Gabriel Byrne as career criminals rounded up by police for a lineup."},
    {"6", "Heat", 1995, "Action, Crime, Thriller",
     "A detective hunts a crew of professional thieves in Los Angeles during a brutal heat wave. Directed by Michael "
     "Mann, with Al Pacino and Robert De Niro. The heat of the city and the heat of the chase drive the story."},
    {"29", "City of Lost Children, The (Cité des enfants perdus, La)", 1995, "Adventure, Sci-Fi",
     "A mad scientist kidnaps children to steal their dreams in a strange harbor city. A circus strongman searches "
     "for his little brother with the help of an orphan girl. Directed by Jean-Pierre Jeunet and Marc Caro."},
    {"1240", "Terminator, The", 1984, "Action, Sci-Fi, Thriller",
     "A cyborg assassin is sent back in time from a grim future to kill a waitress whose son will lead the "
     "resistance against the machines. Directed by James Cameron, starring Arnold Schwarzenegger and Linda "
     "Hamilton."},
    {"2000", "Lethal Weapon", 1987, "Action, Comedy, Crime",
     "Two mismatched police detectives, a suicidal veteran and a family man close to retirement, uncover a drug "
     "smuggling ring run by former special forces mercenaries. Mel Gibson and Danny Glover star. Fans of this film "
     "might also enjoy movies about dinosaurs, pirates and volcanoes, such as Jurassic Park."},
    /* Little metadata: no description, no genres. */
    {"77", "Nothing Much", 0, "", ""},
    {"78", "It", 1990, "Horror", "It is a horror story about it and the clown it becomes in a small town."},
};
enum { N_ITEMS = (int)(sizeof k_items / sizeof k_items[0]) };

enum { EMPTY_ITEM = 6 };

/* The items above; without_empty leaves out the one without metadata. */
static void make_dataset_of(semid_dataset *ds, bool without_empty) {
    semid_dataset_builder *b;
    assert_int_equal(semid_builder_create(&b, "hand"), SEMID_OK);
    for (int i = 0; i < N_ITEMS; i++) {
        if (without_empty && i == EMPTY_ITEM) continue;
        semid_item f = {.id = (char *)k_items[i].id, .title = (char *)k_items[i].title, .year = k_items[i].year,
                        .genres = (char *)k_items[i].genres, .description = (char *)k_items[i].description};
        assert_int_equal(semid_builder_add_item(b, &f, NULL), SEMID_OK);
    }
    assert_int_equal(semid_builder_finish(b, ds), SEMID_OK);
}

static void make_dataset(semid_dataset *ds) {
    make_dataset_of(ds, false);
}

static int count_duplicate_wordsets(const semid_dataset *ds);

static int32_t count_containing(const semid_dataset *ds, int32_t item, const char *word) {
    int32_t n = 0;
    for (int32_t q = 0; q < ds->n_queries; q++)
        if (ds->queries[q].item == item && strstr(ds->queries[q].text, word)) n++;
    return n;
}

static void test_counts_splits_titles(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds);
    semid_querygen_config cfg;
    semid_querygen_config_default(&cfg);
    assert_int_equal(cfg.n_per_item, 20);
    assert_int_equal(cfg.n_train, 10);
    assert_int_equal(cfg.n_valid, 0);
    semid_querygen_stats st;
    assert_int_equal(semid_querygen_run(&ds, &cfg, 5, &st), SEMID_OK);
    assert_int_equal(ds.n_queries, N_ITEMS * 20);
    assert_int_equal(st.n_train, N_ITEMS * 10);
    assert_int_equal(st.n_test, N_ITEMS * 10);
    int32_t train[N_ITEMS] = {0}, total[N_ITEMS] = {0};
    for (int32_t q = 0; q < ds.n_queries; q++) {
        const semid_query *qq = &ds.queries[q];
        assert_true(qq->item >= 0 && qq->item < N_ITEMS);
        assert_true(strlen(qq->text) > 0);
        total[qq->item]++;
        train[qq->item] += qq->split == SEMID_SPLIT_TRAIN;
        assert_false(semid_query_contains_title(&ds.items[qq->item], qq->text));
    }
    for (int i = 0; i < N_ITEMS; i++) {
        assert_int_equal(total[i], 20);
        assert_int_equal(train[i], 10);
    }
    /* Single-word titles: the word itself never appears. */
    for (int32_t q = 0; q < ds.n_queries; q++) {
        if (ds.queries[q].item != 2) continue;
        char padded[600];
        snprintf(padded, sizeof padded, " %s ", ds.queries[q].text);
        assert_null(strstr(padded, " heat "));
    }
    /* An item without metadata still gets distinct, non-empty queries
     * (generic ones), as many as there are ways to ask for nothing. */
    int32_t generic = 0;
    for (int32_t q = 0; q < ds.n_queries; q++) generic += ds.queries[q].item == EMPTY_ITEM;
    assert_int_equal(generic, 20);
    semid_dataset_free(&ds);

    /* Copies: test queries do not repeat a training query's word set. */
    make_dataset_of(&ds, true);
    assert_int_equal(semid_querygen_run(&ds, &cfg, 5, &st), SEMID_OK);
    assert_true(st.copy_share < 0.05);
    assert_true(semid_queries_copy_share(&ds) < 0.05);
    /* Stronger: no two queries of an item share their words. */
    assert_int_equal(count_duplicate_wordsets(&ds), 0);
    semid_dataset_free(&ds);
}

static void test_uses_names_and_keywords_not_other_titles(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds);
    semid_querygen_config cfg;
    semid_querygen_config_default(&cfg);
    assert_int_equal(semid_querygen_run(&ds, &cfg, 11, NULL), SEMID_OK);
    /* People named in the description show up (in full or by surname). */
    assert_true(count_containing(&ds, 0, "hanks") + count_containing(&ds, 0, "allen") +
                    count_containing(&ds, 0, "lasseter") + count_containing(&ds, 0, "rickles") >
                0);
    assert_true(count_containing(&ds, 4, "cameron") + count_containing(&ds, 4, "schwarzenegger") +
                    count_containing(&ds, 4, "hamilton") >
                0);
    /* Story words show up: a rare, specific word of each story. */
    assert_true(count_containing(&ds, 0, "cowboy") + count_containing(&ds, 0, "spaceman") > 0);
    assert_true(count_containing(&ds, 4, "cyborg") + count_containing(&ds, 4, "waitress") +
                    count_containing(&ds, 4, "resistance") >
                0);
    /* Genres and decades in the ways people say them. */
    int32_t decade = 0;
    for (int32_t q = 0; q < ds.n_queries; q++)
        decade += strstr(ds.queries[q].text, "90s") || strstr(ds.queries[q].text, "nineties") ||
                  strstr(ds.queries[q].text, "80s") || strstr(ds.queries[q].text, "eighties");
    assert_true(decade > N_ITEMS);
    /* A title in quotes names another film: "Apollo 13" is not a keyword. */
    assert_int_equal(count_containing(&ds, 0, "apollo"), 0);
    /* Review words are not keywords. */
    for (int32_t q = 0; q < ds.n_queries; q++) {
        assert_null(strstr(ds.queries[q].text, "stellar"));
        assert_null(strstr(ds.queries[q].text, "pioneering"));
    }
    /* A sentence about other works gives neither keywords nor names. */
    assert_int_equal(count_containing(&ds, 5, "jurassic") + count_containing(&ds, 5, "dinosaur") +
                         count_containing(&ds, 5, "pirate") + count_containing(&ds, 5, "volcano"),
                     0);
    assert_true(count_containing(&ds, 5, "gibson") + count_containing(&ds, 5, "glover") > 0);
    semid_dataset_free(&ds);
}

static void test_determinism(void **state) {
    (void)state;
    semid_dataset a, b, c;
    make_dataset(&a);
    make_dataset(&b);
    make_dataset(&c);
    semid_querygen_config cfg;
    semid_querygen_config_default(&cfg);
    assert_int_equal(semid_querygen_run(&a, &cfg, 3, NULL), SEMID_OK);
    assert_int_equal(semid_querygen_run(&b, &cfg, 3, NULL), SEMID_OK);
    assert_int_equal(semid_querygen_run(&c, &cfg, 4, NULL), SEMID_OK);
    int differ = 0;
    for (int32_t q = 0; q < a.n_queries; q++) {
        assert_string_equal(a.queries[q].text, b.queries[q].text);
        assert_int_equal(a.queries[q].split, b.queries[q].split);
        differ += strcmp(a.queries[q].text, c.queries[q].text) != 0;
    }
    assert_true(differ > a.n_queries / 2);
    semid_dataset_free(&a);
    semid_dataset_free(&b);
    semid_dataset_free(&c);
}

static int cmp_words(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The query's distinct words, sorted and joined (caller frees). */
static char *wordset(const char *text) {
    semid_words w;
    assert_int_equal(semid_tokenize(text, &w), SEMID_OK);
    qsort(w.words, (size_t)w.n, sizeof(char *), cmp_words);
    char *out = calloc(strlen(text) + 2, 1);
    assert_non_null(out);
    for (int32_t i = 0; i < w.n; i++) {
        if (i > 0 && strcmp(w.words[i], w.words[i - 1]) == 0) continue;
        strcat(out, w.words[i]);
        strcat(out, " ");
    }
    semid_words_free(&w);
    return out;
}

/* Pairs of queries of the same item with the same word set. */
static int count_duplicate_wordsets(const semid_dataset *ds) {
    int dups = 0;
    for (int32_t a = 0; a < ds->n_queries; a++) {
        char *wa = wordset(ds->queries[a].text);
        for (int32_t b = 0; b < a; b++) {
            if (ds->queries[b].item != ds->queries[a].item) continue;
            char *wb = wordset(ds->queries[b].text);
            dups += strcmp(wa, wb) == 0;
            free(wb);
        }
        free(wa);
    }
    return dups;
}

static void test_valid_split_and_append(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset_of(&ds, true);
    const int N = N_ITEMS - 1;
    semid_querygen_config cfg;
    semid_querygen_config_default(&cfg);
    cfg.n_per_item = 6;
    cfg.n_train = 3;
    cfg.n_valid = 1;
    semid_querygen_stats st;
    assert_int_equal(semid_querygen_run(&ds, &cfg, 9, &st), SEMID_OK);
    assert_int_equal(ds.n_queries, N * 6);
    assert_int_equal(st.n_train, N * 3);
    assert_int_equal(st.n_valid, N);
    assert_int_equal(st.n_test, N * 2);
    char *first = semid_strdup(ds.queries[0].text);
    cfg.append = true;
    /* The same seed again: without looking at the queries already there it
     * would write the same ones. */
    assert_int_equal(semid_querygen_run(&ds, &cfg, 9, NULL), SEMID_OK);
    assert_int_equal(ds.n_queries, N * 12);
    assert_string_equal(ds.queries[0].text, first);
    /* Appended queries avoid the word sets already there. */
    assert_int_equal(count_duplicate_wordsets(&ds), 0);
    /* Replacing (the default) drops the old ones. */
    cfg.append = false;
    cfg.n_per_item = 2;
    cfg.n_train = 1;
    cfg.n_valid = 0;
    assert_int_equal(semid_querygen_run(&ds, &cfg, 10, NULL), SEMID_OK);
    assert_int_equal(ds.n_queries, N * 2);
    free(first);
    semid_dataset_free(&ds);
}

static void test_bad_config(void **state) {
    (void)state;
    semid_dataset ds;
    make_dataset(&ds);
    semid_querygen_config cfg;
    semid_querygen_config_default(&cfg);
    cfg.n_train = 15;
    cfg.n_valid = 10;
    assert_int_equal(semid_querygen_run(&ds, &cfg, 1, NULL), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "n_train"));
    semid_querygen_config_default(&cfg);
    cfg.n_per_item = 0;
    assert_int_equal(semid_querygen_run(&ds, &cfg, 1, NULL), SEMID_EINVAL);
    assert_int_equal(ds.n_queries, 0);
    semid_dataset_free(&ds);
}

static void test_contains_title(void **state) {
    (void)state;
    semid_item it = {0};
    it.title = "Usual Suspects, The";
    assert_true(semid_query_contains_title(&it, "the usual suspects"));
    assert_true(semid_query_contains_title(&it, "movie like Usual Suspects!"));
    assert_false(semid_query_contains_title(&it, "usual crime suspects"));
    it.title = "It";
    assert_true(semid_query_contains_title(&it, "it came from the sea"));
    assert_false(semid_query_contains_title(&it, "a film with a clown"));
    it.title = "City of Lost Children, The (Cité des enfants perdus, La)";
    assert_true(semid_query_contains_title(&it, "CITÉ des Enfants perdus"));
    assert_true(semid_query_contains_title(&it, "city of lost children"));
    assert_false(semid_query_contains_title(&it, "lost children in a city"));
    it.title = "Se7en";
    assert_false(semid_query_contains_title(&it, "seven deadly sins"));
    it.title = "Heat";
    assert_true(semid_query_contains_title(&it, "crime in the heat wave"));
    assert_false(semid_query_contains_title(&it, "heated chase"));
}

static void test_copy_share(void **state) {
    (void)state;
    semid_dataset_builder *b;
    assert_int_equal(semid_builder_create(&b, "copies"), SEMID_OK);
    int32_t i0, i1;
    semid_item f0 = {.id = "a", .title = "A"}, f1 = {.id = "b", .title = "B"};
    assert_int_equal(semid_builder_add_item(b, &f0, &i0), SEMID_OK);
    assert_int_equal(semid_builder_add_item(b, &f1, &i1), SEMID_OK);
    assert_int_equal(semid_builder_add_query(b, i0, "dark crime thriller", SEMID_SPLIT_TRAIN), SEMID_OK);
    /* Same word set, other order and case: a copy. */
    assert_int_equal(semid_builder_add_query(b, i0, "Thriller, crime DARK", SEMID_SPLIT_TEST), SEMID_OK);
    assert_int_equal(semid_builder_add_query(b, i0, "dark thriller", SEMID_SPLIT_TEST), SEMID_OK);
    /* The same words for another item are not a copy. */
    assert_int_equal(semid_builder_add_query(b, i1, "dark crime thriller", SEMID_SPLIT_TEST), SEMID_OK);
    semid_dataset ds;
    assert_int_equal(semid_builder_finish(b, &ds), SEMID_OK);
    assert_float_equal(semid_queries_copy_share(&ds), 1.0 / 3.0, 1e-12);
    semid_dataset_free(&ds);
}

static void test_tsv_export(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    assert_non_null(dir);
    semid_dataset ds;
    make_dataset(&ds);
    semid_querygen_config cfg;
    semid_querygen_config_default(&cfg);
    cfg.n_per_item = 4;
    cfg.n_train = 2;
    assert_int_equal(semid_querygen_run(&ds, &cfg, 2, NULL), SEMID_OK);
    char *path = semid_path_join(dir, "queries.tsv");
    assert_int_equal(semid_queries_write_tsv(&ds, path), SEMID_OK);
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(path, &text, &len), SEMID_OK);
    assert_memory_equal(text, "item_id\tsplit\tquery\n", 20);
    int lines = 0, tabs = 0;
    for (size_t k = 0; k < len; k++) {
        lines += text[k] == '\n';
        tabs += text[k] == '\t';
    }
    assert_int_equal(lines, 1 + N_ITEMS * 4);
    assert_int_equal(tabs, 2 * lines);
    assert_non_null(strstr(text, "\n1240\ttrain\t"));
    assert_non_null(strstr(text, "\n1240\ttest\t"));
    free(text);
    free(path);
    semid_dataset_free(&ds);
    test_rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_splits_titles),
        cmocka_unit_test(test_uses_names_and_keywords_not_other_titles),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_valid_split_and_append),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_contains_title),
        cmocka_unit_test(test_copy_share),
        cmocka_unit_test(test_tsv_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
