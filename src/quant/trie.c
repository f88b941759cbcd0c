#include "quant/trie.h"

#include <stdlib.h>
#include <string.h>

#include "base/status.h"

/* Nodes in breadth-first order; the children of a node are contiguous in
 * child_token/child_node (sorted by token), the items of a leaf contiguous
 * in leaf_items (in item index order). */
struct semid_trie {
    int32_t depth;
    int32_t n_nodes;
    int64_t *first;       /* (n_nodes) start of a node's children, or of a leaf's items */
    int32_t *count;       /* (n_nodes) number of children, or of a leaf's items */
    int32_t *child_token; /* (n_nodes - 1) */
    int32_t *child_node;  /* (n_nodes - 1) */
    int32_t *leaf_items;  /* (n_items) */
    int32_t *node_depth;  /* (n_nodes) */
};

void semid_trie_free(semid_trie *trie) {
    if (!trie) return;
    free(trie->first);
    free(trie->count);
    free(trie->child_token);
    free(trie->child_node);
    free(trie->leaf_items);
    free(trie->node_depth);
    free(trie);
}

typedef struct trie_sort {
    const int32_t *tokens; /* (n, L) */
    int32_t L;
} trie_sort;

static _Thread_local const trie_sort *g_ts;

static int cmp_items(const void *pa, const void *pb) {
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    const int32_t *ta = g_ts->tokens + (int64_t)a * g_ts->L, *tb = g_ts->tokens + (int64_t)b * g_ts->L;
    for (int32_t l = 0; l < g_ts->L; l++)
        if (ta[l] != tb[l]) return ta[l] < tb[l] ? -1 : 1;
    return a < b ? -1 : a > b;
}

semid_status semid_trie_build(const semid_idtable *t, int task, semid_trie **out) {
    return semid_trie_build_masked(t, task, NULL, out);
}

semid_status semid_trie_build_masked(const semid_idtable *t, int task, const uint8_t *skip, semid_trie **out) {
    *out = NULL;
    if (task != SEMID_TASK_SEARCH && task != SEMID_TASK_REC)
        return semid_fail(SEMID_EINVAL, "trie: unknown task %d", task);
    const int32_t n = t->n_items, L = t->n_levels;
    const int64_t max_nodes = 1 + (int64_t)n * L;
    semid_trie *tr = calloc(1, sizeof *tr);
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)n * (size_t)L);
    int32_t *order = malloc(sizeof(int32_t) * (size_t)n);
    /* Per node: the range of `order` it covers (breadth-first queue). */
    int32_t *range_b = malloc(sizeof(int32_t) * (size_t)max_nodes);
    int32_t *range_e = malloc(sizeof(int32_t) * (size_t)max_nodes);
    if (tr) {
        tr->first = malloc(sizeof(int64_t) * (size_t)max_nodes);
        tr->count = malloc(sizeof(int32_t) * (size_t)max_nodes);
        tr->child_token = malloc(sizeof(int32_t) * (size_t)max_nodes);
        tr->child_node = malloc(sizeof(int32_t) * (size_t)max_nodes);
        tr->leaf_items = malloc(sizeof(int32_t) * (size_t)n);
        tr->node_depth = malloc(sizeof(int32_t) * (size_t)max_nodes);
    }
    if (!tr || !tokens || !order || !range_b || !range_e || !tr->first || !tr->count || !tr->child_token || !tr->child_node ||
        !tr->leaf_items || !tr->node_depth) {
        free(tokens);
        free(order);
        free(range_b);
        free(range_e);
        semid_trie_free(tr);
        return semid_fail(SEMID_ENOMEM, "out of memory building the trie of %d items", n);
    }
    tr->depth = L;
    int32_t n_kept = 0;
    for (int32_t i = 0; i < n; i++) {
        semid_idtable_tokens(t, task, i, tokens + (int64_t)i * L);
        if (!skip || !skip[i]) order[n_kept++] = i;
    }
    trie_sort ctx = {tokens, L};
    g_ts = &ctx;
    qsort(order, (size_t)n_kept, sizeof(int32_t), cmp_items);
    g_ts = NULL;

    int32_t n_nodes = 1;
    int64_t n_children = 0, n_leaf_items = 0;
    range_b[0] = 0;
    range_e[0] = n_kept;
    tr->node_depth[0] = 0;
    for (int32_t node = 0; node < n_nodes; node++) {
        int32_t b = range_b[node], e = range_e[node], d = tr->node_depth[node];
        if (d == L) {
            tr->first[node] = n_leaf_items;
            tr->count[node] = e - b;
            memcpy(tr->leaf_items + n_leaf_items, order + b, sizeof(int32_t) * (size_t)(e - b));
            n_leaf_items += e - b;
            continue;
        }
        tr->first[node] = n_children;
        for (int32_t i = b; i < e;) {
            int32_t tok = tokens[(int64_t)order[i] * L + d];
            int32_t j = i + 1;
            while (j < e && tokens[(int64_t)order[j] * L + d] == tok) j++;
            tr->child_token[n_children] = tok;
            tr->child_node[n_children] = n_nodes;
            n_children++;
            range_b[n_nodes] = i;
            range_e[n_nodes] = j;
            tr->node_depth[n_nodes] = d + 1;
            n_nodes++;
            i = j;
        }
        tr->count[node] = (int32_t)(n_children - tr->first[node]);
    }
    tr->n_nodes = n_nodes;
    free(tokens);
    free(order);
    free(range_b);
    free(range_e);
    *out = tr;
    return SEMID_OK;
}

int32_t semid_trie_depth(const semid_trie *trie) { return trie->depth; }

int32_t semid_trie_node_count(const semid_trie *trie) { return trie->n_nodes; }

int32_t semid_trie_node_depth(const semid_trie *trie, int32_t node) { return trie->node_depth[node]; }

int32_t semid_trie_children(const semid_trie *trie, int32_t node, const int32_t **tokens, const int32_t **children) {
    if (node < 0 || node >= trie->n_nodes || trie->node_depth[node] == trie->depth) {
        *tokens = NULL;
        *children = NULL;
        return 0;
    }
    int64_t b = trie->first[node];
    *tokens = trie->child_token + b;
    *children = trie->child_node + b;
    return trie->count[node];
}

int32_t semid_trie_child(const semid_trie *trie, int32_t node, int32_t token) {
    const int32_t *tok, *ch;
    int32_t n = semid_trie_children(trie, node, &tok, &ch);
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (tok[mid] < token) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && tok[lo] == token ? ch[lo] : -1;
}

int32_t semid_trie_items(const semid_trie *trie, int32_t node, const int32_t **items) {
    if (node < 0 || node >= trie->n_nodes || trie->node_depth[node] != trie->depth) {
        *items = NULL;
        return 0;
    }
    int64_t b = trie->first[node];
    *items = trie->leaf_items + b;
    return trie->count[node];
}
