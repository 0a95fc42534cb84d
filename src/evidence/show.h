/* `airlock log show`: a run's log as a timeline for a person. Reads any file
 * (garbage lines are reported and skipped) and never writes a control
 * character or bidi override from the log to the terminal. Does not verify. */
#pragma once

#include <stdint.h>
#include <stdio.h>

struct al_show_stats {
	uint64_t lines;
	uint64_t records;
	uint64_t unreadable;
	uint64_t execs;
	uint64_t denied;
	uint64_t limits;
	uint64_t checkpoints;
};

/* Print the timeline of the log read from fd. 0, or -errno on a read error. */
int al_show_fd(int fd, FILE *out, struct al_show_stats *st);
/* One line (exposed for the fuzzer). */
void al_show_line(const char *line, size_t len, FILE *out, struct al_show_stats *st, uint64_t *t0);
