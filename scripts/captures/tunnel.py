"""Mail inside a tunnel: SMTP through a proxy (issue 12).

The client (Python's smtplib, recorded like the other SMTP scenarios) does not
talk to Postfix directly: it opens a TCP connection to a small proxy that runs
in this process, asks it for `mail.example:587`, and then speaks SMTP through
the tunnel.  The proxy resolves that name through a fixed table to the lab's
Postfix submission listener (127.0.0.1:11587) and relays bytes both ways as
they arrive.  Only the client-proxy connection is captured: that is what a
capture on the client's machine shows, and where no port says mail.

Two proxies, each on the port Wireshark's dissector for it knows, so that the
builtin dissectors hand the tunnel to SMTP by themselves:
  HTTP CONNECT (RFC 9110 §9.3.6) on 3128: packet-http.c takes the port of the
    CONNECT request-URI (587) and looks it up in the tcp.port table.
  SOCKS5 (RFC 1928) with no authentication on 1080: packet-socks.c does the
    same with the port of the CONNECT request.

NAME.expected.json is the usual SMTP record (Record) plus a "tunnel" object:
the proxy kind, the target asked for, and the exact bytes of the tunnel's own
handshake in each direction (hex), which carry no mail.
"""

import binascii
import select
import smtplib
import socket
import struct
import threading
from collections import OrderedDict

from .cli import scenario, ScenarioError
from .clients import _RecordingSMTP
from .lab import PORTS
from .record import Record

HOST = "127.0.0.1"
TARGET_HOST = "mail.example"
TARGET_PORT = 587
EHLO_NAME = "client.example.test"

TUNNEL_PORTS = {"tunnel-http": 3128, "tunnel-socks": 1080}
for _k, _v in TUNNEL_PORTS.items():
    PORTS.setdefault(_k, _v)

HTTP_200 = b"HTTP/1.1 200 Connection established\r\n\r\n"


def _expect(cond, what):
    if not cond:
        raise ScenarioError(what)


class TunnelRecord(Record):
    """An SMTP Record with the tunnel's description and handshake bytes."""

    def __init__(self, kind, proxy_port, description):
        super().__init__("smtp", proxy_port, "python-smtplib", description)
        self.tunnel = OrderedDict([("kind", kind), ("proxy_port", proxy_port),
                                   ("target", "%s:%d" % (TARGET_HOST, TARGET_PORT)),
                                   ("client_handshake", ""), ("proxy_handshake", "")])

    def as_dict(self):
        d = super().as_dict()
        d["tunnel"] = self.tunnel
        return d


# --------------------------------------------------------------------------- proxy
class Proxy:
    """A one-connection proxy in a thread: accept, handshake, relay, close.

    handshake(client_sock) reads the request and answers it; it returns the
    upstream socket (already connected) or None after refusing.  Errors are
    kept in self.error and raised again by stop()."""

    def __init__(self, ctx, port_name, handshake):
        self.ctx = ctx
        self.port = ctx.ports[port_name]
        self.port_name = port_name
        self.handshake = handshake
        self.error = None
        self.relayed = [0, 0]         # bytes client->server, server->client
        self.lsock = None
        self.thread = None

    def __enter__(self):
        try:
            self.ctx.lab.check_ports_free([self.port_name])
        except Exception as e:        # noqa: BLE001 -- SetupError, reported as a scenario error
            raise ScenarioError(str(e))
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, self.port))
        self.lsock.listen(1)
        self.lsock.settimeout(20)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.ctx.log("proxy listening on %d" % self.port)
        return self

    def _serve(self):
        try:
            client, _ = self.lsock.accept()
        except OSError as e:
            self.error = "proxy: no client connected (%s)" % e
            return
        upstream = None
        try:
            client.settimeout(20)
            # bytes leave as they come: the capture shows the server's segments
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream = self.handshake(client)
            if upstream is not None:
                upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._relay(client, upstream)
        except (OSError, ValueError) as e:
            self.error = "proxy: %s" % e
        finally:
            for s in (upstream, client):
                if s is not None:
                    s.close()

    def _relay(self, client, upstream):
        """Copy both ways until both sides have closed (a FIN passes through
        as shutdown(SHUT_WR), so the client sees the server's close)."""
        peer = {client: upstream, upstream: client}
        index = {client: 0, upstream: 1}
        open_ = [client, upstream]
        while open_:
            ready, _, _ = select.select(open_, [], [], 20)
            if not ready:
                raise ValueError("relay idle for 20 s")
            for s in ready:
                data = s.recv(65536)
                if data:
                    peer[s].sendall(data)
                    self.relayed[index[s]] += len(data)
                else:
                    open_.remove(s)
                    try:
                        peer[s].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

    def stop(self):
        if self.thread is not None:
            self.thread.join(timeout=30)
            if self.thread.is_alive():
                self.error = self.error or "proxy thread did not finish"
        if self.lsock is not None:
            self.lsock.close()
            self.lsock = None

    def __exit__(self, *exc):
        self.stop()
        if self.error and exc[0] is None:
            raise ScenarioError(self.error)
        return False


def _upstream(ctx, host, port):
    """The lab's address for a target name: mail.example:587 is Postfix's submission."""
    if (host, port) != (TARGET_HOST, TARGET_PORT):
        return None
    return socket.create_connection((HOST, ctx.ports["submission"]), timeout=10)


def _read_until(sock, end, limit=8192):
    """Bytes up to and including END, read one at a time: nothing after it is
    taken from the socket (it belongs to the tunnelled protocol)."""
    data = b""
    while not data.endswith(end):
        b = sock.recv(1)
        if not b:
            raise ValueError("connection closed during the tunnel handshake: %r" % data)
        data += b
        if len(data) > limit:
            raise ValueError("tunnel handshake longer than %d bytes" % limit)
    return data


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        b = sock.recv(n - len(data))
        if not b:
            raise ValueError("connection closed during the SOCKS handshake: %r" % data)
        data += b
    return data


# --------------------------------------------------------------------------- HTTP CONNECT
def _http_connect_server(ctx, rec, coalesce=False):
    """COALESCE: wait for the server's greeting and send it in the same
    segment as the 200 reply (a proxy that connects, then answers with
    whatever it has), so the mail bytes start in the middle of a segment."""
    def handshake(client):
        request = _read_until(client, b"\r\n\r\n")
        line = request.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or parts[0] != "CONNECT" or ":" not in parts[1]:
            client.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            raise ValueError("not a CONNECT request: %r" % line)
        host, port = parts[1].rsplit(":", 1)
        upstream = _upstream(ctx, host, int(port))
        if upstream is None:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            raise ValueError("CONNECT to an unknown target %r" % parts[1])
        greeting = _read_until(upstream, b"\r\n") if coalesce else b""
        client.sendall(HTTP_200 + greeting)
        rec.tunnel["proxy_handshake"] = binascii.hexlify(HTTP_200).decode()
        return upstream
    return handshake


def _http_connect_client(rec):
    def opener(host, port, timeout):
        sock = socket.create_connection((HOST, rec.server_port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = ("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                   % (host, port, host, port)).encode("ascii")
        sock.sendall(request)
        rec.tunnel["client_handshake"] = binascii.hexlify(request).decode()
        reply = _read_until(sock, b"\r\n\r\n")
        if not reply.startswith(b"HTTP/1.1 200"):
            sock.close()
            raise ScenarioError("proxy refused the CONNECT: %r" % reply)
        return sock
    return opener


# --------------------------------------------------------------------------- SOCKS5
SOCKS_METHODS = b"\x05\x01\x00"        # version 5, one method: no authentication
SOCKS_METHOD_OK = b"\x05\x00"


def _socks_request(host, port):
    """CONNECT (1) to a domain name (ATYP 3), RFC 1928 §4."""
    name = host.encode("ascii")
    return b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port)


def _socks_reply(port):
    """Succeeded (0), bound address 127.0.0.1:PORT (ATYP 1), RFC 1928 §6."""
    return b"\x05\x00\x00\x01" + socket.inet_aton(HOST) + struct.pack("!H", port)


def _socks5_server(ctx, rec, coalesce=False):
    """COALESCE: as for HTTP, the CONNECT reply and the greeting in one segment."""
    def handshake(client):
        ver, n = _read_exact(client, 2)
        methods = _read_exact(client, n)
        if ver != 5 or 0 not in methods:
            client.sendall(b"\x05\xff")
            raise ValueError("SOCKS greeting without 'no authentication'")
        client.sendall(SOCKS_METHOD_OK)
        ver, cmd, _rsv, atyp = _read_exact(client, 4)
        if ver != 5 or cmd != 1 or atyp != 3:
            client.sendall(b"\x05\x07\x00\x01" + bytes(6))     # command not supported
            raise ValueError("SOCKS request other than CONNECT to a name")
        host = _read_exact(client, _read_exact(client, 1)[0]).decode("ascii")
        port = struct.unpack("!H", _read_exact(client, 2))[0]
        upstream = _upstream(ctx, host, port)
        if upstream is None:
            client.sendall(b"\x05\x04\x00\x01" + bytes(6))     # host unreachable
            raise ValueError("SOCKS CONNECT to an unknown target %s:%d" % (host, port))
        reply = _socks_reply(upstream.getsockname()[1])
        greeting = _read_until(upstream, b"\r\n") if coalesce else b""
        client.sendall(reply + greeting)
        rec.tunnel["proxy_handshake"] = binascii.hexlify(SOCKS_METHOD_OK + reply).decode()
        return upstream
    return handshake


def _socks5_client(rec):
    def opener(host, port, timeout):
        sock = socket.create_connection((HOST, rec.server_port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(SOCKS_METHODS)
        if _read_exact(sock, 2) != SOCKS_METHOD_OK:
            raise ScenarioError("SOCKS proxy refused 'no authentication'")
        request = _socks_request(host, port)
        sock.sendall(request)
        rec.tunnel["client_handshake"] = binascii.hexlify(SOCKS_METHODS + request).decode()
        reply = _read_exact(sock, 10)
        if reply[:2] != b"\x05\x00":
            raise ScenarioError("SOCKS CONNECT refused: %r" % reply)
        return sock
    return opener


# --------------------------------------------------------------------------- client
class _TunnelSMTP(_RecordingSMTP):
    """smtplib whose connection is opened through a proxy by OPENER."""

    def __init__(self, rec, opener, **kw):
        self._opener = opener
        super().__init__(rec, TARGET_HOST, TARGET_PORT, **kw)

    def _get_socket(self, host, port, timeout):
        return self._opener(host, port, timeout)


def _message(subject, msgid):
    return ("From: Alice <alice@example.test>\r\n"
            "To: Bob <bob@example.test>\r\n"
            "Subject: %s\r\n"
            "Date: Mon, 08 Jan 2024 09:00:00 +0000\r\n"
            "Message-ID: <%s@example.test>\r\n"
            "\r\nHello Bob, this went through a proxy.\r\n" % (subject, msgid))


def _session(ctx, rec, opener, mech, user, subject, msgid):
    """EHLO, AUTH MECH as USER, one message to bob, QUIT: through the tunnel."""
    pw = ctx.users[user]
    s = _TunnelSMTP(rec, opener, local_hostname=EHLO_NAME, timeout=15)
    code, _ = s.ehlo(EHLO_NAME)
    _expect(code == 250, "EHLO refused")
    s.user, s.password = user, pw
    authobj = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
    try:
        # PLAIN with its initial response; LOGIN with both 334 prompts
        code, _ = s.auth(mech, authobj, initial_response_ok=(mech == "PLAIN"))
        ok = code == 235
    except smtplib.SMTPAuthenticationError:
        ok = False
    rec.credential(mech, user, ok, password=pw)
    _expect(ok, "AUTH %s refused" % mech)
    _expect(s.mail("alice@example.test")[0] == 250, "MAIL refused")
    _expect(s.rcpt("bob@example.test")[0] == 250, "RCPT refused")
    code, _ = s.data(_message(subject, msgid))
    _expect(code == 250, "message refused")
    s.quit()


@scenario("tunnel-http-connect", "smtp",
          "SMTP through an HTTP CONNECT proxy on 3128 (CONNECT mail.example:587, 200), "
          "smtplib EHLO, AUTH PLAIN (alice), one message, QUIT",
          port="tunnel-http")
def tunnel_http_connect(ctx):
    port = ctx.ports["tunnel-http"]
    rec = TunnelRecord("http-connect", port,
                       "'CONNECT mail.example:587 HTTP/1.1' to a proxy on 3128, which answers "
                       "'HTTP/1.1 200 Connection established' and relays to Postfix's "
                       "submission port; then EHLO, AUTH PLAIN with initial response (alice), "
                       "MAIL, RCPT, DATA, QUIT through the tunnel")
    with ctx.capture(port):
        with Proxy(ctx, "tunnel-http", _http_connect_server(ctx, rec)) as proxy:
            _session(ctx, rec, _http_connect_client(rec), "PLAIN", "alice",
                     "Through an HTTP proxy", "tunnel-http")
    ctx.log("relayed %d bytes up, %d down" % tuple(proxy.relayed))
    _expect(rec.tunnel["proxy_handshake"], "the proxy never answered the CONNECT")
    return rec


@scenario("tunnel-http-connect-coalesced", "smtp",
          "as tunnel-http-connect (bob, AUTH LOGIN), but the proxy sends its 200 reply and "
          "the server's 220 greeting in one segment",
          port="tunnel-http")
def tunnel_http_connect_coalesced(ctx):
    port = ctx.ports["tunnel-http"]
    rec = TunnelRecord("http-connect", port,
                       "'CONNECT mail.example:587 HTTP/1.1' to a proxy on 3128 that waits for "
                       "Postfix's greeting and sends 'HTTP/1.1 200 Connection established' and "
                       "the '220' line in one segment; then EHLO, AUTH LOGIN with the prompts "
                       "(bob, password with a space), MAIL, RCPT, DATA, QUIT through the tunnel")
    rec.tunnel["coalesced"] = True
    with ctx.capture(port):
        with Proxy(ctx, "tunnel-http", _http_connect_server(ctx, rec, coalesce=True)) as proxy:
            _session(ctx, rec, _http_connect_client(rec), "LOGIN", "bob",
                     "Through an HTTP proxy, coalesced", "tunnel-http-coalesced")
    ctx.log("relayed %d bytes up, %d down" % tuple(proxy.relayed))
    _expect(rec.tunnel["proxy_handshake"], "the proxy never answered the CONNECT")
    return rec


@scenario("tunnel-socks5", "smtp",
          "SMTP through a SOCKS5 proxy on 1080 (no auth, CONNECT mail.example:587), "
          "smtplib EHLO, AUTH LOGIN (bob), one message, QUIT",
          port="tunnel-socks")
def tunnel_socks5(ctx):
    port = ctx.ports["tunnel-socks"]
    rec = TunnelRecord("socks5", port,
                       "SOCKS5 to a proxy on 1080: method 'no authentication', CONNECT to the "
                       "domain name mail.example port 587, success; then EHLO, AUTH LOGIN with "
                       "the Username:/Password: prompts (bob, password with a space), MAIL, "
                       "RCPT, DATA, QUIT through the tunnel")
    with ctx.capture(port):
        with Proxy(ctx, "tunnel-socks", _socks5_server(ctx, rec)) as proxy:
            _session(ctx, rec, _socks5_client(rec), "LOGIN", "bob",
                     "Through a SOCKS5 proxy", "tunnel-socks5")
    ctx.log("relayed %d bytes up, %d down" % tuple(proxy.relayed))
    _expect(rec.tunnel["proxy_handshake"], "the proxy never answered the SOCKS request")
    return rec


@scenario("tunnel-socks5-coalesced", "smtp",
          "as tunnel-socks5 (alice, AUTH PLAIN), but the proxy sends its CONNECT reply and the "
          "server's 220 greeting in one segment",
          port="tunnel-socks")
def tunnel_socks5_coalesced(ctx):
    port = ctx.ports["tunnel-socks"]
    rec = TunnelRecord("socks5", port,
                       "SOCKS5 to a proxy on 1080 (no authentication, CONNECT mail.example:587) "
                       "that waits for Postfix's greeting and sends its success reply and the "
                       "'220' line in one segment; then EHLO, AUTH PLAIN with initial response "
                       "(alice), MAIL, RCPT, DATA, QUIT through the tunnel")
    rec.tunnel["coalesced"] = True
    with ctx.capture(port):
        with Proxy(ctx, "tunnel-socks", _socks5_server(ctx, rec, coalesce=True)) as proxy:
            _session(ctx, rec, _socks5_client(rec), "PLAIN", "alice",
                     "Through a SOCKS5 proxy, coalesced", "tunnel-socks5-coalesced")
    ctx.log("relayed %d bytes up, %d down" % tuple(proxy.relayed))
    _expect(rec.tunnel["proxy_handshake"], "the proxy never answered the SOCKS request")
    return rec
