#include "gen/expand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

typedef struct ecand {
    int32_t item;
    float score;
} ecand;

static _Thread_local const int64_t *g_pop;

/* Score desc, popularity desc, index asc. */
static int cmp_ecand(const void *pa, const void *pb) {
    const ecand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    int64_t x = g_pop ? g_pop[a->item] : 0, y = g_pop ? g_pop[b->item] : 0;
    if (x != y) return x > y ? -1 : 1;
    return a->item < b->item ? -1 : a->item > b->item;
}

static int excluded(const semid_beam_query *q, int32_t item) {
    for (int32_t j = 0; q && j < q->n_exclude; j++)
        if (q->exclude[j] == item) return 1;
    return 0;
}

semid_status semid_expand_prefix(const semid_trie *trie, const semid_beam_query *queries, const int64_t *popularity,
                                 double share, semid_beam_hits *hits) {
    if (!(share >= 0 && share <= 1)) return semid_fail(SEMID_EINVAL, "prefix expansion: share %g is not in [0, 1]", share);
    int32_t k = hits->k, cap = (int32_t)floor(share * k + 1e-9);
    if (cap == 0 || !hits->prefix_nodes || hits->n == 0) return SEMID_OK;
    int32_t depth = semid_trie_depth(trie);
    /* Items a query's prefixes can hold: at most every item of the trie. */
    int64_t max_c = 0;
    for (int32_t nd = 0; nd < semid_trie_node_count(trie); nd++) {
        const int32_t *it;
        max_c += semid_trie_items(trie, nd, &it);
    }
    ecand *cand = malloc(sizeof *cand * (size_t)(max_c > 0 ? max_c : 1));
    int32_t *items = malloc(sizeof *items * (size_t)k);
    float *scores = malloc(sizeof *scores * (size_t)k);
    if (!cand || !items || !scores) {
        free(cand);
        free(items);
        free(scores);
        return semid_fail(SEMID_ENOMEM, "prefix expansion: out of memory");
    }
    for (int64_t q = 0; q < hits->n; q++) {
        const semid_beam_query *bq = queries ? &queries[q] : NULL;
        int32_t *h = hits->items + q * k;
        float *hs = hits->scores + q * k;
        int32_t nh = hits->n_hits[q];
        int64_t nc = 0;
        for (int32_t b = 0; b < hits->n_prefix; b++) {
            int32_t p = hits->prefix_nodes[q * hits->n_prefix + b];
            float sp = hits->prefix_scores[q * hits->n_prefix + b];
            if (p < 0 || sp == -INFINITY || semid_trie_node_depth(trie, p) != depth - 1) continue;
            const int32_t *toks, *kids;
            int32_t nk = semid_trie_children(trie, p, &toks, &kids);
            for (int32_t c = 0; c < nk; c++) {
                const int32_t *it;
                int32_t ni = semid_trie_items(trie, kids[c], &it);
                for (int32_t t = 0; t < ni; t++) {
                    int32_t x = it[t], seen = 0;
                    for (int32_t u = 0; u < nh && !seen; u++) seen = h[u] == x;
                    if (seen || excluded(bq, x)) continue;
                    int64_t u = 0;
                    while (u < nc && cand[u].item != x) u++;
                    if (u < nc) {
                        if (sp > cand[u].score) cand[u].score = sp;
                        continue;
                    }
                    cand[nc++] = (ecand){x, sp};
                }
            }
        }
        g_pop = popularity;
        qsort(cand, (size_t)nc, sizeof *cand, cmp_ecand);
        g_pop = NULL;
        int32_t out = 0, i = 0, taken = 0;
        int64_t j = 0;
        while (out < k) {
            int e_ok = j < nc && taken < cap;
            if (i < nh && (!e_ok || hs[i] >= cand[j].score)) {
                items[out] = h[i];
                scores[out++] = hs[i++];
            } else if (e_ok) {
                items[out] = cand[j].item;
                scores[out++] = cand[j++].score;
                taken++;
            } else {
                break;
            }
        }
        for (int32_t t = 0; t < k; t++) {
            h[t] = t < out ? items[t] : -1;
            hs[t] = t < out ? scores[t] : -INFINITY;
        }
        hits->n_hits[q] = out;
    }
    free(cand);
    free(items);
    free(scores);
    return SEMID_OK;
}
