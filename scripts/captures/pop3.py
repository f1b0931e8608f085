"""POP3 scenarios (Dovecot on 127.0.0.1:11110, STLS on the same port)."""

import os
import re

from .cli import scenario, ScenarioError
from .clients import PopLib, RawPop, sasl_plain, b64, cram_md5_response
from .rawclient import tls_context
from .record import Record


def _pw(ctx, user):
    return ctx.users[user]


def _expect(cond, what):
    if not cond:
        raise ScenarioError(what)


@scenario("pop3-userpass-ok", "pop3",
          "poplib USER/PASS, STAT, LIST, RETR of the protocol-lookalike message, DELE, QUIT")
def pop3_userpass_ok(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "python-poplib",
                 "USER/PASS accepted; STAT, LIST, RETR 1 (a body full of lines that look like "
                 "POP3/IMAP/SMTP, with dot-stuffed lines), DELE 1, QUIT enters UPDATE")
    with ctx.capture(port):
        s = PopLib(rec, port)
        _expect(s.login("alice", _pw(ctx, "alice")), "alice's login was refused")
        s.p.stat()
        s.p.list()
        _resp, lines, _octets = s.p.retr(1)
        _expect(b"USER mallory" in lines and b"." in lines, "RETR 1 is not the lookalike message")
        s.p.dele(1)
        s.quit()
    return rec


@scenario("pop3-userpass-fail-retry", "pop3",
          "USER alice/PASS wrong (-ERR), then USER bob/PASS 'b0b pass' (+OK)")
def pop3_userpass_fail_retry(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "python-poplib",
                 "USER alice with a wrong password (-ERR), then USER with a different user "
                 "(bob, password with a space) and his right password; STAT, QUIT")
    with ctx.capture(port):
        s = PopLib(rec, port)
        _expect(not s.login("alice", "wrongpw"), "a wrong password was accepted")
        _expect(s.login("bob", _pw(ctx, "bob")), "bob's login was refused")
        s.p.stat()
        s.quit()
    return rec


@scenario("pop3-apop", "pop3", "poplib APOP with the greeting's timestamp, STAT, QUIT")
def pop3_apop(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "python-poplib",
                 "APOP alice <md5 of greeting timestamp + password>, STAT, QUIT")
    with ctx.capture(port):
        s = PopLib(rec, port)
        _expect(b"<" in s.p.getwelcome(), "no APOP timestamp in the greeting")
        _expect(s.apop("alice", _pw(ctx, "alice")), "APOP was refused")
        s.p.stat()
        s.quit()
    return rec


@scenario("pop3-auth-plain", "pop3", "raw AUTH PLAIN with initial response (alice), STAT, QUIT")
def pop3_auth_plain(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "raw-socket",
                 "AUTH PLAIN with the initial response on the command line, STAT, QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        ok, _ = s.sasl("AUTH PLAIN " + sasl_plain("alice", _pw(ctx, "alice")), [])
        rec.credential("PLAIN", "alice", ok, password=_pw(ctx, "alice"))
        _expect(ok, "AUTH PLAIN refused")
        s.cmd("STAT")
        s.quit()
    return rec


@scenario("pop3-auth-plain-2step", "pop3",
          "raw AUTH PLAIN, '+ ' continuation, then the base64 line (bob), STAT, QUIT")
def pop3_auth_plain_2step(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "raw-socket",
                 "AUTH PLAIN without initial response: server sends '+ ', client sends the "
                 "base64 of \\0bob\\0b0b pass; STAT, QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        ok, _ = s.sasl("AUTH PLAIN", [sasl_plain("bob", _pw(ctx, "bob"))])
        rec.credential("PLAIN", "bob", ok, password=_pw(ctx, "bob"))
        _expect(ok, "AUTH PLAIN refused")
        s.cmd("STAT")
        s.quit()
    return rec


@scenario("pop3-auth-login", "pop3",
          "raw AUTH LOGIN with 'Username:'/'Password:' prompts (carol), STAT, QUIT")
def pop3_auth_login(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "raw-socket",
                 "AUTH LOGIN: two base64 prompts answered with user carol and her password "
                 "(which holds a double quote and a backslash); STAT, QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        ok, _ = s.sasl("AUTH LOGIN", [b64("carol"), b64(_pw(ctx, "carol"))])
        rec.credential("LOGIN", "carol", ok, password=_pw(ctx, "carol"))
        _expect(ok, "AUTH LOGIN refused")
        s.cmd("STAT")
        s.quit()
    return rec


@scenario("pop3-auth-cram-md5", "pop3",
          "raw AUTH CRAM-MD5, HMAC-MD5 of the server challenge (alice), STAT, QUIT")
def pop3_auth_cram_md5(ctx):
    port = ctx.ports["pop3"]
    pw = _pw(ctx, "alice")
    rec = Record("pop3", port, "raw-socket",
                 "AUTH CRAM-MD5: the client answers the server's challenge with "
                 "'alice <hex HMAC-MD5>' in base64; STAT, QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        ok, _ = s.sasl("AUTH CRAM-MD5", [lambda ch: cram_md5_response("alice", pw, ch)])
        rec.credential("CRAM-MD5", "alice", ok, password_known=pw)
        _expect(ok, "AUTH CRAM-MD5 refused")
        s.cmd("STAT")
        s.quit()
    return rec


@scenario("pop3-auth-cancel", "pop3",
          "raw AUTH PLAIN, '*' cancels at the '+ ' prompt (-ERR), then USER/PASS")
def pop3_auth_cancel(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "raw-socket",
                 "AUTH PLAIN is cancelled with '*' at the continuation (no credential sent, "
                 "-ERR), then USER/PASS alice succeeds; STAT, QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        ok, _ = s.sasl("AUTH PLAIN", ["*"])
        _expect(not ok, "cancelled AUTH did not fail")
        _expect(s.login("alice", _pw(ctx, "alice")), "USER/PASS refused after the cancel")
        s.cmd("STAT")
        s.quit()
    return rec


@scenario("pop3-stls", "pop3",
          "poplib CAPA, STLS, then USER/PASS, STAT, QUIT inside TLS (key log written)")
def pop3_stls(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "python-poplib",
                 "CAPA and STLS in clear, TLS handshake, then USER/PASS, STAT, LIST, QUIT "
                 "inside TLS; NAME.keys decrypts it")
    keys = ctx.keylog(rec)
    with ctx.capture(port):
        s = PopLib(rec, port)
        s.p.stls(context=tls_context(ctx.lab.cert, keys))
        rec.tls = True
        _expect(s.login("alice", _pw(ctx, "alice")), "login inside TLS refused")
        s.p.stat()
        s.p.list()
        s.quit()
    _expect(os.path.getsize(keys) > 0, "no TLS keys were logged")
    return rec


@scenario("pop3-pipelining", "pop3",
          "raw CAPA, USER/PASS, then STAT LIST UIDL RETR 1 in one send(), QUIT")
def pop3_pipelining(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "raw-socket",
                 "CAPA (PIPELINING offered), USER/PASS, then 'STAT\\r\\nLIST\\r\\nUIDL\\r\\n"
                 "RETR 1\\r\\n' in a single segment, the four replies, QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        ok, _, caps = s.cmd("CAPA", multiline=True)
        _expect(ok and b"PIPELINING" in caps, "PIPELINING not offered")
        _expect(s.login("alice", _pw(ctx, "alice")), "login refused")
        batch = ["STAT", "LIST", "UIDL", "RETR 1"]
        for line in batch:
            rec.sent(line)
        s.c.send("".join(l + "\r\n" for l in batch))
        s.c.pop3_reply()
        s.c.pop3_reply(multiline=True)
        s.c.pop3_reply(multiline=True)
        ok, _, body = s.c.pop3_reply(multiline=True)
        _expect(ok and b"PASS stolen" in body, "RETR 1 reply not as expected")
        s.quit()
    return rec


@scenario("pop3-wrong-phase", "pop3",
          "raw STAT before login (-ERR), then USER/PASS, QUIT")
def pop3_wrong_phase(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "raw-socket",
                 "STAT in the AUTHORIZATION state is refused (-ERR); then USER/PASS and QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        ok, _, _ = s.cmd("STAT")
        _expect(not ok, "STAT before login was accepted")
        _expect(s.login("alice", _pw(ctx, "alice")), "login refused")
        s.quit()
    return rec


@scenario("pop3-split-commands", "pop3",
          "raw USER/PASS split across TCP segments: 'US' | 'ER alice\\r\\nPA' | 'SS alicepw\\r\\n'")
def pop3_split_commands(ctx):
    port = ctx.ports["pop3"]
    pw = _pw(ctx, "alice")
    rec = Record("pop3", port, "raw-socket",
                 "commands split over segments with TCP_NODELAY and pauses: 'US', "
                 "'ER alice\\r\\nPA', 'SS alicepw\\r\\n'; then STAT and QUIT")
    with ctx.capture(port):
        s = RawPop(rec, port)
        rec.sent("USER alice")
        s.c.send("US")
        s.c.pause(0.3)
        rec.sent("PASS " + pw)
        s.c.send("ER alice\r\nPA")
        ok, _, _ = s.c.pop3_reply()
        _expect(ok, "USER refused")
        s.c.pause(0.3)
        s.c.send("SS %s\r\n" % pw)
        ok, _, _ = s.c.pop3_reply()
        rec.replied("PASS", ok)
        rec.credential("USER-PASS", "alice", ok, password=pw)
        _expect(ok, "PASS refused")
        s.cmd("STAT")
        s.quit()
    return rec


@scenario("pop3-quit-in-auth", "pop3",
          "poplib USER alice then QUIT in the AUTHORIZATION state (no UPDATE)")
def pop3_quit_in_auth(ctx):
    port = ctx.ports["pop3"]
    rec = Record("pop3", port, "python-poplib",
                 "USER alice, then QUIT before any PASS: the session ends in auth, no update "
                 "phase, no password sent")
    with ctx.capture(port):
        s = PopLib(rec, port)
        s.p.user("alice")
        s.quit()
    return rec


@scenario("pop3-fetchmail", "pop3",
          "fetchmail (USER/PASS, no STLS, --keep) retrieves both messages")
def pop3_fetchmail(ctx):
    port = ctx.ports["pop3"]
    pw = _pw(ctx, "alice")
    rec = Record("pop3", port, "fetchmail",
                 "fetchmail -v with 'auth password', sslproto '' (no STLS) and keep: "
                 "CAPA, USER/PASS, STAT/LIST/UIDL, RETR of both messages, QUIT")
    rec.track_commands = False
    home = ctx.lab.path("fetchmail-home")
    os.makedirs(home, exist_ok=True)
    os.chmod(home, 0o700)
    rc = ctx.tmpfile("fetchmailrc",
                     "set no syslog\n"
                     "poll 127.0.0.1 with proto POP3 port %d auth password\n"
                     "  user \"alice\" there with password \"%s\" is \"root\" here\n"
                     "  options keep fetchall sslproto '' mda \"/bin/cat >/dev/null\"\n"
                     % (port, pw))
    with ctx.capture(port):
        r = ctx.run(["fetchmail", "-v", "--nodetach", "--nosyslog", "-f", rc,
                     "--pidfile", os.path.join(home, "fetchmail.pid")],
                    env={"HOME": home, "FETCHMAILHOME": home}, timeout=60)
    log = r.stdout + r.stderr
    ctx.log(log)
    # What fetchmail itself says it did (its -v protocol log).
    _expect("POP3> USER alice" in log and "POP3> PASS" in log,
            "fetchmail did not log USER/PASS:\n" + log)
    _expect("STLS" not in re.findall(r"POP3> (\S+)", log), "fetchmail used STLS")
    ok = r.returncode == 0 and "POP3< +OK Logged in" in log
    rec.credential("USER-PASS", "alice", ok, password=pw)
    _expect(ok, "fetchmail failed (exit %d):\n%s" % (r.returncode, log))
    rec.enter("transaction")
    _expect("POP3> QUIT" in log, "fetchmail sent no QUIT")
    rec.enter("update")
    return rec


@scenario("pop3-curl", "pop3", "curl pop3:// LIST and RETR 1 on one connection (SASL as curl picks)")
def pop3_curl(ctx):
    port = ctx.ports["pop3"]
    pw = _pw(ctx, "alice")
    rec = Record("pop3", port, "curl",
                 "curl -u alice:... pop3://127.0.0.1/ (LIST) and .../1 (RETR 1) on one "
                 "connection; curl chooses the SASL mechanism from CAPA")
    rec.track_commands = False
    url = "pop3://127.0.0.1:%d/" % port
    with ctx.capture(port):
        r = ctx.run(["curl", "-v", "-s", "--max-time", "30", "-u", "alice:" + pw,
                     url, "-o", "/dev/null", url + "1", "-o", "/dev/null"])
    ctx.log(r.stderr)
    sent = re.findall(r"^> (.*?)\r?$", r.stderr, re.M)
    auth = [l for l in sent if l.upper().startswith(("AUTH", "USER", "APOP"))]
    _expect(auth, "curl -v shows no login:\n" + r.stderr)
    ok = r.returncode == 0
    mech_line = auth[0].split()
    if mech_line[0].upper() == "AUTH":
        mech = mech_line[1].upper()
    elif mech_line[0].upper() == "USER":
        mech = "USER-PASS"
    else:
        mech = "APOP"
    if mech in ("CRAM-MD5", "APOP", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"):
        rec.credential(mech, "alice", ok, password_known=pw)
    else:
        rec.credential(mech, "alice", ok, password=pw)
    _expect(ok, "curl failed (exit %d):\n%s" % (r.returncode, r.stderr))
    _expect(any(l.startswith("RETR") for l in sent), "curl sent no RETR")
    rec.enter("transaction")
    rec.enter("update")     # curl ends with QUIT (after its verbose log ends)
    return rec


@scenario("pop3s-implicit-tls", "pop3",
          "poplib POP3_SSL on the POP3S port: TLS from the first byte, USER/PASS, STAT, QUIT "
          "(key log)",
          port="pop3s")
def pop3s_implicit_tls(ctx):
    port = ctx.ports["pop3s"]
    rec = Record("pop3", port, "python-poplib",
                 "implicit TLS (POP3S): TLS handshake first, then greeting, USER/PASS, STAT, "
                 "QUIT; NAME.keys decrypts it")
    keys = ctx.keylog(rec)
    rec.tls = True
    with ctx.capture(port):
        s = PopLib(rec, port, tls_context=tls_context(ctx.lab.cert, keys))
        _expect(s.login("alice", _pw(ctx, "alice")), "login refused")
        s.p.stat()
        s.quit()
    _expect(os.path.getsize(keys) > 0, "no TLS keys were logged")
    return rec


@scenario("pop3-rfc1939", "pop3",
          "raw replay of RFC 1939 section 10: APOP, STAT, LIST, RETR 1, RETR 2, DELE 1, DELE 2, "
          "QUIT, one command per segment")
def pop3_rfc1939(ctx):
    import hashlib
    port = ctx.ports["pop3"]
    pw = _pw(ctx, "alice")
    rec = Record("pop3", port, "raw-socket",
                 "the example dialogue of RFC 1939 section 10 against alice's two-message "
                 "maildrop: APOP with the MD5 of the greeting's timestamp and the password, "
                 "STAT, LIST, RETR 1, RETR 2, DELE 1, DELE 2, QUIT (UPDATE deletes both); each "
                 "command in its own segment, each reply awaited")
    with ctx.capture(port):
        s = RawPop(rec, port)
        m = re.search(rb"<[^<>]*>", s.greeting)
        _expect(m is not None, "no APOP timestamp in the greeting %r" % s.greeting)
        digest = hashlib.md5(m.group(0) + pw.encode("utf-8")).hexdigest()
        ok, _, _ = s.cmd("APOP alice " + digest)
        rec.credential("APOP", "alice", ok, password_known=pw)
        _expect(ok, "APOP was refused")
        ok, first, _ = s.cmd("STAT")
        _expect(ok and first.split()[1:2] == [b"2"], "the maildrop does not hold 2 messages: %r"
                % first)
        ok, _, listing = s.cmd("LIST", multiline=True)
        _expect(ok and len(listing) == 2, "LIST: %r" % listing)
        for n in (1, 2):
            ok, _, _ = s.cmd("RETR %d" % n, multiline=True)
            _expect(ok, "RETR %d refused" % n)
        for n in (1, 2):
            ok, _, _ = s.cmd("DELE %d" % n)
            _expect(ok, "DELE %d refused" % n)
        s.quit()
    return rec
