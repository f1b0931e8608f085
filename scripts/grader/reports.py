"""grades.csv and grades.json."""
import csv
import json

from .inputs import shown
from .texts import tr


def _cell(v):
    """A CSV cell a spreadsheet shows as text: formulas (=, +, -, @) defused."""
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def _num(x):
    return "" if x is None else ("%g" % x)


def write_csv(path, rubric, results, lang):
    """One row per submission: student, student_id, file, score, max, one
    column per rubric item (points earned), status, reason, copies."""
    # names are made writable where they are read (inputs.shown); the error
    # handler is the last guard, so that one odd character never costs the class's reports
    with open(path, "w", newline="", encoding="utf-8", errors="backslashreplace") as f:
        w = csv.writer(f)
        w.writerow(["student", "student_id", "file", "score", "max"] + [i.id for i in rubric.items]
                   + ["status", "reason", "copy_of"])
        for r in results:
            pts = {i["id"]: i["points"] for i in r["items"]}
            copies = sorted({p["b"] if p["a"] == r["student"] else p["a"] for p in r["copies"]})
            w.writerow([_cell(r["student"]), _cell(r["student_id"]), _cell("; ".join(f["name"] for f in r["files"])),
                        _num(r["score"]), _num(r["max"])] + [_num(pts.get(i.id)) for i in rubric.items]
                       + [r["status"], _cell(reason_text(r)), _cell("; ".join(copies))])


def reason_text(r):
    """The reason column: status reason and submission notes."""
    return "; ".join(x for x in (r["reason"], r.get("note")) if x)


def public(r):
    """A result without its private keys (for JSON and HTML)."""
    return {k: v for k, v in r.items() if not k.startswith("_")}


def write_json(path, rubric, results, pairs, meta):
    """grades.json: run settings, rubric, every result with its evidence, copy pairs."""
    doc = dict(meta)
    doc["rubric"] = {"id": rubric.id, "path": shown(rubric.path), "title": rubric.title, "max": rubric.max_points,
                     "items": [{"id": i.id, "title": i.title, "points": i.points, "check": i.check,
                                "params": i.params, "partial": i.partial} for i in rubric.items]}
    doc["submissions"] = [public(r) for r in results]
    doc["copies"] = pairs
    with open(path, "w", encoding="utf-8", errors="backslashreplace") as f:  # see write_csv
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def status_word(lang, status):
    return tr(lang, "st_" + status) if ("st_" + status) else status
