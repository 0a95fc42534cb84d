/* A hostile stand-in for runsc (airlock run --isolation gvisor --runsc THIS):
 * it plays a compromised gVisor sentry on airlock's trace socket. The mode
 * is the workload's first argument, read from the bundle's config.json
 * ("hostile-MODE"):
 *   malformed     a valid handshake, then an exec message with a length
 *                 past its end
 *   oversize      a valid handshake, then a 70,000-byte message
 *   badhandshake  a handshake that is not one
 *   second        a valid handshake, then a second connection (must be
 *                 refused), then one valid exec message; exits 0
 *   flood         a valid handshake, then 25,000 open messages; exits 0
 *   dropped       a valid handshake, then an open message whose header says
 *                 3 trace points were dropped before it
 * It prints what it saw on stdout, then (except second/flood) waits to be
 * killed. Static, no libc beyond syscalls wrappers: it runs in the init's
 * bare staging root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK "/run/trace.sock"

static int dial(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", SOCK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static size_t hdr(unsigned char *m, unsigned type)
{
	memset(m, 0, 8);
	m[0] = 8;
	m[2] = (unsigned char)type;
	return 8;
}

int main(void)
{
	static char cfg[65536];
	static unsigned char m[70000];
	const char *mode = "";
	unsigned char reply[16];
	int fd, cf;
	ssize_t n;
	size_t len;

	cf = open("/run/bundle/config.json", O_RDONLY | O_CLOEXEC);
	n = cf >= 0 ? read(cf, cfg, sizeof cfg - 1) : -1;
	if (n > 0) {
		char *p = strstr(cfg, "\"hostile-");
		if (p) {
			mode = p + 9;
			*strchr(mode, '"') = '\0';
		}
	}
	fd = dial();
	if (fd < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	if (strcmp(mode, "badhandshake") == 0) {
		static const unsigned char bad[] = {0x0b};
		send(fd, bad, sizeof bad, 0);
	} else {
		static const unsigned char hs[] = {0x08, 0x01};
		send(fd, hs, sizeof hs, 0);
		n = recv(fd, reply, sizeof reply, 0);
		printf("handshake reply: %zd bytes\n", n);
	}
	if (strcmp(mode, "malformed") == 0) {
		len = hdr(m, 3);
		m[len++] = 0x12;
		m[len++] = 0x05;
		m[len++] = 'a';
		send(fd, m, len, 0);
	} else if (strcmp(mode, "oversize") == 0) {
		hdr(m, 3);
		n = send(fd, m, sizeof m, 0);
		printf("oversize sent: %zd\n", n);
	} else if (strcmp(mode, "second") == 0) {
		int fd2 = dial();
		printf("second connection: %s\n", fd2 < 0 ? "refused" : "accepted");
		len = hdr(m, 3);
		memcpy(m + len, "\x12\x08/bin/fak\x1a\x03one", 15);
		len += 15;
		send(fd, m, len, 0);
		return 0;
	} else if (strcmp(mode, "dropped") == 0) {
		len = hdr(m, 7);
		m[4] = 3;
		memcpy(m + len, "\x18\x81\x02\x32\x04/a/b", 9);
		send(fd, m, len + 9, 0);
	} else if (strcmp(mode, "flood") == 0) {
		for (int i = 0; i < 25000; i++) {
			len = hdr(m, 7);
			memcpy(m + len, "\x18\x81\x02\x32\x04/a/b", 9);
			len += 9;
			if (send(fd, m, len, 0) < 0) {
				printf("flood stopped at %d: %s\n", i, strerror(errno));
				return 1;
			}
		}
		printf("flood sent\n");
		return 0;
	}
	fflush(stdout);
	sleep(20);
	printf("not killed\n");
	return 0;
}
