/* Bounded line reader (lineio.h): a fixed buffer, memchr for the newline,
 * and overlong lines skipped rather than grown into. */
#include "evidence/lineio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evidence/chain.h"

#define READ_CHUNK (64 * 1024)

int al_linereader_init(struct al_linereader *lr, int fd)
{
	memset(lr, 0, sizeof *lr);
	lr->fd = fd;
	lr->cap = AL_EVLOG_LINE_MAX + 1 + READ_CHUNK;
	lr->buf = malloc(lr->cap);
	return lr->buf ? 0 : -ENOMEM;
}

void al_linereader_free(struct al_linereader *lr)
{
	free(lr->buf);
	lr->buf = NULL;
}

static ssize_t fill(struct al_linereader *lr)
{
	ssize_t n;

	if (lr->start > 0) {
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
	}
	do
		n = read(lr->fd, lr->buf + lr->end, lr->cap - lr->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		lr->eof = true;
	lr->end += (size_t)n;
	return n;
}

int al_linereader_next(struct al_linereader *lr)
{
	size_t scanned = 0;

	for (;;) {
		char *nl =
		    memchr(lr->buf + lr->start + scanned, '\n', lr->end - lr->start - scanned);
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - (lr->buf + lr->start));
			const char *line = lr->buf + lr->start;
			bool was_skipping = lr->skipping;
			lr->start += len + 1;
			lr->skipping = false;
			if (was_skipping) {
				scanned = 0; /* the end of the overlong line: carry on after it */
				continue;
			}
			if (len > AL_EVLOG_LINE_MAX)
				return -E2BIG;
			lr->line = line;
			lr->len = len;
			lr->newline = true;
			return 1;
		}
		scanned = lr->end - lr->start;
		if (lr->skipping || scanned > AL_EVLOG_LINE_MAX) {
			/* too long: drop what we hold; report it the first time */
			bool first = !lr->skipping;
			lr->skipping = true;
			lr->start = lr->end = 0;
			scanned = 0;
			if (first)
				return -E2BIG;
		}
		if (lr->eof) {
			size_t len = lr->end - lr->start;
			if (len == 0 || lr->skipping) {
				lr->skipping = false;
				return 0;
			}
			lr->line = lr->buf + lr->start;
			lr->len = len;
			lr->newline = false;
			lr->start = lr->end;
			return 1;
		}
		n = fill(lr);
		if (n < 0)
			return (int)n;
	}
}
