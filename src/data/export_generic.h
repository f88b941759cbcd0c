/* Writes a dataset in the generic TSV layout that `semid data import`
 * reads (docs/formats.md): DIR/items.tsv, DIR/interactions.tsv and, when
 * the dataset has queries, DIR/queries.tsv. It lets a saved or synthetic
 * catalog be handed to other tools, and the importer be timed on any size
 * (bench/run_scale.sh). Importing the directory with --keep-uninteracted
 * gives the dataset back: the same items, users, interactions in the same
 * order with their times, and queries. */
#ifndef SEMID_DATA_EXPORT_GENERIC_H
#define SEMID_DATA_EXPORT_GENERIC_H

#include "data/dataset.h"
#include "semid/semid.h"

/* Creates DIR if needed; every file is written atomically. A tab or line
 * break inside a field (which the layout cannot hold) becomes a space. */
semid_status semid_dataset_export_generic(const semid_dataset *ds, const char *dir);

#endif
