/* Unit test for the volume owner rule (idmap.c, docs/isolation.md): host
 * uid 0 or gid 0 is never a volume's mapped owner unless the volume says
 * owner=root; read-write is then refused with a message that says what to
 * do, read-only is bound unmapped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/sandbox.h"

static void unprivileged_owner_is_mapped(void **state)
{
	struct al_error err = {0};

	(void)state;
	assert_int_equal(al_idmap_owner_rule("/v", 1000, 1000, true, false, &err), 1);
	assert_int_equal(al_idmap_owner_rule("/v", 1000, 1000, false, false, &err), 1);
	assert_int_equal(al_idmap_owner_rule("/v", 54321, 100, true, true, &err), 1);
}

static void root_owner_is_refused_rw_and_unmapped_ro(void **state)
{
	static const unsigned ids[][2] = {{0, 0}, {0, 1000}, {1000, 0}};
	struct al_error err = {0};

	(void)state;
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		memset(&err, 0, sizeof err);
		assert_true(
		    al_idmap_owner_rule("/srv/vol", ids[i][0], ids[i][1], true, false, &err) < 0);
		assert_int_equal(err.code, EPERM);
		assert_non_null(strstr(err.msg, "/srv/vol"));
		assert_non_null(strstr(err.msg, "owner=root"));
		assert_non_null(strstr(err.msg, "chown"));
		assert_int_equal(
		    al_idmap_owner_rule("/srv/vol", ids[i][0], ids[i][1], false, false, &err), 0);
		/* asked for explicitly: mapped, read-only or read-write */
		assert_int_equal(
		    al_idmap_owner_rule("/srv/vol", ids[i][0], ids[i][1], true, true, &err), 1);
		assert_int_equal(
		    al_idmap_owner_rule("/srv/vol", ids[i][0], ids[i][1], false, true, &err), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(unprivileged_owner_is_mapped),
	    cmocka_unit_test(root_owner_is_refused_rw_and_unmapped_ro),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
