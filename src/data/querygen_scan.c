/* Scanning a description or tags into normalised tokens flagged for the
 * extraction (querygen_impl.h). */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/querygen_impl.h"
#include "text/tokenize.h"

void qg_tokens_free(qg_tokens *ts) {
    for (int32_t i = 0; i < ts->n; i++) free(ts->t[i].word);
    free(ts->t);
    memset(ts, 0, sizeof *ts);
}

static semid_status tokens_push(qg_tokens *ts, char *word, qg_token flags) {
    if (ts->n == ts->cap) {
        int32_t ncap = ts->cap ? ts->cap * 2 : 64;
        qg_token *nt = realloc(ts->t, (size_t)ncap * sizeof *nt);
        if (!nt) {
            free(word);
            return semid_fail(SEMID_ENOMEM, "out of memory scanning a description");
        }
        ts->t = nt;
        ts->cap = ncap;
    }
    flags.word = word;
    ts->t[ts->n++] = flags;
    return SEMID_OK;
}

static bool is_open_quote(const unsigned char *s, size_t n) {
    return (n >= 1 && s[0] == '"') || (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0x9C);
}

/* Scans `text` (a description or tags) chunk by chunk (chunks are separated
 * by blanks); each chunk is normalised with semid_tokenize. */
semid_status qg_scan_text(const char *text, qg_tokens *out) {
    memset(out, 0, sizeof *out);
    if (!text) return SEMID_OK;
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text);
    size_t i = 0;
    bool in_quote = false, brk = true;
    int32_t sentence = 0;
    char *chunk = malloc(n + 1);
    if (!chunk) return semid_fail(SEMID_ENOMEM, "out of memory scanning a description");
    semid_status st = SEMID_OK;
    while (i < n && st == SEMID_OK) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        size_t b = i;
        while (i < n && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        size_t len = i - b;
        if (len == 0) break;
        memcpy(chunk, s + b, len);
        chunk[len] = '\0';
        const unsigned char *c = s + b;
        /* Leading punctuation: opening quotes and brackets break names. */
        size_t lead = 0;
        while (lead < len && !((c[lead] >= 'A' && c[lead] <= 'Z') || (c[lead] >= 'a' && c[lead] <= 'z') ||
                               (c[lead] >= '0' && c[lead] <= '9') || c[lead] >= 0xC0)) {
            if (is_open_quote(c + lead, len - lead)) in_quote = true;
            lead++;
            brk = true;
        }
        bool capital = lead < len && ((c[lead] >= 'A' && c[lead] <= 'Z') ||
                                      (c[lead] == 0xC3 && lead + 1 < len && c[lead + 1] >= 0x80 && c[lead + 1] <= 0x9E));
        /* Every letter run after a hyphen capitalised too ("Ann-Margret")? */
        bool all_capital = capital;
        for (size_t k = lead + 1; k < len; k++)
            if (c[k - 1] == '-' && c[k] >= 'a' && c[k] <= 'z') all_capital = false;
        /* Trailing punctuation: closing quotes, commas, sentence ends. */
        size_t end = len;
        bool trailing_brk = false, closes_quote = false, sentence_end = false;
        while (end > lead) {
            unsigned char ch = c[end - 1];
            if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) break;
            if (ch >= 0x80) {
                if (end >= 3 && c[end - 3] == 0xE2 && c[end - 2] == 0x80 && c[end - 1] == 0x9D) {
                    closes_quote = true, trailing_brk = true, end -= 3;
                    continue;
                }
                break;
            }
            if (ch == '"') closes_quote = true;
            if (ch == '.' || ch == '!' || ch == '?') sentence_end = true;
            trailing_brk = true;
            end--;
        }
        /* "Mr." and initials do not end a sentence or break a name. */
        if (sentence_end && end - lead <= 3 && capital) trailing_brk = false;
        /* A possessive ("Travolta's", "Python’s") is the name itself. */
        if (end - lead >= 3 && c[end - 1] == 's') {
            if (c[end - 2] == '\'') chunk[end - 2] = '\0';
            else if (end - lead >= 5 && c[end - 4] == 0xE2 && c[end - 3] == 0x80 && c[end - 2] == 0x99)
                chunk[end - 4] = '\0';
        }
        bool paren_next = false;
        {
            size_t k = i;
            while (k < n && s[k] == ' ') k++;
            paren_next = k + 1 < n && s[k] == '(' && s[k + 1] >= '0' && s[k + 1] <= '9';
        }
        semid_words w;
        st = semid_tokenize(chunk, &w);
        if (st != SEMID_OK) break;
        for (int32_t k = 0; k < w.n && st == SEMID_OK; k++) {
            qg_token f = {0};
            f.quoted = in_quote;
            f.capital = k == 0 ? capital : all_capital;
            f.brk_before = k == 0 ? brk : 0;
            f.paren_year = k == w.n - 1 && paren_next;
            f.sentence = sentence;
            st = tokens_push(out, w.words[k], f);
            w.words[k] = NULL;
        }
        for (int32_t k = 0; k < w.n; k++) free(w.words[k]);
        free(w.words);
        brk = trailing_brk;
        if (sentence_end && trailing_brk) sentence++;
        if (closes_quote) in_quote = false;
    }
    free(chunk);
    if (st != SEMID_OK) qg_tokens_free(out);
    return st;
}

/* Flags every token of a sentence that holds a reference word. */
void qg_mark_reference_sentences(qg_tokens *ts) {
    int32_t b = 0;
    while (b < ts->n) {
        int32_t e = b;
        bool reference = false;
        while (e < ts->n && ts->t[e].sentence == ts->t[b].sentence) {
            if (qg_is_reference_word(ts->t[e].word)) reference = true;
            e++;
        }
        for (int32_t k = b; k < e; k++) ts->t[k].reference = reference;
        b = e;
    }
}
