// Shared between sandbox.c (the caller's side) and sandbox_child.c (what runs
// after clone). Everything the child needs is prepared in the parent, because
// between clone and execve the child may only make async-signal-safe calls.
#ifndef GRPO_REWARDS_SANDBOX_INTERNAL_H
#define GRPO_REWARDS_SANDBOX_INTERNAL_H

#include <stddef.h>
#include <sys/resource.h>

typedef struct { const char *path; const char *data; size_t len; } SbxFileOut;

typedef struct {
    int ns;                      // 1: we are the init of fresh PID/mount/net/IPC/UTS namespaces
    int userns;                  // 1: ... inside a fresh user namespace (not root): wait on fd_sync
                                 //    until the parent wrote our uid/gid maps; drop capabilities
    int drop_uid;                // 1: started as root; drop to uid/gid
    unsigned uid, gid;
    int fd_st, fd_in, fd_out, fd_err, fd_chan, fd_sync;   // child ends, parent's numbering (-1 = none)
    const char *python;
    char *const *argv;
    char *const *envp;
    const char *workdir;         // "/tmp" with namespaces, else the host temp dir
    const char *tmpfs_opts;      // mount options of the private /tmp
    const SbxFileOut *files;     // written by init into the private /tmp (namespaced mode only)
    int n_files;
    struct rlimit rl_cpu, rl_as, rl_fsize, rl_nproc, rl_nofile;
    long wall_ms;
} SbxPlan;

// Messages on the status pipe (each write is one struct, well under PIPE_BUF, so atomic).
// NOTE: from the program's process just before execve: iso holds isolation it added itself
// (the seccomp filter), err why a part could not be had (0 when all was).
enum { SBX_MSG_DONE = 1, SBX_MSG_SETUP_FAIL = 2, SBX_MSG_NOTE = 3 };
typedef struct {
    int kind;
    int step;        // SETUP_FAIL: which step (SbxStep)
    int err;         // SETUP_FAIL: errno
    int status;      // DONE: wait status of the main program
    int main_done;   // DONE: main program exited (else killed at the deadline or on request)
    int timed_out;   // DONE: the wall-clock limit was reached
    int iso;         // DONE: SANDBOX_ISO_* bits achieved by the mount setup
} SbxMsg;

typedef enum {
    SBX_STEP_MOUNT_PRIVATE = 1, SBX_STEP_MOUNT_TMP, SBX_STEP_WRITE_FILES, SBX_STEP_FORK,
    SBX_STEP_FDS, SBX_STEP_CHDIR, SBX_STEP_RLIMIT, SBX_STEP_SETGROUPS, SBX_STEP_SETGID,
    SBX_STEP_SETUID, SBX_STEP_NO_NEW_PRIVS, SBX_STEP_EXEC, SBX_STEP_USERNS, SBX_STEP_CAPS,
} SbxStep;

const char *sbx_step_name(int step);

// Installs the system-call filter in the calling thread (inherited across execve and fork):
// 0, or the errno of the failure (ENOSYS on an architecture it does not know).
// Async-signal-safe: a prctl on a static program.
int sbx_seccomp_install(void);

// The body of the cloned child; never returns.
void sbx_child_main(const SbxPlan *p) __attribute__((noreturn));

#endif
