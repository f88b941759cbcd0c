/* Importers on small files written by the test: each format, Latin-1
 * titles, quoted CSV titles, tags, side files, k-core and min rating. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "data/builder.h"
#include "data/import.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_ERROR);
    tmpdir = test_make_tmpdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    test_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* A fresh subdirectory of tmpdir for one dataset. */
static char *subdir(const char *name) {
    char *d = semid_path_join(tmpdir, name);
    assert_int_equal(semid_mkdirs(d), SEMID_OK);
    return d;
}

static void put(const char *dir, const char *name, const char *text) { free(test_write_file(dir, name, text)); }

static const semid_item *item(const semid_dataset *ds, const char *id) {
    int32_t i = semid_dataset_find_item(ds, id);
    assert_true(i >= 0);
    return &ds->items[i];
}

static int32_t user_index(const semid_dataset *ds, const char *id) {
    for (int32_t u = 0; u < ds->n_users; u++)
        if (strcmp(ds->user_ids[u], id) == 0) return u;
    fail_msg("no user %s", id);
    return -1;
}

/* The original item ids of user `u`'s history joined by spaces. */
static void history(const semid_dataset *ds, const char *user, char *out, size_t cap) {
    int32_t u = user_index(ds, user);
    size_t pos = 0;
    out[0] = '\0';
    for (int64_t p = ds->user_offsets[u]; p < ds->user_offsets[u + 1]; p++)
        pos += (size_t)snprintf(out + pos, cap - pos, "%s%s", pos ? " " : "", ds->items[ds->seq_items[p]].id);
}

static void test_generic(void **state) {
    (void)state;
    char *d = subdir("generic");
    put(d, "items.tsv",
        "item_id\ttitle\tyear\tgenres\n"
        "10\tToy Story\t1995\tAnimation, Children's, Comedy\n"
        "20\tHeat\t1995\tAction|Crime\n"
        "30\tAlien\t\t\n"
        "40\tNobody Watched\t2001\tDrama\n");
    /* u1's rows are out of order; its two rows at time 5 must keep file order (30 before 10). */
    put(d, "interactions.tsv",
        "user_id\titem_id\ttimestamp\n"
        "u1\t20\t9\n"
        "u1\t30\t5\n"
        "u2\t10\t1\n"
        "u1\t10\t5\n"
        "u1\t20\t2\n");
    put(d, "descriptions.tsv", "item_id\tdescription\n10\tToys come alive.\n99\tNot in the catalog\n");
    put(d, "queries.tsv", "item_id\tsplit\tquery\n10\ttrain\tanimated toys\n20\ttest\tbank robbery\n"
                          "40\tvalid\tdropped with its item\n");
    semid_dataset ds;
    assert_int_equal(semid_import("auto", d, NULL, &ds), SEMID_OK);
    assert_string_equal(ds.name, "generic");
    assert_int_equal(ds.n_items, 3); /* 40 has no interaction */
    assert_int_equal(semid_dataset_find_item(&ds, "40"), -1);
    assert_int_equal(ds.n_users, 2);
    assert_int_equal(ds.n_interactions, 5);
    const semid_item *ts = item(&ds, "10");
    assert_string_equal(ts->title, "Toy Story");
    assert_int_equal(ts->year, 1995);
    assert_string_equal(ts->genres, "Animation,Children's,Comedy");
    assert_string_equal(ts->description, "Toys come alive.");
    assert_string_equal(item(&ds, "20")->genres, "Action,Crime");
    assert_int_equal(item(&ds, "30")->year, 0);
    assert_string_equal(item(&ds, "30")->genres, "");
    char h[256];
    history(&ds, "u1", h, sizeof h);
    assert_string_equal(h, "20 30 10 20");
    int32_t u1 = user_index(&ds, "u1");
    assert_int_equal(ds.seq_times[ds.user_offsets[u1]], 2);
    assert_int_equal(ds.seq_times[ds.user_offsets[u1 + 1] - 1], 9);
    assert_int_equal(ds.n_queries, 2);
    for (int q = 0; q < ds.n_queries; q++) {
        const semid_query *qu = &ds.queries[q];
        if (strcmp(qu->text, "animated toys") == 0) {
            assert_string_equal(ds.items[qu->item].id, "10");
            assert_int_equal(qu->split, SEMID_SPLIT_TRAIN);
        } else {
            assert_string_equal(qu->text, "bank robbery");
            assert_string_equal(ds.items[qu->item].id, "20");
            assert_int_equal(qu->split, SEMID_SPLIT_TEST);
        }
    }
    semid_dataset_free(&ds);

    /* Keeping uninteracted items keeps 40 and its query. */
    semid_import_options o;
    semid_import_options_init(&o);
    o.drop_uninteracted_items = false;
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_items, 4);
    assert_int_equal(ds.n_queries, 3);
    semid_dataset_free(&ds);
    free(d);
}

static void test_generic_extra_columns_and_ratings(void **state) {
    (void)state;
    char *d = subdir("generic2");
    put(d, "items.tsv",
        "item_id\ttitle\tgenres\tdescription\ttags\tyear\textra\n"
        "a\tFirst (1999)\tDrama\tA long story.\tslow, moody\t\tx\n"
        "b\tSecond\t\t\t\t2004\ty\n");
    put(d, "interactions.tsv", "user_id\titem_id\ttimestamp\trating\nx\ta\t1\t4.5\nx\tb\t2\t2\ny\tb\t3\t3\n");
    /* A query file in the two-column form is all train. */
    char *qpath = test_write_file(d, "my_queries.tsv", "a\tmoody drama\nb\tsecond film\n");
    semid_import_options o;
    semid_import_options_init(&o);
    o.min_rating = 3;
    o.queries_path = qpath;
    semid_dataset ds;
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_interactions, 2); /* x-b rated 2 dropped */
    assert_string_equal(item(&ds, "a")->title, "First (1999)"); /* a year column exists: title untouched */
    assert_string_equal(item(&ds, "a")->tags, "slow,moody");
    assert_string_equal(item(&ds, "a")->description, "A long story.");
    assert_int_equal(item(&ds, "b")->year, 2004);
    assert_int_equal(ds.n_queries, 2);
    assert_int_equal(ds.queries[0].split, SEMID_SPLIT_TRAIN);
    assert_int_equal(ds.queries[1].split, SEMID_SPLIT_TRAIN);
    semid_dataset_free(&ds);
    free(qpath);
    free(d);
}

static void test_ml1m_latin1(void **state) {
    (void)state;
    char *d = subdir("ml1m");
    /* "Misérables" in Latin-1: \xE9 alone is invalid UTF-8. */
    put(d, "movies.dat",
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "2::Mis\xE9rables, Les (1995)::Drama|Musical\n"
        "3::City of Lost Children, The (Cit\xE9 des enfants perdus, La) (1995)::Adventure|Sci-Fi\n");
    put(d, "ratings.dat", "1::1::5::978300760\n1::2::3::978302109\n2::3::4::978301968\n2::1::1::978300000\n");
    put(d, "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n");
    const char *fmt;
    assert_int_equal(semid_import_detect(d, &fmt), SEMID_OK);
    assert_string_equal(fmt, "ml-1m");
    semid_dataset ds;
    assert_int_equal(semid_import("auto", d, NULL, &ds), SEMID_OK);
    assert_int_equal(ds.n_items, 3);
    assert_string_equal(item(&ds, "1")->title, "Toy Story");
    assert_int_equal(item(&ds, "1")->year, 1995);
    assert_string_equal(item(&ds, "1")->genres, "Animation,Children's,Comedy");
    assert_string_equal(item(&ds, "2")->title, "Mis\xC3\xA9rables, Les");
    assert_string_equal(item(&ds, "3")->title, "City of Lost Children, The (Cit\xC3\xA9 des enfants perdus, La)");
    char h[64];
    history(&ds, "2", h, sizeof h);
    assert_string_equal(h, "1 3");
    semid_dataset_free(&ds);

    /* The same catalog already in UTF-8 reads the same. */
    put(d, "movies.dat", "1::Toy Story (1995)::Animation\n2::Mis\xC3\xA9rables, Les (1995)::Drama\n3::X (2000)::Drama\n");
    semid_import_options o;
    semid_import_options_init(&o);
    o.min_rating = 4; /* keeps 1-1 (5) and 2-3 (4) */
    assert_int_equal(semid_import("ml-1m", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_interactions, 2);
    assert_int_equal(ds.n_items, 2);
    assert_int_equal(semid_dataset_find_item(&ds, "2"), -1);
    semid_dataset_free(&ds);
    o.drop_uninteracted_items = false;
    assert_int_equal(semid_import("ml-1m", d, &o, &ds), SEMID_OK);
    assert_string_equal(item(&ds, "2")->title, "Mis\xC3\xA9rables, Les");
    semid_dataset_free(&ds);
    free(d);
}

static void test_ml100k(void **state) {
    (void)state;
    char *d = subdir("ml100k");
    put(d, "u.item",
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
        "2|Caf\xE9 Society|01-Jan-1997||http://y|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
    put(d, "u.data", "7\t1\t4\t881250949\n7\t2\t3\t881250000\n");
    semid_dataset ds;
    assert_int_equal(semid_import("auto", d, NULL, &ds), SEMID_OK);
    assert_string_equal(item(&ds, "1")->genres, "Animation,Children's,Comedy");
    assert_int_equal(item(&ds, "1")->year, 1995);
    assert_string_equal(item(&ds, "2")->title, "Caf\xC3\xA9 Society");
    assert_int_equal(item(&ds, "2")->year, 1997); /* from the release date */
    assert_string_equal(item(&ds, "2")->genres, "");
    char h[64];
    history(&ds, "7", h, sizeof h);
    assert_string_equal(h, "2 1");
    semid_dataset_free(&ds);
    free(d);
}

static void test_recbole(void **state) {
    (void)state;
    char *d = subdir("rb");
    put(d, "mini.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n196\t302\t5\t881250000.0\n186\t242\t1\t891717742\n");
    put(d, "mini.item",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n"
        "999\tNever Rated\tunknown\tDrama\n");
    semid_dataset ds;
    semid_import_options o;
    semid_import_options_init(&o);
    o.min_rating = 2;
    assert_int_equal(semid_import("auto", d, &o, &ds), SEMID_OK);
    assert_string_equal(ds.name, "rb");
    assert_int_equal(ds.n_items, 2);
    assert_int_equal(ds.n_users, 1);
    assert_string_equal(item(&ds, "302")->genres, "Crime,Film-Noir,Mystery,Thriller");
    assert_int_equal(item(&ds, "302")->year, 1997);
    char h[64];
    history(&ds, "196", h, sizeof h);
    assert_string_equal(h, "302 242");
    semid_dataset_free(&ds);

    /* The .inter file itself, without a .item file: items come from the ids. */
    char *d2 = subdir("rb2");
    char *inter = test_write_file(d2, "x.inter", "user_id:token\titem_id:token\nu\ti1\nu\ti2\nv\ti1\n");
    assert_int_equal(semid_import("auto", inter, NULL, &ds), SEMID_OK);
    assert_string_equal(ds.name, "x");
    assert_int_equal(ds.n_items, 2);
    assert_string_equal(item(&ds, "i2")->title, "");
    history(&ds, "u", h, sizeof h);
    assert_string_equal(h, "i1 i2"); /* no timestamps: file order */
    semid_dataset_free(&ds);
    free(inter);
    free(d2);
    free(d);
}

static void test_mlcsv(void **state) {
    (void)state;
    char *d = subdir("mlcsv");
    put(d, "movies.csv",
        "movieId,title,genres\r\n"
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\r\n"
        "11,\"American President, The (1995)\",Comedy|Drama|Romance\r\n"
        "12,\"Dracula: Dead and Loving It (1995)\",Comedy|Horror\r\n"
        "13,\"The \"\"Great\"\" Escape, Again (2001)\",(no genres listed)\r\n"
        "14,\"Line\nBreak (2010)\",Drama\r\n"
        "15,No Year Here,Drama\r\n");
    put(d, "ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,0.5,964981247\n2,13,3.5,964982224\n"
        "2,14,5.0,964983815\n2,15,2.5,964982931\n2,12,3.0,964982400\n");
    put(d, "tags.csv",
        "userId,movieId,tag,timestamp\n2,13,classic,1445714994\n3,13,\"war, prison\",1445714996\n"
        "2,13,classic,1445714999\n2,1,pixar,1445715000\n9,777,orphan,1\n");
    semid_dataset ds;
    assert_int_equal(semid_import("auto", d, NULL, &ds), SEMID_OK);
    assert_int_equal(ds.n_items, 6);
    assert_string_equal(item(&ds, "11")->title, "American President, The");
    assert_int_equal(item(&ds, "11")->year, 1995);
    assert_string_equal(item(&ds, "13")->title, "The \"Great\" Escape, Again");
    assert_int_equal(item(&ds, "13")->year, 2001);
    assert_string_equal(item(&ds, "13")->genres, "");
    assert_string_equal(item(&ds, "13")->tags, "classic,war prison");
    assert_string_equal(item(&ds, "1")->tags, "pixar");
    assert_string_equal(item(&ds, "14")->title, "Line\nBreak");
    assert_string_equal(item(&ds, "15")->title, "No Year Here");
    assert_int_equal(item(&ds, "15")->year, 0);
    assert_string_equal(item(&ds, "1")->genres, "Adventure,Animation,Children,Comedy,Fantasy");
    char h[64];
    history(&ds, "2", h, sizeof h);
    assert_string_equal(h, "13 12 15 14");
    semid_dataset_free(&ds);

    semid_import_options o;
    semid_import_options_init(&o);
    o.min_rating = 3.5;
    assert_int_equal(semid_import("ml-csv", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_interactions, 3);
    semid_dataset_free(&ds);
    free(d);
}

/* k-core must iterate: removing a user can push an item below the bar,
 * which pushes another user below it. */
static void test_kcore(void **state) {
    (void)state;
    char *d = subdir("kcore");
    put(d, "items.tsv", "item_id\ttitle\na\tA\nb\tB\nc\tC\nd\tD\n");
    /* Users u1, u2, u3 all rate a and b (a dense core). u4 rates c and d; u5
     * rates c only. With user_core = item_core = 2: u5 goes (1 < 2), then d
     * has 1 rating (u4) and goes, then c has 1 (u4) and goes, then u4 has 0. */
    put(d, "interactions.tsv",
        "user_id\titem_id\ttimestamp\n"
        "u1\ta\t1\nu1\tb\t2\nu2\ta\t1\nu2\tb\t2\nu3\ta\t1\nu3\tb\t2\n"
        "u4\tc\t1\nu4\td\t2\nu5\tc\t1\n");
    semid_import_options o;
    semid_import_options_init(&o);
    o.user_core = 2;
    o.item_core = 2;
    semid_dataset ds;
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_items, 2);
    assert_int_equal(ds.n_users, 3);
    assert_int_equal(ds.n_interactions, 6);
    assert_int_equal(semid_dataset_find_item(&ds, "c"), -1);
    for (int32_t u = 0; u < ds.n_users; u++) assert_int_equal(ds.user_offsets[u + 1] - ds.user_offsets[u], 2);
    semid_dataset_free(&ds);

    /* Only an item core: u5's c survives with item_core = 2 (c has u4, u5). */
    o.user_core = 0;
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_OK);
    assert_int_equal(ds.n_items, 3); /* d (1 rating) dropped */
    assert_int_equal(ds.n_users, 5);
    semid_dataset_free(&ds);

    /* A core nobody meets is an error, not an empty dataset. */
    o.user_core = 10;
    assert_int_equal(semid_import("generic", d, &o, &ds), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "no interactions left"));
    free(d);
}

static void test_detect(void **state) {
    (void)state;
    char *d = subdir("nothing");
    put(d, "readme.txt", "hello");
    const char *fmt;
    assert_int_equal(semid_import_detect(d, &fmt), SEMID_ENOTFOUND);
    assert_non_null(strstr(semid_last_error(), "items.tsv"));
    semid_dataset ds;
    assert_int_equal(semid_import("auto", d, NULL, &ds), SEMID_ENOTFOUND);
    assert_int_equal(semid_import("bogus", d, NULL, &ds), SEMID_EINVAL);
    assert_non_null(strstr(semid_last_error(), "bogus"));
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic),  cmocka_unit_test(test_generic_extra_columns_and_ratings),
        cmocka_unit_test(test_ml1m_latin1), cmocka_unit_test(test_ml100k),
        cmocka_unit_test(test_recbole),  cmocka_unit_test(test_mlcsv),
        cmocka_unit_test(test_kcore),    cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
