/* The tokenizer dispatcher: validation, thread setting, the file format and
 * the statistics shared by every method (quant/tokenizer.h). */
#include "quant/tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/names.h"
#include "base/status.h"
#include "base/threads.h"
#include "linalg/vec.h"

#define TOK_MAGIC "SEMIDTOK"
enum { TOK_VERSION = 1 };

struct semid_tokenizer {
    const semid_tokenizer_method *m;
    void *state;
    uint64_t fingerprint;
};

/* FNV-1a of the method's payload, serialised into memory. */
static semid_status compute_fingerprint(semid_tokenizer *t) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = t->m->write(t->state, fp);
    if (fclose(fp) != 0 && st == SEMID_OK) st = semid_fail(SEMID_ENOMEM, "out of memory");
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *c = t->m->name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
    for (size_t i = 0; st == SEMID_OK && i < len; i++) h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
    free(buf);
    t->fingerprint = h;
    return st;
}

uint64_t semid_tokenizer_fingerprint(const semid_tokenizer *tok) { return tok->fingerprint; }

semid_tokenizer_config semid_tokenizer_defaults(void) {
    semid_tokenizer_config c;
    memset(&c, 0, sizeof c);
    c.method = semid_tokenizer_methods[0]->name;
    c.levels = 2;
    c.codebook_size = 256;
    c.seed = 1234;
    c.beam = 1;
    return c;
}

const char *semid_tokenizer_name_at(int i) {
    for (int k = 0; semid_tokenizer_methods[k]; k++)
        if (k == i) return semid_tokenizer_methods[k]->name;
    return NULL;
}

const semid_tokenizer_method *semid_tokenizer_find_method(const char *name) {
    int i = semid_names_index(semid_tokenizer_name_at, name);
    return i < 0 ? NULL : semid_tokenizer_methods[i];
}

semid_status semid_tokenizer_lookup(const char *name, const semid_tokenizer_method **out) {
    *out = semid_tokenizer_find_method(name);
    return *out ? SEMID_OK : semid_fail_unknown("tokenizer", name, semid_tokenizer_name_at);
}

static semid_status check_finite(const semid_matrix *X) {
    int64_t bad = semid_find_nonfinite(X->data, X->rows * X->cols);
    if (bad >= 0)
        return semid_fail(SEMID_ENUMERIC, "embedding row %lld has a non-finite value (column %lld)",
                          (long long)(bad / X->cols), (long long)(bad % X->cols));
    return SEMID_OK;
}

semid_status semid_tokenizer_fit(const semid_matrix *X, const semid_tokenizer_config *cfg, semid_tokenizer **out) {
    *out = NULL;
    const semid_tokenizer_method *m;
    SEMID_TRY(semid_tokenizer_lookup(cfg->method ? cfg->method : semid_tokenizer_methods[0]->name, &m));
    if (cfg->levels < 1) return semid_fail(SEMID_EINVAL, "levels must be >= 1 (got %d)", cfg->levels);
    if (cfg->codebook_size < 1)
        return semid_fail(SEMID_EINVAL, "codebook size must be >= 1 (got %d)", cfg->codebook_size);
    if (cfg->beam < 0) return semid_fail(SEMID_EINVAL, "beam must be >= 1 (got %d)", cfg->beam);
    if (X->rows < 1 || X->cols < 1)
        return semid_fail(SEMID_EINVAL, "empty embedding matrix (%lld x %lld)", (long long)X->rows, (long long)X->cols);
    if (X->rows < cfg->codebook_size && !m->unique_codes) /* atomic IDs: the codebook is the catalog */
        return semid_fail(SEMID_EINVAL,
                          "codebook size %d is larger than the number of items (%lld): use --codebook %lld or less",
                          cfg->codebook_size, (long long)X->rows, (long long)X->rows);
    SEMID_TRY(check_finite(X));
    semid_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return semid_fail(SEMID_ENOMEM, "out of memory");
    t->m = m;
    int saved = semid_threads_push(cfg->threads);
    semid_status st = m->fit(X, cfg, &t->state);
    semid_threads_pop(saved);
    if (st == SEMID_OK) st = compute_fingerprint(t);
    if (st != SEMID_OK) {
        semid_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SEMID_OK;
}

semid_status semid_tokenizer_encode(const semid_tokenizer *tok, const semid_matrix *X, int32_t *codes) {
    int32_t dim = tok->m->dim(tok->state);
    if (X->cols != dim)
        return semid_fail(SEMID_EINVAL, "embeddings have %lld columns but the %s tokenizer was fitted on %d",
                          (long long)X->cols, tok->m->name, dim);
    SEMID_TRY(check_finite(X));
    if (X->rows == 0) return SEMID_OK;
    return tok->m->encode(tok->state, X, codes);
}

semid_status semid_tokenizer_reconstruct(const semid_tokenizer *tok, const int32_t *codes, int64_t n,
                                         int32_t use_levels, float *out) {
    if (!tok->m->reconstruct)
        return semid_fail(SEMID_EINVAL, "the %s tokenizer has no reconstruction", tok->m->name);
    int32_t L = tok->m->levels(tok->state);
    if (use_levels < 1 || use_levels > L)
        return semid_fail(SEMID_EINVAL, "reconstruction levels must be in 1..%d (got %d)", L, use_levels);
    for (int64_t i = 0; i < n * L; i++) {
        int32_t l = (int32_t)(i % L);
        if (codes[i] < 0 || codes[i] >= tok->m->level_size(tok->state, l))
            return semid_fail(SEMID_EINVAL, "code %d of row %lld is outside level %d", codes[i], (long long)(i / L), l);
    }
    return tok->m->reconstruct(tok->state, codes, n, use_levels, out);
}

const char *semid_tokenizer_method_name(const semid_tokenizer *tok) { return tok->m->name; }
int32_t semid_tokenizer_levels(const semid_tokenizer *tok) { return tok->m->levels(tok->state); }
int32_t semid_tokenizer_level_size(const semid_tokenizer *tok, int32_t level) {
    return tok->m->level_size(tok->state, level);
}
int32_t semid_tokenizer_dim(const semid_tokenizer *tok) { return tok->m->dim(tok->state); }
void *semid_tokenizer_state(const semid_tokenizer *tok) { return tok->state; }

void semid_tokenizer_free(semid_tokenizer *tok) {
    if (!tok) return;
    if (tok->state) tok->m->free(tok->state);
    free(tok);
}

semid_status semid_tokenizer_level_errors(const semid_tokenizer *tok, const semid_matrix *X, const int32_t *codes,
                                          double *err) {
    int32_t L = semid_tokenizer_levels(tok), D = semid_tokenizer_dim(tok);
    if (X->cols != D) return semid_fail(SEMID_EINVAL, "embeddings have %lld columns, tokenizer %d", (long long)X->cols, D);
    float *rec = malloc(sizeof(float) * (size_t)(X->rows * D));
    if (!rec && X->rows > 0) return semid_fail(SEMID_ENOMEM, "out of memory");
    for (int32_t l = 0; l < L; l++) {
        semid_status st = semid_tokenizer_reconstruct(tok, codes, X->rows, l + 1, rec);
        if (st != SEMID_OK) {
            free(rec);
            return st;
        }
        double s = 0.0;
        for (int64_t i = 0; i < X->rows * D; i++) {
            double t = (double)X->data[i] - rec[i];
            s += t * t;
        }
        err[l] = X->rows > 0 ? s / (double)X->rows : 0.0;
    }
    free(rec);
    return SEMID_OK;
}

semid_status semid_codes_usage(const int32_t *codes, int64_t n, int32_t levels, int32_t level, int32_t level_size,
                               double *used_share, double *perplexity) {
    *used_share = 0.0;
    *perplexity = 0.0;
    if (level_size < 1 || n < 1) return SEMID_OK;
    int64_t *cnt = calloc((size_t)level_size, sizeof(int64_t));
    if (!cnt) return semid_fail(SEMID_ENOMEM, "out of memory (code usage of %d codes)", level_size);
    for (int64_t i = 0; i < n; i++) {
        int32_t c = codes[i * levels + level];
        if (c >= 0 && c < level_size) cnt[c]++;
    }
    int32_t used = 0;
    double h = 0.0;
    for (int32_t c = 0; c < level_size; c++) {
        if (!cnt[c]) continue;
        used++;
        double p = (double)cnt[c] / (double)n;
        h -= p * log(p);
    }
    *used_share = (double)used / level_size;
    *perplexity = exp(h);
    free(cnt);
    return SEMID_OK;
}

/* ---- File format helpers. ---- */

semid_status semid_tok_read_u32(semid_tok_reader *r, uint32_t *v, const char *what) {
    if (r->left < 4) return semid_fail(SEMID_EFORMAT, "%s: truncated tokenizer file (reading %s)", r->path, what);
    memcpy(v, r->p, 4);
    r->p += 4;
    r->left -= 4;
    return SEMID_OK;
}

static semid_status read_bytes(semid_tok_reader *r, void *dst, int64_t n, size_t size, const char *what) {
    if (n < 0 || (uint64_t)n > r->left / size)
        return semid_fail(SEMID_EFORMAT, "%s: truncated tokenizer file (reading %s)", r->path, what);
    memcpy(dst, r->p, (size_t)n * size);
    r->p += (size_t)n * size;
    r->left -= (size_t)n * size;
    return SEMID_OK;
}

semid_status semid_tok_read_f32s(semid_tok_reader *r, float *dst, int64_t n, const char *what) {
    return read_bytes(r, dst, n, sizeof(float), what);
}

semid_status semid_tok_read_i32s(semid_tok_reader *r, int32_t *dst, int64_t n, const char *what) {
    return read_bytes(r, dst, n, sizeof(int32_t), what);
}

static semid_status write_bytes(FILE *fp, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, fp) != n) return semid_fail(SEMID_EIO, "cannot write the tokenizer file (disk full?)");
    return SEMID_OK;
}

semid_status semid_tok_write_u32(FILE *fp, uint32_t v) { return write_bytes(fp, &v, 4); }
semid_status semid_tok_write_f32s(FILE *fp, const float *src, int64_t n) {
    return write_bytes(fp, src, (size_t)n * sizeof(float));
}
semid_status semid_tok_write_i32s(FILE *fp, const int32_t *src, int64_t n) {
    return write_bytes(fp, src, (size_t)n * sizeof(int32_t));
}

/* The file is serialised in memory, then written with the checksum
 * trailer after it (base/checksum.h), atomically. */
semid_status semid_tokenizer_save(const semid_tokenizer *tok, const char *path) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) return semid_fail(SEMID_ENOMEM, "out of memory saving %s", path);
    const char *name = tok->m->name;
    semid_status st = write_bytes(fp, TOK_MAGIC, 8);
    if (st == SEMID_OK) st = semid_tok_write_u32(fp, TOK_VERSION);
    if (st == SEMID_OK) st = semid_tok_write_u32(fp, (uint32_t)strlen(name));
    if (st == SEMID_OK) st = write_bytes(fp, name, strlen(name));
    if (st == SEMID_OK) st = semid_tok_write_u32(fp, (uint32_t)semid_tokenizer_levels(tok));
    if (st == SEMID_OK) st = semid_tok_write_u32(fp, (uint32_t)semid_tokenizer_dim(tok));
    if (st == SEMID_OK) st = tok->m->write(tok->state, fp);
    if (fclose(fp) != 0 && st == SEMID_OK) st = semid_fail(SEMID_ENOMEM, "out of memory");
    if (st == SEMID_OK) st = semid_write_file_trailed(path, buf, len);
    else semid_fail_context(st, "saving %s", path);
    free(buf);
    return st;
}

semid_status semid_tokenizer_load(const char *path, semid_tokenizer **out) {
    *out = NULL;
    char *data;
    size_t len;
    SEMID_TRY(semid_read_file(path, &data, &len));
    semid_status st = semid_checksum_trailer_check(path, data, &len);
    if (st != SEMID_OK) {
        free(data);
        return st;
    }
    semid_tok_reader r = {(const uint8_t *)data, len, path};
    semid_tokenizer *t = NULL;
    uint32_t version = 0, name_len = 0, levels = 0, dim = 0;
    char name[64];
    if (len < 8 || memcmp(data, TOK_MAGIC, 8) != 0) {
        st = semid_fail(SEMID_EFORMAT, "%s: not a semid tokenizer file (bad magic)", path);
        goto done;
    }
    r.p += 8;
    r.left -= 8;
    if ((st = semid_tok_read_u32(&r, &version, "version")) != SEMID_OK) goto done;
    if (version != TOK_VERSION) {
        st = semid_fail(SEMID_EFORMAT, "%s: tokenizer file version %u, this semid reads %d", path, version, TOK_VERSION);
        goto done;
    }
    if ((st = semid_tok_read_u32(&r, &name_len, "method name")) != SEMID_OK) goto done;
    if (name_len == 0 || name_len >= sizeof name || name_len > r.left) {
        st = semid_fail(SEMID_EFORMAT, "%s: bad method name length %u", path, name_len);
        goto done;
    }
    memcpy(name, r.p, name_len);
    name[name_len] = '\0';
    r.p += name_len;
    r.left -= name_len;
    if ((st = semid_tok_read_u32(&r, &levels, "levels")) != SEMID_OK) goto done;
    if ((st = semid_tok_read_u32(&r, &dim, "dimension")) != SEMID_OK) goto done;
    const semid_tokenizer_method *m;
    if ((st = semid_tokenizer_lookup(name, &m)) != SEMID_OK) {
        semid_fail_context(st, "%s", path);
        goto done;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        st = semid_fail(SEMID_ENOMEM, "out of memory");
        goto done;
    }
    t->m = m;
    if ((st = m->read(&r, &t->state)) != SEMID_OK) goto done;
    if ((uint32_t)m->levels(t->state) != levels || (uint32_t)m->dim(t->state) != dim) {
        st = semid_fail(SEMID_EFORMAT, "%s: header says %u levels x %u dims, payload disagrees", path, levels, dim);
        goto done;
    }
    if (r.left != 0) {
        st = semid_fail(SEMID_EFORMAT, "%s: %zu unexpected bytes after the tokenizer", path, r.left);
        goto done;
    }
    st = compute_fingerprint(t);
done:
    free(data);
    if (st != SEMID_OK) {
        semid_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SEMID_OK;
}

void semid_prefix_share_codes_free(semid_prefix_share_codes *c) {
    if (!c) return;
    free(c->level_size);
    free(c->codes[0]);
    free(c->codes[1]);
    memset(c, 0, sizeof *c);
}
