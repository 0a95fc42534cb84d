/* The canonical listing (docs/images.md): escaping, order, record formats,
 * the walk over hostile trees, the cache (reused only on an exact identity
 * match; a corrupt or linked cache is ignored) and the drift diff. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"

static char *esc(const char *s, size_t n)
{
	struct al_buf b;
	al_buf_init(&b);
	al_image_escape(&b, s, n);
	return b.data ? b.data : strdup("");
}

static void escaping_is_unambiguous(void **state)
{
	char *e;
	(void)state;
	e = esc("plain/name.txt", 14);
	assert_string_equal(e, "plain/name.txt");
	free(e);
	e = esc("a b\nc%d\x7f\xff", 9);
	assert_string_equal(e, "a%20b%0Ac%25d%7F%FF");
	free(e);
	/* a literal "%0A" in a name cannot be confused with a newline */
	e = esc("x%0A", 4);
	assert_string_equal(e, "x%250A");
	free(e);
}

static void canonical_order_is_by_component(void **state)
{
	(void)state;
	assert_true(al_image_path_cmp("/", "/a") < 0);
	assert_true(al_image_path_cmp("/a", "/a/b") < 0);
	/* '/' sorts before every byte: a directory's subtree comes before its
	 * later siblings ("a/b" before "a-c", though '-' < '/' in ASCII) */
	assert_true(al_image_path_cmp("/a/b", "/a-c") < 0);
	assert_true(al_image_path_cmp("/a/zzz", "/a\x01") < 0);
	assert_true(al_image_path_cmp("/B", "/a") < 0); /* bytewise, not locale */
	assert_true(al_image_path_cmp("/a\xff", "/a/b") > 0);
	assert_int_equal(al_image_path_cmp("/x/y", "/x/y"), 0);
}

static void record_formats(void **state)
{
	struct al_image_entry e = {0};
	struct al_buf b;
	(void)state;

	al_buf_init(&b);
	e.path = (char *)"/bin/su";
	e.type = 'f';
	e.mode = 04755;
	e.uid = 0;
	e.gid = 0;
	e.size = 3;
	memset(e.sha256, 0xab, 32);
	al_image_record(&e, &b);
	assert_string_equal(b.data,
	                    "/bin/su f 4755 0 0 3 "
	                    "abababababababababababababababababababababababababababababababab -\n");
	al_buf_reset(&b);
	e.unreadable = true;
	unsigned char cap[2] = {0x01, 0xfe};
	e.cap = cap;
	e.cap_len = 2;
	al_image_record(&e, &b);
	assert_string_equal(b.data, "/bin/su f 4755 0 0 3 ? 01fe\n");
	al_buf_reset(&b);
	memset(&e, 0, sizeof e);
	e.path = (char *)"/l ink";
	e.type = 'l';
	e.mode = 0777;
	e.uid = 1000;
	e.gid = 100;
	e.target = (char *)"../x\ny";
	al_image_record(&e, &b);
	assert_string_equal(b.data, "/l%20ink l 0777 1000 100 ../x%0Ay\n");
	al_buf_reset(&b);
	memset(&e, 0, sizeof e);
	e.path = (char *)"/dev/null";
	e.type = 'c';
	e.mode = 0666;
	e.rmajor = 1;
	e.rminor = 3;
	al_image_record(&e, &b);
	assert_string_equal(b.data, "/dev/null c 0666 0 0 1,3\n");
	al_buf_reset(&b);
	memset(&e, 0, sizeof e);
	e.path = (char *)"/tmp";
	e.type = 'd';
	e.mode = 01777;
	al_image_record(&e, &b);
	assert_string_equal(b.data, "/tmp d 1777 0 0 -\n");
	al_buf_free(&b);
}

static void digest_syntax(void **state)
{
	(void)state;
	assert_true(al_image_digest_valid(
	    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(al_image_digest_valid(
	    "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(al_image_digest_valid("sha256:0123"));
	assert_false(al_image_digest_valid(
	    "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(al_image_digest_valid(NULL));
}

/* ---- walks over real trees ---- */

static char tmpl[64];
static char cache[64];

static void put(const char *rel, const char *content)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", tmpl, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void sub(const char *rel, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", tmpl, rel);
}

static int setup_tree(void **state)
{
	char p[512];
	(void)state;
	snprintf(tmpl, sizeof tmpl, "/tmp/al-image-unit-XXXXXX");
	snprintf(cache, sizeof cache, "/tmp/al-image-cache-XXXXXX");
	if (mkdtemp(tmpl) == NULL || mkdtemp(cache) == NULL)
		return -1;
	chmod(cache, 0700);
	sub("bin", p, sizeof p);
	mkdir(p, 0755);
	put("bin/tool", "#!/bin/sh\necho tool\n");
	sub("bin/link", p, sizeof p);
	if (symlink("tool", p) < 0)
		return -1;
	return 0;
}

static int teardown_tree(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", tmpl, cache);
	return system(cmd) == 0 ? 0 : -1;
}

static void digest(char out[AL_IMAGE_DIGEST_MAX], struct al_image_stats *stats, bool no_cache)
{
	struct al_image_opts o = {.no_cache = no_cache, .cache_dir = cache};
	struct al_image_tree t = {0};
	struct al_error err = {0};
	int r = al_image_digest_dir(tmpl, &o, &t, &err);
	if (r < 0)
		fail_msg("digest: %s", err.msg);
	memcpy(out, t.digest, AL_IMAGE_DIGEST_MAX);
	if (stats)
		*stats = t.stats;
	al_image_tree_free(&t);
}

/* Make every entry older than the racy window, as if written long ago. */
static void age_tree(void)
{
	char cmd[300];
	/* ctime cannot be set back: wait out the window instead */
	(void)cmd;
	struct timespec ts = {2, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static void walk_changes_and_cache(void **state)
{
	char d0[AL_IMAGE_DIGEST_MAX], d1[AL_IMAGE_DIGEST_MAX], d2[AL_IMAGE_DIGEST_MAX];
	struct al_image_stats st;
	char p[512];
	(void)state;

	digest(d0, NULL, true);
	digest(d1, NULL, false);
	assert_string_equal(d0, d1); /* the cache changes nothing */
	age_tree();
	digest(d1, &st, false); /* recorded, not racy any more */
	digest(d1, &st, false);
	assert_string_equal(d0, d1);
	assert_true(st.all_hit);
	assert_int_equal(st.files_hashed, 0);

	/* content change of the same size: new ctime, so the cache misses */
	put("bin/tool", "#!/bin/sh\necho TOOL\n");
	digest(d2, &st, false);
	assert_string_not_equal(d0, d2);
	assert_false(st.all_hit);
	assert_int_equal(st.files_hashed, 1);
	put("bin/tool", "#!/bin/sh\necho tool\n");
	digest(d2, NULL, false);
	assert_string_equal(d0, d2); /* content, not history */

	/* mode */
	sub("bin/tool", p, sizeof p);
	chmod(p, 0755);
	digest(d2, NULL, false);
	assert_string_not_equal(d0, d2);
	chmod(p, 0644);
	digest(d2, NULL, false);
	assert_string_equal(d0, d2);

	/* symlink retargeted */
	sub("bin/link", p, sizeof p);
	unlink(p);
	assert_int_equal(symlink("other", p), 0);
	digest(d2, NULL, false);
	assert_string_not_equal(d0, d2);
	unlink(p);
	assert_int_equal(symlink("tool", p), 0);
	digest(d2, NULL, false);
	assert_string_equal(d0, d2);

	/* added and removed */
	put("bin/new", "");
	digest(d2, NULL, false);
	assert_string_not_equal(d0, d2);
	sub("bin/new", p, sizeof p);
	unlink(p);
	digest(d2, NULL, false);
	assert_string_equal(d0, d2);
}

/* A warm walk of a large tree (over PREFETCH_MIN_ENTRIES: the second half
 * of the previous walk is stat'ed by a helper thread) gives exactly the
 * digest computed from the bytes, after changes in either half and after a
 * directory of the second half is replaced by another one. */
static void large_warm_walk_matches_the_bytes(void **state)
{
	char d0[AL_IMAGE_DIGEST_MAX], d1[AL_IMAGE_DIGEST_MAX], p[512], q[512];
	struct al_image_stats st;
	(void)state;

	sub("big", p, sizeof p);
	assert_int_equal(mkdir(p, 0755), 0);
	for (int d = 0; d < 12; d++) {
		snprintf(q, sizeof q, "big/d%02d", d);
		sub(q, p, sizeof p);
		assert_int_equal(mkdir(p, 0755), 0);
		for (int f = 0; f < 100; f++) {
			snprintf(q, sizeof q, "big/d%02d/f%03d", d, f);
			put(q, q);
		}
	}
	digest(d0, NULL, true);
	digest(d1, NULL, false);
	age_tree();
	digest(d1, &st, false);
	digest(d1, &st, false);
	assert_string_equal(d0, d1);
	assert_true(st.all_hit);
	assert_true(st.entries > 1200);

	/* a content change in the last directory (the helper's half) and a mode
	 * change in the first: each noticed, each matching the bytes */
	put("big/d11/f099", "big/d11/f09X");
	digest(d1, &st, false);
	assert_int_equal(st.files_hashed, 1);
	digest(d0, NULL, true);
	assert_string_equal(d0, d1);
	sub("big/d00/f000", p, sizeof p);
	chmod(p, 0600);
	digest(d1, NULL, false);
	digest(d0, NULL, true);
	assert_string_equal(d0, d1);

	/* the directory itself replaced by another with the same names */
	sub("big/d11", p, sizeof p);
	sub("big/old11", q, sizeof q);
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	for (int f = 0; f < 100; f++) {
		char rel[64];
		snprintf(rel, sizeof rel, "big/d11/f%03d", f);
		put(rel, f == 50 ? "replaced" : rel);
	}
	digest(d1, NULL, false);
	digest(d0, NULL, true);
	assert_string_equal(d0, d1);
	age_tree();
	digest(d1, &st, false);
	digest(d1, &st, false);
	assert_true(st.all_hit);
	assert_string_equal(d0, d1);
}

/* A cache whose hash of a file is wrong, or that is a symlink, is not used. */
static void hostile_cache_is_ignored(void **state)
{
	char d0[AL_IMAGE_DIGEST_MAX], d1[AL_IMAGE_DIGEST_MAX], path[600], name[128];
	struct stat st;
	struct al_image_stats s;
	char *text;
	(void)state;

	digest(d0, NULL, true);
	age_tree();
	digest(d1, NULL, false);
	stat(tmpl, &st);
	snprintf(name, sizeof name, "tree-%llx-%llx", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	snprintf(path, sizeof path, "%s/images/%s", cache, name);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	fstat(fd, &st);
	text = calloc(1, (size_t)st.st_size + 1);
	assert_int_equal(read(fd, text, (size_t)st.st_size), st.st_size);
	/* flip one hex digit of the first file hash ("bin/link" is a link,
	 * "bin/tool" the file): the trailer no longer matches */
	char *line = strstr(text, "/bin/tool f ");
	assert_non_null(line);
	char *nl = strchr(line, '\n');
	char *h = nl - 66; /* "<64 hex> -" */
	*h = *h == '0' ? '1' : '0';
	assert_int_equal(pwrite(fd, text, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	digest(d1, &s, false);
	assert_string_equal(d0, d1);
	assert_false(s.cache_loaded);

	/* truncated in the middle of a line, or a version 1 file (BLAKE2b
	 * trailer): ignored, and the digest is the same */
	*h = *h == '0' ? '1' : '0'; /* undo the flip */
	fd = open(path, O_RDWR | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, (size_t)st.st_size / 2), st.st_size / 2);
	close(fd);
	digest(d1, &s, false);
	assert_string_equal(d0, d1);
	assert_false(s.cache_loaded);
	assert_true(strncmp(text, "airlock-image-cache 2\n", 22) == 0);
	text[20] = '1';
	fd = open(path, O_RDWR | O_TRUNC | O_CLOEXEC);
	assert_int_equal(write(fd, text, (size_t)st.st_size), st.st_size);
	close(fd);
	digest(d1, &s, false);
	assert_string_equal(d0, d1);
	assert_false(s.cache_loaded);
	text[20] = '2';

	/* a symlink in place of the cache file is not followed */
	unlink(path);
	char target[600];
	snprintf(target, sizeof target, "%s/elsewhere", cache);
	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_int_equal(write(fd, text, (size_t)st.st_size), st.st_size);
	close(fd);
	assert_int_equal(symlink(target, path), 0);
	digest(d1, &s, false);
	assert_string_equal(d0, d1);
	assert_false(s.cache_loaded);
	unlink(path);
	free(text);
}

static void hostile_trees(void **state)
{
	char d0[AL_IMAGE_DIGEST_MAX], p[600];
	struct al_image_opts o = {.no_cache = true};
	struct al_image_tree t = {0};
	struct al_error err = {0};
	struct al_buf b;
	(void)state;

	/* links are recorded, never followed: a loop and a link out */
	sub("loop1", p, sizeof p);
	assert_int_equal(symlink("loop2", p), 0);
	sub("loop2", p, sizeof p);
	assert_int_equal(symlink("loop1", p), 0);
	sub("out", p, sizeof p);
	assert_int_equal(symlink("/etc", p), 0);
	put("new\nline", "x");
	assert_int_equal(al_image_digest_dir(tmpl, &o, &t, &err), 0);
	al_buf_init(&b);
	al_image_listing(&t, &b);
	assert_non_null(strstr(b.data, "\n/loop1 l 0777 "));
	assert_non_null(strstr(b.data, "\n/out l 0777 "));
	assert_null(strstr(b.data, "/out/")); /* not followed */
	assert_non_null(strstr(b.data, "\n/new%0Aline f 0644 "));
	/* exactly one line per entry: the header plus t.n records */
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	assert_int_equal(lines, t.n + 1);
	al_buf_free(&b);
	al_image_tree_free(&t);

	/* nesting deeper than the bound is refused */
	int fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int i = 0; i < AL_IMAGE_MAX_DEPTH + 5; i++) {
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		int nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = nfd;
	}
	close(fd);
	memset(&err, 0, sizeof err);
	assert_true(al_image_digest_dir(tmpl, &o, &t, &err) < 0);
	assert_non_null(strstr(err.msg, "nested deeper"));
	(void)d0;
}

static void listing_diff_names_paths(void **state)
{
	const char *a = "airlock-image-listing 1\n"
	                "/ d 0755 0 0 -\n"
	                "/a f 0644 0 0 1 aa -\n"
	                "/b l 0777 0 0 x\n"
	                "/c f 0644 0 0 1 cc -\n"
	                "/gone f 0644 0 0 1 dd -\n";
	const char *b = "airlock-image-listing 1\n"
	                "/ d 0755 0 0 -\n"
	                "/a f 0755 0 0 1 aa -\n"
	                "/b l 0777 0 0 y\n"
	                "/c f 0644 0 0 1 ce -\n"
	                "/new%0Aname f 0644 0 0 1 ee -\n";
	struct al_buf out;
	(void)state;

	al_buf_init(&out);
	size_t n = al_image_listing_diff(a, strlen(a), b, strlen(b), 10, ", ", &out);
	assert_int_equal(n, 5);
	assert_string_equal(out.data,
	                    "changed /a (mode), changed /b (target), changed /c (content), "
	                    "removed /gone, added /new%0Aname");
	al_buf_reset(&out);
	n = al_image_listing_diff(a, strlen(a), b, strlen(b), 2, ", ", &out);
	assert_int_equal(n, 5);
	assert_non_null(strstr(out.data, "(and 3 more)"));
	al_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escaping_is_unambiguous),
	    cmocka_unit_test(canonical_order_is_by_component),
	    cmocka_unit_test(record_formats),
	    cmocka_unit_test(digest_syntax),
	    cmocka_unit_test_setup_teardown(walk_changes_and_cache, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(hostile_cache_is_ignored, setup_tree, teardown_tree),
	    cmocka_unit_test_setup_teardown(large_warm_walk_matches_the_bytes, setup_tree,
	                                    teardown_tree),
	    cmocka_unit_test_setup_teardown(hostile_trees, setup_tree, teardown_tree),
	    cmocka_unit_test(listing_diff_names_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
