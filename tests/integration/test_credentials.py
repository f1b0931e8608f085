#!/usr/bin/env python3
"""mailedu finds every credential Wireshark's own dissectors find (the
mission's promise), on every bundled, public and field capture and on shapes
written byte by byte (tests/hostile/hostile_pcap.py).

With mailedu loaded, `tshark -z credentials` lists both: the builtin POP, IMAP
and SMTP dissectors' rows (protocol "POP3", "IMAP", "SMTP") and mailedu's
("POP3 (mailedu)" ...).  Each builtin row must have a mailedu row of the same
protocol at the same frame or for the same user name: the builtins list an
IMAP LOGIN at its command line and mailedu at the frame that completes it
(a literal password comes later), and the builtin POP dissector names the
user of the first USER on every later PASS, where mailedu names the last.
Expected values of the shapes come from the bytes below and RFC 1939."""
import glob
import os
import re
import subprocess
import sys

from mailedu_test import temp_dir, CAPTURES, PUBLIC, ROOT, SHARED, Checker, fields, tshark, tshark_cmd

sys.path.insert(0, os.path.join(ROOT, "tests", "hostile"))
from hostile_pcap import Pcap, dialogue_capture  # noqa: E402

c = Checker("credentials")
TMP = temp_dir("mailedu-creds-")
os.chmod(TMP, 0o755)
ROW = re.compile(r"^(\d+)\s+(POP3|IMAP|SMTP)( \(mailedu\))?\s+(\S*)")


def listed(cap):
    """(frame, protocol, is mailedu's, user) rows of -z credentials."""
    out = tshark(["-n", "-r", cap, "-q", "-z", "credentials"], check=False)
    rows = []
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            user = m.group(4)
            if len(user) >= 2 and user[0] == user[-1] == '"':  # an IMAP quoted string
                user = re.sub(r'\\(.)', r'\1', user[1:-1])
            rows.append((int(m.group(1)), m.group(2), bool(m.group(3)), user))
    return rows


def missing(cap):
    """The builtin dissectors' rows that no mailedu row covers."""
    rows = listed(cap)
    ours = [(f, p, u) for f, p, mine, u in rows if mine]
    return [(f, p, u) for f, p, mine, u in rows if not mine and
            not any(p == op and (f == of or u == ou) for of, op, ou in ours)]


def capture(name, port, dialogue, make=Pcap):
    """The dialogue as TMP/NAME.pcap (hostile_pcap.dialogue_capture)."""
    return dialogue_capture(os.path.join(TMP, name + ".pcap"), port, dialogue, make)


# PASS after the login (RFC 1939 §4: valid only in AUTHORIZATION; the server
# refuses it), in upper and lower case.  The secret crossed the wire all the
# same: Wireshark lists both frames, and so must mailedu, as attempts the
# server refused.  4 greeting, 5 USER, 6 +OK, 7 PASS, 8 +OK, 9 PASS, 10 -ERR,
# 11 pass, 12 -ERR, 13 STAT, 14 +OK, 15 QUIT, 16 +OK (its reply opens UPDATE)
late = capture("pop3-pass-after-login", 110, [
    ("s", b"+OK ready\r\n"), ("c", b"USER lena\r\n"), ("s", b"+OK\r\n"),
    ("c", b"PASS Plum-Tree-3\r\n"), ("s", b"+OK logged in\r\n"),
    ("c", b"PASS second-pw\r\n"), ("s", b"-ERR unknown command\r\n"),
    ("c", b"pass third-pw\r\n"), ("s", b"-ERR unknown command\r\n"),
    ("c", b"STAT\r\n"), ("s", b"+OK 0 0\r\n"), ("c", b"QUIT\r\n"), ("s", b"+OK bye\r\n"),
])
rows = fields(late, ["frame.number", "mailedu.auth.attempt", "mailedu.auth.password", "mailedu.auth.result"],
              "mailedu.auth.password || mailedu.auth.result")
c.eq(rows, [["7", "1", "Plum-Tree-3", ""], ["8", "1", "", "success"],
            ["9", "2", "second-pw", ""], ["10", "2", "", "failure"],
            ["11", "3", "third-pw", ""], ["12", "3", "", "failure"]],
     "PASS after the login: each secret an attempt, refused")
c.eq(fields(late, ["frame.number", "mailedu.phase", "mailedu.session.user"], "frame.number >= 9 && mailedu"),
     [[str(f), "transaction", "lena"] for f in range(9, 16)] + [["16", "update", "lena"]],
     "PASS after the login: still TRANSACTION, still lena's session")
c.eq([(f, p, mine) for f, p, mine, _ in listed(late) if mine],
     [(7, "POP3", True), (9, "POP3", True), (11, "POP3", True)],
     "PASS after the login: -z credentials has all three")
c.eq(missing(late), [], "PASS after the login: every builtin row covered")

# Bytes that are not UTF-8 in a user name and a password (RFC 1939 allows any
# octets but CR LF in an argument).  Every string Wireshark takes must be
# UTF-8: mailedu's fields, -z credentials and the tree's texts show each
# invalid sequence as U+FFFD, as Wireshark's own POP fields do.  0xfc and 0xff
# start no sequence; ED A0 80 would encode the surrogate U+D800 (RFC 3629 §3:
# not allowed), so each of its three bytes is one.  4 greeting, 5 USER, 6 +OK,
# 7 PASS, 8 +OK, 9 QUIT, 10 +OK
odd = capture("pop3-user-not-utf8", 110, [
    ("s", b"+OK ready\r\n"), ("c", b"USER j\xfcrgen\xff\r\n"), ("s", b"+OK\r\n"),
    ("c", b"PASS pw\xed\xa0\x80x\r\n"), ("s", b"+OK logged in\r\n"),
    ("c", b"QUIT\r\n"), ("s", b"+OK bye\r\n"),
])
R = "\ufffd"
c.eq(fields(odd, ["mailedu.auth.username", "mailedu.auth.password", "mailedu.argument"], "frame.number == 7"),
     [["j%srgen%s" % (R, R), "pw%sx" % (R * 3), "pw%sx" % (R * 3)]], "not UTF-8: fields with U+FFFD")
c.eq(fields(odd, ["mailedu.session.user", "mailedu.line"], "frame.number == 8"),
     [["j%srgen%s" % (R, R), "S: +OK logged in"]], "not UTF-8: the session user with U+FFFD")
out = tshark(["-n", "-r", odd, "-q", "-z", "credentials"], check=False)
c.check(("j%srgen%s" % (R, R)) in out and ("password: pw%sx" % (R * 3)) in out,
        "not UTF-8: -z credentials with U+FFFD: %r" % out[-300:])
raw = tshark(["-n", "-r", odd, "-V", "-o", "mailedu.info_column:TRUE"], check=False)
c.check(R in raw, "not UTF-8: the tree shows U+FFFD")
# (read as bytes: the fields() helper above decodes with replacement, which
# would hide raw bytes in -T fields)
FIELDS = ["-e", "mailedu.auth.username", "-e", "mailedu.auth.password", "-e", "mailedu.argument",
          "-e", "mailedu.session.user"]
for what, args in (("-V", ["-V"]), ("-z credentials", ["-q", "-z", "credentials"]),
                   ("-z mailedu,tree", ["-q", "-z", "mailedu,tree"]), ("Info column", []),
                   ("-T fields", ["-T", "fields"] + FIELDS), ("-T json", ["-T", "json"]),
                   ("-T ek", ["-T", "ek"]), ("-T pdml", ["-T", "pdml"])):
    p = subprocess.run(tshark_cmd(["-n", "-r", odd] + args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        p.stdout.decode("utf-8")
        ok = True
    except UnicodeDecodeError as e:
        ok = "%s at %d: %r" % (e.reason, e.start, p.stdout[max(0, e.start - 30):e.start + 10])
    c.eq(ok, True, "not UTF-8: %s output is valid UTF-8" % what)

caps = sorted(glob.glob(os.path.join(CAPTURES, "*.pcap*")) + glob.glob(os.path.join(PUBLIC, "*.pcap*")) +
              glob.glob(os.path.join(SHARED, "captures", "field", "*.pcap*")))
builtin = 0
for cap in caps:
    builtin += sum(1 for r in listed(cap) if not r[2])
    c.eq(missing(cap), [], "%s: every credential Wireshark lists, mailedu lists" % os.path.basename(cap))
print("%d captures, %d credentials listed by the builtin dissectors" % (len(caps), builtin))
c.check(len(caps) >= 90 and builtin >= 25, "enough captures and builtin credentials to mean something")
c.done()
