/* The registry of tokenizer methods (see quant/tokenizer.h, "HOW A METHOD
 * PLUGS IN"). Authors of a method add their #include and one table entry
 * here once their file compiles; nothing else needs to change. */
#include <stddef.h>

#include "quant/dictenc.h"
#include "quant/prefix_share.h"
#include "quant/rlfq.h"
#include "quant/rqkmeans.h"
#include "quant/rqvae.h"
#include "quant/tokenizer.h"

const semid_tokenizer_method *const semid_tokenizer_methods[] = {
    &semid_method_rqkmeans,
    &semid_method_rqvae,
    &semid_method_rlfq,
    &semid_method_dict,
    NULL,
};

/* The prefix-share quantizer (quant/prefix_share.h). */
const semid_prefix_share_fn semid_prefix_share_impl = semid_prefix_share_tokenize;
