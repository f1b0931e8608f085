"""report.html: one self-contained page (inline CSS, SVG charts and a small
sorting script; no external file).  Every text from a capture, a file name
or a rubric goes through esc()."""
import html
import xml.etree.ElementTree as ET

from .reports import reason_text
from .texts import tr, visible

CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#eee;cursor:pointer}td.n{text-align:right}.pass{color:#176f2c;font-weight:bold}
.fail{color:#b00020;font-weight:bold}.bad{background:#fff3e0}pre{margin:2px 0;white-space:pre-wrap;font-size:12px;background:#f6f6f6}
section{border-top:1px solid #ddd;margin-top:1em}.muted{color:#666}"""
JS = """document.querySelectorAll('table.sortable th').forEach(function(th,col){th.addEventListener('click',function(){
var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
rows.sort(function(a,b){var x=a.cells[col].dataset.v||a.cells[col].textContent,y=b.cells[col].dataset.v||b.cells[col].textContent;
var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});
rows.forEach(function(r){tb.appendChild(r);});});});"""


def esc(v):
    """v as HTML text: markup escaped, control bytes (a hostile user name's ESC, BEL) shown as \\xNN."""
    return html.escape(visible("" if v is None else str(v)), quote=True)


def histogram(results, max_points, lang):
    """SVG bar chart of graded scores in 10 bins of the maximum (the last one
    holds 100 %), labelled at the bins' edges as a histogram's axis is: a
    score of 50 % stands between the 50 % and 60 % marks."""
    bins = [0] * 10
    for r in results:
        if r["score"] is not None and max_points:
            bins[min(9, int(10 * r["score"] / max_points))] += 1
    top, w, h = max(bins) or 1, 40, 120
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">'
             % (10 * w + 40, h + 40, esc(tr(lang, "h_hist")))]
    for i, n in enumerate(bins):
        bh = int(h * n / top)
        x = 20 + i * w
        parts.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#4a7bd0"><title>%d–%d%%: %d</title></rect>'
                     % (x + 2, 10 + h - bh, w - 4, bh, i * 10, i * 10 + 10, n))
        parts.append('<text x="%d" y="%d" font-size="11" text-anchor="middle">%d</text>' % (x + w // 2, 8 + h - bh, n) if n else "")
    for i in range(11):  # the edges between bins
        x = 20 + i * w
        parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>' % (x, 10 + h, x, 14 + h))
        parts.append('<text x="%d" y="%d" font-size="10" text-anchor="middle">%d%%</text>' % (x, h + 26, i * 10))
    parts.append("</svg>")
    return "".join(parts)


LABEL_W = 270  # room for an item's title (40 characters at 12 px) before its bar


def pass_rates(rubric, results, lang):
    """SVG horizontal bars: share of graded submissions passing each item,
    each named by its title in the report's language."""
    graded = [r for r in results if r["score"] is not None]
    rows, bw = [], 240
    for k, it in enumerate(rubric.items):
        n = sum(1 for r in graded for i in r["items"] if i["id"] == it.id and i["passed"])
        rate = n / len(graded) if graded else 0.0
        y = 5 + k * 22
        title = it.title.get(lang, it.title["en"])
        short = title if len(title) <= 40 else title[:39].rstrip() + "…"  # the whole title in the tooltip
        rows.append('<text x="0" y="%d" font-size="12">%s<title>%s</title></text>' % (y + 13, esc(short), esc(title)))
        rows.append('<rect x="%d" y="%d" width="%d" height="16" fill="#ddd"/>' % (LABEL_W, y, bw))
        rows.append('<rect x="%d" y="%d" width="%d" height="16" fill="#2e9e4f"><title>%s: %d/%d</title></rect>'
                    % (LABEL_W, y, int(bw * rate), esc(title), n, len(graded)))
        rows.append('<text x="%d" y="%d" font-size="12">%d%%</text>' % (LABEL_W + 10 + bw, y + 13, round(100 * rate)))
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">%s</svg>'
            % (LABEL_W + bw + 60, 10 + 22 * len(rubric.items), esc(tr(lang, "h_pass")), "".join(rows)))


def _grades_table(results, lang):
    L = lang
    head = "".join("<th>%s</th>" % esc(tr(L, k)) for k in ("c_student", "c_id", "c_file", "c_score", "c_max",
                                                            "c_status", "c_reason", "h_copies"))
    rows = []
    for n, r in enumerate(results):
        copies = sorted({p["b"] if p["a"] == r["student"] else p["a"] for p in r["copies"]})
        cls = "" if r["status"] == "graded" else ' class="bad"'
        score = "" if r["score"] is None else "%g" % r["score"]
        rows.append('<tr%s><td><a href="#s%d">%s</a></td><td>%s</td><td>%s</td><td class="n" data-v="%s">%s</td>'
                    '<td class="n">%g</td><td data-status="%s">%s</td><td>%s</td><td>%s</td></tr>'
                    % (cls, n, esc(r["student"]), esc(r["student_id"]), esc("; ".join(f["name"] for f in r["files"])),
                       score if score else "-1", esc(score), r["max"], esc(r["status"]), esc(tr(L, "st_" + r["status"])),
                       esc(reason_text(r)), esc(", ".join(copies))))
    return ('<table id="grades" class="sortable"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>'
            % (head, "\n".join(rows)))


def _evidence(ev):
    out = []
    for e in ev:
        where = " ".join(x for x in (e.get("file") or "",) if x)
        out.append("<div>%s%s</div>" % (esc(e["text"]), (' <span class="muted">[%s]</span>' % esc(where)) if where else ""))
        if e.get("lines"):
            out.append("<pre>%s</pre>" % "\n".join("%s %s: %s" % (esc(l["frame"]), esc(l["dir"]), esc(l["text"]))
                                                     for l in e["lines"]))
    return "".join(out)


def _student(n, r, lang):
    L = lang
    head = '<section id="s%d"><h3>%s%s</h3><p>%s: %s — %s%s</p>' % (
        n, esc(r["student"]), (" (%s)" % esc(r["student_id"])) if r["student_id"] else "",
        esc(tr(L, "c_score")), "-" if r["score"] is None else "%g / %g" % (r["score"], r["max"]),
        esc(tr(L, "st_" + r["status"])), (": " + esc(reason_text(r))) if reason_text(r) else "")
    rows = []
    for i in r["items"]:
        rows.append('<tr><td>%s<div class="muted">%s</div></td><td class="%s">%s</td><td class="n">%g / %g</td><td>%s</td><td>%s</td></tr>'
                    % (esc(i["title"]), esc(i["id"]), "pass" if i["passed"] else "fail",
                       esc(tr(L, "pass" if i["passed"] else "fail")), i["points"], i["max"],
                       _evidence(i["evidence"]), esc(i["missing"])))
    table = ""
    if rows:
        table = "<table><tr>%s</tr>%s</table>" % ("".join("<th>%s</th>" % esc(tr(L, k)) for k in (
            "c_item", "c_status", "c_points", "c_evidence", "c_missing")), "".join(rows))
    copies = "".join("<p class=\"fail\">%s: %s — %s</p>" % (esc(tr(L, "h_copies")), esc(" / ".join(p["files"])), esc(p["evidence"]))
                     for p in r["copies"])
    return head + copies + table + ladder(r.get("_main"), L) + "</section>"


LADDER_WIDTH = 560   # px: two thirds of mailedu's 840: small, still readable


def ladder(session, lang):
    """The main session's ladder diagram (mailedu's -z mailedu,ladder) inline
    and scaled to LADDER_WIDTH, in a scrolling box.  The SVG is re-serialized
    from its parsed tree by ElementTree, which escapes every text and
    attribute again, whatever the capture held; "" without one."""
    el = session.get("_ladder") if session else None
    if el is None:
        return ""
    ET.register_namespace("", "http://www.w3.org/2000/svg")
    w, h = float(el.get("width", "840")), float(el.get("height", "100"))
    copy = ET.fromstring(ET.tostring(el))
    for k in ("id", "x", "y"):
        copy.attrib.pop(k, None)
    copy.set("width", "%d" % LADDER_WIDTH)
    copy.set("height", "%d" % round(h * LADDER_WIDTH / w))
    copy.set("viewBox", "0 0 %g %g" % (w, h))
    copy.set("role", "img")
    svg = ET.tostring(copy, encoding="unicode")
    what = "%s, stream %s (%s)" % (session.get("_file") or "", session.get("stream"), session.get("protocol"))
    return ('<figure class="ladder"><figcaption>%s: %s</figcaption><div style="max-height:520px;overflow:auto;'
            'display:inline-block;border:1px solid #ccc">%s</div></figure>'
            % (esc(tr(lang, "h_ladder")), esc(what), svg))


def _copies(pairs, lang):
    if not pairs:
        return "<p>%s</p>" % esc(tr(lang, "h_no_copies"))
    rows = "".join("<tr><td>%s — %s</td><td>%s</td><td>%s</td></tr>" % (esc(p["a"]), esc(p["b"]), esc(" / ".join(p["files"])),
                                                                      esc(p["evidence"])) for p in pairs)
    return '<table id="copies"><tr><th>%s</th><th>%s</th><th>%s</th></tr>%s</table>' % (
        esc(tr(lang, "c_pair")), esc(tr(lang, "c_file")), esc(tr(lang, "c_why")), rows)


def write(path, rubric, results, pairs, lang):
    """Writes report.html for results (dicts of process.grade_submission)."""
    graded = [r for r in results if r["score"] is not None]
    mean = sum(r["score"] for r in graded) / len(graded) if graded else 0
    title = "%s — %s" % (tr(lang, "h_title"), rubric.title.get(lang, rubric.title.get("en", rubric.id)))
    body = ['<!DOCTYPE html><html lang="%s"><head><meta charset="utf-8"><title>%s</title><style>%s</style></head><body>'
            % (esc(lang), esc(title), CSS),
            "<h1>%s</h1>" % esc(title),
            "<h2>%s</h2><p>%s</p>" % (esc(tr(lang, "h_overview")), esc(tr(lang, "k_submissions", n=len(results), g=len(graded),
                                                                          mean="%.2f" % mean, max="%g" % rubric.max_points))),
            '<div style="display:flex;gap:2em;flex-wrap:wrap"><figure><figcaption>%s</figcaption>%s</figure>'
            '<figure><figcaption>%s</figcaption>%s</figure></div>' % (esc(tr(lang, "h_hist")), histogram(results, rubric.max_points, lang),
                                                                    esc(tr(lang, "h_pass")), pass_rates(rubric, results, lang)),
            "<h2>%s</h2>" % esc(tr(lang, "h_table")), _grades_table(results, lang),
            "<h2>%s</h2>" % esc(tr(lang, "h_copies")), _copies(pairs, lang),
            "<h2>%s</h2>" % esc(tr(lang, "h_students"))]
    body += [_student(n, r, lang) for n, r in enumerate(results)]
    body.append("<script>%s</script></body></html>" % JS)
    with open(path, "w", encoding="utf-8", errors="backslashreplace") as f:  # see reports.write_csv
        f.write("\n".join(body))
