// The sandbox's system-call filter: a seccomp BPF program installed just
// before python3 is executed (after no_new_privs), inherited by everything
// the program starts.
//
// It is a deny list, because Python needs most of the kernel: the calls that
// reach kernel attack surface or other processes and that a test program
// never needs fail with EPERM: debugging other processes (ptrace,
// process_vm_*, pidfd_getfd), new namespaces (unshare, setns, clone with a
// CLONE_NEW* flag), mounts, kernel modules, keyrings, bpf, perf events,
// userfaultfd, io_uring, the clock, reboot and kexec; sockets other than
// Unix ones, which keeps the network closed even where no network namespace
// could be made. clone3 fails with ENOSYS (its flags are in memory, out of a
// filter's reach), so the C library falls back to clone, whose flags are
// checked. Calls of another ABI (32-bit int 0x80, x32) are refused whole:
// their numbers mean other calls.
#include "rewards/sandbox_internal.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SBX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SBX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SBX_AUDIT_ARCH

#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define EPERM_RET RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
// if nr == NR: fail with EPERM (A holds the call number throughout the list)
#define DENY(NR) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (NR), 0, 1), EPERM_RET,

// Namespaces a clone may not make.
#define CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
                        CLONE_NEWCGROUP)
// The low 32 bits of argument i (little-endian: both architectures above).
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))

static const struct sock_filter sbx_filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SBX_AUDIT_ARCH, 1, 0),
    EPERM_RET,
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 0, 1),
    EPERM_RET,
#endif
    // socket(domain, ...): Unix sockets only
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1),
    RET(SECCOMP_RET_ALLOW),
    EPERM_RET,
    // clone(flags, ...): no new namespaces
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NS_FLAGS, 0, 1),
    EPERM_RET,
    RET(SECCOMP_RET_ALLOW),
#ifdef SYS_clone3
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
    RET(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
#endif
    DENY(SYS_ptrace) DENY(SYS_process_vm_readv) DENY(SYS_process_vm_writev) DENY(SYS_unshare) DENY(SYS_setns)
    DENY(SYS_mount) DENY(SYS_umount2) DENY(SYS_pivot_root) DENY(SYS_chroot) DENY(SYS_init_module)
    DENY(SYS_finit_module) DENY(SYS_delete_module) DENY(SYS_kexec_load) DENY(SYS_reboot) DENY(SYS_swapon)
    DENY(SYS_swapoff) DENY(SYS_acct) DENY(SYS_quotactl) DENY(SYS_keyctl) DENY(SYS_add_key) DENY(SYS_request_key)
    DENY(SYS_bpf) DENY(SYS_perf_event_open) DENY(SYS_userfaultfd) DENY(SYS_open_by_handle_at)
    DENY(SYS_name_to_handle_at) DENY(SYS_syslog) DENY(SYS_settimeofday) DENY(SYS_clock_settime) DENY(SYS_adjtimex)
    DENY(SYS_clock_adjtime) DENY(SYS_vhangup)
#ifdef SYS_kexec_file_load
    DENY(SYS_kexec_file_load)
#endif
#ifdef SYS_io_uring_setup
    DENY(SYS_io_uring_setup) DENY(SYS_io_uring_enter) DENY(SYS_io_uring_register)
#endif
#ifdef SYS_pidfd_getfd
    DENY(SYS_pidfd_getfd)
#endif
#ifdef SYS_open_tree
    DENY(SYS_open_tree) DENY(SYS_move_mount) DENY(SYS_fsopen) DENY(SYS_fsconfig) DENY(SYS_fsmount) DENY(SYS_fspick)
#endif
#ifdef SYS_mount_setattr
    DENY(SYS_mount_setattr)
#endif
#if defined(__x86_64__)
    DENY(SYS_iopl) DENY(SYS_ioperm) DENY(SYS_modify_ldt) DENY(SYS_uselib)
#endif
    RET(SECCOMP_RET_ALLOW),
};

int sbx_seccomp_install(void) {
    struct sock_fprog prog = {(unsigned short)(sizeof sbx_filter / sizeof sbx_filter[0]),
                              (struct sock_filter *)sbx_filter};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0 ? 0 : errno;
}

#else

int sbx_seccomp_install(void) { return ENOSYS; } // an architecture the filter does not know

#endif
