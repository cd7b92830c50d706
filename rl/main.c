// The grpo binary: dispatches `grpo COMMAND ...` to the rl/cmd_*.c files.
#include <stdio.h>
#include <string.h>

#include "kernels/backend.h"
#include "rl/cli.h"
#include "rl/suggest.h"

#define GRPO_COMMAND(n) extern const GrpoCommand grpo_cmd_##n;
#include "grpo_commands.inc"
#undef GRPO_COMMAND

static const GrpoCommand *const commands[] = {
#define GRPO_COMMAND(n) &grpo_cmd_##n,
#include "grpo_commands.inc"
#undef GRPO_COMMAND
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void print_help(FILE *f) {
    fprintf(f,
            "grpo %s: turn a base language model into a reasoner with GRPO\n\n"
            "usage: grpo COMMAND [OPTIONS]\n\ncommands:\n",
            GRPO_VERSION);
    for (int i = 0; i < n_commands; i++) fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-12s %s\n", "help", "this list, or `grpo help COMMAND` for one command");
    fprintf(f, "\n'grpo COMMAND --help' shows a command's options. 'grpo --version' lists the backends built in.\n");
}

static void print_version(void) {
    printf("grpo %s\nbackends: %s\n", GRPO_VERSION, backend_compiled());
}

static const GrpoCommand *find_command(const char *name) {
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(commands[i]->name, name)) return commands[i];
    return NULL;
}

static int unknown_command(const char *name) {
    const char *names[64];
    int n = n_commands < 64 ? n_commands : 64;
    for (int i = 0; i < n; i++) names[i] = commands[i]->name;
    const char *s = suggest_closest(name, names, n);
    if (s) fprintf(stderr, "grpo: unknown command '%s' (did you mean '%s'?); see 'grpo help'\n", name, s);
    else fprintf(stderr, "grpo: unknown command '%s'; see 'grpo help'\n", name);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        print_version();
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            const GrpoCommand *c = find_command(argv[2]);
            if (!c) return unknown_command(argv[2]);
            fputs(c->usage, stdout);
            return 0;
        }
        print_help(stdout);
        return 0;
    }
    const GrpoCommand *c = find_command(cmd);
    if (!c) return unknown_command(cmd);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(c->usage, stdout);
            return 0;
        }
    }
    return c->run(argc - 1, argv + 1);
}
