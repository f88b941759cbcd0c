#include "gen/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/status.h"
#include "gen/layers.h"
#include "gen/model_impl.h"

/* Bounds that keep every size computation far from overflow. */
enum { MAX_VOCAB = 1 << 24, MAX_SEQ = 1 << 16, MAX_WIDTH = 1 << 15, MAX_LAYERS = 1024 };

static semid_status check_config(const semid_gpt_config *c) {
    if (c->vocab_size <= 0 || c->vocab_size > MAX_VOCAB)
        return semid_fail(SEMID_EINVAL, "gpt config: vocab_size %d must be in [1, %d]", c->vocab_size, MAX_VOCAB);
    if (c->max_seq_len <= 0 || c->max_seq_len > MAX_SEQ)
        return semid_fail(SEMID_EINVAL, "gpt config: max_seq_len %d must be in [1, %d]", c->max_seq_len, MAX_SEQ);
    if (c->n_layer <= 0 || c->n_layer > MAX_LAYERS)
        return semid_fail(SEMID_EINVAL, "gpt config: n_layer %d must be in [1, %d]", c->n_layer, MAX_LAYERS);
    if (c->d_model <= 0 || c->d_model > MAX_WIDTH)
        return semid_fail(SEMID_EINVAL, "gpt config: d_model %d must be in [1, %d]", c->d_model, MAX_WIDTH);
    if (c->n_head <= 0 || c->d_model % c->n_head != 0)
        return semid_fail(SEMID_EINVAL, "gpt config: d_model %d must be a positive multiple of n_head %d", c->d_model,
                          c->n_head);
    return SEMID_OK;
}

void semid_gpt_tensor_shapes(const semid_gpt_config *cfg, semid_gpt_tensor_shape s[SEMID_GPT_NUM_TENSORS]) {
    int64_t V = cfg->vocab_size, Tm = cfg->max_seq_len, L = cfg->n_layer, C = cfg->d_model;
    semid_gpt_tensor_shape shapes[SEMID_GPT_NUM_TENSORS] = {
        {2, {V, C, 0}},         {2, {Tm, C, 0}},        {2, {L, C, 0}},     {2, {L, C, 0}},
        {3, {L, 3 * C, C}},     {2, {L, 3 * C, 0}},     {3, {L, C, C}},     {2, {L, C, 0}},
        {2, {L, C, 0}},         {2, {L, C, 0}},         {3, {L, 4 * C, C}}, {2, {L, 4 * C, 0}},
        {3, {L, C, 4 * C}},     {2, {L, C, 0}},         {1, {C, 0, 0}},     {1, {C, 0, 0}},
    };
    memcpy(s, shapes, sizeof shapes);
}

static int64_t shape_numel(const semid_gpt_tensor_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];
    return n;
}

void semid_gpt_point_params(semid_gpt_weights *p, float *base, const semid_gpt_config *cfg) {
    semid_gpt_tensor_shape s[SEMID_GPT_NUM_TENSORS];
    semid_gpt_tensor_shapes(cfg, s);
    float **ptrs[SEMID_GPT_NUM_TENSORS] = {&p->wte,  &p->wpe,      &p->ln1w,     &p->ln1b,  &p->qkvw, &p->qkvb,
                                           &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw,  &p->fcb,
                                           &p->fcprojw,  &p->fcprojb,  &p->lnfw, &p->lnfb};
    float *cur = base;
    for (int i = 0; i < SEMID_GPT_NUM_TENSORS; i++) {
        *ptrs[i] = cur;
        cur += shape_numel(&s[i]);
    }
}


semid_status semid_gpt_alloc(const semid_gpt_config *cfg, semid_gpt **out) {
    *out = NULL;
    SEMID_TRY(check_config(cfg));
    semid_gpt *m = calloc(1, sizeof *m);
    if (!m) return semid_fail(SEMID_ENOMEM, "out of memory for the model");
    m->cfg = *cfg;
    m->out_lo = 0;
    m->out_hi = cfg->vocab_size;
    semid_gpt_tensor_shape s[SEMID_GPT_NUM_TENSORS];
    semid_gpt_tensor_shapes(cfg, s);
    for (int i = 0; i < SEMID_GPT_NUM_TENSORS; i++) {
        m->tensor_sizes[i] = shape_numel(&s[i]);
        m->num_params += m->tensor_sizes[i];
    }
    m->params_mem = calloc((size_t)m->num_params, sizeof(float));
    m->grads_mem = calloc((size_t)m->num_params, sizeof(float));
    m->decay_mask = calloc((size_t)m->num_params, 1);
    if (!m->params_mem || !m->grads_mem || !m->decay_mask) {
        long long n = (long long)m->num_params;
        semid_gpt_free(m);
        return semid_fail(SEMID_ENOMEM, "out of memory for %lld model parameters", n);
    }
    semid_gpt_point_params(&m->p, m->params_mem, cfg);
    semid_gpt_point_params(&m->g, m->grads_mem, cfg);
    /* decay on the embeddings and the four weight matrices */
    static const int decayed[SEMID_GPT_NUM_TENSORS] = {1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0};
    int64_t off = 0;
    for (int i = 0; i < SEMID_GPT_NUM_TENSORS; i++) {
        if (decayed[i]) memset(m->decay_mask + off, 1, (size_t)m->tensor_sizes[i]);
        off += m->tensor_sizes[i];
    }
    *out = m;
    return SEMID_OK;
}

static void fill_normal(float *x, int64_t n, float std, semid_rng *r) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(semid_rng_normal(r) * std);
}

semid_status semid_gpt_create(const semid_gpt_config *cfg, uint64_t seed, semid_gpt **out) {
    semid_gpt *m;
    SEMID_TRY(semid_gpt_alloc(cfg, &m));
    int64_t L = cfg->n_layer, C = cfg->d_model;
    semid_rng root;
    semid_rng_seed(&root, seed);
    /* one stream per tensor, so each tensor's values do not depend on the others' sizes */
    const float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)L);
    semid_rng r;
    r = semid_rng_fork(&root, 0);
    fill_normal(m->p.wte, m->tensor_sizes[0], std, &r);
    r = semid_rng_fork(&root, 1);
    fill_normal(m->p.wpe, m->tensor_sizes[1], std, &r);
    r = semid_rng_fork(&root, 4);
    fill_normal(m->p.qkvw, m->tensor_sizes[4], std, &r);
    r = semid_rng_fork(&root, 6);
    fill_normal(m->p.attprojw, m->tensor_sizes[6], proj_std, &r);
    r = semid_rng_fork(&root, 10);
    fill_normal(m->p.fcw, m->tensor_sizes[10], std, &r);
    r = semid_rng_fork(&root, 12);
    fill_normal(m->p.fcprojw, m->tensor_sizes[12], proj_std, &r);
    for (int64_t i = 0; i < L * C; i++) m->p.ln1w[i] = m->p.ln2w[i] = 1.0f;
    for (int64_t i = 0; i < C; i++) m->p.lnfw[i] = 1.0f;
    *out = m;
    return SEMID_OK;
}

static void free_acts(semid_gpt_acts *a) {
    free(a->buf);
    memset(a, 0, sizeof *a);
}

void semid_gpt_free(semid_gpt *m) {
    if (!m) return;
    free(m->params_mem);
    free(m->grads_mem);
    free(m->decay_mask);
    free_acts(&m->a);
    free(m->inputs);
    free(m->pos);
    free(m->row_targets);
    free(m->row_pos);
    free(m->logits);
    free(m->dlogits);
    free(m);
}

const semid_gpt_config *semid_gpt_get_config(const semid_gpt *m) { return &m->cfg; }

float *semid_gpt_params(semid_gpt *m, int64_t *n) {
    if (n) *n = m->num_params;
    return m->params_mem;
}

float *semid_gpt_grads(semid_gpt *m, int64_t *n) {
    if (n) *n = m->num_params;
    return m->grads_mem;
}

const uint8_t *semid_gpt_decay_mask(const semid_gpt *m) { return m->decay_mask; }

int64_t semid_gpt_num_params(const semid_gpt *m) { return m->num_params; }

/* Makes room for the activations of `rows` = B*T rows and an attention
 * tensor of B*NH*T*T per layer. */
static semid_status ensure_acts(semid_gpt *m, int64_t B, int64_t T) {
    semid_gpt_acts *a = &m->a;
    int64_t rows = B * T, att = B * T * T;
    if (a->buf && rows <= a->cap_rows && att <= a->cap_att) return SEMID_OK;
    if (rows < a->cap_rows) rows = a->cap_rows;
    if (att < a->cap_att) att = a->cap_att;
    int64_t L = m->cfg.n_layer, C = m->cfg.d_model, NH = m->cfg.n_head, N = rows;
    /* sizes in the order of the fields */
    int64_t sizes[] = {
        N * C,                             /* encoded */
        L * N * C,  L * N, L * N,          /* ln1, mean, rstd */
        L * N * 3 * C,                     /* qkv */
        L * N * C,                         /* atty */
        L * NH * att,                      /* att */
        L * N * C,                         /* residual2 */
        L * N * C,  L * N, L * N,          /* ln2, mean, rstd */
        L * N * 4 * C, L * N * 4 * C,      /* fch, fch_gelu */
        L * N * C,                         /* residual3 */
        N * C,      N,     N,              /* lnf, mean, rstd */
        N * C,                             /* lnf_rows */
        N,          N,                     /* losses, lse */
        N * C,      N * C, N * 3 * C, N * C, N * 4 * C, N * 4 * C, N * C, /* dres .. dlnf_rows */
        N * C + 2 * NH * att,              /* att_scratch, >= semid_attention_scratch_size */
        N * C,                             /* tmp */
    };
    float **fields[] = {&a->encoded,  &a->ln1,       &a->ln1_mean, &a->ln1_rstd, &a->qkv,       &a->atty,
                        &a->att,      &a->residual2, &a->ln2,      &a->ln2_mean, &a->ln2_rstd,  &a->fch,
                        &a->fch_gelu, &a->residual3, &a->lnf,      &a->lnf_mean, &a->lnf_rstd,  &a->lnf_rows,
                        &a->losses,   &a->lse,       &a->dres,     &a->dln,      &a->dqkv,      &a->datty,
                        &a->dfch,     &a->dfch_gelu, &a->dlnf_rows, &a->att_scratch, &a->tmp};
    enum { NF = sizeof fields / sizeof fields[0] };
    _Static_assert(sizeof sizes / sizeof sizes[0] == NF, "one size per activation");
    int64_t total = 0;
    for (int i = 0; i < NF; i++) total += sizes[i];
    free_acts(a);
    a->buf = malloc((size_t)total * sizeof(float));
    int32_t *inputs = realloc(m->inputs, (size_t)rows * sizeof(int32_t));
    if (inputs) m->inputs = inputs;
    int32_t *pos = realloc(m->pos, (size_t)rows * sizeof(int32_t));
    if (pos) m->pos = pos;
    int32_t *rt = realloc(m->row_targets, (size_t)rows * sizeof(int32_t));
    if (rt) m->row_targets = rt;
    int64_t *rp = realloc(m->row_pos, (size_t)rows * sizeof(int64_t));
    if (rp) m->row_pos = rp;
    if (!a->buf || !inputs || !pos || !rt || !rp) {
        free_acts(a);
        return semid_fail(SEMID_ENOMEM, "out of memory for activations of %lld positions", (long long)rows);
    }
    float *cur = a->buf;
    for (int i = 0; i < NF; i++) {
        *fields[i] = cur;
        cur += sizes[i];
    }
    a->cap_rows = rows;
    a->cap_att = att;
    m->cap_tokens = rows;
    return SEMID_OK;
}

/* Room for logits (and their gradient) of rows x cols. */
static semid_status ensure_logits(semid_gpt *m, int64_t rows, int64_t cols) {
    if (rows * cols <= m->cap_logit_floats) return SEMID_OK;
    size_t n = (size_t)rows * (size_t)cols;
    free(m->logits);
    free(m->dlogits);
    m->logits = malloc(n * sizeof(float));
    m->dlogits = malloc(n * sizeof(float));
    if (!m->logits || !m->dlogits) {
        free(m->logits);
        free(m->dlogits);
        m->logits = m->dlogits = NULL;
        m->cap_logit_floats = 0;
        return semid_fail(SEMID_ENOMEM, "out of memory for %lld rows of logits", (long long)rows);
    }
    m->cap_logit_floats = rows * cols;
    return SEMID_OK;
}

semid_status semid_gpt_forward(semid_gpt *m, const int32_t *inputs, const int32_t *targets, int32_t B, int32_t T,
                               float *loss) {
    return semid_gpt_forward_packed(m, inputs, targets, NULL, B, T, loss);
}

semid_status semid_gpt_forward_packed(semid_gpt *m, const int32_t *inputs, const int32_t *targets, const int32_t *pos,
                                      int32_t B, int32_t T, float *loss) {
    const semid_gpt_config *cfg = &m->cfg;
    if (B <= 0 || T <= 0 || T > cfg->max_seq_len)
        return semid_fail(SEMID_EINVAL, "gpt forward: batch %d x length %d (length must be in [1, %d])", B, T,
                          cfg->max_seq_len);
    int64_t N = (int64_t)B * T, V = cfg->vocab_size, C = cfg->d_model, L = cfg->n_layer, NH = cfg->n_head;
    for (int64_t i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return semid_fail(SEMID_EINVAL, "gpt forward: input token %d at position %lld is outside [0, %lld)",
                              inputs[i], (long long)i, (long long)V);
        if (targets && targets[i] != -1 && (targets[i] < m->out_lo || targets[i] >= m->out_hi))
            return semid_fail(SEMID_EINVAL, "gpt forward: target %d at position %lld is outside the output range [%d, %d)",
                              targets[i], (long long)i, m->out_lo, m->out_hi);
        if (pos && !(pos[i] == 0 || (i % T > 0 && pos[i] == pos[i - 1] + 1)))
            return semid_fail(SEMID_EINVAL,
                              "gpt forward: position %d at %lld of a packed row must be 0 or one more than the one before",
                              pos[i], (long long)i);
    }
    m->has_targets = 0;
    m->n_rows = 0;
    SEMID_TRY(ensure_acts(m, B, T));
    semid_gpt_acts *a = &m->a;
    const semid_gpt_weights *p = &m->p;
    m->B = B;
    m->T = T;
    memcpy(m->inputs, inputs, (size_t)N * sizeof(int32_t));
    m->packed = pos != NULL;
    if (pos) memcpy(m->pos, pos, (size_t)N * sizeof(int32_t));
    const int32_t *ps = m->packed ? m->pos : NULL;

    semid_encoder_forward(a->encoded, inputs, ps, p->wte, p->wpe, B, T, C);
    for (int64_t l = 0; l < L; l++) {
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * N * C;
        float *ln1 = a->ln1 + l * N * C, *qkv = a->qkv + l * N * 3 * C, *atty = a->atty + l * N * C;
        float *att = a->att + l * NH * a->cap_att, *res2 = a->residual2 + l * N * C, *ln2 = a->ln2 + l * N * C;
        float *fch = a->fch + l * N * 4 * C, *fchg = a->fch_gelu + l * N * 4 * C, *res3 = a->residual3 + l * N * C;
        semid_layernorm_forward(ln1, a->ln1_mean + l * N, a->ln1_rstd + l * N, residual, p->ln1w + l * C,
                                p->ln1b + l * C, N, C);
        semid_matmul_forward(qkv, ln1, p->qkvw + l * 3 * C * C, p->qkvb + l * 3 * C, N, C, 3 * C, m->gemm);
        semid_attention_forward(atty, att, a->att_scratch, qkv, ps, B, T, C, NH);
        semid_matmul_forward(a->tmp, atty, p->attprojw + l * C * C, p->attprojb + l * C, N, C, C, m->gemm);
        semid_residual_forward(res2, residual, a->tmp, N * C);
        semid_layernorm_forward(ln2, a->ln2_mean + l * N, a->ln2_rstd + l * N, res2, p->ln2w + l * C,
                                p->ln2b + l * C, N, C);
        semid_matmul_forward(fch, ln2, p->fcw + l * 4 * C * C, p->fcb + l * 4 * C, N, C, 4 * C, m->gemm);
        semid_gelu_forward(fchg, fch, N * 4 * C);
        semid_matmul_forward(a->tmp, fchg, p->fcprojw + l * C * 4 * C, p->fcprojb + l * C, N, 4 * C, C, m->gemm);
        semid_residual_forward(res3, res2, a->tmp, N * C);
    }
    semid_layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->residual3 + (L - 1) * N * C, p->lnfw, p->lnfb, N,
                            C);

    /* Logits only where they are needed: every position without targets,
     * else only the positions that have one. */
    /* With targets, the softmax runs over the output range only. */
    int64_t lo = targets ? m->out_lo : 0, Vo = targets ? m->out_hi - m->out_lo : V;
    int64_t rows = 0;
    for (int64_t i = 0; i < N; i++) {
        if (targets && targets[i] < 0) continue;
        m->row_pos[rows] = i;
        m->row_targets[rows] = targets ? (int32_t)(targets[i] - lo) : -1;
        rows++;
    }
    SEMID_TRY(ensure_logits(m, rows > 0 ? rows : 1, Vo));
    const float *logit_inp = a->lnf;
    if (targets) {
#pragma omp parallel for schedule(static) if (rows * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
        for (int64_t r = 0; r < rows; r++) memcpy(a->lnf_rows + r * C, a->lnf + m->row_pos[r] * C, (size_t)C * sizeof(float));
        logit_inp = a->lnf_rows;
    }
    semid_tied_logits_forward(m->logits, logit_inp, p->wte + lo * C, rows, C, Vo, m->gemm);
    m->n_rows = rows;
    m->logit_lo = lo;
    m->logit_cols = Vo;
    if (targets) {
        semid_softmax_xent_forward(a->losses, a->lse, m->logits, m->row_targets, rows, Vo);
        double sum = 0.0;
        for (int64_t r = 0; r < rows; r++) sum += a->losses[r];
        if (loss) *loss = rows > 0 ? (float)(sum / (double)rows) : 0.0f;
        m->has_targets = 1;
    } else if (loss) {
        *loss = 0.0f;
    }
    return SEMID_OK;
}

const float *semid_gpt_logits(const semid_gpt *m) { return m->logits; }

semid_status semid_gpt_set_output_range(semid_gpt *m, int32_t lo, int32_t hi) {
    if (lo < 0 || hi > m->cfg.vocab_size || lo >= hi)
        return semid_fail(SEMID_EINVAL, "gpt output range [%d, %d) is not within [0, %d)", lo, hi, m->cfg.vocab_size);
    m->out_lo = lo;
    m->out_hi = hi;
    return SEMID_OK;
}

void semid_gpt_set_gemm(semid_gpt *m, semid_gemm_kind kind) { m->gemm = kind; }

const int64_t *semid_gpt_logit_positions(const semid_gpt *m, int64_t *n_rows) {
    if (n_rows) *n_rows = m->n_rows;
    return m->row_pos;
}

semid_status semid_gpt_reserve(semid_gpt *m, int32_t B, int32_t T) {
    if (B <= 0 || T <= 0 || T > m->cfg.max_seq_len)
        return semid_fail(SEMID_EINVAL, "gpt reserve: batch %d x length %d (length must be in [1, %d])", B, T,
                          m->cfg.max_seq_len);
    SEMID_TRY(ensure_acts(m, B, T));
    return ensure_logits(m, (int64_t)B * T, m->out_hi - m->out_lo);
}

/* x[0..n) = 0, split over the threads when big: a step zeroes tens of MB,
 * which on one thread kept the others waiting. */
static void zero_floats(float *x, int64_t n) {
    enum { CHUNK = 1 << 16 };
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (chunks > 1) num_threads(semid_get_threads())
    for (int64_t c = 0; c < chunks; c++) {
        int64_t lo = c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
        memset(x + lo, 0, (size_t)len * sizeof *x);
    }
}

void semid_gpt_zero_grad(semid_gpt *m) { zero_floats(m->grads_mem, m->num_params); }

semid_status semid_gpt_backward(semid_gpt *m) {
    if (!m->has_targets)
        return semid_fail(SEMID_EINVAL, "gpt backward: the last forward pass had no targets");
    const semid_gpt_config *cfg = &m->cfg;
    int64_t B = m->B, T = m->T, N = B * T, C = cfg->d_model, L = cfg->n_layer,
            NH = cfg->n_head, rows = m->n_rows;
    semid_gpt_acts *a = &m->a;
    const semid_gpt_weights *p = &m->p;
    const semid_gpt_weights *g = &m->g;
    const int32_t *ps = m->packed ? m->pos : NULL;
    size_t fC = (size_t)C * sizeof(float);

    /* Buffers a product overwrites (set_dinp) are not zeroed first. */
    zero_floats(a->dres, N * C);
    if (rows > 0) {
        int64_t lo = m->logit_lo, Vo = m->logit_cols;
        zero_floats(m->dlogits, rows * Vo);
        semid_softmax_xent_backward(m->dlogits, m->logits, a->lse, m->row_targets, 1.0f / (float)rows, rows, Vo);
        zero_floats(a->dlnf_rows, rows * C);
        semid_tied_logits_backward(a->dlnf_rows, g->wte + lo * C, m->dlogits, a->lnf_rows, p->wte + lo * C, rows, C, Vo,
                                   m->gemm);
        zero_floats(a->dln, N * C);
#pragma omp parallel for schedule(static) if (rows * C >= SEMID_PAR_MIN_WORK) num_threads(semid_get_threads())
        for (int64_t r = 0; r < rows; r++) memcpy(a->dln + m->row_pos[r] * C, a->dlnf_rows + r * C, fC);
        semid_layernorm_backward(a->dres, g->lnfw, g->lnfb, a->dln, a->residual3 + (L - 1) * N * C, p->lnfw,
                                 a->lnf_mean, a->lnf_rstd, N, C);
    }
    for (int64_t l = L - 1; l >= 0; l--) {
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * N * C;
        const float *ln1 = a->ln1 + l * N * C, *qkv = a->qkv + l * N * 3 * C, *atty = a->atty + l * N * C;
        const float *att = a->att + l * NH * a->cap_att, *res2 = a->residual2 + l * N * C;
        const float *ln2 = a->ln2 + l * N * C, *fch = a->fch + l * N * 4 * C, *fchg = a->fch_gelu + l * N * 4 * C;
        /* MLP: res3 = res2 + proj(gelu(fc(ln2(res2)))) */
        semid_matmul_backward(a->dfch_gelu, true, g->fcprojw + l * C * 4 * C, g->fcprojb + l * C, a->dres, fchg,
                              p->fcprojw + l * C * 4 * C, N, 4 * C, C, m->gemm);
        zero_floats(a->dfch, N * 4 * C);
        semid_gelu_backward(a->dfch, fch, a->dfch_gelu, N * 4 * C);
        semid_matmul_backward(a->dln, true, g->fcw + l * 4 * C * C, g->fcb + l * 4 * C, a->dfch, ln2,
                              p->fcw + l * 4 * C * C, N, C, 4 * C, m->gemm);
        semid_layernorm_backward(a->dres, g->ln2w + l * C, g->ln2b + l * C, a->dln, res2, p->ln2w + l * C,
                                 a->ln2_mean + l * N, a->ln2_rstd + l * N, N, C);
        /* attention: res2 = residual + proj(attn(qkv(ln1(residual)))) */
        semid_matmul_backward(a->datty, true, g->attprojw + l * C * C, g->attprojb + l * C, a->dres, atty,
                              p->attprojw + l * C * C, N, C, C, m->gemm);
        zero_floats(a->dqkv, N * 3 * C);
        semid_attention_backward(a->dqkv, a->att_scratch, a->datty, qkv, att, ps, B, T, C, NH);
        semid_matmul_backward(a->dln, true, g->qkvw + l * 3 * C * C, g->qkvb + l * 3 * C, a->dqkv, ln1,
                              p->qkvw + l * 3 * C * C, N, C, 3 * C, m->gemm);
        semid_layernorm_backward(a->dres, g->ln1w + l * C, g->ln1b + l * C, a->dln, residual, p->ln1w + l * C,
                                 a->ln1_mean + l * N, a->ln1_rstd + l * N, N, C);
    }
    semid_encoder_backward(g->wte, g->wpe, a->dres, m->inputs, ps, B, T, C);
    return SEMID_OK;
}

/* Checkpoints are in gpt_checkpoint.c. */
