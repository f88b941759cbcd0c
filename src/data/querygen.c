/* The query generator (see querygen.h).
 *
 * Three passes: (1) every item's description and tags are scanned into
 * normalised tokens with the flags the extraction needs (quoted, capitalised,
 * punctuation between tokens); (2) document frequencies over the catalog;
 * (3) per item, in parallel with a forked RNG stream each: names, tf-idf
 * keywords and phrases, then queries rendered from templates. */
#include "data/querygen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/status.h"
#include "data/id_index.h"
#include "data/synth_words.h"
#include "text/tokenize.h"

enum {
    QG_MAX_NAMES = 6,
    QG_MAX_PHRASES = 4,
    QG_MAX_GENRES = 6,
    QG_MAX_PHRASE_WORDS = 6,
    QG_ATTEMPTS = 24, /* tries for a query whose word set is new for the item */
};

void semid_querygen_config_default(semid_querygen_config *cfg) {
    cfg->n_per_item = 20;
    cfg->n_train = 10;
    cfg->n_valid = 0;
    cfg->max_keywords = 8;
    cfg->append = false;
}

/* ---------------------------------------------------------------------------
 * Word lists */

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_sorted(const char *const *list, size_t n, const char *w) {
    return bsearch(&w, list, n, sizeof(*list), cmp_cstr) != NULL;
}
#define IN_LIST(list, w) in_sorted((list), sizeof(list) / sizeof((list)[0]), (w))

/* Words of descriptions that say nothing about the story of one item: the
 * vocabulary of reviews and blurbs ("film", "captivating", "performances",
 * "delves"), as written by people and language models alike, and dates.
 * Sorted. */
static const char *const k_meta_words[] = {
    "ability", "academy", "acclaimed", "acting", "actor", "actors", "actress", "add", "adding", "addition",
    "additionally", "addressing", "adds", "affiliations", "ages", "align", "aligns", "alike", "alongside", "also",
    "among", "anything", "appeal", "appealing", "appeals", "appeared", "appreciate", "approach", "april", "artistic",
    "atmosphere", "atmospheric", "attributed", "audience", "audiences", "august", "award", "awards", "backdrop", "based",
    "becomes", "beloved", "best", "beyond", "blend", "blending", "blends", "bring", "bringing", "brings",
    "broad", "broader", "captivate", "captivating", "captures", "capturing", "career", "careers", "cast", "category",
    "celebrated", "character", "characteristic", "characters", "charged", "charisma", "charismatic", "charm", "charming", "chemistry",
    "choice", "cinema", "cinematic", "cinematography", "classic", "classics", "combination", "combined", "combines", "commentary",
    "comparable", "compelling", "complemented", "complements", "complex", "complexities", "complexity", "connection", "connections", "consistent",
    "content", "context", "continues", "contribute", "contributes", "contributing", "contribution", "contributions", "crafted", "create",
    "creates", "credibility", "critical", "critically", "culturally", "december", "deep", "deeper", "deeply", "delightful",
    "deliver", "delivering", "delivers", "delve", "delves", "depth", "development", "dialogue", "different", "directed",
    "directing", "direction", "director", "directorial", "distinctive", "diverse", "drawing", "driven", "dynamic", "dynamics",
    "echoing", "elements", "emotional", "enduring", "energy", "engaging", "english", "enhance", "enhanced", "enhances",
    "enhancing", "enjoy", "enrich", "enriched", "ensemble", "ensures", "ensuring", "entangled", "entertain", "entertaining",
    "entertainment", "entertains", "enthusiasts", "entry", "era", "essence", "established", "everything", "evident", "exceptional",
    "experience", "experiences", "expertise", "exploration", "explore", "explores", "exploring", "extends", "extensive", "famous",
    "fans", "favorite", "features", "featuring", "february", "figure", "film", "filmmaker", "filmographies", "filmography",
    "films", "find", "fitting", "flair", "focus", "focusing", "follows", "found", "franchise", "fresh",
    "friday", "further", "genre", "genres", "glimpse", "gripping", "handle", "hearted", "heartfelt", "heartwarming",
    "helmed", "highlight", "highlighting", "iconic", "imaginative", "impact", "include", "includes", "including", "indicating",
    "industry", "influence", "information", "innovative", "insightful", "intense", "intensity", "interactions", "interest", "interested",
    "intricate", "intrigue", "intrigued", "introspective", "involvement", "january", "july", "june", "keeps", "key",
    "known", "language", "later", "layer", "lead", "leading", "leads", "led", "legacy", "lends",
    "lens", "lent", "lies", "light", "like", "looking", "made", "main", "make", "makes",
    "making", "march", "may", "memorable", "might", "mix", "modern", "moments", "monday", "movie",
    "movies", "must", "narrative", "narratives", "navigating", "notable", "noteworthy", "november", "nuanced", "october",
    "offer", "offering", "offerings", "offers", "often", "one", "oriented", "original", "overall", "packed",
    "part", "particularly", "peers", "perfect", "performance", "performances", "perspective", "piece", "pioneering", "pique",
    "pivotal", "placement", "played", "plays", "plot", "poignant", "point", "portfolio", "portrayal", "portrayals",
    "portrayed", "portrays", "premise", "presence", "previous", "primarily", "production", "profound", "prominent", "protagonist",
    "provide", "provided", "provides", "providing", "provoking", "prowess", "quality", "quirky", "range", "recognized",
    "recommendation", "recommendations", "recommended", "reflected", "reflecting", "relatable", "release", "released", "releasing", "remains",
    "reminiscent", "renowned", "repertoire", "resonance", "resonant", "resonate", "resonating", "respectively", "revolutionized", "revolves",
    "rich", "role", "roles", "saturday", "screen", "screenplay", "seasoned", "seeking", "seen", "seminal",
    "sense", "september", "sequences", "series", "set", "setting", "several", "share", "shared", "shares",
    "sharp", "showcase", "showcased", "showcases", "showcasing", "signature", "significant", "significantly", "similar", "similarities",
    "similarity", "similarly", "skills", "something", "special", "specific", "stakes", "standout", "stands", "star",
    "starred", "starring", "stars", "stellar", "stories", "story", "storyline", "storytelling", "striking", "strong",
    "studded", "stunning", "style", "styles", "stylistic", "subsequent", "success", "suggest", "suggesting", "suggests",
    "suitable", "sunday", "tale", "talented", "talents", "tapestry", "tension", "testament", "thematic", "themes",
    "thing", "thought", "thoughtful", "throughout", "thursday", "timeless", "titles", "titular", "today", "tone",
    "touch", "tuesday", "two", "typical", "unconventional", "underscores", "unique", "variety", "various", "versatile",
    "versatility", "vibrant", "viewers", "viewing", "vision", "visual", "visually", "vivacious", "watch", "watchlist",
    "wednesday", "well", "wit", "within", "won", "work", "works", "worthy", "year", "years",
    "yet",
};

/* Capitalised words that never start or join a person's name. Sorted. */
static const char *const k_not_name_words[] = {
    "academy", "america", "american", "april",  "august",  "award",   "awards",  "british",  "december",
    "director", "english", "europe",  "european", "february", "film",   "french",  "german",   "golden",
    "hollywood", "italian", "january", "july",  "june",    "march",   "may",     "movie",    "november",
    "october", "oscar",   "oscars",   "september", "spanish",
};

/* Common first names (beyond the synthetic list) that mark a name as a
 * person's. Sorted. */
static const char *const k_first_names[] = {
    "adam", "al", "alan", "albert", "alec", "alex", "alfred", "amy", "andie", "andy",
    "angela", "angelina", "ann", "anne", "annette", "anthony", "antonio", "audrey", "ben", "bette",
    "bill", "billy", "bob", "bobby", "brad", "bruce", "bud", "burt", "cameron", "cary",
    "catherine", "chevy", "chris", "christian", "christina", "christopher", "chuck", "clint", "colin", "dan",
    "danny", "dennis", "denzel", "diane", "dick", "don", "doris", "drew", "dustin", "ed",
    "eddie", "elijah", "ellen", "emma", "ethan", "francis", "fred", "gary", "geena", "gene",
    "george", "gregory", "gwyneth", "harrison", "harvey", "heather", "holly", "howard", "hugh", "humphrey",
    "ian", "jackie", "jamie", "jane", "janet", "jean", "jeff", "jennifer", "jerry", "jim",
    "jimmy", "jodie", "joe", "joel", "johnny", "jon", "jonathan", "judy", "julia", "julianne",
    "kathy", "keanu", "kenneth", "kevin", "kim", "kirk", "kirsten", "kurt", "lana", "lee",
    "leonardo", "liam", "lily", "lou", "lucy", "marilyn", "marlon", "matt", "meg", "mel",
    "meryl", "mia", "michelle", "mike", "morgan", "natalie", "nick", "nicolas", "nicole", "orson",
    "owen", "pat", "patrick", "penelope", "phil", "philip", "ray", "renee", "rick", "ridley",
    "rob", "robin", "ron", "ronald", "russell", "ryan", "sally", "sam", "sean", "sigourney",
    "spike", "stanley", "steve", "sylvester", "ted", "terry", "tim", "tom", "tommy", "tony",
    "uma", "val", "vince", "vincent", "vivien", "wes", "whoopi", "will", "winona", "woody",
};

static bool is_first_name(const char *w) {
    if (IN_LIST(k_first_names, w)) return true;
    for (int32_t i = 0; i < semid_synth_n_first_names; i++) {
        const char *f = semid_synth_first_names[i];
        size_t j = 0;
        while (f[j] && w[j] && (f[j] | 32) == w[j]) j++;
        if (!f[j] && !w[j]) return true;
    }
    return false;
}

/* Articles of the languages MovieLens titles use ("Usual Suspects, The",
 * "Cité des enfants perdus, La"). Sorted. */
static const char *const k_articles[] = {"a", "an", "das", "der", "die", "el", "il", "l", "la", "las", "le", "les",
                                         "los", "the"};

/* How people ask for each genre: forms[0] is the plain label. Keys are the
 * label lower-cased with everything but letters removed. */
typedef struct genre_forms {
    const char *key;
    const char *forms[3];
    uint8_t adjective[3]; /* 1: the form needs a noun after it ("scary") */
} genre_forms;

static const genre_forms k_genres[] = {
    {"action", {"action", "action packed", "action"}, {0, 1, 0}},
    {"adventure", {"adventure", "adventure", "quest"}, {0, 0, 0}},
    {"animation", {"animated", "animation", "cartoon"}, {1, 0, 0}},
    {"childrens", {"kids", "family", "children's"}, {1, 1, 1}},
    {"comedy", {"comedy", "funny", "comedic"}, {0, 1, 1}},
    {"crime", {"crime", "gangster", "criminal"}, {0, 1, 1}},
    {"documentary", {"documentary", "doc", "nonfiction"}, {0, 0, 1}},
    {"drama", {"drama", "dramatic", "serious"}, {0, 1, 1}},
    {"fantasy", {"fantasy", "magical", "fantasy"}, {0, 1, 0}},
    {"filmnoir", {"noir", "film noir", "hardboiled"}, {0, 0, 1}},
    {"horror", {"horror", "scary", "frightening"}, {0, 1, 1}},
    {"musical", {"musical", "song and dance", "music"}, {0, 1, 1}},
    {"mystery", {"mystery", "whodunit", "mysterious"}, {0, 0, 1}},
    {"romance", {"romance", "romantic", "love story"}, {0, 1, 0}},
    {"scifi", {"sci-fi", "science fiction", "scifi"}, {0, 0, 0}},
    {"thriller", {"thriller", "suspense", "suspenseful"}, {0, 1, 1}},
    {"war", {"war", "wartime", "war"}, {0, 1, 0}},
    {"western", {"western", "cowboy", "wild west"}, {0, 1, 1}},
};

/* Synonyms for paraphrases, one direction each. Sorted by word. */
typedef struct synonym {
    const char *word;
    const char *alt;
} synonym;

static const synonym k_synonyms[] = {
    {"alien", "extraterrestrial"}, {"aliens", "extraterrestrials"}, {"army", "military"},
    {"assassin", "hitman"},        {"attorney", "lawyer"},          {"bandit", "outlaw"},
    {"battle", "fight"},           {"battles", "fights"},           {"boat", "ship"},
    {"bomb", "explosive"},         {"boy", "kid"},                  {"castle", "fortress"},
    {"chases", "pursues"},         {"chef", "cook"},                {"child", "kid"},
    {"children", "kids"},          {"city", "town"},                {"coach", "trainer"},
    {"computer", "pc"},            {"cook", "chef"},                {"cop", "policeman"},
    {"cops", "police"},            {"cowboy", "cowhand"},           {"dad", "father"},
    {"dead", "deceased"},          {"death", "dying"},              {"detective", "investigator"},
    {"discovers", "finds"},        {"doctor", "physician"},         {"dog", "puppy"},
    {"escape", "getaway"},         {"escapes", "flees"},            {"father", "dad"},
    {"fight", "battle"},           {"fights", "battles"},           {"friends", "buddies"},
    {"friendship", "friends"},     {"gang", "mob"},                 {"ghost", "spirit"},
    {"girl", "young woman"},       {"heist", "robbery"},            {"hunts", "tracks"},
    {"journey", "trip"},           {"kid", "child"},                {"kids", "children"},
    {"killer", "murderer"},        {"king", "monarch"},             {"knight", "warrior"},
    {"lawyer", "attorney"},        {"love", "romance"},             {"magic", "sorcery"},
    {"man", "guy"},                {"marriage", "wedding"},         {"mission", "operation"},
    {"mob", "mafia"},              {"monster", "beast"},            {"mother", "mom"},
    {"murder", "killing"},         {"ocean", "sea"},                {"outlaw", "bandit"},
    {"pirate", "buccaneer"},       {"police", "cops"},              {"president", "commander in chief"},
    {"prison", "jail"},            {"rescues", "saves"},            {"revenge", "vengeance"},
    {"robbery", "heist"},          {"robot", "android"},            {"saves", "rescues"},
    {"school", "high school"},     {"sea", "ocean"},                {"sheriff", "lawman"},
    {"ship", "vessel"},            {"singer", "vocalist"},          {"soldier", "trooper"},
    {"soldiers", "troops"},        {"song", "tune"},                {"spaceship", "starship"},
    {"spy", "secret agent"},       {"student", "pupil"},            {"teacher", "instructor"},
    {"team", "squad"},             {"teenager", "teen"},            {"thief", "burglar"},
    {"town", "village"},           {"treasure", "loot"},            {"trial", "court case"},
    {"vampire", "bloodsucker"},    {"war", "conflict"},             {"wedding", "marriage"},
    {"wife", "spouse"},            {"witch", "sorceress"},          {"wizard", "magician"},
    {"woman", "lady"},             {"young", "youthful"},           {"zombie", "undead"},
    {"zombies", "undead"},
};

static int cmp_synonym(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, ((const synonym *)b)->word);
}

static const char *synonym_of(const char *w) {
    const synonym *s = bsearch(&w, k_synonyms, sizeof(k_synonyms) / sizeof(k_synonyms[0]), sizeof(synonym),
                               cmp_synonym);
    return s ? s->alt : NULL;
}

static const char *const k_decade_words[] = {"twenties", "thirties", "forties", "fifties",
                                             "sixties",  "seventies", "eighties", "nineties"};

/* ---------------------------------------------------------------------------
 * Scanning a description into flagged tokens */

typedef struct qg_token {
    char *word;         /* normalised */
    uint8_t quoted;     /* inside "..." (a title of another work, a quote) */
    uint8_t capital;    /* written with a capital first letter */
    uint8_t brk_before; /* punctuation (or a sentence end) before it */
    uint8_t paren_year; /* the next chunk is "(1995" or similar: this ends a title */
    uint8_t in_name;    /* part of an extracted name */
    uint8_t reference;  /* in a sentence about other works ("fans may also enjoy ...") */
    int32_t sentence;   /* index of its sentence */
} qg_token;

typedef struct qg_tokens {
    int32_t n, cap;
    qg_token *t;
} qg_tokens;

static void tokens_free(qg_tokens *ts) {
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
static semid_status scan_text(const char *text, qg_tokens *out) {
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
    if (st != SEMID_OK) tokens_free(out);
    return st;
}

/* Words that mark a sentence about other works: blurbs end with the cast's
 * other films and recommendations ("Fans of this film might also enjoy
 * ..."), whose words and titles say nothing about this item. Sorted. */
static const char *const k_reference_words[] = {
    "appeared", "appreciate", "career",   "careers",  "enjoy",    "fans",        "filmography", "films",
    "known",    "movies",     "previous", "recommend", "recommended", "similar", "similarly",  "works",
};

static void mark_reference_sentences(qg_tokens *ts) {
    int32_t b = 0;
    while (b < ts->n) {
        int32_t e = b;
        bool reference = false;
        while (e < ts->n && ts->t[e].sentence == ts->t[b].sentence) {
            if (IN_LIST(k_reference_words, ts->t[e].word)) reference = true;
            e++;
        }
        for (int32_t k = b; k < e; k++) ts->t[k].reference = reference;
        b = e;
    }
}

/* ---------------------------------------------------------------------------
 * Titles */

/* Word runs that make up an item's title: the main title and each
 * alternative title in parentheses, without leading or trailing articles
 * (unless nothing else is left). */
typedef struct qg_title {
    int32_t n_variants;
    semid_words variants[4];
} qg_title;

static void title_free(qg_title *t) {
    for (int32_t i = 0; i < t->n_variants; i++) semid_words_free(&t->variants[i]);
    t->n_variants = 0;
}

static void strip_articles(semid_words *w) {
    int32_t b = 0, e = w->n;
    while (b < e && IN_LIST(k_articles, w->words[b])) b++;
    while (e > b && IN_LIST(k_articles, w->words[e - 1])) e--;
    if (b == e) return; /* a title of articles only ("A") is kept whole */
    for (int32_t i = 0; i < b; i++) free(w->words[i]);
    for (int32_t i = e; i < w->n; i++) free(w->words[i]);
    memmove(w->words, w->words + b, (size_t)(e - b) * sizeof(char *));
    w->n = e - b;
}

static semid_status title_parse(const char *title, qg_title *out) {
    memset(out, 0, sizeof *out);
    if (!title) return SEMID_OK;
    size_t n = strlen(title);
    char *main = malloc(n + 1), *alt = malloc(n + 1);
    if (!main || !alt) {
        free(main);
        free(alt);
        return semid_fail(SEMID_ENOMEM, "out of memory parsing a title");
    }
    size_t nm = 0;
    int depth = 0;
    semid_status st = SEMID_OK;
    for (size_t i = 0; i <= n && st == SEMID_OK; i++) {
        char ch = title[i];
        if (ch == '(') {
            if (depth++ == 0) {
                size_t na = 0;
                size_t j = i + 1;
                int d = 1;
                while (j < n && d > 0) {
                    if (title[j] == '(') d++;
                    if (title[j] == ')' && --d == 0) break;
                    alt[na++] = title[j++];
                }
                alt[na] = '\0';
                if (out->n_variants < 3) {
                    semid_words w;
                    st = semid_tokenize(alt, &w);
                    if (st == SEMID_OK && w.n > 0) {
                        strip_articles(&w);
                        out->variants[1 + out->n_variants++] = w;
                    } else if (st == SEMID_OK) {
                        semid_words_free(&w);
                    }
                }
            }
            continue;
        }
        if (ch == ')') {
            if (depth > 0) depth--;
            continue;
        }
        if (depth == 0 && ch) main[nm++] = ch;
    }
    main[nm] = '\0';
    /* Variant 0 is the main title; shift the alternatives found above. */
    if (st == SEMID_OK) {
        semid_words w;
        st = semid_tokenize(main, &w);
        if (st == SEMID_OK) {
            strip_articles(&w);
            out->variants[0] = w;
            out->n_variants++;
        }
    }
    free(main);
    free(alt);
    if (st != SEMID_OK) {
        for (int i = 0; i < 4; i++) semid_words_free(&out->variants[i]);
        out->n_variants = 0;
    }
    return st;
}

/* Position where `needle` occurs as a run in words[0..n), or -1. */
static int32_t find_run(char *const *words, int32_t n, const semid_words *needle) {
    if (needle->n == 0) return -1;
    for (int32_t i = 0; i + needle->n <= n; i++) {
        int32_t k = 0;
        while (k < needle->n && strcmp(words[i + k], needle->words[k]) == 0) k++;
        if (k == needle->n) return i;
    }
    return -1;
}

/* Equal, or equal but for a final "s" (plural or possessive: "pythons" in
 * "Monty Python's" against "python"). */
static bool same_stem(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na == nb) return strcmp(a, b) == 0;
    if (na == nb + 1) return a[nb] == 's' && strncmp(a, b, nb) == 0;
    if (nb == na + 1) return b[na] == 's' && strncmp(a, b, na) == 0;
    return false;
}

static bool title_has_word(const qg_title *t, const char *w) {
    for (int32_t v = 0; v < t->n_variants; v++)
        for (int32_t i = 0; i < t->variants[v].n; i++)
            if (same_stem(t->variants[v].words[i], w)) return true;
    return false;
}

bool semid_query_contains_title(const semid_item *item, const char *query) {
    qg_title t;
    semid_words q;
    if (title_parse(item->title, &t) != SEMID_OK) return false;
    if (semid_tokenize(query, &q) != SEMID_OK) {
        title_free(&t);
        return false;
    }
    bool found = false;
    for (int32_t v = 0; v < t.n_variants && !found; v++) found = find_run(q.words, q.n, &t.variants[v]) >= 0;
    semid_words_free(&q);
    title_free(&t);
    return found;
}

/* ---------------------------------------------------------------------------
 * Per-item content */

typedef struct qg_keyword {
    char *word;
    double score; /* tf * idf */
} qg_keyword;

typedef struct qg_profile {
    qg_title title;
    int32_t n_genres;
    const genre_forms *genres[QG_MAX_GENRES]; /* known genres */
    char *other_genres[QG_MAX_GENRES];        /* unknown labels, normalised */
    int32_t n_other_genres;
    int32_t year;
    int32_t n_names;
    char *names[QG_MAX_NAMES]; /* normalised, "tom hanks" */
    bool is_person[QG_MAX_NAMES];
    int32_t n_keywords;
    qg_keyword *keywords;
    int32_t n_phrases;
    char *phrases[QG_MAX_PHRASES];
} qg_profile;

static void profile_free(qg_profile *p) {
    title_free(&p->title);
    for (int32_t i = 0; i < p->n_other_genres; i++) free(p->other_genres[i]);
    for (int32_t i = 0; i < p->n_names; i++) free(p->names[i]);
    for (int32_t i = 0; i < p->n_keywords; i++) free(p->keywords[i].word);
    free(p->keywords);
    for (int32_t i = 0; i < p->n_phrases; i++) free(p->phrases[i]);
    memset(p, 0, sizeof *p);
}

/* A content word that may become a keyword (any item). */
static bool is_candidate_word(const char *w) {
    size_t n = strlen(w);
    if (n < 3 || semid_is_stopword(w) || IN_LIST(k_meta_words, w)) return false;
    for (size_t i = 0; i < n; i++)
        if (!(w[i] >= '0' && w[i] <= '9')) return true;
    return false; /* all digits: a year */
}

/* A word of any genre's forms ("science", "fiction", "comedy"): capitalised
 * genre names in a blurb are not people. */
static bool is_any_genre_word(const char *w) {
    size_t n = strlen(w);
    for (size_t g = 0; g < sizeof k_genres / sizeof k_genres[0]; g++) {
        if (strcmp(k_genres[g].key, w) == 0) return true;
        for (int f = 0; f < 3; f++) {
            const char *form = k_genres[g].forms[f];
            for (const char *c = form; (c = strstr(c, w)) != NULL; c++)
                if ((c == form || c[-1] == ' ' || c[-1] == '-') && (c[n] == '\0' || c[n] == ' ' || c[n] == '-'))
                    return true;
        }
    }
    return false;
}

/* Marks runs of 2-3 capitalised tokens as names and collects them. */
static semid_status extract_names(qg_tokens *ts, qg_profile *p) {
    int32_t i = 0;
    while (i < ts->n) {
        if (!ts->t[i].capital || ts->t[i].quoted) {
            i++;
            continue;
        }
        int32_t e = i + 1;
        while (e < ts->n && ts->t[e].capital && !ts->t[e].quoted && !ts->t[e].brk_before) e++;
        int32_t len = e - i;
        bool ok = len >= 2 && len <= 3 && !ts->t[e - 1].paren_year;
        for (int32_t k = i; k < e && ok; k++) {
            const char *w = ts->t[k].word;
            /* "Will" is a first name as well as a function word. */
            if ((semid_is_stopword(w) && !is_first_name(w)) || IN_LIST(k_not_name_words, w) ||
                IN_LIST(k_meta_words, w) || is_any_genre_word(w) || title_has_word(&p->title, w) || strlen(w) < 2)
                ok = false;
        }
        /* In a sentence about other works a capitalised run is as likely a
         * title ("Pulp Fiction") as a name: only people count there. */
        if (ok && ts->t[i].reference && !is_first_name(ts->t[i].word)) ok = false;
        if (ok) {
            size_t total = 0;
            for (int32_t k = i; k < e; k++) total += strlen(ts->t[k].word) + 1;
            char *name = malloc(total + 1);
            if (!name) return semid_fail(SEMID_ENOMEM, "out of memory extracting names");
            name[0] = '\0';
            for (int32_t k = i; k < e; k++) {
                if (k > i) strcat(name, " ");
                strcat(name, ts->t[k].word);
                ts->t[k].in_name = 1;
            }
            bool dup = false;
            for (int32_t k = 0; k < p->n_names && !dup; k++) dup = strcmp(p->names[k], name) == 0;
            if (dup || p->n_names == QG_MAX_NAMES) {
                free(name);
            } else {
                p->is_person[p->n_names] = is_first_name(ts->t[i].word);
                p->names[p->n_names++] = name;
            }
        }
        i = e;
    }
    /* Surnames or first names mentioned alone ("directed by Lasseter",
     * "Keanu's best role") are name parts too. */
    for (int32_t k = 0; k < ts->n; k++) {
        if (ts->t[k].in_name || !ts->t[k].capital) continue;
        for (int32_t j = 0; j < p->n_names; j++) {
            const char *last = strrchr(p->names[j], ' ');
            if (!last) continue;
            size_t first_len = (size_t)(strchr(p->names[j], ' ') - p->names[j]);
            if (p->is_person[j] && strlen(ts->t[k].word) == first_len &&
                strncmp(ts->t[k].word, p->names[j], first_len) == 0)
                ts->t[k].in_name = 1;
            /* "Hanks" and the possessive "Hanks's", "Travolta's" -> "travoltas". */
            size_t n = strlen(last + 1);
            const char *w = ts->t[k].word;
            if (strncmp(w, last + 1, n) == 0 && (w[n] == '\0' || (w[n] == 's' && w[n + 1] == '\0')))
                ts->t[k].in_name = 1;
        }
    }
    return SEMID_OK;
}

/* True if w is a word of one of the item's genre forms ("scary", "fiction"):
 * the genre slot already says it. */
static bool is_genre_word(const qg_profile *p, const char *w) {
    size_t n = strlen(w);
    for (int32_t g = 0; g < p->n_genres + p->n_other_genres; g++) {
        for (int f = 0; f < 3; f++) {
            const char *form = g < p->n_genres ? p->genres[g]->forms[f] : p->other_genres[g - p->n_genres];
            for (const char *c = form; (c = strstr(c, w)) != NULL; c++)
                if ((c == form || c[-1] == ' ') && (c[n] == '\0' || c[n] == ' ')) return true;
            if (g >= p->n_genres) break;
        }
    }
    return false;
}

/* Eligible keyword at token k of an item. */
static bool token_is_keyword(const qg_profile *p, const qg_token *t) {
    return !t->quoted && !t->in_name && !t->reference && is_candidate_word(t->word) && !title_has_word(&p->title, t->word) &&
           !is_genre_word(p, t->word);
}

static semid_status parse_genres(const char *genres, qg_profile *p) {
    if (!genres) return SEMID_OK;
    const char *s = genres;
    while (*s) {
        const char *e = s;
        while (*e && *e != ',' && *e != '|') e++;
        char key[48];
        size_t nk = 0;
        for (const char *c = s; c < e && nk + 1 < sizeof key; c++) {
            char ch = *c;
            if (ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
            if (ch >= 'a' && ch <= 'z') key[nk++] = ch;
        }
        key[nk] = '\0';
        if (nk > 0 && p->n_genres + p->n_other_genres < QG_MAX_GENRES) {
            const genre_forms *gf = NULL;
            for (size_t g = 0; g < sizeof k_genres / sizeof k_genres[0]; g++)
                if (strcmp(k_genres[g].key, key) == 0) gf = &k_genres[g];
            if (gf) {
                p->genres[p->n_genres++] = gf;
            } else if (strcmp(key, "nogenreslisted") != 0) {
                /* An unknown label is used as written, lower-cased. */
                char *raw = malloc((size_t)(e - s) + 1);
                if (!raw) return semid_fail(SEMID_ENOMEM, "out of memory parsing genres");
                memcpy(raw, s, (size_t)(e - s));
                raw[e - s] = '\0';
                semid_words w;
                semid_status st = semid_tokenize(raw, &w);
                free(raw);
                if (st != SEMID_OK) return st;
                size_t total = 1;
                for (int32_t k = 0; k < w.n; k++) total += strlen(w.words[k]) + 1;
                char *label = malloc(total);
                if (!label) {
                    semid_words_free(&w);
                    return semid_fail(SEMID_ENOMEM, "out of memory parsing genres");
                }
                label[0] = '\0';
                for (int32_t k = 0; k < w.n; k++) {
                    if (k) strcat(label, " ");
                    strcat(label, w.words[k]);
                }
                semid_words_free(&w);
                if (label[0]) p->other_genres[p->n_other_genres++] = label;
                else free(label);
            }
        }
        s = *e ? e + 1 : e;
    }
    return SEMID_OK;
}

/* ---------------------------------------------------------------------------
 * Document frequencies */

typedef struct qg_vocab {
    semid_id_index *index;
    int32_t n, cap;
    int32_t *df;       /* documents holding each word */
    int32_t *last_doc; /* the last document that counted each word */
    /* Verbs of the built-in vocabulary ("hunts"), sorted: they read badly
     * as keywords ("a thriller about hunts") and as a phrase's first word. */
    const char *verbs[SEMID_SYNTH_VERBS * 32];
    int32_t n_verbs;
} qg_vocab;

static bool vocab_is_verb(const qg_vocab *v, const char *w) {
    return bsearch(&w, v->verbs, (size_t)v->n_verbs, sizeof(char *), cmp_cstr) != NULL;
}

static void vocab_init_verbs(qg_vocab *v) {
    v->n_verbs = 0;
    for (int32_t t = 0; t < semid_synth_n_topics && t < 32; t++)
        for (int k = 0; k < SEMID_SYNTH_VERBS; k++) v->verbs[v->n_verbs++] = semid_synth_topics[t].verbs[k];
    qsort(v->verbs, (size_t)v->n_verbs, sizeof(char *), cmp_cstr);
}

static int32_t vocab_df(const qg_vocab *v, const char *w) {
    int32_t id = semid_id_index_get(v->index, w);
    return id >= 0 ? v->df[id] : 0;
}

/* Adds one document's words (each counted once). */
static semid_status vocab_add_doc(qg_vocab *v, const qg_tokens *ts, int32_t stamp) {
    for (int32_t k = 0; k < ts->n; k++) {
        const char *w = ts->t[k].word;
        if (!is_candidate_word(w)) continue;
        int32_t existing;
        SEMID_TRY(semid_id_index_put(v->index, w, v->n, &existing));
        int32_t id = existing >= 0 ? existing : v->n;
        if (existing < 0) {
            if (v->n == v->cap) {
                int32_t ncap = v->cap ? v->cap * 2 : 4096;
                int32_t *ndf = realloc(v->df, (size_t)ncap * sizeof(int32_t));
                if (ndf) v->df = ndf;
                int32_t *nls = realloc(v->last_doc, (size_t)ncap * sizeof(int32_t));
                if (nls) v->last_doc = nls;
                if (!ndf || !nls) return semid_fail(SEMID_ENOMEM, "out of memory counting words");
                v->cap = ncap;
            }
            v->df[id] = 0;
            v->last_doc[id] = -1;
            v->n++;
        }
        if (v->last_doc[id] != stamp) {
            v->last_doc[id] = stamp;
            v->df[id]++;
        }
    }
    return SEMID_OK;
}

/* ---------------------------------------------------------------------------
 * Keywords and phrases of one item */

static int cmp_keyword(const void *a, const void *b) {
    const qg_keyword *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return strcmp(x->word, y->word);
}

/* Adverbs and participles ("visually", "established", "echoing") make
 * poor search keywords; nouns are what people type. Without a tagger, the
 * suffix is the hint. */
static double suffix_weight(const char *w) {
    size_t n = strlen(w);
    if (n > 4 && strcmp(w + n - 2, "ly") == 0) return 0.3;
    if (n > 4 && strcmp(w + n - 2, "ed") == 0) return 0.5;
    if (n > 5 && strcmp(w + n - 3, "ing") == 0) return 0.7;
    return 1.0;
}

static semid_status build_keywords(qg_profile *p, const qg_tokens *desc, const qg_tokens *tags, const qg_vocab *v,
                                   int32_t n_docs, int32_t max_keywords) {
    int32_t cap = desc->n + tags->n;
    if (cap == 0) return SEMID_OK;
    qg_keyword *kw = calloc((size_t)cap, sizeof *kw);
    if (!kw) return semid_fail(SEMID_ENOMEM, "out of memory choosing keywords");
    int32_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const qg_tokens *ts = pass == 0 ? desc : tags;
        double weight = pass == 0 ? 1.0 : 2.0; /* tags are keywords someone chose */
        for (int32_t k = 0; k < ts->n; k++) {
            if (!token_is_keyword(p, &ts->t[k]) || vocab_is_verb(v, ts->t[k].word)) continue;
            int32_t j = 0;
            while (j < n && strcmp(kw[j].word, ts->t[k].word) != 0) j++;
            if (j == n) kw[n++].word = ts->t[k].word; /* borrowed until copied below */
            kw[j].score += weight;
        }
    }
    for (int32_t j = 0; j < n; j++) {
        double idf = log((1.0 + n_docs) / (1.0 + vocab_df(v, kw[j].word)));
        kw[j].score *= idf * suffix_weight(kw[j].word);
    }
    qsort(kw, (size_t)n, sizeof *kw, cmp_keyword);
    while (n > 0 && kw[n - 1].score <= 1e-9) n--;
    if (n > max_keywords) n = max_keywords;
    semid_status st = SEMID_OK;
    for (int32_t j = 0; j < n; j++) {
        char *copy = semid_strdup(kw[j].word);
        if (!copy) {
            for (int32_t i = 0; i < j; i++) free(kw[i].word);
            st = semid_fail(SEMID_ENOMEM, "out of memory choosing keywords");
            n = 0;
            break;
        }
        kw[j].word = copy;
    }
    if (n == 0) {
        free(kw);
        kw = NULL;
    }
    p->keywords = kw;
    p->n_keywords = n;
    return st;
}

static bool is_article(const char *w) {
    return strcmp(w, "a") == 0 || strcmp(w, "an") == 0 || strcmp(w, "the") == 0;
}

/* The phrase t[b..e), where t[b] is an article, as text; NULL if it is
 * unusable: fewer than two or more than QG_MAX_PHRASE_WORDS words after
 * the article, or holding a verb of the built-in vocabulary first, a title
 * word, a review word, a name or a quote. */
static char *phrase_text(const qg_profile *p, const qg_vocab *v, const qg_tokens *ts, int32_t b, int32_t e,
                         bool *oom) {
    while (e > b + 1 && semid_is_stopword(ts->t[e - 1].word)) e--;
    if (e - b - 1 < 2 || e - b - 1 > QG_MAX_PHRASE_WORDS) return NULL;
    if (vocab_is_verb(v, ts->t[b + 1].word)) return NULL;
    size_t total = 1;
    for (int32_t i = b; i < e; i++) {
        if (title_has_word(&p->title, ts->t[i].word) || IN_LIST(k_meta_words, ts->t[i].word) || ts->t[i].in_name ||
            ts->t[i].quoted || ts->t[i].reference)
            return NULL;
        total += strlen(ts->t[i].word) + 1;
    }
    char *phrase = malloc(total);
    if (!phrase) {
        *oom = true;
        return NULL;
    }
    phrase[0] = '\0';
    for (int32_t i = b; i < e; i++) {
        if (i > b) strcat(phrase, " ");
        strcat(phrase, ts->t[i].word);
    }
    return phrase;
}

static bool stops_phrase(const qg_token *t) {
    return t->quoted || t->in_name || (semid_is_stopword(t->word) && !is_article(t->word));
}

/* Phrases: noun phrases of the description around the top keywords. A
 * phrase starts at an article at most four words before the keyword (no
 * tagger is at hand; an article is the cheapest sign of a noun phrase: "a
 * retired detective hunts a ruthless gang", "a nostalgic trip") and runs to
 * the next punctuation, name, quote or function word other than an
 * article, QG_MAX_PHRASE_WORDS words at most. */
static semid_status build_phrases(qg_profile *p, const qg_vocab *v, const qg_tokens *ts) {
    for (int32_t k = 0; k < p->n_keywords && p->n_phrases < QG_MAX_PHRASES; k++) {
        int32_t pos = -1;
        for (int32_t i = 0; i < ts->n && pos < 0; i++)
            if (!ts->t[i].quoted && !ts->t[i].in_name && strcmp(ts->t[i].word, p->keywords[k].word) == 0) pos = i;
        if (pos < 0) continue;
        int32_t b = -1;
        for (int32_t i = pos - 1, step = 0; i >= 0 && step < 4; i--, step++) {
            if (is_article(ts->t[i].word)) {
                b = i;
                break;
            }
            if (ts->t[i + 1].brk_before || stops_phrase(&ts->t[i])) break;
        }
        if (b < 0) continue;
        /* Up to the next punctuation or function word; a phrase that would
         * run longer is cut mid-way and not used. */
        int32_t e = pos + 1;
        while (e < ts->n && !ts->t[e].brk_before && !stops_phrase(&ts->t[e]) && e - b <= QG_MAX_PHRASE_WORDS) e++;
        if (e < ts->n && !ts->t[e].brk_before && !stops_phrase(&ts->t[e])) continue;
        bool oom = false;
        char *phrase = phrase_text(p, v, ts, b, e, &oom);
        if (oom) return semid_fail(SEMID_ENOMEM, "out of memory building phrases");
        if (!phrase) continue;
        bool dup = false;
        for (int32_t i = 0; i < p->n_phrases && !dup; i++) dup = strcmp(p->phrases[i], phrase) == 0;
        if (dup) free(phrase);
        else p->phrases[p->n_phrases++] = phrase;
    }
    return SEMID_OK;
}

/* ---------------------------------------------------------------------------
 * Templates */

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
enum {
    QG_N_TEMPLATES = (int)(sizeof k_templates / sizeof k_templates[0]),
    QG_FIRST_FALLBACK = 24,
    QG_MIN_TEMPLATES = 6 /* fewer fitting main templates than this: fallbacks join */
};

/* The content a base query and its paraphrase share. */
typedef struct qg_bundle {
    int32_t genre[2], n_genre; /* indices into known genres then other genres */
    int32_t kw[3], n_kw;
    int32_t name[2], n_name;
    int32_t person;
    int32_t phrase;
} qg_bundle;

static bool template_fits(const qg_template *t, const qg_profile *p, int32_t n_persons) {
    int32_t n_kw = p->n_keywords < 3 ? p->n_keywords : 3;
    int32_t n_names = p->n_names < 2 ? p->n_names : 2;
    return (!t->genre || p->n_genres + p->n_other_genres > 0) && (!t->decade || p->year > 0) &&
           (!t->year || p->year > 0) && t->kw <= n_kw && t->names <= n_names && (!t->person || n_persons > 0) &&
           (!t->phrase || p->n_phrases > 0);
}

/* How often this item's queries used each keyword, name and phrase, so
 * that one striking phrase or name does not fill them all. */
typedef struct qg_usage {
    int32_t kw[64];
    int32_t name[QG_MAX_NAMES];
    int32_t phrase[QG_MAX_PHRASES];
} qg_usage;

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
static void draw_bundle(qg_bundle *b, const qg_profile *p, const qg_usage *u, semid_rng *rng) {
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

/* Whether template t would overuse the bundle's name or phrase. */
static bool overuses(const qg_template *t, const qg_bundle *b, const qg_usage *u) {
    if (t->phrase && b->phrase >= 0 && u->phrase[b->phrase] >= QG_MAX_PHRASE_USES) return true;
    if (t->person && b->person >= 0 && u->name[b->person] >= QG_MAX_NAME_USES) return true;
    for (int32_t k = 0; k < t->names && k < b->n_name; k++)
        if (u->name[b->name[k]] >= QG_MAX_NAME_USES) return true;
    return false;
}

/* Counts what template t takes from the bundle (keywords in the order the
 * variant renders them). */
static void count_usage(qg_usage *u, const qg_template *t, const qg_bundle *b, int variant) {
    for (int32_t k = 0; k < t->kw && k < b->n_kw; k++) u->kw[b->kw[variant == 0 ? k : b->n_kw - 1 - k]]++;
    for (int32_t k = 0; k < t->names && k < b->n_name; k++) u->name[b->name[k]]++;
    if (t->person && b->person >= 0) u->name[b->person]++;
    if (t->phrase && b->phrase >= 0) u->phrase[b->phrase]++;
}

/* A growing output string. */
typedef struct qg_buf {
    char s[512];
    size_t n;
    bool article; /* "a"/"an" pending for the next word */
} qg_buf;

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
        const char *alt = synonym_of(word);
        buf_put(b, alt && semid_rng_uniform(rng) < p ? alt : word);
        s += n;
        if (*s == ' ') {
            buf_put(b, " ");
            s++;
        }
    }
}

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
        const genre_forms *gf = p->genres[g];
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

static void render(qg_buf *b, const qg_template *t, const qg_bundle *bd, const qg_profile *p, int variant,
                   semid_rng *rng) {
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
                const char *alt = variant == 1 ? synonym_of(w) : NULL;
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

/* ---------------------------------------------------------------------------
 * Queries of one item */

static uint64_t wordset_hash(char **words, int32_t n) {
    /* Order-free: sum of per-word hashes over distinct words. */
    uint64_t h = 0;
    for (int32_t i = 0; i < n; i++) {
        bool seen = false;
        for (int32_t j = 0; j < i && !seen; j++) seen = strcmp(words[i], words[j]) == 0;
        if (!seen) {
            uint64_t x = semid_hash_bytes(words[i], strlen(words[i]), 0x5eed);
            h += x * 0x9E3779B97F4A7C15ULL ^ (x >> 29);
        }
    }
    return h;
}

/* Removes every run of words that forms the title; joins the rest. Returns
 * true if something was removed. */
static bool remove_title(semid_words *q, const qg_title *t) {
    bool removed = false;
    for (int32_t v = 0; v < t->n_variants; v++) {
        int32_t at;
        while ((at = find_run(q->words, q->n, &t->variants[v])) >= 0) {
            int32_t len = t->variants[v].n;
            for (int32_t k = at; k < at + len; k++) free(q->words[k]);
            memmove(q->words + at, q->words + at + len, (size_t)(q->n - at - len) * sizeof(char *));
            q->n -= len;
            removed = true;
        }
    }
    return removed;
}

static char *join_words(const semid_words *w) {
    size_t total = 1;
    for (int32_t i = 0; i < w->n; i++) total += strlen(w->words[i]) + 1;
    char *s = malloc(total);
    if (!s) return NULL;
    s[0] = '\0';
    for (int32_t i = 0; i < w->n; i++) {
        if (i) strcat(s, " ");
        strcat(s, w->words[i]);
    }
    return s;
}

typedef struct qg_item_out {
    char **texts;     /* (n_per_item) */
    uint8_t *splits;  /* (n_per_item) */
    int32_t title_fixes;
    const uint64_t *prior; /* word-set hashes of the item's queries kept from before (append) */
    int32_t n_prior;
} qg_item_out;

static semid_status item_queries(const qg_profile *p, const semid_querygen_config *cfg, semid_rng *rng,
                                 qg_item_out *out) {
    int32_t n = cfg->n_per_item;
    /* Word sets already used by this item: queries kept from before, then
     * the ones made here. */
    uint64_t *seen = malloc(((size_t)n + (size_t)out->n_prior) * sizeof *seen);
    if (!seen) return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    if (out->n_prior) memcpy(seen, out->prior, (size_t)out->n_prior * sizeof *seen);
    int32_t n_seen = out->n_prior;
    int32_t n_persons = 0;
    for (int32_t i = 0; i < p->n_names; i++) n_persons += p->is_person[i];
    int32_t fits[QG_N_TEMPLATES], n_fits = 0;
    for (int32_t t = 0; t < QG_N_TEMPLATES; t++) {
        if (t == QG_FIRST_FALLBACK && n_fits >= QG_MIN_TEMPLATES) break;
        if (template_fits(&k_templates[t], p, n_persons)) fits[n_fits++] = t;
    }
    semid_status st = SEMID_OK;
    int32_t made = 0;
    qg_bundle bundle;
    qg_usage usage;
    memset(&usage, 0, sizeof usage);
    int32_t base_template = -1;
    while (made < n && st == SEMID_OK) {
        int variant = made % 2; /* odd queries paraphrase the one before */
        if (variant == 0) draw_bundle(&bundle, p, &usage, rng);
        char *text = NULL;
        uint64_t h = 0;
        for (int attempt = 0; attempt < QG_ATTEMPTS && !text; attempt++) {
            if (attempt > 0 && attempt % 4 == 0) draw_bundle(&bundle, p, &usage, rng);
            int32_t t;
            if (n_fits == 0) {
                t = QG_N_TEMPLATES - 1;
            } else {
                t = fits[semid_rng_below(rng, (uint64_t)n_fits)];
                if (variant == 1 && t == base_template && n_fits > 1) continue;
                if (overuses(&k_templates[t], &bundle, &usage) && attempt + 4 < QG_ATTEMPTS) continue;
            }
            qg_buf b;
            render(&b, &k_templates[t], &bundle, p, variant, rng);
            semid_words w;
            st = semid_tokenize(b.s, &w);
            if (st != SEMID_OK) break;
            bool fixed = remove_title(&w, &p->title);
            if (w.n == 0) {
                semid_words_free(&w);
                continue;
            }
            h = wordset_hash(w.words, w.n);
            bool dup = false;
            for (int32_t j = 0; j < n_seen && !dup; j++) dup = seen[j] == h;
            if (dup && attempt + 1 < QG_ATTEMPTS) {
                semid_words_free(&w);
                continue;
            }
            text = fixed ? join_words(&w) : semid_strdup(b.s);
            semid_words_free(&w);
            if (!text) {
                st = semid_fail(SEMID_ENOMEM, "out of memory generating queries");
                break;
            }
            if (fixed) out->title_fixes++;
            if (variant == 0) base_template = t;
            count_usage(&usage, &k_templates[t], &bundle, variant);
        }
        if (st != SEMID_OK) break;
        if (!text) {
            /* Nothing new could be said (an item without metadata): a
             * generic request, new for the item if one is left. */
            static const char *const generic[] = {"movie", "film", "flick", "a movie", "some film", "any flick",
                                                  "a good movie", "a film to watch", "movie night", "recommend a film"};
            int32_t pick = 0;
            for (int32_t g = 0; g < (int32_t)(sizeof generic / sizeof generic[0]); g++) {
                semid_words w;
                st = semid_tokenize(generic[g], &w);
                if (st != SEMID_OK) break;
                uint64_t gh = wordset_hash(w.words, w.n);
                semid_words_free(&w);
                bool dup = false;
                for (int32_t j = 0; j < n_seen && !dup; j++) dup = seen[j] == gh;
                if (!dup) {
                    pick = g;
                    h = gh;
                    break;
                }
            }
            if (st != SEMID_OK) break;
            text = semid_strdup(generic[pick]);
            if (!text) {
                st = semid_fail(SEMID_ENOMEM, "out of memory generating queries");
                break;
            }
        }
        seen[n_seen++] = h;
        out->texts[made++] = text;
    }
    free(seen);
    if (st != SEMID_OK) return st;
    /* Splits: a seeded shuffle, then train, valid, test in that order. */
    int32_t *order = malloc((size_t)n * sizeof *order);
    if (!order) return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    for (int32_t i = 0; i < n; i++) order[i] = i;
    semid_rng_shuffle_i32(rng, order, (size_t)n);
    for (int32_t i = 0; i < n; i++) {
        uint8_t split = i < cfg->n_train ? SEMID_SPLIT_TRAIN
                        : i < cfg->n_train + cfg->n_valid ? SEMID_SPLIT_VALID
                                                           : SEMID_SPLIT_TEST;
        out->splits[order[i]] = split;
    }
    free(order);
    return SEMID_OK;
}

/* ---------------------------------------------------------------------------
 * The whole catalog */

static semid_status build_profile(const semid_item *item, const qg_vocab *v, int32_t n_docs, int32_t max_keywords,
                                  qg_profile *p) {
    memset(p, 0, sizeof *p);
    SEMID_TRY(title_parse(item->title, &p->title));
    p->year = item->year;
    semid_status st = parse_genres(item->genres, p);
    qg_tokens desc = {0}, tags = {0};
    if (st == SEMID_OK) st = scan_text(item->description, &desc);
    if (st == SEMID_OK) mark_reference_sentences(&desc);
    if (st == SEMID_OK) st = scan_text(item->tags, &tags);
    if (st == SEMID_OK) st = extract_names(&desc, p);
    if (st == SEMID_OK) st = build_keywords(p, &desc, &tags, v, n_docs, max_keywords);
    if (st == SEMID_OK) st = build_phrases(p, v, &desc);
    tokens_free(&desc);
    tokens_free(&tags);
    if (st != SEMID_OK) profile_free(p);
    return st;
}

static semid_status count_documents(const semid_dataset *ds, qg_vocab *v) {
    memset(v, 0, sizeof *v);
    vocab_init_verbs(v);
    SEMID_TRY(semid_id_index_create(&v->index, 1 << 14));
    semid_status st = SEMID_OK;
    for (int32_t i = 0; i < ds->n_items && st == SEMID_OK; i++) {
        qg_tokens ts;
        for (int pass = 0; pass < 2 && st == SEMID_OK; pass++) {
            st = scan_text(pass == 0 ? ds->items[i].description : ds->items[i].tags, &ts);
            if (st == SEMID_OK) st = vocab_add_doc(v, &ts, i);
            tokens_free(&ts);
        }
    }
    return st;
}

static void vocab_free(qg_vocab *v) {
    semid_id_index_free(v->index);
    free(v->df);
    free(v->last_doc);
    memset(v, 0, sizeof *v);
}

/* Word-set hashes of ds->queries grouped by item: those of item i are
 * (*hashes)[(*start)[i] .. (*start)[i+1]). */
static semid_status prior_wordsets(const semid_dataset *ds, int64_t **start, uint64_t **hashes) {
    *start = calloc((size_t)ds->n_items + 2, sizeof **start);
    *hashes = malloc((size_t)ds->n_queries * sizeof **hashes + 1);
    int64_t *fill = calloc((size_t)ds->n_items + 1, sizeof *fill);
    semid_status st = SEMID_OK;
    if (!*start || !*hashes || !fill) st = semid_fail(SEMID_ENOMEM, "out of memory reading existing queries");
    for (int32_t q = 0; q < ds->n_queries && st == SEMID_OK; q++) {
        int32_t it = ds->queries[q].item;
        if (it >= 0 && it < ds->n_items) (*start)[it + 1]++;
    }
    for (int32_t i = 0; i < ds->n_items && st == SEMID_OK; i++) (*start)[i + 1] += (*start)[i];
    for (int32_t q = 0; q < ds->n_queries && st == SEMID_OK; q++) {
        int32_t it = ds->queries[q].item;
        if (it < 0 || it >= ds->n_items) continue;
        semid_words w;
        st = semid_tokenize(ds->queries[q].text, &w);
        if (st != SEMID_OK) break;
        (*hashes)[(*start)[it] + fill[it]++] = wordset_hash(w.words, w.n);
        semid_words_free(&w);
    }
    free(fill);
    if (st != SEMID_OK) {
        free(*start);
        free(*hashes);
        *start = NULL;
        *hashes = NULL;
    }
    return st;
}

#ifndef NDEBUG
/* The word lists are searched with bsearch: an entry added out of order
 * would silently never match. Checked in debug builds (the tests). */
static void check_sorted(const char *const *list, size_t n) {
    for (size_t i = 1; i < n; i++) SEMID_ASSERT(strcmp(list[i - 1], list[i]) < 0);
}
#define CHECK_SORTED(list) check_sorted((list), sizeof(list) / sizeof((list)[0]))

static void check_word_lists(void) {
    CHECK_SORTED(k_meta_words);
    CHECK_SORTED(k_not_name_words);
    CHECK_SORTED(k_first_names);
    CHECK_SORTED(k_articles);
    CHECK_SORTED(k_reference_words);
    for (size_t i = 1; i < sizeof k_synonyms / sizeof k_synonyms[0]; i++)
        SEMID_ASSERT(strcmp(k_synonyms[i - 1].word, k_synonyms[i].word) < 0);
}
#endif

semid_status semid_querygen_run(semid_dataset *ds, const semid_querygen_config *cfg, uint64_t seed,
                                semid_querygen_stats *stats) {
    if (cfg->n_per_item < 1 || cfg->n_per_item > 1000)
        return semid_fail(SEMID_EINVAL, "querygen: n_per_item must be in 1..1000, got %d", cfg->n_per_item);
    if (cfg->n_train < 0 || cfg->n_valid < 0 || cfg->n_train + cfg->n_valid > cfg->n_per_item)
        return semid_fail(SEMID_EINVAL, "querygen: n_train (%d) + n_valid (%d) must be within n_per_item (%d)",
                          cfg->n_train, cfg->n_valid, cfg->n_per_item);
    if (cfg->max_keywords < 1 || cfg->max_keywords > 64)
        return semid_fail(SEMID_EINVAL, "querygen: max_keywords must be in 1..64, got %d", cfg->max_keywords);
    int64_t total = (int64_t)ds->n_items * cfg->n_per_item + (cfg->append ? ds->n_queries : 0);
    if (total > INT32_MAX) return semid_fail(SEMID_EINVAL, "querygen: %lld queries exceed the limit", (long long)total);
    double t0 = semid_now();
#ifndef NDEBUG
    check_word_lists();
#endif

    qg_vocab vocab;
    semid_status st = count_documents(ds, &vocab);
    if (st != SEMID_OK) {
        vocab_free(&vocab);
        return st;
    }
    int32_t n = cfg->n_per_item;
    char **texts = calloc((size_t)ds->n_items * (size_t)n + 1, sizeof *texts);
    uint8_t *splits = calloc((size_t)ds->n_items * (size_t)n + 1, 1);
    int32_t *fixes = calloc((size_t)ds->n_items + 1, sizeof *fixes);
    if (!texts || !splits || !fixes) {
        free(texts);
        free(splits);
        free(fixes);
        vocab_free(&vocab);
        return semid_fail(SEMID_ENOMEM, "out of memory generating queries");
    }
    /* Appending: the word sets of the queries already there, by item, so
     * that new queries do not repeat them. */
    int64_t *prior_start = NULL;
    uint64_t *prior = NULL;
    if (cfg->append && ds->n_queries > 0 && st == SEMID_OK) st = prior_wordsets(ds, &prior_start, &prior);
    if (st != SEMID_OK) {
        free(texts);
        free(splits);
        free(fixes);
        vocab_free(&vocab);
        return st;
    }
    semid_rng root;
    semid_rng_seed(&root, seed);
    int failed = 0;
    semid_status first_error = SEMID_OK;
    char first_message[256] = "";
#pragma omp parallel for schedule(dynamic, 16) num_threads(semid_get_threads())
    for (int32_t i = 0; i < ds->n_items; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        semid_rng rng = semid_rng_fork(&root, (uint64_t)i);
        qg_profile p;
        semid_status s = build_profile(&ds->items[i], &vocab, ds->n_items, cfg->max_keywords, &p);
        if (s == SEMID_OK) {
            qg_item_out out = {texts + (size_t)i * n, splits + (size_t)i * n, 0, NULL, 0};
            if (prior_start) {
                out.prior = prior + prior_start[i];
                out.n_prior = (int32_t)(prior_start[i + 1] - prior_start[i]);
            }
            s = item_queries(&p, cfg, &rng, &out);
            fixes[i] = out.title_fixes;
            profile_free(&p);
        }
        if (s != SEMID_OK) {
#pragma omp critical(semid_querygen_error)
            {
                if (!failed) {
                    failed = 1;
                    first_error = s;
                    snprintf(first_message, sizeof first_message, "%s", semid_last_error());
                }
            }
        }
    }
    vocab_free(&vocab);
    free(prior_start);
    free(prior);
    if (failed) {
        for (size_t k = 0; k < (size_t)ds->n_items * n; k++) free(texts[k]);
        free(texts);
        free(splits);
        free(fixes);
        return semid_fail(first_error, "%s", first_message);
    }

    /* Store: replace or append. */
    int32_t keep = cfg->append ? ds->n_queries : 0;
    if (!cfg->append) {
        for (int32_t q = 0; q < ds->n_queries; q++) free(ds->queries[q].text);
        free(ds->queries);
        ds->queries = NULL;
        ds->n_queries = 0;
    }
    semid_query *nq = realloc(ds->queries, (size_t)total * sizeof *nq + 1);
    if (!nq) {
        for (size_t k = 0; k < (size_t)ds->n_items * n; k++) free(texts[k]);
        free(texts);
        free(splits);
        free(fixes);
        return semid_fail(SEMID_ENOMEM, "out of memory storing queries");
    }
    ds->queries = nq;
    int64_t counts[3] = {0, 0, 0}, n_fixes = 0;
    for (int32_t i = 0; i < ds->n_items; i++) {
        n_fixes += fixes[i];
        for (int32_t j = 0; j < n; j++) {
            size_t k = (size_t)i * n + j;
            semid_query *q = &ds->queries[keep + (int64_t)k];
            q->text = texts[k];
            q->item = i;
            q->split = splits[k];
            counts[splits[k]]++;
        }
    }
    ds->n_queries = (int32_t)total;
    free(texts);
    free(splits);
    free(fixes);
    if (stats) {
        stats->n_queries = (int64_t)ds->n_items * n;
        stats->n_train = counts[SEMID_SPLIT_TRAIN];
        stats->n_valid = counts[SEMID_SPLIT_VALID];
        stats->n_test = counts[SEMID_SPLIT_TEST];
        stats->n_title_fixes = n_fixes;
        stats->copy_share = semid_queries_copy_share(ds);
        stats->seconds = semid_now() - t0;
    }
    SEMID_INFO("querygen: %lld queries for %d items in %.2f s", (long long)((int64_t)ds->n_items * n), ds->n_items,
               semid_now() - t0);
    return SEMID_OK;
}

/* ---------------------------------------------------------------------------
 * Copies and export */

double semid_queries_copy_share(const semid_dataset *ds) {
    /* Queries grouped by item (counting sort), then each test query's word
     * set is compared with the training queries of its item. */
    int32_t ni = ds->n_items;
    int64_t *start = calloc((size_t)ni + 2, sizeof *start);
    int32_t *order = malloc((size_t)ds->n_queries * sizeof *order + 1);
    uint64_t *hash = malloc((size_t)ds->n_queries * sizeof *hash + 1);
    if (!start || !order || !hash) {
        free(start);
        free(order);
        free(hash);
        return NAN;
    }
    bool failed = false;
    for (int32_t q = 0; q < ds->n_queries && !failed; q++) {
        int32_t it = ds->queries[q].item;
        if (it < 0 || it >= ni) continue;
        start[it + 1]++;
        semid_words w;
        if (semid_tokenize(ds->queries[q].text, &w) != SEMID_OK) failed = true;
        else hash[q] = wordset_hash(w.words, w.n);
        semid_words_free(&w);
    }
    for (int32_t i = 0; i < ni; i++) start[i + 1] += start[i];
    int64_t *fill = calloc((size_t)ni + 1, sizeof *fill);
    if (!fill) failed = true;
    for (int32_t q = 0; q < ds->n_queries && !failed; q++) {
        int32_t it = ds->queries[q].item;
        if (it >= 0 && it < ni) order[start[it] + fill[it]++] = q;
    }
    int64_t n_test = 0, copies = 0;
    for (int32_t i = 0; i < ni && !failed; i++) {
        for (int64_t a = start[i]; a < start[i + 1]; a++) {
            const semid_query *qa = &ds->queries[order[a]];
            if (qa->split != SEMID_SPLIT_TEST) continue;
            n_test++;
            for (int64_t b = start[i]; b < start[i + 1]; b++) {
                const semid_query *qb = &ds->queries[order[b]];
                if (qb->split == SEMID_SPLIT_TRAIN && hash[order[b]] == hash[order[a]]) {
                    copies++;
                    break;
                }
            }
        }
    }
    free(fill);
    free(start);
    free(order);
    free(hash);
    if (failed) return NAN;
    return n_test ? (double)copies / (double)n_test : 0.0;
}

semid_status semid_queries_write_tsv(const semid_dataset *ds, const char *path) {
    static const char *const split_names[] = {"train", "valid", "test"};
    semid_atomic_file f;
    SEMID_TRY(semid_atomic_open(&f, path));
    fputs("item_id\tsplit\tquery\n", f.fp);
    for (int32_t q = 0; q < ds->n_queries; q++) {
        const semid_query *qq = &ds->queries[q];
        if (qq->item < 0 || qq->item >= ds->n_items || qq->split > SEMID_SPLIT_TEST) {
            semid_atomic_abort(&f);
            return semid_fail(SEMID_EINVAL, "query %d: item %d or split %d out of range", q, qq->item, qq->split);
        }
        /* Tabs and line breaks inside a query would break the row. */
        fprintf(f.fp, "%s\t%s\t", ds->items[qq->item].id, split_names[qq->split]);
        for (const char *c = qq->text; *c; c++) fputc(*c == '\t' || *c == '\n' || *c == '\r' ? ' ' : *c, f.fp);
        fputc('\n', f.fp);
    }
    return semid_atomic_commit(&f);
}
