/* Proxy mode, the supervisor's side (egress.c): policy, proxy start,
 * reports to records, fail closed on the proxy's death. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "supervisor/supervisor.h"
#include "util/json.h"

struct al_egress_run;
struct al_net_report;

/* The trust boundary with the proxy, which may be compromised: is buf (n
 * bytes as received) a report of the right size, a known kind, a 0/1
 * verdict and NUL-terminated strings? And the record it becomes: its
 * fields into b as a JSON object (every string escaped), its type
 * returned. Pure, unit-tested. */
bool al_egress_report_valid(const void *buf, size_t n);
const char *al_egress_report_json(const struct al_net_report *r, struct al_buf *b);

/* Before clone: the policy from the spec (and, without spec resolvers, the
 * host's resolv.conf and /etc/hosts). *out stays NULL in mode none. */
int al_egress_prepare(struct al_egress_run **out, const struct al_spec *spec, struct al_error *err);
void al_egress_free(struct al_egress_run *e);
/* run_start.protections.egress */
void al_egress_describe(const struct al_egress_run *e, struct al_json *j);
/* run_end.network: counts */
void al_egress_counts(const struct al_egress_run *e, struct al_json *j);

/* After release, before the workload may start: receive the listening
 * sockets from the init and start the proxy with them. If the init reports
 * a setup failure instead, it is recorded in s (s->setup_failed) and 0 is
 * returned. */
int al_egress_begin(struct al_supervisor *s, struct al_error *err);
int al_egress_report_fd(const struct al_egress_run *e);
int al_egress_pidfd(const struct al_egress_run *e);
/* Reports available on the report fd -> records. 0: handled (more may
 * come), 1: the proxy closed its end, <0: a malformed report or a record
 * that could not be written (the caller fails the run closed). */
int al_egress_handle_reports(struct al_supervisor *s, struct al_error *err);
/* False (with why) once the proxy has exited; reaps it. */
bool al_egress_check_alive(struct al_supervisor *s, char *why, size_t len);
/* Teardown: drain what was reported, kill and reap the proxy, close its fds. */
void al_egress_stop(struct al_supervisor *s);
