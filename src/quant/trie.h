/* Prefix trie over the IDs of one task of an ID table: the decoder extends a
 * beam only by tokens that lead to some real item. Nodes are numbered from
 * the root (0); children are sorted by token. A node at depth n_levels is a
 * leaf and lists the items whose ID it is (several when IDs collide). */
#ifndef SEMID_QUANT_TRIE_H
#define SEMID_QUANT_TRIE_H

#include <stdint.h>

#include "quant/idtable.h"

typedef struct semid_trie semid_trie;

semid_status semid_trie_build(const semid_idtable *t, int task, semid_trie **out);
/* The same over the items i with skip[i] == 0 only (skip may be NULL): the
 * others have no path, so a decoder never returns them (removed items of a
 * catalog, gen/catalog.h). With every item skipped the root has no child. */
semid_status semid_trie_build_masked(const semid_idtable *t, int task, const uint8_t *skip, semid_trie **out);
void semid_trie_free(semid_trie *trie);

int32_t semid_trie_depth(const semid_trie *trie); /* = n_levels */
/* Children of `node`: returns their count; *tokens and *children point into the trie. */
int32_t semid_trie_children(const semid_trie *trie, int32_t node, const int32_t **tokens, const int32_t **children);
/* Child reached by `token`, or -1. */
int32_t semid_trie_child(const semid_trie *trie, int32_t node, int32_t token);
/* Items at a leaf (0 for inner nodes), in item index order. */
int32_t semid_trie_items(const semid_trie *trie, int32_t node, const int32_t **items);

/* Nodes in all (breadth-first numbering) and a node's depth (root 0, leaves n_levels). */
int32_t semid_trie_node_count(const semid_trie *trie);
int32_t semid_trie_node_depth(const semid_trie *trie, int32_t node);

#endif
