/* The network part of the spec: mode and the proxy-mode policy (domains,
 * ports, CIDRs, static hosts, resolvers) -- parsing and normalising each
 * value, validation of the whole, and its canonical JSON. The YAML loader
 * and the CLI both go through the al_spec_add_* functions here, so a value
 * means the same wherever it is written. */
#define _GNU_SOURCE
#include "spec/spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spec/spec_internal.h"
#include "util/cleanup.h"

/* A spec is a page of settings; lists near these sizes are a mistake. */
#define NET_MAX_ITEMS 4096

static const uint16_t default_ports[] = {80, 443};

int al_net_mode_parse(const char *s, enum al_net_mode *mode)
{
	if (strcmp(s, "none") == 0)
		*mode = AL_NET_NONE;
	else if (strcmp(s, "proxy") == 0)
		*mode = AL_NET_PROXY;
	else
		return -EINVAL;
	return 0;
}

const char *al_net_mode_name(enum al_net_mode mode)
{
	return mode == AL_NET_PROXY ? "proxy" : "none";
}

const uint16_t *al_net_ports(const struct al_network_spec *net, size_t *n)
{
	if (net->n_allow_ports == 0) {
		*n = AL_ARRAY_SIZE(default_ports);
		return default_ports;
	}
	*n = net->n_allow_ports;
	return net->allow_ports;
}

/* Normalise name into out (lower case, trailing dot dropped) and check it.
 * wildcard_ok: a leading "*." is allowed. */
static int domain_normalise(const char *name, bool wildcard_ok, char *out, size_t outlen)
{
	size_t len = strlen(name), i, label = 0;
	const char *p = name;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || len >= outlen)
		return -EINVAL;
	if (len >= 2 && p[0] == '*' && p[1] == '.') {
		if (!wildcard_ok || len == 2)
			return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '*' && i == 0 && wildcard_ok && len >= 2 && p[1] == '.') {
			out[i] = '*';
			label = 1;
			continue;
		}
		if (ch == '.') {
			if (label == 0 || (i > 0 && p[i - 1] == '-'))
				return -EINVAL; /* empty label, or one ending in '-' */
			label = 0;
			out[i] = '.';
			continue;
		}
		if (!(isalnum(ch) || ch == '-' || ch == '_') || ch > 0x7f)
			return -EINVAL;
		if (ch == '-' && label == 0)
			return -EINVAL; /* a label does not start with '-' */
		if (++label > 63)
			return -EINVAL;
		out[i] = (char)tolower(ch);
	}
	if (label == 0 || p[len - 1] == '-')
		return -EINVAL;
	out[len] = '\0';
	return 0;
}

static int strv_add_unique(char ***v, size_t *n, const char *s)
{
	char **nv, *copy;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	if (*n >= NET_MAX_ITEMS)
		return -E2BIG;
	copy = strdup(s);
	if (copy == NULL)
		return -ENOMEM;
	nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (nv == NULL) {
		free(copy);
		return -ENOMEM;
	}
	nv[(*n)++] = copy;
	*v = nv;
	return 0;
}

int al_spec_add_domain(struct al_spec *spec, bool deny, const char *name)
{
	char norm[256];
	int r = domain_normalise(name, true, norm, sizeof norm);

	if (r < 0)
		return r;
	if (deny)
		return strv_add_unique(&spec->network.deny_domains, &spec->network.n_deny_domains,
		                       norm);
	return strv_add_unique(&spec->network.allow_domains, &spec->network.n_allow_domains, norm);
}

int al_spec_add_port(struct al_spec *spec, const char *port)
{
	struct al_network_spec *net = &spec->network;
	unsigned long v = 0;
	uint16_t *np;
	const char *p;

	if (port[0] == '\0')
		return -EINVAL;
	for (p = port; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -ERANGE;
	}
	if (v == 0)
		return -ERANGE;
	for (size_t i = 0; i < net->n_allow_ports; i++)
		if (net->allow_ports[i] == v)
			return 0;
	if (net->n_allow_ports >= NET_MAX_ITEMS)
		return -E2BIG;
	np = realloc(net->allow_ports, (net->n_allow_ports + 1) * sizeof *np);
	if (np == NULL)
		return -ENOMEM;
	np[net->n_allow_ports++] = (uint16_t)v;
	net->allow_ports = np;
	return 0;
}

int al_net_addr_parse(const char *s, struct al_net_addr *a)
{
	memset(a, 0, sizeof *a);
	if (strchr(s, ':') == NULL) {
		/* inet_pton takes only dotted quads: no "1", "0x7f.1" or octal
		 * forms that mean something else to other parsers */
		if (inet_pton(AF_INET, s, a->addr) != 1)
			return -EINVAL;
		a->family = AF_INET;
		return 0;
	}
	if (strchr(s, '%') != NULL || inet_pton(AF_INET6, s, a->addr) != 1)
		return -EINVAL;
	a->family = AF_INET6;
	return 0;
}

int al_spec_add_cidr(struct al_spec *spec, const char *cidr)
{
	struct al_network_spec *net = &spec->network;
	struct al_net_cidr c = {0};
	struct al_net_addr a;
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(cidr, '/');
	size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	unsigned long prefix;
	int bits, r;

	if (alen == 0 || alen >= sizeof addr)
		return -EINVAL;
	memcpy(addr, cidr, alen);
	addr[alen] = '\0';
	r = al_net_addr_parse(addr, &a);
	if (r < 0)
		return r;
	bits = a.family == AF_INET ? 32 : 128;
	prefix = (unsigned long)bits;
	if (slash) {
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return -EINVAL;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned long)(*p - '0');
		}
		if (prefix > (unsigned long)bits)
			return -EINVAL;
	}
	c.family = a.family;
	c.prefix = (uint8_t)prefix;
	memcpy(c.addr, a.addr, sizeof c.addr);
	for (int i = (int)prefix; i < bits; i++)
		if (c.addr[i / 8] & (0x80 >> (i % 8)))
			return -EDOM;
	for (size_t i = 0; i < net->n_allow_cidr; i++)
		if (memcmp(&net->allow_cidr[i], &c, sizeof c) == 0)
			return 0;
	if (net->n_allow_cidr >= NET_MAX_ITEMS)
		return -E2BIG;
	struct al_net_cidr *nc = realloc(net->allow_cidr, (net->n_allow_cidr + 1) * sizeof *nc);
	if (nc == NULL)
		return -ENOMEM;
	nc[net->n_allow_cidr++] = c;
	net->allow_cidr = nc;
	return 0;
}

int al_spec_add_host(struct al_spec *spec, const char *name, const char *addr)
{
	struct al_network_spec *net = &spec->network;
	struct al_net_addr a;
	char norm[256];
	int r;

	r = domain_normalise(name, false, norm, sizeof norm);
	if (r < 0)
		return r;
	r = al_net_addr_parse(addr, &a);
	if (r < 0)
		return r;
	for (size_t i = 0; i < net->n_hosts; i++)
		if (strcmp(net->hosts[i].name, norm) == 0) {
			net->hosts[i].addr = a; /* later wins, like the rest of the spec */
			return 0;
		}
	if (net->n_hosts >= NET_MAX_ITEMS)
		return -E2BIG;
	char *copy = strdup(norm);
	if (copy == NULL)
		return -ENOMEM;
	struct al_net_host *nh = realloc(net->hosts, (net->n_hosts + 1) * sizeof *nh);
	if (nh == NULL) {
		free(copy);
		return -ENOMEM;
	}
	nh[net->n_hosts].name = copy;
	nh[net->n_hosts].addr = a;
	net->n_hosts++;
	net->hosts = nh;
	return 0;
}

int al_spec_add_host_arg(struct al_spec *spec, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char name[256];

	if (colon == NULL || colon == arg || (size_t)(colon - arg) >= sizeof name)
		return -EINVAL;
	memcpy(name, arg, (size_t)(colon - arg));
	name[colon - arg] = '\0';
	return al_spec_add_host(spec, name, colon + 1);
}

static int parse_port(const char *p, uint16_t *out)
{
	unsigned long v = 0;

	if (*p == '\0' || strlen(p) > 5)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int al_spec_add_resolver(struct al_spec *spec, const char *s)
{
	struct al_network_spec *net = &spec->network;
	struct al_net_addr a;
	char buf[INET6_ADDRSTRLEN + 1];
	uint16_t port = 0;
	int r;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof buf)
			return -EINVAL;
		memcpy(buf, s + 1, (size_t)(end - s - 1));
		buf[end - s - 1] = '\0';
		r = parse_port(end + 2, &port);
		if (r == 0)
			r = al_net_addr_parse(buf, &a);
		if (r == 0 && a.family != AF_INET6)
			r = -EINVAL;
	} else if (strchr(s, ':') != NULL && strchr(s, ':') == strrchr(s, ':')) {
		const char *colon = strchr(s, ':'); /* one colon: IPv4:PORT */
		if ((size_t)(colon - s) >= sizeof buf)
			return -EINVAL;
		memcpy(buf, s, (size_t)(colon - s));
		buf[colon - s] = '\0';
		r = parse_port(colon + 1, &port);
		if (r == 0)
			r = al_net_addr_parse(buf, &a);
		if (r == 0 && a.family != AF_INET)
			r = -EINVAL;
	} else {
		r = al_net_addr_parse(s, &a);
	}
	if (r < 0)
		return r;
	a.port = port;
	for (size_t i = 0; i < net->n_resolvers; i++)
		if (memcmp(&net->resolvers[i], &a, sizeof a) == 0)
			return 0;
	if (net->n_resolvers >= 16)
		return -E2BIG;
	struct al_net_addr *nr = realloc(net->resolvers, (net->n_resolvers + 1) * sizeof *nr);
	if (nr == NULL)
		return -ENOMEM;
	nr[net->n_resolvers++] = a;
	net->resolvers = nr;
	return 0;
}

void al_net_cidr_format(const struct al_net_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, a, sizeof a) == NULL)
		snprintf(a, sizeof a, "?");
	snprintf(buf, len, "%s/%u", a, (unsigned)c->prefix);
}

void al_net_addr_format(const struct al_net_addr *x, bool with_port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(x->family, x->addr, a, sizeof a) == NULL)
		snprintf(a, sizeof a, "?");
	if (!with_port || x->port == 0)
		snprintf(buf, len, "%s", a);
	else if (x->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, (unsigned)x->port);
	else
		snprintf(buf, len, "%s:%u", a, (unsigned)x->port);
}

void al_net_spec_free(struct al_network_spec *net)
{
	for (size_t i = 0; i < net->n_allow_domains; i++)
		free(net->allow_domains[i]);
	free(net->allow_domains);
	for (size_t i = 0; i < net->n_deny_domains; i++)
		free(net->deny_domains[i]);
	free(net->deny_domains);
	free(net->allow_ports);
	free(net->allow_cidr);
	for (size_t i = 0; i < net->n_hosts; i++)
		free(net->hosts[i].name);
	free(net->hosts);
	free(net->resolvers);
}

int al_chaos_spec_validate(const struct al_spec *spec, struct al_error *err)
{
	const struct al_chaos_spec *ch = &spec->chaos;

	if (!ch->network)
		return 0;
	if (spec->network.mode != AL_NET_PROXY)
		return al_error_set(err, 0, "spec",
		                    "chaos.network: applies to the connections the egress proxy relays; "
		                    "needs network.mode: proxy");
	if (!(ch->loss >= 0 && ch->loss <= 1) || !(ch->reset >= 0 && ch->reset <= 1))
		return al_error_set(err, 0, "spec", "chaos.network: loss and reset are probabilities "
		                                    "between 0 and 1");
	if (ch->latency_ns > 60000000000ull || ch->jitter_ns > 60000000000ull)
		return al_error_set(err, 0, "spec", "chaos.network: latency and jitter are at most 1m");
	return 0;
}

/* Canonical form of chaos: present only when set (an unset chaos key
 * leaves the canonical form of older specs as it was). */
int al_chaos_spec_canonical(struct al_json *j, const struct al_chaos_spec *ch)
{
	char buf[40];

	if (!ch->seed_set && !ch->network && !al_chaos_canon_has_faults(ch))
		return 0;
	al_json_key(j, "chaos");
	al_json_obj_begin(j);
	al_chaos_canon_clock(j, ch);
	al_json_key(j, "network");
	if (ch->network) {
		al_json_obj_begin(j);
		al_json_kv_uint(j, "bandwidth", ch->bandwidth);
		al_json_kv_uint(j, "jitter", ch->jitter_ns);
		al_json_kv_uint(j, "latency", ch->latency_ns);
		al_json_key(j, "loss");
		snprintf(buf, sizeof buf, "%.17g", ch->loss);
		al_json_raw(j, buf);
		al_json_key(j, "reset");
		snprintf(buf, sizeof buf, "%.17g", ch->reset);
		al_json_raw(j, buf);
		al_json_obj_end(j);
	} else {
		al_json_null(j);
	}
	al_chaos_canon_resources(j, ch);
	al_json_key(j, "seed");
	if (ch->seed_set)
		al_json_uint(j, ch->seed);
	else
		al_json_null(j);
	al_chaos_canon_syscalls(j, ch);
	al_json_obj_end(j);
	return 0;
}

int al_net_spec_validate(const struct al_network_spec *net, struct al_error *err)
{
	static const char *const keys[] = {"allow_domains", "deny_domains", "allow_ports",
	                                   "allow_cidr", "hosts", "resolver"};
	const size_t counts[] = {net->n_allow_domains, net->n_deny_domains, net->n_allow_ports,
	                         net->n_allow_cidr, net->n_hosts, net->n_resolvers};

	if (net->mode != AL_NET_NONE && net->mode != AL_NET_PROXY)
		return al_error_set(err, 0, "spec", "network.mode: unknown mode");
	if (net->mode == AL_NET_PROXY)
		return 0;
	for (size_t i = 0; i < AL_ARRAY_SIZE(keys); i++)
		if (counts[i] != 0)
			return al_error_set(err, 0, "spec",
			                    "network.%s: only meaningful with network.mode: proxy "
			                    "(--net proxy); in mode none nothing leaves the sandbox",
			                    keys[i]);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_port(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int cmp_host(const void *a, const void *b)
{
	return strcmp(((const struct al_net_host *)a)->name, ((const struct al_net_host *)b)->name);
}

static int sorted_strings(struct al_json *j, const char *key, char *const *v, size_t n)
{
	_cleanup_free_ char **copy = NULL;

	al_json_key(j, key);
	al_json_arr_begin(j);
	if (n > 0) {
		copy = malloc(n * sizeof *copy);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, v, n * sizeof *copy);
		qsort(copy, n, sizeof *copy, cmp_str);
		for (size_t i = 0; i < n; i++)
			al_json_str(j, copy[i]);
	}
	al_json_arr_end(j);
	return 0;
}

/* Canonical form: the mode and loopback_tcp always; the policy only in
 * proxy mode (in mode none it is empty by validation), so the canonical
 * form of an air-gapped spec is what it was before proxy mode existed.
 * Lists are sorted (their order carries no meaning), CIDRs and addresses
 * in inet_ntop's normal form. Resolver order is kept: it is the order of
 * asking. */
int al_net_spec_canonical(struct al_json *j, const struct al_network_spec *net)
{
	char buf[80];
	size_t n;
	int r;

	al_json_key(j, "network");
	al_json_obj_begin(j);
	if (net->mode == AL_NET_PROXY) {
		const uint16_t *ports = al_net_ports(net, &n);
		_cleanup_free_ uint16_t *pcopy = NULL;
		_cleanup_free_ char **ccopy = NULL;
		_cleanup_free_ struct al_net_host *hcopy = NULL;

		al_json_key(j, "allow_cidr");
		al_json_arr_begin(j);
		if (net->n_allow_cidr > 0) {
			ccopy = calloc(net->n_allow_cidr, sizeof *ccopy);
			if (ccopy == NULL)
				return -ENOMEM;
			for (size_t i = 0; i < net->n_allow_cidr; i++) {
				al_net_cidr_format(&net->allow_cidr[i], buf, sizeof buf);
				ccopy[i] = strdup(buf);
				if (ccopy[i] == NULL) {
					for (size_t k = 0; k < i; k++)
						free(ccopy[k]);
					return -ENOMEM;
				}
			}
			qsort(ccopy, net->n_allow_cidr, sizeof *ccopy, cmp_str);
			for (size_t i = 0; i < net->n_allow_cidr; i++) {
				al_json_str(j, ccopy[i]);
				free(ccopy[i]);
			}
		}
		al_json_arr_end(j);
		r = sorted_strings(j, "allow_domains", net->allow_domains, net->n_allow_domains);
		if (r < 0)
			return r;
		al_json_key(j, "allow_ports");
		al_json_arr_begin(j);
		pcopy = malloc(n * sizeof *pcopy);
		if (pcopy == NULL)
			return -ENOMEM;
		memcpy(pcopy, ports, n * sizeof *pcopy);
		qsort(pcopy, n, sizeof *pcopy, cmp_port);
		for (size_t i = 0; i < n; i++)
			al_json_uint(j, pcopy[i]);
		al_json_arr_end(j);
		r = sorted_strings(j, "deny_domains", net->deny_domains, net->n_deny_domains);
		if (r < 0)
			return r;
		al_json_key(j, "hosts");
		al_json_obj_begin(j);
		if (net->n_hosts > 0) {
			hcopy = malloc(net->n_hosts * sizeof *hcopy);
			if (hcopy == NULL)
				return -ENOMEM;
			memcpy(hcopy, net->hosts, net->n_hosts * sizeof *hcopy);
			qsort(hcopy, net->n_hosts, sizeof *hcopy, cmp_host);
			for (size_t i = 0; i < net->n_hosts; i++) {
				al_net_addr_format(&hcopy[i].addr, false, buf, sizeof buf);
				al_json_kv_str(j, hcopy[i].name, buf);
			}
		}
		al_json_obj_end(j);
	}
	al_json_kv_bool(j, "loopback_tcp", net->loopback_tcp);
	al_json_kv_str(j, "mode", al_net_mode_name(net->mode));
	if (net->mode == AL_NET_PROXY) {
		al_json_key(j, "resolver");
		al_json_arr_begin(j);
		for (size_t i = 0; i < net->n_resolvers; i++) {
			al_net_addr_format(&net->resolvers[i], true, buf, sizeof buf);
			al_json_str(j, buf);
		}
		al_json_arr_end(j);
	}
	al_json_obj_end(j);
	return 0;
}
