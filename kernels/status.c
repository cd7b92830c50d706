#include "kernels/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[2048];

int grpo_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return code;
}

int grpo_wrap(int code, const char *fmt, ...) {
    char prefix[1024], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t np = strlen(prefix);
    if (np >= sizeof g_msg) np = sizeof g_msg - 1;
    memcpy(g_msg, prefix, np);
    size_t room = sizeof g_msg - 1 - np, no = strnlen(old, sizeof old);
    if (no > room) no = room;
    memcpy(g_msg + np, old, no);
    g_msg[np + no] = '\0';
    return code;
}

// Always the buffer itself, so a pointer taken before a failing call (argument
// evaluation order is unspecified) still shows the message once it is written.
const char *grpo_errmsg(void) {
    if (!g_msg[0]) snprintf(g_msg, sizeof g_msg, "unknown error");
    return g_msg;
}

void grpo_clear_error(void) { g_msg[0] = '\0'; }

const char *grpo_status_name(int code) {
    switch (code) {
    case GRPO_OK: return "ok";
    case GRPO_EINVAL: return "invalid argument";
    case GRPO_ENOMEM: return "out of memory";
    case GRPO_EIO: return "i/o error";
    case GRPO_EFORMAT: return "malformed input";
    case GRPO_EDEVICE: return "device error";
    case GRPO_EUNSUPPORTED: return "unsupported";
    case GRPO_EINTERNAL: return "internal error";
    default: return "unknown status";
    }
}
