/* semid embed: placeholder until its module lands; it says so instead of pretending. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_embed(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "semid: error: 'embed' is not implemented yet\n");
    return CLI_EXIT_ERROR;
}
