// The grpo command line: the command table and a small option parser shared by
// every rl/cmd_*.c. This is program code (it prints to stderr); library code in
// the other folders returns statuses instead.
#ifndef GRPO_CLI_H
#define GRPO_CLI_H

#include <stdint.h>

typedef struct {
    const char *name;    // as typed: "init-model"
    const char *summary; // one line for `grpo help`
    const char *usage;   // the whole text of `grpo NAME --help`
    int (*run)(int argc, char **argv); // argv[0] is the command name; returns the exit code
} GrpoCommand;

typedef enum {
    CLI_STR,    // const char **dst
    CLI_INT,    // long *dst
    CLI_DOUBLE, // double *dst
    CLI_FLAG,   // int *dst, set to 1
    CLI_MULTI   // CliMulti *dst: the option may repeat (--set a=1 --set b=2)
} CliKind;

typedef struct {
    const char *items[64];
    int n;
} CliMulti;

typedef struct {
    const char *name; // "--model"
    CliKind kind;
    void *dst;
} CliOpt;

// Parses argv[1..argc) against `opts`; accepts "--opt value" and "--opt=value".
// Arguments that do not start with "--" are positional (at most max_pos of them).
// On error prints "grpo CMD: ..." to stderr (with a "did you mean" for unknown
// options) and returns 2, the exit code for usage errors; 0 on success.
int cli_parse(const char *cmd, int argc, char **argv, const CliOpt *opts, int nopts,
              const char **pos, int max_pos, int *npos);

// Prints "grpo CMD: MESSAGE" to stderr and returns 1: `return cli_error("train", ...)`.
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Parses "i0 i1 ..." (spaces or commas) into a malloc'd array of token ids;
// on error prints "grpo CMD: ..." and returns 1.
int cli_parse_ids(const char *cmd, const char *s, int32_t **ids, int *n);

// Reports the library's last error (grpo_errmsg) for `cmd` and returns 1.
int cli_fail(const char *cmd);

// backend_open(device) then backend_set_precision(precision) (the --device and
// --precision options); on error prints "grpo CMD: ..." and returns 1.
struct Backend;
int cli_open_backend(const char *cmd, const char *device, const char *precision, struct Backend **out);

// TrainerOutput.log for the commands: progress lines to stderr; a redrawn line
// overwrites the previous one in place (a terminal's progress bar).
void cli_progress(void *user, const char *line, int redraw);

#endif
