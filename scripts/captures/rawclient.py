"""A small line-oriented TCP client for byte-exact POP3, IMAP and SMTP dialogues."""

import socket
import ssl
import time
import zlib


class ProtocolError(RuntimeError):
    pass


class LineClient:
    def __init__(self, host, port, timeout=10.0, nodelay=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.host = host
        self._zout = self._zin = None   # DEFLATE after IMAP COMPRESS (start_deflate)

    # -- sending --------------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        if self._zout:
            data = self._zout.compress(data) + self._zout.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def start_deflate(self):
        """RFC 4978 §3: from the next byte on, both directions are raw DEFLATE
        (RFC 1951), each message ended by a sync flush."""
        self._zout = zlib.compressobj(wbits=-15)
        self._zin = zlib.decompressobj(wbits=-15)
        if self.buf:   # read past the OK: already compressed
            self.buf = self._zin.decompress(self.buf)

    def send_line(self, line):
        self.send((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\r\n")

    def pause(self, seconds=0.3):
        time.sleep(seconds)

    # -- receiving ------------------------------------------------------------
    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ProtocolError("connection closed by server")
        self.buf += self._zin.decompress(chunk) if self._zin else chunk

    def read_line(self):
        """One line without its CRLF, as bytes."""
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_until_closed(self, timeout=5.0):
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data

    # -- POP3 -------------------------------------------------------------------
    def pop3_reply(self, multiline=False):
        """Returns (ok, first_line, body_lines).  '+ ' continuations count as ok."""
        first = self.read_line()
        body = []
        if first.startswith(b"+OK") and multiline:
            while True:
                line = self.read_line()
                if line == b".":
                    break
                body.append(line[1:] if line.startswith(b"..") else line)
        return first.startswith(b"+"), first, body

    # -- IMAP -------------------------------------------------------------------
    def imap_reply(self, tag):
        """Read until the tagged reply of TAG or a '+' continuation.

        Returns (status, lines) where status is 'OK', 'NO', 'BAD', 'BYE' or '+'."""
        lines = []
        prefix = (tag + " ").encode()
        while True:
            line = self.read_line()
            lines.append(line)
            if line.startswith(b"+"):
                return "+", lines
            if line.startswith(prefix):
                return line[len(prefix):].split(b" ", 1)[0].decode(), lines
            # untagged line with a literal: read the literal and the rest of the line
            while line.endswith(b"}") and b"{" in line:
                n = int(line[line.rindex(b"{") + 1:-1].rstrip(b"+"))
                lines.append(self.read_exact(n))
                line = self.read_line()
                lines.append(line)

    # -- SMTP -------------------------------------------------------------------
    def smtp_reply(self):
        """Returns (code, lines) for one (possibly multi-line) reply."""
        lines = []
        while True:
            line = self.read_line()
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    # -- TLS ----------------------------------------------------------------------
    def start_tls(self, context, server_hostname=None):
        if self.buf:
            raise ProtocolError("unread data before TLS handshake")
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname or self.host)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_context(cafile, keylog=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if keylog:
        ctx.keylog_filename = keylog
    return ctx
