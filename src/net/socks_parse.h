/* SOCKS5 (RFC 1928) greeting and request parsing, no authentication,
 * CONNECT only. Pure functions over hostile bytes; fuzzed by fuzz_socks.c. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "net/policy.h"

#define AL_SOCKS_CMD_CONNECT 1

/* Greeting: VER NMETHODS METHODS... Returns bytes used (>0) if complete and
 * "no authentication" is offered, 0 if more is needed, -1 if malformed, -2 if
 * no acceptable method was offered. */
int al_socks_parse_greeting(const uint8_t *buf, size_t len);

struct al_socks_req {
	uint8_t cmd;
	uint8_t atyp;           /* 1 IPv4, 3 name, 4 IPv6 */
	char host[AL_NAME_MAX]; /* normalised name or address as text */
	uint8_t addr[16];       /* atyp 1/4 */
	uint16_t port;
	uint8_t reply; /* on failure: the SOCKS reply code to send */
	const char *reason;
};
/* Request: VER CMD RSV ATYP DST.ADDR DST.PORT. Returns bytes used (>0),
 * 0 if more is needed, -1 if malformed or refused (req->reply, req->reason). */
int al_socks_parse_request(const uint8_t *buf, size_t len, struct al_socks_req *req);
