"""Grades one submission: reads each file once (size, kind, gzip, truncation,
TCP segments for copy detection), runs tshark once on it, and scores the
rubric on all of the student's sessions.  Never raises on a bad file: every
problem becomes a status and a reason."""
import gzip
import hashlib
import io
import os
import stat
import tomllib
import zlib

from . import capture, checks, tshark
from .texts import tr

USABLE = ("graded", "truncated", "no_mail", "encrypted")


class Context:
    """Settings shared by the workers: rubric, Runner, language, size limit
    (bytes), stage folder (world-readable when tshark runs as another user)."""

    def __init__(self, rubric, runner, lang, max_bytes, stage):
        self.rubric, self.runner, self.lang = rubric, runner, lang
        self.max_bytes, self.stage = max_bytes, stage
        self.filters = ["frame"] + rubric.filters  # column 0 counts every frame


def _read(f, ctx):
    """(bytes, None) of a file, gunzipped, or (None, (status, reason)).
    Sets f.gunzipped when the file was gzip-compressed."""
    L = ctx.lang
    try:
        st = os.stat(f.path)
        if not stat.S_ISREG(st.st_mode):
            return None, ("unreadable", "not a regular file")
        if st.st_size == 0:
            return None, ("empty", tr(L, "r_empty"))
        if st.st_size > ctx.max_bytes:
            return None, ("too_large", tr(L, "r_too_large", size=st.st_size, limit=ctx.max_bytes))
        with open(f.path, "rb") as fh:
            data = fh.read(ctx.max_bytes + 1)
    except OSError as e:
        return None, ("unreadable", e.strerror or str(e))
    if capture.sniff(data[:4]) == "gzip":
        f.gunzipped = True
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as g:
                data = g.read(ctx.max_bytes + 1)
        except (OSError, EOFError, zlib.error) as e:
            return None, ("unreadable", "broken gzip file: %s" % e)
        if not data:
            return None, ("empty", tr(L, "r_empty"))
        if len(data) > ctx.max_bytes:
            return None, ("too_large", tr(L, "r_too_large", size="> %d" % ctx.max_bytes, limit=ctx.max_bytes))
    return data, None


def _stage_copy(ctx, data, name, ext):
    """Writes data into the stage folder, readable by tshark's user; returns the path."""
    path = os.path.join(ctx.stage, "%s%s" % (name, ext))
    with open(path, "wb") as out:
        out.write(data)
    os.chmod(path, 0o644)
    return path


def _classify(res, kind, scan, sessions, L):
    """Status and reason of a file whose report was read.  A file cut short
    is told as such first: the mail may be in the part that is missing."""
    if not sessions:
        if kind not in ("pcap", "pcapng"):
            return "not_a_capture", tr(L, "r_not_capture", what="")
        if scan is not None and scan.truncated:
            return "truncated", tr(L, "r_truncated_no_mail", n=scan.packets)
        return "no_mail", tr(L, "r_no_mail")
    if scan is not None and scan.truncated:
        return "truncated", tr(L, "r_truncated", n=scan.packets)
    hidden = all((s.get("tls") or {}).get("mode", "none") != "none" and not (s.get("tls") or {}).get("decrypted")
                 and not s.get("logins") for s in sessions)
    if hidden:
        return "encrypted", tr(L, "r_encrypted")
    return "graded", ""


def run_file(f, ctx, index):
    """Reads and reports one FileRef.  Returns a dict {name, status, reason,
    sha256, packets, segments, sessions, filter_counts, kind}."""
    res = {"name": f.name, "status": f.status, "reason": f.reason, "sha256": None, "packets": None,
           "segments": set(), "sessions": [], "filter_counts": {}, "kind": None}
    if f.status:
        return res
    data, bad = _read(f, ctx)
    if bad:
        res["status"], res["reason"] = bad
        return res
    res["sha256"] = hashlib.sha256(data).hexdigest()
    kind = res["kind"] = capture.sniff(data[:4])
    scan = capture.scan(data) if kind in ("pcap", "pcapng") else None
    if scan:
        res["packets"], res["segments"] = scan.packets, scan.segments
    if kind == "zip":
        res["status"], res["reason"] = "not_a_capture", tr(ctx.lang, "r_not_capture", what=" (a zip inside the submission)")
        return res
    path, keylog = f.path, f.keylog
    if ctx.runner.staged or getattr(f, "gunzipped", False):
        path = _stage_copy(ctx, data, "f%05d" % index, {"pcap": ".pcap", "pcapng": ".pcapng"}.get(kind, ".cap"))
        if keylog and ctx.runner.staged:
            try:
                keylog = _stage_copy(ctx, open(keylog, "rb").read(), "f%05d" % index, ".keys")
            except OSError:
                keylog = None
    _run_tshark(res, path, keylog, kind, scan, ctx)
    for s in res["sessions"]:
        s["_file"] = f.name
    return res


def _run_tshark(res, path, keylog, kind, scan, ctx):
    """Runs tshark on one staged file and fills res from its report."""
    code, out, err = ctx.runner.run(tshark.report_args(path, ctx.lang, ctx.runner.show_passwords,
                                                       ctx.filters, keylog))
    if code is None:
        res["status"], res["reason"] = "timeout", tr(ctx.lang, "r_timeout", s=ctx.runner.timeout)
        return
    try:
        doc = tshark.parse_sessions(out)
    except ValueError as e:
        if code != 0 and kind not in ("pcap", "pcapng"):
            res["status"], res["reason"] = "not_a_capture", tr(ctx.lang, "r_not_capture", what=": " + tshark.tshark_error(code, err))
        else:
            res["status"] = "tshark_failed"
            res["reason"] = tshark.tshark_error(code, err) if code != 0 else str(e)
        res["reason"] = res["reason"].replace(path, res["name"])  # not the work folder's name
        return
    counts = tshark.parse_io_stat(out, len(ctx.filters))
    res["filter_counts"] = dict(zip(ctx.filters, counts))
    res["sessions"] = [s for s in doc["sessions"] if isinstance(s, dict)]
    ladders = tshark.parse_ladders(out)
    for s in res["sessions"]:
        s["_ladder"] = ladders.get(s.get("stream"))
    res["status"], res["reason"] = _classify(res, kind, scan, res["sessions"], ctx.lang)


def load_answers(path, L="en"):
    """(answers dict, None) or (None, error text in language L) of an
    answers.toml; (None, None) without one."""
    if not path:
        return None, None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f), None
    except OSError as e:
        return None, e.strerror or str(e)
    except UnicodeDecodeError as e:  # tomllib lets it through; it is a bad answers file, not a grader error
        return None, "not UTF-8 text (byte 0x%02x at offset %d); save it as UTF-8" % (e.object[e.start], e.start)
    except tomllib.TOMLDecodeError as e:  # most often text without quotes: say how it is written
        return None, str(e) + tr(L, "ans_toml_hint")


def _status(sub, files, L):
    """Overall status and reason of a submission from its files."""
    if not files:
        return "no_file", tr(L, "r_no_file")
    usable = [f for f in files if f["status"] in USABLE]
    many = len(files) > 1
    reasons = [tr(L, "r_some_bad", name=f["name"], reason=f["reason"]) if many else f["reason"]
               for f in files if f["reason"]]
    if not usable:
        return files[0]["status"], "; ".join(reasons)
    order = ["graded", "truncated", "encrypted", "no_mail"]
    best = min((f["status"] for f in usable), key=order.index)
    status = "truncated" if any(f["status"] == "truncated" for f in usable) and best == "graded" else best
    return status, "; ".join(reasons)


def grade_submission(sub, ctx, index):
    """Grades one Submission.  Returns a result dict (see grades.json in
    docs: student, student_id, files, status, reason, score, max, items,
    note) with private keys '_segments' and '_sha' for copy detection."""
    files = [run_file(f, ctx, index * 100 + i) for i, f in enumerate(sub.files)]
    status, reason = _status(sub, files, ctx.lang)
    result = {"student": sub.student, "student_id": sub.student_id, "status": status, "reason": reason,
              "note": sub.note, "score": None, "max": ctx.rubric.max_points, "items": [],
              "files": [{k: f[k] for k in ("name", "status", "reason", "sha256", "packets")} for f in files],
              "sessions": [], "copies": []}
    result["_files"] = files
    if status in USABLE:
        view = checks.View(ctx.lang)
        for f in files:
            view.sessions += f["sessions"]
            for k, v in f["filter_counts"].items():
                view.filter_counts[k] = view.filter_counts.get(k, 0) + v
        view.answers, view.answers_error = load_answers(sub.answers, ctx.lang)
        view.show_secrets = ctx.runner.show_passwords
        result["items"], result["score"] = checks.grade(ctx.rubric, view)
        if status == "encrypted":  # nothing failed: it could not be seen
            for it in result["items"]:
                if not it["passed"]:
                    it["missing"] = tr(ctx.lang, "enc_missing")
        result["sessions"] = [_session_summary(s) for s in view.sessions]
        result["_main"] = main_session(view.sessions, ctx.rubric)
    return result


def main_session(sessions, rubric):
    """The student's main session, whose ladder the HTML report draws: of the
    sessions in the protocols the rubric's items name (all when they name
    none), the one with the most dialogue lines; None without a ladder."""
    wanted = {i.params.get("protocol") for i in rubric.items} - {None, "any"}
    pool = [s for s in sessions if s.get("_ladder") is not None and (not wanted or s.get("protocol") in wanted)]
    pool = pool or [s for s in sessions if s.get("_ladder") is not None]
    return max(pool, key=lambda s: len(s.get("lines") or []), default=None)


def _session_summary(s):
    """The facts of a session kept in grades.json (the dialogue lines are not copied)."""
    keep = ("stream", "protocol", "client", "server", "first_frame", "last_frame", "tls", "phases",
            "user", "logins", "cleartext", "warnings", "mail_from", "rcpt_to", "rcpt_accepted", "mailboxes",
            "facts")
    out = {k: s[k] for k in keep if k in s}
    out["file"] = s.get("_file")
    return out
