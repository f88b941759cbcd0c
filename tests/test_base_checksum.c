/* base/checksum.c and the checksum helpers of base/fileio.c: XXH64 against
 * the reference implementation's values (libxxhash 0.8), in one call and
 * streamed in pieces; the embedded, trailer and sidecar carriers; and
 * SEMID_NO_VERIFY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/status.h"
#include "support/testutil.h"

/* XXH64(data, n, seed 0) as libxxhash 0.8 computes it. */
static void test_xxh64_known_values(void **state) {
    (void)state;
    assert_true(semid_xxh64("", 0) == 0xef46db3751d8e999ULL);
    assert_true(semid_xxh64("a", 1) == 0xd24ec4f1a98c6e5bULL);
    assert_true(semid_xxh64("abc", 3) == 0x44bc2cf5ad770999ULL);
    assert_true(semid_xxh64("123456789", 9) == 0x8cb841db40e6ae83ULL);
    const char *nobody = "Nobody inspects the spammish repetition";
    assert_true(semid_xxh64(nobody, strlen(nobody)) == 0xfbcea83c8a378bf1ULL);
    unsigned char b256[768];
    for (int i = 0; i < 768; i++) b256[i] = (unsigned char)i;
    assert_true(semid_xxh64(b256, sizeof b256) == 0x8e03c838c596036fULL);

    /* p[i] = 31 i + 7 (mod 256): every tail length and several stripes */
    static const struct {
        size_t n;
        uint64_t h;
    } v[] = {
        {1, 0xa96c7f0ce858bbb7ULL},  {3, 0x56e6957632a487f9ULL},   {4, 0xc60d15b1e3ff8f04ULL},
        {5, 0x808815858624dd4eULL},  {7, 0xafbefc3d6c6f9a8eULL},   {8, 0x3da5c7aa269683e0ULL},
        {9, 0x4b17a9ba9e215c09ULL},  {12, 0x8fe8ab1c1fd0666eULL},  {15, 0xae2a37eb9357caa7ULL},
        {31, 0x4a74f3a1a39ad4a1ULL}, {32, 0x8d57d6a4671cc43dULL},  {33, 0x62c9fd21ed857664ULL},
        {35, 0x85cbcf9e0d9cbecaULL}, {40, 0x49b45332e280f187ULL},  {63, 0x5c320a0d2707057fULL},
        {64, 0x7bbabbc45729d17eULL}, {65, 0xf3980c34bae65dc1ULL},  {100, 0xefa0ad2d3e70c151ULL},
        {1000, 0x99594f4828043d35ULL}, {100003, 0xc333c0bff6f9efdbULL},
    };
    unsigned char *p = malloc(100003);
    for (size_t i = 0; i < 100003; i++) p[i] = (unsigned char)(i * 31 + 7);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        if (semid_xxh64(p, v[k].n) != v[k].h) fail_msg("length %zu", v[k].n);
        /* the same in pieces of every size from 1 to 70 */
        for (size_t piece = 1; piece <= 70 && piece <= v[k].n; piece += (v[k].n > 1000 ? 23 : 1)) {
            semid_xxh64_state s;
            semid_xxh64_init(&s);
            for (size_t at = 0; at < v[k].n; at += piece)
                semid_xxh64_update(&s, p + at, at + piece <= v[k].n ? piece : v[k].n - at);
            if (semid_xxh64_final(&s) != v[k].h) fail_msg("length %zu in pieces of %zu", v[k].n, piece);
        }
    }
    /* from an unaligned start, as from the middle of a file buffer */
    memmove(p + 1, p, 1000);
    assert_true(semid_xxh64(p + 1, 1000) == 0x99594f4828043d35ULL);
    free(p);

    char hex[17];
    semid_checksum_hex(0x0123456789abcdefULL, hex);
    assert_string_equal(hex, "0123456789abcdef");
    uint64_t back;
    assert_true(semid_checksum_parse_hex("0123456789ABCDEF", &back));
    assert_true(back == 0x0123456789abcdefULL);
    assert_false(semid_checksum_parse_hex("0123456789abcdeg", &back));
    assert_false(semid_checksum_parse_hex("0123", &back));
}

static void test_verify_switch(void **state) {
    (void)state;
    test_verify_on();
    assert_true(semid_verify_enabled());
    setenv("SEMID_NO_VERIFY", "0", 1);
    assert_true(semid_verify_enabled());
    setenv("SEMID_NO_VERIFY", "", 1);
    assert_true(semid_verify_enabled());
    setenv("SEMID_NO_VERIFY", "1", 1);
    assert_false(semid_verify_enabled());
    setenv("SEMID_NO_VERIFY", "yes", 1);
    assert_false(semid_verify_enabled());
    test_verify_on();
}

static void test_embedded(void **state) {
    (void)state;
    char text[] = "{\"format\": \"x\", \"checksum\": \"xxh64:0000000000000000\", \"data\": [1, 2, 3]}";
    size_t len = strlen(text);
    const char *key = "\"checksum\": \"xxh64:";
    int64_t at = semid_checksum_find(text, len, key);
    assert_int_equal(at, (int64_t)(strstr(text, "xxh64:") - text + 6));
    assert_int_equal(semid_checksum_find(text, len, "\"nothing\": \"xxh64:"), -1);
    assert_int_equal(semid_checksum_find(text, (size_t)at + 10, key), -1); /* no room for 16 digits */
    uint64_t h = semid_checksum_masked(text, len, (size_t)at);
    assert_true(h == semid_xxh64(text, len)); /* the digits are '0' already */
    char hex[17];
    semid_checksum_hex(h, hex);
    memcpy(text + at, hex, 16);
    assert_true(semid_checksum_masked(text, len, (size_t)at) == h); /* the digits never count */
    assert_int_equal(semid_checksum_verify_masked("t.json", text, len, (size_t)at, "in its field"), SEMID_OK);
    text[len - 3] = '4'; /* a flipped byte */
    assert_int_equal(semid_checksum_verify_masked("t.json", text, len, (size_t)at, "in its field"), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "t.json is corrupt"));
    assert_non_null(strstr(semid_last_error(), hex)); /* expected ... */
    assert_non_null(strstr(semid_last_error(), "found"));
    assert_non_null(strstr(semid_last_error(), "SEMID_NO_VERIFY"));
    test_verify_off();
    assert_int_equal(semid_checksum_verify_masked("t.json", text, len, (size_t)at, "in its field"), SEMID_OK);
    test_verify_on();
    text[len - 3] = '3';
    text[at + 2] = 'z'; /* not hex: corrupt too */
    assert_int_equal(semid_checksum_verify_masked("t.json", text, len, (size_t)at, "in its field"), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "is corrupt"));
}

static void test_trailer(void **state) {
    (void)state;
    unsigned char buf[64 + SEMID_CHECKSUM_TRAILER];
    for (int i = 0; i < 64; i++) buf[i] = (unsigned char)(i * 7);
    semid_checksum_trailer(buf, 64, buf + 64);
    assert_memory_equal(buf + 64, "SEMIDX64", 8);
    size_t len = sizeof buf;
    assert_int_equal(semid_checksum_trailer_check("f.bin", buf, &len), SEMID_OK);
    assert_int_equal(len, 64);
    /* without a trailer: unchecked, length kept */
    len = 64;
    assert_int_equal(semid_checksum_trailer_check("f.bin", buf, &len), SEMID_OK);
    assert_int_equal(len, 64);
    len = 3;
    assert_int_equal(semid_checksum_trailer_check("f.bin", buf, &len), SEMID_OK);
    assert_int_equal(len, 3);
    /* a flipped bit anywhere before it, or in the stored hash */
    for (size_t at = 0; at < sizeof buf; at++) {
        if (at >= 64 && at < 72) continue; /* the magic: then there is no trailer */
        buf[at] ^= 0x10;
        len = sizeof buf;
        assert_int_equal(semid_checksum_trailer_check("f.bin", buf, &len), SEMID_EFORMAT);
        assert_non_null(strstr(semid_last_error(), "f.bin is corrupt"));
        assert_non_null(strstr(semid_last_error(), "trailer"));
        test_verify_off();
        len = sizeof buf;
        assert_int_equal(semid_checksum_trailer_check("f.bin", buf, &len), SEMID_OK);
        assert_int_equal(len, 64);
        test_verify_on();
        buf[at] ^= 0x10;
    }
}

static void test_sidecar(void **state) {
    (void)state;
    char *dir = test_make_tmpdir();
    char *path = semid_path_join(dir, "data.txt");
    char *sum = semid_path_join(dir, "data.txt.sum");
    assert_int_equal(semid_write_file_summed(path, "hello\n", 6), SEMID_OK);
    char *text;
    size_t len;
    assert_int_equal(semid_read_file(sum, &text, &len), SEMID_OK);
    char hex[17];
    semid_checksum_hex(semid_xxh64("hello\n", 6), hex);
    char expect[64];
    snprintf(expect, sizeof expect, "%s  data.txt\n", hex); /* the line xxh64sum -c reads */
    assert_string_equal(text, expect);
    free(text);
    assert_int_equal(semid_read_file_verified(path, &text, &len), SEMID_OK);
    assert_string_equal(text, "hello\n");
    free(text);

    /* a changed byte */
    FILE *fp = fopen(path, "wb");
    fputs("hellO\n", fp);
    fclose(fp);
    assert_int_equal(semid_read_file_verified(path, &text, &len), SEMID_EFORMAT);
    assert_null(text);
    assert_non_null(strstr(semid_last_error(), "data.txt is corrupt"));
    assert_non_null(strstr(semid_last_error(), hex));
    assert_non_null(strstr(semid_last_error(), "data.txt.sum"));
    test_verify_off();
    assert_int_equal(semid_read_file_verified(path, &text, &len), SEMID_OK);
    free(text);
    test_verify_on();
    /* a damaged sidecar */
    fp = fopen(sum, "wb");
    fputs("not a checksum\n", fp);
    fclose(fp);
    assert_int_equal(semid_read_file_verified(path, &text, &len), SEMID_EFORMAT);
    assert_non_null(strstr(semid_last_error(), "is corrupt"));
    /* no sidecar: unchecked */
    unlink(sum);
    assert_int_equal(semid_read_file_verified(path, &text, &len), SEMID_OK);
    free(text);

    /* a plain atomic write leaves the sidecar alone; a summed one replaces it */
    assert_int_equal(semid_write_file_summed(path, "one\n", 4), SEMID_OK);
    assert_int_equal(semid_write_file_summed(path, "two\n", 4), SEMID_OK);
    assert_int_equal(semid_read_file_verified(path, &text, &len), SEMID_OK);
    assert_string_equal(text, "two\n");
    free(text);

    /* through a symlink: the sidecar is the target's, found through the link */
    char *link = semid_path_join(dir, "link.txt");
    assert_int_equal(symlink("data.txt", link), 0);
    assert_int_equal(semid_write_file_summed(link, "three\n", 6), SEMID_OK);
    assert_true(semid_path_exists(sum));
    char *link_sum = semid_path_join(dir, "link.txt.sum");
    assert_false(semid_path_exists(link_sum));
    free(link_sum);
    char *lsum = semid_sidecar_path(link);
    assert_string_equal(lsum, sum);
    free(lsum);
    assert_int_equal(semid_read_file_verified(link, &text, &len), SEMID_OK);
    assert_string_equal(text, "three\n");
    free(text);
    assert_int_equal(semid_read_file_verified(path, &text, &len), SEMID_OK);
    free(text);

    /* written in place (a device): no sidecar */
    assert_int_equal(semid_write_file_summed("/dev/null", "x", 1), SEMID_OK);
    assert_false(semid_path_exists("/dev/null.sum"));

    /* a trailed file */
    char *bin = semid_path_join(dir, "f.bin");
    assert_int_equal(semid_write_file_trailed(bin, "payload", 7), SEMID_OK);
    assert_int_equal(semid_read_file(bin, &text, &len), SEMID_OK);
    assert_int_equal(len, 7 + SEMID_CHECKSUM_TRAILER);
    assert_int_equal(semid_checksum_trailer_check(bin, text, &len), SEMID_OK);
    assert_int_equal(len, 7);
    free(text);

    free(bin);
    free(link);
    free(sum);
    free(path);
    test_rm_rf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xxh64_known_values), cmocka_unit_test(test_verify_switch),
        cmocka_unit_test(test_embedded),           cmocka_unit_test(test_trailer),
        cmocka_unit_test(test_sidecar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
