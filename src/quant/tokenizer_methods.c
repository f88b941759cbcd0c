/* The registry of tokenizer methods (see quant/tokenizer.h, "HOW A METHOD
 * PLUGS IN"): one row a method, whose semid_method_<name> its own file
 * defines. Table order is the order of help texts and of the experiment's
 * ablation; the first row is the default method (the paper's RQ-KMeans). */
#include <stddef.h>

#include "quant/prefix_share.h"
#include "quant/tokenizer.h"

#define TOKENIZER_ROWS(ROW) \
    ROW(rqkmeans) \
    ROW(rqvae) \
    ROW(rlfq) \
    ROW(dict) \
    ROW(atomic) \
    /* one row a line, each ending in a backslash */

#define DECLARE(name) extern const semid_tokenizer_method semid_method_##name;
TOKENIZER_ROWS(DECLARE)
#define ENTRY(name) &semid_method_##name,

const semid_tokenizer_method *const semid_tokenizer_methods[] = {TOKENIZER_ROWS(ENTRY) NULL};

/* The prefix-share quantizer (quant/prefix_share.h). */
const semid_prefix_share_fn semid_prefix_share_impl = semid_prefix_share_tokenize;
