/* SOCKS5 parsing for the egress proxy (see socks_parse.h). */
#include <arpa/inet.h>
#include <string.h>

#include "net/socks_parse.h"

int al_socks_parse_greeting(const uint8_t *buf, size_t len)
{
	size_t i, n;

	if (len < 1)
		return 0;
	if (buf[0] != 5)
		return -1;
	if (len < 2)
		return 0;
	n = buf[1];
	if (n == 0)
		return -1;
	if (len < 2 + n)
		return 0;
	for (i = 0; i < n; i++)
		if (buf[2 + i] == 0)
			return (int)(2 + n);
	return -2;
}

static int refuse(struct al_socks_req *req, uint8_t reply, const char *reason)
{
	req->reply = reply;
	req->reason = reason;
	return -1;
}

int al_socks_parse_request(const uint8_t *buf, size_t len, struct al_socks_req *req)
{
	size_t need;

	memset(req, 0, sizeof(*req));
	if (len < 4)
		return 0;
	if (buf[0] != 5 || buf[2] != 0)
		return refuse(req, 1, "malformed-request");
	req->cmd = buf[1];
	req->atyp = buf[3];
	switch (req->atyp) {
	case 1:
		need = 4 + 4 + 2;
		break;
	case 4:
		need = 4 + 16 + 2;
		break;
	case 3:
		if (len < 5)
			return 0;
		if (buf[4] == 0)
			return refuse(req, 1, "malformed-request");
		need = 5 + buf[4] + 2;
		break;
	default:
		return refuse(req, 8, "address-type-not-supported");
	}
	if (len < need)
		return 0;
	if (req->cmd != AL_SOCKS_CMD_CONNECT)
		return refuse(req, 7,
		              req->cmd == 2   ? "bind-not-supported"
		              : req->cmd == 3 ? "udp-associate-not-supported"
		                              : "command-not-supported");
	if (req->atyp == 1) {
		memcpy(req->addr, buf + 4, 4);
		inet_ntop(AF_INET, req->addr, req->host, sizeof(req->host));
	} else if (req->atyp == 4) {
		memcpy(req->addr, buf + 4, 16);
		inet_ntop(AF_INET6, req->addr, req->host, sizeof(req->host));
	} else if (al_name_normalize((const char *)buf + 5, buf[4], req->host) < 0) {
		return refuse(req, 1, "malformed-name");
	}
	req->port = (uint16_t)(buf[need - 2] << 8 | buf[need - 1]);
	if (req->port == 0)
		return refuse(req, 1, "malformed-request");
	return (int)need;
}
