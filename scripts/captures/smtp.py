"""SMTP scenarios (Postfix: relay without AUTH on 127.0.0.1:11025, submission with
Dovecot SASL and STARTTLS on 127.0.0.1:11587; every message is discarded)."""

import hashlib
import os
import re
import smtplib
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email import policy

from .cli import scenario, ScenarioError
from .clients import RawSmtp, smtp_client, sasl_plain, b64, cram_md5_response
from .lab import REJECTED_RCPT
from .rawclient import tls_context
from .record import Record

EHLO_NAME = "client.example.test"


def _expect(cond, what):
    if not cond:
        raise ScenarioError(what)


def _message(subject, msgid, body, to="Bob <bob@example.test>"):
    return ("From: Alice <alice@example.test>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Date: Mon, 08 Jan 2024 09:00:00 +0000\r\n"
            "Message-ID: <%s@example.test>\r\n"
            "\r\n%s" % (to, subject, msgid, body))


# Body lines that look like SMTP commands; '.hidden' and the lone '.' are
# dot-stuffed on the wire ('..hidden', '..').
LOOKALIKE_BODY = (
    "The lines below are message content, not SMTP commands:\r\n"
    "MAIL FROM:<evil@x>\r\n"
    "RCPT TO:<x>\r\n"
    "AUTH PLAIN AGFAYg==\r\n"
    "DATA\r\n"
    "250 2.0.0 Ok: fake\r\n"
    ".hidden line that starts with a dot\r\n"
    ".\r\n"
    "QUIT\r\n"
    "End of the message.\r\n")


def _raw_data(s, body):
    """DATA, 354, the dot-stuffed body and '.', end-of-data reply."""
    code, _ = s.cmd("DATA")
    _expect(code == 354, "DATA refused: %d" % code)
    stuffed = re.sub(r"(?m)^\.", "..", body)
    if not stuffed.endswith("\r\n"):
        stuffed += "\r\n"
    s.c.send(stuffed + ".\r\n")
    code, lines = s.c.smtp_reply()
    _expect(code == 250, "message not accepted: %r" % lines)


def _raw_sasl(s, first_line, responses):
    """AUTH exchange; responses answer the 334 challenges (str or callable)."""
    s.rec.sent(first_line)
    s.c.send_line(first_line)
    responses = list(responses)
    while True:
        code, lines = s.c.smtp_reply()
        if code != 334:
            break
        if not responses:
            raise ScenarioError("server wants more than we have: %r" % lines)
        r = responses.pop(0)
        if callable(r):
            r = r(lines[-1][4:].decode())
        s.c.send_line(r)
    return code == 235, code


def _mail_to_bob(s, body_subject, msgid, body="Hello Bob.\r\n"):
    code, _ = s.cmd("MAIL FROM:<alice@example.test>")
    _expect(code == 250, "MAIL refused")
    code, _ = s.cmd("RCPT TO:<bob@example.test>")
    _expect(code == 250, "RCPT refused")
    _raw_data(s, _message(body_subject, msgid, body))


@scenario("smtp-relay-noauth", "smtp",
          "smtplib on the relay port: EHLO, MAIL, RCPT, DATA whose body looks like SMTP "
          "(dot-stuffed lines), QUIT",
          port="smtp")
def smtp_relay_noauth(ctx):
    port = ctx.ports["smtp"]
    rec = Record("smtp", port, "python-smtplib",
                 "no AUTH: EHLO, MAIL FROM, RCPT TO, DATA with a body containing "
                 "'MAIL FROM:<evil@x>', 'RCPT TO:<x>', 'AUTH PLAIN AGFAYg==', '.hidden' and a lone "
                 "'.' (both dot-stuffed by the client), QUIT")
    with ctx.capture(port):
        s = smtp_client(rec, port)
        code, _ = s.ehlo(EHLO_NAME)
        _expect(code == 250, "EHLO refused")
        _expect(s.mail("alice@example.test")[0] == 250, "MAIL refused")
        _expect(s.rcpt("bob@example.test")[0] == 250, "RCPT refused")
        code, _ = s.data(_message("Lines that look like SMTP", "smtp-lookalike", LOOKALIKE_BODY))
        _expect(code == 250, "message refused")
        s.quit()
    return rec


def _swaks(ctx, rec, mech, user, pw, subject, msgid):
    port = ctx.ports["submission"]
    data = ctx.tmpfile("message.eml", _message(subject, msgid, "Hello Bob, sent with swaks.\r\n"))
    with ctx.capture(port):
        r = ctx.run(["swaks", "--server", "127.0.0.1", "--port", str(port),
                     "--ehlo", EHLO_NAME, "--from", "alice@example.test",
                     "--to", "bob@example.test", "--auth", mech, "--auth-user", user,
                     "--auth-password", pw, "--data", "@" + data, "--timeout", "20"])
    ctx.log(r.stdout + r.stderr)
    # swaks' transcript of what it sent
    sent = re.findall(r"^ *-> (.*)$", r.stdout, re.M)
    auth = [l for l in sent if l.upper().startswith("AUTH ")]
    _expect(auth and auth[0].split()[1].upper() == mech,
            "swaks did not use AUTH %s:\n%s" % (mech, r.stdout))
    ok = r.returncode == 0
    if mech in ("CRAM-MD5", "DIGEST-MD5"):
        rec.credential(mech, user, ok, password_known=pw)
    else:
        rec.credential(mech, user, ok, password=pw)
    _expect(ok, "swaks failed (exit %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    _expect(not any(l.upper().startswith("STARTTLS") for l in sent), "swaks used STARTTLS")
    for p in ("hello", "auth", "envelope", "data", "quit"):
        rec.enter(p)
    return sent


@scenario("smtp-auth-plain-ir", "smtp",
          "swaks --auth PLAIN: AUTH PLAIN with initial response (alice), one message",
          port="submission")
def smtp_auth_plain_ir(ctx):
    rec = Record("smtp", ctx.ports["submission"], "swaks",
                 "swaks on the submission port: EHLO, AUTH PLAIN <base64> on one line, MAIL, "
                 "RCPT, DATA, QUIT")
    rec.track_commands = False
    sent = _swaks(ctx, rec, "PLAIN", "alice", ctx.users["alice"], "Sent with AUTH PLAIN",
                  "swaks-plain")
    _expect(len(sent[[l.upper().startswith("AUTH") for l in sent].index(True)].split()) == 3,
            "swaks sent AUTH PLAIN without an initial response")
    return rec


@scenario("smtp-auth-plain-2step", "smtp",
          "raw EHLO, AUTH PLAIN, 334, base64 line (bob), MAIL, RCPT, DATA, QUIT",
          port="submission")
def smtp_auth_plain_2step(ctx):
    port = ctx.ports["submission"]
    pw = ctx.users["bob"]
    rec = Record("smtp", port, "raw-socket",
                 "AUTH PLAIN without initial response: '334 ' then the base64 of "
                 "\\0bob\\0b0b pass; one message; QUIT")
    with ctx.capture(port):
        s = RawSmtp(rec, port)
        s.cmd("EHLO " + EHLO_NAME)
        ok, _ = _raw_sasl(s, "AUTH PLAIN", [sasl_plain("bob", pw)])
        rec.credential("PLAIN", "bob", ok, password=pw)
        _expect(ok, "AUTH PLAIN refused")
        _mail_to_bob(s, "AUTH PLAIN in two steps", "raw-plain-2step")
        s.quit()
    return rec


@scenario("smtp-auth-login", "smtp",
          "swaks --auth LOGIN: Username:/Password: prompts (carol), one message",
          port="submission")
def smtp_auth_login(ctx):
    rec = Record("smtp", ctx.ports["submission"], "swaks",
                 "swaks on the submission port: EHLO, AUTH LOGIN, base64 user and password "
                 "after the 334 prompts (carol: password with a quote and a backslash), MAIL, "
                 "RCPT, DATA, QUIT")
    rec.track_commands = False
    _swaks(ctx, rec, "LOGIN", "carol", ctx.users["carol"], "Sent with AUTH LOGIN",
           "swaks-login")
    return rec


@scenario("smtp-auth-login-ir", "smtp",
          "raw AUTH LOGIN with the user name on the command line (YWxpY2U=), 334 Password:",
          port="submission")
def smtp_auth_login_ir(ctx):
    port = ctx.ports["submission"]
    pw = ctx.users["alice"]
    rec = Record("smtp", port, "raw-socket",
                 "AUTH LOGIN YWxpY2U= (user name as initial response), '334 UGFzc3dvcmQ6', "
                 "base64 password; one message; QUIT")
    with ctx.capture(port):
        s = RawSmtp(rec, port)
        s.cmd("EHLO " + EHLO_NAME)
        ok, _ = _raw_sasl(s, "AUTH LOGIN " + b64("alice"), [b64(pw)])
        rec.credential("LOGIN", "alice", ok, password=pw)
        _expect(ok, "AUTH LOGIN refused")
        _mail_to_bob(s, "AUTH LOGIN with initial response", "raw-login-ir")
        s.quit()
    return rec


@scenario("smtp-auth-cram-md5", "smtp",
          "swaks --auth CRAM-MD5 (alice), one message",
          port="submission")
def smtp_auth_cram_md5(ctx):
    rec = Record("smtp", ctx.ports["submission"], "swaks",
                 "swaks on the submission port: EHLO, AUTH CRAM-MD5, challenge, "
                 "'alice <hex HMAC-MD5>' in base64, MAIL, RCPT, DATA, QUIT")
    rec.track_commands = False
    _swaks(ctx, rec, "CRAM-MD5", "alice", ctx.users["alice"], "Sent with AUTH CRAM-MD5",
           "swaks-cram")
    return rec


@scenario("smtp-auth-fail-retry", "smtp",
          "raw AUTH PLAIN alice/wrong (535), then AUTH LOGIN bob (235), one message",
          port="submission")
def smtp_auth_fail_retry(ctx):
    port = ctx.ports["submission"]
    pw = ctx.users["bob"]
    rec = Record("smtp", port, "raw-socket",
                 "AUTH PLAIN for alice with a wrong password (535), then AUTH LOGIN for a "
                 "different user, bob, with his password (235); one message; QUIT")
    with ctx.capture(port):
        s = RawSmtp(rec, port)
        s.cmd("EHLO " + EHLO_NAME)
        ok, code = _raw_sasl(s, "AUTH PLAIN " + sasl_plain("alice", "wrongpw"), [])
        rec.credential("PLAIN", "alice", ok, password="wrongpw")
        _expect(not ok and code == 535, "a wrong password was not refused with 535")
        ok, _ = _raw_sasl(s, "AUTH LOGIN", [b64("bob"), b64(pw)])
        rec.credential("LOGIN", "bob", ok, password=pw)
        _expect(ok, "bob's AUTH LOGIN refused")
        _mail_to_bob(s, "After a failed AUTH", "raw-fail-retry")
        s.quit()
    return rec


def _auth_failure(code, cancelled, sent=True):
    """What an AUTH's final reply says of the secret (RFC 4954 §4, §6): None
    for 235; "cancelled" when the client sent "*" (the server must answer
    501); "refused" when the client sent no response at all (nothing to
    judge: Postfix still answers a mechanism it lacks with 535 5.7.8);
    "credentials" for 535 (Authentication credentials invalid); "refused"
    for every other code (503 bad sequence, 504, 534, 538, 454 ...), which
    the server sends without judging a secret."""
    if code // 100 == 2:
        return None
    if cancelled:
        return "cancelled"
    if not sent:
        return "refused"
    return "credentials" if code == 535 else "refused"


@scenario("smtp-auth-outcomes", "smtp",
          "raw AUTH XFOO (535, nothing sent), PLAIN wrong (535), LOGIN cancelled with '*' (501), "
          "PLAIN right (235)", port="submission")
def smtp_auth_outcomes(ctx):
    port = ctx.ports["submission"]
    pw_a = ctx.users["alice"]
    rec = Record("smtp", port, "raw-socket",
                 "Four AUTH outcomes of RFC 4954 from Postfix with Dovecot SASL: a mechanism "
                 "it does not offer (Postfix answers 535 5.7.8, though nothing was sent to "
                 "judge), alice with a wrong password, an AUTH LOGIN the client cancels with "
                 "'*' at the first prompt, then alice with her password; QUIT")
    with ctx.capture(port):
        s = RawSmtp(rec, port)
        s.cmd("EHLO " + EHLO_NAME)
        ok, code = _raw_sasl(s, "AUTH XFOO", [])
        _expect(not ok and code // 100 in (4, 5),
                "AUTH with a mechanism not offered got %d" % code)
        rec.verdict("XFOO", code, _auth_failure(code, False, sent=False))
        ok, code = _raw_sasl(s, "AUTH PLAIN " + sasl_plain("alice", "wrongpw"), [])
        _expect(not ok and code == 535, "a wrong password was not refused with 535 (%d)" % code)
        rec.credential("PLAIN", "alice", ok, password="wrongpw", failure=_auth_failure(code, False))
        rec.verdict("PLAIN", code, _auth_failure(code, False))
        ok, code = _raw_sasl(s, "AUTH LOGIN", ["*"])
        _expect(not ok and code == 501, "a cancelled AUTH was not answered 501 (%d)" % code)
        rec.verdict("LOGIN", code, _auth_failure(code, True))
        ok, code = _raw_sasl(s, "AUTH PLAIN " + sasl_plain("alice", pw_a), [])
        _expect(ok, "alice's AUTH PLAIN refused (%d)" % code)
        rec.credential("PLAIN", "alice", ok, password=pw_a)
        rec.verdict("PLAIN", code, None)
        s.quit()
    return rec


@scenario("smtp-starttls-auth", "smtp",
          "smtplib EHLO, STARTTLS, EHLO, AUTH PLAIN, one message, QUIT inside TLS (key log)",
          port="submission")
def smtp_starttls_auth(ctx):
    port = ctx.ports["submission"]
    pw = ctx.users["alice"]
    rec = Record("smtp", port, "python-smtplib",
                 "EHLO and STARTTLS in clear, TLS handshake, then EHLO, AUTH PLAIN, MAIL, RCPT, "
                 "DATA, QUIT inside TLS; NAME.keys decrypts it")
    keys = ctx.keylog(rec)
    with ctx.capture(port):
        s = smtp_client(rec, port)
        s.ehlo(EHLO_NAME)
        code, _ = s.starttls(context=tls_context(ctx.lab.cert, keys))
        _expect(code == 220, "STARTTLS refused")
        rec.tls = True
        s.ehlo(EHLO_NAME)
        s.user, s.password = "alice", pw
        try:
            code, _ = s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
            ok = code == 235
        except smtplib.SMTPAuthenticationError:
            ok = False
        rec.credential("PLAIN", "alice", ok, password=pw)
        _expect(ok, "AUTH PLAIN refused")
        _expect(s.mail("alice@example.test")[0] == 250, "MAIL refused")
        _expect(s.rcpt("bob@example.test")[0] == 250, "RCPT refused")
        code, _ = s.data(_message("Sent inside TLS", "smtplib-starttls", "Hello Bob.\r\n"))
        _expect(code == 250, "message refused")
        s.quit()
    _expect(os.path.getsize(keys) > 0, "no TLS keys were logged")
    return rec


@scenario("smtp-pipelining", "smtp",
          "raw EHLO, then MAIL/RCPT/DATA in one send() (PIPELINING), body and '.', QUIT",
          port="smtp")
def smtp_pipelining(ctx):
    port = ctx.ports["smtp"]
    rec = Record("smtp", port, "raw-socket",
                 "EHLO (PIPELINING offered), then 'MAIL FROM:<...>\\r\\nRCPT TO:<...>\\r\\nDATA"
                 "\\r\\n' in a single segment, the three replies (250, 250, 354), the body with "
                 "its final '.', QUIT")
    with ctx.capture(port):
        s = RawSmtp(rec, port)
        code, lines = s.cmd("EHLO " + EHLO_NAME)
        _expect(b"250-PIPELINING" in lines, "PIPELINING not offered")
        batch = ["MAIL FROM:<alice@example.test>", "RCPT TO:<bob@example.test>", "DATA"]
        for l in batch:
            rec.sent(l)
        s.c.send("".join(l + "\r\n" for l in batch))
        codes = [s.c.smtp_reply()[0] for _ in batch]
        _expect(codes == [250, 250, 354], "pipelined replies: %r" % codes)
        s.c.send(_message("Pipelined", "raw-pipelining", "Sent with PIPELINING.\r\n") + ".\r\n")
        code, _ = s.c.smtp_reply()
        _expect(code == 250, "message refused")
        s.quit()
    return rec


def _attachment_bytes(n=150000):
    out = bytearray()
    block = b"mailedu attachment"
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


@scenario("smtp-attachment", "smtp",
          "smtplib sends a message with a ~200 KB base64 attachment on the relay port",
          port="smtp")
def smtp_attachment(ctx):
    port = ctx.ports["smtp"]
    rec = Record("smtp", port, "python-smtplib",
                 "EHLO, MAIL, RCPT, DATA with a multipart message carrying a 150000-byte "
                 "attachment in base64 (about 200 KB on the wire), QUIT")
    msg = MIMEMultipart(boundary="mailedu-boundary-0001")
    msg["From"] = "Alice <alice@example.test>"
    msg["To"] = "Bob <bob@example.test>"
    msg["Subject"] = "Lab data attached"
    msg["Date"] = "Mon, 08 Jan 2024 09:30:00 +0000"
    msg["Message-ID"] = "<smtplib-attachment@example.test>"
    msg.attach(MIMEText("Hello Bob, the lab data is attached.\n", "plain", "us-ascii"))
    part = MIMEApplication(_attachment_bytes(), "octet-stream")
    part.add_header("Content-Disposition", "attachment", filename="lab-data.bin")
    msg.attach(part)
    data = msg.as_bytes(policy=policy.SMTP)
    with ctx.capture(port):
        s = smtp_client(rec, port)
        s.ehlo(EHLO_NAME)
        _expect(s.mail("alice@example.test", ["SIZE=%d" % len(data)])[0] == 250, "MAIL refused")
        _expect(s.rcpt("bob@example.test")[0] == 250, "RCPT refused")
        code, _ = s.data(data)
        _expect(code == 250, "message refused")
        s.quit()
    return rec


@scenario("smtp-rset", "smtp",
          "smtplib MAIL, RCPT, RSET (back to hello), then a full transaction, QUIT",
          port="smtp")
def smtp_rset(ctx):
    port = ctx.ports["smtp"]
    rec = Record("smtp", port, "python-smtplib",
                 "EHLO, MAIL, RCPT, RSET abandons the transaction, then MAIL, RCPT, DATA "
                 "and QUIT")
    with ctx.capture(port):
        s = smtp_client(rec, port)
        s.ehlo(EHLO_NAME)
        _expect(s.mail("alice@example.test")[0] == 250, "MAIL refused")
        _expect(s.rcpt("carol@example.test")[0] == 250, "RCPT refused")
        _expect(s.rset()[0] == 250, "RSET refused")
        _expect(s.mail("alice@example.test")[0] == 250, "MAIL refused")
        _expect(s.rcpt("bob@example.test")[0] == 250, "RCPT refused")
        code, _ = s.data(_message("After RSET", "smtplib-rset", "Hello Bob.\r\n"))
        _expect(code == 250, "message refused")
        s.quit()
    return rec


@scenario("smtp-multi-rcpt-rejected", "smtp",
          "smtplib three RCPT TO, the second (nobody@example.test) rejected with 550, DATA, QUIT",
          port="smtp")
def smtp_multi_rcpt_rejected(ctx):
    port = ctx.ports["smtp"]
    rec = Record("smtp", port, "python-smtplib",
                 "EHLO, MAIL, RCPT bob (250), RCPT %s (550 5.1.1), RCPT carol (250), DATA to "
                 "the two accepted recipients, QUIT" % REJECTED_RCPT)
    with ctx.capture(port):
        s = smtp_client(rec, port)
        s.ehlo(EHLO_NAME)
        _expect(s.mail("alice@example.test")[0] == 250, "MAIL refused")
        _expect(s.rcpt("bob@example.test")[0] == 250, "RCPT bob refused")
        code, _ = s.rcpt(REJECTED_RCPT)
        _expect(500 <= code < 600, "RCPT %s not rejected (%d)" % (REJECTED_RCPT, code))
        _expect(s.rcpt("carol@example.test")[0] == 250, "RCPT carol refused")
        code, _ = s.data(_message("Three recipients, one rejected", "smtplib-multi-rcpt",
                                  "Hello Bob and Carol.\r\n",
                                  to="Bob <bob@example.test>, Nobody <%s>, "
                                     "Carol <carol@example.test>" % REJECTED_RCPT))
        _expect(code == 250, "message refused")
        s.quit()
    return rec


@scenario("smtp-curl", "smtp",
          "curl smtp:// --mail-from --mail-rcpt -T file with -u (SASL as curl picks)",
          port="submission")
def smtp_curl(ctx):
    port = ctx.ports["submission"]
    pw = ctx.users["alice"]
    rec = Record("smtp", port, "curl",
                 "curl -u alice:... --mail-from --mail-rcpt -T message on the submission port: "
                 "EHLO, AUTH (curl's choice), MAIL, RCPT, DATA, QUIT")
    rec.track_commands = False
    data = ctx.tmpfile("message.eml", _message("Sent with curl", "curl-smtp",
                                               "Hello Bob, sent with curl.\r\n"))
    with ctx.capture(port):
        r = ctx.run(["curl", "-v", "-s", "--max-time", "30", "-u", "alice:" + pw,
                     "--mail-from", "alice@example.test", "--mail-rcpt", "bob@example.test",
                     "-T", data, "smtp://127.0.0.1:%d/%s" % (port, EHLO_NAME)])
    ctx.log(r.stderr)
    sent = re.findall(r"^> (.*?)\r?$", r.stderr, re.M)
    auth = [l for l in sent if l.upper().startswith("AUTH ")]
    _expect(auth, "curl -v shows no AUTH:\n" + r.stderr)
    mech = auth[0].split()[1].upper()
    ok = r.returncode == 0
    if mech in ("CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"):
        rec.credential(mech, "alice", ok, password_known=pw)
    else:
        rec.credential(mech, "alice", ok, password=pw)
    _expect(ok, "curl failed (exit %d):\n%s" % (r.returncode, r.stderr))
    _expect(any(l.upper().startswith("DATA") for l in sent), "curl sent no DATA")
    for p in ("hello", "auth", "envelope", "data", "quit"):
        rec.enter(p)
    return rec


@scenario("smtps-implicit-tls", "smtp",
          "smtplib SMTP_SSL on the SMTPS port: EHLO, AUTH PLAIN, one message, QUIT (key log)",
          port="smtps")
def smtps_implicit_tls(ctx):
    port = ctx.ports["smtps"]
    pw = ctx.users["alice"]
    rec = Record("smtp", port, "python-smtplib",
                 "implicit TLS (SMTPS, Postfix smtpd_tls_wrappermode): TLS handshake first, "
                 "then greeting, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT; NAME.keys decrypts it")
    keys = ctx.keylog(rec)
    rec.tls = True
    with ctx.capture(port):
        s = smtp_client(rec, port, tls_context=tls_context(ctx.lab.cert, keys))
        s.ehlo(EHLO_NAME)
        s.user, s.password = "alice", pw
        try:
            code, _ = s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
            ok = code == 235
        except smtplib.SMTPAuthenticationError:
            ok = False
        rec.credential("PLAIN", "alice", ok, password=pw)
        _expect(ok, "AUTH PLAIN refused")
        _expect(s.mail("alice@example.test")[0] == 250, "MAIL refused")
        _expect(s.rcpt("bob@example.test")[0] == 250, "RCPT refused")
        code, _ = s.data(_message("Sent over SMTPS", "smtplib-smtps", "Hello Bob.\r\n"))
        _expect(code == 250, "message refused")
        s.quit()
    _expect(os.path.getsize(keys) > 0, "no TLS keys were logged")
    return rec
