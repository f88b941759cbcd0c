/* The file readers' harnesses: a private temporary directory for the
 * files each input is written to, removed at exit. Included by one harness
 * each (static: every harness is its own program).
 *
 * Checksums (base/checksum.h): the inputs are read with verification off
 * (SEMID_NO_VERIFY=1), or every mutation of a seed that carries a checksum
 * would stop at it and the parsers behind it would go unfuzzed; the
 * checksum is still found and parsed. What a harness writes back is read
 * with verification on (verified_read), so a file semid writes must pass
 * its own check. */
#ifndef SEMID_FUZZ_WORKDIR_H
#define SEMID_FUZZ_WORKDIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "semid/semid.h"

static char workdir[256];

/* dir/name, in a static buffer per call site's slot. */
static const char *path_of(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", workdir, name);
    return buf;
}

static void write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    if (!fp) abort();
    if (len && fwrite(data, 1, len, fp) != len) abort();
    if (fclose(fp) != 0) abort();
}

static void remove_workdir(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", workdir);
}

/* Verification on (1) or off (0) for the reads that follow. */
static void verify_checksums(int on) {
    if (on) unsetenv("SEMID_NO_VERIFY");
    else if (setenv("SEMID_NO_VERIFY", "1", 1) != 0) abort();
}

static void init_workdir(void) {
    verify_checksums(0);
    semid_set_log_level(SEMID_LOG_QUIET);
    semid_set_threads(1);
    snprintf(workdir, sizeof workdir, "/tmp/semid-fuzz-XXXXXX");
    if (!mkdtemp(workdir)) abort();
    atexit(remove_workdir);
}

#endif
