/* The proxy's name resolution: c-ares on the host side (only for names the
 * policy allows, only against the configured resolvers, never the hosts file
 * or a search list), the DNS server the sandbox talks to (UDP and TCP 53
 * inside), and the memory of which name was given out for which address. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "net/cares_dl.h"
#include "net/dns_msg.h"
#include "net/proxy.h"
#include "util/cleanup.h"

#define DNS_MEMORY_CAP 4096
#define DNS_MAX_PENDING 1024
#define DNS_ANSWER_TTL 60

struct dns_memory {
	int family;
	uint8_t addr[16];
	char name[AL_NAME_MAX];
};

/* ---- c-ares ---- */

static void ares_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct proxy *p = data;
	struct epoll_event ev = {.events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0),
	                         .data.u64 = proxy_tag(TAG_ARES, fd)};
	if (!readable && !writable) {
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
		return;
	}
	if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int dns_resolver_init(struct proxy *p, struct al_error *err)
{
	struct ares_options opts = {0};
	struct ares_addr_port_node nodes[8];
	size_t i, n = 0;
	int r;

	/* c-ares is loaded here, in the proxy only, before its confinement */
	r = al_cares_load(err);
	if (r < 0)
		return r;
	r = sym_ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS)
		return al_error_set(err, 0, "egress", "c-ares init: %s", sym_ares_strerror(r));
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.lookups = (char *)"b"; /* DNS only: never the hosts file (no filesystem later) */
	opts.sock_state_cb = ares_sock_state;
	opts.sock_state_cb_data = p;
	opts.timeout = 2000;
	opts.tries = 2;
	r = sym_ares_init_options(&p->ares, &opts,
	                      ARES_OPT_FLAGS | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB |
	                          ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (r != ARES_SUCCESS)
		return al_error_set(err, 0, "egress", "c-ares init: %s", sym_ares_strerror(r));
	for (i = 0; i < p->pol->n_resolvers && n < AL_ARRAY_SIZE(nodes); i++) {
		const struct sockaddr_storage *ss = &p->pol->resolvers[i];
		struct ares_addr_port_node *nd = &nodes[n];
		memset(nd, 0, sizeof(*nd));
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
			nd->family = AF_INET;
			memcpy(&nd->addr.addr4, &s4->sin_addr, 4);
			nd->udp_port = nd->tcp_port = s4->sin_port ? ntohs(s4->sin_port) : 53;
		} else if (ss->ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
			nd->family = AF_INET6;
			memcpy(&nd->addr.addr6, &s6->sin6_addr, 16);
			nd->udp_port = nd->tcp_port = s6->sin6_port ? ntohs(s6->sin6_port) : 53;
		} else {
			continue;
		}
		if (n > 0)
			nodes[n - 1].next = nd;
		n++;
	}
	if (n > 0) {
		r = sym_ares_set_servers_ports(p->ares, nodes);
		if (r != ARES_SUCCESS)
			return al_error_set(err, 0, "egress", "c-ares servers: %s",
			                    sym_ares_strerror(r));
	}
	p->ares_ok = true;
	return 0;
}

void dns_resolver_fd_event(struct proxy *p, int fd, uint32_t events)
{
	sym_ares_process_fd(p->ares, (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
	                (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
}

void dns_resolver_timeouts(struct proxy *p)
{
	if (p->ares_ok)
		sym_ares_process_fd(p->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

int dns_resolver_timeout_ms(struct proxy *p, int cap_ms)
{
	struct timeval max = {.tv_sec = cap_ms / 1000, .tv_usec = (cap_ms % 1000) * 1000}, tv, *t;

	if (!p->ares_ok)
		return cap_ms;
	t = sym_ares_timeout(p->ares, &max, &tv);
	return (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
}

static void deliver(struct resolve_req *rq, const struct resolved *res)
{
	if (rq->backref)
		*rq->backref = NULL;
	if (rq->ctx)
		rq->cb(rq->p, rq->ctx, res);
	free(rq);
}

static void ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct resolve_req *rq = arg;
	struct resolved res = {.status = status};
	size_t i;

	if (status == ARES_SUCCESS && rq->family == AF_INET) {
		struct ares_addrttl at[AL_PROXY_MAX_ADDRS];
		int n = AL_PROXY_MAX_ADDRS;
		res.status = sym_ares_parse_a_reply(abuf, alen, NULL, at, &n);
		for (i = 0; res.status == ARES_SUCCESS && i < (size_t)n; i++) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&res.addrs[res.n++];
			s4->sin_family = AF_INET;
			s4->sin_addr = at[i].ipaddr;
		}
	} else if (status == ARES_SUCCESS) {
		struct ares_addr6ttl at[AL_PROXY_MAX_ADDRS];
		int n = AL_PROXY_MAX_ADDRS;
		res.status = sym_ares_parse_aaaa_reply(abuf, alen, NULL, at, &n);
		for (i = 0; res.status == ARES_SUCCESS && i < (size_t)n; i++) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&res.addrs[res.n++];
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, &at[i].ip6addr, 16);
		}
	}
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		rq->ctx = NULL;
		deliver(rq, &res);
		return;
	}
	if (rq->both && rq->family == AF_INET && res.n == 0 && rq->ctx != NULL) {
		rq->family = AF_INET6;
		rq->both = false;
		sym_ares_query(rq->p->ares, rq->name, ns_c_in, ns_t_aaaa, ares_answer, rq);
		return;
	}
	if (res.n == 0 && res.status == ARES_SUCCESS)
		res.status = ARES_ENODATA;
	deliver(rq, &res);
}

void dns_resolve(struct proxy *p, const char *name, int family, bool both, resolve_cb cb, void *ctx,
                 struct resolve_req **backref)
{
	const struct al_egress_host *h = al_policy_host_lookup(p->pol, name);
	struct resolve_req *rq;
	struct resolved res = {0};

	*backref = NULL;
	if (h != NULL) {
		if (both || (int)h->addr.ss_family == family) {
			memcpy(&res.addrs[0], &h->addr, sizeof(h->addr));
			res.n = 1;
		} else {
			res.status = ARES_ENODATA;
		}
		cb(p, ctx, &res);
		return;
	}
	if (!p->ares_ok) {
		res.status = ARES_ENOTINITIALIZED;
		cb(p, ctx, &res);
		return;
	}
	rq = calloc(1, sizeof(*rq));
	if (rq == NULL) {
		res.status = ARES_ENOMEM;
		cb(p, ctx, &res);
		return;
	}
	rq->p = p;
	rq->cb = cb;
	rq->ctx = ctx;
	rq->family = family;
	rq->both = both;
	snprintf(rq->name, sizeof(rq->name), "%s", name);
	rq->backref = backref;
	*backref = rq;
	sym_ares_query(p->ares, name, ns_c_in, family == AF_INET ? ns_t_a : ns_t_aaaa, ares_answer, rq);
}

void dns_resolve_cancel(struct resolve_req **backref)
{
	if (*backref != NULL) {
		(*backref)->ctx = NULL;
		(*backref)->backref = NULL;
		*backref = NULL;
	}
}

/* ---- memory of answers given out ---- */

void dns_memory_add(struct proxy *p, const struct sockaddr *sa, const char *name)
{
	struct dns_memory *m;
	int family;
	uint8_t a[16];
	size_t i;

	if (al_sockaddr_ip(sa, &family, a) < 0)
		return;
	if (dns_memory_has(p, sa, name))
		return;
	if (p->mem == NULL) {
		p->mem = calloc(DNS_MEMORY_CAP, sizeof(*p->mem));
		if (p->mem == NULL)
			return;
		p->mem_cap = DNS_MEMORY_CAP;
	}
	i = p->mem_next;
	p->mem_next = (p->mem_next + 1) % p->mem_cap;
	if (p->mem_len < p->mem_cap)
		p->mem_len++;
	m = &p->mem[i];
	m->family = family;
	memcpy(m->addr, a, 16);
	snprintf(m->name, sizeof(m->name), "%s", name);
}

bool dns_memory_has(struct proxy *p, const struct sockaddr *sa, const char *name)
{
	int family;
	uint8_t a[16];
	size_t i, alen;

	if (al_sockaddr_ip(sa, &family, a) < 0)
		return false;
	alen = family == AF_INET ? 4 : 16;
	for (i = 0; i < p->mem_len; i++)
		if (p->mem[i].family == family && memcmp(p->mem[i].addr, a, alen) == 0 &&
		    strcmp(p->mem[i].name, name) == 0)
			return true;
	return false;
}

/* ---- the DNS server ---- */

struct dns_pending {
	struct proxy *p;
	bool tcp;
	int fd;           /* UDP socket */
	uint32_t conn_id; /* TCP connection */
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct al_dns_query q;
	struct resolve_req *rq;
};
static size_t n_pending;

static void dns_send(struct dns_pending *d, const uint8_t *msg, size_t len)
{
	if (!d->tcp) {
		(void)sendto(d->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT,
		             (struct sockaddr *)&d->peer, d->peerlen);
		return;
	}
	struct conn *c = conn_by_id(d->p, d->conn_id);
	if (c != NULL)
		conn_dns_reply(d->p, c, msg, len);
}

static void dns_report(struct proxy *p, const struct dns_pending *d, bool allowed,
                       const char *reason, const char *answer)
{
	struct al_net_report r;

	memset(&r, 0, sizeof(r));
	r.kind = AL_NET_DNS;
	r.conn_id = d->tcp ? d->conn_id : 0;
	snprintf(r.proto, sizeof(r.proto), "%s", d->tcp ? "dns-tcp" : "dns-udp");
	snprintf(r.name, sizeof(r.name), "%s", d->q.qname_text);
	al_dns_qtype_text(d->q.qtype, r.qtype);
	r.allowed = allowed;
	snprintf(r.reason, sizeof(r.reason), "%s", reason ? reason : "");
	snprintf(r.answer, sizeof(r.answer), "%s", answer ? answer : "");
	proxy_report(p, &r);
}

static void dns_reply_rcode(struct dns_pending *d, int rcode)
{
	uint8_t out[AL_DNS_MAX_MSG];
	long n = al_dns_build_response(&d->q, rcode, AF_INET, NULL, 0, 0, out, sizeof(out));
	if (n > 0)
		dns_send(d, out, (size_t)n);
}

static void dns_resolved(struct proxy *p, void *ctx, const struct resolved *res)
{
	struct dns_pending *d = ctx;
	uint8_t addrs[AL_PROXY_MAX_ADDRS][16], out[AL_DNS_MAX_MSG];
	char answer[256] = "", text[64];
	const char *reason = NULL;
	size_t i, n = 0, alen = d->q.qtype == AL_DNS_T_AAAA ? 16 : 4;
	int want = d->q.qtype == AL_DNS_T_AAAA ? AF_INET6 : AF_INET;
	long len;

	for (i = 0; i < res->n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&res->addrs[i];
		const char *why = NULL;
		int family;
		uint8_t a[16];
		if (al_sockaddr_ip(sa, &family, a) < 0 || family != want)
			continue;
		if (!al_policy_addr_allowed(p->pol, sa, false, &why)) {
			reason = why;
			continue;
		}
		memcpy(addrs[n++], a, alen);
		dns_memory_add(p, sa, d->q.qname_norm);
		al_sockaddr_text(sa, text, sizeof(text));
		if (strlen(answer) + strlen(text) + 2 < sizeof(answer))
			snprintf(answer + strlen(answer), sizeof(answer) - strlen(answer), "%s%s",
			         answer[0] ? "," : "", text);
	}
	if (n > 0) {
		len = al_dns_build_response(&d->q, AL_DNS_RCODE_NOERROR, want,
		                            (const uint8_t(*)[16])addrs, n, DNS_ANSWER_TTL, out,
		                            sizeof(out));
		if (len > 0)
			dns_send(d, out, (size_t)len);
		dns_report(p, d, true, NULL, answer);
	} else if (reason != NULL) {
		/* every address the name has is one we refuse (SSRF, rebinding) */
		dns_reply_rcode(d, AL_DNS_RCODE_NXDOMAIN);
		dns_report(p, d, false, reason, "NXDOMAIN");
	} else if (res->status == ARES_ENOTFOUND) {
		dns_reply_rcode(d, AL_DNS_RCODE_NXDOMAIN);
		dns_report(p, d, true, NULL, "NXDOMAIN");
	} else if (res->status == ARES_ENODATA || res->status == ARES_SUCCESS) {
		dns_reply_rcode(d, AL_DNS_RCODE_NOERROR);
		dns_report(p, d, true, NULL, "NODATA");
	} else {
		dns_reply_rcode(d, AL_DNS_RCODE_SERVFAIL);
		dns_report(p, d, true, sym_ares_strerror(res->status), "SERVFAIL");
	}
	n_pending--;
	free(d);
}

static void dns_handle(struct proxy *p, struct dns_pending *d, const uint8_t *msg, size_t len)
{
	bool id_known;
	const char *reason = NULL;

	if (al_dns_parse_query(msg, len, &d->q, &id_known) < 0) {
		uint8_t out[12];
		if (id_known &&
		    al_dns_build_error(d->q.id, AL_DNS_RCODE_FORMERR, out, sizeof(out)) > 0)
			dns_send(d, out, 12);
		dns_report(p, d, false, "malformed-query", "FORMERR");
		free(d);
		return;
	}
	if (!d->q.name_ok || d->q.qclass != 1) {
		reason = !d->q.name_ok ? "not a host name" : "not class IN";
	} else if (al_name_is_ip_literal(d->q.qname_norm)) {
		reason = "address literal";
	} else {
		al_policy_domain_allowed(p->pol, d->q.qname_norm, &reason);
	}
	if (reason != NULL) {
		/* answered here, nothing sent upstream: no tunnelling through names */
		dns_reply_rcode(d, AL_DNS_RCODE_NXDOMAIN);
		dns_report(p, d, false, reason, "NXDOMAIN");
		free(d);
		return;
	}
	if (d->q.qtype != AL_DNS_T_A && d->q.qtype != AL_DNS_T_AAAA) {
		dns_reply_rcode(d, AL_DNS_RCODE_NOERROR);
		dns_report(p, d, true, "type not served", "NODATA");
		free(d);
		return;
	}
	if (n_pending >= DNS_MAX_PENDING) {
		dns_reply_rcode(d, AL_DNS_RCODE_SERVFAIL);
		dns_report(p, d, true, "too many pending queries", "SERVFAIL");
		free(d);
		return;
	}
	n_pending++;
	dns_resolve(p, d->q.qname_norm, d->q.qtype == AL_DNS_T_AAAA ? AF_INET6 : AF_INET, false,
	            dns_resolved, d, &d->rq);
}

void dns_udp_readable(struct proxy *p, int fd)
{
	uint8_t msg[AL_DNS_MAX_MSG + 1];
	int i;

	for (i = 0; i < 64; i++) {
		struct dns_pending *d;
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n =
		    recvfrom(fd, msg, sizeof(msg), MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);
		if (n < 0)
			return;
		d = calloc(1, sizeof(*d));
		if (d == NULL)
			return;
		d->p = p;
		d->fd = fd;
		d->peer = peer;
		d->peerlen = plen;
		dns_handle(p, d, msg, (size_t)n);
	}
}

void dns_tcp_query(struct proxy *p, struct conn *c, const uint8_t *msg, size_t len)
{
	struct dns_pending *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return;
	d->p = p;
	d->tcp = true;
	d->conn_id = conn_id_of(c);
	dns_handle(p, d, msg, len);
}
