/* The session directory and control sockets: a unix socket per sandbox,
 * mode 0600 in a 0700 directory owned by the caller. The socket is a path
 * in the host's mount namespace (never an abstract socket, which any
 * process of the same network namespace could reach): the sandbox has its
 * own mount and network namespaces and cannot see it. */
#define _GNU_SOURCE
#include "session/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

bool al_session_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* An existing directory is used only if it is ours alone. */
static int check_dir(const char *path, struct al_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return al_error_errno(err, "session", "opening %s (it must be a directory, not a link)", path);
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return al_error_errno(err, "session", "stat %s", path);
	}
	close(fd);
	if (st.st_uid != geteuid())
		return al_error_set(err, EPERM, "session", "%s is owned by uid %u, not by you (uid %u): refusing it",
				    path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return al_error_set(err, EPERM, "session",
				    "%s is accessible to group or others (mode %03o): refusing it", path,
				    (unsigned)(st.st_mode & 0777));
	return 0;
}

int al_session_dir(char *out, size_t outsz, bool create, struct al_error *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (geteuid() == 0)
		n = snprintf(out, outsz, "/run/airlock");
	else if (xdg && xdg[0] == '/')
		n = snprintf(out, outsz, "%s/airlock", xdg);
	else
		n = snprintf(out, outsz, "/tmp/airlock-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= outsz)
		return al_error_set(err, ENAMETOOLONG, "session", "the session directory's path is too long");
	if (create && mkdir(out, 0700) < 0 && errno != EEXIST)
		return al_error_errno(err, "session", "creating %s", out);
	if (!create) {
		struct stat st;
		if (lstat(out, &st) < 0)
			return al_error_errno(err, "session", "%s", out);
	}
	return check_dir(out, err);
}

static int sock_addr(struct sockaddr_un *a, const char *dir, const char *id, struct al_error *err)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (!al_session_name_ok(id))
		return al_error_set(err, EINVAL, "session", "'%s' is not a session id or name", id);
	int n = snprintf(a->sun_path, sizeof a->sun_path, "%s/%s.sock", dir, id);
	if (n < 0 || (size_t)n >= sizeof a->sun_path)
		return al_error_set(err, ENAMETOOLONG, "session", "%s/%s.sock: path too long for a socket", dir,
				    id);
	return 0;
}

int al_session_listen(const char *dir, const char *id, struct al_error *err)
{
	struct sockaddr_un a;
	mode_t old;
	int fd, r;

	r = sock_addr(&a, dir, id, err);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return al_error_errno(err, "session", "socket");
	/* born 0600: no window in which another user could connect */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (r < 0 || listen(fd, 128) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return al_error_errno(err, "session", "listening on %s", a.sun_path);
	}
	return fd;
}

int al_session_connect(const char *dir, const char *id, struct al_error *err)
{
	struct sockaddr_un a;
	int fd, r;

	r = sock_addr(&a, dir, id, err);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return al_error_errno(err, "session", "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		if (e == ECONNREFUSED)
			return al_error_set(err, ECONNREFUSED, "session",
					    "session %s: its supervisor is gone (stale socket)", id);
		if (e == ENOENT)
			return al_error_set(err, ENOENT, "session", "no session %s", id);
		return al_error_errno(err, "session", "connecting to session %s", id);
	}
	return fd;
}

bool al_session_peer_allowed(uid_t peer, uid_t owner)
{
	return peer == owner || peer == 0;
}
