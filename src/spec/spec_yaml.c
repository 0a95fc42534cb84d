/* Loading a YAML 1.2 / JSON spec with libfyaml: the event stream is built
 * into a small tree that keeps every node's line and column, then walked
 * against the schema, so every error names file:line:col and the dotted key. */
#define _GNU_SOURCE
#include "spec/spec.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <seccomp.h>

#include "spec/spec_internal.h"
#include "util/glob.h"
#include "util/cleanup.h"

/* A spec is a page of settings; anything near these bounds is a mistake or an
 * attack on the parser, and refusing it keeps memory and time bounded. */
#define SPEC_MAX_BYTES (1024 * 1024)
#define SPEC_PIPE_WAIT_MS 5000 /* longest silence of a pipe given as the spec */
#define SPEC_MAX_DEPTH 32
#define SPEC_MAX_NODES 100000
#define SPEC_MAX_MAP_ENTRIES 4096

enum ynode_type { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ynode_type type;
	int line, col; /* 1-based */
	char *text;    /* scalar: its value, NUL-terminated */
	size_t len;
	bool plain;          /* scalar: unquoted (may be a number or null) */
	struct ynode **kids; /* sequence: items; mapping: key, value, key, value... */
	size_t n;
};

struct yctx {
	struct al_spec *spec;
	const char *name;     /* for messages */
	const char *base_dir; /* relative host paths resolve here (NULL: cwd) */
	struct al_error *err;
	struct al_rule *rule; /* the rule being read (rules:) */
	size_t nodes;
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

static inline void ynode_freep(struct ynode **n)
{
	ynode_free(*n);
}
#define _cleanup_ynode_ __attribute__((cleanup(ynode_freep)))

static int yerr_at(struct yctx *c, int line, int col, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int yerr_at(struct yctx *c, int line, int col, const char *key, const char *fmt, ...)
{
	char what[AL_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (key != NULL && key[0] != '\0')
		return al_error_set(c->err, 0, "spec", "%s:%d:%d: %s: %s", c->name, line, col, key,
		                    what);
	return al_error_set(c->err, 0, "spec", "%s:%d:%d: %s", c->name, line, col, what);
}

#define yerr(c, node, key, ...) yerr_at((c), (node)->line, (node)->col, (key), __VA_ARGS__)

/* ---- building the tree from libfyaml events ---- */

struct ybuild {
	struct yctx *c;
	struct fy_parser *fyp;
	struct fy_diag *diag;
	int last_line, last_col; /* end of the previous event, 1-based */
};

/* libfyaml reports a syntax error through its diagnostics (collected, 1-based
 * position); turn the first one into ours. */
static int syntax_error(struct ybuild *b)
{
	void *it = NULL;
	struct fy_diag_error *de;

	de = fy_diag_errors_iterate(b->diag, &it);
	if (de != NULL)
		return yerr_at(b->c, de->line, de->column, NULL, "%s",
		               de->msg ? de->msg : "syntax error");
	/* no diagnostic: say where parsing stopped */
	return yerr_at(b->c, b->last_line, b->last_col, NULL, "YAML syntax error");
}

/* The next event; remembers where the previous one ended, because an empty
 * value ("hostname:") is an event without a position of its own. */
static struct fy_event *next_event(struct ybuild *b, int *r, int *line, int *col)
{
	struct fy_event *e = fy_parser_parse(b->fyp);
	const struct fy_mark *m;

	if (e == NULL) {
		*r = syntax_error(b);
		return NULL;
	}
	m = fy_event_start_mark(e);
	if (m != NULL && m->line >= 0) {
		*line = m->line + 1;
		*col = m->column + 1;
	} else {
		/* just past the end of the previous token, e.g. the ':' of "key:" */
		*line = b->last_line;
		*col = b->last_col + 1;
	}
	m = fy_event_end_mark(e);
	if (m != NULL && m->line >= 0) {
		b->last_line = m->line + 1;
		b->last_col = m->column + 1;
	}
	return e;
}

static int build_node(struct ybuild *b, struct fy_event *e, int line, int col, int depth,
                      struct ynode **out);

static int add_kid(struct yctx *c, struct ynode *parent, struct ynode *kid)
{
	struct ynode **k;

	k = realloc(parent->kids, (parent->n + 1) * sizeof *k);
	if (k == NULL) {
		ynode_free(kid);
		return al_error_set(c->err, ENOMEM, "spec", "%s: loading the spec", c->name);
	}
	parent->kids = k;
	parent->kids[parent->n++] = kid;
	return 0;
}

/* Build the collection whose start event has been consumed, until its end. */
static int build_collection(struct ybuild *b, struct ynode *n, enum fy_event_type end_type,
                            int depth)
{
	for (;;) {
		struct fy_event *e;
		struct ynode *kid = NULL;
		int r = 0, line, col;

		e = next_event(b, &r, &line, &col);
		if (e == NULL)
			return r;
		if (e->type == end_type) {
			fy_parser_event_free(b->fyp, e);
			break;
		}
		r = build_node(b, e, line, col, depth + 1, &kid);
		fy_parser_event_free(b->fyp, e);
		if (r < 0)
			return r;
		r = add_kid(b->c, n, kid);
		if (r < 0)
			return r;
		if (n->type == Y_MAP && n->n > 2 * SPEC_MAX_MAP_ENTRIES)
			return yerr(b->c, n, NULL, "mapping with more than %d entries",
			            SPEC_MAX_MAP_ENTRIES);
	}
	return 0;
}

static int build_node(struct ybuild *b, struct fy_event *e, int line, int col, int depth,
                      struct ynode **out)
{
	struct yctx *c = b->c;
	_cleanup_ynode_ struct ynode *n = NULL;
	struct fy_token *anchor = NULL, *tag = NULL;
	int r;

	if (++c->nodes > SPEC_MAX_NODES)
		return yerr_at(c, line, col, NULL, "more than %d nodes in the spec",
		               SPEC_MAX_NODES);
	if (depth > SPEC_MAX_DEPTH)
		return yerr_at(c, line, col, NULL, "nested deeper than %d levels", SPEC_MAX_DEPTH);

	switch (e->type) {
	case FYET_ALIAS:
		/* aliases make one node appear in many places: a spec is meant to be read as
		 * written */
		return yerr_at(c, line, col, NULL,
		               "anchors and aliases (&, *) are not supported in a spec");
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
	default:
		return yerr_at(c, line, col, NULL, "unexpected YAML event");
	}
	if (anchor != NULL) {
		/* the token marks the name; point at the '&' before it */
		const struct fy_mark *am = fy_token_start_mark(anchor);
		return yerr_at(c, am ? am->line + 1 : line, am && am->column > 0 ? am->column : col,
		               NULL, "anchors and aliases (&, *) are not supported in a spec");
	}
	/* a tag would change how a value is typed behind the reader's back */
	if (tag != NULL) {
		const struct fy_mark *tm = fy_token_start_mark(tag);
		return yerr_at(c, tm ? tm->line + 1 : line, tm ? tm->column + 1 : col, NULL,
		               "YAML tags (!...) are not supported in a spec");
	}

	n = calloc(1, sizeof *n);
	if (n == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "%s: loading the spec", c->name);
	n->line = line;
	n->col = col;

	if (e->type == FYET_SCALAR) {
		size_t len = 0;
		const char *t = fy_token_get_text(e->scalar.value, &len);
		enum fy_scalar_style style = fy_token_scalar_style(e->scalar.value);

		n->type = Y_SCALAR;
		/* libfyaml marks a quoted scalar at its first character inside the
		 * quote; point at the quote, where the reader sees the value begin */
		if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) && col > 1)
			n->col = --col;
		if (t == NULL)
			t = "";
		/* "\0" is a valid YAML escape; a C string would silently cut there */
		if (memchr(t, '\0', len) != NULL)
			return yerr_at(c, line, col, NULL, "string contains a NUL byte");
		n->text = strndup(t, len);
		if (n->text == NULL)
			return al_error_set(c->err, ENOMEM, "spec", "%s: loading the spec",
			                    c->name);
		n->len = len;
		n->plain = style == FYSS_PLAIN;
	} else {
		n->type = e->type == FYET_MAPPING_START ? Y_MAP : Y_SEQ;
		r = build_collection(
		    b, n, e->type == FYET_MAPPING_START ? FYET_MAPPING_END : FYET_SEQUENCE_END,
		    depth);
		if (r < 0)
			return r;
	}
	*out = TAKE_PTR(n);
	return 0;
}

/* The YAML 1.2 character set (c-printable) in well-formed UTF-8, checked
 * before libfyaml sees a byte: a spec needs nothing else, and malformed UTF-8
 * is what sends libfyaml 0.7.12 into endless loops and stray reads (found by
 * fuzzing; e.g. "%x \xaa" never returns). Returns 0, or the 1-based position
 * of the first bad character and its code (or -1 for malformed UTF-8). */
static int check_charset(const char *text, size_t len, int *line, int *col, long *bad)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;

	*line = 1;
	*col = 1;
	while (p < end) {
		uint32_t cp;
		size_t n = al_utf8_decode(p, (size_t)(end - p), &cp);

		if (n == 0) { /* malformed, overlong, surrogate, beyond U+10FFFF, cut short */
			*bad = -1;
			return -EILSEQ;
		}
		if (!(cp == 0x09 || cp == 0x0a || cp == 0x0d || (cp >= 0x20 && cp <= 0x7e) ||
		      cp == 0x85 || (cp >= 0xa0 && cp <= 0xd7ff) ||
		      (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000)) {
			*bad = (long)cp;
			return -EILSEQ;
		}
		if (cp == 0x0a) {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
		p += n;
	}
	return 0;
}

/* Parse text into a tree; *root is NULL for an empty stream (comments only). */
static int build_tree(struct yctx *c, const char *text, size_t len, bool json, struct ynode **root)
{
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg pcfg;
	struct ybuild b = {.c = c, .last_line = 1, .last_col = 1};
	bool in_doc = false, seen_doc = false;
	int r = 0;

	*root = NULL;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	b.diag = fy_diag_create(&dcfg);
	if (b.diag == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "%s: creating the YAML parser",
		                    c->name);
	fy_diag_set_collect_errors(b.diag, true);

	memset(&pcfg, 0, sizeof pcfg);
	pcfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2 |
	             (json ? FYPCF_JSON_FORCE : FYPCF_JSON_NONE);
	pcfg.diag = b.diag;
	b.fyp = fy_parser_create(&pcfg);
	if (b.fyp == NULL) {
		fy_diag_destroy(b.diag);
		return al_error_set(c->err, ENOMEM, "spec", "%s: creating the YAML parser",
		                    c->name);
	}
	if (fy_parser_set_string(b.fyp, text, len) != 0) {
		r = al_error_set(c->err, ENOMEM, "spec", "%s: reading the spec", c->name);
		goto out;
	}

	for (;;) {
		int line, col;
		struct fy_event *e = next_event(&b, &r, &line, &col);

		if (e == NULL)
			break;
		switch (e->type) {
		case FYET_STREAM_START:
			break;
		case FYET_STREAM_END:
			fy_parser_event_free(b.fyp, e);
			goto out;
		case FYET_DOCUMENT_START:
			if (seen_doc)
				r = yerr_at(c, line, col, NULL, "a spec is a single YAML document");
			in_doc = seen_doc = true;
			break;
		case FYET_DOCUMENT_END:
			in_doc = false;
			break;
		default:
			if (!in_doc || *root != NULL)
				r = yerr_at(c, line, col, NULL, "unexpected content");
			else
				r = build_node(&b, e, line, col, 0, root);
			break;
		}
		fy_parser_event_free(b.fyp, e);
		if (r < 0)
			break;
	}
out:
	if (r == 0 && fy_parser_get_stream_error(b.fyp))
		r = syntax_error(&b);
	if (r < 0) {
		ynode_free(*root);
		*root = NULL;
	}
	fy_parser_destroy(b.fyp);
	fy_diag_destroy(b.diag);
	return r;
}

/* ---- typed access to nodes ---- */

static bool is_null(const struct ynode *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

	if (n->type != Y_SCALAR || !n->plain)
		return false;
	for (size_t i = 0; i < AL_ARRAY_SIZE(nulls); i++)
		if (strcmp(n->text, nulls[i]) == 0)
			return true;
	return false;
}

static const char *type_name(const struct ynode *n)
{
	if (n->type == Y_MAP)
		return "a mapping";
	if (n->type == Y_SEQ)
		return "a list";
	if (is_null(n))
		return "null";
	return n->plain ? "a scalar" : "a string";
}

/* Any non-null scalar, as written: `DEBUG: 1` sets the string "1". */
static int get_string(struct yctx *c, const struct ynode *n, const char *key, const char **out)
{
	if (n->type != Y_SCALAR || is_null(n))
		return yerr(c, n, key, "expected a string, got %s", type_name(n));
	*out = n->text;
	return 0;
}

/* An unquoted true or false (YAML 1.2 core schema; not yes/no/on/off). */
static int get_bool(struct yctx *c, const struct ynode *n, const char *key, bool *out)
{
	if (n->type != Y_SCALAR || is_null(n) || !n->plain ||
	    (strcmp(n->text, "true") != 0 && strcmp(n->text, "false") != 0))
		return yerr(c, n, key, "expected true or false, got %s%s%s%s", type_name(n),
		            n->type == Y_SCALAR ? " \"" : "", n->type == Y_SCALAR ? n->text : "",
		            n->type == Y_SCALAR ? "\"" : "");
	*out = strcmp(n->text, "true") == 0;
	return 0;
}

static int get_nonempty_string(struct yctx *c, const struct ynode *n, const char *key,
                               const char **out)
{
	int r = get_string(c, n, key, out);

	if (r < 0)
		return r;
	if ((*out)[0] == '\0')
		return yerr(c, n, key, "must not be empty");
	return 0;
}

/* A decimal non-negative integer, unquoted (a quoted "256" is a string). */
static int get_uint(struct yctx *c, const struct ynode *n, const char *key, uint64_t max,
                    uint64_t *out)
{
	const char *p;
	uint64_t v = 0;

	if (n->type != Y_SCALAR || is_null(n) || !n->plain)
		return yerr(c, n, key, "expected an integer, got %s", type_name(n));
	p = n->text;
	if (*p == '-')
		return yerr(c, n, key, "must not be negative (got %s)", n->text);
	if (*p == '+')
		p++;
	if (*p == '\0')
		return yerr(c, n, key, "expected an integer, got \"%s\"", n->text);
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return yerr(c, n, key, "expected an integer, got \"%s\"", n->text);
		if (v > (UINT64_MAX - 9) / 10)
			return yerr(c, n, key, "%s is too large", n->text);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		return yerr(c, n, key, "%s is too large (at most %llu)", n->text,
		            (unsigned long long)max);
	*out = v;
	return 0;
}

static int get_size(struct yctx *c, const struct ynode *n, const char *key, uint64_t *out)
{
	int r;

	if (n->type != Y_SCALAR || is_null(n))
		return yerr(c, n, key, "expected a size such as 512MiB, got %s", type_name(n));
	r = al_parse_size(n->text, out);
	if (r == -ERANGE)
		return yerr(c, n, key, "size \"%s\" is too large", n->text);
	if (r == -EDOM)
		return yerr(c, n, key, "size \"%s\" is positive but below 1 byte", n->text);
	if (r < 0)
		return yerr(c, n, key, "invalid size \"%s\"", n->text);
	return 0;
}

static int get_duration(struct yctx *c, const struct ynode *n, const char *key, uint64_t *out)
{
	int r;

	if (n->type != Y_SCALAR || is_null(n))
		return yerr(c, n, key, "expected a duration such as 10m, got %s", type_name(n));
	r = al_parse_duration(n->text, out);
	if (r == -ERANGE)
		return yerr(c, n, key, "duration \"%s\" is too large", n->text);
	if (r == -EDOM)
		return yerr(c, n, key,
		            "duration \"%s\" is positive but below 1ns (it would round to 0, "
		            "which means no limit)",
		            n->text);
	if (r < 0)
		return yerr(
		    c, n, key,
		    "invalid duration \"%s\" (use a number with a unit: ns, us, ms, s, m, h)",
		    n->text);
	return 0;
}

/* A host path: relative ones resolve against the spec file's directory. */
static int set_host_path(struct yctx *c, const struct ynode *n, const char *key, char **field)
{
	const char *s;
	char *abs;
	int r;

	r = get_nonempty_string(c, n, key, &s);
	if (r < 0)
		return r;
	abs = al_spec_host_path(c->base_dir, s);
	if (abs == NULL)
		return yerr(c, n, key, "resolving \"%s\": %s", s, strerror(errno));
	r = al_spec_set_str(c->spec, field, abs);
	free(abs);
	if (r < 0)
		return al_error_set(c->err, -r, "spec", "%s: %s", c->name, key);
	return 0;
}

static int set_sandbox_path(struct yctx *c, const struct ynode *n, const char *key, char **field)
{
	const char *s;
	int r;

	r = get_nonempty_string(c, n, key, &s);
	if (r < 0)
		return r;
	if (!al_spec_sandbox_path_normal(s))
		return yerr(c, n, key,
		            "\"%s\" must be an absolute, normalised path (no \"..\", \".\", \"//\" "
		            "or trailing \"/\")",
		            s);
	r = al_spec_set_str(c->spec, field, s);
	if (r < 0)
		return al_error_set(c->err, -r, "spec", "%s: %s", c->name, key);
	return 0;
}

static int check_limit(struct yctx *c, const struct ynode *n, const char *key, const char *limit,
                       uint64_t v)
{
	char why[160];

	if (!al_spec_limit_ok(limit, v, why, sizeof why))
		return yerr(c, n, key, "%s", why);
	return 0;
}

/* ---- the schema ---- */

typedef int (*key_handler)(struct yctx *c, const struct ynode *v, const char *key);

struct key_def {
	const char *name;
	key_handler fn;
};

/* Walk a mapping against a table of keys: unknown and duplicate keys are errors. */
static int walk_map(struct yctx *c, const struct ynode *n, const char *path,
                    const struct key_def *defs, size_t n_defs)
{
	if (n->type != Y_MAP)
		return yerr(c, n, path[0] ? path : NULL, "expected a mapping, got %s",
		            type_name(n));
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
		char key[256];
		const struct key_def *def = NULL;
		int r;

		if (k->type != Y_SCALAR || is_null(k))
			return yerr(c, k, path[0] ? path : NULL, "keys must be strings, got %s",
			            type_name(k));
		snprintf(key, sizeof key, "%s%s%s", path, path[0] ? "." : "", k->text);
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(n->kids[j]->text, k->text) == 0)
				return yerr(c, k, key, "duplicate key (first at line %d)",
				            n->kids[j]->line);
		for (size_t d = 0; d < n_defs; d++)
			if (strcmp(defs[d].name, k->text) == 0)
				def = &defs[d];
		if (def == NULL)
			return yerr(c, k, key, "unknown key");
		r = def->fn(c, v, key);
		if (r < 0)
			return r;
	}
	return 0;
}

static int h_command(struct yctx *c, const struct ynode *v, const char *key)
{
	_cleanup_free_ char **argv = NULL;
	int r;

	if (v->type == Y_SCALAR && !is_null(v)) {
		/* the string form is a shell command line, as in a Dockerfile's shell form */
		char *sh[] = {(char *)"/bin/sh", (char *)"-c", v->text};

		if (v->text[0] == '\0')
			return yerr(c, v, key, "must not be empty");
		r = al_spec_set_argv(c->spec, sh, 3);
		if (r < 0)
			return al_error_set(c->err, -r, "spec", "%s: %s", c->name, key);
		return 0;
	}
	if (v->type != Y_SEQ)
		return yerr(c, v, key,
		            "expected a list of strings (or one shell command string), got %s",
		            type_name(v));
	if (v->n == 0)
		return yerr(c, v, key, "must not be empty");
	argv = calloc(v->n + 1, sizeof *argv);
	if (argv == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, key);
	for (size_t i = 0; i < v->n; i++) {
		char item[280];
		const char *s;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		r = get_string(c, v->kids[i], item, &s);
		if (r < 0)
			return r;
		argv[i] = (char *)s;
	}
	if (argv[0][0] == '\0')
		return yerr(c, v->kids[0], key, "the program name must not be empty");
	r = al_spec_set_argv(c->spec, argv, v->n);
	if (r < 0)
		return al_error_set(c->err, -r, "spec", "%s: %s", c->name, key);
	return 0;
}

static int h_image(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r;

	r = get_nonempty_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (strcmp(s, "host") == 0) {
		r = al_spec_set_str(c->spec, &c->spec->image, "host");
		return r < 0 ? al_error_set(c->err, -r, "spec", "%s: %s", c->name, key) : 0;
	}
	if (al_spec_image_is_store_ref(s)) { /* NAME:TAG or sha256:HEX of the image store */
		r = al_spec_set_str(c->spec, &c->spec->image, s);
		return r < 0 ? al_error_set(c->err, -r, "spec", "%s: %s", c->name, key) : 0;
	}
	return set_host_path(c, v, key, &c->spec->image);
}

static int h_image_digest(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r;

	r = get_nonempty_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (!al_spec_image_digest_valid(s))
		return yerr(c, v, key,
		            "\"%s\" is not an image digest (expected sha256: and 64 lowercase hex "
		            "digits, as printed by `airlock image digest`)",
		            s);
	r = al_spec_set_str(c->spec, &c->spec->image_digest, s);
	return r < 0 ? al_error_set(c->err, -r, "spec", "%s: %s", c->name, key) : 0;
}

static int h_workdir(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_sandbox_path(c, v, key, &c->spec->workdir);
}

static int h_workspace(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_host_path(c, v, key, &c->spec->workspace);
}

static int h_export(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_host_path(c, v, key, &c->spec->export_dir);
}

static int h_hostname(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r;

	r = get_nonempty_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (!al_spec_hostname_valid(s))
		return yerr(c, v, key,
		            "\"%s\" is not a valid RFC 1123 host name of at most 64 characters", s);
	r = al_spec_set_str(c->spec, &c->spec->hostname, s);
	return r < 0 ? al_error_set(c->err, -r, "spec", "%s: %s", c->name, key) : 0;
}

static int h_isolation(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r;

	r = get_nonempty_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (al_isolation_parse(s, &c->spec->isolation) < 0)
		return yerr(c, v, key, "\"%s\": expected namespaces, gvisor or microvm", s);
	return 0;
}

static int h_runsc(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_host_path(c, v, key, &c->spec->runsc);
}

static int h_trace_opens(struct yctx *c, const struct ynode *v, const char *key)
{
	return get_bool(c, v, key, &c->spec->trace_opens);
}

static int h_user(struct yctx *c, const struct ynode *v, const char *key)
{
	int r;

	if (v->type != Y_SCALAR || is_null(v))
		return yerr(c, v, key, "expected a uid or \"uid:gid\", got %s", type_name(v));
	r = al_parse_user(v->text, &c->spec->uid, &c->spec->gid);
	if (r == -ERANGE)
		return yerr(c, v, key,
		            "\"%s\": ids must be below 65536 (the sandbox maps 65536 ids)",
		            v->text);
	if (r < 0)
		return yerr(c, v, key, "expected a uid or \"uid:gid\", got \"%s\"", v->text);
	return 0;
}

static int h_env(struct yctx *c, const struct ynode *v, const char *key)
{
	if (v->type != Y_MAP)
		return yerr(c, v, key, "expected a mapping of NAME: value, got %s", type_name(v));
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->kids[i], *val = v->kids[i + 1];
		char item[280];
		const char *s;
		int r;

		if (k->type != Y_SCALAR || is_null(k) || k->text[0] == '\0' ||
		    strchr(k->text, '=') != NULL)
			return yerr(c, k, key, "invalid variable name (non-empty, without '=')");
		snprintf(item, sizeof item, "%s.%s", key, k->text);
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(v->kids[j]->text, k->text) == 0)
				return yerr(c, k, item, "duplicate key (first at line %d)",
				            v->kids[j]->line);
		r = get_string(c, val, item, &s);
		if (r < 0)
			return r;
		r = al_spec_set_env(c->spec, k->text, s);
		if (r == -E2BIG)
			return yerr(c, k, item, "more than %d variables", AL_SPEC_MAX_ENV);
		if (r < 0)
			return al_error_set(c->err, -r, "spec", "%s: %s", c->name, item);
	}
	return 0;
}

static int volume_mapping(struct yctx *c, const struct ynode *v, const char *key)
{
	const struct ynode *host = NULL, *path = NULL, *mode = NULL, *noexec = NULL, *owner = NULL;
	_cleanup_free_ char *habs = NULL;
	_cleanup_free_ char *sbox = NULL;
	struct al_volume *nv, opts = {0};
	const char *s;
	char item[300];
	int r;

	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->kids[i];
		const struct ynode **slot = NULL;

		if (k->type != Y_SCALAR || is_null(k))
			return yerr(c, k, key, "keys must be strings, got %s", type_name(k));
		snprintf(item, sizeof item, "%s.%s", key, k->text);
		if (strcmp(k->text, "host") == 0)
			slot = &host;
		else if (strcmp(k->text, "path") == 0)
			slot = &path;
		else if (strcmp(k->text, "mode") == 0)
			slot = &mode;
		else if (strcmp(k->text, "noexec") == 0)
			slot = &noexec;
		else if (strcmp(k->text, "owner") == 0)
			slot = &owner;
		else
			return yerr(c, k, item,
			            "unknown key (expected host, path, mode, noexec, owner)");
		if (*slot != NULL)
			return yerr(c, k, item, "duplicate key");
		*slot = v->kids[i + 1];
	}
	if (host == NULL)
		return yerr(c, v, key, "missing key host");
	if (path == NULL)
		return yerr(c, v, key, "missing key path");
	snprintf(item, sizeof item, "%s.host", key);
	r = get_nonempty_string(c, host, item, &s);
	if (r < 0)
		return r;
	habs = al_spec_host_path(c->base_dir, s);
	if (habs == NULL)
		return yerr(c, host, item, "resolving \"%s\": %s", s, strerror(errno));
	snprintf(item, sizeof item, "%s.path", key);
	r = get_nonempty_string(c, path, item, &s);
	if (r < 0)
		return r;
	if (!al_spec_sandbox_path_normal(s))
		return yerr(c, path, item,
		            "\"%s\" must be an absolute, normalised path (no \"..\", \".\", \"//\" "
		            "or trailing \"/\")",
		            s);
	sbox = strdup(s);
	if (sbox == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, key);
	if (mode != NULL) {
		snprintf(item, sizeof item, "%s.mode", key);
		r = get_string(c, mode, item, &s);
		if (r < 0)
			return r;
		if (strcmp(s, "rw") == 0)
			opts.rw = true;
		else if (strcmp(s, "ro") != 0)
			return yerr(c, mode, item, "must be ro or rw, not \"%s\"", s);
	}
	if (noexec != NULL) {
		snprintf(item, sizeof item, "%s.noexec", key);
		r = get_bool(c, noexec, item, &opts.noexec);
		if (r < 0)
			return r;
	}
	if (owner != NULL) {
		/* only "root" means anything: the owner airlock otherwise refuses to map */
		snprintf(item, sizeof item, "%s.owner", key);
		r = get_string(c, owner, item, &s);
		if (r < 0)
			return r;
		if (strcmp(s, "root") != 0)
			return yerr(c, owner, item,
			            "must be root (the only owner airlock needs told), not \"%s\"",
			            s);
		opts.owner_root = true;
	}
	nv = realloc(c->spec->volumes, (c->spec->n_volumes + 1) * sizeof *nv);
	if (nv == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, key);
	c->spec->volumes = nv;
	opts.host = TAKE_PTR(habs);
	opts.sandbox = TAKE_PTR(sbox);
	nv[c->spec->n_volumes++] = opts;
	return 0;
}

static int h_volumes(struct yctx *c, const struct ynode *v, const char *key)
{
	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list, got %s", type_name(v));
	if (v->n > SPEC_MAX_MAP_ENTRIES)
		return yerr(c, v, key, "more than %d volumes", SPEC_MAX_MAP_ENTRIES);
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *it = v->kids[i];
		char item[280];
		int r;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		if (it->type == Y_MAP) {
			r = volume_mapping(c, it, item);
		} else if (it->type == Y_SCALAR && !is_null(it)) {
			r = al_spec_add_volume_at(c->spec, it->text, c->base_dir, c->err);
			if (r < 0)
				return yerr(c, it, item, "%s", c->err->msg);
			if (!al_spec_sandbox_path_normal(
			        c->spec->volumes[c->spec->n_volumes - 1].sandbox))
				return yerr(c, it, item,
				            "sandbox path \"%s\" must be absolute and normalised "
				            "(no \"..\", \".\", "
				            "\"//\" or trailing \"/\")",
				            c->spec->volumes[c->spec->n_volumes - 1].sandbox);
		} else {
			r = yerr(c, it, item,
			         "expected \"HOST:SANDBOX[:OPTIONS]\" or {host, path, mode, "
			         "noexec, owner}, got %s",
			         type_name(it));
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* limits */

static int limit_size(struct yctx *c, const struct ynode *v, const char *key, const char *name,
                      uint64_t *out)
{
	uint64_t x;
	int r = get_size(c, v, key, &x);

	if (r < 0)
		return r;
	r = check_limit(c, v, key, name, x);
	if (r < 0)
		return r;
	*out = x;
	return 0;
}

static int limit_count(struct yctx *c, const struct ynode *v, const char *key, const char *name,
                       uint64_t *out)
{
	uint64_t x;
	int r = get_uint(c, v, key, UINT64_MAX, &x);

	if (r < 0)
		return r;
	r = check_limit(c, v, key, name, x);
	if (r < 0)
		return r;
	*out = x;
	return 0;
}

static int h_memory(struct yctx *c, const struct ynode *v, const char *key)
{
	return limit_size(c, v, key, "memory", &c->spec->limits.memory);
}

static int h_pids(struct yctx *c, const struct ynode *v, const char *key)
{
	uint64_t x;
	int r = limit_count(c, v, key, "pids", &x);

	if (r < 0)
		return r;
	al_spec_set_pids(c->spec, x);
	return 0;
}

static int h_cpus(struct yctx *c, const struct ynode *v, const char *key)
{
	char *end;
	double d;

	if (v->type != Y_SCALAR || is_null(v) || !v->plain)
		return yerr(c, v, key, "expected a number, got %s", type_name(v));
	/* decimal notation only: strtod would also take "inf", "nan" and hex */
	if (v->text[strspn(v->text, "0123456789.eE+-")] != '\0' || v->text[0] == '\0')
		return yerr(c, v, key, "expected a number, got \"%s\"", v->text);
	errno = 0;
	d = strtod(v->text, &end);
	if (errno != 0 || *end != '\0' || !isfinite(d))
		return yerr(c, v, key, "expected a number, got \"%s\"", v->text);
	if (d < 0.01 || d > 1024)
		return yerr(c, v, key, "%s is not in 0.01..1024", v->text);
	c->spec->limits.cpus = d;
	return 0;
}

static int h_disk(struct yctx *c, const struct ynode *v, const char *key)
{
	uint64_t x;
	int r = limit_size(c, v, key, "disk", &x);

	if (r < 0)
		return r;
	al_spec_set_disk(c->spec, x);
	return 0;
}

static int h_open_files(struct yctx *c, const struct ynode *v, const char *key)
{
	return limit_count(c, v, key, "open_files", &c->spec->limits.nofile);
}

static int h_nproc(struct yctx *c, const struct ynode *v, const char *key)
{
	int r = limit_count(c, v, key, "nproc", &c->spec->limits.nproc);

	if (r == 0)
		c->spec->limits.nproc_set = true;
	return r;
}

static int h_fsize(struct yctx *c, const struct ynode *v, const char *key)
{
	int r = limit_size(c, v, key, "fsize", &c->spec->limits.fsize);

	if (r == 0)
		c->spec->limits.fsize_set = true;
	return r;
}

static int h_output(struct yctx *c, const struct ynode *v, const char *key)
{
	return limit_size(c, v, key, "output", &c->spec->limits.output);
}

static int h_timeout(struct yctx *c, const struct ynode *v, const char *key)
{
	return get_duration(c, v, key, &c->spec->limits.timeout_ns);
}

static const struct key_def limits_keys[] = {
    {"memory", h_memory},         {"pids", h_pids},   {"cpus", h_cpus},   {"disk", h_disk},
    {"open_files", h_open_files}, {"nproc", h_nproc}, {"fsize", h_fsize}, {"output", h_output},
    {"timeout", h_timeout},
};

static int h_limits(struct yctx *c, const struct ynode *v, const char *key)
{
	return walk_map(c, v, key, limits_keys, AL_ARRAY_SIZE(limits_keys));
}

/* log */

static int h_log_path(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_host_path(c, v, key, &c->spec->log.path);
}

static int h_log_sink(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r;

	r = get_nonempty_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (!al_spec_sink_url_valid(s))
		return yerr(c, v, key,
		            "\"%s\" is not tcp://HOST:PORT, tls://HOST:PORT or relp://HOST:PORT",
		            s);
	r = al_spec_set_str(c->spec, &c->spec->log.sink, s);
	return r < 0 ? al_error_set(c->err, -r, "spec", "%s: %s", c->name, key) : 0;
}

static int h_log_on_sink_failure(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r;

	r = get_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (strcmp(s, "kill") == 0)
		c->spec->log.on_sink_failure = AL_SINK_FAILURE_KILL;
	else if (strcmp(s, "spool") == 0)
		c->spec->log.on_sink_failure = AL_SINK_FAILURE_SPOOL;
	else
		return yerr(c, v, key, "must be kill or spool, not \"%s\"", s);
	return 0;
}

static int h_log_signing_key(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_host_path(c, v, key, &c->spec->log.signing_key);
}

static int h_log_checkpoint_every(struct yctx *c, const struct ynode *v, const char *key)
{
	uint64_t x;
	int r = limit_count(c, v, key, "checkpoint_every", &x);

	if (r == 0)
		c->spec->log.checkpoint_every = (uint32_t)x;
	return r;
}

static int h_log_checkpoint_interval(struct yctx *c, const struct ynode *v, const char *key)
{
	uint64_t x;
	int r = get_duration(c, v, key, &x);

	if (r < 0)
		return r;
	if (x < 1000000ull)
		return yerr(c, v, key, "must be at least 1ms");
	c->spec->log.checkpoint_ns = x;
	return 0;
}

static int h_log_max_size(struct yctx *c, const struct ynode *v, const char *key)
{
	uint64_t x;
	int r = limit_size(c, v, key, "max_size", &x);

	if (r < 0)
		return r;
	if (x != 0 && x < 1024 * 1024)
		return yerr(c, v, key, "must be 0 (no cap) or at least 1MiB");
	c->spec->log.max_size = x;
	return 0;
}

static int h_log_spool_dir(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_host_path(c, v, key, &c->spec->log.spool_dir);
}

static int h_log_tls_ca(struct yctx *c, const struct ynode *v, const char *key)
{
	return set_host_path(c, v, key, &c->spec->log.tls_ca);
}

static const struct key_def log_keys[] = {
    {"path", h_log_path},
    {"sink", h_log_sink},
    {"on_sink_failure", h_log_on_sink_failure},
    {"signing_key", h_log_signing_key},
    {"checkpoint_every", h_log_checkpoint_every},
    {"checkpoint_interval", h_log_checkpoint_interval},
    {"max_size", h_log_max_size},
    {"spool_dir", h_log_spool_dir},
    {"tls_ca", h_log_tls_ca},
};

static int h_log(struct yctx *c, const struct ynode *v, const char *key)
{
	return walk_map(c, v, key, log_keys, AL_ARRAY_SIZE(log_keys));
}

/* network */

static int h_network_mode(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r;

	r = get_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (al_net_mode_parse(s, &c->spec->network.mode) < 0)
		return yerr(c, v, key, "unknown network mode \"%s\" (none or proxy)", s);
	return 0;
}

static int h_network_loopback_tcp(struct yctx *c, const struct ynode *v, const char *key)
{
	return get_bool(c, v, key, &c->spec->network.loopback_tcp);
}

/* A list of strings, each handed to add(); a bad item is reported at its
 * own position with what was expected. */
static int net_string_list(struct yctx *c, const struct ynode *v, const char *key,
                           int (*add)(struct yctx *c, const char *s), const char *expected)
{
	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list of %s, got %s", expected, type_name(v));
	for (size_t i = 0; i < v->n; i++) {
		char item[280];
		const char *s;
		int r;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		r = get_string(c, v->kids[i], item, &s);
		if (r < 0)
			return r;
		r = add(c, s);
		if (r == -ENOMEM)
			return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, item);
		if (r == -E2BIG)
			return yerr(c, v->kids[i], item, "too many entries");
		if (r == -EDOM)
			return yerr(c, v->kids[i], item,
			            "\"%s\" has bits set beyond its prefix length", s);
		if (r < 0)
			return yerr(c, v->kids[i], item, "\"%s\" is not %s", s, expected);
	}
	return 0;
}

static int add_allow_domain(struct yctx *c, const char *s)
{
	return al_spec_add_domain(c->spec, false, s);
}

static int add_deny_domain(struct yctx *c, const char *s)
{
	return al_spec_add_domain(c->spec, true, s);
}

static int add_cidr(struct yctx *c, const char *s)
{
	return al_spec_add_cidr(c->spec, s);
}

static int add_resolver(struct yctx *c, const char *s)
{
	return al_spec_add_resolver(c->spec, s);
}

static int h_network_allow_domains(struct yctx *c, const struct ynode *v, const char *key)
{
	return net_string_list(c, v, key, add_allow_domain,
	                       "a domain name (example.com or *.example.com)");
}

static int h_network_deny_domains(struct yctx *c, const struct ynode *v, const char *key)
{
	return net_string_list(c, v, key, add_deny_domain,
	                       "a domain name (example.com or *.example.com)");
}

static int h_network_allow_cidr(struct yctx *c, const struct ynode *v, const char *key)
{
	return net_string_list(c, v, key, add_cidr,
	                       "an address or CIDR (10.0.0.0/8, fd00::/8, 127.0.0.2)");
}

static int h_network_resolver(struct yctx *c, const struct ynode *v, const char *key)
{
	return net_string_list(c, v, key, add_resolver,
	                       "a resolver address (ADDR, ADDR:PORT or [V6ADDR]:PORT)");
}

static int h_network_allow_ports(struct yctx *c, const struct ynode *v, const char *key)
{
	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list of ports, got %s", type_name(v));
	for (size_t i = 0; i < v->n; i++) {
		char item[280], num[24];
		uint64_t port;
		int r;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		r = get_uint(c, v->kids[i], item, 65535, &port);
		if (r < 0)
			return r;
		if (port == 0)
			return yerr(c, v->kids[i], item, "port 0 is not a port");
		snprintf(num, sizeof num, "%llu", (unsigned long long)port);
		r = al_spec_add_port(c->spec, num);
		if (r == -E2BIG)
			return yerr(c, v->kids[i], item, "too many entries");
		if (r < 0)
			return al_error_set(c->err, -r, "spec", "%s: %s", c->name, item);
	}
	return 0;
}

static int h_network_hosts(struct yctx *c, const struct ynode *v, const char *key)
{
	if (v->type != Y_MAP)
		return yerr(c, v, key, "expected a mapping of name: address, got %s", type_name(v));
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->kids[i], *val = v->kids[i + 1];
		char item[560];
		const char *name, *addr;
		int r;

		r = get_string(c, k, key, &name);
		if (r < 0)
			return r;
		snprintf(item, sizeof item, "%s.%s", key, name);
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(v->kids[j]->text, name) == 0)
				return yerr(c, k, item, "duplicate key (first at line %d)",
				            v->kids[j]->line);
		r = get_string(c, val, item, &addr);
		if (r < 0)
			return r;
		r = al_spec_add_host(c->spec, name, addr);
		if (r == -ENOMEM)
			return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, item);
		if (r == -E2BIG)
			return yerr(c, k, item, "too many entries");
		if (r < 0) {
			struct al_net_addr a;
			if (al_net_addr_parse(addr, &a) < 0)
				return yerr(c, val, item, "\"%s\" is not an IPv4 or IPv6 address", addr);
			return yerr(c, k, item, "\"%s\" is not a host name", name);
		}
	}
	return 0;
}

static const struct key_def network_keys[] = {
    {"mode", h_network_mode},
    {"loopback_tcp", h_network_loopback_tcp},
    {"allow_domains", h_network_allow_domains},
    {"deny_domains", h_network_deny_domains},
    {"allow_ports", h_network_allow_ports},
    {"allow_cidr", h_network_allow_cidr},
    {"hosts", h_network_hosts},
    {"resolver", h_network_resolver},
};

static int h_network(struct yctx *c, const struct ynode *v, const char *key)
{
	return walk_map(c, v, key, network_keys, AL_ARRAY_SIZE(network_keys));
}

/* chaos */

/* A probability: a plain decimal in 0..1. */
static int get_probability(struct yctx *c, const struct ynode *v, const char *key, double *out)
{
	char *end;
	double d;

	if (v->type != Y_SCALAR || is_null(v) || !v->plain ||
	    v->text[strspn(v->text, "0123456789.eE+-")] != '\0' || v->text[0] == '\0')
		return yerr(c, v, key, "expected a probability between 0 and 1, got %s%s%s",
		            v->type == Y_SCALAR ? "\"" : type_name(v), v->type == Y_SCALAR ? v->text : "",
		            v->type == Y_SCALAR ? "\"" : "");
	errno = 0;
	d = strtod(v->text, &end);
	if (errno != 0 || *end != '\0' || !isfinite(d) || d < 0 || d > 1)
		return yerr(c, v, key, "%s is not a probability between 0 and 1", v->text);
	*out = d;
	return 0;
}

static int h_chaos_latency(struct yctx *c, const struct ynode *v, const char *key)
{
	c->spec->chaos.network = true;
	return get_duration(c, v, key, &c->spec->chaos.latency_ns);
}

static int h_chaos_jitter(struct yctx *c, const struct ynode *v, const char *key)
{
	c->spec->chaos.network = true;
	return get_duration(c, v, key, &c->spec->chaos.jitter_ns);
}

static int h_chaos_loss(struct yctx *c, const struct ynode *v, const char *key)
{
	c->spec->chaos.network = true;
	return get_probability(c, v, key, &c->spec->chaos.loss);
}

static int h_chaos_reset(struct yctx *c, const struct ynode *v, const char *key)
{
	c->spec->chaos.network = true;
	return get_probability(c, v, key, &c->spec->chaos.reset);
}

/* "1MiB/s" or a plain size (bytes per second). */
static int h_chaos_bandwidth(struct yctx *c, const struct ynode *v, const char *key)
{
	char buf[64];
	size_t n;
	int r;

	c->spec->chaos.network = true;
	if (v->type != Y_SCALAR || is_null(v))
		return yerr(c, v, key, "expected a rate such as 1MiB/s, got %s", type_name(v));
	n = strlen(v->text);
	if (n >= sizeof buf)
		return yerr(c, v, key, "invalid rate \"%s\"", v->text);
	memcpy(buf, v->text, n + 1);
	if (n > 2 && strcmp(buf + n - 2, "/s") == 0)
		buf[n - 2] = '\0';
	r = al_parse_size(buf, &c->spec->chaos.bandwidth);
	if (r < 0 || c->spec->chaos.bandwidth == 0)
		return yerr(c, v, key, "invalid rate \"%s\" (e.g. 1MiB/s, at least 1 byte/s)",
		            v->text);
	return 0;
}

static const struct key_def chaos_network_keys[] = {
    {"latency", h_chaos_latency},     {"jitter", h_chaos_jitter}, {"loss", h_chaos_loss},
    {"reset", h_chaos_reset},         {"bandwidth", h_chaos_bandwidth},
};

static int h_chaos_network(struct yctx *c, const struct ynode *v, const char *key)
{
	c->spec->chaos.network = true;
	return walk_map(c, v, key, chaos_network_keys, AL_ARRAY_SIZE(chaos_network_keys));
}

static int h_chaos_seed(struct yctx *c, const struct ynode *v, const char *key)
{
	c->spec->chaos.seed_set = true;
	return get_uint(c, v, key, UINT64_MAX, &c->spec->chaos.seed);
}

static int h_allow_degraded(struct yctx *c, const struct ynode *v, const char *key)
{
	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list of names, got %s", type_name(v));
	for (size_t i = 0; i < v->n; i++) {
		char item[280];
		const char *s;
		uint32_t bit;
		int r;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		r = get_string(c, v->kids[i], item, &s);
		if (r < 0)
			return r;
		if (al_degradation_parse(s, &bit) < 0)
			return yerr(c, v->kids[i], item,
			            "unknown degradation \"%s\" (known: landlock, cgroup, timens, "
			            "seccomp-notify)",
			            s);
		c->spec->allow_degraded |= bit;
	}
	return 0;
}

/* rules, alert (tripwires: docs/spec.md, src/monitor/) */

static int rule_glob(struct yctx *c, const struct ynode *v, const char *key, char **field)
{
	const char *s;
	int r = get_nonempty_string(c, v, key, &s);

	if (r < 0)
		return r;
	free(*field);
	*field = strdup(s);
	if (*field == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, key);
	return 0;
}

static int h_match_path(struct yctx *c, const struct ynode *v, const char *key)
{
	return rule_glob(c, v, key, &c->rule->path);
}
static int h_match_argv(struct yctx *c, const struct ynode *v, const char *key)
{
	return rule_glob(c, v, key, &c->rule->argv);
}
static int h_match_host(struct yctx *c, const struct ynode *v, const char *key)
{
	return rule_glob(c, v, key, &c->rule->host);
}
static int h_match_syscall(struct yctx *c, const struct ynode *v, const char *key)
{
	return rule_glob(c, v, key, &c->rule->syscall);
}
static int h_match_text(struct yctx *c, const struct ynode *v, const char *key)
{
	return rule_glob(c, v, key, &c->rule->text);
}
static int h_match_contains(struct yctx *c, const struct ynode *v, const char *key)
{
	return rule_glob(c, v, key, &c->rule->contains); /* (a plain string) */
}
static int h_match_stream(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r = get_string(c, v, key, &s);

	if (r < 0)
		return r;
	if (strcmp(s, "stdout") == 0)
		c->rule->stream = 1;
	else if (strcmp(s, "stderr") == 0)
		c->rule->stream = 2;
	else
		return yerr(c, v, key, "must be stdout or stderr, not \"%s\"", s);
	return 0;
}
static int h_match_origin(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r = get_string(c, v, key, &s);

	if (r < 0)
		return r;
	if (strcmp(s, "image") == 0)
		c->rule->origin = AL_ORIGIN_IMAGE;
	else if (strcmp(s, "writable") == 0)
		c->rule->origin = AL_ORIGIN_WRITABLE;
	else
		return yerr(c, v, key, "must be image or writable, not \"%s\"", s);
	return 0;
}
static int h_match_pkg(struct yctx *c, const struct ynode *v, const char *key)
{
	bool b;
	int r = get_bool(c, v, key, &b);

	if (r == 0)
		c->rule->package_manager = b ? 1 : 0;
	return r;
}

static const struct key_def match_keys[] = {
    {"path", h_match_path},       {"argv", h_match_argv},     {"host", h_match_host},
    {"syscall", h_match_syscall}, {"origin", h_match_origin}, {"package_manager", h_match_pkg},
    {"text", h_match_text},       {"contains", h_match_contains}, {"stream", h_match_stream},
};

static int h_rule_on(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r = get_string(c, v, key, &s);

	if (r < 0)
		return r;
	if (al_rule_on_parse(s, &c->rule->on) < 0)
		return yerr(c, v, key,
		            "unknown event \"%s\" (known: exec, canary, exfil, canary_output, "
		            "egress-denied, dns-denied, syscall-denied, limit, output)",
		            s);
	return 0;
}
static int h_rule_match(struct yctx *c, const struct ynode *v, const char *key)
{
	return walk_map(c, v, key, match_keys, AL_ARRAY_SIZE(match_keys));
}
static int h_rule_count(struct yctx *c, const struct ynode *v, const char *key)
{
	uint64_t x;
	int r = get_uint(c, v, key, AL_SPEC_MAX_RULE_COUNT, &x);

	if (r < 0)
		return r;
	if (x == 0)
		return yerr(c, v, key, "must be at least 1");
	c->rule->count = (uint32_t)x;
	return 0;
}
static int h_rule_within(struct yctx *c, const struct ynode *v, const char *key)
{
	return get_duration(c, v, key, &c->rule->within_ns);
}
static int h_rule_action(struct yctx *c, const struct ynode *v, const char *key)
{
	const struct ynode *items[8];
	size_t n = 0;
	bool have = false;

	/* "kill", or a list such as [kill, alert] */
	if (v->type == Y_SEQ) {
		if (v->n == 0 || v->n > 8)
			return yerr(c, v, key, "expected one to four actions");
		for (size_t i = 0; i < v->n; i++)
			items[n++] = v->kids[i];
	} else {
		items[n++] = v;
	}
	for (size_t i = 0; i < n; i++) {
		const char *s;
		enum al_rule_action a;
		int r = get_string(c, items[i], key, &s);

		if (r < 0)
			return r;
		if (strcmp(s, "alert") == 0) {
			c->rule->alert = true;
			continue;
		}
		if (al_rule_action_parse(s, &a) < 0)
			return yerr(c, items[i], key,
			            "unknown action \"%s\" (log, deny, kill, and alert in addition)",
			            s);
		if (have && a != c->rule->action)
			return yerr(c, items[i], key, "more than one of log, deny, kill");
		c->rule->action = a;
		have = true;
	}
	return 0;
}

static const struct key_def rule_keys[] = {
    {"on", h_rule_on},         {"match", h_rule_match},   {"count", h_rule_count},
    {"within", h_rule_within}, {"action", h_rule_action},
};

static int h_rules(struct yctx *c, const struct ynode *v, const char *key)
{
	struct al_spec *sp = c->spec;

	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list of rules, got %s", type_name(v));
	if (sp->n_rules + v->n > AL_SPEC_MAX_RULES)
		return yerr(c, v, key, "more than %d rules", AL_SPEC_MAX_RULES);
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *it = v->kids[i];
		struct al_rule *nr;
		char item[280];
		bool has_on = false, has_action = false;
		int r;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		if (it->type != Y_MAP)
			return yerr(c, it, item, "expected {on, match, count, within, action}, got %s",
			            type_name(it));
		nr = realloc(sp->rules, (sp->n_rules + 1) * sizeof *nr);
		if (nr == NULL)
			return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, item);
		sp->rules = nr;
		memset(&nr[sp->n_rules], 0, sizeof *nr);
		nr[sp->n_rules].package_manager = -1;
		nr[sp->n_rules].action = AL_ACT_LOG;
		c->rule = &nr[sp->n_rules];
		sp->n_rules++;
		for (size_t k = 0; k + 1 < it->n; k += 2) {
			if (it->kids[k]->type == Y_SCALAR && strcmp(it->kids[k]->text, "on") == 0)
				has_on = true;
			if (it->kids[k]->type == Y_SCALAR && strcmp(it->kids[k]->text, "action") == 0)
				has_action = true;
		}
		if (!has_on)
			return yerr(c, it, item, "a rule needs \"on\"");
		if (!has_action)
			return yerr(c, it, item, "a rule needs \"action\"");
		r = walk_map(c, it, item, rule_keys, AL_ARRAY_SIZE(rule_keys));
		if (r < 0)
			return r;
		if (c->rule->within_ns && c->rule->count < 2)
			return yerr(c, it, item, "\"within\" needs a \"count\" of 2 or more");
		if (c->rule->action == AL_ACT_DENY && !al_rule_deny_possible(c->rule->on))
			return yerr(c, it, item,
			            "deny is possible only on exec and canary (a %s event has "
			            "already happened or was already refused); use log or kill",
			            al_rule_on_name(c->rule->on));
		if ((c->rule->origin || c->rule->package_manager >= 0) &&
		    c->rule->on != AL_ON_EXEC)
			return yerr(c, it, item, "origin and package_manager apply to exec rules only");
		if ((c->rule->text || c->rule->contains || c->rule->stream) &&
		    c->rule->on != AL_ON_OUTPUT)
			return yerr(c, it, item, "text, contains and stream apply to output rules only");
		/* an output rule on every line would only be noise (or a kill on
		 * the first line): it must say what it looks for */
		if (c->rule->on == AL_ON_OUTPUT && !c->rule->text && !c->rule->contains)
			return yerr(c, it, item,
			            "an output rule needs match.text (a glob on a line) or "
			            "match.contains (a string)");
	}
	return 0;
}

static int h_default_rules(struct yctx *c, const struct ynode *v, const char *key)
{
	return get_bool(c, v, key, &c->spec->default_rules);
}

static int h_alert_webhook(struct yctx *c, const struct ynode *v, const char *key)
{
	const char *s;
	int r = get_nonempty_string(c, v, key, &s);

	if (r < 0)
		return r;
	if (!al_alert_url_valid(s))
		return yerr(c, v, key, "\"%s\" is not http://HOST[:PORT][/PATH]", s);
	r = al_spec_set_str(c->spec, &c->spec->alert.webhook, s);
	return r < 0 ? al_error_set(c->err, -r, "spec", "%s: %s", c->name, key) : 0;
}

static int h_alert_command(struct yctx *c, const struct ynode *v, const char *key)
{
	struct al_alert_spec *a = &c->spec->alert;

	if (v->type != Y_SEQ || v->n == 0 || v->n > 256)
		return yerr(c, v, key, "expected a non-empty list of strings (an argv)");
	for (size_t i = 0; i < a->command_n; i++)
		free(a->command[i]);
	free(a->command);
	a->command_n = 0;
	a->command = calloc(v->n + 1, sizeof *a->command);
	if (a->command == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, key);
	for (size_t i = 0; i < v->n; i++) {
		const char *s;
		int r = get_string(c, v->kids[i], key, &s);
		if (r < 0)
			return r;
		if (i == 0 && s[0] != '/')
			return yerr(c, v->kids[i], key, "the command must be an absolute host path");
		a->command[i] = strdup(s);
		if (a->command[i] == NULL)
			return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, key);
		a->command_n++;
	}
	return 0;
}

static int h_alert_timeout(struct yctx *c, const struct ynode *v, const char *key)
{
	uint64_t x;
	int r = get_duration(c, v, key, &x);

	if (r < 0)
		return r;
	if (x > 60ull * 1000000000ull)
		return yerr(c, v, key, "at most 60s");
	c->spec->alert.timeout_ns = x;
	return 0;
}

static const struct key_def alert_keys[] = {
    {"webhook", h_alert_webhook},
    {"command", h_alert_command},
    {"timeout", h_alert_timeout},
};

static int h_alert(struct yctx *c, const struct ynode *v, const char *key)
{
	return walk_map(c, v, key, alert_keys, AL_ARRAY_SIZE(alert_keys));
}

/* canaries */

static int h_canaries(struct yctx *c, const struct ynode *v, const char *key)
{
	struct al_spec *sp = c->spec;

	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list of canaries, got %s", type_name(v));
	if (sp->n_canaries + v->n > AL_SPEC_MAX_CANARIES)
		return yerr(c, v, key, "more than %d canaries", AL_SPEC_MAX_CANARIES);
	for (size_t i = 0; i < v->n; i++) {
		const struct ynode *it = v->kids[i];
		struct al_canary_spec *nc, *cs;
		char item[280];
		bool has_kind = false;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		if (it->type != Y_MAP)
			return yerr(c, it, item, "expected {kind, path, name, content}, got %s",
			            type_name(it));
		nc = realloc(sp->canaries, (sp->n_canaries + 1) * sizeof *nc);
		if (nc == NULL)
			return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, item);
		sp->canaries = nc;
		cs = &nc[sp->n_canaries++];
		memset(cs, 0, sizeof *cs);
		for (size_t k = 0; k + 1 < it->n; k += 2) {
			const struct ynode *kn = it->kids[k], *vn = it->kids[k + 1];
			char sub[300];
			const char *str;
			char **field = NULL;
			int r;

			if (kn->type != Y_SCALAR || is_null(kn))
				return yerr(c, kn, item, "keys must be strings");
			snprintf(sub, sizeof sub, "%s.%s", item, kn->text);
			for (size_t j = 0; j < k; j += 2)
				if (strcmp(it->kids[j]->text, kn->text) == 0)
					return yerr(c, kn, sub, "duplicate key");
			if (strcmp(kn->text, "kind") == 0) {
				r = get_string(c, vn, sub, &str);
				if (r < 0)
					return r;
				if (al_canary_kind_parse(str, &cs->kind) < 0)
					return yerr(c, vn, sub,
					            "unknown kind \"%s\" (aws-credentials, ssh-key, "
					            "gcp-service-account, dotenv, env, file)",
					            str);
				has_kind = true;
				continue;
			}
			if (strcmp(kn->text, "path") == 0) {
				r = set_sandbox_path(c, vn, sub, &cs->path);
				if (r < 0)
					return r;
				continue;
			}
			if (strcmp(kn->text, "name") == 0)
				field = &cs->name;
			else if (strcmp(kn->text, "content") == 0)
				field = &cs->content;
			else
				return yerr(c, kn, sub, "unknown key");
			r = get_string(c, vn, sub, &str);
			if (r < 0)
				return r;
			if (strlen(str) > 65536)
				return yerr(c, vn, sub, "longer than 64 KiB");
			free(*field);
			*field = strdup(str);
			if (*field == NULL)
				return al_error_set(c->err, ENOMEM, "spec", "%s: %s", c->name, sub);
		}
		if (!has_kind)
			return yerr(c, it, item, "a canary needs \"kind\"");
		if (cs->kind == AL_CANARY_ENV && cs->path)
			return yerr(c, it, item, "an env canary has a name, not a path");
		if (cs->kind != AL_CANARY_ENV && cs->name)
			return yerr(c, it, item, "only an env canary has a name");
		if (cs->kind != AL_CANARY_FILE && cs->content)
			return yerr(c, it, item, "only a file canary has content");
		if (cs->kind == AL_CANARY_FILE && cs->content && !strstr(cs->content, "{token}"))
			return yerr(c, it, item, "a file canary's content must contain {token}");
		if (cs->name) {
			size_t nl = strlen(cs->name);
			if (nl == 0 || strspn(cs->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != nl)
				return yerr(c, it, item, "name must be a variable name ([A-Za-z0-9_]+)");
			/* LD_ variables are recorded in every exec record: the token
			 * would be in the log */
			if (strncmp(cs->name, "LD_", 3) == 0)
				return yerr(c, it, item, "an env canary cannot be an LD_ variable (exec "
				                         "records hold those)");
		}
	}
	return 0;
}

/* chaos (docs/chaos.md) */

/* A probability in (0, 1], decimal notation. */
static int get_rate(struct yctx *c, const struct ynode *v, const char *key, double *out)
{
	char *end;
	double d;

	if (v->type != Y_SCALAR || is_null(v) || !v->plain || v->text[0] == '\0' ||
	    v->text[strspn(v->text, "0123456789.eE+-")] != '\0')
		return yerr(c, v, key, "expected a number in (0, 1], got %s%s%s", type_name(v),
		            v->type == Y_SCALAR ? " " : "", v->type == Y_SCALAR ? v->text : "");
	errno = 0;
	d = strtod(v->text, &end);
	if (errno != 0 || *end != '\0' || !isfinite(d) || !(d > 0) || d > 1)
		return yerr(c, v, key, "expected a number in (0, 1], got %s", v->text);
	*out = d;
	return 0;
}

static int chaos_syscall_rule(struct yctx *c, const struct ynode *it, const char *item)
{
	struct al_chaos_spec *ch = &c->spec->chaos;
	struct al_chaos_syscall *r = &ch->syscalls[ch->n_syscalls];
	const struct ynode *trig = NULL;
	char key[300];
	int r_;

	if (it->type != Y_MAP)
		return yerr(c, it, item,
		            "expected {syscall, errno, rate | after | every, paths, max}, got %s",
		            type_name(it));
	memset(r, 0, sizeof *r);
	ch->n_syscalls++; /* owned from here: freed with the spec on error */
	for (size_t i = 0; i + 1 < it->n; i += 2) {
		const struct ynode *k = it->kids[i], *v = it->kids[i + 1];
		const char *s;

		if (k->type != Y_SCALAR || is_null(k))
			return yerr(c, k, item, "keys must be strings, got %s", type_name(k));
		snprintf(key, sizeof key, "%s.%s", item, k->text);
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(it->kids[j]->text, k->text) == 0)
				return yerr(c, k, key, "duplicate key (first at line %d)",
				            it->kids[j]->line);
		if (strcmp(k->text, "syscall") == 0) {
			r_ = get_nonempty_string(c, v, key, &s);
			if (r_ < 0)
				return r_;
			if (seccomp_syscall_resolve_name(s) < 0)
				return yerr(c, v, key, "unknown syscall \"%s\"", s);
			if (strcmp(s, "execve") == 0 || strcmp(s, "execveat") == 0)
				return yerr(c, v, key,
				            "%s cannot be a chaos target (every exec is already "
				            "supervised and recorded)",
				            s);
			if ((r->syscall = strdup(s)) == NULL)
				return al_error_set(c->err, ENOMEM, "spec", "allocating");
		} else if (strcmp(k->text, "errno") == 0) {
			r_ = get_string(c, v, key, &s);
			if (r_ < 0)
				return r_;
			r->err = al_chaos_errno_parse(s);
			if (r->err < 0)
				return yerr(c, v, key,
				            "unknown or unsupported errno \"%s\" (a name such as EIO, "
				            "ENOSPC, ECONNREFUSED; docs/chaos.md lists them)",
				            s);
		} else if (strcmp(k->text, "rate") == 0 || strcmp(k->text, "after") == 0 ||
		           strcmp(k->text, "every") == 0) {
			if (trig != NULL)
				return yerr(c, k, key,
				            "only one of rate, after, every (already %s at line %d)",
				            trig->text, trig->line);
			trig = k;
			if (k->text[0] == 'r') {
				r->trigger = AL_CHAOS_RATE;
				r_ = get_rate(c, v, key, &r->rate);
			} else {
				r->trigger = k->text[0] == 'a' ? AL_CHAOS_AFTER : AL_CHAOS_EVERY;
				r_ = get_uint(c, v, key, UINT64_MAX, &r->n);
				if (r_ == 0 && r->trigger == AL_CHAOS_EVERY && r->n == 0)
					r_ = yerr(c, v, key, "must be at least 1");
			}
			if (r_ < 0)
				return r_;
		} else if (strcmp(k->text, "paths") == 0) {
			r_ = get_nonempty_string(c, v, key, &s);
			if (r_ < 0)
				return r_;
			if (!al_glob_valid(s))
				return yerr(c, v, key,
				            "invalid path glob \"%s\" (absolute; *, **, ?, [set]; ** "
				            "only as a whole component)",
				            s);
			if ((r->paths = strdup(s)) == NULL)
				return al_error_set(c->err, ENOMEM, "spec", "allocating");
		} else if (strcmp(k->text, "max") == 0) {
			r_ = get_uint(c, v, key, UINT64_MAX, &r->max);
			if (r_ < 0)
				return r_;
		} else {
			return yerr(c, k, key, "unknown key");
		}
	}
	if (r->syscall == NULL)
		return yerr(c, it, item, "missing key \"syscall\"");
	if (r->err == 0)
		return yerr(c, it, item, "missing key \"errno\"");
	if (trig == NULL)
		return yerr(c, it, item, "needs one of rate, after, every");
	if (r->paths != NULL && al_chaos_path_arg(r->syscall) < 0)
		return yerr(c, it, item, "paths: %s takes no path (docs/chaos.md lists the calls)",
		            r->syscall);
	return 0;
}

static int h_chaos_syscalls(struct yctx *c, const struct ynode *v, const char *key)
{
	struct al_chaos_spec *ch = &c->spec->chaos;

	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list, got %s", type_name(v));
	if (v->n > AL_CHAOS_MAX_SYSCALLS)
		return yerr(c, v, key, "more than %d rules", AL_CHAOS_MAX_SYSCALLS);
	al_chaos_spec_free_syscalls(ch);
	if (v->n == 0)
		return 0;
	ch->syscalls = calloc(v->n, sizeof *ch->syscalls);
	if (ch->syscalls == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "allocating chaos rules");
	for (size_t i = 0; i < v->n; i++) {
		char item[280];
		int r;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		r = chaos_syscall_rule(c, v->kids[i], item);
		if (r < 0)
			return r;
	}
	return 0;
}

static int chaos_step(struct yctx *c, const struct ynode *it, const char *item,
                      struct al_chaos_step *st)
{
	bool have_at = false;
	char key[300];
	int r;

	if (it->type != Y_MAP)
		return yerr(c, it, item, "expected {at, memory | cpus | pids | disk}, got %s",
		            type_name(it));
	memset(st, 0, sizeof *st);
	for (size_t i = 0; i + 1 < it->n; i += 2) {
		const struct ynode *k = it->kids[i], *v = it->kids[i + 1];
		uint64_t x;

		if (k->type != Y_SCALAR || is_null(k))
			return yerr(c, k, item, "keys must be strings, got %s", type_name(k));
		snprintf(key, sizeof key, "%s.%s", item, k->text);
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(it->kids[j]->text, k->text) == 0)
				return yerr(c, k, key, "duplicate key (first at line %d)",
				            it->kids[j]->line);
		if (strcmp(k->text, "at") == 0) {
			r = get_duration(c, v, key, &st->at_ns);
			have_at = true;
		} else if (strcmp(k->text, "memory") == 0) {
			r = get_size(c, v, key, &x);
			if (r == 0)
				r = check_limit(c, v, key, "memory", x);
			st->memory = x;
			st->what |= AL_CHAOS_RES_MEMORY;
		} else if (strcmp(k->text, "pids") == 0) {
			r = get_uint(c, v, key, UINT64_MAX, &x);
			if (r == 0)
				r = check_limit(c, v, key, "pids", x);
			st->pids = x;
			st->what |= AL_CHAOS_RES_PIDS;
		} else if (strcmp(k->text, "disk") == 0) {
			r = get_size(c, v, key, &x);
			if (r == 0)
				r = check_limit(c, v, key, "disk", x);
			st->disk = x;
			st->what |= AL_CHAOS_RES_DISK;
		} else if (strcmp(k->text, "cpus") == 0) {
			double saved = c->spec->limits.cpus;
			r = h_cpus(c, v, key); /* same syntax and range as limits.cpus */
			st->cpus = c->spec->limits.cpus;
			c->spec->limits.cpus = saved;
			st->what |= AL_CHAOS_RES_CPUS;
		} else {
			return yerr(c, k, key, "unknown key");
		}
		if (r < 0)
			return r;
	}
	if (!have_at)
		return yerr(c, it, item, "missing key \"at\"");
	if (st->what == 0)
		return yerr(c, it, item, "names no resource (memory, cpus, pids, disk)");
	return 0;
}

static int h_chaos_resources(struct yctx *c, const struct ynode *v, const char *key)
{
	struct al_chaos_spec *ch = &c->spec->chaos;

	if (v->type != Y_SEQ)
		return yerr(c, v, key, "expected a list, got %s", type_name(v));
	if (v->n > AL_CHAOS_MAX_STEPS)
		return yerr(c, v, key, "more than %d steps", AL_CHAOS_MAX_STEPS);
	free(ch->steps);
	ch->steps = NULL;
	ch->n_steps = 0;
	if (v->n == 0)
		return 0;
	ch->steps = calloc(v->n, sizeof *ch->steps);
	if (ch->steps == NULL)
		return al_error_set(c->err, ENOMEM, "spec", "allocating chaos steps");
	for (size_t i = 0; i < v->n; i++) {
		char item[280];
		int r;

		snprintf(item, sizeof item, "%s[%zu]", key, i);
		r = chaos_step(c, v->kids[i], item, &ch->steps[i]);
		if (r < 0)
			return r;
		if (i > 0 && ch->steps[i].at_ns < ch->steps[i - 1].at_ns)
			return yerr(c, v->kids[i], item, "steps must be in order of \"at\"");
		ch->n_steps++;
	}
	return 0;
}

#define AL_CHAOS_MAX_OFFSET_NS (3650ull * 86400 * 1000000000ull)

/* "+3d", "-90m", "2h": a signed duration; d (days) on top of the usual units. */
static int get_offset(struct yctx *c, const struct ynode *v, const char *key, int64_t *out)
{
	const char *s;
	char buf[64];
	bool neg = false;
	uint64_t ns, mul = 1;
	size_t len;
	int r;

	r = get_string(c, v, key, &s);
	if (r < 0)
		return r;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	len = strlen(s);
	if (len == 0 || len >= sizeof buf)
		return yerr(c, v, key, "invalid offset \"%s\" (e.g. +3d, -2h, 90m)", v->text);
	memcpy(buf, s, len + 1);
	if (buf[len - 1] == 'd') {
		buf[len - 1] = 'h';
		mul = 24;
	}
	r = al_parse_duration(buf, &ns);
	if (r < 0 && r != -ERANGE)
		return yerr(c, v, key, "invalid offset \"%s\" (e.g. +3d, -2h, 90m)", v->text);
	/* ten years either way: far beyond any test, far inside the kernel's range */
	if (r < 0 || ns > AL_CHAOS_MAX_OFFSET_NS / mul)
		return yerr(c, v, key, "offset \"%s\" is out of range (at most 3650d)", v->text);
	ns *= mul;
	*out = neg ? -(int64_t)ns : (int64_t)ns;
	return 0;
}

static int h_chaos_clock_offset(struct yctx *c, const struct ynode *v, const char *key)
{
	return get_offset(c, v, key, &c->spec->chaos.clock_offset_ns);
}

static int h_chaos_clock_realtime(struct yctx *c, const struct ynode *v, const char *key)
{
	return get_offset(c, v, key, &c->spec->chaos.realtime_skew_ns);
}

static const struct key_def chaos_clock_keys[] = {
    {"offset", h_chaos_clock_offset},
    {"realtime", h_chaos_clock_realtime},
};

static int h_chaos_clock(struct yctx *c, const struct ynode *v, const char *key)
{
	return walk_map(c, v, key, chaos_clock_keys, AL_ARRAY_SIZE(chaos_clock_keys));
}

static const struct key_def chaos_keys[] = {
    {"seed", h_chaos_seed},
    {"network", h_chaos_network},
    {"syscalls", h_chaos_syscalls},
    {"resources", h_chaos_resources},
    {"clock", h_chaos_clock},
};

static int h_chaos(struct yctx *c, const struct ynode *v, const char *key)
{
	c->spec->chaos.enabled = true;
	return walk_map(c, v, key, chaos_keys, AL_ARRAY_SIZE(chaos_keys));
}

/* session: used by `airlock create` */

static int h_session_idle(struct yctx *c, const struct ynode *v, const char *key)
{
	int r = get_duration(c, v, key, &c->spec->session.idle_timeout_ns);
	if (r == 0)
		c->spec->session.idle_timeout_set = true;
	return r;
}

static int h_session_lifetime(struct yctx *c, const struct ynode *v, const char *key)
{
	int r = get_duration(c, v, key, &c->spec->session.max_lifetime_ns);
	if (r < 0)
		return r;
	if (c->spec->session.max_lifetime_ns == 0)
		return yerr(c, v, key, "a session's maximum lifetime cannot be none: give a duration");
	c->spec->session.max_lifetime_set = true;
	return 0;
}

static const struct key_def session_keys[] = {
    {"idle_timeout", h_session_idle},
    {"max_lifetime", h_session_lifetime},
};

static int h_session(struct yctx *c, const struct ynode *v, const char *key)
{
	return walk_map(c, v, key, session_keys, AL_ARRAY_SIZE(session_keys));
}

static const struct key_def top_keys[] = {
    {"command", h_command},
    {"image", h_image},
    {"image_digest", h_image_digest},
    {"workdir", h_workdir},
    {"workspace", h_workspace},
    {"export", h_export},
    {"hostname", h_hostname},
    {"user", h_user},
    {"env", h_env},
    {"volumes", h_volumes},
    {"limits", h_limits},
    {"log", h_log},
    {"network", h_network},
    {"allow_degraded", h_allow_degraded},
    {"rules", h_rules},
    {"default_rules", h_default_rules},
    {"alert", h_alert},
    {"canaries", h_canaries},
    {"chaos", h_chaos},
    {"session", h_session},
    {"isolation", h_isolation},
    {"runsc", h_runsc},
    {"trace_opens", h_trace_opens},
};

static bool name_is_json(const char *name)
{
	size_t n = strlen(name);

	return n >= 5 && strcmp(name + n - 5, ".json") == 0;
}

static int load_text(struct al_spec *spec, const char *name, const char *base_dir, const char *text,
                     size_t len, struct al_error *err)
{
	struct yctx c = {.spec = spec, .name = name, .base_dir = base_dir, .err = err};
	_cleanup_ynode_ struct ynode *root = NULL;
	int r;

	int line, col;
	long bad;

	if (len > SPEC_MAX_BYTES)
		return al_error_set(err, EFBIG, "spec", "%s: larger than %d bytes", name,
		                    SPEC_MAX_BYTES);
	if (check_charset(text, len, &line, &col, &bad) < 0) {
		if (bad < 0)
			return yerr_at(&c, line, col, NULL, "invalid UTF-8");
		return yerr_at(&c, line, col, NULL,
		               "control character U+%04lX is not allowed in YAML", bad);
	}
	r = build_tree(&c, text, len, name_is_json(name), &root);
	if (r < 0)
		return r;
	/* an empty file (or only comments) is the all-defaults spec */
	if (root == NULL || is_null(root))
		return 0;
	if (root->type != Y_MAP)
		return yerr(&c, root, NULL, "the spec must be a mapping of keys, got %s",
		            type_name(root));
	return walk_map(&c, root, "", top_keys, AL_ARRAY_SIZE(top_keys));
}

int al_spec_load_string(struct al_spec *spec, const char *name, const char *text, size_t len,
                        struct al_error *err)
{
	return load_text(spec, name ? name : "<string>", NULL, text, len, err);
}

/* Read a spec to EOF, at most SPEC_MAX_BYTES: the size stat reports is not
 * trusted (procfs and sysfs files say 0, a file can grow while read). An
 * anonymous pipe (`--spec <(gen)`, `--spec /dev/stdin`) is read too, but
 * never waited for longer than SPEC_PIPE_WAIT_MS without a byte: a writer
 * that neither writes nor closes would otherwise hang airlock. Returns the
 * length, or -errno with err set. */
static ssize_t read_spec_fd(int fd, const char *path, bool is_pipe, char *text,
                            struct al_error *err)
{
	size_t got = 0;

	for (;;) {
		ssize_t n;
		if (is_pipe) {
			/* wait for data or the writer's close, boundedly */
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int pr = poll(&p, 1, SPEC_PIPE_WAIT_MS);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr < 0)
				return al_error_errno(err, "spec", "reading spec %s", path);
			if (pr == 0)
				return al_error_set(err, 0, "spec",
				                    "spec %s: nothing written to the pipe for %d s", path,
				                    SPEC_PIPE_WAIT_MS / 1000);
		}
		/* one byte more than allowed tells "too large" from "exactly full" */
		n = read(fd, text + got, SPEC_MAX_BYTES + 1 - got);
		if (n < 0 && (errno == EINTR || (errno == EAGAIN && is_pipe)))
			continue;
		/* a "regular" file that would block (/proc/kmsg): never spin on it */
		if (n < 0 && errno == EAGAIN)
			return al_error_set(err, 0, "spec", "spec %s: reading it would block", path);
		if (n < 0)
			return al_error_errno(err, "spec", "reading spec %s", path);
		if (n == 0)
			return (ssize_t)got;
		got += (size_t)n;
		if (got > SPEC_MAX_BYTES)
			return al_error_set(err, EFBIG, "spec", "spec %s is larger than %d bytes", path,
			                    SPEC_MAX_BYTES);
	}
}

#ifndef PIPEFS_MAGIC
#define PIPEFS_MAGIC 0x50495045
#endif

static bool fd_is_anonymous_pipe(int fd)
{
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 && sf.f_type == PIPEFS_MAGIC;
}

int al_spec_load_file(struct al_spec *spec, const char *path, struct al_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *abs = NULL;
	_cleanup_free_ char *dir = NULL;
	struct stat st;
	ssize_t got;
	int r;

	/* O_NONBLOCK: a FIFO given as the spec must not hang airlock in open() */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return al_error_errno(err, "spec", "opening spec %s", path);
	if (fstat(fd, &st) < 0)
		return al_error_errno(err, "spec", "stat spec %s", path);
	/* devices (/dev/zero, a terminal), sockets, directories and named FIFOs
	 * (which anyone may open for writing, or nobody) are not specs; an
	 * anonymous pipe handed to us (`<(gen)`, /dev/stdin) is */
	if (S_ISFIFO(st.st_mode) && !fd_is_anonymous_pipe(fd))
		return al_error_set(err, EINVAL, "spec",
		                    "spec %s is not a regular file (a named FIFO)", path);
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		return al_error_set(err, EINVAL, "spec",
		                    "spec %s is not a regular file or a pipe", path);
	text = malloc(SPEC_MAX_BYTES + 2);
	if (text == NULL)
		return al_error_set(err, ENOMEM, "spec", "reading spec %s", path);
	got = read_spec_fd(fd, path, S_ISFIFO(st.st_mode), text, err);
	if (got < 0)
		return (int)got;
	text[got] = '\0';

	/* relative host paths in a spec are relative to the spec, not to wherever airlock was
	 * started */
	abs = al_spec_host_path(NULL, path);
	if (abs == NULL)
		return al_error_errno(err, "spec", "resolving spec path %s", path);
	dir = strdup(abs);
	if (dir == NULL)
		return al_error_set(err, ENOMEM, "spec", "reading spec %s", path);
	r = load_text(spec, path, dirname(dir), text, (size_t)got, err);
	if (r < 0)
		return r;
	r = al_spec_set_str(spec, &spec->source, abs);
	if (r < 0)
		return al_error_set(err, -r, "spec", "reading spec %s", path);
	return 0;
}
