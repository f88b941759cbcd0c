/* semid sid: placeholder until its module lands; it says so instead of pretending. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_sid(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "semid: error: 'sid' is not implemented yet\n");
    return CLI_EXIT_ERROR;
}
