#!/usr/bin/env python3
"""Any port, any wrapping: the same session must be annotated identically
whether it runs on a standard port, on a lab port (recognised by mailedu's
heuristic, no "Decode As"), inside TLS with keys, or cut into hostile
segments.  Segment variants are made from the real captures with editcap and
tests/tools/segtool.py."""
import glob
import json
import os
import re
import subprocess

from mailedu_test import (temp_dir, CAPTURES, PUBLIC, ROOT, Checker, attempts, check_expected, credentials,
                          decode_args, fields, frames, tshark)

c = Checker("anyport")
TMP = temp_dir("mailedu-anyport-")
os.chmod(TMP, 0o755)
SEGTOOL = os.path.join(ROOT, "tests", "tools", "segtool.py")
STANDARD = {"pop3": 110, "imap": 143, "smtp": 587}

ALL = ["mailedu.proto", "mailedu.direction", "mailedu.phase", "mailedu.phase.start",
       "mailedu.phase.inferred", "mailedu.command", "mailedu.argument", "mailedu.tag",
       "mailedu.status", "mailedu.reply_code", "mailedu.explain", "mailedu.request_in",
       "mailedu.auth.mechanism", "mailedu.auth.username", "mailedu.auth.password",
       "mailedu.auth.token", "mailedu.auth.challenge", "mailedu.auth.digest",
       "mailedu.auth.attempt", "mailedu.auth.result", "mailedu.auth.cleartext",
       "mailedu.session.user", "mailedu.tls", "mailedu.mail.from", "mailedu.mail.rcpt",
       "mailedu.mailbox"]


def out(name):
    p = os.path.join(TMP, name)
    return p


def seg(op, src, dst, *args):
    subprocess.run(["python3", SEGTOOL, op, src, dst] + [str(a) for a in args], check=True)
    os.chmod(dst, 0o644)
    return dst


def view(cap, extra=(), two_pass=False):
    return fields(cap, ["frame.number"] + ALL, "mailedu", extra, two_pass)


def gen(proto=None):
    for f in sorted(glob.glob(os.path.join(CAPTURES, "*.pcapng"))):
        exp = json.load(open(f.rsplit(".", 1)[0] + ".expected.json"))
        if exp["protocol"] not in STANDARD or "tunnel" in exp:
            continue  # the negative set and the tunnels (test_tunnel.py) have their own tests
        if proto is None or exp["protocol"] == proto:
            yield f, exp


def tls_args(f, exp):
    keys = f.rsplit(".", 1)[0] + ".keys"
    args = ["-o", "tls.keylog_file:" + keys] if os.path.exists(keys) else []
    if exp["server_port"] in (11995, 11993, 11465):
        args += ["-d", "tcp.port==%d,tls" % exp["server_port"]]
    return args


# 1. public captures on odd ports: recognised without -d, and exactly as with -d
for name, port in (("smtp-port225-char-at-a-time.pcap", 225), ("smtp-port2525-base64-body.pcap", 2525),
                   ("smtp-starttls-then-cleartext-25-2525.pcap", 2525)):
    f = os.path.join(PUBLIC, name)
    heur = view(f)
    c.check(len(heur) > 5 and all(r[1] == "smtp" for r in heur), name + ": recognised as SMTP without -d")
    c.eq(heur, view(f, ["-d", "tcp.port==%d,smtp" % port]), name + ": heuristic == Decode As")
    c.eq(heur, view(f, two_pass=True), name + ": -2 == one pass")

# 2. generated clear captures: lab port (heuristic) == Decode As == standard port
for f, exp in gen():
    if exp.get("tls"):
        continue
    name = os.path.basename(f)
    heur = view(f)
    c.check(len(heur) > 3, name + ": recognised without -d")
    c.eq(heur, view(f, decode_args(exp)), name + ": heuristic == Decode As")
    std = seg("port", f, out("std-" + name + ".pcap"), exp["server_port"], STANDARD[exp["protocol"]])
    c.eq(view(std), heur, name + ": standard port == lab port")
    c.eq(view(f, two_pass=True), heur, name + ": -2 == one pass")
    check_expected(c, f, exp, [])  # without -d

# 3. TLS: with keys annotated like clear sessions, tls=1, no cleartext warning;
#    without keys: nothing but tls after the upgrade, nothing invented
for f, exp in gen():
    if not exp.get("tls"):
        continue
    name = os.path.basename(f)
    args = tls_args(f, exp)
    if not any(a.startswith("tls.keylog_file") for a in args):
        continue
    check_expected(c, f, exp, args)
    creds = credentials(attempts(f, args))
    c.check(creds, name + ": credentials found inside TLS")
    c.eq(frames(f, "mailedu.auth.cleartext", args), [], name + ": no cleartext warning inside TLS")
    c.eq(frames(f, "mailedu.auth.attempt && mailedu.tls == 0", args), [],
         name + ": every credential packet has mailedu.tls == 1")
    c.check(frames(f, 'mailedu.protected', args) != [],
            name + ": says the secret was protected")
    c.eq(view(f, args, two_pass=True), view(f, args), name + ": -2 == one pass (keys)")
    nokeys = [a for a in args if not a.startswith("tls.keylog_file") and a != "-o"]
    c.eq(attempts(f, nokeys), [], name + ": no keys, no credentials")
    rows = fields(f, ["mailedu.phase"], "mailedu.tls == 1", nokeys)
    c.check(all(r[0] == "tls" for r in rows), name + ": no keys: phase tls after the upgrade")

# 4. hostile segmentation of real captures: the same credentials and results
HOSTILE = ["pop3-userpass-fail-retry", "pop3-pipelining", "imap-login-literal", "imap-login-fail-retry",
           "smtp-auth-fail-retry", "smtp-pipelining", "smtp-auth-plain-2step"]
for n in HOSTILE:
    f = os.path.join(CAPTURES, n + ".pcapng")
    if not os.path.exists(f):
        print("note: %s missing" % n)
        continue
    exp = json.load(open(f.rsplit(".", 1)[0] + ".expected.json"))
    want = [(w["mechanism"], w["username"], w.get("password"), w["result"]) for w in exp.get("credentials", [])]
    for op, args in (("split", [1]), ("dup", []), ("reorder", []), ("v6", [])):
        src = f
        if op == "reorder":
            # cut first, so that back-to-back segments exist to swap; on the
            # standard port, because the heuristic reads a side's first bytes in
            # arrival order (see README: known limits)
            src = seg("port", f, out("std7-%s.pcap" % n), exp["server_port"], STANDARD[exp["protocol"]])
            src = seg("split", src, out("split7-%s.pcap" % n), 7)
        v = seg(op, src, out("%s-%s.pcap" % (op, n)), *args)
        got = [(a["mechanism"], a["username"], a["password"], a["result"]) for a in credentials(attempts(v))]
        c.eq(got, want, "%s %s: credentials" % (op, n))
        c.eq(view(v, two_pass=True), view(v), "%s %s: -2 == one pass" % (op, n))
        if op == "v6":
            # an IPv6 endpoint in text is [address]:port (RFC 3986 §3.2.2): its
            # own colons would make the port ambiguous
            text = tshark(["-n", "-r", v, "-q", "-z", "mailedu,sessions", "-z", "mailedu,transcript",
                           "-z", "mailedu,ladder"])
            c.check(re.search(r"\[fd00::\d\]:%d\b" % exp["server_port"], text) and
                    not re.findall(r"(?<!\[)fd00::\d\b(?!\])", text),
                    "v6 %s: addresses in brackets in the sessions table, transcript and ladder" % n)
    # hundreds of interleaved sessions: each one reads like the original
    v = seg("multiply", f, out("multi-%s.pcap" % n), 200)
    got = credentials(attempts(v))
    per = {}
    for a in got:
        per.setdefault(a["stream"], []).append((a["mechanism"], a["username"], a["password"], a["result"]))
    c.eq(len(per), 200 if want else 0, n + " x200: sessions with credentials")
    c.check(all(v2 == want for v2 in per.values()), n + " x200: every session has the original credentials")
    # a retransmitted command is not counted twice
    v = out("dup-%s.pcap" % n)
    c.eq(len(fields(v, ["mailedu.command"], 'mailedu.command && mailedu.direction == "client"')),
         len(fields(f, ["mailedu.command"], 'mailedu.command && mailedu.direction == "client"')),
         n + ": duplicates do not add commands")

# 5. snaplen cuts and captures that begin mid-session: annotated, marked, no crash
for n in ("pop3-userpass-ok", "imap-login-atoms", "smtp-attachment", "smtp-relay-noauth"):
    f = os.path.join(CAPTURES, n + ".pcapng")
    if not os.path.exists(f):
        continue
    cut = out("snap-%s.pcapng" % n)
    subprocess.run(["editcap", "-s", "90", f, cut], check=True)
    os.chmod(cut, 0o644)
    rows = view(cut)
    c.check(len(rows) > 3, n + " snaplen 90: still annotated")
    c.check(frames(cut, 'mailedu.gap') != [], n + " snaplen 90: gap noted")
    total = int(subprocess.run(["capinfos", "-c", "-M", "-T", f], stdout=subprocess.PIPE,
                               text=True).stdout.split("\n")[1].split("\t")[1])
    for start in (total // 3, total // 2):
        mid = out("mid%d-%s.pcapng" % (start, n))
        subprocess.run(["editcap", "-r", f, mid, "%d-%d" % (start, total)], check=True)
        os.chmod(mid, 0o644)
        rows = view(mid)
        if rows:
            c.check(frames(mid, "mailedu.phase.inferred") != [], n + " from packet %d: phase inferred" % start)
            c.eq(len(frames(mid, 'mailedu.midsession')), 1,
                 n + " from packet %d: one mid-session note" % start)
        c.eq(view(mid, two_pass=True), rows, n + " from packet %d: -2 == one pass" % start)

# The heuristic is the only way mailedu knows a lab port: with mailedu_tcp
# disabled (Enabled Protocols, --disable-heuristic) nothing on port 11110 is
# mail to it, while Decode As still makes it so.
lab = os.path.join(CAPTURES, "pop3-userpass-fail-retry.pcapng")
c.eq(frames(lab, "mailedu", ["--disable-heuristic", "mailedu_tcp"]), [],
     "heuristic disabled: a lab port is not recognised")
c.check(len(frames(lab, "mailedu", ["--disable-heuristic", "mailedu_tcp", "-d", "tcp.port==11110,pop"])) > 5,
        "heuristic disabled: Decode As still annotates")
c.check(len(frames(lab, "mailedu")) > 5, "heuristic enabled: the lab port is recognised")
c.done()
