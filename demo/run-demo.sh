#!/usr/bin/env bash
# The demo: run a scripted "untrusted agent" in airlock with the built-in
# defaults, show that each forbidden thing was contained, that the host's
# workspace is untouched, that nothing survived, and that the event log
# verifies.
set -uo pipefail
AIRLOCK=${1:-build/src/cli/airlock}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/airlock-demo.XXXXXX)
trap 'kill $listener 2>/dev/null; rm -rf "$work"' EXIT
chmod 755 "$work"

# Things the agent must not reach: a secret on the host and a host listener.
secret="$work/host-secret.txt"
echo "TOKEN-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$secret"
chmod 644 "$secret"
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); print("LISTENER GOT A CONNECTION", file=sys.stderr); c.close()
' > "$work/port" &
listener=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")

# The task directory the agent works on (a copy, so the demo is repeatable).
mkdir -p "$work/task"
cp -r "$here/task/." "$work/task/"
chmod -R a+rX "$work/task"
before=$(cd "$work/task" && find . -type f -exec sha256sum {} + | sort | sha256sum)
cp "$here/untrusted-agent.py" "$work/agent.py"; chmod 644 "$work/agent.py"

echo "== airlock run: the untrusted agent (defaults: air-gapped, read-only image, no privileges)"
"$AIRLOCK" run --log "$work/run.jsonl" --workspace "$work/task" -v "$work/agent.py:/opt/agent.py" \
	-- /usr/bin/python3 /opt/agent.py "$secret" "$port"
status=$?
echo "== the agent exited with status $status"

after=$(cd "$work/task" && find . -type f -exec sha256sum {} + | sort | sha256sum)
if [ "$before" = "$after" ]; then echo "== host workspace unchanged (the agent's edits were rolled back)"; else echo "!! host workspace CHANGED"; status=99; fi
if pgrep -f "sleep 3600" >/dev/null && [ "$(pgrep -f 'sleep 3600' | wc -l)" -gt 0 ]; then
	for p in $(pgrep -f "sleep 3600"); do
		if [ "$(readlink /proc/$p/ns/pid)" != "$(readlink /proc/self/ns/pid)" ]; then echo "!! a daemon from the sandbox survived (pid $p)"; status=99; fi
	done
fi
echo "== nothing of the run is left running"
echo "== event log: $(wc -l < "$work/run.jsonl") records"
"$AIRLOCK" log show "$work/run.jsonl" | tail -n 25
echo "== verifying the log"
"$AIRLOCK" log verify "$work/run.jsonl" || status=98
exit $status
