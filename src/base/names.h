/* Names of a registry's rows (strategies, tokenizers, importers, embedding
 * methods): each registry hands out its i-th name, and these turn that into
 * lookups, help texts and "unknown X 'y' (known: a, b)" errors, so no list
 * of names is ever written out by hand beside a table. */
#ifndef SEMID_BASE_NAMES_H
#define SEMID_BASE_NAMES_H

#include <stddef.h>

#include "semid/semid.h"

/* The i-th name of a table, NULL past its end. */
typedef const char *(*semid_name_at_fn)(int i);

/* Index of `name` (exact match), or -1; a NULL name is never found. */
int semid_names_index(semid_name_at_fn name_at, const char *name);

/* "a, b, c" in table order into buf (cut short with "..." when it does not
 * fit); returns buf. */
char *semid_names_join(semid_name_at_fn name_at, char *buf, size_t cap);

/* SEMID_EINVAL with "unknown <what> '<name>' (known: a, b, c)". */
semid_status semid_fail_unknown(const char *what, const char *name, semid_name_at_fn name_at);

#endif
