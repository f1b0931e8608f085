#!/usr/bin/env python3
"""The grader against bad input that once broke it (a tester's report): file
names that are not UTF-8, an --out it cannot write, rubric numbers that are
not finite, files that are not UTF-8, unknown names in a rubric, lenient
answer comparison, control bytes, symbolic links out of the class folder.
Each check failed on the grader before its fix.  Runs the real tshark with
the build's plugin (as nobody when root); MAILEDU_GRADER_SCRIPTS may name
another scripts/ folder (to run these checks on an older grader)."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from mailedu_test import PUBLIC, Checker  # noqa: E402

SCRIPTS = os.path.abspath(os.environ.get("MAILEDU_GRADER_SCRIPTS", os.path.join(ROOT, "scripts")))
sys.path.insert(0, SCRIPTS)
from grader import checks, rubric as rubric_mod  # noqa: E402
from test_grader import cap, put  # noqa: E402  (this folder; its checks run only as a script)

sys.path.insert(0, os.path.join(ROOT, "tests", "hostile"))
from hostile_pcap import dialogue_capture  # noqa: E402

BUILD = os.path.abspath(os.environ.get("MAILEDU_BUILD", os.path.join(ROOT, "build")))
GRADE = os.path.join(SCRIPTS, "mailedu-grade")
RUBRIC = os.path.join(ROOT, "rubrics", "pop3-auth.toml")
c = Checker("grader-inputs")


def grade(args, rubric=RUBRIC, as_user=None):
    """Runs the grader; returns (exit status, stdout, stderr).  Paths may be
    bytes (names that are not UTF-8)."""
    cmd = [sys.executable, GRADE, "--plugin-dir", os.path.join(BUILD, "plugins"), "--rubric", rubric, "--quiet"] + args
    if as_user:
        cmd = ["setpriv", "--reuid=" + as_user, "--regid=nogroup", "--clear-groups"] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def reports(out):
    """(csv rows, grades.json, report.html text), each read strictly as UTF-8 (None when missing)."""
    try:
        with open(os.path.join(out, "grades.csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        with open(os.path.join(out, "grades.json"), encoding="utf-8") as f:
            doc = json.load(f)
        with open(os.path.join(out, "report.html"), encoding="utf-8") as f:
            page = f.read()
    except (OSError, ValueError):
        return None, None, None
    return rows, doc, page


def one_clear_line(err, what):
    """A usage error: one line naming what is wrong, no traceback."""
    lines = [l for l in err.splitlines() if l.strip()]
    c.check(len(lines) == 1 and "Traceback" not in err and lines[0].startswith("mailedu-grade: "),
            "%s: one clear line (got %r)" % (what, err[-400:]))


def test_names(root):
    """F1: names that are not UTF-8 (from os.listdir and from a zip's
    UTF-8-flagged entries) are written as \\xNN; every report is written and
    every student kept."""
    d = os.path.join(root, "names").encode()
    for raw in (b"Budi.pcapng", b"caf\xe9.pcapng", b"caf\xe8.pcapng", b"D\xffwi/x\xfe.pcapng"):
        path = os.path.join(d, raw)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(cap("pop3-userpass-ok.pcapng"), path)
        os.chmod(path, 0o644)
        os.chmod(os.path.dirname(path), 0o755)
    out = os.path.join(root, "names-out")
    code, _, err = grade([d, "--out", out])
    c.eq(code, 0, "class with names that are not UTF-8: exit status (stderr %r)" % err[-300:])
    rows, doc, page = reports(out)
    if c.check(rows is not None, "all three reports written, in UTF-8"):
        c.eq(sorted(r["student"] for r in rows), ["Budi", "D\\xffwi", "caf\\xe8", "caf\\xe9"],
             "every student kept, the odd bytes as \\xNN")
        c.check(all(r["score"] == "8" for r in rows), "every student graded (8 of 12)")
        c.check("caf\\xe9.pcapng" in page, "report.html names the file")
    code, outp, err = grade(["--check", os.path.join(d, b"caf\xe9.pcapng")])
    c.eq(code, 0, "--check on a name that is not UTF-8 (stderr %r)" % err[-300:])
    c.check("caf\\xe9.pcapng" in outp and "Score: 8 of 12" in outp, "--check prints the name and the score")
    # a zip whose entry names are flagged UTF-8 but are not: zipfile refuses the whole archive
    z = os.path.join(root, "names.zip")
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(cap("pop3-userpass-ok.pcapng"), "Ani_1_assignsubmission_file_/a.pcapng")
        zf.write(cap("pop3-userpass-ok.pcapng"), "café_2_assignsubmission_file_/b.pcapng")
        zf.write(cap("pop3-userpass-ok.pcapng"), "Ñandú.pcapng")
    with open(z, "rb") as f:
        data = f.read().replace("café".encode(), b"caf\xe9\xe9")  # same length, not UTF-8
    with open(z, "wb") as f:
        f.write(data)
    os.chmod(z, 0o644)
    zout = os.path.join(root, "names-zout")
    code, _, err = grade([z, "--out", zout])
    c.eq(code, 0, "zip with a name that is not UTF-8: exit status (stderr %r)" % err[-300:])
    rows, _, _ = reports(zout)
    if c.check(rows is not None, "zip: all three reports written"):
        c.eq(sorted((r["student"], r["score"]) for r in rows),
             [("Ani", "8"), ("caf\\xe9\\xe9", "8"), ("Ñandú", "8")], "zip: every student graded")


def test_out(root):
    """F2: --out that cannot be written is found before any capture is read:
    exit status 2, one line naming the folder and the reason."""
    klass = os.path.join(root, "out-class")
    for n in range(3):
        put(os.path.join(klass, "s%d.pcapng" % n), src=cap("pop3-userpass-ok.pcapng"))
    os.chmod(klass, 0o755)
    # a tshark that notes every capture it is asked to read (not the preflight)
    log = os.path.join(root, "out-tshark.log")
    put(log, b"")
    os.chmod(log, 0o666)
    spy = os.path.join(root, "spy-tshark")
    put(spy, '#!/bin/sh\ncase "$*" in *preflight.pcap*) ;; *) echo run >> %s;; esac\nexec tshark "$@"\n' % log)
    os.chmod(spy, 0o755)
    afile = os.path.join(root, "afile")
    put(afile, b"x")
    readonly = os.path.join(root, "readonly")
    os.makedirs(readonly)
    os.chmod(readonly, 0o555)
    user = "nobody" if os.geteuid() == 0 else None  # root writes anywhere: run as nobody
    cases = [("an existing file", afile, None), ("a folder under a file", os.path.join(afile, "sub"), None),
             ("a read-only folder", readonly, user), ("a folder in a read-only one", os.path.join(readonly, "x"), user)]
    for what, out, as_user in cases:
        code, _, err = grade([klass, "--out", out, "--tshark", spy], as_user=as_user)
        c.eq(code, 2, "--out %s: exit status" % what)
        one_clear_line(err, "--out " + what)
        c.check(out in err, "--out %s: the message names the folder" % what)
    with open(log) as f:
        c.eq(f.read(), "", "no capture read before --out was refused")


ITEM = """
[[item]]
id = "x"
title = { en = "x", id = "x" }
points = %s
check = "%s"
%s
"""


def rubric_text(points="1", check="session", params=""):
    with open(RUBRIC, encoding="utf-8") as f:
        return f.read() + ITEM % (points, check, params)


def load_error(root, name, text):
    """The RubricError message of a rubric file, None when it loads; any
    other exception is reported as such (a traceback for the user)."""
    path = os.path.join(root, name)
    put(path, text if isinstance(text, bytes) else text.encode("utf-8"))
    try:
        rubric_mod.load(path)
    except rubric_mod.RubricError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - what the user would see as a traceback
        return "UNCAUGHT %s: %s" % (type(e).__name__, e)
    return None


def refused(root, name, text, what, words=()):
    msg = load_error(root, name, text)
    c.check(msg is not None and not msg.startswith("UNCAUGHT") and name in msg
            and all(w in msg for w in words), "rubric %s: refused naming the file %s (got %r)" % (what, words, msg))


def test_rubric(root):
    """F3: numbers that are not finite; F5: a rubric that is not UTF-8;
    F6: unknown warning names and parameters of the wrong type; all refused
    up front with the file and the item."""
    one = os.path.join(root, "rubric-capture.pcapng")
    put(one, src=cap("pop3-userpass-ok.pcapng"))
    for bad in ("nan", "inf", "-inf", "+nan"):
        refused(root, "r-%s.toml" % bad.strip("+-"), rubric_text(points=bad), "points = " + bad, ("'x'", "finite"))
    refused(root, "r-big.toml", rubric_text(points="1e308") + ITEM.replace('"x"', '"y"') % ("1e308", "session", ""),
            "points adding up to inf")
    # a title is copied into grades.json, where nan is not JSON
    refused(root, "r-deep.toml", rubric_text().replace('title = { en = "x", id = "x" }',
                                                       'title = { en = "x", id = "x", w = [nan] }'),
            "nan inside a title", ("'x'", "title.w[0]"))
    code, _, err = grade(["--check", one], rubric=os.path.join(root, "r-nan.toml"))
    c.eq(code, 2, "--check with points = nan: exit status")
    one_clear_line(err, "--check with points = nan")
    for opt, value in (("--timeout", "nan"), ("--timeout", "inf"), ("--max-size", "nan"), ("--max-size", "inf")):
        code, _, err = grade(["--check", one, opt, value])
        c.eq(code, 2, "%s %s: exit status" % (opt, value))
        c.check(opt in err and "Traceback" not in err, "%s %s: refused with a message" % (opt, value))
    # a rubric saved in another encoding than UTF-8
    refused(root, "r-utf16.toml", b"\xff\xfe" + rubric_text().encode("utf-16-le"), "in UTF-16", ("UTF-8",))
    refused(root, "r-latin1.toml", rubric_text(params='domain = "caf\u00e9.id"', check="sent_to").encode("latin-1"),
            "in Latin-1", ("UTF-8",))
    code, _, err = grade(["--check", one], rubric=os.path.join(root, "r-utf16.toml"))
    c.eq(code, 2, "--check with a UTF-16 rubric: exit status")
    one_clear_line(err, "--check with a UTF-16 rubric")
    c.check("r-utf16.toml" in err, "the message names the rubric file")
    # names and types of check parameters
    refused(root, "r-warn.toml", rubric_text(check="warning", params='name = "nosuchwarning"'),
            "unknown warning name", ("'x'", "nosuchwarning", "cleartext"))
    c.eq(load_error(root, "r-warn-ok.toml", rubric_text(check="warning", params='name = "login_failed"')), None,
         "a known warning name is accepted")
    refused(root, "r-domain.toml", rubric_text(check="sent_to", params="domain = 5"), "domain = 5", ("'x'", "domain"))
    refused(root, "r-expect.toml", rubric_text(check="cleartext", params='expect = "no"'), 'expect = "no"', ("expect",))
    refused(root, "r-key.toml", rubric_text(check="answer", params='key = ["a"]\nfact = "username"'), "key = [...]", ("key",))
    for name in ("pop3-auth", "smtp-send", "imap-read", "all-three"):
        c.eq(load_error(root, name + ".toml", open(os.path.join(ROOT, "rubrics", name + ".toml"), "rb").read()), None,
             "bundled rubric %s still loads" % name)


def test_answers(root):
    """F4: an answers.toml that is not UTF-8 fails only the answer items,
    like malformed TOML, and the capture is graded."""
    for name, data in (("utf16", b"\xff\xfe" + 'username = "alice"\n'.encode("utf-16-le")),
                       ("broken", b'username = "alice\n')):
        d = os.path.join(root, "answers-" + name)
        put(os.path.join(d, "capture.pcapng"), src=cap("pop3-userpass-ok.pcapng"))
        put(os.path.join(d, "answers.toml"), data)
        os.chmod(d, 0o755)
        code, outp, err = grade(["--check", os.path.join(d, "capture.pcapng")])
        c.eq(code, 0, "answers.toml %s: the capture is graded (stderr %r)" % (name, err[-200:]))
        c.check("Score: 8 of 12" in outp and outp.count("answers.toml cannot be read") == 4,
                "answers.toml %s: only the four answers fail, each saying why (got %r)" % (name, outp[-600:]))


def verdicts(outp):
    """{item title: True (done) / False (missing)} from --check's output."""
    out = {}
    for line in outp.splitlines():
        for mark, ok in (("[done] ", True), ("[missing] ", False)):
            if line.startswith(mark):
                out[line[len(mark):].rsplit(" (", 1)[0]] = ok
    return out


def test_answer_rules(root):
    """F7: a frame number with a fraction does not match the frame, and
    "the user name that logged in" is not the name of a failed attempt.
    pop3-userpass-fail-retry: alice fails (-ERR at 11), bob logs in (+OK
    Logged in. at 17), transaction at 18.  Frame 17 is right too: RFC 1939 §4
    puts the session in TRANSACTION once the server says +OK, while the failed
    attempt's -ERR (11) and a frame between (16) are not."""
    user, frame = "Answer: the user name that logged in", "Answer: the frame where the transaction phase starts"
    cases = (('username = "alice"\ntransaction_frame = 18.9\n', False, False),
             ('username = "bob"\ntransaction_frame = 18.0\n', True, True),
             ('username = "bob"\ntransaction_frame = 17\n', True, True),
             ('username = "bob"\ntransaction_frame = 11\n', True, False),
             ('username = "bob"\ntransaction_frame = 16\n', True, False))
    for n, (answers, want_user, want) in enumerate(cases):
        d = os.path.join(root, "rules%d" % n)
        put(os.path.join(d, "capture.pcapng"), src=cap("pop3-userpass-fail-retry.pcapng"))
        put(os.path.join(d, "answers.toml"), answers)
        os.chmod(d, 0o755)
        v = verdicts(grade(["--check", os.path.join(d, "capture.pcapng")])[1])
        c.eq(v.get(user), want_user, "answers %r: the user name" % answers)
        c.eq(v.get(frame), want, "answers %r: the frame" % answers)
    # IMAP (imap-login-atoms): SELECT at 12, its tagged OK [READ-WRITE] at 14,
    # FETCH (the first line in Selected) at 15.  RFC 9051 §6.3.2: a successful
    # SELECT enters Selected, so 14 is right as 15 is; the SELECT (12) and
    # the untagged lines before the OK (13) are not, nor the LOGIN's OK (11).
    sel = "Answer: the frame where the Selected state starts"
    for n, (frame_given, want) in enumerate(((15, True), (14, True), (12, False), (13, False), (11, False))):
        d = os.path.join(root, "rules-imap%d" % n)
        put(os.path.join(d, "capture.pcapng"), src=cap("imap-login-atoms.pcapng"))
        put(os.path.join(d, "answers.toml"), "selected_frame = %d\n" % frame_given)
        os.chmod(d, 0o755)
        v = verdicts(grade(["--check", os.path.join(d, "capture.pcapng")], rubric="imap-read")[1])
        c.eq(v.get(sel), want, "imap-login-atoms selected_frame = %d" % frame_given)
    public = os.path.join(PUBLIC, "pop3-userpass-fail-then-ok.pcap")
    if os.path.exists(public):  # the tester's case: test@tt.com failed, test logged in (another session)
        d = os.path.join(root, "rules-public")
        put(os.path.join(d, "x.pcap"), src=public)
        put(os.path.join(d, "answers.toml"), 'username = "test@tt.com"\n')
        os.chmod(d, 0o755)
        c.eq(verdicts(grade(["--check", os.path.join(d, "x.pcap")])[1]).get(user), False,
             "the failed attempt's user test@tt.com is not the user who logged in")
    # the rule itself, on a made-up view: only a successful attempt (or the session's user) counts
    view = checks.View()
    view.sessions = [{"protocol": "pop3", "user": None, "logins": [{"username": "eve", "result": "failure"}]},
                     {"protocol": "pop3", "user": None, "logins": [{"username": "dan", "result": None}]},
                     {"protocol": "pop3", "user": "bob", "logins": [{"username": "bob", "result": "success"}],
                      "phases": [{"phase": "auth", "frame": 4}]}]
    p = {"fact": "username", "key": "username", "protocol": "pop3", "phase": None}
    for given, want in (("eve", 0.0), ("dan", 0.0), ("bob", 1.0), ("BOB", 1.0)):
        view.answers = {"username": given}
        c.eq(checks.check_answer(view, p)[0], want, "username = %r" % given)
    p = {"fact": "phase_frame", "key": "f", "protocol": "pop3", "phase": "auth"}
    for given, want in ((4, 1.0), (4.0, 1.0), ("frame 4", 1.0), (4.5, 0.0), (4.000001, 0.0), ("4.5", 0.0), (float("inf"), 0.0)):
        view.answers = {"f": given}
        try:
            got = checks.check_answer(view, p)[0]
        except Exception as e:  # noqa: BLE001 - int(inf) raised: the student's grading crashed
            got = "%s: %s" % (type(e).__name__, e)
        c.eq(got, want, "auth frame answer %r" % (given,))


def hostile_capture(path):
    """A POP3 login (USER/PASS/QUIT, accepted) whose user name and password
    hold ESC, BEL and BS bytes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dialogue_capture(path, 110, [(who, line + b"\r\n") for who, line in (
        ("s", b"+OK POP3 ready"), ("c", b"USER ev\x1b[2Jil\x07\x08x"), ("s", b"+OK"),
        ("c", b"PASS pw\x1bq"), ("s", b"+OK logged in"), ("c", b"QUIT"), ("s", b"+OK bye"))])


CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def test_controls(root):
    """Control bytes of a hostile user name are shown as \\xNN in report.html
    (they are not HTML characters) and on --check's terminal."""
    d = os.path.join(root, "controls")
    hostile_capture(os.path.join(d, "Eve.pcap"))
    os.chmod(d, 0o755)
    out = os.path.join(root, "controls-out")
    grade([d, "--out", out, "--show-passwords"])
    page = reports(out)[2] or ""
    c.check("USER ev\\x1b[2Jil\\x07\\x08x" in page, "report.html shows the user name's control bytes as \\xNN")
    c.eq(CONTROLS.findall(page), [], "no control character in report.html")
    code, outp, _ = grade(["--check", os.path.join(d, "Eve.pcap"), "--show-passwords"])
    c.check("ev\\x1b[2Jil" in outp, "--check shows the user name's control bytes as \\xNN")
    c.eq(CONTROLS.findall(outp.replace("\r", "\x01")), [], "no control character on --check's terminal")


def test_symlinks(root):
    """A symbolic link in the class folder that leads out of it is not read
    (the grader may run as root and stage what it reads for tshark); one
    that stays inside is."""
    secret = os.path.join(root, "secret.pcapng")
    put(secret, src=cap("pop3-userpass-ok.pcapng"))
    os.chmod(secret, 0o600)
    d = os.path.join(root, "links")
    put(os.path.join(d, "Good.pcapng"), src=cap("pop3-userpass-ok.pcapng"))
    os.symlink(secret, os.path.join(d, "Out.pcapng"))
    os.symlink("Good.pcapng", os.path.join(d, "In.pcapng"))
    os.makedirs(os.path.join(d, "Deep"))
    os.symlink(os.path.join("..", "..", "secret.pcapng"), os.path.join(d, "Deep", "x.pcapng"))
    os.chmod(d, 0o755)
    os.chmod(os.path.join(d, "Deep"), 0o755)
    out = os.path.join(root, "links-out")
    grade([d, "--out", out])
    rows = {r["student"]: r for r in (reports(out)[0] or [])}
    for who in ("Out", "Deep"):
        r = rows.get(who, {})
        c.check(r.get("status") == "unreadable" and "outside the submissions folder" in r.get("reason", ""),
                "a link out of the class folder (%s) is not read: %r" % (who, r))
    c.eq(rows.get("In", {}).get("score"), "8", "a link inside the class folder is graded")


def test_shifted_copy(root):
    """A copy with every timestamp moved (editcap -t) is still a copy: what
    it shares with the original is the ports, sequence numbers and lengths,
    at one constant time difference.  Two different sessions of the same lab
    server are not copies."""
    d = os.path.join(root, "shifted")
    put(os.path.join(d, "Fajar.pcapng"), src=cap("pop3-pipelining.pcapng"))
    subprocess.run(["editcap", "-t", "3600.25", cap("pop3-pipelining.pcapng"), os.path.join(d, "Gita.pcapng")],
                   check=True)
    os.chmod(os.path.join(d, "Gita.pcapng"), 0o644)
    put(os.path.join(d, "Hadi.pcapng"), src=cap("pop3-auth-plain.pcapng"))
    os.chmod(d, 0o755)
    out = os.path.join(root, "shifted-out")
    grade([d, "--out", out])
    doc = reports(out)[1] or {}
    pairs = [(tuple(sorted((p["a"], p["b"]))), p["kind"], p["evidence"]) for p in doc.get("copies", [])]
    c.eq([p[:2] for p in pairs], [(("Fajar", "Gita"), "same_sessions")], "a time-shifted copy is found")
    c.check(bool(pairs) and ("moved by -3600.250000 s" in pairs[0][2] or "moved by +3600.250000 s" in pairs[0][2]),
            "the evidence says the timestamps were moved: %r" % (pairs[:1],))
    # In Bahasa Indonesia the whole evidence is, the example segment too.
    out_id = os.path.join(root, "shifted-out-id")
    grade([d, "--out", out_id, "--lang", "id"])
    ev = [p["evidence"] for p in (reports(out_id)[1] or {}).get("copies", [])]
    c.check(len(ev) == 1 and "digeser" in ev[0] and " bytes" not in ev[0] and " at " not in ev[0]
            and re.search(r"→ [0-9.]+:\d+ nomor urut \d+, \d+ byte pada \d{4}-", ev[0]) is not None,
            "the Indonesian evidence has no English words: %r" % ev)


def main():
    root = tempfile.mkdtemp(prefix="mailedu-grader-inputs-")
    os.chmod(root, 0o755)  # tshark runs as nobody when we are root
    try:
        test_names(root)
        test_out(root)
        test_rubric(root)
        test_answers(root)
        test_answer_rules(root)
        test_controls(root)
        test_symlinks(root)
        test_shifted_copy(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    c.done()


if __name__ == "__main__":
    main()
