/* The pieces `semid search`, `semid recommend` and `semid eval` share
 * (cli_gen.h): decoding options, loading the model, reading a batch of
 * queries or histories, and writing ranked items as TSV or JSON lines. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "base/threads.h"
#include "cli/cli_gen.h"
#include "text/tokenize.h"

/* ---- options ---- */

enum { MAX_OPTIONS = 10 };

cli_gen_args cli_gen_args_default(int k) {
    cli_gen_args a = {.format = "tsv", .k = k, .beam = 30};
    return a;
}

/* Fills opts (room for MAX_OPTIONS); returns how many. */
static int gen_options(cli_gen_args *a, cli_option *opts, int parts) {
    const cli_option common[] = {
        {"model", CLI_STRING, &a->model, "model directory (from semid train)"},
        {"k", CLI_INT, &a->k, "results"},
        {"beam", CLI_INT, &a->beam, "beam width (at least k is used)"},
        {"diverse", CLI_FLAG, &a->diverse,
         "the paper's diverse beam search (60 beams, 30 groups, penalty 0.25; at most 60 results)"},
        {"threads", CLI_INT, &a->threads, "threads (0 = all cores)"},
        {"expand-prefix", CLI_DOUBLE, &a->expand,
         "also return items whose ID shares a generated prefix (TIGER's way; new items), at most this share of "
         "the top k (0..1; 0 = off)"},
    };
    const cli_option history[] = {
        {"keep-history", CLI_FLAG, &a->keep, "allow items of the history in the results"},
        {"exclude-history", CLI_FLAG, &a->exclude,
         "leave the history's items out (default when items do not repeat in training)"},
    };
    const cli_option format = {"format", CLI_STRING, &a->format, "output: tsv or json (one object a line)"};
    int n = 0;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) opts[n++] = common[i];
    for (size_t i = 0; (parts & CLI_GEN_HISTORY) && i < sizeof history / sizeof history[0]; i++) opts[n++] = history[i];
    if (parts & CLI_GEN_FORMAT) opts[n++] = format;
    return n;
}

static int check_args(const cli_gen_args *a, const char *command) {
    if (!a->model) {
        fprintf(stderr, "semid: error: %s needs --model (see --help)\n", command);
        return CLI_EXIT_USAGE;
    }
    if (a->keep && a->exclude) {
        fprintf(stderr, "semid: error: give --keep-history or --exclude-history, not both\n");
        return CLI_EXIT_USAGE;
    }
    if (!(a->expand >= 0 && a->expand <= 1)) {
        fprintf(stderr, "semid: error: --expand-prefix must be a share in 0..1, not %g\n", a->expand);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(a->format, "tsv") != 0 && strcmp(a->format, "json") != 0) {
        fprintf(stderr, "semid: error: --format must be tsv or json, not '%s'\n", a->format);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_gen_parse(int argc, char **argv, cli_gen_args *a, int parts, const cli_option *extra, int n_extra,
                  const char *usage, const char **pos, int max_pos, int *n_pos, const char *command) {
    cli_option opts[MAX_OPTIONS + 16];
    if (n_extra > 16) return CLI_EXIT_USAGE;
    int n = gen_options(a, opts, parts);
    memcpy(opts + n, extra, (size_t)n_extra * sizeof *extra);
    int r = cli_parse(argc, argv, 1, opts, n + n_extra, usage, pos, max_pos, n_pos);
    if (r != 0) return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"k", 1, CLI_GEN_MAX_K}, {"beam", 1, CLI_GEN_MAX_BEAM}, {"threads", 0, semid_threads_limit()}};
    if (cli_check_ranges(opts, n + n_extra, ranges, 3) != 0) return CLI_EXIT_USAGE;
    r = check_args(a, command);
    return r == CLI_EXIT_OK ? -1 : r;
}

semid_status cli_gen_load(const cli_gen_args *a, semid_gen_bundle **out) {
    if (a->threads > 0) semid_set_threads(a->threads);
    return semid_gen_bundle_load(a->model, out);
}

void cli_gen_note_diverse_cap(const cli_gen_args *a, const semid_gen_decode_options *o) {
    if (a->diverse && a->k > o->beam.beam_size)
        fprintf(stderr, "semid: note: --diverse decodes %d beams (the paper's setting), so at most %d results come back, "
                        "not the %d of --k; drop --diverse for more\n",
                o->beam.beam_size, o->beam.beam_size, a->k);
}

semid_gen_decode_options cli_gen_decode_options(const cli_gen_args *a) {
    semid_gen_decode_options o = semid_gen_decode_defaults();
    o.diverse = a->diverse;
    if (a->diverse) o.beam = semid_beam_paper_diverse(a->k);
    else {
        o.beam.k = a->k;
        o.beam.beam_size = a->beam > a->k ? a->beam : a->k;
    }
    o.exclude_history = a->keep ? 0 : a->exclude ? 1 : -1;
    o.expand_prefix = a->expand;
    return o;
}

/* ---- writing hits ---- */

/* One "[id<TAB>]rank<TAB>item_id<TAB>score<TAB>title" line per hit. */
static void print_rows(const semid_gen_bundle *b, const semid_beam_hits *h, int64_t q, const char *id) {
    for (int32_t j = 0; j < h->n_hits[q]; j++) {
        int32_t it = h->items[q * h->k + j];
        if (id) printf("%s\t", id);
        printf("%d\t%s\t%.4f\t%s\n", j + 1, b->item_ids[it], (double)h->scores[q * h->k + j], b->titles[it]);
    }
}

void cli_gen_print_hits(const semid_gen_bundle *b, const semid_beam_hits *h, int64_t q) {
    printf("rank\titem_id\tscore\ttitle\n");
    print_rows(b, h, q, NULL);
    if (h->n_invalid[q] > 0) fprintf(stderr, "semid: note: %d beams named no item\n", h->n_invalid[q]);
}

/* Whether recommendation leaves the history's items out with options o. */
static int excludes_history(const semid_gen_bundle *b, const semid_gen_decode_options *o) {
    return o->exclude_history < 0 ? !b->items_repeat : o->exclude_history;
}

void cli_gen_note_empty(const semid_gen_bundle *b, const semid_gen_decode_options *o, int task, const int32_t *history,
                        int64_t n_history) {
    if (task == SEMID_TASK_REC && excludes_history(b, o)) {
        uint8_t *seen = calloc((size_t)(b->n_items > 0 ? b->n_items : 1), 1);
        int64_t distinct = 0;
        for (int64_t i = 0; seen && i < n_history; i++)
            if (history[i] >= 0 && history[i] < b->n_items && !seen[history[i]]++) distinct++;
        free(seen);
        if (distinct == b->n_items)
            fprintf(stderr, "semid: note: no results: the history holds every item of the catalog (%d items) and "
                            "recommendations leave the history's items out; give --keep-history to rank them\n",
                    b->n_items);
        else
            fprintf(stderr, "semid: note: no results: every item the beams reached is in the history, and "
                            "recommendations leave the history's items out; give --keep-history or a larger --beam\n");
        return;
    }
    fprintf(stderr, "semid: note: no results: no beam ended on an item of the catalog%s\n",
            o->diverse ? " (diverse search is not constrained to real IDs; try without --diverse)" : "; try a larger --beam");
}

semid_status cli_gen_print_json(const semid_gen_bundle *b, const semid_beam_hits *h, int64_t q, int task,
                                const char *id, const char *key, cJSON *input) {
    const semid_idtable *t = &b->table;
    int ti = t->n_tasks == 1 ? 0 : task;
    cJSON *root = cJSON_CreateObject();
    cJSON *results = cJSON_CreateArray();
    int ok = root && results && (!id || cJSON_AddStringToObject(root, "id", id));
    if (ok && input) ok = cJSON_AddItemToObject(root, key, input);
    else cJSON_Delete(input);
    if (ok) ok = cJSON_AddItemToObject(root, "results", results);
    else cJSON_Delete(results);
    for (int32_t j = 0; j < h->n_hits[q] && ok; j++) {
        int32_t it = h->items[q * h->k + j];
        cJSON *r = cJSON_CreateObject();
        ok = r && cJSON_AddItemToArray(results, r) && cJSON_AddStringToObject(r, "id", b->item_ids[it]) &&
             cJSON_AddStringToObject(r, "title", b->titles[it]) &&
             cJSON_AddNumberToObject(r, "score", (double)h->scores[q * h->k + j]);
        if (!ok) break;
        cJSON *sid = cJSON_AddArrayToObject(r, "sid");
        ok = sid != NULL;
        for (int32_t l = 0; l < t->n_levels && ok; l++)
            ok = cJSON_AddItemToArray(sid, cJSON_CreateNumber(t->codes[((int64_t)ti * t->n_items + it) * t->n_levels + l]));
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return semid_fail(SEMID_ENOMEM, "out of memory");
    puts(text);
    free(text);
    return SEMID_OK;
}

cJSON *cli_gen_history_json(const semid_gen_bundle *b, const int32_t *items, int64_t n) {
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; i < n && a; i++) {
        cJSON *s = cJSON_CreateString(b->item_ids[items[i]]);
        if (!s || !cJSON_AddItemToArray(a, s)) {
            cJSON_Delete(s);
            cJSON_Delete(a);
            a = NULL;
        }
    }
    return a;
}

/* ---- reading a batch ---- */

static semid_status read_input(const char *path, char **data, size_t *len) {
    if (strcmp(path, "-") != 0) return semid_read_file(path, data, len);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, stdin);
        if (n < cap - 1) break;
        char *grown = realloc(buf, cap *= 2);
        if (!grown) free(buf);
        buf = grown;
    }
    if (!buf) return semid_fail(SEMID_ENOMEM, "out of memory reading stdin");
    if (ferror(stdin)) {
        free(buf);
        return semid_fail(SEMID_EIO, "stdin: read error");
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return SEMID_OK;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Room for one more record (and its offsets). */
static semid_status batch_reserve(cli_batch *c) {
    if (c->n + 1 < c->cap) return SEMID_OK;
    int64_t cap = c->cap ? c->cap * 2 : 256;
    char **ids = realloc(c->ids, (size_t)cap * sizeof *ids);
    if (ids) c->ids = ids;
    int64_t *line_no = realloc(c->line_no, (size_t)cap * sizeof *line_no);
    if (line_no) c->line_no = line_no;
    int ok = ids && line_no;
    if (ok && c->task == SEMID_TASK_SEARCH) {
        char **q = realloc(c->queries, (size_t)cap * sizeof *q);
        if (q) c->queries = q;
        int32_t *w = realloc(c->n_words, (size_t)cap * sizeof *w);
        if (w) c->n_words = w;
        ok = q && w;
    } else if (ok) {
        int64_t *off = realloc(c->hist_off, (size_t)cap * sizeof *off);
        if (off) c->hist_off = off;
        ok = off != NULL;
    }
    if (!ok) return semid_fail(SEMID_ENOMEM, "out of memory for %lld records", (long long)cap);
    c->cap = cap;
    return SEMID_OK;
}

/* Appends item `id` to the history of the record being read. */
static semid_status add_item(cli_batch *c, const semid_gen_bundle *b, const char *id, const char *name, int64_t line) {
    int32_t it = semid_gen_bundle_find_item(b, id);
    if (it < 0) return semid_fail(SEMID_ENOTFOUND, "%s:%lld: item '%s' is not in the model's catalog", name, (long long)line, id);
    int64_t at = c->hist_off[c->n + 1];
    if (at >= c->hist_cap) {
        int64_t cap = c->hist_cap ? c->hist_cap * 2 : 1024;
        int32_t *h = realloc(c->hist, (size_t)cap * sizeof *h);
        if (!h) return semid_fail(SEMID_ENOMEM, "out of memory");
        c->hist = h;
        c->hist_cap = cap;
    }
    c->hist[at] = it;
    c->hist_off[c->n + 1] = at + 1;
    return SEMID_OK;
}

/* Comma-separated item ids (TSV), in place. */
static semid_status add_history_text(cli_batch *c, const semid_gen_bundle *b, char *text, const char *name, int64_t line) {
    semid_status st = SEMID_OK;
    for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok && st == SEMID_OK; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (*tok) st = add_item(c, b, tok, name, line);
    }
    return st;
}

/* A JSON id: a string, or an integral number written as one. */
static int json_id_text(const cJSON *v, char *buf, size_t size) {
    if (cJSON_IsString(v) && v->valuestring[0]) {
        snprintf(buf, size, "%s", v->valuestring);
        return strlen(v->valuestring) < size;
    }
    if (cJSON_IsNumber(v) && v->valuedouble > -1e15 && v->valuedouble < 1e15 &&
        v->valuedouble == (double)(long long)v->valuedouble) {
        snprintf(buf, size, "%lld", (long long)v->valuedouble);
        return 1;
    }
    return 0;
}

static semid_status add_history_json(cli_batch *c, const semid_gen_bundle *b, const cJSON *hist, const char *name,
                                     int64_t line) {
    if (!cJSON_IsArray(hist))
        return semid_fail(SEMID_EPARSE, "%s:%lld: expected {\"id\": ..., \"history\": [item ids]}", name, (long long)line);
    semid_status st = SEMID_OK;
    const cJSON *v;
    cJSON_ArrayForEach(v, hist) {
        char id[512];
        if (!json_id_text(v, id, sizeof id))
            return semid_fail(SEMID_EPARSE, "%s:%lld: history entries must be item ids (strings)", name, (long long)line);
        if ((st = add_item(c, b, id, name, line)) != SEMID_OK) break;
    }
    return st;
}

/* The query text of a record: checked for words, copied. */
static semid_status add_query(cli_batch *c, const char *text, const char *name, int64_t line) {
    semid_words w;
    SEMID_TRY(semid_tokenize(text, &w));
    int32_t n_words = w.n;
    semid_words_free(&w);
    if (n_words == 0)
        return semid_fail(SEMID_EINVAL, "%s:%lld: the query is empty (give some words to search for)", name, (long long)line);
    c->queries[c->n] = semid_strdup(text);
    c->n_words[c->n] = n_words;
    return c->queries[c->n] ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
}

/* One non-blank line: a record appended to c (c->n counts it on success). */
static semid_status read_record(cli_batch *c, const semid_gen_bundle *b, char *line, int json, const char *name,
                                int64_t line_no) {
    SEMID_TRY(batch_reserve(c));
    if (c->task == SEMID_TASK_REC) c->hist_off[c->n + 1] = c->hist_off[c->n];
    if (c->queries) c->queries[c->n] = NULL;
    char id[512];
    snprintf(id, sizeof id, "%lld", (long long)line_no);
    const char *what = c->task == SEMID_TASK_SEARCH ? "query" : "history";
    semid_status st = SEMID_OK;
    if (json) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *jid = cJSON_GetObjectItemCaseSensitive(o, "id");
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, what);
        if (!cJSON_IsObject(o))
            st = semid_fail(SEMID_EPARSE, "%s:%lld: not a JSON object (expected {\"id\": ..., \"%s\": ...})", name,
                            (long long)line_no, what);
        else if (jid && !cJSON_IsNull(jid) && !json_id_text(jid, id, sizeof id))
            st = semid_fail(SEMID_EPARSE, "%s:%lld: \"id\" must be a string (under 512 bytes) or an integer", name, (long long)line_no);
        else if (c->task == SEMID_TASK_REC)
            st = add_history_json(c, b, body, name, line_no);
        else if (!cJSON_IsString(body))
            st = semid_fail(SEMID_EPARSE, "%s:%lld: expected {\"id\": ..., \"query\": \"text\"}", name, (long long)line_no);
        else
            st = add_query(c, body->valuestring, name, line_no);
        cJSON_Delete(o);
    } else {
        char *f[2];
        int nf = semid_split_fields(line, "\t", f, 2);
        char *text = nf >= 2 ? f[1] : f[0];
        if (nf >= 2) {
            char *given = trim(f[0]);
            if (!*given || strlen(given) >= sizeof id)
                st = semid_fail(SEMID_EPARSE, "%s:%lld: the id (first column) is empty or too long", name, (long long)line_no);
            else snprintf(id, sizeof id, "%s", given);
        }
        if (st == SEMID_OK && c->task == SEMID_TASK_REC) st = add_history_text(c, b, text, name, line_no);
        else if (st == SEMID_OK) st = add_query(c, trim(text), name, line_no);
    }
    if (st == SEMID_OK && c->task == SEMID_TASK_REC && c->hist_off[c->n + 1] == c->hist_off[c->n])
        st = semid_fail(SEMID_EINVAL, "%s:%lld: the history has no item ids", name, (long long)line_no);
    if (st == SEMID_OK) {
        c->ids[c->n] = semid_strdup(id);
        if (!c->ids[c->n]) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    if (st != SEMID_OK) {
        if (c->queries) free(c->queries[c->n]);
        return st;
    }
    c->line_no[c->n++] = line_no;
    return SEMID_OK;
}

/* A TSV header line: "query_id<TAB>..." or "user_id<TAB>...". */
static int is_header(const char *line, int task) {
    const char *h = task == SEMID_TASK_SEARCH ? "query_id\t" : "user_id\t";
    return strncmp(line, h, strlen(h)) == 0;
}

semid_status cli_batch_read(const char *path, int task, const semid_gen_bundle *b, cli_batch *out) {
    memset(out, 0, sizeof *out);
    out->task = task;
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    char *data;
    size_t len;
    SEMID_TRY(read_input(path, &data, &len));
    const char *first = data;
    while (isspace((unsigned char)*first)) first++;
    int json = *first == '{' || ends_with(path, ".jsonl");
    semid_status st = batch_reserve(out);
    if (st == SEMID_OK && task == SEMID_TASK_REC) out->hist_off[0] = 0;
    semid_lines it;
    semid_lines_init(&it, data, len);
    char *line;
    size_t ll;
    int seen = 0;
    while (st == SEMID_OK && (line = semid_lines_next(&it, &ll)) != NULL) {
        const char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) continue; /* blank */
        if (!seen++ && !json && is_header(line, task)) continue;
        st = read_record(out, b, line, json, name, it.line_no);
    }
    if (st == SEMID_OK && out->n == 0) st = semid_fail(SEMID_EINVAL, "%s: no %s in the file", name,
                                                       task == SEMID_TASK_SEARCH ? "queries" : "histories");
    free(data);
    if (st != SEMID_OK) cli_batch_free(out);
    return st;
}

void cli_batch_free(cli_batch *c) {
    for (int64_t i = 0; i < c->n; i++) {
        free(c->ids[i]);
        if (c->queries) free(c->queries[i]);
    }
    free(c->ids);
    free(c->line_no);
    free(c->queries);
    free(c->n_words);
    free(c->hist_off);
    free(c->hist);
    memset(c, 0, sizeof *c);
}

/* ---- decoding a batch ---- */

typedef struct batch_notes {
    int64_t unknown, first_unknown_line; /* search: queries with no known word */
    int64_t long_hist;                   /* rec: histories longer than the window */
    int64_t invalid;                     /* beams that named no item */
    int64_t empty, first_empty_line;     /* records with no result */
} batch_notes;

static semid_status write_record(const semid_gen_bundle *b, const cli_batch *c, const semid_beam_hits *h, int64_t j,
                                 int64_t r, int json) {
    if (!json) {
        print_rows(b, h, j, c->ids[r]);
        return SEMID_OK;
    }
    cJSON *input = c->task == SEMID_TASK_SEARCH
                       ? cJSON_CreateString(c->queries[r])
                       : cli_gen_history_json(b, c->hist + c->hist_off[r], c->hist_off[r + 1] - c->hist_off[r]);
    if (!input) return semid_fail(SEMID_ENOMEM, "out of memory");
    return cli_gen_print_json(b, h, j, c->task, c->ids[r], c->task == SEMID_TASK_SEARCH ? "query" : "history", input);
}

/* Decodes records [start, start + m) into h, counting what the notes say. */
static semid_status decode_chunk(const semid_gen_bundle *b, const cli_batch *c, int64_t start, int64_t m,
                                 const semid_gen_decode_options *o, semid_beam_hits *h, batch_notes *notes,
                                 const cli_dense *dense) {
    semid_gen_decode_options go = dense ? semid_dense_decode_options(o) : *o;
    if (c->task == SEMID_TASK_SEARCH) {
        int32_t unknown[CLI_BATCH_CHUNK];
        SEMID_TRY(semid_gen_search(b, (const char *const *)c->queries + start, m, &go, h, unknown));
        if (dense) SEMID_TRY(semid_dense_rerank_search(&dense->index, b, &dense->o, (const char *const *)c->queries + start, m, h));
        for (int64_t j = 0; j < m; j++)
            if (unknown[j] == c->n_words[start + j] && !notes->unknown++) notes->first_unknown_line = c->line_no[start + j];
        return SEMID_OK;
    }
    const int32_t *hs[CLI_BATCH_CHUNK];
    int64_t lens[CLI_BATCH_CHUNK];
    int32_t w = semid_gen_effective_window(&b->ex, b->table.n_levels);
    for (int64_t j = 0; j < m; j++) {
        hs[j] = c->hist + c->hist_off[start + j];
        lens[j] = c->hist_off[start + j + 1] - c->hist_off[start + j];
        notes->long_hist += lens[j] > w;
    }
    SEMID_TRY(semid_gen_recommend(b, hs, lens, m, &go, h));
    return dense ? semid_dense_rerank_rec(&dense->index, b, &dense->o, o, hs, lens, NULL, m, h) : SEMID_OK;
}

semid_status cli_batch_run(const semid_gen_bundle *b, const cli_batch *c, const semid_gen_decode_options *o, int json,
                           const char *path, const cli_dense *dense) {
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    batch_notes notes = {0};
    semid_status st = SEMID_OK;
    if (!json) printf("%s\trank\titem_id\tscore\ttitle\n", c->task == SEMID_TASK_SEARCH ? "query_id" : "user_id");
    for (int64_t start = 0; start < c->n && st == SEMID_OK; start += CLI_BATCH_CHUNK) {
        int64_t m = c->n - start < CLI_BATCH_CHUNK ? c->n - start : CLI_BATCH_CHUNK;
        semid_beam_hits h = {0};
        st = decode_chunk(b, c, start, m, o, &h, &notes, dense);
        for (int64_t j = 0; j < m && st == SEMID_OK; j++) {
            notes.invalid += h.n_invalid[j];
            if (h.n_hits[j] == 0 && !notes.empty++) notes.first_empty_line = c->line_no[start + j];
            st = write_record(b, c, &h, j, start + j, json);
        }
        semid_beam_hits_free(&h);
        if (st == SEMID_OK && (fflush(stdout) != 0 || ferror(stdout)))
            st = semid_fail(SEMID_EIO, "writing the results to stdout failed");
    }
    if (st != SEMID_OK) return st;
    if (notes.unknown > 0)
        fprintf(stderr, "semid: warning: %lld of %lld queries have no word known to the model (first: %s:%lld); their "
                        "results come from hashed unknown-word buckets and may be poor\n",
                (long long)notes.unknown, (long long)c->n, name, (long long)notes.first_unknown_line);
    if (notes.long_hist > 0)
        fprintf(stderr, "semid: note: %lld of %lld histories are longer than the model's window; it reads the last %d "
                        "items of each\n",
                (long long)notes.long_hist, (long long)c->n, semid_gen_effective_window(&b->ex, b->table.n_levels));
    if (notes.invalid > 0) fprintf(stderr, "semid: note: %lld beams named no item\n", (long long)notes.invalid);
    if (notes.empty > 0)
        fprintf(stderr, "semid: note: %lld of %lld %s have no results (first: %s:%lld)%s\n", (long long)notes.empty,
                (long long)c->n, c->task == SEMID_TASK_SEARCH ? "queries" : "histories", name,
                (long long)notes.first_empty_line,
                c->task == SEMID_TASK_REC && excludes_history(b, o)
                    ? ": every item their beams reached is in their history, and recommendations leave the history's "
                      "items out (give --keep-history to rank them)"
                    : ": no beam ended on an item of the catalog");
    return SEMID_OK;
}

int cli_gen_run(const cli_gen_args *a, int task, const char *batch_path, cli_gen_single_fn single, const void *ctx) {
    semid_gen_bundle *b = NULL;
    semid_status st = cli_gen_load(a, &b);
    semid_gen_decode_options o = cli_gen_decode_options(a);
    if (st == SEMID_OK) cli_gen_note_diverse_cap(a, &o);
    int json = strcmp(a->format, "json") == 0;
    if (st == SEMID_OK && !batch_path) st = single(b, &o, json, ctx);
    else if (st == SEMID_OK) {
        cli_batch batch;
        cli_dense dn;
        int on = a->dense && cli_dense_on(a->dense);
        memset(&dn, 0, sizeof dn);
        st = cli_batch_read(batch_path, task, b, &batch);
        if (st == SEMID_OK && on) st = cli_dense_open(a->dense, b, o.beam.k, &dn);
        if (st == SEMID_OK) st = cli_batch_run(b, &batch, &o, json, batch_path, on ? &dn : NULL);
        cli_dense_close(&dn);
        cli_batch_free(&batch);
    }
    semid_gen_bundle_free(b);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

semid_status cli_gen_parse_history(const semid_gen_bundle *b, const char *history, int32_t **items, int64_t *n) {
    char *copy = semid_strdup(history);
    *items = malloc((strlen(history) / 2 + 2) * sizeof **items);
    *n = 0;
    semid_status st = copy && *items ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
    for (char *save = NULL, *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && st == SEMID_OK;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l > 0 && tok[l - 1] == ' ') tok[--l] = '\0';
        if (l == 0) continue;
        int32_t it = semid_gen_bundle_find_item(b, tok);
        if (it < 0) st = semid_fail(SEMID_ENOTFOUND, "--history: item '%s' is not in the model's catalog", tok);
        else (*items)[(*n)++] = it;
    }
    if (st == SEMID_OK && *n == 0) st = semid_fail(SEMID_EINVAL, "--history has no item ids");
    free(copy);
    return st;
}
