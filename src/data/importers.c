/* The registry of dataset importers (data/import_util.h, semid_importer):
 * one row a format, whose semid_importer_<format> its own import_<format>.c
 * defines. Auto detection tries the rows in this order, so a format whose
 * files another's could contain goes first. */
#include <stddef.h>

#include "data/import_util.h"

#define IMPORTER_ROWS(ROW) \
    ROW(generic) \
    ROW(ml1m) \
    ROW(ml100k) \
    ROW(mlcsv) \
    ROW(recbole) \
    /* one row a line, each ending in a backslash */

#define DECLARE(name) extern const semid_importer semid_importer_##name;
IMPORTER_ROWS(DECLARE)
#define ENTRY(name) &semid_importer_##name,

const semid_importer *const semid_importers[] = {IMPORTER_ROWS(ENTRY) NULL};
