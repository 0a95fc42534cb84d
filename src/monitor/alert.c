/* Alerts (alert.h). */
#define _GNU_SOURCE
#include "monitor/alert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/json.h"
#include "util/timeutil.h"

int al_alert_url_split(const char *url, char *host, size_t hl, uint16_t *port, char *path,
                       size_t pl)
{
	const char *h = url + 7, *p;
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	n = strcspn(h, ":/");
	if (n == 0 || n >= hl)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	p = h + n;
	*port = 80;
	if (*p == ':') {
		*port = (uint16_t)strtoul(p + 1, (char **)&p, 10);
		if (*port == 0)
			return -EINVAL;
	}
	snprintf(path, pl, "%s", *p ? p : "/");
	return 0;
}

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* In the child: POST the body, read the status line. */
static int webhook_child(const char *url, const char *body, size_t blen, int rfd)
{
	char host[256], path[2048], portstr[8], hdr[2600], resp[256];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	uint16_t port;
	int fd, n, st;
	size_t got = 0;

	if (al_alert_url_split(url, host, sizeof host, &port, path, sizeof path) < 0) {
		report(rfd, "error bad url");
		return 2;
	}
	snprintf(portstr, sizeof portstr, "%u", port);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL) {
		report(rfd, "error resolving %s", host);
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		report(rfd, "error connect: %s (errno %d)", strerror(errno), errno);
		return 2;
	}
	n = snprintf(hdr, sizeof hdr,
	             "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: airlock-alert\r\n\r\n",
	             path, host, blen);
	if (n < 0 || (size_t)n >= sizeof hdr || write_all(fd, hdr, (size_t)n) < 0 ||
	    write_all(fd, body, blen) < 0) {
		report(rfd, "error sending: %s (errno %d)", strerror(errno), errno);
		return 2;
	}
	while (got < sizeof resp - 1) {
		ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(resp, '\n', got))
			break;
	}
	resp[got] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1) {
		report(rfd, "error no HTTP status line");
		return 2;
	}
	if (st < 200 || st > 299) {
		report(rfd, "error HTTP status %d", st);
		return 2;
	}
	report(rfd, "ok HTTP status %d", st);
	return 0;
}

static int command_child(char *const *argv, const char *body, size_t blen, int rfd)
{
	int p[2], dn;
	pid_t pid;
	int status;

	if (pipe2(p, O_CLOEXEC) < 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(p[0], 0);
		if (dn >= 0) {
			dup2(dn, 1);
			dup2(dn, 2);
		}
		execve(argv[0], argv, (char *[]){"PATH=/usr/bin:/bin", NULL});
		_exit(127);
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	(void)write_all(p[1], body, blen);
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		report(rfd, "ok exit status 0");
		return 0;
	}
	report(rfd, "error command ended with status %d",
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 2;
}

int al_alert_start(const struct al_alert_spec *a, const char *type, const char *fields_json,
                   int rule, bool webhook, struct al_alert_job *job)
{
	struct al_buf b;
	int rp[2];
	pid_t pid;

	/* the body: {"type": ..., "record": {...}} */
	al_buf_init(&b);
	al_buf_puts(&b, "{\"source\":\"airlock\",\"type\":\"");
	al_json_escape(&b, type, strlen(type));
	al_buf_puts(&b, "\",\"record\":");
	al_buf_puts(&b, fields_json ? fields_json : "null");
	al_buf_puts(&b, "}\n");
	if (b.oom) {
		al_buf_free(&b);
		return -ENOMEM;
	}
	if (pipe2(rp, O_CLOEXEC) < 0) {
		al_buf_free(&b);
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(rp[0]);
		close(rp[1]);
		al_buf_free(&b);
		return -e;
	}
	if (pid == 0) {
		/* The child: a bounded life (alarm), nothing of the supervisor's
		 * but this record. SIGALRM's default action ends it. */
		unsigned secs = (unsigned)((a->timeout_ns + 999999999ull) / 1000000000ull);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGALRM, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		alarm(secs ? secs : 1);
		close(rp[0]);
		_exit(webhook ? webhook_child(a->webhook, b.data, b.len, rp[1])
		              : command_child(a->command, b.data, b.len, rp[1]));
	}
	close(rp[1]);
	al_buf_free(&b);
	job->pid = pid;
	job->result_fd = rp[0];
	job->started_ns = al_mono_ns();
	job->timeout_ns = a->timeout_ns;
	job->rule = rule;
	job->killed = false;
	snprintf(job->target, sizeof job->target, "%s", webhook ? "webhook" : "command");
	return 0;
}

void al_alert_result(struct al_alert_job *job, char *out, size_t len)
{
	ssize_t n = -1;

	out[0] = '\0';
	if (job->result_fd >= 0) {
		int fl = fcntl(job->result_fd, F_GETFL);
		fcntl(job->result_fd, F_SETFL, fl | O_NONBLOCK);
		n = read(job->result_fd, out, len - 1);
		close(job->result_fd);
		job->result_fd = -1;
	}
	if (n > 0)
		out[n] = '\0';
	else
		snprintf(out, len, "error %s", job->killed ? "timed out" : "no report");
}
