// The sandbox against hostile programs: each must end within its limits, the caller
// survives, no process of the sandbox is left, nothing appears outside the sandbox.
// Run as root (CI is) for the full isolation; otherwise the fallback is tested.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rewards/sandbox.h"
#include "testlib.h"

static char g_marker[64];

// Processes of this test's sandbox uids, or with the marker in their command line.
static int leftovers(void) {
    unsigned lo, hi;
    sandbox_uid_range(&lo, &hi);
    int found = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        unsigned uid = 0;
        char state = '?';
        while (f && fgets(buf, sizeof buf, f)) {
            sscanf(buf, "Uid: %u", &uid);
            sscanf(buf, "State: %c", &state);
        }
        if (f) fclose(f);
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        for (size_t i = 0; i < n; i++)
            if (!buf[i]) buf[i] = ' ';
        buf[n] = 0;
        if ((uid >= lo && uid <= hi) || strstr(buf, g_marker)) {
            fprintf(stderr, "leftover: pid %s uid %u state %c: %s\n", e->d_name, uid, state, buf);
            found++;
        }
    }
    if (d) closedir(d);
    return found;
}

static int run(const char *src, const char *in, const SandboxLimits *l, SandboxResult *r) {
    char err[512] = "";
    int rc = sandbox_run_python(src, in, l, r, err, sizeof err);
    CHECK(rc == 0, "sandbox_run_python: %s", err);
    return rc;
}

static SandboxLimits quick(double wall) {
    SandboxLimits l;
    sandbox_limits_default(&l);
    l.wall_s = wall;
    l.cpu_s = wall;
    return l;
}

static int file_exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

// The system-call filter (rewards/sandbox_seccomp.c), where the kernel lets it be installed:
// what it refuses fails with EPERM, what Python needs (threads, subprocesses, Unix sockets)
// still works, and a call through the 32-bit ABI is refused too.
static void seccomp_suite(const char *mode) {
    static const char *src =
        "import ctypes, errno, os, socket, subprocess, sys, threading\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def refused(f):\n"
        "    try:\n"
        "        f()\n"
        "    except PermissionError:\n"
        "        return 'EPERM'\n"
        "    except OSError as e:\n"
        "        return errno.errorcode.get(e.errno, str(e.errno))\n"
        "    return 'allowed'\n"
        "def c(rc):\n"
        "    if rc == -1:\n"
        "        raise OSError(ctypes.get_errno(), 'call failed')\n"
        "print('inet', refused(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)))\n"
        "print('inet6', refused(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)))\n"
        "print('ptrace', refused(lambda: c(libc.ptrace(0, 0, None, None))))\n"
        "print('unshare', refused(lambda: c(libc.unshare(0x10000000))))\n"
        "print('mount', refused(lambda: c(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))))\n"
        "print('io_uring', refused(lambda: c(libc.syscall(425, 8, ctypes.create_string_buffer(120)))))\n"
        "a, b = socket.socketpair(socket.AF_UNIX)\n"
        "a.send(b'x'); print('unix', b.recv(1).decode())\n"
        "out = []\n"
        "t = threading.Thread(target=lambda: out.append(7)); t.start(); t.join()\n"
        "print('thread', out[0])\n"
        "print('subprocess', subprocess.run([sys.executable, '-c', 'print(6*7)'], capture_output=True, text=True).stdout.strip())\n";
    SandboxResult r;
    if (run(src, NULL, NULL, &r) != 0) return;
    if (!(r.isolation & SANDBOX_ISO_SECCOMP)) {
        fprintf(stderr, "NOTE: %s: no seccomp filter here (isolation 0x%x); its checks skipped\n", mode, r.isolation);
        CHECK(sandbox_warning() && strstr(sandbox_warning(), "no system-call filter"), "%s: no filter, no warning", mode);
        sandbox_result_free(&r);
        return;
    }
    static const char *want =
        "inet EPERM\ninet6 EPERM\nptrace EPERM\nunshare EPERM\nmount EPERM\nio_uring EPERM\nunix x\n"
        "thread 7\nsubprocess 42\n";
    CHECK(r.exit_code == 0 && r.out && !strcmp(r.out, want), "%s: seccomp: exit %d, out:\n%s\nerr:\n%s", mode,
          r.exit_code, r.out ? r.out : "", r.err ? r.err : "");
    sandbox_result_free(&r);
#if defined(__x86_64__)
    // getpid through int 0x80 (the i386 ABI, number 20): refused, whatever the number means there.
    static const char *i386 =
        "import ctypes, mmap\n"
        "code = bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3])  # mov eax, 20; int 0x80; ret\n"
        "buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
        "buf.write(code)\n"
        "addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))\n"
        "f = ctypes.CFUNCTYPE(ctypes.c_int)(addr)\n"
        "print('int80', f())\n";
    if (run(i386, NULL, NULL, &r) == 0) {
        // -EPERM from the filter; a kernel without IA32 emulation says -ENOSYS; never a pid.
        CHECK(r.out && (!strcmp(r.out, "int80 -1\n") || !strcmp(r.out, "int80 -38\n")) , "%s: int 0x80: exit %d out '%s' err '%s'",
              mode, r.exit_code, r.out ? r.out : "", r.err ? r.err : "");
        sandbox_result_free(&r);
    }
#endif
}

static void hostile_suite(const char *mode, int full) {
    SandboxResult r;
    char src[4096];
    fprintf(stderr, "-- %s\n", mode);

    // Plain run: stdin in, stdout and stderr out, exit code.
    if (run("import sys\ndata = sys.stdin.read()\nprint('got', data.upper())\n"
            "print('warn', file=sys.stderr)\nsys.exit(3)\n", "abc", NULL, &r) == 0) {
        CHECK(r.exit_code == 3 && r.term_signal == 0 && !r.timed_out, "%s: exit %d sig %d", mode, r.exit_code, r.term_signal);
        CHECK(r.out && strcmp(r.out, "got ABC\n") == 0, "%s: out '%s'", mode, r.out);
        CHECK(r.err && strcmp(r.err, "warn\n") == 0, "%s: err '%s'", mode, r.err);
        sandbox_result_free(&r);
    }

    // Infinite loop: the CPU limit or the wall clock ends it.
    SandboxLimits l = quick(2);
    l.cpu_s = 1;
    if (run("while True:\n    pass\n", NULL, &l, &r) == 0) {
        CHECK(r.term_signal != 0 && r.exit_code == -1, "%s: loop: exit %d sig %d", mode, r.exit_code, r.term_signal);
        CHECK(r.wall_s < 4.0, "%s: loop took %.2f s", mode, r.wall_s);
        sandbox_result_free(&r);
    }

    // Sleeping forever: only the wall clock ends it.
    l = quick(1);
    if (run("import time\ntime.sleep(1000)\n", NULL, &l, &r) == 0) {
        CHECK(r.timed_out && r.term_signal == SIGKILL, "%s: sleep: timed_out %d sig %d", mode, r.timed_out, r.term_signal);
        CHECK(r.wall_s < 3.0, "%s: sleep took %.2f s", mode, r.wall_s);
        sandbox_result_free(&r);
    }

    // Fork bomb whose processes carry the marker: contained by RLIMIT_NPROC, killed at the deadline.
    l = quick(2);
    snprintf(src, sizeof src,
             "import os\nwhile True:\n    try:\n        if os.fork() == 0:\n"
             "            os.execv('/bin/sh', ['sh', '-c', 'sleep 1000; : %s'])\n"
             "    except OSError:\n        pass\n", g_marker);
    if (run(src, NULL, &l, &r) == 0) {
        CHECK(r.timed_out, "%s: fork bomb not timed out (exit %d)", mode, r.exit_code);
        CHECK(r.wall_s < 5.0, "%s: fork bomb took %.2f s", mode, r.wall_s);
        sandbox_result_free(&r);
    }
    CHECK(leftovers() == 0, "%s: processes left after the fork bomb", mode);

    // Memory bomb: the address-space limit stops it with MemoryError.
    l = quick(5);
    l.mem_bytes = (size_t)256 << 20;
    if (run("a = []\nwhile True:\n    a.append(bytearray(10**7))\n", NULL, &l, &r) == 0) {
        CHECK(r.exit_code != 0 && !r.timed_out, "%s: memory bomb: exit %d timed_out %d", mode, r.exit_code, r.timed_out);
        CHECK(r.err && strstr(r.err, "MemoryError"), "%s: memory bomb stderr '%s'", mode, r.err);
        sandbox_result_free(&r);
    }

    // Output flood: kept up to out_bytes, then stopped.
    l = quick(5);
    l.out_bytes = 1000;
    if (run("while True:\n    print('x' * 4096)\n", NULL, &l, &r) == 0) {
        CHECK(r.out_truncated && r.out_len == 1000, "%s: flood: truncated %d len %zu", mode, r.out_truncated, r.out_len);
        CHECK(!r.timed_out && r.wall_s < 4.0, "%s: flood took %.2f s", mode, r.wall_s);
        sandbox_result_free(&r);
    }

    // Killing its parent, and everything it can signal: the caller survives (we are here).
    // (Not kill(-1) in the fallback without root: the program is the caller's uid there.)
    snprintf(src, sizeof src, "import os, signal\nfor p in (os.getppid(), %s0):\n    try:\n"
             "        os.kill(p, signal.SIGKILL)\n    except OSError as e:\n        print('refused', e.errno)\n",
             full || geteuid() == 0 ? "-1, " : "");
    if (run(src, NULL, &l, &r) == 0) {
        CHECK(r.wall_s < 4.0, "%s: kill parent took %.2f s", mode, r.wall_s);
        sandbox_result_free(&r);
    }

    // An orphaned grandchild that sleeps: the run ends with the main program, and the
    // grandchild dies with the tree.
    l = quick(5);
    snprintf(src, sizeof src,
             "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
             "        os.execv('/bin/sh', ['sh', '-c', 'sleep 1000; : %s'])\n    os._exit(0)\n"
             "os.wait()\nprint('main done')\n", g_marker);
    if (run(src, NULL, &l, &r) == 0) {
        CHECK(r.exit_code == 0 && r.out && strstr(r.out, "main done"), "%s: orphan: exit %d out '%s'", mode, r.exit_code, r.out);
        CHECK(r.wall_s < 3.0, "%s: orphan run took %.2f s (waited for the grandchild?)", mode, r.wall_s);
        sandbox_result_free(&r);
    }
    CHECK(leftovers() == 0, "%s: processes left after the orphan", mode);

    // Writes outside the sandbox: /tmp and the repository (tests/).
    char tmp_target[256], repo_target[4096];
    snprintf(tmp_target, sizeof tmp_target, "/tmp/grpo_escape_%d", (int)getpid());
    snprintf(repo_target, sizeof repo_target, "%s", tu_path(""));
    char *rp = realpath(repo_target, NULL);
    snprintf(repo_target, sizeof repo_target, "%s/grpo_escape_%d", rp ? rp : ".", (int)getpid());
    free(rp);
    snprintf(src, sizeof src,
             "for p in (%s, %s):\n    try:\n        open(p, 'w').write('escaped')\n        print('wrote', p)\n"
             "    except OSError as e:\n        print('refused', p, e.errno)\n", "'/tmp/grpo_escape_%d'", "'%s'");
    char src2[4096];
    snprintf(src2, sizeof src2, src, (int)getpid(), repo_target);
    if (run(src2, NULL, NULL, &r) == 0) {
        CHECK(r.exit_code == 0, "%s: writer exit %d: %s", mode, r.exit_code, r.err);
        sandbox_result_free(&r);
    }
    if (full) CHECK(!file_exists(tmp_target), "%s: %s appeared on the host", mode, tmp_target);
    CHECK(!file_exists(repo_target) || geteuid() != 0, "%s: %s appeared in the repository", mode, repo_target);
    unlink(tmp_target);
    unlink(repo_target);

    // A connection to a listener the test opens on 127.0.0.1 must fail.
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 4) == 0 &&
        getsockname(ls, (struct sockaddr *)&a, &al) == 0) {
        snprintf(src, sizeof src,
                 "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', %d), timeout=2)\n"
                 "    s.sendall(b'hi')\n    print('connected')\nexcept OSError as e:\n    print('failed', e.errno)\n",
                 ntohs(a.sin_port));
        if (run(src, NULL, NULL, &r) == 0) {
            if (full) {
                CHECK(r.out && strstr(r.out, "failed"), "%s: connection: '%s'", mode, r.out);
                struct pollfd pf = {ls, POLLIN, 0};
                CHECK(poll(&pf, 1, 0) == 0, "%s: the listener got a connection", mode);
            }
            sandbox_result_free(&r);
        }
    }
    if (ls >= 0) close(ls);
    CHECK(leftovers() == 0, "%s: processes left at the end", mode);
}

typedef struct { int id; int ok; char msg[256]; } ThreadArg;

static void *thread_run(void *p) {
    ThreadArg *t = p;
    char src[256], want[64], err[256] = "";
    snprintf(src, sizeof src, "import sys, time\ntime.sleep(0.2)\nprint('thread', %d * 7, sys.stdin.read())\n", t->id);
    snprintf(want, sizeof want, "thread %d in%d\n", t->id * 7, t->id);
    char in[32];
    snprintf(in, sizeof in, "in%d", t->id);
    SandboxResult r;
    if (sandbox_run_python(src, in, NULL, &r, err, sizeof err) != 0) {
        snprintf(t->msg, sizeof t->msg, "run failed: %s", err);
        return NULL;
    }
    t->ok = r.exit_code == 0 && strcmp(r.out, want) == 0;
    snprintf(t->msg, sizeof t->msg, "exit %d out '%s' err '%.100s'", r.exit_code, r.out, r.err);
    sandbox_result_free(&r);
    return NULL;
}

// Names of /tmp entries that look like fallback work dirs (grpo-sbx-*), as one string.
static void sbx_dirs(char *out, size_t n) {
    out[0] = 0;
    DIR *d = opendir("/tmp");
    struct dirent *e;
    size_t k = 0;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "grpo-sbx-", 9) == 0 && k + strlen(e->d_name) + 2 < n)
            k += (size_t)snprintf(out + k, n - k, "%s ", e->d_name);
    if (d) closedir(d);
}

static int g_log_calls;
static void on_log(const char *msg, void *ctx) {
    (void)ctx;
    g_log_calls++;
    fprintf(stderr, "logged: %s\n", msg);
}

int main(void) {
    snprintf(g_marker, sizeof g_marker, "grpo_marker_%d", (int)getpid());
    sandbox_set_log(on_log, NULL);
    char err[512] = "";
    if (sandbox_check_runtime(err, sizeof err) != 0) {
        // The one reason to skip: no usable python3 on this machine.
        if (strstr(err, "not found")) return tu_skip("test_sandbox", err);
        CHECK(0, "sandbox_check_runtime: %s", err);
        return tu_finish("test_sandbox");
    }
    int iso = sandbox_isolation();
    int full = (iso & SANDBOX_ISO_PIDNS) && (iso & SANDBOX_ISO_MNTNS);
    fprintf(stderr, "isolation bits 0x%x; warning: %s\n", iso, sandbox_warning() ? sandbox_warning() : "(none)");
    const char *w = sandbox_warning();
    if (geteuid() == 0 && full) {
        // As root on a normal kernel (our machines, CI) we get everything.
        CHECK((iso & SANDBOX_ISO_UID) && (iso & SANDBOX_ISO_NETNS) && (iso & SANDBOX_ISO_RO_ALL) &&
              (iso & SANDBOX_ISO_PROC), "isolation 0x%x as root: %s", iso, w ? w : "");
        CHECK(w == NULL && g_log_calls == 0, "warning at full isolation: %s", w ? w : "");
    } else {
        // A container that refuses namespaces: the refusal must be reported, with its reason.
        if (!full) fprintf(stderr, "NOTE: no namespaces here; testing the fallback only\n");
        CHECK(w != NULL && g_log_calls == 1, "reduced isolation without a warning");
        CHECK(full || (w && strstr(w, "clone: ")), "no reason given: %s", w ? w : "");
    }

    // A missing interpreter is a clear error.
    sandbox_set_python("/nonexistent/python3");
    CHECK(sandbox_check_runtime(err, sizeof err) != 0 && strstr(err, "python3 not found"), "missing python: '%s'", err);
    sandbox_set_python(NULL);

    hostile_suite(full ? "namespaces" : "fallback", full);
    seccomp_suite(full ? "namespaces" : "fallback");

    // Several programs at once from several threads.
    enum { NT = 6 };
    pthread_t th[NT];
    ThreadArg args[NT];
    for (int i = 0; i < NT; i++) {
        args[i] = (ThreadArg){i, 0, ""};
        pthread_create(&th[i], NULL, thread_run, &args[i]);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].ok, "thread %d: %s", i, args[i].msg);
    }

    if (full) {
        // The fallback, as on a kernel that refuses namespaces: still contained and killed.
        int before = g_log_calls;
        sandbox_set_namespaces(0);
        SandboxResult r;
        if (run("print('fallback')\n", NULL, NULL, &r) == 0) {
            CHECK(r.exit_code == 0 && strcmp(r.out, "fallback\n") == 0, "fallback run: '%s'", r.out);
            CHECK(!(r.isolation & SANDBOX_ISO_PIDNS), "fallback isolation 0x%x", r.isolation);
            sandbox_result_free(&r);
        }
        CHECK(sandbox_warning() && strstr(sandbox_warning(), "no namespaces"), "fallback warning '%s'",
              sandbox_warning() ? sandbox_warning() : "(none)");
        CHECK(g_log_calls == before + 1, "the warning was logged %d times", g_log_calls - before);
        char before_dirs[4096], after_dirs[4096];
        sbx_dirs(before_dirs, sizeof before_dirs);
        hostile_suite("fallback", 0);
        seccomp_suite("fallback"); // here the filter is what keeps the network closed
        sbx_dirs(after_dirs, sizeof after_dirs);
        CHECK(strcmp(before_dirs, after_dirs) == 0, "work dirs left in /tmp: before '%s', after '%s'",
              before_dirs, after_dirs);
        sandbox_set_namespaces(1);
    }
    CHECK(leftovers() == 0, "processes left at exit");
    return tu_finish("test_sandbox");
}
