/* `airlock log verify FILE [--pubkey K]` and `airlock log show FILE`: thin
 * front ends over the evidence library's verifier and timeline. The verify
 * exit statuses are enum al_verify_status (docs/events.md). */
#include <fcntl.h>
#include <stdbool.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "evidence/show.h"
#include "evidence/sink.h"
#include "evidence/verify.h"
#include "util/cleanup.h"
#include "util/escape.h"

static void usage(FILE *out)
{
	fputs("usage: airlock log verify FILE [--pubkey FILE|HEX] [--run ID] [--host NAME]\n"
	      "                          [--no-streams]\n"
	      "       airlock log show FILE\n"
	      "       airlock log push SPOOL --sink URL [--tls-ca FILE]\n"
	      "\n"
	      "verify exit status: 0 ok, 1 malformed, 2 edited, 3 reordered or missing records,\n"
	      "  4 truncated (the prefix up to the last checkpoint verifies), 5 bad signature,\n"
	      "  6 wrong key, 7 a stream file the log names is missing or not a regular file,\n"
	      "  8 wrong run (run id or host differ from --run/--host), 64 usage or I/O error.\n"
	      "show exit status: 0, 1 unreadable file, 125 usage error.\n"
	      "push exit status: 0 delivered (the spool is removed) or nothing to deliver,\n"
	      "  1 not delivered (the spool is kept whole), 125 usage error.\n",
	      out);
}

/* A named log is opened without blocking (a FIFO planted where a log was
 * expected must not hang the verifier) and refused unless it can end: a
 * FIFO or socket is read only when given as "-" (stdin). */
static int open_log(const char *path)
{
	struct stat st;
	int fd;

	if (strcmp(path, "-") == 0)
		return fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		al_escape_printf(stderr, "airlock: log: opening %s: %m\n", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
	    S_ISDIR(st.st_mode)) {
		al_escape_printf(stderr, "airlock: log: %s is not a file (a FIFO, socket or directory)\n",
		        path);
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static void report(const struct al_verify *v, const char *path, enum al_verify_status st)
{
	char key[2 * AL_PUBKEY_LEN + 1];

	if (st == AL_VERIFY_OK) {
		al_hex(v->root_key, AL_PUBKEY_LEN, key);
		al_escape_printf(stdout, "OK: %s: %llu records of run %s; final checkpoint at line %llu (seq %llu, "
		       "epoch %u)\n",
		       path, (unsigned long long)v->next_seq, v->run,
		       (unsigned long long)v->last_cp_line, (unsigned long long)v->last_cp_seq,
		       v->epoch - 1);
		al_escape_printf(stdout, "signed by key %s (%s)\n", key,
		       v->have_trusted ? "the key given with --pubkey"
		       : v->have_recorded
		           ? "the key recorded in run_start; pass --pubkey to check it is yours"
		           : "not checked against a trusted key: pass --pubkey");
		return;
	}
	al_escape_printf(stdout, "%s: %s: ", st == AL_VERIFY_TRUNCATED ? "TRUNCATED" : "FAILED", path);
	if (st == AL_VERIFY_TRUNCATED)
		al_escape_printf(stdout, "%s\n", v->reason);
	else if (v->bad_seq_known)
		al_escape_printf(stdout, "line %llu (seq %llu): %s [%s]\n", (unsigned long long)v->bad_line,
		       (unsigned long long)v->bad_seq, v->reason, al_verify_status_name(st));
	else
		al_escape_printf(stdout, "line %llu: %s [%s]\n", (unsigned long long)v->bad_line, v->reason,
		       al_verify_status_name(st));
	if (st != AL_VERIFY_TRUNCATED && st != AL_VERIFY_IO) {
		if (v->epoch)
			al_escape_printf(stdout, "records up to the checkpoint at line %llu (seq %llu) verified "
			       "before this\n",
			       (unsigned long long)v->last_cp_line,
			       (unsigned long long)v->last_cp_seq);
		else
			al_escape_printf(stdout, "no checkpoint verified before this\n");
	}
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pubkey", required_argument, NULL, 'k'}, {"run", required_argument, NULL, 'r'},
	    {"host", required_argument, NULL, 'H'},   {"no-streams", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},         {0},
	};
	const char *pubarg = NULL, *want_run = NULL, *want_host = NULL;
	bool check_streams = true;
	uint8_t pk[AL_PUBKEY_LEN];
	struct al_error err = {0};
	struct al_verify v;
	_cleanup_close_ int fd = -1;
	enum al_verify_status st;
	char msg[AL_ERR_MSG_MAX + 64];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			pubarg = optarg;
			break;
		case 'r':
			want_run = optarg;
			break;
		case 'H':
			want_host = optarg;
			break;
		case 'S':
			check_streams = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return AL_VERIFY_IO;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return AL_VERIFY_IO;
	}
	if (pubarg && al_key_parse_public(pubarg, pk, &err) < 0) {
		al_escape_printf(stderr, "airlock: log verify: %s\n",
		        al_error_format(&err, msg, sizeof msg));
		return AL_VERIFY_IO;
	}
	fd = open_log(argv[optind]);
	if (fd < 0)
		return AL_VERIFY_IO;
	al_verify_init(&v, pubarg ? pk : NULL);
	if (al_verify_expect(&v, want_run, want_host) < 0) {
		fprintf(stderr,
		        "airlock: log verify: --run must be 1-%d of [A-Za-z0-9._-] and "
		        "--host a host name\n",
		        AL_EVLOG_RUN_MAX);
		al_verify_free(&v);
		return AL_VERIFY_IO;
	}
	st = al_verify_fd(&v, fd);
	if (st == AL_VERIFY_OK && check_streams && strcmp(argv[optind], "-") != 0) {
		/* the output streams beside the log are part of the evidence:
		 * one that is gone or replaced by something else fails */
		_cleanup_free_ char *copy = strdup(argv[optind]);
		int checked = 0;
		if (!copy) {
			al_escape_printf(stderr, "airlock: log verify: out of memory\n");
			al_verify_free(&v);
			return AL_VERIFY_IO;
		}
		st = al_verify_stream_files(&v, dirname(copy), &checked);
		if (st != AL_VERIFY_OK) {
			al_escape_printf(stdout, "FAILED: %s: %s [%s]\n", argv[optind], v.reason,
			       al_verify_status_name(st));
			al_verify_free(&v);
			return (int)st;
		}
		report(&v, argv[optind], st);
		if (checked)
			al_escape_printf(stdout, "output streams: %d file(s) match the log\n", checked);
	} else {
		report(&v, argv[optind], st);
		if (st == AL_VERIFY_OK && !check_streams)
			printf("output streams: not checked (--no-streams)\n");
	}
	if (st == AL_VERIFY_OK && (want_run || want_host))
		printf("run%s%s%s%s: as expected\n", want_run ? " " : "", want_run ? want_run : "",
		       want_host ? " on host " : "", want_host ? want_host : "");
	al_verify_free(&v);
	return (int)st;
}

/* show's statuses (docs/exit-codes.md): 0, 1 unreadable file, 125 usage */
static int cmd_show(int argc, char **argv)
{
	_cleanup_close_ int fd = -1;
	struct al_show_stats st;
	int r;

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 || (argv[1][0] == '-' && argv[1][1] != '\0')) {
		usage(stderr);
		return 125;
	}
	fd = open_log(argv[1]);
	if (fd < 0)
		return 1;
	r = al_show_fd(fd, stdout, &st);
	if (r < 0) {
		al_escape_printf(stderr, "airlock: log show: reading %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* push's statuses (docs/exit-codes.md): 0 delivered, 1 not, 125 usage */
static int cmd_push(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"sink", required_argument, NULL, 's'},
	    {"tls-ca", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *url = NULL, *ca = NULL;
	struct al_sink_push_stats st;
	struct al_error err = {0};
	char msg[AL_ERR_MSG_MAX + 64];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			url = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 125;
		}
	}
	if (optind != argc - 1 || !url) {
		fprintf(stderr, "airlock: log push: give one SPOOL and --sink URL\n");
		usage(stderr);
		return 125;
	}
	if (al_sink_push_spool(argv[optind], url, ca, &st, &err) < 0) {
		fprintf(stderr, "airlock: log push: %s\n", al_error_format(&err, msg, sizeof msg));
		if (st.sent)
			fprintf(stderr,
			        "airlock: log push: %llu of %llu records sent before the "
			        "failure; the spool is kept whole, push it again\n",
			        (unsigned long long)st.sent, (unsigned long long)st.records);
		return 1;
	}
	if (st.records == 0)
		printf("%s: nothing to deliver (empty spool removed)\n", argv[optind]);
	else
		printf("%s: delivered %llu records (seq %llu-%llu) to %s behind a sink-gap "
		       "marker; spool removed\n",
		       argv[optind], (unsigned long long)st.sent, (unsigned long long)st.gap_first,
		       (unsigned long long)st.gap_last, url);
	return 0;
}

int al_cmd_log(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 125;
	}
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "push") == 0)
		return cmd_push(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	al_escape_printf(stderr, "airlock: log: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 125;
}
