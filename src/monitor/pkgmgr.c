#define _GNU_SOURCE
/* Package-install detection (pkgmgr.h): pure matching. */
#include "monitor/pkgmgr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pm_names[] = {
    "apt", "apt-get", "dpkg", "aptitude", "pip", "pip3", "uv", "npm", "yarn", "pnpm", "gem",
    "conda", "mamba", "micromamba", "easy_install", "pipx", "npx", "poetry", "pdm",
};

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* pip3.11, pip-3.11, easy_install-3.11: the versioned names */
static bool versioned(const char *name, const char *stem)
{
	size_t l = strlen(stem);

	if (strncmp(name, stem, l) != 0)
		return false;
	name += l;
	if (*name == '-' || *name == '.')
		name++;
	if (*name == '\0' || !isdigit((unsigned char)*name))
		return false;
	for (; *name; name++)
		if (!isdigit((unsigned char)*name) && *name != '.')
			return false;
	return true;
}

bool al_pkgmgr_name(const char *name)
{
	/* every name above (and every versioned stem below) starts with one of
	 * these letters; the image scan asks about each of the ~1,600 names in
	 * the bin directories, nearly all of which stop here */
	if (name[0] == '\0' || strchr("acdegmnpuy", name[0]) == NULL)
		return false;
	for (size_t i = 0; i < sizeof pm_names / sizeof pm_names[0]; i++)
		if (strcmp(name, pm_names[i]) == 0)
			return true;
	return versioned(name, "pip") || versioned(name, "pip3") ||
	       versioned(name, "easy_install") || versioned(name, "gem") ||
	       versioned(name, "npm");
}

static bool is_python(const char *name)
{
	return strcmp(name, "python") == 0 || strcmp(name, "python3") == 0 ||
	       versioned(name, "python") || versioned(name, "python3") ||
	       strcmp(name, "pypy") == 0 || strcmp(name, "pypy3") == 0;
}

bool al_pkgmgr_is_shell(const char *name)
{
	static const char *const sh[] = {"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh",
	                                 "busybox", "fish", "yash", "posh", "rbash"};
	for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++)
		if (strcmp(name, sh[i]) == 0)
			return true;
	return false;
}

bool al_pkgmgr_is_fetcher(const char *name)
{
	return strcmp(name, "curl") == 0 || strcmp(name, "wget") == 0 ||
	       strcmp(name, "wget2") == 0 || strcmp(name, "fetch") == 0;
}

/* The module python runs with -m (also -mpip, and -m after other flags). */
static const char *python_module(const struct al_pkg_exec *x)
{
	for (size_t i = 1; i < x->argc; i++) {
		const char *a = x->argv[i];
		if (a[0] != '-')
			return NULL; /* a script: what follows are its arguments */
		if (strcmp(a, "-m") == 0)
			return i + 1 < x->argc ? x->argv[i + 1] : NULL;
		if (strncmp(a, "-m", 2) == 0)
			return a + 2;
		/* clustered short flags ending in m: -Im pip, -Em pip */
		if (a[1] != '-' && a[strlen(a) - 1] == 'm' && strspn(a + 1, "bBdEhiIOPqRsSuvVx") ==
		                                                      strlen(a + 1) - 1)
			return i + 1 < x->argc ? x->argv[i + 1] : NULL;
		if (strcmp(a, "-c") == 0 || strcmp(a, "-") == 0)
			return NULL;
		if (strcmp(a, "-W") == 0 || strcmp(a, "-X") == 0 || strcmp(a, "--check-hash-based-pycs") == 0)
			i++; /* takes an argument */
	}
	return NULL;
}

static const char *python_code(const struct al_pkg_exec *x)
{
	for (size_t i = 1; i + 1 < x->argc; i++) {
		const char *a = x->argv[i];
		if (a[0] != '-')
			return NULL;
		if (strcmp(a, "-c") == 0)
			return x->argv[i + 1];
	}
	return NULL;
}

/* "import pip", "from pip", "pip._internal", run_module('pip') */
static bool code_uses_pip(const char *code)
{
	static const char *const needles[] = {"import pip", "from pip",   "pip._internal",
	                                      "'pip'",      "\"pip\"",    "ensurepip",
	                                      "import conda", "'pip3'", "\"pip3\""};
	for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
		const char *p = strstr(code, needles[i]);
		if (p == NULL)
			continue;
		/* "import pipes" is not pip */
		const char *end = p + strlen(needles[i]);
		if ((strcmp(needles[i], "import pip") == 0 || strcmp(needles[i], "from pip") == 0) &&
		    (isalnum((unsigned char)*end) || *end == '_') && strncmp(end, "3", 1) != 0)
			continue;
		return true;
	}
	return false;
}

static bool word_at(const char *s, size_t len, const char *w)
{
	size_t l = strlen(w);
	return len == l && memcmp(s, w, l) == 0;
}

/* the first word of s (skipping spaces, "sudo", "exec", "env", "command",
 * "VAR=..." and a path) is a shell */
static bool segment_starts_with_shell(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '(' || *s == '{')
			s++;
		size_t l = strcspn(s, " \t\n;|&)");
		if (l == 0)
			return false;
		const char *w = s, *slash;
		size_t wl = l;
		if (word_at(w, wl, "sudo") || word_at(w, wl, "exec") || word_at(w, wl, "env") ||
		    word_at(w, wl, "command") || word_at(w, wl, "nohup") || memchr(w, '=', wl)) {
			s += l;
			continue;
		}
		/* basename of the word */
		for (slash = w + wl; slash > w && slash[-1] != '/'; slash--)
			;
		char name[32];
		size_t nl = (size_t)(w + wl - slash);
		if (nl == 0 || nl >= sizeof name)
			return false;
		memcpy(name, slash, nl);
		name[nl] = '\0';
		return al_pkgmgr_is_shell(name) || is_python(name) || strcmp(name, "perl") == 0;
	}
}

/* a word "curl"/"wget" (possibly with a path) in s[0..len) */
static bool has_fetcher_word(const char *s, size_t len)
{
	static const char *const f[] = {"curl", "wget"};
	for (size_t k = 0; k < 2; k++) {
		size_t fl = strlen(f[k]);
		for (size_t i = 0; i + fl <= len; i++) {
			if (memcmp(s + i, f[k], fl) != 0)
				continue;
			char before = i ? s[i - 1] : ' ';
			char after = i + fl < len ? s[i + fl] : ' ';
			if ((before == ' ' || before == '/' || before == '(' || before == '`' ||
			     before == ';' || before == '&' || before == '\t' || before == '\n' ||
			     before == '"' || before == '\'') &&
			    (after == ' ' || after == '\t' || after == '2' || after == ')' || after == '\n'))
				return true;
		}
	}
	return false;
}

bool al_pkgmgr_fetch_pipe(const char *script)
{
	size_t n = strlen(script);
	const char *p;

	/* sh <(curl ...), . <(curl ...), source <(wget ...) */
	for (p = script; (p = strstr(p, "<(")) != NULL; p += 2)
		if (has_fetcher_word(p + 2, strcspn(p + 2, ")")))
			return true;
	/* eval "$(curl ...)", sh -c "$(curl ...)": the download run as code
	 * (not `echo "$(curl ...)"`, an argument) */
	for (p = script; (p = strstr(p, "$(")) != NULL; p += 2) {
		const char *q = p;
		if (!has_fetcher_word(p + 2, strcspn(p + 2, ")")))
			continue;
		if (q > script && (q[-1] == '"' || q[-1] == '\''))
			q--;
		while (q > script && q[-1] == ' ')
			q--;
		if ((size_t)(q - script) >= 4 && memcmp(q - 4, "eval", 4) == 0 &&
		    (q - 4 == script || strchr(" ;&|(\n", q[-5])))
			return true;
		if ((size_t)(q - script) >= 2 && memcmp(q - 2, "-c", 2) == 0) {
			/* the word before -c is a shell */
			const char *e = q - 2;
			while (e > script && e[-1] == ' ')
				e--;
			const char *b = e;
			while (b > script && b[-1] != ' ' && b[-1] != ';' && b[-1] != '|' &&
			       b[-1] != '&' && b[-1] != '(')
				b--;
			char w[32];
			size_t wl = (size_t)(e - b);
			const char *sl = memrchr(b, '/', wl);
			if (sl) {
				wl -= (size_t)(sl + 1 - b);
				b = sl + 1;
			}
			if (wl > 0 && wl < sizeof w) {
				memcpy(w, b, wl);
				w[wl] = '\0';
				if (al_pkgmgr_is_shell(w))
					return true;
			}
		}
	}
	/* A | B with A fetching and B a shell/interpreter */
	for (size_t i = 0; i < n; i++) {
		if (script[i] != '|' || (i + 1 < n && script[i + 1] == '|') ||
		    (i > 0 && script[i - 1] == '|'))
			continue;
		/* the segment before the pipe, back to the previous ; & | or newline */
		size_t j = i;
		while (j > 0 && script[j - 1] != ';' && script[j - 1] != '&' &&
		       script[j - 1] != '|' && script[j - 1] != '\n')
			j--;
		if (!has_fetcher_word(script + j, i - j))
			continue;
		if (segment_starts_with_shell(script + i + 1 + (script[i + 1] == '&')))
			return true;
	}
	return false;
}

static bool file_in_db(const struct al_pkgdb *db, const struct al_pkg_file *f, const char **name,
                       bool *by_hash)
{
	if (db == NULL)
		return false;
	for (size_t i = 0; i < db->n; i++) {
		const struct al_pkgdb_entry *e = &db->e[i];
		if (f->sha256 && e->sha256[0] && strcmp(f->sha256, e->sha256) == 0) {
			*name = e->name;
			*by_hash = true;
			return true;
		}
		if (f->have_id && f->ino == e->ino && f->dev_major == e->dev_major &&
		    f->dev_minor == e->dev_minor) {
			*name = e->name;
			*by_hash = false;
			return true;
		}
	}
	return false;
}

bool al_pkgmgr_match(const struct al_pkgdb *db, const struct al_pkg_exec *x, char *why,
                     size_t why_len)
{
	const char *names[2] = {x->path ? base(x->path) : NULL,
	                        x->argc > 0 ? base(x->argv[0]) : NULL};

	for (int k = 0; k < 2; k++) {
		const char *nm = names[k];
		if (nm == NULL)
			continue;
		if (al_pkgmgr_name(nm)) {
			snprintf(why, why_len, "package manager %s", nm);
			return true;
		}
		if ((strcmp(nm, "cargo") == 0 || strcmp(nm, "go") == 0 ||
		     strcmp(nm, "rustup") == 0 || strcmp(nm, "cpan") == 0 ||
		     strcmp(nm, "cpanm") == 0) &&
		    x->argc > 1) {
			for (size_t i = 1; i < x->argc; i++)
				if (strcmp(x->argv[i], "install") == 0 || strcmp(x->argv[i], "get") == 0 ||
				    strcmp(nm, "cpanm") == 0) {
					snprintf(why, why_len, "%s %s", nm, x->argv[i]);
					return true;
				}
		}
		if (is_python(nm)) {
			const char *m = python_module(x), *code = python_code(x);
			if (m && (strcmp(m, "pip") == 0 || strncmp(m, "pip.", 4) == 0 ||
			          strcmp(m, "pip3") == 0 || strcmp(m, "ensurepip") == 0 ||
			          strcmp(m, "conda") == 0 || strcmp(m, "uv") == 0 ||
			          strcmp(m, "pipx") == 0 || strcmp(m, "easy_install") == 0)) {
				snprintf(why, why_len, "%s -m %s", nm, m);
				return true;
			}
			if (code && code_uses_pip(code)) {
				snprintf(why, why_len, "%s -c using pip", nm);
				return true;
			}
		}
		if (al_pkgmgr_is_shell(nm)) {
			for (size_t i = 1; i + 1 < x->argc; i++)
				if (x->argv[i][0] == '-' && strchr(x->argv[i], 'c') &&
				    x->argv[i][1] != '-' && al_pkgmgr_fetch_pipe(x->argv[i + 1])) {
					snprintf(why, why_len, "download piped into a shell (%s -c)", nm);
					return true;
				}
		}
	}
	for (size_t i = 0; i < x->n_files; i++) {
		const char *nm;
		bool by_hash;
		if (file_in_db(db, &x->files[i], &nm, &by_hash)) {
			snprintf(why, why_len, "%s the image's package manager %s%s",
			         by_hash ? "same content as" : "is", nm,
			         i ? " (as an interpreter)" : "");
			return true;
		}
	}
	return false;
}

int al_pkgdb_add(struct al_pkgdb *db, const struct al_pkgdb_entry *e)
{
	if (db->n == db->cap) {
		size_t nc = db->cap ? db->cap * 2 : 32;
		struct al_pkgdb_entry *ne = realloc(db->e, nc * sizeof *ne);
		if (ne == NULL)
			return -ENOMEM;
		db->e = ne;
		db->cap = nc;
	}
	db->e[db->n++] = *e;
	return 0;
}

void al_pkgdb_free(struct al_pkgdb *db)
{
	free(db->e);
	free(db->root);
	memset(db, 0, sizeof *db);
}
