/* The error value shared by every layer: set, wrap, format. No allocation. */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void al_error_clear(struct al_error *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->stage[0] = '\0';
	err->msg[0] = '\0';
}

int al_error_set(struct al_error *err, int code, const char *stage, const char *fmt, ...)
{
	if (code < 0)
		code = -code;
	if (err != NULL) {
		va_list ap;
		err->code = code;
		snprintf(err->stage, sizeof err->stage, "%s", stage ? stage : "");
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return code ? -code : -EINVAL;
}

int al_error_wrap(struct al_error *err, const char *fmt, ...)
{
	char prefix[AL_ERR_MSG_MAX], old[AL_ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
	return err->code ? -err->code : -EINVAL;
}

const char *al_error_format(const struct al_error *err, char *buf, size_t len)
{
	snprintf(buf, len, "%s", err->msg[0] ? err->msg : "error");
	if (err->code) {
		size_t n = strlen(buf);
		if (n < len)
			snprintf(buf + n, len - n, ": %s", strerror(err->code));
	}
	return buf;
}
