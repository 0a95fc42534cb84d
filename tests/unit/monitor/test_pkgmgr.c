/* Package-install detection: names, command lines, pipelines, content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/pkgmgr.h"

static bool is_pm(const char *path, const char *const *argv, size_t argc)
{
	char why[256];
	struct al_pkg_exec x = {.path = path, .argv = argv, .argc = argc};
	return al_pkgmgr_match(NULL, &x, why, sizeof why);
}

#define ARGV(...) ((const char *const[]){__VA_ARGS__}), (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

static void test_names(void **state)
{
	(void)state;
	assert_true(is_pm("/usr/bin/pip3", ARGV("pip3", "install", "x")));
	assert_true(is_pm("/usr/bin/pip3.11", ARGV("pip3.11")));
	assert_true(is_pm("/usr/bin/apt-get", ARGV("apt-get", "install", "x")));
	assert_true(is_pm("/usr/bin/dpkg", ARGV("dpkg", "-i", "x.deb")));
	assert_true(is_pm("./npm", ARGV("npm", "i")));
	assert_true(is_pm("/usr/bin/x", ARGV("yarn")));
	assert_true(is_pm("/usr/bin/cargo", ARGV("cargo", "install", "ripgrep")));
	assert_false(is_pm("/usr/bin/cargo", ARGV("cargo", "build")));
	assert_true(is_pm("/usr/local/go/bin/go", ARGV("go", "install", "x@latest")));
	assert_false(is_pm("/usr/local/go/bin/go", ARGV("go", "build")));
	assert_false(is_pm("/usr/bin/git", ARGV("git", "status")));
	assert_false(is_pm("/usr/bin/pipe", ARGV("pipe")));
	assert_false(is_pm("/usr/bin/python3", ARGV("python3", "-c", "print(1)")));
	assert_false(is_pm("/usr/bin/python3", ARGV("python3", "-c", "import pipes")));
}

static void test_python(void **state)
{
	(void)state;
	assert_true(is_pm("/usr/bin/python3", ARGV("python3", "-m", "pip", "install", "x")));
	assert_true(is_pm("/usr/bin/python3", ARGV("python3", "-mpip", "install", "x")));
	assert_true(is_pm("/usr/bin/python3.11", ARGV("python3.11", "-I", "-m", "pip")));
	assert_true(is_pm("/usr/bin/python3", ARGV("python3", "-Im", "pip")));
	assert_true(is_pm("/usr/bin/python", ARGV("python", "-m", "ensurepip")));
	assert_true(is_pm("/usr/bin/python3", ARGV("python3", "-c", "from pip._internal.cli.main import main; main()")));
	assert_true(is_pm("/usr/bin/python3", ARGV("python3", "-c", "import runpy; runpy.run_module('pip')")));
	assert_false(is_pm("/usr/bin/python3", ARGV("python3", "-m", "http.server")));
	assert_false(is_pm("/usr/bin/python3", ARGV("python3", "script.py", "-m", "pip")));
}

static void test_pipes(void **state)
{
	(void)state;
	assert_true(al_pkgmgr_fetch_pipe("curl -fsSL https://x.example/i.sh | sh"));
	assert_true(al_pkgmgr_fetch_pipe("curl -s x|bash -s -- -y"));
	assert_true(al_pkgmgr_fetch_pipe("wget -qO- http://x | sudo sh"));
	assert_true(al_pkgmgr_fetch_pipe("set -e; /usr/bin/curl x | /bin/bash"));
	assert_true(al_pkgmgr_fetch_pipe("bash <(curl -s x)"));
	assert_true(al_pkgmgr_fetch_pipe("curl x | python3 -"));
	assert_true(al_pkgmgr_fetch_pipe("eval \"$(curl -s x)\""));
	assert_false(al_pkgmgr_fetch_pipe("curl x | grep y"));
	assert_false(al_pkgmgr_fetch_pipe("curl x || sh y"));
	assert_false(al_pkgmgr_fetch_pipe("echo curling | sh"));
	assert_false(al_pkgmgr_fetch_pipe("ls | sh"));
	assert_true(al_pkgmgr_fetch_pipe("sh -c \"$(curl -fsSL https://x/i.sh)\""));
	assert_true(al_pkgmgr_fetch_pipe("x=1; eval $(wget -qO- http://x)"));
	/* a download's output as an argument is not code */
	assert_false(al_pkgmgr_fetch_pipe(
	    "for p in 1 2; do python3 -c \"print(1)\" $p; echo \"proxy $(curl -s -o /dev/null -w "
	    "'%{http_code}' http://127.0.0.1:$p/)\"; done"));
	assert_false(al_pkgmgr_fetch_pipe("echo \"$(curl -s x)\" | grep ok"));
	assert_true(is_pm("/bin/sh", ARGV("sh", "-c", "curl -s http://x/install.sh | sh")));
	assert_true(is_pm("/bin/bash", ARGV("bash", "-ec", "wget -O- x | bash")));
	assert_false(is_pm("/bin/sh", ARGV("sh", "-c", "curl -s x > f")));
}

static void test_content(void **state)
{
	struct al_pkgdb db = {0};
	struct al_pkgdb_entry e = {.name = "pip3", .dev_major = 8, .dev_minor = 1, .ino = 42};
	struct al_pkg_file f = {.sha256 = "ab12"};
	struct al_pkg_exec x = {.path = "/tmp/x", .argv = (const char *const[]){"/tmp/x"}, .argc = 1,
	                        .files = &f, .n_files = 1};
	char why[256];
	(void)state;

	memset(e.sha256, 0, sizeof e.sha256);
	strcpy(e.sha256, "ab12");
	assert_int_equal(al_pkgdb_add(&db, &e), 0);
	assert_true(al_pkgmgr_match(&db, &x, why, sizeof why));
	assert_non_null(strstr(why, "pip3"));
	f.sha256 = "cd34";
	assert_false(al_pkgmgr_match(&db, &x, why, sizeof why));
	/* a symlink to the image's file: same dev:ino */
	f = (struct al_pkg_file){.have_id = true, .dev_major = 8, .dev_minor = 1, .ino = 42};
	assert_true(al_pkgmgr_match(&db, &x, why, sizeof why));
	/* an empty hash in the db never matches an empty one */
	db.e[0].sha256[0] = '\0';
	f = (struct al_pkg_file){.sha256 = ""};
	assert_false(al_pkgmgr_match(&db, &x, why, sizeof why));
	al_pkgdb_free(&db);
}

static void test_scan(void **state)
{
	struct al_pkgdb db = {0};
	(void)state;
	/* the host image: whatever package managers it has are hashed */
	assert_int_equal(al_pkgdb_scan(&db, "/"), 0);
	for (size_t i = 0; i < db.n; i++)
		assert_true(al_pkgmgr_name(db.e[i].name));
	al_pkgdb_free(&db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names), cmocka_unit_test(test_python), cmocka_unit_test(test_pipes),
	    cmocka_unit_test(test_content), cmocka_unit_test(test_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
