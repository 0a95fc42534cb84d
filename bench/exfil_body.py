#!/usr/bin/env python3
"""Cost of the exfil search on request bodies (issue 10, docs/benchmarks.md):
curl inside a proxy-mode sandbox uploads N MiB of plaintext (base64 of
random bytes) to a discarding HTTP server on the host's loopback, through
the transparent path and through the explicit proxy; with a canary (the
proxy copies the upload through the token search) and without one (the
zero-copy splice / the existing forward path). Reports MiB/s as curl saw it
(speed_upload), median of R rounds.

  python3 bench/exfil_body.py [--airlock build/src/cli/airlock] [--mib 256] [--rounds 5]
"""
import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

SINK = "127.0.0.9"


def serve(sock):
    while True:
        try:
            c, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def drain(c):
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        head, _, body = buf.partition(b"\r\n\r\n")
        n = int([l.split(b":")[1] for l in head.split(b"\r\n")
                 if l.lower().startswith(b"content-length:")][0])
        got = len(body)
        while got < n:
            d = c.recv(1 << 20)
            if not d:
                return
            got += len(d)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--airlock", default="build/src/cli/airlock")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((SINK, 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        with open(data, "wb") as f:
            subprocess.run(["sh", "-c", f"head -c {a.mib * 3 // 4 * 1048576} /dev/urandom | base64 -w 76"],
                           stdout=f, check=True)
        os.chmod(d, 0o755)
        os.chmod(data, 0o644)
        net = ("network:\n  mode: proxy\n  allow_domains: [sink.test]\n"
               f"  hosts: {{sink.test: {SINK}}}\n  allow_cidr: ['{SINK}']\n"
               f"  allow_ports: [{port}]\n")
        for canary in (False, True):
            spec = Path(d) / "spec.yaml"
            spec.write_text(("canaries:\n  - {kind: env}\n" if canary else "") + net)
            for path, opt in (("transparent", '--noproxy "*"'),
                              ("explicit proxy", "-x http://127.0.0.1:3128")):
                speeds = []
                for _ in range(a.rounds):
                    cmd = (f"curl -s -o /dev/null -w '%{{speed_upload}}\\n' {opt} "
                           f"--data-binary @/d/data http://sink.test:{port}/up")
                    cp = subprocess.run([os.path.abspath(a.airlock), "run", "-v", f"{d}:/d:ro",
                                         "--spec", str(spec), "--", "/bin/sh", "-c", cmd],
                                        capture_output=True, timeout=600)
                    try:
                        speeds.append(float(cp.stdout.split()[-1]) / 1048576)
                    except (ValueError, IndexError):
                        print("failed:", cp.returncode, cp.stderr.decode()[-300:])
                if speeds:
                    print(f"{'canary  ' if canary else 'no canary'} {path:15s} "
                          f"median {statistics.median(speeds):8.1f} MiB/s  "
                          f"({', '.join(f'{s:.0f}' for s in speeds)})")
    sock.close()


if __name__ == "__main__":
    main()
