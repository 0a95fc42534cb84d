/* Subcommands of the thin CLI. Each returns the process exit status. */
#pragma once

#include "spec/spec.h"

int al_cmd_run(int argc, char **argv);     /* cmd_run.c */
int al_cmd_keygen(int argc, char **argv);  /* cmd_keygen.c */
int al_cmd_rules(int argc, char **argv);
int al_cmd_log(int argc, char **argv);     /* cmd_log.c: verify, show */
int al_cmd_chaos(int argc, char **argv);   /* cmd_chaos.c: matrix */
int al_cmd_image(int argc, char **argv);   /* cmd_image.c: digest, lint */
int al_cmd_create(int argc, char **argv);  /* cmd_session.c */
int al_cmd_exec(int argc, char **argv);    /* cmd_session.c */
int al_cmd_ls(int argc, char **argv);      /* cmd_session.c */
int al_cmd_rm(int argc, char **argv);      /* cmd_session.c */
/* cmd_oci.c: the runc command line; argv[0] is the program or "oci",
 * name is what messages call it. */
int al_cmd_oci(int argc, char **argv, const char *name);
int al_cmd_cp(int argc, char **argv);      /* cmd_session.c */
int al_cmd_shell(int argc, char **argv);   /* cmd_session.c */
void al_cli_usage_run(FILE *out);          /* options.c */

/* Options of `airlock run` that are not part of the spec. */
struct al_cli_run {
	const char *spec_path;  /* --spec */
	bool help;
	bool version;
};

/* Parse `airlock run` arguments (argv[0] is "run"): --spec is loaded first,
 * then every other option overrides it, then the command after "--" (or the
 * first non-option) replaces spec->argv; the result is checked with
 * al_spec_validate (except for --help / --version). Errors: -errno with err
 * filled (the caller exits 125). */
int al_cli_parse_run(int argc, char **argv, struct al_spec *spec, struct al_cli_run *opts,
		     struct al_error *err);

/* The same for `airlock create`: the command is optional (a session runs
 * its commands with `airlock exec`). */
int al_cli_parse_create(int argc, char **argv, struct al_spec *spec, struct al_cli_run *opts,
			struct al_error *err);
