// What runs after clone(): the sandbox's init, and the program it starts.
//
// Why this shape: the caller is multithreaded (a worker pool), so the child of
// clone() is a copy of one thread of a process whose other threads may have held
// malloc's or stdio's locks at that instant. Until execve, the child may only make
// async-signal-safe calls: raw system calls on memory the parent prepared
// (SbxPlan). We use the raw clone system call (no glibc fork handlers, no atfork
// locks) and raw set*id system calls (glibc's setuid would try to broadcast to
// threads that do not exist in the child).
//
// The cloned child is the init (PID 1) of fresh PID, mount, network, IPC and UTS
// namespaces. It stays a small C loop instead of exec'ing Python as PID 1 because:
//  - when init exits, the kernel SIGKILLs every process in its PID namespace and the
//    caller's waitpid(init) returns only after all of them are gone: that is how the
//    whole tree (fork bombs, double-forked orphans) dies, reliably, with nothing to
//    track;
//  - it reaps orphans and knows the main program's exit status, so it can end the
//    namespace the moment the main program exits and report the status on a pipe;
//  - it keeps running as root (the program gets a dedicated uid), so the program
//    cannot signal or ptrace it (it is also marked non-dumpable), and signals from
//    inside a PID namespace to its init are dropped anyway.
// Without namespaces (fallback), init is a child subreaper: every orphan of the tree
// is re-parented to it, so it can still find and SIGKILL all descendants through
// /proc/self/task/<tid>/children before it exits.
#include "rewards/sandbox_internal.h"
#include "rewards/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif

// struct mount_attr of <linux/mount.h>, which clashes with <sys/mount.h> on glibc 2.36.
typedef struct { uint64_t attr_set, attr_clr, propagation, userns_fd; } SbxMountAttr;

// Fixed descriptor numbers inside init (see remap_fds).
enum { FD_ST = 10, FD_IN = 11, FD_OUT = 12, FD_ERR = 13, FD_CHAN = 14, FD_SYNC = 15, FD_FIRST_FREE = 16 };
#define N_FDS 6

const char *sbx_step_name(int step) {
    switch (step) {
    case SBX_STEP_MOUNT_PRIVATE: return "make mounts private";
    case SBX_STEP_MOUNT_TMP: return "mount the private /tmp";
    case SBX_STEP_WRITE_FILES: return "write the program into /tmp";
    case SBX_STEP_FORK: return "fork the program";
    case SBX_STEP_FDS: return "set up file descriptors";
    case SBX_STEP_CHDIR: return "chdir to the work directory";
    case SBX_STEP_RLIMIT: return "set rlimits";
    case SBX_STEP_SETGROUPS: return "setgroups";
    case SBX_STEP_SETGID: return "setresgid";
    case SBX_STEP_SETUID: return "setresuid";
    case SBX_STEP_NO_NEW_PRIVS: return "set no_new_privs";
    case SBX_STEP_EXEC: return "execve python3";
    case SBX_STEP_USERNS: return "wait for the user namespace's id maps";
    case SBX_STEP_CAPS: return "drop capabilities";
    }
    return "unknown step";
}

#define FD_ALL 0x7fffffff
static void close_from(int lo, int hi) {
    if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0) == 0) return;
    if (hi > 65535) hi = 65535;  // close_range missing (Linux < 5.9): do it by hand
    for (int fd = lo; fd <= hi; fd++) close(fd);
}

static void send_msg(int fd, const SbxMsg *m) {
    ssize_t r;
    do r = write(fd, m, sizeof *m); while (r < 0 && errno == EINTR);
}

static void __attribute__((noreturn)) setup_fail(int st_fd, int step, int e) {
    SbxMsg m = {0};
    m.kind = SBX_MSG_SETUP_FAIL; m.step = step; m.err = e;
    send_msg(st_fd, &m);
    _exit(127);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// Moves the plan's descriptors to FD_ST.. FD_CHAN and closes everything else the
// caller had open (other threads' pipes, its databases, its sockets): init never
// execs, so O_CLOEXEC alone would not keep them from it or the program.
static int remap_fds(const SbxPlan *p) {
    int src[N_FDS] = {p->fd_st, p->fd_in, p->fd_out, p->fd_err, p->fd_chan, p->fd_sync}, tmp[N_FDS];
    for (int i = 0; i < N_FDS; i++) {
        tmp[i] = -1;
        if (src[i] >= 0 && (tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 32)) < 0) return errno;
    }
    for (int i = 0; i < N_FDS; i++)
        if (tmp[i] >= 0 && dup2(tmp[i], FD_ST + i) < 0) return errno;
    close_from(0, FD_ST - 1);
    for (int i = 0; i < N_FDS; i++)
        if (tmp[i] < 0) close(FD_ST + i);
    close_from(FD_FIRST_FREE, FD_ALL);
    return 0;
}

// Namespaced mode: nothing of the host is writable, /tmp is a private tmpfs.
static int setup_mounts(const SbxPlan *p) {
    int iso = 0;
    // Without this, the mounts below would propagate back to the host's namespace.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        setup_fail(FD_ST, SBX_STEP_MOUNT_PRIVATE, errno);
    SbxMountAttr a = {MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0};
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &a, sizeof a) == 0)
        iso |= SANDBOX_ISO_RO_ALL;  // every mount, /dev/shm and /var/tmp included
    else if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL) == 0)
        iso |= SANDBOX_ISO_RO_ROOT;  // old kernel: "/" only, submounts keep their mode
    // The only writable place; it also hides the host's /tmp (its files and Unix sockets)
    // and bounds what the program can write in total, not only per file.
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, p->tmpfs_opts) != 0)
        setup_fail(FD_ST, SBX_STEP_MOUNT_TMP, errno);
    // /proc of the new PID namespace: the program sees only its own tree.
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
        iso |= SANDBOX_ISO_PROC;
    // Hide the host's Unix sockets under /run (dbus, systemd, databases): an empty, read-only tmpfs.
    (void)mount("tmpfs", "/run", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=755");
    for (int i = 0; i < p->n_files; i++) {
        int fd = open(p->files[i].path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) setup_fail(FD_ST, SBX_STEP_WRITE_FILES, errno);
        size_t off = 0;
        while (off < p->files[i].len) {
            ssize_t w = write(fd, p->files[i].data + off, p->files[i].len - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) setup_fail(FD_ST, SBX_STEP_WRITE_FILES, w < 0 ? errno : ENOSPC);
            off += (size_t)w;
        }
        if (p->drop_uid) (void)fchown(fd, p->uid, p->gid);
        close(fd);
    }
    return iso;
}

static void __attribute__((noreturn)) run_program(const SbxPlan *p) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (dup2(FD_IN, 0) < 0 || dup2(FD_OUT, 1) < 0 || dup2(FD_ERR, 2) < 0 ||
        (p->fd_chan >= 0 && dup2(FD_CHAN, 3) < 0) || fcntl(FD_ST, F_SETFD, FD_CLOEXEC) < 0)
        setup_fail(FD_ST, SBX_STEP_FDS, errno);
    close_from(p->fd_chan >= 0 ? 4 : 3, FD_ST - 1);
    close_from(FD_ST + 1, FD_ALL);
    if (chdir(p->workdir) != 0) setup_fail(FD_ST, SBX_STEP_CHDIR, errno);
    // Below the caller and init: a fork bomb must not starve the caller or delay the kill;
    // and the first choice of the OOM killer.
    setpriority(PRIO_PROCESS, 0, 10);
    int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (oom >= 0) {
        (void)!write(oom, "1000", 4);
        close(oom);
    }
    struct rlimit zero = {0, 0};
    if (setrlimit(RLIMIT_CPU, &p->rl_cpu) || setrlimit(RLIMIT_AS, &p->rl_as) ||
        setrlimit(RLIMIT_FSIZE, &p->rl_fsize) || setrlimit(RLIMIT_NOFILE, &p->rl_nofile) ||
        setrlimit(RLIMIT_NPROC, &p->rl_nproc) || setrlimit(RLIMIT_CORE, &zero) ||
        setrlimit(RLIMIT_MEMLOCK, &zero) || setrlimit(RLIMIT_MSGQUEUE, &zero))
        setup_fail(FD_ST, SBX_STEP_RLIMIT, errno);
    if (p->drop_uid) {
        // Empty the bounding set too, so no exec can ever regain a capability.
        for (int c = 0; c < 64; c++) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
        if (syscall(SYS_setgroups, 0, NULL) != 0) setup_fail(FD_ST, SBX_STEP_SETGROUPS, errno);
        if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) != 0) setup_fail(FD_ST, SBX_STEP_SETGID, errno);
        // Leaving uid 0 for a non-zero uid clears the permitted, effective and ambient sets.
        if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) != 0) setup_fail(FD_ST, SBX_STEP_SETUID, errno);
        if ((unsigned)syscall(SYS_getuid) != p->uid) setup_fail(FD_ST, SBX_STEP_SETUID, EPERM);
    }
    if (p->userns) {
        // uid 0 of our user namespace (the caller's uid outside) with every capability of it:
        // empty the bounding set, so that execve grants none, and the current sets now.
        for (int c = 0; c < 64; c++) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        struct { uint32_t version; int pid; } hdr = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
        struct { uint32_t effective, permitted, inheritable; } data[2] = {{0, 0, 0}, {0, 0, 0}};
        if (syscall(SYS_capset, &hdr, data) != 0) setup_fail(FD_ST, SBX_STEP_CAPS, errno);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) setup_fail(FD_ST, SBX_STEP_NO_NEW_PRIVS, errno);
    // Last, so nothing above runs under it; a kernel without seccomp filters only reduces isolation.
    SbxMsg note = {0};
    note.kind = SBX_MSG_NOTE;
    note.err = sbx_seccomp_install();
    note.iso = note.err ? 0 : SANDBOX_ISO_SECCOMP;
    send_msg(FD_ST, &note);
    execve(p->python, p->argv, p->envp);
    setup_fail(FD_ST, SBX_STEP_EXEC, errno);
}

static void fmt_children_path(char *buf, long tid) {
    const char *a = "/proc/self/task/", *b = "/children";
    char digits[24];
    int n = 0, k = 0;
    do digits[n++] = (char)('0' + tid % 10), tid /= 10; while (tid > 0);
    while (*a) buf[k++] = *a++;
    while (n > 0) buf[k++] = digits[--n];
    while (*b) buf[k++] = *b++;
    buf[k] = 0;
}

// Fallback only: SIGKILL every current child (we are their subreaper), return how many.
static int kill_children(const char *path) {
    char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC), killed = 0;
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    long pid = 0;
    int in = 0;
    for (ssize_t i = 0; i <= n; i++) {
        char c = i < n ? buf[i] : ' ';
        if (c >= '0' && c <= '9') { pid = pid * 10 + (c - '0'); in = 1; }
        else if (in) { kill((pid_t)pid, SIGKILL); killed++; pid = 0; in = 0; }
    }
    return killed;
}

void sbx_child_main(const SbxPlan *p) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    struct sigaction dfl;
    dfl.sa_handler = SIG_DFL;
    dfl.sa_flags = 0;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < 65; s++) sigaction(s, &dfl, NULL);  // the caller's handlers are not ours
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the caller's thread dies: the tree dies
    if (!p->ns) prctl(PR_SET_CHILD_SUBREAPER, 1);
    int e = remap_fds(p);
    if (e) setup_fail(p->fd_st, SBX_STEP_FDS, e);
    if (p->userns) {
        // Until the parent has written uid_map and gid_map we are nobody here: wait for it.
        char c = 0;
        ssize_t r;
        do r = read(FD_SYNC, &c, 1); while (r < 0 && errno == EINTR);
        if (r != 1) setup_fail(FD_ST, SBX_STEP_USERNS, r < 0 ? errno : EPIPE);
    }
    close(FD_SYNC);
    // We hold a copy of the caller's memory: no ptrace, no /proc/<pid>/mem. (Only now: a
    // non-dumpable process's /proc files belong to root, and the parent of a user
    // namespace had to write our uid_map first.)
    prctl(PR_SET_DUMPABLE, 0);
    int iso = p->ns ? setup_mounts(p) : 0;

    pid_t main_pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (main_pid < 0) setup_fail(FD_ST, SBX_STEP_FORK, errno);
    if (main_pid == 0) run_program(p);
    close_from(FD_IN, FD_FIRST_FREE - 1);  // the program's ends: EOF must come from it alone

    sigset_t want;
    sigemptyset(&want);
    sigaddset(&want, SIGCHLD);
    sigaddset(&want, SIGTERM);  // the caller asks us to stop (output flood, its own deadline)
    long deadline = now_ms() + p->wall_ms;
    int status = 0, main_done = 0, timed_out = 0;
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0) { timed_out = 1; break; }
        struct timespec ts = {left / 1000, (left % 1000) * 1000000};
        int s = sigtimedwait(&want, NULL, &ts);
        if (s == SIGTERM) break;
        if (s == SIGCHLD) {
            int st;
            pid_t r;
            while ((r = waitpid(-1, &st, WNOHANG)) > 0)
                if (r == main_pid) { status = st; main_done = 1; }
            if (main_done) break;
        } else if (s < 0 && errno == EAGAIN) {
            timed_out = 1;
            break;
        }
    }
    if (!p->ns) {
        // No PID namespace to tear down: kill the program's group, then every child that
        // is or becomes ours (orphans re-parent to us), until none is left.
        char path[64];
        fmt_children_path(path, (long)syscall(SYS_gettid));
        kill(-main_pid, SIGKILL);
        for (;;) {
            kill_children(path);
            int st;
            pid_t r = waitpid(-1, &st, 0);
            if (r < 0 && errno == ECHILD) break;
            if (r == main_pid && !main_done) { status = st; main_done = 1; }
        }
    }
    SbxMsg m = {0};
    m.kind = SBX_MSG_DONE;
    m.status = status;
    m.main_done = main_done;
    m.timed_out = timed_out;
    m.iso = iso;
    send_msg(FD_ST, &m);
    // In namespaced mode our exit SIGKILLs everything left in the PID namespace, and the
    // private /tmp and /proc mounts vanish with the mount namespace.
    _exit(0);
}
