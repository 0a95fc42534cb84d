/* The supervisor's side of proxy mode (docs/egress.md): the policy built
 * from the spec (and the host's resolv.conf / hosts when the spec names no
 * resolver), the proxy started with the listening sockets the sandbox init
 * made inside the sandbox's netns, its reports turned into net_* records,
 * and its death failing the run closed. The proxy parses hostile bytes and
 * may be compromised: of a report only its shape is trusted; every string
 * is checked for termination and escaped into the record. */
#define _GNU_SOURCE
#include "supervisor/egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evidence/evlog.h"
#include "net/egress.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/timeutil.h"

/* How long the supervisor waits for the init to reach its network step
 * (mounts are done by then). Far above any real setup time. */
#define EGRESS_FDS_WAIT_MS 60000
/* Reports handled per wakeup, so a flooding proxy cannot starve the loop. */
#define REPORTS_PER_WAKEUP 64
#define MAX_HOST_FILE_ENTRIES 1024
/* Records from the proxy's reports per run; beyond, reports are counted
 * (run_end.network.unrecorded), not recorded one by one, so a workload
 * flooding DNS or connects cannot fill the host's disk through the log
 * (the same trade as syscall_denied_unrecorded). */
#define NET_RECORDS_MAX 100000

struct al_egress_run {
	struct al_egress_policy pol;
	char **owned;             /* strings the policy points at that we allocated */
	size_t n_owned;
	int pidfd, report_fd;
	pid_t pid;
	bool exited;
	uint64_t reports, connects, refused, dns, recorded, unrecorded;
};

/* ---- the policy --------------------------------------------------------- */

static void to_sockaddr(const struct al_net_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->addr, 4);
		*len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->addr, 16);
		*len = sizeof *sin6;
	}
}

static int own(struct al_egress_run *e, char *s)
{
	char **n;
	if (s == NULL)
		return -ENOMEM;
	n = realloc(e->owned, (e->n_owned + 1) * sizeof *n);
	if (n == NULL) {
		free(s);
		return -ENOMEM;
	}
	n[e->n_owned++] = s;
	e->owned = n;
	return 0;
}

static int add_host(struct al_egress_run *e, const char *name, const struct al_net_addr *a)
{
	struct al_egress_policy *p = &e->pol;
	struct al_egress_host *h;
	char *copy;

	for (size_t i = 0; i < p->n_hosts; i++)
		if (strcmp(p->hosts[i].name, name) == 0)
			return 0; /* the first wins: the spec's come first */
	h = realloc(p->hosts, (p->n_hosts + 1) * sizeof *h);
	if (h == NULL)
		return -ENOMEM;
	p->hosts = h;
	copy = strdup(name);
	if (own(e, copy) < 0)
		return -ENOMEM;
	h[p->n_hosts].name = copy;
	to_sockaddr(a, &h[p->n_hosts].addr, &h[p->n_hosts].addrlen);
	p->n_hosts++;
	return 0;
}

static int add_resolver(struct al_egress_run *e, const struct al_net_addr *a)
{
	struct al_egress_policy *p = &e->pol;
	struct sockaddr_storage *r = realloc(p->resolvers, (p->n_resolvers + 1) * sizeof *r);
	socklen_t len;

	if (r == NULL)
		return -ENOMEM;
	p->resolvers = r;
	to_sockaddr(a, &r[p->n_resolvers++], &len);
	return 0;
}

/* Lines "nameserver ADDR" of the host's resolv.conf (glibc uses at most 3).
 * A scoped IPv6 address (fe80::1%eth0) cannot be given to the proxy as
 * text it checks, so it is skipped. Read before the proxy is confined (it
 * cannot open files). A missing file means no upstream: every name that
 * is not in hosts is answered NXDOMAIN. */
static int host_resolvers(struct al_egress_run *e, const char *path, struct al_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];
	int r;

	if (f == NULL)
		return errno == ENOENT ? 0 : al_error_errno(err, "network", "reading %s", path);
	while (fgets(line, sizeof line, f) != NULL && e->pol.n_resolvers < 3) {
		char *save = NULL, *kw = strtok_r(line, " \t\r\n", &save), *addr;
		struct al_net_addr a;
		if (kw == NULL || strcmp(kw, "nameserver") != 0)
			continue;
		addr = strtok_r(NULL, " \t\r\n", &save);
		if (addr == NULL || al_net_addr_parse(addr, &a) < 0)
			continue;
		r = add_resolver(e, &a);
		if (r < 0)
			return al_error_set(err, -r, "network", "reading %s", path);
	}
	return 0;
}

/* The host's /etc/hosts as static answers (after the spec's, which win).
 * They answer only names the policy allows, and the addresses are still
 * checked: "localhost 127.0.0.1" gives the sandbox nothing without an
 * allow_cidr naming 127.0.0.1. */
static int host_file_entries(struct al_egress_run *e, const char *path, struct al_error *err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[1024];
	size_t n = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : al_error_errno(err, "network", "reading %s", path);
	while (fgets(line, sizeof line, f) != NULL && n < MAX_HOST_FILE_ENTRIES) {
		char *save = NULL, *hash = strchr(line, '#'), *addr, *name;
		struct al_net_addr a;
		if (hash)
			*hash = '\0';
		addr = strtok_r(line, " \t\r\n", &save);
		if (addr == NULL || al_net_addr_parse(addr, &a) < 0)
			continue;
		while ((name = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			for (char *c = name; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			if (add_host(e, name, &a) < 0)
				return al_error_set(err, ENOMEM, "network", "reading %s", path);
			n++;
		}
	}
	return 0;
}

int al_egress_prepare(struct al_egress_run **out, const struct al_spec *spec, struct al_error *err)
{
	const struct al_network_spec *net = &spec->network;
	struct al_egress_run *e;
	struct al_egress_policy *p;
	size_t n;
	int r;

	*out = NULL;
	if (net->mode != AL_NET_PROXY)
		return 0;
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return al_error_set(err, ENOMEM, "network", "building the egress policy");
	e->pidfd = e->report_fd = -1;
	p = &e->pol;
	/* The spec outlives the run: point at its strings. */
	p->allow_domains = net->allow_domains;
	p->n_allow_domains = net->n_allow_domains;
	p->deny_domains = net->deny_domains;
	p->n_deny_domains = net->n_deny_domains;
	p->allow_ports = (uint16_t *)al_net_ports(net, &n);
	p->n_allow_ports = n;
	if (net->n_allow_cidr > 0) {
		p->allow_cidr = calloc(net->n_allow_cidr, sizeof *p->allow_cidr);
		if (p->allow_cidr == NULL) {
			al_egress_free(e);
			return al_error_set(err, ENOMEM, "network", "building the egress policy");
		}
		for (size_t i = 0; i < net->n_allow_cidr; i++) {
			p->allow_cidr[i].family = net->allow_cidr[i].family;
			memcpy(p->allow_cidr[i].addr, net->allow_cidr[i].addr, 16);
			p->allow_cidr[i].prefix = net->allow_cidr[i].prefix;
		}
		p->n_allow_cidr = net->n_allow_cidr;
	}
	if (spec->chaos.network) {
		/* Without a seed, a random one: recorded in run_start, so the run's
		 * schedule can be repeated. */
		p->chaos.enabled = true;
		p->chaos.seed = spec->chaos.seed;
		if (!spec->chaos.seed_set &&
		    getrandom(&p->chaos.seed, sizeof p->chaos.seed, 0) != (ssize_t)sizeof p->chaos.seed)
			p->chaos.seed = al_realtime_ns() ^ ((uint64_t)getpid() << 32);
		p->chaos.latency_ns = spec->chaos.latency_ns;
		p->chaos.jitter_ns = spec->chaos.jitter_ns;
		p->chaos.loss = spec->chaos.loss;
		p->chaos.reset = spec->chaos.reset;
		p->chaos.bandwidth = spec->chaos.bandwidth;
	}
	r = 0;
	for (size_t i = 0; r == 0 && i < net->n_hosts; i++)
		r = add_host(e, net->hosts[i].name, &net->hosts[i].addr);
	for (size_t i = 0; r == 0 && i < net->n_resolvers; i++)
		r = add_resolver(e, &net->resolvers[i]);
	if (r < 0) {
		al_egress_free(e);
		return al_error_set(err, ENOMEM, "network", "building the egress policy");
	}
	if (net->n_resolvers == 0) {
		r = host_resolvers(e, "/etc/resolv.conf", err);
		if (r == 0)
			r = host_file_entries(e, "/etc/hosts", err);
		if (r < 0) {
			al_egress_free(e);
			return r;
		}
	}
	*out = e;
	return 0;
}

void al_egress_free(struct al_egress_run *e)
{
	if (e == NULL)
		return;
	if (e->pidfd >= 0)
		close(e->pidfd);
	if (e->report_fd >= 0)
		close(e->report_fd);
	free(e->pol.allow_cidr);
	free(e->pol.hosts);
	free(e->pol.resolvers);
	for (size_t i = 0; i < e->n_owned; i++)
		free(e->owned[i]);
	free(e->owned);
	free(e);
}

/* run_start.protections.egress: the policy in force, resolved (the
 * resolvers actually used, the ports with their default), and where the
 * proxy listens inside. */
void al_egress_describe(const struct al_egress_run *e, struct al_json *j)
{
	const struct al_egress_policy *p = &e->pol;
	char buf[80];

	al_json_key(j, "egress");
	al_json_obj_begin(j);
	al_json_key(j, "allow_domains");
	al_json_arr_begin(j);
	for (size_t i = 0; i < p->n_allow_domains; i++)
		al_json_str(j, p->allow_domains[i]);
	al_json_arr_end(j);
	al_json_key(j, "deny_domains");
	al_json_arr_begin(j);
	for (size_t i = 0; i < p->n_deny_domains; i++)
		al_json_str(j, p->deny_domains[i]);
	al_json_arr_end(j);
	al_json_key(j, "allow_ports");
	al_json_arr_begin(j);
	for (size_t i = 0; i < p->n_allow_ports; i++)
		al_json_uint(j, p->allow_ports[i]);
	al_json_arr_end(j);
	al_json_key(j, "allow_cidr");
	al_json_arr_begin(j);
	for (size_t i = 0; i < p->n_allow_cidr; i++) {
		struct al_net_cidr c = {.family = p->allow_cidr[i].family,
					.prefix = (uint8_t)p->allow_cidr[i].prefix};
		memcpy(c.addr, p->allow_cidr[i].addr, 16);
		al_net_cidr_format(&c, buf, sizeof buf);
		al_json_str(j, buf);
	}
	al_json_arr_end(j);
	al_json_kv_uint(j, "hosts", p->n_hosts);
	al_json_key(j, "resolvers");
	al_json_arr_begin(j);
	for (size_t i = 0; i < p->n_resolvers; i++) {
		const struct sockaddr_storage *ss = &p->resolvers[i];
		struct al_net_addr a = {.family = ss->ss_family};
		if (ss->ss_family == AF_INET) {
			memcpy(a.addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
			a.port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
		} else {
			memcpy(a.addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
			a.port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
		}
		al_net_addr_format(&a, true, buf, sizeof buf);
		al_json_str(j, buf);
	}
	al_json_arr_end(j);
	al_json_key(j, "listen");
	al_json_raw(j, "{\"http\":\"127.0.0.1:" AL_STR(AL_EGRESS_PORT_HTTP) "\",\"socks5\":\"127.0.0.1:" AL_STR(
			   AL_EGRESS_PORT_SOCKS) "\",\"transparent\":[\"127.0.0.1:" AL_STR(AL_EGRESS_PORT_TRANSPARENT) "\",\"[::1]:" AL_STR(AL_EGRESS_PORT_TRANSPARENT) "\"],\"dns\":\"127.0.0.1:" AL_STR(AL_EGRESS_PORT_DNS) "\"}");
	if (p->chaos.enabled) {
		al_json_key(j, "chaos");
		al_json_obj_begin(j);
		al_json_kv_uint(j, "seed", p->chaos.seed);
		al_json_kv_uint(j, "latency_ns", p->chaos.latency_ns);
		al_json_kv_uint(j, "jitter_ns", p->chaos.jitter_ns);
		al_json_key(j, "loss");
		al_json_double(j, p->chaos.loss);
		al_json_key(j, "reset");
		al_json_double(j, p->chaos.reset);
		al_json_kv_uint(j, "bandwidth", p->chaos.bandwidth);
		al_json_obj_end(j);
	}
	al_json_kv_str(j, "outside", "tcp redirected to the proxy; udp except dns, icmp and other protocols dropped");
	al_json_obj_end(j);
}

/* ---- starting the proxy -------------------------------------------------- */

/* Wait for the init's AL_MSG_EGRESS_FDS. An AL_MSG_ERROR instead (setup
 * failed before the network step) is recorded in s as any setup failure
 * is, and 0 returned with s->setup_failed set. */
static int receive_fds(struct al_supervisor *s, int fds[AL_EGRESS_NFDS], struct al_error *err)
{
	uint64_t deadline = al_mono_ns() + (uint64_t)EGRESS_FDS_WAIT_MS * 1000000ull;

	for (;;) {
		struct al_msg m;
		char cbuf[CMSG_SPACE(sizeof(int) * AL_EGRESS_NFDS)];
		struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof cbuf};
		struct pollfd pfd = {.fd = s->sync_fd, .events = POLLIN};
		struct cmsghdr *cm;
		uint64_t now = al_mono_ns();
		ssize_t n;
		int pr;

		if (now >= deadline)
			return al_error_set(err, ETIMEDOUT, "network",
					    "the sandbox init did not hand over the egress sockets");
		pr = poll(&pfd, 1, (int)((deadline - now) / 1000000ull) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return al_error_errno(err, "network", "waiting for the egress sockets");
		if (pr == 0)
			continue;
		n = recvmsg(s->sync_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return al_error_set(err, n < 0 ? errno : ECONNRESET, "network",
					    "the sandbox init exited before handing over the egress sockets");
		/* any descriptors that came along are ours to close unless kept */
		int got[AL_EGRESS_NFDS], ngot = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t k;
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
				if (ngot < AL_EGRESS_NFDS)
					got[ngot++] = fd;
				else
					close(fd);
			}
		}
		if ((size_t)n == sizeof m && m.type == AL_MSG_ERROR) {
			while (ngot > 0)
				close(got[--ngot]);
			m.text[sizeof m.text - 1] = '\0';
			s->setup_failed = true;
			s->setup_msg = m;
			return 0;
		}
		/* each fd named by its socket's index; all but the IPv6
		 * transparent one are required */
		bool ok = (size_t)n == sizeof m && m.type == AL_MSG_EGRESS_FDS && m.status == ngot &&
			  !(mh.msg_flags & MSG_CTRUNC);
		for (int i = 0; ok && i < ngot; i++) {
			int k = m.text[i] - '0';
			if (k < 0 || k >= AL_EGRESS_NFDS || fds[k] >= 0)
				ok = false;
			else
				fds[k] = got[i];
		}
		for (int k = 0; ok && k < AL_EGRESS_NFDS; k++)
			if (fds[k] < 0 && k != AL_EGRESS_TRANSPARENT6)
				ok = false;
		if (!ok) {
			for (int i = 0; i < ngot; i++)
				close(got[i]);
			for (int k = 0; k < AL_EGRESS_NFDS; k++)
				fds[k] = -1;
			return al_error_set(err, EPROTO, "network",
					    "unexpected message from the sandbox init instead of the egress sockets");
		}
		return 0;
	}
}

int al_egress_begin(struct al_supervisor *s, struct al_error *err)
{
	struct al_egress_run *e = s->egress;
	int fds[AL_EGRESS_NFDS], r;
	struct al_egress_fds efds;

	if (e == NULL)
		return 0;
	for (int i = 0; i < AL_EGRESS_NFDS; i++)
		fds[i] = -1;
	r = receive_fds(s, fds, err);
	if (r < 0 || s->setup_failed)
		return r;
	efds.http = fds[AL_EGRESS_HTTP];
	efds.socks = fds[AL_EGRESS_SOCKS];
	efds.transparent = fds[AL_EGRESS_TRANSPARENT];
	efds.transparent6 = fds[AL_EGRESS_TRANSPARENT6];
	efds.dns_udp = fds[AL_EGRESS_DNS_UDP];
	efds.dns_tcp = fds[AL_EGRESS_DNS_TCP];
	/* the canary tokens, for the proxy's search of request heads; only
	 * while the policy is handed over (they live in the tripwire state) */
	al_supervisor_exfil_tokens(s, &e->pol.exfil_tokens, &e->pol.n_exfil_tokens);
	r = al_egress_start(&e->pol, &efds, &e->pidfd, &e->pid, &e->report_fd, err);
	e->pol.exfil_tokens = NULL;
	e->pol.n_exfil_tokens = 0;
	/* the proxy has its copies; ours would keep the sandbox's ports open
	 * after the proxy is gone */
	for (int i = 0; i < AL_EGRESS_NFDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r < 0)
		return r;
	fcntl(e->report_fd, F_SETFL, fcntl(e->report_fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

int al_egress_report_fd(const struct al_egress_run *e)
{
	return e ? e->report_fd : -1;
}

int al_egress_pidfd(const struct al_egress_run *e)
{
	return e ? e->pidfd : -1;
}

/* ---- reports -> records --------------------------------------------------- */

static bool terminated(const char *f, size_t len)
{
	return memchr(f, '\0', len) != NULL;
}
#define TERMINATED(field) terminated((field), sizeof(field))

bool al_egress_report_valid(const void *buf, size_t n)
{
	const struct al_net_report *r = buf;

	return n == sizeof *r && r->kind >= AL_NET_DNS && r->kind <= AL_NET_EXFIL && r->allowed <= 1 &&
	       TERMINATED(r->proto) && TERMINATED(r->name) && TERMINATED(r->sni) &&
	       TERMINATED(r->qtype) && TERMINATED(r->addr) && TERMINATED(r->reason) &&
	       TERMINATED(r->answer) && TERMINATED(r->chaos);
}

static void kv_opt(struct al_json *j, const char *k, const char *v)
{
	if (v[0] != '\0')
		al_json_kv_str(j, k, v);
	else {
		al_json_key(j, k);
		al_json_null(j);
	}
}

const char *al_egress_report_json(const struct al_net_report *r, struct al_buf *b)
{
	const char *type = "net_error";
	struct al_json j;

	al_json_init(&j, b);
	al_json_obj_begin(&j);
	switch (r->kind) {
	case AL_NET_DNS:
		type = "net_dns";
		al_json_kv_str(&j, "proto", r->proto);
		al_json_kv_str(&j, "name", r->name);
		al_json_kv_str(&j, "qtype", r->qtype);
		al_json_kv_bool(&j, "allowed", r->allowed);
		kv_opt(&j, "answer", r->answer);
		kv_opt(&j, "reason", r->reason);
		break;
	case AL_NET_CONNECT:
		type = "net_connect";
		al_json_kv_uint(&j, "conn", r->conn_id);
		al_json_kv_str(&j, "proto", r->proto);
		kv_opt(&j, "name", r->name);
		al_json_kv_uint(&j, "port", r->port);
		kv_opt(&j, "sni", r->sni);
		kv_opt(&j, "addr", r->addr);
		al_json_kv_bool(&j, "allowed", r->allowed);
		kv_opt(&j, "reason", r->reason);
		break;
	case AL_NET_CLOSE:
		type = "net_close";
		al_json_kv_uint(&j, "conn", r->conn_id);
		al_json_kv_str(&j, "proto", r->proto);
		al_json_kv_uint(&j, "bytes_up", r->bytes_up);
		al_json_kv_uint(&j, "bytes_down", r->bytes_down);
		al_json_kv_uint(&j, "duration_ns", r->duration_ns);
		kv_opt(&j, "reason", r->reason);
		break;
	case AL_NET_CHAOS:
		type = "chaos";
		al_json_kv_str(&j, "kind", "network");
		al_json_kv_uint(&j, "conn", r->conn_id);
		al_json_kv_str(&j, "injected", r->chaos);
		break;
	case AL_NET_ERROR:
		type = "net_error";
		al_json_kv_uint(&j, "conn", r->conn_id);
		kv_opt(&j, "proto", r->proto);
		kv_opt(&j, "name", r->name);
		kv_opt(&j, "addr", r->addr);
		al_json_kv_str(&j, "reason", r->reason);
		break;
	}
	al_json_obj_end(&j);
	return type;
}

/* canary tokens in the names the proxy reported (tripwires.c) */
static void exfil_names(struct al_supervisor *s, const struct al_net_report *r)
{
	if (r->kind == AL_NET_DNS || r->kind == AL_NET_CONNECT) {
		const char *names[2] = {r->name, r->sni};
		al_supervisor_exfil_names(s, r->kind == AL_NET_DNS ? "dns" : "connect", r->proto,
		                          names, 2);
	}
}

static int report_record(struct al_supervisor *s, const struct al_net_report *r,
			 struct al_error *err)
{
	struct al_egress_run *e = s->egress;
	const char *type = NULL;
	struct al_buf b;
	int rc;

	if (r->kind == AL_NET_EXFIL) {
		/* the proxy refused a request holding a canary token, or cut
		 * the connection: "token N VARIANT [WHERE]" (checked by the
		 * tripwire side) */
		unsigned long tok;
		char variant[32], where[16] = "head";
		if (sscanf(r->reason, "token %lu %31s %15s", &tok, variant, where) < 2)
			return al_error_set(err, EPROTO, "network", "malformed exfil report");
		return al_supervisor_exfil_report(s, (size_t)tok, variant, where, r->proto, r->name,
						  err);
	}
	if (r->kind == AL_NET_DNS)
		e->dns++;
	if (r->kind == AL_NET_CONNECT) {
		e->connects++;
		if (!r->allowed)
			e->refused++;
	}
	if (e->recorded >= NET_RECORDS_MAX) {
		exfil_names(s, r); /* every report, also past the record cap */
		if (e->unrecorded++ == 0) {
			char f[160];
			snprintf(f, sizeof f,
				 "{\"reason\":\"more than %d network records: further reports are counted, not recorded\"}",
				 NET_RECORDS_MAX);
			return al_evlog_append(s->log, "net_unrecorded", f, err);
		}
		return 0;
	}
	e->recorded++;
	al_buf_init(&b);
	type = al_egress_report_json(r, &b);
	rc = b.oom ? al_error_set(err, ENOMEM, "network", "recording a proxy report")
		   : al_evlog_append(s->log, type, b.data, err);
	if (rc == 0) /* tripwire rules: egress-denied, dns-denied */
		al_supervisor_monitor_event(s, type, b.data);
	al_buf_free(&b);
	if (rc == 0)
		exfil_names(s, r);
	return rc;
}

int al_egress_handle_reports(struct al_supervisor *s, struct al_error *err)
{
	struct al_egress_run *e = s->egress;

	for (int i = 0; e && e->report_fd >= 0 && i < REPORTS_PER_WAKEUP; i++) {
		struct al_net_report rep;
		ssize_t n = recv(e->report_fd, &rep, sizeof rep, MSG_DONTWAIT | MSG_TRUNC);
		int r;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n == 0 || n < 0) {
			/* the proxy closed its end: it is gone or going; its pidfd says how */
			close(e->report_fd);
			e->report_fd = -1;
			return n == 0 ? 1 : al_error_errno(err, "network", "reading the proxy's reports");
		}
		e->reports++;
		if (!al_egress_report_valid(&rep, (size_t)n))
			return al_error_set(err, EPROTO, "network",
					    "the egress proxy sent a malformed report (%zd bytes): "
					    "treated as compromised",
					    n);
		r = report_record(s, &rep, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Reaps the proxy if it has exited; describes how into buf. */
static bool proxy_reaped(struct al_egress_run *e, int options, char *buf, size_t len)
{
	siginfo_t si = {0};

	if (e->exited || e->pidfd < 0)
		return true;
	if (syscall(SYS_waitid, P_PIDFD, e->pidfd, &si, WEXITED | options, NULL) < 0 ||
	    si.si_pid == 0)
		return false;
	e->exited = true;
	if (si.si_code == CLD_EXITED)
		snprintf(buf, len, "the egress proxy exited with status %d", si.si_status);
	else
		snprintf(buf, len, "the egress proxy was killed by signal %d (%s)", si.si_status,
			 strsignal(si.si_status));
	return true;
}

bool al_egress_check_alive(struct al_supervisor *s, char *why, size_t len)
{
	return !proxy_reaped(s->egress, WNOHANG, why, len);
}

/* How long the proxy gets, once asked to stop, to send what it has queued
 * (the net_close of connections still open at the end). */
#define EGRESS_STOP_GRACE_MS 1000

void al_egress_stop(struct al_supervisor *s)
{
	struct al_egress_run *e = s->egress;
	struct al_error err = {0};
	char why[128];

	if (e == NULL || e->pidfd < 0)
		return;
	/* SIGTERM: the proxy sends its queued reports and exits; they are
	 * part of the record, read until its end of the channel closes (or
	 * the grace period ends: a proxy that does not stop is killed). */
	if (!e->exited)
		syscall(SYS_pidfd_send_signal, e->pidfd, SIGTERM, NULL, 0);
	uint64_t deadline = al_mono_ns() + (uint64_t)EGRESS_STOP_GRACE_MS * 1000000ull;
	while (e->report_fd >= 0) {
		struct pollfd p = {.fd = e->report_fd, .events = POLLIN};
		uint64_t now = al_mono_ns();
		if (now >= deadline)
			break;
		if (poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1) <= 0)
			continue;
		int r = al_egress_handle_reports(s, &err);
		if (r < 0 && err.code == EPROTO) {
			/* too late to kill anything; not too late to say so */
			struct al_buf b;
			struct al_json j;
			struct al_error lerr = {0};
			al_buf_init(&b);
			al_json_init(&j, &b);
			al_json_obj_begin(&j);
			al_json_kv_uint(&j, "conn", 0);
			al_json_kv_str(&j, "reason", err.msg);
			al_json_obj_end(&j);
			if (!b.oom)
				al_evlog_append(s->log, "net_error", b.data, &lerr);
			al_buf_free(&b);
		}
		if (r != 0)
			break; /* EOF (fd closed), or a report we refuse: stop reading */
	}
	if (!e->exited) {
		syscall(SYS_pidfd_send_signal, e->pidfd, SIGKILL, NULL, 0);
		proxy_reaped(e, 0, why, sizeof why);
	}
	if (e->report_fd >= 0)
		close(e->report_fd);
	close(e->pidfd);
	e->report_fd = e->pidfd = -1;
}

void al_egress_counts(const struct al_egress_run *e, struct al_json *j)
{
	al_json_key(j, "network");
	al_json_obj_begin(j);
	al_json_kv_uint(j, "dns_queries", e->dns);
	al_json_kv_uint(j, "connects", e->connects);
	al_json_kv_uint(j, "refused", e->refused);
	al_json_kv_uint(j, "unrecorded", e->unrecorded);
	al_json_obj_end(j);
}
