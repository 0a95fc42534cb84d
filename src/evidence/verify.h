/* Streaming verification of an event log: one line at a time, constant
 * memory, stops at the first bad record and says which and why. The status
 * values are the exit codes of `airlock log verify` (docs/events.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evidence/chain.h"

enum al_verify_status {
	AL_VERIFY_OK = 0,            /* complete, chained, ends in a valid final checkpoint */
	AL_VERIFY_MALFORMED = 1,     /* not a record: bad JSON, envelope, version, length */
	AL_VERIFY_EDITED = 2,        /* hash chain or checkpoint content mismatch */
	AL_VERIFY_SEQUENCE = 3,      /* seq out of order: reordered, missing or duplicated */
	AL_VERIFY_TRUNCATED = 4,     /* cut short: the prefix up to the last checkpoint verifies */
	AL_VERIFY_BAD_SIGNATURE = 5, /* a checkpoint signature (or epoch key) does not verify */
	AL_VERIFY_WRONG_KEY = 6,     /* signed by a key other than the one given or recorded */
	AL_VERIFY_STREAM_MISSING = 7, /* a stream file the log names is absent or not a regular file */
	AL_VERIFY_WRONG_RUN = 8,     /* the run id or host is not the one the verifier expects */
	AL_VERIFY_IO = 64,           /* usage or I/O error: nothing was concluded */
};

const char *al_verify_status_name(enum al_verify_status s);

struct al_verify {
	/* trusted key given by the user, if any */
	bool have_trusted;
	uint8_t trusted[AL_PUBKEY_LEN];

	/* what the verifier expects (al_verify_expect), if given */
	char want_run[AL_EVLOG_RUN_MAX + 1];
	char want_host[256];
	bool host_seen;

	/* chain state */
	uint64_t lines; /* lines consumed */
	uint64_t next_seq;
	uint8_t prev[AL_HASH_LEN];
	char run[AL_EVLOG_RUN_MAX + 1];
	size_t run_len;
	uint64_t prev_line_seq;

	/* key state */
	bool have_recorded; /* run_start's "pubkey" */
	uint8_t recorded[AL_PUBKEY_LEN];
	uint8_t root_key[AL_PUBKEY_LEN]; /* epoch 0 key, once seen */
	uint8_t next_key[AL_PUBKEY_LEN]; /* key the next checkpoint must use */
	uint32_t epoch;                  /* checkpoints seen */
	bool final_seen;
	uint64_t last_cp_line;
	uint64_t last_cp_seq;

	/* the "streams" record: what the files beside the log must hold */
	struct {
		bool seen;
		uint64_t stored;
		uint8_t sha256[AL_HASH_LEN];
		char file[256];
	} streams[2];

	/* result */
	enum al_verify_status status;
	bool failed;
	uint64_t bad_line; /* 1-based */
	bool bad_seq_known;
	uint64_t bad_seq;
	char reason[320];

	bool init_failed;
	struct al_buf scratch;
	struct al_buf msg;
};

void al_verify_init(struct al_verify *v, const uint8_t *trusted_key /* or NULL */);
void al_verify_free(struct al_verify *v);
/* Expect this run id (first record's "run") and/or host (run_start's
 * "host"); NULL or "" expects nothing. A log that differs is
 * AL_VERIFY_WRONG_RUN: a valid log of another run substituted for this one.
 * Returns -EINVAL if a value cannot be a run id / host name. */
int al_verify_expect(struct al_verify *v, const char *run_id, const char *host);
/* Feed one line (without its newline). Returns the status so far:
 * AL_VERIFY_OK while nothing is wrong; after a failure further lines are
 * ignored. */
enum al_verify_status al_verify_line(struct al_verify *v, const char *line, size_t len);
/* End of input; torn_tail: the last line fed had no newline. */
enum al_verify_status al_verify_finish(struct al_verify *v, bool torn_tail);
/* Read and verify a whole file descriptor. */
enum al_verify_status al_verify_fd(struct al_verify *v, int fd);

/* After a log verified: hash the stream files its "streams" record names
 * (in log_dir) and compare length and SHA-256. AL_VERIFY_EDITED on a
 * mismatch; AL_VERIFY_STREAM_MISSING when a named file is absent, a
 * symlink, or not a regular file (a FIFO is never read: opened with
 * O_NONBLOCK | O_NOFOLLOW and refused after fstat); reason filled.
 * *checked counts the files that matched. */
enum al_verify_status al_verify_stream_files(struct al_verify *v, const char *log_dir, int *checked);
