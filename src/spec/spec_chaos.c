/* The chaos section of the spec: the names it accepts (errnos, path-taking
 * syscalls), its canonical JSON and its release. Parsing is in spec_yaml.c
 * with every other key; the decisions are made in src/chaos/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"
#include "util/json.h"

/* The errnos a fault may return: the ones programs meet from I/O, memory,
 * the network and process limits. */
static const struct {
	const char *name;
	int value;
} errnos[] = {
    /* clang-format off */
    {"EPERM", EPERM},   {"ENOENT", ENOENT},   {"EINTR", EINTR},
    {"EIO", EIO},       {"ENXIO", ENXIO},     {"E2BIG", E2BIG},
    {"EBADF", EBADF},   {"EAGAIN", EAGAIN},   {"ENOMEM", ENOMEM},
    {"EACCES", EACCES}, {"EFAULT", EFAULT},   {"EBUSY", EBUSY},
    {"EEXIST", EEXIST}, {"ENOTDIR", ENOTDIR}, {"EISDIR", EISDIR},
    {"EINVAL", EINVAL}, {"ENFILE", ENFILE},   {"EMFILE", EMFILE},
    {"EFBIG", EFBIG},   {"ENOSPC", ENOSPC},   {"ESPIPE", ESPIPE},
    {"EROFS", EROFS},   {"EMLINK", EMLINK},   {"EPIPE", EPIPE},
    {"ENAMETOOLONG", ENAMETOOLONG},           {"ENOSYS", ENOSYS},
    {"ENOTEMPTY", ENOTEMPTY},                 {"ELOOP", ELOOP},
    {"EDQUOT", EDQUOT}, {"ESTALE", ESTALE},   {"ETIMEDOUT", ETIMEDOUT},
    {"ECONNREFUSED", ECONNREFUSED},           {"ECONNRESET", ECONNRESET},
    {"ECONNABORTED", ECONNABORTED},           {"ENETUNREACH", ENETUNREACH},
    {"EHOSTUNREACH", EHOSTUNREACH},           {"ENETDOWN", ENETDOWN},
    {"EADDRINUSE", EADDRINUSE},               {"EADDRNOTAVAIL", EADDRNOTAVAIL},
    {"ENOBUFS", ENOBUFS},                     {"EMSGSIZE", EMSGSIZE},
    {"ENOTCONN", ENOTCONN},                   {"EINPROGRESS", EINPROGRESS},
    {"ECHILD", ECHILD}, {"ESRCH", ESRCH},     {"ENODEV", ENODEV},
    {"EOVERFLOW", EOVERFLOW},                 {"ETXTBSY", ETXTBSY},
    /* clang-format on */
};

int al_chaos_errno_parse(const char *name)
{
	for (size_t i = 0; i < AL_ARRAY_SIZE(errnos); i++)
		if (strcmp(errnos[i].name, name) == 0)
			return errnos[i].value;
	return -1;
}

const char *al_chaos_errno_name(int e)
{
	for (size_t i = 0; i < AL_ARRAY_SIZE(errnos); i++)
		if (errnos[i].value == e)
			return errnos[i].name;
	return NULL;
}

/* Path-taking syscalls: which argument holds the path, and which the
 * directory fd it is relative to (the *at forms), or -1. */
static const struct {
	const char *name;
	int arg, dirfd;
} path_calls[] = {
    /* clang-format off */
    {"open", 0, -1},        {"openat", 1, 0},       {"creat", 0, -1},
    {"stat", 0, -1},        {"lstat", 0, -1},       {"newfstatat", 1, 0},
    {"statx", 1, 0},        {"access", 0, -1},      {"faccessat", 1, 0},
    {"faccessat2", 1, 0},   {"mkdir", 0, -1},       {"mkdirat", 1, 0},
    {"unlink", 0, -1},      {"unlinkat", 1, 0},     {"rmdir", 0, -1},
    {"rename", 0, -1},      {"renameat", 1, 0},     {"renameat2", 1, 0},
    {"truncate", 0, -1},    {"chdir", 0, -1},       {"readlink", 0, -1},
    {"readlinkat", 1, 0},   {"chmod", 0, -1},       {"fchmodat", 1, 0},
    {"chown", 0, -1},       {"lchown", 0, -1},      {"fchownat", 1, 0},
    {"utimensat", 1, 0},    {"link", 0, -1},        {"linkat", 1, 0},
    {"symlink", 1, -1},     {"symlinkat", 2, 1},    {"statfs", 0, -1},
    {"getxattr", 0, -1},    {"lgetxattr", 0, -1},   {"setxattr", 0, -1},
    {"lsetxattr", 0, -1},   {"listxattr", 0, -1},   {"llistxattr", 0, -1},
    {"removexattr", 0, -1}, {"lremovexattr", 0, -1},
    /* clang-format on */
};

int al_chaos_path_arg(const char *syscall)
{
	for (size_t i = 0; i < AL_ARRAY_SIZE(path_calls); i++)
		if (strcmp(path_calls[i].name, syscall) == 0)
			return path_calls[i].arg;
	return -1;
}

int al_chaos_dirfd_arg(const char *syscall)
{
	for (size_t i = 0; i < AL_ARRAY_SIZE(path_calls); i++)
		if (strcmp(path_calls[i].name, syscall) == 0)
			return path_calls[i].dirfd;
	return -1;
}

void al_chaos_spec_free_syscalls(struct al_chaos_spec *c)
{
	for (size_t i = 0; i < c->n_syscalls; i++) {
		free(c->syscalls[i].syscall);
		free(c->syscalls[i].paths);
	}
	free(c->syscalls);
	c->syscalls = NULL;
	c->n_syscalls = 0;
}

void al_chaos_spec_free(struct al_chaos_spec *c)
{
	al_chaos_spec_free_syscalls(c);
	free(c->steps);
	memset(c, 0, sizeof *c);
}

/* the shortest decimal that reads back as the same double */
static void shortest_double(struct al_json *j, double v)
{
	char buf[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	al_json_raw(j, buf);
}

bool al_chaos_canon_has_faults(const struct al_chaos_spec *c)
{
	return c->n_syscalls || c->n_steps || c->clock_offset_ns || c->realtime_skew_ns;
}

void al_chaos_canon_clock(struct al_json *j, const struct al_chaos_spec *c)
{
	if (c->clock_offset_ns == 0 && c->realtime_skew_ns == 0)
		return;
	al_json_key(j, "clock");
	al_json_obj_begin(j);
	al_json_kv_int(j, "offset", c->clock_offset_ns);
	if (c->realtime_skew_ns) /* written only when set: older hashes stay */
		al_json_kv_int(j, "realtime", c->realtime_skew_ns);
	al_json_obj_end(j);
}

/* steps and rules keep their order (an index is part of each record) */
void al_chaos_canon_resources(struct al_json *j, const struct al_chaos_spec *c)
{
	if (c->n_steps == 0)
		return;
	al_json_key(j, "resources");
	al_json_arr_begin(j);
	for (size_t i = 0; i < c->n_steps; i++) {
		const struct al_chaos_step *st = &c->steps[i];
		al_json_obj_begin(j);
		al_json_kv_uint(j, "at", st->at_ns);
		if (st->what & AL_CHAOS_RES_CPUS) {
			al_json_key(j, "cpus");
			shortest_double(j, st->cpus);
		}
		if (st->what & AL_CHAOS_RES_DISK)
			al_json_kv_uint(j, "disk", st->disk);
		if (st->what & AL_CHAOS_RES_MEMORY)
			al_json_kv_uint(j, "memory", st->memory);
		if (st->what & AL_CHAOS_RES_PIDS)
			al_json_kv_uint(j, "pids", st->pids);
		al_json_obj_end(j);
	}
	al_json_arr_end(j);
}

void al_chaos_canon_syscalls(struct al_json *j, const struct al_chaos_spec *c)
{
	if (c->n_syscalls == 0)
		return;
	al_json_key(j, "syscalls");
	al_json_arr_begin(j);
	for (size_t i = 0; i < c->n_syscalls; i++) {
		const struct al_chaos_syscall *r = &c->syscalls[i];
		al_json_obj_begin(j);
		if (r->trigger == AL_CHAOS_AFTER)
			al_json_kv_uint(j, "after", r->n);
		al_json_kv_str(j, "errno", al_chaos_errno_name(r->err));
		if (r->trigger == AL_CHAOS_EVERY)
			al_json_kv_uint(j, "every", r->n);
		al_json_kv_uint(j, "max", r->max);
		al_json_kv_str(j, "paths",
		               r->paths); /* absolute globs: valid UTF-8 checked by the loader */
		if (r->trigger == AL_CHAOS_RATE) {
			al_json_key(j, "rate");
			shortest_double(j, r->rate);
		}
		al_json_kv_str(j, "syscall", r->syscall);
		al_json_obj_end(j);
	}
	al_json_arr_end(j);
}
