/* The registry of Semantic-ID strategies (quant/strategy.h): one row a
 * strategy. Table order is the order of help texts and of the experiment's
 * default runs (every row). */
#include <stddef.h>

#include "base/names.h"
#include "quant/strategy.h"

static const semid_strategy_def STRATEGIES[] = {
    /* name, label, kind, embeddings, task_specific, in_main */
    {"content", "content IDs", SEMID_STRATEGY_SINGLE, {"content", NULL}, 1, 0},
    {"search", "search IDs", SEMID_STRATEGY_SINGLE, {"search", NULL}, 1, 1},
    {"rec", "rec (ENMF) IDs", SEMID_STRATEGY_SINGLE, {"rec", NULL}, 1, 1},
    {"separate", "separate", SEMID_STRATEGY_SEPARATE, {"search", "rec"}, 0, 1},
    {"prefix_share", "prefix-share", SEMID_STRATEGY_PREFIX_SHARE, {"search", "rec"}, 0, 1},
    {"fused_concat", "fused concat", SEMID_STRATEGY_SINGLE, {"fused_concat", NULL}, 0, 1},
    {"fused_svd", "fused SVD", SEMID_STRATEGY_SINGLE, {"fused_svd", NULL}, 0, 1},
    {"multi", "multi-task", SEMID_STRATEGY_SINGLE, {"multi", NULL}, 0, 1},
};
enum { N_STRATEGIES = sizeof STRATEGIES / sizeof STRATEGIES[0] };

const char *semid_strategy_name_at(int i) { return i >= 0 && i < N_STRATEGIES ? STRATEGIES[i].name : NULL; }

const semid_strategy_def *semid_strategy_find(const char *name) {
    int i = semid_names_index(semid_strategy_name_at, name);
    return i < 0 ? NULL : &STRATEGIES[i];
}

semid_status semid_strategy_lookup(const char *name, const semid_strategy_def **out) {
    const semid_strategy_def *def = semid_strategy_find(name);
    if (out) *out = def;
    return def ? SEMID_OK : semid_fail_unknown("strategy", name, semid_strategy_name_at);
}
