/* The run's event log as the supervisor sees it: append typed records; the
 * evidence layer adds the envelope (v, seq, time, mono_ns, run, type, prev),
 * the hash chain, signed checkpoints, the output stream files and the sinks.
 * Only the supervisor ever holds this; nothing of it is visible inside. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

struct al_evlog;

/* Open the log for run_id as configured by ls (file path with {run}
 * expanded, signing key or a fresh per-run key, sink connection). With
 * ls->path == NULL and no sink, records are still chained in memory (so the
 * supervisor code has one path) but nothing is written. */
int al_evlog_open(struct al_evlog **out, const struct al_log_spec *ls, const char *run_id,
                  struct al_error *err);

/* Append one record. fields_json is a complete JSON object ("{...}", e.g.
 * built with al_json) whose members follow the envelope, or NULL. Returns
 * -errno if the record could not be made durable as configured (file write
 * error, or sink lost with on_sink_failure: kill) -- the caller must then
 * kill the run (fail closed). */
int al_evlog_append(struct al_evlog *log, const char *type, const char *fields_json,
                    struct al_error *err);

/* Workload output: stream 1 (stdout) or 2 (stderr). Appends the bytes to the
 * stream file beside the log and a chunk record (offset, length, hash of the
 * chunk). Bounded: past the configured caps bytes are counted, not stored. */
int al_evlog_output(struct al_evlog *log, int stream, const void *data, size_t len,
                    struct al_error *err);

/* Called by the supervisor's loop at least every 100 ms: time-based
 * checkpoints, sink reconnects and spool flushes. Same return contract as
 * append. */
int al_evlog_tick(struct al_evlog *log, struct al_error *err);

/* A signed checkpoint now (if anything was written since the last one).
 * The supervisor calls it right after run_start, so that a supervisor
 * killed at any later moment leaves a verifiable signed prefix -- also for a
 * run shorter than checkpoint_interval. Same return contract as append. */
int al_evlog_checkpoint(struct al_evlog *log, struct al_error *err);

/* Final checkpoint, stream hashes, fsync, sink flush. */
int al_evlog_close(struct al_evlog *log, struct al_error *err);
void al_evlog_free(struct al_evlog *log);

/* Hex of the Ed25519 public key that signs this run's checkpoints. */
const char *al_evlog_pubkey_hex(const struct al_evlog *log);

/* Where the log's secret keys are (at most max regions; returns how many),
 * so that a process forked or cloned from the supervisor -- the sandbox
 * init, and every command a session's init forks -- can wipe its copy. */
int al_evlog_secret_regions(const struct al_evlog *log, void **p, size_t *len, int max);
/* Path of the log file (after {run} expansion), or NULL. */
const char *al_evlog_path(const struct al_evlog *log);
/* Non-NULL once the sink has failed and policy says kill: the reason. */
const char *al_evlog_sink_failure(const struct al_evlog *log);

/* Added by the evidence layer (not needed by the basic contract above). */

/* Default for al_evlog_set_output_cap: the spec's limits.output default. */
#define AL_EVLOG_OUTPUT_CAP_DEFAULT (64ull * 1024 * 1024)
/* Bytes of stdout+stderr together kept in the stream files; beyond it bytes
 * are counted as dropped and one output_capped record per stream says so.
 * The supervisor passes spec->limits.output right after open; 0 = no cap. */
void al_evlog_set_output_cap(struct al_evlog *log, uint64_t bytes);

/* A stream's totals so far, e.g. for run_end (close also writes them in a
 * "streams" record). sha256 covers the stored bytes (the stream file). */
struct al_evlog_stream_stats {
	uint64_t bytes;   /* written by the workload */
	uint64_t stored;  /* kept (the stream file's length) */
	uint64_t dropped; /* beyond the cap */
	char sha256[65];
};
int al_evlog_stream_stats(const struct al_evlog *log, int stream,
                          struct al_evlog_stream_stats *out);

/* log.max_size: bytes of the log file (the stream files have limits.output).
 * When the log holds max_size - AL_EVLOG_SIZE_RESERVE (or half of max_size,
 * if smaller) a `limit` record {kind: "log_size"} is written and the next
 * append/output/tick returns -EFBIG once: the caller kills the run. Records
 * of the dying run are kept in the first half of the reserve; beyond it
 * append fails with -EFBIG and counts them (a `log_capped` record at close); the final records (exit,
 * teardown, run_end, streams, checkpoint) use the rest. 0 = no cap. */
#define AL_EVLOG_SIZE_RESERVE (256u * 1024)
void al_evlog_set_max_size(struct al_evlog *log, uint64_t bytes);
/* Non-NULL once the log stopped the run by policy -- the sink was lost
 * under on_sink_failure: kill, or log.max_size was reached: the reason.
 * (Other failures are airlock's own: the file could not be written.) */
const char *al_evlog_stop_reason(const struct al_evlog *log);

/* Before the final records (exit, teardown, run_end): try to deliver what
 * the sink holds back now (reconnect, drain the spool; bounded by 5 s).
 * -errno with the reason when the run's evidence cannot be shipped, so
 * that run_end can say so and agree with the exit status. 0 without a
 * sink. Does not fail the log: records still go to the file (and spool). */
int al_evlog_sink_settle(struct al_evlog *log, struct al_error *err);
/* Non-NULL once the local log failed (file write, fsync, unreachable):
 * the first failure's message. A sink loss alone is not a local failure. */
const char *al_evlog_local_failure(const struct al_evlog *log);

/* Number of records written so far (the next record's seq). */
uint64_t al_evlog_seq(const struct al_evlog *log);
