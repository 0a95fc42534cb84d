/* Internals of the egress proxy process: the connection state, the epoll
 * loop (proxy.c), the in-sandbox DNS server and the c-ares resolver (dns.c).
 * Everything here runs inside the confined proxy process. */
#pragma once

#include <ares.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/egress.h"
#include "net/http_parse.h"
#include "net/policy.h"

#define AL_PROXY_MAX_ADDRS 8

struct proxy;
struct conn;

/* Resolution result handed to a waiting connection or DNS query. */
struct resolved {
	int status; /* 0 ok, else an ARES_* code */
	size_t n;
	struct sockaddr_storage addrs[AL_PROXY_MAX_ADDRS];
	uint32_t ttl;
};

typedef void (*resolve_cb)(struct proxy *p, void *ctx, const struct resolved *res);

struct resolve_req {
	struct proxy *p;
	resolve_cb cb;
	void *ctx;  /* NULL once the waiter is gone */
	int family; /* AF_INET (A) or AF_INET6 (AAAA) */
	bool both;  /* A then AAAA if A gives nothing */
	char name[AL_NAME_MAX];
	struct resolve_req **backref; /* the waiter's pointer to this request */
};

struct proxy {
	const struct al_egress_policy *pol;
	int epfd;
	int report_fd;
	int signal_fd; /* SIGTERM/SIGINT/SIGHUP, -1 if none */
	ares_channel ares;
	bool ares_ok;
	uint32_t next_conn_id;
	size_t n_conns, max_conns;
	struct conn *conns;     /* all live connections */
	struct conn *graveyard; /* closed this iteration, freed at its end */
	int listen_fd[6];
	/* names the DNS server gave out, by address (transparent path check) */
	struct dns_memory *mem;
	size_t mem_len, mem_next, mem_cap;
	/* chaos: the earliest time a delayed connection wants to go on (0: none) */
	uint64_t chaos_next_ns;
};

/* reports */
void proxy_report(struct proxy *p, struct al_net_report *r);
uint64_t proxy_now_ns(void);

/* resolver (dns.c) */
int dns_resolver_init(struct proxy *p, struct al_error *err);
void dns_resolver_fd_event(struct proxy *p, int fd, uint32_t events);
void dns_resolver_timeouts(struct proxy *p);
int dns_resolver_timeout_ms(struct proxy *p, int cap_ms);
/* Resolve name (hosts: entries answered at once). The callback may run
 * before this returns. *backref is set while the query is outstanding. */
void dns_resolve(struct proxy *p, const char *name, int family, bool both, resolve_cb cb, void *ctx,
                 struct resolve_req **backref);
void dns_resolve_cancel(struct resolve_req **backref);

/* the DNS server inside the sandbox */
void dns_udp_readable(struct proxy *p, int fd);
/* one DNS-over-TCP message from a connection; dns.c replies with conn_dns_reply */
void dns_tcp_query(struct proxy *p, struct conn *c, const uint8_t *msg, size_t len);
void conn_dns_reply(struct proxy *p, struct conn *c, const uint8_t *msg, size_t len);
struct conn *conn_by_id(struct proxy *p, uint32_t id);
uint32_t conn_id_of(const struct conn *c);

/* address memory */
void dns_memory_add(struct proxy *p, const struct sockaddr *sa, const char *name);
bool dns_memory_has(struct proxy *p, const struct sockaddr *sa, const char *name);

/* the loop (proxy.c) */
int proxy_run(struct proxy *p, const struct al_egress_fds *fds, struct al_error *err);

/* epoll tags for non-connection fds: low bit set */
#define TAG_LISTEN_HTTP 1
#define TAG_LISTEN_SOCKS 2
#define TAG_LISTEN_TRANSPARENT 3
#define TAG_LISTEN_DNS_TCP 4
#define TAG_DNS_UDP 5
#define TAG_REPORT 6
#define TAG_ARES 7
#define TAG_SIGNAL 8
static inline uint64_t proxy_tag(int tag, int fd)
{
	return ((uint64_t)(uint32_t)fd << 8) | ((uint64_t)tag << 1) | 1;
}
