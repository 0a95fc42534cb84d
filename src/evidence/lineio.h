/* Bounded line reader for log files: one line at a time, never more than
 * AL_EVLOG_LINE_MAX bytes held, whatever the file contains. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct al_linereader {
	int fd;
	char *buf;
	size_t cap;
	size_t start, end; /* unread bytes are buf[start..end) */
	bool eof;
	/* the current line, valid until the next call */
	const char *line;
	size_t len;
	bool newline; /* the line ended with '\n' (false: torn tail) */
	bool skipping; /* inside an overlong line already reported */
};

int al_linereader_init(struct al_linereader *lr, int fd);
void al_linereader_free(struct al_linereader *lr);
/* 1: a line is in lr->line/len; 0: end of file; -E2BIG: a line longer than
 * AL_EVLOG_LINE_MAX was found -- reported as soon as the limit is passed,
 * without reading to its end (an endless line, /dev/zero, must not hang a
 * reader that stops there); a caller that goes on gets the next call skip
 * the rest of it; other -errno: read error. */
int al_linereader_next(struct al_linereader *lr);
