#!/usr/bin/env python3
"""The grader on a generated class: copies of the bundled test captures under
student names (per-student folders with Moodle names, a gzip, a key log, an
answers.toml), a copy pair (one capture re-saved as pcap by editcap), and
every kind of bad file; then a Moodle zip with hostile entry names and a
roster; a timeout; a crashing tshark; --check; --show-passwords.

Expected scores are written by hand from each capture's scenario
(test-captures/README.md, *.expected.json) and the rubric rubrics/pop3-auth.toml
(12 points: session 1, login-ok 2, cleartext 1, transaction 2, update 1,
auth-packets 1, four answers 1 each).  The HTML report is opened in the real
headless chromium.  Runs the real tshark with the build's plugin (as nobody
when root, like tests/integration)."""
import csv
import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from mailedu_test import Checker  # noqa: E402

BUILD = os.path.abspath(os.environ.get("MAILEDU_BUILD", os.path.join(ROOT, "build")))
CAPS = os.path.join(ROOT, "test-captures")
GRADE = os.path.join(ROOT, "scripts", "mailedu-grade")
HOSTILE = "O'Brien \"Q\" Ñandú <img src=x onerror=alert(1)>"
c = Checker("grader")


def cap(name):
    return os.path.join(CAPS, name)


def put(path, data=None, src=None):
    """Writes DATA (or a copy of SRC) at PATH, readable by tshark run as nobody."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if src:
        shutil.copyfile(src, path)
    else:
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    os.chmod(path, 0o644)


def truncated_copy(src, dst, frames):
    """src's first `frames` frames plus part of the next one (cut mid-packet)."""
    tmp = dst + ".tmp"
    subprocess.run(["editcap", "-F", "pcap", "-r", src, tmp, "1-%d" % (frames + 1)], check=True)
    data = open(tmp, "rb").read()
    os.remove(tmp)
    put(dst, data[:-5])


def make_class(root):
    """The class folder; returns {student: (score or None, status)} written by hand."""
    d = os.path.join(root, "class")
    m = lambda name, n: os.path.join(d, "%s_%d_assignsubmission_file_" % (name, n))
    # USER/PASS alice, STAT..QUIT; answers: server, user, greeting frame 4 right, transaction frame wrong
    put(os.path.join(m("Budi Santoso", 101), "capture.pcapng"), src=cap("pop3-userpass-ok.pcapng"))
    put(os.path.join(m("Budi Santoso", 101), "answers.toml"),
        'server_ip = "127.0.0.1"\nusername = "alice"\nauth_frame = 4\ntransaction_frame = 5\n')
    # failed then good USER/PASS: everything but the answers (no answers.toml)
    put(os.path.join(m("Siti Aminah", 102), "pop3.pcapng"), src=cap("pop3-userpass-fail-retry.pcapng"))
    # RFC 1939 §10 APOP replay, gzip: no cleartext password (APOP sends a digest)
    with open(cap("pop3-rfc1939.pcapng"), "rb") as f:
        import gzip
        put(os.path.join(m("Ani", 103), "ani.pcapng.gz"), gzip.compress(f.read()))
    # IMAP STARTTLS without keys: the login is hidden, and it is not POP3
    put(os.path.join(m("Dewi", 104), "imap.pcapng"), src=cap("imap-starttls.pcapng"))
    # the same with the key log beside it: decrypted, the password is not in clear
    put(os.path.join(m("Eko", 105), "pop3-stls.pcapng"), src=cap("pop3-stls.pcapng"))
    put(os.path.join(m("Eko", 105), "pop3-stls.keys"), src=cap("pop3-stls.keys"))
    # the copy pair: Gita hands in Fajar's capture re-saved as pcap
    put(os.path.join(m("Fajar", 106), "pop3.pcapng"), src=cap("pop3-pipelining.pcapng"))
    os.makedirs(m("Gita", 107))
    subprocess.run(["editcap", "-F", "pcap", cap("pop3-pipelining.pcapng"),
                    os.path.join(m("Gita", 107), "mine.pcap")], check=True)
    # same lab server, other sessions: not copies of anyone
    put(os.path.join(d, "Hadi.pcapng"), src=cap("pop3-auth-plain.pcapng"))
    put(os.path.join(d, HOSTILE + ".pcapng"), src=cap("smtp-relay-noauth.pcapng"))
    # bad files
    put(os.path.join(d, "Indra.pcapng"), b"")
    put(os.path.join(d, "Joko.pcapng"), b"%PDF-1.4\n% not a capture\n" * 20)
    truncated_copy(cap("pop3-split-commands.pcapng"), os.path.join(d, "Kartika.pcap"), 14)
    put(os.path.join(d, "Lestari.pcap"), b"\xd4\xc3\xb2\xa1" + b"\0" * 700000)
    put(os.path.join(d, "Made.pcapng"), src=cap("negative-http.pcapng"))
    # cut in the third frame, before the greeting: damaged, not "no mail"
    truncated_copy(cap("pop3-rfc1939.pcapng"), os.path.join(d, "Lina.pcap"), 2)
    os.symlink("/nonexistent/capture.pcapng", os.path.join(d, "Nanda.pcapng"))
    return d, {
        "Budi Santoso": (11, "graded"),   # 1+2+1+2+1+1 + 3 right answers
        "Siti Aminah": (8, "graded"),     # 1+2+1+2+1+1, no answers
        "Ani": (7, "graded"),             # 1+2+0+2+1+1 (greeting, APOP, +OK in auth)
        "Dewi": (0, "encrypted"),         # IMAP inside TLS: no POP3 item
        "Eko": (7, "graded"),             # decrypted: 1+2+0 (inside TLS)+2+1+1
        "Fajar": (8, "graded"), "Gita": (8, "graded"),
        "Hadi": (8, "graded"),            # AUTH PLAIN: base64 is clear text
        HOSTILE: (0, "graded"),           # SMTP only: no POP3 item
        "Indra": (None, "empty"), "Joko": (None, "not_a_capture"),
        "Kartika": (5, "truncated"),      # frames 1-14: login done (+OK at 14), STAT (16) cut
        "Lestari": (None, "too_large"), "Made": (0, "no_mail"), "Nanda": (None, "unreadable"),
        "Lina": (0, "truncated"),
    }


def grade(args, expect_rc=None):
    cmd = [sys.executable, GRADE, "--plugin-dir", os.path.join(BUILD, "plugins"), "--rubric", "pop3-auth"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if expect_rc is not None:
        c.eq(p.returncode, expect_rc, "exit status of %s (stderr: %s)" % (" ".join(args[:3]), p.stderr[-300:]))
    return p


def read_reports(out):
    with open(os.path.join(out, "grades.csv"), newline="", encoding="utf-8") as f:
        rows = {r["student"].lstrip("'"): r for r in csv.DictReader(f)}
    doc = json.load(open(os.path.join(out, "grades.json"), encoding="utf-8"))
    page = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    return rows, {s["student"]: s for s in doc["submissions"]}, doc, page


def check_class(out, want):
    rows, subs, doc, page = read_reports(out)
    import html
    for student, (score, status) in want.items():
        r, s = rows.get(student), subs.get(student)
        if not c.check(r is not None and s is not None, "%s in grades.csv and grades.json" % student):
            continue
        c.eq(r["status"], status, student + " status (csv)")
        c.eq(s["status"], status, student + " status (json)")
        c.eq(s["score"], score, student + " score (json)")
        c.eq(r["score"], "" if score is None else "%g" % score, student + " score (csv)")
        if status not in ("graded",):
            c.check(r["reason"] != "" and s["reason"] != "", student + " has a reason")
        c.check(html.escape(student) in page, student + " in report.html (escaped)")
    c.eq(len(rows), len(want), "rows in grades.csv")
    pairs = {tuple(sorted((p["a"], p["b"]))) for p in doc["copies"]}
    c.eq(pairs, {("Fajar", "Gita")}, "copy pairs")
    c.check(all(p["kind"] == "same_sessions" for p in doc["copies"]), "the pair shares sessions, not bytes")
    budi = {i["id"]: i for i in subs["Budi Santoso"]["items"]}
    c.eq(budi["answer-transaction-frame"]["passed"], False, "Budi's wrong frame answer")
    c.check(any(e.get("frame") == 4 for e in budi["answer-auth-frame"]["evidence"]), "evidence names frame 4")
    c.check(any(l["text"].startswith("USER alice") for e in budi["login-ok"]["evidence"] for l in e["lines"]),
            "login evidence has the USER line")
    c.check("before any POP3, SMTP or IMAP" in subs["Lina"]["reason"],
            "a capture cut before its mail says so: %r" % subs["Lina"]["reason"])
    # Dewi's IMAP is inside TLS without keys: an item it fails could not be seen
    dewi = [i for i in subs["Dewi"]["items"] if not i["passed"]]
    c.check(dewi and all(i["missing"].startswith("cannot be checked: the session is encrypted") for i in dewi),
            "an encrypted submission's items say they cannot be checked: %r" % [i["missing"] for i in dewi][:2])
    # SMTP only, graded as POP3: its SMTP login is no POP3 login
    other = {i["id"]: i for i in subs[HOSTILE]["items"]}
    c.check(other["login-ok"]["missing"].startswith("no POP3 session in the capture"),
            "a login of another protocol: %r" % other["login-ok"]["missing"])
    # Ani's APOP (RFC 1939 §7: the digest of the greeting's timestamp and the
    # password) lets anyone try passwords offline: masked as a password is
    ani = " ".join(e["text"] for i in subs["Ani"]["items"] for e in i["evidence"])
    c.check("APOP, user alice, digest ********" in ani and "1ec38741b5d9155c5a99c7e6a693a432" not in ani,
            "Ani's APOP digest is masked in the evidence: %r" % ani[:300])


def check_ladders(out):
    """Each graded student's main session drawn as mailedu's ladder: Budi's
    POP3 session (pop3-userpass-ok: USER, PASS, STAT, LIST, RETR, DELE, QUIT)
    with the three POP3 phases in order and the password masked; none for a
    capture without mail."""
    import re
    import xml.etree.ElementTree as ET
    page = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    sections = {}
    for sec in re.findall(r'<section id="s\d+">.*?</section>', page, re.S):
        sections[re.search(r"<h3>(.*?)[ <(]", sec).group(1)] = sec
    budi = sections.get("Budi")
    if not c.check(budi and '<figure class="ladder">' in budi, "Budi's section has a ladder"):
        return
    svg = ET.fromstring(re.search(r"<svg.*</svg>", budi, re.S).group(0))
    ns = "{http://www.w3.org/2000/svg}"
    c.eq(svg.get("width"), "560", "the ladder is drawn small")
    c.eq([r.get("data-phase") for r in svg.iter(ns + "rect") if r.get("data-phase")],
         ["auth", "transaction", "update"], "Budi's ladder: the POP3 phases in order")
    labels = ["".join(t.itertext()) for t in svg.iter(ns + "text") if t.get("font-family") == "monospace"]
    c.check(any(l.startswith("USER alice") for l in labels) and any(l.startswith("PASS ********") for l in labels),
            "Budi's ladder: USER line, password masked")
    c.check(any(l.startswith("DELE 1") for l in labels), "Budi's ladder: DELE line")
    c.check("pop3_mode=retrieve-and-delete" in budi, "Budi's ladder names the POP3 mode")
    c.check('<figure class="ladder">' not in sections.get("Made", ""), "no ladder without mail")


def passwords():
    """Every password and token of the bundled captures' scenarios, and their base64."""
    out = set()
    for path in glob.glob(os.path.join(CAPS, "*.expected.json")):
        for cred in json.load(open(path)).get("credentials", []):
            for k in ("password", "password_known", "token"):
                if cred.get(k):
                    out.add(cred[k])
    return out | {base64.b64encode(p.encode()).decode() for p in out}


def check_no_passwords(outs):
    secrets = passwords()
    c.check("alicepw" in secrets, "the password list is read")
    for out in outs:
        for name in os.listdir(out):
            text = open(os.path.join(out, name), encoding="utf-8").read()
            for p in secrets:
                c.check(p not in text, "password %r appears in %s" % (p, os.path.join(os.path.basename(out), name)))


def check_browser(out, students):
    page = os.path.join(out, "report.html")
    p = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
    dom = p.stdout
    c.check('<table id="grades"' in dom, "chromium shows the grades table")
    c.check("<img" not in dom, "the hostile name made no <img> element")
    c.check("&lt;img src=x onerror=alert(1)&gt;" in dom, "the hostile name is text in the DOM")
    c.check("<svg" in dom and "<rect" in dom, "inline SVG charts")
    import html
    for s in students:
        c.check(html.escape(s, quote=False) in dom, "%s in the rendered table" % s)


def make_zip(root):
    """A Moodle zip: a per-student folder, a flat Moodle file name, a ../ entry."""
    z = os.path.join(root, "moodle.zip")
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(cap("pop3-apop.pcapng"), "Oki Pratama_2001_assignsubmission_file_/pop3.pcapng")
        zf.write(cap("pop3-quit-in-auth.pcapng"), "Putri_2002_assignsubmission_file_capture.pcapng")
        zf.write(cap("imap-login-atoms.pcapng"), "../../evil.pcapng")
    roster = os.path.join(root, "roster.csv")
    put(roster, "Full name,ID number\nOki Pratama,2001001\nPutri,2002002\nRudi,2003003\n")
    return z, roster


def check_zip(out):
    rows, subs, doc, _ = read_reports(out)
    c.eq(subs.get("Oki Pratama", {}).get("score"), 7, "Oki (APOP) score")   # 1+2+0+2+1+1
    c.eq(subs.get("Oki Pratama", {}).get("student_id"), "2001001", "Oki's id from the roster")
    c.eq(subs.get("Putri", {}).get("score"), 2, "Putri (USER then QUIT) score")  # session + auth packets
    c.eq(subs.get("evil", {}).get("score"), 0, "the ../ entry graded as 'evil' (IMAP only)")
    c.eq(subs.get("Rudi", {}).get("status"), "missing", "Rudi in the roster, no submission")
    c.check(not os.path.exists(os.path.join(os.path.dirname(out), "evil.pcapng")), "no file written outside")


TLS_RUBRIC = """[rubric]
id = "tls"
title = { en = "Secure sending", id = "Pengiriman aman" }

[[item]]
id = "tls"
title = { en = "The session used STARTTLS", id = "Sesi memakai STARTTLS" }
points = 1
check = "tls"
protocol = "smtp"
mode = "starttls"
"""


def check_refused_tls(root):
    """A student whose client asked for STARTTLS and whose server refused it
    (RFC 3207 §4, 454) misses the tls item, and the reason names the refusal
    (the lab server's setup), in both languages."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "hostile"))
    from hostile_pcap import dialogue_capture
    path = os.path.join(root, "refused", "Rina.pcap")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dialogue_capture(path, 587, [
        ("s", b"220 mx.example ESMTP\r\n"), ("c", b"EHLO lab.example\r\n"),
        ("s", b"250-mx.example\r\n250 STARTTLS\r\n"), ("c", b"STARTTLS\r\n"),
        ("s", b"454 4.7.0 TLS not available due to temporary reason\r\n"), ("c", b"QUIT\r\n"),
        ("s", b"221 bye\r\n")])
    os.chmod(path, 0o644)
    os.chmod(os.path.dirname(path), 0o755)
    rubric = os.path.join(root, "refused", "tls.toml")
    put(rubric, TLS_RUBRIC)
    for lang, words in (("en", "the server refused it (SMTP stream 0)"), ("id", "server menolaknya (SMTP stream 0)")):
        p = grade(["--check", path, "--rubric", rubric, "--lang", lang], expect_rc=0)
        c.check(("[missing]" in p.stdout or "[belum]" in p.stdout) and words in p.stdout,
                "a refused STARTTLS is named in the missing item's reason (%s): %r" % (lang, p.stdout[-400:]))


def main():
    root = tempfile.mkdtemp(prefix="mailedu-grader-test-")
    os.chmod(root, 0o755)
    try:
        klass, want = make_class(root)
        out = os.path.join(root, "out")
        p = grade([klass, "--out", out, "--jobs", "2", "--max-size", "0.5"], expect_rc=1)
        c.check("graded" in p.stderr, "a progress line on stderr")
        check_class(out, want)
        check_ladders(out)
        check_browser(out, [s for s in want if s != HOSTILE] + [HOSTILE])
        z, roster = make_zip(root)
        zout = os.path.join(root, "zout")
        grade([z, "--out", zout, "--roster", roster, "--lang", "id"], expect_rc=0)
        check_zip(zout)
        one = os.path.join(klass, "Budi Santoso_101_assignsubmission_file_", "capture.pcapng")
        p = grade(["--check", one], expect_rc=0)
        c.check("[missing]" in p.stdout and "Score: 11 of 12" in p.stdout, "--check prints done/missing and the score")
        c.check("alicepw" not in p.stdout, "--check masks the password")
        tout = os.path.join(root, "tout")
        grade([os.path.dirname(one), "--out", tout, "--timeout", "0.05"], expect_rc=1)
        c.eq(read_reports(tout)[1].get("capture", {}).get("status"), "timeout", "a tshark timeout is reported")
        # tshark killed by a signal (a stand-in that crashes on everything but the preflight)
        crash = os.path.join(root, "crashing-tshark")
        put(crash, '#!/bin/sh\ncase "$*" in *preflight.pcap*) exec tshark "$@";; esac\nkill -SEGV $$\n')
        os.chmod(crash, 0o755)
        cout = os.path.join(root, "cout")
        grade([os.path.dirname(one), "--out", cout, "--tshark", crash], expect_rc=1)
        crashed = read_reports(cout)[1].get("capture", {})
        c.check(crashed.get("status") == "tshark_failed" and "crashed" in crashed.get("reason", ""),
                "a tshark crash is reported: %r" % crashed.get("reason"))
        check_no_passwords([out, zout, tout, cout])
        check_refused_tls(root)
        sout = os.path.join(root, "sout")
        grade([os.path.dirname(one), "--out", sout, "--show-passwords"], expect_rc=0)
        c.check("alicepw" in open(os.path.join(sout, "grades.json")).read(), "--show-passwords shows them")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
