#!/usr/bin/env python3
"""The field-fault shapes of issue 12 that need a misbehaving or unusual peer,
written byte by byte (tests/hostile/hostile_pcap.py) and read through tshark.
Frame numbers: 1-3 are the handshake, then one frame per c()/s() call, in order.
Expected values come from the bytes below and the RFCs named with each shape.
"""
import json
import os
import re
import struct
import sys

from mailedu_test import temp_dir, CAPTURES, ROOT, Checker, fields, frames, tshark

sys.path.insert(0, os.path.join(ROOT, "tests", "hostile"))
from hostile_pcap import ACK, FIN, Conn, Pcap, _csum, dialogue_capture  # noqa: E402

c = Checker("field-shapes")
TMP = temp_dir("mailedu-shapes-")
os.chmod(TMP, 0o755)


def capture(name, port, dialogue, make=Pcap):
    """The dialogue as TMP/NAME.pcap (hostile_pcap.dialogue_capture)."""
    return dialogue_capture(os.path.join(TMP, name + ".pcap"), port, dialogue, make)


def col(cap, field, frame):
    rows = fields(cap, ["frame.number", field], "frame.number == %d" % frame)
    return rows[0][1] if rows and len(rows[0]) > 1 else ""


def report_body(out):
    """The text between a report's "=== mailedu NAME ===" and "=== end ===" lines."""
    return out.split("===\n", 1)[1].rsplit("\n=== end ===", 1)[0]


def both_passes(cap, name):
    names = ["frame.number", "mailedu.phase", "mailedu.command", "mailedu.auth.result", "_ws.expert.message"]
    c.eq(fields(cap, names, "mailedu", two_pass=True), fields(cap, names, "mailedu"), name + ": -2 == one pass")


# Fault 6 (RFC 1939 §4-6, RFC 2449 §6.6): POP3 pipelined in one segment each way.
# Frame 4 greeting, 5 all commands, 6 all replies.  The commands are sent in
# AUTHORIZATION and run in TRANSACTION once the +OK to PASS came: the replies
# show it, as IMAP's pipelined commands do.
pop = capture("pop3-pipelined-one-segment", 110, [
    ("s", b"+OK ready\r\n"),
    ("c", b"USER lena\r\nPASS Plum-Tree-3\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nQUIT\r\n"),
    ("s", b"+OK\r\n+OK logged in\r\n+OK 1 10\r\n+OK 1 messages\r\n1 10\r\n.\r\n+OK\r\n1 u1\r\n.\r\n"
          b"+OK 10 octets\r\nhi there\r\n.\r\n+OK bye\r\n"),
])
c.eq(col(pop, "mailedu.phase", 5), "auth", "pop3 pipelined: client segment phases")
c.eq(col(pop, "mailedu.wrong_phase", 5), "", "pop3 pipelined: no command flagged out of place")
c.eq(col(pop, "mailedu.phase", 6), "auth|transaction|update", "pop3 pipelined: reply segment phases")
c.eq(col(pop, "mailedu.auth.result", 6), "success", "pop3 pipelined: the login succeeded")
both_passes(pop, "pop3 pipelined")

# The same with a wrong password (helper 19's real Dovecot capture had this
# shape): the session stays in AUTHORIZATION (RFC 1939 §4), so no TRANSACTION
# is reached, which the grader's "transaction reached" reads, and QUIT
# leads to no UPDATE (§6).
pop = capture("pop3-pipelined-failed-pass", 110, [
    ("s", b"+OK ready\r\n"),
    ("c", b"USER alice\r\nPASS nope\r\nSTAT\r\nRETR 1\r\nQUIT\r\n"),
    ("s", b"+OK\r\n-ERR [AUTH] Authentication failed.\r\n-ERR Unknown command.\r\n"
          b"-ERR Unknown command.\r\n+OK Logging out\r\n"),
])
c.eq(col(pop, "mailedu.phase", 5), "auth", "pop3 pipelined, failed: the commands in auth")
c.eq(col(pop, "mailedu.phase", 6), "auth", "pop3 pipelined, failed: every reply in auth")
c.eq(col(pop, "mailedu.auth.result", 6), "failure", "pop3 pipelined, failed: the login failed")
out = tshark(["-r", pop, "-q", "-z", "mailedu,sessions,json"])
c.eq([p["phase"] for p in json.loads(report_body(out))["sessions"][0]["phases"]], ["auth"],
     "pop3 pipelined, failed: no phase the failed login never opened")
both_passes(pop, "pop3 pipelined, failed")

# Implicit-TLS port whose server answers the ClientHello with a greeting in
# clear (suricata-verify smtp-tls-protodetect, nDPI smtps, helper 18): TLS
# was attempted, never established, so the session is not "implicit" TLS.
# 4 ClientHello (a TLS 1.2 record header and a few bytes), 5 greeting.
smtps = capture("smtps-greeting-in-clear", 465, [
    ("c", bytes([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])),
    ("s", b"220 mail.example.test ESMTP\r\n"),
])
c.eq(col(smtps, "mailedu.phase", 5), "greeting", "smtps in clear: the greeting is read")
out = json.loads(report_body(tshark(["-r", smtps, "-q", "-z", "mailedu,sessions,json"])))
c.eq(out["sessions"][0]["tls"]["mode"], "none", "smtps in clear: no TLS was established")
c.check("TLS: none" in tshark(["-r", smtps, "-q", "-z", "mailedu,transcript"]),
        "smtps in clear: the transcript's header says TLS none")

# A line pipelined after the message's closing "." (RFC 2920 §3.1) is no
# longer in data: the transaction is over for the client (RFC 5321
# §4.1.1.4).  arkime smtp-subject-windows (helper 18) had an empty line there,
# and its 500 was shown in data.  Frames: 4 greeting, 5 EHLO, 6 250, 7 MAIL,
# 8 250, 9 RCPT, 10 250, 11 DATA, 12 354, 13 body + "." + empty line, 14 replies.
smtp = capture("smtp-line-after-dot", 25, [
    ("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO c\r\n"), ("s", b"250 mx\r\n"),
    ("c", b"MAIL FROM:<a@example.test>\r\n"), ("s", b"250 ok\r\n"),
    ("c", b"RCPT TO:<b@example.test>\r\n"), ("s", b"250 ok\r\n"),
    ("c", b"DATA\r\n"), ("s", b"354 go\r\n"),
    ("c", b"Subject: x\r\n\r\nhi\r\n.\r\n\r\n"),
    ("s", b"250 accepted\r\n500 unrecognized command\r\n"),
])
c.eq(col(smtp, "mailedu.phase", 13), "data|hello", "smtp line after the dot: the body and '.' in data, the line after in hello")
c.eq(col(smtp, "mailedu.phase", 14), "data|hello", "smtp line after the dot: the verdict in data, the 500 in hello")
both_passes(smtp, "smtp line after the dot")

# IMAP commands pipelined behind LOGIN and SELECT (RFC 9051 §5.5), with the
# server's side captured: the commands are where the session is when they are
# sent (auth), not flagged; each reply is in the state its command runs in
# once the commands ahead succeed: LOGIN's OK auth, the SELECT's data
# authenticated, FETCH's selected.  A LOGIN that fails (NO, §6.2.3) leaves the
# session in Not Authenticated, and no state it never reached is shown: the
# SELECT's BAD stays in auth.  4 greeting, 5 commands, 6 replies.
imap = capture("imap-pipelined-one-segment", 143, [
    ("s", b"* OK ready\r\n"),
    ("c", b'a1 LOGIN lena "Plum-Tree-3"\r\na2 SELECT INBOX\r\na3 FETCH 1 FLAGS\r\n'),
    ("s", b"a1 OK logged in\r\n* 1 EXISTS\r\na2 OK [READ-WRITE] selected\r\n"
          b"* 1 FETCH (FLAGS (\\Seen))\r\na3 OK done\r\n"),
])
c.eq(col(imap, "mailedu.phase", 5), "auth", "imap pipelined: LOGIN, SELECT, FETCH sent in auth")
c.eq(col(imap, "mailedu.phase", 6), "auth|authenticated|selected", "imap pipelined: each reply in its command's state")
c.eq(frames(imap, "mailedu.wrong_phase"), [], "imap pipelined: nothing out of order")
c.eq(col(imap, "mailedu.auth.result", 6), "success", "imap pipelined: the login succeeded")
both_passes(imap, "imap pipelined")
imap = capture("imap-pipelined-login-fails", 143, [
    ("s", b"* OK ready\r\n"),
    ("c", b'a1 LOGIN lena "wrong"\r\na2 SELECT INBOX\r\n'),
    ("s", b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
          b"a2 BAD Error in IMAP command SELECT: Unknown command.\r\n"),
    ("c", b"a3 CAPABILITY\r\n"), ("s", b"* CAPABILITY IMAP4rev1\r\na3 OK done\r\n"),
])
c.eq(col(imap, "mailedu.phase", 5), "auth", "imap pipelined, failed: the commands sent in auth")
c.eq(col(imap, "mailedu.auth.result", 6), "failure", "imap pipelined, failed: the login failed")
c.eq(col(imap, "mailedu.phase", 6), "auth", "imap pipelined, failed: the NO and the SELECT's BAD in Not Authenticated")
out = tshark(["-r", imap, "-q", "-z", "mailedu,sessions,json"])
c.eq([p["phase"] for p in json.loads(report_body(out))["sessions"][0]["phases"]], ["auth"],
     "imap pipelined, failed: no state reached that the failed login never opened")
both_passes(imap, "imap pipelined, failed")

# Pipelined LOGINs (RFC 9051 §2.2.1, §5.5): each tagged reply judges the
# attempt its tag began, not the newest one; a LOGOUT pipelined behind them
# takes effect after them (§6.1.3), so Logout begins with its BYE; the
# SELECT's data (frame 7) are the first in Authenticated.
# 4 greeting, 5 commands, 6 replies.
imap = capture("imap-pipelined-logins", 143, [
    ("s", b"* OK ready\r\n"),
    ("c", b"a1 LOGIN alice wrong1\r\na2 LOGIN bob wrong2\r\na3 LOGIN alice alicepw\r\n"
          b"a4 SELECT INBOX\r\na5 LOGOUT\r\n"),
    ("s", b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
          b"a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\na3 OK Logged in\r\n"),
    ("s", b"* 1 EXISTS\r\na4 OK [READ-WRITE] Select completed\r\n"),
    ("s", b"* BYE Logging out\r\na5 OK Logout completed\r\n"),
])
rows = fields(imap, ["frame.number", "mailedu.auth.result", "mailedu.auth.failure"], "mailedu.auth.result")
c.eq(rows, [["6", "failure|failure|success", "credentials|credentials"]],
     "imap pipelined logins: each reply judges its own attempt")
out = tshark(["-r", imap, "-q", "-z", "mailedu,sessions,json"])
sess = json.loads(report_body(out))["sessions"][0]
c.eq([(a["password"], a["result"]) for a in sess["logins"]],
     [("wrong1", "failure"), ("wrong2", "failure"), ("alicepw", "success")],
     "imap pipelined logins: the report's attempts")
c.eq(sess["user"], "alice", "imap pipelined logins: the session's user")
# a4's OK (frame 7) entered Selected (§6.3.2) and the BYE left it before any
# line was in it: the report lists it where the BYE is (helper 20)
c.eq([(p["phase"], p["frame"]) for p in sess["phases"]],
     [("auth", 4), ("authenticated", 7), ("selected", 8), ("logout", 8)],
     "imap pipelined logins: Logout begins with the BYE, after the SELECT")
both_passes(imap, "imap pipelined logins")
# A second LOGIN pipelined behind one that succeeded is refused as sent once
# logged in (RFC 9051 §6.2.3): the session stays Authenticated, and the
# refusal judges no password.  4 greeting, 5 commands, 6 OK, 7 NO, 8 SELECT's.
imap = capture("imap-login-after-login", 143, [
    ("s", b"* OK ready\r\n"),
    ("c", b"a1 LOGIN alice alicepw\r\na2 LOGIN bob bobpw\r\na3 SELECT INBOX\r\n"),
    ("s", b"a1 OK Logged in\r\n"), ("s", b"a2 NO Already logged in\r\n"),
    ("s", b"* 1 EXISTS\r\na3 OK [READ-WRITE] selected\r\n"),
])
out = tshark(["-r", imap, "-q", "-z", "mailedu,sessions,json"])
sess = json.loads(report_body(out))["sessions"][0]
c.eq([(a["result"], a["failure"]) for a in sess["logins"]], [("success", None), ("failure", "refused")],
     "imap login after login: refused, not a wrong password")
c.eq([p["phase"] for p in sess["phases"]], ["auth", "authenticated"],
     "imap login after login: the session stays logged in")
c.eq(frames(imap, "mailedu.wrong_phase"), [], "imap login after login: the SELECT is not out of order")
# More commands pipelined than mailedu keeps waiting (64, README "Limits"):
# the oldest, an AUTHENTICATE, is forgotten, so its OK answers a tag no
# waiting command has, and must judge no other attempt (it once made bob's
# LOGIN a success); l3's LOGIN then pushes l2's out too, so bob's attempt gets
# no result, and carol's gets its own NO.  Once a double free that crashed
# tshark (exit 139); the sanitized run checks the memory.
cmds = b"s1 AUTHENTICATE PLAIN\r\nl2 LOGIN bob bobpw\r\n" + b"".join(b"n%d NOOP\r\n" % i for i in range(63))
imap = capture("imap-pending-limit-logins", 143, [
    ("s", b"* OK ready\r\n"), ("c", cmds), ("s", b"s1 OK authenticated\r\n"),
    ("c", b"l3 LOGIN carol carolpw\r\n"), ("s", b"l2 NO [AUTHENTICATIONFAILED] bad\r\n"),
    ("s", b"l3 NO bad\r\n"),
])
for two in (False, True):
    out = tshark(["-r", imap, "-q", "-z", "mailedu,sessions,json", "-z", "credentials"] + (["-2"] if two else []))
    body = out.split("=== mailedu sessions (json) ===\n", 1)[1].split("\n=== end ===", 1)[0]
    sess = json.loads(body)["sessions"][0]
    c.eq([(a["username"], a["result"]) for a in sess["logins"] if a["username"]],
         [("bob", None), ("carol", "failure")],
         "imap past the pending limit: each attempt judged by its own reply (two_pass=%s)" % two)

# A capture that begins inside a FETCH literal (no handshake): the quoted mail
# holds "* BYE ..." and "a3 OK ..." lines.  The session went on (a4 STORE got
# its OK), so neither ended it (RFC 9051 §7.1.5: a BYE ends the connection);
# nothing after it is in Logout, and LOGOUT is no wrong-phase command.
# Frames: 1 the literal's tail, 2 STORE, 3 its reply, 4 LOGOUT, 5 BYE and OK.
path = os.path.join(TMP, "imap-mid-literal-bye.pcap")
p = Pcap(path)
conn = Conn(p, 40000, 143)
conn.s(b"Subject: hi\r\n\r\n> a3 OK FETCH completed\r\n* BYE Autologout; idle for too long\r\n"
       b")\r\na3 OK FETCH completed\r\n")
conn.c(b"a4 STORE 1 +FLAGS (\\Seen)\r\n")
conn.s(b"* 1 FETCH (FLAGS (\\Seen))\r\na4 OK done\r\n")
conn.c(b"a5 LOGOUT\r\n")
conn.s(b"* BYE bye\r\na5 OK bye\r\n")
p.close()
os.chmod(path, 0o644)
rows = fields(path, ["frame.number", "mailedu.phase", "mailedu.wrong_phase"], "mailedu")
c.eq([r[1] for r in rows], ["selected", "selected", "selected", "selected", "logout"],
     "imap mid-literal BYE: the session goes on until the real BYE")
c.eq([r[0] for r in rows if len(r) > 2 and r[2]], [], "imap mid-literal BYE: nothing in the wrong phase")
both_passes(path, "imap mid-literal BYE")

# mailedu.line is the line as sent (README), also for lines that are no
# command or no response (flagged malformed), as the transcript prints them:
# 4 greeting, 5 "b2" (a tag without a verb, RFC 9051 §9 command), 6 "* BAD".
imap = capture("imap-malformed-lines", 143, [
    ("s", b"* OK ready\r\n"), ("c", b"b2\r\n"), ("s", b"* BAD Error in IMAP command\r\n"),
])
c.eq(col(imap, "mailedu.line", 5), "C: b2", "imap malformed line: mailedu.line shows it")
c.eq(col(imap, "mailedu.malformed", 5), "1", "imap malformed line: flagged")
# The piece of a line that announces a literal is shown as sent, as the
# transcript prints it (imap-login-literal: frame 6 is "a1 LOGIN alice {7}",
# the literal alicepw follows in frame 9); masked, only the command and the
# count stay.
lit = os.path.join(CAPTURES, "imap-login-literal.pcapng")
dec = ["-d", "tcp.port==11143,imap"]
c.eq(fields(lit, ["mailedu.line"], "frame.number == 6", dec), [["C: a1 LOGIN alice {7}"]],
     "imap literal piece: mailedu.line as sent")
c.eq(fields(lit, ["mailedu.line"], "frame.number == 6", dec + ["-o", "mailedu.mask_passwords:TRUE"]),
     [["C: a1 LOGIN ******** {7}"]], "imap literal piece: masked")

# Fault 7 (RFC 1939 §5): USER after a successful login is no login attempt.
# 4 greeting, 5 USER, 6 +OK, 7 PASS, 8 +OK, 9 USER, 10 -ERR, 11 QUIT, 12 +OK
pop7 = capture("pop3-user-after-login", 110, [
    ("s", b"+OK ready\r\n"), ("c", b"USER lena\r\n"), ("s", b"+OK\r\n"),
    ("c", b"PASS Plum-Tree-3\r\n"), ("s", b"+OK logged in\r\n"),
    ("c", b"USER other\r\n"), ("s", b"-ERR already logged in\r\n"),
    ("c", b"QUIT\r\n"), ("s", b"+OK bye\r\n"),
])
c.eq(frames(pop7, "mailedu.auth.result"), [8], "USER after login: one login result")
c.eq(frames(pop7, "mailedu.login_failed"), [], "USER after login: no failed login")
both_passes(pop7, "USER after login")

# Fault 8 (RFC 5321 §4.1.1.1, §4.5.2; RFC 4616 §2; RFC 3207 §4.2).
# EHLO before the banner: 4 EHLO, 5 220, 6 250, 7 QUIT, 8 221.
early = capture("smtp-ehlo-before-banner", 25, [
    ("c", b"EHLO lab.example\r\n"), ("s", b"220 mx.example ESMTP\r\n"),
    ("s", b"250 mx.example\r\n"), ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n"),
])
starts = [(int(r[0]), r[1]) for r in fields(early, ["frame.number", "mailedu.phase"], "mailedu.phase.start")]
c.eq([p for _, p in starts], ["greeting", "hello", "quit"], "early EHLO: phases in order, greeting once")
c.eq(col(early, "mailedu.phase", 6), "hello", "early EHLO: its 250 is in hello")
both_passes(early, "early EHLO")

# AUTH PLAIN with an empty password: base64("\0alice\0") = AGFsaWNlAA==
# 4 220, 5 EHLO, 6 250, 7 AUTH PLAIN, 8 535, 9 QUIT, 10 221
empty = capture("smtp-auth-plain-empty-password", 587, [
    ("s", b"220 mx.example ESMTP\r\n"), ("c", b"EHLO lab.example\r\n"),
    ("s", b"250-mx.example\r\n250 AUTH PLAIN\r\n"), ("c", b"AUTH PLAIN AGFsaWNlAA==\r\n"),
    ("s", b"535 5.7.8 Authentication failed\r\n"), ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n"),
])
c.eq(col(empty, "mailedu.auth.username", 7), "alice", "empty password: user decoded")
c.eq(frames(empty, "mailedu.cleartext"), [], "empty password: no cleartext-password warning")
c.eq(frames(empty, "mailedu.auth.result == \"failure\""), [8], "empty password: failure")
c.check("()" not in col(empty, "_ws.expert.message", 8), "login failed note names the user or nothing")
both_passes(empty, "empty password")

# A login failure with an empty user name: base64("\0\0pw") = AABwdw==
noname = capture("smtp-auth-plain-empty-user", 587, [
    ("s", b"220 mx.example ESMTP\r\n"), ("c", b"EHLO lab.example\r\n"),
    ("s", b"250-mx.example\r\n250 AUTH PLAIN\r\n"), ("c", b"AUTH PLAIN AABwdw==\r\n"),
    ("s", b"535 5.7.8 Authentication failed\r\n"), ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n"),
])
c.eq(frames(noname, "mailedu.login_failed"), [8], "empty user: the failure is noted")
c.check("()" not in col(noname, "_ws.expert.message", 8), "empty user: no empty parentheses")

# A body ended by a bare-LF dot; the 250 closes DATA and QUIT is in quit.
# 4 220, 5 HELO, 6 250, 7 MAIL, 8 250, 9 RCPT, 10 250, 11 DATA, 12 354, 13 body, 14 250, 15 QUIT, 16 221
lf = capture("smtp-bare-lf-dot", 25, [
    ("s", b"220 mx.example ESMTP\r\n"), ("c", b"HELO lab.example\r\n"), ("s", b"250 ok\r\n"),
    ("c", b"MAIL FROM:<a@lab.example>\r\n"), ("s", b"250 ok\r\n"),
    ("c", b"RCPT TO:<b@mx.example>\r\n"), ("s", b"250 ok\r\n"),
    ("c", b"DATA\r\n"), ("s", b"354 go\r\n"), ("c", b"Subject: x\n\nhi\n.\n"),
    ("s", b"250 queued\r\n"), ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n"),
])
c.eq(col(lf, "mailedu.phase", 15), "quit", "bare-LF dot: QUIT is in quit")
c.eq(col(lf, "mailedu.phase", 16), "quit", "bare-LF dot: 221 is in quit")
both_passes(lf, "bare-LF dot")

# Fault 4(b): the server's STARTTLS OK and another plaintext line in one segment.
# 4 220, 5 EHLO, 6 250, 7 STARTTLS, 8 "220 Ready" + "250 injected"
inj = capture("smtp-starttls-extra-line", 25, [
    ("s", b"220 mx.example ESMTP\r\n"), ("c", b"EHLO lab.example\r\n"),
    ("s", b"250-mx.example\r\n250 STARTTLS\r\n"), ("c", b"STARTTLS\r\n"),
    ("s", b"220 2.0.0 Ready to start TLS\r\n250 injected\r\n"),
])
c.eq(frames(inj, "mailedu.plain_before_tls"), [8], "STARTTLS + extra line: the injection is flagged")
c.check("tls" not in col(inj, "mailedu.phase", 8).split("|")[:1], "STARTTLS + extra line: the OK is readable")
both_passes(inj, "STARTTLS extra line")
# Every report names the warning on that line, as the packet does: the reports
# walk every warning bit, not the bits that existed when they were written.
jdoc = json.loads(report_body(tshark(["-n", "-r", inj, "-q", "-z", "mailedu,sessions,json"])))
injected = [l for s in jdoc["sessions"] for l in s["lines"] if l["text"] == "250 injected"]
c.eq([l["frame"] for l in injected], [8], "STARTTLS + extra line: the JSON has the injected line")
c.check(injected and "plain_before_tls" in injected[0].get("warnings", []),
        "STARTTLS + extra line: its JSON line lists plain_before_tls")
for lang, words in (("en", "before TLS began"), ("id", "sebelum TLS dimulai")):
    tr = tshark(["-n", "-r", inj, "-q", "-o", "mailedu.language:" + lang, "-z", "mailedu,transcript"])
    after = tr.split(" S: 250 injected\n", 1)[-1].split("\n")[0]
    c.check(after.lstrip().startswith("!! ") and words in after and "[RFC 3207 §4.2]" in after,
            "STARTTLS + extra line: the %s transcript marks the warning under the line: %r" % (lang, after))
svg = tshark(["-n", "-r", inj, "-q", "-z", "mailedu,ladder"])
c.check(re.search(r"<title>[^<]*plain_before_tls", svg) is not None,
        "STARTTLS + extra line: the ladder marks the line")
tree = tshark(["-n", "-r", inj, "-q", "-z", "mailedu,tree"])
c.check(re.search(r"^\s*plain_before_tls\s+1\b", tree, re.M) is not None,
        "STARTTLS + extra line: -z mailedu,tree counts the warning")


# The server refuses to start TLS (RFC 3207 §4: 454; RFC 2595 §4: -ERR to STLS;
# RFC 9051 §6.2.1: tagged NO) and the client logs in in clear anyway.  The
# refusal is explained on the reply, and the reports say REFUSED, not that
# the client skipped the TLS it had asked for.  Frame 8 is the refusal.
REFUSALS = {
    "smtp": (587, [("s", b"220 mx.example ESMTP\r\n"), ("c", b"EHLO lab.example\r\n"),
                   ("s", b"250-mx.example\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"), ("c", b"STARTTLS\r\n"),
                   ("s", b"454 4.7.0 TLS not available due to temporary reason\r\n"),
                   ("c", b"AUTH PLAIN AGxlbmEAUGx1bS1UcmVlLTM=\r\n"), ("s", b"235 2.7.0 ok\r\n")],
             "STARTTLS refused", "STARTTLS ditolak"),
    "pop3": (110, [("s", b"+OK ready\r\n"), ("c", b"CAPA\r\n"), ("s", b"+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
                   ("c", b"STLS\r\n"), ("s", b"-ERR TLS unavailable\r\n"), ("c", b"USER lena\r\n"),
                   ("s", b"+OK\r\n"), ("c", b"PASS Plum-Tree-3\r\n"), ("s", b"+OK\r\n")],
             "-ERR to STLS: the server will not start TLS", "-ERR untuk STLS: server tidak mau memulai TLS"),
    "imap": (143, [("s", b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"), ("c", b"a1 NOOP\r\n"),
                   ("s", b"a1 OK done\r\n"), ("c", b"a2 STARTTLS\r\n"), ("s", b"a2 NO TLS unavailable\r\n"),
                   ("c", b"a3 LOGIN lena Plum-Tree-3\r\n"), ("s", b"a3 OK done\r\n")],
             "STARTTLS refused", "STARTTLS ditolak"),
}
for proto, (port, dialogue, en, idn) in REFUSALS.items():
    cap = capture(proto + "-starttls-refused", port, dialogue)
    for lang, words in (("en", en), ("id", idn)):
        doc = json.loads(report_body(tshark(["-n", "-r", cap, "-q", "-o", "mailedu.language:" + lang,
                                             "-z", "mailedu,sessions,json"])))
        ss = doc["sessions"]
        c.eq([s["tls"] for s in ss], [{"mode": "none", "decrypted": False, "offered": True, "skipped": True,
                                       "refused": True}], "%s refused TLS: the tls object" % proto)
        reply = [l for s in ss for l in s["lines"] if l["frame"] == 8]
        c.check(len(reply) == 1 and reply[0]["explain"].startswith(words) and "RFC" not in reply[0]["explain"],
                "%s refused TLS: the refusal is explained (%s): %r" % (proto, lang, reply))
        c.eq([(a["username"], a["password"], a["result"], a["cleartext"]) for s in ss for a in s["logins"]],
             [("lena", "Plum-Tree-3", "success", True)], "%s refused TLS: the login after it" % proto)
    out = tshark(["-n", "-r", cap, "-q", "-z", "mailedu,sessions", "-z", "mailedu,transcript"])
    c.check(re.search(r"^0\s+%s\s.*\snone REFUSED\s" % proto, out, re.M) is not None,
            "%s refused TLS: the table says REFUSED" % proto)
    c.check("REFUSED: the server would not start it, and the client logged in without it" in out
            and "SKIPPED" not in out, "%s refused TLS: the transcript heading says REFUSED" % proto)

# Refused once, then started: TLS began, so nothing is called refused.
# 4 220, 5 EHLO, 6 250, 7 STARTTLS, 8 454, 9 STARTTLS, 10 220, 11 a TLS ClientHello's first bytes
again = capture("smtp-starttls-refused-then-ok", 25, [
    ("s", b"220 mx.example ESMTP\r\n"), ("c", b"EHLO lab.example\r\n"),
    ("s", b"250-mx.example\r\n250 STARTTLS\r\n"), ("c", b"STARTTLS\r\n"), ("s", b"454 4.7.0 not now\r\n"),
    ("c", b"STARTTLS\r\n"), ("s", b"220 2.0.0 Ready to start TLS\r\n"),
    ("c", b"\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03" + bytes(32) + b"\x00\x00\x02\x00\x2f\x01\x00"),
])
doc = json.loads(report_body(tshark(["-n", "-r", again, "-q", "-z", "mailedu,sessions,json"])))
c.eq([(s["tls"]["mode"], s["tls"]["refused"]) for s in doc["sessions"]], [("starttls", True)],
     "refused then started: mode starttls, the refusal recorded")
out = tshark(["-n", "-r", again, "-q", "-z", "mailedu,sessions", "-z", "mailedu,transcript"])
c.check("REFUSED" not in out, "refused then started: the reports do not call the session refused")


# What the acknowledgements tell (RFC 9293 §3.4), in two shapes a tester wrote.
# (1) The client closes before the banner: its FIN takes one sequence number
# and carries no byte, so the 220 that acknowledges it proves nothing missing.
# 1-3 handshake, 4 client FIN, 5 "220 mx.example ESMTP" (ack 1001), 6 server FIN.
path = os.path.join(TMP, "smtp-fin-before-banner.pcap")
p = Pcap(path)
conn = Conn(p, 40000, 25)
conn.handshake()
conn.raw("c", conn.seq["c"], b"", FIN | ACK)
conn.seq["c"] += 1
conn.s(b"220 mx.example ESMTP\r\n")
conn.raw("s", conn.seq["s"], b"", FIN | ACK)
p.close()
os.chmod(path, 0o644)
c.eq(frames(path, "mailedu.gap"), [], "FIN before the banner: nothing is missing")
c.eq(col(path, "mailedu.phase", 5), "greeting", "FIN before the banner: the 220 is the greeting")
# (2) A merged capture wrote the greeting after the EHLO that acknowledges it:
# 4 EHLO (ack 5022), 5 the 220, 6 250, 7 MAIL, 8 250, 9 QUIT, 10 221.  The EHLO
# came after the greeting, so it is not flagged, and the phases never read
# hello, greeting, hello.
path = os.path.join(TMP, "smtp-greeting-written-late.pcap")
p = Pcap(path)
conn = Conn(p, 40000, 25)
conn.handshake()
greeting, at = b"220 mx.example ESMTP\r\n", conn.seq["s"]
conn.seq["s"] += len(greeting)
conn.c(b"EHLO client.example\r\n")
conn.raw("s", at, greeting)
for side, data in (("s", b"250 mx.example\r\n"), ("c", b"MAIL FROM:<a@example.org>\r\n"), ("s", b"250 ok\r\n"),
                   ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n")):
    conn.send(side, data)
conn.fin()
p.close()
os.chmod(path, 0o644)
c.eq(frames(path, "mailedu.wrong_phase"), [], "greeting written late: the EHLO is not before it")
starts = [r[1] for r in fields(path, ["frame.number", "mailedu.phase"], "mailedu.phase.start")]
c.check("greeting" not in starts[1:] and starts[:1] == ["hello"],
        "greeting written late: no phase reopens after hello (%r)" % starts)
both_passes(path, "greeting written late")


# Where a segment ends: at the end of the IP datagram that carries it (RFC 791
# §3.1 Total Length), not at the end of the frame.  One POP3 login, written
# three ways below the TCP layer; TCP's bytes are the same in each, so mailedu
# must read the same dialogue: USER lena, PASS Plum-Tree-3 (+OK logged in),
# STAT, QUIT, with nothing after a line's CRLF taken as the next line.
class Shaped(Pcap):
    """A pcap whose frames that carry TCP payload (longer than Ethernet 14 +
    IPv4 20 + TCP 20 bytes) are rewritten by SHAPE into one or more frames."""

    def __init__(self, path, shape):
        super().__init__(path)
        self.shape = shape

    def frame(self, data, orig_len=None):
        for f in (self.shape(data) if len(data) > 54 else [data]):
            super().frame(f)


def ipv4(frame, total=None, ident=0, frag=0x4000, payload=None):
    """FRAME's Ethernet and IPv4 headers over PAYLOAD (default: FRAME's own),
    with this total length, identification and flags/fragment offset."""
    payload = frame[34:] if payload is None else payload
    ip = bytearray(frame[14:34])
    struct.pack_into("!HHH", ip, 2, 20 + len(payload) if total is None else total, ident, frag)
    struct.pack_into("!H", ip, 10, 0)
    struct.pack_into("!H", ip, 10, _csum(bytes(ip)))
    return frame[:14] + bytes(ip) + payload


def fragments(frame):
    """The datagram in two IPv4 fragments (RFC 791 §2.3): the first 24 bytes
    of TCP (header and 4 bytes of payload) with More Fragments, then the rest
    at offset 24/8 = 3.  Wireshark reassembles them on the second frame."""
    fragments.ident += 1
    tcp = frame[34:]
    return [ipv4(frame, ident=fragments.ident, frag=0x2000, payload=tcp[:24]),
            ipv4(frame, ident=fragments.ident, frag=3, payload=tcp[24:])]


fragments.ident = 100
SHAPES = {
    # 4 bytes after the datagram: an Ethernet trailer (or FCS), not payload
    "trailer": lambda f: [f + b"\xde\xad\xbe\xef"],
    # Total Length 0, as captured from a sender with segmentation offload:
    # Wireshark's IP dissector then takes the datagram to the frame's end
    "tso": lambda f: [ipv4(f, total=0)],
    "fragments": fragments,
}
LOGIN = [("s", b"+OK ready\r\n"), ("c", b"USER lena\r\n"), ("s", b"+OK\r\n"),
         ("c", b"PASS Plum-Tree-3\r\n"), ("s", b"+OK logged in\r\n"), ("c", b"STAT\r\n"),
         ("s", b"+OK 0 0\r\n"), ("c", b"QUIT\r\n"), ("s", b"+OK bye\r\n")]
for shape, rewrite in SHAPES.items():
    path = capture("pop3-ip-" + shape, 110, LOGIN, make=lambda path: Shaped(path, rewrite))
    rows = fields(path, ["mailedu.direction", "mailedu.command", "mailedu.status"], "mailedu")
    c.eq([r[1] for r in rows if r and r[0] == "client"], ["USER", "PASS", "STAT", "QUIT"],
         shape + ": the client's commands, nothing glued to them")
    c.eq([r[2] for r in rows if r and r[0] == "server"], ["ok"] * 5, shape + ": five +OK replies")
    pw = fields(path, ["mailedu.auth.username", "mailedu.auth.password"], "mailedu.auth.password")
    c.eq(pw, [["lena", "Plum-Tree-3"]], shape + ": the password, exactly")
    c.eq(fields(path, ["mailedu.auth.result"], "mailedu.auth.result"), [["success"]],
         shape + ": the login succeeded")
    c.eq(frames(path, "mailedu.gap || mailedu.malformed || mailedu.overlong"), [],
         shape + ": no gap, nothing malformed")
    both_passes(path, shape)

# IMAP states the server's lines prove (helper 20).  RFC 9051 §3.4: the
# server's own BYE enters Logout, on its line; the login's OK just before it
# still counts as Authenticated reached.  Frames 4 greeting, 5 LOGIN, 6 OK, 7 BYE.
imap = capture("imap-bye-after-login", 143, [
    ("s", b"* OK ready\r\n"), ("c", b"a1 LOGIN alice pw\r\n"), ("s", b"a1 OK ok\r\n"),
    ("s", b"* BYE Autologout; idle for too long\r\n")])
c.eq(col(imap, "mailedu.phase", 7), "logout", "imap unsolicited BYE: in logout")
for two in (False, True):
    out = tshark(["-r", imap, "-q", "-z", "mailedu,sessions,json"] + (["-2"] if two else []))
    c.eq([(p["phase"], p["frame"]) for p in json.loads(report_body(out))["sessions"][0]["phases"]],
         [("auth", 4), ("authenticated", 7), ("logout", 7)],
         "imap unsolicited BYE: authenticated reached, then logout (two_pass=%s)" % two)
both_passes(imap, "imap unsolicited BYE")
# The OK of a LOGIN lost, a SELECT behind it answered OK (§5.5: the login
# completed first; §3: SELECT is refused before login).  Frames 4 greeting,
# 5 LOGIN and SELECT, 6 the SELECT's data and OK.
imap = capture("imap-login-ok-lost", 143, [
    ("s", b"* OK ready\r\n"), ("c", b"a1 LOGIN alice secret\r\na2 SELECT INBOX\r\n"),
    ("s", b"* 2 EXISTS\r\na2 OK [READ-WRITE] ok\r\n")])
c.eq(col(imap, "mailedu.auth.result", 6), "success", "imap LOGIN OK lost: the SELECT's OK proves it")
sess = json.loads(report_body(tshark(["-r", imap, "-q", "-z", "mailedu,sessions,json"])))["sessions"][0]
c.eq((sess["user"], [(p["phase"], p["frame"]) for p in sess["phases"]], sess["phases_inferred"]),
     ("alice", [("auth", 4), ("authenticated", 6)], True), "imap LOGIN OK lost: user, phases, a guess")
both_passes(imap, "imap LOGIN OK lost")

c.done()
