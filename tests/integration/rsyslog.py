"""A real rsyslogd on loopback for the sink tests: its own config, pid file,
work directory and output files in a temporary directory, on free ports, no
root-only paths (runs as any user). Listeners: imtcp (plain), imtcp with TLS
(gtls driver, if rsyslog-gnutls is installed) and imrelp.

Records arrive as RFC 5424 messages whose MSG is the JSON record line; the
config writes only %msg% (one record per line) for every message except gap
markers (MSGID sink-gap), which go to their own file. Control-character
escaping is off and the message size limit is raised, so records come back
byte-exact. See docs/evidence.md, "Remote sinks".
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
MODDIR = "/usr/lib/x86_64-linux-gnu/rsyslog"


def have_rsyslog():
    return os.path.exists(RSYSLOGD)


def have_module(name):
    for d in (MODDIR, "/usr/lib/rsyslog"):
        if os.path.exists(os.path.join(d, name + ".so")):
            return True
    return False


def have_tls():
    return have_module("lmnsd_gtls") and shutil.which("certtool") is not None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pki(d, name="ca", names=('dns_name = "localhost"', 'ip_address = "127.0.0.1"')):
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost
    (or the given certtool template lines). Returns (ca_cert, server_cert,
    server_key)."""
    os.makedirs(d, exist_ok=True)
    ca_key, ca_crt = os.path.join(d, name + "-key.pem"), os.path.join(d, name + ".pem")
    srv_key, srv_crt = os.path.join(d, name + "-server-key.pem"), os.path.join(d, name + "-server.pem")
    ca_tpl, srv_tpl = os.path.join(d, name + "-ca.tpl"), os.path.join(d, name + "-srv.tpl")
    with open(ca_tpl, "w") as f:
        f.write('cn = "airlock test CA %s"\nca\ncert_signing_key\nexpiration_days = 2\n' % name)
    with open(srv_tpl, "w") as f:
        f.write('cn = "localhost"\n' + "".join(n + "\n" for n in names)
                + "tls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n")
    q = dict(check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile", ca_key], **q)
    subprocess.run(["certtool", "--generate-self-signed", "--load-privkey", ca_key,
                    "--template", ca_tpl, "--outfile", ca_crt], **q)
    subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile", srv_key], **q)
    subprocess.run(["certtool", "--generate-certificate", "--load-privkey", srv_key,
                    "--load-ca-certificate", ca_crt, "--load-ca-privkey", ca_key,
                    "--template", srv_tpl, "--outfile", srv_crt], **q)
    return ca_crt, srv_crt, srv_key


class Rsyslog:
    """rsyslogd -n under our control. Ports stay the same across restarts."""

    def __init__(self, tls=None, durable=True, cert_names=None):
        self.dir = tempfile.mkdtemp(prefix="airlock-rsyslog-")
        os.chmod(self.dir, 0o755)  # readable by an unprivileged test user too
        self.work = os.path.join(self.dir, "work")
        os.makedirs(self.work)
        self.records_path = os.path.join(self.dir, "records.jsonl")
        self.gaps_path = os.path.join(self.dir, "gaps.jsonl")
        self.all_path = os.path.join(self.dir, "all.log")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.tcp_port = free_port()
        self.relp_port = free_port()
        self.tls = have_tls() if tls is None else tls
        self.tls_port = free_port() if self.tls else None
        if self.tls:
            pki = os.path.join(self.dir, "pki")
            self.ca, self.cert, self.key = (make_pki(pki, names=cert_names) if cert_names
                                            else make_pki(pki))
        self.proc = None
        self.durable = durable
        self._write_conf()

    def _write_conf(self):
        tls_global = ""
        tls_input = ""
        if self.tls:
            tls_global = ('defaultNetstreamDriverCAFile="%s" defaultNetstreamDriverCertFile="%s" '
                          'defaultNetstreamDriverKeyFile="%s"' % (self.ca, self.cert, self.key))
            tls_input = ('input(type="imtcp" port="%d" address="127.0.0.1" ruleset="airlock" '
                         'streamDriver.name="gtls" streamDriver.mode="1" '
                         'streamDriver.authMode="anon")\n' % self.tls_port)
        # durable: Direct queues, so a message is written before imrelp
        # acknowledges it and an acknowledged record survives a SIGKILL of
        # rsyslogd (what the failure tests need). Otherwise rsyslog's usual
        # in-memory main queue, batching writes (what the benchmark uses).
        queue = 'queue.type="Direct"' if self.durable else 'queue.type="LinkedList" queue.size="200000"'
        conf = f"""
global(workDirectory="{self.work}" maxMessageSize="2m"
       parser.escapeControlCharactersOnReceive="off" {tls_global})
module(load="imtcp" maxSessions="64" maxFrameSize="2200000")
module(load="imrelp")
template(name="al_msg" type="string" string="%msg%\\n")
template(name="al_all" type="string" string="%msgid% %structured-data% %msg%\\n")
ruleset(name="airlock" {queue}) {{
  if $msgid == "sink-gap" then {{
    action(type="omfile" file="{self.gaps_path}" template="al_msg" asyncWriting="off" flushOnTXEnd="on")
  }} else {{
    action(type="omfile" file="{self.records_path}" template="al_msg" asyncWriting="off" flushOnTXEnd="on")
  }}
  action(type="omfile" file="{self.all_path}" template="al_all" asyncWriting="off" flushOnTXEnd="on")
}}
input(type="imtcp" port="{self.tcp_port}" address="127.0.0.1" ruleset="airlock")
{tls_input}input(type="imrelp" port="{self.relp_port}" address="127.0.0.1" ruleset="airlock" maxDataSize="2m")
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    def url(self, scheme):
        port = {"tcp": self.tcp_port, "tls": self.tls_port, "relp": self.relp_port}[scheme]
        return "%s://127.0.0.1:%d" % (scheme, port)

    def _ports(self):
        return [p for p in (self.tcp_port, self.tls_port, self.relp_port) if p]

    def start(self, timeout=15):
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        self.log = open(os.path.join(self.dir, "rsyslogd.out"), "ab")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        pending = self._ports()
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError("rsyslogd exited (%d): %s" % (self.proc.returncode, self.output()))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("rsyslogd did not listen: %s" % self.output())
            port = pending[0]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    pending.pop(0)
            except OSError:
                time.sleep(0.05)
        return self

    def output(self):
        try:
            with open(os.path.join(self.dir, "rsyslogd.out"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if not self.running():
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def kill(self):
        """Abrupt death: the kernel resets its connections."""
        self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def read_lines(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        return data.split(b"\n")[:-1] if data else []

    def records(self):
        """Raw record lines (bytes) in arrival order."""
        return self.read_lines(self.records_path)

    def gaps(self):
        return [json.loads(l) for l in self.read_lines(self.gaps_path)]

    def wait_records(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.records()
            if len(got) >= n:
                return got
            time.sleep(0.05)
        return self.records()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.cleanup()


def reassemble(lines):
    """The event log from rsyslog's output: RELP delivers at least once, so a
    record resent after a reconnect may appear twice; keep the first copy of
    each seq (the copies must be identical) and return them in seq order."""
    seen = {}
    order = []
    for raw in lines:
        seq = json.loads(raw)["seq"]
        if seq in seen:
            if seen[seq] != raw:
                raise ValueError("two different records with seq %d" % seq)
            continue
        seen[seq] = raw
        order.append(seq)
    return [seen[s] for s in sorted(order)], order
