/* The allocation-failure sweep of issue 13, in the manner of SQLite's
 * malloc tests. Each path below runs once to count its allocations K, then
 * K more times, run N with its Nth allocation failing:
 *   import    generic TSV files made from the synthetic catalog, saved
 *             (.sdd) and loaded back; ml-1m, ml-100k, ml-csv, recbole:
 *             the other importers on small files of each format
 *   synth     a synthetic catalog, and queries generated for a small one
 *   embed     content, ENMF and text-encoder embeddings, saved, loaded,
 *             aligned, fused, searched; a text encoder saved and loaded
 *   ids       an RQ-KMeans ID table, saved, exported, loaded; cold start;
 *             a quantizer alone
 *   quant     RQ-VAE, RLFQ, dictionary and prefix-share tokenizers (small
 *             networks, internal API), separate IDs for two embeddings
 *   train     a tiny model trained 2 steps into a directory holding an
 *             older bundle; resume: a run stopped after a step, resumed
 *   load      the bundle loaded; decode: search, recommendation,
 *             evaluation, diverse beam search
 *   report    an experiment's results compared and written (results.json,
 *             report.md, the SVG plot, the text table), a stage's cached
 *             evaluation saved and read back; config: an
 *             experiment's configuration (preset, JSON, overrides) and the
 *             cache keys of its stages
 *   serve     the server's request parser (search with a history,
 *             recommend) and its JSON answers
 * (SQLite's loop: N goes on until a run ends before its Nth allocation.)
 * Every failed run must return SEMID_ENOMEM with a message naming memory,
 * free everything it allocated (the live blocks of tests/support/alloc_fail
 * return to where they were; under ASan LeakSanitizer checks again at exit)
 * and leave no partial output: a file it writes holds its previous bytes or
 * the complete new ones, a bundle is never half replaced, no temporary file
 * stays, the caller's arrays are untouched or complete. A run whose failed
 * allocation was optional may succeed, but then with the first run's output;
 * the summary counts those. Builds without ASan sweep every path a second
 * time failing every allocation from the Nth on (error paths that allocate).
 *
 * The test is linked with --wrap for malloc, calloc, realloc, free, strdup
 * and strndup (CMakeLists.txt), so only semid's allocations (and cJSON's,
 * through cJSON_InitHooks) are counted and failed. Everything runs on one
 * thread, so the Nth allocation is the same one in every run.
 *
 * Debugging: SEMID_ALLOC_PATH=name sweeps one path, SEMID_ALLOC_N=n runs
 * only its nth run, SEMID_ALLOC_PERSIST=0 or 1 one mode,
 * SEMID_ALLOC_KEEP_GOING=1 reports every finding instead of stopping at the
 * first, SEMID_ALLOC_VERBOSE=1 names the runs that succeeded, and
 * SEMID_ALLOC_WATCH=k calls alloc_fail_watched() at allocation k (a
 * breakpoint there shows where a leaked block was allocated; one on
 * alloc_fail_fired where the failed one was). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/status.h"
#include "embed/text_encoder.h"
#include "exp/cache.h"
#include "exp/config.h"
#include "exp/results.h"
#include "exp/stages.h"
#include "quant/prefix_share.h"
#include "quant/rlfq.h"
#include "quant/rqvae.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"
#include "serve/request.h"
#include "serve/response.h"
#include "support/alloc_fail/alloc_fail.h"
#include "support/testutil.h"

#define OK(expr)                                                                                        \
    do {                                                                                                \
        semid_status st_ = (expr);                                                                      \
        if (st_ != SEMID_OK) fail_msg("%s: %s: %s", #expr, semid_status_name(st_), semid_last_error()); \
    } while (0)

/* Stops a path at its first failure (the run returns it). */
#define STEP(expr)                            \
    do {                                      \
        if (st == SEMID_OK) st = (expr);      \
    } while (0)

static char *work;     /* everything the test writes */
static semid_data *ds; /* the tiny synthetic catalog the paths share */
static semid_ids *ids; /* its ID table (training) */
static char *model_dir;
static semid_model *model; /* trained in setup (decoding) */

static char *path_in(const char *name) {
    size_t n = strlen(work) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", work, name);
    return p;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A finding: fails the test, or with SEMID_ALLOC_KEEP_GOING=1 is printed
 * and counted, and the sweep goes on (to see every finding at once). */
static int64_t n_bad;

static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bad(const char *fmt, ...) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *k = getenv("SEMID_ALLOC_KEEP_GOING");
    if (!k || !*k || *k == '0') fail_msg("%s", msg);
    fprintf(stderr, "FINDING: %s\n", msg);
    n_bad++;
}

/* ---- files ---- */

static char *read_all(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    fclose(fp);
    *len = n;
    return buf;
}

static void write_all(const char *path, const char *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* A file's expected bytes: absent (data NULL) or these. */
typedef struct file_state {
    char *data;
    size_t len;
} file_state;

static void file_state_take(file_state *f, const char *path) {
    free(f->data);
    f->data = read_all(path, &f->len);
}

static void file_state_put(const file_state *f, const char *path) {
    if (f->data) write_all(path, f->data, f->len);
    else unlink(path);
}

static void file_state_check(const file_state *f, const char *path, const char *path_name, int64_t n) {
    size_t len = 0;
    char *now_data = read_all(path, &len);
    if (!f->data && now_data) bad("%s run %lld: %s appeared", path_name, (long long)n, path);
    if (f->data && !now_data) bad("%s run %lld: %s disappeared", path_name, (long long)n, path);
    if (f->data && (len != f->len || memcmp(now_data, f->data, len) != 0))
        bad("%s run %lld: %s changed (%zu bytes, expected %zu)", path_name, (long long)n, path, len, f->len);
    free(now_data);
}

/* Fails on a temporary file (NAME.tmp.PID) left in dir or one level below. */
static void check_no_temp(const char *dir, const char *path_name, int64_t n, int depth) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (strstr(e->d_name, ".tmp.")) bad("%s run %lld: temporary file %s/%s left", path_name, (long long)n, dir, e->d_name);
        if (depth > 0) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            struct stat st;
            if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) check_no_temp(sub, path_name, n, depth - 1);
        }
    }
    closedir(d);
}

static void rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        assert_non_null(d);
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static FILE *open_in(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    return fp;
}

static int path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- the sweep ---- */

typedef struct sweep_path {
    const char *name;
    semid_status (*run)(void);
    void (*reset)(void);                 /* before every run: the previous output in place (NULL: none) */
    void (*check_failed)(int64_t n);     /* after a failed run: nothing partial (NULL: nothing to check) */
    void (*check_ok)(int64_t n, int first); /* after a run that succeeded (first: the counting run) */
} sweep_path;

typedef struct sweep_result {
    const char *name;
    int persist;       /* every allocation from the Nth on failed */
    int64_t k;         /* allocations of one run */
    int64_t runs;      /* runs with a failure */
    int64_t tolerated; /* of which succeeded (an optional allocation) */
    double seconds, cpu_seconds;
} sweep_result;

enum { MAX_RESULTS = 32 };
static sweep_result results[MAX_RESULTS];
static int n_results;

static int64_t env_int(const char *name, int64_t dflt) {
    const char *v = getenv(name);
    return v && *v ? strtoll(v, NULL, 10) : dflt;
}

/* One run with the nth allocation failing (0: none); *fired: whether it
 * did (the run made at least n allocations). */
static semid_status run_once(const sweep_path *p, int64_t n, int persist, int64_t *count, int *fired) {
    if (p->reset) p->reset();
    uint64_t mark = alloc_fail_mark();
    int64_t live = alloc_fail_live();
    semid_clear_error();
    alloc_fail_arm(n, persist);
    semid_status st = p->run();
    alloc_fail_disarm();
    *count = alloc_fail_count();
    int64_t failures = alloc_fail_failures();
    int64_t left = alloc_fail_live() - live;
    if (left != 0) {
        fprintf(stderr, "%s run %lld: %lld blocks leaked:\n", p->name, (long long)n, (long long)left);
        alloc_fail_report_since(mark, 10);
        bad("%s run %lld (%s): %lld blocks leaked", p->name, (long long)n, semid_status_name(st), (long long)left);
    }
    *fired = failures > 0;
    return st;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One sweep of a path: persist = 0 fails the Nth allocation alone, 1
 * every allocation from the Nth on (error paths that allocate fail too). */
static void sweep_mode(const sweep_path *p, int persist) {
    double t0 = now(), c0 = cpu_now();
    n_bad = 0;
    int64_t k = 0;
    int fired = 0;
    semid_status st = run_once(p, 0, persist, &k, &fired);
    if (st != SEMID_OK) fail_msg("%s: the run without failure: %s: %s", p->name, semid_status_name(st), semid_last_error());
    if (p->check_ok) p->check_ok(0, 1);
    /* N goes on until a run ends before its Nth allocation, as SQLite's
     * loop does: a path whose count varies a little (train.json records
     * times, and printing a longer number can take one more allocation)
     * is still swept to its end. */
    int64_t only = env_int("SEMID_ALLOC_N", 0);
    sweep_result r = {.name = p->name, .persist = persist, .k = k};
    for (int64_t n = only > 0 ? only : 1;; n++) {
        int64_t count = 0;
        st = run_once(p, n, persist, &count, &fired);
        if (!fired) {
            if (st != SEMID_OK)
                bad("%s run %lld: %s without a failed allocation: %s", p->name, (long long)n, semid_status_name(st),
                    semid_last_error());
            if (n < k - 8 || n > k + 8)
                bad("%s: run %lld made %lld allocations, the first %lld", p->name, (long long)n, (long long)count,
                    (long long)k);
            break;
        }
        r.runs++;
        if (st == SEMID_OK) {
            r.tolerated++;
            if (p->check_ok) p->check_ok(n, 0);
            if (getenv("SEMID_ALLOC_VERBOSE")) fprintf(stderr, "%s run %lld: succeeded\n", p->name, (long long)n);
        } else {
            if (st != SEMID_ENOMEM)
                bad("%s run %lld of %lld: %s, not ENOMEM: %s", p->name, (long long)n, (long long)k, semid_status_name(st),
                    semid_last_error());
            if (!strstr(semid_last_error(), "memory"))
                bad("%s run %lld: ENOMEM with the message '%s'", p->name, (long long)n, semid_last_error());
            if (p->check_failed) p->check_failed(n);
        }
        if (only > 0) break;
    }
    r.seconds = now() - t0;
    r.cpu_seconds = cpu_now() - c0;
    if (n_bad > 0) fail_msg("%s: %lld findings", p->name, (long long)n_bad);
    printf("[alloc sweep] %-7s %-7s K = %5lld allocations, %5lld runs, %lld succeeded despite the failure, %6.2f s (CPU %.2f s)\n",
           r.name, persist ? "persist" : "once", (long long)r.k, (long long)r.runs, (long long)r.tolerated, r.seconds,
           r.cpu_seconds);
    fflush(stdout);
    if (n_results < MAX_RESULTS) results[n_results++] = r;
}

/* Each path fails its Nth allocation alone; in builds without ASan (where
 * it is quick) also every allocation from the Nth on. SEMID_ALLOC_PERSIST
 * = 0 or 1 picks one. */
static void sweep(const sweep_path *p) {
    const char *only = getenv("SEMID_ALLOC_PATH");
    if (only && *only && strcmp(only, p->name) != 0) return;
    alloc_fail_watch(env_int("SEMID_ALLOC_WATCH", 0));
    int64_t mode = env_int("SEMID_ALLOC_PERSIST", -1);
#ifdef __SANITIZE_ADDRESS__
    int both = 0;
#else
    int both = 1;
#endif
    if (mode != 1) sweep_mode(p, 0);
    if (mode == 1 || (mode < 0 && both)) sweep_mode(p, 1);
}

/* An output file of a path: before every run it holds `old`; a run that
 * fails may leave it as it was or complete (the call that wrote it
 * succeeded before a later one failed), never anything else. */
typedef struct out_file {
    char *path;
    file_state old, done; /* done: the counting run's bytes */
} out_file;

static void out_init(out_file *f, const char *name, const char *old_text) {
    f->path = path_in(name);
    f->old.data = old_text ? strdup(old_text) : NULL;
    f->old.len = old_text ? strlen(old_text) : 0;
}

static void out_free(out_file *f) {
    free(f->path);
    free(f->old.data);
    free(f->done.data);
}

static void out_reset(out_file *f) { file_state_put(&f->old, f->path); }

/* 0: as before, 1: complete. */
static int out_check_failed(const out_file *f, const char *path_name, int64_t n) {
    size_t len = 0;
    char *data = read_all(f->path, &len);
    int as_old = f->old.data ? data && len == f->old.len && memcmp(data, f->old.data, len) == 0 : !data;
    int as_done = data && f->done.data && len == f->done.len && memcmp(data, f->done.data, len) == 0;
    free(data);
    if (!as_old && !as_done)
        bad("%s run %lld: %s is neither its previous version nor the complete new one", path_name, (long long)n, f->path);
    return as_done && !as_old;
}

static void out_check_ok(out_file *f, const char *path_name, int64_t n, int first) {
    if (first) {
        file_state_take(&f->done, f->path);
        if (!f->done.data) bad("%s: %s not written", path_name, f->path);
    } else {
        file_state_check(&f->done, f->path, path_name, n);
    }
}

/* ---- path: import (generic TSV files made from the synthetic catalog) ---- */

static char *import_dir;
static out_file import_sdd;

static void write_import_files(void) {
    import_dir = path_in("import");
    assert_int_equal(mkdir(import_dir, 0777), 0);
    FILE *it = open_in(import_dir, "items.tsv"), *de = open_in(import_dir, "descriptions.tsv");
    FILE *in = open_in(import_dir, "interactions.tsv"), *qu = open_in(import_dir, "queries.tsv");
    fprintf(it, "item_id\ttitle\tyear\tgenres\n");
    fprintf(de, "item_id\tdescription\n");
    fprintf(in, "user_id\titem_id\ttimestamp\trating\n");
    fprintf(qu, "item_id\tsplit\tquery\n");
    for (int32_t i = 0; i < semid_data_n_items(ds); i++) {
        fprintf(it, "%s\t%s\t%d\t%s\n", semid_data_item_id(ds, i), semid_data_item_title(ds, i), semid_data_item_year(ds, i),
                semid_data_item_genres(ds, i));
        fprintf(de, "%s\t%s\n", semid_data_item_id(ds, i), semid_data_item_description(ds, i));
    }
    int64_t t = 0;
    for (int32_t u = 0; u < semid_data_n_users(ds); u++) {
        int64_t len = 0;
        const int32_t *h = semid_data_user_items(ds, u, &len);
        for (int64_t j = 0; j < len; j++, t++)
            fprintf(in, "%s\t%s\t%lld\t%d\n", semid_data_user_id(ds, u), semid_data_item_id(ds, h[j]), (long long)t,
                    (int)(1 + t % 5));
    }
    static const char *const split_name[] = {"train", "valid", "test"};
    for (int32_t q = 0; q < semid_data_n_queries(ds); q++) {
        int32_t item = 0, split = 0;
        const char *text = semid_data_query(ds, q, &item, &split);
        fprintf(qu, "%s\t%s\t%s\n", semid_data_item_id(ds, item), split_name[split], text);
    }
    fclose(it);
    fclose(de);
    fclose(in);
    fclose(qu);
    out_init(&import_sdd, "imported.sdd", "the dataset before\n");
}

static semid_status run_import(void) {
    semid_import_opts o = semid_import_opts_default();
    o.user_core = 2;
    o.min_rating = 2;
    semid_data *d = NULL, *back = NULL;
    semid_status st = semid_data_import(import_dir, &o, &d);
    STEP(semid_data_save(d, import_sdd.path));
    STEP(semid_data_load(import_sdd.path, &back));
    if (st == SEMID_OK && (semid_data_n_items(back) != semid_data_n_items(d) || semid_data_n_queries(back) == 0))
        st = semid_fail(SEMID_EINTERNAL, "import: the saved dataset differs");
    semid_data_free(d);
    semid_data_free(back);
    return st;
}

static void reset_import(void) { out_reset(&import_sdd); }

static void check_import_failed(int64_t n) {
    out_check_failed(&import_sdd, "import", n);
    check_no_temp(work, "import", n, 0);
}

static void check_import_ok(int64_t n, int first) { out_check_ok(&import_sdd, "import", n, first); }

/* ---- paths: the other importers (MovieLens 1M, 100K and CSV, RecBole) ---- */

enum { FMT_ITEMS = 12 }; /* the catalog's first items */
static char *fmt_dir[4];
static const char *const fmt_name[4] = {"ml-1m", "ml-100k", "ml-csv", "recbole"};

/* Every user's interactions with the first FMT_ITEMS items, as
 * "user<sep>item<sep>rating<sep>time" lines. */
static void put_ratings(FILE *fp, const char *sep) {
    int64_t t = 1000;
    for (int32_t u = 0; u < semid_data_n_users(ds); u++) {
        int64_t len = 0;
        const int32_t *h = semid_data_user_items(ds, u, &len);
        for (int64_t j = 0; j < len; j++, t++)
            if (h[j] < FMT_ITEMS)
                fprintf(fp, "%d%s%d%s%d%s%lld\n", u + 1, sep, h[j] + 1, sep, (int)(1 + t % 5), sep, (long long)t);
    }
}

static void write_format_files(void) {
    static const char *const dirs[4] = {"ml1m", "ml100k", "mlcsv", "recbole"};
    for (int f = 0; f < 4; f++) {
        fmt_dir[f] = path_in(dirs[f]);
        assert_int_equal(mkdir(fmt_dir[f], 0777), 0);
    }
    /* MovieLens 1M: a Latin-1 title (read as Latin-1, converted). */
    FILE *mv = open_in(fmt_dir[0], "movies.dat"), *ra = open_in(fmt_dir[0], "ratings.dat");
    for (int32_t i = 0; i < FMT_ITEMS; i++)
        fprintf(mv, "%d::%s%s (%d)::%s\n", i + 1, semid_data_item_title(ds, i), i == 3 ? " Caf\xe9" : "",
                1950 + i, "Comedy|Drama");
    put_ratings(ra, "::");
    fclose(mv);
    fclose(ra);
    /* MovieLens 100K. */
    FILE *ui = open_in(fmt_dir[1], "u.item"), *ud = open_in(fmt_dir[1], "u.data");
    for (int32_t i = 0; i < FMT_ITEMS; i++) {
        fprintf(ui, "%d|%s (%d)|01-Jan-%d||http://example.org/%d", i + 1, semid_data_item_title(ds, i), 1960 + i,
                1960 + i, i);
        for (int g = 0; g < 19; g++) fprintf(ui, "|%d", g == 1 + i % 18 || g == 5);
        fprintf(ui, "\n");
    }
    put_ratings(ud, "\t");
    fclose(ui);
    fclose(ud);
    /* MovieLens CSV: quoted titles, tags, one malformed line (read leniently). */
    FILE *mc = open_in(fmt_dir[2], "movies.csv"), *rc = open_in(fmt_dir[2], "ratings.csv"),
         *tc = open_in(fmt_dir[2], "tags.csv");
    fprintf(mc, "movieId,title,genres\n");
    for (int32_t i = 0; i < FMT_ITEMS; i++)
        fprintf(mc, "%d,\"%s, \"\"The\"\" (%d)\",%s\n", i + 1, semid_data_item_title(ds, i), 1970 + i,
                i % 4 ? "Action|Sci-Fi" : "(no genres listed)");
    fprintf(mc, "99,\"unterminated\n");
    fprintf(rc, "userId,movieId,rating,timestamp\n");
    put_ratings(rc, ",");
    fprintf(tc, "userId,movieId,tag,timestamp\n");
    for (int32_t i = 0; i < FMT_ITEMS; i++) fprintf(tc, "1,%d,good %d,5\n2,%d,\"dark, slow\",6\n", i + 1, i % 3, i + 1);
    fclose(mc);
    fclose(rc);
    fclose(tc);
    /* RecBole atomic files. */
    FILE *ri = open_in(fmt_dir[3], "tiny.inter"), *rt = open_in(fmt_dir[3], "tiny.item");
    fprintf(ri, "user_id:token\titem_id:token\trating:float\ttimestamp:float\n");
    put_ratings(ri, "\t");
    fprintf(rt, "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n");
    for (int32_t i = 0; i < FMT_ITEMS; i++)
        fprintf(rt, "%d\t%s\t%d\tAction Comedy\n", i + 1, semid_data_item_title(ds, i), 1980 + i);
    fclose(ri);
    fclose(rt);
}

static semid_status import_format(int f) {
    semid_import_opts o = semid_import_opts_default();
    o.format = fmt_name[f];
    o.lenient = f == 2;
    o.item_core = 1;
    semid_data *d = NULL;
    semid_status st = semid_data_import(fmt_dir[f], &o, &d);
    if (st == SEMID_OK && semid_data_n_items(d) < FMT_ITEMS / 2)
        st = semid_fail(SEMID_EINTERNAL, "%s: %d items", fmt_name[f], semid_data_n_items(d));
    semid_data_free(d);
    return st;
}

static semid_status run_ml1m(void) { return import_format(0); }
static semid_status run_ml100k(void) { return import_format(1); }
static semid_status run_mlcsv(void) { return import_format(2); }
static semid_status run_recbole(void) { return import_format(3); }

/* ---- path: the synthetic catalog and generated queries ---- */

static int32_t synth_counts[4];
static char *small_sdd; /* the small catalog, saved */

static semid_status run_synth(void) {
    semid_synth_opts so = semid_synth_opts_default();
    so.n_items = 10; /* the least synth takes */
    so.n_users = 10;
    so.mean_history = 4;
    so.min_history = 3;
    so.n_topics = 3;
    so.queries_per_item = 0; /* generated below, on shorter texts */
    so.queries_train = 0;
    so.seed = 3;
    semid_data *d = NULL, *s = NULL;
    semid_status st = semid_data_synth(&so, &d);
    semid_query_opts qo = semid_query_opts_default();
    qo.per_item = 2;
    qo.train = 1;
    qo.append = 1;
    qo.seed = 5;
    STEP(semid_data_load(small_sdd, &s));
    STEP(semid_data_make_queries(s, &qo));
    if (st == SEMID_OK) {
        int32_t c[4] = {semid_data_n_items(d), semid_data_n_users(d), (int32_t)semid_data_n_interactions(d),
                        semid_data_n_queries(s)};
        memcpy(synth_counts, c, sizeof c);
    }
    semid_data_free(d);
    semid_data_free(s);
    return st;
}

static void check_synth_ok(int64_t n, int first) {
    static int32_t want[4];
    if (first) memcpy(want, synth_counts, sizeof want);
    else if (memcmp(want, synth_counts, sizeof want) != 0) bad("synth run %lld: another catalog", (long long)n);
}

/* ---- path: ID build (embeddings of our own, an RQ-KMeans tokenizer, the table) ---- */

enum { EMB_DIM = 8 };
static out_file ids_sid, ids_tsv, quant_file;

static semid_status make_embeddings(const semid_data *d, semid_embeddings **out) {
    int32_t n = semid_data_n_items(d);
    float *x = malloc(sizeof(float) * (size_t)n * EMB_DIM);
    const char **names = malloc(sizeof *names * (size_t)n);
    semid_status st = x && names ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory (test)");
    if (st == SEMID_OK) {
        for (int32_t i = 0; i < n; i++) {
            names[i] = semid_data_item_id(d, i);
            for (int j = 0; j < EMB_DIM; j++) x[i * EMB_DIM + j] = sinf(1.3f * (float)i + 0.7f * (float)j * (float)(i % 3 + 1));
        }
        st = semid_embeddings_create(x, n, EMB_DIM, names, out);
    }
    free(x);
    free(names);
    return st;
}

static semid_ids_opts tiny_ids_opts(void) {
    semid_ids_opts io = semid_ids_opts_default();
    io.strategy = "content";
    io.levels = 2;
    io.codebook = 4;
    io.iters = 5;
    io.disambiguate = 1;
    io.threads = 1;
    return io;
}

static semid_status run_ids(void) {
    semid_embeddings *e = NULL;
    semid_ids *t = NULL, *back = NULL;
    semid_ids_opts io = tiny_ids_opts();
    semid_status st = make_embeddings(ds, &e);
    STEP(semid_ids_build(e, NULL, ds, &io, &t));
    STEP(semid_ids_save(t, ids_sid.path));
    STEP(semid_ids_export_tsv(t, ids_tsv.path));
    STEP(semid_ids_load(ids_sid.path, &back));
    if (st == SEMID_OK && semid_ids_fingerprint(back) != semid_ids_fingerprint(t))
        st = semid_fail(SEMID_EINTERNAL, "ids: the saved table differs");
    /* Cold start and collisions; the quantizer alone, saved and read back. */
    semid_collisions col;
    int32_t tokens[2 * 3];
    float x[2 * EMB_DIM] = {0.5f, -0.25f, 1, 0, 0.125f, 2, -1, 0.75f, 1, 1, 1, 1, -1, -1, -1, -1};
    STEP(semid_ids_collisions(t, SEMID_SEARCH, &col));
    STEP(semid_ids_encode_new(t, NULL, SEMID_SEARCH, x, 2, EMB_DIM, tokens));
    semid_quantizer_opts qo = semid_quantizer_opts_default();
    qo.levels = 2;
    qo.codebook = 4;
    qo.iters = 5;
    qo.threads = 1;
    semid_quantizer *q = NULL, *qback = NULL;
    int32_t codes[2 * 2];
    float rec[2 * EMB_DIM];
    STEP(semid_quantizer_fit(semid_embeddings_data(e), semid_embeddings_rows(e), EMB_DIM, &qo, &q));
    STEP(semid_quantizer_save(q, quant_file.path));
    STEP(semid_quantizer_load(quant_file.path, &qback));
    STEP(semid_quantizer_encode(qback, x, 2, EMB_DIM, codes));
    STEP(semid_quantizer_reconstruct(qback, codes, 2, 0, rec));
    semid_quantizer_free(q);
    semid_quantizer_free(qback);
    semid_ids_free(back);
    semid_ids_free(t);
    semid_embeddings_free(e);
    return st;
}

static void reset_ids(void) {
    out_reset(&ids_sid);
    out_reset(&ids_tsv);
    out_reset(&quant_file);
}

static void check_ids_failed(int64_t n) {
    out_check_failed(&ids_sid, "ids", n);
    out_check_failed(&ids_tsv, "ids", n);
    out_check_failed(&quant_file, "ids", n);
    check_no_temp(work, "ids", n, 0);
}

static void check_ids_ok(int64_t n, int first) {
    out_check_ok(&ids_sid, "ids", n, first);
    out_check_ok(&ids_tsv, "ids", n, first);
    out_check_ok(&quant_file, "ids", n, first);
}

/* ---- path: embeddings (content from tiny word vectors, ENMF, the text encoder), saved and read back ---- */

static char *wv_path;
static out_file emb_npy, emb_ids, enc_file;

/* A catalog of 10 items with short texts (the synthetic one's long
 * descriptions make thousands of word allocations per run), and GloVe text
 * vectors (4 wide) for most of its words. */
static semid_data *small;
static semid_ids *small_ids; /* its ID table */

static void make_small(void) {
    static const char *const titles[10] = {"Space War",  "Love Story",   "Dark City",     "Last Night",  "Family Man",
                                           "Funny Life", "City of Love", "War and Peace", "Night Space", "The Man"};
    static const char *const words[] = {"space", "war",   "love",   "story", "dark",  "city", "last", "night",
                                        "family", "man",  "funny",  "life",  "peace", "of",   "and",  "the",
                                        "comedy", "drama", "film",  "movie", "about", "a"};
    char *dir = path_in("small");
    assert_int_equal(mkdir(dir, 0777), 0);
    FILE *it = open_in(dir, "items.tsv"), *in = open_in(dir, "interactions.tsv"), *qu = open_in(dir, "queries.tsv");
    fprintf(it, "item_id\ttitle\tyear\tgenres\tdescription\n");
    fprintf(in, "user_id\titem_id\ttimestamp\n");
    fprintf(qu, "item_id\tsplit\tquery\n");
    for (int i = 0; i < 10; i++) {
        fprintf(it, "s%d\t%s\t%d\t%s\ta %s film about %s\n", i, titles[i], 1990 + i, i % 2 ? "Comedy" : "Drama",
                i % 2 ? "funny" : "dark", words[i % 12]);
        fprintf(qu, "s%d\ttrain\t%s movie\ns%d\ttest\tthe %s\n", i, words[i % 12], i, words[(i + 1) % 12]);
    }
    for (int u = 0; u < 8; u++)
        for (int j = 0; j < 4; j++) fprintf(in, "u%d\ts%d\t%d\n", u, (u + 3 * j) % 10, j);
    fclose(it);
    fclose(in);
    fclose(qu);
    OK(semid_data_import(dir, NULL, &small));
    free(dir);
    small_sdd = path_in("small.sdd");
    OK(semid_data_save(small, small_sdd));
    semid_embeddings *e = NULL;
    semid_ids_opts io = tiny_ids_opts();
    OK(make_embeddings(small, &e));
    OK(semid_ids_build(e, NULL, small, &io, &small_ids));
    semid_embeddings_free(e);
    wv_path = path_in("words.txt");
    FILE *fp = fopen(wv_path, "w");
    assert_non_null(fp);
    for (size_t i = 0; i + 2 < sizeof words / sizeof words[0]; i++)
        fprintf(fp, "%s %.3f %.3f %.3f %.3f\n", words[i], sin((double)i), cos((double)i), sin(2.0 * (double)i), 0.5);
    fclose(fp);
}

static semid_status run_embed(void) {
    semid_embed_opts o = semid_embed_opts_default();
    o.dim = 4;
    o.epochs = 1;
    o.batch = 8;
    o.threads = 1;
    o.word_vectors = wv_path;
    semid_embeddings *content = NULL, *rec = NULL, *search = NULL, *back = NULL, *aligned = NULL;
    semid_status st = semid_embed(small, "content", &o, &content);
    STEP(semid_embed(small, "rec", &o, &rec));
    STEP(semid_embed(small, "search", &o, &search));
    STEP(semid_embeddings_save(rec, emb_npy.path, emb_ids.path));
    STEP(semid_embeddings_load(emb_npy.path, emb_ids.path, &back));
    STEP(semid_embeddings_align(back, small, &aligned));
    semid_embeddings *concat = NULL, *svd = NULL;
    STEP(semid_embeddings_fuse(search, rec, "concat", &concat));
    STEP(semid_embeddings_fuse(search, rec, "svd", &svd));
    int32_t top[2 * 3];
    STEP(semid_embeddings_topk(rec, semid_embeddings_data(rec), 2, 3, 1, top, NULL));
    /* A text encoder (internal API) saved, read back, encoding. */
    static const char *const texts[] = {"space war", "a funny love story", "the dark city"};
    semid_text_encoder_config tc = semid_text_encoder_defaults();
    tc.dim_word = 4;
    tc.dim_out = 4;
    tc.n_buckets = 16;
    semid_text_encoder *enc = NULL, *enc_back = NULL;
    semid_matrix m = {0};
    STEP(semid_text_encoder_create(&tc, texts, 3, NULL, &enc));
    STEP(semid_text_encoder_save(enc, enc_file.path));
    STEP(semid_text_encoder_load(enc_file.path, &enc_back));
    STEP(semid_text_encoder_encode(enc_back, texts, 3, &m));
    semid_matrix_free(&m);
    semid_text_encoder_free(enc);
    semid_text_encoder_free(enc_back);
    semid_embeddings_free(concat);
    semid_embeddings_free(svd);
    semid_embeddings_free(content);
    semid_embeddings_free(rec);
    semid_embeddings_free(search);
    semid_embeddings_free(back);
    semid_embeddings_free(aligned);
    return st;
}

static void reset_embed(void) {
    out_reset(&emb_npy);
    out_reset(&emb_ids);
    out_reset(&enc_file);
}

static void check_embed_failed(int64_t n) {
    out_check_failed(&emb_npy, "embed", n);
    out_check_failed(&emb_ids, "embed", n);
    out_check_failed(&enc_file, "embed", n);
    check_no_temp(work, "embed", n, 0);
}

static void check_embed_ok(int64_t n, int first) {
    out_check_ok(&emb_npy, "embed", n, first);
    out_check_ok(&emb_ids, "embed", n, first);
    out_check_ok(&enc_file, "embed", n, first);
}

/* ---- path: the other tokenizers (RQ-VAE, RLFQ, dictionary, atomic IDs, prefix sharing) ----
 * Through the internal API, for networks 8 wide instead of 256 (the
 * public options have no width): fitted, saved, read back, encoding; prefix
 * sharing fitted on two embeddings; then an ID table of separate IDs for
 * two embeddings through the public API. */

static semid_status run_quant(void) {
    static const char *const methods[] = {"rqvae", "rlfq", "dict", "atomic"};
    int32_t n = semid_data_n_items(ds);
    float x[64 * EMB_DIM], y[64 * EMB_DIM];
    int32_t codes[64 * 3];
    const char *names[64];
    assert_true(n <= 64);
    for (int32_t i = 0; i < n; i++) {
        names[i] = semid_data_item_id(ds, i);
        for (int j = 0; j < EMB_DIM; j++) {
            x[i * EMB_DIM + j] = sinf(0.37f * (float)(i * EMB_DIM + j)) + (float)((i + j) % 5) * 0.1f;
            y[i * EMB_DIM + j] = cosf(0.9f * (float)i + 0.4f * (float)j);
        }
    }
    semid_matrix X = {n, EMB_DIM, x}, Y = {n, EMB_DIM, y};
    semid_rqvae_config vae = semid_rqvae_defaults();
    vae.latent_dim = 4;
    vae.hidden_dim = 8;
    vae.n_hidden = 1;
    semid_rlfq_config lfq = semid_rlfq_defaults();
    lfq.hidden_dim = 8;
    lfq.n_hidden = 1;
    semid_prefix_share_config psq = semid_prefix_share_defaults();
    psq.latent_dim = 4;
    psq.hidden_dim = 8;
    psq.n_hidden = 1;
    const void *method_config[] = {&vae, &lfq, NULL, NULL};
    semid_status st = SEMID_OK;
    for (int m = 0; m < 4 && st == SEMID_OK; m++) {
        semid_tokenizer_config tc = semid_tokenizer_defaults();
        tc.method = methods[m];
        tc.levels = 2;
        tc.codebook_size = 4;
        tc.iters = 2;
        tc.threads = 1;
        tc.method_config = method_config[m];
        semid_tokenizer *tok = NULL, *back = NULL;
        st = semid_tokenizer_fit(&X, &tc, &tok);
        STEP(semid_tokenizer_save(tok, quant_file.path));
        STEP(semid_tokenizer_load(quant_file.path, &back));
        STEP(semid_tokenizer_encode(back, &X, codes));
        semid_tokenizer_free(tok);
        semid_tokenizer_free(back);
    }
    semid_tokenizer_config tc = semid_tokenizer_defaults();
    tc.levels = 2;
    tc.codebook_size = 4;
    tc.iters = 2;
    tc.threads = 1;
    tc.method_config = &psq;
    semid_prefix_share_codes pc;
    memset(&pc, 0, sizeof pc);
    STEP(semid_prefix_share_tokenize(&X, &Y, &tc, &pc));
    semid_prefix_share_codes_free(&pc);
    /* Separate IDs: one RQ-KMeans per task. */
    semid_embeddings *e = NULL, *r = NULL;
    semid_ids *t = NULL;
    semid_ids_opts io = tiny_ids_opts();
    io.strategy = "separate";
    STEP(semid_embeddings_create(x, n, EMB_DIM, names, &e));
    STEP(semid_embeddings_create(y, n, EMB_DIM, names, &r));
    STEP(semid_ids_build(e, r, ds, &io, &t));
    semid_ids_free(t);
    semid_embeddings_free(e);
    semid_embeddings_free(r);
    return st;
}

static void reset_quant(void) { out_reset(&quant_file); }

static void check_quant_failed(int64_t n) {
    /* Three methods write the file in turn: only temporary files are checked. */
    check_no_temp(work, "quant", n, 0);
}

/* ---- path: training a tiny model a few steps into a directory holding an older bundle ---- */

static const char *const BUNDLE[] = {"idtable.sid", "items.jsonl", "model.safetensors", "train.json"};
enum { N_BUNDLE = 4 };
static char *train_dir;
static out_file train_files[N_BUNDLE];

static semid_train_opts tiny_train_opts(void) {
    semid_train_opts o = semid_train_opts_default();
    o.layers = 1;
    o.heads = 1;
    o.dim = 8;
    o.history_window = 3;
    o.epochs = 1;
    o.max_steps = 2;
    o.batch = 4;
    o.valid_sample = 2;
    o.valid_k = 2;
    o.threads = 1;
    return o;
}

static semid_status run_train(void) {
    semid_train_opts o = tiny_train_opts();
    o.word_vectors = wv_path; /* query words start from word vectors */
    semid_trainer *t = NULL;
    semid_train_report rep;
    semid_status st = semid_trainer_create(ds, ids, train_dir, &o, &t);
    STEP(semid_trainer_run(t, 0, &rep));
    if (st == SEMID_OK && (rep.steps != 2 || !semid_trainer_done(t)))
        st = semid_fail(SEMID_EINTERNAL, "train: %lld steps", (long long)rep.steps);
    semid_trainer_free(t);
    return st;
}

static void reset_train(void) {
    char p[4096];
    snprintf(p, sizeof p, "%s/.staging", train_dir);
    rm_tree(p);
    snprintf(p, sizeof p, "%s/resume.safetensors", train_dir);
    unlink(p);
    for (int i = 0; i < N_BUNDLE; i++) out_reset(&train_files[i]);
}

static void check_train_failed(int64_t n) {
    /* The bundle is the old one or the new one, never a mix; train.json
     * (which records times) is new when it is not the old one. */
    int fresh = 0;
    for (int i = 0; i < N_BUNDLE; i++) {
        size_t len = 0;
        char *data = read_all(train_files[i].path, &len);
        int as_old = data && len == train_files[i].old.len && memcmp(data, train_files[i].old.data, len) == 0;
        free(data);
        if (i < N_BUNDLE - 1) fresh += out_check_failed(&train_files[i], "train", n);
        else fresh += !as_old;
    }
    if (fresh != 0 && fresh != N_BUNDLE)
        bad("train run %lld: %d of the %d bundle files replaced", (long long)n, fresh, N_BUNDLE);
    check_no_temp(train_dir, "train", n, 1);
}

static void check_train_ok(int64_t n, int first) {
    for (int i = 0; i < N_BUNDLE - 1; i++) out_check_ok(&train_files[i], "train", n, first);
    check_no_temp(train_dir, "train", n, 1);
}

/* ---- path: training in two runs (stopped after a step, then resumed) ---- */

static char *resume_dir;

static semid_status run_resume(void) {
    semid_train_opts o = tiny_train_opts();
    semid_trainer *t = NULL, *t2 = NULL;
    semid_status st = semid_trainer_create(small, small_ids, resume_dir, &o, &t);
    STEP(semid_trainer_run(t, 1, NULL));
    o.resume = 1;
    STEP(semid_trainer_create(small, small_ids, resume_dir, &o, &t2));
    STEP(semid_trainer_run(t2, 0, NULL));
    if (st == SEMID_OK && !semid_trainer_done(t2)) st = semid_fail(SEMID_EINTERNAL, "resume: not done");
    semid_trainer_free(t);
    semid_trainer_free(t2);
    return st;
}

static void reset_resume(void) { rm_tree(resume_dir); }

static void check_resume_failed(int64_t n) {
    /* Either no bundle yet, or the whole new one. */
    int present = 0;
    for (int i = 0; i < N_BUNDLE; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", resume_dir, BUNDLE[i]);
        present += path_exists(p);
    }
    if (present != 0 && present != N_BUNDLE) bad("resume run %lld: %d of the %d bundle files", (long long)n, present, N_BUNDLE);
    check_no_temp(resume_dir, "resume", n, 1);
}

/* ---- path: loading the bundle ---- */

static semid_status run_load(void) {
    semid_model *m = NULL;
    semid_status st = semid_model_load(model_dir, &m);
    if (st == SEMID_OK && semid_model_n_items(m) != semid_data_n_items(ds))
        st = semid_fail(SEMID_EINTERNAL, "load: %d items", semid_model_n_items(m));
    semid_model_free(m);
    return st;
}

/* ---- path: decoding (search, recommendation, evaluation) ---- */

enum { DEC_K = 3, DEC_Q = 3, DEC_U = 2 };
typedef struct decode_out {
    int32_t s_items[DEC_Q * DEC_K], s_hits[DEC_Q];
    float s_scores[DEC_Q * DEC_K];
    int32_t r_items[DEC_U * DEC_K], r_hits[DEC_U];
    float r_scores[DEC_U * DEC_K];
    int32_t d_items[DEC_K], d_hits[1];
    float d_scores[DEC_K];
    semid_eval_result ev;
} decode_out;
static decode_out dec, dec_done;

static semid_status run_decode(void) {
    static const char *const queries[DEC_Q] = {"space adventure", "a funny family movie", "zzyzx"};
    semid_decode_opts o = semid_decode_opts_default();
    o.k = DEC_K;
    o.beam = 4;
    o.threads = 1;
    int64_t len0 = 0, len1 = 0;
    const int32_t *h0 = semid_data_user_items(ds, 0, &len0), *h1 = semid_data_user_items(ds, 1, &len1);
    int32_t hist[64];
    int64_t offsets[DEC_U + 1] = {0, len0, len0 + len1};
    assert_true(len0 + len1 <= 64);
    memcpy(hist, h0, sizeof *hist * (size_t)len0);
    memcpy(hist + len0, h1, sizeof *hist * (size_t)len1);
    semid_status st = semid_search(model, queries, DEC_Q, &o, dec.s_items, dec.s_scores, dec.s_hits);
    STEP(semid_recommend(model, hist, offsets, DEC_U, &o, dec.r_items, dec.r_scores, dec.r_hits));
    STEP(semid_evaluate(model, ds, "test", &o, &dec.ev));
    o.diverse = 1; /* the paper's diverse beam search (60 beams in 30 groups) */
    STEP(semid_search(model, queries, 1, &o, dec.d_items, dec.d_scores, dec.d_hits));
    return st;
}

static void reset_decode(void) { memset(&dec, 0x7f, sizeof dec); }

static void check_decode_failed(int64_t n) {
    /* Each output is untouched or complete. */
    decode_out untouched;
    memset(&untouched, 0x7f, sizeof untouched);
#define PART(f)                                                                                                   \
    if (memcmp(dec.f, untouched.f, sizeof dec.f) != 0 && memcmp(dec.f, dec_done.f, sizeof dec.f) != 0)            \
        bad("decode run %lld: " #f " partly written", (long long)n);
    PART(s_items) PART(s_hits) PART(s_scores) PART(r_items) PART(r_hits) PART(r_scores) PART(d_items) PART(d_hits)
    PART(d_scores)
#undef PART
}

static void check_decode_ok(int64_t n, int first) {
    if (first) memcpy(&dec_done, &dec, sizeof dec);
    else if (memcmp(&dec, &dec_done, sizeof dec) != 0) bad("decode run %lld: other results", (long long)n);
}

/* ---- path: an experiment's results (compared, written as JSON, Markdown, SVG, text) ---- */

static out_file rep_json, rep_md, rep_svg, rep_eval;

static semid_status add_result_row(exp_results *r, exp_table table, const char *name, int gen, int shift) {
    enum { N = 12 };
    exp_row row;
    memset(&row, 0, sizeof row);
    row.table = table;
    row.generative = gen;
    snprintf(row.name, sizeof row.name, "%s", name);
    snprintf(row.label, sizeof row.label, "%s <ids>", name);
    row.n_search = row.n_rec = N;
    row.search_hits = malloc(sizeof(double) * N);
    row.rec_hits = malloc(sizeof(double) * N);
    if (!row.search_hits || !row.rec_hits) {
        free(row.search_hits);
        free(row.rec_hits);
        return semid_fail(SEMID_ENOMEM, "out of memory (test)");
    }
    double ss = 0, sr = 0;
    for (int i = 0; i < N; i++) {
        ss += row.search_hits[i] = (i + shift) % 3 != 0;
        sr += row.rec_hits[i] = (i + 2 * shift) % 4 == 0;
    }
    for (int seed = 0; seed < 2; seed++) {
        exp_metric_add(&row.search_recall, ss / N + 0.01 * seed);
        exp_metric_add(&row.rec_recall, sr / N - 0.01 * seed);
    }
    semid_status st = exp_results_add(r, &row);
    if (st != SEMID_OK) {
        free(row.search_hits);
        free(row.rec_hits);
    }
    return st;
}

static semid_status run_report(void) {
    exp_results r;
    exp_results_init(&r, 10);
    snprintf(r.dataset_summary, sizeof r.dataset_summary, "tiny");
    semid_status st = SEMID_OK;
    r.config_json = strdup("{\"preset\": \"quick\", \"seeds\": [1, 2]}");
    if (!r.config_json) st = semid_fail(SEMID_ENOMEM, "out of memory (test)");
    STEP(add_result_row(&r, EXP_TABLE_MAIN, "search", 1, 0));
    STEP(add_result_row(&r, EXP_TABLE_MAIN, "rec", 1, 1));
    STEP(add_result_row(&r, EXP_TABLE_ABLATION, "rqvae", 1, 2));
    STEP(add_result_row(&r, EXP_TABLE_REFERENCE, "popularity", 0, 3));
    STEP(exp_results_compare(&r));
    STEP(exp_results_write_json(&r, rep_json.path));
    STEP(exp_report_write_markdown(&r, rep_md.path, "plot.svg"));
    STEP(exp_plot_write_svg(&r, rep_svg.path));
    char *text = st == SEMID_OK ? exp_report_main_table_text(&r) : NULL;
    if (st == SEMID_OK && !text) st = semid_fail(SEMID_ENOMEM, "out of memory (the main table)");
    free(text);
    exp_results_free(&r);
    /* A stage's cached evaluation, saved and read back. */
    exp_eval ev, back;
    memset(&ev, 0, sizeof ev);
    memset(&back, 0, sizeof back);
    const int32_t ranked[3] = {4, 2, 7};
    STEP(semid_ranking_eval_init(&ev.search, 3, 2));
    STEP(semid_ranking_eval_init(&ev.rec, 2, 2));
    if (st == SEMID_OK) {
        for (int q = 0; q < 3; q++) semid_ranking_eval_set(&ev.search, q, ranked, 3, ranked[q], SEMID_GROUP_TORSO);
        for (int q = 0; q < 2; q++) semid_ranking_eval_set(&ev.rec, q, ranked, 3, ranked[2 - q], SEMID_GROUP_HEAD);
        ev.invalid_share = 0.25;
    }
    STEP(exp_eval_save(&ev, rep_eval.path));
    STEP(exp_eval_load(rep_eval.path, &back));
    if (st == SEMID_OK && (back.invalid_share != 0.25 || back.rec.n != 2))
        st = semid_fail(SEMID_EINTERNAL, "report: the evaluation read back differs");
    exp_eval_free(&ev);
    exp_eval_free(&back);
    return st;
}

static void reset_report(void) {
    out_reset(&rep_json);
    out_reset(&rep_md);
    out_reset(&rep_svg);
    out_reset(&rep_eval);
}

static void check_report_failed(int64_t n) {
    out_check_failed(&rep_json, "report", n);
    out_check_failed(&rep_md, "report", n);
    out_check_failed(&rep_svg, "report", n);
    out_check_failed(&rep_eval, "report", n);
    check_no_temp(work, "report", n, 0);
}

static void check_report_ok(int64_t n, int first) {
    out_check_ok(&rep_json, "report", n, first);
    out_check_ok(&rep_md, "report", n, first);
    out_check_ok(&rep_svg, "report", n, first);
    out_check_ok(&rep_eval, "report", n, first);
}

/* ---- path: an experiment's configuration (preset, JSON, overrides) and its cache keys ---- */

static char cfg_keys[5][17]; /* the stage keys a run computed */

static semid_status run_config(void) {
    exp_config cfg;
    semid_status st = exp_config_preset(&cfg, "quick");
    STEP(exp_config_apply_json(&cfg, "{\"k\": 20, \"model\": {\"layers\": 1}, \"seeds\": [1, 2],"
                                     " \"sid\": {\"strategies\": [\"content\", \"search\"]}}", "test"));
    STEP(exp_config_apply_override(&cfg, "sid.strategies=search,rec,multi"));
    STEP(exp_config_apply_override(&cfg, "model.dim=32"));
    char *json = st == SEMID_OK ? exp_config_to_json(&cfg) : NULL;
    if (st == SEMID_OK && !json) st = semid_fail(SEMID_ENOMEM, "out of memory (the configuration)");
    free(json);
    exp_key data, emb, sid, mdl, ref;
    STEP(exp_key_dataset(&cfg, &data));
    STEP(exp_key_embedding(&cfg, &data, "search", &emb));
    STEP(exp_key_sid(&cfg, &emb, "search", "rqkmeans", &sid));
    STEP(exp_key_model(&cfg, &sid, 1, &mdl));
    STEP(exp_key_reference(&cfg, &data, "popularity", &ref));
    if (st == SEMID_OK) {
        const exp_key *keys[5] = {&data, &emb, &sid, &mdl, &ref};
        for (int i = 0; i < 5; i++) snprintf(cfg_keys[i], sizeof cfg_keys[i], "%.16s", keys[i]->hex);
    }
    return st;
}

/* A run that succeeds computes the same keys (a key of a partial
 * configuration would make a stage reuse another's cached results). */
static void check_config_ok(int64_t n, int first) {
    static char want[5][17];
    if (first) memcpy(want, cfg_keys, sizeof want);
    else if (memcmp(want, cfg_keys, sizeof want) != 0) bad("config run %lld: other cache keys", (long long)n);
}

/* ---- path: the server's requests and answers (parsing, the JSON written back) ---- */

static const char *const srv_ids[4] = {"10", "11", "12", "13"};
static const char *const srv_titles[4] = {"Space War", "Love \"Story\"", "Caf\xC3\xA9", "Night"};
static const char *const srv_genres[4] = {"Drama,War", "", "Comedy", "Horror"};
static char srv_out[16384]; /* the answers of a run, concatenated */
static size_t srv_len;

static int32_t srv_lookup(const char *id, void *user) {
    (void)user;
    for (int i = 0; i < 4; i++)
        if (strcmp(id, srv_ids[i]) == 0) return i;
    return -1;
}

/* Appends (and frees) an answer of the server's JSON writers (NULL: out of memory). */
static semid_status srv_take(char *json, const char *what) {
    if (!json) return semid_fail(SEMID_ENOMEM, "out of memory (%s returned NULL)", what);
    size_t b = strlen(json);
    assert_true(srv_len + b + 2 <= sizeof srv_out);
    memcpy(srv_out + srv_len, json, b);
    srv_len += b;
    srv_out[srv_len++] = '\n';
    srv_out[srv_len] = '\0';
    free(json);
    return SEMID_OK;
}

static semid_status srv_parse(semid_serve_kind kind, const char *body, semid_serve_request *req) {
    semid_serve_error err;
    memset(&err, 0, sizeof err);
    semid_status st = semid_serve_request_parse(kind, body, strlen(body), srv_lookup, NULL, req, &err);
    if (st == SEMID_ENOMEM && err.http_status != 500)
        return semid_fail(SEMID_EINTERNAL, "serve: out of memory answered %d, not 500", err.http_status);
    if (st == SEMID_OK && req->n_entries < 1) return semid_fail(SEMID_EINTERNAL, "serve: no entries");
    return st;
}

static semid_status run_serve(void) {
    srv_len = 0;
    srv_out[0] = '\0';
    static const int32_t years[4] = {1990, 0, 2001, 1975};
    static const int64_t pop[4] = {5, 9, 1, 7};
    static const int32_t sid_s[4 * 2] = {0, 1, 1, 0, 2, 3, 3, 2}, sid_r[4 * 2] = {1, 1, 0, 2, 3, 0, 2, 2};
    semid_serve_catalog cat = {.n_items = 4, .ids = srv_ids, .titles = srv_titles, .years = years,
                               .genres = srv_genres, .popularity = pop, .sid = {sid_s, sid_r}, .n_levels = {2, 2}};
    semid_serve_request search, rec;
    memset(&search, 0, sizeof search);
    memset(&rec, 0, sizeof rec);
    semid_status st = srv_parse(SEMID_SERVE_SEARCH,
                                "{\"queries\": [\"space war\", \"caf\\u00e9 love\"], \"k\": 3, \"beam\": 2,"
                                " \"history\": [\"10\", 12], \"history_weight\": 0.25}",
                                &search);
    STEP(srv_parse(SEMID_SERVE_RECOMMEND, "{\"histories\": [[\"10\", \"11\"], [\"13\"]], \"keep_history\": true}", &rec));
    static const int32_t items[2 * 3] = {0, 2, -1, 1, 3, 0};
    static const float scores[2 * 3] = {-0.5f, -1.25f, 0, -0.1f, -2, -3};
    static const int32_t n_hits[2] = {2, 3}, n_invalid[2] = {0, 1}, n_unknown[2] = {0, 1};
    semid_serve_hits hits = {.n = 2, .k = 3, .items = items, .scores = scores, .n_hits = n_hits,
                             .n_invalid = n_invalid, .n_unknown = n_unknown};
    if (st == SEMID_OK) st = srv_take(semid_serve_results_json(&cat, SEMID_SERVE_SEARCH, &hits, 1, "v1", 1.5), "results");
    if (st == SEMID_OK) st = srv_take(semid_serve_results_json(&cat, SEMID_SERVE_RECOMMEND, &hits, 0, "v1", 2), "results");
    if (st == SEMID_OK) st = srv_take(semid_serve_item_json(&cat, 2), "item");
    int32_t idx[4];
    int32_t n = semid_serve_typeahead(srv_titles, pop, 4, "s", 4, idx);
    if (st == SEMID_OK) st = srv_take(semid_serve_typeahead_json(&cat, idx, n), "typeahead");
    if (st == SEMID_OK) st = srv_take(semid_serve_health_json("v1", 4), "health");
    semid_serve_error err;
    semid_serve_error_set(&err, 400, "queries[1]", "a query needs a word");
    if (st == SEMID_OK) st = srv_take(semid_serve_error_json(&err), "error");
    semid_serve_request_free(&search);
    semid_serve_request_free(&rec);
    return st;
}

static void check_serve_ok(int64_t n, int first) {
    static char want[sizeof srv_out];
    if (first) memcpy(want, srv_out, sizeof want);
    else if (strcmp(want, srv_out) != 0) bad("serve run %lld: other answers", (long long)n);
}

/* ---- set-up ---- */

static int setup(void **state) {
    (void)state;
    semid_set_log_level(SEMID_LOG_QUIET);
    semid_set_threads(1);
    cJSON_Hooks hooks = {alloc_fail_malloc, alloc_fail_free};
    cJSON_InitHooks(&hooks);
    /* Atomic saves fsync: on a RAM disk the thousands of runs are quick. */
    char tmpl[] = "/dev/shm/semid-alloc-XXXXXX";
    work = access("/dev/shm", W_OK) == 0 && mkdtemp(tmpl) ? strdup(tmpl) : test_make_tmpdir();
    if (!work) return -1;
    semid_synth_opts so = semid_synth_opts_default();
    so.n_items = 24;
    so.n_users = 20;
    so.mean_history = 5;
    so.min_history = 4;
    so.n_topics = 3;
    so.queries_per_item = 2;
    so.queries_train = 1;
    so.seed = 7;
    semid_embeddings *e = NULL;
    semid_ids_opts io = tiny_ids_opts();
    semid_status st = semid_data_synth(&so, &ds);
    if (st == SEMID_OK) st = make_embeddings(ds, &e);
    if (st == SEMID_OK) st = semid_ids_build(e, NULL, ds, &io, &ids);
    semid_embeddings_free(e);
    model_dir = path_in("model");
    semid_train_opts to = tiny_train_opts();
    if (st == SEMID_OK) st = semid_train(ds, ids, model_dir, &to, NULL);
    if (st == SEMID_OK) st = semid_model_load(model_dir, &model);
    if (st != SEMID_OK) {
        fprintf(stderr, "setup: %s\n", semid_last_error());
        return -1;
    }
    write_import_files();
    write_format_files();
    out_init(&ids_sid, "ids.sid", "the ID table before\n");
    out_init(&ids_tsv, "ids.tsv", NULL);
    make_small();
    out_init(&emb_npy, "emb.npy", "the embeddings before\n");
    out_init(&emb_ids, "emb.txt", NULL);
    out_init(&enc_file, "encoder.safetensors", "the encoder before\n");
    out_init(&rep_json, "results.json", "the results before\n");
    out_init(&rep_md, "report.md", NULL);
    out_init(&rep_svg, "plot.svg", NULL);
    out_init(&rep_eval, "eval.json", NULL);
    out_init(&quant_file, "quant.bin", NULL);
    resume_dir = path_in("resume");
    train_dir = path_in("train");
    assert_int_equal(mkdir(train_dir, 0777), 0);
    for (int i = 0; i < N_BUNDLE; i++) {
        char name[64], old[64];
        snprintf(name, sizeof name, "train/%s", BUNDLE[i]);
        snprintf(old, sizeof old, "the old bundle's %s\n", BUNDLE[i]);
        out_init(&train_files[i], name, old);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (n_results > 0) {
        int64_t runs = 0;
        double secs = 0, cpu = 0;
        for (int i = 0; i < n_results; i++) {
            runs += results[i].runs;
            secs += results[i].seconds;
            cpu += results[i].cpu_seconds;
        }
        printf("[alloc sweep] %d sweeps, %lld runs with failed allocations, %.1f s (CPU %.1f s)\n", n_results,
               (long long)runs, secs, cpu);
    }
    semid_model_free(model);
    semid_ids_free(ids);
    semid_data_free(ds);
    semid_data_free(small);
    semid_ids_free(small_ids);
    out_free(&import_sdd);
    out_free(&ids_sid);
    out_free(&ids_tsv);
    for (int i = 0; i < N_BUNDLE; i++) out_free(&train_files[i]);
    rm_tree(work);
    free(work);
    free(import_dir);
    free(wv_path);
    free(small_sdd);
    free(resume_dir);
    out_free(&emb_npy);
    out_free(&emb_ids);
    out_free(&enc_file);
    out_free(&rep_json);
    out_free(&rep_md);
    out_free(&rep_svg);
    out_free(&rep_eval);
    out_free(&quant_file);
    for (int f = 0; f < 4; f++) free(fmt_dir[f]);
    free(train_dir);
    free(model_dir);
    return 0;
}

static void test_import(void **state) {
    (void)state;
    static const sweep_path p = {"import", run_import, reset_import, check_import_failed, check_import_ok};
    sweep(&p);
}

static void test_ml1m(void **state) {
    (void)state;
    static const sweep_path p = {"ml-1m", run_ml1m, NULL, NULL, NULL};
    sweep(&p);
}

static void test_ml100k(void **state) {
    (void)state;
    static const sweep_path p = {"ml-100k", run_ml100k, NULL, NULL, NULL};
    sweep(&p);
}

static void test_mlcsv(void **state) {
    (void)state;
    static const sweep_path p = {"ml-csv", run_mlcsv, NULL, NULL, NULL};
    sweep(&p);
}

static void test_recbole(void **state) {
    (void)state;
    static const sweep_path p = {"recbole", run_recbole, NULL, NULL, NULL};
    sweep(&p);
}

static void test_synth(void **state) {
    (void)state;
    static const sweep_path p = {"synth", run_synth, NULL, NULL, check_synth_ok};
    sweep(&p);
}

static void test_ids(void **state) {
    (void)state;
    static const sweep_path p = {"ids", run_ids, reset_ids, check_ids_failed, check_ids_ok};
    sweep(&p);
}

static void test_embed(void **state) {
    (void)state;
    static const sweep_path p = {"embed", run_embed, reset_embed, check_embed_failed, check_embed_ok};
    sweep(&p);
}

static void test_quant(void **state) {
    (void)state;
    static const sweep_path p = {"quant", run_quant, reset_quant, check_quant_failed, NULL};
    sweep(&p);
}

static void test_resume(void **state) {
    (void)state;
    static const sweep_path p = {"resume", run_resume, reset_resume, check_resume_failed, NULL};
    sweep(&p);
}

static void test_train(void **state) {
    (void)state;
    static const sweep_path p = {"train", run_train, reset_train, check_train_failed, check_train_ok};
    sweep(&p);
}

static void test_load(void **state) {
    (void)state;
    static const sweep_path p = {"load", run_load, NULL, NULL, NULL};
    sweep(&p);
}

static void test_decode(void **state) {
    (void)state;
    static const sweep_path p = {"decode", run_decode, reset_decode, check_decode_failed, check_decode_ok};
    sweep(&p);
}

static void test_report(void **state) {
    (void)state;
    static const sweep_path p = {"report", run_report, reset_report, check_report_failed, check_report_ok};
    sweep(&p);
}

static void test_config(void **state) {
    (void)state;
    static const sweep_path p = {"config", run_config, NULL, NULL, check_config_ok};
    sweep(&p);
}

static void test_serve(void **state) {
    (void)state;
    static const sweep_path p = {"serve", run_serve, NULL, NULL, check_serve_ok};
    sweep(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import), cmocka_unit_test(test_ml1m),  cmocka_unit_test(test_ml100k),
        cmocka_unit_test(test_mlcsv),  cmocka_unit_test(test_recbole), cmocka_unit_test(test_synth),
        cmocka_unit_test(test_embed),  cmocka_unit_test(test_ids),   cmocka_unit_test(test_quant),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_train),  cmocka_unit_test(test_load),  cmocka_unit_test(test_decode),
        cmocka_unit_test(test_report), cmocka_unit_test(test_config), cmocka_unit_test(test_serve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
