/* probe: a small static program placed inside a sandbox by the integration
 * tests. Each subcommand tries one thing (often a forbidden one) and prints a
 * single JSON line saying what happened: {"cmd":..,"ok":true,...} or
 * {"cmd":..,"ok":false,"errno":"EACCES"}. Several commands can be chained
 * with "," as a separate argument: `probe read /a , stat /b`. Any argument of
 * the form --marker=X is ignored: tests put a unique marker into argv to find
 * the sandbox's processes from the host.
 *
 * Deliberately plain C over static glibc: no NSS (getpwnam, getaddrinfo), no
 * dependency on the sandbox image. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <stddef.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- a tiny JSON line writer on stdout ---- */

static int j_depth;
static int j_first[16];

static void j_sep(void)
{
	if (!j_first[j_depth])
		putchar(',');
	j_first[j_depth] = 0;
}

static void j_escape(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c); /* bytes, not UTF-8: reader sees latin-1 */
		else
			putchar(c);
	}
	putchar('"');
}

static void j_key(const char *k)
{
	j_sep();
	if (k) {
		j_escape(k, strlen(k));
		putchar(':');
	}
}

static void j_open(const char *k, char c)
{
	j_key(k);
	putchar(c);
	j_first[++j_depth] = 1;
}

static void j_close(char c)
{
	putchar(c);
	j_depth--;
}

static void j_str(const char *k, const char *v)
{
	j_key(k);
	if (v)
		j_escape(v, strlen(v));
	else
		fputs("null", stdout);
}

static void j_strn(const char *k, const char *v, size_t n)
{
	j_key(k);
	j_escape(v, n);
}

static void j_int(const char *k, long long v)
{
	j_key(k);
	printf("%lld", v);
}

static void j_bool(const char *k, int v)
{
	j_key(k);
	fputs(v ? "true" : "false", stdout);
}

static void j_begin(const char *cmd)
{
	j_depth = 0;
	j_first[0] = 1;
	putchar('{');
	j_str("cmd", cmd);
}

static void j_end(void)
{
	fputs("}\n", stdout);
	fflush(stdout);
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

/* ok:false + errno name; the caller then j_end()s */
static void j_err(const char *what, int e)
{
	j_bool("ok", 0);
	j_str("errno", errname(e));
	if (what)
		j_str("op", what);
}

/* Read a whole (small) file into buf; returns length or -errno. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0;
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0 || len + (size_t)n >= cap - 1) {
			len += (size_t)n;
			break;
		}
		len += (size_t)n;
	}
	buf[len] = 0;
	close(fd);
	return (ssize_t)len;
}

static char big[1 << 16];

/* ---- commands; each returns an exit status contribution (0 normally) ---- */

static int c_read(char **a)
{
	ssize_t n = slurp(a[0], big, sizeof big);
	j_str("path", a[0]);
	if (n < 0)
		j_err("open/read", (int)-n);
	else {
		j_bool("ok", 1);
		j_int("size", n);
		j_strn("data", big, (size_t)n);
	}
	return 0;
}

static int c_write(char **a)
{
	const char *data = a[1] ? a[1] : "probe";
	int fd = open(a[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	j_str("path", a[0]);
	if (fd < 0) {
		j_err("open", errno);
		return 0;
	}
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data)) {
		j_err("write", errno);
		close(fd);
		return 0;
	}
	if (close(fd) < 0) {
		j_err("close", errno);
		return 0;
	}
	j_bool("ok", 1);
	return 0;
}

static int c_mkdir(char **a)
{
	j_str("path", a[0]);
	if (mkdir(a[0], 0755) < 0)
		j_err("mkdir", errno);
	else
		j_bool("ok", 1);
	return 0;
}

static int c_rm(char **a)
{
	j_str("path", a[0]);
	if (unlink(a[0]) < 0 && (errno != EISDIR || rmdir(a[0]) < 0))
		j_err("unlink", errno);
	else
		j_bool("ok", 1);
	return 0;
}

static int c_mkfifo(char **a)
{
	j_str("path", a[0]);
	if (mkfifo(a[0], 0666) < 0)
		j_err("mkfifo", errno);
	else
		j_bool("ok", 1);
	return 0;
}

static int c_chmod(char **a)
{
	j_str("path", a[1]);
	if (chmod(a[1], (mode_t)strtoul(a[0], NULL, 8)) < 0)
		j_err("chmod", errno);
	else
		j_bool("ok", 1);
	return 0;
}

static int c_rename(char **a)
{
	j_str("path", a[0]);
	j_str("to", a[1]);
	if (rename(a[0], a[1]) < 0)
		j_err("rename", errno);
	else
		j_bool("ok", 1);
	return 0;
}

static int c_symlink(char **a)
{
	j_str("target", a[0]);
	j_str("path", a[1]);
	if (symlink(a[0], a[1]) < 0)
		j_err("symlink", errno);
	else
		j_bool("ok", 1);
	return 0;
}

static int c_ls(char **a)
{
	DIR *d = opendir(a[0]);
	struct dirent *e;
	j_str("path", a[0]);
	if (!d) {
		j_err("opendir", errno);
		return 0;
	}
	j_bool("ok", 1);
	j_open("entries", '[');
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			j_str(NULL, e->d_name);
	j_close(']');
	closedir(d);
	return 0;
}

static const char *ftype(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" :
	       S_ISCHR(m) ? "char" : S_ISBLK(m) ? "block" : S_ISFIFO(m) ? "fifo" :
	       S_ISSOCK(m) ? "socket" : "?";
}

static int c_stat(char **a)
{
	struct stat st;
	j_str("path", a[0]);
	if (lstat(a[0], &st) < 0) {
		j_err("lstat", errno);
		return 0;
	}
	j_bool("ok", 1);
	j_str("type", ftype(st.st_mode));
	j_int("mode", st.st_mode & 07777);
	j_int("uid", st.st_uid);
	j_int("gid", st.st_gid);
	j_int("size", st.st_size);
	j_int("dev", (long long)st.st_dev);
	j_int("ino", (long long)st.st_ino);
	return 0;
}

static int c_readlink(char **a)
{
	char buf[4096];
	ssize_t n = readlink(a[0], buf, sizeof buf - 1);
	j_str("path", a[0]);
	if (n < 0)
		j_err("readlink", errno);
	else {
		j_bool("ok", 1);
		j_strn("target", buf, (size_t)n);
	}
	return 0;
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof *s4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof *s6;
		return 0;
	}
	return -1;
}

/* TCP connect with a 3 s timeout: reports ok or the errno (ECONNREFUSED,
 * ENETUNREACH, ETIMEDOUT...). */
static int c_connect(char **a)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int port = atoi(a[1]), fd, e = 0;

	j_str("host", a[0]);
	j_int("port", port);
	if (parse_addr(a[0], port, &ss, &sl) < 0) {
		j_err("inet_pton", EINVAL);
		return 0;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		j_err("socket", errno);
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		if (errno != EINPROGRESS) {
			e = errno;
		} else {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int r = poll(&p, 1, 3000);
			socklen_t el = sizeof e;
			if (r == 0)
				e = ETIMEDOUT;
			else if (r < 0)
				e = errno;
			else
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		}
	}
	if (e)
		j_err("connect", e);
	else {
		char got[64] = "";
		j_bool("ok", 1);
		/* read what the listener sends (tests make it send a token) */
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 1000) > 0) {
			ssize_t n = read(fd, got, sizeof got - 1);
			if (n > 0)
				j_strn("received", got, (size_t)n);
		}
	}
	close(fd);
	return 0;
}

/* One UDP datagram (TEXT) to HOST PORT. Landlock does not cover UDP, so
 * this tests the network namespace alone. */
static int c_udp_send(char **a)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;
	j_str("host", a[0]);
	j_int("port", atoi(a[1]));
	if (parse_addr(a[0], atoi(a[1]), &ss, &sl) < 0) {
		j_err("inet_pton", EINVAL);
		return 0;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		j_err("socket", errno);
		return 0;
	}
	if (sendto(fd, a[2], strlen(a[2]), 0, (struct sockaddr *)&ss, sl) < 0)
		j_err("sendto", errno);
	else
		j_bool("ok", 1);
	close(fd);
	return 0;
}

/* UDP to itself over the sandbox's own 127.0.0.1: proves lo works. */
static int c_udp_self(char **a)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	char buf[16] = "";
	struct pollfd p;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		j_err("socket", errno);
		return 0;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		j_err("bind", errno);
		close(fd);
		return 0;
	}
	if (sendto(fd, "loop", 4, 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
		j_err("sendto", errno);
		close(fd);
		return 0;
	}
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 2000) <= 0 || recv(fd, buf, sizeof buf - 1, 0) != 4) {
		j_err("recv", errno ? errno : ETIMEDOUT);
		close(fd);
		return 0;
	}
	j_bool("ok", 1);
	j_str("received", buf);
	close(fd);
	return 0;
}

/* Connect to a unix socket: a path, or @name for the abstract namespace
 * (which belongs to the network namespace). */
static int c_unix_connect(char **a)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	size_t n = strlen(a[0]);
	socklen_t sl;
	int fd;
	j_str("path", a[0]);
	if (n >= sizeof su.sun_path) {
		j_err("path", ENAMETOOLONG);
		return 0;
	}
	memcpy(su.sun_path, a[0], n);
	if (a[0][0] == '@')
		su.sun_path[0] = 0;
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		j_err("socket", errno);
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&su, sl) < 0)
		j_err("connect", errno);
	else
		j_bool("ok", 1);
	close(fd);
	return 0;
}

/* Interfaces, two ways: /proc/net/dev (this netns) and the ioctl view. */
static int c_ifaces(char **a)
{
	ssize_t n = slurp("/proc/net/dev", big, sizeof big);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct if_nameindex *ni, *p;

	errno = 0;
	ni = if_nameindex();
	j_bool("ok", n >= 0);
	j_open("interfaces", '[');
	if (n >= 0) {
		char *save = NULL, *line = strtok_r(big, "\n", &save);
		for (int i = 0; line; line = strtok_r(NULL, "\n", &save), i++) {
			char *colon = strchr(line, ':'), *name = line;
			struct ifreq ifr = {0};
			if (i < 2 || !colon)
				continue; /* two header lines */
			*colon = 0;
			while (*name == ' ')
				name++;
			j_open(NULL, '{');
			j_str("name", name);
			snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
			if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
				j_bool("up", !!(ifr.ifr_flags & IFF_UP));
				j_bool("running", !!(ifr.ifr_flags & IFF_RUNNING));
				j_bool("loopback", !!(ifr.ifr_flags & IFF_LOOPBACK));
			}
			j_close('}');
		}
	} else {
		j_str("errno", errname((int)-n));
	}
	j_close(']');
	if (ni) {
		j_open("nameindex", '[');
		for (p = ni; p->if_name; p++)
			j_str(NULL, p->if_name);
		j_close(']');
	} else {
		j_str("nameindex_errno", errname(errno)); /* it needs netlink */
	}
	if (ni)
		if_freenameindex(ni);
	if (s >= 0)
		close(s);
	return 0;
}

/* Routes in the main tables (lo's local routes live in the local table). */
static int c_routes(char **a)
{
	static const char *files[] = {"/proc/net/route", "/proc/net/ipv6_route"};
	j_bool("ok", 1);
	for (int f = 0; f < 2; f++) {
		ssize_t n = slurp(files[f], big, sizeof big);
		j_open(f ? "ipv6" : "ipv4", '[');
		if (n > 0) {
			char *save = NULL, *line = strtok_r(big, "\n", &save);
			for (int i = 0; line; line = strtok_r(NULL, "\n", &save), i++)
				if (f == 1 || i > 0) /* ipv4 has a header line */
					j_str(NULL, line);
		}
		j_close(']');
	}
	return 0;
}

static int c_status(char **a)
{
	static const char *keys[] = {"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff",
				     "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
				     "Seccomp_filters", "NSpid", NULL};
	ssize_t n = slurp("/proc/self/status", big, sizeof big);
	if (n < 0) {
		j_err("read /proc/self/status", (int)-n);
		return 0;
	}
	j_bool("ok", 1);
	for (char *save = NULL, *line = strtok_r(big, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		for (int i = 0; keys[i]; i++)
			if (strcmp(line, keys[i]) == 0) {
				char *v = colon + 1;
				while (*v == ' ' || *v == '\t')
					v++;
				j_str(line, v);
			}
	}
	j_int("uid", getuid());
	j_int("euid", geteuid());
	j_int("gid", getgid());
	j_int("egid", getegid());
	j_int("pid", getpid());
	j_int("ppid", getppid());
	j_int("sid", getsid(0));
	j_int("pgid", getpgrp());
	return 0;
}

static int c_fds(char **a)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d) {
		j_err("opendir /proc/self/fd", errno);
		return 0;
	}
	j_bool("ok", 1);
	j_int("own_dirfd", dirfd(d)); /* the fd this listing itself uses */
	j_open("fds", '[');
	while ((e = readdir(d))) {
		char p[64], t[4096];
		ssize_t n;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
		n = readlink(p, t, sizeof t - 1);
		j_open(NULL, '{');
		j_int("fd", atoi(e->d_name));
		if (n >= 0)
			j_strn("target", t, (size_t)n);
		j_close('}');
	}
	j_close(']');
	closedir(d);
	return 0;
}

static int c_env(char **a)
{
	j_bool("ok", 1);
	j_open("env", '[');
	for (char **e = environ; *e; e++)
		j_str(NULL, *e);
	j_close(']');
	return 0;
}

static int c_cwd(char **a)
{
	char buf[4096];
	if (!getcwd(buf, sizeof buf))
		j_err("getcwd", errno);
	else {
		j_bool("ok", 1);
		j_str("cwd", buf);
	}
	return 0;
}

static int c_hostname(char **a)
{
	struct utsname u;
	uname(&u);
	j_bool("ok", 1);
	j_str("nodename", u.nodename);
	j_str("domainname", u.domainname);
	return 0;
}

/* Every process visible in /proc, with its comm and cmdline. */
static int c_pids(char **a)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	if (!d) {
		j_err("opendir /proc", errno);
		return 0;
	}
	j_bool("ok", 1);
	j_int("self", getpid());
	j_open("pids", '[');
	while ((e = readdir(d))) {
		char p[300], buf[1024];
		ssize_t n;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		j_open(NULL, '{');
		j_int("pid", atoi(e->d_name));
		snprintf(p, sizeof p, "/proc/%s/comm", e->d_name);
		n = slurp(p, buf, sizeof buf);
		if (n > 0)
			j_strn("comm", buf, (size_t)n - (buf[n - 1] == '\n'));
		snprintf(p, sizeof p, "/proc/%s/cmdline", e->d_name);
		n = slurp(p, buf, sizeof buf);
		if (n >= 0) {
			for (ssize_t i = 0; i < n; i++)
				if (!buf[i])
					buf[i] = ' ';
			j_strn("cmdline", buf, (size_t)n);
		}
		j_close('}');
	}
	j_close(']');
	closedir(d);
	return 0;
}

static int c_kill_pid(char **a)
{
	int pid = atoi(a[0]), sig = a[1] ? atoi(a[1]) : 0;
	j_int("pid", pid);
	j_int("sig", sig);
	if (kill(pid, sig) < 0)
		j_err("kill", errno);
	else
		j_bool("ok", 1);
	return 0;
}

/* Write a sysctl's own current value back to it: harmless if it works, and
 * working at all means the sandbox can change the host kernel. */
static int c_sysctl_write(char **a)
{
	const char *path = a[0] ? a[0] : "/proc/sys/kernel/printk_ratelimit";
	char cur[256];
	ssize_t n = slurp(path, cur, sizeof cur);
	int fd;
	j_str("path", path);
	if (n <= 0) {
		j_err("read", n < 0 ? (int)-n : EIO);
		return 0;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		j_err("open", errno);
		return 0;
	}
	if (write(fd, cur, (size_t)n) < 0) {
		j_err("write", errno);
		close(fd);
		return 0;
	}
	close(fd);
	j_bool("ok", 1);
	return 0;
}

/* Read /proc/PID/REL for every visible pid (REL: "environ", "root/etc/x"...). */
static int c_proc_all(char **a)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int any_ok = 0;
	if (!d) {
		j_err("opendir /proc", errno);
		return 0;
	}
	j_open("tries", '[');
	while ((e = readdir(d))) {
		char p[4200];
		ssize_t n;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof p, "/proc/%s/%s", e->d_name, a[0]);
		n = slurp(p, big, sizeof big);
		j_open(NULL, '{');
		j_str("path", p);
		if (n >= 0) {
			any_ok = 1;
			j_bool("ok", 1);
			j_strn("data", big, (size_t)n);
		} else {
			j_bool("ok", 0);
			j_str("errno", errname((int)-n));
		}
		j_close('}');
	}
	j_close(']');
	closedir(d);
	j_bool("ok", any_ok);
	return 0;
}

/* Hostile workloads ignore polite termination requests. */
static int c_ignore_signals(char **a)
{
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	j_bool("ok", 1);
	return 0;
}

static int c_cat(char **a)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, (size_t)(n - off));
			if (w < 0)
				return 1;
			off += w;
		}
	return n < 0;
}

/* N deterministic pseudo-random bytes (xorshift64 from SEED) to FD. */
static int c_emit_binary(char **a)
{
	long long total = atoll(a[0]);
	uint64_t x = a[1] ? strtoull(a[1], NULL, 10) : 1;
	int fd = a[1] && a[2] ? atoi(a[2]) : 1;
	unsigned char buf[8192];
	if (!x)
		x = 1;
	while (total > 0) {
		size_t n = total < (long long)sizeof buf ? (size_t)total : sizeof buf;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (unsigned char)x;
		}
		for (size_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w < 0)
				return 1;
			off += (size_t)w;
		}
		total -= (long long)n;
	}
	return 0;
}

static int c_signal(char **a)
{
	int sig = atoi(a[0]);
	signal(sig, SIG_DFL);
	fflush(stdout);
	raise(sig);
	return 99; /* not reached for fatal signals */
}

static int c_sleep(char **a)
{
	double s = atof(a[0]);
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

/* Double fork + setsid: the grandchild ignores the usual signals and keeps
 * appending "pid count\n" to FILE every 100 ms, forever. Used to prove that
 * it does not outlive the run. */
static int c_daemonize(char **a)
{
	int pfd[2];
	pid_t c;
	if (pipe(pfd) < 0) {
		j_err("pipe", errno);
		return 0;
	}
	c = fork();
	if (c < 0) {
		j_err("fork", errno);
		return 0;
	}
	if (c == 0) {
		pid_t g;
		setsid();
		g = fork();
		if (g != 0) {
			if (g > 0 && write(pfd[1], &g, sizeof g) < 0)
				_exit(1);
			_exit(0);
		}
		signal(SIGHUP, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		close(pfd[0]);
		close(pfd[1]);
		int dn = open("/dev/null", O_RDWR);
		if (dn >= 0) {
			dup2(dn, 0);
			dup2(dn, 1);
			dup2(dn, 2);
		}
		for (long i = 0;; i++) {
			int fd = open(a[0], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
			if (fd >= 0) {
				char line[64];
				int l = snprintf(line, sizeof line, "%d %ld\n", getpid(), i);
				if (write(fd, line, (size_t)l) < 0)
					i--; /* keep trying: the point is to persist */
				close(fd);
			}
			usleep(100000);
		}
	}
	close(pfd[1]);
	pid_t g = -1;
	if (read(pfd[0], &g, sizeof g) != sizeof g)
		g = -1;
	close(pfd[0]);
	waitpid(c, NULL, 0);
	j_bool("ok", g > 0);
	j_int("daemon_pid", g);
	j_str("file", a[0]);
	return 0;
}

static int c_spin(char **a)
{
	for (volatile unsigned long i = 0;; i++)
		;
	return 0;
}

/* Terminal facts: which fds are ttys, is there a controlling tty, can we
 * inject input with TIOCSTI. */
static int c_tty(char **a)
{
	int fd;
	j_bool("ok", 1);
	for (int i = 0; i < 3; i++) {
		char k[16], name[256];
		snprintf(k, sizeof k, "isatty%d", i);
		j_bool(k, isatty(i));
		if (ttyname_r(i, name, sizeof name) == 0) {
			snprintf(k, sizeof k, "ttyname%d", i);
			j_str(k, name);
		}
	}
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	j_bool("ctty", fd >= 0);
	if (fd < 0)
		j_str("ctty_errno", errname(errno));
	j_int("sid", getsid(0));
	j_int("pid", getpid());
	j_open("tiocsti", '[');
	for (int i = 0; i < 4; i++) {
		int t = i < 3 ? i : fd;
		char c = ' ';
		if (t < 0)
			continue;
		j_open(NULL, '{');
		j_int("fd", i < 3 ? i : -1);
		if (ioctl(t, TIOCSTI, &c) < 0)
			j_str("errno", errname(errno));
		else
			j_bool("injected", 1);
		j_close('}');
	}
	j_close(']');
	if (fd >= 0)
		close(fd);
	return 0;
}

static int c_exit(char **a)
{
	fflush(stdout);
	_exit(atoi(a[0]));
}

static int c_echo(char **a)
{
	j_bool("ok", 1);
	j_str("text", a[0]);
	return 0;
}

/* ---- chaos: repeated calls, each one's errno (0: it succeeded) ---- */

static char errlist[65536];

static void errlist_add(size_t *len, int e)
{
	if (*len + 8 < sizeof errlist)
		*len += (size_t)snprintf(errlist + *len, sizeof errlist - *len, "%s%d", *len ? " " : "", e);
}

static long count_arg(const char *s)
{
	long n = strtol(s, NULL, 10);
	return n < 0 ? 0 : n > 10000000 ? 10000000 : n;
}

static int c_repeat_open(char **a)
{
	long n = count_arg(a[1]);
	size_t len = 0;

	for (long i = 0; i < n; i++) {
		int fd = openat(AT_FDCWD, a[0], O_RDONLY | O_CLOEXEC);
		errlist_add(&len, fd < 0 ? errno : 0);
		if (fd >= 0)
			close(fd);
	}
	j_bool("ok", 1);
	j_str("errnos", errlist);
	return 0;
}

static int c_repeat_write(char **a)
{
	long n = count_arg(a[0]);
	size_t len = 0;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0) {
		j_err("open /dev/null", errno);
		return 0;
	}
	for (long i = 0; i < n; i++)
		errlist_add(&len, write(fd, "x", 1) == 1 ? 0 : errno);
	close(fd);
	j_bool("ok", 1);
	j_str("errnos", errlist);
	return 0;
}

static int c_repeat_connect(char **a)
{
	long n = count_arg(a[2]);
	size_t len = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(a[1]))};

	inet_pton(AF_INET, a[0], &sa.sin_addr);
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			errlist_add(&len, 1000 + errno);
			continue;
		}
		errlist_add(&len, connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : errno);
		close(fd);
	}
	j_bool("ok", 1);
	j_str("errnos", errlist);
	return 0;
}

static long long ts_ns(clockid_t c, int raw)
{
	struct timespec t;
	if (raw)
		syscall(SYS_clock_gettime, c, &t);
	else
		clock_gettime(c, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The clocks as the workload sees them, through the vDSO and the real syscall. */
static int c_clock(char **a)
{
	(void)a;
	j_bool("ok", 1);
	j_int("monotonic_ns", ts_ns(CLOCK_MONOTONIC, 0));
	j_int("boottime_ns", ts_ns(CLOCK_BOOTTIME, 0));
	j_int("realtime_ns", ts_ns(CLOCK_REALTIME, 0));
	j_int("monotonic_raw_syscall_ns", ts_ns(CLOCK_MONOTONIC, 1));
	j_int("realtime_raw_syscall_ns", ts_ns(CLOCK_REALTIME, 1));
	{
		struct timeval tv;
		long long t = -1;
		syscall(SYS_gettimeofday, &tv, NULL);
		j_int("gettimeofday_raw_syscall_us", (long long)tv.tv_sec * 1000000LL + tv.tv_usec);
		syscall(SYS_time, &t);
		j_int("time_raw_syscall_s", (long long)syscall(SYS_time, NULL));
		j_int("time_raw_syscall_tloc_s", t);
		/* hostile addresses: unmapped, and a kernel address */
		errno = 0;
		j_int("realtime_raw_badaddr_errno",
		      syscall(SYS_clock_gettime, CLOCK_REALTIME, (void *)8) < 0 ? errno : 0);
		errno = 0;
		j_int("realtime_raw_kernaddr_errno",
		      syscall(SYS_clock_gettime, CLOCK_REALTIME, (void *)0xffffffffff600000ull) < 0 ? errno : 0);
	}
	return 0;
}

/* Write BYTES zero bytes to PATH (created). */
static int c_fill(char **a)
{
	static char zeros[65536];
	long long left = strtoll(a[1], NULL, 10);
	int fd = open(a[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	j_str("path", a[0]);
	if (fd < 0) {
		j_err("open", errno);
		return 0;
	}
	while (left > 0) {
		ssize_t n = write(fd, zeros, left < (long long)sizeof zeros ? (size_t)left : sizeof zeros);
		if (n < 0) {
			j_err("write", errno);
			close(fd);
			return 0;
		}
		left -= n;
	}
	close(fd);
	j_bool("ok", 1);
	return 0;
}

/* Size of the file system holding PATH (a writable tmpfs area's size). */
static int c_statfs(char **a)
{
	struct statfs sf;
	j_str("path", a[0]);
	if (statfs(a[0], &sf) < 0) {
		j_err("statfs", errno);
		return 0;
	}
	j_bool("ok", 1);
	j_int("bytes", (long long)sf.f_blocks * (long long)sf.f_bsize);
	j_int("free", (long long)sf.f_bfree * (long long)sf.f_bsize);
	return 0;
}

/* ns per call of getpid (never supervised) and getppid (named in the chaos
 * spec by the benchmark): N calls each, in this one process. */
static int c_bench_calls(char **a)
{
	long n = count_arg(a[0]);
	long long t0, t1, t2;

	t0 = ts_ns(CLOCK_MONOTONIC, 0);
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	t1 = ts_ns(CLOCK_MONOTONIC, 0);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	t2 = ts_ns(CLOCK_MONOTONIC, 0);
	j_bool("ok", 1);
	j_int("calls", n);
	j_int("getpid_ns_total", t1 - t0);
	j_int("getppid_ns_total", t2 - t1);
	return 0;
}

struct command {
	const char *name;
	int min_args, max_args;
	int json; /* prints a JSON line */
	int (*fn)(char **a);
	const char *usage;
};

static const struct command commands[] = {
	{"read", 1, 1, 1, c_read, "PATH"},
	{"write", 1, 2, 1, c_write, "PATH [DATA]"},
	{"mkdir", 1, 1, 1, c_mkdir, "PATH"},
	{"rm", 1, 1, 1, c_rm, "PATH"},
	{"symlink", 2, 2, 1, c_symlink, "TARGET PATH"},
	{"mkfifo", 1, 1, 1, c_mkfifo, "PATH"},
	{"rename", 2, 2, 1, c_rename, "FROM TO"},
	{"chmod", 2, 2, 1, c_chmod, "OCTAL-MODE PATH"},
	{"ls", 1, 1, 1, c_ls, "PATH"},
	{"stat", 1, 1, 1, c_stat, "PATH"},
	{"readlink", 1, 1, 1, c_readlink, "PATH"},
	{"connect", 2, 2, 1, c_connect, "HOST PORT"},
	{"udp-send", 3, 3, 1, c_udp_send, "HOST PORT TEXT"},
	{"udp-self", 0, 0, 1, c_udp_self, ""},
	{"unix-connect", 1, 1, 1, c_unix_connect, "PATH|@ABSTRACT"},
	{"ifaces", 0, 0, 1, c_ifaces, ""},
	{"routes", 0, 0, 1, c_routes, ""},
	{"status", 0, 0, 1, c_status, ""},
	{"fds", 0, 0, 1, c_fds, ""},
	{"env", 0, 0, 1, c_env, ""},
	{"cwd", 0, 0, 1, c_cwd, ""},
	{"hostname", 0, 0, 1, c_hostname, ""},
	{"pids", 0, 0, 1, c_pids, ""},
	{"kill-pid", 1, 2, 1, c_kill_pid, "PID [SIG]"},
	{"sysctl-write", 0, 1, 1, c_sysctl_write, "[PATH]"},
	{"proc-all", 1, 1, 1, c_proc_all, "RELPATH"},
	{"ignore-signals", 0, 0, 1, c_ignore_signals, ""},
	{"daemonize", 1, 1, 1, c_daemonize, "FILE"},
	{"tty", 0, 0, 1, c_tty, ""},
	{"echo", 1, 1, 1, c_echo, "TEXT"},
	{"cat-stdin-to-stdout", 0, 0, 0, c_cat, ""},
	{"emit-binary", 1, 3, 0, c_emit_binary, "N [SEED [FD]]"},
	{"exit", 1, 1, 0, c_exit, "N"},
	{"signal", 1, 1, 0, c_signal, "N"},
	{"sleep", 1, 1, 0, c_sleep, "SECONDS"},
	{"spin", 0, 0, 0, c_spin, ""},
	{"repeat-open", 2, 2, 1, c_repeat_open, "PATH N"},
	{"repeat-write", 1, 1, 1, c_repeat_write, "N"},
	{"repeat-connect", 3, 3, 1, c_repeat_connect, "HOST PORT N"},
	{"clock", 0, 0, 1, c_clock, ""},
	{"statfs", 1, 1, 1, c_statfs, "PATH"},
	{"fill", 2, 2, 1, c_fill, "PATH BYTES"},
	{"bench-calls", 1, 1, 1, c_bench_calls, "N"},
};

static void usage(void)
{
	fputs("usage: probe CMD [ARGS] [, CMD [ARGS]]...  (--marker=X ignored)\n", stderr);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(stderr, "  %s %s\n", commands[i].name, commands[i].usage);
}

int main(int argc, char **argv)
{
	char *args[64];
	int nargs = 0, status = 0;

	/* split argv into ","-separated commands; drop markers */
	for (int i = 1; i <= argc; i++) {
		if (i < argc && strncmp(argv[i], "--marker=", 9) == 0)
			continue;
		if (i < argc && strcmp(argv[i], ",") != 0) {
			if (nargs >= 63) {
				usage();
				return 2;
			}
			args[nargs++] = argv[i];
			continue;
		}
		if (nargs == 0) {
			if (i == argc && argc > 1)
				break;
			usage();
			return 2;
		}
		args[nargs] = NULL;
		const struct command *c = NULL;
		for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
			if (strcmp(commands[k].name, args[0]) == 0)
				c = &commands[k];
		if (!c || nargs - 1 < c->min_args || nargs - 1 > c->max_args) {
			usage();
			return 2;
		}
		if (c->json)
			j_begin(c->name);
		status |= c->fn(args + 1);
		if (c->json)
			j_end();
		nargs = 0;
	}
	return status;
}
