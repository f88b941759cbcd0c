#include "gen/vocab.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "text/tokenize.h"

enum { VOCAB_JSON_VERSION = 1 };
static const uint64_t WORD_HASH_SEED = 0x5eed0fa11u;
static const uint64_t UNK_HASH_SEED = 0x0bad5eedu;

semid_gen_vocab_options semid_gen_vocab_defaults(void) {
    semid_gen_vocab_options o = {.min_count = 2, .max_words = 50000, .n_unk = 64};
    return o;
}

/* ---- a string -> index map over an external word array ---- */

static int64_t slot_of(const int32_t *slots, int64_t n_slots, char *const *words, const char *w, size_t len) {
    uint64_t h = semid_hash_bytes(w, len, WORD_HASH_SEED);
    int64_t mask = n_slots - 1;
    for (int64_t s = (int64_t)(h & (uint64_t)mask);; s = (s + 1) & mask) {
        if (slots[s] < 0 || strcmp(words[slots[s]], w) == 0) return s;
    }
}

static semid_status alloc_slots(int32_t **slots, int64_t *n_slots, int64_t n) {
    int64_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    *slots = malloc((size_t)cap * sizeof **slots);
    if (!*slots) return semid_fail(SEMID_ENOMEM, "vocabulary: out of memory for %lld slots", (long long)cap);
    memset(*slots, 0xff, (size_t)cap * sizeof **slots);
    *n_slots = cap;
    return SEMID_OK;
}

static semid_status index_words(semid_gen_vocab *v) {
    free(v->slots);
    SEMID_TRY(alloc_slots(&v->slots, &v->n_slots, v->n_words));
    for (int32_t i = 0; i < v->n_words; i++) {
        int64_t s = slot_of(v->slots, v->n_slots, v->words, v->words[i], strlen(v->words[i]));
        if (v->slots[s] >= 0) return semid_fail(SEMID_EFORMAT, "vocabulary: duplicate word '%s'", v->words[i]);
        v->slots[s] = i;
    }
    return SEMID_OK;
}

static void set_layout(semid_gen_vocab *v) {
    v->unk_base = SEMID_TOK_N_SPECIAL;
    v->word_base = v->unk_base + v->n_unk;
    v->sid_base = v->word_base + v->n_words;
    v->size = v->sid_base + v->n_sid;
}

/* ---- building ---- */

typedef struct word_count {
    char *word;
    int64_t count;
} word_count;

static int cmp_word_count(const void *a, const void *b) {
    const word_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

typedef struct counter {
    char **words;
    int64_t *counts;
    int64_t n, cap;
    int32_t *slots;
    int64_t n_slots;
} counter;

static semid_status counter_add(counter *c, const char *w) {
    if (2 * (c->n + 1) + 2 > c->n_slots) {
        int32_t *ns = NULL;
        int64_t nn = 0;
        SEMID_TRY(alloc_slots(&ns, &nn, 2 * c->n + 64));
        for (int64_t i = 0; i < c->n; i++) ns[slot_of(ns, nn, c->words, c->words[i], strlen(c->words[i]))] = (int32_t)i;
        free(c->slots);
        c->slots = ns;
        c->n_slots = nn;
    }
    int64_t s = slot_of(c->slots, c->n_slots, c->words, w, strlen(w));
    if (c->slots[s] >= 0) {
        c->counts[c->slots[s]]++;
        return SEMID_OK;
    }
    if (c->n == c->cap) {
        int64_t nc = c->cap ? 2 * c->cap : 256;
        char **nw = realloc(c->words, (size_t)nc * sizeof *nw);
        if (!nw) return semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
        c->words = nw;
        int64_t *ncnt = realloc(c->counts, (size_t)nc * sizeof *ncnt);
        if (!ncnt) return semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
        c->counts = ncnt;
        c->cap = nc;
    }
    c->words[c->n] = semid_strdup(w);
    if (!c->words[c->n]) return semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
    c->counts[c->n] = 1;
    c->slots[s] = (int32_t)c->n;
    c->n++;
    return SEMID_OK;
}

static void counter_free(counter *c) {
    for (int64_t i = 0; i < c->n; i++) free(c->words[i]);
    free(c->words);
    free(c->counts);
    free(c->slots);
}

semid_status semid_gen_vocab_build(const semid_dataset *ds, const uint8_t *query_is_train,
                                   const semid_idtable *table, const semid_gen_vocab_options *opt,
                                   semid_gen_vocab *out) {
    memset(out, 0, sizeof *out);
    semid_gen_vocab_options o = opt ? *opt : semid_gen_vocab_defaults();
    if (o.min_count < 1 || o.max_words < 0 || o.n_unk < 0)
        return semid_fail(SEMID_EINVAL, "vocabulary: min_count must be >= 1, max_words and n_unk >= 0");
    if (table->n_tokens <= 0) return semid_fail(SEMID_EINVAL, "vocabulary: the ID table has no tokens");
    counter c = {0};
    semid_status st = SEMID_OK;
    for (int32_t q = 0; q < ds->n_queries && st == SEMID_OK; q++) {
        if (ds->queries[q].split != SEMID_SPLIT_TRAIN) continue;
        if (query_is_train && !query_is_train[q]) continue;
        semid_words w;
        st = semid_tokenize(ds->queries[q].text, &w);
        if (st != SEMID_OK) break;
        for (int32_t i = 0; i < w.n && st == SEMID_OK; i++) st = counter_add(&c, w.words[i]);
        semid_words_free(&w);
    }
    word_count *wc = NULL;
    if (st == SEMID_OK && c.n > 0) {
        wc = malloc((size_t)c.n * sizeof *wc);
        if (!wc) st = semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
    }
    int64_t kept = 0;
    if (st == SEMID_OK) {
        for (int64_t i = 0; i < c.n; i++)
            if (c.counts[i] >= o.min_count) wc[kept++] = (word_count){c.words[i], c.counts[i]};
        if (kept > 0) qsort(wc, (size_t)kept, sizeof *wc, cmp_word_count);
        if (o.max_words > 0 && kept > o.max_words) kept = o.max_words;
        out->words = calloc((size_t)(kept ? kept : 1), sizeof *out->words);
        if (!out->words) st = semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
    }
    for (int64_t i = 0; i < kept && st == SEMID_OK; i++) {
        out->words[i] = semid_strdup(wc[i].word);
        if (!out->words[i]) st = semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
        else out->n_words = (int32_t)(i + 1);
    }
    free(wc);
    counter_free(&c);
    if (st == SEMID_OK) {
        out->n_unk = o.n_unk;
        out->n_sid = table->n_tokens;
        out->idtable_fingerprint = table->fingerprint;
        set_layout(out);
        st = index_words(out);
    }
    if (st != SEMID_OK) semid_gen_vocab_free(out);
    return st;
}

void semid_gen_vocab_free(semid_gen_vocab *v) {
    if (!v) return;
    for (int32_t i = 0; i < v->n_words; i++) free(v->words[i]);
    free(v->words);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

/* ---- lookup ---- */

int32_t semid_gen_vocab_word(const semid_gen_vocab *v, const char *word) {
    size_t len = strlen(word);
    if (v->n_words > 0) {
        int64_t s = slot_of(v->slots, v->n_slots, v->words, word, len);
        if (v->slots[s] >= 0) return v->word_base + v->slots[s];
    }
    if (v->n_unk == 0) return -1;
    return v->unk_base + (int32_t)(semid_hash_bytes(word, len, UNK_HASH_SEED) % (uint64_t)v->n_unk);
}

semid_status semid_gen_vocab_encode(const semid_gen_vocab *v, const char *text, int32_t *out, int32_t max,
                                    int32_t *n, int32_t *n_unknown) {
    *n = 0;
    if (n_unknown) *n_unknown = 0;
    semid_words w;
    SEMID_TRY(semid_tokenize(text ? text : "", &w));
    for (int32_t i = 0; i < w.n && *n < max; i++) {
        int32_t t = semid_gen_vocab_word(v, w.words[i]);
        if (t < 0 || !semid_gen_vocab_is_known_word(v, t)) {
            if (n_unknown) (*n_unknown)++;
            if (t < 0) continue;
        }
        out[(*n)++] = t;
    }
    semid_words_free(&w);
    return SEMID_OK;
}

/* ---- JSON ---- */

cJSON *semid_gen_vocab_to_cjson(const semid_gen_vocab *v) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char fp[32];
    snprintf(fp, sizeof fp, "%016" PRIx64, v->idtable_fingerprint);
    cJSON *words = cJSON_CreateArray();
    /* (adding copies the key: it can fail, and then words is still ours) */
    int ok = words != NULL && cJSON_AddItemToObject(o, "words", words);
    if (!ok) cJSON_Delete(words);
    for (int32_t i = 0; ok && i < v->n_words; i++) {
        cJSON *s = cJSON_CreateString(v->words[i]);
        ok = s != NULL;
        if (ok) cJSON_AddItemToArray(words, s);
    }
    ok = ok && cJSON_AddNumberToObject(o, "version", VOCAB_JSON_VERSION) &&
         cJSON_AddNumberToObject(o, "n_unk", v->n_unk) && cJSON_AddNumberToObject(o, "n_sid", v->n_sid) &&
         cJSON_AddNumberToObject(o, "size", v->size) && cJSON_AddStringToObject(o, "idtable_fingerprint", fp);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int get_int(const cJSON *o, const char *key, int32_t lo, int32_t hi, int32_t *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || x->valuedouble < lo || x->valuedouble > hi || x->valuedouble != (double)(int32_t)x->valuedouble)
        return 0;
    *out = (int32_t)x->valuedouble;
    return 1;
}

semid_status semid_gen_vocab_from_cjson(const cJSON *o, semid_gen_vocab *out) {
    memset(out, 0, sizeof *out);
    int32_t version = 0, size = 0;
    if (!cJSON_IsObject(o)) return semid_fail(SEMID_EFORMAT, "vocabulary: not a JSON object");
    if (!get_int(o, "version", 1, 1 << 20, &version) || version != VOCAB_JSON_VERSION)
        return semid_fail(SEMID_EFORMAT, "vocabulary: unsupported version (expected %d)", VOCAB_JSON_VERSION);
    if (!get_int(o, "n_unk", 0, 1 << 24, &out->n_unk) || !get_int(o, "n_sid", 1, 1 << 28, &out->n_sid) ||
        !get_int(o, "size", 1, INT32_MAX, &size))
        return semid_fail(SEMID_EFORMAT, "vocabulary: missing or bad n_unk, n_sid or size");
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(o, "idtable_fingerprint");
    char *end = NULL;
    if (!cJSON_IsString(fp) || !fp->valuestring[0])
        return semid_fail(SEMID_EFORMAT, "vocabulary: missing idtable_fingerprint");
    out->idtable_fingerprint = strtoull(fp->valuestring, &end, 16);
    if (*end) return semid_fail(SEMID_EFORMAT, "vocabulary: bad idtable_fingerprint '%s'", fp->valuestring);
    const cJSON *words = cJSON_GetObjectItemCaseSensitive(o, "words");
    if (!cJSON_IsArray(words)) return semid_fail(SEMID_EFORMAT, "vocabulary: missing word list");
    int n = cJSON_GetArraySize(words);
    out->words = calloc((size_t)(n ? n : 1), sizeof *out->words);
    if (!out->words) return semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
    semid_status st = SEMID_OK;
    const cJSON *w;
    cJSON_ArrayForEach(w, words) {
        if (!cJSON_IsString(w) || !w->valuestring[0]) {
            st = semid_fail(SEMID_EFORMAT, "vocabulary: word %d is not a non-empty string", out->n_words);
            break;
        }
        out->words[out->n_words] = semid_strdup(w->valuestring);
        if (!out->words[out->n_words]) {
            st = semid_fail(SEMID_ENOMEM, "vocabulary: out of memory");
            break;
        }
        out->n_words++;
    }
    if (st == SEMID_OK) {
        set_layout(out);
        if (out->size != size)
            st = semid_fail(SEMID_EFORMAT, "vocabulary: size %d does not match its parts (%d)", size, out->size);
    }
    if (st == SEMID_OK) st = index_words(out);
    if (st != SEMID_OK) semid_gen_vocab_free(out);
    return st;
}

semid_status semid_gen_vocab_check_table(const semid_gen_vocab *v, const semid_idtable *table) {
    if (v->idtable_fingerprint != table->fingerprint || v->n_sid != table->n_tokens)
        return semid_fail(SEMID_EINVAL,
                          "the model was trained with another ID table (fingerprint %016" PRIx64
                          ", %d tokens) than this one (fingerprint %016" PRIx64 ", %d tokens)",
                          v->idtable_fingerprint, v->n_sid, table->fingerprint, table->n_tokens);
    return SEMID_OK;
}
