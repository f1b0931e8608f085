#!/usr/bin/env python3
"""Session facts and ladder diagrams (issue 15), with the real tshark and the
built plugin, on every bundled test capture.

Expected facts come from what each capture's scenario did, never from
mailedu: the "facts" the fact scenarios (scripts/captures/facts.py) wrote into
their expected JSON, or else the scenario's own record of commands, login and
port (rules below, from RFC 1939 §5-6 and the lab's listeners).  The SVG is
checked as XML (xml.etree), arrow by arrow against the session's dialogue
lines, band by band against its phases, and opened in headless chromium.

Usage: test_facts.py [--screenshot PATH]  (PATH: also keep the RFC 1939
ladder's screenshot there, e.g. docs/img/ladder-pop3-rfc1939.png)."""
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from mailedu_test import CAPTURES, Checker, tshark_cmd

c = Checker("facts")
SVG = "{http://www.w3.org/2000/svg}"
LAB_RELAY_PORT = 11025          # scripts/captures/lab.py: the relay listener, no AUTH
SUBMISSION_PORTS = (11587, 11465)


def run(args):
    p = subprocess.run(tshark_cmd(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def reports(cap, extra=()):
    """The sessions JSON and the ladder SVG text of one capture, in one tshark run."""
    keys = cap[:-len(".pcapng")] + ".keys"
    args = ["-n", "-r", cap, "-q", "-z", "mailedu,sessions,json", "-z", "mailedu,ladder"]
    if os.path.exists(keys):
        args += ["-o", "tls.keylog_file:" + keys]
    rc, out, err = run(args + list(extra))
    c.check(rc == 0, "%s: tshark exit %d %s" % (os.path.basename(cap), rc, err[-200:]))
    js = out[out.index("=== mailedu sessions (json) ===") + 31:]
    doc = json.loads(js[:js.index("=== end ===")])
    svg = out[out.index("<!-- === mailedu ladder === -->"):]
    svg = svg[:svg.index("<!-- === end === -->") + len("<!-- === end === -->")]
    return doc, svg


def derived_facts(exp):
    """What the scenario's own record says about the mode or role, or None
    when it cannot say.  POP3 (RFC 1939 §6): DELE then QUIT from TRANSACTION
    deletes; RETR/TOP without DELE leaves mail on the server.  SMTP: a login
    or a submission port is a submission; the lab's relay port without a login
    is a relay (those scenarios greet with a domain name, as MTAs do).  IMAP:
    an EXPUNGE after a STORE expunges; no FETCH/STORE reads nothing."""
    if "facts" in exp:
        return exp["facts"]
    cmds = [(x["command"], x["phase"]) for x in exp.get("commands", [])]
    verbs = [v for v, _ in cmds]
    if exp["protocol"] == "pop3" and cmds:
        if "DELE" in verbs:
            return {"pop3_mode": "retrieve-and-delete" if ("QUIT", "transaction") in cmds else "undecided"}
        if "RETR" in verbs or "TOP" in verbs:
            return {"pop3_mode": "leave-on-server"}
        return {"pop3_mode": "undecided"}
    if exp["protocol"] == "smtp":
        if exp.get("credentials") or exp["server_port"] in SUBMISSION_PORTS:
            return {"smtp_role": "submission"}
        if exp["server_port"] == LAB_RELAY_PORT:
            return {"smtp_role": "relay"}
    if exp["protocol"] == "imap" and cmds:
        if "EXPUNGE" in verbs and "STORE" in verbs:
            return {"imap_outcome": "expunged"}
        if not any(v in ("FETCH", "UID FETCH", "STORE", "UID STORE") for v in verbs):
            return {"imap_outcome": "nothing-read"}
    return None


def session_svgs(root, sessions):
    """stream -> its <svg> element (the root itself for a single session)."""
    if len(sessions) == 1:
        return {sessions[0]["stream"]: root}
    return {int(e.get("id").rsplit("-", 1)[1]): e for e in root.findall(SVG + "svg")}


def runs(values):
    out = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


def check_ladder(name, s, el):
    """One session's diagram against its dialogue lines."""
    arrows = [g for g in el.iter(SVG + "g") if g.get("data-frame")]
    lines = s["lines"]
    c.eq(len(arrows), len(lines), "%s/%d: one arrow per dialogue line" % (name, s["stream"]))
    c.eq([(int(g.get("data-frame")), g.get("data-dir")) for g in arrows],
         [(l["frame"], l["dir"]) for l in lines], "%s/%d: arrows in order, right direction" % (name, s["stream"]))
    bands = [r.get("data-phase") for r in el.iter(SVG + "rect") if r.get("data-phase")]
    c.eq(bands, runs([l["phase"] for l in lines]), "%s/%d: phase bands in order" % (name, s["stream"]))
    bad = 0
    for g, l in zip(arrows, lines):
        label = [t for t in g.findall(SVG + "text") if t.get("font-family") == "monospace"][0]
        got = "".join(label.itertext())
        title = label.find(SVG + "title")
        if title is not None:
            got = got[:len(got) - len(title.text or "")]
        want = l["text"]
        if not (got == want or (got.endswith("\u2026") and want.startswith(got[:-1]))):
            bad += 1
            if bad < 3:
                print("  %s frame %d: label %r, line %r" % (name, l["frame"], got, want))
    c.eq(bad, 0, "%s/%d: every arrow's label is its line's text (escaped, read back)" % (name, s["stream"]))
    warned = sum(1 for g in arrows if g.find(SVG + "g[@data-warning]") is not None)
    c.check(warned <= len(lines), "%s: warning marks" % name)


checked = skipped = 0
rfc1939_svg = None
for cap in sorted(glob.glob(os.path.join(CAPTURES, "*.pcapng"))):
    name = os.path.basename(cap)[:-len(".pcapng")]
    exp = json.load(open(cap[:-len(".pcapng")] + ".expected.json"))
    doc, svg = reports(cap)
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as e:
        c.check(False, "%s: ladder is not well-formed XML: %s" % (name, e))
        continue
    c.eq(root.tag, SVG + "svg", name + ": the ladder is an SVG document")
    sessions = doc["sessions"]
    if not sessions:
        continue
    els = session_svgs(root, sessions)
    for s in sessions:
        check_ladder(name, s, els[s["stream"]])
        f = s["facts"]
        c.check(f.get("rule") and re.match(r"RFC \d+", f.get("rfc", "")) and f.get("explain"),
                "%s: facts carry a rule, an RFC section and an explanation: %r" % (name, f))
    want = derived_facts(exp)
    if want is None:
        skipped += 1
        continue
    checked += 1
    mine = [s["facts"] for s in sessions if s["protocol"] == exp["protocol"]]
    for k, v in want.items():
        c.eq([m.get(k) for m in mine], [v] * len(mine), "%s: facts.%s as the scenario did" % (name, k))
    if name == "pop3-rfc1939":
        rfc1939_svg = (svg, [b.get("data-phase") for b in root.iter(SVG + "rect") if b.get("data-phase")])
print("facts compared on %d captures (%d without a derivable mode/role)" % (checked, skipped))
c.check(checked >= 45, "facts compared on most captures")

# The RFC 1939 dialogue: the three POP3 phases as bands, in order
c.eq(rfc1939_svg and rfc1939_svg[1], ["auth", "transaction", "update"], "RFC 1939 capture: three bands in order")

# Passwords masked per the preference; Indonesian explanations
cap = os.path.join(CAPTURES, "pop3-userpass-ok.pcapng")
doc, svg = reports(cap)
c.check("PASS alicepw" in svg, "ladder shows the password when not masked")
doc, svg = reports(cap, ["-o", "mailedu.mask_passwords:TRUE", "-o", "mailedu.language:id"])
c.check("alicepw" not in svg and "PASS ********" in svg, "ladder masks the password")
c.check("Mode ambil-lalu-hapus" in svg and doc["sessions"][0]["facts"]["explain"].startswith("Mode ambil-lalu-hapus"),
        "facts explained in Bahasa Indonesia")
c.check("Fakta sesi: pop3_mode=retrieve-and-delete (aturan " in svg,
        "the ladder labels its facts line in Bahasa Indonesia, as the transcript does")

# One stream, a stream that is not there, a bad argument
cap = os.path.join(CAPTURES, "smtp-relay-mta.pcapng")
rc, out, _ = run(["-n", "-r", cap, "-q", "-z", "mailedu,ladder,0"])
c.check(rc == 0 and 'id="mailedu-stream-0"' in out and out.count("<svg") == 1, "ladder,0: one session")
rc, out, _ = run(["-n", "-r", cap, "-q", "-z", "mailedu,ladder,7"])
c.check(rc == 0 and "No mail session in tcp.stream 7. Mail sessions are in streams: 0." in out,
        "ladder,7: says there is none in stream 7, and where the session is")
rc, out, _ = run(["-n", "-r", cap, "-q", "-z", "mailedu,transcript,7"])
c.check(rc == 0 and "No mail session in tcp.stream 7. Mail sessions are in streams: 0." in out,
        "transcript,7: says there is none in stream 7, and where the session is")
for z in ("mailedu,transcript,4294967296", "mailedu,ladder,99999999999999999999", "mailedu,transcript,+1"):
    rc, out, err = run(["-n", "-r", cap, "-q", "-z", z])
    c.check(rc != 0 and "STREAM must be a tcp.stream number from 0 to 4294967295" in err,
            "%s: no such tcp.stream, a clear error (%d %s)" % (z, rc, err[-120:]))
rc, out, err = run(["-n", "-r", cap, "-q", "-z", "mailedu,ladder,x"])
c.check(rc != 0 and "STREAM must be a tcp.stream number" in err, "ladder,x: clear error (%d %s)" % (rc, err[-120:]))
rc, out, _ = run(["-n", "-r", cap, "-q", "-z", "mailedu,transcript"])
c.check("Facts: smtp_role=relay (rule server-name, RFC 5321 §3.6)" in out, "transcript header carries the facts")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


# A real browser: chromium renders the RFC 1939 ladder
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if c.check(chromium is not None and rfc1939_svg is not None, "chromium installed (scripts/install-deps)"):
    tmp = tempfile.mkdtemp(prefix="mailedu-ladder-")
    src, png = os.path.join(tmp, "ladder.svg"), os.path.join(tmp, "ladder.png")
    with open(src, "w", encoding="utf-8") as f:
        f.write(rfc1939_svg[0])
    height = int(ET.fromstring(rfc1939_svg[0]).get("height"))
    p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--user-data-dir=" + os.path.join(tmp, "profile"),
                        "--window-size=840,%d" % height, "--screenshot=" + png, src],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    size = png_size(png) if os.path.exists(png) else None
    c.eq(size, (840, height), "chromium screenshot of the ladder")
    c.check(size and os.path.getsize(png) > 20000, "the screenshot is not blank")
    if "--screenshot" in sys.argv and size:
        shutil.copy(png, sys.argv[sys.argv.index("--screenshot") + 1])
    shutil.rmtree(tmp, ignore_errors=True)
c.done()
