/* Units of the spec vocabulary: sizes ("512MiB", "1G", "1.5GB"), durations
 * ("10m", "1m30s", "250ms") and the names of accepted degradations. Pure
 * string -> number functions, shared by the YAML loader and the CLI. */
#define _GNU_SOURCE
#include "spec/spec.h"

#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "util/cleanup.h"

/* Parse "DIGITS[.DIGITS]" at *s. The integer part goes to *ip; the fraction
 * is kept as fp / 10^fdigits with at most 9 significant fraction digits
 * (further digits are ignored, which rounds down). *nonzero says whether any
 * digit was not 0: a positive value that rounds down to nothing is then
 * told apart from a real zero (which means "no limit" for some settings).
 * Advances *s. */
static int parse_decimal(const char **s, uint64_t *ip, uint64_t *fp, uint64_t *fscale,
			 bool *nonzero)
{
	const char *p = *s;
	uint64_t i = 0, f = 0, scale = 1;
	bool any = false, nz = false;

	while (*p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');
		nz |= d != 0;
		if (i > UINT64_MAX / 10 || (i == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -ERANGE;
		i = i * 10 + d;
		p++;
		any = true;
	}
	if (*p == '.') {
		bool frac = false;
		p++;
		while (*p >= '0' && *p <= '9') {
			nz |= *p != '0';
			if (scale < 1000000000ull) {
				f = f * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
			p++;
			frac = true;
		}
		/* "1." and ".5" are typos more often than intent: require digits on both sides */
		if (!frac || !any)
			return -EINVAL;
	}
	if (!any)
		return -EINVAL;
	*ip = i;
	*fp = f;
	*fscale = scale;
	*nonzero = nz;
	*s = p;
	return 0;
}

/* value = (i + f/scale) * mult, rounded down; -ERANGE on overflow. */
static int scale_decimal(uint64_t i, uint64_t f, uint64_t scale, uint64_t mult, uint64_t *out)
{
	uint64_t whole, part;

	if (mult != 0 && i > UINT64_MAX / mult)
		return -ERANGE;
	whole = i * mult;
	/* f < scale <= 1e9; mult <= 2^40 for sizes, 3.6e12 for durations: split
	 * mult so f * mult cannot overflow. */
	part = (mult / scale) * f + ((mult % scale) * f) / scale;
	if (whole > UINT64_MAX - part)
		return -ERANGE;
	*out = whole + part;
	return 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* Binary units are the default for bare K/M/G/T (memory sizes are spoken in
 * powers of two); KB/MB/GB/TB are decimal as in SI, and say so. */
static const struct unit size_units[] = {
    {"", 1},
    {"B", 1},
    {"K", 1ull << 10},
    {"Ki", 1ull << 10},
    {"KiB", 1ull << 10},
    {"KB", 1000ull},
    {"M", 1ull << 20},
    {"Mi", 1ull << 20},
    {"MiB", 1ull << 20},
    {"MB", 1000000ull},
    {"G", 1ull << 30},
    {"Gi", 1ull << 30},
    {"GiB", 1ull << 30},
    {"GB", 1000000000ull},
    {"T", 1ull << 40},
    {"Ti", 1ull << 40},
    {"TiB", 1ull << 40},
    {"TB", 1000000000000ull},
    {"k", 1ull << 10},
    {"ki", 1ull << 10},
    {"kiB", 1ull << 10},
    {"kB", 1000ull},
};

int al_parse_size(const char *s, uint64_t *out)
{
	uint64_t i, f, scale, v;
	const char *p = s;
	bool nonzero;
	int r;

	if (s == NULL || out == NULL)
		return -EINVAL;
	r = parse_decimal(&p, &i, &f, &scale, &nonzero);
	if (r < 0)
		return r;
	for (size_t k = 0; k < AL_ARRAY_SIZE(size_units); k++) {
		if (strcmp(p, size_units[k].name) != 0)
			continue;
		/* a fraction of a byte means nothing */
		if (size_units[k].mult == 1 && f != 0)
			return -EINVAL;
		r = scale_decimal(i, f, scale, size_units[k].mult, &v);
		if (r < 0)
			return r;
		/* "0.0001K" is not 0 (which may mean "no limit"): refuse it */
		if (v == 0 && nonzero)
			return -EDOM;
		*out = v;
		return 0;
	}
	return -EINVAL;
}

static const struct unit duration_units[] = {
    {"ns", 1ull},
    {"us", 1000ull},
    {"\xc2\xb5s", 1000ull}, /* µs */
    {"ms", 1000000ull},
    {"s", 1000000000ull},
    {"m", 60ull * 1000000000ull},
    {"h", 3600ull * 1000000000ull},
};

/* One unit name at *s, longest match first ("ms" before "m"). */
static const struct unit *duration_unit(const char **s)
{
	const struct unit *best = NULL;
	size_t best_len = 0;

	for (size_t k = 0; k < AL_ARRAY_SIZE(duration_units); k++) {
		size_t n = strlen(duration_units[k].name);
		if (n > best_len && strncmp(*s, duration_units[k].name, n) == 0) {
			best = &duration_units[k];
			best_len = n;
		}
	}
	if (best)
		*s += best_len;
	return best;
}

int al_parse_duration(const char *s, uint64_t *out_ns)
{
	const char *p = s;
	uint64_t total = 0;
	bool any_nonzero = false;

	if (s == NULL || out_ns == NULL)
		return -EINVAL;
	/* A bare number has no obvious unit (seconds? ms?); only "0" is unambiguous. */
	if (strcmp(s, "0") == 0) {
		*out_ns = 0;
		return 0;
	}
	if (*p == '\0')
		return -EINVAL;
	while (*p != '\0') {
		const struct unit *u;
		uint64_t i, f, scale, v;
		bool nonzero;
		int r;

		r = parse_decimal(&p, &i, &f, &scale, &nonzero);
		if (r < 0)
			return r;
		any_nonzero |= nonzero;
		u = duration_unit(&p);
		if (u == NULL)
			return -EINVAL;
		r = scale_decimal(i, f, scale, u->mult, &v);
		if (r < 0)
			return r;
		if (total > UINT64_MAX - v)
			return -ERANGE;
		total += v;
	}
	/* "0.5ns" rounds to 0, and a timeout of 0 means no limit at all: a
	 * positive duration below the resolution is an error, never "none". */
	if (total == 0 && any_nonzero)
		return -EDOM;
	*out_ns = total;
	return 0;
}

/* Below 65536: the ids the sandbox maps into its user namespace. */
int al_parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
	char *end;
	unsigned long u, g;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	u = strtoul(s, &end, 10);
	if (errno != 0 || u > 65535)
		return -ERANGE;
	g = u;
	if (*end == ':') {
		const char *gs = end + 1;
		if (*gs < '0' || *gs > '9')
			return -EINVAL;
		errno = 0;
		g = strtoul(gs, &end, 10);
		if (errno != 0 || g > 65535)
			return -ERANGE;
	}
	if (*end != '\0')
		return -EINVAL;
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

static const struct {
	uint32_t bit;
	const char *name;
} degradations[] = {
    {AL_DEGRADE_LANDLOCK, "landlock"},
    {AL_DEGRADE_CGROUP, "cgroup"},
    {AL_DEGRADE_TIMENS, "timens"},
    {AL_DEGRADE_SECCOMP_NOTIFY, "seccomp-notify"},
};

int al_degradation_parse(const char *name, uint32_t *bit)
{
	if (name == NULL)
		return -EINVAL;
	for (size_t k = 0; k < AL_ARRAY_SIZE(degradations); k++) {
		if (strcmp(name, degradations[k].name) == 0) {
			*bit = degradations[k].bit;
			return 0;
		}
	}
	return -EINVAL;
}

const char *al_degradation_name(uint32_t bit)
{
	for (size_t k = 0; k < AL_ARRAY_SIZE(degradations); k++)
		if (degradations[k].bit == bit)
			return degradations[k].name;
	return NULL;
}
