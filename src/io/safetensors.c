#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/checksum.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/status.h"
#include "io/json.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

/* Headers larger than this are refused rather than parsed. */
#define MAX_HEADER_BYTES ((uint64_t)100 * 1024 * 1024)

static int64_t numel_of(const int64_t *shape, int32_t ndim) {
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* The checksum: the first metadata entry, as cJSON_PrintUnformatted writes
 * it; its digits are '0' while the file is hashed. */
#define CHECKSUM_KEY "semid_checksum"
static const char CHECKSUM_FIELD[] = "\"" CHECKSUM_KEY "\":\"" SEMID_CHECKSUM_TAG;

semid_status semid_safetensors_write(const char *path, const semid_st_tensor_ref *tensors, int64_t n_tensors,
                                     const char *const *meta_keys, const char *const *meta_values, int64_t n_meta) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    semid_status st = SEMID_OK;
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    if (meta && !cJSON_AddStringToObject(meta, CHECKSUM_KEY, SEMID_CHECKSUM_TAG "0000000000000000")) meta = NULL;
    for (int64_t i = 0; meta && i < n_meta; i++) {
        if (strcmp(meta_keys[i], CHECKSUM_KEY) == 0) continue; /* a file's old checksum: replaced */
        if (!cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i])) meta = NULL;
    }
    if (!meta) st = semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
    uint64_t offset = 0;
    for (int64_t i = 0; st == SEMID_OK && i < n_tensors; i++) {
        const semid_st_tensor_ref *t = &tensors[i];
        if (t->ndim < 0 || t->ndim > SEMID_ST_MAX_DIMS || strcmp(t->name, "__metadata__") == 0 ||
            cJSON_GetObjectItemCaseSensitive(root, t->name)) {
            st = semid_fail(SEMID_EINVAL, "writing %s: tensor '%s' has a bad or duplicate name or rank", path, t->name);
            break;
        }
        uint64_t bytes = (uint64_t)numel_of(t->shape, t->ndim) * sizeof(float);
        /* keys in the order of Hugging Face's library (and of the text encoder's older files) */
        cJSON *obj = cJSON_AddObjectToObject(root, t->name);
        cJSON *dtype = obj ? cJSON_AddStringToObject(obj, "dtype", "F32") : NULL;
        cJSON *shape = dtype ? cJSON_AddArrayToObject(obj, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(obj, "data_offsets") : NULL;
        int ok = offs != NULL;
        for (int32_t d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + bytes)));
        if (!ok) st = semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);
        offset += bytes;
    }
    char *json = st == SEMID_OK ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (st != SEMID_OK) return st;
    if (!json) return semid_fail(SEMID_ENOMEM, "out of memory writing %s", path);

    /* pad the header with spaces so the data starts on an 8-byte boundary */
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    /* The hash of the file as written, with the digits still '0', goes
     * into them. */
    int64_t at = semid_checksum_find(json, jlen, CHECKSUM_FIELD);
    if (at < 0) {
        free(json);
        return semid_fail(SEMID_EINTERNAL, "writing %s: the checksum field is missing from the header", path);
    }
    semid_xxh64_state h;
    semid_xxh64_init(&h);
    semid_xxh64_update(&h, prefix, 8);
    semid_xxh64_update(&h, json, jlen);
    semid_xxh64_update(&h, "       ", hlen - jlen);
    for (int64_t i = 0; i < n_tensors; i++)
        semid_xxh64_update(&h, tensors[i].data, (size_t)numel_of(tensors[i].shape, tensors[i].ndim) * sizeof(float));
    char hex[17];
    semid_checksum_hex(semid_xxh64_final(&h), hex);
    memcpy(json + at, hex, SEMID_CHECKSUM_HEX);
    semid_atomic_file f;
    st = semid_atomic_open(&f, path);
    if (st == SEMID_OK) st = semid_atomic_write(&f, prefix, 8);
    if (st == SEMID_OK) st = semid_atomic_write(&f, json, jlen);
    if (st == SEMID_OK) st = semid_atomic_write(&f, "       ", hlen - jlen);
    for (int64_t i = 0; st == SEMID_OK && i < n_tensors; i++)
        st = semid_atomic_write(&f, tensors[i].data,
                                (size_t)numel_of(tensors[i].shape, tensors[i].ndim) * sizeof(float));
    free(json);
    if (st != SEMID_OK) {
        semid_atomic_abort(&f);
        return st;
    }
    return semid_atomic_commit(&f);
}

void semid_safetensors_free(semid_safetensors *st) {
    for (int64_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    for (int64_t i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->file);
    free(st->path);
    memset(st, 0, sizeof *st);
}

/* A JSON number that is a non-negative integer below 2^53 (exact in a double). */
static int json_index(const cJSON *x, uint64_t *out) {
    if (!cJSON_IsNumber(x)) return 0;
    double v = x->valuedouble;
    if (!(v >= 0 && v < 9007199254740992.0) || v != floor(v)) return 0;
    *out = (uint64_t)v;
    return 1;
}

/* By start, then by size: an empty tensor may share its start with the
 * next one, and must sort before it to not look like an overlap. */
static int cmp_begin(const void *a, const void *b) {
    const semid_st_tensor *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? -1 : 1;
    return x->numel < y->numel ? -1 : x->numel > y->numel;
}

static semid_status parse_tensor(const char *path, const cJSON *item, const unsigned char *data, uint64_t data_len,
                                 semid_st_tensor *t) {
    const char *name = item->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' lacks dtype, shape or data_offsets", path, name);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has dtype %s; only F32 is supported", path, name,
                          dtype->valuestring);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > SEMID_ST_MAX_DIMS)
        return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has %d dimensions (at most %d)", path, name, ndim,
                          SEMID_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t v;
        if (!json_index(dim, &v))
            return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has a bad shape entry", path, name);
        if (v != 0 && numel > (UINT64_C(1) << 60) / v)
            return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has an impossibly large shape", path, name);
        numel *= v;
        t->shape[d++] = (int64_t)v;
    }
    uint64_t begin, end;
    if (cJSON_GetArraySize(offs) != 2 || !json_index(cJSON_GetArrayItem(offs, 0), &begin) ||
        !json_index(cJSON_GetArrayItem(offs, 1), &end) || begin > end)
        return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has bad data_offsets", path, name);
    if (end > data_len)
        return semid_fail(SEMID_EFORMAT,
                          "%s: truncated: tensor '%s' ends at data byte %llu but only %llu bytes of data follow the header",
                          path, name, (unsigned long long)end, (unsigned long long)data_len);
    if (end - begin != numel * sizeof(float))
        return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has %llu bytes but its shape needs %llu", path, name,
                          (unsigned long long)(end - begin), (unsigned long long)(numel * sizeof(float)));
    t->numel = (int64_t)numel;
    t->bytes = data + begin;
    t->name = semid_strdup(name);
    if (!t->name) return semid_fail(SEMID_ENOMEM, "out of memory reading %s", path);
    return SEMID_OK;
}

static semid_status parse_header(semid_safetensors *st, const cJSON *root, const unsigned char *data,
                                 uint64_t data_len) {
    const char *path = st->path;
    int n = cJSON_GetArraySize(root);
    st->tensors = calloc((size_t)n + 1, sizeof *st->tensors);
    st->meta_keys = calloc((size_t)n + 1, sizeof(char *));
    st->meta_values = calloc((size_t)n + 1, sizeof(char *));
    if (!st->tensors || !st->meta_keys || !st->meta_values)
        return semid_fail(SEMID_ENOMEM, "out of memory reading %s", path);
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item)) return semid_fail(SEMID_EFORMAT, "%s: __metadata__ is not an object", path);
            const cJSON *kv;
            int checksums = 0;
            cJSON_ArrayForEach(kv, item) {
                if (!cJSON_IsString(kv))
                    return semid_fail(SEMID_EFORMAT, "%s: metadata value of '%s' is not a string", path, kv->string);
                if (semid_safetensors_meta(st, kv->string) || (strcmp(kv->string, CHECKSUM_KEY) == 0 && checksums))
                    return semid_fail(SEMID_EFORMAT, "%s: metadata key '%s' appears twice", path, kv->string);
                if (strcmp(kv->string, CHECKSUM_KEY) == 0) { /* checked on the bytes (semid_safetensors_verify) */
                    checksums++;
                    continue;
                }
                /* metadata objects are small; grow the arrays one by one */
                char **k = realloc(st->meta_keys, (size_t)(st->n_meta + 1) * sizeof(char *));
                if (k) st->meta_keys = k;
                char **v = realloc(st->meta_values, (size_t)(st->n_meta + 1) * sizeof(char *));
                if (v) st->meta_values = v;
                if (!k || !v) return semid_fail(SEMID_ENOMEM, "out of memory reading %s", path);
                st->meta_keys[st->n_meta] = semid_strdup(kv->string);
                st->meta_values[st->n_meta] = semid_strdup(kv->valuestring);
                st->n_meta++;
                if (!st->meta_keys[st->n_meta - 1] || !st->meta_values[st->n_meta - 1])
                    return semid_fail(SEMID_ENOMEM, "out of memory reading %s", path);
            }
            continue;
        }
        if (semid_safetensors_find(st, item->string))
            return semid_fail(SEMID_EFORMAT, "%s: tensor '%s' appears twice", path, item->string);
        SEMID_TRY(parse_tensor(path, item, data, data_len, &st->tensors[st->n_tensors]));
        st->n_tensors++;
    }
    /* no two tensors may share bytes */
    semid_st_tensor *sorted = malloc(((size_t)st->n_tensors + 1) * sizeof *sorted);
    if (!sorted) return semid_fail(SEMID_ENOMEM, "out of memory reading %s", path);
    memcpy(sorted, st->tensors, (size_t)st->n_tensors * sizeof *sorted);
    qsort(sorted, (size_t)st->n_tensors, sizeof *sorted, cmp_begin);
    for (int64_t i = 1; i < st->n_tensors; i++) {
        if (sorted[i - 1].bytes + sorted[i - 1].numel * (int64_t)sizeof(float) > sorted[i].bytes) {
            semid_status s = semid_fail(SEMID_EFORMAT, "%s: tensors '%s' and '%s' overlap", path, sorted[i - 1].name,
                                        sorted[i].name);
            free(sorted);
            return s;
        }
    }
    free(sorted);
    return SEMID_OK;
}

semid_status semid_safetensors_read(const char *path, semid_safetensors *out) {
    memset(out, 0, sizeof *out);
    out->path = semid_strdup(path);
    if (!out->path) return semid_fail(SEMID_ENOMEM, "out of memory");
    semid_status st = semid_read_file(path, &out->file, &out->file_len);
    if (st != SEMID_OK) {
        semid_safetensors_free(out);
        return st;
    }
    const unsigned char *buf = (const unsigned char *)out->file;
    size_t len = out->file_len;
    if (len < 8) {
        semid_safetensors_free(out);
        return semid_fail(SEMID_EFORMAT, "%s: truncated: %zu bytes, a safetensors file starts with 8", path, len);
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)buf[i] << (8 * i);
    if (hlen > len - 8 || hlen > MAX_HEADER_BYTES) {
        semid_safetensors_free(out);
        return semid_fail(SEMID_EFORMAT, "%s: truncated or not safetensors: header length %llu but %zu bytes follow",
                          path, (unsigned long long)hlen, len - 8);
    }
    /* Every byte against the checksum before anything is parsed: a flipped
     * byte is "corrupt", wherever it is. */
    int has_checksum = 0;
    st = semid_safetensors_verify(path, buf, len, &has_checksum);
    if (st != SEMID_OK) {
        semid_safetensors_free(out);
        return st;
    }
    int oom = 0;
    cJSON *root = semid_json_parse((const char *)buf + 8, (size_t)hlen, &oom);
    if (!has_checksum) {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
        if (cJSON_GetObjectItemCaseSensitive(meta, CHECKSUM_KEY) && semid_verify_enabled()) {
            cJSON_Delete(root);
            semid_safetensors_free(out);
            return semid_fail(SEMID_EFORMAT,
                              "%s is corrupt, or was rewritten: its __metadata__ has a %s, but not as semid writes it "
                              "(\"%s\" and 16 hex digits) (SEMID_NO_VERIFY=1 loads it unchecked)",
                              path, CHECKSUM_KEY, SEMID_CHECKSUM_TAG);
        }
        SEMID_DEBUG("%s: no checksum in its metadata: not verified", path);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        semid_safetensors_free(out);
        if (oom) return semid_fail(SEMID_ENOMEM, "%s: out of memory reading the header", path);
        return semid_fail(SEMID_EFORMAT, "%s: the safetensors header is not a JSON object", path);
    }
    st = parse_header(out, root, buf + 8 + hlen, (uint64_t)(len - 8 - hlen));
    cJSON_Delete(root);
    if (st != SEMID_OK) semid_safetensors_free(out);
    return st;
}

semid_status semid_safetensors_verify(const char *path, const void *data, size_t len, int *has_checksum) {
    const unsigned char *buf = data;
    *has_checksum = 0;
    /* The field is in the header; when its length is damaged, anywhere. */
    size_t limit = len;
    if (len >= 8) {
        uint64_t hlen = 0;
        for (int i = 0; i < 8; i++) hlen |= (uint64_t)buf[i] << (8 * i);
        if (hlen <= len - 8) limit = 8 + (size_t)hlen;
    }
    int64_t at = semid_checksum_find(buf, limit, CHECKSUM_FIELD);
    if (at < 0) return SEMID_OK;
    *has_checksum = 1;
    return semid_checksum_verify_masked(path, buf, len, (size_t)at, "in its __metadata__ " CHECKSUM_KEY);
}

const semid_st_tensor *semid_safetensors_find(const semid_safetensors *st, const char *name) {
    for (int64_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *semid_safetensors_meta(const semid_safetensors *st, const char *key) {
    for (int64_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

void semid_safetensors_copy(const semid_st_tensor *t, float *dst) {
    memcpy(dst, t->bytes, (size_t)t->numel * sizeof(float));
}
