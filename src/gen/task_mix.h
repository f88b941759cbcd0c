/* The mix of the two tasks in a training epoch, and the epoch's order.
 *
 * An epoch has as many two-task slots as there are search and rec
 * sequences (ns + nr), whatever the mix, so a mix changes what the steps
 * train on, not how many there are. As in the data (share 0), the slots
 * are the sequences themselves. With a search share S in (0, 1), S of the
 * slots are search slots, which cycle through a shuffled list of the
 * search sequences, and the rest rec slots, which take a random subset of
 * the rec sequences or cycle through them. Personalised-search slots
 * (gen/train.h) come after, and the whole epoch is shuffled.
 *
 * Where a catalog has many items and few users, search sequences swamp
 * rec ones (9,066 items and 671 users: 86k against 4.4k) and
 * recommendation learns little beyond popularity; the default, auto,
 * gives the smaller task 1 / (1 + SEMID_GEN_AUTO_RATIO) of the slots where
 * the larger has more than SEMID_GEN_AUTO_RATIO times its sequences, and
 * leaves milder mixes as they are (ML-1M: 34k search, 50k rec).
 * docs/results-ml1m.md, "Task balance", has the measurement. */
#ifndef SEMID_GEN_TASK_MIX_H
#define SEMID_GEN_TASK_MIX_H

#include <stdint.h>

#include "semid/semid.h"

#define SEMID_GEN_SHARE_AUTO (-1.0)
#define SEMID_GEN_AUTO_RATIO 4.0

/* The search share an epoch of ns search and nr rec sequences trains with
 * under the setting `search_share` (SEMID_GEN_SHARE_AUTO, 0 or a share in
 * (0, 1)): 0 = as in the data. A task without sequences: 0. */
double semid_gen_search_share(int64_t ns, int64_t nr, double search_share);

/* The search slots of such an epoch: ns for share 0, else share x (ns + nr), rounded. */
int64_t semid_gen_search_slots(int64_t ns, int64_t nr, double share);

typedef struct semid_gen_epoch_mix {
    int64_t ns, nr;           /* search and rec sequences: indices 0..ns-1, ns..ns+nr-1 */
    int64_t np;               /* personalised-search sequences, after them */
    int64_t personal_slots;   /* their slots an epoch (cycling through them) */
    double share;             /* the search share (semid_gen_search_share), 0 = as in the data */
} semid_gen_epoch_mix;

/* Epoch `epoch`'s order of sequence indices into order (ns + nr +
 * personal_slots entries): a function of (mix, seed, epoch) alone. */
semid_status semid_gen_epoch_order(const semid_gen_epoch_mix *mix, uint64_t seed, int64_t epoch, int64_t *order);

#endif
