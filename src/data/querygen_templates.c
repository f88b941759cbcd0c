/* Query templates and their rendering (querygen_impl.h): the content a
 * query pair shares is drawn, then written out with a template's slots. */
#include <stdio.h>
#include <string.h>

#include "data/querygen_impl.h"

/* Slots: %G genre before a noun, %g genre standing as a noun (an
 * adjectival form gets "movie" after it), %D decade, %Y year, %N noun, %P
 * plural noun, %K keyword, %M name (any), %R person, %H phrase, %A "a"/"an"
 * for the next word. */
typedef struct qg_template {
    const char *fmt;
    uint8_t genre, decade, year, kw, names, person, phrase;
} qg_template;

static const qg_template k_templates[] = {
    {"%G %N about %K and %K", 1, 0, 0, 2, 0, 0, 0},
    {"%D %G %N with %K", 1, 1, 0, 1, 0, 0, 0},
    {"%N where %H", 0, 0, 0, 0, 0, 0, 1},
    {"%R %G %N", 1, 0, 0, 0, 0, 1, 0},
    {"%P like %A %D %g with %K", 1, 1, 0, 1, 0, 0, 0},
    {"%K %K %g", 1, 0, 0, 2, 0, 0, 0},
    {"looking for %A %G %N from the %D about %K", 1, 1, 0, 1, 0, 0, 0},
    {"%g from %Y with %K", 1, 0, 1, 1, 0, 0, 0},
    {"%R %N about %K", 0, 0, 0, 1, 0, 1, 0},
    {"%g with %K, %K and %K", 1, 0, 0, 3, 0, 0, 0},
    {"which %N has %M and %M", 0, 0, 0, 0, 2, 0, 0},
    {"%K %N from the %D", 0, 1, 0, 1, 0, 0, 0},
    {"i want to watch %A %g about %H", 1, 0, 0, 0, 0, 0, 1},
    {"%g where %H", 1, 0, 0, 0, 0, 0, 1},
    {"%N with %M about %K", 0, 0, 0, 1, 1, 0, 0},
    {"%D %K %N", 0, 1, 0, 1, 0, 0, 0},
    {"something %G with %K and %K", 1, 0, 0, 2, 0, 0, 0},
    {"%G %P about %K", 1, 0, 0, 1, 0, 0, 0},
    {"%M %D %g", 1, 1, 0, 0, 1, 0, 0},
    {"%N about %H", 0, 0, 0, 0, 0, 0, 1},
    {"%K and %K %N", 0, 0, 0, 2, 0, 0, 0},
    {"%G %N with %R", 1, 0, 0, 0, 0, 1, 0},
    {"%D %N about %H", 0, 1, 0, 0, 0, 0, 1},
    {"%K %g from %Y", 1, 0, 1, 1, 0, 0, 0},
    /* Fallbacks, for items with little metadata. */
    {"%G %N from the %D", 1, 1, 0, 0, 0, 0, 0},
    {"%D %g", 1, 1, 0, 0, 0, 0, 0},
    {"%G %P from %Y", 1, 0, 1, 0, 0, 0, 0},
    {"%K %K", 0, 0, 0, 2, 0, 0, 0},
    {"%K %N", 0, 0, 0, 1, 0, 0, 0},
    {"%G %N", 1, 0, 0, 0, 0, 0, 0},
    {"%N from %Y", 0, 0, 1, 0, 0, 0, 0},
};
_Static_assert(sizeof k_templates / sizeof k_templates[0] == QG_N_TEMPLATES, "QG_N_TEMPLATES");
enum {
    QG_FIRST_FALLBACK = 24,
    QG_MIN_TEMPLATES = 6 /* fewer fitting main templates than this: fallbacks join */
};

static bool template_fits(const qg_template *t, const qg_profile *p, int32_t n_persons) {
    int32_t n_kw = p->n_keywords < 3 ? p->n_keywords : 3;
    int32_t n_names = p->n_names < 2 ? p->n_names : 2;
    return (!t->genre || p->n_genres + p->n_other_genres > 0) && (!t->decade || p->year > 0) &&
           (!t->year || p->year > 0) && t->kw <= n_kw && t->names <= n_names && (!t->person || n_persons > 0) &&
           (!t->phrase || p->n_phrases > 0);
}

int32_t qg_fitting_templates(const qg_profile *p, int32_t fits[QG_N_TEMPLATES]) {
    int32_t n_persons = 0;
    for (int32_t i = 0; i < p->n_names; i++) n_persons += p->is_person[i];
    int32_t n_fits = 0;
    for (int32_t t = 0; t < QG_N_TEMPLATES; t++) {
        if (t == QG_FIRST_FALLBACK && n_fits >= QG_MIN_TEMPLATES) break;
        if (template_fits(&k_templates[t], p, n_persons)) fits[n_fits++] = t;
    }
    return n_fits;
}

/* Templates by specificity (querygen.h, semid_query_level): vague ones
 * say genre and decade at most, keyword ones a keyword or two with or
 * without a genre; full ones are every template. Each list goes from the
 * preferred to the last resort. */
static const int32_t k_vague_templates[] = {25, 24, 29, 30};
static const int32_t k_keyword_templates[] = {5, 17, 28, 27, 20, 0};

int32_t qg_level_templates(const qg_profile *p, int level, int32_t fits[QG_N_TEMPLATES]) {
    if (level == SEMID_QUERY_FULL) return qg_fitting_templates(p, fits);
    int32_t n_persons = 0, n_fits = 0;
    for (int32_t i = 0; i < p->n_names; i++) n_persons += p->is_person[i];
    const int32_t *list = level == SEMID_QUERY_VAGUE ? k_vague_templates : k_keyword_templates;
    int32_t n = level == SEMID_QUERY_VAGUE ? (int32_t)(sizeof k_vague_templates / sizeof *k_vague_templates)
                                           : (int32_t)(sizeof k_keyword_templates / sizeof *k_keyword_templates);
    for (int32_t i = 0; i < n; i++)
        if (template_fits(&k_templates[list[i]], p, n_persons)) fits[n_fits++] = list[i];
    /* Vague: the genre-and-decade forms when they fit, a lone genre or year only when they do not. */
    if (level == SEMID_QUERY_VAGUE && n_fits > 2 && fits[0] == 25) n_fits = 2;
    return n_fits;
}

enum { QG_MAX_PHRASE_USES = 3, QG_MAX_NAME_USES = 4 };

/* Index drawn with weight 1 / (1 + uses)^2 among n choices (n > 0). */
static int32_t draw_fresh(const int32_t *uses, int32_t n, const bool *allowed, semid_rng *rng) {
    double w[QG_MAX_NAMES > QG_MAX_PHRASES ? QG_MAX_NAMES : QG_MAX_PHRASES], total = 0;
    for (int32_t i = 0; i < n; i++) {
        w[i] = allowed && !allowed[i] ? 0.0 : 1.0 / ((1.0 + uses[i]) * (1.0 + uses[i]));
        total += w[i];
    }
    if (total <= 0) return -1;
    return (int32_t)semid_rng_weighted(rng, w, (size_t)n, total);
}

/* Draws the content of a query pair: genres, keywords (without
 * replacement, by score, fresher ones first), names and a phrase. */
void qg_draw_bundle(qg_bundle *b, const qg_profile *p, const qg_usage *u, semid_rng *rng) {
    memset(b, 0, sizeof *b);
    int32_t n_g = p->n_genres + p->n_other_genres;
    if (n_g > 0) {
        b->genre[b->n_genre++] = (int32_t)semid_rng_below(rng, (uint64_t)n_g);
        if (n_g > 1 && semid_rng_uniform(rng) < 0.3) {
            int32_t g2 = (int32_t)semid_rng_below(rng, (uint64_t)n_g);
            if (g2 != b->genre[0]) b->genre[b->n_genre++] = g2;
        }
    }
    double w[64];
    int32_t nk = p->n_keywords < 64 ? p->n_keywords : 64;
    double total = 0;
    for (int32_t i = 0; i < nk; i++) total += (w[i] = p->keywords[i].score / (1.0 + u->kw[i]));
    while (b->n_kw < 3 && b->n_kw < nk && total > 0) {
        int32_t j = (int32_t)semid_rng_weighted(rng, w, (size_t)nk, total);
        b->kw[b->n_kw++] = j;
        total -= w[j];
        w[j] = 0;
    }
    if (p->n_names > 0) {
        b->name[b->n_name++] = draw_fresh(u->name, p->n_names, NULL, rng);
        if (p->n_names > 1) {
            bool allowed[QG_MAX_NAMES];
            for (int32_t i = 0; i < p->n_names; i++) allowed[i] = i != b->name[0];
            b->name[b->n_name++] = draw_fresh(u->name, p->n_names, allowed, rng);
        }
    }
    bool persons[QG_MAX_NAMES];
    for (int32_t i = 0; i < p->n_names; i++) persons[i] = p->is_person[i];
    b->person = p->n_names ? draw_fresh(u->name, p->n_names, persons, rng) : -1;
    b->phrase = p->n_phrases ? draw_fresh(u->phrase, p->n_phrases, NULL, rng) : -1;
}

/* Whether the template would overuse the bundle's name or phrase. */
bool qg_overuses(int32_t template_index, const qg_bundle *b, const qg_usage *u) {
    const qg_template *t = &k_templates[template_index];
    if (t->phrase && b->phrase >= 0 && u->phrase[b->phrase] >= QG_MAX_PHRASE_USES) return true;
    if (t->person && b->person >= 0 && u->name[b->person] >= QG_MAX_NAME_USES) return true;
    for (int32_t k = 0; k < t->names && k < b->n_name; k++)
        if (u->name[b->name[k]] >= QG_MAX_NAME_USES) return true;
    return false;
}

/* Counts what the template takes from the bundle (keywords in the order the
 * variant renders them). */
void qg_count_usage(qg_usage *u, int32_t template_index, const qg_bundle *b, int variant) {
    const qg_template *t = &k_templates[template_index];
    for (int32_t k = 0; k < t->kw && k < b->n_kw; k++) u->kw[b->kw[variant == 0 ? k : b->n_kw - 1 - k]]++;
    for (int32_t k = 0; k < t->names && k < b->n_name; k++) u->name[b->name[k]]++;
    if (t->person && b->person >= 0) u->name[b->person]++;
    if (t->phrase && b->phrase >= 0) u->phrase[b->phrase]++;
}

static void buf_put(qg_buf *b, const char *text) {
    if (b->article && text[0]) {
        char c = text[0];
        bool an = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == '8' || strncmp(text, "11", 2) == 0 ||
                  strncmp(text, "18", 2) == 0;
        b->article = false;
        buf_put(b, an ? "an " : "a ");
    }
    size_t len = strlen(text);
    if (b->n + len >= sizeof b->s) len = sizeof b->s - 1 - b->n;
    memcpy(b->s + b->n, text, len);
    b->n += len;
    b->s[b->n] = '\0';
}

/* Puts a text word by word, each replaced by its synonym with probability p. */
static void buf_put_synonyms(qg_buf *b, const char *text, double p, semid_rng *rng) {
    char word[64];
    const char *s = text;
    while (*s) {
        size_t n = 0;
        while (s[n] && s[n] != ' ') n++;
        size_t m = n < sizeof word - 1 ? n : sizeof word - 1;
        memcpy(word, s, m);
        word[m] = '\0';
        const char *alt = qg_synonym_of(word);
        buf_put(b, alt && semid_rng_uniform(rng) < p ? alt : word);
        s += n;
        if (*s == ' ') {
            buf_put(b, " ");
            s++;
        }
    }
}

static const char *const k_decade_words[] = {"twenties", "thirties", "forties", "fifties",
                                             "sixties",  "seventies", "eighties", "nineties"};

static void put_decade(qg_buf *b, int32_t year, int variant, semid_rng *rng) {
    char tmp[48];
    int32_t d = year / 10 * 10;
    int form = variant == 0 ? (int)semid_rng_below(rng, 3) : 2 + (int)semid_rng_below(rng, 3);
    if (d < 1920 || d >= 2000) form = form == 0 ? 1 : form; /* "10s" or "00s" are unclear */
    const char *part = year % 10 <= 3 ? "early" : year % 10 >= 7 ? "late" : "mid";
    switch (form) {
    case 0: snprintf(tmp, sizeof tmp, "%02ds", d % 100); break;
    case 1: snprintf(tmp, sizeof tmp, "%ds", d); break;
    case 2:
        if (d >= 1920 && d < 2000) snprintf(tmp, sizeof tmp, "%s", k_decade_words[(d - 1920) / 10]);
        else snprintf(tmp, sizeof tmp, "%ds", d);
        break;
    case 3:
        if (d >= 1920 && d < 2000) snprintf(tmp, sizeof tmp, "%s %02ds", part, d % 100);
        else snprintf(tmp, sizeof tmp, "%s %ds", part, d);
        break;
    default: snprintf(tmp, sizeof tmp, "%ds", d); break;
    }
    buf_put(b, tmp);
}

/* Returns true if the form written needs a noun after it. */
static bool put_genre(qg_buf *b, const qg_profile *p, int32_t g, int variant, semid_rng *rng) {
    if (g < p->n_genres) {
        const qg_genre_forms *gf = p->genres[g];
        int f = variant == 0 ? 0 : 1 + (int)semid_rng_below(rng, 2);
        buf_put(b, gf->forms[f]);
        return gf->adjective[f];
    }
    buf_put(b, p->other_genres[g - p->n_genres]);
    return false;
}

static void put_name(qg_buf *b, const qg_profile *p, int32_t i, int variant, semid_rng *rng) {
    const char *name = p->names[i];
    const char *last = strrchr(name, ' ');
    /* A paraphrase may name a person by the surname alone. */
    if (variant == 1 && p->is_person[i] && last && semid_rng_uniform(rng) < 0.35) buf_put(b, last + 1);
    else buf_put(b, name);
}

void qg_render(qg_buf *b, int32_t template_index, const qg_bundle *bd, const qg_profile *p, int variant,
               semid_rng *rng) {
    const qg_template *t = &k_templates[template_index];
    static const char *const nouns[] = {"movie", "film", "movie", "flick"};
    static const char *const plurals[] = {"movies", "films"};
    b->n = 0;
    b->s[0] = '\0';
    b->article = false;
    int32_t next_kw = 0, next_name = 0;
    int32_t kw_order[3];
    for (int32_t i = 0; i < bd->n_kw; i++) kw_order[i] = bd->kw[variant == 0 ? i : bd->n_kw - 1 - i];
    for (const char *f = t->fmt; *f; f++) {
        if (*f != '%') {
            char c[2] = {*f, 0};
            buf_put(b, c);
            continue;
        }
        f++;
        switch (*f) {
        case 'G':
        case 'g': {
            bool adjective = false;
            for (int32_t g = 0; g < bd->n_genre; g++) {
                if (g) buf_put(b, " ");
                adjective = put_genre(b, p, bd->genre[variant == 0 ? g : bd->n_genre - 1 - g], variant, rng);
            }
            if (*f == 'g' && adjective) buf_put(b, semid_rng_below(rng, 2) ? " movie" : " film");
            break;
        }
        case 'D': put_decade(b, p->year, variant, rng); break;
        case 'Y': {
            char y[16];
            snprintf(y, sizeof y, "%d", p->year);
            buf_put(b, y);
            break;
        }
        case 'N': buf_put(b, nouns[semid_rng_below(rng, 4)]); break;
        case 'P': buf_put(b, plurals[semid_rng_below(rng, 2)]); break;
        case 'K':
            if (next_kw < bd->n_kw) {
                const char *w = p->keywords[kw_order[next_kw++]].word;
                const char *alt = variant == 1 ? qg_synonym_of(w) : NULL;
                buf_put(b, alt && semid_rng_uniform(rng) < 0.6 ? alt : w);
            }
            break;
        case 'M':
            if (next_name < bd->n_name) put_name(b, p, bd->name[next_name++], variant, rng);
            break;
        case 'R':
            if (bd->person >= 0) put_name(b, p, bd->person, variant, rng);
            break;
        case 'H':
            if (bd->phrase >= 0) buf_put_synonyms(b, p->phrases[bd->phrase], variant == 1 ? 0.5 : 0.0, rng);
            break;
        case 'A': b->article = true; f++; /* skip the blank after %A */ break;
        default: break;
        }
    }
}
