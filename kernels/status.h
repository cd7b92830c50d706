// Status codes and the last error message, shared by every module above kernels/.
// Library code never prints or exits: a failing call records a one-line message
// (thread-local, so OpenMP workers and sandbox threads do not clobber each other)
// and returns a non-zero GrpoStatus that the caller passes up or reports.
#ifndef GRPO_STATUS_H
#define GRPO_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GRPO_OK = 0,
    GRPO_EINVAL,       // bad argument or bad user input (config, CLI, dataset)
    GRPO_ENOMEM,       // host or device allocation failed
    GRPO_EIO,          // a file could not be opened, read or written
    GRPO_EFORMAT,      // a file's contents are malformed (JSON, safetensors, ...)
    GRPO_EDEVICE,      // the requested device is missing or a device call failed
    GRPO_EUNSUPPORTED, // a valid request this build or model cannot do
    GRPO_EINTERNAL     // a broken invariant: a bug in grpo
} GrpoStatus;

// Records a printf-style message and returns `code`, so errors read as
// `return grpo_fail(GRPO_EIO, "%s: cannot open: %s", path, strerror(errno));`
int grpo_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prefixes the current message with more context ("loading model: " + old).
int grpo_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *grpo_errmsg(void);
const char *grpo_status_name(int code);
void grpo_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif
