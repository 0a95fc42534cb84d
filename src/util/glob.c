/* The path glob matcher of chaos rules (glob.h). Iterative with bounded
 * backtracking state per star, so a hostile path cannot make it exponential:
 * the pattern is the spec's, the path the workload's. */
#include "util/glob.h"

#include <stddef.h>
#include <string.h>

/* [set] at p (p points at '['): whether c is in it; *end = past ']'.
 * Returns -1 when the set is not closed. */
static int set_match(const char *p, char c, const char **end)
{
	bool neg = false, hit = false;
	const char *q = p + 1;

	if (*q == '!' || *q == '^') {
		neg = true;
		q++;
	}
	if (*q == ']') { /* a leading ] is literal */
		hit = c == ']';
		q++;
	}
	for (; *q && *q != ']'; q++) {
		if (q[1] == '-' && q[2] && q[2] != ']') {
			if ((unsigned char)c >= (unsigned char)q[0] &&
			    (unsigned char)c <= (unsigned char)q[2])
				hit = true;
			q += 2;
		} else if (*q == c) {
			hit = true;
		}
	}
	if (*q != ']')
		return -1;
	*end = q + 1;
	return (hit != neg) && c != '/';
}

bool al_glob_valid(const char *pat)
{
	const char *p, *end;

	if (pat == NULL || pat[0] != '/')
		return false;
	for (p = pat; *p; p++) {
		if (*p == '[') {
			if (set_match(p, 'a', &end) < 0)
				return false;
			p = end - 1;
		} else if (p[0] == '*' && p[1] == '*') {
			/* ** stands alone as a component */
			if (p[-1] != '/' || (p[2] != '\0' && p[2] != '/'))
				return false;
			p++;
		}
	}
	return true;
}

/*
 * Two levels of backtracking, like the classic wildcard matcher: the last
 * `*` (may not cross '/') and the last `**` (may). A later `**` supersedes
 * everything before it, which keeps the work at O(len(pat) * len(path)).
 */
bool al_glob_match(const char *pat, const char *path)
{
	const char *p = pat, *s = path;
	const char *star_p = NULL, *star_s = NULL;   /* after the last `*` */
	const char *dstar_p = NULL, *dstar_s = NULL; /* after the last `**` + slash */
	const char *end;

	for (;;) {
		if (*p == '*' && p[1] == '*') {
			/* `**` at the end matches everything left */
			if (p[2] == '\0')
				return true;
			/* `**` + slash: zero or more whole components */
			dstar_p = p + 3;
			dstar_s = s;
			star_p = NULL;
			p = dstar_p;
			continue;
		}
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (*s == '\0' && *p == '\0')
			return true;
		if (*s != '\0') {
			int m = 0;
			if (*p == '?') {
				m = *s != '/';
				end = p + 1;
			} else if (*p == '[') {
				m = set_match(p, *s, &end) == 1;
			} else if (*p != '\0') {
				m = *p == *s;
				end = p + 1;
			}
			if (m) {
				p = end;
				s++;
				continue;
			}
		}
		/* mismatch: widen the last `*` by one non-'/' character */
		if (star_p && *star_s != '\0' && *star_s != '/') {
			s = ++star_s;
			p = star_p;
			continue;
		}
		/* or the last `**` + slash by one whole component */
		if (dstar_p) {
			const char *slash = strchr(dstar_s, '/');
			if (slash == NULL)
				return false;
			dstar_s = slash + 1;
			s = dstar_s;
			p = dstar_p;
			star_p = NULL;
			continue;
		}
		return false;
	}
}
