#include <stddef.h>

#include "base/status.h"
#include "gen/model.h"

semid_status semid_gpt_save(const semid_gpt *m, const char *path, const char *extra_json) {
    (void)m;
    (void)extra_json;
    return semid_fail(SEMID_EINTERNAL, "%s: checkpoint saving is not implemented yet", path);
}

semid_status semid_gpt_load(const char *path, semid_gpt **out, char **extra_json) {
    *out = NULL;
    if (extra_json) *extra_json = NULL;
    return semid_fail(SEMID_EINTERNAL, "%s: checkpoint loading is not implemented yet", path);
}
