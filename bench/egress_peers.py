#!/usr/bin/python3
"""Egress proxies compared end to end, in one run (issue 9, "Speed"); loopback only.

The same client (curl, `-p`: a CONNECT tunnel through the proxy named by the proxy
variables) downloads from the same HTTP server on 127.0.0.2 (Python, `sendfile` from a
tmpfs file), in four arms interleaved round by round (the order rotates each round):

  direct    curl on the host, no proxy;
  airlock   curl inside `airlock run --net proxy --allow-cidr 127.0.0.2 --allow-port P`
            (curl -> 127.0.0.1:3128 in the sandbox's netns -> airlock's proxy -> server);
  tinyproxy curl on the host with http_proxy=http://127.0.0.1:T (Debian's tinyproxy);
  srt       curl inside `srt --settings F -c ...` (Anthropic's sandbox-runtime, allowedDomains
            ["127.0.0.2:P"]; curl -> socat in the sandbox on 127.0.0.1:3128 -> unix socket ->
            socat on the host -> srt's Node HTTP proxy -> server).

Each arm invocation runs one shell script: a warm-up fetch (retried: srt's in-sandbox socat
starts in the background), then --setup-samples fetches of a 1-byte body, reporting curl's
time_starttransfer (connect, CONNECT + 200 through a proxy, GET, first response byte), then
--bulk-per-round fetches of --bytes bytes, reporting curl's speed_download. The sandbox start
is outside every timed figure (curl's own timers). Medians over all rounds, ratios to direct.

    /usr/bin/python3 bench/egress_peers.py --srt /tmp/srtbench/node_modules/.bin/srt \
        [--build build] [--rounds 5] [--bytes 268435456]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

SERVER = "127.0.0.2"


def serve(port_box, blob_path):
    """HTTP/1.1, one request per connection: GET /bytes/N -> N bytes (sendfile)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((SERVER, 0))
    ls.listen(1024)
    port_box.append(ls.getsockname()[1])
    blob = open(blob_path, "rb")

    def handle(c):
        try:
            f = c.makefile("rb")
            line = f.readline()
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            n = int(line.split()[1].rsplit(b"/", 1)[1])
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % n)
            if n:
                c.sendfile(blob, 0, n)
            # half-close, then wait for the client's EOF: no reset from this side can
            # cut a transfer short
            c.shutdown(socket.SHUT_WR)
            c.settimeout(30)
            while c.recv(65536):
                pass
        except (OSError, ValueError, IndexError):
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def script(port, size, setup, bulk):
    url = "http://%s:%d/bytes/" % (SERVER, port)
    curl = "curl -s -S -p -o /dev/null"
    return "\n".join([
        "set -e",
        "i=0; until %s %s1 2>/dev/null; do i=$((i+1)); [ $i -lt 100 ] || exit 9; sleep 0.05; done"
        % (curl, url),
        "j=0; while [ $j -lt %d ]; do j=$((j+1));" % setup,
        "  %s -w 'S %%{http_code} %%{time_starttransfer}\\n' %s1 || echo \"F $?\"; done"
        % (curl, url),
        "j=0; while [ $j -lt %d ]; do j=$((j+1));" % bulk,
        "  %s -w 'B %%{http_code} %%{size_download} %%{speed_download}\\n' %s%d"
        " || echo \"F $?\"; done"
        % (curl, url, size),
    ])


def parse(out, size):
    """-> setup times, bulk speeds, failed transfers (curl's exit codes). A failed fetch
    prints its -w line (not counted as a sample) and then "F <exit code>"."""
    setup, bulk, failed, bad = [], [], [], 0
    for line in out.splitlines():
        f = line.split()
        if f[:1] == ["S"] and f[1] == "200":
            setup.append(float(f[2]))
        elif f[:1] == ["B"] and f[1] == "200" and int(f[2]) == size:
            bulk.append(float(f[3]))
        elif f[:1] in (["S"], ["B"]):
            bad += 1
        elif f[:1] == ["F"]:
            failed.append(int(f[1]))
    assert bad <= len(failed), out
    return setup, bulk, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--srt", default=shutil.which("srt"))
    ap.add_argument("--bytes", type=int, default=256 << 20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--setup-samples", type=int, default=100, help="per arm and round")
    ap.add_argument("--bulk-per-round", type=int, default=2)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="egress-peers-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    blob = os.path.join(tmp, "blob")
    with open(blob, "wb") as f:
        f.truncate(a.bytes)
    box = []
    threading.Thread(target=serve, args=(box, blob), daemon=True).start()
    while not box:
        time.sleep(0.01)
    port = box[0]
    sh = script(port, a.bytes, a.setup_samples, a.bulk_per_round)

    clean = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    airlock = os.path.join(a.build, "src", "cli", "airlock")
    arms = {
        "direct": (["sh", "-c", sh], clean, None),
        "airlock": ([airlock, "run", "--net", "proxy", "--allow-cidr", SERVER, "--allow-port", str(port),
                     "--", "sh", "-c", sh], clean, None),
    }

    procs = []
    tp = shutil.which("tinyproxy")
    if tp:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        tport = s.getsockname()[1]
        s.close()
        conf = os.path.join(tmp, "tinyproxy.conf")
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 600\nMaxClients 200\nConnectPort %d\n"
                    "Allow 127.0.0.1\nLogLevel Critical\n" % (tport, port))
        procs.append(subprocess.Popen([tp, "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        env = dict(clean, http_proxy="http://127.0.0.1:%d" % tport)
        arms["tinyproxy"] = (["sh", "-c", sh], env, None)
        time.sleep(0.5)

    if a.srt:
        conf = os.path.join(tmp, "srt.json")
        with open(conf, "w") as f:
            json.dump({"network": {"allowedDomains": ["%s:%d" % (SERVER, port)], "deniedDomains": []},
                       "filesystem": {"denyRead": [], "denyWrite": [], "allowWrite": [tmp]}}, f)
        srtdir = os.path.join(tmp, "srt-cwd")  # srt mounts over dotfiles in its cwd
        os.mkdir(srtdir)
        arms["srt"] = ([a.srt, "--settings", conf, "-c", sh], clean, srtdir)

    names = list(arms)
    setup = {n: [] for n in names}
    bulk = {n: [] for n in names}
    failed = {n: 0 for n in names}
    errors = {}
    load = [os.getloadavg()]
    try:
        for r in range(a.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                argv, env, cwd = arms[n]
                p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
                if p.returncode != 0:
                    errors.setdefault(n, []).append("rc=%d %s" % (p.returncode, p.stderr.strip()[-300:]))
                    continue
                s, b, fl = parse(p.stdout, a.bytes)
                setup[n] += s
                bulk[n] += b
                failed[n] += len(fl)
                if fl:
                    errors.setdefault(n, []).append("curl exit codes %s: %s" % (fl, p.stderr.strip()[-300:]))
            load.append(os.getloadavg())
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp)

    res = {"bytes": a.bytes, "rounds": a.rounds,
           "loadavg_1min_per_round": [round(x[0], 2) for x in load]}
    d_bulk = statistics.median(bulk["direct"])
    d_setup = statistics.median(setup["direct"])
    for n in names:
        if not bulk[n] or not setup[n]:
            continue
        mb = statistics.median(bulk[n])
        ms = statistics.median(setup[n])
        res[n] = {"bulk_MBps": round(mb / 1e6), "bulk_ratio": round(mb / d_bulk, 3),
                  "bulk_samples": len(bulk[n]),
                  "setup_ms": round(ms * 1e3, 3), "setup_ratio": round(ms / d_setup, 2),
                  "setup_added_ms": round((ms - d_setup) * 1e3, 3),
                  "setup_samples": len(setup[n]), "failed_transfers": failed[n]}
    if errors:
        res["errors"] = errors
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
