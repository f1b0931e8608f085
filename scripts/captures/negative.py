"""Negative scenarios: real protocols that mailedu must NOT take for mail.

Each one runs a real server (vsftpd, python's http.server, OpenSSH's sshd, or
a small Python socket server) on its own non-standard port on 127.0.0.1,
configured from files in the lab's temporary directory, and a real client
against it.  The server is started with a known PID in a session of its own
and stopped in a `finally` block (Lab.stop() also sweeps anything whose
working directory lies in the lab directory).

NAME.expected.json holds {"protocol": "none", "server_port", "client",
"description", "mail_packets": 0}: nothing in these captures is mail.
"""

import ftplib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict

from .cli import scenario, ScenarioError
from .lab import PORTS, SetupError, _kill_group, _listening, _tail, _which

HOST = "127.0.0.1"

# Our servers' ports, registered beside the mail servers' (a key of PORTS
# names a scenario's port; Lab copies PORTS when it is created, which is
# after the scenario modules are imported).
NEGATIVE_PORTS = {
    "neg-ftp": 11021,
    "neg-ssh": 11022,
    "neg-http": 11080,
    "neg-binary": 11099,
}
for _k, _v in NEGATIVE_PORTS.items():
    PORTS.setdefault(_k, _v)


class NegativeRecord:
    """What a negative scenario did: no credentials, commands nor phases."""

    def __init__(self, server_port, client, description):
        self.protocol = "none"
        self.server_port = server_port
        self.client = client
        self.description = description
        self.mail_packets = 0

    def as_dict(self):
        d = OrderedDict()
        d["protocol"] = self.protocol
        d["server_port"] = self.server_port
        d["client"] = self.client
        d["description"] = self.description
        d["mail_packets"] = self.mail_packets
        return d

    def to_json(self):
        d = self.as_dict()
        return "{\n" + ",\n".join("  %s: %s" % (json.dumps(k), json.dumps(v))
                                  for k, v in d.items()) + "\n}\n"

    def write(self, path):
        text = self.to_json()
        json.loads(text)
        with open(path, "w") as f:
            f.write(text)


def _expect(cond, what):
    if not cond:
        raise ScenarioError(what)


# --------------------------------------------------------------------------- servers
class Server:
    """A server process in a session of its own, stopped by its PID."""

    def __init__(self, ctx, port_name, what, cmd, log, cwd, env=None):
        self.ctx = ctx
        self.port_name = port_name
        self.what = what
        self.cmd = cmd
        self.log = log
        self.cwd = cwd
        self.env = env
        self.proc = None

    def __enter__(self):
        lab = self.ctx.lab
        try:
            lab.check_ports_free([self.port_name])
        except SetupError as e:
            raise ScenarioError(str(e))
        self.ctx.log("$ " + " ".join(self.cmd))
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                         cwd=self.cwd, env=self.env, start_new_session=True)
        except FileNotFoundError:
            raise ScenarioError("%s not found (see scripts/captures/DEPENDENCIES)" % self.cmd[0])
        try:
            lab.wait_listening([self.port_name], self.proc, self.what, self.log)
        except SetupError as e:
            self.stop()
            raise ScenarioError(str(e))
        self.ctx.log("%s pid %d on port %d" % (self.what, self.proc.pid,
                                                lab.ports[self.port_name]))
        return self

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _kill_group(proc.pid)     # children (vsftpd's and sshd's per-connection processes)

    def __exit__(self, *exc):
        self.stop()
        return False


def _workdir(ctx, name):
    d = ctx.lab.path(name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    os.chmod(d, 0o755)
    return d


# --------------------------------------------------------------------------- FTP
FTP_FILE = """\
mailedu negative test: a small file fetched over FTP.
+OK this line is file content
USER mallory
PASS stolen
"""


def _ftp(ctx, banner=None):
    port = ctx.ports["neg-ftp"]
    vsftpd = _which("vsftpd")
    if vsftpd is None:
        raise ScenarioError("vsftpd not found: install the vsftpd package")
    d = _workdir(ctx, "vsftpd-" + ctx.name)
    root = os.path.join(d, "root")          # anonymous root: not writable by ftp
    empty = os.path.join(d, "empty")        # secure_chroot_dir
    for p in (root, empty):
        os.makedirs(p)
        os.chmod(p, 0o755)
    fpath = os.path.join(root, "readme.txt")
    with open(fpath, "w") as f:
        f.write(FTP_FILE)
    os.chmod(fpath, 0o644)
    os.utime(fpath, (1704103200, 1704103200))   # 2024-01-01 10:00 UTC: LIST is stable
    conf = textwrap.dedent("""\
        # generated by scripts/make-captures -- private test instance
        listen=YES
        listen_ipv6=NO
        listen_address=127.0.0.1
        listen_port={port}
        background=NO
        anonymous_enable=YES
        anon_root={root}
        local_enable=NO
        write_enable=NO
        dirmessage_enable=NO
        connect_from_port_20=NO
        pasv_enable=YES
        pasv_min_port=11030
        pasv_max_port=11039
        secure_chroot_dir={empty}
        hide_ids=YES
        use_localtime=NO
        xferlog_enable=NO
        syslog_enable=NO
        vsftpd_log_file={log}
        log_ftp_protocol=YES
        seccomp_sandbox=NO
        isolate=NO
        isolate_network=NO
        """).format(port=port, root=root, empty=empty, log=os.path.join(d, "vsftpd.log"))
    if banner is not None:
        conf += "ftpd_banner=%s\n" % banner
    conf_path = os.path.join(d, "vsftpd.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    os.chmod(conf_path, 0o600)      # vsftpd refuses a config file others may write
    listing, data = [], []
    with Server(ctx, "neg-ftp", "vsftpd", [vsftpd, conf_path], os.path.join(d, "vsftpd.out"), d):
        with ctx.capture(port):
            ftp = ftplib.FTP()
            try:
                welcome = ftp.connect(HOST, port, timeout=10)
                ftp.login("anonymous", "guest@example.test")
                cwd = ftp.pwd()
                ftp.retrlines("LIST", listing.append)
                ftp.retrbinary("RETR readme.txt", data.append)
                ftp.quit()
            except (OSError, ftplib.Error) as e:
                ftp.close()
                raise ScenarioError("FTP session failed: %s\nvsftpd log:\n%s"
                                    % (e, _tail(os.path.join(d, "vsftpd.log"))))
    ctx.log("welcome %r, pwd %r, list %r" % (welcome, cwd, listing))
    _expect(welcome.startswith("220"), "FTP greeting is not a 220: %r" % welcome)
    if banner is not None:
        _expect(welcome == "220 " + banner, "FTP greeting is %r, not '220 %s'" % (welcome, banner))
    else:
        _expect("FTP" in welcome.upper(), "default vsftpd greeting without 'FTP': %r" % welcome)
    _expect(cwd == "/", "PWD answered %r" % cwd)
    _expect(any("readme.txt" in l for l in listing), "LIST does not show readme.txt")
    _expect(b"".join(data) == FTP_FILE.encode(), "RETR readme.txt returned other bytes")
    return welcome


@scenario("negative-ftp", "none",
          "negative: vsftpd, python ftplib anonymous USER/PASS, PWD, LIST, RETR, QUIT "
          "(control connection; greeting '220 (vsFTPd ...)')",
          port="neg-ftp")
def negative_ftp(ctx):
    port = ctx.ports["neg-ftp"]
    welcome = _ftp(ctx)
    return NegativeRecord(port, "python-ftplib",
                          "FTP control connection to vsftpd: greeting %r, USER anonymous / PASS, "
                          "PWD, TYPE A, PASV, LIST, TYPE I, PASV, RETR readme.txt, QUIT; the "
                          "passive data connections are on other ports and not captured"
                          % welcome)


@scenario("negative-ftp-plain220", "none",
          "negative: as negative-ftp with ftpd_banner=welcome, so the greeting is just "
          "'220 welcome' (no 'FTP')",
          port="neg-ftp")
def negative_ftp_plain220(ctx):
    port = ctx.ports["neg-ftp"]
    welcome = _ftp(ctx, banner="welcome")
    return NegativeRecord(port, "python-ftplib",
                          "FTP control connection to vsftpd whose greeting is %r (ftpd_banner, "
                          "no word FTP, like an SMTP 220): USER anonymous / PASS, PWD, LIST, "
                          "RETR readme.txt, QUIT" % welcome)


# --------------------------------------------------------------------------- HTTP
HTTP_FILE = """\
+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
* OK IMAP4rev1 ready
220 mail.example.test ESMTP
"""

HTTP_POST_BODY = (b"+OK\r\n"
                  b"EHLO x\r\n"
                  b"a1 LOGIN x y\r\n"
                  b"USER alice\r\n"
                  b"PASS alicepw\r\n"
                  b"AUTH PLAIN AGFsaWNlAGFsaWNlcHc=\r\n"
                  b"QUIT\r\n")


@scenario("negative-http", "none",
          "negative: python3 -m http.server, urllib GETs and a POST whose body holds "
          "'+OK', 'EHLO x', 'a1 LOGIN x y' lines",
          port="neg-http")
def negative_http(ctx):
    port = ctx.ports["neg-http"]
    d = _workdir(ctx, "http-" + ctx.name)
    root = os.path.join(d, "root")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<html><body><p>mailedu negative test</p></body></html>\n")
    with open(os.path.join(root, "mail.txt"), "w") as f:
        f.write(HTTP_FILE)
    cmd = [_which("python3") or "python3", "-m", "http.server", str(port),
           "--bind", HOST, "--directory", root]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    base = "http://%s:%d/" % (HOST, port)
    got = {}
    with Server(ctx, "neg-http", "http.server", cmd, os.path.join(d, "http.out"), d, env=env):
        with ctx.capture(port):
            for path in ("", "mail.txt", "missing.txt"):
                try:
                    with urllib.request.urlopen(base + path, timeout=10) as r:
                        got[path] = (r.status, r.read())
                except urllib.error.HTTPError as e:
                    got[path] = (e.code, e.read())
            req = urllib.request.Request(base + "submit", data=HTTP_POST_BODY, method="POST",
                                         headers={"Content-Type": "text/plain"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    got["POST"] = (r.status, r.read())
            except urllib.error.HTTPError as e:
                got["POST"] = (e.code, e.read())
    ctx.log("HTTP statuses: %r" % {k: v[0] for k, v in got.items()})
    _expect(got[""][0] == 200, "GET / answered %d" % got[""][0])
    _expect(got["mail.txt"] == (200, HTTP_FILE.encode()), "GET /mail.txt answered otherwise")
    _expect(got["missing.txt"][0] == 404, "GET /missing.txt answered %d" % got["missing.txt"][0])
    # http.server's SimpleHTTPRequestHandler has no POST: 501 Unsupported method
    _expect(got["POST"][0] == 501, "POST answered %d" % got["POST"][0])
    return NegativeRecord(port, "python-urllib",
                          "HTTP/1.0 (python3 -m http.server): GET / (200), GET /mail.txt (200, "
                          "a body of POP3/IMAP/SMTP greeting lines), GET /missing.txt (404), "
                          "POST /submit with a body of '+OK', 'EHLO x', 'a1 LOGIN x y', USER, "
                          "PASS, AUTH, QUIT lines (501); one TCP connection per request")


# --------------------------------------------------------------------------- SSH
SSHD_CONFIG = """\
# generated by scripts/make-captures -- private test instance
Port {port}
ListenAddress 127.0.0.1
AddressFamily inet
HostKey {hostkey}
PidFile {pidfile}
AuthorizedKeysFile {authkeys}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
LogLevel VERBOSE
"""


@scenario("negative-ssh", "none",
          "negative: OpenSSH sshd -D with its own config and host key, ssh with a throwaway key "
          "runs 'true' as root",
          port="neg-ssh")
def negative_ssh(ctx):
    port = ctx.ports["neg-ssh"]
    sshd, ssh, keygen = _which("sshd"), _which("ssh"), _which("ssh-keygen")
    if not (sshd and ssh and keygen):
        raise ScenarioError("sshd/ssh/ssh-keygen not found: install openssh-server "
                            "openssh-client")
    d = _workdir(ctx, "ssh-" + ctx.name)
    os.chmod(d, 0o700)
    hostkey = os.path.join(d, "ssh_host_ed25519_key")
    userkey = os.path.join(d, "id_ed25519")
    for path, comment in ((hostkey, "mailedu-host"), (userkey, "mailedu-client")):
        r = ctx.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
        _expect(r.returncode == 0, "ssh-keygen failed: %s" % r.stderr)
    authkeys = os.path.join(d, "authorized_keys")
    shutil.copyfile(userkey + ".pub", authkeys)
    os.chmod(authkeys, 0o600)
    conf = os.path.join(d, "sshd_config")
    with open(conf, "w") as f:
        f.write(SSHD_CONFIG.format(port=port, hostkey=hostkey, authkeys=authkeys,
                                   pidfile=os.path.join(d, "sshd.pid")))
    os.chmod(conf, 0o600)
    # sshd's privilege separation directory (compiled in; normally made by systemd)
    if not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    r = ctx.run([sshd, "-t", "-f", conf])
    _expect(r.returncode == 0, "sshd -t rejects the config: %s" % (r.stdout + r.stderr))
    log = os.path.join(d, "sshd.log")
    home = os.path.join(d, "client-home")
    os.makedirs(home, mode=0o700)
    with Server(ctx, "neg-ssh", "sshd", [sshd, "-D", "-e", "-f", conf], log, d):
        with ctx.capture(port):
            r = ctx.run([ssh, "-F", "/dev/null", "-i", userkey, "-o", "IdentitiesOnly=yes",
                         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                         "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                         "-o", "ConnectTimeout=10", "-p", str(port), "root@127.0.0.1", "true"],
                        env={"HOME": home}, timeout=30)
    ctx.log("ssh exit %d: %s" % (r.returncode, r.stderr.strip()))
    _expect(r.returncode == 0, "ssh root@127.0.0.1 true failed (exit %d): %s\nsshd log:\n%s"
            % (r.returncode, r.stderr, _tail(log)))
    return NegativeRecord(port, "openssh",
                          "SSH-2.0 to a private sshd: version exchange, key exchange, public-key "
                          "authentication of root with a throwaway ed25519 key, 'true' run in a "
                          "session channel, disconnect")


# --------------------------------------------------------------------------- binary
BINARY_FAKE = b"+OK fake\r\n"


def _binary_plan(seed):
    """The exchange, as (sender, bytes) in order: seeded random binary chunks with
    '+OK fake' lines from the server after the first 100 bytes."""
    rnd = random.Random(seed)

    def blob(n):
        return bytes(rnd.getrandbits(8) for _ in range(n))
    return [
        ("server", blob(128)),
        ("client", blob(64)),
        ("server", BINARY_FAKE),                        # alone in its segment
        ("client", blob(96)),
        ("server", blob(50) + BINARY_FAKE + blob(50)),  # in the middle of a chunk
        ("client", blob(32) + b"USER alice\r\n" + blob(32)),
        ("server", blob(200)),
        ("client", blob(16)),
    ]


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ScenarioError("binary peer closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


@scenario("negative-binary", "none",
          "negative: Python socket pair exchanging seeded random binary chunks, with "
          "'+OK fake' lines from the server after the first 100 bytes",
          port="neg-binary")
def negative_binary(ctx):
    port = ctx.ports["neg-binary"]
    try:
        ctx.lab.check_ports_free(["neg-binary"])
    except SetupError as e:
        raise ScenarioError(str(e))
    plan = _binary_plan("mailedu:" + ctx.name)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((HOST, port))
    lsock.listen(1)
    lsock.settimeout(10)
    errors = []
    received = {"server": [], "client": []}

    def play(sock, me):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(10)
        for sender, data in plan:
            if sender == me:
                sock.sendall(data)
                time.sleep(0.05)
            else:
                received[me].append(_recv_exact(sock, len(data)))

    def serve():
        try:
            conn, _ = lsock.accept()
            with conn:
                play(conn, "server")
                # the client closes first; answer its FIN
                conn.settimeout(10)
                while conn.recv(4096):
                    pass
        except Exception as e:     # noqa: BLE001 -- reported by the main thread
            errors.append(e)

    t = threading.Thread(target=serve, daemon=True)
    try:
        t.start()
        with ctx.capture(port):
            c = socket.create_connection((HOST, port), timeout=10)
            try:
                play(c, "client")
            finally:
                c.close()
            t.join(timeout=15)
    finally:
        lsock.close()
    _expect(not t.is_alive(), "binary server thread did not finish")
    _expect(not errors, "binary server: %s" % (errors[0] if errors else ""))
    _expect(received["client"] == [d for s, d in plan if s == "server"], "client got other bytes")
    _expect(received["server"] == [d for s, d in plan if s == "client"], "server got other bytes")
    return NegativeRecord(port, "python-socket",
                          "a made-up binary protocol: seeded random chunks both ways (server "
                          "first, 128 bytes), then '+OK fake\\r\\n' alone in a server segment, "
                          "later inside a server chunk between random bytes, and 'USER "
                          "alice\\r\\n' inside a client chunk")
