"""`mailedu-grade --check FILE`: one student's capture against the rubric,
printed in the terminal in the chosen language."""
import os
import sys

from . import inputs, process
from .texts import tr, visible


def _submission(path):
    """A Submission of one capture with its answers and key log beside it."""
    name = os.path.basename(path)
    sub = inputs.Submission(inputs.strip_exts(inputs.shown(name)))
    sub.files.append(inputs.FileRef(inputs.shown(name), path))
    folder, stem = os.path.dirname(os.path.abspath(path)), inputs.strip_exts(name)
    for cand in (stem + ".answers.toml", inputs.ANSWERS):
        if os.path.isfile(os.path.join(folder, cand)):
            sub.answers = os.path.join(folder, cand)
            break
    for ext in inputs.KEYLOG_EXTS:
        if os.path.isfile(os.path.join(folder, stem + ext)):
            sub.files[0].keylog = os.path.join(folder, stem + ext)
    return sub


def say(text):
    """Prints to the student's terminal: capture text must not drive it (ESC sequences)."""
    sys.stdout.write(visible(text, terminal=True))


def run_check(a, ctx):
    """Prints what is done and what is missing; returns 0 when the capture
    could be graded, 1 otherwise."""
    L = ctx.lang
    r = process.grade_submission(_submission(a.check), ctx, 0)
    sys.stdout.reconfigure(errors="backslashreplace")  # a terminal that is not UTF-8 still gets every line
    say("mailedu check: %s — %s\n" % (inputs.shown(a.check), ctx.rubric.title.get(L, ctx.rubric.id)))
    if r["reason"]:
        say("%s: %s\n" % (tr(L, "st_" + r["status"]), r["reason"]))
    for i in r["items"]:
        mark = tr(L, "check_done" if i["passed"] else "check_todo")
        say("[%s] %s (%g/%g)\n" % (mark, i["title"], i["points"], i["max"]))
        for e in i["evidence"][:3]:
            say("      %s\n" % e["text"])
            for l in e.get("lines", [])[:3]:
                say("        %s %s: %s\n" % (l["frame"], l["dir"], l["text"]))
        if i["missing"]:
            say("      → %s\n" % i["missing"])
    if r["score"] is not None:
        say(tr(L, "check_total", score="%g" % r["score"], max="%g" % r["max"]) + "\n")
    return 0 if r["score"] is not None else 1
