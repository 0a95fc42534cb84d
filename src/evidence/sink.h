/* Remote log sinks behind one small table of functions (RFC 5424 syslog over
 * TCP with octet counting, over TLS per RFC 5425, and RELP via librelp), plus
 * the on_sink_failure policy (kill, or spool and deliver in order later).
 * evlog.c calls only the al_sink_* functions below. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

struct al_sink;

/* Connect to ls->sink ("tcp://host:port", "tls://host:port", "relp://host:port").
 * Failure to connect at open is an error (the run does not start). */
int al_sink_open(struct al_sink **out, const struct al_log_spec *ls, const char *run_id,
		 struct al_error *err);

/* Ship one record (a complete JSON line, without the trailing newline).
 * Returns 0 when it was sent (or spooled under on_sink_failure: spool);
 * -errno when the sink is lost and policy is kill -- the caller kills the run. */
int al_sink_send(struct al_sink *s, uint64_t seq, const char *line, size_t len,
		 struct al_error *err);

/* Periodic work: acknowledgements, reconnect + spool flush. Same contract. */
int al_sink_tick(struct al_sink *s, struct al_error *err);

/* Before the final records: reconnect and drain the spool now (bounded,
 * like close). 0 when the sink is up with nothing kept back; -errno with
 * the reason (how many records, which spool) when the run's evidence
 * cannot be shipped -- the caller says so in its verdict. */
int al_sink_settle(struct al_sink *s, struct al_error *err);

/* Flush and wait (bounded) for delivery of everything sent; report loss. */
int al_sink_close(struct al_sink *s, struct al_error *err);
void al_sink_free(struct al_sink *s);

/* Counters for the final record. */
struct al_sink_stats {
	uint64_t sent;
	uint64_t spooled;
	uint64_t gaps;      /* times the sink was lost and a gap was marked */
	uint64_t redelivered;
};
void al_sink_get_stats(const struct al_sink *s, struct al_sink_stats *st);
/* Time the supervisor was blocked waiting for the server (RELP: a full
 * window) since the last call, and the longest single wait; then reset. */
uint64_t al_sink_take_stall(struct al_sink *s, uint64_t *max_ns);
const char *al_sink_url(const struct al_sink *s);

/* `airlock log push`: deliver a spool kept by an earlier run to url, in
 * order, behind a gap marker (first/last seq, "delivered later by airlock
 * log push from SPOOL"), then wait for delivery as close does. On success
 * the spool file is removed, so pushing again delivers nothing new; an
 * interrupted push leaves it whole and the next push sends it all again
 * (same bytes, same seq: a receiver drops repeats, as after a RELP
 * reconnect). A spool that a running airlock holds is refused (flock). */
struct al_sink_push_stats {
	uint64_t records; /* in the spool */
	uint64_t sent;
	uint64_t gap_first, gap_last;
	bool delivered;
};
int al_sink_push_spool(const char *spool_path, const char *url, const char *tls_ca,
                       struct al_sink_push_stats *st, struct al_error *err);
