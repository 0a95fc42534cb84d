/* Pure policy decisions of the egress proxy: name normalisation, domain
 * allow/deny matching, ports, and the classification of destination
 * addresses (loopback, private, metadata ...) that are refused unless
 * allow_cidr names them. No I/O; unit-tested in tests/unit/net. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/egress.h"

#define AL_NAME_MAX 254 /* 253 characters + NUL */

/* Lower-case, strip one trailing dot, and check the name is a plausible DNS
 * name (labels of 1..63 of [a-z0-9_-], total <= 253, no empty label).
 * Returns 0, or -1 if the name is malformed. */
int al_name_normalize(const char *in, size_t len, char out[AL_NAME_MAX]);

/* True if the (normalised) name looks like a literal IPv4/IPv6 address. */
bool al_name_is_ip_literal(const char *name);

/* Does pattern ("exact.name" or "*.suffix") match the normalised name? */
bool al_domain_pattern_matches(const char *pattern, const char *name);

/* Domain verdict for a normalised name: true if allowed; else *reason says why. */
bool al_policy_domain_allowed(const struct al_egress_policy *pol, const char *name,
                              const char **reason);

bool al_policy_port_allowed(const struct al_egress_policy *pol, uint16_t port);

/* Address classes that are never a legitimate public destination. */
enum al_addr_class {
	AL_ADDR_PUBLIC = 0,
	AL_ADDR_UNSPECIFIED, /* 0.0.0.0/8, :: */
	AL_ADDR_LOOPBACK,    /* 127/8, ::1 */
	AL_ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16 */
	AL_ADDR_CGNAT,       /* 100.64/10 */
	AL_ADDR_LINKLOCAL,   /* 169.254/16, fe80::/10 */
	AL_ADDR_METADATA,    /* 169.254.169.254, fd00:ec2::254 */
	AL_ADDR_ULA,         /* fc00::/7 */
	AL_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
	AL_ADDR_BROADCAST,   /* 255.255.255.255 */
	AL_ADDR_RESERVED, /* 240/4, 192.0.0/24, test nets, 198.18/15, 6to4-relay, site-local, ... */
};

/* Classify an address (family AF_INET: 4 bytes, AF_INET6: 16 bytes). IPv4-mapped,
 * IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms are
 * classified by the IPv4 address they embed. */
enum al_addr_class al_addr_classify(int family, const uint8_t *addr);
const char *al_addr_class_reason(enum al_addr_class c);

/* Is the address inside one of allow_cidr? IPv4-mapped IPv6 also matches IPv4 CIDRs. */
bool al_policy_cidr_allows(const struct al_egress_policy *pol, int family, const uint8_t *addr);

/* Final verdict for connecting to a resolved address: true if allowed, else
 * *reason (a static string). raw_ip: the destination was given as an IP
 * literal (not a name), which only allow_cidr permits. */
bool al_policy_addr_allowed(const struct al_egress_policy *pol, const struct sockaddr *sa,
                            bool raw_ip, const char **reason);

/* hosts: lookup by normalised name; returns the entry or NULL. */
const struct al_egress_host *al_policy_host_lookup(const struct al_egress_policy *pol,
                                                   const char *name);

/* Address <-> text helpers (no port). */
int al_sockaddr_ip(const struct sockaddr *sa, int *family, uint8_t out[16]);
void al_sockaddr_text(const struct sockaddr *sa, char *buf, size_t len);
