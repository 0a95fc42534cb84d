/* src/util/pathsafe.c: host paths checked against the places the sandbox
 * can write, by identity. A temporary tree:
 *   T/place/sub            the writable place and a directory inside it
 *   T/place/link -> T/out  a link planted inside the place
 *   T/alias -> T/place/sub a link outside leading inside
 *   T/out                  an ordinary directory
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/pathsafe.h"

static char T[PATH_MAX];
static struct al_place place;

static void mk(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", T, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state)
{
	char p[PATH_MAX], q[PATH_MAX];
	struct stat st;
	(void)state;
	snprintf(T, sizeof T, "/tmp/al-pathsafe-XXXXXX");
	assert_non_null(mkdtemp(T));
	mk("place");
	mk("place/sub");
	mk("out");
	snprintf(p, sizeof p, "%s/out", T);
	snprintf(q, sizeof q, "%s/place/link", T);
	assert_int_equal(symlink(p, q), 0);
	snprintf(p, sizeof p, "%s/place/sub", T);
	snprintf(q, sizeof q, "%s/alias", T);
	assert_int_equal(symlink(p, q), 0);
	snprintf(p, sizeof p, "%s/place", T);
	place.fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(place.fd >= 0);
	assert_int_equal(fstat(place.fd, &st), 0);
	place.dev = st.st_dev;
	place.ino = st.st_ino;
	place.what = "rw volume place";
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];
	(void)state;
	close(place.fd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", T);
	return system(cmd) == 0 ? 0 : -1;
}

static int check(const char *rel, int flags)
{
	char p[PATH_MAX];
	struct al_error err = {0};
	const char *base = NULL;
	int fd = -1, r;
	snprintf(p, sizeof p, "%s/%s", T, rel);
	r = al_path_resolve_checked(p, flags, &place, 1, "test", &fd, &base, &err);
	if (fd >= 0)
		close(fd);
	return r;
}

static void outside_is_accepted(void **state)
{
	(void)state;
	assert_int_equal(check("out/x", AL_PATH_PARENT), 0);
	assert_int_equal(check("out", 0), 0);
	assert_int_equal(check("missing/deeper/x", 0), 0); /* checked as far as it exists */
}

static void inside_is_refused_however_named(void **state)
{
	(void)state;
	assert_int_equal(check("place/x", AL_PATH_PARENT), -EPERM);
	assert_int_equal(check("place", 0), -EPERM);
	assert_int_equal(check("out/../place/sub/x", AL_PATH_PARENT), -EPERM);
	assert_int_equal(check("alias/x", AL_PATH_PARENT), -EPERM); /* link outside, into it */
	assert_int_equal(check("place/link/x", AL_PATH_PARENT),
	                 -EPERM); /* link inside: not followed */
	assert_int_equal(check("place/missing/x", AL_PATH_PARENT | AL_PATH_CREATE), -EPERM);
}

static void nothing_is_created_inside(void **state)
{
	char p[PATH_MAX];
	(void)state;
	assert_int_equal(check("place/new/x", AL_PATH_PARENT | AL_PATH_CREATE), -EPERM);
	snprintf(p, sizeof p, "%s/place/new", T);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(check("out/new/deeper/x", AL_PATH_PARENT | AL_PATH_CREATE), 0);
	snprintf(p, sizeof p, "%s/out/new/deeper", T);
	assert_int_equal(access(p, F_OK), 0);
}

static void beneath_and_contains(void **state)
{
	char p[PATH_MAX];
	int fd;
	(void)state;
	snprintf(p, sizeof p, "%s/place/sub", T);
	fd = open(p, O_PATH | O_DIRECTORY);
	assert_int_equal(al_path_beneath(fd, &place, 1), 0);
	assert_int_equal(al_path_contains(fd, &place), 0);
	close(fd);
	fd = open(T, O_PATH | O_DIRECTORY);
	assert_int_equal(al_path_beneath(fd, &place, 1), -1);
	assert_int_equal(al_path_contains(fd, &place), 1);
	close(fd);
}

static void last_component_must_be_a_name(void **state)
{
	(void)state;
	assert_int_equal(check("out/..", AL_PATH_PARENT), -EINVAL);
	assert_int_equal(check("out/.", AL_PATH_PARENT), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(outside_is_accepted),
	    cmocka_unit_test(inside_is_refused_however_named),
	    cmocka_unit_test(nothing_is_created_inside),
	    cmocka_unit_test(beneath_and_contains),
	    cmocka_unit_test(last_component_must_be_a_name),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
