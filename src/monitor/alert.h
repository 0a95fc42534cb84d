/* Alerts (the `alert` rule action): the supervisor, outside the sandbox,
 * POSTs the triggering record as JSON to the spec's webhook (plain
 * HTTP/1.1, own minimal client) or runs the spec's host command with the
 * record on its stdin. Each alert runs in a child process bounded by the
 * spec's alert timeout, started after any kill, so a slow or failing
 * alert never delays a kill. The outcome is recorded when the child ends. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"

struct al_alert_job {
	pid_t pid;
	int result_fd;       /* the child's report (read end), -1 */
	uint64_t started_ns;
	uint64_t timeout_ns;
	char target[16];     /* "webhook" or "command" */
	int rule;            /* 1-based rule number */
	bool killed;         /* past its time: SIGKILLed */
};

/* Start one alert for `record` (type and fields JSON). -errno. */
int al_alert_start(const struct al_alert_spec *a, const char *type, const char *fields_json,
                   int rule, bool webhook, struct al_alert_job *job);

/* Parse "http://host[:port]/path" (valid per al_alert_url_valid). */
int al_alert_url_split(const char *url, char *host, size_t hl, uint16_t *port, char *path,
                       size_t pl);

/* The child's report ("ok status=200" / "error connect: ...") after it
 * ended, into out. */
void al_alert_result(struct al_alert_job *job, char *out, size_t len);
