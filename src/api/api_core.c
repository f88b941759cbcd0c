/* The version and the helpers the API wrappers share. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "base/status.h"

const char *semid_version(void) { return SEMID_VERSION_STRING; }

int semid_version_number(void) { return SEMID_VERSION_NUMBER; }

semid_status semid_api_need(const void *p, const char *fn, const char *what) {
    if (p) return SEMID_OK;
    return semid_fail(SEMID_EINVAL, "%s: %s is NULL", fn, what);
}

semid_status semid_api_calloc(void *out, size_t n) {
    void *p = calloc(1, n ? n : 1);
    memcpy(out, &p, sizeof p);
    return p ? SEMID_OK : semid_fail(SEMID_ENOMEM, "out of memory");
}

char *semid_api_strdup(const char *s, int *ok) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (!c) {
        *ok = 0;
        return NULL;
    }
    memcpy(c, s, n);
    return c;
}
