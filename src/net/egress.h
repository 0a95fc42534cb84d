/* The egress proxy's interface to the rest of airlock: the policy the
 * supervisor builds from the spec, the listening sockets created inside the
 * sandbox's network namespace, the call that forks the confined proxy
 * process, and the fixed-size reports it sends back (docs/egress.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util/error.h"

/* kept in the layout of the agreed interface text */
/* clang-format off */

/* policy, built by netplumb from the spec, consumed by the proxy (copied into
 * the proxy process by fork) */
struct al_egress_host { /* hosts: static name -> address; the port in addr is ignored.
                          * A hosts entry does not allow its name: allow_domains decides. */
	char *name;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};
struct al_egress_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix;
};
struct al_egress_policy {
	char **allow_domains; size_t n_allow_domains;   /* exact names or "*.suffix" */
	char **deny_domains;  size_t n_deny_domains;
	uint16_t *allow_ports; size_t n_allow_ports;    /* default {80, 443} */
	struct al_egress_cidr *allow_cidr; size_t n_allow_cidr;
	struct al_egress_host *hosts; size_t n_hosts;   /* static name -> address */
	struct sockaddr_storage *resolvers; size_t n_resolvers; /* upstream DNS; netplumb fills
	                                          from spec or the host's resolv.conf (parsed in the
	                                          supervisor, before the proxy is confined);
	                                          port 0 means 53 */
	/* chaos (network), optional: seed, latency_ns, jitter_ns, loss, reset, bandwidth (bytes/s) */
	struct { bool enabled; uint64_t seed; uint64_t latency_ns, jitter_ns; double loss, reset;
	         uint64_t bandwidth; } chaos;
	/* canary tokens (src/monitor/exfil.c, exfil_http.c): plain-HTTP request heads holding
	 * one, in any disguise, are refused, and bodies and other non-TLS client bytes are
	 * searched before they are sent (a hit cuts the connection); reported as
	 * AL_NET_EXFIL; optional (none: every relay stays zero-copy) */
	char **exfil_tokens; size_t n_exfil_tokens;
};

/* The listening sockets, created by the sandbox init INSIDE the sandbox's network namespace
 * (before it drops privileges), passed to the supervisor over the existing setup socket with
 * SCM_RIGHTS, then to the proxy. -1 = not used. All are nonblocking, CLOEXEC, already listening
 * (TCP) / bound (UDP). Addresses inside the sandbox: */
struct al_egress_fds {
	int http;         /* TCP 127.0.0.1:3128  — HTTP CONNECT + absolute-form forwarding (HTTP_PROXY/HTTPS_PROXY) */
	int socks;        /* TCP 127.0.0.1:1080  — SOCKS5 (ALL_PROXY=socks5h://127.0.0.1:1080) */
	int transparent;  /* TCP 127.0.0.1:3129 (and [::1]:3129 as transparent6) — nft redirects every
	                     other outgoing TCP connection here; original dst via SO_ORIGINAL_DST /
	                     IP6T_SO_ORIGINAL_DST */
	int transparent6;
	int dns_udp;      /* UDP 127.0.0.1:53 */
	int dns_tcp;      /* TCP 127.0.0.1:53 */
};

/* Fork the proxy process. The child keeps only the listening fds and its end of a
 * SOCK_SEQPACKET|SOCK_CLOEXEC report socketpair (everything else closed with close_range), sets
 * PR_SET_PDEATHSIG(SIGKILL), confines itself (its own seccomp allowlist: no open/openat/exec,
 * no fork; Landlock with no fs rights where available; no_new_privs; rlimits: RLIMIT_NOFILE sized
 * for thousands of connections, RLIMIT_CORE 0), then runs its epoll loop until the report socket
 * closes (supervisor gone) or SIGTERM. The parent gets the child's pidfd and its end of the
 * report socket. The caller's fds in *fds stay open in the parent (the caller closes them). */
int al_egress_start(const struct al_egress_policy *pol, const struct al_egress_fds *fds,
                    int *pidfd_out, pid_t *pid_out, int *report_fd_out, struct al_error *err);

/* The forked child re-executes the running binary (/proc/self/exe) with
 * argv[0] = AL_EGRESS_ARGV0, an empty environment, the fds on fixed numbers
 * and the policy in a memfd, so that the proxy starts from a fresh address
 * space holding none of the supervisor's memory (log signing keys above
 * all). Every program that calls al_egress_start must therefore begin its
 * main() with:
 *     if (al_egress_is_proxy_argv(argc, argv)) return al_egress_proxy_main();
 * al_egress_proxy_main confines the process and runs the proxy; it does not
 * return. */
#define AL_EGRESS_ARGV0 "airlock-egress-proxy"
bool al_egress_is_proxy_argv(int argc, char **argv);
int al_egress_proxy_main(void) __attribute__((noreturn));

/* Reports: one fixed-size binary struct per SEQPACKET message (no parsing on the supervisor side
 * beyond a size check and NUL-termination checks: the proxy parses hostile bytes and may be
 * compromised, so the supervisor trusts nothing in a report but its shape, and escapes every
 * string when it writes the record). */
enum al_net_report_kind { AL_NET_DNS = 1, AL_NET_CONNECT, AL_NET_CLOSE, AL_NET_CHAOS, AL_NET_ERROR,
                          AL_NET_EXFIL /* reason: "token N VARIANT WHERE" */ };
struct al_net_report {
	uint32_t kind;          /* al_net_report_kind */
	uint32_t conn_id;       /* per-connection id, to pair CONNECT and CLOSE */
	uint64_t mono_ns;       /* when it happened (CLOCK_MONOTONIC) */
	char proto[16];         /* "http", "https-connect", "socks5", "transparent", "dns-udp", "dns-tcp" */
	char name[256];         /* requested name (DNS qname, CONNECT/SOCKS/Host name) */
	char sni[256];          /* TLS SNI or HTTP Host seen, "" if none */
	char qtype[8];          /* DNS: "A", "AAAA", other as "TYPE65" */
	char addr[64];          /* resolved/connected address as text ("" if none) */
	uint16_t port;
	uint8_t allowed;        /* 1 allowed, 0 refused */
	char reason[128];       /* why refused / what was wrong ("not in allow_domains", "private address", "sni-mismatch", "malformed-request" ...) */
	char answer[256];       /* DNS: answers as text, comma-separated, or "NXDOMAIN" */
	uint64_t bytes_up, bytes_down, duration_ns;  /* CLOSE */
	char chaos[64];         /* CHAOS: what was injected ("latency 52ms", "reset", "drop") */
};

/* Both ends are the same binary; the size check on receipt is against this. */
_Static_assert(sizeof(struct al_net_report) == 1096, "al_net_report layout changed");

/* clang-format on */
