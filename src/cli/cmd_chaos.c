/* `airlock chaos matrix`: the thin CLI over src/chaos/matrix.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chaos/matrix.h"
#include "cli/cli.h"
#include "supervisor/run.h"
#include "util/escape.h"

static void usage_chaos(FILE *out)
{
	fputs("usage: airlock chaos matrix [--spec BASE] --vary KEY=VALUES [--vary ...]\n"
	      "                            [--parallel N] [--out DIR] [--json FILE] [--html FILE]\n"
	      "                            [--allow-degraded NAME] -- COMMAND [ARGS...]\n"
	      "\n"
	      "Runs COMMAND once per combination of the varied spec keys and prints a table:\n"
	      "verdict, exit status, duration, faults injected, rules fired, event log.\n"
	      "  --vary KEY=A..B          integers A to B (chaos.seed=1..5)\n"
	      "  --vary KEY=V1,V2,...     YAML values; commas inside [..] {..} or quotes do not\n"
	      "                           split; @FILE takes a value from a file\n"
	      "  --parallel N             runs at once (default 2)\n"
	      "  --out DIR                where logs go (default ./chaos-matrix-TIMESTAMP)\n"
	      "  --json FILE, --html FILE the table as JSON / HTML too (FILE - : stdout)\n"
	      "Exit status: 0 when every combination ran (whatever its verdict), 125 otherwise.\n",
	      out);
}

static int write_to(const char *path, const struct al_matrix *m, bool html)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "we");
	int r;

	if (f == NULL) {
		al_escape_printf(stderr, "airlock: chaos matrix: writing %s: %s\n", path,
		                 strerror(errno));
		return -1;
	}
	r = html ? al_matrix_write_html(m, f) : al_matrix_write_json(m, f);
	if (f != stdout && fclose(f) != 0)
		r = -EIO;
	return r;
}

int al_cmd_chaos(int argc, char **argv)
{
	struct al_matrix_opts o = {.parallel = 2};
	struct al_matrix m = {0};
	struct al_error err = {0};
	const char *json = NULL, *html = NULL;
	char outbuf[64];
	int i, r, status = AL_EXIT_SETUP;

	if (argc < 2 || strcmp(argv[1], "matrix") != 0) {
		usage_chaos(argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		                ? stdout
		                : stderr);
		return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0
		                                                                           : 125;
	}
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_chaos(stdout);
			status = 0;
			goto out;
		}
		if (v == NULL) {
			al_escape_printf(
			    stderr, "airlock: chaos matrix: %s needs a value (or unknown)\n", a);
			goto out;
		}
		if (strcmp(a, "--spec") == 0) {
			o.base_spec = v;
		} else if (strcmp(a, "--vary") == 0) {
			if (o.n_dims >= AL_MATRIX_MAX_DIMS) {
				fprintf(stderr, "airlock: chaos matrix: at most %d --vary\n",
				        AL_MATRIX_MAX_DIMS);
				goto out;
			}
			if (al_matrix_parse_vary(v, &o.dims[o.n_dims++], &err) < 0) {
				al_escape_printf(stderr, "airlock: %s\n", err.msg);
				goto out;
			}
		} else if (strcmp(a, "--parallel") == 0) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 64) {
				al_escape_printf(
				    stderr, "airlock: chaos matrix: --parallel %s: 1..64\n", v);
				goto out;
			}
			o.parallel = (unsigned)n;
		} else if (strcmp(a, "--out") == 0) {
			o.out_dir = v;
		} else if (strcmp(a, "--json") == 0) {
			json = v;
		} else if (strcmp(a, "--html") == 0) {
			html = v;
		} else if (strcmp(a, "--allow-degraded") == 0) {
			uint32_t bit;
			if (al_degradation_parse(v, &bit) < 0) {
				al_escape_printf(
				    stderr, "airlock: chaos matrix: unknown degradation %s\n", v);
				goto out;
			}
			o.allow_degraded |= bit;
		} else {
			al_escape_printf(stderr, "airlock: chaos matrix: unknown option %s\n", a);
			goto out;
		}
		i++;
	}
	if (i >= argc) {
		fputs("airlock: chaos matrix: no command (give it after --)\n", stderr);
		goto out;
	}
	o.argv = argv + i;
	o.argc = (size_t)(argc - i);
	if (o.out_dir == NULL) {
		snprintf(outbuf, sizeof outbuf, "chaos-matrix-%lld", (long long)time(NULL));
		o.out_dir = outbuf;
	}
	o.progress = isatty(2);
	r = al_matrix_run(&o, &m, &err);
	if (r < 0) {
		char buf[AL_ERR_MSG_MAX + 64];
		al_escape_printf(stderr, "airlock: chaos matrix: %s\n",
		                 al_error_format(&err, buf, sizeof buf));
		goto out;
	}
	if (!(json && strcmp(json, "-") == 0) && !(html && strcmp(html, "-") == 0))
		al_matrix_print_table(&m, stdout);
	status = 0;
	if (json && write_to(json, &m, false) < 0)
		status = AL_EXIT_SETUP;
	if (html && write_to(html, &m, true) < 0)
		status = AL_EXIT_SETUP;
out:
	al_matrix_free(&m);
	for (size_t d = 0; d < o.n_dims; d++)
		al_matrix_dim_free(&o.dims[d]);
	return status;
}
