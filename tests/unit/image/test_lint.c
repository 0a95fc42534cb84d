/* The lint classifiers: which names in a bin directory are compilers,
 * interpreters, package managers, network tools, shells; which contents are
 * secrets; and the findings of a walked tree (setuid, world-writable). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"

static int cat(const char *name)
{
	const char *why = NULL;
	int c = al_lint_classify_tool(name, &why);
	if (c >= 0)
		assert_non_null(why);
	return c;
}

static void tools_are_classified(void **state)
{
	(void)state;
	const char *compilers[] = {"cc",       "gcc",
	                           "gcc-12",   "x86_64-linux-gnu-gcc-12",
	                           "g++",      "clang",
	                           "clang-16", "ld",
	                           "ld.bfd",   "x86_64-linux-gnu-ld",
	                           "as",       "make",
	                           "cmake",    "rustc",
	                           "go",       "tcc"};
	const char *interp[] = {"python", "python3", "python3.11", "perl",   "perl5.36.0", "ruby",
	                        "node",   "nodejs",  "lua5.4",     "php8.2", "awk"};
	const char *pkg[] = {"apt", "apt-get", "dpkg",  "pip",   "pip3", "pip3.11",
	                     "npm", "gem",     "cargo", "conda", "yum",  "apk"};
	const char *net[] = {"curl", "wget", "nc",    "nc.openbsd", "ncat",
	                     "ssh",  "scp",  "socat", "telnet",     "ftp"};
	const char *shells[] = {"sh", "bash", "dash", "zsh", "busybox"};
	const char *none[] = {"ls",   "cat",     "true",  "python-config-helper-not",
	                      "gccx", "ssh-add", "lsblk", "env",
	                      "ld.so", "ld.so.1"}; /* the dynamic loader is not a linker */

	for (size_t i = 0; i < sizeof compilers / sizeof *compilers; i++)
		assert_int_equal(cat(compilers[i]), AL_LINT_COMPILERS);
	for (size_t i = 0; i < sizeof interp / sizeof *interp; i++)
		assert_int_equal(cat(interp[i]), AL_LINT_INTERPRETERS);
	for (size_t i = 0; i < sizeof pkg / sizeof *pkg; i++)
		assert_int_equal(cat(pkg[i]), AL_LINT_PACKAGE_MANAGERS);
	for (size_t i = 0; i < sizeof net / sizeof *net; i++)
		assert_int_equal(cat(net[i]), AL_LINT_NETWORK_TOOLS);
	for (size_t i = 0; i < sizeof shells / sizeof *shells; i++)
		assert_int_equal(cat(shells[i]), AL_LINT_SHELLS);
	for (size_t i = 0; i < sizeof none / sizeof *none; i++)
		assert_int_equal(cat(none[i]), -1);
}

static void categories_round_trip(void **state)
{
	enum al_lint_category c;
	(void)state;
	for (int i = 0; i < AL_LINT_N_CATEGORIES; i++) {
		assert_int_equal(
		    al_lint_category_parse(al_lint_category_name((enum al_lint_category)i), &c), 0);
		assert_int_equal(c, i);
	}
	assert_int_equal(al_lint_category_parse("package-managers", &c), 0);
	assert_int_equal(c, AL_LINT_PACKAGE_MANAGERS);
	assert_true(al_lint_category_parse("compiler", &c) < 0);
}

static bool secret(const char *name, const char *data)
{
	const char *why;
	return al_lint_content_is_secret(name, data, strlen(data), &why);
}

static void secrets_by_content(void **state)
{
	(void)state;
	assert_true(secret("key.pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n"));
	assert_true(secret("anything", "junk\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n"));
	assert_true(secret("x", "-----BEGIN PRIVATE KEY-----\n"));
	assert_false(secret("cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n"));
	assert_false(secret("pub", "-----BEGIN PUBLIC KEY-----\n"));
	assert_true(secret(".env", "DEBUG=1\nAWS_SECRET_ACCESS_KEY=abc\n"));
	assert_true(secret(".env", "export API_TOKEN=xyz\n"));
	assert_true(secret(".env.local", "db_password=hunter2\n"));
	assert_false(secret(".env", "DEBUG=1\nPORT=8080\n"));
	assert_false(secret(".env", "API_KEY=\n"));      /* empty value */
	assert_false(secret("config", "API_KEY=abc\n")); /* only .env files by name */
	assert_true(secret(".npmrc", "//registry.npmjs.org/:_authToken=abc\n"));
}

static void tree_findings(void **state)
{
	char root[] = "/tmp/al-lint-unit-XXXXXX", p[256];
	struct al_image_opts o = {.no_cache = true};
	struct al_image_tree t = {0};
	struct al_lint_report rep = {0};
	struct al_error err = {0};
	bool seen_gcc = false, seen_suid = false, seen_ww = false, seen_wws = false,
	     seen_key = false, seen_rsa = false, seen_data = false;
	(void)state;

	assert_non_null(mkdtemp(root));
#define MK(rel, mode, content)                                                                     \
	do {                                                                                       \
		snprintf(p, sizeof p, "%s/%s", root, rel);                                         \
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);                            \
		assert_true(fd >= 0);                                                              \
		assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));   \
		close(fd);                                                                         \
		chmod(p, mode);                                                                    \
	} while (0)
	snprintf(p, sizeof p, "%s/usr", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/usr/bin", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/data", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/pub", root);
	mkdir(p, 0777);
	chmod(p, 0777);
	snprintf(p, sizeof p, "%s/tmp", root);
	mkdir(p, 0777);
	chmod(p, 01777);
	MK("usr/bin/gcc-12", 0755, "ELF");
	MK("usr/bin/passwd", 04755, "ELF");
	MK("data/gcc", 0755, "not in a bin dir");
	MK("data/stray", 0644, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n");
	MK("data/id_rsa", 0600, "whatever");
	assert_int_equal(al_image_digest_dir(root, &o, &t, &err), 0);
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(al_lint_tree(rootfd, &t, &rep, &err), 0);
	close(rootfd);
	for (size_t i = 0; i < rep.n; i++) {
		const struct al_lint_finding *f = &rep.f[i];
		if (strcmp(f->path, "/usr/bin/gcc-12") == 0 && f->category == AL_LINT_COMPILERS)
			seen_gcc = true;
		if (strcmp(f->path, "/usr/bin/passwd") == 0 && f->category == AL_LINT_SETUID)
			seen_suid = true;
		if (strcmp(f->path, "/pub") == 0 && f->category == AL_LINT_WORLD_WRITABLE &&
		    strcmp(f->severity, "high") == 0)
			seen_ww = true;
		if (strcmp(f->path, "/tmp") == 0 && f->category == AL_LINT_WORLD_WRITABLE &&
		    strcmp(f->severity, "low") == 0)
			seen_wws = true;
		if (strcmp(f->path, "/data/stray") == 0 && f->category == AL_LINT_CREDENTIALS)
			seen_key = true;
		if (strcmp(f->path, "/data/id_rsa") == 0 && f->category == AL_LINT_CREDENTIALS)
			seen_rsa = true;
		if (strcmp(f->path, "/data/gcc") == 0)
			seen_data = true;
	}
	assert_true(seen_gcc);
	assert_true(seen_suid);
	assert_true(seen_ww);
	assert_true(seen_wws);
	assert_true(seen_key);
	assert_true(seen_rsa);
	assert_false(seen_data); /* only executables in bin directories are tools */
	al_lint_report_free(&rep);
	al_image_tree_free(&t);
	snprintf(p, sizeof p, "rm -rf '%s'", root);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tools_are_classified),
	    cmocka_unit_test(categories_round_trip),
	    cmocka_unit_test(secrets_by_content),
	    cmocka_unit_test(tree_findings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
