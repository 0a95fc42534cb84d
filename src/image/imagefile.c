/* The image file of `airlock image build` (imagefile.h). Hostile input: the
 * text is checked to be printable UTF-8 before libfyaml sees it (malformed
 * UTF-8 is what sent libfyaml into loops when the spec parser was fuzzed),
 * parsed event by event into a small tree bounded in depth and node count,
 * with anchors, aliases and tags refused, then checked key by key: unknown
 * keys are errors, every string that will reach mmdebstrap's command line
 * or a path in the image is held to a narrow alphabet. */
#define _GNU_SOURCE
#include "image/imagefile.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

#define MAX_DEPTH 8
#define MAX_NODES 16384

enum ytype { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
	enum ytype type;
	char *text; /* scalar (NUL-terminated; len may hold NUL bytes for content) */
	size_t len;
	int line, col;
	struct ynode **kids; /* map: key, value, key, value... */
	size_t n;
};

struct ctx {
	const char *file;
	struct al_error *err;
	struct fy_parser *fyp;
	struct fy_diag *diag;
	size_t nodes;
	int last_line, last_col;
};

static void ynode_free(struct ynode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->text);
	free(n);
}

static int err_at(struct ctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int err_at(struct ctx *c, int line, int col, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return al_error_set(c->err, 0, "image file", "%s:%d:%d: %s", c->file, line, col, what);
}

#define err_node(c, node, ...) err_at((c), (node)->line, (node)->col, __VA_ARGS__)

static struct fy_event *next_event(struct ctx *c, int *r, int *line, int *col)
{
	struct fy_event *e = fy_parser_parse(c->fyp);
	const struct fy_mark *m;

	if (e == NULL) {
		void *it = NULL;
		struct fy_diag_error *de = fy_diag_errors_iterate(c->diag, &it);
		*r = de ? err_at(c, de->line, de->column, "%s", de->msg ? de->msg : "syntax error")
		        : err_at(c, c->last_line, c->last_col, "YAML syntax error");
		return NULL;
	}
	m = fy_event_start_mark(e);
	*line = m && m->line >= 0 ? m->line + 1 : c->last_line;
	*col = m && m->line >= 0 ? m->column + 1 : c->last_col + 1;
	m = fy_event_end_mark(e);
	if (m && m->line >= 0) {
		c->last_line = m->line + 1;
		c->last_col = m->column + 1;
	}
	return e;
}

static int build_node(struct ctx *c, struct fy_event *e, int line, int col, int depth,
                      struct ynode **out);

static int build_collection(struct ctx *c, struct ynode *n, enum fy_event_type end, int depth)
{
	for (;;) {
		struct ynode *kid = NULL, **k;
		int r = 0, line, col;
		struct fy_event *e = next_event(c, &r, &line, &col);

		if (e == NULL)
			return r;
		if (e->type == end) {
			fy_parser_event_free(c->fyp, e);
			return 0;
		}
		r = build_node(c, e, line, col, depth + 1, &kid);
		fy_parser_event_free(c->fyp, e);
		if (r < 0)
			return r;
		k = realloc(n->kids, (n->n + 1) * sizeof *k);
		if (k == NULL) {
			ynode_free(kid);
			return al_error_set(c->err, ENOMEM, "image file", "%s: parsing", c->file);
		}
		n->kids = k;
		n->kids[n->n++] = kid;
	}
}

static int build_node(struct ctx *c, struct fy_event *e, int line, int col, int depth,
                      struct ynode **out)
{
	struct fy_token *anchor = NULL, *tag = NULL;
	struct ynode *n;
	int r = 0;

	if (++c->nodes > MAX_NODES)
		return err_at(c, line, col, "more than %d values in the image file", MAX_NODES);
	if (depth > MAX_DEPTH)
		return err_at(c, line, col, "nested deeper than %d levels", MAX_DEPTH);
	switch (e->type) {
	case FYET_SCALAR:
		anchor = e->scalar.anchor;
		tag = e->scalar.tag;
		break;
	case FYET_SEQUENCE_START:
		anchor = e->sequence_start.anchor;
		tag = e->sequence_start.tag;
		break;
	case FYET_MAPPING_START:
		anchor = e->mapping_start.anchor;
		tag = e->mapping_start.tag;
		break;
	case FYET_ALIAS:
		return err_at(c, line, col, "anchors and aliases (&, *) are not supported");
	default:
		return err_at(c, line, col, "unexpected YAML event");
	}
	if (anchor)
		return err_at(c, line, col, "anchors and aliases (&, *) are not supported");
	if (tag)
		return err_at(c, line, col, "YAML tags (!...) are not supported");
	n = calloc(1, sizeof *n);
	if (n == NULL)
		return al_error_set(c->err, ENOMEM, "image file", "%s: parsing", c->file);
	n->line = line;
	n->col = col;
	if (e->type == FYET_SCALAR) {
		size_t len = 0;
		const char *t = fy_token_get_text(e->scalar.value, &len);
		enum fy_scalar_style style = fy_token_scalar_style(e->scalar.value);
		n->type = Y_SCALAR;
		/* libfyaml marks a quoted scalar inside its quote: point at the quote */
		if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) && n->col > 1)
			n->col--;
		n->text = malloc(len + 1);
		if (n->text == NULL) {
			free(n);
			return al_error_set(c->err, ENOMEM, "image file", "%s: parsing", c->file);
		}
		if (len)
			memcpy(n->text, t, len);
		n->text[len] = '\0';
		n->len = len;
	} else {
		n->type = e->type == FYET_MAPPING_START ? Y_MAP : Y_SEQ;
		r = build_collection(c, n,
		                     e->type == FYET_MAPPING_START ? FYET_MAPPING_END
		                                                   : FYET_SEQUENCE_END,
		                     depth);
	}
	if (r < 0) {
		ynode_free(n);
		return r;
	}
	*out = n;
	return 0;
}

static int check_charset(struct ctx *c, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	int line = 1, col = 1;

	while (p < end) {
		uint32_t cp;
		size_t n = al_utf8_decode(p, (size_t)(end - p), &cp);
		if (n == 0)
			return err_at(c, line, col, "not valid UTF-8");
		if (!(cp == 0x09 || cp == 0x0a || cp == 0x0d || (cp >= 0x20 && cp <= 0x7e) ||
		      cp == 0x85 || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
		      cp >= 0x10000))
			return err_at(c, line, col, "character U+%04X is not allowed", (unsigned)cp);
		if (cp == 0x0a) {
			line++;
			col = 1;
		} else {
			col++;
		}
		p += n;
	}
	return 0;
}

static int build_tree(struct ctx *c, const char *text, size_t len, struct ynode **root)
{
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg pcfg;
	bool in_doc = false, seen_doc = false;
	int r = 0;

	*root = NULL;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	c->diag = fy_diag_create(&dcfg);
	if (c->diag == NULL)
		return al_error_set(c->err, ENOMEM, "image file", "%s: creating the parser", c->file);
	fy_diag_set_collect_errors(c->diag, true);
	memset(&pcfg, 0, sizeof pcfg);
	pcfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2;
	pcfg.diag = c->diag;
	c->fyp = fy_parser_create(&pcfg);
	if (c->fyp == NULL || fy_parser_set_string(c->fyp, text, len) != 0) {
		r = al_error_set(c->err, ENOMEM, "image file", "%s: creating the parser", c->file);
		goto out;
	}
	for (;;) {
		int line, col;
		struct fy_event *e = next_event(c, &r, &line, &col);
		if (e == NULL)
			break;
		switch (e->type) {
		case FYET_STREAM_START:
			break;
		case FYET_STREAM_END:
			fy_parser_event_free(c->fyp, e);
			goto out;
		case FYET_DOCUMENT_START:
			if (seen_doc)
				r = err_at(c, line, col, "an image file is a single YAML document");
			in_doc = seen_doc = true;
			break;
		case FYET_DOCUMENT_END:
			in_doc = false;
			break;
		default:
			if (!in_doc || *root != NULL)
				r = err_at(c, line, col, "unexpected content");
			else
				r = build_node(c, e, line, col, 0, root);
		}
		fy_parser_event_free(c->fyp, e);
		if (r < 0)
			break;
	}
out:
	if (r == 0 && c->fyp && fy_parser_get_stream_error(c->fyp))
		r = err_at(c, c->last_line, c->last_col, "YAML syntax error");
	if (r < 0) {
		ynode_free(*root);
		*root = NULL;
	}
	if (c->fyp)
		fy_parser_destroy(c->fyp);
	fy_diag_destroy(c->diag);
	return r;
}

/* ---- values ---- */

static int want_scalar(struct ctx *c, const struct ynode *v, const char *key)
{
	if (v->type != Y_SCALAR)
		return err_node(c, v, "%s: expected a single value", key);
	if (memchr(v->text, '\0', v->len))
		return err_node(c, v, "%s: contains a NUL byte", key);
	return 0;
}

static int want_u32(struct ctx *c, const struct ynode *v, const char *key, int base, uint32_t max,
                    uint32_t *out)
{
	unsigned long long x = 0;
	int r = want_scalar(c, v, key);
	if (r < 0)
		return r;
	if (v->len == 0 || v->len > 12)
		return err_node(c, v, "%s: expected a number", key);
	for (size_t i = 0; i < v->len; i++) {
		unsigned d = (unsigned)(v->text[i] - '0');
		if (d >= (unsigned)base)
			return err_node(c, v, "%s: expected a %s number", key,
			                base == 8 ? "octal" : "decimal");
		x = x * (unsigned)base + d;
	}
	if (x > max)
		return err_node(c, v, "%s: %llu is out of range (at most %u)", key, x, max);
	*out = (uint32_t)x;
	return 0;
}

static bool all_of(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"

/* Debian policy 5.6.1: [a-z0-9][a-z0-9+.-]+; an optional =VERSION of
 * [A-Za-z0-9.+~:-] (apt's pin syntax). Nothing else may reach apt's
 * command line: no options, no patterns, no spaces. */
bool al_imagefile_package_valid(const char *s)
{
	const char *eq = strchr(s, '=');
	size_t nl = eq ? (size_t)(eq - s) : strlen(s);
	char name[128];

	if (nl < 2 || nl >= sizeof name || !strchr(LOWER_DIGITS, s[0]))
		return false;
	memcpy(name, s, nl);
	name[nl] = '\0';
	if (!all_of(name, LOWER_DIGITS "+.-"))
		return false;
	if (eq) {
		const char *v = eq + 1;
		if (*v == '\0' || strlen(v) > 128 || !strchr("0123456789", v[0]) ||
		    !all_of(v, LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ.+~:-"))
			return false;
	}
	return true;
}

/* An absolute path of [A-Za-z0-9._+@-] components: no "." or ".."
 * component, no empty component, at most 255 bytes. */
bool al_imagefile_path_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 2 || n > 255 || s[0] != '/' || s[n - 1] == '/' || strstr(s, "//"))
		return false;
	if (!all_of(s, LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ/._+@-"))
		return false;
	for (const char *p = s; p; p = strchr(p + 1, '/')) {
		const char *q = p + 1;
		size_t cl = strcspn(q, "/");
		if ((cl == 1 && q[0] == '.') || (cl == 2 && q[0] == '.' && q[1] == '.'))
			return false;
	}
	return true;
}

static int parse_suite(struct ctx *c, const struct ynode *v, struct al_imagefile *f)
{
	int r = want_scalar(c, v, "suite");
	if (r < 0)
		return r;
	if (v->len == 0 || v->len >= sizeof f->suite || !strchr(LOWER_DIGITS, v->text[0]) ||
	    !all_of(v->text, LOWER_DIGITS "-"))
		return err_node(c, v, "suite: expected a Debian suite name (bookworm, trixie, ...)");
	memcpy(f->suite, v->text, v->len + 1);
	return 0;
}

static int parse_packages(struct ctx *c, const struct ynode *v, struct al_imagefile *f)
{
	if (v->type != Y_SEQ)
		return err_node(c, v, "packages: expected a list of package names");
	if (v->n > AL_IMAGEFILE_MAX_PACKAGES)
		return err_node(c, v, "packages: more than %d", AL_IMAGEFILE_MAX_PACKAGES);
	f->packages = calloc(v->n ? v->n : 1, sizeof *f->packages);
	if (f->packages == NULL)
		return al_error_set(c->err, ENOMEM, "image file", "parsing");
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *p = v->kids[i];
		int r = want_scalar(c, p, "packages");
		if (r < 0)
			return r;
		if (!al_imagefile_package_valid(p->text))
			return err_node(c, p,
			                "packages: '%.64s' is not a Debian package name "
			                "(NAME or NAME=VERSION)",
			                p->text);
		for (size_t k = 0; k < f->npackages; k++)
			if (strcmp(f->packages[k], p->text) == 0)
				return err_node(c, p, "packages: '%s' is listed twice", p->text);
		f->packages[f->npackages] = strdup(p->text);
		if (f->packages[f->npackages] == NULL)
			return al_error_set(c->err, ENOMEM, "image file", "parsing");
		f->npackages++;
	}
	return 0;
}

static int parse_file(struct ctx *c, const struct ynode *v, struct al_imagefile *f,
                      size_t *content_total)
{
	struct al_imagefile_file *x = &f->files[f->nfiles];
	bool have_content = false;
	int r;

	if (v->type != Y_MAP)
		return err_node(c, v, "files: each file is a mapping {path, content, mode, uid, gid}");
	memset(x, 0, sizeof *x);
	x->mode = 0644;
	f->nfiles++; /* owned by f from here, freed with it */
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->kids[i], *val = v->kids[i + 1];
		if (k->type != Y_SCALAR)
			return err_node(c, k, "files: expected a key");
		if (strcmp(k->text, "path") == 0) {
			if ((r = want_scalar(c, val, "files.path")) < 0)
				return r;
			if (!al_imagefile_path_valid(val->text))
				return err_node(c, val,
				                "files.path: expected an absolute path of "
				                "[A-Za-z0-9._+@-] components, no '.' or '..'");
			free(x->path);
			x->path = strdup(val->text);
			if (x->path == NULL)
				return al_error_set(c->err, ENOMEM, "image file", "parsing");
		} else if (strcmp(k->text, "content") == 0) {
			if (val->type != Y_SCALAR)
				return err_node(c, val, "files.content: expected a string");
			*content_total += val->len;
			if (*content_total > AL_IMAGEFILE_MAX_CONTENT)
				return err_node(c, val, "files: more than %d bytes of content",
				                AL_IMAGEFILE_MAX_CONTENT);
			free(x->content);
			x->content = malloc(val->len + 1);
			if (x->content == NULL)
				return al_error_set(c->err, ENOMEM, "image file", "parsing");
			memcpy(x->content, val->text, val->len + 1);
			x->len = val->len;
			have_content = true;
		} else if (strcmp(k->text, "mode") == 0) {
			if ((r = want_u32(c, val, "files.mode", 8, 07777, &x->mode)) < 0)
				return r;
			if (x->mode & 06000)
				return err_node(c, val,
				                "files.mode: setuid and setgid bits are not allowed");
		} else if (strcmp(k->text, "uid") == 0) {
			if ((r = want_u32(c, val, "files.uid", 10, 65534, &x->uid)) < 0)
				return r;
		} else if (strcmp(k->text, "gid") == 0) {
			if ((r = want_u32(c, val, "files.gid", 10, 65534, &x->gid)) < 0)
				return r;
		} else {
			return err_node(c, k, "files: unknown key '%.64s' (path, content, mode, uid, gid)",
			                k->text);
		}
	}
	if (x->path == NULL || !have_content)
		return err_node(c, v, "files: each file needs a path and a content");
	for (size_t i = 0; i + 1 < f->nfiles; i++)
		if (strcmp(f->files[i].path, x->path) == 0)
			return err_node(c, v, "files: %s is listed twice", x->path);
	return 0;
}

static int parse_files(struct ctx *c, const struct ynode *v, struct al_imagefile *f)
{
	size_t total = 0;
	if (v->type != Y_SEQ)
		return err_node(c, v, "files: expected a list of {path, content, mode}");
	if (v->n > AL_IMAGEFILE_MAX_FILES)
		return err_node(c, v, "files: more than %d", AL_IMAGEFILE_MAX_FILES);
	f->files = calloc(v->n ? v->n : 1, sizeof *f->files);
	if (f->files == NULL)
		return al_error_set(c->err, ENOMEM, "image file", "parsing");
	for (size_t i = 0; i < v->n; i++) {
		int r = parse_file(c, v->kids[i], f, &total);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_user(struct ctx *c, const struct ynode *v, struct al_imagefile_user *u)
{
	bool have_uid = false, have_gid = false;
	int r;

	if (v->type != Y_MAP)
		return err_node(c, v, "users: each user is a mapping {name, uid, gid, home, shell}");
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->kids[i], *val = v->kids[i + 1];
		if (k->type != Y_SCALAR)
			return err_node(c, k, "users: expected a key");
		if (strcmp(k->text, "name") == 0) {
			if ((r = want_scalar(c, val, "users.name")) < 0)
				return r;
			if (val->len == 0 || val->len >= sizeof u->name ||
			    !strchr("abcdefghijklmnopqrstuvwxyz_", val->text[0]) ||
			    !all_of(val->text, LOWER_DIGITS "_-"))
				return err_node(c, val, "users.name: expected [a-z_][a-z0-9_-]*, at most 32");
			memcpy(u->name, val->text, val->len + 1);
		} else if (strcmp(k->text, "uid") == 0) {
			if ((r = want_u32(c, val, "users.uid", 10, 65533, &u->uid)) < 0)
				return r;
			have_uid = true;
		} else if (strcmp(k->text, "gid") == 0) {
			if ((r = want_u32(c, val, "users.gid", 10, 65533, &u->gid)) < 0)
				return r;
			have_gid = true;
		} else if (strcmp(k->text, "home") == 0 || strcmp(k->text, "shell") == 0) {
			char *dst = k->text[0] == 'h' ? u->home : u->shell;
			if ((r = want_scalar(c, val, k->text)) < 0)
				return r;
			if (!al_imagefile_path_valid(val->text))
				return err_node(c, val, "users.%s: expected an absolute path", k->text);
			snprintf(dst, 256, "%s", val->text);
		} else {
			return err_node(c, k, "users: unknown key '%.64s' (name, uid, gid, home, shell)",
			                k->text);
		}
	}
	if (!u->name[0] || !have_uid)
		return err_node(c, v, "users: each user needs a name and a uid");
	if (u->uid == 0)
		return err_node(c, v, "users: uid 0 is root, which the image already has");
	if (!have_gid)
		u->gid = u->uid;
	if (!u->home[0])
		snprintf(u->home, sizeof u->home, "/home/%s", u->name);
	if (!u->shell[0])
		snprintf(u->shell, sizeof u->shell, "/bin/sh");
	return 0;
}

static int parse_users(struct ctx *c, const struct ynode *v, struct al_imagefile *f)
{
	if (v->type != Y_SEQ)
		return err_node(c, v, "users: expected a list of {name, uid}");
	if (v->n > AL_IMAGEFILE_MAX_USERS)
		return err_node(c, v, "users: more than %d", AL_IMAGEFILE_MAX_USERS);
	f->users = calloc(v->n ? v->n : 1, sizeof *f->users);
	if (f->users == NULL)
		return al_error_set(c->err, ENOMEM, "image file", "parsing");
	for (size_t i = 0; i < v->n; i++) {
		struct al_imagefile_user *u = &f->users[i];
		int r = parse_user(c, v->kids[i], u);
		if (r < 0)
			return r;
		for (size_t k = 0; k < i; k++)
			if (strcmp(f->users[k].name, u->name) == 0 || f->users[k].uid == u->uid)
				return err_node(c, v->kids[i], "users: %s (uid %u) is listed twice",
				                u->name, u->uid);
		f->nusers++;
	}
	return 0;
}

static int parse_forbid(struct ctx *c, const struct ynode *v, struct al_imagefile *f)
{
	if (v->type != Y_SEQ)
		return err_node(c, v, "forbid: expected a list of lint categories");
	for (size_t i = 0; i < v->n; i++) {
		enum al_lint_category cat;
		int r = want_scalar(c, v->kids[i], "forbid");
		if (r < 0)
			return r;
		if (al_lint_category_parse(v->kids[i]->text, &cat) < 0)
			return err_node(c, v->kids[i],
			                "forbid: unknown category '%.64s' (compilers, interpreters, "
			                "package-managers, network-tools, shells, setuid, "
			                "capabilities, world-writable, devices, credentials)",
			                v->kids[i]->text);
		f->forbid[cat] = true;
	}
	return 0;
}

static int parse_root(struct ctx *c, const struct ynode *root, struct al_imagefile *f)
{
	bool seen_suite = false;
	int r = 0;

	if (root == NULL)
		return err_at(c, 1, 1, "empty image file (it needs at least suite:)");
	if (root->type != Y_MAP)
		return err_node(c, root, "an image file is a mapping (suite:, packages:, ...)");
	for (size_t i = 0; i + 1 < root->n && r == 0; i += 2) {
		const struct ynode *k = root->kids[i], *v = root->kids[i + 1];
		if (k->type != Y_SCALAR)
			return err_node(c, k, "expected a key");
		for (size_t j = 0; j < i; j += 2)
			if (root->kids[j]->type == Y_SCALAR && strcmp(root->kids[j]->text, k->text) == 0)
				return err_node(c, k, "'%.64s' is given twice", k->text);
		if (strcmp(k->text, "suite") == 0) {
			r = parse_suite(c, v, f);
			seen_suite = true;
		} else if (strcmp(k->text, "base") == 0) {
			if ((r = want_scalar(c, v, "base")) < 0)
				return r;
			if (strcmp(v->text, "busybox") == 0)
				f->base = AL_IMAGE_BASE_BUSYBOX;
			else if (strcmp(v->text, "essential") == 0)
				f->base = AL_IMAGE_BASE_ESSENTIAL;
			else
				return err_node(c, v, "base: expected busybox or essential");
		} else if (strcmp(k->text, "packages") == 0) {
			r = parse_packages(c, v, f);
		} else if (strcmp(k->text, "files") == 0) {
			r = parse_files(c, v, f);
		} else if (strcmp(k->text, "users") == 0) {
			r = parse_users(c, v, f);
		} else if (strcmp(k->text, "forbid") == 0) {
			r = parse_forbid(c, v, f);
		} else if (strcmp(k->text, "name") == 0) {
			if ((r = want_scalar(c, v, "name")) < 0)
				return r;
			if (!al_image_name_valid(v->text))
				return err_node(c, v, "name: expected NAME:TAG");
			snprintf(f->name, sizeof f->name, "%s", v->text);
		} else if (strcmp(k->text, "epoch") == 0) {
			uint32_t e;
			if ((r = want_u32(c, v, "epoch", 10, UINT32_MAX, &e)) < 0)
				return r;
			f->epoch = e;
		} else {
			return err_node(c, k,
			                "unknown key '%.64s' (suite, base, packages, files, users, "
			                "forbid, name, epoch)",
			                k->text);
		}
	}
	if (r == 0 && !seen_suite)
		r = err_node(c, root, "suite: is required (e.g. suite: bookworm)");
	return r;
}

int al_imagefile_parse(const char *file, const char *text, size_t len, struct al_imagefile *f,
                       struct al_error *err)
{
	struct ctx c = {.file = file, .err = err, .last_line = 1, .last_col = 1};
	struct ynode *root = NULL;
	int r;

	memset(f, 0, sizeof *f);
	if (len > AL_IMAGEFILE_MAX_BYTES)
		return al_error_set(err, EFBIG, "image file", "%s: larger than %d bytes", file,
		                    AL_IMAGEFILE_MAX_BYTES);
	r = check_charset(&c, text, len);
	if (r == 0)
		r = build_tree(&c, text, len, &root);
	if (r == 0)
		r = parse_root(&c, root, f);
	ynode_free(root);
	if (r < 0)
		al_imagefile_free(f);
	return r;
}

void al_imagefile_free(struct al_imagefile *f)
{
	for (size_t i = 0; i < f->npackages; i++)
		free(f->packages[i]);
	free(f->packages);
	for (size_t i = 0; i < f->nfiles; i++) {
		free(f->files[i].path);
		free(f->files[i].content);
	}
	free(f->files);
	free(f->users);
	memset(f, 0, sizeof *f);
}
