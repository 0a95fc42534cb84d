/* Egress policy decisions: pure functions over the policy and the names and
 * addresses a request carries (see policy.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "net/policy.h"

int al_name_normalize(const char *in, size_t len, char out[AL_NAME_MAX])
{
	size_t i, label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		           c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
		out[i] = (char)c;
	}
	if (label == 0)
		return -1;
	out[len] = '\0';
	return 0;
}

bool al_name_is_ip_literal(const char *name)
{
	uint8_t buf[16];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

bool al_domain_pattern_matches(const char *pattern, const char *name)
{
	size_t pl, nl;

	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *suffix = pattern + 1; /* ".example.com" */
		pl = strlen(suffix);
		nl = strlen(name);
		/* strictly longer than the suffix: "*.example.com" never matches
		 * "example.com" itself, and the label boundary is the dot */
		return nl > pl && strcasecmp(name + nl - pl, suffix) == 0;
	}
	return strcasecmp(pattern, name) == 0;
}

static bool list_matches(char *const *list, size_t n, const char *name)
{
	char norm[AL_NAME_MAX + 2];
	size_t i;

	for (i = 0; i < n; i++) {
		const char *p = list[i];
		if (p == NULL)
			continue;
		/* patterns are normalised the same way (trailing dot, case) */
		if (p[0] == '*' && p[1] == '.') {
			if (al_name_normalize(p + 2, strlen(p + 2), norm + 2) < 0)
				continue;
			norm[0] = '*';
			norm[1] = '.';
		} else if (al_name_normalize(p, strlen(p), norm) < 0) {
			continue;
		}
		if (al_domain_pattern_matches(norm, name))
			return true;
	}
	return false;
}

bool al_policy_domain_allowed(const struct al_egress_policy *pol, const char *name,
                              const char **reason)
{
	if (list_matches(pol->deny_domains, pol->n_deny_domains, name)) {
		*reason = "in deny_domains";
		return false;
	}
	/* a hosts: entry only says where a name is; whether it may be reached
	 * is allow_domains' decision alone */
	if (list_matches(pol->allow_domains, pol->n_allow_domains, name))
		return true;
	*reason = "not in allow_domains";
	return false;
}

bool al_policy_port_allowed(const struct al_egress_policy *pol, uint16_t port)
{
	static const uint16_t defaults[] = {80, 443};
	const uint16_t *ports = pol->allow_ports;
	size_t i, n = pol->n_allow_ports;

	if (ports == NULL || n == 0) {
		ports = defaults;
		n = 2;
	}
	for (i = 0; i < n; i++)
		if (ports[i] == port && port != 0)
			return true;
	return false;
}

static enum al_addr_class classify4(const uint8_t *a)
{
	if (a[0] == 0)
		return AL_ADDR_UNSPECIFIED;
	if (a[0] == 127)
		return AL_ADDR_LOOPBACK;
	if (a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168))
		return AL_ADDR_PRIVATE;
	if (a[0] == 100 && (a[1] & 0xc0) == 64)
		return AL_ADDR_CGNAT;
	if (a[0] == 169 && a[1] == 254)
		return (a[2] == 169 && a[3] == 254) ? AL_ADDR_METADATA : AL_ADDR_LINKLOCAL;
	if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
		return AL_ADDR_BROADCAST;
	if (a[0] >= 224 && a[0] <= 239)
		return AL_ADDR_MULTICAST;
	if (a[0] >= 240)
		return AL_ADDR_RESERVED;
	if (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2))
		return AL_ADDR_RESERVED; /* IETF protocol assignments, TEST-NET-1 */
	if (a[0] == 192 && a[1] == 88 && a[2] == 99)
		return AL_ADDR_RESERVED; /* 6to4 relay anycast */
	if (a[0] == 198 && (a[1] & 0xfe) == 18)
		return AL_ADDR_RESERVED; /* benchmarking */
	if ((a[0] == 198 && a[1] == 51 && a[2] == 100) || (a[0] == 203 && a[1] == 0 && a[2] == 113))
		return AL_ADDR_RESERVED; /* TEST-NET-2/3 */
	return AL_ADDR_PUBLIC;
}

enum al_addr_class al_addr_classify(int family, const uint8_t *a)
{
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t metadata6[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0,    0,
	                                      0,    0, 0,    0,    0, 0, 0x02, 0x54};

	if (family == AF_INET)
		return classify4(a);
	if (family != AF_INET6)
		return AL_ADDR_RESERVED;
	if (memcmp(a, zero, 16) == 0)
		return AL_ADDR_UNSPECIFIED;
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return AL_ADDR_LOOPBACK;
	/* embedded IPv4: mapped ::ffff:a.b.c.d, compatible ::a.b.c.d (deprecated,
	 * but the kernel may still route it), NAT64 64:ff9b::/96, 6to4 2002::/16 */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0 || memcmp(a, nat64, 12) == 0) {
		enum al_addr_class c = classify4(a + 12);
		return c == AL_ADDR_PUBLIC && memcmp(a, zero, 12) == 0 ? AL_ADDR_RESERVED : c;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		enum al_addr_class c = classify4(a + 2);
		return c == AL_ADDR_PUBLIC ? AL_ADDR_PUBLIC : c;
	}
	if (memcmp(a, metadata6, 16) == 0)
		return AL_ADDR_METADATA;
	if ((a[0] & 0xfe) == 0xfc)
		return AL_ADDR_ULA;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return AL_ADDR_LINKLOCAL;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return AL_ADDR_RESERVED; /* site-local (deprecated) */
	if (a[0] == 0xff)
		return AL_ADDR_MULTICAST;
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return AL_ADDR_RESERVED; /* documentation */
	if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0)
		return AL_ADDR_RESERVED; /* discard-only 100::/64 */
	if ((a[0] & 0xe0) != 0x20)
		return AL_ADDR_RESERVED; /* outside global unicast 2000::/3 */
	return AL_ADDR_PUBLIC;
}

const char *al_addr_class_reason(enum al_addr_class c)
{
	switch (c) {
	case AL_ADDR_PUBLIC:
		return "public address";
	case AL_ADDR_UNSPECIFIED:
		return "unspecified address";
	case AL_ADDR_LOOPBACK:
		return "loopback address";
	case AL_ADDR_PRIVATE:
		return "private address";
	case AL_ADDR_CGNAT:
		return "cgnat address";
	case AL_ADDR_LINKLOCAL:
		return "link-local address";
	case AL_ADDR_METADATA:
		return "metadata address";
	case AL_ADDR_ULA:
		return "unique-local address";
	case AL_ADDR_MULTICAST:
		return "multicast address";
	case AL_ADDR_BROADCAST:
		return "broadcast address";
	case AL_ADDR_RESERVED:
		return "reserved address";
	}
	return "reserved address";
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

bool al_policy_cidr_allows(const struct al_egress_policy *pol, int family, const uint8_t *addr)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	const uint8_t *v4 = NULL;
	size_t i;

	if (family == AF_INET)
		v4 = addr;
	else if (family == AF_INET6 && memcmp(addr, mapped, 12) == 0)
		v4 = addr + 12;
	for (i = 0; i < pol->n_allow_cidr; i++) {
		const struct al_egress_cidr *c = &pol->allow_cidr[i];
		if (c->family == AF_INET && v4 != NULL && c->prefix >= 0 && c->prefix <= 32 &&
		    prefix_match(v4, c->addr, c->prefix))
			return true;
		if (c->family == AF_INET6 && family == AF_INET6 && c->prefix >= 0 &&
		    c->prefix <= 128 && prefix_match(addr, c->addr, c->prefix))
			return true;
	}
	return false;
}

int al_sockaddr_ip(const struct sockaddr *sa, int *family, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

void al_sockaddr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	int family;
	uint8_t a[16];

	buf[0] = '\0';
	if (al_sockaddr_ip(sa, &family, a) == 0 &&
	    inet_ntop(family, a, buf, (socklen_t)len) == NULL)
		buf[0] = '\0';
}

bool al_policy_addr_allowed(const struct al_egress_policy *pol, const struct sockaddr *sa,
                            bool raw_ip, const char **reason)
{
	int family;
	uint8_t a[16];
	enum al_addr_class c;

	if (al_sockaddr_ip(sa, &family, a) < 0) {
		*reason = "unsupported address family";
		return false;
	}
	if (al_policy_cidr_allows(pol, family, a))
		return true;
	if (raw_ip) {
		*reason = "raw address not in allow_cidr";
		return false;
	}
	c = al_addr_classify(family, a);
	if (c != AL_ADDR_PUBLIC) {
		*reason = al_addr_class_reason(c);
		return false;
	}
	return true;
}

const struct al_egress_host *al_policy_host_lookup(const struct al_egress_policy *pol,
                                                   const char *name)
{
	char norm[AL_NAME_MAX];
	size_t i;

	for (i = 0; i < pol->n_hosts; i++) {
		const char *h = pol->hosts[i].name;
		if (h != NULL && al_name_normalize(h, strlen(h), norm) == 0 &&
		    strcmp(norm, name) == 0)
			return &pol->hosts[i];
	}
	return NULL;
}
