#include "base/names.h"

#include <string.h>

#include "base/status.h"

int semid_names_index(semid_name_at_fn name_at, const char *name) {
    if (!name) return -1;
    for (int i = 0; name_at(i); i++)
        if (strcmp(name_at(i), name) == 0) return i;
    return -1;
}

char *semid_names_join(semid_name_at_fn name_at, char *buf, size_t cap) {
    if (cap == 0) return buf;
    buf[0] = '\0';
    size_t len = 0;
    for (int i = 0; name_at(i); i++) {
        size_t need = strlen(name_at(i)) + (i ? 2 : 0);
        if (len + need + 4 > cap) { /* room for "..." and the NUL */
            if (len + 4 <= cap) memcpy(buf + len, "...", 4);
            break;
        }
        if (i) memcpy(buf + len, ", ", 2);
        memcpy(buf + len + (i ? 2 : 0), name_at(i), need - (i ? 2 : 0) + 1);
        len += need;
    }
    return buf;
}

semid_status semid_fail_unknown(const char *what, const char *name, semid_name_at_fn name_at) {
    char known[512];
    return semid_fail(SEMID_EINVAL, "unknown %s '%s' (known: %s)", what, name ? name : "",
                      semid_names_join(name_at, known, sizeof known));
}
