/* util/dlib.c and util/zlib_dl.c: an optional library that is missing or
 * lacks a symbol is an error naming it (fail closed), and nothing is left
 * half-loaded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/dlib.h"
#include "util/zlib_dl.h"

static int (*sym_zlibVersion_probe)(void);
static void *sym_no_such_symbol;

static void test_missing_library(void **state)
{
	void *handle = NULL;
	struct al_dl_sym syms[] = {{"zlibVersion", (void **)&sym_zlibVersion_probe}};
	struct al_error err = {0};
	(void)state;

	assert_int_equal(al_dl_load(&handle, "libairlock-absent.so.9", "airlock-absent", syms, 1,
	                            "test", &err),
	                 -ENOENT);
	assert_null(handle);
	assert_null(sym_zlibVersion_probe);
	assert_non_null(strstr(err.msg, "libairlock-absent.so.9"));
	assert_non_null(strstr(err.msg, "Debian package airlock-absent"));
	assert_string_equal(err.stage, "test");
}

static void test_missing_symbol(void **state)
{
	void *handle = NULL;
	struct al_dl_sym syms[] = {{"zlibVersion", (void **)&sym_zlibVersion_probe},
	                           {"al_no_such_symbol", &sym_no_such_symbol}};
	struct al_error err = {0};
	(void)state;

	assert_int_equal(al_dl_load(&handle, "libz.so.1", "zlib1g", syms, 2, "test", &err), -ENOENT);
	assert_null(handle);
	/* the symbols found before the missing one are cleared too */
	assert_null(sym_zlibVersion_probe);
	assert_null(sym_no_such_symbol);
	assert_non_null(strstr(err.msg, "al_no_such_symbol"));
	assert_non_null(strstr(err.msg, "libz.so.1"));
}

static void test_zlib_loads_once(void **state)
{
	struct al_error err = {0};
	z_stream z;
	(void)state;

	assert_false(al_zlib_loaded());
	assert_int_equal(al_zlib_load(&err), 0);
	assert_true(al_zlib_loaded());
	assert_int_equal(al_zlib_load(&err), 0);
	memset(&z, 0, sizeof z);
	assert_int_equal(al_zlib_inflate_init2(&z, 15 + 16), Z_OK);
	assert_int_equal(sym_inflateEnd(&z), Z_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_missing_library),
	    cmocka_unit_test(test_missing_symbol),
	    cmocka_unit_test(test_zlib_loads_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
