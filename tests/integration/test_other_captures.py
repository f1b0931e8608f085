#!/usr/bin/env python3
"""mailedu on captures other projects wrote for their own tests (Zeek,
suricata-verify, peafowl; tests/other-captures/SOURCES.md), where it once went
wrong.  Each expected value was read from the capture's bytes (tshark -x,
-z follow,tcp,ascii) and the RFC named with it, or taken from that project's
own expected output where it has one, as noted; never from mailedu's output.
Every capture also: tshark exits 0 and prints nothing on stderr, and one pass
and -2 give the same sessions report."""
import json
import os
import subprocess

from mailedu_test import ROOT, Checker, tshark_cmd

c = Checker("other-captures")
DIR = os.path.join(ROOT, "tests", "other-captures")


def sessions(name, two_pass=False):
    """The sessions JSON of capture `name`, checking that tshark was quiet."""
    args = ["-n", "-r", os.path.join(DIR, name), "-q", "-z", "mailedu,sessions,json"] + (["-2"] if two_pass else [])
    p = subprocess.run(tshark_cmd(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    err = "\n".join(l for l in err.splitlines() if not l.startswith("Running as user"))
    c.check(p.returncode == 0 and not err.strip(), "%s: tshark exit %d, stderr %r" % (name, p.returncode, err[-300:]))
    body = out.split("=== mailedu sessions (json) ===\n", 1)[-1].split("\n=== end ===", 1)[0]
    return json.loads(body)["sessions"]


def one(name):
    ss = sessions(name)
    c.eq(ss, sessions(name, two_pass=True), name + ": one pass == -2")
    c.eq(len(ss), 1, name + ": one session")
    return ss[0] if ss else {}


def line(s, frame, direction=None):
    """The texts of the lines of session s in frame (of one direction)."""
    return [l["text"] for l in s.get("lines", []) if l["frame"] == frame and direction in (None, l["dir"])]


def phases(s):
    return [(p["phase"], p["frame"]) for p in s.get("phases", [])]


# Zeek's HTTP CONNECT tunnel: the client's HELO (bytes 104-123) is in frame 11
# only, which Wireshark calls a retransmission (frame 10, a bare ACK, already
# had seq 124) and gives to no dissector.  Zeek's smtp.log baseline
# (scripts.base.protocols.http.http-connect): helo 208.191.73.21.
s = one("zeek-http-connect-with-smtp.pcap")
c.eq(line(s, 11, "C"), ["HELO 208.191.73.21"], "tunnel: the HELO seen only as a retransmission is read")
c.eq(s.get("warnings", {}).get("wrong_phase", 0), 0, "tunnel: MAIL after the HELO is not out of order")
c.eq(s.get("facts", {}).get("hello"), "208.191.73.21", "tunnel: the client's name, as in Zeek's smtp.log")

# Zeek's one-sided SMTP: only the client's packets.  Frame 3, a bare ACK,
# acknowledges 112 server bytes (the greeting) before the EHLO in frame 4, so
# the greeting was sent (RFC 9293 §3.4): EHLO opens hello, with one note that
# bytes are missing.  Zeek's smtp.log baseline (smtp.one-side): helo enzo.icir.org.
s = one("zeek-smtp-one-side-only.pcap")
c.eq(phases(s)[:2], [("hello", 4), ("envelope", 5)], "one side: EHLO opens hello")
c.eq(s.get("warnings", {}).get("wrong_phase", 0), 0, "one side: the EHLO is not before the greeting")
c.eq(s.get("warnings", {}).get("gap"), 1, "one side: one note that the server's bytes are missing")
c.eq(s.get("facts", {}).get("hello"), "enzo.icir.org", "one side: the client's name, as in Zeek's smtp.log")

# Suricata: HELO client.example.com (frame 6) accepted by 250 (8); EHLO with no
# name (11) refused by 501 (12).  A refused command changes nothing (RFC 5321
# §4.1.4); Suricata's test.yaml expects smtp.helo: client.example.com.
s = one("sv-smtp-rejected-ehlo-preserves-envelope.pcap")
c.eq((s.get("facts", {}).get("hello"), s.get("facts", {}).get("smtp_role")), ("client.example.com", "relay"),
     "refused EHLO: the accepted name stays")

# Zeek's RFC 3030 example: BDAT 86 LAST (frame 16), 250 ... queued (20): one
# message accepted (RFC 3030 §2).
s = one("zeek-rfc3030-bdat-example1.pcap")
c.eq(s.get("facts", {}).get("messages"), 1, "BDAT LAST: the message counts")

# Suricata: HELO (6) 250 (8); DATA (9) before any MAIL, 503 (10); EHLO (11),
# MAIL (13), RCPT (15), DATA (17) 354 (18), QUIT (21).  The refused DATA never
# put the session in data (RFC 5321 §4.1.4), and EHLO (11) opens no new hello.
s = one("sv-smtp-ehlo-reset-after-rejected-data.pcap")
c.eq(phases(s), [("greeting", 4), ("hello", 6), ("envelope", 13), ("data", 17), ("quit", 21)],
     "DATA refused out of sequence: phases")

# Suricata's bug 6053: the EHLO's final reply never comes (the greeting's last
# line runs into the next segment).  AUTH LOGIN's 334s (12, 16) can only answer
# AUTH (RFC 4954 §4): 235 (20) is the login's result, 250 (24) MAIL's (22).
s = one("sv-smtp-bug-6053.pcap")
c.eq([(a["result"], a["result_frame"]) for a in s.get("logins", [])], [("success", 20)],
     "missing EHLO reply: the 235 is the login's result")
c.eq([p for p in phases(s) if p[1] >= 20], [("envelope", 22), ("quit", 30)],
     "missing EHLO reply: MAIL and QUIT in their phases")

# peafowl's IMAP STARTTLS: the greeting is "* OK [CAPABILITY ...] Dovecot
# (Ubuntu) ready." (frame 4); its status word decides the state (RFC 9051 §7.1).
s = one("peafowl-imap-ssl.pcapng")
c.check(all(t.startswith("* OK [CAPABILITY IMAP4rev1 ") and t.endswith("] Dovecot (Ubuntu) ready.")
            for t in line(s, 4, "S")) and line(s, 4, "S"), "IMAP greeting keeps its OK: %r" % line(s, 4, "S"))

# Zeek's crafted POP3: frame 8 is "GARBAGE (and LIST response missing .)".
s = one("zeek-pop3-bad-list-retr-crafted.pcap")
c.eq(line(s, 8, "S"), ["GARBAGE (and LIST response missing .)"], "POP3 garbage line keeps its bytes")

# Suricata: RSET and STARTTLS pipelined (frame 6), 250 (7), 220 (9), then the
# capture ends before any TLS record.  The session did upgrade (RFC 3207 §4).
s = one("sv-smtp-rset-starttls.pcap")
c.eq(s.get("tls", {}).get("mode"), "starttls", "STARTTLS accepted, no TLS record captured: starttls")

c.done()
