/* The sandbox's network namespace: only the loopback interface, up. There
 * is no other interface and no route, so nothing can leave. */
#define _GNU_SOURCE
#include "sandbox/sandbox.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int al_netns_child_setup(struct al_error *err)
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
