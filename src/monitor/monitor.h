/* The tripwire monitor: sees every record the supervisor writes that a rule
 * can react to (exec, syscall_denied, limit, canary, canary_output, exfil,
 * the egress proxy's denials), classifies it (package installs), checks the
 * rules and acts: log (a rule_fired record), deny (the caller refuses),
 * kill (through the supervisor's kill callback, which takes the sandbox
 * down and writes the kill record), alert (alert.c, never delaying a kill).
 * docs/tripwires.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "monitor/rules.h"
#include "spec/spec.h"
#include "util/error.h"

struct al_monitor;

struct al_monitor_ops {
	/* write one record to the run's log (0, or -errno: fail closed) */
	int (*append)(void *ctx, const char *type, const char *fields_json, struct al_error *err);
	/* take the whole sandbox down now; `why` names the rule; t_event_ns is
	 * when the triggering event was seen (CLOCK_MONOTONIC). The callee
	 * records the kill. */
	void (*kill)(void *ctx, const char *why, uint64_t t_event_ns);
	/* optional: start taking the sandbox down at once, without waiting and
	 * without writing anything (called as soon as a kill rule fires, before
	 * the event's and the rule's records are written; `kill` follows) */
	void (*kill_now)(void *ctx);
	void *ctx;
};

/* image_root: where the image's files are on the host ("/" for the host
 * image), for the package-manager hashes; NULL: none. */
int al_monitor_open(struct al_monitor **out, const struct al_spec *spec, const char *image_root,
                    const struct al_monitor_ops *ops, struct al_error *err);

/* A record (type, its fields) has just been written: check it against the
 * rules and act. Returns 0; 1 when a deny rule fired (the caller refuses
 * the event); -errno when a record could not be written (fail closed). */
#define AL_MONITOR_DENY 1
int al_monitor_event(struct al_monitor *m, const char *type, const char *fields_json,
                     struct al_error *err);

/* A recorder for al_notify_set_recorder-like hooks: append, then check.
 * ctx is the monitor. */
int al_monitor_record(void *monitor, const char *type, const char *fields_json,
                      struct al_error *err);
/* The same, for an event first seen at t_event_ns (CLOCK_MONOTONIC; 0: now):
 * the rules are checked first, a kill is started (kill_now) before the
 * record and rule_fired are written, and the kill record's time counts from
 * t_event_ns. */
int al_monitor_record_at(struct al_monitor *m, const char *type, const char *fields_json,
                         uint64_t t_event_ns, struct al_error *err);

/* Output rules (on: output): a line of the workload's stdout (stream 1) or
 * stderr (2), without its newline, at most AL_MONITOR_LINE_MAX bytes (longer
 * lines come in pieces), starting at byte `offset` of the stream. A line
 * some output rule matches is recorded (output_match, at most 1000 per
 * run) and given to the rules. 0 or -errno (fail closed). */
#define AL_MONITOR_LINE_MAX 4096
bool al_monitor_has_output_rules(const struct al_monitor *m);
int al_monitor_output_line(struct al_monitor *m, int stream, uint64_t offset, const char *line,
                           size_t len, struct al_error *err);

/* Reap finished alert children (call from the loop's tick); at the end,
 * wait for them within their time bounds and record their outcome. */
void al_monitor_tick(struct al_monitor *m);
void al_monitor_finish(struct al_monitor *m);

/* Package-manager hashing at start: entries and what it cost. */
void al_monitor_pkgdb_stats(const struct al_monitor *m, size_t *entries, uint64_t *scan_ns,
                            size_t *bytes);

bool al_monitor_killed(const struct al_monitor *m);

void al_monitor_free(struct al_monitor *m);
