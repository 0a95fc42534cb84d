/* `airlock chaos matrix`: one base spec, some keys varied, every
 * combination run (in parallel up to a limit), and a table of the outcomes:
 * verdict, exit status, duration, faults injected, rules fired, the log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spec/spec.h"
#include "util/error.h"

#define AL_MATRIX_MAX_DIMS 8
#define AL_MATRIX_MAX_VALUES 256
#define AL_MATRIX_MAX_RUNS 1024

/* --vary KEY=VALUES: KEY a dotted spec key (chaos.seed, limits.memory);
 * VALUES either an integer range A..B or a comma list of YAML values
 * (commas inside [..], {..} or quotes do not split), each optionally
 * @FILE (the value is that file's text). */
struct al_matrix_dim {
	char *key;
	char **values; /* YAML texts */
	size_t n;
};

struct al_matrix_opts {
	const char *base_spec; /* --spec, or NULL */
	struct al_matrix_dim dims[AL_MATRIX_MAX_DIMS];
	size_t n_dims;
	unsigned parallel;   /* >= 1 */
	const char *out_dir; /* logs and outputs of every run go here */
	uint32_t allow_degraded;
	char *const *argv; /* the command */
	size_t argc;
	bool progress; /* a progress bar on stderr */
};

struct al_matrix_row {
	char *label; /* "chaos.seed=3 chaos.syscalls=[...]" */
	char log[4096];
	char verdict[32];
	int exit_status;
	uint64_t duration_ns;
	int64_t faults;      /* -1: unknown (no run_end) */
	int64_t rules_fired; /* -1: no rules engine in this airlock ("n/a") */
	char error[256];     /* a combination that could not even start */
};

struct al_matrix {
	struct al_matrix_row *rows;
	size_t n;
};

/* Parse one --vary argument into dim (owned strings). */
int al_matrix_parse_vary(const char *arg, struct al_matrix_dim *dim, struct al_error *err);
void al_matrix_dim_free(struct al_matrix_dim *dim);
/* The YAML overlay that sets key to value: "{chaos: {seed: 3}}". */
char *al_matrix_overlay(const char *key, const char *value);

/* Build every combination's spec (checked before anything runs), run them
 * all, fill m (rows in combination order: the first dimension varies
 * slowest). Returns <0 only when nothing could be run. */
int al_matrix_run(const struct al_matrix_opts *o, struct al_matrix *m, struct al_error *err);
void al_matrix_print_table(const struct al_matrix *m, FILE *out);
int al_matrix_write_json(const struct al_matrix *m, FILE *out);
int al_matrix_write_html(const struct al_matrix *m, FILE *out);
void al_matrix_free(struct al_matrix *m);
