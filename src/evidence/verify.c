/* The verifier (verify.h). Every line is checked for strict JSON and the
 * exact envelope, its seq and prev against the chain, and checkpoints are
 * rebuilt byte for byte from their signed content before the signature is
 * checked, so no byte of a checkpoint line escapes verification. */
#include "evidence/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence/jscan.h"
#include "evidence/lineio.h"

const char *al_verify_status_name(enum al_verify_status s)
{
	switch (s) {
	case AL_VERIFY_OK:
		return "ok";
	case AL_VERIFY_MALFORMED:
		return "malformed";
	case AL_VERIFY_EDITED:
		return "edited";
	case AL_VERIFY_SEQUENCE:
		return "reordered-or-missing";
	case AL_VERIFY_TRUNCATED:
		return "truncated";
	case AL_VERIFY_BAD_SIGNATURE:
		return "bad-signature";
	case AL_VERIFY_WRONG_KEY:
		return "wrong-key";
	case AL_VERIFY_STREAM_MISSING:
		return "stream-missing";
	case AL_VERIFY_WRONG_RUN:
		return "wrong-run";
	case AL_VERIFY_IO:
		return "error";
	}
	return "unknown";
}

void al_verify_init(struct al_verify *v, const uint8_t *trusted_key)
{
	memset(v, 0, sizeof *v);
	if (trusted_key) {
		v->have_trusted = true;
		memcpy(v->trusted, trusted_key, AL_PUBKEY_LEN);
	}
	al_chain_genesis(v->prev);
	al_buf_init(&v->scratch);
	al_buf_init(&v->msg);
	if (sodium_init() < 0)
		v->init_failed = true;
}

int al_verify_expect(struct al_verify *v, const char *run_id, const char *host)
{
	if (run_id && run_id[0]) {
		if (!al_run_id_valid(run_id, strlen(run_id)))
			return -EINVAL;
		snprintf(v->want_run, sizeof v->want_run, "%s", run_id);
	}
	if (host && host[0]) {
		if (strlen(host) >= sizeof v->want_host)
			return -EINVAL;
		snprintf(v->want_host, sizeof v->want_host, "%s", host);
	}
	return 0;
}

void al_verify_free(struct al_verify *v)
{
	al_buf_free(&v->scratch);
	al_buf_free(&v->msg);
}

__attribute__((format(printf, 5, 6))) static enum al_verify_status
fail(struct al_verify *v, enum al_verify_status st, uint64_t line, const uint64_t *seq,
     const char *fmt, ...)
{
	va_list ap;

	v->failed = true;
	v->status = st;
	v->bad_line = line;
	v->bad_seq_known = seq != NULL;
	v->bad_seq = seq ? *seq : 0;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
	return st;
}

static bool time_valid(const struct al_jval *t)
{
	if (t->type != AL_J_STRING || t->n < 20 || t->n > 35)
		return false;
	for (size_t i = 0; i < t->n; i++)
		if (!strchr("0123456789-:.TZ", t->p[i]) || t->p[i] == '\0')
			return false;
	return true;
}

static bool hex_field(const struct al_jval *val, uint8_t *out, size_t n)
{
	return val->type == AL_J_STRING && al_unhex(val->p, val->n, out, n) == 0;
}

static bool is_envelope_key(const struct al_jval *k)
{
	static const char *const names[] = {"v", "seq", "time", "mono_ns", "run", "type", "prev"};
	char name[16];

	if (al_jstr_unescape(k, name, sizeof name) >= sizeof name)
		return false;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

struct envelope {
	uint64_t seq;
	uint64_t mono_ns;
	struct al_jval time, run, type, prev;
	uint8_t prev_bin[AL_HASH_LEN];
};

/* Check the envelope order and types; returns NULL or what is wrong. */
static const char *parse_envelope(const struct al_jval *obj, struct envelope *e)
{
	static const char *const order[] = {"v", "seq", "time", "mono_ns", "run", "type"};
	struct al_jiter it;
	struct al_jval k, val, last_k = {0}, last_v = {0};
	size_t i = 0;
	uint64_t version;

	al_jiter_init(&it, obj);
	while (al_jiter_next(&it, &k, &val)) {
		if (i < 6) {
			if (!al_jstr_eq(&k, order[i]))
				return "envelope members missing or out of order";
			switch (i) {
			case 0:
				if (al_jnum_u64(&val, &version) < 0 || version != AL_EVLOG_VERSION)
					return "unsupported record version (v must be 1)";
				break;
			case 1:
				if (al_jnum_u64(&val, &e->seq) < 0)
					return "seq is not a non-negative integer";
				break;
			case 2:
				if (!time_valid(&val))
					return "time is not an RFC 3339 UTC timestamp";
				e->time = val;
				break;
			case 3:
				if (al_jnum_u64(&val, &e->mono_ns) < 0)
					return "mono_ns is not a non-negative integer";
				break;
			case 4:
				if (val.type != AL_J_STRING || !al_run_id_valid(val.p, val.n))
					return "run is not a valid run id";
				e->run = val;
				break;
			case 5:
				if (val.type != AL_J_STRING || !al_type_valid(val.p, val.n))
					return "type is not a valid record type";
				e->type = val;
				break;
			}
		} else if (last_k.p) {
			/* the member before this one was not last: it must not be
			 * an envelope name (a second "seq", "prev"...) */
			if (is_envelope_key(&last_k))
				return "envelope member repeated among the fields";
		}
		if (i >= 6) {
			last_k = k;
			last_v = val;
		}
		i++;
	}
	if (i < 7 || !al_jstr_eq(&last_k, "prev"))
		return "prev is not the last member";
	if (!hex_field(&last_v, e->prev_bin, AL_HASH_LEN))
		return "prev is not 64 hex digits";
	e->prev = last_v;
	return NULL;
}

static enum al_verify_status checkpoint(struct al_verify *v, const struct al_jval *obj,
                                        const struct envelope *e, const char *line, size_t len)
{
	struct al_checkpoint cp = {0};
	struct al_jval val;
	uint64_t epoch, ln = v->lines;

	if (!al_jobj_get(obj, "epoch", &val) || al_jnum_u64(&val, &epoch) < 0 || epoch > UINT32_MAX)
		return fail(v, AL_VERIFY_MALFORMED, ln, &e->seq,
		            "checkpoint: epoch missing or invalid");
	if (!al_jobj_get(obj, "final", &val) || (val.type != AL_J_TRUE && val.type != AL_J_FALSE))
		return fail(v, AL_VERIFY_MALFORMED, ln, &e->seq,
		            "checkpoint: final missing or invalid");
	cp.final = val.type == AL_J_TRUE;
	if (!al_jobj_get(obj, "head", &val) || !hex_field(&val, cp.head, AL_HASH_LEN))
		return fail(v, AL_VERIFY_MALFORMED, ln, &e->seq,
		            "checkpoint: head missing or invalid");
	if (!al_jobj_get(obj, "key", &val) || !hex_field(&val, cp.key, AL_PUBKEY_LEN))
		return fail(v, AL_VERIFY_MALFORMED, ln, &e->seq,
		            "checkpoint: key missing or invalid");
	if (!al_jobj_get(obj, "next_key", &val) ||
	    !(cp.final ? val.type == AL_J_NULL : hex_field(&val, cp.next_key, AL_PUBKEY_LEN)))
		return fail(v, AL_VERIFY_MALFORMED, ln, &e->seq,
		            "checkpoint: next_key missing or invalid");
	if (!al_jobj_get(obj, "sig", &val) || !hex_field(&val, cp.sig, AL_SIG_LEN))
		return fail(v, AL_VERIFY_MALFORMED, ln, &e->seq,
		            "checkpoint: sig missing or invalid");
	if (memcmp(cp.head, e->prev_bin, AL_HASH_LEN) != 0)
		return fail(v, AL_VERIFY_EDITED, ln, &e->seq, "checkpoint: head differs from prev");
	if (epoch != v->epoch)
		return fail(v, AL_VERIFY_EDITED, ln, &e->seq,
		            "checkpoint: epoch %llu where %u was expected (a checkpoint was "
		            "removed or forged)",
		            (unsigned long long)epoch, v->epoch);

	cp.seq = e->seq;
	memcpy(cp.time, e->time.p, e->time.n);
	cp.time[e->time.n] = '\0';
	cp.mono_ns = e->mono_ns;
	cp.run = e->run.p;
	cp.run_len = e->run.n;
	cp.epoch = (uint32_t)epoch;
	/* any byte not implied by the signed content is an edit */
	if (al_checkpoint_line(&cp, &v->scratch) < 0 || v->scratch.len != len ||
	    memcmp(v->scratch.data, line, len) != 0)
		return fail(v, AL_VERIFY_EDITED, ln, &e->seq,
		            "checkpoint line differs from its canonical form (edited)");

	if (v->epoch == 0) {
		if (v->have_trusted && memcmp(cp.key, v->trusted, AL_PUBKEY_LEN) != 0)
			return fail(v, AL_VERIFY_WRONG_KEY, ln, &e->seq,
			            "checkpoints are signed by a key other than the one given");
		if (v->have_recorded && memcmp(cp.key, v->recorded, AL_PUBKEY_LEN) != 0)
			return fail(v, AL_VERIFY_WRONG_KEY, ln, &e->seq,
			            "checkpoints are signed by a key other than the one recorded "
			            "in run_start");
		memcpy(v->root_key, cp.key, AL_PUBKEY_LEN);
	} else if (memcmp(cp.key, v->next_key, AL_PUBKEY_LEN) != 0) {
		return fail(v, AL_VERIFY_BAD_SIGNATURE, ln, &e->seq,
		            "checkpoint key is not the one committed by the previous checkpoint");
	}
	al_checkpoint_message(&cp, &v->msg);
	if (v->msg.oom)
		return fail(v, AL_VERIFY_IO, ln, &e->seq, "out of memory");
	if (crypto_sign_verify_detached(cp.sig, (const unsigned char *)v->msg.data, v->msg.len,
	                                cp.key) != 0)
		return fail(v, AL_VERIFY_BAD_SIGNATURE, ln, &e->seq,
		            "checkpoint signature does not verify");

	memcpy(v->next_key, cp.next_key, AL_PUBKEY_LEN);
	v->epoch++;
	v->final_seen = cp.final;
	v->last_cp_line = ln;
	v->last_cp_seq = e->seq;
	return AL_VERIFY_OK;
}

static enum al_verify_status run_start(struct al_verify *v, const struct al_jval *obj,
                                       const struct envelope *e)
{
	struct al_jval val;

	if (v->want_host[0]) {
		char host[sizeof v->want_host];
		if (!al_jobj_get(obj, "host", &val) || val.type != AL_J_STRING ||
		    al_jstr_unescape(&val, host, sizeof host) >= sizeof host ||
		    strcmp(host, v->want_host) != 0)
			return fail(v, AL_VERIFY_WRONG_RUN, v->lines, &e->seq,
			            "run_start: the run was not on host %s (another host's log?)",
			            v->want_host);
		v->host_seen = true;
	}
	if (!al_jobj_get(obj, "pubkey", &val))
		return AL_VERIFY_OK;
	if (!hex_field(&val, v->recorded, AL_PUBKEY_LEN))
		return fail(v, AL_VERIFY_MALFORMED, v->lines, &e->seq,
		            "run_start: pubkey is not 64 hex digits");
	v->have_recorded = true;
	if (v->have_trusted && memcmp(v->recorded, v->trusted, AL_PUBKEY_LEN) != 0)
		return fail(v, AL_VERIFY_WRONG_KEY, v->lines, &e->seq,
		            "run_start records a signing key other than the one given");
	return AL_VERIFY_OK;
}

/* Remember what the streams record says; a malformed one is malformed. */
static enum al_verify_status streams_record(struct al_verify *v, const struct al_jval *obj,
                                            const struct envelope *e)
{
	static const char *const names[] = {"stdout", "stderr"};

	for (int i = 0; i < 2; i++) {
		struct al_jval s, x;
		if (!al_jobj_get(obj, names[i], &s) || s.type != AL_J_OBJECT)
			continue;
		if (!al_jobj_get(&s, "stored", &x) || al_jnum_u64(&x, &v->streams[i].stored) < 0 ||
		    !al_jobj_get(&s, "sha256", &x) ||
		    !hex_field(&x, v->streams[i].sha256, AL_HASH_LEN))
			return fail(v, AL_VERIFY_MALFORMED, v->lines, &e->seq,
			            "streams: %s has no valid stored/sha256", names[i]);
		v->streams[i].file[0] = '\0';
		if (al_jobj_get(&s, "file", &x) && x.type == AL_J_STRING &&
		    al_jstr_unescape(&x, v->streams[i].file, sizeof v->streams[i].file) >=
		        sizeof v->streams[i].file)
			v->streams[i].file[0] = '\0';
		v->streams[i].seen = true;
	}
	return AL_VERIFY_OK;
}

enum al_verify_status al_verify_line(struct al_verify *v, const char *line, size_t len)
{
	struct al_jval obj;
	struct envelope e = {0};
	const char *why;
	uint64_t ln;

	if (v->failed)
		return v->status;
	ln = ++v->lines;
	if (v->init_failed)
		return fail(v, AL_VERIFY_IO, ln, NULL, "libsodium initialisation failed");
	if (len > AL_EVLOG_LINE_MAX)
		return fail(v, AL_VERIFY_MALFORMED, ln, NULL, "line longer than %d bytes",
		            AL_EVLOG_LINE_MAX);
	if (al_jscan_value(line, len, true, &obj) < 0 || obj.type != AL_J_OBJECT)
		return fail(v, AL_VERIFY_MALFORMED, ln, NULL, "not a JSON object");
	why = parse_envelope(&obj, &e);
	if (why)
		return fail(v, AL_VERIFY_MALFORMED, ln, NULL, "%s", why);
	if (v->final_seen)
		return fail(
		    v, AL_VERIFY_EDITED, ln, &e.seq,
		    "record after the final checkpoint (appended after the log was closed)");
	if (e.seq != v->next_seq)
		return fail(
		    v, AL_VERIFY_SEQUENCE, ln, &e.seq,
		    "seq %llu where %llu was expected (records reordered, removed or duplicated)",
		    (unsigned long long)e.seq, (unsigned long long)v->next_seq);
	if (memcmp(e.prev_bin, v->prev, AL_HASH_LEN) != 0) {
		uint64_t s = v->prev_line_seq;
		if (ln == 1)
			return fail(v, AL_VERIFY_EDITED, ln, &e.seq,
			            "first record's prev is not the genesis value");
		/* the earlier line is the likelier edit; name both */
		return fail(
		    v, AL_VERIFY_EDITED, ln - 1, &s,
		    "line %llu does not hash to the prev of line %llu: one of them was edited",
		    (unsigned long long)(ln - 1), (unsigned long long)ln);
	}
	if (ln == 1) {
		if (v->want_run[0] &&
		    (e.run.n != strlen(v->want_run) || memcmp(e.run.p, v->want_run, e.run.n) != 0))
			return fail(v, AL_VERIFY_WRONG_RUN, ln, &e.seq,
			            "the log is of run %.*s, not of run %s (another run's log?)",
			            (int)e.run.n, e.run.p, v->want_run);
		memcpy(v->run, e.run.p, e.run.n);
		v->run[e.run.n] = '\0';
		v->run_len = e.run.n;
	} else if (e.run.n != v->run_len || memcmp(e.run.p, v->run, v->run_len) != 0) {
		return fail(v, AL_VERIFY_EDITED, ln, &e.seq, "record belongs to another run");
	}
	if (al_jstr_eq(&e.type, "checkpoint")) {
		if (checkpoint(v, &obj, &e, line, len) != AL_VERIFY_OK)
			return v->status;
	} else if (al_jstr_eq(&e.type, "run_start") && e.seq == 0) {
		if (run_start(v, &obj, &e) != AL_VERIFY_OK)
			return v->status;
	} else if (al_jstr_eq(&e.type, "streams")) {
		if (streams_record(v, &obj, &e) != AL_VERIFY_OK)
			return v->status;
	}
	al_chain_hash_line(line, len, v->prev);
	v->prev_line_seq = e.seq;
	v->next_seq++;
	return AL_VERIFY_OK;
}

enum al_verify_status al_verify_finish(struct al_verify *v, bool torn_tail)
{
	if (v->failed)
		return v->status;
	if (torn_tail || !v->final_seen) {
		uint64_t after = v->next_seq - (v->epoch ? v->last_cp_seq + 1 : 0);
		const char *why = torn_tail       ? "the last line is incomplete (torn write)"
		                  : v->lines == 0 ? "the log is empty"
		                                  : "the log ends without a final checkpoint";
		if (v->epoch == 0)
			return fail(v, AL_VERIFY_TRUNCATED, v->lines, NULL,
			            "%s, and no checkpoint was reached: nothing is signed", why);
		return fail(
		    v, AL_VERIFY_TRUNCATED, v->lines, NULL,
		    "%s: lines 1-%llu (seq 0-%llu) verify up to the checkpoint at line %llu; "
		    "%llu record(s) after it are not covered by a signature",
		    why, (unsigned long long)v->last_cp_line, (unsigned long long)v->last_cp_seq,
		    (unsigned long long)v->last_cp_line, (unsigned long long)after);
	}
	if (v->want_host[0] && !v->host_seen)
		return fail(v, AL_VERIFY_WRONG_RUN, v->lines, NULL,
		            "no run_start record names the host (expected %s)", v->want_host);
	v->status = AL_VERIFY_OK;
	return AL_VERIFY_OK;
}

enum al_verify_status al_verify_fd(struct al_verify *v, int fd)
{
	struct al_linereader lr;
	bool torn = false;
	int r;

	if (al_linereader_init(&lr, fd) < 0)
		return fail(v, AL_VERIFY_IO, 0, NULL, "out of memory");
	while ((r = al_linereader_next(&lr)) != 0) {
		if (r == -E2BIG) {
			fail(v, AL_VERIFY_MALFORMED, v->lines + 1, NULL,
			     "line longer than %d bytes", AL_EVLOG_LINE_MAX);
			break;
		}
		if (r < 0) {
			fail(v, AL_VERIFY_IO, v->lines, NULL, "read error: %s", strerror(-r));
			break;
		}
		torn = !lr.newline;
		if (torn && !v->failed) {
			/* a torn tail is judged as truncation, not as a bad record */
			v->lines++;
			break;
		}
		if (al_verify_line(v, lr.line, lr.len) != AL_VERIFY_OK)
			break;
	}
	al_linereader_free(&lr);
	return al_verify_finish(v, torn);
}

/* Open a stream file the log names, beside it: a regular file, not a link
 * (O_NOFOLLOW), never a FIFO or device that could block or never end
 * (O_NONBLOCK for the open, fstat before any read). */
static int open_stream_file(struct al_verify *v, int dfd, const char *name, const char *which)
{
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		if (errno == ELOOP)
			fail(v, AL_VERIFY_STREAM_MISSING, 0, NULL,
			     "%s (the %s file the log names) is a symbolic link, not the file "
			     "the run wrote",
			     name, which);
		else
			fail(v, errno == ENOENT ? AL_VERIFY_STREAM_MISSING : AL_VERIFY_IO, 0, NULL,
			     "%s (the %s file the log names): %s", name, which, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail(v, AL_VERIFY_STREAM_MISSING, 0, NULL,
		     "%s (the %s file the log names) is not a regular file", name, which);
		close(fd);
		return -1;
	}
	return fd;
}

enum al_verify_status al_verify_stream_files(struct al_verify *v, const char *log_dir, int *checked)
{
	static const char *const names[] = {"stdout", "stderr"};
	int dfd;

	*checked = 0;
	if (v->failed)
		return v->status;
	dfd = open(log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail(v, AL_VERIFY_IO, 0, NULL, "opening %s: %s", log_dir, strerror(errno));
	for (int i = 0; i < 2; i++) {
		const char *f = v->streams[i].file;
		crypto_hash_sha256_state st;
		uint8_t h[AL_HASH_LEN], buf[65536];
		uint64_t total = 0;
		int fd;
		ssize_t n = 0;

		if (!v->streams[i].seen || f[0] == '\0')
			continue;
		/* the name comes from the log: only a plain name beside it */
		if (strchr(f, '/') || strcmp(f, ".") == 0 || strcmp(f, "..") == 0) {
			close(dfd);
			return fail(v, AL_VERIFY_MALFORMED, 0, NULL,
			            "streams: %s file name is not a plain name", names[i]);
		}
		fd = open_stream_file(v, dfd, f, names[i]);
		if (fd < 0) {
			close(dfd);
			return v->status;
		}
		/* a length that differs is judged without reading (a huge sparse
		 * file would otherwise be hashed to its end) */
		struct stat sst;
		if (fstat(fd, &sst) == 0 && (uint64_t)sst.st_size != v->streams[i].stored) {
			close(fd);
			close(dfd);
			return fail(v, AL_VERIFY_EDITED, 0, NULL,
			            "%s (%llu bytes) does not match the %s length and SHA-256 in "
			            "the streams record",
			            f, (unsigned long long)sst.st_size, names[i]);
		}
		crypto_hash_sha256_init(&st);
		/* never more than the record says plus one byte: a file that
		 * grows without end is judged as soon as it is too long */
		while (total <= v->streams[i].stored &&
		       ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))) {
			if (n < 0)
				continue;
			crypto_hash_sha256_update(&st, buf, (size_t)n);
			total += (uint64_t)n;
		}
		if (total <= v->streams[i].stored && n < 0) {
			int e = errno;
			close(fd);
			close(dfd);
			return fail(v, AL_VERIFY_IO, 0, NULL, "reading %s: %s", f, strerror(e));
		}
		close(fd);
		crypto_hash_sha256_final(&st, h);
		if (total != v->streams[i].stored ||
		    memcmp(h, v->streams[i].sha256, AL_HASH_LEN) != 0) {
			close(dfd);
			return fail(v, AL_VERIFY_EDITED, 0, NULL,
			            "%s (%s%llu bytes) does not match the %s length and SHA-256 in "
			            "the streams record",
			            f, total > v->streams[i].stored ? "over " : "",
			            (unsigned long long)total, names[i]);
		}
		(*checked)++;
	}
	close(dfd);
	return AL_VERIFY_OK;
}
