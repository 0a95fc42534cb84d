/* DNS messages as airlock's in-sandbox resolver sees them: strict parsing of
 * a single-question query (no compression in the question, at most one OPT
 * record) and building the answer. Fuzzed by fuzz_dns.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/policy.h"

#define AL_DNS_MAX_MSG 4096
#define AL_DNS_T_A 1
#define AL_DNS_T_AAAA 28
#define AL_DNS_RCODE_NOERROR 0
#define AL_DNS_RCODE_FORMERR 1
#define AL_DNS_RCODE_SERVFAIL 2
#define AL_DNS_RCODE_NXDOMAIN 3
#define AL_DNS_RCODE_NOTIMP 4
#define AL_DNS_RCODE_REFUSED 5

struct al_dns_query {
	uint16_t id;
	bool rd;
	uint16_t qtype, qclass;
	size_t qname_wire_len; /* bytes of the question name on the wire */
	uint8_t qname_wire[256];
	char qname_text[256 * 5]; /* printable form, non-hostname bytes as \DDD */
	bool name_ok;             /* qname_norm is a valid normalised host name */
	char qname_norm[AL_NAME_MAX];
};

/* Returns 0 for a well-formed query; -1 if malformed. *id_known tells whether
 * at least the header could be read (then a FORMERR may be sent). */
int al_dns_parse_query(const uint8_t *buf, size_t len, struct al_dns_query *q, bool *id_known);

/* Build a response echoing the question: rcode, and n addresses of family
 * (AF_INET: 4 bytes each, AF_INET6: 16) as answers with the given TTL.
 * Returns the length or -1 if it does not fit. */
long al_dns_build_response(const struct al_dns_query *q, int rcode, int family,
                           const uint8_t (*addrs)[16], size_t n, uint32_t ttl, uint8_t *out,
                           size_t cap);
/* Header-only FORMERR/NOTIMP for queries that could not be parsed. */
long al_dns_build_error(uint16_t id, int rcode, uint8_t *out, size_t cap);

/* "A", "AAAA", else "TYPE<n>". */
void al_dns_qtype_text(uint16_t qtype, char out[8]);
