/* DNS query parsing and answer building for the in-sandbox resolver. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dns_msg.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int al_dns_parse_query(const uint8_t *buf, size_t len, struct al_dns_query *q, bool *id_known)
{
	size_t off = 12, text = 0, norm = 0;
	uint16_t qd, an, ns, ar;
	bool ok = true;

	memset(q, 0, sizeof(*q));
	*id_known = false;
	if (len < 12 || len > AL_DNS_MAX_MSG)
		return -1;
	q->id = get16(buf);
	*id_known = true;
	q->rd = buf[2] & 1;
	/* QR=0, opcode QUERY, TC=0 */
	if ((buf[2] & 0x80) || (buf[2] & 0x78) || (buf[2] & 0x02))
		return -1;
	qd = get16(buf + 4);
	an = get16(buf + 6);
	ns = get16(buf + 8);
	ar = get16(buf + 10);
	if (qd != 1 || an != 0 || ns != 0 || ar > 1)
		return -1;
	for (;;) {
		uint8_t l;
		size_t i;
		if (off >= len)
			return -1;
		l = buf[off];
		if (l == 0) {
			off++;
			break;
		}
		if (l > 63 || off + 1 + l > len || off - 12 + 1 + l + 1 > 255)
			return -1; /* compression pointers and oversize names refused */
		if (off > 12) {
			q->qname_text[text++] = '.';
			if (norm < AL_NAME_MAX - 1)
				q->qname_norm[norm++] = '.';
		}
		for (i = 0; i < l; i++) {
			uint8_t c = buf[off + 1 + i];
			bool host = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			            (c >= '0' && c <= '9') || c == '-' || c == '_';
			if (host) {
				q->qname_text[text++] = (char)c;
			} else {
				text += (size_t)snprintf(q->qname_text + text, 5, "\\%03u", c);
				ok = false;
			}
			if (norm < AL_NAME_MAX - 1)
				q->qname_norm[norm++] = (char)c;
		}
		off += 1 + l;
	}
	q->qname_wire_len = off - 12;
	memcpy(q->qname_wire, buf + 12, q->qname_wire_len);
	if (off + 4 > len)
		return -1;
	q->qtype = get16(buf + off);
	q->qclass = get16(buf + off + 2);
	off += 4;
	if (ar == 1) {
		/* only an EDNS OPT record: root name, type 41, rdata within bounds */
		uint16_t rdlen;
		if (off + 11 > len || buf[off] != 0 || get16(buf + off + 1) != 41)
			return -1;
		rdlen = get16(buf + off + 9);
		off += 11;
		if (off + rdlen > len)
			return -1;
		off += rdlen;
	}
	if (off != len)
		return -1;
	q->qname_text[text] = '\0';
	q->qname_norm[norm] = '\0';
	if (q->qname_wire_len == 1)
		ok = false; /* the root */
	if (ok) {
		char tmp[AL_NAME_MAX];
		ok = al_name_normalize(q->qname_norm, norm, tmp) == 0;
		if (ok)
			memcpy(q->qname_norm, tmp, strlen(tmp) + 1);
	}
	q->name_ok = ok;
	if (!ok)
		q->qname_norm[0] = '\0';
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

long al_dns_build_response(const struct al_dns_query *q, int rcode, int family,
                           const uint8_t (*addrs)[16], size_t n, uint32_t ttl, uint8_t *out,
                           size_t cap)
{
	size_t alen = family == AF_INET6 ? 16 : 4, off, i;
	size_t need = 12 + q->qname_wire_len + 4 + n * (12 + alen);

	if (need > cap || n > 64)
		return -1;
	put16(out, q->id);
	out[2] = (uint8_t)(0x80 | (q->rd ? 1 : 0)); /* QR, RD echoed */
	out[3] = (uint8_t)(0x80 | (rcode & 0xf));   /* RA */
	put16(out + 4, 1);
	put16(out + 6, (uint16_t)n);
	put16(out + 8, 0);
	put16(out + 10, 0);
	memcpy(out + 12, q->qname_wire, q->qname_wire_len);
	off = 12 + q->qname_wire_len;
	put16(out + off, q->qtype);
	put16(out + off + 2, q->qclass);
	off += 4;
	for (i = 0; i < n; i++) {
		put16(out + off, 0xc00c); /* pointer to the question name */
		put16(out + off + 2, family == AF_INET6 ? AL_DNS_T_AAAA : AL_DNS_T_A);
		put16(out + off + 4, 1);
		out[off + 6] = (uint8_t)(ttl >> 24);
		out[off + 7] = (uint8_t)(ttl >> 16);
		out[off + 8] = (uint8_t)(ttl >> 8);
		out[off + 9] = (uint8_t)ttl;
		put16(out + off + 10, (uint16_t)alen);
		memcpy(out + off + 12, addrs[i], alen);
		off += 12 + alen;
	}
	return (long)off;
}

long al_dns_build_error(uint16_t id, int rcode, uint8_t *out, size_t cap)
{
	if (cap < 12)
		return -1;
	memset(out, 0, 12);
	put16(out, id);
	out[2] = 0x80;
	out[3] = (uint8_t)(0x80 | (rcode & 0xf));
	return 12;
}

void al_dns_qtype_text(uint16_t qtype, char out[8])
{
	if (qtype == AL_DNS_T_A)
		memcpy(out, "A", 2);
	else if (qtype == AL_DNS_T_AAAA)
		memcpy(out, "AAAA", 5);
	else
		snprintf(out, 8, "TYPE%u", qtype);
}
