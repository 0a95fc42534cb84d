/* Test harness for the egress proxy alone (no sandbox): creates the
 * listening sockets on a loopback address in the host namespace, starts the
 * proxy with al_egress_start exactly as the supervisor does, prints one
 * "ready" JSON line with the ports, then every report as a JSON line, until
 * stdin closes (then the proxy is stopped) or the proxy exits.
 *
 *   egress_harness --listen 127.0.0.1 [--allow-domain N]... [--deny-domain N]...
 *       [--allow-port P]... [--allow-cidr A/N]... [--host NAME=ADDR]...
 *       [--resolver ADDR:PORT]... [--transparent] [--transparent6] [--netns /proc/PID/ns/net]
 *       [--chaos-seed N [--chaos-latency-ms N] [--chaos-jitter-ms N] [--chaos-loss P]
 *        [--chaos-reset P] [--chaos-bandwidth BYTES_PER_S]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/egress.h"
#include "util/json.h"

#define MAXN 32

static int listen_on(const char *addr, int type, uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	if (type == SOCK_STREAM && listen(fd, 4096) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* [::1]:0 */
static int listen_on6(int type, uint16_t *port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin6_port);
	return fd;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, uint16_t def_port)
{
	char buf[128];
	const char *colon = strrchr(s, ':');
	uint16_t port = def_port;

	memset(ss, 0, sizeof(*ss));
	snprintf(buf, sizeof(buf), "%s", s);
	if (colon && strchr(s, '.') != NULL) {
		buf[colon - s] = '\0';
		port = (uint16_t)atoi(colon + 1);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return 0;
	}
	return -1;
}

static void print_report(const struct al_net_report *r)
{
	static const char *const kinds[] = {"?", "dns", "connect", "close", "chaos", "error"};
	struct al_buf b;
	struct al_json j;

	al_buf_init(&b);
	al_json_init(&j, &b);
	al_json_obj_begin(&j);
	al_json_kv_str(&j, "kind", r->kind <= AL_NET_ERROR ? kinds[r->kind] : "?");
	al_json_kv_uint(&j, "conn_id", r->conn_id);
	al_json_kv_str(&j, "proto", r->proto);
	al_json_kv_str(&j, "name", r->name);
	al_json_kv_str(&j, "sni", r->sni);
	al_json_kv_str(&j, "qtype", r->qtype);
	al_json_kv_str(&j, "addr", r->addr);
	al_json_kv_uint(&j, "port", r->port);
	al_json_kv_bool(&j, "allowed", r->allowed);
	al_json_kv_str(&j, "reason", r->reason);
	al_json_kv_str(&j, "answer", r->answer);
	al_json_kv_uint(&j, "bytes_up", r->bytes_up);
	al_json_kv_uint(&j, "bytes_down", r->bytes_down);
	al_json_kv_uint(&j, "duration_ns", r->duration_ns);
	al_json_kv_str(&j, "chaos", r->chaos);
	al_json_obj_end(&j);
	printf("%s\n", b.data);
	fflush(stdout);
	al_buf_free(&b);
}

int main(int argc, char **argv)
{
	static char *allow[MAXN], *deny[MAXN];
	static uint16_t ports[MAXN];
	static struct al_egress_cidr cidrs[MAXN];
	static struct al_egress_host hosts[MAXN];
	static struct sockaddr_storage resolvers[MAXN];
	struct al_egress_policy pol = {.allow_domains = allow,
	                               .deny_domains = deny,
	                               .allow_ports = ports,
	                               .allow_cidr = cidrs,
	                               .hosts = hosts,
	                               .resolvers = resolvers};
	struct al_egress_fds fds = {-1, -1, -1, -1, -1, -1};
	const char *listen_addr = "127.0.0.1", *netns = NULL;
	uint16_t p_http = 0, p_socks = 0, p_dns = 0, p_dns_tcp = 0, p_tr = 0, p_tr6 = 0;
	bool transparent = false, transparent6 = false;
	struct al_error err = {0};
	int pidfd, report_fd, i;
	pid_t pid;

	/* the proxy re-executes this binary (see al_egress_start) */
	if (al_egress_is_proxy_argv(argc, argv))
		return al_egress_proxy_main();
	/* a stand-in for the supervisor's secrets (test_proxy_holds_none_of_its_parents_memory) */
	static char canary_copy[128];
	const char *canary = getenv("NETPROXY_CANARY");
	char *canary_heap = canary ? strdup(canary) : NULL;
	if (canary)
		snprintf(canary_copy, sizeof(canary_copy), "%s", canary);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--transparent") == 0) {
			transparent = true;
			continue;
		}
		if (strcmp(a, "--transparent6") == 0) {
			transparent6 = true;
			continue;
		}
		if (v == NULL)
			return 2;
		i++;
		if (strcmp(a, "--netns") == 0) {
			netns = v;
		} else if (strcmp(a, "--listen") == 0) {
			listen_addr = v;
		} else if (strcmp(a, "--allow-domain") == 0 && pol.n_allow_domains < MAXN) {
			allow[pol.n_allow_domains++] = (char *)v;
		} else if (strcmp(a, "--deny-domain") == 0 && pol.n_deny_domains < MAXN) {
			deny[pol.n_deny_domains++] = (char *)v;
		} else if (strcmp(a, "--allow-port") == 0 && pol.n_allow_ports < MAXN) {
			ports[pol.n_allow_ports++] = (uint16_t)atoi(v);
		} else if (strcmp(a, "--allow-cidr") == 0 && pol.n_allow_cidr < MAXN) {
			char buf[64];
			char *slash;
			struct al_egress_cidr *c = &cidrs[pol.n_allow_cidr++];
			snprintf(buf, sizeof(buf), "%s", v);
			slash = strchr(buf, '/');
			if (slash == NULL)
				return 2;
			*slash = '\0';
			c->prefix = atoi(slash + 1);
			c->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
			if (inet_pton(c->family, buf, c->addr) != 1)
				return 2;
		} else if (strcmp(a, "--host") == 0 && pol.n_hosts < MAXN) {
			struct al_egress_host *h = &hosts[pol.n_hosts++];
			char *eq = strchr(v, '=');
			if (eq == NULL)
				return 2;
			h->name = strndup(v, (size_t)(eq - v));
			if (parse_addr(eq + 1, &h->addr, 0) < 0)
				return 2;
			h->addrlen = h->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in)
			                                          : sizeof(struct sockaddr_in6);
		} else if (strcmp(a, "--chaos-seed") == 0) {
			pol.chaos.enabled = true;
			pol.chaos.seed = strtoull(v, NULL, 0);
		} else if (strcmp(a, "--chaos-latency-ms") == 0) {
			pol.chaos.latency_ns = strtoull(v, NULL, 0) * 1000000ull;
		} else if (strcmp(a, "--chaos-jitter-ms") == 0) {
			pol.chaos.jitter_ns = strtoull(v, NULL, 0) * 1000000ull;
		} else if (strcmp(a, "--chaos-loss") == 0) {
			pol.chaos.loss = strtod(v, NULL);
		} else if (strcmp(a, "--chaos-reset") == 0) {
			pol.chaos.reset = strtod(v, NULL);
		} else if (strcmp(a, "--chaos-bandwidth") == 0) {
			pol.chaos.bandwidth = strtoull(v, NULL, 0);
		} else if (strcmp(a, "--resolver") == 0 && pol.n_resolvers < MAXN) {
			if (parse_addr(v, &resolvers[pol.n_resolvers++], 53) < 0)
				return 2;
		} else {
			fprintf(stderr, "egress_harness: bad argument %s\n", a);
			return 2;
		}
	}
	/* like the sandbox init: the listening sockets live in the sandbox's
	 * network namespace, the proxy connects out from ours */
	int self_ns = -1;
	if (netns != NULL) {
		int target = open(netns, O_RDONLY | O_CLOEXEC);
		self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (target < 0 || self_ns < 0 || setns(target, CLONE_NEWNET) < 0) {
			perror("egress_harness: setns");
			return 1;
		}
		close(target);
	}
	fds.http = listen_on(listen_addr, SOCK_STREAM, &p_http);
	fds.socks = listen_on(listen_addr, SOCK_STREAM, &p_socks);
	fds.dns_udp = listen_on(listen_addr, SOCK_DGRAM, &p_dns);
	fds.dns_tcp = listen_on(listen_addr, SOCK_STREAM, &p_dns_tcp);
	if (transparent)
		fds.transparent = listen_on(listen_addr, SOCK_STREAM, &p_tr);
	if (transparent6)
		fds.transparent6 = listen_on6(SOCK_STREAM, &p_tr6);
	if (fds.http < 0 || fds.socks < 0 || fds.dns_udp < 0 || fds.dns_tcp < 0 ||
	    (transparent && fds.transparent < 0) || (transparent6 && fds.transparent6 < 0)) {
		perror("egress_harness: listen");
		return 1;
	}
	if (self_ns >= 0 && setns(self_ns, CLONE_NEWNET) < 0) {
		perror("egress_harness: setns back");
		return 1;
	}
	if (al_egress_start(&pol, &fds, &pidfd, &pid, &report_fd, &err) < 0) {
		fprintf(stderr, "egress_harness: %s\n", err.msg);
		return 1;
	}
	/* the parent keeps no listening socket (as the supervisor) */
	close(fds.http);
	close(fds.socks);
	close(fds.dns_udp);
	close(fds.dns_tcp);
	if (fds.transparent >= 0)
		close(fds.transparent);
	if (fds.transparent6 >= 0)
		close(fds.transparent6);
	printf("{\"ready\":true,\"pid\":%d,\"http\":%u,\"socks\":%u,\"dns\":%u,\"dns_tcp\":%u,"
	       "\"transparent\":%u,\"transparent6\":%u}\n",
	       (int)pid, p_http, p_socks, p_dns, p_dns_tcp, p_tr, p_tr6);
	fflush(stdout);
	for (;;) {
		struct pollfd pf[3] = {{report_fd, POLLIN, 0}, {0, POLLIN, 0}, {pidfd, POLLIN, 0}};
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			struct al_net_report r;
			ssize_t n = recv(report_fd, &r, sizeof(r), 0);
			if (n == (ssize_t)sizeof(r)) {
				print_report(&r);
				continue;
			}
			if (n == 0)
				break;
		}
		if (pf[1].revents) {
			char buf[64];
			if (read(0, buf, sizeof(buf)) <= 0)
				break;
		}
		if (pf[2].revents)
			break;
	}
	/* drain what is left, then stop the proxy and tell how it ended */
	{
		struct al_net_report r;
		while (recv(report_fd, &r, sizeof(r), MSG_DONTWAIT) == (ssize_t)sizeof(r))
			print_report(&r);
	}
	int status = 0;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	free(canary_heap);
	printf("{\"exit\":true,\"signal\":%d,\"status\":%d}\n",
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
