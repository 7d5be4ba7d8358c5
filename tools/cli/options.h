/* options.h — one option table per subcommand drives command-line parsing, --help, the keys of
 * a --config JSON file, and the printed/saved effective configuration. A table row names a
 * field of the subcommand's options struct by offset. Precedence: default < --config < argv. */
#ifndef SARA_CLI_OPTIONS_H
#define SARA_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { OPT_INT, OPT_I64, OPT_DOUBLE, OPT_STRING, OPT_FLAG, OPT_STRING_LIST } opt_type;

/* OPT_STRING_LIST: a repeatable string option (--adapter A --adapter B), at most OPT_LIST_MAX
 * values; in a --config file a JSON array of strings (or one string). Values given on the command
 * line replace those of the config file. */
#define OPT_LIST_MAX 8
typedef struct {
    const char *v[OPT_LIST_MAX];
    int n;
} opt_string_list;

typedef struct {
    const char *name;   /* --name on the command line; name with '-' → '_' in a --config file */
    opt_type type;
    size_t offset;      /* offsetof(the options struct, field) */
    const char *def;    /* default, parsed like a command-line value; NULL: unset (string NULL, number 0) */
    const char *help;
} opt_spec;

typedef struct {
    const char *command;     /* "train" */
    const char *summary;     /* one line */
    const char *usage;       /* "sara train [options]" */
    const opt_spec *specs;
    int n_specs;
    int max_positional;      /* positional arguments allowed */
} opt_table;

/* Parses argv (argv[0] is the subcommand). Positional arguments go to positional[] (count in
 * *n_positional). Returns 0 on success, 1 if --help was printed, -1 on error (message printed). */
int opts_parse(const opt_table *t, void *out, int argc, char **argv, const char **positional, int *n_positional);
/* The usual subcommand start for a table without positional arguments: zeroes `out`, parses, and
 * returns -1 to go on, or the exit code to return now (0 after --help, 2 on a usage error). */
int opts_parse_command(const opt_table *t, void *out, size_t out_size, int argc, char **argv);
void opts_print_help(const opt_table *t);
/* The effective configuration as a JSON object (caller frees). */
char *opts_to_json(const opt_table *t, const void *in);

#define OPT_ROW(st, field, type, name, def, help) {name, type, offsetof(st, field), def, help}

#endif
