/* Syslog transport: RFC 5424 messages over TCP with RFC 6587 octet-counting
 * framing (tcp://), and the same inside TLS per RFC 5425 (tls://, gnutls,
 * server certificate verified against log.tls_ca and the URL's host). */
#define _GNU_SOURCE
#include "evidence/sink_int.h"
#include "evidence/sink_dl.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "util/cleanup.h"
#include "util/timeutil.h"

struct syslog_tp {
	int fd;
	bool tls;
	gnutls_certificate_credentials_t cred;
	gnutls_session_t sess;
	struct al_buf frame;
};

static int remaining_ms(uint64_t deadline_ns)
{
	uint64_t now = al_mono_ns();
	if (now >= deadline_ns)
		return 0;
	return (int)((deadline_ns - now + 999999) / 1000000);
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, remaining_ms(deadline_ns));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return n;
	}
}

static void tp_close(struct syslog_tp *t)
{
	if (t->sess) {
		sym_gnutls_deinit(t->sess);
		t->sess = NULL;
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
}

static int tcp_connect(struct syslog_tp *t, const struct al_sink_url *u, uint64_t deadline,
                       struct al_error *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL, *a;
	int r, last = ECONNREFUSED;

	r = getaddrinfo(u->host, u->port, &hints, &ai);
	if (r != 0)
		return al_error_set(err, r == EAI_SYSTEM ? errno : EHOSTUNREACH, "sink",
		                    "resolving %s: %s", u->host, gai_strerror(r));
	for (a = ai; a; a = a->ai_next) {
		/* Non-blocking from birth: a stalled server must never stall the
		 * supervisor's loop for longer than our own deadlines. */
		_cleanup_close_ int fd = socket(
		    a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		int one = 1, soerr = 0;
		socklen_t sl = sizeof soerr;

		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			if (errno != EINPROGRESS) {
				last = errno;
				continue;
			}
			r = wait_fd(fd, POLLOUT, deadline);
			if (r <= 0) {
				last = r == 0 ? ETIMEDOUT : -r;
				continue;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
				last = soerr ? soerr : errno;
				continue;
			}
		}
		/* Records are small and should leave as they happen. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		t->fd = TAKE_FD(fd);
		freeaddrinfo(ai);
		return 0;
	}
	freeaddrinfo(ai);
	return al_error_set(err, last, "sink", "connecting to %s port %s", u->host, u->port);
}

static bool is_ip_literal(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static int tls_handshake(struct syslog_tp *t, const struct al_sink_conf *c, uint64_t deadline,
                         struct al_error *err)
{
	const char *host = c->url.host;
	int r;

	if (!t->cred) {
		r = sym_gnutls_certificate_allocate_credentials(&t->cred);
		if (r < 0)
			return al_error_set(err, ENOMEM, "sink", "gnutls credentials: %s",
			                    sym_gnutls_strerror(r));
		/* Trust exactly the CA the spec names; without one, the system's. */
		if (c->tls_ca)
			r = sym_gnutls_certificate_set_x509_trust_file(t->cred, c->tls_ca,
			                                           GNUTLS_X509_FMT_PEM);
		else
			r = sym_gnutls_certificate_set_x509_system_trust(t->cred);
		if (r <= 0)
			return al_error_set(err, EINVAL, "sink", "loading TLS trust from %s: %s",
			                    c->tls_ca ? c->tls_ca : "the system store",
			                    r == 0 ? "no certificates" : sym_gnutls_strerror(r));
	}
	r = sym_gnutls_init(&t->sess, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
	if (r < 0)
		return al_error_set(err, ENOMEM, "sink", "gnutls_init: %s", sym_gnutls_strerror(r));
	r = sym_gnutls_set_default_priority(t->sess);
	if (r >= 0)
		r = sym_gnutls_credentials_set(t->sess, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (r >= 0 && !is_ip_literal(host))
		r = sym_gnutls_server_name_set(t->sess, GNUTLS_NAME_DNS, host, strlen(host));
	if (r < 0)
		return al_error_set(err, EINVAL, "sink", "TLS setup for %s: %s", host,
		                    sym_gnutls_strerror(r));
	/* The handshake fails unless the chain leads to the trusted CA and the
	 * certificate names the host (DNS name or IP address) we dialled. */
	sym_gnutls_session_set_verify_cert(t->sess, host, 0);
	sym_gnutls_transport_set_int2(t->sess, t->fd, t->fd);
	sym_gnutls_handshake_set_timeout(t->sess, 0);
	for (;;) {
		r = sym_gnutls_handshake(t->sess);
		if (r == GNUTLS_E_SUCCESS)
			return 0;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			short ev = sym_gnutls_record_get_direction(t->sess) ? POLLOUT : POLLIN;
			int w = wait_fd(t->fd, ev, deadline);
			if (w == 0)
				return al_error_set(err, ETIMEDOUT, "sink", "TLS handshake with %s",
				                    host);
			if (w < 0)
				return al_error_set(err, -w, "sink", "TLS handshake with %s", host);
			continue;
		}
		if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			gnutls_datum_t why = {0};
			unsigned status = sym_gnutls_session_get_verify_cert_status(t->sess);
			sym_gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why,
			                                             0);
			r = al_error_set(err, EACCES, "sink",
			                 "TLS server %s: certificate rejected: %s", host,
			                 why.data ? (char *)why.data : "verification failed");
			(*sym_gnutls_free)(why.data);
			return r;
		}
		if (sym_gnutls_error_is_fatal(r))
			return al_error_set(err, ECONNRESET, "sink", "TLS handshake with %s: %s",
			                    host, sym_gnutls_strerror(r));
	}
}

static int syslog_connect(struct al_sink *s, int timeout_ms, struct al_error *err)
{
	const struct al_sink_conf *c = al_sink_conf(s);
	struct syslog_tp *t = al_sink_transport_state(s);
	uint64_t deadline = al_mono_ns() + (uint64_t)timeout_ms * 1000000;
	int r;

	if (!t) {
		t = calloc(1, sizeof *t);
		if (!t)
			return al_error_set(err, ENOMEM, "sink", "allocating transport");
		t->fd = -1;
		t->tls = c->url.scheme == AL_SINK_TLS;
		al_buf_init(&t->frame);
		al_sink_set_transport_state(s, t);
	}
	tp_close(t);
	r = tcp_connect(t, &c->url, deadline, err);
	if (r == 0 && t->tls)
		r = tls_handshake(t, c, deadline, err);
	if (r < 0)
		tp_close(t);
	return r;
}

/* Write all of buf before deadline; a peer that stops reading for that
 * long counts as lost. */
static int write_all(struct syslog_tp *t, const char *buf, size_t n, uint64_t deadline,
                     struct al_error *err)
{
	while (n > 0) {
		ssize_t w;
		short ev = POLLOUT;

		if (t->tls) {
			w = sym_gnutls_record_send(t->sess, buf, n);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
				/* gnutls wants the same call repeated once writable. */
				ev = sym_gnutls_record_get_direction(t->sess) ? POLLOUT : POLLIN;
				w = -1;
				errno = EAGAIN;
			} else if (w < 0) {
				return al_error_set(err, EPIPE, "sink", "TLS send: %s",
				                    sym_gnutls_strerror((int)w));
			}
		} else {
			w = send(t->fd, buf, n, MSG_NOSIGNAL);
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return al_error_errno(err, "sink", "sending");
			int r = wait_fd(t->fd, ev, deadline);
			if (r == 0)
				return al_error_set(err, ETIMEDOUT, "sink",
				                    "server stopped reading for %d ms",
				                    AL_SINK_IO_TIMEOUT_MS);
			if (r < 0)
				return al_error_set(err, -r, "sink", "waiting to send");
			continue;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int syslog_send(struct al_sink *s, const char *msg, size_t len, struct al_error *err)
{
	struct syslog_tp *t = al_sink_transport_state(s);
	uint64_t deadline = al_mono_ns() + (uint64_t)AL_SINK_IO_TIMEOUT_MS * 1000000;

	if (t->fd < 0)
		return al_error_set(err, ENOTCONN, "sink", "not connected");
	al_buf_reset(&t->frame);
	if (al_sink_frame_octets(&t->frame, msg, len) < 0)
		return al_error_set(err, ENOMEM, "sink", "framing a message");
	return write_all(t, t->frame.data, t->frame.len, deadline, err);
}

/* A syslog receiver never talks back, so anything readable is the end:
 * EOF (FIN), a reset, or -- under TLS -- an alert or close_notify. */
static int syslog_check(struct al_sink *s, struct al_error *err)
{
	struct syslog_tp *t = al_sink_transport_state(s);
	struct pollfd p = {.fd = t->fd, .events = POLLIN | POLLRDHUP};
	int soerr = 0;
	socklen_t sl = sizeof soerr;

	if (t->fd < 0)
		return al_error_set(err, ENOTCONN, "sink", "not connected");
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLERR | POLLHUP)) {
		getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		return al_error_set(err, soerr ? soerr : ECONNRESET, "sink", "connection failed");
	}
	if (p.revents & POLLRDHUP)
		return al_error_set(err, EPIPE, "sink", "server closed the connection");
	if (t->tls) {
		char junk[512];
		ssize_t n = sym_gnutls_record_recv(t->sess, junk, sizeof junk);
		/* Session tickets and other non-fatal records, or stray data. */
		if (n > 0 || (n < 0 && !sym_gnutls_error_is_fatal((int)n)))
			return 0;
		return al_error_set(err, EPIPE, "sink", "server ended the TLS session: %s",
		                    n == 0 ? "close_notify" : sym_gnutls_strerror((int)n));
	}
	char junk[512];
	ssize_t n = recv(t->fd, junk, sizeof junk, MSG_DONTWAIT);
	if (n == 0)
		return al_error_set(err, EPIPE, "sink", "server closed the connection");
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return al_error_errno(err, "sink", "connection failed");
	return 0;
}

/* Close politely and wait until the peer's TCP has acknowledged every byte
 * (SIOCOUTQ reaches 0). That is as much as plain syslog can know: the
 * server application may still drop what its kernel accepted. */
static int syslog_finish(struct al_sink *s, int timeout_ms, struct al_error *err)
{
	struct syslog_tp *t = al_sink_transport_state(s);
	uint64_t deadline = al_mono_ns() + (uint64_t)timeout_ms * 1000000;
	int r = 0, outq = 0;

	if (t->fd < 0)
		return al_error_set(err, ENOTCONN, "sink", "not connected");
	r = syslog_check(s, err);
	if (r < 0)
		goto out;
	if (t->tls) {
		for (;;) {
			int b = sym_gnutls_bye(t->sess, GNUTLS_SHUT_WR);
			if (b == GNUTLS_E_SUCCESS)
				break;
			if (b != GNUTLS_E_AGAIN && b != GNUTLS_E_INTERRUPTED) {
				r = al_error_set(err, EPIPE, "sink", "TLS close: %s",
				                 sym_gnutls_strerror(b));
				goto out;
			}
			if (wait_fd(t->fd, POLLOUT, deadline) <= 0) {
				r = al_error_set(err, ETIMEDOUT, "sink", "TLS close timed out");
				goto out;
			}
		}
	}
	for (;;) {
		if (ioctl(t->fd, SIOCOUTQ, &outq) < 0) {
			r = al_error_errno(err, "sink", "SIOCOUTQ");
			goto out;
		}
		if (outq == 0)
			break;
		if (al_mono_ns() >= deadline) {
			r = al_error_set(err, ETIMEDOUT, "sink",
			                 "%d bytes not acknowledged by the server after %d ms",
			                 outq, timeout_ms);
			goto out;
		}
		struct pollfd p = {.fd = t->fd, .events = POLLRDHUP};
		if (poll(&p, 1, 10) > 0 && (p.revents & (POLLERR | POLLHUP))) {
			r = al_error_set(err, ECONNRESET, "sink",
			                 "connection reset with %d bytes unacknowledged", outq);
			goto out;
		}
	}
out:
	tp_close(t);
	return r;
}

static void syslog_drop(struct al_sink *s)
{
	tp_close(al_sink_transport_state(s));
}

static void syslog_destroy(struct al_sink *s)
{
	struct syslog_tp *t = al_sink_transport_state(s);
	tp_close(t);
	if (t->cred)
		sym_gnutls_certificate_free_credentials(t->cred);
	al_buf_free(&t->frame);
	free(t);
	al_sink_set_transport_state(s, NULL);
}

const struct al_sink_transport al_sink_syslog_transport = {
    .name = "syslog",
    .connect = syslog_connect,
    .send = syslog_send,
    .check = syslog_check,
    .finish = syslog_finish,
    .drop = syslog_drop,
    .destroy = syslog_destroy,
};
