/* Parsing JSON with cJSON, telling an allocation failure from bad input.
 * cJSON_Parse returns NULL for both; an allocation failure must be
 * SEMID_ENOMEM, not the "not valid JSON" error of a file. */
#ifndef SEMID_IO_JSON_H
#define SEMID_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* cJSON_ParseWithLength(text, len). When it fails, *oom tells why: 1 when
 * the text is JSON that cJSON reads (so an allocation failed), 0 when it
 * is not JSON. The caller reports either (no message is set here). */
cJSON *semid_json_parse(const char *text, size_t len, int *oom);

/* Whether cJSON reads `text` (len bytes) without error, allocations
 * aside: one value (after an optional UTF-8 byte-order mark and
 * whitespace), anything after it ignored, as cJSON_ParseWithLength does.
 * Strict JSON (RFC 8259) within cJSON's limits: at most 1000 nested
 * arrays and objects, numbers of at most 63 characters, no unpaired UTF-16
 * surrogate escapes. It errs on the side of "no" (a leading zero, which
 * cJSON reads, is refused), never on the side of "yes". Allocates nothing. */
bool semid_json_valid(const char *text, size_t len);

#endif
