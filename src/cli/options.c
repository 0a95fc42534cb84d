/* `airlock run` options: getopt_long over the same vocabulary as the spec.
 * --spec is loaded first wherever it appears, every other option then
 * overrides it, and the command after "--" replaces the spec's command. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/cleanup.h"

enum {
	OPT_SPEC = 256,
	OPT_WORKSPACE,
	OPT_EXPORT,
	OPT_USER,
	OPT_HOSTNAME,
	OPT_IMAGE,
	OPT_IMAGE_DIGEST,
	OPT_TIMEOUT,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_CPUS,
	OPT_DISK,
	OPT_LOG,
	OPT_LOG_SINK,
	OPT_LOG_MAX_SIZE,
	OPT_SIGNING_KEY,
	OPT_ALLOW_DEGRADED,
	OPT_ALLOW_LOOPBACK_TCP,
	OPT_NO_LOOPBACK_TCP,
	OPT_NET,
	OPT_ALLOW_DOMAIN,
	OPT_DENY_DOMAIN,
	OPT_ALLOW_PORT,
	OPT_ALLOW_CIDR,
	OPT_ADD_HOST,
	OPT_RESOLVER,
	OPT_ISOLATION,
	OPT_RUNSC,
	OPT_TRACE_OPENS,
	OPT_VERSION,
};

static const struct option run_options[] = {
    {"spec", required_argument, NULL, OPT_SPEC},
    {"volume", required_argument, NULL, 'v'},
    {"workspace", required_argument, NULL, OPT_WORKSPACE},
    {"export", required_argument, NULL, OPT_EXPORT},
    {"workdir", required_argument, NULL, 'w'},
    {"env", required_argument, NULL, 'e'},
    {"user", required_argument, NULL, OPT_USER},
    {"hostname", required_argument, NULL, OPT_HOSTNAME},
    {"image", required_argument, NULL, OPT_IMAGE},
    {"image-digest", required_argument, NULL, OPT_IMAGE_DIGEST},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"pids", required_argument, NULL, OPT_PIDS},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"disk", required_argument, NULL, OPT_DISK},
    {"log", required_argument, NULL, OPT_LOG},
    {"log-sink", required_argument, NULL, OPT_LOG_SINK},
    {"log-max-size", required_argument, NULL, OPT_LOG_MAX_SIZE},
    {"signing-key", required_argument, NULL, OPT_SIGNING_KEY},
    {"allow-degraded", required_argument, NULL, OPT_ALLOW_DEGRADED},
    {"allow-loopback-tcp", no_argument, NULL, OPT_ALLOW_LOOPBACK_TCP},
    {"no-loopback-tcp", no_argument, NULL, OPT_NO_LOOPBACK_TCP},
    {"net", required_argument, NULL, OPT_NET},
    {"allow-domain", required_argument, NULL, OPT_ALLOW_DOMAIN},
    {"deny-domain", required_argument, NULL, OPT_DENY_DOMAIN},
    {"allow-port", required_argument, NULL, OPT_ALLOW_PORT},
    {"allow-cidr", required_argument, NULL, OPT_ALLOW_CIDR},
    {"add-host", required_argument, NULL, OPT_ADD_HOST},
    {"resolver", required_argument, NULL, OPT_RESOLVER},
    {"isolation", required_argument, NULL, OPT_ISOLATION},
    {"runsc", required_argument, NULL, OPT_RUNSC},
    {"trace-opens", no_argument, NULL, OPT_TRACE_OPENS},
    {"quiet", no_argument, NULL, 'q'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "+": stop at the first non-option, so the command's own options
 * (`airlock run ls -l`) are never taken for ours. ":": report a missing
 * argument as ':' so we can say which option lacked it. */
static const char run_optstring[] = "+:v:w:e:qh";

void al_cli_usage_run(FILE *out)
{
	fputs("usage: airlock run [OPTIONS] [--spec FILE] [--] CMD [ARG...]\n"
	      "\n"
	      "Run CMD in a fresh, air-gapped, ephemeral sandbox and exit with its status.\n"
	      "With no options it is already confined: no network but lo, the host's /usr\n"
	      "read-only, small writable tmpfs /tmp and /workspace, no capabilities, uid 1000.\n"
	      "\n"
	      "Settings come from the spec file first (--spec, loaded first wherever it\n"
	      "appears), then from the options below, which override it; CMD after \"--\"\n"
	      "(or the first non-option) replaces the spec's command.\n"
	      "\n"
	      "spec:\n"
	      "      --spec FILE            YAML 1.2 or JSON spec (see docs/spec.md); relative\n"
	      "                             host paths in it resolve against its directory\n"
	      "\n"
	      "filesystem:\n"
	      "  -v, --volume HOST:SANDBOX[:OPTIONS]\n"
	      "                             bind HOST at SANDBOX (repeatable; a relative HOST\n"
	      "                             is from the cwd). OPTIONS, comma-separated: ro\n"
	      "                             (default) or rw; noexec; owner=root (rootful: map\n"
	      "                             a root-owned HOST, see docs/isolation.md)\n"
	      "      --workspace DIR        mount DIR at /workspace as an overlay: the original\n"
	      "                             is never modified; changes are reported at the end\n"
	      "      --export DIR           copy changed workspace files to DIR at the end\n"
	      "  -w, --workdir DIR          working directory inside (default /workspace)\n"
	      "      --image host|DIR|NAME:TAG|sha256:HEX\n"
	      "                             read-only root image: the host's /usr (default),\n"
	      "                             a rootfs directory (starting with / or .), or an\n"
	      "                             image of the local store (airlock image import)\n"
	      "      --image-digest sha256:HEX\n"
	      "                             refuse to run unless the image has this digest\n"
	      "                             (`airlock image digest`; exit 125 on drift)\n"
	      "\n"
	      "identity and environment:\n"
	      "  -e, --env NAME=VALUE       set a variable (repeatable; the caller's\n"
	      "                             environment is never imported, so a bare NAME\n"
	      "                             is an error)\n"
	      "      --user UID[:GID]       ids inside the sandbox, below 65536 (default 1000)\n"
	      "      --hostname NAME        host name inside (default airlock)\n"
	      "\n"
	      "limits:\n"
	      "      --timeout DURATION     wall-clock limit, e.g. 30s, 1m30s, 2h; 0 = none\n"
	      "                             (default 10m; on expiry airlock exits 124)\n"
	      "      --memory SIZE          memory limit, e.g. 512MiB, 2G (default 4GiB)\n"
	      "      --pids N               process/thread limit (default 256)\n"
	      "      --cpus N               CPU share, e.g. 0.5, 2 (default 1)\n"
	      "      --disk SIZE            size of each writable tmpfs area (default 2GiB)\n"
	      "\n"
	      "network (default: air-gapped, only lo exists):\n"
	      "      --no-loopback-tcp      deny TCP bind/connect on the sandbox's own lo\n"
	      "                             (allowed by default: only lo exists)\n"
	      "      --allow-loopback-tcp   allow it (the default; kept for old scripts)\n"
	      "      --net none|proxy       proxy: egress only through airlock's inspecting\n"
	      "                             proxy, only to what the options below allow\n"
	      "                             (docs/egress.md)\n"
	      "      --allow-domain NAME    allow NAME or *.SUFFIX (repeatable)\n"
	      "      --deny-domain NAME     exception inside an allowed wildcard (repeatable)\n"
	      "      --allow-port N         allowed destination port (repeatable; default\n"
	      "                             80 and 443 when none is given)\n"
	      "      --allow-cidr CIDR      addresses the proxy may reach although private,\n"
	      "                             loopback or link-local; the only way to allow\n"
	      "                             raw IP destinations (repeatable)\n"
	      "      --add-host NAME:ADDR   answer NAME with ADDR (repeatable)\n"
	      "      --resolver ADDR[:PORT] upstream DNS server of the proxy (repeatable;\n"
	      "                             default: the host's resolv.conf and /etc/hosts)\n"
	      "\n"
	      "evidence:\n"
	      "      --log FILE             write the JSON Lines event log to FILE\n"
	      "                             ({run} expands to the run id)\n"
	      "      --log-sink URL         also stream records to tcp://HOST:PORT,\n"
	      "                             tls://HOST:PORT or relp://HOST:PORT\n"
	      "      --log-max-size SIZE    cap on the event log file; reaching it kills the\n"
	      "                             run (default 1GiB; 0 = no cap)\n"
	      "      --signing-key FILE     sign checkpoints with this `airlock keygen` key\n"
	      "                             (default: a fresh per-run key whose public half\n"
	      "                             is logged)\n"
	      "\n"
	      "safety valves:\n"
	      "      --isolation TIER       namespaces (default: the host kernel, behind\n"
	      "                             airlock's namespaces, seccomp, Landlock) or gvisor\n"
	      "                             (runsc serves the syscalls; docs/gvisor.md);\n"
	      "                             microvm is refused (not built)\n"
	      "      --runsc PATH           the runsc binary for --isolation gvisor (default:\n"
	      "                             search PATH; missing: refused, exit 125)\n"
	      "      --trace-opens          gvisor: also record every open (gVisor drops trace\n"
	      "                             points under load: then the run fails closed)\n"
	      "      --allow-degraded NAME  accept running without one protection the kernel\n"
	      "                             cannot give (repeatable): landlock, cgroup, timens,\n"
	      "                             seccomp-notify; the log records each one used\n"
	      "\n"
	      "other:\n"
	      "  -q, --quiet                no airlock messages on stderr (the workload's\n"
	      "                             output is still relayed)\n"
	      "      --version              print the version and exit\n"
	      "  -h, --help                 print this help and exit\n"
	      "\n"
	      "SIZE: bytes, or a number with K, M, G, T (or Ki/KiB... : powers of 1024) or\n"
	      "KB, MB, GB, TB (powers of 1000). DURATION: a number with ns, us, ms, s, m, h;\n"
	      "decimals and sums are allowed (1.5s, 1m30s).\n"
	      "\n"
	      "exit status: CMD's own, or 128+N if it died of signal N; 123 killed by\n"
	      "airlock policy; 124 timeout; 125 airlock error (bad options or spec, setup\n"
	      "failed: nothing was started); 126 CMD not executable; 127 CMD not found.\n"
	      "\n"
	      "examples:\n"
	      "  airlock run -- python3 -c 'print(42)'\n"
	      "  airlock run --workspace ./task --export ./out -- make test\n"
	      "  airlock run --spec redteam.yaml --timeout 30s --log runs/{run}.jsonl\n",
	      out);
}

/* Decimal count, no sign, no unit: "--pids 10k" is a mistake, not 10240. */
static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_cpus(const char *s, double *out)
{
	char *end;
	double d;

	/* decimal notation only: strtod would also take "inf", "nan" and hex */
	if (s[0] == '\0' || s[strspn(s, "0123456789.eE+-")] != '\0')
		return -EINVAL;
	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(d))
		return -EINVAL;
	*out = d;
	return 0;
}

/* Set a host-path field, relative paths resolved against the cwd. */
static int set_host_path(struct al_spec *spec, char **field, const char *opt, const char *arg,
                         struct al_error *err)
{
	_cleanup_free_ char *abs = NULL;
	int r;

	if (arg[0] == '\0')
		return al_error_set(err, 0, "options", "%s: empty path", opt);
	abs = al_spec_host_path(NULL, arg);
	if (abs == NULL)
		return al_error_errno(err, "options", "%s %s: resolving the path", opt, arg);
	r = al_spec_set_str(spec, field, abs);
	if (r < 0)
		return al_error_set(err, -r, "options", "%s %s", opt, arg);
	return 0;
}

static int set_str(struct al_spec *spec, char **field, const char *opt, const char *arg,
                   struct al_error *err)
{
	int r = al_spec_set_str(spec, field, arg);

	if (r < 0)
		return al_error_set(err, -r, "options", "%s %s", opt, arg);
	return 0;
}

/* Apply one option (not --spec, --help, --version: those are read in the
 * first pass) to spec. */
/* The error for a network option whose value al_spec_add_* refused. */
static int net_option_error(int r, const char *opt, const char *arg, const char *expected,
                            struct al_error *err)
{
	if (r == 0)
		return 0;
	if (r == -ENOMEM)
		return al_error_set(err, ENOMEM, "options", "%s: out of memory", opt);
	if (r == -E2BIG)
		return al_error_set(err, 0, "options", "%s: too many entries", opt);
	if (r == -EDOM)
		return al_error_set(err, 0, "options", "%s %s: bits set beyond the prefix length",
		                    opt, arg);
	return al_error_set(err, 0, "options", "%s %s: expected %s", opt, arg, expected);
}

static int apply_option(int c, const char *arg, struct al_spec *spec, struct al_error *err)
{
	uint64_t u;
	double d;
	uint32_t bit;
	int r;

	switch (c) {
	case 'v':
		r = al_spec_add_volume(spec, arg, err);
		if (r < 0)
			return al_error_wrap(err, "--volume");
		return 0;
	case OPT_WORKSPACE:
		return set_host_path(spec, &spec->workspace, "--workspace", arg, err);
	case OPT_EXPORT:
		return set_host_path(spec, &spec->export_dir, "--export", arg, err);
	case 'w':
		return set_str(spec, &spec->workdir, "--workdir", arg, err);
	case 'e':
		r = al_spec_add_env(spec, arg);
		if (r == -E2BIG)
			return al_error_set(err, 0, "options",
			                    "--env: more than %d variables (the limit of the spec's env:)",
			                    AL_SPEC_MAX_ENV);
		if (r == -ENOMEM)
			return al_error_set(err, ENOMEM, "options", "--env %s", arg);
		if (r < 0)
			return al_error_set(
			    err, 0, "options",
			    "--env %s: expected NAME=VALUE (the caller's environment is never "
			    "imported, so give the value explicitly)",
			    arg);
		return 0;
	case OPT_USER:
		r = al_parse_user(arg, &spec->uid, &spec->gid);
		if (r == -ERANGE)
			return al_error_set(
			    err, 0, "options",
			    "--user %s: ids must be below 65536 (the sandbox maps 65536 ids)", arg);
		if (r < 0)
			return al_error_set(err, 0, "options", "--user %s: expected UID or UID:GID",
			                    arg);
		return 0;
	case OPT_HOSTNAME:
		return set_str(spec, &spec->hostname, "--hostname", arg, err);
	case OPT_IMAGE:
		if (strcmp(arg, "host") == 0 || al_spec_image_is_store_ref(arg))
			return set_str(spec, &spec->image, "--image", arg, err);
		return set_host_path(spec, &spec->image, "--image", arg, err);
	case OPT_IMAGE_DIGEST:
		if (!al_spec_image_digest_valid(arg))
			return al_error_set(err, 0, "options",
			                    "--image-digest %s: expected sha256: and 64 lowercase hex "
			                    "digits (as printed by `airlock image digest`)",
			                    arg);
		return set_str(spec, &spec->image_digest, "--image-digest", arg, err);
	case OPT_TIMEOUT:
		r = al_parse_duration(arg, &spec->limits.timeout_ns);
		if (r == -EDOM)
			return al_error_set(err, 0, "options",
			                    "--timeout %s: a positive duration below 1ns rounds to 0, "
			                    "which means no limit (say 0 for that)",
			                    arg);
		if (r == -ERANGE)
			return al_error_set(err, 0, "options", "--timeout %s: duration too large", arg);
		if (r < 0)
			return al_error_set(
			    err, 0, "options",
			    "--timeout %s: invalid duration (use a number with a unit: ns, us, ms, "
			    "s, m, h; e.g. 30s, 1m30s)",
			    arg);
		return 0;
	case OPT_MEMORY:
		r = al_parse_size(arg, &spec->limits.memory);
		if (r == -EDOM || r == -ERANGE)
			return al_error_set(err, 0, "options", "--memory %s: %s", arg,
			                    r == -EDOM ? "a positive size below 1 byte" : "size too large");
		if (r < 0)
			return al_error_set(err, 0, "options",
			                    "--memory %s: invalid size (e.g. 512MiB, 2G)", arg);
		return 0;
	case OPT_PIDS:
		r = parse_count(arg, &u);
		if (r < 0)
			return al_error_set(err, 0, "options",
			                    "--pids %s: expected a positive integer", arg);
		al_spec_set_pids(spec, u);
		return 0;
	case OPT_CPUS:
		r = parse_cpus(arg, &d);
		if (r < 0)
			return al_error_set(err, 0, "options",
			                    "--cpus %s: expected a number such as 0.5 or 2", arg);
		spec->limits.cpus = d;
		return 0;
	case OPT_DISK:
		r = al_parse_size(arg, &u);
		if (r == -EDOM || r == -ERANGE)
			return al_error_set(err, 0, "options", "--disk %s: %s", arg,
			                    r == -EDOM ? "a positive size below 1 byte" : "size too large");
		if (r < 0)
			return al_error_set(err, 0, "options",
			                    "--disk %s: invalid size (e.g. 512MiB, 2G)", arg);
		al_spec_set_disk(spec, u);
		return 0;
	case OPT_LOG:
		return set_host_path(spec, &spec->log.path, "--log", arg, err);
	case OPT_LOG_SINK:
		return set_str(spec, &spec->log.sink, "--log-sink", arg, err);
	case OPT_LOG_MAX_SIZE:
		r = al_parse_size(arg, &u);
		if (r < 0)
			return al_error_set(err, 0, "options",
			                    "--log-max-size %s: invalid size (e.g. 100MiB, 1G)", arg);
		spec->log.max_size = u;
		return 0;
	case OPT_SIGNING_KEY:
		return set_host_path(spec, &spec->log.signing_key, "--signing-key", arg, err);
	case OPT_ALLOW_LOOPBACK_TCP:
		spec->network.loopback_tcp = true;
		return 0;
	case OPT_NO_LOOPBACK_TCP:
		spec->network.loopback_tcp = false;
		return 0;
	case OPT_NET:
		if (al_net_mode_parse(arg, &spec->network.mode) < 0)
			return al_error_set(err, 0, "options", "--net %s: expected none or proxy", arg);
		return 0;
	case OPT_ALLOW_DOMAIN:
	case OPT_DENY_DOMAIN:
		r = al_spec_add_domain(spec, c == OPT_DENY_DOMAIN, arg);
		return net_option_error(r, c == OPT_DENY_DOMAIN ? "--deny-domain" : "--allow-domain",
		                        arg, "a domain name (example.com or *.example.com)", err);
	case OPT_ALLOW_PORT:
		r = al_spec_add_port(spec, arg);
		return net_option_error(r, "--allow-port", arg, "a port number 1..65535", err);
	case OPT_ALLOW_CIDR:
		r = al_spec_add_cidr(spec, arg);
		return net_option_error(r, "--allow-cidr", arg,
		                        "an address or CIDR (10.0.0.0/8, fd00::/8, 127.0.0.2)", err);
	case OPT_ADD_HOST:
		r = al_spec_add_host_arg(spec, arg);
		return net_option_error(r, "--add-host", arg,
		                        "NAME:ADDR (a host name and an IPv4 or IPv6 address)", err);
	case OPT_ISOLATION:
		if (al_isolation_parse(arg, &spec->isolation) < 0)
			return al_error_set(err, 0, "options",
			                    "--isolation %s: expected namespaces, gvisor or microvm", arg);
		return 0;
	case OPT_RUNSC:
		return set_host_path(spec, &spec->runsc, "--runsc", arg, err);
	case OPT_TRACE_OPENS:
		spec->trace_opens = true;
		return 0;
	case OPT_RESOLVER:
		r = al_spec_add_resolver(spec, arg);
		return net_option_error(r, "--resolver", arg,
		                        "ADDR, ADDR:PORT or [V6ADDR]:PORT", err);
	case OPT_ALLOW_DEGRADED:
		if (al_degradation_parse(arg, &bit) < 0)
			return al_error_set(
			    err, 0, "options",
			    "--allow-degraded %s: unknown degradation (known: landlock, cgroup, "
			    "timens, seccomp-notify)",
			    arg);
		spec->allow_degraded |= bit;
		return 0;
	case 'q':
		spec->quiet = true;
		return 0;
	}
	return al_error_set(err, 0, "options", "internal: unhandled option %d", c);
}

/* getopt's complaint about argv[optind - 1], as an error value. */
static int getopt_error(int c, char **argv, struct al_error *err)
{
	const char *arg = argv[optind - 1];

	/* name the option as the user typed it: "-e" or "--env" */
	if (c == ':' && strncmp(arg, "--", 2) == 0)
		return al_error_set(err, 0, "options", "%s: missing argument", arg);
	if (c == ':')
		return al_error_set(err, 0, "options", "-%c: missing argument", optopt);
	if (optopt && optopt < 256)
		return al_error_set(err, 0, "options", "unknown option -%c (see airlock help run)",
		                    optopt);
	return al_error_set(err, 0, "options", "unknown option %s (see airlock help run)", arg);
}

static int parse_run(int argc, char **argv, struct al_spec *spec, struct al_cli_run *opts,
                     bool need_command, struct al_error *err)
{
	int c, r;

	memset(opts, 0, sizeof *opts);
	opterr = 0;

	/* Pass 1: find --spec (and --help/--version), so that the spec is the
	 * base that every other option overrides whatever their order. */
	optind = 0; /* glibc: full re-initialisation, parse may run more than once */
	while ((c = getopt_long(argc, argv, run_optstring, run_options, NULL)) != -1) {
		if (c == '?' || c == ':')
			return getopt_error(c, argv, err);
		if (c == OPT_SPEC) {
			if (opts->spec_path != NULL)
				return al_error_set(err, 0, "options",
				                    "--spec given more than once");
			opts->spec_path = optarg;
		} else if (c == 'h') {
			opts->help = true;
		} else if (c == OPT_VERSION) {
			opts->version = true;
		}
	}
	if (opts->help || opts->version)
		return 0;

	if (opts->spec_path != NULL) {
		r = al_spec_load_file(spec, opts->spec_path, err);
		if (r < 0)
			return r;
	}

	/* Pass 2: everything else, in order; later options win. */
	optind = 0;
	while ((c = getopt_long(argc, argv, run_optstring, run_options, NULL)) != -1) {
		if (c == OPT_SPEC || c == 'h' || c == OPT_VERSION)
			continue;
		r = apply_option(c, optarg, spec, err);
		if (r < 0)
			return r;
	}

	if (optind < argc) {
		r = al_spec_set_argv(spec, argv + optind, (size_t)(argc - optind));
		if (r < 0)
			return al_error_set(err, -r, "options", "copying the command");
	}
	if (spec->argc == 0 && need_command)
		return al_error_set(err, 0, "options",
		                    "no command given: airlock run [OPTIONS] -- CMD [ARG...] (or "
		                    "command: in the spec)");

	/* options are checked together with the spec they override: the result is what runs */
	return need_command ? al_spec_validate(spec, err) : al_spec_validate_session(spec, err);
}

int al_cli_parse_run(int argc, char **argv, struct al_spec *spec, struct al_cli_run *opts,
                     struct al_error *err)
{
	return parse_run(argc, argv, spec, opts, true, err);
}

int al_cli_parse_create(int argc, char **argv, struct al_spec *spec, struct al_cli_run *opts,
                        struct al_error *err)
{
	return parse_run(argc, argv, spec, opts, false, err);
}
