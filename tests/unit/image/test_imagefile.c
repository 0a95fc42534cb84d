/* The image file of `airlock image build` (src/image/imagefile.c): a good
 * file parses to what it says; hostile or mistaken ones are refused with
 * file:line:col, and nothing outside the narrow alphabets gets through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/imagefile.h"

static int parse(const char *text, struct al_imagefile *f, struct al_error *err)
{
	memset(err, 0, sizeof *err);
	return al_imagefile_parse("img.yaml", text, strlen(text), f, err);
}

static void a_full_file_parses(void **state)
{
	struct al_imagefile f;
	struct al_error err;
	(void)state;
	const char *text = "suite: bookworm\n"
	                   "base: busybox\n"
	                   "packages: [python3-minimal, libc6=2.36-9+deb12u4]\n"
	                   "files:\n"
	                   "  - {path: /etc/motd, content: \"hi\\n\", mode: 0600, uid: 0}\n"
	                   "users:\n"
	                   "  - {name: agent, uid: 1000}\n"
	                   "forbid: [compilers, package-managers]\n"
	                   "name: tools/py:1\n"
	                   "epoch: 1700000000\n";
	assert_int_equal(parse(text, &f, &err), 0);
	assert_string_equal(f.suite, "bookworm");
	assert_int_equal(f.npackages, 2);
	assert_string_equal(f.packages[1], "libc6=2.36-9+deb12u4");
	assert_int_equal(f.nfiles, 1);
	assert_string_equal(f.files[0].path, "/etc/motd");
	assert_int_equal(f.files[0].len, 3);
	assert_int_equal(f.files[0].mode, 0600); /* always octal */
	assert_int_equal(f.nusers, 1);
	assert_int_equal(f.users[0].gid, 1000);
	assert_string_equal(f.users[0].home, "/home/agent");
	assert_true(f.forbid[AL_LINT_COMPILERS] && f.forbid[AL_LINT_PACKAGE_MANAGERS]);
	assert_false(f.forbid[AL_LINT_SHELLS]);
	assert_string_equal(f.name, "tools/py:1");
	assert_int_equal(f.epoch, 1700000000);
	al_imagefile_free(&f);
}

static void refused(const char *text, const char *want)
{
	struct al_imagefile f;
	struct al_error err;
	int r = parse(text, &f, &err);
	if (r == 0 || strstr(err.msg, want) == NULL)
		fail_msg("'%s': got %d '%s', wanted an error with '%s'", text, r, err.msg, want);
	assert_int_equal(f.npackages, 0); /* nothing left behind */
}

static void hostile_and_mistaken_files_are_refused(void **state)
{
	(void)state;
	refused("packages: [xz-utils]\n", "suite: is required");
	refused("suite: bookworm\nsuit: x\n", "img.yaml:2:1: unknown key 'suit'");
	refused("suite: bookworm\nsuite: trixie\n", "given twice");
	refused("suite: \"book worm\"\n", "suite:");
	refused("suite: bookworm\npackages: [\"--allow-unauthenticated\"]\n", "not a Debian package");
	refused("suite: bookworm\npackages: [\"a b\"]\n", "not a Debian package");
	refused("suite: bookworm\npackages: [\"python3; rm -rf /\"]\n", "not a Debian package");
	refused("suite: bookworm\npackages: [\"?priority(required)\"]\n", "not a Debian package");
	refused("suite: bookworm\npackages: [x11, x11]\n", "listed twice");
	refused("suite: bookworm\nfiles: [{path: /etc/../../x, content: a}]\n", "files.path");
	refused("suite: bookworm\nfiles: [{path: etc/x, content: a}]\n", "files.path");
	refused("suite: bookworm\nfiles: [{path: \"/etc/a b\", content: a}]\n", "files.path");
	refused("suite: bookworm\nfiles: [{path: /x, content: a, mode: 4755}]\n", "setuid");
	refused("suite: bookworm\nfiles: [{path: /x, content: a, mode: 0999}]\n", "octal");
	refused("suite: bookworm\nfiles: [{path: /x}]\n", "needs a path and a content");
	refused("suite: bookworm\nusers: [{name: root, uid: 0}]\n", "uid 0");
	refused("suite: bookworm\nusers: [{name: \"Agent!\", uid: 5}]\n", "users.name");
	refused("suite: bookworm\nusers: [{name: a, uid: 5}, {name: b, uid: 5}]\n", "twice");
	refused("suite: bookworm\nforbid: [compiler]\n", "unknown category 'compiler'");
	refused("suite: bookworm\nname: \"../x:1\"\n", "name:");
	refused("suite: &a bookworm\n", "anchors");
	refused("suite: !!str bookworm\n", "tags");
	refused("suite: bookworm\n---\nsuite: trixie\n", "single YAML document");
	refused("suite: [[[[[[[[[[[[x]]]]]]]]]]]]\n", "nested deeper");
	refused("suite: bookworm\x01\n", "U+0001");
	refused("suite: \xc3\x28\n", "UTF-8");
	refused("suite: bookworm\nepoch: -1\n", "epoch");
	refused("- a\n", "a mapping");
}

static void bounds_hold(void **state)
{
	(void)state;
	struct al_buf b;
	al_buf_init(&b);
	al_buf_puts(&b, "suite: bookworm\npackages:\n");
	for (int i = 0; i <= AL_IMAGEFILE_MAX_PACKAGES; i++)
		al_buf_printf(&b, "  - p%d\n", i);
	refused(b.data, "packages: more than");
	al_buf_reset(&b);
	al_buf_puts(&b, "suite: bookworm\nfiles:\n");
	for (int i = 0; i < 3; i++) {
		al_buf_printf(&b, "  - path: /f%d\n    content: \"", i);
		for (int k = 0; k < AL_IMAGEFILE_MAX_CONTENT / 2; k++)
			al_buf_puts(&b, "x");
		al_buf_puts(&b, "\"\n");
	}
	refused(b.data, "larger than"); /* the whole file is bounded first */
	al_buf_free(&b);
}

static void alphabets(void **state)
{
	(void)state;
	assert_true(al_imagefile_package_valid("python3-minimal"));
	assert_true(al_imagefile_package_valid("g++"));
	assert_true(al_imagefile_package_valid("libc6=2.36-9+deb12u4"));
	assert_true(al_imagefile_package_valid("busybox=1:1.35.0-4"));
	assert_false(al_imagefile_package_valid("-x"));
	assert_false(al_imagefile_package_valid("a"));
	assert_false(al_imagefile_package_valid("Python3"));
	assert_false(al_imagefile_package_valid("a=b"));
	assert_false(al_imagefile_package_valid("a=1 2"));
	assert_false(al_imagefile_package_valid("pkg/bookworm"));
	assert_true(al_imagefile_path_valid("/usr/local/bin/task.py"));
	assert_false(al_imagefile_path_valid("/"));
	assert_false(al_imagefile_path_valid("/a/"));
	assert_false(al_imagefile_path_valid("/a//b"));
	assert_false(al_imagefile_path_valid("/a/./b"));
	assert_false(al_imagefile_path_valid("/a/.."));
	assert_false(al_imagefile_path_valid("/a\nb"));
	assert_true(al_imagefile_path_valid("/a/..b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_full_file_parses),
	    cmocka_unit_test(hostile_and_mistaken_files_are_refused),
	    cmocka_unit_test(bounds_hold),
	    cmocka_unit_test(alphabets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
