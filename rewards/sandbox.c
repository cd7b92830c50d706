// The caller's side of the sandbox: prepares a run (SbxPlan), clones the sandbox's
// init (sandbox_child.c), feeds stdin, collects capped output, enforces the deadline
// as a backstop, reaps, and cleans up. See sandbox_child.c for why the child side
// looks the way it does.
#include "rewards/sandbox.h"
#include "rewards/sandbox_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Sandbox uids: a block of 256 per process, chosen from the caller's pid so that two
// processes (two trainers, parallel ctest) do not share one: RLIMIT_NPROC counts
// per uid, so a fork bomb in one sandbox must not starve another. Far above the
// ranges that distributions hand out (system < 1000, users < 60000, subuids from 100000).
#define SBX_UID_BASE 0x60000000u
#define SBX_SLOTS 256
#define SBX_CHAN_MAX (1u << 20)

#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
#define ISO_FULL (SANDBOX_ISO_PIDNS | SANDBOX_ISO_NETNS | SANDBOX_ISO_MNTNS | SANDBOX_ISO_IPCUTS | \
                  SANDBOX_ISO_RO_ALL | SANDBOX_ISO_UID | SANDBOX_ISO_PROC | SANDBOX_ISO_SECCOMP)

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_slot_cv = PTHREAD_COND_INITIALIZER;
static unsigned char g_slot_used[SBX_SLOTS];
static char g_python[4096];
static int g_python_set;
static pthread_once_t g_probe_once = PTHREAD_ONCE_INIT;
static int g_ns_ok;        // 1: namespaces as root; 2: inside a user namespace (not root)
static int g_ns_off;
static int g_ns_errno;
static int g_iso;
static int g_warned_iso = -1;  // the isolation last warned about
static char g_warning[1024];
static SandboxLogFn g_log;
static void *g_log_ctx;

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *errstr(int e, char *buf, size_t n) { return strerror_r(e, buf, n); }

void sandbox_limits_default(SandboxLimits *l) {
    l->cpu_s = 5.0;
    l->wall_s = 10.0;
    l->mem_bytes = (size_t)512 << 20;
    l->file_bytes = (size_t)16 << 20;
    l->out_bytes = (size_t)64 << 10;
    l->max_procs = 32;
    l->max_files = 64;
}

void sandbox_result_free(SandboxResult *r) {
    if (!r) return;
    free(r->out);
    free(r->err);
    free(r->chan);
    r->out = r->err = r->chan = NULL;
    r->out_len = r->err_len = r->chan_len = 0;
}

void sandbox_set_log(SandboxLogFn fn, void *ctx) {
    pthread_mutex_lock(&g_mu);
    g_log = fn;
    g_log_ctx = ctx;
    pthread_mutex_unlock(&g_mu);
}

void sandbox_set_namespaces(int on) {
    pthread_mutex_lock(&g_mu);
    g_ns_off = !on;
    pthread_mutex_unlock(&g_mu);
}

void sandbox_set_python(const char *path) {
    pthread_mutex_lock(&g_mu);
    g_python_set = path != NULL;
    snprintf(g_python, sizeof g_python, "%s", path ? path : "");
    pthread_mutex_unlock(&g_mu);
}

static unsigned uid_first(void) { return SBX_UID_BASE + (((unsigned)getpid() & 0xffffu) << 8); }

void sandbox_uid_range(unsigned *first, unsigned *last) {
    *first = uid_first();
    *last = uid_first() + SBX_SLOTS - 1;
}

int sandbox_isolation(void) {
    pthread_mutex_lock(&g_mu);
    int iso = g_iso;
    pthread_mutex_unlock(&g_mu);
    return iso;
}

const char *sandbox_warning(void) {
    pthread_mutex_lock(&g_mu);
    const char *w = g_warning[0] ? g_warning : NULL;
    pthread_mutex_unlock(&g_mu);
    return w;
}

static int is_exec_file(const char *p) {
    struct stat st;
    return p[0] == '/' && stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

// The interpreter: explicit setting, $GRPO_PYTHON, Debian's, then $PATH. Debian's comes
// before $PATH because $PATH often points into a home directory (pyenv, conda) that the
// sandbox uid cannot enter.
static int find_python(char *out, size_t n) {
    pthread_mutex_lock(&g_mu);
    int set = g_python_set;
    snprintf(out, n, "%s", g_python);
    pthread_mutex_unlock(&g_mu);
    if (set) return is_exec_file(out) ? 0 : -1;
    const char *env = getenv("GRPO_PYTHON");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return is_exec_file(out) ? 0 : -1;
    }
    const char *fixed[] = {"/usr/bin/python3", "/usr/local/bin/python3"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (is_exec_file(fixed[i])) { snprintf(out, n, "%s", fixed[i]); return 0; }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *c = strchr(path, ':');
        size_t len = c ? (size_t)(c - path) : strlen(path);
        if (len > 0 && len + 9 < n) {
            snprintf(out, n, "%.*s/python3", (int)len, path);
            if (is_exec_file(out)) return 0;
        }
        path = c ? c + 1 : NULL;
    }
    snprintf(out, n, "python3");
    return -1;
}

// One probe per process: can we create namespaces at all? (root on a normal kernel: yes;
// an unprivileged user, or root in a restricted container: usually not.)
static int try_clone(int flags) {
    pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) syscall(SYS_exit_group, 0);
    if (pid < 0) return errno;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    return 0;
}

// Not root: a user namespace (where distributions allow unprivileged ones) gives the
// other namespaces too; the program then runs as the caller's uid without capabilities.
static void probe_ns(void) {
    if (geteuid() == 0 && (g_ns_errno = try_clone(NS_FLAGS)) == 0) { g_ns_ok = 1; return; }
    int e = try_clone(NS_FLAGS | CLONE_NEWUSER);
    if (e == 0) { g_ns_ok = 2; return; }
    if (!g_ns_errno) g_ns_errno = e;
}

static int write_proc(pid_t pid, const char *what, const char *text) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int g_seccomp_errno; // why the last run had no system-call filter (under g_mu)

static void note_seccomp_errno(int e) {
    pthread_mutex_lock(&g_mu);
    g_seccomp_errno = e;
    pthread_mutex_unlock(&g_mu);
}

static void note_isolation(int iso) {
    SandboxLogFn fn = NULL;
    void *ctx = NULL;
    char msg[sizeof g_warning];
    pthread_mutex_lock(&g_mu);
    g_iso = iso;
    if ((iso & ISO_FULL) != ISO_FULL && iso != g_warned_iso) {
        char eb[128], why[160];
        snprintf(why, sizeof why, "clone: %s", errstr(g_ns_errno, eb, sizeof eb));
        size_t k = (size_t)snprintf(g_warning, sizeof g_warning, "sandbox: reduced isolation:");
#define ADD(...) do { if (k < sizeof g_warning) k += (size_t)snprintf(g_warning + k, sizeof g_warning - k, __VA_ARGS__); } while (0)
        if (!(iso & SANDBOX_ISO_PIDNS))
            ADD(" no namespaces (%s), so programs can %ssee host processes"
                " and write where their uid may (world-writable dirs such as /tmp); the tree is"
                " killed through a child subreaper;",
                g_ns_off ? "disabled by sandbox_set_namespaces(0)" : why,
                (iso & SANDBOX_ISO_SECCOMP) ? "" : "use the network, ");
        if ((iso & SANDBOX_ISO_PIDNS) && !(iso & SANDBOX_ISO_RO_ALL))
            ADD((iso & SANDBOX_ISO_RO_ROOT) ? " only / itself is read-only (no mount_setattr), other mounts keep their mode;"
                                            : " the file system is not read-only;");
        if ((iso & SANDBOX_ISO_PIDNS) && !(iso & SANDBOX_ISO_PROC)) ADD(" /proc shows host processes;");
        if (!(iso & SANDBOX_ISO_UID) && (iso & SANDBOX_ISO_USERNS))
            ADD(" not root, so programs run in a user namespace as the caller's own uid without"
                " capabilities (they can read what the caller can; RLIMIT_NPROC counts the caller's"
                " processes too);");
        else if (!(iso & SANDBOX_ISO_UID))
            ADD(" not root, so programs run as the caller's own uid (no_new_privs and rlimits still"
                " apply; RLIMIT_NPROC counts the caller's processes too; a program can signal the"
                " caller's other processes);");
        if (!(iso & SANDBOX_ISO_SECCOMP))
            ADD(" no system-call filter (seccomp: %s), so programs may call ptrace, unshare, mount, bpf, io_uring"
                " and open non-Unix sockets as far as the other limits allow;",
                errstr(g_seccomp_errno, eb, sizeof eb));
#undef ADD
        g_warned_iso = iso;
        fn = g_log;
        ctx = g_log_ctx;
        snprintf(msg, sizeof msg, "%s", g_warning);
    }
    pthread_mutex_unlock(&g_mu);
    if (fn) fn(msg, ctx);
}

static int slot_acquire(void) {
    pthread_mutex_lock(&g_mu);
    for (;;) {
        for (int i = 0; i < SBX_SLOTS; i++)
            if (!g_slot_used[i]) {
                g_slot_used[i] = 1;
                pthread_mutex_unlock(&g_mu);
                return i;
            }
        pthread_cond_wait(&g_slot_cv, &g_mu);
    }
}

static void slot_release(int i) {
    pthread_mutex_lock(&g_mu);
    g_slot_used[i] = 0;
    pthread_cond_signal(&g_slot_cv);
    pthread_mutex_unlock(&g_mu);
}

static double mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

// A capture buffer: keeps the first `limit` bytes, counts the rest.
typedef struct { char *p; size_t len, cap, limit, seen; int truncated; } Cap;

static int cap_add(Cap *c, const char *d, size_t n) {
    c->seen += n;
    size_t keep = c->len < c->limit ? c->limit - c->len : 0;
    if (n > keep) { c->truncated = 1; n = keep; }
    if (n == 0) return 0;
    if (c->len + n + 1 > c->cap) {
        size_t nc = c->cap ? c->cap : 4096;
        while (nc < c->len + n + 1) nc *= 2;
        if (nc > c->limit + 1) nc = c->limit + 1;
        char *q = realloc(c->p, nc);
        if (!q) return -1;
        c->p = q;
        c->cap = nc;
    }
    memcpy(c->p + c->len, d, n);
    c->len += n;
    return 0;
}

static char *cap_take(Cap *c, size_t *len) {
    char *p = c->p ? c->p : malloc(1);
    if (!p) return NULL;
    p[c->len] = 0;
    *len = c->len;
    c->p = NULL;
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static int valid_name(const char *n) {
    return n && n[0] && !strchr(n, '/') && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
           strcmp(n, "main.py") != 0 && strlen(n) < 200;
}

static int write_file(const char *path, const char *data, size_t len, int chown_to, unsigned uid) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    if (chown_to && fchown(fd, uid, uid) != 0) { close(fd); return -1; }
    return close(fd);
}

static struct rlimit rl(double v) {
    struct rlimit r;
    r.rlim_cur = r.rlim_max = v > 0 ? (rlim_t)v : RLIM_INFINITY;
    return r;
}

// Without root, RLIMIT_NPROC counts every process and thread of the caller's uid, so the
// limit is what that uid runs now plus max_procs.
static long count_uid_tasks(void) {
    long total = 0;
    unsigned me = (unsigned)getuid();
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], line[256];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned uid = ~0u;
        long threads = 1;
        while (fgets(line, sizeof line, f)) {
            sscanf(line, "Uid: %u", &uid);
            sscanf(line, "Threads: %ld", &threads);
        }
        fclose(f);
        if (uid == me) total += threads;
    }
    if (d) closedir(d);
    return total > 0 ? total : 1;
}

int sandbox_run_job(const SandboxJob *job, const SandboxLimits *lim, SandboxResult *res,
                    char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    if (!job || !job->source) { set_err(err, errlen, "sandbox: no program source"); return -1; }
    SandboxLimits L;
    if (lim) L = *lim; else sandbox_limits_default(&L);
    for (int i = 0; i < job->n_files; i++)
        if (!valid_name(job->files[i].name)) {
            set_err(err, errlen, "sandbox: bad file name '%s' (plain names only, not main.py)",
                    job->files[i].name ? job->files[i].name : "(null)");
            return -1;
        }
    char python[4096];
    if (find_python(python, sizeof python) != 0) {
        set_err(err, errlen, "sandbox: python3 not found (looked for %s): install it with"
                " `apt-get install -y python3` or point GRPO_PYTHON at one", python);
        return -1;
    }
    pthread_once(&g_probe_once, probe_ns);
    pthread_mutex_lock(&g_mu);
    int ns = g_ns_ok && !g_ns_off, root = geteuid() == 0;
    int userns = ns && g_ns_ok == 2;
    pthread_mutex_unlock(&g_mu);
    int slot = slot_acquire();
    unsigned uid = uid_first() + (unsigned)slot;

    int ret = -1;
    char eb[128];
    char hostdir[4096] = "";
    int nf = job->n_files + 1;
    SbxFileOut *files = calloc((size_t)nf, sizeof *files);
    char **paths = calloc((size_t)nf, sizeof *paths);
    int sy_p[2] = {-1, -1}, st_p[2] = {-1, -1}, in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, ch_p[2] = {-1, -1};
    Cap cout = {0}, cerr = {0}, cch = {0};
    cout.limit = cerr.limit = L.out_bytes;
    cch.limit = SBX_CHAN_MAX;
    pid_t pid = -1;
    if (!files || !paths) { set_err(err, errlen, "sandbox: out of memory"); goto done; }

    const char *workdir = "/tmp";
    if (!ns) {
        const char *t = getenv("TMPDIR");
        snprintf(hostdir, sizeof hostdir, "%s/grpo-sbx-XXXXXX", t && *t == '/' ? t : "/tmp");
        if (!mkdtemp(hostdir)) {
            set_err(err, errlen, "sandbox: mkdtemp %s: %s", hostdir, errstr(errno, eb, sizeof eb));
            hostdir[0] = 0;
            goto done;
        }
        if (root && chown(hostdir, uid, uid) != 0) {
            set_err(err, errlen, "sandbox: chown %s: %s", hostdir, errstr(errno, eb, sizeof eb));
            goto done;
        }
        workdir = hostdir;
    }
    size_t total = 0;
    for (int i = 0; i < nf; i++) {
        const char *name = i == 0 ? "main.py" : job->files[i - 1].name;
        const char *data = i == 0 ? job->source : job->files[i - 1].data;
        size_t len = i == 0 ? strlen(job->source) : job->files[i - 1].len;
        size_t pl = strlen(workdir) + strlen(name) + 2;
        if (!(paths[i] = malloc(pl))) { set_err(err, errlen, "sandbox: out of memory"); goto done; }
        snprintf(paths[i], pl, "%s/%s", workdir, name);
        files[i].path = paths[i];
        files[i].data = data ? data : "";
        files[i].len = data ? len : 0;
        total += files[i].len;
        if (!ns && write_file(paths[i], files[i].data, files[i].len, root, uid) != 0) {
            set_err(err, errlen, "sandbox: writing %s: %s", paths[i], errstr(errno, eb, sizeof eb));
            goto done;
        }
    }

    char opts[256];
    snprintf(opts, sizeof opts, "size=%zu,nr_inodes=4096,mode=0700,uid=%u,gid=%u",
             L.file_bytes + total + ((size_t)1 << 20), root ? uid : 0u, root ? uid : 0u);
    char a_home[4200], a_tmp[4200], a_main[4200];
    snprintf(a_home, sizeof a_home, "HOME=%s", workdir);
    snprintf(a_tmp, sizeof a_tmp, "TMPDIR=%s", workdir);
    snprintf(a_main, sizeof a_main, "%s", paths[0]);
    // -s: no user site-packages; -B: no .pyc files. A fixed hash seed keeps runs reproducible.
    char *argv[] = {python, "-s", "-B", a_main, NULL};
    char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", a_home, a_tmp, "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                    "PYTHONHASHSEED=0", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUTF8=1", NULL};

    if (pipe2(st_p, O_CLOEXEC) || pipe2(in_p, O_CLOEXEC) || pipe2(out_p, O_CLOEXEC) ||
        pipe2(err_p, O_CLOEXEC) || (job->want_chan && pipe2(ch_p, O_CLOEXEC)) ||
        (userns && pipe2(sy_p, O_CLOEXEC))) {
        set_err(err, errlen, "sandbox: pipe: %s", errstr(errno, eb, sizeof eb));
        goto done;
    }
    SbxPlan plan;
    memset(&plan, 0, sizeof plan);
    plan.ns = ns;
    plan.userns = userns;
    plan.fd_sync = sy_p[0];
    plan.drop_uid = root;
    plan.uid = plan.gid = uid;
    plan.fd_st = st_p[1];
    plan.fd_in = in_p[0];
    plan.fd_out = out_p[1];
    plan.fd_err = err_p[1];
    plan.fd_chan = ch_p[1];
    plan.python = python;
    plan.argv = argv;
    plan.envp = envp;
    plan.workdir = workdir;
    plan.tmpfs_opts = opts;
    plan.files = files;
    plan.n_files = ns ? nf : 0;
    plan.rl_cpu = rl(L.cpu_s > 0 ? ceil(L.cpu_s) : 0);
    if (L.cpu_s > 0) plan.rl_cpu.rlim_max = plan.rl_cpu.rlim_cur + 1;  // SIGXCPU, then SIGKILL
    plan.rl_as = rl((double)L.mem_bytes);
    plan.rl_fsize = rl((double)L.file_bytes);
    plan.rl_nofile = rl(L.max_files > 0 ? L.max_files : 64);
    plan.rl_nproc = rl(root ? (L.max_procs > 0 ? L.max_procs : 32)
                            : (double)(count_uid_tasks() + (L.max_procs > 0 ? L.max_procs : 32)));
    plan.wall_ms = L.wall_s > 0 ? (long)(L.wall_s * 1000) : 10000;

    double t0 = mono_s();
    pid = (pid_t)syscall(SYS_clone, (ns ? NS_FLAGS : 0) | (userns ? CLONE_NEWUSER : 0) | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) sbx_child_main(&plan);
    if (pid < 0) {
        set_err(err, errlen, "sandbox: clone: %s", errstr(errno, eb, sizeof eb));
        goto done;
    }
    if (userns) {
        // uid and gid 0 inside are the caller's outside; nothing else is mapped.
        char map[64];
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getuid());
        int ok = write_proc(pid, "uid_map", map) == 0 && write_proc(pid, "setgroups", "deny") == 0;
        snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getgid());
        ok = ok && write_proc(pid, "gid_map", map) == 0;
        if (!ok) {
            set_err(err, errlen, "sandbox: writing the user namespace's id maps: %s", errstr(errno, eb, sizeof eb));
            goto done;
        }
        if (write(sy_p[1], "x", 1) != 1) {
            set_err(err, errlen, "sandbox: starting the sandbox: %s", errstr(errno, eb, sizeof eb));
            goto done;
        }
        close(sy_p[1]);
        sy_p[1] = -1;
    }
    if (sy_p[0] >= 0) { close(sy_p[0]); sy_p[0] = -1; }
    close(st_p[1]); st_p[1] = -1;
    close(in_p[0]); in_p[0] = -1;
    close(out_p[1]); out_p[1] = -1;
    close(err_p[1]); err_p[1] = -1;
    if (ch_p[1] >= 0) { close(ch_p[1]); ch_p[1] = -1; }

    // stdin: written as the program reads it (it may be larger than a pipe). A reader that
    // quits early must not SIGPIPE the caller: block SIGPIPE in this thread and swallow a
    // pending one afterwards (a write's SIGPIPE goes to the writing thread).
    const char *in_data = job->stdin_data ? job->stdin_data : "";
    size_t in_len = job->stdin_data ? (job->stdin_len ? job->stdin_len : strlen(job->stdin_data)) : 0, in_off = 0;
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    fcntl(in_p[1], F_SETFL, O_NONBLOCK);
    if (in_len == 0) { close(in_p[1]); in_p[1] = -1; }

    SbxMsg msgs[8];
    size_t st_len = 0;
    char *st_buf = (char *)msgs;
    const size_t flood = L.out_bytes * 16 > ((size_t)16 << 20) ? L.out_bytes * 16 : ((size_t)16 << 20);
    const double wall = (double)plan.wall_ms / 1000.0;
    int sent_term = 0, sent_kill = 0, killed_by_us = 0, oom = 0;
    for (;;) {
        struct pollfd pf[5];
        int np = 0, idx_out = -1, idx_err = -1, idx_st = -1, idx_ch = -1, idx_in = -1;
        if (out_p[0] >= 0) { idx_out = np; pf[np++] = (struct pollfd){out_p[0], POLLIN, 0}; }
        if (err_p[0] >= 0) { idx_err = np; pf[np++] = (struct pollfd){err_p[0], POLLIN, 0}; }
        if (st_p[0] >= 0) { idx_st = np; pf[np++] = (struct pollfd){st_p[0], POLLIN, 0}; }
        if (ch_p[0] >= 0) { idx_ch = np; pf[np++] = (struct pollfd){ch_p[0], POLLIN, 0}; }
        if (in_p[1] >= 0) { idx_in = np; pf[np++] = (struct pollfd){in_p[1], POLLOUT, 0}; }
        if (idx_out < 0 && idx_err < 0 && idx_st < 0 && idx_ch < 0) break;
        double now = mono_s() - t0;
        // Backstops: init enforces the deadline itself; these only act if it does not.
        if (!sent_term && now > wall + 1.0) { kill(pid, SIGTERM); sent_term = 1; killed_by_us = 1; }
        if (!sent_kill && now > wall + 3.0) { kill(pid, SIGKILL); sent_kill = 1; killed_by_us = 1; }
        if (now > wall + 5.0) break;  // fallback only: an escaped process holds a pipe
        double next = !sent_term ? wall + 1.0 : !sent_kill ? wall + 3.0 : wall + 5.0;
        int tmo = (int)((next - now) * 1000) + 1;
        int r = poll(pf, (nfds_t)np, tmo);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        char buf[65536];
        int fdsv[4] = {idx_out, idx_err, idx_st, idx_ch};
        int *fdp[4] = {&out_p[0], &err_p[0], &st_p[0], &ch_p[0]};
        Cap *caps[4] = {&cout, &cerr, NULL, &cch};
        for (int k = 0; k < 4; k++) {
            int ix = fdsv[k];
            if (ix < 0 || !(pf[ix].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(*fdp[k], buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) { close(*fdp[k]); *fdp[k] = -1; continue; }
            if (caps[k]) {
                if (cap_add(caps[k], buf, (size_t)n) != 0) {
                    oom = 1;
                    kill(pid, SIGKILL);
                    goto reap;
                }
            } else {
                size_t room = sizeof msgs - st_len;
                size_t m = (size_t)n < room ? (size_t)n : room;
                memcpy(st_buf + st_len, buf, m);
                st_len += m;
            }
        }
        if (!sent_term && cout.seen + cerr.seen + cch.seen > flood) {
            kill(pid, SIGTERM);  // an output flood: stop it rather than drain it for seconds
            sent_term = 1;
        }
        if (idx_in >= 0 && (pf[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(in_p[1], in_data + in_off, in_len - in_off);
            if (w > 0) in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off >= in_len) {
                close(in_p[1]);
                in_p[1] = -1;
            }
        }
    }
reap:
    if (in_p[1] >= 0) { close(in_p[1]); in_p[1] = -1; }
    {
        struct timespec zero = {0, 0};
        sigset_t pend;
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE)) sigtimedwait(&pipe_set, NULL, &zero);
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    }
    if (out_p[0] >= 0 || err_p[0] >= 0) kill(pid, SIGKILL);
    {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    }
    pid = -1;
    res->wall_s = mono_s() - t0;
    if (oom) { set_err(err, errlen, "sandbox: out of memory"); goto done; }

    int have_done = 0, noted = 0;
    for (size_t i = 0; i + sizeof(SbxMsg) <= st_len; i += sizeof(SbxMsg))
        if (msgs[i / sizeof(SbxMsg)].kind == SBX_MSG_NOTE) {
            noted |= msgs[i / sizeof(SbxMsg)].iso;
            if (msgs[i / sizeof(SbxMsg)].err) note_seccomp_errno(msgs[i / sizeof(SbxMsg)].err);
        }
    for (size_t i = 0; i + sizeof(SbxMsg) <= st_len; i += sizeof(SbxMsg)) {
        const SbxMsg *m = &msgs[i / sizeof(SbxMsg)];
        if (m->kind == SBX_MSG_SETUP_FAIL) {
            set_err(err, errlen, "sandbox: could not %s: %s", sbx_step_name(m->step),
                    errstr(m->err, eb, sizeof eb));
            if (m->step == SBX_STEP_EXEC)
                set_err(err, errlen, "sandbox: could not run %s: %s%s", python, errstr(m->err, eb, sizeof eb),
                        root ? " (it must be executable by an unprivileged uid: use a system-wide python3, "
                               "e.g. apt-get install -y python3, or set GRPO_PYTHON)" : "");
            goto done;
        }
        if (m->kind == SBX_MSG_DONE) {
            have_done = 1;
            res->timed_out = m->timed_out;
            if (m->main_done && WIFEXITED(m->status)) {
                res->exit_code = WEXITSTATUS(m->status);
            } else if (m->main_done && WIFSIGNALED(m->status)) {
                res->term_signal = WTERMSIG(m->status);
            } else {
                res->term_signal = SIGKILL;  // killed at the deadline or on our request
            }
            int iso = m->iso;
            if (ns) iso |= SANDBOX_ISO_PIDNS | SANDBOX_ISO_NETNS | SANDBOX_ISO_MNTNS | SANDBOX_ISO_IPCUTS;
            if (userns) iso |= SANDBOX_ISO_USERNS;
            if (root) iso |= SANDBOX_ISO_UID;
            res->isolation = iso | noted;
        }
    }
    if (!have_done) {
        res->term_signal = SIGKILL;
        res->timed_out = killed_by_us;
        res->isolation = (ns ? SANDBOX_ISO_PIDNS | SANDBOX_ISO_NETNS | SANDBOX_ISO_MNTNS | SANDBOX_ISO_IPCUTS : 0) |
                         (userns ? SANDBOX_ISO_USERNS : 0) | (root ? SANDBOX_ISO_UID : 0) | noted;
    }
    res->out_truncated = cout.truncated || cerr.truncated;
    res->out = cap_take(&cout, &res->out_len);
    res->err = cap_take(&cerr, &res->err_len);
    if (job->want_chan) res->chan = cap_take(&cch, &res->chan_len);
    if (!res->out || !res->err || (job->want_chan && !res->chan)) {
        sandbox_result_free(res);
        set_err(err, errlen, "sandbox: out of memory");
        goto done;
    }
    note_isolation(res->isolation);
    ret = 0;
done:
    if (pid > 0) {
        int st;
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    }
    int *all[] = {&sy_p[0], &sy_p[1], &st_p[0], &st_p[1], &in_p[0], &in_p[1], &out_p[0], &out_p[1], &err_p[0], &err_p[1], &ch_p[0], &ch_p[1]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (*all[i] >= 0) close(*all[i]);
    free(cout.p);
    free(cerr.p);
    free(cch.p);
    if (hostdir[0]) nftw(hostdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (paths)
        for (int i = 0; i < nf; i++) free(paths[i]);
    free(paths);
    free(files);
    slot_release(slot);
    return ret;
}

int sandbox_run_python(const char *source, const char *stdin_data, const SandboxLimits *l,
                       SandboxResult *res, char *err, size_t errlen) {
    SandboxJob job;
    memset(&job, 0, sizeof job);
    job.source = source;
    job.stdin_data = stdin_data;
    return sandbox_run_job(&job, l, res, err, errlen);
}

int sandbox_check_runtime(char *err, size_t errlen) {
    SandboxLimits l;
    sandbox_limits_default(&l);
    SandboxResult r;
    if (sandbox_run_python("import sys\nprint('grpo-sandbox-ok', sys.version_info[0])\n", NULL, &l, &r,
                           err, errlen) != 0)
        return -1;
    int ok = r.exit_code == 0 && r.out && strstr(r.out, "grpo-sandbox-ok 3") != NULL;
    if (!ok) {
        char python[4096];
        find_python(python, sizeof python);
        set_err(err, errlen, "sandbox: %s did not run a test program (exit %d, signal %d%s): %.300s", python,
                r.exit_code, r.term_signal, r.timed_out ? ", timed out" : "", r.err ? r.err : "");
    }
    sandbox_result_free(&r);
    return ok ? 0 : -1;
}
