/* Shared by `semid search` and `semid recommend`: loading a model bundle
 * and printing ranked items. */
#ifndef SEMID_CLI_CLI_GEN_H
#define SEMID_CLI_CLI_GEN_H

#include "gen/generate.h"

/* Prints "rank<TAB>item_id<TAB>score<TAB>title" lines for query q of hits
 * (a header line first). */
void cli_gen_print_hits(const semid_gen_bundle *b, const semid_beam_hits *h, int64_t q);

#endif
