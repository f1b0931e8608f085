"""IMAP scenarios (Dovecot on 127.0.0.1:11143, STARTTLS on the same port)."""

import os
import re
import time

from .cli import scenario, ScenarioError
from .clients import ImapLib, RawImap, sasl_plain, b64, cram_md5_response
from .mailboxes import LATE_ARRIVAL
from .rawclient import tls_context
from .record import Record


def _expect(cond, what):
    if not cond:
        raise ScenarioError(what)


def _raw_sasl(s, mech_and_ir, responses):
    """AUTHENTICATE exchange on a RawImap; responses answer the '+' continuations."""
    rec = s.rec
    tag = s.tag()
    line = "%s AUTHENTICATE %s" % (tag, mech_and_ir)
    rec.sent(line)
    s.c.send_line(line)
    responses = list(responses)
    while True:
        status, lines = s.c.imap_reply(tag)
        if status != "+":
            break
        if not responses:
            raise ScenarioError("server wants more than we have: %r" % lines[-1])
        r = responses.pop(0)
        if callable(r):
            r = r(lines[-1][2:].decode())
        s.c.send_line(r)
    rec.replied("AUTHENTICATE", status == "OK")
    return status == "OK"


def _raw_login_literal(s, parts, plus):
    """LOGIN whose arguments are given as (text, is_literal) parts.

    Synchronizing literals wait for the server's '+'; LITERAL+ ones ({n+}) don't."""
    rec = s.rec
    tag = s.tag()
    rec.sent("%s LOGIN" % tag)
    out = "%s LOGIN" % tag
    for text, literal in parts:
        if not literal:
            out += " " + text
            continue
        data = text.encode("utf-8")
        out += " {%d%s}" % (len(data), "+" if plus else "")
        s.c.send(out + "\r\n")
        if not plus:
            st, lines = s.c.imap_reply(tag)
            _expect(st == "+", "no continuation for the literal: %r" % lines)
        s.c.send(data)
        out = ""
    s.c.send(out + "\r\n")
    status, _ = s.c.imap_reply(tag)
    rec.replied("LOGIN", status == "OK")
    return status == "OK"


@scenario("imap-login-atoms", "imap",
          "imaplib LOGIN alice alicepw (atoms), SELECT, FETCH BODY[] of the lookalike "
          "message, STORE \\Deleted, EXPUNGE, CLOSE, LOGOUT")
def imap_login_atoms(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "python-imaplib",
                 "CAPABILITY, LOGIN with both arguments as atoms, SELECT INBOX, FETCH 1 (BODY[]) "
                 "(a literal full of lines that look like protocol), STORE +FLAGS (\\Deleted), "
                 "EXPUNGE, CLOSE (back to authenticated), LOGOUT")
    with ctx.capture(port):
        s = ImapLib(rec, port)
        m = s.m
        # imaplib's login() always quotes the password: send the atoms ourselves.
        ok, _, _ = s.call("LOGIN", m._simple_command, "LOGIN", "alice", pw)
        rec.credential("IMAP-LOGIN", "alice", ok, password=pw)
        _expect(ok, "LOGIN refused")
        m.state = "AUTH"
        ok, _, _ = s.call("SELECT", m.select, "INBOX")
        _expect(ok, "SELECT INBOX failed")
        typ, dat = m.fetch("1", "(BODY[])")
        _expect(typ == "OK" and b"a1 LOGIN x y" in dat[0][1], "FETCH 1 is not the lookalike")
        m.store("1", "+FLAGS", "(\\Deleted)")
        m.expunge()
        ok, _, _ = s.call("CLOSE", m.close)
        m.logout()
    return rec


@scenario("imap-login-quoted", "imap",
          "raw a1 LOGIN \"bob\" \"b0b pass\" (quoted strings, space in the password), LIST, LOGOUT")
def imap_login_quoted(ctx):
    port = ctx.ports["imap"]
    rec = Record("imap", port, "raw-socket",
                 "LOGIN with user and password as quoted strings; the password holds a space")
    with ctx.capture(port):
        s = RawImap(rec, port)
        st, _ = s.cmd('LOGIN "bob" "b0b pass"')
        rec.credential("IMAP-LOGIN", "bob", st == "OK", password=ctx.users["bob"])
        _expect(st == "OK", "LOGIN refused")
        s.cmd('LIST "" "*"')
        s.logout()
    return rec


@scenario("imap-login-quoted-escape", "imap",
          "raw a1 LOGIN \"carol\" \"c\\\"q\\\\x\" (quoted string with escaped quote and backslash)")
def imap_login_quoted_escape(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["carol"]
    quoted = '"' + pw.replace("\\", "\\\\").replace('"', '\\"') + '"'
    rec = Record("imap", port, "raw-socket",
                 "LOGIN \"carol\" %s: the password c\"q\\x written as a quoted string with "
                 "backslash escapes; LIST, LOGOUT" % quoted)
    with ctx.capture(port):
        s = RawImap(rec, port)
        st, _ = s.cmd('LOGIN "carol" ' + quoted)
        rec.credential("IMAP-LOGIN", "carol", st == "OK", password=pw)
        _expect(st == "OK", "LOGIN refused")
        s.cmd('LIST "" "*"')
        s.logout()
    return rec


@scenario("imap-login-literal", "imap",
          "raw LOGIN alice {7}: the password as a synchronizing literal after '+', LOGOUT")
def imap_login_literal(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "raw-socket",
                 "a1 LOGIN alice {7}, server's '+' continuation, then the password as literal "
                 "data; SELECT INBOX, LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        ok = _raw_login_literal(s, [("alice", False), (pw, True)], plus=False)
        rec.credential("IMAP-LOGIN", "alice", ok, password=pw)
        _expect(ok, "LOGIN with a literal refused")
        s.cmd("SELECT INBOX")
        s.logout()
    return rec


@scenario("imap-login-literal-plus", "imap",
          "raw LOGIN {5+} {7+}: user and password as non-synchronizing literals (LITERAL+)")
def imap_login_literal_plus(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "raw-socket",
                 "a1 LOGIN {5+}CRLF alice {7+}CRLF alicepw: both arguments as LITERAL+ literals, "
                 "sent without waiting; SELECT INBOX, LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        _expect(b"LITERAL+" in s.greeting, "server does not advertise LITERAL+")
        ok = _raw_login_literal(s, [("alice", True), (pw, True)], plus=True)
        rec.credential("IMAP-LOGIN", "alice", ok, password=pw)
        _expect(ok, "LOGIN with LITERAL+ refused")
        s.cmd("SELECT INBOX")
        s.logout()
    return rec


@scenario("imap-login-fail-retry", "imap",
          "imaplib LOGIN alice with a wrong password (NO), then the right one, SELECT, LOGOUT")
def imap_login_fail_retry(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "python-imaplib",
                 "LOGIN alice \"wrongpw\" is refused (NO [AUTHENTICATIONFAILED]), then "
                 "LOGIN alice \"alicepw\" succeeds; SELECT INBOX, LOGOUT")
    with ctx.capture(port):
        s = ImapLib(rec, port)
        ok, _, _ = s.call("LOGIN", s.m.login, "alice", "wrongpw")
        rec.credential("IMAP-LOGIN", "alice", ok, password="wrongpw")
        _expect(not ok, "a wrong password was accepted")
        ok, _, _ = s.call("LOGIN", s.m.login, "alice", pw)
        rec.credential("IMAP-LOGIN", "alice", ok, password=pw)
        _expect(ok, "the right password was refused")
        s.call("SELECT", s.m.select, "INBOX")
        s.m.logout()
    return rec


@scenario("imap-auth-plain-ir", "imap",
          "raw AUTHENTICATE PLAIN with SASL-IR initial response (alice), LIST, LOGOUT")
def imap_auth_plain_ir(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "raw-socket",
                 "AUTHENTICATE PLAIN <base64> on one line (SASL-IR), LIST, LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        _expect(b"SASL-IR" in s.greeting, "no SASL-IR")
        ok = _raw_sasl(s, "PLAIN " + sasl_plain("alice", pw), [])
        rec.credential("PLAIN", "alice", ok, password=pw)
        _expect(ok, "AUTHENTICATE PLAIN refused")
        s.cmd('LIST "" "*"')
        s.logout()
    return rec


@scenario("imap-auth-plain", "imap",
          "raw AUTHENTICATE PLAIN, '+ ' continuation, base64 line (bob), LIST, LOGOUT")
def imap_auth_plain(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["bob"]
    rec = Record("imap", port, "raw-socket",
                 "AUTHENTICATE PLAIN without initial response: '+ ', then base64 of "
                 "\\0bob\\0b0b pass; LIST, LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        ok = _raw_sasl(s, "PLAIN", [sasl_plain("bob", pw)])
        rec.credential("PLAIN", "bob", ok, password=pw)
        _expect(ok, "AUTHENTICATE PLAIN refused")
        s.cmd('LIST "" "*"')
        s.logout()
    return rec


@scenario("imap-auth-login", "imap",
          "raw AUTHENTICATE LOGIN with Username:/Password: prompts (carol), LIST, LOGOUT")
def imap_auth_login(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["carol"]
    rec = Record("imap", port, "raw-socket",
                 "AUTHENTICATE LOGIN: base64 prompts answered with carol and her password; "
                 "LIST, LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        ok = _raw_sasl(s, "LOGIN", [b64("carol"), b64(pw)])
        rec.credential("LOGIN", "carol", ok, password=pw)
        _expect(ok, "AUTHENTICATE LOGIN refused")
        s.cmd('LIST "" "*"')
        s.logout()
    return rec


@scenario("imap-auth-cram-md5", "imap",
          "raw AUTHENTICATE CRAM-MD5 answered with HMAC-MD5 of the challenge (alice), LOGOUT")
def imap_auth_cram_md5(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "raw-socket",
                 "AUTHENTICATE CRAM-MD5: challenge, 'alice <hex HMAC-MD5>' in base64; "
                 "SELECT INBOX, LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        ok = _raw_sasl(s, "CRAM-MD5", [lambda ch: cram_md5_response("alice", pw, ch)])
        rec.credential("CRAM-MD5", "alice", ok, password_known=pw)
        _expect(ok, "AUTHENTICATE CRAM-MD5 refused")
        s.cmd("SELECT INBOX")
        s.logout()
    return rec


@scenario("imap-idle", "imap",
          "raw LOGIN, SELECT, IDLE; a message is delivered to the Maildir; * 3 EXISTS; DONE; LOGOUT")
def imap_idle(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "raw-socket",
                 "LOGIN, SELECT INBOX, IDLE ('+ idling'); a new message is dropped into the "
                 "Maildir by the scenario (no network), the server pushes '* 3 EXISTS'; the "
                 "client ends IDLE with DONE (not a command: no tag), LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        st, _ = s.cmd("LOGIN alice " + pw)
        rec.credential("IMAP-LOGIN", "alice", st == "OK", password=pw)
        _expect(st == "OK", "LOGIN refused")
        s.cmd("SELECT INBOX")
        tag = s.tag()
        rec.sent("%s IDLE" % tag)
        s.c.send_line("%s IDLE" % tag)
        st, lines = s.c.imap_reply(tag)
        _expect(st == "+", "IDLE not accepted: %r" % lines)
        time.sleep(0.3)
        ctx.lab.deliver_now("alice", 3, LATE_ARRIVAL)
        deadline = time.monotonic() + 10
        s.c.sock.settimeout(10)
        seen = False
        while time.monotonic() < deadline and not seen:
            line = s.c.read_line()
            seen = bool(re.match(rb"\* 3 EXISTS", line))
        _expect(seen, "no EXISTS during IDLE")
        # read whatever else the server pushes with it (e.g. * 1 RECENT)
        time.sleep(0.3)
        s.c.send_line("DONE")
        st, _ = s.c.imap_reply(tag)
        _expect(st == "OK", "IDLE did not end with OK")
        s.logout()
    return rec


@scenario("imap-compress", "imap",
          "raw socket: LOGIN, COMPRESS DEFLATE, then compressed both ways (RFC 4978): SELECT, "
          "FETCH BODY[], STORE \\Deleted, EXPUNGE, LOGOUT")
def imap_compress(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "raw-socket",
                 "LOGIN in clear, COMPRESS DEFLATE (Dovecot's imap_zlib); after its OK both "
                 "directions are raw DEFLATE with a sync flush per message (RFC 4978 §3, Python's "
                 "zlib on the client side): SELECT INBOX, FETCH 1 BODY[], STORE 1 +FLAGS (\\Deleted), "
                 "EXPUNGE, LOGOUT")
    with ctx.capture(port):
        s = RawImap(rec, port)
        st, _ = s.cmd("LOGIN alice " + pw)
        rec.credential("IMAP-LOGIN", "alice", st == "OK", password=pw)
        _expect(st == "OK", "LOGIN refused")
        st, _ = s.cmd("COMPRESS DEFLATE")
        _expect(st == "OK", "COMPRESS refused (is imap_zlib loaded?)")
        s.c.start_deflate()
        st, _ = s.cmd("SELECT INBOX")
        _expect(st == "OK", "SELECT refused")
        st, lines = s.cmd("FETCH 1 BODY[]")
        _expect(st == "OK", "FETCH refused: %r" % lines)
        st, _ = s.cmd("STORE 1 +FLAGS (\\Deleted)")
        _expect(st == "OK", "STORE refused")
        st, _ = s.cmd("EXPUNGE")
        _expect(st == "OK", "EXPUNGE refused")
        s.logout()
    return rec


@scenario("imap-starttls", "imap",
          "imaplib CAPABILITY, STARTTLS, CAPABILITY, LOGIN, SELECT, LOGOUT inside TLS (key log)")
def imap_starttls(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "python-imaplib",
                 "STARTTLS in clear, TLS handshake, then CAPABILITY, LOGIN alice \"alicepw\", "
                 "SELECT INBOX, LOGOUT inside TLS; NAME.keys decrypts it")
    keys = ctx.keylog(rec)
    with ctx.capture(port):
        s = ImapLib(rec, port)
        typ, _ = s.m.starttls(ssl_context=tls_context(ctx.lab.cert, keys))
        _expect(typ == "OK", "STARTTLS failed")
        rec.tls = True
        ok, _, _ = s.call("LOGIN", s.m.login, "alice", pw)
        rec.credential("IMAP-LOGIN", "alice", ok, password=pw)
        _expect(ok, "LOGIN refused")
        s.call("SELECT", s.m.select, "INBOX")
        s.m.logout()
    _expect(os.path.getsize(keys) > 0, "no TLS keys were logged")
    return rec


APPEND_MESSAGE = (
    "From: Alice <alice@example.test>\r\n"
    "To: Alice <alice@example.test>\r\n"
    "Subject: Draft with lines that look like IMAP\r\n"
    "Date: Fri, 05 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <append-1@example.test>\r\n"
    "\r\n"
    "a1 LOGIN x y\r\n"
    "* OK fake greeting\r\n"
    "a2 SELECT INBOX\r\n"
    "+ go ahead\r\n"
    "a3 OK LOGIN completed\r\n"
    "* BYE fake\r\n")


@scenario("imap-append", "imap",
          "raw LOGIN, APPEND INBOX with a synchronizing literal holding 'a1 LOGIN x y' and "
          "'* OK', LOGOUT")
def imap_append(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    data = APPEND_MESSAGE.encode()
    rec = Record("imap", port, "raw-socket",
                 "LOGIN, then APPEND INBOX (\\Seen) {%d}: after '+' the client sends a message "
                 "whose lines look like IMAP commands and responses; OK [APPENDUID], "
                 "LOGOUT" % len(data))
    with ctx.capture(port):
        s = RawImap(rec, port)
        st, _ = s.cmd("LOGIN alice " + pw)
        rec.credential("IMAP-LOGIN", "alice", st == "OK", password=pw)
        _expect(st == "OK", "LOGIN refused")
        tag = s.tag()
        line = "%s APPEND INBOX (\\Seen) {%d}" % (tag, len(data))
        rec.sent(line)
        s.c.send_line(line)
        st, lines = s.c.imap_reply(tag)
        _expect(st == "+", "APPEND literal not accepted: %r" % lines)
        s.c.send(data + b"\r\n")
        st, lines = s.c.imap_reply(tag)
        _expect(st == "OK", "APPEND failed: %r" % lines)
        s.logout()
    return rec


@scenario("imap-select-fail", "imap",
          "imaplib SELECT of a missing mailbox (NO), SELECT INBOX, SELECT missing again "
          "(NO: back to authenticated), LOGOUT")
def imap_select_fail(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "python-imaplib",
                 "LOGIN; SELECT Nonexistent -> NO (stays authenticated); SELECT INBOX -> "
                 "selected; SELECT Nonexistent -> NO (the mailbox is closed: back to "
                 "authenticated); LOGOUT")
    with ctx.capture(port):
        s = ImapLib(rec, port)
        ok, _, _ = s.call("LOGIN", s.m.login, "alice", pw)
        rec.credential("IMAP-LOGIN", "alice", ok, password=pw)
        _expect(ok, "LOGIN refused")
        ok, _, _ = s.call("SELECT", s.m.select, "Nonexistent")
        _expect(not ok, "SELECT of a missing mailbox succeeded")
        ok, _, _ = s.call("SELECT", s.m.select, "INBOX")
        _expect(ok, "SELECT INBOX failed")
        ok, _, _ = s.call("SELECT", s.m.select, "Nonexistent")
        _expect(not ok, "SELECT of a missing mailbox succeeded")
        s.m.state = "AUTH"
        s.m.logout()
    return rec


@scenario("imap-curl", "imap",
          "curl imap:// LIST of mailboxes and FETCH of UID 1 on one connection (SASL as curl picks)")
def imap_curl(ctx):
    port = ctx.ports["imap"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "curl",
                 "curl -u alice:... imap://127.0.0.1/ (LIST) and imap://127.0.0.1/INBOX;UID=1 "
                 "(SELECT, FETCH BODY[]) on one connection; curl chooses the mechanism")
    rec.track_commands = False
    base = "imap://127.0.0.1:%d/" % port
    with ctx.capture(port):
        r = ctx.run(["curl", "-v", "-s", "--max-time", "30", "-u", "alice:" + pw,
                     base, "-o", "/dev/null", base + "INBOX;UID=1", "-o", "/dev/null"])
    ctx.log(r.stderr)
    sent = re.findall(r"^> (\S+) (\S+)(.*?)\r?$", r.stderr, re.M)
    replies = dict((m[0], m[1]) for m in re.findall(r"^< (\S+) (OK|NO|BAD)", r.stderr, re.M))
    login = [x for x in sent if x[1].upper() in ("AUTHENTICATE", "LOGIN")]
    _expect(login, "curl -v shows no login:\n" + r.stderr)
    tag, verb, rest = login[0]
    ok = replies.get(tag) == "OK"
    if verb.upper() == "LOGIN":
        mech = "IMAP-LOGIN"
    else:
        mech = rest.split()[0].upper()
    if mech in ("CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"):
        rec.credential(mech, "alice", ok, password_known=pw)
    else:
        rec.credential(mech, "alice", ok, password=pw)
    _expect(ok and r.returncode == 0, "curl failed (exit %d):\n%s" % (r.returncode, r.stderr))
    # phases from curl's own protocol log
    for tag, verb, _rest in sent:
        rec.sent_verb(verb)
        rec.replied(verb, replies.get(tag) == "OK")
    rec.enter("logout")    # curl sends LOGOUT when it closes (after its verbose log)
    return rec


@scenario("imaps-implicit-tls", "imap",
          "imaplib IMAP4_SSL on the IMAPS port: CAPABILITY, LOGIN, SELECT, LOGOUT (key log)",
          port="imaps")
def imaps_implicit_tls(ctx):
    port = ctx.ports["imaps"]
    pw = ctx.users["alice"]
    rec = Record("imap", port, "python-imaplib",
                 "implicit TLS (IMAPS): TLS handshake first, then greeting, CAPABILITY, "
                 "LOGIN alice \"alicepw\", SELECT INBOX, LOGOUT; NAME.keys decrypts it")
    keys = ctx.keylog(rec)
    rec.tls = True
    with ctx.capture(port):
        s = ImapLib(rec, port, tls_context=tls_context(ctx.lab.cert, keys))
        ok, _, _ = s.call("LOGIN", s.m.login, "alice", pw)
        rec.credential("IMAP-LOGIN", "alice", ok, password=pw)
        _expect(ok, "LOGIN refused")
        s.call("SELECT", s.m.select, "INBOX")
        s.m.logout()
    _expect(os.path.getsize(keys) > 0, "no TLS keys were logged")
    return rec
