"""Recording wrappers around Python's mail client libraries and the raw client.

Each wrapper hooks the library's own "send one command line" method, so the
record holds exactly the commands that went out, including the ones a library
sends by itself (imaplib's CAPABILITY, poplib's CAPA before STLS, ...).
"""

import base64
import hashlib
import hmac
import imaplib
import poplib
import smtplib

from .rawclient import LineClient

HOST = "127.0.0.1"


def b64(s):
    return base64.b64encode(s.encode("utf-8") if isinstance(s, str) else s).decode("ascii")


def sasl_plain(user, password, authzid=""):
    return b64("%s\0%s\0%s" % (authzid, user, password))


def cram_md5_response(user, password, challenge_b64):
    challenge = base64.b64decode(challenge_b64)
    digest = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
    return b64("%s %s" % (user, digest))


# --------------------------------------------------------------------------- POP3
class PopLib:
    """poplib.POP3 whose command lines are recorded."""

    def __init__(self, rec, port, tls_context=None):
        self.rec = rec
        if tls_context is None:
            self.p = poplib.POP3(HOST, port, timeout=10)
        else:   # implicit TLS (POP3S)
            self.p = poplib.POP3_SSL(HOST, port, timeout=10, context=tls_context)
        orig = self.p._putcmd

        def putcmd(line):
            rec.sent(line)
            return orig(line)
        self.p._putcmd = putcmd

    def call(self, verb, fn, *args):
        """Run fn(*args); returns (ok, result).  -ERR becomes ok=False."""
        try:
            res = fn(*args)
            ok = True
        except poplib.error_proto as e:
            res, ok = e, False
        self.rec.replied(verb, ok)
        return ok, res

    def login(self, user, password):
        self.p.user(user)
        ok, _ = self.call("PASS", self.p.pass_, password)
        self.rec.credential("USER-PASS", user, ok, password=password)
        return ok

    def apop(self, user, password):
        ok, _ = self.call("APOP", self.p.apop, user, password)
        self.rec.credential("APOP", user, ok, password_known=password)
        return ok

    def quit(self):
        self.p.quit()


class RawPop:
    """Raw-socket POP3 client that records what it sends."""

    def __init__(self, rec, port):
        self.rec = rec
        self.c = LineClient(HOST, port)
        ok, self.greeting, _ = self.c.pop3_reply()
        if not ok:
            raise RuntimeError("POP3 greeting: %r" % self.greeting)

    def cmd(self, line, multiline=False, record_reply=True):
        verb = self.rec.sent(line)
        self.c.send_line(line)
        ok, first, body = self.c.pop3_reply(multiline)
        if record_reply:
            self.rec.replied(verb, ok)
        return ok, first, body

    def login(self, user, password):
        ok, first, _ = self.cmd("USER " + user)
        if not ok:
            raise RuntimeError("USER refused: %r" % first)
        ok, _, _ = self.cmd("PASS " + password)
        self.rec.credential("USER-PASS", user, ok, password=password)
        return ok

    def sasl(self, first_line, responses):
        """AUTH exchange: FIRST_LINE, then for every '+' continuation the next
        response (a str, or a callable given the continuation's text)."""
        self.rec.sent(first_line)
        self.c.send_line(first_line)
        responses = list(responses)
        while True:
            ok, line, _ = self.c.pop3_reply()
            if not line.startswith(b"+ ") and line != b"+":
                break
            if not responses:
                raise RuntimeError("server wants more than we have: %r" % line)
            r = responses.pop(0)
            if callable(r):
                r = r(line[2:].decode())
            self.c.send_line(r)
        self.rec.replied("AUTH", ok)
        return ok, line

    def quit(self):
        self.cmd("QUIT")
        self.c.read_until_closed()
        self.c.close()


# --------------------------------------------------------------------------- IMAP
class ImapLib:
    """imaplib.IMAP4 whose commands are recorded (tags are seeded by the runner)."""

    def __init__(self, rec, port, tls_context=None):
        self.rec = rec
        if tls_context is None:
            self.m = _RecordingIMAP4(rec, HOST, port, timeout=10)
        else:   # implicit TLS (IMAPS)
            self.m = _RecordingIMAP4_SSL(rec, HOST, port, ssl_context=tls_context, timeout=10)

    def call(self, verb, fn, *args):
        try:
            typ, dat = fn(*args)
            ok = typ == "OK"
        except imaplib.IMAP4.error as e:
            typ, dat, ok = "NO", [str(e).encode()], False
        self.rec.replied(verb, ok)
        return ok, typ, dat


class _RecordIMAPCommands:
    def _command(self, name, *args):
        self._rec.sent_verb(name)
        return super()._command(name, *args)


class _RecordingIMAP4(_RecordIMAPCommands, imaplib.IMAP4):
    def __init__(self, rec, host, port, timeout=None):
        self._rec = rec
        super().__init__(host, port, timeout=timeout)


class _RecordingIMAP4_SSL(_RecordIMAPCommands, imaplib.IMAP4_SSL):
    def __init__(self, rec, host, port, ssl_context, timeout=None):
        self._rec = rec
        super().__init__(host, port, ssl_context=ssl_context, timeout=timeout)


class RawImap:
    """Raw-socket IMAP client with its own tags a1, a2, ..."""

    def __init__(self, rec, port):
        self.rec = rec
        self.c = LineClient(HOST, port)
        self.greeting = self.c.read_line()
        self.n = 0

    def tag(self):
        self.n += 1
        return "a%d" % self.n

    def cmd(self, text, record_reply=True):
        """Send 'TAG TEXT' and read to its tagged reply; returns (status, lines)."""
        tag = self.tag()
        line = "%s %s" % (tag, text)
        verb = self.rec.sent(line)
        self.c.send_line(line)
        status, lines = self.c.imap_reply(tag)
        if status == "+":
            raise RuntimeError("unexpected continuation for %r" % line)
        if record_reply:
            self.rec.replied(verb, status == "OK")
        return status, lines

    def logout(self):
        self.cmd("LOGOUT")
        self.c.read_until_closed()
        self.c.close()


# --------------------------------------------------------------------------- SMTP
class _RecordSMTPCommands:
    def putcmd(self, cmd, args=""):
        if not self._in_sasl:
            self._rec.sent_verb(cmd.split()[0] if cmd.strip() else cmd)
        elif cmd.upper().startswith("AUTH"):
            self._rec.sent_verb("AUTH")
        return super().putcmd(cmd, args)

    def auth(self, mechanism, authobject, *, initial_response_ok=True):
        # Continuation lines of the SASL exchange are not commands.
        self._in_sasl = True
        try:
            return super().auth(mechanism, authobject, initial_response_ok=initial_response_ok)
        finally:
            self._in_sasl = False


class _RecordingSMTP(_RecordSMTPCommands, smtplib.SMTP):
    def __init__(self, rec, host, port, **kw):
        self._rec = rec
        self._in_sasl = False
        super().__init__(host, port, **kw)


class _RecordingSMTP_SSL(_RecordSMTPCommands, smtplib.SMTP_SSL):
    def __init__(self, rec, host, port, **kw):
        self._rec = rec
        self._in_sasl = False
        super().__init__(host, port, **kw)


def smtp_client(rec, port, local_hostname="client.example.test", tls_context=None):
    if tls_context is None:
        return _RecordingSMTP(rec, HOST, port, local_hostname=local_hostname, timeout=15)
    # implicit TLS (SMTPS, RFC 8314)
    return _RecordingSMTP_SSL(rec, HOST, port, local_hostname=local_hostname, timeout=15,
                              context=tls_context)


class RawSmtp:
    def __init__(self, rec, port):
        self.rec = rec
        self.c = LineClient(HOST, port)
        code, self.greeting = self.c.smtp_reply()
        if code != 220:
            raise RuntimeError("SMTP greeting: %r" % self.greeting)

    def cmd(self, line):
        self.rec.sent(line)
        self.c.send_line(line)
        return self.c.smtp_reply()

    def quit(self):
        r = self.cmd("QUIT")
        self.c.read_until_closed()
        self.c.close()
        return r
