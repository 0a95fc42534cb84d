/* HTTP/1.x request head parsing for the egress proxy (see http_parse.h).
 * Strict on purpose: CRLF only, no obs-fold, token header names, one
 * Content-Length, Transfer-Encoding only "chunked" and never with
 * Content-Length -- every ambiguity a smuggling attack could use is a 400. */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "net/http_parse.h"

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int fail(struct al_http_req *req, int status, const char *reason)
{
	req->status = status;
	req->reason = reason;
	return -1;
}

int al_http_parse_authority(const char *s, size_t len, char host[AL_NAME_MAX], bool *is_ip,
                            uint16_t *port, bool *port_given)
{
	const char *h = s, *colon = NULL;
	size_t hl;
	char tmp[64];
	uint8_t a[16];

	*port_given = false;
	*is_ip = false;
	if (len == 0)
		return -1;
	if (s[0] == '[') {
		const char *end = memchr(s, ']', len);
		if (end == NULL)
			return -1;
		h = s + 1;
		hl = (size_t)(end - h);
		if (hl == 0 || hl >= sizeof(tmp))
			return -1;
		memcpy(tmp, h, hl);
		tmp[hl] = '\0';
		if (inet_pton(AF_INET6, tmp, a) != 1)
			return -1;
		memcpy(host, tmp, hl + 1);
		*is_ip = true;
		if ((size_t)(end - s) + 1 < len) {
			if (end[1] != ':')
				return -1;
			colon = end + 1;
		}
	} else {
		colon = memchr(s, ':', len);
		hl = colon ? (size_t)(colon - s) : len;
		if (hl < sizeof(tmp) && hl > 0) {
			memcpy(tmp, s, hl);
			tmp[hl] = '\0';
			if (inet_pton(AF_INET, tmp, a) == 1) {
				memcpy(host, tmp, hl + 1);
				*is_ip = true;
			}
		}
		if (!*is_ip && al_name_normalize(s, hl, host) < 0)
			return -1;
	}
	if (colon != NULL) {
		const char *p = colon + 1, *end = s + len;
		unsigned long v = 0;
		if (p == end || end - p > 5)
			return -1;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (unsigned long)(*p - '0');
		}
		if (v == 0 || v > 65535)
			return -1;
		*port = (uint16_t)v;
		*port_given = true;
	}
	return 0;
}

static int parse_target(const char *t, size_t tl, struct al_http_req *req)
{
	const char *auth, *end = t + tl, *slash;
	bool port_given;
	size_t i;

	for (i = 0; i < tl; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return fail(req, 400, "malformed-target");
	if (req->is_connect) {
		if (al_http_parse_authority(t, tl, req->host, &req->host_is_ip, &req->port,
		                            &port_given) < 0 ||
		    !port_given)
			return fail(req, 400, "malformed-target");
		return 0;
	}
	if (tl < 8 || strncasecmp(t, "http://", 7) != 0) {
		if (tl >= 8 && strncasecmp(t, "https://", 8) == 0)
			return fail(req, 400, "https-target-without-connect");
		return fail(req, 400, "not-absolute-form");
	}
	auth = t + 7;
	for (slash = auth; slash < end && *slash != '/' && *slash != '?'; slash++)
		if (*slash == '@' || *slash == '#' || *slash == '\\')
			return fail(req, 400, "malformed-target");
	req->port = 80;
	if (al_http_parse_authority(auth, (size_t)(slash - auth), req->host, &req->host_is_ip,
	                            &req->port, &port_given) < 0)
		return fail(req, 400, "malformed-target");
	if (memchr(slash, '#', (size_t)(end - slash)) != NULL)
		return fail(req, 400, "malformed-target");
	req->path_off = (size_t)(slash - t); /* relative to the target; fixed by the caller */
	req->path_len = (size_t)(end - slash);
	return 0;
}

static bool name_is(const char *buf, const struct al_http_header *h, const char *name)
{
	return h->name_len == strlen(name) &&
	       strncasecmp(buf + h->name_off, name, h->name_len) == 0;
}

static int check_headers(const char *buf, struct al_http_req *req)
{
	size_t i;

	for (i = 0; i < req->n_headers; i++) {
		const struct al_http_header *h = &req->headers[i];
		const char *v = buf + h->val_off;
		if (name_is(buf, h, "content-length")) {
			uint64_t n = 0;
			size_t k;
			if (req->has_content_length)
				return fail(req, 400, "duplicate-content-length");
			if (h->val_len == 0 || h->val_len > 15)
				return fail(req, 400, "bad-content-length");
			for (k = 0; k < h->val_len; k++) {
				if (v[k] < '0' || v[k] > '9')
					return fail(req, 400, "bad-content-length");
				n = n * 10 + (uint64_t)(v[k] - '0');
			}
			req->has_content_length = true;
			req->content_length = n;
		} else if (name_is(buf, h, "transfer-encoding")) {
			if (req->chunked)
				return fail(req, 400, "duplicate-transfer-encoding");
			if (h->val_len != 7 || strncasecmp(v, "chunked", 7) != 0)
				return fail(req, 501, "unsupported-transfer-encoding");
			req->chunked = true;
		} else if (name_is(buf, h, "host")) {
			char host[AL_NAME_MAX];
			bool is_ip, port_given;
			uint16_t port = req->is_connect ? req->port : 80;
			if (req->has_host_header)
				return fail(req, 400, "duplicate-host");
			req->has_host_header = true;
			if (al_http_parse_authority(v, h->val_len, host, &is_ip, &port,
			                            &port_given) < 0)
				return fail(req, 400, "malformed-host");
			if (strcasecmp(host, req->host) != 0 || port != req->port)
				return fail(req, 400, "host-mismatch");
		}
	}
	if (req->chunked && req->has_content_length)
		return fail(req, 400, "content-length-with-transfer-encoding");
	if (!req->is_connect && req->version_minor == 1 && !req->has_host_header)
		return fail(req, 400, "missing-host");
	return 0;
}

int al_http_parse_request(const char *buf, size_t len, struct al_http_req *req)
{
	const char *end, *p, *line_end, *sp1, *sp2;
	size_t scan = len < AL_HTTP_MAX_HEAD ? len : AL_HTTP_MAX_HEAD, i;

	memset(req, 0, sizeof(*req));
	/* find the end of the head; bare LF and NUL anywhere are refused */
	end = NULL;
	for (i = 0; i < scan; i++) {
		if (buf[i] == '\0')
			return fail(req, 400, "nul-in-head");
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return fail(req, 400, "bare-lf");
		if (buf[i] == '\r' && i + 1 < scan && buf[i + 1] != '\n')
			return fail(req, 400, "bare-cr");
		if (i >= 3 && memcmp(buf + i - 3, "\r\n\r\n", 4) == 0) {
			end = buf + i + 1;
			break;
		}
	}
	if (end == NULL)
		return len >= AL_HTTP_MAX_HEAD ? fail(req, 431, "head-too-large") : 0;
	req->head_len = (size_t)(end - buf);

	/* request line: METHOD SP target SP HTTP/1.x CRLF */
	line_end = memchr(buf, '\r', req->head_len);
	sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
	if (sp1 == NULL || sp1 == buf || (size_t)(sp1 - buf) >= sizeof(req->method))
		return fail(req, 400, "malformed-request-line");
	for (p = buf; p < sp1; p++)
		if (!is_tchar((unsigned char)*p))
			return fail(req, 400, "malformed-request-line");
	memcpy(req->method, buf, (size_t)(sp1 - buf));
	req->is_connect = strcmp(req->method, "CONNECT") == 0;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1 || line_end - sp2 != 9 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return fail(req, 400, "malformed-request-line");
	req->version_minor = sp2[8] - '0';
	if (parse_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), req) < 0)
		return -1;
	if (!req->is_connect)
		req->path_off += (size_t)(sp1 + 1 - buf);

	/* header fields: token ":" OWS value OWS CRLF; no obs-fold */
	p = line_end + 2;
	while (p < end - 2) {
		const char *le = memchr(p, '\r', (size_t)(end - p));
		const char *colon, *v, *ve;
		struct al_http_header *h;
		if (*p == ' ' || *p == '\t')
			return fail(req, 400, "obs-fold");
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL || colon == p)
			return fail(req, 400, "malformed-header");
		for (v = p; v < colon; v++)
			if (!is_tchar((unsigned char)*v))
				return fail(req, 400, "malformed-header");
		for (v = colon + 1; v < le && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = le; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		for (const char *q = v; q < ve; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t')
				return fail(req, 400, "malformed-header");
			else if ((unsigned char)*q == 0x7f)
				return fail(req, 400, "malformed-header");
		if (req->n_headers == AL_HTTP_MAX_HEADERS)
			return fail(req, 431, "too-many-headers");
		h = &req->headers[req->n_headers++];
		h->name_off = (uint16_t)(p - buf);
		h->name_len = (uint16_t)(colon - p);
		h->val_off = (uint16_t)(v - buf);
		h->val_len = (uint16_t)(ve - v);
		p = le + 2;
	}
	return check_headers(buf, req) < 0 ? -1 : 1;
}

static bool hop_by_hop(const char *buf, const struct al_http_header *h)
{
	static const char *const names[] = {
	    "connection",         "keep-alive", "proxy-connection", "proxy-authorization",
	    "proxy-authenticate", "te",         "upgrade",          "trailer"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name_is(buf, h, names[i]))
			return true;
	return false;
}

static bool put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (len > cap - *n)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	return true;
}

long al_http_rewrite_head(const char *buf, const struct al_http_req *req, char *out, size_t cap)
{
	size_t n = 0, i;
	bool ok;

	ok = put(out, cap, &n, req->method, strlen(req->method)) && put(out, cap, &n, " ", 1);
	if (req->path_len == 0 || buf[req->path_off] == '?')
		ok = ok && put(out, cap, &n, "/", 1);
	ok = ok && put(out, cap, &n, buf + req->path_off, req->path_len);
	ok = ok && put(out, cap, &n, req->version_minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
	for (i = 0; ok && i < req->n_headers; i++) {
		const struct al_http_header *h = &req->headers[i];
		if (hop_by_hop(buf, h))
			continue;
		ok = put(out, cap, &n, buf + h->name_off, h->name_len) &&
		     put(out, cap, &n, ": ", 2) &&
		     put(out, cap, &n, buf + h->val_off, h->val_len) &&
		     put(out, cap, &n, "\r\n", 2);
	}
	ok = ok && put(out, cap, &n, "Connection: close\r\n\r\n", 21);
	return ok ? (long)n : -1;
}

enum {
	CH_SIZE,
	CH_EXT,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,
	CH_TRAILER,
	CH_TRAILER_LF,
	CH_FINAL_LF
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int al_chunk_feed(struct al_chunk *c, const char *buf, size_t len, size_t *used)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)buf[i];
		switch (c->state) {
		case CH_SIZE:
			if (hexval(ch) >= 0) {
				if (++c->digits > 15)
					return -1;
				c->remain = c->remain * 16 + (uint64_t)hexval(ch);
			} else if (c->digits == 0) {
				return -1;
			} else if (ch == ';') {
				c->state = CH_EXT;
				c->line = 0;
			} else if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else {
				return -1;
			}
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if ((ch < 0x20 && ch != '\t') || ch == 0x7f || ++c->line > 1024)
				return -1;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return -1;
			c->digits = 0;
			c->state = c->remain == 0 ? CH_TRAILER_START : CH_DATA;
			c->line = 0;
			break;
		case CH_DATA: {
			size_t take = len - i;
			if (take > c->remain)
				take = (size_t)c->remain;
			c->remain -= take;
			i += take;
			if (c->remain == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		case CH_DATA_CR:
			if (ch != '\r')
				return -1;
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -1;
			c->state = CH_SIZE;
			break;
		case CH_TRAILER_START:
			if (ch == '\r') {
				c->state = CH_FINAL_LF;
				break;
			}
			if (ch == ' ' || ch == '\t')
				return -1; /* obs-fold */
			c->state = CH_TRAILER;
			/* fall through */
		case CH_TRAILER:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if ((ch < 0x20 && ch != '\t') || ch == 0x7f || ++c->line > 8192)
				return -1;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return -1;
			c->state = CH_TRAILER_START;
			break;
		case CH_FINAL_LF:
			if (ch != '\n')
				return -1;
			*used = i + 1;
			return 1;
		default:
			return -1;
		}
		i++;
	}
	*used = i;
	return 0;
}

int al_http_sniff_host(const char *buf, size_t len, char host[AL_NAME_MAX], bool *is_ip,
                       uint16_t *port, bool *port_given)
{
	const char *end = NULL, *p, *le;
	size_t scan = len < AL_HTTP_MAX_HEAD ? len : AL_HTTP_MAX_HEAD, i;
	int found = 0;

	for (i = 0; i < scan; i++) {
		if (buf[i] == '\0' || (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')))
			return -1;
		if (i >= 3 && memcmp(buf + i - 3, "\r\n\r\n", 4) == 0) {
			end = buf + i + 1;
			break;
		}
	}
	if (end == NULL)
		return len >= AL_HTTP_MAX_HEAD ? -1 : 0;
	le = memchr(buf, '\r', (size_t)(end - buf));
	/* METHOD SP origin-form SP HTTP/1.x */
	p = memchr(buf, ' ', (size_t)(le - buf));
	if (p == NULL || p == buf || p + 1 >= le || p[1] != '/' || le - buf < 10 ||
	    memcmp(le - 9, " HTTP/1.", 8) != 0)
		return -1;
	for (p = le + 2; p < end - 2; p = le + 2) {
		const char *v;
		le = memchr(p, '\r', (size_t)(end - p));
		if (*p == ' ' || *p == '\t')
			return -1;
		if (le - p < 5 || strncasecmp(p, "host:", 5) != 0)
			continue;
		if (found++)
			return -1;
		for (v = p + 5; v < le && (*v == ' ' || *v == '\t'); v++)
			;
		while (le > v && (le[-1] == ' ' || le[-1] == '\t'))
			le--;
		if (al_http_parse_authority(v, (size_t)(le - v), host, is_ip, port, port_given) < 0)
			return -1;
		le = memchr(le, '\r', (size_t)(end - le));
	}
	return found ? 1 : -1;
}
