/* `airlock image digest|lint`: thin front ends over src/image. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/fdutil.h"
#include "util/timeutil.h"

enum {
	IMG_LINT_FINDINGS = 1,
	IMG_LINT_FORBIDDEN = 2,
	IMG_LINT_ERROR = 3,
	IMG_DIGEST_ERROR = 1,
	IMG_USAGE = 125,
};

static void usage(FILE *out)
{
	fputs("usage: airlock image digest [--no-cache] [--json | --listing] DIR|host|IMAGE\n"
	      "       airlock image lint [--json] [--forbid CATEGORY,...] [--no-cache] DIR|IMAGE\n"
	      "       airlock image build [--name NAME:TAG] [--json] FILE\n"
	      "       airlock image import FILE|DIR [--name NAME:TAG]\n"
	      "       airlock image ls [--json]\n"
	      "       airlock image inspect IMAGE|DIR\n"
	      "       airlock image rm IMAGE\n"
	      "       airlock image diff A B\n"
	      "       airlock image verify IMAGE\n"
	      "\n"
	      "IMAGE is NAME:TAG or sha256:HEX in the local store.\n"
	      "\n"
	      "digest   print the image digest (sha256:...), to pin with image_digest: or\n"
	      "         --image-digest; --listing prints the canonical listing it hashes\n"
	      "         (docs/images.md). Exit: 0, 1 the image cannot be read, 125 usage.\n"
	      "lint     list the attack surface: compilers, interpreters, package-managers,\n"
	      "         network-tools, shells, setuid, capabilities, world-writable, devices,\n"
	      "         credentials. --forbid makes the named categories errors.\n"
	      "         Exit: 0 no findings, 1 findings, 2 findings in a forbidden category,\n"
	      "         3 the image cannot be read, 125 usage.\n"
	      "build    a Debian image from an image file (suite, packages, files, users,\n"
	      "         forbid; docs/images.md) with mmdebstrap, into the store; refused\n"
	      "         when a category of its forbid list is present. Exit: 0, 1 failed\n"
	      "         or refused, 125 usage.\n"
	      "import   a docker-archive or OCI archive (plain tar: docker/podman save) or an OCI\n"
	      "         layout directory, into the store (docs/images.md). Exit: 0, 1 refused or\n"
	      "         failed, 125 usage. ls, inspect, rm: 0, 1 failed, 125 usage.\n"
	      "diff     files added, removed and changed, and packages changed, between two\n"
	      "         images or directories. Exit: 0 the same, 1 different, 2 cannot be read.\n"
	      "verify   recompute a stored image's digest from its bytes (no cache) and compare\n"
	      "         it with the digest it is stored under. Exit: 0 intact, 1 changed,\n"
	      "         2 cannot be read.\n",
	      out);
}

/* A store reference becomes its directory; anything else is used as is. */
static const char *image_dir(const char *image, char *buf, size_t len)
{
	char digest[AL_IMAGE_DIGEST_MAX];
	struct al_error err = {0};

	if (!al_image_ref_is_store(image))
		return image;
	if (al_image_resolve(image, buf, len, digest, &err) < 0) {
		char msg[700];
		fprintf(stderr, "airlock: image: %s\n", al_error_format(&err, msg, sizeof msg));
		return NULL;
	}
	return buf;
}

static void print_json(const char *s)
{
	fputs(s, stdout);
	fputc('\n', stdout);
}

static int cmd_digest(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"no-cache", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"listing", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct al_image_opts o = {0};
	struct al_error err = {0};
	bool json = false, listing = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.no_cache = true;
			break;
		case 'j':
			json = true;
			break;
		case 'l':
			listing = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return IMG_USAGE;
		}
	}
	if (optind != argc - 1 || (json && listing)) {
		usage(stderr);
		return IMG_USAGE;
	}
	char resolved[4096];
	const char *image = image_dir(argv[optind], resolved, sizeof resolved);
	if (image == NULL)
		return IMG_DIGEST_ERROR;
	uint64_t t0 = al_mono_ns();
	struct al_image_tree t = {0};
	struct al_buf b;
	char digest[AL_IMAGE_DIGEST_MAX];
	int r;

	al_buf_init(&b);
	if (strcmp(image, "host") == 0) {
		r = al_image_digest_host(&o, digest, &b, &err);
	} else {
		r = al_image_digest_dir(image, &o, &t, &err);
		if (r == 0) {
			memcpy(digest, t.digest, sizeof digest);
			if (listing)
				r = al_image_listing(&t, &b) < 0 ? -ENOMEM : 0;
		}
	}
	uint64_t t1 = al_mono_ns();
	if (r < 0) {
		char msg[700];
		fprintf(stderr, "airlock: image digest: %s\n",
		        al_error_format(&err, msg, sizeof msg));
		al_buf_free(&b);
		al_image_tree_free(&t);
		return IMG_DIGEST_ERROR;
	}
	if (listing) {
		al_write_all(1, b.data, b.len);
	} else if (json) {
		struct al_buf jb;
		struct al_json j;
		al_buf_init(&jb);
		al_json_init(&j, &jb);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "image", image);
		al_json_kv_str(&j, "kind", strcmp(image, "host") == 0 ? "host" : "tree");
		al_json_kv_str(&j, "digest", digest);
		al_json_kv_uint(&j, "elapsed_ns", t1 - t0);
		if (strcmp(image, "host") != 0) {
			al_json_kv_uint(&j, "entries", t.stats.entries);
			al_json_kv_uint(&j, "files_hashed", t.stats.files_hashed);
			al_json_kv_uint(&j, "bytes_hashed", t.stats.bytes_hashed);
			al_json_kv_uint(&j, "cache_hits", t.stats.cache_hits);
			al_json_kv_uint(&j, "dirs_read", t.stats.dirs_read);
			al_json_kv_uint(&j, "dirs_reused", t.stats.dirs_reused);
			al_json_kv_bool(&j, "cache_loaded", t.stats.cache_loaded);
			al_json_kv_bool(&j, "cache_written", t.stats.cache_written);
			al_json_kv_bool(&j, "unchanged", t.stats.all_hit);
		}
		al_json_obj_end(&j);
		print_json(jb.data);
		al_buf_free(&jb);
	} else {
		printf("%s\n", digest);
	}
	al_buf_free(&b);
	al_image_tree_free(&t);
	return 0;
}

static int parse_forbid(const char *list, bool forbid[AL_LINT_N_CATEGORIES])
{
	_cleanup_free_ char *copy = strdup(list);
	char *save = NULL, *tok;

	if (copy == NULL)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum al_lint_category c;
		if (al_lint_category_parse(tok, &c) < 0) {
			fprintf(stderr, "airlock: image lint: unknown category '%s'\n", tok);
			return -EINVAL;
		}
		forbid[c] = true;
	}
	return 0;
}

static void print_table(const struct al_lint_report *rep, const bool forbid[])
{
	struct al_buf b;

	al_buf_init(&b);
	printf("%-8s %-16s %-40s %s\n", "SEVERITY", "CATEGORY", "PATH", "REASON");
	for (size_t i = 0; i < rep->n; i++) {
		const struct al_lint_finding *f = &rep->f[i];
		al_buf_reset(&b);
		/* hostile names (newlines, escapes) print escaped, as in the listing */
		al_image_escape(&b, f->path, strlen(f->path));
		printf("%-8s %-16s %-40s %s%s\n", forbid[f->category] ? "FORBID" : f->severity,
		       al_lint_category_name(f->category), b.data ? b.data : "", f->reason,
		       forbid[f->category] ? " [forbidden]" : "");
	}
	printf("%zu finding%s in %zu entries\n", rep->n, rep->n == 1 ? "" : "s", rep->scanned);
	al_buf_free(&b);
}

static int cmd_lint(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"forbid", required_argument, NULL, 'f'},
	    {"no-cache", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool forbid[AL_LINT_N_CATEGORIES] = {false};
	struct al_image_opts o = {0};
	struct al_error err = {0};
	struct al_image_tree t = {0};
	struct al_lint_report rep = {0};
	bool json = false, forbidden = false;
	char msg[700];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'n':
			o.no_cache = true;
			break;
		case 'f':
			if (parse_forbid(optarg, forbid) < 0)
				return IMG_USAGE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return IMG_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return IMG_USAGE;
	}
	char resolved[4096];
	const char *image = image_dir(argv[optind], resolved, sizeof resolved);
	if (image == NULL)
		return IMG_LINT_ERROR;
	r = al_image_digest_dir(image, &o, &t, &err);
	_cleanup_close_ int rootfd = r == 0 ? open(image, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && rootfd < 0)
		r = al_error_errno(&err, "image", "opening the image %s", image);
	if (r == 0)
		r = al_lint_tree(rootfd, &t, &rep, &err);
	if (r < 0) {
		fprintf(stderr, "airlock: image lint: %s\n",
		        al_error_format(&err, msg, sizeof msg));
		al_image_tree_free(&t);
		return IMG_LINT_ERROR;
	}
	for (size_t i = 0; i < rep.n; i++)
		if (forbid[rep.f[i].category])
			forbidden = true;
	if (json) {
		struct al_buf jb;
		struct al_json j;
		al_buf_init(&jb);
		al_json_init(&j, &jb);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "image", image);
		al_json_kv_str(&j, "digest", t.digest);
		al_lint_report_json(&rep, &j);
		al_json_key(&j, "forbidden");
		al_json_arr_begin(&j);
		for (int k = 0; k < AL_LINT_N_CATEGORIES; k++)
			if (forbid[k])
				al_json_str(&j, al_lint_category_name((enum al_lint_category)k));
		al_json_arr_end(&j);
		al_json_kv_bool(&j, "ok", !forbidden);
		al_json_obj_end(&j);
		print_json(jb.data);
		al_buf_free(&jb);
	} else {
		print_table(&rep, forbid);
		if (forbidden)
			fprintf(stderr, "airlock: image lint: findings in a forbidden category\n");
	}
	r = forbidden ? IMG_LINT_FORBIDDEN : rep.n ? IMG_LINT_FINDINGS : 0;
	al_lint_report_free(&rep);
	al_image_tree_free(&t);
	return r;
}

static int fail(const char *what, struct al_error *err)
{
	char msg[700];
	fprintf(stderr, "airlock: image %s: %s\n", what, al_error_format(err, msg, sizeof msg));
	return 1;
}

static int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct al_image_import_result res;
	struct al_error err = {0};
	const char *name = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return IMG_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return IMG_USAGE;
	}
	if (name && !al_image_name_valid(name)) {
		fprintf(stderr, "airlock: image import: --name %s: expected NAME:TAG\n", name);
		return IMG_USAGE;
	}
	if (al_image_import(argv[optind], name, &res, &err) < 0)
		return fail("import", &err);
	printf("%s\n", res.digest);
	fprintf(stderr,
	        "airlock: imported %s (%s, %zu layer%s, %zu entries, %llu bytes)%s%s; dropped: %zu "
	        "device node%s, %zu setuid/setgid bit%s; %zu whiteout%s applied\n",
	        argv[optind], res.format, res.layers, res.layers == 1 ? "" : "s", res.entries,
	        (unsigned long long)res.bytes, res.name[0] ? " as " : "", res.name,
	        res.dropped_devices, res.dropped_devices == 1 ? "" : "s", res.dropped_setuid,
	        res.dropped_setuid == 1 ? "" : "s", res.whiteouts, res.whiteouts == 1 ? "" : "s");
	return 0;
}

static int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct al_image_build_opts o = {0};
	struct al_image_build_result res;
	struct al_error err = {0};
	bool json = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.name = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return IMG_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return IMG_USAGE;
	}
	if (o.name && !al_image_name_valid(o.name)) {
		fprintf(stderr, "airlock: image build: --name %s: expected NAME:TAG\n", o.name);
		return IMG_USAGE;
	}
	if (al_image_build(argv[optind], &o, &res, &err) < 0)
		return fail("build", &err);
	if (json) {
		struct al_buf jb;
		struct al_json j;
		al_buf_init(&jb);
		al_json_init(&j, &jb);
		al_json_obj_begin(&j);
		al_json_kv_str(&j, "digest", res.digest);
		al_json_kv_str(&j, "name", res.name[0] ? res.name : NULL);
		al_json_kv_str(&j, "mode", res.mode);
		al_json_kv_bool(&j, "deb_cache", res.deb_cache);
		al_json_kv_uint(&j, "entries", res.entries);
		al_json_kv_uint(&j, "bytes", res.bytes);
		al_json_kv_uint(&j, "dropped_devices", res.dropped_devices);
		al_json_kv_uint(&j, "dropped_setuid", res.dropped_setuid);
		al_json_kv_uint(&j, "elapsed_ms", res.elapsed_ns / 1000000);
		al_json_kv_uint(&j, "mmdebstrap_ms", res.mmdebstrap_ns / 1000000);
		al_json_obj_end(&j);
		print_json(jb.data);
		al_buf_free(&jb);
	} else {
		printf("%s\n", res.digest);
	}
	fprintf(stderr,
	        "airlock: built %s%s%s in %.1f s (mmdebstrap --mode=%s %.1f s%s; %zu entries, "
	        "%llu bytes; dropped %zu device node%s, %zu setuid/setgid bit%s)\n",
	        res.digest, res.name[0] ? " as " : "", res.name, res.elapsed_ns / 1e9, res.mode,
	        res.mmdebstrap_ns / 1e9, res.deb_cache ? ", .deb cache" : "", res.entries,
	        (unsigned long long)res.bytes, res.dropped_devices,
	        res.dropped_devices == 1 ? "" : "s", res.dropped_setuid,
	        res.dropped_setuid == 1 ? "" : "s");
	return 0;
}

static int cmd_ls(int argc, char **argv)
{
	struct al_error err = {0};
	struct al_buf b;
	struct al_json j;
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;

	if (argc > 2 || (argc == 2 && !json)) {
		usage(stderr);
		return IMG_USAGE;
	}
	al_buf_init(&b);
	al_json_init(&j, &b);
	if (al_image_store_list(&j, &err) < 0) {
		al_buf_free(&b);
		if (err.code == ENOENT) { /* no store yet: nothing in it */
			puts(json ? "[]" : "DIGEST  NAMES");
			return 0;
		}
		return fail("ls", &err);
	}
	if (json) {
		print_json(b.data);
	} else {
		/* the same facts as --json, as a table: one line per top-level
		 * object (a nested "import" object follows a ':') */
		printf("%-71s  %s\n", "DIGEST", "NAMES");
		const char *p = b.data;
		while ((p = strstr(p, "{\"digest\":\"")) != NULL) {
			char digest[AL_IMAGE_DIGEST_MAX];
			if (p > b.data && p[-1] == ':') {
				p += 11;
				continue;
			}
			snprintf(digest, sizeof digest, "%.71s", p + 11);
			const char *n = strstr(p, "\"names\":[");
			const char *e = n ? strchr(n, ']') : NULL;
			printf("%-71s  %.*s\n", digest, n && e ? (int)(e - n - 9) : 0,
			       n ? n + 9 : "");
			p += 11;
		}
	}
	al_buf_free(&b);
	return 0;
}

static int cmd_rm(int argc, char **argv)
{
	struct al_error err = {0};
	if (argc != 2) {
		usage(stderr);
		return IMG_USAGE;
	}
	if (!al_image_ref_is_store(argv[1])) {
		fprintf(stderr, "airlock: image rm: %s: expected NAME:TAG or sha256:HEX\n",
		        argv[1]);
		return IMG_USAGE;
	}
	if (al_image_store_rm(argv[1], &err) < 0)
		return fail("rm", &err);
	return 0;
}

static int cmd_inspect(int argc, char **argv)
{
	struct al_error err = {0};
	struct al_image_tree t = {0};
	struct al_lint_report rep = {0};
	char resolved[4096];
	struct al_buf b;
	struct al_json j;
	uint64_t bytes = 0;
	long packages = -1;

	if (argc != 2) {
		usage(stderr);
		return IMG_USAGE;
	}
	const char *image = image_dir(argv[1], resolved, sizeof resolved);
	if (image == NULL)
		return 1;
	if (al_image_digest_dir(image, NULL, &t, &err) < 0)
		return fail("inspect", &err);
	_cleanup_close_ int rootfd = open(image, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 || al_lint_tree(rootfd, &t, &rep, &err) < 0) {
		al_image_tree_free(&t);
		if (rootfd < 0)
			al_error_errno(&err, "image", "opening %s", image);
		return fail("inspect", &err);
	}
	for (size_t i = 0; i < t.n; i++) {
		if (t.e[i].type == 'f')
			bytes += t.e[i].size;
	}
	struct al_buf st;
	al_buf_init(&st);
	if (al_image_dpkg_status(rootfd, &st) == 0)
		packages = al_image_packages_count(st.data ? st.data : "", st.len);
	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "image", argv[1]);
	al_json_kv_str(&j, "path", image);
	al_json_kv_str(&j, "digest", t.digest);
	al_json_kv_uint(&j, "entries", t.n);
	al_json_kv_uint(&j, "bytes", bytes);
	al_json_key(&j, "packages");
	if (packages >= 0)
		al_json_int(&j, packages);
	else
		al_json_null(&j);
	/* the installed packages and versions (dpkg's status file) */
	al_json_key(&j, "package_list");
	if (packages >= 0)
		al_image_packages_json(st.data ? st.data : "", st.len, &j);
	else
		al_json_null(&j);
	al_buf_free(&st);
	/* a stored image's forbid list (image build), checked at each run */
	al_json_key(&j, "forbid");
	{
		bool forbid[AL_LINT_N_CATEGORIES];
		struct al_error e2 = {0};
		_cleanup_close_ int store =
		    al_image_ref_is_store(argv[1]) ? al_image_store_open(false, &e2) : -1;
		if (store >= 0 && al_image_forbid_load(store, t.digest, forbid) == 0) {
			al_json_arr_begin(&j);
			for (int k = 0; k < AL_LINT_N_CATEGORIES; k++)
				if (forbid[k])
					al_json_str(&j, al_lint_category_name((enum al_lint_category)k));
			al_json_arr_end(&j);
		} else {
			al_json_null(&j);
		}
	}
	al_json_key(&j, "lint");
	al_json_obj_begin(&j);
	al_lint_report_json(&rep, &j);
	al_json_obj_end(&j);
	al_json_obj_end(&j);
	print_json(b.data);
	al_buf_free(&b);
	al_lint_report_free(&rep);
	al_image_tree_free(&t);
	return 0;
}

static void read_status(const char *dir, struct al_buf *out)
{
	_cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0)
		al_image_dpkg_status(root, out);
}

/* The listing (and dpkg status) of DIR, IMAGE or host. */
static int listing_of(const char *arg, struct al_buf *listing, struct al_buf *status,
                      char digest[AL_IMAGE_DIGEST_MAX])
{
	char resolved[4096];
	struct al_error err = {0};
	struct al_image_tree t = {0};
	const char *dir;

	if (strcmp(arg, "host") == 0) {
		if (al_image_digest_host(NULL, digest, listing, &err) < 0)
			return fail("diff", &err);
		read_status("/", status);
		return 0;
	}
	dir = image_dir(arg, resolved, sizeof resolved);
	if (dir == NULL)
		return 1;
	if (al_image_digest_dir(dir, NULL, &t, &err) < 0)
		return fail("diff", &err);
	memcpy(digest, t.digest, AL_IMAGE_DIGEST_MAX);
	al_image_listing(&t, listing);
	al_image_tree_free(&t);
	read_status(dir, status);
	return 0;
}

static int cmd_diff(int argc, char **argv)
{
	struct al_buf la, lb, sa, sb, out;
	char da[AL_IMAGE_DIGEST_MAX], db[AL_IMAGE_DIGEST_MAX];
	size_t n = 0;
	int rc = 2;

	if (argc != 3) {
		usage(stderr);
		return IMG_USAGE;
	}
	al_buf_init(&la);
	al_buf_init(&lb);
	al_buf_init(&sa);
	al_buf_init(&sb);
	al_buf_init(&out);
	if (listing_of(argv[1], &la, &sa, da) == 0 && listing_of(argv[2], &lb, &sb, db) == 0) {
		printf("--- %s %s\n+++ %s %s\n", argv[1], da, argv[2], db);
		n = al_image_listing_diff(la.data ? la.data : "", la.len, lb.data ? lb.data : "",
		                          lb.len, (size_t)-1, "\n", &out);
		if (n)
			printf("%s\n", out.data);
		al_buf_reset(&out);
		n += al_image_packages_diff(sa.data ? sa.data : "", sa.len, sb.data ? sb.data : "",
		                            sb.len, &out);
		if (out.len)
			fputs(out.data, stdout);
		rc = n ? 1 : 0;
	}
	al_buf_free(&la);
	al_buf_free(&lb);
	al_buf_free(&sa);
	al_buf_free(&sb);
	al_buf_free(&out);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	struct al_image_opts o = {.no_cache = true};
	struct al_error err = {0};
	struct al_image_tree t = {0};
	char path[4096], digest[AL_IMAGE_DIGEST_MAX];

	if (argc != 2) {
		usage(stderr);
		return IMG_USAGE;
	}
	if (!al_image_ref_is_store(argv[1])) {
		fprintf(stderr, "airlock: image verify: %s: expected NAME:TAG or sha256:HEX\n",
		        argv[1]);
		return IMG_USAGE;
	}
	if (al_image_resolve(argv[1], path, sizeof path, digest, &err) < 0 ||
	    al_image_digest_dir(path, &o, &t, &err) < 0) {
		fail("verify", &err);
		return 2;
	}
	if (strcmp(t.digest, digest) == 0) {
		printf("OK: %s is %s (recomputed from every byte)\n", argv[1], digest);
		al_image_tree_free(&t);
		return 0;
	}
	printf("CHANGED: %s is stored as %s but its content is now %s\n", argv[1], digest,
	       t.digest);
	struct al_buf old, now, out;
	al_buf_init(&old);
	al_buf_init(&now);
	al_buf_init(&out);
	if (al_image_listing_load(NULL, digest, &old) == 0 && al_image_listing(&t, &now) == 0) {
		al_image_listing_diff(old.data, old.len, now.data, now.len, (size_t)-1, "\n", &out);
		printf("%s\n", out.data ? out.data : "");
	} else {
		printf(
		    "(the listing of %s is not in the cache: the changed paths cannot be named)\n",
		    digest);
	}
	al_buf_free(&old);
	al_buf_free(&now);
	al_buf_free(&out);
	al_image_tree_free(&t);
	return 1;
}

int al_cmd_image(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return IMG_USAGE;
	}
	if (strcmp(argv[1], "digest") == 0)
		return cmd_digest(argc - 1, argv + 1);
	if (strcmp(argv[1], "lint") == 0)
		return cmd_lint(argc - 1, argv + 1);
	if (strcmp(argv[1], "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	if (strcmp(argv[1], "build") == 0)
		return cmd_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "ls") == 0)
		return cmd_ls(argc - 1, argv + 1);
	if (strcmp(argv[1], "rm") == 0)
		return cmd_rm(argc - 1, argv + 1);
	if (strcmp(argv[1], "inspect") == 0)
		return cmd_inspect(argc - 1, argv + 1);
	if (strcmp(argv[1], "diff") == 0)
		return cmd_diff(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "airlock: image: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return IMG_USAGE;
}
