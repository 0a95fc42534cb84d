/* Package-install detection: names, command lines, pipelines, content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* al_pkgmgr_name's first-letter filter keeps every name it knows */
static void test_every_name(void **state)
{
	static const char *const all[] = {
	    "apt", "apt-get", "dpkg", "aptitude", "pip", "pip3", "uv", "npm", "yarn", "pnpm", "gem",
	    "conda", "mamba", "micromamba", "easy_install", "pipx", "npx", "poetry", "pdm",
	    "pip3.11", "pip-3.11", "pip2.7", "easy_install-3.11", "gem3.1", "npm9"};
	(void)state;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		assert_true(al_pkgmgr_name(all[i]));
	assert_false(al_pkgmgr_name(""));
	assert_false(al_pkgmgr_name("bash"));
	assert_false(al_pkgmgr_name("zpip"));
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
	/* the host image: whatever package managers it has are noted */
	assert_int_equal(al_pkgdb_scan(&db, "/"), 0);
	for (size_t i = 0; i < db.n; i++)
		assert_true(al_pkgmgr_name(db.e[i].name));
	al_pkgdb_free(&db);
}

static void put(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The scan reads no file's content: hashing every package manager cost each
 * run 2-12 ms. A file is hashed only when an exec of a hashed file of the
 * same size asks, once; the content match still works. */
static void test_scan_hashes_lazily(void **state)
{
	char root[] = "/tmp/airlock-pkgdb-XXXXXX", p[256], why[256];
	struct al_pkgdb db = {0};
	/* some other file's hash */
	static const char sha[] = "4c8ba9a4efb2e8e8a4a7e0dcc9a2f3d0de4b2a0a5fbb65e1e0d1a2b3c4d5e6f7";
	(void)state;

	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof p, "%s/usr", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/usr/bin", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/usr/bin/pip3", root);
	put(p, "#!/usr/bin/python3\nimport pip\n");
	snprintf(p, sizeof p, "%s/usr/bin/dpkg", root);
	put(p, "a different, longer file: not the same size at all\n");
	snprintf(p, sizeof p, "%s/bin", root);
	assert_int_equal(symlink("usr/bin", p), 0); /* merged /usr: read once */

	assert_int_equal(al_pkgdb_scan(&db, root), 0);
	assert_int_equal(db.n, 2);
	assert_int_equal(db.bytes_hashed, 0);
	for (size_t i = 0; i < db.n; i++) {
		assert_false(db.e[i].hashed);
		assert_string_equal(db.e[i].sha256, "");
	}

	/* an image file (no hash in the record): nothing hashed */
	struct al_pkg_file f = {.have_id = true, .dev_major = 1, .dev_minor = 2, .ino = 3};
	al_pkgdb_hash_for(&db, &f, 1);
	assert_int_equal(db.bytes_hashed, 0);

	/* a hashed copy of another size: nothing hashed */
	f = (struct al_pkg_file){.sha256 = sha, .size = 5, .have_size = true};
	al_pkgdb_hash_for(&db, &f, 1);
	assert_int_equal(db.bytes_hashed, 0);

	/* a byte-for-byte copy of pip3 (its real hash, computed by the db) */
	f.size = strlen("#!/usr/bin/python3\nimport pip\n");
	al_pkgdb_hash_for(&db, &f, 1);
	assert_int_equal(db.bytes_hashed, f.size); /* pip3 only, not dpkg */
	size_t ip = strcmp(db.e[0].name, "pip3") == 0 ? 0 : 1;
	assert_true(db.e[ip].hashed);
	assert_false(db.e[1 - ip].hashed);
	assert_int_equal(strlen(db.e[ip].sha256), 64);
	f.sha256 = db.e[ip].sha256;
	struct al_pkg_exec x = {.path = "/tmp/x", .argv = (const char *const[]){"/tmp/x"},
	                        .argc = 1, .files = &f, .n_files = 1};
	assert_true(al_pkgmgr_match(&db, &x, why, sizeof why));
	assert_non_null(strstr(why, "same content as the image's package manager pip3"));
	/* once: asking again hashes nothing more */
	al_pkgdb_hash_for(&db, &f, 1);
	assert_int_equal(db.bytes_hashed, f.size);

	al_pkgdb_free(&db);
	snprintf(p, sizeof p, "rm -rf '%s'", root);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names), cmocka_unit_test(test_every_name), cmocka_unit_test(test_python), cmocka_unit_test(test_pipes),
	    cmocka_unit_test(test_content), cmocka_unit_test(test_scan),
	    cmocka_unit_test(test_scan_hashes_lazily),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
