/* Helpers shared by the evidence unit tests: scratch directories, making a
 * log with the real writer, and reading/rewriting it line by line so tamper
 * tests can edit exactly one thing. */
#pragma once

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "evidence/evlog.h"
#include "evidence/verify.h"
#include "util/json.h"

struct lines {
	char **v;
	size_t n;
};

static inline char *scratch_dir(void)
{
	char *d = strdup("/tmp/al-evtest-XXXXXX");
	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static inline void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static inline char *path_in(const char *dir, const char *name)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static inline void lines_read(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	assert_non_null(f);
	l->v = NULL;
	l->n = 0;
	while ((n = getline(&buf, &cap, f)) > 0) {
		if (buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
		l->v[l->n++] = strdup(buf);
	}
	free(buf);
	fclose(f);
}

static inline void lines_write(const char *path, const struct lines *l)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i])
			fprintf(f, "%s\n", l->v[i]);
	assert_int_equal(fclose(f), 0);
}

static inline void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static inline enum al_verify_status verify_path(const char *path, const uint8_t *trusted,
                                                struct al_verify *v)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	enum al_verify_status st;

	assert_true(fd >= 0);
	al_verify_init(v, trusted);
	st = al_verify_fd(v, fd);
	close(fd);
	return st;
}

/* Append a record built with al_json: fields given as key/str pairs. */
static inline void append_kv(struct al_evlog *log, const char *type, const char *k, const char *val)
{
	struct al_buf b;
	struct al_json j;
	struct al_error err = {0};

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	if (k)
		al_json_kv_str(&j, k, val);
	al_json_obj_end(&j);
	assert_int_equal(al_evlog_append(log, type, b.data, &err), 0);
	al_buf_free(&b);
}

/* A log of: run_start (with pubkey), n exec records, close. */
static inline void make_log(const char *path, unsigned n, unsigned every, const char *key,
                            char pub_out[65])
{
	struct al_log_spec ls = {0};
	struct al_evlog *log = NULL;
	struct al_error err = {0};

	ls.path = (char *)path;
	ls.checkpoint_every = every;
	ls.signing_key = (char *)key;
	assert_int_equal(al_evlog_open(&log, &ls, "run-test-1", &err), 0);
	append_kv(log, "run_start", "pubkey", al_evlog_pubkey_hex(log));
	if (pub_out)
		memcpy(pub_out, al_evlog_pubkey_hex(log), 65);
	for (unsigned i = 0; i < n; i++) {
		char arg[64];
		snprintf(arg, sizeof arg, "/usr/bin/step-%u", i);
		append_kv(log, "exec", "path", arg);
	}
	assert_int_equal(al_evlog_close(log, &err), 0);
	al_evlog_free(log);
}
