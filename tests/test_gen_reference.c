/* The transformer against PyTorch: tests/ref/make_gpt_fixture.py built the
 * same model (float64 reference from float32 weights) and stored the
 * logits, loss, every parameter's gradient and the losses of 5 AdamW steps.
 * Tolerances: logits, loss and gradients within 1e-4 absolute + 1e-3
 * relative; the AdamW losses within 1e-4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/model.h"
#include "io/safetensors.h"
#include "linalg/adamw.h"

#define FIXTURE(name) SEMID_SOURCE_DIR "/tests/fixtures/" name

static semid_gpt *model;
static semid_safetensors expected;
static int32_t *inputs, *targets;
static int32_t Bn, Tn;

static const float *tensor(const char *name, int64_t numel) {
    const semid_st_tensor *t = semid_safetensors_find(&expected, name);
    if (!t) fail_msg("fixture lacks %s", name);
    assert_int_equal(t->numel, numel);
    float *data = malloc((size_t)numel * sizeof(float));
    semid_safetensors_copy(t, data);
    return data;
}

static int setup(void **state) {
    (void)state;
    char *extra = NULL;
    if (semid_gpt_load(FIXTURE("gpt_tiny.safetensors"), &model, &extra) != SEMID_OK) {
        fprintf(stderr, "%s\n", semid_last_error());
        return -1;
    }
    free(extra);
    if (semid_safetensors_read(FIXTURE("gpt_tiny_expected.safetensors"), &expected) != SEMID_OK) return -1;
    const semid_st_tensor *t = semid_safetensors_find(&expected, "inputs");
    if (!t || t->ndim != 2) return -1;
    Bn = (int32_t)t->shape[0];
    Tn = (int32_t)t->shape[1];
    float *fin = malloc((size_t)t->numel * sizeof(float)), *ftg = malloc((size_t)t->numel * sizeof(float));
    semid_safetensors_copy(t, fin);
    semid_safetensors_copy(semid_safetensors_find(&expected, "targets"), ftg);
    inputs = malloc((size_t)t->numel * sizeof(int32_t));
    targets = malloc((size_t)t->numel * sizeof(int32_t));
    for (int64_t i = 0; i < t->numel; i++) {
        inputs[i] = (int32_t)fin[i];
        targets[i] = (int32_t)ftg[i];
    }
    free(fin);
    free(ftg);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    semid_gpt_free(model);
    semid_safetensors_free(&expected);
    free(inputs);
    free(targets);
    return 0;
}

/* Largest |got - want| / (1e-4 + 1e-3 |want|); <= 1 passes. */
static double scaled_error(const float *got, const float *want, int64_t n) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1e-4 + 1e-3 * fabs(want[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

static void test_logits_and_loss(void **state) {
    (void)state;
    int64_t V = semid_gpt_get_config(model)->vocab_size, N = (int64_t)Bn * Tn;
    assert_int_equal(semid_gpt_forward(model, inputs, NULL, Bn, Tn, NULL), SEMID_OK);
    const float *want = tensor("logits", N * V);
    double e = scaled_error(semid_gpt_logits(model), want, N * V);
    fprintf(stderr, "logits: scaled error %.3g\n", e);
    assert_true(e <= 1.0);
    float loss;
    assert_int_equal(semid_gpt_forward(model, inputs, targets, Bn, Tn, &loss), SEMID_OK);
    const float *wl = tensor("loss", 1);
    fprintf(stderr, "loss %.7f, PyTorch %.7f\n", loss, wl[0]);
    assert_float_equal(loss, wl[0], 1e-4);
    free((void *)want);
    free((void *)wl);
}

static void test_gradients(void **state) {
    (void)state;
    float loss;
    assert_int_equal(semid_gpt_forward(model, inputs, targets, Bn, Tn, &loss), SEMID_OK);
    semid_gpt_zero_grad(model);
    assert_int_equal(semid_gpt_backward(model), SEMID_OK);
    const float *g = semid_gpt_grads(model, NULL);
    int checked = 0;
    double worst = 0;
    for (int64_t i = 0; i < expected.n_tensors; i++) {
        const char *name = expected.tensors[i].name;
        if (strncmp(name, "grad.", 5) != 0) continue;
        int64_t off, numel;
        assert_int_equal(semid_gpt_find_tensor(model, name + 5, &off, &numel), SEMID_OK);
        const float *want = tensor(name, numel);
        double e = scaled_error(g + off, want, numel);
        if (e > 1.0) fprintf(stderr, "%s: scaled error %.3g\n", name, e);
        if (e > worst) worst = e;
        assert_true(e <= 1.0);
        free((void *)want);
        checked++;
    }
    fprintf(stderr, "%d gradients, worst scaled error %.3g\n", checked, worst);
    assert_int_equal(checked, 4 + 12 * semid_gpt_get_config(model)->n_layer);
}

static void test_adamw_losses(void **state) {
    (void)state;
    semid_adamw_config cfg = semid_adamw_defaults();
    cfg.lr = 1e-2f;
    cfg.weight_decay = 0.01f;
    cfg.beta1 = 0.9f;
    cfg.beta2 = 0.999f;
    cfg.eps = 1e-8f;
    cfg.clip_norm = 0.0f;
    int64_t n;
    float *params = semid_gpt_params(model, &n);
    semid_adamw opt;
    assert_int_equal(semid_adamw_init(&opt, &cfg, n), SEMID_OK);
    const float *want = tensor("adamw_losses", 5);
    for (int s = 0; s < 5; s++) {
        float loss;
        assert_int_equal(semid_gpt_forward(model, inputs, targets, Bn, Tn, &loss), SEMID_OK);
        fprintf(stderr, "step %d: loss %.6f, PyTorch %.6f\n", s, loss, want[s]);
        assert_float_equal(loss, want[s], 1e-4);
        semid_gpt_zero_grad(model);
        assert_int_equal(semid_gpt_backward(model), SEMID_OK);
        semid_adamw_step(&opt, params, semid_gpt_grads(model, NULL), semid_gpt_decay_mask(model));
    }
    semid_adamw_free(&opt);
    free((void *)want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_and_loss),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_adamw_losses), /* last: it changes the weights */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
