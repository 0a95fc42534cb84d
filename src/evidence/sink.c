/* The remote log sink: URL dispatch to a transport (syslog over TCP/TLS, or
 * RELP), the RFC 5424 message each record travels in, and the failure
 * policy -- kill (fail closed) or spool to disk, mark the gap, redeliver. */
#define _GNU_SOURCE
#include "evidence/sink_int.h"
#include "evidence/sink_dl.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evidence/chain.h"
#include "evidence/jscan.h"
#include "util/cleanup.h"
#include "util/timeutil.h"

#define RETRY_FIRST_NS (100ull * 1000000) /* first reconnect 100 ms after a loss */
#define RETRY_MAX_NS (5000ull * 1000000)  /* backoff doubles up to 5 s */
#define RECONNECT_TIMEOUT_MS 1000         /* one attempt may stall a tick this long */
#define DRAIN_BUDGET_NS (20ull * 1000000) /* spool redelivery per tick */

enum sink_state {
	SINK_UP,       /* live: records go straight to the server */
	SINK_DOWN,     /* lost, spooling, reconnecting with backoff */
	SINK_DRAINING, /* back: gap marked, spool being redelivered before live */
	SINK_FAILED,   /* lost under on_sink_failure: kill -- every call fails */
};

struct al_sink {
	const struct al_sink_transport *tp;
	void *tstate;
	struct al_sink_conf conf;
	char *url;
	char *tls_ca;
	enum al_sink_failure policy;
	char *run_sd;   /* run id, escaped for an SD-PARAM value */
	char *run_json; /* run id, escaped for a JSON string */
	char hostname[256];
	char procid[16];
	struct al_buf msg;  /* one formatted message */
	struct al_buf line; /* one record read back from the spool */
	enum sink_state state;
	struct al_spool *spool;
	uint64_t last_spooled; /* seq of the newest spooled record */
	uint64_t lost_at_ns;   /* realtime of the loss being recovered */
	char lost_reason[256];
	uint64_t retry_at_ns, backoff_ns;
	struct al_error failure; /* sticky, SINK_FAILED */
	struct al_sink_stats stats;
};

/* ---- URL ---- */

static const struct {
	const char *prefix;
	enum al_sink_scheme scheme;
	const char *port;
} schemes[] = {
    {"tcp://", AL_SINK_TCP, "514"},
    {"tls://", AL_SINK_TLS, "6514"},
    {"relp://", AL_SINK_RELP, "2514"},
};

static bool host_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

int al_sink_url_parse(const char *url, struct al_sink_url *out, struct al_error *err)
{
	const char *p = NULL, *host, *host_end, *port = NULL;
	size_t i, hl;

	memset(out, 0, sizeof *out);
	for (i = 0; i < AL_ARRAY_SIZE(schemes); i++) {
		size_t n = strlen(schemes[i].prefix);
		if (!strncmp(url, schemes[i].prefix, n)) {
			p = url + n;
			out->scheme = schemes[i].scheme;
			break;
		}
	}
	if (!p)
		return al_error_set(err, EINVAL, "sink",
		                    "log sink '%s': scheme must be tcp://, tls:// or relp://", url);
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return al_error_set(err, EINVAL, "sink", "log sink '%s': unclosed '['",
			                    url);
		for (const char *c = host; c < host_end; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
				return al_error_set(err, EINVAL, "sink",
				                    "log sink '%s': bad IPv6 address", url);
		p = host_end + 1;
	} else {
		host = p;
		while (host_char(*p))
			p++;
		host_end = p;
	}
	hl = (size_t)(host_end - host);
	if (hl == 0 || hl >= sizeof out->host)
		return al_error_set(err, EINVAL, "sink", "log sink '%s': missing or overlong host",
		                    url);
	if (*p == ':') {
		char *end;
		unsigned long v;
		port = ++p;
		if (!isdigit((unsigned char)*port))
			return al_error_set(err, EINVAL, "sink", "log sink '%s': bad port", url);
		errno = 0;
		v = strtoul(port, &end, 10);
		if (errno || v == 0 || v > 65535 || end - port > 5)
			return al_error_set(err, EINVAL, "sink", "log sink '%s': bad port", url);
		p = end;
		snprintf(out->port, sizeof out->port, "%lu", v);
	} else {
		snprintf(out->port, sizeof out->port, "%s", schemes[i].port);
	}
	/* No path, query, user info or trailing bytes: a sink is host:port. */
	if (*p == '/' && p[1] == '\0')
		p++;
	if (*p)
		return al_error_set(err, EINVAL, "sink", "log sink '%s': unexpected '%s'", url, p);
	memcpy(out->host, host, hl);
	out->host[hl] = '\0';
	return 0;
}

/* ---- RFC 5424 + RFC 6587 ---- */

void al_sink_msgid(const char *line, size_t len, char out[33])
{
	static const char key[] = "\"type\":\"";
	const char *p = NULL;
	size_t n = 0;

	/* The envelope puts type before any payload member, and inside a JSON
	 * string a '"' is always escaped, so the first match is the envelope's. */
	if (len >= sizeof key - 1)
		p = memmem(line, len, key, sizeof key - 1);
	if (p) {
		p += sizeof key - 1;
		while (p + n < line + len && n <= 32 &&
		       (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '.'))
			n++;
		if (p + n >= line + len || p[n] != '"' || n == 0 || n > 32)
			p = NULL;
	}
	if (!p || (n == strlen(AL_SINK_GAP_MSGID) && !memcmp(p, AL_SINK_GAP_MSGID, n))) {
		strcpy(out, "event");
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

void al_sink_sd_escape(struct al_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || *s == ']')
			al_buf_append(out, "\\", 1);
		al_buf_append(out, s, 1);
	}
}

int al_sink_format_5424(struct al_buf *out, int pri, uint64_t realtime_ns, const char *hostname,
                        const char *procid, const char *msgid, const char *sd_params,
                        const char *msg, size_t len)
{
	time_t secs = (time_t)(realtime_ns / 1000000000ull);
	struct tm tm;

	/* RFC 5424 allows at most six digits of fractional seconds. */
	gmtime_r(&secs, &tm);
	al_buf_reset(out);
	al_buf_printf(out, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02d.%06uZ %s airlock %s %s [%s %s] ",
	              pri, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	              tm.tm_sec, (unsigned)(realtime_ns % 1000000000ull / 1000), hostname, procid,
	              msgid, AL_SINK_SDID, sd_params);
	al_buf_append(out, msg, len);
	return out->oom ? -ENOMEM : 0;
}

int al_sink_frame_octets(struct al_buf *out, const char *msg, size_t len)
{
	al_buf_printf(out, "%zu ", len);
	al_buf_append(out, msg, len);
	return out->oom ? -ENOMEM : 0;
}

/* ---- the sink object ---- */

const struct al_sink_conf *al_sink_conf(const struct al_sink *s)
{
	return &s->conf;
}

void *al_sink_transport_state(const struct al_sink *s)
{
	return s->tstate;
}

void al_sink_set_transport_state(struct al_sink *s, void *state)
{
	s->tstate = state;
}

static void sink_hostname(char out[256])
{
	char h[256] = "";

	/* HOSTNAME is 1*255 PRINTUSASCII; anything else becomes '-'. */
	if (gethostname(h, sizeof h - 1) < 0 || !h[0]) {
		strcpy(out, "-");
		return;
	}
	for (size_t i = 0; h[i]; i++)
		out[i] = (h[i] > 32 && h[i] < 127) ? h[i] : '-', out[i + 1] = '\0';
}

/* Default spool directory: the log file's directory ({run} expanded). */
static int spool_dir_for(const struct al_log_spec *ls, const char *run_id, char **out,
                         struct al_error *err)
{
	struct al_buf b;
	const char *p;

	if (ls->spool_dir) {
		*out = strdup(ls->spool_dir);
		return *out ? 0 : al_error_set(err, ENOMEM, "sink", "spool dir");
	}
	if (!ls->path)
		return al_error_set(err, EINVAL, "sink",
		                    "on_sink_failure: spool needs log.spool_dir or a log path");
	al_buf_init(&b);
	for (p = ls->path; *p;) {
		if (!strncmp(p, "{run}", 5)) {
			al_buf_puts(&b, run_id);
			p += 5;
		} else {
			al_buf_append(&b, p++, 1);
		}
	}
	if (b.oom || !b.data) {
		al_buf_free(&b);
		return al_error_set(err, ENOMEM, "sink", "spool dir");
	}
	*out = strdup(dirname(b.data));
	al_buf_free(&b);
	return *out ? 0 : al_error_set(err, ENOMEM, "sink", "spool dir");
}

static char *escape_dup(const char *s, bool json)
{
	struct al_buf b;
	al_buf_init(&b);
	if (json)
		al_json_escape(&b, s, strlen(s));
	else
		al_sink_sd_escape(&b, s);
	al_buf_append(&b, "", 0);
	if (b.oom) {
		al_buf_free(&b);
		return NULL;
	}
	return b.data;
}

int al_sink_open(struct al_sink **out, const struct al_log_spec *ls, const char *run_id,
                 struct al_error *err)
{
	struct al_sink *s;
	_cleanup_free_ char *spool_dir = NULL;
	int r;

	*out = NULL;
	if (!ls->sink)
		return al_error_set(err, EINVAL, "sink", "no log sink configured");
	s = calloc(1, sizeof *s);
	if (!s)
		return al_error_set(err, ENOMEM, "sink", "allocating sink");
	r = al_sink_url_parse(ls->sink, &s->conf.url, err);
	if (r < 0)
		goto fail;
	/* Only a sink that needs them loads gnutls / librelp (sink_dl.h). */
	if (s->conf.url.scheme == AL_SINK_TLS)
		r = al_sink_dl_gnutls(err);
	else if (s->conf.url.scheme == AL_SINK_RELP)
		r = al_sink_dl_relp(err);
	if (r < 0)
		goto fail;
	s->tp = s->conf.url.scheme == AL_SINK_RELP ? &al_sink_relp_transport
	                                           : &al_sink_syslog_transport;
	s->policy = ls->on_sink_failure;
	s->url = strdup(ls->sink);
	s->tls_ca = ls->tls_ca ? strdup(ls->tls_ca) : NULL;
	s->conf.tls_ca = s->tls_ca;
	s->run_sd = escape_dup(run_id, false);
	s->run_json = escape_dup(run_id, true);
	if (!s->url || (ls->tls_ca && !s->tls_ca) || !s->run_sd || !s->run_json) {
		r = al_error_set(err, ENOMEM, "sink", "allocating sink");
		goto fail;
	}
	sink_hostname(s->hostname);
	snprintf(s->procid, sizeof s->procid, "%d", (int)getpid());
	al_buf_init(&s->msg);
	al_buf_init(&s->line);
	if (s->policy == AL_SINK_FAILURE_SPOOL) {
		/* Created now, not at the first outage: an unusable spool is a
		 * reason not to start, not a surprise in the middle of a run. */
		r = spool_dir_for(ls, run_id, &spool_dir, err);
		if (r < 0)
			goto fail;
		r = al_spool_open(&s->spool, spool_dir, run_id, err);
		if (r < 0)
			goto fail;
	}
	r = s->tp->connect(s, AL_SINK_IO_TIMEOUT_MS, err);
	if (r < 0) {
		al_error_wrap(err, "connecting to log sink %s", s->url);
		goto fail;
	}
	s->state = SINK_UP;
	*out = s;
	return 0;
fail:
	al_sink_free(s);
	return r;
}

static int format_record(struct al_sink *s, uint64_t seq, const char *line, size_t len)
{
	char msgid[33], sd[64 + 16];
	struct al_buf params;
	int r;

	al_sink_msgid(line, len, msgid);
	snprintf(sd, sizeof sd, "\" seq=\"%" PRIu64 "\"", seq);
	al_buf_init(&params);
	al_buf_printf(&params, "run=\"%s%s", s->run_sd, sd);
	if (params.oom) {
		al_buf_free(&params);
		return -ENOMEM;
	}
	r = al_sink_format_5424(&s->msg, AL_SINK_PRI_RECORD, al_realtime_ns(), s->hostname,
	                        s->procid, msgid, params.data, line, len);
	al_buf_free(&params);
	return r;
}

static int ship(struct al_sink *s, uint64_t seq, const char *line, size_t len, struct al_error *err)
{
	int r = format_record(s, seq, line, len);
	if (r < 0)
		return al_error_set(err, ENOMEM, "sink", "formatting record %" PRIu64, seq);
	r = s->tp->send(s, s->msg.data, s->msg.len, err);
	if (r < 0)
		return r;
	s->stats.sent++;
	return 0;
}

/* The sink was lost (r, err say how). Under kill that is final; under
 * spool the transport is dropped and reconnects start after a short wait. */
static int sink_lost(struct al_sink *s, int r, struct al_error *err)
{
	al_error_wrap(err, "log sink %s lost", s->url);
	/* A server that refuses a record is not an outage a retry can fix. */
	if (s->policy == AL_SINK_FAILURE_KILL || r == -EPROTO) {
		s->failure = *err;
		s->state = SINK_FAILED;
		return r;
	}
	s->tp->drop(s);
	/* Lost while connected: a new outage begins (a failed reconnect
	 * attempt is not one). */
	if (s->state == SINK_UP || s->state == SINK_DRAINING) {
		s->lost_at_ns = al_realtime_ns();
		snprintf(s->lost_reason, sizeof s->lost_reason, "%s", err->msg);
	}
	s->state = SINK_DOWN;
	s->backoff_ns = RETRY_FIRST_NS;
	s->retry_at_ns = al_mono_ns() + s->backoff_ns;
	al_error_clear(err);
	return 0;
}

static int spool_record(struct al_sink *s, uint64_t seq, const char *line, size_t len,
                        struct al_error *err)
{
	int r = al_spool_append(s->spool, seq, line, len, err);
	if (r < 0) {
		/* Neither delivered nor kept: fail closed whatever the policy. */
		al_error_wrap(err, "log sink %s down and spool failed", s->url);
		s->failure = *err;
		s->state = SINK_FAILED;
		return r;
	}
	s->last_spooled = seq;
	s->stats.spooled++;
	return 0;
}

/* A gap marker: a syslog message of its own (MSGID sink-gap, severity
 * warning) saying that records first..last (count of them) were kept while
 * the sink was away and follow now, in order. */
static int send_gap(struct al_sink *s, uint64_t first, uint64_t last, uint64_t count,
                    const char *lost_at, const char *reason, struct al_error *err)
{
	char now[40], sd[96];
	struct al_buf m, params;
	int r;

	al_utc_rfc3339(al_realtime_ns(), now, sizeof now);
	al_buf_init(&m);
	al_buf_printf(&m,
	              "{\"type\":\"sink_gap\",\"run\":\"%s\",\"first_seq\":%" PRIu64
	              ",\"last_seq\":%" PRIu64 ",\"records\":%" PRIu64 ",\"lost_at\":\"",
	              s->run_json, first, last, count);
	al_json_escape(&m, lost_at, strlen(lost_at));
	al_buf_printf(&m, "\",\"restored_at\":\"%s\",\"reason\":\"", now);
	al_json_escape(&m, reason, strlen(reason));
	al_buf_puts(&m, "\"}");
	snprintf(sd, sizeof sd, "\" first=\"%" PRIu64 "\" last=\"%" PRIu64 "\"", first, last);
	al_buf_init(&params);
	al_buf_printf(&params, "run=\"%s%s", s->run_sd, sd);
	r = (m.oom || params.oom)
	        ? -ENOMEM
	        : al_sink_format_5424(&s->msg, AL_SINK_PRI_GAP, al_realtime_ns(), s->hostname,
	                              s->procid, AL_SINK_GAP_MSGID, params.data, m.data, m.len);
	al_buf_free(&m);
	al_buf_free(&params);
	if (r < 0)
		return al_error_set(err, ENOMEM, "sink", "formatting gap marker");
	return s->tp->send(s, s->msg.data, s->msg.len, err);
}

static int send_gap_marker(struct al_sink *s, struct al_error *err)
{
	char lost[40];
	uint64_t first = 0;
	int r;

	r = al_spool_peek(s->spool, &first, &s->line, err);
	if (r < 0)
		return r;
	al_utc_rfc3339(s->lost_at_ns, lost, sizeof lost);
	return send_gap(s, first, s->last_spooled, al_spool_pending(s->spool), lost, s->lost_reason,
	                err);
}

/* Redeliver spooled records in order until the spool is empty (then live),
 * max records went out, or the deadline passes. */
static int drain(struct al_sink *s, uint64_t deadline_ns, unsigned max, struct al_error *err)
{
	uint64_t seq;
	int r;

	for (unsigned n = 0; s->state == SINK_DRAINING && n < max; n++) {
		r = al_spool_peek(s->spool, &seq, &s->line, err);
		if (r < 0) {
			s->failure = *err;
			s->state = SINK_FAILED;
			return r;
		}
		if (r == 0) {
			s->state = SINK_UP;
			break;
		}
		r = ship(s, seq, s->line.data, s->line.len, err);
		if (r < 0)
			return sink_lost(s, r, err);
		s->stats.redelivered++;
		r = al_spool_pop(s->spool, err);
		if (r < 0) {
			s->failure = *err;
			s->state = SINK_FAILED;
			return r;
		}
		if (al_mono_ns() >= deadline_ns)
			break;
	}
	return 0;
}

static int try_restore(struct al_sink *s, int timeout_ms, struct al_error *err)
{
	int r = s->tp->connect(s, timeout_ms, err);
	if (r < 0) {
		s->backoff_ns = s->backoff_ns * 2 > RETRY_MAX_NS ? RETRY_MAX_NS : s->backoff_ns * 2;
		s->retry_at_ns = al_mono_ns() + s->backoff_ns;
		al_error_clear(err);
		return 0;
	}
	if (al_spool_pending(s->spool) == 0) {
		/* Lost while idle: nothing was spooled, so there is no gap. */
		s->state = SINK_UP;
		return 0;
	}
	r = send_gap_marker(s, err);
	if (r < 0)
		return sink_lost(s, r, err);
	s->stats.gaps++;
	s->state = SINK_DRAINING;
	return 0;
}

static int sticky(struct al_sink *s, struct al_error *err)
{
	*err = s->failure;
	return -(s->failure.code ? s->failure.code : EPIPE);
}

int al_sink_send(struct al_sink *s, uint64_t seq, const char *line, size_t len,
                 struct al_error *err)
{
	int r;

	if (len > AL_SINK_MAX_RECORD)
		return al_error_set(err, EMSGSIZE, "sink",
		                    "record %" PRIu64 " of %zu bytes exceeds the sink limit of %d",
		                    seq, len, AL_SINK_MAX_RECORD);
	switch (s->state) {
	case SINK_FAILED:
		return sticky(s, err);
	case SINK_UP:
		/* Look for a loss before writing: a write into a socket whose peer
		 * is gone still succeeds, so this is the earliest we can know. */
		r = s->tp->check(s, err);
		if (r == 0)
			r = ship(s, seq, line, len, err);
		if (r == 0)
			return 0;
		r = sink_lost(s, r, err);
		if (r < 0)
			return r;
		return spool_record(s, seq, line, len, err);
	case SINK_DOWN:
		return spool_record(s, seq, line, len, err);
	case SINK_DRAINING:
		/* Behind the spool to keep order; redeliver two for each new
		 * one so a busy run still catches up. */
		r = spool_record(s, seq, line, len, err);
		if (r < 0)
			return r;
		return drain(s, UINT64_MAX, 2, err);
	}
	return 0;
}

int al_sink_tick(struct al_sink *s, struct al_error *err)
{
	int r;

	switch (s->state) {
	case SINK_FAILED:
		return sticky(s, err);
	case SINK_UP:
		r = s->tp->check(s, err);
		return r < 0 ? sink_lost(s, r, err) : 0;
	case SINK_DOWN:
		if (al_mono_ns() < s->retry_at_ns)
			return 0;
		r = try_restore(s, RECONNECT_TIMEOUT_MS, err);
		if (r < 0 || s->state != SINK_DRAINING)
			return r;
		/* fall through */
	case SINK_DRAINING:
		return drain(s, al_mono_ns() + DRAIN_BUDGET_NS, UINT_MAX, err);
	}
	return 0;
}

int al_sink_close(struct al_sink *s, struct al_error *err)
{
	uint64_t deadline = al_mono_ns() + (uint64_t)AL_SINK_IO_TIMEOUT_MS * 1000000;
	int r;

	if (s->state == SINK_DOWN) {
		r = try_restore(s, RECONNECT_TIMEOUT_MS, err);
		if (r < 0)
			return r;
	}
	if (s->state == SINK_DRAINING) {
		r = drain(s, deadline, UINT_MAX, err);
		if (r < 0)
			return r;
	}
	if (s->state == SINK_FAILED)
		return sticky(s, err);
	if (s->state != SINK_UP && al_spool_pending(s->spool) == 0)
		return al_error_set(err, EPIPE, "sink",
		                    "log sink %s unreachable at close: what was sent before "
		                    "it was lost may not have arrived",
		                    s->url);
	if (s->state != SINK_UP)
		return al_error_set(err, EPIPE, "sink",
		                    "log sink %s unreachable at close: %" PRIu64
		                    " records not delivered, kept in %s",
		                    s->url, al_spool_pending(s->spool), al_spool_path(s->spool));
	r = s->tp->finish(s, AL_SINK_IO_TIMEOUT_MS, err);
	if (r < 0) {
		al_error_wrap(err, "log sink %s: closing", s->url);
		s->failure = *err;
		s->state = SINK_FAILED;
		return r;
	}
	return 0;
}

int al_sink_settle(struct al_sink *s, struct al_error *err)
{
	uint64_t deadline = al_mono_ns() + (uint64_t)AL_SINK_IO_TIMEOUT_MS * 1000000;
	int r;

	if (s->state == SINK_DOWN) {
		r = try_restore(s, RECONNECT_TIMEOUT_MS, err);
		if (r < 0)
			return r;
	}
	if (s->state == SINK_DRAINING) {
		r = drain(s, deadline, UINT_MAX, err);
		if (r < 0)
			return r;
	}
	if (s->state == SINK_FAILED)
		return sticky(s, err);
	if (s->state == SINK_UP) {
		/* A round trip, not a guess: everything sent so far is confirmed
		 * (RELP: the response to "close" comes after every earlier
		 * acknowledgement; tcp/tls: the server's TCP took every byte),
		 * then a fresh connection carries the final records. */
		r = s->tp->finish(s, AL_SINK_IO_TIMEOUT_MS, err);
		if (r == 0)
			r = s->tp->connect(s, AL_SINK_IO_TIMEOUT_MS, err);
		if (r < 0) {
			char why[AL_ERR_MSG_MAX];
			snprintf(why, sizeof why, "%s", err->msg);
			r = sink_lost(s, r, err);
			if (r < 0)
				return r;
			return al_error_set(err, EPIPE, "sink",
			                    "log sink %s lost at the end of the run: records not "
			                    "delivered are kept in %s (deliver them with `airlock "
			                    "log push`); records sent just before may not have "
			                    "arrived: %s",
			                    s->url, al_spool_path(s->spool), why);
		}
	}
	if (s->state != SINK_UP)
		return al_error_set(err, EPIPE, "sink",
		                    "log sink %s unreachable at the end of the run: %" PRIu64
		                    " records not delivered, kept in %s (deliver them with "
		                    "`airlock log push`)",
		                    s->url, s->spool ? al_spool_pending(s->spool) : 0,
		                    s->spool ? al_spool_path(s->spool) : "(no spool)");
	return 0;
}

/* Pull "run" and "time" out of a spooled record (the envelope's). */
static int record_run_time(const char *line, size_t len, char *run, size_t run_sz, char *time,
                           size_t time_sz)
{
	struct al_jval obj, v;

	if (al_jscan_value(line, len, true, &obj) < 0 || obj.type != AL_J_OBJECT)
		return -EINVAL;
	if (!al_jobj_get(&obj, "run", &v) || v.type != AL_J_STRING || v.n >= run_sz ||
	    !al_run_id_valid(v.p, v.n))
		return -EINVAL;
	memcpy(run, v.p, v.n);
	run[v.n] = '\0';
	time[0] = '\0';
	if (al_jobj_get(&obj, "time", &v) && v.type == AL_J_STRING && v.n < time_sz &&
	    !memchr(v.p, '\\', v.n)) {
		memcpy(time, v.p, v.n);
		time[v.n] = '\0';
	}
	return 0;
}

int al_sink_push_spool(const char *spool_path, const char *url, const char *tls_ca,
                       struct al_sink_push_stats *st, struct al_error *err)
{
	struct al_spool *sp = NULL;
	struct al_sink *s = NULL;
	struct al_log_spec ls = {0};
	struct al_buf line;
	char run[AL_EVLOG_RUN_MAX + 1], lost_at[40], reason[AL_ERR_MSG_MAX];
	uint64_t seq, first, last;
	int r;

	memset(st, 0, sizeof *st);
	al_buf_init(&line);
	r = al_spool_open_existing(&sp, spool_path, &first, &last, err);
	if (r < 0)
		goto out;
	st->records = al_spool_pending(sp);
	if (st->records == 0) {
		/* nothing to deliver; the empty file goes */
		st->delivered = true;
		r = al_spool_discard(sp, err);
		goto out;
	}
	r = al_spool_peek(sp, &seq, &line, err);
	if (r <= 0) {
		r = r < 0 ? r : al_error_set(err, EIO, "sink", "spool %s: no record", spool_path);
		goto out;
	}
	if (record_run_time(line.data, line.len, run, sizeof run, lost_at, sizeof lost_at) < 0) {
		r = al_error_set(err, EINVAL, "sink",
		                 "spool %s: the first record is not an event log record",
		                 spool_path);
		goto out;
	}
	ls.sink = (char *)url;
	ls.tls_ca = (char *)tls_ca;
	ls.on_sink_failure = AL_SINK_FAILURE_KILL;
	r = al_sink_open(&s, &ls, run, err);
	if (r < 0) {
		al_error_wrap(err, "opening log sink %s", url);
		goto out;
	}
	snprintf(reason, sizeof reason, "delivered later by airlock log push from %s", spool_path);
	r = send_gap(s, first, last, st->records, lost_at[0] ? lost_at : "unknown", reason, err);
	if (r < 0)
		goto out;
	st->gap_first = first;
	st->gap_last = last;
	while ((r = al_spool_peek(sp, &seq, &line, err)) > 0) {
		r = al_sink_send(s, seq, line.data, line.len, err);
		if (r < 0)
			goto out;
		st->sent++;
		/* the file is not changed until the server confirmed everything */
		r = al_spool_skip(sp, err);
		if (r < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	/* close waits for the acknowledgement of everything (RELP) or for the
	 * server's TCP stack to have taken every byte (tcp/tls) */
	r = al_sink_close(s, err);
	if (r < 0)
		goto out;
	st->delivered = true;
	r = al_spool_discard(sp, err);
out:
	if (s)
		al_sink_free(s);
	if (sp)
		al_spool_close_keep(sp);
	al_buf_free(&line);
	return r;
}

void al_sink_free(struct al_sink *s)
{
	if (!s)
		return;
	if (s->tp && s->tstate)
		s->tp->destroy(s);
	al_spool_free(s->spool);
	al_buf_free(&s->msg);
	al_buf_free(&s->line);
	free(s->url);
	free(s->tls_ca);
	free(s->run_sd);
	free(s->run_json);
	free(s);
}

uint64_t al_sink_take_stall(struct al_sink *s, uint64_t *max_ns)
{
	*max_ns = 0;
	if (!s->tp || !s->tp->take_stall || !s->tstate)
		return 0;
	return s->tp->take_stall(s, max_ns);
}

const char *al_sink_url(const struct al_sink *s)
{
	return s->url;
}

void al_sink_get_stats(const struct al_sink *s, struct al_sink_stats *st)
{
	*st = s->stats;
}
