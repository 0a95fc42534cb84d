/* The egress proxy's event loop: one epoll loop over the listening sockets
 * (HTTP proxy, SOCKS5, transparent, DNS), the client and upstream sockets of
 * every connection, c-ares' sockets and the report socket. Each connection is
 * a small state machine (read what decides, check it against the policy,
 * connect out, then relay with splice through a pipe pair per direction). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/chaos.h"
#include "net/dns_msg.h"
#include "net/proxy.h"
#include "monitor/exfil.h"
#include "monitor/exfil_http.h"
#include "net/socks_parse.h"
#include "net/tls_parse.h"
#include "util/cleanup.h"

/* linux/netfilter_ipv4.h and ip6_tables.h clash with glibc headers; the
 * values are kernel ABI */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

/* a head of AL_HTTP_MAX_HEAD, or a whole 16 KiB TLS record and its header */
#define IN_CAP (AL_HTTP_MAX_HEAD + 8)
#define IN_FIRST 2048
#define UP_CAP (AL_HTTP_MAX_HEAD + 64)
#define SCAN_CAP 65536          /* a scanned direction's copy buffer */
#define PIPE_CAP 65536          /* the kernel's default pipe size */
#define PIPE_CAP_BULK (1 << 20) /* asked for: fewer splices per byte */
#define SEC 1000000000ull
#define TIMEOUT_HEAD (30 * SEC)
#define TIMEOUT_SNIFF (3 * SEC)
#define TIMEOUT_CONNECT (10 * SEC)
#define TIMEOUT_IDLE (600 * SEC)
#define TIMEOUT_CLOSING (5 * SEC)
#define TIMEOUT_DNS_TCP (10 * SEC)

enum kind { K_HTTP, K_SOCKS, K_TRANSPARENT, K_DNS_TCP };
enum phase {
	PH_HTTP_HEAD,   /* reading a request head */
	PH_SOCKS_GREET, /* SOCKS5 method negotiation */
	PH_SOCKS_REQ,   /* SOCKS5 request */
	PH_RESOLVE,     /* waiting for the resolver */
	PH_SNIFF,       /* tunnel granted: reading the client's first bytes (TLS SNI / Host) */
	PH_CONNECT,     /* connecting upstream */
	PH_RELAY,       /* tunnel: splice both ways */
	PH_HTTP_FWD,    /* one forwarded HTTP request: body up, response down */
	PH_DNS,         /* DNS over TCP */
	PH_CLOSING,     /* flushing an error reply, then close */
};

/* an IPv4 or IPv6 address: 28 bytes where sockaddr_storage takes 128
 * (a thousand connections hold eight each) */
union addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

struct handle {
	struct conn *c;
	bool upstream;
} __attribute__((aligned(8)));

struct conn {
	struct conn *next, *prev;
	struct handle hc, hu;
	uint32_t id;
	enum kind kind;
	enum phase phase;
	const char *proto;
	int cfd, ufd;
	uint32_t cev, uev; /* registered epoll events (0 = not registered) */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	char *up;
	size_t up_len, up_off;
	int pu[2], pd[2];
	size_t pu_fill, pd_fill, pipe_cap;
	bool pipes_grown;
	bool chaos;
	struct al_chaos_dir chaos_up, chaos_down;
	bool c_eof, u_eof, c_shut, u_shut;
	/* the destination */
	char name[AL_NAME_MAX];
	bool name_is_ip;
	uint16_t port;
	char sni[AL_NAME_MAX];
	union addr addrs[AL_PROXY_MAX_ADDRS];
	size_t n_addrs, addr_idx;
	struct resolve_req *rq;
	/* HTTP forwarding */
	bool is_connect;
	uint64_t body_left;
	bool body_chunked, body_done;
	struct al_chunk chunk;
	/* time and accounting */
	uint64_t phase_ns, active_ns, connect_ns;
	uint64_t bytes_up, bytes_down;
	bool connect_reported;
	bool in_step, dead;
	/* canary tokens: the client's bytes followed and searched (exfil_http.h);
	 * scan_up: a relay copies the up direction through it instead of splice */
	struct al_exfil_http *xh;
	bool tls, scan_up;
	bool up_is_scan; /* c->up has SCAN_CAP bytes */
};

static void conn_step(struct proxy *p, struct conn *c);

uint64_t proxy_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static bool proxy_stop;  /* leave the loop (after sending what is queued) */
static bool report_dead; /* the supervisor is gone: nothing can be sent */

#define REPORT_BATCH 16
static struct al_net_report report_queue[REPORT_BATCH];
static size_t n_queued;

/* Send the queued reports. Blocking on purpose: a report is never dropped;
 * a supervisor that stops reading stalls the proxy rather than losing one. */
static void proxy_report_flush(struct proxy *p)
{
	size_t i;

	for (i = 0; i < n_queued && !report_dead; i++) {
		ssize_t n;
		do
			n = send(p->report_fd, &report_queue[i], sizeof(report_queue[i]),
			         MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof(report_queue[i]))
			report_dead = proxy_stop = true; /* supervisor gone: stop */
	}
	n_queued = 0;
}

/* Reports are queued and sent at the end of each loop iteration, after the
 * I/O that iteration could do: the decision is never delayed by its record. */
void proxy_report(struct proxy *p, struct al_net_report *r)
{
	r->mono_ns = proxy_now_ns();
	if (n_queued == REPORT_BATCH)
		proxy_report_flush(p);
	report_queue[n_queued++] = *r;
}

uint32_t conn_id_of(const struct conn *c)
{
	return c->id;
}

struct conn *conn_by_id(struct proxy *p, uint32_t id)
{
	struct conn *c;
	for (c = p->conns; c != NULL; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

static void report_fill(struct al_net_report *r, int kind, const struct conn *c)
{
	memset(r, 0, sizeof(*r));
	r->kind = (uint32_t)kind;
	r->conn_id = c->id;
	snprintf(r->proto, sizeof(r->proto), "%s", c->proto);
	snprintf(r->name, sizeof(r->name), "%s", c->name);
	snprintf(r->sni, sizeof(r->sni), "%s", c->sni);
	r->port = c->port;
	if (c->n_addrs > 0)
		al_sockaddr_text(
		    (const struct sockaddr *)&c->addrs[c->addr_idx < c->n_addrs ? c->addr_idx : 0],
		    r->addr, sizeof(r->addr));
}

static void report_connect(struct proxy *p, struct conn *c, bool allowed, const char *reason)
{
	struct al_net_report r;
	report_fill(&r, AL_NET_CONNECT, c);
	r.allowed = allowed;
	snprintf(r.reason, sizeof(r.reason), "%s", reason ? reason : "");
	proxy_report(p, &r);
	if (allowed) {
		c->connect_reported = true;
		c->connect_ns = proxy_now_ns();
		c->bytes_up = c->bytes_down = 0;
	}
}

static void report_error(struct proxy *p, struct conn *c, const char *reason)
{
	struct al_net_report r;
	report_fill(&r, AL_NET_ERROR, c);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	proxy_report(p, &r);
}

struct exfil_found {
	bool hit;
	struct al_exfil_hit h;
};

static int exfil_cb(void *ctx, const struct al_exfil_hit *h)
{
	struct exfil_found *f = ctx;
	f->hit = true;
	f->h = *h;
	return 1;
}

static bool looks_like_http(const char *b, size_t n);

/* A canary token in a request head (plain HTTP: request line and headers),
 * or in the body bytes read with it, is reported and the request refused
 * before anything is decided or sent. The bytes are followed as HTTP (so
 * that the report says head or body, and a compressed body is inflated);
 * a stream the follower cannot make sense of is searched raw here and left
 * to the connection's own follower to refuse. */
static bool exfil_in_head(struct proxy *p, struct conn *c, const char *head, size_t len)
{
	struct al_exfil_http xh;
	struct al_net_report r;
	int hit;

	if (p->exfil == NULL || len == 0)
		return false;
	al_exfil_http_init(&xh, p->exfil, looks_like_http(head, len) ? AL_EXFIL_HTTP : AL_EXFIL_RAW,
	                   AL_EXFIL_INFLATE_MAX);
	hit = al_exfil_http_feed(&xh, head, len);
	al_exfil_http_free(&xh);
	if (hit < 0) {
		struct al_exfil_stream st;
		struct exfil_found f = {0};
		al_exfil_stream_init(&st, p->exfil);
		al_exfil_feed(&st, head, len, exfil_cb, &f);
		if (!f.hit)
			return false;
		xh.hit = f.h;
		xh.where = "stream";
	} else if (hit == 0) {
		return false;
	}
	report_fill(&r, AL_NET_EXFIL, c);
	snprintf(r.reason, sizeof(r.reason), "token %zu %s %s", xh.hit.token, xh.hit.variant,
	         xh.where);
	proxy_report(p, &r);
	return true;
}

/* A token in what the client sends after its first head (bodies, later
 * requests, a tunnel's stream): reported with where it was found. */
static void report_exfil_hit(struct proxy *p, struct conn *c, const struct al_exfil_http *xh)
{
	struct al_net_report r;
	report_fill(&r, AL_NET_EXFIL, c);
	snprintf(r.reason, sizeof(r.reason), "token %zu %s %s", xh->hit.token, xh->hit.variant,
	         xh->where);
	proxy_report(p, &r);
}

/* Follow the client's bytes (r from al_exfil_http_feed): 0 go on; else the
 * hit or the error is reported and the caller cuts the connection. */
static int exfil_follow(struct proxy *p, struct conn *c, const void *data, size_t len)
{
	char why[128];
	int r;

	if (c->xh == NULL || len == 0)
		return 0;
	r = al_exfil_http_feed(c->xh, data, len);
	if (r == 1) {
		report_exfil_hit(p, c, c->xh);
	} else if (r < 0) {
		snprintf(why, sizeof(why), "exfil-scan: %s", c->xh->error);
		report_error(p, c, why);
	}
	return r;
}

static bool exfil_follow_start(struct proxy *p, struct conn *c, enum al_exfil_http_mode mode)
{
	if (p->exfil == NULL || c->xh != NULL)
		return true;
	c->xh = malloc(sizeof(*c->xh));
	if (c->xh == NULL)
		return false;
	al_exfil_http_init(c->xh, p->exfil, mode, AL_EXFIL_INFLATE_MAX);
	return true;
}

static void exfil_follow_end(struct conn *c)
{
	if (c->xh) {
		al_exfil_http_free(c->xh);
		free(c->xh);
		c->xh = NULL;
	}
}

static void report_close(struct proxy *p, struct conn *c)
{
	struct al_net_report r;
	if (!c->connect_reported)
		return;
	report_fill(&r, AL_NET_CLOSE, c);
	r.allowed = 1;
	r.bytes_up = c->bytes_up;
	r.bytes_down = c->bytes_down;
	r.duration_ns = proxy_now_ns() - c->connect_ns;
	proxy_report(p, &r);
	c->connect_reported = false;
}

/* ---- epoll registration ---- */

static void set_events(struct proxy *p, int fd, struct handle *h, uint32_t *cur, uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = h};

	if (fd < 0 || *cur == want)
		return;
	if (want == 0) {
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
	} else if (*cur == 0) {
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return;
	} else {
		epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);
	}
	*cur = want;
}

/* Every state's wishes in one place: what each socket waits for. */
static void update_events(struct proxy *p, struct conn *c)
{
	uint32_t ce = 0, ue = 0;
	bool out_pending = c->out_off < c->out_len;
	bool up_pending = c->up_off < c->up_len;
	uint64_t now = c->chaos ? proxy_now_ns() : 0;
	/* a direction chaos holds back waits for the timer, not for EPOLLOUT */
	bool up_held = c->chaos && now < c->chaos_up.release_ns;
	bool down_held = c->chaos && now < c->chaos_down.release_ns;

	if (out_pending)
		ce |= EPOLLOUT;
	switch (c->phase) {
	case PH_HTTP_HEAD:
	case PH_SOCKS_GREET:
	case PH_SOCKS_REQ:
	case PH_SNIFF:
	case PH_DNS:
		if (!c->c_eof && c->in_len < IN_CAP)
			ce |= EPOLLIN;
		break;
	case PH_RESOLVE:
		break;
	case PH_CLOSING:
		if (c->c_shut)
			ce |= EPOLLIN;
		break;
	case PH_CONNECT:
		ue |= EPOLLOUT;
		break;
	case PH_RELAY:
		if (!c->c_eof && c->pu_fill < c->pipe_cap && !up_pending)
			ce |= EPOLLIN;
		if (c->pd_fill > 0 && !down_held)
			ce |= EPOLLOUT;
		if (!c->u_eof && c->pd_fill < c->pipe_cap)
			ue |= EPOLLIN;
		/* (a scanned direction sends through the chaos gate) */
		if ((c->pu_fill > 0 && !up_held) || (up_pending && !(c->scan_up && up_held)))
			ue |= EPOLLOUT;
		break;
	case PH_HTTP_FWD:
		if (!c->body_done && !c->c_eof && c->in_len < IN_CAP)
			ce |= EPOLLIN;
		if (c->pd_fill > 0 && !down_held)
			ce |= EPOLLOUT;
		if (!c->u_eof && c->pd_fill < c->pipe_cap)
			ue |= EPOLLIN;
		if (up_pending)
			ue |= EPOLLOUT;
		break;
	}
	set_events(p, c->cfd, &c->hc, &c->cev, ce);
	set_events(p, c->ufd, &c->hu, &c->uev, ue);
}

/* ---- lifetime ---- */

/* The upstream socket and the relay pipes (not what waits to be sent). */
static void close_upstream_socket(struct proxy *p, struct conn *c)
{
	int i;
	if (c->ufd >= 0) {
		set_events(p, c->ufd, &c->hu, &c->uev, 0);
		close(c->ufd);
		c->ufd = -1;
	}
	for (i = 0; i < 2; i++) {
		if (c->pu[i] >= 0)
			close(c->pu[i]);
		if (c->pd[i] >= 0)
			close(c->pd[i]);
		c->pu[i] = c->pd[i] = -1;
	}
	c->pu_fill = c->pd_fill = 0;
	c->u_eof = c->u_shut = false;
}

static void close_upstream(struct proxy *p, struct conn *c)
{
	close_upstream_socket(p, c);
	free(c->up);
	c->up = NULL;
	c->up_len = c->up_off = 0;
	c->up_is_scan = false;
}

static void conn_close(struct proxy *p, struct conn *c)
{
	if (c->dead)
		return;
	report_close(p, c);
	dns_resolve_cancel(&c->rq);
	close_upstream(p, c);
	if (c->cfd >= 0) {
		set_events(p, c->cfd, &c->hc, &c->cev, 0);
		close(c->cfd);
		c->cfd = -1;
	}
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	exfil_follow_end(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = p->graveyard;
	p->graveyard = c;
	c->dead = true;
	p->n_conns--;
}

static void set_phase(struct conn *c, enum phase ph)
{
	c->phase = ph;
	c->phase_ns = proxy_now_ns();
}

static int out_append(struct conn *c, const void *data, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_len + len + 512;
		char *n;
		if (cap > 256 * 1024)
			return -1;
		n = realloc(c->out, cap);
		if (n == NULL)
			return -1;
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

/* A clean refusal: the reply, then close once it is written. */
static void conn_refuse_http(struct conn *c, int status, const char *reason)
{
	char buf[512];
	char body[256];
	const char *text = status == 403   ? "Forbidden"
	                   : status == 431 ? "Request Header Fields Too Large"
	                   : status == 501 ? "Not Implemented"
	                   : status == 502 ? "Bad Gateway"
	                   : status == 408 ? "Request Timeout"
	                   : status == 503 ? "Service Unavailable"
	                                   : "Bad Request";
	int bl = snprintf(body, sizeof(body), "airlock egress proxy: %s: %s\n",
	                  status == 403 ? "refused" : "error", reason);
	int n = snprintf(buf, sizeof(buf),
	                 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
	                 "Connection: close\r\nX-Airlock-Egress: %s\r\n\r\n%s",
	                 status, text, bl, reason, body);
	if (n > 0 && (size_t)n < sizeof(buf))
		out_append(c, buf, (size_t)n);
	set_phase(c, PH_CLOSING);
}

static void conn_refuse(struct proxy *p, struct conn *c, int http_status, uint8_t socks_reply,
                        const char *reason)
{
	if (c->kind == K_HTTP && http_status) {
		conn_refuse_http(c, http_status, reason);
	} else if (c->kind == K_SOCKS && socks_reply) {
		uint8_t r[10] = {5, socks_reply, 0, 1};
		out_append(c, r, sizeof(r));
		set_phase(c, PH_CLOSING);
	} else {
		set_phase(c, PH_CLOSING);
	}
	close_upstream(p, c);
}

/* Cut a connection whose client sent a canary token (or bytes the search
 * could not follow): the upstream side is reset (SO_LINGER 0: what is still
 * queued to it is dropped, and it sees an abort, not a complete request);
 * a forwarded request that has no response yet gets a 403, anything else a
 * reset too. */
static void conn_cut(struct proxy *p, struct conn *c, const char *reason)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (c->ufd >= 0)
		setsockopt(c->ufd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close_upstream(p, c);
	if (c->kind == K_HTTP && !c->is_connect && c->bytes_down == 0) {
		conn_refuse_http(c, 403, reason);
		return;
	}
	if (c->cfd >= 0)
		setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_close(p, c);
}

/* ---- I/O helpers ---- */

/* Read from the client into c->in. >0 bytes, 0 EOF, -1 would block, -2 error. */
static ssize_t read_in(struct conn *c)
{
	ssize_t n;

	/* small first: most heads fit; grown to the bound when one does not */
	if (c->in == NULL || (c->in_len == c->in_cap && c->in_cap < IN_CAP)) {
		size_t cap = c->in == NULL ? IN_FIRST : IN_CAP;
		char *n2 = realloc(c->in, cap);
		if (n2 == NULL)
			return -2;
		c->in = n2;
		c->in_cap = cap;
	}
	if (c->in_len >= c->in_cap)
		return -1;
	n = recv(c->cfd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n > 0) {
		c->in_len += (size_t)n;
		c->active_ns = proxy_now_ns();
		return n;
	}
	if (n == 0) {
		c->c_eof = true;
		return 0;
	}
	return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -1 : -2;
}

static void in_consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Write pending replies to the client; -1 on a hard error. */
static int flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->cfd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		c->out_off += (size_t)n;
	}
	free(c->out); /* nothing is kept for connections that only relay */
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	return 0;
}

static int flush_up(struct conn *c)
{
	while (c->up_off < c->up_len) {
		ssize_t n = send(c->ufd, c->up + c->up_off, c->up_len - c->up_off,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		c->up_off += (size_t)n;
		c->bytes_up += (uint64_t)n;
		c->active_ns = proxy_now_ns();
	}
	return 0;
}

/* A bulk transfer filled a pipe: bigger pipes mean fewer splices per byte,
 * where the per-user pipe budget allows (else the default size stays). */
static void grow_pipes(struct conn *c)
{
	c->pipes_grown = true; /* tried once */
	if (fcntl(c->pu[1], F_SETPIPE_SZ, PIPE_CAP_BULK) >= PIPE_CAP_BULK &&
	    fcntl(c->pd[1], F_SETPIPE_SZ, PIPE_CAP_BULK) >= PIPE_CAP_BULK)
		c->pipe_cap = PIPE_CAP_BULK;
}

/* One direction of the splice relay: src -> pipe -> dst. Returns -1 on error. */
static void chaos_report(struct proxy *p, struct conn *c, const char *what)
{
	struct al_net_report r;
	report_fill(&r, AL_NET_CHAOS, c);
	r.allowed = 1;
	snprintf(r.chaos, sizeof(r.chaos), "%s", what);
	proxy_report(p, &r);
}

static void chaos_wake_at(struct proxy *p, uint64_t t)
{
	if (p->chaos_next_ns == 0 || t < p->chaos_next_ns)
		p->chaos_next_ns = t;
}

/* Chaos before writing *want bytes of one direction: 1 to write (maybe
 * fewer), 0 to wait (a wake-up is set), -1 to reset the connection. */
static int chaos_gate(struct proxy *p, struct conn *c, struct al_chaos_dir *cd, int dir,
                      size_t *want)
{
	uint64_t now = proxy_now_ns(), until;
	char what[64];

	if (now < cd->release_ns) {
		chaos_wake_at(p, cd->release_ns);
		return 0;
	}
	if (cd->offset / AL_CHAOS_SEGMENT >= cd->decided_seg) {
		switch (al_chaos_segment_fault(p->pol, cd)) {
		case AL_CHAOS_RESET:
			snprintf(what, sizeof(what), "reset %s at byte %llu", dir ? "down" : "up",
			         (unsigned long long)cd->offset);
			chaos_report(p, c, what);
			return -1;
		case AL_CHAOS_STALL:
			snprintf(what, sizeof(what), "stall %llums %s at byte %llu",
			         (unsigned long long)(AL_CHAOS_STALL_NS / 1000000),
			         dir ? "down" : "up", (unsigned long long)cd->offset);
			chaos_report(p, c, what);
			cd->release_ns = now + AL_CHAOS_STALL_NS;
			chaos_wake_at(p, cd->release_ns);
			return 0;
		case AL_CHAOS_NONE:
			break;
		}
	}
	*want = (size_t)al_chaos_allowance(p->pol, cd, *want, now, &until);
	if (*want == 0) {
		cd->release_ns = until;
		chaos_wake_at(p, until);
		return 0;
	}
	return 1;
}

static void chaos_start(struct proxy *p, struct conn *c)
{
	const struct al_egress_policy *pol = p->pol;
	uint64_t now = proxy_now_ns();
	char what[64];

	c->chaos = pol->chaos.enabled;
	if (!c->chaos)
		return;
	al_chaos_dir_init(&c->chaos_up, pol->chaos.seed, c->id, 0, now);
	al_chaos_dir_init(&c->chaos_down, pol->chaos.seed, c->id, 1, now);
	if (pol->chaos.latency_ns || pol->chaos.jitter_ns || pol->chaos.bandwidth) {
		snprintf(what, sizeof(what), "latency %llums jitter %llums bandwidth %llu B/s",
		         (unsigned long long)(pol->chaos.latency_ns / 1000000),
		         (unsigned long long)(pol->chaos.jitter_ns / 1000000),
		         (unsigned long long)pol->chaos.bandwidth);
		chaos_report(p, c, what);
	}
}

/* A chaos reset: RST both ways (SO_LINGER 0) instead of an orderly close. */
static void chaos_reset(struct conn *c)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	if (c->cfd >= 0)
		setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (c->ufd >= 0)
		setsockopt(c->ufd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* One direction of the splice relay: src -> pipe -> dst (dir 0 up, 1 down).
 * Returns -1 on error or a chaos reset. */
static int splice_dir(struct proxy *p, struct conn *c, int dir, bool read_ok)
{
	int src = dir ? c->ufd : c->cfd, dst = dir ? c->cfd : c->ufd;
	int *pipefd = dir ? c->pd : c->pu;
	size_t *fill = dir ? &c->pd_fill : &c->pu_fill;
	bool *src_eof = dir ? &c->u_eof : &c->c_eof;
	uint64_t *counter = dir ? &c->bytes_down : &c->bytes_up;
	struct al_chaos_dir *cd = !c->chaos ? NULL : dir ? &c->chaos_down : &c->chaos_up;
	int rounds;

	for (rounds = 0; rounds < 4; rounds++) {
		bool progress = false;
		if (read_ok && !*src_eof && *fill < c->pipe_cap) {
			size_t before = *fill;
			ssize_t n = splice(src, NULL, pipefd[1], NULL, c->pipe_cap - *fill,
			                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				*fill += (size_t)n;
				progress = true;
				if (*fill == c->pipe_cap && !c->pipes_grown)
					grow_pipes(c);
				if (cd != NULL && before == 0) {
					uint64_t t =
					    proxy_now_ns() + al_chaos_chunk_delay(p->pol, cd);
					if (t > cd->release_ns)
						cd->release_ns = t;
				}
			} else if (n == 0) {
				*src_eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		if (*fill > 0) {
			size_t want = *fill;
			int g = cd ? chaos_gate(p, c, cd, dir, &want) : 1;
			if (g < 0) {
				chaos_reset(c);
				return -1;
			}
			if (g > 0) {
				ssize_t n = splice(pipefd[0], NULL, dst, NULL, want,
				                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
				if (n > 0) {
					*fill -= (size_t)n;
					*counter += (uint64_t)n;
					if (cd)
						al_chaos_consumed(cd, (uint64_t)n);
					progress = true;
				} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
					return -1;
				}
			}
		}
		if (!progress)
			break;
		c->active_ns = proxy_now_ns();
	}
	return 0;
}

static int make_pipes(struct conn *c)
{
	if (c->pu[0] < 0 && pipe2(c->pu, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	if (c->pd[0] < 0 && pipe2(c->pd, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	c->pipe_cap = PIPE_CAP;
	c->pipes_grown = false;
	return 0;
}

/* ---- deciding and connecting ---- */

static void start_connect(struct proxy *p, struct conn *c);

/* Open a nonblocking connection to the next address that accepts a
 * connect(); 0 if one is under way, else the last errno. */
static int try_connect(struct proxy *p, struct conn *c, int last_errno)
{
	close_upstream_socket(p, c);
	while (c->addr_idx < c->n_addrs) {
		const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->addr_idx];
		socklen_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
		                                         : sizeof(struct sockaddr_in6);
		int one = 1;
		int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last_errno = errno;
			c->addr_idx++;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (sa->sa_family == AF_INET6)
			((struct sockaddr_in6 *)&c->addrs[c->addr_idx])->sin6_port = htons(c->port);
		else
			((struct sockaddr_in *)&c->addrs[c->addr_idx])->sin_port = htons(c->port);
		if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
			last_errno = errno;
			close(fd);
			c->addr_idx++;
			continue;
		}
		c->ufd = fd;
		return 0;
	}
	return last_errno ? last_errno : EHOSTUNREACH;
}

static void connect_next(struct proxy *p, struct conn *c, int last_errno)
{
	char why[96];
	int e = try_connect(p, c, last_errno);

	if (e == 0) {
		set_phase(c, PH_CONNECT);
		return;
	}
	snprintf(why, sizeof(why), "connect failed: %s", strerror(e));
	report_error(p, c, why);
	/* a forwarded request gets a 502; a tunnel was already granted (200 /
	 * SOCKS success before the first bytes), so it is simply closed */
	if (c->kind == K_HTTP && !c->is_connect)
		conn_refuse(p, c, 502, 0, why);
	else
		conn_refuse(p, c, 0, 0, why);
}

/* The decision is made: report it and connect to the checked addresses (or
 * go on with the connection a granted tunnel already started). */
static void chaos_start(struct proxy *p, struct conn *c);

static void start_connect(struct proxy *p, struct conn *c)
{
	report_connect(p, c, true, NULL);
	chaos_start(p, c);
	if (c->ufd >= 0) {
		set_phase(c, PH_CONNECT);
		return;
	}
	c->addr_idx = 0;
	connect_next(p, c, 0);
}

static void deny(struct proxy *p, struct conn *c, int http_status, uint8_t socks_reply,
                 const char *reason)
{
	report_connect(p, c, false, reason);
	conn_refuse(p, c, http_status, socks_reply, reason);
}

/* Keep only the resolved addresses the policy allows. Returns the count;
 * *reason says why the last one was refused. */
static size_t filter_addrs(struct proxy *p, struct conn *c, const struct resolved *res,
                           const char **reason)
{
	size_t i;

	c->n_addrs = 0;
	for (i = 0; i < res->n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&res->addrs[i];
		if (al_policy_addr_allowed(p->pol, sa, false, reason))
			memcpy(&c->addrs[c->n_addrs++], sa, sizeof(c->addrs[0]));
	}
	return c->n_addrs;
}

/* After the destination is granted: a tunnel answers the client and sniffs
 * its first bytes; a forwarded request connects at once. */
static void granted(struct proxy *p, struct conn *c)
{
	static const char ok200[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const uint8_t socks_ok[10] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};

	if (c->kind == K_HTTP && !c->is_connect) {
		start_connect(p, c);
		return;
	}
	if (c->kind == K_HTTP)
		out_append(c, ok200, sizeof(ok200) - 1);
	else
		out_append(c, socks_ok, sizeof(socks_ok));
	set_phase(c, PH_SNIFF);
	/* The name, port and addresses are allowed: connect while the client
	 * sends its first bytes (not one of them goes up before the SNI check;
	 * a refusal then closes this connection unused). Not for the
	 * transparent path, where nothing is decided before the first bytes. */
	c->addr_idx = 0;
	(void)try_connect(p, c, 0);
}

static void on_resolved(struct proxy *p, void *ctx, const struct resolved *res)
{
	struct conn *c = ctx;
	const char *reason = "no address";

	if (res->n == 0) {
		deny(p, c, 502, 4, res->status == ARES_ENOTFOUND ? "name not found" : "no address");
	} else if (filter_addrs(p, c, res, &reason) == 0) {
		c->n_addrs = 0;
		memcpy(&c->addrs[0], &res->addrs[0], sizeof(c->addrs[0]));
		c->n_addrs = 1; /* for the report */
		deny(p, c, 403, 2, reason);
	} else {
		granted(p, c);
	}
	if (!c->in_step)
		conn_step(p, c);
}

/* Policy for a named or literal destination from CONNECT, an absolute-form
 * request or SOCKS; then resolve (or not, for allowed literals). */
static void decide_destination(struct proxy *p, struct conn *c)
{
	const char *reason = NULL;

	if (!al_policy_port_allowed(p->pol, c->port)) {
		deny(p, c, 403, 2, "port not in allow_ports");
		return;
	}
	if (c->name_is_ip) {
		struct sockaddr_storage ss = {0};
		if (inet_pton(AF_INET, c->name, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
			ss.ss_family = AF_INET;
		else if (inet_pton(AF_INET6, c->name, &((struct sockaddr_in6 *)&ss)->sin6_addr) ==
		         1)
			ss.ss_family = AF_INET6;
		memcpy(&c->addrs[0], &ss, sizeof(c->addrs[0]));
		c->n_addrs = 1;
		if (!al_policy_addr_allowed(p->pol, (struct sockaddr *)&ss, true, &reason)) {
			deny(p, c, 403, 2, reason);
			return;
		}
		granted(p, c);
		return;
	}
	if (!al_policy_domain_allowed(p->pol, c->name, &reason)) {
		deny(p, c, 403, 2, reason);
		return;
	}
	set_phase(c, PH_RESOLVE);
	dns_resolve(p, c->name, AF_INET, true, on_resolved, c, &c->rq);
}

/* ---- phases ---- */

static void http_new_request(struct conn *c, struct proxy *p)
{
	/* nothing of the previous request on this connection may describe this one */
	c->id = ++p->next_conn_id;
	c->proto = "http";
	c->name[0] = c->sni[0] = '\0';
	c->name_is_ip = c->is_connect = false;
	c->port = 0;
	c->n_addrs = c->addr_idx = 0;
}

static void step_http_head(struct proxy *p, struct conn *c)
{
	struct al_http_req *req;
	ssize_t n = 0;
	int r;

	if (c->in_len == 0 || c->in_len < IN_CAP) {
		n = read_in(c);
		if (n == -2 || (n == 0 && c->in_len == 0)) {
			conn_close(p, c);
			return;
		}
	}
	if (c->in_len == 0)
		return;
	req = malloc(sizeof(*req));
	if (req == NULL) {
		conn_close(p, c);
		return;
	}
	r = al_http_parse_request(c->in, c->in_len, req);
	if (r == 0 && !c->c_eof) {
		free(req);
		return;
	}
	http_new_request(c, p);
	if (r <= 0) {
		const char *reason = r == 0 ? "truncated-request" : req->reason;
		report_error(p, c, reason);
		conn_refuse_http(c, r == 0 ? 400 : req->status, reason);
		free(req);
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s", req->host);
	c->name_is_ip = req->host_is_ip;
	c->port = req->port;
	c->is_connect = req->is_connect;
	c->proto = req->is_connect ? "https-connect" : "http";
	if (exfil_in_head(p, c, c->in, req->head_len)) {
		conn_refuse_http(c, 403, "exfil");
		free(req);
		return;
	}
	if (!req->is_connect) {
		/* with canary tokens, the request stream is followed: this head
		 * gives the body's framing and coding (and a token split across
		 * two requests' heads shows here) */
		int x = exfil_follow_start(p, c, AL_EXFIL_HTTP)
		            ? exfil_follow(p, c, c->in, req->head_len)
		            : -2;
		if (x != 0) {
			if (x == -2)
				report_error(p, c, "exfil-scan: out of memory");
			conn_refuse_http(c, 403, x == 1 ? "exfil" : "exfil-scan");
			free(req);
			return;
		}
		/* Host seen: the parser has already refused a mismatch */
		snprintf(c->sni, sizeof(c->sni), "%s", req->has_host_header ? req->host : "");
		c->up = malloc(UP_CAP);
		long len = c->up ? al_http_rewrite_head(c->in, req, c->up, UP_CAP) : -1;
		if (len < 0) {
			report_error(p, c, "head-too-large");
			conn_refuse_http(c, 431, "head-too-large");
			free(req);
			return;
		}
		c->up_len = (size_t)len;
		c->up_off = 0;
		c->body_chunked = req->chunked;
		c->body_left = req->has_content_length ? req->content_length : 0;
		c->body_done = !req->chunked && c->body_left == 0;
		memset(&c->chunk, 0, sizeof(c->chunk));
	}
	in_consume(c, req->head_len);
	free(req);
	decide_destination(p, c);
}

static void step_socks(struct proxy *p, struct conn *c)
{
	struct al_socks_req req;
	ssize_t n = read_in(c);
	int r;

	if (n == -2 || (n == 0 && c->in_len == 0)) {
		conn_close(p, c);
		return;
	}
	if (c->phase == PH_SOCKS_GREET) {
		static const uint8_t noauth[2] = {5, 0}, none[2] = {5, 0xff};
		r = al_socks_parse_greeting((const uint8_t *)c->in, c->in_len);
		if (r == 0 && !c->c_eof)
			return;
		if (r <= 0) {
			c->id = ++p->next_conn_id;
			report_error(p, c,
			             r == -2 ? "no-acceptable-auth-method" : "malformed-greeting");
			if (r == -2)
				out_append(c, none, 2);
			set_phase(c, PH_CLOSING);
			return;
		}
		in_consume(c, (size_t)r);
		out_append(c, noauth, 2);
		set_phase(c, PH_SOCKS_REQ);
	}
	r = al_socks_parse_request((const uint8_t *)c->in, c->in_len, &req);
	if (r == 0 && !c->c_eof)
		return;
	c->id = ++p->next_conn_id;
	if (r <= 0) {
		const char *reason = r == 0 ? "truncated-request" : req.reason;
		report_error(p, c, reason);
		conn_refuse(p, c, 0, r == 0 ? 1 : req.reply, reason);
		return;
	}
	in_consume(c, (size_t)r);
	snprintf(c->name, sizeof(c->name), "%s", req.host);
	/* a "name" that is an address literal is an address (allow_cidr only) */
	c->name_is_ip = req.atyp != 3 || al_name_is_ip_literal(req.host);
	c->port = req.port;
	decide_destination(p, c);
}

static bool orig_dst(struct conn *c, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (getsockopt(c->cfd, SOL_IP, SO_ORIGINAL_DST, ss, &len) == 0 && ss->ss_family == AF_INET)
		return true;
	len = sizeof(*ss);
	if (getsockopt(c->cfd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, &len) == 0 &&
	    ss->ss_family == AF_INET6)
		return true;
	return false;
}

/* The transparent path: the original destination is an address; the name
 * comes from SNI or Host and must be one our DNS gave out for it. */
static void transparent_decide(struct proxy *p, struct conn *c, const char *name, bool name_is_ip)
{
	const struct sockaddr *dst = (const struct sockaddr *)&c->addrs[0];
	const char *reason = NULL;
	char text[64];

	al_sockaddr_text(dst, text, sizeof(text));
	if (name != NULL && name_is_ip && strcmp(name, text) != 0) {
		deny(p, c, 0, 0, "sni-mismatch");
		return;
	}
	if (name == NULL || name_is_ip) {
		/* no name: only a raw address allow_cidr names */
		snprintf(c->name, sizeof(c->name), "%s", text);
		if (!al_policy_addr_allowed(p->pol, dst, true, &reason)) {
			deny(p, c, 0, 0, reason);
			return;
		}
		start_connect(p, c);
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (!dns_memory_has(p, dst, name)) {
		deny(p, c, 0, 0, "sni-mismatch");
		return;
	}
	if (!al_policy_domain_allowed(p->pol, name, &reason) ||
	    !al_policy_addr_allowed(p->pol, dst, false, &reason)) {
		deny(p, c, 0, 0, reason);
		return;
	}
	start_connect(p, c);
}

/* The first bytes start like an HTTP/1.x request line (a method we know);
 * anything else through a tunnel is some other protocol and passes as is. */
static bool looks_like_http(const char *b, size_t n)
{
	static const char *const methods[] = {"GET ",     "HEAD ",  "POST ",  "PUT ",    "DELETE ",
	                                      "OPTIONS ", "PATCH ", "TRACE ", "CONNECT "};
	size_t i;

	for (i = 0; i < AL_ARRAY_SIZE(methods); i++) {
		size_t m = strlen(methods[i]);
		if (memcmp(b, methods[i], n < m ? n : m) == 0)
			return true; /* also a prefix of one: wait for more */
	}
	return false;
}

static void step_sniff(struct proxy *p, struct conn *c)
{
	char name[AL_NAME_MAX];
	enum al_sni_result s;
	ssize_t n = read_in(c);
	bool timed_out = proxy_now_ns() - c->phase_ns >= TIMEOUT_SNIFF;

	if (n == -2) {
		conn_close(p, c);
		return;
	}
	if (c->in_len == 0) {
		if (c->c_eof) {
			conn_close(p, c);
			return;
		}
		if (!timed_out)
			return;
		/* the client waits for the server to speak first */
		if (c->kind == K_TRANSPARENT)
			transparent_decide(p, c, NULL, false);
		else
			start_connect(p, c);
		return;
	}
	s = al_tls_client_hello_sni((const uint8_t *)c->in, c->in_len, name);
	if (s == AL_SNI_NEED_MORE && !c->c_eof && !timed_out && c->in_len < IN_CAP)
		return;
	if (s == AL_SNI_NEED_MORE || s == AL_SNI_MALFORMED) {
		deny(p, c, 0, 0, "malformed-client-hello");
		return;
	}
	if (s == AL_SNI_FOUND)
		snprintf(c->sni, sizeof(c->sni), "%s", name);
	/* TLS: what follows is ciphertext, relayed without a search */
	c->tls = s == AL_SNI_FOUND || s == AL_SNI_ABSENT;
	if (c->kind != K_TRANSPARENT) {
		/* domain fronting: the TLS name must be the tunnel's name */
		if (s == AL_SNI_FOUND && !c->name_is_ip && strcmp(name, c->name) != 0) {
			deny(p, c, 0, 0, "sni-mismatch");
			return;
		}
		/* and so must the Host of plain HTTP sent through the tunnel */
		if (s == AL_SNI_NOT_TLS && exfil_in_head(p, c, c->in, c->in_len)) {
			deny(p, c, 0, 0, "exfil");
			return;
		}
		if (s == AL_SNI_NOT_TLS && !c->name_is_ip && looks_like_http(c->in, c->in_len)) {
			bool is_ip = false, pg;
			uint16_t port = 0;
			int r = al_http_sniff_host(c->in, c->in_len, name, &is_ip, &port, &pg);
			if (r == 0 && !c->c_eof && !timed_out && c->in_len < IN_CAP)
				return;
			if (r != 1) {
				deny(p, c, 0, 0, "malformed-request");
				return;
			}
			snprintf(c->sni, sizeof(c->sni), "%s", name);
			if (strcmp(name, c->name) != 0) {
				deny(p, c, 0, 0, "sni-mismatch");
				return;
			}
		}
		start_connect(p, c);
		return;
	}
	if (s == AL_SNI_FOUND) {
		transparent_decide(p, c, name, false);
	} else if (s == AL_SNI_ABSENT) {
		transparent_decide(p, c, NULL, false);
	} else {
		bool is_ip = false, pg;
		uint16_t port = 0;
		int r = al_http_sniff_host(c->in, c->in_len, name, &is_ip, &port, &pg);
		if (r == 0 && !c->c_eof && !timed_out && c->in_len < IN_CAP)
			return;
		if (exfil_in_head(p, c, c->in, c->in_len)) {
			deny(p, c, 0, 0, "exfil");
			return;
		}
		if (r == 1) {
			snprintf(c->sni, sizeof(c->sni), "%s", name);
			transparent_decide(p, c, name, is_ip);
		} else {
			transparent_decide(p, c, NULL, false);
		}
	}
}

static void step_connect(struct proxy *p, struct conn *c)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
	if (e == EINPROGRESS || e == EALREADY)
		return;
	if (e == 0) {
		/* SO_ERROR is 0 before the handshake too: only trust writability */
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		if (getpeername(c->ufd, (struct sockaddr *)&peer, &pl) < 0) {
			if (errno == ENOTCONN) {
				char b;
				e = recv(c->ufd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
				            errno != EAGAIN
				        ? errno
				        : 0;
				if (e == 0)
					return;
			} else {
				e = errno;
			}
		}
	}
	if (e != 0) {
		c->addr_idx++;
		connect_next(p, c, e);
		return;
	}
	if (make_pipes(c) < 0) {
		report_error(p, c, "out of pipes");
		conn_refuse(p, c, 503, 1, "out of pipes");
		return;
	}
	if (c->kind == K_HTTP && !c->is_connect) {
		set_phase(c, PH_HTTP_FWD);
		return;
	}
	/* the sniffed bytes go first */
	free(c->up);
	c->up = c->in;
	c->up_len = c->in_len;
	c->up_off = 0;
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	/* With canary tokens, a stream that is not TLS is copied through the
	 * search (HTTP followed request by request, anything else raw); TLS
	 * and runs without canaries keep the zero-copy splice. */
	if (p->exfil != NULL && !c->tls) {
		bool http = c->up_len > 0 && looks_like_http(c->up, c->up_len);
		int x;
		c->scan_up = true;
		/* a CONNECT after forwarded requests on the same client connection:
		 * the tunnel is a stream of its own */
		exfil_follow_end(c);
		x = exfil_follow_start(p, c, http ? AL_EXFIL_HTTP : AL_EXFIL_RAW)
		        ? exfil_follow(p, c, c->up, c->up_len)
		        : -2;
		if (x != 0) {
			if (x == -2)
				report_error(p, c, "exfil-scan: out of memory");
			conn_cut(p, c, "exfil");
			return;
		}
	}
	set_phase(c, PH_RELAY);
}

/* The up direction sent from c->up, through the chaos gate when chaos is
 * on. -1 on error or a chaos reset. */
static int flush_up_gated(struct proxy *p, struct conn *c)
{
	if (!c->chaos)
		return flush_up(c);
	while (c->up_off < c->up_len) {
		size_t want = c->up_len - c->up_off;
		int g = chaos_gate(p, c, &c->chaos_up, 0, &want);
		ssize_t n;
		if (g < 0) {
			chaos_reset(c);
			return -1;
		}
		if (g == 0)
			return 0;
		n = send(c->ufd, c->up + c->up_off, want, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		c->up_off += (size_t)n;
		c->bytes_up += (uint64_t)n;
		al_chaos_consumed(&c->chaos_up, (uint64_t)n);
		c->active_ns = proxy_now_ns();
	}
	return 0;
}

/* The up direction of a relay with canary tokens: read into c->up, search,
 * and only then send (a copy instead of splice). 0 go on, -1 close, -3 a
 * token or an unsearchable stream (reported: cut). */
static int relay_scan_up(struct proxy *p, struct conn *c)
{
	int rounds;

	for (rounds = 0; rounds < 4; rounds++) {
		ssize_t n;
		if (flush_up_gated(p, c) < 0)
			return -1;
		if (c->up_off < c->up_len || c->c_eof)
			return 0;
		if (!c->up_is_scan) {
			/* (the sniffed bytes' buffer is smaller: replaced) */
			free(c->up);
			c->up = malloc(SCAN_CAP);
			if (c->up == NULL)
				return -1;
			c->up_is_scan = true;
		}
		c->up_off = c->up_len = 0;
		n = recv(c->cfd, c->up, SCAN_CAP, MSG_DONTWAIT);
		if (n == 0) {
			c->c_eof = true;
			return 0;
		}
		if (n < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
		c->active_ns = proxy_now_ns();
		if (exfil_follow(p, c, c->up, (size_t)n) != 0)
			return -3;
		c->up_len = (size_t)n;
		if (c->chaos) {
			uint64_t t = proxy_now_ns() + al_chaos_chunk_delay(p->pol, &c->chaos_up);
			if (t > c->chaos_up.release_ns)
				c->chaos_up.release_ns = t;
		}
	}
	return 0;
}

static void step_relay(struct proxy *p, struct conn *c)
{
	if (c->scan_up) {
		int r = relay_scan_up(p, c);
		if (r == -3) {
			conn_cut(p, c, "exfil");
			return;
		}
		if (r < 0) {
			conn_close(p, c);
			return;
		}
	} else {
		if (flush_up(c) < 0) {
			conn_close(p, c);
			return;
		}
		if (c->up_off == c->up_len && c->up != NULL) {
			free(c->up);
			c->up = NULL;
			c->up_len = c->up_off = 0;
		}
		if (splice_dir(p, c, 0, c->up == NULL) < 0) {
			conn_close(p, c);
			return;
		}
	}
	if (splice_dir(p, c, 1, true) < 0) {
		conn_close(p, c);
		return;
	}
	if (c->c_eof && c->pu_fill == 0 && c->up_off == c->up_len && !c->u_shut) {
		shutdown(c->ufd, SHUT_WR);
		c->u_shut = true;
	}
	if (c->u_eof && c->pd_fill == 0 && !c->c_shut) {
		shutdown(c->cfd, SHUT_WR);
		c->c_shut = true;
	}
	if (c->c_shut && c->u_shut)
		conn_close(p, c);
}

/* Move request body bytes from c->in to c->up within the body's framing. */
static int http_body(struct proxy *p, struct conn *c)
{
	for (;;) {
		size_t room, take, used = 0;
		if (c->up_off == c->up_len)
			c->up_off = c->up_len = 0;
		room = UP_CAP - c->up_len;
		if (!c->body_done && c->in_len > 0 && room > 0) {
			take = c->in_len < room ? c->in_len : room;
			if (c->body_chunked) {
				int r = al_chunk_feed(&c->chunk, c->in, take, &used);
				if (r < 0)
					return -1;
				if (r == 1)
					c->body_done = true;
			} else {
				used = take < c->body_left ? take : (size_t)c->body_left;
				c->body_left -= used;
				if (c->body_left == 0)
					c->body_done = true;
			}
			/* searched before a byte of it is sent */
			if (exfil_follow(p, c, c->in, used) != 0)
				return -3;
			memcpy(c->up + c->up_len, c->in, used);
			c->up_len += used;
			in_consume(c, used);
		}
		if (flush_up(c) < 0)
			return -2;
		if (c->body_done || c->c_eof || c->up_off < c->up_len)
			return 0;
		ssize_t n = read_in(c);
		if (n == -2)
			return -2;
		if (n <= 0)
			return 0;
	}
}

static void step_http_fwd(struct proxy *p, struct conn *c)
{
	int r = http_body(p, c);

	if (r == -1) {
		report_error(p, c, "bad-chunking");
		if (c->bytes_down == 0) {
			conn_refuse_http(c, 400, "bad-chunking");
			close_upstream(p, c);
		} else {
			conn_close(p, c);
		}
		return;
	}
	if (r == -2) {
		conn_close(p, c);
		return;
	}
	if (r == -3) {
		/* a token in the body (or a body that cannot be searched): the
		 * request is cut, the upstream connection reset so that what of
		 * it is still queued is dropped, never completed */
		conn_cut(p, c, c->xh != NULL && c->xh->error == NULL ? "exfil" : "exfil-scan");
		return;
	}
	if (splice_dir(p, c, 1, true) < 0) {
		conn_close(p, c);
		return;
	}
	if (c->u_eof && c->pd_fill == 0) {
		/* the response is complete (we asked the origin to close) */
		report_close(p, c);
		close_upstream(p, c);
		if (!c->body_done || c->c_eof) {
			conn_close(p, c);
			return;
		}
		set_phase(c, PH_HTTP_HEAD);
	} else if (c->c_eof && !c->body_done) {
		conn_close(p, c);
	}
}

static void step_dns(struct proxy *p, struct conn *c)
{
	ssize_t n = read_in(c);

	if (n == -2) {
		conn_close(p, c);
		return;
	}
	while (c->in_len >= 2) {
		size_t len = (size_t)((uint8_t)c->in[0] << 8 | (uint8_t)c->in[1]);
		if (len > AL_DNS_MAX_MSG) {
			/* longer than any query we answer: it would only sit in the buffer */
			report_error(p, c, "dns-tcp message too long");
			conn_close(p, c);
			return;
		}
		if (c->in_len < 2 + len)
			break;
		c->active_ns = proxy_now_ns();
		dns_tcp_query(p, c, (const uint8_t *)c->in + 2, len);
		if (c->dead)
			return;
		in_consume(c, 2 + len);
	}
	if (c->c_eof && c->out_off == c->out_len)
		conn_close(p, c);
}

void conn_dns_reply(struct proxy *p, struct conn *c, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};

	if (out_append(c, hdr, 2) < 0 || out_append(c, msg, len) < 0) {
		conn_close(p, c);
		return;
	}
	if (!c->in_step)
		conn_step(p, c);
}

/* Lingering close: after the reply, shut our side and read until the client
 * closes (or the timeout), so that unread input does not turn the close into
 * a reset that destroys the reply in flight. */
static void step_closing(struct proxy *p, struct conn *c)
{
	char sink[4096];
	int i;

	if (c->out_off < c->out_len)
		return;
	if (!c->c_shut) {
		shutdown(c->cfd, SHUT_WR);
		c->c_shut = true;
	}
	for (i = 0; i < 16; i++) {
		ssize_t n = recv(c->cfd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(p, c);
			return;
		}
		if (n < 0)
			return;
	}
}

static void conn_step(struct proxy *p, struct conn *c)
{
	int guard;

	c->in_step = true;
	for (guard = 0; guard < 16 && !c->dead; guard++) {
		enum phase before = c->phase;
		if (flush_out(c) < 0) {
			conn_close(p, c);
			break;
		}
		switch (c->phase) {
		case PH_HTTP_HEAD:
			step_http_head(p, c);
			break;
		case PH_SOCKS_GREET:
		case PH_SOCKS_REQ:
			step_socks(p, c);
			break;
		case PH_RESOLVE:
			break;
		case PH_SNIFF:
			step_sniff(p, c);
			break;
		case PH_CONNECT:
			step_connect(p, c);
			break;
		case PH_RELAY:
			step_relay(p, c);
			break;
		case PH_HTTP_FWD:
			step_http_fwd(p, c);
			break;
		case PH_DNS:
			step_dns(p, c);
			break;
		case PH_CLOSING:
			step_closing(p, c);
			break;
		}
		if (c->dead || c->phase == before)
			break;
	}
	if (!c->dead) {
		if (flush_out(c) < 0)
			conn_close(p, c);
		else
			update_events(p, c);
	}
	c->in_step = false;
}

/* ---- accepting ---- */

static void conn_accept(struct proxy *p, int lfd, enum kind kind)
{
	int i;

	for (i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (c == NULL || p->n_conns >= p->max_conns) {
			struct al_net_report r;
			memset(&r, 0, sizeof(r));
			r.kind = AL_NET_ERROR;
			snprintf(r.reason, sizeof(r.reason), "too many connections");
			proxy_report(p, &r);
			free(c);
			close(fd);
			continue;
		}
		c->hc.c = c->hu.c = c;
		c->hu.upstream = true;
		c->cfd = fd;
		c->ufd = -1;
		c->pu[0] = c->pu[1] = c->pd[0] = c->pd[1] = -1;
		c->kind = kind;
		c->active_ns = proxy_now_ns();
		c->next = p->conns;
		if (p->conns)
			p->conns->prev = c;
		p->conns = c;
		p->n_conns++;
		switch (kind) {
		case K_HTTP:
			c->proto = "http";
			set_phase(c, PH_HTTP_HEAD);
			break;
		case K_SOCKS:
			c->proto = "socks5";
			set_phase(c, PH_SOCKS_GREET);
			break;
		case K_DNS_TCP:
			c->proto = "dns-tcp";
			c->id = ++p->next_conn_id;
			set_phase(c, PH_DNS);
			break;
		case K_TRANSPARENT: {
			struct sockaddr_storage dst;
			c->proto = "transparent";
			c->id = ++p->next_conn_id;
			set_phase(c, PH_SNIFF);
			if (!orig_dst(c, &dst)) {
				report_error(p, c, "no original destination");
				conn_close(p, c);
				continue;
			}
			memcpy(&c->addrs[0], &dst, sizeof(c->addrs[0]));
			c->n_addrs = 1;
			c->port = ntohs(dst.ss_family == AF_INET
			                    ? ((struct sockaddr_in *)&dst)->sin_port
			                    : ((struct sockaddr_in6 *)&dst)->sin6_port);
			if (!al_policy_port_allowed(p->pol, c->port)) {
				al_sockaddr_text((struct sockaddr *)&dst, c->name, sizeof(c->name));
				deny(p, c, 0, 0, "port not in allow_ports");
			}
			break;
		}
		}
		conn_step(p, c);
	}
}

/* ---- timeouts ---- */

static void check_timeouts(struct proxy *p)
{
	uint64_t now = proxy_now_ns();
	struct conn *c, *next;

	for (c = p->conns; c != NULL; c = next) {
		next = c->next;
		switch (c->phase) {
		case PH_HTTP_HEAD:
		case PH_SOCKS_GREET:
		case PH_SOCKS_REQ:
			if (now - c->phase_ns > TIMEOUT_HEAD) {
				report_error(p, c, "timeout reading request");
				if (c->kind == K_HTTP && c->in_len > 0)
					conn_refuse_http(c, 408, "timeout reading request");
				else
					conn_close(p, c);
			}
			break;
		case PH_SNIFF:
			if (now - c->phase_ns > TIMEOUT_SNIFF)
				conn_step(p, c); /* decides on what it has */
			break;
		case PH_CONNECT:
			if (now - c->phase_ns > TIMEOUT_CONNECT) {
				c->addr_idx++;
				connect_next(p, c, ETIMEDOUT);
			}
			break;
		case PH_RELAY:
		case PH_HTTP_FWD:
			if (now - c->active_ns > TIMEOUT_IDLE) {
				report_error(p, c, "idle timeout");
				conn_close(p, c);
			}
			break;
		case PH_DNS:
			if (now - c->active_ns > TIMEOUT_DNS_TCP)
				conn_close(p, c);
			break;
		case PH_CLOSING:
			if (now - c->phase_ns > TIMEOUT_CLOSING)
				conn_close(p, c);
			break;
		case PH_RESOLVE:
			break;
		}
		if (!c->dead)
			update_events(p, c);
	}
}

/* ---- the loop ---- */

static int add_listener(struct proxy *p, int fd, int tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = proxy_tag(tag, fd)};
	if (fd < 0)
		return 0;
	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int proxy_run(struct proxy *p, const struct al_egress_fds *fds, struct al_error *err)
{
	struct epoll_event evs[256];
	uint64_t last_scan = proxy_now_ns();

	if (p->pol->n_exfil_tokens > 0 &&
	    al_exfil_build(&p->exfil, (const char *const *)p->pol->exfil_tokens,
	                   p->pol->n_exfil_tokens) < 0)
		return al_error_set(err, ENOMEM, "egress", "building the exfil search");
	if (add_listener(p, fds->http, TAG_LISTEN_HTTP) < 0 ||
	    add_listener(p, fds->socks, TAG_LISTEN_SOCKS) < 0 ||
	    add_listener(p, fds->transparent, TAG_LISTEN_TRANSPARENT) < 0 ||
	    add_listener(p, fds->transparent6, TAG_LISTEN_TRANSPARENT) < 0 ||
	    add_listener(p, fds->dns_tcp, TAG_LISTEN_DNS_TCP) < 0 ||
	    add_listener(p, fds->dns_udp, TAG_DNS_UDP) < 0)
		return al_error_errno(err, "egress", "epoll_ctl listener");
	{
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
		                         .data.u64 = proxy_tag(TAG_REPORT, p->report_fd)};
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->report_fd, &ev) < 0)
			return al_error_errno(err, "egress", "epoll_ctl report socket");
	}
	if (p->signal_fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN,
		                         .data.u64 = proxy_tag(TAG_SIGNAL, p->signal_fd)};
		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->signal_fd, &ev) < 0)
			return al_error_errno(err, "egress", "epoll_ctl signalfd");
	}
	while (!proxy_stop) {
		int n, i, timeout = dns_resolver_timeout_ms(p, 1000);
		if (p->chaos_next_ns != 0) {
			uint64_t now = proxy_now_ns();
			int ms = p->chaos_next_ns <= now
			             ? 0
			             : (int)((p->chaos_next_ns - now + 999999) / 1000000);
			if (ms < timeout)
				timeout = ms;
		}
		n = epoll_wait(p->epfd, evs, (int)AL_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR)
			return al_error_errno(err, "egress", "epoll_wait");
		for (i = 0; i < n; i++) {
			uint64_t u = evs[i].data.u64;
			if (u & 1) {
				int tag = (int)((u >> 1) & 0x7f), fd = (int)(u >> 8);
				switch (tag) {
				case TAG_LISTEN_HTTP:
					conn_accept(p, fd, K_HTTP);
					break;
				case TAG_LISTEN_SOCKS:
					conn_accept(p, fd, K_SOCKS);
					break;
				case TAG_LISTEN_TRANSPARENT:
					conn_accept(p, fd, K_TRANSPARENT);
					break;
				case TAG_LISTEN_DNS_TCP:
					conn_accept(p, fd, K_DNS_TCP);
					break;
				case TAG_DNS_UDP:
					dns_udp_readable(p, fd);
					break;
				case TAG_ARES:
					dns_resolver_fd_event(p, fd, evs[i].events);
					break;
				case TAG_REPORT:
					/* the supervisor never writes: readable means gone */
					report_dead = proxy_stop = true;
					break;
				case TAG_SIGNAL:
					/* SIGTERM/INT/HUP: send what is queued, then stop */
					proxy_stop = true;
					break;
				}
			} else {
				struct handle *h = evs[i].data.ptr;
				if (!h->c->dead)
					conn_step(p, h->c);
			}
		}
		if (proxy_now_ns() - last_scan >= SEC) {
			last_scan = proxy_now_ns();
			dns_resolver_timeouts(p);
			check_timeouts(p);
		} else if (n == 0) {
			dns_resolver_timeouts(p);
		}
		if (p->chaos_next_ns != 0 && proxy_now_ns() >= p->chaos_next_ns) {
			/* delays that are over: let those connections go on (each one
			 * still held back sets the next wake-up again) */
			struct conn *c, *next;
			p->chaos_next_ns = 0;
			for (c = p->conns; c != NULL; c = next) {
				next = c->next;
				if (c->chaos && (c->phase == PH_RELAY || c->phase == PH_HTTP_FWD))
					conn_step(p, c);
			}
		}
		proxy_report_flush(p);
		while (p->graveyard) {
			struct conn *c = p->graveyard;
			p->graveyard = c->next;
			free(c);
		}
	}
	return 0;
}
