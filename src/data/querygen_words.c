/* The query generator's word lists (querygen_impl.h): review vocabulary,
 * names, articles, genres and synonyms, and the lookups in them. */
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/querygen_impl.h"
#include "data/synth_words.h"
#include "text/tokenize.h"

int qg_cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_sorted(const char *const *list, size_t n, const char *w) {
    return bsearch(&w, list, n, sizeof(*list), qg_cmp_cstr) != NULL;
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

bool qg_is_first_name(const char *w) {
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

/* How people ask for each genre (querygen_impl.h). */
static const qg_genre_forms k_genres[] = {
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

const char *qg_synonym_of(const char *w) {
    const synonym *s = bsearch(&w, k_synonyms, sizeof(k_synonyms) / sizeof(k_synonyms[0]), sizeof(synonym),
                               cmp_synonym);
    return s ? s->alt : NULL;
}

/* Words that mark a sentence about other works: blurbs end with the cast's
 * other films and recommendations ("Fans of this film might also enjoy
 * ..."), whose words and titles say nothing about this item. Sorted. */
static const char *const k_reference_words[] = {
    "appeared", "appreciate", "career",   "careers",  "enjoy",    "fans",        "filmography", "films",
    "known",    "movies",     "previous", "recommend", "recommended", "similar", "similarly",  "works",
};

bool qg_is_meta_word(const char *w) {
    return IN_LIST(k_meta_words, w);
}

bool qg_is_not_name_word(const char *w) {
    return IN_LIST(k_not_name_words, w);
}

bool qg_is_title_article(const char *w) {
    return IN_LIST(k_articles, w);
}

bool qg_is_reference_word(const char *w) {
    return IN_LIST(k_reference_words, w);
}

const qg_genre_forms *qg_genre_by_key(const char *key) {
    for (size_t g = 0; g < sizeof k_genres / sizeof k_genres[0]; g++)
        if (strcmp(k_genres[g].key, key) == 0) return &k_genres[g];
    return NULL;
}

/* A content word that may become a keyword (any item). */
bool qg_is_candidate_word(const char *w) {
    size_t n = strlen(w);
    if (n < 3 || semid_is_stopword(w) || qg_is_meta_word(w)) return false;
    for (size_t i = 0; i < n; i++)
        if (!(w[i] >= '0' && w[i] <= '9')) return true;
    return false; /* all digits: a year */
}

/* A word of any genre's forms ("science", "fiction", "comedy"): capitalised
 * genre names in a blurb are not people. */
bool qg_is_any_genre_word(const char *w) {
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

#ifndef NDEBUG
/* The word lists are searched with bsearch: an entry added out of order
 * would silently never match. Checked in debug builds (the tests). */
static void check_sorted(const char *const *list, size_t n) {
    for (size_t i = 1; i < n; i++) SEMID_ASSERT(strcmp(list[i - 1], list[i]) < 0);
}
#define CHECK_SORTED(list) check_sorted((list), sizeof(list) / sizeof((list)[0]))

void qg_check_word_lists(void) {
    CHECK_SORTED(k_meta_words);
    CHECK_SORTED(k_not_name_words);
    CHECK_SORTED(k_first_names);
    CHECK_SORTED(k_articles);
    CHECK_SORTED(k_reference_words);
    for (size_t i = 1; i < sizeof k_synonyms / sizeof k_synonyms[0]; i++)
        SEMID_ASSERT(strcmp(k_synonyms[i - 1].word, k_synonyms[i].word) < 0);
}
#endif
