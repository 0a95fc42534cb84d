/* The event log writer (evlog.h): envelope, hash chain, signed and ratcheted
 * checkpoints, the workload's output streams kept beside the log with capped,
 * coalesced chunk records, and hand-off of every line to the remote sink.
 * Any write error poisons the log: every later call fails (fail closed). */
#define _GNU_SOURCE /* asprintf */
#include "evidence/evlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/chain.h"
#include "evidence/jscan.h"
#include "evidence/sink.h"
#include "util/json.h"
#include "util/cleanup.h"
#include "util/fdutil.h"
#include "util/timeutil.h"

/* A chunk record covers at most this many bytes; with the output cap this
 * bounds the records hostile output can cause (plus one per stream per tick). */
#define CHUNK_MAX (1024 * 1024)

struct stream {
	const char *name; /* "stdout" / "stderr": also the record type */
	char *path;
	int fd;           /* -1 when the log is in memory only */
	uint64_t bytes;   /* everything the workload wrote */
	uint64_t stored;  /* kept within the cap (= next file offset) */
	uint64_t dropped; /* beyond the cap: counted, not kept */
	crypto_hash_sha256_state all;
	uint64_t pend_off; /* the chunk not yet recorded */
	uint64_t pend_len;
	crypto_hash_sha256_state pend;
	bool capped; /* output_capped already recorded */
	bool dirty;  /* written since the last fdatasync */
};

struct al_evlog {
	char *path;
	int fd;
	char run[AL_EVLOG_RUN_MAX + 1];
	size_t run_len;

	uint64_t seq;
	uint8_t prev[AL_HASH_LEN];

	/* the current epoch's secret (sodium_malloc: guarded, not swapped) */
	uint8_t *sk;
	uint8_t *next_sk;
	uint8_t key[AL_PUBKEY_LEN];
	char root_pub_hex[2 * AL_PUBKEY_LEN + 1];
	uint32_t epoch;

	uint32_t cp_every;
	uint64_t cp_ns;
	uint64_t since_cp;
	uint64_t last_cp_mono;

	uint64_t output_cap; /* stdout + stderr together, like limits.output */
	struct stream streams[2];

	struct al_sink *sink;
	bool sink_failed;
	int sink_pending;                /* a loss not yet reported to the caller */
	uint64_t stall_ns, stall_max_ns; /* sink waits not yet recorded */
	char sink_failure[AL_ERR_MSG_MAX];

	uint64_t time_sec; /* cache for put_time */
	char time_prefix[21];

	/* log.max_size: bytes of the log file (stream files have their own
	 * cap). Past max_size - reserve the run is stopped (a limit record, the
	 * caller told once); the reserve keeps room for the records written
	 * while it dies and for the final ones. */
	uint64_t max_size; /* UINT64_MAX: no cap */
	uint64_t bytes;    /* written to the log file so far */
	bool size_hit;
	int size_pending; /* the cap not yet reported to the caller */
	uint64_t dropped_records;
	char size_reason[160];

	bool poisoned;
	int failure_code; /* the first failure, repeated by every later call */
	char failure[AL_ERR_MSG_MAX];
	bool closed;
	struct al_buf line;
	struct al_buf msg;
};

static const char *const envelope_keys[] = {"v", "seq", "time", "mono_ns", "run", "type", "prev"};

static int expand_path(const char *tmpl, const char *run, char **out)
{
	struct al_buf b;
	const char *p = tmpl, *q;

	al_buf_init(&b);
	while ((q = strstr(p, "{run}")) != NULL) {
		al_buf_append(&b, p, (size_t)(q - p));
		al_buf_puts(&b, run);
		p = q + 5;
	}
	al_buf_puts(&b, p);
	if (b.oom) {
		al_buf_free(&b);
		return -ENOMEM;
	}
	*out = b.data;
	return 0;
}

static int create_file(const char *path, struct al_error *err)
{
	/* O_EXCL: a log is evidence; never append to or truncate another run's */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return al_error_errno(err, "evidence", "creating log file %s", path);
	return fd;
}

/* The remote sink is gone and policy says kill. The caller is told once
 * (it kills the run); the local file goes on recording to the end, so the
 * reason for the kill is in the record -- only shipping stops. The loss is
 * noted here and reported by the public entry point only after the local
 * work is complete (a checkpoint interrupted half-way would leave its epoch
 * key unrotated and the local log unverifiable). */
static void sink_lost(struct al_evlog *log, int r, const struct al_error *err)
{
	log->sink_failed = true;
	log->sink_pending = r;
	snprintf(log->sink_failure, sizeof log->sink_failure, "%s", err->msg);
}

/* Every public entry point returns through here. */
static int report(struct al_evlog *log, int r, struct al_error *err)
{
	int s = log->sink_pending;

	if (r < 0)
		return r;
	if (log->size_pending) {
		log->size_pending = 0;
		return al_error_set(err, EFBIG, "evidence", "%s", log->size_reason);
	}
	if (s == 0)
		return r;
	log->sink_pending = 0;
	return al_error_set(err, -s, "evidence", "log sink lost: %s", log->sink_failure);
}

/* The first failure is the message -- errno and path -- every time it is
 * repeated: "disk full" must not turn into "failed earlier" on its way to
 * the user. */
static int poison_msg(struct al_evlog *log, int r, struct al_error *err, const char *msg)
{
	if (!log->poisoned) {
		log->poisoned = true;
		log->failure_code = -r;
		snprintf(log->failure, sizeof log->failure, "%s", msg);
	}
	return al_error_set(err, -r, "evidence", "%s", msg);
}

static int poison(struct al_evlog *log, int r, struct al_error *err, const char *what)
{
	char msg[AL_ERR_MSG_MAX];

	snprintf(msg, sizeof msg, "%s %s: %s", what, log->path ? log->path : "(memory)",
	         strerror(-r));
	return poison_msg(log, r, err, msg);
}

/* Write one finished line (in log->line, without newline) everywhere. */
static int emit_line(struct al_evlog *log, struct al_error *err)
{
	size_t len = log->line.len;
	int r;

	if (log->line.oom)
		return poison(log, -ENOMEM, err, "building a record for");
	if (len > AL_EVLOG_LINE_MAX) {
		/* refuse, but do not poison: nothing was written, the chain is intact */
		return al_error_set(err, E2BIG, "evidence",
		                    "record of %zu bytes exceeds the %d byte limit", len,
		                    AL_EVLOG_LINE_MAX);
	}
	if (log->bytes + len + 1 > log->max_size)
		/* even the reserve is used up: nothing more can be recorded */
		return poison(log, -EFBIG, err, "log.max_size reached: writing");
	al_chain_hash_line(log->line.data, len, log->prev);
	log->bytes += len + 1;
	if (log->fd >= 0) {
		al_buf_append(&log->line, "\n", 1);
		r = al_write_all(log->fd, log->line.data, len + 1);
		log->line.len = len;
		if (r < 0)
			return poison(log, r, err, "writing");
	}
	log->seq++;
	if (log->sink && !log->sink_failed) {
		struct al_error serr = {0};
		r = al_sink_send(log->sink, log->seq - 1, log->line.data, len, &serr);
		if (r < 0)
			sink_lost(log, r, &serr);
	}
	return 0;
}

static void put_u64(struct al_buf *b, uint64_t x)
{
	char tmp[20];
	size_t i = sizeof tmp;

	do
		tmp[--i] = (char)('0' + x % 10);
	while ((x /= 10) != 0);
	al_buf_append(b, tmp + i, sizeof tmp - i);
}

/* RFC 3339 UTC with nanoseconds; the date part is formatted once a second
 * (the writer's hot path: printf and gmtime per record cost a third of it) */
static void put_time(struct al_evlog *log, uint64_t ns)
{
	uint64_t sec = ns / 1000000000ull;
	uint32_t frac = (uint32_t)(ns % 1000000000ull);
	char digits[10];

	if (sec != log->time_sec || log->time_prefix[0] == '\0') {
		char t[40];
		al_utc_rfc3339(sec * 1000000000ull, t, sizeof t);
		memcpy(log->time_prefix, t, 20); /* "YYYY-MM-DDTHH:MM:SS." */
		log->time_sec = sec;
	}
	al_buf_append(&log->line, log->time_prefix, 20);
	for (int i = 8; i >= 0; i--, frac /= 10)
		digits[i] = (char)('0' + frac % 10);
	digits[9] = 'Z';
	al_buf_append(&log->line, digits, 10);
}

_Static_assert(AL_EVLOG_VERSION == 1, "the envelope literal below says \"v\":1");

static void envelope(struct al_evlog *log, const char *type)
{
	al_buf_reset(&log->line);
	al_buf_puts(&log->line, "{\"v\":1,\"seq\":");
	put_u64(&log->line, log->seq);
	al_buf_puts(&log->line, ",\"time\":\"");
	put_time(log, al_realtime_ns());
	al_buf_puts(&log->line, "\",\"mono_ns\":");
	put_u64(&log->line, al_mono_ns());
	al_buf_puts(&log->line, ",\"run\":\"");
	al_buf_append(&log->line, log->run, log->run_len);
	al_buf_puts(&log->line, "\",\"type\":\"");
	al_buf_puts(&log->line, type);
	al_buf_append(&log->line, "\"", 1);
}

static void envelope_end(struct al_evlog *log)
{
	char hex[2 * AL_HASH_LEN + 1];

	al_hex(log->prev, AL_HASH_LEN, hex);
	al_buf_puts(&log->line, ",\"prev\":\"");
	al_buf_append(&log->line, hex, 2 * AL_HASH_LEN);
	al_buf_puts(&log->line, "\"}");
}

/* The members of fields_json (a complete object) without its braces, after
 * checking it cannot break framing or shadow the envelope. */
static int fields_inner(const char *fields, const char **inner, size_t *inner_len,
                        struct al_error *err)
{
	struct al_jval obj, k, v;
	struct al_jiter it;
	size_t n = strlen(fields);
	const char *a, *b;

	if (memchr(fields, '\n', n) || memchr(fields, '\r', n))
		return al_error_set(err, EINVAL, "evidence", "record fields contain a line break");
	if (al_jscan_value(fields, n, false, &obj) < 0 || obj.type != AL_J_OBJECT)
		return al_error_set(err, EINVAL, "evidence", "record fields are not a JSON object");
	al_jiter_init(&it, &obj);
	while (al_jiter_next(&it, &k, &v)) {
		char name[16];
		al_jstr_unescape(&k, name, sizeof name);
		for (size_t i = 0; i < AL_ARRAY_SIZE(envelope_keys); i++)
			if (k.n < sizeof name && strcmp(name, envelope_keys[i]) == 0)
				return al_error_set(err, EINVAL, "evidence",
				                    "record field \"%s\" would shadow the envelope",
				                    name);
	}
	a = obj.p + 1;
	b = obj.p + obj.n - 1;
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	*inner = a;
	*inner_len = (size_t)(b - a);
	return 0;
}

static int append_raw(struct al_evlog *log, const char *type, const char *inner, size_t inner_len,
                      struct al_error *err)
{
	envelope(log, type);
	if (inner_len) {
		al_buf_append(&log->line, ",", 1);
		al_buf_append(&log->line, inner, inner_len);
	}
	envelope_end(log);
	return emit_line(log, err);
}

static int sync_streams(struct al_evlog *log, struct al_error *err)
{
	/* a sync of an unchanged file still costs a device flush on ext4 */
	for (int i = 0; i < 2; i++) {
		struct stream *st = &log->streams[i];
		if (st->fd < 0 || !st->dirty)
			continue;
		if (fdatasync(st->fd) < 0)
			return poison(log, -errno, err, "syncing the output streams of");
		st->dirty = false;
	}
	return 0;
}

static int checkpoint(struct al_evlog *log, bool final, struct al_error *err)
{
	struct al_checkpoint cp = {0};
	int r;

	cp.seq = log->seq;
	al_utc_rfc3339(al_realtime_ns(), cp.time, sizeof cp.time);
	cp.mono_ns = al_mono_ns();
	cp.run = log->run;
	cp.run_len = log->run_len;
	cp.epoch = log->epoch;
	cp.final = final;
	memcpy(cp.head, log->prev, AL_HASH_LEN);
	memcpy(cp.key, log->key, AL_PUBKEY_LEN);
	/* Ratchet: this checkpoint commits to the next epoch's public key and the
	 * current secret is wiped once it has signed, so a later compromise of
	 * the supervisor cannot re-sign anything up to here. */
	if (!final)
		crypto_sign_keypair(cp.next_key, log->next_sk);
	al_checkpoint_message(&cp, &log->msg);
	if (log->msg.oom)
		return poison(log, -ENOMEM, err, "signing a checkpoint of");
	crypto_sign_detached(cp.sig, NULL, (const unsigned char *)log->msg.data, log->msg.len,
	                     log->sk);

	/* the bytes a chunk record names must be durable before it is signed over */
	r = sync_streams(log, err);
	if (r < 0)
		return r;
	r = al_checkpoint_line(&cp, &log->line);
	if (r < 0)
		return poison(log, r, err, "building a checkpoint of");
	r = emit_line(log, err);
	if (r < 0)
		return r;
	if (log->fd >= 0 && fdatasync(log->fd) < 0)
		return poison(log, -errno, err, "syncing");

	sodium_memzero(log->sk, AL_SECKEY_LEN);
	if (!final) {
		uint8_t *t = log->sk;
		log->sk = log->next_sk;
		log->next_sk = t;
		memcpy(log->key, cp.next_key, AL_PUBKEY_LEN);
	}
	log->epoch++;
	log->since_cp = 0;
	log->last_cp_mono = cp.mono_ns;
	return 0;
}

static int flush_chunk(struct al_evlog *log, struct stream *st, struct al_error *err)
{
	uint8_t h[AL_HASH_LEN];
	char hex[2 * AL_HASH_LEN + 1], inner[160];
	int n;

	if (st->pend_len == 0)
		return 0;
	crypto_hash_sha256_final(&st->pend, h);
	al_hex(h, AL_HASH_LEN, hex);
	n = snprintf(inner, sizeof inner,
	             "\"offset\":%" PRIu64 ",\"len\":%" PRIu64 ",\"sha256\":\"%s\"", st->pend_off,
	             st->pend_len, hex);
	st->pend_len = 0;
	crypto_hash_sha256_init(&st->pend);
	log->since_cp++;
	return append_raw(log, st->name, inner, (size_t)n, err);
}

static int flush_chunks(struct al_evlog *log, struct al_error *err)
{
	for (int i = 0; i < 2; i++) {
		int r = flush_chunk(log, &log->streams[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int maybe_checkpoint(struct al_evlog *log, struct al_error *err)
{
	if (log->cp_every && log->since_cp >= log->cp_every)
		return checkpoint(log, false, err);
	return 0;
}

static int usable(struct al_evlog *log, struct al_error *err)
{
	if (log->closed)
		return al_error_set(err, EBADF, "evidence", "event log already closed");
	if (log->poisoned)
		return al_error_set(err, log->failure_code ? log->failure_code : EIO, "evidence",
		                    "event log failed (%s); refusing more records", log->failure);
	return 0;
}

/* Room kept below log.max_size once the cap is reached: the records of the
 * dying run and the final ones (exit, teardown, run_end, streams, the
 * final checkpoint) must still fit. */
static uint64_t size_reserve(const struct al_evlog *log)
{
	uint64_t r = AL_EVLOG_SIZE_RESERVE;

	return log->max_size / 2 < r ? log->max_size / 2 : r;
}

/* Records that must be written even past the soft cap: how the run ended. */
static bool final_record(const char *type)
{
	static const char *const types[] = {"exit",  "teardown", "run_end",
	                                    "limit", "streams",  "log_capped"};

	for (size_t i = 0; i < AL_ARRAY_SIZE(types); i++)
		if (strcmp(type, types[i]) == 0)
			return true;
	return false;
}

static int append_raw(struct al_evlog *log, const char *type, const char *inner, size_t inner_len,
                      struct al_error *err);

/* Once the log holds max_size - reserve bytes the cap is hit: one limit
 * record, and the caller is told (it kills the run: an unlogged run is what
 * the log exists to prevent). */
static int size_check(struct al_evlog *log, struct al_error *err)
{
	char inner[160];
	int n;

	if (log->max_size == UINT64_MAX || log->size_hit ||
	    log->bytes < log->max_size - size_reserve(log))
		return 0;
	log->size_hit = true;
	log->size_pending = EFBIG;
	snprintf(log->size_reason, sizeof log->size_reason,
	         "the event log reached log.max_size (%" PRIu64 " bytes)", log->max_size);
	n = snprintf(inner, sizeof inner,
	             "\"kind\":\"log_size\",\"limit_bytes\":%" PRIu64 ",\"bytes\":%" PRIu64
	             ",\"action\":\"kill\"",
	             log->max_size, log->bytes);
	log->since_cp++;
	return append_raw(log, "limit", inner, (size_t)n, err);
}

/* Before each record: after the cap was hit, records of the dying run are
 * kept while half the reserve is left and counted as dropped beyond it
 * (-EFBIG: the caller refuses what it would have recorded); final records
 * use the rest. */
static int size_gate(struct al_evlog *log, const char *type, struct al_error *err)
{
	int r = size_check(log, err);

	if (r < 0)
		return r;
	if (!log->size_hit || final_record(type) ||
	    log->bytes < log->max_size - size_reserve(log) / 2)
		return 0;
	/* Counted, not written -- and an error, so that what it would have
	 * recorded (an exec) is refused, not allowed unrecorded. */
	log->dropped_records++;
	return al_error_set(err, EFBIG, "evidence",
	                    "%s: a %s record was not written (the run is being stopped)",
	                    log->size_reason, type);
}

int al_evlog_open(struct al_evlog **out, const struct al_log_spec *ls, const char *run_id,
                  struct al_error *err)
{
	struct al_evlog *log;
	int r;

	r = al_evidence_crypto_init(err);
	if (r < 0)
		return r;
	if (!al_run_id_valid(run_id, strlen(run_id)))
		return al_error_set(err, EINVAL, "evidence",
		                    "run id '%s' is not 1-%d of [A-Za-z0-9._-]", run_id,
		                    AL_EVLOG_RUN_MAX);
	log = calloc(1, sizeof *log);
	if (!log)
		return al_error_set(err, ENOMEM, "evidence", "out of memory");
	log->fd = -1;
	log->streams[0] = (struct stream){.name = "stdout", .fd = -1};
	log->streams[1] = (struct stream){.name = "stderr", .fd = -1};
	for (int i = 0; i < 2; i++) {
		crypto_hash_sha256_init(&log->streams[i].all);
		crypto_hash_sha256_init(&log->streams[i].pend);
	}
	al_buf_init(&log->line);
	al_buf_init(&log->msg);
	snprintf(log->run, sizeof log->run, "%s", run_id);
	log->run_len = strlen(log->run);
	al_chain_genesis(log->prev);
	log->cp_every = ls->checkpoint_every;
	log->cp_ns = ls->checkpoint_ns;
	log->output_cap = AL_EVLOG_OUTPUT_CAP_DEFAULT;
	log->max_size = UINT64_MAX;
	log->last_cp_mono = al_mono_ns();

	log->sk = sodium_malloc(AL_SECKEY_LEN);
	log->next_sk = sodium_malloc(AL_SECKEY_LEN);
	if (!log->sk || !log->next_sk) {
		r = al_error_set(err, ENOMEM, "evidence", "allocating key memory");
		goto fail;
	}
	if (ls->signing_key) {
		r = al_key_load_secret(ls->signing_key, log->sk, log->key, err);
		if (r < 0)
			goto fail;
	} else {
		crypto_sign_keypair(log->key, log->sk);
	}
	al_hex(log->key, AL_PUBKEY_LEN, log->root_pub_hex);

	if (ls->path) {
		if (expand_path(ls->path, log->run, &log->path) < 0 ||
		    asprintf(&log->streams[0].path, "%s.stdout", log->path) < 0 ||
		    asprintf(&log->streams[1].path, "%s.stderr", log->path) < 0) {
			r = al_error_set(err, ENOMEM, "evidence", "out of memory");
			goto fail;
		}
		r = create_file(log->path, err);
		if (r < 0)
			goto fail;
		log->fd = r;
		for (int i = 0; i < 2; i++) {
			r = create_file(log->streams[i].path, err);
			if (r < 0)
				goto fail;
			log->streams[i].fd = r;
		}
	}
	if (ls->sink) {
		r = al_sink_open(&log->sink, ls, log->run, err);
		if (r < 0) {
			al_error_wrap(err, "opening log sink %s", ls->sink);
			goto fail;
		}
	}
	*out = log;
	return 0;
fail:
	/* remove what we created: a failed open leaves no half-made evidence */
	if (log->fd >= 0)
		unlink(log->path);
	for (int i = 0; i < 2; i++)
		if (log->streams[i].fd >= 0)
			unlink(log->streams[i].path);
	al_evlog_free(log);
	return r;
}

static int append_impl(struct al_evlog *log, const char *type, const char *fields_json,
                       struct al_error *err)
{
	const char *inner = NULL;
	size_t inner_len = 0;
	int r;

	r = usable(log, err);
	if (r < 0)
		return r;
	if (!al_type_valid(type, strlen(type)) || strcmp(type, "checkpoint") == 0)
		return al_error_set(err, EINVAL, "evidence", "invalid record type '%s'", type);
	if (fields_json) {
		r = fields_inner(fields_json, &inner, &inner_len, err);
		if (r < 0)
			return r;
	}
	/* output seen so far is recorded before the event that follows it */
	r = flush_chunks(log, err);
	if (r < 0)
		return r;
	r = size_gate(log, type, err);
	if (r < 0)
		return r;
	r = append_raw(log, type, inner, inner_len, err);
	if (r < 0)
		return r;
	log->since_cp++;
	return maybe_checkpoint(log, err);
}

int al_evlog_append(struct al_evlog *log, const char *type, const char *fields_json,
                    struct al_error *err)
{
	return report(log, append_impl(log, type, fields_json, err), err);
}

static int record_capped(struct al_evlog *log, struct stream *st, struct al_error *err)
{
	char inner[128];
	int n, r;

	r = flush_chunk(log, st, err);
	if (r < 0)
		return r;
	n = snprintf(inner, sizeof inner,
	             "\"stream\":\"%s\",\"cap_bytes\":%" PRIu64 ",\"offset\":%" PRIu64, st->name,
	             log->output_cap, st->stored);
	st->capped = true;
	log->since_cp++;
	return append_raw(log, "output_capped", inner, (size_t)n, err);
}

static int output_impl(struct al_evlog *log, int stream, const void *data, size_t len,
                       struct al_error *err)
{
	struct stream *st;
	uint64_t used, room, take;
	int r;

	r = usable(log, err);
	if (r < 0)
		return r;
	if (stream != 1 && stream != 2)
		return al_error_set(err, EINVAL, "evidence", "unknown output stream %d", stream);
	st = &log->streams[stream - 1];
	used = log->streams[0].stored + log->streams[1].stored;
	room = used < log->output_cap ? log->output_cap - used : 0;
	take = len < room ? len : room;
	st->bytes += len;
	if (take) {
		if (st->fd >= 0) {
			r = al_write_all(st->fd, data, take);
			if (r < 0)
				return poison(log, r, err, "writing output streams of");
			st->dirty = true;
		}
		crypto_hash_sha256_update(&st->all, data, take);
		if (st->pend_len == 0)
			st->pend_off = st->stored;
		crypto_hash_sha256_update(&st->pend, data, take);
		st->pend_len += take;
		st->stored += take;
	}
	if (take < len) {
		st->dropped += len - take;
		if (!st->capped) {
			r = record_capped(log, st, err);
			if (r < 0)
				return r;
		}
	}
	if (st->pend_len >= CHUNK_MAX) {
		r = flush_chunk(log, st, err);
		if (r < 0)
			return r;
	}
	return maybe_checkpoint(log, err);
}

int al_evlog_output(struct al_evlog *log, int stream, const void *data, size_t len,
                    struct al_error *err)
{
	return report(log, output_impl(log, stream, data, len, err), err);
}

/* Is the file still the one at its path? One whose directory was removed
 * (or that was unlinked or replaced) takes records nobody will find: that
 * is the log failing, and the run fails closed. Two syscalls per file, on
 * the supervisor's tick and at close, not per record. */
static int check_file(struct al_evlog *log, int fd, const char *path, struct al_error *err)
{
	struct stat a, b;
	char msg[AL_ERR_MSG_MAX];

	if (fd < 0)
		return 0;
	if (fstat(fd, &a) < 0)
		return poison(log, -errno, err, "checking");
	if (a.st_nlink == 0 || lstat(path, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		snprintf(msg, sizeof msg,
		         "event log file %s is no longer reachable by its path (removed or "
		         "replaced, or its directory was): records would be lost",
		         path);
		return poison_msg(log, -ENOENT, err, msg);
	}
	return 0;
}

static int check_reachable(struct al_evlog *log, struct al_error *err)
{
	int r = check_file(log, log->fd, log->path, err);

	for (int i = 0; i < 2 && r == 0; i++)
		r = check_file(log, log->streams[i].fd, log->streams[i].path, err);
	return r;
}

static int checkpoint_impl(struct al_evlog *log, struct al_error *err)
{
	int r = usable(log, err);

	if (r < 0)
		return r;
	r = flush_chunks(log, err);
	if (r < 0)
		return r;
	return log->since_cp ? checkpoint(log, false, err) : 0;
}

int al_evlog_checkpoint(struct al_evlog *log, struct al_error *err)
{
	return report(log, checkpoint_impl(log, err), err);
}

/* A sink that made the supervisor wait (and so the workload: its output
 * and syscalls are served by the same loop) is part of the record: a
 * `sink` record with how long, at the first tick after. */
#define STALL_RECORD_NS (50ull * 1000000)
static int record_sink_stall(struct al_evlog *log, struct al_error *err)
{
	uint64_t max_ns, total;
	struct al_buf b;
	struct al_json j;
	int r;

	if (!log->sink)
		return 0;
	total = al_sink_take_stall(log->sink, &max_ns);
	log->stall_ns += total;
	if (max_ns > log->stall_max_ns)
		log->stall_max_ns = max_ns;
	if (log->stall_ns < STALL_RECORD_NS)
		return 0;
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "event", "stalled");
	al_json_kv_str(&j, "sink", al_sink_url(log->sink));
	al_json_kv_uint(&j, "stalled_ns", log->stall_ns);
	al_json_kv_uint(&j, "longest_ns", log->stall_max_ns);
	al_json_kv_str(&j, "why",
	               "waiting for the log server (a full RELP window, or a reconnect)");
	al_json_obj_end(&j);
	log->stall_ns = log->stall_max_ns = 0;
	if (b.oom) {
		al_buf_free(&b);
		return poison(log, -ENOMEM, err, "building a sink record of");
	}
	log->since_cp++;
	r = append_raw(log, "sink", b.data + 1, b.len - 2, err);
	al_buf_free(&b);
	return r;
}

static int tick_impl(struct al_evlog *log, struct al_error *err)
{
	int r;

	r = usable(log, err);
	if (r < 0)
		return r;
	r = check_reachable(log, err);
	if (r < 0)
		return r;
	/* coalesced output becomes a record at most once per tick per stream */
	r = flush_chunks(log, err);
	if (r < 0)
		return r;
	r = size_check(log, err);
	if (r < 0)
		return r;
	r = record_sink_stall(log, err);
	if (r < 0)
		return r;
	if (log->cp_ns && log->since_cp > 0 && al_mono_ns() - log->last_cp_mono >= log->cp_ns) {
		r = checkpoint(log, false, err);
		if (r < 0)
			return r;
	} else {
		r = maybe_checkpoint(log, err);
		if (r < 0)
			return r;
	}
	if (log->sink && !log->sink_failed) {
		struct al_error serr = {0};
		r = al_sink_tick(log->sink, &serr);
		if (r < 0)
			sink_lost(log, r, &serr);
	}
	return 0;
}

int al_evlog_tick(struct al_evlog *log, struct al_error *err)
{
	return report(log, tick_impl(log, err), err);
}

int al_evlog_stream_stats(const struct al_evlog *log, int stream, struct al_evlog_stream_stats *out)
{
	const struct stream *st;
	crypto_hash_sha256_state copy;
	uint8_t h[AL_HASH_LEN];

	if (stream != 1 && stream != 2)
		return -EINVAL;
	st = &log->streams[stream - 1];
	/* finalise a copy: the running hash continues */
	copy = st->all;
	crypto_hash_sha256_final(&copy, h);
	out->bytes = st->bytes;
	out->stored = st->stored;
	out->dropped = st->dropped;
	al_hex(h, AL_HASH_LEN, out->sha256);
	return 0;
}

/* Stream files are named relative to the log: readers find them beside it. */
static const char *base_name(const char *path)
{
	const char *slash;

	if (!path)
		return NULL;
	slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int record_streams(struct al_evlog *log, struct al_error *err)
{
	struct al_buf b;
	struct al_json j;
	int r;

	al_buf_init(&b);
	al_json_init(&j, &b);
	for (int i = 0; i < 2; i++) {
		struct al_evlog_stream_stats s;
		al_evlog_stream_stats(log, i + 1, &s);
		al_json_key(&j, log->streams[i].name);
		al_json_obj_begin(&j);
		al_json_kv_uint(&j, "bytes", s.bytes);
		al_json_kv_uint(&j, "stored", s.stored);
		al_json_kv_uint(&j, "dropped", s.dropped);
		al_json_kv_str(&j, "sha256", s.sha256);
		al_json_kv_str(&j, "file", base_name(log->streams[i].path));
		al_json_obj_end(&j);
	}
	al_json_kv_uint(&j, "cap_bytes", log->output_cap);
	if (b.oom) {
		al_buf_free(&b);
		return poison(log, -ENOMEM, err, "building the streams record of");
	}
	r = append_raw(log, "streams", b.data, b.len, err);
	al_buf_free(&b);
	log->since_cp++;
	return r;
}

static int close_impl(struct al_evlog *log, struct al_error *err)
{
	int r;

	r = usable(log, err);
	if (r < 0)
		return r;
	r = check_reachable(log, err);
	if (r < 0)
		return r;
	r = flush_chunks(log, err);
	if (r < 0)
		return r;
	r = record_sink_stall(log, err);
	if (r < 0)
		return r;
	if (log->dropped_records) {
		char inner[128];
		int n = snprintf(inner, sizeof inner,
		                 "\"limit_bytes\":%" PRIu64 ",\"dropped_records\":%" PRIu64,
		                 log->max_size, log->dropped_records);
		log->since_cp++;
		r = append_raw(log, "log_capped", inner, (size_t)n, err);
		if (r < 0)
			return r;
	}
	r = record_streams(log, err);
	if (r < 0)
		return r;
	r = checkpoint(log, true, err);
	if (r < 0)
		return r;
	log->closed = true;
	for (int i = 0; i < 2; i++) {
		struct stream *st = &log->streams[i];
		if (st->fd >= 0 && close(st->fd) < 0 && r == 0)
			r = poison(log, -errno, err, "closing output streams of");
		st->fd = -1;
	}
	if (log->fd >= 0 && close(log->fd) < 0 && r == 0)
		r = poison(log, -errno, err, "closing");
	log->fd = -1;
	if (log->sink && !log->sink_failed) {
		struct al_error serr = {0};
		int s = al_sink_close(log->sink, &serr);
		if (s < 0)
			sink_lost(log, s, &serr);
	}
	return r;
}

int al_evlog_close(struct al_evlog *log, struct al_error *err)
{
	return report(log, close_impl(log, err), err);
}

void al_evlog_free(struct al_evlog *log)
{
	if (!log)
		return;
	if (log->sink)
		al_sink_free(log->sink);
	if (log->fd >= 0)
		close(log->fd);
	for (int i = 0; i < 2; i++) {
		if (log->streams[i].fd >= 0)
			close(log->streams[i].fd);
		free(log->streams[i].path);
	}
	sodium_free(log->sk); /* sodium_free wipes before unmapping */
	sodium_free(log->next_sk);
	al_buf_free(&log->line);
	al_buf_free(&log->msg);
	free(log->path);
	free(log);
}

void al_evlog_set_output_cap(struct al_evlog *log, uint64_t bytes)
{
	/* 0 means no cap, as for limits.output */
	log->output_cap = bytes ? bytes : UINT64_MAX;
}

void al_evlog_set_max_size(struct al_evlog *log, uint64_t bytes)
{
	log->max_size = bytes ? bytes : UINT64_MAX;
}

const char *al_evlog_stop_reason(const struct al_evlog *log)
{
	if (log->sink_failed)
		return log->sink_failure;
	if (log->size_hit)
		return log->size_reason;
	return NULL;
}

int al_evlog_sink_settle(struct al_evlog *log, struct al_error *err)
{
	struct al_error rerr = {0};
	struct al_buf b;
	struct al_json j;
	int r;

	if (!log->sink)
		return 0;
	if (log->sink_failed)
		r = al_error_set(err, EPIPE, "evidence", "log sink lost: %s", log->sink_failure);
	else
		r = al_sink_settle(log->sink, err);
	if (r == 0 || usable(log, &rerr) < 0)
		return r;
	/* whatever the verdict, the log says the evidence was not all shipped */
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "event", "undelivered");
	al_json_kv_str(&j, "sink", al_sink_url(log->sink));
	al_json_kv_str(&j, "reason", err->msg);
	al_json_obj_end(&j);
	if (!b.oom)
		append_impl(log, "sink", b.data, &rerr);
	al_buf_free(&b);
	return r;
}

const char *al_evlog_local_failure(const struct al_evlog *log)
{
	return log->poisoned ? log->failure : NULL;
}

int al_evlog_secret_regions(const struct al_evlog *log, void **p, size_t *len, int max)
{
	int n = 0;
	if (log == NULL)
		return 0;
	if (n < max && log->sk) {
		p[n] = log->sk;
		len[n++] = AL_SECKEY_LEN;
	}
	if (n < max && log->next_sk) {
		p[n] = log->next_sk;
		len[n++] = AL_SECKEY_LEN;
	}
	return n;
}

const char *al_evlog_pubkey_hex(const struct al_evlog *log)
{
	return log->root_pub_hex;
}

const char *al_evlog_path(const struct al_evlog *log)
{
	return log->path;
}

const char *al_evlog_sink_failure(const struct al_evlog *log)
{
	return log->sink_failed ? log->sink_failure : NULL;
}

uint64_t al_evlog_seq(const struct al_evlog *log)
{
	return log->seq;
}
