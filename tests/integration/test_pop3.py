#!/usr/bin/env python3
"""POP3 integration tests: the real tshark with the built plugin on the public
captures (values read by hand from the bytes, see SOURCES.md) and on the
captures made from dovecot by scripts/make-captures (values from what each
scenario did)."""
import glob
import json
import os
import re

from mailedu_test import (CAPTURES, PUBLIC, Checker, attempts, check_expected, fields, frames,
                          tshark)

c = Checker("pop3")


def pub(name):
    return os.path.join(PUBLIC, name)


# --- pop3-userpass-authplain-5sess.pcap: every attempt, in order ---
f = pub("pop3-userpass-authplain-5sess.pcap")
got = [(a["mechanism"], a["username"], a["password"], a["result"]) for a in attempts(f)]
c.eq(got, [
    ("USER-PASS", "cicciopernacchio@mail.com", "pippozzo", "success"),
    ("PLAIN", "digitalinvestigator@networksims.com", "napier", "failure"),
    ("PLAIN", "digitalinvestigator@networksims.com", "napier123", "success"),
    ("PLAIN", "digitalinvestigator@networksims.com", "napier123", "success"),
], "5sess attempts")
# transaction only after a successful login: each stream's transaction frames
# come after the frame of its success
rows = fields(f, ["frame.number", "tcp.stream", "mailedu.phase", "mailedu.auth.result"], "mailedu")
first_ok = {}
for fr, st, ph, res in rows:
    if "success" in res and st not in first_ok:
        first_ok[st] = int(fr)
bad = [fr for fr, st, ph, res in rows if "transaction" in ph and (st not in first_ok or int(fr) <= first_ok[st])]
c.eq(bad, [], "5sess: transaction packets before a successful login")
c.check(len([r for r in rows if "transaction" in r[2]]) > 20, "5sess: transaction packets exist")
# streams that never log in never reach transaction
for st in set(r[1] for r in rows) - set(first_ok):
    c.check(all("transaction" not in r[2] for r in rows if r[1] == st), "stream %s without login" % st)
# the RETR body (a real e-mail) never yields commands
cmds = set()
for r in fields(f, ["mailedu.command"], 'mailedu.direction == "client"'):
    cmds.update(x for x in r[0].split("|") if x)
c.check(cmds <= {"USER", "PASS", "LIST", "UIDL", "RETR", "QUIT", "CAPA", "AUTH", "STAT"}, "5sess verbs: %s" % cmds)

# --- pop3-userpass-fail-then-ok.pcap (GBK banner) ---
f = pub("pop3-userpass-fail-then-ok.pcap")
got = [(a["mechanism"], a["username"], a["password"], a["result"]) for a in attempts(f)]
c.eq(got, [("USER-PASS", "test@tt.com", "123456", "failure"),
           ("USER-PASS", "test", "123456", "success")], "fail-then-ok attempts")

# --- APOP ---
f = pub("pop3-apop.pcapng")
rows = fields(f, ["mailedu.auth.username", "mailedu.auth.challenge", "mailedu.auth.digest"],
              'mailedu.auth.mechanism == "APOP" && mailedu.direction == "client"')
c.eq(rows, [["billcl", "<1733.1.9f403625.BbWGgpKzZKKL8opgWn0wuA==@vps-ae9abc72>",
             "5aadb7d8a2639088a7036fe6d5cd5727"]], "APOP user, timestamp and digest")
c.eq([a["result"] for a in attempts(f)], ["success"], "APOP result")
c.check(len(frames(f, "mailedu.phase == \"transaction\"")) >= 4, "APOP session reaches transaction")

# --- NTLM (synthetic, POP3 part) ---
f = pub("mail-ntlm-synthetic-ipv6.pcap")
pop = [a for a in attempts(f, filt='mailedu.proto == "pop3" && mailedu.auth.attempt')]
c.eq([(a["mechanism"], a["username"], a["result"]) for a in pop], [("NTLM", "liam", "success")],
     "POP3 NTLM attempt")
c.eq(fields(f, ["mailedu.auth.domain"], 'mailedu.proto == "pop3" && mailedu.auth.result'),
     [["POP3DOM"]], "POP3 NTLM domain")

# --- XOAUTH2 ---
f = pub("pop3-auth-xoauth2.pcap")
a = attempts(f)
c.eq([(x["mechanism"], x["username"], x["result"]) for x in a], [("XOAUTH2", "joe.speedboat", "success")], "XOAUTH2")
c.check(a and a[0]["token"] and a[0]["token"].startswith("AAAA"), "XOAUTH2 token")

# --- STLS: nothing readable after it, phase tls, no cleartext warning ---
for name in ("pop3-stls-cyrus.pcap", "pop3-capa-auth-stls.pcap"):
    f = pub(name)
    stls_ok = frames(f, 'mailedu.explain contains "TLS handshake"')
    c.check(len(stls_ok) == 1, name + ": one STLS +OK")
    if stls_ok:
        after = frames(f, "mailedu && frame.number > %d" % stls_ok[0])
        tls = frames(f, 'mailedu.phase == "tls" && mailedu.tls == 1')
        c.check(after and after == tls, name + ": every packet after STLS is phase tls")
    c.eq(frames(f, "mailedu.auth.cleartext"), [], name + ": no cleartext warning")
    c.eq(attempts(f), [], name + ": no credentials invented")
f = pub("pops-995-implicit-tls.pcapng")
c.check(frames(f, "mailedu") == frames(f, 'mailedu.phase == "tls"') != [], "995: all tls")

# --- superset of tshark -z credentials ---
for f in sorted(glob.glob(pub("pop3-*"))) + [pub("mail-ntlm-synthetic-ipv6.pcap")]:
    out = tshark(["-n", "-r", f, "-q", "-z", "credentials", "--disable-protocol", "mailedu"], check=False)  # Wireshark alone
    theirs = set(m.group(1) for m in re.finditer(r"^\d+\s+POP3?\s+(\S+)", out, re.M))
    ours = set(a["username"] for a in attempts(f))
    c.check(theirs <= ours, "%s: -z credentials users %s within ours %s" % (os.path.basename(f), theirs, ours))

# --- one pass and two passes agree on every mailedu field ---
MAILEDU_FIELDS = ["mailedu.proto", "mailedu.direction", "mailedu.phase", "mailedu.phase.start",
                  "mailedu.phase.inferred", "mailedu.command", "mailedu.argument", "mailedu.tag",
                  "mailedu.status", "mailedu.reply_code", "mailedu.explain", "mailedu.rfc",
                  "mailedu.request_in", "mailedu.auth.mechanism", "mailedu.auth.username",
                  "mailedu.auth.password", "mailedu.auth.token", "mailedu.auth.challenge",
                  "mailedu.auth.digest", "mailedu.auth.attempt", "mailedu.auth.result",
                  "mailedu.auth.cleartext", "mailedu.session.user", "mailedu.tls",
                  "mailedu.mail.from", "mailedu.mail.rcpt", "mailedu.mailbox", "mailedu.data_len"]
gen = sorted(glob.glob(os.path.join(CAPTURES, "pop3-*.pcapng")))
for f in sorted(glob.glob(pub("pop3-*"))) + gen:
    extra = []
    exp = f.rsplit(".", 1)[0] + ".expected.json"
    if os.path.exists(exp):
        from mailedu_test import decode_args
        extra = decode_args(json.load(open(exp)))
    one = fields(f, ["frame.number"] + MAILEDU_FIELDS, "mailedu", extra)
    two = fields(f, ["frame.number"] + MAILEDU_FIELDS, "mailedu", extra, two_pass=True)
    c.check(one and one == two, os.path.basename(f) + ": -2 and one pass agree")

# --- generated captures: compare with what each scenario did ---
if not gen:
    print("note: no generated POP3 captures in test-captures/")
for f in gen:
    exp = json.load(open(f.rsplit(".", 1)[0] + ".expected.json"))
    if exp.get("keylog"):
        continue  # TLS sessions are checked by the any-port/TLS tests
    check_expected(c, f, exp)

# SPEC: "command not valid in this phase, with the RFC section" (the section
# that lists which commands each state allows)
out = tshark(["-n", "-r", os.path.join(CAPTURES, "pop3-wrong-phase.pcapng"), "-d", "tcp.port==11110,pop",
              "-q", "-z", "expert,warn"])
c.check("Command not valid in this phase (AUTHORIZATION state - auth): STAT [RFC 1939 §3]" in out,
        "wrong-phase expert item names the command and RFC 1939 §3: %r" % out[-400:])

# mailedu.line is on every packet with a line, one line or several (README)
c.eq(frames(os.path.join(CAPTURES, "pop3-userpass-ok.pcapng"), 'mailedu.line contains "PASS"',
            ["-d", "tcp.port==11110,pop"]), [9], "mailedu.line on a one-line packet (PASS, frame 9)")

c.done()
