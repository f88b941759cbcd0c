#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dist/dist.h"

static void print_usage(const char *usage, const cli_option *opts, int n_opts) {
    printf("%s\n\noptions:\n", usage);
    for (int i = 0; i < n_opts; i++) {
        const cli_option *o = &opts[i];
        char def[96] = "";
        switch (o->type) {
        case CLI_STRING:
            if (*(const char **)o->dest) snprintf(def, sizeof def, " (default: %s)", *(const char **)o->dest);
            break;
        case CLI_INT: snprintf(def, sizeof def, " (default: %d)", *(int *)o->dest); break;
        case CLI_INT64: snprintf(def, sizeof def, " (default: %lld)", (long long)*(int64_t *)o->dest); break;
        case CLI_FLOAT: snprintf(def, sizeof def, " (default: %g)", (double)*(float *)o->dest); break;
        case CLI_DOUBLE: snprintf(def, sizeof def, " (default: %g)", *(double *)o->dest); break;
        case CLI_FLAG: break;
        }
        const char *arg = o->type == CLI_FLAG ? "" : o->type == CLI_STRING ? " S" : " N";
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", o->name, arg);
        printf("  %-26s %s%s\n", flag, o->help, def);
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

/* Integers must fit the destination (int or int64_t) and numbers must be
 * finite in the destination's precision. */
static int parse_value(const cli_option *o, const char *val) {
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case CLI_STRING: *(const char **)o->dest = val; return 0;
    case CLI_INT: {
        long long v = strtoll(val, &end, 10);
        if (end == val || *end) break;
        if (errno == ERANGE || v < INT32_MIN || v > INT32_MAX) {
            fprintf(stderr, "semid: error: --%s: %s does not fit in an integer of 32 bits (%d..%d)\n", o->name, val,
                    INT32_MIN, INT32_MAX);
            return -1;
        }
        *(int *)o->dest = (int)v;
        return 0;
    }
    case CLI_INT64: {
        long long v = strtoll(val, &end, 10);
        if (end == val || *end) break;
        if (errno == ERANGE) {
            fprintf(stderr, "semid: error: --%s: %s does not fit in an integer of 64 bits\n", o->name, val);
            return -1;
        }
        *(int64_t *)o->dest = v;
        return 0;
    }
    case CLI_FLOAT:
    case CLI_DOUBLE: {
        double v = strtod(val, &end);
        if (end == val || *end || v != v) break;
        double limit = o->type == CLI_FLOAT ? (double)FLT_MAX : DBL_MAX;
        if ((errno == ERANGE && (v > 1.0 || v < -1.0)) || !(v >= -limit && v <= limit)) {
            fprintf(stderr, "semid: error: --%s: %s does not fit in a %s number (at most %g in size)\n", o->name, val,
                    o->type == CLI_FLOAT ? "single-precision" : "double-precision", limit);
            return -1;
        }
        if (o->type == CLI_FLOAT) *(float *)o->dest = (float)v;
        else *(double *)o->dest = v;
        return 0;
    }
    case CLI_FLAG: return 0;
    }
    fprintf(stderr, "semid: error: --%s: '%s' is not a valid %s\n", o->name, val,
            o->type == CLI_INT || o->type == CLI_INT64 ? "integer" : "number");
    return -1;
}

int cli_parse(int argc, char **argv, int first, const cli_option *opts, int n_opts, const char *usage,
              const char **positional, int max_positional, int *n_positional) {
    *n_positional = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(usage, opts, n_opts);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*n_positional >= max_positional) {
                fprintf(stderr, "semid: error: unexpected argument '%s' (see --help)\n", a);
                return -1;
            }
            positional[(*n_positional)++] = a;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_option *o = NULL;
        for (int k = 0; k < n_opts; k++)
            if (strlen(opts[k].name) == name_len && strncmp(opts[k].name, name, name_len) == 0) o = &opts[k];
        if (!o) {
            fprintf(stderr, "semid: error: unknown option '--%.*s' (see --help)\n", (int)name_len, name);
            return -1;
        }
        if (o->type == CLI_FLAG) {
            if (eq) {
                fprintf(stderr, "semid: error: --%s takes no value\n", o->name);
                return -1;
            }
            *(int *)o->dest = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "semid: error: --%s needs a value\n", o->name);
            return -1;
        }
        if (parse_value(o, val) != 0) return -1;
    }
    return 0;
}

int cli_check_ranges(const cli_option *opts, int n_opts, const cli_range *ranges, int n_ranges) {
    for (int r = 0; r < n_ranges; r++) {
        const cli_option *o = NULL;
        for (int i = 0; i < n_opts && !o; i++)
            if (strcmp(opts[i].name, ranges[r].name) == 0) o = &opts[i];
        if (!o) continue;
        double v;
        switch (o->type) {
        case CLI_INT: v = *(const int *)o->dest; break;
        case CLI_INT64: v = (double)*(const int64_t *)o->dest; break;
        case CLI_FLOAT: v = *(const float *)o->dest; break;
        case CLI_DOUBLE: v = *(const double *)o->dest; break;
        default: continue;
        }
        if (v >= ranges[r].min && v <= ranges[r].max) continue;
        fprintf(stderr, "semid: error: --%s: %.15g is out of range: it must be in %.15g..%.15g\n", o->name, v,
                ranges[r].min, ranges[r].max);
        return -1;
    }
    return 0;
}

int64_t cli_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (int64_t)pages * page : 0;
}

int cli_report(semid_status st) {
    const char *msg = semid_last_error();
    if (semid_dist_size() > 1) /* which of the job's processes says so */
        fprintf(stderr, "semid: error: rank %d of %d: %s\n", semid_dist_rank(), semid_dist_size(),
                msg[0] ? msg : semid_status_name(st));
    else
        fprintf(stderr, "semid: error: %s\n", msg[0] ? msg : semid_status_name(st));
    return CLI_EXIT_ERROR;
}
