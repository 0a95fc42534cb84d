/* `airlock keygen [-o PREFIX]`: write an Ed25519 key pair for signing event
 * log checkpoints (PREFIX.key secret, mode 0600; PREFIX.pub hex). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "evidence/chain.h"
#include "supervisor/run.h"
#include "util/escape.h"

static void usage(FILE *out)
{
	fputs("usage: airlock keygen [-o PREFIX]\n"
	      "\n"
	      "Write an Ed25519 key pair for signing event log checkpoints:\n"
	      "  PREFIX.key  the secret (mode 0600; give it to `airlock run` as log.signing_key)\n"
	      "  PREFIX.pub  the public key in hex (give it to `airlock log verify --pubkey`)\n"
	      "Existing files are never overwritten. PREFIX defaults to \"airlock\".\n",
	      out);
}

int al_cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *prefix = "airlock";
	char pub[2 * AL_PUBKEY_LEN + 1], msg[AL_ERR_MSG_MAX + 64];
	struct al_error err = {0};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			prefix = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return AL_EXIT_SETUP;
		}
	}
	if (optind != argc || prefix[0] == '\0') {
		usage(stderr);
		return AL_EXIT_SETUP;
	}
	/* docs/exit-codes.md: 1 refused or I/O error, 125 usage */
	if (al_key_generate_files(prefix, pub, &err) < 0) {
		al_escape_printf(stderr, "airlock: keygen: %s\n", al_error_format(&err, msg, sizeof msg));
		return 1;
	}
	printf("wrote %s.key (secret, mode 0600) and %s.pub\npublic key: %s\n", prefix, prefix,
	       pub);
	return 0;
}
