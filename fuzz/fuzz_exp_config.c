/* libFuzzer harness for the experiment configuration (src/exp/config.c).
 *
 * Input: a JSON configuration, then optionally the line "====\n" and
 * "key=value" overrides, one a line, as on the command line. Byte 0 picks
 * the preset (bit 0: quick or paper) and the catalog size given to the
 * validation (bits 1-7, x 50 items; 0 = unknown). Applying and validating
 * must end in SEMID_OK or a clean error (with a message), never a crash, a
 * leak or undefined behaviour; beyond that, a configuration that validates
 * keeps every key's range, and round-trips: its JSON (exp_config_to_json)
 * applied to the same preset gives the same JSON.
 *
 *   make fuzz && cp -r fuzz/corpus/exp_config /tmp/c && build/fuzz/fuzz_exp_config -max_total_time=120 /tmp/c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/status.h"
#include "exp/config.h"
#include "semid/semid.h"


int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    semid_set_log_level(SEMID_LOG_QUIET);
    semid_set_threads(1);
    return 0;
}

static void expect_message(semid_status st) {
    if (st != SEMID_OK && !semid_last_error()[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *preset = (data[0] & 1) ? "paper" : "quick";
    int64_t n_items = (int64_t)(data[0] >> 1) * 50;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *overrides = strstr(text, "\n====\n");
    if (overrides) {
        *overrides = '\0';
        overrides += 6;
    }
    exp_config c;
    if (exp_config_preset(&c, preset) != SEMID_OK) abort();
    semid_clear_error();
    semid_status st = exp_config_apply_json(&c, text, "fuzz.json");
    expect_message(st);
    for (char *save = NULL, *line = overrides ? strtok_r(overrides, "\n", &save) : NULL; line && st == SEMID_OK;
         line = strtok_r(NULL, "\n", &save)) {
        st = exp_config_apply_override(&c, line);
        expect_message(st);
    }
    if (st == SEMID_OK) {
        st = exp_config_validate(&c, n_items);
        expect_message(st);
    }
    if (st == SEMID_OK) {
        if (c.k < 1 || c.beam < c.k || c.model_dim % c.model_heads != 0 || c.n_seeds < 1 || c.n_seeds > EXP_MAX_SEEDS ||
            c.queries_train >= c.queries_per_item)
            abort();
        char *json = exp_config_to_json(&c);
        if (!json) abort();
        exp_config d;
        if (exp_config_preset(&d, preset) != SEMID_OK || exp_config_apply_json(&d, json, "round trip") != SEMID_OK) abort();
        char *again = exp_config_to_json(&d);
        if (!again || strcmp(json, again) != 0) abort();
        free(again);
        free(json);
    }
    free(text);
    return 0;
}
