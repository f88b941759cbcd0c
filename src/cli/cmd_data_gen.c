/* semid data synth / queries: placeholder until the generators land. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_data_synth(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "semid: error: 'data synth' is not implemented yet\n");
    return CLI_EXIT_ERROR;
}

int cmd_data_queries(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "semid: error: 'data queries' is not implemented yet\n");
    return CLI_EXIT_ERROR;
}
