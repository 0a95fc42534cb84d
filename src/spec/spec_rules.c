/* Names of the tripwire rule fields, shared by the spec parser, the monitor
 * and the CLI (docs/spec.md "rules"). */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "spec/spec.h"

static const char *const on_names[AL_ON_COUNT_] = {
    [AL_ON_EXEC] = "exec",
    [AL_ON_CANARY] = "canary",
    [AL_ON_EXFIL] = "exfil",
    [AL_ON_CANARY_OUTPUT] = "canary_output",
    [AL_ON_EGRESS_DENIED] = "egress-denied",
    [AL_ON_DNS_DENIED] = "dns-denied",
    [AL_ON_SYSCALL_DENIED] = "syscall-denied",
    [AL_ON_LIMIT] = "limit",
    [AL_ON_OUTPUT] = "output",
};

int al_rule_on_parse(const char *s, enum al_rule_on *out)
{
	for (int i = 0; i < AL_ON_COUNT_; i++)
		if (strcmp(s, on_names[i]) == 0) {
			*out = (enum al_rule_on)i;
			return 0;
		}
	return -EINVAL;
}

const char *al_rule_on_name(enum al_rule_on on)
{
	return (unsigned)on < AL_ON_COUNT_ ? on_names[on] : "?";
}

static const char *const act_names[] = {
    [AL_ACT_LOG] = "log",
    [AL_ACT_DENY] = "deny",
    [AL_ACT_KILL] = "kill",
};

int al_rule_action_parse(const char *s, enum al_rule_action *out)
{
	for (size_t i = 0; i < sizeof act_names / sizeof act_names[0]; i++)
		if (strcmp(s, act_names[i]) == 0) {
			*out = (enum al_rule_action)i;
			return 0;
		}
	return -EINVAL;
}

const char *al_rule_action_name(enum al_rule_action a)
{
	return (unsigned)a < sizeof act_names / sizeof act_names[0] ? act_names[a] : "?";
}

bool al_rule_deny_possible(enum al_rule_on on)
{
	/* exec: answered by the seccomp listener. canary: held under fanotify
	 * permission events (rootful); elsewhere deny is logged as not
	 * possible and the rule acts as log (docs/tripwires.md). */
	return on == AL_ON_EXEC || on == AL_ON_CANARY;
}

bool al_alert_url_valid(const char *url)
{
	const char *p, *host;
	size_t hl;

	if (strncmp(url, "http://", 7) != 0)
		return false;
	host = url + 7;
	hl = strcspn(host, ":/");
	if (hl == 0 || hl > 253)
		return false;
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-')
			return false;
	p = host + hl;
	if (*p == ':') {
		unsigned long port = 0;
		size_t d = 0;
		for (p++; isdigit((unsigned char)*p) && d < 6; p++, d++)
			port = port * 10 + (unsigned long)(*p - '0');
		if (d == 0 || port == 0 || port > 65535)
			return false;
	}
	if (*p != '\0' && *p != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static const char *const canary_names[AL_CANARY_KIND_COUNT_] = {
    [AL_CANARY_AWS] = "aws-credentials", [AL_CANARY_SSH] = "ssh-key",
    [AL_CANARY_GCP] = "gcp-service-account", [AL_CANARY_DOTENV] = "dotenv",
    [AL_CANARY_ENV] = "env", [AL_CANARY_FILE] = "file",
};

int al_canary_kind_parse(const char *s, enum al_canary_kind *out)
{
	for (int i = 0; i < AL_CANARY_KIND_COUNT_; i++)
		if (strcmp(s, canary_names[i]) == 0) {
			*out = (enum al_canary_kind)i;
			return 0;
		}
	return -EINVAL;
}

const char *al_canary_kind_name(enum al_canary_kind k)
{
	return (unsigned)k < AL_CANARY_KIND_COUNT_ ? canary_names[k] : "?";
}
