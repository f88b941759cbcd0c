/* Datasets through the C API: import, synthesise, generate queries, load,
 * save, and read items, users and queries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/status.h"
#include "data/import.h"
#include "data/querygen.h"
#include "data/synth.h"

semid_import_opts semid_import_opts_default(void) {
    semid_import_opts o;
    memset(&o, 0, sizeof o);
    o.format = "auto";
    o.min_rating = -HUGE_VAL;
    return o;
}

semid_synth_opts semid_synth_opts_default(void) {
    semid_synth_config c;
    semid_synth_config_default(&c);
    semid_synth_opts o;
    memset(&o, 0, sizeof o);
    o.n_items = c.n_items;
    o.n_users = c.n_users;
    o.mean_history = c.mean_history;
    o.min_history = c.min_history;
    o.n_topics = c.n_topics;
    o.queries_per_item = c.queries_per_item;
    o.queries_train = c.queries_train;
    o.queries_valid = c.queries_valid;
    o.seed = 1;
    return o;
}

semid_query_opts semid_query_opts_default(void) {
    semid_querygen_config c;
    semid_querygen_config_default(&c);
    semid_query_opts o;
    memset(&o, 0, sizeof o);
    o.per_item = c.n_per_item;
    o.train = c.n_train;
    o.valid = c.n_valid;
    o.append = 0;
    o.seed = 1;
    return o;
}

/* Wraps a filled dataset (taken over) in a handle. */
static semid_status wrap(semid_dataset *ds, semid_data **out) {
    semid_status st = ds->item_index ? SEMID_OK : semid_dataset_build_index(ds);
    semid_data *d = NULL;
    if (st == SEMID_OK) st = semid_api_calloc(&d, sizeof *d);
    if (st != SEMID_OK) {
        semid_dataset_free(ds);
        return st;
    }
    d->ds = *ds;
    *out = d;
    return SEMID_OK;
}

semid_status semid_data_import(const char *path, const semid_import_opts *opts, semid_data **out) {
    SEMID_TRY(semid_api_need(out, "semid_data_import", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(path, "semid_data_import", "path"));
    semid_import_opts o = opts ? *opts : semid_import_opts_default();
    semid_import_options io;
    semid_import_options_init(&io);
    io.min_rating = o.min_rating;
    io.user_core = o.user_core;
    io.item_core = o.item_core;
    io.drop_uninteracted_items = !o.keep_uninteracted;
    io.lenient = o.lenient != 0;
    io.descriptions_path = o.descriptions_path;
    io.queries_path = o.queries_path;
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    SEMID_TRY(semid_import(o.format ? o.format : "auto", path, &io, &ds));
    return wrap(&ds, out);
}

semid_status semid_data_synth(const semid_synth_opts *opts, semid_data **out) {
    SEMID_TRY(semid_api_need(out, "semid_data_synth", "out"));
    *out = NULL;
    semid_synth_opts o = opts ? *opts : semid_synth_opts_default();
    semid_synth_config c;
    semid_synth_config_default(&c);
    c.n_items = o.n_items;
    c.n_users = o.n_users;
    c.mean_history = o.mean_history;
    c.min_history = o.min_history;
    c.n_topics = o.n_topics;
    c.queries_per_item = o.queries_per_item;
    c.queries_train = o.queries_train;
    c.queries_valid = o.queries_valid;
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    SEMID_TRY(semid_synth_generate(&c, o.seed, &ds));
    return wrap(&ds, out);
}

semid_status semid_data_make_queries(semid_data *d, const semid_query_opts *opts) {
    SEMID_TRY(semid_api_need(d, "semid_data_make_queries", "d"));
    semid_query_opts o = opts ? *opts : semid_query_opts_default();
    if (o.per_item < 1 || o.train < 0 || o.valid < 0 || o.train + o.valid > o.per_item)
        return semid_fail(SEMID_EINVAL,
                          "semid_data_make_queries: per_item %d, train %d, valid %d: need per_item >= 1 and "
                          "0 <= train + valid <= per_item",
                          o.per_item, o.train, o.valid);
    semid_querygen_config c;
    semid_querygen_config_default(&c);
    c.n_per_item = o.per_item;
    c.n_train = o.train;
    c.n_valid = o.valid;
    c.append = o.append != 0;
    return semid_querygen_run(&d->ds, &c, o.seed, NULL);
}

semid_status semid_data_load(const char *path, semid_data **out) {
    SEMID_TRY(semid_api_need(out, "semid_data_load", "out"));
    *out = NULL;
    SEMID_TRY(semid_api_need(path, "semid_data_load", "path"));
    semid_dataset ds;
    memset(&ds, 0, sizeof ds);
    SEMID_TRY(semid_dataset_load(path, &ds));
    return wrap(&ds, out);
}

semid_status semid_data_save(const semid_data *d, const char *path) {
    SEMID_TRY(semid_api_need(d, "semid_data_save", "d"));
    SEMID_TRY(semid_api_need(path, "semid_data_save", "path"));
    return semid_dataset_save(&d->ds, path);
}

void semid_data_free(semid_data *d) {
    if (!d) return;
    semid_dataset_free(&d->ds);
    free(d);
}

const char *semid_data_name(const semid_data *d) { return d && d->ds.name ? d->ds.name : ""; }
int32_t semid_data_n_items(const semid_data *d) { return d ? d->ds.n_items : 0; }
int32_t semid_data_n_users(const semid_data *d) { return d ? d->ds.n_users : 0; }
int64_t semid_data_n_interactions(const semid_data *d) { return d ? d->ds.n_interactions : 0; }
int32_t semid_data_n_queries(const semid_data *d) { return d ? d->ds.n_queries : 0; }

static const semid_item *item_at(const semid_data *d, int32_t item) {
    return d && item >= 0 && item < d->ds.n_items ? &d->ds.items[item] : NULL;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

const char *semid_data_item_id(const semid_data *d, int32_t item) {
    const semid_item *it = item_at(d, item);
    return it ? or_empty(it->id) : NULL;
}

const char *semid_data_item_title(const semid_data *d, int32_t item) {
    const semid_item *it = item_at(d, item);
    return it ? or_empty(it->title) : NULL;
}

const char *semid_data_item_genres(const semid_data *d, int32_t item) {
    const semid_item *it = item_at(d, item);
    return it ? or_empty(it->genres) : NULL;
}

const char *semid_data_item_description(const semid_data *d, int32_t item) {
    const semid_item *it = item_at(d, item);
    return it ? or_empty(it->description) : NULL;
}

int32_t semid_data_item_year(const semid_data *d, int32_t item) {
    const semid_item *it = item_at(d, item);
    return it ? it->year : 0;
}

int32_t semid_data_item_index(const semid_data *d, const char *id) {
    return d && id ? semid_dataset_find_item(&d->ds, id) : -1;
}

const char *semid_data_user_id(const semid_data *d, int32_t user) {
    return d && user >= 0 && user < d->ds.n_users ? or_empty(d->ds.user_ids[user]) : NULL;
}

const int32_t *semid_data_user_items(const semid_data *d, int32_t user, int64_t *n) {
    if (!d || user < 0 || user >= d->ds.n_users) {
        if (n) *n = 0;
        return NULL;
    }
    int64_t a = d->ds.user_offsets[user], b = d->ds.user_offsets[user + 1];
    if (n) *n = b - a;
    return d->ds.seq_items + a;
}

const char *semid_data_query(const semid_data *d, int32_t q, int32_t *item, int32_t *split) {
    if (!d || q < 0 || q >= d->ds.n_queries) {
        if (item) *item = -1;
        if (split) *split = -1;
        return NULL;
    }
    const semid_query *x = &d->ds.queries[q];
    if (item) *item = x->item;
    if (split) *split = x->split;
    return or_empty(x->text);
}
