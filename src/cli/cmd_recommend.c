/* semid recommend: placeholder until its module lands; it says so instead of pretending. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_recommend(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "semid: error: 'recommend' is not implemented yet\n");
    return CLI_EXIT_ERROR;
}
