/* airlock: the thin command-line front end. Dispatches to a subcommand; all
 * logic lives in the library. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "airlock-config.h"
#include "cli/cli.h"
#include "net/egress.h"
#include "util/proctitle.h"
#include "util/escape.h"

static void usage(FILE *out)
{
	fputs("usage: airlock COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  run [OPTIONS] [--spec FILE] -- CMD [ARG...]   run CMD in a fresh sandbox\n"
	      "  create [--name N] [OPTIONS]                    start a session sandbox; prints its id\n"
	      "  exec ID [-i] [-t] [-e K=V] [-w DIR] [--user U] [--json] -- CMD   run CMD in a session\n"
	      "  shell ID [--user U]                           an interactive login shell in a session\n"
	      "  ls [--json]                                   list your sessions\n"
	      "  rm ID... | --all                              remove sessions (verified teardown)\n"
	      "  cp SRC DST (one of them ID:PATH)              copy files into or out of a session\n"
	      "  keygen [-o PREFIX]                            write an Ed25519 key pair for log signing\n"
	      "  log verify FILE [--pubkey K]                  verify a run's event log\n"
	      "  log show FILE                                 print a run's timeline\n"
	      "  rules explain [SPEC]                          print the effective tripwire rules\n"
	      "  image digest|lint|import|ls|inspect|rm|diff|verify ...\n"
	      "                                                images: digests to pin, attack surface,\n"
	      "                                                the local store (airlock image help)\n"
	      "  oci [--root D] create|start|state|kill|delete|ps|features ...\n"
	      "                                                the OCI runtime (runc command line; also\n"
	      "                                                installed as airlock-runc): docs/oci.md\n"
	      "  chaos matrix [--spec F] --vary K=V.. -- CMD   run CMD under combinations of chaos specs\n"
	      "  help [COMMAND]                                show help\n"
	      "  version                                       print the version\n"
	      "\n"
	      "See `airlock help run` and docs/ for details.\n",
	      out);
}

/* Started with 0, 1 or 2 closed, the first fds airlock opens (the log, the
 * relay pipes) would take those numbers and be mistaken for stdio. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n < 0)
			_exit(125);
		if (n != fd) { /* lower ones are taken, so n == fd; be sure anyway */
			dup2(n, fd);
			close(n);
		}
	}
}

int main(int argc, char **argv)
{
	const char *cmd;

	/* the egress proxy is this binary re-executed (src/net/egress.h) */
	if (al_egress_is_proxy_argv(argc, argv))
		return al_egress_proxy_main();
	ensure_stdio();
	al_proctitle_save(argc, argv);
	/* installed as airlock-runc (a symlink): the runc command line */
	{
		const char *base = strrchr(argv[0], '/');
		base = base ? base + 1 : argv[0];
		if (strcmp(base, "airlock-runc") == 0)
			return al_cmd_oci(argc, argv, "airlock-runc");
	}
	if (argc < 2) {
		usage(stderr);
		return 125;
	}
	cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return al_cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "create") == 0)
		return al_cmd_create(argc - 1, argv + 1);
	if (strcmp(cmd, "exec") == 0)
		return al_cmd_exec(argc - 1, argv + 1);
	if (strcmp(cmd, "ls") == 0)
		return al_cmd_ls(argc - 1, argv + 1);
	if (strcmp(cmd, "rm") == 0)
		return al_cmd_rm(argc - 1, argv + 1);
	if (strcmp(cmd, "cp") == 0)
		return al_cmd_cp(argc - 1, argv + 1);
	if (strcmp(cmd, "shell") == 0)
		return al_cmd_shell(argc - 1, argv + 1);
	if (strcmp(cmd, "keygen") == 0)
		return al_cmd_keygen(argc - 1, argv + 1);
	if (strcmp(cmd, "log") == 0)
		return al_cmd_log(argc - 1, argv + 1);
	if (strcmp(cmd, "rules") == 0)
		return al_cmd_rules(argc - 1, argv + 1);
	if (strcmp(cmd, "image") == 0)
		return al_cmd_image(argc - 1, argv + 1);
	if (strcmp(cmd, "chaos") == 0)
		return al_cmd_chaos(argc - 1, argv + 1);
	if (strcmp(cmd, "oci") == 0)
		return al_cmd_oci(argc - 1, argv + 1, "airlock oci");
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("airlock %s\n", AIRLOCK_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		if (argc >= 3 && strcmp(argv[2], "run") == 0) {
			al_cli_usage_run(stdout);
			return 0;
		}
		usage(stdout);
		return 0;
	}
	al_escape_printf(stderr, "airlock: unknown command '%s'\n", cmd);
	usage(stderr);
	return 125;
}
