#!/usr/bin/python3
"""Egress proxy benchmarks (issue 9), loopback only.

Starts the proxy alone (build/tests/net/egress_harness) and a small server on
127.0.0.2, then measures, in the same run:
  - bulk throughput through a CONNECT tunnel vs a direct loopback transfer;
  - added connection setup: median time to a first echoed byte, through the
    proxy (CONNECT + 200 + first byte) minus direct;
  - 1000 concurrent tunnels, each echoing a byte after all are open: errors;
  - the proxy's peak RSS (VmHWM).
Optionally the same bulk transfer through tinyproxy (if installed).

    /usr/bin/python3 bench/egress.py [--build build] [--bytes 1073741824]
"""
import argparse
import json
import os
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

SERVER = "127.0.0.2"


def serve(port_box, blob_path, size):
    """Per connection: read one line; 'B' -> send `size` bytes (sendfile),
    'E' -> echo every byte back until EOF."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((SERVER, 0))
    ls.listen(4096)
    port_box.append(ls.getsockname()[1])
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    blob = open(blob_path, "rb")

    def bulk(c):
        c.setblocking(True)
        c.sendfile(blob, 0, size)
        c.close()

    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                c, _ = ls.accept()
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
            elif data[:1] == b"B":
                sel.unregister(s)
                threading.Thread(target=bulk, args=(s,), daemon=True).start()
            else:
                try:
                    s.send(data)
                except OSError:
                    pass


def tunnel(proxy_port, port, timeout=30):
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    s.sendall(b"CONNECT bench.test:%d HTTP/1.1\r\nHost: bench.test:%d\r\n\r\n" % (port, port))
    # the proxy sends nothing after its reply until the client speaks
    resp = b""
    while not resp.endswith(b"\r\n\r\n"):
        b = s.recv(4096)
        if not b:
            raise OSError("proxy closed: %r" % resp)
        resp += b
    if not resp.startswith(b"HTTP/1.1 200"):
        raise OSError("proxy said %r" % resp)
    return s


def receive_all(s, size):
    buf = bytearray(1 << 20)
    got = 0
    while got < size:
        n = s.recv_into(buf)
        if n == 0:
            break
        got += n
    return got


def bulk(sock_factory, size):
    s = sock_factory()
    t0 = time.perf_counter()
    s.sendall(b"B\n")
    got = receive_all(s, size)
    dt = time.perf_counter() - t0
    s.close()
    assert got == size, (got, size)
    return size / dt


def first_byte(sock_factory, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        s = sock_factory()
        s.sendall(b"E")
        assert s.recv(1) == b"E"
        times.append(time.perf_counter() - t0)
        s.close()
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--setup-samples", type=int, default=500)
    ap.add_argument("--concurrent", type=int, default=1000)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    tmp = tempfile.mkdtemp(prefix="egress-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    blob = os.path.join(tmp, "blob")
    with open(blob, "wb") as f:
        f.truncate(a.bytes)
    box = []
    threading.Thread(target=serve, args=(box, blob, a.bytes), daemon=True).start()
    while not box:
        time.sleep(0.01)
    port = box[0]

    harness = os.path.join(a.build, "tests", "net", "egress_harness")
    proxy = subprocess.Popen([harness, "--allow-domain", "bench.test", "--host",
                              "bench.test=" + SERVER, "--allow-cidr", SERVER + "/32",
                              "--allow-port", str(port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = json.loads(proxy.stdout.readline())
    # reports must be read or the proxy blocks on its report socket
    threading.Thread(target=lambda: [None for _ in proxy.stdout], daemon=True).start()
    pp = ready["http"]

    def direct():
        return socket.create_connection((SERVER, port), timeout=30)

    def proxied():
        return tunnel(pp, port)

    res = {}
    d = [bulk(direct, a.bytes) for _ in range(a.rounds)]
    p = [bulk(proxied, a.bytes) for _ in range(a.rounds)]
    res["bulk_direct_MBps"] = round(statistics.median(d) / 1e6)
    res["bulk_proxy_MBps"] = round(statistics.median(p) / 1e6)
    res["bulk_ratio"] = round(statistics.median(p) / statistics.median(d), 3)

    fd = first_byte(direct, a.setup_samples)
    fp = first_byte(proxied, a.setup_samples)
    res["setup_direct_us"] = round(fd * 1e6, 1)
    res["setup_proxy_us"] = round(fp * 1e6, 1)
    res["setup_added_us"] = round((fp - fd) * 1e6, 1)

    socks, errors = [], 0
    for _ in range(a.concurrent):
        try:
            socks.append(tunnel(pp, port))
        except OSError:
            errors += 1
    for s in socks:
        try:
            s.sendall(b"E")
        except OSError:
            errors += 1
    for s in socks:
        try:
            if s.recv(1) != b"E":
                errors += 1
        except OSError:
            errors += 1
    res["concurrent"] = a.concurrent
    res["concurrent_errors"] = errors
    status = open("/proc/%d/status" % ready["pid"]).read()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            res["proxy_peak_rss_kib"] = int(line.split()[1])
    for s in socks:
        s.close()

    tp = shutil.which("tinyproxy")
    if tp:
        conf = os.path.join(tmp, "tinyproxy.conf")
        tport = 18888
        with open(conf, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 600\nMaxClients 2000\nConnectPort %d\n"
                    "LogLevel Critical\n" % (tport, port))
        t = subprocess.Popen([tp, "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        try:
            def via_tiny():
                s = socket.create_connection(("127.0.0.1", tport), timeout=30)
                s.sendall(b"CONNECT %s:%d HTTP/1.1\r\n\r\n" % (SERVER.encode(), port))
                r = b""
                while not r.endswith(b"\r\n\r\n"):
                    r += s.recv(4096)
                assert b" 200 " in r.split(b"\r\n")[0], r
                return s
            tt = [bulk(via_tiny, a.bytes) for _ in range(a.rounds)]
            res["bulk_tinyproxy_MBps"] = round(statistics.median(tt) / 1e6)
            res["setup_tinyproxy_us"] = round(first_byte(via_tiny, a.setup_samples) * 1e6, 1)
        except Exception as e:  # noqa: BLE001 -- a comparison, not the subject
            res["tinyproxy_error"] = str(e)
        t.kill()
        t.wait()

    proxy.stdin.close()
    proxy.wait()
    shutil.rmtree(tmp)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
