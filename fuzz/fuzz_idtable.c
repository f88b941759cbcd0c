/* libFuzzer harness for the Semantic-ID table loader (src/quant/idtable.c)
 * and what is built on a loaded table (tries, collisions, export).
 *
 * Input: the .sid file (JSON). A load must end in SEMID_OK or a clean
 * error, never a crash, a leak or undefined behaviour (nor an allocation
 * larger than the file can describe); beyond that, for a table loaded:
 *   - it validates, and every token of every item maps back to its task and
 *     level (semid_idtable_token_info);
 *   - the tries of both tasks build and the collision statistics add up;
 *   - round trip: saved and loaded again (its checksum verified), it has the same fingerprint.
 *
 *   make fuzz && cp -r fuzz/corpus/idtable /tmp/c && build/fuzz/fuzz_idtable -max_total_time=120 /tmp/c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "quant/idtable.h"
#include "quant/trie.h"
#include "fuzz_workdir.h"
#include "semid/semid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    init_workdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char in[512], out[512];
    path_of("in.sid", in, sizeof in);
    write_file(in, data, size);
    semid_idtable t;
    if (semid_idtable_load(in, &t) != SEMID_OK) return 0;
    if (semid_idtable_validate(&t) != SEMID_OK) abort();
    int32_t tok[64];
    for (int task = 0; task < 2; task++) {
        for (int32_t i = 0; i < t.n_items; i++) {
            semid_idtable_tokens(&t, task, i, tok);
            for (int32_t l = 0; l < t.n_levels; l++) {
                int tk, lv;
                if (!semid_idtable_token_info(&t, tok[l], &tk, &lv) || lv != l) abort();
            }
        }
        semid_trie *trie = NULL;
        if (semid_trie_build(&t, task, &trie) == SEMID_OK) semid_trie_free(trie);
        semid_collision_stats cs;
        if (semid_idtable_collisions(&t, task, &cs) == SEMID_OK &&
            (cs.n_items != t.n_items || cs.distinct_ids < 1 || cs.distinct_ids > t.n_items ||
             cs.colliding_items > t.n_items))
            abort();
    }
    if (semid_idtable_export_tsv(&t, path_of("out.tsv", out, sizeof out)) != SEMID_OK) abort();
    if (semid_idtable_save(&t, path_of("out.sid", out, sizeof out)) != SEMID_OK) abort();
    semid_idtable back;
    verify_checksums(1);
    if (semid_idtable_load(out, &back) != SEMID_OK) abort();
    verify_checksums(0);
    if (back.fingerprint != t.fingerprint) abort();
    semid_idtable_free(&back);
    semid_idtable_free(&t);
    return 0;
}
