/* XXH64 (after Yann Collet's xxHash specification, XXH64 with seed 0) and
 * the three ways a file carries it (base/checksum.h). */
#include "base/checksum.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"

static const uint64_t P1 = 0x9E3779B185EBCA87ULL, P2 = 0xC2B2AE3D27D4EB4FULL, P3 = 0x165667B19E3779F9ULL,
                      P4 = 0x85EBCA77C2B2AE63ULL, P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t read64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t read32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t input) {
    acc += input * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t val) {
    acc ^= round64(0, val);
    return acc * P1 + P4;
}

void semid_xxh64_init(semid_xxh64_state *s) {
    memset(s, 0, sizeof *s);
    s->v[0] = P1 + P2;
    s->v[1] = P2;
    s->v[2] = 0;
    s->v[3] = (uint64_t)0 - P1;
}

/* Whole 32-byte stripes of p[0..n): four independent lanes. */
static const unsigned char *stripes(uint64_t v[4], const unsigned char *p, size_t n) {
    const unsigned char *end = p + n - n % 32;
    uint64_t a = v[0], b = v[1], c = v[2], d = v[3];
    for (; p < end; p += 32) {
        a = round64(a, read64(p));
        b = round64(b, read64(p + 8));
        c = round64(c, read64(p + 16));
        d = round64(d, read64(p + 24));
    }
    v[0] = a, v[1] = b, v[2] = c, v[3] = d;
    return p;
}

void semid_xxh64_update(semid_xxh64_state *s, const void *data, size_t len) {
    const unsigned char *p = data;
    if (len == 0) return;
    s->total += len;
    if (s->buf_len) {
        size_t take = 32 - s->buf_len;
        if (take > len) take = len;
        memcpy(s->buf + s->buf_len, p, take);
        s->buf_len += take;
        p += take;
        len -= take;
        if (s->buf_len < 32) return;
        stripes(s->v, s->buf, 32);
        s->buf_len = 0;
    }
    const unsigned char *rest = stripes(s->v, p, len);
    s->buf_len = len - (size_t)(rest - p);
    memcpy(s->buf, rest, s->buf_len);
}

uint64_t semid_xxh64_final(const semid_xxh64_state *s) {
    uint64_t h;
    if (s->total >= 32) {
        h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) + rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
        for (int i = 0; i < 4; i++) h = merge64(h, s->v[i]);
    } else {
        h = s->v[2] + P5; /* v[2] is the seed until a stripe is taken */
    }
    h += s->total;
    const unsigned char *p = s->buf, *end = s->buf + s->buf_len;
    for (; p + 8 <= end; p += 8) {
        h ^= round64(0, read64(p));
        h = rotl64(h, 27) * P1 + P4;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)read32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) {
        h ^= (uint64_t)*p * P5;
        h = rotl64(h, 11) * P1;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t semid_xxh64(const void *data, size_t len) {
    semid_xxh64_state s;
    semid_xxh64_init(&s);
    semid_xxh64_update(&s, data, len);
    return semid_xxh64_final(&s);
}

void semid_checksum_hex(uint64_t h, char out[17]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, h >>= 4) out[i] = digits[h & 15];
    out[16] = '\0';
}

int semid_checksum_parse_hex(const char *s, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 1;
}

bool semid_verify_enabled(void) {
    const char *v = getenv("SEMID_NO_VERIFY");
    return !v || !v[0] || strcmp(v, "0") == 0;
}

semid_status semid_checksum_mismatch(const char *path, const char *where, uint64_t expected, uint64_t found) {
    char e[17], f[17];
    semid_checksum_hex(expected, e);
    semid_checksum_hex(found, f);
    return semid_fail(SEMID_EFORMAT,
                      "%s is corrupt: xxh64 checksum expected %s (%s), found %s (SEMID_NO_VERIFY=1 loads it unchecked)",
                      path, e, where, f);
}

/* ---- embedded text ---- */

static const char ZEROS[SEMID_CHECKSUM_HEX + 1] = "0000000000000000";

uint64_t semid_checksum_masked(const void *buf, size_t len, size_t at) {
    const unsigned char *p = buf;
    semid_xxh64_state s;
    semid_xxh64_init(&s);
    if (at > len || len - at < SEMID_CHECKSUM_HEX) { /* no room for the digits: the plain hash */
        semid_xxh64_update(&s, p, len);
        return semid_xxh64_final(&s);
    }
    semid_xxh64_update(&s, p, at);
    semid_xxh64_update(&s, ZEROS, SEMID_CHECKSUM_HEX);
    semid_xxh64_update(&s, p + at + SEMID_CHECKSUM_HEX, len - at - SEMID_CHECKSUM_HEX);
    return semid_xxh64_final(&s);
}

int64_t semid_checksum_find(const void *buf, size_t len, const char *key) {
    const unsigned char *p = buf, *end = p + len;
    size_t klen = strlen(key);
    if (klen == 0 || len < klen) return -1;
    /* memmem is a GNU extension: the first byte with memchr, then the rest */
    for (const unsigned char *q = p; (q = memchr(q, key[0], (size_t)(end - q) - klen + 1)) != NULL; q++) {
        if (memcmp(q, key, klen) != 0) continue;
        size_t at = (size_t)(q - p) + klen;
        return len - at >= SEMID_CHECKSUM_HEX ? (int64_t)at : -1;
    }
    return -1;
}

semid_status semid_checksum_verify_masked(const char *path, const void *buf, size_t len, size_t at, const char *where) {
    uint64_t stored;
    if (at > len || len - at < SEMID_CHECKSUM_HEX || !semid_checksum_parse_hex((const char *)buf + at, &stored)) {
        if (!semid_verify_enabled()) return SEMID_OK;
        return semid_fail(SEMID_EFORMAT, "%s is corrupt: its checksum (%s) is not 16 hex digits (SEMID_NO_VERIFY=1 loads it unchecked)",
                          path, where);
    }
    if (!semid_verify_enabled()) return SEMID_OK;
    uint64_t found = semid_checksum_masked(buf, len, at);
    return found == stored ? SEMID_OK : semid_checksum_mismatch(path, where, stored, found);
}

/* ---- trailer ---- */

static const char TRAILER_MAGIC[8] = {'S', 'E', 'M', 'I', 'D', 'X', '6', '4'};

void semid_checksum_trailer(const void *data, size_t len, unsigned char out[SEMID_CHECKSUM_TRAILER]) {
    uint64_t h = semid_xxh64(data, len);
    memcpy(out, TRAILER_MAGIC, 8);
    for (int i = 0; i < 8; i++) out[8 + i] = (unsigned char)(h >> (8 * i));
}

semid_status semid_checksum_trailer_check(const char *path, const void *data, size_t *len) {
    const unsigned char *p = data;
    size_t n = *len;
    if (n < SEMID_CHECKSUM_TRAILER || memcmp(p + n - SEMID_CHECKSUM_TRAILER, TRAILER_MAGIC, 8) != 0) {
        SEMID_DEBUG("%s: no checksum trailer: not verified", path);
        return SEMID_OK;
    }
    n -= SEMID_CHECKSUM_TRAILER;
    *len = n;
    if (!semid_verify_enabled()) return SEMID_OK;
    uint64_t stored = 0;
    for (int i = 0; i < 8; i++) stored |= (uint64_t)p[n + 8 + i] << (8 * i);
    uint64_t found = semid_xxh64(p, n);
    return found == stored ? SEMID_OK : semid_checksum_mismatch(path, "in its trailer", stored, found);
}
