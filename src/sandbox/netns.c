/* The sandbox's network namespace. Mode none: only the loopback interface,
 * up; there is no other interface and no route, so nothing can leave.
 * Mode proxy (docs/egress.md): additionally, while the init still holds
 * CAP_NET_ADMIN over the namespace, a default route into lo (so a connect
 * to any outside address reaches netfilter instead of failing with
 * ENETUNREACH), nftables rules that redirect every outgoing TCP connection
 * to the proxy's transparent port and drop everything else that is not
 * loopback TCP or DNS to the proxy, and the proxy's listening sockets,
 * created here so they live in this namespace and handed to the
 * supervisor, which gives them to the proxy process outside. */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/dlib.h"

/* libnftables (and libmnl, libnftnl, libxtables, libjansson, libgmp behind
 * it) is loaded only for a run in proxy mode, in the parent at plan time
 * (al_netns_prepare), so the init finds it mapped after clone and an absent
 * library stops the run before anything starts. Linked, it cost every run
 * six libraries to map and relocate. */
static __typeof__(nft_ctx_new) *sym_nft_ctx_new;
static __typeof__(nft_ctx_free) *sym_nft_ctx_free;
static __typeof__(nft_ctx_buffer_error) *sym_nft_ctx_buffer_error;
static __typeof__(nft_ctx_get_error_buffer) *sym_nft_ctx_get_error_buffer;
static __typeof__(nft_run_cmd_from_buffer) *sym_nft_run_cmd_from_buffer;

static const struct al_dl_sym nft_syms[] = {
    AL_DL_SYM_ENTRY(nft_ctx_new),
    AL_DL_SYM_ENTRY(nft_ctx_free),
    AL_DL_SYM_ENTRY(nft_ctx_buffer_error),
    AL_DL_SYM_ENTRY(nft_ctx_get_error_buffer),
    AL_DL_SYM_ENTRY(nft_run_cmd_from_buffer),
};

static int nft_load(struct al_error *err)
{
	static void *handle;
	return al_dl_load(&handle, "libnftables.so.1", "libnftables1", nft_syms,
	                  sizeof nft_syms / sizeof nft_syms[0], "network", err);
}

static int lo_up(struct al_error *err)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return al_error_errno(err, "network", "socket for configuring lo");
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		close(fd);
		return al_error_errno(err, "network", "reading lo flags");
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		close(fd);
		return al_error_errno(err, "network", "bringing lo up");
	}
	close(fd);
	return 0;
}

/* ---- proxy mode: precomputed in the parent ---------------------------- */

/* The ruleset, as nft(8) text. The sandbox's own loopback is 127.0.0.1 and
 * ::1 only: every other destination, the rest of 127.0.0.0/8 included, is
 * "outside" and redirected to the proxy (which refuses loopback addresses
 * unless allow_cidr names them -- and then reaches the host's, which is
 * how tests name their servers). The nat chain runs before the filter
 * chain (priority -100 < 0), so the filter sees redirected connections
 * with their new destination (127.0.0.1 / ::1, the transparent port) and
 * lets them through as loopback TCP. TCP to 127.0.0.1 / ::1 stays open
 * (the proxy's own ports, the workload's local servers -- Landlock governs
 * binding); UDP only to and from the proxy's DNS port; ICMP, other
 * protocols and anything not on lo: dropped (the sender sees EPERM). */
static const char nft_ruleset[] =
    "table inet airlock {\n"
    "  chain redirect_out {\n"
    "    type nat hook output priority -100; policy accept;\n"
    "    meta nfproto ipv4 ip daddr != 127.0.0.1 meta l4proto tcp redirect to :" AL_STR(AL_EGRESS_PORT_TRANSPARENT) "\n"
    "    meta nfproto ipv6 ip6 daddr != ::1 meta l4proto tcp redirect to :" AL_STR(AL_EGRESS_PORT_TRANSPARENT) "\n"
    "  }\n"
    "  chain filter_out {\n"
    "    type filter hook output priority 0; policy drop;\n"
    "    oifname \"lo\" ip daddr 127.0.0.1 meta l4proto tcp accept\n"
    "    oifname \"lo\" ip6 daddr ::1 meta l4proto tcp accept\n"
    "    oifname \"lo\" ip daddr 127.0.0.1 udp dport " AL_STR(AL_EGRESS_PORT_DNS) " accept\n"
    "    oifname \"lo\" ip saddr 127.0.0.1 ip daddr 127.0.0.1 udp sport " AL_STR(AL_EGRESS_PORT_DNS) " accept\n"
    "  }\n"
    "}\n";

int al_netns_prepare(struct al_sandbox_plan *plan, struct al_error *err)
{
	plan->egress = plan->spec->network.mode == AL_NET_PROXY;
	plan->nft_ruleset = plan->egress ? nft_ruleset : NULL;
	/* the init applies the rules after clone: the library is loaded now */
	if (plan->egress)
		return nft_load(err);
	return 0;
}

/* ---- proxy mode: in the child ------------------------------------------ */

/* One rtnetlink request, acknowledged. Stack only. */
static int rtnl_request(int fd, struct nlmsghdr *nh, const char *what, struct al_error *err)
{
	char buf[1024];
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	ssize_t n;

	if (sendto(fd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		return al_error_errno(err, "network", "%s", what);
	do
		n = recv(fd, buf, sizeof buf, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return al_error_errno(err, "network", "%s: reading the answer", what);
	struct nlmsghdr *ack = (struct nlmsghdr *)buf;
	if ((size_t)n < sizeof *ack + sizeof(struct nlmsgerr) || ack->nlmsg_type != NLMSG_ERROR)
		return al_error_set(err, EPROTO, "network", "%s: unexpected answer", what);
	struct nlmsgerr *e = NLMSG_DATA(ack);
	if (e->error != 0)
		return al_error_set(err, -e->error, "network", "%s: %s", what, strerror(-e->error));
	return 0;
}

static void rta_put(struct nlmsghdr *nh, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
	rta->rta_type = (unsigned short)type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* "ip route add default dev lo [src 127.0.0.1]": without a route, connect()
 * to an outside address fails with ENETUNREACH before netfilter sees it,
 * and the transparent path would catch nothing. The IPv4 source must be
 * given: lo's only address is host-scoped, and a redirected connection
 * without 127.0.0.1 as its source never completes. */
static int default_route_via_lo(int fd, int family, unsigned seq, struct al_error *err)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req;
	uint32_t oif = (uint32_t)if_nametoindex("lo");
	struct in_addr src = {htonl(INADDR_LOOPBACK)};

	if (oif == 0)
		oif = 1; /* lo is always ifindex 1 in a new namespace */
	memset(&req, 0, sizeof req);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.rt);
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	req.nh.nlmsg_seq = seq;
	req.rt.rtm_family = (unsigned char)family;
	req.rt.rtm_table = RT_TABLE_MAIN;
	req.rt.rtm_protocol = RTPROT_BOOT;
	req.rt.rtm_scope = RT_SCOPE_LINK;
	req.rt.rtm_type = RTN_UNICAST;
	rta_put(&req.nh, RTA_OIF, &oif, sizeof oif);
	if (family == AF_INET)
		rta_put(&req.nh, RTA_PREFSRC, &src, sizeof src);
	return rtnl_request(fd, &req.nh,
			    family == AF_INET ? "adding the IPv4 default route into lo"
					      : "adding the IPv6 default route into lo",
			    err);
}

/* *v6: false on a kernel without IPv6 (ipv6.disable=1): then there is no
 * IPv6 to leave by either, and its route and socket are left out. */
static int routes(bool *v6, struct al_error *err)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int r;

	if (fd < 0)
		return al_error_errno(err, "network", "rtnetlink socket");
	r = default_route_via_lo(fd, AF_INET, 1, err);
	*v6 = true;
	if (r == 0) {
		r = default_route_via_lo(fd, AF_INET6, 2, err);
		if (r == -EAFNOSUPPORT) {
			*v6 = false;
			r = 0;
		}
	}
	close(fd);
	return r;
}

/* libnftables allocates, which the init otherwise never does after clone
 * (STYLE.md). It is safe here: the supervisor is single-threaded when it
 * clones, so no lock in the copied heap can be held by a thread that does
 * not exist in the child, and nothing of the workload runs yet. The
 * alternative -- hand-built nf_tables netlink batches -- would be a few
 * hundred lines of expression encoding to keep in step with the kernel;
 * libnftables is made for this (DESIGN.md). Only the text is precomputed. */
static int nft_apply(const char *ruleset, struct al_error *err)
{
	struct nft_ctx *nft;
	int r;

	if (sym_nft_ctx_new == NULL) /* al_netns_prepare loads it; never skipped */
		return al_error_set(err, ENOENT, "network", "libnftables was not loaded");
	nft = sym_nft_ctx_new(NFT_CTX_DEFAULT);
	if (nft == NULL)
		return al_error_set(err, ENOMEM, "network", "creating the nftables context");
	if (sym_nft_ctx_buffer_error(nft) != 0) {
		sym_nft_ctx_free(nft);
		return al_error_set(err, ENOMEM, "network", "nftables error buffer");
	}
	r = sym_nft_run_cmd_from_buffer(nft, ruleset);
	if (r != 0) {
		const char *msg = sym_nft_ctx_get_error_buffer(nft);
		size_t len = msg ? strcspn(msg, "\n") : 0;
		al_error_set(err, EPERM, "network", "installing the egress nftables rules: %.*s",
			     (int)(len > 160 ? 160 : len), msg ? msg : "");
		sym_nft_ctx_free(nft);
		return -EPERM;
	}
	sym_nft_ctx_free(nft);
	return 0;
}

static int egress_socket(int family, int type, const char *addr, uint16_t port, int *out,
			 struct al_error *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(&ss, 0, sizeof ss);
	if (fd < 0)
		return al_error_errno(err, "network", "socket for the egress proxy at %s:%u", addr, port);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		len = sizeof *sin6;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return al_error_errno(err, "network", "listening at %s:%u for the egress proxy", addr,
				      port);
	}
	*out = fd;
	return 0;
}

/* The proxy's sockets, in the order of enum al_egress_socket. Ports below
 * 1024 need CAP_NET_BIND_SERVICE over this namespace: the init still has
 * it here, the workload never will, so it cannot take a port first. */
static int egress_sockets(int fds[AL_EGRESS_NFDS], bool v6, struct al_error *err)
{
	static const struct {
		int family, type;
		const char *addr;
		uint16_t port;
	} socks[AL_EGRESS_NFDS] = {
	    [AL_EGRESS_HTTP] = {AF_INET, SOCK_STREAM, "127.0.0.1", AL_EGRESS_PORT_HTTP},
	    [AL_EGRESS_SOCKS] = {AF_INET, SOCK_STREAM, "127.0.0.1", AL_EGRESS_PORT_SOCKS},
	    [AL_EGRESS_TRANSPARENT] = {AF_INET, SOCK_STREAM, "127.0.0.1", AL_EGRESS_PORT_TRANSPARENT},
	    [AL_EGRESS_TRANSPARENT6] = {AF_INET6, SOCK_STREAM, "::1", AL_EGRESS_PORT_TRANSPARENT},
	    [AL_EGRESS_DNS_UDP] = {AF_INET, SOCK_DGRAM, "127.0.0.1", AL_EGRESS_PORT_DNS},
	    [AL_EGRESS_DNS_TCP] = {AF_INET, SOCK_STREAM, "127.0.0.1", AL_EGRESS_PORT_DNS},
	};
	for (int i = 0; i < AL_EGRESS_NFDS; i++) {
		if (socks[i].family == AF_INET6 && !v6)
			continue;
		int r = egress_socket(socks[i].family, socks[i].type, socks[i].addr, socks[i].port,
				      &fds[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int al_netns_child_setup(const struct al_sandbox_plan *plan, int egress_fds[AL_EGRESS_NFDS],
			 struct al_error *err)
{
	int r = lo_up(err);
	bool v6 = true;

	if (r < 0 || !plan->egress)
		return r;
	r = routes(&v6, err);
	if (r == 0)
		r = nft_apply(plan->nft_ruleset, err);
	if (r == 0)
		r = egress_sockets(egress_fds, v6, err);
	return r;
}
