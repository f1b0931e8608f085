"""Command line of mailedu-grade (see `mailedu-grade --help` and the README,
section "Grading a class")."""
import argparse
import concurrent.futures
import math
import os
import shutil
import struct
import sys
import tempfile
import time

from . import copies, html_report, inputs, process, reports, rubric as rubric_mod, tshark
from .texts import tr

HERE = os.path.dirname(os.path.abspath(__file__))
RUBRICS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "rubrics")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="mailedu-grade", description=
        "Grade a class's mail captures (POP3/SMTP/IMAP) against a rubric with mailedu's sessions report.")
    p.add_argument("submissions", nargs="?", help="folder of captures, folder of per-student folders, or a .zip")
    p.add_argument("--out", help="folder for grades.csv, grades.json and report.html")
    p.add_argument("--check", metavar="FILE", help="check one capture and print the verdict (for a student)")
    p.add_argument("--rubric", default="all-three", help="rubric file, or the name of a bundled rubric "
                   "(pop3-auth, smtp-send, imap-read, all-three; default all-three)")
    p.add_argument("--roster", metavar="CSV", help="CSV with a name column and an id column")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="captures read in parallel (default: cores)")
    p.add_argument("--lang", choices=("en", "id"), default="en", help="language of the reports (id: Bahasa Indonesia)")
    p.add_argument("--show-passwords", action="store_true", help="print passwords instead of ********")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds tshark may spend on one capture (default 120)")
    p.add_argument("--max-size", type=float, default=200.0, help="largest capture read, in MB (default 200)")
    p.add_argument("--plugin-dir", default=os.environ.get("MAILEDU_PLUGIN_DIR"),
                   help="folder holding <version>/epan/mailedu.so, e.g. build/plugins (env MAILEDU_PLUGIN_DIR)")
    p.add_argument("--tshark", default=os.environ.get("MAILEDU_TSHARK", "tshark"), help="tshark program (env MAILEDU_TSHARK)")
    p.add_argument("--tshark-user", default=None, help="when root: user tshark runs as (default nobody with --plugin-dir)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    a = p.parse_args(argv)
    if not a.check and not (a.submissions and a.out):
        p.error("give SUBMISSIONS and --out DIR, or --check FILE")
    # nan fails every comparison, so `<= 0` alone let --timeout nan through
    if a.jobs < 1 or not (0 < a.timeout < math.inf) or not (0 < a.max_size < math.inf):
        p.error("--jobs, --timeout and --max-size must be positive finite numbers")
    return a


def die(msg):
    """Prints an error that stops the whole run and exits with status 2."""
    sys.stderr.write("mailedu-grade: %s\n" % msg)
    sys.exit(2)


def find_rubric(name):
    """A rubric path from a path or a bundled rubric's name."""
    if os.path.exists(name) or os.sep in name or name.endswith(".toml"):
        return name
    return os.path.join(RUBRICS, name + ".toml")


def preflight(runner, rub, stage):
    """Runs tshark once on an empty capture: the plugin is loaded, the
    report's schema is known, the rubric's display filters are valid.
    Returns an error message or None."""
    empty = os.path.join(stage, "preflight.pcap")
    with open(empty, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    os.chmod(empty, 0o644)
    code, out, err = runner.run(tshark.report_args(empty, "en", False, ["frame"] + rub.filters), timeout=max(60, runner.timeout))
    if code is None:
        return "tshark did not answer within %g s" % max(60, runner.timeout)
    if code != 0:
        return "%s (check the rubric's display filters and --plugin-dir)" % tshark.tshark_error(code, err)
    try:
        tshark.parse_sessions(out)
    except ValueError as e:
        return "%s; tshark: %s, plugin folder: %s" % (e, runner.tshark, runner.plugin_dir or "the installed one")
    return None


class Progress:
    """A progress line on stderr: rewritten in place on a terminal, a line
    every 10 % (and at the end) otherwise."""

    def __init__(self, total, quiet):
        self.total, self.done, self.quiet, self.start = total, 0, quiet, time.monotonic()
        self.tty, self.step = sys.stderr.isatty(), max(1, total // 10)

    def tick(self, name):
        self.done += 1
        if self.quiet:
            return
        msg = "mailedu-grade: %d/%d graded (%.0f s) %s" % (self.done, self.total, time.monotonic() - self.start, name[:40])
        if self.tty:
            sys.stderr.write("\r\033[K" + msg + ("\n" if self.done == self.total else ""))
        elif self.done % self.step == 0 or self.done == self.total:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()


def grade_all(subs, ctx, jobs, quiet):
    """Grades the submissions in parallel; results in the submissions' order."""
    results = [None] * len(subs)
    prog = Progress(len(subs), quiet)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(process.grade_submission, s, ctx, i): i for i, s in enumerate(subs)}
        for fut in concurrent.futures.as_completed(futs):
            i = futs[fut]
            try:
                results[i] = fut.result()
            except Exception as e:  # a grader bug must not lose the other students
                results[i] = crashed(subs[i], ctx, e)
            prog.tick(subs[i].student)
    return results


def crashed(sub, ctx, e):
    """The result of a submission whose grading raised (a bug): kept, with the error."""
    return {"student": sub.student, "student_id": sub.student_id, "status": "tshark_failed",
            "reason": "internal error of the grader: %s: %s" % (type(e).__name__, e), "note": sub.note,
            "score": None, "max": ctx.rubric.max_points, "items": [], "sessions": [], "copies": [],
            "files": [{"name": f.name, "status": None, "reason": "", "sha256": None, "packets": None} for f in sub.files]}


def missing_rows(entries, ctx):
    """Results for roster students without a submission."""
    return [{"student": n, "student_id": i, "status": "missing", "reason": tr(ctx.lang, "r_missing"), "note": "",
             "score": None, "max": ctx.rubric.max_points, "items": [], "sessions": [], "copies": [], "files": []}
            for n, i in entries]


def setup(a):
    """(rubric, runner, stage folder, context) or raises SystemExit(2) with a message."""
    try:
        rub = rubric_mod.load(find_rubric(a.rubric))
    except rubric_mod.RubricError as e:
        die(e)
    if a.plugin_dir and not os.path.isdir(a.plugin_dir):
        die("--plugin-dir %s: no such folder" % a.plugin_dir)
    if shutil.which(a.tshark) is None:
        die("%s not found (install tshark, or give --tshark)" % a.tshark)
    runner = tshark.Runner(a.tshark, a.plugin_dir, a.tshark_user, a.lang, a.show_passwords, a.timeout)
    stage = tempfile.mkdtemp(prefix="mailedu-grade-")
    if runner.staged:
        os.chmod(stage, 0o755)
    err = preflight(runner, rub, stage)
    if err:
        shutil.rmtree(stage, ignore_errors=True)
        runner.cleanup()
        die(err)
    return rub, runner, stage, process.Context(rub, runner, a.lang, int(a.max_size * 1e6), stage)


REPORTS = ("grades.csv", "grades.json", "report.html")


def check_out(out):
    """Creates the output folder and makes sure the reports can be written
    there, before any capture is read (a class takes minutes; a bad --out
    used to be found only at the end).  Stops with status 2 and one line."""
    if os.path.exists(out) and not os.path.isdir(out):
        die("--out %s: exists and is not a folder" % out)
    try:
        os.makedirs(out, exist_ok=True)
        # a real write, not os.access: root passes access() on a read-only file system
        fd, probe = tempfile.mkstemp(prefix=".mailedu-grade-probe-", dir=out)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        die("--out %s: cannot write there: %s" % (out, e.strerror or e))
    for name in REPORTS:
        path = os.path.join(out, name)
        if os.path.isdir(path):
            die("--out %s: %s is a folder" % (out, name))
        if os.path.exists(path) and not os.access(path, os.W_OK):
            die("--out %s: %s cannot be overwritten (permission denied)" % (out, name))


def run_class(a, ctx):
    """Grades a class and writes the three reports; returns the exit status."""
    check_out(a.out)
    try:
        subs = inputs.collect(a.submissions, ctx.stage, ctx.max_bytes)
        roster = inputs.read_roster(a.roster) if a.roster else None
    except ValueError as e:
        die(e)
    absent = inputs.apply_roster(subs, roster) if roster is not None else []
    results = grade_all(subs, ctx, a.jobs, a.quiet) + missing_rows(absent, ctx)
    pairs = copies.find(results, a.lang)
    meta = {"generator": "mailedu-grade", "schema_version": 1, "language": a.lang,
            "passwords_masked": not a.show_passwords, "submissions_source": inputs.shown(os.path.basename(os.path.abspath(a.submissions)))}
    failed = []
    for name, write in zip(REPORTS, (lambda p: reports.write_csv(p, ctx.rubric, results, a.lang),
                                     lambda p: reports.write_json(p, ctx.rubric, results, pairs, meta),
                                     lambda p: html_report.write(p, ctx.rubric, results, pairs, a.lang))):
        try:  # checked before grading, but a disk can fill up: keep the other reports
            write(os.path.join(a.out, name))
        except OSError as e:
            failed.append("%s: %s" % (os.path.join(a.out, name), e.strerror or e))
    if failed:
        die("cannot write " + "; ".join(failed))
    ungraded = [r for r in results if r["score"] is None and r["status"] != "missing"]
    if not a.quiet:
        sys.stderr.write("mailedu-grade: %d submissions, %d not graded, %d copy pairs; reports in %s\n"
                         % (len(results) - len(absent), len(ungraded), len(pairs), a.out))
    return 1 if ungraded else 0


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    rub, runner, stage, ctx = setup(a)
    try:
        if a.check:
            from .check import run_check
            return run_check(a, ctx)
        return run_class(a, ctx)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        runner.cleanup()
