#include "io/json.h"

enum { NESTING_LIMIT = 1000, NUMBER_MAX = 63 };

typedef struct scan {
    const unsigned char *p, *end;
    int depth;
} scan;

static void skip_ws(scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

static bool string(scan *s) {
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20) return false;
        if (c != '\\') {
            s->p++;
            continue;
        }
        if (s->end - s->p < 2) return false;
        unsigned e = s->p[1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            s->p += 2;
            continue;
        }
        unsigned hi, lo;
        if (e != 'u' || s->end - s->p < 6 || !hex4(s->p + 2, &hi)) return false;
        s->p += 6;
        if (hi >= 0xDC00 && hi <= 0xDFFF) return false;
        if (hi >= 0xD800 && hi <= 0xDBFF) {
            if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' || !hex4(s->p + 2, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
                return false;
            s->p += 6;
        }
    }
    return false;
}

static bool digits(scan *s) {
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    return s->p > start;
}

static bool number(scan *s) {
    const unsigned char *start = s->p;
    if (*s->p == '-') s->p++;
    if (s->p < s->end && *s->p == '0') s->p++;
    else if (!digits(s)) return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digits(s)) return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        if (!digits(s)) return false;
    }
    /* cJSON copies at most 63 characters of a number; its next one must
     * not continue the number (cJSON would read a shorter one). */
    if (s->p - start > NUMBER_MAX) return false;
    return true;
}

static bool literal(scan *s, const char *word, size_t n) {
    if ((size_t)(s->end - s->p) < n) return false;
    for (size_t i = 0; i < n; i++)
        if (s->p[i] != (unsigned char)word[i]) return false;
    s->p += n;
    return true;
}

static bool value(scan *s);

static bool container(scan *s, unsigned char close) {
    if (s->depth >= NESTING_LIMIT) return false;
    s->depth++;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"' || !string(s)) return false;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') return false;
            s->p++;
            skip_ws(s);
        }
        if (!value(s)) return false;
        skip_ws(s);
        if (s->p >= s->end) return false;
        if (*s->p == close) {
            s->p++;
            s->depth--;
            return true;
        }
        if (*s->p != ',') return false;
        s->p++;
        skip_ws(s);
    }
}

static bool value(scan *s) {
    if (s->p >= s->end) return false;
    switch (*s->p) {
    case '{': return container(s, '}');
    case '[': return container(s, ']');
    case '"': return string(s);
    case 'n': return literal(s, "null", 4);
    case 't': return literal(s, "true", 4);
    case 'f': return literal(s, "false", 5);
    default: return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && number(s);
    }
}

bool semid_json_valid(const char *text, size_t len) {
    if (!text || len == 0) return false;
    scan s = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
    if (len >= 3 && s.p[0] == 0xEF && s.p[1] == 0xBB && s.p[2] == 0xBF) s.p += 3;
    skip_ws(&s);
    return value(&s);
}

cJSON *semid_json_parse(const char *text, size_t len, int *oom) {
    cJSON *root = cJSON_ParseWithLength(text, len);
    *oom = !root && semid_json_valid(text, len);
    return root;
}
