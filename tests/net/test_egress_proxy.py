"""End-to-end tests of the egress proxy process alone (no sandbox).

tests/net/egress_harness creates the proxy's listening sockets on 127.0.0.1
in the host namespace and starts the proxy with al_egress_start, as the
supervisor does; it prints every report as a JSON line. Real clients (curl,
python ssl, raw sockets) drive it against servers on 127.0.0.2-127.0.0.5.
Only loopback traffic.

    BUILD_DIR=build /usr/bin/python3 -m pytest tests/net/test_egress_proxy.py

It runs as root and as an unprivileged user (the transparent-path and
memory-scan tests need root and skip otherwise).
"""
import hashlib
import http.server
import json
import os
import queue
import socket
import socketserver
import ssl
import struct
import subprocess
import threading
import time

import pytest

BUILD = os.environ.get("BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
HARNESS = os.path.join(BUILD, "tests", "net", "egress_harness")

WEB = "127.0.0.2"      # allowed via allow_cidr, named web.test
TLS = "127.0.0.3"      # allowed via allow_cidr, named tls.test
CANARY = "127.0.0.4"   # NOT in allow_cidr: must never be contacted
DNS = "127.0.0.5"      # the upstream resolver the proxy uses (logs queries)


# ---------------------------------------------------------------- servers

class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, x):
        with self.lock:
            self.items.append(x)

    def snapshot(self):
        with self.lock:
            return list(self.items)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _reply(self, body):
        self.server.log.add((self.command, self.path, self.headers.get("Host"), body))
        out = b"hello from " + self.server.server_address[0].encode() + b" " + self.path.encode()
        if body:
            out = hashlib.sha256(body).hexdigest().encode()
        if self.path.startswith("/big"):
            out = bytes(range(256)) * 4096  # 1 MiB
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self._reply(b"")

    def do_POST(self):
        te = self.headers.get("Transfer-Encoding", "")
        body = b""
        if te.lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._reply(body)


class HTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_http(addr, port, log, tls_ctx=None):
    srv = HTTPServer((addr, port), Handler)
    srv.log = log
    if tls_ctx is not None:
        srv.socket = tls_ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class TcpCanary:
    """Accepts and records every connection (it must see none)."""

    def __init__(self, addr, ports):
        self.hits = Log()
        self.socks = []
        for port in ports:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, port))
            s.listen(64)
            self.socks.append(s)
            threading.Thread(target=self._run, args=(s,), daemon=True).start()

    def _run(self, s):
        while True:
            try:
                c, peer = s.accept()
            except OSError:
                return
            self.hits.add(peer)
            c.close()


def dns_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(name, qtype=1, qid=0x4242):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack(">HH", qtype, 1)


def dns_parse_answer(msg):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    while msg[off] != 0:
        off += 1 + msg[off]
    off += 5
    addrs = []
    for _ in range(an):
        if msg[off] & 0xC0 == 0xC0:
            off += 2
        else:
            while msg[off] != 0:
                off += 1 + msg[off]
            off += 1
        rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        off += rdlen
        if rtype == 1:
            addrs.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            addrs.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return qid, flags & 0xF, addrs


class UpstreamDNS:
    """The resolver the proxy is configured with: logs every query it gets."""

    ZONE = {"upstream.test": "127.0.0.2", "ssrf.test": "127.0.0.1", "meta.test": "169.254.169.254"}

    def __init__(self, addr, port):
        self.queries = Log()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, port))
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            qid = msg[:2]
            off, labels = 12, []
            while msg[off] != 0:
                labels.append(msg[off + 1:off + 1 + msg[off]].decode("latin-1"))
                off += 1 + msg[off]
            qtype = struct.unpack(">H", msg[off + 1:off + 3])[0]
            name = ".".join(labels).lower()
            self.queries.add((name, qtype))
            question = msg[12:off + 5]
            addr = self.ZONE.get(name)
            if addr is None:
                resp = qid + struct.pack(">HHHHH", 0x8183, 1, 0, 0, 0) + question
            elif qtype == 1:
                resp = (qid + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + question +
                        struct.pack(">HHHIH", 0xC00C, 1, 1, 30, 4) + socket.inet_aton(addr))
            else:
                resp = qid + struct.pack(">HHHHH", 0x8180, 1, 0, 0, 0) + question
            self.sock.sendto(resp, peer)


# ---------------------------------------------------------------- the proxy

class Proxy:
    def __init__(self, args):
        self.proc = subprocess.Popen([HARNESS] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.q = queue.Queue()
        self.reports = []
        line = self.proc.stdout.readline()
        self.ready = json.loads(line)
        assert self.ready["ready"], line
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(json.loads(line))

    def drain(self, settle=0.3):
        time.sleep(settle)
        while True:
            try:
                self.reports.append(self.q.get_nowait())
            except queue.Empty:
                return self.reports

    def wait_for(self, pred, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in self.drain(0.05):
                if pred(r):
                    return r
        raise AssertionError("no such report; got:\n" + "\n".join(map(json.dumps, self.reports[-20:])))

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if not os.path.exists(HARNESS):
        pytest.skip("egress_harness not built")
    d = tmp_path_factory.mktemp("egress")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=tls.test",
                    "-addext", "subjectAltName=DNS:tls.test,DNS:other.test"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    web_log, tls_log = Log(), Log()
    # ephemeral ports: other test runs on this machine may use the same addresses
    servers = [start_http(WEB, 0, web_log), start_http(TLS, 0, tls_log, ctx)]
    PORTS["web"] = servers[0].server_address[1]
    PORTS["tls"] = servers[1].server_address[1]
    canary = TcpCanary(CANARY, [PORTS["web"], PORTS["tls"]])
    upstream = UpstreamDNS(DNS, 0)
    args = ["--listen", "127.0.0.1"]
    for n in ["web.test", "tls.test", "*.wild.test", "upstream.test", "ssrf.test", "meta.test",
              "canary.test"]:
        args += ["--allow-domain", n]
    args += ["--deny-domain", "bad.wild.test"]
    for h in ["web.test=127.0.0.2", "tls.test=127.0.0.3", "a.wild.test=127.0.0.2",
              "bad.wild.test=127.0.0.2", "canary.test=127.0.0.4", "evil.test=127.0.0.2"]:
        args += ["--host", h]
    args += ["--allow-port", u("8000"), "--allow-port", u("8443"),
             "--allow-cidr", "127.0.0.2/32", "--allow-cidr", "127.0.0.3/32",
             "--resolver", "%s:%d" % (DNS, upstream.sock.getsockname()[1])]
    proxy = Proxy(args)
    yield dict(proxy=proxy, web_log=web_log, tls_log=tls_log, canary=canary, upstream=upstream,
               cert=cert, dir=d)
    proxy.stop()
    for s in servers:
        s.shutdown()


PORTS = {}


def u(s):
    """The test servers listen on ephemeral ports: 8000 stands for the web
    server's, 8443 for the TLS server's, 8001 for a port the policy lacks."""
    rep = {"8000": str(PORTS["web"]), "8443": str(PORTS["tls"]), "8001": "1"}
    for k, v in rep.items():
        s = s.replace(k.encode(), v.encode()) if isinstance(s, bytes) else s.replace(k, v)
    return s


def curl(*args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", "15"] + list(args), capture_output=True,
                          timeout=timeout)


def http_proxy(env):
    return "http://127.0.0.1:%d" % env["proxy"].ready["http"]


def socks_proxy(env):
    return "socks5h://127.0.0.1:%d" % env["proxy"].ready["socks"]


def raw(env, data, port_key="http", read_until_close=True, timeout=10):
    s = socket.create_connection(("127.0.0.1", env["proxy"].ready[port_key]), timeout=timeout)
    s.sendall(u(data))
    out = b""
    while read_until_close:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        out += b
    s.close()
    return out


def find(env, **kw):
    def pred(r):
        return all(r.get(k) == v for k, v in kw.items())
    return env["proxy"].wait_for(pred)


# ---------------------------------------------------------------- tests

def test_http_forward_byte_exact_and_reported(env):
    out = env["dir"] / "big"
    r = curl("-x", http_proxy(env), "-o", str(out), "-w", "%{size_header} %{size_download}",
             u("http://web.test:8000/big"))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == bytes(range(256)) * 4096
    hdr, body = map(int, r.stdout.split())
    c = find(env, kind="connect", name="web.test", allowed=True, proto="http")
    assert c["addr"] == WEB and c["port"] == PORTS["web"] and c["sni"] == "web.test"
    close = find(env, kind="close", conn_id=c["conn_id"])
    assert close["bytes_down"] == hdr + body
    assert close["bytes_up"] > 0
    # the origin got an origin-form request with our Connection: close
    method, path, host, _ = env["web_log"].snapshot()[-1]
    assert (method, path, host) == ("GET", "/big", u("web.test:8000"))


def test_http_post_bodies_arrive_exact(env):
    data = os.urandom(300000)
    f = env["dir"] / "post"
    f.write_bytes(data)
    want = hashlib.sha256(data).hexdigest().encode()
    r = curl("-x", http_proxy(env), "--data-binary", "@" + str(f), u("http://web.test:8000/post"))
    assert r.returncode == 0 and r.stdout == want, r.stderr
    r = curl("-x", http_proxy(env), "-H", "Transfer-Encoding: chunked", "--data-binary",
             "@" + str(f), u("http://web.test:8000/chunked"))
    assert r.returncode == 0 and r.stdout == want, r.stderr


def test_denied_name_gets_403_and_no_contact(env):
    before = len(env["canary"].hits.snapshot())
    r = curl("-x", http_proxy(env), "-w", "%{http_code}", "-o", "/dev/null", u("http://notallowed.test:8000/"))
    assert r.stdout == b"403"
    find(env, kind="connect", name="notallowed.test", allowed=False, reason="not in allow_domains")
    # the name resolves to the canary but is not allowed there either (address check)
    r = curl("-x", http_proxy(env), "-w", "%{http_code}", "-o", "/dev/null", u("http://canary.test:8000/"))
    assert r.stdout == b"403"
    find(env, kind="connect", name="canary.test", allowed=False, reason="loopback address")
    assert len(env["canary"].hits.snapshot()) == before


def test_wildcards_and_near_misses(env):
    def code(url):
        return curl("-x", http_proxy(env), "-w", "%{http_code}", "-o", "/dev/null", url).stdout
    assert code(u("http://a.wild.test:8000/")) == b"200"
    assert code(u("http://bad.wild.test:8000/")) == b"403"
    find(env, kind="connect", name="bad.wild.test", reason="in deny_domains")
    assert code(u("http://wild.test:8000/")) == b"403"
    assert code(u("http://wild.test.evil.test:8000/")) == b"403"
    assert code(u("http://badweb.test:8000/")) == b"403"
    assert code(u("http://WEB.TEST.:8000/")) == b"200"


def test_ports_and_raw_addresses(env):
    before = len(env["canary"].hits.snapshot())
    r = curl("-x", http_proxy(env), "-w", "%{http_code}", "-o", "/dev/null", u("http://web.test:8001/"))
    assert r.stdout == b"403"
    find(env, kind="connect", name="web.test", port=1, reason="port not in allow_ports")
    r = curl("-x", http_proxy(env), u("http://127.0.0.2:8000/raw"))
    assert r.returncode == 0 and r.stdout.startswith(b"hello from 127.0.0.2"), r.stderr
    r = curl("-x", http_proxy(env), "-w", "%{http_code}", "-o", "/dev/null", u("http://127.0.0.4:8000/"))
    assert r.stdout == b"403"
    find(env, kind="connect", name="127.0.0.4", reason="raw address not in allow_cidr")
    assert len(env["canary"].hits.snapshot()) == before


def test_resolved_names_and_ssrf(env):
    r = curl("-x", http_proxy(env), u("http://upstream.test:8000/up"))
    assert r.returncode == 0 and r.stdout.startswith(b"hello from 127.0.0.2"), r.stderr
    assert ("upstream.test", 1) in env["upstream"].queries.snapshot()
    for name, reason in [("ssrf.test", "loopback address"), ("meta.test", "metadata address")]:
        r = curl("-x", http_proxy(env), "-w", "%{http_code}", "-o", "/dev/null", u("http://%s:8000/") % name)
        assert r.stdout == b"403"
        find(env, kind="connect", name=name, allowed=False, reason=reason)


def test_connect_tls_and_sni(env):
    r = curl("-x", http_proxy(env), "--cacert", env["cert"], u("https://tls.test:8443/secure"))
    assert r.returncode == 0 and r.stdout == b"hello from 127.0.0.3 /secure", r.stderr
    c = find(env, kind="connect", name="tls.test", proto="https-connect", allowed=True)
    assert c["sni"] == "tls.test" and c["addr"] == TLS


def tunnel(env, name, sni):
    s = socket.create_connection(("127.0.0.1", env["proxy"].ready["http"]), timeout=10)
    s.sendall(u(b"CONNECT %s:8443 HTTP/1.1\r\nHost: %s:8443\r\n\r\n") % (name.encode(), name.encode()))
    resp = b""
    while b"\r\n\r\n" not in resp:
        resp += s.recv(1)
    assert resp.startswith(b"HTTP/1.1 200"), resp
    ctx = ssl.create_default_context(cafile=env["cert"])
    return ctx.wrap_socket(s, server_hostname=sni)


def test_sni_mismatch_after_connect_is_refused(env):
    before = len(env["tls_log"].snapshot())
    with pytest.raises((ssl.SSLError, OSError)):
        tunnel(env, "tls.test", "other.test")
    find(env, kind="connect", name="tls.test", sni="other.test", allowed=False, reason="sni-mismatch")
    # and the matching name still works over the same path
    t = tunnel(env, "tls.test", "tls.test")
    t.sendall(b"GET /ok HTTP/1.1\r\nHost: tls.test\r\nConnection: close\r\n\r\n")
    assert b"hello from 127.0.0.3 /ok" in t.recv(65536) + t.recv(65536)
    t.close()
    assert len(env["tls_log"].snapshot()) == before + 1


def test_socks5h(env):
    r = curl("-x", socks_proxy(env), u("http://web.test:8000/socks"))
    assert r.returncode == 0 and r.stdout == b"hello from 127.0.0.2 /socks", r.stderr
    find(env, kind="connect", proto="socks5", name="web.test", allowed=True)
    r = curl("-x", socks_proxy(env), "--cacert", env["cert"], u("https://tls.test:8443/s"))
    assert r.returncode == 0 and r.stdout == b"hello from 127.0.0.3 /s", r.stderr
    find(env, kind="connect", proto="socks5", name="tls.test", sni="tls.test", allowed=True)
    r = curl("-x", socks_proxy(env), u("http://notallowed.test:8000/"))
    assert r.returncode != 0
    find(env, kind="connect", proto="socks5", name="notallowed.test", allowed=False)


def test_socks5_bind_and_udp_associate_refused(env):
    for cmd, reason in [(2, "bind-not-supported"), (3, "udp-associate-not-supported")]:
        out = raw(env, b"\x05\x01\x00" + bytes([5, cmd, 0, 1, 127, 0, 0, 2, 0x1f, 0x40]), "socks")
        assert out[:2] == b"\x05\x00" and out[2:4] == b"\x05\x07", out
        find(env, kind="error", proto="socks5", reason=reason)


def test_smuggling_refused(env):
    before = len(env["web_log"].snapshot())
    cases = [
        (b"POST http://web.test:8000/ HTTP/1.1\r\nHost: web.test:8000\r\nContent-Length: 4\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "content-length-with-transfer-encoding"),
        (b"POST http://web.test:8000/ HTTP/1.1\r\nHost: web.test:8000\r\nContent-Length: 4\r\n"
         b"Content-Length: 5\r\n\r\nabcde", "duplicate-content-length"),
        (b"POST http://web.test:8000/ HTTP/1.1\r\nHost: web.test:8000\r\nX: a\r\n"
         b" Transfer-Encoding: chunked\r\n\r\n", "obs-fold"),
        (b"GET http://web.test:8000/ HTTP/1.1\r\nHost: evil.test:8000\r\n\r\n", "host-mismatch"),
    ]
    for data, reason in cases:
        out = raw(env, data)
        assert out.startswith(b"HTTP/1.1 400 "), out
        find(env, kind="error", reason=reason)
    # bad chunk framing after an accepted head: 400, the connection is cut
    out = raw(env, b"POST http://web.test:8000/c HTTP/1.1\r\nHost: web.test:8000\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out
    find(env, kind="error", reason="bad-chunking")
    time.sleep(0.3)
    # the origin never saw a complete smuggled request
    assert [x for x in env["web_log"].snapshot()[before:] if x[1] == "/c"] == []


def test_pipelined_second_request_checked_on_its_own(env):
    before = len(env["web_log"].snapshot())
    out = raw(env, b"GET http://web.test:8000/first HTTP/1.1\r\nHost: web.test:8000\r\n\r\n"
                   b"GET http://evil.test:8000/second HTTP/1.1\r\nHost: evil.test:8000\r\n\r\n")
    assert out.startswith(b"HTTP/1.0 200") or out.startswith(b"HTTP/1.1 200"), out
    assert b"hello from 127.0.0.2 /first" in out
    assert b"HTTP/1.1 403 Forbidden" in out
    find(env, kind="connect", name="evil.test", allowed=False, reason="not in allow_domains")
    paths = [x[1] for x in env["web_log"].snapshot()[before:]]
    assert paths == ["/first"]
    # two allowed requests pipelined are both served, in order
    out = raw(env, b"GET http://web.test:8000/a HTTP/1.1\r\nHost: web.test:8000\r\n\r\n"
                   b"GET http://a.wild.test:8000/b HTTP/1.1\r\nHost: a.wild.test:8000\r\n\r\n")
    assert out.index(b"/a") < out.index(b"/b"), out


def test_oversized_and_garbage_heads(env):
    out = raw(env, b"GET http://web.test:8000/ HTTP/1.1\r\nHost: web.test:8000\r\nX: " +
              b"a" * 20000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 "), out[:100]
    find(env, kind="error", reason="head-too-large")
    out = raw(env, b"\x16\x03\x01\x00\x05hello\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out
    out = raw(env, b"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out
    find(env, kind="error", reason="not-absolute-form")


def test_slow_partial_clients_do_not_stall_others(env):
    slow = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", env["proxy"].ready["http"]))
        s.sendall(u(b"GET http://web.test:8000/ HTTP/1.1\r\nHo"))
        slow.append(s)
    s5 = socket.create_connection(("127.0.0.1", env["proxy"].ready["socks"]))
    s5.sendall(b"\x05")
    for i in range(5):
        r = curl("-x", http_proxy(env), u("http://web.test:8000/fast%d") % i)
        assert r.returncode == 0 and r.stdout == b"hello from 127.0.0.2 /fast%d" % i
        r = curl("-x", socks_proxy(env), u("http://web.test:8000/fast%d") % i)
        assert r.returncode == 0
    for s in slow:
        s.close()
    s5.close()


def dns_udp(env, msg):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(msg, ("127.0.0.1", env["proxy"].ready["dns"]))
    out = s.recv(4096)
    s.close()
    return out


def dns_tcp(env, msg):
    s = socket.create_connection(("127.0.0.1", env["proxy"].ready["dns_tcp"]), timeout=5)
    s.sendall(struct.pack(">H", len(msg)) + msg)
    n = struct.unpack(">H", s.recv(2))[0]
    out = b""
    while len(out) < n:
        out += s.recv(n - len(out))
    s.close()
    return out


def test_dns_answers_allowed_names_only_and_leaks_nothing(env):
    qid, rcode, addrs = dns_parse_answer(dns_udp(env, dns_query("web.test")))
    assert (qid, rcode, addrs) == (0x4242, 0, [WEB])
    find(env, kind="dns", name="web.test", qtype="A", allowed=True, answer=WEB)
    qid, rcode, addrs = dns_parse_answer(dns_tcp(env, dns_query("Upstream.Test.", qid=7)))
    assert (qid, rcode, addrs) == (7, 0, [WEB])
    find(env, kind="dns", proto="dns-tcp", name="Upstream.Test", allowed=True)
    before = env["upstream"].queries.snapshot()
    for name in ["notallowed.test", "secret-data-4f2a.exfil.test", "wild.test", "bad.wild.test"]:
        _, rcode, addrs = dns_parse_answer(dns_udp(env, dns_query(name)))
        assert rcode == 3 and addrs == []
        find(env, kind="dns", name=name, allowed=False, answer="NXDOMAIN")
    # a TXT query for an allowed name is answered empty here, not forwarded
    _, rcode, addrs = dns_parse_answer(dns_udp(env, dns_query("upstream.test", qtype=16)))
    assert rcode == 0 and addrs == []
    # names that resolve to refused addresses are not given out
    _, rcode, addrs = dns_parse_answer(dns_udp(env, dns_query("ssrf.test")))
    assert rcode == 3 and addrs == []
    find(env, kind="dns", name="ssrf.test", allowed=False, reason="loopback address")
    time.sleep(0.3)
    new = env["upstream"].queries.snapshot()[len(before):]
    assert all(n in ("ssrf.test",) for n, _ in new), new
    # malformed: FORMERR, reported
    bad = dns_query("web.test")[:-1]
    out = dns_udp(env, bad)
    assert out[3] & 0xF == 1
    find(env, kind="dns", reason="malformed-query")


def proxy_status(pid):
    status = open("/proc/%d/status" % pid).read()
    return dict((k, v.strip()) for k, v in (l.split(":\t", 1) for l in status.splitlines() if ":\t" in l))


def test_proxy_is_confined(env):
    pid = env["proxy"].ready["pid"]
    # the proxy confines itself before its loop runs; give it the moment
    deadline = time.time() + 10
    while proxy_status(pid)["Seccomp"] != "2" and time.time() < deadline:
        time.sleep(0.02)
    fields = proxy_status(pid)
    assert fields["Seccomp"] == "2"
    assert fields["NoNewPrivs"] == "1"
    # only sockets, pipes and anonymous inodes (epoll), stdio on /dev/null;
    # no other file of any kind. Not dumpable: only root may look.
    if os.geteuid() != 0:
        with pytest.raises(PermissionError):
            os.listdir("/proc/%d/fd" % pid)
        return
    for fd in os.listdir("/proc/%d/fd" % pid):
        target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        if int(fd) <= 2:
            assert target == "/dev/null", (fd, target)
        else:
            assert target.startswith(("socket:", "pipe:", "anon_inode:")), target


def test_proxy_holds_none_of_its_parents_memory(tmp_path):
    """The proxy is a fresh image (re-executed), not a fork of the
    supervisor: a secret in the parent's memory and environment (like the
    log signing key) is nowhere in the proxy's memory."""
    if os.geteuid() != 0:
        pytest.skip("reading another process's memory needs root")
    canary = "NETPROXY-CANARY-" + os.urandom(12).hex()
    p = subprocess.Popen([HARNESS, "--listen", "127.0.0.1"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env=dict(os.environ, NETPROXY_CANARY=canary))
    try:
        ready = json.loads(p.stdout.readline())
        pid = ready["pid"]
        deadline = time.time() + 10
        while proxy_status(pid)["Seccomp"] != "2" and time.time() < deadline:
            time.sleep(0.02)
        assert open("/proc/%d/cmdline" % pid, "rb").read() == b"airlock-egress-proxy\0"
        assert open("/proc/%d/environ" % pid, "rb").read() == b""
        # the harness holds the canary itself (so the scan below would find it there)
        assert scan_memory(p.pid, canary.encode())
        assert not scan_memory(pid, canary.encode())
    finally:
        p.stdin.close()
        p.wait(timeout=10)


def scan_memory(pid, needle):
    found = False
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" not in parts[1] or (len(parts) > 5 and parts[5] in ("[vvar]", "[vsyscall]")):
                continue
            # AddressSanitizer's shadow is terabytes of reserved address
            # space (sanitizer builds only): nothing of the process's own
            # data lives there, and it cannot be read in any useful time
            if hi - lo > (1 << 32):
                continue
            # chunked, overlapping by the needle's length, so a match
            # across a chunk boundary is still found
            pos, tail = lo, b""
            while pos < hi:
                try:
                    mem.seek(pos)
                    chunk = mem.read(min(1 << 24, hi - pos))
                except OSError:
                    break
                if not chunk:
                    break
                if needle in tail + chunk:
                    found = True
                    break
                tail = chunk[-len(needle):]
                pos += len(chunk)
    return found


def test_proxy_dies_with_its_parent(tmp_path):
    p = subprocess.Popen([HARNESS, "--listen", "127.0.0.1"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    ready = json.loads(p.stdout.readline())
    p.kill()
    p.wait()
    deadline = time.time() + 5
    while time.time() < deadline and os.path.exists("/proc/%d" % ready["pid"]):
        try:
            st = open("/proc/%d/stat" % ready["pid"]).read()
            if ") Z " in st:
                break
        except OSError:
            break
        time.sleep(0.05)
    alive = os.path.exists("/proc/%d/stat" % ready["pid"]) and ") Z " not in open("/proc/%d/stat" % ready["pid"]).read()
    assert not alive


# ---------------------------------------------------------------- transparent path
#
# As in a sandbox: the proxy's listening sockets live in a network namespace
# of their own (the "sandbox"), where nft redirects TCP to 127.0.0.2-127.0.0.9
# to the transparent port; the proxy connects out from the host namespace,
# where the servers are. Root only (setns, nft).

CLIENT = r'''
import json, socket, ssl, struct, sys, time
args = json.loads(sys.argv[1])
out = {}
def q(name):
    m = struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0)
    for l in name.split("."):
        m += bytes([len(l)]) + l.encode()
    m += b"\0\0\1\0\1"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
    s.sendto(m, ("127.0.0.1", args["dns"]))
    r = s.recv(4096)
    return [socket.inet_ntoa(r[i:i + 4]) for i in range(len(r) - 4, 11, -16)][:1] if r[7] else []
def http(addr, port, host, path):
    s = socket.create_connection((addr, port), timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path.encode(), host.encode()))
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except OSError:
            break
        if not b:
            break
        data += b
    return data.decode("latin-1")
def tls(addr, port, sni):
    ctx = ssl.create_default_context(cafile=args["cert"])
    try:
        s = ctx.wrap_socket(socket.create_connection((addr, port), timeout=10), server_hostname=sni)
        s.sendall(b"GET /tls HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni.encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                return data.decode("latin-1")
            data += b
    except (OSError, ssl.SSLError) as e:
        return "error: %s" % e
def silent(addr, port, then_get):
    s = socket.create_connection((addr, port), timeout=10)
    time.sleep(4)  # longer than the proxy waits for a first byte
    if then_get:
        s.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data.decode("latin-1")
            data += b
    except OSError as e:
        return "error: %s" % e
W, T, C = args["web"], args["tls"], args["canary"]
out["dns_web"] = q("web.test")
out["dns_tls"] = q("tls.test")
out["dns_canary"] = q("canary.test")
out["http_ok"] = http("127.0.0.2", W, "web.test:%d" % W, "/t1")
out["http_unlooked"] = http("127.0.0.2", W, "a.wild.test", "/t2")
out["tls_ok"] = tls("127.0.0.3", T, "tls.test")
out["tls_mismatch"] = tls("127.0.0.3", T, "web.test")
out["canary_named"] = http("127.0.0.4", W, "canary.test", "/t3")
out["raw_allowed"] = silent("127.0.0.2", W, True)
out["raw_canary"] = silent("127.0.0.4", W, False)
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def tenv(env):
    if os.geteuid() != 0:
        pytest.skip("the transparent path test needs root (setns, nft)")
    holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "600"])
    ns = "/proc/%d/ns/net" % holder.pid
    deadline = time.time() + 5
    while time.time() < deadline and os.readlink(ns) == os.readlink("/proc/self/ns/net"):
        time.sleep(0.02)
    # never touch the host's own namespace
    assert os.readlink(ns) != os.readlink("/proc/self/ns/net")
    subprocess.run(["nsenter", "--net=" + ns, "ip", "link", "set", "lo", "up"], check=True)
    args = ["--netns", ns, "--transparent", "--listen", "127.0.0.1"]
    for n in ["web.test", "tls.test", "*.wild.test", "canary.test"]:
        args += ["--allow-domain", n]
    for h in ["web.test=127.0.0.2", "tls.test=127.0.0.3", "a.wild.test=127.0.0.2",
              "canary.test=127.0.0.4"]:
        args += ["--host", h]
    args += ["--allow-port", str(PORTS["web"]), "--allow-port", str(PORTS["tls"]),
             "--allow-cidr", "127.0.0.2/32", "--allow-cidr", "127.0.0.3/32"]
    proxy = Proxy(args)
    rules = ("add table ip netproxy_test; "
             "add chain ip netproxy_test out { type nat hook output priority -100; }; "
             "add rule ip netproxy_test out ip daddr 127.0.0.2-127.0.0.9 tcp dport != 0 "
             "redirect to :%d" % proxy.ready["transparent"])
    assert os.readlink(ns) != os.readlink("/proc/self/ns/net")
    subprocess.run(["nsenter", "--net=" + ns, "nft", rules], check=True)
    yield dict(proxy=proxy, ns=ns)
    proxy.stop()
    holder.kill()
    holder.wait()


def test_transparent_path(env, tenv):
    before_canary = len(env["canary"].hits.snapshot())
    cargs = json.dumps(dict(dns=tenv["proxy"].ready["dns"], web=PORTS["web"], tls=PORTS["tls"],
                            canary=PORTS["web"], cert=env["cert"]))
    r = subprocess.run(["nsenter", "--net=" + tenv["ns"], "/usr/bin/python3", "-c", CLIENT, cargs],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    p = tenv["proxy"]

    def rep(**kw):
        return p.wait_for(lambda x: all(x.get(k) == v for k, v in kw.items()))

    assert out["dns_web"] == [WEB] and out["dns_tls"] == [TLS]
    assert out["dns_canary"] == []  # 127.0.0.4 is refused: not given out
    # a name our DNS gave out for that address, from the Host header
    assert "hello from 127.0.0.2 /t1" in out["http_ok"], out["http_ok"]
    rep(kind="connect", proto="transparent", name="web.test", addr=WEB, allowed=True)
    # an allowed name never looked up through our DNS: refused
    assert "hello" not in out["http_unlooked"]
    rep(kind="connect", proto="transparent", name="a.wild.test", allowed=False, reason="sni-mismatch")
    # TLS: SNI matches what DNS gave out for 127.0.0.3; another name does not
    assert "hello from 127.0.0.3 /tls" in out["tls_ok"], out["tls_ok"]
    rep(kind="connect", proto="transparent", name="tls.test", sni="tls.test", allowed=True)
    assert out["tls_mismatch"].startswith("error"), out["tls_mismatch"]
    rep(kind="connect", proto="transparent", name="web.test", sni="web.test", addr=TLS,
        allowed=False, reason="sni-mismatch")
    # no name at all: only addresses allow_cidr names
    assert "hello from 127.0.0.2 /late" in out["raw_allowed"], out["raw_allowed"]
    rep(kind="connect", proto="transparent", name=WEB, allowed=True)
    rep(kind="connect", proto="transparent", name="127.0.0.4", allowed=False,
        reason="raw address not in allow_cidr")
    assert "hello" not in out["canary_named"]
    assert len(env["canary"].hits.snapshot()) == before_canary


# ---------------------------------------------------------------- chaos

def chaos_run(env, seed):
    args = ["--listen", "127.0.0.1", "--allow-domain", "web.test", "--host", "web.test=127.0.0.2",
            "--allow-port", str(PORTS["web"]), "--allow-cidr", "127.0.0.2/32",
            "--chaos-seed", str(seed), "--chaos-latency-ms", "5", "--chaos-jitter-ms", "2",
            "--chaos-loss", "0.03", "--chaos-reset", "0.01"]
    proxy = Proxy(args)
    ok = 0
    try:
        for i in range(4):
            out = env["dir"] / ("chaos%d" % i)
            r = curl("-x", "http://127.0.0.1:%d" % proxy.ready["http"], "-o", str(out),
                     u("http://web.test:8000/big%d" % i))
            if r.returncode == 0:
                # what arrives is exact, however late
                assert out.read_bytes() == bytes(range(256)) * 4096
                ok += 1
        reports = proxy.drain()
    finally:
        proxy.stop()
    return ok, [(r["conn_id"], r["chaos"]) for r in reports if r.get("kind") == "chaos"]


def test_chaos_same_seed_same_schedule(env):
    ok1, a = chaos_run(env, 1234)
    ok2, b = chaos_run(env, 1234)
    assert a == b and ok1 == ok2
    assert any(c.startswith("latency 5ms jitter 2ms") for _, c in a)
    assert any(c.startswith("stall 200ms down") for _, c in a), a
    _, c = chaos_run(env, 99)
    assert c != a


def test_socks5_address_written_as_a_name_is_an_address(env):
    before = len(env["canary"].hits.snapshot())
    port = PORTS["web"]
    req = b"\x05\x01\x00" + b"\x05\x01\x00\x03\x09127.0.0.4" + bytes([port >> 8, port & 0xFF])
    out = raw(env, req, "socks")
    assert out[:2] == b"\x05\x00" and out[2:4] == b"\x05\x02", out
    find(env, kind="connect", proto="socks5", name="127.0.0.4", allowed=False,
         reason="raw address not in allow_cidr")
    assert len(env["canary"].hits.snapshot()) == before


def test_garbage_on_every_listener_leaves_the_proxy_serving(env):
    import random
    rnd = random.Random(20261207)
    pid = env["proxy"].ready["pid"]
    for key in ("http", "socks", "dns_tcp"):
        for i in range(60):
            data = rnd.randbytes(rnd.choice([1, 7, 300, 5000, 20000]))
            if i % 3 == 0 and key == "http":
                data = b"GET http://web.test:8000/ HTTP/1.1\r\n" + data
            if i % 3 == 0 and key == "socks":
                data = b"\x05\x01\x00" + data
            try:
                s = socket.create_connection(("127.0.0.1", env["proxy"].ready[key]), timeout=5)
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(2)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
                s.close()
            except OSError:
                pass
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(300):
        n = rnd.choice([0, 1, 12, 13, 40, 512, 3000])
        us.sendto(rnd.randbytes(n), ("127.0.0.1", env["proxy"].ready["dns"]))
    us.close()
    st = open("/proc/%d/stat" % pid).read()
    assert ") Z " not in st and ") X " not in st
    r = curl("-x", http_proxy(env), u("http://web.test:8000/after-garbage"))
    assert r.returncode == 0 and r.stdout == b"hello from 127.0.0.2 /after-garbage", r.stderr


class HTTP6Server(HTTPServer):
    address_family = socket.AF_INET6


def test_ipv6_destinations(env):
    log = Log()
    srv = HTTP6Server(("::1", 0), Handler)
    srv.log = log
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    proxy = Proxy(["--listen", "127.0.0.1", "--allow-port", str(port), "--allow-cidr", "::1/128",
                   "--allow-domain", "six.test", "--host", "six.test=::1"])
    try:
        hp = "http://127.0.0.1:%d" % proxy.ready["http"]
        r = curl("-x", hp, "http://[::1]:%d/v6raw" % port)
        assert r.returncode == 0 and r.stdout == b"hello from ::1 /v6raw", r.stderr
        r = curl("-x", hp, "http://six.test:%d/v6name" % port)
        assert r.returncode == 0 and r.stdout == b"hello from ::1 /v6name", r.stderr
        r = curl("-x", "socks5h://127.0.0.1:%d" % proxy.ready["socks"], "http://six.test:%d/v6s" % port)
        assert r.returncode == 0 and r.stdout == b"hello from ::1 /v6s", r.stderr
        c = proxy.wait_for(lambda x: x.get("kind") == "connect" and x.get("name") == "six.test")
        assert c["addr"] == "::1" and c["allowed"]
        # ::1 is loopback: without allow_cidr it is refused, mapped forms too
        p2 = Proxy(["--listen", "127.0.0.1", "--allow-port", str(port), "--allow-domain", "six.test",
                    "--host", "six.test=::1"])
        try:
            hp2 = "http://127.0.0.1:%d" % p2.ready["http"]
            for url in ["http://six.test:%d/" % port, "http://[::1]:%d/" % port,
                        "http://[::ffff:127.0.0.2]:%d/" % port]:
                r = curl("-x", hp2, "-w", "%{http_code}", "-o", "/dev/null", url)
                assert r.stdout == b"403", (url, r.stdout)
        finally:
            p2.stop()
        assert [x[1] for x in log.snapshot()] == ["/v6raw", "/v6name", "/v6s"]
    finally:
        proxy.stop()
        srv.shutdown()


def test_plain_http_through_a_tunnel_must_name_the_tunnel(env):
    def through_tunnel(host):
        s = socket.create_connection(("127.0.0.1", env["proxy"].ready["http"]), timeout=10)
        s.sendall(u(b"CONNECT web.test:8000 HTTP/1.1\r\n\r\n"))
        resp = s.recv(4096)
        assert resp.startswith(b"HTTP/1.1 200"), resp
        s.sendall(b"GET /tunneled HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            try:
                b = s.recv(65536)
            except OSError:
                break
            if not b:
                break
            data += b
        s.close()
        return data
    before = len(env["web_log"].snapshot())
    assert b"hello from 127.0.0.2 /tunneled" in through_tunnel(u(b"web.test:8000"))
    assert through_tunnel(b"evil.test") == b""
    find(env, kind="connect", proto="https-connect", name="web.test", sni="evil.test",
         allowed=False, reason="sni-mismatch")
    assert len(env["web_log"].snapshot()) == before + 1


def test_error_after_a_kept_alive_request_describes_only_itself(env):
    out = raw(env, b"GET http://web.test:8000/ka HTTP/1.1\r\nHost: web.test:8000\r\n\r\n"
                   b"BAD REQUEST LINE\r\n\r\n")
    assert b"hello from 127.0.0.2 /ka" in out and b"HTTP/1.1 400 " in out, out
    e = find(env, kind="error", reason="malformed-request-line")
    assert e["name"] == "" and e["port"] == 0 and e["sni"] == "", e


def test_sigterm_is_an_orderly_stop(tmp_path):
    """SIGTERM is read in the loop (signalfd): the proxy sends what it has
    queued and exits 0, rather than dying in the middle of an iteration."""
    p = subprocess.Popen([HARNESS, "--listen", "127.0.0.1", "--allow-domain", "web.test",
                          "--host", "web.test=127.0.0.2", "--allow-port", str(PORTS.get("web", 80))],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = json.loads(p.stdout.readline())
    deadline = time.time() + 10
    while proxy_status(ready["pid"])["Seccomp"] != "2" and time.time() < deadline:
        time.sleep(0.02)
    p.stdin.close()
    lines = [json.loads(l) for l in p.stdout]
    p.wait(timeout=10)
    assert lines[-1] == {"exit": True, "signal": 0, "status": 0}, lines


def test_upstream_refusing_connections(env):
    # a port the policy allows but where nothing listens on the web address
    s = socket.socket()
    s.bind((WEB, 0))
    dead = s.getsockname()[1]
    s.close()
    proxy = Proxy(["--listen", "127.0.0.1", "--allow-domain", "web.test", "--host", "web.test=127.0.0.2",
                   "--allow-port", str(dead), "--allow-cidr", "127.0.0.2/32"])
    try:
        hp = "http://127.0.0.1:%d" % proxy.ready["http"]
        r = curl("-x", hp, "-w", "%{http_code}", "-o", "/dev/null", "http://web.test:%d/" % dead)
        assert r.stdout == b"502"
        proxy.wait_for(lambda x: x.get("kind") == "error" and x.get("reason") == "connect failed: Connection refused")
        # a tunnel was granted before the connect failed: it is closed
        t = socket.create_connection(("127.0.0.1", proxy.ready["http"]), timeout=10)
        t.sendall(b"CONNECT web.test:%d HTTP/1.1\r\n\r\n" % dead)
        assert t.recv(4096).startswith(b"HTTP/1.1 200")
        t.sendall(b"hello")
        assert t.recv(4096) == b""
        t.close()
        closes = [x for x in proxy.drain() if x.get("kind") == "close"]
        assert all(x["bytes_up"] == 0 and x["bytes_down"] == 0 for x in closes)
    finally:
        proxy.stop()


def test_dns_aaaa_for_an_ipv4_only_name_is_empty(env):
    _, rcode, addrs = dns_parse_answer(dns_udp(env, dns_query("web.test", qtype=28)))
    assert rcode == 0 and addrs == []
    find(env, kind="dns", name="web.test", qtype="AAAA", answer="NODATA")


def test_connection_limit_refuses_cleanly_and_recovers(env):
    """With few fds the proxy holds at most (NOFILE - 64) / 6 connections;
    beyond that it closes new ones with a report, and serves again once
    connections go away."""
    import resource

    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))
    args = ["--listen", "127.0.0.1", "--allow-domain", "web.test", "--host", "web.test=127.0.0.2",
            "--allow-port", str(PORTS["web"]), "--allow-cidr", "127.0.0.2/32"]
    p = subprocess.Popen([HARNESS] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         preexec_fn=low_nofile)
    proxy = Proxy.__new__(Proxy)
    proxy.proc, proxy.q, proxy.reports = p, queue.Queue(), []
    proxy.ready = json.loads(p.stdout.readline())
    threading.Thread(target=proxy._read, daemon=True).start()
    held = []
    try:
        for i in range(40):  # (160 - 64) / 6 = 16 fit
            s = socket.create_connection(("127.0.0.1", proxy.ready["http"]), timeout=10)
            s.sendall(u(b"CONNECT web.test:8000 HTTP/1.1\r\n\r\n"))
            held.append(s)
        proxy.wait_for(lambda x: x.get("kind") == "error" and x.get("reason") == "too many connections")
        for s in held:
            s.close()
        deadline = time.time() + 10
        while True:
            r = curl("-x", "http://127.0.0.1:%d" % proxy.ready["http"], u("http://web.test:8000/again"))
            if r.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.2)
        assert r.stdout == b"hello from 127.0.0.2 /again", r.stderr
    finally:
        proxy.stop()


CLIENT6 = r'''
import json, socket, struct, sys
args = json.loads(sys.argv[1])
def aaaa(name):
    m = struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0)
    for l in name.split("."):
        m += bytes([len(l)]) + l.encode()
    m += b"\0\0\x1c\0\1"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
    s.sendto(m, ("127.0.0.1", args["dns"]))
    r = s.recv(4096)
    return [socket.inet_ntop(socket.AF_INET6, r[-16:])] if r[7] else []
def get(host):
    s = socket.create_connection(("::1", args["port"]), timeout=10)
    s.sendall(b"GET /t6 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except OSError:
            break
        if not b:
            break
        data += b
    return data.decode("latin-1")
print(json.dumps({"dns": aaaa("six.test"), "ok": get("six.test"), "other": get("seven.test")}))
'''


def test_transparent_path_ipv6(env):
    if os.geteuid() != 0:
        pytest.skip("the transparent path test needs root (setns, nft)")
    if not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("no IPv6")
    log = Log()
    srv = HTTP6Server(("::1", 0), Handler)
    srv.log = log
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "600"])
    ns = "/proc/%d/ns/net" % holder.pid
    proxy = None
    try:
        deadline = time.time() + 5
        while time.time() < deadline and os.readlink(ns) == os.readlink("/proc/self/ns/net"):
            time.sleep(0.02)
        assert os.readlink(ns) != os.readlink("/proc/self/ns/net")  # never the host's
        subprocess.run(["nsenter", "--net=" + ns, "ip", "link", "set", "lo", "up"], check=True)
        proxy = Proxy(["--netns", ns, "--transparent6", "--listen", "127.0.0.1",
                       "--allow-domain", "six.test", "--allow-domain", "seven.test",
                       "--host", "six.test=::1", "--host", "seven.test=::1",
                       "--allow-port", str(port), "--allow-cidr", "::1/128"])
        rules = ("add table ip6 netproxy_test6; "
                 "add chain ip6 netproxy_test6 out { type nat hook output priority -100; }; "
                 "add rule ip6 netproxy_test6 out ip6 daddr ::1 tcp dport %d redirect to :%d"
                 % (port, proxy.ready["transparent6"]))
        assert os.readlink(ns) != os.readlink("/proc/self/ns/net")
        subprocess.run(["nsenter", "--net=" + ns, "nft", rules], check=True)
        r = subprocess.run(["nsenter", "--net=" + ns, "/usr/bin/python3", "-c", CLIENT6,
                            json.dumps(dict(dns=proxy.ready["dns"], port=port))],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["dns"] == ["::1"]
        assert "hello from ::1 /t6" in out["ok"], out
        proxy.wait_for(lambda x: x.get("kind") == "connect" and x.get("proto") == "transparent"
                       and x.get("name") == "six.test" and x.get("addr") == "::1" and x.get("allowed"))
        # seven.test is allowed and maps to ::1, but our DNS never gave it out
        assert "hello" not in out["other"]
        proxy.wait_for(lambda x: x.get("kind") == "connect" and x.get("name") == "seven.test"
                       and x.get("reason") == "sni-mismatch")
        assert [x[1] for x in log.snapshot()] == ["/t6"]
    finally:
        if proxy is not None:
            proxy.stop()
        holder.kill()
        holder.wait()
        srv.shutdown()
