/* Test and benchmark driver for the remote sinks: ships JSON lines read on
 * stdin (or generated) through al_sink_* exactly as the supervisor does --
 * one send per record, a tick at least every 100 ms -- and reports how it
 * went. Used by tests/integration/test_sinks.py and bench/sink_relp.py.
 *
 *   sinkdrive --url URL [--policy kill|spool] [--spool-dir D] [--ca FILE]
 *             [--run ID] [--generate N [--size BYTES]] [--sigpipe-ignored]
 *
 * --require-cloexec: after open and before close, every fd above 2 must be
 * close-on-exec (exit 6 naming the first that is not).
 *
 * SIGPIPE keeps its default action (so the tests prove the sinks never
 * raise it) unless --sigpipe-ignored, which is how the supervisor runs.
 *
 * Exit: 0 delivered and closed cleanly; 3 a send/tick reported the sink
 * lost; 4 close reported loss; 5 open failed; 2 usage. Counters go to
 * stderr as one JSON line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evidence/sink.h"
#include "util/timeutil.h"

#define TICK_NS (100ull * 1000000)

/* The fd of ours (not stdio) that would leak into a child, or -1. */
static int leaky_fd(void)
{
	for (int fd = 3; fd < 4096; fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			return fd;
	}
	return -1;
}

static void report(struct al_sink *s, const char *outcome, double secs, uint64_t n)
{
	struct al_sink_stats st = {0};
	if (s)
		al_sink_get_stats(s, &st);
	fprintf(stderr,
	        "{\"outcome\":\"%s\",\"records\":%" PRIu64 ",\"seconds\":%.6f,"
	        "\"sent\":%" PRIu64 ",\"spooled\":%" PRIu64 ",\"gaps\":%" PRIu64
	        ",\"redelivered\":%" PRIu64 "}\n",
	        outcome, n, secs, st.sent, st.spooled, st.gaps, st.redelivered);
}

static int fail(struct al_sink *s, const char *what, const struct al_error *err, int code,
                double secs, uint64_t n)
{
	char buf[700];
	fprintf(stderr, "sinkdrive: %s: %s\n", what, al_error_format(err, buf, sizeof buf));
	report(s, what, secs, n);
	al_sink_free(s);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"policy", required_argument, NULL, 'p'},
	    {"spool-dir", required_argument, NULL, 'd'},
	    {"ca", required_argument, NULL, 'c'},
	    {"run", required_argument, NULL, 'r'},
	    {"generate", required_argument, NULL, 'g'},
	    {"size", required_argument, NULL, 's'},
	    {"sigpipe-ignored", no_argument, NULL, 'i'},
	    {"require-cloexec", no_argument, NULL, 'x'},
	    {NULL, 0, NULL, 0},
	};
	struct al_log_spec ls = {.on_sink_failure = AL_SINK_FAILURE_KILL};
	const char *run = "sinkdrive";
	uint64_t generate = 0, size = 200, seq = 0, t0, last_tick;
	struct al_sink *s = NULL;
	struct al_error err = {0};
	bool require_cloexec = false;
	int o, r, leak;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			ls.sink = optarg;
			break;
		case 'p':
			if (!strcmp(optarg, "spool"))
				ls.on_sink_failure = AL_SINK_FAILURE_SPOOL;
			else if (strcmp(optarg, "kill"))
				return 2;
			break;
		case 'd':
			ls.spool_dir = optarg;
			break;
		case 'c':
			ls.tls_ca = optarg;
			break;
		case 'r':
			run = optarg;
			break;
		case 'g':
			generate = strtoull(optarg, NULL, 10);
			break;
		case 's':
			size = strtoull(optarg, NULL, 10);
			break;
		case 'i':
			signal(SIGPIPE, SIG_IGN);
			break;
		case 'x':
			require_cloexec = true;
			break;
		default:
			return 2;
		}
	}
	if (!ls.sink) {
		fprintf(stderr, "usage: sinkdrive --url URL [--policy kill|spool] ...\n");
		return 2;
	}
	r = al_sink_open(&s, &ls, run, &err);
	if (r < 0)
		return fail(NULL, "open", &err, 5, 0, 0);
	if (require_cloexec && (leak = leaky_fd()) >= 0) {
		fprintf(stderr, "sinkdrive: fd %d is not close-on-exec after open\n", leak);
		return 6;
	}
	t0 = last_tick = al_mono_ns();

	if (generate) {
		/* Records shaped like the event log's, of about `size` bytes. */
		char *pad = malloc(size + 1), *line = malloc(size + 256);
		if (!pad || !line)
			return 2;
		memset(pad, 'x', size);
		pad[size] = '\0';
		for (seq = 1; seq <= generate; seq++) {
			int n = snprintf(line, size + 256,
			                 "{\"v\":1,\"seq\":%" PRIu64
			                 ",\"run\":\"%s\",\"type\":\"bench\","
			                 "\"pad\":\"%s\"}",
			                 seq, run, pad);
			r = al_sink_send(s, seq, line, (size_t)n, &err);
			if (r < 0)
				return fail(s, "send", &err, 3, 0, seq - 1);
			if (al_mono_ns() - last_tick >= TICK_NS) {
				last_tick = al_mono_ns();
				if (al_sink_tick(s, &err) < 0)
					return fail(s, "tick", &err, 3, 0, seq);
			}
		}
		seq = generate;
		free(pad);
		free(line);
	} else {
		size_t cap = 2u << 20, len = 0;
		char *buf = malloc(cap);
		bool eof = false;
		if (!buf)
			return 2;
		while (!eof) {
			struct pollfd p = {.fd = 0, .events = POLLIN};
			int n = poll(&p, 1, 100);
			if (n < 0 && errno != EINTR)
				return 2;
			if (n > 0) {
				ssize_t got = read(0, buf + len, cap - len);
				if (got < 0 && errno != EINTR && errno != EAGAIN)
					return 2;
				if (got == 0)
					eof = true;
				if (got > 0)
					len += (size_t)got;
			}
			char *start = buf, *nl;
			while ((nl = memchr(start, '\n', len - (size_t)(start - buf)))) {
				seq++;
				r = al_sink_send(s, seq, start, (size_t)(nl - start), &err);
				if (r < 0)
					return fail(s, "send", &err, 3, 0, seq - 1);
				start = nl + 1;
			}
			len -= (size_t)(start - buf);
			memmove(buf, start, len);
			if (len == cap)
				return 2; /* a line longer than any record */
			if (al_mono_ns() - last_tick >= TICK_NS || n == 0) {
				last_tick = al_mono_ns();
				if (al_sink_tick(s, &err) < 0)
					return fail(s, "tick", &err, 3, 0, seq);
			}
		}
		free(buf);
	}
	if (require_cloexec && (leak = leaky_fd()) >= 0) {
		fprintf(stderr, "sinkdrive: fd %d is not close-on-exec before close\n", leak);
		return 6;
	}
	r = al_sink_close(s, &err);
	double secs = (double)(al_mono_ns() - t0) / 1e9;
	if (r < 0)
		return fail(s, "close", &err, 4, secs, seq);
	report(s, "ok", secs, seq);
	al_sink_free(s);
	return 0;
}
