/* Writes the seeds of the fuzz corpora that the command line cannot make
 * small: RQ-VAE, RLFQ, prefix-share and dictionary models with tiny
 * networks (semid sid build trains 256-wide ones: 600 KB files), a text
 * encoder with 4-wide word vectors, and word vectors in the compact binary
 * form, and the experiment configuration of each preset. Every file is
 * written by the library's own save function from a model it trained or
 * built, on the embeddings EMB.npy (rows = items) that
 * `semid embed --method rec --dim 4` wrote.
 *
 *   cc -O1 -Isrc -Iinclude -I/usr/include/cjson fuzz/make_seeds.c build/release/libsemid.a \
 *      -lcmocka -lmicrohttpd -lgomp -lpthread -lcjson -llapacke -lopenblas -lm -o /tmp/make_seeds
 *   /tmp/make_seeds EMB.npy OUT_DIR
 *
 * Not a harness (it is not built by `make fuzz`): fuzz/README.md says which
 * corpus each file seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "embed/text_encoder.h"
#include "exp/config.h"
#include "io/npy.h"
#include "quant/dictenc.h"
#include "quant/prefix_share.h"
#include "quant/rlfq.h"
#include "quant/rqvae.h"
#include "quant/tokenizer.h"
#include "semid/semid.h"
#include "text/wordvec.h"

static int check(semid_status st, const char *what) {
    if (st == SEMID_OK) return 0;
    fprintf(stderr, "%s: %s\n", what, semid_last_error());
    return 1;
}

static char *out_path(const char *dir, const char *name) { return semid_path_join(dir, name); }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds EMB.npy OUT_DIR\n");
        return 2;
    }
    const char *dir = argv[2];
    semid_matrix X;
    if (check(semid_npy_read(argv[1], &X), argv[1]) || check(semid_mkdirs(dir), dir)) return 1;
    int bad = 0;

    semid_rqvae_config rc = semid_rqvae_defaults();
    rc.latent_dim = 2, rc.hidden_dim = 4, rc.n_hidden = 1, rc.codebook_size = 4, rc.epochs = 2;
    semid_rqvae *rv = NULL;
    char *p = out_path(dir, "small.rqvae");
    bad |= check(semid_rqvae_fit(&X, &rc, &rv, NULL), "rqvae") || check(semid_rqvae_save(rv, p), p);
    semid_rqvae_free(rv);
    free(p);

    semid_rlfq_config lc = semid_rlfq_defaults();
    lc.bits = 2, lc.hidden_dim = 4, lc.n_hidden = 1, lc.epochs = 2;
    semid_rlfq *rl = NULL;
    p = out_path(dir, "small.rlfq");
    bad |= check(semid_rlfq_fit(&X, &lc, &rl, NULL), "rlfq") || check(semid_rlfq_save(rl, p), p);
    semid_rlfq_free(rl);
    free(p);

    semid_prefix_share_config pc = semid_prefix_share_defaults();
    pc.latent_dim = 2, pc.hidden_dim = 4, pc.n_hidden = 1, pc.shared_size = 4, pc.task_size = 4, pc.epochs = 2;
    semid_prefix_share *ps = NULL;
    p = out_path(dir, "small.psq");
    bad |= check(semid_prefix_share_fit(&X, &X, &pc, &ps, NULL), "prefix-share") || check(semid_prefix_share_save(ps, p), p);
    semid_prefix_share_free(ps);
    free(p);

    semid_dictenc_config dc = semid_dictenc_defaults();
    dc.n_atoms = 8;
    semid_dictenc *de = NULL;
    p = out_path(dir, "small.dict");
    bad |= check(semid_dictenc_fit(&X, &dc, &de, NULL), "dict") || check(semid_dictenc_save(de, p), p);
    semid_dictenc_free(de);
    free(p);

    /* The generic tokenizer file around each method, tiny networks again. */
    const char *methods[4] = {"rqkmeans", "rqvae", "rlfq", "dict"};
    const void *configs[4] = {NULL, &rc, &lc, NULL};
    for (int i = 0; i < 4; i++) {
        semid_tokenizer_config tc = semid_tokenizer_defaults();
        tc.method = methods[i];
        tc.codebook_size = 4;
        tc.iters = 2;
        tc.method_config = configs[i];
        if (i == 2) tc.codebook_size = 1 << lc.bits;
        semid_tokenizer *tok = NULL;
        char name[32];
        snprintf(name, sizeof name, "%s.tok", methods[i]);
        p = out_path(dir, name);
        bad |= check(semid_tokenizer_fit(&X, &tc, &tok), name) || check(semid_tokenizer_save(tok, p), p);
        semid_tokenizer_free(tok);
        free(p);
    }

    const char *texts[3] = {"space robots on mars", "a quiet forest story", "robots in the forest"};
    semid_text_encoder_config ec = semid_text_encoder_defaults();
    ec.dim_word = 4, ec.dim_out = 4, ec.n_buckets = 8;
    semid_text_encoder *enc = NULL;
    p = out_path(dir, "small.encoder");
    bad |= check(semid_text_encoder_create(&ec, texts, 3, NULL, &enc), "encoder") ||
           check(semid_text_encoder_save(enc, p), p);
    semid_text_encoder_free(enc);
    free(p);

    const char *words[3] = {"space", "robot", "forest"};
    const float vecs[12] = {0.1f, -0.2f, 0.3f, 0.4f, 1, 0, 0, -1, 0.5f, 0.25f, -0.125f, 2};
    semid_wordvec wv;
    p = out_path(dir, "small.wv");
    bad |= check(semid_wordvec_from_arrays(&wv, words, vecs, 3, 4), "wordvec") || check(semid_wordvec_save_compact(&wv, p), p);
    semid_wordvec_free(&wv);
    free(p);

    /* The experiment configuration of each preset, as results.json records it. */
    const char *presets[2] = {"quick", "paper"};
    for (int i = 0; i < 2; i++) {
        exp_config c;
        char name[32];
        snprintf(name, sizeof name, "%s.json", presets[i]);
        p = out_path(dir, name);
        char *json = NULL;
        bad |= check(exp_config_preset(&c, presets[i]), name) || !(json = exp_config_to_json(&c)) ||
               check(semid_write_file_atomic(p, json, strlen(json)), p);
        free(json);
        free(p);
    }

    semid_matrix_free(&X);
    return bad ? 1 : 0;
}
