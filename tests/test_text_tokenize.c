#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenize.h"

/* Tokenizes `text` and checks the words against the space-separated `expect`. */
static void check(const char *text, const char *expect) {
    semid_words w;
    assert_int_equal(semid_tokenize(text, &w), SEMID_OK);
    char joined[512] = "";
    for (int32_t i = 0; i < w.n; i++) {
        if (i) strcat(joined, " ");
        strcat(joined, w.words[i]);
    }
    if (strcmp(joined, expect) != 0) {
        fprintf(stderr, "tokenize(\"%s\") = \"%s\", expected \"%s\"\n", text, joined, expect);
        fail();
    }
    semid_words_free(&w);
}

static void test_ascii(void **state) {
    (void)state;
    check("Hello, World!", "hello world");
    check("  The Matrix (1999)  ", "the matrix 1999");
    check("sci-fi/action;drama", "sci fi action drama");
    check("R2D2 and C-3PO", "r2d2 and c 3po");
    check("", "");
    check("!!! ...", "");
    check(NULL, "");
}

static void test_apostrophes(void **state) {
    (void)state;
    check("don't stop", "dont stop");
    check("Schindler's List", "schindlers list");
    check("'quoted' words'", "quoted words");
    check("rock 'n' roll", "rock n roll");
    check("it\xE2\x80\x99s", "its"); /* typographic apostrophe U+2019 */
    check("a''b", "a b");
}

static void test_latin1_and_utf8(void **state) {
    (void)state;
    check("\xC3\x89T\xC3\x89", "\xC3\xA9t\xC3\xA9");                 /* ÉTÉ -> été */
    check("Am\xC3\x89lie", "am\xC3\xA9lie");                         /* AmÉlie -> amélie */
    check("\xC3\x9C" "ber Stra\xC3\x9F" "e", "\xC3\xBC" "ber stra\xC3\x9F" "e"); /* Über Straße */
    check("caf\xC3\xA9\xC2\xBB ok", "caf\xC3\xA9 ok");                /* » is a boundary */
    check("2\xC3\x97" "3", "2 3");                                  /* × is a boundary */
    check("\xE6\x97\xA5\xE6\x9C\xAC", "\xE6\x97\xA5\xE6\x9C\xAC");  /* CJK passes through */
    check("\xCE\x91\xCE\xB2", "\xCE\x91\xCE\xB2");                  /* Greek is not folded */
    check("a\xE2\x80\x94" "b", "a b");                              /* em dash splits */
}

static void test_invalid_utf8_dropped(void **state) {
    (void)state;
    check("ab\xFF" "cd", "abcd");           /* invalid byte */
    check("ab\x80" "cd", "abcd");           /* stray continuation */
    check("x\xC0\xAF" "y", "xy");           /* overlong '/' */
    check("x\xED\xA0\x80y", "xy");          /* surrogate */
    check("tail\xE2\x82", "tail");          /* truncated sequence */
    check("\xC3" "A", "a");                 /* lead byte then ASCII */
}

/* True if s is well-formed UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        int n = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2 : (*s & 0xF0) == 0xE0 ? 3 : (*s & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0) return 0;
        unsigned v = n == 1 ? *s : n == 2 ? (*s & 0x1Fu) : n == 3 ? (*s & 0x0Fu) : (*s & 0x07u);
        for (int k = 1; k < n; k++) {
            if ((s[k] & 0xC0) != 0x80) return 0;
            v = (v << 6) | (s[k] & 0x3Fu);
        }
        unsigned min = n == 2 ? 0x80 : n == 3 ? 0x800 : n == 4 ? 0x10000 : 0;
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
        s += n;
    }
    return 1;
}

/* Random bytes: never a crash; words are non-empty valid UTF-8 with no
 * ASCII capital, space or punctuation other than inside multi-byte text. */
static void test_random_bytes(void **state) {
    (void)state;
    uint64_t x = 12345;
    char buf[257];
    for (int round = 0; round < 2000; round++) {
        int len = (int)(x % 256);
        for (int i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned char c = (unsigned char)(x >> 56);
            buf[i] = c ? (char)c : 'a';
        }
        buf[len] = '\0';
        semid_words w;
        assert_int_equal(semid_tokenize(buf, &w), SEMID_OK);
        for (int32_t k = 0; k < w.n; k++) {
            const unsigned char *s = (const unsigned char *)w.words[k];
            assert_true(s[0] != '\0');
            assert_true(valid_utf8(s));
            for (; *s; s++)
                if (*s < 0x80) assert_true((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'));
        }
        semid_words_free(&w);
    }
}

static void test_stopwords(void **state) {
    (void)state;
    const char *yes[] = {"the", "of", "a", "and", "yourselves", "about", "with"};
    const char *no[] = {"space", "murder", "love", "", "The", "thee"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) assert_true(semid_is_stopword(yes[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) assert_false(semid_is_stopword(no[i]));
    assert_false(semid_is_stopword(NULL));
}

static void test_hash(void **state) {
    (void)state;
    /* FNV-1a of "a" with seed 0 (seed 0 leaves the standard offset basis). */
    assert_true(semid_hash_bytes("a", 1, 0) == 0xaf63dc4c8601ec8cULL);
    assert_true(semid_hash_bytes("", 0, 0) == 14695981039346656037ULL);
    assert_true(semid_hash_bytes("abc", 3, 1) != semid_hash_bytes("abc", 3, 2));
    assert_true(semid_hash_bytes("abc", 3, 7) == semid_hash_bytes("abc", 3, 7));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_apostrophes),
        cmocka_unit_test(test_latin1_and_utf8),
        cmocka_unit_test(test_invalid_utf8_dropped),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_stopwords),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
