/* semid sid: build Semantic-ID tables from embeddings (any strategy and
 * tokenizer), inspect them, encode new items (cold start) and export them.
 *
 *   semid sid build --embeddings E.npy --out sid.json [--strategy search]
 *   semid sid build --strategy separate --search S.npy --rec R.npy --out sid.json
 *   semid sid stats sid.json [--json]
 *   semid sid encode --tokenizer tok.bin --embeddings new.npy [--table sid.json --task rec] [--out F]
 *   semid sid export sid.json --tsv sid.tsv
 *
 * A codebook larger than the number of items is an error (not clamped):
 * the message says the largest size that works. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/log.h"
#include "base/names.h"
#include "base/status.h"
#include "base/threads.h"
#include "cli/cli.h"
#include "data/dataset.h"
#include "embed/embed_io.h"
#include "io/npy.h"
#include "quant/idtable.h"
#include "quant/strategy.h"
#include "quant/tokenizer.h"

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* <dir of path>/items.txt if it exists (how `semid embed` names rows), else NULL. */
static char *ids_beside(const char *npy_path) {
    const char *slash = strrchr(npy_path, '/');
    char *p;
    if (!slash) {
        p = semid_strdup("items.txt");
    } else {
        size_t n = (size_t)(slash - npy_path);
        char *dir = malloc(n + 1);
        if (!dir) return NULL;
        memcpy(dir, npy_path, n);
        dir[n] = '\0';
        p = semid_path_join(dir, "items.txt");
        free(dir);
    }
    if (p && !semid_path_exists(p)) {
        free(p);
        return NULL;
    }
    return p;
}

/* An embedding matrix and the ids of its rows (ids may stay NULL). With a
 * dataset, rows are put in the dataset's item order. */
typedef struct loaded {
    semid_matrix m;
    char **ids;
    int64_t n_ids;
} loaded;

static void loaded_free(loaded *l) {
    semid_matrix_free(&l->m);
    if (l->ids) semid_idlist_free(l->ids, l->n_ids);
    memset(l, 0, sizeof *l);
}

static semid_status load_embeddings(const char *path, const char *ids_path, int ids_beside_ok, const semid_dataset *ds,
                                    loaded *out) {
    memset(out, 0, sizeof *out);
    char *beside = ids_path || !ids_beside_ok ? NULL : ids_beside(path);
    const char *ip = ids_path ? ids_path : beside;
    semid_status st;
    if (ds) {
        if (!ip) {
            st = semid_fail(SEMID_EINVAL, "%s: with --dataset, the row ids are needed (--ids, or items.txt beside it)", path);
        } else {
            st = semid_embed_import(ds, path, ip, &out->m);
        }
    } else {
        st = semid_npy_read(path, &out->m);
        if (st == SEMID_OK && ip) {
            st = semid_idlist_read(ip, &out->ids, &out->n_ids);
            if (st == SEMID_OK && out->n_ids != out->m.rows)
                st = semid_fail(SEMID_EINVAL, "%s has %lld ids but %s has %lld rows", ip, (long long)out->n_ids, path,
                                (long long)out->m.rows);
        }
    }
    free(beside);
    if (st != SEMID_OK) loaded_free(out);
    return st;
}

static semid_status print_table_stats(const semid_idtable *t, const semid_collision_stats *before) {
    char appended[48] = "";
    if (t->disambiguated == 1) snprintf(appended, sizeof appended, " (last: disambiguation)");
    else if (t->disambiguated > 1) snprintf(appended, sizeof appended, " (last %d: disambiguation)", t->disambiguated);
    printf("strategy      %s\nmethod        %s\nitems         %d\ntasks         %d\nlevels        %d%s\n", t->strategy,
           t->method, t->n_items, t->n_tasks, t->n_levels, appended);
    printf("tokens        %d\nfingerprint   %016" PRIx64 "\n", t->n_tokens, t->fingerprint);
    int32_t L = t->n_levels;
    for (int ti = 0; ti < t->n_tasks; ti++) {
        const char *name = t->n_tasks == 1 ? "both tasks" : ti == SEMID_TASK_SEARCH ? "search" : "rec";
        semid_collision_stats cs;
        SEMID_TRY(semid_idtable_collisions(t, ti, &cs));
        printf("[%s]\n", name);
        if (before)
            printf("  collisions before disambiguation: rate %.4f, %d items share an ID, largest group %d\n",
                   before[ti].rate, before[ti].colliding_items, before[ti].max_items_per_id);
        printf("  collisions: rate %.4f (%d distinct IDs for %d items), %d items share an ID, largest group %d\n",
               cs.rate, cs.distinct_ids, cs.n_items, cs.colliding_items, cs.max_items_per_id);
        const int32_t *codes = t->codes + (int64_t)ti * t->n_items * L;
        for (int32_t l = 0; l < L; l++) {
            double used, ppl;
            int32_t size = t->level_size[ti * L + l];
            SEMID_TRY(semid_codes_usage(codes, t->n_items, L, l, size, &used, &ppl));
            printf("  level %d: %d codes (tokens %d..%d), used %.1f%%, perplexity %.1f\n", l, size,
                   t->token_offset[ti * L + l], t->token_offset[ti * L + l] + size - 1, 100 * used, ppl);
        }
    }
    return SEMID_OK;
}

static semid_status print_table_json(const semid_idtable *t) {
    printf("{\"strategy\": \"%s\", \"method\": \"%s\", \"n_items\": %d, \"n_tasks\": %d, \"n_levels\": %d, "
           "\"n_tokens\": %d, \"disambiguated\": %s, \"fingerprint\": \"%016" PRIx64 "\", \"tasks\": [",
           t->strategy, t->method, t->n_items, t->n_tasks, t->n_levels, t->n_tokens, t->disambiguated ? "true" : "false",
           t->fingerprint);
    int32_t L = t->n_levels;
    for (int ti = 0; ti < t->n_tasks; ti++) {
        semid_collision_stats cs;
        SEMID_TRY(semid_idtable_collisions(t, ti, &cs));
        printf("%s{\"collision_rate\": %.6f, \"distinct_ids\": %d, \"colliding_items\": %d, \"max_items_per_id\": %d, "
               "\"levels\": [",
               ti ? ", " : "", cs.rate, cs.distinct_ids, cs.colliding_items, cs.max_items_per_id);
        for (int32_t l = 0; l < L; l++) {
            double used, ppl;
            SEMID_TRY(semid_codes_usage(t->codes + (int64_t)ti * t->n_items * L, t->n_items, L, l,
                                        t->level_size[ti * L + l], &used, &ppl));
            printf("%s{\"size\": %d, \"offset\": %d, \"used\": %.6f, \"perplexity\": %.3f}", l ? ", " : "",
                   t->level_size[ti * L + l], t->token_offset[ti * L + l], used, ppl);
        }
        printf("]}");
    }
    printf("]}\n");
    return SEMID_OK;
}

static char *with_suffix(const char *path, const char *suffix) {
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s", path, suffix);
    return p;
}

typedef struct build_args {
    const char *embeddings, *search, *rec, *ids, *dataset, *out, *tok_out;
    semid_strategy_options opt;
} build_args;

/* The strategy's embeddings, in its table order, from --embeddings or
 * --search and --rec; without a dataset both files must name the same
 * items in the same order. */
static semid_status load_inputs(const build_args *a, const semid_strategy_def *def, const semid_dataset *ds,
                                loaded in[2]) {
    const char *paths[2] = {a->search, a->rec};
    if (semid_strategy_n_embeddings(def) == 1) paths[0] = a->embeddings;
    for (int i = 0; i < semid_strategy_n_embeddings(def); i++)
        SEMID_TRY(load_embeddings(paths[i], a->ids, 1, ds, &in[i]));
    for (int64_t i = 0; in[0].ids && in[1].ids && i < in[0].n_ids && i < in[1].n_ids; i++)
        if (strcmp(in[0].ids[i], in[1].ids[i]) != 0)
            return semid_fail(SEMID_EINVAL, "row %lld is item %s in %s but %s in %s", (long long)i, in[0].ids[i], paths[0],
                              in[1].ids[i], paths[1]);
    return SEMID_OK;
}

/* Everything is computed before the writes, each atomic. */
static semid_status save_outputs(const build_args *a, const semid_strategy_result *res) {
    for (int i = 0; a->tok_out && i < res->n_tokenizers; i++) {
        char *p = res->n_tokenizers == 1 ? semid_strdup(a->tok_out)
                                         : with_suffix(a->tok_out, i == SEMID_TASK_SEARCH ? ".search" : ".rec");
        semid_status st = p ? semid_tokenizer_save(res->tokenizers[i], p) : semid_fail(SEMID_ENOMEM, "out of memory");
        free(p);
        SEMID_TRY(st);
    }
    if (a->tok_out && res->n_tokenizers == 0)
        SEMID_WARN("strategy %s keeps no tokenizer: --tokenizer-out ignored", a->opt.strategy);
    return semid_idtable_save(&res->table, a->out);
}

static semid_status print_build(const build_args *a, const semid_strategy_result *res) {
    SEMID_TRY(print_table_stats(&res->table, a->opt.disambiguate ? res->before : NULL));
    for (int i = 0; i < res->n_tokenizers; i++) {
        if (!res->level_error[i]) continue;
        printf("reconstruction error (%s, mean squared per item):", res->n_tokenizers == 1 ? "tokenizer" : i ? "rec" : "search");
        for (int32_t l = 0; l < semid_tokenizer_levels(res->tokenizers[i]); l++) printf(" level %d %.6g", l, res->level_error[i][l]);
        printf("\n");
    }
    printf("built in %.2fs, wrote %s\n", res->seconds, a->out);
    return SEMID_OK;
}

/* The CLI's part of building: files in and out; the building itself is
 * semid_strategy_build_catalog, as in the experiment. */
static semid_status run_build(const build_args *a, const semid_strategy_def *def) {
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    loaded in[2];
    memset(in, 0, sizeof in);
    semid_strategy_result res;
    memset(&res, 0, sizeof res);
    semid_status st = a->dataset ? semid_dataset_load(a->dataset, &ds) : SEMID_OK;
    const semid_dataset *dsp = a->dataset ? &ds : NULL;
    if (st == SEMID_OK) st = load_inputs(a, def, dsp, in);
    const semid_matrix *const emb[2] = {&in[0].m, &in[1].m};
    if (st == SEMID_OK) st = semid_strategy_build_catalog(emb, &a->opt, dsp, in[0].ids, &res);
    if (st == SEMID_OK) st = save_outputs(a, &res);
    if (st == SEMID_OK) st = print_build(a, &res);
    semid_strategy_result_free(&res);
    loaded_free(&in[0]);
    loaded_free(&in[1]);
    semid_dataset_free(&ds);
    return st;
}

static int sid_build(int argc, char **argv) {
    build_args a;
    memset(&a, 0, sizeof a);
    const char *strategy = NULL, *method = semid_tokenizer_defaults().method;
    int levels = 2, codebook = 256, beam = 1, iters = 0, seed = 1234, threads = 0, disambiguate = 0, verbose = 0;
    int max_disambiguation = SEMID_MAX_DISAMBIGUATION_DEFAULT;
    char methods[256], method_help[300], strategies[256], strategy_help[400];
    snprintf(method_help, sizeof method_help, "tokenizer: %s",
             semid_names_join(semid_tokenizer_name_at, methods, sizeof methods));
    snprintf(strategy_help, sizeof strategy_help, "%s (default: search, or separate with --search/--rec)",
             semid_names_join(semid_strategy_name_at, strategies, sizeof strategies));
    cli_option opts[] = {
        {"embeddings", CLI_STRING, &a.embeddings, "item embeddings (.npy, rows = items) for one-embedding strategies"},
        {"search", CLI_STRING, &a.search, "search embeddings, for strategies that read two"},
        {"rec", CLI_STRING, &a.rec, "rec embeddings, for strategies that read two"},
        {"ids", CLI_STRING, &a.ids, "row ids, one a line (default: items.txt beside the .npy, if any)"},
        {"dataset", CLI_STRING, &a.dataset, "saved dataset: rows in its item order, popularity for --disambiguate"},
        {"strategy", CLI_STRING, &strategy, strategy_help},
        {"method", CLI_STRING, &method, method_help},
        {"levels", CLI_INT, &levels, "codes per ID"},
        {"codebook", CLI_INT, &codebook, "codes per level (K); must not exceed the number of items"},
        {"beam", CLI_INT, &beam, "beam width of residual encoding (1 = greedy)"},
        {"iters", CLI_INT, &iters, "k-means iterations / training epochs (0 = method default)"},
        {"seed", CLI_INT, &seed, "random seed"},
        {"threads", CLI_INT, &threads, "threads (0 = all cores)"},
        {"disambiguate", CLI_FLAG, &disambiguate, "append a level making every ID unique per task"},
        {"max-disambiguation", CLI_INT, &max_disambiguation,
         "codes an appended level may have; a larger group gets more levels (0 = one level, no limit)"},
        {"out", CLI_STRING, &a.out, "ID table to write (JSON)"},
        {"tokenizer-out", CLI_STRING, &a.tok_out, "also save the tokenizer (separate: PATH.search and PATH.rec)"},
        {"verbose", CLI_FLAG, &verbose, "progress on stderr"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0],
                       "usage: semid sid build (--embeddings E.npy | --search S.npy --rec R.npy) --out sid.json [options]",
                       pos, 0, &npos);
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"levels", 1, 64},  {"codebook", 1, 1 << 24}, {"beam", 1, 4096},
                                {"iters", 0, 100000}, {"threads", 0, semid_threads_limit()},
                                {"max-disambiguation", 0, 1 << 30}};
    if (cli_check_ranges(opts, sizeof opts / sizeof opts[0], ranges, sizeof ranges / sizeof ranges[0]) != 0)
        return CLI_EXIT_USAGE;
    if (!strategy) strategy = (a.search || a.rec) && !a.embeddings ? "separate" : "search";
    const semid_strategy_def *def;
    const semid_tokenizer_method *tokenizer;
    semid_status st = semid_strategy_lookup(strategy, &def);
    if (st == SEMID_OK) st = semid_tokenizer_lookup(method, &tokenizer); /* before any file is read */
    if (st != SEMID_OK) return cli_report(st);
    if (!a.out) {
        fprintf(stderr, "semid: error: --out is required (see --help)\n");
        return CLI_EXIT_USAGE;
    }
    if (semid_strategy_n_embeddings(def) == 1 && !a.embeddings) {
        fprintf(stderr, "semid: error: strategy %s needs --embeddings\n", strategy);
        return CLI_EXIT_USAGE;
    }
    if (semid_strategy_n_embeddings(def) == 2 && (!a.search || !a.rec)) {
        fprintf(stderr, "semid: error: strategy %s needs --search and --rec\n", strategy);
        return CLI_EXIT_USAGE;
    }
    if (verbose) semid_set_log_level(SEMID_LOG_INFO);
    semid_set_threads(threads);
    a.opt.strategy = strategy;
    a.opt.tokenizer = semid_tokenizer_defaults();
    a.opt.tokenizer.method = method;
    a.opt.tokenizer.levels = levels;
    a.opt.tokenizer.codebook_size = codebook;
    a.opt.tokenizer.beam = beam;
    a.opt.tokenizer.iters = iters;
    a.opt.tokenizer.seed = (uint64_t)seed;
    a.opt.tokenizer.verbose = verbose;
    a.opt.disambiguate = disambiguate;
    a.opt.max_disambiguation = max_disambiguation;
    st = run_build(&a, def);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

static int sid_stats(int argc, char **argv) {
    int json = 0;
    cli_option opts[] = {{"json", CLI_FLAG, &json, "print JSON"}};
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 2, opts, 1, "usage: semid sid stats sid.json [--json]", pos, 1, &npos);
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (npos != 1) {
        fprintf(stderr, "semid: error: sid stats needs the ID table file\n");
        return CLI_EXIT_USAGE;
    }
    semid_idtable t;
    semid_status st = semid_idtable_load(pos[0], &t);
    if (st != SEMID_OK) return cli_report(st);
    st = json ? print_table_json(&t) : print_table_stats(&t, NULL);
    semid_idtable_free(&t);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

static int sid_export(int argc, char **argv) {
    const char *tsv = NULL;
    cli_option opts[] = {{"tsv", CLI_STRING, &tsv, "TSV to write: item_id, task, tokens"}};
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 2, opts, 1, "usage: semid sid export sid.json --tsv out.tsv", pos, 1, &npos);
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (npos != 1 || !tsv) {
        fprintf(stderr, "semid: error: sid export needs the ID table file and --tsv\n");
        return CLI_EXIT_USAGE;
    }
    semid_idtable t;
    semid_status st = semid_idtable_load(pos[0], &t);
    if (st == SEMID_OK) st = semid_idtable_export_tsv(&t, tsv);
    semid_idtable_free(&t);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

/* Writes rows of ints as TSV ("id<TAB>v0<TAB>v1...") to a file or stdout. */
static semid_status write_rows_tsv(const char *path, char **ids, const int32_t *v, int64_t rows, int32_t cols) {
    semid_atomic_file f = {0};
    FILE *fp = stdout;
    if (path) {
        SEMID_TRY(semid_atomic_open(&f, path));
        fp = f.fp;
    }
    for (int64_t i = 0; i < rows; i++) {
        if (ids) fprintf(fp, "%s", ids[i]);
        else fprintf(fp, "%lld", (long long)i);
        for (int32_t l = 0; l < cols; l++) fprintf(fp, "\t%d", v[i * cols + l]);
        fputc('\n', fp);
    }
    return path ? semid_atomic_commit(&f) : SEMID_OK;
}

static int sid_encode(int argc, char **argv) {
    const char *tok_path = NULL, *embeddings = NULL, *ids = NULL, *table = NULL, *task = "search", *out = NULL;
    int threads = 0;
    cli_option opts[] = {
        {"tokenizer", CLI_STRING, &tok_path, "tokenizer saved by sid build --tokenizer-out"},
        {"embeddings", CLI_STRING, &embeddings, "embeddings of the new items (.npy)"},
        {"ids", CLI_STRING, &ids, "their ids, one a line (default: row numbers)"},
        {"table", CLI_STRING, &table, "ID table: print tokens of this vocabulary instead of codes"},
        {"task", CLI_STRING, &task, "search|rec: which task's tokens (with --table)"},
        {"out", CLI_STRING, &out, "write here (.npy: int32 rows; otherwise TSV) instead of stdout"},
        {"threads", CLI_INT, &threads, "threads (0 = all cores)"},
    };
    const char *pos[1];
    int npos;
    int rc = cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0],
                       "usage: semid sid encode --tokenizer tok.bin --embeddings new.npy [--table sid.json] [--out F]", pos, 0,
                       &npos);
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const cli_range ranges[] = {{"threads", 0, semid_threads_limit()}};
    if (cli_check_ranges(opts, sizeof opts / sizeof opts[0], ranges, 1) != 0) return CLI_EXIT_USAGE;
    if (!tok_path || !embeddings) {
        fprintf(stderr, "semid: error: sid encode needs --tokenizer and --embeddings\n");
        return CLI_EXIT_USAGE;
    }
    int task_id = strcmp(task, "search") == 0 ? SEMID_TASK_SEARCH : strcmp(task, "rec") == 0 ? SEMID_TASK_REC : -1;
    if (task_id < 0) {
        fprintf(stderr, "semid: error: --task must be search or rec\n");
        return CLI_EXIT_USAGE;
    }
    semid_set_threads(threads);
    semid_tokenizer *tok = NULL;
    loaded a = {0};
    semid_idtable t;
    memset(&t, 0, sizeof t);
    int32_t *codes = NULL, *tokens = NULL;
    semid_status st = semid_tokenizer_load(tok_path, &tok);
    if (st == SEMID_OK && table) st = semid_idtable_load(table, &t);
    if (st == SEMID_OK) st = load_embeddings(embeddings, ids, 0, NULL, &a);
    int32_t L = tok ? semid_tokenizer_levels(tok) : 0;
    if (st == SEMID_OK) {
        codes = malloc(sizeof(int32_t) * (size_t)(a.m.rows > 0 ? a.m.rows : 1) * (size_t)L);
        if (!codes) st = semid_fail(SEMID_ENOMEM, "out of memory");
    }
    if (st == SEMID_OK) st = semid_tokenizer_encode(tok, &a.m, codes);
    const int32_t *rows = codes;
    int32_t cols = L;
    if (st == SEMID_OK && table) {
        tokens = malloc(sizeof(int32_t) * (size_t)(a.m.rows > 0 ? a.m.rows : 1) * (size_t)t.n_levels);
        if (!tokens) st = semid_fail(SEMID_ENOMEM, "out of memory");
        if (st == SEMID_OK) st = semid_strategy_codes_to_tokens(&t, task_id, tok, codes, a.m.rows, tokens);
        if (st != SEMID_OK) semid_fail_context(st, "%s and %s", tok_path, table);
        rows = tokens;
        cols = t.n_levels;
    }
    if (st == SEMID_OK) {
        if (out && ends_with(out, ".npy")) st = semid_npy_write_i32(out, rows, a.m.rows, cols);
        else st = write_rows_tsv(out, a.ids, rows, a.m.rows, cols);
    }
    free(codes);
    free(tokens);
    loaded_free(&a);
    semid_idtable_free(&t);
    semid_tokenizer_free(tok);
    return st == SEMID_OK ? CLI_EXIT_OK : cli_report(st);
}

int cmd_sid(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: semid sid <build|stats|encode|export> [options]   (semid sid <sub> --help)\n\n"
               "  build    quantize item embeddings into an ID table (and a tokenizer for cold start)\n"
               "  stats    collision rate, code usage per level and tokens of an ID table\n"
               "  encode   Semantic IDs of new items from a saved tokenizer (cold start)\n"
               "  export   write an ID table as TSV (item_id, task, tokens)\n");
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "build") == 0) return sid_build(argc, argv);
    if (strcmp(argv[1], "stats") == 0) return sid_stats(argc, argv);
    if (strcmp(argv[1], "encode") == 0) return sid_encode(argc, argv);
    if (strcmp(argv[1], "export") == 0) return sid_export(argc, argv);
    fprintf(stderr, "semid: error: unknown sid command '%s' (build, stats, encode, export)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
