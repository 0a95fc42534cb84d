#!/bin/bash
# Run the integration suite (tests/integration) as root AND as an unprivileged
# user (rootless airlock), like crun's CI. Builds nothing: point it at a build.
#
#   tests/run-integration.sh [PYTEST ARGS...] [TEST FILES...]
#
# Environment:
#   BUILD_DIR          build directory (default: <repo>/build)
#   AIRLOCK_BIN        airlock binary (default: $BUILD_DIR/src/cli/airlock)
#   AIRLOCK_PROBE      the static probe (default: $BUILD_DIR/tests/probe/probe)
#   AIRLOCK_TEST_USER  unprivileged user for the rootless pass (default: airlock-test;
#                      created with useradd if missing)
#   ROOTLESS_ONLY=1 / ROOTFUL_ONLY=1   run one pass only
#
# Exit status: 0 only if every pass that ran had tests and none failed.
# pytest's "no tests collected" (5) counts as a failure.
set -u -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO/build}
AIRLOCK_BIN=${AIRLOCK_BIN:-$BUILD_DIR/src/cli/airlock}
AIRLOCK_PROBE=${AIRLOCK_PROBE:-$BUILD_DIR/tests/probe/probe}
TEST_USER=${AIRLOCK_TEST_USER:-airlock-test}
PY=/usr/bin/python3   # Debian's, which has python3-pytest
RESULTS=$(mktemp -d /tmp/airlock-it-XXXXXX)
chmod 1777 "$RESULTS"   # the unprivileged pass writes its results here too
trap 'rm -rf "$RESULTS"' EXIT

AIRLOCK_BIN=$(readlink -f "$AIRLOCK_BIN")
AIRLOCK_PROBE=$(readlink -f "$AIRLOCK_PROBE")
AIRLOCK_BUILDDIR=${AIRLOCK_BUILDDIR:-$(readlink -f "$BUILD_DIR")}
export AIRLOCK_BIN AIRLOCK_PROBE AIRLOCK_BUILDDIR

for f in "$AIRLOCK_BIN" "$AIRLOCK_PROBE"; do
	if [ ! -x "$f" ]; then
		echo "run-integration: $f: missing or not executable (build first: ninja -C $BUILD_DIR)" >&2
		exit 2
	fi
done
if ! $PY -c 'import pytest' 2>/dev/null; then
	echo "run-integration: $PY has no pytest (apt-get install python3-pytest)" >&2
	exit 2
fi

status=0
summary=""

# run_pass NAME [runner...]: pytest under the runner, junit XML for the sums
run_pass() {
	name=$1
	shift
	xml="$RESULTS/$name.xml"
	echo "=== integration tests: $name ($(id -un 2>/dev/null || id -u) -> $*) ==="
	"$@" "$PY" -m pytest -p no:cacheprovider "${TEST_PATHS[@]}" \
		--junitxml="$xml" "${PYTEST_ARGS[@]}"
	rc=$?
	sums=$("$PY" - "$xml" <<-'EOF'
	import sys, xml.etree.ElementTree as ET
	try:
	    r = ET.parse(sys.argv[1]).getroot()
	except Exception:
	    print("no results"); sys.exit()
	s = r if r.tag == "testsuite" else r.find("testsuite")
	g = lambda k: int(s.get(k, 0))
	t, f, e, sk = g("tests"), g("failures"), g("errors"), g("skipped")
	print(f"{t - f - e - sk} passed, {f} failed, {e} errors, {sk} skipped")
	EOF
	)
	if [ "$rc" -eq 5 ]; then
		sums="no tests collected"
	fi
	summary="$summary
  $name: $sums (pytest exit $rc)"
	if [ "$rc" -ne 0 ]; then
		status=1
	fi
}

# arguments that name test files/dirs replace the default (the whole suite)
PYTEST_ARGS=()
TEST_PATHS=()
for a in "$@"; do
	case "$a" in
	-*) PYTEST_ARGS+=("$a") ;;
	*) if [ -e "${a%%::*}" ]; then TEST_PATHS+=("$(readlink -f "${a%%::*}")${a#"${a%%::*}"}");
	   else PYTEST_ARGS+=("$a"); fi ;;
	esac
done
[ ${#TEST_PATHS[@]} -gt 0 ] || TEST_PATHS=("$REPO/tests/integration")

# --- pass 1: as root (rootful airlock) ---
if [ "${ROOTLESS_ONLY:-0}" != 1 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		run_pass rootful env HOME=/root
	else
		echo "run-integration: not root: the rootful pass is skipped" >&2
		summary="$summary
  rootful: SKIPPED (not run as root)"
	fi
fi

# --- pass 2: as an unprivileged user (rootless airlock) ---
userns_ok() {
	if [ -r /proc/sys/kernel/unprivileged_userns_clone ] &&
	   [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" != 1 ]; then
		echo "kernel.unprivileged_userns_clone=0"
		return 1
	fi
	if [ -r /proc/sys/user/max_user_namespaces ] &&
	   [ "$(cat /proc/sys/user/max_user_namespaces)" -eq 0 ]; then
		echo "user.max_user_namespaces=0"
		return 1
	fi
	if [ -r /proc/sys/kernel/apparmor_restrict_unprivileged_userns ] &&
	   [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns)" = 1 ]; then
		echo "kernel.apparmor_restrict_unprivileged_userns=1"
		return 1
	fi
	return 0
}

if [ "${ROOTFUL_ONLY:-0}" != 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		# already unprivileged: this pass is the rootless one
		run_pass rootless env
	elif why=$(userns_ok); then
		if ! id "$TEST_USER" >/dev/null 2>&1; then
			useradd --system --create-home --shell /usr/sbin/nologin "$TEST_USER" || {
				echo "run-integration: cannot create user $TEST_USER" >&2
				exit 2
			}
		fi
		uid=$(id -u "$TEST_USER")
		gid=$(id -g "$TEST_USER")
		home=$(getent passwd "$TEST_USER" | cut -d: -f6)
		# The test user must reach the tests and the build. A checkout under a
		# private directory (/root/...) is not reachable: then the pass runs on
		# a world-readable copy of the tests and of the build directory.
		can_read() { setpriv --reuid="$uid" --regid="$gid" --clear-groups test -r "$1"; }
		if ! can_read "$AIRLOCK_BIN" || ! can_read "$AIRLOCK_PROBE" ||
		   ! can_read "$REPO/tests/integration/conftest.py" || ! can_read "$AIRLOCK_BUILDDIR"; then
			stage="$RESULTS/stage"
			echo "run-integration: $TEST_USER cannot read the checkout; staging a copy in $stage" >&2
			mkdir -p "$stage"
			tar -C "$REPO" --exclude=.git --exclude='./build*' -cf - . | tar -C "$stage" -xf -
			cp -a "$AIRLOCK_BUILDDIR" "$stage/build"
			chmod -R a+rX "$stage"
			rel_bin=${AIRLOCK_BIN#"$AIRLOCK_BUILDDIR"/}
			rel_probe=${AIRLOCK_PROBE#"$AIRLOCK_BUILDDIR"/}
			# binaries from elsewhere than the build dir are copied beside it
			[ "$rel_bin" != "$AIRLOCK_BIN" ] || { cp "$AIRLOCK_BIN" "$stage/airlock"; rel_bin=../airlock; }
			[ "$rel_probe" != "$AIRLOCK_PROBE" ] || { cp "$AIRLOCK_PROBE" "$stage/probe"; rel_probe=../probe; }
			ROOTLESS_TEST_PATHS=()
			for t in "${TEST_PATHS[@]}"; do ROOTLESS_TEST_PATHS+=("$stage/${t#"$REPO"/}"); done
			rl_bin="$stage/build/$rel_bin" rl_probe="$stage/build/$rel_probe" rl_build="$stage/build"
		else
			ROOTLESS_TEST_PATHS=("${TEST_PATHS[@]}")
			rl_bin=$AIRLOCK_BIN rl_probe=$AIRLOCK_PROBE rl_build=$AIRLOCK_BUILDDIR
		fi
		# the environment of the pass: a clean one, plus airlock's test settings
		# and the sanitizers' options
		pass_env=(HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" LANG=C.UTF-8
			  PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin)
		while IFS= read -r -d '' kv; do
			case "$kv" in
			AIRLOCK_BIN=*|AIRLOCK_PROBE=*|AIRLOCK_BUILDDIR=*) ;;
			AIRLOCK_*=*|ASAN_OPTIONS=*|UBSAN_OPTIONS=*|LSAN_OPTIONS=*) pass_env+=("$kv") ;;
			esac
		done < <(env -0)
		pass_env+=(AIRLOCK_BIN="$rl_bin" AIRLOCK_PROBE="$rl_probe" AIRLOCK_BUILDDIR="$rl_build")
		saved_paths=("${TEST_PATHS[@]}")
		TEST_PATHS=("${ROOTLESS_TEST_PATHS[@]}")
		run_pass rootless setpriv --reuid="$uid" --regid="$gid" --init-groups \
			env -i -C "$RESULTS" "${pass_env[@]}"
		TEST_PATHS=("${saved_paths[@]}")
	else
		echo "run-integration: unprivileged user namespaces unavailable ($why): rootless pass SKIPPED" >&2
		summary="$summary
  rootless: SKIPPED ($why)"
	fi
fi

echo "=== integration summary ===$summary"
exit $status
