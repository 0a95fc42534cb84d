/* The attack surface of an image: what a hostile workload could use that an
 * evaluation rarely needs (compilers, interpreters, package managers,
 * network tools, shells), privilege it could gain (setuid/setgid files,
 * file capabilities, device nodes), places it could plant things
 * (world-writable directories) and secrets left behind (private keys,
 * credentials files). Works on a walked tree (tree.c), so it never follows
 * a link; file contents are read with openat2(RESOLVE_BENEATH). */
#define _GNU_SOURCE
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Only small files are read for key material: keys are a few KiB. */
#define SECRET_SCAN_MAX (64 * 1024)

static const char *const category_names[AL_LINT_N_CATEGORIES] = {
    [AL_LINT_COMPILERS] = "compilers",
    [AL_LINT_INTERPRETERS] = "interpreters",
    [AL_LINT_PACKAGE_MANAGERS] = "package-managers",
    [AL_LINT_NETWORK_TOOLS] = "network-tools",
    [AL_LINT_SHELLS] = "shells",
    [AL_LINT_SETUID] = "setuid",
    [AL_LINT_CAPABILITIES] = "capabilities",
    [AL_LINT_WORLD_WRITABLE] = "world-writable",
    [AL_LINT_DEVICES] = "devices",
    [AL_LINT_CREDENTIALS] = "credentials",
};

const char *al_lint_category_name(enum al_lint_category c)
{
	return (unsigned)c < AL_LINT_N_CATEGORIES ? category_names[c] : "?";
}

int al_lint_category_parse(const char *name, enum al_lint_category *c)
{
	for (int i = 0; i < AL_LINT_N_CATEGORIES; i++)
		if (strcmp(name, category_names[i]) == 0) {
			*c = (enum al_lint_category)i;
			return 0;
		}
	return -EINVAL;
}

struct tool {
	const char *pattern; /* fnmatch(3) on the base name */
	enum al_lint_category cat;
	const char *why;
};

static const struct tool tools[] = {
    /* compilers and build tools: turn text into new executables */
    {"cc", AL_LINT_COMPILERS, "C compiler"},
    {"c++", AL_LINT_COMPILERS, "C++ compiler"},
    {"c89", AL_LINT_COMPILERS, "C compiler"},
    {"c99", AL_LINT_COMPILERS, "C compiler"},
    {"gcc", AL_LINT_COMPILERS, "C compiler (GCC)"},
    {"gcc-[0-9]*", AL_LINT_COMPILERS, "C compiler (GCC)"},
    {"*-gcc", AL_LINT_COMPILERS, "C compiler (GCC)"},
    {"*-gcc-[0-9]*", AL_LINT_COMPILERS, "C compiler (GCC)"},
    {"g++", AL_LINT_COMPILERS, "C++ compiler (GCC)"},
    {"g++-[0-9]*", AL_LINT_COMPILERS, "C++ compiler (GCC)"},
    {"*-g++", AL_LINT_COMPILERS, "C++ compiler (GCC)"},
    {"*-g++-[0-9]*", AL_LINT_COMPILERS, "C++ compiler (GCC)"},
    {"cpp", AL_LINT_COMPILERS, "C preprocessor"},
    {"cpp-[0-9]*", AL_LINT_COMPILERS, "C preprocessor"},
    {"clang", AL_LINT_COMPILERS, "C compiler (clang)"},
    {"clang-[0-9]*", AL_LINT_COMPILERS, "C compiler (clang)"},
    {"clang++", AL_LINT_COMPILERS, "C++ compiler (clang)"},
    {"clang++-[0-9]*", AL_LINT_COMPILERS, "C++ compiler (clang)"},
    {"tcc", AL_LINT_COMPILERS, "C compiler (tcc)"},
    {"gfortran*", AL_LINT_COMPILERS, "Fortran compiler"},
    {"gccgo*", AL_LINT_COMPILERS, "Go compiler (gccgo)"},
    {"go", AL_LINT_COMPILERS, "Go toolchain"},
    {"rustc", AL_LINT_COMPILERS, "Rust compiler"},
    {"javac", AL_LINT_COMPILERS, "Java compiler"},
    {"ld", AL_LINT_COMPILERS, "linker"},
    {"ld.*", AL_LINT_COMPILERS, "linker"},
    {"*-ld", AL_LINT_COMPILERS, "linker"},
    {"*-ld.*", AL_LINT_COMPILERS, "linker"},
    {"lld", AL_LINT_COMPILERS, "linker"},
    {"as", AL_LINT_COMPILERS, "assembler"},
    {"*-as", AL_LINT_COMPILERS, "assembler"},
    {"nasm", AL_LINT_COMPILERS, "assembler"},
    {"yasm", AL_LINT_COMPILERS, "assembler"},
    {"make", AL_LINT_COMPILERS, "build tool"},
    {"gmake", AL_LINT_COMPILERS, "build tool"},
    {"cmake", AL_LINT_COMPILERS, "build tool"},
    {"ninja", AL_LINT_COMPILERS, "build tool"},
    {"ccache", AL_LINT_COMPILERS, "compiler cache"},
    /* package managers: fetch and install code (before interpreters:
     * pip3.11 must not match python*) */
    {"apt", AL_LINT_PACKAGE_MANAGERS, "Debian package manager"},
    {"apt-get", AL_LINT_PACKAGE_MANAGERS, "Debian package manager"},
    {"aptitude", AL_LINT_PACKAGE_MANAGERS, "Debian package manager"},
    {"dpkg", AL_LINT_PACKAGE_MANAGERS, "Debian package tool"},
    {"dpkg-deb", AL_LINT_PACKAGE_MANAGERS, "Debian package tool"},
    {"rpm", AL_LINT_PACKAGE_MANAGERS, "RPM package tool"},
    {"yum", AL_LINT_PACKAGE_MANAGERS, "RPM package manager"},
    {"dnf", AL_LINT_PACKAGE_MANAGERS, "RPM package manager"},
    {"zypper", AL_LINT_PACKAGE_MANAGERS, "RPM package manager"},
    {"apk", AL_LINT_PACKAGE_MANAGERS, "Alpine package manager"},
    {"pacman", AL_LINT_PACKAGE_MANAGERS, "Arch package manager"},
    {"pip", AL_LINT_PACKAGE_MANAGERS, "Python package installer"},
    {"pip[0-9]*", AL_LINT_PACKAGE_MANAGERS, "Python package installer"},
    {"pipx", AL_LINT_PACKAGE_MANAGERS, "Python package installer"},
    {"easy_install*", AL_LINT_PACKAGE_MANAGERS, "Python package installer"},
    {"poetry", AL_LINT_PACKAGE_MANAGERS, "Python package manager"},
    {"uv", AL_LINT_PACKAGE_MANAGERS, "Python package manager"},
    {"conda", AL_LINT_PACKAGE_MANAGERS, "conda package manager"},
    {"mamba", AL_LINT_PACKAGE_MANAGERS, "conda package manager"},
    {"micromamba", AL_LINT_PACKAGE_MANAGERS, "conda package manager"},
    {"npm", AL_LINT_PACKAGE_MANAGERS, "Node package manager"},
    {"npx", AL_LINT_PACKAGE_MANAGERS, "Node package runner"},
    {"yarn", AL_LINT_PACKAGE_MANAGERS, "Node package manager"},
    {"pnpm", AL_LINT_PACKAGE_MANAGERS, "Node package manager"},
    {"gem", AL_LINT_PACKAGE_MANAGERS, "Ruby package manager"},
    {"bundle", AL_LINT_PACKAGE_MANAGERS, "Ruby package manager"},
    {"cargo", AL_LINT_PACKAGE_MANAGERS, "Rust package manager"},
    {"composer", AL_LINT_PACKAGE_MANAGERS, "PHP package manager"},
    {"cpan", AL_LINT_PACKAGE_MANAGERS, "Perl package manager"},
    {"cpanm", AL_LINT_PACKAGE_MANAGERS, "Perl package manager"},
    {"luarocks", AL_LINT_PACKAGE_MANAGERS, "Lua package manager"},
    {"nix", AL_LINT_PACKAGE_MANAGERS, "Nix package manager"},
    {"nix-env", AL_LINT_PACKAGE_MANAGERS, "Nix package manager"},
    {"snap", AL_LINT_PACKAGE_MANAGERS, "snap package manager"},
    {"flatpak", AL_LINT_PACKAGE_MANAGERS, "flatpak package manager"},
    /* interpreters: run any code given as text */
    {"python", AL_LINT_INTERPRETERS, "Python interpreter"},
    {"python[0-9]*", AL_LINT_INTERPRETERS, "Python interpreter"},
    {"pypy*", AL_LINT_INTERPRETERS, "Python interpreter"},
    {"perl", AL_LINT_INTERPRETERS, "Perl interpreter"},
    {"perl5*", AL_LINT_INTERPRETERS, "Perl interpreter"},
    {"ruby", AL_LINT_INTERPRETERS, "Ruby interpreter"},
    {"ruby[0-9]*", AL_LINT_INTERPRETERS, "Ruby interpreter"},
    {"irb", AL_LINT_INTERPRETERS, "Ruby interpreter"},
    {"node", AL_LINT_INTERPRETERS, "JavaScript interpreter"},
    {"nodejs", AL_LINT_INTERPRETERS, "JavaScript interpreter"},
    {"deno", AL_LINT_INTERPRETERS, "JavaScript interpreter"},
    {"bun", AL_LINT_INTERPRETERS, "JavaScript interpreter"},
    {"lua", AL_LINT_INTERPRETERS, "Lua interpreter"},
    {"lua[0-9]*", AL_LINT_INTERPRETERS, "Lua interpreter"},
    {"luajit", AL_LINT_INTERPRETERS, "Lua interpreter"},
    {"php", AL_LINT_INTERPRETERS, "PHP interpreter"},
    {"php[0-9]*", AL_LINT_INTERPRETERS, "PHP interpreter"},
    {"tclsh*", AL_LINT_INTERPRETERS, "Tcl interpreter"},
    {"wish*", AL_LINT_INTERPRETERS, "Tcl interpreter"},
    {"expect", AL_LINT_INTERPRETERS, "Tcl interpreter"},
    {"java", AL_LINT_INTERPRETERS, "Java virtual machine"},
    {"jshell", AL_LINT_INTERPRETERS, "Java shell"},
    {"R", AL_LINT_INTERPRETERS, "R interpreter"},
    {"Rscript", AL_LINT_INTERPRETERS, "R interpreter"},
    {"guile*", AL_LINT_INTERPRETERS, "Scheme interpreter"},
    {"awk", AL_LINT_INTERPRETERS, "awk (system() runs commands)"},
    {"gawk", AL_LINT_INTERPRETERS, "awk (system() runs commands)"},
    {"mawk", AL_LINT_INTERPRETERS, "awk (system() runs commands)"},
    {"nawk", AL_LINT_INTERPRETERS, "awk (system() runs commands)"},
    /* network tools: move data in and out */
    {"curl", AL_LINT_NETWORK_TOOLS, "HTTP client"},
    {"wget", AL_LINT_NETWORK_TOOLS, "HTTP client"},
    {"wget2", AL_LINT_NETWORK_TOOLS, "HTTP client"},
    {"aria2c", AL_LINT_NETWORK_TOOLS, "download client"},
    {"nc", AL_LINT_NETWORK_TOOLS, "netcat (raw TCP/UDP)"},
    {"nc.*", AL_LINT_NETWORK_TOOLS, "netcat (raw TCP/UDP)"},
    {"netcat", AL_LINT_NETWORK_TOOLS, "netcat (raw TCP/UDP)"},
    {"ncat", AL_LINT_NETWORK_TOOLS, "netcat (raw TCP/UDP)"},
    {"socat", AL_LINT_NETWORK_TOOLS, "socket relay"},
    {"ssh", AL_LINT_NETWORK_TOOLS, "SSH client"},
    {"scp", AL_LINT_NETWORK_TOOLS, "SSH file copy"},
    {"sftp", AL_LINT_NETWORK_TOOLS, "SSH file transfer"},
    {"sshd", AL_LINT_NETWORK_TOOLS, "SSH server"},
    {"rsync", AL_LINT_NETWORK_TOOLS, "remote file sync"},
    {"telnet", AL_LINT_NETWORK_TOOLS, "telnet client"},
    {"ftp", AL_LINT_NETWORK_TOOLS, "FTP client"},
    {"tftp", AL_LINT_NETWORK_TOOLS, "TFTP client"},
    {"lftp", AL_LINT_NETWORK_TOOLS, "FTP client"},
    {"openssl", AL_LINT_NETWORK_TOOLS, "TLS client (openssl s_client)"},
    {"dig", AL_LINT_NETWORK_TOOLS, "DNS client"},
    {"nslookup", AL_LINT_NETWORK_TOOLS, "DNS client"},
    /* shells */
    {"sh", AL_LINT_SHELLS, "shell"},
    {"ash", AL_LINT_SHELLS, "shell"},
    {"bash", AL_LINT_SHELLS, "shell"},
    {"rbash", AL_LINT_SHELLS, "shell"},
    {"dash", AL_LINT_SHELLS, "shell"},
    {"zsh", AL_LINT_SHELLS, "shell"},
    {"ksh", AL_LINT_SHELLS, "shell"},
    {"ksh93", AL_LINT_SHELLS, "shell"},
    {"mksh", AL_LINT_SHELLS, "shell"},
    {"yash", AL_LINT_SHELLS, "shell"},
    {"csh", AL_LINT_SHELLS, "shell"},
    {"tcsh", AL_LINT_SHELLS, "shell"},
    {"fish", AL_LINT_SHELLS, "shell"},
    {"pwsh", AL_LINT_SHELLS, "shell"},
    {"busybox", AL_LINT_SHELLS, "multi-call binary: a shell, wget, nc and more"},
};

int al_lint_classify_tool(const char *name, const char **why)
{
	/* the dynamic loader (libc-bin's /usr/bin/ld.so) is not a linker */
	if (strcmp(name, "ld.so") == 0 || strncmp(name, "ld.so.", 6) == 0)
		return -1;
	for (size_t i = 0; i < AL_ARRAY_SIZE(tools); i++)
		if (fnmatch(tools[i].pattern, name, 0) == 0) {
			*why = tools[i].why;
			return (int)tools[i].cat;
		}
	return -1;
}

static bool is_interpreter_name(const char *name)
{
	const char *why;
	int c = al_lint_classify_tool(name, &why);
	return c == AL_LINT_INTERPRETERS || c == AL_LINT_SHELLS;
}

/* KEY=value where the key names a secret and the value is not empty. */
static bool env_has_secret(const char *data, size_t len)
{
	static const char *const words[] = {"KEY",      "SECRET", "TOKEN",
	                                    "PASSWORD", "PASSWD", "CREDENTIAL"};
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq;
		char key[128];
		size_t kl;
		if (nl == NULL)
			nl = end;
		if ((size_t)(nl - p) > 7 && memcmp(p, "export ", 7) == 0)
			p += 7;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq && eq > p && eq + 1 < nl && (size_t)(eq - p) < sizeof key) {
			kl = (size_t)(eq - p);
			bool ok = true;
			for (size_t i = 0; i < kl; i++) {
				char c = p[i];
				if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				      (c >= '0' && c <= '9') || c == '_'))
					ok = false;
				key[i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
			}
			key[kl] = '\0';
			for (size_t w = 0; ok && w < AL_ARRAY_SIZE(words); w++)
				if (strstr(key, words[w]))
					return true;
		}
		p = nl + 1;
	}
	return false;
}

bool al_lint_content_is_secret(const char *name, const char *data, size_t len, const char **why)
{
	if (memmem(data, len, "PRIVATE KEY-----", 16) && memmem(data, len, "-----BEGIN ", 11)) {
		*why = "private key";
		return true;
	}
	if ((strcmp(name, ".env") == 0 || strncmp(name, ".env.", 5) == 0) &&
	    env_has_secret(data, len)) {
		*why = ".env file with a secret (KEY/SECRET/TOKEN/PASSWORD=...)";
		return true;
	}
	if (strcmp(name, ".npmrc") == 0 && memmem(data, len, "_authToken", 10)) {
		*why = "npm token";
		return true;
	}
	if (strcmp(name, "config.json") == 0 && memmem(data, len, "\"auths\"", 7) &&
	    memmem(data, len, "\"auth\"", 6)) {
		*why = "container registry credentials";
		return true;
	}
	return false;
}

/* Secrets recognised by name alone. */
static const char *secret_by_name(const char *path, const char *name)
{
	static const char *const keys[] = {"id_rsa",     "id_dsa",      "id_ecdsa",
	                                   "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk"};
	for (size_t i = 0; i < AL_ARRAY_SIZE(keys); i++)
		if (strcmp(name, keys[i]) == 0)
			return "SSH private key file";
	if (strcmp(name, ".netrc") == 0)
		return ".netrc (login credentials)";
	if (strcmp(name, ".pgpass") == 0)
		return ".pgpass (database passwords)";
	if (strcmp(name, ".git-credentials") == 0)
		return "git credentials";
	if (strcmp(name, ".pypirc") == 0)
		return ".pypirc (package index credentials)";
	if (strcmp(name, "credentials") == 0 && strstr(path, "/.aws/credentials"))
		return "AWS credentials";
	if (strstr(path, "/.config/gcloud/") && strstr(name, "credentials"))
		return "Google Cloud credentials";
	if (strstr(path, "/.kube/") && strcmp(name, "config") == 0)
		return "Kubernetes credentials";
	return NULL;
}

static bool in_bin_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = (size_t)(slash - path);
	if (slash == NULL || n == 0)
		return false;
	return (n >= 4 && memcmp(slash - 4, "/bin", 4) == 0) ||
	       (n >= 5 && memcmp(slash - 5, "/sbin", 5) == 0) ||
	       (n >= 8 && memcmp(slash - 8, "/libexec", 8) == 0) ||
	       (n == 10 && memcmp(path, "/usr/games", 10) == 0);
}

static int add(struct al_lint_report *rep, const char *path, enum al_lint_category c,
               const char *severity, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int add(struct al_lint_report *rep, const char *path, enum al_lint_category c,
               const char *severity, const char *fmt, ...)
{
	struct al_lint_finding *f;
	va_list ap;

	if (rep->n == rep->cap) {
		size_t nc = rep->cap ? rep->cap * 2 : 64;
		struct al_lint_finding *nf = realloc(rep->f, nc * sizeof *nf);
		if (nf == NULL)
			return -ENOMEM;
		rep->f = nf;
		rep->cap = nc;
	}
	f = &rep->f[rep->n];
	f->path = strdup(path);
	if (f->path == NULL)
		return -ENOMEM;
	f->category = c;
	f->severity = severity;
	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof f->reason, fmt, ap);
	va_end(ap);
	rep->n++;
	return 0;
}

static int open_beneath(int rootfd, const char *path)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
	    .resolve =
	        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	return (int)syscall(SYS_openat2, rootfd, path[0] == '/' ? path + 1 : path, &how,
	                    sizeof how);
}

static int scan_content(int rootfd, const struct al_image_entry *e, const char *name,
                        struct al_lint_report *rep)
{
	char buf[SECRET_SCAN_MAX];
	const char *why;
	struct stat st;
	ssize_t n;
	_cleanup_close_ int fd = open_beneath(rootfd, e->path);

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_ino != e->ino || !S_ISREG(st.st_mode))
		return 0; /* unreadable or changed: nothing to say */
	n = read(fd, buf, sizeof buf);
	if (n <= 0)
		return 0;
	if (al_lint_content_is_secret(name, buf, (size_t)n, &why))
		return add(rep, e->path, AL_LINT_CREDENTIALS, "high", "%s", why);
	return 0;
}

int al_lint_tree(int rootfd, const struct al_image_tree *t, struct al_lint_report *rep,
                 struct al_error *err)
{
	return al_lint_tree_only(rootfd, t, NULL, rep, err);
}

/* A finding of a category not wanted is not recorded (and the content of
 * files is only read when credentials are wanted): a run start checks only
 * an image's forbidden categories. */
#define WANT(c) (want == NULL || want[(c)])

int al_lint_tree_only(int rootfd, const struct al_image_tree *t, const bool *want,
                      struct al_lint_report *rep, struct al_error *err)
{
	int r = 0;

	memset(rep, 0, sizeof *rep);
	for (size_t i = 0; i < t->n && r == 0; i++) {
		const struct al_image_entry *e = &t->e[i];
		const char *name = strrchr(e->path, '/') + 1;
		const char *why, *sec;
		int cat;

		rep->scanned++;
		if ((e->type == 'f' || e->type == 'l') && in_bin_dir(e->path) &&
		    (e->type == 'l' || (e->mode & 0111)) &&
		    (cat = al_lint_classify_tool(name, &why)) >= 0 && WANT(cat)) {
			if (e->type == 'l')
				r = add(rep, e->path, (enum al_lint_category)cat, "medium",
				        "%s (link to %s)", why, e->target);
			else
				r = add(rep, e->path, (enum al_lint_category)cat, "medium", "%s",
				        why);
		}
		if (r == 0 && WANT(AL_LINT_SETUID) && e->type == 'f' && (e->mode & 04000))
			r = add(rep, e->path, AL_LINT_SETUID, "high",
			        is_interpreter_name(name) ? "SUID interpreter or shell (owner uid "
			                                    "%u): runs any code as its owner"
			                                  : "setuid file (owner uid %u)",
			        e->uid);
		if (r == 0 && WANT(AL_LINT_SETUID) && e->type == 'f' && (e->mode & 02000) &&
		    (e->mode & 0010))
			r = add(rep, e->path, AL_LINT_SETUID,
			        is_interpreter_name(name) ? "high" : "medium",
			        "setgid file (group gid %u)", e->gid);
		if (r == 0 && WANT(AL_LINT_CAPABILITIES) && e->type == 'f' && e->cap)
			r = add(rep, e->path, AL_LINT_CAPABILITIES, "high",
			        "file capabilities (security.capability xattr)");
		if (r == 0 && WANT(AL_LINT_WORLD_WRITABLE) && e->type == 'd' && (e->mode & 0002))
			r = (e->mode & 01000) ? add(rep, e->path, AL_LINT_WORLD_WRITABLE, "low",
			                            "world-writable directory (sticky bit set)")
			                      : add(rep, e->path, AL_LINT_WORLD_WRITABLE, "high",
			                            "world-writable directory without the sticky "
			                            "bit: anyone may replace its entries");
		if (r == 0 && WANT(AL_LINT_WORLD_WRITABLE) && e->type == 'f' && (e->mode & 0002))
			r = add(rep, e->path, AL_LINT_WORLD_WRITABLE, "medium",
			        "world-writable file");
		if (r == 0 && WANT(AL_LINT_DEVICES) && (e->type == 'c' || e->type == 'b'))
			r = add(rep, e->path, AL_LINT_DEVICES, "high", "%s device node %u,%u",
			        e->type == 'c' ? "character" : "block", e->rmajor, e->rminor);
		if (!WANT(AL_LINT_CREDENTIALS))
			continue;
		if (r == 0 && e->type == 'f' && (sec = secret_by_name(e->path, name)) != NULL)
			r = add(rep, e->path, AL_LINT_CREDENTIALS, "high", "%s", sec);
		else if (r == 0 && e->type == 'f' && !e->unreadable && e->size > 0 &&
		         e->size <= SECRET_SCAN_MAX)
			r = scan_content(rootfd, e, name, rep);
	}
	if (r < 0) {
		al_lint_report_free(rep);
		return al_error_set(err, -r, "lint", "linting the image");
	}
	return 0;
}

void al_lint_report_free(struct al_lint_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		free(rep->f[i].path);
	free(rep->f);
	memset(rep, 0, sizeof *rep);
}

void al_lint_report_json(const struct al_lint_report *rep, struct al_json *j)
{
	size_t counts[AL_LINT_N_CATEGORIES] = {0};

	al_json_kv_uint(j, "entries", rep->scanned);
	al_json_key(j, "findings");
	al_json_arr_begin(j);
	for (size_t i = 0; i < rep->n; i++) {
		const struct al_lint_finding *f = &rep->f[i];
		counts[f->category]++;
		al_json_obj_begin(j);
		al_json_key(j, "path");
		al_json_strn(j, f->path, strlen(f->path));
		al_json_kv_str(j, "category", al_lint_category_name(f->category));
		al_json_kv_str(j, "severity", f->severity);
		al_json_kv_str(j, "reason", f->reason);
		al_json_obj_end(j);
	}
	al_json_arr_end(j);
	al_json_key(j, "counts");
	al_json_obj_begin(j);
	for (int c = 0; c < AL_LINT_N_CATEGORIES; c++)
		al_json_kv_uint(j, al_lint_category_name((enum al_lint_category)c), counts[c]);
	al_json_obj_end(j);
}
