// Runs untrusted (model-written) Python 3 programs, contained.
//
// Each run gets its own process tree under a small C "init" process: new PID,
// mount, network, IPC and UTS namespaces when the kernel allows it, a private
// size-limited tmpfs on /tmp as the only writable place (the rest of the file
// system read-only), a dedicated unprivileged uid per concurrent run (when
// started as root), no capabilities, no_new_privs, rlimits, a wall-clock
// timeout that kills the whole tree, and capped stdout/stderr. What is and is
// not contained is listed in /work/notes/sandbox-readme.md (README section).
//
// Thread-safe: many threads may call sandbox_run_python at once.
#ifndef GRPO_REWARDS_SANDBOX_H
#define GRPO_REWARDS_SANDBOX_H

#include <stddef.h>

typedef struct {
    double cpu_s, wall_s;   // CPU seconds per process (RLIMIT_CPU, rounded up); wall clock for the tree
    size_t mem_bytes;       // address space per process (RLIMIT_AS)
    size_t file_bytes;      // largest file (RLIMIT_FSIZE); also the size of the private /tmp
    size_t out_bytes;       // stdout and stderr are each kept up to this many bytes
    int max_procs;          // processes + threads of the sandbox uid (RLIMIT_NPROC)
    int max_files;          // open file descriptors (RLIMIT_NOFILE)
} SandboxLimits;

// cpu 5 s, wall 10 s, 512 MiB, 16 MiB files, 64 KiB output, 32 procs, 64 files
void sandbox_limits_default(SandboxLimits *l);

typedef struct {
    int exit_code;      // the program's exit status, -1 when it was killed by a signal
    int term_signal;    // the signal that killed it (SIGKILL after a timeout), 0 if none
    int timed_out;      // the wall-clock limit was reached and the tree was killed
    int out_truncated;  // stdout or stderr went over out_bytes (the rest was discarded)
    char *out; size_t out_len;   // stdout, NUL-terminated
    char *err; size_t err_len;   // stderr, NUL-terminated
    double wall_s;
    // Added (sandbox_run_job only): what the program wrote on fd 3, NUL-terminated.
    char *chan; size_t chan_len;
    int isolation;      // SANDBOX_ISO_* bits actually in force for this run
} SandboxResult;

// Runs `source` as /tmp/main.py (namespaced) or TMPDIR/grpo-sbx-*/main.py (fallback) with
// python3, stdin fed from stdin_data (NULL = empty). Returns 0 when the program ran,
// whatever its verdict (look at res); -1 with err filled when the sandbox itself could not
// run it (no python3, out of resources, setup failure).
int  sandbox_run_python(const char *source, const char *stdin_data, const SandboxLimits *l,
                        SandboxResult *res, char *err, size_t errlen);
void sandbox_result_free(SandboxResult *r);

// 0 when python3 is present and runs inside the sandbox (it runs `print(...)` there);
// otherwise -1 with a message that says what to install or set. Call it at startup.
int  sandbox_check_runtime(char *err, size_t errlen);

// ---- additions ------------------------------------------------------------------------

typedef struct { const char *name; const char *data; size_t len; } SandboxFile;

typedef struct {
    const char *source;        // becomes main.py
    const char *stdin_data;    // NULL = empty stdin
    size_t stdin_len;          // 0 = strlen(stdin_data)
    const SandboxFile *files;  // extra files next to main.py (plain names, no '/'), readable and
    int n_files;               // deletable by the program
    int want_chan;             // 1: fd 3 is a pipe whose bytes come back in res->chan
} SandboxJob;

int sandbox_run_job(const SandboxJob *job, const SandboxLimits *l, SandboxResult *res,
                    char *err, size_t errlen);

// Isolation bits (SandboxResult.isolation, sandbox_isolation()).
enum {
    SANDBOX_ISO_PIDNS   = 1 << 0,  // own PID namespace: the tree dies with its init
    SANDBOX_ISO_NETNS   = 1 << 1,  // own network namespace: no network at all
    SANDBOX_ISO_MNTNS   = 1 << 2,  // own mount namespace with a private tmpfs /tmp
    SANDBOX_ISO_IPCUTS  = 1 << 3,  // own IPC and UTS namespaces
    SANDBOX_ISO_RO_ALL  = 1 << 4,  // every mount read-only except the private /tmp
    SANDBOX_ISO_RO_ROOT = 1 << 5,  // only "/" itself read-only (mount_setattr missing)
    SANDBOX_ISO_UID     = 1 << 6,  // runs as a dedicated unprivileged uid, no capabilities
    SANDBOX_ISO_PROC    = 1 << 7,  // fresh /proc showing only the sandbox's processes
    SANDBOX_ISO_USERNS  = 1 << 8,  // not root: the namespaces come with a user namespace
    SANDBOX_ISO_SECCOMP = 1 << 9,  // the system-call filter (rewards/sandbox_seccomp.c) is in force
};

// The isolation of the last run (0 before any run), and a human-readable warning about the
// last reduced isolation seen (NULL while every run had full isolation). The returned
// text is overwritten only when the isolation level changes.
int sandbox_isolation(void);
const char *sandbox_warning(void);

// Library code does not print: the first time a run has weaker isolation than full (and
// again only if that level changes), fn(warning, ctx) is called (from the running thread).
// Set it before the first run.
typedef void (*SandboxLogFn)(const char *msg, void *ctx);
void sandbox_set_log(SandboxLogFn fn, void *ctx);

// 0 turns namespaces off for later runs (the fallback, as when the kernel refuses them);
// 1 (the default) uses them when the kernel allows.
void sandbox_set_namespaces(int on);

// The python3 to use (an absolute path); NULL restores the default search:
// $GRPO_PYTHON, /usr/bin/python3, /usr/local/bin/python3, then $PATH.
void sandbox_set_python(const char *path);

// The uids this process gives its sandboxes when it runs as root ([first, last]);
// tests use it to look for leftover processes.
void sandbox_uid_range(unsigned *first, unsigned *last);

#endif
