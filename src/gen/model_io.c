/* Checkpoints of the transformer: a safetensors file with one tensor per
 * named weight (per layer: "h.<l>.ln1.w", "h.<l>.attn.qkv.w", ...; PyTorch
 * nn.Linear layout (out, in)) and, in __metadata__, "format", "config" (the
 * config as JSON) and "extra" (the caller's JSON string). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/status.h"
#include "gen/model.h"
#include "gen/model_impl.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "linalg/vec.h"

#define CHECKPOINT_FORMAT "semid-gpt-1"

/* Names in the order of semid_gpt_weights; stacked tensors get "h.<l>." in front. */
static const char *const tensor_names[SEMID_GPT_NUM_TENSORS] = {
    "wte",         "wpe",         "ln1.w",       "ln1.b",      "attn.qkv.w", "attn.qkv.b",
    "attn.proj.w", "attn.proj.b", "ln2.w",       "ln2.b",      "mlp.fc.w",   "mlp.fc.b",
    "mlp.proj.w",  "mlp.proj.b",  "lnf.w",       "lnf.b"};

static int is_stacked(int index) { return index >= 2 && index <= 13; }

void semid_gpt_tensor_name(int index, int64_t layer, char *buf, size_t size) {
    if (is_stacked(index))
        snprintf(buf, size, "h.%lld.%s", (long long)layer, tensor_names[index]);
    else
        snprintf(buf, size, "%s", tensor_names[index]);
}

/* One checkpoint tensor: a slice of the flat buffer with its name and shape. */
typedef struct tensor_slot {
    char name[64];
    float *data;
    int32_t ndim;
    int64_t shape[2];
} tensor_slot;

static int64_t list_tensors(const semid_gpt *m, float *base, tensor_slot *slots) {
    semid_gpt_tensor_shape s[SEMID_GPT_NUM_TENSORS];
    semid_gpt_tensor_shapes(&m->cfg, s);
    int64_t n = 0;
    float *cur = base;
    for (int i = 0; i < SEMID_GPT_NUM_TENSORS; i++) {
        int64_t layers = is_stacked(i) ? s[i].dims[0] : 1;
        int64_t per = m->tensor_sizes[i] / layers;
        for (int64_t l = 0; l < layers; l++) {
            tensor_slot *t = &slots[n++];
            semid_gpt_tensor_name(i, l, t->name, sizeof t->name);
            t->data = cur + l * per;
            const int64_t *dims = is_stacked(i) ? s[i].dims + 1 : s[i].dims;
            t->ndim = is_stacked(i) ? s[i].ndim - 1 : s[i].ndim;
            t->shape[0] = dims[0];
            t->shape[1] = t->ndim > 1 ? dims[1] : 0;
        }
        cur += m->tensor_sizes[i];
    }
    return n;
}

static int64_t num_slots(const semid_gpt_config *cfg) { return 4 + 12 * (int64_t)cfg->n_layer; }

semid_status semid_gpt_find_tensor(const semid_gpt *m, const char *name, int64_t *offset, int64_t *numel) {
    int64_t n = num_slots(&m->cfg);
    tensor_slot *slots = malloc((size_t)n * sizeof *slots);
    if (!slots) return semid_fail(SEMID_ENOMEM, "out of memory");
    list_tensors(m, m->params_mem, slots);
    semid_status st = SEMID_ENOTFOUND;
    for (int64_t i = 0; i < n; i++) {
        if (strcmp(slots[i].name, name) != 0) continue;
        *offset = slots[i].data - m->params_mem;
        *numel = slots[i].shape[0] * (slots[i].ndim > 1 ? slots[i].shape[1] : 1);
        st = SEMID_OK;
        break;
    }
    free(slots);
    if (st != SEMID_OK) return semid_fail(st, "the model has no tensor named '%s'", name);
    return SEMID_OK;
}

semid_status semid_gpt_save(const semid_gpt *m, const char *path, const char *extra_json) {
    int64_t n = num_slots(&m->cfg);
    tensor_slot *slots = malloc((size_t)n * sizeof *slots);
    semid_st_tensor_ref *refs = calloc((size_t)n, sizeof *refs);
    if (!slots || !refs) {
        free(slots);
        free(refs);
        return semid_fail(SEMID_ENOMEM, "out of memory saving %s", path);
    }
    list_tensors(m, m->params_mem, slots);
    for (int64_t i = 0; i < n; i++) {
        refs[i].name = slots[i].name;
        refs[i].data = slots[i].data;
        refs[i].ndim = slots[i].ndim;
        refs[i].shape[0] = slots[i].shape[0];
        refs[i].shape[1] = slots[i].shape[1];
    }
    char config[256];
    const semid_gpt_config *c = &m->cfg;
    snprintf(config, sizeof config,
             "{\"vocab_size\":%d,\"max_seq_len\":%d,\"n_layer\":%d,\"n_head\":%d,\"d_model\":%d}", c->vocab_size,
             c->max_seq_len, c->n_layer, c->n_head, c->d_model);
    const char *keys[3] = {"format", "config", "extra"};
    const char *values[3] = {CHECKPOINT_FORMAT, config, extra_json};
    semid_status st = semid_safetensors_write(path, refs, n, keys, values, extra_json ? 3 : 2);
    free(slots);
    free(refs);
    return st;
}

static semid_status parse_config(const char *path, const char *json, semid_gpt_config *cfg) {
    if (!json) return semid_fail(SEMID_EFORMAT, "%s: not a semid model checkpoint (no config in its metadata)", path);
    int oom = 0;
    cJSON *root = semid_json_parse(json, strlen(json), &oom);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        if (oom) return semid_fail(SEMID_ENOMEM, "%s: out of memory", path);
        return semid_fail(SEMID_EFORMAT, "%s: the model config in the metadata is not a JSON object", path);
    }
    const char *keys[5] = {"vocab_size", "max_seq_len", "n_layer", "n_head", "d_model"};
    int32_t *fields[5] = {&cfg->vocab_size, &cfg->max_seq_len, &cfg->n_layer, &cfg->n_head, &cfg->d_model};
    for (int i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 2147483647.0 ||
            v->valuedouble != (double)(int32_t)v->valuedouble) {
            cJSON_Delete(root);
            return semid_fail(SEMID_EFORMAT, "%s: the model config lacks a valid %s", path, keys[i]);
        }
        *fields[i] = (int32_t)v->valuedouble;
    }
    cJSON_Delete(root);
    return SEMID_OK;
}

static semid_status load_tensors(const semid_safetensors *st, semid_gpt *m) {
    const char *path = st->path;
    int64_t n = num_slots(&m->cfg);
    tensor_slot *slots = malloc((size_t)n * sizeof *slots);
    if (!slots) return semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
    list_tensors(m, m->params_mem, slots);
    semid_status rc = SEMID_OK;
    for (int64_t i = 0; rc == SEMID_OK && i < n; i++) {
        const tensor_slot *s = &slots[i];
        const semid_st_tensor *t = semid_safetensors_find(st, s->name);
        if (!t) {
            rc = semid_fail(SEMID_EFORMAT, "%s: tensor '%s' is missing", path, s->name);
            break;
        }
        int same = t->ndim == s->ndim;
        for (int d = 0; same && d < s->ndim; d++) same = t->shape[d] == s->shape[d];
        if (!same) {
            char got[96] = "";
            for (int d = 0; d < t->ndim && strlen(got) < 64; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            if (s->ndim == 2)
                rc = semid_fail(SEMID_EFORMAT,
                                "%s: tensor '%s' has shape [%s] but the config (vocab_size %d, d_model %d, "
                                "max_seq_len %d) needs [%lld, %lld]",
                                path, s->name, got, m->cfg.vocab_size, m->cfg.d_model, m->cfg.max_seq_len,
                                (long long)s->shape[0], (long long)s->shape[1]);
            else
                rc = semid_fail(SEMID_EFORMAT, "%s: tensor '%s' has shape [%s] but the config needs [%lld]", path,
                                s->name, got, (long long)s->shape[0]);
            break;
        }
        semid_safetensors_copy(t, s->data);
        int64_t bad = semid_find_nonfinite(s->data, t->numel);
        if (bad >= 0) rc = semid_fail(SEMID_ENUMERIC, "%s: tensor '%s' holds a NaN or Inf at %lld", path, s->name, (long long)bad);
    }
    if (rc == SEMID_OK && st->n_tensors != n)
        rc = semid_fail(SEMID_EFORMAT, "%s: %lld tensors, the config expects %lld", path, (long long)st->n_tensors,
                        (long long)n);
    free(slots);
    return rc;
}

semid_status semid_gpt_load(const char *path, semid_gpt **out, char **extra_json) {
    *out = NULL;
    if (extra_json) *extra_json = NULL;
    semid_safetensors st;
    SEMID_TRY(semid_safetensors_read(path, &st));
    semid_status rc = SEMID_OK;
    const char *format = semid_safetensors_meta(&st, "format");
    if (!format || strcmp(format, CHECKPOINT_FORMAT) != 0)
        rc = semid_fail(SEMID_EFORMAT, "%s: not a semid model checkpoint (format '%s', expected '%s')", path,
                        format ? format : "none", CHECKPOINT_FORMAT);
    semid_gpt_config cfg;
    if (rc == SEMID_OK) rc = parse_config(path, semid_safetensors_meta(&st, "config"), &cfg);
    /* The config's parameters against the floats the file holds, before
     * allocating for them (and their gradients). */
    if (rc == SEMID_OK) {
        semid_gpt_tensor_shape shapes[SEMID_GPT_NUM_TENSORS];
        semid_gpt_tensor_shapes(&cfg, shapes);
        double need = 0, have = 0;
        for (int i = 0; i < SEMID_GPT_NUM_TENSORS; i++) {
            double n = 1;
            for (int d = 0; d < shapes[i].ndim; d++) n *= (double)shapes[i].dims[d];
            need += n;
        }
        for (int64_t i = 0; i < st.n_tensors; i++) have += (double)st.tensors[i].numel;
        if (need > have)
            rc = semid_fail(SEMID_EFORMAT,
                            "%s: the config (vocab_size %d, max_seq_len %d, n_layer %d, d_model %d) needs %.0f "
                            "parameters but the file holds %.0f",
                            path, cfg.vocab_size, cfg.max_seq_len, cfg.n_layer, cfg.d_model, need, have);
    }
    semid_gpt *m = NULL;
    if (rc == SEMID_OK) {
        rc = semid_gpt_alloc(&cfg, &m);
        if (rc != SEMID_OK) semid_fail_context(rc, "%s", path);
    }
    if (rc == SEMID_OK) rc = load_tensors(&st, m);
    const char *extra = semid_safetensors_meta(&st, "extra");
    if (rc == SEMID_OK && extra_json && extra) {
        *extra_json = semid_strdup(extra);
        if (!*extra_json) rc = semid_fail(SEMID_ENOMEM, "out of memory loading %s", path);
    }
    semid_safetensors_free(&st);
    if (rc != SEMID_OK) {
        semid_gpt_free(m);
        return rc;
    }
    *out = m;
    return SEMID_OK;
}
