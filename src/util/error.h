/* Errors as values: a fixed-size record (errno, stage, message) that any layer
 * can fill without allocating -- the sandbox init fills it after clone, where
 * malloc is off limits -- and that callers wrap with context on the way up. */
#pragma once

#include <stddef.h>

#define AL_ERR_MSG_MAX 512

struct al_error {
	int code;              /* positive errno, 0 if not an OS error */
	char stage[32];        /* e.g. "spec", "mounts", "seccomp" */
	char msg[AL_ERR_MSG_MAX];
};

/* Fill err and return -code (or -EINVAL when code is 0). Message is printf-style. */
int al_error_set(struct al_error *err, int code, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefix the existing message with context: "ctx: old message". Returns -err->code. */
int al_error_wrap(struct al_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like al_error_set with code = errno. */
#define al_error_errno(err, stage, ...) al_error_set((err), errno, (stage), __VA_ARGS__)

/* "stage: message: strerror" into buf, for humans. */
const char *al_error_format(const struct al_error *err, char *buf, size_t len);

void al_error_clear(struct al_error *err);
