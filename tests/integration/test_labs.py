#!/usr/bin/env python3
"""The lab sheets (docs/labs/, Bahasa Indonesia and English) hold on their
bundled captures, as a student types them: every display filter of a sheet's
table runs and matches packets of the capture; the sheets of one lab in the
two languages ask the same filters; every frame list an answer gives for a
filter ("`F` shows frames 4, 18 and 22", "`F` menampilkan frame ...") is the
one tshark with the built plugin gives (a filter that does not parse
matches nothing, and fails); each `wireshark` command names a
capture and a profile that exist.  And the README's count of bundled
captures is the count in test-captures/."""
import glob
import os
import re

from mailedu_test import CAPTURES, ROOT, Checker, frames

c = Checker("labs")
LABS = os.path.join(ROOT, "docs", "labs")


def sheet(path):
    """(capture, table filters, [(filter, frames)] of the answers, wireshark commands)."""
    text = open(path, encoding="utf-8").read()
    cap = re.search(r"\*\*Capture\.\*\* `(test-captures/[^`]+)`", text).group(1)
    table = re.findall(r"^\|[^|\n]*\| `([^`]+)` \|$", text, re.M)
    said = []
    for filt, nums in re.findall(r"`([^`]+)`\s+(?:shows|menampilkan)\s+frames?\s+([0-9][0-9, ]*(?:(?:and|dan)\s+[0-9]+)?)",
                                 text):
        said.append((filt, [int(n) for n in re.findall(r"[0-9]+", nums)]))
    commands = re.findall(r"^\s*(wireshark .+)$", text, re.M)
    return cap, table, said, commands


profiles = os.listdir(os.path.join(ROOT, "profile"))
for en in sorted(glob.glob(os.path.join(LABS, "lab*.en.md"))):
    name = os.path.basename(en)[:-len(".en.md")]
    idn = en[:-len(".en.md")] + ".id.md"
    cap_en, table_en, said_en, cmds_en = sheet(en)
    cap_id, table_id, said_id, cmds_id = sheet(idn)
    c.eq(cap_id, cap_en, name + ": the same capture in both languages")
    c.eq(table_id, table_en, name + ": the same filters in both languages")
    c.eq(said_id, said_en, name + ": the same frames in both languages' answers")
    cap = os.path.join(ROOT, cap_en)
    c.check(os.path.isfile(cap), name + ": the capture exists")
    c.check(len(table_en) >= 3, name + ": a table of filters")
    for f in table_en:
        c.check(frames(cap, f) != [], "%s: filter %s matches packets" % (name, f))
    c.check(said_en != [], name + ": the answers name frames of filters")
    for f, want in said_en:
        got = frames(cap, f)
        c.eq(got, want, "%s: %s shows frames %s" % (name, f, want))
    c.check(cmds_en and cmds_id, name + ": a wireshark command in each sheet")
    for cmd in cmds_en + cmds_id:
        words = cmd.split()
        c.check(os.path.isfile(os.path.join(ROOT, words[-1])), "%s: %s names a capture" % (name, cmd))
        c.check(words[words.index("-C") + 1] in profiles, "%s: %s names a profile" % (name, cmd))

readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
m = re.search(r"`test-captures/` holds (\d+) captures \(and (\d+) one-sided", readme)
c.check(m is not None, "README: the count of bundled captures")
if m:
    c.eq((int(m.group(1)), int(m.group(2))),
         (len(glob.glob(os.path.join(CAPTURES, "*.pcapng"))), len(glob.glob(os.path.join(CAPTURES, "oneside", "*.pcapng")))),
         "README: the count of bundled captures is right")
c.done()
