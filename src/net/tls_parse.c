/* TLS ClientHello SNI extraction (RFC 8446 4.1.2, RFC 6066 3); see tls_parse.h. */
#include <string.h>

#include "net/tls_parse.h"

struct rd {
	const uint8_t *p;
	size_t n;
};

static int take(struct rd *r, size_t k, struct rd *sub)
{
	if (r->n < k)
		return -1;
	if (sub) {
		sub->p = r->p;
		sub->n = k;
	}
	r->p += k;
	r->n -= k;
	return 0;
}

static int u8(struct rd *r, size_t *v)
{
	if (r->n < 1)
		return -1;
	*v = r->p[0];
	return take(r, 1, NULL);
}

static int u16(struct rd *r, size_t *v)
{
	if (r->n < 2)
		return -1;
	*v = (size_t)r->p[0] << 8 | r->p[1];
	return take(r, 2, NULL);
}

static enum al_sni_result parse_sni_ext(struct rd ext, char name[AL_NAME_MAX])
{
	size_t list_len, type, nlen;
	struct rd list, host;

	if (u16(&ext, &list_len) < 0 || list_len != ext.n || take(&ext, list_len, &list) < 0)
		return AL_SNI_MALFORMED;
	/* exactly one host_name entry */
	if (u8(&list, &type) < 0 || type != 0 || u16(&list, &nlen) < 0 ||
	    take(&list, nlen, &host) < 0 || list.n != 0)
		return AL_SNI_MALFORMED;
	if (memchr(host.p, 0, host.n) != NULL ||
	    al_name_normalize((const char *)host.p, host.n, name) < 0)
		return AL_SNI_MALFORMED;
	return AL_SNI_FOUND;
}

enum al_sni_result al_tls_client_hello_sni(const uint8_t *buf, size_t len, char name[AL_NAME_MAX])
{
	struct rd r = {buf, len}, rec = {0}, hs = {0}, exts = {0}, ext = {0};
	size_t rec_len, hs_len, v, ext_type, ext_len, seen_sni = 0;
	uint16_t seen[64];
	size_t n_seen = 0, i;

	if (len < 1)
		return AL_SNI_NEED_MORE;
	if (buf[0] != 0x16)
		return AL_SNI_NOT_TLS;
	if (len < 5)
		return AL_SNI_NEED_MORE;
	if (buf[1] != 3 || buf[2] > 4)
		return AL_SNI_MALFORMED;
	rec_len = (size_t)buf[3] << 8 | buf[4];
	if (rec_len < 4 || rec_len > 16384)
		return AL_SNI_MALFORMED;
	hs_len = len >= 9 ? ((size_t)buf[6] << 16 | (size_t)buf[7] << 8 | buf[8]) : 0;
	if (len >= 6 && buf[5] != 1)
		return AL_SNI_MALFORMED; /* not a ClientHello */
	if (len >= 9 && hs_len + 4 > rec_len)
		return AL_SNI_MALFORMED; /* fragmented over several records: refused */
	if (len < 5 + rec_len)
		return AL_SNI_NEED_MORE;
	if (take(&r, 5, NULL) < 0 || take(&r, rec_len, &rec) < 0 || take(&rec, 4, NULL) < 0)
		return AL_SNI_MALFORMED;
	if (take(&rec, hs_len, &hs) < 0)
		return AL_SNI_MALFORMED;
	/* legacy_version, random */
	if (take(&hs, 2 + 32, NULL) < 0)
		return AL_SNI_MALFORMED;
	if (u8(&hs, &v) < 0 || v > 32 || take(&hs, v, NULL) < 0) /* session id */
		return AL_SNI_MALFORMED;
	if (u16(&hs, &v) < 0 || v < 2 || v % 2 || take(&hs, v, NULL) < 0) /* cipher suites */
		return AL_SNI_MALFORMED;
	if (u8(&hs, &v) < 0 || v < 1 || take(&hs, v, NULL) < 0) /* compression methods */
		return AL_SNI_MALFORMED;
	if (hs.n == 0)
		return AL_SNI_ABSENT; /* no extensions at all */
	if (u16(&hs, &v) < 0 || v != hs.n || take(&hs, v, &exts) < 0)
		return AL_SNI_MALFORMED;
	while (exts.n > 0) {
		if (u16(&exts, &ext_type) < 0 || u16(&exts, &ext_len) < 0 ||
		    take(&exts, ext_len, &ext) < 0)
			return AL_SNI_MALFORMED;
		/* a repeated extension is illegal and could hide a second name */
		for (i = 0; i < n_seen; i++)
			if (seen[i] == ext_type)
				return AL_SNI_MALFORMED;
		if (n_seen == sizeof(seen) / sizeof(seen[0]))
			return AL_SNI_MALFORMED;
		seen[n_seen++] = (uint16_t)ext_type;
		if (ext_type == 0) {
			if (parse_sni_ext(ext, name) != AL_SNI_FOUND)
				return AL_SNI_MALFORMED;
			seen_sni = 1;
		}
	}
	return seen_sni ? AL_SNI_FOUND : AL_SNI_ABSENT;
}
