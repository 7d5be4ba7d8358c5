/* main.c — the `sara` command: dispatches to subcommands. The only place that exits. */
#include <stdio.h>
#include <string.h>

#include "sara/sara.h"

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("sara %s\n", SARA_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: sara <command> [options]\n");
    return 2;
}
